/* lbvm command line. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "initramfs.h"
#include "linux.h"
#include "machine.h"
#include "steps/fetch.h"

#define EXIT_HALTED 0
#define EXIT_USAGE 1
#define EXIT_CRASH 2
#define EXIT_RESET 3
#define EXIT_LIMIT 4

/* Options every boot gets: serial console, no APIC/ACPI (none emulated),
 * reboot at once on panic. Only options the kernel proper knows: anything it
 * does not (e.g. "nokaslr", read only by the decompressor on 32-bit) is
 * passed to /init as an argument, and kaem-optional-seed as /init would take
 * it for its script. */
#define DEFAULT_CMDLINE "console=ttyS0 earlyprintk=serial,ttyS0 noapic nolapic acpi=off panic=-1"

static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("lbvm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static const char usage_text[] =
    "usage: lbvm COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  boot          boot a 32-bit Linux kernel on lbvm's i386 PC\n"
    "  mkinitramfs   write a reproducible initramfs (newc cpio) from directories\n"
    "  fetch         download the distfiles named in sources files, checking SHA-256\n"
    "\n"
    "lbvm boot --kernel FILE [--initrd FILE] [--append STRING] [--mem MiB]\n"
    "          [--console FILE] [--stats] [--limit SECONDS] [--guest-decompress]\n"
    "          [--disk FILE[,ro]]... [--disk-size SIZE]\n"
    "  -k, --kernel FILE    32-bit Linux bzImage (boot protocol 2.06 or newer)\n"
    "  -i, --initrd FILE    initial RAM disk\n"
    "  -a, --append STRING  more kernel command line, after: " DEFAULT_CMDLINE "\n"
    "  -m, --mem MiB        guest RAM, 64 to 3072 (default 1024)\n"
    "  -c, --console FILE   write the serial console to FILE instead of stdout\n"
    "  -s, --stats          at the end print the virtual time (ticks) and the\n"
    "                       SHA-256 of guest RAM on stderr\n"
    "  -l, --limit SECONDS  stop after this much guest time (exit code 4)\n"
    "  -d, --disk FILE[,ro] a raw disk image on the next AHCI SATA port (up to 4);\n"
    "                       ,ro refuses the guest's writes\n"
    "      --disk-size SIZE create missing --disk images of SIZE (sparse; K, M, G, T)\n"
    "      --guest-decompress  let the kernel decompress itself (by default lbvm\n"
    "                       unpacks an XZ kernel on the host and enters it directly)\n"
    "\n"
    "lbvm mkinitramfs -o FILE DIR [DIR...]\n"
    "  entries sorted, owner 0:0, mtime SOURCE_DATE_EPOCH (default 0)\n"
    "\n"
    "lbvm fetch [-d DIR] [-j N] [--offline] [--stall-timeout S] SOURCES...\n"
    "  SOURCES: live-bootstrap 'sources' files (URL SHA256 [NAME] lines)\n"
    "  -d, --distdir DIR    cache folder (default ~/.cache/lbvm/distfiles)\n"
    "  -j, --jobs N         parallel downloads, 1 to 64 (default 4)\n"
    "      --offline        download nothing; list the missing files\n"
    "      --stall-timeout S  abort a transfer that receives nothing for S seconds (60)\n"
    "\n"
    "Exit codes of boot: 0 the guest powered off or halted, 1 bad usage or input,\n"
    "2 the guest crashed (triple fault, emulation error), 3 the guest asked for a\n"
    "reset, 4 the guest-time limit was reached.\n";

/* getopt's own messages are turned off (opterr = 0): one line of ours. */
static int bad_option(char **argv)
{
    const char *opt = argv[optind - 1];
    return fail(EXIT_USAGE, "%s option '%s' (see 'lbvm --help')",
                optopt && strchr("kiamclohdjtS", optopt) ? "missing value for" : "unknown", opt);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* A size: digits with an optional K, M, G or T suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    switch (*end) {
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    case 'T': case 't': shift = 40; end++; break;
    }
    if (errno || *end || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* Opens the --disk images in port order ("FILE" or "FILE,ro"); creates a
 * missing one with --disk-size. On failure closes what it opened. */
static int open_disks(const char **args, int n, uint64_t create_size, Disk **disks)
{
    char err[512], path[4096];
    for (int i = 0; i < n; i++) {
        const char *a = args[i];
        size_t len = strlen(a);
        int ro = len > 3 && !strcmp(a + len - 3, ",ro");
        if (ro)
            len -= 3;
        if (len == 0 || len >= sizeof path) {
            fail(0, "--disk %s: give an image file, optionally followed by ,ro", a);
            goto undo;
        }
        memcpy(path, a, len);
        path[len] = 0;
        if (create_size && access(path, F_OK) != 0 && disk_create_raw(path, create_size, err, sizeof err) < 0) {
            fail(0, "%s", err);
            goto undo;
        }
        if (!(disks[i] = disk_open_raw(path, ro, err, sizeof err))) {
            fail(0, "%s", err);
            goto undo;
        }
        continue;
    undo:
        for (int j = 0; j < i; j++)
            disk_close(disks[j]);
        return -1;
    }
    return 0;
}

static int64_t source_date_epoch(int *bad)
{
    const char *e = getenv("SOURCE_DATE_EPOCH");
    uint64_t v = 0;
    *bad = 0;
    if (e && *e && (parse_u64(e, &v) < 0 || v > (uint64_t)INT64_MAX / 2)) {
        *bad = 1;
        return 0;
    }
    return (int64_t)v;
}

/* Reads a whole file; NULL with a message on failure. */
static uint8_t *read_file(const char *path, size_t *len, const char *what)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) {
        fail(0, "cannot open %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fail(0, "%s %s is not a regular file", what, path);
        fclose(f);
        return NULL;
    }
    uint8_t *b = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!b || fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fail(0, "cannot read %s %s", what, path);
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)st.st_size;
    return b;
}

static int cmd_boot(int argc, char **argv)
{
    static const struct option opts[] = {
        { "kernel", required_argument, 0, 'k' }, { "initrd", required_argument, 0, 'i' },
        { "append", required_argument, 0, 'a' }, { "mem", required_argument, 0, 'm' },
        { "console", required_argument, 0, 'c' }, { "stats", no_argument, 0, 's' },
        { "limit", required_argument, 0, 'l' }, { "help", no_argument, 0, 'h' },
        { "guest-decompress", no_argument, 0, 'G' }, { "disk", required_argument, 0, 'd' },
        { "disk-size", required_argument, 0, 'S' },
        { 0, 0, 0, 0 },
    };
    const char *kernel = NULL, *initrd = NULL, *append = NULL, *console = NULL;
    uint64_t mem_mib = 1024, limit_s = 0;
    int stats = 0, guest_decompress = 0, c, n_disks = 0;
    const char *disk_arg[MACHINE_MAX_DISKS];
    uint64_t disk_size = 0;
    while ((c = getopt_long(argc, argv, "k:i:a:m:c:sl:hd:", opts, NULL)) != -1) {
        switch (c) {
        case 'k': kernel = optarg; break;
        case 'i': initrd = optarg; break;
        case 'a': append = optarg; break;
        case 'c': console = optarg; break;
        case 's': stats = 1; break;
        case 'G': guest_decompress = 1; break;
        case 'd':
            if (n_disks == MACHINE_MAX_DISKS)
                return fail(EXIT_USAGE, "at most %d --disk options (one per AHCI port)", MACHINE_MAX_DISKS);
            disk_arg[n_disks++] = optarg;
            break;
        case 'S':
            if (parse_size(optarg, &disk_size) < 0 || disk_size < 512 || disk_size % 512)
                return fail(EXIT_USAGE, "--disk-size %s: give a size in bytes, or with K, M, G or T, "
                            "a multiple of 512", optarg);
            break;
        case 'm':
            if (parse_u64(optarg, &mem_mib) < 0 || mem_mib < MACHINE_MIN_RAM_MIB || mem_mib > MACHINE_MAX_RAM_MIB)
                return fail(EXIT_USAGE, "--mem %s: give the guest RAM in MiB, from %d to %d", optarg,
                            MACHINE_MIN_RAM_MIB, MACHINE_MAX_RAM_MIB);
            break;
        case 'l':
            if (parse_u64(optarg, &limit_s) < 0 || limit_s == 0 || limit_s > 1000000000)
                return fail(EXIT_USAGE, "--limit %s: give whole seconds of guest time, at least 1", optarg);
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return bad_option(argv);
        }
    }
    if (optind < argc)
        return fail(EXIT_USAGE, "unexpected argument '%s' (see 'lbvm --help')", argv[optind]);
    if (!kernel)
        return fail(EXIT_USAGE, "boot needs --kernel FILE (see 'lbvm --help')");
    int bad_epoch;
    int64_t epoch = source_date_epoch(&bad_epoch);
    if (bad_epoch)
        return fail(EXIT_USAGE, "SOURCE_DATE_EPOCH must be a whole number of seconds");

    size_t klen = 0;
    uint8_t *k = read_file(kernel, &klen, "kernel");
    if (!k)
        return EXIT_USAGE;
    char err[512];
    LinuxKernelInfo info;
    if (linux_parse(k, klen, &info, err, sizeof err) < 0) {
        free(k);
        return fail(EXIT_USAGE, "%s: %s", kernel, err);
    }
    uint64_t initrd_size = 0;
    FILE *initrd_f = NULL;
    if (initrd) {
        struct stat st;
        initrd_f = fopen(initrd, "rb");
        if (!initrd_f || fstat(fileno(initrd_f), &st) < 0 || !S_ISREG(st.st_mode)) {
            free(k);
            return fail(EXIT_USAGE, "cannot open initrd %s: %s", initrd, initrd_f ? "not a regular file" : strerror(errno));
        }
        initrd_size = (uint64_t)st.st_size;
        if (initrd_size == 0) {
            free(k);
            fclose(initrd_f);
            return fail(EXIT_USAGE, "initrd %s is empty", initrd);
        }
        if (initrd_size >= mem_mib << 20) {
            free(k);
            fclose(initrd_f);
            return fail(EXIT_USAGE, "initrd %s (%llu MiB) is larger than guest RAM (%llu MiB): raise --mem", initrd,
                        (unsigned long long)(initrd_size >> 20), (unsigned long long)mem_mib);
        }
    }
    char cmdline[4096];
    if ((size_t)snprintf(cmdline, sizeof cmdline, "%s%s%s", DEFAULT_CMDLINE, append ? " " : "", append ? append : "") >=
        sizeof cmdline) {
        free(k);
        return fail(EXIT_USAGE, "--append is too long");
    }

    Disk *disks[MACHINE_MAX_DISKS] = { 0 };
    if (disk_size && !n_disks) {
        free(k);
        return fail(EXIT_USAGE, "--disk-size needs a --disk FILE to create");
    }
    if (open_disks(disk_arg, n_disks, disk_size, disks) < 0) {
        free(k);
        return EXIT_USAGE;
    }
    FILE *con = stdout;
    if (console && !(con = fopen(console, "wb"))) {
        free(k);
        for (int i = 0; i < n_disks; i++)
            disk_close(disks[i]);
        return fail(EXIT_USAGE, "cannot write console file %s: %s", console, strerror(errno));
    }
    /* Line-buffered, so a person or a program watching sees each line as the
     * guest prints it. */
    setvbuf(con, NULL, _IOLBF, 1 << 16);
    MachineConfig cfg = {
        .ram_size = mem_mib << 20,
        .rtc_epoch = epoch,
        .console = con,
        .console_input = !console && isatty(0),
        .limit_ticks = limit_s * VCLOCK_HZ,
        .n_disks = n_disks,
    };
    memcpy(cfg.disks, disks, sizeof disks);
    Machine *m = machine_new(&cfg, err, sizeof err);
    if (!m) {
        free(k);
        return fail(EXIT_USAGE, "%s", err);
    }
    LinuxBootLayout lay;
    if (linux_load(m->ram, m->ram_size, k, klen, initrd_size, cmdline, &lay, err, sizeof err) < 0) {
        free(k);
        machine_free(m);
        return fail(EXIT_USAGE, "%s: %s", kernel, err);
    }
    if (!guest_decompress && linux_predecompress(m->ram, m->ram_size, k, klen, &lay, err, sizeof err) < 0) {
        free(k);
        machine_free(m);
        return fail(EXIT_USAGE, "%s: %s", kernel, err);
    }
    free(k);
    if (initrd_f) {
        if (fread(m->ram + lay.initrd_addr, 1, initrd_size, initrd_f) != initrd_size) {
            machine_free(m);
            return fail(EXIT_USAGE, "cannot read initrd %s", initrd);
        }
        fclose(initrd_f);
    }
    if (cpu_setup_linux_entry(m->cpu, lay.gdt_base, lay.gdt_limit, lay.entry, lay.boot_params, err, sizeof err) < 0) {
        machine_free(m);
        return fail(EXIT_CRASH, "%s", err);
    }

    MachineEnd end = machine_run(m);
    fflush(con);
    int code = EXIT_HALTED;
    switch (end) {
    case MACHINE_HALTED: code = EXIT_HALTED; break;
    case MACHINE_RESET: code = EXIT_RESET; fprintf(stderr, "lbvm: the guest asked for a reset\n"); break;
    case MACHINE_LIMIT:
        code = EXIT_LIMIT;
        fprintf(stderr, "lbvm: guest-time limit of %llu s reached\n", (unsigned long long)limit_s);
        break;
    case MACHINE_FATAL:
        code = EXIT_CRASH;
        fprintf(stderr, "lbvm: guest crashed: %s\n", cpu_error(m->cpu));
        cpu_dump(m->cpu, stderr);
        break;
    }
    if (stats) {
        char hex[65];
        machine_ram_sha256(m, hex);
        fprintf(stderr, "lbvm: ticks %llu\n", (unsigned long long)m->clock.now);
        fprintf(stderr, "lbvm: ram-sha256 %s\n", hex);
        const CPUStats *cs = cpu_stats(m->cpu);
        uint64_t exc = 0;
        for (int i = 0; i < 32; i++)
            exc += cs->exceptions[i];
        fprintf(stderr, "lbvm: events: %llu page faults, %llu other exceptions, %llu int/int3, %llu irqs, %llu halts, "
                "%llu tlb fills (r/w/x %llu/%llu/%llu), %llu code flushes, %llu rdtsc, %llu emulation starts\n",
                (unsigned long long)cs->exceptions[14], (unsigned long long)(exc - cs->exceptions[14]),
                (unsigned long long)cs->soft_ints, (unsigned long long)cs->hw_irqs, (unsigned long long)cs->halts,
                (unsigned long long)(cs->tlb_fills[0] + cs->tlb_fills[1] + cs->tlb_fills[2]),
                (unsigned long long)cs->tlb_fills[0], (unsigned long long)cs->tlb_fills[1],
                (unsigned long long)cs->tlb_fills[2], (unsigned long long)cs->code_flushes,
                (unsigned long long)cs->rdtsc, (unsigned long long)cs->emu_starts);
    }
    if (con != stdout && fclose(con) != 0) {
        code = fail(code ? code : EXIT_USAGE, "cannot write console file %s: %s", console, strerror(errno));
    }
    machine_free(m);
    return code;
}

static int cmd_mkinitramfs(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, 0, 'o' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return bad_option(argv);
        }
    }
    if (!out || optind >= argc)
        return fail(EXIT_USAGE, "mkinitramfs needs -o FILE and at least one DIR");
    int bad;
    int64_t epoch = source_date_epoch(&bad);
    if (bad)
        return fail(EXIT_USAGE, "SOURCE_DATE_EPOCH must be a whole number of seconds");
    char err[512];
    if (initramfs_write(out, (const char *const *)argv + optind, argc - optind, epoch, err, sizeof err) < 0)
        return fail(EXIT_USAGE, "%s", err);
    return 0;
}

