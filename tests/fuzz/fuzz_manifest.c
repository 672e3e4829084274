/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the current layout's files lbvm reads from a user's tree.
 * The input is NUL-separated parts: steps/manifest (steps/manifest.c's
 * manifest_parse), bootstrap.cfg (manifest_config_parse), the evaluation of
 * the one against the other (manifest_eval), builder-hex0's stage1 hex0 text
 * (steps/hex0disk.c's hex0_compile), then srcfs paths, one a line
 * (srcfs_add_data, srcfs_remove). Each must accept its input or refuse it
 * with one line, never read or write out of bounds (ASan, UBSan), and what
 * it accepts must hold together: directives with a kind and an argument,
 * counts within bounds, passes and scripts consistent, hex0 at most half its
 * text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps/hex0disk.h"
#include "steps/manifest.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    size_t mn, cn, hn, sn;
    const uint8_t *mt = part(&p, end, &mn), *ct = part(&p, end, &cn), *ht = part(&p, end, &hn);
    const uint8_t *st = part(&p, end, &sn);
    char err[512];

    Manifest m;
    ManifestConfig c = { 0 };
    err[0] = 0;
    int mok = manifest_parse("manifest", (const char *)mt, mn, &m, err, sizeof err) == 0;
    if (!mok)
        check(err[0] && !strchr(err, '\n') && m.n == 0);
    err[0] = 0;
    int cok = manifest_config_parse("cfg", (const char *)ct, cn, &c, err, sizeof err) == 0;
    if (!cok)
        check(err[0] && !strchr(err, '\n'));
    for (int i = 0; i < c.n; i++)
        check(c.v[i].name[0] && !strchr(c.v[i].name, '\n') && !strchr(c.v[i].val, '\n'));
    if (mok) {
        for (int i = 0; i < m.n; i++) {
            const ManifestDirective *d = &m.d[i];
            check(d->kind >= MANIFEST_BUILD && d->kind <= MANIFEST_UNINSTALL && d->arg && d->arg[0]);
            check(d->line >= 1 && (i == 0 || d->line > m.d[i - 1].line));
            check(d->kind != MANIFEST_DEFINE || (d->value_ntok >= 1 && d->value_ntok <= d->ntok));
        }
        if (cok && manifest_eval(&m, &c, err, sizeof err) == 0) {
            int kept = 0, builds = 0;
            for (int i = 0; i < m.n; i++) {
                const ManifestDirective *d = &m.d[i];
                if (!d->kept || d->kind == MANIFEST_DEFINE)
                    continue;
                kept++;
                check(d->script >= 0 && d->script < m.scripts);
                check(i == 0 || d->script >= 0);
                if (d->kind == MANIFEST_BUILD) {
                    builds++;
                    check(d->pass >= 1 && d->pass <= kept);
                }
            }
            check(kept == m.kept && builds == m.builds && m.scripts >= 1 && m.scripts <= m.kept + 1);
            int nl = manifest_network_line(&m);
            check(nl == 0 || nl >= 1);
        }
        manifest_free(&m);
    }
    manifest_config_free(&c);

    uint8_t *bin = NULL;
    size_t bn = 0;
    err[0] = 0;
    if (hex0_compile("stage1", (const char *)ht, hn, &bin, &bn, err, sizeof err) == 0)
        check(bn <= hn / 2);
    else
        check(err[0] && !strchr(err, '\n') && bin == NULL);
    free(bin);

    Srcfs fs;
    check(srcfs_init(&fs) == 0);
    const uint8_t *q = st, *qe = st + sn;
    while (q < qe) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(qe - q));
        size_t len = nl ? (size_t)(nl - q) : (size_t)(qe - q);
        char *path = strndup((const char *)q, len);
        check(path != NULL);
        err[0] = 0;
        if (path[0] == '-')
            srcfs_remove(&fs, path + 1);
        else if (srcfs_add_data(&fs, path, path, len, err, sizeof err) < 0)
            check(err[0] && !strchr(err, '\n'));
        free(path);
        q = nl ? nl + 1 : qe;
    }
    srcfs_free(&fs);
    return 0;
}
