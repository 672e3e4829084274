#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest RAM of 4 GiB and more (issue 17). Above 3 GiB, RAM continues from
# 4 GiB (base/guestram.h); [3 GiB, 4 GiB) is the PCI hole.
#  1. Debian's 686 and 686-pae kernels boot with --mem 4096: the e820 map has
#     RAM up to 3 GiB and from 4 GiB to 5 GiB; the PAE kernel uses all 4 GiB,
#     the 686 kernel (32-bit physical addresses) the 3 GiB below the hole.
#     The host's peak RSS stays far below the guest's RAM: it is reserved,
#     and only what the guest touches is backed.
#  2. Checkpoints follow touched memory, not --mem: the same boot at --mem 512
#     and 4096, checkpointed when /init starts.
#  3. 686-pae with --mem 6144 runs /bin/hightouch (tests/boot/hightouch.c):
#     1856 MiB written by it plus 1856 MiB of tmpfs, so more than 3.5 GiB in
#     use, which RAM below 4 GiB cannot hold; its pages' frames (pagemap) show
#     pages above 4 GiB, none in the hole, every word reads back as written.
#     A checkpoint taken while it holds that memory resumes to the straight
#     run's end (console, ticks, RAM digest).
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm

# The guest program: i386, no libc, no SSE (the emulated CPU has none).
CC_GUEST=${CC:-cc}
mkdir -p "$WORK/extra/bin" || fail "cannot create $WORK/extra"
$CC_GUEST -m32 -march=i686 -mno-mmx -mno-sse -mno-sse2 -O2 -ffreestanding -fno-builtin -fno-stack-protector \
    -fno-pie -static -nostdlib -o "$WORK/extra/bin/hightouch" "$LBVM_SRC/tests/boot/hightouch.c" 2>"$WORK/cc.err" \
    || fail "cannot build tests/boot/hightouch.c for i386 ($CC_GUEST -m32 -ffreestanding -nostdlib)" "$WORK/cc.err"
build_initramfs "$WORK/initrd.cpio" "$WORK/extra"

GiB_K=$((1024 * 1024))
peak_rss() { sed -n 's/^lbvm: host peak-rss \([0-9]*\) KiB$/\1/p' "$WORK/$1.err"; }
# the kernel's "Memory: avail/total" total, KiB
mem_kib() { grep -o 'Memory: [0-9]*K/[0-9]*K' "$WORK/$1.console" | sed 's|.*/\([0-9]*\)K|\1|'; }
ckpt_size() { wc -c < "$1"; }
E820_LOW='BIOS-e820: [mem 0x0000000000100000-0x00000000bfffffff] usable'

# --- 1. --mem 4096, both kernels -------------------------------------------
for k in 686 686pae; do
    if [ "$k" = 686 ]; then kern=$KERNEL_686; want=$((3 * GiB_K)); else kern=$KERNEL_686PAE; want=$((4 * GiB_K)); fi
    boot_guest "k$k" "$kern" "$WORK/initrd.cpio" boot --mem 4096 --checkpoint-dir "$WORK/ck-$k" \
        --checkpoint-on "LBVM-TEST: init reached"
    expect_boot "k$k"
    c=$WORK/k$k.console
    assert_contains "$c" "$E820_LOW" "k$k: the e820 map does not end low RAM at the hole"
    assert_contains "$c" 'BIOS-e820: [mem 0x0000000100000000-0x000000013fffffff] usable' \
        "k$k: the e820 map lacks the 1 GiB above 4 GiB"
    assert_not_contains "$c" 'BIOS-e820: [mem 0x00000000c' "k$k: the e820 map has something in the hole"
    kb=$(mem_kib "k$k")
    [ -n "$kb" ] && [ "$kb" -gt $((want * 95 / 100)) ] && [ "$kb" -le "$want" ] \
        || fail "k$k: the kernel counted ${kb:-no} KiB of memory, expected just under $want" "$c"
    rss=$(peak_rss "k$k")
    [ -n "$rss" ] && [ "$rss" -lt "$GiB_K" ] \
        || fail "k$k: lbvm's peak RSS was ${rss:-unknown} KiB for a boot with 4 GiB of guest RAM (over 1 GiB)" "$WORK/k$k.err"
    note "k$k: the kernel counts $kb KiB; host peak RSS $rss KiB"
