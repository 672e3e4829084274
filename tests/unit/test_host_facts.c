/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host facts that used to fail silently (base/platform.h, emu/cpu.c):
 * 1. A swapped-out page is not resident but holds data: the RAM digest and
 *    the checkpoint must read it. Through the seam (pages presented as
 *    swapped out), and for real where swap can be had: guest RAM paged out
 *    with MADV_PAGEOUT to the host's swap, or to a swap file this test
 *    creates (root only; skipped with a message where swapon fails).
 * 2. Host pages of 16 and 64 KiB (faked through the seam): each guest page
 *    is judged by the host page under it, nothing is read as if the
 *    host's vector had one entry per 4 KiB.
 * 3. lbvm's gettimeofday must be the one libunicorn calls (QUIRK
 *    tlb-host-time): with the interposition off (the test seam) a machine is
 *    refused with a one-line message; a libunicorn that binds its clock
 *    elsewhere (loaded again with dlmopen, as on hosts without symbol
 *    preemption) leaves the counter the check reads where it was. */
/* A Linux test (swap, pagemap, dlmopen): the host interfaces, as base/platform.c. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

#include "check.h"
#include "emu/cpu.h"
#include "emu/machine.h"
#include "base/platform.h"
#include "emu/vmstate.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define RAM_MIB 64u
#define PAGE 4096u

static char dir[64];
static char err[512];
static HostOps real_ops;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;     /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static Machine *new_machine(void)
{
    MachineConfig cfg = { .ram_size = (uint64_t)RAM_MIB << 20, .console = stdout };
    Machine *m = machine_new(&cfg, err, sizeof err);
    if (!m)
        fprintf(stderr, "machine_new: %s\n", err);
    return m;
}

/* Which guest pages hold data: page 3 (the GDT), sparse pages, some alone
 * at the end of a 16 or 64 KiB block, a run; above 40 MiB nothing. */
static bool data_page(size_t p)
{
    return p == 3 || (p < 8192 && p % 37 == 5) || (p < 4096 && p % 16 == 15) || (p >= 9000 && p < 9300) ||
           (p >= 9600 && p < 10240 && p % 64 == 63);
}

static size_t fill(Machine *m)
{
    size_t n = 0;
    for (size_t p = 0; p < m->ram_size / PAGE; p++) {
        if (!data_page(p) || p == 3)
            continue;
        for (unsigned i = 0; i < PAGE; i += 8) {
            uint64_t v = rnd() | 1;
            memcpy(m->ram + p * PAGE + i, &v, 8);
        }
        n++;
    }
    /* A CPU state a checkpoint can hold: the boot protocol's flat 32-bit
     * entry, its GDT (0x10 code, 0x18 data) on page 3. */
    static const uint64_t gdt[4] = { 0, 0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull };
    memcpy(m->ram + 0x3000, gdt, sizeof gdt);
    CHECK(cpu_setup_linux_entry(m->cpu, 0x3000, sizeof gdt - 1, 0x100000, 0x90000, err, sizeof err) == 0);
    return n + 1;
}

/* ---- a host that cannot tell: everything is read ---- */
static int cannot_tell(const void *addr, size_t len, uint8_t *vec)
{
    (void)addr, (void)len, (void)vec;
    return -1;
}

static void reference_digest(Machine *m, uint8_t md[32])
{
    HostOps keep = host_ops;
    host_ops.page_states = cannot_tell;
    machine_ram_digest(m, md);
    host_ops = keep;
}

/* ---- a faked host: its page size, and states judged from the content ---- */
static size_t fake_hp;
static const uint8_t *fake_ram;
static size_t fake_ram_size;
static uint8_t fake_data_state;        /* HOST_PAGE_SWAPPED, _PRESENT, or 0: alternate */
static unsigned fake_calls, fake_bad_calls;

static size_t fake_page_size(void) { return fake_hp; }

static int fake_page_states(const void *addr, size_t len, uint8_t *vec)
{
    uintptr_t a = (uintptr_t)addr, lo = (uintptr_t)fake_ram, hi = lo + fake_ram_size;
    fake_calls++;
    if (a % fake_hp || len % fake_hp || a > lo || a + len < hi) {
        fake_bad_calls++;
        return -1;
    }
    for (size_t i = 0; i < len / fake_hp; i++) {
        uintptr_t s = a + i * fake_hp, e = s + fake_hp;
        bool data = false;
        for (uintptr_t x = s < lo ? lo : s; x < (e > hi ? hi : e) && !data; x++)
            data = *(const uint8_t *)x != 0;
        uint8_t st = fake_data_state ? fake_data_state : i % 2 ? HOST_PAGE_SWAPPED : HOST_PAGE_PRESENT;
        vec[i] = data ? st : 0;
    }
    return 0;
}

