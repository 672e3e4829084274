# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034
# Sourced by every tests/boot/test_*.sh (and bench/bench.sh): where things are,
# the test inputs, the test initramfs, running lbvm, and assertions that say why.
#
# Environment (ctest sets the first three; by hand they default from this file's place):
#   LBVM         path of the lbvm program         (default $LBVM_BUILD/lbvm)
#   LBVM_SRC     repo root                        (default: two folders up from here)
#   LBVM_BUILD   build folder                     (default $LBVM_SRC/build)
#   LBVM_TEST_INPUTS  cache of fetched kernels etc. (default $LBVM_SRC/.cache/test-inputs)
#   LBVM_TEST_LIMIT   guest seconds before a run is stopped (default 300)
#   LBVM_TEST_TIMEOUT host seconds before a run is killed (default 600)
#   LBVM_KEEP=1       keep the work folder even when the test passes

set -u
LBVM_SRC=${LBVM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LBVM_BUILD=${LBVM_BUILD:-$LBVM_SRC/build}
LBVM=${LBVM:-$LBVM_BUILD/lbvm}
LBVM_TEST_INPUTS=${LBVM_TEST_INPUTS:-$LBVM_SRC/.cache/test-inputs}
LBVM_TEST_LIMIT=${LBVM_TEST_LIMIT:-300}
LBVM_TEST_TIMEOUT=${LBVM_TEST_TIMEOUT:-600}
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)

# Applets the guest's /init uses (busybox resolves them by argv[0]).
LBVM_APPLETS="sh mount umount mkdir cat ls dd sha256sum poweroff reboot sleep dmesg uname"

# --- reporting ------------------------------------------------------------
# fail MESSAGE [FILE...]: print the reason (and the tail of each FILE), exit 1.
fail() {
    local msg=$1 f
    shift
    echo "FAIL: $TEST_NAME: $msg" >&2
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "---- last lines of $f:" >&2
        tail -n 25 "$f" | sed 's/^/    /' >&2
    done
    WORK_KEEP=1
    exit 1
}
note() { echo "$TEST_NAME: $*"; }
pass() { echo "PASS: $TEST_NAME${1:+: $1}"; }

# --- work folder ----------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lbvm-$TEST_NAME.XXXXXX") || { echo "FAIL: cannot create a temporary folder" >&2; exit 1; }
WORK_KEEP=${LBVM_KEEP:-}
# Background runs still going when the test ends (it failed) end with it.
stop_bg() { local p; for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; }
lbvm_cleanup() {
    stop_bg
    if [ -z "$WORK_KEEP" ]; then rm -rf "$WORK"; else echo "(work folder: $WORK)" >&2; fi
}
trap lbvm_cleanup EXIT

# --- inputs ---------------------------------------------------------------
# need_inputs: make sure the fetched kernels etc. are there (fetching them if
# not); sets CACHE. Fails the test with the fetcher's reason.
need_inputs() {
    CACHE=$LBVM_TEST_INPUTS
    if ! [ -s "$CACHE/VERSIONS" ] || ! [ -s "$CACHE/k686/vmlinuz" ] || ! [ -s "$CACHE/k686pae/vmlinuz" ] \
       || ! [ -s "$CACHE/amd64/vmlinuz" ] || ! [ -s "$CACHE/busybox" ]; then
        note "test inputs missing in $CACHE: fetching them"
        bash "$LBVM_SRC/scripts/fetch-test-inputs.sh" "$CACHE" >"$WORK/fetch.out" 2>&1 \
            || fail "test inputs could not be fetched: $(grep -h 'fetch-test-inputs:' "$WORK/fetch.out" | tail -n1)" "$WORK/fetch.out"
    fi
    KERNEL_686=$CACHE/k686/vmlinuz
    KERNEL_686PAE=$CACHE/k686pae/vmlinuz
    KERNEL_AMD64=$CACHE/amd64/vmlinuz
    BUSYBOX=$CACHE/busybox
}

# need_lbvm: the program under test must exist.
need_lbvm() {
    [ -x "$LBVM" ] || fail "lbvm is not built: $LBVM is not an executable (build it, or set LBVM)"
}

# add_busybox ROOT APPLET...: busybox at ROOT/bin/busybox with a link for
# each applet named.
add_busybox() {
    local root=$1 a
    shift
    mkdir -p "$root/bin" || fail "cannot create $root/bin"
    cp "$CACHE/busybox" "$root/bin/busybox" && chmod 755 "$root/bin/busybox" || fail "cannot copy busybox"
    for a in "$@"; do ln -sf busybox "$root/bin/$a"; done
}

