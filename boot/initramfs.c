/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reproducible newc cpio writer for the guest's initramfs (see initramfs.h).
 * Nothing of the host leaks in: no mtimes, owners, inode or device numbers of
 * the files read (device nodes keep their own rdev, which is content). */
#include "boot/initramfs.h"
#include "base/platform.h"
#include "base/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *rel;          /* path inside the archive, no leading "./" or "/" */
    char *src;          /* host path it is read from; NULL for a node made in memory */
    const void *data;   /* src == NULL: file content or symlink target */
    struct stat st;     /* lstat of src, or the made node's type, mode, rdev, size */
    int layer;          /* index of the dir it came from */
    int keep;           /* survives override and orphan pruning */
    uint32_t subdirs;   /* kept child directories (for a dir's nlink) */
} Ent;

typedef struct {
    Ent *v;
    size_t n, cap;
    char *err;
    size_t errlen;
} Walk;

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

/* Path order: component by component, i.e. '/' sorts before every other
 * byte, so "a", "a/b", "a-c" — a parent directly precedes its subtree. */
static int path_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;
        if (ca == cb) {
            if (!ca)
                return 0;
            continue;
        }
        if (!ca || !cb)
            return ca ? 1 : -1;
        if (ca == '/')
            return -1;
        if (cb == '/')
            return 1;
        return ca < cb ? -1 : 1;
    }
}

static int ent_cmp(const void *pa, const void *pb)
{
    const Ent *a = pa, *b = pb;
    int c = path_cmp(a->rel, b->rel);
    if (c)
        return c;
    return (a->layer > b->layer) - (a->layer < b->layer);
}

static int walk_add(Walk *w, const char *rel, const char *src, const struct stat *st, int layer,
                    const void *data)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        Ent *v = realloc(w->v, cap * sizeof(*v));
        if (!v)
            return lbvm_set_err(w->err, w->errlen, "initramfs: out of memory");
        w->v = v;
        w->cap = cap;
    }
    Ent *e = &w->v[w->n];
    memset(e, 0, sizeof(*e));
    e->rel = strdup(rel);
    e->src = src ? strdup(src) : NULL;
    e->data = data;
    if (!e->rel || (src && !e->src)) {
        free(e->rel);
        free(e->src);
        return lbvm_set_err(w->err, w->errlen, "initramfs: out of memory");
    }
    e->st = *st;
    e->layer = layer;
    w->n++;
    return 0;
}

static int skipped(const char *const *skip, const char *name)
{
    for (; skip && *skip; skip++)
        if (!strcmp(*skip, name))
            return 1;
    return 0;
}

/* 0755 for directories and files with an execute bit, else 0644; other types keep theirs. */
static void normalize_mode(struct stat *st)
{
    mode_t m = st->st_mode;
    if (S_ISDIR(m) || (S_ISREG(m) && (m & 0111)))
        st->st_mode = (m & S_IFMT) | 0755;
    else if (S_ISREG(m))
        st->st_mode = (m & S_IFMT) | 0644;
}

/* Add everything below host folder src (archive prefix rel, "" at the root),
 * leaving out the names in skip at every depth. */
static int walk_dir(Walk *w, const char *src, const char *rel, int layer, const char *const *skip, int normalize)
{
    DIR *d = opendir(src);
    if (!d)
        return lbvm_set_err(w->err, w->errlen, "initramfs: cannot read directory '%s': %s", src, strerror(errno));
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = lbvm_set_err(w->err, w->errlen, "initramfs: cannot read directory '%s': %s", src, strerror(errno));
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || skipped(skip, de->d_name))
            continue;
        char *s = join(src, de->d_name);
        char *r = *rel ? join(rel, de->d_name) : strdup(de->d_name);
        struct stat st;
        if (!s || !r)
            rc = lbvm_set_err(w->err, w->errlen, "initramfs: out of memory");
        else if (lstat(s, &st) != 0)
            rc = lbvm_set_err(w->err, w->errlen, "initramfs: cannot stat '%s': %s", s, strerror(errno));
        else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) &&
                 !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISFIFO(st.st_mode) &&
                 !S_ISSOCK(st.st_mode))
            rc = lbvm_set_err(w->err, w->errlen, "initramfs: '%s' has an unsupported file type", s);
        else {
            if (normalize)
                normalize_mode(&st);
            rc = walk_add(w, r, s, &st, layer, NULL);
            if (rc == 0 && S_ISDIR(st.st_mode))
                rc = walk_dir(w, s, r, layer, skip, normalize);
        }
        free(s);
        free(r);
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

