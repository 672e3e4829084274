/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writes the seed corpora of the fuzz targets (run by ctest before them):
 *   fuzz_seeds DIR  ->  DIR/linux/<name>, DIR/ports/<name>
 * Kernel seeds are bzImage headers (setup_header layout of the boot
 * protocol) around a small payload; port seeds are the register sequences a
 * kernel's drivers use, in the format of fuzz_ports.h. One kernel seed has
 * an XZ payload holding a small ELF32 image (for linux_predecompress); its
 * LZMA2 data is stored uncompressed and without a check, so mutations of the
 * ELF headers still decode. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lzma.h>

#include "fuzz_ports.h"

static const char *outdir;

static void put(const char *sub, const char *name, const uint8_t *b, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, sub);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", outdir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void st32(uint8_t *p, uint32_t v) { st16(p, (uint16_t)v); st16(p + 2, (uint16_t)(v >> 16)); }

/* ---- Multiboot kernels (fuzz_multiboot: a module-count byte, then the
 * kernel): an a.out-kludge image and an ELF32 image with a virtual entry. ---- */
static void multiboot_seeds(void)
{
    uint8_t a[1 + 4096] = { 2 };
    uint8_t *k = a + 1;
    uint32_t flags = 0x10003;
    st32(k + 64, 0x1badb002);
    st32(k + 68, flags);
    st32(k + 72, (uint32_t)-(0x1badb002u + flags));
    st32(k + 76, 0x100040);             /* header_addr */
    st32(k + 80, 0x100000);             /* load_addr */
    st32(k + 84, 0x100800);             /* load_end_addr */
    st32(k + 88, 0x102000);             /* bss_end_addr */
    st32(k + 92, 0x100060);             /* entry_addr */
    k[0x60] = 0xf4;
    put("multiboot", "aout", a, sizeof a);
    uint8_t e[1 + 0x1000] = { 1 };
    k = e + 1;
    memcpy(k, "\177ELF", 4);
    k[4] = 1, k[5] = 1, k[6] = 1;
    st16(k + 16, 2);                    /* ET_EXEC */
    st16(k + 18, 3);                    /* EM_386 */
    st32(k + 20, 1);
    st32(k + 24, 0xc0100010);           /* virtual entry */
    st32(k + 28, 52);                   /* phoff */
    st16(k + 40, 52);
    st16(k + 42, 32);                   /* phentsize */
    st16(k + 44, 1);                    /* phnum */
    uint8_t *ph = k + 52;
    st32(ph, 1);                        /* PT_LOAD */
    st32(ph + 4, 0x800);
    st32(ph + 8, 0xc0100000);
    st32(ph + 12, 0x100000);
    st32(ph + 16, 0x800);
    st32(ph + 20, 0x3000);
    st32(k + 0x100, 0x1badb002);
    st32(k + 0x104, 3);
    st32(k + 0x108, (uint32_t)-(0x1badb002u + 3));
    put("multiboot", "elf", e, sizeof e);
}

/* ---- kernels ---- */
typedef struct KernelSeed {
    const char *name;
    uint8_t setup_sects;
    uint16_t version;
    uint8_t loadflags, relocatable;
    uint16_t xloadflags;
    uint32_t syssize_bytes, code32, pref, align, init_size, initrd_max, cmdline_size;
} KernelSeed;

static void kernel_seed(const KernelSeed *ks)
{
    unsigned sects = ks->setup_sects ? ks->setup_sects : 4;
    size_t n = (sects + 1) * 512 + ks->syssize_bytes;
    uint8_t *k = calloc(1, n);
    if (!k)
        exit(1);
    k[0x1f1] = ks->setup_sects;
    st32(k + 0x1f4, ks->syssize_bytes / 16);
    st16(k + 0x1fe, 0xaa55);
    k[0x200] = 0xeb;                /* jmp over the header */
    k[0x201] = 0x66;
    memcpy(k + 0x202, "HdrS", 4);
    st16(k + 0x206, ks->version);
    k[0x211] = ks->loadflags;
    st32(k + 0x214, ks->code32);
    st32(k + 0x22c, ks->initrd_max);
    st32(k + 0x230, ks->align);
    k[0x234] = ks->relocatable;
    st16(k + 0x236, ks->xloadflags);
    st32(k + 0x238, ks->cmdline_size);
    st32(k + 0x258, ks->pref);
    st32(k + 0x260, ks->init_size);
    for (size_t i = (sects + 1) * 512; i < n; i++)
        k[i] = (uint8_t)(i * 7);
    put("linux", ks->name, k, n);
    free(k);
}

