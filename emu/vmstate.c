/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole-machine checkpoints: which sections, in which order, and the RAM
 * encoding. Layout of the folder in vmstate.h, of the file in
 * docs/checkpoint-format.md. */
#include "emu/vmstate.h"

#include "emu/bios.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "devices/ahci.h"
#include "devices/disk.h"
#include "devices/i8042.h"
#include "devices/ide.h"
#include "devices/overlay.h"
#include "devices/pci.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "base/guestram.h"
#include "base/platform.h"
#include "devices/rtc.h"
#include "base/state.h"
#include "devices/sysreset.h"
#include "devices/uart.h"
#include "devices/vga.h"
#include "base/util.h"

/* Version 2 adds n_ide; a machine without IDE disks still writes version 1. */
#define MACHINE_STATE_VERSION 2
#define RAM_STATE_VERSION 2
#define DISKS_STATE_VERSION 1
#define PAGE 4096u

/* ---- the field-coded sections, one list for save, load and digests ---- */

typedef void SectionFunc(Machine *m, StateIO *io);
enum { NEEDS_AHCI = 1, NEEDS_IDE };

static void sec_cpu(Machine *m, StateIO *io) { cpu_state(m->cpu, io); }
static void sec_pic(Machine *m, StateIO *io) { pic_state(m->pic, io); }
static void sec_pit(Machine *m, StateIO *io) { pit_state(m->pit, io); }
static void sec_uart(Machine *m, StateIO *io) { uart_state(m->uart, io); }
static void sec_rtc(Machine *m, StateIO *io) { rtc_state(m->rtc, io); }
static void sec_pci(Machine *m, StateIO *io) { pci_state(m->pci, io); }
static void sec_sysreset(Machine *m, StateIO *io) { sysreset_state(m->sysreset, io); }
static void sec_i8042(Machine *m, StateIO *io) { i8042_state(m->i8042, io); }
static void sec_vga(Machine *m, StateIO *io) { vga_state(m->vga, io); }
static void sec_ahci(Machine *m, StateIO *io) { ahci_state(m->ahci, io); }
static void sec_ide(Machine *m, StateIO *io) { ide_state(m->ide, io); }
/* Not in sections[]: the event counts are not state (not in the digest). */
static void sec_events(Machine *m, StateIO *io) { cpu_events_state(m->cpu, io); }

static const struct {
    const char *name;
    uint32_t version;
    SectionFunc *fn;
    int needs;            /* 0, or the controller the section is only there with */
} sections[] = {
    { "cpu", CPU_STATE_VERSION, sec_cpu, 0 },
    { "pic", PIC_STATE_VERSION, sec_pic, 0 },
    { "pit", PIT_STATE_VERSION, sec_pit, 0 },
    { "uart", UART_STATE_VERSION, sec_uart, 0 },
    { "rtc", RTC_STATE_VERSION, sec_rtc, 0 },
    { "pci", PCI_STATE_VERSION, sec_pci, 0 },
    { "sysreset", SYSRESET_STATE_VERSION, sec_sysreset, 0 },
    { "i8042", I8042_STATE_VERSION, sec_i8042, 0 },
    { "vga", VGA_STATE_VERSION, sec_vga, 0 },
    { "ahci", AHCI_STATE_VERSION, sec_ahci, NEEDS_AHCI },
    { "ide", IDE_STATE_VERSION, sec_ide, NEEDS_IDE },
};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static bool section_present(const Machine *m, size_t i)
{
    return sections[i].needs == NEEDS_AHCI ? m->ahci != NULL : sections[i].needs == NEEDS_IDE ? m->ide != NULL : true;
}

/* Machine-level fields: what a new machine needs before it exists (RAM
 * size, disks are in "disks") and what only the machine knows. */
static void machine_fields(Machine *m, StateIO *io, uint32_t version, uint64_t *ram_size, uint32_t *n_disks,
                           uint32_t *n_ide)
{
    state_u64(io, "ram_size", ram_size);
    state_u32(io, "n_disks", n_disks);
    if (version >= 2)
        state_u32(io, "n_ide", n_ide);
    else if (state_loading(io))
        *n_ide = 0;
    state_check(io, *n_ide <= MACHINE_MAX_IDE && *n_ide <= *n_disks && *n_disks - *n_ide <= MACHINE_MAX_AHCI,
                "machine: %u disks, %u of them IDE: out of range", *n_disks, *n_ide);
    state_u64(io, "ticks", &m->clock.now);
    state_int(io, "ended", &m->ended);
    state_check(io, m->ended >= 0 && m->ended <= MACHINE_PAUSED + 1, "machine: end state %d", m->ended);
    state_u64(io, "console.bytes", &m->console_bytes);
    state_u8s(io, "console.chain", m->console_chain, 32);
    state_u8s(io, "console.tail", m->console_tail, MACHINE_TAIL_SIZE);
}

/* ---- RAM (version 2): the RAM size and page size, a bitmap of the pages
 * that are not all zero, then those pages in address order split into
 * chunks, each one zstd frame (so a restore decompresses them on several
 * threads), then the chunk table: per chunk the ordinal of its first page
 * among the non-zero pages and its frame's length (u64 each), then the chunk
 * count (u32). Version 1 (lbvm before the chunks) is one frame, no table. ---- */

#define RAM_CHUNK_MIN_PAGES 4096u     /* 16 MiB of pages per frame at least */
#define RAM_CHUNKS 8u                 /* ... and about this many frames */
#define RAM_MAX_CHUNKS 65536u
#define RAM_LOAD_THREADS_MAX 4      /* unpacking threads: the host's cores, at most this */

static bool page_zero(const uint8_t *p)
{
    const uint64_t *q = (const uint64_t *)p;
    for (unsigned i = 0; i < PAGE / 8; i++)
        if (q[i])
            return false;
    return true;
}

static bool bit(const uint8_t *bitmap, size_t p)
{
    return bitmap[p >> 3] & (1u << (p & 7));
}

