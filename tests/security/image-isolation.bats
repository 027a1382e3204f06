#!/usr/bin/env bats
# --image isolates as a container engine does (issue 15 item 8), attacked
# from inside an image sandbox run from outside as a user would: the host's
# loopback, a host IPC object, the caller's terminal and process group, a
# syscall the default seccomp profile blocks, outliving csand's parent.
# Each attack succeeds on ecefb83 (the image shared all of these); each
# default has a test of the option that undoes it.

load ../lib/common
load ../lib/image

setup_file() {
        img_build_standard "$BATS_FILE_TMPDIR/oci" '{"Cmd":["true"]}' latest
        export IMG="$BATS_FILE_TMPDIR/oci"
}

setup() {
        common_setup
        require_userns
        export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache"
        TRY=$CSAND_BUILD_DIR/tests/try-syscall
        [ -x "$TRY" ] || fail "$TRY is missing: build the try-syscall target"
        # try-syscall and the libraries it links, into the busybox image
        try_binds=(--ro-bind "$TRY" /try-syscall)
        local lib
        for lib in $(ldd "$TRY" | grep -o '/[^ ]*'); do
                try_binds+=(--ro-bind "$lib" "$lib")
        done
        HOST_PIDS=() IPC_IDS=()
}

teardown() {
        local pid id
        for pid in "${HOST_PIDS[@]}"; do
                kill -KILL "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        done
        for id in "${IPC_IDS[@]}"; do
                ipcrm -m "$id" 2>/dev/null || true
        done
        kill_leftover_processes
        chmod -R u+rwx "$BATS_TEST_TMPDIR" 2>/dev/null || true
        common_teardown
}

# A TCP server on the host's 127.0.0.1 that answers "reached"; its port in $PORT.
start_loopback_server() {
        python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"reached\n")
    c.close()
' >"$BATS_TEST_TMPDIR/port" 3>&- &
        HOST_PIDS+=($!)
        wait_for_file "$BATS_TEST_TMPDIR/port"
        for _ in $(seq 100); do
                PORT=$(cat "$BATS_TEST_TMPDIR/port")
                [ -n "$PORT" ] && return 0
                sleep 0.1
        done
        fail "the loopback server did not start"
}

# Connects from the sandbox to 127.0.0.1:$PORT and to the default gateway
# (user-mode networking's way to the host) on the same port.
reach_host='
        busybox nc -w 5 127.0.0.1 $0 </dev/null || echo "127.0.0.1: no"
        gw=$(busybox ip route 2>/dev/null | busybox awk "/^default/ {print \$3}")
        [ -z "$gw" ] || busybox nc -w 5 "$gw" $0 </dev/null || echo "gateway: no"'

@test "image: the host's loopback services are out of reach" {
        start_loopback_server
        run csand --image "$IMG" sh -c "$reach_host" "$PORT"
        assert_success
        refute_output --partial reached
        assert_line "127.0.0.1: no"
}

@test "image: --share-net and --network host keep the caller's network" {
        start_loopback_server
        for opt in --share-net "--network host"; do
                run csand --image "$IMG" $opt sh -c "$reach_host" "$PORT"
                assert_success
                assert_line reached
        done
}

@test "image: the network is user-mode (pasta, else slirp4netns), --network none and --unshare-net loopback only" {
        local links='busybox ip -o link | busybox awk "{print \$2}" | busybox tr -d : | busybox sort | busybox tr "\n" " "'
        run csand --image "$IMG" --info-fd 4 sh -c "$links" 4>"$BATS_TEST_TMPDIR/info"
        assert_success
        run cat "$BATS_TEST_TMPDIR/info" - <<<"$output"
        if command -v pasta >/dev/null || command -v slirp4netns >/dev/null; then
                assert_output --regexp '"network": "(pasta|slirp4netns)"'
                assert_output --regexp '(eth0|tap0) lo'
        else
                assert_output --partial '"network": "none"'
        fi
        for opt in "--network none" --unshare-net; do
                run csand --image "$IMG" $opt sh -c "$links"
                assert_success
                assert_output "lo "
        done
}

@test "image: a host IPC object is not visible; --unshare-ipc is the default" {
        local id
        id=$(ipcmk -M 4096 | grep -o '[0-9]*$')
        IPC_IDS+=("$id")
        grep -qw "$id" /proc/sysvipc/shm || fail "ipcmk made no segment"
        run csand --image "$IMG" sh -c 'busybox awk "NR > 1 {print \$2}" /proc/sysvipc/shm; echo end'
        assert_success
        assert_line end
        refute_line "$id"
        run csand --image "$IMG" --share-ipc sh -c 'busybox awk "NR > 1 {print \$2}" /proc/sysvipc/shm; echo end'
        assert_success
        assert_line "$id"
}

