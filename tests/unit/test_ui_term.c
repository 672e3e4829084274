/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console window's terminal (cli/ui_term.c over libvterm), through the
 * cells the window draws: SGR colours and attributes, cursor movement, line
 * wrap, scrollback and the view into it, wide characters, and the keyboard
 * encoding (what goes to the guest). Built only with the SDL console. */
#include <string.h>

#include "check.h"
#include "cli/ui_term.h"

static void put(UiTerm *t, const char *s)
{
    ui_term_write(t, (const uint8_t *)s, strlen(s));
}

static int row_is(UiTerm *t, int row, const char *want)
{
    char got[512];
    ui_term_row_text(t, row, got, sizeof got);
    if (strcmp(got, want)) {
        fprintf(stderr, "row %d: got \"%s\", expected \"%s\"\n", row, got, want);
        return 0;
    }
    return 1;
}

static UiCell cell(UiTerm *t, int r, int c)
{
    UiCell x;
    ui_term_cell(t, r, c, &x);
    return x;
}

/* What the keyboard produced, as a NUL-terminated string; consumed. */
static const char *output(UiTerm *t)
{
    static char buf[256];
    const uint8_t *p;
    size_t n = ui_term_peek_output(t, &p);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    ui_term_consume_output(t, n);
    return buf;
}

static void test_text_and_cursor(void)
{
    UiTerm *t = ui_term_new(25, 80, 100);
    CHECK(t != NULL);
    int rows, cols, r, c;
    ui_term_size(t, &rows, &cols);
    CHECK_EQ(rows, 25);
    CHECK_EQ(cols, 80);
    CHECK(ui_term_take_damage(t));
    CHECK(!ui_term_take_damage(t));
    put(t, "hello");
    CHECK(ui_term_take_damage(t));
    CHECK(row_is(t, 0, "hello"));
    CHECK(ui_term_cursor(t, &r, &c));
    CHECK_EQ(r, 0);
    CHECK_EQ(c, 5);
    /* absolute position (1-based), relative moves, carriage return */
    put(t, "\033[5;10HX\033[2AY\rZ");
    CHECK_EQ(cell(t, 4, 9).ch, 'X');
    CHECK_EQ(cell(t, 2, 10).ch, 'Y');
    CHECK_EQ(cell(t, 2, 0).ch, 'Z');
    ui_term_cursor(t, &r, &c);
    CHECK_EQ(r, 2);
    CHECK_EQ(c, 1);
    /* erase in line, then clear the screen and home */
    put(t, "\033[1;3H\033[K");
    CHECK(row_is(t, 0, "he"));
    put(t, "\033[2J\033[H");
    CHECK(row_is(t, 0, ""));
    CHECK(row_is(t, 4, ""));
    ui_term_cursor(t, &r, &c);
    CHECK_EQ(r, 0);
    CHECK_EQ(c, 0);
    /* hidden cursor */
    put(t, "\033[?25l");
    CHECK(!ui_term_cursor(t, &r, &c));
    put(t, "\033[?25h");
    CHECK(ui_term_cursor(t, &r, &c));
    /* UTF-8 and a wide character (two cells) */
    put(t, "\xc3\xa9t\xc3\xa9 \xe6\xbc\xa2!");
    CHECK(row_is(t, 0, "\xc3\xa9t\xc3\xa9 \xe6\xbc\xa2!"));
    CHECK_EQ(cell(t, 0, 0).ch, 0xe9);
    CHECK_EQ(cell(t, 0, 4).ch, 0x6f22);
    CHECK_EQ(cell(t, 0, 4).width, 2);
    CHECK_EQ(cell(t, 0, 5).width, 0);
    CHECK_EQ(cell(t, 0, 6).ch, '!');
    ui_term_free(t);
}