static void put_le(uint8_t *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* Compresses in[] into the open frame of z, writing what comes out; `end`
 * closes the frame. Returns the bytes written or -1. */
static int64_t ram_compress(ZSTD_CCtx *z, CkptWriter *w, const uint8_t *src, size_t len, bool end, uint8_t *out,
                            size_t outcap, char *err, size_t errlen)
{
    ZSTD_inBuffer in = { src, len, 0 };
    int64_t written = 0;
    for (;;) {
        ZSTD_outBuffer o = { out, outcap, 0 };
        size_t left = ZSTD_compressStream2(z, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) {
            snprintf(err, errlen, "RAM compression failed: %s", ZSTD_getErrorName(left));
            return -1;
        }
        if (ckpt_write(w, out, o.pos) < 0)
            return -1;              /* the writer has the cause; the commit reports it */
        written += (int64_t)o.pos;
        if (end ? left == 0 : in.pos == in.size)
            return written;
    }
}

static int ram_save(Machine *m, CkptWriter *w, char *err, size_t errlen)
{
    size_t npages = m->ram_size / PAGE, nbytes = (npages + 7) / 8, nz = 0;
    uint8_t *bitmap = calloc(nbytes, 1), *res = malloc(npages);
    size_t outcap = ZSTD_CStreamOutSize() * 4;
    uint8_t *out = malloc(outcap), *table = NULL;
    ZSTD_CCtx *z = ZSTD_createCCtx();
    int rc = -1;
    if (!bitmap || !res || !out || !z) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    /* Pages the host never backed (never written): zero without reading
     * them. Not "not resident": a swapped-out page holds data. */
    host_pages_to_read(m->ram, m->ram_size, PAGE, res);
    for (size_t p = 0; p < npages; p++)
        if (res[p] && !page_zero(m->ram + p * PAGE)) {
            bitmap[p >> 3] |= (uint8_t)(1u << (p & 7));
            nz++;
        }
    size_t per = (nz + RAM_CHUNKS - 1) / RAM_CHUNKS;
    if (per < RAM_CHUNK_MIN_PAGES)
        per = RAM_CHUNK_MIN_PAGES;
    size_t nchunks = nz ? (nz + per - 1) / per : 0;
    table = malloc(nchunks * 16 + 4);
    if (!table) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    uint8_t hdr[16] = { 0 };
    put_le(hdr, m->ram_size, 8);
    put_le(hdr + 8, PAGE, 2);
    ckpt_write(w, hdr, sizeof hdr);
    ckpt_write(w, bitmap, nbytes);
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(z, ZSTD_c_nbWorkers, 2);  /* ignored by a single-threaded libzstd */
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
    /* Runs of non-zero pages go into the open frame; a frame ends after
     * `per` pages (mid-run if need be) and the next one starts. */
    size_t p = 0, done_pages = 0;
    for (size_t c = 0; c < nchunks; c++) {
        size_t left_in_chunk = per < nz - done_pages ? per : nz - done_pages;
        int64_t flen = 0, n;
        put_le(table + 16 * c, done_pages, 8);
        while (left_in_chunk) {
            while (!bit(bitmap, p))
                p++;
            size_t q = p;
            while (q < npages && bit(bitmap, q) && q - p < left_in_chunk)
                q++;
            left_in_chunk -= q - p;
            if ((n = ram_compress(z, w, m->ram + p * PAGE, (q - p) * PAGE, left_in_chunk == 0, out, outcap, err,
                                  errlen)) < 0)
                goto done;
            flen += n;
            done_pages += q - p;
            p = q;
        }
        put_le(table + 16 * c + 8, (uint64_t)flen, 8);
    }
    put_le(table + nchunks * 16, nchunks, 4);
    if (ckpt_write(w, table, nchunks * 16 + 4) < 0)
        goto done;
    rc = 0;
done:
    ZSTD_freeCCtx(z);
    free(table);
    free(out);
    free(res);
    free(bitmap);
    return rc;
}

/* One frame to unpack: the non-zero pages [first, first + count) (ordinals)
 * from src[0..len). */
typedef struct RamChunk {
    Machine *m;
    const uint8_t *bitmap;
    uint64_t first, count;
    const uint8_t *src;
    uint64_t len;
    char err[160];
} RamChunk;

static int ram_unpack(RamChunk *c)
{
    size_t npages = c->m->ram_size / PAGE, p = 0, ord = 0;
    /* to the chunk's first page */
    while (p < npages && (!bit(c->bitmap, p) || ord < c->first)) {
        ord += bit(c->bitmap, p);
        p++;
    }
    ZSTD_DCtx *z = ZSTD_createDCtx();
    if (!z) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return -1;
    }
    /* lbvm writes level-1 frames (windows of a few MiB): refuse a frame that
     * asks for a huge window rather than allocating it. */
    ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, 24);
    ZSTD_inBuffer in = { c->src, c->len, 0 };
    uint64_t left = c->count;
    size_t ret = 1;
    int rc = -1;
    while (left) {
        while (p < npages && !bit(c->bitmap, p))
            p++;
        size_t q = p;
        while (q < npages && bit(c->bitmap, q) && q - p < left)
            q++;
        ZSTD_outBuffer o = { c->m->ram + p * PAGE, (q - p) * PAGE, 0 };
        while (o.pos < o.size) {
            size_t before_in = in.pos, before_out = o.pos;
            ret = ZSTD_decompressStream(z, &o, &in);
            if (ZSTD_isError(ret)) {
                snprintf(c->err, sizeof c->err, "RAM section is damaged: %s", ZSTD_getErrorName(ret));
                goto done;
            }
            if (in.pos == before_in && o.pos == before_out) {
                snprintf(c->err, sizeof c->err, "RAM section is truncated");
                goto done;
            }
        }
        left -= q - p;
        p = q;
    }
    /* The frame must end exactly here, with nothing after it. */
    if (ret != 0) {
        uint8_t extra;
        ZSTD_outBuffer o = { &extra, 1, 0 };
        ret = ZSTD_decompressStream(z, &o, &in);
        if (ZSTD_isError(ret) || ret != 0 || o.pos != 0) {
            snprintf(c->err, sizeof c->err, "RAM section holds more or less data than its page map says");
            goto done;
        }
    }
    if (in.pos != in.size) {
        snprintf(c->err, sizeof c->err, "RAM section has trailing bytes in a frame");
        goto done;
    }
    rc = 0;
done:
    ZSTD_freeDCtx(z);
    return rc;
}

