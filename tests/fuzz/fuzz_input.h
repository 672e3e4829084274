/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A fuzz input consumed front to back: take() copies the next len bytes, or
 * fails (leaving the input as it was) when fewer remain. Shared by the
 * fuzz targets; a truncated operation ends a run. */
#ifndef LBVM_FUZZ_INPUT_H
#define LBVM_FUZZ_INPUT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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
#endif
