/* SPDX-License-Identifier: GPL-2.0-or-later */
/* MC146818 RTC at register level through ports 0x70/0x71, on a virtual
 * clock the test moves by hand. */
#include <string.h>
#include <time.h>

#include "check.h"
#include "base/clock.h"
#include "base/iomem.h"
#include "devices/rtc.h"

#define SEC 1000000000ull
#define MS  1000000ull

static VClock clk;
static IoMap map;
static IRQSignal irq;
static RTCState *s;
static int irq_level, irq_rises;
static uint64_t rise_time[64];

static void rec_irq(void *opaque, int n, int level)
{
    (void)opaque;
    CHECK_EQ(n, 8);
    if (level && !irq_level) {
        if (irq_rises < 64)
            rise_time[irq_rises] = clk.now;
        irq_rises++;
    }
    irq_level = level;
}

static uint8_t rd(int i)
{
    iomap_port_write(&map, 0x70, (uint32_t)i, 0);
    return (uint8_t)iomap_port_read(&map, 0x71, 0);
}

static void wr(int i, uint8_t v)
{
    iomap_port_write(&map, 0x70, (uint32_t)i, 0);
    iomap_port_write(&map, 0x71, v, 0);
}

static void setup(int64_t epoch)
{
    vclock_init(&clk);
    iomap_init(&map);
    irq_init(&irq, rec_irq, NULL, 8);
    irq_level = irq_rises = 0;
    free(s);
    s = rtc_init(&map, &clk, &irq, epoch);
    CHECK(s != NULL);
}

/* Move the clock to t as a CPU would: stopping at every timer deadline. */
static void advance_to(uint64_t t)
{
    while (vclock_next_deadline(&clk) <= t) {
        if (vclock_next_deadline(&clk) > clk.now)
            clk.now = vclock_next_deadline(&clk);
        vclock_run_timers(&clk);
    }
    clk.now = t;
}

/* Like advance_to, with an interrupt handler that reads register C at every
 * rising IRQ8 and checks it against expect_c (bits in `ignore` aside);
 * returns how many interrupts were taken. */
static int run_handled(uint64_t t, uint8_t expect_c, uint8_t ignore)
{
    int n = 0;
    while (vclock_next_deadline(&clk) <= t) {
        clk.now = vclock_next_deadline(&clk);
        vclock_run_timers(&clk);
        if (irq_level) {
            CHECK_EQ(rd(RTC_REG_C) & ~ignore, expect_c);
            CHECK_EQ(irq_level, 0);
            n++;
        }
    }
    clk.now = t;
    return n;
}

static void check_time(uint8_t sec, uint8_t min, uint8_t hour, uint8_t wday, uint8_t mday, uint8_t mon,
                       uint8_t year, uint8_t century)
{
    CHECK_EQ(rd(RTC_SECONDS), sec);
    CHECK_EQ(rd(RTC_MINUTES), min);
    CHECK_EQ(rd(RTC_HOURS), hour);
    CHECK_EQ(rd(RTC_DAY_OF_WEEK), wday);
    CHECK_EQ(rd(RTC_DAY_OF_MONTH), mday);
    CHECK_EQ(rd(RTC_MONTH), mon);
    CHECK_EQ(rd(RTC_YEAR), year);
    CHECK_EQ(rd(RTC_CENTURY), century);
}

static void test_epoch0(void)
{
    setup(0);
    CHECK_EQ(rd(RTC_REG_A), 0x26);
    CHECK_EQ(rd(RTC_REG_B), 0x02);
    CHECK_EQ(rd(RTC_REG_C), 0x00);
    CHECK_EQ(rd(RTC_REG_D), 0x80);
    /* 1970-01-01 00:00:00, Thursday (5) */
    check_time(0x00, 0x00, 0x00, 5, 0x01, 0x01, 0x70, 0x19);
    /* No interrupt enabled: no timer armed */
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
    /* Guest time only: 59.9 s later it is 00:00:59 */
    advance_to(59 * SEC + 900 * MS);
    check_time(0x59, 0x00, 0x00, 5, 0x01, 0x01, 0x70, 0x19);
    advance_to(60 * SEC);
    CHECK_EQ(rd(RTC_SECONDS), 0x00);
    CHECK_EQ(rd(RTC_MINUTES), 0x01);
}

