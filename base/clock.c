/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Virtual clock: a handful of timers, scanned linearly (there are < 16). */
#include "base/clock.h"

#include <assert.h>
#include <stddef.h>

void vclock_init(VClock *c)
{
    *c = (VClock){ .next = VCLOCK_NEVER };
}

static void vclock_recompute(VClock *c)
{
    uint64_t old = c->next, n = VCLOCK_NEVER;
    for (int i = 0; i < c->n_timers; i++)
        if (c->timers[i]->expire < n)
            n = c->timers[i]->expire;
    c->next = n;
    if (n < old && c->deadline_changed)
        c->deadline_changed(c->deadline_opaque);
}

void vtimer_init(VTimer *t, VClock *c, VTimerFunc *cb, void *opaque)
{
    assert(c->n_timers < VCLOCK_MAX_TIMERS);
    *t = (VTimer){ .expire = VCLOCK_NEVER, .cb = cb, .opaque = opaque };
    c->timers[c->n_timers++] = t;
}

void vtimer_mod(VClock *c, VTimer *t, uint64_t expire)
{
    t->expire = expire;
    vclock_recompute(c);
}

void vtimer_del(VClock *c, VTimer *t)
{
    t->expire = VCLOCK_NEVER;
    vclock_recompute(c);
}

void vclock_run_timers(VClock *c)
{
    /* Fire in registration order among those due; a callback may re-arm its
     * timer (possibly still due), so loop until nothing is due. */
    for (;;) {
        VTimer *due = NULL;
        for (int i = 0; i < c->n_timers; i++)
            if (c->timers[i]->expire <= c->now) {
                due = c->timers[i];
                break;
            }
        if (!due)
            break;
        due->expire = VCLOCK_NEVER;
        due->cb(due->opaque);
    }
    vclock_recompute(c);
}
