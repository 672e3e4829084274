/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: whole checkpoint files, as `lbvm resume` reads them.
 * The input is a checkpoint file (emu/checkpoint.c container, emu/vmstate.c
 * sections, base/state.c fields, the CPU's and each device's xxx_state, the
 * zstd RAM image). The container's SHA-256 is not checked
 * (ckpt_parse_unchecked), so mutations reach the parsers behind it; then
 * machine_resume_from builds the machine. A bad file must give a clean
 * error: any crash, sanitizer report, hang, leak or huge allocation is a
 * finding. A machine that comes back runs a little guest time
 * (LBVM_FUZZ_CKPT_RUN ticks, default 20000; 0 = none), so that loaded
 * device and CPU state is used, then is freed. LBVM_FUZZ_CKPT_STATS=1
 * prints at exit how far the inputs got (container, skipped, resumed); =2
 * also each refusal of machine_resume_from.
 *
 * Mutations: most byte-level mutations that change a length would only
 * break the container, so a custom mutator (LLVMFuzzerCustomMutator) mostly
 * mutates one section's payload with libFuzzer's own mutations (any size
 * change), or sets one value of a field-coded section to an edge value,
 * then rebuilds the table and trailer around it (digest included); the
 * rest of the time it mutates the raw bytes (container parsing).
 *
 * The harness skips (returns -1, not kept in the corpus) files whose
 * "machine" section asks for disks, since the "disks" section names host
 * files, and files asking for more than the minimum of 64 MiB of RAM.
 * Seeds: real checkpoints of a small machine written by fuzz_ckpt_seeds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "emu/checkpoint.h"
#include "emu/machine.h"
#include "base/state.h"
#include "emu/vmstate.h"

#define FUZZ_MAX_RAM (64ull << 20)

static CkptSession cs;
static char tmpdir[] = "/tmp/lbvm-fuzz-ckpt-XXXXXX";
static FILE *devnull;
static uint64_t run_ticks = 20000;
static struct { uint64_t inputs, container_ok, skipped, resumed, ends[8]; } stats;
static int print_stats;

