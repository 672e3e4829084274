#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sets up a fresh machine (dependencies, build, test kernels), then runs the
# whole test suite with ctest: unit tests, real kernel boots, and a short run
# of every libFuzzer target (a separate clang build with sanitizers).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
"$here/scripts/setup.sh"
"$here/scripts/fetch-test-inputs.sh"

# qemu-i386 (user mode) runs the i386 seeds where the host kernel cannot.
if ! command -v qemu-i386 >/dev/null; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends qemu-user
fi

# GNU parallel runs an audit's segments as a batch engine would (test_audit).
if ! command -v parallel >/dev/null; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends parallel
fi

# libFuzzer needs clang and its runtime library of the same major version.
if ! command -v clang >/dev/null; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clang
fi
v=$(clang --version | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -n1)
if ! ls /usr/lib/llvm-"$v"/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "libclang-rt-$v-dev"
fi
cmake -S "$here" -B "$here/build-fuzz" -DCMAKE_C_COMPILER=clang -DLBVM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build-fuzz" -j"$(nproc)" >/dev/null

cd "$here/build"
ctest --output-on-failure -j"$(nproc)" "$@"
cd "$here/build-fuzz"
ctest --output-on-failure -L fuzz "$@"
