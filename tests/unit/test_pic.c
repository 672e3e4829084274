/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 8259A pair at register level: Linux's init sequence, masking, priority,
 * EOI, cascade, OCW3 reads, poll, AEOI, rotation, special mask, ELCR. */
#include "check.h"
#include "base/iomem.h"
#include "devices/pic.h"

static IoMap map;
static PICState *pic;
static int intr_level, intr_rises, intr_falls, intr_redundant;

static void cpu_set_intr(void *opaque, int n, int level)
{
    (void)opaque; (void)n;
    if (level == intr_level)
        intr_redundant++;               /* only changes are signalled */
    if (level && !intr_level) intr_rises++;
    if (!level && intr_level) intr_falls++;
    intr_level = level;
}

static void out8(uint32_t port, uint8_t v) { iomap_port_write(&map, port, v, 0); }
static uint8_t in8(uint32_t port) { return (uint8_t)iomap_port_read(&map, port, 0); }
static void pulse(int irq) { pic_set_irq(pic, irq, 1); pic_set_irq(pic, irq, 0); }
static uint8_t master_isr(void) { out8(0x20, 0x0b); return in8(0x20); }
static uint8_t master_irr(void) { out8(0x20, 0x0a); return in8(0x20); }
static uint8_t slave_isr(void) { out8(0xa0, 0x0b); return in8(0xa0); }
static uint8_t slave_irr(void) { out8(0xa0, 0x0a); return in8(0xa0); }

/* arch/x86/kernel/i8259.c init_8259A(0), ending with everything masked. */
static void linux_init(void)
{
    out8(0x21, 0xff);
    out8(0xa1, 0xff);
    out8(0x20, 0x11);   /* ICW1: edge, cascade, ICW4 */
    out8(0x21, 0x30);   /* ICW2: vectors 0x30-0x37 */
    out8(0x21, 0x04);   /* ICW3: slave on IR2 */
    out8(0x21, 0x01);   /* ICW4: 8086, normal EOI */
    out8(0xa0, 0x11);
    out8(0xa1, 0x38);
    out8(0xa1, 0x02);
    out8(0xa1, 0x01);
    out8(0x21, 0xff);
    out8(0xa1, 0xff);
}

static void test_init_and_mask(void)
{
    out8(0x21, 0x5a);
    out8(0x20, 0x11);
    CHECK_EQ(in8(0x21), 0x00);          /* ICW1 clears the IMR */
    out8(0x21, 0x30); out8(0x21, 0x04); out8(0x21, 0x01);
    out8(0x21, 0xa5);                   /* now OCW1 */
    CHECK_EQ(in8(0x21), 0xa5);
    out8(0x20, 0x13);                   /* single, ICW4: no ICW3 */
    out8(0x21, 0x35);                   /* ICW2: low 3 bits ignored */
    out8(0x21, 0x01);
    out8(0x21, 0xfe);
    CHECK_EQ(in8(0x21), 0xfe);
    pulse(0);
    CHECK_EQ(pic_read_irq(pic), 0x30);
    out8(0x20, 0x20);
    linux_init();
    CHECK_EQ(in8(0x21), 0xff);
    CHECK_EQ(in8(0xa1), 0xff);
    CHECK_EQ(master_irr(), 0);
    CHECK_EQ(master_isr(), 0);

    /* A masked edge latches in IRR but raises no INT. */
    pulse(1);
    CHECK_EQ(intr_level, 0);
    CHECK_EQ(master_irr(), 0x02);
    out8(0x21, 0xfd);                   /* unmask IRQ1 */
    CHECK_EQ(intr_level, 1);
    CHECK_EQ(pic_intr_pending(pic), 1);
    out8(0x21, 0xff);                   /* mask again: INT drops */
    CHECK_EQ(intr_level, 0);
    out8(0x21, 0xfd);
    CHECK_EQ(pic_read_irq(pic), 0x31);
    CHECK_EQ(intr_level, 0);
    CHECK_EQ(master_irr(), 0);
    CHECK_EQ(master_isr(), 0x02);
    out8(0x20, 0x20);                   /* non-specific EOI */
    CHECK_EQ(master_isr(), 0);
    CHECK_EQ(pic->irq_count[1], 1);
    out8(0x21, 0xff);
}

