#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# check-arm64.sh [--quick]
# The same run on two host architectures: lbvm built for x86_64 (this host)
# and for arm64 (scripts/cross-arm64.sh, run under qemu-aarch64) must compute
# the same machine, and each must continue the other's checkpoints.
#
# Full (the default; the arm64 side takes about 3 boots under user-mode QEMU,
# tens of minutes):
#   - `lbvm mkinitramfs` of the test tree: byte-identical archives;
#   - Debian's 686 kernel with the busybox test initramfs, booted by both with
#     a checkpoint every 6 G ticks, one at "Run /init" and a final one, and a
#     journal: byte-identical console, equal ticks, RAM hash and event
#     counts, equal journal points (console chain, CPU/device state and RAM
#     hashes), and the checkpoints side by side (size, SHA-256, and each
#     section compared: all equal but the compressed RAM frames, which only
#     the zstd library's version decides; their content is the journal's
#     equal RAM hash);
#   - the arm64 build resumes the x86_64 build's first checkpoint, the x86_64
#     build the arm64 one's: each ends as the straight runs did;
#   - `lbvm verify` of the x86_64 journal passes on the arm64 build, and of
#     the arm64 journal on the x86_64 build.
# --quick (a few minutes: what ctest runs when the arm64 build is there): the
#   x86_64 boot only; both builds resume its "Run /init" checkpoint with a
#   checkpoint every 10 M ticks and a journal (equal points, checkpoints side
#   by side), the x86_64 build resumes the arm64 build's first one, and the
#   arm64 build verifies the x86_64 journal from the "Run /init" checkpoint.
# Both: with BUILD_DIR/qemu-lbvm-host-zstd (the arm64 build with the zstd
#   release the host's build uses), the arm64 build continues the "Run /init"
#   checkpoint and writes a final checkpoint byte-identical to the x86_64
#   straight run's.
#
# Environment: LBVM (the x86_64 lbvm, default $LBVM_BUILD/lbvm), LBVM_ARM64
# (default <repo>/build-arm64/qemu-lbvm), and tests/boot/lib.sh's. Exit 0 all
# equal, 1 a difference or a failure (said in one FAIL line), 77 no arm64
# build (skipped).
quick=
case ${1:-} in
--quick) quick=1 ;;
"") ;;
*) echo "usage: $0 [--quick]" >&2; exit 1 ;;
esac
. "$(dirname "$0")/../boot/lib.sh"
LBVM_X86=$LBVM
LBVM_ARM64=${LBVM_ARM64:-$LBVM_SRC/build-arm64/qemu-lbvm}
# The arm64 side runs under user-mode QEMU: a boot takes many minutes.
LBVM_TEST_TIMEOUT=${LBVM_CROSS_TIMEOUT:-7200}
if ! [ -x "$LBVM_ARM64" ]; then
    echo "SKIP: $TEST_NAME: no arm64 build ($LBVM_ARM64): make it with scripts/cross-arm64.sh"
    exit 77
fi
need_inputs
need_lbvm
command -v python3 >/dev/null || fail "python3 is needed to compare checkpoint sections"

# x86 NAME ARGS... / arm NAME ARGS...: run_lbvm with one build or the other,
# timed (host seconds in T_<NAME>).
declare -A T
x86() { local t0=$SECONDS; LBVM=$LBVM_X86 run_lbvm "$@"; T[$1]=$((SECONDS - t0)); }
arm() { local t0=$SECONDS; LBVM=$LBVM_ARM64 run_lbvm "$@"; T[$1]=$((SECONDS - t0)); }
expect_rc() {            # NAME WANT
    [ "$RC" = "$2" ] || fail "$1: lbvm exited $RC, expected $2" "$WORK/$1.out" "$WORK/$1.err"
}

# sections CKPT: "name length sha256" of each section of a checkpoint, and
# "file SIZE SHA256" (docs/checkpoint-format.md: the table and trailer at the end).
sections() {
    python3 - "$1" <<'PY'
import hashlib, struct, sys
b = open(sys.argv[1], 'rb').read()
toff, tlen = struct.unpack_from('<QQ', b, len(b) - 56)
n = struct.unpack_from('<I', b, toff)[0]
print('file', len(b), hashlib.sha256(b).hexdigest())
for i in range(n):
    name, ver, _, off, ln = struct.unpack_from('<16sIIQQ', b, toff + 4 + 40 * i)
    name = name.rstrip(b'\0').decode()
    p = b[off:off + ln]
    print(name, ln, hashlib.sha256(p).hexdigest())
    if name == 'ram':
        # RAM: header (16), bitmap, frames, chunk table: the header and
        # bitmap do not depend on the compressor, the frames may.
        size = struct.unpack_from('<Q', p, 0)[0]
        nb = (size // 4096 + 7) // 8
        print('ram.bitmap', 16 + nb, hashlib.sha256(p[:16 + nb]).hexdigest())
PY
}

# compare_ckpts A B LABEL: side by side; every section but the RAM frames equal.
compare_ckpts() {
    local a=$1 b=$2 label=$3
    sections "$a" > "$WORK/sa" || fail "cannot read the checkpoint $a"
    sections "$b" > "$WORK/sb" || fail "cannot read the checkpoint $b"
    printf '%s\n' "$label" >> "$WORK/side-by-side"
    paste "$WORK/sa" "$WORK/sb" | awk -F'\t' '{ split($1, x, " "); split($2, y, " ");
        printf "  %-10s x86_64 %9s %.16s  arm64 %9s %.16s  %s\n", x[1], x[2], x[3], y[2], y[3],
               (x[2] == y[2] && x[3] == y[3]) ? "same" : "DIFFERENT" }' >> "$WORK/side-by-side"
    local diffs
    diffs=$(paste "$WORK/sa" "$WORK/sb" | awk -F'\t' '$1 != $2 { split($1, x, " "); print x[1] }' | paste -sd' ')
    for s in $diffs; do
        case $s in
        file|ram) ;;     # the RAM frames (zstd's version decides them) and so the file
        *) cat "$WORK/side-by-side" >&2; fail "$label: section $s differs between the x86_64 and the arm64 checkpoint" ;;
        esac
    done
}

