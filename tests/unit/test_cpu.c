/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lbvm's CPU layer (emu/cpu.c) through its public API only: each scenario
 * builds a tiny protected-mode guest in a RAM buffer (own GDT with ring-0/3
 * segments and a TSS, an IDT, page tables), enters it with
 * cpu_setup_linux_entry() and cpu_run(), and reads back what hand-assembled
 * handlers stored in a results page. The checks are architectural (SDM vol. 3
 * ch. 4 paging, ch. 6 interrupts), so they fail if lbvm's page walk, IDT
 * delivery, ring switch, time accounting or hooks go wrong. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/clock.h"
#include "emu/cpu.h"
#include "base/iomem.h"
#include "base/platform.h"

/* ---- guest-physical layout (identity-mapped unless a test says otherwise) ---- */
#define RAM_SIZE   (8u << 20)
#define GDT        0x1000u
#define IDT        0x2000u
#define IDTR_PTR   0x2800u      /* lidt operand: limit16, base32 */
#define IDTR_SMALL 0x2808u      /* an IDT that ends before vector 13 */
#define TSS        0x3000u
#define PD         0x4000u      /* 2-level page directory */
#define PT0        0x5000u      /* maps 0-4 MiB */
#define PDPT       0x6000u      /* PAE */
#define PAE_PD     0x7000u
#define PAE_PT     0x8000u      /* maps 0-2 MiB */
#define RES        0x9000u      /* results page, user-writable */
#define STUBS      0xa000u      /* 16 bytes per vector: record vector, go to COMMON */
#define COMMON     0xb000u
#define HANDLERS   0xb100u      /* per-test handlers */
#define CODE       0x10000u     /* prologue then test body */
#define UCODE      0x12000u     /* ring-3 code */
#define ESP0       0x1e000u     /* TSS ring-0 stack */
#define KSTACK     0x20000u     /* stack of the prologue */
#define USTACK     0x30000u

/* Results page: what COMMON and the other handlers store. */
#define R_VEC      (RES + 0x00)   /* vector COMMON was entered for */
#define R_NCOMMON  (RES + 0x04)
#define R_ESP      (RES + 0x08)   /* ESP on handler entry */
#define R_CR2      (RES + 0x0c)
#define R_HCS      (RES + 0x10)   /* CS, SS, EFLAGS inside the handler */
#define R_HSS      (RES + 0x14)
#define R_HEFL     (RES + 0x18)
#define R_FRAME    (RES + 0x20)   /* six dwords from the handler's ESP up */
#define R_X        (RES + 0x40)   /* free for the body: R_X + 4 * i */
#define R_LCNT     (RES + 0x800)  /* skip/IRQ handlers: count, then 16-byte records */
#define R_LIST     (RES + 0x810)

#define SEL_KCODE  0x10
#define SEL_KDATA  0x18
#define SEL_UCODE  0x23
#define SEL_UDATA  0x2b
#define SEL_TSS    0x30

#define PG_P   0x001u
#define PG_RW  0x002u
#define PG_US  0x004u
#define PG_A   0x020u
#define PG_D   0x040u
#define PG_PS  0x080u

#define WATCHDOG_TICKS 200000000ull

enum { M_FLAT, M_2L, M_PAE };

typedef struct Vm {
    uint8_t *ram;
    uint64_t ram_size;
    IoMap *io;
    VClock clock;
    VTimer watchdog;
    CPUState *cpu;
    int mode;
    uint32_t hpc;               /* next free byte for handlers */
} Vm;

/* ---- a byte emitter: everything writes at g_pc in g_ram ---- */
static uint8_t *g_ram;
static uint32_t g_pc;

static void at(uint32_t pc) { g_pc = pc; }
static void emit(const uint8_t *b, size_t n)
{
    memcpy(g_ram + g_pc, b, n);
    g_pc += (uint32_t)n;
}
#define OP(...) emit((const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))
static void d16(uint32_t v) { OP((uint8_t)v, (uint8_t)(v >> 8)); }
static void d32(uint32_t v) { OP((uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)); }

static void wr32(uint32_t pa, uint32_t v) { memcpy(g_ram + pa, &v, 4); }
static void wr64(uint32_t pa, uint64_t v) { memcpy(g_ram + pa, &v, 8); }
static uint32_t rd32(uint32_t pa) { uint32_t v; memcpy(&v, g_ram + pa, 4); return v; }
static uint64_t rd64(uint32_t pa) { uint64_t v; memcpy(&v, g_ram + pa, 8); return v; }

/* Common instructions, one helper each. */
static void mov_eax(uint32_t v) { OP(0xb8); d32(v); }                 /* mov eax, imm32 */
static void load_eax(uint32_t a) { OP(0xa1); d32(a); }                /* mov eax, [a] */
static void store_eax(uint32_t a) { OP(0xa3); d32(a); }               /* mov [a], eax */
static void store_edx(uint32_t a) { OP(0x89, 0x15); d32(a); }         /* mov [a], edx */
static void store_imm(uint32_t a, uint32_t v) { OP(0xc7, 0x05); d32(a); d32(v); } /* mov dword [a], imm32 */
static void jmp_to(uint32_t t) { OP(0xe9); d32(t - (g_pc + 4)); }     /* jmp rel32 */
static void call_to(uint32_t t) { OP(0xe8); d32(t - (g_pc + 4)); }    /* call rel32 */
static void rdtsc_to(uint32_t a) { OP(0x0f, 0x31); store_eax(a); store_edx(a + 4); } /* rdtsc; store */
/* cli; hlt; and if resumed: jmp back to the hlt */
static void stop_here(void) { OP(0xfa, 0xf4, 0xeb, 0xfd); }

/* ---- descriptors ---- */
static void gdt_set(int i, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    wr32(GDT + i * 8, (limit & 0xffff) | (base & 0xffff) << 16);
    wr32(GDT + i * 8 + 4, ((base >> 16) & 0xff) | (uint32_t)access << 8 | (limit & 0xf0000) |
                          (uint32_t)flags << 20 | (base & 0xff000000u));
}

/* type 0xe = 32-bit interrupt gate, 0xf = trap gate */
static void idt_set(int vec, uint32_t handler, int type, int dpl, int present)
{
    wr32(IDT + vec * 8, (handler & 0xffff) | SEL_KCODE << 16);
    wr32(IDT + vec * 8 + 4, (handler & 0xffff0000u) | (present ? 0x8000u : 0) | (uint32_t)dpl << 13 |
                            (uint32_t)type << 8);
}

static void pte_2l(uint32_t va, uint32_t v) { wr32(PT0 + (va >> 12) * 4, v); }
static uint32_t pte_2l_get(uint32_t va) { return rd32(PT0 + (va >> 12) * 4); }

/* The catch-all: record vector, error code / frame, CR2, ESP, CS/SS/EFLAGS, halt. */
static void emit_common(void)
{
    at(COMMON);
    OP(0x89, 0x25); d32(R_ESP);                 /* mov [R_ESP], esp */
    for (int i = 0; i < 6; i++) {
        OP(0x8b, 0x44, 0x24, (uint8_t)(4 * i)); /* mov eax, [esp + 4i] */
        store_eax(R_FRAME + 4 * i);
    }
    OP(0x0f, 0x20, 0xd0);                       /* mov eax, cr2 */
    store_eax(R_CR2);
    OP(0x8c, 0xc8);                             /* mov eax, cs */
    store_eax(R_HCS);
    OP(0x8c, 0xd0);                             /* mov eax, ss */
    store_eax(R_HSS);
    OP(0x9c, 0x58);                             /* pushfd; pop eax */
    store_eax(R_HEFL);
    OP(0xff, 0x05); d32(R_NCOMMON);             /* inc dword [R_NCOMMON] */
    stop_here();
    for (int v = 0; v < 256; v++) {
        at(STUBS + v * 16);
        store_imm(R_VEC, (uint32_t)v);          /* 10 bytes */
        jmp_to(COMMON);                         /* 5 bytes */
        idt_set(v, STUBS + v * 16, 0xe, 0, 1);
    }
}

/* A handler that records (vector, error code, EIP, CS) in R_LIST and returns
 * past a 2-byte faulting instruction. Returns its address. */
static uint32_t emit_skip_handler(Vm *v, int vec, int has_err)
{
    uint32_t h = v->hpc, e = has_err ? 4 : 0;
    at(h);
    OP(0x50, 0x51);                             /* push eax; push ecx */
    OP(0x8b, 0x0d); d32(R_LCNT);                /* mov ecx, [R_LCNT] */
    OP(0xc1, 0xe1, 0x04);                       /* shl ecx, 4 */
    OP(0xc7, 0x81); d32(R_LIST); d32((uint32_t)vec); /* mov dword [ecx + R_LIST], vec */
    if (has_err) {
        OP(0x8b, 0x44, 0x24, 0x08);             /* mov eax, [esp+8]: error code */
        OP(0x89, 0x81); d32(R_LIST + 4);        /* mov [ecx + R_LIST + 4], eax */
    }
    OP(0x8b, 0x44, 0x24, (uint8_t)(8 + e));     /* mov eax, [esp+8+e]: EIP */
    OP(0x89, 0x81); d32(R_LIST + 8);
    OP(0x8b, 0x44, 0x24, (uint8_t)(12 + e));    /* mov eax, [esp+12+e]: CS */
    OP(0x89, 0x81); d32(R_LIST + 12);
    OP(0xff, 0x05); d32(R_LCNT);                /* inc dword [R_LCNT] */
    OP(0x83, 0x44, 0x24, (uint8_t)(8 + e), 2);  /* add dword [esp+8+e], 2: skip it */
    OP(0x59, 0x58);                             /* pop ecx; pop eax */
    if (has_err)
        OP(0x83, 0xc4, 0x04);                   /* add esp, 4: drop the error code */
    OP(0xcf);                                   /* iret */
    v->hpc = (g_pc + 15) & ~15u;
    idt_set(vec, h, 0xe, 0, 1);
    return h;
}

static uint32_t list_at(int i, int field) { return rd32(R_LIST + 16 * i + 4 * field); }

/* ---- building and running a guest ---- */
/* Called by vm_new between iomap_init and cpu_init (MMIO registered early). */
static void (*g_pre_cpu)(IoMap *io);
/* RAM for the next vm_new if not 0 (host_ram_alloc: reserved, not touched): more
 * than 3 GiB puts the rest above 4 GiB (base/guestram.h). */
static uint64_t g_ram_size;

static void on_watchdog(void *opaque)
{
    (void)opaque;
}

/* RAM, GDT, TSS, IDT with catch-all stubs, page tables for `mode`, and a
 * prologue at CODE (stack, lidt, ltr, paging) leaving g_pc at the body. */
