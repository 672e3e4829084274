/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copy-on-write overlay disks (overlay.h; format in docs/disk-overlay.md).
 *
 * In memory: a two-level map from block number to an Entry (0 = the block is
 * still the base's). An Entry says which layer holds the block's newest copy,
 * in which slot, and caches the SHA-256 of that copy for the content digest.
 * Layers are numbered oldest first; the live overlay is always number
 * n_frozen, so freezing just bumps n_frozen and no entry has to change.
 *
 * File descriptors: every layer stays open while it holds the newest copy of
 * at least one block and is closed as soon as it holds none (its blocks were
 * all rewritten later), so only layers still needed for reads cost a
 * descriptor. The soft RLIMIT_NOFILE is raised towards the hard one when many
 * layers are given. */
#include "devices/overlay.h"
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

#define BS          ((uint64_t)DISK_OVERLAY_BLOCK_SIZE)
#define HDR_SIZE    64          /* meaningful header bytes */
#define DATA_OFF    4096        /* first data slot; header padded with zeros */
#define FOOTER_SIZE 64
#define ENTRY_SIZE  48          /* index entry: block, offset, SHA-256 */
#define FMT_VERSION 1
#define CHUNK_BITS  12          /* map chunk: 4096 blocks = 256 MiB of disk */
#define CHUNK_LEN   (1u << CHUNK_BITS)
#define FREEZE_BATCH 16         /* slots per pread while freezing */

static const char HDR_MAGIC[8] = { 'L', 'B', 'V', 'M', 'L', 'A', 'Y', 'R' };
static const char FTR_MAGIC[8] = { 'L', 'B', 'V', 'M', 'I', 'D', 'X', '1' };

typedef struct Entry {
    uint64_t block;
    uint32_t layer;         /* index into Overlay.layers */
    uint32_t slot;          /* data at DATA_OFF + slot * BS in that layer */
    uint8_t hash[32];       /* SHA-256 of the BS bytes of that copy */
    uint8_t hash_ok;        /* 0: written since the hash was taken */
} Entry;

typedef struct Layer {
    char *path;             /* NULL for the live overlay */
    int fd;                 /* -1 once no block needs it */
    uint64_t refs;          /* entries whose newest copy is here */
} Layer;

typedef struct Overlay {
    Disk d;                 /* first: a Disk * is an Overlay * */
    int base_fd;
    char *base_path;
    uint64_t size, nblocks;
    uint32_t **map;         /* [nblocks >> CHUNK_BITS + 1] -> [CHUNK_LEN], entry index + 1 */
    uint64_t nchunks;
    Entry *ent;
    uint32_t n_ent, cap_ent;
    Layer *layers;          /* frozen 0..n_frozen-1, live = n_frozen */
    uint32_t n_frozen, cap_layers;
    char *live_path;
    uint32_t *slots;        /* live slot -> entry index */
    uint32_t n_slots, cap_slots;
    uint8_t *blk;           /* one block of scratch */
    uint8_t base_digest[32];
    int have_base_digest;
} Overlay;

static const DiskOps overlay_ops;

/* ---- little helpers ---------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int io_exact(int fd, uint64_t off, size_t len, void *buf, int write)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = write ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = write ? ENOSPC : EIO;   /* EOF: file shorter than it should be */
            return -1;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned len = 32;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) ? 0 : -1;
}

