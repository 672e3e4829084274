/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copy-on-write overlay disks: reads through to the base, partial-block
 * copy-up, freeze/reopen against an in-memory model over thousands of random
 * operations, the base left untouched, content and file digests, refusal of
 * damaged layers, and layers surviving SIGKILL at any moment. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "devices/disk.h"
#include "devices/overlay.h"

#define BSZ DISK_OVERLAY_BLOCK_SIZE
#define BASE_SIZE (4u * 1024 * 1024 + 3 * 512)  /* 65 blocks, the last one partial */
#define SECTORS (BASE_SIZE / 512)
#define MAX_LAYERS 400

static char dir[64];
static char err[512];

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;     /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

static void sha256_file(const char *path, uint8_t out[32])
{
    size_t n;
    uint8_t *p = read_file(path, &n);
    unsigned len = 32;
    memset(out, 0, 32);
    if (p)
        EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
    free(p);
}

/* A base with data, zero runs and a sparse hole. */
static void make_base(const char *path, uint8_t *model)
{
    memset(model, 0, BASE_SIZE);
    for (size_t i = 0; i < BASE_SIZE; i++)
        if ((i / BSZ) % 5 != 2)         /* every fifth block stays zero */
            model[i] = (uint8_t)(i * 131 + (i >> 9));
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, BASE_SIZE) == 0);
    for (size_t b = 0; b * BSZ < BASE_SIZE; b++) {
        size_t len = BASE_SIZE - b * BSZ < BSZ ? BASE_SIZE - b * BSZ : BSZ;
        if ((b % 5) != 2)
            CHECK(pwrite(fd, model + b * BSZ, len, (off_t)(b * BSZ)) == (ssize_t)len);
    }
    close(fd);
}

