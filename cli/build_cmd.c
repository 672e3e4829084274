/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `lbvm build`: the command line of steps/build.c.
 */
#include "steps/build.h"
#include "base/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char build_usage[] =
    "usage: lbvm build --tree DIR [-d DIR] [-o OUTDIR] [--disk-size SIZE] [--allow-missing]\n"
    "                  [--seeds tree|lbvm]\n"
    "  Writes OUTDIR/initramfs.cpio (sysa) and OUTDIR/sysc.img (sysc's disk),\n"
    "  reproducibly and without root.\n"
    "  -t, --tree DIR       live-bootstrap checkout (sysa/, sysb/, sysc/, submodules)\n"
    "  -d, --distdir DIR    distfile cache (default ~/.cache/lbvm/distfiles)\n"
    "  -o, --output DIR     output folder (default: the current folder)\n"
    "      --disk-size SIZE sysc disk size (K, M, G, T; default 8G), sparse\n"
    "      --allow-missing  leave out the distfiles missing from the cache (each is named)\n"
    "      --seeds WHICH    tree (default) or lbvm: lbvm's own hex0 and kaem seeds\n"
    "  Times come from SOURCE_DATE_EPOCH (default 0). Needs e2fsprogs (mke2fs, debugfs).\n";

int lbvm_cmd_build(int argc, char **argv)
{
    static const struct option opts[] = {
        { "tree", required_argument, 0, 't' },     { "distdir", required_argument, 0, 'd' },
        { "output", required_argument, 0, 'o' },   { "disk-size", required_argument, 0, 'S' },
        { "allow-missing", no_argument, 0, 'M' },  { "seeds", required_argument, 0, 'E' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    BuildOptions o = { 0 };
    int c;
    opterr = 0;
    optind = 0;   /* full reset: this may not be the first getopt user of the process */
    while ((c = getopt_long(argc, argv, "t:d:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': o.tree = optarg; break;
        case 'd': o.distdir = optarg; break;
        case 'o': o.outdir = optarg; break;
        case 'S':
            if (lbvm_parse_size(optarg, &o.disk_size) < 0 || o.disk_size == 0)
                return lbvm_error(1, "--disk-size %s: give a size like 8G (K, M, G or T)", optarg);
            if (o.disk_size % 512)
                return lbvm_error(1, "--disk-size %s: must be a multiple of 512 bytes", optarg);
            if (o.disk_size < BUILD_MIN_DISK_SIZE)
                return lbvm_error(1, "--disk-size %s: at least 16M", optarg);
            break;
        case 'M': o.allow_missing = 1; break;
        case 'E':
            if (strcmp(optarg, "tree") && strcmp(optarg, "lbvm"))
                return lbvm_error(1, "--seeds %s: give tree (the tree's bootstrap-seeds) or lbvm (lbvm's own)", optarg);
            o.own_seeds = !strcmp(optarg, "lbvm");
            break;
        case 'h': fputs(build_usage, stdout); return 0;
        default: return lbvm_bad_option(1, argc, argv, "t:d:o:h", opts, "build ");
        }
    }
    if (optind < argc)
        return lbvm_error(1, "build takes no arguments besides options ('%s'; see 'lbvm build --help')", argv[optind]);
    if (!o.tree)
        return lbvm_error(1, "build needs --tree DIR (a live-bootstrap checkout)");
    const char *e = getenv("SOURCE_DATE_EPOCH");
    if (e && *e) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(e, &end, 10);
        if (*e == '-' || errno || *end || v > 4294967295ULL)
            return lbvm_error(1, "SOURCE_DATE_EPOCH must be a whole number of seconds, 0 to 4294967295");
        o.epoch = (int64_t)v;
    }
    BuildOutput out[2];
    char err[2048];
    if (o.allow_missing) {
        FetchList gone = { 0 };
        int n = build_list_missing(o.tree, o.distdir, &gone, err, sizeof err);
        if (n < 0)
            return lbvm_error(1, "%s", err);
        for (int i = 0; i < gone.n; i++)
            fprintf(stderr, "lbvm: left out: %s (for %s)\n", gone.items[i].name,
                    gone.items[i].origin ? gone.items[i].origin : "?");
        if (n)
            fprintf(stderr, "lbvm: %d distfile%s left out (--allow-missing): a run stops at the first step that needs one\n",
                    n, n == 1 ? "" : "s");
        fetch_list_free(&gone);
    }
    if (build_all(&o, out, err, sizeof err) < 0)
        return lbvm_error(1, "%s", err);
    for (int i = 0; i < 2; i++)
        printf("%s: %llu bytes, sha256 %s\n", out[i].path, (unsigned long long)out[i].size, out[i].sha256);
    return 0;
}
