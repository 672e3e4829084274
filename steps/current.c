/* SPDX-License-Identifier: GPL-2.0-or-later */
/* live-bootstrap's current layout, kernel-bootstrap mode (current.h). What
 * rootfs.py --qemu does (lib/generator.py prepare(kernel_bootstrap=True)),
 * lbvm does without copying: the source file system is described from the
 * tree's own files and written straight into the image. */
#include "steps/current.h"
#include "steps/stage0.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int current_is_tree(const char *tree)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/seed", tree);
    snprintf(b, sizeof b, "%s/steps", tree);
    return lbvm_is_dir(a) && lbvm_is_dir(b);
}

static int unfilled(const char *path, const char *tree, char *err, size_t errlen)
{
    return lbvm_set_err(err, errlen, "%s is empty: the tree's git submodules are not checked out; run "
                        "git -C %s submodule update --init --recursive", path, tree);
}

int current_check_tree(const char *tree, int own_seeds, char *err, size_t errlen)
{
    char p[4200];
    if (own_seeds)
        return lbvm_set_err(err, errlen, "--seeds lbvm: %s is in the current layout, whose kernel bootstrap has no "
                            "binary seed (builder-hex0 compiles them from hex0 source)", tree);
    snprintf(p, sizeof p, "%s/steps/manifest", tree);
    if (!lbvm_is_file(p))
        return lbvm_set_err(err, errlen, "%s has seed/ and steps/ but no steps/manifest: not a live-bootstrap "
                            "checkout in the current layout", tree);
    /* the submodules of stage0-posix (its .gitmodules) that the x86 phase reads */
    static const char *const used[] = { "x86", "M2-Planet", "mescc-tools", "M2libc", "mescc-tools-extra",
                                        "M2-Mesoplanet" };
    snprintf(p, sizeof p, "%s/" CURRENT_STAGE0_DIR, tree);
    if (stage0_check_checkout(p, tree, used, sizeof used / sizeof used[0], err, errlen) < 0)
        return -1;
    snprintf(p, sizeof p, "%s/builder-hex0", tree);
    if (lbvm_dir_empty(p))
        return unfilled(p, tree, err, errlen);
    snprintf(p, sizeof p, "%s/" CURRENT_STAGE1, tree);
    if (!lbvm_is_file(p))
        return lbvm_set_err(err, errlen, "%s is missing: builder-hex0's boot sector (the kernel bootstrap's first stage)", p);
    snprintf(p, sizeof p, "%s/" CURRENT_STAGE2, tree);
    if (!lbvm_is_file(p))
        return lbvm_set_err(err, errlen, "%s is missing: builder-hex0's second stage", p);
    return 0;
}

void current_free(CurrentTree *t)
{
    manifest_free(&t->m);
    manifest_config_free(&t->cfg);
    memset(t, 0, sizeof *t);
}

int current_load(const char *tree, CurrentTree *t, char *err, size_t errlen)
{
    char p[4200];
    memset(t, 0, sizeof *t);
    snprintf(p, sizeof p, "%s/steps/manifest", tree);
    if (manifest_read(p, &t->m, err, errlen) < 0)
        return -1;
    if (manifest_config_parse("bootstrap.cfg", manifest_default_config, strlen(manifest_default_config), &t->cfg,
                              err, errlen) < 0 ||
        manifest_eval(&t->m, &t->cfg, err, errlen) < 0) {
        current_free(t);
        return -1;
    }
    t->network_line = manifest_network_line(&t->m);
    for (int i = 0; i < t->m.n; i++)
        if (t->m.d[i].kind == MANIFEST_BUILD && (!t->network_line || t->m.d[i].line < t->network_line))
            t->prenet_builds++;
    return 0;
}

int current_count_steps(const char *tree)
{
    CurrentTree t;
    char err[512];
    if (current_load(tree, &t, err, sizeof err) < 0)
        return 0;
    int n = t.m.builds;
    current_free(&t);
    return n;
}

