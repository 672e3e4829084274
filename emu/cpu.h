/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The CPU layer: an i386 CPU on Unicorn 2.1.x, with every workaround the
 * library needs kept here (see cpu.c). It runs guest code against guest RAM
 * (a host buffer), advances the virtual clock by the code it executes,
 * dispatches I/O to the IoMap, and delivers exceptions and interrupts through
 * the guest IDT itself (Unicorn never uses the IDT). */
#ifndef LBVM_CPU_H
#define LBVM_CPU_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/iomem.h"

typedef struct CPUState CPUState;
typedef struct StateIO StateIO;

typedef enum CPUExit {
    CPU_EXIT_DEADLINE,    /* the clock reached its next timer deadline */
    CPU_EXIT_HALTED,      /* hlt with interrupts disabled: the guest stopped */
    CPU_EXIT_STOPPED,     /* cpu_request_stop() was called (reset, power-off...) */
    CPU_EXIT_FATAL,       /* triple fault or emulation error: cpu_error() says why */
} CPUExit;

/* Interrupt controller hooks: `pending` is the INTR line, `ack` the INTA cycle
 * returning the vector. */
typedef struct CPUIntrController {
    int (*pending)(void *opaque);
    int (*ack)(void *opaque);
    void *opaque;
} CPUIntrController;

typedef struct CPUStats {
    uint64_t exceptions[32];   /* per vector, delivered */
    uint64_t soft_ints;        /* int n / int3 / into */
    uint64_t hw_irqs;
    uint64_t page_faults;
    uint64_t tlb_fills[3];     /* read, write, fetch */
    uint64_t code_flushes;     /* TLB flushes when a page first became code */
    uint64_t emu_starts;       /* host-side: follows the pauses too */
    uint64_t blocks;
    uint64_t rdtsc;
    uint64_t halts;
} CPUStats;

/* Creates the CPU with `ram` (ram_size bytes) mapped as base/guestram.h lays
 * it out: up to 3 GiB at physical 0, the rest from 4 GiB. Returns NULL with a
 * message in err on failure. */
CPUState *cpu_init(uint8_t *ram, uint64_t ram_size, IoMap *io, VClock *clock,
                   char *err, size_t errlen);
void cpu_free(CPUState *s);
void cpu_set_intr_controller(CPUState *s, const CPUIntrController *ic);
/* SetIRQFunc for the interrupt controller's output (INTR level changed). */
void cpu_set_intr(void *opaque, int irq_num, int level);
/* The clock's deadline moved earlier: a running CPU must stop sooner. */
void cpu_deadline_changed(void *opaque);
/* Ask the run loop to return CPU_EXIT_STOPPED at the next block boundary. */
void cpu_request_stop(CPUState *s);
/* Forget a stop request not yet reported (the caller stopped anyway). */
void cpu_clear_stop(CPUState *s);

/* Linux 32-bit boot protocol entry: flat GDT already in RAM at gdt_base. */
int cpu_setup_linux_entry(CPUState *s, uint32_t gdt_base, uint16_t gdt_limit, uint32_t entry,
                          uint32_t boot_params, char *err, size_t errlen);

/* Multiboot 1 entry: protected mode with the flat GDT at gdt_base (cs, ds),
 * EAX = magic, EBX = info. */
int cpu_setup_multiboot_entry(CPUState *s, uint32_t gdt_base, uint16_t gdt_limit, uint16_t cs, uint16_t ds,
                              uint32_t entry, uint32_t magic, uint32_t info, char *err, size_t errlen);

/* Power-on as a PC BIOS leaves the CPU for a boot sector (emu/bios.c): real
 * mode, CS:IP = cs:ip, all other segments 0, SS:SP = 0:sp, EDX = edx,
 * IDTR = 0/0x3ff (the IVT), EFLAGS = eflags. */
int cpu_setup_real_entry(CPUState *s, uint16_t cs, uint16_t ip, uint16_t sp, uint32_t edx, uint32_t eflags,
                         char *err, size_t errlen);

/* Register access for the firmware layer (emu/bios.c), only between
 * uc_emu_start calls (from a trap function or before cpu_run). Segment
 * writes load the segment as the current mode does. */
