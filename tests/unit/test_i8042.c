/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The i8042 at register level: its reset line (0xfe and the other pulse
 * commands, the output port), the probes Fiwix and Linux make (self-test,
 * interface tests, command byte, AUX loopback and the missing AUX port),
 * the keyboard's replies with and without translation, IRQ 1 and the
 * keyboard interface's disable bit. */
#include "check.h"
#include "devices/i8042.h"

static IoMap map;
static int n_resets, irq1, irq1_rises, irq12;
static IRQSignal sig1, sig12;

static void on_reset(void *opaque)
{
    (*(int *)opaque)++;
}

static void on_irq(void *opaque, int n, int level)
{
    (void)opaque;
    if (n == 1) {
        irq1_rises += level && !irq1;
        irq1 = level;
    } else {
        irq12 = level;
    }
}

static uint8_t st(void) { return (uint8_t)iomap_port_read(&map, 0x64, 0); }
static uint8_t data(void) { return (uint8_t)iomap_port_read(&map, 0x60, 0); }
static void cmd(uint8_t v) { iomap_port_write(&map, 0x64, v, 0); }
static void put(uint8_t v) { iomap_port_write(&map, 0x60, v, 0); }

/* What Linux's i8042_wait_read + read does: the byte, or -1 if none. */
static int reply(void)
{
    return st() & I8042_STR_OBF ? data() : -1;
}

static void test_reset_line(I8042State *s)
{
    n_resets = 0;
    cmd(I8042_CMD_RESET);
    CHECK_EQ(n_resets, 1);
    /* Other controller commands do not reset. */
    static const uint8_t others[] = { 0x20, 0x60, 0xa7, 0xa8, 0xaa, 0xab, 0xad, 0xae, 0xd1, 0xd4, 0xdd, 0xdf,
                                      0xff, 0xfd, 0xe0, 0xef };
    for (unsigned i = 0; i < sizeof others; i++)
        cmd(others[i]);
    CHECK_EQ(n_resets, 1);
    /* 0xfe to the data port is a keyboard byte, not a command (0xd1 above
     * was cancelled by the commands after it). */
    put(I8042_CMD_RESET);
    CHECK_EQ(n_resets, 1);
    /* Pulse commands with bit 0 clear pulse the reset line too (0xf0 = all lines). */
    cmd(0xf0);
    CHECK_EQ(n_resets, 2);
    /* Linux's kb_wait() before the reboot write: the first poll finds the
     * input buffer empty. */
    CHECK(!(st() & I8042_STR_IBF));
    /* The output port: bit 0 low holds the CPU in reset. */
    cmd(I8042_CMD_WRITE_OUT);
    put(I8042_OUT_A20 | I8042_OUT_RESET);
    CHECK_EQ(n_resets, 2);
    cmd(I8042_CMD_WRITE_OUT);
    put(I8042_OUT_A20);
    CHECK_EQ(n_resets, 3);
    i8042_reset(s);
    while (st() & I8042_STR_OBF)
        data();
}

static void test_probes(void)
{
    /* Linux's i8042_flush(): nothing to drain at power-on. */
    CHECK_EQ(st() & I8042_STR_OBF, 0);
    CHECK(st() & I8042_STR_SYS);
    /* Self-test and interface tests. */
    cmd(I8042_CMD_SELF_TEST);
    CHECK_EQ(st() & (I8042_STR_OBF | I8042_STR_AUXDATA), I8042_STR_OBF);
    CHECK_EQ(data(), 0x55);
    CHECK_EQ(st() & I8042_STR_OBF, 0);
    cmd(I8042_CMD_KBD_TEST);
    CHECK_EQ(reply(), 0x00);
    cmd(I8042_CMD_AUX_TEST);
    CHECK_EQ(reply(), 0x00);
    CHECK_EQ(reply(), -1);
    /* The command byte as the BIOS left it, written and read back. */
    cmd(I8042_CMD_READ_CTR);
    CHECK_EQ(reply(), I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_AUXDIS | I8042_CTR_XLATE);
    cmd(I8042_CMD_WRITE_CTR);
    CHECK(st() & I8042_STR_CMDDAT);
    put(0x44);
    CHECK(!(st() & I8042_STR_CMDDAT));
    cmd(I8042_CMD_READ_CTR);
    CHECK_EQ(reply(), 0x44);
    /* Linux's i8042_check_aux(): the loopback echoes as an AUX byte... */
    cmd(I8042_CMD_AUX_LOOP);
    put(0x5a);
    CHECK_EQ(st() & (I8042_STR_OBF | I8042_STR_AUXDATA), I8042_STR_OBF | I8042_STR_AUXDATA);
    CHECK_EQ(data(), 0x5a);
    /* ...but 0xa7/0xa8 leave the AUX bit alone: no AUX port, no mouse probe. */
    cmd(I8042_CMD_AUX_DIS);
    cmd(I8042_CMD_READ_CTR);
    CHECK_EQ(reply() & I8042_CTR_AUXDIS, 0);
    /* Output port and A20 commands. */
    cmd(I8042_CMD_A20_OFF);
    cmd(I8042_CMD_READ_OUT);
    CHECK_EQ(reply(), I8042_OUT_RESET);
    cmd(I8042_CMD_A20_ON);
    cmd(I8042_CMD_READ_OUT);
    CHECK_EQ(reply(), I8042_OUT_RESET | I8042_OUT_A20);
}

