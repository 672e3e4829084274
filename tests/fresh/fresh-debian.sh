#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fresh-debian.sh [--quick] [--keep] [--user] [--dir DIR] [--repo DIR]
#
# Proves that a new user's first run works: makes a minimal Debian 12 root
# (debootstrap --variant=minbase bookworm) whose apt sources are only the
# deb822 file /etc/apt/sources.list.d/debian.sources, as Debian's cloud and
# container images ship, copies a clean checkout of this project (git archive
# HEAD: commit first) into it, and runs the README's two commands inside it
# with chroot:
#   scripts/run-demo.sh   must print "lbvm demo: ... is running as init"
#   scripts/test.sh       the whole suite (--quick: scripts/test.sh -L unit)
# Prints one line per phase and a PASS/FAIL summary; everything else goes to a
# log file whose path it prints. Exit 0 on PASS, 1 on FAIL, 2 on bad usage.
#
#   --quick     run-demo.sh, then only the unit tests (about 7 minutes
#               instead of 30 on 2 cores)
#   --keep      keep the root folder at the end (it is removed otherwise)
#   --user      run the commands as a non-root user "lbvm" with password-less
#               sudo, as on a cloud image (default: as root, as in a container)
#   --dir DIR   make the root in DIR (must not exist, or be empty); default a
#               new folder under /var/tmp
#   --repo DIR  the git checkout to copy (default: the one holding this script)
#
# Needs root (debootstrap, chroot, mount) and network access to the Debian
# archive named in this host's apt sources. It runs in a private mount
# namespace (unshare), so its mounts are never seen outside it and vanish with
# its last process; on every exit it also stops what it started (in the root
# too), unmounts, and removes the root. Not registered in ctest: run it by hand.
set -uo pipefail
export LC_ALL=C

die() { echo "fresh-debian: $*" >&2; exit 2; }

args=("$@")
quick=0 keep=0 as_user=0 dir= repo=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    --user) as_user=1 ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a value"; dir=$2; shift ;;
    --repo) [ $# -ge 2 ] || die "--repo needs a value"; repo=$2; shift ;;
    -h|--help) sed -n '3,28s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mount): run it with sudo"
[ -n "$repo" ] || repo=$(cd "$(dirname "$0")/../.." && pwd)
git -C "$repo" rev-parse --verify -q HEAD >/dev/null || die "$repo is not a git checkout with a commit (--repo)"

# A private mount namespace: the mounts made below never propagate to the
# host's /dev (as they could from a shared /), and vanish with the last
# process in it even if this one is killed with SIGKILL.
if [ -z "${LBVM_FRESH_NS:-}" ]; then
    command -v unshare >/dev/null || die "unshare not found (util-linux): install util-linux"
    LBVM_FRESH_NS=1 exec unshare --mount --propagation private "$0" "${args[@]}"
fi

# --- the root folder and the log ----------------------------------------------
if [ -n "$dir" ]; then
    if [ -e "$dir" ]; then
        [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ] || die "$dir exists and is not an empty folder (--dir)"
    fi
    mkdir -p "$dir" || die "cannot create $dir"
    root=$dir
else
    root=$(mktemp -d /var/tmp/lbvm-fresh.XXXXXX) || die "cannot create a folder under /var/tmp"
fi
# without symbolic links, as /proc/PID/root names it
root=$(cd "$root" && pwd -P) || die "cannot enter $root"
chmod 755 "$root"
log=$root.log
: >"$log" || die "cannot write $log"
echo "fresh-debian: root $root"
echo "fresh-debian: log  $log"

set -m
demo_out=$root.demo
phase_pid=
summary=()
result=FAIL

