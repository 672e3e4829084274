/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit bundle: its MANIFEST, the checks before anything runs, finding
 * bases and layers by digest, and running one segment (bundle.h). Making a
 * bundle is in bundle_make.c. */
#include "audit/bundle.h"
#include "base/platform.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/bundle_priv.h"
#include "boot/multiboot.h"
#include "devices/disk.h"

/* ---- small helpers, shared with bundle_make.c ---- */

void bundle_hex(const uint8_t *b, int n, char *out)
{
    for (int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

int bundle_unhex(const char *s, uint8_t out[32])
{
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (!s[2 * i] || !s[2 * i + 1] || sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return s[64] == 0 ? 0 : -1;
}

int bundle_sha256_file(const char *path, uint8_t out[32], uint64_t *size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return lbvm_set_err(err, errlen, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    static __thread uint8_t buf[1 << 16];
    size_t n;
    uint64_t total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        EVP_DigestUpdate(c, buf, n);
        total += n;
    }
    int bad = ferror(f);
    fclose(f);
    EVP_DigestFinal_ex(c, out, NULL);
    EVP_MD_CTX_free(c);
    if (bad)
        return lbvm_set_err(err, errlen, "%s: read error", path);
    if (size)
        *size = total;
    return 0;
}

/* The SHA-256 of each segment's journal lines: segment 1 from the first line,
 * segment k from the line of its start point, each to the line of its end
 * point, both included. A segment whose end the journal does not reach is
 * marked cut. Returns the journal's number of points, or -1. */
int bundle_journal_slices(const char *path, const BundleSegment *segs, int n, uint8_t (*out)[32], bool *cut,
                          char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return lbvm_set_err(err, errlen, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int points = 0, s = 0;
    for (int i = 0; i < n; i++)
        cut[i] = true;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (!strncmp(line, "point ", 6))
            points++;
        if (s >= n)
            continue;
        EVP_DigestUpdate(c, line, (size_t)len);
        if (points != segs[s].to || strncmp(line, "point ", 6))
            continue;
        /* the end of segment s, and the start of the next */
        EVP_DigestFinal_ex(c, out[s], NULL);
        cut[s++] = false;
        EVP_DigestInit_ex(c, EVP_sha256(), NULL);
        EVP_DigestUpdate(c, line, (size_t)len);
    }
    free(line);
    fclose(f);
    EVP_MD_CTX_free(c);
    return points;
}

int bundle_boot_count(const char *boot, const char *key)
{
    int n = 0;
    char *v;
    while ((v = journal_boot_value(boot, key, n))) {
        free(v);
        n++;
    }
    return n;
}

int bundle_boot_digest(const char *boot, const char *key, int nth, uint8_t out[32])
{
    char *v = journal_boot_value(boot, key, nth);
    int rc = v ? bundle_unhex(v, out) : -1;
    free(v);
    return rc;
}

/* ---- the MANIFEST ---- */

const char *const bundle_kind_names[BUNDLE_KINDS] = { "kernel", "initrd", "module", "base", "checkpoint", "layer" };

/* A file name the MANIFEST may give its kind: inside the bundle, in its
 * folder, nothing else (a bundle from elsewhere names no other file). */
static bool good_name(BundleKind k, const char *name)
{
    const char *dir = k == BUNDLE_KERNEL || k == BUNDLE_INITRD || k == BUNDLE_MODULE ? "inputs/"
                      : k == BUNDLE_BASE ? "bases/" : k == BUNDLE_LAYER ? "layers/" : "checkpoints/";
    size_t dl = strlen(dir);
    if (strncmp(name, dir, dl))
        return false;
    const char *rest = name + dl;
    if (k == BUNDLE_CHECKPOINT) {
        unsigned long long t;
        char tail[8];
        return sscanf(rest, "ckpt-%llu.lbvm%1s", &t, tail) == 1 && strspn(rest + 5, "0123456789") + 10 == strlen(rest);
    }
    return strlen(rest) == 64 && strspn(rest, "0123456789abcdef") == 64;
}

static int add_file(Bundle *b, const BundleFile *f)
{
    BundleFile *n = realloc(b->files, (size_t)(b->n_files + 1) * sizeof *n);
    if (!n)
        return -1;
    b->files = n;
    b->files[b->n_files++] = *f;
    return 0;
}

static int add_segment(Bundle *b, const BundleSegment *s)
{
    BundleSegment *n = realloc(b->segs, (size_t)(b->n_segs + 1) * sizeof *n);
    if (!n)
        return -1;
    b->segs = n;
    b->segs[b->n_segs++] = *s;
    return 0;
}

static int file_line(Bundle *b, BundleKind k, const char *rest)
{
    BundleFile f;
    memset(&f, 0, sizeof f);
    f.kind = k;
    f.first = 1;
    char hex[65], name[96], extra[2][32] = { "", "" };
    unsigned long long size;
    int n = sscanf(rest, "%64s %llu %95s %31s %31s", hex, &size, name, extra[0], extra[1]);
    if (n < 3 || bundle_unhex(hex, f.digest) < 0 || !good_name(k, name))
        return -1;
    snprintf(f.name, sizeof f.name, "%s", name);
    f.size = size;
    unsigned long long v;
    if (k == BUNDLE_BASE && (n != 5 || sscanf(extra[0], "disk=%d", &f.disk) != 1 || f.disk < 0 ||
                             f.disk >= MACHINE_MAX_DISKS || sscanf(extra[1], "ro=%d", &f.read_only) != 1))
        return -1;
    if (k == BUNDLE_CHECKPOINT && (n != 4 || sscanf(extra[0], "ticks=%llu", &v) != 1))
        return -1;
    if (k == BUNDLE_LAYER && (n != 4 || sscanf(extra[0], "first=%d", &f.first) != 1 || f.first < 1))
        return -1;
    if (k == BUNDLE_MODULE && (n != 4 || sscanf(extra[0], "index=%d", &f.index) != 1 || f.index < 0 ||
                               f.index >= MULTIBOOT_MAX_MODULES))
        return -1;
    if ((k == BUNDLE_KERNEL || k == BUNDLE_INITRD) && n != 3)
        return -1;
    if (k == BUNDLE_CHECKPOINT)
        f.ticks = v;
    return add_file(b, &f);
}

static int segment_line(Bundle *b, const char *rest)
{
    BundleSegment s;
    memset(&s, 0, sizeof s);
    char hex[65], name[96];
    if (sscanf(rest, "%d %d %d %64s %95s", &s.id, &s.from, &s.to, hex, name) != 5 || bundle_unhex(hex, s.lines) < 0 ||
        s.id != b->n_segs + 1)
        return -1;
    s.ckpt = -1;
    if (strcmp(name, "boot")) {
        for (int i = 0; i < b->n_files && s.ckpt < 0; i++)
            if (b->files[i].kind == BUNDLE_CHECKPOINT && !strcmp(b->files[i].name, name))
                s.ckpt = i;
        if (s.ckpt < 0)
            return -1;
        b->files[s.ckpt].first = s.id;
    }
    return add_segment(b, &s);
}

static int manifest_read(Bundle *b, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" BUNDLE_MANIFEST, b->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return lbvm_set_err(err, errlen, "not an audit bundle: %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    bool journal = false;
    while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] == '\n')
            line[n - 1] = 0;
        if (lineno == 1) {
            rc = strcmp(line, "# lbvm bundle 1") ? -1 : 0;
            continue;
        }
        char kind[16], hex[65], name[32];
        int off = 0;
        if (sscanf(line, "%15s %n", kind, &off) != 1) {
            rc = -1;
            break;
        }
        unsigned long long size = 0;
        if (!strcmp(kind, "journal")) {
            rc = journal || sscanf(line + off, "%64s %llu %31s points=%d", hex, &size, name, &b->n_points) != 4 ||
                 bundle_unhex(hex, b->journal_sha256) < 0 || strcmp(name, BUNDLE_JOURNAL) ? -1 : 0;
            b->journal_size = size;
            journal = true;
        } else if (!strcmp(kind, "segment")) {
            rc = segment_line(b, line + off);
        } else {
            int k = -1;
            for (int i = 0; i < BUNDLE_KINDS; i++)
                if (!strcmp(kind, bundle_kind_names[i]))
                    k = i;
            rc = k < 0 ? -1 : file_line(b, (BundleKind)k, line + off);
        }
    }
    free(line);
    fclose(f);
    if (rc < 0 && lineno == 1)
        return lbvm_set_err(err, errlen, "%s is not an lbvm bundle MANIFEST (first line)", path);
    if (rc < 0)
        return lbvm_set_err(err, errlen, "%s:%d: malformed line", path, lineno);
    if (!journal || !b->n_segs)
        return lbvm_set_err(err, errlen, "%s names no journal or no segment", path);
    return 0;
}

