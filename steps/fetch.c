/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Distfile fetcher: libcurl multi interface for bounded parallel transfers,
 * OpenSSL EVP for SHA-256. A download lives in NAME.part until its hash is
 * right; only then is it fsynced and renamed to NAME, so NAME is always whole. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "steps/fetch.h"
#include "base/platform.h"
#include "base/util.h"

#define FETCH_MAX_REDIRS 5
#define FETCH_DEFAULT_PARALLEL 4
#define FETCH_DEFAULT_CONNECT_S 30
#define FETCH_DEFAULT_STALL_S 60

enum { XF_PENDING, XF_ACTIVE, XF_DONE, XF_FAILED };

typedef struct FetchXfer {
    const FetchItem *it;
    char *final_path, *part_path;
    int state;
    int url;                 /* index of the URL being tried */
    int fresh;               /* next start ignores an existing .part */
    int retried_fresh;       /* a resumed download that failed its hash was retried once from 0 */
    int fd;
    CURL *h;
    curl_off_t resume;       /* bytes of .part kept when the transfer started */
    curl_off_t got;          /* body bytes written by this transfer */
    int body_started;
    curl_off_t cr_start;     /* start of the last Content-Range header, -1 none */
    int local_errno;         /* write/seek failure on our side */
    int bad_range;           /* 206 for a range we did not ask for */
    double t0;
    double last_rx;          /* last time a byte arrived (or the connection was made) */
    int stalled;             /* aborted by our own stall check */
    int got_header;          /* some response header arrived */
    char errbuf[CURL_ERROR_SIZE];
    char reason[512];        /* last failure, without the file name */
} FetchXfer;

typedef struct FetchRun {
    const FetchOptions *o;
    FILE *log;
    int tty;                 /* updating progress line */
    int bar_shown;
    double t0, last_bar;
    curl_off_t session_bytes, done_bytes;
    int n_done, n_total;
} FetchRun;

static double mono_now(void)
{
    return host_monotonic();
}

/* One log line; on a tty the progress line is cleared first and redrawn later. */
static void logline(FetchRun *r, const char *fmt, ...)
{
    va_list ap;
    if (r->bar_shown) {
        fputs("\r\033[K", r->log);
        r->bar_shown = 0;
    }
    va_start(ap, fmt);
    vfprintf(r->log, fmt, ap);
    va_end(ap);
    fputc('\n', r->log);
    fflush(r->log);
}

static char *path_join(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", dir, name, suffix);
    return p;
}

int fetch_cache_dir(const char *leaf, char *buf, size_t len)
{
    char sub[512];
    int n = snprintf(sub, sizeof sub, "lbvm/%s", leaf);
    return n < 0 || (size_t)n >= sizeof sub ? -1 : host_cache_dir(sub, buf, len);
}

int fetch_default_distdir(char *buf, size_t len)
{
    return fetch_cache_dir("distfiles", buf, len);
}

