#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Checkpoints change nothing the guest can see, and a journal proves it:
# 1. a straight boot of the 686 kernel vs the same boot with ~4 checkpoints
#    (--checkpoint-every): same console, same ticks and RAM hash; `lbvm resume`
#    in a new process from an early and a late checkpoint prints exactly the
#    straight run's console after that point and ends with the same stats
#    (the late one in the same folder: its final checkpoint gets a new, higher
#    number and no checkpoint there changes; the early one in a folder of its
#    own, with periodic checkpoints and --keep-checkpoints 2: two files left);
#    a run stopped by SIGTERM at a random host moment exits 5 with a
#    checkpoint, and its console + the resumed run's console is the straight
#    console, byte for byte;
# 2. the journal of the checkpointed run verifies as identical (from boot and
#    from a checkpoint); a different --append diverges at the first point, an
#    initrd with one flipped byte diverges too (exit 6);
# 3. kexec from the 686 kernel into the 686-pae one with a checkpoint on the
#    second kernel's banner: resuming it (PAE paging, the second kernel's
#    devices) ends exactly as a straight run.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
build_initramfs "$WORK/initrd.cpio"

# --- helpers ----------------------------------------------------------------
rand_delay() {   # MAX_MS: a random host delay below MAX_MS, as seconds for sleep
    local d=$((RANDOM % $1))
    printf '%d.%03d' $((d / 1000)) $((d % 1000))
}


# --- the kexec runs of part 3 start first, in the background -----------------
# (they are the longest; the machine has two cores and these runs use one each)
R686=$(cat "$CACHE/k686/RELEASE")
RPAE=$(cat "$CACHE/k686pae/RELEASE")
r=$WORK/kexec-root
make_kexec_root "$r" "$KERNEL_686PAE" "$WORK/initrd.cpio"
"$LBVM" mkinitramfs -o "$WORK/kexec.cpio" "$r" > "$WORK/mk.err" 2>&1 || fail "mkinitramfs (kexec) failed" "$WORK/mk.err"
bg_lbvm kx boot --kernel "$KERNEL_686" --initrd "$WORK/kexec.cpio" --console "$WORK/kx.console" --stats \
    --limit "$LBVM_TEST_LIMIT"
kx_pid=$BG_PID
# a checkpoint on the first line only the second kernel prints: its banner
pattern="Linux version $(printf '%s' "$RPAE" | sed 's/[].[^$*+?(){}|\\]/\\&/g') "
bg_lbvm kxck boot --kernel "$KERNEL_686" --initrd "$WORK/kexec.cpio" --console "$WORK/kxck.console" --stats \
    --limit "$LBVM_TEST_LIMIT" --checkpoint-dir "$WORK/kxck" --checkpoint-on "$pattern"
kxck_pid=$BG_PID
# --- 1. straight vs checkpointed, resume early and late, SIGTERM --------------
boot_guest straight "$KERNEL_686" "$WORK/initrd.cpio" boot
expect_boot straight
T=$(sed -n 's/^lbvm: ticks //p' "$WORK/straight.err")
# Four periodic checkpoints, all before the end, then the final one. With
# T / 5 the fifth periodic one can fall in the run's last few ticks, after its
# last console byte (Debian's 6.1.0-57 kernel does: its run is 5 * every + 3
# ticks), and resuming from it ("late" below) then rightly prints nothing.
every=$((T / 5 + 1))
note "straight run: $T ticks; checkpoint every $every ticks"

# The checkpointed run (with a journal for part 2) in the background...
bg_lbvm ckpt boot --kernel "$KERNEL_686" --initrd "$WORK/initrd.cpio" --append lbvm.test=boot \
    --console "$WORK/ckpt.console" --stats --limit "$LBVM_TEST_LIMIT" \
    --checkpoint-dir "$WORK/ck" --checkpoint-every "$every" --journal "$WORK/ckpt.journal"
ckpt_pid=$BG_PID

# ...while another is stopped by SIGTERM at a random moment once the guest runs.
term_try=0
while :; do
    term_try=$((term_try + 1))
    rm -rf "$WORK/term"
    bg_lbvm term boot --kernel "$KERNEL_686" --initrd "$WORK/initrd.cpio" --append lbvm.test=boot \
        --console "$WORK/term.console" --stats --limit "$LBVM_TEST_LIMIT" --checkpoint-dir "$WORK/term"
    n=0
    while [ ! -s "$WORK/term.console" ] && kill -0 "$BG_PID" 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    [ -s "$WORK/term.console" ] || { kill -9 "$BG_PID" 2>/dev/null; fail "term: the guest printed nothing within 60 host seconds" "$WORK/term.err"; }
    delay=$(rand_delay $((3000 / term_try)))
    sleep "$delay"
    kill -TERM "$BG_PID" 2>/dev/null
    wait_bg term "$BG_PID"
    # A run that finished before the signal arrived proves nothing: again, sooner.
    [ "$RC" = 0 ] && [ $term_try -lt 3 ] && { note "term: the run ended before SIGTERM (after ${delay} s); again"; continue; }
    break
