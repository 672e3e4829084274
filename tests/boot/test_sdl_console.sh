#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The console window (`--console sdl`), under Xvfb, driven by real X events:
# 1. refusals: without a display (DISPLAY unset), and --console-log without
#    --console sdl, exit 1 with one line; an lbvm built without SDL refuses
#    --console sdl with one line (and the rest is skipped);
# 2. boot the 686 kernel with a busybox shell on the serial console; type a
#    command into the window with xdotool (XTEST key events); the guest runs
#    it (its output is in --console-log); a screenshot (xwd) of the window
#    shows, from the pixels: terminal text on the left, the red block the
#    guest's /init printed (SGR 41), the blue block the typed command printed
#    (SGR 44), and the status panel on the right (its background, its text,
#    the amber bar of the current step); `poweroff -f` typed ends the run
#    (exit 0), and `lbvm verify` of its journal is identical: the keystrokes
#    went through the recorded input path;
# 3. `lbvm resume --console sdl` from the "shell ready" checkpoint shows the
#    console so far; closing the window (WM_DELETE_WINDOW, as a window
#    manager sends) asks; the prompt is seen in the pixels; "n" keeps running
#    and does not reach the guest; closing again and "y" stops with a final
#    checkpoint and exit 5.
# Screenshots: $WORK/shot-*.png (kept with LBVM_KEEP=1), copied to
# $LBVM_BUILD/test-artifacts/.
. "$(dirname "$0")/lib.sh"
need_lbvm

# --- 1. refusals ------------------------------------------------------------
one_line() {  # NAME REASON: NAME.err is exactly one "lbvm: " line
    [ "$(wc -l <"$WORK/$1.err")" = 1 ] && grep -q '^lbvm: ' "$WORK/$1.err" \
        || fail "$2: expected one 'lbvm:' line on stderr" "$WORK/$1.err"
}
if ! "$LBVM" --version | grep -q '^features:.*\bsdl\b'; then
    RC=0; "$LBVM" boot --kernel /nonexistent --console sdl >"$WORK/nosdl.out" 2>"$WORK/nosdl.err" </dev/null || RC=$?
    assert_eq "$RC" 1 "exit code of --console sdl in an lbvm built without SDL"
    one_line nosdl "--console sdl without SDL"
    assert_contains "$WORK/nosdl.err" "built without the SDL console" "the refusal does not say why"
    echo "SKIP: $TEST_NAME: this lbvm was built without the SDL console (needs SDL2, SDL2_ttf, libvterm; scripts/setup.sh)"
    exit 0
fi
need_inputs
RC=0; env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER "$LBVM" boot --kernel "$KERNEL_686" --console sdl \
    >"$WORK/nodisp.out" 2>"$WORK/nodisp.err" </dev/null || RC=$?
assert_eq "$RC" 1 "exit code of --console sdl without a display"
one_line nodisp "--console sdl without a display"
assert_contains "$WORK/nodisp.err" "no display" "the refusal does not say why"
RC=0; "$LBVM" boot --kernel "$KERNEL_686" --console-log "$WORK/x.log" >"$WORK/nolog.out" 2>"$WORK/nolog.err" </dev/null || RC=$?
assert_eq "$RC" 1 "exit code of --console-log without --console sdl"
one_line nolog "--console-log without --console sdl"

for t in Xvfb xdotool xwd python3 cc; do
    command -v "$t" >/dev/null || fail "$t is not installed (scripts/setup.sh installs it)"
done
cc -O -o "$WORK/xclose" "$LBVM_SRC/tests/boot/xclose.c" $(pkg-config --cflags --libs x11 2>/dev/null || echo -lX11) \
    2>"$WORK/xclose.err" || fail "cannot build the WM_DELETE_WINDOW helper (libx11-dev missing?)" "$WORK/xclose.err"

