/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The default kernel (kernel.h): fetch the pinned Debian package, take its
 * vmlinuz out with libarchive, check both against their SHA-256. */
#include "steps/kernel.h"
#include "base/platform.h"
#include "steps/fetch.h"
#include "boot/linux.h"
#include "base/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define KERNEL_MAX_BYTES (64u << 20)   /* a bzImage is a few MiB */

/* ---- mirrors -------------------------------------------------------------- */

static int add_mirror(char *buf, size_t len, const char *uri, size_t n)
{
    while (n && uri[n - 1] == '/')
        n--;
    /* the security archive has another pool; skip it, and duplicates */
    if (n < 8 || lbvm_memmem(uri, n, "security", 8) || (strncmp(uri, "http://", 7) && strncmp(uri, "https://", 8)))
        return 0;
    for (const char *p = buf; *p;) {
        size_t l = strcspn(p, " ");
        if (l == n && !strncmp(p, uri, n))
            return 0;
        p += l + (p[l] == ' ');
    }
    size_t have = strlen(buf);
    if (have + n + 2 > len)
        return 0;
    snprintf(buf + have, len - have, "%s%.*s", have ? " " : "", (int)n, uri);
    return 1;
}

static int mirrors_of_file(const char *path, int deb822, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *s = line, *save = NULL;
        while (*s == ' ' || *s == '\t')
            s++;
        if (deb822) {
            /* URIs: a b c */
            if (strncasecmp(s, "URIs:", 5))
                continue;
            for (char *t = strtok_r(s + 5, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save))
                n += add_mirror(buf, len, t, strlen(t));
        } else {
            /* deb [options] URI suite components */
            char *w[64];
            int nw = 0;
            for (char *t = strtok_r(s, " \t\r\n", &save); t && nw < 64; t = strtok_r(NULL, " \t\r\n", &save))
                w[nw++] = t;
            int i = 1;
            if (nw < 2 || strcmp(w[0], "deb"))
                continue;
            if (w[1][0] == '[') {
                while (i < nw && !strchr(w[i], ']'))
                    i++;
                i++;
            }
            if (i < nw)
                n += add_mirror(buf, len, w[i], strlen(w[i]));
        }
    }
    fclose(f);
    return n;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kernel_mirrors(const char *apt_dir, char *buf, size_t len)
{
    int n = 0;
    if (len)
        buf[0] = 0;
    const char *env = getenv("LBVM_DEBIAN_MIRRORS");
    if (env && *env) {
        const char *p = env;
        while (*p) {
            while (*p == ' ')
                p++;
            size_t l = strcspn(p, " ");
            if (l)
                n += add_mirror(buf, len, p, l);
            p += l;
        }
        return n;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/sources.list", apt_dir);
    n += mirrors_of_file(path, 0, buf, len);
    snprintf(path, sizeof path, "%s/sources.list.d", apt_dir);
    DIR *d = opendir(path);
    char *names[256];
    int k = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) && k < 256)
        if (de->d_name[0] != '.')
            names[k] = strdup(de->d_name), k += names[k] != NULL;
    if (d)
        closedir(d);
    qsort(names, (size_t)k, sizeof *names, name_cmp);
    for (int i = 0; i < k; i++) {
        size_t l = strlen(names[i]);
        int deb822 = l > 8 && !strcmp(names[i] + l - 8, ".sources");
        int oneline = l > 5 && !strcmp(names[i] + l - 5, ".list");
        snprintf(path, sizeof path, "%s/sources.list.d/%s", apt_dir, names[i]);
        if (deb822 || oneline)
            n += mirrors_of_file(path, deb822, buf, len);
        free(names[i]);
    }
    return n;
}

/* ---- the .deb --------------------------------------------------------------- */

typedef struct Inner {
    struct archive *outer;
    char buf[65536];
} Inner;