static void vm_new(Vm *v, int mode, int watchdog)
{
    char err[256] = "";
    memset(v, 0, sizeof *v);
    v->mode = mode;
    v->ram_size = g_ram_size ? g_ram_size : RAM_SIZE;
    if (g_ram_size) {
        v->ram = host_ram_alloc(v->ram_size);
    } else {
        v->ram = aligned_alloc(4096, RAM_SIZE);
    }
    v->io = calloc(1, sizeof *v->io);
    if (!v->ram || !v->io)
        exit(1);
    if (!g_ram_size)
        memset(v->ram, 0, RAM_SIZE);
    g_ram = v->ram;
    iomap_init(v->io);
    vclock_init(&v->clock);
    if (g_pre_cpu)
        g_pre_cpu(v->io);
    v->cpu = cpu_init(v->ram, v->ram_size, v->io, &v->clock, err, sizeof err);
    if (!v->cpu) {
        fprintf(stderr, "cpu_init: %s\n", err);
        exit(1);
    }
    if (watchdog) {
        /* A runaway guest stops here instead of hanging the test. */
        vtimer_init(&v->watchdog, &v->clock, on_watchdog, NULL);
        vtimer_mod(&v->clock, &v->watchdog, WATCHDOG_TICKS);
    }
    v->hpc = HANDLERS;

    gdt_set(2, 0, 0xfffff, 0x9a, 0xc);          /* 0x10 ring-0 code, 4 GiB */
    gdt_set(3, 0, 0xfffff, 0x92, 0xc);          /* 0x18 ring-0 data */
    gdt_set(4, 0, 0xfffff, 0xfa, 0xc);          /* 0x20 ring-3 code */
    gdt_set(5, 0, 0xfffff, 0xf2, 0xc);          /* 0x28 ring-3 data */
    gdt_set(6, TSS, 0x67, 0x89, 0x0);           /* 0x30 32-bit TSS, available */
    wr32(TSS + 4, ESP0);
    wr32(TSS + 8, SEL_KDATA);
    wr32(IDTR_PTR, (IDT & 0xffff) << 16 | 0x7ff);
    wr32(IDTR_PTR + 4, IDT >> 16);
    wr32(IDTR_SMALL, (IDT & 0xffff) << 16 | (13 * 8 - 1));
    wr32(IDTR_SMALL + 4, IDT >> 16);
    emit_common();

    uint32_t cr3 = 0, cr4 = 0;
    if (mode == M_2L) {
        wr32(PD, PT0 | PG_P | PG_RW | PG_US);
        for (uint32_t i = 0; i < 1024; i++)
            wr32(PT0 + i * 4, i << 12 | PG_P | PG_RW | PG_US);
        wr32(PD + 4, 0x400000 | PG_P | PG_RW | PG_US | PG_PS);  /* 4-8 MiB: one 4 MiB page */
        cr3 = PD;
        cr4 = 1u << 4;                          /* CR4.PSE */
    } else if (mode == M_PAE) {
        wr64(PDPT, PAE_PD | PG_P);              /* PDPTEs have no R/W, U/S */
        wr64(PAE_PD, PAE_PT | PG_P | PG_RW | PG_US);
        for (uint32_t i = 0; i < 512; i++)
            wr64(PAE_PT + i * 8, (uint64_t)i << 12 | PG_P | PG_RW | PG_US);
        for (uint32_t i = 1; i < 4; i++)        /* 2-8 MiB: 2 MiB pages */
            wr64(PAE_PD + i * 8, (uint64_t)i << 21 | PG_P | PG_RW | PG_US | PG_PS);
        cr3 = PDPT;
        cr4 = 1u << 5;                          /* CR4.PAE */
    }
    CHECK_EQ(cpu_setup_linux_entry(v->cpu, GDT, 7 * 8 - 1, CODE, 0, err, sizeof err), 0);
    at(CODE);
    OP(0xbc); d32(KSTACK);                      /* mov esp, KSTACK */
    OP(0x0f, 0x01, 0x1d); d32(IDTR_PTR);        /* lidt [IDTR_PTR] */
    OP(0x66, 0xb8); d16(SEL_TSS);               /* mov ax, 0x30 */
    OP(0x0f, 0x00, 0xd8);                       /* ltr ax */
    if (mode != M_FLAT) {
        mov_eax(cr3);
        OP(0x0f, 0x22, 0xd8);                   /* mov cr3, eax */
        mov_eax(cr4);
        OP(0x0f, 0x22, 0xe0);                   /* mov cr4, eax */
        OP(0x0f, 0x20, 0xc0);                   /* mov eax, cr0 */
        OP(0x0d); d32(0x80010000u);             /* or eax, PG | WP */
        OP(0x0f, 0x22, 0xc0);                   /* mov cr0, eax */
    }
}

static void vm_free(Vm *v)
{
    cpu_free(v->cpu);
    if (v->ram_size != RAM_SIZE)
        host_ram_free(v->ram, v->ram_size);
    else
        free(v->ram);
    free(v->io);
}

/* Run until the guest halts (or anything else); the watchdog counts as a failure. */
static CPUExit run(Vm *v)
{
    CPUExit r = cpu_run(v->cpu);
    if (r == CPU_EXIT_DEADLINE && v->clock.now >= WATCHDOG_TICKS) {
        fprintf(stderr, "guest ran away (watchdog)\n");
        cpu_dump(v->cpu, stderr);
    }
    if (r == CPU_EXIT_FATAL)
        fprintf(stderr, "  (cpu_run FATAL: %s)\n", cpu_error(v->cpu));
    return r;
}

/* Kernel body: iret to ring 3 at UCODE with the given EFLAGS, user stack USTACK. */
static void enter_ring3(uint32_t eflags)
{
    OP(0x6a, SEL_UDATA);                        /* push SS */
    OP(0x68); d32(USTACK);                      /* push ESP */
    OP(0x68); d32(eflags);                      /* push EFLAGS */
    OP(0x6a, SEL_UCODE);                        /* push CS */
    OP(0x68); d32(UCODE);                       /* push EIP */
    OP(0xcf);                                   /* iret */
    at(UCODE);
    OP(0x66, 0xb8); d16(SEL_UDATA);             /* mov ax, 0x2b */
    OP(0x8e, 0xd8);                             /* mov ds, ax */
    OP(0x8e, 0xc0);                             /* mov es, ax */
}

/* ===========================================================================
 * (a) #PF through the guest IDT with paging on.
 */
typedef struct PfCase {
    const char *name;
    int mode, user;
    uint32_t va;                /* faulting address */
    int write;
    uint32_t want_err;
} PfCase;

static void pf_case(const PfCase *c)
{
    Vm v;
    vm_new(&v, c->mode, 1);
    /* Test pages at 0x50000-0x5ffff (4 KiB pages in both modes), 0xc00000 (large). */
    if (c->mode == M_2L) {
        pte_2l(0x50000, 0);                                 /* not present */
        pte_2l(0x51000, 0x51000 | PG_P | PG_US);            /* read-only */
        pte_2l(0x52000, 0x52000 | PG_P | PG_RW);            /* supervisor */
        wr32(PD + 3 * 4, 0x400000 | PG_P | PG_US | PG_PS);  /* 12-16 MiB: read-only 4 MiB page */
    } else {
        wr64(PAE_PT + 0x50 * 8, 0);
        wr64(PAE_PT + 0x51 * 8, 0x51000 | PG_P | PG_US);
        wr64(PAE_PT + 0x52 * 8, 0x52000 | PG_P | PG_RW);
        wr64(PAE_PD + 6 * 8, 0x400000 | PG_P | PG_US | PG_PS); /* 12-14 MiB: read-only 2 MiB page */
    }
    uint32_t fault_eip;
    if (c->user)
        enter_ring3(0x202);
    fault_eip = g_pc;
    if (c->write) {
        OP(0xc7, 0x05); d32(c->va); d32(0x12345678);   /* mov dword [va], 0x12345678 */
    } else {
        load_eax(c->va);
    }
    store_imm(R_X, 1);                                  /* never reached */
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 14);
    CHECK_EQ(rd32(R_NCOMMON), 1);
    CHECK_EQ(rd32(R_X), 0);
    CHECK_EQ(rd32(R_FRAME + 0), c->want_err);           /* error code */
    CHECK_EQ(rd32(R_FRAME + 4), fault_eip);             /* EIP of the faulting instruction */
    CHECK_EQ(rd32(R_CR2), c->va & ~0xfffu);             /* lbvm: page address only */
    CHECK_EQ(rd32(R_HCS), SEL_KCODE);
    CHECK_EQ(rd32(R_HEFL) & 0x200, 0);                  /* interrupt gate cleared IF */
    if (c->user) {
        /* Stack switch to the TSS's SS0:ESP0 with the full inter-privilege frame. */
        CHECK_EQ(rd32(R_ESP), ESP0 - 24);
        CHECK_EQ(rd32(R_FRAME + 8), SEL_UCODE);
        CHECK_EQ(rd32(R_FRAME + 12), 0x202);
        CHECK_EQ(rd32(R_FRAME + 16), USTACK);
        CHECK_EQ(rd32(R_FRAME + 20), SEL_UDATA);
        CHECK_EQ(rd32(R_HSS), SEL_KDATA);
    } else {
        CHECK_EQ(rd32(R_ESP), KSTACK - 16);
        CHECK_EQ(rd32(R_FRAME + 8), SEL_KCODE);
        CHECK_EQ(rd32(R_FRAME + 12) & 0x200, 0);
        CHECK_EQ(rd32(R_HSS), SEL_KDATA);
    }
    const CPUStats *st = cpu_stats(v.cpu);
    CHECK_EQ(st->page_faults, 1);
    CHECK_EQ(st->exceptions[14], 1);
    printf("  #PF %-28s err %#x eip %#x cr2 %#x esp %#x\n", c->name, rd32(R_FRAME), rd32(R_FRAME + 4),
           rd32(R_CR2), rd32(R_ESP));
    vm_free(&v);
}

/* Successful accesses set accessed/dirty bits the way the walk of the SDM does. */
static void ad_bits(int mode)
{
    Vm v;
    vm_new(&v, mode, 1);
    uint32_t big_va = mode == M_2L ? 0x800000u : 0x600000u;    /* second large page */
    uint32_t big_pa = mode == M_2L ? 0x400000u : 0x200000u;
    uint32_t big_pde = mode == M_2L ? PD + 2 * 4 : PAE_PD + 3 * 8;
    if (mode == M_2L) {
        wr32(big_pde, big_pa | PG_P | PG_RW | PG_PS);           /* VA 8 MiB -> PA 4 MiB */
        wr32(PD, PT0 | PG_P | PG_RW | PG_US);
    } else {
        wr64(big_pde, big_pa | PG_P | PG_RW | PG_PS);           /* VA 6 MiB -> PA 2 MiB */
    }
    wr32(big_pa + 0x1234, 0xfeedf00d);
    load_eax(0x53000);                              /* read: A */
    OP(0xc7, 0x05); d32(0x54000); d32(7);           /* mov dword [0x54000], 7: A and D */
    load_eax(big_va + 0x1234);                      /* through the large page */
    store_eax(R_X);
    store_imm(big_va + 0x2000, 0xabcd);             /* write through the large page */
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_NCOMMON), 0);
    CHECK_EQ(rd32(R_X), 0xfeedf00d);                /* the large page translates */
    CHECK_EQ(rd32(big_pa + 0x2000), 0xabcd);
    CHECK_EQ(rd32(0x54000), 7);
    if (mode == M_2L) {
        CHECK_EQ(pte_2l_get(0x53000), 0x53000 | PG_P | PG_RW | PG_US | PG_A);
        CHECK_EQ(pte_2l_get(0x54000), 0x54000 | PG_P | PG_RW | PG_US | PG_A | PG_D);
        CHECK_EQ(pte_2l_get(0x55000), 0x55000 | PG_P | PG_RW | PG_US);  /* untouched */
        CHECK_EQ(rd32(PD) & (PG_A | PG_D), PG_A);                       /* directory: A only */
        CHECK_EQ(rd32(big_pde), big_pa | PG_P | PG_RW | PG_PS | PG_A | PG_D);
    } else {
        CHECK_EQ(rd64(PAE_PT + 0x53 * 8), 0x53000 | PG_P | PG_RW | PG_US | PG_A);
        CHECK_EQ(rd64(PAE_PT + 0x54 * 8), 0x54000 | PG_P | PG_RW | PG_US | PG_A | PG_D);
        CHECK_EQ(rd64(PAE_PT + 0x55 * 8), 0x55000 | PG_P | PG_RW | PG_US);
        CHECK_EQ(rd64(PAE_PD) & (PG_A | PG_D), PG_A);
        CHECK_EQ(rd64(big_pde), big_pa | PG_P | PG_RW | PG_PS | PG_A | PG_D);
        CHECK_EQ(rd64(PDPT), PAE_PD | PG_P);        /* PDPTEs carry no A bit */
    }
    printf("  A/D %s: pte(read) %#x pte(write) %#x large pde %#llx\n", mode == M_2L ? "2-level" : "PAE",
           mode == M_2L ? pte_2l_get(0x53000) : (uint32_t)rd64(PAE_PT + 0x53 * 8),
           mode == M_2L ? pte_2l_get(0x54000) : (uint32_t)rd64(PAE_PT + 0x54 * 8),
           (unsigned long long)(mode == M_2L ? rd32(big_pde) : rd64(big_pde)));
    vm_free(&v);
}

/* WP=0: a supervisor write to a read-only page succeeds (and sets D). */
static void wp_off(void)
{
    Vm v;
    vm_new(&v, M_2L, 1);
    pte_2l(0x51000, 0x51000 | PG_P);
    OP(0x0f, 0x20, 0xc0);                           /* mov eax, cr0 */
    OP(0x25); d32(~0x10000u);                       /* and eax, ~WP */
    OP(0x0f, 0x22, 0xc0);                           /* mov cr0, eax */
    store_imm(0x51010, 0x77);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_NCOMMON), 0);
    CHECK_EQ(rd32(0x51010), 0x77);
    CHECK_EQ(pte_2l_get(0x51000), 0x51000 | PG_P | PG_A | PG_D);
    vm_free(&v);
}