static void fake_host(Machine *m, size_t hp, uint8_t data_state)
{
    fake_hp = hp;
    fake_ram = m->ram;
    fake_ram_size = m->ram_size;
    fake_data_state = data_state;
    host_ops.page_size = fake_page_size;
    host_ops.page_states = fake_page_states;
}

/* Checkpoint m into a new folder, resume it (with the real host): the same
 * RAM and state digest. */
static int ckpt_roundtrip(Machine *m, const char *what)
{
    CkptSession cs;
    char sub[128], path[4200];
    snprintf(sub, sizeof sub, "%s/%s", dir, what);
    if (ckpt_session_open(&cs, sub, err, sizeof err) < 0)
        return -1;
    int rc = machine_checkpoint(m, &cs, path, sizeof path, err, sizeof err);
    ckpt_session_close(&cs);
    if (rc < 0)
        return -1;
    HostOps keep = host_ops;
    host_ops = real_ops;
    int same = -1;
    if (ckpt_session_open(&cs, sub, err, sizeof err) == 0) {
        MachineConfig cfg = { .console = stdout };
        Machine *r = machine_resume(path, &cs, &cfg, err, sizeof err);
        if (r) {
            uint8_t a[32], b[32];
            machine_state_digest(r, a);
            machine_state_digest(m, b);
            same = r->ram_size == m->ram_size && !memcmp(r->ram, m->ram, m->ram_size) && !memcmp(a, b, 32);
            if (!same)
                fprintf(stderr, "%s: resumed RAM %s\n", what,
                        r->ram_size == m->ram_size && !memcmp(r->ram, m->ram, m->ram_size) ? "same, state differs"
                                                                                              : "differs");
            machine_free(r);
        } else {
            fprintf(stderr, "%s: resume: %s\n", what, err);
        }
        ckpt_session_close(&cs);
    }
    host_ops = keep;
    return same;
}

static void seam_swapped_and_page_sizes(void)
{
    Machine *m = new_machine();
    CHECK(m != NULL);
    if (!m)
        return;
    size_t ndata = fill(m), npages = m->ram_size / PAGE;
    uint8_t ref[32], md[32];
    reference_digest(m, ref);
    uint8_t *out = malloc(npages);

    /* the host cannot tell: every page is read */
    for (size_t hp = 4096; hp <= 65536; hp *= 16) {
        fake_host(m, hp, 0);
        host_ops.page_states = cannot_tell;
        memset(out, 0, npages);
        host_pages_to_read(m->ram, m->ram_size, PAGE, out);
        size_t ones = 0;
        for (size_t p = 0; p < npages; p++)
            ones += out[p];
        CHECK_EQ(ones, npages);
        host_ops = real_ops;
    }

    static const struct { size_t hp; uint8_t state; const char *name; } hosts[] = {
        { 4096, HOST_PAGE_SWAPPED, "4k-swapped" },
        { 4096, 0, "4k-mixed" },
        { 16384, HOST_PAGE_SWAPPED, "16k-swapped" },
        { 16384, 0, "16k-mixed" },
        { 65536, HOST_PAGE_SWAPPED, "64k-swapped" },
        { 65536, 0, "64k-mixed" },
    };
    for (size_t h = 0; h < sizeof hosts / sizeof hosts[0]; h++) {
        size_t hp = hosts[h].hp, per = hp / PAGE;
        fake_host(m, hp, hosts[h].state);
        fake_calls = fake_bad_calls = 0;
        /* a guest page is read when its host page holds data anywhere */
        host_pages_to_read(m->ram, m->ram_size, PAGE, out);
        size_t wrong = 0, read = 0;
        for (size_t p = 0; p < npages; p++) {
            bool any = false;
            for (size_t q = p / per * per; q < p / per * per + per; q++)
                any |= data_page(q);
            wrong += out[p] != any;
            read += out[p];
        }
        CHECK_EQ(wrong, 0);
        CHECK(read >= ndata);
        /* the digest and a checkpoint keep every page that holds data */
        machine_ram_digest(m, md);
        CHECK(!memcmp(md, ref, 32));
        CHECK_EQ(ckpt_roundtrip(m, hosts[h].name), 1);
        CHECK(fake_calls >= 3);
        CHECK_EQ(fake_bad_calls, 0);
        printf("[seam] %s: %zu of %zu guest pages read (%zu hold data)\n",
               hosts[h].name, read, npages, ndata);
        host_ops = real_ops;
    }
    free(out);
    machine_free(m);
}