static void test_formats(void)
{
    /* 1700000000 = 2023-11-14 22:13:20 UTC, a Tuesday (3) */
    setup(1700000000);
    check_time(0x20, 0x13, 0x22, 3, 0x14, 0x11, 0x23, 0x20);
    /* Binary */
    wr(RTC_REG_B, RTC_B_24H | RTC_B_DM);
    check_time(20, 13, 22, 3, 14, 11, 23, 20);
    /* 12-hour BCD: 10 PM */
    wr(RTC_REG_B, 0);
    CHECK_EQ(rd(RTC_HOURS), 0x90);
    CHECK_EQ(rd(RTC_MINUTES), 0x13);
    /* 12-hour binary */
    wr(RTC_REG_B, RTC_B_DM);
    CHECK_EQ(rd(RTC_HOURS), 0x8a);
    /* Midnight is 12 AM, noon is 12 PM, 1 PM is 0x81 */
    setup(1700006400);      /* 2023-11-15 00:00:00 */
    wr(RTC_REG_B, 0);
    CHECK_EQ(rd(RTC_HOURS), 0x12);
    advance_to(3600 * SEC);
    CHECK_EQ(rd(RTC_HOURS), 0x01);
    advance_to(12 * 3600 * SEC);
    CHECK_EQ(rd(RTC_HOURS), 0x92);
    advance_to(13 * 3600 * SEC);
    CHECK_EQ(rd(RTC_HOURS), 0x81);
    advance_to(24 * 3600 * SEC - 1);
    CHECK_EQ(rd(RTC_HOURS), 0x91);
}

static void test_rollover(void)
{
    setup(1700000000);
    advance_to(3661 * SEC);
    check_time(0x21, 0x14, 0x23, 3, 0x14, 0x11, 0x23, 0x20);     /* 23:14:21 */
    advance_to((3661 + 2800) * SEC);
    check_time(0x01, 0x01, 0x00, 4, 0x15, 0x11, 0x23, 0x20);     /* Wed 2023-11-15 00:01:01 */

    /* 1999-12-31 23:59:59 Friday -> 2000-01-01 00:00:00 Saturday */
    setup(946684799);
    check_time(0x59, 0x59, 0x23, 6, 0x31, 0x12, 0x99, 0x19);
    advance_to(SEC);
    check_time(0x00, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20);

    /* Leap day: 2024-02-28 23:59:59 Wednesday -> 02-29 Thursday -> 03-01 Friday */
    setup(1709164799);
    check_time(0x59, 0x59, 0x23, 4, 0x28, 0x02, 0x24, 0x20);
    advance_to(SEC);
    check_time(0x00, 0x00, 0x00, 5, 0x29, 0x02, 0x24, 0x20);
    advance_to(86401 * SEC);
    check_time(0x00, 0x00, 0x00, 6, 0x01, 0x03, 0x24, 0x20);

    /* 2000 is a leap year, 2100 and 2023 are not */
    setup(951782399);
    advance_to(SEC);
    CHECK_EQ(rd(RTC_DAY_OF_MONTH), 0x29);
    CHECK_EQ(rd(RTC_MONTH), 0x02);
    setup(4107542399);
    advance_to(SEC);
    check_time(0x00, 0x00, 0x00, 2, 0x01, 0x03, 0x00, 0x21);     /* Monday 2100-03-01 */
    setup(1677628799);
    advance_to(SEC);
    CHECK_EQ(rd(RTC_DAY_OF_MONTH), 0x01);
    CHECK_EQ(rd(RTC_MONTH), 0x03);
}