typedef struct RamWorkers {
    RamChunk *chunks;
    size_t n;
    size_t next;                      /* the next chunk to take */
    int failed;
    pthread_mutex_t lock;
} RamWorkers;

static void *ram_worker(void *arg)
{
    RamWorkers *rw = arg;
    for (;;) {
        pthread_mutex_lock(&rw->lock);
        size_t i = rw->failed ? rw->n : rw->next++;
        pthread_mutex_unlock(&rw->lock);
        if (i >= rw->n)
            return NULL;
        if (ram_unpack(&rw->chunks[i]) < 0) {
            pthread_mutex_lock(&rw->lock);
            rw->failed = 1;
            pthread_mutex_unlock(&rw->lock);
        }
    }
}

static int ram_load(Machine *m, uint32_t version, const uint8_t *buf, uint64_t len, char *err, size_t errlen)
{
    size_t npages = m->ram_size / PAGE, nbytes = (npages + 7) / 8;
    if (len < 16 + nbytes) {
        snprintf(err, errlen, "RAM section is truncated");
        return -1;
    }
    uint64_t rs = get_le(buf, 8);
    if (rs != m->ram_size || get_le(buf + 8, 2) != PAGE) {
        snprintf(err, errlen, "RAM section does not match the machine (%llu bytes)", (unsigned long long)rs);
        return -1;
    }
    const uint8_t *bitmap = buf + 16, *frames = bitmap + nbytes;
    if (npages % 8 && (bitmap[nbytes - 1] >> (npages % 8))) {
        snprintf(err, errlen, "RAM section marks pages past the end of RAM");
        return -1;
    }
    uint64_t nz = 0, rest = len - 16 - nbytes, nchunks;
    for (size_t i = 0; i < nbytes; i++)
        nz += (uint64_t)__builtin_popcount(bitmap[i]);
    RamChunk one = { .m = m, .bitmap = bitmap, .first = 0, .count = nz, .src = frames, .len = rest };
    RamChunk *chunks = &one;
    if (version == 1) {
        nchunks = 1;
    } else {
        /* The table from the end: its chunks must tile the non-zero pages and
         * their frames the bytes between the bitmap and the table. */
        if (rest < 4 || (nchunks = get_le(buf + len - 4, 4)) > RAM_MAX_CHUNKS || rest - 4 < nchunks * 16) {
            snprintf(err, errlen, "RAM section's chunk table is damaged");
            return -1;
        }
        const uint8_t *t = buf + len - 4 - nchunks * 16;
        uint64_t framebytes = rest - 4 - nchunks * 16, off = 0;
        if (!(chunks = calloc(nchunks ? nchunks : 1, sizeof *chunks))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (uint64_t c = 0; c < nchunks; c++) {
            uint64_t first = get_le(t + 16 * c, 8), flen = get_le(t + 16 * c + 8, 8);
            uint64_t next = c + 1 < nchunks ? get_le(t + 16 * (c + 1), 8) : nz;
            if (first != (c ? chunks[c - 1].first + chunks[c - 1].count : 0) || next <= first || next > nz ||
                flen > framebytes - off) {
                free(chunks);
                snprintf(err, errlen, "RAM section's chunk table is damaged");
                return -1;
            }
            chunks[c] = (RamChunk){ .m = m, .bitmap = bitmap, .first = first, .count = next - first,
                                    .src = frames + off, .len = flen };
            off += flen;
        }
        if (off != framebytes || (nchunks == 0) != (nz == 0)) {
            free(chunks);
            snprintf(err, errlen, "RAM section's chunk table does not match its frames");
            return -1;
        }
    }
    RamWorkers rw = { .chunks = chunks, .n = (size_t)nchunks };
    pthread_mutex_init(&rw.lock, NULL);
    pthread_t th[RAM_LOAD_THREADS_MAX - 1];
    int cores = host_cores();
    int nthreads = cores < 2 ? 1 : cores > RAM_LOAD_THREADS_MAX ? RAM_LOAD_THREADS_MAX : cores;
    int started = 0;
    for (int i = 0; i < nthreads - 1 && (uint64_t)i + 1 < nchunks; i++)
        if (pthread_create(&th[i], NULL, ram_worker, &rw) == 0)
            started++;
    ram_worker(&rw);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&rw.lock);
    int rc = 0;
    if (rw.failed || (nz && nchunks == 0)) {
        rc = -1;
        const char *why = "RAM section is damaged";
        for (uint64_t c = 0; c < nchunks; c++)
            if (chunks[c].err[0]) {
                why = chunks[c].err;
                break;
            }
        snprintf(err, errlen, "%s", why);
    }
    if (chunks != &one)
        free(chunks);
    return rc;
}

/* ---- disks ---- */

/* A path field: u32 length, then the bytes (no NUL). */
static void path_field(StateIO *io, const char *name, char *path, size_t cap)
{
    char n[64];
    uint32_t len = (uint32_t)strlen(path);
    snprintf(n, sizeof n, "%s.len", name);
    state_u32(io, n, &len);
    state_check(io, len > 0 && len < cap, "%s: path length %u", name, len);
    state_u8s(io, name, (uint8_t *)path, state_ok(io) ? len : 0);
    if (state_loading(io))
        path[state_ok(io) ? len : 0] = 0;
    state_check(io, strlen(path) == len, "%s: path holds a NUL byte", name);
}

/* Disk references. Layers inside `dir` (the checkpoint's folder) are stored
 * by file name, so a folder can move to another host; others by absolute
 * path (a run resumed into another folder). */
