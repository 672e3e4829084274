/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the BIOS services (emu/bios.c) with guest-chosen
 * registers and memory. The guest has 1 MiB of RAM in a buffer of exactly
 * that size (so ASan sees any access past it, e.g. through ES:BX = FFFF:FFFF
 * or a 64-bit flat DAP buffer) and a 64-sector disk. The input is a list of
 * 48-byte calls: vector, then EAX EBX ECX EDX ESI EDI EBP ESP as 32-bit
 * values, ES DS SS as 16-bit, then 6 bytes stored at DS:SI (a disk address
 * packet's start) and 4 bytes stored at SS:SP+4 (the caller's FLAGS). Each
 * call runs bios_trap() on the real CPU layer; it must not fail, and the
 * disk must never grow. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/iomem.h"
#include "devices/disk.h"
#include "emu/bios.h"
#include "emu/cpu.h"
#include "fuzz_input.h"

#define RAM_SIZE (1u << 20)
#define DISK_SECTORS 64

static uint8_t *ram;
static IoMap io;
static VClock clk;
static CPUState *cpu;
static BiosState *bios;
static Disk *disk;

static uint32_t ld(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void setup(void)
{
    char err[256], path[] = "/tmp/lbvm-fuzz-bios-XXXXXX";
    ram = malloc(RAM_SIZE);
    check(ram != NULL);
    iomap_init(&io);
    vclock_init(&clk);
    cpu = cpu_init(ram, RAM_SIZE, &io, &clk, err, sizeof err);
    if (!cpu) {
        fprintf(stderr, "fuzz_bios: %s\n", err);
        abort();
    }
    int fd = mkstemp(path);
    check(fd >= 0);
    close(fd);
    unlink(path);
    check(disk_create_raw(path, DISK_SECTORS * DISK_SECTOR_SIZE, err, sizeof err) == 0);
    disk = disk_open_raw(path, 0, err, sizeof err);
    check(disk != NULL);
    unlink(path);             /* the open descriptor keeps it */
    bios = bios_init(cpu, &io, ram, RAM_SIZE, NULL);
    check(bios != NULL);
    bios_set_disk(bios, disk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const CPUReg regs[8] = { CPU_EAX, CPU_EBX, CPU_ECX, CPU_EDX, CPU_ESI, CPU_EDI, CPU_EBP, CPU_ESP };
    static const int vecs[] = { 0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x1a, 0x08, 0x70, 0x05 };
    if (!cpu)
        setup();
    memset(ram, 0, RAM_SIZE);
    for (size_t off = 0; off + 48 <= size; off += 48) {
        const uint8_t *c = data + off;
        int vec = vecs[c[0] % (sizeof vecs / sizeof vecs[0])];
        for (int i = 0; i < 8; i++)
            cpu_set_reg(cpu, regs[i], ld(c + 1 + 4 * i, 4));
        cpu_set_reg(cpu, CPU_ES, ld(c + 33, 2));
        cpu_set_reg(cpu, CPU_DS, ld(c + 35, 2));
        cpu_set_reg(cpu, CPU_SS, ld(c + 37, 2));
        uint32_t dap = ((cpu_reg(cpu, CPU_DS) & 0xffff) << 4) + (cpu_reg(cpu, CPU_ESI) & 0xffff);
        for (int i = 0; i < 6; i++)
            if (dap + i < RAM_SIZE)
                ram[dap + i] = c[39 + i];
        uint32_t fl = ((cpu_reg(cpu, CPU_SS) & 0xffff) << 4) + ((cpu_reg(cpu, CPU_ESP) + 4) & 0xffff);
        for (int i = 0; i < 3; i++)
            if (fl + i < RAM_SIZE)
                ram[fl + i] = c[45 + i];
        check(bios_trap(bios, BIOS_TRAP_BASE + 4u * (uint32_t)vec, vec) == 0 || vec == 0x16);
        check(disk_sectors(disk) == DISK_SECTORS);
    }
    return 0;
}
