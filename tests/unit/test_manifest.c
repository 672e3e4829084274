/* SPDX-License-Identifier: GPL-2.0-or-later */
/* steps/manifest.c: live-bootstrap's current manifest and bootstrap.cfg, read
 * as the guest's script generator reads them: the directive kinds, the
 * predicate grammar and its evaluation (==, !=, ||, &&, constants, unset
 * variables, defines seen by later lines), passes, scripts, the pre-network
 * line, and the lines the generator would fail on. Then the fixture
 * tests/fixtures/lb-current-forms through steps/current.c: its counts and its
 * pre-network distfiles. */
#include "check.h"
#include "steps/current.h"
#include "steps/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int parse(const char *text, Manifest *m, char *e, size_t el)
{
    return manifest_parse("manifest", text, strlen(text), m, e, el);
}

/* Evaluates text against cfg text; returns the manifest (caller frees). */
static int eval(const char *text, const char *cfgtext, Manifest *m, ManifestConfig *c)
{
    char e[512];
    memset(c, 0, sizeof *c);
    if (parse(text, m, e, sizeof e) < 0) {
        fprintf(stderr, "parse: %s\n", e);
        return -1;
    }
    if (manifest_config_parse("cfg", cfgtext, strlen(cfgtext), c, e, sizeof e) < 0) {
        fprintf(stderr, "cfg: %s\n", e);
        manifest_free(m);
        return -1;
    }
    return manifest_eval(m, c, e, sizeof e);
}

/* Is the single directive of text kept with cfgtext? -1 on an error. */
static int kept(const char *text, const char *cfgtext)
{
    Manifest m;
    ManifestConfig c;
    if (eval(text, cfgtext, &m, &c) < 0)
        return -1;
    int k = m.n >= 1 ? m.d[m.n - 1].kept : -1;
    manifest_free(&m);
    manifest_config_free(&c);
    return k;
}

static void test_config(void)
{
    ManifestConfig c = { 0 };
    char e[256];
    const char *t = "A=1\nB=x=y\nA=2\nEMPTY=\nQ=\"a b\"\nLAST=no-newline";
    CHECK(manifest_config_parse("cfg", t, strlen(t), &c, e, sizeof e) == 0);
    CHECK_EQ(c.n, 6);
    CHECK_STR(manifest_config_get(&c, "A"), "1");       /* the first of a name */
    CHECK_STR(manifest_config_get(&c, "B"), "x=y");     /* the first '=' splits */
    CHECK_STR(manifest_config_get(&c, "EMPTY"), "");
    CHECK_STR(manifest_config_get(&c, "Q"), "\"a b\"");
    CHECK_STR(manifest_config_get(&c, "LAST"), "no-newline");
    CHECK_STR(manifest_config_get(&c, "UNSET"), "");
    CHECK(manifest_config_set(&c, "A", "3") == 0 && !strcmp(manifest_config_get(&c, "A"), "3"));
    CHECK(manifest_config_set(&c, "NEW", "v") == 0 && c.n == 7 && !strcmp(c.v[6].name, "NEW"));
    manifest_config_free(&c);
    /* a blank line or a line without '=' fails in the guest too */
    t = "A=1\n\nB=2\n";
    CHECK(manifest_config_parse("cfg", t, strlen(t), &c, e, sizeof e) < 0 && strstr(e, "cfg:2:"));
    manifest_config_free(&c);
    t = "A=1\nnothing\n";
    CHECK(manifest_config_parse("cfg", t, strlen(t), &c, e, sizeof e) < 0 && strstr(e, "cfg:2:"));
    manifest_config_free(&c);
    t = "=1\n";
    CHECK(manifest_config_parse("cfg", t, strlen(t), &c, e, sizeof e) < 0);
    manifest_config_free(&c);
    CHECK(manifest_config_parse("cfg", "A=\0", 3, &c, e, sizeof e) < 0 && strstr(e, "NUL"));
    manifest_config_free(&c);
    /* lbvm's own: rootfs.py --qemu --cores 1's keys, kernel bootstrap */
    CHECK(manifest_config_parse("cfg", manifest_default_config, strlen(manifest_default_config), &c, e, sizeof e) == 0);
    CHECK_STR(manifest_config_get(&c, "KERNEL_BOOTSTRAP"), "True");
    CHECK_STR(manifest_config_get(&c, "DISK"), "sda");
    CHECK_STR(manifest_config_get(&c, "CHROOT"), "False");
    CHECK_STR(manifest_config_get(&c, "QEMU"), "True");
    CHECK_STR(manifest_config_get(&c, "CONFIGURATOR"), "False");
    CHECK_STR(manifest_config_get(&c, "BUILD_KERNELS"), "False");
    CHECK_STR(manifest_config_get(&c, "JOBS"), "1");
    CHECK_STR(manifest_config_get(&c, "MIRRORS_LEN"), "0");
    CHECK_EQ(c.n, 17);
    manifest_config_free(&c);
}

