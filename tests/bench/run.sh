#!/bin/bash
# SPDX-License-Identifier: LGPL-2.0-or-later
#
# csand start-up benchmark (issue 4; ARCHITECTURE.md, "Benchmarks").
#
#   tests/bench/run.sh [BUILD_DIR]        (default BUILD_DIR: build)
#
# Builds BUILD_DIR (meson setup if needed, then meson compile), then times
# csand, bwrap on the identical command line, and the floor program,
# interleaved, and prints a table and one "BENCH ..." line per case and tool.
# csand runs as an unprivileged user, as it does in real use: started as
# root, the script drops to $CSAND_BENCH_USER (default csandtest, created by
# tools/prepare-machine.sh) for the measurements.
#
# Environment:
#   CSAND, CSAND_BENCH_FLOOR, CSAND_BENCH_BINDFLOOR, CSAND_BENCH_TIMER
#                       binaries to use (set by meson's benchmark(); when
#                       CSAND is set nothing is built)
#   BWRAP               bwrap to compare with (default /usr/bin/bwrap; absent: skipped)
#   CSAND_BENCH_USER    unprivileged user to run as when started as root
#   CSAND_BENCH_QUICK=1 a tenth of the runs (a rough figure in a few seconds)
#   CSAND_BENCH_NICE    niceness of the measurements when started as root
#                       (default -20, so that other load on the machine
#                       disturbs them less; 0 to leave it)
#   CSAND_BENCH_STARTUP_ONLY=1   only the start-up cases here; by default
#                       network.sh (start-up part) and image.sh run too,
#                       and a table of issue 17's targets ends the output
#
# It reports; it never fails on a slow number, only when a command fails.
set -euo pipefail

die() {
        echo "bench: $*" >&2
        exit 1
}

script=$(readlink -f "${BASH_SOURCE[0]}")

# targets_table FILE: issue 17's targets, one row each, from the BENCH lines
# in FILE (this script's, network.sh's and image.sh's of the same run). It
# reports what was met; it asserts nothing.
targets_table() {
        awk '
/^BENCH / {
        delete fld
        for (i = 2; i <= NF; i++) { split($i, kv, "="); fld[kv[1]] = kv[2] }
        id = fld["case"] "/" ("tool" in fld ? fld["tool"] : fld["mode"])
        for (k in fld) v[id, k] = fld[k]
        have[id] = 1
}
function row(what, measured, goal, met) {
        printf "%-40s %-40s %-14s %s\n", what, measured, goal, met
}
function yn(ok) { return ok ? "yes" : "no" }
function ms(us) { return sprintf("%.1f ms", us / 1000) }
END {
        print "issue 17 targets, all measured in this run (medians; ratios of medians from the same run)"
        row("target", "measured", "goal", "met")
        c = v["b/csand", "median_us"]; f = v["b/floor", "median_us"]; b = v["b/bwrap", "median_us"]
        if (c != "" && f != "")
                row("case b: csand / floor", sprintf("%.2fx (%.0f / %.0f us)", c / f, c, f), "<= 1.15x", yn(c / f <= 1.15))
        if (c != "" && b != "")
                row("case b: csand / bwrap", sprintf("%.2fx (%.0f / %.0f us)", c / b, c, b), "<= 0.75x", yn(c / b <= 0.75))
        if (have["d1000/csand"]) {
                add = v["d1000/csand", "median_us"] - v["d1000/csand", "base_median_us"]
                row("1,000 --ro-bind-try added to case b", ms(add), "<= 15 ms", yn(add <= 15000))
        }
        if (have["d1000/bindfloor"]) {
                add = v["d1000/bindfloor", "median_us"] - v["d1000/bindfloor", "base_median_us"]
                row("  (the kernel alone: bindfloor)", ms(add), "-", "-")
        }
        split("e e1000", rc, " ")
        for (k = 1; k <= 2; k++) {
                c = v[rc[k] "/csand", "maxrss_kb"]; b = v[rc[k] "/bwrap", "maxrss_kb"]
                if (c != "" && b != "")
                        row("peak RSS, case " (k == 1 ? "b" : "d1000") ": csand / bwrap", sprintf("%s / %s kB", c, b), "<= bwrap", yn(c + 0 <= b + 0))
        }
        c = v["image-first/csand", "median_us"]; p = v["image-first/podman", "median_us"]
        if (c != "" && p != "")
                row("--image first run: csand / podman", sprintf("%.2fx (%.0f / %.0f ms)", c / p, c / 1000, p / 1000), "<= 0.5x", yn(c / p <= 0.5))
        else if (c != "")
                row("--image first run: csand / podman", sprintf("%.0f ms (no podman)", c / 1000), "<= 0.5x", "-")
        c = v["image-cached/csand", "median_us"]
        if (c != "")
                row("--image cached run", ms(c), "<= 10 ms", yn(c <= 10000))
        s = v["network-startup/slirp4netns", "added_us"]
        if (s != "")
                row("--network slirp4netns: added to true", ms(s), "<= 10 ms", yn(s <= 10000))
        s = v["network-startup/pasta", "added_us"]; a = v["network-startup/pasta_alone", "median_us"]
        if (s != "" && a != "")
                row("--network pasta: added / pasta alone", sprintf("%s / %s", ms(s), ms(a)), "<= pasta alone", yn(s <= a + 0))
        s = v["network-leftovers/slirp4netns", "left"]; a = v["network-leftovers/pasta", "left"]
        if (s != "" && a != "")
                row("helpers alive after csand exits", sprintf("slirp4netns %d, pasta %d (5 runs each)", s, a), "none", yn(s + a == 0))
}' "$1"
}

