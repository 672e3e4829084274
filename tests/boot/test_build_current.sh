#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `lbvm build` on a tree in live-bootstrap's current layout
# (tests/fixtures/lb-current-forms): the manifest's figures are printed; the
# one output, init.img, starts with the fixture's boot sector and holds the
# srcfs at the sector that follows the stage2 text, with lbvm's bootstrap.cfg,
# the pre-network distfiles and the trailer; two builds at different host
# times give the same bytes; --allow-missing names what it leaves out; a
# missing or mismatching distfile fails with one line; `lbvm bootstrap
# --dry-run` prints `lbvm boot --ide WORK/init.img` with the step count.
. "$(dirname "$0")/lib.sh"
need_lbvm
unset SOURCE_DATE_EPOCH
TREE=$WORK/tree
cp -a "$LBVM_SRC/tests/fixtures/lb-current-forms" "$TREE" || fail "cannot copy the fixture tree"
echo "gitdir: ../.git/modules/seed/stage0-posix" > "$TREE/seed/stage0-posix/.git"   # a submodule's pointer: left out
DIST=$WORK/dist
mkdir "$DIST"
printf 'alpha-1.0 source\n' > "$DIST/alpha-1.0.tar.gz"
printf 'beta-2.0 source\n' > "$DIST/beta-2.0.tar.gz"
printf 'beta-git source\n' > "$DIST/beta-git-abc123.tar.gz"
printf 'delta-4.0 source\n' > "$DIST/delta-4.0.tar.gz"

build() {  # OUTDIR [more args]: lbvm build into OUTDIR; stdout in OUTDIR.out
    local out=$1
    shift
    RC=0
    "$LBVM" build --tree "$TREE" -d "$DIST" -o "$out" --disk-size 16M "$@" >"$out.out" 2>"$out.err" || RC=$?
}
build "$WORK/a"
[ "$RC" = 0 ] || fail "lbvm build failed (exit $RC)" "$WORK/a.err"
assert_contains "$WORK/a.out" "current layout: 14 directives (7 build, 3 improve, 2 define, 1 jump, 1 uninstall); with bootstrap.cfg 10 kept, 6 steps (builds) in 3 scripts" "the manifest's figures"
assert_contains "$WORK/a.out" "distfiles before the network: 4 in the image" "the pre-network distfiles"
assert_contains "$WORK/a.out" "srcfs: sector 2," "the srcfs's sector"
assert_eq "$(ls "$WORK/a" | tr '\n' ' ')" "init.img " "files in the output folder"
assert_eq "$(stat -c %s "$WORK/a/init.img")" 16777216 "the image's size"
assert_eq "$(grep init.img "$WORK/a.out" | sed 's/.*sha256 //')" "$(sha256sum < "$WORK/a/init.img" | cut -d' ' -f1)" \
    "the printed SHA-256"
# the boot sector, compiled from the fixture's hex0: cli, hlt, jmp, ..., 55 AA
assert_eq "$(od -An -tx1 -N4 "$WORK/a/init.img" | tr -d ' ')" "faf4ebfd" "the boot sector's first bytes"
assert_eq "$(od -An -tx1 -j510 -N2 "$WORK/a/init.img" | tr -d ' ')" "55aa" "the boot signature"
# the srcfs as text (its files are text): from sector 2 to the first NUL
tail -c +1025 "$WORK/a/init.img" | head -c 65536 | tr -d '\000' > "$WORK/srcfs.txt"
head -n 1 "$WORK/srcfs.txt" | grep -qx 'src 0 \.' || fail "the srcfs does not start with 'src 0 .'" "$WORK/srcfs.txt"
for want in 'src 0 ./High Level' 'src 0 ./external/distfiles' 'src 17 ./external/distfiles/alpha-1.0.tar.gz' \
            'src 260 ./steps/bootstrap.cfg' 'src 0 /bootstrap-seeds/POSIX/x86' \
            '/bootstrap-seeds/POSIX/x86/kaem-optional-seed /kaem.x86'; do
    grep -qxF "$want" "$WORK/srcfs.txt" || fail "no line '$want' in the srcfs" "$WORK/srcfs.txt"