static void disks_fields(CkptSession *cs, const char *dir, StateIO *io)
{
    char n[48];
    size_t dl = strlen(dir);
    for (int i = 0; i < cs->n_disks && state_ok(io); i++) {
        CkptDisk *d = &cs->disk[i];
        snprintf(n, sizeof n, "disk%d.base", i);
        path_field(io, n, d->base, sizeof d->base);
        state_check(io, d->base[0] == '/', "disk %d: base path is not absolute", i);
        snprintf(n, sizeof n, "disk%d.base.sha256", i);
        state_u8s(io, n, d->base_sha256, 32);
        snprintf(n, sizeof n, "disk%d.sectors", i);
        state_u64(io, n, &d->sectors);
        snprintf(n, sizeof n, "disk%d.read_only", i);
        state_int(io, n, &d->read_only);
        uint32_t nl = (uint32_t)d->n_layers;
        snprintf(n, sizeof n, "disk%d.layers", i);
        state_u32(io, n, &nl);
        state_check(io, nl <= 1000000, "disk %d: %u layers", i, nl);
        if (state_loading(io) && state_ok(io)) {
            free(d->layers);
            d->layers = calloc(nl ? nl : 1, sizeof *d->layers);
            d->n_layers = (int)nl;
            if (!d->layers)
                state_fail(io, "out of memory");
        }
        for (uint32_t k = 0; k < nl && state_ok(io); k++) {
            CkptLayer *l = &d->layers[k];
            char stored[4096];
            const char *p = l->path;
            if (!state_loading(io) && !strncmp(p, dir, dl) && p[dl] == '/' && !strchr(p + dl + 1, '/'))
                p += dl + 1;
            snprintf(stored, sizeof stored, "%s", p);
            snprintf(n, sizeof n, "disk%d.layer%u", i, k);
            path_field(io, n, stored, sizeof stored);
            snprintf(n, sizeof n, "disk%d.layer%u.sha256", i, k);
            state_u8s(io, n, l->sha256, 32);
            if (state_loading(io) && state_ok(io)) {
                if (stored[0] == '/')
                    snprintf(l->path, sizeof l->path, "%s", stored);
                else if (strchr(stored, '/') || !strcmp(stored, "..") || !strcmp(stored, "."))
                    state_fail(io, "disk %d: bad layer name", i);
                else if ((size_t)snprintf(l->path, sizeof l->path, "%s/%s", dir, stored) >= sizeof l->path)
                    state_fail(io, "disk %d: layer path too long", i);
            }
        }
    }
}

/* ---- the session ---- */

int ckpt_session_open(CkptSession *cs, const char *dir, char *err, size_t errlen)
{
    memset(cs, 0, sizeof *cs);
    cs->lock_fd = -1;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create checkpoint folder %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!host_realpath(dir, cs->dir)) {
        snprintf(err, errlen, "checkpoint folder %s: %s", dir, strerror(errno));
        return -1;
    }
    char p[4400];
    snprintf(p, sizeof p, "%s/lock", cs->dir);
    cs->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (cs->lock_fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
        return -1;
    }
    if (host_lock(cs->lock_fd) != 0) {
        snprintf(err, errlen, "checkpoint folder %s is in use by another lbvm", cs->dir);
        close(cs->lock_fd);
        cs->lock_fd = -1;
        return -1;
    }
    /* Number the next checkpoint after the newest one. What a killed lbvm
     * left behind is removed (we hold the lock, nobody else writes here):
     * temporary checkpoint files, and layers newer than every checkpoint
     * (frozen for a checkpoint that was never completed). */
    unsigned max_ckpt = 0;
    DIR *d = opendir(cs->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        unsigned n;
        char tail[8];
        if (sscanf(e->d_name, "ckpt-%u.lbvm%1s", &n, tail) == 1 && n > max_ckpt)
            max_ckpt = n;
    }
    if (d)
        rewinddir(d);
    while (d && (e = readdir(d))) {
        unsigned n;
        char tail[8];
        int stale = (sscanf(e->d_name, "ckpt-%u.lbvm.%1s", &n, tail) == 2) ||
                    (sscanf(e->d_name, "disk%*u-%u.layer%1s", &n, tail) == 1 && n > max_ckpt);
        if (stale) {
            snprintf(p, sizeof p, "%s/%s", cs->dir, e->d_name);
            unlink(p);
        }
    }
    if (d)
        closedir(d);
    cs->next_seq = max_ckpt + 1;
    return 0;
}

void ckpt_session_close(CkptSession *cs)
{
    for (int i = 0; i < cs->n_disks; i++)
        free(cs->disk[i].layers);
    if (cs->lock_fd >= 0)
        close(cs->lock_fd);
    memset(cs, 0, sizeof *cs);
    cs->lock_fd = -1;
}

static Disk *session_open_disk(CkptSession *cs, int i, char *err, size_t errlen)
{
    CkptDisk *d = &cs->disk[i];
    if (d->read_only)
        return disk_open_raw(d->base, 1, err, errlen);
    char live[4200];
    snprintf(live, sizeof live, "%s/disk%d.live", cs->dir, i);
    const char **layers = calloc((size_t)d->n_layers + 1, sizeof *layers);
    char (*paths)[4200] = calloc((size_t)d->n_layers + 1, sizeof *paths);
    Disk *disk = NULL;
    if (!layers || !paths) {
        snprintf(err, errlen, "out of memory");
    } else {
        for (int k = 0; k < d->n_layers; k++) {
            snprintf(paths[k], sizeof paths[k], "%s", d->layers[k].path);
            layers[k] = paths[k];
        }
        disk = disk_open_overlay(d->base, layers, d->n_layers, live, err, errlen);
    }
    free(layers);
    free(paths);
    return disk;
}

Disk *ckpt_session_add_disk(CkptSession *cs, const char *base, int read_only, uint64_t create_size, char *err,
                            size_t errlen)
{
    if (cs->n_disks == MACHINE_MAX_DISKS) {
        snprintf(err, errlen, "at most %d disks", MACHINE_MAX_DISKS);
        return NULL;
    }
    if (create_size && access(base, F_OK) != 0 && disk_create_raw(base, create_size, err, errlen) < 0)
        return NULL;
    CkptDisk *d = &cs->disk[cs->n_disks];
    memset(d, 0, sizeof *d);
    if (!host_realpath(base, d->base)) {
        snprintf(err, errlen, "%s: %s", base, strerror(errno));
        return NULL;
    }
    d->read_only = read_only;
    Disk *disk = session_open_disk(cs, cs->n_disks, err, errlen);
    if (!disk)
        return NULL;
    /* An overlay digests its base once and keeps it (the journal's disk
     * digests start from it): ask it rather than reading the base again. */
    if ((read_only ? disk_file_digest(d->base, d->base_sha256, err, errlen)
                   : disk_overlay_base_digest(disk, d->base_sha256, err, errlen)) < 0) {
        disk_close(disk);
        return NULL;
    }
    d->sectors = disk_sectors(disk);
    cs->n_disks++;
    return disk;
}

/* ---- save ---- */

