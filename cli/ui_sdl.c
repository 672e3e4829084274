/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console window (ui.h) with SDL2, SDL2_ttf and libvterm.
 *
 * Left: the guest's serial terminal (ui_term.c), 80x25 cells, glyphs from a
 * monospace TrueType font (DejaVu Sans Mono from fonts-dejavu-core by
 * default, LBVM_FONT to choose another) rendered once per code point and
 * kept as white textures tinted per cell. Right: the status panel.
 *
 * Everything runs in the emulator's thread from Machine.host_poll, called at
 * every timer deadline: a cheap check of the host clock, then at most ~30
 * times a second the SDL events are read, and the window is redrawn when
 * something changed, at most 30 and at least 2 times a second: drawing may
 * take ~10% of the host's time (FRAME_BUDGET), keystrokes and the close
 * prompt are drawn at once. */
#include "cli/ui.h"
#include "base/platform.h"

#include <SDL.h>
#include <SDL_ttf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/ui_term.h"

#define TERM_ROWS 25
#define TERM_COLS 80
#define TERM_SCROLLBACK 5000
#define PANEL_COLS 36
#define PAD 6                 /* pixels around the terminal and the panel's text */
#define PLOT_ROWS 7           /* height of the bar plot, in text rows */
#define GLYPH_SLOTS 2048
#define FRAME_MIN_S (1.0 / 30)  /* events are read this often; frames at most this often */
#define FRAME_MAX_S 0.5         /* and at least this often, however slow drawing is */
#define FRAME_BUDGET 0.1        /* share of host time drawing may take */
#define STATUS_PERIOD_S 0.25  /* the panel's figures change this often */
#define RATE_PERIOD_S 1.0     /* ticks per host second, measured over this */
#define DEFAULT_FONT_SIZE 15

typedef struct Rgb {
    uint8_t r, g, b;
} Rgb;

static const Rgb C_PANEL_BG = { 0x1c, 0x24, 0x30 }, C_PLOT_BG = { 0x12, 0x18, 0x20 },
                 C_SEPARATOR = { 0x44, 0x55, 0x66 }, C_LABEL = { 0x8a, 0x9b, 0xb0 },
                 C_VALUE = { 0xe8, 0xe8, 0xe8 }, C_TITLE = { 0x6c, 0xc4, 0xff },
                 C_BAR = { 0x4c, 0xaf, 0x50 }, C_BAR_NOW = { 0xff, 0xb3, 0x00 },
                 C_PROMPT_BG = { 0x2a, 0x2a, 0x5a }, C_PROMPT_FRAME = { 0xff, 0xff, 0xff },
                 C_TERM_BG = { UI_TERM_DEFAULT_BG };

typedef struct Glyph {
    uint32_t key;             /* code point << 1 | bold; 0 = empty slot */
    SDL_Texture *tex;
    int w, h;
} Glyph;

struct Ui {
    UiOptions opts;
    char title[128];
    SDL_Window *win;
    SDL_Renderer *ren;
    TTF_Font *font[2];        /* regular, bold */
    int cw, ch;               /* cell size in pixels */
    int term_w, win_w, win_h, panel_x;
    Glyph glyphs[GLYPH_SLOTS];
    UiTerm *term;
    Machine *m;
    /* host time */
    double t_open, next_events, next_frame, next_status, rate_t;
    double frame_cost;        /* smoothed host seconds per frame */
    bool status_due;
    uint64_t rate_ticks;
    double rate;              /* guest ticks per host second; < 0 until measured */
    bool redraw, focused, prompt, stopping;
    bool swallow_text;        /* the prompt took a key: drop its SDL_TEXTINPUT */
    /* status */
    uint64_t start_ticks;
    char step[256];
    char system[8];
    int n_steps;
    uint64_t step_start;
    uint64_t *durations;      /* guest ticks of each finished step, in order */
    int n_durations, cap_durations;
    char ckpt[256];
    uint64_t ckpt_ticks;
    double ckpt_host;
    bool have_ckpt;
};

static double host_now(void)
{
    return host_monotonic();
}

bool ui_available(void)
{
    return true;
}

/* ---- text ---- */

