#!/bin/bash
# SPDX-License-Identifier: LGPL-2.0-or-later
#
# csand start-up with --seccomp-profile (issue 9), as ratios in one run.
#
#   tests/bench/seccomp.sh [BUILD_DIR]        (default BUILD_DIR: build)
#
# Times, interleaved by benchtime, the same minimal sandbox running `true`:
#   none            no profile
#   default         --seccomp-profile default, compiled program cached
#   default_nocache --seccomp-profile default, CSAND_SECCOMP_CACHE=0: compiled
#                   by libseccomp on every start
#   desktop         --seccomp-profile desktop, cached
# and prints a table and one "BENCH ..." line per case with its ratio to
# `none`. default_nocache - default is what compiling costs (what the cache
# saves). Every case goes through env(1), so they pay the same exec.
#
# csand runs as an unprivileged user: started as root, the script drops to
# $CSAND_BENCH_USER (default csandtest), running staged copies of the
# binaries and profiles when the build tree is closed to that user.
#
# Environment: CSAND, CSAND_BENCH_TIMER (binaries; default from BUILD_DIR),
# CSAND_SECCOMP_PROFILE_DIR (default: the source tree's seccomp-profiles),
# CSAND_BENCH_QUICK=1 (a tenth of the runs), CSAND_BENCH_USER.
#
# It reports; it never fails on a slow number, only when a command fails.
set -euo pipefail

die() {
        echo "bench seccomp: $*" >&2
        exit 1
}

script=$(readlink -f "${BASH_SOURCE[0]}")

if [[ ${CSAND_BENCH_INNER:-} != 1 ]]; then
        here=$(dirname "$script")
        # shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
        . "$here/lib.sh"
        top=$(cd "$here/../.." && pwd)
        build=${1:-$top/build}
        CSAND=$(readlink -f "${CSAND:-$build/csand}")
        timer=$(readlink -f "${CSAND_BENCH_TIMER:-$(dirname "$CSAND")/tests/bench/benchtime}")
        profiles=$(readlink -f "${CSAND_SECCOMP_PROFILE_DIR:-$top/seccomp-profiles}")
        bench_require_built "$build" "$CSAND" "$timer"
        [[ -r $profiles/default.json ]] || die "no default.json in $profiles"
        env_args=(PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 CSAND_BENCH_INNER=1
                  CSAND_BENCH_QUICK="${CSAND_BENCH_QUICK:-}")

        if [[ $(id -u) == 0 ]]; then
                bench_require_user " (tools/prepare-machine.sh creates it)"
                bench_make_stage csand-bench-seccomp
                bench_stage_file CSAND=csand timer=benchtime script=seccomp.sh
                bench_stage_dir profiles=profiles
        fi
        bench_exec_inner "$script" "${env_args[@]}" \
                CSAND="$CSAND" CSAND_BENCH_TIMER="$timer" CSAND_SECCOMP_PROFILE_DIR="$profiles"
fi

# ---- inner part: the unprivileged user ----
cd /
runs=200
[[ -n ${CSAND_BENCH_QUICK:-} && $CSAND_BENCH_QUICK != 0 ]] && runs=20

# A private cache, warmed below, so that "cached" means cached.
cache=$(mktemp -d /tmp/csand-bench-seccomp-cache.XXXXXX)
out=$(mktemp)
trap 'rm -rf -- "$cache" "$out"' EXIT
export XDG_CACHE_HOME=$cache

MINIMAL=(--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64
         --proc /proc --dev /dev --unshare-all)

"$CSAND" --seccomp-profile default "${MINIMAL[@]}" -- true || die "csand --seccomp-profile default fails"
"$CSAND" --seccomp-profile desktop "${MINIMAL[@]}" -- true || die "csand --seccomp-profile desktop fails"

echo "bench seccomp: $runs runs per case" >&2
"$CSAND_BENCH_TIMER" -n "$runs" -w 5 \
        none /usr/bin/env CSAND_SECCOMP_CACHE=1 "$CSAND" "${MINIMAL[@]}" -- true \
        ::: default /usr/bin/env CSAND_SECCOMP_CACHE=1 "$CSAND" --seccomp-profile default "${MINIMAL[@]}" -- true \
        ::: default_nocache /usr/bin/env CSAND_SECCOMP_CACHE=0 "$CSAND" --seccomp-profile default "${MINIMAL[@]}" -- true \
        ::: desktop /usr/bin/env CSAND_SECCOMP_CACHE=1 "$CSAND" --seccomp-profile desktop "${MINIMAL[@]}" -- true \
        >"$out" || die "a command failed (see above)"

echo
echo "csand start-up with --seccomp-profile: $(uname -r), $(nproc) CPUs, as $(id -un)"
echo "csand: $CSAND ($("$CSAND" --version 2>/dev/null | head -n1))"
echo "sandbox: minimal /usr root, --unshare-all, running true; wall clock per launch, runs interleaved"
echo
awk '
function kv(line, key,    re, m) {
        re = "(^| )" key "=[^ ]*"
        if (match(line, re)) { m = substr(line, RSTART, RLENGTH); sub(/^ /, "", m); return substr(m, length(key) + 2) }
        return ""
}
{ label[NR] = $1; med[$1] = kv($0, "median_us"); mn[$1] = kv($0, "min_us"); n[$1] = kv($0, "runs") }
END {
        printf "%-16s %6s %11s %11s %8s\n", "case", "runs", "median_us", "min_us", "x_none"
        for (i = 1; i <= NR; i++) {
                l = label[i]
                printf "%-16s %6s %11.1f %11.1f %8.2f\n", l, n[l], med[l], mn[l], med[l] / med["none"]
        }
        printf "\ncompiling the default profile (default_nocache - default): %.1f us per start\n\n", med["default_nocache"] - med["default"]
        for (i = 1; i <= NR; i++) {
                l = label[i]
                printf "BENCH case=seccomp tool=csand profile=%s runs=%s median_us=%s min_us=%s ratio_none=%.2f\n", l, n[l], med[l], mn[l], med[l] / med["none"]
        }
}' "$out"
