/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Saved state, field by field, in halfix's symmetric shape: one function per
 * device (xxx_state) both writes and reads its fields, so save and load can
 * never drift apart. Fields are tagged with their name and size and stored
 * little-endian (docs/checkpoint-format.md): a checkpoint depends neither on
 * the host's byte order and word size nor on a struct layout.
 *
 * Loading is strict: each field must come in the order and with the name and
 * size the code expects, else the first mismatch becomes the error. Errors
 * are sticky: after one, every call is a no-op and state_error() says why.
 * A load overwrites fields only; it never raises IRQs or calls other devices
 * (the machine re-derives wiring levels afterwards). */
#ifndef LBVM_STATE_H
#define LBVM_STATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"

typedef struct StateIO {
    bool loading;
    uint8_t *buf;           /* saving: grows; loading: the section's payload */
    size_t len, cap, pos;
    VClock *clock;          /* for state_timer */
    char error[256];        /* "" while all is well */
} StateIO;

void state_init_save(StateIO *io, VClock *clock);
void state_init_load(StateIO *io, const uint8_t *buf, size_t len, VClock *clock);
/* Frees the buffer a save grew (a load's buffer is the caller's). */
void state_free(StateIO *io);
static inline bool state_loading(const StateIO *io) { return io->loading; }
static inline bool state_ok(const StateIO *io) { return io->error[0] == 0; }
static inline const char *state_error(const StateIO *io) { return io->error; }
/* Loading: fails unless every byte of the payload was taken. */
bool state_finish(StateIO *io);

void state_u8(StateIO *io, const char *name, uint8_t *v);
void state_u16(StateIO *io, const char *name, uint16_t *v);
void state_u32(StateIO *io, const char *name, uint32_t *v);
void state_u64(StateIO *io, const char *name, uint64_t *v);
void state_bool(StateIO *io, const char *name, bool *v);
/* An int stored as a signed 32-bit value. */
void state_int(StateIO *io, const char *name, int *v);
/* Arrays of unsigned integers (each element little-endian). */
void state_u8s(StateIO *io, const char *name, uint8_t *v, size_t n);
void state_u32s(StateIO *io, const char *name, uint32_t *v, size_t n);
void state_u64s(StateIO *io, const char *name, uint64_t *v, size_t n);
/* A timer's expiry (VCLOCK_NEVER when idle); loading re-arms it on io->clock. */
void state_timer(StateIO *io, const char *name, VTimer *t);

/* Loading: refuse a value the device could never have had (a post-load
 * check, as QEMU's). Sets the error if none is set yet. */
void state_fail(StateIO *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Loading: check `cond`, else state_fail with the message. */
#define state_check(io, cond, ...) \
    do { if (state_loading(io) && state_ok(io) && !(cond)) state_fail((io), __VA_ARGS__); } while (0)
#endif
