#!/usr/bin/env bats
# Namespaces seen from outside: --unshare-user/--uid/--gid, -ipc, -uts, -net,
# -pid, -cgroup, --unshare-all, --share-net, the -try forms, --hostname.

load ../lib/common

setup() {
        common_setup
        require_userns
}

# ns_inside OPTIONS...: prints "name ns:[inode]" for every namespace of the
# command, read through the host's /proc bound into the sandbox.
ns_inside() {
        csand_min --ro-bind /proc /proc "$@" -- sh -c '
                for n in user mnt ipc uts net pid cgroup; do
                        echo "$n $(readlink /proc/self/ns/$n)"
                done'
}

# The test's own namespaces, in the same format.
ns_outside() {
        local n
        for n in user mnt ipc uts net pid cgroup; do
                echo "$n $(readlink /proc/self/ns/$n)"
        done
}

# assert_ns_differ "LIST": the namespaces in LIST differ inside, all others
# are the host's. Setuid without user namespaces: the user namespace is
# always the host's.
assert_ns_differ() {
        local want=" $1 " outside n id_in id_out
        if nouserns_mode; then
                want=${want/ user / }
        fi
        outside=$(ns_outside)
        for n in user mnt ipc uts net pid cgroup; do
                id_in=$(sed -n "s/^$n //p" <<<"$output")
                id_out=$(sed -n "s/^$n //p" <<<"$outside")
                [ -n "$id_in" ] || fail "no $n namespace read inside: $output"
                if [[ "$want" == *" $n "* ]]; then
                        [ "$id_in" != "$id_out" ] || fail "$n namespace is the host's ($id_in)"
                else
                        [ "$id_in" = "$id_out" ] || fail "$n namespace differs ($id_in vs $id_out) but was not asked for"
                fi
        done
}

@test "unprivileged, a user and a mount namespace always (the user namespace is implied)" {
        require_unprivileged "root needs no user namespace"
        run ns_inside
        assert_success
        assert_ns_differ "user mnt"
}

@test "--unshare-user: own user namespace, the caller's ids by default" {
        if nouserns_mode; then
                run --separate-stderr csand_min --unshare-user true
                assert_needs_userns --unshare-user
                return
        fi
        run ns_inside --unshare-user
        assert_success
        assert_ns_differ "user mnt"
        run csand_min --unshare-user -- sh -c 'id -u; id -g'
        assert_success
        assert_line --index 0 "$(id -u)"
        assert_line --index 1 "$(id -g)"
}

@test "--unshare-user --uid --gid: the ids inside" {
        if nouserns_mode; then
                run --separate-stderr csand_min --unshare-user --uid 1234 --gid 5678 true
                assert_needs_userns --unshare-user
                return
        fi
        run csand_min --unshare-user --uid 1234 --gid 5678 -- sh -c 'id -u; id -g'
        assert_success
        assert_line --index 0 1234
        assert_line --index 1 5678
        run csand_min --unshare-user --uid 0 --gid 0 -- sh -c 'id -u; id -g'
        assert_success
        assert_line --index 0 0
        assert_line --index 1 0
}

@test "--uid/--gid map to the caller: the uid map inside" {
        if nouserns_mode; then
                run --separate-stderr csand_min --unshare-user-try --uid 0 true
                assert_needs_userns --uid
                return
        fi
        run csand_min --ro-bind /proc /proc --unshare-user --uid 0 --gid 0 -- sh -c 'cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/setgroups'
        assert_success
        assert_line --index 0 --regexp "^ +0 +$(id -u) +1$"
        assert_line --index 1 --regexp "^ +0 +$(id -g) +1$"
        assert_line --index 2 deny
}

@test "files created through --bind as --uid 0 belong to the caller on the host" {
        if nouserns_mode; then
                run --separate-stderr csand_min --unshare-all --gid 0 true
                assert_needs_userns --gid
                return
        fi
        mkdir -p "$TESTDIR/data"
        run csand_min --unshare-user --uid 0 --gid 0 --bind "$TESTDIR/data" /data -- sh -c '
                touch /data/made-by-root && stat -c "%u %g" /data/made-by-root'
        assert_success
        assert_output "0 0"
        assert_equal "$(stat -c '%u %g' "$TESTDIR/data/made-by-root")" "$(id -u) $(id -g)"
}

@test "unmapped host ids (root's files) show as the overflow id inside" {
        if nouserns_mode; then
                run --separate-stderr csand_min --unshare-user-try --uid 0 true
                assert_needs_userns --uid
                return
        fi
        require_unprivileged "root's own id is mapped"
        [ "$(stat -c %u /usr/bin)" = 0 ] || fail "/usr/bin is not owned by root here"
        run csand_min --unshare-user --uid 0 -- stat -c %u /usr/bin
        assert_success
        assert_output "$(cat /proc/sys/kernel/overflowuid)"
}

@test "--unshare-ipc: only the IPC namespace changes (besides user and mount)" {
        require_unprivileged
        run ns_inside --unshare-ipc
        assert_success
        assert_ns_differ "user mnt ipc"
}

@test "--unshare-uts: only the UTS namespace changes" {
        require_unprivileged
        run ns_inside --unshare-uts
        assert_success
        assert_ns_differ "user mnt uts"
}

@test "--unshare-net: only the network namespace changes" {
        require_unprivileged
        run ns_inside --unshare-net
        assert_success
        assert_ns_differ "user mnt net"
}

@test "--unshare-cgroup: only the cgroup namespace changes" {
        require_unprivileged
        require_feature "cgroup namespaces" test -e /proc/self/ns/cgroup
        run ns_inside --unshare-cgroup
        assert_success
        assert_ns_differ "user mnt cgroup"
}

