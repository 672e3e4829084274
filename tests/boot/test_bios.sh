#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# lbvm's BIOS: `lbvm boot --disk FILE` without --kernel powers on from the
# disk's boot sector. Our own boot disk (tests/boot/bios_sector.S, assembled
# here with binutils) loads its sectors 1-3 with int 13h AH=42h, then uses
# each service and prints what it got; the host checks every line, that the
# guest's int 13h write reached the image, that the run ends at the reset
# vector (exit 3), and that two runs are identical. Then bad boot disks.
. "$(dirname "$0")/lib.sh"
need_lbvm
command -v as >/dev/null && command -v ld >/dev/null || fail "binutils (as, ld) are needed to assemble the boot sector"
as --32 -o "$WORK/bs.o" "$LBVM_SRC/tests/boot/bios_sector.S" || fail "cannot assemble bios_sector.S"
ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$WORK/bs.bin" "$WORK/bs.o" || fail "cannot link bios_sector.S"
[ "$(stat -c %s "$WORK/bs.bin")" = 2048 ] || fail "the boot disk code is not 4 sectors"
make_disk() {
    truncate -s 8M "$1"
    dd if="$WORK/bs.bin" of="$1" conv=notrunc status=none
    printf 'marker at lba thirty-two' | dd of="$1" bs=512 seek=32 conv=notrunc status=none
}
make_disk "$WORK/a.img"
run_lbvm a boot --disk "$WORK/a.img" --mem 64 --console "$WORK/a.console" --stats --limit 20
c=$WORK/a.console
[ "$RC" = 3 ] || fail "lbvm exited $RC, expected 3 (the boot sector ends with a jump to the reset vector)" "$c" "$WORK/a.err"
assert_contains "$WORK/a.err" "the guest asked for a reset" "no reset reported"
for want in \
    "BIOS-TEST: hello from the boot sector" \
    "BIOS-TEST: sectors 1-3 loaded" \
    "BIOS-TEST: boot drive 80" \
    "BIOS-TEST: edd version 30 0001" \
    "BIOS-TEST: chs params 0F3F 0F01" \
    "BIOS-TEST: sectors 00004000" \
    "BIOS-TEST: lba 32 says marker at lba thirty-two" \
    "BIOS-TEST: chs read matches" \
    "BIOS-TEST: read back written by the guest at lba 40" \
    "BIOS-TEST: read past the end refused, status 01" \
    "BIOS-TEST: e820 0000000000000000 000000000009FC00 01" \
    "BIOS-TEST: e820 000000000009FC00 0000000000000400 02" \
    "BIOS-TEST: e820 00000000000F0000 0000000000010000 02" \
    "BIOS-TEST: e820 0000000000100000 0000000003F00000 01" \
    "BIOS-TEST: e820 00000000FFFC0000 0000000000040000 02" \
    "BIOS-TEST: a20 status 01" \
    "BIOS-TEST: a20 enabled" \
    "BIOS-TEST: a20 support 0002" \
    "BIOS-TEST: base memory kib 027F" \
    "BIOS-TEST: equipment 0222" \
    "BIOS-TEST: timer ticked" \
    "BIOS-TEST: done"; do
    assert_contains "$c" "$want" "a BIOS service answered differently"
done
[ "$(grep -c 'BIOS-TEST: e820' "$c")" = 5 ] || fail "the E820 map does not have 5 entries" "$c"
assert_not_contains "$c" "failed" "the boot disk reported a failure"
[ "$(dd if="$WORK/a.img" bs=512 skip=40 count=1 status=none | head -c 30)" = "written by the guest at lba 40" ] \
    || fail "the guest's int 13h AH=43h write did not reach the image"

# The same run again: same console, same ticks, same RAM.
make_disk "$WORK/b.img"
run_lbvm b boot --disk "$WORK/b.img" --mem 64 --console "$WORK/b.console" --stats --limit 20
[ "$RC" = 3 ] || fail "second run: lbvm exited $RC" "$WORK/b.console" "$WORK/b.err"
assert_same_file "$WORK/a.console" "$WORK/b.console" "two BIOS boots printed differently"
[ "$(stats_of a)" = "$(stats_of b)" ] || fail "two BIOS boots differ: $(stats_of a | tr '\n' ' ') / $(stats_of b | tr '\n' ' ')"

