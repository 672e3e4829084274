/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every form lbvm reads from a 2023-layout live-bootstrap tree, on our own
 * fixture in those forms (tests/fixtures/lb2023-forms, its README lists
 * them): sources lines, step lines, stage0-posix's phases from its kaem
 * scripts (matched against console lines as kaem echoes them), the answers
 * count, the tree checks (submodules, the current layout's). Fixture through
 * $LBVM_SRC, else __FILE__/../.. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steps/bootstrap.h"
#include "steps/build.h"
#include "steps/fetch.h"
#include "steps/stage0.h"

#include "check.h"

static char fix[2048];

static void fixture_path(void)
{
    const char *src = getenv("LBVM_SRC");
    if (src) {
        snprintf(fix, sizeof fix, "%s/tests/fixtures/lb2023-forms", src);
        return;
    }
    char here[1900];
    snprintf(here, sizeof here, "%s", __FILE__);
    char *sl = strrchr(here, '/');
    if (sl)
        *sl = 0;
    snprintf(fix, sizeof fix, "%s/../fixtures/lb2023-forms", sl ? here : ".");
}

static void test_sources(void)
{
    FetchList l = { 0 };
    char err[1024], dir[4200];
    snprintf(dir, sizeof dir, "%s/sysa", fix);
    CHECK(build_read_sources(dir, &l, err, sizeof err) == 0);
    /* folders in byte order: alpha, beta, delta, gamma */
    CHECK(l.n == 5);
    if (l.n == 5) {
        CHECK_STR(l.items[0].name, "alpha-1.0.tar.gz");            /* URL SHA256: name from the URL */
        CHECK_STR(l.items[0].origin, "alpha-1.0");
        CHECK_STR(l.items[1].name, "beta-2.0.tar.gz");             /* URL SHA256 NAME, a query in the URL */
        CHECK(l.items[1].n_urls == 2);                             /* the same NAME again: a mirror */
        CHECK_STR(l.items[1].urls[1], "https://mirror.example.invalid/beta/beta-2.0.tar.gz");
        CHECK_STR(l.items[2].name, "delta-4.0.tar.xz");            /* f URL SHA256 */
        CHECK_STR(l.items[3].name, "delta-data.tar.xz");           /* f URL SHA256 NAME */
        CHECK_STR(l.items[3].origin, "delta-4.0");
        CHECK_STR(l.items[4].name, "gamma-3.0.tar.gz");            /* URL SHA256 NAME PATH... */
        CHECK_STR(l.items[4].sha256, "3333333333333333333333333333333333333333333333333333333333333333");
        CHECK(l.items[4].n_urls == 1);
    }
    fetch_list_free(&l);
    snprintf(dir, sizeof dir, "%s/sysc", fix);
    CHECK(build_read_sources(dir, &l, err, sizeof err) == 0);
    CHECK(l.n == 1 && !strcmp(l.items[0].name, "epsilon-5.0.tar.bz2"));
    fetch_list_free(&l);

    /* missing ones, with the step that needs them */
    FetchList gone = { 0 };
    CHECK(build_list_missing(fix, "/nonexistent-distdir", &gone, err, sizeof err) == 6);
    CHECK(gone.n == 6 && !strcmp(gone.items[5].origin, "epsilon-5.0"));
    fetch_list_free(&gone);
}

static void test_steps(void)
{
    /* run.kaem: 2 kaem --file; run.sh: 3 build lines (one conditional, not
     * the definition, not the comment); sysb 1; sysc 2 */
    CHECK(bootstrap_count_steps(fix) == 8);
    regex_t re;
    CHECK(regcomp(&re, BOOTSTRAP_DEFAULT_STEP_REGEX, REG_EXTENDED) == 0);
    char name[256];
    /* kaem's echo of run.kaem's step under set -ex, with its trailing blank */
    CHECK(bootstrap_step_name(&re, " +> kaem --file alpha-1.0.kaem ", name, sizeof name) && !strcmp(name, "alpha-1.0"));
    CHECK(!bootstrap_step_name(&re, " +> kaem --file run2.kaem", name, sizeof name));
    CHECK(bootstrap_step_name(&re, "delta-4.0: beginning build using script delta-pass1.sh", name, sizeof name) &&
          !strcmp(name, "delta-4.0"));
    regfree(&re);
}

static void test_phases(void)
{
    Stage0Phases p;
    char err[1024], root[4200];
    snprintf(root, sizeof root, "%s/sysa/stage0-posix/src", fix);
    CHECK(stage0_read_phases(root, &p, err, sizeof err) == 7);
    static const char *const names[] = {
        "Phase-0 Build hex0 from seed",   /* the outer Phase-0 is replaced by the nested script's own */
        "Phase-0b Build kaem-0 from hex0",
        "Phase-1 Build hex1 from hex0",
        "Phase-12 Build M2-Mesoplanet from M2-Planet",   /* "Phase 12-15" gave way to the nested banners */
        "Phase-15 Build M2-Planet from M2-Planet",
        "Phase 16-23 Build mescc-tools-extra from M2-Planet",   /* a nested script without banners */
        "Check x86.answers (2 answers)",
    };
    for (int i = 0; i < p.n && i < 7; i++)
        CHECK_STR(p.v[i].name, names[i]);
    CHECK(p.answers == 2);
    /* console lines as kaem echoes them: " +> ", the words, a blank, \r cut */
    static const char *const lines[] = {
        " +> ./bootstrap-seeds/POSIX/x86/hex0-seed ./x86/hex0_x86.hex0 ./x86/artifact/hex0 ",
        " +> ./x86/artifact/hex0 ./x86/kaem-minimal.hex0 ./x86/artifact/kaem-0 ",
        " +> ./x86/artifact/hex0 ./x86/hex1_x86.hex0 ./x86/artifact/hex1 ",
        " +> ./artifact/M2 --architecture x86 -f ../M2libc/sys/types.h -f ../M2-Mesoplanet/cc.c -o ./artifact/M2-Mesoplanet.M1 ",
        " +> ./artifact/M2 --architecture x86 -f ../M2-Planet/cc.c -o ./artifact/M2-1.M1 ",
        " +> alias CC=../x86/bin/M2-Mesoplanet --architecture x86 -f ",   /* ${EXE_SUFFIX} unset: empty */
        " +> ./x86/bin/sha256sum -c x86.answers",
    };
    int from = 0;
    for (int i = 0; i < 7; i++) {
        /* lines that are no phase's start are passed over */
        CHECK(stage0_match(&p, from, " +> ./x86/artifact/hex1 ./x86/check.hex1 ./x86/artifact/check ") == -1);
        CHECK(stage0_match(&p, from, " +> cd mescc-tools-extra ") == -1);
        int m = stage0_match(&p, from, lines[i]);
        if (m != i)
            fprintf(stderr, "line %d matched phase %d: %s\n", i, m, lines[i]);
        CHECK(m == i);
        from = m + 1;
    }
    /* once seen, a phase is not matched again */
    CHECK(stage0_match(&p, from, lines[0]) == -1);
    CHECK(stage0_match(&p, 0, "./x86/artifact/hex0 ./x86/hex1_x86.hex0 ./x86/artifact/hex1") == -1);   /* no echo prefix */
    stage0_phases_free(&p);

    /* no kaem.x86 nor kaem.run: one line */
    CHECK(stage0_read_phases("/nonexistent", &p, err, sizeof err) == -1 && strstr(err, "neither kaem.x86 nor kaem.run"));
}

static void test_tree_checks(void)
{
    char err[2048];
    CHECK(build_check_tree(fix, 0, err, sizeof err) == 0);
    /* an empty submodule folder is named, with the git command */
    char tmp[] = "/tmp/lbvm-test-forms-XXXXXX", cmd[8400], p[4300];
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(cmd, sizeof cmd, "cp -a '%s/.' '%s/' && rm -rf '%s/sysa/stage0-posix/src/M2libc' && mkdir '%s/sysa/stage0-posix/src/M2libc'",
             fix, tmp, tmp, tmp);
    CHECK(system(cmd) == 0);
    CHECK(build_check_tree(tmp, 0, err, sizeof err) == -1);
    CHECK(strstr(err, "src/M2libc is empty") && strstr(err, "submodule update --init --recursive"));
    /* riscv64 is listed but not needed for x86: its absence is fine;
     * bootstrap-seeds is not needed with lbvm's own seeds */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/sysa/stage0-posix/src/M2libc' && cp -a '%s/sysa/stage0-posix/src/M2libc' '%s/sysa/stage0-posix/src/' && rm -rf '%s/sysa/stage0-posix/src/bootstrap-seeds'",
             tmp, fix, tmp, tmp);
    CHECK(system(cmd) == 0);
    CHECK(build_check_tree(tmp, 1, err, sizeof err) == 0);
    CHECK(build_check_tree(tmp, 0, err, sizeof err) == -1 && strstr(err, "bootstrap-seeds is empty"));
    /* the newer layout */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/sysa' && mkdir '%s/seed' '%s/steps'", tmp, tmp, tmp);
    CHECK(system(cmd) == 0);
    /* the current layout is recognised: what it lacks is named (tests/unit/test_hex0disk.c builds one) */
    CHECK(build_check_tree(tmp, 0, err, sizeof err) == -1 && strstr(err, "no steps/manifest"));
    snprintf(cmd, sizeof cmd, "printf 'build: a\\n' > '%s/steps/manifest'", tmp);
    CHECK(system(cmd) == 0);
    CHECK(build_check_tree(tmp, 0, err, sizeof err) == -1 && strstr(err, "seed/stage0-posix is empty") &&
          strstr(err, "submodule update --init --recursive"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s/seed' '%s/steps'", tmp, tmp);
    CHECK(system(cmd) == 0);
    CHECK(build_check_tree(tmp, 0, err, sizeof err) == -1 && strstr(err, "not a live-bootstrap checkout"));
    snprintf(p, sizeof p, "rm -rf '%s'", tmp);
    CHECK(system(p) == 0);
}

int main(void)
{
    fixture_path();
    test_sources();
    test_steps();
    test_phases();
    test_tree_checks();
    return check_done();
}
