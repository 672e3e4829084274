#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-build.sh [-n RUNS] [-o FILE.md] [-j JOB] [-s "lbvm qemu qemu-icount"] [-P]
# A real build in the guest (tests/boot/guest-build.sh JOB, default medium:
# configure && make of libiberty and zlib, then programs linked and run) under
# lbvm and QEMU TCG (free-running and -icount shift=0), alternating RUNS times;
# prints a markdown table of medians, phases and checks. See bench/README.md.
# -P: all the runs at the same time (on a host busy with other work, each then
# gets the same share of it); CPU seconds (user + system, from
# bash's times) are measured either way, and are the figure to compare then.
#
# Every system gets the same kernel (Debian 686), initramfs, kernel command line
# (lbvm's fixed one plus lbvm.build=JOB), 1024 MiB of RAM, a fresh copy of the
# same build disk on AHCI, and the same clock at power-on (2024-01-01). Phases
# come from the guest's "LBVM-BUILD: phase P NAME" lines, stamped with the host
# time as they arrive: a phase lasts until the next phase line or the end.
# Checks: the products' SHA-256 (libiberty.a, libz.a and the programs) are the
# same in every run of every system; lbvm's runs are identical (console bytes,
# ticks, the disk image's SHA-256 after the run).
set -u
. "$(dirname "$0")/common.sh"
runs=3 out='' job=medium systems="lbvm qemu qemu-icount" par=
while getopts "n:o:j:s:Ph" opt; do
    case $opt in
    n) runs=$OPTARG ;;
    o) out=$OPTARG ;;
    j) job=$OPTARG ;;
    s) systems=$OPTARG ;;
    P) par=1 ;;
    *) usage ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench-build: -n wants a positive number" >&2; exit 1; }
case $job in small|medium) ;; *) echo "bench-build: -j wants small or medium" >&2; exit 1 ;; esac
for s in $systems; do case $s in lbvm|qemu|qemu-icount) ;; *) echo "bench-build: unknown system $s" >&2; exit 1 ;; esac; done

here=$(cd "$(dirname "$0")" && pwd)
LBVM_TEST_TIMEOUT=${LBVM_TEST_TIMEOUT:-7200}
. "$here/../tests/boot/lib.sh"
need_inputs
need_lbvm
need_guestbuild
case " $systems " in *" qemu"*)
    command -v qemu-system-i386 >/dev/null || fail "qemu-system-i386 is not installed (apt-get install qemu-system-x86)" ;;
esac
export LC_ALL=C SOURCE_DATE_EPOCH=$BUILD_EPOCH
# lbvm's fixed command line (cli/main.c), given to QEMU as it is
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0 noapic nolapic acpi=off panic=-1"
APPEND="lbvm.build=$job"
RTC_BASE=$(date -u -d "@$BUILD_EPOCH" +%Y-%m-%dT%H:%M:%S)

make_build_disk "$WORK/base.img" 2G
make_build_initramfs "$WORK/build.cpio"