done
note "term: SIGTERM ${delay} s after the first console byte: exit $RC"
[ "$RC" = 5 ] || fail "term: lbvm stopped by SIGTERM exited $RC, expected 5" "$WORK/term.err"
grep -q '^lbvm: stopped by signal 15; resume with: lbvm resume ' "$WORK/term.err" \
    || fail "term: no 'lbvm: stopped by signal 15; resume with: lbvm resume PATH' line" "$WORK/term.err"
term_ck=$(sed -n 's/^lbvm: stopped by signal 15; resume with: lbvm resume //p' "$WORK/term.err")
[ -f "$term_ck" ] || fail "term: the checkpoint it names ($term_ck) does not exist" "$WORK/term.err"

wait_bg ckpt "$ckpt_pid"
RC_CKPT=$RC
note "ckpt: exit $RC_CKPT; $(stats_of ckpt | tr '\n' ' ')"
RC=$RC_CKPT
expect_boot ckpt
assert_same_file "$WORK/straight.console" "$WORK/ckpt.console" "the checkpointed run's console is not the straight run's"
same_stats ckpt straight "checkpoints changed the run"
ckpts_of ckpt > "$WORK/ckpt.list"
nck=$(wc -l < "$WORK/ckpt.list")
[ "$nck" -ge 3 ] && [ "$nck" -le 6 ] || fail "ckpt: $nck periodic checkpoints announced with --checkpoint-every $every ($T ticks), expected about 4" "$WORK/ckpt.err"
while read -r p t; do
    [ $((t % every)) -lt 100000 ] || fail "ckpt: checkpoint $p at $t ticks is far from a multiple of $every"
    [ -f "$p" ] || fail "ckpt: announced checkpoint $p does not exist"
done < "$WORK/ckpt.list"
fin=$(final_ckpt_of ckpt)
[ -f "$fin" ] || fail "ckpt: no final checkpoint announced (or it does not exist)" "$WORK/ckpt.err"
ls "$WORK/ck"/ckpt-*.lbvm > "$WORK/ck.files"
[ "$(wc -l < "$WORK/ck.files")" = $((nck + 1)) ] || fail "ckpt: $(wc -l < "$WORK/ck.files") checkpoint files in the folder, $((nck + 1)) announced" "$WORK/ck.files"
"$LBVM" inspect "$fin" > "$WORK/fin.inspect" 2>&1 || fail "lbvm inspect of the final checkpoint failed" "$WORK/fin.inspect"
grep -q "^guest time *$T ticks" "$WORK/fin.inspect" || fail "lbvm inspect of the final checkpoint does not say 'guest time $T ticks'" "$WORK/fin.inspect"

# Resume, each in a new process, from the first (early) and last (late)
# periodic checkpoint, and the stopped run from its checkpoint, all at once: the
# early one continues in a folder of its own (the checkpoint has no disks), as
# two lbvm cannot share one.
early=$(head -n1 "$WORK/ckpt.list" | cut -d' ' -f1)
late=$(tail -n1 "$WORK/ckpt.list" | cut -d' ' -f1)
bg_lbvm early resume "$early" --console "$WORK/early.console" --stats --limit "$LBVM_TEST_LIMIT" \
    --checkpoint-dir "$WORK/ck-early" --checkpoint-every "$every" --keep-checkpoints 2
early_pid=$BG_PID
bg_lbvm termres resume "$term_ck" --console "$WORK/termres.console" --stats --limit "$LBVM_TEST_LIMIT"
termres_pid=$BG_PID
(cd "$WORK/ck" && sha256sum ckpt-*.lbvm) > "$WORK/ck.sums"
run_lbvm late resume "$late" --console "$WORK/late.console" --stats --limit "$LBVM_TEST_LIMIT"
check_resumed late "$late" straight
# Numbers only grow: the resumed run's final checkpoint comes after the
# newest present, and no older file was touched.
(cd "$WORK/ck" && sha256sum -c --quiet "$WORK/ck.sums") > "$WORK/ck.check" 2>&1 \
    || fail "resuming $(basename "$late") changed checkpoints already in its folder" "$WORK/ck.check"
