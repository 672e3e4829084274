/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 8254 and port 0x61 at register level, on a virtual clock set by hand.
 * Times are written as PIT clocks: at now = at(x) exactly x clocks have
 * elapsed, and a count written at clock x is loaded on clock x + 1. */
#include "check.h"
#include "base/clock.h"
#include "base/iomem.h"
#include "devices/pit.h"

static IoMap map;
static VClock clk;
static PITState *pit;
static int irq_level, irq_pulses, irq_bad;
static uint64_t last_pulse;

static void irq0_set(void *opaque, int n, int level)
{
    (void)opaque; (void)n;
    if (level == irq_level)
        irq_bad++;                      /* every call must be a transition */
    if (level) {
        irq_pulses++;
        last_pulse = clk.now;
    }
    irq_level = level;
}

static void out8(uint32_t port, uint8_t v) { iomap_port_write(&map, port, v, 0); }
static uint8_t in8(uint32_t port) { return (uint8_t)iomap_port_read(&map, port, 0); }
static uint64_t at(uint64_t pit_clocks) { return vclock_from_hz(pit_clocks, PIT_FREQ); }
static uint64_t clocks(void) { return vclock_to_hz(clk.now, PIT_FREQ); }

/* Advance virtual time to t, firing timers at their deadlines. */
static void run_to(uint64_t t)
{
    while (vclock_next_deadline(&clk) <= t) {
        clk.now = vclock_next_deadline(&clk);
        vclock_run_timers(&clk);
    }
    clk.now = t;
}

static uint16_t read_word(uint32_t port)
{
    uint8_t lo = in8(port);
    return (uint16_t)(lo | in8(port) << 8);
}

static uint16_t latch_read(int ch)
{
    out8(0x43, (uint8_t)(ch << 6));     /* counter latch command */
    return read_word(0x40 + ch);
}

static uint8_t readback_status(int ch)
{
    out8(0x43, (uint8_t)(0xc0 | PIT_RB_NOT_COUNT | 2 << ch));
    return in8(0x40 + ch);
}