/* A bzImage whose payload is XZ(vmlinux) plus the 4-byte decompressed size,
 * at its preferred address, as Debian's kernels are. */
static void xz_kernel_seed(void)
{
    const uint32_t pref = 0x1000000, elf_size = 0x2000;
    uint8_t *elf = calloc(1, elf_size);
    if (!elf)
        exit(1);
    uint32_t x = 12345;                 /* filler that does not compress */
    for (uint32_t i = 0; i < elf_size; i++) {
        x = x * 1103515245u + 12345u;
        elf[i] = (uint8_t)(x >> 16);
    }
    memset(elf, 0, 0x74);
    memcpy(elf, "\177ELF\1\1\1", 7);    /* ELFCLASS32, little-endian, version 1 */
    st16(elf + 16, 2);                  /* ET_EXEC */
    st16(elf + 18, 3);                  /* EM_386 */
    st32(elf + 20, 1);
    st32(elf + 24, pref + 0x100);       /* e_entry */
    st32(elf + 28, 52);                 /* e_phoff */
    st16(elf + 40, 52);
    st16(elf + 42, 32);
    st16(elf + 44, 2);
    static const uint32_t ph[2][6] = {  /* type, offset, vaddr, paddr, filesz, memsz */
        { 1, 0x1000, 0xc1000000u, 0x1000000, 0x800, 0x2000 },
        { 1, 0x1800, 0xc1004000u, 0x1004000, 0x400, 0x400 },
    };
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 6; j++)
            st32(elf + 52 + 32 * i + 4 * j, ph[i][j]);

    size_t cap = elf_size + 4096, xz_len = 0;
    uint8_t *xz = malloc(cap);
    if (!xz || lzma_easy_buffer_encode(0, LZMA_CHECK_NONE, NULL, elf, elf_size, xz, &xz_len, cap) != LZMA_OK) {
        fprintf(stderr, "fuzz_seeds: XZ encoding failed\n");
        exit(1);
    }
    if (!memmem(xz, xz_len, elf, 0x74))
        fprintf(stderr, "fuzz_seeds: note: the ELF header is not stored verbatim in the XZ seed\n");
    const uint32_t pad = 0x100, setup = 2 * 512;
    uint32_t payload = pad + (uint32_t)xz_len + 4;
    payload = (payload + 15) & ~15u;
    uint8_t *k = calloc(1, setup + payload);
    if (!k)
        exit(1);
    k[0x1f1] = 1;
    st32(k + 0x1f4, payload / 16);
    st16(k + 0x1fe, 0xaa55);
    k[0x200] = 0xeb;
    k[0x201] = 0x66;
    memcpy(k + 0x202, "HdrS", 4);
    st16(k + 0x206, 0x020f);
    k[0x211] = 0x01;
    st32(k + 0x214, 0x100000);
    st32(k + 0x22c, 0x7fffffff);
    st32(k + 0x230, 0x200000);
    k[0x234] = 1;
    st32(k + 0x238, 2047);
    st32(k + 0x248, pad);               /* payload_offset */
    st32(k + 0x24c, (uint32_t)xz_len + 4); /* payload_length */
    st32(k + 0x258, pref);
    st32(k + 0x260, 0x800000);
    memcpy(k + setup + pad, xz, xz_len);
    st32(k + setup + pad + xz_len, elf_size);
    put("linux", "bzimage-xz-elf", k, setup + payload);
    free(k);
    free(xz);
    free(elf);
}

