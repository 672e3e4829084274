#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A resumed run continues exactly as the run that went on, down to the event
# counts (TLB fills by kind, code flushes, exceptions, interrupts, blocks):
# TLB fills set accessed bits in the guest's page tables, so a resumed run that
# refills where the original did not could be seen by the guest. The workload
# forks a few hundred busybox processes (page faults, a TLB refill after every
# CR3 write). A run with periodic checkpoints and a journal, then `lbvm resume`
# in new processes from an early and a late checkpoint, each with the same
# checkpoint period and its own copy of the journal: every journal point after
# the checkpoint (ticks, hashes, counts since power-on), the final --stats
# counts and the console must be the straight run's; `lbvm verify` of a
# resumed journal passes, and one count changed in a journal is a divergence
# named by its point.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
mkdir -p "$WORK/extra"
cat > "$WORK/extra/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
echo "LBVM-TEST: init reached"
i=0
while [ $i -lt 300 ]; do
    echo $i | sha256sum > /dev/null
    ls /bin > /dev/null
    i=$((i + 1))
done
echo "LBVM-TEST: forked $i times"
echo "LBVM-TEST: done"
poweroff -f
INIT
chmod 755 "$WORK/extra/init"
build_initramfs "$WORK/initrd.cpio" "$WORK/extra"

every=3000000000      # four periodic checkpoints in a run of about 12.8 G ticks
boot_guest st "$KERNEL_686" "$WORK/initrd.cpio" forks --checkpoint-dir "$WORK/ck" --checkpoint-every "$every" \
    --journal "$WORK/st.journal"
[ "$RC" = 0 ] || fail "st: lbvm exited $RC" "$WORK/st.console" "$WORK/st.err"
assert_contains "$WORK/st.console" "LBVM-TEST: forked 300 times" "st: the workload did not finish"
ckpts_of st > "$WORK/st.list"
[ "$(wc -l < "$WORK/st.list")" -ge 3 ] || fail "st: fewer than 3 periodic checkpoints" "$WORK/st.err"
grep -q ' events=' "$WORK/st.journal" || fail "the journal's points record no event counts" "$WORK/st.journal"

# resume from the first and the third periodic checkpoint, at once
early=$(head -n1 "$WORK/st.list" | cut -d' ' -f1)
late=$(sed -n 3p "$WORK/st.list" | cut -d' ' -f1)
for r in early late; do
    cp "$WORK/st.journal" "$WORK/$r.journal"
done
bg_lbvm early resume "$early" --console "$WORK/early.console" --stats --limit "$LBVM_TEST_LIMIT" \
    --checkpoint-dir "$WORK/ck-early" --checkpoint-every "$every" --journal "$WORK/early.journal"
early_pid=$BG_PID
run_lbvm late resume "$late" --console "$WORK/late.console" --stats --limit "$LBVM_TEST_LIMIT" \
    --checkpoint-dir "$WORK/ck-late" --checkpoint-every "$every" --journal "$WORK/late.journal"
wait_bg early "$early_pid"
for r in early late; do
    ck=$early; [ $r = late ] && ck=$late
    ck_ticks=$(grep "^$ck " "$WORK/st.list" | cut -d' ' -f2)
    check_resumed $r "$ck" st
    same_points "$WORK/st.journal" "$WORK/$r.journal" "resumed from $(basename "$ck") ($ck_ticks ticks)"
    same_events st $r "resumed from $(basename "$ck"), the counts since power-on differ at the end"
    note "$r: resumed at $ck_ticks ticks, $(grep -c '^point ' "$WORK/$r.journal") points and the end counts identical"
done
note "counts: $(grep '^lbvm: events' "$WORK/st.err")"

# verify the late run's journal (from its checkpoint), then a journal with one
# count changed in its second point (TLB write fills) from the boot.
run_lbvm vlate verify "$WORK/late.journal" --from "$late"
[ "$RC" = 0 ] || fail "lbvm verify --from $(basename "$late") of the resumed journal exited $RC" "$WORK/vlate.out" "$WORK/vlate.err"
note "verify of the resumed journal: $(head -n1 "$WORK/vlate.out")"
awk '/^point / && ++n == 2 { split($0, a, "events="); split(a[2], c, ","); c[3]++
       $0 = a[1] "events=" c[1]; for (i = 2; i <= 11; i++) $0 = $0 "," c[i] } { print }' \
    "$WORK/st.journal" > "$WORK/bad.journal"
[ "$(diff "$WORK/st.journal" "$WORK/bad.journal" | grep -c '^>')" = 1 ] || fail "could not change one count in the journal"
run_lbvm vbad verify "$WORK/bad.journal"
[ "$RC" = 6 ] || fail "lbvm verify of a journal with one count changed exited $RC, expected 6" "$WORK/vbad.out" "$WORK/vbad.err"
grep -q '^diverged at point 2 (every, .*): the count of TLB write fills (recorded [0-9]*, this run [0-9]*) differs$' \
    "$WORK/vbad.out" || fail "lbvm verify did not name the changed count at point 2" "$WORK/vbad.out"
note "one count changed: $(head -n1 "$WORK/vbad.out")"
pass
