/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Facts about the host that lbvm asks rather than assumes, behind a seam a
 * unit test replaces (tests/unit/test_host_facts.c): the host's page size,
 * and what the host did with each page of guest RAM. */
#ifndef LBVM_PLATFORM_H
#define LBVM_PLATFORM_H
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

/* The most host memory this process has had resident so far, in KiB (0 if
 * the host cannot tell): guest RAM is reserved, and only what the guest
 * touched is backed. */
uint64_t host_peak_rss_kib(void);
#endif