/* Next code point of a UTF-8 string (invalid bytes: U+FFFD, one at a time). */
static uint32_t utf8_next(const char **ps)
{
    const unsigned char *s = (const unsigned char *)*ps;
    uint32_t cp;
    int n;
    if (s[0] < 0x80) {
        *ps += 1;
        return s[0];
    }
    if ((s[0] & 0xe0) == 0xc0) {
        cp = s[0] & 0x1f;
        n = 1;
    } else if ((s[0] & 0xf0) == 0xe0) {
        cp = s[0] & 0x0f;
        n = 2;
    } else if ((s[0] & 0xf8) == 0xf0) {
        cp = s[0] & 0x07;
        n = 3;
    } else {
        *ps += 1;
        return 0xfffd;
    }
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *ps += 1;
            return 0xfffd;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }
    *ps += 1 + n;
    return cp;
}

static Glyph *glyph(Ui *ui, uint32_t cp, bool bold)
{
    if (cp == 0 || cp > 0x10ffff)
        cp = 0xfffd;
    uint32_t key = cp << 1 | (bold ? 1 : 0);
    Glyph *g = &ui->glyphs[(key * 2654435761u >> 7) % GLYPH_SLOTS];
    if (g->key == key)
        return g->tex ? g : NULL;
    if (g->tex)
        SDL_DestroyTexture(g->tex);
    memset(g, 0, sizeof *g);
    g->key = key;
    TTF_Font *f = ui->font[bold ? 1 : 0];
    uint32_t draw = cp;
    if (!TTF_GlyphIsProvided32(f, draw))
        draw = TTF_GlyphIsProvided32(f, 0xfffd) ? 0xfffd : '?';
    SDL_Color white = { 255, 255, 255, 255 };
    SDL_Surface *s = TTF_RenderGlyph32_Blended(f, draw, white);
    if (!s)
        return NULL;
    g->tex = SDL_CreateTextureFromSurface(ui->ren, s);
    g->w = s->w;
    g->h = s->h;
    SDL_FreeSurface(s);
    if (!g->tex)
        return NULL;
    SDL_SetTextureBlendMode(g->tex, SDL_BLENDMODE_BLEND);
    return g;
}

static void fill(Ui *ui, int x, int y, int w, int h, Rgb c)
{
    SDL_Rect r = { x, y, w, h };
    SDL_SetRenderDrawColor(ui->ren, c.r, c.g, c.b, 255);
    SDL_RenderFillRect(ui->ren, &r);
}

static void draw_glyph(Ui *ui, uint32_t cp, bool bold, int x, int y, Rgb c)
{
    if (cp == ' ')
        return;
    Glyph *g = glyph(ui, cp, bold);
    if (!g)
        return;
    SDL_Rect dst = { x, y, g->w, g->h };
    SDL_SetTextureColorMod(g->tex, c.r, c.g, c.b);
    SDL_RenderCopy(ui->ren, g->tex, NULL, &dst);
}

/* Draws at most max_cols cells of UTF-8 text; returns the cells used. */
static int draw_text(Ui *ui, int x, int y, const char *s, Rgb c, int max_cols)
{
    int n = 0;
    while (*s && n < max_cols) {
        uint32_t cp = utf8_next(&s);
        if (cp < 0x20 || cp == 0x7f)
            cp = ' ';
        draw_glyph(ui, cp, false, x + n * ui->cw, y, c);
        n++;
    }
    return n;
}

/* ---- formatting ---- */

static void fmt_hms(double s, char *out, size_t len)
{
    unsigned long long t = (unsigned long long)(s < 0 ? 0 : s);
    snprintf(out, len, "%llu:%02llu:%02llu", t / 3600, t / 60 % 60, t % 60);
}

static void fmt_secs(double s, char *out, size_t len)
{
    if (s < 100)
        snprintf(out, len, "%.3f s", s);
    else if (s < 3600)
        snprintf(out, len, "%.1f s", s);
    else
        fmt_hms(s, out, len);
}

static void fmt_rate(double r, char *out, size_t len)
{
    if (r < 0)
        snprintf(out, len, "-");
    else if (r >= 1e9)
        snprintf(out, len, "%.2f G ticks/s", r / 1e9);
    else if (r >= 1e6)
        snprintf(out, len, "%.1f M ticks/s", r / 1e6);
    else
        snprintf(out, len, "%.0f ticks/s", r);
}

/* ---- drawing ---- */