static int disk_equals(Disk *d, const uint8_t *model)
{
    static uint8_t buf[BASE_SIZE];
    if (disk_read(d, 0, SECTORS, buf))
        return 0;
    return memcmp(buf, model, BASE_SIZE) == 0;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

/* ---- random history against a model ----------------------------------- */

static void test_random(const char *base)
{
    static uint8_t model[BASE_SIZE], frozen_model[BASE_SIZE], buf[300 * 512];
    static char layer_names[MAX_LAYERS][96];
    const char *layers[MAX_LAYERS];
    char live[96];
    int n_layers = 0;
    path_in(live, sizeof live, "rand.live");
    make_base(base, model);
    memcpy(frozen_model, model, BASE_SIZE);

    uint8_t base_sum[32], base_sum2[32];
    struct stat st0, st1;
    sha256_file(base, base_sum);
    CHECK(stat(base, &st0) == 0);

    Disk *d = disk_open_overlay(base, NULL, 0, live, err, sizeof err);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_EQ(disk_sectors(d), SECTORS);
    CHECK_EQ(disk_read_only(d), 0);
    CHECK(disk_equals(d, model));   /* all reads fall through to the base */

    /* a one-sector write in the middle of a block keeps the rest of the block */
    memset(buf, 0xee, 512);
    CHECK_EQ(disk_write(d, 3 * (BSZ / 512) + 17, 1, buf), 0);
    memcpy(model + 3 * BSZ + 17 * 512, buf, 512);
    CHECK_EQ(disk_read(d, 3 * (BSZ / 512), BSZ / 512, buf), 0);
    CHECK(memcmp(buf, model + 3 * BSZ, BSZ) == 0);
    /* the partial last block too */
    memset(buf, 0x5a, 1024);
    CHECK_EQ(disk_write(d, SECTORS - 2, 2, buf), 0);
    memcpy(model + BASE_SIZE - 1024, buf, 1024);
    CHECK(disk_equals(d, model));
    /* out of range is refused */
    CHECK_EQ(disk_write(d, SECTORS - 1, 2, buf), -1);
    CHECK_EQ(disk_read(d, SECTORS, 1, buf), -1);

    rng_state = 0x9e3779b97f4a7c15ULL;
    int mismatches = 0, reopen_bad = 0, digest_bad = 0, check_bad = 0, reopens = 0;
    for (int op = 0; op < 6000; op++) {
        uint64_t r = rnd() % 1000;
        if (r < 470) {
            uint32_t count = 1 + (uint32_t)(rnd() % 300);
            uint64_t lba = rnd() % SECTORS;
            if (count > SECTORS - lba)
                count = (uint32_t)(SECTORS - lba);
            fill_random(buf, count * 512);
            if (rnd() % 4 == 0)
                memset(buf, 0, count * 512);    /* zeros over data */
            if (disk_write(d, lba, count, buf))
                mismatches++;
            memcpy(model + lba * 512, buf, count * 512);
        } else if (r < 950) {
            uint32_t count = 1 + (uint32_t)(rnd() % 300);
            uint64_t lba = rnd() % SECTORS;
            if (count > SECTORS - lba)
                count = (uint32_t)(SECTORS - lba);
            if (disk_read(d, lba, count, buf) || memcmp(buf, model + lba * 512, count * 512))
                mismatches++;
        } else if (r < 990 && n_layers < MAX_LAYERS - 1) {
            snprintf(layer_names[n_layers], sizeof layer_names[0], "%s/L%04d", dir, n_layers);
            layers[n_layers] = layer_names[n_layers];
            uint8_t dg[32], file_dg[32];
            if (disk_overlay_freeze(d, layer_names[n_layers], dg, err, sizeof err)) {
                fprintf(stderr, "freeze: %s\n", err);
                mismatches++;
                continue;
            }
            sha256_file(layer_names[n_layers], file_dg);
            digest_bad += memcmp(dg, file_dg, 32) != 0;
            check_bad += disk_layer_check(layer_names[n_layers], BASE_SIZE, 1, err, sizeof err) != 0;
            n_layers++;
            CHECK_EQ(disk_overlay_layer_count(d), n_layers);
            memcpy(frozen_model, model, BASE_SIZE);
            if (rnd() % 3 == 0) {   /* freezing an empty live overlay is fine too */
                snprintf(layer_names[n_layers], sizeof layer_names[0], "%s/L%04d", dir, n_layers);
                layers[n_layers] = layer_names[n_layers];
                if (disk_overlay_freeze(d, layer_names[n_layers], dg, err, sizeof err) == 0)
                    n_layers++;
                else
                    mismatches++;
            }
        } else {
            /* resume from the last freeze: unfrozen writes are gone */
            disk_close(d);
            reopens++;
            d = disk_open_overlay(base, layers, n_layers, live, err, sizeof err);
            if (!d) {
                fprintf(stderr, "reopen: %s\n", err);
                reopen_bad++;
                break;
            }
            memcpy(model, frozen_model, BASE_SIZE);
            reopen_bad += !disk_equals(d, model);
        }
    }
    CHECK_EQ(mismatches, 0);
    CHECK_EQ(reopen_bad, 0);
    CHECK_EQ(digest_bad, 0);
    CHECK_EQ(check_bad, 0);
    CHECK(n_layers > 100);
    CHECK(reopens > 20);
    if (d) {
        CHECK(disk_equals(d, model));
        CHECK_EQ(disk_flush(d), 0);
        disk_close(d);
    }
    d = disk_open_overlay(base, layers, n_layers, live, err, sizeof err);
    CHECK(d != NULL);
    if (d) {
        CHECK(disk_equals(d, frozen_model));
        disk_close(d);
    }
    sha256_file(base, base_sum2);
    CHECK(stat(base, &st1) == 0);
    CHECK(memcmp(base_sum, base_sum2, 32) == 0);
    CHECK(st0.st_mtim.tv_sec == st1.st_mtim.tv_sec && st0.st_mtim.tv_nsec == st1.st_mtim.tv_nsec);
    CHECK_EQ(st0.st_size, st1.st_size);
    for (int i = 0; i < n_layers; i++)
        unlink(layer_names[i]);
    unlink(live);
}

/* ---- content digest ---------------------------------------------------- */

typedef struct Op {
    uint64_t lba;
    uint32_t count;
    uint32_t seed;
} Op;

static void apply(Disk *d, const Op *op)
{
    static uint8_t buf[200 * 512];
    rng_state = op->seed;
    fill_random(buf, op->count * 512);
    CHECK_EQ(disk_write(d, op->lba, op->count, buf), 0);
}

/* Runs ops, freezing after every `every` ops (0: never), and digests. */
static void history(const char *base, const Op *ops, int n, int every, const char *tag, uint8_t out[32])
{
    char live[96], names[64][96];
    const char *layers[64];
    int nl = 0;
    snprintf(live, sizeof live, "%s/%s.live", dir, tag);
    Disk *d = disk_open_overlay(base, NULL, 0, live, err, sizeof err);
    CHECK(d != NULL);
    if (!d)
        return;
    for (int i = 0; i < n; i++) {
        apply(d, &ops[i]);
        if (i % 5 == 4)
            CHECK_EQ(disk_content_digest(d, out), 0);   /* interim digests leave caches mid-way */
        if (every && i % every == every - 1 && nl < 64) {
            snprintf(names[nl], sizeof names[0], "%s/%s.%02d", dir, tag, nl);
            layers[nl] = names[nl];
            uint8_t dg[32];
            CHECK_EQ(disk_overlay_freeze(d, names[nl], dg, err, sizeof err), 0);
            nl++;
            if (nl == 3) {      /* and a resume in the middle */
                disk_close(d);
                d = disk_open_overlay(base, layers, nl, live, err, sizeof err);
                CHECK(d != NULL);
                if (!d)
                    return;
            }
        }
    }
    CHECK_EQ(disk_content_digest(d, out), 0);
    /* the same digest after a final freeze and a reopen from the index hashes */
    if (every) {
        uint8_t dg[32], again[32];
        snprintf(names[nl], sizeof names[0], "%s/%s.%02d", dir, tag, nl);
        layers[nl] = names[nl];
        CHECK_EQ(disk_overlay_freeze(d, names[nl], dg, err, sizeof err), 0);
        nl++;
        disk_close(d);
        d = disk_open_overlay(base, layers, nl, live, err, sizeof err);
        CHECK(d != NULL);
        if (!d)
            return;
        CHECK_EQ(disk_content_digest(d, again), 0);
        CHECK(memcmp(out, again, 32) == 0);
    }
    disk_close(d);
    for (int i = 0; i < nl; i++)
        unlink(names[i]);
    unlink(live);
}

static void test_content_digest(const char *base)
{
    static uint8_t model[BASE_SIZE];
    make_base(base, model);
    Op ops[120];
    rng_state = 42;
    for (int i = 0; i < 120; i++) {
        ops[i].lba = rnd() % (SECTORS - 200);
        ops[i].count = 1 + (uint32_t)(rnd() % 200);
        ops[i].seed = (uint32_t)rnd() | 1;
    }
    uint8_t a[32], b[32], c[32], e[32];
    history(base, ops, 120, 7, "ha", a);
    history(base, ops, 120, 13, "hb", b);
    history(base, ops, 120, 0, "hc", c);
    CHECK(memcmp(a, b, 32) == 0);
    CHECK(memcmp(a, c, 32) == 0);

    /* one changed byte changes it; changing it back restores it */
    char live[96];
    path_in(live, sizeof live, "hd.live");
    Disk *d = disk_open_overlay(base, NULL, 0, live, err, sizeof err);
    CHECK(d != NULL);
    if (!d)
        return;
    uint8_t empty[32], raw[32], sector[512];
    CHECK_EQ(disk_content_digest(d, empty), 0);
    for (int i = 0; i < 120; i++)
        apply(d, &ops[i]);
    CHECK_EQ(disk_read(d, ops[5].lba, 1, sector), 0);
    sector[100] ^= 1;
    CHECK_EQ(disk_write(d, ops[5].lba, 1, sector), 0);
    CHECK_EQ(disk_content_digest(d, e), 0);
    CHECK(memcmp(a, e, 32) != 0);
    sector[100] ^= 1;
    CHECK_EQ(disk_write(d, ops[5].lba, 1, sector), 0);
    CHECK_EQ(disk_content_digest(d, e), 0);
    CHECK(memcmp(a, e, 32) == 0);

    /* the base digest is disk_file_digest of the base, and an untouched
     * overlay digests like the raw image itself */
    uint8_t bd[32], fd[32];
    CHECK_EQ(disk_overlay_base_digest(d, bd, err, sizeof err), 0);
    CHECK_EQ(disk_file_digest(base, fd, err, sizeof err), 0);
    CHECK(memcmp(bd, fd, 32) == 0);
    disk_close(d);
    unlink(live);
    Disk *r = disk_open_raw(base, 1, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ(disk_content_digest(r, raw), 0);
        CHECK(memcmp(raw, empty, 32) == 0);
        disk_close(r);
    }
}

/* ---- file digest: sparse vs written-out --------------------------------- */

static void test_file_digest(void)
{
    const size_t size = 8u << 20;
    char sparse[96], full[96];
    path_in(sparse, sizeof sparse, "sparse.img");
    path_in(full, sizeof full, "full.img");
    uint8_t *img = calloc(1, size);
    rng_state = 7;
    fill_random(img + (1u << 20) + 4096, 3 * BSZ);          /* unaligned run of data */
    fill_random(img + (5u << 20) + 100, 1000);
    img[size - 1] = 1;                                       /* last byte */

    int fd = open(sparse, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)size) == 0);
    CHECK(pwrite(fd, img + (1u << 20), 4 * BSZ, 1u << 20) == 4 * BSZ);
    CHECK(pwrite(fd, img + (5u << 20), BSZ, 5u << 20) == BSZ);
    CHECK(pwrite(fd, img + size - 10, 10, (off_t)(size - 10)) == 10);
    close(fd);
    CHECK(write_file(full, img, size) == 0);

    struct stat s1, s2;
    CHECK(stat(sparse, &s1) == 0 && stat(full, &s2) == 0);
    CHECK(s1.st_blocks < s2.st_blocks);

    uint8_t d1[32], d2[32], d3[32];
    CHECK_EQ(disk_file_digest(sparse, d1, err, sizeof err), 0);
    CHECK_EQ(disk_file_digest(full, d2, err, sizeof err), 0);
    CHECK(memcmp(d1, d2, 32) == 0);

    /* one byte more in a hole, or a longer file, changes it */
    fd = open(sparse, O_RDWR);
    CHECK(pwrite(fd, "x", 1, 3u << 20) == 1);
    CHECK_EQ(disk_file_digest(sparse, d3, err, sizeof err), 0);
    CHECK(memcmp(d1, d3, 32) != 0);
    CHECK(pwrite(fd, "", 1, 3u << 20) == 1);                /* back to zero */
    CHECK_EQ(disk_file_digest(sparse, d3, err, sizeof err), 0);
    CHECK(memcmp(d1, d3, 32) == 0);
    CHECK(ftruncate(fd, (off_t)size + 512) == 0);
    CHECK_EQ(disk_file_digest(sparse, d3, err, sizeof err), 0);
    CHECK(memcmp(d1, d3, 32) != 0);
    close(fd);
    CHECK_EQ(disk_file_digest("/nonexistent/x.img", d3, err, sizeof err), -1);
    unlink(sparse);
    unlink(full);
    free(img);
}