/* Compare every field with the C library over ~270 years of instants. */
static void test_calendar_sweep(void)
{
    setup(0);
    wr(RTC_REG_B, RTC_B_24H | RTC_B_DM);
    int bad = 0, n = 0;
    for (uint64_t t = 0; t < (1ull << 33); t += 7777777 + (t % 86400)) {
        clk.now = t * SEC;
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        int year = tm.tm_year + 1900;
        if (rd(RTC_SECONDS) != tm.tm_sec || rd(RTC_MINUTES) != tm.tm_min || rd(RTC_HOURS) != tm.tm_hour ||
            rd(RTC_DAY_OF_WEEK) != tm.tm_wday + 1 || rd(RTC_DAY_OF_MONTH) != tm.tm_mday ||
            rd(RTC_MONTH) != tm.tm_mon + 1 || rd(RTC_YEAR) != year % 100 || rd(RTC_CENTURY) != year / 100) {
            if (bad++ < 5)
                fprintf(stderr, "calendar mismatch at %llu\n", (unsigned long long)t);
        }
        n++;
    }
    CHECK_EQ(bad, 0);
    CHECK(n > 1000);
}

/* Setting the time with SET: write every field of a known instant (binary,
 * 24 h), resume, and the clock must read back that instant. */
static void test_set_sweep(void)
{
    setup(0);
    int bad = 0, n = 0;
    for (uint64_t t = 0; t < (1ull << 33); t += 5555557 + (t % 86399)) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        int year = tm.tm_year + 1900;
        wr(RTC_REG_B, RTC_B_SET | RTC_B_DM | RTC_B_24H);
        wr(RTC_SECONDS, (uint8_t)tm.tm_sec);
        wr(RTC_MINUTES, (uint8_t)tm.tm_min);
        wr(RTC_HOURS, (uint8_t)tm.tm_hour);
        wr(RTC_DAY_OF_MONTH, (uint8_t)tm.tm_mday);
        wr(RTC_MONTH, (uint8_t)(tm.tm_mon + 1));
        wr(RTC_YEAR, (uint8_t)(year % 100));
        wr(RTC_CENTURY, (uint8_t)(year / 100));
        wr(RTC_REG_B, RTC_B_DM | RTC_B_24H);
        /* One day and one second later, read in BCD */
        advance_to(clk.now + 86401 * SEC);
        wr(RTC_REG_B, RTC_B_24H);
        tt += 86401;
        gmtime_r(&tt, &tm);
        year = tm.tm_year + 1900;
        uint8_t want[8] = { (uint8_t)tm.tm_sec, (uint8_t)tm.tm_min, (uint8_t)tm.tm_hour, (uint8_t)(tm.tm_wday + 1),
                            (uint8_t)tm.tm_mday, (uint8_t)(tm.tm_mon + 1), (uint8_t)(year % 100),
                            (uint8_t)(year / 100) };
        static const int regs[8] = { RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK,
                                     RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, RTC_CENTURY };
        for (int i = 0; i < 8; i++)
            if (rd(regs[i]) != (uint8_t)((want[i] / 10) << 4 | want[i] % 10)) {
                if (bad++ < 5)
                    fprintf(stderr, "set/readback mismatch at %llu reg %d\n", (unsigned long long)t, regs[i]);
            }
        n++;
    }
    CHECK_EQ(bad, 0);
    CHECK(n > 1000);
}

static void test_uip(void)
{
    setup(1700000000);
    advance_to(SEC - 244000 - 1);
    CHECK_EQ(rd(RTC_REG_A), 0x26);
    CHECK_EQ(rd(RTC_SECONDS), 0x20);
    advance_to(SEC - 244000);
    CHECK_EQ(rd(RTC_REG_A), 0xa6);
    CHECK_EQ(rd(RTC_SECONDS), 0x20);    /* the update has not happened yet */
    advance_to(SEC - 1);
    CHECK_EQ(rd(RTC_REG_A), 0xa6);
    advance_to(SEC);
    CHECK_EQ(rd(RTC_REG_A), 0x26);
    CHECK_EQ(rd(RTC_SECONDS), 0x21);
    advance_to(7 * SEC - 100000);
    CHECK_EQ(rd(RTC_REG_A), 0xa6);
    /* UIP is read-only, RS and DV are writable */
    wr(RTC_REG_A, 0xaf);
    CHECK_EQ(rd(RTC_REG_A) & 0x7f, 0x2f);
    /* SET stops updates and clears UIP */
    wr(RTC_REG_B, RTC_B_SET | RTC_B_24H);
    CHECK_EQ(rd(RTC_REG_A), 0x2f);
}

