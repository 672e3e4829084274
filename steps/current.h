/* SPDX-License-Identifier: GPL-2.0-or-later */
/* live-bootstrap's current layout (seed/ + steps/manifest, since late 2023) in
 * its kernel-bootstrap mode, as rootfs.py --qemu lays it out without
 * --external-sources: one disk, builder-hex0's (steps/hex0disk.h), whose
 * source file system holds stage0-posix (without its binary seeds: builder-hex0
 * compiles them from hex0), the files of seed/, steps/ with lbvm's
 * bootstrap.cfg, and the pre-network distfiles in /external/distfiles.
 * docs/build.md has the layout. */
#ifndef LBVM_CURRENT_H
#define LBVM_CURRENT_H
#include <stddef.h>
#include <stdint.h>

#include "steps/build.h"
#include "steps/fetch.h"
#include "steps/hex0disk.h"
#include "steps/manifest.h"

#define CURRENT_IMAGE_NAME "init.img"                  /* rootfs.py's target/init.img */
#define CURRENT_DEFAULT_DISK_SIZE (16ULL << 30)        /* rootfs.py's --target-size 16G */
#define CURRENT_STAGE0_DIR "seed/stage0-posix"
#define CURRENT_STAGE1 "builder-hex0/builder-hex0-x86-stage1.hex0"
#define CURRENT_STAGE2 "builder-hex0/builder-hex0-x86-stage2.hex0"
#define CURRENT_MAX_HEX0 (4u << 20)                    /* a stage's hex0 text */

/* The console lines that start a step (a build kept by the manifest's
 * predicates): in the kaem scripts (0.sh, 1.sh), kaem's echo of the first
 * line the script generator writes for a build, " +> pkg=PKG " (kaem ends its
 * echo with a space); in the bash scripts, helpers.sh's "PKG: beginning build
 * using script passN.sh". */
#define CURRENT_STEP_REGEX                                                         \
    "^ \\+> pkg=([A-Za-z0-9][A-Za-z0-9_.+-]*) ?$"                                  \
    "|^([A-Za-z0-9][A-Za-z0-9_.+-]*): beginning build using script pass[0-9]+\\.sh$"

/* The last console line of a completed current-layout run: improve/after.sh
 * powers off through /proc/sysrq-trigger, and Linux logs this. */
#define CURRENT_POWER_DOWN_LINE "reboot: Power down"

/* 1 if tree has seed/ and steps/ (the current layout), else 0. */
int current_is_tree(const char *tree);

/* Checks a current tree: steps/manifest, seed/stage0-posix with the
 * submodules the x86 kernel bootstrap reads (an empty one is named, with the
 * git command that fills it), and builder-hex0's two hex0 files. own_seeds is
 * refused: this mode has no binary seed. 0, or -1 with a one-line message. */
int current_check_tree(const char *tree, int own_seeds, char *err, size_t errlen);

typedef struct CurrentTree {
    Manifest m;              /* evaluated against cfg */
    ManifestConfig cfg;      /* lbvm's bootstrap.cfg, then the kept defines (the generator's rewrite) */
    int network_line;        /* the first "improve: ...network..." line (0: none) */
    int prenet_builds;       /* build lines before it, predicates not evaluated (rootfs.py's rule) */
} CurrentTree;

/* Reads TREE/steps/manifest and evaluates it against manifest_default_config. */
int current_load(const char *tree, CurrentTree *t, char *err, size_t errlen);
void current_free(CurrentTree *t);

/* The steps of a current tree: the builds its manifest keeps (0 if none or on
 * an error). */
int current_count_steps(const char *tree);

/* Appends the pre-network distfiles (rootfs.py's rule: every build line before
 * the first improve line holding "network", predicates not evaluated; each
 * step's TREE/steps/PKG/sources, read by fetch_list_add_file; a step without
 * one is skipped) to l. 0, or -1 with a one-line message. */
int current_sources(const char *tree, const CurrentTree *t, FetchList *l, char *err, size_t errlen);

typedef struct CurrentBuild {
    CurrentTree tree;
    Hex0DiskInfo disk;
    int distfiles;           /* pre-network distfiles in the image */
    int left_out;            /* missing and left out (allow_missing) */
} CurrentBuild;

/* `lbvm build` on a current tree: checks, reads the manifest, verifies the
 * pre-network distfiles (allow_missing: leaves out those missing), writes
 * OUTDIR/init.img (o->disk_size, 0: CURRENT_DEFAULT_DISK_SIZE) and hashes it
 * into out[1]; out[0] is empty (no initramfs). s (may be NULL) gets the
 * figures; free it with current_free(&s->tree). 0, or -1 with a one-line
 * message. */
int current_build_all(const BuildOptions *o, BuildOutput out[2], CurrentBuild *s, char *err, size_t errlen);

/* Why a console line of a kernel bootstrap shows a failure, or NULL:
 * builder-hex0's shell running out of commands ("ERROR: no hda writes!"),
 * Fiwix's init exiting or panicking. (Linux's and kaem's are in
 * bootstrap_failure_reason, which calls this.) */
const char *current_failure_reason(const char *line);

/* A note for a console line that marks a stage of the kernel bootstrap (not
 * a step: no checkpoint, not counted), or NULL: builder-hex0 starting to load
 * its source file system (its first "src" line), builder-hex0 running
 * kaem-optional-seed (the srcfs is loaded), kaem running the jump into Fiwix,
 * Linux's "Linux version" banner. *seen keeps which were reported (start at 0). */
const char *current_stage_note(const char *line, unsigned *seen);

/* Appends the `lbvm boot` arguments that power on from the image (as QEMU with
 * one -drive and no -kernel): "boot --ide IMAGE --mem MEM". Returns the new
 * argument count. */
int current_boot_argv(const char **argv, int n, const char *image, const char *mem);

#endif