/* ---- checks before anything runs ---- */

/* The segment that holds journal point p (1-based): the one that ends at or after it. */
static int segment_of_point(const Bundle *b, int p)
{
    for (int i = 0; i < b->n_segs; i++)
        if (b->segs[i].to >= p)
            return b->segs[i].id;
    return b->n_segs;
}

/* The journal, whole and per segment: edited or cut short is said of the
 * first segment whose lines are not the recorded ones. */
static int check_journal(Bundle *b, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" BUNDLE_JOURNAL, b->dir);
    uint8_t md[32], (*lines)[32] = calloc((size_t)b->n_segs, 32);
    bool *cut = calloc((size_t)b->n_segs, sizeof *cut);
    uint64_t size = 0;
    int rc = -1, points;
    if (!lines || !cut) {
        lbvm_set_err(err, errlen, "out of memory");
        goto out;
    }
    if (bundle_sha256_file(path, md, &size, err, errlen) < 0 ||
        (points = bundle_journal_slices(path, b->segs, b->n_segs, lines, cut, err, errlen)) < 0) {
        if (access(path, F_OK) != 0)
            lbvm_set_err(err, errlen, "segment 1: the journal %s is missing", path);
        goto out;
    }
    for (int i = 0; i < b->n_segs; i++) {
        const BundleSegment *s = &b->segs[i];
        if (cut[i]) {
            lbvm_set_err(err, errlen, "segment %d: the journal was cut short: it has %d points, this segment ends at "
                         "point %d (the MANIFEST records %d)", s->id, points, s->to, b->n_points);
            goto out;
        }
        if (memcmp(lines[i], s->lines, 32)) {
            lbvm_set_err(err, errlen, "segment %d: the journal was edited: its lines from %s%d to point %d are not the "
                         "ones the bundle recorded", s->id, s->from ? "point " : "the boot line, point ",
                         s->from ? s->from : 1, s->to);
            goto out;
        }
    }
    if (memcmp(md, b->journal_sha256, 32) || size != b->journal_size || points != b->n_points) {
        lbvm_set_err(err, errlen, "segment %d: the journal was changed after its last point (%d points, the MANIFEST "
                     "records %d)", b->n_segs, points, b->n_points);
        goto out;
    }
    rc = 0;
out:
    free(lines);
    free(cut);
    return rc;
}

