/* SPDX-License-Identifier: GPL-2.0-or-later */
/* MC146818A RTC (Motorola datasheet; DS12887 for details it leaves open).
 *
 * Time model: while the clock runs, the time registers are not stored but
 * computed on each read from
 *     seconds = epoch + sec_offset + (vclock_now + phase) / 1e9
 * where sec_offset is what the guest moved the clock by and phase is the
 * position of the divider chain within a second. While the clock is frozen
 * (SET, or divider chain not running) the time bytes live in cmos[] like RAM,
 * and leaving that state turns them back into sec_offset.
 * Register C flags are brought up to date lazily over the time elapsed since
 * the last update (rtc_sync); one VTimer is armed only for the next event of
 * an enabled interrupt whose flag is not already set. */
#include "devices/rtc.h"

#include <stdbool.h>
#include <stdlib.h>

#define RTC_NS        1000000000ull
#define RTC_UIP_NS    244000ull     /* UIP rises 244 us before each update */
#define RTC_XTAL_HZ   32768
#define RTC_NONE      INT64_MAX

static int64_t rtc_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- Calendar: proleptic Gregorian, pure arithmetic (no libc time) ---- */

/* Years are counted from March, so that the leap day ends a year; this
 * table gives the first day of each month counted from March 1st. */
static const uint16_t rtc_march_days[12] = { 0, 31, 61, 92, 122, 153, 184, 214, 245, 275, 306, 337 };
#define RTC_ERA_DAYS     146097     /* 400 Gregorian years */
#define RTC_DAYS_TO_1970 719468     /* 0000-03-01 .. 1970-01-01 */

static int64_t rtc_days_from_civil(int64_t year, int mon, int64_t mday)
{
    if (mon <= 2)
        year--;
    int64_t era = rtc_floor_div(year, 400), yoe = year - era * 400;
    int64_t day_of_era = yoe * 365 + yoe / 4 - yoe / 100 + rtc_march_days[(mon + 9) % 12] + mday - 1;
    return era * RTC_ERA_DAYS + day_of_era - RTC_DAYS_TO_1970;
}

typedef struct RTCTime {
    int64_t year;
    int mon, mday, wday, hour, min, sec;
} RTCTime;

static void rtc_time_from_unix(int64_t t, RTCTime *tm)
{
    int64_t days = rtc_floor_div(t, 86400), tod = t - days * 86400;
    tm->hour = (int)(tod / 3600);
    tm->min = (int)(tod / 60 % 60);
    tm->sec = (int)(tod % 60);
    tm->wday = (int)(days + 4 - rtc_floor_div(days + 4, 7) * 7) + 1;     /* 1970-01-01: Thursday = 5 */

    /* Peel off 400-year eras, then centuries (36524 days; only the last
     * century of an era has the extra leap day), 4-year groups (1461 days)
     * and years (the last one of a group may hold the leap day). */
    int64_t z = days + RTC_DAYS_TO_1970;
    int64_t era = rtc_floor_div(z, RTC_ERA_DAYS), r = z - era * RTC_ERA_DAYS;
    int64_t cent = r / 36524;
    if (cent > 3)
        cent = 3;
    r -= cent * 36524;
    int64_t quad = r / 1461;
    r -= quad * 1461;
    int64_t yr = r / 365;
    if (yr > 3)
        yr = 3;
    r -= yr * 365;              /* day of the March-based year */
    int mi = 11;
    while (rtc_march_days[mi] > r)
        mi--;
    tm->mday = (int)(r - rtc_march_days[mi]) + 1;
    tm->mon = mi < 10 ? mi + 3 : mi - 9;
    tm->year = era * 400 + cent * 100 + quad * 4 + yr + (tm->mon <= 2);
}

/* ---- Register formats (register B: DM, 24/12) ---- */

static uint8_t rtc_to_reg(const RTCState *s, int v)
{
    if (s->cmos[RTC_REG_B] & RTC_B_DM)
        return (uint8_t)v;
    return (uint8_t)((v / 10) << 4 | v % 10);
}

/* Invalid BCD from the guest just decodes to some number, as the chip's
 * counters would count on from it. */
static int rtc_from_reg(const RTCState *s, uint8_t b)
{
    if (s->cmos[RTC_REG_B] & RTC_B_DM)
        return b;
    return (b >> 4) * 10 + (b & 0x0f);
}

