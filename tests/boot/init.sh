#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest's /init for lbvm's boot tests and benchmark, run by busybox sh.
# Picks its action from the kernel command line, lbvm.test=NAME:
#   boot (default)  nothing: reach userspace and power off
#   sha             sha256sum of 64 MiB of zeros (dd | sha256sum)
#   loop            200000 iterations of a shell arithmetic loop
#   reboot          ask for a reset instead of powering off
#   hightouch       /bin/hightouch (tests/boot/hightouch.c) touches 1856 MiB while
#                   dd writes as much into tmpfs: more than 3.5 GiB in use, so
#                   RAM above 4 GiB must be; it reads its pages back
# Every line meant for the host starts with "LBVM-TEST: ". A name with a dot is
# a module parameter to the kernel, so it never reaches our environment: read
# it from /proc/cmdline.
export PATH=/bin:/sbin

[ -r /proc/cmdline ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
# The kernel opens /dev/console for us when the initramfs has one; make sure.
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1

# guest uptime in centiseconds (from "123.45 ..."; no leading-zero octal trap)
cs() {
    read -r up _ </proc/uptime
    echo $(( ${up%.*} * 100 + 1${up#*.} - 100 ))
}
secs() {
    d=$(( $2 - $1 ))
    printf '%d.%02d' $(( d / 100 )) $(( d % 100 ))
}

echo "LBVM-TEST: init reached"
t0=$(cs)
echo "LBVM-TEST: result init-uptime $(secs 0 "$t0")"

test=boot
read -r cmdline </proc/cmdline
for w in $cmdline; do
    case $w in lbvm.test=*) test=${w#lbvm.test=} ;; esac
done
echo "LBVM-TEST: test $test"

case $test in
boot)
    ;;
sha)
    h=$(dd if=/dev/zero bs=1M count=64 2>/dev/null | sha256sum)
    t1=$(cs)
    echo "LBVM-TEST: result sha256 ${h%% *}"
    echo "LBVM-TEST: result seconds $(secs "$t0" "$t1")"
    ;;
loop)
    i=0
    while [ $i -lt 200000 ]; do i=$((i + 1)); done
    t1=$(cs)
    echo "LBVM-TEST: result loop $i"
    echo "LBVM-TEST: result seconds $(secs "$t0" "$t1")"
    ;;
hightouch)
    while read -r k v _; do
        case $k in MemTotal:|HighTotal:) echo "LBVM-TEST: result meminfo $k $v" ;; esac
    done </proc/meminfo
    { dd if=/dev/zero of=/tmp/fill bs=1M count=1856 2>/dev/null && echo go; } | /bin/hightouch \
        || echo "LBVM-TEST: error hightouch exit $?"
    rm -f /tmp/fill
    ;;
reboot)
    echo "LBVM-TEST: done"
    reboot -f
    ;;
*)
    echo "LBVM-TEST: error unknown test '$test'"
    poweroff -f
    ;;
esac

echo "LBVM-TEST: done"
poweroff -f
echo "LBVM-TEST: error poweroff -f returned"