/* ---- port sequences ---- */
static uint8_t seq[4096];
static size_t nseq;

static int port_index(uint16_t port)
{
    for (int i = 0; i < FZ_NPORTS; i++)
        if (fz_ports[i] == port)
            return i;
    return -1;
}

static void b1(uint8_t v) { seq[nseq++] = v; }
static void port_spec(uint16_t port)
{
    int i = port_index(port);
    if (i >= 0) {
        b1((uint8_t)i);
    } else {
        b1(0xff);
        b1((uint8_t)port);
        b1((uint8_t)(port >> 8));
    }
}
static void out(uint16_t port, uint32_t v, int size)
{
    b1(FZ_OP(FZ_WRITE, size));
    port_spec(port);
    for (int i = 0; i < 4; i++)
        b1((uint8_t)(v >> (8 * i)));
}
static void outb(uint16_t port, uint8_t v) { out(port, v, 0); }
static void in(uint16_t port, int size)
{
    b1(FZ_OP(FZ_READ, size));
    port_spec(port);
}
static void advance(uint16_t n, int shift)
{
    b1(FZ_OP(FZ_ADVANCE, shift));
    b1((uint8_t)n);
    b1((uint8_t)(n >> 8));
}
static void inta(void) { b1(FZ_OP(FZ_INTA, 0)); }
static void begin(uint32_t epoch)
{
    nseq = 0;
    for (int i = 0; i < 4; i++)
        b1((uint8_t)(epoch >> (8 * i)));
    b1(0);
}
static void end(const char *name) { put("ports", name, seq, nseq); }

/* The PIC initialisation Linux's init_8259A() does: vectors 0x30/0x38. */
static void pic_setup(void)
{
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    outb(0x20, 0x11);
    outb(0x21, 0x30);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0xa0, 0x11);
    outb(0xa1, 0x38);
    outb(0xa1, 0x02);
    outb(0xa1, 0x01);
    outb(0x21, 0x00);
    outb(0xa1, 0x00);
}

/* ---- AHCI sequences (format in fuzz_ahci.c) ---- */
enum { AF_READ, AF_WRITE, AF_PREG, AF_START, AF_ISSUE, AF_CONFIG, AF_POKE, AF_MISC, AF_BUILD };
#define AF_OP(kind, arg) ((uint8_t)((kind) | (arg) << 4))

static void a32(uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b1((uint8_t)(v >> (8 * i)));
}
/* Empty RAM prefix, or `n` bytes of `ram`. */
static void ahci_begin(const uint8_t *ram, uint16_t n)
{
    nseq = 0;
    b1((uint8_t)n);
    b1((uint8_t)(n >> 8));
    for (uint16_t i = 0; i < n; i++)
        b1(ram[i]);
}
static void ahci_build(uint8_t slot, uint8_t clb8, uint8_t cmd, uint8_t flags, uint32_t lba, uint16_t count,
                       uint8_t nprd, uint8_t buf8, uint16_t len)
{
    b1(AF_OP(AF_BUILD, 0));
    b1(slot);
    b1(clb8);
    b1(cmd);
    b1(flags);
    a32(lba);
    b1((uint8_t)count);
    b1((uint8_t)(count >> 8));
    b1(nprd);
    b1(buf8);
    b1((uint8_t)len);
    b1((uint8_t)(len >> 8));
}
static void ahci_start(int port, uint8_t clb8, uint8_t fb8, uint32_t ci)
{
    b1(AF_OP(AF_START, port));
    b1(clb8);
    b1(fb8);
    a32(ci);
}
static void ahci_mmio(int write, uint16_t off, uint32_t v)
{
    b1(AF_OP(write ? AF_WRITE : AF_READ, 3));
    b1((uint8_t)off);
    b1((uint8_t)(off >> 8));
    if (write)
        a32(v);
}
static void ahci_misc(uint8_t v) { b1(AF_OP(AF_MISC, 0)); b1(v); }
static void ahci_end(const char *name) { put("ahci", name, seq, nseq); }

