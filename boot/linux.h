/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Linux/x86 boot protocol (Documentation/arch/x86/boot.rst), 32-bit entry:
 * lbvm plays the boot loader and enters the kernel in protected mode. */
#ifndef LBVM_LINUX_H
#define LBVM_LINUX_H
#include <stddef.h>
#include <stdint.h>

typedef struct LinuxKernelInfo {
    uint16_t version;          /* boot protocol, e.g. 0x020f */
    uint32_t setup_size;       /* real-mode part, bytes (skipped) */
    uint32_t payload_size;     /* protected-mode part in the file */
    uint32_t load_addr;        /* where the protected-mode part goes */
    uint32_t init_size;        /* memory the kernel needs from load_addr */
    uint32_t initrd_addr_max;
    uint32_t cmdline_size;     /* longest command line, without the NUL */
} LinuxKernelInfo;

typedef struct LinuxBootLayout {
    uint32_t entry;            /* EIP */
    uint32_t boot_params;      /* ESI */
    uint32_t gdt_base;
    uint16_t gdt_limit;
    uint32_t initrd_addr;      /* where the caller must place the initrd */
} LinuxBootLayout;

/* Checks a bzImage; 0, or -1 with a one-line reason in err. */
int linux_parse(const uint8_t *k, size_t n, LinuxKernelInfo *info, char *err, size_t errlen);
/* Lays out RAM for booting: kernel, boot_params (setup header, e820 map of
 * base/guestram.h's layout, command line, initrd fields), GDT, all below the
 * PCI hole. The initrd itself (initrd_size bytes,
 * 0 for none) is left for the caller to copy to layout->initrd_addr. */
int linux_load(uint8_t *ram, uint64_t ram_size, const uint8_t *k, size_t n, uint64_t initrd_size,
               const char *cmdline, LinuxBootLayout *layout, char *err, size_t errlen);
#endif

/* Host-side decompression (optional, after linux_load): when the payload is
 * XZ (Debian's kernels), decompress it on the host and place the kernel's ELF
 * segments where the kernel's own decompressor would (its preferred address,
 * so no relocation is needed), and point layout->entry at the kernel proper.
 * The guest then skips its decompressor (billions of instructions). Returns 1
 * if done, 0 if not applicable (other formats, or the kernel not at its
 * preferred address), -1 with a one-line reason if the payload is corrupt. */
int linux_predecompress(uint8_t *ram, uint64_t ram_size, const uint8_t *k, size_t n,
                        LinuxBootLayout *layout, char *err, size_t errlen);
