/* SPDX-License-Identifier: GPL-2.0-or-later */
/* steps/hex0disk.c and steps/current.c: hex0 compiled as rootfs.py compiles
 * builder-hex0's stage1, the disk's byte layout checked against the format
 * (stage1, stage2 text, sector padding, srcfs in sorted os.walk order, trailer,
 * MiB padding, sparse extension), reproducibility (two writes from trees made
 * in different orders are byte-identical), refusals; then `lbvm build`'s
 * library on tests/fixtures/lb-current-forms: the whole srcfs entry list,
 * contents, distfiles (missing, left out, mismatching), two builds identical. */
#include "check.h"
#include "steps/current.h"
#include "steps/hex0disk.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256], fixture[3000];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void test_hex0(void)
{
    uint8_t *o = NULL;
    size_t n = 0;
    char e[256];
    const char *t = "# comment\nFA ; cli\nF4 # hlt\n0a0B\r\n  ff\t10 ;; x\rEE\n;only\n";
    CHECK(hex0_compile("t", t, strlen(t), &o, &n, e, sizeof e) == 0);
    static const uint8_t want[] = { 0xfa, 0xf4, 0x0a, 0x0b, 0xff, 0x10, 0xee };
    CHECK(n == sizeof want && o && !memcmp(o, want, n));
    free(o);
    static const struct { const char *t; int line; } bad[] = {
        { "F\n", 1 }, { "00\n0 1\n", 2 }, { "0g\n", 1 }, { "00\r0x10\n", 2 }, { "12 3\n", 1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want_at[16];
        snprintf(want_at, sizeof want_at, "t:%d:", bad[i].line);
        o = NULL;
        CHECK(hex0_compile("t", bad[i].t, strlen(bad[i].t), &o, &n, e, sizeof e) < 0 && strstr(e, want_at));
        CHECK(o == NULL);
    }
    CHECK(hex0_compile("t", "", 0, &o, &n, e, sizeof e) == 0 && n == 0);
    free(o);
}

static void boot_sector(uint8_t s[512])
{
    memset(s, 0, 512);
    s[0] = 0xf4;
    s[510] = 0x55;
    s[511] = 0xaa;
}

/* A host folder: files made in the given order (readdir order follows creation on most file systems). */
static void make_host(const char *dir, int reverse)
{
    char p[512];
    mkdir(dir, 0755);
    const char *names[] = { "b.txt", "a.txt", "sub", ".gitignore", "link" };
    for (int k = 0; k < 5; k++) {
        const char *nm = names[reverse ? 4 - k : k];
        snprintf(p, sizeof p, "%s/%s", dir, nm);
        if (!strcmp(nm, "sub")) {
            mkdir(p, 0755);
            snprintf(p, sizeof p, "%s/sub/z", dir);
            write_file(p, "zz");
            snprintf(p, sizeof p, "%s/sub/.git", dir);
            mkdir(p, 0755);
            snprintf(p, sizeof p, "%s/sub/.git/HEAD", dir);
            write_file(p, "ref");
        } else if (!strcmp(nm, "link")) {
            CHECK(symlink("a.txt", p) == 0);
        } else {
            write_file(p, nm[0] == 'a' ? "AAA" : nm[0] == 'b' ? "B" : "ignored");
        }
    }
}

static int build_fs(Srcfs *fs, const char *host, char *e, size_t el)
{
    if (srcfs_init(fs) < 0)
        return -1;
    if (srcfs_add_host(fs, "", host, e, el) < 0 || srcfs_add_data(fs, "top/cfg", "K=V\n", 4, e, el) < 0 ||
        srcfs_add_dir(fs, "empty/deeper", e, el) < 0 || srcfs_add_data(fs, "a.txt", "override", 8, e, el) < 0)
        return -1;
    return 0;
}

static void test_layout(void)
{
    char h1[300], h2[300], img1[300], img2[300], e[512];
    snprintf(h1, sizeof h1, "%s/h1", tmp);
    snprintf(h2, sizeof h2, "%s/h2", tmp);
    snprintf(img1, sizeof img1, "%s/one.img", tmp);
    snprintf(img2, sizeof img2, "%s/two.img", tmp);
    make_host(h1, 0);
    make_host(h2, 1);
    uint8_t s1[512];
    boot_sector(s1);
    const char stage2[] = "AB\r\nCD\rEF\n";
    Srcfs fs;
    Hex0DiskInfo inf;
    CHECK(build_fs(&fs, h1, e, sizeof e) == 0);
    CHECK(hex0disk_write(img1, s1, stage2, sizeof stage2 - 1, &fs, "go\n", 3u << 20, &inf, e, sizeof e) == 0);
    srcfs_free(&fs);
    const char srcfs[] =
        "src 0 .\n"
        "src 0 ./empty\n"
        "src 0 ./sub\n"
        "src 0 ./top\n"
        "src 8 ./a.txt\noverride"
        "src 1 ./b.txt\nB"
        "src 3 ./link\nAAA"
        "src 0 ./empty/deeper\n"
        "src 2 ./sub/z\nzz"
        "src 4 ./top/cfg\nK=V\n"
        "go\n";
    size_t len = 0;
    uint8_t *b = read_all(img1, &len);
    CHECK(b != NULL);
    CHECK_EQ(len, 3u << 20);
    CHECK_EQ(inf.image_bytes, 3u << 20);
    CHECK_EQ(inf.stage2_bytes, 9);
    CHECK_EQ(inf.srcfs_lba, 2);
    CHECK_EQ(inf.srcfs_bytes, sizeof srcfs - 1);
    CHECK_EQ(inf.content_bytes, 1024 + sizeof srcfs - 1);
    CHECK_EQ(inf.files, 5);
    CHECK_EQ(inf.dirs, 5);
    if (b && len == 3u << 20) {
        CHECK(!memcmp(b, s1, 512));
        CHECK(!memcmp(b + 512, "AB\nCD\nEF\n", 9));
        int zero = 1;
        for (size_t i = 521; i < 1024; i++)
            zero &= b[i] == 0;
        CHECK(zero);
        CHECK(!memcmp(b + 1024, srcfs, sizeof srcfs - 1));
        zero = 1;
        for (size_t i = 1024 + sizeof srcfs - 1; i < len; i++)
            zero &= b[i] == 0;
        CHECK(zero);
    }
    free(b);
    /* the same contents added in another order: the same bytes */
    CHECK(build_fs(&fs, h2, e, sizeof e) == 0);
    CHECK(hex0disk_write(img2, s1, stage2, sizeof stage2 - 1, &fs, "go\n", 3u << 20, &inf, e, sizeof e) == 0);
    srcfs_free(&fs);
    size_t l1, l2;
    uint8_t *b1 = read_all(img1, &l1), *b2 = read_all(img2, &l2);
    CHECK(b1 && b2 && l1 == l2 && !memcmp(b1, b2, l1));
    free(b1);
    free(b2);

    /* size 0 or smaller than the content: only the padding to the next MiB */
    CHECK(build_fs(&fs, h1, e, sizeof e) == 0);
    CHECK(hex0disk_write(img2, s1, stage2, sizeof stage2 - 1, &fs, NULL, 0, &inf, e, sizeof e) == 0);
    CHECK_EQ(inf.image_bytes, 1u << 20);
    /* content already MiB-aligned: rootfs.py still adds a whole MiB */
    uint64_t c0 = inf.content_bytes - strlen("src 4 ./top/cfg\nK=V\n");
    for (int digits = 1; digits < 8; digits++) {
        uint64_t hdr = strlen("src  ./top/cfg\n") + (uint64_t)digits;
        uint64_t want = (1u << 20) - c0 - hdr;
        char num[32];
        snprintf(num, sizeof num, "%llu", (unsigned long long)want);
        if ((int)strlen(num) != digits)
            continue;
        char *big = calloc(1, want);
        CHECK(srcfs_add_data(&fs, "top/cfg", big, want, e, sizeof e) == 0);
        free(big);
        CHECK(hex0disk_write(img2, s1, stage2, sizeof stage2 - 1, &fs, NULL, 0, &inf, e, sizeof e) == 0);
        CHECK_EQ(inf.content_bytes, 1u << 20);
        CHECK_EQ(inf.image_bytes, 2u << 20);
        break;
    }
    srcfs_free(&fs);

    /* refusals: no 55 AA; a host file that changed; a name with a newline */
    CHECK(build_fs(&fs, h1, e, sizeof e) == 0);
    s1[511] = 0;
    CHECK(hex0disk_write(img2, s1, stage2, 3, &fs, NULL, 0, &inf, e, sizeof e) < 0 && strstr(e, "55 AA"));
    s1[511] = 0xaa;
    char p[400];
    snprintf(p, sizeof p, "%s/sub/z", h1);
    write_file(p, "longer now");
    unlink(img2);
    CHECK(hex0disk_write(img2, s1, stage2, 3, &fs, NULL, 0, &inf, e, sizeof e) < 0 && strstr(e, "changed"));
    CHECK(access(img2, F_OK) != 0);   /* nothing left behind */
    CHECK(srcfs_add_data(&fs, "bad\nname", "x", 1, e, sizeof e) < 0 && strstr(e, "newline"));
    CHECK(srcfs_add_data(&fs, "a/../b", "x", 1, e, sizeof e) < 0);
    srcfs_remove(&fs, "sub");
    srcfs_remove(&fs, "nothing/here");
    CHECK(hex0disk_write(img2, s1, stage2, 3, &fs, NULL, 0, &inf, e, sizeof e) == 0);
    CHECK_EQ(inf.files, 4);   /* a.txt, b.txt, link, top/cfg */
    srcfs_free(&fs);
    snprintf(p, sizeof p, "%s/fifo", tmp);
    CHECK(mkfifo(p, 0644) == 0);
    CHECK(srcfs_init(&fs) == 0);
    CHECK(srcfs_add_host(&fs, "x", p, e, sizeof e) < 0 && strstr(e, "neither"));
    srcfs_free(&fs);
    unlink(p);
}

/* ---- the fixture through current_build_all -------------------------------------- */

typedef struct Entry {
    char path[512];
    long long size;      /* -1: the "src 0" form (a folder, or an empty file) */
    const uint8_t *data;
} Entry;

/* Parses the srcfs of an image: entries until a line that is not "src". */
static int parse_srcfs(const uint8_t *b, size_t len, size_t off, Entry *v, int max, size_t *end)
{
    int n = 0;
    while (off < len && n < max && !memcmp(b + off, "src ", 4)) {
        const uint8_t *nl = memchr(b + off, '\n', len - off);
        if (!nl)
            break;
        long long size = 0;
        char path[512];
        if (sscanf((const char *)b + off, "src %lld %511[^\n]", &size, path) != 2)
            break;
        off = (size_t)(nl - b) + 1;
        snprintf(v[n].path, sizeof v[n].path, "%s", path);
        v[n].size = size ? size : -1;
        v[n].data = b + off;
        off += (size_t)size;
        n++;
    }
    *end = off;
    return n;
}

static void sha_hex(const uint8_t *b, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int l = 0;
    EVP_Digest(b, n, md, &l, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void test_fixture(void)
{
    char dist[300], out1[300], out2[300], e[1024], p[600];
    snprintf(dist, sizeof dist, "%s/dist", tmp);
    snprintf(out1, sizeof out1, "%s/out1", tmp);
    snprintf(out2, sizeof out2, "%s/out2/deeper", tmp);
    mkdir(dist, 0755);
    static const char *const files[][2] = {
        { "alpha-1.0.tar.gz", "alpha-1.0 source\n" },   { "beta-2.0.tar.gz", "beta-2.0 source\n" },
        { "beta-git-abc123.tar.gz", "beta-git source\n" }, { "delta-4.0.tar.gz", "delta-4.0 source\n" },
        { "epsilon-5.0.tar.gz", "epsilon-5.0 source\n" },
    };
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dist, files[i][0]);
        write_file(p, files[i][1]);
    }
    /* The fixture, copied, with its x86.answers emptied here (the fixture
     * keeps no empty file): an empty file takes the folder's form. */
    char tree[300], cmd[3400];
    snprintf(tree, sizeof tree, "%s/tree", tmp);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", fixture, tree);
    CHECK(system(cmd) == 0);
    snprintf(p, sizeof p, "%s/seed/stage0-posix/x86.answers", tree);
    write_file(p, "");
    BuildOptions o = { .tree = tree, .distdir = dist, .outdir = out1, .disk_size = 4u << 20 };
    BuildOutput out[2];
    CurrentBuild cb;
    CHECK(current_build_all(&o, out, &cb, e, sizeof e) == 0);
    CHECK_EQ(out[0].path[0], 0);
    snprintf(p, sizeof p, "%s/init.img", out1);
    CHECK_STR(out[1].path, p);
    CHECK_EQ(out[1].size, 4u << 20);
    CHECK_EQ(cb.distfiles, 4);
    CHECK_EQ(cb.left_out, 0);
    CHECK_EQ(cb.tree.m.builds, 6);
    CHECK_EQ(cb.disk.srcfs_lba, 2);   /* 512 + our 2-line stage2 text, padded to 1024 */
    current_free(&cb.tree);

    size_t len = 0;
    uint8_t *b = read_all(p, &len);
    CHECK(b && len == 4u << 20);
    if (!b)
        return;
    char hex[65];
    sha_hex(b, len, hex);
    CHECK_STR(out[1].sha256, hex);
    /* stage1 is the fixture's hex0, compiled: cli, hlt, jmp $-1 ... 55 AA */
    CHECK(b[0] == 0xfa && b[1] == 0xf4 && b[2] == 0xeb && b[3] == 0xfd && b[510] == 0x55 && b[511] == 0xaa);
    CHECK(!memcmp(b + 512, "# lbvm's test second stage", 26));
    Entry v[128];
    size_t end = 0;
    int n = parse_srcfs(b, len, 1024, v, 128, &end);
    static const char *const want[] = {
        ".",
        /* the root: stage0-posix (no bootstrap-seeds), seed/'s files; folders first */
        "./High Level", "./external", "./steps", "./x86",
        "./after.kaem", "./configurator.c", "./kaem.x86", "./seed.kaem", "./x86.answers",
        "./High Level/notes.txt",
        "./external/distfiles",
        "./external/distfiles/alpha-1.0.tar.gz", "./external/distfiles/beta-2.0.tar.gz",
        "./external/distfiles/beta-git-abc123.tar.gz", "./external/distfiles/delta-4.0.tar.gz",
        "./steps/alpha-1.0", "./steps/bash-9.9", "./steps/beta-2.0", "./steps/delta-4.0", "./steps/epsilon-5.0",
        "./steps/gamma-3.0", "./steps/improve", "./steps/jump",
        "./steps/bootstrap.cfg", "./steps/env", "./steps/helpers.sh", "./steps/manifest",
        "./steps/alpha-1.0/pass1.kaem", "./steps/alpha-1.0/pass2.sh", "./steps/alpha-1.0/sources",
        "./steps/bash-9.9/pass1.kaem",
        "./steps/beta-2.0/files", "./steps/beta-2.0/pass1.kaem", "./steps/beta-2.0/sources",
        "./steps/beta-2.0/files/link",
        "./steps/delta-4.0/pass1.kaem", "./steps/delta-4.0/sources",
        "./steps/epsilon-5.0/pass1.sh", "./steps/epsilon-5.0/sources",
        "./steps/gamma-3.0/pass1.kaem",
        "./steps/improve/get_network.sh", "./steps/improve/tidy.sh",
        "./steps/jump/hop.sh",
        "./x86/hex0_x86.hex0", "./x86/kaem-minimal.hex0",
        /* the trailer's folders */
        "/bootstrap-seeds", "/bootstrap-seeds/POSIX", "/bootstrap-seeds/POSIX/x86",
    };
    int nw = (int)(sizeof want / sizeof want[0]);
    CHECK_EQ(n, nw);
    for (int i = 0; i < n && i < nw; i++) {
        if (strcmp(v[i].path, want[i]))
            fprintf(stderr, "entry %d: %s, expected %s\n", i, v[i].path, want[i]);
        CHECK_STR(v[i].path, want[i]);
    }
    const char *rest = "hex0 /x86/hex0_x86.hex0 /bootstrap-seeds/POSIX/x86/hex0-seed\n"
                       "hex0 /x86/kaem-minimal.hex0 /bootstrap-seeds/POSIX/x86/kaem-optional-seed\n"
                       "hex0 /x86/kaem-minimal.hex0 /init\n"
                       "/bootstrap-seeds/POSIX/x86/kaem-optional-seed /kaem.x86\n";
    CHECK(end + strlen(rest) < len && !memcmp(b + end, rest, strlen(rest)) && b[end + strlen(rest)] == 0);
    for (int i = 0; i < n && i < nw; i++) {
        const Entry *x = &v[i];
        if (!strcmp(x->path, "./steps/bootstrap.cfg"))
            CHECK(x->size == (long long)strlen(manifest_default_config) &&
                  !memcmp(x->data, manifest_default_config, (size_t)x->size));
        if (!strcmp(x->path, "./after.kaem"))
            CHECK(x->size > 0 && !memcmp(x->data, "# seed after.kaem (ours)", 24));
        if (!strcmp(x->path, "./steps/beta-2.0/files/link"))
            CHECK(x->size == 20 && !memcmp(x->data, "# beta pass1 (ours)\n", 20));
        if (!strcmp(x->path, "./external/distfiles/delta-4.0.tar.gz"))
            CHECK(x->size == 17 && !memcmp(x->data, "delta-4.0 source\n", 17));
        if (!strcmp(x->path, "./x86.answers"))
            CHECK_EQ(x->size, -1);   /* an empty file takes the folder's form, as in rootfs.py */
    }
    free(b);

    /* a second build elsewhere: byte-identical */
    o.outdir = out2;
    CHECK(current_build_all(&o, out, NULL, e, sizeof e) == 0);
    CHECK_STR(out[1].sha256, hex);

    /* a missing pre-network distfile: named; with allow_missing left out */
    snprintf(p, sizeof p, "%s/delta-4.0.tar.gz", dist);
    unlink(p);
    CHECK(current_build_all(&o, out, NULL, e, sizeof e) < 0 && strstr(e, "delta-4.0.tar.gz") && strstr(e, "missing"));
    o.allow_missing = 1;
    CHECK(current_build_all(&o, out, &cb, e, sizeof e) == 0);
    CHECK_EQ(cb.left_out, 1);
    CHECK_EQ(cb.distfiles, 3);
    current_free(&cb.tree);
    CHECK(strcmp(out[1].sha256, hex) != 0);
    /* a wrong one is an error even so */
    write_file(p, "not delta\n");
    CHECK(current_build_all(&o, out, NULL, e, sizeof e) < 0 && strstr(e, "checksum mismatch"));
    /* the post-network distfile is never needed */
    write_file(p, "delta-4.0 source\n");
    snprintf(p, sizeof p, "%s/epsilon-5.0.tar.gz", dist);
    unlink(p);
    o.allow_missing = 0;
    CHECK(current_build_all(&o, out, &cb, e, sizeof e) == 0);
    CHECK_EQ(cb.left_out, 0);
    current_free(&cb.tree);
    CHECK_STR(out[1].sha256, hex);
    o.own_seeds = 1;
    CHECK(current_build_all(&o, out, NULL, e, sizeof e) < 0 && strstr(e, "no binary seed"));
    o.own_seeds = 0;

    /* the runner's view: failure lines, step markers, the boot command */
    CHECK(current_failure_reason("ERROR: no hda writes!") != NULL);
    CHECK(current_failure_reason("WARNING: the last user process has exited. The kernel will stop itself.") != NULL);
    CHECK(current_failure_reason("PANIC: in do_page_fault()") != NULL);
    CHECK(current_failure_reason("src") == NULL && current_failure_reason("Build finished.") == NULL);
    unsigned seen = 0;
    CHECK(strstr(current_stage_note("src", &seen), "loading") != NULL);
    CHECK(current_stage_note("src", &seen) == NULL);   /* once */
    CHECK(current_stage_note("./steps/manifest", &seen) == NULL);
    CHECK(strstr(current_stage_note("/bootstrap-seeds/POSIX/x86/kaem-optional-seed", &seen), "loaded") != NULL);
    CHECK(strstr(current_stage_note(" +> kaem --file /steps/jump/fiwix.sh", &seen), "Fiwix") != NULL);
    CHECK(strstr(current_stage_note("Linux version 4.14.341-openela (gcc 4.7.4)", &seen), "Linux") != NULL);
    CHECK(seen == 15);
    const char *argv[8];
    int an = current_boot_argv(argv, 0, "/w/init.img", "3072");
    CHECK(an == 5 && !strcmp(argv[0], "boot") && !strcmp(argv[1], "--ide") && !strcmp(argv[2], "/w/init.img") &&
          !strcmp(argv[3], "--mem") && !strcmp(argv[4], "3072"));
}

static void test_step_regex(void)
{
    regex_t re;
    regmatch_t m[4];
    CHECK(regcomp(&re, CURRENT_STEP_REGEX, REG_EXTENDED) == 0);
    static const struct { const char *line; const char *name; } yes[] = {
        { " +> pkg=mes-0.27.1 ", "mes-0.27.1" },   /* as kaem echoes it (seen on the real tree) */
        { " +> pkg=mes-0.27.1", "mes-0.27.1" },
        { " +> pkg=tcc-0.9.27", "tcc-0.9.27" },
        { "gcc-10.5.0: beginning build using script pass1.sh", "gcc-10.5.0" },
        { "perl-Devel-Tokenizer-C-0.11: beginning build using script pass13.sh", "perl-Devel-Tokenizer-C-0.11" },
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        int ok = regexec(&re, yes[i].line, 4, m, 0) == 0;
        CHECK(ok);
        if (ok) {
            int g = m[1].rm_so >= 0 ? 1 : 2;
            CHECK((size_t)(m[g].rm_eo - m[g].rm_so) == strlen(yes[i].name) &&
                  !strncmp(yes[i].line + m[g].rm_so, yes[i].name, strlen(yes[i].name)));
        }
    }
    static const char *const no[] = { " +> cd ${pkg}", " +> pkg=a  ", " +> pkg=a b", " +> kaem --file pass1.kaem", "pkg=mes-0.27.1",
                                      "gcc: build successful", "x: beginning build using script pass1.kaem" };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK(regexec(&re, no[i], 0, NULL, 0) != 0);
    regfree(&re);
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
    strcpy(tmp, "/tmp/lbvm-hex0disk-XXXXXX");
    if (!mkdtemp(tmp)) {
        CHECK(!"mkdtemp");
        return check_done();
    }
    test_hex0();
    test_layout();
    test_fixture();
    test_step_regex();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return check_done();
}
