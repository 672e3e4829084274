#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The PIIX3 IDE controller under Debian's real ata_piix driver (a module in
# Debian's kernel, loaded from the test initramfs): the guest finds a disk as
# primary master and a read-only one as primary slave, reads a region the
# host filled (libata uses bus-master DMA for it), writes another that the
# host then checks, and the read-only disk refuses writes. A run with
# checkpoints (before the read, after it) ends as the straight run, and so
# does a run resumed in a new process from the first of them.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
root=$WORK/root
mkdir -p "$root/bin" "$root/modules" "$root/proc" "$root/sys" "$root/dev"
add_busybox "$root" sh mount insmod sleep dd sha256sum cat poweroff sync head dmesg grep
# ata_piix instead of AHCI's two modules; the rest of the chain as lib.sh has it.
DISK_MODULES=$(echo $DISK_MODULES | sed 's|drivers/ata/libahci drivers/ata/ahci|drivers/ata/ata_piix|')
add_disk_modules "$root" k686
cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin
. /disk-setup.sh
i=0
while [ ! -b /dev/sdb ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "LBVM-TEST: sda sectors $(cat /sys/block/sda/size)"
echo "LBVM-TEST: sdb sectors $(cat /sys/block/sdb/size)"
dmesg | grep -E 'ata[0-9]+(\.[0-9]+)?: ' | sed 's/^\[[^]]*\] /LBVM-TEST: dmesg /'
echo "LBVM-TEST: read $(dd if=/dev/sda bs=1M count=4 2>/dev/null | sha256sum)"
dd if=/dev/sda of=/dev/sda bs=1M count=4 seek=8 conv=fsync 2>/dev/null && echo "LBVM-TEST: wrote sda"
dd if=/dev/sda of=/dev/sdb bs=512 count=1 conv=fsync 2>/dev/null || echo "LBVM-TEST: sdb refused the write"
echo "LBVM-TEST: done"
poweroff -f
INIT
chmod +x "$root/init"
"$LBVM" mkinitramfs -o "$WORK/ide.cpio" "$root" || fail "mkinitramfs failed"
truncate -s 64M "$WORK/disk0.img"
head -c 4194304 /dev/urandom > "$WORK/pattern"
dd if="$WORK/pattern" of="$WORK/disk0.img" conv=notrunc status=none
truncate -s 16M "$WORK/disk1.img"
want=$(sha256sum < "$WORK/pattern" | cut -d' ' -f1)
cp "$WORK/disk0.img" "$WORK/base0.img" || fail "cannot copy the image"
run_lbvm ide boot --kernel "$KERNEL_686" --initrd "$WORK/ide.cpio" --console "$WORK/ide.console" --stats \
    --ide "$WORK/disk0.img" --ide "$WORK/disk1.img,ro" --limit "$LBVM_TEST_LIMIT"
c=$WORK/ide.console
[ "$RC" = 0 ] || fail "lbvm exited $RC" "$c" "$WORK/ide.err"
assert_not_contains "$c" "LBVM-TEST: error" "a module failed to load"
assert_contains "$c" "LBVM-TEST: sda sectors 131072" "the guest did not see a 64 MiB sda"
assert_contains "$c" "LBVM-TEST: sdb sectors 32768" "the guest did not see a 16 MiB sdb"
assert_contains "$c" "LBVM-TEST: dmesg ata1.00: ATA-" "libata did not identify the primary master"
assert_contains "$c" "MWDMA2" "libata did not configure multiword DMA"
assert_contains "$c" "LBVM-TEST: read $want" "what the guest read from sda is not what the host wrote"
assert_contains "$c" "LBVM-TEST: wrote sda" "the guest's write to sda failed"
assert_contains "$c" "LBVM-TEST: sdb refused the write" "the read-only disk accepted a write"
got=$(dd if="$WORK/disk0.img" bs=1M skip=8 count=4 status=none | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the image does not hold what the guest wrote at 8 MiB"
[ "$(sha256sum < "$WORK/disk1.img" | cut -d' ' -f1)" = "$(head -c 16777216 /dev/zero | sha256sum | cut -d' ' -f1)" ] \
    || fail "the read-only image changed"

# Checkpoints on IDE disks: the images become read-only bases with layers.
run_lbvm ckpt boot --kernel "$KERNEL_686" --initrd "$WORK/ide.cpio" --console "$WORK/ckpt.console" --stats \
    --ide "$WORK/base0.img" --ide "$WORK/disk1.img,ro" --limit "$LBVM_TEST_LIMIT" --checkpoint-dir "$WORK/ck" \
    --checkpoint-on 'LBVM-TEST: (sdb sectors|read )'
[ "$RC" = 0 ] || fail "ckpt: lbvm exited $RC" "$WORK/ckpt.console" "$WORK/ckpt.err"
same_stats ide ckpt "checkpoints on IDE disks changed the run"
cmp -s "$WORK/ide.console" "$WORK/ckpt.console" || fail "ckpt: the console differs from the straight run's"
cmp -s "$WORK/base0.img" "$WORK/disk0.img" && fail "ckpt: the straight run did not write its image"
first=$(ls "$WORK/ck"/ckpt-*.lbvm | sort | head -n1)
"$LBVM" inspect "$first" > "$WORK/inspect.out" 2>&1 || fail "lbvm inspect $first failed" "$WORK/inspect.out"
grep -q '^disk 1 .*read-only, IDE' "$WORK/inspect.out" || fail "inspect does not list the read-only IDE disk" "$WORK/inspect.out"
grep -q 'ide v1' "$WORK/inspect.out" || fail "the checkpoint has no ide section" "$WORK/inspect.out"
run_lbvm resumed resume "$first" --console "$WORK/resumed.console" --stats --limit "$LBVM_TEST_LIMIT"
[ "$RC" = 0 ] || fail "resumed: lbvm exited $RC" "$WORK/resumed.console" "$WORK/resumed.err"
same_stats ide resumed "the run resumed before the IDE read"
assert_contains "$WORK/resumed.console" "LBVM-TEST: read $want" "resumed: the guest read something else"
assert_contains "$WORK/resumed.console" "LBVM-TEST: wrote sda" "resumed: the write failed"

# An audit of a run with an AHCI disk and the IDE disks (disk 0 the AHCI one,
# which this guest has no driver for; disks 1 and 2 the IDE ones): the
# journal's boot line has disk= and ide=, the bundle holds three bases, and
# `lbvm verify` finds the run identical.
truncate -s 8M "$WORK/sata.img"
run_lbvm audit boot --kernel "$KERNEL_686" --initrd "$WORK/ide.cpio" --console "$WORK/audit.console" \
    --disk "$WORK/sata.img" --ide "$WORK/base0.img" --ide "$WORK/disk1.img,ro" --limit "$LBVM_TEST_LIMIT" \
    --checkpoint-dir "$WORK/ck-audit" --checkpoint-on 'LBVM-TEST: read ' --journal "$WORK/audit.journal"
[ "$RC" = 0 ] || fail "audit: lbvm exited $RC" "$WORK/audit.console" "$WORK/audit.err"
assert_contains "$WORK/audit.console" "LBVM-TEST: read $want" "audit: the guest read something else"
grep -q '^boot .* disk=[^ ]*sata.img ide=[^ ]*base0.img ide=[^ ]*disk1.img,ro' "$WORK/audit.journal" \
    || fail "audit: the journal's boot line does not record the disks in order" "$WORK/audit.journal"
run_lbvm bundle bundle "$WORK/audit.journal" --checkpoint-dir "$WORK/ck-audit" -o "$WORK/bundle"
[ "$RC" = 0 ] || fail "lbvm bundle exited $RC" "$WORK/bundle.err"
[ "$(grep -c '^base ' "$WORK/bundle/MANIFEST")" = 3 ] || fail "the bundle does not hold three bases" "$WORK/bundle/MANIFEST"
run_lbvm verify verify "$WORK/bundle" --jobs 1
[ "$RC" = 0 ] || fail "lbvm verify of the IDE run exited $RC" "$WORK/verify.out" "$WORK/verify.err"

# The host cannot write past 10 MiB of the image (as in test_ahci.sh): lbvm
# stops with one line naming the failed write, and the guest is told nothing.
cp "$WORK/pattern" "$WORK/disk0b.img" && truncate -s 64M "$WORK/disk0b.img" || fail "cannot make disk0b.img"
(ulimit -f 10240; trap '' XFSZ; exec "$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/ide.cpio" \
    --console "$WORK/full.console" --ide "$WORK/disk0b.img" --ide "$WORK/disk1.img,ro" --limit "$LBVM_TEST_LIMIT") \
    >"$WORK/full.out" 2>"$WORK/full.err"
RC=$?
c=$WORK/full.console
[ "$RC" = 1 ] || fail "full: lbvm exited $RC when the host could not write the image, expected 1" "$WORK/full.err" "$c"
[ "$(wc -l < "$WORK/full.err")" = 1 ] || fail "full: expected one line on stderr" "$WORK/full.err"
grep -qE '^lbvm: the host failed the guest.s disk I/O, .*IDE disk 0: cannot write [0-9]+ sectors at LBA [0-9]+: File too large$' "$WORK/full.err" \
    || fail "full: the line does not name the failed write and its cause" "$WORK/full.err"
assert_contains "$c" "LBVM-TEST: read $want" "full: the guest did not read sda before writing"
assert_not_contains "$c" "LBVM-TEST: wrote sda" "full: the guest's write completed although the host failed it"
assert_not_contains "$c" "I/O error" "full: the guest was told of the host's failure"
note "full: $(cat "$WORK/full.err")"
pass "ide: ata_piix finds both devices, DMA read, write, read-only; checkpoints and a resume end as the straight run; a host write failure stops the run without telling the guest"
