#!/usr/bin/env bats
# User-mode networking (issue 7): ports published with --publish answer on
# the host, for slirp4netns and pasta, TCP and UDP; --info-fd and
# --json-status-fd report the mode and the ports.

load ../lib/common
load ../lib/network

# A web server inside answers curl on the host; csand, stopped by SIGTERM,
# takes its helper with it.
publish_http() {
        local helper=$1 server=$2
        require_net_helper "$helper"
        require_net_tool curl
        mkdir -p "$TESTDIR/www"
        echo "hello through $helper $CSAND_TOKEN" >"$TESTDIR/www/hello.txt"
        local hport port=8080
        hport=$(free_port)

        local cmd
        case $server in
        python) cmd=(python3 -m http.server "$port" --bind 0.0.0.0 --directory /srv) ;;
        busybox) cmd=(busybox httpd -f -p "$port" -h /srv) ;;
        esac
        csand_bg "${net_root[@]}" --ro-bind "$TESTDIR/www" /srv \
                --network "$helper" --publish "$hport:$port" "${cmd[@]}"

        run http_get_retry "http://127.0.0.1:$hport/hello.txt"
        assert_success
        assert_output "hello through $helper $CSAND_TOKEN"

        local helpers
        helpers=$(net_helper_pids "$CSAND_PID")
        [ -n "$helpers" ] || fail "no $helper child of csand while the sandbox runs"

        kill -TERM "$CSAND_PID"
        wait_bg "$CSAND_PID"
        # The server died of the SIGTERM csand passed on.
        [ "$BG_STATUS" -eq 143 ] || fail "csand exited with $BG_STATUS, expected 143: $(cat "$CSAND_LOG")"
        assert_helpers_gone $helpers
        # Nothing listens on the host port any more.
        run curl -sf --max-time 2 "http://127.0.0.1:$hport/hello.txt"
        assert_failure
}

@test "--publish: a python web server inside answers curl on the host (slirp4netns)" {
        publish_http slirp4netns python
}

@test "--publish: a python web server inside answers curl on the host (pasta)" {
        publish_http pasta python
}

@test "--publish: busybox httpd inside answers curl on the host (slirp4netns)" {
        require_net_tool busybox
        publish_http slirp4netns busybox
}

@test "--publish: busybox httpd inside answers curl on the host (pasta)" {
        require_net_tool busybox
        publish_http pasta busybox
}

publish_udp() {
        local helper=$1
        require_net_helper "$helper"
        local hport port extra=()
        hport=$(free_port)
        case $helper in
        # This pasta (Debian 12's 2023 build) forwards UDP only to the same
        # port number inside.
        pasta) port=$hport ;;
        # slirp4netns answers loopback UDP clients through its "host
        # loopback" address: csand insists on --allow-host-loopback.
        slirp4netns) port=5353 extra=(--allow-host-loopback) ;;
        esac
        csand_bg "${net_root[@]}" --network "$helper" "${extra[@]}" --publish "127.0.0.1:$hport:$port/udp" \
                python3 -c "$UDP_ECHO_SERVER" "$port"

        run udp_ask 127.0.0.1 "$hport" "ping-$CSAND_TOKEN"
        assert_success
        assert_output "echo:ping-$CSAND_TOKEN"

        local helpers
        helpers=$(net_helper_pids "$CSAND_PID")
        kill -TERM "$CSAND_PID"
        wait_bg "$CSAND_PID"
        [ "$BG_STATUS" -eq 143 ] || fail "csand exited with $BG_STATUS: $(cat "$CSAND_LOG")"
        assert_helpers_gone $helpers
}

@test "--publish .../udp: a UDP echo server inside answers on the host (slirp4netns)" {
        publish_udp slirp4netns
}

@test "--publish .../udp: a UDP echo server inside answers on the host (pasta)" {
        publish_udp pasta
}

