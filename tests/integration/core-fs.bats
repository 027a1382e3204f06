#!/usr/bin/env bats
# Filesystem operations that create things: --proc --dev --tmpfs --mqueue
# --dir --symlink --chmod (and --perms/--size, which modify the next one).

load ../lib/common

setup() {
        common_setup
        require_userns
}

# --- --proc -----------------------------------------------------------------

@test "--proc with --unshare-pid: ps sees only the sandbox" {
        # a host process with a unique command line
        local unique="998.$$$RANDOM$RANDOM"
        sleep "$unique" 3>&- &
        local host_pid=$!
        # control: through the host's /proc (no pid namespace) it is visible
        run csand_min --ro-bind /proc /proc -- ps ax -o pid=,args=
        local control=$output
        run csand_min --unshare-pid --proc /proc -- ps ax -o pid=,args=
        kill "$host_pid" 2>/dev/null || true
        wait "$host_pid" 2>/dev/null || true
        [[ "$control" == *"sleep $unique"* ]] || fail "control: the host's sleep is not visible without a pid namespace"
        assert_success
        refute_output --partial "sleep $unique"
        # pid 1 (csand's init), the command, and nothing else
        local pids
        pids=$(awk '{ print $1 }' <<<"$output" | sort -n | tr '\n' ' ')
        assert_equal "$pids" "1 2 "
        assert_line --regexp '^ *2 ps ax'
}

@test "--proc: /proc lists only the sandbox's pids" {
        run csand_min --unshare-pid --proc /proc -- sh -c 'cd /proc && echo [0-9]*'
        assert_success
        assert_output "1 2"
}

@test "--proc: /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus are read-only" {
        run csand_min --unshare-pid --proc /proc -- sh -c '
                (echo x > /proc/sys/kernel/hostname) 2>&1
                if [ -e /proc/sysrq-trigger ]; then (echo x > /proc/sysrq-trigger) 2>&1; fi
                cat /proc/self/mountinfo'
        assert_success
        assert_line --partial "/proc/sys/kernel/hostname: Read-only file system"
        if [ -e /proc/sysrq-trigger ]; then
                assert_line --partial "/proc/sysrq-trigger: Read-only file system"
        fi
        local mp opts
        for mp in /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus; do
                [ -e "$mp" ] || continue
                opts=$(mount_options_of "$mp" "$output")
                [[ "$opts" == ro,* ]] || fail "$mp is not mounted read-only: '$opts'"
        done
        opts=$(mount_options_of /proc "$output")
        [[ ",$opts," == *,rw,* && ",$opts," == *,nosuid,* && ",$opts," == *,nodev,* && ",$opts," == *,noexec,* ]] ||
                fail "/proc options: $opts"
}

@test "--proc elsewhere than /proc" {
        run csand_min --unshare-pid --proc /myproc -- cat /myproc/1/comm
        assert_success
        assert_output csand
}

# --- --dev ------------------------------------------------------------------

@test "--dev: the device nodes exist and work" {
        run csand_min --unshare-pid --proc /proc --dev /dev -- sh -c '
                for n in null zero full random urandom tty; do
                        [ -c /dev/$n ] && echo "char $n"
                done
                echo discard > /dev/null && echo null-writable
                echo "zero $(head -c 16 /dev/zero | od -An -tx1 | tr -d " ")"
                echo "urandom $(head -c 16 /dev/urandom | wc -c)"
                echo "random $(head -c 16 /dev/random | wc -c)"
                dd if=/dev/zero of=/dev/full bs=1 count=1 2>&1 || true'
        assert_success
        local n
        for n in null zero full random urandom tty; do
                assert_line "char $n"
        done
        assert_line null-writable
        assert_line "zero 00000000000000000000000000000000"
        assert_line "urandom 16"
        assert_line "random 16"
        assert_line --partial "No space left on device"
}

@test "--dev: fd, stdin, stdout, stderr links" {
        run csand_min --unshare-pid --proc /proc --dev /dev -- sh -c '
                for l in fd stdin stdout stderr; do echo "$l -> $(readlink /dev/$l)"; done
                echo via-stdout > /dev/stdout
                echo via-stderr > /dev/stderr
                ls /dev/fd/ >/dev/null && echo fd-dir-ok'
        assert_success
        assert_line "fd -> /proc/self/fd"
        assert_line "stdin -> /proc/self/fd/0"
        assert_line "stdout -> /proc/self/fd/1"
        assert_line "stderr -> /proc/self/fd/2"
        assert_line via-stdout
        assert_line via-stderr
        assert_line fd-dir-ok
}