static Ent *find_ent(Ent *v, size_t n, const char *rel)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = path_cmp(v[mid].rel, rel);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Copy a regular file's bytes into the archive; it must still be st_size long. */
static int write_data(struct archive *a, const Ent *e, char *buf, size_t bufsz, char *err, size_t errlen)
{
    if (!e->src) {
        if (e->st.st_size && archive_write_data(a, e->data, (size_t)e->st.st_size) != (la_ssize_t)e->st.st_size)
            return lbvm_set_err(err, errlen, "initramfs: cannot write '%s' data: %s", e->rel, archive_error_string(a));
        return 0;
    }
    int fd = open(e->src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lbvm_set_err(err, errlen, "initramfs: cannot open '%s': %s", e->src, strerror(errno));
    int64_t left = e->st.st_size;
    int rc = 0;
    while (left > 0) {
        size_t want = left < (int64_t)bufsz ? (size_t)left : bufsz;
        ssize_t got = read(fd, buf, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = lbvm_set_err(err, errlen, "initramfs: cannot read '%s': %s", e->src, strerror(errno));
            break;
        }
        if (got == 0) {
            rc = lbvm_set_err(err, errlen, "initramfs: '%s' shrank while being archived", e->src);
            break;
        }
        if (archive_write_data(a, buf, (size_t)got) != got) {
            rc = lbvm_set_err(err, errlen, "initramfs: cannot write '%s' data: %s", e->rel, archive_error_string(a));
            break;
        }
        left -= got;
    }
    close(fd);
    return rc;
}

static int write_archive(int fd, Ent *v, size_t n, int64_t mtime, char *err, size_t errlen)
{
    struct archive *a = archive_write_new();
    struct archive_entry *ae = archive_entry_new();
    size_t bufsz = 1 << 16;
    char *buf = malloc(bufsz);
    char *link = malloc(PATH_MAX + 1);
    int rc = 0;
    if (!a || !ae || !buf || !link) {
        rc = lbvm_set_err(err, errlen, "initramfs: out of memory");
        goto out;
    }
    /* newc; pad the whole archive to 512 bytes like GNU cpio does */
    if (archive_write_set_format_cpio_newc(a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a, 512) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 512) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        rc = lbvm_set_err(err, errlen, "initramfs: cannot start the archive: %s", archive_error_string(a));
        goto out;
    }
    uint32_t ino = 0;
    for (size_t i = 0; i < n; i++) {
        Ent *e = &v[i];
        if (!e->keep)
            continue;
        mode_t m = e->st.st_mode;
        archive_entry_clear(ae);
        archive_entry_set_pathname(ae, e->rel);
        archive_entry_set_mode(ae, m & (S_IFMT | 07777));
        archive_entry_set_uid(ae, 0);
        archive_entry_set_gid(ae, 0);
        archive_entry_set_mtime(ae, (time_t)mtime, 0);
        archive_entry_set_ino(ae, ++ino);
        archive_entry_set_dev(ae, 0);
        /* a directory's links: its own name, its ".", each child's ".." */
        archive_entry_set_nlink(ae, S_ISDIR(m) ? 2 + e->subdirs : 1);
        archive_entry_set_size(ae, 0);
        if (S_ISREG(m)) {
            archive_entry_set_size(ae, e->st.st_size);
        } else if (S_ISLNK(m) && !e->src) {
            size_t l = (size_t)e->st.st_size;
            memcpy(link, e->data, l);
            link[l] = 0;
            archive_entry_set_symlink(ae, link);
            archive_entry_set_size(ae, (int64_t)l);
        } else if (S_ISLNK(m)) {
            ssize_t l = readlink(e->src, link, PATH_MAX);
            if (l < 0) {
                rc = lbvm_set_err(err, errlen, "initramfs: cannot read link '%s': %s", e->src, strerror(errno));
                goto out;
            }
            link[l] = 0;
            archive_entry_set_symlink(ae, link);
            archive_entry_set_size(ae, l);
        } else if (S_ISCHR(m) || S_ISBLK(m)) {
            archive_entry_set_rdevmajor(ae, host_dev_major((uint64_t)e->st.st_rdev));
            archive_entry_set_rdevminor(ae, host_dev_minor((uint64_t)e->st.st_rdev));
        }
        if (archive_write_header(a, ae) != ARCHIVE_OK) {
            rc = lbvm_set_err(err, errlen, "initramfs: cannot write entry '%s': %s", e->rel, archive_error_string(a));
            goto out;
        }
        if (S_ISREG(m) && (rc = write_data(a, e, buf, bufsz, err, errlen)) != 0)
            goto out;
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        rc = lbvm_set_err(err, errlen, "initramfs: cannot finish the archive: %s", archive_error_string(a));
        goto out;
    }
out:
    if (a)
        archive_write_free(a);   /* closes if still open; never closes fd */
    if (ae)
        archive_entry_free(ae);
    free(buf);
    free(link);
    return rc;
}

