/* SPDX-License-Identifier: GPL-2.0-or-later */
/* builder-hex0's boot disk and its source file system (see hex0disk.h). */
#include "steps/hex0disk.h"
#include "base/platform.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1ULL << 20)
#define MAX_DEPTH 64

const char hex0disk_x86_trailer[] =
    "src 0 /bootstrap-seeds\n"
    "src 0 /bootstrap-seeds/POSIX\n"
    "src 0 /bootstrap-seeds/POSIX/x86\n"
    "hex0 /x86/hex0_x86.hex0 /bootstrap-seeds/POSIX/x86/hex0-seed\n"
    "hex0 /x86/kaem-minimal.hex0 /bootstrap-seeds/POSIX/x86/kaem-optional-seed\n"
    "hex0 /x86/kaem-minimal.hex0 /init\n"
    "/bootstrap-seeds/POSIX/x86/kaem-optional-seed /kaem.x86\n";

/* ---- hex0 ---------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int hex0_compile(const char *name, const char *text, size_t len, uint8_t **out, size_t *outlen, char *err,
                 size_t errlen)
{
    uint8_t *buf = malloc(len / 2 + 1);
    size_t n = 0, pos = 0;
    int line = 0;
    if (!buf)
        return lbvm_set_err(err, errlen, "out of memory");
    while (pos < len) {
        line++;
        /* lines end at LF, CR LF or CR (Python's universal newlines) */
        size_t st = pos;
        while (pos < len && text[pos] != '\n' && text[pos] != '\r')
            pos++;
        size_t end = pos;
        if (pos < len && text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n')
            pos++;
        if (pos < len)
            pos++;
        for (size_t i = st; i < end; i++)
            if (text[i] == '#' || text[i] == ';') {
                end = i;
                break;
            }
        for (size_t i = st; i < end;) {
            if (is_space((unsigned char)text[i])) {
                i++;
                continue;
            }
            int hi = hexval((unsigned char)text[i]), lo = i + 1 < end ? hexval((unsigned char)text[i + 1]) : -1;
            if (hi < 0 || lo < 0) {
                free(buf);
                return lbvm_set_err(err, errlen, "%s:%d: not hex0 (two hex digits per byte, '#' or ';' before a comment)",
                                    name, line);
            }
            buf[n++] = (uint8_t)(hi << 4 | lo);
            i += 2;
        }
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* ---- the tree ------------------------------------------------------------------- */

struct SrcfsNode {
    char *name;
    int dir;
    SrcfsNode **kids;
    int nkids;
    char *host;          /* a file from the host */
    uint8_t *data;       /* or its bytes */
    uint64_t size;
};

static void node_free(SrcfsNode *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->host);
    free(n->data);
    free(n);
}

static SrcfsNode *node_new(const char *name, size_t len, int dir)
{
    SrcfsNode *n = calloc(1, sizeof *n);
    if (!n || !(n->name = strndup(name, len))) {
        free(n);
        return NULL;
    }
    n->dir = dir;
    return n;
}

int srcfs_init(Srcfs *fs)
{
    memset(fs, 0, sizeof *fs);
    fs->root = node_new(".", 1, 1);
    return fs->root ? 0 : -1;
}

void srcfs_free(Srcfs *fs)
{
    node_free(fs->root);
    memset(fs, 0, sizeof *fs);
}

static int kid_index(const SrcfsNode *p, const char *name, size_t len)
{
    for (int i = 0; i < p->nkids; i++)
        if (strlen(p->kids[i]->name) == len && !memcmp(p->kids[i]->name, name, len))
            return i;
    return -1;
}

static int kid_add(SrcfsNode *p, SrcfsNode *k)
{
    SrcfsNode **nk = realloc(p->kids, (size_t)(p->nkids + 1) * sizeof *nk);
    if (!nk)
        return -1;
    p->kids = nk;
    nk[p->nkids++] = k;
    return 0;
}

static void kid_drop(SrcfsNode *p, int i)
{
    node_free(p->kids[i]);
    memmove(p->kids + i, p->kids + i + 1, (size_t)(p->nkids - i - 1) * sizeof *p->kids);
    p->nkids--;
}

/* The folder that holds dest's last component (made as needed); *leaf and
 * *leaflen name that component (empty for the root). NULL on a bad path or
 * out of memory. */
