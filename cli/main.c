/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lbvm command line. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk.h"
#include "boot/initramfs.h"
#include "boot/linux.h"
#include "boot/multiboot.h"
#include "emu/machine.h"
#include "audit/bundle.h"
#include "emu/session.h"
#include "base/platform.h"
#include "base/util.h"
#include "cli/ui.h"
#include "steps/bootstrap.h"
#include "steps/build.h"
#include "steps/fetch.h"
#include "audit/verify_jobs.h"
#include "emu/vmstate.h"

#include <openssl/evp.h>

#define EXIT_HALTED 0
#define EXIT_USAGE 1
#define EXIT_CRASH 2
#define EXIT_RESET 3
#define EXIT_LIMIT 4
#define EXIT_STOPPED 5      /* SIGINT/SIGTERM: a final checkpoint was taken */
#define EXIT_DIVERGED 6     /* verify: the run differs from the journal */
#define EXIT_STALLED 7      /* --stall: no console output and no disk I/O for that long */

/* Options every boot gets: serial console, no APIC/ACPI (none emulated),
 * reboot at once on panic. Only options the kernel proper knows: anything it
 * does not (e.g. "nokaslr", read only by the decompressor on 32-bit) is
 * passed to /init as an argument, and kaem-optional-seed as /init would take
 * it for its script. */
#define DEFAULT_CMDLINE "console=ttyS0 earlyprintk=serial,ttyS0 noapic nolapic acpi=off panic=-1"

static const char usage_text[] =
    "usage: lbvm COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  boot          boot a 32-bit Linux kernel on lbvm's i386 PC\n"
    "  mkinitramfs   write a reproducible initramfs (newc cpio) from directories\n"
    "  fetch         download the distfiles named in sources files, checking SHA-256\n"
    "  resume        continue a run from a checkpoint, in a new process\n"
    "  inspect       describe a checkpoint\n"
    "  verify        re-run a journal's boot and compare it point by point, or an\n"
    "                audit bundle's segments side by side\n"
    "  bundle        gather a run's journal, checkpoints, disks and inputs for an audit\n"
    "  build         make a live-bootstrap tree's boot media: sysa's initramfs and sysc's\n"
    "                disk (2023 layout), or builder-hex0's disk (current layout)\n"
    "  bootstrap     fetch, build, boot and watch a whole live-bootstrap run; resume it\n"
    "\n"
    "lbvm boot --kernel FILE [--initrd FILE] [--append STRING] [--mem MiB]\n"
    "          [--console FILE] [--stats] [--limit SECONDS] [--guest-decompress]\n"
    "          [--disk FILE[,ro]]... [--ide FILE[,ro]]... [--disk-size SIZE]\n"
    "lbvm boot --ide FILE[,ro]... | --disk FILE[,ro]... [--mem MiB] [...]  (no --kernel:\n"
    "          power on through lbvm's BIOS from the first IDE disk, else the first\n"
    "          --disk, as a PC with only a -drive does)\n"
    "  -k, --kernel FILE    32-bit Linux bzImage (boot protocol 2.06 or newer), or a\n"
    "                       Multiboot 1 kernel (ELF32 or a.out kludge), as QEMU's -kernel\n"
    "  -i, --initrd FILE    initial RAM disk (for Multiboot: the first module)\n"
    "      --module FILE[,CMDLINE]  a Multiboot module after the --initrd one (up to 4)\n"
    "  -a, --append STRING  more kernel command line, after: " DEFAULT_CMDLINE "\n"
    "  -m, --mem MiB        guest RAM, " MACHINE_MIN_RAM_STR " to " MACHINE_MAX_RAM_STR " (default 1024); above 3072\n"
    "                       the rest is placed above 4 GiB, for PAE kernels only\n"
    "  -c, --console FILE   write the serial console to FILE instead of stdout\n"
    "      --console sdl    show the serial console in a window instead: a terminal\n"
    "                       (typing goes to the guest), a status panel; closing the\n"
    "                       window asks whether to stop (with a final checkpoint)\n"
    "      --console-log FILE  with --console sdl: also write the console to FILE\n"
    "      --steps-total N  with --console sdl: the m of the panel's \"step n of m\"\n"
    "  -s, --stats          at the end print the virtual time (ticks), the SHA-256\n"
    "                       of guest RAM and the event counts since power-on\n"
    "  -l, --limit SECONDS  stop after this much guest time (exit code 4)\n"
    "  -d, --disk FILE[,ro] a raw disk image on the next AHCI SATA port (up to 4);\n"
    "                       ,ro refuses the guest's writes\n"
    "      --ide FILE[,ro]  a raw disk image on the next IDE device of the PIIX3\n"
    "                       (primary master, primary slave, secondary master, slave)\n"
    "      --disk-size SIZE create missing --disk and --ide images of SIZE (sparse; K, M, G, T)\n"
    "      --guest-decompress  let the kernel decompress itself (by default lbvm\n"
    "                       unpacks an XZ kernel on the host and enters it directly)\n"
    "  checkpoints and journal (boot and resume):\n"
    "      --checkpoint-dir DIR  save the whole machine here; --disk images become\n"
    "                       read-only bases, the guest's writes go to layers in DIR;\n"
    "                       a final checkpoint is taken when the run ends\n"
    "      --checkpoint-every TICKS  a checkpoint each TICKS of guest time (K, M, G)\n"
    "      --checkpoint-on REGEX  a checkpoint after each console line matching REGEX\n"
    "      --keep-checkpoints N  keep only the newest N checkpoint files in DIR (default:\n"
    "                       all); disk layers stay, later checkpoints need them\n"
    "      --journal FILE   write the state hashes at every checkpoint to FILE\n"
    "      --stall SECONDS  end the run (exit 7, with a checkpoint) after this much guest\n"
    "                       time without console output or disk I/O\n"
    "  SIGINT or SIGTERM take a final checkpoint and exit with code 5.\n"
    "\n"
    "lbvm resume CHECKPOINT [--console FILE|sdl] [--stats] [--limit SECONDS]\n"
    "          [--checkpoint-dir DIR] [--checkpoint-every TICKS] [--checkpoint-on REGEX]\n"
    "          [--keep-checkpoints N] [--journal FILE]\n"
    "  the kernel and initrd are not needed; the base disk images must be unchanged.\n"
    "  --limit counts guest time from power-on, as in the original boot.\n"
    "\n"
    "lbvm inspect CHECKPOINT\n"
    "\n"
    "lbvm verify JOURNAL [--from CHECKPOINT] [--kernel F] [--initrd F] [--append S]\n"
    "  re-runs the recorded boot (or from CHECKPOINT) and compares every point\n"
    "  (hashes and event counts);\n"
    "  exit 0 identical, 6 diverged (the first differing point is printed)\n"
    "\n"
    "lbvm bundle JOURNAL [--checkpoint-dir DIR]... -o FOLDER\n"
    "  copies (or hard-links) the journal, the checkpoints at its points, their\n"
    "  disk layers and base images, the kernel, initrd and modules (none for a\n"
    "  BIOS boot) into FOLDER, with a MANIFEST of their SHA-256 (default DIR:\n"
    "  'checkpoints' beside JOURNAL)\n"
    "\n"
    "lbvm verify BUNDLE [--jobs N | --list-segments | --segment K [--check-start]]\n"
    "  checks every file, then every checkpoint against its journal point, then\n"
    "  runs every segment (checkpoint to next checkpoint) in its own process, N at\n"
    "  once (default: the host's cores); --list-segments prints 'ID CHECKPOINT\n"
    "  TICKS' lines and --segment K runs one (for a batch scheduler, docs/audit.md);\n"
    "  exit 0 identical, 6 diverged (each diverging segment and point), 1 refused\n"
    "\n"
    "lbvm mkinitramfs -o FILE DIR [DIR...]\n"
    "  entries sorted, owner 0:0, mtime SOURCE_DATE_EPOCH (default 0)\n"
    "\n"
    "lbvm build --tree DIR [-d DIR] [-o OUTDIR] [--disk-size SIZE] [--allow-missing]\n"
    "          [--seeds tree|lbvm]\n"
    "  writes OUTDIR/initramfs.cpio and OUTDIR/sysc.img, reproducibly, without root\n"
    "  (see 'lbvm build --help' and docs/build.md)\n"
    "\n"
    "lbvm bootstrap --tree DIR [--kernel FILE] [--workdir DIR] [--distdir DIR] [--mem MiB]\n"
    "          [--disk-size SIZE] [--stall SECONDS] [--resume | --fresh] [--offline]\n"
    "          [--allow-missing] [--seeds tree|lbvm] [--step-regex RE]\n"
    "  fetches the distfiles (and, without --kernel, Debian's pinned i386 kernel),\n"
    "  builds, boots the guest in a child lbvm with a checkpoint at every step and\n"
    "  stage0-posix phase, prints a line per step; exit 0 completed, 1 setup problem,\n"
    "  2 the bootstrap failed, 3 stopped at a step whose distfile is missing\n"
    "  (--allow-missing), 5 stopped by a signal (continue with --resume)\n"
    "  (see 'lbvm bootstrap --help' and docs/definitions.md)\n"
    "\n"
    "lbvm fetch [-d DIR] [-j N] [--offline] [--stall-timeout S] SOURCES...\n"
    "  SOURCES: live-bootstrap 'sources' files (URL SHA256 [NAME] lines)\n"
    "  -d, --distdir DIR    cache folder (default ~/.cache/lbvm/distfiles)\n"
    "  -j, --jobs N         parallel downloads, 1 to 64 (default 4)\n"
    "      --offline        download nothing; list the missing files\n"
    "      --stall-timeout S  abort a transfer that receives nothing for S seconds (60)\n"
    "\n"
    "Exit codes of boot and resume: 0 the guest powered off or halted, 1 bad usage\n"
    "or input, 2 the guest crashed (triple fault, emulation error), 3 the guest\n"
    "asked for a reset, 4 the guest-time limit was reached, 5 stopped by a signal\n"
    "(with --checkpoint-dir, a checkpoint was taken), 7 stalled (see --stall).\n";

