#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The PIIX3 IDE at register level, driven by our own Multiboot kernel
# (tests/boot/mb_ide.S, assembled here with binutils; no test inputs): a
# random image as primary master, another read-only as primary slave. The
# kernel prints the PCI identity and BAR4, IDENTIFY of both disks, sectors
# it read by PIO and by DMA (first and last 16 bytes, a hash), what it wrote
# by PIO and DMA, and the status registers after each command; every value
# is checked here against the host's own reading of the images (od), the
# status values against ATA/ATAPI-6 and SFF-8038i. The master image must end
# as the original plus exactly the kernel's writes, the slave unchanged. Two
# runs end identically; a run with a checkpoint after the PIO part, and a
# resume of it in a new process, end as the straight run (console, stats; the
# kernel reads its writes back), the resumed disk as the checkpointed run's
# (the journals' end points).
. "$(dirname "$0")/lib.sh"
need_lbvm
command -v as >/dev/null && command -v ld >/dev/null || fail "binutils (as, ld) are needed to assemble the kernel"
as --32 -I "$LBVM_SRC/tests/boot" -o "$WORK/mb_ide.o" "$LBVM_SRC/tests/boot/mb_ide.S" \
    && ld -m elf_i386 -Ttext 0x100000 -e entry -o "$WORK/mb_ide.elf" "$WORK/mb_ide.o" \
    || fail "cannot build the kernel"

# Odd sizes (not whole MiB): the sector counts come from the images.
d0=$WORK/orig0.img d1=$WORK/orig1.img
head -c $((8 * 1048576 + 3 * 512)) /dev/urandom > "$d0" && head -c $((2 * 1048576 + 5 * 512)) /dev/urandom > "$d1" \
    || fail "cannot make the images"
n0=$(( $(stat -c %s "$d0") / 512 ))
n1=$(( $(stat -c %s "$d1") / 512 ))
# Where the kernel reads and writes (apart: the reads never see the writes).
pio_rd=$((16 + RANDOM % 1000))
pio_wr=$((1100 + RANDOM % 900))
dma_rd=$((2100 + RANDOM % 1000))       # 24 + 128 + 2 + 4 + 2 sectors from there
dma_wr=$((3300 + RANDOM % 1000))
seed=$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')
args=$(printf 'pio-rd=%x pio-wr=%x dma-rd=%x dma-wr=%x seed=%x' $pio_rd $pio_wr $dma_rd $dma_wr "$seed")
note "$args"

# run NAME MASTER [LBVM ARGS...]: the kernel on MASTER and a copy of orig1 (ro).
run() {
    local name=$1 master=$2
    shift 2
    cp "$d1" "$WORK/$name.ro.img" || fail "cannot copy the read-only image"
    run_lbvm "$name" boot --kernel "$WORK/mb_ide.elf" --append "$args" --mem 64 --ide "$master" \
        --ide "$WORK/$name.ro.img,ro" --console "$WORK/$name.console" --stats --limit 10 "$@"
    [ "$RC" = 0 ] || fail "$name: lbvm exited $RC, expected 0 (the kernel halts)" "$WORK/$name.console" "$WORK/$name.err"
    cmp -s "$d1" "$WORK/$name.ro.img" || fail "$name: the read-only image changed"
}
cp "$d0" "$WORK/a.img" || fail "cannot copy the image"
run a "$WORK/a.img"
c=$WORK/a.console
has() { assert_contains "$c" "$1" "$2"; }
assert_not_contains "$c" "MB-IDE: error" "the kernel stopped early"
has "MB-IDE: done" "the kernel did not finish"