static void test_directives(void)
{
    Manifest m;
    char e[512];
    const char *t = "# a comment line\n"
                    "\n"
                    "build: a-1.0\n"
                    "improve: setup_repo # a comment after a directive\n"
                    "define: X = ( A == 1 )\n"
                    "define: J = 4\n"
                    "jump: fiwix ( KERNEL_BOOTSTRAP == True )\n"
                    "uninstall: a-1.0 /usr/bin/lex /usr/bin/flex ( A != 2 )\n"
                    "build: b#comment right after a word\n";
    CHECK(parse(t, &m, e, sizeof e) == 0);
    CHECK_EQ(m.n, 7);
    if (m.n == 7) {
        CHECK(m.d[0].kind == MANIFEST_BUILD && !strcmp(m.d[0].arg, "a-1.0") && m.d[0].line == 3 && m.d[0].ntok == 0);
        CHECK(m.d[1].kind == MANIFEST_IMPROVE && !strcmp(m.d[1].arg, "setup_repo") && m.d[1].ntok == 0);
        CHECK(m.d[2].kind == MANIFEST_DEFINE && !strcmp(m.d[2].arg, "X") && m.d[2].value_ntok == 5);
        CHECK(m.d[3].kind == MANIFEST_DEFINE && m.d[3].value_ntok == 1 && !strcmp(m.d[3].tok[0], "4"));
        CHECK(m.d[4].kind == MANIFEST_JUMP && !strcmp(m.d[4].arg, "fiwix") && m.d[4].ntok == 5);
        CHECK(m.d[5].kind == MANIFEST_UNINSTALL && !strcmp(m.d[5].arg, "a-1.0 /usr/bin/lex /usr/bin/flex"));
        CHECK_STR(m.d[6].arg, "b");
    }
    manifest_free(&m);

    /* lines the generator fails on (or would read past the end of) */
    static const struct { const char *text; const char *why; } bad[] = {
        { "make: x\n", "unknown directive" },
        { "build:\n", "no argument" },
        { "build: ( A == 1 )\n", "no argument" },
        { "improve: a b\n", "predicate beginning with '('" },
        { "build: a ( A == 1\n", "not closed" },
        { "build: a ( A == )\n", "not closed" },
        { "build: a ( A = 1 )\n", "== or !=" },
        { "build: a ( A == 1 or B == 2 )\n", "|| or &&" },
        { "build: a ( A || B )\n", "== or !=" },
        { "build: a ( A == 1 ) extra\n", "after the predicate" },
        { "build:  a\n", "two spaces" },
        { " build: a\n", "starts with a space" },
        { "build: a\t( A == 1 )\n", "tab" },
        { "build: a\r\n", "control character" },
        { "define: X 1\n", "no '='" },
        { "define: X =\n", "no value" },
        { "define: X = ( A == 1\n", "not closed" },
        { "build: a-very-long-name-that-is-longer-than-sixty-three-characters-xxxxxxxx\n", "63" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "build: ok\n%s", bad[i].text);
        e[0] = 0;
        int rc = parse(text, &m, e, sizeof e);
        if (rc == 0 || !strstr(e, "manifest:2:") || !strstr(e, bad[i].why))
            fprintf(stderr, "bad line %zu: rc %d, '%s'\n", i, rc, e);
        CHECK(rc < 0 && strstr(e, "manifest:2:") && strstr(e, bad[i].why));
        CHECK_EQ(m.n, 0);   /* nothing left behind */
    }
    CHECK(manifest_parse("manifest", "build: a\n\0", 10, &m, e, sizeof e) < 0 && strstr(e, "NUL"));
    /* a trailing space is one separator, as in the generator; no newline at the end is a line */
    CHECK(parse("build: a \nbuild: b", &m, e, sizeof e) == 0 && m.n == 2 && !strcmp(m.d[1].arg, "b"));
    manifest_free(&m);
}

