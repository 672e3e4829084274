/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The devices of fuzz_state, shared with the seed generator (fuzz_ckpt_seeds)
 * so that the device states it saves load into the board the fuzzer builds
 * (fuzz_board.h, with AHCI).
 *
 * Input of fuzz_state:
 *   byte n: n % 4 state loads follow, each
 *     byte dev (% FS_NDEVS, see fs_devs[]), u16 LE length L, then L bytes
 *     (fewer if the input ends): the payload of dev's xxx_state
 *   then operations in the format of fuzz_ports.h, run on the loaded board. */
#ifndef LBVM_FUZZ_STATE_H
#define LBVM_FUZZ_STATE_H
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_board.h"
#include "base/state.h"

typedef void FsStateFn(FzBoard *b, StateIO *io);
static inline void fs_pic(FzBoard *b, StateIO *io) { pic_state(b->pic, io); }
static inline void fs_pit(FzBoard *b, StateIO *io) { pit_state(b->pit, io); }
static inline void fs_uart(FzBoard *b, StateIO *io) { uart_state(b->uart, io); }
static inline void fs_rtc(FzBoard *b, StateIO *io) { rtc_state(b->rtc, io); }
static inline void fs_pci(FzBoard *b, StateIO *io) { pci_state(b->pci, io); }
static inline void fs_sysreset(FzBoard *b, StateIO *io) { sysreset_state(b->sysreset, io); }
static inline void fs_ahci(FzBoard *b, StateIO *io) { ahci_state(b->ahci, io); }
static inline void fs_i8042(FzBoard *b, StateIO *io) { i8042_state(b->i8042, io); }
static inline void fs_vga(FzBoard *b, StateIO *io) { vga_state(b->vga, io); }

static const struct {
    const char *name;
    FsStateFn *fn;
} fs_devs[] = {
    { "pic", fs_pic }, { "pit", fs_pit }, { "uart", fs_uart }, { "rtc", fs_rtc },
    { "pci", fs_pci }, { "sysreset", fs_sysreset }, { "ahci", fs_ahci }, { "i8042", fs_i8042 },
    { "vga", fs_vga },
};
#define FS_NDEVS ((int)(sizeof fs_devs / sizeof fs_devs[0]))

/* The payload a save of device dev gives now (malloc'd; *len its size), or
 * NULL if the save failed. */
static inline uint8_t *fs_save(FzBoard *b, int dev, size_t *len)
{
    StateIO io;
    state_init_save(&io, &b->clock);
    fs_devs[dev].fn(b, &io);
    if (!state_ok(&io)) {
        state_free(&io);
        return NULL;
    }
    *len = io.len;
    uint8_t *p = io.buf ? io.buf : calloc(1, 1);
    return p;
}
#endif
