#!/usr/bin/env bats
# Landlock (issue 20), checked from outside: each rule kind lets through
# what it should and the kernel refuses the rest (EACCES or EPERM, as it
# reports them); the ruleset from the mount plan holds when the command
# remounts or renames; scoping of abstract unix sockets and signals; older
# kernels pretended with tests/enosys (landlock-abi=N: the version query
# answers N and what an ABI N kernel refuses is refused); Landlock-only
# mode, in place, without namespaces; the status JSON; bad input.

load ../lib/common

setup() {
        common_setup
        require_feature "Landlock" sh -c 'python3 -c "
import ctypes, sys
sys.exit(0 if ctypes.CDLL(None).syscall(444, None, 0, 1) >= 6 else 1)"'
        mkdir -p "$TESTDIR/ro" "$TESTDIR/rw" "$TESTDIR/exec" "$TESTDIR/other"
        victim= listener=
        for d in ro rw exec other; do
                echo "$d" >"$TESTDIR/$d/file"
                cp /usr/bin/true "$TESTDIR/$d/prog"
        done
}

teardown() {
        [ -z "$victim" ] || kill "$victim" 2>/dev/null || true
        [ -z "$listener" ] || kill "$listener" 2>/dev/null || true
        common_teardown
}

# probe OP:PATH...: for each, one line "OP PATH RESULT", RESULT being OK or
# the errno's name. OPs: read write create mkdir unlink list exec truncate
# ioctl (TCGETS), connect and bind (PATH: a TCP port on 127.0.0.1),
# rename and link (PATH: FROM>TO), kill (PATH: a pid; SIGTERM), killchild (PATH:
# a program, run and then killed), remount (PATH: read-write, MS_BIND),
# bindmount (PATH: FROM>TO).
PROBE='
import ctypes, errno, fcntl, os, signal, socket, subprocess, sys, termios
libc = ctypes.CDLL(None, use_errno=True)
def mount(src, dst, flags):
    if libc.mount(src.encode(), dst.encode(), None, flags, None) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
def killchild(p):
    c = subprocess.Popen([p, "1000"])
    try:
        os.kill(c.pid, signal.SIGTERM)
    finally:
        c.wait()
def tcp(port, what):
    s = socket.socket()
    try:
        (s.connect if what == "connect" else s.bind)(("127.0.0.1", int(port)))
    finally:
        s.close()
def rename(arg):
    a, b = arg.split(">")
    os.rename(a, b)
ops = {
    "read": lambda p: open(p).read(),
    "write": lambda p: open(p, "a").write("x"),
    "create": lambda p: open(p, "x").close(),
    "mkdir": os.mkdir,
    "unlink": os.unlink,
    "list": os.listdir,
    "exec": lambda p: subprocess.run([p], check=True),
    "truncate": lambda p: os.truncate(p, 0),
    "ioctl": lambda p: fcntl.ioctl(os.open(p, os.O_RDWR), termios.TCGETS, bytes(64)),
    "connect": lambda p: tcp(p, "connect"),
    "bind": lambda p: tcp(p, "bind"),
    "rename": rename,
    "link": lambda p: os.link(*p.split(">")),
    "kill": lambda p: os.kill(int(p), signal.SIGTERM),
    "killchild": killchild,
    "remount": lambda p: mount("none", p, 32 | 4096),  # MS_REMOUNT | MS_BIND
    "bindmount": lambda p: mount(*p.split(">"), 4096),  # MS_BIND
}
for arg in sys.argv[1:]:
    op, path = arg.split(":", 1)
    try:
        ops[op](path)
        res = "OK"
    except OSError as e:
        res = errno.errorcode[e.errno]
    print(op, path, res)
'

# Runs the probe in place (Landlock-only mode): /usr readable and executable.
probe_in_place() {
        csand --landlock-exec /usr --landlock-ro /etc "$@"
}