/* The segments tile the journal's points: boot to the last; each one after
 * the first starts at its checkpoint's point, at that checkpoint's time. */
static int check_segments(Bundle *b, char *err, size_t errlen)
{
    for (int i = 0; i < b->n_segs; i++) {
        const BundleSegment *s = &b->segs[i];
        int want_from = i ? b->segs[i - 1].to : 0;
        if (s->from != want_from || s->to <= s->from || s->to > b->n_pts || (s->from == 0) != (s->ckpt < 0))
            return lbvm_set_err(err, errlen, "segment %d: the MANIFEST gives it points %d to %d, which do not follow "
                                "on from the segment before it in a journal of %d points", s->id, s->from, s->to, b->n_pts);
        if (s->ckpt >= 0 && b->files[s->ckpt].ticks != b->pts[s->from - 1].ticks)
            return lbvm_set_err(err, errlen, "segment %d: its checkpoint %s is recorded at %llu ticks, its start point "
                                "%d at %llu", s->id, b->files[s->ckpt].name, (unsigned long long)b->files[s->ckpt].ticks,
                                s->from, (unsigned long long)b->pts[s->from - 1].ticks);
    }
    if (b->segs[b->n_segs - 1].to != b->n_pts)
        return lbvm_set_err(err, errlen, "segment %d: the last segment ends at point %d, the journal has %d",
                            b->n_segs, b->segs[b->n_segs - 1].to, b->n_pts);
    return 0;
}

