/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 8254 interval timer (Intel 8254 datasheet, 231164). Counters are never
 * ticked: their value and OUT are computed from the virtual clock on demand,
 * and channel 0 arms one timer for its next OUT rising edge (IRQ0). */
#include "devices/pit.h"

#include <stdio.h>
#include <stdlib.h>

static uint64_t pit_clock(PITState *s)
{
    return vclock_to_hz(vclock_now(s->clock), PIT_FREQ);
}

/* Modes 6 and 7 are 2 and 3 with a don't-care bit. */
static int pit_mode(const PITChannel *c)
{
    return c->mode > 5 ? c->mode & 3 : c->mode;
}

static uint32_t pit_modulus(const PITChannel *c)
{
    return c->bcd ? 10000 : 65536;
}

static uint16_t pit_to_bcd(uint32_t v)
{
    return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

/* A modes 2, 3 count written mid-period takes over at the period's end. */
static void pit_sync(PITChannel *c, uint64_t p)
{
    if (c->next_reload && p >= c->next_reload_at) {
        c->reload = c->next_reload;
        c->start = c->load_at = c->next_reload_at;
        c->next_reload = 0;
        c->cr_loaded = 1;
    }
}

/* Clocks counted since the load; 0 until the load clock (the CE is loaded
 * on the first clock after the count is written). */
static uint64_t pit_elapsed(const PITChannel *c, uint64_t p)
{
    if (c->state == PIT_ST_PAUSED)
        return c->paused_d;
    return p > c->start ? p - c->start : 0;
}

/* Counting element value, binary. */
static uint32_t pit_get_count(const PITChannel *c, uint64_t p)
{
    if (c->state == PIT_ST_IDLE || c->state == PIT_ST_WAIT)
        return c->held;
    uint64_t d = pit_elapsed(c, p), n = c->reload, m = pit_modulus(c);
    switch (pit_mode(c)) {
    case 2:
        return (uint32_t)((n - d % n) % m);
    case 3:
        /* Decrements by two; an odd count loses its low bit. */
        return (uint32_t)(((n - (2 * d) % n) & ~1ull) % m);
    default:
        /* Modes 0, 1, 4, 5 wrap around after terminal count and go on. */
        return (uint32_t)((n + m - d % m) % m);
    }
}

static int pit_get_out(const PITChannel *c, uint64_t p)
{
    int mode = pit_mode(c);
    if (c->state == PIT_ST_IDLE)
        return mode != 0;       /* control word: mode 0 OUT low, others high */
    if (c->state == PIT_ST_WAIT)
        return 1;
    uint64_t d = pit_elapsed(c, p), n = c->reload;
    if (c->state == PIT_ST_PAUSED) {
        if (mode == 0)
            return d >= n;
        return 1;               /* modes 2, 3 force OUT high; 4 is high */
    }
    switch (mode) {
    case 0:
    case 1:
        return d >= n;          /* high at terminal count and stays */
    case 2:
        return d % n != n - 1;  /* low for the clock where the count is 1 */
    case 3:
        return d % n < (n + 1) / 2;     /* odd counts: high one clock longer */
    default:
        return d != n;          /* modes 4, 5: one-clock low strobe */
    }
}

/* First clock > p at which OUT rises, or VCLOCK_NEVER. */
static uint64_t pit_next_rise(const PITChannel *c, uint64_t p)
{
    if (c->state != PIT_ST_COUNTING)
        return VCLOCK_NEVER;
    uint64_t n = c->reload, e;
    switch (pit_mode(c)) {
    case 0:
    case 1:
        e = c->start + n;
        return e > p ? e : VCLOCK_NEVER;
    case 4:
    case 5:
        e = c->start + n + 1;
        return e > p ? e : VCLOCK_NEVER;
    default:
        /* Periodic: every reload. A pending new count starts at a reload.
         * A count of 1 (illegal in modes 2, 3) leaves OUT constant. */
        if (c->next_reload && c->next_reload_at > p)
            return c->next_reload_at;
        if (n < 2)
            return VCLOCK_NEVER;
        if (p < c->start)
            return c->start + n;
        return c->start + ((p - c->start) / n + 1) * n;
    }
}

static void pit_arm_irq(PITState *s)
{
    uint64_t e = pit_next_rise(&s->ch[0], pit_clock(s));
    if (e == VCLOCK_NEVER)
        vtimer_del(s->clock, &s->irq_timer);
    else
        vtimer_mod(s->clock, &s->irq_timer, vclock_from_hz(e, PIT_FREQ));
}

/* OUT0 rose: pulse IRQ0 (the PIC input is edge triggered) and arm the next
 * edge, computed from the counter's start so the period never drifts; edges
 * missed by a late call are merged, as the PIC would merge them. */
static void pit_irq_timer_cb(void *opaque)
{
    PITState *s = opaque;
    pit_sync(&s->ch[0], pit_clock(s));
    if (s->irq0) {
        set_irq(s->irq0, 1);
        set_irq(s->irq0, 0);
    }
    pit_arm_irq(s);
}

/* Start counting `reload` from the next clock. */
static void pit_start(PITChannel *c, uint64_t p, uint32_t reload)
{
    c->reload = reload;
    c->next_reload = 0;
    c->start = c->load_at = p + 1;
    c->cr_loaded = 1;
    c->state = PIT_ST_COUNTING;
}

static void pit_stop(PITChannel *c, uint64_t p)
{
    c->held = (uint16_t)pit_get_count(c, p);
    c->next_reload = 0;
    c->state = PIT_ST_IDLE;
}

/* A complete count was written. */
static void pit_load_count(PITChannel *c, uint64_t p, uint32_t w)
{
    uint32_t n;
    if (c->bcd) {
        n = (w >> 12 & 15) * 1000 + (w >> 8 & 15) * 100 + (w >> 4 & 15) * 10 + (w & 15);
        if (n == 0 || n > 10000)
            n = 10000;          /* 0 is the maximum count; bad digits: guest's loss */
    } else {
        n = w ? w : 65536;
    }
    c->cr = n;
    c->cr_loaded = 0;
    switch (pit_mode(c)) {
    case 0:
    case 4:
        /* Loaded on the next clock even with the gate low. */
        if (c->gate) {
            pit_start(c, p, n);
        } else {
            c->reload = n;
            c->cr_loaded = 1;
            c->load_at = p + 1;
            c->paused_d = 0;
            c->state = PIT_ST_PAUSED;
        }
        break;
    case 1:
    case 5:
        /* Takes effect at the next gate trigger. */
        if (c->state == PIT_ST_IDLE) {
            c->held = (uint16_t)n;
            c->state = PIT_ST_WAIT;
        }
        break;
    default:
        if (c->state == PIT_ST_COUNTING) {
            /* Mode 2: new count at the end of the current period. Mode 3
             * loads at the end of the half-cycle; we use the period. */
            uint64_t d = pit_elapsed(c, p);
            c->next_reload = n;
            c->next_reload_at = c->start + (d / c->reload + 1) * c->reload;
        } else if (c->state == PIT_ST_IDLE && c->gate) {
            pit_start(c, p, n);
        } else if (c->state == PIT_ST_IDLE) {
            c->reload = n;
            c->cr_loaded = 1;
            c->load_at = p + 1;
            c->paused_d = 0;
            c->state = PIT_ST_PAUSED;
        }
        /* Paused (gate low): the rising gate edge loads CR. */
        break;
    }
}

static void pit_set_gate(PITState *s, int n, int gate)
{
    PITChannel *c = &s->ch[n];
    uint64_t p = pit_clock(s);
    gate = !!gate;
    if (gate == c->gate)
        return;
    pit_sync(c, p);
    c->gate = (uint8_t)gate;
    switch (pit_mode(c)) {
    case 0:
    case 4:
        /* Gate low suspends counting, high resumes it. */
        if (gate && c->state == PIT_ST_PAUSED) {
            c->start = p - c->paused_d;
            c->state = PIT_ST_COUNTING;
        } else if (!gate && c->state == PIT_ST_COUNTING) {
            c->paused_d = pit_elapsed(c, p);
            c->state = PIT_ST_PAUSED;
        }
        break;
    case 1:
    case 5:
        /* A rising edge (re)triggers; the level does not matter. */
        if (gate && c->state != PIT_ST_IDLE)
            pit_start(c, p, c->cr);
        break;
    default:
        /* Gate low stops the count with OUT high; a rising edge reloads. */
        if (gate && c->state == PIT_ST_PAUSED) {
            pit_start(c, p, c->cr);
        } else if (!gate && c->state == PIT_ST_COUNTING) {
            c->paused_d = pit_elapsed(c, p);
            c->state = PIT_ST_PAUSED;
        }
        break;
    }
    if (n == 0)
        pit_arm_irq(s);
}

static void pit_latch_count(PITChannel *c, uint64_t p)
{
    if (c->count_latched)
        return;                 /* a second latch before the read is ignored */
    uint32_t v = pit_get_count(c, p);
    c->latch = c->bcd ? pit_to_bcd(v) : (uint16_t)v;
    c->count_latched = 1;
}

static void pit_latch_status(PITChannel *c, uint64_t p)
{
    if (c->status_latched)
        return;
    int null_count = !c->cr_loaded || p < c->load_at;
    c->status = (uint8_t)((pit_get_out(c, p) ? PIT_STATUS_OUTPUT : 0) | (null_count ? PIT_STATUS_NULL : 0) |
                          c->rw << 4 | c->mode << 1 | c->bcd);
    c->status_latched = 1;
}

static void pit_write_control(PITState *s, uint8_t val, uint64_t p)
{
    int sc = PIT_CW_SC(val);
    if (sc == PIT_SC_READBACK) {
        for (int i = 0; i < 3; i++) {
            if (!(val & (2 << i)))
                continue;
            pit_sync(&s->ch[i], p);
            if (!(val & PIT_RB_NOT_COUNT))
                pit_latch_count(&s->ch[i], p);
            if (!(val & PIT_RB_NOT_STATUS))
                pit_latch_status(&s->ch[i], p);
        }
        return;
    }
    PITChannel *c = &s->ch[sc];
    pit_sync(c, p);
    if (PIT_CW_RW(val) == PIT_RW_LATCH) {
        pit_latch_count(c, p);
        return;
    }
    /* Programming resets the counter logic: OUT to its initial state,
     * counting stops until a count is written, latches are dropped. */
    pit_stop(c, p);
    c->mode = PIT_CW_MODE(val);
    c->rw = PIT_CW_RW(val);
    c->bcd = val & PIT_CW_BCD;
    c->cr_loaded = 0;
    c->write_msb = c->write_lsb = c->read_msb = 0;
    c->count_latched = c->status_latched = 0;
    if (sc == 0)
        pit_arm_irq(s);
}

static void pit_write_counter(PITState *s, int n, uint8_t val, uint64_t p)
{
    PITChannel *c = &s->ch[n];
    pit_sync(c, p);
    switch (c->rw) {
    case PIT_RW_LSB:
        pit_load_count(c, p, val);
        break;
    case PIT_RW_MSB:
        pit_load_count(c, p, (uint32_t)val << 8);
        break;
    default:
        if (!c->write_msb) {
            c->write_lsb = val;
            c->write_msb = 1;
            /* Mode 0: the first byte stops the count and drives OUT low. */
            if (pit_mode(c) == 0 && c->state != PIT_ST_IDLE)
                pit_stop(c, p);
        } else {
            c->write_msb = 0;
            pit_load_count(c, p, c->write_lsb | (uint32_t)val << 8);
        }
        break;
    }
    if (n == 0)
        pit_arm_irq(s);
}

static uint8_t pit_read_counter(PITChannel *c, uint64_t p)
{
    if (c->status_latched) {
        c->status_latched = 0;  /* status comes first if both are latched */
        return c->status;
    }
    uint16_t v;
    if (c->count_latched) {
        v = c->latch;
    } else {
        uint32_t x = pit_get_count(c, p);
        v = c->bcd ? pit_to_bcd(x) : (uint16_t)x;
    }
    uint8_t r;
    switch (c->rw) {
    case PIT_RW_MSB:
        r = v >> 8;
        c->count_latched = 0;
        break;
    case PIT_RW_WORD:
        r = c->read_msb ? v >> 8 : v & 0xff;
        if (c->read_msb)
            c->count_latched = 0;
        c->read_msb ^= 1;
        break;
    default:
        r = v & 0xff;
        c->count_latched = 0;
        break;
    }
    return r;
}

static void pit_ioport_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    PITState *s = opaque;
    uint64_t p = pit_clock(s);
    (void)size_log2;
    if (offset == 3)
        pit_write_control(s, (uint8_t)val, p);
    else
        pit_write_counter(s, offset, (uint8_t)val, p);
}

