/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x92 (fast reset, A20) and the keyboard controller's reset command,
 * plus the "no i8042" values Linux's probe and reboot paths read. */
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

static void test_kbd_reset(void)
{
    n_resets = 0;
    iomap_port_write(&map, 0x64, I8042_CMD_RESET, 0);
    CHECK_EQ(n_resets, 1);
    /* Other controller commands do nothing here. */
    static const uint8_t others[] = { 0x20, 0x60, 0xa7, 0xa8, 0xaa, 0xab, 0xad, 0xae, 0xd1, 0xd4, 0xdd, 0xdf,
                                      0xff, 0xfd, 0xe0, 0xef };
    for (unsigned i = 0; i < sizeof others; i++)
        iomap_port_write(&map, 0x64, others[i], 0);
    CHECK_EQ(n_resets, 1);
    /* 0xfe to the data port is a keyboard byte, not a command. */
    iomap_port_write(&map, 0x60, I8042_CMD_RESET, 0);
    CHECK_EQ(n_resets, 1);
    /* Pulse commands with bit 0 clear pulse the reset line too (0xf0 = all lines). */
    iomap_port_write(&map, 0x64, 0xf0, 0);
    CHECK_EQ(n_resets, 2);
    /* Commands latch nothing: the status still reads the same. */
    CHECK_EQ(iomap_port_read(&map, 0x64, 0), SYSRESET_KBD_STATUS);
}

static void test_no_controller(void)
{
    CHECK_EQ(iomap_port_read(&map, 0x64, 0), 0xfd);
    CHECK_EQ(iomap_port_read(&map, 0x60, 0), 0xff);
    CHECK(iomap_port_read(&map, 0x64, 0) & I8042_STR_OBF);
    CHECK(!(iomap_port_read(&map, 0x64, 0) & I8042_STR_IBF));

    /* Linux i8042_flush(): drain while OBF, give up after 16 bytes -> the
     * probe reports no controller. */
    int count = 0, eio = 0;
    while (iomap_port_read(&map, 0x64, 0) & I8042_STR_OBF) {
        if (count++ < 16)
            (void)iomap_port_read(&map, 0x60, 0);
        else {
            eio = 1;
            break;
        }
    }
    CHECK(eio);
    CHECK_EQ(count, 17);

    /* Linux kb_wait() before the reboot write: the first poll finds the
     * input buffer empty. */
    int polls = 0;
    for (int i = 0; i < 0x10000; i++) {
        polls++;
        if ((iomap_port_read(&map, 0x64, 0) & 0x02) == 0)
            break;
    }
    CHECK_EQ(polls, 1);

    /* Port 0x61 (between the two) is left to the PIT/speaker owner. */
    CHECK_EQ(map.port_index[0x61], 0);
    CHECK_EQ(map.port_index[0x63], 0);
}

int main(void)
{
    iomap_init(&map);
    SysResetState *s = sysreset_init(&map, on_reset, &n_resets);
    CHECK(s != NULL);
    if (!s)
        return check_done();
    test_port92(s);
    test_kbd_reset();
    test_no_controller();
    return check_done();
}
