/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where guest RAM sits in the guest-physical address space, and the one check
 * every guest-given physical address goes through before the host touches it.
 *
 * Guest RAM is one host buffer of `size` bytes. As on a PC with a PCI hole
 * (QEMU's i440fx does the same), its first min(size, 3 GiB) bytes sit at
 * physical 0; whatever is left is remapped above 4 GiB, where only a PAE
 * kernel can reach it. [3 GiB, 4 GiB) is the hole: PCI BAR windows, the
 * unassigned page, never RAM. The layout is a function of the size alone, so
 * every part of the machine (CPU page walk, devices' DMA, the boot loader's
 * e820 map, checkpoints) derives the same one from (buffer, size).
 *
 * Buffer offset o holds physical address o below the hole, and
 * GUEST_RAM_HIGH_BASE + (o - low) above it. Checkpoints and the RAM digest
 * number pages by buffer offset. */
#ifndef LBVM_GUESTRAM_H
#define LBVM_GUESTRAM_H
#include <stddef.h>
#include <stdint.h>

#define GUEST_RAM_LOW_MAX   0xc0000000ull   /* RAM below the hole: at most 3 GiB */
#define GUEST_RAM_HIGH_BASE 0x100000000ull  /* the rest starts at 4 GiB */

typedef struct GuestRAM {
    uint8_t *host;      /* size bytes: the low part, then the high part */
    uint64_t size;
    uint64_t low;       /* bytes at physical 0: min(size, GUEST_RAM_LOW_MAX) */
} GuestRAM;

static inline GuestRAM guest_ram(uint8_t *host, uint64_t size)
{
    GuestRAM r = { host, size, size < GUEST_RAM_LOW_MAX ? size : GUEST_RAM_LOW_MAX };
    return r;
}

/* Bytes remapped above 4 GiB. */
static inline uint64_t guest_ram_high(const GuestRAM *r)
{
    return r->size - r->low;
}

/* One past the highest guest-physical RAM address. */
static inline uint64_t guest_ram_end(const GuestRAM *r)
{
    return r->size > r->low ? GUEST_RAM_HIGH_BASE + (r->size - r->low) : r->low;
}

/* The buffer offset of guest-physical [pa, pa + len) if the whole range is
 * RAM (inside one of the two parts: nothing spans the hole), else UINT64_MAX.
 * len 0 is accepted anywhere from a part's start to its end inclusive. */
static inline uint64_t guest_ram_offset(const GuestRAM *r, uint64_t pa, uint64_t len)
{
    if (pa <= r->low && len <= r->low - pa)
        return pa;
    uint64_t high = r->size - r->low;
    if (high && pa >= GUEST_RAM_HIGH_BASE && pa - GUEST_RAM_HIGH_BASE <= high &&
        len <= high - (pa - GUEST_RAM_HIGH_BASE))
        return r->low + (pa - GUEST_RAM_HIGH_BASE);
    return UINT64_MAX;
}

/* The host address of guest-physical [pa, pa + len), or NULL if it is not
 * all RAM. */
static inline uint8_t *guest_ram_ptr(const GuestRAM *r, uint64_t pa, uint64_t len)
{
    uint64_t o = guest_ram_offset(r, pa, len);
    return o == UINT64_MAX ? NULL : r->host + o;
}

/* The guest-physical address of buffer offset off (< size). */
static inline uint64_t guest_ram_pa(const GuestRAM *r, uint64_t off)
{
    return off < r->low ? off : GUEST_RAM_HIGH_BASE + (off - r->low);
}
#endif
