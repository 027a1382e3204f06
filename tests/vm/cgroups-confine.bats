#!/usr/bin/env bats
# The command can't loosen its own limits (issue 15, item 10). The limits
# are on the sandbox's cgroup (a systemd scope, or csand-PID with cgroupfs)
# and its processes in the leaf "sandbox" below it; a cgroup namespace, be it
# csand's (--unshare-cgroup) or one the command makes, is rooted in the
# leaf. The command attacks from inside (cgroup-attack.sh: mounts cgroup2 in
# each namespace it can, writes every memory.max and pids.max it finds and
# the ones /proc/self/cgroup leads to, and moves itself into every cgroup it
# sees), as uid 0 with every capability, and without any through a nested
# user namespace with the host's tree bound read-only; with the cgroup2
# mount option nsdelegate on and off. The test checks from outside that the
# limits are as set and every process of the sandbox is still in its leaf.
# On 554d816 (no leaf) the limits went to "max" without nsdelegate, and with
# cgroupfs and --unshare-cgroup even with it. Runs in the login session
# (tests/vm/README.md).

load ../lib/common
load vm-helpers

teardown() {
        # the VM's default (systemd mounts cgroup2 with nsdelegate)
        nsdelegate on || true
        vm_teardown
}

# nsdelegate on|off: remounts /sys/fs/cgroup with or without the option
# (a helper the VM lets the test user run as root) and checks that it took.
nsdelegate() {
        sudo -n /usr/local/sbin/vmtest-nsdelegate "$1" || fail "can't switch nsdelegate $1"
        local opts
        opts=,$(awk '$5 == "/sys/fs/cgroup" { print $NF }' /proc/self/mountinfo),
        if [ "$1" = on ]; then
                [[ "$opts" == *,nsdelegate,* ]] || fail "nsdelegate is not on: $opts"
        else
                [[ "$opts" != *,nsdelegate,* ]] || fail "nsdelegate is still on: $opts"
        fi
}

# The sandbox as the attacker gets it: the script, a /tmp to mount on, its
# own /proc, limits of 64M and 40 tasks.
attack_args=(--ro-bind /mnt/host/tests/vm/cgroup-attack.sh /attack.sh --tmpfs /tmp --unshare-pid --proc /proc
        --memory 64M --pids-limit 40)
# uid 0 with every capability, in a cgroup namespace of csand's. --gid 0
# too: with --dev and other ids than bwrap's first namespace maps (0), the
# command would live in bwrap's nested user namespace, whose capabilities
# don't reach csand's cgroup and mount namespaces.
caps=(--unshare-user --uid 0 --gid 0 --cap-add ALL --unshare-cgroup)

