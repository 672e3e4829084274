/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pins every Unicorn 2.1.x behaviour lbvm's CPU layer relies on or works around.
 * Raw Unicorn API only: each scenario opens a fresh engine on a tiny protected-mode
 * guest (flat GDT, identity page tables, hand-assembled code) in a uc_mem_map_ptr
 * buffer. A failure here means the library changed: either a workaround can go
 * (bug fixed) or lbvm breaks (new behaviour). Measured on 2.1.4 (Debian).
 * Scenarios 15 and 16 are the exception: they check that lbvm's gettimeofday
 * (emu/cpu.c) is the one Unicorn calls, and run lbvm's canonical-TLB routine. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unicorn/unicorn.h>
#include "check.h"
#include "emu/cpu.h"

/* Physical (and, unless aliased, virtual) layout of the test guest. */
#define RAM_SIZE   (4u << 20)
#define GDT_BASE   0x1000u
#define IDT_BASE   0x2000u
#define PD_BASE    0x4000u
#define PT_BASE    0x5000u      /* one page table: identity 0..4 MiB */
#define IDT_TARGET 0x6000u      /* every IDT gate points here */
#define MARK       0x7000u      /* IDT_TARGET writes MARK_VAL here if ever run */
#define MARK_VAL   0x0bad1deau
#define DATA       0x7000u      /* scratch data page */
#define RO_PAGE    0x8000u      /* present, user, read-only */
#define KCODE      0x10000u
#define UCODE      0x11000u
#define PCODE      0x12000u
#define KSTACK     0x20000u
#define USTACK     0x30000u

#define SEL_KCODE  0x08
#define SEL_KDATA  0x10
#define SEL_UCODE  0x1b
#define SEL_UDATA  0x23
#define GDT_LIMIT  (5 * 8 - 1)

#define CR0_PE 0x00000001u
#define CR0_ET 0x00000010u
#define CR0_WP 0x00010000u
#define CR0_PG 0x80000000u

enum { M_CPU, M_VTLB, M_NMODES };
static const char *const mode_name[M_NMODES] = { "cpu-tlb", "vtlb" };

static uint8_t *ram;

/* ---- tiny assembler: bytes are written straight into guest RAM ---- */
typedef struct { uint32_t pc; } Asm;
static void emit(Asm *a, const uint8_t *b, size_t n)
{
    memcpy(ram + a->pc, b, n);
    a->pc += (uint32_t)n;
}
#define EMIT(a, ...) emit((a), (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))
#define LE16(v) (uint8_t)(v), (uint8_t)((v) >> 8)
#define LE32(v) (uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16), (uint8_t)((v) >> 24)

static void put32(uint32_t pa, uint32_t v) { memcpy(ram + pa, &v, 4); }
static uint32_t get32(uint32_t pa) { uint32_t v; memcpy(&v, ram + pa, 4); return v; }

/* ---- one engine plus what its hooks saw ---- */
#define MAX_REC 8
typedef struct Vm {
    uc_engine *uc;
    int mode;
    int nintr;                      /* UC_HOOK_INTR calls */
    uint32_t intno[MAX_REC], intr_eip[MAX_REC], intr_esp[MAX_REC], intr_cs[MAX_REC];
    int nalias;                     /* vTLB identity fill, with these exceptions */
    uint32_t alias_va[4], alias_pa[4];
    int phys_probe;                 /* vTLB: fill answers identity (see scenario 8) */
    int nfill;
    uint32_t last_fill_va;
    int last_fill_type;
} Vm;

static uint32_t rd(Vm *v, int reg)
{
    uint32_t x = 0;
    uc_reg_read(v->uc, reg, &x);
    return x;
}
static uc_err wr(Vm *v, int reg, uint32_t x) { return uc_reg_write(v->uc, reg, &x); }
static uc_err run(Vm *v, uint32_t eip) { return uc_emu_start(v->uc, eip, 0, 0, 0); }

static void on_intr(uc_engine *uc, uint32_t intno, void *ud)
{
    Vm *v = ud;
    if (v->nintr < MAX_REC) {
        v->intno[v->nintr] = intno;
        v->intr_eip[v->nintr] = rd(v, UC_X86_REG_EIP);
        v->intr_esp[v->nintr] = rd(v, UC_X86_REG_ESP);
        v->intr_cs[v->nintr] = rd(v, UC_X86_REG_CS);
    }
    v->nintr++;
    uc_emu_stop(uc);                /* a fault would otherwise re-execute forever */
}

/* Default vTLB fill: identity (or an alias), every permission, so every page
 * behaves like a code-map page (stores stay on the checked path). */
static bool fill_default(uc_engine *uc, uint64_t vaddr, uc_mem_type type, uc_tlb_entry *e, void *ud)
{
    Vm *v = ud;
    (void)uc;
    v->nfill++;
    v->last_fill_va = (uint32_t)vaddr;
    v->last_fill_type = type;
    e->paddr = vaddr;
    for (int i = 0; i < v->nalias && !v->phys_probe; i++)
        if (v->alias_va[i] == (uint32_t)vaddr)
            e->paddr = v->alias_pa[i];
    e->perms = UC_PROT_ALL;
    return true;
}

static void gdt_entry(int i, uint32_t base, uint32_t limit, uint8_t access)
{
    put32(GDT_BASE + i * 8, (limit & 0xffff) | (base & 0xffff) << 16);
    put32(GDT_BASE + i * 8 + 4, ((base >> 16) & 0xff) | (uint32_t)access << 8 | (limit & 0xf0000) |
                                0xc00000 /* G, D */ | (base & 0xff000000));
}

/* Open a fresh engine in `mode` (vTLB: `fill` or fill_default with `fill_ud` or v),
 * flat PM at CPL0 with paging on (identity), CS:EIP left to uc_emu_start. */
static void vm_open(Vm *v, int mode, uc_cb_tlbevent_t fill, void *fill_ud)
{
    memset(v, 0, sizeof *v);
    memset(ram, 0, RAM_SIZE);
    v->mode = mode;
    if (uc_open(UC_ARCH_X86, UC_MODE_32, &v->uc) != UC_ERR_OK) {
        fprintf(stderr, "uc_open failed\n");
        exit(1);
    }
    uc_hook h;
    if (mode == M_VTLB) {
        /* before any segment load: descriptor reads go through the fill hook too */
        CHECK_EQ(uc_ctl_tlb_mode(v->uc, UC_TLB_VIRTUAL), UC_ERR_OK);
        CHECK_EQ(uc_hook_add(v->uc, &h, UC_HOOK_TLB_FILL, (void *)(fill ? fill : fill_default),
                             fill ? fill_ud : v, 1, 0), UC_ERR_OK);
    }
    CHECK_EQ(uc_mem_map_ptr(v->uc, 0, RAM_SIZE, UC_PROT_ALL, ram), UC_ERR_OK);
    CHECK_EQ(uc_hook_add(v->uc, &h, UC_HOOK_INTR, (void *)on_intr, v, 1, 0), UC_ERR_OK);

    gdt_entry(1, 0, 0xfffff, 0x9a);     /* 0x08 ring-0 code */
    gdt_entry(2, 0, 0xfffff, 0x92);     /* 0x10 ring-0 data */
    gdt_entry(3, 0, 0xfffff, 0xfa);     /* 0x18 ring-3 code */
    gdt_entry(4, 0, 0xfffff, 0xf2);     /* 0x20 ring-3 data */
    for (int i = 0; i < 256; i++) {     /* interrupt gates, DPL3, all to IDT_TARGET */
        put32(IDT_BASE + i * 8, (IDT_TARGET & 0xffff) | SEL_KCODE << 16);
        put32(IDT_BASE + i * 8 + 4, (IDT_TARGET & 0xffff0000) | 0xee00);
    }
    Asm a = { IDT_TARGET };
    EMIT(&a, 0xc7, 0x05, LE32(MARK), LE32(MARK_VAL));  /* mov dword [MARK], MARK_VAL */
    EMIT(&a, 0xf4);                                    /* hlt */
    put32(PD_BASE, PT_BASE | 7);
    for (uint32_t i = 0; i < 1024; i++)
        put32(PT_BASE + i * 4, i << 12 | 7);            /* P | RW | US */
    put32(PT_BASE + (RO_PAGE >> 12) * 4, RO_PAGE | 5);  /* P | US: read-only */

    uc_x86_mmr gdtr = { 0, GDT_BASE, GDT_LIMIT, 0 }, idtr = { 0, IDT_BASE, 256 * 8 - 1, 0 };
    CHECK_EQ(uc_reg_write(v->uc, UC_X86_REG_GDTR, &gdtr), UC_ERR_OK);
    CHECK_EQ(uc_reg_write(v->uc, UC_X86_REG_IDTR, &idtr), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_CR0, CR0_PE | CR0_ET), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_SS, SEL_KDATA), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_CS, SEL_KCODE), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_DS, SEL_KDATA), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_ES, SEL_KDATA), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_ESP, KSTACK), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_EFLAGS, 0x2), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_CR3, PD_BASE), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_CR0, CR0_PG | CR0_WP | CR0_ET | CR0_PE), UC_ERR_OK);
}

