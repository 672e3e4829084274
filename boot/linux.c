/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bzImage loader for the 32-bit boot protocol (protocol >= 2.06). Offsets are
 * those of struct setup_header / struct boot_params in the kernel's
 * arch/x86/include/uapi/asm/bootparam.h. */
#include "boot/linux.h"
#include "base/guestram.h"

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_SETUP_SECTS     0x1f1
#define HDR_SYSSIZE         0x1f4
#define HDR_BOOT_FLAG       0x1fe
#define HDR_JUMP            0x200
#define HDR_MAGIC           0x202   /* "HdrS" */
#define HDR_VERSION         0x206
#define HDR_TYPE_OF_LOADER  0x210
#define HDR_LOADFLAGS       0x211
#define HDR_CODE32_START    0x214
#define HDR_RAMDISK_IMAGE   0x218
#define HDR_RAMDISK_SIZE    0x21c
#define HDR_CMD_LINE_PTR    0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGN    0x230
#define HDR_RELOCATABLE     0x234
#define HDR_XLOADFLAGS      0x236
#define HDR_CMDLINE_SIZE    0x238
#define HDR_PAYLOAD_OFFSET  0x248
#define HDR_PAYLOAD_LENGTH  0x24c
#define HDR_PREF_ADDRESS    0x258
#define HDR_INIT_SIZE       0x260

#define LOADED_HIGH     0x01
#define XLF_KERNEL_64   0x01

#define BP_ALT_MEM_K    0x1e0
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE   0x2d0
#define E820_RAM        1
#define E820_RESERVED   2

/* Fixed low-memory layout (all below the EBDA at 0x9fc00). */
#define GDT_ADDR         0x1000
#define BOOT_PARAMS_ADDR 0x10000
#define CMDLINE_ADDR     0x20000
/* Keep the initrd in the 32-bit kernel's low memory (under 896 MiB minus the
 * vmalloc area) so it need not be copied there. */
#define INITRD_TOP_LOWMEM 0x37000000u

static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t ld32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t ld64(const uint8_t *p) { return ld32(p) | (uint64_t)ld32(p + 4) << 32; }
static void st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void st32(uint8_t *p, uint32_t v) { st16(p, (uint16_t)v); st16(p + 2, (uint16_t)(v >> 16)); }
static void st64(uint8_t *p, uint64_t v) { st32(p, (uint32_t)v); st32(p + 4, (uint32_t)(v >> 32)); }