/* ---- refusals ---------------------------------------------------------- */

static int refused(const char *base, const char *layer, const char *live, const char *what)
{
    const char *layers[1] = { layer };
    err[0] = 0;
    Disk *d = disk_open_overlay(base, layers, 1, live, err, sizeof err);
    if (d) {
        disk_close(d);
        fprintf(stderr, "%s: layer %s was accepted\n", what, layer);
        return 0;
    }
    int ok = strstr(err, layer) != NULL && !strchr(err, '\n') && strlen(err) > strlen(layer) + 5;
    if (!ok)
        fprintf(stderr, "%s: unclear message: %s\n", what, err);
    return ok;
}

static void test_refusals(const char *base)
{
    static uint8_t model[BASE_SIZE], buf[3 * BSZ];
    make_base(base, model);
    char live[96], good[96], bad[96], other[96];
    path_in(live, sizeof live, "ref.live");
    path_in(good, sizeof good, "ref.good");
    path_in(bad, sizeof bad, "ref.bad");
    path_in(other, sizeof other, "other.img");
    Disk *d = disk_open_overlay(base, NULL, 0, live, err, sizeof err);
    CHECK(d != NULL);
    if (!d)
        return;
    rng_state = 99;
    fill_random(buf, sizeof buf);
    CHECK_EQ(disk_write(d, 10, 3 * BSZ / 512, buf), 0);
    CHECK_EQ(disk_write(d, 40 * (BSZ / 512), 8, buf), 0);
    uint8_t dg[32];
    CHECK_EQ(disk_overlay_freeze(d, good, dg, err, sizeof err), 0);
    /* an existing name is refused, and the disk carries on */
    CHECK_EQ(disk_write(d, 0, 1, buf), 0);
    CHECK_EQ(disk_overlay_freeze(d, good, dg, err, sizeof err), -1);
    CHECK(strstr(err, "exists") != NULL);
    CHECK_EQ(disk_write(d, 1, 1, buf + 512), 0);
    memcpy(model, buf, 1024);
    CHECK_EQ(disk_read(d, 0, 2, buf + 2 * BSZ), 0);
    CHECK(memcmp(buf + 2 * BSZ, buf, 1024) == 0);
    disk_close(d);
    CHECK_EQ(disk_layer_check(good, BASE_SIZE, 1, err, sizeof err), 0);

    size_t n;
    uint8_t *img = read_file(good, &n);
    CHECK(img != NULL && n > 4096 + 64);
    if (!img)
        return;
    uint64_t count = 0, index_off = 0;
    for (int i = 7; i >= 0; i--) {
        index_off = index_off << 8 | img[n - 64 + 8 + i];
        count = count << 8 | img[n - 64 + 16 + i];
    }
    CHECK_EQ(count, 5);     /* blocks 0, 1, 2, 3 and 40 */
    CHECK_EQ(index_off, 4096 + 5 * (uint64_t)BSZ);

    CHECK(write_file(bad, img, n - 1) == 0);
    CHECK(refused(base, bad, live, "truncated by one byte"));
    CHECK(write_file(bad, img, n / 2) == 0);
    CHECK(refused(base, bad, live, "truncated by half"));
    CHECK(write_file(bad, img, 40) == 0);
    CHECK(refused(base, bad, live, "header only"));

    img[index_off + 20] ^= 0x10;       /* inside the first entry's SHA-256 */
    CHECK(write_file(bad, img, n) == 0);
    CHECK(refused(base, bad, live, "flipped index byte"));
    img[index_off + 20] ^= 0x10;
    img[index_off + 48] ^= 1;          /* block number of the second entry */
    CHECK(write_file(bad, img, n) == 0);
    CHECK(refused(base, bad, live, "flipped block number"));
    CHECK(strstr(err, "checksum") != NULL);
    img[index_off + 48] ^= 1;
    img[n - 3] ^= 0x80;                /* the checksum itself */
    CHECK(write_file(bad, img, n) == 0);
    CHECK(refused(base, bad, live, "flipped checksum"));
    img[n - 3] ^= 0x80;

    img[1] = 'X';
    CHECK(write_file(bad, img, n) == 0);
    CHECK(refused(base, bad, live, "wrong magic"));
    CHECK(strstr(err, "magic") != NULL);
    img[1] = 'B';
    img[8] = 2;
    CHECK(write_file(bad, img, n) == 0);
    CHECK(refused(base, bad, live, "version 2"));
    CHECK(strstr(err, "version") != NULL);
    img[8] = 1;

    /* entries that pass the checksum (a buggy writer) but break the rules */
    static const struct { int entry, field; uint64_t value; const char *why; } crafted[] = {
        { 1, 0, 0, "increasing" },                          /* duplicate block number */
        { 4, 0, 65, "past the end" },                       /* block 65 of a 65-block disk */
        { 2, 8, 4096 + 7 * (uint64_t)BSZ, "outside" },      /* offset into the index */
        { 2, 8, 4096 + 100, "misaligned" },
        { 3, 8, 4096, "share" },                            /* entry 0's slot */
    };
    for (size_t c = 0; c < sizeof crafted / sizeof crafted[0]; c++) {
        uint8_t *copy = malloc(n);
        memcpy(copy, img, n);
        uint8_t *e = copy + index_off + crafted[c].entry * 48 + crafted[c].field;
        uint64_t v = crafted[c].value;
        if (crafted[c].field == 8 && v == 4096) {   /* entry 0's real offset */
            v = 0;
            for (int i = 7; i >= 0; i--)
                v = v << 8 | img[index_off + 8 + i];
        }
        for (int i = 0; i < 8; i++)
            e[i] = (uint8_t)(v >> (8 * i));
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        EVP_DigestUpdate(ctx, copy, 64);
        EVP_DigestUpdate(ctx, copy + index_off, count * 48 + 32);
        EVP_DigestFinal_ex(ctx, copy + n - 32, NULL);
        EVP_MD_CTX_free(ctx);
        CHECK(write_file(bad, copy, n) == 0);
        CHECK(refused(base, bad, live, crafted[c].why));
        CHECK(strstr(err, crafted[c].why) != NULL);
        free(copy);
    }

    /* intact again: accepted */
    CHECK(write_file(bad, img, n) == 0);
    const char *one[1] = { bad };
    d = disk_open_overlay(base, one, 1, live, err, sizeof err);
    CHECK(d != NULL);
    disk_close(d);

    /* a data byte: not checked on open, found by disk_layer_check */
    img[4096 + 5] ^= 1;
    CHECK(write_file(bad, img, n) == 0);
    CHECK_EQ(disk_layer_check(bad, BASE_SIZE, 0, err, sizeof err), 0);
    CHECK_EQ(disk_layer_check(bad, BASE_SIZE, 1, err, sizeof err), -1);
    CHECK(strstr(err, bad) != NULL);
    free(img);

    /* a base of another size */
    int fd = open(other, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, BASE_SIZE + 512) == 0);
    close(fd);
    CHECK(refused(other, good, live, "other base size"));
    CHECK(strstr(err, "base image") != NULL);
    CHECK_EQ(disk_layer_check(good, BASE_SIZE + 512, 0, err, sizeof err), -1);

    /* the live path may not be a layer or the base */
    const char *lay[1] = { good };
    CHECK(disk_open_overlay(base, lay, 1, good, err, sizeof err) == NULL);
    CHECK(disk_open_overlay(base, NULL, 0, base, err, sizeof err) == NULL);
    CHECK_EQ(disk_layer_check(good, BASE_SIZE, 1, err, sizeof err), 0);
    /* but a second name of a layer may be (a freeze killed after linking the
     * layer, before the new live file replaced the old name): the layer stays */
    uint8_t before[32], after[32];
    sha256_file(good, before);
    unlink(live);
    CHECK(link(good, live) == 0);
    d = disk_open_overlay(base, lay, 1, live, err, sizeof err);
    CHECK(d != NULL);
    if (d) {
        CHECK_EQ(disk_write(d, 0, 8, model), 0);
        disk_close(d);
    }
    sha256_file(good, after);
    CHECK(memcmp(before, after, 32) == 0);
    CHECK_EQ(disk_layer_check(good, BASE_SIZE, 1, err, sizeof err), 0);
    /* a base whose size is not whole sectors */
    CHECK(truncate(other, 1000) == 0);
    CHECK(disk_open_overlay(other, NULL, 0, live, err, sizeof err) == NULL);
    CHECK(disk_open_overlay("/nonexistent/base.img", NULL, 0, live, err, sizeof err) == NULL);

    unlink(good);
    unlink(bad);
    unlink(other);
    unlink(live);
}