/* getopt's own messages are turned off (opterr = 0): one line of ours. */
/* Splits a --disk argument ("FILE" or "FILE,ro"). */
static int disk_arg_split(const char *a, char *path, size_t plen, int *ro)
{
    size_t len = strlen(a);
    *ro = len > 3 && !strcmp(a + len - 3, ",ro");
    if (*ro)
        len -= 3;
    if (len == 0 || len >= plen)
        return lbvm_error(-1, "--disk %s: give an image file, optionally followed by ,ro", a);
    memcpy(path, a, len);
    path[len] = 0;
    return 0;
}

/* Opens the --disk images in port order: raw, or with a checkpoint session
 * over a copy-on-write overlay (the image itself is then never written).
 * Creates a missing one with --disk-size. On failure closes what it opened. */
static int open_disks(const char *const *args, int n, uint64_t create_size, CkptSession *cs, Disk **disks)
{
    char err[512], path[4096];
    for (int i = 0; i < n; i++) {
        int ro;
        if (disk_arg_split(args[i], path, sizeof path, &ro) < 0)
            goto undo;
        if (cs) {
            disks[i] = ckpt_session_add_disk(cs, path, ro, create_size, err, sizeof err);
        } else {
            if (create_size && access(path, F_OK) != 0 && disk_create_raw(path, create_size, err, sizeof err) < 0) {
                lbvm_error(0, "%s", err);
                goto undo;
            }
            disks[i] = disk_open_raw(path, ro, err, sizeof err);
        }
        if (!disks[i]) {
            lbvm_error(0, "%s", err);
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
    if (e && *e && (lbvm_parse_u64(e, &v) < 0 || v > (uint64_t)INT64_MAX / 2)) {
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
        lbvm_error(0, "cannot open %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        lbvm_error(0, "%s %s is not a regular file", what, path);
        fclose(f);
        return NULL;
    }
    uint8_t *b = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!b || fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        lbvm_error(0, "cannot read %s %s", what, path);
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)st.st_size;
    return b;
}

#define BOOT_MAX_MODULES 4

/* What a boot is made of: also what a journal records, so that
 * `lbvm verify` can boot the same machine again. */
typedef struct BootArgs {
    const char *kernel, *initrd, *append;
    uint64_t mem_mib;
    int guest_decompress;
    const char *disk_arg[MACHINE_MAX_AHCI];
    int n_disks;
    const char *ide_arg[MACHINE_MAX_IDE];   /* primary master first */
    int n_ide;
    const char *module_arg[BOOT_MAX_MODULES];   /* --module FILE[,cmdline] (Multiboot kernels) */
    int n_modules;
    /* verify BUNDLE: where the bytes are, when not at the recorded paths
     * above; the paths stay what the guest sees (a Multiboot kernel gets its
     * own and its modules' on their command lines) */
    const char *kernel_file, *initrd_file, *module_file[BOOT_MAX_MODULES];
    uint64_t disk_size;
    int64_t epoch;
} BootArgs;

/* Opens the --disk then --ide images into one list (AHCI ports first, then
 * the IDE devices, as checkpoints keep them) and fills cfg's disks. */
static int open_all_disks(const BootArgs *b, CkptSession *cs, MachineConfig *cfg)
{
    const char *args[MACHINE_MAX_DISKS];
    memcpy(args, b->disk_arg, (size_t)b->n_disks * sizeof *args);
    memcpy(args + b->n_disks, b->ide_arg, (size_t)b->n_ide * sizeof *args);
    if (open_disks(args, b->n_disks + b->n_ide, b->disk_size, cs, cfg->disks) < 0)
        return -1;
    cfg->n_disks = b->n_disks + b->n_ide;
    cfg->n_ide = b->n_ide;
    return 0;
}

/* No kernel: power on through lbvm's BIOS from the first --disk (its drive
 * 0x80 is the first --ide disk, else the first --disk). NULL after one line. */
static Machine *bios_machine(const BootArgs *b, CkptSession *cs, FILE *con, bool console_input,
                             uint64_t limit_ticks)
{
    char err[512];
    if (!b->n_disks && !b->n_ide) {
        lbvm_error(0, "boot needs --kernel FILE, or an --ide or --disk FILE to power on from through lbvm's BIOS");
        return NULL;
    }
    if (b->initrd || b->append || b->n_modules) {
        lbvm_error(0, "--initrd, --module and --append need --kernel (a BIOS boot runs the disk's boot sector)");
        return NULL;
    }
    MachineConfig cfg = {
        .ram_size = b->mem_mib << 20,
        .rtc_epoch = b->epoch,
        .console = con,
        .console_input = console_input,
        .limit_ticks = limit_ticks,
    };
    if (open_all_disks(b, cs, &cfg) < 0)
        return NULL;
    Machine *m = machine_new(&cfg, err, sizeof err);
    if (!m) {
        lbvm_error(0, "%s", err);
        return NULL;
    }
    if (machine_bios_boot(m, err, sizeof err) < 0) {
        lbvm_error(0, "%s: %s", b->n_ide ? b->ide_arg[0] : b->disk_arg[0], err);
        machine_free(m);
        return NULL;
    }
    return m;
}

/* A Multiboot kernel (k, klen; taken and freed here): --initrd is the first
 * module, then each --module FILE[,cmdline]; the command line is the kernel's
 * path and --append, as QEMU's -kernel passes it. NULL after one line. */
static Machine *multiboot_machine(const BootArgs *b, uint8_t *k, size_t klen, CkptSession *cs, FILE *con,
                                  bool console_input, uint64_t limit_ticks)
{
    char err[512], cmdline[4096], names[BOOT_MAX_MODULES + 1][4200];
    MultibootModule mods[BOOT_MAX_MODULES + 1];
    uint8_t *data[BOOT_MAX_MODULES + 1] = { 0 };
    int n = 0;
    Machine *m = NULL;
    if ((size_t)snprintf(cmdline, sizeof cmdline, "%s%s%s", b->kernel, b->append ? " " : "",
                         b->append ? b->append : "") >= sizeof cmdline) {
        lbvm_error(0, "--append is too long");
        goto out;
    }
    for (int i = -1; i < b->n_modules; i++) {
        const char *a = i < 0 ? b->initrd : b->module_arg[i];
        if (!a)
            continue;
        const char *comma = i < 0 ? NULL : strchr(a, ',');
        size_t plen = comma ? (size_t)(comma - a) : strlen(a);
        if (plen == 0 || plen >= sizeof names[n]) {
            lbvm_error(0, "--module %s: give a file, optionally followed by ,cmdline", a);
            goto out;
        }
        char path[4200];
        memcpy(path, a, plen);
        path[plen] = 0;
        const char *file = i < 0 ? b->initrd_file : b->module_file[i];
        if (!(data[n] = read_file(file ? file : path, &mods[n].len, "module")))
            goto out;
        if ((size_t)snprintf(names[n], sizeof names[n], "%s%s%s", path, comma ? " " : "", comma ? comma + 1 : "") >=
            sizeof names[n]) {
            lbvm_error(0, "--module %s: the command line is too long", a);
            goto out;
        }
        mods[n].data = data[n];
        mods[n].string = names[n];
        n++;
    }
    MachineConfig cfg = {
        .ram_size = b->mem_mib << 20,
        .rtc_epoch = b->epoch,
        .console = con,
        .console_input = console_input,
        .limit_ticks = limit_ticks,
    };
    if (open_all_disks(b, cs, &cfg) < 0)
        goto out;
    m = machine_new(&cfg, err, sizeof err);
    if (!m) {
        lbvm_error(0, "%s", err);
        goto out;
    }
    MultibootLayout lay;
    if (multiboot_load(m->ram, m->ram_size, k, klen, cmdline, mods, n, &lay, err, sizeof err) < 0 ||
        cpu_setup_multiboot_entry(m->cpu, lay.gdt_base, lay.gdt_limit, MULTIBOOT_GDT_CS, MULTIBOOT_GDT_DS, lay.entry,
                                  MULTIBOOT_BOOTLOADER_MAGIC, lay.info_addr, err, sizeof err) < 0) {
        lbvm_error(0, "%s: %s", b->kernel, err);
        machine_free(m);
        m = NULL;
    }
out:
    free(k);
    for (int i = 0; i < n; i++)
        free(data[i]);
    return m;
}

/* Builds and loads the machine. NULL after printing a one-line error; *code
 * is the exit code then. */
static Machine *boot_machine(const BootArgs *b, CkptSession *cs, FILE *con, bool console_input, uint64_t limit_ticks,
                             int *code)
{
    *code = EXIT_USAGE;
    if (!b->kernel)
        return bios_machine(b, cs, con, console_input, limit_ticks);
    size_t klen = 0;
    uint8_t *k = read_file(b->kernel_file ? b->kernel_file : b->kernel, &klen, "kernel");
    if (!k)
        return NULL;
    char err[512];
    LinuxKernelInfo info;
    if (linux_parse(k, klen, &info, err, sizeof err) < 0) {
        /* Not a bzImage: a Multiboot kernel? */
        MultibootHeader mh;
        char merr[512];
        int mb = multiboot_find(k, klen, &mh, merr, sizeof merr);
        if (mb > 0)
            return multiboot_machine(b, k, klen, cs, con, console_input, limit_ticks);
        free(k);
        if (mb < 0)
            lbvm_error(0, "%s: %s", b->kernel, merr);
        else
            lbvm_error(0, "%s: %s, and no Multiboot header in its first %d bytes", b->kernel, err, MULTIBOOT_SEARCH);
        return NULL;
    }
    if (b->n_modules) {
        free(k);
        lbvm_error(0, "%s: --module is for Multiboot kernels; this is a Linux bzImage (use --initrd)", b->kernel);
        return NULL;
    }
    uint64_t initrd_size = 0;
    FILE *initrd_f = NULL;
    if (b->initrd) {
        struct stat st;
        initrd_f = fopen(b->initrd_file ? b->initrd_file : b->initrd, "rb");
        if (!initrd_f || fstat(fileno(initrd_f), &st) < 0 || !S_ISREG(st.st_mode)) {
            lbvm_error(0, "cannot open initrd %s: %s", b->initrd, initrd_f ? "not a regular file" : strerror(errno));
            goto bad;
        }
        initrd_size = (uint64_t)st.st_size;
        if (initrd_size == 0) {
            lbvm_error(0, "initrd %s is empty", b->initrd);
            goto bad;
        }
        if (initrd_size >= b->mem_mib << 20) {
            lbvm_error(0, "initrd %s (%llu MiB) is larger than guest RAM (%llu MiB): raise --mem", b->initrd,
                 (unsigned long long)(initrd_size >> 20), (unsigned long long)b->mem_mib);
            goto bad;
        }
    }
    char cmdline[4096];
    if ((size_t)snprintf(cmdline, sizeof cmdline, "%s%s%s", DEFAULT_CMDLINE, b->append ? " " : "",
                         b->append ? b->append : "") >= sizeof cmdline) {
        lbvm_error(0, "--append is too long");
        goto bad;
    }
    Disk *disks[MACHINE_MAX_DISKS] = { 0 };
    if (b->disk_size && !b->n_disks && !b->n_ide) {
        lbvm_error(0, "--disk-size needs a --disk or --ide FILE to create");
        goto bad;
    }
    /* One disk list, AHCI ports first, then the IDE devices (as checkpoints keep them). */
    const char *args[MACHINE_MAX_DISKS];
    memcpy(args, b->disk_arg, (size_t)b->n_disks * sizeof *args);
    memcpy(args + b->n_disks, b->ide_arg, (size_t)b->n_ide * sizeof *args);
    if (open_disks(args, b->n_disks + b->n_ide, b->disk_size, cs, disks) < 0)
        goto bad;
    MachineConfig cfg = {
        .ram_size = b->mem_mib << 20,
        .rtc_epoch = b->epoch,
        .console = con,
        .console_input = console_input,
        .limit_ticks = limit_ticks,
        .n_disks = b->n_disks + b->n_ide,
        .n_ide = b->n_ide,
    };
    memcpy(cfg.disks, disks, sizeof disks);
    Machine *m = machine_new(&cfg, err, sizeof err);
    if (!m) {
        lbvm_error(0, "%s", err);
        goto bad;
    }
    LinuxBootLayout lay;
    if (linux_load(m->ram, m->ram_size, k, klen, initrd_size, cmdline, &lay, err, sizeof err) < 0 ||
        (!b->guest_decompress && linux_predecompress(m->ram, m->ram_size, k, klen, &lay, err, sizeof err) < 0)) {
        lbvm_error(0, "%s: %s", b->kernel, err);
        machine_free(m);
        goto bad;
    }
    free(k);
    k = NULL;
    if (initrd_f) {
        if (fread(m->ram + lay.initrd_addr, 1, initrd_size, initrd_f) != initrd_size) {
            lbvm_error(0, "cannot read initrd %s", b->initrd);
            machine_free(m);
            goto bad;
        }
        fclose(initrd_f);
    }
    if (cpu_setup_linux_entry(m->cpu, lay.gdt_base, lay.gdt_limit, lay.entry, lay.boot_params, err, sizeof err) < 0) {
        *code = EXIT_CRASH;
        lbvm_error(0, "%s", err);
        machine_free(m);
        return NULL;
    }
    return m;
bad:
    free(k);
    if (initrd_f)
        fclose(initrd_f);
    return NULL;
}

/* Percent-encodes s for a journal's boot line (no spaces, no newlines). */
static void put_enc(FILE *f, const char *key, const char *s)
{
    fprintf(f, " %s=", key);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c > 0x20 && c < 0x7f && c != '%' && c != '=')
            fputc(c, f);
        else
            fprintf(f, "%%%02x", c);
    }
}