static void draw_terminal(Ui *ui)
{
    int rows, cols;
    ui_term_size(ui->term, &rows, &cols);
    fill(ui, 0, 0, ui->term_w, ui->win_h, C_TERM_BG);
    for (int r = 0; r < rows; r++) {
        int y = PAD + r * ui->ch;
        for (int c = 0; c < cols; c++) {
            UiCell cell;
            ui_term_cell(ui->term, r, c, &cell);
            if (cell.width == 0)
                continue;
            int x = PAD + c * ui->cw, w = ui->cw * cell.width;
            Rgb fg = { cell.fg[0], cell.fg[1], cell.fg[2] }, bg = { cell.bg[0], cell.bg[1], cell.bg[2] };
            if (!cell.default_bg)
                fill(ui, x, y, w, ui->ch, bg);
            draw_glyph(ui, cell.ch, cell.bold, x, y, fg);
            if (cell.underline)
                fill(ui, x, y + ui->ch - 2, w, 1, fg);
        }
    }
    int cr, cc;
    if (ui_term_cursor(ui->term, &cr, &cc)) {
        UiCell cell;
        ui_term_cell(ui->term, cr, cc, &cell);
        int x = PAD + cc * ui->cw, y = PAD + cr * ui->ch;
        Rgb fg = { cell.fg[0], cell.fg[1], cell.fg[2] }, bg = { cell.bg[0], cell.bg[1], cell.bg[2] };
        if (ui->focused) {
            fill(ui, x, y, ui->cw, ui->ch, fg);
            draw_glyph(ui, cell.ch, cell.bold, x, y, bg);
        } else {
            SDL_Rect box = { x, y, ui->cw, ui->ch };
            SDL_SetRenderDrawColor(ui->ren, fg.r, fg.g, fg.b, 255);
            SDL_RenderDrawRect(ui->ren, &box);
        }
    }
    int off = ui_term_view_offset(ui->term);
    if (off > 0) {
        char s[48];
        snprintf(s, sizeof s, " scrollback -%d ", off);
        int n = (int)strlen(s), x = ui->term_w - PAD - n * ui->cw;
        fill(ui, x, PAD, n * ui->cw, ui->ch, C_TITLE);
        draw_text(ui, x, PAD, s, C_TERM_BG, n);
    }
}

static void panel_row(Ui *ui, int row, const char *label, const char *value)
{
    int x = ui->panel_x + PAD, y = PAD + row * ui->ch;
    int n = draw_text(ui, x, y, label, C_LABEL, PANEL_COLS);
    draw_text(ui, x + (n < 8 ? 8 : n + 1) * ui->cw, y, value, C_VALUE, PANEL_COLS - (n < 8 ? 8 : n + 1));
}

static void draw_plot(Ui *ui, int row)
{
    int x = ui->panel_x + PAD, y = PAD + row * ui->ch;
    int w = PANEL_COLS * ui->cw, h = PLOT_ROWS * ui->ch;
    fill(ui, x, y, w, h, C_PLOT_BG);
    int bar = 6, step = bar + 1, nbars = (w - 2) / step;
    int have = ui->n_durations + (ui->n_steps > 0 ? 1 : 0);
    int first = have > nbars ? have - nbars : 0;
    uint64_t now = ui->m ? ui->m->clock.now : 0;
    uint64_t max = 1;
    for (int i = first; i < have; i++) {
        uint64_t d = i < ui->n_durations ? ui->durations[i] : now - ui->step_start;
        if (d > max)
            max = d;
    }
    for (int i = first; i < have; i++) {
        bool current = i >= ui->n_durations;
        uint64_t d = current ? now - ui->step_start : ui->durations[i];
        int bh = (int)((double)d / (double)max * (h - 2));
        if (bh < 1)
            bh = 1;
        fill(ui, x + 1 + (i - first) * step, y + h - 1 - bh, bar, bh, current ? C_BAR_NOW : C_BAR);
    }
    char s[96], m[32];
    fmt_secs((double)max / 1e9, m, sizeof m);
    if (have)
        snprintf(s, sizeof s, "%d step%s, longest shown %s", have, have == 1 ? "" : "s", m);
    else
        snprintf(s, sizeof s, "no step yet");
    draw_text(ui, x, y + h + 2, s, C_LABEL, PANEL_COLS);
}

