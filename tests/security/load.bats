#!/usr/bin/env bats
# Load and faults (issue 10), bounded, this machine only: many sandboxes in
# a row and at once, SIGKILL of csand at random points, signal forwarding,
# a full tmpfs.  Afterwards nothing may be left: processes (teardown, by the
# test's token, and the helpers by ancestry), mounts, temp files.

load ../lib/common

setup() {
        common_setup
        require_userns
        TRACKED=()
}

teardown() {
        local pid
        for pid in "${TRACKED[@]}"; do
                kill -KILL "$pid" 2>/dev/null || true
        done
        common_teardown
}

# All descendants of PID (children first found through /proc/*/stat).
descendants() {
        python3 - "$1" <<'PY'
import os, sys
kids = {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open(f"/proc/{p}/stat") as f:
            st = f.read()
    except OSError:
        continue
    ppid = int(st[st.rindex(")") + 2:].split()[1])
    kids.setdefault(ppid, []).append(int(p))
todo, out = [int(sys.argv[1])], []
while todo:
    for k in kids.get(todo.pop(), []):
        out.append(k); todo.append(k)
print(" ".join(map(str, out)))
PY
}

alive() {
        local state
        state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
        [ -n "$state" ] && [ "$state" != Z ]
}

# Waits up to ~10 s for every pid given to be gone; prints the survivors.
wait_all_gone() {
        local i pid left
        for ((i = 0; i < 100; i++)); do
                left=
                for pid in "$@"; do
                        alive "$pid" && left+="$pid "
                done
                [ -z "$left" ] && return 0
                sleep 0.1
        done
        for pid in $left; do
                echo "survivor $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
        done
        return 1
}

@test "1,000 sandboxes in a row all succeed and leave nothing behind" {
        local i failed=0 fds_before fds_after
        fds_before=$(ls /proc/$$/fd | sort -n | paste -sd' ')
        for ((i = 0; i < 1000; i++)); do
                csand_min --unshare-pid true || failed=$((failed + 1))
        done
        fds_after=$(ls /proc/$$/fd | sort -n | paste -sd' ')
        echo "# 1000 sequential sandboxes: $failed failed" >&3
        assert_equal "$failed" 0
        [ "$fds_after" = "$fds_before" ] || ls -l /proc/$$/fd
        assert_equal "$fds_after" "$fds_before"
}

@test "50 sandboxes in parallel all succeed and leave nothing behind" {
        local i pids=() failed=0
        for ((i = 0; i < 50; i++)); do
                csand_min --unshare-pid --proc /proc --unshare-net --tmpfs /tmp \
                        sh -c 'echo x >/tmp/x && sleep 0.5 && cat /tmp/x' >"$TESTDIR/out.$i" 2>&1 &
                pids+=($!)
        done
        for i in "${!pids[@]}"; do
                wait "${pids[$i]}" || failed=$((failed + 1))
                [ "$(cat "$TESTDIR/out.$i")" = x ] || failed=$((failed + 1))
        done
        echo "# 50 parallel sandboxes: $failed failed" >&3
        assert_equal "$failed" 0
}

# kill_at_random_points OPTIONS...: starts csand --die-with-parent with
# OPTIONS five times and SIGKILLs the monitor after a random 0-300 ms
# (during start-up or while the command runs); every process csand had
# started (found by ancestry just before the kill) must die.
kill_at_random_points() {
        local round pid delay kids
        for ((round = 0; round < 5; round++)); do
                TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                        "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" \
                        --die-with-parent "$@" sleep 100 &
                pid=$!
                delay=$((RANDOM % 300))
                sleep "$(printf '0.%03d' "$delay")"
                kids=$(descendants "$pid")
                TRACKED+=($kids)
                kill -KILL "$pid"
                wait "$pid" || true
                # shellcheck disable=SC2086
                wait_all_gone $kids || fail "round $round, killed after ${delay} ms: processes survived csand"
        done
}

@test "SIGKILL of csand at random points: pid namespace" {
        kill_at_random_points --unshare-pid --proc /proc
}

@test "SIGKILL of csand at random points: no pid namespace" {
        kill_at_random_points
}

@test "SIGKILL of csand at random points: fuse-overlayfs overlay" {
        require_feature "fuse-overlayfs" command -v fuse-overlayfs
        kill_at_random_points --unshare-pid --overlay-driver fuse --overlay-src /usr --tmp-overlay /usr
}

@test "SIGKILL of csand at random points: slirp4netns" {
        require_feature "slirp4netns" command -v slirp4netns
        kill_at_random_points --unshare-pid --network slirp4netns
}

@test "SIGKILL of csand at random points: pasta" {
        require_feature "pasta" command -v pasta
        kill_at_random_points --unshare-pid --network pasta
}

@test "SIGKILL of csand without --die-with-parent: once the command ends, the helpers go too" {
        # Without --die-with-parent the command outlives csand, as with
        # bwrap (it was not asked to die), and keeps what it runs on (the
        # fuse-overlayfs daemon serves its /usr).  When it ends, every
        # process csand started must be gone.
        local opts pid kids k cmd
        for opts in "--overlay-driver fuse --overlay-src /usr --tmp-overlay /usr" "--network slirp4netns" "--network pasta"; do
                # shellcheck disable=SC2086
                TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                        "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" \
                        --unshare-pid $opts sleep 100 &
                pid=$!
                sleep 0.5
                kids=$(descendants "$pid")
                TRACKED+=($kids)
                grep -qxE 'fuse-overlayfs|slirp4netns|(pasta|passt)(\.avx2)?' $(printf '/proc/%s/comm ' $kids) ||
                        fail "$opts: no helper process found"
                kill -KILL "$pid"
                wait "$pid" || true
                sleep 0.2
                cmd=
                for k in $kids; do
                        [ "$(cat "/proc/$k/comm" 2>/dev/null)" = sleep ] && cmd=$k
                done
                [ -z "$cmd" ] || kill -TERM "$cmd"
                # shellcheck disable=SC2086
                wait_all_gone $kids || fail "$opts: processes survived the sandbox"
        done
}

# Starts csand in the background with SIGINT/SIGTERM at their defaults (a
# non-interactive shell's background jobs ignore SIGINT), the command
# exiting 40+N on signal N.
start_signal_target() {
        python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' env TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" \
                --bind "$TESTDIR" /w "$@" python3 -c 'import signal, sys, time
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda n, f: sys.exit(40 + n))
open("/w/ready", "w").close()
time.sleep(60)
sys.exit(99)' &
        SIGNAL_TARGET=$!
        TRACKED+=("$SIGNAL_TARGET")
        rm -f "$TESTDIR/ready"
        local i
        for ((i = 0; i < 200; i++)); do
                [ -e "$TESTDIR/ready" ] && return 0
                sleep 0.05
        done
        fail "the command did not start"
}

