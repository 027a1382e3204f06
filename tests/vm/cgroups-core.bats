#!/usr/bin/env bats
# The VM tier's core: limits land, the OOM killer and pids.max act, cgroupfs
# inside a delegated scope. The limits are on the sandbox's cgroup, its
# processes in the leaf "sandbox" below it. Run in both contexts (a login session, where pid 1
# moves the sandbox into the user's scope, and a user service, where the
# user manager does it itself); cgroups.bats has the rest. See README.md.

load ../lib/common
load vm-helpers

@test "systemd: a scope csand-PID.scope in csand.slice, every limit option in its cgroup file" {
        csand_bg --memory 50M --memory-swap 0 --cpus 1.5 --cpu-weight 50 --pids-limit 20 sleep 120
        [[ "$SB_CGPATH" == */csand.slice/csand-"$SB_PID".scope ]] || fail "unexpected cgroup $SB_CGPATH"
        assert_equal "$(cat "$SB_CG/memory.max")" 52428800
        assert_equal "$(cat "$SB_CG/memory.swap.max")" 0
        assert_equal "$(cat "$SB_CG/cpu.max")" "150000 100000"
        assert_equal "$(cat "$SB_CG/cpu.weight")" 50
        assert_equal "$(cat "$SB_CG/pids.max")" 20
        run systemctl --user show -p Delegate -p Slice -p ActiveState "csand-$SB_PID.scope"
        assert_line "Delegate=yes"
        assert_line "Slice=csand.slice"
        assert_line "ActiveState=active"
        csand_bg_stop
        assert_no_scope_left "$SB_CG"
}

@test "systemd: memory over --memory is OOM-killed: message, exit 137, scope gone" {
        run --separate-stderr csand_min --dev /dev --memory 50M --memory-swap 0 tail /dev/zero
        assert_equal "$status" 137
        assert_equal "$stderr" "csand: killed: memory limit 50M exceeded"
        assert_no_scope_left
}

@test "systemd: over --pids-limit a process cannot fork" {
        # dash gives up at the first fork that fails; its EXIT trap stops the
        # sleeps it started (kill -1 in the pid namespace: no fork needed).
        # Tasks: csand's pid 1, sh, and the sleeps.
        run --separate-stderr csand_min --dev /dev --unshare-pid --pids-limit 8 sh -c \
                'trap "kill -9 -1" EXIT; i=0; while [ $i -lt 30 ]; do sleep 30 & i=$((i + 1)); echo $i; done'
        [ "$status" -ne 0 ] || fail "all 30 forks succeeded under --pids-limit 8"
        [[ "$stderr" == *"fork"* ]] || fail "no fork failure reported: $stderr"
        local started=${lines[${#lines[@]} - 1]:-0}
        [ "$started" -le 6 ] || fail "$started processes started under --pids-limit 8"
        [ "$started" -ge 1 ] || fail "no process could start under --pids-limit 8"
        assert_no_scope_left
}

@test "cgroupfs: inside a delegated scope, limits land in a csand-PID sub-cgroup" {
        run --separate-stderr systemd-run --user --scope --quiet -p Delegate=yes \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${root[@]}" --unshare-pid --proc /proc \
                --ro-bind /sys/fs/cgroup /sys/fs/cgroup --cgroup-manager cgroupfs --memory 30M --pids-limit 12 --cpus 0.5 \
                sh -c 'cg=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup); echo "$cg"; cat "$cg/../memory.max" "$cg/../pids.max" "$cg/../cpu.max"'
        # (assert_success would show stdout only)
        [ "$status" -eq 0 ] || fail "exit $status, stderr: $stderr"
        # the processes in the leaf, the limits on its parent
        [[ "${lines[0]}" == */run-*.scope/csand-[0-9]*/sandbox ]] || fail "not in the leaf of a sub-cgroup of the delegated scope: ${lines[0]}"
        assert_equal "${lines[1]}" 31457280
        assert_equal "${lines[2]}" 12
        assert_equal "${lines[3]}" "50000 100000"
}

@test "cgroupfs: memory over --memory is OOM-killed: message, exit 137" {
        run --separate-stderr systemd-run --user --scope --quiet -p Delegate=yes \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${root[@]}" \
                --cgroup-manager cgroupfs --memory 50M --memory-swap 0 tail /dev/zero
        assert_equal "$status" 137
        assert_equal "$stderr" "csand: killed: memory limit 50M exceeded"
}
