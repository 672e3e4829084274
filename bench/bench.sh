#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench.sh [-n RUNS] [-o FILE.md] [-w "boot sha loop"] [-s "lbvm qemu qemu-icount"]
# Boots Debian's 686 kernel with the test initramfs under lbvm and under QEMU
# TCG (free-running and -icount shift=0), runs each workload RUNS times,
# alternating the systems, and prints a markdown table of medians and ratios.
# See bench/README.md.
set -u
. "$(dirname "$0")/common.sh"
bench_options bench "boot sha loop" "lbvm qemu qemu-icount" "$@"

. "$(dirname "$0")/../tests/boot/lib.sh"
need_inputs
need_lbvm
case " $systems " in *" qemu"*)
    command -v qemu-system-i386 >/dev/null || fail "qemu-system-i386 is not installed (apt-get install qemu-system-x86)" ;;
esac
build_initramfs "$WORK/initrd.cpio"
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0 panic=-1"

# run_one SYSTEM WORKLOAD R: one run; appends to $WORK/runs the fields
#   1 system 2 workload 3 run 4 exit 5 wall 6 to-init 7 to-done 8 init->done 9 guest-seconds 10 ticks
run_one() {
    local s=$1 w=$2 r=$3 log=$WORK/$1-$2-$3 t0 t1 rc
    local -a cmd
    case $s in
    # line-buffered stdout, so each console line is timestamped when it is
    # printed rather than when a stdio buffer fills
    lbvm) cmd=(stdbuf -oL "$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/initrd.cpio" --append "lbvm.test=$w" --stats) ;;
    qemu | qemu-icount)
        cmd=(qemu-system-i386 -accel tcg -m 1024 -nographic -no-reboot -kernel "$KERNEL_686"
             -initrd "$WORK/initrd.cpio" -append "$CMDLINE lbvm.test=$w")
        [ "$s" = qemu-icount ] && cmd+=(-icount shift=0) ;;
    esac
    t0=$EPOCHREALTIME
    timeout -k 10 "$LBVM_TEST_TIMEOUT" "${cmd[@]}" </dev/null 2>"$log.err" | stamp > "$log.console"
    rc=${PIPESTATUS[0]}
    t1=$EPOCHREALTIME
    awk -v s="$s" -v w="$w" -v r="$r" -v rc="$rc" -v t0="$t0" -v t1="$t1" -v errf="$log.err" '
        index($0, "LBVM-TEST: init reached") && !ti { ti = $1 }
        index($0, "LBVM-TEST: done") && !td { td = $1 }
        index($0, "LBVM-TEST: result init-uptime ") && g == "" { g = $NF }
        index($0, "LBVM-TEST: result seconds ") { g = $NF }
        index($0, "LBVM-TEST: error") { rc = "error" }
        # wrong answers are failed runs, not fast ones
        index($0, "LBVM-TEST: result sha256 ") && $NF != "3b6a07d0d404fab4e23b6d34bc6696a6a312dd92821332385e5af7c01c421351" { rc = "bad-sha256" }
        index($0, "LBVM-TEST: result loop ") && $NF != 200000 { rc = "bad-loop" }
        END {
            ticks = "-"
            while ((getline l < errf) > 0) if (l ~ /^lbvm: ticks /) { split(l, f, " "); ticks = f[3] }
            if (!td && rc == 0) rc = "no-done"
            printf "%s %s %s %s %.3f %s %s %s %s %s\n", s, w, r, rc, t1 - t0,
                ti ? sprintf("%.3f", ti - t0) : "-", td ? sprintf("%.3f", td - t0) : "-",
                (ti && td) ? sprintf("%.3f", td - ti) : "-", g != "" ? g : "-", ticks
        }' "$log.console" >> "$WORK/runs"
    tail -n1 "$WORK/runs" | awk '{ printf "  %-11s %-4s run %s: exit %s, %s s (init at %s s, done at %s s, init->done %s s; guest %s s)\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' >&2
}

: > "$WORK/runs"
echo "bench: $runs run(s) of: $workloads; systems: $systems" >&2
for w in $workloads; do
    for r in $(seq 1 "$runs"); do
        for s in $systems; do run_one "$s" "$w" "$r"; done
    done
done


{
    echo "## lbvm benchmark: Debian $(cat "$CACHE/k686/RELEASE") kernel, test initramfs"
    echo
    echo "Host: $(nproc) CPUs, $(uname -m); $(qemu-system-i386 --version 2>/dev/null | head -n1 || echo 'no QEMU');" \
         "$runs run(s) each, alternating; medians over the successful runs; host seconds unless said."
    echo
    echo "| workload | system | ok/runs | wall (whole process) | to init | to done | init->done | guest seconds | lbvm ticks |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for w in $workloads; do
        for s in $systems; do
            ok=$(run_col "$s" "$w" 5 | wc -l)
            ticks=$(run_col "$s" "$w" 10 | sort -u | paste -sd/ -)
            echo "| $w | $s | $ok/$runs | $(run_col "$s" "$w" 5 | median) | $(run_col "$s" "$w" 6 | median) |" \
                 "$(run_col "$s" "$w" 7 | median) | $(run_col "$s" "$w" 8 | median) | $(run_col "$s" "$w" 9 | median) | ${ticks:--} |"
        done
    done
    echo
    ratio_table
    failed_runs
} > "$WORK/table.md"
cat "$WORK/table.md"
publish "$WORK/table.md" "$out" bench