static uint8_t rtc_hour_to_reg(const RTCState *s, int h)
{
    if (s->cmos[RTC_REG_B] & RTC_B_24H)
        return rtc_to_reg(s, h);
    /* 12-hour mode: 12, 1..11 with bit 7 = PM */
    return rtc_to_reg(s, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0);
}

static int rtc_hour_from_reg(const RTCState *s, uint8_t b)
{
    if (s->cmos[RTC_REG_B] & RTC_B_24H)
        return rtc_from_reg(s, b);
    return rtc_from_reg(s, b & 0x7f) % 12 + ((b & 0x80) ? 12 : 0);
}

static bool rtc_is_time_reg(int i)
{
    return i == RTC_SECONDS || i == RTC_MINUTES || i == RTC_HOURS || (i >= RTC_DAY_OF_WEEK && i <= RTC_YEAR) ||
           i == RTC_CENTURY;
}

static uint8_t rtc_time_reg(const RTCState *s, int i, int64_t t)
{
    RTCTime tm;
    rtc_time_from_unix(t, &tm);
    switch (i) {
    case RTC_SECONDS:      return rtc_to_reg(s, tm.sec);
    case RTC_MINUTES:      return rtc_to_reg(s, tm.min);
    case RTC_HOURS:        return rtc_hour_to_reg(s, tm.hour);
    case RTC_DAY_OF_WEEK:  return rtc_to_reg(s, tm.wday);
    case RTC_DAY_OF_MONTH: return rtc_to_reg(s, tm.mday);
    case RTC_MONTH:        return rtc_to_reg(s, tm.mon);
    case RTC_YEAR:         return rtc_to_reg(s, (int)(tm.year - rtc_floor_div(tm.year, 100) * 100));
    case RTC_CENTURY: {
        int64_t c = rtc_floor_div(tm.year, 100);
        return rtc_to_reg(s, (int)(c - rtc_floor_div(c, 100) * 100));
    }
    }
    return 0;
}

/* ---- Clock state ---- */

static bool rtc_running(const RTCState *s)
{
    /* Only DV = 010 (32.768 kHz) runs; 11x holds the chain in reset and
     * the other time bases do not match the PC's crystal: treat as stopped. */
    return (s->cmos[RTC_REG_A] & RTC_A_DV) == RTC_A_DV_32K;
}

static bool rtc_frozen(const RTCState *s)
{
    return !rtc_running(s) || (s->cmos[RTC_REG_B] & RTC_B_SET);
}

static int64_t rtc_seconds_at(const RTCState *s, uint64_t t)
{
    return s->epoch + s->sec_offset + (int64_t)((t + s->phase) / RTC_NS);
}

/* Copy the running time into the time bytes (entering the frozen state). */
static void rtc_snapshot(RTCState *s)
{
    int64_t t = rtc_seconds_at(s, vclock_now(s->clock));
    static const uint8_t regs[] = { RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK,
                                    RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, RTC_CENTURY };
    for (unsigned i = 0; i < sizeof regs; i++)
        s->cmos[regs[i]] = rtc_time_reg(s, regs[i], t);
}

/* Run again from the time bytes (leaving the frozen state). The day of
 * week is derived from the date, so a written one is not kept. */
static void rtc_apply(RTCState *s)
{
    const uint8_t *c = s->cmos;
    int64_t year = (int64_t)rtc_from_reg(s, c[RTC_CENTURY]) * 100 + rtc_from_reg(s, c[RTC_YEAR]);
    int mon = rtc_from_reg(s, c[RTC_MONTH]);
    if (mon < 1)
        mon = 1;
    if (mon > 12)
        mon = 12;
    int64_t t = rtc_days_from_civil(year, mon, rtc_from_reg(s, c[RTC_DAY_OF_MONTH])) * 86400 +
                rtc_hour_from_reg(s, c[RTC_HOURS]) * 3600 + rtc_from_reg(s, c[RTC_MINUTES]) * 60 +
                rtc_from_reg(s, c[RTC_SECONDS]);
    s->sec_offset = t - s->epoch - (int64_t)((vclock_now(s->clock) + s->phase) / RTC_NS);
}

/* Periodic rate (register A RS) as a period in 32.768 kHz cycles: RS 3-15
 * divide by 2^(RS-1); RS 1 and 2 repeat RS 8 and 9 on this time base. */
