/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stage0-posix's phases from its kaem scripts (stage0.h). The scripts are read,
 * never run: a command line is split into words as kaem splits it (blanks,
 * "double quotes", a trailing backslash joins the next line), ${NAME} is
 * replaced by the value last assigned in a script read so far, or by a
 * wildcard in the pattern when none was. */
#include "steps/stage0.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 8
#define MAX_WORDS 256
#define MAX_VARS 64
#define LINE_MAX_LEN 16384

typedef struct Reader {
    Stage0Phases *p;
    char vars[MAX_VARS][2][512];
    int n_vars;
    char pending[160];            /* a banner waiting for its first command */
    char *err;
    size_t errlen;
} Reader;

static const char *var_get(Reader *r, const char *name, size_t len)
{
    for (int i = r->n_vars - 1; i >= 0; i--)
        if (strlen(r->vars[i][0]) == len && !strncmp(r->vars[i][0], name, len))
            return r->vars[i][1];
    return NULL;
}

static void var_set(Reader *r, const char *name, const char *value)
{
    if (r->n_vars == MAX_VARS)
        return;
    snprintf(r->vars[r->n_vars][0], sizeof r->vars[0][0], "%s", name);
    snprintf(r->vars[r->n_vars][1], sizeof r->vars[0][1], "%s", value);
    r->n_vars++;
}

/* word with ${NAME} expanded: into `text` (unknown names as ""), and into
 * `ere` as a regular expression (unknown names as [^ ]*). */
static void expand(Reader *r, const char *word, char *text, size_t tlen, char *ere, size_t elen)
{
    size_t t = 0, e = 0;
#define PUT_T(c) do { if (t + 1 < tlen) text[t++] = (c); } while (0)
#define PUT_E(c) do { if (e + 1 < elen) ere[e++] = (c); } while (0)
    for (const char *s = word; *s;) {
        if (s[0] == '$' && s[1] == '{' && strchr(s, '}')) {
            const char *name = s + 2, *end = strchr(s, '}');
            const char *v = var_get(r, name, (size_t)(end - name));
            if (v) {
                for (const char *c = v; *c; c++) {
                    PUT_T(*c);
                    if (strchr(".[]()*+?{}|^$\\", *c))
                        PUT_E('\\');
                    PUT_E(*c);
                }
            } else {
                for (const char *c = "[^ ]*"; *c; c++)
                    PUT_E(*c);
            }
            s = end + 1;
            continue;
        }
        PUT_T(*s);
        if (strchr(".[]()*+?{}|^$\\", *s))
            PUT_E('\\');
        PUT_E(*s);
        s++;
    }
    text[t] = 0;
    ere[e] = 0;
#undef PUT_T
#undef PUT_E
}

/* Splits a kaem line into words; quotes are removed, as kaem does. */
static int split_words(char *line, char *words[], int max)
{
    int n = 0;
    char *s = line, *o;
    while (*s && n < max) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            break;
        words[n++] = o = s;
        while (*s && *s != ' ' && *s != '\t') {
            if (*s == '"') {
                s++;
                while (*s && *s != '"')
                    *o++ = *s++;
                if (*s)
                    s++;
            } else {
                *o++ = *s++;
            }
        }
        if (*s)
            s++;
        *o = 0;
    }
    return n;
}

/* "# Phase-1 Build hex1 from hex0 #" -> "Phase-1 Build hex1 from hex0". */
static int banner(const char *line, char *name, size_t len)
{
    const char *s = line;
    while (*s == '#' || *s == ' ' || *s == '\t')
        s++;
    if (strncmp(s, "Phase", 5) || !(s[5] == '-' || s[5] == ' ') || !isdigit((unsigned char)s[6]))
        return 0;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '#' || isspace((unsigned char)s[n - 1])))
        n--;
    snprintf(name, len, "%.*s", (int)n, s);
    return 1;
}