static void ahci_seeds(void)
{
    /* IDENTIFY on port 0 (slot 0, list at 16 KiB, FIS area at 8 KiB, data at 64 KiB). */
    ahci_begin(NULL, 0);
    ahci_mmio(0, 0x00, 0);
    ahci_mmio(1, 0x04, 0x80000002);
    ahci_misc(9 << 2);
    ahci_build(0, 16, 0xec, 0, 0, 1, 1, 64, 511);
    ahci_start(0, 16, 8, 1);
    ahci_mmio(0, 0x100 + 0x20, 0);
    ahci_mmio(0, 0x08, 0);
    ahci_end("identify");

    /* Writes then reads with several PRDs, FLUSH, READ NATIVE MAX, past-the-end LBA. */
    ahci_begin(NULL, 0);
    ahci_build(0, 16, 0x35, 1, 3, 8, 4, 64, 1023);
    ahci_build(1, 16, 0x25, 2, 3, 8, 3, 96, 2047);
    ahci_build(2, 16, 0xca, 1, 10, 2, 1, 128, 1023);
    ahci_build(3, 16, 0xc8, 0, 10, 2, 2, 160, 511);
    ahci_build(4, 16, 0xea, 0, 0, 0, 0, 0, 0);
    ahci_build(5, 16, 0x27, 0, 0, 0, 0, 0, 0);
    ahci_start(0, 16, 8, 0x3f);
    ahci_build(0, 16, 0x25, 0, 255, 4, 1, 64, 2047);
    b1(AF_OP(AF_ISSUE, 0));
    b1(0x20);
    b1(AF_OP(AF_ISSUE, 0));
    b1(0x60);
    ahci_end("rw");

    /* Read-only disk on port 2, short PRDT, unknown command, empty port 1. */
    ahci_begin(NULL, 0);
    ahci_build(0, 32, 0x35, 1, 0, 4, 1, 64, 2047);
    ahci_start(2, 32, 9, 1);
    ahci_build(1, 32, 0x25, 0, 0, 8, 1, 64, 511);
    b1(AF_OP(AF_ISSUE, 2));
    b1(0x41);
    ahci_build(2, 32, 0x99, 0, 0, 0, 0, 0, 0);
    b1(AF_OP(AF_ISSUE, 2));
    b1(0x62);
    ahci_build(0, 48, 0xec, 0, 0, 1, 1, 64, 511);
    ahci_start(1, 48, 10, 1);
    ahci_end("errors");

    /* Linux's reset path: COMRESET, CLO, device control FIS with SRST set then clear. */
    ahci_begin(NULL, 0);
    ahci_misc(0 << 2);
    ahci_misc(1 << 2);
    ahci_misc(2 << 2 | 0);
    ahci_misc(8 << 2 | 0);
    ahci_build(0, 16, 0, 4 | 8, 0, 0, 0, 0, 0);
    ahci_build(1, 16, 0, 4, 0, 0, 0, 0, 0);
    ahci_start(0, 16, 8, 1);
    b1(AF_OP(AF_ISSUE, 0));
    b1(1);
    ahci_misc(7 << 2);
    ahci_end("reset");

    /* A command list laid out in the RAM prefix (list at 0, table at 0x400,
     * data at 0x1000), plus PCI config accesses. */
    static uint8_t r[0x490];
    memset(r, 0, sizeof r);
    st32(r, 5 | 1u << 16);
    st32(r + 8, 0x400);
    r[0x400] = 0x27;
    r[0x401] = 0x80;
    r[0x402] = 0xc8;
    r[0x407] = 0x40;
    r[0x40c] = 1;
    st32(r + 0x480, 0x1000);
    st32(r + 0x48c, 511);
    ahci_begin(r, sizeof r);
    b1(AF_OP(AF_CONFIG, 6));
    b1(0x00);
    a32(0);
    b1(AF_OP(AF_CONFIG, 1));
    b1(0x04);
    a32(0x0406);
    b1(AF_OP(AF_CONFIG, 3));
    b1(0x24);
    a32(0xffffffff);
    b1(AF_OP(AF_CONFIG, 3));
    b1(0x24);
    a32(0xfebf0000);
    ahci_start(0, 0, 2, 1);
    b1(AF_OP(AF_POKE, 0));          /* the FIS at 0x400 becomes READ DMA EXT */
    b1(0x00);
    b1(0x01);
    b1(4);
    a32(0x25ff8027);
    ahci_end("prefix-config");
}