# --- the X server -------------------------------------------------------------
XVFB_PID= LBVM_PID=
sdl_cleanup() {
    [ -n "$LBVM_PID" ] && kill -9 "$LBVM_PID" 2>/dev/null
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
    wait 2>/dev/null
    lbvm_cleanup
}
trap sdl_cleanup EXIT
for n in $(seq 91 140); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] && continue
    Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
    XVFB_PID=$!
    for i in $(seq 50); do
        DISPLAY=":$n" xdotool getdisplaygeometry >/dev/null 2>&1 && break
        kill -0 "$XVFB_PID" 2>/dev/null || break
        sleep 0.1
    done
    if DISPLAY=":$n" xdotool getdisplaygeometry >/dev/null 2>&1; then
        export DISPLAY=":$n"
        break
    fi
    kill "$XVFB_PID" 2>/dev/null; wait "$XVFB_PID" 2>/dev/null; XVFB_PID=
done
[ -n "$XVFB_PID" ] || fail "could not start Xvfb on any display :91 to :140" "$WORK/xvfb.log"
note "Xvfb on $DISPLAY"

# --- helpers ----------------------------------------------------------------
# wait_for FILE FIXED-STRING SECONDS [COUNT]: until FILE holds the string
# COUNT times (default 1); fails if lbvm ended first or time ran out.
wait_for() {
    local i
    for i in $(seq $(( $3 * 10 ))); do
        [ "$(grep -aoF -- "$2" "$1" 2>/dev/null | wc -l)" -ge "${4:-1}" ] && return 0
        kill -0 "$LBVM_PID" 2>/dev/null || fail "lbvm ended before \"$2\" was on its console" "$1" "$WORK/$RUN.err"
        sleep 0.1
    done
    fail "no \"$2\" on the console after $3 s" "$1" "$WORK/$RUN.err"
}
# start RUN ARGS...: lbvm ARGS in the background; waits for its window (WIN).
start() {
    RUN=$1
    shift
    timeout -k 10 "$LBVM_TEST_TIMEOUT" "$LBVM" "$@" >"$WORK/$RUN.out" 2>"$WORK/$RUN.err" </dev/null &
    LBVM_PID=$!
    WIN=
    for i in $(seq 300); do
        WIN=$(xdotool search --name '^lbvm: serial console$' 2>/dev/null | head -n1)
        [ -n "$WIN" ] && break
        kill -0 "$LBVM_PID" 2>/dev/null || fail "$RUN: lbvm ended without opening its window" "$WORK/$RUN.err"
        sleep 0.1
    done
    [ -n "$WIN" ] || fail "$RUN: no lbvm window after 30 s" "$WORK/$RUN.err"
    note "$RUN: window $WIN ($(xdotool getwindowgeometry "$WIN" | sed -n 's/ *Geometry: //p'))"
}
# finish: waits for lbvm (RC), at most 60 s.
finish() {
    local i
    for i in $(seq 600); do kill -0 "$LBVM_PID" 2>/dev/null || break; sleep 0.1; done
    RC=0; wait "$LBVM_PID" || RC=$?
    LBVM_PID=
}
# typing: the window gets the keyboard focus, then real key events (XTEST).
focus() {
    xdotool mousemove --window "$WIN" 40 40 >/dev/null 2>&1
    xdotool windowfocus --sync "$WIN" 2>/dev/null || xdotool windowfocus "$WIN"
}
type_line() {  # TEXT: typed, then Return
    focus
    xdotool type --delay 30 -- "$1"
    xdotool key Return
}
# shot NAME: the window's pixels -> $WORK/shot-NAME.png; prints the pixel
# analysis (key=value lines) into $WORK/shot-NAME.txt.
shot() {
    xwd -silent -id "$WIN" >"$WORK/shot-$1.xwd" || fail "xwd could not capture the window"
    python3 - "$WORK/shot-$1.xwd" "$WORK/shot-$1.png" >"$WORK/shot-$1.txt" <<'PY' || fail "cannot read the screenshot $1"
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
h = struct.unpack('>25I', data[:100])
hsize, fmt, depth, w, hgt = h[0], h[2], h[3], h[4], h[5]
order, bpp, bpl, ncolors = h[7], h[11], h[12], h[19]
rmask, gmask, bmask = h[14], h[15], h[16]
assert fmt == 2 and bpp in (24, 32), (fmt, bpp)
pix = data[hsize + 12 * ncolors:]
def shift(m):
    s = 0
    while m and not m & 1:
        m >>= 1; s += 1
    return s
rs, gs, bs = shift(rmask), shift(gmask), shift(bmask)
step = bpp // 8
rows = []
for y in range(hgt):
    line = pix[y * bpl:y * bpl + w * step]
    row = bytearray()
    for x in range(w):
        v = int.from_bytes(line[x * step:x * step + step], 'little' if order == 0 else 'big')
        row += bytes(((v & rmask) >> rs, (v & gmask) >> gs, (v & bmask) >> bs))
    rows.append(bytes(row))
# the PNG (filter 0 on each row)
def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
raw = b''.join(b'\0' + r for r in rows)
open(sys.argv[2], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, hgt, 8, 2, 0, 0, 0))
                               + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))
