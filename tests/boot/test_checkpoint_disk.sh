#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Checkpoints of a guest doing disk I/O on the AHCI disk, and checkpoints
# that survive SIGKILL:
# 1. the guest reads the base image, writes 4 chunks (2 MiB each) to /dev/sda
#    with dd in the background, syncs, drops its caches and reads them back,
#    printing SHA-256s; a run with checkpoints on console lines (one while a dd
#    is writing) and every 4 G ticks ends exactly as a straight run (console,
#    ticks, RAM hash, and the journal's "end" point with the disk's content
#    hash); so do runs resumed, in new processes, from the mid-write
#    checkpoint, from the one before the read-back (taking checkpoints 3 times
#    per read-back), and from one of these, taken mid-read;
# 2. a run with checkpoints every ~0.2 s of host time is killed with SIGKILL
#    at random moments, 6 times from scratch (kernel boot) and 6 times from a
#    copy of the folder with the "io start" checkpoint (disk I/O), each time
#    resumed from the newest checkpoint:
#    every ckpt-*.lbvm present after a kill passes `lbvm inspect` (a half-
#    written file never has the final name), and the last resume ends exactly
#    as the straight run;
# 3. the base image is never written (byte-identical to a copy), and
#    `lbvm verify` agrees with the journal of a resumed disk run, from the boot
#    and from a mid-I/O checkpoint.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm

