/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VGA CRTC registers: mode 3 at power-on with the cursor at 0 (what
 * Fiwix's vgacon_get_curpos reads), cursor moves read back, word writes,
 * the protect bit, indexes past the registers, and a checkpoint. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "devices/vga.h"

static IoMap map;

static uint8_t crtc(uint8_t i)
{
    iomap_port_write(&map, VGA_CRTC_INDEX, i, 0);
    return (uint8_t)iomap_port_read(&map, VGA_CRTC_DATA, 0);
}

int main(void)
{
    iomap_init(&map);
    VGAState *s = vga_init(&map);
    CHECK(s != NULL);
    if (!s)
        return check_done();
    /* Fiwix: cursor position high, then low; 0 means row 0, column 0. */
    CHECK_EQ(crtc(VGA_CRTC_CURSOR_HI) << 8 | crtc(VGA_CRTC_CURSOR_LO), 0);
    CHECK_EQ(crtc(VGA_CRTC_CURSOR_START), 0x0d);
    CHECK_EQ(crtc(1), 79);                          /* horizontal display end: 80 columns */
    /* Moving the cursor to row 24, column 79 (a 16-bit write: index, data). */
    unsigned pos = 24 * 80 + 79;
    iomap_port_write(&map, VGA_CRTC_INDEX, VGA_CRTC_CURSOR_HI | (pos >> 8) << 8, 1);
    iomap_port_write(&map, VGA_CRTC_INDEX, VGA_CRTC_CURSOR_LO | (pos & 0xff) << 8, 1);
    CHECK_EQ(crtc(VGA_CRTC_CURSOR_HI) << 8 | crtc(VGA_CRTC_CURSOR_LO), pos);
    CHECK_EQ(iomap_port_read(&map, VGA_CRTC_INDEX, 0), VGA_CRTC_CURSOR_LO);
    /* Cursor disable bit round trip (vgacon_show_cursor). */
    iomap_port_write(&map, VGA_CRTC_INDEX, VGA_CRTC_CURSOR_START, 0);
    iomap_port_write(&map, VGA_CRTC_DATA, 0x2d, 0);
    CHECK_EQ(crtc(VGA_CRTC_CURSOR_START), 0x2d);
    /* Registers 0-7 are protected by bit 7 of register 11h (set in mode 3). */
    iomap_port_write(&map, VGA_CRTC_INDEX, 1, 0);
    iomap_port_write(&map, VGA_CRTC_DATA, 0x27, 0);
    CHECK_EQ(crtc(1), 79);
    /* Past the last register: all-ones, and writes go nowhere. */
    iomap_port_write(&map, VGA_CRTC_INDEX, 0x1f, 0);
    iomap_port_write(&map, VGA_CRTC_DATA, 0x00, 0);
    CHECK_EQ(crtc(0x1f), 0xff);
    /* Checkpoint round trip into a fresh device. */
    VClock clk;
    vclock_init(&clk);
    StateIO io;
    state_init_save(&io, &clk);
    vga_state(s, &io);
    CHECK(state_ok(&io));
    IoMap map2;
    iomap_init(&map2);
    VGAState *t = vga_init(&map2);
    StateIO in;
    state_init_load(&in, io.buf, io.len, &clk);
    vga_state(t, &in);
    CHECK(state_finish(&in));
    CHECK(!memcmp(t->crtc, s->crtc, VGA_CRTC_REGS) && t->crtc_index == s->crtc_index);
    /* A bad index is refused and changes nothing. The payload ends with
     * crtc_index's value, then "crtc": name length, name, size, count, values. */
    io.buf[io.len - VGA_CRTC_REGS - 4 - 1 - 4 - 1 - 1] = 0x40;
    state_init_load(&in, io.buf, io.len, &clk);
    vga_state(t, &in);
    CHECK(!state_finish(&in));
    CHECK(strstr(state_error(&in), "CRTC index 0x40") != NULL);
    CHECK_EQ(t->crtc_index, s->crtc_index);
    state_free(&io);
    free(s);
    free(t);
    return check_done();
}
