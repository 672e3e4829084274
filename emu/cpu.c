/* SPDX-License-Identifier: GPL-2.0-or-later */
/* i386 CPU on Unicorn 2.1.x. Every Unicorn workaround of lbvm lives in this
 * file; each is marked "QUIRK" and pinned by tests/unit/test_unicorn_quirks.c,
 * which fails if the library changes under us.
 *
 * Design (measured choices in docs/architecture.md):
 * - Virtual-TLB mode: lbvm walks the guest page tables itself in a TLB-fill
 *   hook, sets accessed/dirty bits and raises #PF with its own error code.
 * - Virtual time: a block hook adds the byte size of each translation block to
 *   the clock before it runs. A pure function of the code executed, so every
 *   run (and a resumed run) counts the same.
 * - Exceptions and interrupts are delivered through the guest IDT by the host.
 */
#include "emu/cpu.h"
#include "base/platform.h"

#include "base/guestram.h"
#include "base/state.h"
#include "emu/x87math.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unicorn/unicorn.h>

#define CR0_PE (1u << 0)
#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define EFLAGS_TF (1u << 8)
#define EFLAGS_IF (1u << 9)
#define EFLAGS_NT (1u << 14)
#define EFLAGS_RF (1u << 16)
#define EFLAGS_VM (1u << 17)
#define PTE_P (1u << 0)
#define PTE_RW (1u << 1)
#define PTE_US (1u << 2)
#define PTE_A (1u << 5)
#define PTE_D (1u << 6)
#define PTE_PS (1u << 7)
#define PFEC_P 1u
#define PFEC_W 2u
#define PFEC_U 4u

#define VEC_DE 0
#define VEC_UD 6
#define VEC_DF 8
#define VEC_NP 11
#define VEC_GP 13
#define VEC_PF 14

/* Physical page every unassigned access lands on (reads all-ones): the last
 * page below 4 GiB, which no device uses. */
#define UNASSIGNED_PAGE 0xfffff000ull

enum { ACC_READ, ACC_WRITE, ACC_FETCH };

struct CPUState {
    uc_engine *uc;
    GuestRAM mem;             /* base/guestram.h: below 3 GiB, the rest above 4 GiB */
    IoMap *io;
    VClock *clock;
    CPUIntrController ic;
    int intr_level;

    /* Run-loop state. stop_at is the clock value at which the block hook looks
     * closer: the next deadline, or 0 while something else may need a stop. */
    uint64_t stop_at;
    bool in_emu;
    bool hook_stopped;
    bool stop_requested;
    bool fatal_in_hook;       /* a delivery inside a hook ended in a triple fault */
    int pending_exc;          /* vector from the INTR / invalid-insn hooks, or -1 */
    bool pf_pending;
    uint32_t pf_addr, pf_err;
    uint64_t last_tsc;

    /* Code map: physical RAM pages ever fetched from (see cpu_tlb_fill). */
    uint8_t *codepage;
    uint32_t *wgen;           /* flush generation in which a page was last granted W */
    uint32_t cur_gen;

    /* QUIRK(error-code): offsets inside the uc_context blob, found by probing. */
    long ctx_err_off, ctx_oldexc_off;
    long ctx_hflags_off;      /* QUIRK(ring-switch): CPL bits, or -1 */
    long ctx_isint_off;       /* QUIRK(soft-int): event raised by int n */
    /* QUIRK(seg-cache): selector, base, limit, flags of ES CS SS DS FS GS in
     * the context blob (cpu_probe_segs), or -1: checkpoints need them. */
    long ctx_seg_off[6][4];
    uc_context *ctx;
    bool restoring;           /* cpu_state is loading: fills set no A/D bits */
    bool canon_fill;          /* cpu_tlb_canonical: fills map a dummy page */
    bool drop_fill;           /* cpu_drop_hooked_regions: fills map the unassigned page */
    uc_hook block_hook;       /* the UC_HOOK_BLOCK hook (virtual time) */
    bool halted;              /* in hlt with IF set, waiting for an interrupt */

    /* Firmware traps (cpu_set_trap): real-mode int n inside [trap_base, +len). */
    uint32_t trap_base, trap_len;
    CPUTrapFunc *trap_fn;
    void *trap_opaque;

    IoRange unassigned;       /* the all-ones page outside RAM and devices */
    CPUStats stats;
    char error[256];
};

static void cpu_fail(CPUState *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
}

static inline uint32_t reg_get(CPUState *s, int reg)
{
    uint32_t v = 0;
    uc_reg_read(s->uc, reg, &v);
    return v;
}

static inline uc_err reg_set(CPUState *s, int reg, uint32_t v)
{
    return uc_reg_write(s->uc, reg, &v);
}

/* ---- physical memory helpers (RAM only; the walk never leaves RAM) ----
 * Physical addresses are 64-bit (PAE entries carry 36 bits): RAM is below
 * 3 GiB and from 4 GiB up (base/guestram.h); the hole and whatever lies past
 * RAM's end is not RAM. The loads and stores take a range phys_ok passed. */

static inline int phys_ok(CPUState *s, uint64_t pa, size_t len)
{
    return guest_ram_offset(&s->mem, pa, len) != UINT64_MAX;
}

static inline uint32_t phys_ld32(CPUState *s, uint64_t pa)
{
    uint32_t v;
    memcpy(&v, guest_ram_ptr(&s->mem, pa, 4), 4);
    return v;
}

static inline uint64_t phys_ld64(CPUState *s, uint64_t pa)
{
    uint64_t v;
    memcpy(&v, guest_ram_ptr(&s->mem, pa, 8), 8);
    return v;
}

static inline void phys_st32(CPUState *s, uint64_t pa, uint32_t v)
{
    memcpy(guest_ram_ptr(&s->mem, pa, 4), &v, 4);
}

/* ---- page walk ----
 * Returns 0 with *pa and *w_ok (whether a write may be granted now), or -1
 * with *err set to the #PF error code. set_ad updates accessed/dirty bits as
 * the CPU would; W is granted only once D is set, so the first store refills
 * and sets D. A page-table entry outside RAM reads as not present. */
typedef struct WalkCtx {
    uint32_t cr0, cr3, cr4;
} WalkCtx;

static int cpu_walk(CPUState *s, const WalkCtx *w, uint32_t va, int acc, int user, int set_ad,
                    uint64_t *pa, int *w_ok, uint32_t *err)
{
    int write = acc == ACC_WRITE;
    int wp = (w->cr0 & CR0_WP) != 0;
    int present = 0;
    uint64_t e1a = 0, e2a = 0, e1 = 0, e2 = 0, base;
    uint32_t flags, mask;
    int large;

    if (!(w->cr0 & CR0_PG)) {
        *pa = va;
        *w_ok = 1;
        return 0;
    }
    if (w->cr4 & CR4_PAE) {
        uint64_t pdpte_a = (w->cr3 & ~0x1fu) + ((va >> 30) & 3) * 8;
        if (!phys_ok(s, pdpte_a, 8))
            goto fault;
        uint64_t pdpte = phys_ld64(s, pdpte_a);
        if (!(pdpte & PTE_P))
            goto fault;
        e1a = (pdpte & 0xffffff000ull) + ((va >> 21) & 0x1ff) * 8;
        if (!phys_ok(s, e1a, 8))
            goto fault;
        e1 = phys_ld64(s, e1a);
        if (!(e1 & PTE_P))
            goto fault;
        large = (e1 & PTE_PS) != 0;
        if (large) {
            base = (e1 & 0xfffe00000ull) | (va & 0x1ff000);
        } else {
            e2a = (e1 & 0xffffff000ull) + ((va >> 12) & 0x1ff) * 8;
            if (!phys_ok(s, e2a, 8))
                goto fault;
            e2 = phys_ld64(s, e2a);
            if (!(e2 & PTE_P))
                goto fault;
            base = e2 & 0xffffff000ull;
        }
    } else {
        e1a = (w->cr3 & ~0xfffu) + (va >> 22) * 4;
        if (!phys_ok(s, e1a, 4))
            goto fault;
        e1 = phys_ld32(s, e1a);
        if (!(e1 & PTE_P))
            goto fault;
        large = (e1 & PTE_PS) && (w->cr4 & CR4_PSE);
        if (large) {
            /* PSE-36 is not advertised: bits 13-20 are not address bits. */
            base = (e1 & 0xffc00000u) | (va & 0x3ff000);
        } else {
            e2a = (e1 & ~0xfffull) + ((va >> 12) & 0x3ff) * 4;
            if (!phys_ok(s, e2a, 4))
                goto fault;
            e2 = phys_ld32(s, e2a);
            if (!(e2 & PTE_P))
                goto fault;
            base = e2 & 0xfffff000u;
        }
    }
    present = 1;
    /* Effective U/S and R/W are the AND over the levels (Intel SDM 4.6). */
    mask = (uint32_t)(large ? e1 : (e1 & e2));
    if (user && !(mask & PTE_US))
        goto fault;
    int writable = (mask & PTE_RW) || (!user && !wp);
    if (write && !writable)
        goto fault;
    flags = (uint32_t)(large ? e1 : e2);
    if (set_ad) {
        if (!large && !((uint32_t)e1 & PTE_A))
            phys_st32(s, e1a, (uint32_t)e1 | PTE_A);
        uint32_t nf = flags | PTE_A | (write ? PTE_D : 0);
        if (nf != flags)
            phys_st32(s, large ? e1a : e2a, nf);
        flags = nf;
    }
    *pa = base;
    *w_ok = writable && (flags & PTE_D);
    return 0;
fault:
    *err = (present ? PFEC_P : 0) | (write ? PFEC_W : 0) | (user ? PFEC_U : 0);
    return -1;
}

static void walk_ctx(CPUState *s, WalkCtx *w)
{
    w->cr0 = reg_get(s, UC_X86_REG_CR0);
    w->cr3 = reg_get(s, UC_X86_REG_CR3);
    w->cr4 = reg_get(s, UC_X86_REG_CR4);
}

/* Host accesses to guest virtual memory at CPL 0 (IDT, GDT, TSS, stacks). */
static int virt_rw(CPUState *s, uint32_t va, void *buf, size_t len, int write)
{
    WalkCtx w;
    walk_ctx(s, &w);
    uint8_t *b = buf;
    while (len) {
        uint64_t pa;
        int w_ok;
        uint32_t err;
        size_t n = 0x1000 - (va & 0xfff);
        if (n > len)
            n = len;
        if (cpu_walk(s, &w, va & ~0xfffu, write ? ACC_WRITE : ACC_READ, 0, write, &pa, &w_ok, &err) < 0)
            return -1;
        pa |= va & 0xfff;
        uint8_t *h = guest_ram_ptr(&s->mem, pa, n);
        if (!h)
            return -1;
        if (write)
            memcpy(h, b, n);
        else
            memcpy(b, h, n);
        va += (uint32_t)n;
        b += n;
        len -= n;
    }
    return 0;
}

int cpu_read_virt(CPUState *s, uint32_t va, void *buf, size_t len)
{
    return virt_rw(s, va, buf, len, 0);
}

/* ---- TLB fill hook ---- */

static int in_sys_table(CPUState *s, uint32_t va)
{
    uc_x86_mmr t;
    uc_reg_read(s->uc, UC_X86_REG_GDTR, &t);
    if (va + 0xfffull >= (uint32_t)t.base && va <= (uint32_t)t.base + (uint64_t)t.limit)
        return 1;
    uc_reg_read(s->uc, UC_X86_REG_LDTR, &t);
    return t.limit && va + 0xfffull >= (uint32_t)t.base && va <= (uint32_t)t.base + (uint64_t)t.limit;
}

static int phys_is_mmio(CPUState *s, uint64_t pa)
{
    for (int i = 0; i < s->io->n_mmio; i++)
        if (pa >= s->io->mmio[i].base && pa < s->io->mmio[i].base + s->io->mmio[i].len)
            return 1;
    return 0;
}