static uint64_t rtc_period(const RTCState *s)
{
    int rs = s->cmos[RTC_REG_A] & RTC_A_RS;
    return 1ull << (rs <= 2 ? rs + 6 : rs - 1);
}

static uint64_t rtc_periodic_count(const RTCState *s, uint64_t t)
{
    return vclock_to_hz(t + s->phase, RTC_XTAL_HZ) / rtc_period(s);
}

static bool rtc_alarm_match(uint8_t alarm, uint8_t v)
{
    return (alarm & RTC_ALARM_DONT_CARE) == RTC_ALARM_DONT_CARE || alarm == v;
}

/* First second t > after whose time of day matches the alarm bytes, or
 * RTC_NONE. Each field that fails skips to the next value of that field,
 * so this takes at most a few hundred steps. */
static int64_t rtc_alarm_next(const RTCState *s, int64_t after)
{
    uint8_t ah = s->cmos[RTC_HOURS_ALARM], am = s->cmos[RTC_MINUTES_ALARM], as = s->cmos[RTC_SECONDS_ALARM];
    bool hour_ok = false, min_ok = false, sec_ok = false;
    for (int v = 0; v < 60; v++) {
        hour_ok |= v < 24 && rtc_alarm_match(ah, rtc_hour_to_reg(s, v));
        min_ok |= rtc_alarm_match(am, rtc_to_reg(s, v));
        sec_ok |= rtc_alarm_match(as, rtc_to_reg(s, v));
    }
    if (!hour_ok || !min_ok || !sec_ok)
        return RTC_NONE;
    for (int64_t t = after + 1; t <= after + 86400;) {
        int64_t tod = t - rtc_floor_div(t, 86400) * 86400;
        if (!rtc_alarm_match(ah, rtc_hour_to_reg(s, (int)(tod / 3600))))
            t += 3600 - tod % 3600;
        else if (!rtc_alarm_match(am, rtc_to_reg(s, (int)(tod / 60 % 60))))
            t += 60 - tod % 60;
        else if (!rtc_alarm_match(as, rtc_to_reg(s, (int)(tod % 60))))
            t++;
        else
            return t;
    }
    return RTC_NONE;
}

/* Set the register C flags for every event in (flags_time, now]. Callers
 * sync before changing anything that the events depend on. */
static void rtc_sync(RTCState *s)
{
    uint64_t a = s->flags_time, b = vclock_now(s->clock);
    if (b <= a)
        return;
    /* PF is set at the selected rate whatever PIE says, even under SET. */
    if (rtc_running(s) && (s->cmos[RTC_REG_A] & RTC_A_RS) && rtc_periodic_count(s, a) != rtc_periodic_count(s, b))
        s->cmos[RTC_REG_C] |= RTC_C_PF;
    if (!rtc_frozen(s)) {
        int64_t sa = rtc_seconds_at(s, a), sb = rtc_seconds_at(s, b);
        if (sb > sa) {
            s->cmos[RTC_REG_C] |= RTC_C_UF;
            if (rtc_alarm_next(s, sa) <= sb)
                s->cmos[RTC_REG_C] |= RTC_C_AF;
        }
    }
    s->flags_time = b;
}

static void rtc_update_irq(RTCState *s)
{
    /* IRQF = PF.PIE + AF.AIE + UF.UIE; IRQ8 follows it (the active-low
     * IRQ pin is inverted on the way to the PIC). */
    uint8_t c = s->cmos[RTC_REG_C] & (RTC_C_PF | RTC_C_AF | RTC_C_UF);
    if (c & s->cmos[RTC_REG_B])
        c |= RTC_C_IRQF;
    s->cmos[RTC_REG_C] = c;
    int level = (c & RTC_C_IRQF) != 0;
    if (level != s->irq_level) {
        s->irq_level = (uint8_t)level;
        if (s->irq)
            set_irq(s->irq, level);
    }
}

