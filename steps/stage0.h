/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The phases of stage0-posix, read from its kaem scripts. stage0-posix prints
 * no "build" lines; what its console shows is kaem's echo of each command,
 * " +> CMD ARGS ". Its scripts name their phases in banner comments
 * ("# Phase-1 Build hex1 from hex0 #"). Following the scripts as kaem runs
 * them (kaem.x86 or kaem.run at the root, then every script a command runs
 * with --file or as a *.kaem argument, `cd` and variable assignments tracked),
 * each banner is tied to the first command that runs after it, and that
 * command's echo marks the phase's start on the console. The answers check
 * (`sha256sum -c ARCH.answers`) is one more phase. docs/definitions.md. */
#ifndef LBVM_STAGE0_H
#define LBVM_STAGE0_H
#include <regex.h>
#include <stddef.h>

typedef struct Stage0Phase {
    char name[160];     /* "Phase-1 Build hex1 from hex0", "Check x86.answers (18 answers)" */
    char *pattern;      /* POSIX ERE matching the console line (without its line end) */
} Stage0Phase;

typedef struct Stage0Phases {
    Stage0Phase *v;
    int n;
    int answers;        /* lines of the answers file the last phase checks (0: none) */
    regex_t *re;        /* the patterns, compiled */
} Stage0Phases;

/* The stage0-posix checkout at dir (inside the live-bootstrap tree `tree`) is
 * there, and so is each of its submodules (.gitmodules) named in used[n]:
 * 0, or -1 with one line naming the empty folder and the git command. */
int stage0_check_checkout(const char *dir, const char *tree, const char *const *used, size_t n, char *err,
                          size_t errlen);

/* Reads the phases of the stage0-posix tree at root (the initramfs's root:
 * kaem.x86 or kaem.run there). Returns the number of phases (0 if the scripts
 * have none), or -1 with a one-line message. */
int stage0_read_phases(const char *root, Stage0Phases *p, char *err, size_t errlen);

/* The index of the phase whose pattern matches line, looking from phase
 * `from` on (phases run in order), or -1. */
int stage0_match(const Stage0Phases *p, int from, const char *line);

void stage0_phases_free(Stage0Phases *p);

#endif
