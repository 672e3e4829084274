#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# cross-arm64.sh [--offline] [BUILD_DIR]
# Builds lbvm for arm64 (aarch64) on an x86_64 Debian/Ubuntu host, and a way to
# run it there under user-mode QEMU, so that the same boot can be compared
# across host architectures (tests/cross/check-arm64.sh, docs/cross-arm64.md).
#
#   1. Host tools from the host's own suite: Debian's cross compiler
#      (gcc-aarch64-linux-gnu) and user-mode QEMU (qemu-user), plus CMake and
#      pkg-config.
#   2. An arm64 sysroot, .cache/cross-arm64/sysroot: Unicorn >= 2.1.2 and every
#      other library lbvm links (and their dependencies, resolved by apt) from
#      Debian's unstable suite (the one scripts/setup.sh takes Unicorn from;
#      LBVM_CROSS_SUITE overrides), downloaded by a private apt configuration
#      under .cache/cross-arm64/apt (the host's apt and dpkg state are not
#      touched: no foreign architecture is added) and unpacked with dpkg-deb.
#      The sysroot's C library is the one that Unicorn was built against.
#   3. BUILD_DIR (default <repo>/build-arm64): lbvm configured with the cross
#      compiler against the sysroot (-DLBVM_SDL=OFF: the console window is
#      not part of the arm64 build), built, and BUILD_DIR/qemu-lbvm, a wrapper
#      that runs BUILD_DIR/lbvm under `qemu-aarch64 -L SYSROOT` (these hosts do
#      not register binfmt handlers). ctest in BUILD_DIR runs the unit tests
#      under QEMU too (CMAKE_CROSSCOMPILING_EMULATOR). BUILD_DIR/qemu-lbvm-host-zstd
#      runs it with the arm64 build of the host's zstd version instead of the
#      sysroot's (from the host's own apt sources), so that checkpoint files
#      can be compared byte for byte with the host build's.
#
# The archive is the first Debian one in the host's apt sources (as for
# scripts/setup.sh); the package versions used are written to
# .cache/cross-arm64/VERSIONS. --offline (or LBVM_CROSS_OFFLINE=1) reuses the
# downloaded packages and sysroot without asking the archive.
# Every failure ends with one line "cross-arm64: ..." and exit 1.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

die() { echo "cross-arm64: $*" >&2; exit 1; }
trap 'rc=$?; echo "cross-arm64: failed at line $LINENO (exit $rc): $BASH_COMMAND" >&2; exit $rc' ERR

offline=${LBVM_CROSS_OFFLINE:-}
build=
for a in "$@"; do
    case $a in
    --offline) offline=1 ;;
    -h|--help) sed -n '3,/^set -euo/{/^set -euo/!p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $a (see --help)" ;;
    *) [ -z "$build" ] || die "one build folder only"; build=$a ;;
    esac
done
build=${build:-$here/build-arm64}
suite=${LBVM_CROSS_SUITE:-sid}
cross=$here/.cache/cross-arm64
sysroot=$cross/sysroot
aptroot=$cross/apt
mkdir -p "$cross" "$build" || die "cannot create $cross or $build"
build=$(cd "$build" && pwd)
log=$cross/log
: >"$log"

# The libraries lbvm links (CMakeLists.txt's pkg_check_modules) and the C
# library's development files; apt adds their dependencies.
pkgs="libc6-dev libunicorn-dev libarchive-dev libcurl4-openssl-dev libssl-dev liblzma-dev libzstd-dev"

# --- 1. host tools -----------------------------------------------------------
tools_missing() {
    command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null \
        && command -v cmake >/dev/null && command -v pkg-config >/dev/null && command -v dpkg-deb >/dev/null \
        && command -v apt-get >/dev/null && return 1
    return 0
}
if tools_missing; then
    [ -z "$offline" ] || die "--offline, but the host lacks the cross compiler, qemu-aarch64, cmake or pkg-config"
    command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian or Ubuntu host"
    [ -z "$SUDO" ] || command -v sudo >/dev/null || die "not root and no sudo: run this as root, or install sudo"
    echo "cross-arm64: installing gcc-aarch64-linux-gnu qemu-user cmake pkg-config"
    $SUDO apt-get install -y -q --no-install-recommends gcc-aarch64-linux-gnu qemu-user cmake pkg-config \
        make >>"$log" 2>&1 || { tail -n 5 "$log" >&2; die "apt-get could not install the cross compiler and qemu-user (above)"; }
fi

# --- 2. the arm64 sysroot ----------------------------------------------------
# debian_mirror: the archive apt is configured with, read as scripts/setup.sh reads it.
. "$here/scripts/debian-mirror.sh"