static void draw_panel(Ui *ui, double now)
{
    int x = ui->panel_x;
    fill(ui, x, 0, ui->win_w - x, ui->win_h, C_PANEL_BG);
    fill(ui, x, 0, 2, ui->win_h, C_SEPARATOR);
    char v[256], a[64], b[64];
    draw_text(ui, x + PAD, PAD, "lbvm", C_TITLE, PANEL_COLS);
    draw_text(ui, x + PAD + 5 * ui->cw, PAD, "serial console", C_LABEL, PANEL_COLS - 5);
    panel_row(ui, 2, "system", ui->system[0] ? ui->system : "-");
    if (ui->n_steps == 0)
        snprintf(v, sizeof v, "-");
    else if (ui->opts.steps_total > 0)
        snprintf(v, sizeof v, "%d of %d", ui->n_steps, ui->opts.steps_total);
    else
        snprintf(v, sizeof v, "%d", ui->n_steps);
    panel_row(ui, 3, "step", v);
    if (ui->n_steps) {
        /* the step's line, on up to two rows */
        const char *s = ui->step;
        for (int r = 0; r < 2 && *s; r++) {
            char part[4 * PANEL_COLS + 1];
            size_t n = 0;
            int cols = 0;
            while (*s && cols < PANEL_COLS - 2) {
                const char *p = s;
                utf8_next(&s);
                memcpy(part + n, p, (size_t)(s - p));
                n += (size_t)(s - p);
                cols++;
            }
            part[n] = 0;
            draw_text(ui, x + PAD + 2 * ui->cw, PAD + (4 + r) * ui->ch, part, C_VALUE, PANEL_COLS - 2);
        }
    }
    uint64_t ticks = ui->m ? ui->m->clock.now : 0;
    fmt_secs((double)ticks / 1e9, a, sizeof a);
    panel_row(ui, 6, "guest", a);
    fmt_hms(now - ui->t_open, a, sizeof a);
    panel_row(ui, 7, "host", a);
    fmt_rate(ui->rate, a, sizeof a);
    if (ui->rate >= 0)
        snprintf(v, sizeof v, "%s (%.2fx)", a, ui->rate / 1e9);
    else
        snprintf(v, sizeof v, "%s", a);
    panel_row(ui, 8, "speed", v);
    if (ui->have_ckpt) {
        const char *base = strrchr(ui->ckpt, '/');
        panel_row(ui, 9, "checkpt", base ? base + 1 : ui->ckpt);
        fmt_secs((double)ui->ckpt_ticks / 1e9, a, sizeof a);
        double age = now - ui->ckpt_host;
        if (age < 60)
            snprintf(b, sizeof b, "%.0f s", age);
        else
            fmt_hms(age, b, sizeof b);
        snprintf(v, sizeof v, "at %s, %s ago", a, b);
        panel_row(ui, 10, "", v);
    } else {
        panel_row(ui, 9, "checkpt", "-");
    }
    draw_text(ui, x + PAD, PAD + 12 * ui->ch, "step durations (guest time)", C_LABEL, PANEL_COLS);
    draw_plot(ui, 13);
    draw_text(ui, x + PAD, ui->win_h - PAD - ui->ch, "Shift+PgUp/PgDn: scroll back", C_LABEL, PANEL_COLS);
}

static void draw_prompt(Ui *ui)
{
    const char *l1 = ui->stopping ? "Stopping..."
                     : ui->opts.have_checkpoints ? "Take a checkpoint and stop?"
                                                 : "Stop the run? (no --checkpoint-dir:";
    const char *l2 = ui->stopping ? (ui->opts.have_checkpoints ? "writing the final checkpoint" : "")
                     : ui->opts.have_checkpoints ? "[y] yes    [n] no, keep running"
                                                 : "nothing is saved)  [y] yes  [n] no";
    int cols = 40, w = cols * ui->cw, h = 4 * ui->ch;
    int x = (ui->term_w - w) / 2, y = (ui->win_h - h) / 2;
    fill(ui, x - 2, y - 2, w + 4, h + 4, C_PROMPT_FRAME);
    fill(ui, x, y, w, h, C_PROMPT_BG);
    draw_text(ui, x + ui->cw * 2, y + ui->ch / 2, l1, C_PROMPT_FRAME, cols - 4);
    draw_text(ui, x + ui->cw * 2, y + ui->ch * 2, l2, C_PROMPT_FRAME, cols - 4);
}

