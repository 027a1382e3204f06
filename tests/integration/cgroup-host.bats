#!/usr/bin/env bats
# Resources on the host tier (the limits themselves are tested in the VM
# tier, tests/vm/): without limits csand does no cgroup work at all; with
# limits and no way to make a cgroup it says so clearly; --rlimit; bad input.
# This machine has no user bus and a hybrid cgroup layout, which is what
# these tests need: where a test needs that, it checks and skips otherwise.

load ../lib/common

setup() {
        common_setup
}

teardown() {
        [ -n "${FAKE_BUS_PID:-}" ] && kill "$FAKE_BUS_PID" 2>/dev/null
        [ -n "${DBUS_PID:-}" ] && kill "$DBUS_PID" 2>/dev/null
        common_teardown
}

# Is there a way for csand to make a cgroup here without systemd, i.e. is
# our own cgroup a cgroup v2 one we may write to?
own_cgroup_delegated() {
        [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] || return 1
        local cg
        cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
        [ -w "$cg/cgroup.procs" ] && [ -w "$cg/cgroup.subtree_control" ]
}

# A fake user bus: a socket that logs each connection to $TESTDIR/bus.log
# and hangs up (so a D-Bus client gets no answer).
start_fake_bus() {
        require_feature python3 python3 -c 'import socket'
        python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
open(sys.argv[2] + ".ready", "w").close()
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f:
        f.write("connection\n")
    c.close()
' "$TESTDIR/bus" "$TESTDIR/bus.log" &
        FAKE_BUS_PID=$!
        wait_for_file "$TESTDIR/bus.log.ready" || [ -e "$TESTDIR/bus.log.ready" ] || fail "the fake bus did not start"
}

# run_bad ARGS...: csand fails before doing anything: exit 1, one
# "csand: ..." line on stderr, nothing on stdout; the message is in $msg.
run_bad() {
        run --separate-stderr "$CSAND" "${csand_min_root[@]}" "$@" touch "$TESTDIR/ran"
        assert_csand_error
        [ ! -e "$TESTDIR/ran" ] || fail "the command ran"
}

# --- auto without limits: zero cost ---------------------------------------

@test "auto without limits: no bus connection" {
        start_fake_bus
        DBUS_SESSION_BUS_ADDRESS=unix:path=$TESTDIR/bus XDG_RUNTIME_DIR=$TESTDIR \
                run --separate-stderr csand_min --rlimit NOFILE=512 true
        assert_success
        [ ! -s "$TESTDIR/bus.log" ] || fail "csand connected to the user bus without any limit"
}

@test "with a limit, auto does ask the user bus (the check above can see it)" {
        start_fake_bus
        DBUS_SESSION_BUS_ADDRESS=unix:path=$TESTDIR/bus XDG_RUNTIME_DIR=$TESTDIR \
                run --separate-stderr csand_min --memory 50M true
        [ -s "$TESTDIR/bus.log" ] || fail "csand did not try the user bus"
        if own_cgroup_delegated; then
                skip "our own cgroup is delegated: cgroupfs works here"
        fi
        assert_failure 1
        # (hung up during the handshake, or already at connect: "Broken pipe")
        [[ "$stderr" == *"the systemd user manager is not reachable ("*"the user bus at unix:path=$TESTDIR/bus"* ]] ||
                fail "unexpected message: $stderr"
}

@test "auto without limits: the sandbox stays in the caller's cgroups" {
        run --separate-stderr csand_min --unshare-pid --proc /proc cat /proc/self/cgroup
        assert_success
        assert_output "$(cat /proc/self/cgroup)"
}

@test "auto without limits: no file under /sys/fs/cgroup is touched, no socket connected" {
        require_feature strace strace -o /dev/null true
        # (LeakSanitizer does not work under ptrace)
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
                run strace -f -qq -o "$TESTDIR/trace" -e trace=%file,connect "$CSAND" "${csand_min_root[@]}" true
        assert_success
        if grep -E '/sys/fs/cgroup|connect\(' "$TESTDIR/trace"; then
                fail "csand touched a cgroup or connected a socket without any limit"
        fi
}

# --- limits with no way to make a cgroup ----------------------------------

