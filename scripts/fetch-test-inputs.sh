#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fetch-test-inputs.sh [CACHE_DIR]
# Fetches the real guest software the boot tests and the benchmark run, from
# Debian's archive through apt, and lays it out in CACHE_DIR
# (default: <repo>/.cache/test-inputs):
#   k686/vmlinuz  k686/modules/      linux-image-686:i386's kernel + lib/modules/<ver>
#   k686pae/vmlinuz  k686pae/modules/  the same for linux-image-686-pae:i386
#   amd64/vmlinuz                    linux-image-amd64's kernel (the "must be refused" input)
#   busybox                          busybox-static:i386
#   kexec/{kexec,libc.so.6,ld-linux.so.2}  kexec-tools:i386 and what it loads from libc6:i386
#   tcc/{tcc,ld-linux.so.2,libc.so.6,libm.so.6,libpthread.so.0,libdl.so.2}  tcc:i386 and what
#                                    it loads from libc6:i386; tcc/tcclib/ is its lib dir
#                                    (/usr/lib/i386-linux-gnu/tcc: headers, libtcc1.a)
#   kdeb/*.deb                       the package of lbvm bootstrap's default kernel, the version
#                                    steps/kernel.h pins (served to lbvm over loopback by a test)
#   guestbuild/root/                 an i386 userland to build software in the guest: gcc, binutils,
#                                    make, bash, dash, coreutils, sed, grep, gawk, tar, xz-utils, gzip,
#                                    diffutils, findutils, libc6-dev and everything they depend on,
#                                    resolved by apt-get's own resolver in a private i386 apt state
#                                    (an empty dpkg status: nothing is taken as installed) and
#                                    unpacked with dpkg-deb -x (no maintainer scripts: the few links
#                                    they would make, sh, awk, cc, are made here); no root needed
#   guestbuild/PACKAGES              "name version arch" of each package in root/
#   guestbuild/binutils.tar.xz       the upstream tarball binutils-source ships (usr/src/binutils/);
#                                    guestbuild/binutils.dir names its top folder (binutils-X.Y)
#   VERSIONS                         package name, version and architecture of each
# Idempotent: an output already there is kept. Each output is built under a
# temporary name in CACHE_DIR and renamed into place, so an interrupted run never
# leaves a half output. On failure: one line on stderr naming what could not be
# had, exit 1.
set -uo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${1:-$here/.cache/test-inputs}
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

die() { echo "fetch-test-inputs: $*" >&2; exit 1; }

mkdir -p "$cache" || die "cannot create the cache folder $cache"
cache=$(cd "$cache" && pwd)
log=$cache/fetch.log

# One fetcher at a time per cache (tests may run in parallel); the checks
# below run after the lock is held, so a second fetcher finds the work done.
if command -v flock >/dev/null; then
    exec 9>"$cache/.lock" || die "cannot create $cache/.lock"
    flock 9 || die "cannot lock $cache/.lock"
fi

