/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bootstrap seeds (seeds/x86): the committed binaries must be exactly what
 * their hex0 sources assemble to, stay within the size limits, and behave as
 * documented when run as i386 Linux programs on this host (fork/exec in temp
 * dirs). The repo is found through $LBVM_SRC, else __FILE__/../.. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE                     /* pipe2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "../../seeds/hex0.c"

#define HEX0_SEED_MAX 256
#define KAEM_SEED_MAX 638

static char src_dir[PATH_MAX / 2];     /* absolute after main() starts */
static char qemu[PATH_MAX];             /* "" = run i386 programs natively */
static char tmp_root[] = "/tmp/lbvm-seeds-XXXXXX";

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, r;
    uint8_t *buf = malloc(cap);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = 0;                         /* n < cap always: room for a NUL */
    *len = n;
    return buf;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    int ok = write(fd, data, len) == (ssize_t)len;
    close(fd);
    return ok ? 0 : -1;
}

static void path_join(char *out, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb >= PATH_MAX) {
        fprintf(stderr, "path too long: %s/%s\n", a, b);
        exit(1);
    }
    memcpy(out, a, la);
    out[la] = '/';
    memcpy(out + la + 1, b, lb + 1);
}

/* Runs prog (an i386 seed or host program) with args in cwd, stdout/stderr
 * to files there. Returns the wait status, or -errno if execve failed. */
static int run(const char *cwd, const char *prog, const char *const *args,
               char *const *envp, int i386)
{
    const char *argv[16];
    int n = 0, pfd[2];
    if (i386 && qemu[0])
        argv[n++] = qemu;
    argv[n++] = prog;
    for (int i = 0; args && args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (pipe2(pfd, O_CLOEXEC))
        return -EIO;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char p[PATH_MAX];
        int e = EIO;
        path_join(p, cwd, "stdout");
        int o = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        path_join(p, cwd, "stderr");
        int r = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (o >= 0 && r >= 0 && in >= 0 && chdir(cwd) == 0 &&
            dup2(in, 0) >= 0 && dup2(o, 1) >= 0 && dup2(r, 2) >= 0) {
            execve(argv[0], (char *const *)argv, envp);
            e = errno;
        }
        if (write(pfd[1], &e, sizeof(e)) < 0)
            _exit(126);
        _exit(127);
    }
    close(pfd[1]);
    int e = 0, status = -1;
    ssize_t got = read(pfd[0], &e, sizeof(e));
    close(pfd[0]);
    waitpid(pid, &status, 0);
    return got == (ssize_t)sizeof(e) ? -e : status;
}

extern char **environ;

static int run_seed(const char *cwd, const char *seed, const char *const *args)
{
    char p[PATH_MAX];
    path_join(p, tmp_root, seed);
    return run(cwd, p, args, environ, 1);
}

static char *cwd_file(const char *cwd, const char *name, size_t *len)
{
    char p[PATH_MAX];
    path_join(p, cwd, name);
    return (char *)read_file(p, len);
}

static int file_is(const char *cwd, const char *name, const char *want, size_t want_len)
{
    size_t len = 0;
    char *got = cwd_file(cwd, name, &len);
    int ok = got && len == want_len && memcmp(got, want, len) == 0;
    if (!ok)
        fprintf(stderr, "%s/%s: got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"\n", cwd, name,
                len, got ? (int)len : 0, got ? got : "", want_len, (int)want_len, want);
    free(got);
    return ok;
}
#define FILE_IS(cwd, name, str) CHECK(file_is(cwd, name, str, sizeof(str) - 1))

static void make_dir(char *out, const char *name)
{
    path_join(out, tmp_root, name);
    mkdir(out, 0755);
}

static void put(const char *dir, const char *name, const char *text)
{
    char p[PATH_MAX];
    path_join(p, dir, name);
    CHECK(write_file(p, text, strlen(text), 0644) == 0);
}

