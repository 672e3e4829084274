/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole-machine checkpoints in a checkpoint folder (docs/checkpoint-format.md):
 *   DIR/lock                 held (flock) by the one lbvm using DIR
 *   DIR/ckpt-NNNNNN.lbvm     checkpoint N: CPU, devices, RAM, disk references
 *   DIR/diskD-NNNNNN.layer   blocks disk D wrote before checkpoint N (frozen)
 *   DIR/diskD.live           blocks written since the last checkpoint
 * Numbers only grow: a run resumed from an older checkpoint writes new ones
 * after the newest present, so no file another checkpoint needs is replaced. */
#ifndef LBVM_VMSTATE_H
#define LBVM_VMSTATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "emu/checkpoint.h"
#include "emu/machine.h"

typedef struct CkptLayer {
    char path[4096];                 /* absolute; stored relative to the checkpoint's folder when inside it */
    uint8_t sha256[32];
} CkptLayer;

typedef struct CkptDisk {
    char base[4096];                 /* absolute path of the base image */
    uint8_t base_sha256[32];         /* content digest (disk_file_digest) */
    uint64_t sectors;
    int read_only;
    CkptLayer *layers;
    int n_layers;
} CkptDisk;

typedef struct CkptSession CkptSession;
/* Finds disk d's base and layers elsewhere than the paths a checkpoint
 * recorded (an audit bundle holds them by digest): rewrites d->base and each
 * layer's path; 0, or -1 with a message. */
typedef int CkptResolveFunc(void *opaque, int i, CkptDisk *d, char *err, size_t errlen);

struct CkptSession {
    char dir[4096];
    int lock_fd;
    unsigned next_seq;               /* number of the next checkpoint */
    unsigned keep;                   /* keep the newest `keep` checkpoint files; 0: all */
    int n_disks;
    CkptDisk disk[MACHINE_MAX_DISKS];
    CkptResolveFunc *resolve;        /* NULL: the recorded paths */
    void *resolve_opaque;
};

/* Creates DIR if needed and locks it; refuses a folder another lbvm holds. */
int ckpt_session_open(CkptSession *cs, const char *dir, char *err, size_t errlen);
void ckpt_session_close(CkptSession *cs);

/* A new run's disk `base` (created sparse with create_size if missing and
 * create_size > 0): the guest's writes go to DIR/diskN.live, the base image
 * is never written. Read-only disks are used as they are. */
Disk *ckpt_session_add_disk(CkptSession *cs, const char *base, int read_only, uint64_t create_size, char *err,
                            size_t errlen);

/* Takes checkpoint next_seq at the current block boundary: freezes each
 * disk's live overlay, writes DIR/ckpt-N.lbvm atomically, then drops the
 * CPU's caches (a run that goes on and one resumed from here start alike).
 * With cs->keep, older checkpoint files beyond the newest `keep` are then
 * removed (disk layers stay: every later checkpoint stands on them).
 * path_out receives the file's path. 0 or -1 with a message. */
int machine_checkpoint(Machine *m, CkptSession *cs, char *path_out, size_t path_len, char *err, size_t errlen);

/* A new machine in the state of checkpoint `path` (validated first, then the
 * base images' digests and the layers' digests): cfg gives the console, its
 * input and the guest-time limit; RAM size and disks come from the
 * checkpoint. The disks continue in the session's folder. */
Machine *machine_resume(const char *path, CkptSession *cs, const MachineConfig *cfg, char *err, size_t errlen);
/* The same from a checkpoint already opened (or parsed from memory); name
 * is used in messages. */
Machine *machine_resume_from(const CkptFile *f, const char *name, CkptSession *cs, const MachineConfig *cfg,
                             char *err, size_t errlen);

/* A checkpoint's guest time and disk references (bases and layers with their
 * digests, layer paths made absolute), without loading it; check_digest also
 * checks the file's SHA-256 (reads it all). refs is filled as by a resume
 * (free it with ckpt_session_close). 0 or -1 with a message. */
int machine_checkpoint_refs(const char *path, bool check_digest, uint64_t *ticks, CkptSession *refs, char *err,
                            size_t errlen);

/* Describes a checkpoint on out: format, guest time, sections and sizes,
 * disks, the console's tail. 0 or -1 with a message. */
int machine_inspect(const char *path, FILE *out, char *err, size_t errlen);

/* Digests for the journal: CPU and devices (their checkpoint sections),
 * RAM, and each disk's content. */
void machine_state_digest(Machine *m, uint8_t out[32]);
int machine_disk_digest(Machine *m, int i, uint8_t out[32]);
#endif
