#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `lbvm fetch` end to end: a live-bootstrap style sources file, a real HTTP
# server on loopback, the distdir afterwards; then --offline and a bad hash.
. "$(dirname "$0")/lib.sh"
need_lbvm
docroot=$WORK/www
mkdir -p "$docroot"
head -c 300000 /dev/urandom > "$docroot/pkg-1.0.tar.gz"
printf 'second file\n' > "$docroot/other.txt"
python3 "$LBVM_SRC/tests/fetch/server.py" "$docroot" "$WORK/server.log" "$WORK/port" &
server=$!
trap 'kill $server 2>/dev/null; lbvm_cleanup' EXIT
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || fail "the test HTTP server did not start"
base=http://127.0.0.1:$(cat "$WORK/port")/files
h1=$(sha256sum < "$docroot/pkg-1.0.tar.gz" | cut -d' ' -f1)
h2=$(sha256sum < "$docroot/other.txt" | cut -d' ' -f1)
cat > "$WORK/sources" <<SRC
# comment lines are skipped
$base/pkg-1.0.tar.gz $h1
f $base/other.txt $h2 renamed.txt
SRC

run_lbvm fetch1 fetch -d "$WORK/dist" "$WORK/sources"
[ "$RC" = 0 ] || fail "lbvm fetch exited $RC" "$WORK/fetch1.err"
cmp -s "$docroot/pkg-1.0.tar.gz" "$WORK/dist/pkg-1.0.tar.gz" || fail "pkg-1.0.tar.gz differs after the download"
cmp -s "$docroot/other.txt" "$WORK/dist/renamed.txt" || fail "the 'f URL SHA NAME' line did not give renamed.txt"
[ -z "$(ls "$WORK/dist" | grep '\.part$')" ] || fail "a .part file was left behind"

# Everything present: nothing downloaded again.
n=$(wc -l < "$WORK/server.log")
run_lbvm fetch2 fetch -d "$WORK/dist" "$WORK/sources"
[ "$RC" = 0 ] && [ "$(wc -l < "$WORK/server.log")" = "$n" ] || fail "a second fetch downloaded again (exit $RC)"

# Offline with one file missing: listed, non-zero exit, no request.
rm "$WORK/dist/renamed.txt"
run_lbvm offline fetch --offline -d "$WORK/dist" "$WORK/sources"
[ "$RC" != 0 ] || fail "--offline with a missing file exited 0"
assert_contains "$WORK/offline.err" "renamed.txt" "--offline did not name the missing file"
[ "$(wc -l < "$WORK/server.log")" = "$n" ] || fail "--offline made a request"

# A wrong hash: error naming the file, nothing kept.
sed "s/$h2/$(printf '0%.0s' $(seq 64))/" "$WORK/sources" > "$WORK/bad-sources"
run_lbvm bad fetch -d "$WORK/dist" "$WORK/bad-sources"
[ "$RC" != 0 ] || fail "a checksum mismatch exited 0"
assert_contains "$WORK/bad.err" "renamed.txt" "the checksum error does not name the file"
[ ! -e "$WORK/dist/renamed.txt" ] && [ ! -e "$WORK/dist/renamed.txt.part" ] || fail "a file with a wrong hash was kept"
pass "download, skip, offline listing, checksum refusal"
