/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VGA CRT controller registers (IBM VGA technical reference; the mode 3
 * values are those of the standard BIOS mode table). Registers read back as
 * written; index values past 18h read 0xff and drop writes. */
#include "devices/vga.h"

#include <stdlib.h>
#include <string.h>

/* Mode 3, 80x25 text, 9x16 cell (the VGA BIOS parameter table). */
static const uint8_t vga_mode3_crtc[VGA_CRTC_REGS] = {
    0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00,
    0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
};

static uint32_t vga_read(void *opaque, uint32_t offset, int size_log2)
{
    VGAState *s = opaque;
    (void)size_log2;
    if (offset == 0)
        return s->crtc_index;
    return s->crtc_index < VGA_CRTC_REGS ? s->crtc[s->crtc_index] : 0xff;
}

static void vga_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    VGAState *s = opaque;
    (void)size_log2;
    if (offset == 0) {
        s->crtc_index = (uint8_t)(val & 0x1f);
        return;
    }
    if (s->crtc_index >= VGA_CRTC_REGS)
        return;
    /* With the protect bit set, registers 0-7 ignore writes except bit 4
     * of register 7 (the line compare bit 8). */
    if ((s->crtc[VGA_CRTC_VRETRACE_END] & 0x80) && s->crtc_index <= 7) {
        if (s->crtc_index == 7)
            s->crtc[7] = (uint8_t)((s->crtc[7] & ~0x10) | (val & 0x10));
        return;
    }
    s->crtc[s->crtc_index] = (uint8_t)val;
}

void vga_reset(VGAState *s)
{
    s->crtc_index = 0;
    memcpy(s->crtc, vga_mode3_crtc, sizeof s->crtc);
}

VGAState *vga_init(IoMap *map)
{
    VGAState *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    vga_reset(s);
    /* A word write to 0x3d4 sets index and data at once, as on real VGAs:
     * the map splits it into the two bytes. */
    if (!iomap_register_ports(map, VGA_CRTC_INDEX, 2, s, vga_read, vga_write, IO_SIZE8, "vga-crtc")) {
        free(s);
        return NULL;
    }
    return s;
}

void vga_state(VGAState *s, StateIO *io)
{
    VGAState t = *s;
    state_u8(io, "crtc_index", &t.crtc_index);
    state_u8s(io, "crtc", t.crtc, VGA_CRTC_REGS);
    state_check(io, t.crtc_index < 0x20, "VGA: CRTC index %#x out of range", t.crtc_index);
    if (state_loading(io) && state_ok(io))
        *s = t;
}
