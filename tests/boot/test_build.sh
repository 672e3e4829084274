#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `lbvm build --tree DIR -d DISTDIR -o OUT`: from tests/fixtures/build-tree,
# two builds at different host times (and tree mtimes) give the same bytes;
# the initramfs lists exactly the expected paths (no .git, tmp/ or stale
# distfiles/); the 8 GiB disk is sparse, its partition passes e2fsck -fn and
# debugfs reads the distfiles back; a missing or mismatching distfile fails
# with one line naming it. Skipped while cli/main.c does not dispatch `build`.
. "$(dirname "$0")/lib.sh"
need_lbvm
RC=0; "$LBVM" build --help >"$WORK/help.out" 2>&1 || RC=$?
if grep -q "unknown command" "$WORK/help.out"; then
    echo "SKIP: $TEST_NAME: this lbvm has no 'build' command yet (cli/main.c does not dispatch it)"
    exit 0
fi
assert_eq "$RC" 0 "exit code of lbvm build --help"
command -v cpio >/dev/null || fail "cpio is not installed (scripts/setup.sh installs it)"
tool() {  # the e2fsprogs program $1 from PATH, /sbin or /usr/sbin
    local t
    t=$(command -v "$1" 2>/dev/null) || for t in "/sbin/$1" "/usr/sbin/$1" ""; do [ -x "$t" ] && break; done
    [ -n "$t" ] || fail "$1 is not installed (scripts/setup.sh installs e2fsprogs)"
    echo "$t"
}
E2FSCK=$(tool e2fsck) || exit 1
DEBUGFS=$(tool debugfs) || exit 1
unset SOURCE_DATE_EPOCH

# the fixture tree, plus what must stay out: git metadata, tmp/, a stale cache
TREE=$WORK/tree
cp -r "$LBVM_SRC/tests/fixtures/build-tree" "$TREE" || fail "cannot copy the fixture tree"
echo "gitdir: ../../.git/modules/stage0-posix" > "$TREE/sysa/stage0-posix/src/.git"
mkdir -p "$TREE/sysa/tmp" "$TREE/sysa/distfiles" && echo junk > "$TREE/sysa/tmp/junk" \
    && echo stale > "$TREE/sysa/distfiles/hello-1.0.tar.gz" || fail "cannot extend the tree"
DIST=$WORK/dist
mkdir "$DIST"
printf 'lbvm build fixture: hello-1.0\n' > "$DIST/hello-1.0.tar.gz"
printf 'lbvm build fixture: hello extra\n' > "$DIST/hello-extra.tar.gz"
yes 'lbvm build fixture: world-2.0' | head -c 300000 > "$DIST/world-2.0.tar.gz"
printf 'lbvm build fixture: world patch\n' > "$DIST/world-patch.diff"

build() {  # OUTDIR [more args]: lbvm build into OUTDIR; stdout in OUTDIR.out
    local out=$1
    shift
    RC=0
    "$LBVM" build --tree "$TREE" -d "$DIST" -o "$out" "$@" >"$out.out" 2>"$out.err" || RC=$?
}
t0=$SECONDS
build "$WORK/a"
[ "$RC" = 0 ] || fail "lbvm build failed (exit $RC)" "$WORK/a.err"
note "8 GiB build: $((SECONDS - t0)) s"
sleep 1
find "$TREE" -exec touch -h -d '2001-02-03 04:05:06' {} +
build "$WORK/b"
[ "$RC" = 0 ] || fail "the second lbvm build failed (exit $RC)" "$WORK/b.err"
assert_same_file "$WORK/a/initramfs.cpio" "$WORK/b/initramfs.cpio" "two builds' initramfs"
# 8 GiB disks: compared through the SHA-256 lbvm prints (a cmp reads 16 GiB of
# holes); that the printed hash is the file's is checked on 64 MiB disks below
assert_eq "$(grep sysc.img "$WORK/b.out" | sed 's/.*: //')" "$(grep sysc.img "$WORK/a.out" | sed 's/.*: //')" \
    "size and SHA-256 of two builds' 8 GiB disks"
