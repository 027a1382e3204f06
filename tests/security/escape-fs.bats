#!/usr/bin/env bats
# Escape battery, file system half (issue 10): each test attacks from inside
# a sandbox and checks that the attack fails for the right reason (the errno
# the kernel gives, or the effect seen from the host).  Probes: probe.py.

load ../lib/common

setup() {
        common_setup
        # As root, without a user namespace, an escape would reach the host.
        require_unprivileged "the attacks run with the host's root otherwise"
        require_userns
        sec_root=("${csand_min_root[@]}" --ro-bind "$BATS_TEST_DIRNAME" /probe)
        # A host directory the sandboxes bind, with a file in it.
        mkdir -p "$TESTDIR/ro"
        echo original >"$TESTDIR/ro/file"
}

probe() { echo "python3 /probe/probe.py $*"; }

# keepfds "N M..." COMMAND...: like closefds, but keeps the fds N M...
keepfds() {
        python3 -c 'import os, sys
keep = [int(x) for x in sys.argv[1].split()]
for fd in range(3, 65536):
    if fd not in keep:
        try: os.close(fd)
        except OSError: pass
for fd in keep:
    os.set_inheritable(fd, True)
os.execvp(sys.argv[2], sys.argv[2:])' "$@"
}

assert_host_file_untouched() {
        run cat "$TESTDIR/ro/file"
        assert_output original
}

@test "--ro-bind: plain writes, creates and O_RDWR opens fail with EROFS" {
        run csand "${sec_root[@]}" --ro-bind "$TESTDIR/ro" /x sh -c "
                $(probe write /x/file pwned)
                $(probe open /x/file rw)
                echo new >/x/new 2>/dev/null || echo create-refused
                rm /x/file 2>/dev/null || echo unlink-refused"
        assert_success
        assert_line "write: errno=EROFS"
        assert_line "open: errno=EROFS"
        assert_line create-refused
        assert_line unlink-refused
        assert_host_file_untouched
        [ ! -e "$TESTDIR/ro/new" ]
}

@test "--ro-bind: re-opening a read-only fd read-write through /proc/self/fd fails with EROFS" {
        run csand "${sec_root[@]}" --unshare-pid --proc /proc --ro-bind "$TESTDIR/ro" /x \
                $(probe reopen /x/file)
        assert_success
        assert_output "reopen: errno=EROFS"
        assert_host_file_untouched
}

@test "--ro-bind: remount read-write from inside fails (no capabilities: EPERM)" {
        run csand "${sec_root[@]}" --ro-bind "$TESTDIR/ro" /x sh -c "
                $(probe remount-rw /x)
                $(probe setattr-rw /x)
                $(probe write /x/file pwned)"
        assert_success
        assert_line "remount-rw: errno=EPERM"
        assert_line "setattr-rw: errno=EPERM"
        assert_line "write: errno=EROFS"
        assert_host_file_untouched
}

@test "--ro-bind: remount read-write from a nested user+mount namespace fails (the flag is locked)" {
        # CAP_SYS_ADMIN in a user namespace the command makes itself: the
        # copied mounts carry MNT_LOCK_READONLY, so EPERM.
        run csand "${sec_root[@]}" --unshare-pid --proc /proc --ro-bind "$TESTDIR/ro" /x \
                unshare --user --map-root-user --mount sh -c "
                        $(probe remount-rw /x)
                        $(probe setattr-rw /x)
                        $(probe write /x/file pwned)"
        assert_success
        assert_line "remount-rw: errno=EPERM"
        assert_line "setattr-rw: errno=EPERM"
        assert_line "write: errno=EROFS"
        assert_host_file_untouched
}

@test "csand's mounts can't be unmounted from inside, not even from a nested namespace" {
        run csand "${sec_root[@]}" --unshare-pid --proc /proc --ro-bind "$TESTDIR/ro" /x sh -c "
                $(probe umount /x)
                $(probe umount /usr)
                unshare --user --map-root-user --mount sh -c '$(probe umount /x); $(probe umount /usr)'"
        assert_success
        assert_line --index 0 "umount: errno=EPERM"
        assert_line --index 1 "umount: errno=EPERM"
        # locked mounts (MNT_LOCKED) in the nested namespace: EINVAL
        assert_line --index 2 "umount: errno=EINVAL"
        assert_line --index 3 "umount: errno=EINVAL"
}