/* One field-coded section from a finished save. */
static int write_section(CkptWriter *w, const char *name, uint32_t version, StateIO *io, char *err, size_t errlen)
{
    int rc = 0;
    if (!state_ok(io)) {
        snprintf(err, errlen, "%s: %s", name, state_error(io));
        rc = -1;
    } else if (ckpt_begin(w, name, version) || ckpt_write(w, io->buf, io->len) || ckpt_end(w)) {
        rc = -1;
    }
    state_free(io);
    return rc;
}

static int write_fields(Machine *m, CkptWriter *w, const char *name, uint32_t version, SectionFunc *fn,
                        char *err, size_t errlen)
{
    StateIO io;
    state_init_save(&io, &m->clock);
    fn(m, &io);
    return write_section(w, name, version, &io, err, errlen);
}

static uint32_t machine_version(const Machine *m)
{
    return m->cfg.n_ide ? 2 : 1;
}

static void sec_machine(Machine *m, StateIO *io)
{
    uint64_t rs = m->ram_size;
    uint32_t nd = (uint32_t)m->cfg.n_disks, ni = (uint32_t)m->cfg.n_ide;
    machine_fields(m, io, machine_version(m), &rs, &nd, &ni);
}

static int cmp_unsigned_desc(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Removes the checkpoint files older than the newest cs->keep. A failure only
 * costs disk space: it is reported and the run goes on. */
static void session_prune(CkptSession *cs)
{
    DIR *d = opendir(cs->dir);
    if (!d)
        return;
    unsigned *nums = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned v;
        char tail[8];
        if (sscanf(e->d_name, "ckpt-%u.lbvm%1s", &v, tail) != 1)
            continue;
        if (n == cap) {
            unsigned *nn = realloc(nums, (cap = cap ? cap * 2 : 64) * sizeof *nn);
            if (!nn)
                break;
            nums = nn;
        }
        nums[n++] = v;
    }
    closedir(d);
    if (n > cs->keep) {
        qsort(nums, n, sizeof *nums, cmp_unsigned_desc);
        for (size_t i = cs->keep; i < n; i++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/ckpt-%06u.lbvm", cs->dir, nums[i]);
            if (unlink(p) != 0 && errno != ENOENT)
                fprintf(stderr, "lbvm: warning: cannot remove old checkpoint %s: %s\n", p, strerror(errno));
        }
        host_fsync_dir(cs->dir);
    }
    free(nums);
}

int machine_checkpoint(Machine *m, CkptSession *cs, char *path_out, size_t path_len, char *err, size_t errlen)
{
    err[0] = 0;                /* filled by the first failure below */
    if (!cpu_can_checkpoint(m->cpu)) {
        snprintf(err, errlen, "%s", cpu_no_checkpoint_why(m->cpu));
        return -1;
    }
    unsigned seq = cs->next_seq++;
    /* Disks first: a checkpoint file never refers to a layer not yet safe. */
    for (int i = 0; i < cs->n_disks; i++) {
        CkptDisk *d = &cs->disk[i];
        if (d->read_only)
            continue;
        CkptLayer *nl = realloc(d->layers, ((size_t)d->n_layers + 1) * sizeof *nl);
        if (!nl) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        d->layers = nl;
        CkptLayer *l = &d->layers[d->n_layers];
        memset(l, 0, sizeof *l);
        if ((size_t)snprintf(l->path, sizeof l->path, "%s/disk%d-%06u.layer", cs->dir, i, seq) >= sizeof l->path) {
            snprintf(err, errlen, "checkpoint folder path too long");
            return -1;
        }
        if (disk_flush(m->cfg.disks[i]) < 0 ||
            disk_overlay_freeze(m->cfg.disks[i], l->path, l->sha256, err, errlen) < 0) {
            if (!err[0])
                snprintf(err, errlen, "cannot flush disk %d", i);
            return -1;
        }
        d->n_layers++;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/ckpt-%06u.lbvm", cs->dir, seq);
    CkptWriter *w = ckpt_create(path, err, errlen);
    if (!w)
        return -1;
    /* The console's hash chain links here, so a resumed run continues it. */
    uint8_t link[32];
    machine_console_link(m, link);
    int rc = write_fields(m, w, "machine", machine_version(m), sec_machine, err, errlen);
    for (size_t i = 0; i < N_SECTIONS && !rc; i++)
        if (section_present(m, i))
            rc = write_fields(m, w, sections[i].name, sections[i].version, sections[i].fn, err, errlen);
    /* Counts that run from power-on only: a resume from a checkpoint
     * without them (format 1.0) runs its own from there. */
    if (!rc && m->events_known)
        rc = write_fields(m, w, "events", CPU_EVENTS_VERSION, sec_events, err, errlen);
    if (!rc) {
        StateIO io;
        state_init_save(&io, &m->clock);
        disks_fields(cs, cs->dir, &io);
        rc = write_section(w, "disks", DISKS_STATE_VERSION, &io, err, errlen);
    }
    if (!rc && (ckpt_begin(w, "ram", RAM_STATE_VERSION) || ram_save(m, w, err, errlen) || ckpt_end(w)))
        rc = -1;
    if (rc) {
        char werr[256] = "";
        ckpt_commit(w, werr, sizeof werr);  /* removes the temporary file */
        if (!err[0])
            snprintf(err, errlen, "%s", werr);
        return -1;
    }
    if (ckpt_commit(w, err, errlen) < 0)
        return -1;
    if (cs->keep)
        session_prune(cs);
    cpu_flush_caches(m->cpu);
    if (path_out)
        snprintf(path_out, path_len, "%s", path);
    return 0;
}

/* ---- load ---- */

static int read_fields(Machine *m, const CkptFile *f, const char *name, uint32_t version, SectionFunc *fn,
                       char *err, size_t errlen)
{
    const CkptSection *s = ckpt_find(f, name);
    if (!s) {
        snprintf(err, errlen, "checkpoint has no %s section", name);
        return -1;
    }
    if (s->version != version) {
        snprintf(err, errlen, "checkpoint's %s section is version %u, this lbvm reads %u", name, s->version, version);
        return -1;
    }
    StateIO io;
    state_init_load(&io, ckpt_payload(f, s), s->length, &m->clock);
    fn(m, &io);
    if (!state_finish(&io)) {
        snprintf(err, errlen, "checkpoint's %s section: %s", name, state_error(&io));
        return -1;
    }
    return 0;
}

/* Reads the "machine" section into a scratch machine-less StateIO pass. */
static int peek_machine(const CkptFile *f, uint64_t *ram_size, uint32_t *n_disks, uint32_t *n_ide, char *err,
                        size_t errlen)
{
    const CkptSection *s = ckpt_find(f, "machine");
    if (!s || s->version < 1 || s->version > MACHINE_STATE_VERSION) {
        snprintf(err, errlen, "checkpoint has no machine section of version 1 to %d", MACHINE_STATE_VERSION);
        return -1;
    }
    Machine scratch;
    memset(&scratch, 0, sizeof scratch);
    StateIO io;
    state_init_load(&io, ckpt_payload(f, s), s->length, &scratch.clock);
    machine_fields(&scratch, &io, s->version, ram_size, n_disks, n_ide);
    if (!state_finish(&io)) {
        snprintf(err, errlen, "checkpoint's machine section: %s", state_error(&io));
        return -1;
    }
    return 0;
}

/* The folder holding the checkpoint `name` (its layers are relative to it). */
static void ckpt_dir_of(const char *name, char *dir, size_t len)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", name);
    char *slash = strrchr(tmp, '/');
    if (slash)
        *slash = 0;
    const char *d = slash ? (tmp[0] ? tmp : "/") : ".";
    if (!host_realpath(d, dir))
        snprintf(dir, len, "%s", d);
}

