/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a text-mode guest touches of a VGA, and no display: the CRT
 * controller's index/data pair at 0x3d4/0x3d5 (colour) as the BIOS leaves it
 * in mode 3 (80x25 text), so that a kernel reading the cursor position
 * (Fiwix's vgacon_get_curpos, Linux's vgacon) gets row 0, column 0 and
 * not 0xffff, which would put its cursor far outside the screen.
 *
 * The text buffer at 0xb8000 is plain guest RAM (the machine's RAM is mapped
 * from address 0 throughout the legacy hole), so writes there land in RAM,
 * are saved with it and are never shown. The other VGA ports (attribute,
 * sequencer, graphics, 0x3da) stay unassigned: reads float to all-ones and
 * writes are dropped, which text-console drivers tolerate. */
#ifndef LBVM_VGA_H
#define LBVM_VGA_H
#include <stdint.h>

#include "base/iomem.h"
#include "base/state.h"

#define VGA_CRTC_INDEX      0x3d4
#define VGA_CRTC_DATA       0x3d5
#define VGA_CRTC_REGS       0x19    /* 00h-18h */
#define VGA_CRTC_CURSOR_START 0x0a
#define VGA_CRTC_CURSOR_END 0x0b
#define VGA_CRTC_CURSOR_HI  0x0e
#define VGA_CRTC_CURSOR_LO  0x0f
#define VGA_CRTC_VRETRACE_END 0x11  /* bit 7 protects registers 0-7 */
#define VGA_TEXT_BASE       0xb8000u

typedef struct VGAState {
    uint8_t crtc_index;         /* bits 0-4 as written */
    uint8_t crtc[VGA_CRTC_REGS];
} VGAState;

/* Registers 0x3d4-0x3d5. NULL if the ports are taken. */
VGAState *vga_init(IoMap *map);
/* The CRTC as the BIOS leaves it after setting mode 3, cursor at 0. */
void vga_reset(VGAState *s);

/* Checkpoints: the index and the registers. */
#define VGA_STATE_VERSION 1
void vga_state(VGAState *s, StateIO *io);
#endif