@test "--landlock-ro, --landlock-exec, --landlock-rw: each allows its rights, the kernel refuses the rest" {
        run probe_in_place \
                --landlock-ro "$TESTDIR/ro" --landlock-exec "$TESTDIR/exec" --landlock-rw "$TESTDIR/rw" \
                python3 -c "$PROBE" \
                read:"$TESTDIR/ro/file" list:"$TESTDIR/ro" write:"$TESTDIR/ro/file" truncate:"$TESTDIR/ro/file" \
                create:"$TESTDIR/ro/new" exec:"$TESTDIR/ro/prog" \
                read:"$TESTDIR/exec/file" exec:"$TESTDIR/exec/prog" write:"$TESTDIR/exec/file" \
                read:"$TESTDIR/rw/file" write:"$TESTDIR/rw/file" create:"$TESTDIR/rw/new" mkdir:"$TESTDIR/rw/dir" \
                truncate:"$TESTDIR/rw/file" unlink:"$TESTDIR/rw/new" exec:"$TESTDIR/rw/prog" \
                read:"$TESTDIR/other/file" list:"$TESTDIR/other" exec:"$TESTDIR/other/prog" read:/proc/self/status
        assert_success
        assert_output "read $TESTDIR/ro/file OK
list $TESTDIR/ro OK
write $TESTDIR/ro/file EACCES
truncate $TESTDIR/ro/file EACCES
create $TESTDIR/ro/new EACCES
exec $TESTDIR/ro/prog EACCES
read $TESTDIR/exec/file OK
exec $TESTDIR/exec/prog OK
write $TESTDIR/exec/file EACCES
read $TESTDIR/rw/file OK
write $TESTDIR/rw/file OK
create $TESTDIR/rw/new OK
mkdir $TESTDIR/rw/dir OK
truncate $TESTDIR/rw/file OK
unlink $TESTDIR/rw/new OK
exec $TESTDIR/rw/prog EACCES
read $TESTDIR/other/file EACCES
list $TESTDIR/other EACCES
exec $TESTDIR/other/prog EACCES
read /proc/self/status EACCES"
        # nothing was written where it was refused
        assert_equal "$(cat "$TESTDIR/ro/file")" ro
        [ ! -e "$TESTDIR/ro/new" ]
}

@test "Landlock-only mode: the command runs in place, in the caller's namespaces, with its exit status" {
        local outside
        outside=$(readlink /proc/self/ns/mnt /proc/self/ns/user /proc/self/ns/pid /proc/self/ns/net)
        run probe_in_place --landlock-ro /proc sh -c 'readlink /proc/self/ns/mnt /proc/self/ns/user /proc/self/ns/pid /proc/self/ns/net; exit 7'
        assert_failure 7
        assert_output "$outside"
        # the working directory is the caller's, relative paths are the command's
        cd "$TESTDIR"
        run probe_in_place --landlock-rw rw python3 -c "$PROBE" write:rw/file write:ro/file
        assert_success
        assert_output "write rw/file OK
write ro/file EACCES"
}

@test "--landlock: the plan's read-only binds are readable and executable, its tmpfs and --bind writable, nothing else" {
        run csand_min --landlock --bind "$TESTDIR/rw" /rw --ro-bind "$TESTDIR/ro" /ro --tmpfs /tmp --dir /d \
                --proc /proc python3 -c "$PROBE" \
                read:/ro/file exec:/ro/prog write:/ro/file read:/rw/file write:/rw/file create:/rw/new exec:/rw/prog \
                create:/tmp/x unlink:/tmp/x create:/x create:/d/x list:/ read:/proc/self/status
        assert_success
        # / and --dir are writable mounts-wise (the new root is a tmpfs):
        # Landlock refuses; /ro is refused by the mount first (EROFS)
        assert_output "read /ro/file OK
exec /ro/prog OK
write /ro/file EROFS
read /rw/file OK
write /rw/file OK
create /rw/new OK
exec /rw/prog OK
create /tmp/x OK
unlink /tmp/x OK
create /x EACCES
create /d/x EACCES
list / OK
read /proc/self/status OK"
        # without --landlock the same plan lets the command write / and /d
        run csand_min --bind "$TESTDIR/rw" /rw --tmpfs /tmp --dir /d python3 -c "$PROBE" create:/x create:/d/x
        assert_success
        assert_output "create /x OK
create /d/x OK"
}

@test "--landlock: device ioctls where --dev allows devices, refused on a device named by --landlock-rw" {
        run csand_min --landlock --dev /dev python3 -c "$PROBE" ioctl:/dev/null write:/dev/null
        assert_success
        # ENOTTY: the ioctl reached /dev/null's driver
        assert_output "ioctl /dev/null ENOTTY
write /dev/null OK"
        run probe_in_place --landlock-rw /dev/null python3 -c "$PROBE" ioctl:/dev/null write:/dev/null
        assert_success
        assert_output "ioctl /dev/null EACCES
write /dev/null OK"
}