@test "the sandbox's mount table holds only what was asked for (the old root is detached)" {
        run csand "${sec_root[@]}" --unshare-pid --proc /proc --ro-bind "$TESTDIR/ro" /x \
                sh -c "cut -d' ' -f5 /proc/self/mountinfo | sort"
        assert_success
        assert_output "$(printf '%s\n' / /usr /probe /x /proc /proc/sys /proc/irq /proc/bus | sort)"
}

@test "'..' from the new root is the new root" {
        run csand "${sec_root[@]}" sh -c 'cd /../../..; stat -c "%d:%i" . /; ls /.. | sort | tr "\n" " "'
        assert_success
        assert_line --index 0 "${lines[1]}"
        assert_line --index 2 "bin lib lib64 probe sbin usr "
}

# csand builds the new root detached where the kernel can (Linux 6.15) and
# attaches it on the caller's "/" only to pivot into it: every mount stacked
# on the root's top afterwards (the caller's tree, and the root's own lower
# layers) must go, or ".." at "/" climbs onto it. With --remount-ro the root
# is built attached, under a scaffold, as on older kernels: both ways here.
@test "'..' from a root stacked on other mounts is the top one: no layer under it is reached" {
        mkdir -p "$TESTDIR/low"
        touch "$TESTDIR/low/low-marker"
        local same_mount='exec 3</.. 4</; grep -h mnt_id /proc/self/fdinfo/3 /proc/self/fdinfo/4 | uniq | wc -l'
        local built
        for built in detached attached; do
                local remount=() remount_usr=()
                [ "$built" = detached ] || remount=(--remount-ro /) remount_usr=(--remount-ro /usr)
                # a read-only host tree over a writable one
                run csand --bind / / --ro-bind / / "${remount[@]}" \
                        sh -c "touch /..$TESTDIR/low/escaped 2>&1; $same_mount"
                assert_success
                assert_line --index 0 --partial "Read-only file system"
                assert_line --index 1 1
                [ ! -e "$TESTDIR/low/escaped" ] || fail "$built: written through a lower layer"
                # tmpfs roots over a bound directory
                run csand --bind "$TESTDIR/low" / --tmpfs / --tmpfs / "${sec_root[@]}" --proc /proc "${remount_usr[@]}" \
                        sh -c "ls -a /.. | tr '\n' ' '; echo; touch /../made; $same_mount"
                assert_success
                assert_line --index 0 ". .. bin lib lib64 probe proc sbin usr "
                assert_line --index 1 1
                [ ! -e "$TESTDIR/low/made" ] || fail "$built: written through a lower layer"
        done
}

@test "/proc/self/cwd and the starting directory don't lead back to the host" {
        mkdir -p "$TESTDIR/hostcwd"
        echo secret >"$TESTDIR/hostcwd/secret"
        cd "$TESTDIR/hostcwd"
        # The caller's directory is not in the sandbox: csand falls back to $HOME, then /.
        run csand "${sec_root[@]}" --unshare-pid --proc /proc --setenv HOME /nonexistent sh -c '
                readlink /proc/self/cwd; cat /proc/self/cwd/secret 2>&1 || echo no-secret
                ls -a /proc/self/cwd/ | tr "\n" " "'
        assert_success
        assert_line --index 0 /
        assert_line no-secret
        refute_line --partial ". secret"
        refute_output --partial "hostcwd"
}

