#!/usr/bin/env bash
# Installs everything lbvm needs on Debian/Ubuntu, then builds build/lbvm.
# Unicorn >= 2.1 is not in Debian 12: it comes from the unstable suite of the
# archive this machine already uses, pinned low so nothing else is upgraded.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

have_unicorn() {
    pkg-config --atleast-version=2.1.2 unicorn 2>/dev/null
}

debian_mirror() {
    # First Debian archive URI the system is configured with (deb822 or one-line).
    { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
      grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'
    } | grep -v -- '-security' | grep -E '/debian/?$' | head -n1
}

add_unstable_suite() {
    [ -f /etc/apt/sources.list.d/lbvm-unstable.list ] && return 0
    local uri; uri=$(debian_mirror)
    [ -n "$uri" ] || { echo "setup: no Debian archive found in apt sources; install Unicorn >= 2.1.2 by hand" >&2; exit 1; }
    echo "deb [arch=amd64] $uri sid main" | $SUDO tee /etc/apt/sources.list.d/lbvm-unstable.list >/dev/null
    printf 'Package: *\nPin: release n=sid\nPin-Priority: 100\n' | $SUDO tee /etc/apt/preferences.d/lbvm-unstable >/dev/null
}

pkgs="build-essential cmake pkg-config libarchive-dev libcurl4-openssl-dev libssl-dev libzstd-dev
      liblzma-dev cpio e2fsprogs xz-utils ca-certificates python3"
# The console window (--console sdl): SDL2, SDL2_ttf, libvterm and its font;
# its test: an X server without a screen, real key events, screenshots, and
# Xlib for the test's window-closing helper.
pkgs="$pkgs libsdl2-dev libsdl2-ttf-dev libvterm-dev fonts-dejavu-core
      xvfb xauth xdotool x11-apps libx11-dev"
if ! dpkg -s $pkgs >/dev/null 2>&1 || ! have_unicorn; then
    $SUDO dpkg --add-architecture i386
    add_unstable_suite
    # An i386 index can report a transient size mismatch: do not fail on it.
    $SUDO apt-get update -q || true
    $SUDO apt-get install -y -q --no-install-recommends $pkgs
    have_unicorn || $SUDO apt-get install -y -q --no-install-recommends -t sid libunicorn-dev
fi
have_unicorn || { echo "setup: Unicorn >= 2.1.2 could not be installed" >&2; exit 1; }

cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build" -j"$(nproc)"