int fetch_sha256_file(const char *path, char hex[65])
{
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (;;) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            ok = 0;
            break;
        }
        if (k == 0)
            break;
        ok = ok && EVP_DigestUpdate(c, buf, (size_t)k);
    }
    int saved = errno;
    ok = ok && EVP_DigestFinal_ex(c, md, &mdlen) && mdlen == 32;
    EVP_MD_CTX_free(c);
    close(fd);
    if (!ok) {
        errno = saved ? saved : EIO;
        return -1;
    }
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int valid_sha(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int valid_name(const char *s)
{
    return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static int mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return -1;
    for (char *q = p + 1; ; q++) {
        if (*q == '/' || !*q) {
            char c = *q;
            *q = 0;
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                free(p);
                return -1;
            }
            if (!c)
                break;
            *q = c;
        }
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static void fmt_bytes(char *b, size_t n, double v)
{
    if (v >= 1024.0 * 1024 * 1024)
        snprintf(b, n, "%.2f GiB", v / (1024.0 * 1024 * 1024));
    else if (v >= 1024.0 * 1024)
        snprintf(b, n, "%.1f MiB", v / (1024.0 * 1024));
    else if (v >= 1024.0)
        snprintf(b, n, "%.1f KiB", v / 1024.0);
    else
        snprintf(b, n, "%.0f B", v);
}

/* --- libcurl callbacks --------------------------------------------------- */

static size_t on_header(char *buf, size_t size, size_t nitems, void *user)
{
    FetchXfer *x = user;
    size_t n = size * nitems;
    x->last_rx = mono_now();
    x->got_header = 1;
    /* Each response (redirects included) starts with a status line. */
    if (n >= 5 && !strncmp(buf, "HTTP/", 5))
        x->cr_start = -1;
    else if (n > 14 && !strncasecmp(buf, "Content-Range:", 14)) {
        const char *p = buf + 14;
        const char *end = buf + n;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p > 6 && !strncasecmp(p, "bytes ", 6)) {
            curl_off_t v = 0;
            p += 6;
            while (p < end && *p == ' ')
                p++;
            if (p < end && isdigit((unsigned char)*p)) {
                while (p < end && isdigit((unsigned char)*p))
                    v = v * 10 + (*p++ - '0');
                x->cr_start = v;
            }
        }
    }
    return n;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Restart the .part from byte 0 (the server sent the whole file). */
static int part_reset(FetchXfer *x)
{
    if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0)
        return -1;
    x->resume = 0;
    return 0;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *user)
{
    FetchXfer *x = user;
    size_t n = size * nmemb;
    if (!x->body_started) {
        long code = 0;
        x->body_started = 1;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
        if (x->resume > 0) {
            /* 206 must continue exactly where the .part ends; a 200 means the
             * server ignored Range (RFC 9110 14.2) and sends the whole file.
             * Other protocols (ftp, file) honour the range inside libcurl. */
            if (code == 206 && x->cr_start != x->resume) {
                x->bad_range = 1;
                return 0;
            }
            if (code == 200 && part_reset(x) < 0) {
                x->local_errno = errno;
                return 0;
            }
        }
    }
    if (write_all(x->fd, buf, n) < 0) {
        x->local_errno = errno;
        return 0;
    }
    x->got += (curl_off_t)n;
    x->last_rx = mono_now();
    return n;
}

/* --- transfers ----------------------------------------------------------- */

static int xfer_start(FetchRun *r, CURLM *m, FetchXfer *x)
{
    const FetchOptions *o = r->o;
    const char *url = x->it->urls[x->url];
    struct stat st;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (x->fresh ? O_TRUNC : 0);
    x->fresh = 0;
    x->fd = open(x->part_path, flags, 0644);
    if (x->fd < 0 || fstat(x->fd, &st) < 0 || lseek(x->fd, st.st_size, SEEK_SET) < 0) {
        snprintf(x->reason, sizeof x->reason, "cannot open %s: %s", x->part_path, strerror(errno));
        if (x->fd >= 0)
            close(x->fd);
        x->fd = -1;
        return -1;
    }
    x->resume = st.st_size;
    x->got = 0;
    x->body_started = 0;
    x->cr_start = -1;
    x->local_errno = 0;
    x->bad_range = 0;
    x->stalled = 0;
    x->got_header = 0;
    x->errbuf[0] = 0;
    x->h = curl_easy_init();
    if (!x->h) {
        snprintf(x->reason, sizeof x->reason, "cannot create a transfer");
        close(x->fd);
        x->fd = -1;
        return -1;
    }
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s > 0 ? o->connect_timeout_s
                                                                          : (long)FETCH_DEFAULT_CONNECT_S);
    /* A stall = under 1 byte/s for the whole window. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->stall_timeout_s > 0 ? o->stall_timeout_s
                                                                       : (long)FETCH_DEFAULT_STALL_S);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "lbvm-fetch/0.1");
    /* Compressed transfer encodings would change the bytes we hash: ask for none. */
    curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,ftp,ftps,file");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https,ftp,ftps");