/* A #PF handler that maps the page and returns: the instruction restarts. */
static void pf_restart(void)
{
    Vm v;
    vm_new(&v, M_2L, 1);
    uint32_t body = g_pc;
    pte_2l(0x56000, 0);
    wr32(0x56abc, 0x600df00d);
    uint32_t h = v.hpc;
    at(h);
    OP(0xff, 0x05); d32(R_X + 8);                   /* inc dword [R_X+8] */
    OP(0xc7, 0x05); d32(PT0 + 0x56 * 4); d32(0x56000 | PG_P | PG_RW); /* map the page */
    OP(0x83, 0xc4, 0x04);                           /* add esp, 4: error code */
    OP(0xcf);                                       /* iret */
    v.hpc = (g_pc + 15) & ~15u;
    idt_set(14, h, 0xe, 0, 1);
    at(body);
    load_eax(0x56abc);                              /* faults once, then restarts */
    store_eax(R_X);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_NCOMMON), 0);
    CHECK_EQ(rd32(R_X + 8), 1);
    CHECK_EQ(rd32(R_X), 0x600df00d);
    CHECK_EQ(cpu_stats(v.cpu)->page_faults, 1);
    vm_free(&v);
}

/* The guest changes a present PTE: invlpg, and a CR3 reload, make the
 * new translation visible (lbvm's fills are cached by Unicorn's TLB). */
static void tlb_maintenance(void)
{
    Vm v;
    vm_new(&v, M_2L, 1);
    wr32(0x59000, 0xaaaa);
    wr32(0x5a000, 0xbbbb);
    wr32(0x5b000, 0xcccc);
    load_eax(0x59000);                              /* fills VA 0x59000 -> PA 0x59000 */
    store_eax(R_X);
    store_imm(PT0 + 0x59 * 4, 0x5a000 | PG_P | PG_RW);
    OP(0x0f, 0x01, 0x3d); d32(0x59000);             /* invlpg [0x59000] */
    load_eax(0x59000);
    store_eax(R_X + 4);
    store_imm(PT0 + 0x59 * 4, 0x5b000 | PG_P | PG_RW);
    OP(0x0f, 0x20, 0xd8);                           /* mov eax, cr3 */
    OP(0x0f, 0x22, 0xd8);                           /* mov cr3, eax: flush */
    load_eax(0x59000);
    store_eax(R_X + 8);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X), 0xaaaa);
    CHECK_EQ(rd32(R_X + 4), 0xbbbb);
    CHECK_EQ(rd32(R_X + 8), 0xcccc);
    vm_free(&v);
}

static void test_page_faults(void)
{
    printf("(a) page faults\n");
    static const PfCase cases[] = {
        { "2-level not-present read", M_2L, 0, 0x50123, 0, 0 },
        { "2-level not-present write", M_2L, 0, 0x50ff8, 1, 2 },
        { "2-level RO write WP=1", M_2L, 0, 0x51008, 1, 3 },
        { "2-level user->supervisor", M_2L, 1, 0x52010, 0, 5 },
        { "2-level user RO write", M_2L, 1, 0x51004, 1, 7 },
        { "2-level user not-present", M_2L, 1, 0x50000, 0, 4 },
        { "4 MiB page RO write", M_2L, 0, 0xc01000, 1, 3 },
        { "4 MiB PDE not present", M_2L, 0, 0x1000000, 0, 0 },
        { "PAE not-present read", M_PAE, 0, 0x50123, 0, 0 },
        { "PAE RO write WP=1", M_PAE, 0, 0x51008, 1, 3 },
        { "PAE user->supervisor", M_PAE, 1, 0x52010, 0, 5 },
        { "PAE 2 MiB page RO write", M_PAE, 0, 0xc01000, 1, 3 },
        { "PAE PDPTE not present", M_PAE, 0, 0x40000000, 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        pf_case(&cases[i]);
    ad_bits(M_2L);
    ad_bits(M_PAE);
    wp_off();
    pf_restart();
    tlb_maintenance();
}

/* ===========================================================================
 * (b) int 0x80 from ring 3: stack switch through the TSS, frame, iret back.
 */
static void test_syscall(void)
{
    printf("(b) int 0x80 from ring 3\n");
    Vm v;
    vm_new(&v, M_2L, 1);
    uint32_t body = g_pc;
    /* int 0x80 handler (DPL 3 trap gate): record the frame and CS/SS/ESP, eax = 0x5678. */
    uint32_t h = v.hpc;
    at(h);
    OP(0x89, 0x25); d32(R_X + 0x40);                /* mov [R_X+0x40], esp */
    for (int i = 0; i < 5; i++) {
        OP(0x8b, 0x44, 0x24, (uint8_t)(4 * i));     /* mov eax, [esp+4i] */
        store_eax(R_X + 0x44 + 4 * i);
    }
    OP(0x8c, 0xc8); store_eax(R_X + 0x60);          /* mov eax, cs */
    OP(0x8c, 0xd0); store_eax(R_X + 0x64);          /* mov eax, ss */
    OP(0x9c, 0x58); store_eax(R_X + 0x68);          /* pushfd; pop eax */
    mov_eax(0x5678);
    OP(0xcf);                                       /* iret */
    v.hpc = (g_pc + 15) & ~15u;
    idt_set(0x80, h, 0xf, 3, 1);                    /* trap gate: IF stays */
    idt_set(0x81, STUBS + 0x81 * 16, 0xe, 3, 1);    /* ends the test in COMMON */
    at(body);
    enter_ring3(0x202);
    mov_eax(0x1234);
    OP(0xcd, 0x80);                                 /* int 0x80 */
    uint32_t ret_eip = g_pc;
    store_eax(R_X);                                 /* the handler's eax */
    OP(0x8c, 0xc8); store_eax(R_X + 4);             /* mov eax, cs: back in ring 3? */
    OP(0x89, 0x25); d32(R_X + 8);                   /* mov [R_X+8], esp */
    OP(0xcd, 0x81);                                 /* int 0x81 -> COMMON */
    uint32_t end_eip = g_pc;
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X + 0x40), ESP0 - 20);          /* no error code: 5 dwords */
    CHECK_EQ(rd32(R_X + 0x44), ret_eip);            /* EIP after int 0x80 */
    CHECK_EQ(rd32(R_X + 0x48), SEL_UCODE);
    CHECK_EQ(rd32(R_X + 0x4c), 0x202);
    CHECK_EQ(rd32(R_X + 0x50), USTACK);
    CHECK_EQ(rd32(R_X + 0x54), SEL_UDATA);
    CHECK_EQ(rd32(R_X + 0x60), SEL_KCODE);          /* handler ran in ring 0 ... */
    CHECK_EQ(rd32(R_X + 0x64), SEL_KDATA);          /* ... on SS0 */
    CHECK_EQ(rd32(R_X + 0x68) & 0x200, 0x200);      /* trap gate kept IF */
    CHECK_EQ(rd32(R_X), 0x5678);                    /* iret back with the handler's eax */
    CHECK_EQ(rd32(R_X + 4), SEL_UCODE);             /* in ring 3 */
    CHECK_EQ(rd32(R_X + 8), USTACK);                /* on the user stack */
    CHECK_EQ(rd32(R_VEC), 0x81);
    CHECK_EQ(rd32(R_FRAME), end_eip);
    CHECK_EQ(rd32(R_FRAME + 4), SEL_UCODE);
    CHECK_EQ(rd32(R_ESP), ESP0 - 20);               /* ESP0 again: a fresh ring-0 stack */
    CHECK_EQ(cpu_stats(v.cpu)->soft_ints, 2);
    printf("  handler esp %#x frame eip %#x cs %#x efl %#x esp %#x ss %#x; back in cs %#x eax %#x\n",
           rd32(R_X + 0x40), rd32(R_X + 0x44), rd32(R_X + 0x48), rd32(R_X + 0x4c), rd32(R_X + 0x50),
           rd32(R_X + 0x54), rd32(R_X + 4), rd32(R_X));
    vm_free(&v);

    /* Through a DPL-0 gate from ring 3: #GP(0x80 * 8 + 2), delivered to ring 0. */
    vm_new(&v, M_2L, 1);
    idt_set(0x80, STUBS + 0x80 * 16, 0xe, 0, 1);
    enter_ring3(0x202);
    uint32_t int_eip = g_pc;
    OP(0xcd, 0x80);                                 /* int 0x80 */
    store_imm(R_X, 1);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 13);
    CHECK_EQ(rd32(R_FRAME), 0x80 * 8 + 2);          /* IDT bit set, EXT clear */
    CHECK_EQ(rd32(R_FRAME + 8), SEL_UCODE);
    CHECK_EQ(rd32(R_ESP), ESP0 - 24);
    CHECK_EQ(rd32(R_X), 0);
    /* A fault: the saved EIP is the int instruction itself (SDM vol. 3, 6.12.1.1).
     * (cpu.c before the soft-int EIP fix pushed the EIP after it.) */
    CHECK_EQ(rd32(R_FRAME + 4), int_eip);
    printf("  DPL-0 gate from ring 3: vector %u err %#x eip %#x (int at %#x)\n", rd32(R_VEC), rd32(R_FRAME),
           rd32(R_FRAME + 4), int_eip);
    vm_free(&v);

    /* QUIRK(soft-int): int 0x0e from ring 3 through the DPL-0 #PF gate is a
     * #GP(0x0e * 8 + 2), not a page fault (the context says int n raised it). */
    vm_new(&v, M_2L, 1);
    idt_set(0x0e, STUBS + 0x0e * 16, 0xe, 0, 1);
    enter_ring3(0x202);
    int_eip = g_pc;
    OP(0xcd, 0x0e);                                 /* int 0x0e */
    store_imm(R_X, 1);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 13);
    CHECK_EQ(rd32(R_FRAME), 0x0e * 8 + 2);
    CHECK_EQ(rd32(R_FRAME + 4), int_eip);
    CHECK_EQ(rd32(R_X), 0);
    vm_free(&v);

    /* int 0x0d from ring 0 through a DPL-0 gate runs the #GP handler with no
     * error code pushed and EIP after the instruction. */
    vm_new(&v, M_2L, 1);
    int_eip = g_pc;
    OP(0xcd, 0x0d);                                 /* int 0x0d */
    uint32_t after = g_pc;
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 13);
    CHECK_EQ(rd32(R_FRAME), after);                 /* first dword is EIP, not an error code */
    CHECK_EQ(cpu_stats(v.cpu)->soft_ints, 1);
    printf("  int 0x0d in ring 0: frame eip %#x (int at %#x)\n", rd32(R_FRAME), int_eip);
    vm_free(&v);
}

/* ===========================================================================
 * (c) #GP with error codes, several in a row (none may turn into #DF).
 * (d) ud2 -> #UD.
 */
static void test_gp_ud(void)
{
    printf("(c) #GP error codes, (d) #UD\n");
    Vm v;
    vm_new(&v, M_2L, 1);
    uint32_t body = g_pc;
    emit_skip_handler(&v, 13, 1);
    emit_skip_handler(&v, 6, 0);
    at(body);
    uint32_t eip[5];
    OP(0x66, 0xb8); d16(0x98);                      /* mov ax, 0x98: beyond the GDT limit */
    eip[0] = g_pc;
    OP(0x8e, 0xd8);                                 /* mov ds, ax -> #GP(0x98) */
    OP(0x66, 0xb8); d16(SEL_UDATA);                 /* mov ax, 0x2b: RPL 3 at CPL 0 */
    eip[1] = g_pc;
    OP(0x8e, 0xd0);                                 /* mov ss, ax -> #GP(0x28) */
    OP(0x66, 0xb8); d16(SEL_TSS);                   /* mov ax, 0x30: a system descriptor */
    eip[2] = g_pc;
    OP(0x8e, 0xc0);                                 /* mov es, ax -> #GP(0x30) */
    eip[3] = g_pc;
    OP(0x0f, 0x0b);                                 /* ud2 -> #UD */
    eip[4] = g_pc;
    OP(0x0f, 0x0b);                                 /* ud2 -> #UD again */
    store_imm(R_X, 0x900d);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_NCOMMON), 0);                   /* no #DF, nothing unexpected */
    CHECK_EQ(rd32(R_X), 0x900d);
    CHECK_EQ(rd32(R_LCNT), 5);
    static const uint32_t want_vec[5] = { 13, 13, 13, 6, 6 }, want_err[5] = { 0x98, 0x28, 0x30, 0, 0 };
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(list_at(i, 0), want_vec[i]);
        CHECK_EQ(list_at(i, 1), want_err[i]);
        CHECK_EQ(list_at(i, 2), eip[i]);
        CHECK_EQ(list_at(i, 3), SEL_KCODE);
        printf("  #%u err %#x at %#x\n", list_at(i, 0), list_at(i, 1), list_at(i, 2));
    }
    const CPUStats *st = cpu_stats(v.cpu);
    CHECK_EQ(st->exceptions[13], 3);
    CHECK_EQ(st->exceptions[6], 2);
    CHECK_EQ(st->exceptions[8], 0);
    vm_free(&v);
}