# --- disk modules ---------------------------------------------------------
# Debian's modules for an AHCI disk with ext4, in load order (paths under
# lib/modules/<version>/kernel).
DISK_MODULES="drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/ata/libata drivers/ata/libahci
    drivers/ata/ahci crypto/crct10dif_common crypto/crct10dif_generic lib/crc-t10dif lib/crc64
    crypto/crc64_rocksoft_generic lib/crc64-rocksoft block/t10-pi drivers/scsi/sd_mod lib/crc16 fs/mbcache
    fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4"

# make_kexec_root ROOT KERNEL2 INITRD2: an initramfs tree whose /init kexecs
# (Debian's kexec-tools from the test inputs) into KERNEL2 with INITRD2 and
# the test command line (lbvm.test=boot); it prints "LBVM-TEST: stage1
# RELEASE" and "LBVM-TEST: stage1 loaded" on the way.
make_kexec_root() {
    local r=$1 k2=$2 i2=$3
    [ -s "$CACHE/kexec/kexec" ] || fail "kexec-tools missing from the test inputs ($CACHE/kexec)"
    mkdir -p "$r/bin" "$r/sbin" "$r/lib/i386-linux-gnu" "$r/boot" "$r/proc" "$r/sys" "$r/dev" || fail "cannot create $r"
    add_busybox "$r" sh
    cp "$CACHE/kexec/kexec" "$r/sbin/kexec" && cp "$CACHE/kexec/libc.so.6" "$CACHE/kexec/ld-linux.so.2" "$r/lib/i386-linux-gnu/" \
        && ln -sf i386-linux-gnu/ld-linux.so.2 "$r/lib/ld-linux.so.2" && cp "$k2" "$r/boot/vmlinuz" \
        && cp "$i2" "$r/boot/initrd.cpio" || fail "cannot fill the kexec tree $r"
    cat > "$r/init" <<'INIT'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
echo "LBVM-TEST: stage1 $(/bin/busybox uname -r)"
/sbin/kexec -l /boot/vmlinuz --initrd=/boot/initrd.cpio \
    --append="console=ttyS0 earlyprintk=serial,ttyS0 noapic nolapic acpi=off panic=-1 lbvm.test=boot" \
    && echo "LBVM-TEST: stage1 loaded"
/sbin/kexec -e
echo "LBVM-TEST: error kexec -e returned"
/bin/busybox poweroff -f
INIT
    chmod 755 "$r/init"
}

