/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the input is one byte (how many modules, 0-3) and then a
 * kernel image; multiboot_find() and multiboot_load() must reject it with a
 * one-line message or lay it out inside a 64 MiB guest without touching
 * memory outside the image and the RAM buffer (ASan, UBSan). A layout that
 * loaded is checked against the spec: entry inside the kernel, modules
 * page-aligned after it and holding their bytes, the info block's fields
 * pointing at what the layout says, all inside RAM. Seeds: fuzz_seeds.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/multiboot.h"
#include "fuzz_input.h"

#define RAM_SIZE (64ull << 20)

static uint8_t *ram;

static uint32_t ld32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t mod_a[5000], mod_b[1] = { 0x5a }, mod_c[4096];
    if (!ram) {
        ram = malloc(RAM_SIZE);
        check(ram != NULL);
        memset(mod_a, 0xa1, sizeof mod_a);
        memset(mod_c, 0xc3, sizeof mod_c);
    }
    if (size < 1)
        return 0;
    int n_mods = data[0] % 4;
    size--;
    /* The image in a buffer of its exact size, so ASan sees any over-read. */
    uint8_t *k = malloc(size ? size : 1);
    check(k != NULL);
    memcpy(k, data + 1, size);
    MultibootModule mods[3] = {
        { mod_a, sizeof mod_a, "/mod-a first" }, { mod_b, sizeof mod_b, "" }, { mod_c, sizeof mod_c, "c" },
    };
    char err[256] = "";
    MultibootHeader h;
    int found = multiboot_find(k, size, &h, err, sizeof err);
    check(found == 1 || found == 0 || (found < 0 && err[0] && strlen(err) < sizeof err));
    if (found == 1) {
        check(h.offset % 4 == 0 && h.offset + 12 <= size && h.offset < MULTIBOOT_SEARCH);
        check(ld32(k + h.offset) == MULTIBOOT_HEADER_MAGIC);
    }
    MultibootLayout l;
    memset(ram, 0, 1 << 20);
    err[0] = 0;
    if (multiboot_load(ram, RAM_SIZE, k, size, "kernel a=b", mods, n_mods, &l, err, sizeof err) < 0) {
        check(err[0] != 0 && strlen(err) < sizeof err);
        free(k);
        return 0;
    }
    check(found == 1);
    check(l.kernel_start <= l.kernel_end && l.kernel_end <= RAM_SIZE);
    check(l.entry >= l.kernel_start && l.entry < l.kernel_end);
    check(l.kernel_end <= MULTIBOOT_AREA_BASE || l.kernel_start >= MULTIBOOT_AREA_END);
    check(l.info_addr >= MULTIBOOT_AREA_BASE && l.info_addr + 88 <= MULTIBOOT_AREA_END);
    check(l.gdt_base >= MULTIBOOT_AREA_BASE && l.gdt_base + l.gdt_limit < MULTIBOOT_AREA_END);
    const uint8_t *mi = ram + l.info_addr;
    check(ld32(mi + 20) == (uint32_t)n_mods);
    uint32_t prev_end = l.kernel_end;
    for (int i = 0; i < n_mods; i++) {
        const uint8_t *e = ram + ld32(mi + 24) + 16 * i;
        check(ld32(e) == l.mod_start[i] && ld32(e + 4) == l.mod_end[i]);
        check(l.mod_start[i] % 4096 == 0 && l.mod_start[i] >= prev_end && l.mod_end[i] <= RAM_SIZE);
        check(l.mod_end[i] - l.mod_start[i] == mods[i].len);
        check(memcmp(ram + l.mod_start[i], mods[i].data, mods[i].len) == 0);
        check(strcmp((const char *)ram + ld32(e + 8), mods[i].string) == 0);
        prev_end = l.mod_end[i];
    }
    check(strcmp((const char *)ram + ld32(mi + 16), "kernel a=b") == 0);
    check(ld32(mi + 44) % 24 == 0 && ld32(mi + 48) >= MULTIBOOT_AREA_BASE);
    free(k);
    return 0;
}
