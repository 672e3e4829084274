#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The audit bundle (docs/audit.md) of runs without a Linux kernel, with no
# download: our own boot sector and Multiboot kernel, assembled here.
# 1. A BIOS boot (no --kernel): tests/boot/bios_sector.S on the IDE primary
#    master, a blank data disk on AHCI port 0, checkpoints on a console line
#    and every 16 M ticks, a journal. `lbvm verify JOURNAL` passes; `lbvm
#    bundle` carries no input and both bases; copied elsewhere with the run's
#    files moved away, `lbvm verify BUNDLE --jobs 2` is identical (segment 1
#    powers on through the BIOS from the bundle's bases, AHCI then IDE, as
#    recorded), and so is `--segment 1`. One byte of the bundled boot disk
#    changed: refused with one line, by the whole audit and by segment 1 alone.
# 2. A Multiboot boot (tests/boot/mb_kernel.S) with --initrd and --module
#    FILE,CMDLINE, a checkpoint on 'MB-TEST: modules': the journal records the
#    module's SHA-256; the bundle carries kernel, initrd and module; with the
#    run's files moved away it verifies (the guest sees the recorded paths and
#    command lines, not the bundle's). Refused with one line: the bundled
#    module altered (verify); the module changed after the run (lbvm bundle);
#    a journal without module-sha256 (lbvm bundle; lbvm verify JOURNAL still
#    re-runs it).
. "$(dirname "$0")/lib.sh"
need_lbvm
command -v as >/dev/null && command -v ld >/dev/null || fail "binutils (as, ld) are needed to assemble the test guests"

