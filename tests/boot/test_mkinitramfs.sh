#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `lbvm mkinitramfs -o OUT DIR...`: reproducible bytes (host mtimes, owners and
# inode numbers do not matter), the expected entries in order, mtime from
# SOURCE_DATE_EPOCH, later trees override earlier ones, errors reported.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
command -v cpio >/dev/null || fail "cpio is not installed (scripts/setup.sh installs it)"
unset SOURCE_DATE_EPOCH
make_test_root "$WORK/root"

"$LBVM" mkinitramfs -o "$WORK/a.cpio" "$WORK/root" 2>"$WORK/a.err" || fail "mkinitramfs failed" "$WORK/a.err"
# a different copy of the same tree: other inodes, mtimes, creation order
mkdir "$WORK/copy"
(cd "$WORK/root" && find . -depth -print | cpio -pdm --quiet "$WORK/copy") || fail "cannot copy the tree"
find "$WORK/copy" -exec touch -h -d '2001-02-03 04:05:06' {} +
"$LBVM" mkinitramfs -o "$WORK/b.cpio" "$WORK/copy" 2>"$WORK/b.err" || fail "mkinitramfs failed" "$WORK/b.err"
assert_same_file "$WORK/a.cpio" "$WORK/b.cpio" "two mkinitramfs runs of the same tree"

# entries: sorted, parents first, nothing else (no "." entry, no host paths)
{
    echo bin
    for a in busybox $LBVM_APPLETS; do echo "bin/$a"; done | LC_ALL=C sort
    printf '%s\n' dev init proc sys tmp
} > "$WORK/want.list"
cpio -it --quiet < "$WORK/a.cpio" > "$WORK/got.list" 2>"$WORK/cpio.err" || fail "cpio -t cannot read the archive" "$WORK/cpio.err"
if ! cmp -s "$WORK/want.list" "$WORK/got.list"; then
    diff "$WORK/want.list" "$WORK/got.list" > "$WORK/list.diff"
    fail "cpio -t does not list the expected entries" "$WORK/list.diff"
fi
# owners 0:0, modes kept, symlinks kept
cpio -itv --quiet --numeric-uid-gid < "$WORK/a.cpio" > "$WORK/got.long" 2>/dev/null
awk '$3 != 0 || $4 != 0 { bad = 1 } END { exit bad }' "$WORK/got.long" || fail "an entry is not owned by 0:0" "$WORK/got.long"
grep -qE '^-rwxr-xr-x .* init$' "$WORK/got.long" || fail "/init is not -rwxr-xr-x" "$WORK/got.long"
grep -qE '^drwxrwxrwt .* tmp$' "$WORK/got.long" || fail "/tmp lost its mode 1777" "$WORK/got.long"
grep -qE '^lrwxrwxrwx .* bin/sh -> busybox$' "$WORK/got.long" || fail "bin/sh is not a symlink to busybox" "$WORK/got.long"
# contents
mkdir "$WORK/x"
(cd "$WORK/x" && cpio -id --quiet < "$WORK/a.cpio") 2>"$WORK/x.err" || fail "cpio cannot extract the archive" "$WORK/x.err"
assert_same_file "$WORK/x/init" "$LBVM_SRC/tests/boot/init.sh" "extracted /init"
assert_same_file "$WORK/x/bin/busybox" "$BUSYBOX" "extracted busybox"

# newc header of the first entry: magic, inode 1, mtime (offset 46) from SOURCE_DATE_EPOCH
assert_eq "$(head -c 14 "$WORK/a.cpio")" "07070100000001" "magic and inode of the first entry"
assert_eq "$(head -c 54 "$WORK/a.cpio" | tail -c 8)" "00000000" "mtime without SOURCE_DATE_EPOCH"
SOURCE_DATE_EPOCH=1700000000 "$LBVM" mkinitramfs -o "$WORK/c.cpio" "$WORK/root" 2>"$WORK/c.err" \
    || fail "mkinitramfs with SOURCE_DATE_EPOCH failed" "$WORK/c.err"
assert_eq "$(head -c 54 "$WORK/c.cpio" | tail -c 8)" "6553f100" "mtime with SOURCE_DATE_EPOCH=1700000000"

# a later tree overrides an earlier one
mkdir -p "$WORK/over/bin"
echo "#!/bin/sh" > "$WORK/over/init"
echo extra > "$WORK/over/bin/extra"
"$LBVM" mkinitramfs -o "$WORK/d.cpio" "$WORK/root" "$WORK/over" 2>"$WORK/d.err" || fail "mkinitramfs with two trees failed" "$WORK/d.err"
assert_eq "$(cd "$WORK" && cpio -i --quiet --to-stdout init < d.cpio)" "#!/bin/sh" "/init from the second tree"
cpio -it --quiet < "$WORK/d.cpio" | grep -qx bin/extra || fail "bin/extra from the second tree is missing"
cpio -it --quiet < "$WORK/d.cpio" | grep -qx bin/busybox || fail "bin/busybox from the first tree is missing"

# errors: exit 1, one "lbvm: " line naming the problem, the old output untouched, no temp file
cp "$WORK/a.cpio" "$WORK/keep.cpio"
RC=0; "$LBVM" mkinitramfs -o "$WORK/a.cpio" "$WORK/root" "$WORK/no-such-dir" 2>"$WORK/e.err" || RC=$?
assert_eq "$RC" 1 "exit code for a missing input folder"
grep -q '^lbvm: .*no-such-dir' "$WORK/e.err" || fail "the error does not name the missing folder" "$WORK/e.err"
assert_same_file "$WORK/a.cpio" "$WORK/keep.cpio" "a failed run must not touch the old output"
for f in "$WORK"/a.cpio.*; do [ -e "$f" ] && fail "a temporary file was left behind: $f"; done
RC=0; "$LBVM" mkinitramfs "$WORK/root" 2>"$WORK/f.err" || RC=$?
assert_eq "$RC" 1 "exit code without -o"
grep -q '^lbvm: ' "$WORK/f.err" || fail "no 'lbvm: ' error without -o" "$WORK/f.err"
pass
