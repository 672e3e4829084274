#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `lbvm bootstrap` end to end on tests/fixtures/mini-bootstrap (see its
# README.md): distfiles from a real HTTP server on loopback, lbvm's seeds as
# /init, hex0 -> kaem -> busybox -> a sysa step with a checked output -> kexec
# into the 686-pae kernel (sysb) -> switch_root onto the pre-made sysc disk ->
# a sysc step -> "Bootstrapping completed.". Then:
#   - one step's expected checksum made wrong: exit 2, naming that step;
#   - a power cut (SIGKILL of the runner and its guest) then --resume, during
#     which a second runner on the same work folder is refused, and a SIGTERM
#     (forwarded to the guest, which checkpoints) then --resume again: both
#     resumed consoles equal the straight run's console from their start;
#   - --offline with a distfile missing: exit 1, the file named.
. "$(dirname "$0")/lib.sh"
need_inputs
need_lbvm
[ -s "$CACHE/kexec/kexec" ] || fail "kexec-tools missing from the test inputs ($CACHE/kexec)"
"$LBVM" bootstrap --help >/dev/null 2>&1 || fail "lbvm does not offer the bootstrap command"
FIX=$LBVM_SRC/tests/fixtures/mini-bootstrap
T0=$SECONDS

# --- what the HTTP server serves ---------------------------------------------
www=$WORK/www
mkdir -p "$www" "$WORK/mods/modules"
cp "$FIX"/www/* "$www/"
cp "$BUSYBOX" "$www/busybox-static"
cp "$CACHE/kexec/kexec" "$CACHE/kexec/libc.so.6" "$CACHE/kexec/ld-linux.so.2" "$www/"
cp "$KERNEL_686PAE" "$www/vmlinuz-686-pae"
for m in $DISK_MODULES; do
    cp "$CACHE/k686pae/modules/kernel/$m.ko" "$WORK/mods/modules/" || fail "module $m missing from the test inputs"
    echo "${m##*/}" >> "$WORK/mods/modules/order"
done
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$www/modules-686-pae.tar" \
    -C "$WORK/mods" modules || fail "cannot pack the modules"
# start_server NAME: the test HTTP server on $www (it stops by itself after
# 120 s), its port in $WORK/NAME.port, its log in $WORK/NAME.log
servers=
start_server() {
    python3 "$LBVM_SRC/tests/fetch/server.py" "$www" "$WORK/$1.log" "$WORK/$1.port" &
    servers="$servers $!"
    for _ in $(seq 50); do [ -s "$WORK/$1.port" ] && break; sleep 0.1; done
    [ -s "$WORK/$1.port" ] || fail "the test HTTP server did not start"
}
trap 'kill $servers 2>/dev/null; lbvm_cleanup' EXIT
start_server server
base=http://127.0.0.1:$(cat "$WORK/server.port")/files

# make_tree DIR: the fixture with lbvm's seeds, the server's address, and the
# sources files of the Debian stand-ins with their real SHA-256.
make_tree() {
    local t=$1 s
    s=$t/sysa/stage0-posix/src/bootstrap-seeds/POSIX/x86
    mkdir -p "$t"
    cp -r "$FIX/sysa" "$FIX/sysb" "$FIX/sysc" "$t/" || fail "cannot copy the fixture"
    mkdir -p "$s" "$t/sysa/busybox-static"
    cp "$LBVM_SRC/seeds/x86/hex0-seed" "$LBVM_SRC/seeds/x86/kaem-optional-seed" "$s/"
    find "$t" -name sources -exec sed -i "s|http://lbvm-test.invalid|$base|" {} +
    h() { sha256sum < "$www/$1" | cut -d' ' -f1; }
    echo "$base/busybox-static $(h busybox-static)" > "$t/sysa/busybox-static/sources"
    printf '%s\n' "$base/kexec $(h kexec)" "$base/libc.so.6 $(h libc.so.6)" "$base/ld-linux.so.2 $(h ld-linux.so.2)" \
        > "$t/sysa/kexec-tools-deb/sources"
    printf '%s\n' "$base/vmlinuz-686-pae $(h vmlinuz-686-pae)" "$base/modules-686-pae.tar $(h modules-686-pae.tar)" \
        > "$t/sysa/linux-686-pae-deb/sources"
}
make_tree "$WORK/tree"
D=$WORK/dist
ARGS=(--kernel "$KERNEL_686" --tree "$WORK/tree" --distdir "$D" --disk-size 64M)
STEPS="hello-1.0 kexec-tools-deb linux-686-pae-deb world-1.0"