/* ===========================================================================
 * (e) Faults while delivering: #DF, and triple fault.
 */
static void test_double_fault(void)
{
    printf("(e) double and triple faults\n");
    Vm v;

    /* #PF gate not present: #NP while delivering #PF -> #DF(0). */
    vm_new(&v, M_2L, 1);
    pte_2l(0x50000, 0);
    idt_set(14, STUBS + 14 * 16, 0xe, 0, 0);
    uint32_t f = g_pc;
    load_eax(0x50010);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 8);
    CHECK_EQ(rd32(R_FRAME), 0);
    CHECK_EQ(rd32(R_CR2), 0x50000);                 /* CR2 of the #PF that started it */
    CHECK_EQ(rd32(R_ESP), KSTACK - 16);
    CHECK_EQ(cpu_stats(v.cpu)->exceptions[8], 1);
    CHECK_EQ(cpu_stats(v.cpu)->exceptions[14], 0);
    printf("  #PF gate not present -> #%u err %d (eip %#x, fault at %#x)\n", rd32(R_VEC), rd32(R_FRAME),
           rd32(R_FRAME + 4), f);
    vm_free(&v);

    /* #GP beyond the IDT limit while delivering #GP -> #DF(0). */
    vm_new(&v, M_FLAT, 1);
    OP(0x0f, 0x01, 0x1d); d32(IDTR_SMALL);          /* lidt: vectors 0-12 only */
    OP(0x66, 0xb8); d16(0x98);
    OP(0x8e, 0xd8);                                 /* mov ds, 0x98 -> #GP -> #GP -> #DF */
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 8);
    CHECK_EQ(rd32(R_FRAME), 0);
    CHECK_EQ(rd32(R_NCOMMON), 1);
    vm_free(&v);

    /* #PF while delivering #GP: a contributory fault then a page fault is
     * handled serially (SDM vol. 3, table 6-5): the #PF is delivered, no #DF.
     * The IDT straddles two pages; the one holding gates 0-13 is unmapped.
     * (cpu.c before the table 6-5 fix made this #DF, then a triple fault.) */
    vm_new(&v, M_2L, 1);
    pte_2l(0x6f000, 0);
    memcpy(g_ram + 0x70000, g_ram + IDT + 14 * 8, (256 - 14) * 8);
    wr32(0x2810, (0x6ff90u & 0xffff) << 16 | 0x7ff);
    wr32(0x2814, 0x6ff90u >> 16);
    OP(0x0f, 0x01, 0x1d); d32(0x2810);              /* lidt: gate 13 at 0x6fff8, 14 at 0x70000 */
    OP(0x66, 0xb8); d16(0x98);
    f = g_pc;
    OP(0x8e, 0xd8);                                 /* mov ds, 0x98 -> #GP; its gate -> #PF */
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 14);
    CHECK_EQ(rd32(R_FRAME), 0);
    CHECK_EQ(rd32(R_FRAME + 4), f);
    CHECK_EQ(rd32(R_CR2), 0x6ff90 + 13 * 8);        /* the gate's linear address */
    printf("  #PF reading the #GP gate -> #%u err %#x cr2 %#x\n", rd32(R_VEC), rd32(R_FRAME), rd32(R_CR2));
    vm_free(&v);

    /* int 0x80 through a not-present gate: #NP(0x80 * 8 + 2), not #DF (a soft
     * interrupt is benign). */
    vm_new(&v, M_FLAT, 1);
    idt_set(0x80, STUBS + 0x80 * 16, 0xe, 0, 0);
    OP(0xcd, 0x80);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 11);
    CHECK_EQ(rd32(R_FRAME), 0x80 * 8 + 2);
    vm_free(&v);

    /* Kernel stack unmapped: #UD cannot be pushed, nor the #PF, nor the #DF. */
    vm_new(&v, M_2L, 1);
    pte_2l(0x57000, 0);
    OP(0xbc); d32(0x58000);                         /* mov esp, 0x58000: page below unmapped */
    OP(0x0f, 0x0b);                                 /* ud2 */
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_FATAL);
    CHECK(strstr(cpu_error(v.cpu), "triple fault") != NULL);
    CHECK_EQ(rd32(R_NCOMMON), 0);
    printf("  stack unmapped -> FATAL \"%s\"\n", cpu_error(v.cpu));
    vm_free(&v);

    /* #PF and #DF gates not present: triple fault. */
    vm_new(&v, M_2L, 1);
    pte_2l(0x50000, 0);
    idt_set(14, STUBS + 14 * 16, 0xe, 0, 0);
    idt_set(8, STUBS + 8 * 16, 0xe, 0, 0);
    load_eax(0x50000);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_FATAL);
    CHECK(strstr(cpu_error(v.cpu), "triple fault") != NULL);
    CHECK_EQ(rd32(R_NCOMMON), 0);
    vm_free(&v);

    /* Ring 3 fault with ESP0 on an unmapped page: no stack to switch to. */
    vm_new(&v, M_2L, 1);
    pte_2l(ESP0 - 0x1000, 0);
    enter_ring3(0x202);
    OP(0x0f, 0x0b);                                 /* ud2 in ring 3 */
    CHECK_EQ(run(&v), CPU_EXIT_FATAL);
    CHECK(strstr(cpu_error(v.cpu), "triple fault") != NULL);
    vm_free(&v);
}

/* ===========================================================================
 * (f) hlt, deadlines and the virtual clock.
 */
static int timer_fired;
static void on_timer(void *opaque)
{
    (void)opaque;
    timer_fired++;
}

static void test_hlt(void)
{
    printf("(f) hlt and deadlines\n");
    Vm v;

    /* IF=0: the guest stopped. */
    vm_new(&v, M_FLAT, 1);
    OP(0xfa, 0xf4);                                 /* cli; hlt */
    store_imm(R_X, 1);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X), 0);
    CHECK_EQ(cpu_stats(v.cpu)->halts, 1);
    uint64_t t = v.clock.now;
    CHECK(t > 0 && t < 1000);                       /* a few blocks' bytes */
    /* cpu_run again resumes after the hlt */
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X), 1);
    vm_free(&v);

    /* IF=1: the clock jumps to the next deadline. */
    vm_new(&v, M_FLAT, 1);
    VTimer tm;
    timer_fired = 0;
    vtimer_init(&tm, &v.clock, on_timer, NULL);
    vtimer_mod(&v.clock, &tm, 5000000);
    OP(0xfb, 0xf4);                                 /* sti; hlt */
    store_imm(R_X, 1);
    stop_here();
    CHECK_EQ(cpu_run(v.cpu), CPU_EXIT_DEADLINE);
    CHECK_EQ(v.clock.now, 5000000);                 /* exactly the deadline */
    CHECK_EQ(rd32(R_X), 0);
    vclock_run_timers(&v.clock);
    CHECK_EQ(timer_fired, 1);
    /* A timer that raised no interrupt does not wake the hlt: the CPU stays
     * halted up to the next deadline (before the fix it went on past the
     * hlt, so a timer that only the host needed, such as a checkpoint's,
     * changed the guest's path). */
    vtimer_mod(&v.clock, &tm, 6000000);
    CHECK_EQ(cpu_run(v.cpu), CPU_EXIT_DEADLINE);
    CHECK_EQ(v.clock.now, 6000000);
    CHECK_EQ(rd32(R_X), 0);
    vclock_run_timers(&v.clock);
    CHECK_EQ(cpu_run(v.cpu), CPU_EXIT_DEADLINE);    /* only the watchdog is left */
    CHECK_EQ(v.clock.now, WATCHDOG_TICKS);
    CHECK_EQ(rd32(R_X), 0);
    vm_free(&v);

    /* IF=1 and nothing armed: the guest would sleep forever. */
    vm_new(&v, M_FLAT, 0);
    OP(0xfb, 0xf4);
    CHECK_EQ(cpu_run(v.cpu), CPU_EXIT_FATAL);
    CHECK(strstr(cpu_error(v.cpu), "hlt") != NULL);
    vm_free(&v);

    /* A deadline reached by running code: stop at the first block boundary past it. */
    vm_new(&v, M_FLAT, 1);
    timer_fired = 0;
    vtimer_init(&tm, &v.clock, on_timer, NULL);
    vtimer_mod(&v.clock, &tm, 20000);
    uint32_t loop = g_pc;
    OP(0x83, 0x3d); d32(R_X + 4); OP(0x00);         /* cmp dword [R_X+4], 0 */
    OP(0x74, (uint8_t)(loop - (g_pc + 2)));         /* je loop */
    stop_here();
    CHECK_EQ(cpu_run(v.cpu), CPU_EXIT_DEADLINE);
    CHECK(v.clock.now >= 20000 && v.clock.now < 20000 + 16);
    printf("  busy loop stopped at %llu for deadline 20000\n", (unsigned long long)v.clock.now);
    CHECK_EQ(cpu_run(v.cpu), CPU_EXIT_DEADLINE);     /* until the timers have run */
    vclock_run_timers(&v.clock);
    CHECK_EQ(timer_fired, 1);
    wr32(R_X + 4, 1);                               /* host writes data: the loop ends */
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    vm_free(&v);
}

/* ===========================================================================
 * (g) hardware interrupts through a CPUIntrController.
 */
typedef struct Pic {
    CPUState *cpu;
    int level, acks, vector;
} Pic;
static Pic pic;

static int pic_pending(void *opaque) { return ((Pic *)opaque)->level; }
static int pic_ack(void *opaque)
{
    Pic *p = opaque;
    p->acks++;
    p->level = 0;
    cpu_set_intr(p->cpu, 0, 0);
    return p->vector;
}
static void pic_raise(int vector)
{
    pic.vector = vector;
    pic.level = 1;
    cpu_set_intr(pic.cpu, 0, 1);
}

/* Test device at ports 0x500-0x507: logs accesses, raises INTR, stops the CPU. */
#define TDEV_PORT 0x500
typedef struct TDev {
    CPUState *cpu;
    int n;
    uint32_t off[32], val[32];
    int size[32], is_write[32];
} TDev;
static TDev tdev;

static uint32_t tdev_read(void *opaque, uint32_t off, int size_log2)
{
    TDev *d = opaque;
    if (d->n < 32) {
        d->off[d->n] = off, d->size[d->n] = size_log2, d->val[d->n] = 0, d->is_write[d->n] = 0;
        d->n++;
    }
    return size_log2 == 2 ? 0x87654321u ^ off : size_log2 == 1 ? 0xbee0u | off : 0xa0u | off;
}

static void tdev_write(void *opaque, uint32_t off, uint32_t val, int size_log2)
{
    TDev *d = opaque;
    if (d->n < 32) {
        d->off[d->n] = off, d->size[d->n] = size_log2, d->val[d->n] = val, d->is_write[d->n] = 1;
        d->n++;
    }
    if (off == 4)
        pic_raise((int)val);
    if (off == 5)
        cpu_request_stop(d->cpu);
}

