/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A run of the machine with its host-side duties: checkpoints (every N ticks,
 * on console lines matching a pattern, on SIGINT/SIGTERM), the journal of
 * state hashes, and verification of a run against a journal. */
#ifndef LBVM_SESSION_H
#define LBVM_SESSION_H
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "emu/machine.h"
#include "emu/vmstate.h"

/* The guest's event counts a journal point records (events=, in this
 * order; docs/checkpoint-format.md): blocks, TLB fills for read, write and
 * fetch, code flushes, page faults, other exceptions, int n, hardware
 * interrupts, halts, rdtsc. */
#define JOURNAL_N_EVENTS 11

/* One journal point as written or expected. */
typedef struct JournalPoint {
    uint64_t ticks;
    char kind[16];
    uint8_t console[32], state[32], ram[32];
    uint8_t disk[MACHINE_MAX_DISKS][32];
    int n_disks;
    bool has_events;          /* the point has counts (older journals and runs resumed
                               * from checkpoints without them have none) */
    uint64_t events[JOURNAL_N_EVENTS];
    char line[160];           /* console line that made it (markers) */
} JournalPoint;

typedef struct JournalInput {
    uint64_t ticks;
    uint8_t *bytes;
    int len;
} JournalInput;

typedef struct SessionOpts {
    CkptSession *cs;          /* checkpoints go here; NULL: none */
    uint64_t every;           /* checkpoint (and journal point) period in ticks, 0 = none */
    regex_t *pattern;         /* console lines that make a checkpoint / point */
    FILE *journal;            /* append points here; NULL: none */
    bool quiet;               /* no "checkpoint written" lines on stderr */
    uint64_t stall;           /* ticks without console output or disk I/O that end the run, 0 = never */
    /* Host-side observers (the console window), each may be NULL: a console
     * line matched `pattern` (a step); a checkpoint was written. */
    void (*on_step)(void *opaque, uint64_t ticks, const char *line);
    void (*on_checkpoint)(void *opaque, uint64_t ticks, const char *path);
    void *observer;
    /* verify: compare against these instead of writing */
    const JournalPoint *expect;
    int n_expect;
    const JournalInput *inputs;
    int n_inputs;
    bool stop_at_last;        /* verify: return once the last expected point matched (a segment) */
} SessionOpts;

typedef struct SessionResult {
    MachineEnd end;
    bool interrupted;         /* SIGINT/SIGTERM: final checkpoint taken */
    bool already_ended;       /* resumed from a final checkpoint: nothing ran */
    bool stalled;             /* no console output and no disk I/O for o->stall ticks */
    bool diverged;            /* verify: first difference below */
    int compared;             /* verify: points that matched */
    int index;                /* verify: index of the differing point */
    JournalPoint got, want;
    char what[128];           /* which hash or count differed */
    char error[2048];         /* checkpoint and host I/O failures */
} SessionResult;

/* Installs SIGINT/SIGTERM handlers that make session_run take a final
 * checkpoint and return. session_install_signals alone, early, holds a
 * signal that comes while a machine is still being built or loaded until
 * the run starts. */
void session_install_signals(void);
void session_catch_signals(Machine *m);
/* Runs until the guest ends, a checkpoint fails, a signal, or (verify) a
 * difference. Returns 0, or -1 with r->error set. */
int session_run(Machine *m, const SessionOpts *o, SessionResult *r);

/* verify: compares the machine now, as a checkpoint just left it (its
 * console link is the saved one), with the recorded point `want` (index
 * `index`). true if they agree; else r->diverged, r->what, r->got, r->want
 * and r->index say how. */
bool session_check_point(Machine *m, const JournalPoint *want, int index, SessionResult *r);

/* Journal lines (docs/checkpoint-format.md, "Journal"). */
void journal_write_point(FILE *f, const JournalPoint *p);
/* Reads the points and inputs of a journal; the "boot" line's text (after
 * "boot ") goes to boot_line. 0 or -1 with a message. */
int journal_read(const char *path, char *boot_line, size_t boot_len, JournalPoint **pts, int *n_pts,
                 JournalInput **inputs, int *n_inputs, char *err, size_t errlen);
/* The value of key= on a journal's boot line (its nth occurrence: disk=
 * repeats), percent-decoded; NULL if absent. The caller frees it. */
char *journal_boot_value(const char *line, const char *key, int nth);
/* Fills a point with the machine's hashes now; `link` links the console
 * chain here (false: a checkpoint at this point just did). */
void session_point(Machine *m, const char *kind, bool link, JournalPoint *p);
#endif
