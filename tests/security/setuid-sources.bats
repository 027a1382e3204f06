#!/usr/bin/env bats
# Bind sources that name a process's own fds, root or directory
# (/proc/self/fd/N, /dev/fd/N, /proc/self/root, /proc/self/cwd) in setuid
# mode: they are resolved by the worker, which must hold nothing there the
# caller could not reach itself (SECURITY.md, "Setuid mode"). CSAND is the
# setuid copy (tests/setuid/run.sh).

load ../lib/common

setup() {
        common_setup
        require_setuid_attacker
}

min=(--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64)

# Every fd the worker may hold while sources are resolved, and from each,
# its parent and grandparent; the caller's root and directory.
sources() {
        local n
        for n in 3 4 5 6 7 8 9 10 11 12; do
                echo "/proc/self/fd/$n" "/proc/self/fd/$n/.." "/proc/self/fd/$n/../.." "/dev/fd/$n/.."
        done
        echo /proc/self/root /proc/self/root/.. /proc/self/cwd /proc/self/cwd/..
}

@test "/proc/self/fd/N, /dev/fd/N, /proc/self/root and /proc/self/cwd as bind sources reach only what the caller can" {
        local src
        for src in $(sources); do
                run csand "${min[@]}" --bind "$src" /out sh -c '
                        cat /out/etc/shadow /out/oldroot/etc/shadow /out/newroot/etc/shadow 2>/dev/null
                        ls -A /out/root /out/oldroot/root 2>/dev/null; true'
                # The source may not exist (no such fd); where it does, root's
                # files stay root's.
                refute_line --regexp '^root:'
                refute_output --partial .bashrc
        done
}

@test "from a chroot: setuid csand refuses to run (csand's own fds led out of the chroot)" {
        require_feature "CSAND_CHROOT_RUN, tests/setuid/chroot-run.c installed setuid root (tests/run-tests.sh)" \
                test -u "${CSAND_CHROOT_RUN:-}"
        # The jail holds no /var, /home or /root: listed, they are the host's.
        local src
        for src in $(sources); do
                run "$CSAND_CHROOT_RUN" "$CSAND" /csand "${min[@]}" --bind "$src" /out ls -A /out
                refute_line var
                refute_line home
                refute_line root
        done
        run --separate-stderr "$CSAND_CHROOT_RUN" "$CSAND" /csand "${min[@]}" true
        assert_csand_error
        assert_equal "$stderr" "csand: Setuid csand can't run in a chroot: the sandbox would reach what the chroot hides"
        # The jail itself works: the helper is not what refuses.
        run "$CSAND_CHROOT_RUN" "$CSAND" ls /
        assert_success
        assert_line csand
        refute_line var
}
