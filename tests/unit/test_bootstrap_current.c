/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `lbvm bootstrap` on a current-layout tree (tests/fixtures/lb-current-forms)
 * with a stand-in guest: bootstrap_run() runs a shell script of ours in place
 * of `lbvm boot`. The script records its command line, writes the console
 * lines a kernel bootstrap shows (builder-hex0's src lines, kaem's " +> pkg="
 * echo, Fiwix's and Linux's banners, helpers.sh's "beginning build" lines) to
 * the console file, and a checkpoint line on stderr for each line matching
 * the --checkpoint-on expression it was given, as `lbvm boot` does. Checked:
 * the command line (`boot --ide WORK/init.img --mem`, no kernel), step n of m
 * from the markers, completion at Linux's power-down after the last step,
 * the failure lines of builder-hex0 and Fiwix, a power-off before the last
 * step, --kernel refused, --dry-run. */
#include "check.h"
#include "steps/bootstrap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256], fixture[3000], dist[400], script[400];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *b = NULL;
    size_t n = 0;
    if (getdelim(&b, &n, 0, f) < 0) {
        free(b);
        b = strdup("");
    }
    fclose(f);
    return b;
}

/* Runs the bootstrap with the stand-in guest replaying lines (a file) and
 * exiting with code; returns the exit code, with stdout and stderr in
 * *out and *err (malloc'd). */
static int run(const char *name, const char *lines, int code, BootstrapOptions *o, char **out, char **err)
{
    char lp[500], op[500], ep[500], work[500], env[64];
    snprintf(lp, sizeof lp, "%s/%s.lines", tmp, name);
    snprintf(op, sizeof op, "%s/%s.out", tmp, name);
    snprintf(ep, sizeof ep, "%s/%s.err", tmp, name);
    snprintf(work, sizeof work, "%s/%s.work", tmp, name);
    write_file(lp, lines);
    setenv("FAKE_LINES", lp, 1);
    snprintf(env, sizeof env, "%d", code);
    setenv("FAKE_EXIT", env, 1);
    o->tree = fixture;
    o->distdir = dist;
    o->workdir = work;
    o->offline = 1;
    o->disk_size = 2u << 20;
    o->self_exe = script;
    FILE *fo = fopen(op, "w");
    o->out = fo;
    fflush(stderr);
    int saved = dup(2), fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fe, 2);
    close(fe);
    int rc = bootstrap_run(o);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(fo);
    *out = slurp(op);
    *err = slurp(ep);
    return rc;
}

