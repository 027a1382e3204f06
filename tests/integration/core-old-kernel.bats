#!/usr/bin/env bats
# A kernel without mount_setattr(2) (Linux 5.6 to 5.11), pretended with
# tests/enosys: csand then applies read-only, nosuid, nodev and noexec with
# mount(2) remounts after attaching each mount, finding the submounts of a
# recursive bind in mountinfo.  Every test here checks the attributes for
# real: writes fail, devices work or don't, mountinfo says so.

load ../lib/common
load ../lib/network

setup() {
        net_setup
        require_userns
        # Every csand of this file runs with mount_setattr answering ENOSYS
        # (the seccomp filter stays on the command too).
        printf '#!/bin/sh\nexec "%s" mount_setattr -- "%s" "$@"\n' "$CSAND_BUILD_DIR/tests/enosys" "$CSAND" \
                >"$TESTDIR/csand-old-kernel"
        chmod +x "$TESTDIR/csand-old-kernel"
        CSAND="$TESTDIR/csand-old-kernel"
        mkdir -p "$TESTDIR/src/sub"
        echo original >"$TESTDIR/src/file"
}

# The sandbox's own /proc, for its mountinfo.
with_proc=(--unshare-pid --proc /proc)

# mount_options_of MOUNTPOINT <MOUNTINFO: the per-mount options of the
# topmost mount there.
mount_options_of() {
        awk -v mp="$1" '$5 == mp { opts = $6 } END { print opts }'
}

@test "the pretend kernel really lacks mount_setattr, and csand runs anyway" {
        run csand_min --ro-bind "$CSAND_BUILD_DIR/tests" /t /t/try-syscall mount_setattr
        assert_success
        assert_output "mount_setattr: errno=ENOSYS (Function not implemented)"
}

@test "--ro-bind is read-only, nosuid and nodev; --bind is nosuid and nodev" {
        run csand_min "${with_proc[@]}" --ro-bind "$TESTDIR/src" /ro --bind "$TESTDIR/src" /rw sh -c '
                echo pwned >/ro/file || echo write-refused
                echo new >/ro/new || echo create-refused
                echo changed >/rw/file && echo rw-write-ok
                cat /proc/self/mountinfo >/rw/mountinfo'
        assert_success
        assert_line write-refused
        assert_line create-refused
        assert_line rw-write-ok
        assert_output --partial "Read-only file system"
        [ ! -e "$TESTDIR/src/new" ]
        [[ "$(mount_options_of /ro <"$TESTDIR/src/mountinfo")" == ro,nosuid,nodev* ]] ||
                fail "/ro: $(mount_options_of /ro <"$TESTDIR/src/mountinfo")"
        [[ "$(mount_options_of /rw <"$TESTDIR/src/mountinfo")" == rw,nosuid,nodev* ]] ||
                fail "/rw: $(mount_options_of /rw <"$TESTDIR/src/mountinfo")"
        run cat "$TESTDIR/src/file"
        assert_output changed
}

@test "--ro-bind of a file is read-only" {
        run csand_min --ro-bind "$TESTDIR/src/file" /file sh -c 'echo pwned >/file || echo refused'
        assert_success
        assert_line refused
        assert_equal "$(cat "$TESTDIR/src/file")" original
}

@test "--ro-bind: a submount of the source is read-only too (recursive)" {
        # A tmpfs on src/sub in a namespace of our own (an unprivileged user
        # can't mount on the host): the bind of src brings it along.
        run unshare --user --map-root-user --mount sh -c '
                mount -t tmpfs none "$1/sub" && shift && exec "$@"' sh "$TESTDIR/src" \
                env TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" \
                "${with_proc[@]}" --ro-bind "$TESTDIR/src" /ro --bind "$TESTDIR/src" /rw sh -c '
                        echo new >/ro/sub/new || echo sub-write-refused
                        mkdir /ro/sub/dir || echo sub-mkdir-refused
                        echo new >/rw/sub/new && echo rw-sub-write-ok
                        grep -E " /(ro|rw)/sub " /proc/self/mountinfo'
        assert_success
        assert_line sub-write-refused
        assert_line sub-mkdir-refused
        assert_line rw-sub-write-ok
        assert_line --regexp '^[0-9]+ [0-9]+ [0-9:]+ / /ro/sub ro,nosuid,nodev,'
        assert_line --regexp '^[0-9]+ [0-9]+ [0-9:]+ / /rw/sub rw,nosuid,nodev,'
}

@test "--ro-bind / /: no mount the command can reach is writable" {
        # Every mount point listed, and /dev/.. (the copy of the new root
        # that a bind of / brings along, stacked on the sandbox's root).
        run csand --ro-bind / / sh -c '
                for mp in $(awk "{ print \$5 }" /proc/self/mountinfo) /dev/..; do
                        if [ -d "$mp" ] && [ -w "$mp" ]; then echo "writable: $mp"; fi
                done
                touch /new || echo root-refused'
        assert_success
        refute_output --partial writable:
        assert_line root-refused
}