static void file_sha256_hex(const char *path, char out[65])
{
    size_t len = 0;
    uint8_t *b = path ? read_file(path, &len, "file") : NULL;
    unsigned char md[32];
    unsigned int ml = 0;
    strcpy(out, "-");
    if (!b)
        return;
    EVP_Digest(b, len, md, &ml, EVP_sha256(), NULL);
    free(b);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static void journal_boot_line(FILE *j, const BootArgs *b)
{
    char kh[65], ih[65], cwd[4096];
    file_sha256_hex(b->kernel, kh);
    file_sha256_hex(b->initrd, ih);
    fprintf(j, "# lbvm journal 1\nboot");
    if (getcwd(cwd, sizeof cwd))
        put_enc(j, "cwd", cwd);
    if (b->kernel) {
        put_enc(j, "kernel", b->kernel);
        fprintf(j, " kernel-sha256=%s", kh);
    }
    if (b->initrd) {
        put_enc(j, "initrd", b->initrd);
        fprintf(j, " initrd-sha256=%s", ih);
    }
    if (b->append)
        put_enc(j, "append", b->append);
    fprintf(j, " mem=%llu epoch=%lld guest-decompress=%d", (unsigned long long)b->mem_mib, (long long)b->epoch,
            b->guest_decompress);
    for (int i = 0; i < b->n_disks; i++)
        put_enc(j, "disk", b->disk_arg[i]);
    for (int i = 0; i < b->n_ide; i++)
        put_enc(j, "ide", b->ide_arg[i]);
    for (int i = 0; i < b->n_modules; i++) {
        /* FILE[,CMDLINE]: the file's digest, for lbvm bundle */
        char path[4200], mh[65];
        snprintf(path, sizeof path, "%.*s", (int)strcspn(b->module_arg[i], ","), b->module_arg[i]);
        file_sha256_hex(path, mh);
        put_enc(j, "module", b->module_arg[i]);
        fprintf(j, " module-sha256=%s", mh);
    }
    fputc('\n', j);
    fflush(j);
}

static void print_stats(Machine *m)
{
    char hex[65];
    machine_ram_sha256(m, hex);
    fprintf(stderr, "lbvm: ticks %llu\n", (unsigned long long)m->clock.now);
    fprintf(stderr, "lbvm: ram-sha256 %s\n", hex);
    const CPUStats *cs = cpu_stats(m->cpu);
    uint64_t exc = 0;
    for (int i = 0; i < 32; i++)
        exc += cs->exceptions[i];
    /* From power-on, across resumes; a checkpoint without counts (format
     * 1.0) restarts them, and the line says so. */
    fprintf(stderr, "lbvm: events%s: %llu page faults, %llu other exceptions, %llu int/int3, %llu irqs, %llu halts, "
            "%llu tlb fills (r/w/x %llu/%llu/%llu), %llu code flushes, %llu rdtsc, %llu emulation starts, %llu blocks\n",
            m->events_known ? "" : " since the resume (the checkpoint has no counts)",
            (unsigned long long)cs->exceptions[14], (unsigned long long)(exc - cs->exceptions[14]),
            (unsigned long long)cs->soft_ints, (unsigned long long)cs->hw_irqs, (unsigned long long)cs->halts,
            (unsigned long long)(cs->tlb_fills[0] + cs->tlb_fills[1] + cs->tlb_fills[2]),
            (unsigned long long)cs->tlb_fills[0], (unsigned long long)cs->tlb_fills[1],
            (unsigned long long)cs->tlb_fills[2], (unsigned long long)cs->code_flushes,
            (unsigned long long)cs->rdtsc, (unsigned long long)cs->emu_starts, (unsigned long long)cs->blocks);
    fprintf(stderr, "lbvm: host peak-rss %llu KiB\n", (unsigned long long)host_peak_rss_kib());
}

/* Options shared by boot and resume: console, stats, limit, checkpoints, journal. */
typedef struct RunArgs {
    const char *console, *ckpt_dir, *journal, *pattern;
    const char *console_log;  /* --console sdl: also write the console here */
    int sdl, steps_total;     /* --console sdl; --steps-total */
    int stats;
    uint64_t limit_s, every, stall_s, keep;
} RunArgs;

/* The exit code for how a run ended, with its message. */
static int end_code(Machine *m, const SessionResult *r, uint64_t limit_s, uint64_t stall_s)
{
    if (r->interrupted)
        return EXIT_STOPPED;
    if (r->stalled) {
        fprintf(stderr, "lbvm: stalled: no console output and no disk I/O for %llu s of guest time\n",
                (unsigned long long)stall_s);
        return EXIT_STALLED;
    }
    if (r->already_ended)
        fprintf(stderr, "lbvm: this checkpoint was taken when the run ended; nothing more to run\n");
    switch (r->end) {
    case MACHINE_HALTED: return EXIT_HALTED;
    case MACHINE_RESET: fprintf(stderr, "lbvm: the guest asked for a reset\n"); return EXIT_RESET;
    case MACHINE_LIMIT:
        fprintf(stderr, "lbvm: guest-time limit of %llu s reached\n", (unsigned long long)limit_s);
        return EXIT_LIMIT;
    case MACHINE_FATAL:
        fprintf(stderr, "lbvm: guest crashed: %s\n", cpu_error(m->cpu));
        cpu_dump(m->cpu, stderr);
        return EXIT_CRASH;
    case MACHINE_PAUSED:
    case MACHINE_HOST_ERROR:      /* session_run fails with the message */
        break;
    }
    return EXIT_HALTED;
}

/* Runs a built machine with the run options; frees it. */
static int run_built(Machine *m, const RunArgs *ra, CkptSession *cs, FILE *journal, FILE *con)
{
    regex_t re;
    int have_re = 0;
    if (ra->pattern) {
        if (regcomp(&re, ra->pattern, REG_EXTENDED | REG_NOSUB) != 0) {
            machine_free(m);
            return lbvm_error(EXIT_USAGE, "--checkpoint-on '%s': not a valid extended regular expression", ra->pattern);
        }
        have_re = 1;
    }
    SessionOpts o = { .cs = cs, .every = ra->every, .pattern = have_re ? &re : NULL, .journal = journal,
                      .stall = ra->stall_s * VCLOCK_HZ };
    SessionResult r;
    Ui *ui = NULL;
    if (ra->sdl) {
        UiOptions uo = { .steps_total = ra->steps_total, .have_checkpoints = cs != NULL };
        char uerr[512];
        if (!(ui = ui_open(&uo, uerr, sizeof uerr))) {
            if (have_re)
                regfree(&re);
            machine_free(m);
            return lbvm_error(EXIT_USAGE, "%s", uerr);
        }
        ui_attach(ui, m);
        o.on_step = ui_on_step;
        o.on_checkpoint = ui_on_checkpoint;
        o.observer = ui;
    }
    session_catch_signals(m);
    int rc = session_run(m, &o, &r);
    ui_close(ui);
    fflush(con);
    int code = rc < 0 ? lbvm_error(EXIT_USAGE, "%s", r.error) : end_code(m, &r, ra->limit_s, ra->stall_s);
    if (journal && fclose(journal) != 0)
        code = lbvm_error(code ? code : EXIT_USAGE, "cannot write the journal %s: %s", ra->journal, strerror(errno));
    if (ra->stats)
        print_stats(m);
    if (con != stdout && fclose(con) != 0)
        code = lbvm_error(code ? code : EXIT_USAGE, "cannot write console file %s: %s", ra->sdl ? ra->console_log : ra->console,
                    strerror(errno));
    if (have_re)
        regfree(&re);
    machine_free(m);
    return code;
}

static FILE *open_console(const RunArgs *ra)
{
    const char *console = ra->console;
    FILE *con = stdout;
    if (ra->console_log && !ra->sdl) {
        lbvm_error(0, "--console-log goes with --console sdl (without the window, use --console FILE)");
        return NULL;
    }
    /* the window shows the console; a file only with --console-log */
    if (ra->sdl)
        console = ra->console_log ? ra->console_log : "/dev/null";
    if (console && !(con = fopen(console, "wb"))) {
        lbvm_error(0, "cannot write console file %s: %s", console, strerror(errno));
        return NULL;
    }
    /* Line-buffered, so a person or a program watching sees each line as the
     * guest prints it. */
    setvbuf(con, NULL, _IOLBF, 1 << 16);
    return con;
}

/* A run option shared by boot and resume; 1 if taken, 0 if not ours, -1 bad. */
static int run_option(int c, RunArgs *ra)
{
    switch (c) {
    case 'c':
        ra->console = optarg;
        ra->sdl = !strcmp(optarg, "sdl");
        if (ra->sdl) {
            char err[512];
            if (!ui_preflight(err, sizeof err))
                return lbvm_error(-1, "%s", err);
        }
        return 1;
    case 'L': ra->console_log = optarg; return 1;
    case 'N': {
        uint64_t n;
        if (lbvm_parse_u64(optarg, &n) < 0 || n == 0 || n > 1000000)
            return lbvm_error(-1, "--steps-total %s: give the number of steps, at least 1", optarg);
        ra->steps_total = (int)n;
        return 1;
    }
    case 's': ra->stats = 1; return 1;
    case 'l':
        if (lbvm_parse_u64(optarg, &ra->limit_s) < 0 || ra->limit_s == 0 || ra->limit_s > 1000000000)
            return lbvm_error(-1, "--limit %s: give whole seconds of guest time, at least 1", optarg);
        return 1;
    case 'D': ra->ckpt_dir = optarg; return 1;
    case 'E':
        if (lbvm_parse_size(optarg, &ra->every) < 0 || ra->every == 0)
            return lbvm_error(-1, "--checkpoint-every %s: give a number of guest ticks (K, M, G suffixes allowed)", optarg);
        return 1;
    case 'O': ra->pattern = optarg; return 1;
    case 'T':
        if (lbvm_parse_u64(optarg, &ra->stall_s) < 0 || ra->stall_s == 0 || ra->stall_s > 1000000000)
            return lbvm_error(-1, "--stall %s: give whole seconds of guest time, at least 1", optarg);
        return 1;
    case 'J': ra->journal = optarg; return 1;
    case 'K':
        if (lbvm_parse_u64(optarg, &ra->keep) < 0 || ra->keep == 0 || ra->keep > 1000000)
            return lbvm_error(-1, "--keep-checkpoints %s: give how many of the newest checkpoints to keep, at least 1", optarg);
        return 1;
    }
    return 0;
}

#define RUN_LONG_OPTIONS                                                                                      \
    { "console", required_argument, 0, 'c' }, { "stats", no_argument, 0, 's' },                            \
    { "limit", required_argument, 0, 'l' }, { "checkpoint-dir", required_argument, 0, 'D' },               \
    { "checkpoint-every", required_argument, 0, 'E' }, { "checkpoint-on", required_argument, 0, 'O' },     \
    { "journal", required_argument, 0, 'J' }, { "stall", required_argument, 0, 'T' },                    \
    { "console-log", required_argument, 0, 'L' }, { "steps-total", required_argument, 0, 'N' },             \
    { "keep-checkpoints", required_argument, 0, 'K' }

static int cmd_boot(int argc, char **argv)
{
    static const struct option opts[] = {
        { "kernel", required_argument, 0, 'k' }, { "initrd", required_argument, 0, 'i' },
        { "append", required_argument, 0, 'a' }, { "mem", required_argument, 0, 'm' },
        { "help", no_argument, 0, 'h' }, { "guest-decompress", no_argument, 0, 'G' },
        { "disk", required_argument, 0, 'd' }, { "disk-size", required_argument, 0, 'S' },
        { "ide", required_argument, 0, 'I' }, { "module", required_argument, 0, 'M' },
        RUN_LONG_OPTIONS, { 0, 0, 0, 0 },
    };
    BootArgs b = { .mem_mib = 1024 };
    RunArgs ra = { 0 };
    int c, t;
    while ((c = getopt_long(argc, argv, "k:i:a:m:c:sl:hd:", opts, NULL)) != -1) {
        if ((t = run_option(c, &ra)) != 0) {
            if (t < 0)
                return EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'k': b.kernel = optarg; break;
        case 'i': b.initrd = optarg; break;
        case 'a': b.append = optarg; break;
        case 'G': b.guest_decompress = 1; break;
        case 'M':
            if (b.n_modules == BOOT_MAX_MODULES)
                return lbvm_error(EXIT_USAGE, "at most %d --module options", BOOT_MAX_MODULES);
            b.module_arg[b.n_modules++] = optarg;
            break;
        case 'd':
            if (b.n_disks == MACHINE_MAX_AHCI)
                return lbvm_error(EXIT_USAGE, "at most %d --disk options (one per AHCI port)", MACHINE_MAX_AHCI);
            b.disk_arg[b.n_disks++] = optarg;
            break;
        case 'I':
            if (b.n_ide == MACHINE_MAX_IDE)
                return lbvm_error(EXIT_USAGE, "at most %d --ide options (two devices on each of two channels)",
                                  MACHINE_MAX_IDE);
            b.ide_arg[b.n_ide++] = optarg;
            break;
        case 'S':
            if (lbvm_parse_size(optarg, &b.disk_size) < 0 || b.disk_size < 512 || b.disk_size % 512)
                return lbvm_error(EXIT_USAGE, "--disk-size %s: give a size in bytes, or with K, M, G or T, "
                            "a multiple of 512", optarg);
            break;
        case 'm':
            if (lbvm_parse_u64(optarg, &b.mem_mib) < 0 || b.mem_mib < MACHINE_MIN_RAM_MIB || b.mem_mib > MACHINE_MAX_RAM_MIB)
                return lbvm_error(EXIT_USAGE, "--mem %s: give the guest RAM in MiB, from %d to %d", optarg,
                            MACHINE_MIN_RAM_MIB, MACHINE_MAX_RAM_MIB);
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return lbvm_bad_option(EXIT_USAGE, argc, argv, "k:i:a:m:c:sl:hd:", opts, "");
        }
    }
    if (optind < argc)
        return lbvm_error(EXIT_USAGE, "unexpected argument '%s' (see 'lbvm --help')", argv[optind]);
    if (!b.kernel && !b.n_disks && !b.n_ide)
        return lbvm_error(EXIT_USAGE, "boot needs --kernel FILE, or --ide/--disk FILE to power on from (see 'lbvm --help')");
    if ((ra.every || ra.pattern) && !ra.ckpt_dir && !ra.journal)
        return lbvm_error(EXIT_USAGE, "--checkpoint-every and --checkpoint-on need --checkpoint-dir DIR or --journal FILE");
    if (ra.keep && !ra.ckpt_dir)
        return lbvm_error(EXIT_USAGE, "--keep-checkpoints needs --checkpoint-dir DIR");
    if (ra.ckpt_dir)
        session_install_signals();
    int bad_epoch;
    b.epoch = source_date_epoch(&bad_epoch);
    if (bad_epoch)
        return lbvm_error(EXIT_USAGE, "SOURCE_DATE_EPOCH must be a whole number of seconds");
    CkptSession cs, *csp = NULL;
    char err[512];
    if (ra.ckpt_dir) {
        if (ckpt_session_open(&cs, ra.ckpt_dir, err, sizeof err) < 0)
            return lbvm_error(EXIT_USAGE, "%s", err);
        cs.keep = (unsigned)ra.keep;
        csp = &cs;
    }
    /* The console and journal files are opened only once the machine is
     * built: a refused boot leaves them as they were. */
    int code = EXIT_USAGE;
    Machine *m = boot_machine(&b, csp, stdout, !ra.console && host_isatty(0), ra.limit_s * VCLOCK_HZ, &code);
    FILE *con = m ? open_console(&ra) : NULL, *journal = NULL;
    if (con && ra.journal && !(journal = fopen(ra.journal, "w"))) {
        lbvm_error(0, "cannot write the journal %s: %s", ra.journal, strerror(errno));
        if (con != stdout)
            fclose(con);
        con = NULL;
    }
    if (!con) {
        machine_free(m);
        if (csp)
            ckpt_session_close(csp);
        return code;
    }
    m->cfg.console = con;
    if (journal)
        journal_boot_line(journal, &b);
    code = run_built(m, &ra, csp, journal, con);
    if (csp)
        ckpt_session_close(csp);
    return code;
}

/* Keeps a journal's lines up to the point at `ticks` (the checkpoint being
 * resumed) and drops later ones, atomically: they describe a run that is
 * being redone. */
static FILE *journal_reopen(const char *path, uint64_t ticks)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        lbvm_error(0, "cannot open the journal %s: %s", path, strerror(errno));
        return NULL;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        lbvm_error(0, "cannot write %s: %s", tmp, strerror(errno));
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        unsigned long long t;
        if ((sscanf(line, "point %llu", &t) == 1 || sscanf(line, "input %llu", &t) == 1) && t > ticks)
            break;
        if (!strncmp(line, "point ", 6) && sscanf(line, "point %llu", &t) == 1 && t == ticks && strstr(line, " end "))
            break;
        fputs(line, out);
    }
    free(line);
    fclose(in);
    fprintf(out, "resume %llu\n", (unsigned long long)ticks);
    if (fflush(out) != 0 || host_fsync(fileno(out)) != 0 || host_replace(tmp, path) != 0) {
        fclose(out);
        unlink(tmp);
        lbvm_error(0, "cannot rewrite the journal %s: %s", path, strerror(errno));
        return NULL;
    }
    return out;
}