static int add_phase(Reader *r, const char *name, const char *ere)
{
    Stage0Phases *p = r->p;
    char *pat = lbvm_strdup_printf("^ \\+> %s ?$", ere);
    if (!pat)
        return lbvm_set_err(r->err, r->errlen, "out of memory");
    Stage0Phase *nv = realloc(p->v, (size_t)(p->n + 1) * sizeof *nv);
    regex_t *nr = realloc(p->re, (size_t)(p->n + 1) * sizeof *nr);
    if (nv)
        p->v = nv;
    if (nr)
        p->re = nr;
    if (!nv || !nr) {
        free(pat);
        return lbvm_set_err(r->err, r->errlen, "out of memory");
    }
    if (regcomp(&p->re[p->n], pat, REG_EXTENDED | REG_NOSUB) != 0) {
        free(pat);
        return lbvm_set_err(r->err, r->errlen, "stage0-posix: cannot make a pattern of the command after '%s'", name);
    }
    snprintf(p->v[p->n].name, sizeof p->v[p->n].name, "%s", name);
    p->v[p->n].pattern = pat;
    p->n++;
    return 0;
}

/* rel from dir; an absolute rel is from root (the initramfs's root) */
static int path_join(char *out, size_t len, const char *root, const char *dir, const char *rel)
{
    if (rel[0] == '/')
        return snprintf(out, len, "%s%s", root, rel) >= (int)len ? -1 : 0;
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    return snprintf(out, len, "%s/%s", dir, rel) >= (int)len ? -1 : 0;
}

static int read_script(Reader *r, const char *root, const char *cwd, const char *path, int depth);

/* One command of a script, already split into words. */
static int command(Reader *r, const char *root, char *cwd, size_t cwdlen, char *words[], int n, int depth)
{
    static char text[MAX_WORDS][1024];
    char ere[LINE_MAX_LEN] = "";
    if (n < 1)
        return 0;
    size_t el = 0;
    for (int i = 0; i < n; i++) {
        char e[2048];
        expand(r, words[i], text[i], sizeof text[i], e, sizeof e);
        el += (size_t)snprintf(ere + el, el < sizeof ere ? sizeof ere - el : 0, "%s%s", i ? " " : "", e);
    }
    if (el >= sizeof ere)
        return lbvm_set_err(r->err, r->errlen, "stage0-posix: a command of %d words is too long to follow", n);
    /* NAME=VALUE alone: an assignment */
    const char *eq = strchr(text[0], '=');
    if (n == 1 && eq && eq != text[0]) {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq - text[0]), text[0]);
        var_set(r, name, eq + 1);
        return 0;
    }
    if (!strcmp(text[0], "cd") && n == 2) {
        char nd[4096];
        if (path_join(nd, sizeof nd, root, cwd, text[1]) == 0) {
            /* ".." from the root's children: kept textual, resolved by stat */
            snprintf(cwd, cwdlen, "%s", nd);
        }
        return 0;
    }
    if (!strcmp(text[0], "set"))
        return 0;
    /* a script run by this command: --file X, or a *.kaem argument */
    const char *script = NULL;
    for (int i = 1; i < n && !script; i++) {
        if (!strcmp(text[i], "--file") && i + 1 < n)
            script = text[i + 1];
        else if (strlen(text[i]) > 5 && !strcmp(text[i] + strlen(text[i]) - 5, ".kaem"))
            script = text[i];
    }
    char sp[4096];
    int runs_script = script && path_join(sp, sizeof sp, root, cwd, script) == 0 && lbvm_is_file(sp);
    /* the answers check */
    if (n == 3 && strstr(text[0], "sha256sum") && !strcmp(text[1], "-c")) {
        char ap[4096], name[160];
        int lines = 0;
        if (path_join(ap, sizeof ap, root, cwd, text[2]) == 0) {
            FILE *f = fopen(ap, "r");
            char l[1024];
            while (f && fgets(l, sizeof l, f))
                lines += l[0] != '\n';
            if (f)
                fclose(f);
        }
        const char *base = strrchr(text[2], '/') ? strrchr(text[2], '/') + 1 : text[2];
        snprintf(name, sizeof name, "Check %.100s (%d answers)", base, lines);
        r->p->answers = lines;
        r->pending[0] = 0;
        return add_phase(r, name, ere);
    }
    if (r->pending[0] && !runs_script) {
        int rc = add_phase(r, r->pending, ere);
        r->pending[0] = 0;
        if (rc)
            return rc;
    }
    if (runs_script)
        return read_script(r, root, cwd, sp, depth + 1);
    return 0;
}