/* Arm the timer for the earliest event that would raise IRQ8. */
static void rtc_arm(RTCState *s)
{
    uint64_t now = vclock_now(s->clock), next = VCLOCK_NEVER;
    uint8_t b = s->cmos[RTC_REG_B], c = s->cmos[RTC_REG_C];
    if ((b & RTC_B_PIE) && !(c & RTC_C_PF) && rtc_running(s) && (s->cmos[RTC_REG_A] & RTC_A_RS)) {
        uint64_t p = rtc_period(s);
        next = vclock_from_hz((rtc_periodic_count(s, now) + 1) * p, RTC_XTAL_HZ) - s->phase;
    }
    bool want_uf = (b & RTC_B_UIE) && !(c & RTC_C_UF), want_af = (b & RTC_B_AIE) && !(c & RTC_C_AF);
    if (!rtc_frozen(s) && (want_uf || want_af)) {
        uint64_t update = ((now + s->phase) / RTC_NS + 1) * RTC_NS - s->phase;
        if (want_uf && update < next)
            next = update;
        if (want_af) {
            int64_t cur = rtc_seconds_at(s, now), t = rtc_alarm_next(s, cur);
            if (t != RTC_NONE && update + (uint64_t)(t - cur - 1) * RTC_NS < next)
                next = update + (uint64_t)(t - cur - 1) * RTC_NS;
        }
    }
    if (next != s->timer.expire) {
        if (next == VCLOCK_NEVER)
            vtimer_del(s->clock, &s->timer);
        else
            vtimer_mod(s->clock, &s->timer, next);
    }
}

static void rtc_timer_cb(void *opaque)
{
    RTCState *s = opaque;
    rtc_sync(s);
    rtc_update_irq(s);
    rtc_arm(s);
}

/* ---- Registers ---- */

static uint8_t rtc_read_reg(RTCState *s, int i)
{
    uint64_t now = vclock_now(s->clock);
    uint8_t v;
    if (rtc_is_time_reg(i))
        return rtc_frozen(s) ? s->cmos[i] : rtc_time_reg(s, i, rtc_seconds_at(s, now));
    switch (i) {
    case RTC_REG_A:
        v = s->cmos[RTC_REG_A];
        if (!rtc_frozen(s) && (now + s->phase) % RTC_NS >= RTC_NS - RTC_UIP_NS)
            v |= RTC_A_UIP;
        return v;
    case RTC_REG_C:
        /* Reading C returns the flags and clears them all, lowering IRQ8. */
        rtc_sync(s);
        rtc_update_irq(s);
        v = s->cmos[RTC_REG_C];
        s->cmos[RTC_REG_C] = 0;
        rtc_update_irq(s);
        rtc_arm(s);
        return v;
    case RTC_REG_D:
        return RTC_D_VRT;   /* the battery is always good */
    default:
        return s->cmos[i];
    }
}

static void rtc_write_reg(RTCState *s, int i, uint8_t v)
{
    if (i == RTC_REG_C || i == RTC_REG_D)
        return;             /* read-only */
    rtc_sync(s);            /* flags catch up under the old settings */
    bool was_frozen = rtc_frozen(s), was_running = rtc_running(s), time_write = rtc_is_time_reg(i);
    if (!was_frozen && (time_write || i == RTC_REG_A || i == RTC_REG_B))
        rtc_snapshot(s);    /* in the format in effect before this write */
    if (i == RTC_REG_A) {
        s->cmos[i] = v & ~RTC_A_UIP;
        if (!was_running && rtc_running(s)) {
            /* Out of divider reset the first update comes half a second
             * later (datasheet, "Divider stages"). */
            uint64_t now = vclock_now(s->clock);
            s->phase = (RTC_NS / 2 + RTC_NS - now % RTC_NS) % RTC_NS;
        }
    } else if (i == RTC_REG_B) {
        if (v & RTC_B_SET)
            v &= ~RTC_B_UIE;    /* SET high clears UIE (DS12887) */
        /* DSE (daylight saving, old US rules) is stored but never applied:
         * guest time is UTC and Linux leaves it off. */
        s->cmos[i] = v;
    } else {
        s->cmos[i] = v;     /* time bytes (kept while frozen), alarms, RAM */
    }
    if (!rtc_frozen(s) && (was_frozen || time_write))
        rtc_apply(s);
    rtc_update_irq(s);
    rtc_arm(s);
}

static uint32_t rtc_read(void *opaque, uint32_t offset, int size_log2)
{
    RTCState *s = opaque;
    (void)size_log2;
    if (offset == 0)
        return s->index;    /* write-only on the chipset; return the latch */
    return rtc_read_reg(s, s->index);
}