static void test_periodic_irq0(void)
{
    const uint64_t N = 4773;            /* Linux at HZ=250 */
    run_to(123456789);
    uint64_t p0 = clocks(), start = p0 + 1;
    out8(0x43, 0x34);                   /* ch0, LSB/MSB, mode 2 */
    out8(0x40, N & 0xff);
    out8(0x40, N >> 8);
    CHECK_EQ(vclock_next_deadline(&clk), at(start + N));

    int pulses = irq_pulses, bad = 0;
    uint64_t prev = 0, lo = N * VCLOCK_HZ / PIT_FREQ;   /* 4000227 ns */
    for (uint64_t k = 1; k <= 15000; k++) {    /* one minute of ticks */
        uint64_t t = vclock_next_deadline(&clk);
        if (t != at(start + k * N))
            bad++;
        if (k > 1 && t - prev != lo && t - prev != lo + 1)
            bad++;
        run_to(t);
        if (irq_pulses != pulses + (int)k || last_pulse != t || irq_level)
            bad++;
        prev = t;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(irq_bad, 0);
    /* No drift: tick 15000 is within a nanosecond of the exact time. */
    double exact = (double)(start + 15000 * N) * 1e9 / PIT_FREQ;
    CHECK((double)prev - exact < 1.0 && (double)prev - exact >= 0.0);

    /* Timers run late by 2.5 periods: one pulse, and the grid is kept. */
    pulses = irq_pulses;
    uint64_t t = vclock_next_deadline(&clk);
    clk.now = t + 10000000;
    vclock_run_timers(&clk);
    CHECK_EQ(irq_pulses, pulses + 1);
    CHECK_EQ(vclock_next_deadline(&clk), at(start + 15004 * N));

    /* The counter is consistent with the same grid. */
    run_to(at(start + 15004 * N + 1000));
    CHECK_EQ(last_pulse, at(start + 15004 * N));
    CHECK_EQ(latch_read(0), N - 1000);
}

static void test_latch(void)
{
    run_to(at(10000000));
    out8(0x43, 0x34);
    out8(0x40, 0xe8);                   /* 1000 */
    out8(0x40, 0x03);
    uint64_t start = 10000001;
    run_to(at(start + 300));
    out8(0x43, 0x00);                   /* latch ch0 at count 700 */
    run_to(at(start + 300 + 55555));
    out8(0x43, 0x00);                   /* ignored: already latched */
    CHECK_EQ(in8(0x40), 700 & 0xff);
    run_to(at(start + 300 + 77777));
    CHECK_EQ(in8(0x40), 700 >> 8);
    /* Unlatched: live count (1000 - 78077 % 1000 = 923). */
    CHECK_EQ(read_word(0x40), 923);
    CHECK_EQ(latch_read(0), 923);
    run_to(at(start + 78999));          /* count 1: OUT low for one clock */
    CHECK_EQ(latch_read(0), 1);
    CHECK_EQ(readback_status(0), 0x34); /* OUT 0, RW 3, mode 2 */
    run_to(at(start + 79000));
    CHECK_EQ(latch_read(0), 1000);
    CHECK_EQ(readback_status(0), 0xb4);

    /* LSB-only and MSB-only access modes. */
    out8(0x43, 0x14);                   /* ch0, LSB only, mode 2 */
    out8(0x40, 200);
    uint64_t s2 = clocks() + 1;
    run_to(at(s2 + 50));
    CHECK_EQ(in8(0x40), 150);
    CHECK_EQ(in8(0x40), 150);           /* no byte toggle */
    out8(0x43, 0x24);                   /* ch0, MSB only, mode 2 */
    out8(0x40, 0x02);                   /* 0x200 */
    uint64_t s3 = clocks() + 1;
    run_to(at(s3 + 0xff));
    CHECK_EQ(in8(0x40), 0x01);          /* 0x200 - 0xff = 0x101 */
    run_to(at(s3 + 0x101));
    CHECK_EQ(in8(0x40), 0x00);          /* 0xff: MSB 0 */
}

static void test_readback(void)
{
    run_to(at(20000000));
    out8(0x43, 0x34);
    CHECK_EQ(readback_status(0), 0xf4); /* OUT 1, NULL COUNT, RW 3, mode 2 */
    out8(0x43, 0x30);
    CHECK_EQ(readback_status(0), 0x70); /* mode 0: OUT low after the control word */
    out8(0x40, 0x10);
    out8(0x40, 0x27);                   /* 10000 */
    CHECK_EQ(readback_status(0), 0x70); /* loaded only on the next clock */
    uint64_t start = clocks() + 1;
    run_to(at(start));
    CHECK_EQ(readback_status(0), 0x30);
    run_to(at(start + 10000));
    CHECK_EQ(readback_status(0), 0xb0); /* terminal count: OUT high */

    /* Count and status latched together: status first, then the count. */
    run_to(at(start + 10010));
    out8(0x43, 0xc2);
    run_to(at(start + 12345));
    CHECK_EQ(in8(0x40), 0xb0);
    CHECK_EQ(read_word(0x40), 0x10000 - 10);
    /* A latched status survives until read; a second latch is ignored. */
    out8(0x43, 0xe2);
    out8(0x43, 0x30);                   /* reprogramming drops it */
    CHECK_EQ(readback_status(0), 0x70);
    /* One read-back can cover several channels. */
    out8(0x43, 0xb4);
    out8(0x43, 0x6a);                   /* ch1, MSB, mode 5 */
    out8(0x43, 0xee);                   /* status of ch0-2 */
    CHECK_EQ(in8(0x40), 0x70);
    CHECK_EQ(in8(0x41), 0xea);          /* OUT 1, NULL, RW 2, mode 5 */
    CHECK_EQ(in8(0x42), 0xf4);

    /* BCD: status echoes it, the count is decimal. */
    out8(0x43, 0x35);
    CHECK_EQ(readback_status(0), 0xf5);
    out8(0x40, 0x00);
    out8(0x40, 0x01);                   /* BCD 100 */
    start = clocks() + 1;
    run_to(at(start + 1));
    CHECK_EQ(latch_read(0), 0x0099);
    run_to(at(start + 58));
    CHECK_EQ(latch_read(0), 0x0042);
    CHECK_EQ(vclock_next_deadline(&clk), at(start + 100));
    out8(0x43, 0x31);                   /* mode 0 BCD, count 0 = 10000 */
    out8(0x40, 0);
    out8(0x40, 0);
    start = clocks() + 1;
    run_to(at(start + 1));
    CHECK_EQ(latch_read(0), 0x9999);
    CHECK_EQ(vclock_next_deadline(&clk), at(start + 10000));
}

static void test_channel2_mode0_gate(void)
{
    run_to(at(30000000));
    /* arch/x86/kernel/tsc.c pit_calibrate_tsc: gate low while programming. */
    out8(0x61, (in8(0x61) & ~0x03) | 0x00);
    out8(0x43, 0xb0);                   /* ch2, LSB/MSB, mode 0, binary */
    out8(0x42, 1000 & 0xff);
    out8(0x42, 1000 >> 8);
    CHECK_EQ(in8(0x61) & 0x21, 0x00);   /* OUT2 low, gate low */
    run_to(clk.now + 5000000);
    CHECK_EQ(latch_read(2), 1000);      /* gate low: not counting */
    CHECK_EQ(in8(0x61) & 0x20, 0);
    out8(0x61, (in8(0x61) & ~0x02) | 0x01);
    CHECK_EQ(in8(0x61) & 0x03, 0x01);
    uint64_t p = clocks();              /* counting resumes from clock p */
    run_to(at(p + 999));
    CHECK_EQ(latch_read(2), 1);
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(p + 1000));
    CHECK_EQ(latch_read(2), 0);
    CHECK_EQ(in8(0x61) & 0x20, 0x20);   /* terminal count */
    run_to(at(p + 1005));
    CHECK_EQ(latch_read(2), 0xfffb);    /* keeps counting, wraps */
    CHECK_EQ(in8(0x61) & 0x20, 0x20);   /* OUT stays high */

    /* The first byte of a new mode-0 count drives OUT low at once. */
    out8(0x42, 0x00);
    CHECK_EQ(in8(0x61) & 0x20, 0);
    out8(0x42, 0x02);                   /* 512 */
    uint64_t start = clocks() + 1;
    /* Gate low in mid-count suspends it; high resumes the same count. */
    run_to(at(start + 400));
    out8(0x61, 0x00);
    run_to(at(start + 5000));
    CHECK_EQ(latch_read(2), 112);
    CHECK_EQ(in8(0x61) & 0x20, 0);
    out8(0x61, 0x01);
    p = clocks();
    run_to(at(p + 111));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(p + 112));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);

    /* quick_pit_calibrate: count 0xffff, poll the MSB of live LSB/MSB reads. */
    out8(0x43, 0xb0);
    out8(0x42, 0xff);
    out8(0x42, 0xff);
    start = clocks() + 1;
    run_to(at(start + 255));
    CHECK_EQ(read_word(0x42), 0xff00);
    run_to(at(start + 256));
    CHECK_EQ(in8(0x42), 0xff);
    CHECK_EQ(in8(0x42), 0xfe);
    run_to(at(start + 3 * 256 + 7));
    CHECK_EQ(read_word(0x42), 0xffff - 3 * 256 - 7);
    CHECK_EQ(in8(0x61) & 0x20, 0);
    out8(0x61, 0x00);
}