@test "--publish: TCP and UDP on the same port, several ports at once (pasta)" {
        require_net_helper pasta
        require_net_tool curl
        mkdir -p "$TESTDIR/www"
        echo "tcp-$CSAND_TOKEN" >"$TESTDIR/www/t.txt"
        local p1 p2
        p1=$(free_port)
        p2=$(free_port)
        # Pid 1 waits for the servers in the background, as in bwrap: it
        # ends with csand (--die-with-parent), SIGKILLed below.
        csand_bg "${net_root[@]}" --die-with-parent --ro-bind "$TESTDIR/www" /srv --network pasta \
                --publish "$p1:8080" --publish "$p1:$p1/udp" --publish "$p2:8081" \
                sh -c "python3 -m http.server 8080 --bind 0.0.0.0 --directory /srv >/dev/null 2>&1 &
                       python3 -m http.server 8081 --bind 0.0.0.0 --directory /srv >/dev/null 2>&1 &
                       exec python3 -c '$UDP_ECHO_SERVER' $p1"
        run http_get_retry "http://127.0.0.1:$p1/t.txt"
        assert_output "tcp-$CSAND_TOKEN"
        run http_get_retry "http://127.0.0.1:$p2/t.txt"
        assert_output "tcp-$CSAND_TOKEN"
        run udp_ask 127.0.0.1 "$p1" "u-$CSAND_TOKEN"
        assert_output "echo:u-$CSAND_TOKEN"
        local helpers
        helpers=$(net_helper_pids "$CSAND_PID")
        kill -KILL "$CSAND_PID"
        wait_bg "$CSAND_PID"
        assert_helpers_gone $helpers
}

@test "--publish: the default host address is 127.0.0.1 (slirp4netns)" {
        require_net_helper slirp4netns
        require_net_tool curl
        mkdir -p "$TESTDIR/www"
        echo "lo-$CSAND_TOKEN" >"$TESTDIR/www/x.txt"
        local hport
        hport=$(free_port)
        csand_bg "${net_root[@]}" --ro-bind "$TESTDIR/www" /srv --network slirp4netns \
                --publish "$hport:8080" python3 -m http.server 8080 --directory /srv
        run http_get_retry "http://127.0.0.1:$hport/x.txt"
        assert_output "lo-$CSAND_TOKEN"
        # Bound to 127.0.0.1 only, not to every address.
        run ss -Htln "sport = :$hport"
        assert_success
        assert_output --partial "127.0.0.1:$hport"
        refute_output --partial "0.0.0.0:$hport"
        refute_output --partial "*:$hport"
}

# The JSON objects written to FILE, one compact object a line.
json_objects() {
        python3 - "$1" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec = json.JSONDecoder()
i = 0
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    obj, i = dec.raw_decode(text, i)
    print(json.dumps(obj, sort_keys=True))
PY
}

# A JSON member: json_get OBJECT-LINE KEY (python expression on o).
json_get() {
        python3 -c 'import json, sys; o = json.loads(sys.argv[1]); print(json.dumps(eval(sys.argv[2])))' "$1" "$2"
}

@test "--info-fd and --json-status-fd report the network mode and the published ports" {
        require_net_helper slirp4netns
        local h1 h2
        h1=$(free_port)
        h2=$(free_port)
        run csand "${net_root[@]}" --network slirp4netns --allow-host-loopback \
                --publish "$h1:80" --publish "127.0.0.1:$h2:53/udp" \
                --info-fd 5 --json-status-fd 6 true 5>"$TESTDIR/info.json" 6>"$TESTDIR/status.json"
        assert_success

        run json_objects "$TESTDIR/info.json"
        assert_success
        [ "${#lines[@]}" -eq 1 ]
        local info=${lines[0]}
        run json_get "$info" 'o["network"]'
        assert_output '"slirp4netns"'
        run json_get "$info" 'o["published-ports"]'
        assert_output "[{\"host-ip\": \"127.0.0.1\", \"host-port\": $h1, \"port\": 80, \"protocol\": \"tcp\"}, {\"host-ip\": \"127.0.0.1\", \"host-port\": $h2, \"port\": 53, \"protocol\": \"udp\"}]"
        run json_get "$info" '"child-pid" in o and "net-namespace" in o'
        assert_output true

        run json_objects "$TESTDIR/status.json"
        assert_success
        [ "${#lines[@]}" -eq 2 ]
        [ "${lines[0]}" = "$info" ] || { echo "${lines[0]} != $info"; false; }
        assert_equal "${lines[1]}" '{"exit-code": 0}'
}

@test "--info-fd: the mode for pasta, none, host and the bwrap defaults" {
        require_net_helper pasta
        local mode expect
        for mode in "--network pasta" "--network none" "--network host" "--unshare-net" "--share-net" ""; do
                # shellcheck disable=SC2086
                run csand "${net_root[@]}" $mode --info-fd 5 true 5>"$TESTDIR/info.json"
                assert_success
                case $mode in
                *pasta) expect='"pasta" []' ;;
                *none | --unshare-net) expect='"none" null' ;;
                *) expect='"host" null' ;;
                esac
                run json_objects "$TESTDIR/info.json"
                local obj=${lines[0]}
                run json_get "$obj" 'o["network"]'
                local got=$output
                run json_get "$obj" 'o.get("published-ports")'
                assert_equal "$got $output" "$expect"
        done
}
