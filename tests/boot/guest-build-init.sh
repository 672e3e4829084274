#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest's /init (busybox sh) for the builds in the guest
# (tests/boot/test_guest_build.sh, bench/bench-build.sh, bench/soak.sh): loads
# the AHCI and ext4 modules, mounts the build disk /dev/sda (an i386 Debian
# userland with gcc and the sources, made on the host with mke2fs -d, see
# make_build_disk in tests/boot/lib.sh) and runs its /lbvm/build.sh JOB in a
# chroot, JOB from the kernel command line lbvm.build=JOB (small, medium or
# loop; see tests/boot/guest-build.sh). Lines meant for the host start with
# "LBVM-TEST: " or "LBVM-BUILD: ".
export PATH=/bin
# tests/boot/lib.sh add_disk_modules: mounts proc, sys, dev; loads the modules;
# waits for /dev/sda
. /disk-setup.sh
exec </dev/console >/dev/console 2>&1
err() { echo "LBVM-TEST: error $*"; }

job=small
read -r cmdline </proc/cmdline
for w in $cmdline; do
    case $w in lbvm.build=*) job=${w#lbvm.build=} ;; esac
done
echo "LBVM-TEST: init reached"
[ -b /dev/sda ] || err "no /dev/sda"
mkdir -p /mnt
mount -t ext4 /dev/sda /mnt || err "mount /dev/sda"
mount -t proc proc /mnt/proc || err "mount proc on the disk"
mount -t devtmpfs dev /mnt/dev || err "mount dev on the disk"
chroot /mnt /bin/sh /lbvm/build.sh "$job" || err "build.sh $job exited $?"
umount /mnt/proc
umount /mnt/dev
umount /mnt || err "umount /mnt"
echo "LBVM-TEST: done"
poweroff -f
err "poweroff -f returned"
