#!/usr/bin/env bats
# User-mode networking (issue 7): the host's loopback is off limits unless
# --allow-host-loopback; the interface is up before the command starts; the
# helper never outlives the sandbox; --network none and host.

load ../lib/common
load ../lib/network

# The address inside that leads to the host: slirp4netns' 10.0.2.2, pasta's
# default gateway (a copy of the host's).
host_address_inside() {
        case $1 in
        slirp4netns) echo 10.0.2.2 ;;
        pasta) csand "${net_root[@]}" --network pasta ip -4 route show default | awk '{ print $3; exit }' ;;
        esac
}

@test "slirp4netns: the host's 127.0.0.1 is unreachable by default" {
        require_net_helper slirp4netns
        require_net_tool curl
        local port
        port=$(free_port)
        echo "host-secret" >"$TESTDIR/index.txt"
        start_host_http_server "$port" "$TESTDIR"
        # Through the gateway, and on the sandbox's own loopback.
        run csand "${net_root[@]}" --network slirp4netns sh -c "
                curl -s --max-time 3 http://10.0.2.2:$port/index.txt; echo \"gw=\$?\"
                curl -s --max-time 3 http://127.0.0.1:$port/index.txt; echo \"lo=\$?\""
        assert_success
        refute_output --partial host-secret
        assert_line --regexp '^gw=[1-9]'
        assert_line --regexp '^lo=[1-9]'
}

@test "pasta: the host's 127.0.0.1 is unreachable by default (no gateway mapping, no -T)" {
        require_net_helper pasta
        require_net_tool curl
        local port
        port=$(free_port)
        echo "host-secret" >"$TESTDIR/index.txt"
        start_host_http_server "$port" "$TESTDIR"
        # The sandbox's own loopback does not lead to the host's (-T none).
        # (Connecting to the gateway address without the mapping would send
        # packets to the real gateway, off this machine: the test checks
        # pasta's arguments for that instead.)
        csand_bg "${net_root[@]}" --network pasta sh -c "
                curl -s --max-time 3 http://127.0.0.1:$port/index.txt; echo \"lo=\$?\"; exec sleep 60"
        local helper
        helper=$(wait_for_net_helper "$CSAND_PID") || fail "no pasta child of csand"
        run helper_cmdline "$helper"
        assert_line --index 0 pasta
        assert_line -- --no-map-gw
        # Nothing forwarded but what was published: TCP, UDP, both ways.
        run sh -c "tr '\0' ' ' </proc/$helper/cmdline"
        assert_output --partial "-t none -u none -T none -U none"
        local i
        for ((i = 0; i < 100; i++)); do
                grep -q '^lo=' "$CSAND_LOG" && break
                sleep 0.1
        done
        run cat "$CSAND_LOG"
        refute_output --partial host-secret
        assert_line --regexp '^lo=[1-9]'
}

# --allow-host-loopback: the first command reaches the host's 127.0.0.1
# at once: no retry inside, the interface is configured before exec.
allow_host_loopback() {
        local helper=$1
        require_net_helper "$helper"
        require_net_tool curl
        local port gw
        port=$(free_port)
        echo "host-hello-$CSAND_TOKEN" >"$TESTDIR/index.txt"
        start_host_http_server "$port" "$TESTDIR"
        gw=$(host_address_inside "$helper")
        [ -n "$gw" ] || fail "no default route inside with $helper"
        run csand "${net_root[@]}" --network "$helper" --allow-host-loopback \
                curl -s --max-time 5 "http://$gw:$port/index.txt"
        assert_success
        assert_output "host-hello-$CSAND_TOKEN"
}

@test "slirp4netns --allow-host-loopback: the host's 127.0.0.1 through 10.0.2.2, at once" {
        allow_host_loopback slirp4netns
}

@test "pasta --allow-host-loopback: the host's 127.0.0.1 through the gateway, at once" {
        allow_host_loopback pasta
}

first_command_sees_interface() {
        local helper=$1 expect=$2
        require_net_helper "$helper"
        run csand "${net_root[@]}" --network "$helper" ip -4 -o addr show scope global
        assert_success
        assert_output --regexp "$expect"
        run csand "${net_root[@]}" --network "$helper" ip -4 route show default
        assert_success
        assert_output --regexp '^default via '
}

@test "slirp4netns: the interface is configured before the command starts" {
        first_command_sees_interface slirp4netns 'tap0 +inet 10\.0\.2\.100/24'
}

@test "pasta: the interface is configured before the command starts" {
        first_command_sees_interface pasta 'inet [0-9.]+/[0-9]+'
}