int linux_parse(const uint8_t *k, size_t n, LinuxKernelInfo *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (n < 0x268 || ld32(k + HDR_MAGIC) != 0x53726448) {
        snprintf(err, errlen, "not a Linux bzImage (no \"HdrS\" boot header)");
        return -1;
    }
    info->version = ld16(k + HDR_VERSION);
    if (info->version < 0x206) {
        snprintf(err, errlen, "kernel boot protocol %d.%02d is too old: 2.06 or newer is needed",
                 info->version >> 8, info->version & 0xff);
        return -1;
    }
    if (!(k[HDR_LOADFLAGS] & LOADED_HIGH)) {
        snprintf(err, errlen, "zImage (low-loaded) kernels are not supported: a bzImage is needed");
        return -1;
    }
    if (info->version >= 0x20c && (ld16(k + HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
        snprintf(err, errlen, "this is a 64-bit (x86-64) kernel: lbvm emulates an i386 PC and needs a "
                              "32-bit kernel (e.g. Debian's linux-image-686)");
        return -1;
    }
    unsigned sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
    info->setup_size = (sects + 1) * 512;
    uint64_t syssize = (uint64_t)ld32(k + HDR_SYSSIZE) * 16;
    if (n < info->setup_size || syssize == 0 || n - info->setup_size < syssize) {
        snprintf(err, errlen, "truncated kernel: the header announces %llu bytes, the file has %zu",
                 (unsigned long long)(info->setup_size + syssize), n);
        return -1;
    }
    info->payload_size = (uint32_t)(n - info->setup_size);
    info->initrd_addr_max = ld32(k + HDR_INITRD_ADDR_MAX);
    info->cmdline_size = info->version >= 0x206 ? ld32(k + HDR_CMDLINE_SIZE) : 255;
    info->load_addr = ld32(k + HDR_CODE32_START);
    info->init_size = info->payload_size;
    if (info->version >= 0x20a) {
        uint64_t pref = ld64(k + HDR_PREF_ADDRESS);
        uint32_t align = ld32(k + HDR_KERNEL_ALIGN);
        if (k[HDR_RELOCATABLE] && pref && pref < 0x40000000 && (!align || pref % align == 0))
            info->load_addr = (uint32_t)pref;
        if (ld32(k + HDR_INIT_SIZE) > info->init_size)
            info->init_size = ld32(k + HDR_INIT_SIZE);
    }
    if (info->load_addr < 0x100000) {
        snprintf(err, errlen, "kernel asks to be loaded at %#x, below 1 MiB", info->load_addr);
        return -1;
    }
    return 0;
}

static void e820_add(uint8_t *bp, uint64_t addr, uint64_t size, uint32_t type)
{
    uint8_t *e = bp + BP_E820_TABLE + 20 * bp[BP_E820_ENTRIES]++;
    st64(e, addr);
    st64(e + 8, size);
    st32(e + 16, type);
}

int linux_load(uint8_t *ram, uint64_t ram_size, const uint8_t *k, size_t n, uint64_t initrd_size,
               const char *cmdline, LinuxBootLayout *layout, char *err, size_t errlen)
{
    LinuxKernelInfo info;
    if (linux_parse(k, n, &info, err, errlen) < 0)
        return -1;
    size_t clen = strlen(cmdline);
    if (clen > info.cmdline_size || clen >= 0x10000) {
        snprintf(err, errlen, "kernel command line is %zu bytes, this kernel takes at most %u", clen,
                 info.cmdline_size);
        return -1;
    }
    /* Everything below goes below the PCI hole (base/guestram.h). */
    const GuestRAM mem = guest_ram(ram, ram_size);
    uint64_t kernel_end = (uint64_t)info.load_addr + info.init_size;
    if (kernel_end > mem.low) {
        snprintf(err, errlen, "the kernel needs RAM up to %llu MiB; give the guest more with --mem",
                 (unsigned long long)(kernel_end >> 20) + 1);
        return -1;
    }
    memcpy(ram + info.load_addr, k + info.setup_size, info.payload_size);

    /* boot_params: zeroed, then the setup header copied from the image. */
    uint8_t *bp = ram + BOOT_PARAMS_ADDR;
    memset(bp, 0, 4096);
    size_t hdr_end = 0x202 + k[0x201];
    if (hdr_end > 0x290) /* end of struct setup_header's space in boot_params */
        hdr_end = 0x290;
    memcpy(bp + HDR_SETUP_SECTS, k + HDR_SETUP_SECTS, hdr_end - HDR_SETUP_SECTS);
    bp[HDR_TYPE_OF_LOADER] = 0xff; /* "undefined" boot loader */
    st32(bp + HDR_CODE32_START, info.load_addr);
    memcpy(ram + CMDLINE_ADDR, cmdline, clen + 1);
    st32(bp + HDR_CMD_LINE_PTR, CMDLINE_ADDR);

    /* Memory map: conventional memory below the EBDA, the BIOS area
     * reserved, then RAM from 1 MiB up to the PCI hole, and the rest of RAM
     * above 4 GiB (only a PAE kernel uses it; others say so and skip it).
     * alt_mem_k (E801's extended memory) counts below 4 GiB only. */
    e820_add(bp, 0, 0x9fc00, E820_RAM);
    e820_add(bp, 0x9fc00, 0x400, E820_RESERVED);
    e820_add(bp, 0xf0000, 0x10000, E820_RESERVED);
    e820_add(bp, 0x100000, mem.low - 0x100000, E820_RAM);
    if (guest_ram_high(&mem))
        e820_add(bp, GUEST_RAM_HIGH_BASE, guest_ram_high(&mem), E820_RAM);
    st32(bp + BP_ALT_MEM_K, (uint32_t)((mem.low >> 10) - 1024));

    layout->initrd_addr = 0;
    if (initrd_size) {
        uint64_t top = mem.low;
        if (top > (uint64_t)info.initrd_addr_max + 1)
            top = (uint64_t)info.initrd_addr_max + 1;
        if (top > INITRD_TOP_LOWMEM)
            top = INITRD_TOP_LOWMEM;
        if (initrd_size > top || ((top - initrd_size) & ~0xfffull) < kernel_end) {
            snprintf(err, errlen, "the initrd (%llu MiB) does not fit in guest RAM beside the kernel; "
                                  "give the guest more with --mem",
                     (unsigned long long)(initrd_size + (1 << 20) - 1) >> 20);
            return -1;
        }
        layout->initrd_addr = (uint32_t)((top - initrd_size) & ~0xfffull);
        st32(bp + HDR_RAMDISK_IMAGE, layout->initrd_addr);
        st32(bp + HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
    }

    /* Flat GDT with the boot protocol's __BOOT_CS (0x10) and __BOOT_DS (0x18). */
    static const uint8_t gdt[32] = {
        [16] = 0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0,
        [24] = 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0,
    };
    memcpy(ram + GDT_ADDR, gdt, sizeof gdt);
    layout->gdt_base = GDT_ADDR;
    layout->gdt_limit = sizeof gdt - 1;
    layout->entry = info.load_addr;
    layout->boot_params = BOOT_PARAMS_ADDR;
    return 0;
}

/* ELF32 (the kernel's vmlinux): header and program header fields used. */
#define EHDR_SIZE  52
#define PHDR_SIZE  32
#define PT_LOAD    1
#define EM_386     3

int linux_predecompress(uint8_t *ram, uint64_t ram_size, const uint8_t *k, size_t n,
                        LinuxBootLayout *layout, char *err, size_t errlen)
{
    LinuxKernelInfo info;
    if (linux_parse(k, n, &info, err, errlen) < 0)
        return -1;
    if (info.version < 0x20a || !k[HDR_RELOCATABLE] || info.load_addr != ld64(k + HDR_PREF_ADDRESS))
        return 0;
    uint64_t off = (uint64_t)info.setup_size + ld32(k + HDR_PAYLOAD_OFFSET);
    uint64_t len = ld32(k + HDR_PAYLOAD_LENGTH);
    static const uint8_t xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
    if (len < 16 || off > n || len > n - off || memcmp(k + off, xz_magic, 6) != 0)
        return 0;
    /* The build appends the decompressed size as 4 little-endian bytes. */
    uint32_t out_size = ld32(k + off + len - 4);
    if (out_size < EHDR_SIZE || out_size > info.init_size) {
        snprintf(err, errlen, "kernel payload announces %u bytes decompressed, outside 52..%u", out_size,
                 info.init_size);
        return -1;
    }
    uint8_t *out = malloc(out_size);
    if (!out) {
        snprintf(err, errlen, "out of memory decompressing the kernel");
        return -1;
    }
    size_t in_pos = 0, out_pos = 0;
    uint64_t memlimit = 256 << 20;
    lzma_ret r = lzma_stream_buffer_decode(&memlimit, 0, NULL, k + off, &in_pos, len - 4, out, &out_pos, out_size);
    if (r != LZMA_OK || out_pos != out_size) {
        free(out);
        snprintf(err, errlen, "kernel payload is corrupt (XZ decoder: %s)",
                 r == LZMA_OK ? "size differs from the announced one" : r == LZMA_DATA_ERROR ? "data error"
                 : r == LZMA_FORMAT_ERROR ? "format error" : r == LZMA_BUF_ERROR ? "truncated" : "error");
        return -1;
    }
    /* vmlinux: an ELF32 i386 image (relocations appended after it are not
     * needed at the preferred address). */
    const char *why = NULL;
    uint32_t phoff = ld32(out + 28), entry = ld32(out + 24);
    unsigned phnum = ld16(out + 44), phentsize = ld16(out + 42);
    if (memcmp(out, "\177ELF", 4) || out[4] != 1 || out[5] != 1 || ld16(out + 18) != EM_386)
        why = "not an i386 ELF image";
    else if (phentsize != PHDR_SIZE || phnum == 0 || phoff > out_size ||
             (uint64_t)phnum * PHDR_SIZE > out_size - phoff)
        why = "bad program headers";
    uint64_t lo = info.load_addr, hi = lo + info.init_size;
    int entry_ok = 0;
    for (unsigned i = 0; !why && i < phnum; i++) {
        const uint8_t *ph = out + phoff + i * PHDR_SIZE;
        if (ld32(ph) != PT_LOAD)
            continue;
        uint32_t p_off = ld32(ph + 4), paddr = ld32(ph + 12), filesz = ld32(ph + 16), memsz = ld32(ph + 20);
        if (filesz > memsz || p_off > out_size || filesz > out_size - p_off || paddr < lo ||
            (uint64_t)paddr + memsz > hi || (uint64_t)paddr + memsz > guest_ram(ram, ram_size).low) {
            why = "a segment lies outside the kernel's memory";
            break;
        }
        if (entry >= paddr && entry < paddr + memsz)
            entry_ok = 1;
    }
    if (!why && !entry_ok)
        why = "the entry point is in no segment";
    if (why) {
        free(out);
        snprintf(err, errlen, "decompressed kernel: %s", why);
        return -1;
    }
    /* Replace the compressed image by the segments, as the guest's own
     * decompressor would leave them (no relocation at the preferred address). */
    memset(ram + lo, 0, info.payload_size);
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = out + phoff + i * PHDR_SIZE;
        if (ld32(ph) != PT_LOAD)
            continue;
        uint32_t p_off = ld32(ph + 4), paddr = ld32(ph + 12), filesz = ld32(ph + 16), memsz = ld32(ph + 20);
        memcpy(ram + paddr, out + p_off, filesz);
        memset(ram + paddr + filesz, 0, memsz - filesz);
    }
    free(out);
    layout->entry = entry;
    return 1;
}
