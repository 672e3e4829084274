#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-audit.sh [-n RUNS] [-e TICKS] [-t TEST] [-o FILE.md]
# The audit in parallel against the run it checks: the 686 test boot with
# lbvm.test=TEST (default loop: 21 G ticks) and a checkpoint every TICKS
# (default 2G), then `lbvm bundle`, `lbvm verify JOURNAL` (the replay from the
# boot), and `lbvm verify BUNDLE` with --jobs 1 and --jobs 2. Prints the host
# seconds of each (medians over RUNS), and per segment (from --jobs 1, where
# each runs alone) its guest ticks and host seconds. See docs/performance.md.
set -u
runs=1 every=2G test=loop out=''
. "$(dirname "$0")/common.sh"
while getopts "n:e:t:o:h" opt; do
    case $opt in
    n) runs=$OPTARG ;;
    e) every=$OPTARG ;;
    t) test=$OPTARG ;;
    o) out=$OPTARG ;;
    *) usage ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench-audit: -n wants a positive number" >&2; exit 1; }
. "$(dirname "$0")/../tests/boot/lib.sh"
need_inputs
need_lbvm
build_initramfs "$WORK/initrd.cpio"

# t NAME CMD...: CMD's host seconds appended to $WORK/NAME.times; stdout and
# stderr in $WORK/NAME.out and .err
t() {
    local name=$1 s rc=0
    shift
    s=$EPOCHREALTIME
    "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || rc=$?
    awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }' >> "$WORK/$name.times"
    return $rc
}

for r in $(seq "$runs"); do
    rm -rf "$WORK/ck" "$WORK/bundle"
    t run "$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/initrd.cpio" --append "lbvm.test=$test" \
        --console "$WORK/run.console" --checkpoint-dir "$WORK/ck" --checkpoint-every "$every" --journal "$WORK/run.journal" \
        || fail "the run failed" "$WORK/run.err"
    t bundle "$LBVM" bundle "$WORK/run.journal" --checkpoint-dir "$WORK/ck" -o "$WORK/bundle" || fail "lbvm bundle failed" "$WORK/bundle.err"
    t replay "$LBVM" verify "$WORK/run.journal" || fail "lbvm verify JOURNAL failed" "$WORK/replay.out"
    t jobs1 "$LBVM" verify "$WORK/bundle" --jobs 1 || fail "lbvm verify --jobs 1 failed" "$WORK/jobs1.err"
    t jobs2 "$LBVM" verify "$WORK/bundle" --jobs 2 || fail "lbvm verify --jobs 2 failed" "$WORK/jobs2.err"
    echo "bench-audit: run $r of $runs: run $(tail -n1 "$WORK/run.times") s, --jobs 1 $(tail -n1 "$WORK/jobs1.times") s, --jobs 2 $(tail -n1 "$WORK/jobs2.times") s" >&2
done

{
    nseg=$(grep -c '^segment ' "$WORK/bundle/MANIFEST")
    echo "lbvm.test=$test, a checkpoint every $every ticks: $(grep -c '^point ' "$WORK/run.journal") points, $nseg segments, $(head -n1 "$WORK/jobs1.out" | sed 's/.*last at \([0-9]*\) ticks.*/\1/') ticks; host load at the end: $(cut -d' ' -f1-3 /proc/loadavg); medians of $runs"
    echo
    echo "| | host s | / run |"
    echo "|---|---|---|"
    base=$(median < "$WORK/run.times")
    for n in run bundle replay jobs1 jobs2; do
        m=$(median < "$WORK/$n.times")
        case $n in run) d="the run (checkpoints, journal)" ;; bundle) d="lbvm bundle" ;; replay) d="lbvm verify JOURNAL (replay from the boot)" ;;
            jobs1) d="lbvm verify BUNDLE --jobs 1" ;; jobs2) d="lbvm verify BUNDLE --jobs 2" ;; esac
        echo "| $d | $m | $(ratio "$m" "$base") |"
    done
    echo
    echo "Per segment (--jobs 1, last run): start check, then the segment; guest ticks, host s"
    echo
    echo "| segment | ticks | start check s | segment s |"
    echo "|---|---|---|---|"
    "$LBVM" verify "$WORK/bundle" --list-segments | while read -r id ck ticks; do
        sc=$(sed -n "s/^lbvm: verify: start of segment $id [^(]*(\([0-9.]*\) s).*/\1/p" "$WORK/jobs1.err")
        sg=$(sed -n "s/^lbvm: verify: segment $id identical (\([0-9.]*\) s).*/\1/p" "$WORK/jobs1.err")
        echo "| $id | $ticks | ${sc:--} | $sg |"
    done
} > "$WORK/table"
cat "$WORK/table"
publish "$WORK/table" "$out" bench-audit
