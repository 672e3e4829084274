/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host, in one place. Every call lbvm makes to the host beyond C11 and
 * POSIX.1-2008 (file I/O, regex, pthreads; and getopt_long) goes through
 * this interface: memory mapping and page
 * residency, durability and atomic replace, file locking, sparse files, child
 * processes and signals, the terminal, paths, host time, finding lbvm's own
 * program and the symbols it interposes. base/platform.c implements it for
 * POSIX hosts (Linux first; the only file compiled with _GNU_SOURCE);
 * everything else compiles with -std=c11 -D_POSIX_C_SOURCE=200809L. A port
 * to another host implements this header (docs/architecture.md, "Porting").
 *
 * Facts about the host that lbvm asks rather than assumes sit behind a seam
 * a unit test replaces (host_ops, tests/unit/test_host_facts.c): the host's
 * page size, and what the host did with each page of guest RAM. */
#ifndef LBVM_PLATFORM_H
#define LBVM_PLATFORM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the host reports for one of its pages (bits; 0: never backed). */
enum {
    HOST_PAGE_PRESENT = 1,      /* in memory (maybe the shared zero page) */
    HOST_PAGE_SWAPPED = 2,      /* out of memory but holding data: swapped out, migrating, ... */
};

typedef struct HostOps {
    /* The host's page size in bytes, a power of two (sysconf). */
    size_t (*page_size)(void);
    /* One byte of HOST_PAGE_* bits per host page of [addr, addr + len)
     * (both multiples of page_size()): 0 only for a page the host never
     * backed, i.e. anonymous memory never written (or discarded), which
     * reads as zero. 0, or -1 when the host cannot tell (Linux:
     * /proc/self/pagemap; elsewhere -1: every page is read). */
    int (*page_states)(const void *addr, size_t len, uint8_t *vec);
} HostOps;

/* The host's answers; a test may replace either function. */
extern HostOps host_ops;

/* The Linux default's two ways (platform.c), same contract as page_states:
 * the PAGEMAP_SCAN ioctl (Linux 6.7+; tried first), reading the pagemap. */
int host_page_states_scan(const void *addr, size_t len, uint8_t *vec);
int host_page_states_read(const void *addr, size_t len, uint8_t *vec);

/* One byte per `unit`-byte page of [addr, addr + len) (len a multiple of
 * unit, unit a power of two): 1 when that page must be read (the host
 * backed some of it: it may hold data, resident or swapped out; or the host
 * cannot tell), 0 when it is zero without being read (the host never backed
 * any of it). Residency (mincore) is not the question: a swapped-out page is
 * not resident and holds data. Host pages may be larger or smaller than
 * unit. Cannot fail: when unsure, everything is 1. */
void host_pages_to_read(const void *addr, size_t len, size_t unit, uint8_t *out);

/* ---- Memory ---- */

/* len bytes of zeroed, private, read-write memory whose pages the host backs
 * only when first written (so RAM never touched costs nothing and
 * host_pages_to_read can skip it); huge pages where the host offers them.
 * NULL when the host refuses. */
void *host_ram_alloc(size_t len);
void host_ram_free(void *p, size_t len);
/* The first len bytes of open file fd, mapped read-only (fd may be closed
 * afterwards). NULL with errno set. */
void *host_map_file(int fd, size_t len);
void host_unmap_file(void *p, size_t len);
/* The most host memory this process has had resident so far, in KiB (0 if
 * the host cannot tell): guest RAM is reserved, and only what the guest
 * touched is backed (lbvm --stats prints it). */
uint64_t host_peak_rss_kib(void);

/* ---- Durability, atomic replace, locks ---- */

/* The file's data and size on stable storage. 0, or -1 with errno. */
int host_fsync(int fd);
/* fsync a folder, or the folder holding `path`: what makes a rename or a new
 * name durable. 0, or -1. */
int host_fsync_dir(const char *dir);
int host_fsync_dir_of(const char *path);
/* Atomically replaces `to` with `from` (same folder): a reader sees the old
 * file or the new one, never a mix. 0, or -1 with errno. */
int host_replace(const char *from, const char *to);
/* A second name `to` for the existing file `from`; fails with EEXIST rather
 * than replace a file of that name. 0, or -1 with errno. */
int host_link_new(const char *from, const char *to);
/* Creates and opens (close-on-exec) a new file named by `tmpl`, whose last
 * six characters "XXXXXX" are replaced. fd, or -1 with errno. */
int host_temp_file(char *tmpl);
/* Takes the exclusive lock on open file fd without waiting: 0, or -1 with
 * errno (EWOULDBLOCK: held elsewhere). The lock belongs to the open file,
 * so a child started with host_spawn that inherits fd holds it too, and it
 * goes when the last descriptor is closed. */
int host_lock(int fd);

/* ---- Files ---- */

