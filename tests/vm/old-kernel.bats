#!/usr/bin/env bats
# What a kernel before Linux 6.15 has csand do another way (the guest's is
# Debian 12's 6.1, the host's newer): the new root is built attached, under
# a scaffold that becomes the namespace's root for the time (README,
# Design), and the files csand writes for the sandbox (/etc/resolv.conf,
# /etc/hosts) are cloned from a tmpfs attached under that scaffold, since
# the kernel clones from no detached mount before 6.15. Session context.

load ../lib/common
load vm-helpers

# kernel_before_6_15: the running kernel's major.minor is below 6.15.
kernel_before_6_15() {
        local major minor
        IFS=. read -r major minor _ <<<"$(uname -r)"
        [ "$major" -lt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -lt 15 ]; }
}

@test "the guest's kernel is older than 6.15: the attached build runs here" {
        kernel_before_6_15 || fail "kernel $(uname -r): these tests would not reach the attached build"
}

@test "attached build: a source through a relative symlink to / is the caller's, '..' at / is /" {
        # Debian's /etc/os-release -> ../usr/lib/os-release (issue 14, item 2)
        run csand_min --ro-bind /etc/os-release /run/os-release cat /run/os-release
        assert_success
        assert_output "$(cat /etc/os-release)"
        mkdir -p "$TESTDIR/low"
        run csand --bind / / --ro-bind / / sh -c "touch /..$TESTDIR/low/escaped 2>&1
                exec 3</.. 4</; grep -h mnt_id /proc/self/fdinfo/3 /proc/self/fdinfo/4 | uniq | wc -l"
        assert_success
        assert_line --index 0 --partial "Read-only file system"
        assert_line --index 1 1
        [ ! -e "$TESTDIR/low/escaped" ] || fail "written through a lower layer"
        # nothing of csand's scaffold is left in the sandbox's mount table
        run csand_min --unshare-pid --proc /proc cut -d' ' -f5 /proc/self/mountinfo
        assert_success
        refute_output --partial oldroot
        refute_output --partial newroot
        assert_line --index 0 /
}

@test "attached build: --network slirp4netns --dns writes the sandbox's resolv.conf" {
        require_feature "slirp4netns" command -v slirp4netns
        run csand_min --dir /etc --network slirp4netns --dns 192.0.2.53 cat /etc/resolv.conf
        assert_success
        assert_line "nameserver 192.0.2.53"
}

@test "attached build: --add-host writes the sandbox's /etc/hosts" {
        require_feature "slirp4netns" command -v slirp4netns
        run csand_min --dir /etc --network slirp4netns --add-host db.test:192.0.2.7 cat /etc/hosts
        assert_success
        assert_line "$(printf '192.0.2.7\tdb.test')"
}
