#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guest that reboots ends the run as a reset: exit code 3, and the kernel got
# as far as its restart path (through the keyboard controller or 0xcf9).
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
build_initramfs "$WORK/initrd.cpio"
boot_guest reboot "$KERNEL_686" "$WORK/initrd.cpio" reboot
[ "$RC" = 3 ] || fail "a rebooting guest should end with exit code 3, got $RC" "$WORK/reboot.console" "$WORK/reboot.err"
assert_contains "$WORK/reboot.console" "LBVM-TEST: init reached" "reboot: /init never ran"
assert_contains "$WORK/reboot.console" "reboot: Restarting system" "reboot: the kernel did not reach its restart path"
assert_contains "$WORK/reboot.err" "lbvm: the guest asked for a reset" "reboot: lbvm did not say why it stopped"
pass "exit 3 on reboot"