# --- host side -------------------------------------------------------------
# hexat FILE OFFSET N: N bytes as upper-case hex
hexat() { od -An -tx1 -v -j "$2" -N "$3" "$1" | tr -d ' \n' | tr a-f A-F; }
# hash FILE OFFSET LEN: h = h * 31 + dword (little-endian, mod 2^32), as the kernel
hash() {
    local h=0 w
    for w in $(od -An -tu4 -v -j "$2" -N "$3" "$1"); do h=$(( (h * 31 + w) & 0xffffffff )); done
    printf '%08X' "$h"
}
# sector_line PREFIX FILE LBA: what the kernel prints for a sector it read
sector_line() {
    local o=$(($3 * 512))
    printf 'MB-IDE: %s %08X %s %s %s' "$1" "$3" "$(hexat "$2" $o 16)" "$(hexat "$2" $((o + 496)) 16)" "$(hash "$2" $o 512)"
}
# pattern SEED LBA COUNT: what the kernel writes (dword i of sector L: seed + L * 0x10001 + i * 0x01000193)
pattern() {
    local s l i w base out x
    for ((s = 0; s < $3; s++)); do
        l=$(($2 + s))
        base=$(( ($1 + l * 0x10001) & 0xffffffff ))
        out=
        for ((i = 0; i < 128; i++)); do
            w=$(( (base + i * 0x01000193) & 0xffffffff ))
            printf -v x '\\x%02x\\x%02x\\x%02x\\x%02x' $((w & 255)) $((w >> 8 & 255)) $((w >> 16 & 255)) $((w >> 24))
            out+=$x
        done
        printf '%b' "$out"
    done
}
hdr() { sed -n "s/^#define $1 *\(0x[0-9a-fA-F]*\).*/\1/p" "$LBVM_SRC/devices/ide.h"; }

# PCI: identity and BAR4 as devices/ide.h declares them; the command register
# with I/O and Bus Master the kernel set (no memory BAR: Memory stays clear).
has "$(printf 'MB-IDE: pci id %04X%04X class %06X00 bar4 %08X command 0005' \
    $(( $(hdr IDE_DEVICE_ID) )) $(( $(hdr IDE_VENDOR_ID) )) $(( $(hdr IDE_CLASS) )) $(( $(hdr IDE_BMIBA) | 1 )))" \
    "PCI identity, BAR4 or command register"
# IDENTIFY: words 60-61 and 100-103 are the images' sector counts.
for n in 0 1; do
    eval "sz=\$n$n"
    has "$(printf "MB-IDE: identify %d model '%-40s' lba28 %08X lba48 %016X status 50" $n "lbvm IDE disk" $sz $sz)" \
        "IDENTIFY of device $n"
done
# PIO reads: the sectors as the image has them; BSY and DRQ clear afterwards.
for ((l = pio_rd; l < pio_rd + 3; l++)); do has "$(sector_line pio-read "$d0" $l)" "PIO read of sector $l"; done
has "MB-IDE: pio-read end status 50" "the status after the PIO read"
# PIO and DMA writes: the kernel's hashes of what it sent, the pattern we expect.
pattern "$seed" $pio_wr 2 > "$WORK/pio.pat"
pattern $(( seed ^ 0xa5a5a5a5 )) $dma_wr 8 > "$WORK/dma.pat"
[ "$(stat -c %s "$WORK/pio.pat")" = 1024 ] && [ "$(stat -c %s "$WORK/dma.pat")" = 4096 ] || fail "cannot make the patterns"
for s in 0 1; do has "$(printf 'MB-IDE: pio-write %08X %s' $((pio_wr + s)) "$(hash "$WORK/pio.pat" $((s * 512)) 512)")" "PIO write of sector $s"; done
has "MB-IDE: pio-write end status 50" "the status after the PIO write"
for s in 0 1 2 3 4 5 6 7; do has "$(printf 'MB-IDE: dma-write %08X %s' $((dma_wr + s)) "$(hash "$WORK/dma.pat" $((s * 512)) 512)")" "DMA write of sector $s"; done
# The master image is the original plus exactly those two writes.
cp "$d0" "$WORK/want.img" && dd if="$WORK/pio.pat" of="$WORK/want.img" bs=512 seek=$pio_wr conv=notrunc status=none \
    && dd if="$WORK/dma.pat" of="$WORK/want.img" bs=512 seek=$dma_wr conv=notrunc status=none || fail "cannot build the expected image"
