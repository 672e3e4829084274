/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `lbvm build` (see build.h and docs/build.md): sysa's initramfs and sysc's
 * disk from a live-bootstrap checkout and the distfile cache, without root.
 *
 * The disk's ext4 is made by the host's mke2fs straight into the partition of
 * the image (-E offset=), then debugfs sets what mke2fs copies from the host
 * (owners, modes, times) to fixed values. Both run with a clean environment:
 * LC_ALL=C (mke2fs -d sorts with alphasort), our own mke2fs.conf (the host's
 * /etc/mke2fs.conf cannot change the features), and fixed times. */
#include "steps/build.h"
#include "base/platform.h"
#include "base/util.h"
#include "steps/current.h"
#include "steps/stage0.h"
#include "boot/initramfs.h"
#include "seeds/seeds.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1ULL << 20)

/* Where things are in a live-bootstrap checkout. */
#define STAGE0_DIR BUILD_STAGE0_DIR
#define SEED_DIR "bootstrap-seeds/POSIX/x86"
#define STAGE0_SEED_DEST SEED_DIR   /* the same place in the initramfs (stage0-posix is its root) */
#define FS_BLOCK 4096u

static char *pjoin(const char *a, const char *b)
{
    return lbvm_strdup_printf("%s/%s", a, b);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int build_read_sources(const char *sysdir, FetchList *l, char *err, size_t errlen)
{
    DIR *d = opendir(sysdir);
    if (!d)
        return lbvm_set_err(err, errlen, "cannot read folder %s: %s", sysdir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = lbvm_set_err(err, errlen, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = lbvm_set_err(err, errlen, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);   /* byte order, not the locale's */
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *dir = pjoin(sysdir, names[i]);
        char *src = dir ? pjoin(dir, "sources") : NULL;
        struct stat st;
        if (!src)
            rc = lbvm_set_err(err, errlen, "out of memory");
        else if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && stat(src, &st) == 0 && S_ISREG(st.st_mode))
            rc = fetch_list_add_file(l, src, err, errlen);
        free(dir);
        free(src);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* path holds the distfile `name` with SHA-256 `sha` (any case)? */
static int verify_file(const char *path, const char *name, const char *sha, const char *where, char *err,
                       size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return lbvm_set_err(err, errlen, "distfile %s is missing from %s (lbvm fetch downloads it; --allow-missing builds without it)", name, where);
        return lbvm_set_err(err, errlen, "distfile %s: cannot use %s: %s", name, path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return lbvm_set_err(err, errlen, "distfile %s: %s is not a regular file", name, path);
    char got[65];
    if (fetch_sha256_file(path, got) < 0)
        return lbvm_set_err(err, errlen, "distfile %s: cannot read %s: %s", name, path, strerror(errno));
    if (strcasecmp(got, sha))
        return lbvm_set_err(err, errlen, "distfile %s in %s: checksum mismatch (expected %s, got %s)", name, where, sha,
                       got);
    return 0;
}

int build_take_missing(FetchList *l, const char *distdir, FetchList *missing, char *err, size_t errlen)
{
    int kept = 0, moved = 0;
    for (int i = 0; i < l->n; i++) {
        char *p = pjoin(distdir, l->items[i].name);
        struct stat st;
        if (!p)
            return lbvm_set_err(err, errlen, "out of memory");
        int gone = stat(p, &st) != 0 && errno == ENOENT;
        free(p);
        if (gone) {
            FetchItem *ni = realloc(missing->items, (size_t)(missing->n + 1) * sizeof *ni);
            if (!ni)
                return lbvm_set_err(err, errlen, "out of memory");
            missing->items = ni;
            ni[missing->n++] = l->items[i];   /* the strings move with it */
            moved++;
        } else {
            l->items[kept++] = l->items[i];
        }
    }
    l->n = kept;
    return moved;
}

int build_verify_distfiles(const FetchList *l, const char *distdir, char *err, size_t errlen)
{
    for (int i = 0; i < l->n; i++) {
        char *p = pjoin(distdir, l->items[i].name);
        if (!p)
            return lbvm_set_err(err, errlen, "out of memory");
        int rc = verify_file(p, l->items[i].name, l->items[i].sha256, distdir, err, errlen);
        free(p);
        if (rc)
            return rc;
    }
    return 0;
}

static const char *distdir_or_default(const char *distdir, char *buf, size_t len, char *err, size_t errlen)
{
    if (distdir)
        return distdir;
    if (fetch_default_distdir(buf, len) < 0) {
        lbvm_set_err(err, errlen, "no distfile cache: set HOME or XDG_CACHE_HOME, or give --distdir");
        return NULL;
    }
    return buf;
}

int build_list_missing(const char *tree, const char *distdir, FetchList *missing, char *err, size_t errlen)
{
    char dd[4096];
    if (!(distdir = distdir_or_default(distdir, dd, sizeof dd, err, errlen)))
        return -1;
    int total = 0;
    static const char *const systems[] = { "sysa", "sysc" };
    if (build_tree_is_current(tree)) {
        FetchList l = { 0 };
        int rc = build_list_sources(tree, &l, err, errlen);
        if (!rc)
            rc = build_take_missing(&l, distdir, missing, err, errlen);
        fetch_list_free(&l);
        return rc;
    }
    for (int i = 0; i < 2; i++) {
        FetchList l = { 0 };
        char *dir = pjoin(tree, systems[i]);
        int rc = dir ? build_read_sources(dir, &l, err, errlen) : lbvm_set_err(err, errlen, "out of memory");
        if (!rc)
            rc = build_take_missing(&l, distdir, missing, err, errlen);
        free(dir);
        fetch_list_free(&l);
        if (rc < 0)
            return -1;
    }
    /* a file both systems list (sysa and sysc share some) is named once */
    for (int i = 0; i < missing->n; i++) {
        int dup = 0;
        for (int k = 0; k < total && !dup; k++)
            dup = !strcmp(missing->items[k].name, missing->items[i].name);
        if (dup)
            fetch_item_free(&missing->items[i]);
        else
            missing->items[total++] = missing->items[i];
    }
    missing->n = total;
    return total;
}

/* ---- what kind of tree ------------------------------------------------------- */

int build_tree_is_current(const char *tree)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/sysa", tree);
    struct stat st;
    return !(stat(p, &st) == 0 && S_ISDIR(st.st_mode)) && current_is_tree(tree);
}

int build_list_sources(const char *tree, FetchList *l, char *err, size_t errlen)
{
    if (build_tree_is_current(tree)) {
        CurrentTree t;
        if (current_load(tree, &t, err, errlen) < 0)
            return -1;
        int rc = current_sources(tree, &t, l, err, errlen);
        current_free(&t);
        return rc;
    }
    static const char *const systems[] = { "sysa", "sysc" };
    for (int i = 0; i < 2; i++) {
        char *dir = pjoin(tree, systems[i]);
        int rc = dir ? build_read_sources(dir, l, err, errlen) : lbvm_set_err(err, errlen, "out of memory");
        free(dir);
        if (rc)
            return -1;
    }
    return 0;
}

int build_check_tree(const char *tree, int own_seeds, char *err, size_t errlen)
{
    char p[4200];
    if (!lbvm_is_dir(tree))
        return lbvm_set_err(err, errlen, "--tree %s is not a folder", tree);
    snprintf(p, sizeof p, "%s/sysa", tree);
    if (!lbvm_is_dir(p)) {
        if (current_is_tree(tree))
            return current_check_tree(tree, own_seeds, err, errlen);   /* seed/ and steps/ (steps/current.h) */
        return lbvm_set_err(err, errlen, "%s is not a live-bootstrap checkout (no sysa/, nor seed/ and steps/)", tree);
    }
    /* stage0-posix itself, then those of its submodules (its .gitmodules)
     * that the x86 phase runs */
    /* bootstrap-seeds last: --seeds lbvm does not need it */
    static const char *const used[] = { "x86", "M2-Planet", "mescc-tools", "M2libc", "mescc-tools-extra",
                                        "M2-Mesoplanet", "bootstrap-seeds" };
    snprintf(p, sizeof p, "%s/" STAGE0_DIR, tree);
    return stage0_check_checkout(p, tree, used, sizeof used / sizeof used[0] - (own_seeds ? 1 : 0), err, errlen);
}

/* ---- the sysa initramfs ---------------------------------------------------- */


/* sysa/bootstrap.cfg, as rootfs.py writes it for a QEMU run whose sysc disk is
 * made outside (partition 1 of the first disk); JOBS=1: one CPU. */
static const char bootstrap_cfg[] =
    "FORCE_TIMESTAMPS=False\n"
    "CHROOT=False\n"
    "CHROOT_ONLY_SYSA=False\n"
    "UPDATE_CHECKSUMS=False\n"
    "JOBS=1\n"
    "DISK=sda1\n"
    "KERNEL_BOOTSTRAP=False\n"
    "BUILD_KERNELS=False\n";

typedef struct {
    char **v;
    size_t n, cap;
} Pool;

static char *pool_keep(Pool *p, char *s)
{
    if (!s)
        return NULL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            free(s);
            return NULL;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = s;
    return s;
}

static void pool_free(Pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}

static int need(const char *path, int want_dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return lbvm_set_err(err, errlen, "%s: %s (is --tree a live-bootstrap checkout with its submodules?)", path,
                       strerror(errno));
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return lbvm_set_err(err, errlen, "%s is not a %s", path, want_dir ? "folder" : "regular file");
    return 0;
}

static int write_initramfs(const char *tree, const FetchList *sysa, const char *distdir, int own_seeds,
                           const char *out_path, int64_t mtime, char *err, size_t errlen)
{
    static const char *const skip_git[] = { ".git", NULL };
    static const char *const skip_sys[] = { ".git", "tmp", "distfiles", NULL };
    static const char *const skip_sysb[] = { ".git", "tmp", NULL };
    Pool pool = { 0 };
    InitramfsItem *items = NULL;
    char *seed = NULL;
    size_t seed_len = 0;
    int rc = -1;

    char *stage0 = pool_keep(&pool, pjoin(tree, STAGE0_DIR));
    char *seeds = stage0 ? pool_keep(&pool, pjoin(stage0, SEED_DIR)) : NULL;
    char *hex0 = seeds ? pool_keep(&pool, pjoin(seeds, "hex0-seed")) : NULL;
    char *kaem = seeds ? pool_keep(&pool, pjoin(seeds, "kaem-optional-seed")) : NULL;
    char *kaem_x86 = stage0 ? pool_keep(&pool, pjoin(stage0, "kaem.x86")) : NULL;
    char *kaem_run = stage0 ? pool_keep(&pool, pjoin(stage0, "kaem.run")) : NULL;
    char *sysa_dir = pool_keep(&pool, pjoin(tree, "sysa"));
    char *sysb_dir = pool_keep(&pool, pjoin(tree, "sysb"));
    char *sysc_dir = pool_keep(&pool, pjoin(tree, "sysc"));
    char *after = pool_keep(&pool, pjoin(tree, "sysa/after.kaem"));
    if (!kaem || !kaem_x86 || !kaem_run || !hex0 || !sysa_dir || !sysb_dir || !sysc_dir || !after) {
        lbvm_set_err(err, errlen, "out of memory");
        goto out;
    }
    if (need(sysa_dir, 1, err, errlen) || need(sysb_dir, 1, err, errlen) || need(sysc_dir, 1, err, errlen) ||
        need(stage0, 1, err, errlen) || (!own_seeds && (need(hex0, 0, err, errlen) || need(kaem, 0, err, errlen))) ||
        need(after, 0, err, errlen))
        goto out;
    if (access(kaem_x86, F_OK) != 0 && access(kaem_run, F_OK) != 0) {
        lbvm_set_err(err, errlen, "%s has neither kaem.x86 nor kaem.run (the script /init runs)", stage0);
        goto out;
    }
    if (!own_seeds && !(seed = lbvm_read_file(kaem, 1 << 20, &seed_len, err, errlen)))
        goto out;

    int cap = 16 + sysa->n, n = 0;
    items = calloc((size_t)cap, sizeof *items);
    if (!items) {
        lbvm_set_err(err, errlen, "out of memory");
        goto out;
    }
    /* stage0-posix at the root, the seeds at their places in it */
    items[n++] = (InitramfsItem){ .dest = "", .src = stage0, .skip = skip_git, .normalize = 1 };
    if (own_seeds) {
        /* lbvm's seeds in the tree's places (later items override earlier ones) */
        items[n++] = (InitramfsItem){ .dest = STAGE0_SEED_DEST "/hex0-seed", .mode = S_IFREG | 0755,
                                      .data = lbvm_seed_hex0, .size = lbvm_seed_hex0_len };
        items[n++] = (InitramfsItem){ .dest = STAGE0_SEED_DEST "/kaem-optional-seed", .mode = S_IFREG | 0755,
                                      .data = lbvm_seed_kaem, .size = lbvm_seed_kaem_len };
    }
    /* kaem-optional-seed as /init: always executable */
    items[n++] = (InitramfsItem){ .dest = "init", .mode = S_IFREG | 0755,
                                  .data = own_seeds ? (const void *)lbvm_seed_kaem : seed,
                                  .size = own_seeds ? lbvm_seed_kaem_len : seed_len };
    /* stage0-posix's hook into live-bootstrap */
    items[n++] = (InitramfsItem){ .dest = "after.kaem", .src = after, .normalize = 1 };
    items[n++] = (InitramfsItem){ .dest = "sysa", .src = sysa_dir, .skip = skip_sys, .normalize = 1 };
    items[n++] = (InitramfsItem){ .dest = "sysa/bootstrap.cfg", .mode = S_IFREG | 0644, .data = bootstrap_cfg,
                                  .size = sizeof bootstrap_cfg - 1 };
    items[n++] = (InitramfsItem){ .dest = "sysa/distfiles", .mode = S_IFDIR | 0755 };
    for (int i = 0; i < sysa->n; i++) {
        char *dest = pool_keep(&pool, pjoin("sysa/distfiles", sysa->items[i].name));
        char *src = pool_keep(&pool, pjoin(distdir, sysa->items[i].name));
        if (!dest || !src) {
            lbvm_set_err(err, errlen, "out of memory");
            goto out;
        }
        items[n++] = (InitramfsItem){ .dest = dest, .src = src, .normalize = 1 };
    }
    items[n++] = (InitramfsItem){ .dest = "sysb", .src = sysb_dir, .skip = skip_sysb, .normalize = 1 };
    items[n++] = (InitramfsItem){ .dest = "sysc", .src = sysc_dir, .skip = skip_sys, .normalize = 1 };
    /* the kernel opens /dev/console for /init's stdin, stdout and stderr */
    items[n++] = (InitramfsItem){ .dest = "dev", .mode = S_IFDIR | 0755 };
    items[n++] = (InitramfsItem){ .dest = "dev/console", .mode = S_IFCHR | 0600, .rdev_major = 5, .rdev_minor = 1 };
    rc = initramfs_write_items(out_path, items, n, mtime, err, errlen);
out:
    free(items);
    free(seed);
    pool_free(&pool);
    return rc;
}

int build_initramfs(const char *tree, const char *distdir, const char *out_path, int64_t mtime, char *err,
                    size_t errlen)
{
    char dd[4096];
    if (!tree || !out_path)
        return lbvm_set_err(err, errlen, "build_initramfs: no tree or output given");
    if (!(distdir = distdir_or_default(distdir, dd, sizeof dd, err, errlen)))
        return -1;
    FetchList l = { 0 };
    char *sysa = pjoin(tree, "sysa");
    int rc = sysa ? 0 : lbvm_set_err(err, errlen, "out of memory");
    if (!rc)
        rc = build_read_sources(sysa, &l, err, errlen);
    if (!rc)
        rc = build_verify_distfiles(&l, distdir, err, errlen);
    if (!rc)
        rc = write_initramfs(tree, &l, distdir, 0, out_path, mtime, err, errlen);
    free(sysa);
    fetch_list_free(&l);
    return rc;
}

/* ---- the sysc disk ----------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* CHS address of a sector in the usual 255-head, 63-sector geometry; past
 * cylinder 1023 the maximum (the LBA fields are what counts). */
static void chs(uint8_t out[3], uint64_t lba)
{
    uint64_t c = lba / (255 * 63);
    if (c > 1023) {
        out[0] = 0xfe;
        out[1] = 0xff;
        out[2] = 0xff;
        return;
    }
    unsigned h = (unsigned)(lba / 63 % 255), s = (unsigned)(lba % 63 + 1);
    out[0] = (uint8_t)h;
    out[1] = (uint8_t)(s | ((c >> 2) & 0xc0));
    out[2] = (uint8_t)c;
}

int build_mbr(uint8_t mbr[512], uint64_t disk_bytes, uint32_t disk_id)
{
    memset(mbr, 0, 512);
    if (disk_bytes % 512)
        return -1;
    uint64_t sectors = disk_bytes / 512;
    if (sectors <= BUILD_PART_START_LBA || sectors - BUILD_PART_START_LBA > 0xffffffffULL)
        return -1;
    put32(mbr + 440, disk_id);                       /* disk identifier; 444-445 stay 0 */
    uint8_t *e = mbr + 446;                          /* partition 1 */
    e[0] = 0x00;                                     /* not bootable */
    chs(e + 1, BUILD_PART_START_LBA);
    e[4] = 0x83;                                     /* Linux */
    chs(e + 5, sectors - 1);
    put32(e + 8, BUILD_PART_START_LBA);
    put32(e + 12, (uint32_t)(sectors - BUILD_PART_START_LBA));
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    return 0;
}

int build_find_tool(const char *name, char *buf, size_t len)
{
    const char *path = getenv("PATH");
    char *copy = strdup(path && *path ? path : "/usr/bin:/bin");
    if (!copy)
        return -1;
    int found = 0;
    char *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        struct stat st;
        int n = snprintf(buf, len, "%s/%s", *d ? d : ".", name);
        found = n > 0 && (size_t)n < len && stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0;
    }
    free(copy);
    static const char *const sbins[] = { "/sbin", "/usr/sbin" };
    for (int i = 0; i < 2 && !found; i++) {
        struct stat st;
        int n = snprintf(buf, len, "%s/%s", sbins[i], name);
        found = n > 0 && (size_t)n < len && stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0;
    }
    return found ? 0 : -1;
}

/* Runs argv[0] (a full path) in folder dir with environment envp, stdout to
 * /dev/null; its stderr (up to outlen - 1 bytes) in out. Returns the exit
 * status, or -1 if it could not run or died of a signal. */
static int run_tool(const char *dir, char *const argv[], char *const envp[], char *out, size_t outlen)
{
    int pfd[2];
    out[0] = 0;
    if (host_pipe(pfd) != 0)
        return -1;
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    HostSpawn sp = { .exe = argv[0], .argv = argv, .envp = envp, .dir = dir, .fd_in = nul, .fd_out = nul,
                     .fd_err = pfd[1] };
    long pid = nul < 0 ? -1 : host_spawn(&sp);
    if (nul >= 0)
        close(nul);
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    close(pfd[1]);
    size_t got = 0;
    char sink[4096];
    for (;;) {
        char *to = got + 1 < outlen ? out + got : sink;
        size_t room = got + 1 < outlen ? outlen - 1 - got : sizeof sink;
        ssize_t k = read(pfd[0], to, room);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        if (to != sink)
            got += (size_t)k;
    }
    out[got] = 0;
    close(pfd[0]);
    HostExit ex;
    while (host_wait(pid, true, &ex) < 0)
        if (errno != EINTR)
            return -1;
    return ex.exited ? ex.code : -1;
}

/* The first line of a tool's stderr that is not its version banner ("mke2fs 1.47.0 (5-Feb-2023)"). */
static const char *tool_message(char *out, const char *tool)
{
    size_t tl = strlen(tool);
    for (char *line = out; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        int banner = !strncmp(line, tool, tl) && line[tl] == ' ' && isdigit((unsigned char)line[tl + 1]);
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!banner && *p)
            return p;
        if (!nl)
            break;
        line = nl + 1;
    }
    return "";
}

/* The mke2fs.conf the disk is made with (the host's is not read): Debian 12's
 * ext4 defaults, all supported by the Linux 4.9 kernel sysb runs. */
static const char mke2fs_conf[] =
    "[defaults]\n"
    "\tbase_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr\n"
    "\tdefault_mntopts = acl,user_xattr\n"
    "\tenable_periodic_fsck = 0\n"
    "\tblocksize = 4096\n"
    "\tinode_size = 256\n"
    "\tinode_ratio = 16384\n"
    "\treserved_ratio = 5.0\n"
    "\n"
    "[fs_types]\n"
    "\text4 = {\n"
    "\t\tfeatures = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize\n"
    "\t}\n";

static int write_text(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, text + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)k;
    }
    return close(fd);
}

