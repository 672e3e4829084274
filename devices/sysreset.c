/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reset and A20 ports.
 *
 * Port 0x92 (PS/2 System Control Port A): bit 0 requests a fast CPU reset,
 * bit 1 is the alternate A20 gate. lbvm's RAM has no A20 wrap (address bit
 * 20 is always live), so the gate is only stored and read back.
 *
 * Ports 0x60/0x64: there is no i8042, but two Linux paths read them.
 * - Probe: i8042_controller_check() -> i8042_flush() reads status while
 *   OBF (bit 0) is set, draining one data byte each time; after
 *   I8042_BUFFER_SIZE (16) bytes it gives up and prints "No controller
 *   found". So OBF must read 1: the probe then fails after 16 reads
 *   (16 x udelay(50) of guest time), the same on every run.
 * - Reboot (BOOT_KBD): kb_wait() polls status until IBF (bit 1) is 0, up to
 *   0x10000 times with udelay(2) between, then writes 0xfe to 0x64. An
 *   all-ones status would cost ~131 ms of guest time per attempt, so IBF
 *   reads 0: the first poll passes and the 0xfe write resets at once.
 * Hence status 0xfd (all-ones but IBF) and data 0xff (a floating bus).
 * The only other reader is the real-mode setup's empty_8042() (which treats
 * 0xff as "no KBC"), which lbvm's 32-bit entry skips; it would also only run
 * if A20 tested off, and with no wrap it never does. */
#include "devices/sysreset.h"

#include <stdlib.h>

static void sysreset_request(SysResetState *s)
{
    if (s->reset_request)
        s->reset_request(s->opaque);
}

static uint32_t sysreset_port92_read(void *opaque, uint32_t offset, int size_log2)
{
    SysResetState *s = opaque;
    (void)offset, (void)size_log2;
    return s->port_a;
}

static void sysreset_port92_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    SysResetState *s = opaque;
    (void)offset, (void)size_log2;
    /* Other bits (security lock, activity LED) are not implemented. */
    s->port_a = val & (SYSCTL_A_FAST_RESET | SYSCTL_A_A20);
    if (val & SYSCTL_A_FAST_RESET)
        sysreset_request(s);
}

static uint32_t sysreset_kbd_data_read(void *opaque, uint32_t offset, int size_log2)
{
    (void)opaque, (void)offset, (void)size_log2;
    return SYSRESET_KBD_DATA;
}

static void sysreset_kbd_data_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    (void)opaque, (void)offset, (void)val, (void)size_log2;
}

static uint32_t sysreset_kbd_status_read(void *opaque, uint32_t offset, int size_log2)
{
    (void)opaque, (void)offset, (void)size_log2;
    return SYSRESET_KBD_STATUS;
}

static void sysreset_kbd_command_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    (void)offset, (void)size_log2;
    /* Pulse Output Port (0xf0-0xff): a 0 in bit 0 pulses the CPU reset line;
     * 0xfe is the usual form. Every other command goes to a controller that
     * is not there. */
    if ((val & 0xf0) == I8042_CMD_PULSE && !(val & 1))
        sysreset_request(opaque);
}

void sysreset_reset(SysResetState *s)
{
    s->port_a = 0;
}

SysResetState *sysreset_init(IoMap *map, void (*reset_request)(void *opaque), void *opaque)
{
    SysResetState *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->reset_request = reset_request;
    s->opaque = opaque;
    sysreset_reset(s);
    /* One port each, so 0x61 (PIT gate / speaker) stays free for its owner. */
    if (!iomap_register_ports(map, SYSCTL_PORT_A, 1, s, sysreset_port92_read, sysreset_port92_write,
                              IO_SIZE8, "port92") ||
        !iomap_register_ports(map, I8042_DATA_REG, 1, s, sysreset_kbd_data_read, sysreset_kbd_data_write,
                              IO_SIZE8, "kbd-data") ||
        !iomap_register_ports(map, I8042_COMMAND_REG, 1, s, sysreset_kbd_status_read,
                              sysreset_kbd_command_write, IO_SIZE8, "kbd-cmd"))
        return NULL;
    return s;
}

/* ---- checkpoints ---- */

void sysreset_state(SysResetState *s, StateIO *io)
{
    uint8_t port_a = s->port_a;
    state_u8(io, "port_a", &port_a);
    state_check(io, !(port_a & ~(SYSCTL_A_FAST_RESET | SYSCTL_A_A20)), "port 0x92 value %#x out of range", port_a);
    if (state_loading(io) && state_ok(io))
        s->port_a = port_a;
}
