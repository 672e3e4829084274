/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `lbvm bootstrap`: fetch, build, boot, watch, checkpoint, resume.
 * See steps/bootstrap.h and docs/definitions.md. */
#include "steps/bootstrap.h"
#include "base/platform.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steps/build.h"
#include "steps/kernel.h"
#include "steps/stage0.h"
#include "base/util.h"
#include "steps/fetch.h"
#include "emu/vmstate.h"

#define TAIL_LINES 15
#define LINE_MAX_LEN 4096
#define QUEUE_LEN 256
#define MAX_RESUME_TRIES 4

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static double now_s(void)
{
    return host_monotonic();
}

/* "12.3 s", "4:05", "1:02:03" */
static void fmt_dur(double s, char *buf, size_t len)
{
    if (s < 0)
        s = 0;
    if (s < 60) {
        snprintf(buf, len, "%.1f s", s);
        return;
    }
    unsigned long long t = (unsigned long long)s;
    if (t < 3600)
        snprintf(buf, len, "%llu:%02llu", t / 60, t % 60);
    else
        snprintf(buf, len, "%llu:%02llu:%02llu", t / 3600, t / 60 % 60, t % 60);
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(tmp, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* rm -rf PATH (no error if it does not exist) */
static int rm_tree(const char *path)
{
    return host_remove_tree(path);
}

/* Does name look like PREFIX<digits>SUFFIX? Sets *n. */
static int numbered_name(const char *name, const char *prefix, const char *suffix, unsigned long long *n)
{
    size_t pl = strlen(prefix), sl = strlen(suffix), nl = strlen(name);
    if (nl <= pl + sl || strncmp(name, prefix, pl) || strcmp(name + nl - sl, suffix))
        return 0;
    unsigned long long v = 0;
    for (size_t i = pl; i < nl - sl; i++) {
        if (!isdigit((unsigned char)name[i]) || v > ULLONG_MAX / 10 - 1)
            return 0;
        v = v * 10 + (unsigned)(name[i] - '0');
    }
    *n = v;
    return 1;
}

/* ------------------------------------------------------------------ */
/* steps: counting, markers, failures                                   */

static int starts_word(const char *p, const char *word)
{
    size_t n = strlen(word);
    return !strncmp(p, word, n) && (p[n] == ' ' || p[n] == '\t' || p[n] == 0 || p[n] == '\n');
}

static int count_file(const char *path, int kaem)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#')
            continue;
        if (kaem) {
            const char *k = strstr(p, "kaem ");
            if (k && (k == p || k[-1] == ' ' || k[-1] == '/') && strstr(k, " --file "))
                n++;
        } else if (starts_word(p, "build")) {
            p += 5;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p && *p != '(' && *p != '\n' && *p != '{')   /* not the definition "build() {" */
                n++;
        }
        /* a line longer than the buffer: skip its remainder */
        while (!strchr(line, '\n') && fgets(line, sizeof line, f))
            ;
    }
    fclose(f);
    return n;
}

int bootstrap_count_steps(const char *tree)
{
    static const char *const systems[] = { "sysa", "sysb", "sysc" };
    int total = 0;
    for (size_t s = 0; s < sizeof systems / sizeof *systems; s++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", tree, systems[s]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            int sh = l >= 6 && !strncmp(de->d_name, "run", 3) && !strcmp(de->d_name + l - 3, ".sh");
            int kaem = l >= 8 && !strncmp(de->d_name, "run", 3) && !strcmp(de->d_name + l - 5, ".kaem");
            if (!sh && !kaem)
                continue;
            char path[8192];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                total += count_file(path, kaem);
        }
        closedir(d);
    }
    return total;
}

int bootstrap_step_name(const regex_t *re, const char *line, char *name, size_t len)
{
    regmatch_t m[10];
    if (regexec(re, line, 10, m, 0) != 0)
        return 0;
    size_t ng = re->re_nsub < 9 ? re->re_nsub : 9;
    for (size_t i = 1; i <= ng; i++) {
        if (m[i].rm_so >= 0 && m[i].rm_eo > m[i].rm_so) {
            snprintf(name, len, "%.*s", (int)(m[i].rm_eo - m[i].rm_so), line + m[i].rm_so);
            return 1;
        }
    }
    /* no group: the line itself, trimmed */
    while (*line == ' ' || *line == '\t')
        line++;
    snprintf(name, len, "%s", line);
    size_t l = strlen(name);
    while (l && (name[l - 1] == ' ' || name[l - 1] == '\t'))
        name[--l] = 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

const char *bootstrap_failure_reason(const char *line)
{
    if (strstr(line, "Attempted to kill init"))
        return "init died (\"Attempted to kill init\")";
    if (strstr(line, "Kernel panic - not syncing"))
        return "the kernel panicked";
    if (ends_with(line, ": FAILED") || strstr(line, ": FAILED open or read") || strstr(line, "did NOT match") ||
        strstr(line, "checksum mismatch"))
        return "a checksum did not match";
    if (strstr(line, "ABORTING HARD"))
        return "a kaem command failed (\"ABORTING HARD\")";
    return NULL;
}

/* ------------------------------------------------------------------ */
/* checkpoints                                                          */

int bootstrap_inspect(const char *path, BootstrapCheckpoint *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    const char *base = strrchr(path, '/');
    numbered_name(base ? base + 1 : path, "ckpt-", ".lbvm", &c->number);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return lbvm_set_err(err, errlen, "out of memory");
    char why[1024];
    int rc = machine_inspect(path, mem, why, sizeof why);
    fclose(mem);
    if (rc < 0) {
        free(buf);
        return lbvm_set_err(err, errlen, "%s", why);
    }
    const char *p;
    if (!(p = strstr(buf, "\nguest time")) || sscanf(p, "\nguest time %llu ticks", &c->ticks) != 1 ||
        !(p = strstr(buf, "\nstate")) ||
        !(p = strstr(buf, "\nconsole")) || sscanf(p, "\nconsole %llu bytes", &c->console_bytes) != 1) {
        free(buf);
        return lbvm_set_err(err, errlen, "%s: unexpected inspect output", path);
    }
    p = strstr(buf, "\nstate");
    p += 6;
    while (*p == ' ')
        p++;
    c->running = !strncmp(p, "running\n", 8);
    p = strstr(buf, "\nconsole");
    p = strchr(p + 1, '\n');
    if (p)
        snprintf(c->tail, sizeof c->tail, "%s", p + 1);
    free(buf);
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The numbers of DIR/ckpt-N.lbvm, newest first. Returns the count (0 if none), *out malloc'd. */
static int list_checkpoints(const char *dir, unsigned long long **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        unsigned long long v;
        if (!numbered_name(de->d_name, "ckpt-", ".lbvm", &v))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            unsigned long long *nn = realloc(*out, (size_t)cap * sizeof *nn);
            if (!nn)
                break;
            *out = nn;
        }
        (*out)[n++] = v;
    }
    closedir(d);
    if (n)
        qsort(*out, (size_t)n, sizeof **out, cmp_desc);
    return n;
}

