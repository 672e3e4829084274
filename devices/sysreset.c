/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reset and A20 gate through port 0x92.
 *
 * Port 0x92 (PS/2 System Control Port A): bit 0 requests a fast CPU reset,
 * bit 1 is the alternate A20 gate. lbvm's RAM has no A20 wrap (address bit
 * 20 is always live), so the gate is only stored and read back.
 */
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
    if (!iomap_register_ports(map, SYSCTL_PORT_A, 1, s, sysreset_port92_read, sysreset_port92_write,
                              IO_SIZE8, "port92"))
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