@test "--dev-bind keeps devices usable (nosuid, not nodev)" {
        run csand_min "${with_proc[@]}" --dev-bind /dev /dev sh -c '
                echo x >/dev/null && echo null-ok
                head -c1 /dev/urandom | wc -c
                grep -E " /dev " /proc/self/mountinfo'
        assert_success
        assert_line null-ok
        assert_line 1
        assert_line --regexp ' /dev [a-z]+,nosuid[,a-z]*'
        refute_line --regexp ' /dev [a-z,]*nodev'
}

@test "--dev: the device nodes work" {
        run csand_min "${with_proc[@]}" --dev /dev sh -c '
                echo x >/dev/null && echo null-ok
                head -c1 /dev/urandom | wc -c
                head -c2 /dev/zero | wc -c
                (echo x >/dev/full) 2>/dev/null || echo full-refused
                grep -E " /dev/null " /proc/self/mountinfo'
        assert_success
        assert_line null-ok
        assert_line 1
        assert_line 2
        assert_line full-refused
        # as bwrap's device binds: nosuid, not noexec (JIT engines map /dev/zero executable)
        assert_line --regexp ' /dev/null rw,nosuid,'
        refute_line --regexp ' /dev/null [a-z,]*noexec'
}

@test "--proc: /proc/sys and the other host-facing entries are read-only" {
        run csand_min --unshare-pid --proc /proc sh -c '
                echo x >/proc/sys/kernel/domainname || echo sys-refused
                grep -E " /proc/(sys|sysrq-trigger|irq|bus) " /proc/self/mountinfo'
        assert_success
        assert_line sys-refused
        assert_output --partial "Read-only file system"
        assert_line --regexp ' /proc/sys ro,nosuid,nodev,noexec,'
        refute_line --regexp ' /proc/(sys|sysrq-trigger|irq|bus) rw'
}

@test "--remount-ro makes a writable bind read-only; a non-mount-point is refused" {
        run csand_min "${with_proc[@]}" --bind "$TESTDIR/src" /x --remount-ro /x sh -c '
                echo pwned >/x/file || echo refused
                grep -E " /x " /proc/self/mountinfo'
        assert_success
        assert_line refused
        assert_line --regexp ' /x ro,nosuid,nodev,'
        assert_equal "$(cat "$TESTDIR/src/file")" original

        run --separate-stderr csand_min --bind "$TESTDIR/src" /x --remount-ro /x/sub true
        assert_failure 1
        assert_equal "$stderr" "csand: Can't remount readonly on /newroot/x/sub: Unable to find \"/newroot/x/sub\" in mount table"
}

@test "--ro-bind-data is read-only, --bind-data writable" {
        run csand_min "${with_proc[@]}" --ro-bind-data 3 /ro-data --bind-data 4 /rw-data sh -c '
                cat /ro-data /rw-data
                echo pwned >/ro-data || echo ro-refused
                echo changed >/rw-data && cat /rw-data
                grep -E " /r[ow]-data " /proc/self/mountinfo' 3<<<ro-data 4<<<rw-data
        assert_success
        assert_line ro-data
        assert_line rw-data
        assert_line ro-refused
        assert_line changed
        assert_line --regexp ' /ro-data ro,nosuid,nodev,'
        assert_line --regexp ' /rw-data rw,nosuid,nodev,'
}

@test "--network slirp4netns: the generated resolv.conf is there and read-only" {
        require_net_helper slirp4netns
        printf '%s\n' "nameserver 127.0.0.53" "search example.test" >"$TESTDIR/resolv.conf"
        run csand "${net_root[@]}" --ro-bind "$TESTDIR/resolv.conf" /etc/resolv.conf \
                --network slirp4netns sh -c '
                        cat /etc/resolv.conf
                        echo pwned >/etc/resolv.conf || echo refused
                        grep -E " /etc/resolv.conf " /proc/self/mountinfo'
        assert_success
        assert_line "nameserver 10.0.2.3"
        assert_line "search example.test"
        assert_line refused
        assert_line --regexp ' /etc/resolv.conf ro,nosuid,nodev,noexec,'
}

@test "escape basics: remounting a --ro-bind read-write fails, also from a nested namespace" {
        require_unprivileged "as root without a user namespace the remount would succeed"
        run csand_min --unshare-pid --proc /proc --ro-bind "$CSAND_SOURCE_DIR/tests/security" /probe \
                --ro-bind "$TESTDIR/src" /x sh -c '
                        python3 /probe/probe.py remount-rw /x
                        unshare --user --map-root-user --mount python3 /probe/probe.py remount-rw /x
                        python3 /probe/probe.py write /x/file pwned'
        assert_success
        assert_line --index 0 "remount-rw: errno=EPERM"
        assert_line --index 1 "remount-rw: errno=EPERM"
        assert_line --index 2 "write: errno=EROFS"
        assert_equal "$(cat "$TESTDIR/src/file")" original
}
