/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A fuzz input consumed front to back: take() copies the next len bytes, or
 * fails (leaving the input as it was) when fewer remain; part() cuts the next
 * NUL-terminated piece. Shared by the fuzz targets; a truncated operation ends
 * a run. check() aborts (a finding) when a property does not hold. */
#ifndef LBVM_FUZZ_INPUT_H
#define LBVM_FUZZ_INPUT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct Input {
    const uint8_t *p;
    size_t n;
} Input;

static inline bool take(Input *in, void *out, size_t len)
{
    if (in->n < len)
        return false;
    memcpy(out, in->p, len);
    in->p += len;
    in->n -= len;
    return true;
}

static inline void check(int ok)
{
    if (!ok)
        abort();
}

/* The bytes up to the next NUL (or the end), *n of them; *p moves past it. */
static inline const uint8_t *part(const uint8_t **p, const uint8_t *end, size_t *n)
{
    const uint8_t *s = *p, *z = memchr(s, 0, (size_t)(end - s));
    *n = z ? (size_t)(z - s) : (size_t)(end - s);
    *p = z ? z + 1 : end;
    return s;
}
#endif