static int is_zero(const uint8_t *p, size_t n)
{
    return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

static void layer_header(uint8_t h[HDR_SIZE], uint64_t base_size)
{
    memset(h, 0, HDR_SIZE);
    memcpy(h, HDR_MAGIC, 8);
    put32(h + 8, FMT_VERSION);
    put32(h + 12, (uint32_t)BS);
    put64(h + 16, base_size);
    put64(h + 24, DATA_OFF);
}

/* ---- reading a layer file ---------------------------------------------- */

typedef struct LayerIndex {
    uint64_t count;
    uint8_t *raw;           /* count * ENTRY_SIZE bytes */
} LayerIndex;

/* Validates everything but the data blocks (see docs/disk-overlay.md).
 * base_size 0 accepts the size the header names. */
static int layer_parse(int fd, const char *path, uint64_t base_size, LayerIndex *out, char *err, size_t errlen)
{
    struct stat st;
    uint8_t h[HDR_SIZE], f[FOOTER_SIZE];
    out->count = 0;
    out->raw = NULL;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: layer is not a regular file", path);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < HDR_SIZE || io_exact(fd, 0, HDR_SIZE, h, 0)) {
        snprintf(err, errlen, "%s: not an lbvm overlay layer (%llu bytes, too short for a header)", path,
                 (unsigned long long)size);
        return -1;
    }
    if (memcmp(h, HDR_MAGIC, 8)) {
        snprintf(err, errlen, "%s: not an lbvm overlay layer (bad magic)", path);
        return -1;
    }
    if (get32(h + 8) != FMT_VERSION) {
        snprintf(err, errlen, "%s: layer format version %u, this lbvm reads version %d", path, get32(h + 8),
                 FMT_VERSION);
        return -1;
    }
    if (get32(h + 12) != BS) {
        snprintf(err, errlen, "%s: layer block size %u, expected %llu", path, get32(h + 12),
                 (unsigned long long)BS);
        return -1;
    }
    uint64_t hbase = get64(h + 16);
    if (base_size && hbase != base_size) {
        snprintf(err, errlen, "%s: layer made for a base image of %llu bytes, this base has %llu", path,
                 (unsigned long long)hbase, (unsigned long long)base_size);
        return -1;
    }
    if (!hbase || hbase % DISK_SECTOR_SIZE || get64(h + 24) != DATA_OFF || !is_zero(h + 32, HDR_SIZE - 32)) {
        snprintf(err, errlen, "%s: layer header is corrupt", path);
        return -1;
    }
    if (size < DATA_OFF + FOOTER_SIZE || io_exact(fd, size - FOOTER_SIZE, FOOTER_SIZE, f, 0) ||
        memcmp(f, FTR_MAGIC, 8)) {
        snprintf(err, errlen, "%s: layer is truncated or unfinished (no footer at its end)", path);
        return -1;
    }
    uint64_t index_off = get64(f + 8), count = get64(f + 16);
    uint64_t nblocks = (hbase + BS - 1) / BS;
    if (get64(f + 24) != 0 || count > nblocks || count > (size - DATA_OFF) / BS ||
        index_off != DATA_OFF + count * BS || index_off + count * ENTRY_SIZE + FOOTER_SIZE != size) {
        snprintf(err, errlen, "%s: layer footer does not match the file (%llu bytes, %llu blocks): truncated or "
                 "corrupt", path, (unsigned long long)size, (unsigned long long)count);
        return -1;
    }
    uint8_t *raw = malloc(count * ENTRY_SIZE + 1);
    if (!raw) {
        snprintf(err, errlen, "%s: out of memory for the layer index", path);
        return -1;
    }
    if (io_exact(fd, index_off, (size_t)(count * ENTRY_SIZE), raw, 0)) {
        snprintf(err, errlen, "%s: reading the layer index: %s", path, strerror(errno));
        free(raw);
        return -1;
    }
    uint8_t sum[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, h, HDR_SIZE) &&
             EVP_DigestUpdate(ctx, raw, count * ENTRY_SIZE) && EVP_DigestUpdate(ctx, f, 32) &&
             EVP_DigestFinal_ex(ctx, sum, NULL);
    EVP_MD_CTX_free(ctx);
    if (!ok || memcmp(sum, f + 32, 32)) {
        snprintf(err, errlen, "%s: layer index checksum mismatch (corrupt)", path);
        free(raw);
        return -1;
    }
    /* a correct checksum only proves the writer wrote this: check it anyway */
    uint8_t *seen = calloc(count / 8 + 1, 1);
    if (!seen) {
        snprintf(err, errlen, "%s: out of memory for the layer index", path);
        free(raw);
        return -1;
    }
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *e = raw + i * ENTRY_SIZE;
        uint64_t block = get64(e), off = get64(e + 8);
        const char *why = NULL;
        if (block >= nblocks)
            why = "block number past the end of the disk";
        else if (i && block <= get64(e - ENTRY_SIZE))
            why = "block numbers not strictly increasing (duplicate or unsorted)";
        else if (off < DATA_OFF || off >= index_off || (off - DATA_OFF) % BS)
            why = "data offset outside the data area or misaligned";
        else if (seen[(off - DATA_OFF) / BS / 8] & (1u << ((off - DATA_OFF) / BS % 8)))
            why = "two blocks share one data slot";
        if (why) {
            snprintf(err, errlen, "%s: layer index entry %llu is invalid: %s", path, (unsigned long long)i, why);
            free(seen);
            free(raw);
            return -1;
        }
        seen[(off - DATA_OFF) / BS / 8] |= (uint8_t)(1u << ((off - DATA_OFF) / BS % 8));
    }
    free(seen);
    out->count = count;
    out->raw = raw;
    return 0;
}