static void test_priority_and_eoi(void)
{
    linux_init();
    out8(0x21, 0xf4);                   /* unmask 0, 1, 3 */
    pulse(3);
    pulse(1);
    CHECK_EQ(master_irr(), 0x0a);
    CHECK_EQ(pic_read_irq(pic), 0x31);  /* lower number first */
    CHECK_EQ(intr_level, 0);            /* IRQ3 blocked by IRQ1 in service */
    pulse(0);                           /* higher priority nests */
    CHECK_EQ(intr_level, 1);
    CHECK_EQ(pic_read_irq(pic), 0x30);
    CHECK_EQ(master_isr(), 0x03);
    CHECK_EQ(intr_level, 0);
    out8(0x20, 0x20);                   /* non-specific EOI clears IRQ0 (highest) */
    CHECK_EQ(master_isr(), 0x02);
    CHECK_EQ(intr_level, 0);
    out8(0x20, 0x61);                   /* specific EOI for IRQ1 */
    CHECK_EQ(master_isr(), 0);
    CHECK_EQ(intr_level, 1);            /* IRQ3 unblocked */
    CHECK_EQ(pic_read_irq(pic), 0x33);

    /* Specific EOI of a lower-priority level leaves the higher one. */
    pulse(0);
    CHECK_EQ(pic_read_irq(pic), 0x30);
    CHECK_EQ(master_isr(), 0x09);
    out8(0x20, 0x63);
    CHECK_EQ(master_isr(), 0x01);
    out8(0x20, 0x60);
    CHECK_EQ(master_isr(), 0);
    out8(0x21, 0xff);
}

static void test_cascade(void)
{
    linux_init();
    out8(0x21, 0xfb);                   /* unmask cascade only */
    out8(0xa1, 0xf7);                   /* unmask IRQ11 */
    int rises = intr_rises;
    pulse(11);
    CHECK_EQ(intr_level, 1);
    CHECK_EQ(intr_rises, rises + 1);
    CHECK_EQ(slave_irr(), 0x08);
    CHECK_EQ(master_irr(), 0x04);
    CHECK_EQ(pic_read_irq(pic), 0x3b);
    CHECK_EQ(master_isr(), 0x04);
    CHECK_EQ(slave_isr(), 0x08);
    CHECK_EQ(intr_level, 0);
    CHECK_EQ(pic->irq_count[11], 1);
    CHECK_EQ(pic->irq_count[2], 0);

    /* A second slave request waits for both EOIs (Linux: slave, then master). */
    out8(0xa1, 0xe7);                   /* also IRQ12 */
    pulse(12);
    CHECK_EQ(intr_level, 0);
    out8(0xa0, 0x63);
    CHECK_EQ(slave_isr(), 0);
    CHECK_EQ(intr_level, 0);            /* master IR2 still in service */
    out8(0x20, 0x62);
    CHECK_EQ(master_isr(), 0);
    CHECK_EQ(intr_level, 1);
    CHECK_EQ(pic_read_irq(pic), 0x3c);
    out8(0xa0, 0x20);
    out8(0x20, 0x20);
    CHECK_EQ(slave_isr(), 0);
    CHECK_EQ(master_isr(), 0);

    /* Masking the slave line removes the master's IR2 request. */
    pulse(11);
    CHECK_EQ(intr_level, 1);
    out8(0xa1, 0xff);
    CHECK_EQ(intr_level, 0);
    CHECK_EQ(master_irr(), 0);
    CHECK_EQ(slave_irr(), 0x08);
    out8(0xa1, 0xf7);
    CHECK_EQ(pic_read_irq(pic), 0x3b);

    /* A higher slave request while the slave is in service: blocked by
     * master IR2 in service, unless the master is in SFNM. */
    out8(0xa1, 0xf5);                   /* IRQ9, IRQ11 */
    pulse(9);
    CHECK_EQ(slave_irr(), 0x02);
    CHECK_EQ(intr_level, 0);
    out8(0xa0, 0x20);
    out8(0x20, 0x20);
    CHECK_EQ(pic_read_irq(pic), 0x39);
    out8(0xa0, 0x20);
    out8(0x20, 0x20);
    out8(0x20, 0x11); out8(0x21, 0x30); out8(0x21, 0x04);
    out8(0x21, 0x11);                   /* ICW4: SFNM, 8086 */
    out8(0x21, 0xfb);
    pulse(11);
    CHECK_EQ(pic_read_irq(pic), 0x3b);
    pulse(9);
    CHECK_EQ(intr_level, 1);
    CHECK_EQ(pic_read_irq(pic), 0x39);  /* nested inside IRQ11 */
    CHECK_EQ(slave_isr(), 0x0a);
    CHECK_EQ(master_isr(), 0x04);
    out8(0xa0, 0x20);
    out8(0xa0, 0x20);
    out8(0x20, 0x20);
    CHECK_EQ(slave_isr(), 0);
    CHECK_EQ(master_isr(), 0);
    out8(0x21, 0xff);
    out8(0xa1, 0xff);
}