/* ---- IDE sequences (format in fuzz_ide.c) ---- */
enum { IF_IN, IF_OUT, IF_CMD, IF_DATA, IF_PRD, IF_POKE, IF_CONFIG, IF_MISC };
#define IF_OP(kind, arg) ((uint8_t)((kind) | (arg) << 4))

static void ide_cmd(int lba48, uint8_t dev, uint8_t cmd, uint32_t lba, uint16_t count)
{
    b1(IF_OP(IF_CMD, lba48));
    b1(dev);
    b1(cmd);
    a32(lba);
    b1((uint8_t)count);
    b1((uint8_t)(count >> 8));
}
static void ide_data(int arg, uint16_t n)
{
    b1(IF_OP(IF_DATA, arg));
    b1((uint8_t)n);
    b1((uint8_t)(n >> 8));
}
static void ide_prd(int arg, uint16_t table, uint8_t nprd, uint16_t buf, uint16_t len)
{
    b1(IF_OP(IF_PRD, arg));
    b1((uint8_t)table);
    b1((uint8_t)(table >> 8));
    b1(nprd);
    b1((uint8_t)buf);
    b1((uint8_t)(buf >> 8));
    b1((uint8_t)len);
    b1((uint8_t)(len >> 8));
}
static void ide_end(const char *name) { put("ide", name, seq, nseq); }

