/* SPDX-License-Identifier: GPL-2.0-or-later */
/* steps/fetch.c against a real HTTP server on 127.0.0.1 (tests/fetch/server.py,
 * started with fork/exec and killed at the end): download, 404, redirects,
 * resume after a cut, a server ignoring Range, checksum mismatch, stall
 * timeout, mirrors, skip when present, offline listing, bounded parallelism. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check.h"
#include "steps/fetch.h"

static char tmpdir[] = "/tmp/lbvm-test-fetch-XXXXXX";
static char docroot[256], distdir[256], srvlog[256], portfile[256];
static pid_t srv_pid = -1;
static int port;
static char *outbuf;        /* what fetch_all logged in the last run() */
static char err[1024];
static char hb_glob[65];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sha_hex(const unsigned char *p, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void write_file(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* A served file of n pseudo-random bytes; its SHA-256 into hex. */
static void make_doc(const char *name, size_t n, unsigned seed, char hex[65])
{
    unsigned char *b = malloc(n);
    char path[512];
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (unsigned char)(seed >> 16);
    }
    snprintf(path, sizeof path, "%s/%s", docroot, name);
    write_file(path, b, n);
    sha_hex(b, n, hex);
    free(b);
}

static char *dpath(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) & 3;
    snprintf(p[k], sizeof p[k], "%s/%s", distdir, name);
    return p[k];
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int file_has_sha(const char *path, const char *hex)
{
    char got[65];
    return fetch_sha256_file(path, got) == 0 && !strcmp(got, hex);
}

/* Server log since line `from` (0-based), as one string; *lines = total lines. */
static char *srv_log(int from, int *lines)
{
    FILE *f = fopen(srvlog, "r");
    char line[1024];
    size_t cap = 1, len = 0;
    char *s = calloc(1, 1);
    int k = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (k++ < from)
            continue;
        size_t l = strlen(line);
        s = realloc(s, cap += l);
        memcpy(s + len, line, l + 1);
        len += l;
    }
    if (f)
        fclose(f);
    if (lines)
        *lines = k;
    return s;
}

static int srv_lines(void)
{
    int n;
    free(srv_log(0, &n));
    return n;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static char *url(const char *path)
{
    static char u[16][512];
    static int k;
    k = (k + 1) & 15;
    snprintf(u[k], sizeof u[k], "http://127.0.0.1:%d%s", port, path);
    return u[k];
}

static int run(const FetchItem *items, int n, int parallel, long stall, int offline)
{
    size_t len = 0;
    free(outbuf);
    outbuf = NULL;
    FILE *log = open_memstream(&outbuf, &len);
    FetchOptions o = { .distdir = distdir, .parallel = parallel, .connect_timeout_s = 5,
                       .stall_timeout_s = stall, .offline = offline, .progress = 0, .log = log };
    err[0] = 0;
    int rc = fetch_all(items, n, &o, err, sizeof err);
    fclose(log);
    return rc;
}

static const char *script_path(void)
{
    static char p[1024];
    const char *src = getenv("LBVM_SRC");
    if (src && *src) {
        snprintf(p, sizeof p, "%s/tests/fetch/server.py", src);
        if (exists(p))
            return p;
    }
    char here[1024];
    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(p, sizeof p, "%s/../fetch/server.py", dirname(here));
    return exists(p) ? p : NULL;
}

static int server_start(void)
{
    const char *script = script_path();
    if (!script) {
        fprintf(stderr, "tests/fetch/server.py not found (set LBVM_SRC)\n");
        return -1;
    }
    srv_pid = fork();
    if (srv_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the test */
        execlp("python3", "python3", script, docroot, srvlog, portfile, (char *)NULL);
        _exit(127);
    }
    if (srv_pid < 0)
        return -1;
    for (int i = 0; i < 200; i++) {   /* up to 10 s */
        FILE *f = fopen(portfile, "r");
        if (f) {
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0)
                return 0;
        }
        if (waitpid(srv_pid, NULL, WNOHANG) == srv_pid) {
            srv_pid = -1;
            return -1;
        }
        usleep(50000);
    }
    return -1;
}