@test "--landlock holds when the command remounts a --ro-bind read-write, bind-mounts or renames around it" {
        require_userns
        local sandbox=(--unshare-user --uid 0 --cap-add CAP_SYS_ADMIN --ro-bind "$TESTDIR/ro" /ro --tmpfs /tmp --dir /tmp/again)
        local probes=(remount:/ro write:/ro/file bindmount:"/ro>/tmp/again" rename:"/ro/file>/ro/moved")
        # Without Landlock, CAP_SYS_ADMIN in the sandbox's user namespace undoes the read-only bind.
        run csand_min "${sandbox[@]}" python3 -c "$PROBE" "${probes[@]}"
        assert_success
        assert_output "remount /ro OK
write /ro/file OK
bindmount /ro>/tmp/again OK
rename /ro/file>/ro/moved OK"
        mv "$TESTDIR/ro/moved" "$TESTDIR/ro/file"
        echo ro >"$TESTDIR/ro/file"

        # Landlock forbids changing the mount topology (EPERM); the write and
        # the rename then meet the read-only mount
        run csand_min --landlock "${sandbox[@]}" python3 -c "$PROBE" "${probes[@]}"
        assert_success
        assert_output "remount /ro EPERM
write /ro/file EROFS
bindmount /ro>/tmp/again EPERM
rename /ro/file>/ro/moved EROFS"
        assert_equal "$(cat "$TESTDIR/ro/file")" ro
}

@test "renames and links don't move files out of a read-only path into a writable one" {
        run probe_in_place --landlock-ro "$TESTDIR/ro" --landlock-rw "$TESTDIR/rw" python3 -c "$PROBE" \
                rename:"$TESTDIR/ro/file>$TESTDIR/rw/stolen" rename:"$TESTDIR/rw/file>$TESTDIR/ro/planted" \
                rename:"$TESTDIR/rw/file>$TESTDIR/rw/renamed" link:"$TESTDIR/ro/file>$TESTDIR/rw/linked"
        assert_success
        assert_output "rename $TESTDIR/ro/file>$TESTDIR/rw/stolen EACCES
rename $TESTDIR/rw/file>$TESTDIR/ro/planted EACCES
rename $TESTDIR/rw/file>$TESTDIR/rw/renamed OK
link $TESTDIR/ro/file>$TESTDIR/rw/linked EXDEV"
        [ -e "$TESTDIR/ro/file" ]
}

@test "--landlock-tcp-connect and --landlock-tcp-bind: the ports given and no others" {
        local base=$((20000 + RANDOM % 20000))
        # in a network namespace of its own, where nothing else listens
        run csand_min --unshare-net --landlock-tcp-connect "$base-$((base + 1))" --landlock-tcp-bind "$((base + 2))" \
                python3 -c "$PROBE" \
                connect:"$base" connect:"$((base + 1))" connect:"$((base + 2))" bind:"$((base + 2))" bind:"$((base + 3))"
        assert_success
        # ECONNREFUSED: the connect reached the (closed) port
        assert_output "connect $base ECONNREFUSED
connect $((base + 1)) ECONNREFUSED
connect $((base + 2)) EACCES
bind $((base + 2)) OK
bind $((base + 3)) EACCES"
        # connect rules leave bind alone
        run csand_min --unshare-net --landlock-tcp-connect "$base" python3 -c "$PROBE" bind:"$((base + 3))"
        assert_success
        assert_output "bind $((base + 3)) OK"
        # in place, on the host's network: refused before anything is sent
        run probe_in_place --landlock-tcp-connect "$base" python3 -c "$PROBE" connect:"$((base + 1))"
        assert_success
        assert_output "connect $((base + 1)) EACCES"
}

# Listens on the abstract unix socket @NAME on the host, answering "hello"
# to whoever connects; prints nothing. The listener's pid is in $listener.
start_abstract_listener() {
        python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind("\0" + sys.argv[1])
s.listen(8)
open(sys.argv[2], "w").write("ready")
while True:
    c, _ = s.accept()
    c.sendall(b"hello")
    c.close()' "$1" "$TESTDIR/listener-ready" 3>&- &
        listener=$!
        wait_for_file "$TESTDIR/listener-ready"
}