# ---------------------------------------------------------------------------
# Outer part: build, find the binaries, drop privileges.
# ---------------------------------------------------------------------------
if [[ ${CSAND_BENCH_INNER:-} != 1 ]]; then
        # shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
        . "$(dirname "$script")/lib.sh"
        bench_build_csand "${1:-}"
        build_dir=$(dirname "$CSAND")
        floor=$(readlink -f "${CSAND_BENCH_FLOOR:-$build_dir/tests/bench/floor}")
        bindfloor=$(readlink -f "${CSAND_BENCH_BINDFLOOR:-$build_dir/tests/bench/bindfloor}")
        timer=$(readlink -f "${CSAND_BENCH_TIMER:-$build_dir/tests/bench/benchtime}")
        bench_require_built "$build_dir" "$CSAND" "$floor" "$bindfloor" "$timer"
        here=$(dirname "$script")
        csand_built=$CSAND timer_built=$timer

        env_args=(PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 LC_ALL=C.UTF-8
                  CSAND_BENCH_INNER=1 CSAND_BENCH_QUICK="${CSAND_BENCH_QUICK:-}"
                  BWRAP="${BWRAP:-/usr/bin/bwrap}")

        if [[ $(id -u) == 0 ]]; then
                bench_require_user ". The benchmark runs csand as an unprivileged user, as in real use; create it with tools/prepare-machine.sh (or set CSAND_BENCH_USER to an existing unprivileged user)."
                # The user must be able to run what was built; if the build
                # tree is closed to it, run copies (same bytes) from a
                # private directory.
                if ! bench_user_can_run "$CSAND" "$floor" "$bindfloor" "$timer" "$script"; then
                        bench_make_stage csand-bench
                        bench_stage_file CSAND=csand floor=floor bindfloor=bindfloor timer=benchtime script=run.sh
                fi
        fi
        # every script's BENCH lines, for the table of targets at the end
        all_out=$(mktemp)
        trap 'rm -f "$all_out"; bench_cleanup_stage' EXIT
        (bench_exec_inner --nice --set-user "$script" "${env_args[@]}" \
                CSAND="$CSAND" CSAND_BENCH_FLOOR="$floor" CSAND_BENCH_BINDFLOOR="$bindfloor" \
                CSAND_BENCH_TIMER="$timer") | tee "$all_out"
        if [[ ${CSAND_BENCH_STARTUP_ONLY:-0} == 0 ]]; then
                # The other targets, in the same run: networking (start-up
                # only) and images, each by its own script (which drops to
                # the user and stages copies itself).
                echo
                CSAND=$csand_built CSAND_BENCH_TIMER=$timer_built CSAND_BENCH_NETWORK_THROUGHPUT=0 \
                        bash "$here/network.sh" "${1:-}" | tee -a "$all_out"
                echo
                CSAND=$csand_built CSAND_BENCH_TIMER=$timer_built bash "$here/image.sh" "${1:-}" | tee -a "$all_out"
        fi
        echo
        targets_table "$all_out"
        exit 0
