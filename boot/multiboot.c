/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Multiboot 1 loader (see multiboot.h). Spec: "Multiboot Specification
 * version 0.6.96" (GNU GRUB), sections 3.1 (header), 3.2 (machine state),
 * 3.3 (boot information). Behaviour follows QEMU's hw/i386/multiboot.c
 * where the spec leaves a choice (ELF unless bit 16; the a.out kludge
 * offsets; the boot device 0x8000ffff), and GRUB's for an ELF entry point
 * given as a virtual address (translated through its segment). */
#include "boot/multiboot.h"

#include "base/guestram.h"

#include <stdio.h>
#include <string.h>

#define MB_FLAGS_KNOWN (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_VIDEO_MODE)
#define MB_BOOT_DEVICE 0x8000ffffu      /* BIOS drive 0x80, no partition (as QEMU) */
#define MB_LOADER_NAME "lbvm"
#define BASE_MEM_KB 639

#define PT_LOAD 1

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

uint64_t multiboot_ram_top(uint64_t ram_size)
{
    /* Kernel, modules and the map's RAM stay in low RAM, where the host
     * buffer's offset is the physical address (base/guestram.h). */
    return ram_size < GUEST_RAM_LOW_MAX ? ram_size : GUEST_RAM_LOW_MAX;
}

int multiboot_find(const uint8_t *k, size_t n, MultibootHeader *h, char *err, size_t errlen)
{
    size_t lim = n < MULTIBOOT_SEARCH ? n : MULTIBOOT_SEARCH;
    for (size_t off = 0; off + 12 <= lim; off += 4) {
        if (le32(k + off) != MULTIBOOT_HEADER_MAGIC)
            continue;
        uint32_t flags = le32(k + off + 4), sum = le32(k + off + 8);
        if ((uint32_t)(MULTIBOOT_HEADER_MAGIC + flags + sum) != 0) {
            snprintf(err, errlen, "Multiboot header at offset %zu: bad checksum", off);
            return -1;
        }
        if (flags & 0xffffu & ~MB_FLAGS_KNOWN) {
            snprintf(err, errlen, "Multiboot header asks for features lbvm does not know (flags %#x; known: bits 0-2, 16)",
                     flags);
            return -1;
        }
        memset(h, 0, sizeof *h);
        h->offset = (uint32_t)off;
        h->flags = flags;
        if (flags & MULTIBOOT_AOUT_KLUDGE) {
            if (off + 32 > n) {
                snprintf(err, errlen, "Multiboot header at offset %zu: the address fields run past the end of the file",
                         off);
                return -1;
            }
            h->header_addr = le32(k + off + 12);
            h->load_addr = le32(k + off + 16);
            h->load_end_addr = le32(k + off + 20);
            h->bss_end_addr = le32(k + off + 24);
            h->entry_addr = le32(k + off + 28);
        }
        return 1;
    }
    return 0;
}

/* [start, end) must lie in RAM, clear of the IVT/BDA page and of the boot
 * information area. */
static int range_ok(uint64_t start, uint64_t end, uint64_t top)
{
    return start >= 0x1000 && start <= end && end <= top &&
           (end <= MULTIBOOT_AREA_BASE || start >= MULTIBOOT_AREA_END);
}

/* a.out kludge (bit 16): file bytes from load_offset go to load_addr. */
static int load_aout(uint8_t *ram, uint64_t top, const uint8_t *k, size_t n, const MultibootHeader *h,
                     MultibootLayout *lay, char *err, size_t errlen)
{
    if (h->header_addr < h->load_addr || h->header_addr - h->load_addr > h->offset) {
        snprintf(err, errlen, "Multiboot header: header_addr %#x and load_addr %#x do not fit the header's place "
                 "in the file", h->header_addr, h->load_addr);
        return -1;
    }
    uint64_t file_off = h->offset - (h->header_addr - h->load_addr);
    uint64_t size;
    if (h->load_end_addr == 0) {
        size = n - file_off;
    } else {
        if (h->load_end_addr < h->load_addr || h->load_end_addr - h->load_addr > n - file_off) {
            snprintf(err, errlen, "Multiboot header: load_end_addr %#x is before load_addr or past the end of the file",
                     h->load_end_addr);
            return -1;
        }
        size = h->load_end_addr - h->load_addr;
    }
    uint64_t end = (uint64_t)h->load_addr + size;
    if (h->bss_end_addr) {
        if (h->bss_end_addr < end) {
            snprintf(err, errlen, "Multiboot header: bss_end_addr %#x is before the end of the loaded image", h->bss_end_addr);
            return -1;
        }
        end = h->bss_end_addr;
    }
    if (!range_ok(h->load_addr, end, top)) {
        snprintf(err, errlen, "Multiboot kernel at %#x-%#llx: outside RAM (raise --mem) or over the boot "
                 "information at 0x10000-0x90000", h->load_addr, (unsigned long long)end);
        return -1;
    }
    if (h->entry_addr < h->load_addr || h->entry_addr >= end) {
        snprintf(err, errlen, "Multiboot header: entry_addr %#x is outside the loaded kernel", h->entry_addr);
        return -1;
    }
    memset(ram + h->load_addr, 0, end - h->load_addr);
    memcpy(ram + h->load_addr, k + file_off, size);
    lay->entry = h->entry_addr;
    lay->kernel_start = h->load_addr;
    lay->kernel_end = (uint32_t)end;
    return 0;
}