static SrcfsNode *parent_of(Srcfs *fs, const char *dest, const char **leaf, size_t *leaflen, const char **why)
{
    SrcfsNode *p = fs->root;
    const char *s = dest;
    *why = "out of memory";
    if (strchr(dest, '\n')) {
        *why = "a name holds a newline (the srcfs is line-based)";
        return NULL;
    }
    for (const char *c = dest; *c;) {   /* no "." or ".." anywhere, checked before anything is made */
        while (*c == '/')
            c++;
        size_t l = strcspn(c, "/");
        if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.')) {
            *why = "'.' or '..' in a path";
            return NULL;
        }
        c += l;
    }
    for (;;) {
        while (*s == '/')
            s++;
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        const char *after = e;
        while (after && *after == '/')
            after++;
        if (!e || !*after) {
            *leaf = s;
            *leaflen = l;
            return p;
        }
        int i = kid_index(p, s, l);
        if (i >= 0 && !p->kids[i]->dir)
            kid_drop(p, i), i = -1;
        if (i < 0) {
            SrcfsNode *k = node_new(s, l, 1);
            if (!k || kid_add(p, k) < 0) {
                node_free(k);
                return NULL;
            }
            i = p->nkids - 1;
        }
        p = p->kids[i];
        s = after;
    }
}

static int has_git(const char *name)
{
    return strstr(name, ".git") != NULL;
}

static int add_host_into(SrcfsNode *dirnode, const char *host, int depth, char *err, size_t errlen);

/* A node for host path (whose stat is st), named name. */
static int host_node(const char *name, const char *host, const struct stat *st, int depth, SrcfsNode **out,
                     char *err, size_t errlen)
{
    if (strchr(name, '\n'))
        return lbvm_set_err(err, errlen, "%s: a name with a newline cannot go into builder-hex0's source file system", host);
    SrcfsNode *n = node_new(name, strlen(name), S_ISDIR(st->st_mode));
    if (!n)
        return lbvm_set_err(err, errlen, "out of memory");
    if (S_ISDIR(st->st_mode)) {
        if (add_host_into(n, host, depth + 1, err, errlen) < 0) {
            node_free(n);
            return -1;
        }
    } else if (S_ISREG(st->st_mode)) {
        n->size = (uint64_t)st->st_size;
        if (!(n->host = strdup(host))) {
            node_free(n);
            return lbvm_set_err(err, errlen, "out of memory");
        }
    } else {
        node_free(n);
        return lbvm_set_err(err, errlen, "%s is neither a regular file nor a folder", host);
    }
    *out = n;
    return 0;
}

/* Everything in folder host into dirnode (merged: a name already there is replaced). */
static int add_host_into(SrcfsNode *dirnode, const char *host, int depth, char *err, size_t errlen)
{
    if (depth > MAX_DEPTH)
        return lbvm_set_err(err, errlen, "%s: folders nested more than %d deep (a symbolic link loop?)", host,
                            MAX_DEPTH);
    DIR *d = opendir(host);
    if (!d)
        return lbvm_set_err(err, errlen, "cannot read folder %s: %s", host, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || has_git(de->d_name))
            continue;
        char *p = NULL;
        struct stat st;
        if (!(p = lbvm_strdup_printf("%s/%s", host, de->d_name))) {
            rc = lbvm_set_err(err, errlen, "out of memory");
            break;
        }
        if (stat(p, &st) != 0) {
            rc = lbvm_set_err(err, errlen, "cannot use %s: %s", p, strerror(errno));
        } else {
            SrcfsNode *k = NULL;
            rc = host_node(de->d_name, p, &st, depth, &k, err, errlen);
            if (rc == 0) {
                int i = kid_index(dirnode, de->d_name, strlen(de->d_name));
                if (i >= 0)
                    kid_drop(dirnode, i);
                if (kid_add(dirnode, k) < 0) {
                    node_free(k);
                    rc = lbvm_set_err(err, errlen, "out of memory");
                }
            }
        }
        free(p);
    }
    closedir(d);
    return rc;
}

static int place(Srcfs *fs, const char *dest, SrcfsNode *k, char *err, size_t errlen)
{
    const char *leaf, *why;
    size_t ll;
    SrcfsNode *p = parent_of(fs, dest, &leaf, &ll, &why);
    if (!p) {
        node_free(k);
        return lbvm_set_err(err, errlen, "srcfs path '%s': %s", dest, why);
    }
    int i = kid_index(p, leaf, ll);
    if (i >= 0)
        kid_drop(p, i);
    free(k->name);
    if (!(k->name = strndup(leaf, ll)) || kid_add(p, k) < 0) {
        node_free(k);
        return lbvm_set_err(err, errlen, "out of memory");
    }
    return 0;
}

