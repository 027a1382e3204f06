#!/usr/bin/env bats
# The cgroup tier: resource limits through a real systemd user manager and
# cgroup v2. Runs inside the VM (tests/vm/run.sh) as the lingering user,
# with csand built on the host, from a login session (cgroups-core.bats runs
# in a user service too). Everything is checked from outside: the kernel's
# cgroup files of the sandbox's cgroup, what systemd says about the scope,
# the exit status and the message.

load ../lib/common
load vm-helpers

# --- systemd: limits land in the kernel's files --------------------------

@test "systemd: --cgroup-property passes through (cgroup files and unit properties)" {
        csand_bg --cgroup-property MemoryHigh=40M --cgroup-property TasksMax=33 \
                --cgroup-property Description=csand-vm-test --cgroup-property CPUQuota=20% sleep 120
        assert_equal "$(cat "$SB_CG/memory.high")" 41943040
        assert_equal "$(cat "$SB_CG/pids.max")" 33
        assert_equal "$(cat "$SB_CG/cpu.max")" "20000 100000"
        run systemctl --user show -p Description -p TasksMax "csand-$SB_PID.scope"
        assert_line "Description=csand-vm-test"
        assert_line "TasksMax=33"
        csand_bg_stop
}

@test "systemd: --cgroup-property RuntimeMaxSec=2 stops a sandbox that runs too long" {
        local start=$SECONDS
        run --separate-stderr csand_min --cgroup-property RuntimeMaxSec=2 sleep 60
        [ "$status" -ne 0 ] || fail "the sandbox outlived RuntimeMaxSec (status 0)"
        [ $((SECONDS - start)) -lt 50 ] || fail "took $((SECONDS - start)) s"
        assert_no_scope_left
}

@test "systemd: --cgroup-manager systemd without limits still makes a scope" {
        csand_bg --cgroup-manager systemd sleep 120
        [[ "$SB_CGPATH" == */csand-"$SB_PID".scope ]] || fail "unexpected cgroup $SB_CGPATH"
        csand_bg_stop
        assert_no_scope_left "$SB_CG"
}

# --- enforcement ----------------------------------------------------------

@test "systemd: OOM kill with a pid namespace; --json-status-fd reports it before the exit code" {
        run --separate-stderr csand_min --dev /dev --unshare-pid --json-status-fd 3 --memory 40m --memory-swap 0 \
                tail /dev/zero 3>"$TESTDIR/status"
        assert_equal "$status" 137
        assert_equal "$stderr" "csand: killed: memory limit 40m exceeded"
        run cat "$TESTDIR/status"
        assert_line '{ "oom-killed": true, "memory-limit": "40m" }'
        # the exit code stays last
        assert_equal "${lines[${#lines[@]} - 1]}" '{ "exit-code": 137 }'
        assert_no_scope_left
}