int disk_layer_check(const char *path, uint64_t base_size, int check_data, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    LayerIndex ix;
    int rc = layer_parse(fd, path, base_size, &ix, err, errlen);
    uint8_t *buf = check_data && !rc ? malloc(BS) : NULL;
    if (check_data && !rc && !buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = -1;
    }
    for (uint64_t i = 0; !rc && check_data && i < ix.count; i++) {
        const uint8_t *e = ix.raw + i * ENTRY_SIZE;
        uint8_t sum[32];
        if (io_exact(fd, get64(e + 8), BS, buf, 0) || sha256(buf, BS, sum)) {
            snprintf(err, errlen, "%s: reading layer block %llu: %s", path, (unsigned long long)get64(e),
                     strerror(errno));
            rc = -1;
        } else if (memcmp(sum, e + 16, 32)) {
            snprintf(err, errlen, "%s: layer data of block %llu does not match its recorded SHA-256", path,
                     (unsigned long long)get64(e));
            rc = -1;
        }
    }
    free(buf);
    free(ix.raw);
    close(fd);
    return rc;
}

/* ---- the block map ----------------------------------------------------- */

/* Pointer to the map cell of block b; NULL if absent and !create (or no memory). */
static uint32_t *map_cell(Overlay *o, uint64_t b, int create)
{
    uint32_t **chunk = &o->map[b >> CHUNK_BITS];
    if (!*chunk) {
        if (!create || !(*chunk = calloc(CHUNK_LEN, sizeof **chunk)))
            return NULL;
    }
    return &(*chunk)[b & (CHUNK_LEN - 1)];
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint64_t n = *cap ? (uint64_t)*cap * 2 : 64;
    while (n < need)
        n *= 2;
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    if (n < need)
        return -1;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = (uint32_t)n;
    return 0;
}

static void layer_unref(Overlay *o, uint32_t li)
{
    Layer *l = &o->layers[li];
    if (--l->refs == 0 && li < o->n_frozen && l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
}

/* Makes block b's newest copy (layer li, slot, hash) the one the map points
 * to. Capacity for one more entry must already exist. Returns its index. */
static uint32_t map_set(Overlay *o, uint32_t *cell, uint64_t b, uint32_t li, uint32_t slot, const uint8_t *hash)
{
    uint32_t idx;
    if (*cell) {
        idx = *cell - 1;
        layer_unref(o, o->ent[idx].layer);
    } else {
        idx = o->n_ent++;
        *cell = idx + 1;
    }
    Entry *e = &o->ent[idx];
    e->block = b;
    e->layer = li;
    e->slot = slot;
    e->hash_ok = hash != NULL;
    if (hash)
        memcpy(e->hash, hash, 32);
    o->layers[li].refs++;
    return idx;
}

/* ---- live overlay files ------------------------------------------------ */

/* Creates "<live>.new" holding an empty layer header; the caller renames it
 * over the live path. Returns the descriptor, or -1 with a message. */
static int live_create(const Overlay *o, char **tmp_out, char *err, size_t errlen)
{
    size_t n = strlen(o->live_path) + 8;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, errlen, "%s: out of memory", o->live_path);
        return -1;
    }
    snprintf(tmp, n, "%s.new", o->live_path);
    unlink(tmp);    /* left by a killed run; never a layer (layers are linked, not renamed, from here) */
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    uint8_t h[HDR_SIZE];
    layer_header(h, o->size);
    if (fd < 0 || io_exact(fd, 0, HDR_SIZE, h, 1) || ftruncate(fd, DATA_OFF)) {
        snprintf(err, errlen, "%s: creating the live overlay: %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return -1;
    }
    *tmp_out = tmp;
    return fd;
}