/* The file name of checkpoint v in dir (the writer's width: at least 6 digits). */
static void ckpt_path(const char *dir, unsigned long long v, char *buf, size_t len)
{
    snprintf(buf, len, "%s/ckpt-%06llu.lbvm", dir, v);
    if (access(buf, F_OK) != 0) {
        /* whatever width the writer used: find it */
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned long long x;
        while (d && (de = readdir(d)))
            if (numbered_name(de->d_name, "ckpt-", ".lbvm", &x) && x == v) {
                snprintf(buf, len, "%s/%s", dir, de->d_name);
                break;
            }
        if (d)
            closedir(d);
    }
}

int bootstrap_pick_checkpoint(const char *dir, unsigned long long max_console_bytes,
                              const unsigned long long *skip, int n_skip, BootstrapCheckpoint *c, FILE *log)
{
    unsigned long long *nums;
    int n = list_checkpoints(dir, &nums);
    int found = 0;
    for (int i = 0; i < n && !found; i++) {
        int skipped = 0;
        for (int k = 0; k < n_skip; k++)
            skipped |= skip[k] == nums[i];
        if (skipped)
            continue;
        char path[4200], err[1200];
        ckpt_path(dir, nums[i], path, sizeof path);
        if (bootstrap_inspect(path, c, err, sizeof err) < 0) {
            if (log)
                fprintf(log, "lbvm: not resuming from %s: %s\n", path, err);
            continue;
        }
        if (!c->running)
            continue;   /* taken when a run ended: nothing to continue */
        if (c->console_bytes > max_console_bytes) {
            if (log)
                fprintf(log, "lbvm: not resuming from %s: taken after the console showed a failure\n", path);
            continue;
        }
        found = 1;
    }
    free(nums);
    return found;
}

/* ------------------------------------------------------------------ */
/* the work folder's state                                              */

typedef struct State {
    char initramfs_sha[65], disk_sha[65];
    unsigned long long failed_after;   /* ULLONG_MAX: no failure recorded */
    int completed;
} State;

static void state_read(const char *path, State *s)
{
    memset(s, 0, sizeof *s);
    s->failed_after = ULLONG_MAX;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "initramfs-sha256 %64s", s->initramfs_sha) == 1 ||
            sscanf(line, "disk-sha256 %64s", s->disk_sha) == 1)
            continue;
        if (sscanf(line, "failed-after %llu", &v) == 1)
            s->failed_after = v;
        else if (!strncmp(line, "completed", 9))
            s->completed = 1;
    }
    fclose(f);
}

static int state_write(const char *path, const State *s)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "# lbvm bootstrap state 1\n");
    if (s->initramfs_sha[0])
        fprintf(f, "initramfs-sha256 %s\n", s->initramfs_sha);
    if (s->disk_sha[0])
        fprintf(f, "disk-sha256 %s\n", s->disk_sha);
    if (s->failed_after != ULLONG_MAX)
        fprintf(f, "failed-after %llu\n", s->failed_after);
    if (s->completed)
        fprintf(f, "completed\n");
    if (fflush(f) != 0 || host_fsync(fileno(f)) != 0) {
        fclose(f);
        unlink(tmp);
        return -1;
    }
    fclose(f);
    return host_replace(tmp, path);
}

/* Steps seen so far, from WORKDIR/steps ("TICKS NAME" lines): how many
 * distinct ones started at or before `ticks`, and the last one's name. */
static int steps_before(const char *path, unsigned long long ticks, char *last, size_t len)
{
    FILE *f = fopen(path, "r");
    last[0] = 0;
    if (!f)
        return 0;
    unsigned long long *seen = NULL, best = 0;
    int n = 0, cap = 0;
    char line[600], name[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long long t;
        if (sscanf(line, "%llu %511[^\n]", &t, name) != 2 || t > ticks)
            continue;
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = seen[i] == t;
        if (dup)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            unsigned long long *nn = realloc(seen, (size_t)cap * sizeof *nn);
            if (!nn)
                break;
            seen = nn;
        }
        seen[n++] = t;
        if (t >= best) {
            best = t;
            snprintf(last, len, "%.*s", (int)len - 1, name);
        }
    }
    fclose(f);
    free(seen);
    return n;
}

/* ------------------------------------------------------------------ */
/* the watcher                                                          */

typedef struct Pending {
    int n;
    char name[256];
} Pending;

typedef struct Runner {
    const BootstrapOptions *o;
    BootstrapOptions opts;        /* the caller's, with the kernel's absolute path */
    FILE *out;
    int tty;
    double t0;
    regex_t re;
    int total;                    /* m: steps the tree defines, stage0-posix's phases included */
    Stage0Phases phases;          /* stage0-posix's phases (stage0.h) */
    int phase_next;               /* the first phase not seen yet */
    int answers_ok;               /* "NAME: OK" lines of the answers check */
    int in_answers;               /* the answers check is running */
    FetchList missing;            /* distfiles left out of the build (--allow-missing) */
    char missing_names[1024];     /* those the failing step needs */
    char *regex;                  /* the step lines: phases | --step-regex or the default */
    int done;                     /* n: steps started so far */
    char step[256];               /* the last step started */
    char work[4096], ckdir[4200], state_path[4200], steps_path[4200], journal[4200];
    char exe[4096];
    FILE *steps_log;
    /* steps seen on the console waiting for their checkpoint's guest time */
    Pending pend[QUEUE_LEN];
    int pend_head, pend_n;
    unsigned long long tickq[QUEUE_LEN];
    int tq_head, tq_n;
    unsigned long long last_ticks;
    /* the progress line being shown on a terminal */
    int line_open;
    char line_text[512];
    double line_t;
    double last_refresh;
    /* the console */
    char ring[TAIL_LINES][512];
    int ring_n, ring_start;
    unsigned long long console_base, console_off;
    char cline[LINE_MAX_LEN];
    size_t cline_len;
    unsigned long long cline_start;
    /* outcome of the attempt */
    int completed;
    double completed_at;
    const char *fail_reason;
    int after_fail;               /* console lines kept after the failure line */
    char fail_line[512];
    unsigned long long fail_at;   /* absolute console offset of the failure line */
    char saved_ckpt[4200];        /* checkpoint the child reported at its end */
    char errs[6][512];            /* the child's last stderr lines that are not progress */
    int errs_n;
    FILE *child_log;
    char ebuf[LINE_MAX_LEN];
    size_t ebuf_len;
} Runner;

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    g_signal = sig;
}

static void commit_line(Runner *r)
{
    if (r->line_open) {
        fputc('\n', r->out);
        r->line_open = 0;
        fflush(r->out);
    }
}