@test "limits without a user bus or a delegated cgroup: one clear error naming both ways out" {
        own_cgroup_delegated && skip "our own cgroup is delegated: cgroupfs works here"
        run --separate-stderr env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" --memory 50M touch "$TESTDIR/ran"
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        [[ "$stderr" == "csand: resource limits need a cgroup of the sandbox's own, and neither way to make one works here: "* ]] ||
                fail "unexpected message: $stderr"
        [[ "$stderr" == *"systemd user manager is not reachable (no user bus"* ]] || fail "does not say why systemd is out: $stderr"
        [[ "$stderr" == *"loginctl enable-linger"* ]] || fail "does not name the systemd way out: $stderr"
        [[ "$stderr" == *"systemd-run --user --scope -p Delegate=yes"* ]] || fail "does not name the delegation way out: $stderr"
        [ ! -e "$TESTDIR/ran" ] || fail "the command ran without its limit"
}

@test "every limit option alone needs the cgroup too: none is silently ignored" {
        own_cgroup_delegated && skip "our own cgroup is delegated: cgroupfs works here"
        local args
        for args in "--memory 50M" "--memory-swap 0" "--cpus 1" "--cpu-weight 50" "--pids-limit 10" \
                "--io-weight 50" "--cgroup-property MemoryHigh=10M" "--cgroup-manager cgroupfs"; do
                # shellcheck disable=SC2086
                run --separate-stderr env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR \
                        "$CSAND" "${csand_min_root[@]}" $args touch "$TESTDIR/ran"
                [ "$status" -eq 1 ] || fail "$args: exit $status"
                [[ "$stderr" == "csand: "* ]] || fail "$args: $stderr"
                [ ! -e "$TESTDIR/ran" ] || fail "$args: the command ran without its limit"
        done
}

@test "--cgroup-manager systemd without a user bus: clear error" {
        run --separate-stderr env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR \
                "$CSAND" "${csand_min_root[@]}" --cgroup-manager systemd --memory 50M true
        assert_failure 1
        assert_equal "$stderr" "csand: --cgroup-manager systemd: can't reach the systemd user manager: no user bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set; run csand in a login session with a systemd user manager (or enable lingering: loginctl enable-linger)"
}

@test "--cgroup-manager systemd with a user bus that hangs up: clear error" {
        start_fake_bus
        DBUS_SESSION_BUS_ADDRESS=unix:path=$TESTDIR/bus run --separate-stderr csand_min --cgroup-manager systemd --pids-limit 10 true
        assert_failure 1
        [[ "$stderr" == "csand: --cgroup-manager systemd: can't reach the systemd user manager: "*"the user bus at unix:path=$TESTDIR/bus"* ]] ||
                fail "unexpected message: $stderr"
}

@test "--cgroup-manager systemd with a user bus that has no systemd on it: clear error" {
        require_feature dbus-daemon dbus-daemon --version
        local addr
        addr=$(dbus-daemon --session --fork --print-address=1 --print-pid=3 3>"$TESTDIR/dbus.pid")
        DBUS_PID=$(cat "$TESTDIR/dbus.pid")
        DBUS_SESSION_BUS_ADDRESS=$addr run --separate-stderr csand_min --cgroup-manager systemd --memory 50M true
        assert_failure 1
        [[ "$stderr" == "csand: --cgroup-manager systemd: can't reach the systemd user manager: the user bus at $addr has no systemd on it: "* ]] ||
                fail "unexpected message: $stderr"
}

@test "--cgroup-manager cgroupfs outside cgroup v2 or a delegated cgroup: clear error" {
        own_cgroup_delegated && skip "our own cgroup is delegated: cgroupfs works here"
        run --separate-stderr csand_min --cgroup-manager cgroupfs --memory 50M true
        assert_failure 1
        [[ "$stderr" == "csand: --cgroup-manager cgroupfs: can't make a cgroup: "*"Delegate=yes"* ]] || fail "unexpected message: $stderr"
}

@test "a systemd-only property with --cgroup-manager cgroupfs: error before anything starts" {
        run_bad --cgroup-manager cgroupfs --cgroup-property KillMode=mixed
        assert_equal "$msg" "csand: --cgroup-property KillMode is a systemd unit property without a cgroupfs equivalent; it needs --cgroup-manager systemd"
}

