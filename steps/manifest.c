/* SPDX-License-Identifier: GPL-2.0-or-later */
/* steps/manifest and bootstrap.cfg of live-bootstrap's current layout, read as
 * the guest's seed/script-generator.c reads them (see manifest.h). Where the
 * generator would read past the end of a line or overflow a word (it keeps
 * 64-byte words), lbvm refuses the line with a message instead. */
#include "steps/manifest.h"
#include "base/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAX_WORD 63    /* the generator's words are 64-byte buffers (MAX_TOKEN) */
#define MANIFEST_MAX_FILE (16u << 20)

const char manifest_default_config[] =
    "ARCH=x86\n"
    "ARCH_DIR=x86\n"
    "FORCE_TIMESTAMPS=False\n"
    "CHROOT=False\n"
    "UPDATE_CHECKSUMS=False\n"
    "JOBS=1\n"
    "SWAP_SIZE=0\n"
    "FINAL_JOBS=1\n"
    "INTERNAL_CI=False\n"
    "INTERACTIVE=False\n"
    "QEMU=True\n"
    "BARE_METAL=False\n"
    "DISK=sda\n"
    "KERNEL_BOOTSTRAP=True\n"
    "BUILD_KERNELS=False\n"
    "CONFIGURATOR=False\n"
    "MIRRORS_LEN=0\n";

/* ---- bootstrap.cfg ----------------------------------------------------------- */

void manifest_config_free(ManifestConfig *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->v[i].name);
        free(c->v[i].val);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static int config_add(ManifestConfig *c, const char *name, size_t nl, const char *val, size_t vl)
{
    ManifestVar *v = realloc(c->v, (size_t)(c->n + 1) * sizeof *v);
    if (!v)
        return -1;
    c->v = v;
    v[c->n].name = strndup(name, nl);
    v[c->n].val = strndup(val, vl);
    if (!v[c->n].name || !v[c->n].val) {
        free(v[c->n].name);
        free(v[c->n].val);
        return -1;
    }
    c->n++;
    return 0;
}

int manifest_config_parse(const char *name, const char *text, size_t len, ManifestConfig *c, char *err,
                          size_t errlen)
{
    if (memchr(text, 0, len))
        return lbvm_set_err(err, errlen, "%s: holds a NUL byte", name);
    size_t pos = 0;
    int line = 0;
    while (pos < len) {
        line++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - s) : len - pos;
        pos += l + (nl ? 1 : 0);
        const char *eq = memchr(s, '=', l);
        if (!eq || eq == s)
            return lbvm_set_err(err, errlen, "%s:%d: expected NAME=VALUE", name, line);
        if (config_add(c, s, (size_t)(eq - s), eq + 1, l - (size_t)(eq - s) - 1) < 0)
            return lbvm_set_err(err, errlen, "out of memory");
    }
    return 0;
}

const char *manifest_config_get(const ManifestConfig *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].name, name))
            return c->v[i].val;
    return "";   /* the generator's unset variable */
}

int manifest_config_set(ManifestConfig *c, const char *name, const char *val)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].name, name)) {
            char *v = strdup(val);
            if (!v)
                return -1;
            free(c->v[i].val);
            c->v[i].val = v;
            return 0;
        }
    return config_add(c, name, strlen(name), val, strlen(val));
}

/* ---- the manifest ------------------------------------------------------------ */

void manifest_free(Manifest *m)
{
    for (int i = 0; i < m->n; i++) {
        ManifestDirective *d = &m->d[i];
        free(d->arg);
        for (int k = 0; k < d->ntok; k++)
            free(d->tok[k]);
        free(d->tok);
    }
    free(m->d);
    memset(m, 0, sizeof *m);
}

typedef struct Words {
    char **w;
    int n;
} Words;

static void words_free(Words *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->w[i]);
    free(w->w);
    w->w = NULL;
    w->n = 0;
}

/* Splits one line (no '\n') as the generator's consume_line() does: words end
 * at a space or '#', one space is skipped after a word, '#' ends the line.
 * An empty word (two spaces in a row) is refused here. 1 if the line holds
 * words, 0 if it is blank or a comment, -1 on an error. */
static int split_line(const char *s, size_t l, Words *w, const char **why)
{
    if (!l || s[0] == '#')
        return 0;
    size_t i = 0;
    while (i < l) {
        size_t st = i;
        while (i < l && s[i] != ' ' && s[i] != '#') {
            unsigned char ch = (unsigned char)s[i];
            if (ch < 0x20 || ch == 0x7f) {
                *why = ch == '\t' ? "a tab (words are separated by single spaces)"
                                  : "a control character";
                return -1;
            }
            i++;
        }
        if (i == st) {
            *why = st == 0 ? "the line starts with a space" : "two spaces in a row (the generator reads an empty word)";
            return -1;
        }
        if (i - st > MANIFEST_MAX_WORD) {
            *why = "a word longer than 63 characters (the generator's limit)";
            return -1;
        }
        char **nw = realloc(w->w, (size_t)(w->n + 1) * sizeof *nw);
        if (!nw || !(nw[w->n] = strndup(s + st, i - st))) {
            if (nw)
                w->w = nw;
            *why = "out of memory";
            return -1;
        }
        w->w = nw;
        w->n++;
        if (i < l && s[i] == ' ')
            i++;
        if (i < l && s[i] == '#')
            break;
    }
    return 1;
}