static bool needed_by(const Bundle *b, const BundleFile *f, int seg)
{
    if (seg == 0)
        return true;
    switch (f->kind) {
    case BUNDLE_KERNEL:
    case BUNDLE_INITRD:
    case BUNDLE_MODULE: return seg == 1;
    case BUNDLE_CHECKPOINT: return f->first == seg;
    case BUNDLE_BASE: return true;
    case BUNDLE_LAYER: return f->first <= seg;
    }
    (void)b;
    return false;
}

/* One file: there, of its size, and (deep) of its digest. */
static int check_file(const Bundle *b, const BundleFile *f, bool deep, char *err, size_t errlen)
{
    char path[4200], why[600];
    bundle_path(b, f, path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return lbvm_set_err(err, errlen, "segment %d: %s %s is missing", f->first, bundle_kind_names[f->kind], f->name);
    if ((uint64_t)st.st_size != f->size)
        return lbvm_set_err(err, errlen, "segment %d: %s %s is altered (%llu bytes, the MANIFEST says %llu)", f->first,
                            bundle_kind_names[f->kind], f->name, (unsigned long long)st.st_size, (unsigned long long)f->size);
    if (!deep)
        return 0;
    uint8_t md[32];
    int rc = f->kind == BUNDLE_BASE ? disk_file_digest(path, md, why, sizeof why)
                                    : bundle_sha256_file(path, md, NULL, why, sizeof why);
    if (rc < 0)
        return lbvm_set_err(err, errlen, "segment %d: %s", f->first, why);
    if (memcmp(md, f->digest, 32)) {
        char got[65], want[65];
        bundle_hex(md, 32, got);
        bundle_hex(f->digest, 32, want);
        return lbvm_set_err(err, errlen, "segment %d: %s %s is altered (%s %s, the MANIFEST says %s)", f->first,
                            bundle_kind_names[f->kind], f->name, f->kind == BUNDLE_BASE ? "content digest" : "SHA-256", got, want);
    }
    return 0;
}

/* A checkpoint: at the guest time the MANIFEST says, and (deep) standing on
 * bases and layers that the bundle holds for its segment. */
static int check_checkpoint(Bundle *b, const BundleFile *f, bool deep, char *err, size_t errlen)
{
    char path[4200], why[4608];
    bundle_path(b, f, path, sizeof path);
    uint64_t ticks;
    CkptSession refs;
    if (machine_checkpoint_refs(path, false, &ticks, &refs, why, sizeof why) < 0)
        return lbvm_set_err(err, errlen, "segment %d: %s", f->first, why);
    int rc = 0;
    if (ticks != f->ticks)
        rc = lbvm_set_err(err, errlen, "segment %d: checkpoint %s is at %llu ticks, the MANIFEST says %llu", f->first,
                          f->name, (unsigned long long)ticks, (unsigned long long)f->ticks);
    for (int i = 0; deep && i < refs.n_disks && !rc; i++) {
        CkptDisk d = refs.disk[i];
        CkptLayer *layers = malloc(((size_t)d.n_layers + 1) * sizeof *layers);
        if (!layers) {
            rc = lbvm_set_err(err, errlen, "out of memory");
            break;
        }
        memcpy(layers, d.layers, (size_t)d.n_layers * sizeof *layers);
        d.layers = layers;
        if (bundle_resolve(b, i, &d, why, sizeof why) < 0)
            rc = lbvm_set_err(err, errlen, "segment %d: checkpoint %s: %s", f->first, f->name, why);
        for (int k = 0; k < d.n_layers && !rc; k++)
            for (int j = 0; j < b->n_files; j++)
                if (b->files[j].kind == BUNDLE_LAYER && !memcmp(b->files[j].digest, layers[k].sha256, 32) &&
                    b->files[j].first > f->first)
                    rc = lbvm_set_err(err, errlen, "segment %d: checkpoint %s stands on layer %s, which the MANIFEST "
                                      "says is first needed by segment %d", f->first, f->name, b->files[j].name,
                                      b->files[j].first);
        free(layers);
    }
    ckpt_session_close(&refs);
    return rc;
}

/* The kernel, initrd and modules are the ones the journal's boot line names
 * (by its kernel=, initrd=, module= and their -sha256=), each once: segment
 * 1 reads no file but the bundle's. A BIOS boot names none. */
static int check_inputs(const Bundle *b, char *err, size_t errlen)
{
    for (int k = BUNDLE_KERNEL; k <= BUNDLE_MODULE; k++) {
        const char *key = bundle_kind_names[k];
        int named = bundle_boot_count(b->boot, key);
        char what[32], sha_key[32];
        snprintf(sha_key, sizeof sha_key, "%s-sha256", key);
        for (int i = 0; i < b->n_files; i++) {
            const BundleFile *f = &b->files[i];
            if (f->kind == (BundleKind)k && (f->index >= named || bundle_find(b, f->kind, f->index) != f))
                return lbvm_set_err(err, errlen, "segment 1: the MANIFEST's %s %s is not one the journal's boot line "
                                    "names (it names %d)", key, f->name, named);
        }
        for (int n = 0; n < named; n++) {
            uint8_t want[32];
            const BundleFile *f = bundle_find(b, (BundleKind)k, n);
            bool digest = bundle_boot_digest(b->boot, sha_key, n, want) == 0;
            if (k == BUNDLE_MODULE)
                snprintf(what, sizeof what, "module %d", n + 1);
            else
                snprintf(what, sizeof what, "%s", key);
            if (!digest || !f || memcmp(want, f->digest, 32))
                return lbvm_set_err(err, errlen, "segment 1: the bundle's %s is not the one the journal's boot line "
                                    "names (%s)", what, !f ? "the MANIFEST has none" : !digest ? "it gives no SHA-256"
                                    : "SHA-256");
        }
    }
    return 0;
}

static int check_files(Bundle *b, int seg, char *err, size_t errlen)
{
    bool deep = seg == 0;
    for (int i = 0; i < b->n_files; i++) {
        BundleFile *f = &b->files[i];
        if (!needed_by(b, f, seg))
            continue;
        /* a segment's own checkpoint is always digested: it is what it stands on */
        bool own = f->kind == BUNDLE_CHECKPOINT || f->kind <= BUNDLE_MODULE;
        if (check_file(b, f, deep || own, err, errlen) < 0)
            return -1;
        if (f->kind == BUNDLE_CHECKPOINT && check_checkpoint(b, f, deep, err, errlen) < 0)
            return -1;
    }
    return seg <= 1 ? check_inputs(b, err, errlen) : 0;
}

bool bundle_is(const char *path)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/" BUNDLE_MANIFEST, path);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && access(p, F_OK) == 0;
}