@test "systemd: under --memory, or killed by another SIGKILL: no OOM report; the scope is gone after exit" {
        run --separate-stderr csand_min --unshare-pid --proc /proc --memory 50M sh -c 'cat /proc/self/cgroup; exit 3'
        assert_equal "$status" 3
        assert_equal "$stderr" ""
        local cg=${output#0::}
        [[ "$cg" == */csand-*.scope/sandbox ]] || fail "unexpected cgroup $cg"
        assert_no_scope_left "/sys/fs/cgroup${cg%/sandbox}"
        run --separate-stderr csand_min --memory 50M sh -c 'kill -9 $$'
        assert_equal "$status" 137
        assert_equal "$stderr" ""
}

# --- nothing left behind --------------------------------------------------

@test "systemd: the scope disappears after csand itself is SIGKILLed" {
        csand_bg --die-with-parent --memory 64M sleep 120
        kill -KILL "$SB_PID"
        wait "$SB_PID" || true
        SB_PID=
        assert_no_scope_left "$SB_CG"
}

# --- bad input, checked by the manager -----------------------------------

@test "systemd: a property or value the manager rejects: clear error naming it, exit 1, no scope" {
        # MemoryZSwapMax is newer than Debian 12's systemd 252
        run --separate-stderr csand_min --cgroup-property MemoryZSwapMax=10M touch /ran
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        [[ "$stderr" == "csand: systemd refused to start csand-"*".scope: "*"MemoryZSwapMax"* ]] ||
                fail "message does not name the property: $stderr"
        run --separate-stderr csand_min --cgroup-property KillMode=sometimes true
        assert_failure 1
        [[ "$stderr" == "csand: systemd refused to start csand-"*".scope: "*"KillMode"* ]] ||
                fail "message does not name the property: $stderr"
        assert_no_scope_left
}

@test "systemd: --io-weight without the io controller delegated: clear error, exit 1, no scope" {
        local controllers
        controllers=$(cat "/sys/fs/cgroup/user.slice/user-$(id -u).slice/user@$(id -u).service/cgroup.controllers")
        if [[ " $controllers " == *" io "* ]]; then
                skip "io is delegated to the user here: --io-weight works (Debian's default delegates cpu memory pids)"
        fi
        run --separate-stderr csand_min --io-weight 50 true
        assert_failure 1
        [[ "$stderr" == "csand: --io-weight needs the io controller"* ]] || fail "unexpected message: $stderr"
        assert_no_scope_left
}

@test "systemd: a user bus without systemd behind it: clear error, exit 1" {
        # an empty bus of our own: the manager is not there
        local addr
        addr=$(dbus-daemon --session --fork --print-address=1 --print-pid=3 3>"$TESTDIR/dbus.pid") ||
                skip "dbus-daemon could not start a private bus"
        DBUS_SESSION_BUS_ADDRESS=$addr run --separate-stderr csand_min --cgroup-manager systemd --memory 50M true
        kill "$(cat "$TESTDIR/dbus.pid")"
        assert_failure 1
        [[ "$stderr" == "csand: --cgroup-manager systemd: can't reach the systemd user manager: the user bus at"*"has no systemd"* ]] ||
                fail "unexpected message: $stderr"
}

# --- auto without limits --------------------------------------------------

@test "auto without limits: the sandbox stays in the caller's cgroup" {
        run --separate-stderr csand_min --unshare-pid --proc /proc cat /proc/self/cgroup
        assert_success
        assert_output "$(cat /proc/self/cgroup)"
}

# --- cgroupfs inside a delegated scope -----------------------------------

@test "cgroupfs: the sub-cgroup is removed after the sandbox ends, the caller sits in csand-leaf" {
        run --separate-stderr systemd-run --user --scope --quiet -p Delegate=yes sh -c '
                "$1" --setenv CSAND_TEST_TOKEN "$2" --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
                        --symlink usr/lib64 /lib64 --cgroup-manager cgroupfs --pids-limit 50 true || exit 10
                "$1" --setenv CSAND_TEST_TOKEN "$2" --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
                        --symlink usr/lib64 /lib64 --cgroup-manager cgroupfs --pids-limit 50 true || exit 11
                own=$(sed -n "s/^0:://p" /proc/self/cgroup)
                echo "$own"
                ls "/sys/fs/cgroup${own%/*}" | grep "^csand-" || true' sh "$CSAND" "$CSAND_TOKEN"
        assert_success
        [[ "${lines[0]}" == */run-*.scope/csand-leaf ]] || fail "the caller is not in the leaf: ${lines[0]}"
        # only the leaf: both sandboxes' cgroups are gone
        assert_equal "${lines[*]:1}" "csand-leaf"
}

@test "cgroupfs: outside a delegated cgroup: clear error, exit 1" {
        # a login session's scope belongs to root
        if [ "$(stat -c %u "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)")" = "$(id -u)" ]; then
                skip "this test's own cgroup belongs to the user (the payload runs as a user service)"
        fi
        run --separate-stderr csand_min --cgroup-manager cgroupfs --memory 50M true
        assert_failure 1
        [[ "$stderr" == "csand: --cgroup-manager cgroupfs: can't make a cgroup: the current cgroup "*" is not delegated to this user"* ]] ||
                fail "unexpected message: $stderr"
}