static void render(Ui *ui, double now)
{
    draw_terminal(ui);
    draw_panel(ui, now);
    if (ui->prompt || ui->stopping)
        draw_prompt(ui);
    SDL_RenderPresent(ui->ren);
}

/* ---- events ---- */

static void view_to_bottom(Ui *ui)
{
    ui_term_scroll_view(ui->term, -ui_term_view_offset(ui->term));
}

static void key_down(Ui *ui, const SDL_KeyboardEvent *k)
{
    SDL_Keycode sym = k->keysym.sym;
    Uint16 km = k->keysym.mod;
    int mods = ((km & KMOD_SHIFT) ? UI_MOD_SHIFT : 0) | ((km & KMOD_ALT) ? UI_MOD_ALT : 0) |
               ((km & KMOD_CTRL) ? UI_MOD_CTRL : 0);
    ui->swallow_text = false;
    if (ui->prompt) {
        ui->swallow_text = true;
        if (sym == SDLK_y) {
            ui->prompt = false;
            ui->stopping = true;
        } else if (sym == SDLK_n || sym == SDLK_ESCAPE) {
            ui->prompt = false;
        }
        ui->redraw = true;
        return;
    }
    if (ui->stopping)
        return;
    int rows, cols;
    ui_term_size(ui->term, &rows, &cols);
    if ((mods & UI_MOD_SHIFT) && (sym == SDLK_PAGEUP || sym == SDLK_PAGEDOWN)) {
        ui_term_scroll_view(ui->term, sym == SDLK_PAGEUP ? rows / 2 : -rows / 2);
        ui->redraw = true;
        return;
    }
    UiKey key = 0;
    switch (sym) {
    case SDLK_RETURN: case SDLK_KP_ENTER: key = UI_KEY_ENTER; break;
    case SDLK_TAB: key = UI_KEY_TAB; break;
    case SDLK_BACKSPACE: key = UI_KEY_BACKSPACE; break;
    case SDLK_ESCAPE: key = UI_KEY_ESCAPE; break;
    case SDLK_UP: key = UI_KEY_UP; break;
    case SDLK_DOWN: key = UI_KEY_DOWN; break;
    case SDLK_LEFT: key = UI_KEY_LEFT; break;
    case SDLK_RIGHT: key = UI_KEY_RIGHT; break;
    case SDLK_INSERT: key = UI_KEY_INSERT; break;
    case SDLK_DELETE: key = UI_KEY_DELETE; break;
    case SDLK_HOME: key = UI_KEY_HOME; break;
    case SDLK_END: key = UI_KEY_END; break;
    case SDLK_PAGEUP: key = UI_KEY_PAGEUP; break;
    case SDLK_PAGEDOWN: key = UI_KEY_PAGEDOWN; break;
    default:
        if (sym >= SDLK_F1 && sym <= SDLK_F12)
            key = (UiKey)(UI_KEY_F1 + (sym - SDLK_F1));
    }
    if (key) {
        ui_term_key(ui->term, key, mods);
        view_to_bottom(ui);
        return;
    }
    /* Ctrl+letter (and Ctrl+@ [ \ ] ^ _) make control characters: SDL sends
     * no text for them. Text keys come as SDL_TEXTINPUT. */
    if ((mods & UI_MOD_CTRL) && !(mods & UI_MOD_ALT) &&
        ((sym >= 'a' && sym <= 'z') || sym == '@' || sym == '[' || sym == '\\' || sym == ']' || sym == '^' ||
         sym == '_' || sym == ' ')) {
        ui_term_key_char(ui->term, (uint32_t)sym, UI_MOD_CTRL);
        view_to_bottom(ui);
    }
}

static void pump_events(Ui *ui)
{
    SDL_Event ev;
    while (SDL_PollEvent(&ev)) {
        switch (ev.type) {
        case SDL_QUIT:
            if (!ui->stopping)
                ui->prompt = true;
            ui->redraw = true;
            break;
        case SDL_WINDOWEVENT:
            switch (ev.window.event) {
            case SDL_WINDOWEVENT_CLOSE:
                if (!ui->stopping)
                    ui->prompt = true;
                break;
            case SDL_WINDOWEVENT_FOCUS_GAINED: ui->focused = true; break;
            case SDL_WINDOWEVENT_FOCUS_LOST: ui->focused = false; break;
            }
            ui->redraw = true;
            break;
        case SDL_KEYDOWN:
            key_down(ui, &ev.key);
            break;
        case SDL_TEXTINPUT:
            if (ui->prompt || ui->stopping || ui->swallow_text) {
                ui->swallow_text = false;
                break;
            } else {
                const char *s = ev.text.text;
                while (*s)
                    ui_term_key_char(ui->term, utf8_next(&s), 0);
                view_to_bottom(ui);
            }
            break;
        case SDL_MOUSEWHEEL:
            ui_term_scroll_view(ui->term, ev.wheel.y * 3);
            ui->redraw = true;
            break;
        }
    }
}