static void test_periodic(void)
{
    setup(0);
    /* PF follows the rate even with PIE off, without any timer */
    advance_to(5 * MS);
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_PF);
    CHECK_EQ(rd(RTC_REG_C), 0);
    CHECK_EQ(irq_level, 0);

    setup(0);
    wr(RTC_REG_B, RTC_B_PIE | RTC_B_24H);
    /* 1024 Hz: events at k * 976562.5 ns, rounded up to the tick */
    CHECK_EQ(vclock_next_deadline(&clk), 976563);
    advance_to(976562);
    CHECK_EQ(irq_rises, 0);
    advance_to(976563);
    CHECK_EQ(irq_rises, 1);
    CHECK_EQ(rise_time[0], 976563);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(rd(RTC_REG_C), 0);
    advance_to(1953124);
    CHECK_EQ(irq_rises, 1);
    advance_to(1953125);
    CHECK_EQ(irq_rises, 2);
    CHECK_EQ(rise_time[1], 1953125);
    /* Unacknowledged: the line stays up and no timer runs meanwhile */
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
    advance_to(10 * MS);
    CHECK_EQ(irq_rises, 2);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
    CHECK_EQ(irq_level, 0);
    /* Next one: event 11 at 10742187.5 ns */
    advance_to(20 * MS);
    CHECK_EQ(irq_rises, 3);
    CHECK_EQ(rise_time[2], 10742188);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_PF);

    /* Handled at every interrupt: exactly 1024 per second */
    setup(0);
    wr(RTC_REG_A, RTC_A_DV_32K | 0x06);
    wr(RTC_REG_B, RTC_B_PIE | RTC_B_24H);
    CHECK_EQ(run_handled(SEC, RTC_C_IRQF | RTC_C_PF, RTC_C_UF), 1024);
    CHECK_EQ(run_handled(2 * SEC, RTC_C_IRQF | RTC_C_PF, RTC_C_UF), 1024);
    /* RS = 15: 2 Hz; RS = 3: 8192 Hz */
    wr(RTC_REG_A, RTC_A_DV_32K | 0x0f);
    CHECK_EQ(vclock_next_deadline(&clk), 2 * SEC + 500 * MS);
    CHECK_EQ(run_handled(4 * SEC, RTC_C_IRQF | RTC_C_PF, RTC_C_UF), 4);
    wr(RTC_REG_A, RTC_A_DV_32K | 0x03);
    CHECK_EQ(run_handled(5 * SEC, RTC_C_IRQF | RTC_C_PF, RTC_C_UF), 8192);
    /* RS = 0 or PIE off: no timer */
    wr(RTC_REG_A, RTC_A_DV_32K);
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
    wr(RTC_REG_A, RTC_A_DV_32K | 0x06);
    CHECK(vclock_next_deadline(&clk) != VCLOCK_NEVER);
    wr(RTC_REG_B, RTC_B_24H);
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
    /* Enabling PIE with PF already set raises IRQ8 at once */
    advance_to(6 * SEC);
    CHECK_EQ(irq_level, 0);
    wr(RTC_REG_B, RTC_B_PIE | RTC_B_24H);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_PF | RTC_C_UF);   /* UF: updates happened too */
    CHECK_EQ(irq_level, 0);
}

static void test_update_ended(void)
{
    setup(1700000000);
    wr(RTC_REG_A, RTC_A_DV_32K);        /* no periodic rate */
    wr(RTC_REG_B, RTC_B_UIE | RTC_B_24H);
    CHECK_EQ(vclock_next_deadline(&clk), SEC);
    advance_to(SEC - 1);
    CHECK_EQ(irq_rises, 0);
    advance_to(SEC);
    CHECK_EQ(irq_rises, 1);
    CHECK_EQ(rise_time[0], SEC);
    CHECK_EQ(rd(RTC_SECONDS), 0x21);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_UF);
    CHECK_EQ(irq_level, 0);
    /* Once per second */
    CHECK_EQ(run_handled(6 * SEC + 500 * MS, RTC_C_IRQF | RTC_C_UF, 0), 5);
    CHECK_EQ(irq_rises, 6);
    CHECK_EQ(rise_time[5], 6 * SEC);
    CHECK_EQ(rd(RTC_SECONDS), 0x26);
}

