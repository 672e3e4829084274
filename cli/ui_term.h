/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console window's terminal: libvterm's screen (escape sequences, SGR
 * colours, cursor movement, line wrap) plus lbvm's own scrollback and view
 * into it, and the keyboard encoding (keys -> bytes for the guest). What the
 * renderer (ui_sdl.c) draws is exactly what ui_term_cell returns, so the
 * unit test (tests/unit/test_ui_term.c) checks the same cells the window
 * shows. Only built with the SDL console (LBVM_HAVE_SDL). */
#ifndef LBVM_UI_TERM_H
#define LBVM_UI_TERM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct UiTerm UiTerm;

/* One cell as drawn: colours already resolved to RGB, reverse video
 * already applied (fg and bg swapped; `reverse` says it was). */
typedef struct UiCell {
    uint32_t ch;              /* first code point; ' ' for an empty cell */
    int width;                /* 1, 2 (a wide character), 0 (right half of one) */
    uint8_t fg[3], bg[3];
    bool bold, underline, italic, reverse;
    bool default_bg;          /* bg is the terminal's default background */
} UiCell;

/* Keys that are not text (modifiers: UI_MOD_*). */
typedef enum UiKey {
    UI_KEY_ENTER = 1, UI_KEY_TAB, UI_KEY_BACKSPACE, UI_KEY_ESCAPE,
    UI_KEY_UP, UI_KEY_DOWN, UI_KEY_LEFT, UI_KEY_RIGHT,
    UI_KEY_INSERT, UI_KEY_DELETE, UI_KEY_HOME, UI_KEY_END, UI_KEY_PAGEUP, UI_KEY_PAGEDOWN,
    UI_KEY_F1, /* ... F12 = UI_KEY_F1 + 11 */
} UiKey;
enum { UI_MOD_SHIFT = 1, UI_MOD_ALT = 2, UI_MOD_CTRL = 4 };

/* The terminal's default colours. */
#define UI_TERM_DEFAULT_FG 0xd0, 0xd0, 0xd0
#define UI_TERM_DEFAULT_BG 0x00, 0x00, 0x00

/* rows x cols cells, keeping up to `scrollback` lines that scrolled off the
 * top. NULL on allocation failure. */
UiTerm *ui_term_new(int rows, int cols, int scrollback);
void ui_term_free(UiTerm *t);
void ui_term_size(const UiTerm *t, int *rows, int *cols);
/* Guest output (UTF-8 and escape sequences). */
void ui_term_write(UiTerm *t, const uint8_t *buf, size_t len);

/* The view: `offset` lines back into the scrollback (0 = the live screen).
 * Row r of the view is scrollback line (count - offset + r) while
 * r < offset, else screen row r - offset. */
int ui_term_scrollback_lines(const UiTerm *t);
int ui_term_view_offset(const UiTerm *t);
/* Moves the view by delta lines (positive: back in history), clamped. */
void ui_term_scroll_view(UiTerm *t, int delta);
/* The cell at (row, col) of the view. */
void ui_term_cell(const UiTerm *t, int row, int col, UiCell *out);
/* The text of a view row, UTF-8, trailing blanks dropped. */
void ui_term_row_text(const UiTerm *t, int row, char *out, size_t cap);
/* The cursor's screen position; returns whether it is visible in the view. */
bool ui_term_cursor(const UiTerm *t, int *row, int *col);
/* True once after anything that changes what is drawn. */
bool ui_term_take_damage(UiTerm *t);

/* Keyboard: a typed character (code point) or a key, encoded as a VT220/
 * xterm would; the bytes (and the terminal's answers to queries such as
 * cursor position reports) wait in a buffer: ui_term_peek_output. */
void ui_term_key_char(UiTerm *t, uint32_t cp, int mods);
void ui_term_key(UiTerm *t, UiKey key, int mods);
/* The waiting bytes (*p, return value), then drop the first n of them once
 * they were taken (the guest's input queue may take only part). */
size_t ui_term_peek_output(const UiTerm *t, const uint8_t **p);
void ui_term_consume_output(UiTerm *t, size_t n);
#endif
