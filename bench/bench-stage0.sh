#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-stage0.sh -t TREE [-n RUNS] [-o FILE.md] [-s "lbvm qemu"] [-e tree|lbvm]
# stage0-posix's whole x86 phase from a live-bootstrap checkout (2023 layout):
# the initramfs lbvm bootstrap builds (lbvm build --allow-missing), Debian's 686
# kernel, booted by lbvm and by qemu-system-i386 -accel tcg, alternating;
# medians of the host time from the kernel's "Run /init" to the last answer
# "OK" of ARCH.answers, and the ratio. -e picks the seeds (the tree's or lbvm's).
set -u
. "$(dirname "$0")/common.sh"
tree='' seeds=tree args=()
while [ $# -gt 0 ]; do
    case $1 in
    -t) tree=${2:-}; shift 2 ;;
    -e) seeds=${2:-}; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
bench_options bench-stage0 "stage0" "lbvm qemu" "${args[@]+"${args[@]}"}"
[ -n "$tree" ] || usage
. "$(dirname "$0")/../tests/boot/lib.sh"
need_inputs
need_lbvm
case " $systems " in *" qemu"*)
    command -v qemu-system-i386 >/dev/null || fail "qemu-system-i386 is not installed (apt-get install qemu-system-x86)" ;;
esac
"$LBVM" build --tree "$tree" -o "$WORK/out" -d "$WORK/no-distfiles" --allow-missing --seeds "$seeds" \
    --disk-size 16M >/dev/null 2>"$WORK/build.err" || fail "lbvm build failed: $(tail -n1 "$WORK/build.err")"
answers=$(cat "$tree"/sysa/stage0-posix/src/x86.answers | grep -c .)
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0 noapic nolapic acpi=off panic=-1"

# run_one SYSTEM R: one run, stopped at the last answer; appends
#   1 system 2 workload 3 run 4 exit 5 to-init 6 init->answers
run_one() {
    local s=$1 r=$2 log=$WORK/$1-$2 rc t0
    local -a cmd
    case $s in
    lbvm) cmd=("$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/out/initramfs.cpio" --mem 1024) ;;
    qemu) cmd=(qemu-system-i386 -accel tcg -m 1024 -nographic -no-reboot -kernel "$KERNEL_686"
               -initrd "$WORK/out/initramfs.cpio" -append "$CMDLINE") ;;
    esac
    t0=$EPOCHREALTIME
    # stamp every line; stop the emulator at the last answer
    { timeout -k 10 "$LBVM_TEST_TIMEOUT" stdbuf -oL "${cmd[@]}" </dev/null 2>"$log.err" & echo $! >"$log.pid"; wait; } |
        stamp | awk -v n="$answers" -v pidf="$log.pid" '
            { print; fflush() }
            / OK$/ && ++ok == n { getline pid < pidf; system("kill " pid " 2>/dev/null"); exit }' >"$log.console"
    rc=$(grep -c ' OK$' "$log.console")
    awk -v s="$s" -v r="$r" -v t0="$t0" -v n="$answers" -v ok="$rc" '
        index($0, "Run /init as init process") && !ti { ti = $1 }
        / OK$/ { last = $1 }
        END { printf "%s stage0 %s %s %s %s\n", s, r, ok == n ? 0 : "answers-" ok, ti ? sprintf("%.3f", ti - t0) : "-",
                     (ti && last) ? sprintf("%.3f", last - ti) : "-" }' "$log.console" >>"$WORK/runs"
    tail -n1 "$WORK/runs" | awk '{ printf "  %-5s run %s: %s, /init at %s s, init->answers %s s\n", $1, $3, $4 == 0 ? "ok" : $4, $5, $6 }' >&2
}

: >"$WORK/runs"
echo "bench-stage0: $runs run(s) of stage0-posix ($answers answers, seeds: $seeds); systems: $systems" >&2
for r in $(seq 1 "$runs"); do
    for s in $systems; do run_one "$s" "$r"; done
done
{
    echo "| system | runs ok | median to /init (s) | median init->answers (s) | ratio to qemu |"
    echo "|---|---|---|---|---|"
    q=$(run_col qemu stage0 6 | median)
    for s in $systems; do
        m=$(run_col "$s" stage0 6 | median)
        echo "| $s | $(run_col "$s" stage0 6 | grep -c .)/$runs | $(run_col "$s" stage0 5 | median) | $m | $(ratio "$m" "$q") |"
    done
} >"$WORK/table.md"
cat "$WORK/table.md"
failed_runs
publish "$WORK/table.md" "$out" bench-stage0