static void server_stop(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGKILL);
        waitpid(srv_pid, NULL, 0);
        srv_pid = -1;
    }
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

static void test_default_distdir(void)
{
    char b[256];
    char *oldx = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    char *oldh = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("XDG_CACHE_HOME", "/xdg/cache", 1);
    CHECK(fetch_default_distdir(b, sizeof b) == 0 && !strcmp(b, "/xdg/cache/lbvm/distfiles"));
    CHECK(fetch_default_distdir(b, 10) < 0);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK(fetch_default_distdir(b, sizeof b) == 0 && !strcmp(b, "/home/u/.cache/lbvm/distfiles"));
    if (oldx)
        setenv("XDG_CACHE_HOME", oldx, 1);
    if (oldh)
        setenv("HOME", oldh, 1);
    free(oldx);
    free(oldh);
}

static void test_sources(void)
{
    char path[300], e[256];
    const char *h1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    snprintf(path, sizeof path, "%s/sources", tmpdir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# comment\n\nhttp://h/x/make-3.80.tar.bz2 %s\n"
               "f http://m/y/make-3.80.tar.bz2?raw=1 %s\n"
               "http://h/dl?id=7 %s other.tgz\n", h1, h1, hb_glob);
    fclose(f);
    FetchList l = { 0 };
    CHECK(fetch_list_add_file(&l, path, e, sizeof e) == 0);
    CHECK_EQ(l.n, 2);
    if (l.n == 2) {
        CHECK(!strcmp(l.items[0].name, "make-3.80.tar.bz2") && l.items[0].n_urls == 2);
        CHECK(!strcmp(l.items[0].urls[1], "http://m/y/make-3.80.tar.bz2?raw=1"));
        CHECK(!strcmp(l.items[1].name, "other.tgz") && !strcmp(l.items[1].urls[0], "http://h/dl?id=7"));
    }
    fetch_list_free(&l);
    f = fopen(path, "w");
    fprintf(f, "http://h/a.tar %s\nhttp://m/a.tar %s\n", h1, hb_glob);   /* same name, other hash */
    fclose(f);
    CHECK(fetch_list_add_file(&l, path, e, sizeof e) != 0 && strstr(e, ":2:"));
    fetch_list_free(&l);
    /* the git forms: the git field ignored, "_" (a mirror only) kept as a URL that fetch_all fails */
    f = fopen(path, "w");
    fprintf(f, "g https://g/x.git~abc https://h/x-abc.tar.gz %s\n"
               "git https://g/y.git~def _ %s y-def.tar.gz\n", h1, hb_glob);
    fclose(f);
    CHECK(fetch_list_add_file(&l, path, e, sizeof e) == 0);
    CHECK_EQ(l.n, 2);
    if (l.n == 2) {
        CHECK_STR(l.items[0].name, "x-abc.tar.gz");
        CHECK_STR(l.items[0].urls[0], "https://h/x-abc.tar.gz");
        CHECK_STR(l.items[1].name, "y-def.tar.gz");
        CHECK_STR(l.items[1].urls[0], "_");
        CHECK_STR(l.items[1].sha256, hb_glob);
    }
    fetch_list_free(&l);
    f = fopen(path, "w");
    fprintf(f, "g https://g/y.git~def _ %s\n", h1);   /* "_" and no name: nothing to call the file */
    fclose(f);
    CHECK(fetch_list_add_file(&l, path, e, sizeof e) != 0 && strstr(e, ":1:"));
    fetch_list_free(&l);
    f = fopen(path, "w");
    fprintf(f, "g https://g/y.git~def %s\n", h1);   /* too short */
    fclose(f);
    CHECK(fetch_list_add_file(&l, path, e, sizeof e) != 0 && strstr(e, "GIT~REF"));
    fetch_list_free(&l);
    f = fopen(path, "w");
    fprintf(f, "http://h/ %s\n", h1);   /* no name */
    fclose(f);
    CHECK(fetch_list_add_file(&l, path, e, sizeof e) != 0 && strstr(e, ":1:"));
    fetch_list_free(&l);
    unlink(path);
}

