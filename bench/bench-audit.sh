#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-audit.sh [-n RUNS] [-e TICKS] [-t TEST] [-o FILE.md]
# The audit in parallel against the run it checks: the 686 test boot with
# lbvm.test=TEST (default loop: 21 G ticks) and a checkpoint every TICKS
# (default 2G), then `lbvm bundle`, `lbvm verify JOURNAL` (the replay from the
# boot), and `lbvm verify BUNDLE` with --jobs 1 and --jobs 2. Prints the host
# seconds of each, wall and CPU (medians over RUNS), per segment (from --jobs
# 1, where each runs alone) its guest ticks and host seconds, and what --jobs
# N makes of those on a host with N free cores. See docs/performance.md.
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

# t NAME CMD...: CMD's host seconds, wall and CPU (user + system, children
# included), appended to $WORK/NAME.times as "WALL CPU"; its stdout and
# stderr in $WORK/NAME.out and .err
t() {
    local name=$1 rc=0 TIMEFORMAT='%R %U %S'
    shift
    { time "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || rc=$?; } 2> "$WORK/$name.time1"
    awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' "$WORK/$name.time1" >> "$WORK/$name.times"
    return $rc
}
# col N FILE: column N of FILE
col() { awk -v c="$1" '{ print $c }' "$2"; }
# lpt N: the makespan of the durations on stdin (in the order given) on N
# workers, each taken by the least loaded one (what --jobs N does)
lpt() { awk -v n="$1" '{ m = 1; for (i = 2; i <= n; i++) if (w[i] < w[m]) m = i; w[m] += $1 }
                       END { x = 0; for (i = 1; i <= n; i++) if (w[i] > x) x = w[i]; printf "%.1f\n", x }'; }

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
    echo "| | wall s | CPU s | wall / run |"
    echo "|---|---|---|---|"
    base=$(col 1 "$WORK/run.times" | median)
    for n in run bundle replay jobs1 jobs2; do
        m=$(col 1 "$WORK/$n.times" | median)
        case $n in run) d="the run (checkpoints, journal)" ;; bundle) d="lbvm bundle" ;; replay) d="lbvm verify JOURNAL (replay from the boot)" ;;
            jobs1) d="lbvm verify BUNDLE --jobs 1" ;; jobs2) d="lbvm verify BUNDLE --jobs 2" ;; esac
        echo "| $d | $m | $(col 2 "$WORK/$n.times" | median) | $(ratio "$m" "$base") |"
    done
    echo
    echo "Per segment (--jobs 1, last run), host seconds of its processes: the start check, then the segment"
    echo
    echo "| segment | guest ticks | start check wall | CPU | segment wall | CPU |"
    echo "|---|---|---|---|---|---|"
    : > "$WORK/seg.cpu"; : > "$WORK/start.cpu"
    "$LBVM" verify "$WORK/bundle" --list-segments | while read -r id ck ticks; do
        sw=$(sed -n "s/^lbvm: verify: start of segment $id [^(]*(\([0-9.]*\) s, CPU \([0-9.]*\) s).*/\1 \2/p" "$WORK/jobs1.err")
        gw=$(sed -n "s/^lbvm: verify: segment $id identical (\([0-9.]*\) s, CPU \([0-9.]*\) s).*/\1 \2/p" "$WORK/jobs1.err")
        echo "| $id | $ticks | ${sw% *} | ${sw#* } | ${gw% *} | ${gw#* } |"
        [ -n "$sw" ] && echo "${sw#* }" >> "$WORK/start.cpu"
        echo "$id $ticks ${gw#* }" >> "$WORK/seg.cpu"
    done
    # --jobs N on a host with N free cores: the parent's own CPU (pass 1),
    # then the start checks and the segments in lbvm's order (the boot, then
    # the longest in guest time), each worker taking the next one
    own=$(awk -v t="$(col 2 "$WORK/jobs1.times" | tail -n1)" '{ s += $1 } END { printf "%.1f\n", t - s }' \
        "$WORK/start.cpu" <(cut -d' ' -f3 "$WORK/seg.cpu"))
    order() { awk '{ print ($1 == 1 ? 1 : 0), $2, $3 }' "$WORK/seg.cpu" | sort -k1,1nr -k2,2nr | cut -d' ' -f3; }
    echo
    echo "From these CPU times, on a host with free cores (pass 1 in the parent: $own s):"
    echo
    echo "| --jobs | start checks | segments | audit | / run CPU |"
    echo "|---|---|---|---|---|"
    for n in 1 2 4 8 64; do
        a=$(lpt "$n" < "$WORK/start.cpu"); b=$(order | lpt "$n")
        tot=$(awk -v x="$own" -v y="$a" -v z="$b" 'BEGIN { printf "%.1f\n", x + y + z }')
        echo "| $n | $a | $b | $tot | $(ratio "$tot" "$(col 2 "$WORK/run.times" | median)") |"
    done
} > "$WORK/table"
cat "$WORK/table"
publish "$WORK/table" "$out" bench-audit
