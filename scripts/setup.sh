#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs everything lbvm needs on Debian/Ubuntu, then builds build/lbvm.
# Unicorn >= 2.1.2 is not in Debian 12: it comes from the unstable suite of the
# archive this machine already uses, pinned low so nothing else is upgraded.
# Every way this can fail ends with one line "setup: ..." saying why and what
# to do, and a non-zero exit; nothing fails silently.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/lbvm-setup.XXXXXX")
trap 'rm -f "$log"' EXIT

die() { echo "setup: $*" >&2; exit 1; }
# An unexpected failure still says where it happened.
trap 'rc=$?; echo "setup: failed at line $LINENO (exit $rc): $BASH_COMMAND" >&2; exit $rc' ERR

have_unicorn() {
    pkg-config --atleast-version=2.1.2 unicorn 2>/dev/null
}

# debian_mirror: the archive apt is configured with (deb822 or one-line sources).
. "$here/scripts/debian-mirror.sh"

add_unstable_suite() {
    [ -f /etc/apt/sources.list.d/lbvm-unstable.list ] && return 0
    local uri; uri=$(debian_mirror)
    [ -n "$uri" ] || die "no Debian archive in apt's sources (/etc/apt/sources.list or sources.list.d/*.sources); install libunicorn-dev >= 2.1.2 by hand, then run this again"
    echo "deb [arch=amd64] $uri sid main" | $SUDO tee /etc/apt/sources.list.d/lbvm-unstable.list >/dev/null
    printf 'Package: *\nPin: release n=sid\nPin-Priority: 100\n' | $SUDO tee /etc/apt/preferences.d/lbvm-unstable >/dev/null
}

pkgs="build-essential cmake pkg-config libarchive-dev libcurl4-openssl-dev libssl-dev libzstd-dev
      liblzma-dev cpio e2fsprogs xz-utils ca-certificates python3 util-linux"
# The console window (--console sdl): SDL2, SDL2_ttf, libvterm and its font;
# its test: an X server without a screen, real key events, screenshots, and
# Xlib for the test's window-closing helper.
pkgs="$pkgs libsdl2-dev libsdl2-ttf-dev libvterm-dev fonts-dejavu-core
      xvfb xauth xdotool x11-apps libx11-dev"
if ! dpkg -s $pkgs >/dev/null 2>&1 || ! have_unicorn; then
    command -v apt-get >/dev/null || die "apt-get not found: on a host without Debian's packages install a C compiler, CMake, pkg-config, libarchive, libcurl, OpenSSL, zstd, liblzma and Unicorn >= 2.1.2 by hand, then run cmake -S . -B build && cmake --build build"
    [ -z "$SUDO" ] || command -v sudo >/dev/null || die "not root and no sudo: run this as root, or install sudo"
    echo "setup: installing lbvm's build dependencies with apt-get (a few minutes on a fresh machine)" >&2
    $SUDO dpkg --add-architecture i386
    add_unstable_suite
    # An i386 index can report a transient size mismatch: not fatal by itself;
    # the installs below say whether what is needed could be had.
    $SUDO apt-get update -q >"$log" 2>&1 || true
    if ! $SUDO apt-get install -y -q --no-install-recommends $pkgs >>"$log" 2>&1; then
        tail -n 5 "$log" >&2
        die "apt-get could not install lbvm's build dependencies (above); check the network and apt's sources, then run this again"
    fi
    # apt drops a suite it cannot use (an expired or unsigned Release file, a
    # mirror without it) with only a line in the update's output: say so.
    # (the look-up's output is read whole: grep -q ending the pipe early would
    # fail it under pipefail)
    if ! have_unicorn && [[ $(apt-cache madison libunicorn-dev 2>/dev/null) != *" sid/"* ]]; then
        grep -E '^(E|W|Err):.*[ /]sid[ /]' "$log" | head -n 5 >&2 || true
        die "apt cannot use the unstable suite (sid) of $(debian_mirror) (above), so Unicorn >= 2.1.2 cannot be had from it; fix that mirror's sid in /etc/apt/sources.list.d/lbvm-unstable.list, or install libunicorn-dev >= 2.1.2 by hand, then run this again"
    fi
    if ! have_unicorn && ! $SUDO apt-get install -y -q --no-install-recommends -t sid libunicorn-dev >>"$log" 2>&1; then
        tail -n 5 "$log" >&2
        die "Unicorn >= 2.1.2 could not be installed from Debian's unstable suite (above); install libunicorn-dev >= 2.1.2 by hand, then run this again"
    fi
fi
have_unicorn || die "Unicorn >= 2.1.2 not found by pkg-config after installing libunicorn-dev; install it by hand, then run this again"

cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build" -j"$(nproc)"