/* The logic from word i on (the word after "("): the index of the ")" that
 * closes it, or -1 with *why set. */
static int check_logic(char *const *t, int n, int i, const char **why)
{
    for (;;) {
        if (i + 1 >= n) {
            *why = "the predicate is not closed with ')'";
            return -1;
        }
        if (!strcmp(t[i + 1], ")"))
            return i + 1;   /* a constant */
        if (strcmp(t[i + 1], "==") && strcmp(t[i + 1], "!=")) {
            *why = "expected == or != after a name in the predicate";
            return -1;
        }
        if (i + 3 >= n) {
            *why = "the predicate is not closed with ')'";
            return -1;
        }
        if (!strcmp(t[i + 3], ")"))
            return i + 3;
        if (strcmp(t[i + 3], "||") && strcmp(t[i + 3], "&&")) {
            *why = "expected || or && in the predicate";
            return -1;
        }
        i += 4;
    }
}

/* "( logic )" from word i on: the index of its ")", or -1. */
static int check_primary(char *const *t, int n, int i, const char **why)
{
    if (i >= n || strcmp(t[i], "(")) {
        *why = "expected a predicate beginning with '('";
        return -1;
    }
    return check_logic(t, n, i + 1, why);
}

/* A whole predicate from word i to the end of the line (nothing may follow). */
static int check_predicate(char *const *t, int n, int i, const char **why)
{
    int end = check_primary(t, n, i, why);
    if (end < 0)
        return -1;
    if (end != n - 1) {
        *why = "words after the predicate's ')'";
        return -1;
    }
    return 0;
}

static int parse_directive(Words *w, ManifestDirective *d, const char **why)
{
    char **t = w->w;
    int n = w->n, rest;
    if (!strcmp(t[0], "build:"))
        d->kind = MANIFEST_BUILD;
    else if (!strcmp(t[0], "improve:"))
        d->kind = MANIFEST_IMPROVE;
    else if (!strcmp(t[0], "jump:"))
        d->kind = MANIFEST_JUMP;
    else if (!strcmp(t[0], "uninstall:"))
        d->kind = MANIFEST_UNINSTALL;
    else if (!strcmp(t[0], "define:"))
        d->kind = MANIFEST_DEFINE;
    else {
        *why = "unknown directive (build:, improve:, define:, jump: or uninstall:)";
        return -1;
    }
    if (n < 2 || !strcmp(t[1], "(")) {
        *why = "the directive has no argument";
        return -1;
    }
    if (d->kind == MANIFEST_DEFINE) {
        if (n < 3 || strcmp(t[2], "=")) {
            *why = "define has no '=' after the variable";
            return -1;
        }
        if (n < 4) {
            *why = "define has no value";
            return -1;
        }
        if (!strcmp(t[3], "(")) {
            int end = check_primary(t, n, 3, why);
            if (end < 0)
                return -1;
            rest = end + 1;
        } else {
            rest = 4;
        }
        d->value_ntok = rest - 3;
        if (rest < n && check_predicate(t, n, rest, why) < 0)
            return -1;
        if (!(d->arg = strdup(t[1])))
            goto oom;
        /* keep the value's and the predicate's words */
        d->ntok = n - 3;
        if (!(d->tok = calloc((size_t)d->ntok, sizeof *d->tok)))
            goto oom;
        for (int k = 0; k < d->ntok; k++) {
            d->tok[k] = t[3 + k];
            t[3 + k] = NULL;
        }
        return 0;
    }
    rest = 2;
    size_t alen = strlen(t[1]);
    if (d->kind == MANIFEST_UNINSTALL)
        while (rest < n && strcmp(t[rest], "("))
            alen += 1 + strlen(t[rest++]);
    if (rest < n && check_predicate(t, n, rest, why) < 0)
        return -1;
    if (!(d->arg = malloc(alen + 1)))
        goto oom;
    strcpy(d->arg, t[1]);
    for (int k = 2; k < rest; k++) {
        strcat(d->arg, " ");
        strcat(d->arg, t[k]);
    }
    d->ntok = n - rest;
    if (d->ntok && !(d->tok = calloc((size_t)d->ntok, sizeof *d->tok)))
        goto oom;
    for (int k = 0; k < d->ntok; k++) {
        d->tok[k] = t[rest + k];
        t[rest + k] = NULL;
    }
    return 0;
oom:
    *why = "out of memory";
    return -1;
}