static void test_keyboard(void)
{
    /* Command byte: keyboard interrupt on, translation on. */
    cmd(I8042_CMD_WRITE_CTR);
    put(I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_XLATE);
    irq1_rises = 0;
    put(0xff);                              /* reset: ACK, then BAT passed */
    CHECK_EQ(irq1, 1);
    CHECK_EQ(data(), 0xfa);
    CHECK_EQ(irq1, 1);                      /* the next byte is there at once, */
    CHECK_EQ(irq1_rises, 2);                /* on an edge of its own */
    CHECK_EQ(data(), 0xaa);
    CHECK_EQ(irq1, 0);
    put(0xf2);                              /* identify, translated */
    CHECK_EQ(data(), 0xfa);
    CHECK_EQ(data(), 0xab);
    CHECK_EQ(data(), 0x41);
    CHECK_EQ(reply(), -1);
    /* LEDs and scan set take an argument, each byte acknowledged. */
    put(0xed);
    CHECK_EQ(reply(), 0xfa);
    put(0x07);
    CHECK_EQ(reply(), 0xfa);
    put(0xf0);
    CHECK_EQ(reply(), 0xfa);
    put(0x00);
    CHECK_EQ(reply(), 0xfa);
    CHECK_EQ(reply(), 0x41);                /* set 2, translated */
    put(0xee);
    CHECK_EQ(reply(), 0xee);                /* echo */
    put(0x12);
    CHECK_EQ(reply(), 0xfe);                /* not a command: resend */
    /* Without translation the ID is the keyboard's own. */
    cmd(I8042_CMD_WRITE_CTR);
    put(I8042_CTR_KBDINT | I8042_CTR_SYS);
    put(0xf2);
    CHECK_EQ(reply(), 0xfa);
    CHECK_EQ(reply(), 0xab);
    CHECK_EQ(reply(), 0x83);
    /* The disabled keyboard interface holds the keyboard's bytes back. */
    cmd(I8042_CMD_KBD_DIS);
    put(0xf4);
    CHECK_EQ(reply(), -1);
    CHECK_EQ(irq1, 0);
    cmd(I8042_CMD_KBD_EN);
    CHECK_EQ(irq1, 1);
    CHECK_EQ(reply(), 0xfa);
    /* No interrupt with KBDINT clear; the byte is still there to poll. */
    cmd(I8042_CMD_WRITE_CTR);
    put(I8042_CTR_SYS);
    put(0xf5);
    CHECK_EQ(irq1, 0);
    CHECK_EQ(reply(), 0xfa);
    /* 0xd2 puts a byte in the buffer as if from the keyboard. */
    cmd(I8042_CMD_KBD_LOOP);
    put(0x99);
    CHECK_EQ(reply(), 0x99);
    CHECK_EQ(irq12, 0);
}

/* Fiwix's keyboard_init order: disable, identify, enable; config byte;
 * self-test; port tests; reset. Every step gets its expected reply. */
static void test_fiwix_sequence(void)
{
    put(0xf5);
    CHECK_EQ(reply(), 0xfa);
    put(0xf2);
    CHECK_EQ(reply(), 0xfa);
    CHECK_EQ(reply(), 0xab);
    CHECK(reply() >= 0);
    put(0xf4);
    CHECK_EQ(reply(), 0xfa);
    cmd(I8042_CMD_READ_CTR);
    int config = reply();
    CHECK(config >= 0);
    cmd(I8042_CMD_WRITE_CTR);
    put((uint8_t)(config & ~(0x01 | 0x02 | 0x40)));
    cmd(I8042_CMD_SELF_TEST);
    CHECK_EQ(reply(), 0x55);
    cmd(I8042_CMD_WRITE_CTR);
    put((uint8_t)config);
    cmd(I8042_CMD_KBD_TEST);
    CHECK_EQ(reply(), 0x00);
    put(0xff);
    CHECK_EQ(reply(), 0xfa);
    CHECK_EQ(reply(), 0xaa);
    CHECK_EQ(reply(), -1);
}

int main(void)
{
    iomap_init(&map);
    irq_init(&sig1, on_irq, NULL, 1);
    irq_init(&sig12, on_irq, NULL, 12);
    I8042State *s = i8042_init(&map, &sig1, &sig12, on_reset, &n_resets);
    CHECK(s != NULL);
    if (!s)
        return check_done();
    CHECK_EQ(map.port_index[0x61], 0);      /* the PIT's */
    test_reset_line(s);
    test_probes();
    test_keyboard();
    test_fiwix_sequence();
    free(s);
    return check_done();
}
