#!/usr/bin/env bats
# The fuse-overlayfs daemon seen from outside: it is gone when the sandbox
# ends (also when csand is SIGKILLed), it keeps serving a sandbox that
# outlives a killed csand, and the sandboxed command can neither see,
# signal nor ptrace it; it runs without capabilities or new privileges.

load ../lib/common

setup() {
        common_setup
        require_userns
        require_feature "fuse-overlayfs" command -v fuse-overlayfs
        require_feature "/dev/fuse usable by $(id -un)" test -r /dev/fuse -a -w /dev/fuse
        mkdir -p "$TESTDIR/l1" "$TESTDIR/up" "$TESTDIR/wk"
        echo one >"$TESTDIR/l1/a"
}

teardown() {
        chmod -R u+rwx "$TESTDIR" 2>/dev/null || true
        common_teardown
}

# The daemons of this test: fuse-overlayfs processes whose environment
# carries the token (they inherit csand's environment).
daemon_pids() {
        local pid
        for pid in $(pgrep -x fuse-overlayfs); do
                grep -qaF "$CSAND_TOKEN" "/proc/$pid/environ" 2>/dev/null && echo "$pid"
        done
        true
}

wait_no_daemon() {
        local i
        for ((i = 0; i < 100; i++)); do
                [ -z "$(daemon_pids)" ] && return 0
                sleep 0.1
        done
        fail "fuse-overlayfs still running: $(daemon_pids)"
}

start_bg() {
        CSAND_TEST_TOKEN=$CSAND_TOKEN closefds "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" \
                --overlay-driver fuse --overlay-src "$TESTDIR/l1" --overlay "$TESTDIR/up" "$TESTDIR/wk" /m "$@" \
                >"$TESTDIR/out" 2>&1 &
        CSAND_PID=$!
        local i
        for ((i = 0; i < 100; i++)); do
                [ -n "$(daemon_pids)" ] && return 0
                sleep 0.1
        done
        fail "no fuse-overlayfs started: $(cat "$TESTDIR/out")"
}

@test "fuse-overlayfs is gone as soon as csand returns" {
        run env CSAND_TEST_TOKEN="$CSAND_TOKEN" "$CSAND" "${csand_min_root[@]}" --overlay-driver fuse \
                --overlay-src "$TESTDIR/l1" --tmp-overlay /m -- cat /m/a
        assert_success
        assert_output one
        # csand waits for the daemon: nothing to poll for
        assert_equal "$(daemon_pids)" ""
}

@test "csand SIGKILLed (--die-with-parent): the sandbox and fuse-overlayfs are gone" {
        start_bg --die-with-parent --unshare-pid -- sleep 1000
        kill -KILL "$CSAND_PID"
        wait "$CSAND_PID" || true
        wait_no_daemon
        assert_no_leftover_processes
}

@test "csand SIGKILLed without --die-with-parent: the surviving sandbox keeps its overlay; the daemon ends with it" {
        start_bg --unshare-pid -- sh -c 'sleep 1; cat /m/a > /m/copied; echo done > /m/finished'
        kill -KILL "$CSAND_PID"
        wait "$CSAND_PID" || true
        wait_for_file "$TESTDIR/up/finished" || fail "the sandbox lost its overlay"
        assert_equal "$(cat "$TESTDIR/up/copied")" one
        wait_no_daemon
}

@test "the sandbox cannot see, signal or ptrace fuse-overlayfs; it has no capabilities" {
        start_bg --unshare-pid --proc /proc -- sh -c 'sleep 3; ls /proc; for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done'
        local pid
        pid=$(daemon_pids | head -n1)
        # without capabilities, without new privileges, in the sandbox's
        # user namespace but in the caller's pid namespace
        grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$pid/status"
        grep -q '^CapPrm:[[:space:]]*0000000000000000$' "/proc/$pid/status"
        grep -q '^CapBnd:[[:space:]]*0000000000000000$' "/proc/$pid/status"
        grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$pid/status"
        assert_equal "$(readlink "/proc/$pid/ns/pid")" "$(readlink /proc/self/ns/pid)"
        [ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ]
        wait "$CSAND_PID"
        run cat "$TESTDIR/out"
        # only the sandbox's own processes (its pid 1 and the command) are
        # visible inside, not the daemon
        refute_output --partial fuse-overlayfs
        run grep -aE '^[0-9]+$' "$TESTDIR/out"
        assert_line --index 0 1
        assert_line --index 1 2
        [ "${#lines[@]}" -eq 3 ] && [ "${lines[2]}" -lt 10 ]
}

@test "the sandbox cannot signal the daemon by its host pid" {
        mkdir -p "$TESTDIR/ctl"
        start_bg --unshare-pid --bind "$TESTDIR/ctl" /ctl -- sh -c \
                'while [ ! -s /ctl/pid ]; do sleep 0.1; done; kill -9 "$(cat /ctl/pid)"; echo "kill=$?"; cat /m/a'
        local pid
        pid=$(daemon_pids | head -n1)
        echo "$pid" >"$TESTDIR/ctl/pid"
        wait "$CSAND_PID" || true
        run cat "$TESTDIR/out"
        # the host pid names nothing in the sandbox's pid namespace
        assert_line "kill=1"
        # and the overlay still works
        assert_line one
        kill -0 "$pid" 2>/dev/null && fail "daemon $pid still running after the sandbox ended" || true
}
