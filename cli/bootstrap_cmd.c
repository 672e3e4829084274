/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `lbvm bootstrap`: the command line of steps/bootstrap.c. */
#include "steps/bootstrap.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/machine.h"
#include "steps/build.h"
#include "steps/kernel.h"
#include "base/util.h"

static const char bootstrap_usage[] =
    "usage: lbvm bootstrap --tree DIR [--kernel FILE] [--workdir DIR] [--distdir DIR]\n"
    "                      [--mem MiB] [--disk-size SIZE] [--stall SECONDS]\n"
    "                      [--resume | --fresh] [--offline] [--allow-missing]\n"
    "                      [--seeds tree|lbvm] [--step-regex RE] [--keep-checkpoints N]\n"
    "  Fetches the distfiles, builds sysa's initramfs and sysc's disk, boots the guest\n"
    "  (a child 'lbvm boot' with a checkpoint after every step), prints one line per\n"
    "  step, and ends when the console says \"Bootstrapping completed.\".\n"
    "  -t, --tree DIR       live-bootstrap checkout, 2023 layout (sysa/, sysb/, sysc/),\n"
    "                       submodules included\n"
    "  -k, --kernel FILE    sysa's kernel, a 32-bit bzImage (default: Debian's\n"
    "                       " KERNEL_PACKAGE " " KERNEL_VERSION ", fetched once and pinned by SHA-256)\n"
    "  -w, --workdir DIR    outputs, checkpoints, console logs (default ./lbvm-work)\n"
    "  -d, --distdir DIR    distfile cache (default ~/.cache/lbvm/distfiles)\n"
    "  -m, --mem MiB        guest RAM, " MACHINE_MIN_RAM_STR " to " MACHINE_MAX_RAM_STR " (default 4096, as live-bootstrap\n"
    "                       gives); above 3072 the rest is above 4 GiB (PAE kernels)\n"
    "      --disk-size SIZE sysc disk size (K, M, G, T; default 8G), sparse\n"
    "      --stall SECONDS  fail after this much guest time without console output or\n"
    "                       disk I/O (default 600)\n"
    "      --keep-checkpoints N  keep the newest N checkpoint files (default 8); disk\n"
    "                       layers all stay (later checkpoints stand on them)\n"
    "      --resume         continue from the newest usable checkpoint in the work folder\n"
    "      --fresh          discard an earlier run's checkpoints and start over\n"
    "      --offline        download nothing; fail naming the missing distfiles\n"
    "      --allow-missing  build without the distfiles that cannot be had; the run stops\n"
    "                       at the first step that needs one, naming it (exit 3)\n"
    "      --seeds WHICH    tree: the tree's bootstrap-seeds (default); lbvm: lbvm's own\n"
    "                       hex0-seed and kaem-optional-seed\n"
    "      --step-regex RE  console lines that start a step (POSIX extended regex;\n"
    "                       default: live-bootstrap's \"PKG: beginning build using script\"\n"
    "                       and \" +> kaem --file PKG-VERSION.kaem\")\n"
    "  Exit codes: 0 completed, 1 setup problem (usage, lock, fetch, build, cannot\n"
    "  start the guest), 2 the bootstrap failed (the step and the last console lines\n"
    "  are printed), 3 stopped at a step whose distfile is missing (--allow-missing),\n"
    "  5 stopped by SIGINT/SIGTERM after the guest saved a checkpoint.\n"
    "  docs/definitions.md has the details.\n";