@test "--cgroup-property Delegate=no: error before anything starts (the sandbox lives in a sub-cgroup of its scope)" {
        run_bad --cgroup-property Delegate=no --memory 50M
        assert_equal "$msg" "csand: --cgroup-property Delegate=no: the sandbox's processes live in a sub-cgroup of its scope, which needs Delegate=yes (csand's default)"
        run_bad --cgroup-manager systemd --cgroup-property Delegate=false
        [[ "$msg" == "csand: --cgroup-property Delegate=false: the sandbox's processes live in a sub-cgroup"* ]] || fail "$msg"
}

# --- --rlimit ---------------------------------------------------------------

@test "--rlimit NOFILE=SOFT sets soft and hard limits for the command" {
        run --separate-stderr csand_min --rlimit NOFILE=100 sh -c 'ulimit -n; ulimit -Hn'
        assert_success
        assert_equal "${lines[*]}" "100 100"
}

@test "--rlimit NOFILE=SOFT:HARD, lower case names and the RLIMIT_ prefix" {
        run --separate-stderr csand_min --rlimit nofile=64:128 --rlimit RLIMIT_CORE=0 sh -c 'ulimit -n; ulimit -Hn; ulimit -c'
        assert_success
        assert_equal "${lines[*]}" "64 128 0"
}

@test "--rlimit: the last one for a resource wins" {
        run --separate-stderr csand_min --rlimit NOFILE=100 --rlimit NOFILE=200 sh -c 'ulimit -n'
        assert_success
        assert_output 200
}

@test "--rlimit unlimited and infinity" {
        [ "$(ulimit -Hc)" = unlimited ] || skip "the caller's hard core limit is not unlimited"
        run --separate-stderr csand_min --rlimit CORE=0:unlimited --rlimit STACK=8m:infinity sh -c 'ulimit -Hc; ulimit -Hs'
        [ "$(ulimit -Hs)" = unlimited ] || skip "the caller's hard stack limit is not unlimited"
        assert_success
        assert_equal "${lines[*]}" "unlimited unlimited"
}

@test "--rlimit FSIZE: writing past it kills the command with SIGXFSZ" {
        # sh survives, head dies of SIGXFSZ (25): the file stops at 1k
        run --separate-stderr csand_min --tmpfs /tmp --dev /dev --rlimit FSIZE=1k sh -c 'head -c 4096 /dev/zero >/tmp/f; echo "rc=$?"; wc -c </tmp/f'
        assert_success
        assert_equal "${lines[*]}" "rc=$((128 + 25)) 1024"
}

@test "--rlimit CPU: a busy loop is stopped by SIGXCPU at the soft limit" {
        # (at the hard limit the kernel sends SIGKILL)
        run --separate-stderr timeout 30 "$CSAND" "${csand_min_root[@]}" --rlimit CPU=1:3 sh -c 'while :; do :; done'
        assert_equal "$status" $((128 + 24))
}

@test "--rlimit applies to the command, not to csand's pid 1" {
        run --separate-stderr csand_min --unshare-pid --proc /proc --rlimit NOFILE=77 sh -c \
                'grep "open files" /proc/self/limits; grep "open files" /proc/1/limits'
        assert_success
        [[ "${lines[0]}" == *" 77 "*" 77 "* ]] || fail "the command's limit: ${lines[0]}"
        [[ "${lines[1]}" != *" 77 "* ]] || fail "pid 1 got the command's limit: ${lines[1]}"
}

# --- bad input: before anything happens, exit 1, one clear line ------------

@test "bad sizes and numbers for the limit options" {
        local bad
        while read -r opt value; do
                run_bad "$opt" "$value"
                [[ "$msg" == "csand: $opt: invalid value \"$value\""* ]] || fail "$opt $value: $msg"
        done <<'EOF'
--memory 10X
--memory 0
--memory -5
--memory 1.5G
--memory infinity
--memory-swap 1Q
--memory-swap -1
--cpus 0
--cpus -1
--cpus abc
--cpus 1.5.5
--cpus 0.001
--cpus 1e3
--cpu-weight 0
--cpu-weight 10001
--cpu-weight x
--io-weight 0
--io-weight -50
--pids-limit 0
--pids-limit -3
--pids-limit 10k
EOF
}

@test "an empty value for --memory" {
        run_bad --memory ""
        [[ "$msg" == "csand: --memory: invalid value \"\""* ]] || fail "$msg"
}

@test "--memory: the message says what is expected" {
        run_bad --memory 10X
        assert_equal "$msg" 'csand: --memory: invalid value "10X" (a size above zero in bytes, k, m, g suffixes allowed, e.g. 512m)'
}