/* Keystrokes (and the terminal's answers) into the machine's pending input. */
static void flush_input(Ui *ui)
{
    const uint8_t *p;
    size_t n = ui_term_peek_output(ui->term, &p);
    if (n && ui->m) {
        int took = machine_queue_input(ui->m, p, n > 256 ? 256 : (int)n);
        ui_term_consume_output(ui->term, (size_t)took);
    }
}

static void ui_poll(void *opaque)
{
    Ui *ui = opaque;
    flush_input(ui);
    double now = host_now();
    if (now < ui->next_events)
        return;
    ui->next_events = now + FRAME_MIN_S;
    pump_events(ui);
    flush_input(ui);
    if (ui->stopping && ui->m->host_stop)
        *ui->m->host_stop = MACHINE_STOP_WINDOW;
    if (now >= ui->next_status) {
        ui->next_status = now + STATUS_PERIOD_S;
        ui->status_due = true;
        if (now - ui->rate_t >= RATE_PERIOD_S) {
            ui->rate = (double)(ui->m->clock.now - ui->rate_ticks) / (now - ui->rate_t);
            ui->rate_t = now;
            ui->rate_ticks = ui->m->clock.now;
        }
    }
    /* What the person did (a key, the prompt) is drawn at once; the rest
     * when the drawing budget allows. */
    if (now < ui->next_frame && !ui->redraw)
        return;
    bool term = ui_term_take_damage(ui->term);
    if (!term && !ui->status_due && !ui->redraw)
        return;
    ui->redraw = ui->status_due = false;
    render(ui, now);
    /* Drawing may take ~FRAME_BUDGET of the host's time: the frame interval
     * follows the (smoothed) cost of a frame, from 1/30 s to FRAME_MAX_S. */
    double spent = host_now() - now;
    ui->frame_cost = ui->frame_cost > 0 ? 0.7 * ui->frame_cost + 0.3 * spent : spent * 0.3;
    double gap = ui->frame_cost / FRAME_BUDGET;
    ui->next_frame = now + (gap < FRAME_MIN_S ? FRAME_MIN_S : gap > FRAME_MAX_S ? FRAME_MAX_S : gap);
}

static void ui_console(void *opaque, const uint8_t *buf, size_t len)
{
    Ui *ui = opaque;
    ui_term_write(ui->term, buf, len);
}

/* ---- session observers ---- */

void ui_on_step(void *opaque, uint64_t ticks, const char *line)
{
    Ui *ui = opaque;
    if (!ui)
        return;
    if (ui->n_steps > 0) {
        if (ui->n_durations == ui->cap_durations) {
            int cap = ui->cap_durations ? ui->cap_durations * 2 : 256;
            uint64_t *d = realloc(ui->durations, (size_t)cap * sizeof *d);
            if (d) {
                ui->durations = d;
                ui->cap_durations = cap;
            }
        }
        if (ui->n_durations < ui->cap_durations)
            ui->durations[ui->n_durations++] = ticks - ui->step_start;
    }
    ui->n_steps++;
    ui->step_start = ticks;
    snprintf(ui->step, sizeof ui->step, "%s", line);
    /* the system, when the step's line names it */
    const char *best = NULL;
    for (const char *p = line; (p = strstr(p, "sys")); p++)
        if (p[3] >= 'a' && p[3] <= 'c')
            best = p;
    if (best)
        snprintf(ui->system, sizeof ui->system, "%.4s", best);
    ui->redraw = true;
}

void ui_on_checkpoint(void *opaque, uint64_t ticks, const char *path)
{
    Ui *ui = opaque;
    if (!ui)
        return;
    snprintf(ui->ckpt, sizeof ui->ckpt, "%s", path);
    ui->ckpt_ticks = ticks;
    ui->ckpt_host = host_now();
    ui->have_ckpt = true;
    ui->redraw = true;
}