static void info(Runner *r, const char *fmt, ...)
{
    commit_line(r);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
    fflush(r->out);
}

static int term_width(Runner *r)
{
    int cols = host_term_cols(fileno(r->out));
    return cols > 20 ? cols : 80;
}

static void show_line(Runner *r, const char *extra)
{
    char buf[700];
    snprintf(buf, sizeof buf, "%s%s", r->line_text, extra);
    int w = term_width(r) - 1;
    if ((int)strlen(buf) > w)
        buf[w] = 0;
    fprintf(r->out, "\r\033[K%s", buf);
    fflush(r->out);
}

static void print_step(Runner *r, const Pending *p, unsigned long long ticks, int known)
{
    char g[32], h[32], total[32];
    fmt_dur(ticks / 1e9, g, sizeof g);
    fmt_dur(now_s() - r->t0, h, sizeof h);
    if (r->total > 0)
        snprintf(total, sizeof total, "%d", r->total);
    else
        snprintf(total, sizeof total, "?");
    commit_line(r);
    snprintf(r->line_text, sizeof r->line_text, "[%d/%s] %s (guest time %s%s, host time %s", p->n, total,
             p->name, known ? "" : "about ", g, h);
    if (r->tty) {
        r->line_open = 1;
        r->line_t = now_s();
        show_line(r, ")");
    } else {
        fprintf(r->out, "%s)\n", r->line_text);
        fflush(r->out);
    }
    if (r->steps_log && known) {
        fprintf(r->steps_log, "%llu %s\n", ticks, p->name);
        fflush(r->steps_log);
    }
}

/* Pairs steps seen on the console with the guest time of the checkpoints
 * the child took after them (one per marker line, in order). */
static void pair(Runner *r)
{
    while (r->pend_n && r->tq_n) {
        Pending *p = &r->pend[r->pend_head];
        unsigned long long t = r->tickq[r->tq_head];
        r->pend_head = (r->pend_head + 1) % QUEUE_LEN;
        r->pend_n--;
        r->tq_head = (r->tq_head + 1) % QUEUE_LEN;
        r->tq_n--;
        print_step(r, p, t, 1);
    }
}

static void flush_pending(Runner *r)
{
    while (r->pend_n) {
        print_step(r, &r->pend[r->pend_head], r->last_ticks, 0);
        r->pend_head = (r->pend_head + 1) % QUEUE_LEN;
        r->pend_n--;
    }
}

static void ring_push(Runner *r, const char *line)
{
    int i = (r->ring_start + r->ring_n) % TAIL_LINES;
    if (r->ring_n == TAIL_LINES) {
        i = r->ring_start;
        r->ring_start = (r->ring_start + 1) % TAIL_LINES;
    } else {
        r->ring_n++;
    }
    snprintf(r->ring[i], sizeof r->ring[i], "%.*s", (int)sizeof r->ring[i] - 1, line);
}

static void console_line(Runner *r, char *line, unsigned long long start)
{
    size_t l = strlen(line);
    if (l && line[l - 1] == '\r')
        line[--l] = 0;
    /* after a failure line the tail keeps two more lines, then stays as it
     * is: what led to the failure, not the panic that follows it */
    if (!r->fail_reason || r->after_fail++ < 2)
        ring_push(r, line);
    if (!r->completed && !strncmp(line, BOOTSTRAP_COMPLETED_LINE, strlen(BOOTSTRAP_COMPLETED_LINE))) {
        r->completed = 1;
        r->completed_at = now_s();
        return;
    }
    if (!r->completed && !r->fail_reason) {
        const char *why = bootstrap_failure_reason(line);
        if (why) {
            r->fail_reason = why;
            snprintf(r->fail_line, sizeof r->fail_line, "%s", line);
            r->fail_at = r->console_base + start;
            return;
        }
    }
    if (r->in_answers) {
        size_t l2 = strlen(line);
        if (l2 > 4 && !strcmp(line + l2 - 4, ": OK")) {
            if (++r->answers_ok == r->phases.answers) {
                commit_line(r);
                info(r, "stage0-posix: %d of %d answers OK", r->answers_ok, r->phases.answers);
                r->in_answers = 0;
            }
        } else if (strncmp(line, " +> ", 4)) {
            r->in_answers = 0;
        }
    }
    char name[256];
    if (!r->fail_reason && bootstrap_step_name(&r->re, line, name, sizeof name)) {
        int ph = stage0_match(&r->phases, r->phase_next, line);
        if (ph >= 0) {
            snprintf(name, sizeof name, "stage0-posix %s", r->phases.v[ph].name);
            r->phase_next = ph + 1;
            if (ph == r->phases.n - 1 && r->phases.answers) {
                r->in_answers = 1;
                r->answers_ok = 0;
            }
        } else {
            /* a step whose distfiles the build left out: stop here, naming them */
            size_t ml = 0;
            r->missing_names[0] = 0;
            for (int i = 0; i < r->missing.n; i++)
                if (r->missing.items[i].origin && !strcmp(r->missing.items[i].origin, name) &&
                    ml < sizeof r->missing_names)
                    ml += (size_t)snprintf(r->missing_names + ml, sizeof r->missing_names - ml, "%s%s",
                                           ml ? ", " : "", r->missing.items[i].name);
            if (ml) {
                r->fail_reason = "a distfile is missing";
                snprintf(r->fail_line, sizeof r->fail_line, "%s", line);
                r->fail_at = r->console_base + start;
            }
        }
        r->done++;
        snprintf(r->step, sizeof r->step, "%s", name);
        if (r->pend_n < QUEUE_LEN) {
            Pending *p = &r->pend[(r->pend_head + r->pend_n) % QUEUE_LEN];
            p->n = r->done;
            snprintf(p->name, sizeof p->name, "%s", name);
            r->pend_n++;
        }
    }
}

static void console_bytes(Runner *r, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            r->cline[r->cline_len] = 0;
            console_line(r, r->cline, r->cline_start);
            r->cline_len = 0;
            r->cline_start = r->console_off + i + 1;
        } else if (r->cline_len < sizeof r->cline - 1) {
            r->cline[r->cline_len++] = buf[i];
        }
    }
    r->console_off += n;
}

