/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The optional console window (`--console sdl`): the guest's serial terminal
 * drawn by libvterm in an SDL2 window, keystrokes to the guest's serial port,
 * and a status panel (system, step n of m, guest and host time, speed, last
 * checkpoint, a bar plot of the steps' guest-time durations).
 *
 * Built as cli/ui_sdl.c when CMake finds SDL2, SDL2_ttf and libvterm
 * (LBVM_HAVE_SDL), else as cli/ui_none.c, whose ui_open always fails.
 *
 * Determinism: the window runs in the emulator's thread, between CPU runs
 * (Machine.host_poll, at timer deadlines), at most ~30 times per host second.
 * It reads host time and the machine's clock, but reaches the guest only
 * through machine_queue_input (keystrokes, recorded in the journal like stdin
 * input) and *Machine.host_stop (closing the window, answered yes: the same
 * stop as SIGTERM). */
#ifndef LBVM_UI_H
#define LBVM_UI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/machine.h"

typedef struct Ui Ui;

typedef struct UiOptions {
    int steps_total;          /* the m of "step n of m"; 0: unknown */
    bool have_checkpoints;    /* a --checkpoint-dir is set: closing offers a checkpoint */
    const char *title;        /* window title; NULL: "lbvm" */
} UiOptions;

/* Whether this lbvm was built with the console window. */
bool ui_available(void);
/* The checks that need no window (built with SDL, a display named, a font):
 * false with a one-line reason. */
bool ui_preflight(char *err, size_t errlen);
/* Opens the window. NULL with a one-line reason (no display, no font, built
 * without SDL...). */
Ui *ui_open(const UiOptions *o, char *err, size_t errlen);
/* Connects the window to a machine: console output, input, the poll hook.
 * Shows the console bytes the machine already has (a resumed run). */
void ui_attach(Ui *ui, Machine *m);
/* Session observers (SessionOpts.on_step / on_checkpoint; opaque = Ui). */
void ui_on_step(void *ui, uint64_t ticks, const char *line);
void ui_on_checkpoint(void *ui, uint64_t ticks, const char *path);
/* Detaches from the machine and closes the window. NULL is fine. */
void ui_close(Ui *ui);
#endif