# --- helpers ----------------------------------------------------------------
end_point() { grep '^point [0-9]* end ' "$1" | tail -n1; }   # JOURNAL: its last end point
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }   # KEY LINE
same_end() {     # JOURNAL WHAT: its end point is the straight run's
    local got want
    got=$(end_point "$1")
    want=$(end_point "$WORK/straight.journal")
    [ -n "$got" ] || fail "$2: the journal has no end point" "$1"
    [ -n "$(field disk0 "$got")" ] || fail "$2: the journal's end point has no disk0= hash: $got"
    [ "$(field disk0 "$got")" = "$(field disk0 "$want")" ] \
        || fail "$2: the disk content at the end differs from the straight run's: disk0=$(field disk0 "$got"), straight disk0=$(field disk0 "$want")"
    # console= is a hash chain linked at every point, and the event counts
    # follow the TLB flushes each point makes: both depend on where the
    # points were, so only the rest is compared
    [ "$(printf "%s" "$got" | sed "s/ console=[0-9a-f]*//; s/ events=.*//")" = \
      "$(printf "%s" "$want" | sed "s/ console=[0-9a-f]*//; s/ events=.*//")" ] \
        || fail "$2: the journal's end point differs from the straight run's: '$got' vs '$want'"
}
# bg_killable NAME ARGS...: like bg_lbvm, but in a quiet subshell (bash reports
# no "Killed" line when lbvm is SIGKILLed) that leaves lbvm's exit code in
# $WORK/NAME.rc; lbvm's pid in BG_PID, the subshell's in SUB_PID.
bg_killable() {
    local name=$1
    shift
    rm -f "$WORK/$name.pid" "$WORK/$name.rc"
    (
        "$LBVM" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
        echo $! > "$WORK/$name.pid.new" && mv "$WORK/$name.pid.new" "$WORK/$name.pid"
        wait $!
        echo $? > "$WORK/$name.rc"
    ) 2>/dev/null &
    SUB_PID=$!
    while [ ! -s "$WORK/$name.pid" ]; do sleep 0.01; done
    BG_PID=$(cat "$WORK/$name.pid")
}
rand_delay() {   # MIN_MS MAX_MS: a random host delay, as seconds for sleep
    local d=$(($1 + RANDOM % ($2 - $1)))
    printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

# --- the guest ---------------------------------------------------------------
root=$WORK/root
mkdir -p "$root/bin" "$root/modules" "$root/proc" "$root/sys" "$root/dev"
add_busybox "$root" sh mount insmod sleep dd sha256sum cat poweroff sync echo
add_disk_modules "$root" k686
cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin
. /disk-setup.sh
[ -b /dev/sda ] || echo "LBVM-TEST: error no /dev/sda"
h=$(dd if=/dev/sda bs=64k count=32 2>/dev/null | sha256sum)
echo "LBVM-TEST: base ${h%% *}"
echo "LBVM-TEST: io start"
for i in 1 2 3 4; do
    dd if=/bin/busybox of=/dev/sda bs=64k seek=$((i * 32)) 2>/dev/null || echo "LBVM-TEST: error write $i" &
    sleep 0.005
    echo "LBVM-TEST: busy $i"
    wait
    echo "LBVM-TEST: wrote chunk $i"
done
sync
echo 3 > /proc/sys/vm/drop_caches
echo "LBVM-TEST: dropped"
h=$(dd if=/dev/sda bs=64k skip=32 count=128 2>/dev/null | sha256sum)
echo "LBVM-TEST: read back ${h%% *}"
echo "LBVM-TEST: done"
poweroff -f
INIT
chmod 755 "$root/init"
"$LBVM" mkinitramfs -o "$WORK/disk.cpio" "$root" > "$WORK/mk.err" 2>&1 || fail "mkinitramfs failed" "$WORK/mk.err"

# The base image: 2 MiB of data (busybox, then the kernel), then zeros (32 MiB), and a copy.
cat "$CACHE/busybox" "$KERNEL_686" | head -c 2097152 > "$WORK/base.img" && truncate -s 32M "$WORK/base.img" || fail "cannot make the base image"
cp "$WORK/base.img" "$WORK/base.orig"
want_base=$(head -c 2097152 "$WORK/base.img" | sha256sum | cut -d' ' -f1)
bb=$(stat -c %s "$CACHE/busybox")
want_read=$(for _ in 1 2 3 4; do cat "$CACHE/busybox"; head -c $((2097152 - bb)) /dev/zero; done | sha256sum | cut -d' ' -f1)

# --- 1. straight vs checkpointed, resume mid-write and mid-read ----------------
# Both with a checkpoint folder (the base is only read) and a journal.
bg_lbvm straight boot --kernel "$KERNEL_686" --initrd "$WORK/disk.cpio" --console "$WORK/straight.console" --stats \
    --limit "$LBVM_TEST_LIMIT" --disk "$WORK/base.img" --checkpoint-dir "$WORK/st" --journal "$WORK/straight.journal"
st_pid=$BG_PID
run_lbvm ckpt boot --kernel "$KERNEL_686" --initrd "$WORK/disk.cpio" --console "$WORK/ckpt.console" --stats \
    --limit "$LBVM_TEST_LIMIT" --disk "$WORK/base.img" --checkpoint-dir "$WORK/ck" --journal "$WORK/ckpt.journal" \
    --checkpoint-every 4G --checkpoint-on 'LBVM-TEST: (io start|busy 2|dropped|read back)'
rc_ckpt=$RC
wait_bg straight "$st_pid"
c=$WORK/straight.console
note "straight: exit $RC; $(stats_of straight | tr '\n' ' ')"
[ "$RC" = 0 ] || fail "straight: lbvm exited $RC" "$c" "$WORK/straight.err"
assert_not_contains "$c" "LBVM-TEST: error" "straight: the guest reported an error"
assert_contains "$c" "LBVM-TEST: base $want_base" "straight: the guest did not read the base image's first 2 MiB as they are"
assert_contains "$c" "LBVM-TEST: read back $want_read" "straight: the guest did not read back what it wrote"
assert_contains "$c" "LBVM-TEST: done" "straight: the guest did not finish"
RC=$rc_ckpt
[ "$RC" = 0 ] || fail "ckpt: lbvm exited $RC" "$WORK/ckpt.console" "$WORK/ckpt.err"
assert_same_file "$WORK/straight.console" "$WORK/ckpt.console" "the checkpointed disk run's console is not the straight run's"
same_stats ckpt straight "checkpoints changed the disk run"
same_end "$WORK/ckpt.journal" "ckpt"

ckpts_of ckpt > "$WORK/ckpt.list"
note "ckpt: $(wc -l < "$WORK/ckpt.list") checkpoints, end point disk0=$(field disk0 "$(end_point "$WORK/ckpt.journal")")"
marker() { grep -F " $2" "$WORK/$1.list" | head -n1; }   # RUN LINE: "PATH TICKS LINE" of its checkpoint
busy=$(marker ckpt "LBVM-TEST: busy 2" | cut -d' ' -f1)
drop=$(marker ckpt "LBVM-TEST: dropped" | cut -d' ' -f1)
t_drop=$(marker ckpt "LBVM-TEST: dropped" | cut -d' ' -f2)
t_read=$(marker ckpt "LBVM-TEST: read back" | cut -d' ' -f2)
[ -n "$busy" ] && [ -n "$drop" ] && [ -n "$t_read" ] \
    || fail "ckpt: the checkpoints on 'busy 2', 'dropped' and 'read back' were not all announced" "$WORK/ckpt.list" "$WORK/ckpt.err"
grep -q '^disk 0 .* layers\{0,1\}$' <("$LBVM" inspect "$busy") || fail "lbvm inspect $busy shows no disk 0 line"

# resume NAME CKPT [ARGS...]: resume in a new process with a copy of the
# checkpointed run's journal; it must end exactly as the straight run.
resume() {
    local name=$1 ck=$2 t
    shift 2
    cp "$WORK/ckpt.journal" "$WORK/$name.journal"
    run_lbvm "$name" resume "$ck" --console "$WORK/$name.console" --stats --limit "$LBVM_TEST_LIMIT" \
        --journal "$WORK/$name.journal" "$@"
    check_resumed "$name" "$ck" straight
    same_end "$WORK/$name.journal" "$name (resumed from $(basename "$ck"))"
    t=$("$LBVM" inspect "$ck" | sed -n 's/^guest time *\([0-9]*\) ticks.*/\1/p')
    grep -qx "resume $t" "$WORK/$name.journal" \
        || fail "$name: the journal has no 'resume $t' line for the checkpoint" "$WORK/$name.journal"
    note "$name: resumed from $(basename "$ck") at $t ticks: same console, stats and end point"
}
# mid-write: a dd is running in the background
resume res-busy "$busy"
# From the 'dropped' checkpoint, with 3 periodic checkpoints per read-back
# (whatever its length), then from one of these: mid-read.
resume res-drop "$drop" --checkpoint-every $(((t_read - t_drop) / 3 + 1))
ckpts_of res-drop > "$WORK/res-drop.list"
mid=$(awk -v a="$t_drop" -v b="$t_read" 'NF == 2 && $2 > a && $2 < b { print $1; exit }' "$WORK/res-drop.list")
[ -n "$mid" ] || fail "res-drop: no periodic checkpoint landed during the read-back (between $t_drop and $t_read ticks)" "$WORK/res-drop.list" "$WORK/res-drop.err"
resume res-mid "$mid"
# The journal of that resumed run (the checkpointed run's points up to
# 'dropped', a resume line, its own points) verifies from the boot, in the
# background while part 2 runs.
cp "$WORK/res-drop.journal" "$WORK/vboot.journal"
bg_lbvm vboot verify "$WORK/vboot.journal"
vboot_pid=$BG_PID
# --- 2. SIGKILL at random moments ---------------------------------------------
E=200M          # ~0.2 s of host time
newest() { find "$1" -maxdepth 1 -name 'ckpt-*.lbvm' 2>/dev/null | sort | tail -n1; }
# kill_loop NAME FOLDER TEMPLATE KILLS: runs in FOLDER, each resumed from the
# newest checkpoint there (or booted from scratch if there is none), killed
# with SIGKILL until KILLS kills; after each, every checkpoint there must pass
# lbvm inspect. FOLDER starts as a copy of TEMPLATE (empty: from scratch), and
# again when a run ended before its kill.
kill_loop() {
    local name=$1 K=$2 tmpl=$3 want=$4 kills=0 runs=0 early=0 temps=0 from delay n f t
    rm -rf "$K"
    [ -z "$tmpl" ] || cp -a "$tmpl" "$K" || fail "cannot copy $tmpl"
    while [ $kills -lt "$want" ]; do
        runs=$((runs + 1))
        [ $runs -le $((want * 3)) ] || fail "$name: $runs runs without $want kills"
        from=$(newest "$K")
        if [ -n "$from" ]; then
            bg_killable kill resume "$from" --console "$WORK/kill.console" --limit "$LBVM_TEST_LIMIT" --checkpoint-every $E
        else
            bg_killable kill boot --kernel "$KERNEL_686" --initrd "$WORK/disk.cpio" --console "$WORK/kill.console" \
                --limit "$LBVM_TEST_LIMIT" --disk "$WORK/base.img" --checkpoint-dir "$K" --checkpoint-every $E
        fi
        if [ $((runs % 4)) = 0 ]; then
            # now and then while it starts (opening the disk layers, loading RAM)
            delay=$(rand_delay 0 1000)
            sleep "$delay"
            delay="$delay s after its start"
        else
            # else at a random moment after it wrote a checkpoint of its own:
            # the next one is often being written then
            n=0
            while [ "$(newest "$K")" = "$from" ] && kill -0 "$BG_PID" 2>/dev/null && [ $n -lt 1200 ]; do
                sleep 0.05
                n=$((n + 1))
            done
            delay=$(rand_delay 0 700)
            sleep "$delay"
            delay="$delay s after its first checkpoint"
        fi
        kill -9 "$BG_PID" 2>/dev/null
        wait_bg kill "$SUB_PID"
        RC=$(cat "$WORK/kill.rc" 2>/dev/null)
        if [ "$RC" = 0 ]; then
            # it finished first: its newest checkpoint is the end; start over
            early=$((early + 1))
            rm -rf "$K"
            [ -z "$tmpl" ] || cp -a "$tmpl" "$K" || fail "cannot copy $tmpl"
            continue
        fi
        [ "$RC" = 137 ] || fail "$name: run $runs (from ${from:-scratch}) exited $RC before the kill" "$WORK/kill.err"
        kills=$((kills + 1))
        n=0
        for f in "$K"/ckpt-*.lbvm; do
            [ -e "$f" ] || continue
            n=$((n + 1))
            "$LBVM" inspect "$f" > "$WORK/kinspect.out" 2>&1 \
                || fail "$name: after kill $kills ($delay, in a run from ${from:-scratch}), $(basename "$f") fails lbvm inspect: $(head -n1 "$WORK/kinspect.out")"
        done
        note "$name: kill $kills: $delay, in a run from $(basename "${from:-scratch}"): $n checkpoints, all complete; newest $(basename "$(newest "$K")")"
        # Keep the two newest checkpoints (a checkpoint needs no other
        # checkpoint file, only layers) and drop unfinished temporary files.
        find "$K" -maxdepth 1 -name 'ckpt-*.lbvm' | sort | head -n -2 | xargs -r rm -f
        t=$(find "$K" -maxdepth 1 -name 'ckpt-*.lbvm.*' | wc -l)
        temps=$((temps + t))
        find "$K" -maxdepth 1 -name 'ckpt-*.lbvm.*' -delete
    done
    note "$name: $kills kills in $runs runs ($early ended before their kill; $temps unfinished temporary checkpoint files were left)"
}
# 2a. from scratch: the kernel's boot and the module loading
kill_loop boot-kills "$WORK/killed-boot" "" 6
from=$(newest "$WORK/killed-boot")
[ -n "$from" ] || fail "boot-kills: no checkpoint at all after 6 kills"
run_lbvm kfinal1 resume "$from" --console "$WORK/kfinal1.console" --stats --limit "$LBVM_TEST_LIMIT"
check_resumed kfinal1 "$from" straight
note "boot-kills: resumed from $(basename "$from"): same end as the straight run"
# 2b. during the disk I/O: from a copy of the checkpointed run's folder with
# only its 'io start' checkpoint (and all layers)
io=$(marker ckpt "LBVM-TEST: io start" | cut -d' ' -f1)
[ -n "$io" ] || fail "ckpt: no checkpoint on 'io start' announced" "$WORK/ckpt.list"
cp -a "$WORK/ck" "$WORK/io-template" || fail "cannot copy the checkpoint folder"
find "$WORK/io-template" -maxdepth 1 -name 'ckpt-*.lbvm' ! -name "$(basename "$io")" -delete
kill_loop io-kills "$WORK/killed-io" "$WORK/io-template" 6
from=$(newest "$WORK/killed-io")
run_lbvm kfinal2 resume "$from" --console "$WORK/kfinal2.console" --stats --limit "$LBVM_TEST_LIMIT"
check_resumed kfinal2 "$from" straight
note "io-kills: resumed from $(basename "$from"): same end as the straight run"

# --- 3. the base image, verify from a mid-I/O checkpoint ------------------------
wait_bg vboot "$vboot_pid"
np=$(grep -c '^point ' "$WORK/vboot.journal")
[ "$RC" = 0 ] && grep -q "^identical: $np points compared" "$WORK/vboot.out" \
    || fail "lbvm verify of the resumed disk run's journal exited $RC, expected 0 and 'identical: $np points compared'" "$WORK/vboot.out" "$WORK/vboot.err"
note "verify of the resumed run's journal: $(head -n1 "$WORK/vboot.out")"
assert_same_file "$WORK/base.orig" "$WORK/base.img" "a checkpointed run wrote to its base image"
cp "$WORK/res-drop.journal" "$WORK/verify.journal"
run_lbvm vfrom verify "$WORK/verify.journal" --from "$mid"
[ "$RC" = 0 ] && grep -q '^identical: ' "$WORK/vfrom.out" \
    || fail "lbvm verify --from $(basename "$mid") (a disk run) exited $RC, expected 0 and 'identical'" "$WORK/vfrom.out" "$WORK/vfrom.err"
note "verify --from $(basename "$mid"): $(head -n1 "$WORK/vfrom.out")"
pass "disk I/O checkpointed and resumed mid-write and mid-read: identical to a straight run; 12 SIGKILLs survived; base untouched"