#endif
    /* CURLOPT_RANGE rather than RESUME_FROM: libcurl then hands back a 200
     * instead of failing, and we restart the .part ourselves. */
    char range[32];
    if (x->resume > 0) {
        snprintf(range, sizeof range, "%lld-", (long long)x->resume);
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    }
    if (curl_multi_add_handle(m, h) != CURLM_OK) {
        snprintf(x->reason, sizeof x->reason, "cannot start a transfer");
        curl_easy_cleanup(h);
        x->h = NULL;
        close(x->fd);
        x->fd = -1;
        return -1;
    }
    x->state = XF_ACTIVE;
    x->t0 = x->last_rx = mono_now();
    if (!r->tty) {
        if (x->resume > 0)
            logline(r, "fetching %s from %s (resuming at byte %lld)", x->it->name, url, (long long)x->resume);
        else
            logline(r, "fetching %s from %s", x->it->name, url);
    }
    return 0;
}

/* The current URL failed (reason set): try the next one, or give up. */
static void xfer_next_url(FetchRun *r, FetchXfer *x)
{
    const char *url = x->it->urls[x->url];
    x->url++;
    x->retried_fresh = 0;
    if (x->url < x->it->n_urls) {
        logline(r, "%s: %s from %s; trying %s", x->it->name, x->reason, url, x->it->urls[x->url]);
        x->state = XF_PENDING;
    } else {
        /* Keep "from URL" in the final reason: the error line stands alone. */
        size_t l = strlen(x->reason);
        snprintf(x->reason + l, sizeof x->reason - l, " from %s", url);
        logline(r, "error: %s: %s", x->it->name, x->reason);
        x->state = XF_FAILED;
    }
}

/* Hash the .part; on a match fsync, rename and report success. */
static int part_verify_and_commit(FetchRun *r, FetchXfer *x, int *mismatch)
{
    char got[65];
    *mismatch = 0;
    if (fetch_sha256_file(x->part_path, got) < 0) {
        snprintf(x->reason, sizeof x->reason, "cannot read %s: %s", x->part_path, strerror(errno));
        return -1;
    }
    if (strcasecmp(got, x->it->sha256)) {
        snprintf(x->reason, sizeof x->reason, "checksum mismatch (expected %s, got %s)", x->it->sha256, got);
        unlink(x->part_path);   /* a wrong file is never kept */
        *mismatch = 1;
        return -1;
    }
    if (host_replace(x->part_path, x->final_path) < 0) {
        snprintf(x->reason, sizeof x->reason, "cannot rename %s: %s", x->part_path, strerror(errno));
        return -1;
    }
    host_fsync_dir(r->o->distdir);
    return 0;
}

