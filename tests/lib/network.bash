# Helpers for the network tests (tests/integration/network-*.bats), loaded
# after common.bash:
#
#     load ../lib/common
#     load ../lib/network
#
# All traffic stays on this machine: the host's loopback and the sandboxes'
# own network namespaces.  Ports are random high ports, checked free first.

# The minimal root plus what ip(8), curl and python need.
net_root=(
        "${csand_min_root[@]}"
        --unshare-pid --proc /proc --dev /dev
)

# Skips (fails with CI=true) when the helper or /dev/net/tun is missing.
require_net_helper() {
        local helper=$1
        require_userns
        require_feature "$helper (Debian package ${helper/pasta/passt})" command -v "$helper"
        require_feature "a usable /dev/net/tun (tools/prepare-machine.sh makes it 0666)" \
                test -r /dev/net/tun -a -w /dev/net/tun
}

require_net_tool() {
        require_feature "$1 on the host" command -v "$1"
}

# A random port in 20000-39999 that is free for TCP and UDP on 127.0.0.1.
free_port() {
        python3 - <<'PY'
import random, socket
for _ in range(200):
    port = random.randint(20000, 39999)
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", port))
            s.close()
    except OSError:
        continue
    print(port)
    break
PY
}

# --- processes in the background -------------------------------------------

# Background processes of the test (killed by net_teardown).
NET_BG_PIDS=()

# csand_bg ARGS...: starts csand in the background, as csand() does, with
# its output in $CSAND_LOG; sets CSAND_PID (csand's own pid).
csand_bg() {
        CSAND_LOG="$BATS_TEST_TMPDIR/csand.log"
        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "$@" \
                </dev/null >"$CSAND_LOG" 2>&1 3>&- &
        CSAND_PID=$!
        NET_BG_PIDS+=("$CSAND_PID")
}

# bg_run ARGS...: runs a host-side program in the background; sets BG_PID.
bg_run() {
        "$@" </dev/null >>"$BATS_TEST_TMPDIR/bg.log" 2>&1 3>&- &
        BG_PID=$!
        NET_BG_PIDS+=("$BG_PID")
}

# Waits for background pid PID and sets BG_STATUS to its exit status.
# Bounded: fails after ~20 s.
wait_bg() {
        local pid=$1
        if ! poll_until 200 pid_gone "$pid"; then
                fail "process $pid did not exit within 20 s"
                return 1
        fi
        BG_STATUS=0
        wait "$pid" || BG_STATUS=$?
}

# Is NAME (a /proc/PID/comm) one of the helpers?  Debian's pasta execs
# pasta.avx2, whose comm is passt.avx2.
is_net_helper_comm() {
        case $1 in
        slirp4netns | pasta* | passt*) return 0 ;;
        esac
        return 1
}

# Pids of the network helpers that csand PID started (its children).
net_helper_pids() {
        local pid comm
        for pid in $(pgrep -P "$1" 2>/dev/null); do
                comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
                is_net_helper_comm "$comm" && echo "$pid"
        done
        return 0
}

# Polls (up to ~10 s) until csand PID has a helper child; prints its pid.
wait_for_net_helper() {
        poll_output 100 net_helper_pids "$1"
}

# Is PID a live (not zombie) helper process?
net_helper_alive() {
        local comm state
        comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
        is_net_helper_comm "$comm" || return 1
        state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
        [ -n "$state" ] && [ "$state" != Z ]
}

# assert_helpers_gone PID...: polls (up to ~10 s) until none of these
# helper processes is alive.
assert_helpers_gone() {
        local i pid alive
        for ((i = 0; i < 100; i++)); do
                alive=
                for pid in "$@"; do
                        net_helper_alive "$pid" && alive+=" $pid"
                done
                [ -z "$alive" ] && return 0
                sleep 0.1
        done
        for pid in $alive; do
                echo "helper left running: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
        done
        fail "network helper processes outlived the sandbox"
}