assert_eq "$(ls "$WORK/a" | tr '\n' ' ')" "initramfs.cpio sysc.img " "files in the output folder"
assert_eq "$(wc -l < "$WORK/a.out")" 2 "lines printed by lbvm build"
grep -qE "^$WORK/a/sysc.img: 8589934592 bytes, sha256 [0-9a-f]{64}\$" "$WORK/a.out" \
    || fail "no 'sysc.img: SIZE bytes, sha256 HEX' line" "$WORK/a.out"

# 64 MiB disks, built a second apart: byte for byte the same, and the printed
# lines are the files' sizes and SHA-256
build "$WORK/c" --disk-size 64M
[ "$RC" = 0 ] || fail "lbvm build --disk-size 64M failed (exit $RC)" "$WORK/c.err"
sleep 1
build "$WORK/d" --disk-size 64M
[ "$RC" = 0 ] || fail "the second lbvm build --disk-size 64M failed (exit $RC)" "$WORK/d.err"
assert_eq "$(stat -c %s "$WORK/c/sysc.img")" 67108864 "--disk-size 64M"
assert_same_file "$WORK/c/sysc.img" "$WORK/d/sysc.img" "two builds' 64 MiB disks"
assert_same_file "$WORK/a/initramfs.cpio" "$WORK/c/initramfs.cpio" "the initramfs does not depend on the disk size"
for f in initramfs.cpio sysc.img; do
    want="$WORK/c/$f: $(stat -c %s "$WORK/c/$f") bytes, sha256 $(sha256sum "$WORK/c/$f" | cut -d' ' -f1)"
    grep -qxF "$want" "$WORK/c.out" || fail "no line '$want' in lbvm build's output" "$WORK/c.out"
done

# the initramfs: exactly these paths, in this order
cat > "$WORK/want.list" <<'EOF'
after.kaem
bootstrap-seeds
bootstrap-seeds/POSIX
bootstrap-seeds/POSIX/x86
bootstrap-seeds/POSIX/x86/hex0-seed
bootstrap-seeds/POSIX/x86/kaem-optional-seed
dev
dev/console
init
kaem.x86
sysa
sysa/after.kaem
sysa/bootstrap.cfg
sysa/distfiles
sysa/distfiles/hello-1.0.tar.gz
sysa/distfiles/hello-extra.tar.gz
sysa/hello-1.0
sysa/hello-1.0/hello-1.0.sh
sysa/hello-1.0/sources
sysa/stage0-posix
sysa/stage0-posix/src
sysa/stage0-posix/src/bootstrap-seeds
sysa/stage0-posix/src/bootstrap-seeds/POSIX
sysa/stage0-posix/src/bootstrap-seeds/POSIX/x86
sysa/stage0-posix/src/bootstrap-seeds/POSIX/x86/hex0-seed
sysa/stage0-posix/src/bootstrap-seeds/POSIX/x86/kaem-optional-seed
sysa/stage0-posix/src/kaem.x86
sysa/stage0-posix/src/x86
sysa/stage0-posix/src/x86/step.kaem
sysb
sysb/run.sh
sysc
sysc/run.sh
sysc/world-2.0
sysc/world-2.0/sources
x86
x86/step.kaem
EOF
cpio -it --quiet < "$WORK/a/initramfs.cpio" > "$WORK/got.list" 2>"$WORK/cpio.err" \
    || fail "cpio -t cannot read the initramfs" "$WORK/cpio.err"
if ! cmp -s "$WORK/want.list" "$WORK/got.list"; then
    diff "$WORK/want.list" "$WORK/got.list" > "$WORK/list.diff"
    fail "cpio -t does not list the expected paths" "$WORK/list.diff"