static void test_predicates(void)
{
    const char *cfg = "A=1\nB=2\nT=True\n";
    CHECK_EQ(kept("build: x ( A == 1 )\n", cfg), 1);
    CHECK_EQ(kept("build: x ( A == 2 )\n", cfg), 0);
    CHECK_EQ(kept("build: x ( A != 2 )\n", cfg), 1);
    CHECK_EQ(kept("build: x ( A != 1 )\n", cfg), 0);
    CHECK_EQ(kept("build: x ( UNSET == )\n", cfg), -1);            /* no value word: refused */
    CHECK_EQ(kept("build: x ( UNSET != 1 )\n", cfg), 1);           /* unset is "" */
    CHECK_EQ(kept("build: x ( A == 1 && B == 2 )\n", cfg), 1);
    CHECK_EQ(kept("build: x ( A == 1 && B == 3 )\n", cfg), 0);
    CHECK_EQ(kept("build: x ( A == 9 || B == 2 )\n", cfg), 1);
    CHECK_EQ(kept("build: x ( A == 9 || B == 9 )\n", cfg), 0);
    /* right-associative, no precedence: a || b && c is a || (b && c) ... */
    CHECK_EQ(kept("build: x ( A == 1 || B == 9 && A == 9 )\n", cfg), 1);
    /* ... and a && b || c is a && (b || c) (with precedence it would be true) */
    CHECK_EQ(kept("build: x ( A == 9 && B == 9 || A == 1 )\n", cfg), 0);
    /* a bare word is a constant, not a variable: true only if it is True */
    CHECK_EQ(kept("build: x ( True )\n", cfg), 1);
    CHECK_EQ(kept("build: x ( T )\n", cfg), 0);
    CHECK_EQ(kept("build: x ( A == 9 || True )\n", cfg), 1);
    CHECK_EQ(kept("build: x ( A == 1 && False )\n", cfg), 0);
    /* values are compared as strings */
    CHECK_EQ(kept("build: x ( A == 01 )\n", cfg), 0);
    /* defines: logic and constant values, their own predicates, seen by later lines */
    CHECK_EQ(kept("define: X = ( A == 1 )\nbuild: x ( X == True )\n", cfg), 1);
    CHECK_EQ(kept("define: X = ( A == 2 )\nbuild: x ( X == False )\n", cfg), 1);
    CHECK_EQ(kept("define: A = 7 ( B == 2 )\nbuild: x ( A == 7 )\n", cfg), 1);
    CHECK_EQ(kept("define: A = 7 ( B == 3 )\nbuild: x ( A == 1 )\n", cfg), 1);
    CHECK_EQ(kept("build: x ( A == 7 )\ndefine: A = 7\n", cfg), 1);   /* the define itself is kept */
    CHECK_EQ(kept("define: C = ( hello )\nbuild: x ( C == hello )\n", cfg), 1);   /* a constant logic */
    CHECK_EQ(kept("define: A = ( A == 1 )\nbuild: x ( A == True )\n", cfg), 1);   /* a variable from itself */

    Manifest m;
    ManifestConfig c;
    CHECK(eval("define: NEW = x\ndefine: A = 5\n", cfg, &m, &c) == 0);
    CHECK_STR(manifest_config_get(&c, "A"), "5");
    CHECK(c.n == 4 && !strcmp(c.v[3].name, "NEW") && !strcmp(c.v[0].val, "5"));   /* updated in place, added last */
    manifest_free(&m);
    manifest_config_free(&c);
}