/* The C assembler follows the same rules as hex0-seed. */
static void test_assembler(void)
{
    uint8_t out[64];
    const char *s = "# 41 comment\n4a ; 42 comment\nfF Ab\tzz-9-0 c";
    CHECK_EQ(hex0_assemble(s, strlen(s), out, sizeof(out)), 4);
    CHECK_EQ(out[0], 0x4a);
    CHECK_EQ(out[1], 0xff);
    CHECK_EQ(out[2], 0xab);
    CHECK_EQ(out[3], 0x90);             /* 9 and 0 across other chars; "c" dangles */
    CHECK_EQ(hex0_assemble("", 0, out, sizeof(out)), 0);
    CHECK_EQ(hex0_assemble("1234", 4, NULL, 0), 2);  /* sizing call */
    CHECK_EQ(hex0_assemble("#12\n;34", 7, out, sizeof(out)), 0);
    CHECK_EQ(hex0_assemble("GgxX:@`/", 8, out, sizeof(out)), 0);
}

/* Source -> binary equality, size limits and the ELF fields Linux relies on. */
static void test_binaries(const char *name, size_t max)
{
    char p[PATH_MAX];
    size_t slen = 0, blen = 0;
    snprintf(p, sizeof(p), "%s/seeds/x86/%s.hex0", src_dir, name);
    char *src = (char *)read_file(p, &slen);
    snprintf(p, sizeof(p), "%s/seeds/x86/%s", src_dir, name);
    uint8_t *bin = read_file(p, &blen);
    CHECK(src != NULL);
    CHECK(bin != NULL);
    if (!src || !bin) {
        fprintf(stderr, "%s: cannot read seeds from %s (set LBVM_SRC)\n", name, src_dir);
        free(src);
        free(bin);
        return;
    }
    int n = hex0_assemble(src, slen, NULL, 0);
    uint8_t *out = malloc(n + 1);
    hex0_assemble(src, slen, out, n);
    CHECK_EQ(n, blen);
    CHECK((size_t)n == blen && memcmp(out, bin, blen) == 0);
    CHECK(blen <= max);
    printf("%s: %zu bytes (limit %zu)\n", name, blen, max);
    CHECK(blen >= 84 && memcmp(bin, "\177ELF\1\1\1", 7) == 0);
    if (blen >= 84) {
        uint32_t entry, phoff, vaddr, filesz, memsz;
        memcpy(&entry, bin + 0x18, 4);
        memcpy(&phoff, bin + 0x1c, 4);
        memcpy(&vaddr, bin + 0x3c, 4);
        memcpy(&filesz, bin + 0x44, 4);
        memcpy(&memsz, bin + 0x48, 4);
        CHECK_EQ(bin[0x10] | bin[0x11] << 8, 2);   /* ET_EXEC */
        CHECK_EQ(bin[0x12] | bin[0x13] << 8, 3);   /* EM_386 */
        CHECK_EQ(phoff, 0x34);
        CHECK_EQ(bin[0x2c], 1);                    /* one program header */
        CHECK_EQ(bin[0x34], 1);                    /* PT_LOAD */
        CHECK_EQ(entry, vaddr + 0x54);             /* code right after the headers */
        CHECK_EQ(filesz, blen);
        CHECK(memsz >= filesz);
    }
    /* install a copy in the temp root for the run tests */
    path_join(p, tmp_root, name);
    CHECK(write_file(p, bin, blen, 0755) == 0);
    free(src);
    free(bin);
    free(out);
}

