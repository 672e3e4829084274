/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the files lbvm reads from a user's live-bootstrap tree.
 * The input is NUL-separated parts: a `sources` file (steps/fetch.c's
 * fetch_list_add_file), stage0-posix's kaem.x86, x86/a.kaem, x86/kaem.run
 * and x86.answers (steps/stage0.c's stage0_read_phases), then console lines
 * matched against the phases (stage0_match). Each must accept its input or
 * refuse it with one line, never read or write out of bounds (ASan, UBSan),
 * and what it accepts must hold together: named items with 64-digit hashes
 * and a URL, phases with a name and a pattern, matches in order. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steps/fetch.h"
#include "steps/stage0.h"
#include "fuzz_input.h"

static char root[64];

static void put(const char *rel, const uint8_t *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(p, 1, n, f) == n || n == 0);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const files[] = { "pkg-1.0/sources", "kaem.x86", "x86/a.kaem", "x86/kaem.run", "x86.answers" };
    if (!root[0]) {
        snprintf(root, sizeof root, "/tmp/lbvm-fuzz-tree-%d", (int)getpid());
        mkdir(root, 0755);
        char d[128];
        snprintf(d, sizeof d, "%s/x86", root);
        mkdir(d, 0755);
        snprintf(d, sizeof d, "%s/pkg-1.0", root);
        mkdir(d, 0755);
    }
    const uint8_t *p = data, *end = data + size;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const uint8_t *z = memchr(p, 0, (size_t)(end - p));
        size_t n = z ? (size_t)(z - p) : (size_t)(end - p);
        put(files[i], p, n);
        p = z ? z + 1 : end;
    }

    char err[512], path[256];
    FetchList l = { 0 };
    snprintf(path, sizeof path, "%s/pkg-1.0/sources", root);
    err[0] = 0;
    if (fetch_list_add_file(&l, path, err, sizeof err) == 0) {
        for (int i = 0; i < l.n; i++) {
            check(l.items[i].name && l.items[i].name[0] && !strchr(l.items[i].name, '/'));
            check(strlen(l.items[i].sha256) == 64);
            check(l.items[i].n_urls >= 1);
            check(l.items[i].origin && !strcmp(l.items[i].origin, "pkg-1.0"));
        }
    } else {
        check(err[0] && !strchr(err, '\n'));
    }
    fetch_list_free(&l);

    Stage0Phases ph;
    err[0] = 0;
    int n = stage0_read_phases(root, &ph, err, sizeof err);
    if (n < 0) {
        check(err[0] && !strchr(err, '\n'));
        return 0;
    }
    check(n == ph.n);
    for (int i = 0; i < ph.n; i++)
        check(ph.v[i].name[0] && ph.v[i].pattern && !strncmp(ph.v[i].pattern, "^ \\+> ", 6));
    /* the rest: console lines */
    int from = 0;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = strndup((const char *)p, len);
        check(line != NULL);
        int m = stage0_match(&ph, from, line);
        check(m == -1 || (m >= from && m < ph.n));
        if (m >= 0)
            from = m + 1;
        free(line);
        p = nl ? nl + 1 : end;
    }
    stage0_phases_free(&ph);
    return 0;
}
