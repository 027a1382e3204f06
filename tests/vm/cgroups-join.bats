#!/usr/bin/env bats
# --join into a sandbox with limits: the joined command lands in the
# sandbox's cgroup, whichever way csand made it (systemd's unit, moved there
# by the user manager, which asks pid 1 from a login session; cgroupfs in a
# delegated scope, written to directly where the caller may, else moved by
# the user manager that holds the scope), and the limits count it. Run in
# both contexts (see README.md).

load ../lib/common
load vm-helpers

teardown() {
        local n
        for n in $(XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --list | cut -d" " -f1); do
                XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --stop "$n" --stop-timeout 5 || true
        done
        [ -n "${BG:-}" ] && wait "$BG" 2>/dev/null
        BG=
        common_teardown
}

# start_named NAME [PREFIX... --] ARGS...: csand --name NAME ARGS... in the
# background, after PREFIX (systemd-run); returns once --list shows it.
start_named() {
        local name=$1 i
        shift
        local -a prefix=()
        if [ "$1" = systemd-run ]; then
                while [ "$1" != -- ]; do
                        prefix+=("$1")
                        shift
                done
                shift
        fi
        "${prefix[@]}" env XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" \
                --name "$name" "${root[@]}" --proc /proc "$@" </dev/null >/dev/null 2>"$TESTDIR/$name.err" &
        BG=$!
        for ((i = 0; i < 300; i++)); do
                XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --list | grep -q "^$name " && return 0
                sleep 0.1
        done
        fail "sandbox $name never showed up in --list: $(cat "$TESTDIR/$name.err")"
}

# join [PREFIX...] -- ARGS...: csand ARGS... with the test's registry.
join() {
        local -a prefix=()
        while [ "$1" != -- ]; do
                prefix+=("$1")
                shift
        done
        shift
        "${prefix[@]}" env XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" "$@"
}

# Two processes in the sandbox (its pid 1 and sleep) under --pids-limit 3:
# a joined cat fits, and a joined sh takes the last place, so that it can't
# fork.
check_joined() {
        local name=$1
        shift
        run --separate-stderr join "$@" -- --join "$name" -- cat /proc/self/cgroup /proc/2/cgroup
        echo "$stderr"
        assert_success
        assert_equal "${#lines[@]}" 2
        assert_equal "${lines[0]}" "${lines[1]}"
        run --separate-stderr join "$@" -- --join "$name" -- sh -c '/bin/true; echo forked'
        assert_failure
        refute_output forked
        [[ "$stderr" == *"fork"* ]] || fail "the joined sh could fork under --pids-limit 3: $stderr"
}

@test "--join (systemd): the joined command is in the sandbox's cgroup, its limits count it" {
        start_named sd --unshare-pid --memory 64M --pids-limit 3 sleep 300
        # --list names the limits as they were given.
        run join -- --list
        assert_output --regexp "^sd [0-9]+ [0-9T:+-]+ ns=user,mnt,pid network=host limits=memory=64M,pids-limit=3 sleep 300$"
        child=$(join -- --list --json | sed -n 's/.*"pid": \([0-9]*\),.*/\1/p')
        cg=$(sed -n 's/^0:://p' "/proc/$child/cgroup")
        [[ "$cg" == */csand.slice/csand-* ]] || fail "not in a csand scope: $cg"
        check_joined sd
        # Seen from outside too: the joined cat is in the sandbox's cgroup.
        run --separate-stderr join -- --join sd -- cat /proc/self/cgroup
        echo "$stderr"
        assert_output "0::$cg"
        # Joined commands leave nothing in it.
        assert_equal "$(wc -l <"/sys/fs/cgroup$cg/cgroup.procs")" 2
}

@test "--join (systemd): with the sandbox's own cgroup namespace" {
        start_named sdns --unshare-pid --unshare-cgroup --pids-limit 3 sleep 300
        check_joined sdns
}

