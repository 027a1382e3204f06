#!/usr/bin/env bats
# bwrap's own behaviour, side by side (issue 14): the same command line runs
# under the distribution's bwrap (Debian's 0.8, the reference for what 0.8
# already does) and under csand, and what a user observes must agree.
# Behaviour bwrap 0.8 lacks (0.9-0.11) is checked against bwrap 0.11's
# source and manual, and says so.

load ../lib/common

BWRAP=${CSAND_TEST_BWRAP:-/usr/bin/bwrap}

require_bwrap() {
        require_feature "bwrap, the reference (package bubblewrap)" test -x "$BWRAP"
}

setup() {
        common_setup
        fd_redirs=()
}

# run_one BINARY ARGS...: BINARY with the minimal root and ARGS, its exit
# status, stdout and stderr kept in $TESTDIR/NAME.{rc,out,err} (NAME: bwrap
# or csand), bwrap's "bwrap: " prefix spelled "csand: ". The test's token
# goes into both sandboxes, so that teardown finds what either left behind.
# fd_redirs=(N< FILE N<> FILE ...): fds opened afresh for each run (a fd
# both ran with would reach the second one read to its end). Under a
# timeout: a hang is a failure, not a stuck test.
run_one() {
        local bin=$1 name
        shift
        name=$([ "$bin" = "$BWRAP" ] && echo bwrap || echo csand)
        local rc=0 redirs="" i
        for ((i = 0; i < ${#fd_redirs[@]}; i += 2)); do
                redirs+=" ${fd_redirs[i]}\"\${fd_redirs[$((i + 1))]}\""
        done
        # (redirections on the command itself: bats closes fds that
        # `exec N<FILE` opens)
        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" eval 'timeout -k 5 60 \
                "$bin" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" "$@"' \
                "$redirs" '>"$TESTDIR/$name.out" 2>"$TESTDIR/$name.err"' || rc=$?
        echo "$rc" >"$TESTDIR/$name.rc"
        sed -i 's/^bwrap: /csand: /' "$TESTDIR/$name.err"
}

# run_both ARGS...: the same command line under bwrap and csand.
run_both() {
        run_one "$BWRAP" "$@"
        run_one "$CSAND" "$@"
}

# assert_same WHAT...: bwrap's and csand's rc, out and/or err are equal.
assert_same() {
        local what
        for what in "$@"; do
                if ! cmp -s "$TESTDIR/bwrap.$what" "$TESTDIR/csand.$what"; then
                        echo "bwrap and csand differ in $what:"
                        diff -u "$TESTDIR/bwrap.$what" "$TESTDIR/csand.$what" || true
                        fail "$what differs from bwrap's"
                fi
        done
}

# --- --json-status-fd, --info-fd (item 6) -------------------------------------

# The status fd's content, normalised: each line must be one JSON object
# (JSON lines); printed as its members' names with the values that don't
# vary between runs (exit-code), without csand's own additions (network,
# published-ports, after bwrap's members).
json_status_shape() {
        python3 - "$1" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
assert text == "" or text.endswith("\n"), "the last object does not end its line"
for line in text.splitlines():
    obj = json.loads(line)          # one object per line, whole
    assert isinstance(obj, dict), line
    shown = []
    for k, v in obj.items():
        if k in ("network", "published-ports"):
            continue
        shown.append(f"{k}={v}" if k == "exit-code" else k)
    print(" ".join(shown))
PY
}

@test "--json-status-fd: JSON lines, and an exit code only for a command that ran, as bwrap" {
        require_bwrap
        local args
        # ran (with and without pid 1), setup failure, exec failure (with and
        # without pid 1), every namespace
        for args in "--unshare-pid sh -c 'exit 3'" "sh -c 'kill -KILL \$\$'" \
                "--bind /nonexistent-csand-src /x true" "/nonexistent-csand-cmd" \
                "--unshare-pid /nonexistent-csand-cmd" "--unshare-all --as-pid-1 true"; do
                eval "set -- $args"
                run_one "$BWRAP" --json-status-fd 3 "$@" 3>"$TESTDIR/bwrap.status"
                run_one "$CSAND" --json-status-fd 3 "$@" 3>"$TESTDIR/csand.status"
                assert_same rc err
                json_status_shape "$TESTDIR/bwrap.status" >"$TESTDIR/bwrap.shape"
                json_status_shape "$TESTDIR/csand.status" >"$TESTDIR/csand.shape" ||
                        fail "csand's status for '$args' is not JSON lines: $(cat "$TESTDIR/csand.status")"
                echo "$args: $(paste -sd'|' "$TESTDIR/csand.shape")"
                assert_same shape
        done
}

@test "--info-fd/--json-status-fd with a setup failure: bwrap's error and ids, every time" {
        require_bwrap
        # The child fails within a millisecond: csand's monitor used to die of
        # SIGPIPE at the gate (exit 141, no message) and to miss the ids of
        # the child that was gone (about one run in eight here).
        run_one "$BWRAP" --json-status-fd 3 --bind /nonexistent-csand-src /x true 3>"$TESTDIR/bwrap.status"
        json_status_shape "$TESTDIR/bwrap.status" >"$TESTDIR/bwrap.shape"
        local i
        for ((i = 0; i < 40; i++)); do
                run_one "$CSAND" --json-status-fd 3 --bind /nonexistent-csand-src /x true 3>"$TESTDIR/csand.status"
                assert_same rc err
                json_status_shape "$TESTDIR/csand.status" >"$TESTDIR/csand.shape"
                assert_same shape
        done
}

@test "--info-fd: the members bwrap writes, in its layout" {
        require_bwrap
        run_one "$BWRAP" --unshare-all --info-fd 3 true 3>"$TESTDIR/bwrap.info"
        run_one "$CSAND" --unshare-all --info-fd 3 true 3>"$TESTDIR/csand.info"
        assert_same rc err
        # one object over several lines: the members' names, in order, with
        # csand's own (after bwrap's) left out
        local f
        for f in bwrap csand; do
                python3 -c 'import json, sys
o = json.load(open(sys.argv[1]))
print(" ".join(k for k in o if k not in ("network", "published-ports")))' "$TESTDIR/$f.info" >"$TESTDIR/$f.keys"
                sed -E 's/[0-9]+/N/g; /"network"/d' "$TESTDIR/$f.info" | sed -E '$!s/N,?$/N/' >"$TESTDIR/$f.layout"
        done
        cat "$TESTDIR/csand.keys"
        assert_same keys layout
}

# --- --perms, --size (item 7) -------------------------------------------------

@test "--perms: the parent directories an op creates get bwrap's modes" {
        require_bwrap
        local f
        for f in a b c d; do printf '%s\n' "$f" >"$TESTDIR/$f"; done
        fd_redirs=(3\< "$TESTDIR/a" 4\< "$TESTDIR/b" 5\< "$TESTDIR/c" 6\< "$TESTDIR/d")
        # parents: 0755 less the group bits if the mode has none, less the
        # other bits if it has none; --bind-data's default mode is 0600
        run_both --perms 0700 --tmpfs /root-private \
                --bind-data 3 /a/b/f --perms 0640 --file 4 /c/d/f --perms 0704 --dir /e/f/g \
                --perms 0700 --tmpfs /h/i/j --perms 0 --bind-data 5 /k/l/f --perms 0070 --dir /m/n/o \
                --perms 0755 --dir /p/q --file 6 /r/s \
                sh -c 'stat -c "%n %a" /a /a/b /a/b/f /c /c/d /c/d/f /e /e/f /e/f/g /h /h/i /h/i/j /k /k/l \
                /m /m/n /m/n/o /p /r /r/s; cat /a/b/f /c/d/f /r/s'
        cat "$TESTDIR/csand.out"
        assert_same rc out err
        assert_equal "$(cat "$TESTDIR/csand.rc")" 0
}

@test "--perms: with --tmpfs / the root takes the mode, as in bwrap" {
        require_bwrap
        # (--tmpfs / comes first: it hides what is mounted before it)
        run_one "$BWRAP" --perms 0750 --tmpfs / "${csand_min_root[@]}" --perms 0700 --dir /x/y stat -c '%n %a' / /x /x/y
        run_one "$CSAND" --perms 0750 --tmpfs / "${csand_min_root[@]}" --perms 0700 --dir /x/y stat -c '%n %a' / /x /x/y
        cat "$TESTDIR/csand.out"
        assert_same rc out err
}

@test "--perms or --size twice for one operation, --size above 2^63-1: bwrap's errors" {
        require_bwrap
        local args
        for args in "--perms 0700 --perms 0700 --dir /d" "--size 4096 --size 8192 --tmpfs /t" \
                "--perms 0700 --size 4096 --perms 0755 --tmpfs /t" "--size 4096 --perms 0700 --size 4096 --tmpfs /t" \
                "--size 9223372036854775808 --tmpfs /t" "--size 18446744073709551615 --tmpfs /t"; do
                # shellcheck disable=SC2086
                run_both $args true
                echo "$args: $(cat "$TESTDIR/csand.err")"
                assert_same rc err
                assert_equal "$(cat "$TESTDIR/csand.rc")" 1
        done
        # the limit itself is allowed, and one --perms and one --size per op
        run_both --size 9223372036854775807 --tmpfs /t --perms 0700 --size 4096 --tmpfs /u \
                --perms 0750 --dir /d stat -c '%n %a' /t /u /d
        assert_same rc out err
        assert_equal "$(cat "$TESTDIR/csand.rc")" 0
}

# --- seccomp (item 8) -------------------------------------------------------

require_x86_64() {
        [ "$(uname -m)" = x86_64 ] || skip "the test's BPF programs are for x86_64"
}

# write_deny_filter FILE NR...: a classic BPF program (as bwrap takes it)
# that fails the x86_64 syscalls NR... with EPERM and allows the rest.
write_deny_filter() {
        python3 - "$@" <<'PY'
import struct, sys
def insn(code, jt, jf, k): return struct.pack('HBBI', code, jt, jf, k)
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
ALLOW, EPERM = 0x7fff0000, 0x00050000 | 1
nrs = [int(n) for n in sys.argv[2:]]
prog = insn(LD_W_ABS, 0, 0, 4) + insn(JEQ_K, 0, len(nrs) + 1, 0xc000003e)   # arch, else allow
prog += insn(LD_W_ABS, 0, 0, 0)                                            # syscall nr
for i, nr in enumerate(nrs):   # jump to the EPERM return, after the allow
    prog += insn(JEQ_K, len(nrs) - i, 0, nr)
prog += insn(RET_K, 0, 0, ALLOW) + insn(RET_K, 0, 0, EPERM)
open(sys.argv[1], 'wb').write(prog)
PY
}

# x86_64 syscall numbers
NR_sendto=44 NR_sendmsg=46 NR_uname=63 NR_seccomp=317
NR_rt_sigprocmask=14 NR_clone=56 NR_fork=57 NR_vfork=58 NR_umask=95 NR_prctl=157 NR_clone3=435

@test "--seccomp with --add-seccomp-fd: refused before any program is read, as bwrap" {
        require_bwrap
        require_x86_64
        write_deny_filter "$TESTDIR/uname.bpf" $NR_uname
        # fd 10: a FIFO we hold open for writing too, so reading it never
        # ends: whoever reads it before refusing hangs (the timeout)
        mkfifo "$TESTDIR/fifo"
        fd_redirs=(10\<\> "$TESTDIR/fifo" 11\< "$TESTDIR/uname.bpf")
        local args
        for args in "--seccomp 10 --add-seccomp-fd 11" "--add-seccomp-fd 11 --seccomp 10" \
                "--seccomp 10 --seccomp 11"; do
                # shellcheck disable=SC2086
                run_both $args sh -c 'uname >/dev/null 2>&1 || echo uname-refused'
                echo "$args: $(cat "$TESTDIR/csand.rc") $(cat "$TESTDIR/csand.out" "$TESTDIR/csand.err")"
                assert_same rc out err
        done
}

@test "--add-seccomp-fd: a program that blocks seccomp(2) but not prctl doesn't stop the next, as in bwrap" {
        require_bwrap
        require_x86_64
        write_deny_filter "$TESTDIR/no-seccomp.bpf" $NR_seccomp
        write_deny_filter "$TESTDIR/uname.bpf" $NR_uname
        fd_redirs=(10\< "$TESTDIR/no-seccomp.bpf" 11\< "$TESTDIR/uname.bpf")
        run_both --add-seccomp-fd 10 --add-seccomp-fd 11 sh -c 'uname >/dev/null 2>&1 || echo uname-refused'
        cat "$TESTDIR/csand.out" "$TESTDIR/csand.err"
        assert_same rc out err
        assert_equal "$(cat "$TESTDIR/csand.out")" "uname-refused"
        # and with pid 1
        run_both --unshare-pid --add-seccomp-fd 10 --add-seccomp-fd 11 sh -c 'uname >/dev/null 2>&1 || echo uname-refused'
        assert_same rc out err
}

@test "seccomp: an exec failure is still reported when the program blocks send(), as bwrap's" {
        require_bwrap
        require_x86_64
        write_deny_filter "$TESTDIR/no-send.bpf" $NR_sendto $NR_sendmsg
        fd_redirs=(10\< "$TESTDIR/no-send.bpf")
        local pid1
        for pid1 in "" --unshare-pid; do
                # shellcheck disable=SC2086
                run_both $pid1 --add-seccomp-fd 10 /nonexistent-csand-cmd
                cat "$TESTDIR/csand.err"
                assert_same rc out err
                # shellcheck disable=SC2086
                run_both $pid1 --seccomp 10 /nonexistent-csand-cmd
                assert_same rc out err
        done
}

# csand's pid 1 may load the filters first and start the command with
# vfork (it then inherits them, loaded once); bwrap's pid 1 forks first,
# and its command calls umask, sigprocmask and prctl(PR_SET_PDEATHSIG)
# before it loads them. A program that refuses any of those, or the fork
# itself, must find bwrap's order.
@test "seccomp: a program that refuses vfork, fork and clone, umask, sigprocmask or prctl starts the command as bwrap's" {
        require_bwrap
        require_x86_64
        local deny pid1
        for deny in "$NR_vfork $NR_fork $NR_clone $NR_clone3" "$NR_umask" "$NR_rt_sigprocmask" "$NR_prctl"; do
                # shellcheck disable=SC2086
                write_deny_filter "$TESTDIR/deny.bpf" $deny
                fd_redirs=(10\< "$TESTDIR/deny.bpf")
                for pid1 in "" --unshare-pid; do
                        # shellcheck disable=SC2086
                        (umask 027 && run_both $pid1 --ro-bind /proc /proc --die-with-parent --add-seccomp-fd 10 \
                                grep -E '^(Umask|SigBlk|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status)
                        echo "[$deny] [$pid1]"
                        cat "$TESTDIR/csand.out" "$TESTDIR/csand.err"
                        assert_same rc out err
                        grep -q '^Umask:.*0027$' "$TESTDIR/csand.out" || fail "the caller's umask is lost"
                        grep -q '^Seccomp_filters:.*1$' "$TESTDIR/csand.out" || fail "not one filter"
                done
        done
}

# --- bwrap 0.11.1, which --version names (item 10) ---------------------------

@test "a caller that ignores SIGCHLD: the command's exit status comes back (bwrap 0.11.1)" {
        # bwrap 0.11.1 resets SIGCHLD to SIG_DFL (NEWS: #705, Erlang,
        # volumeicon): ignored, the kernel reaps the children itself and
        # whoever waits for them waits forever. (bwrap 0.8 hangs here.)
        local pid1
        for pid1 in "" --unshare-pid; do
                # shellcheck disable=SC2086
                run timeout -k 5 60 python3 -c 'import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
os.execvp(sys.argv[1], sys.argv[1:])' "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" $pid1 \
                        sh -c 'sleep 0 & wait; exit 3'
                assert_failure 3
        done
}

# --- what the command leaves running ------------------------------------------

# Whether a process of this test's (by its token) runs `sleep`, and then,
# once that sleep is killed, whether everything of the test ends: pid 1
# reaps it and exits. Prints "left: sleep" or "left: nothing".
leftover_sleep() {
        local pid found=nothing
        for pid in $(csand_token_pids); do
                [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] && found=sleep && kill "$pid"
        done
        echo "left: $found"
}

# bwrap's monitor returns as soon as its pid 1 reports the command's exit
# status; pid 1 goes on reaping what the command left running until none
# is left (bubblewrap.c, monitor_child() and do_init()), or dies with the
# monitor under --die-with-parent, taking the pid namespace with it. The
# command leaves a sleep (its output not csand's) and exits 3: right
# after either returns, that sleep still runs; killed, nothing is left
# (assert_no_leftover_processes: pid 1 exited once it had reaped it).
@test "with a pid namespace, what the command leaves running goes on after csand returns its status, as with bwrap" {
        require_bwrap
        require_userns
        local dwp bin name
        for dwp in "" --die-with-parent; do
                for bin in "$BWRAP" "$CSAND"; do
                        name=$([ "$bin" = "$BWRAP" ] && echo bwrap || echo csand)
                        # shellcheck disable=SC2086
                        run_one "$bin" --dev /dev --unshare-pid $dwp -- \
                                sh -c 'sleep 60 </dev/null >/dev/null 2>&1 & exit 3'
                        # with --die-with-parent pid 1 gets its SIGKILL as the monitor exits
                        [ -z "$dwp" ] || poll_until 100 no_token_pids || true
                        leftover_sleep >>"$TESTDIR/$name.out"
                        assert_no_leftover_processes
                done
                echo "[$dwp] bwrap: $(cat "$TESTDIR/bwrap.rc") $(cat "$TESTDIR/bwrap.out")"
                assert_same rc out err
                run cat "$TESTDIR/csand.rc" "$TESTDIR/csand.out"
                assert_output "3
left: $([ -z "$dwp" ] && echo sleep || echo nothing)"
        done
}

# Host pid of this test's process whose pid in its namespace is NSPID and
# whose name is COMM (by the token; "" if none).
token_pid_by_nspid() {
        local pid
        for pid in $(csand_token_pids); do
                [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || continue
                [ "$(sed -n 's/^NSpid:.*[[:space:]]\([0-9]*\)$/\1/p' "/proc/$pid/status" 2>/dev/null)" = "$1" ] && echo "$pid"
        done
}

# Once the command is gone, its pid may be another process's: a signal
# the sandbox's pid 1 gets then is passed on to nobody (bwrap's pid 1 has
# no handler: from outside only SIGKILL and SIGSTOP reach it). The
# command's leftover waits until the command (pid 2) is reaped and starts
# a sleep as pid 2 (clone3() with set_tid: it has CAP_SYS_ADMIN in the
# user namespace that owns the pid namespace); a SIGTERM to pid 1 must
# leave that sleep alone.
@test "a signal to pid 1 after the command is gone reaches no process that took the command's pid, as with bwrap" {
        require_bwrap
        require_userns
        local bin name pid1 sleeper
        cat >"$TESTDIR/leftover.py" <<'PY'
import ctypes, os, struct, time
while os.path.exists("/proc/2"):
    time.sleep(0.05)
libc = ctypes.CDLL(None, use_errno=True)
tid = (ctypes.c_int * 1)(2)
args = ctypes.create_string_buffer(struct.pack("11Q", 0, 0, 0, 0, 17, 0, 0, 0, ctypes.addressof(tid), 1, 0), 88)
pid = libc.syscall(435, args, 88)  # clone3
if pid == 0:
    os.execvp("sleep", ["sleep", "60"])
if pid > 0:
    os.waitpid(pid, 0)
PY
        for bin in "$BWRAP" "$CSAND"; do
                name=$([ "$bin" = "$BWRAP" ] && echo bwrap || echo csand)
                run_one "$bin" --dev-bind /dev/null /dev/null --proc /proc --unshare-pid --cap-add CAP_SYS_ADMIN \
                        --ro-bind "$TESTDIR/leftover.py" /leftover.py -- \
                        sh -c 'python3 /leftover.py </dev/null >/dev/null 2>&1 & exit 3'
                poll_until 100 eval '[ -n "$(token_pid_by_nspid 2 sleep)" ]' || fail "[$name] no sleep took pid 2"
                sleeper=$(token_pid_by_nspid 2 sleep)
                pid1=$(token_pid_by_nspid 1 "$name")
                [ -n "$pid1" ] || fail "[$name] no pid 1"
                kill -TERM "$pid1"
                sleep 0.5
                if kill -0 "$sleeper" 2>/dev/null; then echo "left: sleep" >>"$TESTDIR/$name.out"; fi
                kill_leftover_processes
                assert_no_leftover_processes
        done
        assert_same rc out err
        run cat "$TESTDIR/csand.rc" "$TESTDIR/csand.out"
        assert_output "3
left: sleep"
}

# --- uid/gid maps (item 14) ---------------------------------------------------

@test "uid/gid maps seen inside are bwrap's: --dev, --uid, --gid, --disable-userns" {
        require_bwrap
        require_unprivileged "the maps of an ordinary user's sandbox"
        require_userns
        # shellcheck disable=SC2016
        local show='echo "uid_map: $(cat /proc/self/uid_map)"; echo "gid_map: $(cat /proc/self/gid_map)"
                echo "setgroups: $(cat /proc/self/setgroups) ids: $(id -u):$(id -g)"
                unshare -U true 2>/dev/null && echo "nested userns: allowed" || echo "nested userns: refused"'
        local args
        for args in "" "--dev /dev" "--uid 0" "--uid 0 --dev /dev" "--gid 0 --dev /dev" \
                "--uid 0 --gid 0 --dev /dev" "--uid 5 --gid 7" "--uid 5 --gid 7 --dev /dev" \
                "--unshare-user --disable-userns" "--unshare-user --disable-userns --dev /dev" \
                "--unshare-user --disable-userns --uid 0 --gid 0" "--unshare-all --dev /dev --uid 0"; do
                # shellcheck disable=SC2086
                run_both --proc /proc --unshare-pid $args sh -c "$show"
                echo "[$args]"
                cat "$TESTDIR/csand.out" "$TESTDIR/csand.err"
                assert_same rc out err
        done
}

@test "uid/gid maps with --userns-block-fd: the caller's, no nested namespace, as bwrap" {
        require_bwrap
        require_unprivileged "the caller writes the child's maps as an ordinary user"
        require_userns
        local bin
        for bin in "$BWRAP" "$CSAND"; do
                run timeout -k 5 60 python3 - "$bin" "${csand_min_root[@]}" <<'PY'
import json, os, subprocess, sys
info_r, info_w = os.pipe()
block_r, block_w = os.pipe()
p = subprocess.Popen([sys.argv[1]] + sys.argv[2:] + ["--unshare-user", "--unshare-pid", "--proc", "/proc", "--dev", "/dev", "--uid", "0",
                      "--info-fd", str(info_w), "--userns-block-fd", str(block_r), "sh", "-c",
                      "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g"],
                     pass_fds=[info_w, block_r], stdout=subprocess.PIPE, text=True)
os.close(info_w)
os.close(block_r)
info = b""
while chunk := os.read(info_r, 65536):    # until the info fd is closed
    info += chunk
child = json.loads(info)["child-pid"]
for name, data in (("setgroups", "deny"), ("uid_map", f"0 {os.getuid()} 1"), ("gid_map", f"0 {os.getgid()} 1")):
    with open(f"/proc/{child}/{name}", "w") as f:
        f.write(data)
os.write(block_w, b"x")
out, _ = p.communicate()
print(" ".join(out.split()), p.returncode)
PY
                echo "$bin: $output"
                printf '%s\n' "$output" >"$TESTDIR/$([ "$bin" = "$BWRAP" ] && echo bwrap || echo csand).out"
        done
        assert_same out
}

@test "--disable-userns with --userns-block-fd: bwrap's error" {
        require_bwrap
        run_both --unshare-user --disable-userns --info-fd 3 --userns-block-fd 4 true 3>/dev/null 4</dev/null
        cat "$TESTDIR/csand.err"
        assert_same rc out err
}

# --- the --info-fd child-pid (item 4) -----------------------------------------

# enter_child BINARY ARGS...: starts BINARY with the minimal root, /proc,
# a tmpfs on /tmp, --unshare-all, --info-fd and ARGS; once the command runs,
# does from outside, as the same user, what flatpak enter and nsenter do
# with the child-pid: readlink /proc/CHILD/root, open /proc/CHILD/ns/*, and
# nsenter through those files; prints what worked.
enter_child() {
        timeout -k 5 60 python3 - "$@" "${csand_min_root[@]}" <<'PY'
import json, os, subprocess, sys
binary, extra, root = sys.argv[1], [], []
args = sys.argv[2:]
i = args.index("--ro-bind")                      # where csand_min_root starts
extra, root = args[:i], args[i:]
info_r, info_w = os.pipe()
ready_r, ready_w = os.pipe()
p = subprocess.Popen([binary] + root + ["--proc", "/proc", "--tmpfs", "/tmp", "--unshare-all",
                      "--info-fd", str(info_w)] + extra +
                     ["sh", "-c", f"echo inside >/tmp/marker; echo ready >&{ready_w}; exec sleep 60"],
                     pass_fds=[info_w, ready_w, 9])
os.close(info_w)
os.close(ready_w)
info = b""
while chunk := os.read(info_r, 4096):
    info += chunk
child = json.loads(info)["child-pid"]
os.read(ready_r, 16)                             # the command runs
try:
    print("root:", os.readlink(f"/proc/{child}/root"))
except OSError as e:
    print("root:", e.strerror)
for ns in ("user", "mnt", "pid", "net", "ipc", "uts"):
    try:
        os.close(os.open(f"/proc/{child}/ns/{ns}", os.O_RDONLY))
        print(f"ns/{ns}: ok")
    except OSError as e:
        print(f"ns/{ns}:", e.strerror)
for nss in (("user", "mnt", "pid"), ("user", "mnt")):
    r = subprocess.run(["nsenter"] + [f"--{'mount' if n == 'mnt' else n}=/proc/{child}/ns/{n}" for n in nss] +
                       ["--preserve-credentials", "--", "sh", "-c", "cat /tmp/marker; test -d /proc/self && echo proc"],
                       capture_output=True, text=True)
    print("nsenter", "+".join(nss), r.returncode, r.stdout.split(), r.stderr.strip())
os.kill(child, 9)           # pid 1: the whole pid namespace goes with it
p.wait()
PY
}

@test "--info-fd's child-pid is reachable as bwrap's: /proc/CHILD/root, /proc/CHILD/ns, nsenter" {
        require_bwrap
        require_unprivileged "joins namespaces as the ordinary user who made them"
        require_userns
        require_x86_64
        write_deny_filter "$TESTDIR/uname.bpf" $NR_uname
        local args bin
        for args in "" "--dev /dev" "--add-seccomp-fd 9" "--cap-add CAP_NET_RAW" "--ro-bind /etc/hostname /lock --lock-file /lock" "--sync-fd 9"; do
                for bin in "$BWRAP" "$CSAND"; do
                        # shellcheck disable=SC2086
                        enter_child "$bin" $args 9<"$TESTDIR/uname.bpf" \
                                >"$TESTDIR/$([ "$bin" = "$BWRAP" ] && echo bwrap || echo csand).out" 2>&1
                done
                echo "[$args]"
                cat "$TESTDIR/csand.out"
                assert_same out
        done
        # not the same failure on both sides: without a nested user
        # namespace, all three are joined and the command's files are there
        run enter_child "$CSAND" 9<"$TESTDIR/uname.bpf"
        assert_line "root: /"
        assert_line "ns/user: ok"
        assert_line "nsenter user+mnt+pid 0 ['inside', 'proc'] "
}

# pid 1 (csand's: it starts the command with vfork, after doing in its own
# process what would write its memory) has the command's working
# directory and environment, as bwrap's does: bwrap changes directory
# before it forks the command off its pid 1.
@test "the sandbox's pid 1 has the command's working directory, as bwrap's" {
        require_bwrap
        local d
        for d in /usr/share /usr/lib; do
                run_both --unshare-pid --proc /proc --chdir "$d" --setenv PID1TEST yes \
                        sh -c 'readlink /proc/1/cwd; echo "$PWD $PID1TEST"'
                assert_same rc out err
                assert_equal "$(cat "$TESTDIR/csand.out")" "$d
$d yes"
        done
}

# The network namespace: csand makes it aside, in its first id-map
# stand-in, while the root is built (sandbox.c, Launch.netns_late), where
# bwrap's clone makes it. The user must not be able to tell: it is a new
# one, owned by the sandbox's first user namespace, so that a capability
# there configures it and one in the nested namespace (--dev) does not.
@test "--unshare-net: the network namespace belongs to the sandbox's user namespace, as bwrap's" {
        require_bwrap
        local extra host_net
        host_net=$(readlink /proc/self/ns/net)
        for extra in "" "--dev /dev" "--uid 0" "--unshare-user --disable-userns"; do
                # shellcheck disable=SC2086 # (the options, word-split)
                run_both --unshare-all $extra --cap-add CAP_NET_ADMIN -- sh -c \
                        'ip link set lo mtu 1000 && ip -o link show | grep -o "^[0-9]*: [a-z]*\|mtu [0-9]*"'
                echo "[$extra]"
                cat "$TESTDIR/csand.out" "$TESTDIR/csand.err"
                assert_same rc out err
        done
        run csand_min --unshare-all --proc /proc -- readlink /proc/self/ns/net
        assert_success
        [ "$output" != "$host_net" ] || fail "the host's network namespace"
}

# The same seen from outside, for the network and IPC namespaces (both made
# aside by csand where nothing needs them at the gate): pid 1's
# namespaces, opened as the user, belong to the sandbox's first user
# namespace (its own with --dev, the parent of the command's), as bwrap's.
ns_owners() {
        local bin=$1
        shift
        python3 - "$bin" "$CSAND_TOKEN" "${csand_min_root[@]}" "$@" <<'PY'
import fcntl, os, subprocess, sys, time
NS_GET_USERNS, NS_GET_PARENT = 0xb701, 0xb702
bin, token, args = sys.argv[1], sys.argv[2], sys.argv[3:]
p = subprocess.Popen([bin, "--setenv", "CSAND_TEST_TOKEN", token] + args +
                     ["--", "sh", "-c", "echo ready; exec sleep 30"], stdout=subprocess.PIPE, text=True)
assert p.stdout.readline() == "ready\n"
def ino(fd):
    return os.fstat(fd).st_ino
cmd = None
# (polling: its environ can't be read while its shell execs the sleep)
for _ in range(200):
    for pid in os.listdir("/proc"):
        try:
            # (only the command's environment has it: --setenv)
            if pid.isdigit() and token.encode() in open(f"/proc/{pid}/environ", "rb").read():
                cmd = int(pid)
        except OSError:
            pass
    if cmd:
        break
    time.sleep(0.05)
assert cmd, "the command's process was not found"
user = os.open(f"/proc/{cmd}/ns/user", os.O_RDONLY)
first = user if "--dev" not in args else fcntl.ioctl(user, NS_GET_PARENT)
for ns in ("net", "ipc"):
    fd = os.open(f"/proc/{cmd}/ns/{ns}", os.O_RDONLY)
    host = os.open(f"/proc/self/ns/{ns}", os.O_RDONLY)
    owner = fcntl.ioctl(fd, NS_GET_USERNS)
    print(ns, "new" if ino(fd) != ino(host) else "host's",
          "owned by the first user namespace" if ino(owner) == ino(first) else "owned elsewhere")
os.kill(cmd, 9)             # the sandbox ends with its command
p.wait()
PY
}

@test "the network and IPC namespaces belong to the sandbox's first user namespace, seen from outside, as bwrap's" {
        require_bwrap
        require_unprivileged "opens the command's namespaces as the user who made them"
        local extra bin
        for extra in "" "--dev /dev"; do
                for bin in "$BWRAP" "$CSAND"; do
                        # shellcheck disable=SC2086
                        ns_owners "$bin" --unshare-all $extra \
                                >"$TESTDIR/$([ "$bin" = "$BWRAP" ] && echo bwrap || echo csand).out" 2>&1
                done
                echo "[$extra]"
                cat "$TESTDIR/csand.out"
                assert_same out
                assert_equal "$(cat "$TESTDIR/csand.out")" "net new owned by the first user namespace
ipc new owned by the first user namespace"
        done
}

# A network namespace the kernel won't make (a limit of 0 set in a user
# namespace of the test's own, above the sandbox's): bwrap's clone fails
# with its message; csand fails later, with the same message, exit 1 and
# nothing left behind.
@test "a network namespace the kernel refuses: bwrap's message, exit status 1" {
        require_bwrap
        local bin name extra
        for extra in "--unshare-user" "--unshare-user --dev /dev" ""; do
                for bin in "$BWRAP" "$CSAND"; do
                        name=$([ "$bin" = "$BWRAP" ] && echo bwrap || echo csand)
                        # shellcheck disable=SC2016,SC2086
                        run --separate-stderr unshare -Ur sh -c \
                                'echo 0 >/proc/sys/user/max_net_namespaces && exec "$@"' sh \
                                "$bin" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" \
                                --unshare-all $extra -- true
                        echo "$status ${stderr/#bwrap: /csand: }" >"$TESTDIR/$name.err"
                done
                echo "[$extra]"
                cat "$TESTDIR/csand.err"
                assert_same err
                assert_equal "$(cat "$TESTDIR/csand.err")" \
                        "1 csand: Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)"
        done
}