static int cmd_resume(int argc, char **argv)
{
    static const struct option opts[] = { { "help", no_argument, 0, 'h' }, RUN_LONG_OPTIONS, { 0, 0, 0, 0 } };
    RunArgs ra = { 0 };
    int c, t;
    while ((c = getopt_long(argc, argv, "c:sl:h", opts, NULL)) != -1) {
        if ((t = run_option(c, &ra)) != 0) {
            if (t < 0)
                return EXIT_USAGE;
            continue;
        }
        if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        }
        return lbvm_bad_option(EXIT_USAGE, argc, argv, "c:sl:h", opts, "");
    }
    if (optind + 1 != argc)
        return lbvm_error(EXIT_USAGE, "resume needs one CHECKPOINT file (see 'lbvm --help')");
    session_install_signals();
    const char *path = argv[optind];
    char dir[4096], err[1024];
    if (!ra.ckpt_dir) {
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
        ra.ckpt_dir = dir;
    }
    CkptSession cs;
    if (ckpt_session_open(&cs, ra.ckpt_dir, err, sizeof err) < 0)
        return lbvm_error(EXIT_USAGE, "%s", err);
    cs.keep = (unsigned)ra.keep;
    MachineConfig cfg = { .console = stdout, .console_input = !ra.console && host_isatty(0),
                          .limit_ticks = ra.limit_s * VCLOCK_HZ };
    /* Host time, for the person reading stderr only. */
    double t0 = host_monotonic();
    Machine *m = machine_resume(path, &cs, &cfg, err, sizeof err);
    if (!m) {
        ckpt_session_close(&cs);
        return lbvm_error(EXIT_USAGE, "%s", err);
    }
    double t1 = host_monotonic();
    fprintf(stderr, "lbvm: resumed %s at %llu ticks in %.2f s\n", path, (unsigned long long)m->clock.now, t1 - t0);
    /* Only now, with the checkpoint accepted: the console and journal. */
    FILE *con = open_console(&ra), *journal = NULL;
    if (con && ra.journal && !(journal = journal_reopen(ra.journal, m->clock.now))) {
        if (con != stdout)
            fclose(con);
        con = NULL;
    }
    if (!con) {
        machine_free(m);
        ckpt_session_close(&cs);
        return EXIT_USAGE;
    }
    m->cfg.console = con;
    int code = run_built(m, &ra, &cs, journal, con);
    ckpt_session_close(&cs);
    return code;
}