static void vm_close(Vm *v) { uc_close(v->uc); v->uc = NULL; }

/* Map virtual page va to physical page pa in whichever way the mode translates. */
static void vm_alias(Vm *v, uint32_t va, uint32_t pa)
{
    if (v->mode == M_CPU) {
        put32(PT_BASE + (va >> 12) * 4, pa | 7);
    } else {
        v->alias_va[v->nalias] = va;
        v->alias_pa[v->nalias++] = pa;
    }
    CHECK_EQ(uc_ctl_flush_tlb(v->uc), UC_ERR_OK);
}

/* Emit code that irets from ring 0 to ring-3 code at ueip (stack USTACK, IF=0). */
static void emit_iret_to_ring3(Asm *a, uint32_t ueip)
{
    EMIT(a, 0x6a, SEL_UDATA);               /* push SS */
    EMIT(a, 0x68, LE32(USTACK));            /* push ESP */
    EMIT(a, 0x6a, 0x02);                    /* push EFLAGS */
    EMIT(a, 0x6a, SEL_UCODE);               /* push CS */
    EMIT(a, 0x68, LE32(ueip));              /* push EIP */
    EMIT(a, 0xcf);                          /* iret */
}

/* ---------------------------------------------------------------------------
 * 1. The INTR hook replaces the guest IDT entirely. lbvm delivers every
 *    exception and interrupt through the IDT itself, from this hook.
 */