static void test_alarm(void)
{
    setup(1700000000);                  /* 22:13:20 */
    wr(RTC_REG_A, RTC_A_DV_32K);
    wr(RTC_SECONDS_ALARM, 0x23);
    wr(RTC_MINUTES_ALARM, 0x13);
    wr(RTC_HOURS_ALARM, 0x22);
    wr(RTC_REG_B, RTC_B_AIE | RTC_B_24H);
    CHECK_EQ(vclock_next_deadline(&clk), 3 * SEC);
    advance_to(3 * SEC);
    CHECK_EQ(irq_rises, 1);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_AF | RTC_C_UF);
    /* Next match is a day later */
    CHECK_EQ(vclock_next_deadline(&clk), 3 * SEC + 86400 * SEC);
    /* Don't-care seconds: every second of 22:14 */
    wr(RTC_SECONDS_ALARM, 0xff);
    wr(RTC_MINUTES_ALARM, 0x14);
    CHECK_EQ(vclock_next_deadline(&clk), 40 * SEC);
    CHECK_EQ(run_handled(100 * SEC + 1, RTC_C_IRQF | RTC_C_AF | RTC_C_UF, 0), 60);
    CHECK_EQ(rise_time[1], 40 * SEC);
    /* An alarm no time can match arms nothing */
    wr(RTC_SECONDS_ALARM, 0x60);
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
    /* 12-hour alarm: 10:13:25 PM */
    wr(RTC_REG_B, 0);
    wr(RTC_HOURS_ALARM, 0x90);
    wr(RTC_MINUTES_ALARM, 0x13);
    wr(RTC_SECONDS_ALARM, 0x25);
    wr(RTC_REG_B, RTC_B_AIE);
    rd(RTC_REG_C);
    CHECK_EQ(vclock_next_deadline(&clk), 5 * SEC + 86400 * SEC);
    /* AF is set by a match even with AIE off, found when C is read */
    wr(RTC_REG_B, RTC_B_24H);
    wr(RTC_HOURS_ALARM, 0x22);
    wr(RTC_MINUTES_ALARM, 0x16);
    wr(RTC_SECONDS_ALARM, 0x00);
    advance_to(159 * SEC);              /* 22:15:59 */
    CHECK_EQ(rd(RTC_REG_C), RTC_C_UF);
    advance_to(161 * SEC);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_UF | RTC_C_AF);
    CHECK_EQ(irq_level, 0);
}

