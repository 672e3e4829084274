/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host (platform.h), for POSIX hosts: Linux first, with what other
 * Unix-like hosts lack under #ifdef. The only file compiled with
 * _GNU_SOURCE (CMakeLists.txt). */
#include "base/platform.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <link.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>
#endif

static size_t host_page_size(void)
{
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (size_t)n : 4096;
}

/* Linux: /proc/self/pagemap knows, for each page, "present" and "swapped"
 * (any non-present page-table entry that is not empty: swap, zram,
 * migration); neither: the entry is empty, the page never backed. Both are
 * visible without privileges (only frame numbers are hidden). mincore cannot
 * tell an empty entry from a swapped-out page. Two ways to ask: the
 * PAGEMAP_SCAN ioctl (Linux 6.7+) returns ranges and skips empty page tables
 * wholesale, so never-touched RAM costs next to nothing; reading the file
 * costs 8 bytes per page. */
#ifdef __linux__
/* <linux/fs.h>'s, spelled out: older headers lack them. */
struct lbvm_page_region {
    uint64_t start, end, categories;
};
struct lbvm_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define LBVM_PAGEMAP_SCAN _IOWR('f', 16, struct lbvm_pm_scan_arg)
#define LBVM_PAGE_IS_PRESENT (1u << 3)
#define LBVM_PAGE_IS_SWAPPED (1u << 4)

int host_page_states_scan(const void *addr, size_t len, uint8_t *vec)
{
    size_t hp = host_ops.page_size();
    uint64_t lo = (uintptr_t)addr, hi = lo + len, at = lo;
    struct lbvm_page_region r[256];
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    memset(vec, 0, len / hp);
    while (at < hi) {
        struct lbvm_pm_scan_arg a = {
            .size = sizeof a, .start = at, .end = hi, .vec = (uintptr_t)r, .vec_len = 256,
            .category_anyof_mask = LBVM_PAGE_IS_PRESENT | LBVM_PAGE_IS_SWAPPED,
            .return_mask = LBVM_PAGE_IS_PRESENT | LBVM_PAGE_IS_SWAPPED,
        };
        int n = ioctl(fd, LBVM_PAGEMAP_SCAN, &a);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || n > 256 || a.walk_end <= at || a.walk_end > hi)
            goto fail;
        for (int i = 0; i < n; i++) {
            if (r[i].start < at || r[i].end > a.walk_end || r[i].start >= r[i].end || (r[i].start - lo) % hp ||
                (r[i].end - lo) % hp)
                goto fail;
            memset(vec + (r[i].start - lo) / hp,
                   (r[i].categories & LBVM_PAGE_IS_PRESENT ? HOST_PAGE_PRESENT : 0) |
                       (r[i].categories & LBVM_PAGE_IS_SWAPPED ? HOST_PAGE_SWAPPED : 0),
                   (r[i].end - r[i].start) / hp);
        }
        at = a.walk_end;
    }
    close(fd);
    return 0;
fail:
    close(fd);
    return -1;
}

int host_page_states_read(const void *addr, size_t len, uint8_t *vec)
{
    size_t hp = host_ops.page_size(), n = len / hp, done = 0;
    uint64_t buf[2048];
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (done < n) {
        size_t k = n - done < 2048 ? n - done : 2048, got = 0;
        off_t at = (off_t)(((uintptr_t)addr / hp + done) * 8);
        while (got < k * 8) {
            ssize_t r = pread(fd, (char *)buf + got, k * 8 - got, at + (off_t)got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0 || r % 8) {
                close(fd);
                return -1;
            }
            got += (size_t)r;
        }
        for (size_t i = 0; i < k; i++)
            vec[done + i] = (uint8_t)((buf[i] >> 63 & 1 ? HOST_PAGE_PRESENT : 0) |
                                      (buf[i] >> 62 & 1 ? HOST_PAGE_SWAPPED : 0));
        done += k;
    }
    close(fd);
    return 0;
}
#else
int host_page_states_scan(const void *addr, size_t len, uint8_t *vec)
{
    (void)addr, (void)len, (void)vec;
    return -1;
}
int host_page_states_read(const void *addr, size_t len, uint8_t *vec)
{
    (void)addr, (void)len, (void)vec;
    return -1;
}
#endif

static int host_page_states(const void *addr, size_t len, uint8_t *vec)
{
    return host_page_states_scan(addr, len, vec) == 0 ? 0 : host_page_states_read(addr, len, vec);
}

HostOps host_ops = { host_page_size, host_page_states };