/* ---- QUIRK(tlb-host-time, tlb-canonical) ----
 * Unicorn (as QEMU 5) resizes its software TLB at every flush by a window of
 * host time (gettimeofday): how big the TLB is, and so which entries survive
 * until the guest touches them again, followed the host's speed. That reaches
 * the guest: a fill sets the accessed bit in the guest's PTE, and Linux clears
 * accessed bits without flushing the TLB (page reclaim), so whether the bit
 * comes back depended on the host. lbvm defines gettimeofday: a call from
 * inside libunicorn gets a fixed time (0), so a window never expires and the
 * TLB only grows with use, deterministically; everyone else gets the real
 * time. Pinned by test_unicorn_quirks (a flush calls gettimeofday from
 * libunicorn).
 * This rests on ELF symbol preemption: libunicorn's call binds to the
 * program's gettimeofday. Where it does not (macOS two-level namespaces,
 * Windows imports, a libunicorn linked with -Bsymbolic or statically, one
 * loaded in a namespace of its own), libunicorn gets the host's time and
 * nothing else would notice, so cpu_init checks it on every engine: a flush
 * must have reached this function from libunicorn (cpu_uc_time_calls), or
 * the run is refused (test_host_facts).
 * tlb-canonical: checkpoints, journal points and resumes then bring the TLB
 * to one state, so a run that goes on and a run resumed in a new engine
 * continue with the same TLB. A flush only resizes (and resets the window of)
 * the MMU indexes filled since the last flush: flushes in a row without fills
 * do nothing, so flushing alone kept the size the run had grown (resumed runs
 * refilled up to 2.4 times as often). cpu_uc_tlb_canonical fills one entry in
 * each index the guest uses (kernel, user) before each of four flushes at
 * times far apart; whatever the start, that leaves the smallest size (64),
 * an empty table and victim TLB, and a window holding one entry. Pinned by
 * test_unicorn_quirks (scenario 16). */
static uintptr_t uc_text_lo, uc_text_hi;   /* libunicorn's mapped range */
static uint64_t tlb_time_ns;                /* what libunicorn is told: 0 but while canonicalising */
static uint64_t tlb_time_epoch;             /* canonical flushes so far, each at a later time */
unsigned long cpu_uc_time_calls;            /* calls from libunicorn (the start-up check, the quirk test) */
/* Test seam: acts as if libunicorn's calls did not reach this function (they
 * get the host's time and are not counted), as on a host without symbol
 * preemption. Set by LBVM_TEST_NO_TIME_INTERPOSITION=1 in the environment or
 * by a unit test; all it can do is make cpu_init refuse. */
bool cpu_time_not_interposed;
/* Beyond Unicorn's 100 ms window; QEMU's int64 nanoseconds last 2^33 steps. */
#define TLB_TIME_STEP_NS 1000000000ull
#define TLB_CANON_FLUSHES 4

/* Before main, so before any engine exists: libunicorn's first call (TLB
 * set-up in uc_open) already gets the fixed time. */
__attribute__((constructor)) static void find_libunicorn(void)
{
    uintptr_t lo, hi;
    if (host_library_range((const void *)(uintptr_t)uc_open, &lo, &hi) == 0) {
        uc_text_lo = lo;
        uc_text_hi = hi;
    }
    const char *off = getenv("LBVM_TEST_NO_TIME_INTERPOSITION");
    cpu_time_not_interposed = off && *off && strcmp(off, "0");
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    uintptr_t from = (uintptr_t)__builtin_return_address(0);
    (void)tz;
    if (from >= uc_text_lo && from < uc_text_hi && !cpu_time_not_interposed) {
        cpu_uc_time_calls++;
        tv->tv_sec = (time_t)(tlb_time_ns / 1000000000u);
        tv->tv_usec = (suseconds_t)(tlb_time_ns % 1000000000u / 1000u);
        return 0;
    }
    int64_t sec;
    long nsec;
    host_wall_clock(&sec, &nsec);
    tv->tv_sec = (time_t)sec;
    tv->tv_usec = (suseconds_t)(nsec / 1000);
    return 0;
}

/* uc_vmem_read is new in 2.1.4; without it the user index cannot be filled
 * from the host, and checkpoints are refused (cpu_no_checkpoint_why). */
extern uc_err uc_vmem_read(uc_engine *uc, uint64_t address, uc_prot prot, void *bytes, size_t size)
    __attribute__((weak));

/* One flush at a time more than a window after the last one. */
void cpu_uc_tlb_flush_later(uc_engine *uc)
{
    tlb_time_ns = ++tlb_time_epoch * TLB_TIME_STEP_NS;
    uc_ctl_flush_tlb(uc);
    tlb_time_ns = 0;
}

/* One entry in each MMU index the guest uses: a host read at CPL 0 (kernel
 * index) and at CPL 3 (user index), the CPL set in hflags at hflags_off of
 * the context blob (-1: the current CPL only). Index 0 (kernel with SMAP) is
 * never used: this CPU model drops CR4.SMAP (scenario 16). */
static void tlb_touch_all(uc_engine *uc, uc_context *ctx, long hflags_off)
{
    uint8_t b;
    uint32_t hf, v;
    if (!uc_vmem_read)
        return;
    if (hflags_off < 0) {
        uc_vmem_read(uc, 0, UC_PROT_READ, &b, 1);
        return;
    }
    uc_context_save(uc, ctx);
    memcpy(&hf, (uint8_t *)ctx + hflags_off, 4);
    for (uint32_t cpl = 0; cpl <= 3; cpl += 3) {
        v = (hf & ~3u) | cpl;
        memcpy((uint8_t *)ctx + hflags_off, &v, 4);
        uc_context_restore(uc, ctx);
        uc_vmem_read(uc, 0, UC_PROT_READ, &b, 1);
    }
    memcpy((uint8_t *)ctx + hflags_off, &hf, 4);
    uc_context_restore(uc, ctx);
}

/* The canonical TLB (see tlb-canonical above): whatever the start, one fill
 * per index then a later flush, four times. */
void cpu_uc_tlb_canonical(uc_engine *uc, uc_context *ctx, long hflags_off)
{
    for (int i = 0; i < TLB_CANON_FLUSHES; i++) {
        tlb_touch_all(uc, ctx, hflags_off);
        cpu_uc_tlb_flush_later(uc);
    }
}

static void cpu_tlb_canonical(CPUState *s)
{
    s->canon_fill = true;       /* the fills map a dummy page, flushed at once */
    cpu_uc_tlb_canonical(s->uc, s->ctx, s->ctx_hflags_off);
    s->canon_fill = false;
}

/* QUIRK(vtlb-codemap): in 2.1.4's virtual-TLB mode an entry without execute
 * permission is marked dirty after its first store even if its page holds
 * translated code, and later stores through it skip the self-modifying-code
 * check (stale code runs). So every entry for a page that was ever fetched
 * from also gets EXEC, which keeps its stores on the checked path; when a page
 * first becomes code while some entry may already be writable to it, the whole
 * TLB is flushed. Granting EXEC to all pages instead would put every store on
 * the slow path (2.1.2+ never marks an executable entry dirty). */
static bool cpu_tlb_fill(uc_engine *uc, uint64_t vaddr, uc_mem_type type, uc_tlb_entry *e, void *opaque)
{
    CPUState *s = opaque;
    (void)uc;
    uint32_t va = (uint32_t)vaddr & ~0xfffu;
    int acc = type == UC_MEM_WRITE ? ACC_WRITE : type == UC_MEM_FETCH ? ACC_FETCH : ACC_READ;
    WalkCtx w;
    uint64_t pa;
    int w_ok;
    uint32_t err;

    if (s->drop_fill) {
        /* cpu_drop_hooked_regions: not RAM, so the invalidation it asks for
         * finds no code page and does nothing (a RAM page would cost a scan
         * of the whole TLB per region); flushed before the guest runs again */
        e->paddr = UNASSIGNED_PAGE;
        e->perms = UC_PROT_ALL;
        return true;
    }
    if (s->canon_fill) {
        /* cpu_tlb_canonical: flushed before the guest runs again */
        e->paddr = 0;
        e->perms = UC_PROT_READ;
        return true;
    }
    if (!s->restoring)
        s->stats.tlb_fills[acc]++;
    walk_ctx(s, &w);
    /* The hook is not told the access's privilege: infer it from CPL; implicit
     * supervisor accesses made at CPL 3 (descriptor loads) hit GDT/LDT pages. */
    int user = s->in_emu && (reg_get(s, UC_X86_REG_CS) & 3) == 3;
    if (user && (w.cr0 & CR0_PG) && in_sys_table(s, va))
        user = 0;
    if (cpu_walk(s, &w, va, acc, user, !s->restoring, &pa, &w_ok, &err) < 0) {
        if (!s->in_emu) {
            /* QUIRK(fill-outside-emu): failing a fill outside uc_emu_start would
             * longjmp to a stale context. Host-side descriptor loads are
             * checked by the delivery code first, so this is an lbvm bug. */
            fprintf(stderr, "lbvm: internal error: unmapped host access at %#x\n", va);
            e->paddr = UNASSIGNED_PAGE;
            e->perms = UC_PROT_READ | UC_PROT_WRITE;
            return true;
        }
        /* QUIRK(vtlb-fault): returning false makes uc_emu_start return
         * UC_ERR_EXCEPTION with EIP on the faulting instruction; no guest #PF
         * is raised and CR2 is not written: the run loop delivers it. The hook
         * sees only the page, so CR2 is page-aligned. */
        s->pf_pending = true;
        s->pf_addr = (uint32_t)vaddr;
        s->pf_err = err;
        s->stats.page_faults++;
        return false;
    }
    uint64_t off = guest_ram_offset(&s->mem, pa, 0x1000);
    if (off != UINT64_MAX) {
        uint64_t pn = off >> 12;   /* code map and grants by RAM page, as checkpoints number them */
        int perms = UC_PROT_READ | (w_ok ? UC_PROT_WRITE : 0);
        if (acc == ACC_FETCH && !s->codepage[pn]) {
            s->codepage[pn] = 1;
            if (s->wgen[pn] == s->cur_gen) {
                s->stats.code_flushes++;
                uc_ctl_flush_tlb(s->uc);
                s->cur_gen++;
            }
        }
        if (s->codepage[pn])
            perms |= UC_PROT_EXEC;
        if (w_ok)
            s->wgen[pn] = s->cur_gen;
        e->paddr = pa;
        e->perms = perms;
        return true;
    }
    /* Outside RAM: a device's MMIO, or nothing (all-ones page). */
    e->paddr = phys_is_mmio(s, pa) ? pa : UNASSIGNED_PAGE;
    e->perms = UC_PROT_READ | UC_PROT_WRITE;
    return true;
}

/* ---- hooks ---- */

static void cpu_update_stop_at(CPUState *s)
{
    s->stop_at = (s->intr_level || s->stop_requested) ? 0 : vclock_next_deadline(s->clock);
}

/* Virtual time: the block's size in bytes is added before it runs. A block
 * cut short by an exception still counts whole: the same on every run. */
static void cpu_hook_block(uc_engine *uc, uint64_t addr, uint32_t size, void *opaque)
{
    CPUState *s = opaque;
    (void)addr;
    if (__builtin_expect(s->clock->now >= s->stop_at, 0)) {
        int stop = s->stop_requested || s->clock->now >= vclock_next_deadline(s->clock) ||
                   (s->intr_level && (reg_get(s, UC_X86_REG_EFLAGS) & EFLAGS_IF));
        if (stop) {
            /* QUIRK(block-stop): uc_emu_stop from a block hook stops before the
             * block runs, and the hook fires again for it on restart: so it is
             * not counted now. */
            s->hook_stopped = true;
            uc_emu_stop(uc);
            return;
        }
    }
    s->clock->now += size ? size : 1;
    s->stats.blocks++;
}

/* int n with n >= 32 (system calls) is delivered right here, and emulation
 * goes on at the handler: the hook runs between translation blocks, where
 * QEMU itself would deliver. That saves a stop and a restart per system call.
 * Everything else stops emulation and is delivered by cpu_run. */
static int cpu_raise(CPUState *s, int vec, int has_err, uint32_t err, int soft);

static void cpu_hook_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
    CPUState *s = opaque;
    /* Real mode (no PE) always stops: a firmware trap may write RAM and
     * drop translated code, which only cpu_run may do. */
    if (intno >= 32 && s->in_emu && !s->stop_requested && (reg_get(s, UC_X86_REG_CR0) & CR0_PE)) {
        if (cpu_raise(s, (int)intno, 0, 0, 2) == 0)
            return;
        s->fatal_in_hook = true;
    } else {
        s->pending_exc = (int)intno;
    }
    uc_emu_stop(uc);
}

/* QUIRK(ud): invalid opcodes end uc_emu_start with UC_ERR_INSN_INVALID unless
 * this hook takes them; EIP is left on the instruction: deliver #UD. */
static bool cpu_hook_invalid(uc_engine *uc, void *opaque)
{
    CPUState *s = opaque;
    s->pending_exc = VEC_UD;
    uc_emu_stop(uc);
    return true;
}

