#!/usr/bin/env bats
# Attacks on --allow-host from inside the sandbox (SECURITY.md, "Reaching
# hosts that --allow-host does not name"): each tries to reach a host the
# options don't allow, and must be refused (reset, refused or dropped),
# never carried. All traffic stays on this machine: servers on the host's
# loopback, reached through the helper's gateway with --allow-host-loopback,
# under names given with --add-host. tests/security/egress-probe.py is the
# attacker.

load ../lib/common
load ../lib/network

eg_root=("${net_root[@]}" --ro-bind /etc /etc --ro-bind "$CSAND_SOURCE_DIR/tests/security" /t)
probe=(python3 /t/egress-probe.py)

gateway4() {
        case $1 in
        slirp4netns) echo 10.0.2.2 ;;
        pasta) csand "${net_root[@]}" --network pasta ip -4 route show default | awk '{ print $3; exit }' ;;
        esac
}

# A server on the host's 127.0.0.1:PORT that answers "seen" to the first
# bytes of every connection: whatever reaches it got through.
start_seen_server() {
        bg_run python3 -c 'import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1024)
def serve(c):
    try:
        if c.recv(65536):
            c.sendall(b"seen\n")
        c.recv(1)
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()' "$1"
        poll_until 100 python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$1" ||
                fail "the host's test server on 127.0.0.1:$1 did not start"
}

# attack_setup HELPER: a server; GW its address inside. With "${names[@]}"
# and --allow-host ok.test, ok.test and bad.test both name it (GW is
# allowed, for ok.test); with "${denied[@]}" GW is allowed for nothing.
attack_setup() {
        require_net_helper "$1"
        GW=$(gateway4 "$1")
        [ -n "$GW" ] || fail "no default route inside with $1"
        PORT=$(free_port)
        start_seen_server "$PORT"
        names=(--allow-host-loopback --add-host "ok.test:$GW" --add-host "bad.test:$GW")
        denied=(--allow-host-loopback --add-host "bad.test:$GW" --allow-host ok.invalid)
}

@test "shared address: a denied name's SNI or Host, however written, is reset; the allowed name's passes" {
        attack_setup slirp4netns
        run --separate-stderr csand "${eg_root[@]}" --network slirp4netns "${names[@]}" --allow-host ok.test \
                "${probe[@]}" shared "$GW" "$PORT" ok.test bad.test
        assert_success
        local ok
        for ok in tls-ok tls-fragmented-ok http-ok http-absolute-ok; do
                assert_line "$ok: reply"
        done
        # Reset before a byte went on (ECONNRESET; the reset may also come
        # while the request is still being written: EPIPE).
        local bad
        for bad in tls-bad tls-fragmented-bad tls-nul tls-second-entry tls-two-entries tls-two-extensions tls-huge \
                http-bad http-bad-case http-two-hosts http-absolute http-leading-crlf http-nul; do
                assert_line --regexp "^$bad: (ECONNRESET|EPIPE)\$"
        done
        [[ "$stderr" == *"denied TCP to bad.test port $PORT"* ]] || fail "stderr: $stderr"
}

@test "shared address: without a port, --allow-host allows every port of the name's addresses (by design); with one, only that port" {
        attack_setup slirp4netns
        local other
        other=$(free_port)
        start_seen_server "$other"
        run csand "${eg_root[@]}" --network slirp4netns "${names[@]}" --allow-host ok.test sh -c "
                ${probe[*]} tcp any-port ok.test $other"
        assert_success
        assert_output "any-port: reply"
        run csand "${eg_root[@]}" --network slirp4netns "${names[@]}" --allow-host "ok.test:$PORT" sh -c "
                ${probe[*]} tcp same-port ok.test $PORT
                ${probe[*]} tcp other-port ok.test $other"
        assert_success
        assert_line "same-port: reply"
        assert_line "other-port: ECONNRESET"
}

@test "DNS: malformed, oversized and ambiguous questions get no answer; case and a trailing dot are the same name" {
        attack_setup slirp4netns
        run csand "${eg_root[@]}" --network slirp4netns "${names[@]}" --allow-host ok.test \
                "${probe[@]}" dns 10.0.2.3 ok.test
        assert_success
        assert_line "dns-ok: rcode=0 answers=1"
        assert_line "dns-upper-trailing-dot: rcode=0 answers=1"
        # A label holding a dot would be "ok.test" to the guard and a
        # one-label name to the resolver.
        local bad
        for bad in dns-dot-in-label dns-nul-in-label dns-long-label dns-long-name dns-two-questions dns-pointer; do
                assert_line "$bad: rcode=1 answers=0"
        done
        # A response sent as a question: not a question, no answer at all
        # but the format error.
        assert_line --regexp '^dns-response: (rcode=1 answers=0|TimeoutError)$'
}

