/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Raw disk images: pread/pwrite on a file descriptor, looping on short I/O.
 * Also the content digests shared by every backend (docs/disk-overlay.md). */
#include "devices/disk.h"
#include "base/platform.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct RawDisk {
    Disk d;             /* first: a Disk * is a RawDisk * */
    int fd;
} RawDisk;

static int raw_rw(int fd, uint64_t off, size_t len, void *buf, int write)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = write ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)     /* error, or EOF (file shrank under us) */
            return -1;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int raw_read(Disk *d, uint64_t lba, uint32_t count, void *buf)
{
    return raw_rw(((RawDisk *)d)->fd, lba * DISK_SECTOR_SIZE, (size_t)count * DISK_SECTOR_SIZE, buf, 0);
}

static int raw_write(Disk *d, uint64_t lba, uint32_t count, const void *buf)
{
    return raw_rw(((RawDisk *)d)->fd, lba * DISK_SECTOR_SIZE, (size_t)count * DISK_SECTOR_SIZE, (void *)buf, 1);
}

static int raw_flush(Disk *d)
{
    RawDisk *r = (RawDisk *)d;
    if (r->d.read_only)
        return 0;
    return host_fsync(r->fd) ? -1 : 0;
}

static void raw_close(Disk *d)
{
    RawDisk *r = (RawDisk *)d;
    close(r->fd);
    free(r);
}

/* A raw image is the base of an overlay with nothing written over it. */
static int raw_content_digest(Disk *d, uint8_t out[32])
{
    RawDisk *r = (RawDisk *)d;
    uint8_t base[32], tail[16];
    uint64_t size = r->d.sectors * DISK_SECTOR_SIZE;
    char err[8];
    if (disk_fd_digest(r->fd, size, "", base, err, sizeof err))
        return -1;
    for (int i = 0; i < 8; i++) {
        tail[i] = (uint8_t)((uint64_t)DISK_DIGEST_BLOCK_SIZE >> (8 * i));
        tail[8 + i] = (uint8_t)(size >> (8 * i));
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, base, 32) &&
             EVP_DigestUpdate(ctx, tail, 16) && EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

static const DiskOps raw_ops = { raw_read, raw_write, raw_flush, raw_close, raw_content_digest };

Disk *disk_open_raw(const char *path, int read_only, char *err, size_t errlen)
{
    int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size <= 0 || st.st_size % DISK_SECTOR_SIZE) {
        snprintf(err, errlen, "%s: size %lld is not a positive multiple of %d bytes", path,
                 (long long)st.st_size, DISK_SECTOR_SIZE);
        close(fd);
        return NULL;
    }
    RawDisk *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    r->d.ops = &raw_ops;
    r->d.sectors = (uint64_t)st.st_size / DISK_SECTOR_SIZE;
    r->d.read_only = read_only != 0;
    r->fd = fd;
    return &r->d;
}

int disk_create_raw(const char *path, uint64_t size_bytes, char *err, size_t errlen)
{
    if (!size_bytes || size_bytes % DISK_SECTOR_SIZE || size_bytes > (uint64_t)INT64_MAX) {
        snprintf(err, errlen, "%s: size %llu is not a positive multiple of %d bytes", path,
                 (unsigned long long)size_bytes, DISK_SECTOR_SIZE);
        return -1;
    }
    if (access(path, F_OK) == 0) {
        snprintf(err, errlen, "%s: already exists, not overwriting", path);
        return -1;
    }
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = -1;
    if (ftruncate(fd, (off_t)size_bytes) || host_fsync(fd)) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    } else if (host_link_new(tmp, path)) {
        /* link(), unlike rename(), fails instead of replacing a file that
         * appeared since the check above. */
        snprintf(err, errlen, "%s: %s", path, errno == EEXIST ? "already exists, not overwriting" : strerror(errno));
    } else {
        rc = 0;
    }
    close(fd);
    unlink(tmp);
    free(tmp);
    if (rc == 0)
        host_fsync_dir_of(path);
    return rc;
}