static void test_poll(void)
{
    linux_init();
    out8(0x21, 0xf7);                   /* IRQ3 */
    out8(0x20, 0x0c);                   /* OCW3 poll */
    CHECK_EQ(in8(0x20), 0x00);          /* nothing pending */
    pulse(3);
    CHECK_EQ(intr_level, 1);
    out8(0x20, 0x0c);
    CHECK_EQ(in8(0x20), 0x83);          /* poll acknowledges */
    CHECK_EQ(intr_level, 0);
    CHECK_EQ(master_isr(), 0x08);
    CHECK_EQ(master_irr(), 0x00);
    CHECK_EQ(in8(0x20), 0x00);          /* no longer polling: IRR */
    out8(0x20, 0x20);
    CHECK_EQ(master_isr(), 0);
    out8(0x21, 0xff);
}

static void test_aeoi(void)
{
    linux_init();
    out8(0x20, 0x11); out8(0x21, 0x30); out8(0x21, 0x04);
    out8(0x21, 0x03);                   /* ICW4: AEOI */
    out8(0x21, 0xfe);
    pulse(0);
    CHECK_EQ(pic_read_irq(pic), 0x30);
    CHECK_EQ(master_isr(), 0);          /* no ISR bit in AEOI */
    pulse(0);
    CHECK_EQ(intr_level, 1);            /* deliverable again without EOI */
    CHECK_EQ(pic_read_irq(pic), 0x30);
    CHECK_EQ(intr_level, 0);

    /* ICW1 without IC4 zeroes the ICW4 functions: AEOI off. */
    out8(0x20, 0x10); out8(0x21, 0x30); out8(0x21, 0x04);
    out8(0x21, 0xfe);
    pulse(0);
    CHECK_EQ(pic_read_irq(pic), 0x30);
    CHECK_EQ(master_isr(), 0x01);
    out8(0x21, 0xff);
}

static void test_rotation(void)
{
    linux_init();
    out8(0x21, 0x00);
    pulse(0);
    CHECK_EQ(pic_read_irq(pic), 0x30);
    out8(0x20, 0xa0);                   /* rotate on non-specific EOI: IRQ0 lowest */
    CHECK_EQ(master_isr(), 0);
    pulse(3);
    pulse(0);
    CHECK_EQ(pic_read_irq(pic), 0x33);  /* 3 now outranks 0 */
    out8(0x20, 0x20);
    CHECK_EQ(pic_read_irq(pic), 0x30);
    out8(0x20, 0x20);

    out8(0x20, 0xc4);                   /* set priority: IRQ4 lowest, IRQ5 highest */
    pulse(1);
    pulse(6);
    CHECK_EQ(pic_read_irq(pic), 0x36);
    pulse(4);
    /* In service 6; 1 outranks 4 but both are below 6 now. */
    CHECK_EQ(intr_level, 0);
    out8(0x20, 0xe6);                   /* rotate on specific EOI 6: IRQ7 highest */
    CHECK_EQ(master_isr(), 0);
    pulse(7);
    CHECK_EQ(pic_read_irq(pic), 0x37);  /* order 7,0,1,...,6 */
    out8(0x20, 0x20);
    CHECK_EQ(pic_read_irq(pic), 0x31);
    out8(0x20, 0x20);
    CHECK_EQ(pic_read_irq(pic), 0x34);
    out8(0x20, 0x20);

    /* Rotate in AEOI: each acknowledged IR becomes lowest. */
    out8(0x20, 0x11); out8(0x21, 0x30); out8(0x21, 0x04); out8(0x21, 0x03);
    out8(0x20, 0x80);                   /* set rotate in AEOI */
    out8(0x21, 0x00);
    pulse(2 + 1);
    pulse(5);
    CHECK_EQ(pic_read_irq(pic), 0x33);
    pulse(3);
    CHECK_EQ(pic_read_irq(pic), 0x35);  /* 3 went to the bottom */
    CHECK_EQ(pic_read_irq(pic), 0x33);
    out8(0x20, 0x00);                   /* clear rotate in AEOI */
    out8(0x21, 0xff);
}

