#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# soak.sh [-t HOST_SECONDS] [-e TICKS] [-s SAMPLE_SECONDS] [-o DIR] [-V] [-A]
# Hours of continuous guest work: the "loop" build of tests/boot/guest-build.sh
# (configure && make of libiberty and zlib, link and run programs, again and
# again) with a checkpoint every TICKS and a journal; samples lbvm's RSS and
# the outputs' sizes over time; then checks a middle segment. See bench/README.md.
#
# Stopped after HOST_SECONDS (default 3600) by SIGTERM (lbvm takes a final
# checkpoint). Then: `lbvm bundle` of the journal and `lbvm verify BUNDLE
# --segment K` of the middle segment (a new process resumes the checkpoint in
# the middle and must reach the next point with the same hashes); with -V also
# `lbvm verify JOURNAL --from` that checkpoint (replays the whole second half).
# DIR (default ./soak-results) gets: samples.tsv (every SAMPLE_SECONDS: host s,
# RSS, peak RSS, data segment, checkpoints, their bytes, layer bytes, journal
# bytes, console bytes, build rounds done), cpu.tsv (host s, lbvm's CPU s),
# points.tsv (each checkpoint: host s, ticks, guest s per host s and per lbvm CPU
# s since the previous, code flushes, file bytes),
# rounds.tsv (each round's host s and products' digest), the checkpoints
# (ck/), the console, rss.png, speed.png, sizes.png (gnuplot) and summary.md.
# -A: only the analysis (tables, verify, plots, summary) of the finished soak in DIR.
set -u
. "$(dirname "$0")/common.sh"
dur=3600 every=50G sample=10 outdir=soak-results full= analyse= mem_mib=1024
while getopts "t:e:s:o:VAh" opt; do
    case $opt in
    t) dur=$OPTARG ;;
    e) every=$OPTARG ;;
    s) sample=$OPTARG ;;
    o) outdir=$OPTARG ;;
    V) full=1 ;;
    A) analyse=1 ;;
    *) usage ;;
    esac
done
[[ $dur =~ ^[1-9][0-9]*$ ]] || { echo "soak: -t wants a positive number of host seconds" >&2; exit 1; }
[[ $sample =~ ^[1-9][0-9]*$ ]] || { echo "soak: -s wants a positive number of host seconds" >&2; exit 1; }
[[ $every =~ ^[1-9][0-9]*[KMG]?$ ]] || { echo "soak: -e wants a tick count (K, M, G)" >&2; exit 1; }
mkdir -p "$outdir" || { echo "soak: cannot create $outdir" >&2; exit 1; }
outdir=$(cd "$outdir" && pwd)
if [ -n "$analyse" ]; then
    [ -s "$outdir/samples.tsv" ] && [ -s "$outdir/t0" ] || { echo "soak: -A: $outdir holds no finished soak (samples.tsv, t0)" >&2; exit 1; }
else
    [ -z "$(ls -A "$outdir")" ] || { echo "soak: $outdir is not empty" >&2; exit 1; }
fi

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/boot/lib.sh"
need_inputs
need_lbvm
need_guestbuild
command -v gnuplot >/dev/null || note "gnuplot is not installed (apt-get install gnuplot-nox): no plots"
export LC_ALL=C SOURCE_DATE_EPOCH=$BUILD_EPOCH

K=$outdir/ck
J=$outdir/soak.journal
if [ -z "$analyse" ]; then
make_build_disk "$WORK/disk.img" 4G
make_build_initramfs "$WORK/build.cpio"

# lbvm with its stderr stamped line by line with the host time (the
# checkpoint announcements give ticks against host time)
t0=$EPOCHREALTIME
echo "$t0" > "$outdir/t0"
echo "$every" > "$outdir/every"
"$LBVM" boot --kernel "$KERNEL_686" --initrd "$WORK/build.cpio" --append "lbvm.build=loop" --mem "$mem_mib" \
    --disk "$WORK/disk.img" --console "$outdir/console" --stats --limit 1000000 \
    --checkpoint-dir "$K" --checkpoint-every "$every" --journal "$J" \
    2> >(stamp > "$outdir/lbvm.err") </dev/null &
pid=$!
note "lbvm $pid: soak for $dur host seconds, a checkpoint every $every ticks, samples every $sample s in $outdir"

