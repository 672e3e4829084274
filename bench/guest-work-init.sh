#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest's /init for bench/bench-work.sh, run by busybox sh. The kernel
# command line picks the workload, lbvm.work=NAME, and its size, lbvm.n=N:
#   fork   N runs of /bin/exit0 (a 91-byte static program that exits 0) from
#          this shell: fork, exec and page faults
#   tcc    N compiles of /src/big.c with `tcc -c` (Debian's tcc:i386); prints
#          the SHA-256 of each object file
#   untar  mounts the ext4 disk /dev/sda (AHCI), untars /data/files.tar onto
#          it, syncs, tars the tree from the disk to the disk, syncs, then
#          prints checksums of the new tar's listing and of the files' contents
#          read back from the disk after dropping the caches
# Every line meant for the host starts with "LBVM-TEST: ". Names with a dot
# are module parameters to the kernel and never reach our environment: read
# them from /proc/cmdline. The disk modules are loaded before "init reached",
# so the host's init->done time is the workload alone.
export PATH=/bin

mount -t proc proc /proc
work='' n=1
read -r cmdline </proc/cmdline
for w in $cmdline; do
    case $w in
    lbvm.work=*) work=${w#lbvm.work=} ;;
    lbvm.n=*) n=${w#lbvm.n=} ;;
    esac
done
if [ "$work" = untar ]; then
    umount /proc
    # tests/boot/lib.sh add_disk_modules: mounts proc, sys, dev; loads the
    # AHCI and ext4 modules; waits for /dev/sda
    . /disk-setup.sh
else
    mount -t sysfs sys /sys
    mount -t devtmpfs dev /dev
fi
exec </dev/console >/dev/console 2>&1

# guest uptime in centiseconds (from "123.45 ..."; no leading-zero octal trap)
cs() {
    read -r up _ </proc/uptime
    echo $(( ${up%.*} * 100 + 1${up#*.} - 100 ))
}
secs() {
    d=$(( $2 - $1 ))
    printf '%d.%02d' $(( d / 100 )) $(( d % 100 ))
}
err() { echo "LBVM-TEST: error $*"; }

echo "LBVM-TEST: init reached"
echo "LBVM-TEST: work $work $n"
t0=$(cs)
case $work in
fork)
    i=0 ok=0
    while [ $i -lt "$n" ]; do
        /bin/exit0 && ok=$((ok + 1))
        i=$((i + 1))
    done
    echo "LBVM-TEST: result fork $ok"
    ;;
tcc)
    i=1
    while [ $i -le "$n" ]; do
        /bin/tcc -c /src/big.c -o /tmp/big.o || err "tcc exit $?"
        h=$(sha256sum /tmp/big.o)
        echo "LBVM-TEST: result tcc $i ${h%% *}"
        rm -f /tmp/big.o
        i=$((i + 1))
    done
    ;;
untar)
    [ -b /dev/sda ] || err "no /dev/sda"
    mkdir -p /mnt
    mount -t ext4 /dev/sda /mnt || err "mount /dev/sda"
    tar -xf /data/files.tar -C /mnt || err "tar -x"
    sync
    tar -cf /mnt/re.tar -C /mnt tree || err "tar -c"
    sync
    # regular files only: directory mtimes are the guest's clock at the untar
    h=$(tar -tvf /mnt/re.tar | grep '^-' | sort | sha256sum)
    echo "LBVM-TEST: result untar-list ${h%% *} $(tar -tf /mnt/re.tar | grep -c -v '/$')"
    echo 3 >/proc/sys/vm/drop_caches
    h=$(cd /mnt && find tree -type f | sort | xargs cat | sha256sum)
    echo "LBVM-TEST: result untar-data ${h%% *}"
    umount /mnt || err "umount /mnt"
    ;;
*)
    err "unknown workload '$work'"
    ;;
esac
t1=$(cs)
echo "LBVM-TEST: result seconds $(secs "$t0" "$t1")"
echo "LBVM-TEST: done"
poweroff -f
err "poweroff -f returned"
