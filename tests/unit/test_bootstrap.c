/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pure parts of steps/bootstrap.c: counting a tree's steps, the default
 * step markers, the failure patterns, picking a checkpoint in a folder
 * without usable ones, and the command line's one-line errors. The whole
 * runner is tested by tests/boot/test_bootstrap.sh. Fixture: through
 * $LBVM_SRC, else __FILE__/../.. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steps/bootstrap.h"

static int failures;
#define CHECK(c)                                                            \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void fixture_path(char *buf, size_t len)
{
    const char *src = getenv("LBVM_SRC");
    if (src) {
        snprintf(buf, len, "%s/tests/fixtures/mini-bootstrap", src);
        return;
    }
    char here[4096];
    snprintf(here, sizeof here, "%s", __FILE__);
    char *sl = strrchr(here, '/');
    if (sl)
        *sl = 0;
    snprintf(buf, len, "%s/../fixtures/mini-bootstrap", sl ? here : ".");
}

static void test_count(void)
{
    char fix[4200];
    fixture_path(fix, sizeof fix);
    CHECK(bootstrap_count_steps(fix) == 4);

    /* a tree shaped like live-bootstrap's 2023 one */
    char tmp[] = "/tmp/lbvm-test-bootstrap-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char p[4300];
    snprintf(p, sizeof p, "%s/sysa", tmp);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/sysc", tmp);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/sysa/run.kaem", tmp);
    write_file(p, "set -ex\n# mes\npkg=mes-0.24\ncd ${pkg}\nkaem --file ${pkg}.kaem\ncd ..\n"
                  "pkg=\"tcc-0.9.26\"\ncd ${pkg}\nkaem --file ${pkg}.kaem\n# kaem --file old.kaem\nexec bash run.sh\n");
    snprintf(p, sizeof p, "%s/sysa/after.kaem", tmp);
    write_file(p, "kaem --file run2.kaem\n");                   /* not a run*.kaem: not counted */
    snprintf(p, sizeof p, "%s/sysa/run.sh", tmp);
    write_file(p, "build() {\n  echo\n}\nbuild flex-2.5.11\n# build commented-1.0\n"
                  "build tcc-0.9.27 tcc-musl-pass1.sh checksums/tcc-musl-pass1\n"
                  "if [ \"${CHROOT}\" = False ]; then\n    build kexec-tools-2.0.22\nfi\nbuilder-x\n");
    snprintf(p, sizeof p, "%s/sysa/helpers.sh", tmp);
    write_file(p, "build foo-1.0\n");                           /* not a run*.sh */
    snprintf(p, sizeof p, "%s/sysc/run2.sh", tmp);
    write_file(p, "build bash-5.1\nbuild xz-5.0.5\n");
    CHECK(bootstrap_count_steps(tmp) == 2 + 3 + 2);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    CHECK(bootstrap_count_steps("/nonexistent-lbvm-tree") == 0);
}

static void test_markers(void)
{
    regex_t re;
    CHECK(regcomp(&re, BOOTSTRAP_DEFAULT_STEP_REGEX, REG_EXTENDED) == 0);
    char name[256];
    CHECK(bootstrap_step_name(&re, "flex-2.5.11: beginning build using script flex-2.5.11.sh", name, sizeof name));
    CHECK(!strcmp(name, "flex-2.5.11"));
    CHECK(bootstrap_step_name(&re, "tcc-0.9.27: beginning build using script tcc-musl-pass1.sh", name, sizeof name));
    CHECK(!strcmp(name, "tcc-0.9.27"));
    CHECK(bootstrap_step_name(&re, " +> kaem --file mes-0.24.2.kaem", name, sizeof name));
    CHECK(!strcmp(name, "mes-0.24.2"));
    CHECK(bootstrap_step_name(&re, " +> kaem --file heirloom-devtools-070527.kaem ", name, sizeof name));
    CHECK(!strcmp(name, "heirloom-devtools-070527"));
    CHECK(!bootstrap_step_name(&re, " +> kaem --file run2.kaem", name, sizeof name));
    CHECK(!bootstrap_step_name(&re, " +> kaem --file ${pkg}.kaem", name, sizeof name));
    CHECK(!bootstrap_step_name(&re, "flex-2.5.11: getting sources.", name, sizeof name));
    CHECK(!bootstrap_step_name(&re, "+ build flex-2.5.11", name, sizeof name));
    CHECK(!bootstrap_step_name(&re, "echo \"flex: beginning build using script x\"", name, sizeof name));
    regfree(&re);
    /* no capture group: the line, trimmed */
    CHECK(regcomp(&re, "^STEP ", REG_EXTENDED) == 0);
    CHECK(bootstrap_step_name(&re, "STEP one two  ", name, sizeof name));
    CHECK(!strcmp(name, "STEP one two"));
    regfree(&re);
}