static void test_set(void)
{
    setup(1700000000);
    /* SET clears UIE */
    wr(RTC_REG_B, RTC_B_UIE | RTC_B_24H);
    wr(RTC_REG_B, RTC_B_SET | RTC_B_UIE | RTC_B_24H);
    CHECK_EQ(rd(RTC_REG_B), RTC_B_SET | RTC_B_24H);
    /* While SET: the registers hold what is written and do not count */
    CHECK_EQ(rd(RTC_SECONDS), 0x20);
    wr(RTC_SECONDS, 0x30);
    wr(RTC_MINUTES, 0x45);
    wr(RTC_HOURS, 0x12);
    wr(RTC_DAY_OF_MONTH, 0x25);
    wr(RTC_MONTH, 0x12);
    wr(RTC_YEAR, 0x24);
    advance_to(5 * SEC + 300 * MS);
    CHECK_EQ(rd(RTC_SECONDS), 0x30);
    CHECK_EQ(rd(RTC_REG_A), 0x26);
    advance_to(6 * SEC - 1000);
    CHECK_EQ(rd(RTC_REG_A), 0x26);      /* no UIP while SET */
    /* Clearing SET runs from the written time; the divider phase is kept,
     * so the first update still comes at the next whole second */
    wr(RTC_REG_B, RTC_B_24H);
    check_time(0x30, 0x45, 0x12, 4, 0x25, 0x12, 0x24, 0x20);      /* Wed 2024-12-25 */
    advance_to(6 * SEC - 1);
    CHECK_EQ(rd(RTC_SECONDS), 0x30);
    advance_to(6 * SEC);
    CHECK_EQ(rd(RTC_SECONDS), 0x31);
    advance_to(8 * SEC);
    CHECK_EQ(rd(RTC_SECONDS), 0x33);
    /* A day later the date has moved on */
    advance_to(8 * SEC + 86400 * SEC);
    check_time(0x33, 0x45, 0x12, 5, 0x26, 0x12, 0x24, 0x20);

    /* A single write while running moves the time and it keeps counting */
    wr(RTC_MINUTES, 0x00);
    check_time(0x33, 0x00, 0x12, 5, 0x26, 0x12, 0x24, 0x20);
    advance_to(9 * SEC + 86400 * SEC);
    CHECK_EQ(rd(RTC_SECONDS), 0x34);
    CHECK_EQ(rd(RTC_MINUTES), 0x00);

    /* Binary, 12-hour: 11 PM written, read back in 24 h BCD */
    wr(RTC_REG_B, RTC_B_SET | RTC_B_DM);
    wr(RTC_HOURS, 0x8b);
    wr(RTC_YEAR, 99);
    wr(RTC_CENTURY, 19);
    wr(RTC_MONTH, 12);
    wr(RTC_DAY_OF_MONTH, 31);
    wr(RTC_MINUTES, 59);
    wr(RTC_SECONDS, 59);
    wr(RTC_REG_B, RTC_B_DM);
    wr(RTC_REG_B, RTC_B_24H);
    check_time(0x59, 0x59, 0x23, 6, 0x31, 0x12, 0x99, 0x19);
    advance_to(10 * SEC + 86400 * SEC);
    check_time(0x00, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20);

    /* 12-hour writes: 12:30 AM is 00:30, 12:30 PM is 12:30. The bytes are
     * taken in the mode in effect when SET drops, as on the chip. */
    wr(RTC_REG_B, 0);
    wr(RTC_REG_B, RTC_B_SET);
    wr(RTC_HOURS, 0x12);
    wr(RTC_MINUTES, 0x30);
    wr(RTC_REG_B, 0);
    wr(RTC_REG_B, RTC_B_24H);
    CHECK_EQ(rd(RTC_HOURS), 0x00);
    CHECK_EQ(rd(RTC_MINUTES), 0x30);
    wr(RTC_REG_B, RTC_B_SET);
    wr(RTC_HOURS, 0x92);
    wr(RTC_REG_B, 0);
    CHECK_EQ(rd(RTC_HOURS), 0x92);
    wr(RTC_REG_B, RTC_B_24H);
    CHECK_EQ(rd(RTC_HOURS), 0x12);
    CHECK_EQ(rd(RTC_MINUTES), 0x30);

    /* Garbage from the guest (bad BCD, month 0x13) does not break anything */
    wr(RTC_REG_B, RTC_B_SET | RTC_B_24H);
    wr(RTC_MONTH, 0x13);
    wr(RTC_SECONDS, 0xff);
    wr(RTC_REG_B, RTC_B_24H);
    CHECK(rd(RTC_MONTH) <= 0x12);
    CHECK(rd(RTC_SECONDS) <= 0x59);
}

