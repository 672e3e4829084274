#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guest under memory pressure, resumed in the middle of page reclaim, ends
# as the straight run did. Reclaim is where TLB refills could reach the guest:
# Linux clears accessed bits in page tables without a TLB flush and reads them
# back to choose what to swap out, and a fill sets them again. The 686 kernel
# with --mem 64, a zram swap device, and an awk that holds ~40 MiB and reads
# it over and over, twice: the kernel swaps out and back in all along. A
# monitor prints one line when swap-out starts and one once pages come back
# (thrashing); the run takes a checkpoint at each (--checkpoint-on) and keeps
# a journal. `lbvm resume` from each, in new processes with the same options:
# the console after the checkpoint, the final ticks and RAM hash, every later
# journal point (hashes and event counts) and the final counts are the
# straight run's, and the guest went on reclaiming after the checkpoint.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
K=$CACHE/k686/modules/kernel
mkdir -p "$WORK/extra/modules" || fail "cannot create $WORK/extra"
for m in mm/zsmalloc drivers/block/zram/zram; do
    cp "$K/$m.ko" "$WORK/extra/modules/" || fail "module $m missing from the test inputs"
done
add_busybox "$WORK/extra" mkswap swapon insmod awk grep tr
cat > "$WORK/extra/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "LBVM-TEST: init reached"
for m in zsmalloc zram; do insmod /modules/$m.ko || echo "LBVM-TEST: error insmod $m"; done
echo 64M > /sys/block/zram0/disksize
mkswap /dev/zram0 > /dev/null && swapon /dev/zram0 || echo "LBVM-TEST: error no swap"
vm() { grep -E '^(pswpin|pswpout|pgscan_kswapd|pgscan_direct) ' /proc/vmstat | tr '\n' ' '; }
(   out=0; in=0
    while sleep 0.5; do
        set -- $(vm)
        [ $out = 0 ] && [ "$4" -gt 0 ] && out=1 && echo "LBVM-TEST: reclaim started: $(vm)"
        [ $in = 0 ] && [ "$2" -gt 5000 ] && in=1 && echo "LBVM-TEST: reclaim thrashing: $(vm)"
    done ) &
for pass in 1 2; do
    awk -v j=$pass 'BEGIN { for (i = 0; i < 36000; i++) a[i] = sprintf("%1000d", i * j)
                            for (r = 0; r < 3; r++) for (i = 0; i < 36000; i++) s += length(a[i])
                            print "LBVM-TEST: awk " j " " s }'
done
echo "LBVM-TEST: result $(vm)"
echo "LBVM-TEST: done"
poweroff -f
INIT
chmod 755 "$WORK/extra/init"
build_initramfs "$WORK/initrd.cpio" "$WORK/extra"

on='LBVM-TEST: reclaim (started|thrashing)'
boot_guest st "$KERNEL_686" "$WORK/initrd.cpio" reclaim --mem 64 --checkpoint-dir "$WORK/ck" --checkpoint-on "$on" \
    --journal "$WORK/st.journal"
expect_boot st
assert_contains "$WORK/st.console" "LBVM-TEST: awk 2 108000000" "st: the awk did not finish"
ckpts_of st > "$WORK/st.list"
[ "$(wc -l < "$WORK/st.list")" = 2 ] || fail "st: expected two checkpoints (reclaim started, thrashing)" "$WORK/st.err"
res=$(sed -n 's/^LBVM-TEST: result //p' "$WORK/st.console" | tr -d '\r')
note "st: $res"

i=0
while read -r ck t line; do
    i=$((i + 1))
    cp "$WORK/st.journal" "$WORK/r$i.journal"
    bg_lbvm r$i resume "$ck" --console "$WORK/r$i.console" --stats --limit "$LBVM_TEST_LIMIT" \
        --checkpoint-dir "$WORK/ck-r$i" --checkpoint-on "$on" --journal "$WORK/r$i.journal"
    eval "pid$i=\$BG_PID"
    # the guest reclaims on after the checkpoint: more pages out than at it
    at=$(printf '%s\n' "$line" | sed -n 's/.* pswpout \([0-9]*\) .*/\1/p')
    end=$(printf '%s\n' "$res" | sed -n 's/.* pswpout \([0-9]*\) .*/\1/p')
    [ -n "$at" ] && [ -n "$end" ] && [ "$end" -gt "$at" ] \
        || fail "checkpoint at '$line': the guest did not go on swapping out after it (at the end: $res)"
    note "checkpoint $i at $t ticks: $line"
done < "$WORK/st.list"
i=0
while read -r ck t line; do
    i=$((i + 1))
    eval "wait_bg r$i \$pid$i"
    check_resumed r$i "$ck" st
    same_points "$WORK/st.journal" "$WORK/r$i.journal" "resumed at $t ticks, mid-reclaim"
    same_events st r$i "resumed at $t ticks, mid-reclaim: the counts since power-on differ at the end"
    note "r$i: resumed at $t ticks: same console, hashes, journal points and counts"
done < "$WORK/st.list"
pass