static int load_disk_refs(const CkptFile *f, const char *name, CkptSession *cs, uint32_t n_disks, char *err,
                          size_t errlen)
{
    char dir[4096];
    ckpt_dir_of(name, dir, sizeof dir);
    const CkptSection *s = ckpt_find(f, "disks");
    if (!s || s->version != DISKS_STATE_VERSION) {
        snprintf(err, errlen, "checkpoint has no disks section of version %d", DISKS_STATE_VERSION);
        return -1;
    }
    cs->n_disks = (int)n_disks;
    StateIO io;
    VClock c;
    vclock_init(&c);
    state_init_load(&io, ckpt_payload(f, s), s->length, &c);
    disks_fields(cs, dir, &io);
    if (!state_finish(&io)) {
        snprintf(err, errlen, "checkpoint's disks section: %s", state_error(&io));
        return -1;
    }
    for (int i = 0; i < cs->n_disks && cs->resolve; i++)
        if (cs->resolve(cs->resolve_opaque, i, &cs->disk[i], err, errlen) < 0)
            return -1;
    return 0;
}

int machine_checkpoint_refs(const char *path, bool check_digest, uint64_t *ticks, CkptSession *refs, char *err,
                            size_t errlen)
{
    CkptFile f;
    if ((check_digest ? ckpt_open(path, &f, err, errlen) : ckpt_open_undigested(path, &f, err, errlen)) < 0)
        return -1;
    char why[4608];
    uint64_t ram_size = 0;
    uint32_t n_disks = 0, n_ide = 0;
    Machine scratch;
    memset(&scratch, 0, sizeof scratch);
    memset(refs, 0, sizeof *refs);
    refs->lock_fd = -1;
    int rc = -1;
    if (peek_machine(&f, &ram_size, &n_disks, &n_ide, why, sizeof why) < 0)
        goto out;
    if (n_disks > MACHINE_MAX_DISKS) {
        snprintf(why, sizeof why, "%u disks", n_disks);
        goto out;
    }
    const CkptSection *ms = ckpt_find(&f, "machine");
    StateIO io;
    state_init_load(&io, ckpt_payload(&f, ms), ms->length, &scratch.clock);
    machine_fields(&scratch, &io, ms->version, &ram_size, &n_disks, &n_ide);
    state_finish(&io);
    *ticks = scratch.clock.now;
    if (load_disk_refs(&f, path, refs, n_disks, why, sizeof why) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, why);
    ckpt_close(&f);
    return rc;
}

static void hex(const uint8_t *b, int n, char *out)
{
    for (int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* The base images and layers must be the ones the checkpoint was made with. */
static int check_disk_files(CkptSession *cs, char *err, size_t errlen)
{
    for (int i = 0; i < cs->n_disks; i++) {
        CkptDisk *d = &cs->disk[i];
        uint8_t md[32];
        if (disk_file_digest(d->base, md, err, errlen) < 0)
            return -1;
        if (memcmp(md, d->base_sha256, 32)) {
            char want[65];
            hex(d->base_sha256, 32, want);
            snprintf(err, errlen, "base disk image %s changed since the checkpoint (content SHA-256 was %s)",
                     d->base, want);
            return -1;
        }
        for (int k = 0; k < d->n_layers; k++) {
            const char *p = d->layers[k].path;
            FILE *lf = fopen(p, "rb");
            if (!lf) {
                snprintf(err, errlen, "disk layer %s: %s", p, strerror(errno));
                return -1;
            }
            EVP_MD_CTX *c = EVP_MD_CTX_new();
            EVP_DigestInit_ex(c, EVP_sha256(), NULL);
            static uint8_t buf[1 << 16];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, lf)) > 0)
                EVP_DigestUpdate(c, buf, n);
            int rerr = ferror(lf);
            fclose(lf);
            unsigned int l = 0;
            EVP_DigestFinal_ex(c, md, &l);
            EVP_MD_CTX_free(c);
            if (rerr || memcmp(md, d->layers[k].sha256, 32)) {
                snprintf(err, errlen, "disk layer %s %s", p, rerr ? "cannot be read" : "is not the one the checkpoint recorded");
                return -1;
            }
        }
    }
    return 0;
}

/* The file's SHA-256, checked on a second thread while the RAM is unpacked
 * into the new machine: the two take about as long, and nothing outside
 * that machine is touched before the check is in. */
typedef struct DigestJob {
    const CkptFile *f;
    pthread_t thread;
    bool started;
    int ok;
} DigestJob;

static void *digest_thread(void *opaque)
{
    DigestJob *j = opaque;
    j->ok = ckpt_digest_ok(j->f);
    return NULL;
}