@test "DNS: a forged resolver reply from inside (IPv6 source with IPV6_FREEBIND, port 53 with CAP_NET_BIND_SERVICE) teaches the guard nothing" {
        attack_setup pasta
        local gw6 me
        gw6=$(csand "${net_root[@]}" --network pasta --allow-host-loopback ip -6 route show default | awk '{ print $3; exit }')
        [ -n "$gw6" ] || fail "pasta gives no IPv6 route on this host (the CI machine has IPv6)"
        # The resolver, the gateway (the host's loopback, where nothing
        # answers on port 53), stays silent: only the forged reply comes.
        # Without --dev: the capability is then the sandbox's, over its
        # network namespace.
        run --separate-stderr csand "${csand_min_root[@]}" --unshare-pid --proc /proc --ro-bind /etc /etc \
                --ro-bind "$CSAND_SOURCE_DIR/tests/security" /t --network pasta --allow-host-loopback --dns "$gw6" \
                --allow-host example.org --cap-add CAP_NET_BIND_SERVICE sh -c "
                        me=\$(ip -6 -o addr show scope global | awk '{ sub(/\\/.*/, \"\", \$4); print \$4; exit }')
                        ${probe[*]} spoof $gw6 \$me $GW $PORT example.org"
        assert_success
        assert_line --regexp '^spoof: (EPERM|EACCES|EINVAL|sent)$'
        assert_line "after-spoof: ECONNRESET"
        [[ "$stderr" == *"denied TCP to $GW port $PORT"* ]] || fail "stderr: $stderr"
}

@test "DNS: only an answer's addresses are learned, not an additional record's; a CNAME's target's are (by design)" {
        require_net_helper slirp4netns
        # A network namespace of the test's own (and a user namespace, where
        # it may bind port 53) holds the resolver and a server on
        # 192.0.2.10: slirp4netns, started there, reaches nothing else.
        run unshare -Urn sh -c '
                probe=$1 ready=$2
                shift 2
                ip link set lo up && ip addr add 192.0.2.10/32 dev lo || exit 1
                python3 "$probe" fakedns 10.0.2.2 192.0.2.10 "$ready.dns" >/dev/null 2>&1 &
                dns=$!
                python3 "$probe" serve 192.0.2.10 8080 "$ready.srv" >/dev/null 2>&1 &
                srv=$!
                i=0
                while { [ ! -e "$ready.dns" ] || [ ! -e "$ready.srv" ]; } && [ $i -lt 400 ]; do
                        sleep 0.05
                        i=$((i + 1))
                done
                "$@"
                rc=$?
                kill $dns $srv
                exit $rc' sh "$CSAND_SOURCE_DIR/tests/security/egress-probe.py" "$BATS_TEST_TMPDIR/ready" \
                env TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${eg_root[@]}" --network slirp4netns \
                --allow-host-loopback --dns 10.0.2.2 --allow-host '*.ok.test' sh -c "
                        ${probe[*]} tcp before 192.0.2.10 8080
                        getent ahostsv4 extra.ok.test | head -n 1
                        ${probe[*]} tcp additional 192.0.2.10 8080
                        getent ahostsv4 cname.ok.test | head -n 1
                        ${probe[*]} tcp cname 192.0.2.10 8080"
        assert_success
        assert_line "before: ECONNRESET"
        assert_line --regexp '^10\.0\.2\.2 +STREAM extra\.ok\.test$'
        assert_line "additional: ECONNRESET"
        # cname.ok.test is allowed, and its address is bad.test's.
        assert_line --regexp '^192\.0\.2\.10 +STREAM bad\.test$'
        assert_line "cname: reply"
}

@test "a resolver inside the sandbox (--dns on its loopback or its own address) is refused with --allow-host" {
        require_net_helper slirp4netns
        local dns
        for dns in 127.0.0.1 ::1 10.0.2.100; do
                run --separate-stderr csand "${eg_root[@]}" --network slirp4netns --dns "$dns" --allow-host ok.test true
                assert_csand_error
                assert_equal "$stderr" "csand: --allow-host: can't set up the sandbox's network rules: --dns $dns is an address of the sandbox itself: its answers would be the command's"
        done
}

@test "TCP Fast Open and MPTCP: data in the SYN to a denied address, or a denied SNI in it, is reset" {
        attack_setup slirp4netns
        run csand "${eg_root[@]}" --network slirp4netns "${denied[@]}" sh -c "
                ${probe[*]} fastopen tfo-denied-ip $GW $PORT
                ${probe[*]} mptcp mptcp-denied $GW $PORT"
        assert_success
        assert_line --regexp '^tfo-denied-ip: (ECONNRESET|EPIPE)$'
        assert_line --regexp '^mptcp-denied: (ECONNRESET|EPIPE|EPROTONOSUPPORT|ENOPROTOOPT)$'
        run csand "${eg_root[@]}" --network slirp4netns "${names[@]}" --allow-host ok.test sh -c "
                ${probe[*]} fastopen tfo-denied-sni ok.test $PORT bad.test
                ${probe[*]} fastopen tfo-ok ok.test $PORT
                ${probe[*]} mptcp mptcp-ok ok.test $PORT"
        assert_success
        assert_line --regexp '^tfo-denied-sni: (ECONNRESET|EPIPE)$'
        assert_line "tfo-ok: reply"
        assert_line --regexp '^mptcp-ok: (reply|EPROTONOSUPPORT|ENOPROTOOPT)$'
}