static void test_channel2_other_modes(void)
{
    run_to(at(40000000));
    out8(0x61, 0x01);
    /* Mode 3, count 10: OUT high 5 clocks, low 5; counts down by two. */
    out8(0x43, 0x96);                   /* ch2, LSB only, mode 3 */
    out8(0x42, 10);
    uint64_t start = clocks() + 1;
    run_to(at(start + 2));
    CHECK_EQ(in8(0x42), 6);
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    run_to(at(start + 4));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    run_to(at(start + 5));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(start + 19));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(start + 20));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    run_to(at(start + 26));
    out8(0x61, 0x00);                   /* gate low: OUT forced high, stopped */
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    run_to(at(start + 33));
    CHECK_EQ(in8(0x42), 8);
    out8(0x61, 0x01);                   /* rising gate: reload */
    uint64_t p = clocks();
    run_to(at(p + 1 + 5));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    CHECK_EQ(in8(0x42), 10);
    /* Odd count 7: high 4 clocks, low 3. */
    out8(0x42, 7);                      /* new count: taken at the next period */
    run_to(at(p + 1 + 9));
    CHECK_EQ(in8(0x42), 2);             /* still the old count */
    run_to(at(p + 1 + 10));
    CHECK_EQ(in8(0x42), 6);             /* 7 loses its low bit */
    run_to(at(p + 1 + 10 + 3));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    run_to(at(p + 1 + 10 + 4));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(p + 1 + 10 + 7));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);

    /* Mode 1 (hardware one-shot): the gate edge triggers, OUT low for N. */
    out8(0x43, 0x92);                   /* ch2, LSB only, mode 1 */
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    out8(0x42, 5);
    run_to(clk.now + 100000);
    CHECK_EQ(in8(0x61) & 0x20, 0x20);   /* gate already high: no trigger */
    out8(0x61, 0x00);
    out8(0x61, 0x01);
    start = clocks() + 1;
    run_to(at(start));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(start + 3));
    out8(0x61, 0x00);                   /* gate level does not stop it */
    run_to(at(start + 4));
    CHECK_EQ(in8(0x42), 1);
    out8(0x61, 0x01);                   /* retrigger at count 1 */
    start = clocks() + 1;
    run_to(at(start + 4));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(start + 5));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);

    /* Mode 4 (software strobe): OUT low exactly one clock at count 0. */
    out8(0x43, 0x98);                   /* ch2, LSB only, mode 4 */
    out8(0x42, 20);
    start = clocks() + 1;
    run_to(at(start + 19));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    run_to(at(start + 20));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(start + 21));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);

    /* Mode 5 (hardware strobe): likewise, from a gate edge. */
    out8(0x43, 0x9a);
    out8(0x42, 20);
    run_to(clk.now + 100000);
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    out8(0x61, 0x00);
    out8(0x61, 0x01);
    start = clocks() + 1;
    run_to(at(start + 20));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(start + 21));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    out8(0x61, 0x00);
}