int bundle_open(Bundle *b, const char *dir, int seg, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    if (!host_realpath(dir, b->dir))
        return lbvm_set_err(err, errlen, "%s: %s", dir, strerror(errno));
    if (manifest_read(b, err, errlen) < 0)
        return -1;
    if (seg < 0 || seg > b->n_segs)
        return lbvm_set_err(err, errlen, "there is no segment %d: the bundle has %d (see --list-segments)", seg, b->n_segs);
    if (check_journal(b, err, errlen) < 0)
        return -1;
    char path[4200], why[1024];
    snprintf(path, sizeof path, "%s/" BUNDLE_JOURNAL, b->dir);
    if (journal_read(path, b->boot, sizeof b->boot, &b->pts, &b->n_pts, &b->ins, &b->n_ins, why, sizeof why) < 0)
        return lbvm_set_err(err, errlen, "segment %d: %s", segment_of_point(b, 1), why);
    if (!b->boot[0])
        return lbvm_set_err(err, errlen, "segment 1: the journal has no boot line");
    if (check_segments(b, err, errlen) < 0 || check_files(b, seg, err, errlen) < 0)
        return -1;
    return 0;
}

void bundle_close(Bundle *b)
{
    for (int i = 0; i < b->n_ins; i++)
        free(b->ins[i].bytes);
    free(b->ins);
    free(b->pts);
    free(b->files);
    free(b->segs);
    memset(b, 0, sizeof *b);
}