static void test_hex0_seed(void)
{
    char d[PATH_MAX], p[PATH_MAX];
    struct stat st;

    make_dir(d, "hex0");
    /* both comment kinds, upper/lower case, skipped characters, odd digit count */
    put(d, "in.hex0", "# comment 41 42\n48 65 ; 43 44\n6C6c 6F\nzz0a\t-G 1");
    int s = run_seed(d, "hex0-seed", (const char *[]){ "in.hex0", "out", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    FILE_IS(d, "out", "Hello\n");
    path_join(p, d, "out");
    CHECK(stat(p, &st) == 0 && (st.st_mode & S_IXUSR) && (st.st_mode & S_IRUSR));

    /* every byte value, alternating case, truncating a longer existing output */
    char src[256 * 4 + 1], want[256];
    for (int i = 0; i < 256; i++) {
        snprintf(src + i * 4, 5, i & 1 ? "%02X\n " : "%02x  ", i);
        want[i] = (char)i;
    }
    put(d, "all.hex0", src);
    put(d, "out", "this old content is longer than nothing at all, surely......");
    s = run_seed(d, "hex0-seed", (const char *[]){ "all.hex0", "out", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    CHECK(file_is(d, "out", want, 256));

    /* empty input: exit 0 and an empty (truncated) output */
    put(d, "empty", "");
    s = run_seed(d, "hex0-seed", (const char *[]){ "empty", "out", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    FILE_IS(d, "out", "");

    /* errors: missing input, unwritable output, missing arguments */
    s = run_seed(d, "hex0-seed", (const char *[]){ "no-such-file", "out2", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) != 0);
    s = run_seed(d, "hex0-seed", (const char *[]){ "in.hex0", "no-such-dir/out", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) != 0);
    s = run_seed(d, "hex0-seed", (const char *[]){ "in.hex0", ".", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) != 0);
    s = run_seed(d, "hex0-seed", (const char *[]){ "in.hex0", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) != 0);

    /* self-hosting: hex0-seed assembles both seed sources to the committed bytes */
    const char *names[] = { "hex0-seed", "kaem-optional-seed" };
    for (int i = 0; i < 2; i++) {
        char in[PATH_MAX], ref[PATH_MAX];
        size_t a = 0, b = 0;
        snprintf(in, sizeof(in), "%s/seeds/x86/%s.hex0", src_dir, names[i]);
        snprintf(ref, sizeof(ref), "%s/seeds/x86/%s", src_dir, names[i]);
        s = run_seed(d, "hex0-seed", (const char *[]){ in, "self", NULL });
        CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
        char *x = cwd_file(d, "self", &a);
        uint8_t *y = read_file(ref, &b);
        CHECK(x && y && a == b && memcmp(x, y, a) == 0);
        free(x);
        free(y);
    }
}

static void test_kaem_seed(void)
{
    char d[PATH_MAX];
    int s;

    make_dir(d, "kaem");
    /* quoting, comments, tabs, empty lines, continuation, no final newline */
    put(d, "script",
        "# a comment line\n"
        "\n"
        "   \t \n"
        "/bin/echo hello   world # trailing comment \"not a quote\n"
        "/bin/echo \"quoted  # \\ token\" x\n"
        "\t/bin/echo a \\\n"
        "b\tc\n"
        "/bin/echo pre\"fix suf\"fix\n"
        "/bin/echo last");
    s = run_seed(d, "kaem-optional-seed", (const char *[]){ "script", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    FILE_IS(d, "stdout",
            " +> /bin/echo hello world\nhello world\n"
            " +> /bin/echo quoted  # \\ token x\nquoted  # \\ token x\n"
            " +> /bin/echo a b c\na b c\n"
            " +> /bin/echo prefix suffix\nprefix suffix\n"
            " +> /bin/echo last\nlast\n");
    FILE_IS(d, "stderr", "");

    /* a failing command stops the run */
    put(d, "script", "/bin/echo one\n/bin/false\n/bin/echo two\n");
    s = run_seed(d, "kaem-optional-seed", (const char *[]){ "script", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) != 0);
    FILE_IS(d, "stdout", " +> /bin/echo one\none\n +> /bin/false\n");
    FILE_IS(d, "stderr", "Subprocess error\nABORTING HARD\n");

    /* so does a program that cannot be executed */
    put(d, "script", "/no/such/program arg\n/bin/echo two\n");
    s = run_seed(d, "kaem-optional-seed", (const char *[]){ "script", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) != 0);
    FILE_IS(d, "stdout", " +> /no/such/program arg\n");
    FILE_IS(d, "stderr", "Subprocess error\nABORTING HARD\n");

    /* default script name, and the environment reaches the children */
    put(d, "kaem.x86", "/usr/bin/env\n/bin/echo done\n");
    char *envp[] = { "LBVM_SEED_TEST=forty two", "PATH=/usr/bin:/bin", NULL };
    char p[PATH_MAX];
    path_join(p, tmp_root, "kaem-optional-seed");
    s = run(d, p, NULL, envp, 1);
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    size_t len = 0;
    char *out = cwd_file(d, "stdout", &len);
    CHECK(out && strncmp(out, " +> /usr/bin/env\n", 17) == 0);
    CHECK(out && strstr(out, "\nLBVM_SEED_TEST=forty two\n") != NULL);
    CHECK(out && strstr(out, "\nPATH=/usr/bin:/bin\n") != NULL);
    const char *tail = " +> /bin/echo done\ndone\n";
    CHECK(out && len > strlen(tail) && strcmp(out + len - strlen(tail), tail) == 0);
    free(out);

    /* missing script */
    s = run_seed(d, "kaem-optional-seed", (const char *[]){ "no-such-script", NULL });
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) != 0);
    FILE_IS(d, "stdout", "");

    /* the bootstrap's real use: kaem runs hex0-seed (children are i386 too,
     * so only when the kernel runs i386 programs itself) */
    if (!qemu[0]) {
        char script[3 * PATH_MAX];
        snprintf(script, sizeof(script), "%s/hex0-seed in.hex0 out\n", tmp_root);
        put(d, "kaem.x86", script);
        put(d, "in.hex0", "4F 4b # OK\n");
        s = run(d, p, NULL, envp, 1);
        CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
        FILE_IS(d, "out", "OK");
    }
}

/* Can this kernel run i386 programs (CONFIG_IA32_EMULATION, not disabled)? */
static int check_ia32(void)
{
    char d[PATH_MAX];
    make_dir(d, "probe");
    qemu[0] = 0;
    int s = run_seed(d, "hex0-seed", NULL);    /* no args: must exit 1 */
    if (WIFEXITED(s) && WEXITSTATUS(s) == 1)
        return 1;
    fprintf(stderr,
            "*** This kernel cannot run i386 programs (execve: %s): IA32 emulation is missing\n"
            "*** or disabled (CONFIG_IA32_EMULATION, ia32_emulation= boot option). The seeds\n"
            "*** cannot be run natively here.\n",
            s < 0 ? strerror(-s) : "unexpected status");
    /* Still exercise the seeds if qemu-i386 (user mode) is on PATH. */
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(qemu, sizeof(qemu), "%.*s/qemu-i386", (int)n, path);
        if (access(qemu, X_OK) == 0) {
            fprintf(stderr, "*** Running the seed behaviour tests under %s instead.\n", qemu);
            return 0;
        }
        path += n + (path[n] == ':');
    }
    qemu[0] = 0;
    fprintf(stderr, "*** qemu-i386 (Debian's qemu-user) not found either: the seeds cannot be run; failing.\n");
    return 0;
}

static void remove_tree(const char *dir)
{
    const char *sub[] = { "hex0", "kaem", "probe" };
    const char *files[] = { "in.hex0", "out", "all.hex0", "empty", "self", "script",
                            "kaem.x86", "stdout", "stderr" };
    char p[PATH_MAX], f[PATH_MAX];
    for (size_t i = 0; i < 3; i++) {
        path_join(p, dir, sub[i]);
        for (size_t j = 0; j < sizeof(files) / sizeof(files[0]); j++) {
            path_join(f, p, files[j]);
            unlink(f);
        }
        rmdir(p);
    }
    path_join(p, dir, "hex0-seed");
    unlink(p);
    path_join(p, dir, "kaem-optional-seed");
    unlink(p);
    rmdir(dir);
}

int main(void)
{
    const char *env = getenv("LBVM_SRC");
    if (env && *env) {
        snprintf(src_dir, sizeof(src_dir), "%s", env);
    } else {
        /* __FILE__ is .../tests/unit/test_seeds.c: the repo is its ../.. */
        snprintf(src_dir, sizeof(src_dir), "%s", __FILE__);
        char *slash = strrchr(src_dir, '/');
        if (slash)
            snprintf(slash, sizeof(src_dir) - (size_t)(slash - src_dir), "/../..");
        else
            snprintf(src_dir, sizeof(src_dir), "../..");
    }
    char abs[PATH_MAX];                 /* the seeds run in other directories */
    if (realpath(src_dir, abs) && strlen(abs) < sizeof(src_dir))
        memcpy(src_dir, abs, strlen(abs) + 1);
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    test_assembler();
    test_binaries("hex0-seed", HEX0_SEED_MAX);
    test_binaries("kaem-optional-seed", KAEM_SEED_MAX);
    /* The seeds must run somewhere: natively where the kernel runs i386
     * programs, else under qemu-i386 (said loudly above); neither is a
     * failure. tests/boot/test_seeds_guest.sh runs them inside lbvm too. */
    int native = check_ia32();
    CHECK(native || qemu[0]);
    if (native || qemu[0]) {
        test_hex0_seed();
        test_kaem_seed();
    }
    remove_tree(tmp_root);
    return check_done();
}