uint64_t disk_sectors(const Disk *d)
{
    return d->sectors;
}

static int disk_in_range(const Disk *d, uint64_t lba, uint32_t count)
{
    return lba <= d->sectors && count <= d->sectors - lba;
}

int disk_read(Disk *d, uint64_t lba, uint32_t count, void *buf)
{
    if (!disk_in_range(d, lba, count))
        return -1;
    return count ? d->ops->read(d, lba, count, buf) : 0;
}

int disk_write(Disk *d, uint64_t lba, uint32_t count, const void *buf)
{
    if (d->read_only || !disk_in_range(d, lba, count))
        return -1;
    return count ? d->ops->write(d, lba, count, buf) : 0;
}

int disk_flush(Disk *d)
{
    return d->ops->flush(d);
}

int disk_read_only(const Disk *d)
{
    return d->read_only;
}

void disk_close(Disk *d)
{
    if (!d)
        return;
    d->ops->flush(d);
    d->ops->close(d);
}

int disk_content_digest(Disk *d, uint8_t out[32])
{
    if (!d || !d->ops->content_digest)
        return -1;
    return d->ops->content_digest(d, out);
}

/* pread of exactly len bytes; -1 on an error or an early end of file. */
static int read_exact(int fd, uint64_t off, size_t len, uint8_t *p)
{
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int is_zero(const uint8_t *p, size_t n)
{
    return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

#define DIGEST_BATCH 16     /* blocks per pread while walking an extent */

int disk_fd_digest(int fd, uint64_t size, const char *name, uint8_t out[32], char *err, size_t errlen)
{
    const uint64_t bs = DISK_DIGEST_BLOCK_SIZE;
    uint8_t *buf = malloc(DIGEST_BATCH * bs);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -1;
    if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto out;
    }
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(size >> (8 * i));
    EVP_DigestUpdate(ctx, le, 8);

    int use_seek = 1;
    uint64_t pos = 0;
    while (pos < size) {
        uint64_t start = pos, end = size;
        if (use_seek) {
            int64_t o = host_seek_data(fd, (int64_t)pos);
            if (o < 0 && errno == ENXIO)
                break;                          /* only a hole is left */
            if (o < 0) {
                use_seek = 0;                   /* not supported: read everything */
            } else {
                start = (uint64_t)o;
                int64_t h = host_seek_hole(fd, o);
                if (h > o && (uint64_t)h < size)
                    end = (uint64_t)h;
            }
        }
        if (start >= size)
            break;
        /* every block touching [start, end) is read whole; holes read as zeros */
        uint64_t b = start / bs, b_end = (end + bs - 1) / bs;
        while (b < b_end) {
            uint64_t n = b_end - b < DIGEST_BATCH ? b_end - b : DIGEST_BATCH;
            uint64_t off = b * bs, len = n * bs;
            if (len > size - off)
                len = size - off;
            if (read_exact(fd, off, (size_t)len, buf)) {
                snprintf(err, errlen, "%s: read at %llu: %s", name, (unsigned long long)off, strerror(errno));
                goto out;
            }
            memset(buf + len, 0, (size_t)(n * bs - len));
            for (uint64_t i = 0; i < n; i++) {
                const uint8_t *blk = buf + i * bs;
                if (is_zero(blk, bs))
                    continue;
                for (int k = 0; k < 8; k++)
                    le[k] = (uint8_t)((b + i) >> (8 * k));
                EVP_DigestUpdate(ctx, le, 8);
                EVP_DigestUpdate(ctx, blk, bs);
            }
            b += n;
        }
        pos = b_end * bs;
    }
    if (!EVP_DigestFinal_ex(ctx, out, NULL)) {
        snprintf(err, errlen, "%s: SHA-256 failed", name);
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

int disk_file_digest(const char *path, uint8_t out[32], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        snprintf(err, errlen, "%s: not a regular file", path);
    else
        rc = disk_fd_digest(fd, (uint64_t)st.st_size, path, out, err, errlen);
    close(fd);
    return rc;
}
