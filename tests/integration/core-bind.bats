#!/usr/bin/env bats
# Bind mounts seen from outside: --bind --ro-bind --dev-bind, their -try
# forms, nosuid/nodev, recursive read-only, --remount-ro.

load ../lib/common

setup() {
        common_setup
        require_userns
        mkdir -p "$TESTDIR/data"
        echo original >"$TESTDIR/data/file"
}

@test "--bind: a file written inside appears on the host" {
        run csand_min --bind "$TESTDIR/data" /data -- sh -c 'echo written-inside > /data/new && cat /data/file'
        assert_success
        assert_output original
        assert_equal "$(cat "$TESTDIR/data/new")" written-inside
}

@test "--bind: a change on the host is seen inside (same files, not a copy)" {
        run csand_min --bind "$TESTDIR/data" /data -- sh -c 'echo changed > /data/file'
        assert_success
        assert_equal "$(cat "$TESTDIR/data/file")" changed
}

@test "--bind of a single file" {
        run csand_min --bind "$TESTDIR/data/file" /etc/the-file -- sh -c 'cat /etc/the-file; echo appended >> /etc/the-file'
        assert_success
        assert_output original
        assert_equal "$(tail -n1 "$TESTDIR/data/file")" appended
}

@test "--bind creates missing parent directories of the destination" {
        run csand_min --bind "$TESTDIR/data" /a/b/c/data -- cat /a/b/c/data/file
        assert_success
        assert_output original
}

@test "--ro-bind: writes fail with EROFS, the host file is untouched" {
        run csand_min --ro-bind "$TESTDIR/data" /data -- sh -c 'cat /data/file; echo x > /data/file'
        assert_failure
        assert_line --index 0 original
        assert_output --partial "Read-only file system"
        run csand_min --ro-bind "$TESTDIR/data" /data -- touch /data/other
        assert_failure
        assert_output --partial "Read-only file system"
        assert_equal "$(cat "$TESTDIR/data/file")" original
        [ ! -e "$TESTDIR/data/other" ]
}

@test "--ro-bind is read-only recursively: the host's /dev/shm submount of / is read-only too" {
        # /dev/shm is a writable tmpfs mounted below / on the host
        [ -w /dev/shm ] || fail "the host's /dev/shm is not writable by $(id -un)"
        grep -q ' /dev/shm ' /proc/self/mountinfo || fail "no /dev/shm submount on this host"
        local f="/dev/shm/csandtok-probe-$$-$RANDOM"
        # control: through a plain --bind the submount is writable
        run csand --bind / / -- sh -c "touch $f && rm $f"
        assert_success
        run csand --ro-bind / / -- touch "$f"
        assert_failure
        assert_output --partial "Read-only file system"
        [ ! -e "$f" ]
}

@test "--ro-bind / /: /.. does not lead back to the host's writable root" {
        # The old root must be gone after pivot_root, also when a bind covers
        # the new root itself.
        run csand --ro-bind / / -- sh -c "touch /..$TESTDIR/escaped 2>&1; ls /../ >/dev/null; stat -c %m /.. 2>&1"
        [ ! -e "$TESTDIR/escaped" ] || fail "a write through /.. reached the host: $TESTDIR/escaped exists"
}

@test "--ro-bind: every mount inside is mounted ro" {
        run csand --ro-bind / / -- cat /proc/self/mountinfo
        assert_success
        local bad
        bad=$(awk '{ split($6, o, ","); if (o[1] != "ro") print $5, $6 }' <<<"$output")
        assert_equal "$bad" ""
}

@test "--bind, --ro-bind and --dev-bind mounts are nosuid; only --dev-bind allows devices" {
        mkdir -p "$TESTDIR/a" "$TESTDIR/b" "$TESTDIR/c"
        # no --proc without a pid namespace: the host's /proc, bound, shows
        # the sandbox's own mount table through /proc/self
        run csand_min --ro-bind /proc /proc --bind "$TESTDIR/a" /a --ro-bind "$TESTDIR/b" /b \
                --dev-bind "$TESTDIR/c" /c -- cat /proc/self/mountinfo
        assert_success
        local a b c
        a=$(mount_options_of /a "$output")
        b=$(mount_options_of /b "$output")
        c=$(mount_options_of /c "$output")
        [[ ",$a," == *,nosuid,* && ",$a," == *,nodev,* && ",$a," == *,rw,* ]] || fail "--bind /a: $a"
        [[ ",$b," == *,nosuid,* && ",$b," == *,nodev,* && ",$b," == *,ro,* ]] || fail "--ro-bind /b: $b"
        [[ ",$c," == *,nosuid,* && ",$c," != *,nodev,* ]] || fail "--dev-bind /c: $c"
}

@test "--dev-bind keeps device access; --bind of a device node gives nodev (EACCES)" {
        run csand_min --dev-bind /dev/null /dev/null -- sh -c 'echo x > /dev/null && echo wrote'
        assert_success
        assert_output wrote
        run csand_min --bind /dev/null /dev/null -- sh -c 'echo x > /dev/null'
        assert_failure
        assert_output --partial "Permission denied"
        run csand_min --ro-bind /dev/zero /dev/zero -- head -c 1 /dev/zero
        assert_failure
        assert_output --partial "Permission denied"
}

@test "--bind-try, --ro-bind-try, --dev-bind-try: a missing source is skipped" {
        run csand_min --bind-try "$TESTDIR/missing" /m1 --ro-bind-try "$TESTDIR/missing" /m2 \
                --dev-bind-try "$TESTDIR/missing" /m3 -- sh -c 'ls -d /m1 /m2 /m3 2>&1; echo ran'
        assert_success
        assert_line ran
        refute_line /m1
        refute_line /m2
        refute_line /m3
}

