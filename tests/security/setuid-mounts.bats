#!/usr/bin/env bats
# Attacks on the mounts a setuid csand makes for its caller. They matter
# most where no user namespace can be made (tests/setuid/run.sh
# --nouserns): csand then mounts with real capabilities in namespaces of
# the initial user namespace, as the caller (SECURITY.md, "Setuid mode
# without user namespaces"). Every attack must fail in both setuid modes.

load ../lib/common

setup() {
        common_setup
        require_setuid_attacker
}

@test "sources the caller can't reach are refused, whatever path leads there" {
        [ ! -r /etc/shadow ] || fail "/etc/shadow is readable here"
        local src
        for src in /root/.profile /proc/1/root/etc/passwd /proc/1/cwd /proc/1/fd/0; do
                run -1 --separate-stderr csand_min --ro-bind "$src" /s cat /s
                assert_csand_error
                [[ "$msg" == "csand: Can't find source path $src: Permission denied" ]] || fail "$src: $msg"
        done
        # reachable but not readable: bound, and still not readable
        run csand_min --ro-bind /etc/shadow /s cat /s
        assert_failure
        refute_output --partial "root:"
}

@test "a source swapped between the caller's file and a root-only one: never read" {
        echo mine >"$TESTDIR/mine"
        ln -s "$TESTDIR/mine" "$TESTDIR/src"
        # rename(2) over the link, back and forth, while csand binds it
        python3 -c '
import os, sys, time
d = sys.argv[1]
end = time.monotonic() + 600
while time.monotonic() < end and not os.path.exists(d + "/stop"):
    for target in ("/etc/shadow", d + "/mine"):
        os.symlink(target, d + "/tmp")
        os.rename(d + "/tmp", d + "/src")' "$TESTDIR" &
        local swapper=$! i
        for i in $(seq 30); do
                run csand_min --ro-bind "$TESTDIR/src" /s cat /s
                refute_output --partial "root:"
        done
        touch "$TESTDIR/stop"
        wait "$swapper"
}

@test "setuid programs inside a bound directory don't gain privilege" {
        # The setuid copy itself: a setuid start refuses --privsep-worker=
        # as csand's own, an ordinary one finds it invalid.
        run --separate-stderr "$CSAND" --privsep-worker=x true
        assert_equal "$stderr" "csand: --privsep-worker= is csand's own"
        run --separate-stderr csand_min --ro-bind "${CSAND%/*}" /s \
                /s/"${CSAND##*/}" --privsep-worker=x true
        assert_failure
        assert_equal "$stderr" "csand: Invalid --privsep-worker="
        # every mount of the sandbox is nosuid
        run csand_min --unshare-pid --proc /proc --dev /dev --tmpfs /tmp --bind "${CSAND%/*}" /s \
                cat /proc/self/mountinfo
        assert_success
        local suid
        suid=$(grep -vE '^[^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]*nosuid' <<<"$output" || true)
        assert_equal "$suid" ""
}

@test "device nodes: not through --bind; --dev-bind keeps the source's nodev" {
        run csand_min --bind /dev /d sh -c 'head -c 1 /d/zero | wc -c'
        refute_output 1
        run csand_min --dev-bind /dev /d sh -c 'head -c 1 /d/zero | wc -c'
        assert_success
        assert_output 1
        # A host mount that is nodev (systemd makes /dev/shm and /run so,
        # as the VM tier has them): its --dev-bind copy stays nodev. This
        # machine may have none; the part above holds everywhere.
        local m
        for m in /dev/shm /run /dev/mqueue /proc /sys /tmp; do
                grep -qE "^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ $m [^ ]*nodev" /proc/self/mountinfo || continue
                run csand_min --proc /proc --dev-bind "$m" /p grep -E '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ /p ' /proc/self/mountinfo
                assert_success
                assert_output --regexp '^[^ ]+ [^ ]+ [^ ]+ [^ ]+ /p [^ ]*nodev'
        done
}

@test "a destination symlink leading out of the new root: nothing made outside" {
        run csand_min --tmpfs /t --symlink /etc /t/out --bind "$TESTDIR" /t/out/planted \
                --dir /t/out/planted-dir --ro-bind-data 5 /t/out/planted-data true 5</dev/null
        [ ! -e /etc/planted ] && [ ! -e /etc/planted-dir ] && [ ! -e /etc/planted-data ] ||
                fail "made in the host's /etc"
}
