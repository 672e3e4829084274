/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which guest pages the host has backed (machine_ram_backed, used by the RAM
 * digest and the checkpoint's RAM section to skip pages never touched).
 * mincore() answers per *host* page: 4 KiB on x86_64, but 16 KiB or 64 KiB on
 * many arm64 hosts. lbvm used to read its answer as one byte per 4 KiB guest
 * page, so on such a host it read past what mincore wrote (uninitialised
 * bytes) and could skip non-zero pages: a RAM hash and a checkpoint that
 * depend on the host. Here: the mapping for host pages of 4, 16 and 64 KiB
 * (and a smaller one), and on this host a digest that equals one computed
 * by reading every page. */
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "emu/machine.h"

#define GUEST_PAGE 4096u

static void mapping(size_t host_page)
{
    enum { NPAGES = 64 };       /* 256 KiB of guest RAM */
    size_t nhost = (size_t)NPAGES * GUEST_PAGE / host_page;
    uint8_t host[NPAGES * 2], out[NPAGES];
    /* Resident host pages: every third one, with other bits set as mincore may. */
    for (size_t h = 0; h < nhost; h++)
        host[h] = h % 3 == 1 ? 0x81 : 0x80;
    memset(out, 0xee, sizeof out);
    machine_backed_pages(host, host_page, out, NPAGES);
    for (size_t p = 0; p < NPAGES; p++) {
        uint8_t want = 0;
        /* the host pages that overlap guest page p */
        for (size_t h = p * GUEST_PAGE / host_page; h * host_page < (p + 1) * GUEST_PAGE; h++)
            want |= host[h] & 1;
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
    if (machine_ram_backed(m, backed)) {
        size_t n = 0;
        for (size_t p = 0; p < npages; p++) {
            CHECK(backed[p] <= 1);
            n += backed[p];
            if (p % 997 == 7)
                CHECK_EQ(backed[p], 1);
        }
        printf("host page %ld bytes: %zu of %zu guest pages backed\n", sysconf(_SC_PAGESIZE), n, npages);
    } else {
        printf("host page %ld bytes: mincore unavailable, every page is read\n", sysconf(_SC_PAGESIZE));
    }
    uint8_t got[32], want[32];
    machine_ram_digest(m, got);
    digest_all(m, want);
    CHECK(!memcmp(got, want, 32));
    free(backed);
    machine_free(m);
    return check_done();
}