# run_one SYSTEM R: one run on a fresh copy of the disk; appends to $WORK/runs
#   1 system 2 run 3 exit 4 wall 5 init->end 6 configure 7 compile 8 link
#   9 run (programs) 10 ticks 11 products digest 12 console sha256 13 disk sha256
#   14 CPU seconds (user + system of the run's processes)
# cpu_now FILE: the CPU seconds of this shell's finished children (bash's
# times, which must run in this shell, not in a command substitution)
cpu_now() { times > "$1.times"; tail -n1 "$1.times" | awk '{ n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } printf "%.2f\n", n }' > "$1"; }
run_one() {
    local s=$1 r=$2 log=$WORK/$1-$2 img=$WORK/disk-$1-$2.img t0 t1 rc c0 c1
    local -a cmd
    cp --sparse=always "$WORK/base.img" "$img" || fail "cannot copy the build disk"
    case $s in
    lbvm) cmd=(stdbuf -oL "$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/build.cpio" --append "$APPEND"
               --disk "$img" --stats --limit 100000) ;;
    qemu | qemu-icount)
        cmd=(qemu-system-i386 -accel tcg -m 1024 -nographic -no-reboot -kernel "$KERNEL_686"
             -initrd "$WORK/build.cpio" -append "$CMDLINE $APPEND" -rtc "base=$RTC_BASE,clock=vm"
             -device "ahci,id=ahci" -drive "if=none,id=d0,file=$img,format=raw" -device "ide-hd,drive=d0,bus=ahci.0")
        [ "$s" = qemu-icount ] && cmd+=(-icount shift=0) ;;
    esac
    cpu_now "$log.c0"; c0=$(cat "$log.c0")
    t0=$EPOCHREALTIME
    if [ "$s" = lbvm ]; then
        timeout -k 10 "$LBVM_TEST_TIMEOUT" "${cmd[@]}" </dev/null 2>"$log.err" | tee "$log.raw" | stamp > "$log.console"
        rc=${PIPESTATUS[0]}
        t1=$EPOCHREALTIME
    else
        # With lbvm's command line (acpi=off) QEMU's pc machine cannot power
        # off: the kernel halts and QEMU idles. Its end is the halt line, and
        # QEMU is stopped there (through its -pidfile).
        rm -f "$log.pid"
        cmd+=(-pidfile "$log.pid")
        timeout -k 10 "$LBVM_TEST_TIMEOUT" "${cmd[@]}" </dev/null 2>"$log.err" | tee "$log.raw" | stamp \
            | while IFS= read -r line; do
                printf '%s\n' "$line"
                case $line in *"reboot: System halted"* | *"reboot: Power down"*)
                    [ -s "$log.pid" ] && kill "$(cat "$log.pid")" 2>/dev/null ;;
                esac
            done > "$log.console"
        rc=${PIPESTATUS[0]}
        t1=$(awk '/reboot: (System halted|Power down)/ { t = $1 } END { print t }' "$log.console")
        if [ -n "$t1" ]; then rc=0; else t1=$EPOCHREALTIME; fi
    fi
    cpu_now "$log.c1"; c1=$(cat "$log.c1")
    local dsum
    dsum=$(sha256sum < "$img" | cut -c1-64)
    rm -f "$img"
    awk -v s="$s" -v r="$r" -v rc="$rc" -v t0="$t0" -v t1="$t1" -v errf="$log.err" -v job="$job" -v dsum="$dsum" -v cpu="$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')" \
        -v csum="$(sha256sum < "$log.raw" | cut -c1-64)" -v prod="$(grep -a '^LBVM-BUILD: sha256 ' "$log.raw" | tr -d '\r' | sha256sum | cut -c1-16)" '
        function bad(why) { if (rc == 0) rc = why }
        function close_phase(t) { if (ph != "") d[ph] += t - pt; ph = "" }
        { sub(/\r$/, "") }
        index($0, "LBVM-TEST: init reached") && !ti { ti = $1 }
        index($0, "LBVM-BUILD: phase ") { close_phase($1); ph = $4; pt = $1 }
        index($0, "LBVM-BUILD: end " job) { close_phase($1); te = $1 }
        index($0, "LBVM-TEST: error") { bad("error") }
        index($0, "LBVM-BUILD: log ") && $0 !~ /errors=0 / { bad("build-errors") }
        index($0, "LBVM-BUILD: sha256 ") { np++ }
        END {
            ticks = "-"
            while ((getline l < errf) > 0) if (l ~ /^lbvm: ticks /) { split(l, f, " "); ticks = f[3] }
            if (!te) bad("no-end")
            if (np != (job == "medium" ? 5 : 2)) bad("no-products")
            printf "%s %s %s %.3f %s %.3f %.3f %.3f %.3f %s %s %s %s %s\n", s, r, rc, t1 - t0,
                (ti && te) ? sprintf("%.3f", te - ti) : "-", d["configure"], d["compile"], d["link"], d["run"],
                ticks, prod, csum, dsum, cpu
        }' "$log.console" >> "$WORK/runs"
    tail -n1 "$WORK/runs" | awk '{ printf "  %-11s run %s: exit %s, %s s, CPU %s s (init->end %s s: configure %s, compile %s, link %s, run %s; ticks %s; products %s)\n", $1, $2, $3, $4, $14, $5, $6, $7, $8, $9, $10, $11 }' >&2
}