static void xfer_done(FetchRun *r, CURLM *m, FetchXfer *x, CURLcode rc)
{
    long code = 0;
    const char *url = x->it->urls[x->url];
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(m, x->h);
    r->session_bytes += x->got;
    int fatal_local = 0, mismatch = 0;

    if (rc == CURLE_OK && x->resume > 0 && !x->body_started && code == 200)
        part_reset(x);   /* empty 200 body: the whole file is empty */
    if (rc == CURLE_OK) {
        if (host_fsync(x->fd) < 0) {
            snprintf(x->reason, sizeof x->reason, "cannot write %s: %s", x->part_path, strerror(errno));
            fatal_local = 1;
        }
    } else if (x->local_errno) {
        snprintf(x->reason, sizeof x->reason, "cannot write %s: %s", x->part_path, strerror(x->local_errno));
        fatal_local = 1;
    }
    close(x->fd);
    x->fd = -1;
    curl_easy_cleanup(x->h);
    x->h = NULL;

    if (fatal_local) {
        logline(r, "error: %s: %s", x->it->name, x->reason);
        x->state = XF_FAILED;
        return;
    }
    if (rc == CURLE_OK || (rc == CURLE_HTTP_RETURNED_ERROR && code == 416 && x->resume > 0)) {
        /* 416 on a resume: the .part may already be whole; its hash decides. */
        if (part_verify_and_commit(r, x, &mismatch) == 0) {
            struct stat st;
            double dt = mono_now() - x->t0;
            curl_off_t sz = stat(x->final_path, &st) == 0 ? st.st_size : x->resume + x->got;
            r->done_bytes += sz;
            r->n_done++;
            x->state = XF_DONE;
            if (!r->tty)
                logline(r, "fetched %s (%lld bytes, %.1f s)", x->it->name, (long long)sz, dt);
            return;
        }
        if (!mismatch) {
            if (rc != CURLE_OK) {          /* 416 and a wrong .part: start over */
                unlink(x->part_path);
                snprintf(x->reason, sizeof x->reason, "HTTP 416 for a partial file");
            } else {
                logline(r, "error: %s: %s", x->it->name, x->reason);
                x->state = XF_FAILED;
                return;
            }
        }
        /* The kept prefix may have been the bad part: retry this URL once from 0. */
        if (x->resume > 0 && !x->retried_fresh) {
            logline(r, "%s: %s from %s; retrying from the start", x->it->name, x->reason, url);
            x->retried_fresh = 1;
            x->fresh = 1;
            x->state = XF_PENDING;
            return;
        }
        xfer_next_url(r, x);
        return;
    }
    if (x->bad_range) {
        unlink(x->part_path);
        snprintf(x->reason, sizeof x->reason, "Content-Range does not start at byte %lld",
                 (long long)x->resume);
    } else if (rc == CURLE_HTTP_RETURNED_ERROR) {
        snprintf(x->reason, sizeof x->reason, "HTTP %ld", code);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        if (x->stalled || x->got > 0 || x->body_started || code)
            snprintf(x->reason, sizeof x->reason, "timeout: stalled (under 1 byte/s for %ld s) after %lld bytes",
                     r->o->stall_timeout_s > 0 ? r->o->stall_timeout_s : (long)FETCH_DEFAULT_STALL_S,
                     (long long)(x->resume + x->got));
        else
            snprintf(x->reason, sizeof x->reason, "timeout: %s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    } else {
        snprintf(x->reason, sizeof x->reason, "%s%s%s", curl_easy_strerror(rc), x->errbuf[0] ? ": " : "",
                 x->errbuf);
    }
    xfer_next_url(r, x);
}

static void draw_bar(FetchRun *r, FetchXfer *xs, int n, int force)
{
    double now = mono_now();
    if (!r->tty || (!force && now - r->last_bar < 0.2))
        return;
    r->last_bar = now;
    curl_off_t have = r->done_bytes, want = r->done_bytes, sess = r->session_bytes, left = 0;
    int active = 0;
    for (int i = 0; i < n; i++) {
        FetchXfer *x = &xs[i];
        if (x->state != XF_ACTIVE)
            continue;
        curl_off_t cl = -1;
        active++;
        curl_easy_getinfo(x->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        have += x->resume + x->got;
        sess += x->got;
        if (cl >= 0) {
            curl_off_t total = (x->cr_start >= 0 ? x->cr_start : 0) + cl;
            want += total;
            if (total > x->resume + x->got)
                left += total - x->resume - x->got;
        } else
            want += x->resume + x->got;
    }
    double el = now - r->t0, rate = el > 0 ? (double)sess / el : 0;
    char hb[32], wb[32], rb[32], eta[32] = "--:--";
    fmt_bytes(hb, sizeof hb, (double)have);
    fmt_bytes(wb, sizeof wb, (double)want);
    fmt_bytes(rb, sizeof rb, rate);
    if (rate > 0) {
        long s = (long)((double)left / rate);
        snprintf(eta, sizeof eta, "%ld:%02ld", s / 60, s % 60);
    }
    fprintf(r->log, "\r\033[K[%d/%d files] %s / %s  %s/s  %s left  (%d active)", r->n_done, r->n_total, hb, wb,
            rb, eta, active);
    fflush(r->log);
    r->bar_shown = 1;
}

/* Every item has a safe name, a SHA-256, a URL, and a name of its own. */
static int fetch_check_items(const FetchItem *items, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        const FetchItem *it = &items[i];
        if (!valid_name(it->name)) {
            lbvm_set_err(err, errlen, "item %d: bad file name '%s'", i, it->name ? it->name : "(null)");
            return -1;
        }
        if (!valid_sha(it->sha256)) {
            lbvm_set_err(err, errlen, "%s: SHA-256 must be 64 hex digits", it->name);
            return -1;
        }
        if (it->n_urls < 1 || !it->urls || !it->urls[0]) {
            lbvm_set_err(err, errlen, "%s: no URL", it->name);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(items[j].name, it->name)) {
                lbvm_set_err(err, errlen, "%s: listed twice", it->name);
                return -1;
            }
    }
    return 0;
}

/* Which files are already in the distdir with the right SHA-256 (done),
 * which must be fetched (pending, counted in *n_missing), which cannot be
 * read (failed). -1 only when out of memory. */
static int fetch_scan_present(FetchRun *r, FetchXfer *xs, const FetchItem *items, int n, int *n_missing,
                              char *err, size_t errlen)
{
    const FetchOptions *o = r->o;
    for (int i = 0; i < n; i++) {
        FetchXfer *x = &xs[i];
        char got[65];
        x->it = &items[i];
        x->fd = -1;
        x->final_path = path_join(o->distdir, x->it->name, "");
        x->part_path = path_join(o->distdir, x->it->name, ".part");
        if (!x->final_path || !x->part_path) {
            lbvm_set_err(err, errlen, "out of memory");
            return -1;
        }
        if (fetch_sha256_file(x->final_path, got) == 0) {
            if (!strcasecmp(got, x->it->sha256)) {
                x->state = XF_DONE;
                r->n_done++;
                continue;
            }
            logline(r, "%s: present but checksum mismatch (expected %s, got %s); %s", x->it->name,
                    x->it->sha256, got, o->offline ? "not replaced (offline)" : "fetching again");
        } else if (errno != ENOENT) {
            snprintf(x->reason, sizeof x->reason, "cannot read %s: %s", x->final_path, strerror(errno));
            logline(r, "error: %s: %s", x->it->name, x->reason);
            x->state = XF_FAILED;
            continue;
        }
        x->state = XF_PENDING;
        (*n_missing)++;
        if (o->offline)
            logline(r, "missing %s %s", x->it->name, x->it->urls[0]);
    }
    return 0;
}

/* --offline: the verdict on what is there. */
static int fetch_offline_verdict(const FetchXfer *xs, int n, int n_missing, char *err, size_t errlen)
{
    int n_failed = 0;
    for (int i = 0; i < n; i++)
        if (xs[i].state == XF_FAILED)
            n_failed++;
    if (n_missing || n_failed) {
        lbvm_set_err(err, errlen, "offline: %d of %d files missing%s", n_missing + n_failed, n,
                n_failed ? " or unreadable" : "");
        return -1;
    }
    return 0;
}

/* Fills free slots in item order (a retry re-enters at its own index);
 * the number of transfers active and still pending. */
static void fetch_fill_slots(FetchRun *r, CURLM *m, FetchXfer *xs, int n, int *active, int *pending)
{
    *active = *pending = 0;
    for (int i = 0; i < n; i++)
        *active += xs[i].state == XF_ACTIVE;
    for (int i = 0; i < n && *active < r->o->parallel; i++) {
        if (xs[i].state != XF_PENDING)
            continue;
        if (xfer_start(r, m, &xs[i]) == 0)
            (*active)++;
        else
            xfer_next_url(r, &xs[i]);
    }
    for (int i = 0; i < n; i++)
        *pending += xs[i].state == XF_PENDING;
}

/* libcurl's LOW_SPEED check averages over a ~5 s window, so a transfer
 * that got a few bytes then went silent would live stall+5 s: a silent
 * transfer is cut here at stall_s, LOW_SPEED still catches a trickle under
 * 1 byte/s. The clock starts once connected. */
static void fetch_cut_stalled(FetchRun *r, CURLM *m, FetchXfer *xs, int n)
{
    double t = mono_now();
    long stall_s = r->o->stall_timeout_s > 0 ? r->o->stall_timeout_s : (long)FETCH_DEFAULT_STALL_S;
    for (int i = 0; i < n; i++) {
        FetchXfer *x = &xs[i];
        curl_off_t ct = 0;
        if (x->state != XF_ACTIVE)
            continue;
        curl_easy_getinfo(x->h, CURLINFO_CONNECT_TIME_T, &ct);
        if (ct == 0 && !x->got_header)
            x->last_rx = t;
        else if (t - x->last_rx >= (double)stall_s) {
            x->stalled = 1;
            xfer_done(r, m, x, CURLE_OPERATION_TIMEDOUT);
        }
    }
}

/* Fetches every pending file, o->parallel at a time, until none is active
 * or pending. -1 only when libcurl cannot start. */
static int fetch_transfer(FetchRun *r, FetchXfer *xs, int n, char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        lbvm_set_err(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    CURLM *m = curl_multi_init();
    if (!m) {
        curl_global_cleanup();
        lbvm_set_err(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    r->t0 = mono_now();
    for (;;) {
        int active, pending;
        fetch_fill_slots(r, m, xs, n, &active, &pending);
        if (!active && !pending)
            break;
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            FetchXfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            xfer_done(r, m, x, msg->data.result);
        }
        fetch_cut_stalled(r, m, xs, n);
        draw_bar(r, xs, n, 0);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    curl_multi_cleanup(m);
    curl_global_cleanup();
    if (r->bar_shown) {
        fputs("\r\033[K", r->log);
        r->bar_shown = 0;
    }
    return 0;
}

/* After the transfers: one line for the failures (the first one named),
 * or a summary of what was fetched. */
static int fetch_verdict(FetchRun *r, const FetchXfer *xs, int n, int n_missing, char *err, size_t errlen)
{
    int n_failed = 0;
    const FetchXfer *f = NULL;
    for (int i = 0; i < n; i++)
        if (xs[i].state == XF_FAILED) {
            n_failed++;
            if (!f)
                f = &xs[i];
        }
    if (n_failed) {
        if (n_failed == 1)
            lbvm_set_err(err, errlen, "%s: %s", f->it->name, f->reason);
        else
            lbvm_set_err(err, errlen, "%d of %d files failed (first %s: %s)", n_failed, n, f->it->name, f->reason);
        return -1;
    }
    if (n_missing)
        logline(r, "fetch: %d fetched, %d already present", n_missing, n - n_missing);
    return 0;
}

int fetch_all(const FetchItem *items, int n, const FetchOptions *opts, char *err, size_t errlen)
{
    FetchOptions o = *opts;
    char defdir[4096];
    if (err && errlen)
        err[0] = 0;
    if (!o.distdir) {
        if (fetch_default_distdir(defdir, sizeof defdir) < 0) {
            lbvm_set_err(err, errlen, "no distdir given and neither XDG_CACHE_HOME nor HOME is set");
            return -1;
        }
        o.distdir = defdir;
    }
    if (o.parallel <= 0)
        o.parallel = FETCH_DEFAULT_PARALLEL;
    FetchRun r = { .o = &o, .log = o.log ? o.log : stderr, .n_total = n };
    r.tty = o.progress && host_isatty(fileno(r.log));
    if (fetch_check_items(items, n, err, errlen) < 0)
        return -1;
    if (!o.offline && mkdir_p(o.distdir) < 0) {
        lbvm_set_err(err, errlen, "cannot create distdir %s: %s", o.distdir, strerror(errno));
        return -1;
    }
    FetchXfer *xs = calloc(n ? (size_t)n : 1, sizeof *xs);
    if (!xs) {
        lbvm_set_err(err, errlen, "out of memory");
        return -1;
    }
    int n_missing = 0;
    int rc = fetch_scan_present(&r, xs, items, n, &n_missing, err, errlen);
    if (rc == 0 && o.offline)
        rc = fetch_offline_verdict(xs, n, n_missing, err, errlen);
    else if (rc == 0 && (rc = fetch_transfer(&r, xs, n, err, errlen)) == 0)
        rc = fetch_verdict(&r, xs, n, n_missing, err, errlen);
    for (int i = 0; i < n; i++) {
        free(xs[i].final_path);
        free(xs[i].part_path);
    }
    free(xs);
    return rc;
}

/* --- sources lists ------------------------------------------------------- */

void fetch_item_free(FetchItem *it)
{
    free((char *)it->name);
    free((char *)it->sha256);
    free((char *)it->origin);
    for (int j = 0; j < it->n_urls; j++)
        free((char *)it->urls[j]);
    free((void *)it->urls);
    memset(it, 0, sizeof *it);
}

void fetch_list_free(FetchList *l)
{
    for (int i = 0; i < l->n; i++)
        fetch_item_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int list_add(FetchList *l, const char *url, const char *sha, const char *name, const char *origin)
{
    FetchItem *it = NULL;
    for (int i = 0; i < l->n && !it; i++)
        if (!strcmp(l->items[i].name, name))
            it = &l->items[i];
    if (it && strcasecmp(it->sha256, sha))
        return -2;
    if (!it) {
        FetchItem *ni = realloc(l->items, (size_t)(l->n + 1) * sizeof *ni);
        if (!ni)
            return -1;
        l->items = ni;
        it = &ni[l->n];
        memset(it, 0, sizeof *it);
        it->name = strdup(name);
        it->sha256 = strdup(sha);
        it->origin = origin ? strdup(origin) : NULL;
        l->n++;
        if (!it->name || !it->sha256 || (origin && !it->origin))
            return -1;
    }
    for (int j = 0; j < it->n_urls; j++)
        if (!strcmp(it->urls[j], url))
            return 0;
    const char **u = realloc((void *)it->urls, (size_t)(it->n_urls + 1) * sizeof *u);
    if (!u)
        return -1;
    it->urls = u;
    if (!(u[it->n_urls] = strdup(url)))
        return -1;
    it->n_urls++;
    return 0;
}

int fetch_list_add_file(FetchList *l, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[8192], namebuf[8192], origin[256] = "";
    int lineno = 0;
    /* the folder holding the sources file: PATH/<origin>/sources */
    const char *end = strrchr(path, '/');
    if (end) {
        const char *start = end;
        while (start > path && start[-1] != '/')
            start--;
        snprintf(origin, sizeof origin, "%.*s", (int)(end - start), start);
    }
    if (!f) {
        lbvm_set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *tok[4], *save = NULL;
        int nt = 0;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            lbvm_set_err(err, errlen, "%s:%d: line too long", path, lineno);
            fclose(f);
            return -1;
        }
        /* Fields after NAME are not the host's: live-bootstrap's 2023 tree lists
         * there the paths the guest extracts (sysa/linux-headers-5.10.41/sources:
         * "URL SHA NAME linux-5.10.41/scripts ..."), and its own downloader
         * ignores them; so does lbvm. */
        for (char *t = strtok_r(line, " \t\r\n", &save); t && nt < 4; t = strtok_r(NULL, " \t\r\n", &save))
            tok[nt++] = t;
        if (!nt || tok[0][0] == '#')
            continue;
        int k = !strcmp(tok[0], "f") ? 1 : 0;   /* newer "f URL SHA [NAME]" form */
        if (nt - k < 2) {
            lbvm_set_err(err, errlen, "%s:%d: expected 'URL SHA256 [NAME]'", path, lineno);
            fclose(f);
            return -1;
        }
        const char *url = tok[k], *sha = tok[k + 1], *name = nt - k >= 3 ? tok[k + 2] : NULL;
        if (!name) {
            const char *q = strchr(url, '?');
            size_t end = q ? (size_t)(q - url) : strlen(url);
            char *slash = NULL;
            for (size_t i = 0; i < end; i++)
                if (url[i] == '/')
                    slash = (char *)url + i;
            /* The default name is the URL's last path segment. */
            if (slash && (size_t)(slash - url) + 1 < end) {
                snprintf(namebuf, sizeof namebuf, "%.*s", (int)(end - (size_t)(slash - url) - 1), slash + 1);
                name = namebuf;
            }
        }
        if (!valid_name(name)) {
            lbvm_set_err(err, errlen, "%s:%d: no file name in '%s'", path, lineno, url);
            fclose(f);
            return -1;
        }
        if (!valid_sha(sha)) {
            lbvm_set_err(err, errlen, "%s:%d: SHA-256 must be 64 hex digits", path, lineno);
            fclose(f);
            return -1;
        }
        int rc = list_add(l, url, sha, name, origin[0] ? origin : NULL);
        if (rc < 0) {
            lbvm_set_err(err, errlen, rc == -2 ? "%s:%d: %s listed before with another SHA-256" : "out of memory",
                    path, lineno, name);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}