@test "--scope-abstract-sockets blocks a host abstract socket under --share-net" {
        local name="csand-test-$CSAND_TOKEN"
        start_abstract_listener "$name"
        local connect='
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("\0" + sys.argv[1]); print(s.recv(5).decode())
except OSError as e:
    print(e.strerror)'
        run csand_min --unshare-all --share-net python3 -c "$connect" "$name"
        assert_output "hello"
        run csand_min --unshare-all --share-net --scope-abstract-sockets python3 -c "$connect" "$name"
        assert_output "Operation not permitted"
        # the command's own abstract sockets still work
        run csand_min --unshare-all --share-net --scope-abstract-sockets python3 -c '
import socket
a = socket.socket(socket.AF_UNIX); a.bind("\0own-'"$CSAND_TOKEN"'"); a.listen(1)
b = socket.socket(socket.AF_UNIX); b.connect("\0own-'"$CSAND_TOKEN"'"); print("connected")'
        assert_output "connected"
        kill "$listener"
        wait "$listener" || true
        listener=
}

@test "--scope-signals: no signals to processes outside the sandbox" {
        sleep 1000 3>&- &
        victim=$!
        run probe_in_place --scope-signals python3 -c "$PROBE" kill:"$victim"
        assert_success
        assert_output "kill $victim EPERM"
        kill -0 "$victim"
        # the command may still signal its own children
        run probe_in_place --scope-signals python3 -c "$PROBE" killchild:/usr/bin/sleep
        assert_output "killchild /usr/bin/sleep OK"
        run probe_in_place python3 -c "$PROBE" kill:"$victim"
        assert_output "kill $victim OK"
        wait "$victim" || true
        victim=
}

@test "--json-status-fd and --info-fd report the ABI, the mode and what is enforced" {
        local abi
        abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))')
        csand_min --landlock --scope-signals --info-fd 3 true 3>"$TESTDIR/info"
        run cat "$TESTDIR/info"
        assert_output --partial '"landlock": {
        "abi": '"$abi"',
        "mode": "namespaces",
        "enforced": ["filesystem", "truncate", "ioctl-dev", "scope-signal"],
        "not-enforced": []
    }'
        probe_in_place --landlock-tcp-bind 1 --json-status-fd 3 true 3>"$TESTDIR/status"
        python3 -c 'import json, sys
docs = [json.loads(d) for d in sys.stdin.read().replace("}\n{", "}\0{").split("\0")]
ll = docs[0]["landlock"]
assert ll["mode"] == "in-place", ll
assert ll["enforced"] == ["filesystem", "truncate", "tcp-bind", "ioctl-dev"], ll
assert not any(k.endswith("-namespace") for k in docs[0]), docs[0]
assert docs[-1] == {"exit-code": 0}, docs' <"$TESTDIR/status"
        # nothing about Landlock unless it was asked for
        csand_min --info-fd 3 true 3>"$TESTDIR/info"
        run cat "$TESTDIR/info"
        refute_output --partial landlock
}

# csand on a pretend kernel: enosys WORDS -- csand ...
csand_on() {
        local words=$1
        shift
        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$CSAND_BUILD_DIR/tests/enosys" "$words" -- "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "$@"
}

@test "older ABIs: a clear error naming what the kernel can't enforce" {
        run --separate-stderr csand_on landlock-abi=3 --landlock-exec /usr --landlock-tcp-connect 443 --scope-signals true
        assert_csand_error
        assert_equal "$msg" "csand: this kernel's Landlock (ABI 3) can't enforce --landlock-tcp-connect 443 (ABI 4), device ioctls (ABI 5), --scope-signals (ABI 6); --landlock-best-effort runs without them"
        run --separate-stderr csand_on landlock-abi=5 "${csand_min_root[@]}" --landlock --scope-abstract-sockets true
        assert_csand_error
        assert_equal "$msg" "csand: this kernel's Landlock (ABI 5) can't enforce --scope-abstract-sockets (ABI 6); --landlock-best-effort runs without it"
        run --separate-stderr csand_on landlock-abi=2 "${csand_min_root[@]}" --landlock true
        assert_csand_error
        assert_equal "$msg" "csand: this kernel's Landlock (ABI 2) can't enforce truncation outside writable paths (ABI 3), device ioctls (ABI 5); --landlock-best-effort runs without them"
        run --separate-stderr csand_on landlock_create_ruleset --landlock-ro /usr true
        assert_csand_error
        assert_equal "$msg" "csand: Landlock, not in this kernel, can't enforce --landlock-ro /usr, truncation outside writable paths, device ioctls; --landlock-best-effort runs without them"
        run --separate-stderr csand_on landlock-off --scope-signals true
        assert_csand_error
        assert_equal "$msg" "csand: Landlock, disabled at boot, can't enforce --scope-signals; --landlock-best-effort runs without it"
        # what the pretend kernel has is enough: it runs
        run csand_on landlock-abi=4 --landlock-exec /usr --landlock-tcp-connect 1 --landlock-best-effort python3 -c "$PROBE" connect:2
        assert_success
}