int srcfs_add_host(Srcfs *fs, const char *dest, const char *host_path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(host_path, &st) != 0)
        return lbvm_set_err(err, errlen, "cannot use %s: %s", host_path, strerror(errno));
    const char *s = dest;
    while (*s == '/')
        s++;
    if (!*s) {
        if (!S_ISDIR(st.st_mode))
            return lbvm_set_err(err, errlen, "%s: only a folder can be the srcfs root", host_path);
        return add_host_into(fs->root, host_path, 0, err, errlen);
    }
    SrcfsNode *k = NULL;
    if (host_node("x", host_path, &st, 0, &k, err, errlen) < 0)
        return -1;
    return place(fs, s, k, err, errlen);
}

int srcfs_add_data(Srcfs *fs, const char *dest, const void *data, size_t size, char *err, size_t errlen)
{
    SrcfsNode *k = node_new("x", 1, 0);
    if (!k || !(k->data = malloc(size ? size : 1))) {
        node_free(k);
        return lbvm_set_err(err, errlen, "out of memory");
    }
    if (size)
        memcpy(k->data, data, size);
    k->size = size;
    return place(fs, dest, k, err, errlen);
}

int srcfs_add_dir(Srcfs *fs, const char *dest, char *err, size_t errlen)
{
    const char *leaf, *why;
    size_t ll;
    SrcfsNode *p = parent_of(fs, dest, &leaf, &ll, &why);
    if (!p)
        return lbvm_set_err(err, errlen, "srcfs path '%s': %s", dest, why);
    if (!ll)
        return 0;   /* the root */
    int i = kid_index(p, leaf, ll);
    if (i >= 0 && p->kids[i]->dir)
        return 0;
    SrcfsNode *k = node_new(leaf, ll, 1);
    if (!k)
        return lbvm_set_err(err, errlen, "out of memory");
    return place(fs, dest, k, err, errlen);
}

void srcfs_remove(Srcfs *fs, const char *dest)
{
    SrcfsNode *p = fs->root;
    const char *s = dest;
    for (;;) {
        while (*s == '/')
            s++;
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (!l)
            return;
        int i = kid_index(p, s, l);
        if (i < 0)
            return;
        const char *after = e;
        while (after && *after == '/')
            after++;
        if (!e || !*after) {
            kid_drop(p, i);
            return;
        }
        p = p->kids[i];
        if (!p->dir)
            return;
        s = after;
    }
}

/* ---- writing ---------------------------------------------------------------------- */

typedef struct Out {
    FILE *f;
    uint64_t off;
    int failed;
    char *err;
    size_t errlen;
    const char *path;
    Srcfs *fs;
} Out;

static void put(Out *o, const void *p, size_t n)
{
    if (o->failed || !n)
        return;
    if (fwrite(p, 1, n, o->f) != n) {
        lbvm_set_err(o->err, o->errlen, "cannot write %s: %s", o->path, strerror(errno));
        o->failed = 1;
        return;
    }
    o->off += n;
}

static void put_zeros(Out *o, uint64_t n)
{
    static const uint8_t z[4096];
    while (n && !o->failed) {
        size_t k = n < sizeof z ? (size_t)n : sizeof z;
        put(o, z, k);
        n -= k;
    }
}

static int kid_cmp(const void *a, const void *b)
{
    return strcmp((*(SrcfsNode *const *)a)->name, (*(SrcfsNode *const *)b)->name);
}

static void put_file(Out *o, const SrcfsNode *k, const char *path)
{
    char hdr[64];
    int hl = snprintf(hdr, sizeof hdr, "src %" PRIu64 " ", k->size);
    put(o, hdr, (size_t)hl);
    put(o, path, strlen(path));
    put(o, "\n", 1);
    o->fs->files++;
    o->fs->data_bytes += k->size;
    if (k->data) {
        put(o, k->data, (size_t)k->size);
        return;
    }
    FILE *in = fopen(k->host, "rb");
    if (!in) {
        if (!o->failed)
            lbvm_set_err(o->err, o->errlen, "cannot read %s: %s", k->host, strerror(errno));
        o->failed = 1;
        return;
    }
    static uint8_t buf[1 << 16];
    uint64_t left = k->size;
    while (left && !o->failed) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
        size_t got = fread(buf, 1, want, in);
        if (got == 0)
            break;
        put(o, buf, got);
        left -= got;
    }
    if (!o->failed && (left || fgetc(in) != EOF)) {
        lbvm_set_err(o->err, o->errlen, "%s changed while the image was written (its size is no longer %" PRIu64 ")",
                     k->host, k->size);
        o->failed = 1;
    }
    fclose(in);
}

