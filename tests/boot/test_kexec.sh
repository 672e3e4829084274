#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# kexec from one real kernel into another, both ways (686 -> 686-pae and
# 686-pae -> 686), with Debian's kexec-tools: the second kernel boots its own
# initramfs to the test /init. Run twice one way: identical console and stats.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
build_initramfs "$WORK/second.cpio"      # the standard test /init, for the second kernel

run_kexec() {   # NAME KERNEL1 KERNEL2 RELEASE1 RELEASE2
    local name=$1 k1=$2 k2=$3 r1=$4 r2=$5 c=$WORK/$1.console
    [ -d "$WORK/$name-root" ] || make_kexec_root "$WORK/$name-root" "$k2" "$WORK/second.cpio"
    "$LBVM" mkinitramfs -o "$WORK/$name.cpio" "$WORK/$name-root" || fail "mkinitramfs failed"
    run_lbvm "$name" boot --kernel "$k1" --initrd "$WORK/$name.cpio" --console "$c" --stats --limit "$LBVM_TEST_LIMIT"
    [ "$RC" = 0 ] || fail "$name: lbvm exited $RC" "$c" "$WORK/$name.err"
    assert_contains "$c" "LBVM-TEST: stage1 $r1" "$name: the first kernel's /init did not run"
    assert_contains "$c" "LBVM-TEST: stage1 loaded" "$name: kexec -l failed"
    assert_contains "$c" "kexec_core: Starting new kernel" "$name: kexec -e did not start the new kernel"
    assert_contains "$c" "Linux version $r2 " "$name: the second kernel did not boot"
    assert_contains "$c" "LBVM-TEST: init reached" "$name: the second kernel did not reach its /init"
    assert_contains "$c" "LBVM-TEST: done" "$name: the second /init did not finish"
    assert_not_contains "$c" "LBVM-TEST: error" "$name: an error was reported"
}
R686=$(cat "$CACHE/k686/RELEASE")
RPAE=$(cat "$CACHE/k686pae/RELEASE")
run_kexec up "$KERNEL_686" "$KERNEL_686PAE" "$R686" "$RPAE"
run_kexec down "$KERNEL_686PAE" "$KERNEL_686" "$RPAE" "$R686"
run_kexec up2 "$KERNEL_686" "$KERNEL_686PAE" "$R686" "$RPAE"
cmp -s "$WORK/up.console" "$WORK/up2.console" || fail "two kexec runs gave different consoles" "$WORK/up2.console"
[ "$(stats_of up)" = "$(stats_of up2)" ] || fail "two kexec runs gave different ticks or RAM hash: $(stats_of up) / $(stats_of up2)"
pass "686 -> 686-pae and back; deterministic ($(stats_of up | head -1))"