static void test_special_mask(void)
{
    linux_init();
    out8(0x21, 0xf6);                   /* IRQ0, IRQ3 */
    pulse(0);
    CHECK_EQ(pic_read_irq(pic), 0x30);
    pulse(3);
    CHECK_EQ(intr_level, 0);            /* blocked by IRQ0 in service */
    out8(0x21, 0xf7);                   /* mask IRQ0 */
    CHECK_EQ(intr_level, 0);            /* masking alone does not help */
    out8(0x20, 0x68);                   /* OCW3: set special mask mode */
    CHECK_EQ(intr_level, 1);            /* lower level enabled */
    CHECK_EQ(pic_read_irq(pic), 0x33);
    out8(0x20, 0x63);
    out8(0x20, 0x48);                   /* reset special mask mode */
    out8(0x20, 0x60);
    CHECK_EQ(master_isr(), 0);
    out8(0x21, 0xff);
}

static void test_elcr_level_and_spurious(void)
{
    linux_init();
    out8(0x4d0, 0xff);
    out8(0x4d1, 0xff);
    CHECK_EQ(in8(0x4d0), 0xf8);         /* IRQ0-2 reserved */
    CHECK_EQ(in8(0x4d1), 0xde);         /* IRQ8, IRQ13 reserved */
    out8(0x4d0, 0x20);                  /* IRQ5 level */
    out8(0x4d1, 0x04);                  /* IRQ10 level */
    CHECK_EQ(in8(0x4d0), 0x20);
    CHECK_EQ(in8(0x4d1), 0x04);
    out8(0x21, 0xd9);                   /* IRQ1, IRQ2, IRQ5 */
    out8(0xa1, 0xfb);                   /* IRQ10 */

    /* Level: IRR follows the line. */
    pic_set_irq(pic, 10, 1);
    CHECK_EQ(intr_level, 1);
    CHECK_EQ(slave_irr(), 0x04);
    pic_set_irq(pic, 10, 0);
    CHECK_EQ(slave_irr(), 0);
    CHECK_EQ(intr_level, 0);

    /* Edge: IRR stays latched when the line drops. */
    pic_set_irq(pic, 1, 1);
    pic_set_irq(pic, 1, 0);
    CHECK_EQ(master_irr(), 0x02);
    pic_set_irq(pic, 1, 1);             /* a held-high edge line ... */
    CHECK_EQ(pic_read_irq(pic), 0x31);
    out8(0x20, 0x20);
    CHECK_EQ(intr_level, 0);            /* ... does not request again */
    pic_set_irq(pic, 1, 0);

    /* A level line held high requests again after EOI. */
    pic_set_irq(pic, 5, 1);
    CHECK_EQ(pic_read_irq(pic), 0x35);
    CHECK_EQ(intr_level, 0);
    out8(0x20, 0x20);
    CHECK_EQ(intr_level, 1);
    CHECK_EQ(pic_read_irq(pic), 0x35);
    out8(0x20, 0x20);

    /* The line drops between INT and INTA: spurious IRQ7, nothing in service. */
    uint64_t spurious = pic->spurious_count, count5 = pic->irq_count[5];
    CHECK_EQ(intr_level, 1);
    pic_set_irq(pic, 5, 0);
    CHECK_EQ(intr_level, 0);
    CHECK_EQ(pic_read_irq(pic), 0x37);
    CHECK_EQ(master_isr(), 0);
    CHECK_EQ(pic->spurious_count, spurious + 1);
    CHECK_EQ(pic->irq_count[5], count5);

    out8(0x4d0, 0);
    out8(0x4d1, 0);
    out8(0x21, 0xff);
    out8(0xa1, 0xff);
}

static void test_intr_transitions(void)
{
    linux_init();
    int rises = intr_rises, falls = intr_falls;
    out8(0x21, 0xfe);
    pulse(0);
    pulse(0);                           /* already pending: no new transition */
    CHECK_EQ(intr_rises, rises + 1);
    CHECK_EQ(pic_read_irq(pic), 0x30);
    CHECK_EQ(intr_falls, falls + 1);
    out8(0x20, 0x20);
    CHECK_EQ(intr_rises, rises + 1);
    CHECK_EQ(intr_level, 0);

    pic_reset(pic);                     /* reset: masked, BIOS vectors */
    CHECK_EQ(in8(0x21), 0xff);
    CHECK_EQ(pic_intr_pending(pic), 0);
    out8(0x21, 0xfe);
    pulse(0);
    CHECK_EQ(pic_read_irq(pic), 0x08);
    CHECK_EQ(intr_redundant, 0);
}

int main(void)
{
    static IRQSignal intr;
    iomap_init(&map);
    irq_init(&intr, cpu_set_intr, NULL, 0);
    pic = pic_init(&map, &intr);
    CHECK(pic != NULL);
    test_init_and_mask();
    test_priority_and_eoi();
    test_cascade();
    test_poll();
    test_aeoi();
    test_rotation();
    test_special_mask();
    test_elcr_level_and_spurious();
    test_intr_transitions();
    return check_done();
}