/* ---- I/O errors: a full disk, a layer shrunk under the overlay ---------- */

static void test_io_errors(const char *base)
{
    static uint8_t model[BASE_SIZE], buf[2 * BSZ];
    make_base(base, model);
    char live[96], layer[96];
    path_in(live, sizeof live, "err.live");
    path_in(layer, sizeof layer, "err.layer");
    Disk *d = disk_open_overlay(base, NULL, 0, live, err, sizeof err);
    CHECK(d != NULL);
    if (!d)
        return;
    memset(buf, 0x11, sizeof buf);
    CHECK_EQ(disk_write(d, 0, 2 * BSZ / 512, buf), 0);         /* blocks 0 and 1 in the live file */
    memcpy(model, buf, 2 * BSZ);

    /* RLIMIT_FSIZE stands in for ENOSPC: the live file cannot grow */
    struct rlimit old, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = 4096 + 2 * BSZ;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    memset(buf, 0x22, sizeof buf);
    CHECK_EQ(disk_write(d, 5 * (BSZ / 512) + 3, 2, buf), -1);  /* needs a new block: refused */
    CHECK_EQ(disk_write(d, 1, 2, buf), 0);                     /* block 0 is already live: fine */
    memcpy(model + 512, buf, 1024);
    uint8_t dg[32];
    CHECK_EQ(disk_overlay_freeze(d, layer, dg, err, sizeof err), -1); /* no room for the index */
    CHECK(access(layer, F_OK) != 0);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(disk_equals(d, model));                               /* the failed write left nothing */
    CHECK_EQ(disk_overlay_freeze(d, layer, dg, err, sizeof err), 0);
    CHECK(disk_equals(d, model));
    CHECK_EQ(disk_layer_check(layer, BASE_SIZE, 1, err, sizeof err), 0);

    /* a frozen layer cut short behind the overlay's back: reads fail, not garbage */
    CHECK(truncate(layer, 4096 + BSZ / 2) == 0);
    CHECK_EQ(disk_read(d, BSZ / 512 + 2, 1, buf), -1);
    CHECK_EQ(disk_read(d, 10 * (BSZ / 512), 4, buf), 0);        /* base blocks still read */
    disk_close(d);
    unlink(layer);
    unlink(live);
}