static void test_port61_and_refresh(void)
{
    clk.now = 50000000000ull / PIT_REFRESH_NS * PIT_REFRESH_NS;   /* an even boundary */
    out8(0x61, 0x0e);                   /* speaker data + NMI enables, gate 0 */
    uint8_t v = in8(0x61);
    CHECK_EQ(v & 0x0f, 0x0e);
    CHECK_EQ(v & 0x10, 0);
    CHECK_EQ(in8(0x61) & 0x10, 0);      /* reads do not toggle it */
    clk.now += PIT_REFRESH_NS - 1;
    CHECK_EQ(in8(0x61) & 0x10, 0);
    clk.now += 1;
    CHECK_EQ(in8(0x61) & 0x10, 0x10);
    CHECK_EQ(in8(0x61) & 0x10, 0x10);
    clk.now += PIT_REFRESH_NS - 1;
    CHECK_EQ(in8(0x61) & 0x10, 0x10);
    clk.now += 1;
    CHECK_EQ(in8(0x61) & 0x10, 0);
    out8(0x61, 0x00);
}

static void test_reload_zero_and_oneshot(void)
{
    run_to(at(60000000));
    /* Count 0 is 65536. */
    out8(0x43, 0x34);
    out8(0x40, 0);
    out8(0x40, 0);
    uint64_t start = clocks() + 1;
    CHECK_EQ(vclock_next_deadline(&clk), at(start + 65536));
    run_to(at(start));
    CHECK_EQ(latch_read(0), 0);
    run_to(at(start + 1));
    CHECK_EQ(latch_read(0), 0xffff);
    int pulses = irq_pulses;
    run_to(at(start + 65536 * 3));
    CHECK_EQ(irq_pulses, pulses + 3);

    /* Mode 0 on channel 0 (Linux oneshot clockevent): one IRQ0 only. */
    out8(0x43, 0x30);
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
    out8(0x40, 2000 & 0xff);
    out8(0x40, 2000 >> 8);
    start = clocks() + 1;
    CHECK_EQ(vclock_next_deadline(&clk), at(start + 2000));
    pulses = irq_pulses;
    run_to(at(start + 1000000));
    CHECK_EQ(irq_pulses, pulses + 1);
    CHECK_EQ(last_pulse, at(start + 2000));
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
    /* Count 0 in mode 0: OUT rises after 65536 clocks. */
    out8(0x43, 0xb0);
    out8(0x61, 0x01);
    out8(0x42, 0);
    out8(0x42, 0);
    start = clocks() + 1;
    run_to(at(start + 65535));
    CHECK_EQ(in8(0x61) & 0x20, 0);
    run_to(at(start + 65536));
    CHECK_EQ(in8(0x61) & 0x20, 0x20);
    out8(0x61, 0x00);

    /* Mode 4 on channel 0: IRQ0 when OUT returns high after the strobe. */
    out8(0x43, 0x38);
    out8(0x40, 100);
    out8(0x40, 0);
    start = clocks() + 1;
    CHECK_EQ(vclock_next_deadline(&clk), at(start + 101));
    run_to(at(start + 100000));
    CHECK_EQ(last_pulse, at(start + 101));
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
}