@test "SIGTERM and SIGINT to csand reach the command, whose exit status comes back" {
        local opts sig status
        for opts in "" "--unshare-pid" "--unshare-pid --as-pid-1"; do
                for sig in TERM INT; do
                        # shellcheck disable=SC2086
                        start_signal_target $opts
                        kill -$sig "$SIGNAL_TARGET"
                        status=0
                        wait "$SIGNAL_TARGET" || status=$?
                        echo "$opts SIG$sig: exit $status"
                        assert_equal "$status" $((40 + $(kill -l $sig)))
                done
        done
}

@test "tmpfs --size exhausted inside: ENOSPC in the sandbox, the host untouched" {
        run csand_min --size 1048576 --tmpfs /t python3 -c 'import errno, os
n = 0
try:
    with open("/t/fill", "wb") as f:
        while n < 64 << 20:
            f.write(b"x" * 65536); f.flush(); n += 65536
except OSError as e:
    print("errno=" + errno.errorcode[e.errno], "after", n // 1024, "KiB")'
        assert_success
        assert_output --regexp "^errno=ENOSPC after (9[0-9][0-9]|10[0-2][0-9]) KiB$"
        # the data went to the sandbox's own tmpfs, nowhere on the host
        # (a df comparison is meaningless on a machine shared with other jobs)
        run find "$TESTDIR" "$CSAND_TMPDIR" "$CSAND_RUNTIME_DIR" -name fill
        assert_output ""
        run csand_min --size 1048576 --tmpfs /t stat -f -c %T /t
        assert_output tmpfs
}
