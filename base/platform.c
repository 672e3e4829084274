/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host facts (platform.h): page size and page states, asked at run time. */
#include "base/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

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
#include <sys/ioctl.h>

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
