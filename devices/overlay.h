/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copy-on-write overlay disks for checkpoints. A read-only base image, then
 * frozen layer files (oldest first, each holding the 64 KiB blocks written
 * during one checkpoint interval), then one live overlay file that takes all
 * new writes. Freezing turns the live file into a new layer by renaming it,
 * so a checkpoint never copies the disk. File format and digests:
 * docs/disk-overlay.md. The Disk it returns works with every disk_*() call;
 * disk_flush() fsyncs the live overlay. */
#ifndef LBVM_OVERLAY_H
#define LBVM_OVERLAY_H
#include <stddef.h>
#include <stdint.h>

#include "devices/disk.h"

#define DISK_OVERLAY_BLOCK_SIZE 65536   /* == DISK_DIGEST_BLOCK_SIZE */

/* Opens base_path read-only (its size, a positive multiple of 512, is the
 * disk's size), opens and validates layers[0..n_layers-1] (oldest first,
 * read-only), and creates live_path empty, replacing any file of that name
 * (the name is swapped by rename, so an old inode is never truncated). The
 * live path may not be the base or one of the layers. NULL with a one-line
 * message naming the offending file in err on failure. */
Disk *disk_open_overlay(const char *base_path, const char *const *layers, int n_layers, const char *live_path,
                        char *err, size_t errlen);

/* Makes the live overlay an immutable layer at frozen_path: appends its
 * index and footer, fsyncs it, hard-links it to frozen_path (an existing
 * frozen_path is refused, never replaced), swaps a fresh empty live file in at
 * the live path and fsyncs the directories. digest receives the SHA-256 of
 * the frozen file's bytes. The layer joins the disk's layer list. On failure
 * -1 with a message; the disk then continues with the same live overlay
 * (unless the very last step failed, which the message says). */
int disk_overlay_freeze(Disk *d, const char *frozen_path, uint8_t digest[32], char *err, size_t errlen);

/* disk_fd_digest() of the base image, computed once through the open
 * descriptor and cached (disk_content_digest() uses the same value). For a
 * checkpoint's "base unchanged" check without reading the base twice. */
int disk_overlay_base_digest(Disk *d, uint8_t out[32], char *err, size_t errlen);

/* Number of frozen layers the disk currently has (given + frozen since). */
int disk_overlay_layer_count(const Disk *d);

/* Checks one layer file on its own: everything disk_open_overlay checks
 * (base_size 0: accept any base size), and with check_data also every data
 * block against the SHA-256 its index entry records. 0, or -1 and a message. */
int disk_layer_check(const char *path, uint64_t base_size, int check_data, char *err, size_t errlen);
#endif
