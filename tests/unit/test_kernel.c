/* SPDX-License-Identifier: GPL-2.0-or-later */
/* steps/kernel.c without the network: which Debian archives apt's
 * configuration names (deb822 and one-line files, security archives and
 * duplicates left out, LBVM_DEBIAN_MIRRORS first), taking a member out of a
 * .deb made here with libarchive (ar holding data.tar.xz, as dpkg-deb makes
 * them), and the one-line refusals: a damaged or truncated package, a wrong
 * SHA-256, a member that is not there, a file that is no kernel. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steps/fetch.h"
#include "steps/kernel.h"

#include "check.h"

static char dir[] = "/tmp/lbvm-test-kernel-XXXXXX";

static void put(const char *rel, const char *text)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_mirrors(void)
{
    char apt[4200], buf[4096], cmd[8400];
    snprintf(apt, sizeof apt, "%s/apt", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/sources.list.d'", apt);
    CHECK(system(cmd) == 0);
    unsetenv("LBVM_DEBIAN_MIRRORS");
    /* nothing configured */
    CHECK(kernel_mirrors(apt, buf, sizeof buf) == 0 && buf[0] == 0);
    /* deb822 only, as Debian 12's container images ship it */
    put("apt/sources.list.d/debian.sources",
        "Types: deb\n# http://snapshot.example.invalid/archive/debian/20250520T000000Z\n"
        "URIs: http://deb.example.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://deb.example.invalid/debian-security\nSuites: bookworm-security\n");
    CHECK(kernel_mirrors(apt, buf, sizeof buf) == 1);
    CHECK(!strcmp(buf, "http://deb.example.invalid/debian"));
    /* the one-line form too, with options; a trailing slash; duplicates once;
     * a disabled file and cdrom: lines are not read */
    put("apt/sources.list", "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m1.example.invalid/debian/ bookworm main\n"
                            "deb-src http://src.example.invalid/debian bookworm main\n"
                            "deb http://deb.example.invalid/debian bookworm main\n"
                            "deb cdrom:[Debian]/ bookworm main\n");
    put("apt/sources.list.d/other.list.disabled", "deb http://off.example.invalid/debian bookworm main\n");
    put("apt/sources.list.d/z.sources", "URIs: https://m2.example.invalid/debian http://m3.example.invalid/debian\n");
    CHECK(kernel_mirrors(apt, buf, sizeof buf) == 4);
    CHECK(!strcmp(buf, "http://m1.example.invalid/debian http://deb.example.invalid/debian "
                       "https://m2.example.invalid/debian http://m3.example.invalid/debian"));
    /* the environment wins */
    setenv("LBVM_DEBIAN_MIRRORS", " http://a.example.invalid/x/  http://b.example.invalid/y ", 1);
    CHECK(kernel_mirrors(apt, buf, sizeof buf) == 2);
    CHECK(!strcmp(buf, "http://a.example.invalid/x http://b.example.invalid/y"));
    unsetenv("LBVM_DEBIAN_MIRRORS");
}

/* A .deb: ar with debian-binary, control.tar.xz, data.tar.xz holding files. */
static void make_deb(const char *path, const char *member, const void *data, size_t n)
{
    /* data.tar.xz in memory */
    size_t cap = 1 << 20, used = 0;
    char *tarxz = malloc(cap);
    struct archive *t = archive_write_new();
    archive_write_set_format_ustar(t);
    archive_write_add_filter_xz(t);
    CHECK(archive_write_open_memory(t, tarxz, cap, &used) == ARCHIVE_OK);
    const char *names[] = { "./boot/", "./boot/config-test", member };
    for (int i = 0; i < 3; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        int isdir = names[i][strlen(names[i]) - 1] == '/';
        archive_entry_set_filetype(e, isdir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, isdir ? 0755 : 0644);
        size_t sz = i == 2 ? n : (i == 1 ? 4 : 0);
        archive_entry_set_size(e, (la_int64_t)sz);
        archive_write_header(t, e);
        if (i == 1)
            archive_write_data(t, "x=y\n", 4);
        if (i == 2)
            archive_write_data(t, data, n);
        archive_entry_free(e);
    }
    archive_write_close(t);
    archive_write_free(t);
    /* the ar around it */
    struct archive *a = archive_write_new();
    archive_write_set_format_ar_bsd(a);
    CHECK(archive_write_open_filename(a, path) == ARCHIVE_OK);
    const char *an[] = { "debian-binary", "control.tar.xz", "data.tar.xz" };
    const void *ad[] = { "2.0\n", "", tarxz };
    size_t as[] = { 4, 0, used };
    for (int i = 0; i < 3; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, an[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)as[i]);
        archive_write_header(a, e);
        if (as[i])
            archive_write_data(a, ad[i], as[i]);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    free(tarxz);
}

static void test_deb(void)
{
    char deb[4200], out[4200], err[1024], got[65], cmd[8600];
    snprintf(deb, sizeof deb, "%s/k.deb", dir);
    snprintf(out, sizeof out, "%s/vmlinuz", dir);
    size_t n = 300000;
    unsigned char *k = malloc(n);
    for (size_t i = 0; i < n; i++)
        k[i] = (unsigned char)(i * 2654435761u >> 24);
    make_deb(deb, "./boot/vmlinuz-test", k, n);
    /* the member's SHA-256, through a file */
    char ref[4200];
    snprintf(ref, sizeof ref, "%s/ref", dir);
    FILE *f = fopen(ref, "wb");
    fwrite(k, 1, n, f);
    fclose(f);
    char want[65];
    CHECK(fetch_sha256_file(ref, want) == 0);

    CHECK(kernel_from_deb(deb, "boot/vmlinuz-test", want, out, err, sizeof err) == 0);
    CHECK(fetch_sha256_file(out, got) == 0 && !strcmp(got, want));
    /* a wrong SHA-256: refused, nothing left at out */
    unlink(out);
    CHECK(kernel_from_deb(deb, "boot/vmlinuz-test", "00", out, err, sizeof err) == -1 && strstr(err, "SHA-256"));
    CHECK(access(out, F_OK) != 0);
    /* no such member */
    CHECK(kernel_from_deb(deb, "boot/vmlinuz-other", NULL, out, err, sizeof err) == -1 &&
          strstr(err, "holds no boot/vmlinuz-other"));
    /* truncated in the middle of data.tar.xz */
    struct stat st;
    CHECK(stat(deb, &st) == 0);
    snprintf(cmd, sizeof cmd, "head -c %lld '%s' > '%s.cut'", (long long)st.st_size / 2, deb, deb);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s.cut", deb);
    CHECK(kernel_from_deb(cmd, "boot/vmlinuz-test", want, out, err, sizeof err) == -1);
    CHECK(strchr(err, '\n') == NULL && err[0]);
    CHECK(access(out, F_OK) != 0);
    /* not a package at all */
    CHECK(kernel_from_deb(ref, "boot/vmlinuz-test", want, out, err, sizeof err) == -1 && strstr(err, "not a Debian package"));
    /* none of these is a kernel */
    CHECK(kernel_check(ref, err, sizeof err) == -1 && strstr(err, ref));
    CHECK(kernel_check("/nonexistent-kernel", err, sizeof err) == -1 && strstr(err, "No such file"));
    CHECK(kernel_check(dir, err, sizeof err) == -1 && strstr(err, "not a file"));
    free(k);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_mirrors();
    test_deb();
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        check_failed++;
    return check_done();
}
