#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The three-system hand-off live-bootstrap makes, in one run:
#   sysa: Debian's 686 kernel with an initramfs whose /init kexecs into
#   sysb: the 686-pae kernel with a second initramfs, which loads the AHCI and
#         ext4 modules, partitions and formats the blank disk, copies itself
#         onto it and switch_roots into
#   sysc: the disk, whose /init prints the final marker and powers off.
# Two runs: byte-identical console, ticks and RAM hash.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
[ -s "$CACHE/kexec/kexec" ] || fail "kexec-tools missing from the test inputs ($CACHE/kexec)"

# sysb's initramfs (modules of the 686-pae kernel).
b=$WORK/sysb
mkdir -p "$b/bin" "$b/modules" "$b/proc" "$b/sys" "$b/dev" "$b/mnt"
add_busybox "$b" sh mount umount insmod sleep cat poweroff sync fdisk mke2fs switch_root mkdir cp chmod echo uname
add_disk_modules "$b" k686pae
cat > "$b/init" <<'INIT'
#!/bin/sh
export PATH=/bin
. /disk-setup.sh
echo "LBVM-TEST: sysb $(uname -r)"
printf 'o\nn\np\n1\n\n\nw\n' | fdisk /dev/sda >/dev/null 2>&1
i=0
while [ ! -b /dev/sda1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
mke2fs -q /dev/sda1 || echo "LBVM-TEST: error mke2fs"
mount -t ext4 /dev/sda1 /mnt || echo "LBVM-TEST: error mount"
cp -a /bin /modules /mnt/ && mkdir -p /mnt/proc /mnt/sys /mnt/dev
cat > /mnt/init <<'SYSC'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
echo "LBVM-TEST: sysc on $(cat /proc/mounts | while read d m r; do [ "$m" = / ] && echo $d; done)"
echo "LBVM-TEST: done"
poweroff -f
SYSC
chmod 755 /mnt/init
sync
umount /proc /sys
exec switch_root /mnt /init
INIT
chmod 755 "$b/init"

# sysa's initramfs: kexec and its libc, the 686-pae kernel, sysb's initramfs.
a=$WORK/sysa
mkdir -p "$a/bin" "$a/sbin" "$a/lib/i386-linux-gnu" "$a/boot" "$a/proc" "$a/sys" "$a/dev"
add_busybox "$a" sh
cp "$CACHE/kexec/kexec" "$a/sbin/kexec"
cp "$CACHE/kexec/libc.so.6" "$CACHE/kexec/ld-linux.so.2" "$a/lib/i386-linux-gnu/"
ln -s i386-linux-gnu/ld-linux.so.2 "$a/lib/ld-linux.so.2"
cp "$KERNEL_686PAE" "$a/boot/vmlinuz"
"$LBVM" mkinitramfs -o "$a/boot/initrd.cpio" "$b" || fail "mkinitramfs (sysb) failed"
cat > "$a/init" <<'INIT'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
echo "LBVM-TEST: sysa $(/bin/busybox uname -r)"
/sbin/kexec -l /boot/vmlinuz --initrd=/boot/initrd.cpio \
    --append="console=ttyS0 earlyprintk=serial,ttyS0 noapic nolapic acpi=off panic=-1"
/sbin/kexec -e
echo "LBVM-TEST: error kexec -e returned"
/bin/busybox poweroff -f
INIT
chmod 755 "$a/init"
"$LBVM" mkinitramfs -o "$WORK/sysa.cpio" "$a" || fail "mkinitramfs (sysa) failed"

for run in 1 2; do
    run_lbvm "h$run" boot --kernel "$KERNEL_686" --initrd "$WORK/sysa.cpio" --console "$WORK/h$run.console" \
        --disk "$WORK/disk$run.img" --disk-size 64M --stats --limit "$LBVM_TEST_LIMIT"
    c=$WORK/h$run.console
    [ "$RC" = 0 ] || fail "run $run: lbvm exited $RC" "$c" "$WORK/h$run.err"
    assert_not_contains "$c" "LBVM-TEST: error" "run $run: the guest reported an error"
    assert_contains "$c" "LBVM-TEST: sysa $(cat "$CACHE/k686/RELEASE")" "run $run: sysa did not run"
    assert_contains "$c" "LBVM-TEST: sysb $(cat "$CACHE/k686pae/RELEASE")" "run $run: kexec into sysb failed"
    assert_contains "$c" "LBVM-TEST: sysc on /dev/sda1" "run $run: switch_root onto the disk failed"
    assert_contains "$c" "LBVM-TEST: done" "run $run: sysc did not finish"
done
cmp -s "$WORK/h1.console" "$WORK/h2.console" || fail "the two runs' consoles differ" "$WORK/h2.console"
[ "$(stats_of h1)" = "$(stats_of h2)" ] || fail "the two runs' ticks or RAM hash differ: $(stats_of h1 | tr '\n' ' ') / $(stats_of h2 | tr '\n' ' ')"
cmp -s "$WORK/disk1.img" "$WORK/disk2.img" || fail "the two runs left different disk images"
pass "sysa -> kexec -> sysb -> switch_root -> sysc, twice, identical ($(stats_of h1 | head -1))"