/* A handler for vector vec that records (vec, EIP, EFLAGS, R_X+0x20 snapshot) and returns. */
static uint32_t emit_irq_handler(Vm *v, int vec)
{
    uint32_t h = v->hpc;
    at(h);
    OP(0x50, 0x51);                                 /* push eax; push ecx */
    OP(0x8b, 0x0d); d32(R_LCNT);                    /* mov ecx, [R_LCNT] */
    OP(0xc1, 0xe1, 0x04);                           /* shl ecx, 4 */
    OP(0xc7, 0x81); d32(R_LIST); d32((uint32_t)vec); /* mov dword [ecx + R_LIST], vec */
    OP(0x8b, 0x44, 0x24, 0x08);                     /* mov eax, [esp+8]: EIP */
    OP(0x89, 0x81); d32(R_LIST + 4);
    OP(0x8b, 0x44, 0x24, 0x10);                     /* mov eax, [esp+16]: EFLAGS */
    OP(0x89, 0x81); d32(R_LIST + 8);
    load_eax(R_X + 0x20);                           /* progress marker of the body */
    OP(0x89, 0x81); d32(R_LIST + 12);
    OP(0xff, 0x05); d32(R_LCNT);                    /* inc dword [R_LCNT] */
    OP(0x59, 0x58);                                 /* pop ecx; pop eax */
    OP(0xcf);                                       /* iret */
    v->hpc = (g_pc + 15) & ~15u;
    idt_set(vec, h, 0xe, 0, 1);
    return h;
}

static void vm_add_tdev(Vm *v)
{
    memset(&tdev, 0, sizeof tdev);
    tdev.cpu = v->cpu;
    CHECK(iomap_register_ports(v->io, TDEV_PORT, 8, &tdev, tdev_read, tdev_write,
                               IO_SIZE8 | IO_SIZE16 | IO_SIZE32, "tdev") != NULL);
    memset(&pic, 0, sizeof pic);
    pic.cpu = v->cpu;
    CPUIntrController ic = { pic_pending, pic_ack, &pic };
    cpu_set_intr_controller(v->cpu, &ic);
}

static void test_interrupts(void)
{
    printf("(g) hardware interrupts\n");
    Vm v;
    vm_new(&v, M_2L, 1);
    vm_add_tdev(&v);
    uint32_t body = g_pc;
    emit_irq_handler(&v, 0x30);
    emit_irq_handler(&v, 0x31);
    at(body);
    /* INTR is raised before the guest runs, with IF=0. */
    pic_raise(0x31);
    store_imm(R_X + 0x20, 1);
    OP(0xb9); d32(200);                             /* mov ecx, 200 */
    uint32_t loop = g_pc;
    OP(0x49);                                       /* dec ecx */
    OP(0x75, (uint8_t)(loop - (g_pc + 2)));         /* jnz loop: 200 blocks with IF=0 */
    store_imm(R_X + 0x20, 2);
    OP(0xfb);                                       /* sti */
    uint32_t after_sti = g_pc;
    OP(0x90, 0x90);                                 /* nop; nop */
    store_imm(R_X + 0x20, 3);
    OP(0xfa);                                       /* cli */
    /* Raised mid-block by an OUT: taken at a block boundary after it. */
    OP(0xfb);                                       /* sti */
    OP(0xba); d32(TDEV_PORT + 4);                   /* mov edx, 0x504 */
    mov_eax(0x30);
    OP(0xee);                                       /* out dx, al: raise INTR, vector 0x30 */
    uint32_t after_out = g_pc;
    store_imm(R_X + 0x20, 4);
    store_imm(R_X + 0x20, 5);
    uint32_t jmp_at = g_pc;
    OP(0xeb, 0x00);                                 /* jmp $+2: ends the block */
    uint32_t next_block = g_pc;
    store_imm(R_X + 0x20, 6);
    /* Stop request from a device: taken at the next block boundary. */
    OP(0xba); d32(TDEV_PORT + 5);                   /* mov edx, 0x505 */
    OP(0xee);                                       /* out dx, al: cpu_request_stop() */
    store_imm(R_X + 0x20, 6);
    OP(0xeb, 0x00);                                 /* jmp $+2 */
    store_imm(R_X + 0x20, 7);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_STOPPED);
    CHECK_EQ(pic.acks, 2);
    CHECK_EQ(rd32(R_LCNT), 2);
    /* First: vector 0x31 only once IF=1, i.e. after the sti. */
    CHECK_EQ(list_at(0, 0), 0x31);
    CHECK(list_at(0, 1) >= after_sti && list_at(0, 1) <= after_sti + 2);
    CHECK_EQ(list_at(0, 2) & 0x200, 0x200);         /* IF was set in the frame */
    CHECK_EQ(list_at(0, 3), 2);                     /* the IF=0 loop was done, marker 3 not yet */
    /* Second: vector 0x30; precise: what ran before the saved EIP is done, not after. */
    CHECK_EQ(list_at(1, 0), 0x30);
    uint32_t e1 = list_at(1, 1), m1 = list_at(1, 3);
    CHECK(e1 == after_out || e1 == after_out + 10 || e1 == jmp_at || e1 == next_block);
    CHECK_EQ(m1, e1 == after_out ? 3u : e1 == after_out + 10 ? 4u : 5u);
    CHECK_EQ(rd32(R_X + 0x20), 6);                  /* stopped at the end of the OUT's block */
    CHECK_EQ(cpu_stats(v.cpu)->hw_irqs, 2);
    printf("  0x31 at %#x (sti ends at %#x), 0x30 at %#x (out ends at %#x, block ends at %#x), marker %u\n",
           list_at(0, 1), after_sti, e1, after_out, next_block, m1);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);             /* resumes where it stopped */
    CHECK_EQ(rd32(R_X + 0x20), 7);
    CHECK_EQ(pic.acks, 2);
    vm_free(&v);

    /* A stop requested in the block that ends with cli; hlt: the stop is
     * reported first, and the hlt must still halt when cpu_run resumes.
     * (cpu.c before the stop/hlt fix resumed after the hlt.) */
    vm_new(&v, M_FLAT, 1);
    vm_add_tdev(&v);
    OP(0xba); d32(TDEV_PORT + 5);                   /* mov edx, 0x505 */
    OP(0xee);                                       /* out dx, al: cpu_request_stop() */
    OP(0xfa, 0xf4);                                 /* cli; hlt */
    store_imm(R_X + 0x20, 1);                       /* only if the hlt were skipped */
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_STOPPED);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X + 0x20), 0);
    vm_free(&v);

    /* sti; hlt with INTR pending: the interrupt wakes the hlt. */
    vm_new(&v, M_FLAT, 1);
    vm_add_tdev(&v);
    body = g_pc;
    emit_irq_handler(&v, 0x30);
    at(body);
    VTimer tm;
    vtimer_init(&tm, &v.clock, on_timer, NULL);
    vtimer_mod(&v.clock, &tm, 1000000000);
    pic_raise(0x30);
    OP(0xfb, 0xf4);                                 /* sti; hlt */
    uint32_t after_hlt = g_pc;
    store_imm(R_X + 0x20, 1);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(pic.acks, 1);
    CHECK_EQ(rd32(R_X + 0x20), 1);
    printf("  sti; hlt with INTR pending: delivered at %#x (hlt ends at %#x), clock %llu\n", list_at(0, 1),
           after_hlt, (unsigned long long)v.clock.now);
    /* The one-instruction interrupt shadow of sti: the hlt runs, the
     * interrupt ends it, and no time passes waiting for the far timer.
     * (cpu.c before the sti-shadow fix delivered it on the hlt, which then
     * slept until the next deadline.) */
    CHECK_EQ(list_at(0, 1), after_hlt);
    CHECK(v.clock.now < 1000000000);
    vm_free(&v);
}

/* ===========================================================================
 * (h) rdtsc from the virtual clock; determinism of whole runs.
 */
static void test_rdtsc(void)
{
    printf("(h) rdtsc\n");
    Vm v;
    vm_new(&v, M_FLAT, 1);
    rdtsc_to(R_X);
    OP(0xb9); d32(1000);                            /* mov ecx, 1000 */
    uint32_t loop = g_pc;
    OP(0x49);                                       /* dec ecx */
    OP(0x75, (uint8_t)(loop - (g_pc + 2)));         /* jnz loop: 3 bytes a block */
    rdtsc_to(R_X + 8);
    rdtsc_to(R_X + 16);                             /* same block: the clock has not moved */
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    uint64_t t0 = rd64(R_X), t1 = rd64(R_X + 8), t2 = rd64(R_X + 16);
    CHECK(t0 > 0);
    CHECK(t1 >= t0 + 3000 && t1 < t0 + 3000 + 128);  /* 1000 blocks of 3 bytes */
    CHECK(t2 > t1 && t2 < t1 + 64);                  /* strictly increasing */
    CHECK(t1 <= v.clock.now);
    CHECK_EQ(cpu_stats(v.cpu)->rdtsc, 3);
    printf("  tsc %llu %llu %llu, clock %llu\n", (unsigned long long)t0, (unsigned long long)t1,
           (unsigned long long)t2, (unsigned long long)v.clock.now);
    vm_free(&v);
}

/* A guest that does a bit of everything: paging, ring 3, faults, rdtsc,
 * periodic timer interrupts while idle. */
static int det_ticks;
static VClock *det_clock;
static VTimer *det_timer;
static void det_tick(void *opaque)
{
    (void)opaque;
    pic_raise(0x30);
    if (++det_ticks < 8)
        vtimer_mod(det_clock, det_timer, det_clock->now + 100000);
}

static void det_run(uint64_t *now, uint8_t *ram_out, CPUStats *st)
{
    Vm v;
    VTimer tm;
    vm_new(&v, M_2L, 1);
    vm_add_tdev(&v);
    det_ticks = 0;
    det_clock = &v.clock;
    det_timer = &tm;
    vtimer_init(&tm, &v.clock, det_tick, NULL);
    vtimer_mod(&v.clock, &tm, 50000);
    uint32_t body = g_pc;
    emit_skip_handler(&v, 6, 0);
    emit_skip_handler(&v, 13, 1);
    /* IRQ handler: count, rdtsc into a table */
    uint32_t h = v.hpc;
    at(h);
    OP(0x50, 0x52, 0x51);                           /* push eax; push edx; push ecx */
    OP(0x8b, 0x0d); d32(R_X + 0x80);                /* mov ecx, [count] */
    OP(0x0f, 0x31);                                 /* rdtsc */
    OP(0x89, 0x04, 0xcd); d32(R_X + 0x100);         /* mov [ecx*8 + table], eax */
    OP(0x89, 0x14, 0xcd); d32(R_X + 0x104);         /* mov [ecx*8 + table + 4], edx */
    OP(0xff, 0x05); d32(R_X + 0x80);                /* inc dword [count] */
    OP(0x59, 0x5a, 0x58);                           /* pop ecx; pop edx; pop eax */
    OP(0xcf);                                       /* iret */
    v.hpc = (g_pc + 15) & ~15u;
    idt_set(0x30, h, 0xe, 0, 1);
    idt_set(0x80, STUBS + 0x80 * 16, 0xe, 3, 1);
    at(body);
    rdtsc_to(R_X);
    OP(0x0f, 0x0b);                                 /* ud2 */
    OP(0x66, 0xb8); d16(0x98); OP(0x8e, 0xd8);      /* #GP */
    uint32_t w = g_pc;
    OP(0xfb, 0xf4);                                 /* sti; hlt */
    OP(0x83, 0x3d); d32(R_X + 0x80); OP(8);         /* cmp dword [count], 8 */
    OP(0x72, (uint8_t)(w - (g_pc + 2)));            /* jb w */
    OP(0xfa);                                       /* cli */
    enter_ring3(0x2);
    OP(0x0f, 0x31);                                 /* rdtsc in ring 3 */
    store_eax(R_X + 0x10);
    OP(0xcd, 0x80);                                 /* -> COMMON, halt */
    CPUExit r;
    while ((r = run(&v)) == CPU_EXIT_DEADLINE && v.clock.now < WATCHDOG_TICKS)
        vclock_run_timers(&v.clock);
    CHECK_EQ(r, CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 0x80);
    CHECK_EQ(rd32(R_X + 0x80), 8);
    CHECK_EQ(rd32(R_LCNT), 2);
    for (int i = 1; i < 8; i++)
        CHECK(rd64(R_X + 0x100 + 8 * i) > rd64(R_X + 0x100 + 8 * (i - 1)) + 100000 - 1000);
    *now = v.clock.now;
    memcpy(ram_out, v.ram, RAM_SIZE);
    *st = *cpu_stats(v.cpu);
    vm_free(&v);
}