static const char *const steps_ok =
    "src\n./steps/manifest\n"
    "/bootstrap-seeds/POSIX/x86/kaem-optional-seed\n/kaem.x86\n"
    " +> pkg=alpha-1.0 \n +> cd alpha-1.0 \n +> kaem --file pass1.kaem \n"
    " +> pkg=beta-2.0\n"
    " +> pkg=gamma-3.0\n"
    "Fiwix 1.5.0-lb1 (a stand-in banner)\n"
    " +> pkg=bash-9.9\n"
    "alpha-1.0: beginning build using script pass2.sh\n"
    "alpha-1.0: build successful\n";

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
    strcpy(tmp, "/tmp/lbvm-bootcur-XXXXXX");
    if (!mkdtemp(tmp)) {
        CHECK(!"mkdtemp");
        return check_done();
    }
    unsetenv("SOURCE_DATE_EPOCH");
    snprintf(dist, sizeof dist, "%s/dist", tmp);
    mkdir(dist, 0755);
    static const char *const files[][2] = {
        { "alpha-1.0.tar.gz", "alpha-1.0 source\n" },   { "beta-2.0.tar.gz", "beta-2.0 source\n" },
        { "beta-git-abc123.tar.gz", "beta-git source\n" }, { "delta-4.0.tar.gz", "delta-4.0 source\n" },
    };
    for (int i = 0; i < 4; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dist, files[i][0]);
        write_file(p, files[i][1]);
    }
    /* the stand-in guest */
    snprintf(script, sizeof script, "%s/fake-lbvm", tmp);
    write_file(script,
               "#!/bin/sh\n"
               "printf '%s\\n' \"$*\" >> \"$FAKE_LINES.argv\"\n"
               "while [ $# -gt 0 ]; do\n"
               "  case $1 in --console) con=$2; shift;; --checkpoint-on) re=$2; shift;;\n"
               "    --checkpoint-dir) dir=$2; shift;; esac; shift\n"
               "done\n"
               "t=0\n"
               "while IFS= read -r line; do\n"
               "  printf '%s\\n' \"$line\" >> \"$con\"\n"
               "  t=$((t + 1000000))\n"
               "  if printf '%s\\n' \"$line\" | grep -Eq -e \"$re\"; then\n"
               "    echo \"lbvm: checkpoint $dir/ckpt-$t.lbvm at $t ticks (stand-in) after: $line\" >&2\n"
               "  fi\n"
               "done < \"$FAKE_LINES\"\n"
               "exit \"$FAKE_EXIT\"\n");
    chmod(script, 0755);

    /* completed: every step, then Linux powers off */
    BootstrapOptions o = { 0 };
    char *out, *err;
    char lines[4096];
    snprintf(lines, sizeof lines, "%s%s", steps_ok,
             "epsilon-5.0: beginning build using script pass1.sh\nepsilon-5.0: build successful\n"
             "reboot: Power down\n");
    int rc = run("ok", lines, 0, &o, &out, &err);
    if (rc != 0)
        fprintf(stderr, "ok: rc %d\n%s\n%s\n", rc, out, err);
    CHECK_EQ(rc, BOOTSTRAP_EXIT_OK);
    CHECK(strstr(out, "6 steps defined in") != NULL);
    CHECK(strstr(out, "init.img (builder-hex0's disk") != NULL);
    CHECK(strstr(out, "[1/6] alpha-1.0 (guest time") != NULL);
    CHECK(strstr(out, "[2/6] beta-2.0 (") != NULL);
    CHECK(strstr(out, "[3/6] gamma-3.0 (") != NULL);
    CHECK(strstr(out, "[4/6] bash-9.9 (") != NULL);
    CHECK(strstr(out, "[5/6] alpha-1.0 (") != NULL);
    CHECK(strstr(out, "[6/6] epsilon-5.0 (") != NULL);
    CHECK(strstr(out, "[7/") == NULL);
    CHECK(strstr(out, "Bootstrapping completed: 6 steps") != NULL);
    CHECK(strstr(out, "builder-hex0: loading its source file system\n") != NULL);
    CHECK(strstr(out, "builder-hex0: source file system loaded; kaem-optional-seed runs /kaem.x86") != NULL);
    char ap[600];
    snprintf(ap, sizeof ap, "%s/ok.lines.argv", tmp);
    char *argv = slurp(ap);
    char want[900];
    snprintf(want, sizeof want, "boot --ide %s/ok.work/init.img --mem 4096 --checkpoint-dir %s/ok.work/checkpoints", tmp,
             tmp);
    CHECK(strstr(argv, want) == argv);
    CHECK(strstr(argv, "--kernel") == NULL && strstr(argv, "--initrd") == NULL);
    free(argv);
    free(out);
    free(err);

    /* powered off before the last step */
    rc = run("short", steps_ok, 0, &o, &out, &err);
    CHECK_EQ(rc, BOOTSTRAP_EXIT_FAILED);
    CHECK(strstr(err, "bootstrap failed in step alpha-1.0 (5/6): the guest powered off before its last step (5/6)") != NULL);
    free(out);
    free(err);
    /* the same output with "reboot: Power down" but steps missing: not completed */
    snprintf(lines, sizeof lines, "%s%s", steps_ok, "reboot: Power down\n");
    rc = run("early", lines, 0, &o, &out, &err);
    CHECK_EQ(rc, BOOTSTRAP_EXIT_FAILED);
    free(out);
    free(err);

    /* builder-hex0 runs out of commands after kaem failed */
    rc = run("hex0", " +> pkg=alpha-1.0\nSubprocess error 1\nBuild finished.\nERROR: no hda writes!\n", 3, &o, &out,
             &err);
    CHECK_EQ(rc, BOOTSTRAP_EXIT_FAILED);
    CHECK(strstr(err, "in step alpha-1.0 (1/6)") != NULL);
    CHECK(strstr(err, "builder-hex0 ran out of commands") != NULL);
    free(out);
    free(err);
    /* Fiwix: init exits */
    rc = run("fiwix", " +> pkg=alpha-1.0\n +> pkg=beta-2.0\nWARNING: the last user process has exited. The kernel will "
             "stop itself.\n**    Safe to Power Off    **\n", 0, &o, &out, &err);
    CHECK_EQ(rc, BOOTSTRAP_EXIT_FAILED);
    CHECK(strstr(err, "in step beta-2.0 (2/6)") && strstr(err, "init exited under Fiwix"));
    free(out);
    free(err);
    /* Linux: init killed */
    rc = run("linux", " +> pkg=alpha-1.0\nKernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n", 0, &o,
             &out, &err);
    CHECK_EQ(rc, BOOTSTRAP_EXIT_FAILED);
    CHECK(strstr(err, "Attempted to kill init") != NULL);
    free(out);
    free(err);

    /* no kernel for a current tree; --dry-run prints the command and runs nothing */
    o = (BootstrapOptions){ .kernel = "/nonexistent/vmlinuz" };
    rc = run("kernel", "", 0, &o, &out, &err);
    CHECK_EQ(rc, BOOTSTRAP_EXIT_SETUP);
    CHECK(strstr(err, "--kernel") && strstr(err, "current layout"));
    free(out);
    free(err);
    o = (BootstrapOptions){ .dry_run = 1 };
    rc = run("dry", "", 0, &o, &out, &err);
    CHECK_EQ(rc, BOOTSTRAP_EXIT_OK);
    snprintf(want, sizeof want, "dry run: 6 steps; the guest would run: %s boot --ide %s/dry.work/init.img --mem 4096 ",
             script, tmp);
    CHECK(strstr(out, want) != NULL);
    snprintf(ap, sizeof ap, "%s/dry.lines.argv", tmp);
    CHECK(access(ap, F_OK) != 0);   /* the guest never ran */

    free(out);
    free(err);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return check_done();
}
