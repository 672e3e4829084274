/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What bundle.c and bundle_make.c share. */
#ifndef LBVM_BUNDLE_PRIV_H
#define LBVM_BUNDLE_PRIV_H
#include "audit/bundle.h"
#include "base/util.h"

void bundle_hex(const uint8_t *b, int n, char *out);
int bundle_unhex(const char *s, uint8_t out[32]);
/* SHA-256 of a file's bytes (and its size). 0 or -1 with a message. */
int bundle_sha256_file(const char *path, uint8_t out[32], uint64_t *size, char *err, size_t errlen);
/* How many key= values the journal's boot line has (disk=, module= repeat). */
int bundle_boot_count(const char *boot, const char *key);
/* The digest of the boot line's nth key= value (kernel-sha256, module-sha256:
 * 64 hex digits). 0, or -1 if there is none. */
int bundle_boot_digest(const char *boot, const char *key, int nth, uint8_t out[32]);
/* Per segment, the SHA-256 of the journal lines it covers (bundle.c);
 * cut[i]: the journal ends before segment i does. Returns the number of
 * points, or -1. */
int bundle_journal_slices(const char *path, const BundleSegment *segs, int n, uint8_t (*out)[32], bool *cut,
                          char *err, size_t errlen);
#endif
