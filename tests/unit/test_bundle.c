/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit bundle's checks before anything runs (audit/bundle.c), on a bundle
 * made by hand (one segment, from the boot): it opens; a MANIFEST naming a
 * file outside the bundle's folders, a journal edited or cut short, a kernel
 * missing or altered, a segment that does not exist are refused with the
 * segment named. And the journal lines each segment covers: segment 1 from
 * the first line, each later one from its start point's line, both ends
 * included. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/bundle_priv.h"
#include "check.h"

static char dir[64], err[4608];

static const char journal[] =
    "# lbvm journal 1\n"
    "boot kernel=vmlinuz kernel-sha256=%s mem=64 epoch=0 guest-decompress=0\n"
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

static char kernel_hex[65], journal_text[2048], journal_hex[65];

/* A whole good bundle: journal, kernel, MANIFEST (extra: one more line). */
static void make_bundle(const char *extra)
{
    static const char kernel[] = "not a real kernel";
    char z[65], p[256], m[4096];
    memset(z, 'a', 64);
    z[64] = 0;
    sha_hex(kernel, strlen(kernel), kernel_hex);
    snprintf(p, sizeof p, "inputs/%s", kernel_hex);
    put(p, kernel);
    snprintf(journal_text, sizeof journal_text, journal, kernel_hex, z, z, z, z, z, z);
    put("journal", journal_text);
    /* one segment from the boot to the end: its lines are the whole journal */
    sha_hex(journal_text, strlen(journal_text), journal_hex);
    snprintf(m, sizeof m,
             "# lbvm bundle 1\njournal %s %zu journal points=2\nkernel %s %zu inputs/%s\n%ssegment 1 0 2 %s boot\n",
             journal_hex, strlen(journal_text), kernel_hex, strlen(kernel), kernel_hex, extra, journal_hex);
    put("MANIFEST", m);
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
    test_slices();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
