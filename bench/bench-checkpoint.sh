#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-checkpoint.sh [-n RUNS] [-o FILE.md] [-m "1024 3072"] [-p PERCENT] [-w "ckpt journal"]
# Checkpoint and restore cost of a booted guest that filled PERCENT (default
# 60) of its RAM with mixed data, for each RAM size in MiB (ckpt); and the
# overhead of a journal on the 686 test boot (journal). Runs interleave;
# prints a markdown table of medians and ratios. See bench/README.md.
set -u
runs=3 out='' mems="1024 3072" pct=60 parts="ckpt journal"
. "$(dirname "$0")/common.sh"
while getopts "n:o:m:p:w:h" opt; do
    case $opt in
    n) runs=$OPTARG ;;
    o) out=$OPTARG ;;
    m) mems=$OPTARG ;;
    p) pct=$OPTARG ;;
    w) parts=$OPTARG ;;
    *) usage ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench-checkpoint: -n wants a positive number" >&2; exit 1; }
[[ $pct =~ ^[1-9][0-9]?$ ]] && [ "$pct" -le 85 ] || { echo "bench-checkpoint: -p wants 1 to 85 (percent of RAM)" >&2; exit 1; }
for w in $parts; do case $w in ckpt|journal) ;; *) echo "bench-checkpoint: unknown part $w (ckpt, journal)" >&2; exit 1 ;; esac; done
has() { case " $parts " in *" $1 "*) return 0 ;; esac; return 1; }
for m in $mems; do
    [[ $m =~ ^[0-9]+$ ]] && [ "$m" -ge 64 ] && [ "$m" -le 3072 ] || { echo "bench-checkpoint: -m: RAM sizes are 64 to 3072 MiB" >&2; exit 1; }
done

. "$(dirname "$0")/../tests/boot/lib.sh"
need_inputs
need_lbvm
MARKER='LBVM-BENCH: filled'     # the guest's line after which the checkpoint is taken
RAND_MIB=16 TEXT_MIB=20         # one round of the fill: a copy of each file

# --- the fill guest: busybox and an /init that fills a tmpfs --------------
root=$WORK/fill-root
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/fill" || fail "cannot create $root"
cp "$BUSYBOX" "$root/bin/busybox" && chmod 755 "$root/bin/busybox" || fail "cannot copy busybox"
for a in sh mount cat dd cp rm poweroff; do ln -sf busybox "$root/bin/$a"; done
cat > "$root/init" <<INIT
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
up() { read -r u _ </proc/uptime; echo \$u; }
echo "LBVM-BENCH: init reached at \$(up)"
# MemTotal in KiB, then the target in MiB
while read -r k v _; do [ "\$k" = MemTotal: ] && total=\$v; done </proc/meminfo
target=\$((total * $pct / 100 / 1024))
mount -t tmpfs -o size=90% fill /fill || echo "LBVM-BENCH: error mount tmpfs"
echo "LBVM-BENCH: fill start, target \$target MiB, at \$(up)"
# Random data (incompressible), and text that compresses well (an 80-byte
# line doubled 18 times: 20 MiB); each round adds a copy of both, so about
# half of the filled RAM is each.
dd if=/dev/urandom of=/fill/random bs=1M count=$RAND_MIB 2>/dev/null || echo "LBVM-BENCH: error dd"
echo "lbvm checkpoint benchmark: a line of repetitive text, said again and again ...." >/fill/text
k=0
while [ \$k -lt 9 ]; do
    cat /fill/text /fill/text >/fill/text2 && cat /fill/text2 /fill/text2 >/fill/text || echo "LBVM-BENCH: error cat"
    k=\$((k + 1))
done
rm -f /fill/text2
echo "LBVM-BENCH: sources made at \$(up)"
n=\$(($RAND_MIB + $TEXT_MIB))
i=0
while [ \$n -lt \$target ]; do
    cp /fill/random /fill/random.\$i && cp /fill/text /fill/text.\$i || { echo "LBVM-BENCH: error cp"; break; }
    i=\$((i + 1))
    n=\$((n + $RAND_MIB + $TEXT_MIB))
done
echo "$MARKER \$n MiB at \$(up)"
echo "LBVM-BENCH: after the checkpoint at \$(up)"
poweroff -f
INIT
chmod 755 "$root/init"
"$LBVM" mkinitramfs -o "$WORK/fill.cpio" "$root" >"$WORK/mkinitramfs.err" 2>&1 \
    || fail "lbvm mkinitramfs failed" "$WORK/mkinitramfs.err"
build_initramfs "$WORK/initrd.cpio"

