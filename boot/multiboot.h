/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Multiboot (version 0.6.96, "Multiboot 1") kernels, as QEMU's -kernel and
 * GRUB load them: find and check the header, place the kernel (the a.out
 * kludge's address fields when flags bit 16 is set, else the ELF32 program
 * headers by physical address), the modules page-aligned after it, and the
 * boot information (memory sizes, boot device, command line, modules, memory
 * map, boot loader name) with a flat GDT below 640 KiB. No CPU here: the
 * caller enters the kernel in protected mode with EAX = MULTIBOOT_BOOTLOADER_
 * MAGIC and EBX = info_addr. Every field is checked; bad input gets one line. */
#ifndef LBVM_MULTIBOOT_H
#define LBVM_MULTIBOOT_H
#include <stddef.h>
#include <stdint.h>

#define MULTIBOOT_HEADER_MAGIC 0x1badb002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u
#define MULTIBOOT_SEARCH 8192

/* Header flags (spec 3.1.2) */
#define MULTIBOOT_PAGE_ALIGN (1u << 0)
#define MULTIBOOT_MEMORY_INFO (1u << 1)
#define MULTIBOOT_VIDEO_MODE (1u << 2)
#define MULTIBOOT_AOUT_KLUDGE (1u << 16)

/* Info flags (spec 3.3) */
#define MULTIBOOT_INFO_MEMORY (1u << 0)
#define MULTIBOOT_INFO_BOOTDEV (1u << 1)
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_INFO_MODS (1u << 3)
#define MULTIBOOT_INFO_MEM_MAP (1u << 6)
#define MULTIBOOT_INFO_BOOT_LOADER_NAME (1u << 9)

/* Where the info block, its strings and the GDT go: above the real-mode
 * IVT/BDA, below the EBDA; kernels may not overlap it (nor the first page). */
#define MULTIBOOT_AREA_BASE 0x10000u
#define MULTIBOOT_AREA_END 0x90000u
#define MULTIBOOT_GDT_CS 0x08
#define MULTIBOOT_GDT_DS 0x10
#define MULTIBOOT_MAX_MODULES 16

typedef struct MultibootHeader {
    uint32_t offset;          /* of the header in the file */
    uint32_t flags;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr; /* bit 16 only */
} MultibootHeader;

typedef struct MultibootModule {
    const uint8_t *data;
    size_t len;
    const char *string;       /* the module's command line (its name first, as GRUB) */
} MultibootModule;

typedef struct MultibootLayout {
    uint32_t entry;           /* EIP (physical) */
    uint32_t info_addr;       /* EBX */
    uint32_t gdt_base;
    uint16_t gdt_limit;
    uint32_t kernel_start, kernel_end;   /* physical, end exclusive (bss included) */
    uint32_t mod_start[MULTIBOOT_MAX_MODULES], mod_end[MULTIBOOT_MAX_MODULES];
} MultibootLayout;

/* 1: a valid header was found (h filled); 0: none in the first 8192 bytes;
 * -1: a header that is bad (checksum, unknown required flags, truncated),
 * with a one-line reason in err. */
int multiboot_find(const uint8_t *k, size_t n, MultibootHeader *h, char *err, size_t errlen);
/* Lays the kernel, modules and boot information out in ram (ram_size bytes
 * at physical 0). 0, or -1 with a one-line reason in err. */
int multiboot_load(uint8_t *ram, uint64_t ram_size, const uint8_t *k, size_t n, const char *cmdline,
                   const MultibootModule *mods, int n_mods, MultibootLayout *lay, char *err, size_t errlen);
/* The top of usable RAM above 1 MiB (the memory map's last RAM entry ends
 * there), as the BIOS's E820 map has it. */
uint64_t multiboot_ram_top(uint64_t ram_size);
#endif