/* ELF32 (i386, executable): PT_LOAD segments at their physical addresses. */
static int load_elf(uint8_t *ram, uint64_t top, const uint8_t *k, size_t n, MultibootLayout *lay, char *err,
                    size_t errlen)
{
    if (n < 52 || memcmp(k, "\177ELF", 4) != 0) {
        snprintf(err, errlen, "Multiboot kernel is not ELF and its header has no address fields (flags bit 16)");
        return -1;
    }
    if (k[4] != 1 || k[5] != 1 || le16(k + 18) != 3 || le16(k + 16) != 2) {
        snprintf(err, errlen, "Multiboot kernel is not a 32-bit little-endian i386 ELF executable");
        return -1;
    }
    uint32_t entry = le32(k + 24), phoff = le32(k + 28);
    uint16_t phentsize = le16(k + 42), phnum = le16(k + 44);
    if (phnum == 0 || phentsize < 32 || phoff > n || (uint64_t)phnum * phentsize > n - phoff) {
        snprintf(err, errlen, "Multiboot ELF kernel: program headers missing or past the end of the file");
        return -1;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    int loads = 0, entry_done = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < phnum; i++) {
            const uint8_t *p = k + phoff + (size_t)i * phentsize;
            if (le32(p) != PT_LOAD)
                continue;
            uint32_t off = le32(p + 4), vaddr = le32(p + 8), paddr = le32(p + 12);
            uint32_t filesz = le32(p + 16), memsz = le32(p + 20);
            if (pass == 0) {
                if (filesz > memsz || off > n || filesz > n - off) {
                    snprintf(err, errlen, "Multiboot ELF kernel: segment %u is larger than the file holds", i);
                    return -1;
                }
                if (!range_ok(paddr, (uint64_t)paddr + memsz, top)) {
                    snprintf(err, errlen, "Multiboot ELF kernel: segment %u at %#x-%#llx is outside RAM (raise "
                             "--mem) or over the boot information at 0x10000-0x90000", i, paddr, (unsigned long long)paddr + memsz);
                    return -1;
                }
                if (!entry_done && entry >= vaddr && (uint64_t)entry < (uint64_t)vaddr + memsz) {
                    entry = entry - vaddr + paddr;    /* a virtual entry point, as GRUB translates it */
                    entry_done = 1;
                }
                lo = paddr < lo ? paddr : lo;
                hi = (uint64_t)paddr + memsz > hi ? (uint64_t)paddr + memsz : hi;
                loads++;
            } else {
                memset(ram + paddr, 0, memsz);
                memcpy(ram + paddr, k + off, filesz);
            }
        }
        if (pass == 0 && !loads) {
            snprintf(err, errlen, "Multiboot ELF kernel has no loadable segment");
            return -1;
        }
    }
    if (!entry_done && (entry < lo || entry >= hi)) {
        snprintf(err, errlen, "Multiboot ELF kernel: entry point %#x is outside its segments", entry);
        return -1;
    }
    lay->entry = entry;
    lay->kernel_start = (uint32_t)lo;
    lay->kernel_end = (uint32_t)hi;
    return 0;
}

/* A bump allocator over the info area. */
typedef struct Area {
    uint8_t *ram;
    uint32_t next;
} Area;

static uint32_t area_alloc(Area *a, size_t len, uint32_t align)
{
    uint64_t p = ((uint64_t)a->next + align - 1) & ~(uint64_t)(align - 1);
    if (p + len > MULTIBOOT_AREA_END)
        return 0;
    a->next = (uint32_t)(p + len);
    memset(a->ram + p, 0, len);
    return (uint32_t)p;
}

static uint32_t area_str(Area *a, const char *s)
{
    size_t len = strlen(s) + 1;
    uint32_t p = area_alloc(a, len, 1);
    if (p)
        memcpy(a->ram + p, s, len);
    return p;
}