int current_sources(const char *tree, const CurrentTree *t, FetchList *l, char *err, size_t errlen)
{
    for (int i = 0; i < t->m.n; i++) {
        const ManifestDirective *d = &t->m.d[i];
        if (d->kind != MANIFEST_BUILD || (t->network_line && d->line >= t->network_line))
            continue;
        if (strchr(d->arg, '/') || !strcmp(d->arg, "..") || !strcmp(d->arg, "."))
            return lbvm_set_err(err, errlen, "%s/steps/manifest:%d: '%s' is not a step's folder name", tree, d->line,
                                d->arg);
        char p[4200];
        snprintf(p, sizeof p, "%s/steps/%s/sources", tree, d->arg);
        if (!lbvm_is_file(p))
            continue;
        if (fetch_list_add_file(l, p, err, errlen) < 0)
            return -1;
    }
    return 0;
}

const char *current_failure_reason(const char *line)
{
    if (strstr(line, "ERROR: no hda writes!"))
        return "builder-hex0 ran out of commands (\"ERROR: no hda writes!\")";
    if (strstr(line, "the last user process has exited"))
        return "init exited under Fiwix (\"the last user process has exited\")";
    if (!strncmp(line, "PANIC: in ", 10))
        return "Fiwix panicked";
    return NULL;
}

const char *current_stage_note(const char *line, unsigned *seen)
{
    static const struct {
        const char *line;
        int prefix;
        const char *note;
    } stages[] = {
        { "src", 0, "builder-hex0: loading its source file system" },
        { "/bootstrap-seeds/POSIX/x86/kaem-optional-seed", 0,
          "builder-hex0: source file system loaded; kaem-optional-seed runs /kaem.x86 (stage0-posix)" },
        { " +> kaem --file /steps/jump/fiwix.sh", 0, "jump: builder-hex0 starts Fiwix (kexec-fiwix)" },
        { "Linux version ", 1, "Linux started (the kernel Fiwix built)" },
    };
    for (unsigned i = 0; i < sizeof stages / sizeof stages[0]; i++) {
        if (*seen & (1u << i))
            continue;
        if (stages[i].prefix ? !strncmp(line, stages[i].line, strlen(stages[i].line)) : !strcmp(line, stages[i].line)) {
            *seen |= 1u << i;
            return stages[i].note;
        }
    }
    return NULL;
}

int current_boot_argv(const char **argv, int n, const char *image, const char *mem)
{
    argv[n++] = "boot";
    argv[n++] = "--ide";
    argv[n++] = image;
    argv[n++] = "--mem";
    argv[n++] = mem;
    return n;
}

