#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest time is virtual, so the same inputs must give the same run, byte for
# byte: two boots of each kernel give identical console output (timestamps
# included) and identical --stats lines (ticks executed, hash of guest RAM),
# down to the event counts (TLB fills too: no host time sizes the TLB).
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
build_initramfs "$WORK/initrd.cpio"

same_runs() {            # A B
    local a=$1 b=$2
    if ! cmp -s "$WORK/$a.console" "$WORK/$b.console"; then
        diff "$WORK/$a.console" "$WORK/$b.console" | head -n 20 > "$WORK/$a-$b.diff"
        fail "$a and $b: the console output differs" "$WORK/$a-$b.diff"
    fi
    stats_of "$a" > "$WORK/$a.stats"
    stats_of "$b" > "$WORK/$b.stats"
    [ "$(wc -l < "$WORK/$a.stats")" = 2 ] || fail "$a: lbvm --stats did not print the ticks and ram-sha256 lines" "$WORK/$a.err"
    cmp -s "$WORK/$a.stats" "$WORK/$b.stats" || fail "$a and $b: the --stats lines differ: $(paste -sd' ' "$WORK/$a.stats") vs $(paste -sd' ' "$WORK/$b.stats")"
    grep '^lbvm: events: ' "$WORK/$a.err" > "$WORK/$a.events"
    grep '^lbvm: events: ' "$WORK/$b.err" > "$WORK/$b.events"
    [ -s "$WORK/$a.events" ] || fail "$a: no 'lbvm: events:' line" "$WORK/$a.err"
    cmp -s "$WORK/$a.events" "$WORK/$b.events" || fail "$a and $b: the event counts differ: $(cat "$WORK/$a.events") vs $(cat "$WORK/$b.events")"
    note "$a and $b identical: $(paste -sd' ' "$WORK/$a.stats")"
}

for k in 686 686pae; do
    kern=$KERNEL_686; [ $k = 686pae ] && kern=$KERNEL_686PAE
    for r in 1 2; do
        boot_guest "k$k-$r" "$kern" "$WORK/initrd.cpio" boot
        expect_boot "k$k-$r"     # two runs that both fail the same way prove nothing
    done
    same_runs "k$k-1" "k$k-2"
done
pass
