/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which guest pages the host has backed, as the RAM digest and the
 * checkpoint's RAM section ask it to skip pages never touched
 * (host_pages_to_read, base/platform.h; it replaced machine_ram_backed).
 * The host answers per *host* page: 4 KiB on x86_64, but 16 KiB or 64 KiB
 * on many arm64 hosts. lbvm once read mincore's answer as one byte per
 * 4 KiB guest page, so on such a host it read past what mincore wrote
 * (uninitialised bytes) and could skip non-zero pages: a RAM hash and a
 * checkpoint that depend on the host. Here: the mapping for host pages of 4,
 * 16 and 64 KiB (and a smaller one) through the platform seam (host_ops),
 * and on this host a digest that equals one computed by reading every page. */
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "base/platform.h"
#include "emu/machine.h"

#define GUEST_PAGE 4096u

enum { NPAGES = 64 };           /* 256 KiB of guest RAM */
static size_t fake_page;
static uint8_t fake_state[NPAGES * 2];

static size_t fake_page_size(void)
{
    return fake_page;
}

/* Backed host pages: every third one, with the other bit patterns the
 * host may report (present, swapped, both). */
static int fake_page_states(const void *addr, size_t len, uint8_t *vec)
{
    (void)addr;
    memcpy(vec, fake_state, len / fake_page);
    return 0;
}

static void mapping(size_t host_page)
{
    HostOps real = host_ops;
    size_t nhost = (size_t)NPAGES * GUEST_PAGE / host_page;
    uint8_t out[NPAGES];
    for (size_t h = 0; h < nhost; h++)
        fake_state[h] = h % 3 == 1 ? (uint8_t)(h % 2 ? HOST_PAGE_PRESENT : HOST_PAGE_SWAPPED) : 0;
    fake_page = host_page;
    host_ops.page_size = fake_page_size;
    host_ops.page_states = fake_page_states;
    memset(out, 0xee, sizeof out);
    /* a made-up address aligned to every page size: only the seam reads it */
    host_pages_to_read((const void *)(uintptr_t)0x10000000u, (size_t)NPAGES * GUEST_PAGE, GUEST_PAGE, out);
    host_ops = real;
    for (size_t p = 0; p < NPAGES; p++) {
        uint8_t want = 0;
        /* the host pages that overlap guest page p */
        for (size_t h = p * GUEST_PAGE / host_page; h * host_page < (p + 1) * GUEST_PAGE; h++)
            want |= fake_state[h] != 0;
        if (out[p] != want)
            fprintf(stderr, "host page %zu: guest page %zu is %u, expected %u\n", host_page, p, out[p], want);
        CHECK_EQ(out[p], want);
    }
}

/* The digest machine_ram_digest promises, reading every page. */
static void digest_all(const Machine *m, uint8_t md[32])
{
    unsigned int len = 0;
    uint8_t le[8];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(m->ram_size >> (8 * i));
    EVP_DigestUpdate(c, le, 8);
    static const uint8_t zero[GUEST_PAGE];
    for (uint64_t p = 0; p < m->ram_size / GUEST_PAGE; p++) {
        if (!memcmp(m->ram + p * GUEST_PAGE, zero, GUEST_PAGE))
            continue;
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)(p >> (8 * i));
        EVP_DigestUpdate(c, le, 8);
        EVP_DigestUpdate(c, m->ram + p * GUEST_PAGE, GUEST_PAGE);
    }
    EVP_DigestFinal_ex(c, md, &len);
    EVP_MD_CTX_free(c);
}

int main(void)
{
    mapping(4096);
    mapping(16384);
    mapping(65536);
    mapping(2048);

    char err[512];
    MachineConfig cfg = { .ram_size = 64u << 20, .console = stdout };
    Machine *m = machine_new(&cfg, err, sizeof err);
    if (!m) {
        fprintf(stderr, "machine_new: %s\n", err);
        return 1;
    }
    /* Touch single guest pages scattered so that, with host pages larger
     * than 4 KiB, most lie in the second half of the map (beyond what a
     * per-4 KiB reading of mincore's answer would have covered). */
    size_t npages = m->ram_size / GUEST_PAGE;
    for (size_t p = 7; p < npages; p += 997)
        m->ram[p * GUEST_PAGE + (p % GUEST_PAGE)] = (uint8_t)(p | 1);
    uint8_t *backed = malloc(npages);
    CHECK(backed != NULL);
    memset(backed, 0xee, npages);
    host_pages_to_read(m->ram, m->ram_size, GUEST_PAGE, backed);
    size_t n = 0;
    for (size_t p = 0; p < npages; p++) {
        CHECK(backed[p] <= 1);
        n += backed[p];
        if (p % 997 == 7)
            CHECK_EQ(backed[p], 1);
    }
    /* where the host can tell, pages never touched are skipped */
    uint8_t probe;
    bool tells = host_ops.page_states(m->ram, host_ops.page_size(), &probe) == 0;
    if (tells)
        CHECK(n < npages);
    printf("host page %zu bytes: %zu of %zu guest pages to read%s\n", host_ops.page_size(), n, npages,
           tells ? "" : " (the host cannot tell: every page is read)");
    uint8_t got[32], want[32];
    machine_ram_digest(m, got);
    digest_all(m, want);
    CHECK(!memcmp(got, want, 32));
    free(backed);
    machine_free(m);
    return check_done();
}
