/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reproducible initramfs writer: a newc ("070701") cpio archive, the format
 * the kernel unpacks into rootfs (Documentation/driver-api/early-userspace/
 * buffer-format.rst). */
#ifndef LBVM_INITRAMFS_H
#define LBVM_INITRAMFS_H
#include <stddef.h>
#include <stdint.h>

/* Write the union of the directory trees dirs[0..n_dirs-1] to out_path (a path
 * present in a later dir overrides the same path in an earlier one; the dirs
 * themselves are the archive root and are not entries). The bytes depend only on
 * the trees' names, types, permission bits, contents, symlink targets and device
 * numbers: entries sorted by path (parents first), every mtime = mtime, owner
 * 0:0, inode numbers 1, 2, ... in that order, no host names.
 * The file appears atomically (temporary file beside it, fsync, rename).
 * Returns 0, or -1 with a one-line message in err (errlen bytes, may be 0) and
 * no temporary file left behind. */
int initramfs_write(const char *out_path, const char *const *dirs, int n_dirs, int64_t mtime,
                    char *err, size_t errlen);

/* One piece of an archive made by initramfs_write_items(): a host path placed
 * at an archive path, or a node that exists only in the archive. */
typedef struct InitramfsItem {
    const char *dest;       /* path in the archive, '/'-separated, no "." or ".." parts;
                             * "" (or "/") is the root, allowed only for a directory src */
    const char *src;        /* host path (followed if a symlink): a directory (entry dest,
                             * then everything below it, symlinks kept), or a file,
                             * device node or fifo (one entry); NULL: a node made from
                             * the fields below */
    uint32_t mode;          /* src == NULL: S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK or
                             * S_IFIFO | permission bits */
    uint32_t rdev_major;    /* src == NULL, S_IFCHR / S_IFBLK: the device number */
    uint32_t rdev_minor;
    const void *data;       /* src == NULL: S_IFREG content, or S_IFLNK target */
    size_t size;            /* bytes at data */
    const char *const *skip;/* directory src: names (NULL-terminated list) left out at
                             * every depth, with their subtrees; NULL for none */
    int normalize;          /* host modes become 0755 (directories, and files with any
                             * execute bit) or 0644, so a umask or a checkout's modes do
                             * not reach the archive */
} InitramfsItem;

/* Like initramfs_write, for a list of items: a later item overrides an earlier
 * one at the same path (a non-directory replacing a directory drops its
 * subtree), and an archive path's missing parent directories are added with
 * mode 0755. Same ordering, owners, mtime, inode numbers and atomic write. */
int initramfs_write_items(const char *out_path, const InitramfsItem *items, int n_items, int64_t mtime,
                          char *err, size_t errlen);

#endif