static void test_determinism(void)
{
    printf("(h) determinism\n");
    uint8_t *a = malloc(RAM_SIZE), *b = malloc(RAM_SIZE);
    uint64_t na = 0, nb = 0;
    CPUStats sa, sb;
    if (!a || !b)
        exit(1);
    det_run(&na, a, &sa);
    det_run(&nb, b, &sb);
    CHECK_EQ(na, nb);
    CHECK(memcmp(a, b, RAM_SIZE) == 0);
    CHECK(memcmp(&sa, &sb, sizeof sa) == 0);
    CHECK(na > 50000 + 7 * 100000);
    printf("  two runs: clock %llu / %llu, RAM %s, %llu TLB fills\n", (unsigned long long)na,
           (unsigned long long)nb, memcmp(a, b, RAM_SIZE) ? "differs" : "identical",
           (unsigned long long)(sa.tlb_fills[0] + sa.tlb_fills[1] + sa.tlb_fills[2]));
    free(a);
    free(b);
}

/* ===========================================================================
 * (i) self-modifying code and host writes to code.
 */
#define SMC_PAGE  0x14000u
#define SMC_SELF  0x15000u
#define ALIAS1    0x60000u      /* -> SMC_PAGE */
#define ALIAS2    0x61000u      /* -> SMC_SELF */

static void test_smc(void)
{
    printf("(i) self-modifying code\n");
    Vm v;
    vm_new(&v, M_2L, 1);
    pte_2l(ALIAS1, SMC_PAGE | PG_P | PG_RW);
    pte_2l(ALIAS2, SMC_SELF | PG_P | PG_RW);
    uint32_t body = g_pc;
    /* three functions on one page: mov eax, 0x11; ret */
    for (int i = 0; i < 3; i++) {
        at(SMC_PAGE + 0x100 * i);
        mov_eax(0x11);
        OP(0xc3);                                   /* ret */
    }
    at(body);
    for (int i = 0; i < 3; i++) {                   /* translate all three */
        call_to(SMC_PAGE + 0x100 * i);
        store_eax(R_X + 4 * i);
    }
    OP(0xc6, 0x05); d32(SMC_PAGE + 0x001); OP(0x22);            /* mov byte [f0 imm], 0x22 */
    OP(0xc6, 0x05); d32(ALIAS1 + 0x101); OP(0x33);              /* via the alias: f1 imm = 0x33 */
    OP(0xc6, 0x05); d32(SMC_PAGE + 0x201); OP(0x44);            /* f2 imm = 0x44, same entry as f0 */
    for (int i = 0; i < 3; i++) {
        call_to(SMC_PAGE + 0x100 * i);
        store_eax(R_X + 12 + 4 * i);
    }
    jmp_to(SMC_SELF);
    /* Code patching itself on its own page, in the same block and through an alias. */
    at(SMC_SELF);
    uint32_t x = g_pc + 7;
    OP(0xc6, 0x05); d32(x + 1); OP(0x55);           /* mov byte [x+1], 0x55 */
    mov_eax(0x11);                                  /* x: patched before it runs */
    store_eax(R_X + 0x20);
    uint32_t y = g_pc + 7;
    OP(0xc6, 0x05); d32(ALIAS2 + (y - SMC_SELF) + 1); OP(0x66); /* via the alias */
    mov_eax(0x11);                                  /* y */
    store_eax(R_X + 0x24);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_NCOMMON), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(rd32(R_X + 4 * i), 0x11);
    CHECK_EQ(rd32(R_X + 12), 0x22);
    CHECK_EQ(rd32(R_X + 16), 0x33);
    CHECK_EQ(rd32(R_X + 20), 0x44);
    CHECK_EQ(rd32(R_X + 0x20), 0x55);
    CHECK_EQ(rd32(R_X + 0x24), 0x66);
    printf("  patched functions return %#x %#x %#x; own block %#x, via alias %#x\n", rd32(R_X + 12),
           rd32(R_X + 16), rd32(R_X + 20), rd32(R_X + 0x20), rd32(R_X + 0x24));
    vm_free(&v);

    /* Host writes ("DMA") into code: cpu_invalidate_code makes the new code run. */
    vm_new(&v, M_2L, 1);
    uint32_t l = g_pc, imm = l + 1;
    mov_eax(0x11);                                  /* mov eax, imm (patched by the host) */
    OP(0x8b, 0x0d); d32(R_X + 0x40);                /* mov ecx, [n] */
    OP(0x89, 0x04, 0x8d); d32(R_X);                 /* mov [ecx*4 + R_X], eax */
    OP(0xff, 0x05); d32(R_X + 0x40);                /* inc dword [n] */
    OP(0xfa, 0xf4);                                 /* cli; hlt */
    jmp_to(l);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X), 0x11);
    wr32(imm, 0x22);
    cpu_invalidate_code(v.cpu, imm, 4);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X + 4), 0x22);
    wr32(imm, 0x33);                                /* a range covering several pages */
    cpu_invalidate_code(v.cpu, (imm & ~0xfffu) - 0x3000, 0x5000);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X + 8), 0x33);
    wr32(imm, 0x44);                                /* no invalidation: the library keeps stale code */
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    uint32_t stale = rd32(R_X + 12);
    cpu_invalidate_code(v.cpu, imm + 3, 1);         /* last byte of the immediate */
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X + 16), 0x44);
    CHECK_EQ(rd32(R_X + 0x40), 5);
    printf("  host write + invalidate: %#x %#x %#x; without: %#x; after: %#x\n", rd32(R_X), rd32(R_X + 4),
           rd32(R_X + 8), stale, rd32(R_X + 16));
    vm_free(&v);
}

/* ===========================================================================
 * (j) CPUID.
 */
static void test_cpuid(void)
{
    printf("(j) cpuid\n");
    Vm v;
    vm_new(&v, M_FLAT, 1);
    static const uint32_t leaves[3] = { 0, 1, 0x80000000u };
    for (int i = 0; i < 3; i++) {
        mov_eax(leaves[i]);
        OP(0x31, 0xc9);                             /* xor ecx, ecx */
        OP(0x0f, 0xa2);                             /* cpuid */
        store_eax(R_X + 16 * i);
        OP(0x89, 0x1d); d32(R_X + 16 * i + 4);      /* mov [..], ebx */
        OP(0x89, 0x0d); d32(R_X + 16 * i + 8);      /* mov [..], ecx */
        store_edx(R_X + 16 * i + 12);
    }
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    char vendor[13];
    memcpy(vendor, g_ram + R_X + 4, 4);
    memcpy(vendor + 4, g_ram + R_X + 12, 4);        /* EBX, EDX, ECX */
    memcpy(vendor + 8, g_ram + R_X + 8, 4);
    vendor[12] = 0;
    CHECK(strcmp(vendor, "GenuineIntel") == 0);
    CHECK(rd32(R_X) >= 1);                          /* max basic leaf */
    uint32_t sig = rd32(R_X + 16), edx = rd32(R_X + 28);
    CHECK_EQ((sig >> 8) & 0xf, 6);                  /* family 6 */
    CHECK_EQ((sig >> 20) & 0xff, 0);                /* no extended family */
    static const int set[] = { 0, 3, 6, 8, 15 };   /* FPU PSE PAE CX8 CMOV */
    static const int clear[] = { 4, 9, 11 };        /* TSC APIC SEP */
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        CHECK(edx & (1u << set[i]));
    for (size_t i = 0; i < sizeof clear / sizeof clear[0]; i++)
        CHECK(!(edx & (1u << clear[i])));
    CHECK(rd32(R_X + 32) < 0x80000001u);           /* no extended leaves */
    printf("  vendor %s, leaf 1 eax %#x edx %#x, leaf 0x80000000 eax %#x\n", vendor, sig, edx, rd32(R_X + 32));
    vm_free(&v);
}

/* ===========================================================================
 * (k) port I/O and MMIO dispatch.
 */
typedef struct MDev {
    int n;
    uint32_t off[16], val[16];
    int size[16], is_write[16];
} MDev;
static MDev mdev[2];

static uint32_t mdev_read(void *opaque, uint32_t off, int size_log2)
{
    MDev *d = opaque;
    if (d->n < 16) {
        d->off[d->n] = off, d->size[d->n] = size_log2, d->val[d->n] = 0, d->is_write[d->n] = 0;
        d->n++;
    }
    return 0xc0de0000u | off;
}

static void mdev_write(void *opaque, uint32_t off, uint32_t val, int size_log2)
{
    MDev *d = opaque;
    if (d->n < 16) {
        d->off[d->n] = off, d->size[d->n] = size_log2, d->val[d->n] = val, d->is_write[d->n] = 1;
        d->n++;
    }
}

static void mmio_early(IoMap *io)
{
    CHECK(iomap_register_mmio(io, 0xfe000000u, 0x1000, &mdev[0], mdev_read, mdev_write, 0, "m0") != NULL);
}

