#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The audit in parallel (docs/audit.md): a run with checkpoints and a journal
# becomes a bundle (`lbvm bundle`), which verifies segment by segment:
# 1. the 686 kernel with a disk; /init writes a chunk to the disk and prints a
#    line 8 times, with a checkpoint every 2 G ticks and on each line: 13 or
#    more segments, the last ones each with a disk layer of their own;
# 2. the bundle, copied elsewhere with the run's folder and base image moved
#    away, verifies as identical with --jobs 2 (every point, the journal's
#    SHA-256 named); GNU parallel running `--segment K` over `--list-segments`
#    says the same;
# 3. refusals, each one line naming the segment, exit 1, and no segment run:
#    a missing checkpoint, an altered one, a journal cut short, a journal
#    edited, a checkpoint replaced by one from another run (same guest time,
#    one byte of the initrd changed; the MANIFEST made to agree: its RAM does
#    not hash to its point), a flipped byte in the layer that only the last segment stands on
#    (the MANIFEST left alone, then made to agree);
# 4. a bundle made from a journal whose hash at one point was changed, that
#    point inside a segment (its checkpoint left out): exit 6, that segment
#    and that point only; GNU parallel gives the same verdict.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
if ! command -v parallel >/dev/null; then
    note "GNU parallel missing: installing Debian's parallel"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends parallel > "$WORK/apt.log" 2>&1 \
        || fail "GNU parallel is not installed and apt-get install parallel failed" "$WORK/apt.log"
fi