# --- which outputs are missing? --------------------------------------------
have() {
    case $1 in
    k686|k686pae) [ -s "$cache/$1/vmlinuz" ] && [ -d "$cache/$1/modules" ] ;;
    amd64)        [ -s "$cache/amd64/vmlinuz" ] ;;
    busybox)      [ -s "$cache/busybox" ] ;;
    kexec)        [ -s "$cache/kexec/kexec" ] && [ -s "$cache/kexec/libc.so.6" ] && [ -s "$cache/kexec/ld-linux.so.2" ] ;;
    tcc)          [ -s "$cache/tcc/tcc" ] && [ -s "$cache/tcc/libc.so.6" ] && [ -s "$cache/tcc/libm.so.6" ] \
                  && [ -s "$cache/tcc/libpthread.so.0" ] && [ -s "$cache/tcc/libdl.so.2" ] \
                  && [ -s "$cache/tcc/ld-linux.so.2" ] && [ -d "$cache/tcc/tcclib" ] ;;
    kdeb)         ls "$cache"/kdeb/*.deb >/dev/null 2>&1 ;;
    guestbuild)   [ -x "$cache/guestbuild/root/usr/bin/gcc" ] && [ -s "$cache/guestbuild/PACKAGES" ] \
                  && [ -s "$cache/guestbuild/binutils.tar.xz" ] && [ -s "$cache/guestbuild/binutils.dir" ] ;;
    esac
}
outputs="k686 k686pae amd64 busybox kexec tcc kdeb guestbuild"
missing=
for o in $outputs; do have "$o" || missing="$missing $o"; done
if [ -z "$missing" ] && [ -s "$cache/VERSIONS" ]; then
    exit 0
fi

# Temporary files live in the cache (same file system as the outputs, so the
# final rename is atomic); removed on any exit.
work=$(mktemp -d "$cache/.work.XXXXXX") || die "cannot create a temporary folder in $cache"
trap 'rm -rf "$work"' EXIT
: > "$log"

for tool in apt-get apt-cache dpkg dpkg-deb; do
    command -v $tool >/dev/null || die "$tool not found: the test inputs come from Debian packages (a Debian-based host is needed)"
done

# --- apt: i386 architecture and package lists -------------------------------
if [ -n "$missing" ]; then
    if ! grep -qx i386 <<<"$(dpkg --print-foreign-architectures)"; then
        $SUDO dpkg --add-architecture i386 >>"$log" 2>&1 || die "cannot add the i386 architecture (dpkg --add-architecture i386 needs root)"
    fi
    if ! ls /var/lib/apt/lists/*_binary-i386_Packages* >/dev/null 2>&1 \
       || ! apt-cache show linux-image-686:i386 >/dev/null 2>&1; then
        # An i386 index can report a transient size mismatch: not fatal by itself,
        # the look-ups below say whether what we need is known.
        $SUDO apt-get update -q >>"$log" 2>&1 || true
    fi
fi

# resolve METAPACKAGE[:ARCH] -> the versioned package it depends on
resolve() {
    local meta=$1 pat=$2 dep
    dep=$(apt-cache depends "$meta" 2>>"$log" | sed -n "s/^ *Depends: \($pat\)\(:[a-z0-9]*\)\?\$/\1/p" | head -n1)
    [ -n "$dep" ] || die "cannot resolve $meta to a kernel package (apt-cache depends $meta found none; see $log)"
    echo "$dep"
}

# download PKG:ARCH into $work/debs and unpack it into $work/x/PKG; echoes the
# unpack folder; records "name version arch" in $work/ver/NAME
fetch() {
    local spec=$1 name=$2 deb dir
    mkdir -p "$work/debs" "$work/x" "$work/ver"
    ( cd "$work/debs" && apt-get download -q "$spec" ) >>"$log" 2>&1 \
        || die "cannot download $spec (apt-get download failed; see $log)"
    deb=$(ls "$work/debs/${spec%%:*}"_*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || die "cannot download $spec (no .deb appeared; see $log)"
    dir=$work/x/${spec%%:*}
    mkdir -p "$dir"
    dpkg-deb -x "$deb" "$dir" >>"$log" 2>&1 || die "cannot unpack $deb (dpkg-deb -x failed; see $log)"
    dpkg-deb -f "$deb" Package Version Architecture | awk '{print $2}' | paste -sd' ' > "$work/ver/$name"
    echo "$dir"
}

# put a finished output in place: rename $1 (in $work) to $cache/$2
install_out() {
    rm -rf "$cache/$2.old"
    [ -e "$cache/$2" ] && mv "$cache/$2" "$cache/$2.old"
    mv "$1" "$cache/$2" || die "cannot move $2 into $cache"
    rm -rf "$cache/$2.old"
    mkdir -p "$cache/.pkg"
    cp "$work/ver/$2" "$cache/.pkg/$2.tmp" && mv "$cache/.pkg/$2.tmp" "$cache/.pkg/$2"
}

kernel_out() {       # OUTPUT METAPACKAGE PATTERN
    local out=$1 meta=$2 pat=$3 pkg dir ver o
    pkg=$(resolve "$meta" "$pat")
    case $meta in *:i386) pkg=$pkg:i386 ;; esac
    dir=$(fetch "$pkg" "$out") || exit 1
    ver=${pkg#linux-image-}; ver=${ver%:*}
    [ -s "$dir/boot/vmlinuz-$ver" ] || die "$pkg has no boot/vmlinuz-$ver"
    o=$work/out-$out
    mkdir -p "$o"
    cp "$dir/boot/vmlinuz-$ver" "$o/vmlinuz" || die "cannot copy the kernel of $pkg"
    if [ "$out" != amd64 ]; then
        [ -d "$dir/lib/modules/$ver" ] || die "$pkg has no lib/modules/$ver"
        if command -v depmod >/dev/null || [ -x /sbin/depmod ]; then
            PATH=$PATH:/sbin depmod -b "$dir" "$ver" >>"$log" 2>&1 || true
        fi
        mv "$dir/lib/modules/$ver" "$o/modules" || die "cannot lay out the modules of $pkg"
        echo "$ver" > "$o/RELEASE"
    fi
    install_out "$o" "$out"
}

# The packages of the guest build userland (their dependencies are resolved by apt)
GUESTBUILD_PACKAGES="gcc binutils make bash dash coreutils sed grep gawk tar xz-utils gzip diffutils findutils libc6-dev"

guestbuild_out() {
    local a=$work/gb-apt o=$work/out-guestbuild d deb n src top
    mkdir -p "$a/archives/partial" "$a/state/lists/partial" "$o/root" || die "cannot create $a"
    : > "$a/state/status"
    # The host's sources and package lists, but a private dpkg status (so every
    # dependency is downloaded) and i386 as the only architecture.
    apt-get -q -y -o Debug::NoLocking=1 -o APT::Architecture=i386 -o APT::Architectures::=i386 \
        -o Dir::State::status="$a/state/status" -o Dir::Cache::archives="$a/archives" \
        -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
        -o APT::Install-Recommends=0 -o APT::Install-Suggests=0 --download-only install $GUESTBUILD_PACKAGES \
        >>"$log" 2>&1 || die "cannot resolve or download the guest build userland ($GUESTBUILD_PACKAGES; apt-get install --download-only failed; see $log)"
    n=0
    for deb in "$a"/archives/*.deb; do
        [ -e "$deb" ] || die "apt-get downloaded no package for the guest build userland (see $log)"
        dpkg-deb -x "$deb" "$o/root" >>"$log" 2>&1 || die "cannot unpack $deb (dpkg-deb -x failed; see $log)"
        dpkg-deb -f "$deb" Package Version Architecture | awk '{print $2}' | paste -sd' ' >> "$o/PACKAGES.tmp"
        n=$((n + 1))
    done
    LC_ALL=C sort "$o/PACKAGES.tmp" > "$o/PACKAGES" && rm -f "$o/PACKAGES.tmp" || die "cannot write PACKAGES"
    for d in $GUESTBUILD_PACKAGES; do
        grep -q "^$d " "$o/PACKAGES" || die "$d:i386 is not among the packages apt-get downloaded (see $log)"
    done
    # what the maintainer scripts would have made (update-alternatives, dash's /bin/sh)
    [ -x "$o/root/bin/dash" ] && [ -x "$o/root/usr/bin/gawk" ] && [ -e "$o/root/usr/bin/gcc" ] \
        || die "the guest build userland lacks bin/dash, usr/bin/gawk or usr/bin/gcc"
    ln -sf dash "$o/root/bin/sh" && ln -sf gawk "$o/root/usr/bin/awk" && ln -sf gcc "$o/root/usr/bin/cc" \
        || die "cannot make the sh, awk and cc links"
    # the upstream binutils tarball, from the package that ships it as a file
    src=$(fetch binutils-source guestbuild-src) || exit 1
    set -- "$src"/usr/src/binutils/binutils-*.tar.xz
    [ -s "$1" ] || die "binutils-source has no usr/src/binutils/binutils-*.tar.xz"
    top=$(basename "$1" .tar.xz)
    mv "$1" "$o/binutils.tar.xz" && echo "$top" > "$o/binutils.dir" || die "cannot lay out the binutils tarball"
    echo "$n packages (gcc $(sed -n 's/^gcc-[0-9]* \([^ ]*\) .*/\1/p' "$o/PACKAGES" | head -n1)); $(cat "$work/ver/guestbuild-src") ($top.tar.xz)" > "$work/ver/guestbuild"
    install_out "$o" guestbuild
}