last=$(basename "$(tail -n1 "$WORK/ck.files")")
lfin=$(sed -n 's/^lbvm: final checkpoint //p' "$WORK/late.err")
[ -f "$lfin" ] || fail "late: no final checkpoint announced" "$WORK/late.err"
[ "$(printf '%s\n%s\n' "$last" "$(basename "$lfin")" | sort | tail -n1)" = "$(basename "$lfin")" ] && [ "$(basename "$lfin")" != "$last" ] \
    || fail "late: resumed in a folder whose newest checkpoint is $last, its final checkpoint is $(basename "$lfin")"
wait_bg early "$early_pid"
check_resumed early "$early" straight
# --keep-checkpoints 2: of the early run's periodic checkpoints and its final
# one, only the newest two files are left, and the final one resumes.
nearly=$(ckpts_of early | wc -l)
[ "$nearly" -ge 2 ] || fail "early: $nearly periodic checkpoints after resuming at the first one of $nck, expected more" "$WORK/early.err"
ls "$WORK/ck-early"/ckpt-*.lbvm > "$WORK/ck-early.files"
[ "$(wc -l < "$WORK/ck-early.files")" = 2 ] \
    || fail "early: $(wc -l < "$WORK/ck-early.files") checkpoint files left with --keep-checkpoints 2 after $((nearly + 1)) checkpoints" "$WORK/ck-early.files"
efin=$(final_ckpt_of early)
grep -qx "$efin" "$WORK/ck-early.files" || fail "early: the final checkpoint $efin was not kept" "$WORK/ck-early.files"
grep -qx "$(ckpts_of early | tail -n1 | cut -d' ' -f1)" "$WORK/ck-early.files" \
    || fail "early: the newest periodic checkpoint was not kept" "$WORK/ck-early.files"
"$LBVM" inspect "$efin" > "$WORK/efin.inspect" 2>&1 || fail "early: lbvm inspect of the kept final checkpoint failed" "$WORK/efin.inspect"
note "resumed from $(basename "$early") and $(basename "$late"): same console tail and stats"

# The stopped run's console and the resumed one's make the straight console.
wait_bg termres "$termres_pid"
check_resumed termres "$term_ck" straight
cat "$WORK/term.console" "$WORK/termres.console" > "$WORK/term.joined"
assert_same_file "$WORK/straight.console" "$WORK/term.joined" "the console before SIGTERM and after the resume, joined, is not the straight console"
note "SIGTERM stop + resume: identical to the straight run"
# --- 2. the journal ----------------------------------------------------------
J=$WORK/ckpt.journal
[ "$(head -n1 "$J")" = "# lbvm journal 1" ] || fail "the journal does not start with '# lbvm journal 1'" "$J"
[ "$(grep -c '^boot ' "$J")" = 1 ] || fail "the journal has no single 'boot' line" "$J"
npts=$(grep -c '^point ' "$J")
[ "$npts" = $((nck + 1)) ] || fail "the journal has $npts points, expected $((nck + 1)) (the checkpoints and the end)" "$J"
endl=$(grep '^point ' "$J" | tail -n1)
case $endl in "point $T end "*) ;; *) fail "the journal's last point is not 'point $T end ...': $endl" "$J" ;; esac
ram=$(sed -n 's/^lbvm: ram-sha256 //p' "$WORK/straight.err")
case " $endl " in *" ram=$ram "*) ;; *) fail "the journal's end point has not the straight run's RAM hash $ram: $endl" ;; esac
grep '^point ' "$J" | grep -qv ' every \| end ' && fail "the journal has points that are neither 'every' nor 'end'" "$J"

# verify from the boot (and in parallel with a perturbed command line)
bg_lbvm vappend verify "$J" --append 'lbvm.test=boot quiet'
vappend_pid=$BG_PID
run_lbvm verify verify "$J"
[ "$RC" = 0 ] || fail "lbvm verify of an unchanged run exited $RC" "$WORK/verify.out" "$WORK/verify.err"
n=$(sed -n 's/^identical: \([0-9]*\) points compared.*/\1/p' "$WORK/verify.out")
[ -n "$n" ] && [ "$n" -gt 1 ] || fail "lbvm verify did not print 'identical: N points compared' with N > 1" "$WORK/verify.out"
[ "$n" = "$npts" ] || fail "lbvm verify compared $n points, the journal has $npts" "$WORK/verify.out"
note "verify: $(head -n1 "$WORK/verify.out")"
wait_bg vappend "$vappend_pid"
note "verify --append 'lbvm.test=boot quiet': exit $RC: $(head -n1 "$WORK/vappend.out")"
[ "$RC" = 6 ] || fail "lbvm verify with another --append exited $RC, expected 6 (diverged)" "$WORK/vappend.out" "$WORK/vappend.err"
grep -q '^diverged at point 1 (' "$WORK/vappend.out" || fail "lbvm verify with another --append did not report divergence at point 1" "$WORK/vappend.out"

