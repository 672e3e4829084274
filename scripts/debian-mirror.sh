# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by scripts/setup.sh and scripts/cross-arm64.sh: debian_mirror.

# The first Debian archive URI apt is configured with, from the one-line format
# (/etc/apt/sources.list, *.list) or the deb822 format (*.sources, the only one
# Debian 12's cloud and container images ship). Missing files are normal.
debian_mirror() {
    local f line uris=()
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        # deb822: "URIs: a b" (a field may list several).
        while IFS= read -r line; do
            case $line in
            URIs:*) local more=(); read -r -a more <<<"${line#URIs:}"; uris+=("${more[@]}") ;;
            esac
        done <"$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        while IFS= read -r line; do
            # deb [options] URI suite components
            local w=() i=1
            read -r -a w <<<"$line"
            [ "${w[0]:-}" = deb ] || continue
            if [[ ${w[1]:-} == \[* ]]; then
                while [ $i -lt ${#w[@]} ] && [[ ${w[$i]} != *\] ]]; do i=$((i + 1)); done
                i=$((i + 1))
            fi
            [ -n "${w[$i]:-}" ] && uris+=("${w[$i]}")
        done <"$f"
    done
    local u
    for u in "${uris[@]+"${uris[@]}"}"; do
        case $u in *-security*|*security.debian.org*) continue ;; esac
        case ${u%/} in */debian) echo "${u%/}"; return 0 ;; esac
    done
    return 0
}