/* ---- the image ------------------------------------------------------------------ */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files at the top of seed/ (rootfs.py's seed(): os.path.isfile), sorted. */
static int add_seed_files(Srcfs *fs, const char *tree, char *err, size_t errlen)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/seed", tree);
    DIR *d = opendir(dir);
    if (!d)
        return lbvm_set_err(err, errlen, "cannot read folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        char p[8400];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (!lbvm_is_file(p))
            continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn || !(nn[n] = strdup(de->d_name))) {
            if (nn)
                names = nn;
            rc = lbvm_set_err(err, errlen, "out of memory");
            break;
        }
        names = nn;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n && !rc; i++) {
        char p[8400];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (strstr(names[i], ".git"))
            continue;
        rc = srcfs_add_host(fs, names[i], p, err, errlen);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int make_image(const BuildOptions *o, const char *distdir, const FetchList *files, const char *out_path,
                      Hex0DiskInfo *info, char *err, size_t errlen)
{
    char p[4200];
    uint8_t *stage1 = NULL;
    size_t s1len = 0, s1text_len = 0, s2len = 0;
    char *s1text = NULL, *stage2 = NULL;
    Srcfs fs = { 0 };
    int rc = -1;

    snprintf(p, sizeof p, "%s/" CURRENT_STAGE1, o->tree);
    if (!(s1text = lbvm_read_file(p, CURRENT_MAX_HEX0, &s1text_len, err, errlen)) ||
        hex0_compile(p, s1text, s1text_len, &stage1, &s1len, err, errlen) < 0)
        goto out;
    if (s1len != 512) {
        lbvm_set_err(err, errlen, "%s compiles to %zu bytes, not the 512 of a boot sector", p, s1len);
        goto out;
    }
    snprintf(p, sizeof p, "%s/" CURRENT_STAGE2, o->tree);
    if (!(stage2 = lbvm_read_file(p, CURRENT_MAX_HEX0, &s2len, err, errlen)))
        goto out;
    if (srcfs_init(&fs) < 0) {
        lbvm_set_err(err, errlen, "out of memory");
        goto out;
    }
    /* rootfs.py: stage0-posix without bootstrap-seeds, then seed/'s files
     * (its after.kaem replaces stage0-posix's), steps/ with bootstrap.cfg,
     * external/distfiles */
    snprintf(p, sizeof p, "%s/" CURRENT_STAGE0_DIR, o->tree);
    if (srcfs_add_host(&fs, "", p, err, errlen) < 0)
        goto out;
    srcfs_remove(&fs, "bootstrap-seeds");
    if (add_seed_files(&fs, o->tree, err, errlen) < 0)
        goto out;
    snprintf(p, sizeof p, "%s/steps", o->tree);
    if (srcfs_add_host(&fs, "steps", p, err, errlen) < 0 ||
        srcfs_add_data(&fs, "steps/bootstrap.cfg", manifest_default_config, strlen(manifest_default_config), err,
                       errlen) < 0 ||
        srcfs_add_dir(&fs, "external/distfiles", err, errlen) < 0)
        goto out;
    for (int i = 0; i < files->n; i++) {
        char dest[4200];
        snprintf(p, sizeof p, "%s/%s", distdir, files->items[i].name);
        snprintf(dest, sizeof dest, "external/distfiles/%s", files->items[i].name);
        if (srcfs_add_host(&fs, dest, p, err, errlen) < 0)
            goto out;
    }
    rc = hex0disk_write(out_path, stage1, stage2, s2len, &fs, hex0disk_x86_trailer,
                        o->disk_size ? o->disk_size : CURRENT_DEFAULT_DISK_SIZE, info, err, errlen);
out:
    srcfs_free(&fs);
    free(stage1);
    free(s1text);
    free(stage2);
    return rc;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *q = tmp + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *q = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return lbvm_is_dir(tmp) ? 0 : (errno = ENOTDIR, -1);
}

int current_build_all(const BuildOptions *o, BuildOutput out[2], CurrentBuild *s, char *err, size_t errlen)
{
    char dd[4096];
    const char *distdir = o->distdir;
    CurrentBuild mine;
    CurrentBuild *b = s ? s : &mine;
    memset(b, 0, sizeof *b);
    memset(out, 0, 2 * sizeof *out);
    if (!distdir) {
        if (fetch_default_distdir(dd, sizeof dd) < 0)
            return lbvm_set_err(err, errlen, "no distfile cache: set HOME or XDG_CACHE_HOME, or give --distdir");
        distdir = dd;
    }
    if (current_check_tree(o->tree, o->own_seeds, err, errlen) < 0 || current_load(o->tree, &b->tree, err, errlen) < 0)
        return -1;
    FetchList files = { 0 };
    const char *outdir = o->outdir && *o->outdir ? o->outdir : ".";
    char *img = NULL;
    int rc = current_sources(o->tree, &b->tree, &files, err, errlen);
    if (!rc && o->allow_missing) {
        FetchList gone = { 0 };
        b->left_out = build_take_missing(&files, distdir, &gone, err, errlen);
        if (b->left_out < 0)
            rc = -1;
        fetch_list_free(&gone);
    }
    if (!rc)
        rc = build_verify_distfiles(&files, distdir, err, errlen);
    b->distfiles = files.n;
    if (!rc && mkdir_p(outdir) != 0)
        rc = lbvm_set_err(err, errlen, "cannot create output folder %s: %s", outdir, strerror(errno));
    if (!rc && !(img = lbvm_strdup_printf("%s/" CURRENT_IMAGE_NAME, outdir))) {
        img = NULL;
        rc = lbvm_set_err(err, errlen, "out of memory");
    }
    if (!rc)
        rc = make_image(o, distdir, &files, img, &b->disk, err, errlen);
    if (!rc)
        rc = build_describe(&out[1], img, err, errlen);
    free(img);
    fetch_list_free(&files);
    if (!s)
        current_free(&b->tree);
    else if (rc)
        current_free(&b->tree);
    return rc;
}