@test "--dev: /dev/shm is a writable sticky directory" {
        run csand_min --unshare-pid --proc /proc --dev /dev -- sh -c '
                stat -c %a /dev/shm; echo data > /dev/shm/f && cat /dev/shm/f'
        assert_success
        assert_line --index 0 1777
        assert_line --index 1 data
}

@test "--dev: a private devpts, with a working /dev/ptmx" {
        local host_pts
        host_pts=$(stat -c %d /dev/pts)
        run csand_min --unshare-pid --proc /proc --dev /dev -- sh -c '
                echo "pts-dev $(stat -c %d /dev/pts)"
                echo "ptmx -> $(readlink /dev/ptmx)"
                echo "before: $(ls /dev/pts | tr "\n" " ")"
                python3 -c "
import os
m, s = os.openpty()
print(\"tty\", os.ttyname(s))
print(\"during:\", \" \".join(sorted(os.listdir(\"/dev/pts\"))))
"'
        assert_success
        assert_line "ptmx -> pts/ptmx"
        # a fresh instance: only its own ptmx, and our pty is number 0
        assert_line "before: ptmx "
        assert_line "tty /dev/pts/0"
        assert_line "during: 0 ptmx"
        local inside_pts
        inside_pts=$(sed -n 's/^pts-dev //p' <<<"$output")
        [ "$inside_pts" != "$host_pts" ] || fail "/dev/pts inside is the host's devpts (st_dev $host_pts)"
}

@test "--dev: nothing but the minimal set of nodes" {
        run csand_min --unshare-pid --proc /proc --dev /dev -- sh -c 'cd /dev && echo *'
        assert_success
        local entry
        for entry in $output; do
                case "$entry" in
                null | zero | full | random | urandom | tty | console | fd | stdin | stdout | stderr | core | ptmx | pts | shm) ;;
                *) fail "unexpected /dev entry: $entry" ;;
                esac
        done
        # the host has many more; none of its disks
        [[ " $output " != *" vda "* && " $output " != *" sda "* ]] || fail "a host disk is visible: $output"
}

# --- --tmpfs ------------------------------------------------------------------

@test "--tmpfs: writable, and gone after the sandbox" {
        mkdir -p "$TESTDIR/host"
        run csand_min --bind "$TESTDIR/host" /host --tmpfs /host/t -- sh -c '
                echo data > /host/t/f && cat /host/t/f
                stat -f -c %T /host/t'
        assert_success
        assert_line --index 0 data
        assert_line --index 1 tmpfs
        # the mount point was created on the host, the file never reached it
        [ -d "$TESTDIR/host/t" ]
        [ ! -e "$TESTDIR/host/t/f" ]
        # and a second sandbox starts empty
        run csand_min --tmpfs /t -- sh -c 'ls -A /t | wc -l'
        assert_output 0
}

@test "--tmpfs: default mode 0755, --perms sets it" {
        run csand_min --tmpfs /a --perms 0700 --tmpfs /b --perms 01777 --tmpfs /c -- stat -c '%n %a' /a /b /c
        assert_success
        assert_line "/a 755"
        assert_line "/b 700"
        assert_line "/c 1777"
}

@test "--tmpfs: --size limits it (ENOSPC)" {
        run csand_min --dev /dev --size 256k --tmpfs /t -- sh -c '
                dd if=/dev/zero of=/t/f bs=64k count=16 2>&1
                echo "size $(stat -c %s /t/f)"'
        assert_output --partial "No space left on device"
        local size
        size=$(sed -n 's/^size //p' <<<"$output")
        [ -n "$size" ] && [ "$size" -le 262144 ] || fail "wrote $size bytes into a 256k tmpfs"
        # without --size the same write succeeds
        run csand_min --dev /dev --tmpfs /t -- dd if=/dev/zero of=/t/f bs=64k count=16 status=none
        assert_success
}

@test "--tmpfs: nosuid and nodev" {
        run csand_min --ro-bind /proc /proc --tmpfs /t -- cat /proc/self/mountinfo
        assert_success
        local opts
        opts=$(mount_options_of /t "$output")
        [[ ",$opts," == *,nosuid,* && ",$opts," == *,nodev,* && ",$opts," == *,rw,* ]] || fail "/t: $opts"
}

# --- --mqueue -----------------------------------------------------------------