static void test_io(void)
{
    printf("(k) port I/O, MMIO\n");
    Vm v;
    vm_new(&v, M_FLAT, 1);
    vm_add_tdev(&v);
    OP(0xba); d32(TDEV_PORT + 1);                   /* mov edx, 0x501 */
    OP(0xb0, 0x5a);                                 /* mov al, 0x5a */
    OP(0xee);                                       /* out dx, al */
    OP(0xba); d32(TDEV_PORT + 2);
    OP(0x66, 0xb8); d16(0x1234);                    /* mov ax, 0x1234 */
    OP(0x66, 0xef);                                 /* out dx, ax */
    OP(0xba); d32(TDEV_PORT);
    mov_eax(0xdeadbeef);
    OP(0xef);                                       /* out dx, eax */
    OP(0xba); d32(TDEV_PORT + 3);
    OP(0xec);                                       /* in al, dx */
    OP(0xa2); d32(R_X);                             /* mov [R_X], al */
    OP(0xba); d32(TDEV_PORT + 6);
    OP(0x66, 0xed);                                 /* in ax, dx */
    OP(0x66, 0xa3); d32(R_X + 4);                   /* mov [R_X+4], ax */
    OP(0xba); d32(TDEV_PORT + 4);
    OP(0xed);                                       /* in eax, dx */
    store_eax(R_X + 8);
    /* nothing at 0x5f0 */
    mov_eax(0);
    OP(0xba); d32(0x5f0);
    OP(0xec);                                       /* in al, dx */
    store_eax(R_X + 12);
    OP(0x66, 0xed);                                 /* in ax, dx */
    store_eax(R_X + 16);
    OP(0xed);                                       /* in eax, dx */
    store_eax(R_X + 20);
    OP(0xb0, 0x00, 0xee);                           /* out dx, al (dropped) */
    /* a word straddling the end of the device: split into bytes */
    OP(0xba); d32(TDEV_PORT + 7);
    mov_eax(0);
    OP(0x66, 0xed);                                 /* in ax, dx */
    store_eax(R_X + 24);
    stop_here();
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(tdev.n, 7);
    static const struct { uint32_t off; int size, w; uint32_t val; } want[7] = {
        { 1, 0, 1, 0x5a }, { 2, 1, 1, 0x1234 }, { 0, 2, 1, 0xdeadbeef },
        { 3, 0, 0, 0 }, { 6, 1, 0, 0 }, { 4, 2, 0, 0 }, { 7, 0, 0, 0 },
    };
    for (int i = 0; i < 7 && i < tdev.n; i++) {
        CHECK_EQ(tdev.off[i], want[i].off);
        CHECK_EQ(tdev.size[i], want[i].size);
        CHECK_EQ(tdev.is_write[i], want[i].w);
        CHECK_EQ(tdev.val[i], want[i].val);
    }
    CHECK_EQ(g_ram[R_X], 0xa3);
    CHECK_EQ(rd32(R_X + 4) & 0xffff, 0xbee6);
    CHECK_EQ(rd32(R_X + 8), 0x87654321u ^ 4);
    CHECK_EQ(rd32(R_X + 12), 0xff);
    CHECK_EQ(rd32(R_X + 16), 0xffff);
    CHECK_EQ(rd32(R_X + 20), 0xffffffffu);
    CHECK_EQ(rd32(R_X + 24), 0xffa7);               /* 0x507 from the device, 0x508 unassigned */
    CHECK(v.io->n_unassigned >= 4);
    printf("  in: %#x %#x %#x; unassigned: %#x %#x %#x; straddling %#x\n", g_ram[R_X], rd32(R_X + 4) & 0xffff,
           rd32(R_X + 8), rd32(R_X + 12), rd32(R_X + 16), rd32(R_X + 20), rd32(R_X + 24));
    vm_free(&v);

    /* MMIO: one range registered before cpu_init, one after; unassigned space
     * reads all-ones, paging off and on (PAE to above 4 GiB). */
    for (int mode = M_FLAT; mode <= M_PAE; mode += M_PAE - M_FLAT) {
        memset(mdev, 0, sizeof mdev);
        g_pre_cpu = mmio_early;
        vm_new(&v, mode, 1);
        g_pre_cpu = NULL;
        IoMap *io = v.io;
        CHECK(iomap_register_mmio(io, 0xfe001000u, 0x1000, &mdev[1], mdev_read, mdev_write,
                                  IO_SIZE8 | IO_SIZE16 | IO_SIZE32, "m1") != NULL);
        uint32_t hi = 0xe0000000u;
        if (mode == M_PAE) {
            /* 3-4 GiB identity through 2 MiB pages (PD at 0xd000), VA 8 MiB
             * too, and VA 0x58000 -> PA 0x1_0000_0000: beyond 4 GiB, nothing there. */
            wr64(PDPT + 3 * 8, 0xd000 | PG_P);
            for (uint32_t i = 0; i < 512; i++)
                wr64(0xd000 + i * 8, (0xc0000000ull + ((uint64_t)i << 21)) | PG_P | PG_RW | PG_PS);
            wr64(PAE_PD + 4 * 8, 0x800000 | PG_P | PG_RW | PG_PS);
            wr64(PAE_PT + 0x58 * 8, 0x100000000ull | PG_P | PG_RW);
        }
        load_eax(0xfe000010);                       /* m0: dword read */
        store_eax(R_X);
        OP(0xc6, 0x05); d32(0xfe000004); OP(0x5a);  /* mov byte [m0+4], 0x5a */
        OP(0x66, 0xc7, 0x05); d32(0xfe001002); d16(0x1234); /* mov word [m1+2], 0x1234 */
        OP(0x66, 0xa1); d32(0xfe001008);            /* mov ax, [m1+8] */
        store_eax(R_X + 4);
        load_eax(hi);                               /* unassigned */
        store_eax(R_X + 8);
        OP(0xa0); d32(hi + 0x123);                  /* mov al, [unassigned] */
        store_eax(R_X + 12);
        store_imm(hi, 0);                           /* dropped */
        load_eax(hi);
        store_eax(R_X + 16);
        load_eax(RAM_SIZE + 0x10);                  /* just past RAM */
        store_eax(R_X + 20);
        if (mode == M_PAE) {
            load_eax(0x58010);                      /* above 4 GiB */
            store_eax(R_X + 24);
        }
        stop_here();
        CHECK_EQ(run(&v), CPU_EXIT_HALTED);
        CHECK_EQ(rd32(R_NCOMMON), 0);
        CHECK_EQ(rd32(R_X), 0xc0de0010u);
        CHECK_EQ(rd32(R_X + 4) & 0xffff, 0x0008);
        CHECK_EQ(mdev[0].n, 2);
        CHECK_EQ(mdev[0].off[0], 0x10);
        CHECK_EQ(mdev[0].size[0], 2);
        CHECK_EQ(mdev[0].is_write[1], 1);           /* m0 is 32-bit only: the byte write ... */
        CHECK_EQ(mdev[1].n, 2);
        CHECK_EQ(mdev[1].off[0], 2);
        CHECK_EQ(mdev[1].size[0], 1);
        CHECK_EQ(mdev[1].val[0], 0x1234);
        CHECK_EQ(mdev[1].off[1], 8);
        CHECK_EQ(mdev[1].size[1], 1);
        CHECK_EQ(rd32(R_X + 8), 0xffffffffu);
        CHECK_EQ(rd32(R_X + 12) & 0xff, 0xff);
        CHECK_EQ(rd32(R_X + 16), 0xffffffffu);
        CHECK_EQ(rd32(R_X + 20), 0xffffffffu);
        if (mode == M_PAE)
            CHECK_EQ(rd32(R_X + 24), 0xffffffffu);
        CHECK(io->n_unassigned >= 4);
        printf("  %s: m0 read %#x (byte write -> off %#x size %d), m1 %#x, unassigned %#x %#x %#x\n",
               mode == M_FLAT ? "flat" : "PAE", rd32(R_X), mdev[0].off[1], mdev[0].size[1],
               rd32(R_X + 4) & 0xffff, rd32(R_X + 8), rd32(R_X + 16), rd32(R_X + 20));
        vm_free(&v);
    }
}

/* ===========================================================================
 * (n) RAM above 4 GiB (3 GiB + 8 MiB: 3 GiB below the PCI hole, 8 MiB from
 * 4 GiB), reached through PAE: data in a 2 MiB page and in a 4 KiB page
 * whose page table is itself above 4 GiB (accessed/dirty bits set there),
 * code run from there and replaced by a host write + cpu_invalidate_code;
 * the hole and the space past RAM's end read all-ones; a page table in the
 * hole is not present (#PF).
 */
#define HR_LOW   0xc0000000u
#define HR_HIGH  0x100000000ull
static uint32_t hr_rd32(uint64_t off) { uint32_t x; memcpy(&x, g_ram + HR_LOW + off, 4); return x; }

static void test_high_ram(void)
{
    printf("(n) RAM above 4 GiB\n");
    Vm v;
    g_ram_size = HR_LOW + (8u << 20);
    vm_new(&v, M_PAE, 1);
    g_ram_size = 0;
    uint8_t *hi = g_ram + HR_LOW;               /* PA 4 GiB */
    uint64_t e;
    wr64(PAE_PD + 4 * 8, HR_HIGH | PG_P | PG_RW | PG_PS);          /* VA 8 MiB: 2 MiB page at 4 GiB */
    wr64(PAE_PD + 5 * 8, (HR_HIGH + 0x200000) | PG_P | PG_RW);     /* VA 10 MiB: page table at 4 GiB + 2 MiB */
    wr64(PAE_PD + 6 * 8, 0xc0001000ull | PG_P | PG_RW);            /* VA 12 MiB: page table in the hole */
    static const uint64_t pte[5] = {
        HR_HIGH + 0x201000,                     /* data */
        HR_HIGH + 0x202000,                     /* code */
        HR_HIGH + (8u << 20),                   /* first page past RAM's end */
        HR_LOW,                                 /* first page of the hole */
        HR_LOW - 0x1000,                        /* last RAM page below it */
    };
    for (int i = 0; i < 5; i++) {
        e = pte[i] | PG_P | PG_RW;
        memcpy(hi + 0x200000 + 8 * i, &e, 8);
    }
    uint32_t body = g_pc;
    at(0);                                      /* code at VA 0xa01000 = PA 4 GiB + 0x202000 */
    g_ram = hi + 0x202000;
    mov_eax(0x99);
    OP(0xc3);                                   /* ret */
    g_ram = v.ram;
    at(body);
    store_imm(0x800010, 0x11223344);
    load_eax(0x800010);
    store_eax(R_X);
    store_imm(0xa00020, 0x55667788);
    call_to(0xa01000);
    store_eax(R_X + 4);
    load_eax(0xa02000);
    store_eax(R_X + 8);
    load_eax(0xa03000);
    store_eax(R_X + 12);
    store_imm(0xa04ff0, 0xabcdef01);
    OP(0xfa, 0xf4);                             /* cli; hlt */
    call_to(0xa01000);                          /* again, after the host replaced it */
    store_eax(R_X + 16);
    OP(0xfa, 0xf4);
    load_eax(0xc00010);                         /* page table in the hole: #PF */
    store_imm(R_X + 20, 1);                     /* never reached */
    stop_here();

    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_NCOMMON), 0);
    CHECK_EQ(rd32(R_X), 0x11223344);
    CHECK_EQ(hr_rd32(0x10), 0x11223344);        /* the host sees it at buffer offset 3 GiB */
    CHECK_EQ(hr_rd32(0x201020), 0x55667788);
    CHECK_EQ(rd32(R_X + 4), 0x99);
    CHECK_EQ(rd32(R_X + 8), 0xffffffffu);       /* past RAM's end */
    CHECK_EQ(rd32(R_X + 12), 0xffffffffu);      /* in the hole */
    CHECK_EQ(rd32(HR_LOW - 0x10), 0xabcdef01);  /* below the hole: RAM */
    CHECK_EQ(hr_rd32(0x200000) & (PG_A | PG_D), PG_A | PG_D);   /* PTE above 4 GiB */
    CHECK_EQ(hr_rd32(0x200008) & (PG_A | PG_D), PG_A);
    CHECK_EQ(rd32(PAE_PD + 4 * 8) & (PG_A | PG_D), PG_A | PG_D);
    CHECK_EQ(rd32(PAE_PD + 4 * 8 + 4), 1);      /* bit 32 of the 2 MiB page's address intact */
    uint32_t imm = 0xaa;
    memcpy(hi + 0x202001, &imm, 4);             /* "DMA" over the code above 4 GiB */
    cpu_invalidate_code(v.cpu, HR_HIGH + 0x202001, 4);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_X + 16), 0xaa);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(R_VEC), 14);
    CHECK_EQ(rd32(R_NCOMMON), 1);
    CHECK_EQ(rd32(R_FRAME), 0);                 /* not present */
    CHECK_EQ(rd32(R_CR2), 0xc00000);
    CHECK_EQ(rd32(R_X + 20), 0);
    printf("  4 GiB: %#x via 2 MiB page, %#x via a PT above 4 GiB (pte %#x), code %#x then %#x; past RAM %#x, "
           "hole %#x; PT in the hole: vector %u err %#x\n", hr_rd32(0x10), hr_rd32(0x201020), hr_rd32(0x200000),
           rd32(R_X + 4), rd32(R_X + 16), rd32(R_X + 8), rd32(R_X + 12), rd32(R_VEC), rd32(R_FRAME));
    vm_free(&v);
    g_ram = NULL;
}

/* QUIRK(ring-switch): the CPL bits of QEMU's hflags must be found in this
 * Unicorn's context blob; if the layout changes, lbvm falls back to a route
 * that flushes the TLB on every interrupt from user mode (correct but slow),
 * and this check says so. */
static void test_fast_ring_switch(void)
{
    Vm v;
    vm_new(&v, 0, 0);
    CHECK(cpu_has_fast_ring_switch(v.cpu));
    vm_free(&v);
}

/* ===========================================================================
 * (m) checkpoints: cpu_state saves the CPU field by field; loading it into a
 * fresh CPU over a copy of RAM must continue exactly as the original does.
 * The checkpoint lands at ring 3 in an FPU loop, with FS's cache differing
 * from its GDT descriptor (the guest changed the descriptor after loading
 * FS: Unicorn's API alone would reload the new base).
 */
#include "base/state.h"

static void checkpoint_guest(Vm *v)
{
    gdt_set(1, 0x40000, 0xfff, 0xf2, 0x4);      /* 0x08: ring-3 data, base 0x40000 */
    OP(0x66, 0xb8); d16(0x08 | 3);              /* mov ax, 0x0b */
    OP(0x8e, 0xe0);                             /* mov fs, ax */
    wr32(GDT + 8 + 2, 0);                       /* (placeholder, rewritten below) */
    gdt_set(1, 0x40000, 0xfff, 0xf2, 0x4);
    /* now move the descriptor's base to 0x50000 behind FS's back */
    OP(0xc6, 0x05); d32(GDT + 8 + 4); OP(0x05); /* mov byte [GDT+12], 0x05: base 23:16 */
    OP(0xdb, 0xe3);                             /* fninit */
    OP(0xd9, 0xe8);                             /* fld1 */
    enter_ring3(0x202);
    OP(0xb9); d32(20000);                       /* mov ecx, 20000 */
    uint32_t loop = g_pc;
    OP(0x64, 0xa1); d32(0);                     /* mov eax, fs:[0] */
    OP(0x01, 0xc8);                             /* add eax, ecx */
    OP(0x64, 0xa3); d32(0);                     /* mov fs:[0], eax */
    OP(0xd9, 0xe8);                             /* fld1 */
    OP(0xde, 0xc1);                             /* faddp st1 */
    OP(0x49);                                   /* dec ecx */
    OP(0x75, (uint8_t)(loop - (g_pc + 2)));     /* jnz loop */
    OP(0xdd, 0x1d); d32(R_X);                   /* fstp qword [R_X] */
    OP(0x64, 0xa1); d32(0);                     /* mov eax, fs:[0] */
    store_eax(R_X + 8);
    OP(0xf4);                                   /* hlt at CPL 3: #GP, COMMON halts */
    (void)v;
}

