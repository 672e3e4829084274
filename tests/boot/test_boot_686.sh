#!/usr/bin/env bash
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