static int read_script(Reader *r, const char *root, const char *cwd_in, const char *path, int depth)
{
    if (depth > MAX_DEPTH)
        return lbvm_set_err(r->err, r->errlen, "stage0-posix: scripts nest deeper than %d at %s", MAX_DEPTH, path);
    FILE *f = fopen(path, "r");
    if (!f)
        return lbvm_set_err(r->err, r->errlen, "cannot read %s: %s", path, strerror(errno));
    char cwd[4096];
    snprintf(cwd, sizeof cwd, "%s", cwd_in);
    char *line = malloc(LINE_MAX_LEN), *acc = malloc(LINE_MAX_LEN);
    int rc = line && acc ? 0 : lbvm_set_err(r->err, r->errlen, "out of memory");
    size_t al = 0;
    while (!rc && fgets(line, LINE_MAX_LEN, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = 0;
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!al && *s == '#') {
            char name[160];
            if (banner(s, name, sizeof name))
                snprintf(r->pending, sizeof r->pending, "%s", name);
            continue;
        }
        int more = l && line[l - 1] == '\\';
        if (more)
            line[--l] = 0;
        if (al + l + 2 >= LINE_MAX_LEN) {
            rc = lbvm_set_err(r->err, r->errlen, "%s: a command longer than %d bytes", path, LINE_MAX_LEN);
            break;
        }
        al += (size_t)sprintf(acc + al, "%s%s", al ? " " : "", line);
        if (more)
            continue;
        char *words[MAX_WORDS];
        int n = split_words(acc, words, MAX_WORDS);
        al = 0;
        if (n)
            rc = command(r, root, cwd, sizeof cwd, words, n, depth);
    }
    fclose(f);
    free(line);
    free(acc);
    return rc;
}

int stage0_read_phases(const char *root, Stage0Phases *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    Reader *r = calloc(1, sizeof *r);
    if (!r)
        return lbvm_set_err(err, errlen, "out of memory");
    r->p = p;
    r->err = err;
    r->errlen = errlen;
    char top[4096];
    int rc;
    snprintf(top, sizeof top, "%s/kaem.x86", root);
    if (!lbvm_is_file(top))
        snprintf(top, sizeof top, "%s/kaem.run", root);
    if (!lbvm_is_file(top))
        rc = lbvm_set_err(err, errlen, "%s has neither kaem.x86 nor kaem.run", root);
    else
        rc = read_script(r, root, root, top, 0);
    free(r);
    if (rc) {
        stage0_phases_free(p);
        return -1;
    }
    return p->n;
}

int stage0_match(const Stage0Phases *p, int from, const char *line)
{
    if (strncmp(line, " +> ", 4))
        return -1;
    for (int i = from < 0 ? 0 : from; i < p->n; i++)
        if (regexec(&p->re[i], line, 0, NULL, 0) == 0)
            return i;
    return -1;
}

void stage0_phases_free(Stage0Phases *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->v[i].pattern);
        regfree(&p->re[i]);
    }
    free(p->v);
    free(p->re);
    memset(p, 0, sizeof *p);
}

static int stage0_unfilled(const char *path, const char *tree, char *err, size_t errlen)
{
    return lbvm_set_err(err, errlen, "%s is empty: the tree's git submodules are not checked out; run "
                        "git -C %s submodule update --init --recursive", path, tree);
}

int stage0_check_checkout(const char *dir, const char *tree, const char *const *used, size_t n, char *err,
                          size_t errlen)
{
    if (lbvm_dir_empty(dir))
        return stage0_unfilled(dir, tree, err, errlen);
    char gm[4200], line[1024], p[4800];
    snprintf(gm, sizeof gm, "%s/.gitmodules", dir);
    FILE *f = fopen(gm, "r");
    int rc = 0;
    while (!rc && f && fgets(line, sizeof line, f)) {
        char path[512];
        if (sscanf(line, " path = %511s", path) != 1)
            continue;
        for (size_t i = 0; i < n && !rc; i++) {
            snprintf(p, sizeof p, "%s/%s", dir, path);
            if (!strcmp(path, used[i]) && lbvm_dir_empty(p))
                rc = stage0_unfilled(p, tree, err, errlen);
        }
    }
    if (f)
        fclose(f);
    return rc;
}