@test "image: every namespace is new; --share-ipc, -pid, -uts, -cgroup keep the caller's" {
        local ns="ipc pid uts cgroup" host="" n
        [ -e /proc/self/ns/cgroup ] || ns="ipc pid uts"
        for n in $ns; do host+="$(readlink /proc/self/ns/$n) "; done
        local show='for n in $0; do printf "%s " $(readlink /proc/self/ns/$n); done; hostname'
        run csand --image "$IMG" sh -c "$show" "$ns"
        assert_success
        for n in $ns; do refute_output --partial "$(readlink /proc/self/ns/$n)"; done
        run csand --image "$IMG" $(printf -- '--share-%s ' $ns) sh -c "$show" "$ns"
        assert_success
        assert_output "$host$(hostname)"
        # a later --unshare-X wins, as with --share-net
        run csand --image "$IMG" --share-ipc --unshare-ipc sh -c "$show" ipc
        assert_success
        refute_output --partial "$(readlink /proc/self/ns/ipc)"
}

@test "image: kill 0 inside does not reach the caller's process group" {
        # setsid: a process group of the test's own, with a host process in it
        run setsid bash -c '
                sleep 60 & victim=$!
                "$CSAND" --image "$IMG" sh -c "kill -KILL 0" 
                kill -0 $victim 2>/dev/null && echo victim-alive || echo victim-dead
                kill $victim'
        assert_line victim-alive
}

@test "image: TIOCSTI cannot inject into the caller's terminal; --no-new-session keeps the session" {
        require_feature "legacy TIOCSTI (dev.tty.legacy_tiocsti=1)" grep -qx 1 /proc/sys/dev/tty/legacy_tiocsti
        # the host's python and probe.py in the busybox image
        local env="CSAND_TEST_TOKEN=$CSAND_TOKEN TMPDIR=$CSAND_TMPDIR XDG_CACHE_HOME=$XDG_CACHE_HOME"
        local py="--ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --ro-bind $BATS_TEST_DIRNAME /probe"
        local probe="python3 /probe/probe.py tiocsti 0 'echo pwned
'"
        run python3 "$BATS_TEST_DIRNAME/pty-run.py" "$env $CSAND --image $IMG $py $probe"
        assert_success
        assert_line --partial "tiocsti: errno=EPERM"
        assert_line CLEAN
        refute_output --partial INJECTED
        # the control: in the caller's session, unconfined, it injects
        run python3 "$BATS_TEST_DIRNAME/pty-run.py" \
                "$env $CSAND --image $IMG --no-new-session --seccomp-profile unconfined $py $probe"
        assert_success
        assert_line --partial "INJECTED:"
}

@test "image: the default seccomp profile blocks what Docker's blocks; --seccomp-profile unconfined or another undoes it" {
        run csand --image "$IMG" "${try_binds[@]}" sh -c 'grep ^Seccomp: /proc/self/status; /try-syscall add_key; /try-syscall unshare-user'
        assert_success
        assert_line --regexp "^Seccomp:.*2"
        assert_line "add_key: errno=EPERM (Operation not permitted)"
        assert_line --regexp "^unshare-user: errno=EPERM"
        run csand --image "$IMG" --seccomp-profile unconfined "${try_binds[@]}" sh -c 'grep ^Seccomp: /proc/self/status; /try-syscall add_key'
        assert_success
        assert_line --regexp "^Seccomp:.*0"
        refute_line --partial "add_key: errno=EPERM"
        run csand --image "$IMG" --seccomp-profile desktop "${try_binds[@]}" /try-syscall add_key
        assert_success
        assert_output "add_key: errno=EPERM (Operation not permitted)"
}

@test "image: the command dies with csand's parent; --no-die-with-parent lets it live" {
        local opt pid d=$BATS_TEST_TMPDIR
        for opt in "" --no-die-with-parent; do
                rm -f "$d/ready" "$d/go" "$d/alive"
                # bash is csand's parent, killed once the command runs; the
                # command then answers once "go" appears
                bash -c 'exec 3>&-; "$CSAND" --image "$IMG" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" $0 --bind "$1" /out \
                        sh -c "echo ready >/out/ready; until test -e /out/go; do sleep 0.1; done; echo alive >/out/alive" & wait' \
                        "$opt" "$d" >"$d/log" 2>&1 &
                pid=$!
                HOST_PIDS+=("$pid")
                wait_for_file "$d/ready" || fail "$(cat "$d/log")"
                kill -KILL "$pid"
                wait "$pid" 2>/dev/null || true
                if [ -z "$opt" ]; then
                        assert_no_leftover_processes
                else
                        touch "$d/go"
                        wait_for_file "$d/alive" || fail "--no-die-with-parent: the sandbox died with csand's parent"
                        assert_no_leftover_processes
                fi
        done
}

@test "image: --image X --as-pid-1 runs, its command as pid 1" {
        run csand --image "$IMG" --as-pid-1 sh -c 'echo $$'
        assert_success
        assert_output 1
}