/* dst = a copy of src (a new file), in the host's fastest way. */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    int rc = host_copy_fd(in, out);
    close(in);
    if (close(out) != 0)
        rc = -1;
    return rc;
}

static void rm_tree(const char *dir)
{
    host_remove_tree(dir);
}

static int mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

static void sha256_bytes(const void *data, size_t len, uint8_t md[32])
{
    unsigned int mdlen = 32;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
}

/* The disk's identities, derived from what it holds: a fs UUID, a directory
 * hash seed (both as UUID text, version 8 "custom"), an MBR disk identifier. */
typedef struct {
    char uuid[37];
    char hash_seed[37];
    uint32_t disk_id;
} DiskIds;

static void uuid_text(char out[37], const uint8_t b[16])
{
    uint8_t u[16];
    memcpy(u, b, 16);
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x80);   /* version 8 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
             u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static int item_ptr_cmp(const void *a, const void *b)
{
    return strcmp((*(const FetchItem *const *)a)->name, (*(const FetchItem *const *)b)->name);
}

static int derive_ids(DiskIds *ids, uint64_t size, int64_t epoch, const FetchItem *const *sorted, int n)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t root[32], md[32], num[16];
    unsigned int l = 32;
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(c);
        return -1;
    }
    static const char tag[] = "lbvm sysc disk v1";
    EVP_DigestUpdate(c, tag, sizeof tag);
    for (int i = 0; i < 8; i++) {
        num[i] = (uint8_t)(size >> (8 * i));
        num[8 + i] = (uint8_t)((uint64_t)epoch >> (8 * i));
    }
    EVP_DigestUpdate(c, num, sizeof num);
    for (int i = 0; i < n; i++) {
        char sha[65];
        for (int j = 0; j < 64; j++)
            sha[j] = (char)tolower((unsigned char)sorted[i]->sha256[j]);
        sha[64] = 0;
        EVP_DigestUpdate(c, sorted[i]->name, strlen(sorted[i]->name) + 1);
        EVP_DigestUpdate(c, sha, 65);
    }
    int ok = EVP_DigestFinal_ex(c, root, &l);
    EVP_MD_CTX_free(c);
    if (!ok)
        return -1;
    uint8_t in[33];
    memcpy(in, root, 32);
    in[32] = 'u';
    sha256_bytes(in, 33, md);
    uuid_text(ids->uuid, md);
    in[32] = 'h';
    sha256_bytes(in, 33, md);
    uuid_text(ids->hash_seed, md);
    in[32] = 'm';
    sha256_bytes(in, 33, md);
    ids->disk_id = (uint32_t)md[0] | (uint32_t)md[1] << 8 | (uint32_t)md[2] << 16 | (uint32_t)md[3] << 24;
    if (!ids->disk_id)
        ids->disk_id = 1;
    return 0;
}

/* A name debugfs can take inside double quotes. */
static int debugfs_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

