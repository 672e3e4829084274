/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guest RAM layout (base/guestram.h) and its address check: RAM below
 * the PCI hole up to 3 GiB, the rest from 4 GiB; a range in the hole, across
 * its edges, past RAM's end or wrapping 64 bits is refused; buffer offsets
 * and physical addresses map both ways. Also the --mem limits (emu/machine.h)
 * against PAE's 36-bit physical address space. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/guestram.h"
#include "check.h"
#include "emu/machine.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define NONE UINT64_MAX

int main(void)
{
    uint8_t dummy[1];

    /* 512 MiB: all below the hole, nothing above 4 GiB */
    GuestRAM r = guest_ram(dummy, 512 * MiB);
    CHECK_EQ(r.low, 512 * MiB);
    CHECK_EQ(guest_ram_high(&r), 0);
    CHECK_EQ(guest_ram_end(&r), 512 * MiB);
    CHECK_EQ(guest_ram_offset(&r, 0, 4096), 0);
    CHECK_EQ(guest_ram_offset(&r, 512 * MiB - 4096, 4096), 512 * MiB - 4096);
    CHECK_EQ(guest_ram_offset(&r, 512 * MiB - 4096, 4097), NONE);
    CHECK_EQ(guest_ram_offset(&r, 512 * MiB, 1), NONE);
    CHECK_EQ(guest_ram_offset(&r, 4 * GiB, 1), NONE);
    CHECK_EQ(guest_ram_offset(&r, 4 * GiB, 0), NONE);       /* nothing up there, not even its start */

    /* 3072 MiB: exactly up to the hole, as lbvm's old maximum */
    r = guest_ram(dummy, 3072 * MiB);
    CHECK_EQ(r.low, GUEST_RAM_LOW_MAX);
    CHECK_EQ(guest_ram_high(&r), 0);
    CHECK_EQ(guest_ram_end(&r), 3 * GiB);

    /* 4096 MiB: 3 GiB low, 1 GiB from 4 GiB */
    r = guest_ram(dummy, 4096 * MiB);
    CHECK_EQ(r.low, 3 * GiB);
    CHECK_EQ(guest_ram_high(&r), 1 * GiB);
    CHECK_EQ(guest_ram_end(&r), 5 * GiB);
    CHECK_EQ(guest_ram_offset(&r, 3 * GiB - 8, 8), 3 * GiB - 8);   /* last bytes below the hole */
    CHECK_EQ(guest_ram_offset(&r, 3 * GiB - 8, 9), NONE);          /* one byte into it */
    CHECK_EQ(guest_ram_offset(&r, 3 * GiB, 1), NONE);              /* the hole */
    CHECK_EQ(guest_ram_offset(&r, 0xd0000000ull, 512), NONE);
    CHECK_EQ(guest_ram_offset(&r, 0xfebf0000ull, 4), NONE);        /* AHCI's ABAR: MMIO, not RAM */
    CHECK_EQ(guest_ram_offset(&r, 4 * GiB - 1, 2), NONE);          /* across the hole's top */
    CHECK_EQ(guest_ram_offset(&r, 2 * GiB, 2 * GiB + 16), NONE);   /* across the whole hole */
    CHECK_EQ(guest_ram_offset(&r, 4 * GiB, 4096), 3 * GiB);        /* RAM above 4 GiB */
    CHECK_EQ(guest_ram_offset(&r, 5 * GiB - 4096, 4096), 4 * GiB - 4096);
    CHECK_EQ(guest_ram_offset(&r, 5 * GiB - 4096, 4097), NONE);    /* past RAM's end */
    CHECK_EQ(guest_ram_offset(&r, 5 * GiB, 1), NONE);
    CHECK_EQ(guest_ram_offset(&r, 64 * GiB - 4096, 4096), NONE);   /* PAE's last page */
    CHECK_EQ(guest_ram_offset(&r, UINT64_MAX - 2, 8), NONE);       /* wraps 64 bits */
    CHECK_EQ(guest_ram_offset(&r, 4 * GiB + 16, UINT64_MAX), NONE);
    CHECK_EQ(guest_ram_offset(&r, 16, UINT64_MAX - 8), NONE);
    CHECK(guest_ram_ptr(&r, 4 * GiB + 5, 1) == dummy + 3 * GiB + 5);
    CHECK(guest_ram_ptr(&r, 3 * GiB, 1) == NULL);
    /* offsets <-> physical addresses, both ways */
    CHECK_EQ(guest_ram_pa(&r, 0), 0);
    CHECK_EQ(guest_ram_pa(&r, 3 * GiB - 1), 3 * GiB - 1);
    CHECK_EQ(guest_ram_pa(&r, 3 * GiB), 4 * GiB);
    CHECK_EQ(guest_ram_pa(&r, 4 * GiB - 1), 5 * GiB - 1);
    for (uint64_t off = 0; off < r.size; off += 97 * MiB + 4096)
        CHECK_EQ(guest_ram_offset(&r, guest_ram_pa(&r, off), 1), off);

    /* the largest --mem: RAM ends exactly at 64 GiB, PAE's limit */
    r = guest_ram(dummy, (uint64_t)MACHINE_MAX_RAM_MIB * MiB);
    CHECK_EQ(guest_ram_end(&r), 64 * GiB);
    CHECK_EQ(guest_ram_offset(&r, 64 * GiB - 4096, 4096), (uint64_t)MACHINE_MAX_RAM_MIB * MiB - 4096);
    CHECK_EQ(guest_ram_offset(&r, 64 * GiB, 1), NONE);
    CHECK_EQ(strtoull(MACHINE_MAX_RAM_STR, NULL, 10), MACHINE_MAX_RAM_MIB);
    CHECK_EQ(strtoull(MACHINE_MIN_RAM_STR, NULL, 10), MACHINE_MIN_RAM_MIB);
    /* machine_new refuses what --mem would */
    static const uint64_t bad[] = { 3 * GiB + 512 * 1024, ((uint64_t)MACHINE_MAX_RAM_MIB + 1) * MiB, 32 * MiB };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        MachineConfig cfg = { .ram_size = bad[i], .console = stdout };
        Machine *m = machine_new(&cfg, err, sizeof err);
        CHECK(m == NULL);
        CHECK(strstr(err, "give whole MiB, 64 to 64512") != NULL);
        machine_free(m);
    }
    return check_done();
}
