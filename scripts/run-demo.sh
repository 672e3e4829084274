#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sets up a fresh machine, then boots Debian's 686 kernel with a small busybox
# initramfs made by lbvm itself, showing the guest's serial console.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
"$here/scripts/fetch-test-inputs.sh"
cache=$here/.cache/test-inputs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/dev" "$work/root/proc" "$work/root/sys"
cp "$cache/busybox" "$work/root/bin/busybox"
ln -s busybox "$work/root/bin/sh"
cat > "$work/root/init" <<'INIT'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo "lbvm demo: $(/bin/busybox uname -sr) is running as init on lbvm's i386 PC"
/bin/busybox cat /proc/cpuinfo | /bin/busybox grep -E 'model name|flags'
/bin/busybox poweroff -f
INIT
chmod +x "$work/root/init"
"$here/build/lbvm" mkinitramfs -o "$work/initrd.cpio" "$work/root"
exec "$here/build/lbvm" boot --kernel "$cache/k686/vmlinuz" --initrd "$work/initrd.cpio" --stats