/* debugfs commands that give inode `spec` fixed times (and owner and mode). */
static void fix_inode(FILE *f, const char *spec, int64_t epoch, int own, const char *mode)
{
    static const char *const t[] = { "atime", "mtime", "ctime", "crtime" };
    for (int i = 0; i < 4; i++)   /* nanoseconds and epoch bits first, then the seconds (which set the epoch bits) */
        fprintf(f, "sif %s %s_extra 0\n", spec, t[i]);
    for (int i = 0; i < 4; i++)
        fprintf(f, "sif %s %s @%lld\n", spec, t[i], (long long)epoch);
    if (own)
        fprintf(f, "sif %s uid 0\nsif %s gid 0\n", spec, spec);
    if (mode)
        fprintf(f, "sif %s mode %s\n", spec, mode);
}

/* mke2fs's version as major * 1000 + minor (1.47.0 -> 1047), or 0. */
static int mke2fs_version(const char *mke2fs, char *const envp[])
{
    char out[1024];
    char *argv[] = { (char *)mke2fs, "-V", NULL };
    run_tool(".", argv, envp, out, sizeof out);
    const char *p = strstr(out, "mke2fs ");
    int maj = 0, min = 0;
    if (!p || sscanf(p + 7, "%d.%d", &maj, &min) != 2)
        return 0;
    return maj * 1000 + min;
}

