/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Intel 8042 keyboard controller (PS/2 style, as the PC's chipset has it) at
 * 0x60/0x64 with a keyboard behind its first port and nothing behind the
 * second: the controller's self-test (0xaa -> 0x55), interface test, command
 * byte, output port (A20, the reset line), the pulse commands (0xfe resets
 * the CPU) and a keyboard that answers its commands (reset, identify, LEDs,
 * scan set, rate, enable) with no keys ever pressed. The auxiliary port is
 * not implemented: 0xa7/0xa8 do not change the command byte's AUX bit, so
 * Linux's i8042_check_aux() finds no AUX port at once instead of probing a
 * mouse; its loopback command 0xd3 still echoes, as on every PS/2 controller.
 * Responses are there at once: IBF always reads 0. */
#ifndef LBVM_I8042_H
#define LBVM_I8042_H
#include <stdint.h>

#include "base/iomem.h"
#include "base/state.h"

#define I8042_DATA_REG       0x60
#define I8042_COMMAND_REG    0x64   /* reads: status register */

/* Status register */
#define I8042_STR_OBF        0x01   /* output buffer full */
#define I8042_STR_IBF        0x02   /* input buffer full */
#define I8042_STR_SYS        0x04   /* system flag (self-test passed) */
#define I8042_STR_CMDDAT     0x08   /* last write was to 0x64 */
#define I8042_STR_KEYLOCK    0x10   /* 1: keyboard not inhibited */
#define I8042_STR_AUXDATA    0x20   /* the output buffer holds a byte of the AUX port */

/* Command byte (controller RAM byte 0) */
#define I8042_CTR_KBDINT     0x01
#define I8042_CTR_AUXINT     0x02
#define I8042_CTR_SYS        0x04
#define I8042_CTR_KBDDIS     0x10
#define I8042_CTR_AUXDIS     0x20
#define I8042_CTR_XLATE      0x40

/* Controller commands */
#define I8042_CMD_READ_CTR   0x20   /* 0x20-0x3f: read RAM byte */
#define I8042_CMD_WRITE_CTR  0x60   /* 0x60-0x7f: write RAM byte */
#define I8042_CMD_AUX_DIS    0xa7
#define I8042_CMD_AUX_EN     0xa8
#define I8042_CMD_AUX_TEST   0xa9
#define I8042_CMD_SELF_TEST  0xaa
#define I8042_CMD_KBD_TEST   0xab
#define I8042_CMD_KBD_DIS    0xad
#define I8042_CMD_KBD_EN     0xae
#define I8042_CMD_READ_IN    0xc0
#define I8042_CMD_READ_OUT   0xd0
#define I8042_CMD_WRITE_OUT  0xd1
#define I8042_CMD_KBD_LOOP   0xd2
#define I8042_CMD_AUX_LOOP   0xd3
#define I8042_CMD_AUX_SEND   0xd4
#define I8042_CMD_A20_OFF    0xdd
#define I8042_CMD_A20_ON     0xdf
#define I8042_CMD_READ_TEST  0xe0
#define I8042_CMD_PULSE      0xf0   /* 0xf0-0xff: pulse output lines whose bit is 0 */
#define I8042_CMD_RESET      0xfe   /* pulse line 0 = CPU reset */

/* Output port */
#define I8042_OUT_RESET      0x01   /* 0 holds the CPU in reset */
#define I8042_OUT_A20        0x02

#define I8042_SELF_TEST_OK   0x55
#define I8042_KBD_QUEUE      16

typedef struct I8042State {
    /* guest-visible state */
    uint8_t ctr;                /* command byte */
    uint8_t outport;
    uint8_t status;             /* SYS and CMDDAT as last set; OBF/AUXDATA follow ob_full/ob_aux */
    uint8_t ob, ob_full, ob_aux;
    uint8_t pending;            /* controller command waiting for its data byte, 0 = none */
    uint8_t kbd_q[I8042_KBD_QUEUE];
    uint8_t kbd_head, kbd_count;
    uint8_t kbd_pending;        /* keyboard command waiting for its argument, 0 = none */
    uint8_t kbd_scanning;       /* enabled by 0xf4, off after 0xf5 (no keys come either way) */
    uint8_t kbd_set;            /* scan code set, 1-3 */
    uint8_t irq1_level, irq12_level;
    /* wiring */
    IRQSignal *irq1, *irq12;
    void (*reset_request)(void *opaque);
    void *opaque;
} I8042State;

/* Registers 0x60 and 0x64 (one port each: 0x61 stays the PIT's). irq12 may
 * be NULL. NULL if the ports are taken. */
I8042State *i8042_init(IoMap *map, IRQSignal *irq1, IRQSignal *irq12, void (*reset_request)(void *opaque),
                       void *opaque);
/* Power-on state, as a BIOS leaves it: self-test passed, keyboard enabled
 * with IRQ 1 and translation, A20 on. */
void i8042_reset(I8042State *s);

/* Checkpoints: all of the above but the wiring. A load drives no IRQ and
 * requests no reset. */
#define I8042_STATE_VERSION 1
void i8042_state(I8042State *s, StateIO *io);
#endif