# wait_for FILE REGEX SECONDS: until a line of FILE matches (else fail).
wait_for() {
    local _
    for _ in $(seq $(( $3 * 10 ))); do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$BG_PID" 2>/dev/null || { sleep 0.2; grep -qE -- "$2" "$1" && return 0; fail "lbvm ended before '$2' showed in $(basename "$1")" "$1" "${1%.out}.err"; }
        sleep 0.1
    done
    fail "no '$2' in $(basename "$1") after $3 s" "$1" "${1%.out}.err"
}
# console_from N FILE: FILE's bytes from offset N on
console_from() { tail -c +"$(( $1 + 1 ))" "$2"; }
resume_byte() { sed -n 's/^resuming from .*console byte \([0-9]*\),.*/\1/p' "$1" | tail -n1; }

# --- 1. the straight run -----------------------------------------------------
t=$SECONDS
run_lbvm straight bootstrap "${ARGS[@]}" --workdir "$WORK/w1"
note "straight run: exit $RC after $((SECONDS - t)) s"
[ "$RC" = 0 ] || fail "lbvm bootstrap exited $RC, expected 0" "$WORK/straight.out" "$WORK/straight.err" \
    "$WORK/w1/console-1.log"
# stage0-posix's phase (the fixture's kaem.x86 has one banner), then the steps
grep -qE "^\[1/5\] stage0-posix Phase-0 Build mini-chmod from hex0 \(guest time [0-9.]+ s, host time [0-9.:]+( s)?\)$" \
    "$WORK/straight.out" || fail "no progress line for stage0-posix's phase" "$WORK/straight.out"
n=1
for s in $STEPS; do
    n=$((n + 1))
    grep -qE "^\[$n/5\] $s \(guest time [0-9.]+ s, host time [0-9.:]+( s)?\)$" "$WORK/straight.out" \
        || fail "no progress line '[$n/5] $s' in the output" "$WORK/straight.out"
done
assert_contains "$WORK/straight.out" "Bootstrapping completed: 5 steps" "no summary line"
S=$WORK/w1/console-1.log
tr -d '\r' < "$S" | grep -qx "Bootstrapping completed." || fail "no 'Bootstrapping completed.' line on the console" "$S"
assert_contains "$S" "hello-1.0: hello from a program that hex0-seed built" "the hex0-built hello did not run"
assert_contains "$S" "hello-1.0/build/hello: OK" "the sysa output checksum was not checked"
assert_contains "$S" "sysb: running on $(cat "$CACHE/k686pae/RELEASE")" "no kexec into the 686-pae kernel"
assert_contains "$S" "sysc: root is /dev/sda1" "no switch_root onto the sysc disk"
assert_contains "$S" "/distfiles/world-1.0.txt: OK" "sysc did not check its distfile"
assert_not_contains "$S" "FAILED" "a checksum failed"
[ "$(wc -l < "$WORK/w1/steps")" = 5 ] || fail "the work folder's steps file does not list 5 steps" "$WORK/w1/steps"
grep -q "^[0-9]* stage0-posix Phase-0 Build mini-chmod from hex0$" "$WORK/w1/steps" \
    || fail "no checkpoint at stage0-posix's phase" "$WORK/w1/steps"
# a finished run: --resume has nothing to do; without it, the folder is refused
run_lbvm again bootstrap "${ARGS[@]}" --workdir "$WORK/w1" --resume
{ [ "$RC" = 0 ] && grep -q "already completed" "$WORK/again.out"; } \
    || fail "--resume of a completed run: exit $RC" "$WORK/again.out" "$WORK/again.err"
run_lbvm again2 bootstrap "${ARGS[@]}" --workdir "$WORK/w1"
{ [ "$RC" = 1 ] && grep -q "^lbvm: .*--resume.*--fresh" "$WORK/again2.err"; } \
    || fail "a second run on a used work folder without --resume or --fresh: exit $RC" "$WORK/again2.err"

# --- 2. a wrong expected checksum --------------------------------------------
make_tree "$WORK/bad"
sed -i 's/^[0-9a-f]\{8\}/00000000/' "$WORK/bad/sysa/SHA256SUMS.pkgs"
t=$SECONDS
run_lbvm bad bootstrap "${ARGS[@]}" --tree "$WORK/bad" --workdir "$WORK/w2"
note "bad checksum: exit $RC after $((SECONDS - t)) s"
[ "$RC" = 2 ] || fail "a wrong output checksum gave exit $RC, expected 2" "$WORK/bad.out" "$WORK/bad.err"
grep -q "^lbvm: bootstrap failed in step hello-1.0 (2/5): a checksum did not match" "$WORK/bad.err" \
    || fail "the failure message does not name step hello-1.0" "$WORK/bad.err"