/* The real host's answers for a fresh mapping: written, read (the zero
 * page), never touched. */
static void real_states(void)
{
    size_t hp = host_ops.page_size();
    CHECK_EQ(hp, (size_t)sysconf(_SC_PAGESIZE));
    uint8_t *p = mmap(NULL, 3 * hp, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    if (p == MAP_FAILED)
        return;
    madvise(p, 3 * hp, MADV_NOHUGEPAGE);
    p[0] = 1;
    volatile uint8_t r = p[hp];
    (void)r;
    uint8_t st[3], out[3];
    static const struct { int (*f)(const void *, size_t, uint8_t *); const char *name; } ways[] = {
        { NULL, "default" }, { host_page_states_scan, "PAGEMAP_SCAN" }, { host_page_states_read, "pagemap read" },
    };
    for (size_t w = 0; w < 3; w++) {
        int (*f)(const void *, size_t, uint8_t *) = ways[w].f ? ways[w].f : host_ops.page_states;
        memset(st, 0xee, sizeof st);
        if (f(p, 3 * hp, st) < 0) {
            printf("[host] %s: this host cannot tell%s\n", ways[w].name, w ? "" : " (every page is read)");
            continue;
        }
        CHECK(st[0] & HOST_PAGE_PRESENT);
        CHECK(st[1] & HOST_PAGE_PRESENT);
        CHECK_EQ(st[2], 0);
        printf("[host] %s: page size %zu; written/read/untouched pages: states %u %u %u\n", ways[w].name, hp,
               st[0], st[1], st[2]);
    }
    host_pages_to_read(p, 3 * hp, hp, out);
    if (host_ops.page_states(p, 3 * hp, st) == 0)
        CHECK(out[0] == 1 && out[1] == 1 && out[2] == 0);
    munmap(p, 3 * hp);
}

/* ---- real swap ---- */
static char swapdir[256], swapfile[300];
static bool swap_added;

static void swap_cleanup(void)
{
    if (swap_added && swapoff(swapfile) != 0)
        fprintf(stderr, "swapoff %s: %s\n", swapfile, strerror(errno));
    swap_added = false;
    if (swapfile[0])
        unlink(swapfile);
    if (swapdir[0])
        rmdir(swapdir);
    swapfile[0] = swapdir[0] = 0;
}

/* KiB of swap free on the host (/proc/swaps). */
static long long swap_free_kib(void)
{
    FILE *f = fopen("/proc/swaps", "r");
    char line[512];
    long long total = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        long long size, used;
        if (sscanf(line, "%*s %*s %lld %lld", &size, &used) == 2)
            total += size - used;
    }
    fclose(f);
    return total;
}

/* A swap file of `bytes` (header written here, as mkswap does) turned on.
 * NULL, or why not. */
static const char *add_swap(size_t bytes)
{
    static char why[400];
    size_t hp = (size_t)sysconf(_SC_PAGESIZE);
    if (geteuid() != 0)
        return "not root";
    const char *tmp = getenv("TMPDIR");
    snprintf(swapdir, sizeof swapdir, "%s/lbvm-swap-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(swapdir)) {
        snprintf(why, sizeof why, "mkdtemp %s: %s", swapdir, strerror(errno));
        swapdir[0] = 0;
        return why;
    }
    snprintf(swapfile, sizeof swapfile, "%s/swap", swapdir);
    int fd = open(swapfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    uint8_t *page = calloc(1, hp);
    bool ok = fd >= 0 && page;
    uint32_t hdr[3] = { 1, (uint32_t)(bytes / hp - 1), 0 };   /* version, last page, bad pages */
    if (page) {
        memcpy(page + 1024, hdr, sizeof hdr);
        memcpy(page + hp - 10, "SWAPSPACE2", 10);
    }
    for (size_t off = 0; ok && off < bytes; off += hp) {
        ok = write(fd, page, hp) == (ssize_t)hp;
        if (off == 0)
            memset(page, 0, hp);
    }
    ok = ok && fsync(fd) == 0;
    free(page);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        snprintf(why, sizeof why, "cannot write %s: %s", swapfile, strerror(errno));
        return why;
    }
    if (swapon(swapfile, 0) != 0) {
        snprintf(why, sizeof why, "swapon %s: %s", swapfile, strerror(errno));
        return why;
    }
    swap_added = true;
    return NULL;
}