/* One disk being made by disk_from_verified: its inputs, the tools, and
 * the staging folder beside the output. */
typedef struct DiskBuild {
    const char *out_path, *distdir;
    uint64_t size;
    int64_t epoch;
    int verify;
    char mke2fs[4096], debugfs[4096], e2fsck[4096];
    int have_fsck;
    const FetchItem **sorted;   /* the distfiles by name */
    int n;
    DiskIds ids;
    char *stage, *image, *rootd, *distd, *conf, *cmds;
    int img;
    char fake[32], sde[32], cfg[64];
    char *envp[7];
} DiskBuild;

/* Size and timestamp the disk can have. */
static int disk_check_args(uint64_t size, int64_t epoch, char *err, size_t errlen)
{
    if (size % 512)
        return lbvm_set_err(err, errlen, "disk size %llu is not a multiple of 512 bytes", (unsigned long long)size);
    if (size < BUILD_MIN_DISK_SIZE)
        return lbvm_set_err(err, errlen, "disk size %llu is too small (at least 16M)", (unsigned long long)size);
    if (size / 512 - BUILD_PART_START_LBA > 0xffffffffULL)
        return lbvm_set_err(err, errlen, "disk size %llu is too large for an msdos partition table (at most 2T)",
                       (unsigned long long)size);
    if (epoch < 0 || epoch > (int64_t)UINT32_MAX)
        return lbvm_set_err(err, errlen, "timestamp %lld is out of range", (long long)epoch);
    return 0;
}