static uint32_t pit_ioport_read(void *opaque, uint32_t offset, int size_log2)
{
    PITState *s = opaque;
    uint64_t p = pit_clock(s);
    (void)size_log2;
    if (offset == 3)
        return 0;               /* the control register is write-only */
    pit_sync(&s->ch[offset], p);
    return pit_read_counter(&s->ch[offset], p);
}

/* Port 0x61: bits 0-3 read back; bit 4 is the DRAM refresh request, which
 * toggles every 15.085 us (AT channel 1 at count 18), bit 5 is OUT2. */
static uint32_t pit_portb_read(void *opaque, uint32_t offset, int size_log2)
{
    PITState *s = opaque;
    PITChannel *c = &s->ch[2];
    uint64_t p = pit_clock(s);
    (void)offset; (void)size_log2;
    pit_sync(c, p);
    uint32_t refresh = (vclock_now(s->clock) / PIT_REFRESH_NS) & 1;
    return (s->port61 & 0x0f) | (refresh ? PIT_PORTB_REFRESH : 0) | (pit_get_out(c, p) ? PIT_PORTB_OUT2 : 0);
}

static void pit_portb_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    PITState *s = opaque;
    (void)offset; (void)size_log2;
    s->port61 = val & 0x0f;
    pit_set_gate(s, 2, val & PIT_PORTB_GATE2);
}

