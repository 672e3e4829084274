#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Multiboot 1 kernels through `lbvm boot --kernel`: our own kernel
# (tests/boot/mb_kernel.S, assembled here with binutils) as ELF and as a flat
# binary with the a.out kludge; it prints over COM1 the magic in EAX, the info
# block, the memory map and both modules' strings and contents (--initrd
# first, then --module FILE,CMDLINE). Then bad kernels: one line, exit 1.
. "$(dirname "$0")/lib.sh"
need_lbvm
command -v as >/dev/null && command -v ld >/dev/null || fail "binutils (as, ld) are needed to assemble the kernel"
src=$LBVM_SRC/tests/boot/mb_kernel.S
inc=$LBVM_SRC/tests/boot
as --32 -I "$inc" -o "$WORK/mb.o" "$src" && ld -m elf_i386 -Ttext 0x100000 -e entry -o "$WORK/mb.elf" "$WORK/mb.o" \
    || fail "cannot build the ELF kernel"
as --32 -I "$inc" --defsym AOUT=1 -o "$WORK/mba.o" "$src" && ld -m elf_i386 -Ttext 0x100000 --oformat binary -o "$WORK/mb.aout" "$WORK/mba.o" \
    || fail "cannot build the a.out-kludge kernel"
printf 'first module says hello\nsecond line' > "$WORK/m1"
printf 'module two' > "$WORK/m2"
for k in elf aout; do
    run_lbvm $k boot --kernel "$WORK/mb.$k" --initrd "$WORK/m1" --module "$WORK/m2,arg=1 x" --append "a b=c" \
        --mem 128 --console "$WORK/$k.console" --stats --limit 5
    c=$WORK/$k.console
    [ "$RC" = 0 ] || fail "$k: lbvm exited $RC, expected 0 (the kernel halts)" "$c" "$WORK/$k.err"
    for want in \
        "MB-TEST: magic 2BADB002" \
        "MB-TEST: info flags 0000024F" \
        "MB-TEST: mem lower/upper 0000027F 0001FC00" \
        "MB-TEST: cmdline $WORK/mb.$k a b=c" \
        "MB-TEST: loader lbvm" \
        "MB-TEST: mmap 0000000000000000 000000000009FC00 00000001" \
        "MB-TEST: mmap 000000000009FC00 0000000000000400 00000002" \
        "MB-TEST: mmap 00000000000F0000 0000000000010000 00000002" \
        "MB-TEST: mmap 0000000000100000 0000000007F00000 00000001" \
        "MB-TEST: modules 00000002" \
        "MB-TEST: module $WORK/m1 00000023 page-aligned first module says hello" \
        "MB-TEST: module $WORK/m2 arg=1 x 0000000A page-aligned module two" \
        "MB-TEST: done"; do
        assert_contains "$c" "$want" "$k: the kernel saw something else"
    done
    [ "$(grep -c 'MB-TEST: mmap' "$c")" = 4 ] || fail "$k: the memory map does not have 4 entries" "$c"
done
# The same boot twice: identical.
run_lbvm elf2 boot --kernel "$WORK/mb.elf" --initrd "$WORK/m1" --module "$WORK/m2,arg=1 x" --append "a b=c" \
    --mem 128 --console "$WORK/elf2.console" --stats --limit 5
assert_same_file "$WORK/elf.console" "$WORK/elf2.console" "two Multiboot boots printed differently"
[ "$(stats_of elf)" = "$(stats_of elf2)" ] || fail "two Multiboot boots differ"

# Bad kernels: a broken checksum, an unknown required flag, a load address
# outside RAM, a truncated ELF; and --module with a bzImage-less file.
bad() {  # NAME EXPECTED-TEXT
    run_lbvm "$1" boot --kernel "$WORK/$1" --mem 64 --limit 5
    [ "$RC" = 1 ] || fail "$1: exit $RC, expected 1" "$WORK/$1.err"
    [ "$(wc -l < "$WORK/$1.err")" = 1 ] || fail "$1: more than one line" "$WORK/$1.err"
    assert_contains "$WORK/$1.err" "$2" "$1: not the expected reason"
}
cp "$WORK/mb.aout" "$WORK/badsum"; printf '\x01' | dd of="$WORK/badsum" bs=1 seek=8 conv=notrunc status=none
bad badsum "Multiboot header at offset 0: bad checksum"
python3 - "$WORK" <<'PY'
import struct, sys
w = sys.argv[1]
def hdr(flags, extra=b''):
    return struct.pack('<III', 0x1badb002, flags, (-(0x1badb002 + flags)) & 0xffffffff) + extra
open(w + '/badflag', 'wb').write(hdr(0x8) + b'\0' * 64)
open(w + '/highload', 'wb').write(hdr(0x10000, struct.pack('<IIIII', 0x7f000000, 0x7f000000, 0, 0, 0x7f000020)) + b'\0' * 64)
open(w + '/noelf', 'wb').write(hdr(0) + b'\0' * 64)
open(w + '/nothing', 'wb').write(b'\0' * 9000)
PY
bad badflag "asks for features lbvm does not know"
bad highload "outside RAM (raise --mem)"
bad noelf "is not ELF and its header has no address fields"
bad nothing "no Multiboot header in its first 8192 bytes"
head -c 200 "$WORK/mb.elf" > "$WORK/short.elf"
run_lbvm short boot --kernel "$WORK/short.elf" --mem 64 --limit 5
[ "$RC" = 1 ] || fail "a truncated ELF kernel: exit $RC, expected 1" "$WORK/short.err"
run_lbvm nomod boot --kernel "$WORK/mb.elf" --module "$WORK/missing" --mem 64 --limit 5
[ "$RC" = 1 ] || fail "a missing module: exit $RC, expected 1" "$WORK/nomod.err"
assert_contains "$WORK/nomod.err" "missing" "the missing module is not named"
pass "ELF and a.out kludge kernels saw the right info, memory map and modules"
