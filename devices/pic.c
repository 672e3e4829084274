/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 8259A interrupt controller pair (Intel 8259A datasheet; PIIX/ICH
 * datasheets for the PC wiring and the ELCR). */
#include "devices/pic.h"

#include <stdio.h>
#include <stdlib.h>

#define PIC_ELCR_MASK_MASTER 0xf8   /* IRQ0-2 are always edge on PIIX */
#define PIC_ELCR_MASK_SLAVE  0xde   /* IRQ8 and IRQ13 likewise */

/* Priority level (0 = highest) of the most urgent bit in mask, 8 if none.
 * The IR after `lowest` has the highest priority (rotation). */
static int pic_priority(const PIC8259 *p, uint8_t mask)
{
    if (!mask)
        return 8;
    int level = 0;
    while (!(mask & (1 << ((p->lowest + 1 + level) & 7))))
        level++;
    return level;
}

/* The IR the chip would raise INT for, or -1. */
static int pic_get_irq(const PIC8259 *p, int is_master)
{
    uint8_t req = p->irr & ~p->imr;
    int level;
    if (p->special_mask) {
        /* Special mask mode: every unmasked level not in service is enabled,
         * lower priorities included (datasheet, "Special Mask Mode"). */
        level = pic_priority(p, req & ~p->isr);
    } else {
        uint8_t in = p->isr;
        /* SFNM: a slave in service does not block further slave requests. */
        if (is_master && (p->icw4 & PIC_ICW4_SFNM))
            in &= ~(1 << PIC_CASCADE_IRQ);
        level = pic_priority(p, req);
        if (level >= pic_priority(p, in))
            return -1;
    }
    return level == 8 ? -1 : (p->lowest + 1 + level) & 7;
}

/* Acknowledge: move the request into service. */
static void pic_intack(PIC8259 *p, int irq)
{
    uint8_t bit = 1 << irq;
    if (!(p->elcr & bit))
        p->irr &= ~bit;         /* a level request stays while the line is high */
    if (p->icw4 & PIC_ICW4_AEOI) {
        if (p->rotate_aeoi)
            p->lowest = irq;
    } else {
        p->isr |= bit;
    }
}

/* Propagate the slave's INT into master IR2, then the master's INT to the CPU.
 * The cascade is treated as a level: a slave request still pending after an
 * acknowledge (e.g. slave in AEOI) stays visible to the master. */
static void pic_update(PICState *s)
{
    PIC8259 *m = &s->pics[0];
    uint8_t bit = 1 << PIC_CASCADE_IRQ;
    if (pic_get_irq(&s->pics[1], 0) >= 0) {
        m->irr |= bit;
        m->lines |= bit;
    } else {
        m->irr &= ~bit;
        m->lines &= ~bit;
    }
    uint8_t out = pic_get_irq(m, 1) >= 0;
    if (out != s->int_out) {
        s->int_out = out;
        if (s->cpu_intr)
            set_irq(s->cpu_intr, out);
    }
}

void pic_set_irq(void *opaque, int irq, int level)
{
    PICState *s = opaque;
    /* IRQ2 is the internal cascade (ISA IRQ2 is routed to IRQ9). */
    if (irq < 0 || irq > 15 || irq == PIC_CASCADE_IRQ)
        return;
    PIC8259 *p = &s->pics[irq >> 3];
    uint8_t bit = 1 << (irq & 7);
    if (level) {
        if ((p->elcr & bit) || !(p->lines & bit))
            p->irr |= bit;      /* level, or a 0->1 edge */
        p->lines |= bit;
    } else {
        if (p->elcr & bit)
            p->irr &= ~bit;     /* level request withdrawn */
        p->lines &= ~bit;
    }
    pic_update(s);
}

int pic_read_irq(PICState *s)
{
    PIC8259 *m = &s->pics[0], *sl = &s->pics[1];
    int irq = pic_get_irq(m, 1), vec;
    if (irq < 0) {
        /* The request went away between INT and INTA: the chip answers
         * with its IR7 vector and sets no ISR bit. */
        s->spurious_count++;
        vec = m->irq_base + 7;
    } else if (irq == PIC_CASCADE_IRQ) {
        pic_intack(m, irq);
        int irq2 = pic_get_irq(sl, 0);
        if (irq2 >= 0) {
            pic_intack(sl, irq2);
            s->irq_count[8 + irq2]++;
            vec = sl->irq_base + irq2;
        } else {
            /* Spurious IRQ15: master IR2 is still in service (Linux sends
             * the master an EOI for it). */
            s->spurious_count++;
            vec = sl->irq_base + 7;
        }
    } else {
        pic_intack(m, irq);
        s->irq_count[irq]++;
        vec = m->irq_base + irq;
    }
    pic_update(s);
    return vec;
}

int pic_intr_pending(PICState *s)
{
    return s->int_out;
}

