/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The RAM section of a checkpoint (emu/vmstate.c): a machine whose RAM holds
 * zero pages, repeated pages and pseudo-random pages across several chunks is
 * checkpointed and resumed into a new machine with identical RAM and state
 * digest; the same checkpoint rewritten with a version-1 RAM section (one
 * stream, no chunk table: what lbvm wrote before chunks) resumes identically;
 * chunk tables that lie (wrong count, lengths, ordinals) are refused with a
 * message, never a crash. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "emu/checkpoint.h"
#include "emu/cpu.h"
#include "emu/machine.h"
#include "emu/vmstate.h"

#define RAM_MIB 96u
#define PAGE 4096u

static char dir[64];
static char err[512];

static uint64_t rng_state = 0x1234567;
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

/* Every third page zero, runs of repeated text, the rest pseudo-random:
 * about 2/3 of 96 MiB non-zero, i.e. several chunks of at least 16 MiB. */
static void fill(Machine *m)
{
    size_t npages = m->ram_size / PAGE;
    for (size_t p = 0; p < npages; p++) {
        uint8_t *pg = m->ram + p * PAGE;
        if (p % 3 == 0)
            continue;
        if (p % 7 == 1) {
            for (unsigned i = 0; i < PAGE; i++)
                pg[i] = (uint8_t)"lbvm checkpoint text "[i % 21];
        } else {
            for (unsigned i = 0; i < PAGE; i += 8) {
                uint64_t v = rnd();
                memcpy(pg + i, &v, 8);
            }
        }
    }
}

/* A copy of checkpoint `src` at `dst` whose ram section is rewritten by
 * edit(payload, len, &version) (the rest copied as it is). */
static int rewrite(const char *src, const char *dst, void (*edit)(uint8_t *, uint64_t *, uint32_t *))
{
    CkptFile f;
    if (ckpt_open(src, &f, err, sizeof err) < 0)
        return -1;
    CkptWriter *w = ckpt_create(dst, err, sizeof err);
    if (!w) {
        ckpt_close(&f);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < f.n && !rc; i++) {
        const CkptSection *s = &f.sec[i];
        uint64_t len = s->length;
        uint32_t version = s->version;
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, ckpt_payload(&f, s), len);
        if (!strcmp(s->name, "ram"))
            edit(p, &len, &version);
        rc = ckpt_begin(w, s->name, version) || ckpt_write(w, p, len) || ckpt_end(w);
        free(p);
    }
    ckpt_close(&f);
    if (rc) {
        ckpt_abort(w);
        return -1;
    }
    return ckpt_commit(w, err, sizeof err);
}

static uint32_t get32(const uint8_t *b) { return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }
static void put32(uint8_t *b, uint32_t v) { for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i)); }

/* Version 1: the frames only (drop the table and its count). */
static void to_v1(uint8_t *p, uint64_t *len, uint32_t *version)
{
    uint32_t n = get32(p + *len - 4);
    *len -= 4 + 16ull * n;
    *version = 1;
}
static void count_plus(uint8_t *p, uint64_t *len, uint32_t *version) { (void)version; put32(p + *len - 4, get32(p + *len - 4) + 1); }
static void count_huge(uint8_t *p, uint64_t *len, uint32_t *version) { (void)version; put32(p + *len - 4, 0xffffffffu); }
/* the first frame one byte longer, the second one shorter: sums still match */
static void len_shift(uint8_t *p, uint64_t *len, uint32_t *version)
{
    (void)version;
    uint32_t n = get32(p + *len - 4);
    uint8_t *t = p + *len - 4 - 16ull * n;
    t[8]++;
    t[16 + 8]--;
}
static void ordinal_off(uint8_t *p, uint64_t *len, uint32_t *version)
{
    (void)version;
    uint32_t n = get32(p + *len - 4);
    p[*len - 4 - 16ull * n + 16]++;     /* the second chunk's first page */
}
static void truncate_table(uint8_t *p, uint64_t *len, uint32_t *version) { (void)p; (void)version; *len -= 3; }

static int resume_check(const char *path, const Machine *want, const char *what)
{
    CkptSession cs;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/r-%s", dir, what);
    if (ckpt_session_open(&cs, sub, err, sizeof err) < 0)
        return -1;
    MachineConfig cfg = { .console = stdout };
    Machine *m = machine_resume(path, &cs, &cfg, err, sizeof err);
    int same = -1;

    if (m) {
        uint8_t a[32], b[32];
        machine_state_digest(m, a);
        machine_state_digest((Machine *)want, b);
        same = m->ram_size == want->ram_size && !memcmp(m->ram, want->ram, want->ram_size) && !memcmp(a, b, 32);
        if (!same)
            fprintf(stderr, "%s: ram %s, state digest %s\n", what,
                    m->ram_size == want->ram_size && !memcmp(m->ram, want->ram, want->ram_size) ? "same" : "differs",
                    memcmp(a, b, 32) ? "differs" : "same");
        machine_free(m);
    }
    ckpt_session_close(&cs);
    return same;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/lbvm-test-ram-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    Machine *m = new_machine();
    CHECK(m != NULL);
    if (!m)
        return check_done();
    fill(m);
    /* A CPU state a checkpoint can hold: the boot protocol's flat 32-bit
     * entry, its GDT (0x10 code, 0x18 data) on a page fill() left zero. */
    static const uint64_t gdt[4] = { 0, 0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull };
    memcpy(m->ram + 0x3000, gdt, sizeof gdt);
    CHECK(cpu_setup_linux_entry(m->cpu, 0x3000, sizeof gdt - 1, 0x100000, 0x90000, err, sizeof err) == 0);

    CkptSession cs;
    CHECK(ckpt_session_open(&cs, dir, err, sizeof err) == 0);
    char path[4200];
    CHECK(machine_checkpoint(m, &cs, path, sizeof path, err, sizeof err) == 0);
    ckpt_session_close(&cs);

    /* Several chunks were written, and they resume to the same machine. */
    CkptFile f;
    CHECK(ckpt_open(path, &f, err, sizeof err) == 0);
    const CkptSection *ram = ckpt_find(&f, "ram");
    CHECK(ram && ram->version == 2);
    uint32_t nchunks = ram ? get32(ckpt_payload(&f, ram) + ram->length - 4) : 0;
    CHECK(nchunks >= 3);
    ckpt_close(&f);
    CHECK(resume_check(path, m, "v2") == 1);

    /* What lbvm wrote before chunks still resumes. */
    char v1[4300];
    snprintf(v1, sizeof v1, "%s/v1.lbvm", dir);
    CHECK(rewrite(path, v1, to_v1) == 0);
    CHECK(resume_check(v1, m, "v1") == 1);

    /* Lying tables: refused, with a message. */
    static const struct {
        const char *name;
        void (*edit)(uint8_t *, uint64_t *, uint32_t *);
    } bad[] = {
        { "count-plus", count_plus }, { "count-huge", count_huge }, { "len-shift", len_shift },
        { "ordinal-off", ordinal_off }, { "truncated", truncate_table },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p[4300];
        snprintf(p, sizeof p, "%s/%s.lbvm", dir, bad[i].name);
        CHECK(rewrite(path, p, bad[i].edit) == 0);
        err[0] = 0;
        int r = resume_check(p, m, bad[i].name);
        CHECK(r == -1);
        CHECK(strstr(err, "RAM section") != NULL);
        if (r != -1 || !strstr(err, "RAM section"))
            fprintf(stderr, "%s: resume gave %d (%s)\n", bad[i].name, r, err);
        unlink(p);
    }

    machine_free(m);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_done();
}
