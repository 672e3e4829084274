/* SPDX-License-Identifier: GPL-2.0-or-later */
/* boot/multiboot.c: the header search and its checks, the a.out kludge and
 * ELF32 placement (with a virtual entry point translated through its
 * segment), modules, the info block and memory map, and refusals. */
#include <stdlib.h>
#include <string.h>

#include "boot/multiboot.h"
#include "check.h"

#define RAM (64u << 20)

static void st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void st32(uint8_t *p, uint32_t v) { st16(p, (uint16_t)v); st16(p + 2, (uint16_t)(v >> 16)); }
static uint32_t ld32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void header(uint8_t *p, uint32_t flags)
{
    st32(p, MULTIBOOT_HEADER_MAGIC);
    st32(p + 4, flags);
    st32(p + 8, (uint32_t)-(MULTIBOOT_HEADER_MAGIC + flags));
}

/* An a.out-kludge kernel: header at file offset 64, loaded from offset 0 to
 * 0x200000, 0x800 bytes of file, bss to 0x203000, entry 0x200100. */
static size_t aout_kernel(uint8_t *k, size_t n)
{
    memset(k, 0, n);
    header(k + 64, 0x10003);
    st32(k + 76, 0x200040);
    st32(k + 80, 0x200000);
    st32(k + 84, 0x200800);
    st32(k + 88, 0x203000);
    st32(k + 92, 0x200100);
    for (size_t i = 0x100; i < 0x800; i++)
        k[i] = (uint8_t)i;
    return 0x800 + 16;   /* trailing bytes beyond load_end are not loaded */
}

/* An ELF32 kernel: one PT_LOAD of 0x400 file bytes at vaddr 0xc0100000,
 * paddr 0x100000, memsz 0x2000; entry given virtually at 0xc0100020. */
static size_t elf_kernel(uint8_t *k, size_t n)
{
    memset(k, 0, n);
    memcpy(k, "\177ELF", 4);
    k[4] = 1, k[5] = 1, k[6] = 1;
    st16(k + 16, 2);
    st16(k + 18, 3);
    st32(k + 24, 0xc0100020);
    st32(k + 28, 52);
    st16(k + 42, 32);
    st16(k + 44, 1);
    uint8_t *ph = k + 52;
    st32(ph, 1);
    st32(ph + 4, 0x400);
    st32(ph + 8, 0xc0100000);
    st32(ph + 12, 0x100000);
    st32(ph + 16, 0x400);
    st32(ph + 20, 0x2000);
    header(k + 0x400, 3);   /* inside the segment, within the first 8 KiB */
    for (size_t i = 0x410; i < 0x800; i++)
        k[i] = 0x77;
    return 0x800;
}