static void stderr_line(Runner *r, char *line)
{
    if (r->child_log) {
        fprintf(r->child_log, "%s\n", line);
        fflush(r->child_log);
    }
    unsigned long long t;
    char path[4200];
    if (sscanf(line, "lbvm: checkpoint %4199s at %llu ticks", path, &t) == 2) {
        r->last_ticks = t;
        if (strstr(line, ") after: ") && r->tq_n < QUEUE_LEN) {
            r->tickq[(r->tq_head + r->tq_n) % QUEUE_LEN] = t;
            r->tq_n++;
        }
        return;
    }
    if (sscanf(line, "lbvm: ticks %llu", &t) == 1) {
        r->last_ticks = t;
        return;
    }
    const char *p;
    if ((p = strstr(line, "; resume with: lbvm resume ")) != NULL) {
        snprintf(r->saved_ckpt, sizeof r->saved_ckpt, "%s", p + strlen("; resume with: lbvm resume "));
        return;
    }
    if (sscanf(line, "lbvm: final checkpoint %4199s", path) == 1 ||
        sscanf(line, "lbvm: checkpoint of the stalled run: %4199s", path) == 1) {
        snprintf(r->saved_ckpt, sizeof r->saved_ckpt, "%s", path);
        return;
    }
    if (!strncmp(line, "lbvm: ram-sha256 ", 17) || !strncmp(line, "lbvm: events: ", 14) ||
        !strncmp(line, "lbvm: host peak-rss ", 20))
        return;
    if (r->errs_n == 6) {
        memmove(r->errs[0], r->errs[1], sizeof r->errs[0] * 5);
        r->errs_n = 5;
    }
    snprintf(r->errs[r->errs_n++], sizeof r->errs[0], "%s", line);
}

static void stderr_bytes(Runner *r, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            r->ebuf[r->ebuf_len] = 0;
            stderr_line(r, r->ebuf);
            r->ebuf_len = 0;
        } else if (r->ebuf_len < sizeof r->ebuf - 1) {
            r->ebuf[r->ebuf_len++] = buf[i];
        }
    }
}

/* Reads what is there; returns 1 at end of file (pipe closed). */
static int drain_fd(Runner *r, int fd, int is_console)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            if (is_console)
                console_bytes(r, buf, (size_t)n);
            else
                stderr_bytes(r, buf, (size_t)n);
            continue;
        }
        if (n == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    }
}

typedef enum { ATTEMPT_DONE, ATTEMPT_RESUME_REFUSED, ATTEMPT_SETUP } AttemptEnd;

typedef struct Attempt {
    int number;
    char console[4200], log[4200];
    HostExit status;      /* how the child ended */
    int stopped_by_user;  /* we forwarded SIGINT/SIGTERM */
    int term_sent;
} Attempt;

static int next_attempt(const char *work)
{
    DIR *d = opendir(work);
    unsigned long long best = 0, v;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (numbered_name(de->d_name, "console-", ".log", &v) && v > best && v < INT_MAX)
            best = v;
    if (d)
        closedir(d);
    return (int)best + 1;
}

/* The child's command line (argv points into it). */
typedef struct AttemptCmd {
    char mem[32], stall[32], keep[32];
    char initrd[4200], disk[4200];
    const char *argv[40];
} AttemptCmd;

/* `lbvm boot` (or `lbvm resume` from a checkpoint) with the options that
 * let the runner watch it: checkpoints, journal, console file, stall. */
static void attempt_command(Runner *r, const BootstrapCheckpoint *from, const Attempt *a, AttemptCmd *c)
{
    const BootstrapOptions *o = r->o;
    snprintf(c->mem, sizeof c->mem, "%llu", (unsigned long long)(o->mem_mib ? o->mem_mib : BOOTSTRAP_DEFAULT_MEM_MIB));
    snprintf(c->keep, sizeof c->keep, "%llu", (unsigned long long)(o->keep ? o->keep : BOOTSTRAP_DEFAULT_KEEP));
    snprintf(c->stall, sizeof c->stall, "%llu",
             (unsigned long long)(o->stall_s ? o->stall_s : BOOTSTRAP_DEFAULT_STALL_S));
    snprintf(c->initrd, sizeof c->initrd, "%s/%s", r->work, BUILD_INITRAMFS_NAME);
    snprintf(c->disk, sizeof c->disk, "%s/%s", r->work, BUILD_DISK_NAME);
    const char *regex = r->regex;
    const char **argv = c->argv;
    int n = 0;
    argv[n++] = r->exe;
    if (from) {
        argv[n++] = "resume";
        argv[n++] = from->path;
    } else {
        argv[n++] = "boot";
        argv[n++] = "--kernel";
        argv[n++] = o->kernel;
        argv[n++] = "--initrd";
        argv[n++] = c->initrd;
        argv[n++] = "--disk";
        argv[n++] = c->disk;
        argv[n++] = "--mem";
        argv[n++] = c->mem;
    }
    argv[n++] = "--checkpoint-dir";
    argv[n++] = r->ckdir;
    argv[n++] = "--checkpoint-on";
    argv[n++] = regex;
    argv[n++] = "--keep-checkpoints";
    argv[n++] = c->keep;
    argv[n++] = "--journal";
    argv[n++] = r->journal;
    argv[n++] = "--console";
    argv[n++] = a->console;
    argv[n++] = "--stall";
    argv[n++] = c->stall;
    argv[n++] = "--stats";
    argv[n] = NULL;
}

/* The child's console file, its log (stdout), /dev/null (stdin) and a pipe
 * for its stderr; the command line goes into the log first. */