# The processes this script started: the running phase's process group (with
# set -m each phase is a job with a group of its own, so debootstrap's and
# apt's children are in it too) and anything else whose root is the root.
procs_in_root() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
    done
}
signal_all() {      # SIGNAL; true if something was still there to signal
    local any=1 pids
    [ -n "$phase_pid" ] && kill -"$1" -- "-$phase_pid" 2>/dev/null && any=0
    pids=$(procs_in_root)
    [ -n "$pids" ] && { kill -"$1" $pids 2>/dev/null; any=0; }
    return $any
}
# Stops what still runs, unmounts, and removes the root unless --keep.
cleanup() {
    local t m
    trap - EXIT INT TERM HUP
    set +m      # no "Terminated" notice for the job stopped below
    if signal_all TERM; then
        for t in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
            sleep 1
            signal_all 0 || break
        done
        for t in 1 2 3 4 5; do
            signal_all KILL || break
            sleep 1
        done
    fi
    # What phase "mount" mounted, and what debootstrap mounts by itself, deepest
    # first. (The mount namespace is private: nothing here is the host's.)
    for m in $(awk -v r="$root/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount "$m" 2>>"$log" || umount -l "$m" 2>>"$log"
    done
    if [ $keep = 1 ]; then
        echo "fresh-debian: kept $root"
    elif awk -v r="$root" '$5 == r || index($5, r "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
        echo "fresh-debian: $root still has mounts below it, so it was not removed (see $log)" >&2
    elif signal_all 0; then
        echo "fresh-debian: processes still run in $root, so it was not removed" >&2
    else
        echo "fresh-debian: removing $root"
        rm -rf --one-file-system "$root" 2>>"$log" || echo "fresh-debian: could not remove $root (see $log)" >&2
    fi
    rm -f "$demo_out"
}
trap cleanup EXIT
# A signal ends the line of the phase it came in.
stopped() {
    [ -z "$phase_pid" ] || echo "stopped"
    echo "fresh-debian: $1: FAIL (log: $log)" >&2
    exit "$2"
}
trap 'stopped interrupted 130' INT
trap 'stopped terminated 143' TERM HUP

# phase NAME COMMAND...: runs COMMAND with its output in the log; one line.
# COMMAND runs in the background so that a signal is handled at once.
phase() {
    local name=$1 t0 rc start; shift
    printf 'fresh-debian: %-30s ' "$name"
    printf '\n===== %s: %s\n' "$name" "$*" >>"$log"
    start=$(stat -c %s "$log")
    t0=$SECONDS
    "$@" >>"$log" 2>&1 </dev/null &
    phase_pid=$!
    wait $phase_pid
    rc=$?
    phase_pid=
    if [ $rc = 0 ]; then
        echo "ok ($((SECONDS - t0)) s)"
        summary+=("ok      $name ($((SECONDS - t0)) s)")
    else
        echo "FAILED, exit $rc ($((SECONDS - t0)) s)"
        summary+=("FAILED  $name ($((SECONDS - t0)) s)")
        echo "----- the end of its output (all of it in $log):"
        tail -c +$((start + 1)) "$log" | tail -n 25
        echo "-----"
    fi
    return $rc
}

finish() {
    local s
    echo "fresh-debian: summary"
    for s in "${summary[@]}"; do echo "  $s"; done
    echo "fresh-debian: $result in $((SECONDS / 60)) min $((SECONDS % 60)) s (log: $log)"
    [ $result = PASS ]
    exit $?
}

# --- the host: debootstrap and the archive --------------------------------------
# The Debian archive and its security archive, from this host's apt sources in
# either format (a *.sources "URIs:" field, or a "deb [opts] URI suite" line).
host_uris() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] && sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' \t' '\n\n'
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] && sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f"
    done
}
mirror=$(host_uris | sed 's,/*$,,' | grep -m1 '/debian$')
security=$(host_uris | sed 's,/*$,,' | grep -m1 '/debian-security$')
[ -n "$mirror" ] || die "no Debian archive (a URI ending in /debian) in this host's apt sources"
[ -n "$security" ] || security=$mirror-security

install_debootstrap() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap \
        || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap; }
}
if ! command -v debootstrap >/dev/null; then
    phase "install debootstrap (host)" install_debootstrap || { echo "fresh-debian: cannot install debootstrap on this host" >&2; finish; }
fi

# --- the fresh root ---------------------------------------------------------------
phase "debootstrap minbase bookworm" debootstrap --variant=minbase bookworm "$root" "$mirror" || finish