/* The start of the first data at or after `at` in fd (SEEK_DATA), or of the
 * first hole (SEEK_HOLE; the end of the file counts as one). -1 with errno:
 * ENXIO when `at` is at or beyond the end (for data: only a hole is left),
 * anything else when the host cannot tell (then treat it all as data). */
int64_t host_seek_data(int fd, int64_t at);
int64_t host_seek_hole(int fd, int64_t at);
/* Copies the rest of file `in` to `out` from their current offsets, in the
 * host's fastest way (copy_file_range where it works, else read and write).
 * 0, or -1 with errno. */
int host_copy_fd(int in, int out);
/* rm -rf path, not following symbolic links, removing all it can: 0 (also
 * when path does not exist), or -1 with errno when something stayed. */
int host_remove_tree(const char *path);
/* The canonical absolute path of an existing file: into resolved (at least
 * HOST_PATH_MAX bytes) or, when resolved is NULL, a new string to free().
 * NULL with errno. */
#define HOST_PATH_MAX 4096
char *host_realpath(const char *path, char *resolved);
/* Lets this process keep at least `want` files open where the host limits it
 * lower (as far as the hard limit goes). */
void host_want_open_files(uint64_t want);
/* A device number's major and minor parts, and back. */
uint32_t host_dev_major(uint64_t dev);
uint32_t host_dev_minor(uint64_t dev);
uint64_t host_dev_make(uint32_t major, uint32_t minor);
/* A pipe, both ends close-on-exec. 0, or -1 with errno. */
int host_pipe(int fd[2]);

/* ---- Paths ---- */

/* The folder for temporary files: $TMPDIR when set (and shorter than 4000
 * bytes), else /tmp. */
const char *host_tmp_dir(void);
/* The user's cache folder: $XDG_CACHE_HOME when absolute, else
 * $HOME/.cache; with "/leaf" appended. 0, or -1 when neither is known or
 * it does not fit in len. */
int host_cache_dir(const char *leaf, char *buf, size_t len);
/* The path of the running lbvm program, to start it again: 0, or -1. */
int host_self_exe(char *buf, size_t len);

/* ---- Child processes and signals ---- */

typedef struct HostSpawn {
    const char *exe;            /* the program's path */
    char *const *argv;
    char *const *envp;          /* NULL: this process's environment */
    const char *dir;            /* NULL: this process's folder */
    int fd_in, fd_out, fd_err;  /* the child's 0, 1 and 2 */
    bool die_with_parent;       /* SIGTERM when this process dies (where the host can) */
    bool default_signals;       /* SIGINT, SIGTERM, SIGHUP, SIGPIPE at their defaults */
    bool say_exec_error;        /* "lbvm: cannot run EXE: why" on fd_err when it cannot start */
} HostSpawn;
/* How a child ended. */
typedef struct HostExit {
    bool exited;                /* by exit(code), else killed by signal */
    int code;                   /* exit code, or the signal's number */
    double cpu_s;               /* its user + system CPU time */
} HostExit;
/* Starts the child (it exits with 127 when exe cannot run). Its pid, or -1
 * with errno. */
long host_spawn(const HostSpawn *s);
/* Waits for child pid (-1: any child) to end; block false: only looks. Its
 * pid, 0 when none has ended (block false), or -1 with errno (EINTR when a
 * signal came first). */
long host_wait(long pid, bool block, HostExit *e);
/* Asks child pid to stop (SIGTERM), or makes it (hard: SIGKILL). */
void host_kill(long pid, bool hard);
/* Calls fn(signal) when the user or system asks lbvm to stop: SIGINT and
 * SIGTERM, and SIGHUP when hangup; the handlers they had are kept for
 * host_restore_stop_signals. fn may only set a volatile flag. */
void host_catch_stop_signals(void (*fn)(int), bool hangup);
void host_restore_stop_signals(void);

/* ---- Terminal, time, cores ---- */

bool host_isatty(int fd);
/* The width in columns of the terminal on fd, or 0 when unknown. */
int host_term_cols(int fd);
/* Waits up to ms milliseconds for input on fd (fd < 0: just sleeps).
 * 1 when there is input, 0 when not, -1 with errno. */
int host_wait_input(int fd, int ms);
/* Host time, for the person reading a progress line only (never the guest's):
 * seconds on a monotonic clock, and the wall clock. */
double host_monotonic(void);
void host_wall_clock(int64_t *sec, long *nsec);
/* Cores online, at least 1. */
int host_cores(void);

/* ---- Symbols (the C library functions lbvm interposes) ---- */

/* The address range [*lo, *hi) of the loaded library holding `sym`. 0, or
 * -1 when the host cannot tell. */
int host_library_range(const void *sym, uintptr_t *lo, uintptr_t *hi);
/* The next definition of `name` after this program's (the C library's, for
 * a function lbvm defines itself), and the one a call by name reaches.
 * NULL when none. */
void *host_next_symbol(const char *name);
void *host_global_symbol(const char *name);
#endif