static uint32_t cpu_hook_in(uc_engine *uc, uint32_t port, int size, void *opaque)
{
    CPUState *s = opaque;
    (void)uc;
    return iomap_port_read(s->io, port, size == 4 ? 2 : size == 2 ? 1 : 0);
}

static void cpu_hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *opaque)
{
    CPUState *s = opaque;
    (void)uc;
    iomap_port_write(s->io, port, value, size == 4 ? 2 : size == 2 ? 1 : 0);
}

/* QUIRK(rdtsc): the kernel runs rdtsc even when CPUID hides the TSC; 2.1.2+
 * lets us hook it (2.1.1 returns host ticks). The guest TSC is the virtual
 * clock, made strictly increasing. */
static int cpu_hook_rdtsc(uc_engine *uc, void *opaque)
{
    CPUState *s = opaque;
    (void)uc;
    uint64_t t = s->clock->now;
    if (t <= s->last_tsc)
        t = s->last_tsc + 1;
    s->last_tsc = t;
    s->stats.rdtsc++;
    reg_set(s, UC_X86_REG_EAX, (uint32_t)t);
    reg_set(s, UC_X86_REG_EDX, (uint32_t)(t >> 32));
    return 1;
}

/* One consistent i686-class CPU: a Pentium III without SSE. Hidden: TSC (the
 * kernel still runs rdtsc; see above), APIC (none emulated), SEP (Unicorn's
 * sysenter only calls hooks), PGE, MTRR, MCE, MMX/SSE/FXSR, VME. */
#define CPUID_FPU (1u << 0)
#define CPUID_PSE (1u << 3)
#define CPUID_MSR (1u << 5)
#define CPUID_PAE (1u << 6)
#define CPUID_CX8 (1u << 8)
#define CPUID_CMOV (1u << 15)

static int cpu_hook_cpuid(uc_engine *uc, void *opaque)
{
    CPUState *s = opaque;
    (void)uc;
    uint32_t leaf = reg_get(s, UC_X86_REG_EAX), a = 0, b = 0, c = 0, d = 0;
    if (leaf == 0) {
        a = 1;
        b = 0x756e6547; /* "GenuineIntel" */
        d = 0x49656e69;
        c = 0x6c65746e;
    } else if (leaf == 1) {
        a = 0x683; /* family 6, model 8, stepping 3 */
        d = CPUID_FPU | CPUID_PSE | CPUID_MSR | CPUID_PAE | CPUID_CX8 | CPUID_CMOV;
    }
    /* Leaves above the maximum (and 0x80000000: no extended leaves) read 0. */
    reg_set(s, UC_X86_REG_EAX, a);
    reg_set(s, UC_X86_REG_EBX, b);
    reg_set(s, UC_X86_REG_ECX, c);
    reg_set(s, UC_X86_REG_EDX, d);
    return 1;
}

static uint64_t cpu_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *opaque)
{
    IoRange *r = opaque;
    (void)uc;
    if (size == 8)
        return iorange_read(r, offset, 2) | (uint64_t)iorange_read(r, offset + 4, 2) << 32;
    return iorange_read(r, offset, size == 4 ? 2 : size == 2 ? 1 : 0);
}

static void cpu_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *opaque)
{
    IoRange *r = opaque;
    (void)uc;
    if (size == 8) {
        iorange_write(r, offset, (uint32_t)value, 2);
        iorange_write(r, offset + 4, (uint32_t)(value >> 32), 2);
        return;
    }
    iorange_write(r, offset, (uint32_t)value, size == 4 ? 2 : size == 2 ? 1 : 0);
}

static uint32_t unassigned_read(void *opaque, uint32_t offset, int size_log2)
{
    IoMap *io = opaque;
    (void)offset;
    io->n_unassigned++;
    return size_log2 == 2 ? 0xffffffffu : size_log2 == 1 ? 0xffff : 0xff;
}

static void unassigned_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    IoMap *io = opaque;
    (void)offset, (void)val, (void)size_log2;
    io->n_unassigned++;
}


static void cpu_mmio_added(void *opaque, IoRange *r)
{
    CPUState *s = opaque;
    uc_err e = uc_mmio_map(s->uc, r->base, r->len, cpu_mmio_read, r, cpu_mmio_write, r);
    if (e != UC_ERR_OK)
        fprintf(stderr, "lbvm: internal error: cannot map MMIO %s at %#llx: %s\n", r->name,
                (unsigned long long)r->base, uc_strerror(e));
}

/* ---- QUIRK(error-code, exception-in-flight) ----
 * The error code of #GP/#TS/#NP/#SS/#AC is not in Unicorn's API, and the
 * "exception in flight" field (used to detect double faults) is never reset
 * because Unicorn bypasses the IDT delivery that would reset it: the second
 * unrelated exception then arrives as #DF. Both live in the opaque uc_context
 * blob (a copy of QEMU's CPU state). Their offsets are found once by
 * differential probing on a scratch engine: a #GP with error code 0x98, then a
 * #PF with error code 3. */
static void probe_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
    (void)intno, (void)opaque;
    uc_emu_stop(uc);
}

/* QUIRK(ring-switch): find the CPL bits of QEMU's hflags inside the context
 * blob. The scratch engine (paging on, flat ring-0 segments) irets to ring 3
 * and faults there on hlt; the word whose low two bits went 0 -> 3 with all
 * else equal is the candidate. It is used only if patching it back to 0 then
 * lets ring-0 SS and CS loads succeed and a privileged instruction run. */
static void cpu_probe_cpl(CPUState *s, uc_engine *uc, uint8_t *m, uc_context *cpl0, uc_context *scratch)
{
    /* GDT entries 3 and 4: flat ring-3 code (0x1b) and data (0x23). */
    const uint32_t user[] = { 0x0000ffff, 0x00cffa00, 0x0000ffff, 0x00cff200 };
    memcpy(m + 0x1000 + 24, user, sizeof user);
    const uint32_t frame[] = { 0x2300, 0x1b, 0x2, 0x8000, 0x23 }; /* iret to 0x1b:0x2300 */
    memcpy(m + 0x9000 - sizeof frame, frame, sizeof frame);
    const uint8_t iret[] = { 0xcf };
    const uint8_t user_code[] = { 0xf4 };                            /* hlt at CPL 3: #GP */
    const uint8_t priv[] = { 0x0f, 0x20, 0xc0, 0xf4 };               /* mov eax,cr0; hlt */
    memcpy(m + 0x2200, iret, sizeof iret);
    memcpy(m + 0x2300, user_code, sizeof user_code);
    memcpy(m + 0x2400, priv, sizeof priv);
    uint32_t v = 0x9000 - sizeof frame;
    uc_x86_mmr gdtr = { 0, 0x1000, 39, 0 };
    uc_context_restore(uc, cpl0);
    uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
    uc_reg_write(uc, UC_X86_REG_ESP, &v);
    uc_emu_start(uc, 0x2200, 0, 0, 0);
    uint32_t cs = 0;
    uc_reg_read(uc, UC_X86_REG_CS, &cs);
    if ((cs & 3) != 3)
        return;
    uc_context_save(uc, scratch);
    const uint8_t *b0 = (const void *)cpl0, *b3 = (const void *)scratch;
    long found = -1;
    for (size_t o = 0; o + 4 <= uc_context_size(uc); o += 4) {
        uint32_t a0, a3;
        memcpy(&a0, b0 + o, 4);
        memcpy(&a3, b3 + o, 4);
        if ((a0 & 3) == 0 && (a3 & 3) == 3 && ((a0 ^ a3) & ~3u) == 0 && a0 != 0) {
            if (found >= 0)
                return; /* ambiguous: keep the CR0.PE route */
            found = (long)o;
        }
    }
    if (found < 0)
        return;
    uint32_t hf;
    memcpy(&hf, b3 + found, 4);
    hf &= ~3u;
    memcpy((uint8_t *)scratch + found, &hf, 4);
    uc_context_restore(uc, scratch);
    uint32_t ss0 = 0x10, cs0 = 0x08, esp = 0x9000, eip = 0x2400, eax = 0;
    if (uc_reg_write(uc, UC_X86_REG_SS, &ss0) || uc_reg_write(uc, UC_X86_REG_ESP, &esp) ||
        uc_reg_write(uc, UC_X86_REG_CS, &cs0))
        return;
    uc_reg_read(uc, UC_X86_REG_CS, &cs);
    if (cs != cs0 || uc_emu_start(uc, eip, 0, 0, 0) != UC_ERR_OK)
        return;
    uc_reg_read(uc, UC_X86_REG_EAX, &eax);
    uc_reg_read(uc, UC_X86_REG_EIP, &eip);
    if (eip == 0x2404 && (eax & CR0_PG))
        s->ctx_hflags_off = found;
}

/* QUIRK(seg-cache): segment descriptor caches are not in Unicorn's API (a
 * selector write reloads the cache from the GDT, which the guest may have
 * changed since). Checkpoints need them exactly, so find their fields in the
 * context blob: for each segment register load two descriptors that differ
 * in selector, base, limit and flags, and take the one word of each kind
 * that changed accordingly. */
static uint32_t probe_desc_hi(uint32_t base, uint32_t limit, uint8_t access, uint8_t fl)
{
    return ((base >> 16) & 0xff) | (uint32_t)access << 8 | (limit & 0xf0000) | (uint32_t)fl << 20 |
           (base & 0xff000000u);
}

static void cpu_probe_segs(CPUState *s, uc_engine *uc, uint8_t *m, uc_context *flat, uc_context *a,
                           uc_context *b)
{
    static const int regs[6] = { UC_X86_REG_ES, UC_X86_REG_CS, UC_X86_REG_SS,
                                 UC_X86_REG_DS, UC_X86_REG_FS, UC_X86_REG_GS };
    /* GDT entries 5, 6: data A, B; 7, 8: code A, B (ring 0, byte granular). */
    static const uint32_t base[4] = { 0x00123000, 0x00456000, 0x00789000, 0x00abc000 };
    static const uint32_t limit[4] = { 0x0abcd, 0x0def0, 0x0fedc, 0x0cba9 };
    static const uint8_t access[4] = { 0x93, 0x93, 0x9b, 0x9b };
    static const uint8_t fl[4] = { 0x4, 0x5, 0x4, 0x5 };   /* D/B, then D/B + AVL */
    uint32_t hi[4];
    for (int i = 0; i < 4; i++) {
        uint32_t lo = (limit[i] & 0xffff) | (base[i] & 0xffff) << 16;
        hi[i] = probe_desc_hi(base[i], limit[i], access[i], fl[i]);
        memcpy(m + 0x1000 + 8 * (5 + i), &lo, 4);
        memcpy(m + 0x1000 + 8 * (5 + i) + 4, &hi[i], 4);
    }
    uc_x86_mmr gdtr = { 0, 0x1000, 9 * 8 - 1, 0 };
    size_t sz = uc_context_size(uc);
    for (int r = 0; r < 6; r++) {
        int k = regs[r] == UC_X86_REG_CS ? 2 : 0;
        uint32_t sel[2] = { (uint32_t)(5 + k) << 3, (uint32_t)(6 + k) << 3 };
        uc_context_restore(uc, flat);
        uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
        if (uc_reg_write(uc, regs[r], &sel[0]))
            return;
        uc_context_save(uc, a);
        if (uc_reg_write(uc, regs[r], &sel[1]))
            return;
        uc_context_save(uc, b);
        const uint32_t want[4][2] = { { sel[0], sel[1] }, { base[k], base[k + 1] },
                                      { limit[k], limit[k + 1] }, { hi[k], hi[k + 1] } };
        for (int f = 0; f < 4; f++) {
            long found = -1;
            for (size_t o = 0; o + 4 <= sz; o += 4) {
                uint32_t va, vb;
                memcpy(&va, (uint8_t *)a + o, 4);
                memcpy(&vb, (uint8_t *)b + o, 4);
                if (va == want[f][0] && vb == want[f][1]) {
                    if (found >= 0)
                        return;     /* ambiguous */
                    found = (long)o;
                }
            }
            if (found < 0)
                return;
            s->ctx_seg_off[r][f] = found;
        }
    }
}

