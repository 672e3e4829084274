#!/usr/bin/env bash
# Sets up a fresh machine (dependencies, build, test kernels), then runs the
# whole test suite with ctest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
"$here/scripts/fetch-test-inputs.sh"
cd "$here/build"
ctest --output-on-failure -j"$(nproc)" "$@"
