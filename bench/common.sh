# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers shared by the bench scripts (sourced, not run).

# usage: the script's own header comment (lines 2-6) on stderr, exit 1
usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 1; }

# stamp: prefix each line of stdin with the host time it arrived (bash's clock)
stamp() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
    done
}

# median of the numeric values on stdin ("-" when there are none)
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ratio A B [DECIMALS]: A / B, or "-" when either is missing or B is 0
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.*f\n", d, a / b }'; }

# publish TABLE OUT NAME: copy TABLE to OUT atomically (nothing when OUT is empty)
publish() {
    [ -n "$2" ] || return 0
    cp "$1" "$2.tmp.$$" && mv "$2.tmp.$$" "$2" || { echo "$3: cannot write $2" >&2; exit 1; }
}

# bench_options NAME "WORKLOADS" "SYSTEMS" "$@": the options of bench.sh and
# bench-work.sh (-n RUNS -o FILE -w WORKLOADS -s SYSTEMS) into runs, out,
# workloads and systems (default: 3 runs, all of each), each value checked
bench_options() {
    local name=$1 allw=$2 alls=$3 opt w
    shift 3
    runs=3 out='' workloads=$allw systems=$alls
    OPTIND=1
    while getopts "n:o:w:s:h" opt; do
        case $opt in
        n) runs=$OPTARG ;;
        o) out=$OPTARG ;;
        w) workloads=$OPTARG ;;
        s) systems=$OPTARG ;;
        *) usage ;;
        esac
    done
    [[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "$name: -n wants a positive number" >&2; exit 1; }
    for w in $workloads; do case " $allw " in *" $w "*) ;; *) echo "$name: unknown workload $w" >&2; exit 1 ;; esac; done
    for w in $systems; do case " $alls " in *" $w "*) ;; *) echo "$name: unknown system $w" >&2; exit 1 ;; esac; done
}

# For bench.sh and bench-work.sh, whose $WORK/runs lines start "SYSTEM WORKLOAD
# RUN EXIT", then wall (5), to done (7) and init->done (8) among the rest:
# run_col SYSTEM WORKLOAD N: field N of the successful runs
run_col() { awk -v s="$1" -v w="$2" -v n="$3" '$1 == s && $2 == w && $4 == 0 && $n != "-" { print $n }' "$WORK/runs"; }
# ratio_table: lbvm's medians over QEMU's and QEMU icount's, per workload of $workloads
ratio_table() {
    local w f l line
    echo "| workload | lbvm/qemu wall | lbvm/qemu-icount wall | lbvm/qemu to done | lbvm/qemu-icount to done | lbvm/qemu init->done | lbvm/qemu-icount init->done |"
    echo "|---|---|---|---|---|---|---|"
    for w in $workloads; do
        line="| $w |"
        for f in 5 7 8; do
            l=$(run_col lbvm "$w" $f | median)
            line="$line $(ratio "$l" "$(run_col qemu "$w" $f | median)") | $(ratio "$l" "$(run_col qemu-icount "$w" $f | median)") |"
        done
        echo "$line"
    done
}
# failed_runs: a line naming the runs that did not succeed, if any
failed_runs() {
    local failed
    failed=$(awk '$4 != 0' "$WORK/runs")
    [ -n "$failed" ] || return 0
    echo
    echo "Failed runs (system workload run exit): $(echo "$failed" | awk '{ printf "%s%s %s %s %s", (NR > 1 ? "; " : ""), $1, $2, $3, $4 }')"
}