/* An archive path from an item's dest: leading and trailing '/' dropped; no
 * empty, "." or ".." parts. NULL (with err set) if invalid. */
static char *clean_dest(const char *dest, char *err, size_t errlen)
{
    while (*dest == '/')
        dest++;
    char *d = strdup(dest);
    if (!d) {
        lbvm_set_err(err, errlen, "initramfs: out of memory");
        return NULL;
    }
    size_t l = strlen(d);
    while (l && d[l - 1] == '/')
        d[--l] = 0;
    for (const char *p = d; *p;) {
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            lbvm_set_err(err, errlen, "initramfs: bad archive path '%s'", dest);
            free(d);
            return NULL;
        }
        p += n + (q ? 1 : 0);
    }
    return d;
}

/* Entries for one item at the given layer, plus its missing parents at layer -1. */
static int add_item(Walk *w, const InitramfsItem *it, int layer)
{
    char *err = w->err;
    size_t errlen = w->errlen;
    if (!it->dest)
        return lbvm_set_err(err, errlen, "initramfs: item without an archive path");
    char *dest = clean_dest(it->dest, err, errlen);
    if (!dest)
        return -1;
    int rc = 0;
    struct stat st;
    memset(&st, 0, sizeof st);
    if (it->src) {
        if (stat(it->src, &st) != 0) {      /* the item's own path is followed */
            rc = lbvm_set_err(err, errlen, "initramfs: cannot use '%s': %s", it->src, strerror(errno));
            goto out;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISCHR(st.st_mode) &&
            !S_ISBLK(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
            rc = lbvm_set_err(err, errlen, "initramfs: '%s' has an unsupported file type", it->src);
            goto out;
        }
        if (it->normalize)
            normalize_mode(&st);
    } else {
        mode_t t = it->mode & S_IFMT;
        if (t != S_IFDIR && t != S_IFREG && t != S_IFLNK && t != S_IFCHR && t != S_IFBLK && t != S_IFIFO) {
            rc = lbvm_set_err(err, errlen, "initramfs: '%s': unsupported node type", dest);
            goto out;
        }
        if ((t == S_IFREG || t == S_IFLNK) && it->size && !it->data) {
            rc = lbvm_set_err(err, errlen, "initramfs: '%s': no data", dest);
            goto out;
        }
        if (t == S_IFLNK && (it->size == 0 || it->size > PATH_MAX)) {
            rc = lbvm_set_err(err, errlen, "initramfs: '%s': bad symlink target", dest);
            goto out;
        }
        st.st_mode = it->mode & (S_IFMT | 07777);
        st.st_rdev = (dev_t)host_dev_make(it->rdev_major, it->rdev_minor);
        st.st_size = (t == S_IFREG || t == S_IFLNK) ? (off_t)it->size : 0;
    }
    if (!*dest) {
        if (!it->src || !S_ISDIR(st.st_mode)) {
            rc = lbvm_set_err(err, errlen, "initramfs: only a directory can be the archive root");
            goto out;
        }
        rc = walk_dir(w, it->src, "", layer, it->skip, it->normalize);
        goto out;
    }
    /* missing parents: directories 0755, overridden by any real entry */
    struct stat pst;
    memset(&pst, 0, sizeof pst);
    pst.st_mode = S_IFDIR | 0755;
    for (char *sl = strchr(dest, '/'); sl && rc == 0; sl = strchr(sl + 1, '/')) {
        *sl = 0;
        rc = walk_add(w, dest, NULL, &pst, -1, NULL);
        *sl = '/';
    }
    if (rc == 0)
        rc = walk_add(w, dest, it->src, &st, layer, it->src ? NULL : it->data);
    if (rc == 0 && it->src && S_ISDIR(st.st_mode))
        rc = walk_dir(w, it->src, dest, layer, it->skip, it->normalize);
out:
    free(dest);
    return rc;
}

int initramfs_write_items(const char *out_path, const InitramfsItem *items, int n_items, int64_t mtime,
                          char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!out_path || !*out_path)
        return lbvm_set_err(err, errlen, "initramfs: no output file given");
    if (n_items < 0 || (n_items && !items))
        return lbvm_set_err(err, errlen, "initramfs: bad item list");
    /* newc keeps mtime in 32 bits */
    if (mtime < 0 || mtime > (int64_t)UINT32_MAX)
        return lbvm_set_err(err, errlen, "initramfs: mtime %lld does not fit the cpio format", (long long)mtime);

    Walk w = { .err = err, .errlen = errlen };
    int rc = 0;
    for (int i = 0; i < n_items && rc == 0; i++)
        rc = add_item(&w, &items[i], i);
    if (rc)
        goto out;

    /* Sort by path then layer; the last layer of each path wins. */
    if (w.n)
        qsort(w.v, w.n, sizeof(*w.v), ent_cmp);
    size_t n = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (n && !strcmp(w.v[n - 1].rel, w.v[i].rel)) {
            free(w.v[n - 1].rel);
            free(w.v[n - 1].src);
            w.v[n - 1] = w.v[i];
        } else {
            w.v[n++] = w.v[i];
        }
    }
    w.n = n;
    /* A path whose parent was overridden by a non-directory is dropped with it. */
    for (size_t i = 0; i < n; i++) {
        Ent *e = &w.v[i];
        char *slash = strrchr(e->rel, '/');
        if (!slash) {
            e->keep = 1;
            continue;
        }
        char *parent = strndup(e->rel, (size_t)(slash - e->rel));
        if (!parent) {
            rc = lbvm_set_err(err, errlen, "initramfs: out of memory");
            goto out;
        }
        Ent *p = find_ent(w.v, n, parent);     /* sorts before e: already decided */
        free(parent);
        e->keep = p && p->keep && S_ISDIR(p->st.st_mode);
        if (e->keep && S_ISDIR(e->st.st_mode))
            p->subdirs++;
    }

    /* Temporary file beside the output, so the rename is atomic. */
    size_t lo = strlen(out_path);
    char *tmp = malloc(lo + 16);
    if (!tmp) {
        rc = lbvm_set_err(err, errlen, "initramfs: out of memory");
        goto out;
    }
    snprintf(tmp, lo + 16, "%s.tmp.XXXXXX", out_path);
    int fd = host_temp_file(tmp);
    if (fd < 0) {
        rc = lbvm_set_err(err, errlen, "initramfs: cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        goto out;
    }
    rc = write_archive(fd, w.v, n, mtime, err, errlen);
    if (rc == 0 && fchmod(fd, 0644) != 0)
        rc = lbvm_set_err(err, errlen, "initramfs: cannot chmod '%s': %s", tmp, strerror(errno));
    if (rc == 0 && host_fsync(fd) != 0)
        rc = lbvm_set_err(err, errlen, "initramfs: cannot write '%s': %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = lbvm_set_err(err, errlen, "initramfs: cannot write '%s': %s", tmp, strerror(errno));
    if (rc == 0 && host_replace(tmp, out_path) != 0)
        rc = lbvm_set_err(err, errlen, "initramfs: cannot rename '%s' to '%s': %s", tmp, out_path, strerror(errno));
    if (rc)
        unlink(tmp);
    else {
        /* make the rename itself durable */
        host_fsync_dir_of(out_path);
    }
    free(tmp);
out:
    for (size_t i = 0; i < w.n; i++) {
        free(w.v[i].rel);
        free(w.v[i].src);
    }
    free(w.v);
    return rc;
}

int initramfs_write(const char *out_path, const char *const *dirs, int n_dirs, int64_t mtime,
                    char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!out_path || !*out_path)
        return lbvm_set_err(err, errlen, "initramfs: no output file given");
    if (n_dirs < 1 || !dirs)
        return lbvm_set_err(err, errlen, "initramfs: no input directory given");
    InitramfsItem *items = calloc((size_t)n_dirs, sizeof *items);
    if (!items)
        return lbvm_set_err(err, errlen, "initramfs: out of memory");
    int rc = 0;
    for (int i = 0; i < n_dirs && rc == 0; i++) {
        struct stat st;
        if (stat(dirs[i], &st) != 0)
            rc = lbvm_set_err(err, errlen, "initramfs: cannot use directory '%s': %s", dirs[i], strerror(errno));
        else if (!S_ISDIR(st.st_mode))
            rc = lbvm_set_err(err, errlen, "initramfs: '%s' is not a directory", dirs[i]);
        items[i].dest = "";
        items[i].src = dirs[i];
    }
    if (rc == 0)
        rc = initramfs_write_items(out_path, items, n_dirs, mtime, err, errlen);
    free(items);
    return rc;
}