# --- helpers -------------------------------------------------------------------
# variant NAME: a copy of the bundle sharing its files (hard links); own FILE
# first if a file is to be changed in place.
variant() { rm -rf "$WORK/$1"; cp -al "$BUNDLE" "$WORK/$1" || fail "cannot copy the bundle"; V=$WORK/$1; }
own() { cp "$1" "$1.own" && mv "$1.own" "$1" || fail "cannot copy $1"; }
flip() {   # FILE OFFSET: one byte of FILE changed (bits inverted)
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
manifest_fix() {   # BUNDLE NAME: the MANIFEST's digest and size of NAME made the file's
    local sum size
    sum=$(sha256sum < "$1/$2" | cut -d' ' -f1)
    size=$(stat -c %s "$1/$2")
    awk -v n="$2" -v s="$sum" -v z="$size" '$4 == n { $2 = s; $3 = z } { print }' "$1/MANIFEST" > "$1/MANIFEST.new" \
        && mv "$1/MANIFEST.new" "$1/MANIFEST" || fail "cannot rewrite the MANIFEST"
}
# refused NAME PATTERN WHAT: `lbvm verify` of variant NAME exited 1 with one
# line matching PATTERN, and ran no segment.
refused() {
    run_lbvm "$1" verify "$WORK/$1" --jobs 2
    [ "$RC" = 1 ] || fail "$3: lbvm verify exited $RC, expected 1" "$WORK/$1.out" "$WORK/$1.err"
    grep -qE -- "$2" "$WORK/$1.err" || fail "$3: no line matching '$2'" "$WORK/$1.err"
    grep -q '^lbvm: verify: segment [0-9]* ' "$WORK/$1.err" && fail "$3: segments were run on a bad bundle" "$WORK/$1.err"
    [ -s "$WORK/$1.out" ] && fail "$3: a verdict was printed on stdout" "$WORK/$1.out"
    note "$3: $(grep -E -- "$2" "$WORK/$1.err" | head -n1)"
}
# segment_of BUNDLE CHECKPOINT: the id of the segment that starts there
segment_of() { awk -v c="$2" '$1 == "segment" && $6 == c { print $2 }' "$1/MANIFEST"; }

# --- 1. the run ------------------------------------------------------------------
root=$WORK/root
mkdir -p "$root/bin" "$root/modules" "$root/proc" "$root/sys" "$root/dev"
add_busybox "$root" sh mount insmod sleep dd sha256sum cat poweroff sync echo
add_disk_modules "$root" k686
cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin
. /disk-setup.sh
[ -b /dev/sda ] || echo "LBVM-TEST: error no /dev/sda"
echo "LBVM-TEST: init reached"
i=1
while [ $i -le 8 ]; do
    dd if=/bin/busybox of=/dev/sda bs=64k seek=$((i * 8)) count=$i conv=fsync 2>/dev/null || echo "LBVM-TEST: error write $i"
    h=$(dd if=/dev/sda bs=64k skip=$((i * 8)) count=$i 2>/dev/null | sha256sum)
    echo "LBVM-TEST: chunk $i ${h%% *}"
    i=$((i + 1))
done
echo "LBVM-TEST: done"
poweroff -f
INIT
chmod 755 "$root/init"
"$LBVM" mkinitramfs -o "$WORK/initrd.cpio" "$root" > "$WORK/mk.err" 2>&1 || fail "mkinitramfs failed" "$WORK/mk.err"
# the other run's initrd: one byte of /init's text changed, so the kernel runs
# exactly as in run A (same guest times) with other RAM
off=$(grep -obUa 'LBVM-TEST: init reached' "$WORK/initrd.cpio" | head -n1 | cut -d: -f1)
[ -n "$off" ] || fail "cannot find /init's text in the initramfs"
cp "$WORK/initrd.cpio" "$WORK/other.cpio" && printf 'R' | dd of="$WORK/other.cpio" bs=1 seek=$((off + 16)) conv=notrunc status=none

# run A, the one audited; run B, with the other initrd, only to its third checkpoint
RUN=(--kernel "$KERNEL_686" --disk "$WORK/disk.img" --checkpoint-every 2G --append lbvm.test=audit)
truncate -s 64M "$WORK/disk.img" || fail "cannot create the base image"
t0=$SECONDS
bg_lbvm other boot "${RUN[@]}" --initrd "$WORK/other.cpio" --console "$WORK/other.console" --limit 7 --checkpoint-dir "$WORK/ck-other"
other_pid=$BG_PID
run_lbvm run boot "${RUN[@]}" --initrd "$WORK/initrd.cpio" --console "$WORK/run.console" --stats --limit "$LBVM_TEST_LIMIT" \
    --checkpoint-on 'LBVM-TEST: chunk' --checkpoint-dir "$WORK/ck" --journal "$WORK/run.journal"
T_RUN=$((SECONDS - t0))
[ "$RC" = 0 ] || fail "the run exited $RC" "$WORK/run.console" "$WORK/run.err"
assert_contains "$WORK/run.console" "LBVM-TEST: chunk 8 " "the guest did not write its 8 chunks"
assert_not_contains "$WORK/run.console" "LBVM-TEST: error" "the guest reported an error"
wait_bg other "$other_pid"
[ "$RC" = 4 ] || fail "the other run exited $RC, expected 4 (its guest-time limit)" "$WORK/other.err"
note "run: $(grep -c '^point ' "$WORK/run.journal") journal points in $T_RUN s (with the other run beside it)"

# --- 2. the bundle, verified elsewhere -----------------------------------------------
run_lbvm bundle bundle "$WORK/run.journal" --checkpoint-dir "$WORK/ck" -o "$WORK/made"
[ "$RC" = 0 ] || fail "lbvm bundle exited $RC" "$WORK/bundle.err"
note "$(cat "$WORK/bundle.out")"
mkdir -p "$WORK/elsewhere"
cp -a "$WORK/made" "$WORK/elsewhere/bundle" || fail "cannot copy the bundle"
BUNDLE=$WORK/elsewhere/bundle
mv "$WORK/ck" "$WORK/ck.away" && mv "$WORK/disk.img" "$WORK/disk.away" || fail "cannot move the run's files away"
npts=$(grep -c '^point ' "$WORK/run.journal")
nseg=$(grep -c '^segment ' "$BUNDLE/MANIFEST")
[ "$nseg" -ge 13 ] || fail "the bundle has $nseg segments, expected 13 or more" "$BUNDLE/MANIFEST"
grep -q '^base ' "$BUNDLE/MANIFEST" || fail "the bundle has no base image" "$BUNDLE/MANIFEST"
grep -rqs "$WORK" "$BUNDLE/MANIFEST" && fail "the MANIFEST names a path of the run's host" "$BUNDLE/MANIFEST"
jsum=$(sha256sum < "$WORK/run.journal" | cut -d' ' -f1)
t0=$SECONDS
run_lbvm verify verify "$BUNDLE" --jobs 2
[ "$RC" = 0 ] || fail "lbvm verify of the bundle exited $RC" "$WORK/verify.out" "$WORK/verify.err"
assert_eq "$(cat "$WORK/verify.out")" \
    "identical: $nseg segments, $npts points compared, last at $(grep '^point ' "$WORK/run.journal" | tail -n1 | cut -d' ' -f2) ticks; journal SHA-256 $jsum" \
    "the verdict of lbvm verify --jobs 2"
[ "$(grep -c "^lbvm: verify: segment [0-9]* identical .* segments done" "$WORK/verify.err")" = "$nseg" ] \
    || fail "lbvm verify did not report the progress of every segment" "$WORK/verify.err"
note "verify --jobs 2 in $((SECONDS - t0)) s: $(cat "$WORK/verify.out")"

# GNU parallel over the list
"$LBVM" verify "$BUNDLE" --list-segments > "$WORK/list" 2> "$WORK/list.err" || fail "--list-segments failed" "$WORK/list.err"
[ "$(wc -l < "$WORK/list")" = "$nseg" ] || fail "--list-segments printed $(wc -l < "$WORK/list") lines for $nseg segments" "$WORK/list"
head -n1 "$WORK/list" | grep -qE '^1 boot [0-9]+$' || fail "--list-segments: the first line is not '1 boot TICKS'" "$WORK/list"
parallel_verify() {   # BUNDLE NAME: every listed segment through GNU parallel; its exit code in RC
    RC=0
    "$LBVM" verify "$1" --list-segments | parallel -j2 --colsep ' ' "$LBVM" verify "$1" --segment '{1}' \
        > "$WORK/$2.out" 2> "$WORK/$2.err" || RC=$?
}
parallel_verify "$BUNDLE" par
[ "$RC" = 0 ] || fail "GNU parallel over the segments exited $RC" "$WORK/par.out" "$WORK/par.err"
[ "$(grep -c '^segment [0-9]* identical: ' "$WORK/par.out")" = "$nseg" ] \
    || fail "GNU parallel: not every segment said identical" "$WORK/par.out"
note "GNU parallel: $nseg segments identical"

# --- 3. refusals -------------------------------------------------------------------------
mid=$(sed -n 4p "$WORK/list" | cut -d' ' -f2)       # segment 4's checkpoint
variant nockpt; rm "$V/$mid"
refused nockpt "^lbvm: .*: segment 4: checkpoint $mid is missing$" "missing checkpoint"
variant altckpt; own "$V/$mid"; flip "$V/$mid" 100000
refused altckpt "^lbvm: .*: segment 4: checkpoint $mid is altered " "altered checkpoint"
variant cut; own "$V/journal"; head -n -2 "$BUNDLE/journal" > "$V/journal"
refused cut "^lbvm: .*: segment $((nseg - 1)): the journal was cut short" "journal cut short"
variant edited; own "$V/journal"
awk '/^point / && ++n == 6 { sub(/ ram=./, " ram=f") } { print }' "$BUNDLE/journal" > "$V/journal.new"
if cmp -s "$BUNDLE/journal" "$V/journal.new"; then
    awk '/^point / && ++n == 6 { sub(/ ram=./, " ram=0") } { print }' "$BUNDLE/journal" > "$V/journal.new"
fi
mv "$V/journal.new" "$V/journal"
refused edited "^lbvm: .*: segment 6: the journal was edited: its lines from point 5 to point 6 " "journal edited"

# a checkpoint of the other run, at the same guest time
c3=$(sed -n 3p "$WORK/list" | cut -d' ' -f2)
t3=${c3#checkpoints/ckpt-}; t3=${t3%.lbvm}
o3=""
for f in "$WORK"/ck-other/ckpt-*.lbvm; do
    "$LBVM" inspect "$f" > "$WORK/o.inspect" 2>&1 && grep -q "^guest time *$t3 ticks" "$WORK/o.inspect" && o3=$f
done
[ -n "$o3" ] || fail "the other run has no checkpoint at $t3 ticks" "$WORK/other.err"
variant other; rm "$V/$c3"; cp "$o3" "$V/$c3"; manifest_fix "$V" "$c3"
refused other "^lbvm: .*: segment 3: its checkpoint $c3 does not hash to point 2 \(every, $t3 ticks\), where it starts: RAM differs$" \
    "a checkpoint of another run"
parallel_verify "$V" parother
[ "$RC" = 1 ] || fail "GNU parallel with the other run's checkpoint exited $RC, expected 1 (one job failed)" "$WORK/parother.err"
grep -qE "^lbvm: .*: segment 3: its checkpoint $c3 does not hash to point 2 " "$WORK/parother.err" \
    || fail "GNU parallel: segment 3 did not refuse the other run's checkpoint" "$WORK/parother.err"
[ "$(grep -c '^segment [0-9]* identical: ' "$WORK/parother.out")" = $((nseg - 1)) ] \
    || fail "GNU parallel: the other segments did not all say identical" "$WORK/parother.out"
note "GNU parallel agrees: segment 3 refused, $((nseg - 1)) identical"

# a byte of the layer only the last segment stands on
layer=$(awk -v s="$nseg" '$1 == "layer" && $5 == "first=" s { print $4 }' "$BUNDLE/MANIFEST")
[ -n "$layer" ] && [ "$(stat -c %s "$BUNDLE/$layer")" -gt 4160 ] \
    || fail "no layer with data is first needed by the last segment ($nseg)" "$BUNDLE/MANIFEST"
variant layer; own "$V/$layer"; flip "$V/$layer" 5000
refused layer "^lbvm: .*: segment $nseg: layer $layer is altered " "flipped layer byte"
manifest_fix "$V" "$layer"
refused layer "^lbvm: .*: segment $nseg: .*(disk layer .* is not the one the checkpoint recorded|has no layer of SHA-256)" \
    "flipped layer byte, the MANIFEST made to agree"

# --- 4. a divergence inside a segment ------------------------------------------------------
# The checkpoint at point 5 left out, point 5's RAM hash changed: segment 5
# runs from point 4 to 6, and is the only one to differ, at point 5.
mkdir -p "$WORK/ck5"
c5=$(sed -n 6p "$WORK/list" | cut -d' ' -f2); t5=${c5#checkpoints/ckpt-}; t5=${t5%.lbvm}
for f in "$WORK"/ck.away/*; do
    case $f in *.lbvm) "$LBVM" inspect "$f" 2>/dev/null | grep -q "^guest time *$t5 ticks" && continue ;; esac
    ln "$f" "$WORK/ck5/" || fail "cannot link $f"
done
mv "$WORK/disk.away" "$WORK/disk.img"
awk '/^point / && ++n == 5 { sub(/ ram=./, " ram=f") } { print }' "$WORK/run.journal" > "$WORK/j5"
cmp -s "$WORK/run.journal" "$WORK/j5" && awk '/^point / && ++n == 5 { sub(/ ram=./, " ram=0") } { print }' "$WORK/run.journal" > "$WORK/j5"
run_lbvm bundle5 bundle "$WORK/j5" --checkpoint-dir "$WORK/ck5" -o "$WORK/b5"
[ "$RC" = 0 ] || fail "lbvm bundle of the changed journal exited $RC" "$WORK/bundle5.err"
run_lbvm v5 verify "$WORK/b5" --jobs 2
[ "$RC" = 6 ] || fail "verify of a journal changed at point 5 exited $RC, expected 6" "$WORK/v5.out" "$WORK/v5.err"
grep -q "^segment 5 diverged at point 5 (every, recorded at $t5 ticks, this run $t5): RAM differs$" "$WORK/v5.out" \
    || fail "verify did not report segment 5 at point 5" "$WORK/v5.out"
[ "$(grep -c '^segment ' "$WORK/v5.out")" = 1 ] || fail "verify reported more than segment 5" "$WORK/v5.out"
grep -q "^diverged: 1 of $((nseg - 1)) segments differ" "$WORK/v5.out" || fail "no 'diverged: 1 of N' verdict" "$WORK/v5.out"
note "$(head -n1 "$WORK/v5.out")"
parallel_verify "$WORK/b5" par5
[ "$RC" = 1 ] || fail "GNU parallel on the changed journal exited $RC, expected 1 (one job failed)" "$WORK/par5.out" "$WORK/par5.err"
grep -v ' identical: ' "$WORK/par5.out" > "$WORK/par5.bad"
assert_same_file "$WORK/par5.bad" <(grep '^segment ' "$WORK/v5.out") "GNU parallel and --jobs name other segments"
pass "$nseg segments identical with --jobs 2 and GNU parallel; 7 bad bundles refused at their segment; a changed point found in its segment"