/* ---- life ---- */

static const char *find_font(char *bold, size_t blen)
{
    static const char *const candidates[] = {
        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",   /* Debian, Ubuntu: fonts-dejavu-core */
        "/usr/share/fonts/TTF/DejaVuSansMono.ttf",               /* Arch */
        "/usr/share/fonts/dejavu-sans-mono-fonts/DejaVuSansMono.ttf", /* Fedora */
        "/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
        "/usr/share/fonts/truetype/freefont/FreeMono.ttf",
    };
    const char *env = getenv("LBVM_FONT");
    const char *found = NULL;
    if (env && *env) {
        if (access(env, R_OK) != 0)
            return NULL;
        found = env;
    } else {
        for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !found; i++)
            if (access(candidates[i], R_OK) == 0)
                found = candidates[i];
    }
    bold[0] = 0;
    if (found) {
        /* X.ttf -> X-Bold.ttf (DejaVu, Liberation's -Regular -> -Bold) */
        const char *dot = strrchr(found, '.');
        const char *reg = strstr(found, "-Regular.");
        size_t stem = reg ? (size_t)(reg - found) : dot ? (size_t)(dot - found) : strlen(found);
        snprintf(bold, blen, "%.*s-Bold%s", (int)stem, found, dot ? dot : "");
        if (access(bold, R_OK) != 0)
            bold[0] = 0;
    }
    return found;
}

bool ui_preflight(char *err, size_t errlen)
{
    const char *disp = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY"), *drv = getenv("SDL_VIDEODRIVER");
    if (!(disp && *disp) && !(wl && *wl) && !(drv && *drv)) {
        snprintf(err, errlen, "--console sdl: no display to open a window on (DISPLAY is not set)");
        return false;
    }
    char bold_path[4096];
    if (!find_font(bold_path, sizeof bold_path)) {
        snprintf(err, errlen, "--console sdl: no monospace font found (install fonts-dejavu-core, or set LBVM_FONT "
                 "to a .ttf file)");
        return false;
    }
    return true;
}

