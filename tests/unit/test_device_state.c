/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Device checkpoints: the field codec (base/state.c), then each device driven
 * into a non-trivial state at register level, saved, loaded into a freshly
 * initialised twin, after which both must answer the same accesses with the
 * same values, IRQ levels and timer deadlines. Damaged payloads (every
 * truncation, every field renamed or resized, trailing bytes, out-of-range
 * values patched in) must be refused with a message and leave the target
 * device exactly as it was. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "devices/ahci.h"
#include "check.h"
#include "base/clock.h"
#include "devices/disk.h"
#include "base/iomem.h"
#include "devices/pci.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "base/state.h"
#include "devices/sysreset.h"
#include "devices/i8042.h"
#include "devices/uart.h"

/* Three of everything: A is driven, B loads A's state, C (fresh) is the
 * target of damaged payloads. */
enum { A, B, C, N_INST };

static IoMap map[N_INST];
static VClock clk[N_INST];

/* ---- generic helpers ---- */

typedef void StateFn(void *dev, StateIO *io);

static void pic_fn(void *d, StateIO *io) { pic_state(d, io); }
static void pit_fn(void *d, StateIO *io) { pit_state(d, io); }
static void uart_fn(void *d, StateIO *io) { uart_state(d, io); }
static void rtc_fn(void *d, StateIO *io) { rtc_state(d, io); }
static void pci_fn(void *d, StateIO *io) { pci_state(d, io); }
static void sysreset_fn(void *d, StateIO *io) { sysreset_state(d, io); }
static void ahci_fn(void *d, StateIO *io) { ahci_state(d, io); }
static void i8042_fn(void *d, StateIO *io) { i8042_state(d, io); }

/* The payload of a save; the caller frees it. */
static uint8_t *save_bytes(StateFn *fn, void *dev, VClock *c, size_t *len)
{
    StateIO io;
    state_init_save(&io, c);
    fn(dev, &io);
    CHECK(state_ok(&io));
    if (!state_ok(&io))
        fprintf(stderr, "save failed: %s\n", state_error(&io));
    CHECK(state_finish(&io));
    *len = io.len;
    uint8_t *b = io.buf;    /* ownership passes to the caller */
    return b ? b : calloc(1, 1);
}

/* Loads exactly len bytes from a private copy (ASan sees any overread).
 * Returns state_ok; the message goes to err. */
static int load_bytes(StateFn *fn, void *dev, VClock *c, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    StateIO io;
    state_init_load(&io, copy, len, c);
    fn(dev, &io);
    state_finish(&io);
    int ok = state_ok(&io);
    snprintf(err, errlen, "%s", state_error(&io));
    free(copy);
    return ok;
}