/* mke2fs and debugfs (needed), e2fsck (used when there). */
static int disk_find_tools(DiskBuild *d, char *err, size_t errlen)
{
    if (build_find_tool("mke2fs", d->mke2fs, sizeof d->mke2fs) < 0 ||
        build_find_tool("debugfs", d->debugfs, sizeof d->debugfs) < 0)
        return lbvm_set_err(err, errlen, "mke2fs or debugfs not found on PATH, /sbin or /usr/sbin: install e2fsprogs "
                       "(scripts/setup.sh does)");
    d->have_fsck = build_find_tool("e2fsck", d->e2fsck, sizeof d->e2fsck) == 0;
    return 0;
}

/* The distfiles sorted by name (names debugfs can take only), and the
 * disk's identifiers derived from them. */
static int disk_sort_files(DiskBuild *d, const FetchList *files, char *err, size_t errlen)
{
    d->sorted = calloc((size_t)files->n + 1, sizeof *d->sorted);
    if (!d->sorted)
        return lbvm_set_err(err, errlen, "out of memory");
    for (int i = 0; i < files->n; i++) {
        d->sorted[i] = &files->items[i];
        if (!debugfs_safe(files->items[i].name))
            return lbvm_set_err(err, errlen, "distfile name '%s' cannot be put on the disk", files->items[i].name);
    }
    d->n = files->n;
    if (files->n)
        qsort(d->sorted, (size_t)files->n, sizeof *d->sorted, item_ptr_cmp);
    if (derive_ids(&d->ids, d->size, d->epoch, d->sorted, files->n) < 0)
        return lbvm_set_err(err, errlen, "cannot hash the disk's contents");
    return 0;
}

