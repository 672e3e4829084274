/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lbvm verify BUNDLE --jobs N: the process fan-out. Every segment runs in
 * its own `lbvm verify BUNDLE --segment K` process, N at once, longest
 * first: first the start checks of all segments (`--check-start`), and only
 * if every checkpoint hashes to its point, the segments themselves. */
#ifndef LBVM_VERIFY_JOBS_H
#define LBVM_VERIFY_JOBS_H
#include "audit/bundle.h"

/* b has passed bundle_open(b, dir, 0): every file is as its MANIFEST says.
 * Prints progress on stderr and the verdict on stdout; returns the exit
 * code: 0 identical, 6 diverged, 1 refused or a process failed. */
int verify_jobs(const Bundle *b, int jobs);
#endif