static int same_save(StateFn *fn, void *d1, VClock *c1, void *d2, VClock *c2)
{
    size_t l1, l2;
    uint8_t *b1 = save_bytes(fn, d1, c1, &l1), *b2 = save_bytes(fn, d2, c2, &l2);
    int same = l1 == l2 && !memcmp(b1, b2, l1);
    free(b1);
    free(b2);
    return same;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where a field's parts are in a payload (see the layout in state.c). */
typedef struct FieldPos {
    size_t hdr, name, elem_at, values;
    unsigned elem;
    uint32_t count;
} FieldPos;

/* The field whose header starts at pos; 0 at or past the end. */
static int field_at(const uint8_t *b, size_t len, size_t pos, FieldPos *f)
{
    if (pos >= len || pos + 1 + b[pos] + 5 > len)
        return 0;
    f->hdr = pos;
    f->name = pos + 1;
    f->elem_at = pos + 1 + b[pos];
    f->elem = b[f->elem_at];
    f->count = le32(b + f->elem_at + 1);
    f->values = f->elem_at + 5;
    return f->values + (size_t)f->elem * f->count <= len;
}

static int find_field(const uint8_t *b, size_t len, const char *name, FieldPos *f)
{
    size_t pos = 0, nl = strlen(name);
    while (field_at(b, len, pos, f)) {
        if (b[pos] == nl && !memcmp(b + f->name, name, nl))
            return 1;
        pos = f->values + (size_t)f->elem * f->count;
    }
    return 0;
}

/* A copy of the payload with element idx of field `name` set to v. */
static uint8_t *patched(const uint8_t *b, size_t len, const char *name, uint32_t idx, uint64_t v)
{
    uint8_t *p = malloc(len);
    memcpy(p, b, len);
    FieldPos f;
    int found = find_field(p, len, name, &f) && idx < f.count;
    CHECK(found);
    if (!found) {
        fprintf(stderr, "no field %s[%u] in the payload\n", name, idx);
        return p;
    }
    for (unsigned i = 0; i < f.elem; i++)
        p[f.values + (size_t)idx * f.elem + i] = (uint8_t)(v >> (8 * i));
    return p;
}

static uint64_t field_value(const uint8_t *b, size_t len, const char *name, uint32_t idx)
{
    FieldPos f;
    uint64_t v = 0;
    if (!find_field(b, len, name, &f) || idx >= f.count)
        return UINT64_MAX;
    for (unsigned i = 0; i < f.elem; i++)
        v |= (uint64_t)b[f.values + (size_t)idx * f.elem + i] << (8 * i);
    return v;
}

/* Loading `bad` into dev must fail with a message containing `want` and
 * leave dev (and its clock's deadline) as it was. Returns 1 if all held;
 * quiet = count instead of CHECK (for the loops over every byte). */
static int refused_how(StateFn *fn, void *dev, VClock *c, const uint8_t *bad, size_t len, const char *want, int quiet,
                       int keeps)
{
    size_t l0, l1;
    uint8_t *before = save_bytes(fn, dev, c, &l0);
    uint64_t deadline = vclock_next_deadline(c);
    char err[256];
    int ok = load_bytes(fn, dev, c, bad, len, err, sizeof err);
    uint8_t *after = save_bytes(fn, dev, c, &l1);
    int good = !ok && err[0] && (!want || strstr(err, want)) &&
               (!keeps || (l0 == l1 && !memcmp(before, after, l0) && vclock_next_deadline(c) == deadline));
    if (!good)
        fprintf(stderr, "refusal (want \"%s\"): load %s, error \"%s\"%s\n", want ? want : "", ok ? "passed" : "failed",
                err, l0 == l1 && !memcmp(before, after, l0) ? "" : ", device changed");
    if (!quiet)
        CHECK(good);
    free(before);
    free(after);
    return good;
}

static int refused(StateFn *fn, void *dev, VClock *c, const uint8_t *bad, size_t len, const char *want, int quiet)
{
    return refused_how(fn, dev, c, bad, len, want, quiet, 1);
}

static void refuse_patch(StateFn *fn, void *dev, VClock *c, const uint8_t *good, size_t len, const char *field,
                         uint32_t idx, uint64_t v, const char *want)
{
    uint8_t *p = patched(good, len, field, idx, v);
    refused(fn, dev, c, p, len, want, 0);
    free(p);
}

/* Every truncation, every field renamed and resized, trailing junk. dev
 * must start in a state other than the payload's, so that "left as it was"
 * means something; it ends in that state again. */
static void damage_tests(const char *what, StateFn *fn, void *dev, VClock *c, const uint8_t *good, size_t len)
{
    int bad = 0, fields = 0;
    size_t flen;
    uint8_t *fresh = save_bytes(fn, dev, c, &flen);
    CHECK(flen != len || memcmp(fresh, good, len));
    for (size_t l = 0; l < len; l++)
        bad += !refused(fn, dev, c, good, l, "truncated", 1);
    uint8_t *p = malloc(len + 1);
    FieldPos f;
    for (size_t pos = 0; field_at(good, len, pos, &f); pos = f.values + (size_t)f.elem * f.count) {
        fields++;
        memcpy(p, good, len);
        p[f.elem_at - 1] ^= 0x20;               /* last character of the name */
        bad += !refused(fn, dev, c, p, len, "expected field", 1);
        memcpy(p, good, len);
        p[f.elem_at] = (uint8_t)(f.elem == 8 ? 4 : f.elem * 2);
        bad += !refused(fn, dev, c, p, len, "-byte values", 1);
        memcpy(p, good, len);
        p[f.elem_at + 1] ^= 1;                  /* element count */
        bad += !refused(fn, dev, c, p, len, "-byte values", 1);
    }
    /* Trailing bytes show only in state_finish, after the device took its
     * fields: the caller then discards the machine. */
    memcpy(p, good, len);
    p[len] = 0;
    bad += !refused_how(fn, dev, c, p, len + 1, "unexpected bytes", 1, 0);
    free(p);
    if (bad)
        fprintf(stderr, "%s: %d damaged payloads not refused cleanly\n", what, bad);
    CHECK_EQ(bad, 0);
    CHECK(fields > 0);
    char err[256];
    CHECK(load_bytes(fn, dev, c, fresh, flen, err, sizeof err));
    size_t l2;
    uint8_t *back = save_bytes(fn, dev, c, &l2);
    CHECK(l2 == flen && !memcmp(back, fresh, flen));
    free(back);
    free(fresh);
}

/* Records what both twins do, then compares step by step. */
#define TRACE_MAX 512
typedef struct Trace {
    uint64_t v[TRACE_MAX];
    int n;
} Trace;

static void tr(Trace *t, uint64_t v)
{
    if (t->n < TRACE_MAX)
        t->v[t->n++] = v;
}

static void same_trace(const char *what, const Trace *a, const Trace *b)
{
    CHECK_EQ(a->n, b->n);
    CHECK(a->n < TRACE_MAX);
    for (int i = 0; i < a->n && i < b->n; i++) {
        if (a->v[i] != b->v[i])
            fprintf(stderr, "%s: step %d differs: %#llx vs %#llx\n", what, i, (unsigned long long)a->v[i],
                    (unsigned long long)b->v[i]);
        CHECK_EQ(a->v[i], b->v[i]);
    }
}

static void out8(int i, uint32_t port, uint8_t v) { iomap_port_write(&map[i], port, v, 0); }
static uint8_t in8(int i, uint32_t port) { return (uint8_t)iomap_port_read(&map[i], port, 0); }

/* Advance instance i's clock to t, firing timers at their deadlines. */
static void run_to(int i, uint64_t t)
{
    while (vclock_next_deadline(&clk[i]) <= t) {
        clk[i].now = vclock_next_deadline(&clk[i]);
        vclock_run_timers(&clk[i]);
    }
    clk[i].now = t;
}

static void fresh_instances(void)
{
    for (int i = 0; i < N_INST; i++) {
        iomap_init(&map[i]);
        vclock_init(&clk[i]);
    }
}

/* IRQ recorders, one per instance: level and number of calls. */
static int irq_level[N_INST], irq_calls[N_INST], irq_rises[N_INST];
static uint64_t irq_last_rise[N_INST];

static void irq_rec(void *opaque, int n, int level)
{
    int i = (int)(intptr_t)opaque;
    (void)n;
    if (level && !irq_level[i]) {
        irq_rises[i]++;
        irq_last_rise[i] = clk[i].now;
    }
    irq_level[i] = level;
    irq_calls[i]++;
}

static void irq_reset_rec(void)
{
    memset(irq_level, 0, sizeof irq_level);
    memset(irq_calls, 0, sizeof irq_calls);
    memset(irq_rises, 0, sizeof irq_rises);
    memset(irq_last_rise, 0, sizeof irq_last_rise);
}

/* ---- the codec ---- */

static void test_codec(void)
{
    VClock c;
    vclock_init(&c);
    VTimer t1, t2;
    vtimer_init(&t1, &c, NULL, NULL);
    vtimer_init(&t2, &c, NULL, NULL);
    vtimer_mod(&c, &t1, 12345);

    uint8_t u8 = 0xa5, u8s[3] = { 1, 2, 3 };
    uint16_t u16 = 0x1234;
    uint32_t u32 = 0xdeadbeef, u32s[2] = { 0x01020304, 0xfffffffe };
    uint64_t u64 = 0x0123456789abcdefull, u64s[2] = { 1, UINT64_MAX };
    bool bt = true, bf = false;
    int neg = -7;
    StateIO io;
    state_init_save(&io, &c);
    CHECK(!state_loading(&io));
    state_u16(&io, "ab", &u16);
    /* Layout: name length, name, element size, count (LE u32), values (LE). */
    static const uint8_t want[] = { 2, 'a', 'b', 2, 1, 0, 0, 0, 0x34, 0x12 };
    CHECK_EQ(io.len, sizeof want);
    CHECK(!memcmp(io.buf, want, sizeof want));
    state_u8(&io, "u8", &u8);
    state_u32(&io, "u32", &u32);
    state_u64(&io, "u64", &u64);
    state_bool(&io, "bt", &bt);
    state_bool(&io, "bf", &bf);
    state_int(&io, "neg", &neg);
    state_u8s(&io, "u8s", u8s, 3);
    state_u32s(&io, "u32s", u32s, 2);
    state_u64s(&io, "u64s", u64s, 2);
    state_timer(&io, "t1", &t1);
    state_timer(&io, "t2", &t2);
    CHECK(state_finish(&io));
    size_t len = io.len;
    uint8_t *buf = io.buf;
    CHECK_EQ(field_value(buf, len, "neg", 0), 0xfffffff9u);
    CHECK_EQ(field_value(buf, len, "u32s", 1), 0xfffffffeu);
    CHECK_EQ(field_value(buf, len, "t2", 0), VCLOCK_NEVER);

    /* Round trip into zeroed variables and other timers. */
    VClock c2;
    vclock_init(&c2);
    VTimer r1, r2;
    vtimer_init(&r1, &c2, NULL, NULL);
    vtimer_init(&r2, &c2, NULL, NULL);
    vtimer_mod(&c2, &r2, 99);           /* loading NEVER disarms it */
    uint8_t l8 = 0, l8s[3] = { 0 };
    uint16_t l16 = 0;
    uint32_t l32 = 0, l32s[2] = { 0 };
    uint64_t l64 = 0, l64s[2] = { 0 };
    bool lbt = false, lbf = true;
    int lneg = 0;
    state_init_load(&io, buf, len, &c2);
    CHECK(state_loading(&io));
    state_u16(&io, "ab", &l16);
    state_u8(&io, "u8", &l8);
    state_u32(&io, "u32", &l32);
    state_u64(&io, "u64", &l64);
    state_bool(&io, "bt", &lbt);
    state_bool(&io, "bf", &lbf);
    state_int(&io, "neg", &lneg);
    state_u8s(&io, "u8s", l8s, 3);
    state_u32s(&io, "u32s", l32s, 2);
    state_u64s(&io, "u64s", l64s, 2);
    state_timer(&io, "t1", &r1);
    state_timer(&io, "t2", &r2);
    CHECK(state_finish(&io));
    CHECK_EQ(l16, 0x1234);
    CHECK_EQ(l8, 0xa5);
    CHECK_EQ(l32, 0xdeadbeef);
    CHECK_EQ(l64, 0x0123456789abcdefull);
    CHECK(lbt && !lbf);
    CHECK_EQ(lneg, (uint64_t)(int64_t)-7);
    CHECK(!memcmp(l8s, u8s, 3));
    CHECK(!memcmp(l32s, u32s, sizeof l32s));
    CHECK(!memcmp(l64s, u64s, sizeof l64s));
    CHECK_EQ(r1.expire, 12345);
    CHECK(!vtimer_pending(&r2));
    CHECK_EQ(vclock_next_deadline(&c2), 12345);

    /* Trailing bytes: every field read, but state_finish refuses. */
    uint8_t *longer = malloc(len + 3);
    memcpy(longer, buf, len);
    memset(longer + len, 0, 3);
    state_init_load(&io, longer, len + 3, &c2);
    state_u16(&io, "ab", &l16);
    CHECK(state_ok(&io));
    CHECK(!state_finish(&io));
    CHECK(strstr(state_error(&io), "unexpected bytes") != NULL);
    /* ... and a load that stops early likewise. */
    free(longer);

    /* Mismatches: name, element size, count; the first error sticks. */
    state_init_load(&io, buf, len, &c2);
    state_u16(&io, "ac", &l16);
    CHECK(strstr(state_error(&io), "expected field ac, found ab") != NULL);
    l8 = 0x11;
    state_u8(&io, "u8", &l8);           /* no-op after the error */
    CHECK_EQ(l8, 0x11);
    CHECK(strstr(state_error(&io), "expected field ac") != NULL);
    state_init_load(&io, buf, len, &c2);
    state_u32(&io, "ab", &l32);
    CHECK(strstr(state_error(&io), "field ab: 1 x 2-byte values, expected 1 x 4") != NULL);
    state_init_load(&io, buf, 9, &c2);
    state_u16(&io, "ab", &l16);
    CHECK(strstr(state_error(&io), "field ab: truncated") != NULL);
    /* Counts: u8s saved with 3 values, loaded as 2. */
    state_init_load(&io, buf, len, &c2);
    state_u16(&io, "ab", &l16);
    state_u8(&io, "u8", &l8);
    state_u32(&io, "u32", &l32);
    state_u64(&io, "u64", &l64);
    state_bool(&io, "bt", &lbt);
    state_bool(&io, "bf", &lbf);
    state_int(&io, "neg", &lneg);
    state_u8s(&io, "u8s", l8s, 2);
    CHECK(strstr(state_error(&io), "field u8s: 3 x 1-byte values, expected 2 x 1") != NULL);
    /* A bool that is neither 0 nor 1. */
    uint8_t *p = patched(buf, len, "bt", 0, 2);
    state_init_load(&io, p, len, &c2);
    state_u16(&io, "ab", &l16);
    state_u8(&io, "u8", &l8);
    state_u32(&io, "u32", &l32);
    state_u64(&io, "u64", &l64);
    state_bool(&io, "bt", &lbt);
    CHECK(strstr(state_error(&io), "field bt: 2 is not a boolean") != NULL);
    free(p);
    /* state_check and state_fail: loading only, first message wins. */
    state_init_load(&io, buf, len, &c2);
    state_check(&io, 1 == 2, "first %d", 1);
    state_check(&io, 1 == 2, "second");
    CHECK(!strcmp(state_error(&io), "first 1"));
    StateIO sv;
    state_init_save(&sv, &c);
    state_check(&sv, 0, "never on save");
    CHECK(state_ok(&sv));
    state_free(&sv);
    free(buf);
}

/* ---- PIC ---- */

static PICState *pic[N_INST];
static IRQSignal pic_cpu[N_INST];

static void pic_linux_init(int i)
{
    static const uint8_t seq[][2] = {
        { 0x21, 0xff }, { 0xa1, 0xff }, { 0x20, 0x11 }, { 0x21, 0x30 }, { 0x21, 0x04 }, { 0x21, 0x01 },
        { 0xa0, 0x11 }, { 0xa1, 0x38 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
    };
    for (size_t k = 0; k < sizeof seq / sizeof seq[0]; k++)
        out8(i, seq[k][0], seq[k][1]);
}

static void pic_pulse(int i, int irq)
{
    pic_set_irq(pic[i], irq, 1);
    pic_set_irq(pic[i], irq, 0);
}

/* The same accesses on instance i, everything observable recorded. */
static void pic_script(int i, Trace *t)
{
    static const uint32_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
    for (size_t k = 0; k < 6; k++)
        tr(t, in8(i, ports[k]));
    tr(t, irq_level[i]);
    tr(t, pic_read_irq(pic[i]));        /* IRQ0 above IRQ1 in service */
    tr(t, in8(i, 0x20));                /* ISR: 0x03 */
    out8(i, 0x20, 0x20);
    out8(i, 0x20, 0x20);                /* both EOIs: the cascade is next */
    tr(t, irq_level[i]);
    tr(t, pic_read_irq(pic[i]));        /* IRQ11 through the rotated slave */
    out8(i, 0xa0, 0x0b);
    tr(t, in8(i, 0xa0));
    out8(i, 0xa0, 0x20);
    out8(i, 0x20, 0x20);
    tr(t, irq_level[i]);                /* IRQ11 is level and still high */
    pic_set_irq(pic[i], 11, 0);
    tr(t, irq_level[i]);
    pic_pulse(i, 1);
    out8(i, 0x20, 0x0c);                /* poll */
    tr(t, in8(i, 0x20));
    tr(t, irq_level[i]);
    out8(i, 0x20, 0x20);
    pic_set_irq(pic[i], 5, 0);
    pic_set_irq(pic[i], 5, 1);          /* a new edge on the held line */
    out8(i, 0x21, 0x00);
    out8(i, 0x20, 0x0a);
    tr(t, in8(i, 0x20));
    tr(t, irq_level[i]);
    tr(t, pic_read_irq(pic[i]));
    tr(t, pic_read_irq(pic[i]));        /* spurious */
    tr(t, irq_calls[i]);
}

static void test_pic(void)
{
    fresh_instances();
    irq_reset_rec();
    for (int i = 0; i < N_INST; i++) {
        irq_init(&pic_cpu[i], irq_rec, (void *)(intptr_t)i, 0);
        pic[i] = pic_init(&map[i], &pic_cpu[i]);
    }
    pic_linux_init(A);
    out8(A, 0x4d1, 0x0e);               /* IRQ9-11 level triggered */
    out8(A, 0x21, 0xf8);
    out8(A, 0xa1, 0xf5);
    pic_pulse(A, 1);
    CHECK_EQ(pic_read_irq(pic[A]), 0x31);
    pic_set_irq(pic[A], 11, 1);
    pic_pulse(A, 0);
    pic_set_irq(pic[A], 5, 1);          /* masked, held high */
    out8(A, 0x20, 0x0b);                /* command port reads ISR */
    out8(A, 0xa0, 0xc4);                /* slave: IR4 lowest priority */
    CHECK_EQ(irq_level[A], 1);

    size_t len;
    uint8_t *st = save_bytes(pic_fn, pic[A], &clk[A], &len);
    CHECK_EQ(field_value(st, len, "pics[0].isr", 0), 0x02);
    CHECK_EQ(field_value(st, len, "pics[1].lowest", 0), 4);
    char err[256];
    CHECK(load_bytes(pic_fn, pic[B], &clk[B], st, len, err, sizeof err));
    CHECK(!err[0]);
    CHECK_EQ(irq_calls[B], 0);          /* a load drives no line */
    CHECK_EQ(pic_intr_pending(pic[B]), 1);
    CHECK(same_save(pic_fn, pic[A], &clk[A], pic[B], &clk[B]));
    irq_level[B] = pic_intr_pending(pic[B]);    /* as the machine derives it */
    irq_calls[A] = irq_calls[B] = 0;
    Trace ta = { 0 }, tb = { 0 };
    pic_script(A, &ta);
    pic_script(B, &tb);
    CHECK_EQ(ta.v[7], 0x30);
    CHECK_EQ(ta.v[10], 0x3b);
    same_trace("pic", &ta, &tb);

    damage_tests("pic", pic_fn, pic[C], &clk[C], st, len);
    refuse_patch(pic_fn, pic[C], &clk[C], st, len, "pics[0].init_state", 0, 5, "initialisation step");
    refuse_patch(pic_fn, pic[C], &clk[C], st, len, "pics[1].lowest", 0, 8, "priority");
    refuse_patch(pic_fn, pic[C], &clk[C], st, len, "pics[0].elcr", 0, 0x07, "ELCR");
    refuse_patch(pic_fn, pic[C], &clk[C], st, len, "pics[0].poll", 0, 2, "OCW flag");
    refuse_patch(pic_fn, pic[C], &clk[C], st, len, "int_out", 0, 0, "INT output");
    refuse_patch(pic_fn, pic[C], &clk[C], st, len, "pics[0].irr", 0, 0x01, "master IR2");
    CHECK_EQ(irq_calls[C], 0);
    free(st);
    for (int i = 0; i < N_INST; i++)
        free(pic[i]);
}

/* ---- PIT ---- */

static PITState *pit[N_INST];
static IRQSignal pit_irq[N_INST];

static uint64_t pit_at(uint64_t pit_clocks) { return vclock_from_hz(pit_clocks, PIT_FREQ); }

static void pit_script(int i, Trace *t)
{
    uint64_t t0 = clk[i].now;
    irq_rises[i] = 0;
    tr(t, vclock_next_deadline(&clk[i]));
    tr(t, in8(i, 0x40));                /* MSB of the latched count */
    tr(t, in8(i, 0x40));                /* live count, LSB ... */
    tr(t, in8(i, 0x40));
    tr(t, in8(i, 0x42));                /* latched status, then the count */
    tr(t, in8(i, 0x42));
    tr(t, in8(i, 0x42));
    tr(t, in8(i, 0x61) & ~PIT_PORTB_REFRESH);
    out8(i, 0x41, 0x00);                /* ch1's MSB completes 0x0012 */
    run_to(i, t0 + 3000000);
    tr(t, irq_rises[i]);
    tr(t, irq_last_rise[i]);
    tr(t, vclock_next_deadline(&clk[i]));
    out8(i, 0x43, 0x40);
    tr(t, in8(i, 0x41));
    tr(t, in8(i, 0x41));
    out8(i, 0x40, 0xf4);                /* ch0: 500 from the next period */
    out8(i, 0x40, 0x01);
    tr(t, vclock_next_deadline(&clk[i]));
    run_to(i, t0 + 5000000);
    tr(t, irq_rises[i]);
    tr(t, irq_last_rise[i]);
    tr(t, vclock_next_deadline(&clk[i]));
    out8(i, 0x43, 0xce);                /* read back all counts */
    for (int k = 0; k < 3; k++) {
        tr(t, in8(i, 0x40 + k));
        tr(t, in8(i, 0x40 + k));
    }
    out8(i, 0x61, 0x00);                /* gate 2 low: mode 0 pauses */
    run_to(i, t0 + 6000000);
    tr(t, in8(i, 0x61) & ~PIT_PORTB_REFRESH);
    out8(i, 0x43, 0x80);
    tr(t, in8(i, 0x42));
    tr(t, in8(i, 0x42));
    out8(i, 0x43, 0x30);                /* ch0 mode 0: one-shot */
    out8(i, 0x40, 0x10);
    out8(i, 0x40, 0x00);
    tr(t, vclock_next_deadline(&clk[i]));
    run_to(i, t0 + 7000000);
    tr(t, irq_rises[i]);
    tr(t, irq_last_rise[i]);
    tr(t, vclock_next_deadline(&clk[i]));
}

static void test_pit(void)
{
    fresh_instances();
    irq_reset_rec();
    for (int i = 0; i < N_INST; i++) {
        irq_init(&pit_irq[i], irq_rec, (void *)(intptr_t)i, 0);
        pit[i] = pit_init(&map[i], &clk[i], &pit_irq[i]);
    }
    out8(A, 0x43, 0x34);                /* ch0 mode 2, count 1000 */
    out8(A, 0x40, 1000 & 0xff);
    out8(A, 0x40, 1000 >> 8);
    run_to(A, pit_at(2500) + 1234);
    CHECK_EQ(irq_rises[A], 2);
    out8(A, 0x43, 0x00);                /* latch ch0 ... */
    in8(A, 0x40);                       /* ... read its LSB only */
    out8(A, 0x61, PIT_PORTB_GATE2);
    out8(A, 0x43, 0xb0);                /* ch2 mode 0, count 0x2040 */
    out8(A, 0x42, 0x40);
    out8(A, 0x42, 0x20);
    out8(A, 0x43, 0x76);                /* ch1 mode 3, LSB written, MSB pending */
    out8(A, 0x41, 0x12);
    run_to(A, pit_at(2900));
    out8(A, 0x43, 0xe8);                /* read-back: ch2 status only */
    run_to(A, pit_at(3100));            /* the latched count is now stale */

    size_t len;
    uint8_t *st = save_bytes(pit_fn, pit[A], &clk[A], &len);
    CHECK_EQ(field_value(st, len, "ch0.count_latched", 0), 1);
    CHECK_EQ(field_value(st, len, "ch0.read_msb", 0), 1);
    CHECK_EQ(field_value(st, len, "ch1.write_msb", 0), 1);
    CHECK_EQ(field_value(st, len, "ch2.status_latched", 0), 1);
    CHECK_EQ(field_value(st, len, "irq_timer", 0), pit_at(4001));
    clk[B].now = clk[A].now;            /* the machine section restores the clock first */
    char err[256];
    CHECK(load_bytes(pit_fn, pit[B], &clk[B], st, len, err, sizeof err));
    CHECK(!err[0]);
    CHECK_EQ(irq_calls[B], 0);
    CHECK_EQ(vclock_next_deadline(&clk[B]), vclock_next_deadline(&clk[A]));
    CHECK(same_save(pit_fn, pit[A], &clk[A], pit[B], &clk[B]));
    Trace ta = { 0 }, tb = { 0 };
    pit_script(A, &ta);
    pit_script(B, &tb);
    same_trace("pit", &ta, &tb);
    CHECK(ta.v[8] > 0);                 /* IRQ0 kept pulsing */

    damage_tests("pit", pit_fn, pit[C], &clk[C], st, len);
    refuse_patch(pit_fn, pit[C], &clk[C], st, len, "ch0.reload", 0, 0, "count");
    refuse_patch(pit_fn, pit[C], &clk[C], st, len, "ch1.cr", 0, 65537, "count");
    refuse_patch(pit_fn, pit[C], &clk[C], st, len, "ch1.mode", 0, 8, "mode");
    refuse_patch(pit_fn, pit[C], &clk[C], st, len, "ch0.rw", 0, 0, "access");
    refuse_patch(pit_fn, pit[C], &clk[C], st, len, "ch2.state", 0, 4, "state");
    refuse_patch(pit_fn, pit[C], &clk[C], st, len, "ch0.read_msb", 0, 2, "flag");
    refuse_patch(pit_fn, pit[C], &clk[C], st, len, "ch2.gate", 0, 0, "gate inputs");
    refuse_patch(pit_fn, pit[C], &clk[C], st, len, "port61", 0, 0x11, "port 0x61");
    CHECK_EQ(irq_calls[C], 0);
    free(st);
    for (int i = 0; i < N_INST; i++)
        free(pit[i]);
}

/* ---- UART ---- */

#define COM1 0x3f8
static UARTState *uart[N_INST];
static IRQSignal uart_irq[N_INST];
static uint8_t uart_out[N_INST][64];
static size_t uart_out_len[N_INST];

static void uart_out_rec(void *opaque, const uint8_t *buf, size_t len)
{
    int i = (int)(intptr_t)opaque;
    for (size_t k = 0; k < len && uart_out_len[i] < sizeof uart_out[i]; k++)
        uart_out[i][uart_out_len[i]++] = buf[k];
}

static uint8_t urd(int i, int reg) { return in8(i, COM1 + reg); }
static void uwr(int i, int reg, uint8_t v) { out8(i, COM1 + reg, v); }

static void uart_script(int i, Trace *t)
{
    tr(t, urd(i, UART_DLL));
    tr(t, urd(i, UART_DLM));
    tr(t, urd(i, UART_LCR));
    uwr(i, UART_LCR, 0x03);
    tr(t, urd(i, UART_IIR));
    tr(t, urd(i, UART_LSR));
    for (int k = 0; k < 5; k++) {
        tr(t, urd(i, UART_RBR));
        tr(t, irq_level[i]);
    }
    tr(t, urd(i, UART_IIR));            /* THRE now */
    tr(t, urd(i, UART_IIR));            /* ... cleared by that read */
    tr(t, irq_level[i]);
    uwr(i, UART_THR, 'x');
    tr(t, irq_level[i]);
    tr(t, uart_receive(uart[i], (const uint8_t *)"0123456789abcdefXYZ", 19));
    tr(t, urd(i, UART_IIR));
    tr(t, urd(i, UART_LSR));
    uwr(i, UART_FCR, 0x00);             /* FIFOs off: both emptied */
    tr(t, urd(i, UART_LSR));
    tr(t, urd(i, UART_MSR));
    uwr(i, UART_MCR, 0x1f);             /* loopback */
    tr(t, urd(i, UART_MSR));
    uwr(i, UART_THR, 'L');
    tr(t, urd(i, UART_RBR));
    tr(t, urd(i, UART_SCR));
    tr(t, irq_level[i]);
    tr(t, uart_out_len[i]);
    for (size_t k = 0; k < uart_out_len[i]; k++)
        tr(t, uart_out[i][k]);
}

static void test_uart(void)
{
    fresh_instances();
    irq_reset_rec();
    for (int i = 0; i < N_INST; i++) {
        irq_init(&uart_irq[i], irq_rec, (void *)(intptr_t)i, 4);
        uart_out_len[i] = 0;
        uart[i] = uart_init(&map[i], COM1, &uart_irq[i], uart_out_rec, (void *)(intptr_t)i);
        CHECK(uart[i] != NULL);
    }
    uwr(A, UART_FCR, 0xc1);             /* FIFOs on, trigger 14 */
    uwr(A, UART_LCR, 0x83);
    uwr(A, UART_DLL, 0x01);             /* 115200 baud */
    uwr(A, UART_DLM, 0x00);
    uwr(A, UART_LCR, 0x03);
    uwr(A, UART_MCR, 0x0b);             /* DTR, RTS, OUT2 */
    uwr(A, UART_IER, 0x03);             /* RX data and THRE: THRE pends */
    uwr(A, UART_SCR, 0x5a);
    CHECK_EQ(uart_receive(uart[A], (const uint8_t *)"hello", 5), 5);
    CHECK_EQ(urd(A, UART_RBR), 'h');
    CHECK_EQ(urd(A, UART_IIR), 0xcc);   /* timeout: below the trigger */
    uwr(A, UART_LCR, 0x83);             /* saved with DLAB set */
    CHECK_EQ(irq_level[A], 1);

    size_t len;
    uint8_t *st = save_bytes(uart_fn, uart[A], &clk[A], &len);
    CHECK_EQ(field_value(st, len, "rx_head", 0), 1);
    CHECK_EQ(field_value(st, len, "rx_count", 0), 4);
    CHECK_EQ(field_value(st, len, "thr_ipending", 0), 1);
    char err[256];
    CHECK(load_bytes(uart_fn, uart[B], &clk[B], st, len, err, sizeof err));
    CHECK(!err[0]);
    CHECK_EQ(irq_calls[B], 0);
    CHECK_EQ(uart_out_len[B], 0);
    CHECK(same_save(uart_fn, uart[A], &clk[A], uart[B], &clk[B]));
    CHECK_EQ(uart_rx_room(uart[B]), uart_rx_room(uart[A]));
    irq_level[B] = uart[B]->irq_level;
    Trace ta = { 0 }, tb = { 0 };
    uart_script(A, &ta);
    uart_script(B, &tb);
    CHECK_EQ(ta.v[0], 0x01);
    CHECK_EQ(ta.v[3], 0xcc);
    CHECK_EQ(ta.v[5], 'e');
    same_trace("uart", &ta, &tb);

    damage_tests("uart", uart_fn, uart[C], &clk[C], st, len);
    refuse_patch(uart_fn, uart[C], &clk[C], st, len, "rx_head", 0, UART_FIFO_SIZE, "RX FIFO");
    refuse_patch(uart_fn, uart[C], &clk[C], st, len, "rx_count", 0, UART_FIFO_SIZE + 1, "RX FIFO");
    refuse_patch(uart_fn, uart[C], &clk[C], st, len, "rx_count", 0, 255, "RX FIFO");
    refuse_patch(uart_fn, uart[C], &clk[C], st, len, "fcr", 0, 0x00, "RX FIFO");   /* 4 bytes, no FIFO */
    refuse_patch(uart_fn, uart[C], &clk[C], st, len, "ier", 0, 0x10, "register value");
    refuse_patch(uart_fn, uart[C], &clk[C], st, len, "thr_ipending", 0, 2, "interrupt latch");
    refuse_patch(uart_fn, uart[C], &clk[C], st, len, "irq_level", 0, 0, "IRQ level");
    CHECK_EQ(irq_calls[C], 0);
    free(st);
    for (int i = 0; i < N_INST; i++)
        free(uart[i]);
}

/* ---- RTC ---- */

#define SEC 1000000000ull
#define MS  1000000ull
#define RTC_EPOCH 1700000000
static RTCState *rtc[N_INST];
static IRQSignal rtc_irq[N_INST];

static uint8_t rrd(int i, int reg)
{
    out8(i, 0x70, (uint8_t)reg);
    return in8(i, 0x71);
}

static void rwr(int i, int reg, uint8_t v)
{
    out8(i, 0x70, (uint8_t)reg);
    out8(i, 0x71, v);
}

static void rtc_script(int i, Trace *t)
{
    uint64_t t0 = clk[i].now;
    irq_rises[i] = 0;
    tr(t, vclock_next_deadline(&clk[i]));
    tr(t, irq_level[i]);
    tr(t, in8(i, 0x70));                /* the index latch */
    tr(t, in8(i, 0x71));
    static const int regs[] = { 0, 2, 4, 6, 7, 8, 9, 0x32, 0x0a, 0x0b, 0x0d, 0x0c, 0x0c };
    for (size_t k = 0; k < sizeof regs / sizeof regs[0]; k++)
        tr(t, rrd(i, regs[k]));
    tr(t, irq_level[i]);
    run_to(i, t0 + 1500 * MS);
    tr(t, irq_rises[i]);
    tr(t, irq_last_rise[i]);
    tr(t, rrd(i, 0x0c));
    tr(t, rrd(i, 0));
    /* Alarm at hh:mm:ss + 2 s, only alarm interrupts from here. */
    uint8_t s = rrd(i, 0), m = rrd(i, 2), h = rrd(i, 4);
    int sec = s + 2;                    /* binary mode */
    rwr(i, 0x01, (uint8_t)(sec % 60));
    rwr(i, 0x03, sec >= 60 ? 0xff : m);
    rwr(i, 0x05, sec >= 60 ? 0xff : h);
    rwr(i, 0x0b, RTC_B_24H | RTC_B_DM | RTC_B_AIE);
    tr(t, rrd(i, 0x0c));
    tr(t, vclock_next_deadline(&clk[i]));
    irq_rises[i] = 0;
    run_to(i, t0 + 4500 * MS);
    tr(t, irq_rises[i]);
    tr(t, irq_last_rise[i]);
    tr(t, rrd(i, 0x0c));
    for (int k = 0x0e; k < 0x80; k++)
        tr(t, rrd(i, k));
}

static void test_rtc(void)
{
    fresh_instances();
    irq_reset_rec();
    for (int i = 0; i < N_INST; i++) {
        irq_init(&rtc_irq[i], irq_rec, (void *)(intptr_t)i, 8);
        rtc[i] = rtc_init(&map[i], &clk[i], &rtc_irq[i], RTC_EPOCH);
        CHECK(rtc[i] != NULL);
    }
    run_to(A, 300 * MS);
    for (int k = 0x20; k < 0x80; k += 7)
        rwr(A, k, (uint8_t)(k * 3 + 1));
    /* Set the clock to 2031-05-17 21:43:50, binary mode. */
    rwr(A, 0x0b, RTC_B_SET | RTC_B_24H | RTC_B_DM);
    rwr(A, 0x00, 50);
    rwr(A, 0x02, 43);
    rwr(A, 0x04, 21);
    rwr(A, 0x07, 17);
    rwr(A, 0x08, 5);
    rwr(A, 0x09, 31);
    rwr(A, 0x32, 20);
    rwr(A, 0x0a, RTC_A_DV_32K | 10);    /* 64 Hz periodic */
    rwr(A, 0x0b, RTC_B_24H | RTC_B_DM | RTC_B_PIE | RTC_B_UIE);
    run_to(A, 1700 * MS);
    CHECK(irq_rises[A] > 0);
    CHECK_EQ(rrd(A, 0x09), 31);
    CHECK_EQ(irq_level[A], 1);
    CHECK(rrd(A, 0x0c) & RTC_C_IRQF);   /* clears the flags: the timer re-arms */
    run_to(A, 1701 * MS);               /* the next 64 Hz edge is at 1703.125 ms */
    out8(A, 0x70, 0x21);
    CHECK_EQ(irq_level[A], 0);
    CHECK_EQ(vclock_next_deadline(&clk[A]), 1703125000);

    size_t len;
    uint8_t *st = save_bytes(rtc_fn, rtc[A], &clk[A], &len);
    CHECK_EQ(field_value(st, len, "index", 0), 0x21);
    CHECK_EQ(field_value(st, len, "epoch", 0), RTC_EPOCH);
    CHECK(field_value(st, len, "sec_offset", 0) != 0);
    clk[B].now = clk[A].now;
    char err[256];
    CHECK(load_bytes(rtc_fn, rtc[B], &clk[B], st, len, err, sizeof err));
    CHECK(!err[0]);
    CHECK_EQ(irq_calls[B], 0);
    CHECK_EQ(vclock_next_deadline(&clk[B]), vclock_next_deadline(&clk[A]));
    CHECK(same_save(rtc_fn, rtc[A], &clk[A], rtc[B], &clk[B]));
    irq_level[B] = rtc[B]->irq_level;
    Trace ta = { 0 }, tb = { 0 };
    rtc_script(A, &ta);
    rtc_script(B, &tb);
    CHECK_EQ(ta.v[2], 0x21);
    CHECK_EQ(ta.v[10], 31);             /* year */
    same_trace("rtc", &ta, &tb);

    damage_tests("rtc", rtc_fn, rtc[C], &clk[C], st, len);
    refuse_patch(rtc_fn, rtc[C], &clk[C], st, len, "index", 0, 0x80, "index");
    refuse_patch(rtc_fn, rtc[C], &clk[C], st, len, "index", 0, 0xff, "index");
    refuse_patch(rtc_fn, rtc[C], &clk[C], st, len, "phase", 0, SEC, "phase");
    refuse_patch(rtc_fn, rtc[C], &clk[C], st, len, "epoch", 0, INT64_MAX, "time base");
    refuse_patch(rtc_fn, rtc[C], &clk[C], st, len, "sec_offset", 0, (uint64_t)INT64_MAX, "time base");
    refuse_patch(rtc_fn, rtc[C], &clk[C], st, len, "cmos", RTC_REG_A, RTC_A_UIP | RTC_A_DV_32K, "register A");
    refuse_patch(rtc_fn, rtc[C], &clk[C], st, len, "cmos", RTC_REG_C, 0x0f, "register A");
    refuse_patch(rtc_fn, rtc[C], &clk[C], st, len, "irq_level", 0, 1, "IRQ level");
    CHECK_EQ(irq_calls[C], 0);
    free(st);
    for (int i = 0; i < N_INST; i++)
        free(rtc[i]);
}

/* ---- sysreset ---- */

static int resets[N_INST];

static void reset_rec(void *opaque)
{
    resets[(intptr_t)opaque]++;
}

static void test_sysreset(void)
{
    fresh_instances();
    memset(resets, 0, sizeof resets);
    SysResetState *sr[N_INST];
    for (int i = 0; i < N_INST; i++) {
        sr[i] = sysreset_init(&map[i], reset_rec, (void *)(intptr_t)i);
        CHECK(sr[i] != NULL);
    }
    out8(A, 0x92, 0x03);                /* A20 on, and a fast reset */
    CHECK_EQ(resets[A], 1);
    size_t len;
    uint8_t *st = save_bytes(sysreset_fn, sr[A], &clk[A], &len);
    char err[256];
    CHECK(load_bytes(sysreset_fn, sr[B], &clk[B], st, len, err, sizeof err));
    CHECK_EQ(resets[B], 0);             /* a load never resets */
    CHECK_EQ(in8(B, 0x92), 0x03);
    out8(A, 0x92, 0x02);
    out8(B, 0x92, 0x02);
    CHECK_EQ(in8(A, 0x92), in8(B, 0x92));
    damage_tests("sysreset", sysreset_fn, sr[C], &clk[C], st, len);
    refuse_patch(sysreset_fn, sr[C], &clk[C], st, len, "port_a", 0, 0x04, "port 0x92");
    CHECK_EQ(resets[C], 0);
    free(st);
    for (int i = 0; i < N_INST; i++)
        free(sr[i]);
}

/* ---- i8042 ---- */

static void test_i8042(void)
{
    fresh_instances();
    memset(resets, 0, sizeof resets);
    I8042State *k[N_INST];
    for (int i = 0; i < N_INST; i++) {
        k[i] = i8042_init(&map[i], NULL, NULL, reset_rec, (void *)(intptr_t)i);
        CHECK(k[i] != NULL);
    }
    /* Mid-conversation: a keyboard reply queued, a command waiting for its byte. */
    out8(A, 0x60, 0xf2);                /* identify: FA AB 41 */
    CHECK_EQ(in8(A, 0x60), 0xfa);
    out8(A, 0x64, 0x60);                /* write the command byte: next data byte */
    size_t len;
    uint8_t *st = save_bytes(i8042_fn, k[A], &clk[A], &len);
    char err[256];
    CHECK(load_bytes(i8042_fn, k[B], &clk[B], st, len, err, sizeof err));
    for (int i = A; i <= B; i++)
        out8(i, 0x60, 0x47);
    CHECK_EQ(in8(A, 0x64), in8(B, 0x64));
    CHECK_EQ(in8(B, 0x60), 0xab);
    CHECK_EQ(in8(B, 0x60), 0x41);
    out8(B, 0x64, 0x20);
    CHECK_EQ(in8(B, 0x60), 0x47);
    CHECK_EQ(resets[B], 0);
    damage_tests("i8042", i8042_fn, k[C], &clk[C], st, len);
    refuse_patch(i8042_fn, k[C], &clk[C], st, len, "kbd_count", 0, 17, "i8042");
    refuse_patch(i8042_fn, k[C], &clk[C], st, len, "pending", 0, 0x99, "i8042");
    CHECK_EQ(resets[C], 0);
    free(st);
    for (int i = 0; i < N_INST; i++)
        free(k[i]);
}

/* ---- PCI ---- */

#define FAKE_DEVFN PCI_DEVFN(3, 0)
#define FAKE_LINE  11

static PCIBus *bus[N_INST];
static PCIDevice *fake[N_INST];
static IRQSignal pci_sink[N_INST];
static int fake_accesses[N_INST], hook_writes[N_INST];

static uint32_t fake_read(void *opaque, uint32_t off, int size_log2)
{
    int i = (int)(intptr_t)opaque;
    (void)size_log2;
    fake_accesses[i]++;
    return 0xab000000u | off;
}

static void fake_write(void *opaque, uint32_t off, uint32_t val, int size_log2)
{
    (void)off, (void)val, (void)size_log2;
    fake_accesses[(intptr_t)opaque]++;
}

static void hook_write(void *opaque, uint32_t addr, uint32_t val, int size_log2)
{
    (void)addr, (void)val, (void)size_log2;
    hook_writes[(intptr_t)opaque]++;
}

static uint32_t cfg_addr(int devfn, int reg) { return PCI_CONFIG_ENABLE | (uint32_t)devfn << 8 | (reg & 0xfc); }

static uint32_t conf_read(int i, int devfn, int reg, int size_log2)
{
    iomap_port_write(&map[i], PCI_CONFIG_ADDRESS, cfg_addr(devfn, reg), 2);
    return iomap_port_read(&map[i], PCI_CONFIG_DATA + (reg & 3), size_log2);
}

static void conf_write(int i, int devfn, int reg, uint32_t val, int size_log2)
{
    iomap_port_write(&map[i], PCI_CONFIG_ADDRESS, cfg_addr(devfn, reg), 2);
    iomap_port_write(&map[i], PCI_CONFIG_DATA + (reg & 3), val, size_log2);
}

static IoRange *mmio_range(int i, uint32_t addr)
{
    for (int k = 0; k < map[i].n_mmio; k++)
        if (addr >= map[i].mmio[k].base && addr - map[i].mmio[k].base < map[i].mmio[k].len)
            return &map[i].mmio[k];
    return NULL;
}

static uint32_t mmio_read(int i, uint32_t addr, int size_log2)
{
    IoRange *r = mmio_range(i, addr);
    return r ? iorange_read(r, addr - r->base, size_log2) : 0xffffffffu;
}

static void mmio_write(int i, uint32_t addr, uint32_t val, int size_log2)
{
    IoRange *r = mmio_range(i, addr);
    if (r)
        iorange_write(r, addr - r->base, val, size_log2);
}

static void pci_script(int i, Trace *t)
{
    tr(t, iomap_port_read(&map[i], PCI_CONFIG_ADDRESS, 2));
    tr(t, in8(i, PIIX_RCR));
    tr(t, iomap_port_read(&map[i], PCI_CONFIG_DATA, 2));     /* through the loaded latch */
    for (int reg = 0; reg < 0x100; reg += 4) {
        tr(t, conf_read(i, 0, reg, 2));
        tr(t, conf_read(i, FAKE_DEVFN, reg, 2));
    }
    tr(t, fake[i]->bars[0].range.base);
    tr(t, fake[i]->bars[1].range.base);
    fake_accesses[i] = 0;
    tr(t, mmio_read(i, 0xfe020008, 2));    /* the moved BAR decodes ... */
    tr(t, mmio_read(i, 0xfe010008, 2));    /* ... its old place does not */
    tr(t, iomap_port_read(&map[i], 0xc104, 2));     /* I/O decode is off */
    tr(t, fake_accesses[i]);
    tr(t, irq_level[i]);
    conf_write(i, FAKE_DEVFN, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 1);
    tr(t, irq_level[i]);                /* Interrupt Disable lifted: INTx shows */
    tr(t, iomap_port_read(&map[i], 0xc104, 2));
    mmio_write(i, 0xfe020010, 0x55, 2);
    tr(t, fake_accesses[i]);
    pci_set_irq(fake[i], 0);
    tr(t, irq_level[i]);
    tr(t, conf_read(i, FAKE_DEVFN, PCI_STATUS, 1));
    conf_write(i, FAKE_DEVFN, PCI_BASE_ADDRESS_0 + 4, 0xffffffffu, 2);     /* sizing */
    tr(t, conf_read(i, FAKE_DEVFN, PCI_BASE_ADDRESS_0 + 4, 2));
    tr(t, resets[i]);
    out8(i, PIIX_RCR, PIIX_RCR_SYS_RST | PIIX_RCR_RST_CPU);
    tr(t, resets[i]);
    tr(t, irq_calls[i]);
}

static void pci_setup(int i)
{
    bus[i] = pci_init(&map[i], reset_rec, (void *)(intptr_t)i);
    CHECK(bus[i] != NULL);
    irq_init(&pci_sink[i], irq_rec, (void *)(intptr_t)i, FAKE_LINE);
    pci_bus_set_irq_sink(bus[i], FAKE_LINE, &pci_sink[i]);
    fake[i] = pci_register_device(bus[i], "fake", FAKE_DEVFN, 0x1af4, 0x1000, 0x01, 0x020000, 1, FAKE_LINE);
    CHECK(fake[i] != NULL);
    IoRange r = { .opaque = (void *)(intptr_t)i, .read = fake_read, .write = fake_write,
                  .flags = IO_SIZE8 | IO_SIZE16 | IO_SIZE32, .name = "fake" };
    pci_set_bar(fake[i], 0, 0x20, 1, 0xc100, &r);
    pci_set_bar(fake[i], 1, 0x1000, 0, 0xfe010000, &r);
    pci_set_config_hooks(fake[i], NULL, hook_write, (void *)(intptr_t)i);
}

static void test_pci(void)
{
    fresh_instances();
    irq_reset_rec();
    memset(resets, 0, sizeof resets);
    memset(hook_writes, 0, sizeof hook_writes);
    for (int i = 0; i < N_INST; i++)
        pci_setup(i);
    conf_write(A, FAKE_DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE, 1);
    conf_write(A, FAKE_DEVFN, PCI_BASE_ADDRESS_0 + 4, 0xfe020000, 2);
    conf_write(A, FAKE_DEVFN, PCI_CACHE_LINE_SIZE, 0x10, 0);
    conf_write(A, FAKE_DEVFN, PCI_LATENCY_TIMER, 0x40, 0);
    conf_write(A, FAKE_DEVFN, PCI_INTERRUPT_LINE, 0x0a, 0);
    conf_write(A, FAKE_DEVFN, PCI_STATUS, 0xffff, 1);
    conf_write(A, 0, PCI_COMMAND, PCI_COMMAND_MEMORY, 1);
    pci_set_irq(fake[A], 1);            /* masked by Interrupt Disable */
    CHECK_EQ(irq_level[A], 0);
    out8(A, PIIX_RCR, PIIX_RCR_SYS_RST);
    iomap_port_write(&map[A], PCI_CONFIG_ADDRESS, cfg_addr(FAKE_DEVFN, PCI_INTERRUPT_LINE), 2);
    CHECK_EQ(resets[A], 0);

    size_t len;
    uint8_t *st = save_bytes(pci_fn, bus[A], &clk[A], &len);
    CHECK_EQ(field_value(st, len, "config_address", 0), cfg_addr(FAKE_DEVFN, PCI_INTERRUPT_LINE));
    CHECK_EQ(field_value(st, len, "00:03.0.irq_level", 0), 1);
    CHECK_EQ(field_value(st, len, "00:03.0.config", PCI_COMMAND), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    char err[256];
    int hooks_before = hook_writes[B];
    CHECK(load_bytes(pci_fn, bus[B], &clk[B], st, len, err, sizeof err));
    CHECK(!err[0]);
    CHECK_EQ(irq_calls[B], 0);
    CHECK_EQ(resets[B], 0);
    CHECK_EQ(hook_writes[B], hooks_before);
    CHECK_EQ(fake[B]->bars[1].range.base, 0xfe020000);
    CHECK(same_save(pci_fn, bus[A], &clk[A], bus[B], &clk[B]));
    Trace ta = { 0 }, tb = { 0 };
    irq_calls[A] = irq_calls[B] = 0;
    pci_script(A, &ta);
    pci_script(B, &tb);
    CHECK_EQ(ta.v[2], 0x0000010a);      /* Interrupt Pin 1, Line 0x0a */
    CHECK_EQ(ta.v[3 + 2 * 64 + 1], 0xfe020000);
    CHECK_EQ(ta.v[3 + 2 * 64 + 2], 0xab000008);
    CHECK_EQ(ta.v[3 + 2 * 64 + 3], 0xffffffff);
    same_trace("pci", &ta, &tb);

    damage_tests("pci", pci_fn, bus[C], &clk[C], st, len);
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "config_address", 0, 0x7f000000, "reserved bits");
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "rcr", 0, 0x01, "reset control");
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "00:03.0.config", PCI_VENDOR_ID, 0x86, "read-only config byte 0");
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "00:03.0.config", PCI_BASE_ADDRESS_0 + 4, 0x01,
                 "read-only config byte 0x14");     /* a memory BAR turned I/O */
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "00:03.0.config", PCI_BASE_ADDRESS_0 + 5, 0x08,
                 "read-only config byte 0x15");     /* below the BAR's size */
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "00:03.0.config", PCI_INTERRUPT_PIN, 2, "read-only");
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "00:03.0.irq_level", 0, 0, "INTx request");
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "00:03.0.irq_level", 0, 2, "INTx request");
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "devices", 0, 0x21, "function at 00:00.5, this machine has none");
    refuse_patch(pci_fn, bus[C], &clk[C], st, len, "devices", 0, 0x01, "no function at 00:03.0");
    /* A writable byte changed is a state like any other. */
    uint8_t *p = patched(st, len, "00:03.0.config", PCI_CACHE_LINE_SIZE, 0x20);
    CHECK(load_bytes(pci_fn, bus[C], &clk[C], p, len, err, sizeof err));
    CHECK_EQ(conf_read(C, FAKE_DEVFN, PCI_CACHE_LINE_SIZE, 0), 0x20);
    free(p);
    CHECK_EQ(irq_calls[C], 0);
    CHECK_EQ(resets[C], 0);
    CHECK_EQ(hook_writes[C], 0);
    /* A bus without the device refuses the checkpoint that has it. */
    pci_free(bus[C]);
    iomap_init(&map[C]);
    bus[C] = pci_init(&map[C], NULL, NULL);
    refused(pci_fn, bus[C], &clk[C], st, len, "function at 00:03.0, this machine has none", 0);
    free(st);
    for (int i = 0; i < N_INST; i++)
        pci_free(bus[i]);
}