static int cpu_probe_context(CPUState *s)
{
    const size_t mem = 1 << 20;
    uint8_t *m = calloc(1, mem);
    uc_engine *uc = NULL;
    uc_context *c[5] = { 0 };
    uc_hook h;
    int ok = 0;
    if (!m || uc_open(UC_ARCH_X86, UC_MODE_32, &uc) != UC_ERR_OK)
        goto out;
    uc_mem_map_ptr(uc, 0, mem, UC_PROT_ALL, m);
    uc_hook_add(uc, &h, UC_HOOK_INTR, (void *)probe_intr, NULL, 1, 0);
    /* GDT at 0x1000: null, code 0x08, data 0x10. Page directory at 0x10000
     * maps the first 4 MiB 1:1, except page 5 which is read-only. */
    const uint32_t gdt[] = { 0, 0, 0x0000ffff, 0x00cf9a00, 0x0000ffff, 0x00cf9200 };
    memcpy(m + 0x1000, gdt, sizeof gdt);
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t pte = (i << 12) | (i == 5 ? PTE_P : PTE_P | PTE_RW);
        memcpy(m + 0x11000 + i * 4, &pte, 4);
    }
    uint32_t pde = 0x11000 | PTE_P | PTE_RW;
    memcpy(m + 0x10000, &pde, 4);
    const uint8_t gp[] = { 0x66, 0xb8, 0x98, 0x00, 0x8e, 0xd8, 0xf4 }; /* mov ax,0x98; mov ds,ax */
    const uint8_t pf[] = { 0xa3, 0x00, 0x50, 0x00, 0x00, 0xf4 };       /* mov [0x5000],eax */
    memcpy(m + 0x2000, gp, sizeof gp);
    memcpy(m + 0x2100, pf, sizeof pf);
    const uint8_t int0d[] = { 0xcd, 0x0d, 0xf4 };                      /* int 0x0d */
    const uint8_t int80[] = { 0xcd, 0x80, 0xf4 };                      /* int 0x80 */
    memcpy(m + 0x2500, int0d, sizeof int0d);
    memcpy(m + 0x2600, int80, sizeof int80);
    uc_x86_mmr gdtr = { 0, 0x1000, 23, 0 };
    uint32_t v;
    uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
    v = CR0_PE;
    uc_reg_write(uc, UC_X86_REG_CR0, &v);
    v = 0x10;
    uc_reg_write(uc, UC_X86_REG_SS, &v);
    uc_reg_write(uc, UC_X86_REG_DS, &v);
    v = 0x08;
    uc_reg_write(uc, UC_X86_REG_CS, &v);
    v = 0x9000;
    uc_reg_write(uc, UC_X86_REG_ESP, &v);
    v = 0x10000;
    uc_reg_write(uc, UC_X86_REG_CR3, &v);
    v = CR0_PG | CR0_WP | CR0_PE | 0x10;
    uc_reg_write(uc, UC_X86_REG_CR0, &v);
    size_t sz = uc_context_size(uc);
    for (int i = 0; i < 5; i++)
        if (uc_context_alloc(uc, &c[i]) != UC_ERR_OK)
            goto out;
    uc_context_save(uc, c[0]);
    uc_emu_start(uc, 0x2000, 0, 0, 0);
    uc_context_save(uc, c[1]);
    uc_emu_start(uc, 0x2100, 0, 0, 0);
    uc_context_save(uc, c[2]);
    uc_emu_start(uc, 0x2500, 0, 0, 0);
    uc_context_save(uc, c[3]);
    uc_emu_start(uc, 0x2600, 0, 0, 0);
    uc_context_save(uc, c[4]);
    const uint8_t *b0 = (const void *)c[0], *b1 = (const void *)c[1], *b2 = (const void *)c[2];
    const uint8_t *b3 = (const void *)c[3], *b4 = (const void *)c[4];
    int n_int = 0;
    for (size_t o = 0; o + 4 <= sz; o += 4) {
        int32_t a0, a1, a2;
        memcpy(&a0, b0 + o, 4);
        memcpy(&a1, b1 + o, 4);
        memcpy(&a2, b2 + o, 4);
        if (s->ctx_oldexc_off < 0 && a0 == -1 && a1 == VEC_GP && a2 == VEC_DF)
            s->ctx_oldexc_off = (long)o; /* the second fault shows the bug: #DF */
        if (s->ctx_oldexc_off < 0 && a0 == -1 && a1 == VEC_GP && a2 == VEC_PF)
            s->ctx_oldexc_off = (long)o;
        if (s->ctx_err_off < 0 && a1 == 0x98 && a2 == 3)
            s->ctx_err_off = (long)o;
        /* QUIRK(soft-int): "raised by int n" is 0 after the faults and 1
         * after int 0x0d and int 0x80. */
        int32_t a3, a4;
        memcpy(&a3, b3 + o, 4);
        memcpy(&a4, b4 + o, 4);
        if (a1 == 0 && a2 == 0 && a3 == 1 && a4 == 1) {
            s->ctx_isint_off = (long)o;
            n_int++;
        }
    }
    if (n_int != 1)
        s->ctx_isint_off = -1;
    ok = s->ctx_err_off >= 0 && s->ctx_oldexc_off >= 0 && s->ctx_isint_off >= 0;
    if (ok) {
        cpu_probe_cpl(s, uc, m, c[0], c[1]);
        for (int r = 0; r < 6; r++)
            for (int f = 0; f < 4; f++)
                s->ctx_seg_off[r][f] = -1;
        cpu_probe_segs(s, uc, m, c[0], c[1], c[2]);
    }
out:
    for (int i = 0; i < 5; i++)
        if (c[i])
            uc_context_free(c[i]);
    if (uc)
        uc_close(uc);
    free(m);
    return ok ? 0 : -1;
}

/* Reads the pending exception's error code and whether `int n` raised it,
 * and marks no exception in flight. */
static uint32_t cpu_take_error_code(CPUState *s, int *is_int)
{
    uint32_t err = 0;
    int32_t none = -1, isint = 0;
    uc_context_save(s->uc, s->ctx);
    memcpy(&err, (uint8_t *)s->ctx + s->ctx_err_off, 4);
    memcpy(&isint, (uint8_t *)s->ctx + s->ctx_isint_off, 4);
    memcpy((uint8_t *)s->ctx + s->ctx_oldexc_off, &none, 4);
    uc_context_restore(s->uc, s->ctx);
    *is_int = isint != 0;
    return err;
}

/* ---- IDT delivery ---- */

static int has_error_code(int vec)
{
    return vec == VEC_DF || (vec >= 10 && vec <= 14) || vec == 17;
}

typedef struct Fault {
    int vec;
    uint32_t err;
    uint32_t cr2;
    bool pf;
} Fault;

static int desc_read(CPUState *s, uint16_t sel, uint32_t d[2])
{
    uc_x86_mmr t;
    uc_reg_read(s->uc, (sel & 4) ? UC_X86_REG_LDTR : UC_X86_REG_GDTR, &t);
    if ((uint32_t)(sel & ~7u) + 7 > t.limit)
        return -1;
    return virt_rw(s, (uint32_t)t.base + (sel & ~7u), d, 8, 0);
}

static uint32_t desc_base(const uint32_t d[2])
{
    return (d[0] >> 16) | ((d[1] & 0xff) << 16) | (d[1] & 0xff000000u);
}

/* Pushes through SS:ESP; on a fault fills f (#PF on the stack page). */
static int push32(CPUState *s, uint32_t ss_base, uint32_t *esp, uint32_t v, Fault *f)
{
    uint32_t ne = *esp - 4;
    if (virt_rw(s, ss_base + ne, &v, 4, 1) < 0) {
        *f = (Fault){ VEC_PF, PFEC_W, ss_base + ne, true };
        return -1;
    }
    *esp = ne;
    return 0;
}

#define ERR_EXT 1u
#define EFLAGS_AC (1u << 18)

/* Real-mode delivery (8086 semantics, SDM vol. 3 20.1.4): a firmware trap
 * if `int n` ran inside the trap range, else push FLAGS, CS, IP on SS:SP,
 * clear IF, TF and AC, and load CS:IP from the IVT at IDTR.base. Segment
 * bases are selector * 16 (no unreal mode). The IVT and the stack must lie
 * in RAM (they always do below 1 MiB + 64 KiB); -2 otherwise. */
static int cpu_deliver_real(CPUState *s, int vec, int soft)
{
    uint32_t cs = reg_get(s, UC_X86_REG_CS) & 0xffff, eip = reg_get(s, UC_X86_REG_EIP);
    if (soft == 2 && s->trap_fn) {
        uint32_t at = (cs << 4) + ((eip - 2) & 0xffff);
        if (at - s->trap_base < s->trap_len)
            return s->trap_fn(s->trap_opaque, at, vec) < 0 ? -2 : 0;
    }
    uc_x86_mmr idtr;
    uc_reg_read(s->uc, UC_X86_REG_IDTR, &idtr);
    uint64_t ent = (uint32_t)idtr.base + (uint64_t)vec * 4;
    if ((uint32_t)vec * 4 + 3 > idtr.limit || !phys_ok(s, ent, 4)) {
        cpu_fail(s, "real-mode interrupt %d outside the IVT (base %#x, limit %#x)", vec, (uint32_t)idtr.base,
                 idtr.limit);
        return -2;
    }
    uint32_t iv = phys_ld32(s, ent);
    uint32_t ss = reg_get(s, UC_X86_REG_SS) & 0xffff, esp = reg_get(s, UC_X86_REG_ESP);
    uint32_t efl = reg_get(s, UC_X86_REG_EFLAGS);
    uint16_t frame[3] = { (uint16_t)efl, (uint16_t)cs, (uint16_t)eip };   /* in push order */
    uint16_t sp = (uint16_t)esp;
    for (int i = 0; i < 3; i++) {
        sp = (uint16_t)(sp - 2);
        uint64_t a = ((uint64_t)ss << 4) + sp;
        if (!phys_ok(s, a, 2)) {
            cpu_fail(s, "real-mode interrupt %d: stack %04x:%04x outside RAM", vec, ss, sp);
            return -2;
        }
        memcpy(guest_ram_ptr(&s->mem, a, 2), &frame[i], 2);
    }
    reg_set(s, UC_X86_REG_ESP, (esp & 0xffff0000u) | sp);
    if (reg_set(s, UC_X86_REG_CS, iv >> 16) != UC_ERR_OK) {
        cpu_fail(s, "cannot load CS %#x for real-mode interrupt %d", iv >> 16, vec);
        return -2;
    }
    reg_set(s, UC_X86_REG_EIP, iv & 0xffff);
    reg_set(s, UC_X86_REG_EFLAGS, efl & ~(EFLAGS_IF | EFLAGS_TF | EFLAGS_AC));
    return 0;
}

/* Delivers vector `vec` through the protected-mode IDT. soft: int n/int3/into
 * (gate DPL checked against CPL). Returns 0, or -1 with the fault met while
 * delivering, or -2 for what lbvm does not emulate (s->error set). */
