/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x92 (fast reset, A20); the keyboard controller's reset command is
 * tested with the i8042 (test_i8042.c). */
#include "check.h"
#include "devices/sysreset.h"

static IoMap map;
static int n_resets;

static void on_reset(void *opaque)
{
    (*(int *)opaque)++;
}

static void test_port92(SysResetState *s)
{
    n_resets = 0;
    CHECK_EQ(iomap_port_read(&map, 0x92, 0), 0x00);
    /* The setup code's A20 sequence: set bit 1, clear bit 0. */
    iomap_port_write(&map, 0x92, SYSCTL_A_A20, 0);
    CHECK_EQ(n_resets, 0);
    CHECK_EQ(iomap_port_read(&map, 0x92, 0), SYSCTL_A_A20);
    /* Unimplemented bits are not kept. */
    iomap_port_write(&map, 0x92, 0xf2, 0);
    CHECK_EQ(iomap_port_read(&map, 0x92, 0), SYSCTL_A_A20);
    CHECK_EQ(n_resets, 0);
    iomap_port_write(&map, 0x92, 0x00, 0);
    CHECK_EQ(iomap_port_read(&map, 0x92, 0), 0x00);
    /* Bit 0: fast reset. */
    iomap_port_write(&map, 0x92, SYSCTL_A_A20 | SYSCTL_A_FAST_RESET, 0);
    CHECK_EQ(n_resets, 1);
    CHECK_EQ(iomap_port_read(&map, 0x92, 0), 0x03);
    sysreset_reset(s);
    CHECK_EQ(iomap_port_read(&map, 0x92, 0), 0x00);
    iomap_port_write(&map, 0x92, SYSCTL_A_FAST_RESET, 0);
    CHECK_EQ(n_resets, 2);
}

/* Port 0x61 (PIT gate / speaker) and 0x60/0x64 (the i8042) are not ours. */
static void test_ports(void)
{
    CHECK_EQ(map.port_index[0x60], 0);
    CHECK_EQ(map.port_index[0x61], 0);
    CHECK_EQ(map.port_index[0x64], 0);
}

int main(void)
{
    iomap_init(&map);
    SysResetState *s = sysreset_init(&map, on_reset, &n_resets);
    CHECK(s != NULL);
    if (!s)
        return check_done();
    test_port92(s);
    test_ports();
    return check_done();
}