static void cleanup(void)
{
    char p[4200];
    if (print_stats)
        fprintf(stderr, "fuzz_checkpoint: %llu inputs, %llu valid containers, %llu skipped (disks or RAM), "
                "%llu resumed; runs ended halted %llu, reset %llu, limit %llu, fatal %llu\n",
                (unsigned long long)stats.inputs, (unsigned long long)stats.container_ok,
                (unsigned long long)stats.skipped, (unsigned long long)stats.resumed,
                (unsigned long long)stats.ends[MACHINE_HALTED], (unsigned long long)stats.ends[MACHINE_RESET],
                (unsigned long long)stats.ends[MACHINE_LIMIT], (unsigned long long)stats.ends[MACHINE_FATAL]);
    ckpt_session_close(&cs);
    snprintf(p, sizeof p, "%s/lock", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[512];
    if (!mkdtemp(tmpdir) || ckpt_session_open(&cs, tmpdir, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_checkpoint: cannot make a checkpoint folder in /tmp\n");
        abort();
    }
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        abort();
    const char *r = getenv("LBVM_FUZZ_CKPT_RUN");
    if (r)
        run_ticks = strtoull(r, NULL, 0);
    r = getenv("LBVM_FUZZ_CKPT_STATS");
    print_stats = r ? atoi(r) : 0;
    atexit(cleanup);
    return 0;
}

/* The first two fields of the "machine" section, as machine_resume_from
 * reads them first. 0 if they could be read; if not, the loader's own read
 * of the same fields refuses the file before it looks at disks (and even a
 * disk would only be read: the session writes its overlays in tmpdir). */
static int peek(const CkptFile *f, uint64_t *ram_size, uint32_t *n_disks)
{
    const CkptSection *s = ckpt_find(f, "machine");
    if (!s)
        return -1;
    VClock c;
    vclock_init(&c);
    StateIO io;
    state_init_load(&io, ckpt_payload(f, s), s->length, &c);
    state_u64(&io, "ram_size", ram_size);
    state_u32(&io, "n_disks", n_disks);
    return state_ok(&io) ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    CkptFile f;
    char err[1024];
    stats.inputs++;
    if (ckpt_parse_unchecked(data, size, &f, err, sizeof err) < 0) {
        if (!err[0])
            abort();        /* a refusal always says why */
        return 0;
    }
    stats.container_ok++;
    uint64_t ram_size = 0;
    uint32_t n_disks = 0;
    if (peek(&f, &ram_size, &n_disks) == 0 && (n_disks != 0 || ram_size > FUZZ_MAX_RAM)) {
        stats.skipped++;
        return -1;
    }
    MachineConfig cfg = { .console = devnull };
    err[0] = 0;
    Machine *m = machine_resume_from(&f, "fuzz", &cs, &cfg, err, sizeof err);
    if (!m) {
        if (!err[0])
            abort();
        if (print_stats > 1)
            fprintf(stderr, "fuzz_checkpoint: refused: %s\n", err);
        return 0;
    }
    if (m->ram_size > FUZZ_MAX_RAM || m->cfg.n_disks != 0 || m->ahci)
        abort();            /* the peek above disagrees with the loader */
    stats.resumed++;
    uint64_t now = m->clock.now;
    if (run_ticks && now + run_ticks > now) {
        vtimer_mod(&m->clock, &m->limit_timer, now + run_ticks);
        MachineEnd e = machine_run(m);
        if ((unsigned)e < 8)
            stats.ends[e]++;
    }
    machine_free(m);
    return 0;
}

/* ---- structure-aware mutation ---- */

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return n ? (uint32_t)((rng_state >> 33) % n) : 0;
}

static void le_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Sets one element of one field of a field-coded payload (layout in
 * base/state.c) to an edge value. 0 if the payload has no field. */
static int poke_field(uint8_t *p, size_t len)
{
    size_t starts[512], n = 0, pos = 0;
    while (n < 512 && pos < len && pos + 1 + p[pos] + 5 <= len) {
        size_t at = pos + 1 + p[pos];
        unsigned elem = p[at];
        uint32_t count = (uint32_t)p[at + 1] | (uint32_t)p[at + 2] << 8 | (uint32_t)p[at + 3] << 16 |
                         (uint32_t)p[at + 4] << 24;
        if (elem == 0 || elem > 8 || at + 5 + (uint64_t)elem * count > len)
            break;
        starts[n++] = pos;
        pos = at + 5 + (size_t)elem * count;
    }
    if (!n)
        return 0;
    size_t f = starts[rnd((uint32_t)n)], at = f + 1 + p[f];
    unsigned elem = p[at];
    uint32_t count = (uint32_t)p[at + 1] | (uint32_t)p[at + 2] << 8 | (uint32_t)p[at + 3] << 16 |
                     (uint32_t)p[at + 4] << 24;
    if (!count)
        return 0;
    uint8_t *v = p + at + 5 + (size_t)elem * rnd(count);
    uint64_t old = 0;
    for (unsigned i = 0; i < elem; i++)
        old |= (uint64_t)v[i] << (8 * i);
    uint64_t top = elem == 8 ? UINT64_MAX : (1ull << (8 * elem)) - 1;
    static const uint64_t edges[] = { 0, 1, 2, 3, 7, 8, 15, 16, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000,
                                      0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull };
    uint64_t nv;
    switch (rnd(6)) {
    case 0: nv = top; break;
    case 1: nv = top >> 1; break;
    case 2: nv = old + 1; break;
    case 3: nv = old - 1; break;
    case 4: nv = old ^ (1ull << rnd(8 * elem)); break;
    default: nv = edges[rnd(sizeof edges / sizeof edges[0])]; break;
    }
    le_put(v, nv & top, (int)elem);
    return 1;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    rng_state ^= (uint64_t)seed * 0x9e3779b97f4a7c15ull + size;
    CkptFile f;
    char err[256];
    if (rnd(8) == 0 || ckpt_parse_unchecked(data, size, &f, err, sizeof err) < 0 || f.n == 0)
        return LLVMFuzzerMutate(data, size, max_size);
    int k = (int)rnd((uint32_t)f.n);
    size_t plen = (size_t)f.sec[k].length, rest = size - plen;
    if (rest >= max_size)
        return LLVMFuzzerMutate(data, size, max_size);
    size_t cap = max_size - rest;
    uint8_t *pay = malloc(cap ? cap : 1);
    uint8_t *out = malloc(max_size);
    if (!pay || !out)
        abort();
    memcpy(pay, data + f.sec[k].offset, plen);
    size_t nlen = plen;
    if (strcmp(f.sec[k].name, "ram") && rnd(2) == 0 && poke_field(pay, plen))
        nlen = plen;
    else
        nlen = LLVMFuzzerMutate(pay, plen, cap);
    /* Header, the sections back to back, the table, the trailer. */
    size_t o = CKPT_HEADER_SIZE;
    memcpy(out, data, CKPT_HEADER_SIZE);
    uint64_t offs[CKPT_MAX_SECTIONS], lens[CKPT_MAX_SECTIONS];
    for (int i = 0; i < f.n; i++) {
        const uint8_t *src = i == k ? pay : data + f.sec[i].offset;
        size_t l = i == k ? nlen : (size_t)f.sec[i].length;
        offs[i] = o;
        lens[i] = l;
        memcpy(out + o, src, l);
        o += l;
    }
    size_t toff = o, need = o + 4 + (size_t)f.n * CKPT_ENTRY_SIZE + CKPT_TRAILER_SIZE;
    if (need > max_size) {
        free(pay);
        free(out);
        return LLVMFuzzerMutate(data, size, max_size);
    }
    le_put(out + o, (uint64_t)f.n, 4);
    o += 4;
    for (int i = 0; i < f.n; i++) {
        uint8_t *e = out + o;
        memset(e, 0, CKPT_ENTRY_SIZE);
        memcpy(e, f.sec[i].name, strlen(f.sec[i].name));
        le_put(e + 16, f.sec[i].version, 4);
        le_put(e + 24, offs[i], 8);
        le_put(e + 32, lens[i], 8);
        o += CKPT_ENTRY_SIZE;
    }
    uint8_t *t = out + o;
    memset(t, 0, CKPT_TRAILER_SIZE);
    le_put(t, toff, 8);
    le_put(t + 8, o - toff, 8);
    memcpy(t + 16, CKPT_END_MAGIC, 8);
    o += 24;
    unsigned int mdlen = 0;
    EVP_Digest(out, o, out + o, &mdlen, EVP_sha256(), NULL);
    o += 32;
    memcpy(data, out, o);
    free(pay);
    free(out);
    return o;
}