static void test_counts(void)
{
    Manifest m;
    ManifestConfig c;
    const char *t = "build: checksum-1.0\n"
                    "build: fiwix-1 ( K == True )\n"
                    "jump: fiwix ( K == True )\n"
                    "improve: reconfigure\n"
                    "build: make-1\n"
                    "build: bash-2.05b\n"
                    "improve: setup\n"
                    "build: make-1\n"
                    "uninstall: make-1\n"
                    "build: make-1 ( K == False )\n"
                    "jump: linux\n"
                    "improve: get_network # network!\n"
                    "build: make-1\n"
                    "build: bash-5\n"
                    "build: last\n";
    CHECK(eval(t, "K=True\n", &m, &c) == 0);
    CHECK_EQ(m.n, 15);
    CHECK_EQ(m.kept, 14);
    CHECK_EQ(m.builds, 8);
    CHECK_EQ(m.scripts, 5);   /* 0.sh, after the jump 1.sh, after bash 2.sh, after the jump 3.sh, after bash 4.sh */
    if (m.n == 15) {
        static const int script[15] = { 0, 0, 0, 1, 1, 1, 2, 2, 2, -1, 2, 3, 3, 3, 4 };
        static const int bash[15] = { 0, 0, 0, 0, 0, 0, 1, 1, 1, -1, 1, 1, 1, 1, 1 };
        for (int i = 0; i < 15; i++)
            if (script[i] >= 0) {
                CHECK_EQ(m.d[i].script, script[i]);
                CHECK_EQ(m.d[i].bash, bash[i]);
            }
        CHECK_EQ(m.d[9].kept, 0);
        CHECK_EQ(m.d[4].pass, 1);
        CHECK_EQ(m.d[7].pass, 2);
        CHECK_EQ(m.d[12].pass, 4);   /* the uninstall of make-1 counts, as in the generator */
        CHECK_EQ(m.d[0].network + m.d[11].network, 1);
        CHECK_EQ(manifest_network_line(&m), 12);
    }
    manifest_free(&m);
    manifest_config_free(&c);
    CHECK(eval(t, "K=False\n", &m, &c) == 0);
    CHECK_EQ(m.builds, 8);   /* fiwix out, make-1 (K == False) in */
    CHECK_EQ(m.scripts, 4);
    manifest_free(&m);
    manifest_config_free(&c);
    CHECK(eval("build: a\n", "X=1\n", &m, &c) == 0 && manifest_network_line(&m) == 0 && m.scripts == 1);
    manifest_free(&m);
    manifest_config_free(&c);
}

static char fixture[3000];

static void test_fixture(void)
{
    CurrentTree t;
    char e[1024];
    CHECK(current_is_tree(fixture));
    CHECK(current_check_tree(fixture, 0, e, sizeof e) == 0);
    CHECK(current_check_tree(fixture, 1, e, sizeof e) < 0 && strstr(e, "--seeds lbvm"));
    CHECK(current_load(fixture, &t, e, sizeof e) == 0);
    CHECK_EQ(t.m.n, 14);
    CHECK_EQ(t.m.kept, 10);
    CHECK_EQ(t.m.builds, 6);
    CHECK_EQ(t.m.scripts, 3);
    CHECK_EQ(t.network_line, 12);
    CHECK_EQ(t.prenet_builds, 5);
    CHECK_EQ(current_count_steps(fixture), 6);
    CHECK_STR(manifest_config_get(&t.cfg, "EXTRA"), "True");
    CHECK_STR(manifest_config_get(&t.cfg, "JOBS"), "1");
    int kinds[6] = { 0 };
    for (int i = 0; i < t.m.n; i++)
        kinds[t.m.d[i].kind]++;
    CHECK(kinds[MANIFEST_BUILD] == 7 && kinds[MANIFEST_IMPROVE] == 3 && kinds[MANIFEST_DEFINE] == 2 &&
          kinds[MANIFEST_JUMP] == 1 && kinds[MANIFEST_UNINSTALL] == 1);
    FetchList l = { 0 };
    CHECK(current_sources(fixture, &t, &l, e, sizeof e) == 0);
    /* alpha, beta (two), delta (its build is dropped: rootfs.py does not evaluate predicates here) */
    CHECK_EQ(l.n, 4);
    if (l.n == 4) {
        CHECK_STR(l.items[0].name, "alpha-1.0.tar.gz");
        CHECK_STR(l.items[0].origin, "alpha-1.0");
        CHECK_STR(l.items[1].name, "beta-2.0.tar.gz");
        CHECK_STR(l.items[2].name, "beta-git-abc123.tar.gz");
        CHECK_STR(l.items[2].urls[0], "_");
        CHECK_STR(l.items[3].name, "delta-4.0.tar.gz");
    }
    fetch_list_free(&l);
    current_free(&t);
}

int main(void)
{
    const char *src = getenv("LBVM_SRC");
    if (src && *src)
        snprintf(fixture, sizeof fixture, "%s/tests/fixtures/lb-current-forms", src);
    else {
        char here[2000];
        snprintf(here, sizeof here, "%s", __FILE__);
        char *sl = strrchr(here, '/');
        if (sl)
            *sl = 0;
        snprintf(fixture, sizeof fixture, "%s/../fixtures/lb-current-forms", sl ? here : ".");
    }
    struct stat st;
    if (stat(fixture, &st) != 0) {
        fprintf(stderr, "fixture %s not found (set LBVM_SRC)\n", fixture);
        return 1;
    }
    test_config();
    test_directives();
    test_predicates();
    test_counts();
    test_fixture();
    return check_done();
}