/* ---- AHCI ---- */

#define AHCI_RAM    (1u << 20)
#define AHCI_DEVFN  PCI_DEVFN(2, 0)
#define AHCI_ABAR   0xfebf0000u
#define DISK_SECTS  64

typedef struct MemDisk {
    Disk d;
    uint8_t data[DISK_SECTS * DISK_SECTOR_SIZE];
} MemDisk;

static int md_read(Disk *d, uint64_t lba, uint32_t count, void *buf)
{
    memcpy(buf, ((MemDisk *)d)->data + lba * DISK_SECTOR_SIZE, (size_t)count * DISK_SECTOR_SIZE);
    return 0;
}

static int md_write(Disk *d, uint64_t lba, uint32_t count, const void *buf)
{
    memcpy(((MemDisk *)d)->data + lba * DISK_SECTOR_SIZE, buf, (size_t)count * DISK_SECTOR_SIZE);
    return 0;
}

static int md_flush(Disk *d) { (void)d; return 0; }
static void md_close(Disk *d) { (void)d; }
static const DiskOps md_ops = { md_read, md_write, md_flush, md_close, NULL };

static MemDisk mdisk[N_INST];
static AHCIState *ahci[N_INST];
static uint8_t *aram[N_INST];
static int dma_calls[N_INST];