int main(void)
{
    alarm(90);   /* hard bound; the server dies with us (PDEATHSIG) */
    test_default_distdir();
    if (!mkdtemp(tmpdir)) {
        CHECK(!"mkdtemp");
        return check_done();
    }
    snprintf(docroot, sizeof docroot, "%s/doc", tmpdir);
    snprintf(distdir, sizeof distdir, "%s/dist/sub", tmpdir);   /* created by fetch_all */
    snprintf(srvlog, sizeof srvlog, "%s/server.log", tmpdir);
    snprintf(portfile, sizeof portfile, "%s/port", tmpdir);
    mkdir(docroot, 0755);

    char ha[65], hb[65], hc[65], hd[65], he[65], hf[65], hh[65], hi[65], hj[65], hr[65], hp[6][65];
    make_doc("a.bin", 300000, 1, ha);
    make_doc("b.bin", 5000, 2, hb);
    make_doc("c.bin", 200000, 3, hc);
    make_doc("d.bin", 7000, 4, hd);
    make_doc("e.bin", 100000, 5, he);
    make_doc("f.bin", 9000, 6, hf);
    make_doc("h.bin", 20000, 8, hh);
    make_doc("i.bin", 30000, 9, hi);
    make_doc("j.bin", 4000, 10, hj);
    make_doc("r.bin", 3000, 11, hr);
    for (int i = 0; i < 6; i++) {
        char nm[24];
        snprintf(nm, sizeof nm, "p%d.bin", i);
        make_doc(nm, 50000 + 1000 * i, 20 + i, hp[i]);
    }
    memcpy(hb_glob, hb, sizeof hb);
    test_sources();
    double t_start = now();
    CHECK(server_start() == 0);
    if (srv_pid < 0)
        goto done;
    int mark;

    /* Plain download; distdir created with parents; no .part left. */
    {
        const char *u[] = { url("/files/a.bin") };
        FetchItem it = { "a.bin", ha, u, 1, NULL };
        CHECK(run(&it, 1, 4, 5, 0) == 0);
        CHECK(file_has_sha(dpath("a.bin"), ha));
        CHECK(!exists(dpath("a.bin.part")));
        CHECK(strstr(outbuf, "fetched a.bin") != NULL);
    }
    /* Present and verified: skipped without any request. */
    {
        mark = srv_lines();
        const char *u[] = { url("/files/a.bin") };
        FetchItem it = { "a.bin", ha, u, 1, NULL };
        CHECK(run(&it, 1, 4, 5, 0) == 0);
        CHECK_EQ(srv_lines(), mark);
    }
    /* 404: one error naming the file and the status. */
    {
        const char *u[] = { url("/files/nothere.bin") };
        FetchItem it = { "gone.bin", ha, u, 1, NULL };
        CHECK(run(&it, 1, 4, 5, 0) != 0);
        CHECK(strstr(err, "gone.bin") && strstr(err, "404"));
        CHECK(strstr(outbuf, "error: gone.bin: HTTP 404") != NULL);
        CHECK(!exists(dpath("gone.bin")));
    }
    /* Redirects: 5 hops followed, 6 refused. */
    {
        mark = srv_lines();
        const char *u[] = { url("/redir/4/b.bin") };
        FetchItem it = { "b.bin", hb, u, 1, NULL };
        CHECK(run(&it, 1, 4, 5, 0) == 0);
        CHECK(file_has_sha(dpath("b.bin"), hb));
        char *l = srv_log(mark, NULL);
        CHECK(strstr(l, "GET /redir/0/b.bin") && strstr(l, "GET /files/b.bin"));
        free(l);
        const char *u2[] = { url("/redir/5/r.bin") };
        FetchItem it2 = { "r.bin", hr, u2, 1, NULL };
        CHECK(run(&it2, 1, 4, 5, 0) != 0);
        CHECK(strstr(err, "r.bin") && strstr(err, "redirect"));
        CHECK(!exists(dpath("r.bin")));
    }
    /* Connection cut mid-file, then a resume with Range. */
    {
        const char *u[] = { url("/cut/c.bin") };
        FetchItem it = { "c.bin", hc, u, 1, NULL };
        CHECK(run(&it, 1, 4, 5, 0) != 0);
        CHECK(strstr(err, "c.bin") != NULL);
        CHECK(!exists(dpath("c.bin")));
        CHECK_EQ(file_size(dpath("c.bin.part")), 100000);
        mark = srv_lines();
        CHECK(run(&it, 1, 4, 5, 0) == 0);
        char *l = srv_log(mark, NULL);
        CHECK(strstr(l, "GET /cut/c.bin range=bytes=100000-") != NULL);
        CHECK_EQ(count_str(l, "GET "), 1);
        free(l);
        CHECK(file_has_sha(dpath("c.bin"), hc));
        CHECK(!exists(dpath("c.bin.part")));
    }
    /* Server ignores Range (200): the stale .part is restarted from 0. */
    {
        unsigned char junk[5000];
        memset(junk, 0xAA, sizeof junk);
        write_file(dpath("h.bin.part"), junk, sizeof junk);
        mark = srv_lines();
        const char *u[] = { url("/norange/h.bin") };
        FetchItem it = { "h.bin", hh, u, 1, NULL };
        CHECK(run(&it, 1, 4, 5, 0) == 0);
        char *l = srv_log(mark, NULL);
        CHECK(strstr(l, "range=bytes=5000-") != NULL);
        free(l);
        CHECK(file_has_sha(dpath("h.bin"), hh));
        CHECK(!exists(dpath("h.bin.part")));
    }
    /* A resumed .part with a wrong prefix: mismatch, then one fresh retry. */
    {
        unsigned char junk[1000];
        memset(junk, 0x55, sizeof junk);
        write_file(dpath("i.bin.part"), junk, sizeof junk);
        mark = srv_lines();
        const char *u[] = { url("/files/i.bin") };
        FetchItem it = { "i.bin", hi, u, 1, NULL };
        CHECK(run(&it, 1, 4, 5, 0) == 0);
        char *l = srv_log(mark, NULL);
        char *a = strstr(l, "range=bytes=1000-"), *b = strstr(l, "range=-");
        CHECK(a && b && a < b);
        free(l);
        CHECK(file_has_sha(dpath("i.bin"), hi));
    }
    /* A .part that is already whole: 416 on the resume, the hash accepts it. */
    {
        char src[512];
        snprintf(src, sizeof src, "%s/j.bin", docroot);
        FILE *f = fopen(src, "rb");
        unsigned char buf[4000];
        CHECK(f && fread(buf, 1, sizeof buf, f) == sizeof buf);
        if (f)
            fclose(f);
        write_file(dpath("j.bin.part"), buf, sizeof buf);
        mark = srv_lines();
        const char *u[] = { url("/files/j.bin") };
        FetchItem it = { "j.bin", hj, u, 1, NULL };
        CHECK(run(&it, 1, 4, 5, 0) == 0);
        char *l = srv_log(mark, NULL);
        CHECK(strstr(l, "range=bytes=4000-") != NULL);
        CHECK_EQ(count_str(l, "GET "), 1);
        free(l);
        CHECK(file_has_sha(dpath("j.bin"), hj));
    }
    /* Checksum mismatch: error with both hashes, neither file nor .part kept. */
    {
        const char *u[] = { url("/files/d.bin") };
        FetchItem it = { "d.bin", hb, u, 1, NULL };   /* b.bin's hash: wrong on purpose */
        CHECK(run(&it, 1, 4, 5, 0) != 0);
        CHECK(strstr(err, "d.bin") && strstr(err, "checksum mismatch"));
        CHECK(strstr(err, hb) && strstr(err, hd));
        CHECK(!exists(dpath("d.bin")));
        CHECK(!exists(dpath("d.bin.part")));
    }
    /* Stalled server: a timeout error within the 2 s stall window (+ slack). */
    {
        const char *u[] = { url("/stall/e.bin") };
        FetchItem it = { "e.bin", he, u, 1, NULL };
        double t0 = now();
        CHECK(run(&it, 1, 4, 2, 0) != 0);
        double dt = now() - t0;
        if (!(dt >= 1.5 && dt < 5.0)) fprintf(stderr, "stall dt %.2f err %s\n", dt, err);
        CHECK(dt >= 1.5 && dt < 5.0);
        CHECK(strstr(err, "e.bin") && strstr(err, "timeout"));
        CHECK(!exists(dpath("e.bin")));
        CHECK_EQ(file_size(dpath("e.bin.part")), 100);   /* kept for a later resume */
    }
    /* Mirror fallback: the first URL 404s, the second serves the file. */
    {
        mark = srv_lines();
        const char *u[] = { url("/files/nope-f.bin"), url("/files/f.bin") };
        FetchItem it = { "f.bin", hf, u, 2, NULL };
        CHECK(run(&it, 1, 4, 5, 0) == 0);
        CHECK(file_has_sha(dpath("f.bin"), hf));
        char *l = srv_log(mark, NULL);
        char *a = strstr(l, "GET /files/nope-f.bin"), *b = strstr(l, "GET /files/f.bin");
        CHECK(a && b && a < b);
        free(l);
        CHECK(strstr(outbuf, "f.bin: HTTP 404") != NULL);
    }
    /* Offline: lists exactly the missing files, makes no request. */
    {
        mark = srv_lines();
        const char *ua[] = { url("/files/a.bin") }, *ug[] = { url("/files/g.bin") }, *uk[] = { url("/files/k.bin") };
        FetchItem its[3] = { { "a.bin", ha, ua, 1, NULL }, { "g.bin", ha, ug, 1, NULL }, { "k.bin", hb, uk, 1, NULL } };
        CHECK(run(its, 3, 4, 5, 1) != 0);
        char want[512];
        snprintf(want, sizeof want, "missing g.bin %s\n", ug[0]);
        CHECK(strstr(outbuf, want) != NULL);
        snprintf(want, sizeof want, "missing k.bin %s\n", uk[0]);
        CHECK(strstr(outbuf, want) != NULL);
        CHECK(strstr(outbuf, "a.bin") == NULL);
        CHECK_EQ(count_str(outbuf, "missing "), 2);
        CHECK(strstr(err, "2 of 3") != NULL);
        CHECK_EQ(srv_lines(), mark);
        CHECK(!exists(dpath("g.bin.part")) && !exists(dpath("g.bin")));
        CHECK(run(its, 1, 4, 5, 1) == 0);   /* a.bin alone is present */
    }
    /* Parallel: 6 slow files, at most 3 at once, and really overlapping. */
    {
        mark = srv_lines();
        const char *u[6][1];
        FetchItem its[6];
        char names[6][24], path[6][40];
        for (int i = 0; i < 6; i++) {
            snprintf(names[i], sizeof names[i], "p%d.bin", i);
            snprintf(path[i], sizeof path[i], "/slow/p%d.bin", i);
            u[i][0] = url(path[i]);
            its[i] = (FetchItem){ names[i], hp[i], u[i], 1, NULL };
        }
        double t0 = now();
        CHECK(run(its, 6, 3, 5, 0) == 0);
        double dt = now() - t0;
        CHECK(dt < 2.5);   /* 6 x 0.5 s one by one would be 3 s */
        for (int i = 0; i < 6; i++)
            CHECK(file_has_sha(dpath(names[i]), hp[i]));
        char *l = srv_log(mark, NULL);
        CHECK_EQ(count_str(l, "GET /slow/"), 6);
        int maxin = 0;
        for (const char *p = l; (p = strstr(p, "inflight=")); p++)
            if (atoi(p + 9) > maxin)
                maxin = atoi(p + 9);
        if (!(maxin >= 2 && maxin <= 3)) fprintf(stderr, "maxin %d log:\n%s", maxin, l);
        CHECK(maxin >= 2 && maxin <= 3);
        free(l);
    }
    /* Bad input is refused before any I/O. */
    {
        const char *u[] = { url("/files/a.bin") };
        FetchItem bad[2] = { { "x/y", ha, u, 1, NULL }, { "a.bin", "123", u, 1, NULL } };
        CHECK(run(&bad[0], 1, 4, 5, 0) != 0 && strstr(err, "bad file name"));
        CHECK(run(&bad[1], 1, 4, 5, 0) != 0 && strstr(err, "64 hex"));
    }
    CHECK(now() - t_start < 30.0);

done:
    server_stop();
    free(outbuf);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