# A checkpoint in the middle (after the first disk read), resumed: the
# resumed run's BIOS still has its disk, and ends as the uninterrupted one;
# the journal verifies.
make_disk "$WORK/ck.img"
run_lbvm ck boot --disk "$WORK/ck.img" --mem 64 --console "$WORK/ck.console" --stats --limit 20 \
    --checkpoint-dir "$WORK/ckdir" --checkpoint-on "lba 32 says" --journal "$WORK/ck.journal"
[ "$RC" = 3 ] || fail "checkpointed run: lbvm exited $RC" "$WORK/ck.console" "$WORK/ck.err"
[ "$(stats_of ck)" = "$(stats_of a)" ] || fail "a checkpointed BIOS boot ends differently from a plain one"
ck1=$(ckpts_of ck | head -n1 | cut -d' ' -f1)
[ -n "$ck1" ] || fail "no checkpoint at the marker line" "$WORK/ck.err"
run_lbvm res resume "$ck1" --console "$WORK/res.console" --stats
[ "$RC" = 3 ] || fail "resumed run: lbvm exited $RC" "$WORK/res.console" "$WORK/res.err"
assert_contains "$WORK/res.console" "BIOS-TEST: read back written by the guest at lba 40" "the resumed BIOS lost its disk"
[ "$(stats_of res)" = "$(stats_of a)" ] || fail "the resumed BIOS boot ends differently: $(stats_of res | tr '\n' ' ')"
run_lbvm ver verify "$WORK/ck.journal"
[ "$RC" = 0 ] || fail "lbvm verify of a BIOS boot's journal exited $RC" "$WORK/ver.out" "$WORK/ver.err"
assert_contains "$WORK/ver.out" "identical" "verify did not find the runs identical"

# 1 GiB too: E820 follows --mem.
make_disk "$WORK/c.img"
run_lbvm c boot --disk "$WORK/c.img" --mem 1024 --console "$WORK/c.console" --limit 20
assert_contains "$WORK/c.console" "BIOS-TEST: e820 0000000000100000 000000003FF00000 01" "E820 does not follow --mem 1024"

# The same disk as IDE primary master (--ide): drive 0x80 is the first IDE disk.
make_disk "$WORK/ide.img"
run_lbvm ide boot --ide "$WORK/ide.img" --mem 64 --console "$WORK/ide.console" --stats --limit 20
[ "$RC" = 3 ] || fail "--ide: lbvm exited $RC" "$WORK/ide.console" "$WORK/ide.err"
assert_same_file "$WORK/a.console" "$WORK/ide.console" "a BIOS boot from --ide printed differently"
[ "$(dd if="$WORK/ide.img" bs=512 skip=40 count=1 status=none | head -c 30)" = "written by the guest at lba 40" ] \
    || fail "the guest's write did not reach the --ide image"

# 4 GiB: low RAM ends at 3 GiB, the rest is listed from 4 GiB.
make_disk "$WORK/big.img"
run_lbvm big boot --disk "$WORK/big.img" --mem 4096 --console "$WORK/big.console" --limit 20
assert_contains "$WORK/big.console" "BIOS-TEST: e820 0000000000100000 00000000BFF00000 01" "E820 low RAM at --mem 4096"
assert_contains "$WORK/big.console" "BIOS-TEST: e820 0000000100000000 0000000040000000 01" "E820 high RAM at --mem 4096"

# Bad boot disks: one line each, exit 1.
truncate -s 1M "$WORK/blank.img"
run_lbvm blank boot --disk "$WORK/blank.img" --mem 64 --limit 5
[ "$RC" = 1 ] || fail "a disk without a boot signature: exit $RC, expected 1" "$WORK/blank.err"
assert_contains "$WORK/blank.err" "not a bootable disk: sector 0 does not end with the 55 AA signature" "no clear reason"
[ "$(wc -l < "$WORK/blank.err")" = 1 ] || fail "more than one line for a bad boot disk" "$WORK/blank.err"
run_lbvm noboot boot --mem 64 --limit 5
[ "$RC" = 1 ] || fail "boot with neither --kernel nor --disk: exit $RC, expected 1" "$WORK/noboot.err"
run_lbvm initrd boot --disk "$WORK/a.img" --initrd "$WORK/a.img" --mem 64 --limit 5
[ "$RC" = 1 ] || fail "--initrd without --kernel: exit $RC, expected 1" "$WORK/initrd.err"
pass "every BIOS service answered; two runs identical"