static void dma_rec(void *opaque, uint64_t pa, uint64_t len)
{
    (void)pa, (void)len;
    dma_calls[(intptr_t)opaque]++;
}

static uint32_t hrd(int i, uint32_t off) { return mmio_read(i, AHCI_ABAR + off, 2); }
static void hwr(int i, uint32_t off, uint32_t v) { mmio_write(i, AHCI_ABAR + off, v, 2); }
static uint32_t prd(int i, int port, uint32_t reg) { return hrd(i, AHCI_PORT_BASE + AHCI_PORT_SIZE * port + reg); }
static void pwr(int i, int port, uint32_t reg, uint32_t v) { hwr(i, AHCI_PORT_BASE + AHCI_PORT_SIZE * port + reg, v); }

static void put32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* Command slot `slot` at clb: an H2D FIS (LBA mode) with one PRD. */
static void build_cmd(int i, uint32_t clb, int slot, uint8_t cmd, uint32_t lba, uint8_t count, uint32_t buf,
                      uint32_t buflen)
{
    uint8_t *ram = aram[i];
    uint32_t hdr = clb + 32 * slot, tbl = 0x40000 + 0x400 * slot;
    memset(ram + hdr, 0, 32);
    memset(ram + tbl, 0, 0x90);
    put32(ram + hdr, 5 | 1u << 16);
    put32(ram + hdr + 8, tbl);
    ram[tbl] = FIS_TYPE_REG_H2D;
    ram[tbl + 1] = 0x80;
    ram[tbl + 2] = cmd;
    ram[tbl + 4] = (uint8_t)lba;
    ram[tbl + 5] = (uint8_t)(lba >> 8);
    ram[tbl + 6] = (uint8_t)(lba >> 16);
    ram[tbl + 7] = 0x40;
    ram[tbl + 12] = count;
    put32(ram + tbl + 0x80, buf);
    put32(ram + tbl + 0x80 + 12, buflen - 1);
}