# attack ARGS...: starts the sandbox with ARGS... (after the words of
# csand_prefix), waits until the attack is over, and checks from outside the
# limits of the cgroup csand made (found by its name) and where the
# sandbox's processes are.
attack() {
        "${csand_prefix[@]}" "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${root[@]}" "${attack_args[@]}" "$@" \
                >"$TESTDIR/out" 2>"$TESTDIR/stderr" </dev/null &
        SB_PID=$!
        local i
        for ((i = 0; i < 600; i++)); do
                grep -q '^ready' "$TESTDIR/out" && break
                kill -0 "$SB_PID" 2>/dev/null || break
                sleep 0.1
        done
        grep -q '^ready' "$TESTDIR/out" ||
                fail "the attack did not finish: $(cat "$TESTDIR/out" "$TESTDIR/stderr")"
        # it got somewhere to attack from: a cgroup2 mount
        grep -q '^mounted' "$TESTDIR/out" || fail "the attack mounted no cgroup2: $(cat "$TESTDIR/out")"
        local cg
        cg=$(find /sys/fs/cgroup -type d \( -name "csand-$SB_PID.scope" -o -name "csand-$SB_PID" \) -print -quit)
        [ -n "$cg" ] || fail "no cgroup csand-$SB_PID"
        [ "$(cat "$cg/memory.max")" = 67108864 ] && [ "$(cat "$cg/pids.max")" = 40 ] ||
                fail "the limits of $cg are now memory.max $(cat "$cg/memory.max"), pids.max $(cat "$cg/pids.max"): $(cat "$TESTDIR/out")"
        # every process of the sandbox is in the leaf or below
        local p path n=0
        for p in $(descendants "$SB_PID"); do
                path=/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$p/cgroup" 2>/dev/null) || continue
                [[ "$path" == "$cg"/sandbox || "$path" == "$cg"/sandbox/* ]] ||
                        fail "process $p is in $path, not in the leaf $cg/sandbox: $(cat "$TESTDIR/out")"
                n=$((n + 1))
        done
        [ "$n" -ge 2 ] || fail "found $n processes of the sandbox"
        csand_bg_stop
}

# The processes below PID (the sandbox's, for csand's pid).
descendants() {
        ps -e -o pid=,ppid= | awk -v root="$1" '
                { parent[$1] = $2 }
                END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root && p != root) print p } }'
}

cgroupfs() {
        csand_prefix=(systemd-run --user --scope --quiet -p Delegate=yes)
        attack_args+=(--cgroup-manager cgroupfs)
}

@test "systemd: the processes live in a leaf below the limits; --unshare-cgroup roots the namespace there" {
        csand_bg --unshare-pid --proc /proc --unshare-cgroup --memory 64M --pids-limit 40 \
                sh -c 'cat /proc/self/cgroup; readlink /proc/self/ns/cgroup; exec sleep 120' >"$TESTDIR/out"
        [[ "$SB_CGPATH" == */csand.slice/csand-"$SB_PID".scope ]] || fail "unexpected cgroup $SB_CGPATH"
        assert_equal "$(cat "$SB_CG/memory.max")" 67108864
        assert_equal "$(cat "$SB_CG/cgroup.procs")" ""
        assert_equal "$(cat "$SB_LEAF/cgroup.controllers")" "$(cat "$SB_CG/cgroup.controllers")"
        local i
        for ((i = 0; i < 200; i++)); do
                [ "$(wc -l <"$TESTDIR/out")" -ge 2 ] && break
                sleep 0.1
        done
        run cat "$TESTDIR/out"
        assert_line --index 0 "0::/"
        # --info-fd names the namespace the command is in
        local ns=${lines[1]#cgroup:[}
        grep -q "\"cgroup-namespace\": ${ns%]}," "$TESTDIR/info" ||
                fail "--info-fd has another cgroup namespace than the command's ${lines[1]}: $(cat "$TESTDIR/info")"
        csand_bg_stop
        assert_no_scope_left "$SB_CG"
}

@test "cgroupfs: the processes live in a leaf below the limits; --unshare-cgroup roots the namespace there" {
        csand_prefix=(systemd-run --user --scope --quiet -p Delegate=yes)
        csand_bg --unshare-pid --proc /proc --unshare-cgroup --cgroup-manager cgroupfs --memory 64M --pids-limit 40 \
                sh -c 'cat /proc/self/cgroup; exec sleep 120' >"$TESTDIR/out"
        [[ "$SB_CGPATH" == */run-*.scope/csand-"$SB_PID" ]] || fail "unexpected cgroup $SB_CGPATH"
        assert_equal "$(cat "$SB_CG/memory.max")" 67108864
        assert_equal "$(cat "$SB_CG/cgroup.procs")" ""
        wait_for_file "$TESTDIR/out"
        assert_equal "$(cat "$TESTDIR/out")" "0::/"
        csand_bg_stop
        # both gone, the leaf first
        [ ! -e "$SB_CG" ] || fail "$SB_CG is left behind: $(ls "$SB_CG")"
}

@test "systemd, nsdelegate: the command can't raise its limits or leave its leaf (all capabilities; nested user namespace)" {
        nsdelegate on
        attack "${caps[@]}" sh /attack.sh
        # without capabilities: a nested user namespace; the host's tree read-only
        attack --ro-bind /sys/fs/cgroup /sys/fs/cgroup sh /attack.sh --userns
}

@test "systemd, no nsdelegate: the command can't raise its limits or leave its leaf (all capabilities; nested user namespace)" {
        nsdelegate off
        attack "${caps[@]}" sh /attack.sh
        attack --ro-bind /sys/fs/cgroup /sys/fs/cgroup sh /attack.sh --userns
}

@test "cgroupfs, nsdelegate: the command can't raise its limits or leave its leaf (all capabilities; nested user namespace)" {
        nsdelegate on
        cgroupfs
        attack "${caps[@]}" sh /attack.sh
        attack --ro-bind /sys/fs/cgroup /sys/fs/cgroup sh /attack.sh --userns
}

@test "cgroupfs, no nsdelegate: the command can't raise its limits or leave its leaf (all capabilities; nested user namespace)" {
        nsdelegate off
        cgroupfs
        attack "${caps[@]}" sh /attack.sh
        attack --ro-bind /sys/fs/cgroup /sys/fs/cgroup sh /attack.sh --userns
}
