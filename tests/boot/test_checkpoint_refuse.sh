#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What lbvm must refuse about checkpoints, each time with a non-zero exit,
# exactly one line on stderr starting "lbvm: ", and the checkpoint folder left
# as it was (names, sizes, inode numbers and SHA-256 of every file):
#   resume (and inspect) of a file with a bad magic, format major 2, a newer
#   minor (1.9), one flipped byte (digest), cut to 0, 10, half and size-1
#   bytes; resume with the base disk image missing or one byte changed, with a
#   layer file missing or one byte changed; a second lbvm on a checkpoint
#   folder in use. `lbvm inspect` of a good checkpoint shows guest time and disks.
#   A checkpoint that cannot be written (a file-size limit standing in for a
#   full disk) stops the run: exit 1, one line with the cause and the last
#   checkpoint written, which still resumes; no temporary file is left.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
build_initramfs "$WORK/initrd.cpio"


D=$WORK/ck
# snapshot: every file of the checkpoint folder: name, size, inode, SHA-256
snapshot() {
    (cd "$D" && find . -printf '%p %y %s %i\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}
flip_byte() {    # FILE OFFSET: invert the byte at OFFSET
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$b" ] || fail "cannot read byte $2 of $1"
    printf "\\$(printf '%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
put_u16() {      # FILE OFFSET VALUE: little-endian
    printf "\\$(printf '%03o' $(($3 & 255)))\\$(printf '%03o' $(($3 >> 8)))" \
        | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# refused NAME PATTERN COMMAND...: lbvm COMMAND must fail with one line on
# stderr, starting "lbvm: " and matching PATTERN (an ERE, may be empty), and
# leave the checkpoint folder as it was.
refused() {
    local name=$1 pat=$2
    shift 2
    snapshot > "$WORK/$name.before"
    run_lbvm "$name" "$@"
    snapshot > "$WORK/$name.after"
    [ "$RC" != 0 ] || fail "$name: lbvm $1 was not refused (exit 0)" "$WORK/$name.err"
    [ "$RC" -lt 128 ] || fail "$name: lbvm $1 died of signal $((RC - 128))" "$WORK/$name.err"
    [ "$(wc -l < "$WORK/$name.err")" = 1 ] || fail "$name: lbvm $1 printed $(wc -l < "$WORK/$name.err") lines on stderr, expected one" "$WORK/$name.err"
    grep -q '^lbvm: ' "$WORK/$name.err" || fail "$name: the error line does not start with 'lbvm: '" "$WORK/$name.err"
    [ -z "$pat" ] || grep -Eq -- "$pat" "$WORK/$name.err" || fail "$name: the message does not say /$pat/: $(cat "$WORK/$name.err")"
    if ! cmp -s "$WORK/$name.before" "$WORK/$name.after"; then
        diff "$WORK/$name.before" "$WORK/$name.after" > "$WORK/$name.diff"
        fail "$name: the refused lbvm $1 changed the checkpoint folder" "$WORK/$name.diff"
    fi
    note "$name: exit $RC: $(cat "$WORK/$name.err")"
}

# --- a few checkpoints with a disk: 2 s of guest time ---------------------------
head -c 1048576 "$KERNEL_686" > "$WORK/base.img" && truncate -s 16M "$WORK/base.img" || fail "cannot make the base image"
cp "$WORK/base.img" "$WORK/base.orig"
run_lbvm mk boot --kernel "$KERNEL_686" --initrd "$WORK/initrd.cpio" --append lbvm.test=boot \
    --console "$WORK/mk.console" --limit 2 --disk "$WORK/base.img" --checkpoint-dir "$D" --checkpoint-every 500M
[ "$RC" = 4 ] || fail "mk: a run with --limit 2 exited $RC, expected 4" "$WORK/mk.err"
good=$(find "$D" -maxdepth 1 -name 'ckpt-*.lbvm' | sort | sed -n 3p)
[ -n "$good" ] || fail "mk: fewer than 3 checkpoints in 2 s of guest time with --checkpoint-every 500M" "$WORK/mk.err"
size=$(stat -c %s "$good")

# inspect of a good one
run_lbvm inspect inspect "$good"
[ "$RC" = 0 ] || fail "lbvm inspect of a good checkpoint exited $RC" "$WORK/inspect.err"
i=$WORK/inspect.out
t=$(sed -n "s|^lbvm: checkpoint $good at \([0-9]*\) ticks.*|\1|p" "$WORK/mk.err")
[ -n "$t" ] || fail "mk: no 'lbvm: checkpoint $good at N ticks' line" "$WORK/mk.err"
grep -Eq "^guest time +$t ticks" "$i" || fail "lbvm inspect does not show the guest time $t ticks" "$i"
grep -Fq "disk 0 " "$i" || fail "lbvm inspect shows no 'disk 0' line" "$i"
grep -F "disk 0 " "$i" | grep -Fq "$WORK/base.img" || fail "lbvm inspect's disk line does not name the base image" "$i"
grep -F "disk 0 " "$i" | grep -Eq '[0-9a-f]{64}' || fail "lbvm inspect's disk line shows no content SHA-256" "$i"
grep -Eq '^ +disk0-[0-9]+\.layer$' "$i" || fail "lbvm inspect lists no layer of disk 0" "$i"
grep -Eq '^format +1\.' "$i" || fail "lbvm inspect shows no format line" "$i"
note "inspect: $(grep -E '^(guest time|disk 0)' "$i" | tr -s ' ' | tr '\n' ';')"

# --- damaged checkpoint files (made inside the folder: resume uses the file's folder) ---
bad() {          # NAME: a copy of the good checkpoint in the folder
    cp "$good" "$D/$1.lbvm"
    echo "$D/$1.lbvm"
}
f=$(bad badmagic); printf 'X' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
refused badmagic 'magic|not an lbvm checkpoint' resume "$f"
refused badmagic-inspect 'magic|not an lbvm checkpoint' inspect "$f"
f=$(bad major2); put_u16 "$f" 8 2
refused major2 '2\.0|version 2|format 2' resume "$f"
refused major2-inspect '2\.0|version 2|format 2' inspect "$f"
f=$(bad minor9); put_u16 "$f" 10 9
refused minor9 '1\.9|minor 9' resume "$f"
f=$(bad flipped); flip_byte "$f" $((size / 2))
refused flipped 'SHA-256|digest|damaged|corrupt' resume "$f"
refused flipped-inspect 'SHA-256|digest|damaged|corrupt' inspect "$f"
for len in 0 10 $((size / 2)) $((size - 1)); do
    f=$(bad "cut$len")
    truncate -s "$len" "$f"
    refused "cut$len" '' resume "$f"
    refused "cut$len-inspect" '' inspect "$f"
done

# --- disks --------------------------------------------------------------------
mv "$WORK/base.img" "$WORK/base.away"
refused nobase 'base\.img' resume "$good"
mv "$WORK/base.away" "$WORK/base.img"
flip_byte "$WORK/base.img" 1000
refused changedbase 'base\.img' resume "$good"
cp "$WORK/base.orig" "$WORK/base.img"
layer=$(find "$D" -maxdepth 1 -name 'disk0-*.layer' | sort | head -n1)
[ -n "$layer" ] || fail "mk: no disk0-*.layer file in the checkpoint folder" "$WORK/mk.err"
mv "$layer" "$WORK/layer.away"
refused nolayer "$(basename "$layer" | sed 's/\./\\./g')" resume "$good"
mv "$WORK/layer.away" "$layer"
cp "$layer" "$WORK/layer.orig"
flip_byte "$layer" $(($(stat -c %s "$layer") / 2))
refused changedlayer "$(basename "$layer" | sed 's/\./\\./g')" resume "$good"
cp "$WORK/layer.orig" "$layer"

# --- a folder in use ------------------------------------------------------------
"$LBVM" resume "$good" --console "$WORK/user.console" --limit "$LBVM_TEST_LIMIT" >"$WORK/user.out" 2>"$WORK/user.err" </dev/null &
user=$!
n=0
while [ ! -s "$WORK/user.console" ] && kill -0 $user 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
[ -s "$WORK/user.console" ] || fail "the first lbvm (resume $(basename "$good")) printed nothing in 60 s" "$WORK/user.err"
refused inuse-resume 'in use' resume "$good"
refused inuse-boot 'in use' boot --kernel "$KERNEL_686" --initrd "$WORK/initrd.cpio" --checkpoint-dir "$D"
kill -0 $user 2>/dev/null || fail "the first lbvm ended while the folder was to be in use" "$WORK/user.err"
# (SIGINT, as Ctrl-C would: test_checkpoint.sh stops a run with SIGTERM)
kill -INT $user
rc=0
wait $user || rc=$?
[ "$rc" = 5 ] || fail "the first lbvm, stopped by SIGINT, exited $rc, expected 5" "$WORK/user.err"
grep -q "^lbvm: stopped by signal 2; resume with: lbvm resume .*/ck/ckpt-[0-9]*\.lbvm\$" "$WORK/user.err" \
    || fail "the first lbvm, stopped by SIGINT, did not say how to resume" "$WORK/user.err"

# and after all that, the good checkpoint still resumes, the base was never written
cmp -s "$WORK/base.orig" "$WORK/base.img" || fail "the base image changed"
run_lbvm last resume "$good" --console "$WORK/last.console" --limit 3
[ "$RC" = 4 ] || fail "resuming $(basename "$good") after the refusals exited $RC, expected 4 (--limit 3)" "$WORK/last.err"
assert_same_file "$WORK/base.orig" "$WORK/base.img" "a resumed run wrote to the base image"

# A refused resume leaves the files it was given alone too: its --console file
# (say, the log of an earlier run) is neither created nor emptied.
echo "the console of an earlier run" > "$WORK/keep.console"
cp "$WORK/keep.console" "$WORK/keep.orig"
refused keepconsole 'magic' resume "$D/badmagic.lbvm" --console "$WORK/keep.console"
assert_same_file "$WORK/keep.orig" "$WORK/keep.console" "a refused lbvm resume (bad magic) emptied its --console file"
refused newconsole 'magic' resume "$D/badmagic.lbvm" --console "$WORK/new.console"
[ -e "$WORK/new.console" ] && fail "a refused lbvm resume (bad magic) created its --console file"
# A checkpoint that cannot be written: the first one (11.7 MiB) fits under a
# 12.5 MiB file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with
# EFBIG, as they would with ENOSPC), the second (13.2 MiB) does not.
F=$WORK/full
(ulimit -f 12800; trap '' XFSZ; exec "$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/initrd.cpio" --append lbvm.test=boot \
    --console "$WORK/full.console" --limit "$LBVM_TEST_LIMIT" --checkpoint-dir "$F" --checkpoint-every 500M) \
    >"$WORK/full.out" 2>"$WORK/full.err"
RC=$?
[ "$RC" = 1 ] || fail "full: a run whose checkpoint could not be written exited $RC, expected 1" "$WORK/full.err"
grep -v '^lbvm: checkpoint .* at [0-9]* ticks' "$WORK/full.err" > "$WORK/full.msg"
[ "$(wc -l < "$WORK/full.msg")" = 1 ] || fail "full: expected one error line besides the checkpoint lines" "$WORK/full.err"
grep -qE '^lbvm: a checkpoint failed, so the run stops here \(cannot write .*: File too large\); the last one written is .*/ckpt-[0-9]+\.lbvm$' "$WORK/full.msg" \
    || fail "full: the error line does not give the cause and the last checkpoint" "$WORK/full.msg"
lastok=$(sed -n 's/.*the last one written is //p' "$WORK/full.msg")
ls "$F" | grep -v -E '^(lock|ckpt-[0-9]+\.lbvm|disk[0-9]+\.live|disk[0-9]+-[0-9]+\.layer)$' > "$WORK/full.extra"
[ -s "$WORK/full.extra" ] && fail "full: files left behind in the checkpoint folder" "$WORK/full.extra"
run_lbvm fullres resume "$lastok" --console "$WORK/fullres.console" --limit 3
[ "$RC" = 4 ] || fail "full: resuming the last checkpoint written ($lastok) exited $RC, expected 4 (--limit 3)" "$WORK/fullres.err"
note "full: $(cat "$WORK/full.msg")"

pass "bad magic, major 2, minor 9, flipped byte, 4 truncations, missing/changed base and layer, folder in use: all refused cleanly, console file untouched; a checkpoint that cannot be written stops the run with its cause, the last one resumes"