static int digest_wait(DigestJob *j, char *why, size_t len)
{
    if (!j)
        return 0;
    if (j->started) {
        pthread_join(j->thread, NULL);
        j->started = false;
    } else {
        j->ok = ckpt_digest_ok(j->f);
    }
    if (!j->ok) {
        snprintf(why, len, "checkpoint is damaged (SHA-256 mismatch)");
        return -1;
    }
    return 0;
}

static Machine *resume(const CkptFile *f, const char *path, CkptSession *cs, const MachineConfig *cfg_in,
                       DigestJob *digest, char *err, size_t errlen);

Machine *machine_resume(const char *path, CkptSession *cs, const MachineConfig *cfg_in, char *err, size_t errlen)
{
    CkptFile f;
    if (ckpt_open_undigested(path, &f, err, errlen) < 0)
        return NULL;
    DigestJob job = { .f = &f };
    job.started = pthread_create(&job.thread, NULL, digest_thread, &job) == 0;
    Machine *m = resume(&f, path, cs, cfg_in, &job, err, errlen);
    if (job.started) {
        /* resume() failed before waiting: a damaged file is the better reason */
        char why[128];
        if (digest_wait(&job, why, sizeof why) < 0)
            snprintf(err, errlen, "%s: %s", path, why);
    }
    ckpt_close(&f);
    return m;
}

Machine *machine_resume_from(const CkptFile *f, const char *path, CkptSession *cs, const MachineConfig *cfg_in,
                             char *err, size_t errlen)
{
    return resume(f, path, cs, cfg_in, NULL, err, errlen);
}

static Machine *resume(const CkptFile *fp, const char *path, CkptSession *cs, const MachineConfig *cfg_in,
                       DigestJob *digest, char *err, size_t errlen)
{
    const CkptFile f = *fp;
    char why[4608];
    uint64_t ram_size = 0;
    uint32_t n_disks = 0, n_ide = 0;
    Machine *m = NULL;
    MachineConfig cfg = *cfg_in;
    if (peek_machine(&f, &ram_size, &n_disks, &n_ide, why, sizeof why) < 0)
        goto bad;
    if (ram_size < ((uint64_t)MACHINE_MIN_RAM_MIB << 20) || ram_size > ((uint64_t)MACHINE_MAX_RAM_MIB << 20) ||
        ram_size % (1 << 20) || n_disks > MACHINE_MAX_DISKS) {
        snprintf(why, sizeof why, "machine section: RAM %llu bytes, %u disks: out of range",
                 (unsigned long long)ram_size, n_disks);
        goto bad;
    }
    if (load_disk_refs(&f, path, cs, n_disks, why, sizeof why) < 0)
        goto bad;
    /* The disks are attached once the file is known good (their live
     * overlays are files in the folder): ports stay empty until then. */
    cfg.ram_size = ram_size;
    cfg.n_disks = (int)n_disks;
    cfg.n_ide = (int)n_ide;
    memset(cfg.disks, 0, sizeof cfg.disks);
    m = machine_new(&cfg, why, sizeof why);
    if (!m)
        goto bad;
    uint64_t rs = ram_size;
    uint32_t nd = n_disks, ni = n_ide;
    StateIO io;
    const CkptSection *ms = ckpt_find(&f, "machine");
    state_init_load(&io, ckpt_payload(&f, ms), ms->length, &m->clock);
    machine_fields(m, &io, ms->version, &rs, &nd, &ni);
    state_finish(&io);
    /* The chain goes on from the saved link. */
    EVP_DigestInit_ex(m->console_md, EVP_sha256(), NULL);
    EVP_DigestUpdate(m->console_md, m->console_chain, 32);
    const CkptSection *ram = ckpt_find(&f, "ram");
    if (!ram || ram->version < 1 || ram->version > RAM_STATE_VERSION) {
        snprintf(why, sizeof why, "checkpoint has no ram section of version 1 to %d", RAM_STATE_VERSION);
        goto bad;
    }
    if (ram_load(m, ram->version, ckpt_payload(&f, ram), ram->length, why, sizeof why) < 0)
        goto bad;
    if (digest_wait(digest, why, sizeof why) < 0 || check_disk_files(cs, why, sizeof why) < 0)
        goto bad;
    for (int i = 0; i < (int)n_disks; i++) {
        Disk *d = session_open_disk(cs, i, why, sizeof why);
        if (!d || disk_sectors(d) != cs->disk[i].sectors) {
            if (d)
                snprintf(why, sizeof why, "disk %d has %llu sectors, the checkpoint %llu", i,
                         (unsigned long long)disk_sectors(d), (unsigned long long)cs->disk[i].sectors);
            disk_close(d);
            goto bad;
        }
        m->cfg.disks[i] = d;                  /* the machine owns it from here */
        int n_ahci = (int)(n_disks - n_ide);
        if (i < n_ahci)
            ahci_attach(m->ahci, i, d);
        else
            ide_attach(m->ide, i - n_ahci, d);
        if (i == machine_boot_disk(&m->cfg))
            bios_set_disk(m->bios, d);        /* the BIOS's drive 0x80 */
    }
    for (size_t i = 0; i < N_SECTIONS; i++) {
        if (!section_present(m, i))
            continue;
        if (read_fields(m, &f, sections[i].name, sections[i].version, sections[i].fn, why, sizeof why) < 0)
            goto bad;
    }
    m->events_known = ckpt_find(&f, "events") != NULL;
    if (m->events_known && read_fields(m, &f, "events", CPU_EVENTS_VERSION, sec_events, why, sizeof why) < 0)
        goto bad;
    /* Wiring levels are derived, never loaded: the CPU's INTR follows the PIC. */
    cpu_set_intr(m->cpu, 0, m->pic->int_out);
    if (cfg.limit_ticks)
        vtimer_mod(&m->clock, &m->limit_timer, cfg.limit_ticks);
    return m;
bad:
    snprintf(err, errlen, "%s: %s", path, why);
    machine_free(m);
    return NULL;
}

/* ---- inspect ---- */