assert_contains "$WORK/bad.err" "hello-1.0/build/hello: FAILED" "the console tail does not show the failed check"
assert_not_contains "$WORK/bad.out" "[3/5]" "steps went on after the failed checksum"

# --- 3. power cut, resume (a second runner refused), SIGTERM, resume ---------
W=$WORK/w3
t=$SECONDS
bg_lbvm cut bootstrap "${ARGS[@]}" --workdir "$W"
disown "$BG_PID"     # no "Killed" notice from bash when it dies
wait_for "$WORK/cut.out" '^\[2/5\] hello-1.0' 300
kids=$(ps -o pid= --ppid "$BG_PID")
[ -n "$kids" ] || fail "the runner has no guest process" "$WORK/cut.out" "$WORK/cut.err"
# shellcheck disable=SC2086  # one word per pid
kill -KILL "$BG_PID" $kids
for p in $BG_PID $kids; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
note "power cut after step 1 ($((SECONDS - t)) s)"

bg_lbvm resume1 bootstrap "${ARGS[@]}" --workdir "$W" --resume
wait_for "$WORK/resume1.out" '^resuming from ' 120
run_lbvm second bootstrap "${ARGS[@]}" --workdir "$W" --resume
{ [ "$RC" = 1 ] && grep -q "^lbvm: work folder .* is in use" "$WORK/second.err"; } \
    || fail "a second runner on a busy work folder: exit $RC, not refused" "$WORK/second.err"
# (the power cut may have come after step 3's checkpoint: wait for the console)
wait_for "$W/console-2.log" '^kexecing into sysb' 300
sleep 2
kill -TERM "$BG_PID"
RC=0
wait "$BG_PID" || RC=$?
note "SIGTERM during sysb ($((SECONDS - t)) s): exit $RC"
[ "$RC" = 5 ] || fail "the runner stopped by SIGTERM exited $RC, expected 5" "$WORK/resume1.out" "$WORK/resume1.err"
grep -q "^lbvm: stopped by signal 15; the guest saved .*ckpt-" "$WORK/resume1.err" \
    || fail "no checkpoint reported after SIGTERM" "$WORK/resume1.err"
assert_not_contains "$WORK/resume1.out" "[5/5]" "the run went on after SIGTERM"

run_lbvm resume2 bootstrap "${ARGS[@]}" --workdir "$W" --resume
note "final resume: exit $RC ($((SECONDS - t)) s for the whole scenario)"
[ "$RC" = 0 ] || fail "--resume after SIGTERM exited $RC" "$WORK/resume2.out" "$WORK/resume2.err"
grep -q "^\[5/5\] world-1.0 (guest time" "$WORK/resume2.out" || fail "no progress line for the last step" "$WORK/resume2.out"
assert_not_contains "$WORK/resume2.out" "[2/5]" "the resumed run redid finished steps"
assert_contains "$WORK/resume2.out" "Bootstrapping completed: 5 steps" "the resumed run did not complete"
[ -s "$W/console-3.log" ] || fail "no console-3.log for the third attempt" "$WORK/resume2.out"
b2=$(resume_byte "$WORK/resume1.out")
b3=$(resume_byte "$WORK/resume2.out")
{ [ -n "$b2" ] && [ -n "$b3" ]; } || fail "no 'resuming from ... console byte N' lines" "$WORK/resume1.out" "$WORK/resume2.out"
# the interrupted attempt's console is a slice of the straight run's
len2=$(wc -c < "$W/console-2.log")
cmp -s <(console_from "$b2" "$S" | head -c "$len2") "$W/console-2.log" \
    || fail "after the power cut, the console from byte $b2 differs from the straight run's" "$W/console-2.log"
cmp -s <(console_from "$b3" "$S") "$W/console-3.log" \
    || fail "after SIGTERM, the console from byte $b3 differs from the straight run's: $(cmp <(console_from "$b3" "$S") "$W/console-3.log" 2>&1 | head -n1)" \
        "$W/console-3.log"
[ "$b3" -gt "$b2" ] || fail "the second resume did not start later than the first ($b3 <= $b2)"

