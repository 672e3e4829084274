#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The AHCI controller under Debian's real ahci driver: the guest loads the
# modules, finds the disk, reads a region the host filled and writes another
# that the host then checks; a second, read-only disk refuses writes. Then the
# same guest with the host unable to write the image (a file-size limit, as a
# full host disk): lbvm stops with one line naming the failed write, and the
# guest never saw an I/O error.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
root=$WORK/root
mkdir -p "$root/bin" "$root/modules" "$root/proc" "$root/sys" "$root/dev"
add_busybox "$root" sh mount insmod sleep dd sha256sum cat poweroff sync head
add_disk_modules "$root" k686
cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin
. /disk-setup.sh
i=0
while [ ! -b /dev/sdb ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "LBVM-TEST: sda sectors $(cat /sys/block/sda/size)"
echo "LBVM-TEST: sdb sectors $(cat /sys/block/sdb/size)"
echo "LBVM-TEST: read $(dd if=/dev/sda bs=1M count=4 2>/dev/null | sha256sum)"
dd if=/dev/sda of=/dev/sda bs=1M count=4 seek=8 conv=fsync 2>/dev/null && echo "LBVM-TEST: wrote sda"
dd if=/dev/sda of=/dev/sdb bs=512 count=1 conv=fsync 2>/dev/null || echo "LBVM-TEST: sdb refused the write"
echo "LBVM-TEST: done"
poweroff -f
INIT
chmod +x "$root/init"
"$LBVM" mkinitramfs -o "$WORK/ahci.cpio" "$root" || fail "mkinitramfs failed"
# Disk 0: 64 MiB, the first 4 MiB a fixed pattern; disk 1: read-only.
truncate -s 64M "$WORK/disk0.img"
head -c 4194304 /dev/urandom > "$WORK/pattern"
dd if="$WORK/pattern" of="$WORK/disk0.img" conv=notrunc status=none
truncate -s 16M "$WORK/disk1.img"
want=$(sha256sum < "$WORK/pattern" | cut -d' ' -f1)
run_lbvm ahci boot --kernel "$KERNEL_686" --initrd "$WORK/ahci.cpio" --console "$WORK/ahci.console" \
    --disk "$WORK/disk0.img" --disk "$WORK/disk1.img,ro" --limit "$LBVM_TEST_LIMIT"
c=$WORK/ahci.console
[ "$RC" = 0 ] || fail "lbvm exited $RC" "$c" "$WORK/ahci.err"
assert_not_contains "$c" "LBVM-TEST: error" "a module failed to load"
assert_contains "$c" "LBVM-TEST: sda sectors 131072" "the guest did not see a 64 MiB sda"
assert_contains "$c" "LBVM-TEST: sdb sectors 32768" "the guest did not see a 16 MiB sdb"
assert_contains "$c" "LBVM-TEST: read $want" "what the guest read from sda is not what the host wrote"
assert_contains "$c" "LBVM-TEST: wrote sda" "the guest's write to sda failed"
assert_contains "$c" "LBVM-TEST: sdb refused the write" "the read-only disk accepted a write"
got=$(dd if="$WORK/disk0.img" bs=1M skip=8 count=4 status=none | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the image does not hold what the guest wrote at 8 MiB"
[ "$(sha256sum < "$WORK/disk1.img" | cut -d' ' -f1)" = "$(head -c 16777216 /dev/zero | sha256sum | cut -d' ' -f1)" ] \
    || fail "the read-only image changed"

# The host cannot write past 10 MiB of the image (RLIMIT_FSIZE with SIGXFSZ
# ignored: EFBIG, as ENOSPC would be): the guest's write at 8-12 MiB fails on
# the host side.
cp "$WORK/pattern" "$WORK/disk0b.img" && truncate -s 64M "$WORK/disk0b.img" || fail "cannot make disk0b.img"
(ulimit -f 10240; trap '' XFSZ; exec "$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/ahci.cpio" \
    --console "$WORK/full.console" --disk "$WORK/disk0b.img" --disk "$WORK/disk1.img,ro" --limit "$LBVM_TEST_LIMIT") \
    >"$WORK/full.out" 2>"$WORK/full.err"
RC=$?
c=$WORK/full.console
[ "$RC" = 1 ] || fail "full: lbvm exited $RC when the host could not write the image, expected 1" "$WORK/full.err" "$c"
[ "$(wc -l < "$WORK/full.err")" = 1 ] || fail "full: expected one line on stderr" "$WORK/full.err"
grep -qE '^lbvm: the host failed the guest.s disk I/O, .*disk 0: cannot write [0-9]+ sectors at LBA [0-9]+: File too large$' "$WORK/full.err" \
    || fail "full: the line does not name the failed write and its cause" "$WORK/full.err"
assert_contains "$c" "LBVM-TEST: read $want" "full: the guest did not read sda before writing"
assert_not_contains "$c" "LBVM-TEST: wrote sda" "full: the guest's write completed although the host failed it"
assert_not_contains "$c" "I/O error" "full: the guest was told of the host's failure"
note "full: $(cat "$WORK/full.err")"
pass "ahci: read, write, read-only; a host write failure stops the run without telling the guest"