# apt with its own configuration, lists, cache and an empty dpkg status: it
# resolves and downloads arm64 packages as for an empty arm64 system.
aptopts=(-o "Dir=$aptroot" -o "Dir::Etc=$aptroot/etc/apt" -o "Dir::State=$aptroot/var/lib/apt"
         -o "Dir::State::status=$aptroot/var/lib/dpkg/status" -o "Dir::Cache=$aptroot/var/cache/apt"
         -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64" -o "Debug::NoLocking=1"
         -o "APT::Install-Recommends=false" -o "APT::Get::List-Cleanup=false")
debs=$aptroot/var/cache/apt/archives
if [ -z "$offline" ]; then
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -r "$keyring" ] || die "$keyring missing: install debian-archive-keyring"
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || die "no Debian archive in apt's sources (/etc/apt/sources.list or sources.list.d/*.sources)"
    mkdir -p "$aptroot/etc/apt/apt.conf.d" "$aptroot/etc/apt/preferences.d" "$aptroot/etc/apt/sources.list.d" \
        "$aptroot/var/lib/apt/lists/partial" "$aptroot/var/lib/dpkg" "$debs/partial"
    : >"$aptroot/var/lib/dpkg/status"
    echo "deb [arch=arm64 signed-by=$keyring] $mirror $suite main" >"$aptroot/etc/apt/sources.list"
    echo "cross-arm64: arm64 packages from $mirror $suite"
    apt-get "${aptopts[@]}" update >>"$log" 2>&1 \
        || { tail -n 5 "$log" >&2; die "apt-get update of the arm64 $suite index failed (above)"; }
    # The whole set apt would install on an empty system, as file names.
    # shellcheck disable=SC2086
    apt-get "${aptopts[@]}" -s install $pkgs >"$cross/simulate" 2>>"$log" \
        || { tail -n 5 "$log" >&2; die "apt-get cannot resolve the arm64 packages: $pkgs"; }
    sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) [^[]*\[\([a-z0-9]*\)\]).*/\1_\2_\3.deb/p' "$cross/simulate" \
        | sed 's/:/%3a/' | sort >"$cross/packages.new"
    [ -s "$cross/packages.new" ] || die "apt-get resolved no arm64 packages (see $cross/simulate)"
    # shellcheck disable=SC2086
    apt-get "${aptopts[@]}" install -y -q --download-only $pkgs >>"$log" 2>&1 \
        || { tail -n 5 "$log" >&2; die "apt-get could not download the arm64 packages (above)"; }
    # zstd as on the host, beside the sysroot (not in it: the suite's other
    # libraries want its own zstd): BUILD_DIR/qemu-lbvm-host-zstd runs the
    # arm64 lbvm with it, so that its checkpoint files can be compared byte
    # for byte with the host build's (a zstd release may compress the same
    # RAM to other bytes; what they decode to never depends on it). The arm64
    # package of the host's exact version comes from the host's own apt
    # sources, indexed for arm64 in a private lists folder.
    zver=$(dpkg-query -W -f='${Version}' libzstd1 2>/dev/null || true)
    rm -rf "$cross/zstd-host"
    if [ -n "$zver" ]; then
        hostapt=(-o "Dir::State::Lists=$cross/host-lists" -o "Dir::State::status=$aptroot/var/lib/dpkg/status"
                 -o "Dir::Cache=$aptroot/var/cache/apt" -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64"
                 -o "Debug::NoLocking=1" -o "APT::Get::List-Cleanup=false")
        mkdir -p "$cross/host-lists/partial"
        zdeb="libzstd1_${zver/:/%3a}_arm64.deb"
        if apt-get "${hostapt[@]}" update >>"$log" 2>&1 \
           && (cd "$debs" && apt-get "${hostapt[@]}" download "libzstd1:arm64=$zver") >>"$log" 2>&1 \
           && dpkg-deb -x "$debs/$zdeb" "$cross/zstd-host.new"; then
            mv "$cross/zstd-host.new" "$cross/zstd-host"
            echo "$zver" > "$cross/zstd-host/VERSION"
        else
            rm -rf "$cross/zstd-host.new"
            echo "cross-arm64: note: zstd $zver for arm64 not found in the host's apt sources: no qemu-lbvm-host-zstd" >&2
        fi
    fi
    mv "$cross/packages.new" "$cross/packages"
fi
[ -s "$cross/packages" ] || die "no list of arm64 packages in $cross (run once without --offline)"
while read -r f; do
    [ -s "$debs/$f" ] || die "$debs/$f missing (run without --offline)"
done <"$cross/packages"