@test "--cgroup-property: unknown property, no '=', bad values" {
        run_bad --cgroup-property Frobnicate=1
        [[ "$msg" == "csand: --cgroup-property: unknown property Frobnicate (known: "*"MemoryMax"* ]] || fail "$msg"
        run_bad --cgroup-property MemoryMax
        assert_equal "$msg" 'csand: --cgroup-property takes NAME=VALUE, not "MemoryMax"'
        run_bad --cgroup-property =5
        assert_equal "$msg" 'csand: --cgroup-property takes NAME=VALUE, not "=5"'
        run_bad --cgroup-property MemoryMax=lots
        [[ "$msg" == 'csand: --cgroup-property MemoryMax: invalid value "lots"'* ]] || fail "$msg"
        run_bad --cgroup-property CPUQuota=50
        [[ "$msg" == 'csand: --cgroup-property CPUQuota: invalid value "50" (a percentage'* ]] || fail "$msg"
        run_bad --cgroup-property CPUWeight=0
        [[ "$msg" == 'csand: --cgroup-property CPUWeight: invalid value "0"'* ]] || fail "$msg"
        run_bad --cgroup-property Delegate=maybe
        [[ "$msg" == 'csand: --cgroup-property Delegate: invalid value "maybe" (yes or no)' ]] || fail "$msg"
        run_bad --cgroup-property KillSignal=SIGNOPE
        [[ "$msg" == 'csand: --cgroup-property KillSignal: invalid value "SIGNOPE"'* ]] || fail "$msg"
        run_bad --cgroup-property AllowedCPUs=3-1
        [[ "$msg" == 'csand: --cgroup-property AllowedCPUs: invalid value "3-1"'* ]] || fail "$msg"
        run_bad --cgroup-property memorymax=5M
        [[ "$msg" == "csand: --cgroup-property: unknown property memorymax"* ]] || fail "$msg"
}

@test "--cgroup-manager: unknown manager" {
        run_bad --cgroup-manager libvirt
        assert_equal "$msg" 'csand: --cgroup-manager takes auto, systemd or cgroupfs, not "libvirt"'
}

@test "--rlimit: unknown name, malformed, soft above hard, hard above the caller's" {
        run_bad --rlimit BOGUS=1
        [[ "$msg" == "csand: --rlimit: unknown resource BOGUS (known: "*"NOFILE"* ]] || fail "$msg"
        run_bad --rlimit NOFILE
        assert_equal "$msg" 'csand: --rlimit takes NAME=SOFT[:HARD], not "NOFILE"'
        run_bad --rlimit NOFILE=abc
        [[ "$msg" == 'csand: --rlimit NOFILE: invalid soft limit "abc"'* ]] || fail "$msg"
        run_bad --rlimit NOFILE=10:
        [[ "$msg" == 'csand: --rlimit NOFILE: invalid hard limit ""'* ]] || fail "$msg"
        run_bad --rlimit NOFILE=-1
        [[ "$msg" == 'csand: --rlimit NOFILE: invalid soft limit "-1"'* ]] || fail "$msg"
        run_bad --rlimit NOFILE=200:100
        assert_equal "$msg" "csand: --rlimit NOFILE: soft limit 200 is above the hard limit 100"
        run_bad --rlimit NOFILE=unlimited:100
        assert_equal "$msg" "csand: --rlimit NOFILE: soft limit unlimited is above the hard limit 100"
        local hard
        hard=$(ulimit -Hn)
        [ "$hard" != unlimited ] || skip "the caller's hard NOFILE limit is unlimited"
        run_bad --rlimit NOFILE=$((hard + 1))
        assert_equal "$msg" "csand: --rlimit NOFILE: hard limit $((hard + 1)) is above csand's own hard limit $hard, which only a privileged process may raise"
}

@test "--help lists the resource options in their own group" {
        run "$CSAND" --help
        assert_success
        assert_line "Resources:"
        local opt
        for opt in "--memory SIZE" "--memory-swap SIZE" "--cpus N" "--cpu-weight N" "--pids-limit N" "--io-weight N" \
                "--cgroup-property NAME=VALUE" "--cgroup-manager MANAGER" "--rlimit NAME=SOFT[:HARD]"; do
                assert_line --regexp "^ +${opt//[][]/.} +[^ ]"
        done
}
