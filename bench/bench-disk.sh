#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-disk.sh [-n RUNS] [-o FILE.md] [-s "lbvm qemu"]
# Sequential disk write then read of 256 MiB on /dev/sda (AHCI, Debian's ahci
# driver, O_DIRECT dd) under lbvm and under QEMU TCG with its AHCI controller,
# alternating the systems RUNS times; prints a markdown table of medians and
# ratios. See bench/README.md.
set -u
runs=3 out='' systems="lbvm qemu"
. "$(dirname "$0")/common.sh"
while getopts "n:o:s:h" opt; do
    case $opt in
    n) runs=$OPTARG ;;
    o) out=$OPTARG ;;
    s) systems=$OPTARG ;;
    *) usage ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench-disk: -n wants a positive number" >&2; exit 1; }
for s in $systems; do case $s in lbvm|qemu) ;; *) echo "bench-disk: unknown system $s" >&2; exit 1 ;; esac; done

. "$(dirname "$0")/../tests/boot/lib.sh"
need_inputs
need_lbvm
case " $systems " in *" qemu "*)
    command -v qemu-system-i386 >/dev/null || fail "qemu-system-i386 is not installed (apt-get install qemu-system-x86)" ;;
esac
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0 panic=-1"
MIB=256                      # how much the guest writes and reads
BYTES=$((MIB * 1048576))

# --- the guest: busybox, the disk modules (tests/boot/lib.sh), /init
root=$WORK/root
mkdir -p "$root/bin" "$root/modules" "$root/proc" "$root/sys" "$root/dev" || fail "cannot create $root"
cp "$BUSYBOX" "$root/bin/busybox" && chmod 755 "$root/bin/busybox" || fail "cannot copy busybox"
for a in sh mount insmod sleep dd cat echo poweroff sync; do ln -sf busybox "$root/bin/$a"; done
add_disk_modules "$root" k686
cat > "$root/init" <<INIT
#!/bin/sh
export PATH=/bin
. /disk-setup.sh
exec </dev/console >/dev/console 2>&1
echo "LBVM-TEST: init reached"
[ -b /dev/sda ] || echo "LBVM-TEST: error no /dev/sda"
echo "LBVM-TEST: sda sectors \$(cat /sys/block/sda/size)"
# guest uptime as printed by /proc/uptime (seconds.centiseconds)
up() { read -r u _ </proc/uptime; echo \$u; }
echo "LBVM-TEST: write start \$(up)"
dd if=/dev/zero of=/dev/sda bs=1M count=$MIB oflag=direct 2>&1 | sed 's/^/LBVM-TEST: dd /'
echo "LBVM-TEST: write end \$(up)"
sync
echo 3 > /proc/sys/vm/drop_caches
echo "LBVM-TEST: read start \$(up)"
dd if=/dev/sda of=/dev/null bs=1M count=$MIB iflag=direct 2>&1 | sed 's/^/LBVM-TEST: dd /'
echo "LBVM-TEST: read end \$(up)"
echo "LBVM-TEST: done"
poweroff -f
INIT
# busybox has sed; add the link the /init above pipes through
ln -sf busybox "$root/bin/sed"
chmod 755 "$root/init"
"$LBVM" mkinitramfs -o "$WORK/disk.cpio" "$root" >"$WORK/mkinitramfs.err" 2>&1 \
    || fail "lbvm mkinitramfs failed" "$WORK/mkinitramfs.err"

