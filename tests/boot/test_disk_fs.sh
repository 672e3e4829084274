#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real file system on lbvm's AHCI disk, both ways:
# 1. the guest partitions a blank disk (busybox fdisk), makes ext2 (busybox
#    mke2fs), mounts it with Debian's ext4 driver, writes files and a copy of
#    itself, unmounts; the host checks the image with e2fsck -fn and reads the
#    files back with debugfs;
# 2. the guest boots again, mounts that disk and switch_roots to the /init on it;
# 3. an image the host made with mke2fs -d is read by the guest: same hashes.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
command -v e2fsck >/dev/null && command -v debugfs >/dev/null && command -v mke2fs >/dev/null \
    || fail "e2fsprogs (e2fsck, debugfs, mke2fs) is not installed"
root=$WORK/root
mkdir -p "$root/bin" "$root/modules" "$root/proc" "$root/sys" "$root/dev" "$root/mnt"
add_busybox "$root" sh mount umount insmod sleep dd sha256sum cat poweroff sync fdisk mke2fs switch_root mkdir cp echo
add_disk_modules "$root" k686
cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin
. /disk-setup.sh
case $(cat /proc/cmdline) in
*lbvm.disk=make*)
    printf 'o\nn\np\n1\n\n\nw\n' | fdisk /dev/sda >/dev/null 2>&1
    i=0
    while [ ! -b /dev/sda1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    mke2fs -q /dev/sda1 || echo "LBVM-TEST: error mke2fs"
    mount -t ext4 /dev/sda1 /mnt || echo "LBVM-TEST: error mount"
    echo "hello from the guest" > /mnt/hello.txt
    dd if=/dev/zero bs=1k count=3000 2>/dev/null | cat /proc/version - > /mnt/big.bin
    mkdir -p /mnt/bin /mnt/proc /mnt/sys /mnt/dev
    cp /bin/busybox /mnt/bin/busybox
    printf '#!/bin/busybox sh\n/bin/busybox echo "LBVM-TEST: init on the disk"\n/bin/busybox poweroff -f\n' > /mnt/init
    /bin/busybox chmod 755 /mnt/init
    echo "LBVM-TEST: big $(sha256sum < /mnt/big.bin)"
    umount /mnt && echo "LBVM-TEST: unmounted"
    sync ;;
*lbvm.disk=switch*)
    mount -t ext4 -o ro /dev/sda1 /mnt || echo "LBVM-TEST: error mount"
    umount /proc /sys
    exec switch_root /mnt /init ;;
*lbvm.disk=read*)
    mount -t ext4 -o ro /dev/sda /mnt || echo "LBVM-TEST: error mount"
    echo "LBVM-TEST: read $(cd /mnt && sha256sum a.txt sub/b.bin | /bin/busybox tr '\n' ' ')" ;;
esac
echo "LBVM-TEST: done"
poweroff -f
INIT
chmod +x "$root/init"
"$LBVM" mkinitramfs -o "$WORK/fs.cpio" "$root" || fail "mkinitramfs failed"
boot() {   # NAME MODE DISK
    run_lbvm "$1" boot --kernel "$KERNEL_686" --initrd "$WORK/fs.cpio" --append "lbvm.disk=$2" \
        --console "$WORK/$1.console" --disk "$3" --limit "$LBVM_TEST_LIMIT"
    [ "$RC" = 0 ] || fail "$1: lbvm exited $RC" "$WORK/$1.console" "$WORK/$1.err"
    assert_not_contains "$WORK/$1.console" "LBVM-TEST: error" "$1: the guest reported an error"
}

# 1. The guest makes the file system on a blank disk (created by --disk-size).
run_lbvm mk0 boot --kernel "$KERNEL_686" --initrd "$WORK/fs.cpio" --append "lbvm.disk=make" \
    --console "$WORK/make.console" --disk "$WORK/disk.img" --disk-size 64M --limit "$LBVM_TEST_LIMIT"
[ "$RC" = 0 ] || fail "make: lbvm exited $RC" "$WORK/make.console" "$WORK/mk0.err"
assert_not_contains "$WORK/make.console" "LBVM-TEST: error" "make: the guest reported an error"
assert_contains "$WORK/make.console" "LBVM-TEST: unmounted" "make: the guest did not unmount cleanly"
[ "$(stat -c %s "$WORK/disk.img")" = 67108864 ] || fail "--disk-size 64M did not make a 64 MiB image"
start=$(sfdisk -d "$WORK/disk.img" 2>/dev/null | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | head -1)
[ -n "$start" ] || start=$(od -An -tu4 -j 454 -N 4 "$WORK/disk.img" | tr -d ' ')
[ -n "$start" ] && [ "$start" -gt 0 ] || fail "no partition 1 in the image's partition table"
dd if="$WORK/disk.img" of="$WORK/part.img" bs=512 skip="$start" status=none
e2fsck -fn "$WORK/part.img" > "$WORK/e2fsck.out" 2>&1 || fail "e2fsck -fn found problems in the guest's file system" "$WORK/e2fsck.out"
[ "$(debugfs -R 'cat /hello.txt' "$WORK/part.img" 2>/dev/null)" = "hello from the guest" ] \
    || fail "debugfs does not read hello.txt back"
want=$(grep -a -o 'LBVM-TEST: big [0-9a-f]*' "$WORK/make.console" | cut -d' ' -f3)
got=$(debugfs -R 'cat /big.bin' "$WORK/part.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
[ -n "$want" ] && [ "$want" = "$got" ] || fail "big.bin read by debugfs ($got) is not what the guest wrote ($want)"

# 2. Boot again and switch_root onto the disk.
boot switch switch "$WORK/disk.img"
assert_contains "$WORK/switch.console" "LBVM-TEST: init on the disk" "switch_root did not run the disk's /init"

# 3. The host makes an image with mke2fs -d; the guest reads it.
mkdir -p "$WORK/hostfs/sub"
echo "made on the host" > "$WORK/hostfs/a.txt"
head -c 200000 /dev/urandom > "$WORK/hostfs/sub/b.bin"
mke2fs -q -t ext4 -d "$WORK/hostfs" "$WORK/host.img" 32M || fail "mke2fs -d failed"
boot read read "$WORK/host.img"
ha=$(sha256sum < "$WORK/hostfs/a.txt" | cut -d' ' -f1)
hb=$(sha256sum < "$WORK/hostfs/sub/b.bin" | cut -d' ' -f1)
assert_contains "$WORK/read.console" "$ha  a.txt" "the guest read a.txt differently"
assert_contains "$WORK/read.console" "$hb  sub/b.bin" "the guest read sub/b.bin differently"
pass "guest mkfs checked by e2fsck, switch_root onto the disk, host image read by the guest"