def px(x, y):
    r = rows[y]
    return r[3 * x], r[3 * x + 1], r[3 * x + 2]
# The panel: the columns mostly in its background colour (0x1c, 0x24, 0x30).
panel_cols = [x for x in range(w) if sum(px(x, y) == (0x1c, 0x24, 0x30) for y in range(0, hgt, 2)) > hgt // 4]
panel_x = min(panel_cols) if panel_cols else w
counts = dict(term_text=0, term_red=0, term_blue=0, panel_text=0, panel_amber=0, prompt=0)
for y in range(hgt):
    for x in range(w):
        r, g, b = px(x, y)
        inside = 'term' if x < panel_x else 'panel'
        if r + g + b > 400 and abs(r - g) < 40 and abs(g - b) < 40:
            counts[inside + '_text'] += 1
        if inside == 'term' and r > 180 and g < 40 and b < 40:
            counts['term_red'] += 1
        if inside == 'term' and b > 180 and r < 40 and g < 40:
            counts['term_blue'] += 1
        if inside == 'panel' and r > 230 and 150 < g < 200 and b < 30:
            counts['panel_amber'] += 1
        if (r, g, b) == (0x2a, 0x2a, 0x5a):
            counts['prompt'] += 1
print('width=%d' % w)
print('height=%d' % hgt)
print('panel_x=%d' % panel_x)
print('panel_cols=%d' % len(panel_cols))
for k, v in counts.items():
    print('%s=%d' % (k, v))
PY
    rm -f "$WORK/shot-$1.xwd"
    if mkdir -p "$LBVM_BUILD/test-artifacts" 2>/dev/null; then
        cp "$WORK/shot-$1.png" "$LBVM_BUILD/test-artifacts/sdl-console-$1.png" 2>/dev/null || true
    fi
    note "screenshot $1: $(tr '\n' ' ' <"$WORK/shot-$1.txt")"
}
val() { sed -n "s/^$2=//p" "$WORK/shot-$1.txt"; }   # SHOT KEY
at_least() {  # SHOT KEY MIN REASON
    local v; v=$(val "$1" "$2")
    [ "${v:-0}" -ge "$3" ] || fail "screenshot $1: $4 ($2=$v, expected at least $3; see $WORK/shot-$1.png)"
}

# --- 2. boot, type, look ----------------------------------------------------
r=$WORK/shroot
mkdir -p "$r/proc" "$r/dev"
add_busybox "$r" sh mount poweroff printf echo
cat >"$r/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
printf 'LBVM-SDL: \033[1;33;41m  COLOURED  \033[0m plain\n'
echo "LBVM-SDL: shell ready"
sh
echo "LBVM-SDL: error the shell ended"
poweroff -f
INIT
chmod 755 "$r/init"
"$LBVM" mkinitramfs -o "$WORK/sh.cpio" "$r" >"$WORK/mk.err" 2>&1 || fail "mkinitramfs failed" "$WORK/mk.err"

