#!/usr/bin/env bats
# Running sandboxes (issue 19): --name, --join, --list, --stop, seen from
# outside as a user would use them.

load ../lib/common

setup() {
        common_setup
        require_userns
        NAMES=$CSAND_RUNTIME_DIR/csand/names
        BG_PIDS=()
        join_root=("${csand_min_root[@]}" --proc /proc --dev /dev)
}

teardown() {
        local p n
        # (the background jobs are shells around csand: stop the sandboxes themselves)
        for n in $(XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --list | cut -d" " -f1); do
                XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --stop "$n" --stop-timeout 5 || true
        done
        for p in "${BG_PIDS[@]}"; do
                kill "$p" 2>/dev/null || true
        done
        for p in "${BG_PIDS[@]}"; do
                wait "$p" 2>/dev/null || true
        done
        common_teardown
}

# start NAME ARGS...: a sandbox named NAME in the background; returns once
# --list shows it.
start() {
        local name=$1
        shift
        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                closefds "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" --name "$name" "$@" \
                >"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" </dev/null &
        BG_PIDS+=($!)
        wait_listed "$name"
}

export_env() {
        export TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR"
}

wait_listed() {
        local i
        for ((i = 0; i < 200; i++)); do
                XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --list | grep -q "^$1 " && return 0
                sleep 0.1
        done
        cat "$BATS_TEST_TMPDIR/$1.err" 2>/dev/null
        fail "sandbox $1 never showed up in --list"
}

# The properties the joined process must share with the sandbox's command,
# which is pid 2 in the sandbox's pid namespace.
compare_script='
for n in cgroup ipc mnt net pid user uts; do
        [ "$(readlink /proc/self/ns/$n)" = "$(readlink /proc/2/ns/$n)" ] || echo "ns $n differs"
done
a=$(grep -E "^(Uid|Gid|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters):" /proc/self/status)
b=$(grep -E "^(Uid|Gid|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters):" /proc/2/status)
[ "$a" = "$b" ] || { echo "status differs"; echo "$a"; echo "$b"; }
[ "$(cat /proc/self/uid_map)" = "$(cat /proc/2/uid_map)" ] || echo "uid_map differs"
[ "$(stat -c %d:%i /)" = "$(stat -L -c %d:%i /proc/2/root)" ] || echo "root differs"
[ "$(cat /proc/self/cgroup)" = "$(cat /proc/2/cgroup)" ] || echo "cgroup differs"
set -- $(grep "open files" /proc/2/limits)
[ "$(ulimit -n)" = "$4" ] || echo "nofile differs: $(ulimit -n) $*"
echo "cwd=$(pwd) FOO=$FOO nnp=$(grep NoNewPrivs /proc/self/status | cut -f2) seccomp=$(grep "^Seccomp:" /proc/self/status | cut -f2)"
echo done
'

@test "--join: --unshare-all, --rlimit and a seccomp profile: the joined command has what the sandbox's command has" {
        export CSAND_SECCOMP_PROFILE_DIR=$CSAND_SOURCE_DIR/seccomp-profiles
        start all "${join_root[@]}" --unshare-all --chdir /usr --setenv FOO bar \
                --rlimit NOFILE=64 --seccomp-profile default sleep 300
        run --separate-stderr env XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --join all -- sh -c "$compare_script"
        assert_success
        refute_output --partial differs
        assert_line "cwd=/usr FOO=bar nnp=1 seccomp=2"
        assert_line done
        # The profile is enforced, not only counted: it refuses new user
        # namespaces to a command without CAP_SYS_ADMIN.
        run env XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --join all -- unshare -U true
        assert_failure
}

@test "--join: a sandbox that loaded bwrap's --seccomp FD is refused, not joined without that program" {
        require_x86_64
        write_uname_filter "$BATS_TEST_TMPDIR/bpf"
        # (not start(): its closefds would close fd 10)
        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$CSAND" --name sfd "${join_root[@]}" --unshare-pid --seccomp 10 sh -c 'uname || echo refused; exec sleep 300' \
                >"$BATS_TEST_TMPDIR/sfd.out" 2>"$BATS_TEST_TMPDIR/sfd.err" </dev/null 10<"$BATS_TEST_TMPDIR/bpf" &
        BG_PIDS+=($!)
        wait_listed sfd
        poll_until 300 grep -q refused "$BATS_TEST_TMPDIR/sfd.out" || fail "the sandbox's own uname was not refused"
        export_env
        run "$CSAND" --join sfd -- uname
        assert_failure 1
        assert_output "csand: Can't join sfd: its --seccomp program was read by the sandbox itself and is not known to csand, so the joined command would run without it"
}