static int attempt_open(Runner *r, const Attempt *a, const AttemptCmd *c, int *cfd, int *lfd, int *nullfd,
                        int ep[2])
{
    *cfd = open(a->console, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    *lfd = open(a->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    *nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ep[0] = ep[1] = -1;
    if (*cfd < 0 || *lfd < 0 || *nullfd < 0 || host_pipe(ep) != 0) {
        lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot set up the guest's console %s or log %s: %s", a->console, a->log, strerror(errno));
        if (*cfd >= 0)
            close(*cfd);
        if (*lfd >= 0)
            close(*lfd);
        if (*nullfd >= 0)
            close(*nullfd);
        return -1;
    }
    r->child_log = fdopen(dup(*lfd), "a");
    if (r->child_log) {
        fprintf(r->child_log, "# attempt %d:", a->number);
        for (int i = 0; c->argv[i]; i++)
            fprintf(r->child_log, " %s", c->argv[i]);
        fputc('\n', r->child_log);
        fflush(r->child_log);
    }
    return 0;
}

/* Fresh per-attempt watch state. */
static void attempt_reset_watch(Runner *r, const BootstrapCheckpoint *from)
{
    r->console_base = from ? from->console_bytes : 0;
    r->console_off = 0;
    r->cline_len = 0;
    r->cline_start = 0;
    r->completed = 0;
    r->fail_reason = NULL;
    r->after_fail = 0;
    r->saved_ckpt[0] = 0;
    r->errs_n = 0;
    r->ebuf_len = 0;
    r->pend_n = r->tq_n = 0;
    r->phase_next = 0;
    r->in_answers = 0;
    if (from)
        r->last_ticks = from->ticks;
}

/* Asks the child to stop once the user asked, the run failed or completed
 * (after a grace period); kills it when it has not stopped 600 s later. */
static void attempt_stop_child(Runner *r, Attempt *a, long pid, double t, double *term_at)
{
    if (!a->term_sent) {
        const char *why = NULL;
        if (g_signal) {
            a->stopped_by_user = 1;
            why = "stopping";
        } else if (r->fail_reason) {
            why = "failed";
        } else if (r->completed && t - r->completed_at > BOOTSTRAP_GRACE_S) {
            why = "completed";
        }
        if (why) {
            host_kill(pid, false);
            a->term_sent = 1;
            *term_at = t;
        }
    } else if (t - *term_at > 600) {
        host_kill(pid, true);
        *term_at = t;
    }
}

/* Reads the child's stderr and console as they come, pairing steps with
 * checkpoints, until it ends. 1 when its stderr reached its end. */
static int attempt_watch(Runner *r, Attempt *a, long pid, int cfd, int efd)
{
    int exited = 0, err_eof = 0;
    double term_at = 0;
    a->term_sent = 0;
    a->stopped_by_user = 0;
    while (!exited) {
        host_wait_input(err_eof ? -1 : efd, 250);
        /* stderr first: any checkpoint line read now was written after its
         * console line, so the console read below has that line too */
        if (!err_eof)
            err_eof = drain_fd(r, efd, 0);
        drain_fd(r, cfd, 1);
        pair(r);
        HostExit st;
        long w = host_wait(pid, false, &st);
        if (w == pid) {
            exited = 1;
            a->status = st;
            break;
        }
        double t = now_s();
        attempt_stop_child(r, a, pid, t, &term_at);
        if (r->tty && r->line_open && t - r->last_refresh >= 1.0) {
            char extra[64], d[32];
            fmt_dur(t - r->line_t, d, sizeof d);
            snprintf(extra, sizeof extra, "; this step: %s)", d);
            show_line(r, extra);
            r->last_refresh = t;
        }
    }
    return err_eof;
}

/* The rest of stderr and the console, after the child ended. */
static void attempt_drain(Runner *r, int cfd, int efd, int err_eof)
{
    fcntl(efd, F_SETFL, fcntl(efd, F_GETFL) & ~O_NONBLOCK);
    while (!err_eof)
        err_eof = drain_fd(r, efd, 0);
    if (r->ebuf_len) {
        r->ebuf[r->ebuf_len] = 0;
        stderr_line(r, r->ebuf);
        r->ebuf_len = 0;
    }
    close(efd);
    drain_fd(r, cfd, 1);
    if (r->cline_len && !r->fail_reason) {
        r->cline[r->cline_len] = 0;
        ring_push(r, r->cline);
    }
    close(cfd);
    pair(r);
    flush_pending(r);
    commit_line(r);
    if (r->child_log) {
        fclose(r->child_log);
        r->child_log = NULL;
    }
}

/* Starts the child and watches it until it ends. */
static AttemptEnd run_attempt(Runner *r, const BootstrapCheckpoint *from, Attempt *a)
{
    a->number = next_attempt(r->work);
    snprintf(a->console, sizeof a->console, "%s/console-%d.log", r->work, a->number);
    snprintf(a->log, sizeof a->log, "%s/lbvm-%d.log", r->work, a->number);
    AttemptCmd c;
    attempt_command(r, from, a, &c);
    int cfd, lfd, nullfd, ep[2];
    if (attempt_open(r, a, &c, &cfd, &lfd, &nullfd, ep) < 0)
        return ATTEMPT_SETUP;
    /* the child: `lbvm boot` or `lbvm resume`, with SIGTERM if the runner dies */
    HostSpawn sp = { .exe = r->exe, .argv = (char *const *)c.argv, .fd_in = nullfd, .fd_out = lfd, .fd_err = ep[1],
                     .die_with_parent = true, .default_signals = true, .say_exec_error = true };
    long pid = host_spawn(&sp);
    if (pid < 0) {
        lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot start the guest: fork: %s", strerror(errno));
        close(cfd);
        close(lfd);
        close(nullfd);
        close(ep[0]);
        close(ep[1]);
        return ATTEMPT_SETUP;
    }
    close(ep[1]);
    close(nullfd);
    close(lfd);
    fcntl(ep[0], F_SETFL, fcntl(ep[0], F_GETFL) | O_NONBLOCK);
    attempt_reset_watch(r, from);
    int err_eof = attempt_watch(r, a, pid, cfd, ep[0]);
    attempt_drain(r, cfd, ep[0], err_eof);
    /* a resume the child refused before running anything */
    if (from && a->status.exited && a->status.code == 1 && r->console_off == 0)
        return ATTEMPT_RESUME_REFUSED;
    return ATTEMPT_DONE;
}

static void print_tail(Runner *r, const char *console)
{
    fprintf(stderr, "lbvm: the last console lines (%s):\n", console);
    for (int i = 0; i < r->ring_n; i++)
        fprintf(stderr, "    %s\n", r->ring[(r->ring_start + i) % TAIL_LINES]);
}

static void print_child_errors(Runner *r)
{
    for (int i = 0; i < r->errs_n; i++)
        if (!strncmp(r->errs[i], "lbvm: ", 6))
            fprintf(stderr, "%s\n", r->errs[i]);
}

/* ------------------------------------------------------------------ */
/* fetch and build                                                      */

static int env_epoch(int64_t *epoch)
{
    const char *e = getenv("SOURCE_DATE_EPOCH");
    *epoch = 0;
    if (!e || !*e)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(e, &end, 10);
    if (errno || *end || v < 0)
        return -1;
    *epoch = v;
    return 0;
}

static int do_fetch(Runner *r)
{
    const BootstrapOptions *o = r->o;
    FetchList l = { 0 };
    char err[2048], dir[4200];
    int rc = 0;
    snprintf(dir, sizeof dir, "%s/sysa", o->tree);
    if (build_read_sources(dir, &l, err, sizeof err) < 0)
        rc = lbvm_error(BOOTSTRAP_EXIT_SETUP, "%s", err);
    snprintf(dir, sizeof dir, "%s/sysc", o->tree);
    if (!rc && build_read_sources(dir, &l, err, sizeof err) < 0)
        rc = lbvm_error(BOOTSTRAP_EXIT_SETUP, "%s", err);
    if (!rc) {
        char dd[4096];
        const char *distdir = o->distdir;
        if (!distdir && fetch_default_distdir(dd, sizeof dd) == 0)
            distdir = dd;
        info(r, "distfiles: %d in %s%s", l.n, distdir ? distdir : "(default)", o->offline ? " (offline)" : "");
        FetchOptions fo = { .distdir = o->distdir, .parallel = 4, .offline = o->offline, .progress = 1,
                            .log = stderr };
        fflush(r->out);
        if (fetch_all(l.items, l.n, &fo, err, sizeof err) < 0) {
            if (o->allow_missing)
                fprintf(stderr, "lbvm: %s; going on without them (--allow-missing): the run stops at the first step "
                        "that needs one\n", err);
            else
                rc = lbvm_error(BOOTSTRAP_EXIT_SETUP, "%s%s", err,
                                o->offline ? " (--offline: nothing was downloaded; --allow-missing goes on without)"
                                           : " (--allow-missing goes on without them)");
        }
    }
    fetch_list_free(&l);
    return rc;
}

static int outputs_match(Runner *r, const State *s)
{
    char p[4200], h[65];
    if (!s->initramfs_sha[0] || !s->disk_sha[0])
        return 0;
    snprintf(p, sizeof p, "%s/%s", r->work, BUILD_INITRAMFS_NAME);
    if (fetch_sha256_file(p, h) != 0 || strcmp(h, s->initramfs_sha))
        return 0;
    snprintf(p, sizeof p, "%s/%s", r->work, BUILD_DISK_NAME);
    if (fetch_sha256_file(p, h) != 0 || strcmp(h, s->disk_sha))
        return 0;
    return 1;
}

static int do_build(Runner *r, State *s, int check_against_state)
{
    const BootstrapOptions *o = r->o;
    int64_t epoch;
    if (env_epoch(&epoch) < 0)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "SOURCE_DATE_EPOCH must be a whole number of seconds");
    BuildOptions bo = { .tree = o->tree, .distdir = o->distdir, .outdir = r->work, .disk_size = o->disk_size,
                        .epoch = epoch, .allow_missing = o->allow_missing, .own_seeds = o->own_seeds };
    BuildOutput out[2];
    char err[2048];
    if (build_all(&bo, out, err, sizeof err) < 0)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "%s", err);
    for (int i = 0; i < 2; i++)
        info(r, "built %s: %llu bytes, sha256 %s", out[i].path, (unsigned long long)out[i].size, out[i].sha256);
    if (check_against_state && s->initramfs_sha[0] &&
        (strcmp(s->initramfs_sha, out[0].sha256) || strcmp(s->disk_sha, out[1].sha256)))
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "the tree, the distfiles or the options changed since this work folder's checkpoints were "
                       "made (%s now %.12s..., was %.12s...): run with --fresh to start over",
                       strcmp(s->initramfs_sha, out[0].sha256) ? BUILD_INITRAMFS_NAME : BUILD_DISK_NAME,
                       strcmp(s->initramfs_sha, out[0].sha256) ? out[0].sha256 : out[1].sha256,
                       strcmp(s->initramfs_sha, out[0].sha256) ? s->initramfs_sha : s->disk_sha);
    snprintf(s->initramfs_sha, sizeof s->initramfs_sha, "%s", out[0].sha256);
    snprintf(s->disk_sha, sizeof s->disk_sha, "%s", out[1].sha256);
    return 0;
}