/* os.walk(top-down) of a folder: "src 0" for its folders, its files, then each folder's contents. */
static void put_dir(Out *o, SrcfsNode *d, const char *path)
{
    if (d->nkids > 1)
        qsort(d->kids, (size_t)d->nkids, sizeof *d->kids, kid_cmp);
    for (int pass = 0; pass < 2 && !o->failed; pass++)
        for (int i = 0; i < d->nkids && !o->failed; i++) {
            SrcfsNode *k = d->kids[i];
            if (k->dir != (pass == 0))
                continue;
            char *p = NULL;
            if (!(p = lbvm_strdup_printf("%s/%s", path, k->name))) {
                lbvm_set_err(o->err, o->errlen, "out of memory");
                o->failed = 1;
                return;
            }
            if (k->dir) {
                put(o, "src 0 ", 6);
                put(o, p, strlen(p));
                put(o, "\n", 1);
                o->fs->dirs++;
            } else {
                put_file(o, k, p);
            }
            free(p);
        }
    for (int i = 0; i < d->nkids && !o->failed; i++) {
        SrcfsNode *k = d->kids[i];
        if (!k->dir)
            continue;
        char *p = NULL;
        if (!(p = lbvm_strdup_printf("%s/%s", path, k->name))) {
            lbvm_set_err(o->err, o->errlen, "out of memory");
            o->failed = 1;
            return;
        }
        put_dir(o, k, p);
        free(p);
    }
}

int hex0disk_write(const char *out_path, const uint8_t stage1[512], const char *stage2, size_t stage2_len,
                   Srcfs *fs, const char *trailer, uint64_t size, Hex0DiskInfo *info, char *err,
                   size_t errlen)
{
    Hex0DiskInfo inf = { 0 };
    if (stage1[510] != 0x55 || stage1[511] != 0xaa)
        return lbvm_set_err(err, errlen, "stage1 does not end with the boot signature 55 AA");
    char *tmp = NULL;
    if (!(tmp = lbvm_strdup_printf("%s.tmp.XXXXXX", out_path)))
        return lbvm_set_err(err, errlen, "out of memory");
    int fd = host_temp_file(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return lbvm_set_err(err, errlen, "cannot create a file beside %s: %s", out_path, strerror(e));
    }
    fchmod(fd, 0644);
    Out o = { .f = fdopen(fd, "wb"), .err = err, .errlen = errlen, .path = tmp, .fs = fs };
    if (!o.f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return lbvm_set_err(err, errlen, "out of memory");
    }
    setvbuf(o.f, NULL, _IOFBF, 1 << 20);
    fs->files = fs->dirs = fs->data_bytes = 0;

    put(&o, stage1, 512);
    /* stage2 as Python's text mode gives it: CR LF and lone CR become LF */
    for (size_t i = 0; i < stage2_len && !o.failed;) {
        size_t j = i;
        while (j < stage2_len && stage2[j] != '\r')
            j++;
        put(&o, stage2 + i, j - i);
        inf.stage2_bytes += j - i;
        if (j < stage2_len) {
            put(&o, "\n", 1);
            inf.stage2_bytes++;
            j += j + 1 < stage2_len && stage2[j + 1] == '\n' ? 2 : 1;
        }
        i = j;
    }
    put_zeros(&o, (512 - o.off % 512) % 512);
    inf.srcfs_lba = o.off / 512;
    uint64_t start = o.off;
    put(&o, "src 0 .\n", 8);
    fs->dirs++;
    put_dir(&o, fs->root, ".");
    if (trailer)
        put(&o, trailer, strlen(trailer));
    inf.srcfs_bytes = o.off - start;
    inf.content_bytes = o.off;
    put_zeros(&o, MIB - o.off % MIB);   /* rootfs.py adds a whole MiB when already aligned */
    inf.files = fs->files;
    inf.dirs = fs->dirs;
    if (!o.failed && fflush(o.f) != 0) {
        lbvm_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        o.failed = 1;
    }
    inf.image_bytes = o.off > size ? o.off : size;
    if (!o.failed && inf.image_bytes > o.off && ftruncate(fd, (off_t)inf.image_bytes) != 0) {
        lbvm_set_err(err, errlen, "cannot extend %s to %" PRIu64 " bytes: %s", tmp, inf.image_bytes, strerror(errno));
        o.failed = 1;
    }
    if (!o.failed && fsync(fd) != 0) {
        lbvm_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        o.failed = 1;
    }
    if (fclose(o.f) != 0 && !o.failed) {
        lbvm_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        o.failed = 1;
    }
    if (!o.failed && rename(tmp, out_path) != 0) {
        lbvm_set_err(err, errlen, "cannot rename %s to %s: %s", tmp, out_path, strerror(errno));
        o.failed = 1;
    }
    if (o.failed) {
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    host_fsync_dir_of(out_path);
    if (info)
        *info = inf;
    return 0;
}