static int cmd_inspect(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
            fputs(usage_text, stdout);
            return 0;
        }
        return lbvm_error(EXIT_USAGE, "inspect needs one CHECKPOINT file");
    }
    char err[1024];
    if (machine_inspect(argv[1], stdout, err, sizeof err) < 0)
        return lbvm_error(EXIT_USAGE, "%s", err);
    return 0;
}

static char *boot_value(const char *line, const char *key, int nth)
{
    return journal_boot_value(line, key, nth);
}

/* A repeated key of a boot line (disk=, ide=, module=), in order, up to max. */
static void boot_values_from_line(const char *boot, const char *key, int max, const char **dst, int *n, char **vals,
                                  int *nv)
{
    for (int i = 0; i < max; i++) {
        char *d = boot_value(boot, key, i);
        if (!d)
            break;
        vals[(*nv)++] = d;
        dst[(*n)++] = d;
    }
}

/* The boot a journal's boot line records (values in vals[], which the caller
 * frees; at most 18 of them). */
static void boot_args_from_line(const char *boot, BootArgs *b, char **vals, int *nv)
{
    b->kernel = vals[(*nv)++] = boot_value(boot, "kernel", 0);
    b->initrd = vals[(*nv)++] = boot_value(boot, "initrd", 0);
    b->append = vals[(*nv)++] = boot_value(boot, "append", 0);
    char *mem = vals[(*nv)++] = boot_value(boot, "mem", 0), *ep = vals[(*nv)++] = boot_value(boot, "epoch", 0);
    char *gd = vals[(*nv)++] = boot_value(boot, "guest-decompress", 0);
    b->mem_mib = mem ? strtoull(mem, NULL, 10) : 1024;
    b->epoch = ep ? strtoll(ep, NULL, 10) : 0;
    b->guest_decompress = gd && *gd == '1';
    boot_values_from_line(boot, "disk", MACHINE_MAX_AHCI, b->disk_arg, &b->n_disks, vals, nv);
    boot_values_from_line(boot, "ide", MACHINE_MAX_IDE, b->ide_arg, &b->n_ide, vals, nv);
    boot_values_from_line(boot, "module", BOOT_MAX_MODULES, b->module_arg, &b->n_modules, vals, nv);
}

