#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# lbvm's own seeds inside the emulator, as live-bootstrap starts: /init is
# kaem-optional-seed, which runs /kaem.x86; that makes hex0-seed assemble both
# seed sources, and busybox prints the hashes of what it made, which must be
# the committed binaries' hashes.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
S=$LBVM_SRC/seeds/x86
root=$WORK/root
mkdir -p "$root/bin"
cp "$CACHE/busybox" "$root/bin/busybox"
cp "$S/kaem-optional-seed" "$root/init"
cp "$S/hex0-seed" "$S/hex0-seed.hex0" "$S/kaem-optional-seed.hex0" "$root/"
cat > "$root/kaem.x86" <<'KAEM'
# run by kaem-optional-seed as the guest's /init
/hex0-seed /hex0-seed.hex0 /hex0-out
/hex0-seed /kaem-optional-seed.hex0 /kaem-out
/bin/busybox sha256sum /hex0-out /kaem-out
/bin/busybox poweroff -f
KAEM
"$LBVM" mkinitramfs -o "$WORK/seeds.cpio" "$root" || fail "mkinitramfs failed"
run_lbvm seeds boot --kernel "$KERNEL_686" --initrd "$WORK/seeds.cpio" --console "$WORK/seeds.console" \
    --limit "$LBVM_TEST_LIMIT"
c=$WORK/seeds.console
[ "$RC" = 0 ] || fail "lbvm exited $RC, expected 0 (power-off)" "$c" "$WORK/seeds.err"
assert_contains "$c" " +> /hex0-seed /hex0-seed.hex0 /hex0-out" "kaem did not echo the first command"
h=$(sha256sum < "$S/hex0-seed" | cut -d' ' -f1)
k=$(sha256sum < "$S/kaem-optional-seed" | cut -d' ' -f1)
assert_contains "$c" "$h  /hex0-out" "hex0-seed assembled itself in the guest into something else than seeds/x86/hex0-seed"
assert_contains "$c" "$k  /kaem-out" "hex0-seed assembled kaem in the guest into something else than seeds/x86/kaem-optional-seed"
assert_not_contains "$c" "ABORTING HARD" "a kaem command failed in the guest"
pass "kaem-optional-seed as /init, hex0-seed rebuilt both seeds in the guest"