# --- 4. offline with a distfile missing ---------------------------------------
mkdir -p "$WORK/dist4"
cp "$D"/* "$WORK/dist4/"
rm "$WORK/dist4/world-1.0.txt"
run_lbvm offline bootstrap "${ARGS[@]}" --distdir "$WORK/dist4" --workdir "$WORK/w4" --offline
[ "$RC" = 1 ] || fail "--offline with a missing distfile exited $RC, expected 1" "$WORK/offline.err"
assert_contains "$WORK/offline.err" "world-1.0.txt" "--offline did not name the missing file"
[ ! -e "$WORK/dist4/world-1.0.txt" ] || fail "--offline downloaded the file"

# --- 5. a first run as a new user has it --------------------------------------
# No --kernel: the pinned Debian kernel, fetched by lbvm over loopback HTTP from
# a Debian archive's pool (LBVM_DEBIAN_MIRRORS) into an empty cache and unpacked
# from its .deb; --seeds lbvm on a tree without bootstrap-seeds; hello-1.0's
# distfile gone from the server, so --allow-missing builds without it and the
# run stops when that step starts: exit 3, one line naming the step and file.
deb=$(ls "$CACHE"/kdeb/*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || fail "the default kernel's package is missing from the test inputs ($CACHE/kdeb)"
cp "$deb" "$www/"
rm "$www/hello-1.0.hex0"
make_tree "$WORK/tree5"
rm -rf "$WORK/tree5/sysa/stage0-posix/src/bootstrap-seeds"
mkdir -p "$WORK/dist5"
for f in "$D"/*; do case ${f##*/} in hello-1.0.hex0) ;; *) cp "$f" "$WORK/dist5/" ;; esac; done
start_server archive
XDG_CACHE_HOME=$WORK/xdg LBVM_DEBIAN_MIRRORS="http://127.0.0.1:$(cat "$WORK/archive.port")/archive" \
    run_lbvm first bootstrap --tree "$WORK/tree5" --distdir "$WORK/dist5" --disk-size 64M --workdir "$WORK/w5" \
    --seeds lbvm --allow-missing
[ "$RC" = 3 ] || fail "a run without hello-1.0's distfile exited $RC, expected 3" "$WORK/first.out" "$WORK/first.err"
assert_contains "$WORK/first.out" "fetching the default kernel: linux-image-" "the default kernel was not fetched"
grep -q "GET /archive/pool/main/l/linux-signed-i386/linux-image-.*_i386.deb" "$WORK/archive.log" \
    || fail "the default kernel did not come from the archive's pool path" "$WORK/archive.log"
ls "$WORK"/xdg/lbvm/kernels/vmlinuz-* >/dev/null 2>&1 || fail "the default kernel is not in the cache" "$WORK/first.err"
ls "$WORK"/xdg/lbvm/kernels/*.deb >/dev/null 2>&1 && fail "the kernel's package was left in the cache"
assert_contains "$WORK/first.out" "1 distfile left out (--allow-missing)" "the build did not say what it left out"
assert_contains "$WORK/first.err" "stopped at step hello-1.0 (2/5): it needs hello-1.0.hex0" "no line naming the step and the file"
[ "$(grep -c '^lbvm: ' "$WORK/first.err")" -ge 1 ] || fail "no lbvm: line" "$WORK/first.err"
assert_not_contains "$WORK/first.out" "[3/5]" "the run went past the step whose distfile is missing"
# a second run finds the kernel in the cache, offline
rm -rf "$WORK/w5"
XDG_CACHE_HOME=$WORK/xdg LBVM_DEBIAN_MIRRORS=http://127.0.0.1:9/none \
    run_lbvm first2 bootstrap --tree "$WORK/tree5" --distdir "$WORK/dist5" --disk-size 64M --workdir "$WORK/w5" \
    --seeds lbvm --allow-missing --offline
[ "$RC" = 3 ] || fail "the offline second run exited $RC, expected 3" "$WORK/first2.out" "$WORK/first2.err"
assert_not_contains "$WORK/first2.out" "fetching the default kernel" "the cached kernel was fetched again"

# --- 6. kernels a user gives by mistake ---------------------------------------
run_lbvm k64 bootstrap --kernel "$KERNEL_AMD64" --tree "$WORK/tree" --workdir "$WORK/w6"
[ "$RC" = 1 ] || fail "a 64-bit kernel gave exit $RC, expected 1" "$WORK/k64.err"
assert_contains "$WORK/k64.err" "64-bit" "the 64-bit kernel was not named as such"
[ ! -e "$WORK/w6/initramfs.cpio" ] || fail "something was built for a 64-bit kernel"
head -c 100000 "$KERNEL_686" > "$WORK/short-kernel"
run_lbvm kshort bootstrap --kernel "$WORK/short-kernel" --tree "$WORK/tree" --workdir "$WORK/w6"
[ "$RC" = 1 ] || fail "a truncated kernel gave exit $RC, expected 1" "$WORK/kshort.err"
[ "$(wc -l < "$WORK/kshort.err")" = 1 ] || fail "a truncated kernel gave more than one line" "$WORK/kshort.err"

pass "straight run, failing checksum, power cut + SIGTERM + resume (identical consoles), busy folder, offline, first run with the default kernel and a missing distfile, bad kernels ($((SECONDS - T0)) s)"
