#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# profile.sh [-o FILE.md] [-l LABEL] [-i PERF.DATA | -- LBVM-COMMAND...]
# Runs one lbvm command under `perf record` (or reads a recording) and prints where the host time went,
# as a markdown table of shares: the generated code, lbvm's hooks, Unicorn's
# per-block helpers, its block lookups, its translator, its memory helpers, the
# rest. See bench/README.md ("Where the time goes").
set -u
out='' label='' data=''
. "$(dirname "$0")/common.sh"
while getopts "o:l:i:h" opt; do
    case $opt in
    o) out=$OPTARG ;;
    l) label=$OPTARG ;;
    i) data=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || [ -n "$data" ] || usage
command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lbvm-profile.XXXXXX") || { echo "profile: cannot create a temporary folder" >&2; exit 1; }
trap 'rm -rf "$work"' EXIT
if [ -z "$data" ]; then
    data=$work/perf.data
    perf record -q -o "$data" -- "$@" >"$work/out" 2>"$work/err"
    rc=$?
    [ "$rc" = 0 ] || { echo "profile: the command exited $rc (last lines of its stderr follow)" >&2; tail -n5 "$work/err" >&2; exit 1; }
fi
# Shares per library first (exact), then per symbol: the generated code is
# spread over thousands of addresses whose rounded shares would not add up.
perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null >"$work/dso" \
    && perf report -i "$data" --no-children --sort dso,symbol --stdio 2>/dev/null >"$work/report" \
    || { echo "profile: perf report failed" >&2; exit 1; }

# Each sample line: "  12.34%  dso  [.] symbol". Unicorn's library has no
# symbols for its static functions; those show as bare addresses and land in
# "Unicorn, unnamed" (in our profiles mostly its TB hash table and the GTree of
# translated blocks that every TLB fill searches to restore the guest EIP).
awk -v label="${label:-$*}" '
    /^#/ || !/%/ { next }
    FILENAME == ARGV[1] {
        pct = $1; sub(/%/, "", pct); dso = $2
        if (dso ~ /^\[JIT\]/) share["generated code"] += pct
        else total[dso ~ /unicorn/ ? "unicorn" : dso == "lbvm" ? "lbvm" : "other"] += pct
        next
    }
    {
        pct = $1; sub(/%/, "", pct); dso = $2; sym = $4
        if (dso ~ /^\[JIT\]/) next
        if (dso ~ /unicorn/) named["unicorn"] += pct
        else if (dso == "lbvm") named["lbvm"] += pct
        else named["other"] += pct
        if (dso == "lbvm" && sym == "cpu_hook_block") cat = "lbvm: block hook (virtual time)"
        else if (dso == "lbvm" && sym ~ /^(cpu_tlb_fill|cpu_walk|walk_ctx|in_sys_table)$/) cat = "lbvm: TLB fill hook and page walk"
        else if (dso == "lbvm" && sym ~ /^cpu_/) cat = "lbvm: other CPU hooks and delivery"
        else if (dso == "lbvm") cat = "lbvm: devices, console, rest"
        else if (dso ~ /unicorn/ && sym ~ /^helper_check_exit_request/) cat = "Unicorn: exit check at every block"
        else if (dso ~ /unicorn/ && sym ~ /^(helper_lookup_tb_ptr|tb_htable_lookup|tb_lookup|qht_|tb_cmp)/) cat = "Unicorn: block lookup"
        else if (dso ~ /unicorn/ && sym ~ /^(tcg_|translator_|tb_gen_code|gen_|disas_|i386_tr_|x86_tr_)/) cat = "Unicorn: translator"
        else if (dso ~ /unicorn/ && sym ~ /(_mmu_|load_helper|store_helper|tlb_|notdirty|get_page_addr_code|unicorn_fill_tlb|cpu_restore_state)/) cat = "Unicorn: memory and TLB helpers"
        else if (dso ~ /unicorn/ && sym ~ /^0x/) cat = "Unicorn: unnamed internal functions"
        else if (dso ~ /unicorn/) cat = "Unicorn: other helpers"
        else if (dso ~ /kernel/) cat = "host kernel"
        else cat = "other libraries (" dso ")"
        share[cat] += pct
    }
    END {
        # what the per-symbol lines left out (rounding of many tiny entries)
        if (total["unicorn"] > named["unicorn"]) share["Unicorn: unnamed internal functions"] += total["unicorn"] - named["unicorn"]
        if (total["lbvm"] > named["lbvm"]) share["lbvm: devices, console, rest"] += total["lbvm"] - named["lbvm"]
        if (total["other"] > named["other"]) share["other libraries (small entries)"] += total["other"] - named["other"]
        printf "| %s | share |\n|---|---|\n", label
        n = 0
        for (c in share) order[++n] = c
        for (i = 1; i <= n; i++)
            for (j = i + 1; j <= n; j++)
                if (share[order[j]] > share[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
        for (i = 1; i <= n; i++)
            if (share[order[i]] >= 0.5) printf "| %s | %.1f%% |\n", order[i], share[order[i]]
            else rest += share[order[i]]
        if (rest > 0) printf "| (each under 0.5%%) | %.1f%% |\n", rest
    }' "$work/dso" "$work/report" > "$work/table.md"
cat "$work/table.md"
publish "$work/table.md" "$out" profile