static bool host_page_has_data(size_t h, size_t hp)
{
    for (size_t p = h * hp / PAGE; p < (h + 1) * hp / PAGE || p == h * hp / PAGE; p++)
        if (data_page(p))
            return true;
    return false;
}

static size_t count_out(Machine *m, uint8_t *res)
{
    size_t n = 0;
    if (mincore(m->ram, m->ram_size, res) != 0)
        return 0;
    for (size_t p = 0; p < m->ram_size / PAGE; p++)
        n += data_page(p) && !(res[p * PAGE / (size_t)sysconf(_SC_PAGESIZE)] & 1);
    return n;
}

/* Pages guest RAM out until the pages holding data are not resident. An
 * asynchronous swap device keeps a written page in its cache (resident)
 * until it is reclaimed again: such pages are read back (clean, mapped
 * from the cache) and paged out once more. Returns how many are out. */
static size_t page_out(Machine *m, size_t ndata)
{
    size_t hp = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *res = malloc(m->ram_size / hp);
    size_t out = 0;
    for (int round = 0; res && round < 20; round++) {
        if (madvise(m->ram, m->ram_size, MADV_PAGEOUT) != 0)
            break;
        if ((out = count_out(m, res)) == ndata)
            break;
        usleep(50000);
        volatile uint8_t sink = 0;
        for (size_t p = 0; p < m->ram_size / PAGE; p++)
            if (data_page(p) && (res[p * PAGE / hp] & 1))
                sink += m->ram[p * PAGE];
        (void)sink;
    }
    free(res);
    return out;
}

static void real_swap(void)
{
    size_t hp = (size_t)sysconf(_SC_PAGESIZE);
    Machine *m = new_machine();
    CHECK(m != NULL);
    if (!m)
        return;
    size_t ndata = fill(m);
    uint8_t ref[32], md[32];
    reference_digest(m, ref);
    uint8_t *copy = malloc(m->ram_size);
    CHECK(copy != NULL);
    if (!copy) {
        machine_free(m);
        return;
    }
    memcpy(copy, m->ram, m->ram_size);

    size_t need = (ndata * PAGE * 2) >> 10;
    const char *why = NULL;
    bool added = false;
    if (swap_free_kib() < (long long)need) {
        why = add_swap((need << 10) + hp);
        added = !why;
    }
    if (why) {
        printf("[swap] skipped (the seam test above still ran): the host has no swap and this test cannot add "
               "any: %s\n", why);
        goto done;
    }
    size_t out = page_out(m, ndata);
    if (!out) {
        printf("[swap] skipped: MADV_PAGEOUT left every page resident (swap %s)\n",
               added ? "file added by this test" : "of the host");
        goto done;
    }
    /* the host says swapped for what mincore says is not resident (each
     * way of asking that works here) */
    uint8_t *res = malloc(m->ram_size / hp), *st = malloc(m->ram_size / hp);
    int (*ways[])(const void *, size_t, uint8_t *) = { host_page_states_scan, host_page_states_read };
    for (int w = 0; w < 2 && res && st; w++)
        if (mincore(m->ram, m->ram_size, res) == 0 && ways[w](m->ram, m->ram_size, st) == 0) {
            size_t swapped = 0, gone = 0;
            for (size_t p = 0; p < m->ram_size / hp; p++)
                if (!(res[p] & 1) && host_page_has_data(p, hp)) {
                    gone++;
                    swapped += st[p] == HOST_PAGE_SWAPPED;
                }
            CHECK(gone > 0);
            CHECK_EQ(swapped, gone);
        }
    free(res);
    free(st);
    machine_ram_digest(m, md);
    CHECK(!memcmp(md, ref, 32));
    size_t out2 = page_out(m, ndata);
    char path[4200], sub[128];
    snprintf(sub, sizeof sub, "%s/swap", dir);
    CkptSession cs;
    int rc = -1;
    if (ckpt_session_open(&cs, sub, err, sizeof err) == 0) {
        rc = machine_checkpoint(m, &cs, path, sizeof path, err, sizeof err);
        ckpt_session_close(&cs);
    }
    CHECK_EQ(rc, 0);
    if (rc == 0 && ckpt_session_open(&cs, sub, err, sizeof err) == 0) {
        MachineConfig cfg = { .console = stdout };
        Machine *r = machine_resume(path, &cs, &cfg, err, sizeof err);
        CHECK(r != NULL);
        if (r) {
            CHECK(!memcmp(r->ram, copy, m->ram_size));
            machine_ram_digest(r, md);
            CHECK(!memcmp(md, ref, 32));
            machine_free(r);
        }
        ckpt_session_close(&cs);
    }
    CHECK(!memcmp(m->ram, copy, m->ram_size));
    printf("[swap] %zu, then %zu of %zu pages holding data paged out (swap %s)\n", out,
           out2, ndata, added ? "file added by this test" : "of the host");
done:
    swap_cleanup();
    free(copy);
    machine_free(m);
}