: > "$WORK/runs"
echo "bench-build: $runs run(s) of job $job; systems: $systems; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for r in $(seq 1 "$runs"); do
    for s in $systems; do
        if [ -n "$par" ]; then run_one "$s" "$r" & else run_one "$s" "$r"; fi
    done
done
wait
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

has() { case " $systems " in *" $1 "*) return 0 ;; esac; return 1; }
col() { awk -v s="$1" -v n="$2" '$1 == s && $3 == 0 && $n != "-" { print $n }' "$WORK/runs"; }
distinct() { awk -v s="$1" -v n="$2" '$1 == s { print $n }' "$WORK/runs" | sort -u; }
{
    echo "## lbvm build benchmark: job \`$job\`, Debian $(cat "$CACHE/k686/RELEASE") kernel"
    echo
    echo "Host: $(nproc) CPUs, $(uname -m); $(qemu-system-i386 --version 2>/dev/null | head -n1 || echo 'no QEMU');" \
         "$runs run(s) each, $([ -n "$par" ] && echo "all at the same time (-P)" || echo alternating); medians over the successful runs; host seconds. Load average at the end: $load_end."
    echo "Guest: $(sed -n 's/^gcc-[0-9]* \([^ ]*\) .*/gcc \1/p' "$GB/PACKAGES"), $(sed -n 's/^make \([^ ]*\) .*/make \1/p' "$GB/PACKAGES"), dash; sources: $(cat "$GB/binutils.dir") (binutils-source)."
    echo
    echo "| system | ok/runs | CPU s | wall | init->end | configure | compile | link | run | lbvm ticks |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for s in $systems; do
        echo "| $s | $(col "$s" 4 | wc -l)/$runs | $(col "$s" 14 | median) | $(col "$s" 4 | median) | $(col "$s" 5 | median) | $(col "$s" 6 | median) |" \
             "$(col "$s" 7 | median) | $(col "$s" 8 | median) | $(col "$s" 9 | median) | $(distinct "$s" 10 | paste -sd/ -) |"
    done
    echo
    echo "| ratio | CPU | wall | init->end | configure | compile | link |"
    echo "|---|---|---|---|---|---|---|"
    for q in qemu qemu-icount; do
        has lbvm && has "$q" || continue
        line="| lbvm/$q |"
        for n in 14 4 5 6 7 8; do line="$line $(ratio "$(col lbvm $n | median)" "$(col "$q" $n | median)") |"; done
        echo "$line"
    done
    echo
    np=$(awk '$3 == 0 { print $11 }' "$WORK/runs" | sort -u | wc -l)
    echo "- products (SHA-256 of $([ "$job" = small ] && echo "libz.a and minigzip" || echo "libiberty.a, libz.a and the 3 programs")): $np distinct digest(s) over $(awk '$3 == 0' "$WORK/runs" | wc -l) successful run(s): $(awk '$3 == 0 { print $11 }' "$WORK/runs" | sort -u | paste -sd, -)"
    case " $systems " in *" lbvm "*)
        nt=$(distinct lbvm 10 | wc -l) nc=$(distinct lbvm 12 | wc -l) nd=$(distinct lbvm 13 | wc -l)
        if [ "$nt" = 1 ] && [ "$nc" = 1 ] && [ "$nd" = 1 ]; then
            echo "- lbvm: the $runs run(s) are identical: ticks $(distinct lbvm 10), console $(distinct lbvm 12 | cut -c1-16), disk $(distinct lbvm 13 | cut -c1-16)"
        else
            echo "- lbvm: **NOT IDENTICAL**: $nt distinct ticks, $nc consoles, $nd disk digests"
        fi ;;
    esac
    failed=$(awk '$3 != 0 { printf "%s%s %s %s", (n++ ? "; " : ""), $1, $2, $3 }' "$WORK/runs")
    [ -z "$failed" ] || echo "- failed runs (system run exit): $failed"
} > "$WORK/table.md"
cat "$WORK/table.md"
publish "$WORK/table.md" "$out" bench-build