void host_pages_to_read(const void *addr, size_t len, size_t unit, uint8_t *out)
{
    size_t n = len / unit, hp = host_ops.page_size();
    if (!n || !hp || (hp & (hp - 1)) || !unit || (unit & (unit - 1)))
        goto all;
    uintptr_t base = (uintptr_t)addr & ~(uintptr_t)(hp - 1), off = (uintptr_t)addr - base;
    size_t nh = (off + len + hp - 1) / hp;
    if (hp == unit && !off) {               /* the usual case: no second vector */
        if (host_ops.page_states(addr, len, out) < 0)
            goto all;
        for (size_t u = 0; u < n; u++)
            out[u] = out[u] != 0;
        return;
    }
    uint8_t *st = malloc(nh);
    if (!st || host_ops.page_states((const void *)base, nh * hp, st) < 0) {
        free(st);
        goto all;
    }
    /* each unit is read when any host page under it was backed */
    int us = __builtin_ctzll(unit);
    memset(out, 0, n);
    for (size_t h = 0; h < nh; h++) {
        if (!st[h])
            continue;
        size_t from = h * hp > off ? (h * hp - off) >> us : 0, to = ((h + 1) * hp - 1 - off) >> us;
        if (to >= n)
            to = n - 1;
        if (from <= to)
            memset(out + from, 1, to - from + 1);
    }
    free(st);
    return;
all:
    memset(out, 1, n);
}

/* ---- Memory ---- */

void *host_ram_alloc(size_t len)
{
    /* Anonymous mapping: zero-filled, pages materialise on first touch. */
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_NORESERVE
    flags |= MAP_NORESERVE;
#endif
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    /* Huge pages where the host offers them: far fewer host page faults as
     * the guest touches its memory (invisible to the guest). */
    madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;
}

void host_ram_free(void *p, size_t len)
{
    if (p)
        munmap(p, len);
}

void *host_map_file(int fd, size_t len)
{
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

void host_unmap_file(void *p, size_t len)
{
    if (p)
        munmap(p, len);
}

/* ---- Durability, atomic replace, locks ---- */

int host_fsync(int fd)
{
    return fsync(fd);
}

int host_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int host_fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int rc = host_fsync_dir(dirname(copy));
    free(copy);
    return rc;
}

int host_replace(const char *from, const char *to)
{
    return rename(from, to);
}

int host_link_new(const char *from, const char *to)
{
    return link(from, to);
}

int host_temp_file(char *tmpl)
{
#ifdef __linux__
    return mkostemp(tmpl, O_CLOEXEC);
#else
    int fd = mkstemp(tmpl);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
#endif
}

int host_lock(int fd)
{
    /* flock, not fcntl: an fcntl lock belongs to the process and would not
     * pass to the child (steps/bootstrap.c's guest keeps the lock). */
    return flock(fd, LOCK_EX | LOCK_NB);
}

/* ---- Files ---- */

int64_t host_seek_data(int fd, int64_t at)
{
#ifdef SEEK_DATA
    return (int64_t)lseek(fd, (off_t)at, SEEK_DATA);
#else
    (void)fd, (void)at;
    errno = EINVAL;
    return -1;
#endif
}

int64_t host_seek_hole(int fd, int64_t at)
{
#ifdef SEEK_HOLE
    return (int64_t)lseek(fd, (off_t)at, SEEK_HOLE);
#else
    (void)fd, (void)at;
    errno = EINVAL;
    return -1;
#endif
}

int host_copy_fd(int in, int out)
{
    int rc = 0, use_cfr = 1;
    char *buf = NULL;
#ifndef __linux__
    use_cfr = 0;
#endif
    for (;;) {
        ssize_t k;
        if (use_cfr) {
#ifdef __linux__
            k = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
            if (k < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                use_cfr = 0;
                continue;
            }
#else
            k = -1;
#endif
        } else {
            if (!buf && !(buf = malloc(1 << 20))) {
                rc = -1;
                break;
            }
            k = read(in, buf, 1 << 20);
            for (ssize_t w = 0; k > 0 && w < k;) {
                ssize_t m = write(out, buf + w, (size_t)(k - w));
                if (m < 0 && errno == EINTR)
                    continue;
                if (m <= 0) {
                    k = -1;
                    break;
                }
                w += m;
            }
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            rc = -1;
        if (k <= 0)
            break;
    }
    free(buf);
    return rc;
}

static int remove_failed;       /* errno of the first entry that stayed */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (remove(path) != 0 && errno != ENOENT && !remove_failed)
        remove_failed = errno;
    return 0;
}

int host_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    remove_failed = 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return -1;
    errno = remove_failed;
    return remove_failed ? -1 : 0;
}

char *host_realpath(const char *path, char *resolved)
{
    return realpath(path, resolved);
}

void host_want_open_files(uint64_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)want)
        return;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

uint32_t host_dev_major(uint64_t dev)
{
    return (uint32_t)major((dev_t)dev);
}

uint32_t host_dev_minor(uint64_t dev)
{
    return (uint32_t)minor((dev_t)dev);
}

uint64_t host_dev_make(uint32_t maj, uint32_t min)
{
    return (uint64_t)makedev(maj, min);
}