@test "-try forms with an existing source behave like the plain ones" {
        mkdir -p "$TESTDIR/dev"
        run csand_min --bind-try "$TESTDIR/data" /rw --ro-bind-try "$TESTDIR/data" /ro \
                --dev-bind-try /dev/null /dev/null -- sh -c '
                        echo via-try > /rw/try-file
                        touch /ro/x 2>&1
                        echo y > /dev/null && echo devnull-ok'
        assert_success
        assert_output --partial "Read-only file system"
        assert_line devnull-ok
        assert_equal "$(cat "$TESTDIR/data/try-file")" via-try
}

@test "-try forms fail on errors other than a missing source (ENOTDIR)" {
        # only ENOENT is forgiven, as in bwrap
        local opt
        for opt in --bind-try --ro-bind-try --dev-bind-try; do
                run --separate-stderr csand_min "$opt" "$TESTDIR/data/file/sub" /x -- true
                assert_failure 1
                assert_equal "${#stderr_lines[@]}" 1
                [[ "${stderr_lines[0]}" == "csand: "*"$TESTDIR/data/file/sub"* ]] || fail "$opt: ${stderr_lines[0]}"
                [[ "${stderr_lines[0]}" == *"Not a directory"* ]] || fail "$opt: ${stderr_lines[0]}"
        done
}

@test "-try forms fail on errors other than a missing source (EACCES)" {
        require_unprivileged "root can search any directory"
        # a directory of another user that we cannot search (Debian's /root is 0700)
        require_feature "a directory the test user cannot search (/root mode 0700)" test ! -x /root
        local opt
        for opt in --bind-try --ro-bind-try --dev-bind-try; do
                run --separate-stderr csand_min "$opt" /root/csand-no-such-file /x -- true
                assert_failure 1
                assert_equal "${#stderr_lines[@]}" 1
                [[ "${stderr_lines[0]}" == "csand: "*"/root/csand-no-such-file"* ]] || fail "$opt: ${stderr_lines[0]}"
                [[ "${stderr_lines[0]}" == *"Permission denied"* ]] || fail "$opt: ${stderr_lines[0]}"
        done
}

@test "--remount-ro makes an earlier writable mount read-only" {
        run csand_min --bind "$TESTDIR/data" /data --remount-ro /data -- sh -c 'cat /data/file; echo x > /data/file'
        assert_failure
        assert_line --index 0 original
        assert_output --partial "Read-only file system"
        assert_equal "$(cat "$TESTDIR/data/file")" original
        # the host's own view stays writable
        echo host-write >"$TESTDIR/data/file"
}

@test "--remount-ro of a tmpfs: later writes fail" {
        run csand_min --tmpfs /t --remount-ro /t -- touch /t/x
        assert_failure
        assert_output --partial "Read-only file system"
}

@test "binds are done in order: a later bind covers an earlier one" {
        mkdir -p "$TESTDIR/first" "$TESTDIR/second"
        echo first >"$TESTDIR/first/which"
        echo second >"$TESTDIR/second/which"
        run csand_min --bind "$TESTDIR/first" /d --ro-bind "$TESTDIR/second" /d -- cat /d/which
        assert_success
        assert_output second
        run csand_min --bind "$TESTDIR/second" /d --ro-bind "$TESTDIR/first" /d -- cat /d/which
        assert_success
        assert_output first
}

@test "a bind inside a --ro-bind tree: ro parent, writable child" {
        mkdir -p "$TESTDIR/tree/sub" "$TESTDIR/rw"
        run csand_min --ro-bind "$TESTDIR/tree" /tree --bind "$TESTDIR/rw" /tree/sub -- sh -c '
                echo w > /tree/sub/f && echo child-writable
                touch /tree/g 2>&1 || echo parent-ro'
        assert_success
        assert_line child-writable
        assert_line parent-ro
        assert_output --partial "Read-only file system"
        assert_equal "$(cat "$TESTDIR/rw/f")" w
}

@test "a bind of the caller's shared mount is a slave: a mount inside does not reach the caller" {
        # Setuid where the caller can't make a user namespace (either
        # knob): no namespace to make a shared mount in; csand's own
        # remount of the tree slave is what holds (the VM tier's / is
        # shared, and every test checks the caller's mount table is
        # unchanged after it)
        if nouserns_mode || { [ -u "$CSAND" ] && ! unshare -Urm true 2>/dev/null; }; then
                run csand_min --proc /proc --bind "$TESTDIR" "$TESTDIR" cat /proc/self/mountinfo
                assert_success
                refute_output --partial "shared:"
                return
        fi
        require_feature "unshare -Urm" unshare -Urm true
        local d="$TESTDIR/shared"
        mkdir -p "$d"
        # A caller whose mount is shared (this machine's / is private): the
        # sandbox's copy must receive from it and never send back, whether
        # csand remounts the tree slave itself or the kernel made it so.
        run unshare -Urm --propagation unchanged sh -c '
                mount -t tmpfs t "$1" && mount --make-shared "$1" && mkdir "$1/sub" || exit 9
                "$2" --setenv CSAND_TEST_TOKEN "$3" --unshare-user --ro-bind / / --bind "$1" "$1" --cap-add CAP_SYS_ADMIN \
                        sh -c "mount -t tmpfs u \"\$0/sub\" && grep -F \" \$0 \" /proc/self/mountinfo" "$1" || exit 8
                grep -F " $1/sub " /proc/self/mountinfo || echo "outside: nothing mounted on sub"' sh "$d" "$CSAND" "$CSAND_TOKEN"
        assert_success
        assert_output --regexp " $d .* master:[0-9]+ "
        refute_output --partial "shared:"
        assert_line "outside: nothing mounted on sub"
}
