/* SPDX-License-Identifier: GPL-2.0-or-later */
/* builder-hex0's boot disk, as live-bootstrap's lib/generator.py
 * create_builder_hex0_disk_image() lays it out (docs/build.md):
 *   1. stage1: the 512-byte boot sector, compiled from its hex0 text;
 *   2. stage2: its hex0 text, verbatim (stage1 compiles it at boot);
 *   3. zeros to the next sector: the source file system starts there;
 *   4. the source file system ("srcfs"): for a folder "src 0 PATH\n", for a
 *      file "src SIZE PATH\n" and SIZE raw bytes, in os.walk order (a folder's
 *      subfolders, then its files, then each subfolder's contents); then the
 *      commands that start the build, ending with '\n';
 *   5. zeros to the next MiB (a whole MiB if already aligned), then the file
 *      is extended to the disk size (sparse) if that is larger.
 * lbvm walks every folder in byte order of the names (rootfs.py takes the
 * order readdir gives), so the image depends on the contents only. */
#ifndef LBVM_HEX0DISK_H
#define LBVM_HEX0DISK_H
#include <stddef.h>
#include <stdint.h>

/* Compiles hex0 text as rootfs.py does for stage1: per line, everything from
 * the first '#' or ';' is a comment; the rest is pairs of hex digits, with
 * white space only between pairs. Returns 0 with *out malloc'd, or -1 with
 * "NAME:LINE: reason". */
int hex0_compile(const char *name, const char *text, size_t len, uint8_t **out, size_t *outlen, char *err,
                 size_t errlen);

typedef struct SrcfsNode SrcfsNode;

/* The tree the srcfs is written from. */
typedef struct Srcfs {
    SrcfsNode *root;     /* "." */
    uint64_t files, dirs, data_bytes;   /* set by srcfs_write */
} Srcfs;

int srcfs_init(Srcfs *fs);
void srcfs_free(Srcfs *fs);

/* Adds host_path (a file, or a folder with everything below it; symbolic
 * links are followed, as rootfs.py's copies do) at dest ("steps",
 * "external/distfiles/x.tar.gz"; "" is the root, whose contents are merged).
 * Names holding ".git" are left out at any depth, as rootfs.py's srcfs does.
 * What is added replaces what was at that path. Missing parents are made.
 * Returns 0, or -1 with a one-line message. */
int srcfs_add_host(Srcfs *fs, const char *dest, const char *host_path, char *err, size_t errlen);

/* Adds a file with the given bytes (copied) at dest, replacing what was there. */
int srcfs_add_data(Srcfs *fs, const char *dest, const void *data, size_t size, char *err, size_t errlen);

/* Adds an empty folder at dest (kept if one is there). */
int srcfs_add_dir(Srcfs *fs, const char *dest, char *err, size_t errlen);

/* Removes dest and everything below it, if present. */
void srcfs_remove(Srcfs *fs, const char *dest);

/* The trailer lbvm writes after the tree: the same commands rootfs.py appends
 * (the seeds' folders, the two seeds and /init compiled by builder-hex0's
 * hex0 command, then kaem-optional-seed running /kaem.x86). */
extern const char hex0disk_x86_trailer[];

typedef struct Hex0DiskInfo {
    uint64_t stage2_bytes;   /* the stage2 text as written */
    uint64_t srcfs_lba;      /* the sector the srcfs starts at */
    uint64_t srcfs_bytes;    /* the srcfs, trailer included */
    uint64_t content_bytes;  /* everything before the final zeros */
    uint64_t image_bytes;    /* the file's size */
    uint64_t files, dirs;    /* in the srcfs */
} Hex0DiskInfo;

/* Writes the image to out_path atomically (a temporary file beside it,
 * fsynced, renamed): stage1 (512 bytes ending in 55 AA), stage2 (its text;
 * CR LF and lone CR become LF, as Python's text mode reads it), fs, trailer,
 * the zeros, extended to size bytes (0: no extension) if larger. A host file
 * of fs whose size changed since it was added is an error. Returns 0, or -1
 * with a one-line message and nothing left behind. */
int hex0disk_write(const char *out_path, const uint8_t stage1[512], const char *stage2, size_t stage2_len,
                   Srcfs *fs, const char *trailer, uint64_t size, Hex0DiskInfo *info, char *err,
                   size_t errlen);

#endif