@test "--unshare-pid: own pid namespace, the command is pid 2 under csand's init" {
        require_unprivileged
        # /proc/self/ns/pid is the namespace a process was born in: read it
        # for the command through a procfs of the new namespace
        run csand_min --unshare-pid --proc /proc -- sh -c 'echo "pid $$"; readlink /proc/self/ns/pid; cat /proc/1/comm'
        assert_success
        assert_line --index 0 "pid 2"
        [ "${lines[1]}" != "$(readlink /proc/self/ns/pid)" ] || fail "pid namespace is the host's"
        assert_line --index 2 csand
        # with bwrap's nested user namespace (--dev), whose stand-in also
        # took a pid: still 2
        run csand_min --unshare-pid --proc /proc --dev /dev -- sh -c 'echo "pid $$"'
        assert_success
        assert_output "pid 2"
}

@test "--unshare-net: only lo, and it is up" {
        run csand_min --unshare-net -- ip -o link show
        assert_success
        assert_equal "${#lines[@]}" 1
        assert_line --index 0 --regexp '^1: lo: <LOOPBACK,UP,LOWER_UP>'
        run csand_min --unshare-net -- ip -o addr show dev lo
        assert_success
        assert_output --partial "inet 127.0.0.1/8"
}

@test "--unshare-net: the loopback works (a TCP connection to 127.0.0.1)" {
        run csand_min --unshare-net -- python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
c.sendall(b"ping"); print(a.recv(4).decode())'
        assert_success
        assert_output ping
}

@test "without --unshare-net the host's interfaces are visible" {
        local host_links
        host_links=$(ip -o link show | wc -l)
        run csand_min -- ip -o link show
        assert_success
        assert_equal "${#lines[@]}" "$host_links"
}

@test "--unshare-cgroup: the cgroup paths inside are relative to the sandbox" {
        require_feature "cgroup namespaces" test -e /proc/self/ns/cgroup
        run csand_min --ro-bind /proc /proc --unshare-cgroup -- cat /proc/self/cgroup
        assert_success
        # every hierarchy's path is the namespace root
        local bad
        bad=$(awk -F: '$3 != "/"' <<<"$output")
        assert_equal "$bad" ""
}

@test "--unshare-all: every namespace" {
        run csand_min --unshare-all --proc /proc -- sh -c '
                for n in user mnt ipc uts net pid cgroup; do echo "$n $(readlink /proc/self/ns/$n)"; done'
        assert_success
        assert_ns_differ "user mnt ipc uts net pid cgroup"
}

@test "--unshare-all --share-net: every namespace but the network" {
        run csand_min --unshare-all --share-net --proc /proc -- sh -c '
                for n in user mnt ipc uts net pid cgroup; do echo "$n $(readlink /proc/self/ns/$n)"; done'
        assert_success
        assert_ns_differ "user mnt ipc uts pid cgroup"
}

@test "--unshare-user-try: a user namespace when the kernel allows it" {
        if nouserns_mode; then
                run --separate-stderr csand_min --unshare-user-try --uid 0 true
                assert_needs_userns --uid
                return
        fi
        run csand_min --ro-bind /proc /proc --unshare-user-try --uid 0 -- sh -c 'id -u; readlink /proc/self/ns/user'
        assert_success
        assert_line --index 0 0
        [ "${lines[1]}" != "$(readlink /proc/self/ns/user)" ] || fail "user namespace is the host's"
}

@test "--unshare-cgroup-try: a cgroup namespace when the kernel has them" {
        require_feature "cgroup namespaces" test -e /proc/self/ns/cgroup
        run csand_min --ro-bind /proc /proc --unshare-cgroup-try -- readlink /proc/self/ns/cgroup
        assert_success
        [ "$output" != "$(readlink /proc/self/ns/cgroup)" ] || fail "cgroup namespace is the host's"
}

@test "--hostname: set inside, the host's name unchanged" {
        local before after
        before=$(uname -n)
        run csand_min --unshare-uts --hostname csand-box-name -- sh -c 'hostname; uname -n'
        assert_success
        assert_line --index 0 csand-box-name
        assert_line --index 1 csand-box-name
        after=$(uname -n)
        assert_equal "$after" "$before"
        [ "$before" != csand-box-name ]
}

@test "--unshare-uts without --hostname keeps the host's name, in a namespace of its own" {
        run csand_min --unshare-uts -- uname -n
        assert_success
        assert_output "$(uname -n)"
}

@test "--hostname with --unshare-all" {
        run csand_min --unshare-all --hostname other-name -- hostname
        assert_success
        assert_output other-name
        [ "$(uname -n)" != other-name ]
}

@test "--unshare-ipc: System V IPC objects of the host are not visible" {
        # a shared memory segment created on the host side of the test
        local id
        id=$(python3 -c '
import ctypes
libc = ctypes.CDLL(None)
print(libc.shmget(0, 4096, 0o1600))')
        [ "$id" -ge 0 ] || fail "could not create a SysV shm segment on the host"
        run csand_min --ro-bind /proc /proc --unshare-ipc -- cat /proc/sysvipc/shm
        local inside=$output
        run csand_min --ro-bind /proc /proc -- cat /proc/sysvipc/shm
        local shared=$output
        ipcrm -m "$id"
        [[ "$shared" == *" $id "* ]] || fail "control: the segment $id is not visible without --unshare-ipc"
        [[ "$inside" != *" $id "* ]] || fail "the host's segment $id is visible with --unshare-ipc"
}
