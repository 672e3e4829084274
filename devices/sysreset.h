/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PS/2 System Control Port A (0x92): the fast reset and the alternate A20
 * gate. The keyboard controller's reset command (0x64) is the i8042's
 * (devices/i8042.c). */
#ifndef LBVM_SYSRESET_H
#define LBVM_SYSRESET_H
#include <stdint.h>

#include "base/iomem.h"
#include "base/state.h"

#define SYSCTL_PORT_A        0x92
#define  SYSCTL_A_FAST_RESET 0x01   /* alternate hot reset */
#define  SYSCTL_A_A20        0x02   /* alternate A20 gate */

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