int machine_inspect(const char *path, FILE *out, char *err, size_t errlen)
{
    CkptFile f;
    if (ckpt_open(path, &f, err, errlen) < 0)
        return -1;
    char why[4608];
    uint64_t ram_size = 0;
    uint32_t n_disks = 0, n_ide = 0;
    CkptSession cs;
    memset(&cs, 0, sizeof cs);
    if (peek_machine(&f, &ram_size, &n_disks, &n_ide, why, sizeof why) < 0 ||
        (n_disks > MACHINE_MAX_DISKS && snprintf(why, sizeof why, "%u disks", n_disks)) ||
        load_disk_refs(&f, path, &cs, n_disks, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        ckpt_close(&f);
        ckpt_session_close(&cs);
        return -1;
    }
    Machine scratch;
    memset(&scratch, 0, sizeof scratch);
    const CkptSection *ms = ckpt_find(&f, "machine");
    StateIO io;
    state_init_load(&io, ckpt_payload(&f, ms), ms->length, &scratch.clock);
    machine_fields(&scratch, &io, ms->version, &ram_size, &n_disks, &n_ide);
    fprintf(out, "checkpoint   %s\n", path);
    fprintf(out, "format       %u.%u, %llu bytes\n", f.major, f.minor, (unsigned long long)f.size);
    fprintf(out, "guest time   %llu ticks (%.3f s)\n", (unsigned long long)scratch.clock.now,
            (double)scratch.clock.now / VCLOCK_HZ);
    GuestRAM lay = guest_ram(NULL, ram_size);
    if (guest_ram_high(&lay))
        fprintf(out, "guest RAM    %llu MiB (%llu below the PCI hole, %llu from 4 GiB)\n",
                (unsigned long long)(ram_size >> 20), (unsigned long long)(lay.low >> 20),
                (unsigned long long)(guest_ram_high(&lay) >> 20));
    else
        fprintf(out, "guest RAM    %llu MiB\n", (unsigned long long)(ram_size >> 20));
    static const char *const ends[] = { "running", "halted", "reset requested", "time limit reached", "crashed",
                                        "running" };
    fprintf(out, "state        %s\n", ends[scratch.ended]);
    const CkptSection *ram = ckpt_find(&f, "ram");
    if (ram && ram->length >= 16 + (ram_size / PAGE + 7) / 8) {
        const uint8_t *bm = ckpt_payload(&f, ram) + 16;
        uint64_t used = 0;
        for (uint64_t i = 0; i < (ram_size / PAGE + 7) / 8; i++)
            used += (uint64_t)__builtin_popcount(bm[i]);
        fprintf(out, "RAM pages    %llu of %llu not zero (%llu MiB), stored in %llu bytes\n",
                (unsigned long long)used, (unsigned long long)(ram_size / PAGE),
                (unsigned long long)(used * PAGE >> 20), (unsigned long long)ram->length);
    }
    const CkptSection *ev = ckpt_find(&f, "events");
    if (ev && ev->version == CPU_EVENTS_VERSION) {
        CPUStats c;
        memset(&c, 0, sizeof c);
        state_init_load(&io, ckpt_payload(&f, ev), ev->length, &scratch.clock);
        cpu_stats_state(&c, &io);
        if (state_finish(&io))
            fprintf(out, "events       %llu blocks, %llu TLB fills (r/w/x %llu/%llu/%llu), %llu page faults\n",
                    (unsigned long long)c.blocks, (unsigned long long)(c.tlb_fills[0] + c.tlb_fills[1] + c.tlb_fills[2]),
                    (unsigned long long)c.tlb_fills[0], (unsigned long long)c.tlb_fills[1],
                    (unsigned long long)c.tlb_fills[2], (unsigned long long)c.exceptions[14]);
    }
    fprintf(out, "sections    ");
    for (int i = 0; i < f.n; i++)
        fprintf(out, " %s v%u %llu B%s", f.sec[i].name, f.sec[i].version, (unsigned long long)f.sec[i].length,
                i + 1 < f.n ? "," : "\n");
    for (int i = 0; i < cs.n_disks; i++) {
        char h[65];
        hex(cs.disk[i].base_sha256, 32, h);
        fprintf(out, "disk %d       %s (%llu MiB%s%s), content SHA-256 %s, %d layer%s\n", i, cs.disk[i].base,
                (unsigned long long)(cs.disk[i].sectors >> 11), cs.disk[i].read_only ? ", read-only" : "",
                i >= cs.n_disks - (int)n_ide ? ", IDE" : "", h,
                cs.disk[i].n_layers, cs.disk[i].n_layers == 1 ? "" : "s");
        char dir[4096];
        ckpt_dir_of(path, dir, sizeof dir);
        size_t dl = strlen(dir);
        for (int k = 0; k < cs.disk[i].n_layers; k++) {
            const char *lp = cs.disk[i].layers[k].path;
            if (!strncmp(lp, dir, dl) && lp[dl] == '/')
                lp += dl + 1;   /* beside the checkpoint: its name is enough */
            fprintf(out, "               %s\n", lp);
        }
    }
    uint64_t nb = scratch.console_bytes;
    size_t nt = nb < MACHINE_TAIL_SIZE ? (size_t)nb : MACHINE_TAIL_SIZE;
    fprintf(out, "console      %llu bytes; the last %zu:\n", (unsigned long long)nb, nt);
    for (size_t i = 0; i < nt; i++) {
        uint8_t ch = scratch.console_tail[(nb - nt + i) % MACHINE_TAIL_SIZE];
        if (ch != '\r')
            fputc(ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f) ? ch : '.', out);
    }
    if (nt && scratch.console_tail[(nb - 1) % MACHINE_TAIL_SIZE] != '\n')
        fputc('\n', out);
    ckpt_close(&f);
    ckpt_session_close(&cs);
    return 0;
}

/* ---- digests for the journal ---- */

void machine_state_digest(Machine *m, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (size_t i = 0; i < N_SECTIONS; i++) {
        if (!section_present(m, i))
            continue;
        StateIO io;
        state_init_save(&io, &m->clock);
        sections[i].fn(m, &io);
        EVP_DigestUpdate(c, sections[i].name, strlen(sections[i].name) + 1);
        EVP_DigestUpdate(c, io.buf, io.len);
        state_free(&io);
    }
    unsigned int l = 0;
    EVP_DigestFinal_ex(c, out, &l);
    EVP_MD_CTX_free(c);
}

int machine_disk_digest(Machine *m, int i, uint8_t out[32])
{
    return disk_content_digest(m->cfg.disks[i], out);
}