static void rtc_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    RTCState *s = opaque;
    (void)size_log2;
    if (offset == 0)
        s->index = val & 0x7f;  /* bit 7 is the NMI mask on a PC: ignored */
    else
        rtc_write_reg(s, s->index, (uint8_t)val);
}

void rtc_set_cmos(RTCState *s, int index, uint8_t value)
{
    rtc_write_reg(s, index & 0x7f, value);
}

void rtc_reset(RTCState *s)
{
    /* RESET pin: interrupt enables, SQWE and flags clear; clock, calendar
     * and RAM are untouched (the chip is battery-backed). */
    s->cmos[RTC_REG_B] &= ~(RTC_B_PIE | RTC_B_AIE | RTC_B_UIE | RTC_B_SQWE);
    s->cmos[RTC_REG_C] = 0;
    s->flags_time = vclock_now(s->clock);
    rtc_update_irq(s);
    rtc_arm(s);
}

RTCState *rtc_init(IoMap *map, VClock *clock, IRQSignal *irq8, int64_t epoch)
{
    RTCState *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->clock = clock;
    s->irq = irq8;
    s->epoch = epoch;
    /* Power-on as a BIOS leaves it: 32.768 kHz, 1024 Hz rate, 24 h, BCD. */
    s->cmos[RTC_REG_A] = RTC_A_DV_32K | 0x06;
    s->cmos[RTC_REG_B] = RTC_B_24H;
    s->flags_time = vclock_now(clock);
    if (!iomap_register_ports(map, 0x70, 2, s, rtc_read, rtc_write, IO_SIZE8, "rtc")) {
        free(s);
        return NULL;
    }
    vtimer_init(&s->timer, clock, rtc_timer_cb, s);
    return s;
}

/* ---- checkpoints ---- */

/* |v| <= INT64_MAX / 2 (SOURCE_DATE_EPOCH's own bound), so the sums in
 * rtc_seconds_at cannot overflow. */
static bool rtc_time_ok(int64_t v)
{
    return v >= -(INT64_MAX / 2) && v <= INT64_MAX / 2;
}

void rtc_state(RTCState *s, StateIO *io)
{
    /* Loaded into a copy; the timer (last) is only armed once all else passed. */
    RTCState t = *s;
    uint64_t epoch = (uint64_t)t.epoch, sec_offset = (uint64_t)t.sec_offset;
    state_u64(io, "epoch", &epoch);
    state_u64(io, "sec_offset", &sec_offset);
    state_u64(io, "phase", &t.phase);
    state_u64(io, "flags_time", &t.flags_time);
    state_u8(io, "index", &t.index);
    state_u8(io, "irq_level", &t.irq_level);
    state_u8s(io, "cmos", t.cmos, sizeof t.cmos);
    t.epoch = (int64_t)epoch;
    t.sec_offset = (int64_t)sec_offset;
    int64_t base;
    state_check(io, rtc_time_ok(t.epoch) && !__builtin_add_overflow(t.epoch, t.sec_offset, &base) &&
                        rtc_time_ok(base),
                "RTC: time base %lld%+lld s out of range", (long long)t.epoch, (long long)t.sec_offset);
    state_check(io, t.index < sizeof t.cmos, "RTC: index %#x out of range", t.index);
    state_check(io, t.phase < RTC_NS, "RTC: divider phase %llu ns out of range", (unsigned long long)t.phase);
    /* UIP is computed on read, never stored; C holds flags only, IRQF and
     * the line as rtc_update_irq leaves them. */
    uint8_t c = t.cmos[RTC_REG_C], irqf = (c & t.cmos[RTC_REG_B] & (RTC_C_PF | RTC_C_AF | RTC_C_UF)) ? RTC_C_IRQF : 0;
    state_check(io, !(t.cmos[RTC_REG_A] & RTC_A_UIP) && !(c & 0x0f) && (c & RTC_C_IRQF) == irqf,
                "RTC: register A %#x / C %#x inconsistent", t.cmos[RTC_REG_A], c);
    state_check(io, t.irq_level == (irqf != 0), "RTC: IRQ level %u does not match register C", t.irq_level);
    state_timer(io, "timer", &s->timer);
    if (!state_loading(io) || !state_ok(io))
        return;
    t.timer = s->timer;
    *s = t;             /* the wiring in t is s's own */
}
