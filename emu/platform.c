/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host facts (platform.h): page size and page states, asked at run time. */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t host_page_size(void)
{
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (size_t)n : 4096;
}

/* Linux: /proc/self/pagemap has 8 bytes per page, bit 63 "present" and bit
 * 62 "swapped" (any non-present page-table entry that is not empty: swap,
 * zram, migration). Neither bit: the entry is empty, the page never backed.
 * Both bits are readable without privileges (only the frame numbers are
 * hidden). mincore cannot tell an empty entry from a swapped-out page. */
static int host_page_states(const void *addr, size_t len, uint8_t *vec)
{
#ifdef __linux__
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
#else
    (void)addr, (void)len, (void)vec;
    return -1;
#endif
}

HostOps host_ops = { host_page_size, host_page_states };

void host_pages_to_read(const void *addr, size_t len, size_t unit, uint8_t *out)
{
    size_t n = len / unit, hp = host_ops.page_size();
    memset(out, 1, n);
    if (!n || !hp || (hp & (hp - 1)))
        return;
    uintptr_t base = (uintptr_t)addr & ~(uintptr_t)(hp - 1), off = (uintptr_t)addr - base;
    size_t nh = (off + len + hp - 1) / hp;
    uint8_t *st = malloc(nh);
    if (!st)
        return;
    if (host_ops.page_states((const void *)base, nh * hp, st) == 0)
        for (size_t u = 0; u < n; u++) {
            size_t lo = (off + u * unit) / hp, hi = (off + (u + 1) * unit - 1) / hp;
            uint8_t any = 0;
            for (size_t h = lo; h <= hi; h++)
                any |= st[h];
            out[u] = any != 0;
        }
    free(st);
}