# What Debian's cloud and container images have, and nothing more: the sources
# in deb822 only, the host's resolver, and (as the container images do) no
# services started by package installs in a root without an init.
prepare_root() {
    rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/* || return 1
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF || return 1
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -f "$root/etc/resolv.conf" && cp -L /etc/resolv.conf "$root/etc/resolv.conf" || return 1
    # The machine's name resolves, as an installed system's /etc/hosts makes it
    # (else sudo warns "unable to resolve host" at every call).
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$(uname -n)" >"$root/etc/hosts" || return 1
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d" || return 1
    # The root reads the same archive as this host: if this host's apt must
    # accept its expired Release files (a mirror frozen in time), so must the
    # root's. A user of that archive would need the same setting.
    if [ "$(apt-config shell v Acquire::Check-Valid-Until)" = "v='false'" ]; then
        echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99from-host-check-valid-until" || return 1
        echo "note: this host's apt sets Acquire::Check-Valid-Until false; the root does too"
    fi
    apt_clean_lists
}
# debootstrap leaves the package lists of its own one-line source behind: a
# fresh image has none until its first apt-get update.
apt_clean_lists() {
    find "$root/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete
    rm -f "$root"/var/cache/apt/*.bin
}
phase "deb822-only apt sources" prepare_root || finish
[ ! -e "$root/etc/apt/apt.conf.d/99from-host-check-valid-until" ] \
    || echo "fresh-debian:   (as on this host: apt accepts expired Release files)"

do_mount() {    # TYPE-OR-bind SOURCE TARGET
    local target=$root$3
    mkdir -p "$target" || return 1
    if [ "$1" = bind ]; then mount --bind "$2" "$target"; else mount -t "$1" "$2" "$target"; fi
}
mount_all() {
    do_mount proc proc /proc && do_mount sysfs sysfs /sys && do_mount bind /dev /dev \
        && do_mount bind /dev/pts /dev/pts && do_mount tmpfs tmpfs /dev/shm
}
phase "mount /proc /sys /dev" mount_all || finish

if [ $as_user = 1 ]; then
    user=lbvm home=/home/lbvm
    add_user() {
        chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
            sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends sudo' || return 1
        apt_clean_lists
        chroot "$root" useradd -m -s /bin/bash -G sudo lbvm || return 1
        echo 'lbvm ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/90-cloud-user" && chmod 440 "$root/etc/sudoers.d/90-cloud-user"
    }
    phase "user lbvm with sudo" add_user || finish
else
    user=root home=/root
fi

copy_project() {
    git -C "$repo" log -1 --format='%H %s' HEAD
    git -C "$repo" status --porcelain --untracked-files=no | grep -q . \
        && echo "note: $repo has uncommitted changes; they are not copied"
    mkdir -p "$root$home" || return 1
    git -C "$repo" archive --format=tar --prefix=lbvm/ HEAD | tar -x -C "$root$home" || return 1
    [ $user = root ] || chroot "$root" chown -R "$user:$user" "$home/lbvm"
}
phase "copy $(git -C "$repo" rev-parse --short HEAD) into the root" copy_project || finish

# in_root COMMAND: COMMAND run by bash in ~/lbvm as the new user, with the
# environment of a fresh login.
in_root() {
    if [ $user = root ]; then
        chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            nice -n 10 /bin/bash -lc "cd ~/lbvm && $1"
    else
        chroot "$root" /usr/bin/env -i TERM=dumb nice -n 10 /bin/su - "$user" -c "cd ~/lbvm && $1"
    fi
}

# --- the README's commands --------------------------------------------------------
run_demo() {
    in_root scripts/run-demo.sh >"$demo_out" 2>&1
    local rc=$?
    cat "$demo_out"
    [ $rc = 0 ] || return $rc
    grep -q "^lbvm demo: .* is running as init" "$demo_out" || { echo "no 'lbvm demo: ... is running as init' line"; return 1; }
}
ok=1
if phase "scripts/run-demo.sh" run_demo; then
    echo "fresh-debian:   $(grep -m1 '^lbvm demo: ' "$demo_out")"
else
    ok=0
fi
rm -f "$demo_out"

if [ $quick = 1 ]; then
    phase "scripts/test.sh -L unit" in_root "scripts/test.sh -L unit" || ok=0
else
    phase "scripts/test.sh" in_root scripts/test.sh || ok=0
fi
ctest_line=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 2 | paste -sd';' -)
[ -z "$ctest_line" ] || echo "fresh-debian:   ctest: $ctest_line"

[ $ok = 1 ] && result=PASS
finish