static void s1_intr_hook(void)
{
    printf("[1] INTR hook, IDT unused:");
    for (int m = 0; m < M_NMODES; m++) {
        Vm v;
        vm_open(&v, m, NULL, NULL);
        Asm a = { KCODE };
        EMIT(&a, 0x66, 0xb8, LE16(0x98));   /* mov ax, 0x98 (beyond GDT limit) */
        uint32_t fault = a.pc;
        EMIT(&a, 0x8e, 0xd8);               /* mov ds, ax -> #GP(0x98) */
        EMIT(&a, 0xf4);
        memset(ram + KSTACK - 0x100, 0x5a, 0x100);
        uc_err e = run(&v, KCODE);
        CHECK_EQ(e, UC_ERR_OK);
        CHECK_EQ(v.nintr, 1);
        CHECK_EQ(v.intno[0], 13);
        /* a fault stops with EIP on the faulting instruction: lbvm pushes it as is */
        CHECK_EQ(v.intr_eip[0], fault);
        CHECK_EQ(rd(&v, UC_X86_REG_EIP), fault);
        /* nothing delivered: lbvm must push the frame itself */
        CHECK_EQ(v.intr_esp[0], KSTACK);
        CHECK_EQ(rd(&v, UC_X86_REG_ESP), KSTACK);
        CHECK_EQ(rd(&v, UC_X86_REG_CS), SEL_KCODE);
        int clean = 1;
        for (int i = 0; i < 0x100; i++)
            clean &= ram[KSTACK - 0x100 + i] == 0x5a;
        CHECK(clean);
        CHECK_EQ(get32(MARK), 0);
        printf(" %s #GP->%u eip=%#x esp=%#x;", mode_name[m], v.intno[0], v.intr_eip[0], v.intr_esp[0]);
        vm_close(&v);

        vm_open(&v, m, NULL, NULL);
        a.pc = KCODE;
        EMIT(&a, 0xcd, 0x80);               /* int 0x80 */
        uint32_t after = a.pc;
        EMIT(&a, 0xf4);
        e = run(&v, KCODE);
        CHECK_EQ(e, UC_ERR_OK);
        CHECK_EQ(v.nintr, 1);
        CHECK_EQ(v.intno[0], 0x80);
        /* software interrupt: EIP already past it (the return address lbvm pushes) */
        CHECK_EQ(v.intr_eip[0], after);
        CHECK_EQ(rd(&v, UC_X86_REG_EIP), after);
        CHECK_EQ(rd(&v, UC_X86_REG_ESP), KSTACK);
        CHECK_EQ(get32(MARK), 0);
        printf(" int80->%#x eip=%#x;", v.intno[0], v.intr_eip[0]);
        vm_close(&v);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 2. The exception error code is only inside the uc_context blob. lbvm finds
 *    its offset at start-up by this same differential probe and reads #GP/#TS/
 *    #NP/#SS error codes from it. The "exception in flight" offset (needed by
 *    scenario 3) falls out of the same three snapshots.
 */
static long g_err_off = -1, g_oldexc_off = -1;

static void s2_error_code(void)
{
    Vm v;
    vm_open(&v, M_CPU, NULL, NULL);
    Asm a = { KCODE };
    uint32_t gp = a.pc;
    EMIT(&a, 0x66, 0xb8, LE16(0x98), 0x8e, 0xd8, 0xf4);         /* mov ds, 0x98: #GP(0x98) */
    uint32_t pf = a.pc;
    EMIT(&a, 0xc7, 0x05, LE32(RO_PAGE), LE32(1), 0xf4);          /* write RO page, WP=1: #PF(P|W) */
    size_t sz = uc_context_size(v.uc);
    uc_context *c[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(uc_context_alloc(v.uc, &c[i]), UC_ERR_OK);
    CHECK_EQ(uc_context_save(v.uc, c[0]), UC_ERR_OK);
    CHECK_EQ(run(&v, gp), UC_ERR_OK);
    CHECK_EQ(uc_context_save(v.uc, c[1]), UC_ERR_OK);
    CHECK_EQ(run(&v, pf), UC_ERR_OK);
    CHECK_EQ(uc_context_save(v.uc, c[2]), UC_ERR_OK);
    CHECK_EQ(v.nintr, 2);
    CHECK_EQ(v.intno[0], 13);
    CHECK_EQ(v.intno[1], 14);       /* #GP then #PF is not a double fault */
    CHECK_EQ(rd(&v, UC_X86_REG_CR2), RO_PAGE);  /* CPU-TLB mode sets CR2 itself */
    int nerr = 0, nold = 0;
    for (size_t o = 0; o + 4 <= sz; o += 4) {
        int32_t x0, x1, x2;
        memcpy(&x0, (uint8_t *)c[0] + o, 4);
        memcpy(&x1, (uint8_t *)c[1] + o, 4);
        memcpy(&x2, (uint8_t *)c[2] + o, 4);
        if (x1 == 0x98 && x2 == 3 && nerr++ == 0)
            g_err_off = (long)o;
        if (x0 == -1 && x1 == 13 && x2 == 14 && nold++ == 0)
            g_oldexc_off = (long)o;
    }
    /* exactly one candidate each, or the probe is ambiguous */
    CHECK_EQ(nerr, 1);
    CHECK_EQ(nold, 1);
    for (int i = 0; i < 3; i++)
        uc_context_free(c[i]);
    vm_close(&v);

    /* a third, different #GP: mov ss with an RPL-3 selector at CPL0 -> #GP(0x20) */
    vm_open(&v, M_CPU, NULL, NULL);
    a.pc = KCODE;
    EMIT(&a, 0x66, 0xb8, LE16(SEL_UDATA), 0x8e, 0xd0, 0xf4);
    CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
    CHECK_EQ(v.nintr, 1);
    CHECK_EQ(v.intno[0], 13);
    uint32_t err = 0xffffffffu, old = 0;
    if (g_err_off >= 0 && g_oldexc_off >= 0) {
        uc_context *cx;
        CHECK_EQ(uc_context_alloc(v.uc, &cx), UC_ERR_OK);
        CHECK_EQ(uc_context_save(v.uc, cx), UC_ERR_OK);
        memcpy(&err, (uint8_t *)cx + g_err_off, 4);
        memcpy(&old, (uint8_t *)cx + g_oldexc_off, 4);
        uc_context_free(cx);
    }
    CHECK_EQ(err, SEL_UDATA & ~3u);
    CHECK_EQ(old, 13);
    printf("[2] error code in uc_context (size %zu): offset %ld (%d candidate), old_exception offset %ld; "
           "#GP(0x20) reads %#x\n", sz, g_err_off, nerr, g_oldexc_off, err);
    vm_close(&v);
}

/* ---------------------------------------------------------------------------
 * 3. "Exception in flight" is never cleared when the hook takes an exception,
 *    so the next unrelated contributory fault turns into #DF. lbvm resets it to
 *    -1 after every exception through context save / patch / restore.
 */
static void s3_exception_in_flight(void)
{
    printf("[3] exception in flight:");
    for (int m = 0; m < M_NMODES; m++) {
        for (int fix = 0; fix < 2; fix++) {
            Vm v;
            vm_open(&v, m, NULL, NULL);
            Asm a = { KCODE };
            EMIT(&a, 0x66, 0xb8, LE16(0x98));
            uint32_t f1 = a.pc;
            EMIT(&a, 0x8e, 0xd8);                   /* #GP(0x98) */
            uint32_t second = a.pc;
            EMIT(&a, 0x66, 0xb8, LE16(SEL_UDATA));
            uint32_t f2 = a.pc;
            EMIT(&a, 0x8e, 0xd0, 0xf4);             /* #GP(0x20) */
            CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
            CHECK_EQ(v.intno[0], 13);
            CHECK_EQ(v.intr_eip[0], f1);
            uc_context *cx;
            CHECK_EQ(uc_context_alloc(v.uc, &cx), UC_ERR_OK);
            if (fix && g_oldexc_off >= 0) {
                int32_t none = -1;
                CHECK_EQ(uc_context_save(v.uc, cx), UC_ERR_OK);
                memcpy((uint8_t *)cx + g_oldexc_off, &none, 4);
                CHECK_EQ(uc_context_restore(v.uc, cx), UC_ERR_OK);
            }
            /* the host "handled" the first fault; resume past it */
            CHECK_EQ(run(&v, second), UC_ERR_OK);
            CHECK_EQ(v.nintr, 2);
            CHECK_EQ(v.intr_eip[1], f2);
            uint32_t err = 0xffffffffu;
            CHECK_EQ(uc_context_save(v.uc, cx), UC_ERR_OK);
            if (g_err_off >= 0)
                memcpy(&err, (uint8_t *)cx + g_err_off, 4);
            uc_context_free(cx);
            if (!fix) {
                CHECK_EQ(v.intno[1], 8);            /* the bug: #DF, error code 0 */
                CHECK_EQ(err, 0);
            } else {
                CHECK_EQ(v.intno[1], 13);           /* the workaround */
                CHECK_EQ(err, 0x20);
            }
            printf(" %s %s: 2nd #GP arrives as %u err %#x;", mode_name[m], fix ? "reset" : "as is",
                   v.intno[1], err);
            vm_close(&v);
        }
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 4. From CPL3 the host cannot load a DPL-0 CS (CPL is SS.DPL inside the
 *    library). lbvm's ring 3 -> 0 delivery: CR0.PE=0, SS=0 (a real-mode load
 *    sets CPL0), CR0.PE=1, then SS0:ESP0 and CS.
 */
static void s4_ring3_to_0(void)
{
    printf("[4] ring 3 -> 0:");
    for (int m = 0; m < M_NMODES; m++) {
        Vm v;
        vm_open(&v, m, NULL, NULL);
        Asm a = { KCODE };
        emit_iret_to_ring3(&a, UCODE);
        a.pc = UCODE;
        EMIT(&a, 0xcd, 0x80);                       /* int 0x80 from ring 3 */
        a.pc = PCODE;
        EMIT(&a, 0x0f, 0x20, 0xc0);                 /* mov eax, cr0 (CPL0 only) */
        EMIT(&a, 0xfa);                             /* cli (IOPL 0: CPL0 only) */
        uint32_t hlt = a.pc;
        EMIT(&a, 0xf4);                             /* hlt (CPL0 only) */
        CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
        CHECK_EQ(v.nintr, 1);
        CHECK_EQ(v.intno[0], 0x80);
        CHECK_EQ(v.intr_cs[0], SEL_UCODE);
        CHECK_EQ(rd(&v, UC_X86_REG_SS), SEL_UDATA);

        /* the direct way is refused and leaves CPL 3 */
        uc_err ecs = wr(&v, UC_X86_REG_CS, SEL_KCODE);
        CHECK(ecs != UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_CS) & 3, 3);
        CHECK_EQ(run(&v, PCODE), UC_ERR_OK);
        CHECK_EQ(v.nintr, 2);
        CHECK_EQ(v.intno[1], 13);                   /* mov from cr0 at CPL3 */
        CHECK_EQ(v.intr_eip[1], PCODE);
        uint32_t cs_after_refusal = rd(&v, UC_X86_REG_CS);
        vm_close(&v);

        /* the trick (fresh engine, same way into ring 3) */
        vm_open(&v, m, NULL, NULL);
        a.pc = KCODE;
        emit_iret_to_ring3(&a, UCODE);
        a.pc = UCODE;
        EMIT(&a, 0xcd, 0x80);
        a.pc = PCODE;
        EMIT(&a, 0x0f, 0x20, 0xc0, 0xfa, 0xf4);
        CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
        CHECK_EQ(v.intr_cs[0], SEL_UCODE);
        uint32_t cr0 = rd(&v, UC_X86_REG_CR0);
        CHECK_EQ(wr(&v, UC_X86_REG_CR0, cr0 & ~CR0_PE), UC_ERR_OK);
        CHECK_EQ(wr(&v, UC_X86_REG_SS, 0), UC_ERR_OK);
        CHECK_EQ(wr(&v, UC_X86_REG_CR0, cr0), UC_ERR_OK);
        CHECK_EQ(wr(&v, UC_X86_REG_SS, SEL_KDATA), UC_ERR_OK);
        CHECK_EQ(wr(&v, UC_X86_REG_ESP, KSTACK), UC_ERR_OK);
        CHECK_EQ(wr(&v, UC_X86_REG_CS, SEL_KCODE), UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_CS) & 3, 0);
        CHECK_EQ(rd(&v, UC_X86_REG_SS), SEL_KDATA);
        CHECK_EQ(rd(&v, UC_X86_REG_CR0), cr0);
        CHECK_EQ(run(&v, PCODE), UC_ERR_OK);
        CHECK_EQ(v.nintr, 1);                       /* no #GP: CPL is 0 */
        CHECK_EQ(rd(&v, UC_X86_REG_EAX), cr0);
        CHECK_EQ(rd(&v, UC_X86_REG_EIP), hlt + 1);
        printf(" %s direct CS write -> %s (CS %#x, priv insn -> #GP), trick -> CS %#x runs mov cr0/cli/hlt;",
               mode_name[m], uc_strerror(ecs), cs_after_refusal, rd(&v, UC_X86_REG_CS));
        vm_close(&v);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 5. Invalid opcodes bypass the INTR hook: without UC_HOOK_INSN_INVALID,
 *    uc_emu_start fails; with it (stop + return true), lbvm sees EIP on the
 *    opcode and delivers #UD (vector 6) through the IDT itself.
 */
static int s5_calls;
static uint32_t s5_eip;
static bool s5_on_invalid(uc_engine *uc, void *ud)
{
    Vm *v = ud;
    s5_calls++;
    s5_eip = rd(v, UC_X86_REG_EIP);
    uc_emu_stop(uc);
    return true;
}

static void s5_ud2(void)
{
    printf("[5] ud2:");
    for (int m = 0; m < M_NMODES; m++) {
        Vm v;
        vm_open(&v, m, NULL, NULL);
        Asm a = { KCODE };
        EMIT(&a, 0x90);
        uint32_t ud = a.pc;
        EMIT(&a, 0x0f, 0x0b, 0xf4);
        uc_err e = run(&v, KCODE);
        CHECK_EQ(e, UC_ERR_INSN_INVALID);
        CHECK_EQ(v.nintr, 0);                       /* never reaches the INTR hook as 6 */
        uint32_t eip_nohook = rd(&v, UC_X86_REG_EIP);
        CHECK_EQ(eip_nohook, ud);                   /* "stop, deliver #UD, restart" also works */
        vm_close(&v);

        vm_open(&v, m, NULL, NULL);
        a.pc = KCODE;
        EMIT(&a, 0x90, 0x0f, 0x0b, 0xf4);
        uc_hook h;
        CHECK_EQ(uc_hook_add(v.uc, &h, UC_HOOK_INSN_INVALID, (void *)s5_on_invalid, &v, 1, 0), UC_ERR_OK);
        s5_calls = 0;
        s5_eip = 0;
        e = run(&v, KCODE);
        CHECK_EQ(e, UC_ERR_OK);
        CHECK_EQ(s5_calls, 1);
        CHECK_EQ(s5_eip, ud);
        CHECK_EQ(rd(&v, UC_X86_REG_EIP), ud);
        CHECK_EQ(v.nintr, 0);
        printf(" %s no hook -> %s (EIP %#x, ud2 at %#x), hook -> called once, EIP %#x;", mode_name[m],
               uc_strerror(UC_ERR_INSN_INVALID), eip_nohook, ud, s5_eip);
        vm_close(&v);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 6. Virtual-TLB mode: lbvm walks the guest page tables in the fill hook. A
 *    refused fill raises no guest #PF: lbvm writes CR2 (page address only, all
 *    the hook sees) and delivers #PF itself; uc_mem_read stays physical.
 */
static struct {
    int n, unaligned, deny, saw_read_300;
    uint32_t last_va;
    int last_type;
} s6;

static bool s6_fill(uc_engine *uc, uint64_t vaddr, uc_mem_type type, uc_tlb_entry *e, void *ud)
{
    (void)uc, (void)ud;
    s6.n++;
    s6.unaligned += (vaddr & 0xfff) != 0;
    s6.last_va = (uint32_t)vaddr;
    s6.last_type = type;
    if (vaddr == 0x300000 && type == UC_MEM_READ)
        s6.saw_read_300 = 1;
    if (vaddr == 0x200000 && s6.deny)
        return false;                   /* "not present" */
    e->paddr = vaddr == 0x300000 ? 0x100000 : vaddr;
    e->perms = UC_PROT_ALL;
    return true;
}

static void s6_vtlb_fault(void)
{
    Vm v;
    memset(&s6, 0, sizeof s6);
    s6.deny = 1;
    vm_open(&v, M_VTLB, s6_fill, NULL);
    put32(0x100120, 0x11111111);
    put32(0x300120, 0x33333333);
    put32(0x200564, 0x22222222);
    Asm a = { KCODE };
    EMIT(&a, 0xa1, LE32(0x300120));                 /* mov eax, [0x300120] (VA -> PA 0x100120) */
    uint32_t fault = a.pc;
    EMIT(&a, 0x8b, 0x1d, LE32(0x200564));           /* mov ebx, [0x200564]: fill refused */
    uint32_t hlt = a.pc;
    EMIT(&a, 0xf4);
    uint32_t cr3 = rd(&v, UC_X86_REG_CR3);
    CHECK_EQ(cr3, PD_BASE);
    uc_err e0 = run(&v, KCODE), e;
    CHECK_EQ(e0, UC_ERR_EXCEPTION);
    CHECK_EQ(rd(&v, UC_X86_REG_EIP), fault);        /* restartable */
    CHECK_EQ(rd(&v, UC_X86_REG_EAX), 0x11111111);   /* the fill's paddr was used */
    CHECK(s6.saw_read_300);                         /* page address only, never 0x300120 */
    CHECK_EQ(s6.unaligned, 0);
    CHECK_EQ(s6.last_va, 0x200000);
    CHECK_EQ(s6.last_type, UC_MEM_READ);
    CHECK_EQ(v.nintr, 0);                           /* no guest #PF through the hook */
    uint32_t cr2 = rd(&v, UC_X86_REG_CR2);
    CHECK_EQ(cr2, 0);                               /* CR2 untouched: lbvm writes it */
    /* lbvm writes CR2; on 2.1.1 this also overwrote CR3 */
    CHECK_EQ(wr(&v, UC_X86_REG_CR2, 0x200000), UC_ERR_OK);
    CHECK_EQ(rd(&v, UC_X86_REG_CR2), 0x200000);
    CHECK_EQ(rd(&v, UC_X86_REG_CR3), cr3);
    /* host memory access is physical in this mode: lbvm's device/DMA path */
    uint32_t x = 0;
    CHECK_EQ(uc_mem_read(v.uc, 0x300120, &x, 4), UC_ERR_OK);
    CHECK_EQ(x, 0x33333333);
    /* once the page is "mapped", the same instruction restarts cleanly */
    s6.deny = 0;
    e = run(&v, fault);
    CHECK_EQ(e, UC_ERR_OK);
    CHECK_EQ(rd(&v, UC_X86_REG_EBX), 0x22222222);
    CHECK_EQ(rd(&v, UC_X86_REG_EIP), hlt + 1);
    printf("[6] vTLB: %d fills, all page-aligned; refused fill -> %s at EIP %#x, no INTR, CR2 %#x kept; "
           "CR2 write keeps CR3 %#x; uc_mem_read physical\n",
           s6.n, uc_strerror(e0), fault, cr2, rd(&v, UC_X86_REG_CR3));
    vm_close(&v);
}

/* ---------------------------------------------------------------------------
 * 7. vTLB stale code: with execute granted only on fetch fills, a data entry
 *    on a code page turns dirty after its first store and later stores skip
 *    the self-modifying-code check. lbvm's "code map" also grants execute on
 *    read/write fills of pages ever fetched from, which keeps them checked.
 */
#define S7_TB1  0x20000u
#define S7_TB2  0x20100u
#define S7_ST   0x21000u
static struct { int codemap; uint8_t fetched[RAM_SIZE >> 12]; } s7;

static bool s7_fill(uc_engine *uc, uint64_t vaddr, uc_mem_type type, uc_tlb_entry *e, void *ud)
{
    (void)uc, (void)ud;
    uint32_t pn = (uint32_t)(vaddr >> 12) & ((RAM_SIZE >> 12) - 1);
    e->paddr = vaddr;
    e->perms = UC_PROT_READ | (type == UC_MEM_FETCH ? UC_PROT_EXEC : UC_PROT_WRITE);
    if (type == UC_MEM_FETCH)
        s7.fetched[pn] = 1;
    if (s7.codemap && s7.fetched[pn])
        e->perms |= UC_PROT_EXEC;
    return true;
}

static void s7_stale_code(void)
{
    static const char *const names[3] = { "cpu-tlb", "vtlb X-on-fetch", "vtlb code map" };
    uint32_t r[3][2] = { { 0 } };
    printf("[7] SMC, two TBs on a page, two stores:");
    for (int k = 0; k < 3; k++) {
        Vm v;
        memset(&s7, 0, sizeof s7);
        s7.codemap = k == 2;
        vm_open(&v, k ? M_VTLB : M_CPU, k ? s7_fill : NULL, NULL);
        Asm a = { S7_TB1 };
        EMIT(&a, 0xb8, LE32(1), 0xf4);              /* mov eax, 1; hlt */
        a.pc = S7_TB2;
        EMIT(&a, 0xb8, LE32(1), 0xf4);
        a.pc = S7_ST;
        EMIT(&a, 0xc6, 0x05, LE32(S7_TB1 + 1), 2);  /* mov byte [TB1 imm], 2 */
        EMIT(&a, 0xc6, 0x05, LE32(S7_TB2 + 1), 2);  /* mov byte [TB2 imm], 2 */
        EMIT(&a, 0xf4);
        CHECK_EQ(run(&v, S7_TB1), UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_EAX), 1);
        CHECK_EQ(run(&v, S7_TB2), UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_EAX), 1);
        CHECK_EQ(run(&v, S7_ST), UC_ERR_OK);
        CHECK_EQ(ram[S7_TB1 + 1], 2);
        CHECK_EQ(ram[S7_TB2 + 1], 2);
        CHECK_EQ(run(&v, S7_TB1), UC_ERR_OK);
        r[k][0] = rd(&v, UC_X86_REG_EAX);
        CHECK_EQ(run(&v, S7_TB2), UC_ERR_OK);
        r[k][1] = rd(&v, UC_X86_REG_EAX);
        printf(" %s %u %u;", names[k], r[k][0], r[k][1]);
        vm_close(&v);
    }
    printf(" (2 2 = fresh)\n");
    CHECK_EQ(r[0][0], 2);                           /* control: CPU TLB is coherent */
    CHECK_EQ(r[0][1], 2);
    /* the bug lbvm works around: exactly one of the two blocks runs stale code */
    CHECK_EQ(r[1][0] + r[1][1], 3);
    CHECK_EQ(r[2][0], 2);                           /* code map: coherent */
    CHECK_EQ(r[2][1], 2);
}

/* ---------------------------------------------------------------------------
 * 8. Host writes into the RAM buffer (device DMA) do not invalidate translated
 *    code; uc_ctl_remove_cache does. Its address is translated as a *virtual*
 *    address by the current mapping (first page only; the rest of the range is
 *    taken as physically contiguous), so lbvm must make that translation
 *    identity for the call: in vTLB mode a fill hook answering identity while
 *    the TLB is flushed before and after the call.
 */
#define S8_CODE  0x13000u
#define S8_PA    0x100000u       /* code page reached only through S8_VA */
#define S8_VA    0x300000u
#define S8_OTHER 0x140000u       /* where VA S8_PA points instead */
#define S8_PA2   0x101000u       /* a second code page, identity mapped */

static void s8_host_writes(void)
{
    printf("[8] host writes to code:");
    for (int m = 0; m < M_NMODES; m++) {
        Vm v;
        vm_open(&v, m, NULL, NULL);
        Asm a = { S8_CODE };
        EMIT(&a, 0xb8, LE32(0x11), 0xf4);           /* mov eax, 0x11; hlt */
        CHECK_EQ(run(&v, S8_CODE), UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_EAX), 0x11);
        put32(S8_CODE + 1, 0x22);                   /* "DMA" into the code */
        CHECK_EQ(run(&v, S8_CODE), UC_ERR_OK);
        uint32_t stale = rd(&v, UC_X86_REG_EAX);
        CHECK_EQ(stale, 0x11);                      /* old translation still runs */
        CHECK_EQ(uc_ctl_remove_cache(v.uc, S8_CODE, S8_CODE + 6), UC_ERR_OK);
        CHECK_EQ(run(&v, S8_CODE), UC_ERR_OK);
        uint32_t fresh = rd(&v, UC_X86_REG_EAX);
        CHECK_EQ(fresh, 0x22);

        /* which address does remove_cache take? code at PA S8_PA runs at VA S8_VA,
         * VA S8_PA maps to S8_OTHER */
        a.pc = S8_PA;
        EMIT(&a, 0xb8, LE32(0x11), 0xf4);
        vm_alias(&v, S8_VA, S8_PA);
        vm_alias(&v, S8_PA, S8_OTHER);
        CHECK_EQ(run(&v, S8_VA), UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_EAX), 0x11);
        put32(S8_PA + 1, 0x22);
        CHECK_EQ(uc_ctl_remove_cache(v.uc, S8_PA, S8_PA + 6), UC_ERR_OK);  /* physical address */
        CHECK_EQ(run(&v, S8_VA), UC_ERR_OK);
        uint32_t by_pa = rd(&v, UC_X86_REG_EAX);
        CHECK_EQ(by_pa, 0x11);                      /* still stale: it was taken as a VA */
        CHECK_EQ(uc_ctl_remove_cache(v.uc, S8_VA, S8_VA + 6), UC_ERR_OK);  /* virtual address */
        CHECK_EQ(run(&v, S8_VA), UC_ERR_OK);
        uint32_t by_va = rd(&v, UC_X86_REG_EAX);
        CHECK_EQ(by_va, 0x22);
        printf(" %s stale %#x, after remove_cache %#x, by PA %#x, by VA %#x;", mode_name[m], stale, fresh,
               by_pa, by_va);

        if (m == M_VTLB) {
            /* lbvm's physical invalidation: flush TLB, identity fills, one call over
             * a two-page range, flush TLB again */
            a.pc = S8_PA2;
            EMIT(&a, 0xb8, LE32(0x11), 0xf4);
            CHECK_EQ(run(&v, S8_PA2), UC_ERR_OK);
            CHECK_EQ(rd(&v, UC_X86_REG_EAX), 0x11);
            put32(S8_PA + 1, 0x33);
            put32(S8_PA2 + 1, 0x33);
            CHECK_EQ(uc_ctl_flush_tlb(v.uc), UC_ERR_OK);
            v.phys_probe = 1;
            v.nfill = 0;
            CHECK_EQ(uc_ctl_remove_cache(v.uc, S8_PA, S8_PA2 + 6), UC_ERR_OK);
            v.phys_probe = 0;
            CHECK_EQ(v.nfill, 1);                   /* one fill, the first page, as a fetch */
            CHECK_EQ(v.last_fill_va, S8_PA);
            CHECK_EQ(v.last_fill_type, UC_MEM_FETCH);
            CHECK_EQ(uc_ctl_flush_tlb(v.uc), UC_ERR_OK);
            CHECK_EQ(run(&v, S8_VA), UC_ERR_OK);
            uint32_t p1 = rd(&v, UC_X86_REG_EAX);
            CHECK_EQ(p1, 0x33);
            CHECK_EQ(run(&v, S8_PA2), UC_ERR_OK);
            uint32_t p2 = rd(&v, UC_X86_REG_EAX);
            CHECK_EQ(p2, 0x33);
            printf(" identity fill, one call over 2 pages: %#x %#x;", p1, p2);
        }
        vm_close(&v);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 9. uc_emu_stop from a block hook stops before that block: lbvm's instruction
 *    counter takes that block's count back, since it is hooked again on restart.
 */
static struct { uint32_t target; int calls; } s9;
static void s9_on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
    (void)size, (void)ud;
    if (addr == s9.target && s9.calls++ == 0)
        uc_emu_stop(uc);
}

static void s9_block_stop(void)
{
    printf("[9] stop in block hook:");
    for (int m = 0; m < M_NMODES; m++) {
        Vm v;
        vm_open(&v, m, NULL, NULL);
        Asm a = { KCODE };
        uint32_t y = KCODE + 0x100;
        EMIT(&a, 0xb8, LE32(1));                    /* mov eax, 1 */
        EMIT(&a, 0xe9, LE32(y - (a.pc + 5)));       /* jmp y */
        a.pc = y;
        EMIT(&a, 0xff, 0x05, LE32(DATA));           /* inc dword [DATA] */
        EMIT(&a, 0x83, 0xc3, 0x01);                 /* add ebx, 1 */
        uint32_t hlt = a.pc;
        EMIT(&a, 0xf4);
        memset(&s9, 0, sizeof s9);
        s9.target = y;
        uc_hook h;
        CHECK_EQ(uc_hook_add(v.uc, &h, UC_HOOK_BLOCK, (void *)s9_on_block, NULL, 1, 0), UC_ERR_OK);
        CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_EAX), 1);        /* the first block ran */
        CHECK_EQ(rd(&v, UC_X86_REG_EIP), y);        /* stopped before block y ... */
        CHECK_EQ(get32(DATA), 0);                   /* ... none of its effects */
        CHECK_EQ(rd(&v, UC_X86_REG_EBX), 0);
        CHECK_EQ(s9.calls, 1);
        CHECK_EQ(run(&v, y), UC_ERR_OK);
        CHECK_EQ(s9.calls, 2);                      /* same block hooked again */
        CHECK_EQ(get32(DATA), 1);                   /* effects exactly once */
        CHECK_EQ(rd(&v, UC_X86_REG_EBX), 1);
        CHECK_EQ(rd(&v, UC_X86_REG_EIP), hlt + 1);
        printf(" %s stopped at %#x, hooked %d times, ran once;", mode_name[m], y, s9.calls);
        vm_close(&v);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 10. The RDTSC hook is lbvm's only guest time source at every CPL (the
 *     kernel runs rdtsc unconditionally); without it the host TSC leaks in.
 */