/* Removes what an earlier run left: checkpoints, journal, logs, steps. */
static int clean_run(Runner *r)
{
    if (rm_tree(r->ckdir) != 0)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot remove %s: %s", r->ckdir, strerror(errno));
    unlink(r->journal);
    unlink(r->steps_path);
    DIR *d = opendir(r->work);
    struct dirent *de;
    unsigned long long v;
    while (d && (de = readdir(d))) {
        if (numbered_name(de->d_name, "console-", ".log", &v) || numbered_name(de->d_name, "lbvm-", ".log", &v)) {
            char p[8300];
            snprintf(p, sizeof p, "%s/%s", r->work, de->d_name);
            unlink(p);
        }
    }
    if (d)
        closedir(d);
    return 0;
}

/* ------------------------------------------------------------------ */

static int find_exe(Runner *r)
{
    if (r->o->self_exe) {
        snprintf(r->exe, sizeof r->exe, "%s", r->o->self_exe);
        return 0;
    }
    return host_self_exe(r->exe, sizeof r->exe);
}

static int lock_workdir(const char *work)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/lock", work);
    /* not close-on-exec: the guest process keeps the folder locked until it
     * has saved its last checkpoint, even if this runner dies first */
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot open %s: %s", p, strerror(errno)), -1;
    if (host_lock(fd) != 0) {
        if (errno == EWOULDBLOCK)
            lbvm_error(BOOTSTRAP_EXIT_SETUP, "work folder %s is in use by another lbvm bootstrap (or its guest is still saving a checkpoint)",
                    work);
        else
            lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot lock %s: %s", p, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void summary(Runner *r, const Attempt *a)
{
    char g[32], h[32];
    fmt_dur(r->last_ticks / 1e9, g, sizeof g);
    fmt_dur(now_s() - r->t0, h, sizeof h);
    info(r, "Bootstrapping completed: %d step%s, guest time %s, host time %s (console: %s)", r->done,
         r->done == 1 ? "" : "s", g, h, a->console);
}

static int report_failure(Runner *r, const Attempt *a, State *s)
{
    char where[400], why[1200];
    if (r->done)
        snprintf(where, sizeof where, "in step %s (%d/%d)", r->step, r->done, r->total);
    else
        snprintf(where, sizeof where, "before the first step");
    int code = BOOTSTRAP_EXIT_FAILED;
    HostExit st = a->status;
    if (r->missing_names[0]) {
        char dd[4096];
        const char *distdir = r->o->distdir;
        if (!distdir && fetch_default_distdir(dd, sizeof dd) == 0)
            distdir = dd;
        commit_line(r);
        fflush(r->out);
        int several = strchr(r->missing_names, ',') != NULL;
        fprintf(stderr, "lbvm: bootstrap stopped at step %s (%d/%d): it needs %s, missing from %s (the build left "
                "%s out: --allow-missing); once %s there, run again with --fresh\n", r->step, r->done, r->total,
                r->missing_names, distdir ? distdir : "the distfile cache", several ? "them" : "it",
                several ? "they are" : "it is");
        return BOOTSTRAP_EXIT_MISSING;
    }
    if (r->fail_reason) {
        snprintf(why, sizeof why, "%s: \"%s\"", r->fail_reason, r->fail_line);
        if (r->fail_at < s->failed_after) {
            s->failed_after = r->fail_at;
            state_write(r->state_path, s);
        }
    } else if (!st.exited) {
        snprintf(why, sizeof why, "the guest process (lbvm) was killed by signal %d", st.code);
    } else {
        int c = st.code;
        switch (c) {
        case 0: snprintf(why, sizeof why, "the guest powered off before \"%s\"", BOOTSTRAP_COMPLETED_LINE); break;
        case 1:
            snprintf(why, sizeof why, "lbvm could not run the guest (exit 1: a host problem such as a full disk, said below; --resume continues once it is solved)");
            code = BOOTSTRAP_EXIT_SETUP;
            break;
        case 2: snprintf(why, sizeof why, "the guest crashed (lbvm exit 2)"); break;
        case 3: snprintf(why, sizeof why, "the guest rebooted (a kernel panic or a reboot; lbvm exit 3)"); break;
        case 4: snprintf(why, sizeof why, "the guest-time limit was reached (lbvm exit 4)"); break;
        case 5: snprintf(why, sizeof why, "the guest was stopped by a signal (lbvm exit 5)"); break;
        case 7:
            snprintf(why, sizeof why,
                     "the guest stalled: no console output or disk I/O for %llu s of guest time (lbvm exit 7; "
                     "--resume with a larger --stall continues from its checkpoint)",
                     (unsigned long long)(r->o->stall_s ? r->o->stall_s : BOOTSTRAP_DEFAULT_STALL_S));
            break;
        default: snprintf(why, sizeof why, "lbvm exited with code %d", c); break;
        }
    }
    commit_line(r);
    fflush(r->out);
    fprintf(stderr, "lbvm: bootstrap failed %s: %s\n", where, why);
    print_child_errors(r);
    print_tail(r, a->console);
    fprintf(stderr, "lbvm: guest log: %s\n", a->log);
    return code;
}

/* The kernel to boot: --kernel, or the pinned Debian one (fetched once into
 * the cache, into buf); checked to be a kernel lbvm boots. */
static int check_kernel(Runner *r, char *buf, size_t len)
{
    char err[2048];
    const char *kernel = r->o->kernel;
    if (!kernel) {
        if (kernel_default(buf, len, r->o->offline, r->out, err, sizeof err) < 0)
            return lbvm_error(-1, "%s", err);
        kernel = buf;
    }
    if (kernel_check(kernel, err, sizeof err) < 0)
        return lbvm_error(-1, "%s", err);
    return 0;
}

/* The console lines that start a step: stage0-posix's phases, read from the
 * tree's scripts, and then `user` (--step-regex or the default) for the
 * steps of sysa and on; compiled into r->re, and kept in r->regex for the
 * guest process's --checkpoint-on. */
static int make_step_regex(Runner *r, const char *user)
{
    char err[2048], root[4200];
    snprintf(root, sizeof root, "%s/" BUILD_STAGE0_DIR, r->o->tree);
    if (stage0_read_phases(root, &r->phases, err, sizeof err) < 0)
        return lbvm_error(-1, "%s", err);
    size_t len = strlen(user) + 1;
    for (int i = 0; i < r->phases.n; i++)
        len += strlen(r->phases.v[i].pattern) + 1;
    if (!(r->regex = malloc(len)))
        return lbvm_error(-1, "out of memory");
    strcpy(r->regex, user);
    for (int i = 0; i < r->phases.n; i++) {
        strcat(r->regex, "|");
        strcat(r->regex, r->phases.v[i].pattern);
    }
    if (regcomp(&r->re, r->regex, REG_EXTENDED) != 0)
        return lbvm_error(-1, "stage0-posix's phases make no valid regular expression with '%s'", user);
    return 0;
}

/* 1. Checks the options and the tree, finds lbvm and the kernel, makes and
 * locks the work folder. r->o becomes r->opts with the kernel's absolute
 * path. -1 after a one-line message. */
static int run_setup(Runner *r, int *have_re, int *lockfd)
{
    const BootstrapOptions *o = r->o;
    const char *regex = o->step_regex ? o->step_regex : BOOTSTRAP_DEFAULT_STEP_REGEX;
    char err[2048], kernel_buf[4096];
    if (!o->tree)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "bootstrap needs --tree DIR, a live-bootstrap checkout (see 'lbvm bootstrap --help')"), -1;
    regex_t user_re;
    if (regcomp(&user_re, regex, REG_EXTENDED) != 0)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--step-regex '%s': not a valid extended regular expression", regex), -1;
    regfree(&user_re);
    if (build_check_tree(o->tree, o->own_seeds, err, sizeof err) < 0)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "%s", err), -1;
    const char *kernel = o->kernel ? o->kernel : kernel_buf;
    if (check_kernel(r, kernel_buf, sizeof kernel_buf) < 0 || make_step_regex(r, regex) < 0)
        return -1;
    *have_re = 1;
    if (find_exe(r) < 0)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot find the lbvm program to run the guest with (no /proc/self/exe)"), -1;
    const char *work = o->workdir ? o->workdir : BOOTSTRAP_DEFAULT_WORKDIR;
    if (mkdir_p(work) != 0)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot create the work folder %s: %s", work, strerror(errno)), -1;
    if (!host_realpath(work, r->work))
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot resolve %s: %s", work, strerror(errno)), -1;
    /* the child runs with absolute paths: checkpoints record them */
    char kernel_abs[4096];
    if (!host_realpath(kernel, kernel_abs))
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot resolve %s: %s", kernel, strerror(errno)), -1;
    r->opts = *o;
    r->opts.kernel = strdup(kernel_abs);
    if (!r->opts.kernel)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "out of memory"), -1;
    r->o = &r->opts;
    snprintf(r->ckdir, sizeof r->ckdir, "%s/checkpoints", r->work);
    snprintf(r->state_path, sizeof r->state_path, "%s/state", r->work);
    snprintf(r->steps_path, sizeof r->steps_path, "%s/steps", r->work);
    snprintf(r->journal, sizeof r->journal, "%s/journal", r->work);
    return (*lockfd = lock_workdir(r->work)) < 0 ? -1 : 0;
}

