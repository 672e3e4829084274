#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Bad input is refused before the guest runs: exit 1 and exactly one line on
# stderr, starting with "lbvm: ", that names the problem.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
build_initramfs "$WORK/initrd.cpio"

# refused NAME REGEX REASON LBVM-ARGS...: exit 1, one "lbvm: " line matching REGEX (grep -iE)
refused() {
    local name=$1 re=$2 why=$3
    shift 3
    # a guard in case the input is wrongly accepted: do not boot for long
    run_lbvm "$name" "$@" --limit 5
    local e=$WORK/$name.err
    [ "$RC" = 1 ] || fail "$name: lbvm exited $RC, expected 1 ($why)" "$e" "$WORK/$name.out"
    [ "$(wc -l < "$e")" = 1 ] || fail "$name: expected exactly one line on stderr, got $(wc -l < "$e")" "$e"
    grep -q '^lbvm: ' "$e" || fail "$name: the error line does not start with 'lbvm: '" "$e"
    grep -qiE -- "$re" "$e" || fail "$name: the message does not say $why (wanted /$re/)" "$e"
    note "$name: $(cat "$e")"
}

K=$KERNEL_686
I=$WORK/initrd.cpio

cp /etc/passwd "$WORK/passwd"
refused not-a-kernel 'kernel|bzimage|boot.?protocol|hdrs|magic|signature|header' "that the file is not a kernel" \
    boot --kernel "$WORK/passwd" --initrd "$I"

head -c 100000 "$K" > "$WORK/part-vmlinuz"
refused truncated 'truncat|short|incomplete|too small|end of file|size' "that the kernel is truncated" \
    boot --kernel "$WORK/part-vmlinuz" --initrd "$I"

# A kernel whose XZ payload is damaged (bytes in its middle overwritten): the
# host-side decompressor must refuse it with a clear message, not boot it.
cp "$K" "$WORK/bad-payload-vmlinuz"
printf 'lbvm-corrupts-this-kernel-payload' | dd of="$WORK/bad-payload-vmlinuz" bs=1 seek=2000000 conv=notrunc status=none
refused corrupt-payload 'corrupt' "that the kernel payload is corrupt" \
    boot --kernel "$WORK/bad-payload-vmlinuz" --initrd "$I"

refused amd64 '32-bit|32 bit|i386|x86-32' "that a 32-bit kernel is needed" \
    boot --kernel "$KERNEL_AMD64" --initrd "$I"

refused missing-initrd 'no-such-initrd\.img' "which initrd file is missing" \
    boot --kernel "$K" --initrd "$WORK/no-such-initrd.img"

# 80 MiB of initrd (sparse) cannot fit in 64 MiB of guest RAM
truncate -s 80M "$WORK/i80.img"
refused initrd-too-big 'large|big|fit|exceed|too much|memory|--mem' "that the initrd does not fit in guest memory" \
    boot --kernel "$K" --initrd "$WORK/i80.img" --mem 64

refused mem-32 'mem' "that --mem 32 is out of range" \
    boot --kernel "$K" --initrd "$I" --mem 32
grep -q '64 to 64512' "$WORK/mem-32.err" || fail "mem-32: the message does not give the range 64..64512" "$WORK/mem-32.err"
# RAM ends by 64 GiB (PAE's 36-bit physical addresses; 3 GiB below the hole, the rest from 4 GiB)
refused mem-64513 'mem' "that --mem 64513 is out of range" \
    boot --kernel "$K" --initrd "$I" --mem 64513
grep -q '64 to 64512' "$WORK/mem-64513.err" || fail "mem-64513: the message does not give the range 64..64512" "$WORK/mem-64513.err"

refused unknown-option 'frobnicate' "which option is unknown" \
    boot --kernel "$K" --initrd "$I" --frobnicate

refused keep-no-dir 'keep-checkpoints.*checkpoint-dir' "that --keep-checkpoints needs --checkpoint-dir" \
    boot --kernel "$K" --initrd "$I" --keep-checkpoints 3

# "missing value" comes from the option table itself, so a new option has it
# (last on the line: refused() would append --limit as its value)
run_lbvm keep-novalue boot --kernel "$K" --initrd "$I" --checkpoint-dir "$WORK/ckv" --keep-checkpoints
[ "$RC" = 1 ] || fail "keep-novalue: lbvm exited $RC, expected 1" "$WORK/keep-novalue.err"
assert_eq "$(cat "$WORK/keep-novalue.err")" "lbvm: missing value for option '--keep-checkpoints' (see 'lbvm --help')" \
    "keep-novalue: the message"

refused keep-zero 'keep-checkpoints' "that --keep-checkpoints 0 is out of range" \
    boot --kernel "$K" --initrd "$I" --checkpoint-dir "$WORK/ck0" --keep-checkpoints 0

refused missing-kernel 'kernel' "that --kernel is needed" \
    boot --initrd "$I"

refused missing-kernel-file 'no-such-vmlinuz' "which kernel file is missing" \
    boot --kernel "$WORK/no-such-vmlinuz" --initrd "$I"

# QUIRK(tlb-host-time): where libunicorn's clock calls do not reach lbvm's
# gettimeofday (no symbol interposition; the test seam acts so), no run starts.
LBVM_TEST_NO_TIME_INTERPOSITION=1 refused host-time 'host time would reach the guest' \
    "that host time would reach the guest" boot --kernel "$K" --initrd "$I"
pass
