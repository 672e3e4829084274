/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the device state loaders (each devices/xxx_state() with
 * a loading StateIO, base/state.c's field codec) fed raw payloads, on a
 * freshly built board (fuzz_state.h, which also describes the input). What
 * must hold, whatever the bytes:
 *   - no crash, sanitizer report or hang;
 *   - a refused payload leaves the device exactly as it was (its save and
 *     the clock's next deadline unchanged), with a message;
 *   - an accepted payload (state_finish too) saves back to the same bytes;
 *   - the board then runs register accesses, time and interrupt
 *     acknowledges on the loaded state (fuzz_ports.h operations) without
 *     tripping over a value the loader let through.
 * Seeds: fuzz_ckpt_seeds writes saves of a driven board. */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "fuzz_ports.h"
#include "fuzz_state.h"

static FzBoard board;
static uint8_t *ram;
static Disk *disk0, *disk2;
static char tmpdir[] = "/tmp/lbvm-fuzz-state-XXXXXX";

static void setup_once(void)
{
    ram = malloc(FZ_RAM_SIZE);      /* exact size: ASan catches any overrun */
    if (!ram)
        abort();
    fz_scratch_disks(tmpdir, &disk0, &disk2);
}

static void dma_check(void *opaque, uint64_t pa, uint64_t len)
{
    (void)opaque;
    assert(len > 0);
    assert(len <= FZ_RAM_SIZE && pa <= FZ_RAM_SIZE - len);
}

/* One load of dev from payload p[0..n). */
static void load_one(FzBoard *b, int dev, const uint8_t *p, size_t n)
{
    size_t l0 = 0, l1 = 0;
    uint8_t *before = fs_save(b, dev, &l0);
    assert(before);
    uint64_t deadline = vclock_next_deadline(&b->clock);
    /* A private copy of exactly n bytes: ASan sees any read past the payload. */
    uint8_t *copy = malloc(n ? n : 1);
    assert(copy);
    memcpy(copy, p, n);
    StateIO io;
    state_init_load(&io, copy, n, &b->clock);
    fs_devs[dev].fn(b, &io);
    bool fields_ok = state_ok(&io);
    bool finished = state_finish(&io);
    if (!fields_ok) {
        /* Refused: a message, and the device as it was. */
        assert(state_error(&io)[0]);
        uint8_t *after = fs_save(b, dev, &l1);
        assert(after);
        if (l0 != l1 || memcmp(before, after, l0) || vclock_next_deadline(&b->clock) != deadline) {
            fprintf(stderr, "fuzz_state: %s changed by a refused load (%s)\n", fs_devs[dev].name, state_error(&io));
            abort();
        }
        free(after);
    } else if (finished) {
        /* Accepted: the loaded state saves back to the very same bytes. */
        uint8_t *again = fs_save(b, dev, &l1);
        assert(again);
        if (l1 != n || memcmp(again, copy, n)) {
            size_t i = 0;
            while (i < n && i < l1 && again[i] == copy[i])
                i++;
            fprintf(stderr, "fuzz_state: %s: a load of %zu bytes saves back as %zu bytes, first difference at %zu\n",
                    fs_devs[dev].name, n, l1, i);
            abort();
        }
        free(again);
    }
    /* (Fields all taken but trailing bytes: a machine would be discarded;
     * the device holds checked values, so the run goes on.) */
    free(before);
    free(copy);
    /* Wiring levels are derived after a load, as machine_resume_from does. */
    b->intr = b->pic->int_out;
}

/* What must hold between operations, whatever was loaded. */
static void check_invariants(FzBoard *b)
{
    assert(b->intr == 0 || b->intr == 1);
    const AHCIState *a = b->ahci;
    for (int p = 0; p < AHCI_NUM_PORTS; p++) {
        const AHCIPort *ap = &a->port[p];
        if (!(ap->cmd & AHCI_PxCMD_ST))
            assert(ap->ci == 0 && !ap->halted);
        assert(!!(ap->cmd & AHCI_PxCMD_CR) == !!(ap->cmd & AHCI_PxCMD_ST));
        assert(!(ap->is & ~AHCI_PxIS_MASK));
    }
    assert(!(a->is & ~0xfu));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ram)
        setup_once();
    Input in = { data, size };
    memset(ram, 0, FZ_RAM_SIZE);
    FzBoard *b = &board;
    if (fz_board_init(b, 0, ram, disk0, disk2) < 0)
        abort();
    b->dma_check = dma_check;

    uint8_t nloads = 0;
    take(&in, &nloads, 1);
    for (int i = 0; i < nloads % 4; i++) {
        uint8_t dev;
        uint16_t len;
        if (!take(&in, &dev, 1) || !take(&in, &len, 2))
            goto out;
        size_t n = len < in.n ? len : in.n;
        load_one(b, dev % FS_NDEVS, in.p, n);
        in.p += n;
        in.n -= n;
    }
    check_invariants(b);

    uint8_t op;
    while (take(&in, &op, 1) && fz_run_op(b, &in, op))
        check_invariants(b);
out:
    fz_board_free(b);
    return 0;
}
