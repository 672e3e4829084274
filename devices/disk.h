/* Disk backends behind one small interface: a raw image file of 512-byte
 * sectors now, a copy-on-write overlay later. A backend embeds Disk as its
 * first member and supplies a DiskOps table; callers only use disk_*().
 * Range checks happen here, so a backend only sees in-range requests. */
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
#endif
