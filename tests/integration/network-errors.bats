#!/usr/bin/env bats
# User-mode networking (issue 7), bad input: one clear "csand: ..." line
# naming the cause, exit status 1, no helper left running.

load ../lib/common
load ../lib/network

# assert_one_error REGEXP: csand failed with 1 and said exactly one line.
# assert_one_line TEXT: the same, the line exactly "csand: TEXT".
assert_one_line() {
        assert_failure 1
        assert_output "csand: $1"
}

assert_one_error() {
        assert_failure 1
        [ "${#lines[@]}" -eq 1 ] || fail "expected one line, got: $output"
        assert_output --regexp "^csand: $1"
}

@test "--network: unknown mode" {
        run csand "${net_root[@]}" --network slirp true
        assert_one_error '--network: unknown mode "slirp" \(none, host, slirp4netns or pasta\)$'
        run csand "${net_root[@]}" --network
        assert_failure 1
        assert_output --partial '--network'
}

@test "--publish, --allow-host-loopback and --dns need user-mode networking" {
        local mode
        for mode in "" "--network none" "--network host" "--unshare-net"; do
                # shellcheck disable=SC2086
                run csand "${net_root[@]}" $mode --publish 18080:8080 true
                assert_one_error '--publish needs user-mode networking: --network slirp4netns or --network pasta$'
                # shellcheck disable=SC2086
                run csand "${net_root[@]}" $mode --allow-host-loopback true
                assert_one_error '--allow-host-loopback needs user-mode networking'
                # shellcheck disable=SC2086
                run csand "${net_root[@]}" $mode --dns 192.0.2.53 true
                assert_one_error '--dns needs user-mode networking'
        done
}

@test "--network slirp4netns with --share-net" {
        require_userns
        # The later of --network and --share-net wins, as with --unshare-net.
        run csand "${net_root[@]}" --unshare-all --network slirp4netns --share-net true
        assert_one_error '--network slirp4netns needs a network namespace of its own: it cannot be combined with --share-net$'
}

@test "--publish: malformed and out-of-range ports" {
        local spec
        for spec in 0:8080 8080:0 65536:8080 8080:65536 99999999999999999999:1; do
                run csand "${net_root[@]}" --network slirp4netns --publish "$spec" true
                assert_one_error "--publish $spec: (host )?port [0-9]+ is out of range \\(1-65535\\)$"
        done
        for spec in abc:8080 8080:abc -1:8080 ' 80:8080' 8080:80x; do
                run csand "${net_root[@]}" --network slirp4netns --publish "$spec" true
                assert_one_error "--publish $spec: (host )?port is not a port number"
        done
        for spec in 1:2:3:4 8080 :8080 8080: '' '[::1]8080:80' 127.0.0.1::80; do
                run csand "${net_root[@]}" --network pasta --publish "$spec" true
                assert_one_line "--publish $spec: expected [IP:]HOSTPORT:PORT[/tcp|/udp]"
        done
        run csand "${net_root[@]}" --network pasta --publish 8080:80/sctp true
        assert_one_error '--publish 8080:80/sctp: unknown protocol "sctp" \(tcp or udp\)$'
        run csand "${net_root[@]}" --network pasta --publish 999.0.0.1:8080:80 true
        assert_one_error '--publish 999.0.0.1:8080:80: invalid IPv4 address "999.0.0.1"$'
        run csand "${net_root[@]}" --network pasta --publish 8080:80 --publish 127.0.0.1:8080:81 true
        assert_one_error '--publish 127.0.0.1:8080:81: host port 8080/tcp on 127.0.0.1 is already published$'
        run csand "${net_root[@]}" --network slirp4netns --publish '[::1]:8080:80' true
        assert_one_error '--publish \[::1\]:8080:80/tcp: slirp4netns publishes on IPv4 addresses only'
        run csand "${net_root[@]}" --network slirp4netns --publish 8080:80/udp true
        assert_one_error "--publish 127.0.0.1:8080:80/udp: slirp4netns can't answer UDP clients on the host's loopback without --allow-host-loopback"
        run csand "${net_root[@]}" --network slirp4netns --dns not-an-ip true
        assert_one_error '--dns takes an IPv4 or IPv6 address: "not-an-ip"$'
}