void pit_reset(PITState *s)
{
    uint64_t p = pit_clock(s);
    /* As a PC BIOS leaves it: every channel mode 3, binary, count 65536;
     * gates 0 and 1 are tied high, gate 2 comes from port 0x61 (low). */
    for (int i = 0; i < 3; i++) {
        PITChannel *c = &s->ch[i];
        *c = (PITChannel){ 0 };
        c->mode = 3;
        c->rw = PIT_RW_WORD;
        c->gate = i != 2;
        pit_load_count(c, p, 0);
    }
    s->port61 = 0;
    pit_arm_irq(s);
}

PITState *pit_init(IoMap *map, VClock *clock, IRQSignal *irq0)
{
    PITState *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->clock = clock;
    s->irq0 = irq0;
    vtimer_init(&s->irq_timer, clock, pit_irq_timer_cb, s);
    iomap_register_ports(map, 0x40, 4, s, pit_ioport_read, pit_ioport_write, IO_SIZE8, "pit");
    iomap_register_ports(map, 0x61, 1, s, pit_portb_read, pit_portb_write, IO_SIZE8, "port61");
    pit_reset(s);
    return s;
}

/* ---- checkpoints ---- */

static void pit_channel_state(PITChannel *c, int n, StateIO *io)
{
    char name[32];
#define PIT_FIELD(f) (snprintf(name, sizeof name, "ch%d." #f, n), name)
    state_u32(io, PIT_FIELD(cr), &c->cr);
    state_u32(io, PIT_FIELD(reload), &c->reload);
    state_u32(io, PIT_FIELD(next_reload), &c->next_reload);
    state_u64(io, PIT_FIELD(next_reload_at), &c->next_reload_at);
    state_u64(io, PIT_FIELD(start), &c->start);
    state_u64(io, PIT_FIELD(load_at), &c->load_at);
    state_u64(io, PIT_FIELD(paused_d), &c->paused_d);
    state_u16(io, PIT_FIELD(held), &c->held);
    state_u16(io, PIT_FIELD(latch), &c->latch);
    state_u8(io, PIT_FIELD(mode), &c->mode);
    state_u8(io, PIT_FIELD(rw), &c->rw);
    state_u8(io, PIT_FIELD(bcd), &c->bcd);
    state_u8(io, PIT_FIELD(gate), &c->gate);
    state_u8(io, PIT_FIELD(state), &c->state);
    state_u8(io, PIT_FIELD(cr_loaded), &c->cr_loaded);
    state_u8(io, PIT_FIELD(write_msb), &c->write_msb);
    state_u8(io, PIT_FIELD(write_lsb), &c->write_lsb);
    state_u8(io, PIT_FIELD(read_msb), &c->read_msb);
    state_u8(io, PIT_FIELD(count_latched), &c->count_latched);
    state_u8(io, PIT_FIELD(status_latched), &c->status_latched);
    state_u8(io, PIT_FIELD(status), &c->status);
#undef PIT_FIELD
    /* Counts divide the elapsed clocks: 0 would be a division by zero. */
    state_check(io, c->cr >= 1 && c->cr <= 65536 && c->reload >= 1 && c->reload <= 65536 && c->next_reload <= 65536,
                "PIT channel %d: count %u / %u / %u out of range", n, c->cr, c->reload, c->next_reload);
    state_check(io, c->mode <= 7 && c->rw >= PIT_RW_LSB && c->rw <= PIT_RW_WORD && c->state <= PIT_ST_PAUSED,
                "PIT channel %d: mode %u, access %u, state %u out of range", n, c->mode, c->rw, c->state);
    state_check(io, c->bcd <= 1 && c->gate <= 1 && c->cr_loaded <= 1 && c->write_msb <= 1 && c->read_msb <= 1 &&
                        c->count_latched <= 1 && c->status_latched <= 1,
                "PIT channel %d: flag out of range", n);
}

void pit_state(PITState *s, StateIO *io)
{
    /* Loaded into a copy; the timer (last) is only armed once all else passed. */
    PITChannel ch[3];
    uint8_t port61 = s->port61;
    for (int i = 0; i < 3; i++) {
        ch[i] = s->ch[i];
        pit_channel_state(&ch[i], i, io);
    }
    state_u8(io, "port61", &port61);
    state_check(io, port61 <= 0x0f, "PIT: port 0x61 value %#x out of range", port61);
    /* Gates 0 and 1 are tied high; gate 2 is port 0x61 bit 0. */
    state_check(io, ch[0].gate && ch[1].gate && ch[2].gate == (port61 & PIT_PORTB_GATE2),
                "PIT: gate inputs do not match the wiring and port 0x61");
    state_timer(io, "irq_timer", &s->irq_timer);
    if (!state_loading(io) || !state_ok(io))
        return;
    for (int i = 0; i < 3; i++)
        s->ch[i] = ch[i];
    s->port61 = port61;
}
