/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host-side hex0 assembler, the same language as seeds/x86/hex0-seed:
 * every pair of hex digits (0-9, A-F, a-f) is one output byte, '#' and ';'
 * start a comment that runs to the end of the line, every other character
 * is skipped, and a dangling high nibble at the end is dropped.
 * Build the command-line tool with -DHEX0_MAIN:
 *   cc -std=gnu11 -DHEX0_MAIN seeds/hex0.c -o hex0 && ./hex0 IN.hex0 OUT */
#include <stddef.h>
#include <stdint.h>

/* Returns the number of bytes the source assembles to (which may exceed cap:
 * only the first cap bytes are stored), so a NULL/0 call sizes the output. */
int hex0_assemble(const char *src, size_t n, uint8_t *out, size_t cap)
{
    size_t len = 0;
    int hi = -1;                        /* pending high nibble, -1 = none */

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)src[i], v;
        if (c == '#' || c == ';') {
            while (i < n && src[i] != '\n')
                i++;
            continue;
        }
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (len < cap)
            out[len] = (uint8_t)(hi << 4 | v);
        len++;
        hi = -1;
    }
    return (int)len;
}

#ifdef HEX0_MAIN
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s INPUT.hex0 OUTPUT\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1 << 16, n = 0, r;
    char *src = malloc(cap);
    while (src && (r = fread(src + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            src = realloc(src, cap *= 2);
    }
    fclose(f);
    if (!src)
        return 1;
    int len = hex0_assemble(src, n, NULL, 0);
    uint8_t *out = malloc(len ? (size_t)len : 1);
    hex0_assemble(src, n, out, (size_t)len);
    FILE *o = fopen(argv[2], "wb");
    if (!o || fwrite(out, 1, (size_t)len, o) != (size_t)len || fclose(o)) {
        perror(argv[2]);
        return 1;
    }
    chmod(argv[2], 0750);
    free(src);
    free(out);
    return 0;
}
#endif