/* The console's last lines before a divergence, on out. */
static void print_console_before(Machine *m, FILE *out)
{
    uint8_t tail[MACHINE_TAIL_SIZE];
    size_t n = machine_console_tail(m, tail);
    /* the last few console lines of this run before the point */
    int lines = 0;
    size_t from = n;
    while (from > 0 && lines < 6) {
        from--;
        if (tail[from] == '\n' && from + 1 < n)
            lines++;
    }
    fprintf(out, "console before it:\n");
    fwrite(tail + from, 1, n - from, out);
    if (n && tail[n - 1] != '\n')
        fputc('\n', out);
}

static void print_divergence(const SessionResult *r, Machine *m)
{
    printf("diverged at point %d (%s, recorded at %llu ticks, this run %llu): %s differs\n", r->index + 1,
           r->want.kind, (unsigned long long)r->want.ticks, (unsigned long long)r->got.ticks, r->what);
    print_console_before(m, stdout);
}

/* ---- lbvm verify BUNDLE (docs/audit.md) ---- */

/* The bundle's copy (in path, *file set to it) of the input the boot line
 * names `named` (NULL: none to find). -1 with err if the bundle has none. */
#define INPUT_PATH 4200
static int input_file(const Bundle *b, BundleKind kind, int n, const char *named, const char **file,
                      char path[INPUT_PATH], char *err, size_t errlen)
{
    const BundleFile *f = named ? bundle_find(b, kind, n) : NULL;
    if (named && !f)
        return lbvm_set_err(err, errlen, "the bundle has no %s for %s", bundle_kind_names[kind], named);
    if (f) {
        bundle_path(b, f, path, INPUT_PATH);
        *file = path;
    }
    return 0;
}

/* The boot segment's machine: the journal's boot (no kernel: through the
 * BIOS from the disks), with the bundle's kernel, initrd, modules and base
 * images, each base the one the bundle holds. */
static Machine *segment_boot(const Bundle *b, CkptSession *cs, FILE *con, char *err, size_t errlen)
{
    BootArgs a = { 0 };
    char *vals[24] = { 0 }, inputs[2 + BOOT_MAX_MODULES][INPUT_PATH], disks[MACHINE_MAX_DISKS][4200];
    int nv = 0, code;
    Machine *m = NULL;
    const BundleFile *base[MACHINE_MAX_DISKS];
    boot_args_from_line(b->boot, &a, vals, &nv);
    /* The bytes from the bundle (bundle_open checked them against the boot
     * line); the names the guest sees stay the recorded ones. */
    if (input_file(b, BUNDLE_KERNEL, 0, a.kernel, &a.kernel_file, inputs[0], err, errlen) < 0 ||
        input_file(b, BUNDLE_INITRD, 0, a.initrd, &a.initrd_file, inputs[1], err, errlen) < 0)
        goto out;
    for (int j = 0; j < a.n_modules; j++)
        if (input_file(b, BUNDLE_MODULE, j, a.module_arg[j], &a.module_file[j], inputs[2 + j], err, errlen) < 0)
            goto out;
    /* Disk d of the checkpoints: the AHCI ports, then the IDE devices. */
    for (int d = 0; d < a.n_disks + a.n_ide; d++) {
        if (!(base[d] = bundle_find(b, BUNDLE_BASE, d))) {
            snprintf(err, errlen, "the bundle has no base image for disk %d", d);
            goto out;
        }
        bundle_path(b, base[d], disks[d], sizeof disks[d] - 3);
        if (base[d]->read_only)
            strcat(disks[d], ",ro");
        if (d < a.n_disks)
            a.disk_arg[d] = disks[d];
        else
            a.ide_arg[d - a.n_disks] = disks[d];
    }
    if (!(m = boot_machine(&a, cs, con, false, 0, &code))) {
        snprintf(err, errlen, "the recorded boot failed (the line above says why)");
        goto out;
    }
    for (int d = 0; d < a.n_disks + a.n_ide; d++)
        if (memcmp(cs->disk[d].base_sha256, base[d]->digest, 32)) {
            snprintf(err, errlen, "base %s is not the one the MANIFEST records (content digest)", base[d]->name);
            machine_free(m);
            m = NULL;
            break;
        }
out:
    for (int v = 0; v < nv; v++)
        free(vals[v]);
    return m;
}

/* Runs segment k on m and says how it went in one line on stdout (a
 * refusal: on stderr). Returns the exit code. */