# Our helper processes whose parent is no csand: orphans.  With
# NET_HELPERS_BEFORE (the helpers alive at setup), only new ones.
orphan_net_helpers() {
        local pid comm ppid pcomm
        for pid in $(pgrep -u "$(id -u)" 2>/dev/null); do
                comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
                is_net_helper_comm "$comm" || continue
                net_helper_alive "$pid" || continue
                case " $NET_HELPERS_BEFORE " in *" $pid "*) continue ;; esac
                ppid=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null) || continue
                pcomm=$(cat "/proc/$ppid/comm" 2>/dev/null) || pcomm=
                [ "$pcomm" = csand ] && continue
                echo "$pid"
        done
        return 0
}

# No helper started during this test outlives its csand (polls ~10 s).
no_orphan_net_helpers() {
        [ -z "$(orphan_net_helpers)" ]
}

assert_no_orphan_helpers() {
        poll_until 100 no_orphan_net_helpers && return 0
        local pid
        for pid in $(orphan_net_helpers); do
                echo "orphaned helper $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
        done
        fail "a network helper outlived its csand"
}

# The helper's command line, one argument a line.
helper_cmdline() {
        tr '\0' '\n' <"/proc/$1/cmdline"
}

# --- traffic ------------------------------------------------------------------

# http_get_retry URL [CURL-OPTION...]: curl URL until it answers (up to
# ~20 s); prints the body.
http_get_retry() {
        local i
        for ((i = 0; i < 100; i++)); do
                if curl -sf --max-time 2 "${@:2}" "$1"; then
                        return 0
                fi
                sleep 0.2
        done
        return 1
}

# udp_ask HOST PORT MESSAGE: sends MESSAGE to HOST:PORT over UDP until a
# reply comes (up to ~20 s); prints the reply.
udp_ask() {
        python3 - "$@" <<'PY'
import socket, sys
host, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
for _ in range(100):
    s.sendto(message, (host, port))
    try:
        data, _ = s.recvfrom(4096)
    except OSError:
        continue
    print(data.decode())
    sys.exit(0)
sys.exit(1)
PY
}

# The UDP echo server run inside the sandbox: "echo:" + each datagram.
UDP_ECHO_SERVER='import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(4096)
    s.sendto(b"echo:" + data, peer)'

# A host-side HTTP server on ADDRESS (default 127.0.0.1):PORT serving DIR;
# waits until it answers.
start_host_http_server() {
        local port=$1 dir=$2 address=${3:-127.0.0.1} host
        host=$address
        [[ "$address" == *:* ]] && host="[$address]"
        bg_run python3 -m http.server "$port" --bind "$address" --directory "$dir"
        http_get_retry "http://$host:$port/" >/dev/null ||
                fail "the host's test HTTP server on $host:$port did not start"
}

# A TCP listener on 127.0.0.1:PORT (PROTO tcp or udp) that only holds the
# port; waits until it is bound.
hold_port() {
        local port=$1 proto=${2:-tcp} ready="$BATS_TEST_TMPDIR/hold-$1-$2"
        bg_run python3 -c 'import socket, sys, time
kind = socket.SOCK_DGRAM if sys.argv[2] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", int(sys.argv[1])))
if kind == socket.SOCK_STREAM:
    s.listen()
open(sys.argv[3], "w").write("bound")
time.sleep(120)' "$port" "$proto" "$ready"
        wait_for_file "$ready" || fail "could not hold port $port/$proto"
}

# --- setup/teardown -----------------------------------------------------------

net_setup() {
        common_setup
        NET_HELPERS_BEFORE=$(pgrep -u "$(id -u)" 2>/dev/null | while read -r pid; do
                comm=$(cat "/proc/$pid/comm" 2>/dev/null) && is_net_helper_comm "$comm" && echo "$pid"
        done | tr '\n' ' ')
}

net_teardown() {
        local status=0 pid
        # TERM first: csand passes it on and stops its helper.
        for pid in "${NET_BG_PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null || true
        done
        for pid in "${NET_BG_PIDS[@]}"; do
                poll_until 50 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        done
        assert_no_orphan_helpers || status=1
        common_teardown || status=1
        return $status
}

setup() {
        net_setup
}

teardown() {
        net_teardown
}
