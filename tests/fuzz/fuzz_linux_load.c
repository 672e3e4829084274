/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the input is a kernel image; linux_parse(), linux_load()
 * and then linux_predecompress() (XZ payload -> ELF segments) must reject it
 * with a message or lay it out inside a 64 MiB guest without touching memory
 * outside the image and the RAM buffer (ASan, UBSan), for several initrd
 * sizes. A loaded layout is checked against the boot protocol's rules: what
 * the loader accepts must be bootable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/linux.h"
#include "fuzz_input.h"

#define RAM_SIZE (64ull << 20)
#define CMDLINE "console=ttyS0 earlyprintk=serial panic=-1 rdinit=/init quiet"

static uint8_t *ram;

static uint32_t ld32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t initrd_sizes[] = { 0, 1, 4097, 16ull << 20, 63ull << 20, 64ull << 20, 1ull << 40 };
    char err[256];
    LinuxKernelInfo info;
    if (!ram) {
        ram = malloc(RAM_SIZE);
        check(ram != NULL);
    }
    /* The image in a buffer of its exact size, so ASan sees any over-read. */
    uint8_t *k = malloc(size ? size : 1);
    check(k != NULL);
    memcpy(k, data, size);
    err[0] = 0;
    int parsed = linux_parse(k, size, &info, err, sizeof err) == 0;
    check(parsed || (err[0] && strlen(err) < sizeof err));
    if (parsed) {
        check(info.load_addr >= 0x100000);
        check(info.setup_size + (uint64_t)info.payload_size == size);
        check(info.init_size >= info.payload_size);
    }
    for (size_t i = 0; i < sizeof initrd_sizes / sizeof initrd_sizes[0]; i++) {
        LinuxBootLayout l;
        uint64_t isz = initrd_sizes[i];
        memset(&l, 0xa5, sizeof l);
        err[0] = 0;
        if (linux_load(ram, RAM_SIZE, k, size, isz, CMDLINE, &l, err, sizeof err) < 0) {
            check(err[0] != 0);
            continue;
        }
        check(parsed);
        uint64_t kend = (uint64_t)info.load_addr + info.init_size;
        check(kend <= RAM_SIZE);
        check(l.entry == info.load_addr);
        check(memcmp(ram + info.load_addr, k + info.setup_size, info.payload_size) == 0);
        /* boot_params: the command line pointer and the line itself */
        check((uint64_t)l.boot_params + 4096 <= 0x100000);
        uint32_t cmd = ld32(ram + l.boot_params + 0x228);
        check(cmd + sizeof CMDLINE <= 0x100000 && memcmp(ram + cmd, CMDLINE, sizeof CMDLINE) == 0);
        check((uint64_t)l.gdt_base + l.gdt_limit + 1 <= 0x100000);
        if (isz) {
            /* page aligned, inside RAM and the kernel's limit, clear of the kernel */
            check((l.initrd_addr & 0xfff) == 0);
            check(l.initrd_addr >= kend);
            check(l.initrd_addr + isz <= RAM_SIZE);
            check(l.initrd_addr + isz - 1 <= info.initrd_addr_max);
            check(ld32(ram + l.boot_params + 0x218) == l.initrd_addr);
            check(ld32(ram + l.boot_params + 0x21c) == (uint32_t)isz);
        } else {
            check(l.initrd_addr == 0);
        }
        if (i == 0) {
            /* Host-side decompression, as main.c runs it after linux_load. */
            err[0] = 0;
            int r = linux_predecompress(ram, RAM_SIZE, k, size, &l, err, sizeof err);
            check(r >= -1 && r <= 1);
            if (r < 0)
                check(err[0] != 0);
            if (r == 1)
                check(l.entry >= info.load_addr && l.entry < kend);
            else
                check(l.entry == info.load_addr);
        }
    }
    free(k);
    return 0;
}
