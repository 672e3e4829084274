#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /lbvm/build.sh on the build disk, run by Debian's dash in a chroot onto the
# disk by tests/boot/guest-build-init.sh: real autotools builds with Debian's
# i386 gcc, from the binutils upstream tarball (binutils-source), whose
# subprojects the host unpacked into /src/<binutils-X.Y> (named in /src/dir).
# Usage: build.sh JOB
#   small   zlib: configure, make (libz.a), link minigzip, run it
#   medium  libiberty then zlib: configure and make each, then link minigzip,
#           example and libiberty's test-demangle (compiled first), run minigzip
#           and test-demangle on its expected-results file
#   loop    medium again and again (for the soak), each in a fresh folder
# Lines for the host: "LBVM-BUILD: phase P NAME" when a phase starts (P is
# configure, compile or link), "LBVM-BUILD: configured NAME" after a configure,
# "LBVM-BUILD: log NAME errors=E warnings=W" for each build log,
# "LBVM-BUILD: sha256 HASH FILE" for each product, "LBVM-BUILD: end JOB [N]",
# and "LBVM-TEST: error ..." on a failure.
set -u
export PATH=/usr/bin:/bin:/usr/sbin:/sbin LC_ALL=C HOME=/tmp TMPDIR=/tmp
SRC=/src/$(cat /src/dir)
mark() { echo "LBVM-BUILD: $*"; }
err() { echo "LBVM-TEST: error $*"; }
# log NAME FILE: the build log's gcc/make error and warning counts
logcheck() {
    mark "log $1 errors=$(grep -c -E 'error:|Error [0-9]|\*\*\*' "$2") warnings=$(grep -c 'warning:' "$2")"
}
# fail NAME LOG: report a failed step with the end of its log
failed() {
    err "$1 failed"
    tail -n 15 "$2"
    return 1
}
# conf_make NAME: configure and make the subproject NAME in ./NAME
conf_make() {
    mkdir -p "$1" && cd "$1" || return 1
    mark "phase configure $1"
    "$SRC/$1/configure" >configure.log 2>&1 || { failed "configure of $1" configure.log; return 1; }
    mark "configured $1"
    mark "phase compile $1"
    make >make.log 2>&1 || { failed "make of $1" make.log; return 1; }
    logcheck "$1" make.log
    cd ..
}
# sums FILE...: the products' SHA-256
sums() {
    for f in "$@"; do
        set -- $(sha256sum "$f")
        mark "sha256 $1 $2"
    done
}
minigzip() {
    mark "phase link minigzip"
    gcc -O2 -I"$SRC/zlib" -Izlib "$SRC/zlib/minigzip.c" zlib/libz.a -o minigzip >link.log 2>&1 \
        || { failed "link of minigzip" link.log; return 1; }
    logcheck minigzip link.log
    mark "minigzip says: $(echo "hello from the lbvm guest" | ./minigzip | ./minigzip -d)"
}
small() {
    conf_make zlib || return 1
    minigzip || return 1
    sums zlib/libz.a minigzip
}
medium() {
    conf_make libiberty || return 1
    conf_make zlib || return 1
    mark "phase compile programs"
    gcc -O2 -I"$SRC/zlib" -Izlib -c "$SRC/zlib/example.c" -o example.o >cc.log 2>&1 \
        && gcc -O2 -DHAVE_CONFIG_H -Ilibiberty -I"$SRC/include" -c "$SRC/libiberty/testsuite/test-demangle.c" \
            -o test-demangle.o >>cc.log 2>&1 || { failed "compile of the programs" cc.log; return 1; }
    logcheck programs cc.log
    minigzip || return 1
    mark "phase link programs"
    gcc example.o zlib/libz.a -o example >link2.log 2>&1 \
        && gcc test-demangle.o libiberty/libiberty.a -o test-demangle >>link2.log 2>&1 \
        || { failed "link of the programs" link2.log; return 1; }
    logcheck programs-link link2.log
    mark "phase run test-demangle"
    mark "test-demangle: $(./test-demangle <"$SRC/libiberty/testsuite/demangle-expected" 2>&1 | tail -n 1)"
    sums libiberty/libiberty.a zlib/libz.a minigzip example test-demangle
}

job=${1:-small}
cd /tmp || exit 1
case $job in
small|medium)
    rm -rf "/work/$job" && mkdir -p "/work/$job" && cd "/work/$job" || { err "cannot make /work/$job"; exit 1; }
    "$job" || exit 1
    sync
    mark "end $job"
    ;;
loop)
    i=1
    while :; do
        rm -rf /work/loop && mkdir -p /work/loop && cd /work/loop || { err "cannot make /work/loop"; exit 1; }
        mark "round $i"
        medium || exit 1
        cd /tmp && sync
        mark "end loop $i"
        i=$((i + 1))
    done
    ;;
*)
    err "unknown build job '$job'"
    exit 1
    ;;
esac