static void ahci_script(int i, Trace *t)
{
    static const uint32_t hba[] = { AHCI_CAP, AHCI_GHC, AHCI_IS, AHCI_PI, AHCI_VS };
    for (size_t k = 0; k < 5; k++)
        tr(t, hrd(i, hba[k]));
    for (int port = 0; port < AHCI_NUM_PORTS; port++)
        for (uint32_t reg = 0; reg < 0x40; reg += 4)
            tr(t, prd(i, port, reg));
    tr(t, conf_read(i, AHCI_DEVFN, PCI_STATUS, 1));
    tr(t, conf_read(i, AHCI_DEVFN, PCI_COMMAND, 1));
    tr(t, conf_read(i, AHCI_DEVFN, PCI_BASE_ADDRESS_0 + 4 * AHCI_BAR, 2));
    tr(t, irq_level[i]);
    pwr(i, 0, AHCI_PxIS, 0xffffffffu);
    hwr(i, AHCI_IS, 0xffffffffu);
    tr(t, irq_level[i]);
    build_cmd(i, 0x10000, 1, 0xc8 /* READ DMA */, 3, 2, 0x60000, 1024);
    pwr(i, 0, AHCI_PxCI, 1u << 1);
    tr(t, prd(i, 0, AHCI_PxCI));
    tr(t, prd(i, 0, AHCI_PxIS));
    tr(t, prd(i, 0, AHCI_PxTFD));
    tr(t, irq_level[i]);
    tr(t, !memcmp(aram[i] + 0x60000, mdisk[i].data + 3 * DISK_SECTOR_SIZE, 1024));
    tr(t, aram[i][0x11000 + AHCI_RFIS_RFIS]);       /* D2H FIS posted */
    /* The halted port: CI stays until ST is cleared. */
    tr(t, prd(i, 1, AHCI_PxCI));
    pwr(i, 1, AHCI_PxCI, 1u << 4);
    tr(t, prd(i, 1, AHCI_PxCI));
    pwr(i, 1, AHCI_PxCMD, AHCI_PxCMD_FRE);
    tr(t, prd(i, 1, AHCI_PxCI));
    tr(t, prd(i, 1, AHCI_PxCMD));
    pwr(i, 1, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    pwr(i, 1, AHCI_PxCI, 1u << 0);
    tr(t, prd(i, 1, AHCI_PxCI));
    tr(t, prd(i, 1, AHCI_PxCMD));
    tr(t, irq_calls[i]);
    tr(t, dma_calls[i]);
}

static void ahci_setup(int i, int with_disk)
{
    bus[i] = pci_init(&map[i], NULL, NULL);
    CHECK(bus[i] != NULL);
    irq_init(&pci_sink[i], irq_rec, (void *)(intptr_t)i, FAKE_LINE);
    pci_bus_set_irq_sink(bus[i], FAKE_LINE, &pci_sink[i]);
    aram[i] = calloc(1, AHCI_RAM);
    ahci[i] = ahci_init(bus[i], AHCI_DEVFN, FAKE_LINE, AHCI_ABAR, aram[i], AHCI_RAM, dma_rec, (void *)(intptr_t)i);
    CHECK(ahci[i] != NULL);
    mdisk[i].d = (Disk){ .ops = &md_ops, .sectors = DISK_SECTS };
    for (size_t k = 0; k < sizeof mdisk[i].data; k++)
        mdisk[i].data[k] = (uint8_t)(k * 7 + k / 512);
    if (with_disk)
        CHECK_EQ(ahci_attach(ahci[i], 0, &mdisk[i].d), 0);
}

static void test_ahci(void)
{
    fresh_instances();
    irq_reset_rec();
    memset(dma_calls, 0, sizeof dma_calls);
    for (int i = 0; i < N_INST; i++)
        ahci_setup(i, 1);
    /* Port 0: command list, FIS area, interrupts, started; one IDENTIFY. */
    hwr(A, AHCI_GHC, AHCI_GHC_IE);
    pwr(A, 0, AHCI_PxCLB, 0x10000);
    pwr(A, 0, AHCI_PxFB, 0x11000);
    pwr(A, 0, AHCI_PxIE, 0xffffffffu);
    pwr(A, 0, AHCI_PxCMD, AHCI_PxCMD_FRE);
    pwr(A, 0, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    build_cmd(A, 0x10000, 0, 0xec /* IDENTIFY */, 0, 0, 0x50000, 512);
    pwr(A, 0, AHCI_PxCI, 1);
    CHECK_EQ(prd(A, 0, AHCI_PxCI), 0);
    CHECK_EQ(irq_level[A], 1);
    /* Port 1 has no disk: a command halts it with CI set. */
    pwr(A, 1, AHCI_PxCLB, 0x14000);
    pwr(A, 1, AHCI_PxFB, 0x15000);
    pwr(A, 1, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    pwr(A, 1, AHCI_PxCI, 1u << 3);
    CHECK_EQ(prd(A, 1, AHCI_PxCI), 1u << 3);
    pwr(A, 3, AHCI_PxSCTL, 0x300);
    conf_write(A, AHCI_DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 1);

    size_t plen, alen;
    uint8_t *pst = save_bytes(pci_fn, bus[A], &clk[A], &plen);
    uint8_t *ast = save_bytes(ahci_fn, ahci[A], &clk[A], &alen);
    CHECK_EQ(field_value(ast, alen, "port[1].halted", 0), 1);
    CHECK_EQ(field_value(ast, alen, "port[0].clb", 0), 0x10000);
    CHECK_EQ(field_value(pst, plen, "00:02.0.irq_level", 0), 1);
    memcpy(aram[B], aram[A], AHCI_RAM);             /* the RAM section */
    char err[256];
    CHECK(load_bytes(pci_fn, bus[B], &clk[B], pst, plen, err, sizeof err));
    CHECK(load_bytes(ahci_fn, ahci[B], &clk[B], ast, alen, err, sizeof err));
    CHECK(!err[0]);
    CHECK_EQ(irq_calls[B], 0);
    CHECK_EQ(dma_calls[B], 0);
    CHECK(same_save(pci_fn, bus[A], &clk[A], bus[B], &clk[B]));
    CHECK(same_save(ahci_fn, ahci[A], &clk[A], ahci[B], &clk[B]));
    CHECK(!memcmp(aram[A], aram[B], AHCI_RAM));     /* a load writes no RAM */
    /* The PIC section carries the line level. */
    irq_level[B] = ahci[B]->pci->irq_level &&
                   !(pci_get_word(ahci[B]->pci->config + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
    CHECK_EQ(irq_level[B], 1);
    irq_calls[A] = irq_calls[B] = dma_calls[A] = dma_calls[B] = 0;
    Trace ta = { 0 }, tb = { 0 };
    ahci_script(A, &ta);
    ahci_script(B, &tb);
    same_trace("ahci", &ta, &tb);
    CHECK(!memcmp(aram[A], aram[B], AHCI_RAM));

    damage_tests("ahci", ahci_fn, ahci[C], &clk[C], ast, alen);
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[1].halted", 0, 0, "halted 0 with CI 0x8");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[1].halted", 0, 2, "halted 2");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[0].ci", 0, 1, "CI 0x1");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[2].sact", 0, 1, "SACT");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[0].cmd", 0,
                 AHCI_PxCMD_ST | AHCI_PxCMD_FRE | AHCI_PxCMD_FR | AHCI_PxCMD_SUD | AHCI_PxCMD_POD, "PxCMD");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[0].cmd", 0, 0xffffffffu, "PxCMD");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[0].clb", 0, 0x10001, "out of range");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[0].ie", 0, 0xffffffffu, "out of range");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "ghc", 0, 0, "GHC");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "is", 0, 0x10, "IS");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[2].ssts", 0, AHCI_SSTS_PRESENT,
                 "checkpoint has a disk there, this machine has none");
    refuse_patch(ahci_fn, ahci[C], &clk[C], ast, alen, "port[0].sig", 0, AHCI_SIG_NONE, "link registers");
    CHECK_EQ(irq_calls[C], 0);
    CHECK_EQ(dma_calls[C], 0);
    /* A machine without the disk refuses the checkpoint that has one. */
    pci_free(bus[C]);
    free(ahci[C]);
    free(aram[C]);
    iomap_init(&map[C]);
    ahci_setup(C, 0);
    refused(ahci_fn, ahci[C], &clk[C], ast, alen, "port 0: the checkpoint has a disk there, this machine has none", 0);
    free(pst);
    free(ast);
    for (int i = 0; i < N_INST; i++) {
        pci_free(bus[i]);
        free(ahci[i]);
        free(aram[i]);
    }
}

int main(void)
{
    test_codec();
    test_pic();
    test_pit();
    test_uart();
    test_rtc();
    test_sysreset();
    test_i8042();
    test_pci();
    test_ahci();
    return check_done();
}