static void test_divider(void)
{
    setup(0);
    advance_to(200 * MS);
    /* Divider reset (the Linux set-time sequence): the clock stops */
    wr(RTC_REG_B, RTC_B_SET | RTC_B_24H);
    wr(RTC_REG_A, 0x70 | 0x06);
    wr(RTC_SECONDS, 0x10);
    wr(RTC_REG_A, 0x26);
    wr(RTC_REG_B, RTC_B_24H);
    advance_to(3 * SEC);
    /* The chain left reset at 200 ms: updates at 700 ms, 1.7 s, 2.7 s ... */
    CHECK_EQ(rd(RTC_SECONDS), 0x13);
    advance_to(3 * SEC + 700 * MS - 244000);
    CHECK_EQ(rd(RTC_REG_A), 0xa6);
    CHECK_EQ(rd(RTC_SECONDS), 0x13);
    advance_to(3 * SEC + 700 * MS);
    CHECK_EQ(rd(RTC_SECONDS), 0x14);
    /* In reset with SET clear: frozen, no UIP, no periodic flag */
    rd(RTC_REG_C);
    wr(RTC_REG_A, 0x76);
    advance_to(10 * SEC);
    CHECK_EQ(rd(RTC_SECONDS), 0x14);
    CHECK_EQ(rd(RTC_REG_A), 0x76);
    CHECK_EQ(rd(RTC_REG_C), 0);
    advance_to(10 * SEC + 100 * MS);
    wr(RTC_REG_A, 0x26);
    advance_to(10 * SEC + 600 * MS - 1);
    CHECK_EQ(rd(RTC_SECONDS), 0x14);
    advance_to(10 * SEC + 600 * MS);
    CHECK_EQ(rd(RTC_SECONDS), 0x15);
}

static void test_cmos_ram(void)
{
    setup(0);
    for (int i = 0x0e; i < 0x80; i++)
        if (i != RTC_CENTURY)
            wr(i, (uint8_t)(i * 7 + 3));
    int bad = 0;
    for (int i = 0x0e; i < 0x80; i++)
        if (i != RTC_CENTURY && rd(i) != (uint8_t)(i * 7 + 3))
            bad++;
    CHECK_EQ(bad, 0);
    /* Bit 7 of the index is the NMI mask: ignored */
    iomap_port_write(&map, 0x70, 0x80 | 0x40, 0);
    CHECK_EQ(iomap_port_read(&map, 0x71, 0), (uint8_t)(0x40 * 7 + 3));
    iomap_port_write(&map, 0x71, 0x5a, 0);
    CHECK_EQ(rd(0x40), 0x5a);
    /* The machine fills RAM before boot */
    rtc_set_cmos(s, 0x15, 0x80);
    rtc_set_cmos(s, 0x16, 0x02);
    rtc_set_cmos(s, 0x5b, 0xee);
    CHECK_EQ(rd(0x15), 0x80);
    CHECK_EQ(rd(0x16), 0x02);
    CHECK_EQ(rd(0x5b), 0xee);
    /* Alarm bytes are RAM too; C and D are read-only */
    wr(RTC_HOURS_ALARM, 0x42);
    CHECK_EQ(rd(RTC_HOURS_ALARM), 0x42);
    wr(RTC_REG_D, 0);
    CHECK_EQ(rd(RTC_REG_D), 0x80);
    wr(RTC_REG_C, 0xff);
    CHECK_EQ(rd(RTC_REG_C), 0);
    CHECK_EQ(irq_level, 0);
    /* Unassigned neighbours are not ours */
    CHECK_EQ(iomap_port_read(&map, 0x72, 0), 0xff);
}

static void test_reset(void)
{
    setup(1700000000);
    wr(0x20, 0x77);
    wr(RTC_REG_B, RTC_B_PIE | RTC_B_AIE | RTC_B_UIE | RTC_B_SQWE | RTC_B_24H);
    advance_to(2 * SEC);
    CHECK_EQ(irq_level, 1);
    rtc_reset(s);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(rd(RTC_REG_B), RTC_B_24H);
    CHECK_EQ(rd(RTC_REG_C), 0);
    CHECK_EQ(vclock_next_deadline(&clk), VCLOCK_NEVER);
    CHECK_EQ(rd(RTC_SECONDS), 0x22);    /* time and RAM survive */
    CHECK_EQ(rd(0x20), 0x77);
}

int main(void)
{
    test_epoch0();
    test_formats();
    test_rollover();
    test_calendar_sweep();
    test_set_sweep();
    test_uip();
    test_periodic();
    test_update_ended();
    test_alarm();
    test_set();
    test_divider();
    test_cmos_ram();
    test_reset();
    free(s);
    return check_done();
}