# add_disk_modules ROOT FLAVOUR: copies the modules of FLAVOUR (k686 or
# k686pae) into ROOT/modules and writes ROOT/disk-setup.sh, which a guest
# /init sources first: it mounts proc, sysfs and devtmpfs, loads the modules
# and waits (up to 10 s of guest time) for /dev/sda.
add_disk_modules() {
    local root=$1 flavour=$2 m names=
    mkdir -p "$root/modules" || fail "cannot create $root/modules"
    for m in $DISK_MODULES; do
        cp "$CACHE/$flavour/modules/kernel/$m.ko" "$root/modules/" || fail "module $m missing from the test inputs"
        names="$names ${m##*/}"
    done
    cat > "$root/disk-setup.sh" <<LOAD
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in$names; do
    insmod /modules/\$m.ko || echo "LBVM-TEST: error insmod \$m"
done
i=0
while [ ! -b /dev/sda ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
LOAD
}

# --- builds in the guest (test_guest_build.sh, bench/bench-build.sh, bench/soak.sh) ---
# The binutils subprojects the builds use (tests/boot/guest-build.sh) and the
# files at the top of the tarball their configure scripts need (the aux dir is ..)
BUILD_SUBDIRS="zlib libiberty include config install-sh config.guess config.sub ltmain.sh missing compile depcomp
    mkinstalldirs test-driver ar-lib move-if-change"
# The guest's clock at power-on for the builds (2024-01-01): after the tarball's
# dates, or automake's "newly created file is older than distributed files" fires
BUILD_EPOCH=1704067200

# need_guestbuild: the i386 userland and the binutils tarball in the test inputs
# (fetched if missing); sets GB to their folder.
need_guestbuild() {
    GB=$CACHE/guestbuild
    if ! [ -x "$GB/root/usr/bin/gcc" ] || ! [ -s "$GB/binutils.tar.xz" ] || ! [ -s "$GB/binutils.dir" ]; then
        note "the guest build userland is missing in $CACHE: fetching it"
        bash "$LBVM_SRC/scripts/fetch-test-inputs.sh" "$CACHE" >"$WORK/fetch.out" 2>&1 \
            || fail "the guest build userland could not be fetched: $(grep -h 'fetch-test-inputs:' "$WORK/fetch.out" | tail -n1)" "$WORK/fetch.out"
    fi
}

# make_build_disk OUT SIZE: an ext4 image (mke2fs -d, no root) holding the i386
# userland (less its docs, man pages and translations), the binutils
# subprojects in /src/<binutils-X.Y> (/src/dir names it) and /lbvm/build.sh;
# fixed UUID, hash seed and creation time; the inodes keep the host files' change
# times (mke2fs -d), so two images made at different times differ in those only
make_build_disk() {
    local out=$1 size=$2 t=$WORK/build-tree top p subs=
    need_guestbuild
    rm -rf "$t" && mkdir -p "$t/src" "$t/lbvm" "$t/work" || fail "cannot create $t"
    tar -C "$GB/root" --exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/info \
        --exclude=./usr/share/locale -cf - . | tar -C "$t" -xf - || fail "cannot copy the guest build userland"
    mkdir -p "$t/proc" "$t/dev" "$t/tmp" && chmod 1777 "$t/tmp" || fail "cannot create $t/tmp"
    top=$(cat "$GB/binutils.dir")
    for p in $BUILD_SUBDIRS; do subs="$subs $top/$p"; done
    # shellcheck disable=SC2086
    tar -xJf "$GB/binutils.tar.xz" -C "$t/src" $subs 2>"$WORK/untar.err" || fail "cannot unpack the binutils subprojects" "$WORK/untar.err"
    echo "$top" > "$t/src/dir"
    cp "$LBVM_SRC/tests/boot/guest-build.sh" "$t/lbvm/build.sh" && chmod 755 "$t/lbvm/build.sh" || fail "cannot copy guest-build.sh"
    rm -f "$out" && truncate -s "$size" "$out" || fail "cannot create $out"
    E2FSPROGS_FAKE_TIME=1000000000 PATH=$PATH:/sbin:/usr/sbin mke2fs -q -t ext4 -F -U 6c62766d-6275-696c-6400-000000000001 \
        -E root_owner=0:0,hash_seed=6c62766d-6275-696c-6400-000000000002,lazy_itable_init=0,lazy_journal_init=0 \
        -d "$t" "$out" >"$WORK/mke2fs.err" 2>&1 || fail "mke2fs -d failed" "$WORK/mke2fs.err"
    rm -rf "$t"
}

# make_build_initramfs OUT: busybox, the disk modules (686) and guest-build-init.sh as /init
make_build_initramfs() {
    local out=$1 r=$WORK/build-initrd
    mkdir -p "$r/proc" "$r/sys" "$r/dev" "$r/mnt" || fail "cannot create $r"
    add_busybox "$r" sh mount umount mkdir cat insmod sleep chroot poweroff sync
    add_disk_modules "$r" k686
    cp "$LBVM_SRC/tests/boot/guest-build-init.sh" "$r/init" && chmod 755 "$r/init" || fail "cannot copy guest-build-init.sh"
    "$LBVM" mkinitramfs -o "$out" "$r" >"$WORK/mkinitramfs.err" 2>&1 || fail "lbvm mkinitramfs failed" "$WORK/mkinitramfs.err"
}

# --- the test initramfs ---------------------------------------------------
# make_test_root DIR: the guest's file tree (busybox + applet links, /init).
make_test_root() {
    local d=$1 a
    mkdir -p "$d/bin" "$d/dev" "$d/proc" "$d/sys" "$d/tmp" || fail "cannot create $d"
    cp "$BUSYBOX" "$d/bin/busybox" && chmod 755 "$d/bin/busybox" || fail "cannot copy busybox"
    for a in $LBVM_APPLETS; do ln -sf busybox "$d/bin/$a"; done
    cp "$LBVM_SRC/tests/boot/init.sh" "$d/init" && chmod 755 "$d/init" || fail "cannot copy init.sh"
    chmod 755 "$d" "$d/bin" "$d/dev" "$d/proc" "$d/sys"
    chmod 1777 "$d/tmp"
}

# build_initramfs OUT [EXTRA_DIR...]: the test initramfs through `lbvm mkinitramfs`
# (extra trees override the test root).
build_initramfs() {
    local out=$1
    shift
    [ -d "$WORK/root" ] || make_test_root "$WORK/root"
    "$LBVM" mkinitramfs -o "$out" "$WORK/root" "$@" >"$WORK/mkinitramfs.err" 2>&1 \
        || fail "lbvm mkinitramfs failed (exit $?)" "$WORK/mkinitramfs.err"
    [ -s "$out" ] || fail "lbvm mkinitramfs wrote no $out"
}

# --- running lbvm -----------------------------------------------------------
# bg_lbvm NAME ARGS...: `lbvm ARGS...` in the background, stdout in
# $WORK/NAME.out, stderr in $WORK/NAME.err; its process id in BG_PID.
bg_lbvm() {
    local name=$1
    shift
    "$LBVM" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
    BG_PID=$!
}
# wait_bg NAME PID: waits for a bg_lbvm run (killed after LBVM_TEST_TIMEOUT
# host seconds); its exit code in RC.
wait_bg() {
    local name=$1 pid=$2 n=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 0.1
        n=$((n + 1))
        if [ "$n" -ge $((LBVM_TEST_TIMEOUT * 10)) ]; then
            kill -9 "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            fail "$name: lbvm was still running after $LBVM_TEST_TIMEOUT host seconds" "$WORK/$name.err"
        fi
    done
    RC=0
    wait "$pid" 2>/dev/null || RC=$?
}
# run_lbvm NAME ARGS...: `lbvm ARGS...` with stdout in $WORK/NAME.out, stderr in
# $WORK/NAME.err, exit code in RC; killed after LBVM_TEST_TIMEOUT host seconds.
run_lbvm() {
    local name=$1
    shift
    RC=0
    timeout -k 10 "$LBVM_TEST_TIMEOUT" "$LBVM" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null || RC=$?
    [ "$RC" = 124 ] || [ "$RC" = 137 ] && fail "lbvm $* was still running after $LBVM_TEST_TIMEOUT host seconds" \
        "$WORK/$name.out" "$WORK/$name.err"
    return 0
}

# boot_guest NAME KERNEL INITRD TEST [EXTRA LBVM ARGS...]: boot with lbvm.test=TEST,
# console in $WORK/NAME.console, --stats, the guest-time limit. Sets RC.
boot_guest() {
    local name=$1 kernel=$2 initrd=$3 test=$4
    shift 4
    local t0=$SECONDS
    run_lbvm "$name" boot --kernel "$kernel" --initrd "$initrd" --append "lbvm.test=$test" \
        --console "$WORK/$name.console" --stats --limit "$LBVM_TEST_LIMIT" "$@"
    note "$name: exit $RC after $((SECONDS - t0)) s; $(stats_of "$name" | tr '\n' ' ')"
}

# stats_of NAME: the --stats lines of run NAME
stats_of() { grep -E '^lbvm: (ticks|ram-sha256) ' "$WORK/$1.err"; }

# expect_boot NAME: the run reached /init, finished its action and powered off.
expect_boot() {
    local name=$1 c=$WORK/$1.console
    [ "$RC" = 4 ] && fail "$name: guest-time limit ($LBVM_TEST_LIMIT s) reached before the guest powered off" "$c" "$WORK/$name.err"
    [ "$RC" = 2 ] && fail "$name: guest crashed (lbvm exit 2)" "$c" "$WORK/$name.err"
    [ "$RC" = 3 ] && fail "$name: guest asked for a reset instead of powering off (lbvm exit 3)" "$c" "$WORK/$name.err"
    [ "$RC" = 0 ] || fail "$name: lbvm exited $RC, expected 0" "$c" "$WORK/$name.err"
    [ -s "$c" ] || fail "$name: the console file $c is empty" "$WORK/$name.err"
    assert_contains "$c" "Linux version " "$name: no kernel banner on the console"
    assert_contains "$c" "LBVM-TEST: init reached" "$name: the kernel never ran /init (no marker)"
    assert_contains "$c" "LBVM-TEST: done" "$name: /init did not finish its action"
    assert_not_contains "$c" "LBVM-TEST: error" "$name: /init reported an error"
    assert_not_contains "$c" "Kernel panic" "$name: the kernel panicked"
}

# --- assertions -------------------------------------------------------------
assert_contains() {      # FILE STRING REASON
    grep -qF -- "$2" "$1" || fail "$3 (no \"$2\" in $(basename "$1"))" "$1"
}
assert_not_contains() {  # FILE STRING REASON
    grep -qF -- "$2" "$1" && fail "$3 (found \"$2\" in $(basename "$1"))" "$1"
    return 0
}
assert_same_file() {     # A B REASON
    cmp -s "$1" "$2" || fail "$3: $(basename "$1") and $(basename "$2") differ: $(cmp "$1" "$2" 2>&1 | head -n1)" \
        "$1" "$2"
}
assert_eq() {            # GOT WANT REASON
    [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# --- checkpoints (test_checkpoint.sh, test_checkpoint_disk.sh) ----------------
# ckpts_of NAME: "PATH TICKS LINE" of each periodic (LINE empty) or marker
# checkpoint run NAME announced.
ckpts_of() { sed -n 's/^lbvm: checkpoint \(.*\) at \([0-9]*\) ticks ([^)]*)\( after: \)\{0,1\}\(.*\)$/\1 \2 \4/p' "$WORK/$1.err"; }
# final_ckpt_of NAME: the final checkpoint's path.
final_ckpt_of() { sed -n 's/^lbvm: final checkpoint //p' "$WORK/$1.err"; }
# console_at CKPT: the console bytes the guest had printed at that checkpoint (from lbvm inspect).
console_at() {
    "$LBVM" inspect "$1" > "$WORK/inspect.out" 2>&1 || fail "lbvm inspect $1 failed" "$WORK/inspect.out"
    sed -n 's/^console *\([0-9][0-9]*\) bytes.*/\1/p' "$WORK/inspect.out"
}
# same_stats A B WHAT: runs A and B printed the same ticks and ram-sha256.
same_stats() {
    local a b
    a=$(stats_of "$1" | tr '\n' ' ')
    b=$(stats_of "$2" | tr '\n' ' ')
    [ -n "$a" ] && [ "$(stats_of "$1" | wc -l)" = 2 ] || fail "$1: no --stats lines" "$WORK/$1.err"
    [ "$a" = "$b" ] || fail "$3: $1 ended with '$a', $2 with '$b'" "$WORK/$1.err" "$WORK/$2.err"
}
# same_events A B WHAT: runs A and B printed the same event counts (--stats;
# since power-on, resumed runs included).
same_events() {
    local a b
    a=$(grep '^lbvm: events' "$WORK/$1.err")
    b=$(grep '^lbvm: events' "$WORK/$2.err")
    [ -n "$a" ] || fail "$1: no 'lbvm: events' line" "$WORK/$1.err"
    [ "$a" = "$b" ] || fail "$3: $1 printed '$a', $2 '$b'"
}
# same_points A B WHAT: journals A and B have the same point lines (ticks,
# hashes and event counts); on a difference, says which counts differ.
same_points() {
    local a=$1 b=$2 la lb
    grep '^point ' "$a" > "$a.points"
    grep '^point ' "$b" > "$b.points"
    [ -s "$a.points" ] || fail "$3: $(basename "$a") has no points" "$a"
    cmp -s "$a.points" "$b.points" && return 0
    la=$(diff "$a.points" "$b.points" | sed -n 's/^< //p' | head -n1)
    lb=$(diff "$a.points" "$b.points" | sed -n 's/^> //p' | head -n1)
    fail "$3: first differing point: $(basename "$a") ${la%% console=*} events=${la##*events=}, $(basename "$b") ${lb%% console=*} events=${lb##*events=} (events= blocks,fills r,w,x,code flushes,page faults,other exceptions,int n,irqs,halts,rdtsc)"
}
# check_resumed NAME CKPT STRAIGHT: run NAME, resumed from CKPT, exited 0 and
# printed exactly the console of run STRAIGHT after CKPT, with the same stats.
check_resumed() {
    local name=$1 ck=$2 st=$3 at total got
    [ "$RC" = 0 ] || fail "$name: lbvm resume $ck exited $RC, expected 0" "$WORK/$name.console" "$WORK/$name.err"
    at=$(console_at "$ck")
    [ -n "$at" ] || fail "lbvm inspect $ck printed no console byte count" "$WORK/inspect.out"
    total=$(wc -c < "$WORK/$st.console")
    got=$(wc -c < "$WORK/$name.console")
    [ "$got" -gt 0 ] || fail "$name: the resumed run printed nothing" "$WORK/$name.err"
    [ "$got" = $((total - at)) ] || fail "$name: resumed from a checkpoint taken after $at console bytes, it printed $got bytes; the straight run printed $total in all, so $((total - at)) were expected" "$WORK/$name.console"
    tail -c "$got" "$WORK/$st.console" > "$WORK/$name.want"
    cmp -s "$WORK/$name.want" "$WORK/$name.console" \
        || fail "$name: the console after the checkpoint differs from the straight run's: $(cmp "$WORK/$name.want" "$WORK/$name.console" 2>&1 | head -n1)" "$WORK/$name.want" "$WORK/$name.console"
    same_stats "$name" "$st" "$name: resumed from $(basename "$ck"), the run did not end as the straight run"
}