/* ---- block I/O --------------------------------------------------------- */

static uint64_t slot_off(uint32_t slot)
{
    return DATA_OFF + (uint64_t)slot * BS;
}

/* Reads the whole current content of block b (zero-padded past the disk end). */
static int block_read_current(Overlay *o, uint64_t b, uint32_t cell, uint8_t *buf)
{
    if (cell) {
        const Entry *e = &o->ent[cell - 1];
        return io_exact(o->layers[e->layer].fd, slot_off(e->slot), BS, buf, 0);
    }
    uint64_t off = b * BS, len = o->size - off < BS ? o->size - off : BS;
    memset(buf + len, 0, BS - len);
    return io_exact(o->base_fd, off, (size_t)len, buf, 0);
}

static int ov_read(Disk *d, uint64_t lba, uint32_t count, void *buf)
{
    Overlay *o = (Overlay *)d;
    uint64_t pos = lba * DISK_SECTOR_SIZE, end = pos + (uint64_t)count * DISK_SECTOR_SIZE;
    uint8_t *p = buf;
    while (pos < end) {
        uint64_t b = pos / BS, in = pos % BS, n = BS - in < end - pos ? BS - in : end - pos;
        uint32_t *cell = map_cell(o, b, 0);
        int rc;
        if (cell && *cell) {
            const Entry *e = &o->ent[*cell - 1];
            rc = io_exact(o->layers[e->layer].fd, slot_off(e->slot) + in, (size_t)n, p, 0);
        } else {
            rc = io_exact(o->base_fd, pos, (size_t)n, p, 0);
        }
        if (rc)
            return -1;
        pos += n;
        p += n;
    }
    return 0;
}

static int block_write(Overlay *o, uint64_t b, uint64_t in, uint64_t n, const uint8_t *p)
{
    uint32_t live = o->n_frozen;
    int fd = o->layers[live].fd;
    uint32_t *cell = map_cell(o, b, 1);
    if (!cell || fd < 0)
        return -1;
    if (*cell && o->ent[*cell - 1].layer == live) {     /* already copied up in this interval */
        Entry *e = &o->ent[*cell - 1];
        e->hash_ok = 0;
        return io_exact(fd, slot_off(e->slot) + in, (size_t)n, (void *)p, 1);
    }
    if (grow((void **)&o->ent, &o->cap_ent, o->n_ent + 1, sizeof *o->ent) ||
        grow((void **)&o->slots, &o->cap_slots, o->n_slots + 1, sizeof *o->slots)) {
        errno = ENOMEM;
        return -1;
    }
    const uint8_t *src = p;
    if (n != BS) {      /* partial: copy the block's current content up first */
        if (block_read_current(o, b, *cell, o->blk))
            return -1;
        memcpy(o->blk + in, p, (size_t)n);
        src = o->blk;
    }
    uint32_t slot = o->n_slots;
    if (io_exact(fd, slot_off(slot), BS, (void *)src, 1))
        return -1;      /* the slot stays free; the map still points at the old copy */
    o->slots[o->n_slots++] = map_set(o, cell, b, live, slot, NULL);
    return 0;
}

