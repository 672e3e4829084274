#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Includes run one way (docs/architecture.md, "Layers"): a source file in a
# layer's folder includes the project's headers by their path from the top
# ("devices/pit.h"), and only headers of its own folder or of a lower layer.
#   layers.sh [ROOT]        check the tree at ROOT (default: this checkout)
#   layers.sh --self-test   plant a wrong-way and a bare include in a copy of
#                           the tree and fail unless both are caught
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)

# The layers, lowest first; folders of one rank never include each other.
rank() {
    case "$1" in
    base) echo 0 ;;
    devices | boot | seeds) echo 1 ;;
    emu) echo 2 ;;
    audit | steps) echo 3 ;;
    cli) echo 4 ;;
    *) echo -1 ;;
    esac
}
LAYERS="base devices boot seeds emu audit steps cli"

check() {
    local root=$1 bad=0 f L inc to r rt
    for L in $LAYERS; do
        for f in "$root/$L"/*.[ch]; do
            [ -e "$f" ] || continue
            r=$(rank "$L")
            while IFS= read -r inc; do
                case "$inc" in
                */*) to=${inc%%/*} ;;
                *)
                    echo "layers: ${f#"$root"/} includes \"$inc\" without its layer's folder (write \"$L/$inc\" or the header's own folder)"
                    bad=1
                    continue
                    ;;
                esac
                rt=$(rank "$to")
                if [ "$rt" -lt 0 ]; then
                    echo "layers: ${f#"$root"/} includes \"$inc\" from $to/, which is no layer"
                    bad=1
                elif [ "$to" != "$L" ] && [ "$rt" -ge "$r" ]; then
                    echo "layers: ${f#"$root"/} ($L, layer $r) includes \"$inc\" ($to, layer $rt): includes run downwards only"
                    bad=1
                fi
            done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
        done
    done
    return $bad
}

if [ "${1:-}" = "--self-test" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for L in $LAYERS; do
        mkdir -p "$tmp/$L"
        cp "$here/$L"/*.[ch] "$tmp/$L/" 2>/dev/null || true
    done
    check "$tmp" >/dev/null || { echo "layers: self-test: the unchanged tree fails"; exit 1; }
    cp -r "$tmp" "$tmp.up" && trap 'rm -rf "$tmp" "$tmp.up" "$tmp.bare"' EXIT
    printf '#include "emu/machine.h"\n' >>"$tmp.up/devices/pit.c"
    out=$(check "$tmp.up") && { echo "layers: self-test: a device including emu/machine.h passed"; exit 1; }
    grep -q 'devices/pit.c (devices, layer 1) includes "emu/machine.h"' <<<"$out" || { echo "layers: self-test: wrong message: $out"; exit 1; }
    cp -r "$tmp" "$tmp.bare"
    printf '#include "pit.h"\n' >>"$tmp.bare/devices/pic.c"
    out=$(check "$tmp.bare") && { echo "layers: self-test: a bare \"pit.h\" include passed"; exit 1; }
    grep -q 'devices/pic.c includes "pit.h" without' <<<"$out" || { echo "layers: self-test: wrong message: $out"; exit 1; }
    echo "layers: self-test passed"
    exit 0
fi
check "${1:-$here}" && echo "layers: every include runs one way"