done
grep -qx 'KERNEL_BOOTSTRAP=True' "$WORK/srcfs.txt" || fail "lbvm's bootstrap.cfg is not in the srcfs" "$WORK/srcfs.txt"
for never in 'STALE=from-an-earlier-run' 'not a seed' '.gitkeep' '.gitmodules' 'gitdir:' 'distfiles/epsilon-5.0.tar.gz'; do
    ! grep -qF "$never" "$WORK/srcfs.txt" || fail "'$never' is in the srcfs" "$WORK/srcfs.txt"
done
assert_eq "$(tail -n 1 "$WORK/srcfs.txt")" "/bootstrap-seeds/POSIX/x86/kaem-optional-seed /kaem.x86" "the srcfs's last line"

sleep 1
find "$TREE" -exec touch -h -d '2001-02-03 04:05:06' {} +
build "$WORK/b"
[ "$RC" = 0 ] || fail "the second lbvm build failed (exit $RC)" "$WORK/b.err"
assert_same_file "$WORK/a/init.img" "$WORK/b/init.img" "two builds' images"

# a missing distfile: named, nothing written; --allow-missing leaves it out, naming it
mv "$DIST/delta-4.0.tar.gz" "$WORK/delta"
build "$WORK/m"
assert_eq "$RC" 1 "exit code with a missing distfile"
assert_eq "$(wc -l < "$WORK/m.err")" 1 "lines on stderr with a missing distfile"
assert_contains "$WORK/m.err" "distfile delta-4.0.tar.gz is missing" "the missing distfile's name"
[ ! -e "$WORK/m/init.img" ] || fail "a missing distfile left an image"
build "$WORK/am" --allow-missing
[ "$RC" = 0 ] || fail "lbvm build --allow-missing failed (exit $RC)" "$WORK/am.err"
assert_contains "$WORK/am.err" "left out: delta-4.0.tar.gz (for delta-4.0)" "the left-out distfile"
assert_contains "$WORK/am.out" "distfiles before the network: 3 in the image, 1 left out" "the count with one left out"
# a mismatching one: an error even with --allow-missing
printf 'not delta\n' > "$DIST/delta-4.0.tar.gz"
build "$WORK/w" --allow-missing
assert_eq "$RC" 1 "exit code with a mismatching distfile"
assert_contains "$WORK/w.err" "checksum mismatch" "the mismatch"
mv "$WORK/delta" "$DIST/delta-4.0.tar.gz"
# --seeds lbvm has nothing to replace here
build "$WORK/s" --seeds lbvm
assert_eq "$RC" 1 "exit code with --seeds lbvm"
assert_contains "$WORK/s.err" "no binary seed" "why --seeds lbvm is refused"
# no builder-hex0: named
mv "$TREE/builder-hex0" "$WORK/bh"
build "$WORK/nb"
assert_eq "$RC" 1 "exit code without builder-hex0"
assert_contains "$WORK/nb.err" "builder-hex0 is empty" "the missing builder-hex0"
mv "$WORK/bh" "$TREE/builder-hex0"

# lbvm bootstrap --dry-run: the guest's command line, nothing run
RC=0
"$LBVM" bootstrap --tree "$TREE" -d "$DIST" -w "$WORK/work" --offline --disk-size 16M --dry-run \
    >"$WORK/dry.out" 2>"$WORK/dry.err" || RC=$?
[ "$RC" = 0 ] || fail "lbvm bootstrap --dry-run failed (exit $RC)" "$WORK/dry.err"
assert_contains "$WORK/dry.out" "dry run: 6 steps; the guest would run: " "the dry run's line"
assert_contains "$WORK/dry.out" " boot --ide $WORK/work/init.img --mem 4096 --checkpoint-dir $WORK/work/checkpoints" \
    "the disk-boot command line"
assert_not_contains "$WORK/dry.out" "--kernel" "a kernel on the command line"
assert_same_file "$WORK/a/init.img" "$WORK/work/init.img" "the image bootstrap built"
[ ! -e "$WORK/work/console-1.log" ] || fail "the dry run ran a guest"
pass