static int ov_write(Disk *d, uint64_t lba, uint32_t count, const void *buf)
{
    Overlay *o = (Overlay *)d;
    uint64_t pos = lba * DISK_SECTOR_SIZE, end = pos + (uint64_t)count * DISK_SECTOR_SIZE;
    const uint8_t *p = buf;
    while (pos < end) {
        uint64_t b = pos / BS, in = pos % BS, n = BS - in < end - pos ? BS - in : end - pos;
        if (block_write(o, b, in, n, p))
            return -1;
        pos += n;
        p += n;
    }
    return 0;
}

static int ov_flush(Disk *d)
{
    Overlay *o = (Overlay *)d;
    int fd = o->layers[o->n_frozen].fd;
    return fd >= 0 && host_fsync(fd) == 0 ? 0 : -1;
}

static void ov_close(Disk *d)
{
    Overlay *o = (Overlay *)d;
    if (o->map)
        for (uint64_t i = 0; i < o->nchunks; i++)
            free(o->map[i]);
    free(o->map);
    if (o->layers)
        for (uint32_t i = 0; i <= o->n_frozen && i < o->cap_layers; i++) {
            if (o->layers[i].fd >= 0)
                close(o->layers[i].fd);
            free(o->layers[i].path);
        }
    free(o->layers);
    if (o->base_fd >= 0)
        close(o->base_fd);
    free(o->base_path);
    free(o->live_path);
    free(o->ent);
    free(o->slots);
    free(o->blk);
    free(o);
}

/* ---- digests ----------------------------------------------------------- */

int disk_overlay_base_digest(Disk *d, uint8_t out[32], char *err, size_t errlen)
{
    if (!d || d->ops != &overlay_ops) {
        snprintf(err, errlen, "not an overlay disk");
        return -1;
    }
    Overlay *o = (Overlay *)d;
    if (!o->have_base_digest) {
        if (disk_fd_digest(o->base_fd, o->size, o->base_path, o->base_digest, err, errlen))
            return -1;
        o->have_base_digest = 1;
    }
    memcpy(out, o->base_digest, 32);
    return 0;
}

/* Hashes the live blocks written since their hash was last taken. */
static int refresh_hashes(Overlay *o)
{
    int fd = o->layers[o->n_frozen].fd;
    for (uint32_t s = 0; s < o->n_slots; s++) {
        Entry *e = &o->ent[o->slots[s]];
        if (e->hash_ok)
            continue;
        if (io_exact(fd, slot_off(s), BS, o->blk, 0) || sha256(o->blk, BS, e->hash))
            return -1;
        e->hash_ok = 1;
    }
    return 0;
}