fi
cpio -itv --quiet --numeric-uid-gid < "$WORK/a/initramfs.cpio" > "$WORK/got.long" 2>/dev/null
awk '$3 != 0 || $4 != 0 { bad = 1 } END { exit bad }' "$WORK/got.long" || fail "an entry is not owned by 0:0" "$WORK/got.long"
grep -qE '^crw------- .* 5, +1 .* dev/console$' "$WORK/got.long" || fail "dev/console is not a char device 5,1" "$WORK/got.long"
grep -qE '^-rwxr-xr-x .* init$' "$WORK/got.long" || fail "/init is not -rwxr-xr-x" "$WORK/got.long"
mkdir "$WORK/x"
(cd "$WORK/x" && cpio -id --quiet --no-absolute-filenames < "$WORK/a/initramfs.cpio" 2>/dev/null)
for f in hello-1.0.tar.gz hello-extra.tar.gz; do
    assert_same_file "$WORK/x/sysa/distfiles/$f" "$DIST/$f" "sysa/distfiles/$f in the initramfs"
done
assert_same_file "$WORK/x/init" "$TREE/sysa/stage0-posix/src/bootstrap-seeds/POSIX/x86/kaem-optional-seed" "/init"
assert_same_file "$WORK/x/after.kaem" "$TREE/sysa/after.kaem" "/after.kaem"
grep -qx 'DISK=sda1' "$WORK/x/sysa/bootstrap.cfg" || fail "sysa/bootstrap.cfg does not say DISK=sda1" "$WORK/x/sysa/bootstrap.cfg"

# the disk: 8 GiB, sparse, a good ext4 in partition 1 holding sysc's distfiles
IMG=$WORK/a/sysc.img
assert_eq "$(stat -c %s "$IMG")" 8589934592 "disk size"
used=$(du -k "$IMG" | cut -f1)
[ "$used" -lt 65536 ] || fail "the disk is not sparse: $used KiB used of 8 GiB"
note "disk uses $used KiB of 8 GiB"
assert_eq "$(od -An -tx1 -j510 -N2 "$IMG" | tr -d ' \n')" 55aa "MBR signature"
assert_eq "$(od -An -tx1 -j446 -N4 "$IMG" | tr -d ' \n')" 00202100 "partition status and start CHS (0/32/33)"
assert_eq "$(od -An -tx1 -j450 -N1 "$IMG" | tr -d ' \n')" 83 "partition type"
assert_eq "$(od -An -tu4 -j454 -N8 "$IMG" | xargs)" "2048 16775168" "partition start and length in sectors"
"$E2FSCK" -fn "$IMG?offset=1048576" >"$WORK/fsck.out" 2>&1 || fail "e2fsck -fn finds errors in the partition" "$WORK/fsck.out"
"$DEBUGFS" -R 'ls -l /distfiles' "$IMG?offset=1048576" >"$WORK/ls.out" 2>"$WORK/ls.err" \
    || fail "debugfs cannot list /distfiles" "$WORK/ls.err"
for f in world-2.0.tar.gz world-patch.diff; do
    grep -qE "^ +[0-9]+ +100644 \(1\) +0 +0 +$(stat -c %s "$DIST/$f") +1-Jan-1970 00:00 $f\$" "$WORK/ls.out" \
        || fail "/distfiles/$f is not listed as 0644, 0:0, its size, 1970" "$WORK/ls.out"
    "$DEBUGFS" -R "dump /distfiles/$f $WORK/$f.back" "$IMG?offset=1048576" >/dev/null 2>&1
    assert_same_file "$WORK/$f.back" "$DIST/$f" "/distfiles/$f read back with debugfs"
done
grep -qE 'stale|hello' "$WORK/ls.out" && fail "/distfiles holds files it should not" "$WORK/ls.out"

