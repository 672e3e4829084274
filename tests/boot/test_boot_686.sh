#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Boot Debian's linux-image-686 (i386, built for a Geode LX: FPU, CMOV, CX8)
# with the test initramfs: it must reach /init, finish, and power off (exit 0).
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
build_initramfs "$WORK/initrd.cpio"
boot_guest k686 "$KERNEL_686" "$WORK/initrd.cpio" boot
expect_boot k686
assert_contains "$WORK/k686.console" "Linux version $(cat "$CACHE/k686/RELEASE")" \
    "k686: the banner is not the one of the kernel given"
pass "$(grep -m1 -o 'Linux version [^ ]*' "$WORK/k686.console")"

# The same kernel decompressing itself in the guest (lbvm's default unpacks it
# on the host): both ways must reach /init.
boot_guest k686-guestxz "$KERNEL_686" "$WORK/initrd.cpio" boot --guest-decompress
expect_boot k686-guestxz
# The kernel's XZ decompressor runs billions of guest instructions before the
# kernel proper: the guest-decompress run must take that much more guest time.
t_host=$(stats_of k686 | sed -n 's/^lbvm: ticks //p')
t_guest=$(stats_of k686-guestxz | sed -n 's/^lbvm: ticks //p')
[ -n "$t_host" ] && [ -n "$t_guest" ] && [ "$t_guest" -gt $((t_host + 2000000000)) ] \
    || fail "--guest-decompress took ${t_guest:-?} ticks against ${t_host:-?} unpacked on the host: did the guest decompress?"
pass "guest decompression too"
