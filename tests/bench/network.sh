#!/bin/bash
# SPDX-License-Identifier: LGPL-2.0-or-later
#
# csand user-mode networking (issue 7), as ratios in one run.
#
#   tests/bench/network.sh [BUILD_DIR]        (default BUILD_DIR: build)
#
# 1. Throughput, iperf3 TCP, 3 s a run, loopback addresses only:
#      loopback     iperf3 server on the host's 127.0.0.1 (the reference)
#      slirp4netns  server in a csand sandbox, --publish 127.0.0.1:P:5201
#      pasta        the same through pasta
#    in both directions: host->sandbox (the host's client sends) and
#    sandbox->host (iperf3 -R: the server in the sandbox sends), each
#    helper's median over the rounds divided by loopback's.
# 2. Start-up: `true` in a minimal sandbox with --network host, none,
#    slirp4netns and pasta, and each helper with --allow-host (egress by
#    name, issue 21), interleaved by benchtime; median, the time each mode
#    adds to --network host, and the ratio. Also pasta on its own
#    (`pasta --config-net -- true`: its own user and network namespaces),
#    what --network pasta can at best add.
# 3. Egress by name: the iperf3 client in the sandbox, the server on the
#    host's 127.0.0.1 reached through the helper's gateway address
#    (--allow-host-loopback), plain and with --allow-host (through csand's
#    relay), both directions; the median with --allow-host divided by the
#    plain one, per helper, rounds interleaved.
# 4. Leftovers: a few runs of each helper mode under a subreaper; a helper
#    still alive when csand has exited would be reparented to it.
# Prints a table and one "BENCH ..." line per case.
#
# csand runs as an unprivileged user: started as root, the script drops to
# $CSAND_BENCH_USER (default csandtest), running staged copies of the
# binaries. Environment: CSAND, CSAND_BENCH_TIMER, CSAND_BENCH_QUICK=1 (one
# throughput round, a tenth of the start-up runs), CSAND_BENCH_ROUNDS,
# CSAND_BENCH_USER, CSAND_BENCH_NETWORK_THROUGHPUT=0 (start-up only, as
# run.sh runs it). It never fails on a slow number, only when a command
# fails or a tool (iperf3, slirp4netns, pasta, /dev/net/tun) is missing.
set -euo pipefail