#define S10_TSC 0x1234567800000000ull
static struct { int calls; uint32_t cs[4]; Vm *v; } s10;
static int s10_on_rdtsc(uc_engine *uc, void *ud)
{
    (void)uc, (void)ud;
    uint64_t t = S10_TSC + (uint64_t)++s10.calls;
    if (s10.calls <= 4)
        s10.cs[s10.calls - 1] = rd(s10.v, UC_X86_REG_CS);
    wr(s10.v, UC_X86_REG_EAX, (uint32_t)t);
    wr(s10.v, UC_X86_REG_EDX, (uint32_t)(t >> 32));
    return 1;                                       /* skip the library's rdtsc */
}

static void s10_rdtsc(void)
{
    printf("[10] rdtsc hook:");
    for (int m = 0; m < M_NMODES; m++) {
        Vm v;
        vm_open(&v, m, NULL, NULL);
        memset(&s10, 0, sizeof s10);
        s10.v = &v;
        uc_hook h;
        CHECK_EQ(uc_hook_add(v.uc, &h, UC_HOOK_INSN, (void *)s10_on_rdtsc, NULL, 1, 0, UC_X86_INS_RDTSC),
                 UC_ERR_OK);
        Asm a = { KCODE };
        EMIT(&a, 0x0f, 0x31);                       /* rdtsc at CPL0 */
        EMIT(&a, 0xa3, LE32(DATA));                 /* mov [DATA], eax */
        EMIT(&a, 0x89, 0x15, LE32(DATA + 4));       /* mov [DATA+4], edx */
        emit_iret_to_ring3(&a, UCODE);
        a.pc = UCODE;
        EMIT(&a, 0x0f, 0x31);                       /* rdtsc at CPL3 */
        EMIT(&a, 0xa3, LE32(DATA + 8));
        EMIT(&a, 0x89, 0x15, LE32(DATA + 12));
        EMIT(&a, 0xcd, 0x80);
        CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
        CHECK_EQ(v.nintr, 1);
        CHECK_EQ(v.intno[0], 0x80);                 /* reached the end in ring 3 */
        CHECK_EQ(s10.calls, 2);
        CHECK_EQ(s10.cs[0], SEL_KCODE);
        CHECK_EQ(s10.cs[1], SEL_UCODE);
        CHECK_EQ(get32(DATA), (uint32_t)(S10_TSC + 1));
        CHECK_EQ(get32(DATA + 4), (uint32_t)(S10_TSC >> 32));
        CHECK_EQ(get32(DATA + 8), (uint32_t)(S10_TSC + 2));
        CHECK_EQ(get32(DATA + 12), (uint32_t)(S10_TSC >> 32));
        printf(" %s %d calls (CS %#x, %#x), guest saw %#x%08x / %#x%08x;", mode_name[m], s10.calls, s10.cs[0],
               s10.cs[1], get32(DATA + 4), get32(DATA), get32(DATA + 12), get32(DATA + 8));
        vm_close(&v);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 11. hlt ends uc_emu_start cleanly with EIP past it: lbvm's idle point, where
 *     the virtual clock jumps to the next timer deadline.
 */
static void s11_hlt(void)
{
    printf("[11] hlt:");
    for (int m = 0; m < M_NMODES; m++) {
        Vm v;
        vm_open(&v, m, NULL, NULL);
        Asm a = { KCODE };
        EMIT(&a, 0x90);
        uint32_t hlt = a.pc;
        EMIT(&a, 0xf4, 0xb8, LE32(7), 0xf4);        /* hlt; mov eax, 7; hlt */
        uc_err e = run(&v, KCODE);
        CHECK_EQ(e, UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_EIP), hlt + 1);
        CHECK_EQ(v.nintr, 0);
        CHECK_EQ(rd(&v, UC_X86_REG_EAX), 0);
        /* resuming at EIP continues after the hlt */
        CHECK_EQ(run(&v, rd(&v, UC_X86_REG_EIP)), UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_EAX), 7);
        printf(" %s %s, EIP %#x (hlt at %#x);", mode_name[m], uc_strerror(e), hlt + 1, hlt);
        vm_close(&v);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 12. CPUID override (lbvm hides APIC, SEP, ...) and port I/O hooks (every
 *     ioport device): port, size and value for imm8 and dx forms; rep outsb
 *     calls the OUT hook once per byte.
 */
typedef struct { uint32_t port; int size; uint32_t val; } IoRec;
static struct { Vm *v; int ncpuid, nin, nout; uint32_t leaf[4]; IoRec in[16], out[16]; } s12;

static int s12_on_cpuid(uc_engine *uc, void *ud)
{
    (void)uc, (void)ud;
    uint32_t leaf = rd(s12.v, UC_X86_REG_EAX);
    if (s12.ncpuid < 4)
        s12.leaf[s12.ncpuid] = leaf;
    s12.ncpuid++;
    if (leaf != 1)
        return 0;                                   /* library answers */
    wr(s12.v, UC_X86_REG_EAX, 0x00000633);
    wr(s12.v, UC_X86_REG_EBX, 0x00010800);
    wr(s12.v, UC_X86_REG_ECX, 0);
    wr(s12.v, UC_X86_REG_EDX, 0x0000811d);
    return 1;
}

static uint32_t s12_in_val(uint32_t port) { return 0xa5c30000u | port << 4 | 0x9; }

static uint32_t s12_on_in(uc_engine *uc, uint32_t port, int size, void *ud)
{
    (void)uc, (void)ud;
    if (s12.nin < 16)
        s12.in[s12.nin] = (IoRec){ port, size, s12_in_val(port) };
    s12.nin++;
    return s12_in_val(port);
}

static void s12_on_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *ud)
{
    (void)uc, (void)ud;
    if (s12.nout < 16)
        s12.out[s12.nout] = (IoRec){ port, size, value };
    s12.nout++;
}

static void s12_cpuid_io(void)
{
    printf("[12] cpuid/in/out hooks:");
    for (int m = 0; m < M_NMODES; m++) {
        Vm v;
        vm_open(&v, m, NULL, NULL);
        memset(&s12, 0, sizeof s12);
        s12.v = &v;
        uc_hook h;
        CHECK_EQ(uc_hook_add(v.uc, &h, UC_HOOK_INSN, (void *)s12_on_cpuid, NULL, 1, 0, UC_X86_INS_CPUID),
                 UC_ERR_OK);
        CHECK_EQ(uc_hook_add(v.uc, &h, UC_HOOK_INSN, (void *)s12_on_in, NULL, 1, 0, UC_X86_INS_IN), UC_ERR_OK);
        CHECK_EQ(uc_hook_add(v.uc, &h, UC_HOOK_INSN, (void *)s12_on_out, NULL, 1, 0, UC_X86_INS_OUT), UC_ERR_OK);
        Asm a = { KCODE };
        EMIT(&a, 0xb8, LE32(1), 0x0f, 0xa2);        /* cpuid leaf 1 (overridden) */
        EMIT(&a, 0xa3, LE32(DATA));
        EMIT(&a, 0x89, 0x1d, LE32(DATA + 4));
        EMIT(&a, 0x89, 0x0d, LE32(DATA + 8));
        EMIT(&a, 0x89, 0x15, LE32(DATA + 12));
        EMIT(&a, 0xb8, LE32(0), 0x0f, 0xa2);        /* cpuid leaf 0 (library) */
        EMIT(&a, 0x89, 0x1d, LE32(DATA + 16));
        EMIT(&a, 0xb0, 0x12, 0xe6, 0x80);           /* out 0x80, al */
        EMIT(&a, 0x66, 0xb8, LE16(0x3456), 0x66, 0xe7, 0x82);   /* out 0x82, ax */
        EMIT(&a, 0xb8, LE32(0x789abcde), 0xe7, 0x84);           /* out 0x84, eax */
        EMIT(&a, 0x66, 0xba, LE16(0x3f8));                      /* mov dx, 0x3f8 */
        EMIT(&a, 0xb0, 0x41, 0xee);                             /* out dx, al */
        EMIT(&a, 0x66, 0xb8, LE16(0x4142), 0x66, 0xef);         /* out dx, ax */
        EMIT(&a, 0xb8, LE32(0x41424344), 0xef);                 /* out dx, eax */
        EMIT(&a, 0xe4, 0x60, 0xa2, LE32(DATA + 0x20));          /* in al, 0x60; store al */
        EMIT(&a, 0x66, 0xe5, 0x62, 0x66, 0xa3, LE32(DATA + 0x22)); /* in ax, 0x62; store ax */
        EMIT(&a, 0xe5, 0x64, 0xa3, LE32(DATA + 0x24));          /* in eax, 0x64; store eax */
        EMIT(&a, 0x66, 0xba, LE16(0x71));                       /* mov dx, 0x71 */
        EMIT(&a, 0xec, 0xa2, LE32(DATA + 0x28));                /* in al, dx */
        EMIT(&a, 0x66, 0xed, 0x66, 0xa3, LE32(DATA + 0x2a));    /* in ax, dx */
        EMIT(&a, 0xed, 0xa3, LE32(DATA + 0x2c));                /* in eax, dx */
        EMIT(&a, 0x66, 0xba, LE16(0x3f8));
        EMIT(&a, 0xbe, LE32(DATA + 0x40));                      /* mov esi, buf */
        EMIT(&a, 0xb9, LE32(5));                                /* mov ecx, 5 */
        EMIT(&a, 0xfc, 0xf3, 0x6e);                             /* cld; rep outsb */
        uint32_t hlt = a.pc;
        EMIT(&a, 0xf4);
        memcpy(ram + DATA + 0x40, "hello", 5);
        CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
        CHECK_EQ(rd(&v, UC_X86_REG_EIP), hlt + 1);
        CHECK_EQ(v.nintr, 0);

        CHECK_EQ(s12.ncpuid, 2);
        CHECK_EQ(s12.leaf[0], 1);
        CHECK_EQ(s12.leaf[1], 0);
        CHECK_EQ(get32(DATA), 0x633);
        CHECK_EQ(get32(DATA + 4), 0x10800);
        CHECK_EQ(get32(DATA + 8), 0);
        CHECK_EQ(get32(DATA + 12), 0x811d);
        uint32_t vend = get32(DATA + 16);           /* "Genu" or "Auth": the library's answer */
        CHECK(vend == 0x756e6547 || vend == 0x68747541);

        static const IoRec want_out[11] = {
            { 0x80, 1, 0x12 }, { 0x82, 2, 0x3456 }, { 0x84, 4, 0x789abcde },
            { 0x3f8, 1, 0x41 }, { 0x3f8, 2, 0x4142 }, { 0x3f8, 4, 0x41424344 },
            { 0x3f8, 1, 'h' }, { 0x3f8, 1, 'e' }, { 0x3f8, 1, 'l' }, { 0x3f8, 1, 'l' }, { 0x3f8, 1, 'o' },
        };
        CHECK_EQ(s12.nout, 11);
        for (int i = 0; i < 11 && i < s12.nout; i++) {
            CHECK_EQ(s12.out[i].port, want_out[i].port);
            CHECK_EQ(s12.out[i].size, want_out[i].size);
            CHECK_EQ(s12.out[i].val, want_out[i].val);
        }
        CHECK_EQ(rd(&v, UC_X86_REG_ECX), 0);
        CHECK_EQ(rd(&v, UC_X86_REG_ESI), DATA + 0x45);
        static const IoRec want_in[6] = {
            { 0x60, 1, 0 }, { 0x62, 2, 0 }, { 0x64, 4, 0 }, { 0x71, 1, 0 }, { 0x71, 2, 0 }, { 0x71, 4, 0 },
        };
        CHECK_EQ(s12.nin, 6);
        for (int i = 0; i < 6 && i < s12.nin; i++) {
            CHECK_EQ(s12.in[i].port, want_in[i].port);
            CHECK_EQ(s12.in[i].size, want_in[i].size);
        }
        /* the guest sees the hook's value, truncated to the access size */
        CHECK_EQ(ram[DATA + 0x20], (uint8_t)s12_in_val(0x60));
        CHECK_EQ(get32(DATA + 0x20) >> 16, (uint16_t)s12_in_val(0x62));
        CHECK_EQ(get32(DATA + 0x24), s12_in_val(0x64));
        CHECK_EQ(ram[DATA + 0x28], (uint8_t)s12_in_val(0x71));
        CHECK_EQ(get32(DATA + 0x28) >> 16, (uint16_t)s12_in_val(0x71));
        CHECK_EQ(get32(DATA + 0x2c), s12_in_val(0x71));
        printf(" %s cpuid calls %d (leaf1 edx %#x, leaf0 ebx %#x), %d OUT, %d IN;", mode_name[m], s12.ncpuid,
               get32(DATA + 12), vend, s12.nout, s12.nin);
        vm_close(&v);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 13. Version: 2.1.2+ for the RDTSC hook; the library must match the header
 *     these probes were built against.
 */
static void s13_version(void)
{
    unsigned maj = 0, min = 0;
    unsigned ver = uc_version(&maj, &min);
    CHECK_EQ(maj, 2);
    CHECK_EQ(min, 1);
    CHECK(ver >= (UC_MAKE_VERSION(2, 1) | 2 << 8));
    CHECK_EQ(ver >> 8, (unsigned)(UC_API_MAJOR << 16 | UC_API_MINOR << 8 | UC_API_PATCH));
    printf("[13] uc_version %u.%u.%u (%#x), header %d.%d.%d\n", maj, min, (ver >> 8) & 0xff, ver, UC_API_MAJOR,
           UC_API_MINOR, UC_API_PATCH);
}

/* ---------------------------------------------------------------------------
 * 14. Checkpoint restore (QUIRK(seg-cache) in cpu.c): (a) a selector write
 *     through the API reloads the descriptor cache from the GDT, so a cache
 *     the guest made stale (descriptor changed after the load) cannot be
 *     restored through the API alone: lbvm patches the cache in the context
 *     blob. (b) The interrupt shadow after sti is hidden state, bit 3 of the
 *     hflags word (next to the CPL bits), and it changes translation: the
 *     block after sti is one instruction long. A checkpoint must carry it,
 *     or a resumed run counts different block sizes than a straight one.
 */
static struct { int n; uint32_t addr[8], size[8]; int stop_at; } s14;
static long g_hflags_off = -1;      /* the vTLB engine's hflags word (found here, used by s16) */
static void s14_on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
    (void)ud;
    if (s14.n == s14.stop_at) {
        s14.stop_at = -1;
        uc_emu_stop(uc);
        return;
    }
    if (s14.n < 8) {
        s14.addr[s14.n] = (uint32_t)addr;
        s14.size[s14.n] = size;
    }
    s14.n++;
}

static void s14_checkpoint(void)
{
    printf("[14] checkpoint restore:");
    for (int m = 0; m < M_NMODES; m++) {
        Vm v;
        vm_open(&v, m, NULL, NULL);
        /* (a) */
        put32(DATA, 0x11111111);
        put32(DATA + 0x100000, 0x22222222);
        Asm a = { KCODE };
        EMIT(&a, 0xa1, LE32(DATA));                 /* mov eax, [DATA] */
        EMIT(&a, 0xf4);
        gdt_entry(2, 0x100000, 0xfffff, 0x92);      /* descriptor of DS now based at 1 MiB */
        CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
        uint32_t stale = rd(&v, UC_X86_REG_EAX);
        CHECK_EQ(stale, 0x11111111);                /* the cache still says base 0 */
        CHECK_EQ(wr(&v, UC_X86_REG_DS, SEL_KDATA), UC_ERR_OK);
        CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
        uint32_t reloaded = rd(&v, UC_X86_REG_EAX);
        CHECK_EQ(reloaded, 0x22222222);             /* the API write took the new base */
        vm_close(&v);

        /* (b) */
        vm_open(&v, m, NULL, NULL);
        a.pc = KCODE;
        EMIT(&a, 0xfb);                             /* sti */
        EMIT(&a, 0x90, 0x90, 0x90);                 /* nop x3 */
        EMIT(&a, 0xfa, 0xf4);                       /* cli; hlt */
        uc_hook h;
        memset(&s14, 0, sizeof s14);
        s14.stop_at = -1;
        CHECK_EQ(uc_hook_add(v.uc, &h, UC_HOOK_BLOCK, (void *)s14_on_block, NULL, 1, 0), UC_ERR_OK);
        CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
        CHECK_EQ(s14.n, 3);
        CHECK_EQ(s14.size[0], 1);                   /* sti ends its block */
        CHECK_EQ(s14.size[1], 1);                   /* the shadowed nop alone */
        CHECK_EQ(s14.size[2], 4);
        /* stop before the shadowed block, and once more before the last one */
        uc_context *in_shadow, *after;
        CHECK_EQ(uc_context_alloc(v.uc, &in_shadow), UC_ERR_OK);
        CHECK_EQ(uc_context_alloc(v.uc, &after), UC_ERR_OK);
        memset(&s14, 0, sizeof s14);
        s14.stop_at = 1;
        CHECK_EQ(wr(&v, UC_X86_REG_EFLAGS, 0x2), UC_ERR_OK);
        CHECK_EQ(run(&v, KCODE), UC_ERR_OK);
        uc_context_save(v.uc, in_shadow);
        s14.stop_at = 2;
        CHECK_EQ(run(&v, rd(&v, UC_X86_REG_EIP)), UC_ERR_OK);
        uc_context_save(v.uc, after);
        long off = -1;
        int n = 0;
        for (size_t o = 0; o + 4 <= uc_context_size(v.uc); o += 4) {
            uint32_t x, y;
            memcpy(&x, (uint8_t *)in_shadow + o, 4);
            memcpy(&y, (uint8_t *)after + o, 4);
            if ((x ^ y) == 0x8 && (x & 0x8) && (x & 3) == 0 && x != 0x8) {
                off = (long)o;
                n++;
            }
        }
        CHECK_EQ(n, 1);                             /* one word: hflags, bit 3 */
        if (m == M_VTLB && n == 1)
            g_hflags_off = off;
        /* without the bit the same code translates into other blocks */
        if (off >= 0) {
            uint32_t x;
            memcpy(&x, (uint8_t *)in_shadow + off, 4);
            x &= ~0x8u;
            memcpy((uint8_t *)in_shadow + off, &x, 4);
            uc_context_restore(v.uc, in_shadow);
            memset(&s14, 0, sizeof s14);
            s14.stop_at = -1;
            CHECK_EQ(run(&v, KCODE + 1), UC_ERR_OK);
            CHECK_EQ(s14.n, 1);
            CHECK_EQ(s14.size[0], 5);               /* nop x3; cli; hlt in one block */
        }
        printf(" %s stale DS %#x / after API write %#x, shadow bit at +%ld, blocks 1,1,4 vs 5;", mode_name[m],
               stale, reloaded, off);
        uc_context_free(in_shadow);
        uc_context_free(after);
        vm_close(&v);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------
 * 15. QUIRK(tlb-host-time): a TLB flush reads the host time through
 *     gettimeofday (QEMU's TLB resizing); lbvm's definition in emu/cpu.c is the
 *     one libunicorn reaches, and it answers libunicorn with a fixed time. If
 *     Unicorn stops calling it (or calls something else), the counter stays put
 *     and host time may be reaching the TLB again another way. cpu_init's
 *     start-up check rests on this flush's call (test_host_facts).
 */
extern unsigned long cpu_uc_time_calls;

static void s15_tlb_host_time(void)
{
    uc_engine *uc = NULL;
    unsigned long before = cpu_uc_time_calls;
    CHECK_EQ(uc_open(UC_ARCH_X86, UC_MODE_32, &uc), UC_ERR_OK);
    if (!uc)
        return;
    CHECK_EQ(uc_ctl_tlb_mode(uc, UC_TLB_VIRTUAL), UC_ERR_OK);
    unsigned long opened = cpu_uc_time_calls;
    CHECK_EQ(uc_ctl_flush_tlb(uc), UC_ERR_OK);
    unsigned long flushed = cpu_uc_time_calls;
    CHECK(flushed > opened);
    struct timeval tv;
    CHECK_EQ(gettimeofday(&tv, NULL), 0);       /* from here: the real time */
    CHECK(tv.tv_sec > 1500000000);
    CHECK_EQ(cpu_uc_time_calls, flushed);
    printf("[15] tlb-host-time: uc_open made %lu gettimeofday calls from libunicorn, a flush %lu\n",
           opened - before, flushed - opened);
    uc_close(uc);
}

/* ---------------------------------------------------------------------------
 * 16. QUIRK(tlb-canonical): (a) a TLB flush resizes only the MMU indexes
 *     filled since the last flush (QEMU's tlb c.dirty): flushes at expired
 *     times with no fill between them leave a TLB grown by use as it was,
 *     while a fresh engine has the default size, so the same code refills
 *     differently in the two. (b) uc_vmem_read fills the index of the CPL in
 *     hflags (kernel and user are two TLBs). (c) CR4.SMAP never reaches
 *     hflags (this CPU model lacks SMAP), so MMU index 0 is never used.
 *     (d) lbvm's cpu_uc_tlb_canonical leaves the grown engine and a fresh one
 *     with one TLB: the same code then refills the same number of times, as
 *     often as the smallest TLB does.
 */
#define S16_BASE 0x100000u

/* Reads one dword from each of `pages` pages from S16_BASE, `rounds` times:
 * the fills that took (conflict misses show the TLB's size). The code is the
 * same for every call (the counts are in registers), so engines sharing the
 * RAM never run stale translations. */
static int s16_sweep(Vm *v, uint32_t pages, uint32_t rounds)
{
    Asm a = { KCODE };
    uint32_t outer = a.pc;
    EMIT(&a, 0xbe, LE32(S16_BASE));             /* mov esi, S16_BASE */
    EMIT(&a, 0x89, 0xfa);                       /* mov edx, edi */
    uint32_t inner = a.pc;
    EMIT(&a, 0x8b, 0x06);                       /* mov eax, [esi] */
    EMIT(&a, 0x81, 0xc6, LE32(0x1000));         /* add esi, 0x1000 */
    EMIT(&a, 0x4a);                             /* dec edx */
    EMIT(&a, 0x75, (uint8_t)(inner - (a.pc + 2)));      /* jnz inner */
    EMIT(&a, 0x49);                             /* dec ecx */
    EMIT(&a, 0x75, (uint8_t)(outer - (a.pc + 2)));      /* jnz outer */
    EMIT(&a, 0xf4);                             /* hlt */
    CHECK_EQ(wr(v, UC_X86_REG_EDI, pages), UC_ERR_OK);
    CHECK_EQ(wr(v, UC_X86_REG_ECX, rounds), UC_ERR_OK);
    int before = v->nfill;
    CHECK_EQ(run(v, KCODE), UC_ERR_OK);
    return v->nfill - before;
}

static uint32_t s16_hflags(Vm *v)
{
    uc_context *ctx;
    uint32_t hf = 0;
    CHECK_EQ(uc_context_alloc(v->uc, &ctx), UC_ERR_OK);
    uc_context_save(v->uc, ctx);
    if (g_hflags_off >= 0)
        memcpy(&hf, (uint8_t *)ctx + g_hflags_off, 4);
    uc_context_free(ctx);
    return hf;
}

static void s16_tlb_canonical(void)
{
    Vm g, f;
    uc_context *ctx;
    CHECK(g_hflags_off >= 0);
    /* (c): a guest mov to CR4, and lbvm's restore (an API write) */
    vm_open(&f, M_VTLB, NULL, NULL);
    Asm a = { KCODE };
    EMIT(&a, 0xb8, LE32(1u << 21));             /* mov eax, CR4.SMAP */
    EMIT(&a, 0x0f, 0x22, 0xe0);                 /* mov cr4, eax */
    EMIT(&a, 0x0f, 0x20, 0xe0);                 /* mov eax, cr4 */
    EMIT(&a, 0xf4);
    CHECK_EQ(run(&f, KCODE), UC_ERR_OK);
    uint32_t cr4 = rd(&f, UC_X86_REG_EAX);
    CHECK_EQ(cr4 & (1u << 21), 0);
    uint32_t hf_smap = s16_hflags(&f) & (1u << 23);     /* HF_SMAP */
    CHECK_EQ(wr(&f, UC_X86_REG_CR4, 1u << 21), UC_ERR_OK);
    hf_smap |= s16_hflags(&f) & (1u << 23);
    CHECK_EQ(hf_smap, 0);
    vm_close(&f);

    /* (b) */
    vm_open(&f, M_VTLB, NULL, NULL);
    CHECK_EQ(uc_context_alloc(f.uc, &ctx), UC_ERR_OK);
    uint8_t b;
    int n0 = f.nfill;
    CHECK_EQ(uc_vmem_read(f.uc, DATA, UC_PROT_READ, &b, 1), UC_ERR_OK);
    CHECK_EQ(uc_vmem_read(f.uc, DATA, UC_PROT_READ, &b, 1), UC_ERR_OK);
    int k_fills = f.nfill - n0;
    if (g_hflags_off >= 0) {
        uint32_t hf;
        uc_context_save(f.uc, ctx);
        memcpy(&hf, (uint8_t *)ctx + g_hflags_off, 4);
        hf |= 3;
        memcpy((uint8_t *)ctx + g_hflags_off, &hf, 4);
        uc_context_restore(f.uc, ctx);
    }
    n0 = f.nfill;
    CHECK_EQ(uc_vmem_read(f.uc, DATA, UC_PROT_READ, &b, 1), UC_ERR_OK);
    CHECK_EQ(uc_vmem_read(f.uc, DATA, UC_PROT_READ, &b, 1), UC_ERR_OK);
    int u_fills = f.nfill - n0;
    CHECK_EQ(k_fills, 1);
    CHECK_EQ(u_fills, 1);                       /* the same page again: another index */
    uc_context_free(ctx);
    vm_close(&f);

    /* (a): g grows to 1024 entries (each flush doubles a TLB over 70% used),
     * f keeps the default 256; then both get three flushes at expired times.
     * Both engines share the RAM: vm_open writes the same tables again. */
    vm_open(&g, M_VTLB, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        s16_sweep(&g, 700, 1);
        CHECK_EQ(uc_ctl_flush_tlb(g.uc), UC_ERR_OK);
    }
    vm_open(&f, M_VTLB, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        cpu_uc_tlb_flush_later(g.uc);
        cpu_uc_tlb_flush_later(f.uc);
    }
    int g_old = s16_sweep(&g, 300, 4), f_old = s16_sweep(&f, 300, 4);
    CHECK(g_old < f_old);                       /* the grown TLB kept its size */

    /* (d), twice: after the runs above, and after g grew again */
    CHECK_EQ(uc_context_alloc(g.uc, &ctx), UC_ERR_OK);
    cpu_uc_tlb_canonical(g.uc, ctx, g_hflags_off);
    cpu_uc_tlb_canonical(f.uc, ctx, g_hflags_off);
    int g_new = s16_sweep(&g, 300, 4), f_new = s16_sweep(&f, 300, 4);
    CHECK_EQ(g_new, f_new);
    CHECK(g_new > f_old);                       /* the smallest size: 64 entries */
    s16_sweep(&g, 700, 2);
    CHECK_EQ(uc_ctl_flush_tlb(g.uc), UC_ERR_OK);
    cpu_uc_tlb_canonical(g.uc, ctx, g_hflags_off);
    cpu_uc_tlb_canonical(f.uc, ctx, g_hflags_off);
    int g_again = s16_sweep(&g, 300, 4), f_again = s16_sweep(&f, 300, 4);
    CHECK_EQ(g_again, f_again);
    CHECK_EQ(g_again, g_new);
    uc_context_free(ctx);
    vm_close(&g);
    vm_close(&f);
    printf("[16] tlb-canonical: CR4.SMAP dropped (guest reads CR4 %#x, hflags SMAP %#x); uc_vmem_read fills kernel "
           "%d, user %d; 300 pages x4 after flushes without fills: grown engine %d fills, fresh %d; after the "
           "canonical flushes %d and %d, then %d and %d\n", cr4, hf_smap, k_fills, u_fills, g_old, f_old, g_new,
           f_new, g_again, f_again);
}


/* ---------------------------------------------------------------------------
 * 17. QUIRK(hooked-regions): every block a UC_HOOK_BLOCK hook instrumented
 *     stays recorded in a table of the hook's (16 bytes of heap per (address,
 *     size), plus the table); a tb flush does not empty it, uc_hook_del does.
 *     Seen through the C library's heap counters (glibc's mallinfo2).
 */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define S17_BASE   0x200000u
#define S17_BLOCKS 8192u

static void s17_count(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
    (void)uc, (void)addr, (void)size;
    ++*(unsigned *)ud;
}

static size_t s17_heap(void) { return mallinfo2().uordblks; }

static void s17_hooked_regions(void)
{
    Vm v;
    unsigned blocks = 0;
    uc_hook h;
    vm_open(&v, M_VTLB, NULL, NULL);
    /* S17_BLOCKS blocks of one `jmp +6` each, 8 bytes apart, then hlt */
    Asm a = { S17_BASE };
    for (unsigned i = 0; i < S17_BLOCKS; i++) {
        EMIT(&a, 0xeb, 0x06);
        a.pc += 6;
    }
    EMIT(&a, 0xf4);
    CHECK_EQ(uc_hook_add(v.uc, &h, UC_HOOK_BLOCK, s17_count, &blocks, 1, 0), UC_ERR_OK);
    size_t h0 = s17_heap();
    CHECK_EQ(run(&v, S17_BASE), UC_ERR_OK);
    CHECK(blocks >= S17_BLOCKS);
    size_t h1 = s17_heap();
    CHECK(h1 > h0 + S17_BLOCKS * 16);               /* one record per block */
    CHECK_EQ(uc_ctl_flush_tb(v.uc), UC_ERR_OK);
    size_t h2 = s17_heap();
    CHECK(h2 > h0 + S17_BLOCKS * 16);               /* a tb flush keeps them */
    CHECK_EQ(uc_hook_del(v.uc, h), UC_ERR_OK);
    size_t h3 = s17_heap();
    CHECK(h3 + S17_BLOCKS * 16 < h2);               /* uc_hook_del frees them */
    printf("[17] hooked-regions: %u blocks: heap +%zu KiB after the run, +%zu after a tb flush, +%zd after uc_hook_del\n",
           S17_BLOCKS, (h1 - h0) >> 10, (h2 - h0) >> 10, ((ptrdiff_t)h3 - (ptrdiff_t)h0) / 1024);
    vm_close(&v);
}
#else
static void s17_hooked_regions(void) { printf("scenario 17 skipped: no glibc heap counters\n"); }
#endif

int main(void)
{
    ram = aligned_alloc(4096, RAM_SIZE);
    if (!ram)
        return 1;
    s1_intr_hook();
    s2_error_code();
    s3_exception_in_flight();
    s4_ring3_to_0();
    s5_ud2();
    s6_vtlb_fault();
    s7_stale_code();
    s8_host_writes();
    s9_block_stop();
    s10_rdtsc();
    s11_hlt();
    s12_cpuid_io();
    s13_version();
    s14_checkpoint();
    s15_tlb_host_time();
    s16_tlb_canonical();
    s17_hooked_regions();
    free(ram);
    return check_done();
}
