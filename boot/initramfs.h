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

#endif