fi

# ---------------------------------------------------------------------------
# Inner part: runs as the unprivileged user.
# ---------------------------------------------------------------------------
FLOOR=$CSAND_BENCH_FLOOR
BINDFLOOR=$CSAND_BENCH_BINDFLOOR
TIMER=$CSAND_BENCH_TIMER
cd /

quick=${CSAND_BENCH_QUICK:-}
runs() { # runs N: N, or a tenth of it (at least 3) in quick mode
        if [[ -n $quick && $quick != 0 ]]; then
                local n=$(($1 / 10))
                echo $((n < 3 ? 3 : n))
        else
                echo "$1"
        fi
}

"$FLOOR" 2>/dev/null || die "the floor program cannot create namespaces as $(id -un): are unprivileged user namespaces enabled? ($("$FLOOR" 2>&1 || true))"
"$BINDFLOOR" /usr 2>/dev/null || die "the bind floor program cannot bind /usr as $(id -un): $("$BINDFLOOR" /usr 2>&1 || true)"

have_bwrap=0
bwrap_note=
if [[ -x $BWRAP ]]; then
        if "$BWRAP" --ro-bind / / true 2>/dev/null; then
                have_bwrap=1
                bwrap_note=$("$BWRAP" --version 2>/dev/null || echo "bwrap")
        else
                bwrap_note="$BWRAP does not work here ($("$BWRAP" --ro-bind / / true 2>&1 | head -n1)); skipped"
        fi
else
        bwrap_note="$BWRAP not installed; skipped"
fi

MINIMAL=(--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64
         --proc /proc --dev /dev --unshare-all)