/* OCW3 poll: the read itself acknowledges; 0x80 | IR, or 0 if none. */
static uint8_t pic_poll_read(PICState *s, int n)
{
    PIC8259 *p = &s->pics[n];
    int irq = pic_get_irq(p, n == 0);
    p->poll = 0;
    if (irq < 0)
        return 0;
    pic_intack(p, irq);
    if (n || irq != PIC_CASCADE_IRQ)
        s->irq_count[n * 8 + irq]++;
    pic_update(s);
    return 0x80 | irq;
}

static void pic_write_ocw2(PIC8259 *p, uint8_t val)
{
    int irq = val & 7;
    switch (val & (PIC_OCW2_R | PIC_OCW2_SL | PIC_OCW2_EOI)) {
    case 0:                                            /* clear rotate in AEOI */
    case PIC_OCW2_R:                                   /* set rotate in AEOI */
        p->rotate_aeoi = !!(val & PIC_OCW2_R);
        break;
    case PIC_OCW2_EOI:                                 /* non-specific EOI */
    case PIC_OCW2_R | PIC_OCW2_EOI: {                  /* ... and rotate */
        int level = pic_priority(p, p->isr);
        if (level == 8)
            break;
        irq = (p->lowest + 1 + level) & 7;
        p->isr &= ~(1 << irq);
        if (val & PIC_OCW2_R)
            p->lowest = irq;
        break;
    }
    case PIC_OCW2_SL | PIC_OCW2_EOI:                   /* specific EOI */
        p->isr &= ~(1 << irq);
        break;
    case PIC_OCW2_R | PIC_OCW2_SL | PIC_OCW2_EOI:      /* rotate on specific EOI */
        p->isr &= ~(1 << irq);
        p->lowest = irq;
        break;
    case PIC_OCW2_R | PIC_OCW2_SL:                     /* set priority */
        p->lowest = irq;
        break;
    default:                                           /* SL alone: no operation */
        break;
    }
}

static void pic_ioport_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    PICState *s = opaque;
    int n = offset >> 1;        /* the range spans both chips, see pic_init */
    PIC8259 *p = &s->pics[n];
    (void)size_log2;
    val &= 0xff;
    if (!(offset & 1)) {
        if (val & PIC_ICW1_INIT) {
            /* ICW1 starts initialisation: IMR cleared, IR7 lowest priority,
             * special mask off, IRR selected for reading, ICW4 functions
             * zeroed if no ICW4 follows. Edge requests need a new edge. */
            p->icw1 = val;
            p->init_state = 2;
            p->imr = 0;
            p->isr = 0;
            p->irr = p->lines & p->elcr;
            p->lowest = 7;
            p->special_mask = 0;
            p->read_isr = 0;
            p->poll = 0;
            p->rotate_aeoi = 0;
            if (!(val & PIC_ICW1_IC4))
                p->icw4 = 0;
        } else if (val & PIC_OCW3_SEL) {
            if (val & PIC_OCW3_RR)
                p->read_isr = val & PIC_OCW3_RIS;
            if (val & PIC_OCW3_ESMM)
                p->special_mask = !!(val & PIC_OCW3_SMM);
            p->poll = !!(val & PIC_OCW3_P);
        } else {
            pic_write_ocw2(p, val);
        }
    } else {
        switch (p->init_state) {
        case 2:
            p->irq_base = val & 0xf8;
            p->init_state = (p->icw1 & PIC_ICW1_SNGL) ? ((p->icw1 & PIC_ICW1_IC4) ? 4 : 0) : 3;
            break;
        case 3:
            /* The PIIX pair is hard-wired in cascade on IR2: ICW3 is kept only. */
            p->icw3 = val;
            p->init_state = (p->icw1 & PIC_ICW1_IC4) ? 4 : 0;
            break;
        case 4:
            p->icw4 = val;
            p->init_state = 0;
            break;
        default:
            p->imr = val;       /* OCW1 */
            break;
        }
    }
    pic_update(s);
}

static uint32_t pic_ioport_read(void *opaque, uint32_t offset, int size_log2)
{
    PICState *s = opaque;
    int n = offset >> 1;
    PIC8259 *p = &s->pics[n];
    (void)size_log2;
    if (p->poll)
        return pic_poll_read(s, n);     /* either port, per the datasheet */
    if (offset & 1)
        return p->imr;
    return p->read_isr ? p->isr : p->irr;
}

static void pic_elcr_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    PICState *s = opaque;
    PIC8259 *p = &s->pics[offset & 1];
    (void)size_log2;
    p->elcr = val & p->elcr_mask;
    /* A line switched to level mode requests exactly while it is high. */
    p->irr = (p->irr & ~p->elcr) | (p->lines & p->elcr);
    pic_update(s);
}

static uint32_t pic_elcr_read(void *opaque, uint32_t offset, int size_log2)
{
    PICState *s = opaque;
    (void)size_log2;
    return s->pics[offset & 1].elcr;
}

/* Offsets into the master and slave port ranges. The slave's range reports
 * offsets 0-1; pic_slave_* add 2 so one pair of handlers serves both. */
static void pic_slave_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    pic_ioport_write(opaque, offset + 2, val, size_log2);
}

static uint32_t pic_slave_read(void *opaque, uint32_t offset, int size_log2)
{
    return pic_ioport_read(opaque, offset + 2, size_log2);
}

