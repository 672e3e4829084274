/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lbvm's own seeds, built into the program (`--seeds lbvm`): the bytes of
 * seeds/x86/hex0-seed and seeds/x86/kaem-optional-seed, which
 * tests/unit/test_seeds.c proves equal to the hex0 sources beside them.
 * CMake generates the arrays from the committed binaries. */
#ifndef LBVM_SEEDS_H
#define LBVM_SEEDS_H
#include <stddef.h>

extern const unsigned char lbvm_seed_hex0[];
extern const size_t lbvm_seed_hex0_len;
extern const unsigned char lbvm_seed_kaem[];
extern const size_t lbvm_seed_kaem_len;

#endif
