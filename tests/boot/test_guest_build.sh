#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real build in the guest: Debian's i386 gcc, binutils, make, dash, coreutils
# etc. (the guestbuild test input: packages resolved by apt and unpacked, no
# root) on an ext4 image made with mke2fs -d on the AHCI disk; the guest runs
# `configure && make` of zlib from the upstream binutils tarball that Debian's
# binutils-source ships, links minigzip against the new libz.a and runs it
# (tests/boot/guest-build.sh, job "small"). Checks: every phase reached, no
# error in the build logs, minigzip round-trips a line, the products' SHA-256
# printed. The run takes checkpoints every 10 G ticks; resumed in a new process
# from one taken while make was compiling (gcc running), it ends exactly as the
# first run: the same console bytes from there, ticks, RAM hash and journal end
# point (with the disk's content hash).
LBVM_TEST_TIMEOUT=${LBVM_TEST_TIMEOUT:-1500}
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
need_guestbuild
LIMIT=1200     # guest seconds (the build takes about 90)

make_build_disk "$WORK/disk.img" 2G
make_build_initramfs "$WORK/build.cpio"
export SOURCE_DATE_EPOCH=$BUILD_EPOCH

end_point() { grep '^point [0-9]* end ' "$1" | tail -n1; }
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# 1. The build, with checkpoints and a journal.
t0=$SECONDS
run_lbvm build boot --kernel "$KERNEL_686" --initrd "$WORK/build.cpio" --append "lbvm.build=small" \
    --disk "$WORK/disk.img" --console "$WORK/build.console" --stats --limit "$LIMIT" \
    --checkpoint-dir "$WORK/ck" --journal "$WORK/build.journal" --checkpoint-every 10G
note "build: exit $RC after $((SECONDS - t0)) s; $(stats_of build | tr '\n' ' ')"
c=$WORK/build.console
[ "$RC" = 4 ] && fail "build: the guest-time limit ($LIMIT s) was reached" "$c"
[ "$RC" = 0 ] || fail "build: lbvm exited $RC" "$c" "$WORK/build.err"
assert_not_contains "$c" "LBVM-TEST: error" "build: the guest reported an error"
assert_not_contains "$c" "Kernel panic" "build: the kernel panicked"
for m in "phase configure zlib" "configured zlib" "phase compile zlib" "log zlib errors=0 " "phase link minigzip" \
         "log minigzip errors=0 " "minigzip says: hello from the lbvm guest" "end small"; do
    assert_contains "$c" "LBVM-BUILD: $m" "build: the guest did not print '$m'"
done
assert_contains "$c" "LBVM-TEST: done" "build: the guest did not finish"
sums=$(grep -a -c -E '^LBVM-BUILD: sha256 [0-9a-f]{64} (zlib/libz.a|minigzip)' "$c")
assert_eq "$sums" 2 "build: the SHA-256 lines of libz.a and minigzip"
note "build: $(grep -a 'LBVM-BUILD: sha256' "$c" | cut -d' ' -f3- | sed 's/^\(.\{16\}\)[0-9a-f]*/\1.../' | paste -sd';' -)"

# 2. Resume from the first checkpoint taken during make (after 'phase compile
# zlib' reached the console, before make's log was checked).
at_line() { grep -a -b -F "LBVM-BUILD: $1" "$c" | head -n1 | cut -d: -f1; }   # byte offset of the line
from=$(at_line "phase compile zlib")
to=$(at_line "log zlib ")
ck=
while read -r path _; do
    n=$(console_at "$path")
    if [ -n "$n" ] && [ "$n" -gt "$from" ] && [ "$n" -le "$to" ]; then ck=$path; break; fi
done < <(ckpts_of build)
[ -n "$ck" ] || fail "no checkpoint of the build fell during make (console bytes $from to $to)" "$WORK/build.err"
cp "$WORK/build.journal" "$WORK/res.journal"
t0=$SECONDS
run_lbvm res resume "$ck" --console "$WORK/res.console" --stats --limit "$LIMIT" --journal "$WORK/res.journal"
note "res: from $(basename "$ck") (console byte $(console_at "$ck")): exit $RC after $((SECONDS - t0)) s"
check_resumed res "$ck" build
got=$(end_point "$WORK/res.journal")
want=$(end_point "$WORK/build.journal")
[ -n "$(field disk0 "$want")" ] || fail "the build's journal has no end point with a disk0= hash" "$WORK/build.journal"
[ "$(field disk0 "$got")" = "$(field disk0 "$want")" ] \
    || fail "resumed, the disk at the end differs: disk0=$(field disk0 "$got"), the build's disk0=$(field disk0 "$want")"
pass "configure && make of zlib in the guest ($(stats_of build | head -n1 | cut -d' ' -f3) ticks), minigzip runs; resumed mid-make to the same console, ticks, RAM and disk"