int multiboot_load(uint8_t *ram, uint64_t ram_size, const uint8_t *k, size_t n, const char *cmdline,
                   const MultibootModule *mods, int n_mods, MultibootLayout *lay, char *err, size_t errlen)
{
    MultibootHeader h;
    int r = multiboot_find(k, n, &h, err, errlen);
    if (r <= 0) {
        if (r == 0)
            snprintf(err, errlen, "no Multiboot header in the first %d bytes", MULTIBOOT_SEARCH);
        return -1;
    }
    if (n_mods < 0 || n_mods > MULTIBOOT_MAX_MODULES) {
        snprintf(err, errlen, "at most %d Multiboot modules", MULTIBOOT_MAX_MODULES);
        return -1;
    }
    uint64_t top = multiboot_ram_top(ram_size);
    if (top < 0x200000) {
        snprintf(err, errlen, "too little RAM for a Multiboot kernel");
        return -1;
    }
    memset(lay, 0, sizeof *lay);
    if ((h.flags & MULTIBOOT_AOUT_KLUDGE ? load_aout(ram, top, k, n, &h, lay, err, errlen)
                                         : load_elf(ram, top, k, n, lay, err, errlen)) < 0)
        return -1;
    /* Modules: page-aligned (bit 0 asks for it; QEMU always does it) after
     * the kernel's end, bss included. */
    uint64_t at = ((uint64_t)lay->kernel_end + 0xfff) & ~0xfffull;
    for (int i = 0; i < n_mods; i++) {
        if (mods[i].len > top || at > top - mods[i].len) {
            snprintf(err, errlen, "Multiboot module %d (%zu bytes) does not fit in RAM after the kernel: raise --mem",
                     i + 1, mods[i].len);
            return -1;
        }
        memcpy(ram + at, mods[i].data, mods[i].len);
        lay->mod_start[i] = (uint32_t)at;
        lay->mod_end[i] = (uint32_t)(at + mods[i].len);
        at = (at + mods[i].len + 0xfff) & ~0xfffull;
    }
    /* The info area: GDT, info structure, memory map, module list, strings. */
    Area a = { ram, MULTIBOOT_AREA_BASE };
    uint32_t gdt = area_alloc(&a, 24, 8), info = area_alloc(&a, 88, 8), mmap = area_alloc(&a, 24 * 4, 4);
    uint32_t modlist = n_mods ? area_alloc(&a, 16u * (unsigned)n_mods, 4) : 0;
    if (!gdt || !info || !mmap || (n_mods && !modlist))
        goto full;
    static const uint8_t gdt_bytes[24] = {
        0, 0, 0, 0, 0, 0, 0, 0,
        0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0,   /* 0x08: code, base 0, 4 GiB, 32-bit */
        0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0,   /* 0x10: data, base 0, 4 GiB, 32-bit */
    };
    memcpy(ram + gdt, gdt_bytes, sizeof gdt_bytes);
    static const struct { uint64_t addr, len; uint32_t type; } mm[] = {
        { 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0xf0000, 0x10000, 2 }, { 0x100000, 0, 1 },
    };
    for (int i = 0; i < 4; i++) {
        uint8_t *e = ram + mmap + 24 * i;
        put32(e, 20);                       /* size of the rest of the entry */
        put64(e + 4, mm[i].addr);
        put64(e + 12, i == 3 ? top - 0x100000 : mm[i].len);
        put32(e + 20, mm[i].type);
    }
    for (int i = 0; i < n_mods; i++) {
        uint32_t s = area_str(&a, mods[i].string ? mods[i].string : "");
        if (!s)
            goto full;
        put32(ram + modlist + 16 * i, lay->mod_start[i]);
        put32(ram + modlist + 16 * i + 4, lay->mod_end[i]);
        put32(ram + modlist + 16 * i + 8, s);
        put32(ram + modlist + 16 * i + 12, 0);
    }
    uint32_t cl = area_str(&a, cmdline ? cmdline : ""), name = area_str(&a, MB_LOADER_NAME);
    if (!cl || !name)
        goto full;
    uint8_t *mi = ram + info;
    uint64_t upper_kb = (top - 0x100000) >> 10;
    put32(mi + 0, MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_BOOTDEV | MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_MODS |
                  MULTIBOOT_INFO_MEM_MAP | MULTIBOOT_INFO_BOOT_LOADER_NAME);
    put32(mi + 4, BASE_MEM_KB);
    put32(mi + 8, (uint32_t)upper_kb);
    put32(mi + 12, MB_BOOT_DEVICE);
    put32(mi + 16, cl);
    put32(mi + 20, (uint32_t)n_mods);
    put32(mi + 24, modlist);
    put32(mi + 44, 24 * 4);
    put32(mi + 48, mmap);
    put32(mi + 64, name);
    lay->info_addr = info;
    lay->gdt_base = gdt;
    lay->gdt_limit = sizeof gdt_bytes - 1;
    return 0;
full:
    snprintf(err, errlen, "the Multiboot command lines do not fit in the %u KiB info area",
             (MULTIBOOT_AREA_END - MULTIBOOT_AREA_BASE) >> 10);
    return -1;
}