static int ov_content_digest(Disk *d, uint8_t out[32])
{
    Overlay *o = (Overlay *)d;
    uint8_t base[32], buf[40 * 128];
    char err[8];
    if (disk_overlay_base_digest(d, base, err, sizeof err) || refresh_hashes(o))
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    memcpy(buf, base, 32);
    put64(buf + 32, BS);
    put64(buf + 40, o->size);
    EVP_DigestUpdate(ctx, buf, 48);
    size_t used = 0;
    for (uint64_t c = 0; c < o->nchunks; c++) {
        const uint32_t *chunk = o->map[c];
        if (!chunk)
            continue;
        for (uint32_t i = 0; i < CHUNK_LEN; i++) {
            if (!chunk[i])
                continue;
            const Entry *e = &o->ent[chunk[i] - 1];
            put64(buf + used, e->block);
            memcpy(buf + used + 8, e->hash, 32);
            if ((used += 40) == sizeof buf) {
                EVP_DigestUpdate(ctx, buf, used);
                used = 0;
            }
        }
    }
    EVP_DigestUpdate(ctx, buf, used);
    int ok = EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

static const DiskOps overlay_ops = { ov_read, ov_write, ov_flush, ov_close, ov_content_digest };

/* ---- open -------------------------------------------------------------- */

static void raise_fd_limit(int n_layers)
{
    host_want_open_files((uint64_t)n_layers + 256);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

Disk *disk_open_overlay(const char *base_path, const char *const *layers, int n_layers, const char *live_path,
                        char *err, size_t errlen)
{
    if (!base_path || !live_path || n_layers < 0 || (n_layers > 0 && !layers)) {
        snprintf(err, errlen, "overlay: bad arguments");
        return NULL;
    }
    Overlay *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "%s: out of memory", base_path);
        return NULL;
    }
    o->d.ops = &overlay_ops;
    o->base_fd = -1;
    struct stat bst, lst;
    char *tmp = NULL;
    int live_fd = -1;
    if (!(o->base_path = strdup(base_path)) || !(o->live_path = strdup(live_path)) || !(o->blk = malloc(BS))) {
        snprintf(err, errlen, "%s: out of memory", base_path);
        goto fail;
    }
    if ((o->base_fd = open(base_path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "%s: %s", base_path, strerror(errno));
        goto fail;
    }
    if (fstat(o->base_fd, &bst) || !S_ISREG(bst.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", base_path);
        goto fail;
    }
    if (bst.st_size <= 0 || bst.st_size % DISK_SECTOR_SIZE) {
        snprintf(err, errlen, "%s: size %lld is not a positive multiple of %d bytes", base_path,
                 (long long)bst.st_size, DISK_SECTOR_SIZE);
        goto fail;
    }
    o->size = (uint64_t)bst.st_size;
    o->d.sectors = o->size / DISK_SECTOR_SIZE;
    o->nblocks = (o->size + BS - 1) / BS;
    o->nchunks = (o->nblocks >> CHUNK_BITS) + 1;
    o->map = calloc(o->nchunks, sizeof *o->map);
    if (!o->map || grow((void **)&o->layers, &o->cap_layers, (uint32_t)n_layers + 2, sizeof *o->layers)) {
        snprintf(err, errlen, "%s: out of memory", base_path);
        goto fail;
    }
    for (uint32_t i = 0; i < o->cap_layers; i++)
        o->layers[i] = (Layer){ NULL, -1, 0 };
    if (n_layers > 64)
        raise_fd_limit(n_layers);

    for (int i = 0; i < n_layers; i++) {
        Layer *l = &o->layers[i];
        o->n_frozen = (uint32_t)i;     /* so ov_close frees layers 0..i */
        if (!(l->path = strdup(layers[i]))) {
            snprintf(err, errlen, "%s: out of memory", layers[i]);
            goto fail;
        }
        if ((l->fd = open(layers[i], O_RDONLY | O_CLOEXEC)) < 0) {
            snprintf(err, errlen, "%s: %s%s", layers[i], strerror(errno),
                     errno == EMFILE ? " (too many layers open: raise ulimit -n)" : "");
            goto fail;
        }
        if (fstat(l->fd, &lst) == 0 && same_file(&lst, &bst)) {
            snprintf(err, errlen, "%s: is the base image, not a layer", layers[i]);
            goto fail;
        }
        LayerIndex ix;
        if (layer_parse(l->fd, layers[i], o->size, &ix, err, errlen))
            goto fail;
        if (grow((void **)&o->ent, &o->cap_ent, o->n_ent + (uint32_t)ix.count, sizeof *o->ent)) {
            free(ix.raw);
            snprintf(err, errlen, "%s: out of memory", layers[i]);
            goto fail;
        }
        o->n_frozen = (uint32_t)i + 1;  /* layer_unref closes only frozen layers */
        for (uint64_t k = 0; k < ix.count; k++) {
            const uint8_t *e = ix.raw + k * ENTRY_SIZE;
            uint64_t b = get64(e);
            uint32_t *cell = map_cell(o, b, 1);
            if (!cell) {
                free(ix.raw);
                snprintf(err, errlen, "%s: out of memory", layers[i]);
                goto fail;
            }
            map_set(o, cell, b, (uint32_t)i, (uint32_t)((get64(e + 8) - DATA_OFF) / BS), e + 16);
        }
        free(ix.raw);
    }
    o->n_frozen = (uint32_t)n_layers;
    for (int i = 0; i < n_layers; i++)
        if (!o->layers[i].refs && o->layers[i].fd >= 0) {
            close(o->layers[i].fd);
            o->layers[i].fd = -1;
        }

    /* the live path must not be the base or a layer's name: renaming over it
     * would lose that name. A second name of a layer is fine (a freeze killed
     * between linking the layer and replacing the live file leaves one). */
    if (stat(live_path, &lst) == 0) {
        int clash = same_file(&lst, &bst);
        char *live_real = host_realpath(live_path, NULL);
        for (int i = 0; i < n_layers && !clash; i++) {
            struct stat s;
            if (stat(layers[i], &s) || !same_file(&lst, &s))
                continue;
            char *real = host_realpath(layers[i], NULL);
            clash = lst.st_nlink == 1 || !live_real || !real || !strcmp(live_real, real);
            free(real);
        }
        free(live_real);
        if (clash) {
            snprintf(err, errlen, "%s: the live overlay path names the base image or a layer", live_path);
            goto fail;
        }
    }
    if ((live_fd = live_create(o, &tmp, err, errlen)) < 0)
        goto fail;
    if (host_replace(tmp, live_path)) {
        snprintf(err, errlen, "%s: %s", live_path, strerror(errno));
        close(live_fd);
        unlink(tmp);
        goto fail;
    }
    free(tmp);
    o->layers[o->n_frozen] = (Layer){ NULL, live_fd, 0 };
    return &o->d;
fail:
    free(tmp);
    ov_close(&o->d);
    return NULL;
}

int disk_overlay_layer_count(const Disk *d)
{
    return d && d->ops == &overlay_ops ? (int)((const Overlay *)d)->n_frozen : -1;
}

/* ---- freeze ------------------------------------------------------------ */

typedef struct SlotRef {
    uint64_t block;
    uint32_t slot;
    uint32_t ent;
} SlotRef;

static int by_block(const void *a, const void *b)
{
    uint64_t x = ((const SlotRef *)a)->block, y = ((const SlotRef *)b)->block;
    return x < y ? -1 : x > y;
}

int disk_overlay_freeze(Disk *d, const char *frozen_path, uint8_t digest[32], char *err, size_t errlen)
{
    if (!d || d->ops != &overlay_ops || !frozen_path) {
        snprintf(err, errlen, "freeze: not an overlay disk");
        return -1;
    }
    Overlay *o = (Overlay *)d;
    uint32_t live = o->n_frozen;
    int fd = o->layers[live].fd;
    if (fd < 0) {
        snprintf(err, errlen, "%s: the live overlay was lost by an earlier failed freeze", o->live_path);
        return -1;
    }
    if (grow((void **)&o->layers, &o->cap_layers, live + 2, sizeof *o->layers)) {
        snprintf(err, errlen, "%s: out of memory", frozen_path);
        return -1;
    }
    uint64_t n = o->n_slots, index_off = slot_off(o->n_slots);
    size_t tail_len = (size_t)(n * ENTRY_SIZE + FOOTER_SIZE);
    uint8_t *batch = malloc(FREEZE_BATCH * BS), *tail = malloc(tail_len);
    SlotRef *refs = malloc((n + 1) * sizeof *refs);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *tmp = NULL;
    int new_fd = -1, rc = -1;
    if (!batch || !tail || !refs || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        snprintf(err, errlen, "%s: out of memory", frozen_path);
        goto out;
    }
    /* the next live file first: failing here changes nothing */
    if ((new_fd = live_create(o, &tmp, err, errlen)) < 0)
        goto out;

    /* one pass over the data: the file digest, and the hashes of blocks written since the last digest */
    uint8_t hdr[DATA_OFF];
    memset(hdr, 0, sizeof hdr);
    layer_header(hdr, o->size);
    EVP_DigestUpdate(ctx, hdr, DATA_OFF);
    for (uint64_t s = 0; s < n; s += FREEZE_BATCH) {
        uint64_t k = n - s < FREEZE_BATCH ? n - s : FREEZE_BATCH;
        if (io_exact(fd, slot_off((uint32_t)s), (size_t)(k * BS), batch, 0)) {
            snprintf(err, errlen, "%s: reading the live overlay: %s", o->live_path, strerror(errno));
            goto out;
        }
        for (uint64_t j = 0; j < k; j++) {
            Entry *e = &o->ent[o->slots[s + j]];
            if (!e->hash_ok) {
                if (sha256(batch + j * BS, BS, e->hash)) {
                    snprintf(err, errlen, "%s: SHA-256 failed", frozen_path);
                    goto out;
                }
                e->hash_ok = 1;
            }
        }
        EVP_DigestUpdate(ctx, batch, k * BS);
    }

    /* index in block order, then the footer */
    for (uint64_t s = 0; s < n; s++)
        refs[s] = (SlotRef){ o->ent[o->slots[s]].block, (uint32_t)s, o->slots[s] };
    qsort(refs, n, sizeof *refs, by_block);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t *e = tail + i * ENTRY_SIZE;
        put64(e, refs[i].block);
        put64(e + 8, slot_off(refs[i].slot));
        memcpy(e + 16, o->ent[refs[i].ent].hash, 32);
    }
    uint8_t *f = tail + n * ENTRY_SIZE;
    memset(f, 0, FOOTER_SIZE);
    memcpy(f, FTR_MAGIC, 8);
    put64(f + 8, index_off);
    put64(f + 16, n);
    EVP_MD_CTX *sum = EVP_MD_CTX_new();
    int ok = sum && EVP_DigestInit_ex(sum, EVP_sha256(), NULL) && EVP_DigestUpdate(sum, hdr, HDR_SIZE) &&
             EVP_DigestUpdate(sum, tail, n * ENTRY_SIZE + 32) && EVP_DigestFinal_ex(sum, f + 32, NULL);
    EVP_MD_CTX_free(sum);
    if (!ok) {
        snprintf(err, errlen, "%s: SHA-256 failed", frozen_path);
        goto out;
    }
    EVP_DigestUpdate(ctx, tail, tail_len);
    if (io_exact(fd, index_off, tail_len, tail, 1) || ftruncate(fd, (off_t)(index_off + tail_len)) ||
        host_fsync(fd)) {
        snprintf(err, errlen, "%s: writing the layer index: %s", o->live_path, strerror(errno));
        goto out;
    }
    if (!EVP_DigestFinal_ex(ctx, digest, NULL)) {
        snprintf(err, errlen, "%s: SHA-256 failed", frozen_path);
        goto out;
    }
    /* publish: a second name for the finished file; an existing one is refused */
    if (host_link_new(o->live_path, frozen_path)) {
        snprintf(err, errlen, "%s: %s", frozen_path,
                 errno == EEXIST ? "already exists, not overwriting a layer" : strerror(errno));
        goto out;   /* later writes reuse the space the index took */
    }
    /* from here the layer exists: the live name moves to the fresh file */
    if (host_replace(tmp, o->live_path)) {
        snprintf(err, errlen, "%s: layer %s written, but the new live overlay could not be put in place: %s",
                 o->live_path, frozen_path, strerror(errno));
        close(new_fd);
        unlink(tmp);
        new_fd = -1;
    }
    if (host_fsync_dir_of(frozen_path) || host_fsync_dir_of(o->live_path)) {
        if (new_fd >= 0)
            snprintf(err, errlen, "%s: layer written, but fsync of its directory failed: %s", frozen_path,
                     strerror(errno));
        rc = -1;
    } else {
        rc = new_fd >= 0 ? 0 : -1;
    }
    Layer *l = &o->layers[live];
    l->path = strdup(frozen_path);  /* for messages only; NULL is tolerated */
    o->n_frozen = live + 1;
    if (!l->refs) {
        close(l->fd);
        l->fd = -1;
    }
    o->layers[live + 1] = (Layer){ NULL, new_fd, 0 };
    o->n_slots = 0;
    new_fd = -1;
out:
    if (new_fd >= 0) {
        close(new_fd);
        unlink(tmp);
    }
    free(tmp);
    EVP_MD_CTX_free(ctx);
    free(refs);
    free(tail);
    free(batch);
    return rc;
}