/* ---- SIGKILL at random moments ----------------------------------------- */

/* The writes that make up layer j, the same in every child. */
static void layer_writes(Disk *d, uint8_t *model, int j)
{
    static uint8_t buf[64 * 512];
    rng_state = 1000003u * (uint64_t)(j + 1);
    int n = 1 + (int)(rnd() % 6);
    for (int i = 0; i < n; i++) {
        uint32_t count = 1 + (uint32_t)(rnd() % 64);
        uint64_t lba = rnd() % (SECTORS - 64);
        fill_random(buf, count * 512);
        if (d && disk_write(d, lba, count, buf))
            _exit(3);
        if (model)
            memcpy(model + lba * 512, buf, count * 512);
    }
}

static int count_layers(const char *kdir, char names[][160], int max)
{
    int n = 0;
    while (n < max) {
        snprintf(names[n], 160, "%s/k%05d", kdir, n);
        if (access(names[n], F_OK))
            break;
        n++;
    }
    return n;
}

static void test_sigkill(const char *base)
{
    static char names[MAX_LAYERS][160];
    static uint8_t sums[MAX_LAYERS][32], model[BASE_SIZE];
    static int have_sum[MAX_LAYERS];
    const char *layers[MAX_LAYERS];
    char kdir[96], live[128];
    path_in(kdir, sizeof kdir, "kill");
    CHECK(mkdir(kdir, 0755) == 0);
    snprintf(live, sizeof live, "%s/live", kdir);
    make_base(base, model);
    uint64_t seed = 12345;
    int bad_layers = 0, changed = 0, kills = 0;

    for (int round = 0; round < 30; round++) {
        int n = count_layers(kdir, names, MAX_LAYERS - 1);
        for (int i = 0; i < n; i++)
            layers[i] = names[i];
        pid_t pid = fork();
        if (pid == 0) {
            char e[512];
            Disk *d = disk_open_overlay(base, layers, n, live, e, sizeof e);
            if (!d)
                _exit(2);
            for (int j = n; j < MAX_LAYERS - 1; j++) {
                layer_writes(d, NULL, j);
                char name[160];
                uint8_t dg[32];
                snprintf(name, sizeof name, "%s/k%05d", kdir, j);
                if (disk_overlay_freeze(d, name, dg, e, sizeof e))
                    _exit(4);
            }
            pause();
            _exit(0);
        }
        rng_state = seed;
        uint64_t wait_us = 1000 + rnd() % 25000;
        seed = rnd();
        struct timespec ts = { 0, (long)wait_us * 1000 };
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        kills += WIFSIGNALED(status);

        /* every layer present opens and verifies, and none changed since last seen */
        n = count_layers(kdir, names, MAX_LAYERS - 1);
        for (int i = 0; i < n; i++) {
            if (disk_layer_check(names[i], BASE_SIZE, 1, err, sizeof err)) {
                fprintf(stderr, "after kill %d: %s\n", round, err);
                bad_layers++;
            }
            uint8_t s[32];
            sha256_file(names[i], s);
            if (have_sum[i] && memcmp(s, sums[i], 32))
                changed++;
            memcpy(sums[i], s, 32);
            have_sum[i] = 1;
        }
    }
    CHECK_EQ(bad_layers, 0);
    CHECK_EQ(changed, 0);
    CHECK_EQ(kills, 30);

    /* the chain as a whole holds exactly the writes of its layers */
    int n = count_layers(kdir, names, MAX_LAYERS - 1);
    /* how many freezes fit between the kills depends on the host's load */
    printf("  %d layers survived 30 kills\n", n);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++) {
        layers[i] = names[i];
        layer_writes(NULL, model, i);
    }
    Disk *d = disk_open_overlay(base, layers, n, live, err, sizeof err);
    CHECK(d != NULL);
    if (d) {
        CHECK(disk_equals(d, model));
        disk_close(d);
    }
    DIR *dd = opendir(kdir);
    struct dirent *de;
    char p[400];
    while (dd && (de = readdir(dd)))
        if (de->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", kdir, de->d_name);
            unlink(p);
        }
    if (dd)
        closedir(dd);
    rmdir(kdir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/lbvm-overlay-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    char base[96];
    path_in(base, sizeof base, "base.img");

    test_random(base);
    test_content_digest(base);
    test_file_digest();
    test_refusals(base);
    test_io_errors(base);
    test_sigkill(base);

    unlink(base);
    rmdir(dir);
    return check_done();
}
