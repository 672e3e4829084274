/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fan-out of lbvm verify BUNDLE (verify_jobs.h). Host time is measured
 * here for the progress lines on stderr only; what goes to stdout depends on
 * the bundle alone, in segment order, whatever the order of completion. */
#include "audit/verify_jobs.h"
#include "base/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/bundle_priv.h"

#define EXIT_DIVERGED 6

typedef struct Job {
    int seg;                   /* segment id */
    uint64_t ticks;            /* guest ticks it runs */
    long pid;
    int code;                  /* exit code; 128 + signal if killed */
    double start, secs, cpu;   /* host seconds: wall, and user + system CPU */
    char out[4300], err[4300]; /* its stdout and stderr */
} Job;

typedef struct Fanout {
    const Bundle *b;
    char exe[4096], tmp[4200];
    int jobs;
    bool check_start;          /* the first pass: --check-start */
    Job *job;
    int n;
} Fanout;

static double now_s(void)
{
    return host_monotonic();
}

static uint64_t seg_ticks(const Bundle *b, const BundleSegment *s)
{
    uint64_t from = s->from ? b->pts[s->from - 1].ticks : 0;
    return b->pts[s->to - 1].ticks - from;
}

static int spawn(Fanout *f, Job *j)
{
    char id[16];
    snprintf(id, sizeof id, "%d", j->seg);
    snprintf(j->out, sizeof j->out, "%s/segment-%d%s.out", f->tmp, j->seg, f->check_start ? "-start" : "");
    snprintf(j->err, sizeof j->err, "%s/segment-%d%s.err", f->tmp, j->seg, f->check_start ? "-start" : "");
    const char *argv[] = { "lbvm", "verify", f->b->dir, "--segment", id, f->check_start ? "--check-start" : NULL, NULL };
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC), o = open(j->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644),
        e = open(j->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    /* a segment does not outlive the verify that started it */
    HostSpawn sp = { .exe = f->exe, .argv = (char *const *)argv, .fd_in = in, .fd_out = o, .fd_err = e,
                     .die_with_parent = true, .say_exec_error = true };
    j->start = now_s();
    j->pid = in < 0 || o < 0 || e < 0 ? -1 : host_spawn(&sp);
    int saved = errno;
    if (in >= 0)
        close(in);
    if (o >= 0)
        close(o);
    if (e >= 0)
        close(e);
    if (j->pid < 0)
        return lbvm_error(-1, "cannot start segment %d: %s", j->seg, strerror(saved));
    return 0;
}

static void fmt_left(double s, char *out, size_t len)
{
    if (s < 1)
        snprintf(out, len, "under a second");
    else if (s < 90)
        snprintf(out, len, "%.0f s", s);
    else if (s < 5400)
        snprintf(out, len, "%.0f min", s / 60);
    else
        snprintf(out, len, "%.1f h", s / 3600);
}

static void progress(const Fanout *f, const Job *j, int done, uint64_t done_ticks, uint64_t total_ticks, double t0)
{
    static const char *const what[] = { [0] = "identical", [1] = "refused", [EXIT_DIVERGED] = "diverged" };
    const char *w = j->code == 0 || j->code == 1 || j->code == EXIT_DIVERGED ? what[j->code] : "failed";
    if (f->check_start) {
        fprintf(stderr, "lbvm: verify: start of segment %d %s (%.1f s, CPU %.1f s); %d of %d checked\n", j->seg,
                j->code == 0 ? "hashes to its point" : w, j->secs, j->cpu, done, f->n);
        return;
    }
    char left[32] = "";
    double el = now_s() - t0;
    if (done < f->n && done_ticks)
        fmt_left(el * (double)(total_ticks - done_ticks) / (double)done_ticks, left, sizeof left);
    fprintf(stderr, "lbvm: verify: segment %d %s (%.1f s, CPU %.1f s); %d of %d segments done%s%s%s\n", j->seg, w,
            j->secs, j->cpu, done, f->n, left[0] ? ", about " : "", left, left[0] ? " left" : "");
}

/* The boot first (it also unpacks the kernel), then the longest in guest
 * time: the last ones to start are the short ones. */
static int cmp_longest(const void *a, const void *b)
{
    const Job *x = a, *y = b;
    if ((x->seg == 1) != (y->seg == 1))
        return x->seg == 1 ? -1 : 1;
    return x->ticks < y->ticks ? 1 : x->ticks > y->ticks ? -1 : x->seg - y->seg;
}

static int cmp_seg(const void *a, const void *b)
{
    return ((const Job *)a)->seg - ((const Job *)b)->seg;
}

/* Runs every job, at most f->jobs at once, longest first; then puts them
 * back in segment order. */