static int cmd_fetch(int argc, char **argv)
{
    static const struct option opts[] = {
        { "distdir", required_argument, 0, 'd' }, { "jobs", required_argument, 0, 'j' },
        { "offline", no_argument, 0, 'o' }, { "stall-timeout", required_argument, 0, 't' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    FetchOptions o = { .parallel = 4, .connect_timeout_s = 30, .stall_timeout_s = 60, .progress = 1 };
    uint64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "d:j:ot:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o.distdir = optarg; break;
        case 'j':
            if (parse_u64(optarg, &v) < 0 || v < 1 || v > 64)
                return fail(EXIT_USAGE, "--jobs %s: give 1 to 64 parallel downloads", optarg);
            o.parallel = (int)v;
            break;
        case 'o': o.offline = 1; break;
        case 't':
            if (parse_u64(optarg, &v) < 0 || v < 1 || v > 86400)
                return fail(EXIT_USAGE, "--stall-timeout %s: give whole seconds, 1 to 86400", optarg);
            o.stall_timeout_s = (long)v;
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return bad_option(argv);
        }
    }
    if (optind >= argc)
        return fail(EXIT_USAGE, "fetch needs at least one sources file");
    FetchList l = { 0 };
    char err[1024];
    int rc = 0;
    for (int i = optind; i < argc && !rc; i++)
        if (fetch_list_add_file(&l, argv[i], err, sizeof err) < 0)
            rc = fail(EXIT_USAGE, "%s", err);
    if (!rc && fetch_all(l.items, l.n, &o, err, sizeof err) < 0)
        rc = fail(EXIT_USAGE, "%s", err);
    fetch_list_free(&l);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail(EXIT_USAGE, "no command given (see 'lbvm --help')");
    const char *cmd = argv[1];
    opterr = 0;
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        puts("lbvm 0.1");
        return 0;
    }
    /* Sub-command options are parsed from argv[1] on (argv[0] is skipped). */
    if (!strcmp(cmd, "boot"))
        return cmd_boot(argc - 1, argv + 1);
    if (!strcmp(cmd, "mkinitramfs"))
        return cmd_mkinitramfs(argc - 1, argv + 1);
    if (!strcmp(cmd, "fetch"))
        return cmd_fetch(argc - 1, argv + 1);
    return fail(EXIT_USAGE, "unknown command '%s' (see 'lbvm --help')", cmd);
}
