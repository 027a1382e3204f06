#!/usr/bin/env bats
# Escape battery, processes/kernel half (issue 10): pid namespace, signals,
# ptrace, capabilities, devices, /proc and /sys, kernel modules, TIOCSTI,
# abstract UNIX sockets.  Probes: probe.py, pty-run.py, try-syscall.

load ../lib/common

setup() {
        common_setup
        # As root, --cap-add ALL without a user namespace is the host's root:
        # these attacks would succeed against the machine itself.
        require_unprivileged "the attacks run with the host's root otherwise"
        require_userns
        sec_root=("${csand_min_root[@]}" --dev /dev --ro-bind "$BATS_TEST_DIRNAME" /probe
                --ro-bind "$CSAND_BUILD_DIR/tests/try-syscall" /try-syscall)
        HOST_PIDS=()
}

teardown() {
        local pid
        for pid in "${HOST_PIDS[@]}"; do
                kill -KILL "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        done
        common_teardown
}

probe() { echo "python3 /probe/probe.py $*"; }

# A process of the caller's own, outside any sandbox, that must survive.
start_host_sleeper() {
        CSAND_TEST_TOKEN=$CSAND_TOKEN sleep 120 &
        HOST_SLEEPER=$!
        HOST_PIDS+=("$HOST_SLEEPER")
}

@test "pid namespace: only the sandbox's processes are visible" {
        start_host_sleeper
        run csand "${sec_root[@]}" --unshare-pid --proc /proc sh -c 'ls -d /proc/[0-9]* | tr "\n" " "'
        assert_success
        # pid 1 (csand's init), sh, ls, tr: nothing of the host's
        [[ "$output" =~ ^"/proc/1 /proc/2 "("/proc/"[0-9]" ")+$ ]] || fail "unexpected processes: $output"
        refute_output --partial "/proc/$HOST_SLEEPER "
}

# What the command sees of its pid namespace before it starts anything:
# shell builtins only (no fork: a shell reaps any child it waits for, a
# stray's zombie included). Pid 1's children, the pids in /proc, any zombie,
# then the pid of its first child.
PIDNS_VIEW='read -r kids </proc/1/task/1/children || :
echo "pid $$, children of pid 1: [$kids]"
echo /proc/[0-9]*
for f in /proc/[0-9]*/stat; do
        read -r st <"$f" || :
        case $st in *") Z "*) echo "zombie: $st" ;; esac
done
echo "first child: $(read -r st </proc/self/stat; echo "${st%% *}")"'

# The cases: with bwrap's nested user namespace (--dev) and without, with
# csand's pid 1 and --as-pid-1, and
# the command forked (not vforked) by pid 1 (--cap-add).
PIDNS_CASES=("--dev /dev" "" "--dev /dev --cap-add CAP_CHOWN" "--as-pid-1 --dev /dev" "--as-pid-1")

@test "pid namespace: the command sees only its pid 1 and itself, no zombie, its first child next, as with bwrap" {
        local bwrap=${CSAND_TEST_BWRAP:-/usr/bin/bwrap} opts expect
        require_feature "bwrap, the reference (package bubblewrap)" test -x "$bwrap"
        for opts in "${PIDNS_CASES[@]}"; do
                if [[ "$opts" == *--as-pid-1* ]]; then
                        expect="pid 1, children of pid 1: []
/proc/1
first child: 2"
                else
                        expect="pid 2, children of pid 1: [2]
/proc/1 /proc/2
first child: 3"
                fi
                # shellcheck disable=SC2086
                run "$bwrap" "${csand_min_root[@]}" --unshare-pid --proc /proc $opts sh -c "$PIDNS_VIEW"
                echo "bwrap [$opts]: $output"
                assert_success
                assert_output "$expect"
                # shellcheck disable=SC2086
                run csand_min --unshare-pid --proc /proc $opts sh -c "$PIDNS_VIEW"
                echo "csand [$opts]: $output"
                assert_success
                assert_output "$expect"
        done
}