done
pass "--mem 4096: 686 and 686-pae boot, e820 with RAM from 4 GiB, host RSS under 1 GiB"

# --- 2. checkpoint size follows touched memory --------------------------------
boot_guest pae512 "$KERNEL_686PAE" "$WORK/initrd.cpio" boot --mem 512 --checkpoint-dir "$WORK/ck-512" \
    --checkpoint-on "LBVM-TEST: init reached"
expect_boot pae512
s512=$(ckpt_size "$(ckpts_of pae512 | head -n1 | cut -d' ' -f1)")
s4096=$(ckpt_size "$(ckpts_of k686pae | head -n1 | cut -d' ' -f1)")
[ -n "$s512" ] && [ -n "$s4096" ] || fail "the checkpoints at /init are missing" "$WORK/pae512.err" "$WORK/k686pae.err"
note "checkpoint when /init starts: $s512 bytes at --mem 512, $s4096 bytes at --mem 4096"
[ "$s4096" -le $((s512 * 3 / 2)) ] || fail "the checkpoint at --mem 4096 ($s4096 bytes) is more than 1.5 times the one at 512 ($s512)"
pass "checkpoint at /init: $s512 bytes (512 MiB) vs $s4096 bytes (4096 MiB)"

# --- 3. 6 GiB, more than 3.5 GiB in use, pages above 4 GiB -------------------
boot_guest ht "$KERNEL_686PAE" "$WORK/initrd.cpio" hightouch --mem 6144 --checkpoint-dir "$WORK/ck-ht" \
    --checkpoint-on "LBVM-TEST: hightouch holding"
expect_boot ht
c=$WORK/ht.console
assert_contains "$c" "$E820_LOW" "ht: the e820 map does not end low RAM at the hole"
assert_contains "$c" 'BIOS-e820: [mem 0x0000000100000000-0x00000001bfffffff] usable' "ht: the e820 map lacks the 3 GiB above 4 GiB"
res=$(grep -m1 '^LBVM-TEST: result hightouch ' "$c")
[ -n "$res" ] || fail "ht: hightouch printed no result" "$c"
field() { echo "$res" | sed -n "s/.* $1=\([0-9a-fx]*\).*/\1/p"; }
[ "$(field mib)" = 1856 ] && [ "$(field hole)" = 0 ] && [ "$(field absent)" = 0 ] && [ "$(field bad)" = 0 ] \
    && [ "$(field high-mib)" -ge 64 ] || fail "ht: hightouch: $res (wanted mib=1856, 64+ MiB above 4 GiB, nothing in the hole or absent, bad=0)" "$c"
total=$(sed -n 's/^LBVM-TEST: result meminfo MemTotal: *\([0-9]*\) kB.*/\1/p' "$c")
free=$(sed -n 's/^LBVM-TEST: result meminfo MemFree: *\([0-9]*\) kB.*/\1/p' "$c")
[ -n "$total" ] && [ -n "$free" ] || fail "ht: no MemTotal/MemFree while hightouch held its memory" "$c"
used=$((total - free))
[ "$total" -gt $((6 * GiB_K * 95 / 100)) ] || fail "ht: MemTotal $total KiB for --mem 6144" "$c"
[ "$used" -gt $((7 * GiB_K / 2)) ] || fail "ht: only $used KiB in use while hightouch held its memory (wanted over 3.5 GiB)" "$c"
rss=$(peak_rss ht)
[ -n "$rss" ] && [ "$rss" -lt $((used + GiB_K)) ] \
    || fail "ht: lbvm's peak RSS ${rss:-unknown} KiB, the guest had $used KiB in use (the rest of its 6 GiB must stay unbacked)" "$WORK/ht.err"
note "ht: $res; guest in use $used of $total KiB; host peak RSS $rss KiB"
ck=$(ckpts_of ht | head -n1 | cut -d' ' -f1)
[ -s "$ck" ] || fail "ht: no checkpoint at 'hightouch holding'" "$WORK/ht.err"
"$LBVM" inspect "$ck" > "$WORK/ht.inspect" 2>&1 || fail "lbvm inspect $ck failed" "$WORK/ht.inspect"
note "ht: checkpoint $(ckpt_size "$ck") bytes; $(grep '^RAM pages' "$WORK/ht.inspect")"
pass "--mem 6144: $(field high-mib) MiB of hightouch's pages above 4 GiB read back intact, $used KiB in use, host RSS $rss KiB"