for o in $missing; do
    case $o in
    k686)    kernel_out k686 linux-image-686:i386 'linux-image-[0-9][^ ]*-686' ;;
    k686pae) kernel_out k686pae linux-image-686-pae:i386 'linux-image-[0-9][^ ]*-686-pae' ;;
    amd64)   kernel_out amd64 linux-image-amd64 'linux-image-[0-9][^ ]*-amd64' ;;
    busybox)
        dir=$(fetch busybox-static:i386 busybox) || exit 1
        [ -s "$dir/bin/busybox" ] || die "busybox-static:i386 has no bin/busybox"
        cp "$dir/bin/busybox" "$work/busybox" && chmod 755 "$work/busybox" || die "cannot copy busybox"
        install_out "$work/busybox" busybox ;;
    kexec)
        kx=$(fetch kexec-tools:i386 kexec) || exit 1
        lc=$(fetch libc6:i386 libc6) || exit 1
        o=$work/out-kexec; mkdir -p "$o"
        cp "$kx/sbin/kexec" "$o/kexec" || die "kexec-tools:i386 has no sbin/kexec"
        for f in libc.so.6 ld-linux.so.2; do
            cp -L "$lc/lib/i386-linux-gnu/$f" "$o/$f" 2>/dev/null || cp -L "$lc/usr/lib/i386-linux-gnu/$f" "$o/$f" \
                || die "libc6:i386 has no $f"
        done
        chmod 755 "$o/kexec" "$o/ld-linux.so.2"
        cat "$work/ver/kexec" "$work/ver/libc6" > "$work/ver/kexec.both" && mv "$work/ver/kexec.both" "$work/ver/kexec"
        install_out "$o" kexec ;;
    tcc)
        tc=$(fetch tcc:i386 tcc) || exit 1
        lc=$(fetch libc6:i386 libc6) || exit 1
        o=$work/out-tcc; mkdir -p "$o"
        cp "$tc/usr/bin/tcc" "$o/tcc" || die "tcc:i386 has no usr/bin/tcc"
        cp -R "$tc/usr/lib/i386-linux-gnu/tcc" "$o/tcclib" || die "tcc:i386 has no usr/lib/i386-linux-gnu/tcc"
        # what readelf -d lists as NEEDED by usr/bin/tcc, and its PT_INTERP
        for f in libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 ld-linux.so.2; do
            cp -L "$lc/lib/i386-linux-gnu/$f" "$o/$f" 2>/dev/null || cp -L "$lc/usr/lib/i386-linux-gnu/$f" "$o/$f" \
                || die "libc6:i386 has no $f"
        done
        chmod 755 "$o/tcc" "$o/ld-linux.so.2"
        cat "$work/ver/tcc" "$work/ver/libc6" > "$work/ver/tcc.both" && mv "$work/ver/tcc.both" "$work/ver/tcc"
        install_out "$o" tcc ;;
    kdeb)
        # the pinned package, by name and version, as steps/kernel.h names it
        kp=$(sed -n 's/^#define KERNEL_PACKAGE "\(.*\)"$/\1/p' "$here/steps/kernel.h")
        kv=$(sed -n 's/^#define KERNEL_VERSION "\(.*\)"$/\1/p' "$here/steps/kernel.h")
        [ -n "$kp" ] && [ -n "$kv" ] || die "cannot read the pinned kernel from steps/kernel.h"
        o=$work/out-kdeb; mkdir -p "$o"
        ( cd "$o" && apt-get download -q "$kp:i386=$kv" ) >>"$log" 2>&1 \
            || die "cannot download $kp:i386=$kv, the default kernel's package (apt-get download failed; see $log)"
        mkdir -p "$work/ver" && echo "$kp $kv i386" > "$work/ver/kdeb"
        install_out "$o" kdeb ;;
    guestbuild)
        guestbuild_out ;;
    esac
done

# --- VERSIONS: what each output was made from --------------------------------
for o in $outputs; do
    have "$o" || die "$o is still missing after fetching"
    if [ -s "$cache/.pkg/$o" ]; then sed "s/^/$o: /" "$cache/.pkg/$o"; else echo "$o: (unknown: fetched by an older script)"; fi
done > "$work/VERSIONS" && mv "$work/VERSIONS" "$cache/VERSIONS" || die "cannot write $cache/VERSIONS"
cat "$cache/VERSIONS"
