/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit bundle (docs/audit.md): one folder with what a third party needs
 * to verify a run segment by segment, on any host:
 *   BUNDLE/MANIFEST                        every file below with its digest, and the segments
 *   BUNDLE/journal                         the run's journal, byte for byte
 *   BUNDLE/inputs/<sha256>                 the kernel, initrd and modules the boot line names
 *                                          (none for a BIOS boot: the bases hold everything)
 *   BUNDLE/bases/<content digest>          the disks' base images (sparse)
 *   BUNDLE/checkpoints/ckpt-<ticks>.lbvm   the checkpoints that start segments
 *   BUNDLE/layers/<sha256>                 the disk layers those checkpoints stand on
 * Segment 1 runs from the boot to the first checkpoint's point, segment k from
 * a checkpoint's point to the next one's (or the journal's last point). */
#ifndef LBVM_BUNDLE_H
#define LBVM_BUNDLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/session.h"
#include "emu/vmstate.h"

#define BUNDLE_MANIFEST "MANIFEST"
#define BUNDLE_JOURNAL "journal"

/* In MANIFEST order: a segment line names a checkpoint listed before it. */
typedef enum BundleKind {
    BUNDLE_KERNEL, BUNDLE_INITRD, BUNDLE_MODULE, BUNDLE_BASE, BUNDLE_CHECKPOINT, BUNDLE_LAYER
} BundleKind;
#define BUNDLE_KINDS 6
/* The MANIFEST's word for each kind. */
extern const char *const bundle_kind_names[BUNDLE_KINDS];

typedef struct BundleFile {
    BundleKind kind;
    char name[96];             /* relative to the bundle */
    uint8_t digest[32];        /* SHA-256 of the bytes; for a base its content digest (disk_file_digest) */
    uint64_t size;
    uint64_t ticks;            /* checkpoint: its guest time */
    int disk, read_only;       /* base: its port; the guest may not write it */
    int index;                 /* module: its place among the boot line's module= values, from 0 */
    int first;                 /* the first segment that needs it */
    char src[4096];            /* bundle_make: where it comes from */
} BundleFile;

typedef struct BundleSegment {
    int id;                    /* 1, 2, ... */
    int from, to;              /* the journal points (1-based) it starts and ends at; from 0 = the boot */
    int ckpt;                  /* its checkpoint in files[]; -1 for the boot */
    uint8_t lines[32];         /* SHA-256 of the journal's lines it covers */
} BundleSegment;

typedef struct Bundle {
    char dir[4096];
    BundleFile *files;
    int n_files;
    BundleSegment *segs;
    int n_segs;
    uint8_t journal_sha256[32];
    uint64_t journal_size;
    int n_points;
    /* the journal (bundle_open) */
    char boot[8192];
    JournalPoint *pts;
    JournalInput *ins;
    int n_pts, n_ins;
} Bundle;

typedef struct BundleMakeOpts {
    const char *journal;
    const char *const *ckpt_dirs;   /* searched in this order: a later one's checkpoint wins a tie */
    int n_ckpt_dirs;
    const char *out;
} BundleMakeOpts;

/* lbvm bundle: makes o->out (a new or empty folder) from a journal and the
 * checkpoint folders of its run; files are hard-linked where they are lbvm's
 * own (checkpoints, layers) and copied otherwise, each written atomically,
 * the MANIFEST last. On success b describes the bundle. 0 or -1. */
int bundle_make(const BundleMakeOpts *o, Bundle *b, char *err, size_t errlen);

/* A folder with a MANIFEST. */
bool bundle_is(const char *path);

/* Opens a bundle and checks it before anything runs: the MANIFEST, the
 * journal (whole, and the lines of each segment), the segments against the
 * journal's points and the checkpoints' guest times, and the files: with
 * seg 0 every file's digest; with seg k only what segment k needs (its
 * checkpoint's digest; the layers and bases that its resume checks
 * anyway must be there with their size). A problem that belongs to a
 * segment is "segment K: ...". 0 or -1 with the message. */
int bundle_open(Bundle *b, const char *dir, int seg, char *err, size_t errlen);
void bundle_close(Bundle *b);

/* The path of one of the bundle's files. */
void bundle_path(const Bundle *b, const BundleFile *f, char *out, size_t len);
/* The bundle's kernel, initrd, module n (its place on the boot line) or
 * base of disk n; NULL if none. */
const BundleFile *bundle_find(const Bundle *b, BundleKind kind, int n);
/* CkptResolveFunc over a Bundle: bases and layers by digest. */
int bundle_resolve(void *opaque, int i, CkptDisk *d, char *err, size_t errlen);

/* Runs segment k on m, a machine at the segment's start (its checkpoint
 * resumed, or the boot): first the start must hash to the journal's point
 * there, then the run goes to the segment's end point comparing every point.
 * start_only: the first check alone. *start_bad: the start differed (r says
 * how). r->index is the journal's point index. 0, or -1 with r->error. */
int bundle_segment_run(const Bundle *b, int k, Machine *m, bool start_only, SessionResult *r, bool *start_bad);
#endif