static int segment_report(const char *dir, const Bundle *b, int k, Machine *m, bool start_only)
{
    const BundleSegment *s = &b->segs[k - 1];
    SessionResult r;
    bool bad;
    if (bundle_segment_run(b, k, m, start_only, &r, &bad) < 0)
        return lbvm_error(EXIT_USAGE, "%s: segment %d: %s", dir, k, r.error);
    if (bad)
        return lbvm_error(EXIT_USAGE, "%s: segment %d: its checkpoint %s does not hash to point %d (%s, %llu ticks), "
                          "where it starts: %s differs", dir, k, b->files[s->ckpt].name, s->from, r.want.kind,
                          (unsigned long long)r.want.ticks, r.what);
    if (r.diverged) {
        printf("segment %d diverged at point %d (%s, recorded at %llu ticks, this run %llu): %s differs\n", k,
               r.index + 1, r.want.kind, (unsigned long long)r.want.ticks, (unsigned long long)r.got.ticks, r.what);
        print_console_before(m, stderr);
        return EXIT_DIVERGED;
    }
    uint64_t t0 = s->from ? b->pts[s->from - 1].ticks : 0, t1 = b->pts[s->to - 1].ticks;
    if (start_only)
        printf("segment %d start identical: point %d (%llu ticks)\n", k, s->from, (unsigned long long)t0);
    else if (s->from)
        printf("segment %d identical: point %d (%llu ticks) to point %d (%llu ticks), %d point%s compared\n", k,
               s->from, (unsigned long long)t0, s->to, (unsigned long long)t1, r.compared, r.compared == 1 ? "" : "s");
    else
        printf("segment %d identical: the boot to point %d (%llu ticks), %d point%s compared\n", k, s->to,
               (unsigned long long)t1, r.compared, r.compared == 1 ? "" : "s");
    return 0;
}

/* --segment K [--check-start]: one segment in this process, from its
 * checkpoint (or the boot) in a throw-away folder for the disks' writes. */
static int verify_segment(const char *dir, int k, bool start_only)
{
    Bundle b;
    char err[4608];
    if (bundle_open(&b, dir, k, err, sizeof err) < 0) {
        bundle_close(&b);
        return lbvm_error(EXIT_USAGE, "%s: %s", dir, err);
    }
    const BundleSegment *s = &b.segs[k - 1];
    /* the disks' writes of this segment: $TMPDIR (a cluster's scratch space), else /tmp */
    char tmpdir[4200];
    snprintf(tmpdir, sizeof tmpdir, "%s/lbvm-verify-XXXXXX", host_tmp_dir());
    CkptSession cs;
    int code = EXIT_USAGE;
    if (start_only && s->ckpt < 0) {
        printf("segment %d starts at the boot: no checkpoint to check\n", k);
        bundle_close(&b);
        return 0;
    }
    if (!mkdtemp(tmpdir) || ckpt_session_open(&cs, tmpdir, err, sizeof err) < 0) {
        bundle_close(&b);
        return lbvm_error(EXIT_USAGE, "cannot create a temporary folder: %s", strerror(errno));
    }
    cs.resolve = bundle_resolve;
    cs.resolve_opaque = &b;
    FILE *con = fopen("/dev/null", "wb");
    Machine *m = NULL;
    if (s->ckpt >= 0) {
        char path[4200];
        MachineConfig cfg = { .console = con };
        bundle_path(&b, &b.files[s->ckpt], path, sizeof path);
        m = machine_resume(path, &cs, &cfg, err, sizeof err);
    } else {
        m = segment_boot(&b, &cs, con, err, sizeof err);
    }
    if (!m)
        lbvm_error(0, "%s: segment %d: %s", dir, k, err);
    else
        code = segment_report(dir, &b, k, m, start_only);
    machine_free(m);
    fclose(con);
    ckpt_session_close(&cs);
    bundle_close(&b);
    if (lbvm_remove_flat_dir(tmpdir) != 0)
        fprintf(stderr, "lbvm: could not remove %s\n", tmpdir);
    return code;
}

/* --list-segments: after every file was checked, "ID CHECKPOINT TICKS". */
static int list_segments(const Bundle *b)
{
    for (int i = 0; i < b->n_segs; i++) {
        const BundleSegment *s = &b->segs[i];
        uint64_t t0 = s->from ? b->pts[s->from - 1].ticks : 0;
        printf("%d %s %llu\n", s->id, s->ckpt < 0 ? "boot" : b->files[s->ckpt].name,
               (unsigned long long)(b->pts[s->to - 1].ticks - t0));
    }
    return 0;
}

static int verify_bundle(const char *dir, int jobs, bool list, int seg, bool start_only)
{
    if (seg)
        return verify_segment(dir, seg, start_only);
    Bundle b;
    char err[4608];
    int code;
    if (bundle_open(&b, dir, 0, err, sizeof err) < 0) {
        code = lbvm_error(EXIT_USAGE, "%s: %s", dir, err);
    } else if (list) {
        code = list_segments(&b);
    } else {
        fprintf(stderr, "lbvm: verify: %s: %d points in %d segments, every file as the MANIFEST says; %d at once\n",
                b.dir, b.n_pts, b.n_segs, jobs);
        code = verify_jobs(&b, jobs);
    }
    bundle_close(&b);
    return code;
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, 0, 'f' }, { "initrd", required_argument, 0, 'i' },
        { "append", required_argument, 0, 'a' }, { "kernel", required_argument, 0, 'k' },
        { "jobs", required_argument, 0, 'j' }, { "list-segments", no_argument, 0, 'L' },
        { "segment", required_argument, 0, 'S' }, { "check-start", no_argument, 0, 'C' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *from = NULL, *o_initrd = NULL, *o_append = NULL, *o_kernel = NULL;
    uint64_t jobs = (uint64_t)host_cores(), seg = 0;
    bool list = false, start_only = false, bundle_opt = false;
    int c;
    while ((c = getopt_long(argc, argv, "f:i:a:k:j:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 'i': o_initrd = optarg; break;
        case 'a': o_append = optarg; break;
        case 'k': o_kernel = optarg; break;
        case 'j':
            if (lbvm_parse_u64(optarg, &jobs) < 0 || jobs < 1 || jobs > 4096)
                return lbvm_error(EXIT_USAGE, "--jobs %s: give how many segments to run at once, 1 to 4096", optarg);
            bundle_opt = true;
            break;
        case 'L': list = bundle_opt = true; break;
        case 'S':
            if (lbvm_parse_u64(optarg, &seg) < 0 || seg < 1 || seg > 1000000000)
                return lbvm_error(EXIT_USAGE, "--segment %s: give a segment number from --list-segments", optarg);
            bundle_opt = true;
            break;
        case 'C': start_only = bundle_opt = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return lbvm_bad_option(EXIT_USAGE, argc, argv, "f:i:a:k:j:h", opts, "");
        }
    }
    if (optind + 1 != argc)
        return lbvm_error(EXIT_USAGE, "verify needs one JOURNAL file or audit BUNDLE folder");
    if (bundle_is(argv[optind])) {
        if (from || o_initrd || o_append || o_kernel)
            return lbvm_error(EXIT_USAGE, "--from, --kernel, --initrd and --append go with a JOURNAL, not a bundle");
        if (start_only && !seg)
            return lbvm_error(EXIT_USAGE, "--check-start goes with --segment K");
        if (list && seg)
            return lbvm_error(EXIT_USAGE, "--list-segments and --segment: one at a time");
        return verify_bundle(argv[optind], (int)jobs, list, (int)seg, start_only);
    }
    struct stat st;
    if (stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode))
        return lbvm_error(EXIT_USAGE, "%s is a folder without a MANIFEST, not an audit bundle (lbvm bundle writes the "
                          "MANIFEST last: was it interrupted?)", argv[optind]);
    if (bundle_opt)
        return lbvm_error(EXIT_USAGE, "%s is not an audit bundle (a folder with a MANIFEST): --jobs, --list-segments, "
                          "--segment and --check-start need one", argv[optind]);
    char err[1024], boot[8192];
    JournalPoint *pts;
    JournalInput *ins;
    int n_pts, n_ins;
    if (journal_read(argv[optind], boot, sizeof boot, &pts, &n_pts, &ins, &n_ins, err, sizeof err) < 0)
        return lbvm_error(EXIT_USAGE, "%s", err);
    if (!boot[0] || n_pts == 0) {
        free(pts);
        return lbvm_error(EXIT_USAGE, "%s: no boot line or no points to compare", argv[optind]);
    }
    char tmpdir[] = "/tmp/lbvm-verify-XXXXXX";
    if (!mkdtemp(tmpdir))
        return lbvm_error(EXIT_USAGE, "cannot create a temporary folder: %s", strerror(errno));
    CkptSession cs;
    if (ckpt_session_open(&cs, tmpdir, err, sizeof err) < 0)
        return lbvm_error(EXIT_USAGE, "%s", err);
    FILE *con = fopen("/dev/null", "wb");
    Machine *m = NULL;
    int code = EXIT_USAGE;
    char *vals[24] = { 0 };
    int nv = 0;
    if (from) {
        MachineConfig cfg = { .console = con };
        m = machine_resume(from, &cs, &cfg, err, sizeof err);
        if (!m)
            lbvm_error(0, "%s", err);
    } else {
        BootArgs b = { 0 };
        char *cwd = boot_value(boot, "cwd", 0);
        if (cwd && chdir(cwd) != 0)
            lbvm_error(0, "note: cannot enter the recorded folder %s", cwd);
        free(cwd);
        boot_args_from_line(boot, &b, vals, &nv);
        if (o_kernel)
            b.kernel = o_kernel;
        if (o_initrd)
            b.initrd = o_initrd;
        if (o_append)
            b.append = o_append;
        if (b.kernel || b.n_disks || b.n_ide)  /* no kernel: a BIOS boot from the first disk */
            m = boot_machine(&b, &cs, con, false, 0, &code);
        else
            lbvm_error(0, "%s: the boot line names no kernel and no disk", argv[optind]);
    }
    if (m) {
        SessionOpts o = { .expect = pts, .n_expect = n_pts, .inputs = ins, .n_inputs = n_ins, .quiet = true };
        SessionResult r;
        if (session_run(m, &o, &r) < 0) {
            code = lbvm_error(EXIT_USAGE, "%s", r.error);
        } else if (r.diverged) {
            print_divergence(&r, m);
            code = EXIT_DIVERGED;
        } else {
            bool recorded = false;
            for (int i = 0; i < n_pts && !recorded; i++)
                recorded = pts[i].has_events;
            if (!recorded)
                fprintf(stderr, "lbvm: note: the journal records no event counts (an older lbvm wrote it): "
                                "hashes only were compared\n");
            else if (!m->events_known)
                fprintf(stderr, "lbvm: note: %s has no event counts, so the journal's were not compared\n", from);
            printf("identical: %d points compared, last at %llu ticks\n", r.compared,
                   (unsigned long long)pts[n_pts - 1].ticks);
            code = 0;
        }
        machine_free(m);
    }
    for (int i = 0; i < nv; i++)
        free(vals[i]);
    for (int i = 0; i < n_ins; i++)
        free(ins[i].bytes);
    free(ins);
    free(pts);
    fclose(con);
    ckpt_session_close(&cs);
    /* the verify run's own overlays */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "lbvm: could not remove %s\n", tmpdir);
    return code;
}

