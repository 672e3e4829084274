/* SPDX-License-Identifier: GPL-2.0-or-later */
/* initramfs_write: reproducible bytes, newc fields read back through
 * libarchive, override of earlier trees by later ones, and the error path. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "check.h"
#include "boot/initramfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static char root[64];

static void put(const char *rel, const char *text, mode_t mode)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    CHECK(chmod(p, mode) == 0);
}

static void mkd(const char *rel, mode_t mode)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    CHECK(mkdir(p, mode) == 0);
    CHECK(chmod(p, mode) == 0);   /* not subject to the umask */
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n + 1);
    if (b && fread(b, 1, n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        b[n] = 0;
    *len = (size_t)n;
    return b;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

/* Set every host mtime below root to t (what must NOT reach the archive). */
static int touch_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    struct timespec ts[2] = { { 1234567890, 0 }, { 1234567890, 0 } };
    utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
    return 0;
}

/* Files in folder dir whose names start with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

typedef struct {
    const char *name;
    mode_t mode;         /* type and permission bits */
    const char *data;    /* file contents or symlink target; NULL otherwise */
    unsigned nlink;
} Want;

int main(void)
{
    strcpy(root, "/tmp/lbvm-initramfs-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    char a[128], b[128], out[128], out2[128];
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    snprintf(out, sizeof out, "%s/o/one.cpio", root);
    snprintf(out2, sizeof out2, "%s/o/two.cpio", root);

    /* tree a: the base */
    mkd("a", 0755);
    mkd("a/bin", 0755);
    put("a/bin/tool", "#!/bin/sh\necho tool\n", 0755);
    char p[256];
    snprintf(p, sizeof p, "%s/a/bin/sh", root);
    CHECK(symlink("tool", p) == 0);
    mkd("a/etc", 0700);
    mkd("a/etc/deep", 0755);
    mkd("a/etc/deep/er", 0755);
    put("a/etc/deep/er/file.txt", "nested\n", 0600);
    put("a/init", "old init\n", 0755);
    mkd("a/gone", 0755);
    put("a/gone/child", "dropped with its parent\n", 0644);
    put("a/bin-x", "sorts after bin's subtree\n", 0644);
    snprintf(p, sizeof p, "%s/a/fifo", root);
    CHECK(mkfifo(p, 0640) == 0);
    snprintf(p, sizeof p, "%s/a/console", root);
    int have_dev = mknod(p, S_IFCHR | 0600, makedev(5, 1)) == 0;   /* needs root */
    /* tree b overrides: init replaced, gone/ becomes a file, a new dir */
    mkd("b", 0755);
    put("b/init", "new init\n", 0750);
    put("b/gone", "now a file\n", 0644);
    mkd("b/bin", 0711);
    mkd("b/tmp", 01777);
    mkd("o", 0755);

    const char *dirs[] = { a, b };
    char err[256];
    CHECK_EQ(initramfs_write(out, dirs, 2, 1700000000, err, sizeof err), 0);
    nftw(root, touch_one, 16, FTW_PHYS);
    CHECK_EQ(initramfs_write(out2, dirs, 2, 1700000000, err, sizeof err), 0);

    size_t l1 = 0, l2 = 0;
    char *d1 = slurp(out, &l1), *d2 = slurp(out2, &l2);
    CHECK(d1 && d2);
    CHECK_EQ(l1, l2);
    CHECK(d1 && d2 && l1 == l2 && memcmp(d1, d2, l1) == 0);
    CHECK_EQ(l1 % 512, 0);
    /* first header raw: newc magic, inode 1, mode of dir "bin" (b's 0711), uid 0 */
    CHECK(d1 && !memcmp(d1, "070701" "00000001" "000041c9" "00000000" "00000000", 38));
    CHECK(d1 && memmem(d1, l1, "TRAILER!!!", 10) != NULL);
    CHECK(d1 && memmem(d1, l1, "dropped with", 12) == NULL);
    CHECK_EQ(count_prefixed(root, "o"), 1);
    snprintf(p, sizeof p, "%s/o", root);
    CHECK_EQ(count_prefixed(p, "one.cpio.tmp"), 0);

    /* parents before children, '/' below every other byte, last tree wins */
    Want want[] = {
        { "bin", S_IFDIR | 0711, NULL, 2 },
        { "bin/sh", S_IFLNK | 0777, "tool", 1 },
        { "bin/tool", S_IFREG | 0755, "#!/bin/sh\necho tool\n", 1 },
        { "bin-x", S_IFREG | 0644, "sorts after bin's subtree\n", 1 },
        { "console", S_IFCHR | 0600, NULL, 1 },
        { "etc", S_IFDIR | 0700, NULL, 3 },
        { "etc/deep", S_IFDIR | 0755, NULL, 3 },
        { "etc/deep/er", S_IFDIR | 0755, NULL, 2 },
        { "etc/deep/er/file.txt", S_IFREG | 0600, "nested\n", 1 },
        { "fifo", S_IFIFO | 0640, NULL, 1 },
        { "gone", S_IFREG | 0644, "now a file\n", 1 },
        { "init", S_IFREG | 0750, "new init\n", 1 },
        { "tmp", S_IFDIR | 01777, NULL, 2 },
    };
    int nwant = sizeof want / sizeof want[0];
    struct archive *ar = archive_read_new();
    archive_read_support_format_cpio(ar);
    CHECK_EQ(archive_read_open_filename(ar, out, 10240), ARCHIVE_OK);
    struct archive_entry *ae;
    int i = 0;
    unsigned ino = 0;
    while (archive_read_next_header(ar, &ae) == ARCHIVE_OK) {
        if (!have_dev && i < nwant && !strcmp(want[i].name, "console"))
            i++;
        if (i >= nwant) {
            CHECK(!"more entries than expected");
            break;
        }
        const Want *w = &want[i++];
        const char *name = archive_entry_pathname(ae);
        if (strcmp(name, w->name))
            fprintf(stderr, "entry %d: got %s, expected %s\n", i - 1, name, w->name);
        CHECK(!strcmp(name, w->name));
        CHECK_EQ(archive_entry_mode(ae), w->mode);
        CHECK_EQ(archive_entry_mtime(ae), 1700000000);
        CHECK_EQ(archive_entry_uid(ae), 0);
        CHECK_EQ(archive_entry_gid(ae), 0);
        CHECK(archive_entry_uname(ae) == NULL);
        CHECK_EQ(archive_entry_ino(ae), ++ino);
        CHECK_EQ(archive_entry_nlink(ae), w->nlink);
        CHECK_EQ(archive_entry_dev(ae), 0);
        if (S_ISCHR(w->mode)) {
            CHECK_EQ(archive_entry_rdevmajor(ae), 5);
            CHECK_EQ(archive_entry_rdevminor(ae), 1);
        }
        if (S_ISLNK(w->mode)) {
            CHECK(archive_entry_symlink(ae) && !strcmp(archive_entry_symlink(ae), w->data));
        } else if (S_ISREG(w->mode)) {
            char buf[256];
            la_ssize_t n = archive_read_data(ar, buf, sizeof buf - 1);
            CHECK_EQ(n, strlen(w->data));
            CHECK(n >= 0 && (buf[n] = 0, !strcmp(buf, w->data)));
            CHECK_EQ(archive_entry_size(ae), strlen(w->data));
        } else {
            CHECK_EQ(archive_entry_size(ae), 0);
        }
    }
    CHECK_EQ(i, nwant);
    archive_read_free(ar);

    /* a different mtime changes the bytes (it is really written) */
    CHECK_EQ(initramfs_write(out2, dirs, 2, 1, err, sizeof err), 0);
    free(d2);
    d2 = slurp(out2, &l2);
    CHECK(d2 && l1 == l2 && memcmp(d1, d2, l1) != 0);

    /* an empty tree is still a valid archive: just the trailer */
    mkd("empty", 0755);
    snprintf(p, sizeof p, "%s/empty", root);
    const char *edirs[] = { p };
    CHECK_EQ(initramfs_write(out2, edirs, 1, 0, err, sizeof err), 0);
    free(d2);
    d2 = slurp(out2, &l2);
    CHECK_EQ(l2, 512);
    CHECK(d2 && !memcmp(d2 + 110, "TRAILER!!!", 10));

    /* errors: -1, one line naming the problem, old output untouched, no temp file */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no-such-dir", root);
    const char *bad[] = { a, missing };
    err[0] = 0;
    CHECK_EQ(initramfs_write(out, bad, 2, 0, err, sizeof err), -1);
    CHECK(strstr(err, "no-such-dir") != NULL);
    CHECK(strchr(err, '\n') == NULL);
    snprintf(p, sizeof p, "%s/o", root);
    CHECK_EQ(count_prefixed(p, "one.cpio.tmp"), 0);
    size_t l3 = 0;
    char *d3 = slurp(out, &l3);
    CHECK(d3 && l3 == l1 && !memcmp(d1, d3, l1));
    free(d3);

    char noout[160];
    snprintf(noout, sizeof noout, "%s/no-such-out/x.cpio", root);
    err[0] = 0;
    CHECK_EQ(initramfs_write(noout, dirs, 2, 0, err, sizeof err), -1);
    CHECK(strstr(err, "no-such-out") != NULL);

    /* an unreadable file fails after the temp file exists: it must go again */
    if (geteuid() != 0) {
        put("a/secret", "x", 0000);
        err[0] = 0;
        CHECK_EQ(initramfs_write(out, dirs, 2, 0, err, sizeof err), -1);
        CHECK(strstr(err, "secret") != NULL);
        CHECK_EQ(count_prefixed(p, "one.cpio.tmp"), 0);
    }
    /* a file named like the input's parent: not a directory */
    const char *notdir[] = { out };
    err[0] = 0;
    CHECK_EQ(initramfs_write(out2, notdir, 1, 0, err, sizeof err), -1);
    CHECK(strstr(err, "not a directory") != NULL);
    CHECK_EQ(initramfs_write(out2, dirs, 2, -1, err, sizeof err), -1);
    CHECK_EQ(initramfs_write(out2, dirs, 0, 0, err, sizeof err), -1);

    free(d1);
    free(d2);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
