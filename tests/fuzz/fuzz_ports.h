/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input format of fuzz_ports, shared with the seed generator.
 *
 * The input is a sequence of operations. Each starts with one byte whose low
 * three bits are the kind (FZ_*) and whose high five bits are its argument:
 *   FZ_READ       arg&3 = size_log2 (3 means 2), then a port spec
 *   FZ_WRITE      arg&3 = size_log2, a port spec, 4 value bytes (LE)
 *   FZ_ADVANCE    arg = shift; 2 bytes n (LE): guest time += n << shift ns
 *   FZ_INTA       interrupt acknowledge, if the PIC drives INTR
 *   FZ_RX         arg&15 = count, then that many bytes for the UART receiver
 *   FZ_MMIO_READ  arg&3 = size_log2; 3 offset bytes into the PCI memory window
 *   FZ_MMIO_WRITE arg&3 = size_log2; 3 offset bytes; 4 value bytes
 *   FZ_TICK       guest time += (arg + 1) * 64 ns
 * A port spec is one byte: an index into fz_ports[], or, past its end, a
 * raw 16-bit port in the next two bytes. A truncated operation ends the run. */
#ifndef LBVM_FUZZ_PORTS_H
#define LBVM_FUZZ_PORTS_H
#include <stdint.h>

enum { FZ_READ, FZ_WRITE, FZ_ADVANCE, FZ_INTA, FZ_RX, FZ_MMIO_READ, FZ_MMIO_WRITE, FZ_TICK };
#define FZ_OP(kind, arg) ((uint8_t)((kind) | (arg) << 3))

/* Every port the machine decodes, a few neighbours, and unassigned ones. */
static const uint16_t fz_ports[] = {
    0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1,               /* PIC pair, ELCR */
    0x40, 0x41, 0x42, 0x43, 0x61,                       /* PIT, port B */
    0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, /* COM1 */
    0x70, 0x71,                                         /* RTC */
    0xcf8, 0xcf9, 0xcfa, 0xcfb, 0xcfc, 0xcfd, 0xcfe, 0xcff, /* PCI conf1, RCR */
    0x92, 0x60, 0x64,                                   /* sysreset, i8042 */
    0xc000, 0xc010, 0xfffc,                             /* PCI I/O window */
    0x80, 0x3f7, 0x4d2, 0xcf7,                          /* unassigned, edges */
    0x3d4, 0x3d5,                                       /* VGA CRTC */
};
#define FZ_NPORTS ((int)(sizeof fz_ports / sizeof fz_ports[0]))
#endif