int manifest_parse(const char *name, const char *text, size_t len, Manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (memchr(text, 0, len))
        return lbvm_set_err(err, errlen, "%s: holds a NUL byte", name);
    size_t pos = 0;
    int line = 0, cap = 0;
    while (pos < len) {
        line++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - s) : len - pos;
        pos += l + (nl ? 1 : 0);
        Words w = { 0 };
        const char *why = NULL;
        int r = split_line(s, l, &w, &why);
        if (r == 0) {
            words_free(&w);
            continue;
        }
        ManifestDirective d = { .line = line };
        if (r > 0 && parse_directive(&w, &d, &why) == 0) {
            if (m->n == cap) {
                cap = cap ? cap * 2 : 64;
                ManifestDirective *nd = realloc(m->d, (size_t)cap * sizeof *nd);
                if (!nd) {
                    why = "out of memory";
                    r = -1;
                } else {
                    m->d = nd;
                }
            }
            if (r > 0) {
                d.network = d.kind == MANIFEST_IMPROVE && lbvm_memmem(s, l, "network", 7) != NULL;
                m->d[m->n++] = d;
                words_free(&w);
                continue;
            }
        }
        /* d holds what parse_directive took */
        free(d.arg);
        for (int k = 0; k < d.ntok; k++)
            free(d.tok[k]);
        free(d.tok);
        words_free(&w);
        lbvm_set_err(err, errlen, "%s:%d: %s", name, line, why ? why : "cannot be read");
        manifest_free(m);
        return -1;
    }
    return 0;
}

int manifest_read(const char *path, Manifest *m, char *err, size_t errlen)
{
    size_t len = 0;
    char *text = lbvm_read_file(path, MANIFEST_MAX_FILE, &len, err, errlen);
    if (!text)
        return -1;
    int rc = manifest_parse(path, text, len, m, err, errlen);
    free(text);
    return rc;
}

/* ---- evaluation ---------------------------------------------------------------- */

/* The generator's logic(): "True", "False" or a constant word; *end is the
 * index of the closing ")". The grammar was checked by the parser. */
static const char *eval_logic(char *const *t, int i, const ManifestConfig *c, int *end)
{
    if (!strcmp(t[i + 1], ")")) {
        *end = i + 1;
        return t[i];
    }
    int eq = !strcmp(manifest_config_get(c, t[i]), t[i + 2]);
    const char *lhs = (!strcmp(t[i + 1], "==") ? eq : !eq) ? "True" : "False";
    if (!strcmp(t[i + 3], ")")) {
        *end = i + 3;
        return lhs;
    }
    const char *rhs = eval_logic(t, i + 4, c, end);
    int a = !strcmp(lhs, "True"), b = !strcmp(rhs, "True");
    return (!strcmp(t[i + 3], "||") ? a || b : a && b) ? "True" : "False";
}

static int eval_predicate(char *const *t, const ManifestConfig *c)
{
    int end;
    return !strcmp(eval_logic(t, 1, c, &end), "True");
}

int manifest_eval(Manifest *m, ManifestConfig *cfg, char *err, size_t errlen)
{
    int script = 0, next = 1, bash = 0;
    m->kept = m->builds = 0;
    for (int i = 0; i < m->n; i++) {
        ManifestDirective *d = &m->d[i];
        d->kept = d->pass = d->script = d->bash = 0;
        if (d->kind == MANIFEST_DEFINE) {
            int has_pred = d->ntok > d->value_ntok;
            if (has_pred && !eval_predicate(d->tok + d->value_ntok, cfg))
                continue;
            int end;
            const char *val = !strcmp(d->tok[0], "(") ? eval_logic(d->tok, 1, cfg, &end) : d->tok[0];
            char *copy = strdup(val);   /* val may be the variable's own value */
            if (!copy || manifest_config_set(cfg, d->arg, copy) < 0) {
                free(copy);
                return lbvm_set_err(err, errlen, "out of memory");
            }
            free(copy);
            d->kept = 1;
            continue;
        }
        if (d->ntok && !eval_predicate(d->tok, cfg))
            continue;
        d->kept = 1;
        d->script = script;
        d->bash = bash > 0;
        m->kept++;
        if (d->kind == MANIFEST_BUILD) {
            d->pass = 1;
            for (int k = 0; k < i; k++)
                if (m->d[k].kept && m->d[k].kind != MANIFEST_DEFINE && !strcmp(m->d[k].arg, d->arg))
                    d->pass++;
            m->builds++;
            if (!strncmp(d->arg, "bash-", 5)) {
                bash++;
                script = next++;
            }
        } else if (d->kind == MANIFEST_JUMP) {
            script = next++;
        }
    }
    m->scripts = next;
    return 0;
}

int manifest_network_line(const Manifest *m)
{
    for (int i = 0; i < m->n; i++)
        if (m->d[i].network)
            return m->d[i].line;
    return 0;
}
