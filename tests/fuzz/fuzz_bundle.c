/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: an audit bundle as `lbvm verify BUNDLE` opens it
 * (audit/bundle.c's bundle_open, before anything runs): the MANIFEST, the
 * journal whole and per segment, the segments against the journal's points,
 * the files, and the kernel, initrd and modules against the journal's boot
 * line. The input is NUL-separated parts: the MANIFEST, the journal, then up
 * to 4 files, each placed as inputs/<its SHA-256>. So that inputs get past
 * the digests, the harness replaces @I0..@I3 (in both texts) with those
 * files' SHA-256, and in the MANIFEST @Z0..@Z3 with their sizes, @J and @j
 * with the journal's SHA-256 and size, and the k-th @L with the SHA-256 of
 * the journal lines the k-th "segment ID FROM TO @L" line covers. Opening,
 * whole (0) and for segment 1, must succeed or refuse with one line, never
 * read or write out of bounds (ASan, UBSan); what it accepts must hold
 * together: segments tiling the journal's points, files in their folders,
 * each input the boot line names there once. LBVM_FUZZ_BUNDLE_SHOW=1 prints
 * each verdict (to see how far a seed gets). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit/bundle_priv.h"
#include "fuzz_input.h"

#define FILES 4

static char dir[64];

/* The folder and what the last input left in it. */
static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void put(const char *name, const void *data, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    check(f != NULL);
    check(fwrite(data, 1, n, f) == n || n == 0);
    check(fclose(f) == 0);
}

typedef struct Subst {
    char hex[FILES][65], size[FILES][24];
    int n_files;
    char jhex[65], jsize[24];
    char (*lines)[65];          /* per @L, in order */
    int n_lines;
} Subst;

/* text (n bytes) with the tokens above replaced; @L only once lines are known
 * (else kept). A NUL-terminated copy, freed by the caller. */
static char *expand(const char *text, size_t n, const Subst *s, bool manifest)
{
    size_t cap = n * 2 + 1, len = 0;
    char *out = malloc(cap);
    check(out != NULL);
    int l = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        char c = i + 1 < n && text[i] == '@' ? text[i + 1] : 0;
        int k = i + 2 < n ? text[i + 2] - '0' : -1;
        if (c == 'I' && k >= 0 && k < s->n_files)
            rep = s->hex[k];
        else if (manifest && c == 'Z' && k >= 0 && k < s->n_files)
            rep = s->size[k];
        else if (manifest && c == 'J')
            rep = s->jhex;
        else if (manifest && c == 'j')
            rep = s->jsize;
        else if (manifest && c == 'L' && l < s->n_lines)
            rep = s->lines[l++];
        size_t rl = rep ? strlen(rep) : 1;
        if (len + rl + 1 > cap) {
            cap = (len + rl + 1) * 2;
            out = realloc(out, cap);
            check(out != NULL);
        }
        if (rep) {
            memcpy(out + len, rep, rl);
            len += rl;
            i += c == 'I' || c == 'Z' ? 2 : 1;
        } else {
            out[len++] = text[i];
        }
    }
    out[len] = 0;
    return out;
}

static void sha_hex(const void *b, size_t n, char out[65])
{
    uint8_t md[32];
    EVP_Digest(b, n, md, NULL, EVP_sha256(), NULL);
    bundle_hex(md, 32, out);
}

