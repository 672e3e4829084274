/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers every command shares: the one-line error, number parsing. */
#ifndef LBVM_UTIL_H
#define LBVM_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* Prints "lbvm: MESSAGE" and a newline on stderr (after flushing stdout, so
 * the two stay in order on a terminal); returns code. */
int lbvm_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Formats a one-line message into err (newlines become spaces); returns -1. */
int lbvm_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct option;
/* After getopt_long (opterr = 0) returned '?': "lbvm: missing value for
 * option 'X'" when optopt names an option that takes a value (in shortopts
 * or the long table), else "unknown option 'X'", with "(see 'lbvm CMD--help')"
 * where cmd is "" or "build " etc. Returns code. */
int lbvm_bad_option(int code, int argc, char **argv, const char *shortopts, const struct option *longopts,
                    const char *cmd);
/* A new string formatted as by printf (free it), or NULL. */
char *lbvm_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The first occurrence of needle in hay, or NULL (C11 has none). */
const void *lbvm_memmem(const void *hay, size_t hlen, const void *needle, size_t nlen);
/* Reads a whole regular file of at most max bytes into a new buffer (NUL
 * appended, not counted in *len). NULL with a one-line message naming path
 * ("cannot read", "not a file", "larger than"). */
char *lbvm_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);
/* Path facts (stat, following links): a folder; a regular file; a folder
 * that is missing or holds nothing (how git leaves a submodule that was not
 * checked out). */
int lbvm_is_dir(const char *path);
int lbvm_is_file(const char *path);
int lbvm_dir_empty(const char *path);
/* Removes a temporary folder of files (no subfolders), without a shell:
 * its name may come from $TMPDIR. 0, or -1. */
int lbvm_remove_flat_dir(const char *dir);
/* Decimal digits only (no sign, no spaces). 0, or -1. */
int lbvm_parse_u64(const char *s, uint64_t *out);
/* Digits with an optional K, M, G or T suffix (powers of 1024). 0, or -1. */
int lbvm_parse_size(const char *s, uint64_t *out);
#endif