@test "--join: the exit status is the command's; --chdir, --setenv, --unsetenv, --clearenv apply on top" {
        start st "${join_root[@]}" --unshare-pid --setenv FOO bar --setenv KEEP 1 sleep 300
        export_env
        run "$CSAND" --join st -- sh -c 'exit 7'
        assert_failure 7
        run "$CSAND" --join st --chdir /usr/bin --setenv FOO baz --unsetenv KEEP -- sh -c 'echo "$PWD $FOO ${KEEP-unset}"'
        assert_success
        assert_output "/usr/bin baz unset"
        run "$CSAND" --join st --clearenv --setenv ONLY 1 -- /usr/bin/env
        assert_success
        assert_output "ONLY=1
PWD=/"
}

@test "--join: a command that can't be found exits 127, one that can't be run 126, side by side with nsenter" {
        start ex "${join_root[@]}" --unshare-pid sleep 300
        export_env
        local cmd want
        for cmd in nosuch-command /usr /dev/null; do
                # nsenter with no namespace to enter runs it here, as podman
                # exec does in a container: 127 not found, 126 not runnable
                want=0
                env PATH=/usr/bin:/bin nsenter --wd=/ "$cmd" 2>/dev/null || want=$?
                [ "$want" = 126 ] || [ "$want" = 127 ] || fail "nsenter $cmd: $want"
                run -"$want" --separate-stderr "$CSAND" --join ex -- "$cmd"
                assert_equal "${#stderr_lines[@]}" 1
                [[ "${stderr_lines[0]}" == "csand: execvp $cmd: "* ]] || fail "${stderr_lines[0]}"
        done
}

@test "--join: a network helper's namespace (--network slirp4netns), and --list names the mode" {
        require_feature slirp4netns command -v slirp4netns
        require_feature "a usable /dev/net/tun" test -r /dev/net/tun -a -w /dev/net/tun
        start net "${join_root[@]}" --unshare-all --network slirp4netns sleep 300
        export_env
        run "$CSAND" --join net -- sh -c 'cat /proc/net/dev; [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/2/ns/net)" ] && echo same-net'
        assert_success
        assert_output --partial tap0
        assert_line same-net
        run "$CSAND" --list
        assert_output --regexp "^net [0-9]+ .* network=slirp4netns "
}

@test "--join PID: the child-pid of --info-fd (as flatpak enter uses) joins the same sandbox" {
        export_env
        # (closefds would close fd 3: the shell opens it after)
        closefds sh -c 'exec "$@" 3>"$0"' "$BATS_TEST_TMPDIR/info" \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" --name bypid --info-fd 3 "${join_root[@]}" --unshare-pid \
                sleep 300 </dev/null &
        BG_PIDS+=($!)
        wait_listed bypid
        pid=$(sed -n 's/.*"child-pid": \([0-9]*\).*/\1/p' "$BATS_TEST_TMPDIR/info")
        run "$CSAND" --list --json
        assert_output --partial "\"pid\": $pid,"
        run "$CSAND" --join "$pid" -- cat /proc/2/cmdline
        assert_success
        assert_output "sleep300"
}

@test "--join: an interactive command on a terminal: a tty, its window size, Ctrl-C ends it with status 130" {
        start tty "${join_root[@]}" --unshare-pid sleep 300
        export_env
        run python3 - "$CSAND" <<'EOF'
import fcntl, os, pty, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "--join", "tty", "--", "sh", "-c",
             'test -t 0 && echo TTY; stty size; echo READY; exec sleep 300'])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 99, 0, 0))
out = b""
deadline = time.monotonic() + 60
while b"READY" not in out and time.monotonic() < deadline:
    out += os.read(fd, 4096)
os.write(fd, b"\x03")
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
print(out.decode(errors="replace").replace("\r\n", "\n"))
print("status", os.waitstatus_to_exitcode(status))
EOF
        assert_success
        assert_line TTY
        assert_line "33 99"
        assert_line "status 130"
}