# run_one SYSTEM R: one run on a fresh sparse 512 MiB image; appends to $WORK/runs
#   1 system 2 run 3 exit 4 wall 5 to-write-start 6 write 7 read 8 guest-write 9 guest-read
run_one() {
    local s=$1 r=$2 log=$WORK/$1-$2 img=$WORK/disk.img t0 t1 rc
    local -a cmd
    rm -f "$img"
    truncate -s 512M "$img" || fail "cannot create $img"
    case $s in
    # line-buffered stdout, so each console line is stamped when it is printed
    lbvm) cmd=(stdbuf -oL "$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/disk.cpio" --disk "$img"
               --limit "$LBVM_TEST_LIMIT") ;;
    qemu) cmd=(qemu-system-i386 -accel tcg -m 1024 -nographic -no-reboot -kernel "$KERNEL_686"
               -initrd "$WORK/disk.cpio" -append "$CMDLINE"
               -device ahci,id=ahci -drive if=none,id=d0,file="$img",format=raw -device ide-hd,drive=d0,bus=ahci.0) ;;
    esac
    t0=$EPOCHREALTIME
    timeout -k 10 "$LBVM_TEST_TIMEOUT" "${cmd[@]}" </dev/null 2>"$log.err" | stamp > "$log.console"
    rc=${PIPESTATUS[0]}
    t1=$EPOCHREALTIME
    # the image must hold what the guest wrote: allocated, and all zeros (it is
    # sparse, so check that the guest's writes actually reached the file)
    local used
    used=$(du -k "$img" | cut -f1)
    rm -f "$img"
    awk -v s="$s" -v r="$r" -v rc="$rc" -v t0="$t0" -v t1="$t1" -v bytes="$BYTES" -v recs="$MIB" -v used="$used" '
        function at(name) { return index($0, "LBVM-TEST: " name " ") }
        at("write start") && !ws { ws = $1; gws = $NF }
        at("write end") && !we { we = $1; gwe = $NF }
        at("read start") && !rs { rs = $1; grs = $NF }
        at("read end") && !re { re = $1; gre = $NF }
        # busybox here prints no "bytes copied" line: count full "N+0 records out"
        index($0, "LBVM-TEST: dd ") && $4 == recs "+0" && $5 == "records" && $6 == "out" { ok++ }
        index($0, "LBVM-TEST: done") { done = 1 }
        index($0, "LBVM-TEST: error") && rc == 0 { rc = "error" }
        END {
            if (rc == 0 && !done) rc = "no-done"
            if (rc == 0 && ok != 2) rc = "short-dd"
            if (rc == 0 && used + 0 < bytes / 1024) rc = "not-written"
            f = "%.3f"
            printf "%s %s %s " f " %s %s %s %s %s\n", s, r, rc, t1 - t0,
                ws ? sprintf(f, ws - t0) : "-",
                (ws && we) ? sprintf(f, we - ws) : "-", (rs && re) ? sprintf(f, re - rs) : "-",
                (gws != "" && gwe != "") ? sprintf("%.2f", gwe - gws) : "-",
                (grs != "" && gre != "") ? sprintf("%.2f", gre - grs) : "-"
        }' "$log.console" >> "$WORK/runs"
    tail -n1 "$WORK/runs" | awk '{ printf "  %-5s run %s: exit %s, wall %s s (write start at %s s; write %s s, read %s s; guest %s s, %s s)\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' >&2
}

: > "$WORK/runs"
echo "bench-disk: $runs run(s) of ${MIB} MiB write + read; systems: $systems" >&2
for r in $(seq 1 "$runs"); do
    for s in $systems; do run_one "$s" "$r"; done
done

# col SYSTEM N: field N of the successful runs
col() { awk -v s="$1" -v n="$2" '$1 == s && $3 == 0 && $n != "-" { print $n }' "$WORK/runs"; }
mibs() { awk -v t="$1" -v m="$MIB" 'BEGIN { if (t == "-" || t == 0) print "-"; else printf "%.1f\n", m / t }'; }

{
    echo "## lbvm disk benchmark: ${MIB} MiB sequential O_DIRECT write and read of /dev/sda (AHCI)"
    echo
    echo "Debian $(cat "$CACHE/k686/RELEASE") kernel. Host: $(nproc) CPUs, $(uname -m);" \
         "$(qemu-system-i386 --version 2>/dev/null | head -n1 || echo 'no QEMU'); $runs run(s) each, alternating;" \
         "medians over the successful runs; host seconds unless said."
    echo
    echo "| system | ok/runs | wall | to write start | write | read | write MiB/s | read MiB/s | guest write s | guest read s |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for s in $systems; do
        w=$(col "$s" 6 | median) rd=$(col "$s" 7 | median)
        echo "| $s | $(col "$s" 4 | wc -l)/$runs | $(col "$s" 4 | median) | $(col "$s" 5 | median) | $w | $rd |" \
             "$(mibs "$w") | $(mibs "$rd") | $(col "$s" 8 | median) | $(col "$s" 9 | median) |"
    done
    echo
    echo "| lbvm/qemu wall | lbvm/qemu to write start | lbvm/qemu write | lbvm/qemu read |"
    echo "|---|---|---|---|"
    line="|"
    for f in 4 5 6 7; do line="$line $(ratio "$(col lbvm $f | median)" "$(col qemu $f | median)") |"; done
    echo "$line"
    failed=$(awk '$3 != 0' "$WORK/runs")
    if [ -n "$failed" ]; then
        echo
        echo "Failed runs (system run exit): $(echo "$failed" | awk '{ printf "%s%s %s %s", (NR > 1 ? "; " : ""), $1, $2, $3 }')"
    fi
} > "$WORK/table.md"
cat "$WORK/table.md"
publish "$WORK/table.md" "$out" bench-disk
