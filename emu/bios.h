/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lbvm's own PC BIOS, written in C: power-on from a disk as a PC with only a
 * boot drive does (real mode, the MBR at 0x7c00, DL = 0x80), and the
 * real-mode services a boot sector calls (int 10h teletype to COM1, int 13h
 * CHS and EDD LBA disk access, int 15h E820 and A20, int 11h/12h/16h/1Ah, the
 * hardware IRQ handlers). Every IVT vector points at a 4-byte stub in the
 * BIOS area (F000:1000 + 4 * vector, `int n; iret`); the CPU layer traps the
 * stub's `int n` (cpu_set_trap) and calls bios_trap, which works on the
 * registers and on the FLAGS image the caller's interrupt pushed, exactly
 * where a ROM BIOS leaves its results. A guest that hooks a vector and chains
 * to the old one reaches the same stub.
 *
 * The BIOS keeps no state of its own: everything the guest can see lives in
 * RAM (IVT, BDA, the stubs) and in the devices it programs (PIC, PIT, COM1),
 * so checkpoints need no section for it. */
#ifndef LBVM_BIOS_H
#define LBVM_BIOS_H
#include <stddef.h>
#include <stdint.h>

#include "base/iomem.h"
#include "emu/cpu.h"

typedef struct Disk Disk;

#define BIOS_TRAP_BASE 0xf1000u          /* F000:1000, 256 stubs of 4 bytes */
#define BIOS_TRAP_RESET (BIOS_TRAP_BASE + 0x400) /* where F000:FFF0 jumps */
#define BIOS_TRAP_LEN 0x404u
#define BIOS_BOOT_DRIVE 0x80
#define BIOS_MBR_ADDR 0x7c00u
#define BIOS_EBDA_ADDR 0x9fc00u           /* 1 KiB below 640 KiB */
#define BIOS_COM1 0x3f8

/* One E820 entry (ACPI 6.x table 15-374 without the extended attributes). */
typedef struct BiosE820 {
    uint64_t addr, len;
    uint32_t type;                       /* 1 RAM, 2 reserved */
} BiosE820;
#define BIOS_E820_MAX 8

typedef struct BiosState {
    CPUState *cpu;
    IoMap *io;
    uint8_t *ram;
    uint64_t ram_size;
    Disk *disk;                          /* drive 0x80, or NULL */
    void (*reset)(void *opaque);         /* int 19h and the jump to F000:FFF0 */
    void (*host_failed)(void *opaque, const char *why); /* the host failed a disk I/O */
    void *opaque;
    BiosE820 e820[BIOS_E820_MAX];
    int n_e820;
    uint16_t cyls, heads, spt;           /* CHS translation of the disk (int 13h 02h/03h/08h) */
    uint64_t n_transfers;                /* int 13h transfers (the stall watch's activity) */
    char host_error[256];
} BiosState;

/* Registers the trap on the CPU. The BIOS acts only once bios_power_on ran. */
BiosState *bios_init(CPUState *cpu, IoMap *io, uint8_t *ram, uint64_t ram_size, void *opaque);
void bios_set_disk(BiosState *b, Disk *disk);
/* Power-on: ROM stubs, IVT, BDA, PIC/PIT/COM1 set up as SeaBIOS leaves them,
 * the MBR of the disk at 0x7c00, the CPU in real mode at 0000:7c00 with
 * DL = 0x80. 0, or -1 with a one-line reason (no disk, no 55AA signature). */
int bios_power_on(BiosState *b, char *err, size_t errlen);
/* The memory map int 15h E820 reports for ram_size bytes of RAM at 0 (also
 * used for the Multiboot map). Returns the number of entries. */
int bios_e820_map(uint64_t ram_size, BiosE820 *out, int max);
/* The CPU layer's trap function (exported for the unit tests). */
int bios_trap(void *opaque, uint32_t addr, int vec);
#endif