@test "--mqueue with --unshare-ipc: a POSIX message queue of the sandbox's own" {
        run csand_min --unshare-ipc --mqueue /dev/mqueue -- sh -c '
                stat -f -c %T /dev/mqueue
                python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mq_open.restype = ctypes.c_int
fd = libc.mq_open(b\"/csand-test-q\", os.O_CREAT | os.O_RDWR, 0o600, None)
print(\"mq_open\", \"ok\" if fd >= 0 else os.strerror(ctypes.get_errno()))
"
                ls /dev/mqueue'
        assert_success
        assert_line --index 0 mqueue
        assert_line "mq_open ok"
        assert_line csand-test-q
        # not in the host's IPC namespace
        if [ -d /dev/mqueue ] && [ "$(stat -f -c %T /dev/mqueue)" = mqueue ]; then
                [ ! -e /dev/mqueue/csand-test-q ] || fail "the queue leaked into the host's IPC namespace"
        fi
}

@test "--mqueue without --unshare-ipc fails as bwrap's does, when it is mounted" {
        # the kernel refuses a mqueue mount for the caller's IPC namespace
        # Setuid without user namespaces: root's privilege covers the
        # caller's IPC namespace; the queues shown are the ones the command
        # can open anyway, in a mount of the sandbox's only.
        if nouserns_mode; then
                run csand_min --mqueue /dev/mqueue -- stat -f -c %T /dev/mqueue
                assert_success
                assert_output mqueue
                return
        fi
        run --separate-stderr csand_min --mqueue /dev/mqueue -- true
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        assert_equal "${stderr_lines[0]}" "csand: Can't mount mqueue on /newroot/dev/mqueue: Operation not permitted"
}

# --- --dir, --symlink, --chmod ----------------------------------------------------

@test "--dir: creates the directory and its parents, 0755 by default" {
        run csand_min --dir /a/b/c -- stat -c '%n %a %F' /a /a/b /a/b/c
        assert_success
        assert_line "/a 755 directory"
        assert_line "/a/b 755 directory"
        assert_line "/a/b/c 755 directory"
}

@test "--dir with --perms" {
        run csand_min --perms 0700 --dir /private --perms 01777 --dir /sticky --dir /plain -- \
                stat -c '%n %a' /private /sticky /plain
        assert_success
        assert_line "/private 700"
        assert_line "/sticky 1777"
        assert_line "/plain 755"
}

@test "--dir through a --bind creates the directory on the host" {
        mkdir -p "$TESTDIR/host"
        run csand_min --bind "$TESTDIR/host" /host --perms 0750 --dir /host/made -- true
        assert_success
        [ -d "$TESTDIR/host/made" ]
        assert_equal "$(stat -c %a "$TESTDIR/host/made")" 750
}

@test "--symlink: creates a symlink with the given target" {
        run csand_min --symlink /some/where /link --symlink relative /dir/rel -- sh -c 'readlink /link; readlink /dir/rel'
        assert_success
        assert_line --index 0 /some/where
        assert_line --index 1 relative
}

@test "--symlink: the same link twice is fine" {
        run csand_min --symlink usr/bin /bin -- sh -c 'readlink /bin'
        assert_success
        assert_output usr/bin
        run csand_min --tmpfs /t --symlink a /t/l --symlink a /t/l -- readlink /t/l
        assert_success
        assert_output a
}

@test "--symlink: a different existing link or a file at the destination is an error naming the path" {
        run --separate-stderr csand_min --tmpfs /t --symlink a /t/l --symlink b /t/l -- true
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        [[ "${stderr_lines[0]}" == "csand: "*"/t/l"* ]] || fail "message: ${stderr_lines[0]}"

        run --separate-stderr csand_min --dir /t/d --symlink a /t/d -- true
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        [[ "${stderr_lines[0]}" == "csand: "*"/t/d"* ]] || fail "message: ${stderr_lines[0]}"
}

@test "--chmod changes the mode of an existing path" {
        run csand_min --dir /d --chmod 0700 /d --tmpfs /t --chmod 1777 /t -- stat -c '%n %a' /d /t
        assert_success
        assert_line "/d 700"
        assert_line "/t 1777"
}

@test "--chmod through a --bind changes the host file" {
        echo x >"$TESTDIR/file"
        chmod 0644 "$TESTDIR/file"
        run csand_min --bind "$TESTDIR/file" /file --chmod 0600 /file -- stat -c %a /file
        assert_success
        assert_output 600
        assert_equal "$(stat -c %a "$TESTDIR/file")" 600
}

@test "--chmod of a missing path is an error naming it" {
        run --separate-stderr csand_min --chmod 0700 /nonexistent -- true
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        [[ "${stderr_lines[0]}" == "csand: "*"/nonexistent"* ]] || fail "message: ${stderr_lines[0]}"
}

@test "--dir onto a symlink that leads in circles succeeds, as bwrap's mkdir() meets EEXIST" {
        run csand_min --symlink loop /loop --dir /loop -- readlink /loop
        assert_success
        assert_output loop
}