@test "--publish: pasta's limit of 64 ports is checked before anything starts" {
        # No pasta in PATH: the limit is told before the helper is looked
        # for, so nothing is started to find it out.
        local ports=() i
        for i in $(seq 1 65); do
                ports+=(--publish "$((20000 + i)):$i")
        done
        PATH=/nonexistent run csand "${net_root[@]}" --network pasta "${ports[@]}" /usr/bin/true
        assert_one_line "--network pasta: at most 64 ports can be published"
        # 64 pass the check: then the missing helper is what is reported.
        PATH=/nonexistent run csand "${net_root[@]}" --network pasta "${ports[@]:2}" /usr/bin/true
        assert_one_error "--network pasta: pasta is missing"
}

host_port_in_use() {
        local helper=$1 proto=$2 port
        require_net_helper "$helper"
        port=$(free_port)
        hold_port "$port" "$proto"
        local extra=()
        [ "$helper" = slirp4netns ] && [ "$proto" = udp ] && extra=(--allow-host-loopback)
        run csand "${net_root[@]}" --network "$helper" "${extra[@]}" --publish "$port:$port/$proto" true
        assert_one_error "--publish 127.0.0.1:$port:$port/$proto: ${proto^^} port $port on 127.0.0.1 is already in use on the host$"
        assert_no_orphan_helpers
}

@test "--publish: a TCP host port already in use (slirp4netns)" {
        host_port_in_use slirp4netns tcp
}

@test "--publish: a TCP host port already in use (pasta)" {
        host_port_in_use pasta tcp
}

@test "--publish: a UDP host port already in use (slirp4netns)" {
        host_port_in_use slirp4netns udp
}

@test "--publish: a UDP host port already in use (pasta)" {
        host_port_in_use pasta udp
}

@test "--publish: a host address that is not the host's" {
        require_net_helper pasta
        run csand "${net_root[@]}" --network pasta --publish 192.0.2.201:18080:8080 true
        assert_one_error "--publish 192.0.2.201:18080:8080/tcp: can't bind 192.0.2.201 port 18080 on the host: Cannot assign requested address$"
}

@test "helper not installed: no executable of that name in PATH" {
        require_userns
        local helper
        mkdir -p "$TESTDIR/bin"
        # Not executable: not a candidate either.
        touch "$TESTDIR/bin/slirp4netns" "$TESTDIR/bin/pasta"
        for helper in slirp4netns pasta; do
                PATH="$TESTDIR/bin:/nonexistent" run csand "${net_root[@]}" --network "$helper" /usr/bin/true
                assert_one_error "--network $helper: $helper is missing: no executable named $helper in PATH \\(is it installed\\?\\)$"
        done
}

@test "a helper that fails at once: its own message, in one line" {
        require_userns
        require_feature "a usable /dev/net/tun" test -r /dev/net/tun -a -w /dev/net/tun
        local helper
        mkdir -p "$TESTDIR/bin"
        for helper in slirp4netns pasta; do
                printf '#!/bin/sh\necho "%s: broken on purpose" >&2\nexit 1\n' "$helper" >"$TESTDIR/bin/$helper"
                chmod +x "$TESTDIR/bin/$helper"
                PATH="$TESTDIR/bin:/usr/bin:/bin" run csand "${net_root[@]}" --network "$helper" /usr/bin/true
                assert_one_error "$helper failed to set up the sandbox's network: $helper: broken on purpose$"
        done
        assert_no_orphan_helpers
}

@test "/dev/net/tun missing: named in the error" {
        require_net_helper slirp4netns
        # A user and mount namespace of our own where /dev/net is empty, as
        # in a container without the device.
        run unshare --user --map-root-user --mount sh -c '
                mount -t tmpfs none /dev/net || exit 99
                exec "$@"' sh "$CSAND" --unshare-user --uid 1000 "${net_root[@]}" --network slirp4netns true
        [ "$status" -ne 99 ] || skip "can't mount over /dev/net here"
        assert_one_error "--network slirp4netns needs /dev/net/tun \\(to create the sandbox's interface\\), which is not accessible: No such file or directory$"
}