# Whether the command could see a process that is not the sandbox's (an
# id-map stand-in not yet reaped) from inside depends on timing: pid 1
# reaps whatever dies from the moment the command starts, so a check from
# the command finds a stray only when it looks before pid 1 reaps it. What
# does not depend on timing is the order of pid 1's own system calls: the
# command must start only once every process pid 1 made before it has been
# reaped (wait4 returned its pid). strace -ff writes each process's calls
# in its own file, in order. The command starts at pid 1's execve (with
# --as-pid-1) or at its last fork (csand's pid 1 makes nothing after the
# command). Reaping other than by wait4 would show as a stray here: this
# test would then need teaching, and fails rather than passes.
pid1_strays_at_command_start() {
        local dir=$1 pid1
        # (strace --pidns-translation adds "/* N in strace's PID NS */" where
        # the tracee's pid namespace is not strace's: N names the file)
        pid1=$(sed -n 's/^clone(.*CLONE_NEWPID.*) = \([0-9][0-9]*\)\( \/\* \([0-9][0-9]*\) in strace.s PID NS \*\/\)\{0,1\}$/\1 \3/p' \
                "$dir"/trace.* | awk '{ print $NF; exit }')
        [ -n "$pid1" ] || fail "no clone with CLONE_NEWPID in the trace: $(cat "$dir"/trace.*)"
        awk '
                function snapshot(p) { before = made; strays = ""; for (p in live) strays = strays " " p }
                function ret() { match($0, / = [0-9]+/); return substr($0, RSTART + 3, RLENGTH - 3) }
                /^(clone|clone3|fork|vfork)\(/ && / = [0-9]+( \/\*.*\*\/)?$/ { snapshot(); made++; live[ret()] = 1; next }
                /^execve\(/ && / = 0$/ { snapshot(); exit }
                /^wait4\(/ && / = [0-9]+( \/\*.*\*\/)?$/ && !/WIFSTOPPED/ { delete live[ret()] }
                END { printf "made before the command: %d; not reaped when it started:%s\n", before, strays }
        ' "$dir/trace.$pid1"
}

@test "pid namespace: pid 1 starts the command only once every process it made (the id-map stand-ins) is reaped, whatever the timing" {
        require_feature "strace" strace -o /dev/null true
        local opts i=0 bad="" init want
        # Pid 1 makes stand-ins where the premade user namespace can't
        # serve (csand as a pid namespace's init: as_pidns_init): one, two
        # with --dev; else none, the maps being written by the monitor's
        # premaking child before the clone.
        for init in "" pidns-init; do
                local pre=()
                [ -z "$init" ] || pre=(unshare --user --map-current-user --pid --fork --)
                for opts in "${PIDNS_CASES[@]}"; do
                        i=$((i + 1))
                        mkdir "$TESTDIR/t$i"
                        # shellcheck disable=SC2086
                        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                                run strace -ff --pidns-translation -qq -e trace=%process -o "$TESTDIR/t$i/trace" "${pre[@]}" \
                                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" \
                                --unshare-pid --proc /proc $opts true
                        assert_success
                        run pid1_strays_at_command_start "$TESTDIR/t$i"
                        echo "[$init $opts] $output"
                        want=0
                        if [ -n "$init" ]; then
                                want=1
                                [[ "$opts" != *--dev* ]] || want=2
                        fi
                        [ "$output" = "made before the command: $want; not reaped when it started:" ] || bad=1
                done
        done
        [ -z "$bad" ] || fail "pid 1 started the command with a process of its own not yet reaped, or made other than expected (above)"
}

@test "pid namespace: kill -9 -1 inside kills only the sandbox's processes" {
        start_host_sleeper
        run csand "${sec_root[@]}" --unshare-pid --proc /proc sh -c '
                sleep 60 & victim=$!
                kill -9 -1
                sleep 0.2
                kill -0 $victim 2>/dev/null && echo victim-alive || echo victim-dead
                echo caller-alive'
        assert_success
        assert_output "victim-dead
caller-alive"
        kill -0 "$HOST_SLEEPER" || fail "kill -9 -1 inside the sandbox killed a host process"
}

@test "pid namespace: host pids can't be signalled or ptraced (ESRCH)" {
        start_host_sleeper
        run csand "${sec_root[@]}" --unshare-pid --proc /proc sh -c "
                $(probe kill "$HOST_SLEEPER" 9)
                $(probe ptrace "$HOST_SLEEPER")
                $(probe kill "$$" 0)"
        assert_success
        assert_output "kill: errno=ESRCH
ptrace: errno=ESRCH
kill: errno=ESRCH"
        kill -0 "$HOST_SLEEPER"
}

@test "the sandbox's pid 1 (dumpable, as bwrap's) holds no capability or filter the command lacks" {
        # Reachable from outside (flatpak enter, nsenter) means reachable from
        # inside too, as in bwrap: ptrace works. What pid 1 would lend the
        # command: no capability even with --cap-add ALL, no_new_privs, and
        # every seccomp filter the command has.
        local opts
        for opts in "" "--cap-add ALL" "--seccomp-profile default" "--uid 0 --cap-add ALL --seccomp-profile default"; do
                # shellcheck disable=SC2086
                run csand "${sec_root[@]}" --unshare-pid --proc /proc $opts sh -c "
                        $(probe ptrace 1)
                        grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp_filters):' /proc/1/status | tr -d ' \t' | tr '\n' ' '; echo
                        grep '^Seccomp_filters:' /proc/self/status | tr -d ' \t'"
                echo "[$opts] $output"
                assert_success
                # (the default profile refuses ptrace itself)
                if [[ "$opts" == *seccomp-profile* ]]; then
                        assert_line --index 0 "ptrace: errno=EPERM"
                else
                        assert_line --index 0 "ptrace: ok"
                fi
                assert_line --index 1 --regexp "^CapInh:0+ CapPrm:0+ CapEff:0+ CapBnd:0+ CapAmb:0+ NoNewPrivs:1 Seccomp_filters:[0-9]+ \$"
                # the same number of filters as the command's
                [[ "${lines[1]}" == *"${lines[2]} " ]] || fail "pid 1's filters differ from the command's: ${lines[1]} / ${lines[2]}"
        done
}

# Runs a sandbox in the background that waits for $TESTDIR/w/pids, then
# attacks each pid listed there; prints the probes' results.
attack_outside_pids() {
        mkdir -p "$TESTDIR/w"
        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${sec_root[@]}" \
                --bind "$TESTDIR/w" /w --unshare-pid --proc /proc "$@" sh -c '
                for i in $(seq 200); do [ -s /w/pids ] && break; sleep 0.05; done
                for pid in $(cat /w/pids); do
                        python3 /probe/probe.py ptrace $pid
                        python3 /probe/probe.py kill $pid 0
                done >/w/result 2>&1' &
        local csand_pid=$!
        HOST_PIDS+=("$csand_pid")
        echo "$csand_pid" >"$TESTDIR/w/targets"
}

@test "ptrace/kill: the monitor (csand outside) is unreachable from a pid namespace" {
        attack_outside_pids
        cat "$TESTDIR/w/targets" >"$TESTDIR/w/pids"
        wait "${HOST_PIDS[-1]}"
        run cat "$TESTDIR/w/result"
        assert_output "ptrace: errno=ESRCH
kill: errno=ESRCH"
}

@test "ptrace/kill: the fuse-overlayfs daemon is unreachable from a pid namespace" {
        require_feature "fuse-overlayfs" command -v fuse-overlayfs
        attack_outside_pids --overlay-driver fuse --overlay-src /usr --tmp-overlay /usr
        # the daemon (no token in its command line) is the child of csand's
        # overlay supervisor, a child of the monitor: attack both
        local daemon="" supervisor="" pid i
        for ((i = 0; i < 100; i++)); do
                for pid in $(pgrep -u "$(id -u)" -x fuse-overlayfs); do
                        supervisor=$(ps -o ppid= -p "$pid" | tr -d ' ')
                        if grep -qaF "$CSAND_TOKEN" "/proc/$supervisor/cmdline" 2>/dev/null; then
                                daemon=$pid
                                break 2
                        fi
                done
                sleep 0.1
        done
        [ -n "$daemon" ] || fail "no fuse-overlayfs daemon found"
        echo "$daemon $supervisor" >"$TESTDIR/w/pids"
        wait "${HOST_PIDS[-1]}"
        run cat "$TESTDIR/w/result"
        assert_output "ptrace: errno=ESRCH
kill: errno=ESRCH
ptrace: errno=ESRCH
kill: errno=ESRCH"
}

@test "capabilities: none in any set, no_new_privs, also as uid 0 inside" {
        local opts
        for opts in "" "--uid 0 --gid 0" "--unshare-pid --proc /proc"; do
                # shellcheck disable=SC2086
                run csand "${sec_root[@]}" $opts grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)' /proc/self/status
                [ "$opts" = "--unshare-pid --proc /proc" ] || run csand "${sec_root[@]}" --unshare-pid --proc /proc $opts \
                        grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)' /proc/self/status
                assert_success
                assert_output "$(printf '%s:\t0000000000000000\n' CapInh CapPrm CapEff CapBnd CapAmb)
NoNewPrivs:	1"
        done
}