# same_journal A B: the point lines of two journals are equal.
same_journal() {
    grep '^point ' "$1" > "$WORK/ja"
    grep '^point ' "$2" > "$WORK/jb"
    [ -s "$WORK/ja" ] || fail "$1 has no point lines" "$1"
    cmp -s "$WORK/ja" "$WORK/jb" || { diff "$WORK/ja" "$WORK/jb" > "$WORK/j.diff"; fail "the journals' points differ" "$WORK/j.diff"; }
}

# The test tree as an initramfs, written by each build.
make_test_root "$WORK/root"
x86 mk-x86 mkinitramfs -o "$WORK/initrd.cpio" "$WORK/root"
expect_rc mk-x86 0
if [ -z "$quick" ]; then
    arm mk-arm mkinitramfs -o "$WORK/initrd-arm.cpio" "$WORK/root"
    expect_rc mk-arm 0
    assert_same_file "$WORK/initrd.cpio" "$WORK/initrd-arm.cpio" "lbvm mkinitramfs on x86_64 and arm64"
    note "mkinitramfs: identical ($(wc -c < "$WORK/initrd.cpio") bytes)"
fi

cd "$WORK" || fail "cannot enter $WORK"
ckargs=(--checkpoint-every 6G --checkpoint-on 'Run /init')
boot_args=(boot --kernel "$KERNEL_686" --initrd initrd.cpio --append lbvm.test=boot --stats --limit "$LBVM_TEST_LIMIT")

x86 x86 "${boot_args[@]}" --console x86.console --checkpoint-dir ck-x86 "${ckargs[@]}" --journal x86.journal
expect_boot x86
note "x86_64 boot: ${T[x86]} s; $(stats_of x86 | tr '\n' ' ')"
mapfile -t CKX < <(ckpts_of x86 | cut -d' ' -f1)
[ "${#CKX[@]}" = 2 ] || fail "x86: expected 2 checkpoints (6 G ticks, Run /init), got ${#CKX[@]}" "$WORK/x86.err"
CKX+=("$(final_ckpt_of x86)")
STRAIGHT=("${CKX[@]}")

if [ -z "$quick" ]; then
    # --- the same boot on arm64 ---------------------------------------------
    arm arm "${boot_args[@]}" --console arm.console --checkpoint-dir ck-arm "${ckargs[@]}" --journal arm.journal
    expect_boot arm
    note "arm64 boot: ${T[arm]} s; $(stats_of arm | tr '\n' ' ')"
    assert_same_file x86.console arm.console "the console of the x86_64 and the arm64 boot"
    same_stats x86 arm "the x86_64 and the arm64 boot"
    grep '^lbvm: events: ' x86.err > x86.events; grep '^lbvm: events: ' arm.err > arm.events
    cmp -s x86.events arm.events || fail "event counts differ: $(cat x86.events) vs $(cat arm.events)"
    same_journal x86.journal arm.journal
    note "boot: console ($(wc -c < x86.console) bytes), ticks, RAM hash, events and $(grep -c '^point ' x86.journal) journal points identical"
    mapfile -t CKA < <(ckpts_of arm | cut -d' ' -f1)
    CKA+=("$(final_ckpt_of arm)")
    [ "${#CKA[@]}" = 3 ] || fail "arm: expected 3 checkpoints, got ${#CKA[@]}" "$WORK/arm.err"
    for i in 0 1 2; do
        compare_ckpts "${CKX[$i]}" "${CKA[$i]}" "checkpoint $(basename "${CKX[$i]}")"
    done

    # --- each resumes the other's first checkpoint ------------------------------
    arm arm-resumes-x86 resume "${CKX[0]}" --console arm-resumes-x86.console --stats
    check_resumed arm-resumes-x86 "${CKX[0]}" x86
    note "arm64 resumed the x86_64 checkpoint at $(ckpts_of x86 | head -n1 | cut -d' ' -f2) ticks: ends identical (${T[arm-resumes-x86]} s)"
    x86 x86-resumes-arm resume "${CKA[0]}" --console x86-resumes-arm.console --stats
    check_resumed x86-resumes-arm "${CKA[0]}" x86
    note "x86_64 resumed the arm64 checkpoint: ends identical (${T[x86-resumes-arm]} s)"

    # --- verify each other's journal ------------------------------------------
    arm arm-verifies verify x86.journal
    expect_rc arm-verifies 0
    assert_contains arm-verifies.out "identical: 3 points compared" "lbvm verify of the x86_64 journal on arm64"
    note "arm64: lbvm verify x86.journal: $(cat arm-verifies.out) (${T[arm-verifies]} s)"
    x86 x86-verifies verify arm.journal
    expect_rc x86-verifies 0
    assert_contains x86-verifies.out "identical: 3 points compared" "lbvm verify of the arm64 journal on x86_64"
    note "x86_64: lbvm verify arm.journal: $(cat x86-verifies.out)"