/* Everything is made in a folder beside the output (same file system, so
 * the final rename is atomic); the tools run inside it and see only
 * relative names: the output's own name may hold '?', which e2fsprogs
 * reads as the start of I/O options. -1 before the folder exists leaves
 * d->stage NULL. */
static int disk_make_stage(DiskBuild *d, char *err, size_t errlen)
{
    char *stage = lbvm_strdup_printf("%s.tmp.XXXXXX", d->out_path);
    if (!stage)
        return lbvm_set_err(err, errlen, "out of memory");
    if (!mkdtemp(stage)) {
        lbvm_set_err(err, errlen, "cannot create a folder beside %s: %s", d->out_path, strerror(errno));
        free(stage);
        return -1;
    }
    d->stage = stage;
    d->image = pjoin(stage, "image");
    d->rootd = pjoin(stage, "root");
    d->distd = pjoin(stage, "root/distfiles");
    d->conf = pjoin(stage, "mke2fs.conf");
    d->cmds = pjoin(stage, "debugfs.cmd");
    if (!d->image || !d->rootd || !d->distd || !d->conf || !d->cmds)
        return lbvm_set_err(err, errlen, "out of memory");
    if (mkdir(d->rootd, 0755) != 0 || mkdir(d->distd, 0755) != 0 ||
        write_text(d->conf, mke2fs_conf, sizeof mke2fs_conf - 1) != 0)
        return lbvm_set_err(err, errlen, "cannot write in %s: %s", stage, strerror(errno));
    return 0;
}

/* The distfiles: hard links where possible (no copy), else copies;
 * owners, modes and times are fixed later, on the disk. */
static int disk_stage_files(DiskBuild *d, char *err, size_t errlen)
{
    for (int i = 0; i < d->n; i++) {
        const FetchItem *it = d->sorted[i];
        char *src = pjoin(d->distdir, it->name), *dst = pjoin(d->distd, it->name);
        struct stat st;
        int ok = src && dst;
        if (ok && stat(src, &st) != 0) {
            lbvm_set_err(err, errlen, "distfile %s is missing from %s (lbvm fetch downloads it; --allow-missing builds without it)", it->name, d->distdir);
            ok = 0;
        } else if (ok) {
            /* a file already linked elsewhere is copied, so mke2fs never
             * sees two names for one inode and makes a hard link */
            int linked = S_ISREG(st.st_mode) && st.st_nlink == 1 && host_link_new(src, dst) == 0;
            if (!linked && copy_file(src, dst) != 0) {
                lbvm_set_err(err, errlen, "distfile %s: cannot copy %s: %s", it->name, src, strerror(errno));
                ok = 0;
            } else if (d->verify && verify_file(dst, it->name, it->sha256, d->distdir, err, errlen) != 0) {
                ok = 0;
            }
        } else {
            lbvm_set_err(err, errlen, "out of memory");
        }
        free(src);
        free(dst);
        if (!ok)
            return -1;
    }
    return 0;
}