static size_t save_cpu(Vm *v, uint8_t **out)
{
    StateIO io;
    state_init_save(&io, &v->clock);
    cpu_state(v->cpu, &io);
    CHECK(state_ok(&io));
    if (!state_ok(&io))
        fprintf(stderr, "  cpu_state: %s\n", state_error(&io));
    *out = io.buf;
    return io.len;
}

static void test_checkpoint(void)
{
    printf("(m) checkpoint and restore of the CPU\n");
    Vm a, b;
    vm_new(&a, M_2L, 1);
    CHECK(cpu_can_checkpoint(a.cpu));
    checkpoint_guest(&a);
    VTimer stop;
    vtimer_init(&stop, &a.clock, on_timer, NULL);
    vtimer_mod(&a.clock, &stop, 150000);
    CHECK_EQ(cpu_run(a.cpu), CPU_EXIT_DEADLINE);
    vclock_run_timers(&a.clock);
    uint8_t *snap;
    size_t snap_len = save_cpu(&a, &snap);
    cpu_flush_caches(a.cpu);
    uint8_t *ram_copy = malloc(RAM_SIZE);
    memcpy(ram_copy, a.ram, RAM_SIZE);
    uint64_t t0 = a.clock.now;
    printf("  saved at tick %llu: %zu bytes of CPU state\n", (unsigned long long)t0, snap_len);

    vm_new(&b, M_2L, 1);                        /* same wiring, fresh CPU */
    memcpy(b.ram, ram_copy, RAM_SIZE);
    b.clock.now = t0;
    StateIO io;
    state_init_load(&io, snap, snap_len, &b.clock);
    cpu_state(b.cpu, &io);
    CHECK(state_finish(&io));
    if (!state_ok(&io))
        fprintf(stderr, "  load: %s\n", state_error(&io));
    CHECK(memcmp(b.ram, ram_copy, RAM_SIZE) == 0);   /* loading wrote no guest RAM */

    g_ram = a.ram;
    CHECK_EQ(run(&a), CPU_EXIT_HALTED);
    g_ram = b.ram;
    CHECK_EQ(run(&b), CPU_EXIT_HALTED);
    double fa, fb;
    memcpy(&fa, a.ram + R_X, 8);
    memcpy(&fb, b.ram + R_X, 8);
    printf("  after: fpu %.1f / %.1f, fs:[0] %#x / %#x, ticks %llu / %llu\n", fa, fb, rd32(R_X + 8),
           rd32(R_X + 8), (unsigned long long)a.clock.now, (unsigned long long)b.clock.now);
    CHECK(fa == 20001.0 && fb == 20001.0);
    CHECK_EQ(rd32(R_VEC), 13);                      /* b's hlt at CPL 3 */
    g_ram = a.ram;
    CHECK_EQ(rd32(R_VEC), 13);
    CHECK_EQ(rd32(0x40000), 200010000u);            /* sum 1..20000 through FS base 0x40000 */
    CHECK_EQ(rd32(0x50000), 0);
    CHECK(memcmp(a.ram, b.ram, RAM_SIZE) == 0);
    CHECK_EQ(a.clock.now, b.clock.now);
    uint8_t *ea, *eb;
    size_t la = save_cpu(&a, &ea), lb = save_cpu(&b, &eb);
    CHECK(la == lb && memcmp(ea, eb, la) == 0);      /* every saved field equal at the end */
    free(ea);
    free(eb);

    /* Refusals: a truncated state and a wrong CPL leave an error, no crash. */
    Vm c;
    vm_new(&c, M_2L, 1);
    state_init_load(&io, snap, snap_len / 2, &c.clock);
    cpu_state(c.cpu, &io);
    CHECK(!state_ok(&io) && strstr(state_error(&io), "truncated"));
    vm_free(&c);
    free(snap);
    free(ram_copy);
    vm_free(&a);
    vm_free(&b);
}

/* A checkpoint while the guest runs on segment caches alone: like Linux's
 * machine_kexec before relocate_kernel copies the new kernel, it loads a null
 * GDT (limit 0) with paging off and goes on with CS, DS and SS loaded before.
 * No selector can be read back from a table then; the restore must still give
 * the same run. */
static void test_checkpoint_no_gdt(void)
{
    printf("(m) checkpoint and restore with the GDT dropped (kexec)\n");
    Vm a, b;
    vm_new(&a, M_FLAT, 1);
    wr32(R_X + 16, 0);                          /* lgdt operand: limit 0, base 0 */
    wr32(R_X + 20, 0);
    OP(0x0f, 0x01, 0x15); d32(R_X + 16);        /* lgdt [R_X + 16] */
    OP(0xb9); d32(30000);                       /* mov ecx, 30000 */
    uint32_t loop = g_pc;
    OP(0x01, 0x0d); d32(R_X);                   /* add [R_X], ecx */
    OP(0x51, 0x59);                             /* push ecx; pop ecx: SS */
    OP(0x49);                                   /* dec ecx */
    OP(0x75, (uint8_t)(loop - (g_pc + 2)));     /* jnz loop */
    stop_here();
    VTimer stop;
    vtimer_init(&stop, &a.clock, on_timer, NULL);
    vtimer_mod(&a.clock, &stop, 100000);
    CHECK_EQ(cpu_run(a.cpu), CPU_EXIT_DEADLINE);
    vclock_run_timers(&a.clock);
    uint8_t *snap;
    size_t snap_len = save_cpu(&a, &snap);
    cpu_flush_caches(a.cpu);
    uint8_t *ram_copy = malloc(RAM_SIZE);
    memcpy(ram_copy, a.ram, RAM_SIZE);
    uint64_t t0 = a.clock.now;
    CHECK(rd32(R_X) != 0);                      /* stopped inside the loop */

    vm_new(&b, M_FLAT, 1);
    memcpy(b.ram, ram_copy, RAM_SIZE);
    b.clock.now = t0;
    StateIO io;
    state_init_load(&io, snap, snap_len, &b.clock);
    cpu_state(b.cpu, &io);
    CHECK(state_finish(&io));
    if (!state_ok(&io))
        fprintf(stderr, "  load: %s\n", state_error(&io));
    CHECK(memcmp(b.ram, ram_copy, RAM_SIZE) == 0);   /* loading left guest RAM as it was */

    g_ram = a.ram;
    CHECK_EQ(run(&a), CPU_EXIT_HALTED);
    g_ram = b.ram;
    CHECK_EQ(run(&b), CPU_EXIT_HALTED);
    printf("  saved at tick %llu; after: sum %u / %u, ticks %llu / %llu\n", (unsigned long long)t0,
           rd32(R_X), rd32(R_X), (unsigned long long)a.clock.now, (unsigned long long)b.clock.now);
    CHECK_EQ(rd32(R_X), 450015000u);                /* 1 + ... + 30000 */
    CHECK(memcmp(a.ram, b.ram, RAM_SIZE) == 0);
    CHECK_EQ(a.clock.now, b.clock.now);
    uint8_t *ea, *eb;
    size_t la = save_cpu(&a, &ea), lb = save_cpu(&b, &eb);
    CHECK(la == lb && memcmp(ea, eb, la) == 0);
    free(ea);
    free(eb);
    free(snap);
    free(ram_copy);
    vm_free(&a);
    vm_free(&b);
}


/* ===========================================================================
 * (h) real mode: int n through the IVT (frame, IF cleared, iret), a hardware
 * interrupt through the IVT, and a firmware trap (cpu_set_trap) reached
 * through a stub the IVT points at, as emu/bios.c uses it.
 */
static int trap_calls;
static uint32_t trap_addr;
static int trap_vec;

static int real_trap(void *opaque, uint32_t addr, int vec)
{
    CPUState *cpu = opaque;
    trap_calls++;
    trap_addr = addr;
    trap_vec = vec;
    cpu_set_reg(cpu, CPU_EBX, 0xbeef);
    return 0;
}

static void test_real_mode(void)
{
    Vm v;
    char err[256];
    vm_new(&v, M_FLAT, 1);
    vm_add_tdev(&v);
    trap_calls = 0;
    cpu_set_trap(v.cpu, 0xf1000, 4, real_trap, v.cpu);
    wr32(0x21 * 4, 0x01000010);                 /* IVT[21h] = 0100:0010 */
    wr32(0x30 * 4, 0x02000000);                 /* IVT[30h] = 0200:0000 */
    wr32(0x55 * 4, 0xf0001000);                 /* IVT[55h] = F000:1000, the stub */
    at(0xf1000);
    OP(0xcd, 0x55, 0xcf);                       /* stub: int 55h; iret */
    at(0x1010);                                 /* handler 21h */
    OP(0x89, 0x26); d16(0x904c);                /* mov [0x904c], sp */
    OP(0x89, 0xe5);                             /* mov bp, sp */
    OP(0x8b, 0x46, 0x00);                       /* mov ax, [bp]: the pushed IP */
    OP(0xa3); d16(0x9058);
    OP(0x8b, 0x46, 0x02);                       /* mov ax, [bp+2]: the pushed CS */
    OP(0xa3); d16(0x905c);
    OP(0x9c, 0x58);                             /* pushf; pop ax */
    OP(0xa3); d16(0x9050);                      /* mov [0x9050], ax */
    OP(0xb8); d16(0x1234);                      /* mov ax, 0x1234 */
    OP(0xcf);                                   /* iret */
    at(0x2000);                                 /* handler 30h (IRQ) */
    OP(0xff, 0x06); d16(0x9048);                /* inc word [0x9048] */
    OP(0xcf);
    at(0x7c00);
    OP(0xbc); d16(0x7000);                      /* mov sp, 0x7000 */
    OP(0xcd, 0x21);                             /* int 21h */
    OP(0xa3); d16(0x9040);                      /* mov [0x9040], ax */
    OP(0x89, 0x26); d16(0x9044);                /* mov [0x9044], sp */
    OP(0xcd, 0x55);                             /* int 55h: to the stub, trapped */
    OP(0x89, 0x1e); d16(0x9054);                /* mov [0x9054], bx */
    OP(0xfb);                                   /* sti */
    OP(0xba); d16(TDEV_PORT + 4);               /* mov dx, 0x504 */
    OP(0xb0, 0x30, 0xee);                       /* mov al, 0x30; out dx, al: raise vector 30h */
    OP(0x90, 0x90, 0xeb, 0x00);                 /* nop; nop; jmp $+2 (a block boundary) */
    OP(0xfa, 0xf4);                             /* cli; hlt */
    CHECK_EQ(cpu_setup_real_entry(v.cpu, 0, 0x7c00, 0x7c00, 0x80, 0x002, err, sizeof err), 0);
    CHECK_EQ(run(&v), CPU_EXIT_HALTED);
    CHECK_EQ(rd32(0x9040) & 0xffff, 0x1234);    /* the handler ran and returned */
    CHECK_EQ(rd32(0x9044) & 0xffff, 0x7000);    /* iret popped the whole frame */
    CHECK_EQ(rd32(0x904c) & 0xffff, 0x7000 - 6); /* FLAGS, CS, IP pushed */
    CHECK_EQ(rd32(0x9058) & 0xffff, 0x7c05);    /* IP after the int */
    CHECK_EQ(rd32(0x905c) & 0xffff, 0);         /* CS */
    CHECK_EQ(rd32(0x9050) & 0x0200, 0);         /* IF clear inside the handler */
    CHECK_EQ(trap_calls, 1);
    CHECK_EQ(trap_addr, 0xf1000);
    CHECK_EQ(trap_vec, 0x55);
    CHECK_EQ(rd32(0x9054) & 0xffff, 0xbeef);    /* the trap's register result */
    CHECK_EQ(rd32(0x9048) & 0xffff, 1);         /* the IRQ handler ran once */
    CHECK_EQ(pic.acks, 1);
    CHECK_EQ(cpu_reg(v.cpu, CPU_CR0) & 1, 0);   /* still real mode */
    vm_free(&v);
}

int main(void)
{
    test_fast_ring_switch();
    test_page_faults();
    test_syscall();
    test_gp_ud();
    test_double_fault();
    test_hlt();
    test_interrupts();
    test_rdtsc();
    test_determinism();
    test_smc();
    test_cpuid();
    test_io();
    test_checkpoint();
    test_checkpoint_no_gdt();
    test_high_ram();
    test_real_mode();
    return check_done();
}