@test "raw, packet and ping sockets, SO_MARK and IP_TRANSPARENT are refused, also in a user namespace of the command's own" {
        require_net_helper pasta
        local nested
        for nested in "" "unshare -Ur"; do
                run csand "${eg_root[@]}" --network pasta --allow-host ok.test $nested "${probe[@]}" sockets
                assert_success
                local s
                for s in raw4 raw4-tcp raw6 packet; do
                        assert_line --regexp "^$s: (EPERM|EACCES)\$"
                done
                assert_line --regexp '^ping4: (EPERM|EACCES)$'
                assert_line --regexp '^ping6: (EPERM|EACCES)$'
                assert_line "so-mark: EPERM"
                assert_line "ip-transparent: EPERM"
        done
}

@test "special addresses: 0.0.0.0, 127.0.0.1, an IPv4-mapped address, the gateway and the DNS forwarder on other ports are refused" {
        attack_setup pasta
        run csand "${eg_root[@]}" --network pasta "${denied[@]}" sh -c "
                ${probe[*]} tcp zero 0.0.0.0 $PORT
                ${probe[*]} tcp loopback 127.0.0.1 $PORT
                ${probe[*]} tcp mapped ::ffff:$GW $PORT
                ${probe[*]} tcp gateway $GW $PORT
                ${probe[*]} tcp forwarder 169.254.1.1 $PORT
                ${probe[*]} tcp forwarder-53 169.254.1.1 53
                ${probe[*]} tcp gateway-53 $GW 53"
        assert_success
        # Nothing listens there inside the sandbox.
        assert_line "zero: ECONNREFUSED"
        assert_line "loopback: ECONNREFUSED"
        assert_line "mapped: ECONNRESET"
        assert_line "gateway: ECONNRESET"
        assert_line "forwarder: ECONNRESET"
        # Port 53 is the guard's DNS over TCP: an HTTP request is no DNS
        # message it can answer; nothing reaches the server.
        assert_line --regexp '^forwarder-53: (eof|ECONNRESET)$'
        assert_line --regexp '^gateway-53: (eof|ECONNRESET)$'
        refute_output --partial reply
}

@test "the guard: out of reach with --unshare-pid; without, ptrace and its fds are refused and killing it closes the way out" {
        attack_setup slirp4netns
        run csand "${eg_root[@]}" --network slirp4netns "${names[@]}" --allow-host ok.test "${probe[@]}" guard kill
        assert_success
        assert_output "guard: not visible"
        # Without a pid namespace: the caller's /proc, the guard in sight.
        run csand "${csand_min_root[@]}" --proc /proc --dev /dev --ro-bind /etc /etc \
                --ro-bind "$CSAND_SOURCE_DIR/tests/security" /t --network slirp4netns "${names[@]}" --allow-host ok.test sh -c "
                        ${probe[*]} tcp before ok.test $PORT
                        ${probe[*]} guard kill
                        ${probe[*]} tcp allowed ok.test $PORT
                        ${probe[*]} tcp denied $GW $PORT
                        getent hosts ok.test example.org; echo getent=\$?"
        assert_success
        assert_line "before: reply"
        assert_line "guard: visible"
        assert_line "ptrace: EPERM"
        assert_line "pidfd_getfd: EPERM"
        assert_line --regexp '^proc-fd: (EACCES|EPERM)$'
        assert_line "guard: killed"
        assert_line --regexp '^allowed: (ECONNREFUSED|ECONNRESET)$'
        assert_line --regexp '^denied: (ECONNREFUSED|ECONNRESET)$'
        # ok.test is in /etc/hosts; example.org can't be looked up.
        refute_line --partial example.org
}

# with_nofile N COMMAND...: COMMAND with at most N open files ("": as is).
with_nofile() {
        local n=$1
        shift
        (
                [ -z "$n" ] || ulimit -n "$n"
                "$@"
        )
}

@test "exhausting the relay: connections beyond what it holds, or beyond its fds, are reset, a denied one still is" {
        attack_setup slirp4netns
        # 530 connections: more than the relay's 512; with 600 fds (which
        # the guard inherits), more than its fds too.
        local limit
        for limit in "" 600; do
                run --separate-stderr with_nofile "$limit" csand "${eg_root[@]}" --network slirp4netns "${names[@]}" \
                        --allow-host ok.test sh -c "
                                ${probe[*]} many ok.test $PORT 530
                                ${probe[*]} tcp denied-after 198.51.100.1 80"
                assert_success
                assert_line --regexp '^held: [0-9]+$'
                assert_line --regexp '^while-full: (ECONNRESET|EPIPE)$'
                assert_line "denied-after: ECONNRESET"
        done
}

@test "--share-net can't be combined with --allow-host: the host's abstract sockets stay out of reach" {
        run --separate-stderr csand "${eg_root[@]}" --share-net --allow-host ok.test true
        assert_csand_error
}
