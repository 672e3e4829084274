/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lbvm build (steps/build.c): the sysa initramfs and the sysc disk from
 * tests/fixtures/build-tree. Reproducible to the byte across runs at different
 * host times; the cpio holds exactly the expected paths; the disk has the
 * expected MBR, passes e2fsck -fn and debugfs reads the distfiles back;
 * missing and mismatching distfiles fail naming the file, leaving nothing;
 * the disk is sparse; the command line's usage errors. The fixture is found
 * through $LBVM_SRC, else __FILE__/../.. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "check.h"
#include "steps/build.h"
#include "base/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[64];
static char tree[4096];
static char dist[256];
static char mke2fs[4096], debugfs_path[4096], e2fsck_path[4096];

static const char hello[] = "lbvm build fixture: hello-1.0\n";
static const char extra[] = "lbvm build fixture: hello extra\n";
static const char wpatch[] = "lbvm build fixture: world patch\n";
static const char wline[] = "lbvm build fixture: world-2.0\n";   /* 30 bytes, 10000 times */

static void put(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *world(size_t *len)
{
    size_t l = strlen(wline);
    char *b = malloc(l * 10000);
    for (int i = 0; i < 10000; i++)
        memcpy(b + (size_t)i * l, wline, l);
    *len = l * 10000;
    return b;
}

static void write_distfiles(const char *dir)
{
    char p[512];
    size_t wl;
    char *w = world(&wl);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/hello-1.0.tar.gz", dir);
    put(p, hello, strlen(hello));
    snprintf(p, sizeof p, "%s/hello-extra.tar.gz", dir);
    put(p, extra, strlen(extra));
    snprintf(p, sizeof p, "%s/world-2.0.tar.gz", dir);
    put(p, w, wl);
    snprintf(p, sizeof p, "%s/world-patch.diff", dir);
    put(p, wpatch, strlen(wpatch));
    free(w);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        b[n] = 0;
    *len = (size_t)n;
    return b;
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *da = slurp(a, &la), *db = slurp(b, &lb);
    int same = da && db && la == lb && !memcmp(da, db, la);
    free(da);
    free(db);
    return same;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

/* Entries of dir whose names start with prefix ("" for all). */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && !strncmp(de->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

/* Runs a shell command line; its exit status (-1 if it did not exit). */
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the initramfs ------------------------------------------------------- */

typedef struct {
    const char *name;
    mode_t mode;
    const char *data;   /* regular files: the content; NULL: not checked */
} Want;

static void check_cpio(const char *path)
{
    static const Want want[] = {
        { "after.kaem", S_IFREG | 0644, "# fixture: stage0-posix hands over here\n" },
        { "bootstrap-seeds", S_IFDIR | 0755, NULL },
        { "bootstrap-seeds/POSIX", S_IFDIR | 0755, NULL },
        { "bootstrap-seeds/POSIX/x86", S_IFDIR | 0755, NULL },
        { "bootstrap-seeds/POSIX/x86/hex0-seed", S_IFREG | 0644, "stand-in for hex0-seed (fixture)\n" },
        { "bootstrap-seeds/POSIX/x86/kaem-optional-seed", S_IFREG | 0644,
          "stand-in for kaem-optional-seed (fixture)\n" },
        { "dev", S_IFDIR | 0755, NULL },
        { "dev/console", S_IFCHR | 0600, NULL },
        { "init", S_IFREG | 0755, "stand-in for kaem-optional-seed (fixture)\n" },
        { "kaem.x86", S_IFREG | 0644, NULL },
        { "sysa", S_IFDIR | 0755, NULL },
        { "sysa/after.kaem", S_IFREG | 0644, NULL },
        { "sysa/bootstrap.cfg", S_IFREG | 0644, NULL },
        { "sysa/distfiles", S_IFDIR | 0755, NULL },
        { "sysa/distfiles/hello-1.0.tar.gz", S_IFREG | 0644, hello },
        { "sysa/distfiles/hello-extra.tar.gz", S_IFREG | 0644, extra },
        { "sysa/hello-1.0", S_IFDIR | 0755, NULL },
        { "sysa/hello-1.0/hello-1.0.sh", S_IFREG | 0644, NULL },
        { "sysa/hello-1.0/sources", S_IFREG | 0644, NULL },
        { "sysa/stage0-posix", S_IFDIR | 0755, NULL },
        { "sysa/stage0-posix/src", S_IFDIR | 0755, NULL },
        { "sysa/stage0-posix/src/bootstrap-seeds", S_IFDIR | 0755, NULL },
        { "sysa/stage0-posix/src/bootstrap-seeds/POSIX", S_IFDIR | 0755, NULL },
        { "sysa/stage0-posix/src/bootstrap-seeds/POSIX/x86", S_IFDIR | 0755, NULL },
        { "sysa/stage0-posix/src/bootstrap-seeds/POSIX/x86/hex0-seed", S_IFREG | 0644, NULL },
        { "sysa/stage0-posix/src/bootstrap-seeds/POSIX/x86/kaem-optional-seed", S_IFREG | 0644, NULL },
        { "sysa/stage0-posix/src/kaem.x86", S_IFREG | 0644, NULL },
        { "sysa/stage0-posix/src/x86", S_IFDIR | 0755, NULL },
        { "sysa/stage0-posix/src/x86/step.kaem", S_IFREG | 0644, NULL },
        { "sysb", S_IFDIR | 0755, NULL },
        { "sysb/run.sh", S_IFREG | 0644, "# fixture: sysb\n" },
        { "sysc", S_IFDIR | 0755, NULL },
        { "sysc/run.sh", S_IFREG | 0644, NULL },
        { "sysc/world-2.0", S_IFDIR | 0755, NULL },
        { "sysc/world-2.0/sources", S_IFREG | 0644, NULL },
        { "x86", S_IFDIR | 0755, NULL },
        { "x86/step.kaem", S_IFREG | 0644, "# fixture step\n" },
    };
    int nwant = (int)(sizeof want / sizeof want[0]);
    struct archive *ar = archive_read_new();
    archive_read_support_format_cpio(ar);
    CHECK_EQ(archive_read_open_filename(ar, path, 10240), ARCHIVE_OK);
    struct archive_entry *ae;
    int i = 0;
    char buf[4096];
    while (archive_read_next_header(ar, &ae) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ae);
        if (i >= nwant) {
            fprintf(stderr, "unexpected entry %s\n", name);
            CHECK(!"more entries than expected");
            break;
        }
        const Want *w = &want[i++];
        if (strcmp(name, w->name))
            fprintf(stderr, "entry %d: got %s, expected %s\n", i - 1, name, w->name);
        CHECK(!strcmp(name, w->name));
        CHECK_EQ(archive_entry_mode(ae), w->mode);
        CHECK_EQ(archive_entry_uid(ae), 0);
        CHECK_EQ(archive_entry_gid(ae), 0);
        CHECK_EQ(archive_entry_mtime(ae), 0);
        CHECK_EQ(archive_entry_ino(ae), (unsigned)i);
        if (S_ISCHR(w->mode)) {
            CHECK_EQ(archive_entry_rdevmajor(ae), 5);
            CHECK_EQ(archive_entry_rdevminor(ae), 1);
        }
        if (!strcmp(name, "sysa/bootstrap.cfg")) {
            la_ssize_t n = archive_read_data(ar, buf, sizeof buf - 1);
            CHECK(n > 0 && (buf[n] = 0, strstr(buf, "DISK=sda1\n") != NULL));
            CHECK(n > 0 && strstr(buf, "CHROOT=False\n") != NULL);
        } else if (w->data) {
            la_ssize_t n = archive_read_data(ar, buf, sizeof buf - 1);
            CHECK_EQ(n, strlen(w->data));
            CHECK(n >= 0 && (buf[n] = 0, !strcmp(buf, w->data)));
        }
    }
    CHECK_EQ(i, nwant);
    archive_read_free(ar);
}

/* ---- the disk -------------------------------------------------------------- */

static void check_disk(const char *img, uint64_t size)
{
    struct stat st;
    CHECK(stat(img, &st) == 0);
    CHECK_EQ(st.st_size, size);
    size_t len = 0;
    int fd = open(img, O_RDONLY);
    uint8_t mbr[512], want[512];
    CHECK(fd >= 0 && pread(fd, mbr, 512, 0) == 512);
    if (fd >= 0)
        close(fd);
    CHECK_EQ(mbr[510], 0x55);
    CHECK_EQ(mbr[511], 0xaa);
    CHECK_EQ(mbr[446 + 4], 0x83);
    uint32_t start = mbr[454] | mbr[455] << 8 | mbr[456] << 16 | (uint32_t)mbr[457] << 24;
    uint32_t count = mbr[458] | mbr[459] << 8 | mbr[460] << 16 | (uint32_t)mbr[461] << 24;
    CHECK_EQ(start, 2048);
    CHECK_EQ(count, size / 512 - 2048);
    uint32_t id = mbr[440] | mbr[441] << 8 | mbr[442] << 16 | (uint32_t)mbr[443] << 24;
    CHECK(id != 0);
    CHECK_EQ(build_mbr(want, size, id), 0);
    CHECK(!memcmp(mbr, want, 512));
    if (!*e2fsck_path || !*debugfs_path)
        return;

    /* e2fsck -fn on the partition */
    CHECK_EQ(sh("'%s' -fn '%s?offset=1048576' >%s/fsck.out 2>&1", e2fsck_path, img, tmp), 0);
    /* debugfs lists /distfiles: the sysc files, owned by 0:0, mode 0644, 1970 */
    CHECK_EQ(sh("'%s' -R 'ls -l /distfiles' '%s?offset=1048576' >%s/ls.out 2>/dev/null", debugfs_path, img, tmp), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/ls.out", tmp);
    char *ls = slurp(p, &len);
    CHECK(ls && strstr(ls, " world-2.0.tar.gz") && strstr(ls, " world-patch.diff"));
    CHECK(ls && !strstr(ls, "stale") && !strstr(ls, "hello"));
    CHECK(ls && strstr(ls, "100644 (1)      0      0   300000  1-Jan-1970 00:00 world-2.0.tar.gz"));
    free(ls);
    /* and the contents come back */
    CHECK_EQ(sh("'%s' -R 'dump /distfiles/world-2.0.tar.gz %s/w.out' '%s?offset=1048576' >/dev/null 2>&1",
                debugfs_path, tmp, img), 0);
    snprintf(p, sizeof p, "%s/w.out", tmp);
    char *got = slurp(p, &len);
    size_t wl;
    char *w = world(&wl);
    CHECK(got && len == wl && !memcmp(got, w, wl));
    free(got);
    free(w);
    CHECK_EQ(sh("'%s' -R 'cat /distfiles/world-patch.diff' '%s?offset=1048576' >%s/p.out 2>/dev/null",
                debugfs_path, img, tmp), 0);
    snprintf(p, sizeof p, "%s/p.out", tmp);
    got = slurp(p, &len);
    CHECK(got && !strcmp(got, wpatch));
    free(got);
}

/* ---- the command line -------------------------------------------------------- */

/* lbvm_cmd_build with stdout and stderr captured into out (NUL-terminated). */
static int run_cli(char *out, size_t outlen, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc && i < 15; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;
    char p[512];
    snprintf(p, sizeof p, "%s/cli.out", tmp);
    fflush(stdout);
    fflush(stderr);
    int s1 = dup(1), s2 = dup(2);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    int rc = lbvm_cmd_build(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(s1, 1);
    dup2(s2, 2);
    close(s1);
    close(s2);
    size_t len = 0;
    char *b = slurp(p, &len);
    snprintf(out, outlen, "%s", b ? b : "");
    free(b);
    return rc;
}

int main(void)
{
    const char *src = getenv("LBVM_SRC");
    if (src && *src)
        snprintf(tree, sizeof tree, "%s/tests/fixtures/build-tree", src);
    else {
        char here[3000];
        snprintf(here, sizeof here, "%s", __FILE__);
        char *sl = strrchr(here, '/');
        if (sl)
            *sl = 0;
        snprintf(tree, sizeof tree, "%s/../fixtures/build-tree", sl ? here : ".");
    }
    struct stat st;
    if (stat(tree, &st) != 0) {
        fprintf(stderr, "fixture %s not found (set LBVM_SRC)\n", tree);
        return 1;
    }
    unsetenv("SOURCE_DATE_EPOCH");
    strcpy(tmp, "/tmp/lbvm-build-XXXXXX");
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(dist, sizeof dist, "%s/dist", tmp);
    write_distfiles(dist);
    int have_e2fs = build_find_tool("mke2fs", mke2fs, sizeof mke2fs) == 0 &&
                    build_find_tool("debugfs", debugfs_path, sizeof debugfs_path) == 0;
    if (build_find_tool("e2fsck", e2fsck_path, sizeof e2fsck_path) != 0)
        e2fsck_path[0] = 0;
    if (!have_e2fs) {
        fprintf(stderr, "e2fsprogs (mke2fs, debugfs) not installed: the disk checks are skipped\n");
        debugfs_path[0] = 0;
    }

    /* sizes */
    uint64_t v = 0;
    CHECK(lbvm_parse_size("8G", &v) == 0 && v == 8ULL << 30);
    CHECK(lbvm_parse_size("512", &v) == 0 && v == 512);
    CHECK(lbvm_parse_size("3k", &v) == 0 && v == 3072);
    CHECK(lbvm_parse_size("2T", &v) == 0 && v == 2ULL << 40);
    CHECK(lbvm_parse_size("16M", &v) == 0 && v == 16ULL << 20);
    CHECK(lbvm_parse_size("", &v) < 0);
    CHECK(lbvm_parse_size("-1G", &v) < 0);
    CHECK(lbvm_parse_size("1.5G", &v) < 0);
    CHECK(lbvm_parse_size("8GB", &v) < 0);
    CHECK(lbvm_parse_size("99999999999T", &v) < 0);

    /* MBR: 64 MiB disk; CHS of LBA 2048 is 0/32/33, of the last sector 8/40/32 */
    uint8_t mbr[512];
    CHECK_EQ(build_mbr(mbr, 64ULL << 20, 0x12345678), 0);
    static const uint8_t entry[16] = { 0x00, 0x20, 0x21, 0x00, 0x83, 0x28, 0x20, 0x08,
                                       0x00, 0x08, 0x00, 0x00, 0x00, 0xf8, 0x01, 0x00 };
    CHECK(!memcmp(mbr + 446, entry, 16));
    CHECK(!memcmp(mbr + 440, "\x78\x56\x34\x12\0\0", 6));
    CHECK_EQ(mbr[510], 0x55);
    CHECK_EQ(mbr[511], 0xaa);
    int zero = 1;
    for (int i = 0; i < 440; i++)
        zero &= mbr[i] == 0;
    for (int i = 462; i < 510; i++)
        zero &= mbr[i] == 0;
    CHECK(zero);
    CHECK_EQ(build_mbr(mbr, 8ULL << 30, 1), 0);
    CHECK(!memcmp(mbr + 446 + 5, "\xfe\xff\xff", 3));     /* past cylinder 1023 */
    CHECK_EQ(build_mbr(mbr, (64ULL << 20) + 1, 1), -1);
    CHECK_EQ(build_mbr(mbr, 2048 * 512, 1), -1);
    CHECK_EQ(build_mbr(mbr, 4ULL << 40, 1), -1);
    CHECK_EQ(build_mbr(mbr, (2048 + 0xffffffffULL) * 512, 1), 0);

    /* sources: both forms, a mirror line, byte order of the folders */
    char sd[4200], err[2048];
    FetchList l = { 0 };
    snprintf(sd, sizeof sd, "%s/sysa", tree);
    CHECK_EQ(build_read_sources(sd, &l, err, sizeof err), 0);
    CHECK_EQ(l.n, 2);
    CHECK(l.n == 2 && !strcmp(l.items[0].name, "hello-1.0.tar.gz") && !strcmp(l.items[1].name, "hello-extra.tar.gz"));
    CHECK_EQ(build_verify_distfiles(&l, dist, err, sizeof err), 0);
    fetch_list_free(&l);
    snprintf(sd, sizeof sd, "%s/sysc", tree);
    CHECK_EQ(build_read_sources(sd, &l, err, sizeof err), 0);
    CHECK_EQ(l.n, 2);
    CHECK(l.n == 2 && !strcmp(l.items[0].name, "world-2.0.tar.gz") && l.items[0].n_urls == 2);
    CHECK(l.n == 2 && !strcmp(l.items[1].name, "world-patch.diff"));
    CHECK_EQ(build_verify_distfiles(&l, dist, err, sizeof err), 0);

    char o1[256], o2[256], p1[512], p2[512];
    snprintf(o1, sizeof o1, "%s/out1", tmp);
    snprintf(o2, sizeof o2, "%s/out2", tmp);
    BuildOutput out[2], out2[2];
    if (have_e2fs) {
        /* two builds, a second apart: the same bytes */
        BuildOptions o = { .tree = tree, .distdir = dist, .outdir = o1, .disk_size = 64ULL << 20 };
        CHECK_EQ(build_all(&o, out, err, sizeof err), 0);
        if (err[0])
            fprintf(stderr, "build_all: %s\n", err);
        sleep(1);
        o.outdir = o2;
        CHECK_EQ(build_all(&o, out2, err, sizeof err), 0);
        for (int i = 0; i < 2; i++) {
            CHECK(!strcmp(out[i].sha256, out2[i].sha256));
            CHECK_EQ(out[i].size, out2[i].size);
            CHECK(same_file(out[i].path, out2[i].path));
        }
        CHECK_EQ(out[1].size, 64ULL << 20);
        CHECK_EQ(out[0].size % 512, 0);
        snprintf(p1, sizeof p1, "%s/initramfs.cpio", o1);
        CHECK(!strcmp(out[0].path, p1));
        check_cpio(p1);
        snprintf(p1, sizeof p1, "%s/sysc.img", o1);
        CHECK(!strcmp(out[1].path, p1));
        check_disk(p1, 64ULL << 20);
        CHECK_EQ(count_prefixed(o1, ""), 2);        /* nothing else left beside them */

        /* another epoch: other bytes, times in the disk */
        o.epoch = 1700000000;
        snprintf(o2, sizeof o2, "%s/out3", tmp);
        o.outdir = o2;
        CHECK_EQ(build_all(&o, out2, err, sizeof err), 0);
        CHECK(strcmp(out[0].sha256, out2[0].sha256) != 0);
        CHECK(strcmp(out[1].sha256, out2[1].sha256) != 0);
        snprintf(p2, sizeof p2, "%s/sysc.img", o2);
        CHECK_EQ(sh("'%s' -R 'stat /distfiles/world-patch.diff' '%s?offset=1048576' 2>/dev/null | "
                    "grep -c 'time: 0x6553f100:00000000' | grep -qx 4", debugfs_path, p2), 0);

        /* the default 8 GiB disk is sparse, and still a good file system */
        snprintf(p2, sizeof p2, "%s/big.img", tmp);
        CHECK_EQ(build_disk(p2, BUILD_DEFAULT_DISK_SIZE, &l, dist, 0, err, sizeof err), 0);
        CHECK(stat(p2, &st) == 0 && (uint64_t)st.st_size == BUILD_DEFAULT_DISK_SIZE);
        CHECK((uint64_t)st.st_blocks * 512 < (64ULL << 20));
        check_disk(p2, BUILD_DEFAULT_DISK_SIZE);
        unlink(p2);
    }

    /* the initramfs alone, through its own entry point */
    snprintf(p2, sizeof p2, "%s/alone.cpio", tmp);
    CHECK_EQ(build_initramfs(tree, dist, p2, 0, err, sizeof err), 0);
    check_cpio(p2);
    if (have_e2fs) {
        snprintf(p1, sizeof p1, "%s/initramfs.cpio", o1);
        CHECK(same_file(p1, p2));
    }

    /* a missing distfile: named, nothing written */
    char p[512];
    snprintf(p, sizeof p, "%s/world-patch.diff", dist);
    snprintf(p1, sizeof p1, "%s/world-patch.diff.away", dist);
    CHECK(rename(p, p1) == 0);
    snprintf(o2, sizeof o2, "%s/out-missing", tmp);
    BuildOptions bad = { .tree = tree, .distdir = dist, .outdir = o2, .disk_size = 64ULL << 20 };
    err[0] = 0;
    CHECK_EQ(build_all(&bad, out2, err, sizeof err), -1);
    CHECK(strstr(err, "world-patch.diff") && strstr(err, "missing"));
    CHECK(!strchr(err, '\n'));
    CHECK(stat(o2, &st) != 0);                       /* checked before anything is written */
    snprintf(p2, sizeof p2, "%s/d.img", tmp);
    err[0] = 0;
    CHECK_EQ(build_disk(p2, 64ULL << 20, &l, dist, 0, err, sizeof err), -1);
    CHECK(strstr(err, "world-patch.diff") != NULL);
    CHECK_EQ(count_prefixed(tmp, "d.img"), 0);       /* no image, no temporary folder */

    /* a wrong checksum: named, with both hashes */
    put(p, "not the patch\n", 14);
    err[0] = 0;
    CHECK_EQ(build_all(&bad, out2, err, sizeof err), -1);
    CHECK(strstr(err, "world-patch.diff") && strstr(err, "checksum mismatch"));
    CHECK(strstr(err, "764a7d50614db96958c1a6779b81889dab82670d5272ccc9d905844aa576127a") != NULL);
    err[0] = 0;
    CHECK_EQ(build_disk(p2, 64ULL << 20, &l, dist, 0, err, sizeof err), -1);
    CHECK(strstr(err, "world-patch.diff") && strstr(err, "checksum mismatch"));
    CHECK_EQ(count_prefixed(tmp, "d.img"), 0);
    /* a sysa distfile wrong: the initramfs step says so */
    snprintf(p2, sizeof p2, "%s/hello-extra.tar.gz", dist);
    put(p2, "wrong\n", 6);
    snprintf(p2, sizeof p2, "%s/x.cpio", tmp);
    err[0] = 0;
    CHECK_EQ(build_initramfs(tree, dist, p2, 0, err, sizeof err), -1);
    CHECK(strstr(err, "hello-extra.tar.gz") && strstr(err, "checksum mismatch"));
    CHECK_EQ(count_prefixed(tmp, "x.cpio"), 0);
    fetch_list_free(&l);
    write_distfiles(dist);                            /* good again */
    unlink(p1);

    /* not a live-bootstrap tree */
    snprintf(p2, sizeof p2, "%s/x.cpio", tmp);
    err[0] = 0;
    CHECK_EQ(build_initramfs(dist, dist, p2, 0, err, sizeof err), -1);
    CHECK(strstr(err, "sysa") != NULL);

    /* the command line */
    char cli[8192];
    CHECK_EQ(run_cli(cli, sizeof cli, 1, "build"), 1);
    CHECK(!strncmp(cli, "lbvm: ", 6) && strstr(cli, "--tree"));
    CHECK_EQ(run_cli(cli, sizeof cli, 2, "build", "--bogus"), 1);
    CHECK(!strncmp(cli, "lbvm: unknown option '--bogus'", 30));
    CHECK_EQ(run_cli(cli, sizeof cli, 2, "build", "--tree"), 1);
    CHECK(!strncmp(cli, "lbvm: missing value for option '--tree'", 39));
    CHECK_EQ(run_cli(cli, sizeof cli, 5, "build", "--tree", tree, "--disk-size", "8Q"), 1);
    CHECK(!strncmp(cli, "lbvm: --disk-size 8Q", 20));
    CHECK_EQ(run_cli(cli, sizeof cli, 5, "build", "--tree", tree, "--disk-size", "1M"), 1);
    CHECK_EQ(run_cli(cli, sizeof cli, 5, "build", "--tree", tree, "--disk-size", "1000"), 1);
    CHECK_EQ(run_cli(cli, sizeof cli, 4, "build", "--tree", tree, "extra"), 1);
    CHECK_EQ(run_cli(cli, sizeof cli, 2, "build", "--help"), 0);
    CHECK(strstr(cli, "usage: lbvm build") != NULL);
    setenv("SOURCE_DATE_EPOCH", "soon", 1);
    CHECK_EQ(run_cli(cli, sizeof cli, 3, "build", "--tree", tree), 1);
    CHECK(strstr(cli, "SOURCE_DATE_EPOCH") != NULL);
    unsetenv("SOURCE_DATE_EPOCH");
    snprintf(o2, sizeof o2, "%s/out-cli", tmp);
    CHECK_EQ(run_cli(cli, sizeof cli, 7, "build", "--tree", "/nonexistent-tree", "-d", dist, "-o", o2), 1);
    CHECK(!strncmp(cli, "lbvm: ", 6) && strstr(cli, "/nonexistent-tree"));
    if (have_e2fs) {
        CHECK_EQ(run_cli(cli, sizeof cli, 9, "build", "--tree", tree, "-d", dist, "-o", o2, "--disk-size", "64M"), 0);
        char line[1024];
        snprintf(line, sizeof line, "%s/initramfs.cpio: %llu bytes, sha256 %s\n%s/sysc.img: %llu bytes, sha256 %s\n",
                 o2, (unsigned long long)out[0].size, out[0].sha256, o2, (unsigned long long)out[1].size,
                 out[1].sha256);
        CHECK(!strcmp(cli, line));
        if (strcmp(cli, line))
            fprintf(stderr, "got:\n%swanted:\n%s", cli, line);
        /* the missing file through the command line: exit 1, one line naming it */
        snprintf(p, sizeof p, "%s/world-2.0.tar.gz", dist);
        unlink(p);
        CHECK_EQ(run_cli(cli, sizeof cli, 9, "build", "--tree", tree, "-d", dist, "-o", o2, "--disk-size", "64M"), 1);
        CHECK(!strncmp(cli, "lbvm: distfile world-2.0.tar.gz is missing", 42));
        CHECK(strchr(cli, '\n') == cli + strlen(cli) - 1);
    }

    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