static void test_colours(void)
{
    UiTerm *t = ui_term_new(25, 80, 100);
    put(t, "d\033[31mr\033[1;32mg\033[0;44mb\033[0;7mv\033[0;4mu\033[0;38;5;208mo\033[38;2;1;2;3;48;2;9;8;7mx\033[0m.");
    UiCell d = cell(t, 0, 0), r = cell(t, 0, 1), g = cell(t, 0, 2), b = cell(t, 0, 3), v = cell(t, 0, 4),
           u = cell(t, 0, 5), o = cell(t, 0, 6), x = cell(t, 0, 7), e = cell(t, 0, 8);
    /* default colours */
    CHECK(d.ch == 'd' && d.fg[0] == 0xd0 && d.fg[1] == 0xd0 && d.fg[2] == 0xd0);
    CHECK(d.default_bg && d.bg[0] == 0 && d.bg[1] == 0 && d.bg[2] == 0);
    CHECK(!d.bold && !d.underline && !d.reverse);
    /* SGR 31: red */
    CHECK(r.fg[0] > 150 && r.fg[1] < 60 && r.fg[2] < 60);
    CHECK(r.default_bg);
    /* SGR 1;32: bold green, drawn bright */
    CHECK(g.bold);
    CHECK(g.fg[1] > 200 && g.fg[0] < g.fg[1] && g.fg[2] < g.fg[1]);
    /* SGR 44: blue background, default foreground */
    CHECK(!b.default_bg && b.bg[2] > 150 && b.bg[0] < 60 && b.bg[1] < 60);
    CHECK(b.fg[0] == 0xd0);
    /* SGR 7: reverse video swaps the colours */
    CHECK(v.reverse && !v.default_bg);
    CHECK(v.fg[0] == 0 && v.fg[1] == 0 && v.fg[2] == 0);
    CHECK(v.bg[0] == 0xd0 && v.bg[1] == 0xd0 && v.bg[2] == 0xd0);
    /* SGR 4: underline */
    CHECK(u.underline && !u.reverse);
    /* 256 colours: 208 is orange in the 6x6x6 cube (libvterm's steps are
     * 0x33 apart: (255, 102, 0); xterm's give (255, 135, 0)) */
    CHECK(o.fg[0] == 255 && o.fg[1] >= 0x60 && o.fg[1] <= 0x90 && o.fg[2] == 0);
    /* 24-bit colours */
    CHECK(x.fg[0] == 1 && x.fg[1] == 2 && x.fg[2] == 3);
    CHECK(x.bg[0] == 9 && x.bg[1] == 8 && x.bg[2] == 7 && !x.default_bg);
    /* SGR 0 resets everything */
    CHECK(e.ch == '.' && e.fg[0] == 0xd0 && e.default_bg && !e.bold && !e.underline);
    ui_term_free(t);
}

static void test_wrap(void)
{
    UiTerm *t = ui_term_new(25, 80, 100);
    char line[86];
    memset(line, 'x', 85);
    line[85] = 0;
    put(t, line);
    char want[81];
    memset(want, 'x', 80);
    want[80] = 0;
    CHECK(row_is(t, 0, want));
    CHECK(row_is(t, 1, "xxxxx"));
    int r, c;
    ui_term_cursor(t, &r, &c);
    CHECK_EQ(r, 1);
    CHECK_EQ(c, 5);
    /* exactly 80 columns: the cursor waits at the margin, the next
     * character wraps */
    put(t, "\r\n");
    put(t, want);
    ui_term_cursor(t, &r, &c);
    CHECK_EQ(r, 2);
    CHECK_EQ(c, 79);
    put(t, "y");
    CHECK_EQ(cell(t, 3, 0).ch, 'y');
    /* autowrap off (DECAWM): the last column is overwritten */
    put(t, "\r\n\033[?7l");
    put(t, line);
    CHECK_EQ(cell(t, 4, 79).ch, 'x');
    CHECK(row_is(t, 5, ""));
    ui_term_free(t);
}