/* ---- the clock libunicorn reads ---- */
extern unsigned long cpu_uc_time_calls;
extern bool cpu_time_not_interposed;

static void time_interposition(void)
{
    /* with it off, a machine is refused, in one line */
    cpu_time_not_interposed = true;
    err[0] = 0;
    MachineConfig cfg = { .ram_size = (uint64_t)RAM_MIB << 20, .console = stdout };
    Machine *m = machine_new(&cfg, err, sizeof err);
    cpu_time_not_interposed = false;
    CHECK(m == NULL);
    CHECK(strstr(err, "host time would reach the guest") != NULL);
    CHECK(strchr(err, '\n') == NULL);
    printf("[time] interposition off: %s\n", err);
    machine_free(m);
    m = machine_new(&cfg, err, sizeof err);
    CHECK(m != NULL);
    machine_free(m);

    /* a second libunicorn in a namespace of its own binds gettimeofday to
     * its own libc: its flush does not reach lbvm's function */
    Dl_info di;
    void *h = NULL;
    if (dladdr((void *)uc_open, &di) && di.dli_fname)
        h = dlmopen(LM_ID_NEWLM, di.dli_fname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("[time] skipped the dlmopen case: %s\n", dlerror());
        return;
    }
    uc_err (*open_)(uc_arch, uc_mode, uc_engine **) = (uc_err(*)(uc_arch, uc_mode, uc_engine **))dlsym(h, "uc_open");
    uc_err (*ctl_)(uc_engine *, uc_control_type, ...) = (uc_err(*)(uc_engine *, uc_control_type, ...))dlsym(h, "uc_ctl");
    uc_err (*close_)(uc_engine *) = (uc_err(*)(uc_engine *))dlsym(h, "uc_close");
    CHECK(open_ && ctl_ && close_ && (void *)open_ != (void *)uc_open);
    uc_engine *uc = NULL;
    unsigned long before = cpu_uc_time_calls;
    if (open_ && ctl_ && close_ && open_(UC_ARCH_X86, UC_MODE_32, &uc) == UC_ERR_OK) {
        CHECK_EQ(ctl_(uc, UC_CTL_WRITE(UC_CTL_TLB_TYPE, 1), UC_TLB_VIRTUAL), UC_ERR_OK);
        CHECK_EQ(ctl_(uc, UC_CTL_WRITE(UC_CTL_TLB_FLUSH, 0)), UC_ERR_OK);
        close_(uc);
        CHECK_EQ(cpu_uc_time_calls, before);
        printf("[time] a libunicorn loaded with dlmopen: its flush made %lu calls to lbvm's gettimeofday\n",
               cpu_uc_time_calls - before);
    } else {
        CHECK(0);
    }
    /* the linked one does */
    CHECK_EQ(uc_open(UC_ARCH_X86, UC_MODE_32, &uc), UC_ERR_OK);
    before = cpu_uc_time_calls;
    CHECK_EQ(uc_ctl_tlb_mode(uc, UC_TLB_VIRTUAL), UC_ERR_OK);
    CHECK_EQ(uc_ctl_flush_tlb(uc), UC_ERR_OK);
    CHECK(cpu_uc_time_calls > before);
    uc_close(uc);
}

int main(void)
{
    real_ops = host_ops;
    snprintf(dir, sizeof dir, "/tmp/lbvm-test-host-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    atexit(swap_cleanup);
    real_states();
    seam_swapped_and_page_sizes();
    real_swap();
    time_interposition();
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_done();
}