@test "setuid-root binaries of the host don't give root (nosuid, no_new_privs)" {
        run csand "${sec_root[@]}" --ro-bind /etc /etc --unshare-pid --proc /proc sh -c '
                grep " /usr " /proc/self/mountinfo | cut -d" " -f6
                (sleep 2 | passwd >/dev/null 2>&1) &
                sleep 1
                for p in /proc/[0-9]*; do
                        [ "$(cat $p/comm 2>/dev/null)" = passwd ] && grep -E "^(Uid|CapEff)" $p/status
                done
                wait
                su -c "id -u" root </dev/null >/dev/null 2>&1 || echo su-failed'
        assert_success
        assert_line --index 0 --regexp '(^|,)nosuid(,|$)'
        uid=$(id -u)
        assert_line "Uid:	$uid	$uid	$uid	$uid"
        assert_line "CapEff:	0000000000000000"
        assert_line su-failed
}

@test "device nodes can't be created (EPERM), even with --cap-add ALL as uid 0" {
        run csand "${sec_root[@]}" --tmpfs /tmp $(probe mknod /tmp/null)
        assert_success
        assert_output "mknod: errno=EPERM"
        run csand "${sec_root[@]}" --tmpfs /tmp --uid 0 --cap-add ALL $(probe mknod /tmp/null)
        assert_success
        assert_output "mknod: errno=EPERM"
}