static void test_failures(void)
{
    CHECK(bootstrap_failure_reason("[   11.2] Kernel panic - not syncing: Attempted to kill init! exitcode=0x100") != NULL);
    CHECK(strstr(bootstrap_failure_reason("Kernel panic - not syncing: VFS: Unable to mount root fs"), "panick"));
    CHECK(strstr(bootstrap_failure_reason("hello-1.0/build/hello: FAILED"), "checksum"));
    CHECK(strstr(bootstrap_failure_reason("sha256sum: WARNING: 1 of 1 computed checksums did NOT match"), "checksum"));
    CHECK(strstr(bootstrap_failure_reason("x.tar.gz: FAILED open or read"), "checksum"));
    CHECK(strstr(bootstrap_failure_reason("error: checksum mismatch for gcc-4.7.4.tar.bz2"), "checksum"));
    CHECK(strstr(bootstrap_failure_reason("ABORTING HARD"), "kaem"));
    CHECK(bootstrap_failure_reason("hello-1.0/build/hello: OK") == NULL);
    CHECK(bootstrap_failure_reason(" +> sha256sum -c x86.answers") == NULL);
    CHECK(bootstrap_failure_reason("FAILED tests: none") == NULL);
    CHECK(bootstrap_failure_reason("Bootstrapping completed.") == NULL);
}

static void test_pick_empty(void)
{
    char tmp[] = "/tmp/lbvm-test-bootstrap-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    BootstrapCheckpoint c;
    CHECK(bootstrap_pick_checkpoint(tmp, ~0ull, NULL, 0, &c, NULL) == 0);
    /* a damaged checkpoint is skipped (and named on the log) */
    char p[4300], *logbuf = NULL;
    size_t loglen = 0;
    snprintf(p, sizeof p, "%s/ckpt-000001.lbvm", tmp);
    write_file(p, "LBVMCKPT not really\n");
    FILE *log = open_memstream(&logbuf, &loglen);
    CHECK(bootstrap_pick_checkpoint(tmp, ~0ull, NULL, 0, &c, log) == 0);
    fclose(log);
    CHECK(logbuf && strstr(logbuf, "ckpt-000001.lbvm"));
    free(logbuf);
    CHECK(bootstrap_pick_checkpoint("/nonexistent-lbvm-dir", ~0ull, NULL, 0, &c, NULL) == 0);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
}

/* The command's errors: one line starting with "lbvm: ", exit 1, and no work
 * folder created. */
static void expect_usage_error(int argc, char **argv, const char *want)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *capture = tmpfile();
    CHECK(capture != NULL);
    if (!capture)
        return;
    int fd = fileno(capture);
    dup2(fd, 2);
    int rc = lbvm_cmd_bootstrap(argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    char out[1024] = { 0 };
    ssize_t n = read(fd, out, sizeof out - 1);
    (void)n;
    fclose(capture);
    CHECK(rc == 1);
    CHECK(!strncmp(out, "lbvm: ", 6));
    CHECK(strchr(out, '\n') == out + strlen(out) - 1);
    if (!strstr(out, want)) {
        fprintf(stderr, "expected '%s' in: %s", want, out);
        failures++;
    }
}

static void test_cmd(void)
{
    char fix[4200];
    fixture_path(fix, sizeof fix);
    char *a1[] = { "bootstrap", "--kernel", "k", NULL };
    expect_usage_error(3, a1, "needs --tree DIR");
    char *a1b[] = { "bootstrap", "--tree", "/nonexistent-tree", NULL };
    expect_usage_error(3, a1b, "--tree /nonexistent-tree is not a folder");
    char *a1c[] = { "bootstrap", "--tree", "/tmp", NULL };
    expect_usage_error(3, a1c, "/tmp is not a live-bootstrap checkout");
    char *a2[] = { "bootstrap", "--kernel", "k", "--tree", "t", "--bogus", NULL };
    expect_usage_error(6, a2, "unknown option '--bogus'");
    char *a3[] = { "bootstrap", "--kernel", "k", "--tree", "t", "--stall", NULL };
    expect_usage_error(6, a3, "missing value for option '--stall'");
    char *a4[] = { "bootstrap", "--kernel", "k", "--tree", "t", "--mem", "64513", NULL };
    expect_usage_error(7, a4, "--mem 64513: give MiB of guest RAM, 64 to 64512");
    char *a5[] = { "bootstrap", "--kernel", "k", "--tree", "t", "--resume", "--fresh", NULL };
    expect_usage_error(7, a5, "--resume and --fresh");
    char *a6[] = { "bootstrap", "--kernel", "/nonexistent-kernel", "--tree", fix, NULL };
    expect_usage_error(5, a6, "kernel: cannot read /nonexistent-kernel: No such file");
    char *a6b[] = { "bootstrap", "--kernel", "/proc/self/exe", "--tree", fix, NULL };
    expect_usage_error(5, a6b, "kernel /proc/self/exe: ");
    char *a6c[] = { "bootstrap", "--tree", fix, "--seeds", "mine", NULL };
    expect_usage_error(5, a6c, "--seeds mine");
    char *a7[] = { "bootstrap", "--kernel", "/proc/self/exe", "--tree", "/tmp", "--step-regex", "(", NULL };
    expect_usage_error(7, a7, "--step-regex '('");
    char *a8[] = { "bootstrap", "--kernel", "k", "--tree", "t", "--disk-size", "1M", NULL };
    expect_usage_error(7, a8, "at least 16M");
}

int main(void)
{
    test_count();
    test_markers();
    test_failures();
    test_pick_empty();
    test_cmd();
    if (failures) {
        fprintf(stderr, "test_bootstrap: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_bootstrap: all checks passed\n");
    return 0;
}