typedef enum CPUReg {
    CPU_EAX, CPU_ECX, CPU_EDX, CPU_EBX, CPU_ESP, CPU_EBP, CPU_ESI, CPU_EDI,
    CPU_EIP, CPU_EFLAGS, CPU_ES, CPU_CS, CPU_SS, CPU_DS, CPU_FS, CPU_GS, CPU_CR0,
} CPUReg;
uint32_t cpu_reg(CPUState *s, CPUReg r);
void cpu_set_reg(CPUState *s, CPUReg r, uint32_t v);
/* Makes the run end with CPU_EXIT_FATAL and this message (from a trap). */
void cpu_set_error(CPUState *s, const char *msg);

/* Firmware traps: an `int n` executed in real mode at a linear address in
 * [base, base + len) is not delivered: fn(opaque, address, n) runs instead,
 * with EIP past the instruction (emulation stopped). fn returns 0 to go on,
 * or -1 to end the run (CPU_EXIT_FATAL; cpu_set_error says why). Every
 * other real-mode event (int n elsewhere, exceptions, hardware interrupts)
 * is delivered through the IVT at IDTR.base as an 8086 does. */
typedef int CPUTrapFunc(void *opaque, uint32_t addr, int vec);
void cpu_set_trap(CPUState *s, uint32_t base, uint32_t len, CPUTrapFunc *fn, void *opaque);

/* Runs guest code until one of the CPUExit reasons. */
CPUExit cpu_run(CPUState *s);
const char *cpu_error(CPUState *s);
/* Writes a register dump (one block of lines) to f. */
void cpu_dump(CPUState *s, void *file);
const CPUStats *cpu_stats(CPUState *s);
/* Whether ring 3 -> 0 switches use the hflags patch (no TLB flush) rather
 * than the CR0.PE fallback (see QUIRK(ring-switch) in cpu.c). */
bool cpu_has_fast_ring_switch(const CPUState *s);

/* QUIRK(tlb-canonical) internals, exported for tests/unit/test_unicorn_quirks.c:
 * a TLB flush at a new time past Unicorn's resize window, and the canonical
 * TLB (hflags_off: the hflags word in a uc_context blob, or -1). */
struct uc_struct;
struct uc_context;
void cpu_uc_tlb_flush_later(struct uc_struct *uc);
void cpu_uc_tlb_canonical(struct uc_struct *uc, struct uc_context *ctx, long hflags_off);

/* Translated code over guest-physical [pa, pa+len) must be dropped after a
 * host write there (device DMA): Unicorn only notices guest stores. */
void cpu_invalidate_code(CPUState *s, uint64_t pa, uint64_t len);

/* Checkpoints (docs/checkpoint-format.md). cpu_state saves or loads the
 * architectural state field by field (registers, segment caches, descriptor
 * tables, control/debug registers, MSRs, FPU/SSE, CPL, interrupt shadow) and
 * the layer's own (halted, TSC floor, code map); only between cpu_run calls.
 * A load flushes the TLB and translated code. Needs cpu_can_checkpoint(). */
#define CPU_STATE_VERSION 1
#define CPU_N_MSRS 5
bool cpu_can_checkpoint(const CPUState *s);
/* Why not (one line), or NULL. */
const char *cpu_no_checkpoint_why(const CPUState *s);
void cpu_state(CPUState *s, StateIO *io);
/* Drops the TLB and all translated code: a run that goes on after a
 * checkpoint then starts from the same caches as one resumed from it. */
void cpu_flush_caches(CPUState *s);
/* The event counts since power-on (CPUStats) as the checkpoint's "events"
 * section: kept out of the state digest, so journals without counts verify. */
#define CPU_EVENTS_VERSION 1
void cpu_events_state(CPUState *s, StateIO *io);
void cpu_stats_state(CPUStats *c, StateIO *io);   /* the same fields, for lbvm inspect */

/* Guest virtual memory as the kernel sees it now (host-side page walk, no
 * side effects). Returns 0, or -1 if a page is not mapped. */
int cpu_read_virt(CPUState *s, uint32_t va, void *buf, size_t len);
#endif
