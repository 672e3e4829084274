/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Run loop with checkpoints, journal and verification (session.h). */
#include "emu/session.h"
#include "base/platform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/ahci.h"
#include "devices/disk.h"

static volatile int g_stop_signal;

static void on_signal(int sig)
{
    g_stop_signal = sig;
}

void session_install_signals(void)
{
    host_catch_stop_signals(on_signal, false);
}

void session_catch_signals(Machine *m)
{
    session_install_signals();
    m->host_stop = &g_stop_signal;
}

static void hexs(const uint8_t *b, int n, char *out)
{
    for (int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static int unhex(const char *s, uint8_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return s[2 * n] == 0 || s[2 * n] == ' ' || s[2 * n] == '\n' ? 0 : -1;
}

static const char *const event_names[JOURNAL_N_EVENTS] = {
    "blocks", "TLB read fills", "TLB write fills", "TLB fetch fills", "code flushes", "page faults",
    "other exceptions", "int n", "hardware interrupts", "halts", "rdtsc",
};

/* The counts a point records: guest events only (emulation starts follow
 * host-side pauses too). */
static void journal_events(const CPUStats *c, uint64_t ev[JOURNAL_N_EVENTS])
{
    uint64_t exc = 0;
    for (int i = 0; i < 32; i++)
        exc += c->exceptions[i];
    const uint64_t v[JOURNAL_N_EVENTS] = { c->blocks, c->tlb_fills[0], c->tlb_fills[1], c->tlb_fills[2],
                                           c->code_flushes, c->exceptions[14], exc - c->exceptions[14],
                                           c->soft_ints, c->hw_irqs, c->halts, c->rdtsc };
    memcpy(ev, v, sizeof v);
}

void session_point(Machine *m, const char *kind, bool link, JournalPoint *p)
{
    memset(p, 0, sizeof *p);
    p->ticks = m->clock.now;
    snprintf(p->kind, sizeof p->kind, "%s", kind);
    if (link)
        machine_console_link(m, p->console);
    else
        memcpy(p->console, m->console_chain, 32);
    machine_state_digest(m, p->state);
    machine_ram_digest(m, p->ram);
    p->n_disks = m->cfg.n_disks;
    for (int i = 0; i < p->n_disks; i++)
        machine_disk_digest(m, i, p->disk[i]);
    p->has_events = m->events_known;
    if (p->has_events)
        journal_events(cpu_stats(m->cpu), p->events);
    /* As at a checkpoint: a verifying run, which takes none, must see the
     * same TLB refills (they set accessed bits) as the recorded one. */
    cpu_flush_caches(m->cpu);
}

void journal_write_point(FILE *f, const JournalPoint *p)
{
    char c[65], s[65], r[65];
    hexs(p->console, 32, c);
    hexs(p->state, 32, s);
    hexs(p->ram, 32, r);
    fprintf(f, "point %llu %s console=%s state=%s ram=%s", (unsigned long long)p->ticks, p->kind, c, s, r);
    for (int i = 0; i < p->n_disks; i++) {
        hexs(p->disk[i], 32, c);
        fprintf(f, " disk%d=%s", i, c);
    }
    if (p->has_events)
        for (int i = 0; i < JOURNAL_N_EVENTS; i++)
            fprintf(f, "%s%llu", i ? "," : " events=", (unsigned long long)p->events[i]);
    fputc('\n', f);
    fflush(f);
}

/* ---- the run ---- */

typedef struct LineCtx {
    regex_t *pattern;
    bool matched;
    char line[160];
    const SessionOpts *o;
    Machine *m;
} LineCtx;

static bool on_line(void *opaque, const char *line)
{
    LineCtx *c = opaque;
    if (c->pattern && regexec(c->pattern, line, 0, NULL, 0) == 0) {
        c->matched = true;
        snprintf(c->line, sizeof c->line, "%s", line);
        if (c->o->on_step)
            c->o->on_step(c->o->observer, c->m->clock.now, line);
        return true;
    }
    return false;
}

typedef struct InputCtx {
    FILE *journal;
} InputCtx;

static void on_input(void *opaque, uint64_t ticks, const uint8_t *buf, int len)
{
    InputCtx *c = opaque;
    if (!c->journal)
        return;
    fprintf(c->journal, "input %llu ", (unsigned long long)ticks);
    for (int i = 0; i < len; i++)
        fprintf(c->journal, "%02x", buf[i]);
    fputc('\n', c->journal);
    fflush(c->journal);
}

static bool same_point(const JournalPoint *a, const JournalPoint *b, char *what, size_t wl)
{
    if (a->ticks != b->ticks) {
        snprintf(what, wl, "guest time");
        return false;
    }
    if (memcmp(a->console, b->console, 32)) {
        snprintf(what, wl, "console");
        return false;
    }
    if (memcmp(a->state, b->state, 32)) {
        snprintf(what, wl, "CPU and device state");
        return false;
    }
    if (memcmp(a->ram, b->ram, 32)) {
        snprintf(what, wl, "RAM");
        return false;
    }
    if (a->n_disks != b->n_disks) {
        snprintf(what, wl, "number of disks");
        return false;
    }
    for (int i = 0; i < a->n_disks; i++)
        if (memcmp(a->disk[i], b->disk[i], 32)) {
            snprintf(what, wl, "disk %d", i);
            return false;
        }
    /* b is the recorded point; a run whose counts do not start at power-on
     * (verify --from an old checkpoint) has none to compare. */
    if (a->has_events && b->has_events)
        for (int i = 0; i < JOURNAL_N_EVENTS; i++)
            if (a->events[i] != b->events[i]) {
                snprintf(what, wl, "the count of %s (recorded %llu, this run %llu)", event_names[i],
                         (unsigned long long)b->events[i], (unsigned long long)a->events[i]);
                return false;
            }
    return true;
}

bool session_check_point(Machine *m, const JournalPoint *want, int index, SessionResult *r)
{
    memset(r, 0, sizeof *r);
    r->end = MACHINE_PAUSED;
    session_point(m, want->kind, false, &r->got);
    if (same_point(&r->got, want, r->what, sizeof r->what)) {
        r->compared = 1;
        return true;
    }
    r->want = *want;
    r->diverged = true;
    r->index = index;
    return false;
}

#define SESSION_PATH_MAX 4200

/* Takes a checkpoint into path; on failure r->error says that the run stops,
 * why, and which checkpoint of this run was the last to be written. */
static int session_checkpoint(Machine *m, const SessionOpts *o, SessionResult *r, char last[SESSION_PATH_MAX],
                              char path[SESSION_PATH_MAX])
{
    char why[400];
    if (machine_checkpoint(m, o->cs, path, SESSION_PATH_MAX, why, sizeof why) == 0) {
        snprintf(last, SESSION_PATH_MAX, "%s", path);
        return 0;
    }
    if (last[0])
        snprintf(r->error, sizeof r->error, "a checkpoint failed, so the run stops here (%s); the last one written is %s",
                 why, last);
    else
        snprintf(r->error, sizeof r->error, "a checkpoint failed, so the run stops here (%s); this run wrote none", why);
    return -1;
}

/* One session_run: where it is in the journal it replays or checks. */
typedef struct Run {
    Machine *m;
    const SessionOpts *o;
    SessionResult *r;
    LineCtx lc;
    InputCtx ic;
    bool verify;
    int next_expect, next_input;
    uint64_t next_every;
    char last[SESSION_PATH_MAX];        /* the last checkpoint this run wrote */
} Run;

/* A step's answer: go on running, or session_run returns this (0, -1). */
#define RUN_GO 1

/* Hooks the console and input observers in, and skips the points and
 * inputs before the start (verify from a checkpoint: not ours). */
static void run_begin(Run *c)
{
    Machine *m = c->m;
    const SessionOpts *o = c->o;
    m->line_cb = on_line;
    m->line_opaque = &c->lc;
    m->input_cb = on_input;
    m->input_opaque = &c->ic;
    while (c->verify && c->next_expect < o->n_expect && o->expect[c->next_expect].ticks <= m->clock.now)
        c->next_expect++;
    while (o->inputs && c->next_input < o->n_inputs && o->inputs[c->next_input].ticks < m->clock.now)
        c->next_input++;
    c->next_every = o->every ? (m->clock.now / o->every + 1) * o->every : VCLOCK_NEVER;
}

/* The next pause: a checkpoint every o->every ticks, the next point to
 * check, the next input to replay. */
static uint64_t run_next_pause(const Run *c)
{
    const SessionOpts *o = c->o;
    uint64_t target = c->next_every;
    if (c->verify && c->next_expect < o->n_expect && o->expect[c->next_expect].ticks < target)
        target = o->expect[c->next_expect].ticks;
    if (o->inputs && c->next_input < o->n_inputs && o->inputs[c->next_input].ticks < target)
        target = o->inputs[c->next_input].ticks;
    return target;
}

/* The host failed the guest's disk I/O: no checkpoint (a command is half
 * done and the host disk is failing), no journal point: the last
 * checkpoint stands. */
static int run_host_error(Run *c, MachineEnd end)
{
    c->r->end = end;
    /* A message cut at r->error's size is fine (gcc, seeing c->last's size,
     * would say so). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
    snprintf(c->r->error, sizeof c->r->error, "the host failed the guest's disk I/O, so the run stops here without a "
             "checkpoint (the guest was not told): %s%s%s", machine_host_error(c->m),
             c->last[0] ? "; the last checkpoint is " : "", c->last);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    return -1;
}

/* The guest ended (off, reset, limit, crash): verify compares the end
 * point; a run takes a final checkpoint and journal point. */
static int run_guest_ended(Run *c, MachineEnd end)
{
    Machine *m = c->m;
    const SessionOpts *o = c->o;
    SessionResult *r = c->r;
    r->end = end;
    if (c->verify) {
        if (c->next_expect < o->n_expect) {
            /* The end point, or the recorded run went further. */
            const JournalPoint *want = &o->expect[c->next_expect];
            session_point(m, "end", true, &r->got);
            if (!same_point(&r->got, want, r->what, sizeof r->what) || c->next_expect + 1 < o->n_expect) {
                if (!r->what[0] || c->next_expect + 1 < o->n_expect)
                    snprintf(r->what, sizeof r->what, "the run ended here, before this point: it");
                r->want = *want;
                r->diverged = true;
                r->index = c->next_expect;
            } else {
                c->next_expect++;
                r->compared++;
            }
        }
        return 0;
    }
    /* One console link per point: the checkpoint makes it, the
     * journal line reuses it. */
    bool linked = false;
    m->ended = 1 + (int)end;
    if (o->cs && end != MACHINE_FATAL) {
        char path[SESSION_PATH_MAX];
        if (session_checkpoint(m, o, r, c->last, path) < 0)
            return -1;
        linked = true;
        if (!o->quiet)
            fprintf(stderr, "lbvm: final checkpoint %s\n", path);
    }
    if (o->journal) {
        JournalPoint p;
        session_point(m, "end", !linked, &p);
        journal_write_point(o->journal, &p);
    }
    return 0;
}

/* Replayed console input goes in exactly where it was taken. */
static void run_feed_inputs(Run *c, uint64_t now)
{
    const SessionOpts *o = c->o;
    while (o->inputs && c->next_input < o->n_inputs && o->inputs[c->next_input].ticks == now) {
        const JournalInput *in = &o->inputs[c->next_input++];
        machine_feed_input(c->m, in->bytes, in->len);
    }
}

/* SIGINT, SIGTERM or the console window asked to stop: a last checkpoint
 * (not when verifying) and how to resume. */
static int run_stop_requested(Run *c)
{
    Machine *m = c->m;
    const SessionOpts *o = c->o;
    SessionResult *r = c->r;
    r->interrupted = true;
    r->end = MACHINE_PAUSED;
    if (o->cs && !c->verify) {
        char path[SESSION_PATH_MAX];
        if (session_checkpoint(m, o, r, c->last, path) < 0)
            return -1;
        if (o->journal) {
            JournalPoint p;
            session_point(m, "signal", false, &p);
            journal_write_point(o->journal, &p);
        }
        if (g_stop_signal == MACHINE_STOP_WINDOW)
            fprintf(stderr, "lbvm: stopped from the console window; resume with: lbvm resume %s\n", path);
        else
            fprintf(stderr, "lbvm: stopped by signal %d; resume with: lbvm resume %s\n", g_stop_signal, path);
    } else if (g_stop_signal == MACHINE_STOP_WINDOW && !c->verify) {
        fprintf(stderr, "lbvm: stopped from the console window (no --checkpoint-dir: nothing saved)\n");
    } else {
        fprintf(stderr, "lbvm: stopped by signal %d (no --checkpoint-dir: nothing saved)\n", g_stop_signal);
    }
    return 0;
}

/* No console output and no disk I/O for o->stall ticks: a checkpoint of
 * the stalled run (not when verifying). */
static int run_stalled(Run *c)
{
    SessionResult *r = c->r;
    r->stalled = true;
    r->end = MACHINE_PAUSED;
    if (c->o->cs && !c->verify) {
        char path[SESSION_PATH_MAX];
        if (session_checkpoint(c->m, c->o, r, c->last, path) < 0)
            return -1;
        fprintf(stderr, "lbvm: checkpoint of the stalled run: %s\n", path);
    }
    return 0;
}

/* verify: at the next recorded point, compare; stop at a divergence (or
 * after the last point with o->stop_at_last). */
static int run_check_point(Run *c, uint64_t now)
{
    const SessionOpts *o = c->o;
    SessionResult *r = c->r;
    if (c->next_expect < o->n_expect && now >= o->expect[c->next_expect].ticks) {
        const JournalPoint *want = &o->expect[c->next_expect];
        session_point(c->m, want->kind, true, &r->got);
        if (!same_point(&r->got, want, r->what, sizeof r->what)) {
            r->want = *want;
            r->diverged = true;
            r->index = c->next_expect;
            r->end = MACHINE_PAUSED;
            return 0;
        }
        c->next_expect++;
        r->compared++;
        if (o->stop_at_last && c->next_expect == o->n_expect) {
            r->end = MACHINE_PAUSED;
            return 0;
        }
    }
    return RUN_GO;
}

/* A point is due (every o->every ticks, or after a console line matching
 * the pattern): a checkpoint, and a journal point. */
static int run_take_point(Run *c, uint64_t now)
{
    Machine *m = c->m;
    const SessionOpts *o = c->o;
    JournalPoint p;
    const char *kind = c->lc.matched ? "marker" : "every";
    if (o->cs) {
        char path[SESSION_PATH_MAX];
        /* Host time here is for the person reading stderr only. */
        double t0 = host_monotonic();
        if (session_checkpoint(m, o, c->r, c->last, path) < 0)
            return -1;
        double t1 = host_monotonic();
        if (o->on_checkpoint)
            o->on_checkpoint(o->observer, now, path);
        struct stat st;
        if (!o->quiet)
            fprintf(stderr, "lbvm: checkpoint %s at %llu ticks (%.1f MiB in %.2f s)%s%s\n", path,
                    (unsigned long long)now, stat(path, &st) == 0 ? st.st_size / 1048576.0 : 0.0,
                    t1 - t0, c->lc.matched ? " after: " : "",
                    c->lc.matched ? c->lc.line : "");
    }
    if (o->journal) {
        session_point(m, kind, !o->cs, &p);
        journal_write_point(o->journal, &p);
    }
    return RUN_GO;
}

/* What the machine did when it paused: one step, or the end of the run. */
static int run_after_pause(Run *c)
{
    uint64_t now = c->m->clock.now;
    run_feed_inputs(c, now);
    if (g_stop_signal)
        return run_stop_requested(c);
    if (c->m->stalled)
        return run_stalled(c);
    bool every_due = c->next_every != VCLOCK_NEVER && now >= c->next_every;
    if (every_due)
        c->next_every = (now / c->o->every + 1) * c->o->every;
    bool point = every_due || c->lc.matched;
    if (c->verify)
        return run_check_point(c, now);
    return point ? run_take_point(c, now) : RUN_GO;
}

int session_run(Machine *m, const SessionOpts *o, SessionResult *r)
{
    memset(r, 0, sizeof *r);
    Run run = { .m = m, .o = o, .r = r, .lc = { o->pattern, false, "", o, m },
                .ic = { o->expect ? NULL : o->journal }, .verify = o->expect != NULL }, *c = &run;
    run_begin(c);
    int rc = RUN_GO;
    if (m->ended) {
        /* A final checkpoint: the run had ended there; say how, again. */
        r->end = (MachineEnd)(m->ended - 1);
        r->already_ended = true;
        rc = 0;
    } else {
        /* Stalled once no console byte and no disk transfer was seen for
         * `stall` ticks: the machine watches at the guest's own timer deadlines
         * (a pause of ours would change the TLB refills of this run only). */
        machine_watch_stall(m, o->stall);
    }
    while (rc == RUN_GO) {
        machine_pause_at(m, run_next_pause(c));
        c->lc.matched = false;
        MachineEnd end = machine_run(m);
        machine_pause_at(m, VCLOCK_NEVER);
        if (end == MACHINE_HOST_ERROR)
            rc = run_host_error(c, end);
        else if (end != MACHINE_PAUSED)
            rc = run_guest_ended(c, end);
        else
            rc = run_after_pause(c);
    }
    return rc;
}

/* ---- reading a journal ---- */

char *journal_boot_value(const char *line, const char *key, int nth)
{
    char k[32];
    snprintf(k, sizeof k, " %s=", key);
    char padded[8300];
    snprintf(padded, sizeof padded, " %s", line);
    const char *p = padded;
    for (int i = 0; i <= nth; i++) {
        p = strstr(p, k);
        if (!p)
            return NULL;
        p += strlen(k);
    }
    size_t n = strcspn(p, " ");
    char *v = malloc(n + 1), *o = v;
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        if (p[i] == '%' && i + 2 < n + 1 && sscanf(p + i + 1, "%2x", &x) == 1) {
            *o++ = (char)x;
            i += 2;
        } else {
            *o++ = p[i];
        }
    }
    *o = 0;
    return v;
}

/* "N,N,...": exactly JOURNAL_N_EVENTS decimal counts, then the line's end. */
static int read_events(const char *s, uint64_t ev[JOURNAL_N_EVENTS])
{
    for (int i = 0; i < JOURNAL_N_EVENTS; i++) {
        if (*s < '0' || *s > '9')
            return -1;
        char *end;
        errno = 0;
        ev[i] = strtoull(s, &end, 10);
        if (errno || *end != (i + 1 < JOURNAL_N_EVENTS ? ',' : 0))
            return -1;
        s = end + 1;
    }
    return 0;
}

int journal_read(const char *path, char *boot_line, size_t boot_len, JournalPoint **pts, int *n_pts,
                 JournalInput **inputs, int *n_inputs, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open journal %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, cap_p = 0, cap_i = 0, rc = -1;
    *pts = NULL;
    *inputs = NULL;
    *n_pts = *n_inputs = 0;
    boot_line[0] = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] == '\n')
            line[--n] = 0;
        if (lineno == 1) {
            if (strcmp(line, "# lbvm journal 1")) {
                snprintf(err, errlen, "%s: not an lbvm journal (first line)", path);
                goto out;
            }
            continue;
        }
        if (!strncmp(line, "boot ", 5)) {
            snprintf(boot_line, boot_len, "%s", line + 5);
        } else if (!strncmp(line, "point ", 6)) {
            if (*n_pts == cap_p) {
                cap_p = cap_p ? cap_p * 2 : 64;
                JournalPoint *np = realloc(*pts, (size_t)cap_p * sizeof *np);
                if (!np)
                    goto oom;
                *pts = np;
            }
            JournalPoint *p = &(*pts)[*n_pts];
            memset(p, 0, sizeof *p);
            unsigned long long t;
            int off = 0;
            if (sscanf(line + 6, "%llu %15s%n", &t, p->kind, &off) != 2)
                goto bad;
            p->ticks = t;
            char *s = line + 6 + off;
            char *c = strstr(s, " console="), *st = strstr(s, " state="), *r = strstr(s, " ram=");
            if (!c || !st || !r || unhex(c + 9, p->console, 32) || unhex(st + 7, p->state, 32) ||
                unhex(r + 5, p->ram, 32))
                goto bad;
            for (int i = 0; i < MACHINE_MAX_DISKS; i++) {
                char key[16];
                snprintf(key, sizeof key, " disk%d=", i);
                char *d = strstr(s, key);
                if (!d)
                    break;
                if (unhex(d + strlen(key), p->disk[i], 32))
                    goto bad;
                p->n_disks = i + 1;
            }
            char *ev = strstr(s, " events=");
            if (ev && read_events(ev + 8, p->events) < 0)
                goto bad;
            p->has_events = ev != NULL;
            if (*n_pts && p->ticks < (*pts)[*n_pts - 1].ticks)
                goto bad;
            (*n_pts)++;
        } else if (!strncmp(line, "input ", 6)) {
            if (*n_inputs == cap_i) {
                cap_i = cap_i ? cap_i * 2 : 16;
                JournalInput *ni = realloc(*inputs, (size_t)cap_i * sizeof *ni);
                if (!ni)
                    goto oom;
                *inputs = ni;
            }
            JournalInput *in = &(*inputs)[*n_inputs];
            unsigned long long t;
            char hex[1024];
            if (sscanf(line + 6, "%llu %1023s", &t, hex) != 2 || strlen(hex) % 2 || !*hex)
                goto bad;
            in->ticks = t;
            in->len = (int)(strlen(hex) / 2);
            in->bytes = malloc((size_t)in->len);
            if (!in->bytes)
                goto oom;
            if (unhex(hex, in->bytes, in->len)) {
                free(in->bytes);
                goto bad;
            }
            (*n_inputs)++;
        } else if (line[0] != '#' && line[0] && strncmp(line, "resume ", 7)) {
            goto bad;
        }
    }
    if (lineno == 0) {
        snprintf(err, errlen, "%s: empty journal", path);
        goto out;
    }
    rc = 0;
    goto out;
bad:
    snprintf(err, errlen, "%s:%d: malformed journal line", path, lineno);
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    free(line);
    fclose(f);
    return rc;
}
