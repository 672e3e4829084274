/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lbvm bundle: an audit bundle from a journal and its run's checkpoint
 * folders (bundle.h, docs/audit.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/bundle_priv.h"
#include "base/platform.h"
#include "devices/disk.h"

/* What the run left, found before anything is written: per journal point
 * the checkpoint taken there (if any) and its disk references. */
typedef struct MakeCtx {
    char (*ckpt)[4400];        /* per point: the checkpoint's path, "" for none */
    CkptSession *refs;         /* per point with a checkpoint */
    int n_pts;
    char journal[4096];
    char cwd[4096];            /* the boot line's folder: its paths are relative to it */
} MakeCtx;

/* ---- finding what the run left ---- */

static int read_journal(const BundleMakeOpts *o, Bundle *b, MakeCtx *mc, char *err, size_t errlen)
{
    if (journal_read(o->journal, b->boot, sizeof b->boot, &b->pts, &b->n_pts, &b->ins, &b->n_ins, err, errlen) < 0)
        return -1;
    if (!b->boot[0] || b->n_pts == 0)
        return lbvm_set_err(err, errlen, "%s: no boot line or no points", o->journal);
    for (int i = 1; i < b->n_pts; i++)
        if (b->pts[i].ticks == b->pts[i - 1].ticks)
            return lbvm_set_err(err, errlen, "%s: two points at %llu ticks", o->journal,
                                (unsigned long long)b->pts[i].ticks);
    if (!bundle_boot_count(b->boot, "kernel") && !bundle_boot_count(b->boot, "disk") &&
        !bundle_boot_count(b->boot, "ide"))
        return lbvm_set_err(err, errlen, "%s: the boot line names no kernel and no disk: nothing boots", o->journal);
    mc->n_pts = b->n_pts;
    mc->ckpt = calloc((size_t)b->n_pts, sizeof *mc->ckpt);
    mc->refs = calloc((size_t)b->n_pts, sizeof *mc->refs);
    if (!mc->ckpt || !mc->refs)
        return lbvm_set_err(err, errlen, "out of memory");
    snprintf(mc->journal, sizeof mc->journal, "%s", o->journal);
    char *cwd = journal_boot_value(b->boot, "cwd", 0);
    snprintf(mc->cwd, sizeof mc->cwd, "%s", cwd ? cwd : ".");
    free(cwd);
    return 0;
}

/* The point a checkpoint at `ticks` belongs to; none at the last point (no
 * segment starts there). */
static int point_at(const Bundle *b, uint64_t ticks)
{
    for (int i = 0; i + 1 < b->n_pts; i++)
        if (b->pts[i].ticks == ticks)
            return i;
    return -1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One folder's ckpt-N.lbvm, in number order (same width: names sort so). */
static int scan_dir(const char *dir, Bundle *b, MakeCtx *mc, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return lbvm_set_err(err, errlen, "checkpoint folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned v;
        char tail[8];
        if (sscanf(e->d_name, "ckpt-%u.lbvm%1s", &v, tail) != 1)
            continue;
        char **nn = realloc(names, (size_t)(n + 1) * sizeof *nn);
        if (!nn || !(nn[n] = strdup(e->d_name))) {
            names = nn ? nn : names;
            rc = lbvm_set_err(err, errlen, "out of memory");
            break;
        }
        names = nn;
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 0; i < n && !rc; i++) {
        char path[4400];
        uint64_t ticks;
        CkptSession refs;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (machine_checkpoint_refs(path, false, &ticks, &refs, err, errlen) < 0) {
            rc = -1;
            break;
        }
        int p = point_at(b, ticks);
        if (p < 0) {
            ckpt_session_close(&refs);
            continue;
        }
        /* a later checkpoint at the same point: the run that the journal's
         * lines after a resume describe */
        if (mc->ckpt[p][0])
            ckpt_session_close(&mc->refs[p]);
        snprintf(mc->ckpt[p], sizeof mc->ckpt[p], "%s", path);
        mc->refs[p] = refs;
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Segments from the boot and from each checkpoint to the next one's point. */
static int plan_segments(Bundle *b, MakeCtx *mc, char *err, size_t errlen)
{
    int from = 0, ckpt = -1;
    for (int p = 0; p <= b->n_pts; p++) {
        if (p < b->n_pts && !mc->ckpt[p][0])
            continue;
        BundleSegment s = { .id = b->n_segs + 1, .from = from, .to = p < b->n_pts ? p + 1 : b->n_pts, .ckpt = ckpt };
        if (p == b->n_pts && from == b->n_pts)
            break;
        BundleSegment *ns = realloc(b->segs, (size_t)(b->n_segs + 1) * sizeof *ns);
        if (!ns)
            return lbvm_set_err(err, errlen, "out of memory");
        b->segs = ns;
        b->segs[b->n_segs++] = s;
        if (p == b->n_pts)
            break;
        BundleFile f = { .kind = BUNDLE_CHECKPOINT, .ticks = b->pts[p].ticks, .first = s.id + 1 };
        snprintf(f.name, sizeof f.name, "checkpoints/ckpt-%llu.lbvm", (unsigned long long)f.ticks);
        snprintf(f.src, sizeof f.src, "%s", mc->ckpt[p]);
        BundleFile *nf = realloc(b->files, (size_t)(b->n_files + 1) * sizeof *nf);
        if (!nf)
            return lbvm_set_err(err, errlen, "out of memory");
        b->files = nf;
        ckpt = b->n_files;
        b->files[b->n_files++] = f;
        from = p + 1;
    }
    return 0;
}

static BundleFile *add(Bundle *b, const BundleFile *f)
{
    BundleFile *nf = realloc(b->files, (size_t)(b->n_files + 1) * sizeof *nf);
    if (!nf)
        return NULL;
    b->files = nf;
    b->files[b->n_files] = *f;
    return &b->files[b->n_files++];
}

/* A path on the boot line, from the run's folder. */
static void boot_path(const MakeCtx *mc, const char *p, char *out, size_t len)
{
    if ((size_t)(p[0] == '/' ? snprintf(out, len, "%s", p) : snprintf(out, len, "%s/%s", mc->cwd, p)) >= len)
        out[0] = 0;                            /* too long: "cannot open" says so */
}

/* The bases: every checkpoint's must be the first one's; with no
 * checkpoint, the boot line's disks. */
static int collect_bases(Bundle *b, MakeCtx *mc, char *err, size_t errlen)
{
    /* The boot line's disks in checkpoint order: disk= (AHCI), then ide=. */
    int n_ahci = bundle_boot_count(b->boot, "disk"), n_boot = n_ahci + bundle_boot_count(b->boot, "ide");
    const CkptSession *first = NULL;
    for (int p = 0; p < mc->n_pts; p++) {
        if (!mc->ckpt[p][0])
            continue;
        const CkptSession *r = &mc->refs[p];
        if (!first)
            first = r;
        for (int i = 0; i < r->n_disks; i++)
            if (r->n_disks != first->n_disks || memcmp(r->disk[i].base_sha256, first->disk[i].base_sha256, 32))
                return lbvm_set_err(err, errlen, "%s and the first checkpoint stand on different base images (disk %d)",
                                    mc->ckpt[p], i);
        if (r->n_disks != n_boot)
            return lbvm_set_err(err, errlen, "%s has %d disks, the journal's boot line %d", mc->ckpt[p], r->n_disks, n_boot);
    }
    for (int i = 0; i < n_boot; i++) {
        BundleFile f = { .kind = BUNDLE_BASE, .disk = i, .first = 1 };
        if (first) {
            snprintf(f.src, sizeof f.src, "%s", first->disk[i].base);
            memcpy(f.digest, first->disk[i].base_sha256, 32);
            f.read_only = first->disk[i].read_only;
        } else {
            char *arg = i < n_ahci ? journal_boot_value(b->boot, "disk", i)
                                   : journal_boot_value(b->boot, "ide", i - n_ahci);
            size_t len = arg ? strlen(arg) : 0;
            f.read_only = len > 3 && !strcmp(arg + len - 3, ",ro");
            if (f.read_only)
                arg[len - 3] = 0;
            boot_path(mc, arg ? arg : "", f.src, sizeof f.src);
            free(arg);
            if (disk_file_digest(f.src, f.digest, err, errlen) < 0)
                return -1;
        }
        char hex[65];
        bundle_hex(f.digest, 32, hex);
        snprintf(f.name, sizeof f.name, "bases/%s", hex);
        if (!add(b, &f))
            return lbvm_set_err(err, errlen, "out of memory");
    }
    return 0;
}

/* Every layer the chosen checkpoints stand on, once each (by SHA-256),
 * first needed by the segment of the first checkpoint that lists it. */
static int collect_layers(Bundle *b, MakeCtx *mc, char *err, size_t errlen)
{
    for (int s = 0; s < b->n_segs; s++) {
        if (b->segs[s].ckpt < 0)
            continue;
        const CkptSession *r = &mc->refs[b->segs[s].from - 1];
        for (int i = 0; i < r->n_disks; i++)
            for (int k = 0; k < r->disk[i].n_layers; k++) {
                const CkptLayer *l = &r->disk[i].layers[k];
                bool seen = false;
                for (int j = 0; j < b->n_files && !seen; j++)
                    seen = b->files[j].kind == BUNDLE_LAYER && !memcmp(b->files[j].digest, l->sha256, 32);
                if (seen)
                    continue;
                BundleFile f = { .kind = BUNDLE_LAYER, .first = b->segs[s].id };
                memcpy(f.digest, l->sha256, 32);
                char hex[65];
                bundle_hex(l->sha256, 32, hex);
                snprintf(f.name, sizeof f.name, "layers/%s", hex);
                snprintf(f.src, sizeof f.src, "%s", l->path);
                if (!add(b, &f))
                    return lbvm_set_err(err, errlen, "out of memory");
            }
    }
    return 0;
}

/* The kernel, initrd and modules the boot line names, with its digests
 * (module=FILE,CMDLINE: the file; the guest's strings stay on the boot
 * line). A BIOS boot names none: its disks hold everything. */
static int collect_inputs(Bundle *b, MakeCtx *mc, char *err, size_t errlen)
{
    for (int k = BUNDLE_KERNEL; k <= BUNDLE_MODULE; k++) {
        const char *key = bundle_kind_names[k];
        char sha_key[32];
        snprintf(sha_key, sizeof sha_key, "%s-sha256", key);
        int named = bundle_boot_count(b->boot, key);
        for (int n = 0; n < named; n++) {
            BundleFile f = { .kind = (BundleKind)k, .index = n, .first = 1 };
            char *p = journal_boot_value(b->boot, key, n), hex[65];
            if (!p)
                return lbvm_set_err(err, errlen, "out of memory");
            char *comma = k == BUNDLE_MODULE ? strchr(p, ',') : NULL;
            if (comma)
                *comma = 0;
            if (bundle_boot_digest(b->boot, sha_key, n, f.digest) < 0) {
                lbvm_set_err(err, errlen, "%s: the boot line names %s %s without its SHA-256 (no valid %s=%s): "
                             "lbvm verify JOURNAL re-runs it, a bundle cannot carry it", mc->journal, key, p, sha_key,
                             k == BUNDLE_MODULE ? ", as in journals of lbvm before module digests" : "");
                free(p);
                return -1;
            }
            boot_path(mc, p, f.src, sizeof f.src);
            free(p);
            bundle_hex(f.digest, 32, hex);
            snprintf(f.name, sizeof f.name, "inputs/%s", hex);
            if (!add(b, &f))
                return lbvm_set_err(err, errlen, "out of memory");
        }
    }
    return 0;
}

/* ---- writing the bundle ---- */

/* Copies src to dst through dst.tmp (holes stay holes), fsynced, renamed. */
static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0) {
        lbvm_set_err(err, errlen, "%s: %s", src, strerror(errno));
        goto out;
    }
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        lbvm_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    static uint8_t buf[1 << 20];
    off_t pos = 0;
    while (pos < st.st_size) {
        off_t data = (off_t)host_seek_data(in, pos), hole;
        if (data < 0 && errno == ENXIO)
            break;                               /* a hole to the end */
        if (data < 0)
            data = pos;                          /* no SEEK_DATA here: copy it all */
        hole = (off_t)host_seek_hole(in, data);
        if (hole < 0 || hole > st.st_size)
            hole = st.st_size;
        for (pos = data; pos < hole;) {
            ssize_t n = pread(in, buf, (size_t)(hole - pos < (off_t)sizeof buf ? hole - pos : (off_t)sizeof buf), pos);
            if (n <= 0 || pwrite(out, buf, (size_t)n, pos) != n) {
                lbvm_set_err(err, errlen, "copying %s to %s: %s", src, tmp, n < 0 ? strerror(errno) : "short read or write");
                goto out;
            }
            pos += n;
        }
    }
    if (ftruncate(out, st.st_size) != 0 || host_fsync(out) != 0 || host_replace(tmp, dst) != 0) {
        lbvm_set_err(err, errlen, "cannot write %s: %s", dst, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* lbvm's own files (checkpoints, layers) never change once named: a hard
 * link is as good as a copy, and costs nothing. */
static int link_or_copy(const char *src, const char *dst, char *err, size_t errlen)
{
    if (host_link_new(src, dst) == 0)
        return 0;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
        return lbvm_set_err(err, errlen, "cannot link %s to %s: %s", src, dst, strerror(errno));
    return copy_file(src, dst, err, errlen);
}

static int make_folder(const char *out, char *err, size_t errlen)
{
    static const char *const subs[] = { "", "/inputs", "/bases", "/checkpoints", "/layers" };
    DIR *d = opendir(out);
    if (d) {
        struct dirent *e;
        int n = 0;
        while ((e = readdir(d)))
            n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
        closedir(d);
        if (n)
            return lbvm_set_err(err, errlen, "%s exists and is not empty: give a new folder for the bundle", out);
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", out, subs[i]);
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return lbvm_set_err(err, errlen, "cannot create %s: %s", p, strerror(errno));
    }
    return 0;
}

/* One file into the bundle, then its digest checked against what the run
 * recorded for it (the checkpoint's own digest as well). */
static int place_file(Bundle *b, BundleFile *f, char *err, size_t errlen)
{
    char dst[4200], why[4608];
    bundle_path(b, f, dst, sizeof dst);
    bool ours = f->kind == BUNDLE_CHECKPOINT || f->kind == BUNDLE_LAYER;
    if ((ours ? link_or_copy(f->src, dst, err, errlen) : copy_file(f->src, dst, err, errlen)) < 0)
        return -1;
    uint8_t md[32];
    uint64_t size = 0;
    struct stat st;
    int rc = f->kind == BUNDLE_BASE ? disk_file_digest(dst, md, why, sizeof why)
                                    : bundle_sha256_file(dst, md, &size, why, sizeof why);
    if (rc < 0 || stat(dst, &st) != 0)
        return lbvm_set_err(err, errlen, "%s", rc < 0 ? why : strerror(errno));
    f->size = (uint64_t)st.st_size;
    if (f->kind == BUNDLE_CHECKPOINT) {
        memcpy(f->digest, md, 32);
        uint64_t t;
        CkptSession refs;
        if (machine_checkpoint_refs(dst, true, &t, &refs, why, sizeof why) < 0)
            return lbvm_set_err(err, errlen, "%s: %s", f->src, why);
        ckpt_session_close(&refs);
        return 0;
    }
    if (memcmp(md, f->digest, 32))
        return lbvm_set_err(err, errlen, "%s changed since the run: it is not the %s the %s recorded", f->src,
                            f->kind == BUNDLE_BASE ? "base image" : bundle_kind_names[f->kind],
                            f->kind == BUNDLE_LAYER || f->kind == BUNDLE_BASE ? "checkpoints" : "journal's boot line");
    return 0;
}

static int place_files(Bundle *b, MakeCtx *mc, char *err, size_t errlen)
{
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/" BUNDLE_JOURNAL, b->dir);
    if (copy_file(mc->journal, dst, err, errlen) < 0 ||
        bundle_sha256_file(dst, b->journal_sha256, &b->journal_size, err, errlen) < 0)
        return -1;
    b->n_points = b->n_pts;
    for (int i = 0; i < b->n_files; i++) {
        /* an input named twice (two modules of the same bytes) is one file */
        const BundleFile *same = NULL;
        for (int j = 0; j < i && !same; j++)
            if (!strcmp(b->files[j].name, b->files[i].name))
                same = &b->files[j];
        if (same)
            b->files[i].size = same->size;
        else if (place_file(b, &b->files[i], err, errlen) < 0)
            return -1;
    }
    uint8_t(*lines)[32] = calloc((size_t)b->n_segs, 32);
    bool *cut = calloc((size_t)b->n_segs, sizeof *cut);
    int rc = lines && cut ? 0 : lbvm_set_err(err, errlen, "out of memory");
    if (!rc && bundle_journal_slices(dst, b->segs, b->n_segs, lines, cut, err, errlen) < 0)
        rc = -1;
    for (int s = 0; s < b->n_segs && !rc; s++)
        memcpy(b->segs[s].lines, lines[s], 32);
    free(lines);
    free(cut);
    return rc;
}

static int write_manifest(Bundle *b, char *err, size_t errlen)
{
    char path[4200], tmp[4300], hex[65];
    snprintf(path, sizeof path, "%s/" BUNDLE_MANIFEST, b->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return lbvm_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "# lbvm bundle 1\n");
    bundle_hex(b->journal_sha256, 32, hex);
    fprintf(f, "journal %s %llu " BUNDLE_JOURNAL " points=%d\n", hex, (unsigned long long)b->journal_size, b->n_points);
    /* in kind order: a segment line names a checkpoint listed before it */
    for (int k = 0; k < BUNDLE_KINDS; k++)
        for (int i = 0; i < b->n_files; i++) {
            const BundleFile *x = &b->files[i];
            if ((int)x->kind != k)
                continue;
            bundle_hex(x->digest, 32, hex);
            fprintf(f, "%s %s %llu %s", bundle_kind_names[k], hex, (unsigned long long)x->size, x->name);
            if (k == BUNDLE_MODULE)
                fprintf(f, " index=%d", x->index);
            else if (k == BUNDLE_BASE)
                fprintf(f, " disk=%d ro=%d", x->disk, x->read_only);
            else if (k == BUNDLE_CHECKPOINT)
                fprintf(f, " ticks=%llu", (unsigned long long)x->ticks);
            else if (k == BUNDLE_LAYER)
                fprintf(f, " first=%d", x->first);
            fputc('\n', f);
        }
    for (int s = 0; s < b->n_segs; s++) {
        const BundleSegment *x = &b->segs[s];
        bundle_hex(x->lines, 32, hex);
        fprintf(f, "segment %d %d %d %s %s\n", x->id, x->from, x->to, hex, x->ckpt < 0 ? "boot" : b->files[x->ckpt].name);
    }
    if (fflush(f) != 0 || host_fsync(fileno(f)) != 0 || fclose(f) != 0 || host_replace(tmp, path) != 0) {
        unlink(tmp);
        return lbvm_set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    }
    static const char *const subs[] = { "", "/inputs", "/bases", "/checkpoints", "/layers" };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", b->dir, subs[i]);
        host_fsync_dir(path);
    }
    return 0;
}

int bundle_make(const BundleMakeOpts *o, Bundle *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    MakeCtx mc;
    memset(&mc, 0, sizeof mc);
    int rc = -1;
    if (read_journal(o, b, &mc, err, errlen) < 0)
        goto out;
    for (int i = 0; i < o->n_ckpt_dirs; i++)
        if (scan_dir(o->ckpt_dirs[i], b, &mc, err, errlen) < 0)
            goto out;
    if (plan_segments(b, &mc, err, errlen) < 0 || collect_inputs(b, &mc, err, errlen) < 0 ||
        collect_bases(b, &mc, err, errlen) < 0 || collect_layers(b, &mc, err, errlen) < 0)
        goto out;
    if (make_folder(o->out, err, errlen) < 0)
        goto out;
    if (!host_realpath(o->out, b->dir)) {
        lbvm_set_err(err, errlen, "%s: %s", o->out, strerror(errno));
        goto out;
    }
    if (place_files(b, &mc, err, errlen) < 0 || write_manifest(b, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    for (int p = 0; p < mc.n_pts; p++)
        if (mc.ckpt[p][0])
            ckpt_session_close(&mc.refs[p]);
    free(mc.ckpt);
    free(mc.refs);
    return rc;
}