/* lbvm bundle JOURNAL [--checkpoint-dir DIR]... -o OUT */
static int cmd_bundle(int argc, char **argv)
{
    static const struct option opts[] = {
        { "checkpoint-dir", required_argument, 0, 'D' }, { "output", required_argument, 0, 'o' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *dirs[64], *out = NULL;
    int n_dirs = 0, c;
    while ((c = getopt_long(argc, argv, "D:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'D':
            if (n_dirs == 64)
                return lbvm_error(EXIT_USAGE, "at most 64 --checkpoint-dir folders");
            dirs[n_dirs++] = optarg;
            break;
        case 'o': out = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return lbvm_bad_option(EXIT_USAGE, argc, argv, "D:o:h", opts, "");
        }
    }
    if (optind + 1 != argc || !out)
        return lbvm_error(EXIT_USAGE, "bundle needs one JOURNAL and -o FOLDER (see 'lbvm --help')");
    /* lbvm bootstrap's work folder: the journal beside its checkpoints */
    char guess[4200];
    snprintf(guess, sizeof guess, "%s", argv[optind]);
    char *slash = strrchr(guess, '/');
    snprintf(slash ? slash + 1 : guess, sizeof guess - (size_t)(slash ? slash + 1 - guess : 0), "checkpoints");
    struct stat st;
    if (!n_dirs && stat(guess, &st) == 0 && S_ISDIR(st.st_mode))
        dirs[n_dirs++] = guess;
    BundleMakeOpts o = { .journal = argv[optind], .ckpt_dirs = dirs, .n_ckpt_dirs = n_dirs, .out = out };
    Bundle b;
    char err[4608];
    int code = 0;
    if (bundle_make(&o, &b, err, sizeof err) < 0) {
        code = lbvm_error(EXIT_USAGE, "bundle: %s", err);
    } else {
        int n[BUNDLE_KINDS] = { 0 };
        for (int i = 0; i < b.n_files; i++)
            n[b.files[i].kind]++;
        char hex[65];
        for (int i = 0; i < 32; i++)
            sprintf(hex + 2 * i, "%02x", b.journal_sha256[i]);
        printf("bundle %s: %d points in %d segments; %d checkpoints, %d layers, %d base images, %s%s%d modules; journal "
               "SHA-256 %s\n", b.dir, b.n_pts, b.n_segs, n[BUNDLE_CHECKPOINT], n[BUNDLE_LAYER], n[BUNDLE_BASE],
               n[BUNDLE_KERNEL] ? "a kernel, " : "no kernel (a BIOS boot), ", n[BUNDLE_INITRD] ? "an initrd, " : "",
               n[BUNDLE_MODULE], hex);
    }
    bundle_close(&b);
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
        default: return lbvm_bad_option(EXIT_USAGE, argc, argv, "o:h", opts, "");
        }
    }
    if (!out || optind >= argc)
        return lbvm_error(EXIT_USAGE, "mkinitramfs needs -o FILE and at least one DIR");
    int bad;
    int64_t epoch = source_date_epoch(&bad);
    if (bad)
        return lbvm_error(EXIT_USAGE, "SOURCE_DATE_EPOCH must be a whole number of seconds");
    char err[512];
    if (initramfs_write(out, (const char *const *)argv + optind, argc - optind, epoch, err, sizeof err) < 0)
        return lbvm_error(EXIT_USAGE, "%s", err);
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
            if (lbvm_parse_u64(optarg, &v) < 0 || v < 1 || v > 64)
                return lbvm_error(EXIT_USAGE, "--jobs %s: give 1 to 64 parallel downloads", optarg);
            o.parallel = (int)v;
            break;
        case 'o': o.offline = 1; break;
        case 't':
            if (lbvm_parse_u64(optarg, &v) < 0 || v < 1 || v > 86400)
                return lbvm_error(EXIT_USAGE, "--stall-timeout %s: give whole seconds, 1 to 86400", optarg);
            o.stall_timeout_s = (long)v;
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return lbvm_bad_option(EXIT_USAGE, argc, argv, "d:j:ot:h", opts, "");
        }
    }
    if (optind >= argc)
        return lbvm_error(EXIT_USAGE, "fetch needs at least one sources file");
    FetchList l = { 0 };
    char err[1024];
    int rc = 0;
    for (int i = optind; i < argc && !rc; i++)
        if (fetch_list_add_file(&l, argv[i], err, sizeof err) < 0)
            rc = lbvm_error(EXIT_USAGE, "%s", err);
    if (!rc && fetch_all(l.items, l.n, &o, err, sizeof err) < 0)
        rc = lbvm_error(EXIT_USAGE, "%s", err);
    fetch_list_free(&l);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return lbvm_error(EXIT_USAGE, "no command given (see 'lbvm --help')");
    const char *cmd = argv[1];
    opterr = 0;
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        puts("lbvm 0.1");
        puts(ui_available() ? "features: sdl" : "features: -");
        return 0;
    }
    /* Sub-command options are parsed from argv[1] on (argv[0] is skipped). */
    if (!strcmp(cmd, "boot"))
        return cmd_boot(argc - 1, argv + 1);
    if (!strcmp(cmd, "resume"))
        return cmd_resume(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "verify"))
        return cmd_verify(argc - 1, argv + 1);
    if (!strcmp(cmd, "bundle"))
        return cmd_bundle(argc - 1, argv + 1);
    if (!strcmp(cmd, "bootstrap")) return lbvm_cmd_bootstrap(argc - 1, argv + 1);
    if (!strcmp(cmd, "build"))
        return lbvm_cmd_build(argc - 1, argv + 1);
    if (!strcmp(cmd, "mkinitramfs"))
        return cmd_mkinitramfs(argc - 1, argv + 1);
    if (!strcmp(cmd, "fetch"))
        return cmd_fetch(argc - 1, argv + 1);
    return lbvm_error(EXIT_USAGE, "unknown command '%s' (see 'lbvm --help')", cmd);
}