@test "/proc/sys, /proc/sysrq-trigger and /sys can't be written, even with --cap-add ALL as uid 0" {
        local printk
        printk=$(cat /proc/sys/kernel/printk)
        run csand "${sec_root[@]}" --unshare-pid --proc /proc --ro-bind /sys /sys sh -c "
                $(probe write /proc/sys/kernel/printk 1)
                $(probe write /proc/sys/vm/drop_caches 3)
                $(probe write /proc/sysrq-trigger h)
                $(probe write /sys/kernel/mm/transparent_hugepage/enabled never)
                $(probe remount-rw /proc/sys)"
        assert_success
        assert_line --index 0 "write: errno=EROFS"
        assert_line --index 1 "write: errno=EROFS"
        # (procfs in a user namespace has no sysrq-trigger)
        assert_line --index 2 --regexp "^write: errno=(EACCES|ENOENT|EROFS)$"
        assert_line --index 3 --regexp "^write: errno=(EROFS|ENOENT)$"
        assert_line --index 4 "remount-rw: errno=EPERM"

        # With every capability of the user namespace that owns csand's
        # mounts (uid and gid 0 with --dev: no nested namespace, as in
        # bwrap) the command may undo csand's read-only /proc/sys (see
        # SECURITY.md), but the files are the host root's: still EACCES.
        run csand "${sec_root[@]}" --unshare-pid --proc /proc --uid 0 --gid 0 --cap-add ALL sh -c "
                $(probe umount /proc/sys)
                $(probe write /proc/sys/kernel/printk 1)
                $(probe write /proc/sys/vm/drop_caches 3)
                $(probe write /proc/sys/kernel/hostname pwned)
                $(probe write /proc/sysrq-trigger h)"
        assert_success
        assert_line --index 1 "write: errno=EACCES"
        assert_line --index 2 "write: errno=EACCES"
        assert_line --index 3 "write: errno=EACCES"
        assert_line --index 4 --regexp "^write: errno=(EACCES|ENOENT)$"
        assert_equal "$(cat /proc/sys/kernel/printk)" "$printk"

        # In bwrap's nested user namespace (--uid 0 alone with --dev) the
        # capabilities don't reach those mounts: /proc/sys stays read-only.
        run csand "${sec_root[@]}" --unshare-pid --proc /proc --uid 0 --cap-add ALL sh -c "
                $(probe umount /proc/sys)
                $(probe write /proc/sys/kernel/printk 1)
                $(probe remount-rw /proc/sys)"
        assert_success
        assert_line --index 0 "umount: errno=EPERM"
        assert_line --index 1 "write: errno=EROFS"
        assert_line --index 2 "remount-rw: errno=EPERM"
        assert_equal "$(cat /proc/sys/kernel/printk)" "$printk"
}