# Sources for case d: real directories under /usr, so every bind happens;
# reused in a cycle if the host has fewer than 1000. Destinations /mnt/N
# never overlap.
mapfile -t BIND_SOURCES < <({
        find /usr/lib/x86_64-linux-gnu /usr/lib -mindepth 1 -maxdepth 1 -type d 2>/dev/null
        find /usr/share -mindepth 1 -maxdepth 2 -type d 2>/dev/null
} | awk '!seen[$0]++' | head -n 1000)
[[ ${#BIND_SOURCES[@]} -gt 0 ]] || die "no directories found under /usr for case d"
extra_binds() { # extra_binds N: prints N --ro-bind-try SRC DEST triples, one word a line
        local i
        for ((i = 0; i < $1; i++)); do
                printf '%s\n' --ro-bind-try "${BIND_SOURCES[i % ${#BIND_SOURCES[@]}]}" "/mnt/$i"
        done
}
bind_sources() { # bind_sources N: the same N sources, one a line
        local i
        for ((i = 0; i < $1; i++)); do
                printf '%s\n' "${BIND_SOURCES[i % ${#BIND_SOURCES[@]}]}"
        done
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT

# bench CASE RUNS WARMUP FLOOR_NS DESCRIPTION -- CSAND/BWRAP ARGS...
# Times csand, bwrap (same arguments) and the floor, interleaved, in one run.
# With BASE_ARGS set (an array), also times csand and bwrap on those, in the
# same run, as the baseline for a per-mount cost. With BIND_SOURCES_N set
# (an array), also times bindfloor binding them and binding none, the
# kernel's own per-bind cost in the same run. With BWRAP_EVERY=K, bwrap
# runs only every K-th round (it is slow with many binds). With NO_BWRAP=1,
# bwrap is left out (csand's own options).
bench() {
        local case=$1 n=$2 w=$3 ns=$4 desc=$5
        shift 6
        local cmds=(csand "$CSAND" "$@" ::: floor "$FLOOR" "$ns")
        local every=${BWRAP_EVERY:-1}
        local bw=$have_bwrap
        [[ -z ${NO_BWRAP:-} ]] || bw=0
        [[ $bw == 0 ]] || cmds+=(::: "bwrap%$every" "$BWRAP" "$@")
        if [[ -n ${BASE_ARGS+x} ]]; then
                cmds+=(::: csand_base "$CSAND" "${BASE_ARGS[@]}")
                [[ $bw == 0 ]] || cmds+=(::: "bwrap_base%$every" "$BWRAP" "${BASE_ARGS[@]}")
        fi
        [[ -z ${BIND_SOURCES_N+x} ]] ||
                cmds+=(::: bindfloor "$BINDFLOOR" "${BIND_SOURCES_N[@]}" ::: bindfloor_base "$BINDFLOOR")
        local note=
        [[ $every == 1 || $have_bwrap == 0 ]] || note=", bwrap in 1 round of $every"
        echo "bench: case $case ($desc): $n runs$note" >&2
        local out
        out=$("$TIMER" -n "$n" -w "$w" "${cmds[@]}") || die "case $case: a command failed (see above)"
        # One "case=.. desc=.. ns=.. nmounts=.. LABEL key=value..." line per command.
        while read -r label rest; do
                printf 'case=%s ns=%s nmounts=%s tool=%s %s desc=%s\n' \
                        "$case" "$ns" "${NMOUNTS:-0}" "$label" "$rest" "$desc" >>"$results"
        done <<<"$out"
}

nb=$(runs 200)
bench a "$nb" 3 user,mnt "--ro-bind / / true" -- --ro-bind / / true
bench b "$nb" 3 all "minimal root, --unshare-all" -- "${MINIMAL[@]}" -- true
bench c "$nb" 3 user,mnt,pid,ipc,uts,cgroup "(b) with --share-net" -- "${MINIMAL[@]}" --share-net -- true
NMOUNTS=0 bench d0 "$nb" 3 all "(b) + 0 --ro-bind-try" -- "${MINIMAL[@]}" -- true
for N in 10 100 1000; do
        mapfile -t EXTRA < <(extra_binds "$N")
        mapfile -t BIND_SOURCES_N < <(bind_sources "$N")
        # bwrap takes ~15 ms with 100 binds and ~1 s with 1000: it runs in
        # every 2nd / 6th round only (50 / 10 runs), csand and the floor in all.
        case $N in
        10) n=$(runs 150) w=3 every=1 ;;
        100) n=$(runs 100) w=2 every=2 ;;
        *) n=$(runs 60) w=2 every=6 ;;
        esac
        BASE_ARGS=("${MINIMAL[@]}" -- true)
        BWRAP_EVERY=$every NMOUNTS=$N bench "d$N" "$n" "$w" all "(b) + $N --ro-bind-try" -- "${MINIMAL[@]}" "${EXTRA[@]}" -- true
        unset BASE_ARGS BIND_SOURCES_N
done

# (l) Landlock (issue 20): case b with --landlock, against case b timed in
# the same run; bwrap has no Landlock.
BASE_ARGS=("${MINIMAL[@]}" -- true)
NO_BWRAP=1 bench l "$nb" 3 all "(b) with --landlock" -- "${MINIMAL[@]}" --landlock -- true
unset BASE_ARGS

# (e) peak RSS with GNU time's %M: the largest of the process and the
# descendants it reaped (csand's monitor, pid 1, the command's process).
rss() { # rss CMD...: median of 5 peak RSS readings in kB
        local i f vals=()
        f=$(mktemp)
        for i in 1 2 3 4 5; do
                /usr/bin/time -f %M -o "$f" "$@" >/dev/null || { rm -f "$f"; die "case e: $* failed"; }
                vals+=("$(tail -n1 "$f")")
        done
        rm -f "$f"
        printf '%s\n' "${vals[@]}" | sort -n | sed -n 3p
}
rss_note="/usr/bin/time -f %M, median of 5"
if [[ -x /usr/bin/time ]]; then
        echo "bench: case e (peak RSS)" >&2
        mapfile -t EXTRA < <(extra_binds 1000)
        {
                echo "case=e ns=all nmounts=0 tool=csand maxrss_kb=$(rss "$CSAND" "${MINIMAL[@]}" -- true) desc=peak RSS, case b"
                [[ $have_bwrap == 0 ]] ||
                        echo "case=e ns=all nmounts=0 tool=bwrap maxrss_kb=$(rss "$BWRAP" "${MINIMAL[@]}" -- true) desc=peak RSS, case b"
                echo "case=e ns=all nmounts=0 tool=floor maxrss_kb=$(rss "$FLOOR" all) desc=peak RSS, case b"
                echo "case=e1000 ns=all nmounts=1000 tool=csand maxrss_kb=$(rss "$CSAND" "${MINIMAL[@]}" "${EXTRA[@]}" -- true) desc=peak RSS, case d1000"
                [[ $have_bwrap == 0 ]] ||
                        echo "case=e1000 ns=all nmounts=1000 tool=bwrap maxrss_kb=$(rss "$BWRAP" "${MINIMAL[@]}" "${EXTRA[@]}" -- true) desc=peak RSS, case d1000"
        } >>"$results"
else
        rss_note="skipped: /usr/bin/time is not installed (apt-get install time)"
fi

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
echo
echo "csand start-up benchmark: $(uname -r), $(nproc) CPUs, as $(id -un) (uid $(id -u)), nice $(nice), $(wc -l </proc/self/mountinfo) host mounts, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "csand: $CSAND ($("$CSAND" --version 2>/dev/null | head -n1))"
echo "bwrap: $bwrap_note"
echo "floor: $FLOOR (clone with all 7 namespaces unless noted, id maps, exec /usr/bin/true)"
echo "times in microseconds, wall clock per launch (posix_spawn to waitpid), runs interleaved;"
echo "ratios are of medians from the same run"
echo

awk -v rss_note="$rss_note" '
function kv(line, key,    re, m) {
        re = "(^| )" key "=[^ ]*"
        if (match(line, re)) {
                m = substr(line, RSTART, RLENGTH); sub(/^ /, "", m)
                return substr(m, length(key) + 2)
        }
        return ""
}
function desc(line) { return substr(line, index(line, " desc=") + 6) }
{
        c = kv($0, "case"); t = kv($0, "tool")
        if (!(c in seen)) { seen[c] = 1; order[++nc] = c; cdesc[c] = desc($0); cns[c] = kv($0, "ns"); cn[c] = kv($0, "nmounts") }
        med[c, t] = kv($0, "median_us"); mn[c, t] = kv($0, "min_us"); runs[c, t] = kv($0, "runs")
        rss[c, t] = kv($0, "maxrss_kb"); has[c, t] = 1
}
function ratio(a, b) { return (a != "" && b != "" && b > 0) ? sprintf("%.2f", a / b) : "-" }
END {
        printf "%-6s %-34s %-6s %6s %11s %11s %8s %8s\n", "case", "what", "tool", "runs", "median_us", "min_us", "x_floor", "x_bwrap"
        for (i = 1; i <= nc; i++) {
                c = order[i]
                if (c ~ /^e/) continue
                first = 1
                split("csand bwrap floor", tools, " ")
                for (j = 1; j <= 3; j++) {
                        t = tools[j]
                        if (!has[c, t]) continue
                        xf = (t == "floor") ? "-" : ratio(med[c, t], med[c, "floor"])
                        xb = (t == "csand") ? ratio(med[c, t], med[c, "bwrap"]) : "-"
                        w = first ? cdesc[c] : ""
                        printf "%-6s %-34s %-6s %6s %11.1f %11.1f %8s %8s\n", first ? c : "", w, t, runs[c, t], med[c, t], mn[c, t], xf, xb
                        first = 0
                }
                if (cns[c] != "all") printf "%-6s %s\n", "", "  (floor namespaces: " cns[c] ", as the command needs)"
        }

        if (has["b", "floor"] && mn["b", "floor"] > 0 && med["b", "floor"] / mn["b", "floor"] > 1.6)
                printf "note: in case b the floor median is %.1fx its min: the machine was busy, and absolute\n      times (less so the ratios) are inflated; run again on an idle machine\n", med["b", "floor"] / mn["b", "floor"]

        printf "\nper extra read-only bind (case d: against (b) timed in the same run; bindfloor: the kernel\n"
        printf "alone, bindfloor.c with N sources against none, in the same run)\n"
        printf "%-6s %-9s %7s %12s %12s %14s %12s\n", "case", "tool", "mounts", "median_us", "base_us", "per_mount_us", "x_bindfloor"
        for (i = 1; i <= nc; i++) {
                c = order[i]; n = cn[c]
                if (c !~ /^d/ || n == 0) continue
                split("bindfloor csand bwrap", tools, " ")
                for (j = 1; j <= 3; j++) {
                        t = tools[j]
                        if (!has[c, t]) continue
                        base = med[c, t "_base"]
                        pm[c, t] = (med[c, t] - base) / n
                        xbf = (t != "bindfloor" && has[c, "bindfloor"] && pm[c, "bindfloor"] > 0) ? sprintf("%.2f", pm[c, t] / pm[c, "bindfloor"]) : "-"
                        printf "%-6s %-9s %7d %12.1f %12.1f %14.2f %12s\n", c, t, n, med[c, t], base, pm[c, t], xbf
                }
        }

        if (has["l", "csand"]) {
                printf "\nLandlock (case l: (b) with --landlock against (b) timed in the same run)\n"
                printf "%-6s %12s %12s %8s\n", "case", "median_us", "base_us", "x_base"
                printf "%-6s %12.1f %12.1f %8s\n", "l", med["l", "csand"], med["l", "csand_base"], ratio(med["l", "csand"], med["l", "csand_base"])
        }

        printf "\npeak RSS (%s)\n", rss_note
        printf "%-6s %-22s %-6s %10s\n", "case", "what", "tool", "maxrss_kb"
        for (i = 1; i <= nc; i++) {
                c = order[i]
                if (c !~ /^e/) continue
                split("csand bwrap floor", tools, " ")
                for (j = 1; j <= 3; j++)
                        if (has[c, tools[j]])
                                printf "%-6s %-22s %-6s %10s\n", c, cdesc[c], tools[j], rss[c, tools[j]]
        }

        printf "\n"
        for (i = 1; i <= nc; i++) {
                c = order[i]
                split("csand bwrap floor bindfloor", tools, " ")
                for (j = 1; j <= 4; j++) {
                        t = tools[j]
                        if (!has[c, t]) continue
                        if (c ~ /^e/) { printf "BENCH case=%s tool=%s maxrss_kb=%s\n", c, t, rss[c, t]; continue }
                        line = sprintf("BENCH case=%s tool=%s runs=%s median_us=%s min_us=%s", c, t, runs[c, t], med[c, t], mn[c, t])
                        if (t != "floor" && t != "bindfloor") line = line " ratio_floor=" ratio(med[c, t], med[c, "floor"])
                        if (t == "csand" && has[c, "bwrap"]) line = line " ratio_bwrap=" ratio(med[c, t], med[c, "bwrap"])
                        if (c == "l" && t == "csand") line = line sprintf(" base_median_us=%s ratio_base=%s", med[c, "csand_base"], ratio(med[c, t], med[c, "csand_base"]))
                        if (cn[c] > 0 && t != "floor") line = line sprintf(" mounts=%d base_median_us=%s per_mount_us=%.2f", cn[c], med[c, t "_base"], pm[c, t])
                        if (cn[c] > 0 && t == "csand" && pm[c, "bindfloor"] > 0) line = line sprintf(" per_mount_x_bindfloor=%.2f", pm[c, t] / pm[c, "bindfloor"])
                        print line
                }
        }
}' "$results"
