/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `lbvm build`: the two inputs of a live-bootstrap run, made without root and
 * reproducible to the byte: sysa's initramfs (a newc cpio laid out the way
 * live-bootstrap's rootfs.py lays it out for QEMU) and sysc's disk (a raw,
 * sparse image: an msdos partition table with one Linux partition from 1 MiB
 * to the end, holding an ext4 file system with /distfiles). docs/build.md has
 * the layout. Host-side code: libarchive (through boot/initramfs.c), OpenSSL,
 * and the host's mke2fs and debugfs (e2fsprogs). */
#ifndef LBVM_BUILD_H
#define LBVM_BUILD_H
#include <stddef.h>
#include <stdint.h>

#include "steps/fetch.h"

#define BUILD_DEFAULT_DISK_SIZE (8ULL << 30)   /* 8 GiB, live-bootstrap's */
#define BUILD_PART_START_LBA 2048u             /* the partition starts at 1 MiB */
#define BUILD_MIN_DISK_SIZE (16ULL << 20)      /* room for the partition's ext4 */
#define BUILD_INITRAMFS_NAME "initramfs.cpio"
#define BUILD_DISK_NAME "sysc.img"
#define BUILD_STAGE0_DIR "sysa/stage0-posix/src"   /* stage0-posix in a 2023 tree: the initramfs's root */

/* Checks that tree is a live-bootstrap checkout lbvm can run: the 2023
 * layout (sysa/) with stage0-posix's submodules checked out (an empty one is
 * named, with the git command that fills it; bootstrap-seeds is not needed
 * with own_seeds), or the current layout (seed/ + steps/; current_check_tree
 * in steps/current.h). Returns 0, or -1 with a one-line message. */
int build_check_tree(const char *tree, int own_seeds, char *err, size_t errlen);

/* 1 if tree is in the current layout (seed/ + steps/, no sysa/), else 0. */
int build_tree_is_current(const char *tree);

/* Appends the distfiles the tree's run needs from the host to l: in the 2023
 * layout those of sysa/ and sysc/; in the current layout the pre-network ones
 * (current_sources). 0, or -1 with a one-line message. */
int build_list_sources(const char *tree, FetchList *l, char *err, size_t errlen);

/* Fills o with path's size and SHA-256 (holes of a sparse file hashed as
 * zeros without being read). 0, or -1 with a one-line message. */
struct BuildOutput;
int build_describe(struct BuildOutput *o, const char *path, char *err, size_t errlen);


/* Appends the distfiles named by SYSDIR/<folder>/sources for every folder of
 * sysdir (in byte order of the names) to l; a folder without a sources file is
 * skipped. Returns 0, or -1 with a one-line message ("PATH:LINE: reason"). */
int build_read_sources(const char *sysdir, FetchList *l, char *err, size_t errlen);

/* Moves the items of l that are not in distdir (no file of that name) to
 * missing (appended, in order). Returns the number moved, or -1 with a
 * one-line message when distdir cannot be read. */
int build_take_missing(FetchList *l, const char *distdir, FetchList *missing, char *err, size_t errlen);

/* The distfiles of TREE/sysa and TREE/sysc missing from distdir (NULL: the
 * default), appended to missing with their origin (the step's folder).
 * Returns their number, or -1 with a one-line message. */
int build_list_missing(const char *tree, const char *distdir, FetchList *missing, char *err, size_t errlen);

/* Checks that every item of l is in distdir with its SHA-256. Returns 0, or -1
 * with a one-line message naming the first missing or mismatching file. */
int build_verify_distfiles(const FetchList *l, const char *distdir, char *err, size_t errlen);

/* The sysa initramfs from a live-bootstrap checkout (tree) and the distfile
 * cache (distdir; NULL: fetch_default_distdir()), written atomically to
 * out_path with every mtime = mtime. sysa's distfiles are verified first.
 * Returns 0, or -1 with a one-line message. */
int build_initramfs(const char *tree, const char *distdir, const char *out_path, int64_t mtime,
                    char *err, size_t errlen);

/* The 512-byte master boot record of a disk_bytes disk (a multiple of 512):
 * no boot code, disk identifier disk_id, one partition of type 0x83 from LBA
 * 2048 to the last sector. Returns 0, or -1 if the disk is too small or too
 * large for an msdos partition table. */
int build_mbr(uint8_t mbr[512], uint64_t disk_bytes, uint32_t disk_id);

/* Finds an e2fsprogs program (e.g. "mke2fs") on PATH, then in /sbin and
 * /usr/sbin. Returns 0 with its path in buf, or -1. */
int build_find_tool(const char *name, char *buf, size_t len);

/* The sysc disk: a sparse raw image of disk_size bytes (a multiple of 512, at
 * least BUILD_MIN_DISK_SIZE) at out_path, written atomically (temporary file
 * and staging folder beside it, fsync, rename), with files (verified in
 * distdir; NULL distdir: the default) in /distfiles of the partition's ext4,
 * owned by 0:0, every time = epoch. File system UUID, hash seed and disk
 * identifier are derived from the size, the epoch and the files' names and
 * SHA-256. Returns 0, or -1 with a one-line message and nothing left behind. */
int build_disk(const char *out_path, uint64_t disk_size, const FetchList *files, const char *distdir,
               int64_t epoch, char *err, size_t errlen);

typedef struct BuildOptions {
    const char *tree;       /* live-bootstrap checkout (sysa/, sysb/, sysc/) */
    const char *distdir;    /* NULL: fetch_default_distdir() */
    const char *outdir;     /* NULL: "."; created if missing */
    uint64_t disk_size;     /* 0: BUILD_DEFAULT_DISK_SIZE */
    int64_t epoch;          /* SOURCE_DATE_EPOCH: every timestamp written */
    int allow_missing;      /* leave out distfiles missing from distdir (a wrong one is still an error) */
    int own_seeds;          /* lbvm's hex0-seed and kaem-optional-seed (seeds/seeds.h) instead of the tree's */
} BuildOptions;

typedef struct BuildOutput {
    char path[4096];
    uint64_t size;
    char sha256[65];
} BuildOutput;

/* Verifies every distfile of sysa and sysc first (with allow_missing, those
 * missing are left out of both outputs), then writes
 * OUTDIR/initramfs.cpio (out[0]) and OUTDIR/sysc.img (out[1]) and hashes
 * them. A tree in the current layout gets current_build_all() instead: only
 * out[1], OUTDIR/init.img (out[0].path is empty). Returns 0, or -1 with a
 * one-line message. */
int build_all(const BuildOptions *o, BuildOutput out[2], char *err, size_t errlen);

/* The `lbvm build` command (build_cmd.c); argv[0] is "build". */
int lbvm_cmd_build(int argc, char **argv);

#endif