/* An opened bundle holds together. */
static void check_bundle(const Bundle *b)
{
    check(b->n_segs >= 1 && b->n_pts >= 1 && b->segs[0].from == 0 && b->segs[b->n_segs - 1].to == b->n_pts);
    for (int i = 0; i < b->n_segs; i++) {
        const BundleSegment *g = &b->segs[i];
        check(g->id == i + 1 && g->to > g->from && (i == 0 || g->from == b->segs[i - 1].to));
        check((g->ckpt < 0) == (g->from == 0));
        check(g->ckpt < 0 || (g->ckpt < b->n_files && b->files[g->ckpt].kind == BUNDLE_CHECKPOINT));
    }
    for (int i = 0; i < b->n_files; i++) {
        const BundleFile *f = &b->files[i];
        check(f->kind >= BUNDLE_KERNEL && f->kind <= BUNDLE_LAYER && !strstr(f->name, "..") && f->name[0] != '/');
        if (f->kind <= BUNDLE_MODULE)
            check(!strncmp(f->name, "inputs/", 7) && bundle_find(b, f->kind, f->index) == f &&
                  f->index < bundle_boot_count(b->boot, bundle_kind_names[f->kind]));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/lbvm-fuzz-bundle-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        check(mkdtemp(dir) != NULL);
        char p[128];
        snprintf(p, sizeof p, "%s/inputs", dir);
        check(mkdir(p, 0755) == 0);
        atexit(cleanup);
    }
    const uint8_t *p = data, *end = data + size;
    size_t mn, jn;
    const uint8_t *mt = part(&p, end, &mn), *jt = part(&p, end, &jn);
    Subst s;
    memset(&s, 0, sizeof s);
    char names[FILES][80];
    while (s.n_files < FILES && p < end) {
        size_t fn;
        const uint8_t *ft = part(&p, end, &fn);
        int k = s.n_files++;
        sha_hex(ft, fn, s.hex[k]);
        snprintf(s.size[k], sizeof s.size[k], "%zu", fn);
        snprintf(names[k], sizeof names[k], "inputs/%s", s.hex[k]);
        put(names[k], ft, fn);
    }
    char *journal = expand((const char *)jt, jn, &s, false);
    put(BUNDLE_JOURNAL, journal, strlen(journal));
    sha_hex(journal, strlen(journal), s.jhex);
    snprintf(s.jsize, sizeof s.jsize, "%zu", strlen(journal));
    free(journal);

    /* first without @L, to find the segments it stands for */
    char *manifest = expand((const char *)mt, mn, &s, true), *line = manifest;
    BundleSegment *segs = NULL;
    int n = 0;
    while (line && *line) {
        BundleSegment g = { 0 };
        int used = 0;
        if (sscanf(line, "segment %d %d %d @L%n", &g.id, &g.from, &g.to, &used) == 3 && used > 0) {
            segs = realloc(segs, (size_t)(n + 1) * sizeof *segs);
            check(segs != NULL);
            segs[n++] = g;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    free(manifest);
    char jpath[128], err[4608];
    snprintf(jpath, sizeof jpath, "%s/" BUNDLE_JOURNAL, dir);
    if (n) {
        uint8_t(*md)[32] = calloc((size_t)n, 32);
        bool *cut = calloc((size_t)n, sizeof *cut);
        s.lines = calloc((size_t)n, sizeof *s.lines);
        check(md && cut && s.lines);
        check(bundle_journal_slices(jpath, segs, n, md, cut, err, sizeof err) >= 0);
        for (int i = 0; i < n; i++)
            bundle_hex(md[i], 32, s.lines[i]);
        s.n_lines = n;
        free(md);
        free(cut);
    }
    manifest = expand((const char *)mt, mn, &s, true);
    put(BUNDLE_MANIFEST, manifest, strlen(manifest));
    free(manifest);
    free(s.lines);
    free(segs);

    for (int seg = 0; seg <= 1; seg++) {
        Bundle b;
        err[0] = 0;
        int rc = bundle_open(&b, dir, seg, err, sizeof err);
        if (rc == 0)
            check_bundle(&b);
        else
            check(err[0] && !strchr(err, '\n'));
        if (getenv("LBVM_FUZZ_BUNDLE_SHOW"))   /* how far an input gets */
            fprintf(stderr, "fuzz_bundle: seg %d: %s\n", seg, rc == 0 ? "opened" : err);
        bundle_close(&b);
    }
    for (int k = 0; k < s.n_files; k++) {
        char path[160];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        unlink(path);
    }
    return 0;
}
