/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit bundle's checks before anything runs (audit/bundle.c), on a bundle
 * made by hand (one segment, from the boot): it opens; a MANIFEST naming a
 * file outside the bundle's folders, a journal edited or cut short, a kernel
 * missing or altered, a segment that does not exist are refused with the
 * segment named. Multiboot modules (kind `module`, index= its place on the
 * boot line): each the boot line names must be there once with its
 * module-sha256, no other; a BIOS boot (no kernel) has no inputs. And the
 * journal lines each segment covers: segment 1 from the first line, each
 * later one from its start point's line, both ends included. Then `lbvm
 * bundle` (audit/bundle_make.c) on journals of no run: a BIOS boot's, one
 * with a module, one from before module digests, a module changed since. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/bundle_priv.h"
#include "check.h"

static char dir[64], err[4608];

/* %s: the boot line's inputs (kernel=..., or ide=... for a BIOS boot) */
static const char journal[] =
    "# lbvm journal 1\n"
    "boot %s mem=64 epoch=0 guest-decompress=0\n"
    "point 100 every console=%s state=%s ram=%s\n"
    "point 200 end console=%s state=%s ram=%s\n";

static void put(const char *name, const char *text)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

static void sha_hex(const void *b, size_t n, char out[65])
{
    uint8_t md[32];
    EVP_Digest(b, n, md, NULL, EVP_sha256(), NULL);
    bundle_hex(md, 32, out);
}

static char kernel_hex[65], module_hex[65], journal_text[2048], journal_hex[65];
static const char kernel[] = "not a real kernel", module[] = "a module's bytes";

/* A whole good bundle: journal (its boot line's inputs: boot), MANIFEST
 * (its input lines: inputs; extra: one more line). */
static void make_bundle_of(const char *boot, const char *inputs, const char *extra)
{
    char z[65], m[4096];
    memset(z, 'a', 64);
    z[64] = 0;
    snprintf(journal_text, sizeof journal_text, journal, boot, z, z, z, z, z, z);
    put("journal", journal_text);
    /* one segment from the boot to the end: its lines are the whole journal */
    sha_hex(journal_text, strlen(journal_text), journal_hex);
    snprintf(m, sizeof m, "# lbvm bundle 1\njournal %s %zu journal points=2\n%s%ssegment 1 0 2 %s boot\n", journal_hex,
             strlen(journal_text), inputs, extra, journal_hex);
    put("MANIFEST", m);
}

/* The kernel (and module) in inputs/, and their hex digests. */
static void put_inputs(void)
{
    char p[256];
    sha_hex(kernel, strlen(kernel), kernel_hex);
    snprintf(p, sizeof p, "inputs/%s", kernel_hex);
    put(p, kernel);
    sha_hex(module, strlen(module), module_hex);
    snprintf(p, sizeof p, "inputs/%s", module_hex);
    put(p, module);
}

/* A Linux boot: the kernel alone. */
static void make_bundle(const char *extra)
{
    char boot[256], in[512];
    put_inputs();
    snprintf(boot, sizeof boot, "kernel=vmlinuz kernel-sha256=%s", kernel_hex);
    snprintf(in, sizeof in, "kernel %s %zu inputs/%s\n", kernel_hex, strlen(kernel), kernel_hex);
    make_bundle_of(boot, in, extra);
}

/* A Multiboot boot: the kernel and one module (MANIFEST line: mod, "" for
 * none; the boot line's module-sha256 left out: no_sha). */
static void make_mb_bundle(const char *mod, bool no_sha, const char *extra)
{
    char boot[512], in[1024];
    put_inputs();
    snprintf(boot, sizeof boot, "kernel=mb kernel-sha256=%s module=m1,x%%3dy%%20z%s%s", kernel_hex,
             no_sha ? "" : " module-sha256=", no_sha ? "" : module_hex);
    snprintf(in, sizeof in, "kernel %s %zu inputs/%s\n%s", kernel_hex, strlen(kernel), kernel_hex, mod);
    make_bundle_of(boot, in, extra);
}

/* The MANIFEST's module line for our module at index i. */
static const char *module_line(int i)
{
    static char l[256];
    snprintf(l, sizeof l, "module %s %zu inputs/%s index=%d\n", module_hex, strlen(module), module_hex, i);
    return l;
}

static int open_it(int seg)
{
    Bundle b;
    err[0] = 0;
    int rc = bundle_open(&b, dir, seg, err, sizeof err);
    bundle_close(&b);
    return rc;
}

static void test_good(void)
{
    make_bundle("");
    Bundle b;
    CHECK(bundle_is(dir));
    CHECK_EQ(bundle_open(&b, dir, 0, err, sizeof err), 0);
    CHECK_EQ(b.n_segs, 1);
    CHECK_EQ(b.n_pts, 2);
    CHECK(bundle_find(&b, BUNDLE_KERNEL, 0) != NULL);
    CHECK(bundle_find(&b, BUNDLE_INITRD, 0) == NULL);
    bundle_close(&b);
    CHECK_EQ(open_it(1), 0);
    CHECK_EQ(open_it(2), -1);
    CHECK(strstr(err, "there is no segment 2") != NULL);
}

static void test_names(void)
{
    static const char *const bad[] = {
        "layer %s 10 ../../etc/passwd first=1\n",
        "layer %s 10 layers/../x first=1\n",
        "base %s 10 /etc/passwd disk=0 ro=0\n",
        "checkpoint %s 10 checkpoints/ckpt-1.lbvm/../../x ticks=1\n",
        "checkpoint %s 10 inputs/ckpt-1.lbvm ticks=1\n",
        "layer %s 10 layers/%s\n",          /* no first= */
        "frobnicate %s\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[512];
        snprintf(line, sizeof line, bad[i], kernel_hex, kernel_hex);
        make_bundle(line);
        CHECK_EQ(open_it(0), -1);
        CHECK(strstr(err, "malformed line") != NULL);
    }
    make_bundle("");
    put("MANIFEST", "# lbvm bundle 2\n");
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "not an lbvm bundle MANIFEST") != NULL);
}

static void test_journal(void)
{
    make_bundle("");
    char edited[2048];
    snprintf(edited, sizeof edited, "%s", journal_text);
    *strstr(edited, "mem=64") = 'M';
    put("journal", edited);
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "segment 1: the journal was edited") != NULL);
    CHECK_EQ(open_it(1), -1);       /* a single segment's check reads the journal whole too */
    *strstr(journal_text, "point 200") = 0;
    put("journal", journal_text);
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "segment 1: the journal was cut short: it has 1 points") != NULL);
}

static void test_kernel(void)
{
    char p[256];
    make_bundle("");
    snprintf(p, sizeof p, "inputs/%s", kernel_hex);
    put(p, "not a real kernel!");
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "segment 1: kernel inputs/") && strstr(err, "is altered"));
    put(p, "not a real kernal");
    CHECK_EQ(open_it(1), -1);       /* same size, other bytes */
    CHECK(strstr(err, "is altered (SHA-256") != NULL);
    snprintf(p, sizeof p, "%s/inputs/%s", dir, kernel_hex);
    unlink(p);
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "is missing") != NULL);
}

static void test_modules(void)
{
    Bundle b;
    put_inputs();
    make_mb_bundle(module_line(0), false, "");
    CHECK_EQ(bundle_open(&b, dir, 0, err, sizeof err), 0);
    const BundleFile *f = bundle_find(&b, BUNDLE_MODULE, 0);
    CHECK(f && f->index == 0 && f->size == strlen(module) && !strncmp(f->name, "inputs/", 7));
    CHECK(bundle_find(&b, BUNDLE_MODULE, 1) == NULL);
    /* the guest's string comes from the boot line, percent-decoded */
    char *v = journal_boot_value(b.boot, "module", 0);
    CHECK_STR(v, "m1,x=y z");
    free(v);
    bundle_close(&b);
    CHECK_EQ(open_it(1), 0);
    CHECK_EQ(open_it(2), -1);   /* one segment only */

    /* the boot line names a module the MANIFEST lacks, or one without its digest */
    make_mb_bundle("", false, "");
    CHECK_EQ(open_it(0), -1);
    CHECK_STR(err, "segment 1: the bundle's module 1 is not the one the journal's boot line names (the MANIFEST has none)");
    CHECK_EQ(open_it(1), -1);
    make_mb_bundle(module_line(0), true, "");
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "segment 1: the bundle's module 1 is not the one") && strstr(err, "(it gives no SHA-256)"));
    /* a module the boot line does not name; the same one twice */
    make_mb_bundle(module_line(1), false, "");
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "segment 1: the MANIFEST's module inputs/") && strstr(err, "is not one the journal's boot line "
                                                                           "names (it names 1)"));
    char two[512];
    snprintf(two, sizeof two, "%s%s", module_line(0), module_line(0));
    make_mb_bundle(two, false, "");
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "is not one the journal's boot line names") != NULL);
    /* another module's digest in the MANIFEST, file and all */
    char p[256], other_hex[65], other[256];
    sha_hex("other", 5, other_hex);
    snprintf(p, sizeof p, "inputs/%s", other_hex);
    put(p, "other");
    snprintf(other, sizeof other, "module %s 5 inputs/%s index=0\n", other_hex, other_hex);
    make_mb_bundle(other, false, "");
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "segment 1: the bundle's module 1 is not the one the journal's boot line names (SHA-256)") != NULL);
    /* the module's file altered, same size: segment 1 digests it even alone */
    make_mb_bundle(module_line(0), false, "");
    snprintf(p, sizeof p, "inputs/%s", module_hex);
    put(p, "a module's bytez");
    CHECK_EQ(open_it(1), -1);
    CHECK(strstr(err, "segment 1: module inputs/") && strstr(err, "is altered (SHA-256"));
    CHECK_EQ(open_it(0), -1);
    put_inputs();

    /* malformed module lines */
    char bad[5][256];
    snprintf(bad[0], sizeof bad[0], "module %s %zu inputs/%s\n", module_hex, strlen(module), module_hex);
    snprintf(bad[1], sizeof bad[1], "module %s %zu inputs/%s index=-1\n", module_hex, strlen(module), module_hex);
    snprintf(bad[2], sizeof bad[2], "module %s %zu inputs/%s index=16\n", module_hex, strlen(module), module_hex);
    snprintf(bad[3], sizeof bad[3], "module %s %zu layers/%s index=0\n", module_hex, strlen(module), module_hex);
    snprintf(bad[4], sizeof bad[4], "module %s %zu inputs/%s index=0 x\n", module_hex, strlen(module), module_hex);
    for (int i = 0; i < 5; i++) {
        make_mb_bundle(bad[i], false, "");
        CHECK_EQ(open_it(0), -1);
        CHECK(strstr(err, "malformed line") != NULL);
    }
}

static void test_bios(void)
{
    Bundle b;
    char in[512];
    /* no kernel: nothing in inputs/, segment 1 boots the disks */
    make_bundle_of("ide=disk.img", "", "");
    CHECK_EQ(bundle_open(&b, dir, 0, err, sizeof err), 0);
    CHECK(bundle_find(&b, BUNDLE_KERNEL, 0) == NULL && bundle_find(&b, BUNDLE_MODULE, 0) == NULL);
    bundle_close(&b);
    CHECK_EQ(open_it(1), 0);
    /* a kernel the boot line does not name is refused */
    put_inputs();
    snprintf(in, sizeof in, "kernel %s %zu inputs/%s\n", kernel_hex, strlen(kernel), kernel_hex);
    make_bundle_of("ide=disk.img", in, "");
    CHECK_EQ(open_it(0), -1);
    CHECK(strstr(err, "segment 1: the MANIFEST's kernel inputs/") && strstr(err, "(it names 0)"));
    /* and a boot line's kernel the MANIFEST lacks */
    snprintf(in, sizeof in, "kernel=vmlinuz kernel-sha256=%s ide=disk.img", kernel_hex);
    make_bundle_of(in, "", "");
    CHECK_EQ(open_it(1), -1);
    CHECK_STR(err, "segment 1: the bundle's kernel is not the one the journal's boot line names (the MANIFEST has none)");
}

/* ---- lbvm bundle, on journals of runs that never were (no checkpoints) ---- */

static char run[80];

static void put_run(const char *name, const char *text, size_t len)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", run, name);
    FILE *f = fopen(p, "w");
    fwrite(text, 1, len, f);
    fclose(f);
}

static int make_from(const char *boot)
{
    static int n;
    char z[65], text[2048], out[160], jp[160];
    memset(z, 'b', 64);
    z[64] = 0;
    snprintf(text, sizeof text, journal, boot, z, z, z, z, z, z);
    put_run("journal", text, strlen(text));
    snprintf(out, sizeof out, "%s/B%d", run, ++n);
    snprintf(jp, sizeof jp, "%s/journal", run);
    BundleMakeOpts o = { .journal = jp, .out = out };
    Bundle b;
    err[0] = 0;
    int rc = bundle_make(&o, &b, err, sizeof err);
    if (rc == 0) {
        bundle_close(&b);
        rc = bundle_open(&b, out, 0, err, sizeof err);
    }
    bundle_close(&b);
    return rc;
}

static void test_make(void)
{
    char boot[1024];
    snprintf(run, sizeof run, "%s/run", dir);
    mkdir(run, 0755);
    put_run("mb", kernel, strlen(kernel));
    put_run("m1", module, strlen(module));
    /* a disk image: 1 MiB, a boot sector's signature */
    static char disk[1 << 20];
    disk[510] = 0x55;
    disk[511] = (char)0xaa;
    put_run("disk.img", disk, sizeof disk);

    /* a BIOS boot: the base, no input */
    snprintf(boot, sizeof boot, "cwd=%s ide=disk.img", run);
    CHECK_EQ(make_from(boot), 0);
    /* a Multiboot kernel and a module with its command line */
    snprintf(boot, sizeof boot, "cwd=%s kernel=mb kernel-sha256=%s module=m1,x%%3dy module-sha256=%s", run,
             kernel_hex, module_hex);
    CHECK_EQ(make_from(boot), 0);
    /* the module twice: one file in inputs/, two MANIFEST lines */
    snprintf(boot, sizeof boot, "cwd=%s kernel=mb kernel-sha256=%s module=m1 module-sha256=%s module=m1,again "
             "module-sha256=%s", run, kernel_hex, module_hex, module_hex);
    CHECK_EQ(make_from(boot), 0);
    /* a journal from before module digests */
    snprintf(boot, sizeof boot, "cwd=%s kernel=mb kernel-sha256=%s module=m1,x%%3dy", run, kernel_hex);
    CHECK_EQ(make_from(boot), -1);
    CHECK(strstr(err, "the boot line names module m1 without its SHA-256 (no valid module-sha256=, as in journals of lbvm before module digests)") != NULL);
    CHECK(!strchr(err, '\n'));
    /* the module changed since the run */
    put_run("m1", "changed!", 8);
    snprintf(boot, sizeof boot, "cwd=%s kernel=mb kernel-sha256=%s module=m1,x%%3dy module-sha256=%s", run,
             kernel_hex, module_hex);
    CHECK_EQ(make_from(boot), -1);
    CHECK(strstr(err, "/run/m1 changed since the run: it is not the module the journal's boot line recorded") != NULL);
    /* nothing to boot */
    CHECK_EQ(make_from("mem=64"), -1);
    CHECK(strstr(err, "the boot line names no kernel and no disk") != NULL);
}

static void test_slices(void)
{
    static const char text[] = "# lbvm journal 1\nboot x\npoint 1 a\ninput 2 00\npoint 3 b\nresume 3\npoint 4 c\n";
    put("j2", text);
    BundleSegment segs[2] = { { .id = 1, .from = 0, .to = 2 }, { .id = 2, .from = 2, .to = 3 } };
    uint8_t out[3][32], want[32];
    bool cut[3];
    char p[256];
    snprintf(p, sizeof p, "%s/j2", dir);
    CHECK_EQ(bundle_journal_slices(p, segs, 2, out, cut, err, sizeof err), 3);
    CHECK(!cut[0] && !cut[1]);
    const char *s2 = strstr(text, "point 3");
    EVP_Digest(text, (size_t)(strstr(text, "resume") - text), want, NULL, EVP_sha256(), NULL);
    CHECK(!memcmp(out[0], want, 32));
    EVP_Digest(s2, strlen(s2), want, NULL, EVP_sha256(), NULL);
    CHECK(!memcmp(out[1], want, 32));
    BundleSegment far[1] = { { .id = 1, .from = 0, .to = 4 } };
    CHECK_EQ(bundle_journal_slices(p, far, 1, out, cut, err, sizeof err), 3);
    CHECK(cut[0]);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/lbvm-test-bundle-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    char p[128];
    snprintf(p, sizeof p, "%s/inputs", dir);
    mkdir(p, 0755);
    test_good();
    test_names();
    test_journal();
    test_kernel();
    test_modules();
    test_bios();
    test_make();
    test_slices();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