assert_same_file "$WORK/a.img" "$WORK/want.img" "the image after the run is not the original plus the kernel's writes"

# READ SECTORS of the last sector and one past it: ERR, BSY and DRQ clear,
# DRDY set; the error register IDNF or ABRT (ATA/ATAPI-6 8.27: IDNF for an
# address outside the user-accessible range, else ABRT). lbvm sets both.
line=$(grep -a '^MB-IDE: past-end ' "$c" | tr -d '\r')
[ "${line% error *}" = "$(printf 'MB-IDE: past-end lba %08X' $((n0 - 1)))" ] || fail "past-end: the kernel read at another LBA: $line"
err=$((16#$(echo "$line" | sed -n 's/.* error \([0-9A-F]*\) .*/\1/p')))
st=$((16#$(echo "$line" | sed -n 's/.* status \([0-9A-F]*\)$/\1/p')))
(( (st & 0x01) && !(st & 0x88) && (st & 0x40) )) || fail "past-end: status $(printf %02X $st) is not DRDY+ERR without BSY/DRQ"
(( err & 0x14 )) || fail "past-end: error register $(printf %02X $err) has neither IDNF nor ABRT"
note "past-end: status $(printf %02X $st), error $(printf %02X $err)"

# DMA. "irr" is the slave PIC's IRQ 14 request before the interrupt is taken,
# "bm" the bus master's status then (SFF-8038i table 1: Interrupt without
# Active = the PRDs were exactly the transfer; with Active = they were larger;
# neither, and no Error = they were smaller), "alt" the alternate status,
# "irq" the interrupts taken once IF is set and "status" what the handler
# read (FF: none), "stopped" after the start bit is cleared, "cleared" after
# Interrupt and Error are written 1, "error" the error register.
ok_end="irr 40 bm 04 alt 50 irq 01 status 50 stopped 04 cleared 00 error 00"
has "MB-IDE: dma-read end $ok_end" "the 3-entry READ DMA's completion"
for ((l = dma_rd; l < dma_rd + 24; l++)); do has "$(sector_line dma-read "$d0" $l)" "DMA read of sector $l"; done
has "MB-IDE: dma-64k end $ok_end" "the 64 KiB READ DMA's completion"
has "$(printf 'MB-IDE: dma-64k %08X %s' $((dma_rd + 24)) "$(hash "$d0" $(( (dma_rd + 24) * 512 )) 65536)")" "the 64 KiB READ DMA's data"
has "MB-IDE: dma-over end irr 40 bm 05 alt 50 irq 01 status 50 stopped 04 cleared 00 error 00" "READ DMA into a larger PRD"
for l in $((dma_rd + 152)) $((dma_rd + 153)); do has "$(sector_line dma-over "$d0" $l)" "DMA read of sector $l (larger PRD)"; done
# PRDs smaller: no interrupt, no Error, the device idle without ERR (as QEMU).
has "MB-IDE: dma-short end irr 00 bm 00 alt 50 irq 00 status FF stopped 00 cleared 00 error 00" "READ DMA into a smaller PRD"
# Bus Master clear: started, waiting with DRQ and Active, no interrupt; then runs.
has "MB-IDE: dma-nomaster wait irr 00 bm 01 alt 58" "READ DMA without Bus Master did not wait"
has "MB-IDE: dma-nomaster end $ok_end" "READ DMA once Bus Master was set"
for l in $((dma_rd + 158)) $((dma_rd + 159)); do has "$(sector_line dma-nomaster "$d0" $l)" "DMA read of sector $l (after Bus Master)"; done
has "MB-IDE: dma-write end $ok_end" "the 3-entry WRITE DMA's completion"
# Read back by DMA: the disk holds what the writes sent (in the resumed run
# below too, whose disk is an overlay).
[ "$(grep -c "^MB-IDE: readback end $ok_end" "$c")" = 2 ] || fail "the read-back READ DMAs' completion" "$c"
for s in 0 1; do has "$(printf 'MB-IDE: readback %08X %s' $((pio_wr + s)) "$(hash "$WORK/pio.pat" $((s * 512)) 512)")" "read-back of PIO sector $s"; done
for s in 0 1 2 3 4 5 6 7; do has "$(printf 'MB-IDE: readback %08X %s' $((dma_wr + s)) "$(hash "$WORK/dma.pat" $((s * 512)) 512)")" "read-back of DMA sector $s"; done
# WRITE DMA to the read-only slave: aborted before any data (ABRT, with an
# interrupt); the engine, started after, stays Active (table 1: Interrupt and
# Active, PRDs not used up) until stopped.
has "MB-IDE: ro-write end irr 40 bm 05 alt 51 irq 01 status 51 stopped 04 cleared 00 error 04" "WRITE DMA to the read-only slave"
# Nothing printed that was not checked above.
[ "$(grep -c '^MB-IDE: ' "$c")" = $((1 + 2 + 4 + 3 + 1 + 1 + 25 + 2 + 3 + 1 + 4 + 9 + 12 + 1 + 1)) ] \
    || fail "the kernel printed $(grep -c '^MB-IDE: ' "$c") lines, not the ones checked" "$c"

# --- the same run again, with a checkpoint, and resumed ----------------------
end_disk() { grep "^point [0-9]* end " "$WORK/$1.journal" | tail -n1 | grep -o ' disk0=[0-9a-f]*'; }
cp "$d0" "$WORK/b.img" || fail "cannot copy the image"
run b "$WORK/b.img"
assert_same_file "$WORK/a.console" "$WORK/b.console" "two runs printed differently"
same_stats a b "two runs"
assert_same_file "$WORK/a.img" "$WORK/b.img" "two runs wrote differently"
cp "$d0" "$WORK/base.img" || fail "cannot copy the image"
run ckpt "$WORK/base.img" --checkpoint-dir "$WORK/ck" --checkpoint-on 'MB-IDE: after-pio' --journal "$WORK/ckpt.journal"
assert_same_file "$WORK/a.console" "$WORK/ckpt.console" "the run with a checkpoint printed differently"
same_stats a ckpt "the run with a checkpoint"
cmp -s "$d0" "$WORK/base.img" || fail "ckpt: the base image was written (the writes belong in the layers)"
first=$(ckpts_of ckpt | awk '$3 != "" { print $1; exit }')
[ -n "$first" ] && [ -f "$first" ] || fail "no checkpoint after 'MB-IDE: after-pio'" "$WORK/ckpt.err"
# The resume continues a copy of the run's journal from the checkpoint's point.
cp "$WORK/ckpt.journal" "$WORK/resumed.journal" || fail "cannot copy the journal"
run_lbvm resumed resume "$first" --console "$WORK/resumed.console" --stats --limit 10 --journal "$WORK/resumed.journal"
check_resumed resumed "$first" a
assert_contains "$WORK/resumed.console" "MB-IDE: dma-read end $ok_end" "resumed: the DMA part did not run"
# An overlay's content digest (base, then the blocks written) is not a raw
# image's, so the resumed disk is compared with the checkpointed run's: the
# same points (state, RAM, console, disks, events) to the end.
[ -n "$(end_disk ckpt)" ] && [ "$(end_disk resumed)" = "$(end_disk ckpt)" ] \
    || fail "resumed: the disk ended as '$(end_disk resumed)', the checkpointed run's as '$(end_disk ckpt)'"
same_points "$WORK/ckpt.journal" "$WORK/resumed.journal" "the resumed run's journal"
pass "IDENTIFY, PIO and DMA reads and writes, errors, Bus Master, the read-only slave; two runs, a checkpoint and a resume end alike"