static int cpu_deliver(CPUState *s, int vec, int has_err, uint32_t err, int soft, Fault *f)
{
    uc_x86_mmr idtr, tr;
    uint32_t cr0 = reg_get(s, UC_X86_REG_CR0);
    uint32_t ext = soft ? 0 : ERR_EXT;
    uint32_t gate[2], cd[2];

    if (!(cr0 & CR0_PE))
        return cpu_deliver_real(s, vec, soft);
    uc_reg_read(s->uc, UC_X86_REG_IDTR, &idtr);
    if ((uint32_t)vec * 8 + 7 > idtr.limit) {
        *f = (Fault){ VEC_GP, (uint32_t)vec * 8 + 2 + ext, 0, false };
        return -1;
    }
    if (virt_rw(s, (uint32_t)idtr.base + vec * 8, gate, 8, 0) < 0) {
        *f = (Fault){ VEC_PF, 0, (uint32_t)idtr.base + vec * 8, true };
        return -1;
    }
    int type = (gate[1] >> 8) & 0x1f, gdpl = (gate[1] >> 13) & 3;
    uint32_t cs = reg_get(s, UC_X86_REG_CS), eip = reg_get(s, UC_X86_REG_EIP);
    uint32_t ss = reg_get(s, UC_X86_REG_SS), esp = reg_get(s, UC_X86_REG_ESP);
    uint32_t efl = reg_get(s, UC_X86_REG_EFLAGS);
    int cpl = cs & 3;
    if (soft && gdpl < cpl) {
        *f = (Fault){ VEC_GP, (uint32_t)vec * 8 + 2, 0, false };
        return -1;
    }
    if (!(gate[1] & 0x8000)) {
        *f = (Fault){ VEC_NP, (uint32_t)vec * 8 + 2 + ext, 0, false };
        return -1;
    }
    if (type != 0xe && type != 0xf) {
        cpu_fail(s, "vector %d uses an IDT gate of type %d (only 32-bit interrupt/trap gates are emulated)",
                 vec, type);
        return -2;
    }
    if (efl & EFLAGS_VM) {
        cpu_fail(s, "interrupt %d in virtual-8086 mode (not emulated)", vec);
        return -2;
    }
    uint16_t sel = gate[0] >> 16;
    uint32_t off = (gate[1] & 0xffff0000u) | (gate[0] & 0xffff);
    if (!(sel & ~3u) || desc_read(s, sel, cd) < 0) {
        *f = (Fault){ VEC_GP, (sel & ~3u) + ext, 0, false };
        return -1;
    }
    int tdpl = (cd[1] >> 13) & 3;
    if (tdpl < cpl) {
        if (tdpl != 0) {
            cpu_fail(s, "interrupt %d into ring %d (only rings 0 and 3 are emulated)", vec, tdpl);
            return -2;
        }
        /* Stack switch from the 32-bit TSS: ESP0 at +4, SS0 at +8. */
        uc_reg_read(s->uc, UC_X86_REG_TR, &tr);
        uint32_t t[2], sd[2];
        if (tr.limit < 11 || virt_rw(s, (uint32_t)tr.base + 4, t, 8, 0) < 0) {
            *f = (Fault){ 10, (tr.selector & ~3u) + ext, 0, false };
            return -1;
        }
        uint32_t esp0 = t[0], ss0 = t[1] & 0xffff;
        if (!(ss0 & ~3u) || desc_read(s, (uint16_t)ss0, sd) < 0) {
            *f = (Fault){ 10, (ss0 & ~3u) + ext, 0, false };
            return -1;
        }
        /* Check the whole frame can be written before touching the CPU. */
        uint32_t nesp = esp0, sb = desc_base(sd);
        uint32_t frame[6];
        int n = 0;
        if (has_err)
            frame[n++] = err;
        frame[n++] = eip;
        frame[n++] = cs;
        frame[n++] = efl;
        frame[n++] = esp;
        frame[n++] = ss;
        nesp -= 4 * n;
        if (virt_rw(s, sb + nesp, frame, 4 * n, 1) < 0) {
            *f = (Fault){ VEC_PF, PFEC_W, sb + nesp, true };
            return -1;
        }
        /* QUIRK(ring-switch): at CPL 3 a CS or SS write with a DPL-0
         * selector is refused. Preferred: clear the CPL bits of hflags in the
         * context blob (found by cpu_probe_cpl), then load SS (which sets CPL
         * from its DPL). Fallback: a real-mode segment load sets CPL 0: clear
         * PE, load SS=0, set PE again; but each CR0 write flushes the TLB. */
        int sw;
        if (s->ctx_hflags_off >= 0) {
            uint32_t hf;
            uc_context_save(s->uc, s->ctx);
            memcpy(&hf, (uint8_t *)s->ctx + s->ctx_hflags_off, 4);
            hf &= ~3u;
            memcpy((uint8_t *)s->ctx + s->ctx_hflags_off, &hf, 4);
            sw = uc_context_restore(s->uc, s->ctx) || reg_set(s, UC_X86_REG_SS, ss0);
        } else {
            sw = reg_set(s, UC_X86_REG_CR0, cr0 & ~CR0_PE) || reg_set(s, UC_X86_REG_SS, 0) ||
                 reg_set(s, UC_X86_REG_CR0, cr0) || reg_set(s, UC_X86_REG_SS, ss0);
        }
        if (sw) {
            cpu_fail(s, "cannot switch to ring 0 for vector %d", vec);
            return -2;
        }
        reg_set(s, UC_X86_REG_ESP, nesp);
    } else {
        uint32_t sd[2], sb = 0;
        if (desc_read(s, (uint16_t)ss, sd) == 0)
            sb = desc_base(sd);
        if (push32(s, sb, &esp, efl, f) || push32(s, sb, &esp, cs, f) || push32(s, sb, &esp, eip, f) ||
            (has_err && push32(s, sb, &esp, err, f)))
            return -1;
        reg_set(s, UC_X86_REG_ESP, esp);
    }
    if (reg_set(s, UC_X86_REG_CS, sel) != UC_ERR_OK) {
        cpu_fail(s, "cannot load CS %#x for vector %d", sel, vec);
        return -2;
    }
    reg_set(s, UC_X86_REG_EIP, off);
    efl &= ~(EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM);
    if (type == 0xe)
        efl &= ~EFLAGS_IF;
    reg_set(s, UC_X86_REG_EFLAGS, efl);
    return 0;
}

/* Byte of guest code at CS:eip (0 if unreadable). */
static uint8_t code_byte(CPUState *s, uint32_t eip)
{
    uint8_t op = 0;
    uint32_t cs_base = 0, d[2], cs = reg_get(s, UC_X86_REG_CS) & 0xffff;
    if (!(reg_get(s, UC_X86_REG_CR0) & CR0_PE))
        cs_base = cs << 4, eip &= 0xffff;
    else if (desc_read(s, (uint16_t)cs, d) == 0)
        cs_base = desc_base(d);
    if (cpu_read_virt(s, cs_base + eip, &op, 1) < 0)
        return 0;
    return op;
}

static int is_contributory(int vec)
{
    return vec == VEC_DE || (vec >= 10 && vec <= VEC_GP);
}

/* Delivers an event; a fault while delivering is handled serially or becomes
 * #DF as in SDM vol. 3 table 6-5, and one while delivering #DF is a triple
 * fault (fatal). soft is the length of the int n / int3 / into instruction
 * (EIP is past it), 0 for other events. */
static int cpu_raise(CPUState *s, int vec, int has_err, uint32_t err, int soft)
{
    Fault f;
    for (int depth = 0;; depth++) {
        int r = cpu_deliver(s, vec, has_err, err, soft, &f);
        if (r == 0) {
            if (soft)
                s->stats.soft_ints++;
            else if (vec < 32)
                s->stats.exceptions[vec]++;
            return 0;
        }
        if (r == -2)
            return -1;
        if (vec == VEC_DF || depth >= 3) {
            cpu_fail(s, "triple fault (fault %d while delivering double fault)", f.vec);
            return -1;
        }
        if (f.pf)
            reg_set(s, UC_X86_REG_CR2, f.cr2);
        /* A fault raised by the software interrupt itself (gate DPL, not
         * present, stack) is a fault on that instruction. */
        if (soft)
            reg_set(s, UC_X86_REG_EIP, reg_get(s, UC_X86_REG_EIP) - (uint32_t)soft);
        if (!soft && ((is_contributory(vec) && is_contributory(f.vec)) ||
            (vec == VEC_PF && (f.vec == VEC_PF || is_contributory(f.vec))))) {
            vec = VEC_DF;
            has_err = 1;
            err = 0;
        } else {
            vec = f.vec;
            has_err = has_error_code(f.vec);
            err = f.err;
        }
        soft = 0;
    }
}

/* ---- run loop ---- */

CPUExit cpu_run(CPUState *s)
{
    for (;;) {
        if (s->stop_requested) {
            s->stop_requested = false;
            cpu_update_stop_at(s);
            return CPU_EXIT_STOPPED;
        }
        if (s->clock->now >= vclock_next_deadline(s->clock))
            return CPU_EXIT_DEADLINE;
        if (s->intr_level && (reg_get(s, UC_X86_REG_EFLAGS) & EFLAGS_IF)) {
            /* sti's interrupt shadow: Unicorn ends the block after sti, so
             * an interrupt would land before the next instruction. For
             * "sti; hlt" (the idle loop) that loses the wake-up: the hlt
             * starts, the interrupt ends it, and it returns past the hlt. */
            uint32_t ip = reg_get(s, UC_X86_REG_EIP);
            if (code_byte(s, ip) == 0xf4 && code_byte(s, ip - 1) == 0xfb)
                reg_set(s, UC_X86_REG_EIP, ip + 1);
            s->halted = false;
            int vec = s->ic.ack(s->ic.opaque);
            s->stats.hw_irqs++;
            if (cpu_raise(s, vec, 0, 0, 0) < 0)
                return CPU_EXIT_FATAL;
            continue;
        }
        if (s->halted) {
            /* Idle until an interrupt: jump the clock to the next deadline.
             * Timers that raise nothing (or a stop request) leave the CPU
             * halted, as on real hardware. */
            uint64_t next = vclock_next_deadline(s->clock);
            if (next == VCLOCK_NEVER) {
                cpu_fail(s, "hlt with no interrupt source armed: the guest would wait forever");
                return CPU_EXIT_FATAL;
            }
            if (next > s->clock->now)
                s->clock->now = next;
            continue;
        }
        cpu_update_stop_at(s);
        s->pending_exc = -1;
        s->pf_pending = false;
        s->hook_stopped = false;
        s->in_emu = true;
        uint32_t eip = reg_get(s, UC_X86_REG_EIP);
        uc_err e = uc_emu_start(s->uc, eip, 0, 0, 0);
        s->in_emu = false;
        s->stats.emu_starts++;
        if (s->fatal_in_hook)
            return CPU_EXIT_FATAL;
        if (e == UC_ERR_EXCEPTION && s->pf_pending && s->pending_exc < 0) {
            reg_set(s, UC_X86_REG_CR2, s->pf_addr & ~0xfffu);
            if (cpu_raise(s, VEC_PF, 1, s->pf_err, 0) < 0)
                return CPU_EXIT_FATAL;
            continue;
        }
        if (s->pending_exc >= 0) {
            int vec = s->pending_exc;
            /* Vectors >= 32 only come from int n (lbvm delivers hardware
             * interrupts itself); below 32 the context says whether int n,
             * int3 or into raised it (EIP is then past the instruction). */
            uint32_t err = 0;
            int is_int = 1;
            if (vec < 32)
                err = cpu_take_error_code(s, &is_int);
            int soft = 0;
            if (is_int) {
                uint32_t ip = reg_get(s, UC_X86_REG_EIP);
                uint8_t op = code_byte(s, ip - 1);
                soft = (vec == 4 && op == 0xce) || (vec == 3 && op == 0xcc) ? 1 : 2;
            }
            if (cpu_raise(s, vec, !soft && has_error_code(vec), err, soft) < 0)
                return CPU_EXIT_FATAL;
            continue;
        }
        if (e != UC_ERR_OK) {
            cpu_fail(s, "emulation error at %#x: %s", reg_get(s, UC_X86_REG_EIP), uc_strerror(e));
            return CPU_EXIT_FATAL;
        }
        if (s->hook_stopped)
            continue;
        /* QUIRK(hlt): hlt ends uc_emu_start with UC_ERR_OK and EIP after it. */
        eip = reg_get(s, UC_X86_REG_EIP);
        if (code_byte(s, eip - 1) != 0xf4) {
            if (s->stop_requested)
                continue;
            cpu_fail(s, "emulation stopped at %#x for no known reason", eip);
            return CPU_EXIT_FATAL;
        }
        bool intr_on = (reg_get(s, UC_X86_REG_EFLAGS) & EFLAGS_IF) != 0;
        if (s->stop_requested && !intr_on) {
            /* The stop was asked for in the hlt's block: report it first
             * and run the hlt again on resume. */
            reg_set(s, UC_X86_REG_EIP, eip - 1);
            continue;
        }
        s->stats.halts++;
        if (!intr_on)
            return CPU_EXIT_HALTED;
        s->halted = true;
    }
}

void cpu_set_intr(void *opaque, int irq_num, int level)
{
    CPUState *s = opaque;
    (void)irq_num;
    s->intr_level = level;
    cpu_update_stop_at(s);
}

void cpu_deadline_changed(void *opaque)
{
    cpu_update_stop_at(opaque);
}

void cpu_request_stop(CPUState *s)
{
    s->stop_requested = true;
    cpu_update_stop_at(s);
}

void cpu_clear_stop(CPUState *s)
{
    s->stop_requested = false;
    cpu_update_stop_at(s);
}

void cpu_set_intr_controller(CPUState *s, const CPUIntrController *ic)
{
    s->ic = *ic;
}

void cpu_invalidate_code(CPUState *s, uint64_t pa, uint64_t len)
{
    /* QUIRK(host-write): host writes to RAM do not invalidate translated
     * code. uc_ctl_remove_cache takes virtual addresses, so drop everything
     * when the range holds code. The range is RAM (the device checked it). */
    uint64_t off = guest_ram_offset(&s->mem, pa, len);
    if (off == UINT64_MAX || !len)
        return;
    for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12; p++)
        if (s->codepage[p]) {
            uc_ctl_flush_tb(s->uc);
            return;
        }
}