Ui *ui_open(const UiOptions *o, char *err, size_t errlen)
{
    if (!ui_preflight(err, errlen))
        return NULL;
    char bold_path[4096];
    const char *font_path = find_font(bold_path, sizeof bold_path);
    Ui *ui = calloc(1, sizeof *ui);
    if (!ui) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ui->opts = *o;
    snprintf(ui->title, sizeof ui->title, "%s", o->title ? o->title : "lbvm: serial console");
    ui->rate = -1;
    /* lbvm's own SIGINT/SIGTERM handlers stay in charge (session.c) */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    /* SDL's software renderer unless SDL_RENDER_DRIVER says otherwise: for
     * a text window it is fast and the same everywhere, where OpenGL may be
     * a software rasteriser or indirect X (measured under Xvfb with Mesa's
     * llvmpipe: 150-300 ms a frame against 10-30 ms). */
    SDL_SetHint(SDL_HINT_RENDER_DRIVER, "software");
    /* Only the display named (SDL would otherwise fall back to others, e.g.
     * a window nobody sees); SDL_VIDEODRIVER still chooses freely. */
    const char *disp = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
    char drivers[32] = "";
    if (disp && *disp)
        strcat(drivers, "x11");
    if (wl && *wl)
        strcat(drivers, drivers[0] ? ",wayland" : "wayland");
    if (drivers[0])
        SDL_SetHint(SDL_HINT_VIDEODRIVER, drivers);
    /* A display that exists can still refuse a connection for a moment (a
     * busy X server): a few tries over a second before giving up. */
    int tries = 0;
    while (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0 && drivers[0] && ++tries < 5)
        SDL_Delay(250);
    if (!SDL_WasInit(SDL_INIT_VIDEO)) {
        bool named = disp && *disp;
        snprintf(err, errlen, "--console sdl: cannot open a window%s%s: %s", named ? " on DISPLAY=" : "",
                 named ? disp : "", SDL_GetError());
        free(ui);
        return NULL;
    }
    if (TTF_Init() != 0) {
        snprintf(err, errlen, "--console sdl: cannot start SDL_ttf: %s", TTF_GetError());
        goto fail;
    }
    int size = DEFAULT_FONT_SIZE;
    const char *fs = getenv("LBVM_FONT_SIZE");
    if (fs && atoi(fs) >= 6 && atoi(fs) <= 72)
        size = atoi(fs);
    ui->font[0] = TTF_OpenFont(font_path, size);
    if (!ui->font[0]) {
        snprintf(err, errlen, "--console sdl: cannot open the font %s: %s", font_path, TTF_GetError());
        goto fail;
    }
    ui->font[1] = TTF_OpenFont(bold_path[0] ? bold_path : font_path, size);
    if (!ui->font[1]) {
        snprintf(err, errlen, "--console sdl: cannot open the font %s: %s", bold_path, TTF_GetError());
        goto fail;
    }
    if (!bold_path[0])
        TTF_SetFontStyle(ui->font[1], TTF_STYLE_BOLD);
    int adv = 0;
    if (TTF_GlyphMetrics32(ui->font[0], 'M', NULL, NULL, NULL, NULL, &adv) != 0 || adv <= 0) {
        snprintf(err, errlen, "--console sdl: the font %s has no 'M'", font_path);
        goto fail;
    }
    ui->cw = adv;
    ui->ch = TTF_FontLineSkip(ui->font[0]);
    if (ui->ch < TTF_FontHeight(ui->font[0]))
        ui->ch = TTF_FontHeight(ui->font[0]);
    ui->term = ui_term_new(TERM_ROWS, TERM_COLS, TERM_SCROLLBACK);
    if (!ui->term) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    ui->term_w = TERM_COLS * ui->cw + 2 * PAD;
    ui->panel_x = ui->term_w;
    ui->win_w = ui->term_w + PANEL_COLS * ui->cw + 2 * PAD + 2;
    ui->win_h = TERM_ROWS * ui->ch + 2 * PAD;
    int panel_h = (13 + PLOT_ROWS + 3) * ui->ch + 2 * PAD;
    if (ui->win_h < panel_h)
        ui->win_h = panel_h;
    ui->win = SDL_CreateWindow(ui->title, SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, ui->win_w, ui->win_h,
                               SDL_WINDOW_SHOWN);
    if (!ui->win) {
        snprintf(err, errlen, "--console sdl: cannot open a window: %s", SDL_GetError());
        goto fail;
    }
    ui->ren = SDL_CreateRenderer(ui->win, -1, 0);
    if (!ui->ren) {
        snprintf(err, errlen, "--console sdl: cannot draw in the window: %s", SDL_GetError());
        goto fail;
    }
    SDL_StartTextInput();
    ui->t_open = ui->rate_t = host_now();
    ui->focused = (SDL_GetWindowFlags(ui->win) & SDL_WINDOW_INPUT_FOCUS) != 0;
    ui->redraw = true;
    render(ui, ui->t_open);
    return ui;
fail:
    ui_close(ui);
    return NULL;
}

void ui_attach(Ui *ui, Machine *m)
{
    ui->m = m;
    ui->start_ticks = ui->rate_ticks = m->clock.now;
    /* A resumed run: show what the console last showed. Answers the
     * terminal would give to queries in it are old news: dropped. */
    uint8_t tail[MACHINE_TAIL_SIZE];
    size_t n = machine_console_tail(m, tail);
    ui_term_write(ui->term, tail, n);
    const uint8_t *p;
    ui_term_consume_output(ui->term, ui_term_peek_output(ui->term, &p));
    m->console_hook = ui_console;
    m->host_poll = ui_poll;
    m->hook_opaque = ui;
    ui->next_events = ui->next_frame = 0;
}

void ui_close(Ui *ui)
{
    if (!ui)
        return;
    if (ui->m && ui->m->hook_opaque == ui) {
        ui->m->console_hook = NULL;
        ui->m->host_poll = NULL;
        ui->m->hook_opaque = NULL;
    }
    for (int i = 0; i < GLYPH_SLOTS; i++)
        if (ui->glyphs[i].tex)
            SDL_DestroyTexture(ui->glyphs[i].tex);
    if (ui->ren)
        SDL_DestroyRenderer(ui->ren);
    if (ui->win)
        SDL_DestroyWindow(ui->win);
    for (int i = 0; i < 2; i++)
        if (ui->font[i])
            TTF_CloseFont(ui->font[i]);
    if (TTF_WasInit())
        TTF_Quit();
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    SDL_Quit();
    ui_term_free(ui->term);
    free(ui->durations);
    free(ui);
}