@test "older ABIs under --landlock-best-effort: one warning, and what the ABI has is still enforced" {
        # (port 0: nothing can listen there, so without the rule: ECONNREFUSED)
        local port=$((20000 + RANDOM % 20000))
        run --separate-stderr csand_on landlock-abi=3 --landlock-best-effort --landlock-exec /usr --landlock-tcp-connect "$port" \
                --json-status-fd 3 python3 -c "$PROBE" connect:0 write:"$TESTDIR/rw/file" 3>"$TESTDIR/status"
        assert_success
        assert_equal "$stderr" "csand: warning: this kernel's Landlock (ABI 3) does not enforce --landlock-tcp-connect $port (ABI 4), device ioctls (ABI 5)"
        # the connect rule is not enforced; the file rules are
        assert_output "connect 0 ECONNREFUSED
write $TESTDIR/rw/file EACCES"
        # (JSON lines: one object per line)
        run grep -o '"landlock": {[^}]*}' "$TESTDIR/status"
        assert_output '"landlock": { "abi": 3, "mode": "in-place", "enforced": ["filesystem", "truncate"], "not-enforced": ["tcp-connect", "ioctl-dev"] }'
        # ABI 1: no REFER right, no truncate right: the ruleset the
        # pretend kernel checks holds only ABI 1's rights
        run --separate-stderr csand_on landlock-abi=1 "${csand_min_root[@]}" --landlock-best-effort --landlock --tmpfs /tmp \
                python3 -c "$PROBE" create:/tmp/x create:/x
        assert_success
        assert_equal "${#stderr_lines[@]}" 1
        assert_output "create /tmp/x OK
create /x EACCES"
        # no Landlock at all: the command runs, unconfined, after the warning
        run --separate-stderr csand_on landlock_create_ruleset --landlock-best-effort --landlock-ro /usr true
        assert_success
        assert_equal "$stderr" "csand: warning: Landlock, not in this kernel, does not enforce --landlock-ro /usr, truncation outside writable paths, device ioctls"
}

@test "bad input: one csand: line and exit status 1" {
        local bad
        for bad in "--landlock-tcp-connect abc" "--landlock-tcp-connect 65536" "--landlock-tcp-bind -5" \
                   "--landlock-tcp-bind 10-" "--landlock-tcp-connect 1-2-3"; do
                # shellcheck disable=SC2086
                run --separate-stderr csand $bad true
                assert_csand_error
                [[ $msg == "csand: ${bad% *} takes PORT or FIRST-LAST, ports 0 to 65535, not ${bad#* }" ]] || fail "$bad: $msg"
        done
        run --separate-stderr csand --landlock-tcp-bind 9-3 true
        assert_csand_error
        assert_equal "$msg" "csand: --landlock-tcp-bind: port range 9-3 is reversed (FIRST-LAST, FIRST <= LAST)"
        run --separate-stderr csand --landlock-ro "" true
        assert_csand_error
        assert_equal "$msg" "csand: --landlock-ro takes a path, not an empty string"
        run --separate-stderr csand --landlock-rw
        assert_csand_error
        assert_equal "$msg" "csand: --landlock-rw takes an argument"
        run --separate-stderr csand --landlock-everything true
        assert_csand_error
        assert_equal "$msg" "csand: Unknown option --landlock-everything"
        run --separate-stderr csand --landlock-best-effort true
        assert_csand_error
        assert_equal "$msg" "csand: --landlock-best-effort requires a Landlock rule (--landlock, --landlock-ro, ...)"
        # missing paths, in place and inside a new root (as the command sees them)
        run --separate-stderr csand --landlock-exec /usr --landlock-ro "$TESTDIR/missing" true
        assert_csand_error
        assert_equal "$msg" "csand: --landlock-ro $TESTDIR/missing: No such file or directory"
        run --separate-stderr csand_min --landlock-rw /missing true
        assert_csand_error
        assert_equal "$msg" "csand: --landlock-rw /missing: No such file or directory"
}