/* The work folder's state: a run that completed (--resume says so: 1 with
 * *code), checkpoints of an earlier run without --resume or --fresh (-1);
 * else 0 with the number of checkpoints. */
static int run_check_state(Runner *r, State *s, int *n_ckpt, int *code)
{
    const BootstrapOptions *o = r->o;
    state_read(r->state_path, s);
    unsigned long long *nums;
    *n_ckpt = list_checkpoints(r->ckdir, &nums);
    free(nums);
    if (o->resume && s->completed && !o->fresh) {
        info(r, "the bootstrap in %s already completed (run with --fresh to do it again)", r->work);
        *code = BOOTSTRAP_EXIT_OK;
        return 1;
    }
    if (!o->resume && !o->fresh && *n_ckpt > 0) {
        lbvm_error(BOOTSTRAP_EXIT_SETUP, "%s holds checkpoints of an earlier run: add --resume to continue it, or --fresh to start over",
                r->work);
        return -1;
    }
    r->total = r->phases.n + bootstrap_count_steps(o->tree);
    return 0;
}

/* 2. The distfiles (what --allow-missing leaves out, listed); 3. the
 * initramfs and the disk, unless unchanged on --resume. */
static int run_prepare(Runner *r, State *s, int n_ckpt)
{
    const BootstrapOptions *o = r->o;
    char err[2048];
    if (do_fetch(r) != 0)
        return -1;
    if (o->allow_missing) {
        int nm = build_list_missing(o->tree, o->distdir, &r->missing, err, sizeof err);
        if (nm < 0)
            return lbvm_error(BOOTSTRAP_EXIT_SETUP, "%s", err), -1;
        if (nm)
            info(r, "%d distfile%s left out (--allow-missing): the run stops at the first step that needs one", nm,
                 nm == 1 ? "" : "s");
    }
    if (o->resume && !o->fresh && outputs_match(r, s)) {
        info(r, "build outputs in %s are unchanged: not rebuilt", r->work);
    } else {
        if (do_build(r, s, o->resume && !o->fresh && n_ckpt > 0) != 0)
            return -1;
    }
    return 0;
}