# ckpt_one MEM R: boot the fill guest with MEM MiB, checkpoint at the marker,
# inspect and resume that checkpoint; appends to $WORK/ckpt-runs
#   1 mem 2 run 3 status 4 ckpt-s 5 file-MiB 6 nonzero-MiB 7 inspect-s
#   8 resume-to-line-s 9 resume-wall-s 10 guest-s-at-ckpt 11 fill-host-s 12 boot-wall-s
ckpt_one() {
    local mem=$1 r=$2 log=$WORK/ckpt-$1-$2 dir=$WORK/ckpt-$1-$2.d rdir=$WORK/resume-$1-$2.d
    local t0 t1 rc status=0 line path ticks secs size nz ti tr1 tr2 limit tfirst fill
    rm -rf "$dir" "$rdir"
    t0=$EPOCHREALTIME
    timeout -k 10 "$LBVM_TEST_TIMEOUT" stdbuf -oL "$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/fill.cpio" \
        --mem "$mem" --limit "$LBVM_TEST_LIMIT" --checkpoint-dir "$dir" --checkpoint-on "^$MARKER" \
        </dev/null 2>"$log.err" | stamp >"$log.console"
    rc=${PIPESTATUS[0]}
    t1=$EPOCHREALTIME
    # lbvm: checkpoint PATH at N ticks (X MiB in Y s) after: LINE
    line=$(grep -m1 '^lbvm: checkpoint .* at [0-9]* ticks (' "$log.err")
    path=$(echo "$line" | awk '{ print $3 }')
    ticks=$(echo "$line" | awk '{ print $5 }')
    secs=$(echo "$line" | sed -n 's/.* MiB in \([0-9.]*\) s).*/\1/p')
    fill=$(awk -v m="$MARKER" 'index($0, "LBVM-BENCH: fill start") { a = $1 } index($0, m) && a { printf "%.3f", $1 - a; exit }' "$log.console")
    if [ "$rc" != 0 ]; then status="exit-$rc"
    elif grep -q 'LBVM-BENCH: error' "$log.console"; then status=guest-error
    elif [ -z "$line" ] || ! [ -s "$path" ]; then status=no-checkpoint
    fi
    size=- nz=- ti=- tfirst=- tr2=- secs=${secs:--}
    if [ "$status" = 0 ]; then
        size=$(stat -c %s "$path" | awk '{ printf "%.1f", $1 / 1048576 }')
        # inspect maps the file and checks its SHA-256 before it reads anything
        ti=$EPOCHREALTIME
        "$LBVM" inspect "$path" >"$log.inspect" 2>&1 || status=inspect-failed
        ti=$(awk -v a="$ti" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
        # RAM pages N of M not zero (X MiB), stored in B bytes
        nz=$(awk '$1 == "RAM" && $2 == "pages" { printf "%.1f", $3 * 4096 / 1048576 }' "$log.inspect")
        [ -n "$nz" ] || { nz=-; [ "$status" = 0 ] && status=no-ram-line; }
        # Resume with a limit just past the checkpoint's guest time; the
        # guest's first line after the marker says the machine is back.
        limit=$(( ticks / 1000000000 + 1 ))
        tr1=$EPOCHREALTIME
        timeout -k 10 "$LBVM_TEST_TIMEOUT" stdbuf -oL "$LBVM" resume "$path" --limit "$limit" --checkpoint-dir "$rdir" \
            </dev/null 2>"$log.resume.err" | stamp >"$log.resume.console"
        rc=${PIPESTATUS[0]}
        tr2=$EPOCHREALTIME
        tfirst=$(awk -v a="$tr1" 'index($0, "LBVM-BENCH: after the checkpoint") { printf "%.3f", $1 - a; exit }' "$log.resume.console")
        tr2=$(awk -v a="$tr1" -v b="$tr2" 'BEGIN { printf "%.3f", b - a }')
        if [ -z "$tfirst" ]; then tfirst=-; [ "$status" = 0 ] && status="resume-exit-$rc"; fi
    fi
    rm -rf "$dir" "$rdir"
    printf '%s %s %s %s %s %s %s %s %s %s %s %.3f\n' "$mem" "$r" "$status" "$secs" "$size" "$nz" "$ti" "$tfirst" \
        "$tr2" "$(awk -v t="${ticks:-0}" 'BEGIN { printf "%.2f", t / 1e9 }')" "${fill:--}" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >>"$WORK/ckpt-runs"
    tail -n1 "$WORK/ckpt-runs" | awk '{ printf "  %5s MiB run %s: %s; checkpoint %s s, %s MiB file, %s MiB non-zero RAM; inspect %s s; resume: first line %s s, wall %s s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' >&2
}

# boot_one KIND R: the 686 test boot (lbvm.test=boot), plain or with a
# journal and a point at the init marker; appends to $WORK/journal-runs
#   1 kind 2 run 3 status 4 wall-s 5 cpu-s (user + system)
boot_one() {
    local kind=$1 r=$2 log=$WORK/boot-$1-$2 t0 t1 rc status=0 TIMEFORMAT='%3U %3S'
    local -a extra=()
    [ "$kind" = journal ] && extra=(--journal "$WORK/journal-$r" --checkpoint-on 'LBVM-TEST: init reached')
    t0=$EPOCHREALTIME
    { time timeout -k 10 "$LBVM_TEST_TIMEOUT" "$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/initrd.cpio" \
        --append lbvm.test=boot --limit "$LBVM_TEST_LIMIT" "${extra[@]}" </dev/null >"$log.console" 2>"$log.err"; } \
        2>"$log.time"
    rc=$?
    t1=$EPOCHREALTIME
    if [ "$rc" != 0 ]; then status="exit-$rc"
    elif ! grep -q 'LBVM-TEST: done' "$log.console"; then status=no-done
    elif [ "$kind" = journal ] && ! grep -q '^point .* marker ' "$WORK/journal-$r"; then status=no-point
    fi
    rm -f "$WORK/journal-$r"
    printf '%s %s %s %.3f %s\n' "$kind" "$r" "$status" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
        "$(awk 'NF == 2 { printf "%.3f", $1 + $2 }' "$log.time")" >>"$WORK/journal-runs"
    tail -n1 "$WORK/journal-runs" | awk '{ printf "  boot %-7s run %s: %s, wall %s s, CPU %s s\n", $1, $2, $3, $4, $5 }' >&2
}

: >"$WORK/ckpt-runs"
: >"$WORK/journal-runs"
echo "bench-checkpoint: $runs run(s) of: $parts; RAM sizes: $mems MiB, filled to $pct%" >&2
if has ckpt; then
    for r in $(seq 1 "$runs"); do
        for m in $mems; do ckpt_one "$m" "$r"; done
    done
fi
if has journal; then
    for r in $(seq 1 "$runs"); do
        boot_one plain "$r"
        boot_one journal "$r"
    done
fi

# ccol MEM N: field N of the successful checkpoint runs with MEM MiB
ccol() { awk -v m="$1" -v n="$2" '$1 == m && $3 == 0 && $n != "-" { print $n }' "$WORK/ckpt-runs"; }
# per-run quotient of fields A / B (seconds per GiB when B is in MiB: scale 1024)
cquot() { awk -v m="$1" -v a="$2" -v b="$3" -v k="$4" '$1 == m && $3 == 0 && $a != "-" && $b != "-" && $b > 0 { printf "%.3f\n", $a / $b * k }' "$WORK/ckpt-runs"; }
# jcol KIND N: field N of the successful boots of KIND
jcol() { awk -v k="$1" -v n="$2" '$1 == k && $3 == 0 && $n != "" { print $n }' "$WORK/journal-runs"; }

{
    echo "## lbvm checkpoint benchmark"
    echo
    echo "Debian $(cat "$CACHE/k686/RELEASE") 686 kernel. Host: $(nproc) CPUs, $(uname -m); $runs run(s) each," \
         "interleaved; medians over the successful runs; host seconds."
    echo
    if has ckpt; then
        echo "Checkpoint of a guest whose /init filled $pct% of its RAM (tmpfs, half random, half repetitive text)," \
             "taken at a console marker (\`--checkpoint-on\`); restore with \`lbvm resume --limit\` just past it:"
        echo
        echo "| RAM MiB | ok/runs | non-zero RAM MiB | file MiB | checkpoint s | s per GiB non-zero | inspect (SHA-256 check) s | resume to first line s | resume s per GiB non-zero | resume wall s | guest s at checkpoint | fill s |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
        for m in $mems; do
            echo "| $m | $(ccol "$m" 4 | wc -l)/$runs | $(ccol "$m" 6 | median) | $(ccol "$m" 5 | median) |" \
                 "$(ccol "$m" 4 | median) | $(cquot "$m" 4 6 1024 | median) | $(ccol "$m" 7 | median) |" \
                 "$(ccol "$m" 8 | median) | $(cquot "$m" 8 6 1024 | median) | $(ccol "$m" 9 | median) |" \
                 "$(ccol "$m" 10 | median) | $(ccol "$m" 11 | median) |"
        done
    fi
    if has journal; then
        has ckpt && echo
        echo "Journal overhead on the 686 test boot (\`lbvm.test=boot\`, 1024 MiB), whole process; journal:" \
             "\`--journal F --checkpoint-on 'LBVM-TEST: init reached'\`:"
        echo
        pw=$(jcol plain 4 | median) jw=$(jcol journal 4 | median) pc=$(jcol plain 5 | median) jc=$(jcol journal 5 | median)
        echo "| ok/runs plain, journal | wall s plain | wall s journal | wall ratio | CPU s plain | CPU s journal | CPU ratio |"
        echo "|---|---|---|---|---|---|---|"
        echo "| $(jcol plain 4 | wc -l)/$runs, $(jcol journal 4 | wc -l)/$runs | $pw | $jw | $(ratio "$jw" "$pw" 3) |" \
             "$pc | $jc | $(ratio "$jc" "$pc" 3) |"
    fi
    failed=$(awk '$3 != 0 { printf "%s%s MiB run %s: %s", (n++ ? "; " : ""), $1, $2, $3 }' "$WORK/ckpt-runs")
    failed="$failed$(awk '$3 != 0 { printf "; boot %s run %s: %s", $1, $2, $3 }' "$WORK/journal-runs")"
    if [ -n "$failed" ]; then
        echo
        echo "Failed runs: ${failed#; }"
    fi
} >"$WORK/table.md"
cat "$WORK/table.md"
publish "$WORK/table.md" "$out" bench-checkpoint
