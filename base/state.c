/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Field-by-field state codec. A field is: name length (1 byte), the name,
 * element size (1 byte: 1, 2, 4 or 8), element count (u32), then the
 * elements, little-endian. */
#include "base/state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void state_init_save(StateIO *io, VClock *clock)
{
    *io = (StateIO){ .loading = false, .clock = clock };
}

void state_init_load(StateIO *io, const uint8_t *buf, size_t len, VClock *clock)
{
    *io = (StateIO){ .loading = true, .buf = (uint8_t *)buf, .len = len, .clock = clock };
}

void state_free(StateIO *io)
{
    if (!io->loading)
        free(io->buf);
    io->buf = NULL;
    io->len = io->cap = io->pos = 0;
}

void state_fail(StateIO *io, const char *fmt, ...)
{
    if (io->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(io->error, sizeof io->error, fmt, ap);
    va_end(ap);
    if (!io->error[0])
        snprintf(io->error, sizeof io->error, "invalid state");
}

bool state_finish(StateIO *io)
{
    if (io->loading && state_ok(io) && io->pos != io->len)
        state_fail(io, "%zu unexpected bytes after the last field", io->len - io->pos);
    return state_ok(io);
}

static void put(StateIO *io, const void *p, size_t n)
{
    if (!state_ok(io))
        return;
    if (io->len + n > io->cap) {
        size_t cap = io->cap ? io->cap : 256;
        while (cap < io->len + n)
            cap *= 2;
        uint8_t *b = realloc(io->buf, cap);
        if (!b) {
            state_fail(io, "out of memory");
            return;
        }
        io->buf = b;
        io->cap = cap;
    }
    memcpy(io->buf + io->len, p, n);
    io->len += n;
}

static const uint8_t *take(StateIO *io, size_t n, const char *name)
{
    if (!state_ok(io))
        return NULL;
    if (io->len - io->pos < n) {
        state_fail(io, "field %s: truncated", name);
        return NULL;
    }
    const uint8_t *p = io->buf + io->pos;
    io->pos += n;
    return p;
}

/* Writes or checks the field header; loading returns false on a mismatch. */
static bool field_header(StateIO *io, const char *name, unsigned elem, uint32_t count)
{
    size_t nl = strlen(name);
    if (nl > 255)
        nl = 255;
    if (!io->loading) {
        uint8_t h[6] = { (uint8_t)nl };
        put(io, h, 1);
        put(io, name, nl);
        h[0] = (uint8_t)elem;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (uint8_t)(count >> (8 * i));
        put(io, h, 5);
        return state_ok(io);
    }
    const uint8_t *p = take(io, 1, name);
    if (!p)
        return false;
    size_t got_nl = p[0];
    const uint8_t *n = take(io, got_nl, name);
    if (!n)
        return false;
    if (got_nl != nl || memcmp(n, name, nl)) {
        state_fail(io, "expected field %s, found %.*s", name, (int)got_nl, (const char *)n);
        return false;
    }
    const uint8_t *h = take(io, 5, name);
    if (!h)
        return false;
    uint32_t got_count = (uint32_t)h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16 | (uint32_t)h[4] << 24;
    if (h[0] != elem || got_count != count) {
        state_fail(io, "field %s: %u x %u-byte values, expected %u x %u", name, got_count, h[0], count, elem);
        return false;
    }
    return true;
}

/* n little-endian elements of `elem` bytes, to or from host integers. */
static void field(StateIO *io, const char *name, void *v, unsigned elem, size_t n)
{
    if (!state_ok(io))
        return;
    if (n > UINT32_MAX) {
        state_fail(io, "field %s: too many values", name);
        return;
    }
    if (!field_header(io, name, elem, (uint32_t)n))
        return;
    for (size_t i = 0; i < n; i++) {
        uint8_t le[8];
        uint64_t x = 0;
        if (!io->loading) {
            switch (elem) {
            case 1: x = ((uint8_t *)v)[i]; break;
            case 2: x = ((uint16_t *)v)[i]; break;
            case 4: x = ((uint32_t *)v)[i]; break;
            case 8: x = ((uint64_t *)v)[i]; break;
            }
            for (unsigned b = 0; b < elem; b++)
                le[b] = (uint8_t)(x >> (8 * b));
            put(io, le, elem);
        } else {
            const uint8_t *p = take(io, elem, name);
            if (!p)
                return;
            for (unsigned b = 0; b < elem; b++)
                x |= (uint64_t)p[b] << (8 * b);
            switch (elem) {
            case 1: ((uint8_t *)v)[i] = (uint8_t)x; break;
            case 2: ((uint16_t *)v)[i] = (uint16_t)x; break;
            case 4: ((uint32_t *)v)[i] = (uint32_t)x; break;
            case 8: ((uint64_t *)v)[i] = x; break;
            }
        }
    }
}

void state_u8(StateIO *io, const char *name, uint8_t *v) { field(io, name, v, 1, 1); }
void state_u16(StateIO *io, const char *name, uint16_t *v) { field(io, name, v, 2, 1); }
void state_u32(StateIO *io, const char *name, uint32_t *v) { field(io, name, v, 4, 1); }
void state_u64(StateIO *io, const char *name, uint64_t *v) { field(io, name, v, 8, 1); }
void state_u8s(StateIO *io, const char *name, uint8_t *v, size_t n) { field(io, name, v, 1, n); }
void state_u32s(StateIO *io, const char *name, uint32_t *v, size_t n) { field(io, name, v, 4, n); }
void state_u64s(StateIO *io, const char *name, uint64_t *v, size_t n) { field(io, name, v, 8, n); }

void state_bool(StateIO *io, const char *name, bool *v)
{
    uint8_t b = *v;
    field(io, name, &b, 1, 1);
    if (io->loading && state_ok(io)) {
        state_check(io, b <= 1, "field %s: %u is not a boolean", name, b);
        *v = b;
    }
}

void state_int(StateIO *io, const char *name, int *v)
{
    uint32_t u = (uint32_t)*v;
    field(io, name, &u, 4, 1);
    if (io->loading && state_ok(io))
        *v = (int)(int32_t)u;
}

void state_timer(StateIO *io, const char *name, VTimer *t)
{
    uint64_t e = t->expire;
    field(io, name, &e, 8, 1);
    if (!io->loading || !state_ok(io))
        return;
    if (e == VCLOCK_NEVER)
        vtimer_del(io->clock, t);
    else
        vtimer_mod(io->clock, t, e);
}
