/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console window's terminal over libvterm (ui_term.h). */
#include "cli/ui_term.h"

#include <stdlib.h>
#include <string.h>
#include <vterm.h>

#define UI_TERM_OUT_CAP 4096

struct UiTerm {
    VTerm *vt;
    VTermScreen *screen;
    VTermState *state;
    int rows, cols;
    /* Scrollback: a ring of sb_cap lines of `cols` cells; sb_first is the
     * oldest of the sb_n kept. */
    VTermScreenCell *sb;
    int sb_cap, sb_n, sb_first;
    int view;                 /* lines back into the scrollback */
    bool damaged;
    bool cursor_visible;
    VTermPos cursor;
    VTermScreenCell blank;    /* an empty cell in the default colours */
    uint8_t out[UI_TERM_OUT_CAP];
    size_t n_out;
};

/* ---- libvterm callbacks ---- */

static int cb_damage(VTermRect rect, void *user)
{
    (void)rect;
    ((UiTerm *)user)->damaged = true;
    return 1;
}

static int cb_moverect(VTermRect dest, VTermRect src, void *user)
{
    (void)dest;
    (void)src;
    ((UiTerm *)user)->damaged = true;
    return 1;
}

static int cb_movecursor(VTermPos pos, VTermPos oldpos, int visible, void *user)
{
    UiTerm *t = user;
    (void)oldpos;
    (void)visible;
    t->cursor = pos;
    t->damaged = true;
    return 1;
}

static int cb_settermprop(VTermProp prop, VTermValue *val, void *user)
{
    UiTerm *t = user;
    if (prop == VTERM_PROP_CURSORVISIBLE) {
        t->cursor_visible = val->boolean;
        t->damaged = true;
    }
    return 1;
}

static int cb_bell(void *user)
{
    (void)user;
    return 1;
}

static int cb_sb_pushline(int cols, const VTermScreenCell *cells, void *user)
{
    UiTerm *t = user;
    if (t->sb_cap == 0)
        return 0;
    int slot;
    if (t->sb_n < t->sb_cap) {
        slot = (t->sb_first + t->sb_n) % t->sb_cap;
        t->sb_n++;
        /* a view into the history stays on the same lines */
        if (t->view > 0)
            t->view++;
    } else {
        slot = t->sb_first;
        t->sb_first = (t->sb_first + 1) % t->sb_cap;
    }
    VTermScreenCell *line = t->sb + (size_t)slot * (size_t)t->cols;
    for (int c = 0; c < t->cols; c++)
        line[c] = c < cols ? cells[c] : t->blank;
    t->damaged = true;
    return 1;
}

static int cb_sb_popline(int cols, VTermScreenCell *cells, void *user)
{
    /* the screen never grows: nothing to give back */
    (void)cols;
    (void)cells;
    (void)user;
    return 0;
}

static const VTermScreenCallbacks screen_cbs = {
    .damage = cb_damage,
    .moverect = cb_moverect,
    .movecursor = cb_movecursor,
    .settermprop = cb_settermprop,
    .bell = cb_bell,
    .sb_pushline = cb_sb_pushline,
    .sb_popline = cb_sb_popline,
};

static void cb_output(const char *s, size_t len, void *user)
{
    UiTerm *t = user;
    size_t room = sizeof t->out - t->n_out;
    if (len > room)
        len = room;   /* nobody reads: drop what does not fit */
    memcpy(t->out + t->n_out, s, len);
    t->n_out += len;
}

/* ---- life ---- */

UiTerm *ui_term_new(int rows, int cols, int scrollback)
{
    if (rows < 2 || cols < 2 || scrollback < 0)
        return NULL;
    UiTerm *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->rows = rows;
    t->cols = cols;
    t->sb_cap = scrollback;
    if (scrollback && !(t->sb = calloc((size_t)scrollback * (size_t)cols, sizeof *t->sb))) {
        free(t);
        return NULL;
    }
    t->vt = vterm_new(rows, cols);
    if (!t->vt) {
        free(t->sb);
        free(t);
        return NULL;
    }
    vterm_set_utf8(t->vt, 1);
    vterm_output_set_callback(t->vt, cb_output, t);
    t->state = vterm_obtain_state(t->vt);
    t->screen = vterm_obtain_screen(t->vt);
    vterm_screen_set_callbacks(t->screen, &screen_cbs, t);
    vterm_screen_enable_altscreen(t->screen, 1);
    VTermColor fg, bg;
    vterm_color_rgb(&fg, UI_TERM_DEFAULT_FG);
    vterm_color_rgb(&bg, UI_TERM_DEFAULT_BG);
    vterm_state_set_default_colors(t->state, &fg, &bg);
    /* bold with one of the 8 basic colours shows its bright variant, as the
     * Linux console and xterm do */
    vterm_state_set_bold_highbright(t->state, 1);
    vterm_screen_reset(t->screen, 1);
    t->cursor_visible = true;
    /* an empty cell as the reset screen has it */
    vterm_screen_get_cell(t->screen, (VTermPos){ 0, 0 }, &t->blank);
    memset(t->blank.chars, 0, sizeof t->blank.chars);
    t->blank.width = 1;
    t->damaged = true;
    return t;
}

void ui_term_free(UiTerm *t)
{
    if (!t)
        return;
    vterm_free(t->vt);
    free(t->sb);
    free(t);
}

void ui_term_size(const UiTerm *t, int *rows, int *cols)
{
    *rows = t->rows;
    *cols = t->cols;
}

void ui_term_write(UiTerm *t, const uint8_t *buf, size_t len)
{
    vterm_input_write(t->vt, (const char *)buf, len);
}

/* ---- the view ---- */