# An initrd with one byte of /init's text flipped ("init reached" -> "init Reached").
off=$(grep -obUa 'LBVM-TEST: init reached' "$WORK/initrd.cpio" | head -n1 | cut -d: -f1)
[ -n "$off" ] || fail "cannot find /init's text in the initramfs"
cp "$WORK/initrd.cpio" "$WORK/flipped.cpio"
printf 'R' | dd of="$WORK/flipped.cpio" bs=1 seek=$((off + 16)) conv=notrunc status=none
[ "$(cmp -l "$WORK/initrd.cpio" "$WORK/flipped.cpio" | wc -l)" = 1 ] || fail "the flipped initrd differs in other than one byte"
bg_lbvm vinitrd verify "$J" --initrd "$WORK/flipped.cpio"
vinitrd_pid=$BG_PID
# verify from a checkpoint: the points after it
mid=$(sed -n 2p "$WORK/ckpt.list" | cut -d' ' -f1)
run_lbvm vfrom verify "$J" --from "$mid"
[ "$RC" = 0 ] || fail "lbvm verify --from $(basename "$mid") exited $RC" "$WORK/vfrom.out" "$WORK/vfrom.err"
grep -q '^identical: ' "$WORK/vfrom.out" || fail "lbvm verify --from $(basename "$mid") did not say identical" "$WORK/vfrom.out"
note "verify --from $(basename "$mid"): $(head -n1 "$WORK/vfrom.out")"
wait_bg vinitrd "$vinitrd_pid"
note "verify --initrd (one byte flipped): exit $RC: $(head -n1 "$WORK/vinitrd.out")"
[ "$RC" = 6 ] || fail "lbvm verify with a changed initrd exited $RC, expected 6 (diverged)" "$WORK/vinitrd.out" "$WORK/vinitrd.err"
grep -qE '^diverged at point [0-9]+ \(.*\): .* differs$' "$WORK/vinitrd.out" || fail "lbvm verify with a changed initrd did not say where it diverged" "$WORK/vinitrd.out"

# --- 3. a checkpoint right after kexec (the runs started at the beginning) ----
wait_bg kxck "$kxck_pid"
c=$WORK/kxck.console
[ "$RC" = 0 ] || fail "kxck: lbvm exited $RC" "$c" "$WORK/kxck.err"
assert_contains "$c" "LBVM-TEST: stage1 $R686" "kxck: the first kernel's /init did not run"
assert_contains "$c" "kexec_core: Starting new kernel" "kxck: kexec -e did not start the new kernel"
assert_contains "$c" "Linux version $RPAE " "kxck: the second kernel did not boot"
assert_contains "$c" "LBVM-TEST: done" "kxck: the second /init did not finish"
assert_not_contains "$c" "LBVM-TEST: error" "kxck: an error was reported"
ckpts_of kxck > "$WORK/kxck.list"
[ "$(wc -l < "$WORK/kxck.list")" = 1 ] || fail "kxck: expected one checkpoint on the second kernel's banner, got $(wc -l < "$WORK/kxck.list")" "$WORK/kxck.err"
grep -q "after: .*Linux version $RPAE " "$WORK/kxck.err" || fail "kxck: the checkpoint was not taken after the second kernel's banner" "$WORK/kxck.err"
kck=$(cut -d' ' -f1 "$WORK/kxck.list")
run_lbvm kxres resume "$kck" --console "$WORK/kxres.console" --stats --limit "$LBVM_TEST_LIMIT"
rc_kxres=$RC
wait_bg kx "$kx_pid"
[ "$RC" = 0 ] || fail "kx: the straight kexec run exited $RC" "$WORK/kx.console" "$WORK/kx.err"
assert_same_file "$WORK/kx.console" "$WORK/kxck.console" "the kexec run with a checkpoint printed another console than the straight one"
same_stats kxck kx "the kexec run with a checkpoint did not end as the straight one"
RC=$rc_kxres
check_resumed kxres "$kck" kx
assert_not_contains "$WORK/kxres.console" "LBVM-TEST: stage1" "kxres: the resumed run printed the first kernel's lines"
assert_contains "$WORK/kxres.console" "LBVM-TEST: init reached" "kxres: the resumed second kernel did not reach /init"
note "kexec: resumed from the checkpoint on the 686-pae banner: identical end ($(stats_of kx | head -n1))"

pass "checkpointed = straight; resume early/late/after SIGTERM identical; journal verifies and catches changes; kexec resume identical"