/* The sparse image file, and the tools' fixed environment. */
static int disk_create_image(DiskBuild *d, char *err, size_t errlen)
{
    d->img = open(d->image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (d->img < 0 || fchmod(d->img, 0644) != 0 || ftruncate(d->img, (off_t)d->size) != 0)
        return lbvm_set_err(err, errlen, "cannot create a %llu-byte image in %s: %s", (unsigned long long)d->size,
                            d->stage, strerror(errno));
    /* E2FSPROGS_FAKE_TIME=0 means "now" to e2fsprogs: 1 stands in for 0 (superblock write time only; debugfs
     * sets every inode time and the creation and check times to the epoch). */
    snprintf(d->fake, sizeof d->fake, "E2FSPROGS_FAKE_TIME=%lld", (long long)(d->epoch ? d->epoch : 1));
    snprintf(d->sde, sizeof d->sde, "SOURCE_DATE_EPOCH=%lld", (long long)d->epoch);
    snprintf(d->cfg, sizeof d->cfg, "MKE2FS_CONFIG=./mke2fs.conf");
    char *envp[] = { "LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TZ=UTC", d->cfg, d->fake, d->sde, NULL };
    memcpy(d->envp, envp, sizeof envp);
    return 0;
}

/* mke2fs makes the file system inside the partition, from the staged root. */
static int disk_run_mke2fs(DiskBuild *d, char *err, size_t errlen)
{
    char offopt[512], blocks[32], msg[8192];
    /* assume_storage_prezeroed (1.47+): the sparse file is zeros, so inode
     * tables and journal are neither written nor left for the kernel to zero */
    int ver = mke2fs_version(d->mke2fs, d->envp);
    snprintf(offopt, sizeof offopt, "offset=%llu,hash_seed=%s,root_owner=0:0,nodiscard,%s",
             (unsigned long long)(BUILD_PART_START_LBA * 512ULL), d->ids.hash_seed,
             ver >= 1047 ? "assume_storage_prezeroed=1" : "lazy_itable_init=1,lazy_journal_init=1");
    uint64_t nblocks = (d->size - BUILD_PART_START_LBA * 512ULL) / FS_BLOCK;
    snprintf(blocks, sizeof blocks, "%llu", (unsigned long long)nblocks);
    char *mk_argv[] = { d->mke2fs, "-q", "-F", "-t", "ext4", "-b", "4096", "-U", d->ids.uuid, "-E", offopt,
                        "-d", "root", "image", blocks, NULL };
    int st = run_tool(d->stage, mk_argv, d->envp, msg, sizeof msg);
    if (st != 0) {
        const char *m = tool_message(msg, "mke2fs");
        return lbvm_set_err(err, errlen, "mke2fs failed (%s%d)%s%s", st < 0 ? "signal or exec error " : "exit ", st,
                *m ? ": " : "", m);
    }
    return 0;
}

/* debugfs: fixed owners, modes and times for everything mke2fs took from
 * the host; then e2fsck -fn where there is one. */
static int disk_fix_and_check(DiskBuild *d, char *err, size_t errlen)
{
    char msg[8192];
    FILE *f = fopen(d->cmds, "we");
    if (!f)
        return lbvm_set_err(err, errlen, "cannot write %s: %s", d->cmds, strerror(errno));
    int64_t epoch = d->epoch;
    fprintf(f, "ssv mkfs_time @%lld\nssv lastcheck @%lld\n", (long long)epoch, (long long)epoch);
    fix_inode(f, "<2>", epoch, 1, "040755");       /* root */
    fix_inode(f, "<7>", epoch, 0, NULL);           /* resize inode */
    fix_inode(f, "<8>", epoch, 0, NULL);           /* journal */
    fix_inode(f, "/lost+found", epoch, 1, NULL);
    fix_inode(f, "/distfiles", epoch, 1, "040755");
    for (int i = 0; i < d->n; i++) {
        char spec[4200];
        snprintf(spec, sizeof spec, "\"/distfiles/%s\"", d->sorted[i]->name);
        fix_inode(f, spec, epoch, 1, "0100644");
    }
    if (fclose(f) != 0)
        return lbvm_set_err(err, errlen, "cannot write %s", d->cmds);
    char fsname[64];
    snprintf(fsname, sizeof fsname, "image?offset=%llu", (unsigned long long)(BUILD_PART_START_LBA * 512ULL));
    char *dbg_argv[] = { d->debugfs, "-w", "-f", "debugfs.cmd", fsname, NULL };
    int st = run_tool(d->stage, dbg_argv, d->envp, msg, sizeof msg);
    const char *m = tool_message(msg, "debugfs");
    if (st != 0 || *m)     /* debugfs reports a failed command on stderr only */
        return lbvm_set_err(err, errlen, "debugfs failed (exit %d)%s%s", st, *m ? ": " : "", m);
    if (d->have_fsck) {
        char *ck_argv[] = { d->e2fsck, "-f", "-n", fsname, NULL };
        st = run_tool(d->stage, ck_argv, d->envp, msg, sizeof msg);
        if (st != 0) {
            m = tool_message(msg, "e2fsck");
            return lbvm_set_err(err, errlen, "the new file system fails e2fsck -fn (exit %d)%s%s", st, *m ? ": " : "", m);
        }
    }
    return 0;
}

/* The partition table last (nothing the tools do can touch it), then the
 * image replaces the output atomically. */
static int disk_publish(DiskBuild *d, char *err, size_t errlen)
{
    uint8_t mbr[512];
    build_mbr(mbr, d->size, d->ids.disk_id);
    if (pwrite(d->img, mbr, sizeof mbr, 0) != (ssize_t)sizeof mbr || host_fsync(d->img) != 0)
        return lbvm_set_err(err, errlen, "cannot write %s: %s", d->image, strerror(errno));
    int rc = close(d->img);
    d->img = -1;
    if (rc != 0)
        return lbvm_set_err(err, errlen, "cannot write %s: %s", d->image, strerror(errno));
    if (host_replace(d->image, d->out_path) != 0)
        return lbvm_set_err(err, errlen, "cannot rename %s to %s: %s", d->image, d->out_path, strerror(errno));
    host_fsync_dir_of(d->out_path);
    return 0;
}

static void disk_build_free(DiskBuild *d)
{
    if (d->img >= 0)
        close(d->img);
    if (d->stage)
        rm_tree(d->stage);
    free(d->stage);
    free(d->image);
    free(d->rootd);
    free(d->distd);
    free(d->conf);
    free(d->cmds);
    free(d->sorted);
}

static int disk_from_verified(const char *out_path, uint64_t size, const FetchList *files, const char *distdir,
                              int64_t epoch, int verify, char *err, size_t errlen)
{
    if (disk_check_args(size, epoch, err, errlen) < 0)
        return -1;
    DiskBuild d = { .out_path = out_path, .distdir = distdir, .size = size, .epoch = epoch, .verify = verify,
                    .img = -1 };
    int rc = -1;
    if (disk_find_tools(&d, err, errlen) == 0 && disk_sort_files(&d, files, err, errlen) == 0 &&
        disk_make_stage(&d, err, errlen) == 0 && disk_stage_files(&d, err, errlen) == 0 &&
        disk_create_image(&d, err, errlen) == 0 && disk_run_mke2fs(&d, err, errlen) == 0 &&
        disk_fix_and_check(&d, err, errlen) == 0 && disk_publish(&d, err, errlen) == 0)
        rc = 0;
    disk_build_free(&d);
    return rc;
}

int build_disk(const char *out_path, uint64_t disk_size, const FetchList *files, const char *distdir,
               int64_t epoch, char *err, size_t errlen)
{
    char dd[4096];
    FetchList none = { 0 };
    if (!out_path || !*out_path)
        return lbvm_set_err(err, errlen, "build_disk: no output given");
    if (!(distdir = distdir_or_default(distdir, dd, sizeof dd, err, errlen)))
        return -1;
    return disk_from_verified(out_path, disk_size, files ? files : &none, distdir, epoch, 1, err, errlen);
}

/* ---- both ------------------------------------------------------------------- */

/* SHA-256 of a file that may be sparse: holes (SEEK_HOLE) are hashed as
 * zeros without being read, so an 8 GiB image costs the hashing alone. */
static int sha256_sparse(const char *path, uint64_t *size, char hex[65])
{
    static const uint8_t zeros[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t *buf = malloc(1 << 20);
    int ok = c && buf && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    off_t end = st.st_size, off = 0;
    while (ok && off < end) {
        off_t data = (off_t)host_seek_data(fd, off);
        if (data < 0)
            data = errno == ENXIO ? end : off;       /* ENXIO: only a hole is left; else no SEEK_DATA */
        for (off_t z = off; ok && z < data;) {
            size_t k = data - z < (off_t)sizeof zeros ? (size_t)(data - z) : sizeof zeros;
            ok = EVP_DigestUpdate(c, zeros, k);
            z += (off_t)k;
        }
        if (data >= end)
            break;
        off_t hole = (off_t)host_seek_hole(fd, data);
        if (hole < 0 || hole > end)
            hole = end;
        for (off = data; ok && off < hole;) {
            size_t want = hole - off < (1 << 20) ? (size_t)(hole - off) : (1 << 20);
            ssize_t k = pread(fd, buf, want, off);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                ok = 0;
                if (k == 0)
                    errno = EIO;
                break;
            }
            ok = EVP_DigestUpdate(c, buf, (size_t)k);
            off += k;
        }
    }
    uint8_t md[32];
    unsigned int mdlen = 0;
    int saved = errno;
    ok = ok && EVP_DigestFinal_ex(c, md, &mdlen) && mdlen == 32;
    EVP_MD_CTX_free(c);
    free(buf);
    close(fd);
    if (!ok) {
        errno = saved ? saved : EIO;
        return -1;
    }
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    *size = (uint64_t)end;
    return 0;
}

int build_describe(BuildOutput *o, const char *path, char *err, size_t errlen)
{
    snprintf(o->path, sizeof o->path, "%s", path);
    if (sha256_sparse(path, &o->size, o->sha256) < 0)
        return lbvm_set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return 0;
}

int build_all(const BuildOptions *o, BuildOutput out[2], char *err, size_t errlen)
{
    char dd[4096];
    const char *distdir;
    if (!o || !o->tree || !*o->tree)
        return lbvm_set_err(err, errlen, "no live-bootstrap tree given (--tree DIR)");
    if (!(distdir = distdir_or_default(o->distdir, dd, sizeof dd, err, errlen)))
        return -1;
    if (o->epoch < 0 || o->epoch > (int64_t)UINT32_MAX)
        return lbvm_set_err(err, errlen, "SOURCE_DATE_EPOCH %lld is out of range (0 to 4294967295)",
                       (long long)o->epoch);
    const char *outdir = o->outdir && *o->outdir ? o->outdir : ".";
    uint64_t size = o->disk_size ? o->disk_size : BUILD_DEFAULT_DISK_SIZE;
    if (build_check_tree(o->tree, o->own_seeds, err, errlen) < 0)
        return -1;
    if (build_tree_is_current(o->tree))
        return current_build_all(o, out, NULL, err, errlen);   /* one disk: builder-hex0's (steps/current.h) */

    FetchList sysa = { 0 }, sysc = { 0 };
    char *sysa_dir = pjoin(o->tree, "sysa"), *sysc_dir = pjoin(o->tree, "sysc");
    char *cpio = pjoin(outdir, BUILD_INITRAMFS_NAME), *disk = pjoin(outdir, BUILD_DISK_NAME);
    int rc = sysa_dir && sysc_dir && cpio && disk ? 0 : lbvm_set_err(err, errlen, "out of memory");
    /* every input is checked before anything is written */
    if (!rc)
        rc = build_read_sources(sysa_dir, &sysa, err, errlen);
    if (!rc)
        rc = build_read_sources(sysc_dir, &sysc, err, errlen);
    if (!rc && o->allow_missing) {
        FetchList gone = { 0 };
        if (build_take_missing(&sysa, distdir, &gone, err, errlen) < 0 ||
            build_take_missing(&sysc, distdir, &gone, err, errlen) < 0)
            rc = -1;
        fetch_list_free(&gone);
    }
    if (!rc)
        rc = build_verify_distfiles(&sysa, distdir, err, errlen);
    if (!rc)
        rc = build_verify_distfiles(&sysc, distdir, err, errlen);
    if (!rc && mkdir_p(outdir) != 0)
        rc = lbvm_set_err(err, errlen, "cannot create output folder %s: %s", outdir, strerror(errno));
    if (!rc)
        rc = write_initramfs(o->tree, &sysa, distdir, o->own_seeds, cpio, o->epoch, err, errlen);
    if (!rc)
        rc = disk_from_verified(disk, size, &sysc, distdir, o->epoch, 0, err, errlen);
    if (!rc)
        rc = build_describe(&out[0], cpio, err, errlen);
    if (!rc)
        rc = build_describe(&out[1], disk, err, errlen);
    fetch_list_free(&sysa);
    fetch_list_free(&sysc);
    free(sysa_dir);
    free(sysc_dir);
    free(cpio);
    free(disk);
    return rc;
}