@test "--join (cgroupfs): into a sandbox in a delegated scope, from another scope" {
        start_named cf systemd-run --user --scope --quiet -p Delegate=yes -- \
                --cgroup-manager cgroupfs --unshare-pid --pids-limit 3 sleep 300
        child=$(join -- --list --json | sed -n 's/.*"pid": \([0-9]*\),.*/\1/p')
        cg=$(sed -n 's/^0:://p' "/proc/$child/cgroup")
        [[ "$cg" == */run-*.scope/csand-* ]] || fail "not below the delegated scope: $cg"
        check_joined cf systemd-run --user --scope --quiet
}

# From the caller's own cgroup: in a login session (session-N.scope, owned
# by root) it meets the delegated scope only at the root-owned
# user-UID.slice, so no write to cgroup.procs can move it there; the user's
# systemd, which holds the scope, can (it asks pid 1). In a user service
# the write works.
@test "--join (cgroupfs): into a sandbox in a delegated scope, from the caller's own cgroup" {
        start_named cfown systemd-run --user --scope --quiet -p Delegate=yes -- \
                --cgroup-manager cgroupfs --unshare-pid --pids-limit 3 sleep 300
        check_joined cfown
}

# Without the user bus only a write can move it: in a user service it
# does; in a login session neither can, and csand says so in one line.
@test "--join (cgroupfs): without the user bus, a write where one may, else one line and nothing left" {
        start_named cfnobus systemd-run --user --scope --quiet -p Delegate=yes -- \
                --cgroup-manager cgroupfs --unshare-pid sleep 300
        run --separate-stderr join env DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent -- \
                --join cfnobus -- cat /proc/self/cgroup
        if [ "${VMTEST_CONTEXT:-}" = session ]; then
                assert_csand_error
                [[ "$msg" == "csand: Can't join the cgroup of cfnobus: its cgroup /"*"/csand-"*"/sandbox and csand's meet at /user.slice/user-$(id -u).slice, which this user may not write to, and the user's systemd can't move it there (no user bus: "*")" ]] ||
                        fail "unexpected message: $msg"
        else
                echo "$stderr"
                assert_success
                [[ "$output" == 0::*/run-*.scope/csand-*/sandbox ]] || fail "not in the sandbox's cgroup: $output"
        fi
}

# --stop takes everything of the sandbox: a joined command in it, its
# cgroup (removed by csand with cgroupfs; systemd collects the empty scope).
@test "--stop: joined commands end, and the cgroup goes (systemd and cgroupfs)" {
        local cg
        start_named stsd --unshare-pid --pids-limit 10 sleep 300
        join -- --join stsd -- sleep 300 </dev/null &
        local joined=$!
        cg=$(sed -n 's/^0:://p' "/proc/$(join -- --list --json | sed -n 's/.*"pid": \([0-9]*\),.*/\1/p')/cgroup")
        wait_joined "$cg"
        join -- --stop stsd --stop-timeout 5
        wait "$joined" || true
        assert_no_scope_left "/sys/fs/cgroup${cg%/sandbox}"

        start_named stcf systemd-run --user --scope --quiet -p Delegate=yes -- \
                --cgroup-manager cgroupfs --unshare-pid --pids-limit 10 sleep 300
        join -- --join stcf -- sleep 300 </dev/null &
        joined=$!
        cg=$(sed -n 's/^0:://p' "/proc/$(join -- --list --json | sed -n 's/.*"pid": \([0-9]*\),.*/\1/p')/cgroup")
        wait_joined "$cg"
        join -- --stop stcf --stop-timeout 5
        wait "$joined" || true
        # csand removed it before --stop returned.
        [ ! -e "/sys/fs/cgroup${cg%/sandbox}" ] || fail "the cgroup ${cg%/sandbox} is left"
}

# wait_joined CGROUP: until the joined command (a third process) is in it.
wait_joined() {
        local i
        for ((i = 0; i < 300; i++)); do
                [ "$(wc -l <"/sys/fs/cgroup$1/cgroup.procs")" -ge 3 ] && return 0
                sleep 0.1
        done
        fail "the joined command never showed up in $1"
}
