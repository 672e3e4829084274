/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Intel 8259A programmable interrupt controller pair as on a PIIX PC:
 * master at 0x20-0x21, slave at 0xa0-0xa1 cascaded into master IR2,
 * edge/level control registers (ELCR) at 0x4d0-0x4d1. */
#ifndef LBVM_PIC_H
#define LBVM_PIC_H
#include <stdint.h>

#include "base/iomem.h"
#include "base/state.h"

/* ICW1 (command port, bit 4 set) */
#define PIC_ICW1_IC4   0x01     /* ICW4 will follow */
#define PIC_ICW1_SNGL  0x02     /* single, no ICW3 */
#define PIC_ICW1_LTIM  0x08     /* level mode; ignored on PIIX (ELCR instead) */
#define PIC_ICW1_INIT  0x10
/* ICW4 */
#define PIC_ICW4_UPM   0x01     /* 8086 mode */
#define PIC_ICW4_AEOI  0x02
#define PIC_ICW4_SFNM  0x10     /* special fully nested mode */
/* OCW2 (command port, bits 4:3 = 00): R, SL, EOI in bits 7:5 */
#define PIC_OCW2_EOI   0x20
#define PIC_OCW2_SL    0x40
#define PIC_OCW2_R     0x80
/* OCW3 (command port, bits 4:3 = 01) */
#define PIC_OCW3_RIS   0x01     /* read ISR (else IRR) ... */
#define PIC_OCW3_RR    0x02     /* ... if this is set */
#define PIC_OCW3_P     0x04     /* poll */
#define PIC_OCW3_SEL   0x08
#define PIC_OCW3_SMM   0x20     /* special mask mode on/off ... */
#define PIC_OCW3_ESMM  0x40     /* ... if this is set */

#define PIC_CASCADE_IRQ 2

/* One 8259A. Plain fields only: this is the saved state. */
typedef struct PIC8259 {
    uint8_t irr, isr, imr;
    uint8_t lines;              /* current IR input levels (edge detection) */
    uint8_t elcr;               /* 1 = level triggered */
    uint8_t elcr_mask;          /* writable ELCR bits */
    uint8_t irq_base;           /* ICW2 & 0xf8 */
    uint8_t lowest;             /* IR with the lowest priority (7 after init) */
    uint8_t init_state;         /* next ICW expected: 0 none, 2, 3, 4 */
    uint8_t icw1, icw3, icw4;
    uint8_t read_isr;           /* OCW3: command port reads ISR, else IRR */
    uint8_t poll;               /* OCW3 poll: next read is a poll */
    uint8_t special_mask;       /* OCW3 special mask mode */
    uint8_t rotate_aeoi;        /* OCW2 rotate in automatic EOI mode */
} PIC8259;

typedef struct PICState {
    PIC8259 pics[2];            /* 0 master, 1 slave */
    uint8_t int_out;            /* level of the master INT output */
    uint64_t irq_count[16];     /* acknowledges per IRQ (statistics) */
    uint64_t spurious_count;    /* acknowledges that found no request */
    IRQSignal *cpu_intr;        /* wiring */
} PICState;

PICState *pic_init(IoMap *map, IRQSignal *cpu_intr);
void pic_reset(PICState *s);
/* SetIRQFunc: opaque is the PICState, irq 0-15. */
void pic_set_irq(void *opaque, int irq, int level);
/* Interrupt acknowledge: the vector to deliver (spurious IRQ7/15 if none). */
int pic_read_irq(PICState *s);
int pic_intr_pending(PICState *s);

/* Checkpoints: both chips' registers, input line levels and the INT output.
 * A load sets fields only (no set_irq): the machine re-derives the CPU's
 * INTR from int_out. */
#define PIC_STATE_VERSION 1
void pic_state(PICState *s, StateIO *io);
#endif