static int run_all(Fanout *f)
{
    qsort(f->job, (size_t)f->n, sizeof *f->job, cmp_longest);
    uint64_t total = 0, done_ticks = 0;
    for (int i = 0; i < f->n; i++)
        total += f->job[i].ticks;
    int next = 0, running = 0, done = 0, rc = 0;
    double t0 = now_s();
    while (done < f->n) {
        while (rc == 0 && running < f->jobs && next < f->n) {
            if (spawn(f, &f->job[next]) < 0)
                rc = -1;
            else
                running++;
            next++;
        }
        if (running == 0)
            break;
        HostExit ex;
        long pid = host_wait(-1, true, &ex);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            break;
        for (int i = 0; i < f->n; i++) {
            Job *j = &f->job[i];
            if (j->pid != pid)
                continue;
            j->code = ex.exited ? ex.code : 128 + ex.code;
            j->secs = now_s() - j->start;
            j->cpu = ex.cpu_s;
            j->pid = 0;
            running--;
            done++;
            done_ticks += j->ticks;
            progress(f, j, done, done_ticks, total, t0);
        }
    }
    qsort(f->job, (size_t)f->n, sizeof *f->job, cmp_seg);
    return rc;
}

/* A job's stdout's first line (its one-line result). */
static void first_line(const char *path, char *out, size_t len)
{
    FILE *fp = fopen(path, "r");
    out[0] = 0;
    if (fp && fgets(out, (int)len, fp))
        out[strcspn(out, "\n")] = 0;
    if (fp)
        fclose(fp);
}

/* Copies a job's stderr to ours. */
static void relay(const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    while (fp && fgets(line, sizeof line, fp))
        fputs(line, stderr);
    if (fp)
        fclose(fp);
}

/* A job that neither passed nor diverged: what it said, or how it ended. */
static void report_failed(const Fanout *f, const Job *j)
{
    FILE *fp = fopen(j->err, "r");
    int c = fp ? fgetc(fp) : EOF;
    if (fp)
        fclose(fp);
    if (c != EOF)
        relay(j->err);
    else
        lbvm_error(0, "%s: segment %d: its lbvm ended with %s %d", f->b->dir, j->seg,
                   j->code > 128 ? "signal" : "exit code", j->code > 128 ? j->code - 128 : j->code);
}

/* The first pass: every checkpoint resumed and hashed, or nothing runs. */
static int check_starts(Fanout *f)
{
    f->check_start = true;
    if (run_all(f) < 0)
        return 1;
    int bad = 0;
    for (int i = 0; i < f->n; i++)
        if (f->job[i].code != 0) {
            report_failed(f, &f->job[i]);
            bad++;
        }
    if (bad)
        lbvm_error(0, "%s: %d of %d checkpoints are refused; no segment was run", f->b->dir, bad, f->n);
    return bad ? 1 : 0;
}

static int run_segments(Fanout *f)
{
    f->check_start = false;
    if (run_all(f) < 0)
        return 1;
    int diverged = 0, failed = 0;
    char line[4608];
    for (int i = 0; i < f->n; i++) {
        const Job *j = &f->job[i];
        if (j->code == EXIT_DIVERGED) {
            first_line(j->out, line, sizeof line);
            printf("%s\n", line);
            relay(j->err);
            diverged++;
        } else if (j->code != 0) {
            report_failed(f, j);
            failed++;
        }
    }
    const Bundle *b = f->b;
    char hex[65];
    bundle_hex(b->journal_sha256, 32, hex);
    if (failed) {
        lbvm_error(0, "%s: %d of %d segments could not be verified%s", b->dir, failed, f->n,
                   diverged ? " (and some diverged)" : "");
        return 1;
    }
    if (diverged) {
        printf("diverged: %d of %d segments differ from the journal (SHA-256 %s)\n", diverged, f->n, hex);
        return EXIT_DIVERGED;
    }
    printf("identical: %d segments, %d points compared, last at %llu ticks; journal SHA-256 %s\n", f->n, b->n_pts,
           (unsigned long long)b->pts[b->n_pts - 1].ticks, hex);
    return 0;
}

/* The jobs of one pass: every segment, or (start checks) those with a checkpoint. */
static void fill_jobs(Fanout *f, bool with_boot)
{
    f->n = 0;
    for (int i = 0; i < f->b->n_segs; i++) {
        const BundleSegment *s = &f->b->segs[i];
        if (!with_boot && s->ckpt < 0)
            continue;
        Job *j = &f->job[f->n++];
        memset(j, 0, sizeof *j);
        j->seg = s->id;
        j->ticks = seg_ticks(f->b, s);
    }
}

int verify_jobs(const Bundle *b, int jobs)
{
    Fanout f = { .b = b, .jobs = jobs };
    if (host_self_exe(f.exe, sizeof f.exe) != 0)
        return lbvm_error(1, "cannot find the lbvm program to run segments with (no /proc/self/exe)");
    snprintf(f.tmp, sizeof f.tmp, "%s/lbvm-verify-jobs-XXXXXX", host_tmp_dir());
    if (!mkdtemp(f.tmp))
        return lbvm_error(1, "cannot create a temporary folder: %s", strerror(errno));
    f.job = calloc((size_t)b->n_segs, sizeof *f.job);
    int code = 1;
    if (f.job) {
        fill_jobs(&f, false);
        code = f.n ? check_starts(&f) : 0;
        if (code == 0) {
            fill_jobs(&f, true);
            code = run_segments(&f);
        }
    }
    free(f.job);
    if (lbvm_remove_flat_dir(f.tmp) != 0)
        fprintf(stderr, "lbvm: could not remove %s\n", f.tmp);
    return code;
}