fsize() { local s=0 f; for f in "$@"; do [ -e "$f" ] && s=$((s + $(stat -c %s "$f"))); done; echo $s; }
printf 'host_s\trss_kib\tpeak_kib\tdata_kib\tcheckpoints\tckpt_bytes\tlayer_bytes\tlive_bytes\tjournal_bytes\tconsole_bytes\trounds\tram_rss_kib\tcode_rss_kib\tanon_huge_kib\n' > "$outdir/samples.tsv"
end=$(awk -v t="$t0" -v d="$dur" 'BEGIN { printf "%.0f", t + d }')
tck=$(getconf CLK_TCK)
while kill -0 "$pid" 2>/dev/null; do
    st=/proc/$pid/status
    rss=$(awk '/^VmRSS:/ { print $2 }' "$st" 2>/dev/null) hwm=$(awk '/^VmHWM:/ { print $2 }' "$st" 2>/dev/null)
    dat=$(awk '/^VmData:/ { print $2 }' "$st" 2>/dev/null)
    # Where the RSS is (smaps): the guest RAM (the anonymous rw mapping of
    # exactly the guest's size), Unicorn's translated-code buffer (the one
    # anonymous rwx mapping), and how much of all is in transparent huge pages
    split=$(awk -v ram=$((mem_mib * 1024)) '
        /^[0-9a-f]+-[0-9a-f]+ / { kind = ($2 == "rw-p" && NF == 5) ? "rw" : ($2 == "rwxp" && NF == 5) ? "rwx" : "" }
        /^Size:/ { size = $2 }
        /^Rss:/ { if (kind == "rw" && size == ram) r += $2; else if (kind == "rwx") c += $2 }
        /^AnonHugePages:/ { h += $2 }
        END { printf "%d\t%d\t%d", r, c, h }' "/proc/$pid/smaps" 2>/dev/null)
    # lbvm's CPU seconds (utime + stime): guest speed per CPU second does not
    # depend on what else the host runs
    cpu=$(awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$pid/stat" 2>/dev/null) \
        && printf '%s\t%s\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" "$cpu" >> "$outdir/cpu.tsv"
    shopt -s nullglob
    ck=("$K"/ckpt-*.lbvm) ly=("$K"/disk*-*.layer)
    shopt -u nullglob
    printf '%.1f\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" \
        "${rss:-0}" "${hwm:-0}" "${dat:-0}" "${#ck[@]}" "$(fsize "${ck[@]}")" "$(fsize "${ly[@]}")" \
        "$(fsize "$K"/disk0.live)" "$(fsize "$J")" "$(fsize "$outdir/console")" \
        "$(grep -a -c '^LBVM-BUILD: end loop' "$outdir/console" 2>/dev/null)" "${split:-0	0	0}" >> "$outdir/samples.tsv"
    if [ "${EPOCHREALTIME%.*}" -ge "$end" ] && [ -z "${termed:-}" ]; then
        note "$dur host seconds: SIGTERM (a final checkpoint)"
        kill -TERM "$pid"
        termed=1
    fi
    grep -q '^LBVM-TEST: error' "$outdir/console" 2>/dev/null && { note "the guest reported an error: stopping"; kill -TERM "$pid"; termed=1; }
    sleep "$sample"
done
rc=0
wait "$pid" || rc=$?
sleep 1
note "lbvm exited $rc (5: stopped by SIGTERM, as planned)"
echo "$rc" > "$outdir/rc"
fi
t0=$(cat "$outdir/t0")
every=$(cat "$outdir/every" 2>/dev/null || echo "$every")
rc=$(cat "$outdir/rc" 2>/dev/null || echo "?")
cp "$outdir/lbvm.err" "$WORK/soak.err"

# points.tsv: each checkpoint's host time (its announcement), ticks, guest
# seconds per host second since the previous one, its file size, and the code
# flushes from its journal point (events=: blocks,fills r,w,x,code flushes,...)
grep '^point ' "$J" | sed -n 's/^point \([0-9]*\) .*events=\([0-9,]*\).*/\1 \2/p' \
    | awk '{ split($2, e, ","); print $1, e[5] }' > "$WORK/flushes"
# cpu.tsv (host s, lbvm's CPU s), interpolated at each checkpoint, gives guest
# seconds per CPU second too
awk -v t0="$t0" -v ff="$WORK/flushes" -v cf="$outdir/cpu.tsv" '
    function cpu_at(h,   i) {
        if (nc == 0 || h < ch[1]) return -1
        for (i = 2; i <= nc; i++) if (ch[i] >= h) return cc[i - 1] + (cc[i] - cc[i - 1]) * (h - ch[i - 1]) / (ch[i] - ch[i - 1] + 1e-9)
        return cc[nc]
    }
    BEGIN { while ((getline l < ff) > 0) { split(l, f, " "); fl[f[1]] = f[2] }
            nc = 0; while ((getline l < cf) > 0) { split(l, f, "\t"); nc++; ch[nc] = f[1]; cc[nc] = f[2] }
            print "host_s\tticks\tguest_s_per_host_s\tcode_flushes\tckpt_bytes\tguest_s_per_cpu_s\tpath"; pt = 0; ph = 0; pc = 0 }
    $2 == "lbvm:" && ($3 == "checkpoint" || ($3 == "final" && $4 == "checkpoint")) {
        p = ($3 == "final") ? $5 : $4
        t = ""; for (i = 1; i < NF; i++) if ($(i + 1) == "ticks" && $i ~ /^[0-9]+$/) t = $i
        if (t == "") next
        h = $1 - t0
        sz = 0; cmd = "stat -c %s " p " 2>/dev/null"; cmd | getline sz; close(cmd)
        c = cpu_at(h)
        printf "%.1f\t%s\t%s\t%s\t%s\t%s\t%s\n", h, t, (h > ph ? sprintf("%.4f", (t - pt) / 1e9 / (h - ph)) : "-"), \
            (t in fl ? fl[t] : "-"), sz, (c >= 0 && pc >= 0 && c > pc ? sprintf("%.4f", (t - pt) / 1e9 / (c - pc)) : "-"), p
        pt = t; ph = h; pc = c
    }' "$outdir/lbvm.err" > "$outdir/points.tsv"
# rounds.tsv: host time of each round's end and the digest of its products
grep -a -n -E '^LBVM-BUILD: (sha256|end loop)' "$outdir/console" | awk -F'LBVM-BUILD: ' '
    $2 ~ /^sha256/ { s = s " " $2 } $2 ~ /^end loop/ { split($2, f, " "); print f[3], s; s = "" }' \
    | while read -r n rest; do printf '%s\t%s\n' "$n" "$(printf '%s' "$rest" | sha256sum | cut -c1-16)"; done > "$outdir/rounds.tsv"

# --- the middle segment, resumed in a new process ---------------------------
# (with -A, a verification already recorded in DIR is kept)
vfull=$(cat "$outdir/verify-from.txt" 2>/dev/null || echo "not run (-V)")
if [ -n "$analyse" ] && [ -s "$outdir/verify-segment.txt" ]; then
    vseg=$(cat "$outdir/verify-segment.txt")
else
"$LBVM" bundle "$J" --checkpoint-dir "$K" -o "$WORK/bundle" > "$WORK/bundle.out" 2>&1 \
    || fail "lbvm bundle failed" "$WORK/bundle.out"
"$LBVM" verify "$WORK/bundle" --list-segments > "$WORK/segments" 2>&1 || fail "lbvm verify --list-segments failed" "$WORK/segments"
nseg=$(grep -c . "$WORK/segments")
mid=$(sed -n "$(( (nseg + 1) / 2 ))p" "$WORK/segments")
vt0=$SECONDS
vrc=0
"$LBVM" verify "$WORK/bundle" --segment "${mid%% *}" > "$outdir/verify-segment.out" 2>&1 || vrc=$?
vseg="segment ${mid%% *} of $nseg ($(basename "$(echo "$mid" | cut -d' ' -f2)"), exit $vrc in $((SECONDS - vt0)) s"
note "verify: $vseg"
echo "$vseg" > "$outdir/verify-segment.txt"
if [ -n "$full" ]; then
    ck_mid=$(echo "$mid" | cut -d' ' -f2)
    vt0=$SECONDS vrc=0
    "$LBVM" verify "$J" --from "$ck_mid" > "$outdir/verify-from.out" 2>&1 || vrc=$?
    vfull="from $(basename "$ck_mid"): exit $vrc in $((SECONDS - vt0)) s"
    note "verify --from: $vfull"
    echo "$vfull" > "$outdir/verify-from.txt"
fi
fi
# --- plots --------------------------------------------------------------------
if command -v gnuplot >/dev/null; then
    gnuplot <<GP 2>"$WORK/gnuplot.err" || note "gnuplot failed: $(head -n1 "$WORK/gnuplot.err")"
set terminal png size 900,500
set datafile separator "\t"
set key top left
set grid
set yrange [0:*]
set xlabel "host minutes"
set output "$outdir/rss.png"
set title "lbvm soak: host memory"
set ylabel "MiB"
plot "$outdir/samples.tsv" every ::1 using (\$1/60):(\$2/1024) with lines title "RSS", \
     "" every ::1 using (\$1/60):(\$4/1024) with lines title "data segment (VmData)", \
     "" every ::1 using (\$1/60):(\$12/1024) with lines title "of RSS: guest RAM", \
     "" every ::1 using (\$1/60):(\$13/1024) with lines title "of RSS: translated-code buffer"
set output "$outdir/speed.png"
set title "lbvm soak: guest seconds per host second (between checkpoints)"
set ylabel "guest s / host s"
set y2label "code flushes (cumulative)"
set y2tics
plot "$outdir/points.tsv" every ::2 using (\$1/60):3 with linespoints title "guest s per host s", \
     "" every ::2 using (\$1/60):6 with linespoints title "guest s per lbvm CPU s", \
     "" every ::1 using (\$1/60):4 axes x1y2 with lines title "translated-code flushes"
unset y2label
unset y2tics
set output "$outdir/sizes.png"
set title "lbvm soak: checkpoint folder and journal"
set ylabel "MiB"
set y2label "journal KiB"
set y2tics
plot "$outdir/samples.tsv" every ::1 using (\$1/60):(\$6/1048576) with lines title "checkpoint files (sum)", \
     "" every ::1 using (\$1/60):(\$7/1048576) with lines title "disk layers (sum)", \
     "" every ::1 using (\$1/60):(\$8/1048576) with lines title "live overlay", \
     "" every ::1 using (\$1/60):(\$9/1024) axes x1y2 with lines title "journal (KiB, right)"
GP
fi

# --- summary ------------------------------------------------------------------
last=$(tail -n1 "$outdir/samples.tsv")
{
    echo "## lbvm soak: $(date -u +%Y-%m-%d), $dur host seconds asked"
    echo
    echo "Host: $(nproc) CPUs; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Guest: Debian $(cat "$CACHE/k686/RELEASE"), build job \`loop\`; a checkpoint every $every ticks."
    echo
    echo "- lbvm exit: $rc (5 = stopped by SIGTERM with a final checkpoint); $(grep -c . "$outdir/rounds.tsv") build rounds finished; round digests: $(cut -f2 "$outdir/rounds.tsv" | sort -u | wc -l) distinct"
    # (lbvm.err's lines start with the host time they arrived)
    echo "- $(grep -m1 '^[0-9.]* lbvm: ticks' "$WORK/soak.err" | sed 's/^[0-9.]* //'); $(grep -m1 '^[0-9.]* lbvm: events' "$WORK/soak.err" | sed 's/^[0-9.]* //')"
    echo "- guest RAM at the last checkpoint: $("$LBVM" inspect "$(ls "$K"/ckpt-*.lbvm | tail -n1)" 2>/dev/null | sed -n 's/^RAM pages *//p')"
    echo "- RSS: first sample $(awk -F'\t' 'NR == 3 { printf "%.0f", $2 / 1024 }' "$outdir/samples.tsv") MiB, last $(awk -F'\t' '{ r = $2 } END { printf "%.0f", r / 1024 }' "$outdir/samples.tsv") MiB, peak $(printf '%s' "$last" | awk -F'\t' '{ printf "%.0f", $3 / 1024 }') MiB"
    echo "- of the last RSS: guest RAM $(printf '%s' "$last" | awk -F'\t' '{ printf "%.0f", $12 / 1024 }') MiB, translated-code buffer $(printf '%s' "$last" | awk -F'\t' '{ printf "%.0f", $13 / 1024 }') MiB, the rest $(printf '%s' "$last" | awk -F'\t' '{ printf "%.0f", ($2 - $12 - $13) / 1024 }') MiB; in transparent huge pages $(printf '%s' "$last" | awk -F'\t' '{ printf "%.0f", $14 / 1024 }') MiB"
    echo "- checkpoints: $(printf '%s' "$last" | cut -f5), $(printf '%s' "$last" | awk -F'\t' '{ printf "%.0f", $6 / 1048576 }') MiB in all; layers $(printf '%s' "$last" | awk -F'\t' '{ printf "%.0f", $7 / 1048576 }') MiB; journal $(printf '%s' "$last" | cut -f9) bytes"
    echo "- guest s per host s between checkpoints: $(awk -F'\t' 'NR > 2 && $3 != "-" { printf "%s%s", (n++ ? " " : ""), $3 }' "$outdir/points.tsv")"
    echo "- guest s per lbvm CPU s between checkpoints: $(awk -F'\t' 'NR > 2 && $6 != "-" { printf "%s%s", (n++ ? " " : ""), $6 }' "$outdir/points.tsv")"
    echo "- lbvm CPU: $(tail -n1 "$outdir/cpu.tsv" 2>/dev/null | cut -f2) s in $(tail -n1 "$outdir/cpu.tsv" 2>/dev/null | cut -f1) host s"
    echo "- code flushes at the points: $(awk -F'\t' 'NR > 1 { printf "%s%s", (n++ ? " " : ""), $4 }' "$outdir/points.tsv")"
    echo "- checkpoint file sizes (MiB): $(awk -F'\t' 'NR > 1 { printf "%s%.0f", (n++ ? " " : ""), $5 / 1048576 }' "$outdir/points.tsv")"
    echo "- verify: $vseg; $(tail -n1 "$outdir/verify-segment.out")"
    echo "- verify --from the middle: $vfull"
} > "$outdir/summary.md"
cat "$outdir/summary.md"
WORK_KEEP=