# Unpack into a new folder, then rename: an interrupted run leaves no half
# sysroot. Merged /usr: /lib, /bin, /sbin are links, as on Debian since 12.
stamp=$(sha256sum <"$cross/packages" | cut -c1-64)
if ! [ -f "$sysroot/.stamp" ] || [ "$(cat "$sysroot/.stamp")" != "$stamp" ]; then
    echo "cross-arm64: unpacking $(wc -l <"$cross/packages") packages into $sysroot"
    rm -rf "$sysroot.new"
    mkdir -p "$sysroot.new/usr/bin" "$sysroot.new/usr/lib" "$sysroot.new/usr/sbin"
    ln -s usr/bin "$sysroot.new/bin"; ln -s usr/lib "$sysroot.new/lib"; ln -s usr/sbin "$sysroot.new/sbin"
    while read -r f; do
        dpkg-deb --fsys-tarfile "$debs/$f" | tar -x --keep-directory-symlink -C "$sysroot.new" \
            || die "cannot unpack $f"
    done <"$cross/packages"
    # A link to an absolute path would leave the sysroot when the cross
    # linker follows it: make each relative.
    find "$sysroot.new" -type l -lname '/*' | while read -r l; do
        t=$(readlink "$l")
        rel=$(realpath -m --relative-to="$(dirname "$l")" "$sysroot.new$t")
        ln -sfn "$rel" "$l"
    done
    [ -e "$sysroot.new/lib/ld-linux-aarch64.so.1" ] || die "the arm64 C library has no ld-linux-aarch64.so.1"
    echo "$stamp" >"$sysroot.new/.stamp"
    rm -rf "$sysroot.old"
    [ ! -d "$sysroot" ] || mv "$sysroot" "$sysroot.old"
    mv "$sysroot.new" "$sysroot"
    rm -rf "$sysroot.old"
fi
while read -r f; do
    dpkg-deb -f "$debs/$f" Package Version Architecture | paste -sd' '
done <"$cross/packages" | sed 's/^Package: //; s/ Version: / /; s/ Architecture: / /' | sort >"$cross/VERSIONS"
uver=$(sed -n 's/^libunicorn-dev \([^ ]*\) .*/\1/p' "$cross/VERSIONS")
lver=$(sed -n 's/^libc6 \([^ ]*\) .*/\1/p' "$cross/VERSIONS")

# --- 3. configure, build, wrap -------------------------------------------------
cat >"$cross/toolchain.cmake" <<EOF
# SPDX-License-Identifier: GPL-2.0-or-later
# Written by scripts/cross-arm64.sh: lbvm for arm64 against $sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_SYSROOT "$sysroot")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;$sysroot)
EOF
# pkg-config reads the sysroot's .pc files only, and prefixes their paths.
export PKG_CONFIG_SYSROOT_DIR=$sysroot PKG_CONFIG_PATH=
export PKG_CONFIG_LIBDIR=$sysroot/usr/lib/aarch64-linux-gnu/pkgconfig:$sysroot/usr/share/pkgconfig
echo "cross-arm64: building $build (Unicorn $uver, C library $lver)"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_TOOLCHAIN_FILE="$cross/toolchain.cmake" \
    -DLBVM_SDL=OFF >>"$log" 2>&1 || { tail -n 15 "$log" >&2; die "cmake could not configure the arm64 build (above)"; }
cmake --build "$build" -j"$(nproc)" >>"$log" 2>&1 || { grep -E 'error|Error' "$log" | tail -n 10 >&2; die "the arm64 build failed (above; all of it in $log)"; }
cat >"$build/qemu-lbvm" <<EOF
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Written by scripts/cross-arm64.sh: the arm64 lbvm under user-mode QEMU.
exec qemu-aarch64 -L "$sysroot" "$build/lbvm" "\$@"
EOF
chmod 755 "$build/qemu-lbvm"
rm -f "$build/qemu-lbvm-host-zstd"
if [ -f "$cross/zstd-host/VERSION" ]; then
    cat >"$build/qemu-lbvm-host-zstd" <<EOF
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Written by scripts/cross-arm64.sh: the arm64 lbvm under user-mode QEMU, with
# the host's zstd ($(cat "$cross/zstd-host/VERSION")) instead of the sysroot's.
exec qemu-aarch64 -L "$sysroot" -E LD_LIBRARY_PATH="$cross/zstd-host/usr/lib/aarch64-linux-gnu" "$build/lbvm" "\$@"
EOF
    chmod 755 "$build/qemu-lbvm-host-zstd"
fi
file_type=$(od -An -tx1 -j18 -N2 "$build/lbvm" | tr -d ' ')
[ "$file_type" = b700 ] || die "$build/lbvm is not an aarch64 program (e_machine $file_type)"
"$build/qemu-lbvm" --version >/dev/null 2>&1 || die "$build/qemu-lbvm --version failed: qemu-aarch64 cannot run it"
echo "cross-arm64: $build/lbvm (arm64); run it as $build/qemu-lbvm"