@test "/proc/1 of the sandbox's pid 1 (dumpable, as bwrap's): the sandbox's root, no fd of the caller's, its binary unwritable" {
        # The caller (flatpak enter, nsenter) reaches /proc/CHILD: so does the
        # command. What it finds there must be what it has anyway.
        mkdir "$TESTDIR/host-dir"
        run keepfds 7 env CSAND_TEST_TOKEN="$CSAND_TOKEN" "$CSAND" "${sec_root[@]}" --unshare-pid --proc /proc \
                --bind-fd 7 /bfd sh -c "
                readlink /proc/1/root /proc/1/cwd
                [ /proc/1/root/ -ef / ] && echo same-root
                $(probe open /proc/1/exe rw)
                ls /proc/1/fd | sort -n | tr '\n' ' '; echo
                readlink /proc/1/fd/3
                for fd in /proc/1/fd/*; do case \${fd##*/} in 0|1|2|3) ;; *) echo \"extra \$(readlink \$fd)\";; esac; done" 7<"$TESTDIR/host-dir"
        assert_success
        assert_line --index 0 /
        assert_line --index 1 /
        assert_line --index 2 same-root
        # csand's binary is running: never writable through the link
        assert_line --index 3 "open: errno=ETXTBSY"
        # stdio and the signalfd, and (without --new-session) the pipe on
        # which pid 1 tells csand that the command stopped (job control):
        # writing to it only stops csand as the command stopping itself
        # does. Not the --bind-fd directory (fd 7), nothing of the caller's.
        assert_line --index 4 --regexp '^0 1 2 3 ([0-9]+ )?$'
        assert_line --index 5 "anon_inode:[signalfd]"
        refute_line --partial host-dir
        local extra
        for extra in $(printf '%s\n' "${lines[@]}" | sed -n 's/^extra //p'); do
                [[ $extra == pipe:* ]] || fail "pid 1 holds $extra"
        done
}

@test "the monitor's binary can't be reached or replaced from inside (no /proc/<monitor>/exe)" {
        local before
        before=$(sha256sum <"$CSAND")
        # With a pid namespace the monitor has no pid inside: only the
        # sandbox's own processes are in /proc. Pid 1's exe is csand's, as
        # bwrap's is bwrap's, and can't be written while it runs.
        run csand "${sec_root[@]}" --dev /dev --unshare-pid --proc /proc sh -c '
                for d in /proc/[0-9]*; do echo "$d $(readlink $d/exe 2>/dev/null || echo closed)"; done
                echo x >/proc/1/exe 2>/dev/null || echo write-refused'
        assert_success
        assert_line "/proc/1 $(readlink -f "$CSAND")"
        # only pid 1 runs csand: the monitor is not there
        [ "$(grep -c "$(basename "$CSAND")" <<<"$output")" -eq 1 ]
        assert_line write-refused
        assert_equal "$(sha256sum <"$CSAND")" "$before"
}

@test "no fd of csand's own reaches the command, whatever the features" {
        # "fds the variant uses|options"
        local v extra variants=(
                "|"
                "|--unshare-all --dev /dev --new-session --die-with-parent"
                "5 6|--info-fd 5 --json-status-fd 6"
                "7 8 9|--file 7 /f --ro-bind-data 8 /g --args 9"
                "6|--lock-file /probe/probe.py --sync-fd 6"
                "|--seccomp-profile default"
                "|--overlay-src /usr --tmp-overlay /usr"
                "|--overlay-driver fuse --overlay-src /usr --tmp-overlay /usr"
                "|--network slirp4netns"
                "|--network pasta"
        )
        printf -- '--setenv\0FROM_ARGS\0yes\0' >"$TESTDIR/args"
        for v in "${variants[@]}"; do
                extra=${v#*|}
                # shellcheck disable=SC2086
                run keepfds "${v%%|*}" "$CSAND" "${sec_root[@]}" --unshare-pid --proc /proc $extra python3 /probe/probe.py fds \
                        5>"$TESTDIR/info" 6>"$TESTDIR/status" 7<"$TESTDIR/args" 8<"$TESTDIR/args" 9<"$TESTDIR/args"
                echo "variant: $extra"
                assert_success
                assert_output ""
        done
}

@test "an fd the caller passes on purpose is the only one the command sees" {
        run keepfds 4 "$CSAND" "${sec_root[@]}" --unshare-pid --proc /proc python3 /probe/probe.py fds 4<"$TESTDIR/ro/file"
        assert_success
        assert_output "fd 4 -> $TESTDIR/ro/file"
}