static void test_scrollback(void)
{
    UiTerm *t = ui_term_new(5, 20, 10);
    for (int i = 1; i <= 8; i++) {
        char s[16];
        snprintf(s, sizeof s, "%sL%d", i > 1 ? "\r\n" : "", i);
        put(t, s);
    }
    /* 8 lines on a 5-row screen: 3 scrolled off */
    CHECK_EQ(ui_term_scrollback_lines(t), 3);
    CHECK(row_is(t, 0, "L4"));
    CHECK(row_is(t, 4, "L8"));
    CHECK_EQ(ui_term_view_offset(t), 0);
    ui_term_take_damage(t);
    ui_term_scroll_view(t, 2);
    CHECK(ui_term_take_damage(t));
    CHECK_EQ(ui_term_view_offset(t), 2);
    CHECK(row_is(t, 0, "L2"));
    CHECK(row_is(t, 1, "L3"));
    CHECK(row_is(t, 2, "L4"));
    CHECK(row_is(t, 4, "L6"));
    /* the cursor (on L8's row) is below the view */
    int r, c;
    CHECK(!ui_term_cursor(t, &r, &c));
    /* clamped at the oldest line */
    ui_term_scroll_view(t, 100);
    CHECK_EQ(ui_term_view_offset(t), 3);
    CHECK(row_is(t, 0, "L1"));
    /* new output while scrolled back: the view stays on the same lines */
    put(t, "\r\nL9");
    CHECK_EQ(ui_term_scrollback_lines(t), 4);
    CHECK_EQ(ui_term_view_offset(t), 4);
    CHECK(row_is(t, 0, "L1"));
    /* back to the live screen */
    ui_term_scroll_view(t, -100);
    CHECK_EQ(ui_term_view_offset(t), 0);
    CHECK(row_is(t, 0, "L5"));
    CHECK(row_is(t, 4, "L9"));
    CHECK(ui_term_cursor(t, &r, &c));
    /* colours survive in the scrollback */
    put(t, "\r\n\033[31mRED\033[0m\r\n\r\n\r\n\r\n\r\n");
    ui_term_scroll_view(t, 1);
    CHECK(row_is(t, 0, "RED"));
    CHECK(cell(t, 0, 0).fg[0] > 150 && cell(t, 0, 0).fg[1] < 60);
    /* a full ring keeps the newest lines */
    ui_term_scroll_view(t, -100);
    for (int i = 0; i < 30; i++)
        put(t, "\r\nmore");
    CHECK_EQ(ui_term_scrollback_lines(t), 10);
    ui_term_free(t);
}

static void test_keyboard(void)
{
    UiTerm *t = ui_term_new(25, 80, 0);
    ui_term_key_char(t, 'a', 0);
    ui_term_key_char(t, 0xe9, 0);
    CHECK(!strcmp(output(t), "a\xc3\xa9"));
    ui_term_key_char(t, 'c', UI_MOD_CTRL);
    CHECK(!strcmp(output(t), "\x03"));
    ui_term_key(t, UI_KEY_ENTER, 0);
    CHECK(!strcmp(output(t), "\r"));
    ui_term_key(t, UI_KEY_BACKSPACE, 0);
    CHECK(!strcmp(output(t), "\x7f"));
    ui_term_key(t, UI_KEY_TAB, 0);
    CHECK(!strcmp(output(t), "\t"));
    ui_term_key(t, UI_KEY_UP, 0);
    CHECK(!strcmp(output(t), "\033[A"));
    ui_term_key(t, UI_KEY_LEFT, 0);
    CHECK(!strcmp(output(t), "\033[D"));
    ui_term_key(t, UI_KEY_DELETE, 0);
    CHECK(!strcmp(output(t), "\033[3~"));
    ui_term_key(t, UI_KEY_F1, 0);
    CHECK(!strcmp(output(t), "\033OP"));
    /* application cursor keys (DECCKM), as full-screen programs set */
    put(t, "\033[?1h");
    ui_term_key(t, UI_KEY_UP, 0);
    CHECK(!strcmp(output(t), "\033OA"));
    /* the guest's input queue takes only part: the rest waits */
    ui_term_key_char(t, 'x', 0);
    ui_term_key_char(t, 'y', 0);
    const uint8_t *p;
    CHECK_EQ(ui_term_peek_output(t, &p), 2);
    ui_term_consume_output(t, 1);
    CHECK_EQ(ui_term_peek_output(t, &p), 1);
    CHECK_EQ(p[0], 'y');
    ui_term_consume_output(t, 1);
    /* the terminal answers a cursor position query (DSR 6) */
    put(t, "\033[3;7H\033[6n");
    CHECK(!strcmp(output(t), "\033[3;7R"));
    ui_term_free(t);
}

int main(void)
{
    test_text_and_cursor();
    test_colours();
    test_wrap();
    test_scrollback();
    test_keyboard();
    return check_done();
}
