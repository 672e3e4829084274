#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sets up a fresh machine (dependencies, build, test kernels), then runs the
# whole test suite with ctest: unit tests, real kernel boots, and a short run
# of every libFuzzer target (a separate clang build with sanitizers). Every
# build treats warnings as errors: gcc (build), clang (build-strict, build-fuzz).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
die() { echo "test: $*" >&2; exit 1; }
"$here/scripts/setup.sh"
"$here/scripts/fetch-test-inputs.sh"

# need_pkg PACKAGE WHAT: apt-get install, or one line saying why not.
need_pkg() {
    [ -z "$SUDO" ] || command -v sudo >/dev/null || die "$2 is missing, and neither root nor sudo is here to install it: install $1 as root (apt-get install $1), then run this again"
    echo "test: installing $1 ($2)"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$1" \
        || die "apt-get could not install $1 ($2; above): check the network and apt's sources, then run this again"
}

# qemu-i386 (user mode) runs the i386 seeds where the host kernel cannot.
command -v qemu-i386 >/dev/null || need_pkg qemu-user "qemu-i386, for the seed tests"

# GNU parallel runs an audit's segments as a batch engine would (test_audit).
if ! command -v parallel >/dev/null; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends parallel
fi

# libFuzzer needs clang and its runtime library of the same major version.
command -v clang >/dev/null || need_pkg clang "the fuzz tests' compiler"
v=$(clang --version | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -n1)
[ -n "$v" ] || die "cannot read clang's version from 'clang --version'"
if ! ls /usr/lib/llvm-"$v"/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    need_pkg "libclang-rt-$v-dev" "libFuzzer for clang $v"
fi
cmake -S "$here" -B "$here/build-fuzz" -DCMAKE_C_COMPILER=clang -DLBVM_FUZZ=ON -DLBVM_STRICT=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
    || die "cmake could not configure the fuzz build in build-fuzz (above)"
cmake --build "$here/build-fuzz" -j"$(nproc)" >/dev/null \
    || die "the fuzz build in build-fuzz failed (above)"

# Both compilers, warnings as errors (LBVM_STRICT), C11 + POSIX.1-2008 but for
# base/platform.c (docs/architecture.md, "Porting"): the main build with gcc
# (the one the tests below run), and build-strict with clang.
cmake -S "$here" -B "$here/build" -DLBVM_STRICT=ON >/dev/null \
    || die "cmake could not configure the main build in build (above)"
cmake --build "$here/build" -j"$(nproc)" >/dev/null \
    || die "the main build (gcc, -Werror) in build failed (above)"
cmake -S "$here" -B "$here/build-strict" -DCMAKE_C_COMPILER=clang -DLBVM_STRICT=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
    || die "cmake could not configure the strict clang build in build-strict (above)"
cmake --build "$here/build-strict" -j"$(nproc)" >/dev/null \
    || die "the strict clang build (-Werror) in build-strict failed (above)"

cd "$here/build"
ctest --output-on-failure -j"$(nproc)" "$@"
cd "$here/build-fuzz"
ctest --output-on-failure -L fuzz "$@"