/* Where the run starts: the checkpoint --resume picks (into *ck), or the
 * beginning (an empty run folder). The state is written either way. */
static int run_pick_start(Runner *r, State *s, BootstrapCheckpoint *ck, BootstrapCheckpoint **from)
{
    const BootstrapOptions *o = r->o;
    unsigned long long none[MAX_RESUME_TRIES] = { 0 };
    *from = NULL;
    if (o->resume && !o->fresh && bootstrap_pick_checkpoint(r->ckdir, s->failed_after, none, 0, ck, stderr))
        *from = ck;
    if (!*from) {
        if (o->resume && !o->fresh)
            info(r, "no checkpoint to resume from in %s: starting from the beginning", r->ckdir);
        if (clean_run(r) != 0)
            return -1;
        s->failed_after = ULLONG_MAX;
        s->completed = 0;
    }
    if (state_write(r->state_path, s) != 0)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot write %s: %s", r->state_path, strerror(errno)), -1;
    r->steps_log = fopen(r->steps_path, "a");
    return 0;
}

/* Where an attempt starts, said on the progress output: the step the
 * checkpoint follows (with the console before it, for a failure report),
 * or the boot. */
static void run_announce(Runner *r, BootstrapCheckpoint *from)
{
    const BootstrapOptions *o = r->o;
    r->ring_n = r->ring_start = 0;
    if (from) {
        char last[256];
        r->done = steps_before(r->steps_path, from->ticks, last, sizeof last);
        snprintf(r->step, sizeof r->step, "%s", last);
        r->last_ticks = from->ticks;
        /* the console before the checkpoint, for a failure report */
        char *save = NULL;
        for (char *line = strtok_r(from->tail, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            ring_push(r, line);
        char g[32];
        fmt_dur(from->ticks / 1e9, g, sizeof g);
        info(r, "resuming from %s (guest time %s, console byte %llu, after step %d/%d%s%s)", from->path, g,
             from->console_bytes, r->done, r->total, r->step[0] ? ": " : "", r->step);
    } else {
        r->done = 0;
        r->step[0] = 0;
        r->last_ticks = 0;
        info(r, "booting %s (%d steps defined in %s)", o->kernel, r->total, o->tree);
    }
}

/* 4-7. Run, watch, and when a checkpoint cannot be resumed try an older
 * one (up to MAX_RESUME_TRIES); SIGINT, SIGTERM and SIGHUP stop the child. */
static AttemptEnd run_attempts(Runner *r, State *s, BootstrapCheckpoint *ck, BootstrapCheckpoint **from,
                               Attempt *a)
{
    unsigned long long skip[MAX_RESUME_TRIES] = { 0 };
    int n_skip = 0;
    AttemptEnd end;
    g_signal = 0;
    host_catch_stop_signals(on_signal, true);
    for (;;) {
        memset(a, 0, sizeof *a);
        run_announce(r, *from);
        end = run_attempt(r, *from, a);
        if (end == ATTEMPT_RESUME_REFUSED && n_skip < MAX_RESUME_TRIES && !g_signal) {
            print_child_errors(r);
            fprintf(stderr, "lbvm: %s cannot be resumed; trying an older checkpoint\n", (*from)->path);
            skip[n_skip++] = (*from)->number;
            if (!bootstrap_pick_checkpoint(r->ckdir, s->failed_after, skip, n_skip, ck, stderr)) {
                lbvm_error(BOOTSTRAP_EXIT_SETUP, "no checkpoint in %s can be resumed: run with --fresh to start over", r->ckdir);
                end = ATTEMPT_SETUP;
                break;
            }
            continue;
        }
        break;
    }
    host_restore_stop_signals();
    return end;
}

/* The exit code, and what to say: completed, stopped, or why it failed. */
static int run_verdict(Runner *r, AttemptEnd end, const BootstrapCheckpoint *from, const Attempt *a, State *s)
{
    if (end == ATTEMPT_SETUP)
        return BOOTSTRAP_EXIT_SETUP;
    if (end == ATTEMPT_RESUME_REFUSED) {
        print_child_errors(r);
        lbvm_error(BOOTSTRAP_EXIT_SETUP, "cannot resume from %s: run with --fresh to start over", from ? from->path : "?");
        return BOOTSTRAP_EXIT_SETUP;
    }
    if (r->completed) {
        s->completed = 1;
        state_write(r->state_path, s);
        summary(r, a);
        return BOOTSTRAP_EXIT_OK;
    }
    if (a->stopped_by_user && !r->fail_reason) {
        commit_line(r);
        fflush(r->out);
        if (r->saved_ckpt[0])
            fprintf(stderr, "lbvm: stopped by signal %d; the guest saved %s: continue with 'lbvm bootstrap "
                    "--resume' and the same options\n", (int)g_signal, r->saved_ckpt);
        else
            fprintf(stderr, "lbvm: stopped by signal %d; continue with 'lbvm bootstrap --resume' and the same "
                    "options\n", (int)g_signal);
        return BOOTSTRAP_EXIT_STOPPED;
    }
    return report_failure(r, a, s);
}

int bootstrap_run(const BootstrapOptions *o)
{
    Runner *r = calloc(1, sizeof *r);
    if (!r)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "out of memory");
    r->o = o;
    r->out = o->out ? o->out : stdout;
    r->tty = host_isatty(fileno(r->out));
    r->t0 = now_s();
    int code = BOOTSTRAP_EXIT_SETUP, lockfd = -1, have_re = 0, n_ckpt = 0;
    State s;
    BootstrapCheckpoint ck, *from = NULL;
    Attempt a;
    if (run_setup(r, &have_re, &lockfd) == 0 && run_check_state(r, &s, &n_ckpt, &code) == 0 &&
        run_prepare(r, &s, n_ckpt) == 0 && run_pick_start(r, &s, &ck, &from) == 0) {
        AttemptEnd end = run_attempts(r, &s, &ck, &from, &a);
        code = run_verdict(r, end, from, &a, &s);
    }
    if (r->steps_log)
        fclose(r->steps_log);
    if (have_re)
        regfree(&r->re);
    free(r->regex);
    free((char *)r->opts.kernel);
    stage0_phases_free(&r->phases);
    fetch_list_free(&r->missing);
    if (lockfd >= 0)
        close(lockfd);
    fflush(r->out);
    free(r);
    return code;
}