# errors: exit 1, one "lbvm: " line naming the file, the old outputs untouched
mv "$DIST/world-patch.diff" "$WORK/world-patch.diff.away"
build "$WORK/c" --disk-size 64M
assert_eq "$RC" 1 "exit code for a missing distfile"
assert_eq "$(wc -l < "$WORK/c.err")" 1 "lines on stderr for a missing distfile"
grep -q '^lbvm: .*world-patch.diff.*missing' "$WORK/c.err" || fail "the error does not name the missing file" "$WORK/c.err"
assert_same_file "$WORK/a/initramfs.cpio" "$WORK/c/initramfs.cpio" "a failed build must not touch the old initramfs"
printf 'not the patch\n' > "$DIST/world-patch.diff"
build "$WORK/c" --disk-size 64M
assert_eq "$RC" 1 "exit code for a wrong checksum"
grep -q '^lbvm: .*world-patch.diff.*checksum mismatch' "$WORK/c.err" || fail "the error does not name the bad file" "$WORK/c.err"
for f in "$WORK"/c/*.tmp.*; do [ -e "$f" ] && fail "a temporary file was left behind: $f"; done
RC=0; "$LBVM" build -d "$DIST" 2>"$WORK/e.err" || RC=$?
assert_eq "$RC" 1 "exit code without --tree"
grep -q '^lbvm: .*--tree' "$WORK/e.err" || fail "no 'lbvm: ' error naming --tree" "$WORK/e.err"
RC=0; "$LBVM" build --tree "$TREE" --disk-size 12X 2>"$WORK/e.err" || RC=$?
assert_eq "$RC" 1 "exit code for a bad --disk-size"

# a full disk while building (a file-size limit stands in for it: writes past
# it fail with EFBIG as they would with ENOSPC): one line, nothing half-written
mv "$WORK/world-patch.diff.away" "$DIST/world-patch.diff"
mkdir -p "$WORK/full"
RC=0; ( trap '' XFSZ; ulimit -f 1024; exec "$LBVM" build --tree "$TREE" -d "$DIST" -o "$WORK/full" --disk-size 64M ) \
    >/dev/null 2>"$WORK/full.err" || RC=$?
assert_eq "$RC" 1 "exit code when the disk fills up while building"
assert_eq "$(wc -l < "$WORK/full.err")" 1 "lines on stderr when the disk fills up"
grep -q '^lbvm: ' "$WORK/full.err" || fail "no 'lbvm: ' line when the disk fills up" "$WORK/full.err"
left=$(ls -A "$WORK/full" | grep -v '^initramfs.cpio$' || true)
[ -z "$left" ] || fail "a full disk left half-written files behind: $left" "$WORK/full.err"
if [ -e "$WORK/full/initramfs.cpio" ]; then
    cmp -s "$WORK/full/initramfs.cpio" "$WORK/a/initramfs.cpio" || fail "a full disk left a damaged initramfs.cpio"
fi

# a tree without its submodules, and one in live-bootstrap's newer layout
cp -r "$TREE" "$WORK/nosub" && rm -rf "$WORK/nosub/sysa/stage0-posix/src" && mkdir "$WORK/nosub/sysa/stage0-posix/src"
RC=0; "$LBVM" build --tree "$WORK/nosub" -d "$DIST" -o "$WORK/ns" 2>"$WORK/ns.err" || RC=$?
assert_eq "$RC" 1 "exit code for a tree without its submodules"
grep -q "^lbvm: .*stage0-posix/src is empty.*git -C .* submodule update --init --recursive" "$WORK/ns.err" \
    || fail "the empty submodule folder and the git command are not named" "$WORK/ns.err"
[ ! -e "$WORK/ns" ] || fail "a tree without submodules made an output folder"
mkdir -p "$WORK/newer/seed" "$WORK/newer/steps"
RC=0; "$LBVM" build --tree "$WORK/newer" -d "$DIST" -o "$WORK/nw" 2>"$WORK/nw.err" || RC=$?
assert_eq "$RC" 1 "exit code for a current-layout tree without a manifest"
grep -q "^lbvm: .*no steps/manifest" "$WORK/nw.err" || fail "the missing manifest is not named" "$WORK/nw.err"
pass