static const int cpu_reg_ids[] = {
    UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX, UC_X86_REG_ESP, UC_X86_REG_EBP,
    UC_X86_REG_ESI, UC_X86_REG_EDI, UC_X86_REG_EIP, UC_X86_REG_EFLAGS, UC_X86_REG_ES, UC_X86_REG_CS,
    UC_X86_REG_SS, UC_X86_REG_DS, UC_X86_REG_FS, UC_X86_REG_GS, UC_X86_REG_CR0,
};

uint32_t cpu_reg(CPUState *s, CPUReg r)
{
    return reg_get(s, cpu_reg_ids[r]);
}

void cpu_set_reg(CPUState *s, CPUReg r, uint32_t v)
{
    reg_set(s, cpu_reg_ids[r], v);
}

void cpu_set_error(CPUState *s, const char *msg)
{
    cpu_fail(s, "%s", msg);
}

void cpu_set_trap(CPUState *s, uint32_t base, uint32_t len, CPUTrapFunc *fn, void *opaque)
{
    s->trap_base = base;
    s->trap_len = len;
    s->trap_fn = fn;
    s->trap_opaque = opaque;
}

const char *cpu_error(CPUState *s)
{
    return s->error;
}

bool cpu_has_fast_ring_switch(const CPUState *s)
{
    return s->ctx_hflags_off >= 0;
}

const CPUStats *cpu_stats(CPUState *s)
{
    return &s->stats;
}

void cpu_dump(CPUState *s, void *file)
{
    FILE *f = file;
    fprintf(f, "  EIP=%08x EFLAGS=%08x CS=%04x SS=%04x DS=%04x ES=%04x FS=%04x GS=%04x\n",
            reg_get(s, UC_X86_REG_EIP), reg_get(s, UC_X86_REG_EFLAGS), reg_get(s, UC_X86_REG_CS),
            reg_get(s, UC_X86_REG_SS), reg_get(s, UC_X86_REG_DS), reg_get(s, UC_X86_REG_ES),
            reg_get(s, UC_X86_REG_FS), reg_get(s, UC_X86_REG_GS));
    fprintf(f, "  EAX=%08x EBX=%08x ECX=%08x EDX=%08x ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n",
            reg_get(s, UC_X86_REG_EAX), reg_get(s, UC_X86_REG_EBX), reg_get(s, UC_X86_REG_ECX),
            reg_get(s, UC_X86_REG_EDX), reg_get(s, UC_X86_REG_ESI), reg_get(s, UC_X86_REG_EDI),
            reg_get(s, UC_X86_REG_EBP), reg_get(s, UC_X86_REG_ESP));
    fprintf(f, "  CR0=%08x CR2=%08x CR3=%08x CR4=%08x ticks=%llu\n", reg_get(s, UC_X86_REG_CR0),
            reg_get(s, UC_X86_REG_CR2), reg_get(s, UC_X86_REG_CR3), reg_get(s, UC_X86_REG_CR4),
            (unsigned long long)s->clock->now);
}

/* ---- checkpoints ---- */

/* The saved CPU, as plain values: what cpu_state writes field by field. */
typedef struct SegCache {
    uint32_t sel, base, limit, flags;
} SegCache;

typedef struct ArchState {
    uint32_t gpr[8], eip, eflags;
    SegCache seg[6];          /* ES CS SS DS FS GS, as the caches hold them */
    SegCache ldtr, tr;
    uint32_t gdt_base, gdt_limit, idt_base, idt_limit;
    uint32_t cr[5];           /* CR1 is kept 0 */
    uint32_t dr[8];           /* DR4/DR5 are kept 0 */
    uint64_t msr[CPU_N_MSRS];
    uint16_t fpcw, fpsw, fptag, fop;
    uint16_t fcs, fds;
    uint32_t fip, fdp;
    uint64_t fp_mant[8];
    uint16_t fp_exp[8];
    uint32_t mxcsr;
    uint64_t xmm[8][2];
    uint8_t cpl;
    uint8_t inhibit_irq;      /* the instruction after sti / mov ss */
} ArchState;

/* MSRs a 32-bit kernel may write on this CPU model. */
static const uint32_t cpu_msrs[CPU_N_MSRS] = {
    0x174, 0x175, 0x176,      /* SYSENTER_CS/ESP/EIP */
    0x277,                    /* PAT */
    0xc0000080,               /* EFER */
};

static const int gpr_ids[8] = { UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX,
                                UC_X86_REG_ESP, UC_X86_REG_EBP, UC_X86_REG_ESI, UC_X86_REG_EDI };
static const int seg_ids[6] = { UC_X86_REG_ES, UC_X86_REG_CS, UC_X86_REG_SS,
                                UC_X86_REG_DS, UC_X86_REG_FS, UC_X86_REG_GS };
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };
/* QEMU hflags bits next to the CPL (target/i386/cpu.h): HF_INHIBIT_IRQ is
 * bit 3; pinned by tests/unit/test_unicorn_quirks.c. */
#define HF_INHIBIT_IRQ (1u << 3)

const char *cpu_no_checkpoint_why(const CPUState *s)
{
    if (!uc_vmem_read)          /* QUIRK(tlb-canonical) */
        return "this Unicorn has no uc_vmem_read (2.1.4 and newer): a resumed run could not continue with the "
               "TLB of the run that went on, so checkpoints are unavailable";
    bool segs = true;
    for (int r = 0; r < 6; r++)
        for (int f = 0; f < 4; f++)
            segs = segs && s->ctx_seg_off[r][f] >= 0;
    if (s->ctx_hflags_off < 0 || !segs)
        return "this Unicorn build's CPU context layout is not understood: checkpoints are unavailable";
    return NULL;
}

bool cpu_can_checkpoint(const CPUState *s)
{
    return cpu_no_checkpoint_why(s) == NULL;
}

static uint32_t ctx_get(CPUState *s, long off)
{
    uint32_t v;
    memcpy(&v, (uint8_t *)s->ctx + off, 4);
    return v;
}

static void ctx_put(CPUState *s, long off, uint32_t v)
{
    memcpy((uint8_t *)s->ctx + off, &v, 4);
}

static void mmr_to_seg(const uc_x86_mmr *m, SegCache *c)
{
    *c = (SegCache){ m->selector, (uint32_t)m->base, m->limit, m->flags };
}

static void arch_read(CPUState *s, ArchState *a)
{
    uc_x86_mmr m;
    memset(a, 0, sizeof *a);
    for (int i = 0; i < 8; i++)
        a->gpr[i] = reg_get(s, gpr_ids[i]);
    a->eip = reg_get(s, UC_X86_REG_EIP);
    a->eflags = reg_get(s, UC_X86_REG_EFLAGS);
    uc_context_save(s->uc, s->ctx);
    for (int r = 0; r < 6; r++) {
        a->seg[r].sel = ctx_get(s, s->ctx_seg_off[r][0]) & 0xffff;
        a->seg[r].base = ctx_get(s, s->ctx_seg_off[r][1]);
        a->seg[r].limit = ctx_get(s, s->ctx_seg_off[r][2]);
        a->seg[r].flags = ctx_get(s, s->ctx_seg_off[r][3]);
    }
    uint32_t hf = ctx_get(s, s->ctx_hflags_off);
    a->cpl = hf & 3;
    a->inhibit_irq = (hf & HF_INHIBIT_IRQ) != 0;
    uc_reg_read(s->uc, UC_X86_REG_LDTR, &m);
    mmr_to_seg(&m, &a->ldtr);
    uc_reg_read(s->uc, UC_X86_REG_TR, &m);
    mmr_to_seg(&m, &a->tr);
    uc_reg_read(s->uc, UC_X86_REG_GDTR, &m);
    a->gdt_base = (uint32_t)m.base;
    a->gdt_limit = m.limit;
    uc_reg_read(s->uc, UC_X86_REG_IDTR, &m);
    a->idt_base = (uint32_t)m.base;
    a->idt_limit = m.limit;
    a->cr[0] = reg_get(s, UC_X86_REG_CR0);
    a->cr[2] = reg_get(s, UC_X86_REG_CR2);
    a->cr[3] = reg_get(s, UC_X86_REG_CR3);
    a->cr[4] = reg_get(s, UC_X86_REG_CR4);
    for (int i = 0; i < 8; i++)
        if (i != 4 && i != 5)
            a->dr[i] = reg_get(s, UC_X86_REG_DR0 + i);
    for (int i = 0; i < CPU_N_MSRS; i++) {
        uc_x86_msr msr = { cpu_msrs[i], 0 };
        uc_reg_read(s->uc, UC_X86_REG_MSR, &msr);
        a->msr[i] = msr.value;
    }
    uint32_t v = 0;
    uc_reg_read(s->uc, UC_X86_REG_FPCW, &v); a->fpcw = (uint16_t)v; v = 0;
    uc_reg_read(s->uc, UC_X86_REG_FPSW, &v); a->fpsw = (uint16_t)v; v = 0;
    uc_reg_read(s->uc, UC_X86_REG_FPTAG, &v); a->fptag = (uint16_t)v; v = 0;
    uc_reg_read(s->uc, UC_X86_REG_FOP, &v); a->fop = (uint16_t)v; v = 0;
    uc_reg_read(s->uc, UC_X86_REG_FCS, &v); a->fcs = (uint16_t)v; v = 0;
    uc_reg_read(s->uc, UC_X86_REG_FDS, &v); a->fds = (uint16_t)v; v = 0;
    uc_reg_read(s->uc, UC_X86_REG_FIP, &a->fip);
    uc_reg_read(s->uc, UC_X86_REG_FDP, &a->fdp);
    for (int i = 0; i < 8; i++) {
        uint8_t f[16] = { 0 };  /* 80-bit: mantissa, then sign and exponent */
        uc_reg_read(s->uc, UC_X86_REG_FP0 + i, f);
        memcpy(&a->fp_mant[i], f, 8);
        memcpy(&a->fp_exp[i], f + 8, 2);
        uc_reg_read(s->uc, UC_X86_REG_XMM0 + i, a->xmm[i]);
    }
    uc_reg_read(s->uc, UC_X86_REG_MXCSR, &a->mxcsr);
}

/* Sets the CPL bits (and the interrupt shadow) of hflags in the context. */
static int set_hflags_low(CPUState *s, uint32_t cpl, int inhibit, bool set_inhibit)
{
    uc_context_save(s->uc, s->ctx);
    uint32_t hf = (ctx_get(s, s->ctx_hflags_off) & ~3u) | cpl;
    if (set_inhibit)
        hf = (hf & ~HF_INHIBIT_IRQ) | (inhibit ? HF_INHIBIT_IRQ : 0);
    ctx_put(s, s->ctx_hflags_off, hf);
    return uc_context_restore(s->uc, s->ctx) ? -1 : 0;
}

/* Loads a segment register through the API (which reads the GDT/LDT and
 * recomputes Unicorn's derived flags), leaving guest RAM untouched: the load
 * sets the descriptor's accessed bit if it was clear, so put the old bytes back. */
static int seg_load(CPUState *s, int r, uint32_t sel)
{
    uint32_t d[2];
    int have = (sel & ~3u) && desc_read(s, (uint16_t)sel, d) == 0;
    if (reg_set(s, seg_ids[r], sel))
        return -1;
    uint32_t now[2];
    if (have && desc_read(s, (uint16_t)sel, now) == 0 && memcmp(now, d, 8)) {
        uc_x86_mmr t;
        uc_reg_read(s->uc, (sel & 4) ? UC_X86_REG_LDTR : UC_X86_REG_GDTR, &t);
        virt_rw(s, (uint32_t)t.base + (sel & ~7u), d, 8, 1);
    }
    return 0;
}

/* QUIRK(seg-cache): a segment whose descriptor cannot be read back now, as
 * the guest dropped its GDT after loading it: Linux's machine_kexec loads a
 * null GDT, then relocate_kernel turns paging off and copies the new kernel
 * for a long while with the old CS/DS/SS caches (a SIGTERM checkpoint lands
 * there). Unicorn's API loads only from a table, so load the selector through
 * a table at linear 0 holding one descriptor made from the saved cache, put
 * back the RAM it used and the real GDTR. Without paging only: linear is then
 * physical, and no page-table bits change. The caches are patched afterwards
 * as for any other segment. */