start run1 boot --kernel "$KERNEL_686" --initrd "$WORK/sh.cpio" --console sdl --console-log "$WORK/run1.log" \
    --checkpoint-dir "$WORK/ck" --checkpoint-on '^LBVM-SDL: ' --steps-total 4 --journal "$WORK/run1.journal"
wait_for "$WORK/run1.log" "LBVM-SDL: shell ready" 300
wait_for "$WORK/run1.log" "/ # " 120
sleep 1
type_line 'echo $((6*7))XY; printf "\033[44m  BLUE  \033[0m\n"'
wait_for "$WORK/run1.log" "42XY" 60
wait_for "$WORK/run1.log" "  BLUE  " 60
sleep 1    # a frame or two
shot typed
at_least typed panel_cols 200 "no status panel (its background) on the right"
panel_x=$(val typed panel_x) width=$(val typed width)
[ "$panel_x" -gt $(( width / 2 )) ] || fail "screenshot typed: the panel starts at x=$panel_x, expected it on the right of the terminal"
at_least typed term_text 3000 "too little text in the terminal area"
at_least typed term_red 500 "no red block (the guest's SGR 41 line) in the terminal area"
at_least typed term_blue 500 "no blue block (the typed command's SGR 44 output) in the terminal area"
at_least typed panel_text 500 "no text in the status panel"
at_least typed panel_amber 20 "no bar for the current step in the panel's plot"
[ "$(val typed prompt)" = 0 ] || fail "a close prompt is showing, nobody closed the window"
type_line 'poweroff -f'
finish
[ "$RC" = 0 ] || fail "run1: lbvm exited $RC after poweroff, expected 0" "$WORK/run1.err"
assert_not_contains "$WORK/run1.log" "LBVM-SDL: error" "run1: the guest reported an error"
grep -q '^input ' "$WORK/run1.journal" || fail "run1: no typed input in the journal" "$WORK/run1.journal"
run_lbvm verify1 verify "$WORK/run1.journal"
[ "$RC" = 0 ] || fail "lbvm verify of the typed run: exit $RC, expected identical" "$WORK/verify1.out" "$WORK/verify1.err"
assert_contains "$WORK/verify1.out" "identical" "the typed run does not verify"

# --- 3. resume, close: no, then yes ------------------------------------------
ck=$(ls "$WORK"/ck/ckpt-*.lbvm 2>/dev/null | sort | sed -n 2p)
[ -n "$ck" ] || fail "run1 left no checkpoint after \"shell ready\"" "$WORK/run1.err"
start run2 resume "$ck" --console sdl --console-log "$WORK/run2.log"
wait_for "$WORK/run2.log" "/ # " 120
sleep 1
"$WORK/xclose" "$WIN" || fail "cannot send WM_DELETE_WINDOW"
sleep 1
shot prompt
at_least prompt prompt 2000 "closing the window showed no prompt"
focus
xdotool key n
sleep 1
kill -0 "$LBVM_PID" 2>/dev/null || fail "run2: lbvm ended after answering no" "$WORK/run2.err"
type_line 'echo again$((2+3))'
wait_for "$WORK/run2.log" "again5" 60
assert_not_contains "$WORK/run2.log" "necho" "the 'n' answering the prompt reached the guest"
"$WORK/xclose" "$WIN" || fail "cannot send WM_DELETE_WINDOW"
sleep 1
focus
xdotool key y
finish
[ "$RC" = 5 ] || fail "run2: lbvm exited $RC after closing the window and answering yes, expected 5" "$WORK/run2.err"
assert_contains "$WORK/run2.err" "stopped from the console window; resume with: lbvm resume " "run2: no stop message"
last=$(sed -n 's/.*resume with: lbvm resume //p' "$WORK/run2.err")
[ -s "$last" ] || fail "run2: the final checkpoint $last is missing" "$WORK/run2.err"
pass "window, typing (journal verified), pixels of terminal and panel, close prompt; screenshots in $WORK"
