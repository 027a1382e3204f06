#!/usr/bin/env bats
# The id-map stand-ins (utils/userns.c) are dumpable while the sandbox's
# child opens their map files. Dumpable, their /proc/PID/root and cwd,
# mountinfo, fds, environment and memory are open to the processes of the
# user's that the kernel lets ptrace-read them: those in the initial user
# namespace (which own the sandbox's). Some of those see less than the
# caller: a system service running as the user with its own mount
# namespace (ProtectHome=, InaccessiblePaths=), a sandbox made without a
# user namespace. They must find nothing of the caller's view there (the
# child's mount namespace is a copy of it) nor of its environment. Such a
# process can't be made without privileges: the probe runs as the test
# user and reads a file through the stand-in's root, which shows the view
# is reachable. (Another sandbox's processes, in a user namespace of their
# own, are refused by the kernel: no CAP_SYS_PTRACE over the stand-in's.)
# Probe: standin-probe.py.

load ../lib/common

setup() {
        common_setup
        require_unprivileged "as root the probe could read anything anyway"
        require_userns
        mkdir -p "$TESTDIR/secret" "$TESTDIR/ctl"
        echo "standin-secret-$RANDOM$RANDOM" >"$TESTDIR/secret/file"
        cp "$TESTDIR/secret/file" "$TESTDIR/ctl/expect"
}

attacker() {
        python3 "$BATS_TEST_DIRNAME/standin-probe.py" "$1" "$TESTDIR/ctl" "$TESTDIR/secret/file" "${@:2}"
}

@test "stand-in: racing it over many launches never reads the caller's files through it" {
        attacker race "$CSAND_TOKEN" >"$TESTDIR/out" 2>&1 &
        local apid=$! i
        # let the attacker start spinning
        sleep 1
        for ((i = 0; i < 100; i++)); do
                csand --ro-bind / / true
                csand_min --unshare-all --dev /dev true
        done
        touch "$TESTDIR/ctl/done"
        wait "$apid"
        run cat "$TESTDIR/out"
        assert_output "race: got 0
race: tries some"
}

@test "stand-in: held dumpable, its root, cwd, mountinfo, fds and environment show nothing" {
        mkfifo "$TESTDIR/fifo"
        attacker held "standin-env-$CSAND_TOKEN" >"$TESTDIR/out" 2>&1 &
        local apid=$!
        # --dev: the nested namespace's stand-in is ready while the root is
        # built; --file from a fifo holds the build there.
        STANDIN_SECRET="standin-env-$CSAND_TOKEN" csand --ro-bind / / --unshare-user --dev /dev \
                --tmpfs /tmp --file 9 /tmp/x true 9<"$TESTDIR/fifo" &
        local cpid=$!
        exec 8>"$TESTDIR/fifo"
        # this test's csand processes (the token in their arguments): the
        # stand-in is the one alive under seccomp (the first is killed
        # once used; the attacker carries the token too, without seccomp)
        local standin p i
        for ((i = 0; i < 300; i++)); do
                for p in $(pgrep -f -- "--setenv CSAND_TEST_TOKEN $CSAND_TOKEN "); do
                        grep -q '^Seccomp:[[:space:]]*2' "/proc/$p/status" 2>/dev/null &&
                                ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" && standin=$p
                done
                [ -n "$standin" ] && break
                sleep 0.1
        done
        if [ -z "$standin" ]; then
                exec 8>&-
                kill "$apid" || true
                wait "$cpid" || true
                fail "no stand-in held dumpable during the root's construction"
        fi
        # wait until it is dumpable (its /proc files are then the user's)
        for ((i = 0; i < 200; i++)); do
                [ "$(stat -c %u "/proc/$standin/environ")" = "$(id -u)" ] && break
                sleep 0.05
        done
        echo "$standin" >"$TESTDIR/ctl/pid"
        wait "$apid"
        exec 8>&-
        wait "$cpid"
        run cat "$TESTDIR/out"
        assert_output "ns/user: opened (dumpable)
secret via root/cwd: 0 of 8
root entries: 0
cwd entries: 0
mountinfo lines: 0
fds opened: 0
environ has it: no
memory has it: no"
}