else
    # --- quick: both continue the x86_64 "Run /init" checkpoint ----------------
    # with a checkpoint every 10 M ticks: the same points on both sides.
    start=${CKX[1]}
    at=$(ckpts_of x86 | sed -n 2p | cut -d' ' -f2)
    sed "/^point $at /q" x86.journal > x86r.journal
    cp x86r.journal arm.journal
    resume_args=(resume "$start" --stats --checkpoint-every 10M)
    x86 x86r "${resume_args[@]}" --console x86r.console --checkpoint-dir ck-x86r --journal x86r.journal
    check_resumed x86r "$start" x86
    arm arm-resumes-x86 "${resume_args[@]}" --console arm-resumes-x86.console --checkpoint-dir ck-arm --journal arm.journal
    check_resumed arm-resumes-x86 "$start" x86
    same_journal x86r.journal arm.journal
    note "arm64 resumed the x86_64 checkpoint at $at ticks: ends identical, $(grep -c '^point ' arm.journal) journal points equal (${T[arm-resumes-x86]} s)"
    mapfile -t CKX < <(ckpts_of x86r | cut -d' ' -f1)
    CKX+=("$(final_ckpt_of x86r)")
    mapfile -t CKA < <(ckpts_of arm-resumes-x86 | cut -d' ' -f1)
    CKA+=("$(final_ckpt_of arm-resumes-x86)")
    [ "${#CKA[@]}" -ge 2 ] && [ "${#CKA[@]}" = "${#CKX[@]}" ] \
        || fail "the arm64 resume took ${#CKA[@]} checkpoints, the x86_64 one ${#CKX[@]}" "$WORK/arm-resumes-x86.err"
    for i in "${!CKX[@]}"; do
        compare_ckpts "${CKX[$i]}" "${CKA[$i]}" "checkpoint $(basename "${CKX[$i]}")"
    done
    x86 x86-resumes-arm resume "${CKA[0]}" --console x86-resumes-arm.console --stats
    check_resumed x86-resumes-arm "${CKA[0]}" x86
    note "x86_64 resumed the arm64 checkpoint at $(ckpts_of arm-resumes-x86 | head -n1 | cut -d' ' -f2) ticks: ends identical"
    arm arm-verifies verify x86.journal --from "$start"
    expect_rc arm-verifies 0
    assert_contains arm-verifies.out "identical: " "lbvm verify of the x86_64 journal on arm64"
    note "arm64: lbvm verify x86.journal --from $(basename "$start"): $(cat arm-verifies.out) (${T[arm-verifies]} s)"
fi
echo "checkpoints side by side (size, SHA-256 prefix):"
cat "$WORK/side-by-side"

# --- with the host's zstd, the same file ----------------------------------------
# The arm64 build with the zstd release the x86_64 build uses continues the
# "Run /init" checkpoint: its final checkpoint is the x86_64 straight run's,
# byte for byte.
LBVM_ARM64_HOST_ZSTD=${LBVM_ARM64_HOST_ZSTD:-$(dirname "$LBVM_ARM64")/qemu-lbvm-host-zstd}
if [ -x "$LBVM_ARM64_HOST_ZSTD" ]; then
    t0=$SECONDS
    LBVM=$LBVM_ARM64_HOST_ZSTD run_lbvm arm-zstd resume "${STRAIGHT[1]}" --console arm-zstd.console --stats \
        --checkpoint-dir ck-arm-zstd
    check_resumed arm-zstd "${STRAIGHT[1]}" x86
    z=$(final_ckpt_of arm-zstd)
    assert_same_file "${STRAIGHT[2]}" "$z" "the final checkpoint of the x86_64 run and of the arm64 run with the host's zstd"
    note "arm64 with the host's zstd: final checkpoint byte-identical to the x86_64 one: $(wc -c < "$z") bytes, SHA-256 $(sha256sum < "$z" | cut -c1-64) ($((SECONDS - t0)) s)"
else
    note "no $LBVM_ARM64_HOST_ZSTD: checkpoint files not compared byte for byte"
fi
pass "x86_64 and arm64 builds agree${quick:+ (quick)}"