die() {
        echo "bench network: $*" >&2
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
        bench_require_built "$build" "$CSAND" "$timer"
        env_args=(PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 CSAND_BENCH_INNER=1
                  CSAND_BENCH_QUICK="${CSAND_BENCH_QUICK:-}" CSAND_BENCH_ROUNDS="${CSAND_BENCH_ROUNDS:-}"
                  CSAND_BENCH_NETWORK_THROUGHPUT="${CSAND_BENCH_NETWORK_THROUGHPUT:-1}")
        if [[ $(id -u) == 0 ]]; then
                bench_require_user " (tools/prepare-machine.sh creates it)"
                bench_make_stage csand-bench-network
                bench_stage_file CSAND=csand timer=benchtime script=network.sh
        fi
        bench_exec_inner "$script" "${env_args[@]}" CSAND="$CSAND" CSAND_BENCH_TIMER="$timer"
fi

# ---- inner part: the unprivileged user ----
cd /
for tool in iperf3 slirp4netns pasta python3; do
        command -v "$tool" >/dev/null || die "$tool is missing (apt-get install iperf3 slirp4netns passt)"
done
[[ -r /dev/net/tun && -w /dev/net/tun ]] || die "/dev/net/tun is not usable by $(id -un) (tools/prepare-machine.sh makes it 0666)"

quick=0
[[ -n ${CSAND_BENCH_QUICK:-} && $CSAND_BENCH_QUICK != 0 ]] && quick=1
rounds=${CSAND_BENCH_ROUNDS:-$((quick ? 1 : 3))}
[[ ${CSAND_BENCH_NETWORK_THROUGHPUT:-1} != 0 ]] || rounds=0
[[ $rounds =~ ^[0-9][0-9]?$ ]] || die "CSAND_BENCH_ROUNDS must be 1-99"
runs=$((quick ? 10 : 100))

work=$(mktemp -d /tmp/csand-bench-network-run.XXXXXX)
bg=()
cleanup() {
        local pid
        for pid in "${bg[@]}"; do
                kill -KILL "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        done
        rm -rf -- "$work"
}
trap cleanup EXIT

MINIMAL=(--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64
         --proc /proc --dev /dev --tmpfs /tmp --unshare-all --die-with-parent)

free_port() {
        python3 -c 'import random, socket
for _ in range(200):
    p = random.randint(20000, 39999)
    try:
        s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
    except OSError:
        continue
    print(p); break'
}

# iperf3 client against 127.0.0.1:PORT (extra args: -R); bits/s received.
# Retries while the server is not listening yet (bounded: ~10 s).
iperf_client() {
        local port=$1 i
        shift
        for ((i = 0; i < 100; i++)); do
                if iperf3 -c 127.0.0.1 -p "$port" -t 3 -J "$@" >"$work/client.json" 2>/dev/null &&
                   python3 -c 'import json, sys
print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$work/client.json" 2>/dev/null; then
                        return 0
                fi
                cp "$work/client.json" "$work/client-failed.json" 2>/dev/null || true
                sleep 0.1
        done
        return 1
}

# One throughput run: MODE (loopback, slirp4netns, pasta), DIR (up: host ->
# sandbox, down: sandbox -> host). Prints bits/s.
throughput() {
        local mode=$1 dir=$2 port pid rev=()
        [[ $dir == down ]] && rev=(-R)
        port=$(free_port)
        if [[ $mode == loopback ]]; then
                iperf3 -s -1 -B 127.0.0.1 -p "$port" </dev/null >/dev/null 2>&1 &
        else
                "$CSAND" "${MINIMAL[@]}" --network "$mode" --publish "127.0.0.1:$port:5201" \
                        iperf3 -s -1 -p 5201 </dev/null >/dev/null 2>"$work/csand.err" &
        fi
        pid=$!
        bg+=("$pid")
        local bps
        bps=$(iperf_client "$port" "${rev[@]}") || {
                cat "$work/csand.err" >&2 2>/dev/null || true
                die "iperf3 through $mode ($dir) failed"
        }
        # The one-off server ends by itself; csand with it.
        local i
        for ((i = 0; i < 100; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "$bps"
}

modes=(loopback slirp4netns pasta)
((rounds == 0)) || echo "bench network: throughput, $rounds round(s) of 3 s per case and direction" >&2
echo "#" >"$work/tput" # never empty: awk tells the two files apart by FNR == 1
for ((r = 0; r < rounds; r++)); do
        # Rotate the order each round, so that drift hits every mode alike.
        for ((k = 0; k < ${#modes[@]}; k++)); do
                mode=${modes[$(((k + r) % ${#modes[@]}))]}
                for dir in up down; do
                        bps=$(throughput "$mode" "$dir") && [[ -n $bps ]] || die "no result for $mode ($dir)"
                        echo "$mode $dir $bps" >>"$work/tput"
                done
        done
done

# The address inside that leads to the host's loopback.
pasta_gw=
if ((rounds > 0)); then
        pasta_gw=$("$CSAND" "${MINIMAL[@]}" --network pasta ip -4 route show default | awk '{ print $3; exit }')
        [[ -n $pasta_gw ]] || die "no default route inside --network pasta"
fi

# One outbound run: HELPER, FILTER (plain or allow), DIR (up: sandbox ->
# host, down: -R). Prints bits/s as the sandbox's client measured them.
egress_throughput() {
        local helper=$1 filter=$2 dir=$3 port pid gw target rev=() args=()
        [[ $dir == down ]] && rev=(-R)
        gw=10.0.2.2
        [[ $helper == pasta ]] && gw=$pasta_gw
        target=$gw
        [[ $filter == allow ]] && args=(--allow-host iperf.test --add-host "iperf.test:$gw") && target=iperf.test
        port=$(free_port)
        # A server for several tests: the readiness probe is a connection too.
        iperf3 -s -B 127.0.0.1 -p "$port" </dev/null >/dev/null 2>&1 &
        pid=$!
        bg+=("$pid")
        local i
        for ((i = 0; i < 100; i++)); do
                python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null && break
                sleep 0.1
        done
        "$CSAND" "${MINIMAL[@]}" --network "$helper" --allow-host-loopback "${args[@]}" \
                iperf3 -c "$target" -p "$port" -t 3 -J "${rev[@]}" >"$work/egress.json" 2>"$work/csand.err" ||
                { cat "$work/csand.err" >&2; die "iperf3 out of $helper ($filter, $dir) failed"; }
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        python3 -c 'import json, sys
print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$work/egress.json"
}

((rounds == 0)) || echo "bench network: egress by name, $rounds round(s) of 3 s per case and direction" >&2
: >"$work/egress"
for ((r = 0; r < rounds; r++)); do
        for helper in slirp4netns pasta; do
                for filter in plain allow; do
                        for dir in up down; do
                                bps=$(egress_throughput "$helper" "$filter" "$dir") && [[ -n $bps ]] ||
                                        die "no result for $helper $filter ($dir)"
                                echo "$helper-$filter $dir $bps" >>"$work/egress"
                        done
                done
        done
done

echo "bench network: start-up, $runs runs per mode" >&2
"$CSAND" "${MINIMAL[@]}" --network slirp4netns true || die "csand --network slirp4netns fails"
"$CSAND" "${MINIMAL[@]}" --network pasta true || die "csand --network pasta fails"
"$CSAND" "${MINIMAL[@]}" --network pasta --allow-host example.org true || die "csand --allow-host fails"
"$CSAND_BENCH_TIMER" -n "$runs" -w 3 \
        host "$CSAND" "${MINIMAL[@]}" --network host true \
        ::: none "$CSAND" "${MINIMAL[@]}" --network none true \
        ::: slirp4netns "$CSAND" "${MINIMAL[@]}" --network slirp4netns true \
        ::: pasta "$CSAND" "${MINIMAL[@]}" --network pasta true \
        ::: slirp4netns+allow "$CSAND" "${MINIMAL[@]}" --network slirp4netns --allow-host example.org true \
        ::: pasta+allow "$CSAND" "${MINIMAL[@]}" --network pasta --allow-host example.org true \
        ::: pasta_alone "$(command -v pasta)" --config-net --quiet -- /usr/bin/true \
        >"$work/startup" || die "a start-up command failed (see above)"

# Helpers alive when csand has exited: csand runs under a subreaper, which
# inherits whatever it left behind; counted right after it exits.
leftovers() {
        python3 -c 'import ctypes, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
left = []
for _ in range(5):
    subprocess.run(sys.argv[1:], check=True)
    left += open("/proc/self/task/%d/children" % os.getpid()).read().split()
print(len(left))' "$@"
}
left_slirp=$(leftovers "$CSAND" "${MINIMAL[@]}" --network slirp4netns true) || die "csand --network slirp4netns fails"
left_pasta=$(leftovers "$CSAND" "${MINIMAL[@]}" --network pasta true) || die "csand --network pasta fails"

echo
echo "csand user-mode networking: $(uname -r), $(nproc) CPUs, as $(id -un)"
echo "csand: $CSAND ($("$CSAND" --version 2>/dev/null | head -n1)); iperf3 TCP, 3 s a run, 127.0.0.1 only"
echo
awk -v rounds="$rounds" -v left_slirp="$left_slirp" -v left_pasta="$left_pasta" '
function median(list,    n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
FNR == 1 { file++ }
file == 1 { if ($1 != "#") v[$1 " " $2] = v[$1 " " $2] " " $3; next }
file == 2 {
        for (i = 2; i <= NF; i++) if (split($i, kv, "=") == 2) s[$1, kv[1]] = kv[2]
        order[++n] = $1
}
END {
        name["up"] = "host->sandbox"; name["down"] = "sandbox->host"
        split("loopback slirp4netns pasta", modes, " ")
        if (rounds > 0)
                printf "%-12s %-14s %12s %10s\n", "throughput", "direction", "Gbit/s", "x_loopback"
        for (d = 1; d <= 2 && rounds > 0; d++) {
                dir = d == 1 ? "up" : "down"
                ref = median(v["loopback " dir])
                for (m = 1; m <= 3; m++) {
                        med[modes[m], dir] = median(v[modes[m] " " dir])
                        printf "%-12s %-14s %12.2f %10.2f\n", modes[m], name[dir], med[modes[m], dir] / 1e9, med[modes[m], dir] / ref
                }
        }
        printf "\n%-17s %6s %11s %11s %11s %8s\n", "start-up", "runs", "median_us", "min_us", "added_us", "x_host"
        for (i = 1; i <= n; i++) {
                l = order[i]
                if (l == "pasta_alone") {
                        printf "%-17s %6s %11.1f %11.1f %11s %8s  (pasta --config-net -- true, no csand)\n", l, s[l, "runs"],
                               s[l, "median_us"], s[l, "min_us"], "-", "-"
                        continue
                }
                printf "%-17s %6s %11.1f %11.1f %11.1f %8.2f\n", l, s[l, "runs"], s[l, "median_us"], s[l, "min_us"],
                       s[l, "median_us"] - s["host", "median_us"], s[l, "median_us"] / s["host", "median_us"]
        }
        printf "\nhelpers left running when csand exited (5 runs each, under a subreaper): slirp4netns %d, pasta %d\n",
               left_slirp, left_pasta
        print ""
        for (d = 1; d <= 2 && rounds > 0; d++) {
                dir = d == 1 ? "up" : "down"
                for (m = 1; m <= 3; m++)
                        printf "BENCH case=network-throughput mode=%s direction=%s rounds=%d gbit_s=%.2f ratio_loopback=%.2f\n",
                               modes[m], name[dir], rounds, med[modes[m], dir] / 1e9, med[modes[m], dir] / med["loopback", dir]
        }
        for (i = 1; i <= n; i++) {
                l = order[i]
                if (l == "pasta_alone") {
                        printf "BENCH case=network-startup mode=%s runs=%s median_us=%s min_us=%s\n", l, s[l, "runs"],
                               s[l, "median_us"], s[l, "min_us"]
                        continue
                }
                printf "BENCH case=network-startup mode=%s runs=%s median_us=%s min_us=%s added_us=%.1f ratio_host=%.2f\n",
                       l, s[l, "runs"], s[l, "median_us"], s[l, "min_us"], s[l, "median_us"] - s["host", "median_us"],
                       s[l, "median_us"] / s["host", "median_us"]
        }
        printf "BENCH case=network-leftovers mode=slirp4netns runs=5 left=%d\n", left_slirp
        printf "BENCH case=network-leftovers mode=pasta runs=5 left=%d\n", left_pasta
}' "$work/tput" "$work/startup"
((rounds == 0)) || awk '
function median(list,    n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ v[$1 " " $2] = v[$1 " " $2] " " $3 }
END {
        name["up"] = "sandbox->host"; name["down"] = "host->sandbox"
        printf "\n%-12s %-14s %12s %12s %8s\n", "egress", "direction", "plain_Gbit/s", "allow_Gbit/s", "x_plain"
        split("slirp4netns pasta", helpers, " ")
        for (h = 1; h <= 2; h++)
                for (d = 1; d <= 2; d++) {
                        dir = d == 1 ? "up" : "down"
                        p = median(v[helpers[h] "-plain " dir]); a = median(v[helpers[h] "-allow " dir])
                        printf "%-12s %-14s %12.2f %12.2f %8.2f\n", helpers[h], name[dir], p / 1e9, a / 1e9, a / p
                        out = out sprintf("BENCH case=network-egress mode=%s direction=%s plain_gbit_s=%.2f allow_gbit_s=%.2f ratio_plain=%.2f\n",
                                          helpers[h], name[dir], p / 1e9, a / 1e9, a / p)
                }
        printf "\n%s", out
}' "$work/egress"
