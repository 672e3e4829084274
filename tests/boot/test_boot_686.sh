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

# The same kernel decompressing itself in the guest (lbvm's default unpacks it
# on the host): both ways must reach /init.
boot_guest k686-guestxz "$KERNEL_686" "$WORK/initrd.cpio" boot --guest-decompress
expect_boot k686-guestxz
assert_contains "$WORK/k686-guestxz.console" "KASLR disabled" \
    "k686 --guest-decompress: the kernel's own decompressor (which prints the KASLR line) did not run"
assert_not_contains "$WORK/k686.console" "KASLR disabled" \
    "k686: the kernel decompressed itself although lbvm unpacks it on the host"
pass "guest decompression too"
