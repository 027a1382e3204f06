#!/usr/bin/env bats
# io_uring around a seccomp profile (issue 15, item 5). seccomp sees
# io_uring_setup and io_uring_enter, never the operations queued in the
# ring: IORING_OP_SOCKET made an AF_VSOCK socket under the desktop profile
# while socket(2) got EAFNOSUPPORT. The shipped profiles now close io_uring
# (ENOSYS, so that programs fall back to epoll); every family a profile
# refuses is tried through a ring.
#
# try-syscall uring-socket-FAMILY makes the socket with IORING_OP_SOCKET
# (raw syscalls) and prints "uring-socket-FAMILY: ok" or the errno of the
# first step that failed.

load ../lib/common

setup() {
        common_setup
        require_userns
        TRY=$CSAND_BUILD_DIR/tests/try-syscall
        [ -x "$TRY" ] || fail "$TRY is missing: build the try-syscall target"
        export CSAND_SECCOMP_PROFILE_DIR=$CSAND_SOURCE_DIR/seccomp-profiles
        export XDG_CACHE_HOME=$BATS_TEST_TMPDIR/cache
}

# probe PROFILE [CSAND OPTION...] -- PROBE...: each PROBE's line, from one
# sandbox under PROFILE ("" for none).
probe() {
        local profile=$1 opts=()
        shift
        while [ "$1" != -- ]; do
                opts+=("$1")
                shift
        done
        shift
        [ -n "$profile" ] && opts+=(--seccomp-profile "$profile")
        csand_min "${opts[@]}" --ro-bind "$TRY" /try-syscall -- \
                sh -c 'for p; do /try-syscall "$p"; done' sh "$@"
}

# The families desktop refuses: all but AF_UNIX (1), AF_INET (2), AF_INET6
# (10), AF_NETLINK (16), up to past AF_MAX (46 in Linux 6.x), and one far out.
desktop_refused_families() {
        local f
        for f in 0 $(seq 3 9) $(seq 11 15) $(seq 17 50) 255; do
                echo "$f"
        done
}

@test "io_uring: the kernel makes AF_VSOCK and AF_PACKET sockets through a ring (control, no profile)" {
        run probe "" -- uring-socket-vsock socket-vsock uring-socket-unix
        assert_success
        assert_output "uring-socket-vsock: ok
socket-vsock: ok
uring-socket-unix: ok"
        # AF_PACKET needs CAP_NET_RAW, held in a network namespace of our own
        run probe "" --unshare-net --cap-add CAP_NET_RAW -- uring-socket-packet
        assert_success
        assert_output "uring-socket-packet: ok"
}

@test "io_uring: desktop refuses AF_VSOCK through a ring as through socket()" {
        run probe desktop -- socket-vsock uring-socket-vsock
        assert_success
        assert_line --index 0 --regexp "^socket-vsock: errno=EAFNOSUPPORT "
        assert_line --index 1 --regexp "^uring-socket-vsock: errno=ENOSYS "
}

@test "io_uring: desktop refuses AF_PACKET through a ring, CAP_NET_RAW held" {
        run probe desktop --unshare-net --cap-add CAP_NET_RAW -- socket-packet uring-socket-packet
        assert_success
        assert_line --index 0 --regexp "^socket-packet: errno=EAFNOSUPPORT "
        assert_line --index 1 --regexp "^uring-socket-packet: errno=ENOSYS "
}

@test "io_uring: desktop, every refused family through a ring gets ENOSYS (io_uring is closed)" {
        local probes=() f
        for f in $(desktop_refused_families); do
                probes+=("uring-socket-$f")
        done
        run probe desktop --unshare-net --cap-add ALL -- "${probes[@]}"
        assert_success
        [ "${#lines[@]}" -eq "${#probes[@]}" ] || fail "expected ${#probes[@]} lines: $output"
        for f in $(desktop_refused_families); do
                assert_line --regexp "^uring-socket-$f: errno=ENOSYS "
        done
        # io_uring_enter (426 on every architecture) on an inherited ring
        # would bypass the filter as well: refused on its own
        run csand_min --seccomp-profile desktop --ro-bind "$TRY" /try-syscall -- /try-syscall syscall 426
        assert_success
        assert_output --regexp "^syscall: errno=ENOSYS "
        run csand_min --ro-bind "$TRY" /try-syscall -- /try-syscall syscall 426
        refute_output --regexp "errno=ENOSYS"
}

@test "io_uring: default closes io_uring too, for every family" {
        local probes=() f
        for f in $(seq 0 50); do
                probes+=("uring-socket-$f")
        done
        run probe default --unshare-net -- "${probes[@]}"
        assert_success
        for f in $(seq 0 50); do
                assert_line --regexp "^uring-socket-$f: errno=ENOSYS "
        done
}