int main(void)
{
    uint8_t *ram = calloc(1, RAM), k[0x2100];
    char err[256];
    MultibootHeader h;
    MultibootLayout l;
    CHECK(ram != NULL);

    /* search: none, found, bad checksum, unknown flag, truncated a.out fields */
    memset(k, 0, sizeof k);
    CHECK_EQ(multiboot_find(k, sizeof k, &h, err, sizeof err), 0);
    header(k + 8192, 0);                 /* past the first 8192 bytes: not searched */
    CHECK_EQ(multiboot_find(k, sizeof k, &h, err, sizeof err), 0);
    memset(k, 0, sizeof k);
    header(k + 6, 0);                    /* not 4-aligned */
    CHECK_EQ(multiboot_find(k, sizeof k, &h, err, sizeof err), 0);
    header(k + 12, 0);
    CHECK_EQ(multiboot_find(k, sizeof k, &h, err, sizeof err), 1);
    CHECK_EQ(h.offset, 12);
    st32(k + 20, 1);
    CHECK_EQ(multiboot_find(k, sizeof k, &h, err, sizeof err), -1);
    CHECK(strstr(err, "bad checksum") != NULL);
    header(k + 12, 0x20);
    CHECK_EQ(multiboot_find(k, sizeof k, &h, err, sizeof err), -1);
    CHECK(strstr(err, "does not know") != NULL);
    header(k + 12, 0x10000);
    CHECK_EQ(multiboot_find(k, 24, &h, err, sizeof err), -1);
    CHECK(strstr(err, "past the end") != NULL);

    /* a.out kludge with two modules */
    size_t n = aout_kernel(k, sizeof k);
    uint8_t m1[5000], m2[3] = { 1, 2, 3 };
    memset(m1, 0xab, sizeof m1);
    MultibootModule mods[2] = { { m1, sizeof m1, "/boot/m1 x=1" }, { m2, sizeof m2, "m2" } };
    memset(ram + 0x200800, 0xee, 0x2800);  /* the bss must come back zero */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "kern a=b", mods, 2, &l, err, sizeof err), 0);
    CHECK_EQ(l.entry, 0x200100);
    CHECK_EQ(l.kernel_start, 0x200000);
    CHECK_EQ(l.kernel_end, 0x203000);
    CHECK(memcmp(ram + 0x200000, k, 0x800) == 0);
    CHECK_EQ(ram[0x200800], 0);
    CHECK_EQ(ram[0x202fff], 0);
    CHECK_EQ(l.mod_start[0], 0x203000);
    CHECK_EQ(l.mod_end[0], 0x203000 + 5000);
    CHECK_EQ(l.mod_start[1], 0x205000);
    CHECK(memcmp(ram + l.mod_start[0], m1, sizeof m1) == 0);
    CHECK(memcmp(ram + l.mod_start[1], m2, sizeof m2) == 0);
    const uint8_t *mi = ram + l.info_addr;
    CHECK_EQ(ld32(mi), 0x24f);
    CHECK_EQ(ld32(mi + 4), 639);
    CHECK_EQ(ld32(mi + 8), (RAM - 0x100000) >> 10);
    CHECK_EQ(ld32(mi + 12), 0x8000ffff);
    CHECK_STR((const char *)ram + ld32(mi + 16), "kern a=b");
    CHECK_EQ(ld32(mi + 20), 2);
    const uint8_t *ml = ram + ld32(mi + 24);
    CHECK_EQ(ld32(ml), l.mod_start[0]);
    CHECK_EQ(ld32(ml + 4), l.mod_end[0]);
    CHECK_STR((const char *)ram + ld32(ml + 8), "/boot/m1 x=1");
    CHECK_STR((const char *)ram + ld32(ml + 24), "m2");
    CHECK_EQ(ld32(mi + 44), 96);
    const uint8_t *mm = ram + ld32(mi + 48);
    CHECK_EQ(ld32(mm), 20);
    CHECK_EQ(ld32(mm + 12), 0x9fc00);
    CHECK_EQ(ld32(mm + 20), 1);
    CHECK_EQ(ld32(mm + 72 + 4), 0x100000);
    CHECK_EQ(ld32(mm + 72 + 12), RAM - 0x100000);
    CHECK_EQ(ld32(mm + 72 + 20), 1);
    CHECK_STR((const char *)ram + ld32(mi + 64), "lbvm");
    /* the GDT: flat 32-bit code at 0x08, data at 0x10 */
    CHECK_EQ(l.gdt_limit, 23);
    CHECK_EQ(ld32(ram + l.gdt_base + 12), 0x00cf9a00);
    CHECK_EQ(ld32(ram + l.gdt_base + 20), 0x00cf9200);

    /* a.out kludge refusals */
    aout_kernel(k, sizeof k);
    header(k + 64, 0x10003);
    st32(k + 76, 0x200100);              /* header_addr - load_addr > header offset */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "header_addr") != NULL);
    aout_kernel(k, sizeof k);
    st32(k + 84, 0x300000);              /* load_end past the file */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "load_end_addr") != NULL);
    aout_kernel(k, sizeof k);
    st32(k + 88, 0x200400);              /* bss before the image end */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "bss_end_addr") != NULL);
    aout_kernel(k, sizeof k);
    st32(k + 92, 0x300000);              /* entry outside */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "entry_addr") != NULL);
    aout_kernel(k, sizeof k);
    st32(k + 76, 0x10040);               /* over the info area */
    st32(k + 80, 0x10000);
    st32(k + 84, 0x10800);
    st32(k + 88, 0);
    st32(k + 92, 0x10100);
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "boot information") != NULL);
    aout_kernel(k, sizeof k);
    st32(k + 76, 0xfff00040);            /* past RAM */
    st32(k + 80, 0xfff00000);
    st32(k + 84, 0xfff00800);
    st32(k + 88, 0);
    st32(k + 92, 0xfff00100);
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "raise --mem") != NULL);

    /* ELF: virtual entry translated; bss zeroed; module too big for RAM */
    n = elf_kernel(k, sizeof k);
    memset(ram + 0x100000, 0xee, 0x2000);
    CHECK_EQ(multiboot_load(ram, RAM, k, n, NULL, NULL, 0, &l, err, sizeof err), 0);
    CHECK_EQ(l.entry, 0x100020);
    CHECK_EQ(l.kernel_start, 0x100000);
    CHECK_EQ(l.kernel_end, 0x102000);
    CHECK(memcmp(ram + 0x100000, k + 0x400, 0x400) == 0);
    CHECK_EQ(ram[0x100400], 0);
    CHECK_EQ(ld32(ram + l.info_addr + 20), 0);
    MultibootModule big = { m1, RAM, "big" };
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", &big, 1, &l, err, sizeof err), -1);
    CHECK(strstr(err, "does not fit") != NULL);
    elf_kernel(k, sizeof k);
    st32(k + 52 + 16, 0x5000);           /* filesz > memsz */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "segment 0") != NULL);
    elf_kernel(k, sizeof k);
    st32(k + 52 + 4, 0x7f0);             /* offset + filesz past the file */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    elf_kernel(k, sizeof k);
    st16(k + 44, 200);                   /* program headers past the file */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "program headers") != NULL);
    elf_kernel(k, sizeof k);
    st16(k + 18, 62);                    /* x86-64 */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "i386") != NULL);
    elf_kernel(k, sizeof k);
    st32(k + 24, 0x500000);              /* entry in no segment */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "entry point") != NULL);
    elf_kernel(k, sizeof k);
    st32(k + 52, 2);                     /* no PT_LOAD */
    CHECK_EQ(multiboot_load(ram, RAM, k, n, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "no loadable segment") != NULL);
    memset(k, 0, sizeof k);
    header(k, 3);                         /* neither ELF nor bit 16 */
    CHECK_EQ(multiboot_load(ram, RAM, k, 64, "", NULL, 0, &l, err, sizeof err), -1);
    CHECK(strstr(err, "not ELF") != NULL);
    free(ram);
    return check_done();
}
