#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
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

# The ends of the --mem range: 64 MiB (kernel, initrd and all) and 3072 MiB
# (the PAE kernel's high memory in use).
for mem in 64 3072; do
    boot_guest "pae-mem$mem" "$KERNEL_686PAE" "$WORK/initrd.cpio" boot --mem "$mem"
    expect_boot "pae-mem$mem"
    kb=$(grep -o 'Memory: [0-9]*K/[0-9]*K' "$WORK/pae-mem$mem.console" | sed 's|.*/\([0-9]*\)K|\1|')
    [ -n "$kb" ] && [ "$kb" -gt $((mem * 1024 * 9 / 10)) ] && [ "$kb" -le $((mem * 1024)) ] \
        || fail "pae-mem$mem: the kernel saw ${kb:-no} KiB of memory" "$WORK/pae-mem$mem.console"
done
pass "--mem 64 and 3072"