int lbvm_cmd_bootstrap(int argc, char **argv)
{
    enum { OPT_DISK_SIZE = 256, OPT_STALL, OPT_RESUME, OPT_FRESH, OPT_OFFLINE, OPT_STEP_REGEX, OPT_KEEP,
           OPT_ALLOW_MISSING, OPT_SEEDS };
    static const struct option opts[] = {
        { "kernel", required_argument, 0, 'k' },
        { "tree", required_argument, 0, 't' },
        { "workdir", required_argument, 0, 'w' },
        { "distdir", required_argument, 0, 'd' },
        { "mem", required_argument, 0, 'm' },
        { "disk-size", required_argument, 0, OPT_DISK_SIZE },
        { "stall", required_argument, 0, OPT_STALL },
        { "resume", no_argument, 0, OPT_RESUME },
        { "fresh", no_argument, 0, OPT_FRESH },
        { "offline", no_argument, 0, OPT_OFFLINE },
        { "allow-missing", no_argument, 0, OPT_ALLOW_MISSING },
        { "seeds", required_argument, 0, OPT_SEEDS },
        { "step-regex", required_argument, 0, OPT_STEP_REGEX },
        { "keep-checkpoints", required_argument, 0, OPT_KEEP },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    BootstrapOptions o = { 0 };
    int c;
    opterr = 0;
    optind = 0;   /* full reset: this may not be the first getopt user of the process */
    while ((c = getopt_long(argc, argv, "k:t:w:d:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': o.kernel = optarg; break;
        case 't': o.tree = optarg; break;
        case 'w': o.workdir = optarg; break;
        case 'd': o.distdir = optarg; break;
        case 'm':
            if (lbvm_parse_u64(optarg, &o.mem_mib) < 0 || o.mem_mib < MACHINE_MIN_RAM_MIB ||
                o.mem_mib > MACHINE_MAX_RAM_MIB)
                return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--mem %s: give MiB of guest RAM, %d to %d", optarg,
                                  MACHINE_MIN_RAM_MIB, MACHINE_MAX_RAM_MIB);
            break;
        case OPT_DISK_SIZE:
            if (lbvm_parse_size(optarg, &o.disk_size) < 0 || o.disk_size == 0)
                return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--disk-size %s: give a size like 8G (K, M, G or T)", optarg);
            if (o.disk_size % 512)
                return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--disk-size %s: must be a multiple of 512 bytes", optarg);
            if (o.disk_size < BUILD_MIN_DISK_SIZE)
                return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--disk-size %s: at least 16M", optarg);
            break;
        case OPT_STALL:
            if (lbvm_parse_u64(optarg, &o.stall_s) < 0 || o.stall_s == 0 || o.stall_s > 1000000000)
                return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--stall %s: give whole seconds of guest time, at least 1", optarg);
            break;
        case OPT_KEEP:
            if (lbvm_parse_u64(optarg, &o.keep) < 0 || o.keep < 2 || o.keep > 1000000)
                return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--keep-checkpoints %s: give a number of checkpoints, at least 2 "
                                  "(a failed step's own checkpoint and the one taken when it was stopped)", optarg);
            break;
        case OPT_RESUME: o.resume = 1; break;
        case OPT_FRESH: o.fresh = 1; break;
        case OPT_OFFLINE: o.offline = 1; break;
        case OPT_ALLOW_MISSING: o.allow_missing = 1; break;
        case OPT_SEEDS:
            if (strcmp(optarg, "tree") && strcmp(optarg, "lbvm"))
                return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--seeds %s: give tree (the tree's bootstrap-seeds) or lbvm (lbvm's own)", optarg);
            o.own_seeds = !strcmp(optarg, "lbvm");
            break;
        case OPT_STEP_REGEX:
            if (!*optarg)
                return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--step-regex: give a regular expression");
            o.step_regex = optarg;
            break;
        case 'h': fputs(bootstrap_usage, stdout); return 0;
        default: return lbvm_bad_option(BOOTSTRAP_EXIT_SETUP, argc, argv, "k:t:w:d:m:h", opts, "bootstrap ");
        }
    }
    if (optind < argc)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "unexpected argument '%s' (see 'lbvm bootstrap --help')", argv[optind]);
    if (!o.tree)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "bootstrap needs --tree DIR, a live-bootstrap checkout (see 'lbvm bootstrap --help')");
    if (o.resume && o.fresh)
        return lbvm_error(BOOTSTRAP_EXIT_SETUP, "--resume and --fresh contradict each other: give one");
    return bootstrap_run(&o);
}