static void ide_seeds(void)
{
    /* Probe as Linux and Fiwix do: SRST, IDENTIFY on both devices (16- and
     * 32-bit reads), the empty secondary channel, the status polls. */
    ahci_begin(NULL, 0);
    b1(IF_OP(IF_MISC, 0));
    b1(3 << 1);
    ide_cmd(0, 0, 0xec, 0, 0);
    ide_data(0, 256);
    ide_cmd(0, 1, 0xec, 0, 0);
    ide_data(2, 128);
    ide_cmd(0, 2, 0xec, 0, 0);
    b1(IF_OP(IF_IN, 3));
    b1(16);
    b1(IF_OP(8, 0));
    ide_end("identify");

    /* PIO: READ SECTORS, SET MULTIPLE then READ/WRITE MULTIPLE, EXT, CHS,
     * past the end, a write to the read-only slave. */
    ahci_begin(NULL, 0);
    ide_cmd(0, 0, 0x20, 3, 2);
    ide_data(0, 512);
    ide_cmd(0, 0, 0xc6, 0, 4);
    ide_cmd(0, 0, 0xc5, 8, 6);
    ide_data(1, 768);
    ide_cmd(1, 0, 0x29, 8, 6);
    ide_data(2, 384);
    ide_cmd(0, 4, 0x30, 2, 1);
    ide_data(1, 256);
    ide_cmd(1, 0, 0x24, 0xffffff00u, 4);
    ide_cmd(0, 1, 0x30, 0, 1);
    ide_cmd(0, 0, 0xe7, 0, 0);
    ide_end("pio");

    /* DMA in Linux's order (command, then start) and Fiwix's (start, then
     * command), a write, and a PRD running past RAM. */
    ahci_begin(NULL, 0);
    ide_prd(1, 0x100, 2, 0x1000, 1024);
    ide_cmd(0, 0, 0xc8, 4, 4);
    ide_prd(3, 0x100, 2, 0x1000, 1024);
    ide_cmd(1, 0, 0x25, 4, 4);
    ide_prd(2, 0x200, 1, 0x2000, 2048);
    ide_cmd(0, 0, 0xca, 20, 4);
    ide_prd(3, 0x300, 1, 0xff00, 0);
    ide_cmd(0, 0, 0xc8, 0, 8);
    b1(IF_OP(IF_MISC, 0));
    b1(2 << 1);
    ide_end("dma");

    /* PIIX3 config: timings, decode off and on, the BAR moved and back. */
    ahci_begin(NULL, 0);
    b1(IF_OP(IF_CONFIG, 1));
    b1(0x40);
    a32(0xa344);
    b1(IF_OP(IF_CONFIG, 1));
    b1(0x40);
    a32(0);
    ide_cmd(0, 0, 0xec, 0, 0);
    b1(IF_OP(IF_CONFIG, 1));
    b1(0x40);
    a32(0x8000);
    b1(IF_OP(IF_CONFIG, 3));
    b1(0x20);
    a32(0xffffffff);
    b1(IF_OP(IF_CONFIG, 3));
    b1(0x20);
    a32(0xc001);
    b1(IF_OP(IF_MISC, 0));
    b1(4 << 1);
    ide_cmd(0, 0, 0xec, 0, 0);
    b1(IF_OP(IF_MISC, 0));
    b1(0 << 1);
    ide_end("config");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    outdir = argv[1];
    mkdir(outdir, 0777);

    static const KernelSeed kernels[] = {
        { "bzimage-2.15", 1, 0x020f, 0x01, 1, 0, 256, 0x100000, 0x1000000, 0x200000, 0x800000, 0x7fffffff, 2047 },
        { "bzimage-2.06", 4, 0x0206, 0x01, 0, 0, 512, 0x100000, 0, 0, 0, 0x37ffffff, 255 },
        { "bzimage-sects0", 0, 0x020a, 0x01, 1, 0, 64, 0x100000, 0x400000, 0x400000, 0x3000000, 0xffffffff, 4095 },
        { "bzimage-huge-init", 1, 0x020c, 0x01, 1, 0, 256, 0x100000, 0x1000000, 0x200000, 0x3f000000, 0x7fffffff, 2047 },
        { "bzimage-64bit", 1, 0x020c, 0x01, 1, 0x01, 256, 0x100000, 0x1000000, 0x200000, 0x800000, 0x7fffffff, 2047 },
        { "zimage", 1, 0x0206, 0x00, 0, 0, 256, 0x10000, 0, 0, 0, 0x37ffffff, 255 },
        { "low-initrd-max", 1, 0x020f, 0x01, 1, 0, 256, 0x100000, 0x1000000, 0x200000, 0x800000, 0x1200000, 2047 },
        { "short-cmdline", 1, 0x020f, 0x01, 1, 0, 256, 0x100000, 0, 0x200000, 0x800000, 0x7fffffff, 16 },
    };
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        kernel_seed(&kernels[i]);
    xz_kernel_seed();
    multiboot_seeds();

    /* PIC + PIT: channel 0 periodic at 100 Hz, interrupts acknowledged with EOI. */
    begin(1700000000);
    pic_setup();
    outb(0x43, 0x34);
    outb(0x40, 0x9c);
    outb(0x40, 0x2e);
    for (int i = 0; i < 4; i++) {
        advance(0x9896, 8);         /* ~10 ms */
        inta();
        outb(0x20, 0x20);
    }
    outb(0x43, 0x00);               /* latch */
    in(0x40, 0);
    in(0x40, 0);
    outb(0x43, 0xe2);               /* read-back status of channel 0 */
    in(0x40, 0);
    outb(0x43, 0x30);               /* one-shot */
    outb(0x40, 0x01);
    outb(0x40, 0x00);
    advance(0x1000, 0);
    inta();
    outb(0x61, 0x01);               /* channel 2 gate, mode 3 as the PIT calibration does */
    outb(0x43, 0xb6);
    outb(0x42, 0xff);
    outb(0x42, 0xff);
    in(0x61, 0);
    advance(0x1000, 4);
    in(0x61, 0);
    end("pic-pit");

    /* UART: 115200 8N1, FIFOs, interrupts, transmit, receive, loopback. */
    begin(0);
    pic_setup();
    outb(0x3fb, 0x83);
    outb(0x3f8, 0x01);
    outb(0x3f9, 0x00);
    outb(0x3fb, 0x03);
    outb(0x3fa, 0xc7);
    outb(0x3fc, 0x0b);
    outb(0x3f9, 0x0f);
    in(0x3fa, 0);
    for (int i = 0; i < 20; i++)
        outb(0x3f8, (uint8_t)('a' + i));
    in(0x3fd, 0);
    inta();
    b1(FZ_OP(FZ_RX, 15));
    for (int i = 0; i < 15; i++)
        b1((uint8_t)('A' + i));
    in(0x3fa, 0);
    in(0x3f8, 0);
    advance(0x100, 10);
    in(0x3fa, 0);
    outb(0x3fc, 0x1f);              /* loopback */
    outb(0x3f8, 0x55);
    in(0x3f8, 0);
    in(0x3fe, 0);
    out(0x3f8, 0x12345678, 2);      /* a dword spread over THR, IER, FCR, LCR */
    end("uart");

    /* RTC: read the time, periodic interrupt, alarm, SET, register C. */
    begin(0x65000000);
    pic_setup();
    static const uint8_t regs[] = { 0x0a, 0x0b, 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32, 0x0d };
    for (size_t i = 0; i < sizeof regs; i++) {
        outb(0x70, regs[i]);
        in(0x71, 0);
    }
    outb(0x70, 0x0a);
    outb(0x71, 0x26);
    outb(0x70, 0x0b);
    outb(0x71, 0x42 | 0x20 | 0x10);
    for (int i = 0; i < 4; i++) {
        advance(0x4000, 10);
        inta();
        outb(0x70, 0x0c);
        in(0x71, 0);
        outb(0xa0, 0x20);
        outb(0x20, 0x20);
    }
    outb(0x70, 0x0b);
    outb(0x71, 0x86);               /* SET, binary, 24 h */
    outb(0x70, 0x09);
    outb(0x71, 99);
    outb(0x70, 0x0b);
    outb(0x71, 0x06);
    advance(0xffff, 20);
    outb(0x70, 0x09);
    in(0x71, 0);
    end("rtc");

    /* PCI: probe 00:00.0 and an empty slot, size a BAR, reset control. */
    begin(0);
    out(0xcf8, 0x80000000, 2);
    in(0xcfc, 2);
    out(0xcf8, 0x80000008, 2);
    in(0xcfc, 2);
    out(0xcf8, 0x80000004, 2);
    out(0xcfc, 0x00000007, 2);
    in(0xcfe, 1);
    out(0xcf8, 0x80000010, 2);
    out(0xcfc, 0xffffffff, 2);
    in(0xcfc, 2);
    out(0xcf8, 0x80000800, 2);      /* 00:01.0: nothing */
    in(0xcfc, 2);
    out(0xcf8, 0x8000003c, 2);
    out(0xcfd, 0x0b, 0);
    in(0xcfc, 0);
    in(0xc000, 2);
    b1(FZ_OP(FZ_MMIO_READ, 2));
    b1(0x10);
    b1(0x00);
    b1(0x00);
    outb(0xcf9, 0x02);
    outb(0xcf9, 0x06);              /* hard reset */
    in(0xcf9, 0);
    end("pci");

    /* sysreset and the missing keyboard controller. */
    begin(0);
    in(0x64, 0);
    in(0x60, 0);
    outb(0x92, 0x02);
    in(0x92, 0);
    outb(0x64, 0xfe);
    outb(0x92, 0x01);
    end("sysreset");

    ahci_seeds();
    ide_seeds();
    return 0;
}