# slirp4netns attaches to a tap0 that csand's child made persistent: a tap
# device that is not is unregistered by the helper's exit (~15 ms of RCU
# grace periods here), which csand waits for; a persistent one goes with
# the network namespace, after csand has returned.
@test "slirp4netns: its tap0 is persistent (its removal is not waited for)" {
        require_net_helper slirp4netns
        run csand "${net_root[@]}" --network slirp4netns ip -d link show tap0
        assert_success
        assert_output --partial "persist on"
}

# The sandbox ends: normally (its command exits 3 when the test says so),
# by a signal (the command kills itself), csand killed by SIGTERM, csand
# SIGKILLed.  Each time the helper goes too.
helper_gone_after() {
        local helper=$1 how=$2 helpers
        require_net_helper "$helper"
        mkfifo "$TESTDIR/go"
        case $how in
        exit) csand_bg "${net_root[@]}" --network "$helper" --bind "$TESTDIR" /t sh -c 'read x </t/go; exit 3' ;;
        signal) csand_bg "${net_root[@]}" --network "$helper" --bind "$TESTDIR" /t sh -c 'read x </t/go; kill -KILL $$' ;;
        sigterm | sigkill) csand_bg "${net_root[@]}" --network "$helper" --die-with-parent sleep 60 ;;
        esac
        helpers=$(wait_for_net_helper "$CSAND_PID") || fail "no $helper child of csand: $(cat "$CSAND_LOG")"
        case $how in
        exit | signal) echo go >"$TESTDIR/go" ;;
        sigterm) kill -TERM "$CSAND_PID" ;;
        sigkill) kill -KILL "$CSAND_PID" ;;
        esac
        wait_bg "$CSAND_PID"
        case $how in
        exit) assert_equal "$BG_STATUS" 3 ;;
        signal | sigkill) assert_equal "$BG_STATUS" 137 ;;
        sigterm) assert_equal "$BG_STATUS" 143 ;;
        esac
        assert_helpers_gone $helpers
}

@test "slirp4netns is stopped when the command exits" {
        helper_gone_after slirp4netns exit
}

@test "pasta is stopped when the command exits" {
        helper_gone_after pasta exit
}

@test "slirp4netns is stopped when the command dies of a signal" {
        helper_gone_after slirp4netns signal
}

@test "pasta is stopped when the command dies of a signal" {
        helper_gone_after pasta signal
}

@test "slirp4netns is stopped when csand gets SIGTERM" {
        helper_gone_after slirp4netns sigterm
}

@test "pasta is stopped when csand gets SIGTERM" {
        helper_gone_after pasta sigterm
}

@test "slirp4netns dies with csand when csand is SIGKILLed" {
        helper_gone_after slirp4netns sigkill
}

@test "pasta dies with csand when csand is SIGKILLed" {
        helper_gone_after pasta sigkill
}

@test "slirp4netns: the API socket lives in a private directory of csand's runtime directory, gone once the ports are published" {
        require_net_helper slirp4netns
        local port
        port=$(free_port)
        csand_bg "${net_root[@]}" --network slirp4netns --publish "$port:8080" sleep 60
        local helper
        helper=$(wait_for_net_helper "$CSAND_PID") || fail "no slirp4netns child"
        run helper_cmdline "$helper"
        assert_line --regexp "^--api-socket=$CSAND_RUNTIME_DIR/csand/net\.[A-Za-z0-9]{6}/api\.sock\$"
        local sock=${output#*--api-socket=}
        sock=${sock%%$'\n'*}
        # Gone as soon as the ports are published (the helper is ready
        # before the command starts, so poll briefly).
        local i
        for ((i = 0; i < 100; i++)); do
                [ -e "$(dirname "$sock")" ] || break
                sleep 0.1
        done
        [ ! -e "$(dirname "$sock")" ] || fail "$(dirname "$sock") still exists while the sandbox runs"
}

@test "--network none: only lo, and it is up" {
        run csand "${net_root[@]}" --network none ip -o link
        assert_success
        [ "${#lines[@]}" -eq 1 ] || fail "more than lo: $output"
        assert_output --regexp '^1: lo: <LOOPBACK,UP,LOWER_UP>'
        run csand "${net_root[@]}" --network none ip -o addr show dev lo
        assert_output --partial 'inet 127.0.0.1/8'
}

@test "--network host: the host's interfaces" {
        local host inside
        host=$(ip -o link | awk -F': ' '{ print $2 }' | sort)
        run csand "${net_root[@]}" --network host ip -o link
        assert_success
        inside=$(awk -F': ' '{ print $2 }' <<<"$output" | sort)
        assert_equal "$inside" "$host"
        run csand "${net_root[@]}" --network host --info-fd 5 true 5>"$TESTDIR/info.json"
        assert_success
        run grep -c '"net-namespace"' "$TESTDIR/info.json"
        assert_output 0
}
