#!/usr/bin/env bash
# Boot Debian's linux-image-686-pae (PAE page tables, HIGHMEM64G) with the
# test initramfs: it must reach /init, finish, and power off (exit 0).
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
build_initramfs "$WORK/initrd.cpio"
boot_guest k686pae "$KERNEL_686PAE" "$WORK/initrd.cpio" boot
expect_boot k686pae
assert_contains "$WORK/k686pae.console" "Linux version $(cat "$CACHE/k686pae/RELEASE")" \
    "k686pae: the banner is not the one of the kernel given"
pass "$(grep -m1 -o 'Linux version [^ ]*' "$WORK/k686pae.console")"