int host_pipe(int fd[2])
{
#ifdef __linux__
    return pipe2(fd, O_CLOEXEC);
#else
    if (pipe(fd) != 0)
        return -1;
    fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

/* ---- Paths ---- */

const char *host_tmp_dir(void)
{
    const char *td = getenv("TMPDIR");
    return td && *td && strlen(td) < 4000 ? td : "/tmp";
}

int host_cache_dir(const char *leaf, char *buf, size_t len)
{
    const char *x = getenv("XDG_CACHE_HOME");
    int n;
    /* The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored. */
    if (x && x[0] == '/')
        n = snprintf(buf, len, "%s/%s", x, leaf);
    else {
        const char *h = getenv("HOME");
        if (!h || !*h)
            return -1;
        n = snprintf(buf, len, "%s/.cache/%s", h, leaf);
    }
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int host_self_exe(char *buf, size_t len)
{
    if (len < 2)
        return -1;
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n > 0) {
        buf[n] = 0;
        if (access(buf, X_OK) == 0)
            return 0;
    }
#ifdef __GLIBC__
    /* no /proc: the name this program was started by */
    if (program_invocation_name && *program_invocation_name) {
        snprintf(buf, len, "%s", program_invocation_name);
        return 0;
    }
#endif
    return -1;
}

/* ---- Child processes and signals ---- */

long host_spawn(const HostSpawn *s)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
#ifdef __linux__
    /* the child does not outlive the lbvm that started it */
    if (s->die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
    }
#else
    (void)parent;
#endif
    if (s->default_signals) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGHUP, &dfl, NULL);
        sigaction(SIGPIPE, &dfl, NULL);
    }
    if (dup2(s->fd_in, 0) < 0 || dup2(s->fd_out, 1) < 0 || dup2(s->fd_err, 2) < 0)
        _exit(127);
    if (s->dir && chdir(s->dir) != 0)
        _exit(127);
    if (s->envp)
        execve(s->exe, s->argv, s->envp);
    else
        execv(s->exe, s->argv);
    if (s->say_exec_error)
        dprintf(2, "lbvm: cannot run %s: %s\n", s->exe, strerror(errno));
    _exit(127);
}

long host_wait(long pid, bool block, HostExit *e)
{
    int st;
    struct rusage ru;
    pid_t w = wait4((pid_t)pid, &st, block ? 0 : WNOHANG, &ru);
    if (w <= 0)
        return w;
    e->exited = WIFEXITED(st);
    e->code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    e->cpu_s = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return w;
}

void host_kill(long pid, bool hard)
{
    kill((pid_t)pid, hard ? SIGKILL : SIGTERM);
}

static struct sigaction saved_int, saved_term, saved_hup;
static bool saved_hangup;

void host_catch_stop_signals(void (*fn)(int), bool hangup)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved_int);
    sigaction(SIGTERM, &sa, &saved_term);
    saved_hangup = hangup;
    if (hangup)
        sigaction(SIGHUP, &sa, &saved_hup);
}

void host_restore_stop_signals(void)
{
    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
    if (saved_hangup)
        sigaction(SIGHUP, &saved_hup, NULL);
}

/* ---- Terminal, time, cores ---- */

bool host_isatty(int fd)
{
    return isatty(fd) == 1;
}

int host_term_cols(int fd)
{
    struct winsize ws;
    return ioctl(fd, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

int host_wait_input(int fd, int ms)
{
    if (fd < 0) {
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
        return nanosleep(&ts, NULL) == 0 ? 0 : -1;
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n = poll(&p, 1, ms);
    return n < 0 ? -1 : n > 0 && (p.revents & POLLIN) ? 1 : 0;
}

double host_monotonic(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

void host_wall_clock(int64_t *sec, long *nsec)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        ts.tv_sec = 0, ts.tv_nsec = 0;
    *sec = ts.tv_sec;
    *nsec = ts.tv_nsec;
}

int host_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < INT_MAX ? n : INT_MAX) : 1;
}

/* ---- Symbols ---- */

#ifdef __linux__
struct lib_range {
    uintptr_t base, lo, hi;
};

static int find_range(struct dl_phdr_info *info, size_t size, void *data)
{
    struct lib_range *r = data;
    (void)size;
    if (info->dlpi_addr != r->base)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        if (info->dlpi_addr + ph->p_vaddr < r->lo)
            r->lo = info->dlpi_addr + ph->p_vaddr;
        if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > r->hi)
            r->hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    }
    return 1;
}
#endif

int host_library_range(const void *sym, uintptr_t *lo, uintptr_t *hi)
{
#ifdef __linux__
    Dl_info di;
    struct lib_range r = { 0, UINTPTR_MAX, 0 };
    if (!dladdr(sym, &di) || !di.dli_fbase)
        return -1;
    r.base = (uintptr_t)di.dli_fbase;
    if (!dl_iterate_phdr(find_range, &r))
        return -1;
    *lo = r.lo;
    *hi = r.hi;
    return 0;
#else
    (void)sym, (void)lo, (void)hi;
    return -1;
#endif
}

void *host_next_symbol(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

void *host_global_symbol(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

uint64_t host_peak_rss_kib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0 || ru.ru_maxrss < 0)
        return 0;
#ifdef __APPLE__
    return (uint64_t)ru.ru_maxrss / 1024;  /* bytes there, KiB on Linux and the BSDs */
#else
    return (uint64_t)ru.ru_maxrss;
#endif
}
