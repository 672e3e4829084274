/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reset and A20 ports: PS/2 System Control Port A (0x92) and the reset
 * command of the keyboard controller (0x64), with no keyboard controller
 * behind 0x60/0x64 otherwise (see sysreset.c for what Linux sees). */
#ifndef LBVM_SYSRESET_H
#define LBVM_SYSRESET_H
#include <stdint.h>

#include "base/iomem.h"
#include "base/state.h"

#define SYSCTL_PORT_A        0x92
#define  SYSCTL_A_FAST_RESET 0x01   /* alternate hot reset */
#define  SYSCTL_A_A20        0x02   /* alternate A20 gate */
#define I8042_DATA_REG       0x60
#define I8042_COMMAND_REG    0x64   /* reads: status register */
#define  I8042_STR_OBF       0x01   /* output buffer full */
#define  I8042_STR_IBF       0x02   /* input buffer full */
#define  I8042_CMD_PULSE     0xf0   /* 0xf0-0xff: pulse output lines whose bit is 0 */
#define  I8042_CMD_RESET     0xfe   /* pulse line 0 = CPU reset */
/* What the missing controller reads as (sysreset.c explains the values). */
#define SYSRESET_KBD_STATUS  0xfd
#define SYSRESET_KBD_DATA    0xff

typedef struct SysResetState {
    uint8_t port_a;             /* bits 0-1 of port 0x92 */
    void (*reset_request)(void *opaque);
    void *opaque;
} SysResetState;

SysResetState *sysreset_init(IoMap *map, void (*reset_request)(void *opaque), void *opaque);
void sysreset_reset(SysResetState *s);

/* Checkpoints: port 0x92's two bits. A load never requests a reset, even
 * with the fast-reset bit set (it reads back 1 after the write that reset). */
#define SYSRESET_STATE_VERSION 1
void sysreset_state(SysResetState *s, StateIO *io);
#endif
