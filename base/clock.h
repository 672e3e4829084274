/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Virtual time. The only source of time for the guest: the CPU layer advances
 * `now` by the guest code it executes (never from the host clock), devices
 * read it and arm timers on it. One tick is one nanosecond of guest time. */
#ifndef LBVM_CLOCK_H
#define LBVM_CLOCK_H
#include <stdbool.h>
#include <stdint.h>

#define VCLOCK_HZ 1000000000ull
#define VCLOCK_NEVER UINT64_MAX
#define VCLOCK_MAX_TIMERS 16

typedef void VTimerFunc(void *opaque);

typedef struct VTimer {
    uint64_t expire;           /* VCLOCK_NEVER when not armed */
    VTimerFunc *cb;
    void *opaque;
} VTimer;

typedef struct VClock {
    uint64_t now;              /* ticks of guest time since power-on */
    VTimer *timers[VCLOCK_MAX_TIMERS];
    int n_timers;
    uint64_t next;             /* earliest expire of all timers (cached) */
    /* Called whenever `next` moves earlier, so a running CPU can stop sooner. */
    void (*deadline_changed)(void *opaque);
    void *deadline_opaque;
} VClock;

void vclock_init(VClock *c);
static inline uint64_t vclock_now(const VClock *c) { return c->now; }
/* Register a timer (unarmed) with the clock. */
void vtimer_init(VTimer *t, VClock *c, VTimerFunc *cb, void *opaque);
void vtimer_mod(VClock *c, VTimer *t, uint64_t expire);
void vtimer_del(VClock *c, VTimer *t);
static inline bool vtimer_pending(const VTimer *t) { return t->expire != VCLOCK_NEVER; }
/* Fire every timer whose expire <= now (callbacks may re-arm). */
void vclock_run_timers(VClock *c);
static inline uint64_t vclock_next_deadline(const VClock *c) { return c->next; }

/* Convert between ticks and a device's own frequency, rounding down / up. */
static inline uint64_t vclock_to_hz(uint64_t ticks, uint64_t hz)
{
    return (uint64_t)((unsigned __int128)ticks * hz / VCLOCK_HZ);
}
static inline uint64_t vclock_from_hz(uint64_t n, uint64_t hz)
{
    return (uint64_t)(((unsigned __int128)n * VCLOCK_HZ + hz - 1) / hz);
}
#endif