flip() {   # FILE OFFSET: one byte of FILE changed (bits inverted)
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# refused NAME PATTERN WHAT: the run NAME exited 1 with one line on stderr
# matching PATTERN, nothing on stdout.
refused() {
    [ "$RC" = 1 ] || fail "$3: exit $RC, expected 1" "$WORK/$1.out" "$WORK/$1.err"
    [ "$(wc -l < "$WORK/$1.err")" = 1 ] || fail "$3: not one line" "$WORK/$1.err"
    grep -qE -- "$2" "$WORK/$1.err" || fail "$3: no line matching '$2'" "$WORK/$1.err"
    [ -s "$WORK/$1.out" ] && fail "$3: something was printed on stdout" "$WORK/$1.out"
    note "$3: $(cat "$WORK/$1.err")"
}
last_ticks() { grep '^point ' "$1" | tail -n1 | cut -d' ' -f2; }

# --- 1. a BIOS boot ---------------------------------------------------------------
as --32 -o "$WORK/bs.o" "$LBVM_SRC/tests/boot/bios_sector.S" \
    && ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$WORK/bs.bin" "$WORK/bs.o" || fail "cannot build the boot sector"
mkdir -p "$WORK/run"
cd "$WORK/run" || fail "no run folder"
truncate -s 8M boot.img
dd if="$WORK/bs.bin" of=boot.img conv=notrunc status=none
printf 'marker at lba thirty-two' | dd of=boot.img bs=512 seek=32 conv=notrunc status=none
truncate -s 1M data.img
run_lbvm bios boot --ide boot.img --disk data.img --mem 64 --console "$WORK/bios.console" --limit 20 \
    --checkpoint-dir ck --checkpoint-every 16M --checkpoint-on 'lba 32 says' --journal bios.journal
[ "$RC" = 3 ] || fail "the BIOS run exited $RC, expected 3 (its boot sector ends at the reset vector)" \
    "$WORK/bios.console" "$WORK/bios.err"
assert_contains "$WORK/bios.console" "BIOS-TEST: done" "the boot sector did not finish"
grep -q '^boot .* disk=data.img ide=boot.img$' bios.journal || fail "the boot line is not the BIOS boot's" bios.journal
grep -q '^boot .*kernel' bios.journal && fail "a BIOS boot's journal names a kernel" bios.journal
run_lbvm vj verify bios.journal
[ "$RC" = 0 ] || fail "lbvm verify JOURNAL of the BIOS boot exited $RC" "$WORK/vj.out" "$WORK/vj.err"
assert_contains "$WORK/vj.out" "identical: " "lbvm verify JOURNAL of a BIOS boot"

run_lbvm bb bundle bios.journal --checkpoint-dir ck -o "$WORK/made"
[ "$RC" = 0 ] || fail "lbvm bundle of a BIOS boot exited $RC" "$WORK/bb.out" "$WORK/bb.err"
assert_contains "$WORK/bb.out" "no kernel (a BIOS boot), 0 modules" "lbvm bundle's summary"
M=$WORK/made/MANIFEST
grep -qE '^(kernel|initrd|module) ' "$M" && fail "a BIOS boot's bundle carries inputs" "$M"
[ "$(ls "$WORK/made/inputs" | wc -l)" = 0 ] || fail "a BIOS boot's bundle has files in inputs/" "$M"
data_digest=$(awk '$1 == "base" && $5 == "disk=0" { print $2 }' "$M")
boot_base=$(awk '$1 == "base" && $5 == "disk=1" { print $4 }' "$M")
[ -n "$data_digest" ] && [ -n "$boot_base" ] || fail "the bundle lacks a base for the AHCI disk (0) or the IDE disk (1)" "$M"
cmp -s "$WORK/made/$boot_base" boot.img || fail "the IDE base in the bundle is not the boot disk" "$M"
nseg=$(grep -c '^segment ' "$M")
[ "$nseg" -ge 4 ] || fail "the BIOS bundle has $nseg segments, expected 4 or more" "$M"
grep -q '^layer ' "$M" || fail "the BIOS bundle has no disk layer (the guest wrote LBA 40)" "$M"
mkdir -p "$WORK/elsewhere"
cp -a "$WORK/made" "$WORK/elsewhere/bios" || fail "cannot copy the bundle"
B=$WORK/elsewhere/bios
mv "$WORK/run" "$WORK/run.away" || fail "cannot move the run away"
run_lbvm vb verify "$B" --jobs 2
[ "$RC" = 0 ] || fail "lbvm verify of the BIOS bundle exited $RC" "$WORK/vb.out" "$WORK/vb.err"
assert_eq "$(cat "$WORK/vb.out")" "identical: $nseg segments, $(grep -c '^point ' "$B/journal") points compared, last at \
$(last_ticks "$B/journal") ticks; journal SHA-256 $(sha256sum < "$B/journal" | cut -d' ' -f1)" "the BIOS bundle's verdict"
run_lbvm vb1 verify "$B" --segment 1
[ "$RC" = 0 ] || fail "--segment 1 of the BIOS bundle exited $RC" "$WORK/vb1.out" "$WORK/vb1.err"
assert_contains "$WORK/vb1.out" "segment 1 identical: the boot to point 1 (" "segment 1 of the BIOS bundle"
note "BIOS boot: $(cat "$WORK/vb.out")"

cp -a "$B" "$WORK/altbase"
flip "$WORK/altbase/$boot_base" 100
run_lbvm altbase verify "$WORK/altbase" --jobs 2
refused altbase "^lbvm: .*: segment 1: base $boot_base is altered \(content digest [0-9a-f]{64}, the MANIFEST says [0-9a-f]{64}\)$" \
    "a byte of the bundled boot disk"
run_lbvm altbase1 verify "$WORK/altbase" --segment 1
refused altbase1 "^lbvm: .*: segment 1: base $boot_base is not the one the MANIFEST records \(content digest\)$" \
    "a byte of the bundled boot disk, segment 1 alone"
mv "$WORK/run.away" "$WORK/run"

# --- 2. a Multiboot boot with modules ---------------------------------------------------
inc=$LBVM_SRC/tests/boot
as --32 -I "$inc" -o "$WORK/mb.o" "$inc/mb_kernel.S" \
    && ld -m elf_i386 -Ttext 0x100000 -e entry -o "$WORK/run/mb.elf" "$WORK/mb.o" || fail "cannot build the Multiboot kernel"
printf 'first module says hello\nsecond line' > m1
printf 'module two' > m2
MB=(--kernel mb.elf --initrd m1 --module "m2,arg=1 x" --append "a b=c" --mem 128 --limit 5)
run_lbvm mb boot "${MB[@]}" --console "$WORK/mb.console" --checkpoint-dir mck --checkpoint-on 'MB-TEST: modules' \
    --journal mb.journal
[ "$RC" = 0 ] || fail "the Multiboot run exited $RC" "$WORK/mb.console" "$WORK/mb.err"
assert_contains "$WORK/mb.console" "MB-TEST: module m2 arg=1 x 0000000A page-aligned module two" "the module's string"
grep -q "^boot .* module=m2,arg%3d1%20x module-sha256=$(sha256sum < m2 | cut -d' ' -f1)$" mb.journal \
    || fail "the boot line does not record the module with its SHA-256" mb.journal
run_lbvm vmj verify mb.journal
[ "$RC" = 0 ] || fail "lbvm verify JOURNAL of the Multiboot run exited $RC" "$WORK/vmj.out" "$WORK/vmj.err"
run_lbvm mbb bundle mb.journal --checkpoint-dir mck -o "$WORK/mbmade"
[ "$RC" = 0 ] || fail "lbvm bundle of the Multiboot run exited $RC" "$WORK/mbb.out" "$WORK/mbb.err"
M=$WORK/mbmade/MANIFEST
for f in kernel:mb.elf initrd:m1 module:m2; do
    grep -q "^${f%%:*} $(sha256sum < "${f#*:}" | cut -d' ' -f1) $(stat -c %s "${f#*:}") inputs/[0-9a-f]*" "$M" \
        || fail "the MANIFEST has no ${f%%:*} line for ${f#*:}" "$M"
done
grep -q '^module .* index=0$' "$M" || fail "the module line has no index=0" "$M"
[ "$(grep -c '^segment ' "$M")" = 2 ] || fail "the Multiboot bundle does not have 2 segments" "$M"
cp -a "$WORK/mbmade" "$WORK/elsewhere/mb" || fail "cannot copy the bundle"
B=$WORK/elsewhere/mb
mkdir "$WORK/away" && mv mb.elf m1 m2 "$WORK/away/" || fail "cannot move the inputs away"
run_lbvm vmb verify "$B" --jobs 2
[ "$RC" = 0 ] || fail "lbvm verify of the Multiboot bundle exited $RC" "$WORK/vmb.out" "$WORK/vmb.err"
assert_eq "$(cat "$WORK/vmb.out")" "identical: 2 segments, 2 points compared, last at $(last_ticks "$B/journal") ticks; \
journal SHA-256 $(sha256sum < "$B/journal" | cut -d' ' -f1)" "the Multiboot bundle's verdict"
note "Multiboot with a module: $(cat "$WORK/vmb.out")"
mv "$WORK"/away/* . || fail "cannot move the inputs back"

mod=$(awk '$1 == "module" { print $4 }' "$M")
cp -a "$B" "$WORK/altmod"
flip "$WORK/altmod/$mod" 3
run_lbvm altmod verify "$WORK/altmod" --jobs 2
refused altmod "^lbvm: .*: segment 1: module $mod is altered \(SHA-256 [0-9a-f]{64}, the MANIFEST says [0-9a-f]{64}\)$" \
    "a byte of the bundled module"

printf 'module 2!!' > m2
run_lbvm chmod bundle mb.journal --checkpoint-dir mck -o "$WORK/chmod"
refused chmod "^lbvm: bundle: $WORK/run/m2 changed since the run: it is not the module the journal's boot line recorded$" \
    "the module changed after the run"
printf 'module two' > m2

sed 's/ module-sha256=[0-9a-f]*//' mb.journal > old.journal
run_lbvm old bundle old.journal --checkpoint-dir mck -o "$WORK/old"
refused old "^lbvm: bundle: old.journal: the boot line names module m2 without its SHA-256 \(no valid module-sha256=, as in journals of lbvm before module digests\)" \
    "a journal from before module digests"
run_lbvm vold verify old.journal
[ "$RC" = 0 ] || fail "lbvm verify JOURNAL of a journal without module-sha256 exited $RC" "$WORK/vold.out" "$WORK/vold.err"
pass "a BIOS boot's bundle ($nseg segments) and a Multiboot one with a module verify elsewhere; 5 refusals, one line each"