void bundle_path(const Bundle *b, const BundleFile *f, char *out, size_t len)
{
    if ((size_t)snprintf(out, len, "%s/%s", b->dir, f->name) >= len)
        out[0] = 0;
}

const BundleFile *bundle_find(const Bundle *b, BundleKind kind, int n)
{
    for (int i = 0; i < b->n_files; i++)
        if (b->files[i].kind == kind && (kind != BUNDLE_BASE || b->files[i].disk == n) &&
            (kind != BUNDLE_MODULE || b->files[i].index == n))
            return &b->files[i];
    return NULL;
}

static const BundleFile *find_digest(const Bundle *b, BundleKind kind, const uint8_t digest[32])
{
    for (int i = 0; i < b->n_files; i++)
        if (b->files[i].kind == kind && !memcmp(b->files[i].digest, digest, 32))
            return &b->files[i];
    return NULL;
}

int bundle_resolve(void *opaque, int i, CkptDisk *d, char *err, size_t errlen)
{
    const Bundle *b = opaque;
    char hex[65];
    const BundleFile *f = find_digest(b, BUNDLE_BASE, d->base_sha256);
    if (!f) {
        bundle_hex(d->base_sha256, 32, hex);
        return lbvm_set_err(err, errlen, "disk %d: the bundle has no base image of content digest %s", i, hex);
    }
    bundle_path(b, f, d->base, sizeof d->base);
    for (int k = 0; k < d->n_layers; k++) {
        if (!(f = find_digest(b, BUNDLE_LAYER, d->layers[k].sha256))) {
            bundle_hex(d->layers[k].sha256, 32, hex);
            return lbvm_set_err(err, errlen, "disk %d: the bundle has no layer of SHA-256 %s", i, hex);
        }
        bundle_path(b, f, d->layers[k].path, sizeof d->layers[k].path);
    }
    return 0;
}

/* ---- one segment ---- */

int bundle_segment_run(const Bundle *b, int k, Machine *m, bool start_only, SessionResult *r, bool *start_bad)
{
    const BundleSegment *s = &b->segs[k - 1];
    *start_bad = false;
    if (s->from > 0 && !session_check_point(m, &b->pts[s->from - 1], s->from - 1, r)) {
        *start_bad = true;
        return 0;
    }
    if (start_only)
        return 0;
    SessionOpts o = { .expect = b->pts + s->from, .n_expect = s->to - s->from, .inputs = b->ins,
                      .n_inputs = b->n_ins, .quiet = true, .stop_at_last = true };
    int start = s->from > 0;
    if (session_run(m, &o, r) < 0)
        return -1;
    r->index += s->from;
    r->compared += start;
    return 0;
}