static void pic_chip_reset(PIC8259 *p, uint8_t base, uint8_t icw3, uint8_t elcr_mask)
{
    uint8_t lines = p->lines;   /* input wires keep their levels */
    *p = (PIC8259){ 0 };
    p->lines = lines;
    p->elcr_mask = elcr_mask;
    /* Power-on state is undefined; start as a PC BIOS leaves the pair
     * (vectors 0x08/0x70, cascade, ICW4 8086 mode) but fully masked. */
    p->icw1 = PIC_ICW1_INIT | PIC_ICW1_IC4;
    p->irq_base = base;
    p->icw3 = icw3;
    p->icw4 = PIC_ICW4_UPM;
    p->imr = 0xff;
    p->lowest = 7;
}

void pic_reset(PICState *s)
{
    pic_chip_reset(&s->pics[0], 0x08, 1 << PIC_CASCADE_IRQ, PIC_ELCR_MASK_MASTER);
    pic_chip_reset(&s->pics[1], 0x70, PIC_CASCADE_IRQ, PIC_ELCR_MASK_SLAVE);
    for (int i = 0; i < 16; i++)
        s->irq_count[i] = 0;
    s->spurious_count = 0;
    pic_update(s);
}

PICState *pic_init(IoMap *map, IRQSignal *cpu_intr)
{
    PICState *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->cpu_intr = cpu_intr;
    iomap_register_ports(map, 0x20, 2, s, pic_ioport_read, pic_ioport_write, IO_SIZE8, "pic-master");
    iomap_register_ports(map, 0xa0, 2, s, pic_slave_read, pic_slave_write, IO_SIZE8, "pic-slave");
    iomap_register_ports(map, 0x4d0, 2, s, pic_elcr_read, pic_elcr_write, IO_SIZE8, "pic-elcr");
    pic_reset(s);
    return s;
}

/* ---- checkpoints ---- */

static void pic_chip_state(PIC8259 *p, int n, StateIO *io)
{
    char name[32];
#define PIC_FIELD(f) (snprintf(name, sizeof name, "pics[%d]." #f, n), name)
    state_u8(io, PIC_FIELD(irr), &p->irr);
    state_u8(io, PIC_FIELD(isr), &p->isr);
    state_u8(io, PIC_FIELD(imr), &p->imr);
    state_u8(io, PIC_FIELD(lines), &p->lines);
    state_u8(io, PIC_FIELD(elcr), &p->elcr);
    state_u8(io, PIC_FIELD(irq_base), &p->irq_base);
    state_u8(io, PIC_FIELD(lowest), &p->lowest);
    state_u8(io, PIC_FIELD(init_state), &p->init_state);
    state_u8(io, PIC_FIELD(icw1), &p->icw1);
    state_u8(io, PIC_FIELD(icw3), &p->icw3);
    state_u8(io, PIC_FIELD(icw4), &p->icw4);
    state_u8(io, PIC_FIELD(read_isr), &p->read_isr);
    state_u8(io, PIC_FIELD(poll), &p->poll);
    state_u8(io, PIC_FIELD(special_mask), &p->special_mask);
    state_u8(io, PIC_FIELD(rotate_aeoi), &p->rotate_aeoi);
#undef PIC_FIELD
    /* elcr_mask is wiring (PIIX fixes it); the loaded ELCR must fit in it. */
    state_check(io, !(p->elcr & ~p->elcr_mask), "PIC %d: ELCR %#x sets fixed edge-triggered inputs", n, p->elcr);
    state_check(io, p->init_state == 0 || (p->init_state >= 2 && p->init_state <= 4),
                "PIC %d: initialisation step %u out of range", n, p->init_state);
    state_check(io, p->lowest <= 7 && !(p->irq_base & 7), "PIC %d: priority %u / vector base %#x out of range", n,
                p->lowest, p->irq_base);
    state_check(io, p->read_isr <= 1 && p->poll <= 1 && p->special_mask <= 1 && p->rotate_aeoi <= 1,
                "PIC %d: OCW flag out of range", n);
}

void pic_state(PICState *s, StateIO *io)
{
    /* Loaded into a copy, so a refused checkpoint leaves the device as it was. */
    PICState t = *s;
    for (int i = 0; i < 2; i++)
        pic_chip_state(&t.pics[i], i, io);
    state_u8(io, "int_out", &t.int_out);
    if (!state_loading(io) || !state_ok(io))
        return;
    /* int_out and master IR2 are what pic_update derives after every change. */
    int cascade = pic_get_irq(&t.pics[1], 0) >= 0;
    state_check(io, ((t.pics[0].irr >> PIC_CASCADE_IRQ) & 1) == cascade &&
                        ((t.pics[0].lines >> PIC_CASCADE_IRQ) & 1) == cascade,
                "PIC: master IR2 does not follow the slave's output");
    state_check(io, t.int_out == (pic_get_irq(&t.pics[0], 1) >= 0), "PIC: INT output %u does not match the requests",
                t.int_out);
    if (!state_ok(io))
        return;
    *s = t;             /* statistics and wiring in t are s's own */
}
