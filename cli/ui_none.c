/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console window when lbvm is built without SDL2, SDL2_ttf or libvterm:
 * `--console sdl` is refused with one line (ui.h). */
#include "cli/ui.h"

#include <stdio.h>

bool ui_available(void)
{
    return false;
}

bool ui_preflight(char *err, size_t errlen)
{
    snprintf(err, errlen, "--console sdl: lbvm was built without the SDL console "
             "(it needs SDL2, SDL2_ttf and libvterm at build time; scripts/setup.sh installs them)");
    return false;
}

Ui *ui_open(const UiOptions *o, char *err, size_t errlen)
{
    (void)o;
    ui_preflight(err, errlen);
    return NULL;
}

void ui_attach(Ui *ui, Machine *m)
{
    (void)ui;
    (void)m;
}

void ui_on_step(void *ui, uint64_t ticks, const char *line)
{
    (void)ui;
    (void)ticks;
    (void)line;
}

void ui_on_checkpoint(void *ui, uint64_t ticks, const char *path)
{
    (void)ui;
    (void)ticks;
    (void)path;
}

void ui_close(Ui *ui)
{
    (void)ui;
}