int ui_term_scrollback_lines(const UiTerm *t)
{
    return t->sb_n;
}

int ui_term_view_offset(const UiTerm *t)
{
    return t->view;
}

void ui_term_scroll_view(UiTerm *t, int delta)
{
    int v = t->view + delta;
    if (v < 0)
        v = 0;
    if (v > t->sb_n)
        v = t->sb_n;
    if (v != t->view) {
        t->view = v;
        t->damaged = true;
    }
}

static void fetch_cell(const UiTerm *t, int row, int col, VTermScreenCell *c)
{
    if (row < 0 || row >= t->rows || col < 0 || col >= t->cols) {
        *c = t->blank;
        return;
    }
    if (row < t->view) {
        int idx = (t->sb_first + t->sb_n - t->view + row) % t->sb_cap;
        *c = t->sb[(size_t)idx * (size_t)t->cols + (size_t)col];
        return;
    }
    if (!vterm_screen_get_cell(t->screen, (VTermPos){ row - t->view, col }, c))
        *c = t->blank;
}

static void rgb_of(const UiTerm *t, VTermColor col, uint8_t out[3])
{
    vterm_screen_convert_color_to_rgb(t->screen, &col);
    out[0] = col.rgb.red;
    out[1] = col.rgb.green;
    out[2] = col.rgb.blue;
}

void ui_term_cell(const UiTerm *t, int row, int col, UiCell *out)
{
    VTermScreenCell c;
    fetch_cell(t, row, col, &c);
    memset(out, 0, sizeof *out);
    if (c.chars[0] == (uint32_t)-1) {
        out->ch = ' ';
        out->width = 0;
    } else {
        out->ch = c.chars[0] ? c.chars[0] : ' ';
        out->width = c.width == 2 ? 2 : 1;
    }
    out->bold = c.attrs.bold;
    out->underline = c.attrs.underline != VTERM_UNDERLINE_OFF;
    out->italic = c.attrs.italic;
    out->reverse = c.attrs.reverse;
    out->default_bg = VTERM_COLOR_IS_DEFAULT_BG(&c.bg);
    uint8_t fg[3], bg[3];
    rgb_of(t, c.fg, fg);
    rgb_of(t, c.bg, bg);
    if (out->reverse) {
        memcpy(out->fg, bg, 3);
        memcpy(out->bg, fg, 3);
        out->default_bg = false;
    } else {
        memcpy(out->fg, fg, 3);
        memcpy(out->bg, bg, 3);
    }
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

void ui_term_row_text(const UiTerm *t, int row, char *out, size_t cap)
{
    size_t n = 0, keep = 0;
    if (cap == 0)
        return;
    for (int col = 0; col < t->cols; col++) {
        VTermScreenCell c;
        fetch_cell(t, row, col, &c);
        if (c.chars[0] == (uint32_t)-1)
            continue;
        for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && (i == 0 || c.chars[i]); i++) {
            uint32_t cp = c.chars[i] ? c.chars[i] : ' ';
            if (n + 4 >= cap)
                goto done;
            n += put_utf8(out + n, cp);
        }
        if (c.chars[0] && c.chars[0] != ' ')
            keep = n;
    }
done:
    out[keep] = 0;
}

bool ui_term_cursor(const UiTerm *t, int *row, int *col)
{
    *row = t->cursor.row + t->view;
    *col = t->cursor.col;
    return t->cursor_visible && *row < t->rows;
}

bool ui_term_take_damage(UiTerm *t)
{
    bool d = t->damaged;
    t->damaged = false;
    return d;
}

/* ---- keyboard ---- */

void ui_term_key_char(UiTerm *t, uint32_t cp, int mods)
{
    vterm_keyboard_unichar(t->vt, cp, (VTermModifier)mods);
}

void ui_term_key(UiTerm *t, UiKey key, int mods)
{
    static const VTermKey map[] = {
        [UI_KEY_ENTER] = VTERM_KEY_ENTER, [UI_KEY_TAB] = VTERM_KEY_TAB,
        [UI_KEY_BACKSPACE] = VTERM_KEY_BACKSPACE, [UI_KEY_ESCAPE] = VTERM_KEY_ESCAPE,
        [UI_KEY_UP] = VTERM_KEY_UP, [UI_KEY_DOWN] = VTERM_KEY_DOWN,
        [UI_KEY_LEFT] = VTERM_KEY_LEFT, [UI_KEY_RIGHT] = VTERM_KEY_RIGHT,
        [UI_KEY_INSERT] = VTERM_KEY_INS, [UI_KEY_DELETE] = VTERM_KEY_DEL,
        [UI_KEY_HOME] = VTERM_KEY_HOME, [UI_KEY_END] = VTERM_KEY_END,
        [UI_KEY_PAGEUP] = VTERM_KEY_PAGEUP, [UI_KEY_PAGEDOWN] = VTERM_KEY_PAGEDOWN,
    };
    VTermKey k;
    if (key >= UI_KEY_F1 && key < UI_KEY_F1 + 12)
        k = VTERM_KEY_FUNCTION(1 + (key - UI_KEY_F1));
    else if ((int)key > 0 && (size_t)key < sizeof map / sizeof *map)
        k = map[key];
    else
        return;
    vterm_keyboard_key(t->vt, k, (VTermModifier)mods);
}

size_t ui_term_peek_output(const UiTerm *t, const uint8_t **p)
{
    *p = t->out;
    return t->n_out;
}

void ui_term_consume_output(UiTerm *t, size_t n)
{
    if (n > t->n_out)
        n = t->n_out;
    memmove(t->out, t->out + n, t->n_out - n);
    t->n_out -= n;
}