# resumed where hightouch holds it all: the same end as the straight run
run_lbvm htres resume "$ck" --console "$WORK/htres.console" --stats --limit "$LBVM_TEST_LIMIT"
check_resumed htres "$ck" ht
pass "resumed from the checkpoint holding RAM above 4 GiB: the straight run's console, ticks and RAM digest"

# --- 4. disk DMA with RAM above 4 GiB ------------------------------------------
# The HBA addresses 32 bits (CAP.S64A clear): Linux must bounce its page cache
# above 4 GiB (where the 686-pae kernel puts it first) through the software IO
# TLB. The guest reads a file from a host-made ext2 image and writes a copy.
command -v mke2fs >/dev/null && command -v debugfs >/dev/null || fail "e2fsprogs (mke2fs, debugfs) is not installed"
mkdir -p "$WORK/fs" "$WORK/droot/mnt" "$WORK/droot/proc" "$WORK/droot/sys" "$WORK/droot/dev"
awk 'BEGIN { x = 1; for (i = 0; i < 262144; i++) { x = (x * 1103515245 + 12345) % 2147483648; printf "%08x\n", x } }' \
    > "$WORK/fs/data.bin" || fail "cannot make the test file"
want=$(sha256sum < "$WORK/fs/data.bin" | cut -d' ' -f1)
mke2fs -q -t ext2 -d "$WORK/fs" "$WORK/disk.img" 32M >"$WORK/mke2fs.out" 2>&1 || fail "mke2fs -d failed" "$WORK/mke2fs.out"
add_busybox "$WORK/droot" sh mount umount insmod sleep sha256sum cp sync poweroff cat
add_disk_modules "$WORK/droot" k686pae
cat > "$WORK/droot/init" <<'INIT'
#!/bin/sh
export PATH=/bin
. /disk-setup.sh
mount -t ext4 /dev/sda /mnt || echo "LBVM-TEST: error mount"
echo "LBVM-TEST: read $(sha256sum < /mnt/data.bin)"
cp /mnt/data.bin /mnt/copy.bin && sync || echo "LBVM-TEST: error copy"
echo 3 > /proc/sys/vm/drop_caches
echo "LBVM-TEST: reread $(sha256sum < /mnt/copy.bin)"
umount /mnt && echo "LBVM-TEST: unmounted"
echo "LBVM-TEST: done"
poweroff -f
INIT
chmod 755 "$WORK/droot/init"
"$LBVM" mkinitramfs -o "$WORK/disk.cpio" "$WORK/droot" >"$WORK/mkdisk.err" 2>&1 || fail "mkinitramfs failed" "$WORK/mkdisk.err"
run_lbvm dma boot --kernel "$KERNEL_686PAE" --initrd "$WORK/disk.cpio" --mem 6144 --disk "$WORK/disk.img" \
    --console "$WORK/dma.console" --limit "$LBVM_TEST_LIMIT"
[ "$RC" = 0 ] || fail "dma: lbvm exited $RC" "$WORK/dma.console" "$WORK/dma.err"
assert_not_contains "$WORK/dma.console" "LBVM-TEST: error" "dma: the guest reported an error"
assert_contains "$WORK/dma.console" "LBVM-TEST: unmounted" "dma: the guest did not unmount"
assert_contains "$WORK/dma.console" "software IO TLB: mapped" "dma: the kernel set up no software IO TLB for RAM above 4 GiB"
assert_contains "$WORK/dma.console" "LBVM-TEST: read $want" "dma: the guest read another file than the host wrote"
assert_contains "$WORK/dma.console" "LBVM-TEST: reread $want" "dma: the copy the guest wrote reads back wrong"
got=$(debugfs -R 'cat /copy.bin' "$WORK/disk.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
assert_eq "$got" "$want" "dma: the copy on the host's image"
pass "--mem 6144: a 2.3 MB file read and written through the 32-bit AHCI (bounced from above 4 GiB), the same bytes on the host"