@test "kernel modules can't be loaded (init_module, finit_module: EPERM), even with --cap-add ALL" {
        # (a kernel without CONFIG_MODULES answers ENOSYS to everyone)
        [ "$(uname -m)" = x86_64 ] || skip "syscall numbers are x86_64's"
        local opts
        for opts in "" "--uid 0 --cap-add ALL"; do
                # shellcheck disable=SC2086
                run csand "${sec_root[@]}" $opts sh -c '/try-syscall syscall 313; /try-syscall syscall 175'
                assert_success
                assert_line --index 0 --regexp "^syscall: errno=(EPERM|ENOSYS) "
                assert_line --index 1 --regexp "^syscall: errno=(EPERM|ENOSYS) "
        done
}

@test "TIOCSTI: the harness sees injection without protection (control)" {
        require_feature "legacy TIOCSTI (dev.tty.legacy_tiocsti=1)" grep -qx 1 /proc/sys/dev/tty/legacy_tiocsti
        run python3 "$BATS_TEST_DIRNAME/pty-run.py" \
                "python3 $BATS_TEST_DIRNAME/probe.py tiocsti 0 'echo pwned
'"
        assert_success
        assert_line --partial "tiocsti: ok"
        assert_line --partial "INJECTED:echo pwned"
}

@test "TIOCSTI with --new-session: EPERM, nothing reaches the terminal" {
        require_feature "legacy TIOCSTI (dev.tty.legacy_tiocsti=1)" grep -qx 1 /proc/sys/dev/tty/legacy_tiocsti
        run python3 "$BATS_TEST_DIRNAME/pty-run.py" \
                "CSAND_TEST_TOKEN=$CSAND_TOKEN TMPDIR=$CSAND_TMPDIR $CSAND ${sec_root[*]} --new-session $(probe tiocsti 0 "'echo pwned
'")"
        assert_success
        assert_line --partial "tiocsti: errno=EPERM"
        assert_line --partial CLEAN
        refute_output --partial INJECTED
}

@test "TIOCSTI with --seccomp-profile desktop: refused, nothing reaches the terminal" {
        require_feature "legacy TIOCSTI (dev.tty.legacy_tiocsti=1)" grep -qx 1 /proc/sys/dev/tty/legacy_tiocsti
        run python3 "$BATS_TEST_DIRNAME/pty-run.py" \
                "CSAND_TEST_TOKEN=$CSAND_TOKEN TMPDIR=$CSAND_TMPDIR $CSAND ${sec_root[*]} --seccomp-profile desktop $(probe tiocsti 0 "'echo pwned
'")"
        assert_success
        assert_line --regexp "tiocsti: errno=E(PERM|NOSYS)"
        assert_line --partial CLEAN
        refute_output --partial INJECTED
}

# Listens on the abstract socket @NAME for 30 s at most.
start_abstract_listener() {
        python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0" + sys.argv[1]); s.listen(8); s.settimeout(1)
open(sys.argv[2], "w").write("1")
end = time.monotonic() + 30
while time.monotonic() < end:
    try: s.accept()[0].close()
    except socket.timeout: pass' "$1" "$TESTDIR/listening" &
        HOST_PIDS+=($!)
        wait_for_file "$TESTDIR/listening"
}

@test "abstract UNIX sockets of the host are unreachable with --unshare-net (ECONNREFUSED)" {
        local name="csand-sec-$CSAND_TOKEN"
        start_abstract_listener "$name"
        # control: with the host's network namespace the socket answers
        run csand "${sec_root[@]}" $(probe abstract "$name")
        assert_output "abstract: ok"
        run csand "${sec_root[@]}" --unshare-net $(probe abstract "$name")
        assert_success
        assert_output "abstract: errno=ECONNREFUSED"
        run csand "${sec_root[@]}" --network none $(probe abstract "$name")
        assert_output "abstract: errno=ECONNREFUSED"
}

@test "abstract UNIX sockets of the host are unreachable through slirp4netns and pasta" {
        local name="csand-sec-$CSAND_TOKEN" helper
        start_abstract_listener "$name"
        for helper in slirp4netns pasta; do
                require_feature "$helper" command -v $helper
                run csand "${sec_root[@]}" --network $helper $(probe abstract "$name")
                assert_success
                assert_output "abstract: errno=ECONNREFUSED"
        done
}

@test "ptrace: without a pid namespace, the monitor (csand outside) refuses ptrace" {
        # The command's parent is csand's monitor, in the caller's namespaces.
        run csand_min --ro-bind "$BATS_TEST_DIRNAME" /t sh -c 'python3 /t/probe.py ptrace $PPID'
        assert_success
        assert_output "ptrace: errno=EPERM"
}