@test "--join: the joined command is a process group of its own: kill -KILL 0 from it spares the caller" {
        local opts
        for opts in "--unshare-pid" ""; do
                # shellcheck disable=SC2086
                start grp "${join_root[@]}" $opts sleep 300
                export_env
                # a calling script in a group of its own, with a sibling in it
                run setsid -w bash -c '
                        sleep 120 & sibling=$!
                        "$@"
                        echo "join-status=$?"
                        kill -0 $sibling && echo sibling-alive
                        kill $sibling' caller "$CSAND" --join grp sh -c 'kill -KILL 0'
                assert_line join-status=137
                assert_line sibling-alive
                XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --stop grp --stop-timeout 5
        done
}

@test "--join: on a real terminal the joined command's group gets it, job control and Ctrl-C work, the caller gets it back" {
        start tty2 "${join_root[@]}" --unshare-pid sleep 300
        local cs
        cs=$(printf '%q ' env TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" "$CSAND" --join tty2)
        # (each line typed at a prompt; see tests/security/process-group.bats)
        run python3 "$BATS_TEST_DIRNAME/../security/pty-session.py" 'expect:T\$ $' \
                "send:$cs sh -c 'ps -o pgid=,tpgid= -p \$\$ | grep -qx \" *\$\$ *\$\$\" && echo own-foreground-group'\n" \
                'expect:own-foreground-group' 'expect:T\$ $' \
                "send:$cs env PS1='inner\$ ' sh -i\n" 'expect:inner\$ $' \
                'send:read x; echo "got[$x]"\n' 'send:hello\n' 'expect:got\[hello\]' 'expect:inner\$ $' \
                'send:case $- in *m*) echo job-control-on;; esac\n' 'expect:job-control-on' 'expect:inner\$ $' \
                'send:sh -c \x27echo CAT-$((2+2)); exec cat\x27\n' 'expect:CAT-4' 'send:\x03' 'expect:inner\$ $' \
                'send:exit 7\n' 'expect:T\$ $' 'send:echo status=$?\n' 'expect:status=7' \
                "send:$cs sh -c 'echo READY-\$((1+1)); exec sleep 60'\n" 'expect:READY-2' 'send:\x03' 'expect:T\$ $' \
                'send:echo status=$?\n' 'expect:status=130' \
                -- env PS1='T$ ' bash --norc --noprofile -i
        [ "$status" -eq 0 ] || fail "$output"
}

@test "--list: one line per running sandbox, --json for scripts; --stop ends it and cleans up" {
        start one "${join_root[@]}" --unshare-net sleep 300
        start two "${join_root[@]}" --unshare-pid --rlimit NOFILE=100:200 sleep 301
        export_env
        run --separate-stderr "$CSAND" --list
        assert_success
        assert_equal "${#lines[@]}" 2
        assert_line --regexp "^one [0-9]+ [0-9T:+-]+ ns=user,mnt,net network=none limits=- sleep 300$"
        assert_line --regexp "^two [0-9]+ [0-9T:+-]+ ns=user,mnt,pid network=host limits=NOFILE=100:200 sleep 301$"
        run "$CSAND" --list --json
        assert_success
        python3 -c 'import json, sys
l = json.load(sys.stdin)
assert [s["name"] for s in l] == ["one", "two"], l
assert l[1]["command"] == ["sleep", "301"] and l[1]["limits"] == ["NOFILE=100:200"], l
assert l[0]["namespaces"] == ["user", "mnt", "net"] and l[0]["network"] == "none", l' <<<"$output"

        run "$CSAND" --stop one
        assert_success
        # --stop returns once the monitor is gone: nothing of it is left.
        run "$CSAND" --list
        assert_output --regexp "^two "
        refute_output --partial one
        [ ! -e "$NAMES/one.lock" ] && [ ! -e "$NAMES/one.rec" ]
        run "$CSAND" --stop two
        assert_success
        run "$CSAND" --list
        assert_output ""
        run "$CSAND" --list --json
        assert_output "[]"
}

@test "--stop: SIGKILL after --stop-timeout when the command ignores SIGTERM" {
        start stubborn "${join_root[@]}" --unshare-pid sh -c 'trap "" TERM; echo ready; while :; do sleep 1; done'
        export_env
        run "$CSAND" --stop stubborn --stop-timeout 1
        assert_success
        wait "${BG_PIDS[0]}" || status=$?
        assert_equal "$status" 137
        [ ! -e "$NAMES/stubborn.lock" ]
}

@test "--stop: a stopped sandbox is continued after SIGTERM (as systemd and a shell's kill do) and ends by itself" {
        export_env
        local opts n=0 child cmd
        for opts in --unshare-pid --unshare-ipc; do
                n=$((n + 1))
                start "s$n" "${join_root[@]}" "$opts" sh -c 'trap "exit 5" TERM; while :; do sleep 0.1; done'
                child=$(python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["pid"])' <<<"$("$CSAND" --list --json)")
                # the command: pid 1's child, or the sandbox's first process
                cmd=$(ps -o pid= --ppid "$child" | grep -v "^ *$" | head -1 || true)
                [ "$opts" = --unshare-pid ] || cmd=$child
                kill -STOP "$cmd"
                run "$CSAND" --stop "s$n" --stop-timeout 60
                assert_success
                local rc=0
                wait "${BG_PIDS[-1]}" || rc=$?
                # its own status, not 137 from SIGKILL after the grace time
                assert_equal "$rc" 5
        done
}

@test "--stop: joined commands end with the sandbox, with a pid namespace and without" {
        export_env
        mkfifo "$BATS_TEST_TMPDIR/ready"
        local opts n=0
        for opts in --unshare-pid --unshare-ipc; do
                n=$((n + 1))
                start "j$n" "${join_root[@]}" --bind "$BATS_TEST_TMPDIR/ready" /ready "$opts" sleep 300
                closefds "$CSAND" --join "j$n" -- sh -c 'echo >/ready; exec sleep 300' </dev/null &
                local joined=$!
                read -r _ <"$BATS_TEST_TMPDIR/ready"
                run "$CSAND" --stop "j$n" --stop-timeout 5
                assert_success
                # SIGKILL, as the end of a pid namespace kills what is in it.
                local i rc=0
                for ((i = 0; i < 300; i++)); do
                        kill -0 "$joined" 2>/dev/null || break
                        sleep 0.1
                done
                kill -0 "$joined" 2>/dev/null && { kill "$joined"; fail "the joined command outlived --stop ($opts)"; }
                wait "$joined" || rc=$?
                assert_equal "$rc" 137
        done
}

@test "a name is unique: a second start fails, concurrent starts have exactly one winner" {
        start once "${join_root[@]}" sleep 300
        run --separate-stderr csand_min --name once true
        assert_csand_error
        assert_equal "$msg" "csand: A sandbox named once is already running"

        local i
        export_env
        for i in 1 2 3 4; do
                (closefds "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" --name race "${join_root[@]}" sleep 300 \
                        </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/race.$i" && rc=0 || rc=$?
                 echo $rc >"$BATS_TEST_TMPDIR/race.$i.rc") &
                BG_PIDS+=($!)
        done
        # Three lose, with the message; the winner runs until stopped.
        for ((i = 0; i < 300; i++)); do
                [ "$(cat "$BATS_TEST_TMPDIR"/race.*.rc 2>/dev/null | wc -l)" -ge 3 ] && break
                sleep 0.1
        done
        assert_equal "$(cat "$BATS_TEST_TMPDIR"/race.*.rc | tr -d '\n')" 111
        assert_equal "$(grep -l 'csand: A sandbox named race is already running' "$BATS_TEST_TMPDIR"/race.? | wc -l)" 3
        export_env
        run "$CSAND" --list
        assert_equal "$(grep -c '^race ' <<<"$output")" 1
}

@test "stale: after kill -9 of csand the name is not listed, not joinable, and the next start reclaims it" {
        start stale "${join_root[@]}" --die-with-parent --unshare-pid sleep 300
        export_env
        monitor=$(python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["monitor-pid"])' <<<"$("$CSAND" --list --json)")
        kill -9 "$monitor"
        wait "${BG_PIDS[0]}" || true
        wait_for_no_process "$CSAND_TOKEN.*sleep 300"
        # Its files are there, but nobody holds the lock.
        [ -e "$NAMES/stale.lock" ] && [ -e "$NAMES/stale.rec" ]
        run "$CSAND" --list
        assert_output ""
        run --separate-stderr "$CSAND" --join stale -- true
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named stale (see --list)"
        # Reclaimed, and released again at the end.
        run csand_min --name stale echo reclaimed
        assert_success
        assert_output reclaimed
        [ ! -e "$NAMES/stale.lock" ] && [ ! -e "$NAMES/stale.rec" ]
}

@test "stale: a held lock with a record whose pids do not match their start times is not a running sandbox" {
        export_env
        mkdir -p -m 0700 "$CSAND_RUNTIME_DIR/csand" "$NAMES"
        # A live process (this python, holding the lock) under the recorded
        # pid, with another start time: a reused pid.
        python3 - "$NAMES" <<'EOF' &
import fcntl, os, sys, time
d = sys.argv[1]
f = open(d + "/fake.lock", "w")
fcntl.lockf(f, fcntl.LOCK_EX)
pid = os.getpid()
with open(d + "/fake.rec", "w") as r:
    r.write(f"version 1\nname fake\nmonitor {pid} 1\nchild {pid} 1\nstarted 0\narg sleep\nend\n")
open(d + "/ready", "w").close()
time.sleep(60)
EOF
        local py=$!
        BG_PIDS+=($py)
        wait_for_file "$NAMES/ready" || [ -e "$NAMES/ready" ]
        run "$CSAND" --list
        assert_output ""
        run --separate-stderr "$CSAND" --join fake -- true
        assert_csand_error
        kill "$py"
        wait "$py" || true
        rm -f "$NAMES/fake.lock" "$NAMES/fake.rec" "$NAMES/ready"
}

@test "--join from inside a sandbox: the registry is hidden, nothing to join" {
        start outer "${join_root[@]}" --unshare-pid sleep 300
        run --separate-stderr csand "${join_root[@]}" --bind "$CSAND_RUNTIME_DIR" "$CSAND_RUNTIME_DIR" \
                --ro-bind "$CSAND" /csand --setenv XDG_RUNTIME_DIR "$CSAND_RUNTIME_DIR" \
                /csand --join outer -- true
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named outer (see --list)"
        export_env
        "$CSAND" --stop outer
}

@test "bad input: one csand: line, exit 1" {
        export_env
        local -a cases=(
                "--join nosuch -- true|No running sandbox named nosuch (see --list)"
                "--join 1 -- true|No running sandbox of this user has pid 1 (see --list)"
                "--join some|--join requires a command: --join some -- COMMAND"
                "--join some --unshare-net -- true|--join cannot be combined with --unshare-net: the sandbox exists already"
                "--join some --bind / / -- true|--join cannot be combined with --bind: the sandbox exists already"
                "--join some --name x -- true|--join cannot be combined with --name"
                "--join a/b -- true|Invalid --join: a/b (a sandbox's name or pid)"
                "--name 123 true|Invalid --name: 123 (letters, digits, '_', '-' and '.', at most 64, not only digits)"
                "--name .x true|Invalid --name: .x (letters, digits, '_', '-' and '.', at most 64, not only digits)"
                "--list --stop x|--join, --list and --stop cannot be combined"
                "--json|--json requires --list"
                "--stop-timeout 3|--stop-timeout requires --stop"
                "--stop x --stop-timeout -1|--stop-timeout takes whole seconds from 0 to 86400: -1"
                "--stop nosuch|No running sandbox named nosuch (see --list)"
                "--list true|--list takes no command"
                "--list --unshare-pid|--list cannot be combined with --unshare-pid"
        )
        local c
        for c in "${cases[@]}"; do
                read -ra args <<<"${c%%|*}"
                run --separate-stderr "$CSAND" "${args[@]}"
                assert_csand_error
                assert_equal "$msg" "csand: ${c#*|}"
        done
        # A registry directory that is not private is not trusted.
        mkdir -p -m 0700 "$CSAND_RUNTIME_DIR/csand"
        mkdir -m 0755 "$NAMES"
        run --separate-stderr "$CSAND" --join x -- true
        assert_csand_error
        assert_equal "$msg" "csand: Can't read the registration of x: Operation not permitted"
        rmdir "$NAMES"
}

require_landlock() {
        require_feature "Landlock" python3 -c "
import ctypes, sys
sys.exit(0 if ctypes.CDLL(None).syscall(444, None, 0, 1) >= 1 else 1)"
}

# r CMD...: "CMD allowed" or "CMD denied", for the Landlock checks below.
landlock_checks='r() { if "$@" >/dev/null 2>&1; then echo "$* allowed"; else echo "$* denied"; fi; }
r cat /etc/passwd; r cat /etc/group; r touch /tmp/f; r ls /usr; r ls /etc'
landlock_expected="cat /etc/passwd allowed
cat /etc/group denied
touch /tmp/f allowed
ls /usr allowed
ls /etc denied"

@test "--join: the joined command gets the sandbox's Landlock domain: denied where the command is, allowed where it is" {
        require_landlock
        mkfifo "$BATS_TEST_TMPDIR/checks"
        start ll "${join_root[@]}" --ro-bind /etc /etc --tmpfs /tmp --unshare-pid --bind "$BATS_TEST_TMPDIR/checks" /checks \
                --landlock-exec /usr --landlock-ro /etc/passwd --landlock-rw /tmp --landlock-rw /dev/null --landlock-rw /checks \
                sh -c "{ $landlock_checks; } >/checks; exec sleep 300"
        # The sandbox's command, side by side.
        assert_equal "$(cat "$BATS_TEST_TMPDIR/checks")" "$landlock_expected"
        export_env
        run --separate-stderr "$CSAND" --join ll -- sh -c "$landlock_checks"
        assert_success
        assert_output "$landlock_expected"
        # --landlock (the plan's rules) too: /etc is not in the plan.
        start llplan "${join_root[@]}" --tmpfs /tmp --unshare-pid --landlock sh -c 'exec sleep 300'
        run "$CSAND" --join llplan -- sh -c 'touch /tmp/f && echo tmp-ok; cat /proc/self/status >/dev/null && echo proc-ok; ls / >/dev/null && echo root-ok'
        assert_success
        assert_output "tmp-ok
proc-ok
root-ok"
        run "$CSAND" --join llplan -- touch /usr/x
        assert_failure
}

@test "--join with Landlock fails closed: a rule's path replaced since, a relative path" {
        require_landlock
        mkfifo "$BATS_TEST_TMPDIR/moved"
        # The command moves the directory its rule names away and puts
        # another in its place, then says so through the fifo.
        start llmv "${join_root[@]}" --tmpfs /tmp --dir /tmp/sub --bind "$BATS_TEST_TMPDIR/moved" /moved --unshare-pid \
                --landlock-exec /usr --landlock-rw /tmp --landlock-ro /tmp/sub --landlock-rw /moved \
                sh -c 'mv /tmp/sub /tmp/old && mkdir /tmp/sub && echo >/moved; exec sleep 300'
        read -r _ <"$BATS_TEST_TMPDIR/moved"
        export_env
        run --separate-stderr "$CSAND" --join llmv -- true
        assert_csand_error
        assert_equal "$msg" "csand: Can't join llmv: its Landlock rule for /tmp/sub can't be rebuilt: that path names another file now"

        # Relative to a working directory csand decides in the sandbox.
        start llrel "${join_root[@]}" --unshare-pid --landlock-exec usr sleep 300
        run --separate-stderr "$CSAND" --join llrel -- true
        assert_csand_error
        assert_equal "$msg" "csand: Can't join llrel: its Landlock rules can't be rebuilt: --landlock-exec usr is relative to the working directory the command started in"
        # With an absolute --chdir it is known.
        start llchdir "${join_root[@]}" --unshare-pid --chdir / --landlock-exec usr sleep 300
        run --separate-stderr "$CSAND" --join llchdir -- sh -c '[ -n "$(ls /usr)" ] && echo usr-ok; x=$(cat /proc/self/status 2>&1) || echo proc-denied'
        assert_success
        assert_output "usr-ok
proc-denied"
}

@test "--join in place (Landlock only, no namespaces): the joined command gets the sandbox's Landlock domain" {
        require_landlock
        local d=$BATS_TEST_TMPDIR/ll
        mkdir -p "$d/rw" "$d/ro" "$d/no"
        echo x >"$d/ro/f"
        echo x >"$d/no/f"
        mkfifo "$d/rw/checks"
        local checks="r() { if \"\$@\" >/dev/null 2>&1; then echo \"\$* allowed\"; else echo \"\$* denied\"; fi; }
r cat $d/ro/f; r cat $d/no/f; r touch $d/rw/new; r touch $d/ro/new; r ls /usr; r cat /proc/self/status"
        start llin --landlock-exec /usr --landlock-ro "$d/ro" --landlock-rw "$d/rw" --landlock-rw /dev/null \
                sh -c "{ $checks; } >$d/rw/checks; exec sleep 300"
        # The sandbox's command, side by side.
        run cat "$d/rw/checks"
        local command_saw=$output
        assert_equal "$(grep -c allowed <<<"$command_saw")" 3
        assert_line "cat $d/no/f denied"
        assert_line "cat /proc/self/status denied"
        export_env
        run "$CSAND" --list
        assert_output --regexp "^llin [0-9]+ [0-9T:+-]+ ns=- network=host "
        rm -f "$d/rw/new"
        run --separate-stderr "$CSAND" --join llin -- sh -c "$checks"
        echo "$stderr"
        assert_success
        assert_output "$command_saw"
}

@test "a sandbox that ends while being joined: one csand: line, exit 1, nothing left behind" {
        export_env
        mkfifo "$BATS_TEST_TMPDIR/end"
        local ns n=0
        # With a pid 1 of its own, and with the command as the sandbox's first process.
        for ns in --unshare-pid --unshare-ipc; do
                n=$((n + 1))
                start "end$n" "${join_root[@]}" --bind "$BATS_TEST_TMPDIR/end" /end "$ns" cat /end
                read -r monitor child < <(python3 -c 'import json, sys
s = json.load(sys.stdin)[0]; print(s["monitor-pid"], s["pid"])' <<<"$("$CSAND" --list --json)")
                # The monitor, stopped, does not notice the end: the registration
                # stays while the sandbox's first process is a zombie.
                kill -STOP "$monitor"
                echo >"$BATS_TEST_TMPDIR/end"
                local i
                for ((i = 0; i < 600; i++)); do
                        [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$child/stat")" = Z ] && break
                        sleep 0.05
                done
                run --separate-stderr "$CSAND" --join "end$n" -- true
                kill -CONT "$monitor"
                assert_csand_error
                assert_equal "$msg" "csand: The sandbox end$n ended while being joined"
                wait "${BG_PIDS[-1]}"
                [ ! -e "$NAMES/end$n.lock" ] && [ ! -e "$NAMES/end$n.rec" ]
        done
}

@test "joining another user's process: by pid, and through a record that names it" {
        export_env
        [ "$(stat -c %u /proc/1)" != "$(id -u)" ] || fail "pid 1 is this user's: the test needs another user's process"
        run --separate-stderr "$CSAND" --join 1 -- true
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox of this user has pid 1 (see --list)"
        # A record in our own registry (held by a live process) can name
        # another user's process; it is not the lock holder's child, so
        # not a running sandbox (registry-attacks.bats has more).
        mkdir -p -m 0700 "$CSAND_RUNTIME_DIR/csand" "$NAMES"
        start1=$(sed 's/.*) //' /proc/1/stat | cut -d" " -f20)
        mkfifo "$NAMES/ready"
        python3 - "$NAMES" "$start1" <<'EOF2' &
import fcntl, os, sys, time
d, start1 = sys.argv[1], sys.argv[2]
f = open(d + "/other.lock", "w")
fcntl.lockf(f, fcntl.LOCK_EX)
pid = os.getpid()
with open(f"/proc/{pid}/stat") as s:
    mine = s.read().rsplit(")", 1)[1].split()[19]
with open(d + "/other.rec", "w") as r:
    r.write(f"version 1\nname other\nmonitor {pid} {mine}\nchild 1 {start1}\ninit 0\nstarted 0\narg init\nend\n")
open(d + "/ready", "w").close()
time.sleep(120)
EOF2
        local py=$!
        BG_PIDS+=($py)
        cat "$NAMES/ready" >/dev/null
        run --separate-stderr "$CSAND" --join other -- true
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named other (see --list)"
        kill "$py"
        wait "$py" || true
        rm -f "$NAMES/other.lock" "$NAMES/other.rec" "$NAMES/ready"
}

@test "bad input: --join with options that build a sandbox" {
        export_env
        local -a cases=(
                "--cap-add ALL" "--landlock-ro /" "--memory 10M" "--seccomp-profile default" "--uid 0" "--die-with-parent"
        )
        local c
        for c in "${cases[@]}"; do
                read -ra args <<<"$c"
                run --separate-stderr "$CSAND" --join some "${args[@]}" -- true
                assert_csand_error
                assert_equal "$msg" "csand: --join cannot be combined with ${args[0]}: the sandbox exists already"
        done
}