static void test_mode2_new_count(void)
{
    run_to(at(70000000));
    out8(0x43, 0x3c);                   /* mode 6 = mode 2; status echoes 6 */
    out8(0x40, 1000 & 0xff);
    out8(0x40, 1000 >> 8);
    uint64_t start = clocks() + 1;
    run_to(at(start + 300));
    CHECK_EQ(readback_status(0), 0xbc);
    out8(0x40, 500 & 0xff);             /* new count mid-period */
    out8(0x40, 500 >> 8);
    CHECK_EQ(readback_status(0), 0xfc); /* NULL COUNT until it is loaded */
    CHECK_EQ(latch_read(0), 700);       /* current period unchanged */
    CHECK_EQ(vclock_next_deadline(&clk), at(start + 1000));
    run_to(at(start + 1000));
    CHECK_EQ(last_pulse, at(start + 1000));
    CHECK_EQ(vclock_next_deadline(&clk), at(start + 1500));
    CHECK_EQ(readback_status(0), 0xbc);
    run_to(at(start + 1100));
    CHECK_EQ(latch_read(0), 400);
    run_to(at(start + 2000));
    CHECK_EQ(last_pulse, at(start + 2000));
}

static void test_reset(void)
{
    run_to(at(80000000));
    out8(0x43, 0x30);
    pit_reset(pit);
    /* BIOS-like: channel 0 in mode 3 at 18.2 Hz. */
    uint64_t start = clocks() + 1;
    CHECK_EQ(readback_status(0), 0xf6); /* NULL COUNT until the next clock */
    run_to(at(start));
    CHECK_EQ(readback_status(0), 0xb6);
    CHECK_EQ(vclock_next_deadline(&clk), at(start + 65536));
    CHECK_EQ(in8(0x61) & 0x01, 0);
    CHECK_EQ(irq_bad, 0);
}

int main(void)
{
    static IRQSignal irq0;
    iomap_init(&map);
    vclock_init(&clk);
    irq_init(&irq0, irq0_set, NULL, 0);
    pit = pit_init(&map, &clk, &irq0);
    CHECK(pit != NULL);
    test_periodic_irq0();
    test_latch();
    test_readback();
    test_channel2_mode0_gate();
    test_channel2_other_modes();
    test_port61_and_refresh();
    test_reload_zero_and_oneshot();
    test_mode2_new_count();
    test_reset();
    return check_done();
}