static la_ssize_t inner_read(struct archive *a, void *opaque, const void **out)
{
    (void)a;
    Inner *in = opaque;
    *out = in->buf;
    return archive_read_data(in->outer, in->buf, sizeof in->buf);
}

int kernel_from_deb(const char *deb_path, const char *member, const char *sha256, const char *out_path,
                    char *err, size_t errlen)
{
    struct archive *outer = archive_read_new(), *inner = NULL;
    Inner *in = calloc(1, sizeof *in);
    char tmp[4200];
    int fd = -1, rc = -1, found = 0;
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", out_path, (int)getpid());
    if (!outer || !in) {
        lbvm_set_err(err, errlen, "out of memory");
        goto out;
    }
    archive_read_support_format_ar(outer);
    if (archive_read_open_filename(outer, deb_path, 65536) != ARCHIVE_OK) {
        lbvm_set_err(err, errlen, "%s: not a Debian package: %s", deb_path, archive_error_string(outer));
        goto out;
    }
    struct archive_entry *e;
    while (!found && archive_read_next_header(outer, &e) == ARCHIVE_OK)
        found = !strncmp(archive_entry_pathname(e), "data.tar", 8);
    if (!found) {
        lbvm_set_err(err, errlen, "%s: not a Debian package (no data.tar member)", deb_path);
        goto out;
    }
    found = 0;
    in->outer = outer;
    inner = archive_read_new();
    if (!inner) {
        lbvm_set_err(err, errlen, "out of memory");
        goto out;
    }
    archive_read_support_format_tar(inner);
    archive_read_support_filter_xz(inner);
    archive_read_support_filter_gzip(inner);
    archive_read_support_filter_zstd(inner);
    if (archive_read_open(inner, in, NULL, inner_read, NULL) != ARCHIVE_OK) {
        lbvm_set_err(err, errlen, "%s: cannot read its data.tar: %s", deb_path, archive_error_string(inner));
        goto out;
    }
    int r;
    while ((r = archive_read_next_header(inner, &e)) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        while (p[0] == '.' && p[1] == '/')
            p += 2;
        if (strcmp(p, member))
            continue;
        if (archive_entry_size(e) <= 0 || archive_entry_size(e) > KERNEL_MAX_BYTES) {
            lbvm_set_err(err, errlen, "%s: %s has an unlikely size", deb_path, member);
            goto out;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            lbvm_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
        char buf[65536];
        la_ssize_t k;
        while ((k = archive_read_data(inner, buf, sizeof buf)) > 0) {
            for (la_ssize_t off = 0; off < k;) {
                ssize_t w = write(fd, buf + off, (size_t)(k - off));
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0) {
                    lbvm_set_err(err, errlen, "cannot write %s: %s", tmp, w < 0 ? strerror(errno) : "no space");
                    goto out;
                }
                off += w;
            }
        }
        if (k < 0) {
            lbvm_set_err(err, errlen, "%s: %s is damaged: %s", deb_path, member, archive_error_string(inner));
            goto out;
        }
        found = 1;
        break;
    }
    if (!found) {
        lbvm_set_err(err, errlen, "%s holds no %s%s%s", deb_path, member, r == ARCHIVE_OK || r == ARCHIVE_EOF ? "" : ": ",
                     r == ARCHIVE_OK || r == ARCHIVE_EOF ? "" : archive_error_string(inner));
        goto out;
    }
    if (host_fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        lbvm_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (sha256) {
        char got[65];
        if (fetch_sha256_file(tmp, got) != 0 || strcasecmp(got, sha256)) {
            lbvm_set_err(err, errlen, "%s from %s: SHA-256 %s, expected %s", member, deb_path, got, sha256);
            goto out;
        }
    }
    if (host_replace(tmp, out_path) != 0) {
        lbvm_set_err(err, errlen, "cannot rename %s to %s: %s", tmp, out_path, strerror(errno));
        goto out;
    }
    host_fsync_dir_of(out_path);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    if (inner)
        archive_read_free(inner);
    if (outer)
        archive_read_free(outer);
    free(in);
    return rc;
}

/* ---- the default kernel ------------------------------------------------------ */

int kernel_default(char *buf, size_t len, int offline, FILE *log, char *err, size_t errlen)
{
    char dir[4096], got[65];
    if (fetch_cache_dir("kernels", dir, sizeof dir) < 0)
        return lbvm_set_err(err, errlen, "no cache folder for the default kernel: set HOME or XDG_CACHE_HOME, or give --kernel FILE");
    if (snprintf(buf, len, "%s/vmlinuz-%s-%s", dir, &KERNEL_PACKAGE[strlen("linux-image-")], KERNEL_VERSION) >= (int)len)
        return lbvm_set_err(err, errlen, "path too long: %s", dir);
    if (fetch_sha256_file(buf, got) == 0 && !strcasecmp(got, KERNEL_SHA256))
        return 0;
    if (offline)
        return lbvm_set_err(err, errlen, "the default kernel (%s %s) is not in %s and --offline downloads nothing: "
                            "run once without --offline, or give --kernel FILE", KERNEL_PACKAGE, KERNEL_VERSION, dir);
    char mirrors[4096];
    int n = kernel_mirrors("/etc/apt", mirrors, sizeof mirrors);
    if (n == 0)
        return lbvm_set_err(err, errlen, "no Debian archive to fetch the default kernel (%s %s) from: set "
                            "LBVM_DEBIAN_MIRRORS to a Debian archive URL (or Debian's snapshot archive of a date "
                            "when that version was current), or give --kernel FILE (a 32-bit bzImage)",
                            KERNEL_PACKAGE, KERNEL_VERSION);
    char *urls[16];
    int nu = 0;
    for (char *save = NULL, *t = strtok_r(mirrors, " ", &save); t && nu < 16; t = strtok_r(NULL, " ", &save))
        if ((urls[nu] = lbvm_strdup_printf("%s/%s", t, KERNEL_POOL_PATH)))
            nu++;
    FetchItem it = { .name = KERNEL_DEB, .sha256 = KERNEL_DEB_SHA256, .urls = (const char *const *)urls,
                     .n_urls = nu };
    FetchOptions fo = { .distdir = dir, .parallel = 1, .progress = 1, .log = log ? log : stderr };
    if (log)
        fprintf(log, "fetching the default kernel: %s %s (i386)\n", KERNEL_PACKAGE, KERNEL_VERSION);
    char ferr[1024];
    int rc = fetch_all(&it, 1, &fo, ferr, sizeof ferr);
    for (int i = 0; i < nu; i++)
        free(urls[i]);
    if (rc < 0)
        return lbvm_set_err(err, errlen, "cannot fetch the default kernel (%s): %s; give --kernel FILE, or set "
                            "LBVM_DEBIAN_MIRRORS to a Debian archive that has it", KERNEL_DEB, ferr);
    char deb[4200];
    snprintf(deb, sizeof deb, "%s/%s", dir, KERNEL_DEB);
    if (kernel_from_deb(deb, KERNEL_MEMBER, KERNEL_SHA256, buf, err, errlen) < 0)
        return -1;
    unlink(deb);   /* the package is 50 MiB; the kernel is what is kept */
    return 0;
}

int kernel_check(const char *path, char *err, size_t errlen)
{
    size_t n;
    char why[512];
    uint8_t *k = (uint8_t *)lbvm_read_file(path, KERNEL_MAX_BYTES, &n, why, sizeof why);
    if (!k)
        return lbvm_set_err(err, errlen, "kernel: %s", why);
    LinuxKernelInfo info;
    int rc = linux_parse(k, n, &info, why, sizeof why) < 0 ? lbvm_set_err(err, errlen, "kernel %s: %s", path, why) : 0;
    free(k);
    return rc;
}
