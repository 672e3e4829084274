/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `lbvm bootstrap`: the whole live-bootstrap run in one command. Fetches the
 * distfiles (steps/fetch.h), builds sysa's initramfs and sysc's disk
 * (steps/build.h), then runs the guest as a child process (`lbvm boot`, or
 * `lbvm resume` from the newest usable checkpoint), watches its console file
 * and stderr, prints one progress line per step, and decides success (the
 * console says "Bootstrapping completed.") or failure (a panic, a failed
 * checksum, a stall, any end before completion). docs/definitions.md has the
 * contract: what is read from a tree, step markers, progress, exit codes,
 * the work folder and resuming.
 *
 * Host-side code only; the emulator itself runs in the child, exactly as
 * `lbvm boot` does. */
#ifndef LBVM_BOOTSTRAP_H
#define LBVM_BOOTSTRAP_H
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A step starts with one of these console lines (POSIX extended regular
 * expression, matched against each line without its line ending):
 *  - "PKG: beginning build using script SCRIPT", printed by live-bootstrap's
 *    build() in sysa/helpers.sh and sysc/helpers.sh (2023 layout);
 *  - " +> kaem --file PKG-VERSION.kaem", the echo of the early sysa steps run
 *    from sysa/run.kaem by kaem (kaem echoes each command after " +> ").
 * The step's name is the first capture group that matched. */
#define BOOTSTRAP_DEFAULT_STEP_REGEX                                                   \
    "^([A-Za-z0-9][A-Za-z0-9_.+-]*): beginning build using script "                    \
    "|^ \\+> kaem --file ([A-Za-z0-9_.+-]+-[0-9][A-Za-z0-9_.+-]*)\\.kaem( |$)"

#define BOOTSTRAP_COMPLETED_LINE "Bootstrapping completed."
#define BOOTSTRAP_DEFAULT_MEM_MIB 4096        /* what live-bootstrap gives its guest */
#define BOOTSTRAP_DEFAULT_STALL_S 600         /* guest seconds without console output or disk I/O */
#define BOOTSTRAP_DEFAULT_KEEP 8              /* checkpoint files kept (the newest); disk layers all stay */
#define BOOTSTRAP_DEFAULT_WORKDIR "lbvm-work"
#define BOOTSTRAP_GRACE_S 30                  /* host seconds the guest gets to power off after completing */

/* Exit codes of bootstrap_run() and `lbvm bootstrap`. */
enum {
    BOOTSTRAP_EXIT_OK = 0,        /* "Bootstrapping completed." was seen */
    BOOTSTRAP_EXIT_SETUP = 1,     /* usage, lock, fetch, build, cannot start or resume the guest */
    BOOTSTRAP_EXIT_FAILED = 2,    /* the guest run failed before completing (details printed) */
    BOOTSTRAP_EXIT_MISSING = 3,   /* stopped at the first step whose distfiles the build left out */
    BOOTSTRAP_EXIT_STOPPED = 5,   /* SIGINT/SIGTERM: the guest saved a checkpoint; --resume continues */
};

typedef struct BootstrapOptions {
    const char *kernel;       /* sysa's kernel (bzImage); NULL: the pinned Debian kernel (steps/kernel.h) */
    const char *tree;         /* live-bootstrap checkout, 2023 layout (sysa/, sysb/, sysc/) */
    const char *workdir;      /* NULL: BOOTSTRAP_DEFAULT_WORKDIR; created if missing */
    const char *distdir;      /* NULL: fetch_default_distdir() */
    uint64_t mem_mib;         /* 0: BOOTSTRAP_DEFAULT_MEM_MIB */
    uint64_t disk_size;       /* 0: BUILD_DEFAULT_DISK_SIZE */
    uint64_t stall_s;         /* 0: BOOTSTRAP_DEFAULT_STALL_S */
    uint64_t keep;            /* checkpoint files to keep; 0: BOOTSTRAP_DEFAULT_KEEP */
    int resume;               /* continue from the newest usable checkpoint */
    int fresh;                /* discard an earlier run's checkpoints and start over */
    int offline;              /* download nothing; fail naming the missing distfiles */
    int allow_missing;        /* build without missing distfiles; stop at the first step needing one */
    int own_seeds;            /* lbvm's seeds (seeds/seeds.h) instead of the tree's */
    const char *step_regex;   /* NULL: BOOTSTRAP_DEFAULT_STEP_REGEX */
    const char *self_exe;     /* the lbvm program run as the child; NULL: /proc/self/exe */
    FILE *out;                /* progress and summary; NULL: stdout (errors always go to stderr) */
} BootstrapOptions;

/* Runs the whole bootstrap. Returns one of the BOOTSTRAP_EXIT_* codes after
 * printing its outcome (errors as one line "lbvm: ..." on stderr). */
int bootstrap_run(const BootstrapOptions *o);

/* The number of steps a tree defines (the m of "step n/m"): in
 * TREE/sysa, TREE/sysb and TREE/sysc, every line of a top-level run*.sh whose
 * first word is `build`, plus every line of a top-level run*.kaem that runs
 * `kaem --file`; comment lines are skipped. Returns the count (0 if none). */
int bootstrap_count_steps(const char *tree);

/* If line (without its line ending) matches re, writes the step's name (the
 * first capture group that matched, else the line itself) to name and
 * returns 1; else returns 0. */
int bootstrap_step_name(const regex_t *re, const char *line, char *name, size_t len);

/* Why a console line shows a failed bootstrap, or NULL: a kernel panic,
 * "Attempted to kill init", a checksum that did not match (sha256sum -c's
 * "NAME: FAILED" and "did NOT match" lines, "checksum mismatch"), or kaem's
 * "ABORTING HARD". */
const char *bootstrap_failure_reason(const char *line);

/* What `lbvm inspect` says about a checkpoint, as the runner needs it. */
typedef struct BootstrapCheckpoint {
    char path[4096];
    unsigned long long number;         /* N of ckpt-N.lbvm */
    unsigned long long ticks;          /* guest time */
    unsigned long long console_bytes;  /* console bytes written before it */
    int running;                       /* state "running": the run can continue from it */
    char tail[4200];                   /* the last console bytes (up to 4 KiB, non-printables as '.') */
} BootstrapCheckpoint;

/* Reads a checkpoint the way `lbvm inspect` does (the whole file is checked).
 * Returns 0, or -1 with a one-line message. */
int bootstrap_inspect(const char *path, BootstrapCheckpoint *c, char *err, size_t errlen);

/* The newest checkpoint in dir that bootstrap_inspect accepts, whose state is
 * running, whose console_bytes are at most max_console_bytes, and whose
 * number is not in skip[0..n_skip). Damaged or unusable ones are named on
 * log (if not NULL). Returns 1 with *c filled, 0 if there is none. */
int bootstrap_pick_checkpoint(const char *dir, unsigned long long max_console_bytes,
                              const unsigned long long *skip, int n_skip, BootstrapCheckpoint *c, FILE *log);

/* The `lbvm bootstrap` command (bootstrap_cmd.c); argv[0] is "bootstrap". */
int lbvm_cmd_bootstrap(int argc, char **argv);

#endif