static int seg_load_saved(CPUState *s, int r, const SegCache *c, const ArchState *a)
{
    uint32_t at = c->sel & ~7u;
    if ((a->cr[0] & CR0_PG) || (c->sel & 4) || !at || !phys_ok(s, at, 8))
        return -1;
    uint32_t lim = (c->flags & (1u << 23)) ? c->limit >> 12 : c->limit;
    uint32_t d[2] = { (lim & 0xffff) | (c->base << 16),
                      ((c->base >> 16) & 0xff) | (c->flags & 0x00f0ff00u & ~0x000f0000u) |
                      (lim & 0xf0000) | (c->base & 0xff000000u) };
    uint8_t old[8];
    uint8_t *slot = guest_ram_ptr(&s->mem, at, 8);
    memcpy(old, slot, 8);
    memcpy(slot, d, 8);
    uc_x86_mmr t = { 0, 0, at + 7, 0 };
    int rc = uc_reg_write(s->uc, UC_X86_REG_GDTR, &t) || reg_set(s, seg_ids[r], c->sel);
    memcpy(slot, old, 8);
    t = (uc_x86_mmr){ 0, a->gdt_base, a->gdt_limit, 0 };
    if (uc_reg_write(s->uc, UC_X86_REG_GDTR, &t))
        rc = -1;
    return rc ? -1 : 0;
}

static const char *const seg_names[6] = { "ES", "CS", "SS", "DS", "FS", "GS" };

static int arch_write(CPUState *s, const ArchState *a, char *err, size_t errlen)
{
    uc_err e = UC_ERR_OK;
    uc_x86_mmr m;
    m = (uc_x86_mmr){ 0, a->gdt_base, a->gdt_limit, 0 };
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_GDTR, &m);
    m = (uc_x86_mmr){ 0, a->idt_base, a->idt_limit, 0 };
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_IDTR, &m);
    m = (uc_x86_mmr){ (uint16_t)a->ldtr.sel, a->ldtr.base, a->ldtr.limit, a->ldtr.flags };
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_LDTR, &m);
    m = (uc_x86_mmr){ (uint16_t)a->tr.sel, a->tr.base, a->tr.limit, a->tr.flags };
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_TR, &m);
    for (int i = 0; i < CPU_N_MSRS && !e; i++) {
        uc_x86_msr msr = { cpu_msrs[i], a->msr[i] };
        e = uc_reg_write(s->uc, UC_X86_REG_MSR, &msr);
    }
    if (!e) e = reg_set(s, UC_X86_REG_CR4, a->cr[4]);
    if (!e) e = reg_set(s, UC_X86_REG_CR3, a->cr[3]);
    if (!e) e = reg_set(s, UC_X86_REG_CR0, a->cr[0]);
    if (!e) e = reg_set(s, UC_X86_REG_CR2, a->cr[2]);
    for (int i = 0; i < 8 && !e; i++)
        if (i != 4 && i != 5)
            e = reg_set(s, UC_X86_REG_DR0 + i, a->dr[i]);
    uint16_t w;
    w = a->fpcw; if (!e) e = uc_reg_write(s->uc, UC_X86_REG_FPCW, &w);
    w = a->fpsw; if (!e) e = uc_reg_write(s->uc, UC_X86_REG_FPSW, &w);
    w = a->fptag; if (!e) e = uc_reg_write(s->uc, UC_X86_REG_FPTAG, &w);
    w = a->fop; if (!e) e = uc_reg_write(s->uc, UC_X86_REG_FOP, &w);
    w = a->fcs; if (!e) e = uc_reg_write(s->uc, UC_X86_REG_FCS, &w);
    w = a->fds; if (!e) e = uc_reg_write(s->uc, UC_X86_REG_FDS, &w);
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_FIP, &a->fip);
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_FDP, &a->fdp);
    for (int i = 0; i < 8 && !e; i++) {
        uint8_t f[16] = { 0 };
        memcpy(f, &a->fp_mant[i], 8);
        memcpy(f + 8, &a->fp_exp[i], 2);
        e = uc_reg_write(s->uc, UC_X86_REG_FP0 + i, f);
        if (!e) e = uc_reg_write(s->uc, UC_X86_REG_XMM0 + i, a->xmm[i]);
    }
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_MXCSR, &a->mxcsr);
    for (int i = 0; i < 8 && !e; i++)
        e = reg_set(s, gpr_ids[i], a->gpr[i]);
    if (!e) e = reg_set(s, UC_X86_REG_EFLAGS, a->eflags);
    if (!e) e = reg_set(s, UC_X86_REG_EIP, a->eip);
    if (e) {
        snprintf(err, errlen, "cannot restore the CPU registers: %s", uc_strerror(e));
        return -1;
    }
    /* Segments: at CPL 0 every data and code selector loads; SS last, at its
     * own CPL (a load checks RPL = DPL = CPL), which it then sets. */
    if (set_hflags_low(s, 0, 0, false) < 0)
        goto bad_cpl;
    static const int order[5] = { SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS };
    for (int i = 0; i < 5; i++)
        if (seg_load(s, order[i], a->seg[order[i]].sel) < 0 &&
            seg_load_saved(s, order[i], &a->seg[order[i]], a) < 0) {
            snprintf(err, errlen, "cannot restore %s %#x: its descriptor is not loadable now",
                     seg_names[order[i]], a->seg[order[i]].sel);
            return -1;
        }
    if (set_hflags_low(s, a->cpl, 0, false) < 0)
        goto bad_cpl;
    if ((a->cr[0] & CR0_PE) && seg_load(s, SEG_SS, a->seg[SEG_SS].sel) < 0 &&
        seg_load_saved(s, SEG_SS, &a->seg[SEG_SS], a) < 0) {
        snprintf(err, errlen, "cannot restore SS %#x at CPL %u", a->seg[SEG_SS].sel, a->cpl);
        return -1;
    }
    if (!(a->cr[0] & CR0_PE) && reg_set(s, UC_X86_REG_SS, a->seg[SEG_SS].sel))
        goto bad_cpl;
    /* QUIRK(seg-cache): the guest may have changed a descriptor since it
     * loaded it; put the saved caches back. Only FS/GS-style differences
     * (base, limit) are patched; a change that Unicorn folds into derived
     * flags (CS/SS size, a data base turning non-zero) is refused. */
    uc_context_save(s->uc, s->ctx);
    for (int r = 0; r < 6; r++) {
        const SegCache *c = &a->seg[r];
        uint32_t base = ctx_get(s, s->ctx_seg_off[r][1]), flags = ctx_get(s, s->ctx_seg_off[r][3]);
        bool derived = ((r == SEG_CS || r == SEG_SS) && ((flags ^ c->flags) & (1u << 22))) ||
                       ((r == SEG_DS || r == SEG_ES || r == SEG_SS) && (!base != !c->base));
        if (derived) {
            snprintf(err, errlen, "cannot restore %s %#x: its descriptor changed in a way Unicorn's "
                     "API cannot express", seg_names[r], c->sel);
            return -1;
        }
        ctx_put(s, s->ctx_seg_off[r][1], c->base);
        ctx_put(s, s->ctx_seg_off[r][2], c->limit);
        ctx_put(s, s->ctx_seg_off[r][3], c->flags);
    }
    uint32_t hf = ctx_get(s, s->ctx_hflags_off);
    if ((hf & 3) != a->cpl)
        goto bad_cpl;
    ctx_put(s, s->ctx_hflags_off, (hf & ~HF_INHIBIT_IRQ) | (a->inhibit_irq ? HF_INHIBIT_IRQ : 0));
    if (uc_context_restore(s->uc, s->ctx))
        goto bad_cpl;
    return 0;
bad_cpl:
    snprintf(err, errlen, "cannot restore CPL %u", a->cpl);
    return -1;
}

static void seg_fields(StateIO *io, const char *name, SegCache *c)
{
    char n[32];
    snprintf(n, sizeof n, "%s.sel", name);
    state_u32(io, n, &c->sel);
    snprintf(n, sizeof n, "%s.base", name);
    state_u32(io, n, &c->base);
    snprintf(n, sizeof n, "%s.limit", name);
    state_u32(io, n, &c->limit);
    snprintf(n, sizeof n, "%s.flags", name);
    state_u32(io, n, &c->flags);
    state_check(io, c->sel <= 0xffff, "%s: selector %#x out of range", name, c->sel);
}

void cpu_state(CPUState *s, StateIO *io)
{
    ArchState a;
    if (!cpu_can_checkpoint(s)) {
        state_fail(io, "%s", cpu_no_checkpoint_why(s));
        return;
    }
    if (!state_loading(io))
        arch_read(s, &a);
    else
        memset(&a, 0, sizeof a);
    state_u32s(io, "gpr", a.gpr, 8);
    state_u32(io, "eip", &a.eip);
    state_u32(io, "eflags", &a.eflags);
    for (int r = 0; r < 6; r++)
        seg_fields(io, seg_names[r], &a.seg[r]);
    seg_fields(io, "LDTR", &a.ldtr);
    seg_fields(io, "TR", &a.tr);
    state_u32(io, "gdtr.base", &a.gdt_base);
    state_u32(io, "gdtr.limit", &a.gdt_limit);
    state_u32(io, "idtr.base", &a.idt_base);
    state_u32(io, "idtr.limit", &a.idt_limit);
    state_u32s(io, "cr", a.cr, 5);
    state_u32s(io, "dr", a.dr, 8);
    uint32_t msr_index[CPU_N_MSRS];
    memcpy(msr_index, cpu_msrs, sizeof msr_index);
    state_u32s(io, "msr.index", msr_index, CPU_N_MSRS);
    state_check(io, !memcmp(msr_index, cpu_msrs, sizeof msr_index), "CPU: the checkpoint saved other MSRs");
    state_u64s(io, "msr.value", a.msr, CPU_N_MSRS);
    state_u16(io, "fpu.cw", &a.fpcw);
    state_u16(io, "fpu.sw", &a.fpsw);
    state_u16(io, "fpu.tag", &a.fptag);
    state_u16(io, "fpu.op", &a.fop);
    state_u16(io, "fpu.cs", &a.fcs);
    state_u32(io, "fpu.ip", &a.fip);
    state_u16(io, "fpu.ds", &a.fds);
    state_u32(io, "fpu.dp", &a.fdp);
    state_u64s(io, "fpu.st.mantissa", a.fp_mant, 8);
    for (int i = 0; i < 8; i++) {
        char n[24];
        snprintf(n, sizeof n, "fpu.st%d.exponent", i);
        state_u16(io, n, &a.fp_exp[i]);
    }
    state_u32(io, "mxcsr", &a.mxcsr);
    state_u64s(io, "xmm", &a.xmm[0][0], 16);
    state_u8(io, "cpl", &a.cpl);
    state_u8(io, "inhibit_irq", &a.inhibit_irq);
    /* The layer's own state: halted in hlt, the TSC floor, the code map. */
    state_bool(io, "halted", &s->halted);
    state_u64(io, "last_tsc", &s->last_tsc);
    size_t npages = s->mem.size >> 12, nbytes = (npages + 7) / 8;
    uint8_t *bits = calloc(nbytes ? nbytes : 1, 1);
    if (!bits) {
        state_fail(io, "out of memory");
        return;
    }
    if (!state_loading(io))
        for (size_t p = 0; p < npages; p++)
            if (s->codepage[p])
                bits[p >> 3] |= (uint8_t)(1u << (p & 7));
    state_u8s(io, "codepages", bits, nbytes);
    if (!state_loading(io) || !state_ok(io)) {
        free(bits);
        return;
    }
    for (size_t p = 0; p < npages; p++)
        s->codepage[p] = (bits[p >> 3] >> (p & 7)) & 1;
    free(bits);
    state_check(io, a.cpl <= 3 && a.inhibit_irq <= 1, "CPU: CPL %u / interrupt shadow %u out of range", a.cpl,
                a.inhibit_irq);
    state_check(io, !s->halted || (a.eflags & EFLAGS_IF), "CPU: halted with interrupts off");
    state_check(io, a.gdt_limit <= 0xffff && a.idt_limit <= 0xffff, "CPU: descriptor table limit out of range");
    if (!state_ok(io))
        return;
    char err[200];
    s->restoring = true;
    int rc = arch_write(s, &a, err, sizeof err);
    s->restoring = false;
    cpu_flush_caches(s);
    if (rc < 0)
        state_fail(io, "CPU: %s", err);
}

void cpu_events_state(CPUState *s, StateIO *io)
{
    cpu_stats_state(&s->stats, io);
}

