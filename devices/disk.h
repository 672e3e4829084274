/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Disk backends behind one small interface: a raw image file of 512-byte
 * sectors (disk.c) and a copy-on-write overlay over a read-only base image
 * (overlay.c, overlay.h). A backend embeds Disk as its first member and
 * supplies a DiskOps table; callers only use disk_*(). Range checks happen
 * here, so a backend only sees in-range requests. */
#ifndef LBVM_DISK_H
#define LBVM_DISK_H
#include <stddef.h>
#include <stdint.h>

#define DISK_SECTOR_SIZE 512

typedef struct Disk Disk;

typedef struct DiskOps {
    int (*read)(Disk *d, uint64_t lba, uint32_t count, void *buf);
    int (*write)(Disk *d, uint64_t lba, uint32_t count, const void *buf);
    int (*flush)(Disk *d);
    void (*close)(Disk *d);     /* frees d */
    /* see disk_content_digest(); NULL: not supported */
    int (*content_digest)(Disk *d, uint8_t out[32]);
} DiskOps;

struct Disk {
    const DiskOps *ops;
    uint64_t sectors;
    int read_only;
};

/* Opens an existing image; its size must be a multiple of 512. NULL with a
 * message in err on failure. */
Disk *disk_open_raw(const char *path, int read_only, char *err, size_t errlen);
/* Creates a sparse image atomically (temp file, fsync, link into place);
 * refuses an existing path and a size that is not a multiple of 512.
 * 0 or -1 with a message in err. */
int disk_create_raw(const char *path, uint64_t size_bytes, char *err, size_t errlen);

uint64_t disk_sectors(const Disk *d);
/* 0, or -1 on an I/O error, a range past the end, or (write) a read-only disk. */
int disk_read(Disk *d, uint64_t lba, uint32_t count, void *buf);
int disk_write(Disk *d, uint64_t lba, uint32_t count, const void *buf);
int disk_flush(Disk *d);        /* fsync */
int disk_read_only(const Disk *d);
void disk_close(Disk *d);       /* flushes, then frees; NULL is fine */

/* Content digests, defined in docs/disk-overlay.md. Blocks are 64 KiB. */
#define DISK_DIGEST_BLOCK_SIZE 65536
/* SHA-256 of a regular file's logical content: its size, then the index and
 * bytes of every 64 KiB block that is not all zeros. Walks data extents
 * (SEEK_DATA/SEEK_HOLE), so holes cost nothing and a sparse file digests
 * like the same bytes written out. 0, or -1 with a message in err. */
int disk_file_digest(const char *path, uint8_t out[32], char *err, size_t errlen);
/* The same on an open descriptor of `size` bytes; name is for messages. */
int disk_fd_digest(int fd, uint64_t size, const char *name, uint8_t out[32], char *err, size_t errlen);
/* Digest of the disk's current logical content. An overlay disk answers from
 * cached per-block hashes (cheap at every checkpoint); a raw disk walks its
 * file. A raw image and an overlay over it with no writes agree. 0 or -1. */
int disk_content_digest(Disk *d, uint8_t out[32]);
#endif