void cpu_stats_state(CPUStats *c, StateIO *io)
{
    state_u64s(io, "exceptions", c->exceptions, 32);
    state_u64(io, "soft_ints", &c->soft_ints);
    state_u64(io, "hw_irqs", &c->hw_irqs);
    state_u64(io, "page_faults", &c->page_faults);
    state_u64s(io, "tlb_fills", c->tlb_fills, 3);
    state_u64(io, "code_flushes", &c->code_flushes);
    state_u64(io, "emu_starts", &c->emu_starts);
    state_u64(io, "blocks", &c->blocks);
    state_u64(io, "rdtsc", &c->rdtsc);
    state_u64(io, "halts", &c->halts);
}

/* QUIRK(hooked-regions): Unicorn records every (virtual address, size) a
 * block hook instrumented, in a table of the hook's that only uc_hook_del
 * empties (include/uc_priv.h hooked_regions_add; a tb flush leaves it). A
 * guest that runs ever new code (processes with address-space randomisation)
 * grows it without bound: 0.8 GiB of host memory in 40 minutes of a build.
 * So the block hook is deleted and added again where every translation is
 * thrown away anyway, after the tb flush: uc_hook_del invalidates each
 * recorded region (one by one, seconds per checkpoint while code is left)
 * through a code TLB fill of its stale virtual address; those fills map the
 * unassigned page (drop_fill) and the caller flushes the TLB. */
static void cpu_drop_hooked_regions(CPUState *s)
{
    s->drop_fill = true;
    uc_hook_del(s->uc, s->block_hook);
    s->drop_fill = false;
    if (uc_hook_add(s->uc, &s->block_hook, UC_HOOK_BLOCK, cpu_hook_block, s, 1, 0) != UC_ERR_OK) {
        fprintf(stderr, "lbvm: internal error: cannot add the block hook again\n");
        abort();
    }
}

void cpu_flush_caches(CPUState *s)
{
    uc_ctl_flush_tb(s->uc);
    cpu_drop_hooked_regions(s);     /* after: there is no code left to invalidate */
    cpu_tlb_canonical(s);       /* QUIRK(tlb-host-time) */
    s->cur_gen++;
}

/* ---- set-up ---- */

/* Protected mode, paging off, interrupts off, flat segments from the GDT
 * at gdt_base; EAX, EBX, ESI as given, the other GPRs zero. */
static int cpu_setup_flat32(CPUState *s, uint32_t gdt_base, uint16_t gdt_limit, uint16_t cs, uint16_t ds,
                            uint32_t entry, uint32_t eax, uint32_t ebx, uint32_t esi, char *err, size_t errlen)
{
    uc_x86_mmr gdtr = { 0, gdt_base, gdt_limit, 0 }, idtr = { 0, 0, 0, 0 };
    uc_err e = UC_ERR_OK;
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_GDTR, &gdtr);
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_IDTR, &idtr);
    if (!e) e = reg_set(s, UC_X86_REG_CR0, CR0_PE | 0x10);
    static const int data_segs[] = { UC_X86_REG_SS, UC_X86_REG_DS, UC_X86_REG_ES, UC_X86_REG_FS, UC_X86_REG_GS };
    for (size_t i = 0; i < sizeof data_segs / sizeof data_segs[0] && !e; i++)
        e = reg_set(s, data_segs[i], ds);
    if (!e) e = reg_set(s, UC_X86_REG_CS, cs);
    if (!e) e = reg_set(s, UC_X86_REG_EIP, entry);
    if (!e) e = reg_set(s, UC_X86_REG_EFLAGS, 2);
    static const int zero_regs[] = { UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EDI, UC_X86_REG_EBP, UC_X86_REG_ESP };
    for (size_t i = 0; i < sizeof zero_regs / sizeof zero_regs[0] && !e; i++)
        e = reg_set(s, zero_regs[i], 0);
    if (!e) e = reg_set(s, UC_X86_REG_EAX, eax);
    if (!e) e = reg_set(s, UC_X86_REG_EBX, ebx);
    if (!e) e = reg_set(s, UC_X86_REG_ESI, esi);
    if (e) {
        snprintf(err, errlen, "cannot set up the boot CPU state: %s", uc_strerror(e));
        return -1;
    }
    return 0;
}

int cpu_setup_linux_entry(CPUState *s, uint32_t gdt_base, uint16_t gdt_limit, uint32_t entry,
                          uint32_t boot_params, char *err, size_t errlen)
{
    /* Boot protocol 32-bit entry: __BOOT_CS 0x10 and __BOOT_DS 0x18 flat,
     * ESI -> boot_params, EBP/EDI/EBX zero. */
    return cpu_setup_flat32(s, gdt_base, gdt_limit, 0x10, 0x18, entry, 0, 0, boot_params, err, errlen);
}

int cpu_setup_multiboot_entry(CPUState *s, uint32_t gdt_base, uint16_t gdt_limit, uint16_t cs, uint16_t ds,
                              uint32_t entry, uint32_t magic, uint32_t info, char *err, size_t errlen)
{
    /* Multiboot 0.6.96 3.2: EAX magic, EBX info, flat CS/DS, A20 on,
     * paging and interrupts off; ESP is the kernel's to set. */
    return cpu_setup_flat32(s, gdt_base, gdt_limit, cs, ds, entry, magic, info, 0, err, errlen);
}

int cpu_setup_real_entry(CPUState *s, uint16_t cs, uint16_t ip, uint16_t sp, uint32_t edx, uint32_t eflags,
                         char *err, size_t errlen)
{
    uc_x86_mmr gdtr = { 0, 0, 0xffff, 0 }, idtr = { 0, 0, 0x3ff, 0 };
    uc_err e = UC_ERR_OK;
    /* CR0 = ET (0x10), as after reset; a segment write with PE clear loads
     * base = selector * 16, limit 0xffff, 16-bit. */
    if (!e) e = reg_set(s, UC_X86_REG_CR0, 0x10);
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_GDTR, &gdtr);
    if (!e) e = uc_reg_write(s->uc, UC_X86_REG_IDTR, &idtr);
    static const int data_segs[] = { UC_X86_REG_SS, UC_X86_REG_DS, UC_X86_REG_ES, UC_X86_REG_FS, UC_X86_REG_GS };
    for (size_t i = 0; i < sizeof data_segs / sizeof data_segs[0] && !e; i++)
        e = reg_set(s, data_segs[i], 0);
    if (!e) e = reg_set(s, UC_X86_REG_CS, cs);
    if (!e) e = reg_set(s, UC_X86_REG_EIP, ip);
    if (!e) e = reg_set(s, UC_X86_REG_ESP, sp);
    if (!e) e = reg_set(s, UC_X86_REG_EDX, edx);
    if (!e) e = reg_set(s, UC_X86_REG_EFLAGS, eflags | 2);
    static const int zero_regs[] = { UC_X86_REG_EAX, UC_X86_REG_EBX, UC_X86_REG_ECX, UC_X86_REG_ESI,
                                     UC_X86_REG_EDI, UC_X86_REG_EBP };
    for (size_t i = 0; i < sizeof zero_regs / sizeof zero_regs[0] && !e; i++)
        e = reg_set(s, zero_regs[i], 0);
    if (e) {
        snprintf(err, errlen, "cannot set up the real-mode CPU state: %s", uc_strerror(e));
        return -1;
    }
    return 0;
}

CPUState *cpu_init(uint8_t *ram, uint64_t ram_size, IoMap *io, VClock *clock, char *err, size_t errlen)
{
    CPUState *s = calloc(1, sizeof *s);
    uc_hook h;
    uc_err e;
    unsigned maj, min;
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->mem = guest_ram(ram, ram_size);
    s->io = io;
    s->clock = clock;
    s->pending_exc = -1;
    s->ctx_err_off = s->ctx_oldexc_off = s->ctx_hflags_off = s->ctx_isint_off = -1;
    for (int r = 0; r < 6; r++)
        for (int f = 0; f < 4; f++)
            s->ctx_seg_off[r][f] = -1;
    s->cur_gen = 1;
    uc_version(&maj, &min);
    if (maj < 2 || (maj == 2 && min < 1)) {
        snprintf(err, errlen, "Unicorn %u.%u is too old: 2.1.2 or newer is needed", maj, min);
        goto fail;
    }
    if (x87math_check(err, errlen) < 0)   /* QUIRK(x87-libm) */
        goto fail;
    s->codepage = calloc(ram_size >> 12, 1);
    s->wgen = calloc(ram_size >> 12, sizeof *s->wgen);
    if (!s->codepage || !s->wgen) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cpu_probe_context(s) < 0) {
        snprintf(err, errlen, "this Unicorn build's CPU context layout is not understood "
                              "(error-code probe failed)");
        goto fail;
    }
    e = uc_open(UC_ARCH_X86, UC_MODE_32, &s->uc);
    if (e) {
        snprintf(err, errlen, "cannot start Unicorn: %s", uc_strerror(e));
        goto fail;
    }
#define TRY(x) do { e = (x); if (e) { snprintf(err, errlen, "%s: %s", #x, uc_strerror(e)); goto fail; } } while (0)
    TRY(uc_context_alloc(s->uc, &s->ctx));
    TRY(uc_mem_map_ptr(s->uc, 0, s->mem.low, UC_PROT_ALL, ram));
    if (guest_ram_high(&s->mem))   /* Unicorn's x86 physical space is 64-bit: PAE entries reach it */
        TRY(uc_mem_map_ptr(s->uc, GUEST_RAM_HIGH_BASE, guest_ram_high(&s->mem), UC_PROT_ALL, ram + s->mem.low));
    s->unassigned = (IoRange){ UNASSIGNED_PAGE, 0x1000, io, unassigned_read, unassigned_write,
                               IO_SIZE8 | IO_SIZE16 | IO_SIZE32, "unassigned" };
    TRY(uc_mmio_map(s->uc, UNASSIGNED_PAGE, 0x1000, cpu_mmio_read, &s->unassigned, cpu_mmio_write,
                    &s->unassigned));
    TRY(uc_ctl_tlb_mode(s->uc, UC_TLB_VIRTUAL));
    /* QUIRK(tlb-host-time): the flush asks gettimeofday; unless lbvm's
     * answered (the fixed time), host time would steer this engine's TLB.
     * On a fresh engine at the fixed time the flush changes nothing. */
    unsigned long time_calls = cpu_uc_time_calls;
    TRY(uc_ctl_flush_tlb(s->uc));
    if (cpu_uc_time_calls == time_calls) {
        snprintf(err, errlen, "libunicorn's clock calls do not reach lbvm's gettimeofday (no symbol "
                              "interposition in this build or on this host): host time would reach the guest");
        goto fail;
    }
    TRY(uc_hook_add(s->uc, &h, UC_HOOK_TLB_FILL, cpu_tlb_fill, s, 1, 0));
    TRY(uc_hook_add(s->uc, &s->block_hook, UC_HOOK_BLOCK, cpu_hook_block, s, 1, 0));
    TRY(uc_hook_add(s->uc, &h, UC_HOOK_INTR, cpu_hook_intr, s, 1, 0));
    TRY(uc_hook_add(s->uc, &h, UC_HOOK_INSN_INVALID, cpu_hook_invalid, s, 1, 0));
    TRY(uc_hook_add(s->uc, &h, UC_HOOK_INSN, cpu_hook_in, s, 1, 0, UC_X86_INS_IN));
    TRY(uc_hook_add(s->uc, &h, UC_HOOK_INSN, cpu_hook_out, s, 1, 0, UC_X86_INS_OUT));
    TRY(uc_hook_add(s->uc, &h, UC_HOOK_INSN, cpu_hook_cpuid, s, 1, 0, UC_X86_INS_CPUID));
    TRY(uc_hook_add(s->uc, &h, UC_HOOK_INSN, cpu_hook_rdtsc, s, 1, 0, UC_X86_INS_RDTSC));
#undef TRY
    io->mmio_added = cpu_mmio_added;
    io->mmio_added_opaque = s;
    for (int i = 0; i < io->n_mmio; i++)
        cpu_mmio_added(s, &io->mmio[i]);
    clock->deadline_changed = cpu_deadline_changed;
    clock->deadline_opaque = s;
    cpu_update_stop_at(s);
    return s;
fail:
    cpu_free(s);
    return NULL;
}

void cpu_free(CPUState *s)
{
    if (!s)
        return;
    if (s->ctx)
        uc_context_free(s->ctx);
    if (s->uc)
        uc_close(s->uc);
    free(s->codepage);
    free(s->wgen);
    free(s);
}
