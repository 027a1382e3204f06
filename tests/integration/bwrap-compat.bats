#!/usr/bin/env bats
# bwrap 0.11 options beyond the core launcher (issue 3), checked from outside.

load ../lib/common

@test "--args reads NUL-separated options from an fd" {
        printf -- '--setenv\0FOO\0from-args\0--chdir\0/usr\0' >"$TESTDIR/args"
        run csand_min --args 10 sh -c 'echo "$FOO $PWD"' 10<"$TESTDIR/args"
        assert_success
        assert_output "from-args /usr"
}

@test "--args may not nest, nor hold the command" {
        printf -- '--args\0%s\0' 11 >"$TESTDIR/nested"
        run csand_min --args 10 true 10<"$TESTDIR/nested" 11</dev/null
        assert_failure 1
        assert_output "csand: --args not supported in arguments file"

        printf -- '--unshare-ipc\0true\0' >"$TESTDIR/cmd"
        run csand_min --args 10 true 10<"$TESTDIR/cmd"
        assert_failure 1
        assert_output --partial 'csand: --args data may only hold options'
}

@test "--args: at most 9000 arguments" {
        python3 -c 'import sys; sys.stdout.write("--unshare-ipc\0" * 9001)' >"$TESTDIR/many"
        run csand_min --args 10 true 10<"$TESTDIR/many"
        assert_failure 1
        assert_output "csand: Exceeded maximum number of arguments 9000"
}

@test "--argv0 sets the command's argv[0]" {
        run csand_min --argv0 chosen-name sh -c 'echo $0'
        assert_success
        assert_output "chosen-name"
}

@test "--level-prefix adds syslog-style prefixes" {
        run csand_min --level-prefix --bind /nonexistent-csand-src /x true
        assert_failure 1
        assert_output --regexp '^<3>csand: Can.t find source path /nonexistent-csand-src'
}

@test "--file copies an fd's data into a new file, with --perms" {
        printf 'file data\n' >"$TESTDIR/data"
        run csand_min --perms 0640 --file 10 /etc/x sh -c 'cat /etc/x; stat -c %a /etc/x' 10<"$TESTDIR/data"
        assert_success
        assert_output $'file data\n640'
}

@test "--bind-data and --ro-bind-data bind data over existing read-only paths" {
        printf 'rw data\n' >"$TESTDIR/rw"
        printf 'ro data\n' >"$TESTDIR/ro"
        run csand_min --ro-bind /etc /etc --ro-bind-data 10 /etc/hostname --bind-data 11 /rw-data \
                sh -c 'cat /etc/hostname /rw-data; echo more >>/rw-data && cat /rw-data;
                       (echo x >/etc/hostname) 2>/rw-err || echo "ro: refused"; ls -a / | grep -c csand || true' \
                10<"$TESTDIR/ro" 11<"$TESTDIR/rw"
        assert_success
        assert_line --index 0 "ro data"
        assert_line --index 1 "rw data"
        assert_line --index 3 "more"
        assert_line --index 4 "ro: refused"
        # the scratch space used for the data is not visible inside
        assert_line --index 5 "0"
        # and the host's files are untouched
        assert_equal "$(cat /etc/hostname)" "$(hostname)"
}

@test "--bind-fd binds an open directory, --ro-bind-fd read-only" {
        mkdir "$TESTDIR/d"
        echo hello >"$TESTDIR/d/in"
        run csand_min --bind-fd 10 /mnt sh -c 'cat /mnt/in; echo written >/mnt/out' 10<"$TESTDIR/d"
        assert_success
        assert_output "hello"
        assert_equal "$(cat "$TESTDIR/d/out")" "written"

        run csand_min --ro-bind-fd 10 /mnt sh -c 'echo x >/mnt/out2' 10<"$TESTDIR/d"
        assert_failure
        assert_output --partial "Read-only file system"
        [ ! -e "$TESTDIR/d/out2" ]
}

@test "--bind-fd refuses an fd whose path now names another file (symlink swap)" {
        mkdir "$TESTDIR/real" "$TESTDIR/other"
        run python3 - "$CSAND" "$TESTDIR" "${csand_min_root[@]}" <<'PY'
import os, subprocess, sys
csand, d = sys.argv[1], sys.argv[2]
fd = os.open(d + "/real", os.O_RDONLY | os.O_DIRECTORY)
# swap: the fd keeps the original directory, its old path now names another
os.rename(d + "/real", d + "/moved")
os.rename(d + "/other", d + "/real")
open(d + "/moved/marker", "w").close()
p = subprocess.run([csand] + sys.argv[3:] + ["--bind-fd", str(fd), "/mnt", "ls", "/mnt"],
                   pass_fds=[fd], capture_output=True, text=True)
print(p.returncode, p.stdout.strip(), p.stderr.strip())
PY
        assert_success
        # The bind must be the moved directory the fd holds, never the
        # swapped-in one: either it follows the fd, or csand refuses.
        if [[ "$output" == 0* ]]; then
                assert_output "0 marker "
        else
                assert_output --partial "Race condition binding fd"
        fi
}

@test "--seccomp loads a BPF program from an fd" {
        require_x86_64
        write_uname_filter "$TESTDIR/bpf"
        run csand_min --seccomp 10 uname 10<"$TESTDIR/bpf"
        assert_failure
        assert_output --partial "Operation not permitted"
        run csand_min uname
        assert_success
}

@test "--add-seccomp-fd stacks programs" {
        require_x86_64
        write_uname_filter "$TESTDIR/bpf"
        run csand_min --add-seccomp-fd 10 --add-seccomp-fd 11 sh -c 'uname || echo refused; echo alive' \
                10<"$TESTDIR/bpf" 11<"$TESTDIR/bpf"
        assert_success
        assert_line "refused"
        assert_line "alive"
}

@test "seccomp: bad input" {
        write_uname_filter "$TESTDIR/bpf"
        printf '12345' >"$TESTDIR/short"
        run csand_min --seccomp 10 true 10<"$TESTDIR/short"
        assert_failure 1
        assert_output "csand: Invalid seccomp data, must be multiple of 8"
        run csand_min --seccomp 10 true 10</dev/null
        assert_failure 1
        assert_output "csand: Invalid seccomp data on fd 10: empty"
        run csand_min --seccomp 10 --add-seccomp-fd 11 true 10<"$TESTDIR/bpf" 11<"$TESTDIR/bpf"
        assert_failure 1
        assert_output "csand: --add-seccomp-fd cannot be combined with --seccomp"
        run csand_min --add-seccomp-fd 11 --seccomp 10 true 10<"$TESTDIR/bpf" 11<"$TESTDIR/bpf"
        assert_failure 1
        assert_output "csand: --seccomp cannot be combined with --add-seccomp-fd"
}

@test "fd options: invalid and closed fds" {
        for opt in --file --bind-data --ro-bind-data --bind-fd --ro-bind-fd; do
                run csand_min "$opt" -1 /x true
                assert_failure 1
                assert_output "csand: Invalid fd: -1"
                run csand_min "$opt" abc /x true
                assert_failure 1
                assert_output "csand: Invalid fd: abc"
        done
        for opt in --seccomp --add-seccomp-fd --info-fd --json-status-fd --sync-fd --block-fd --userns --pidns; do
                run closefds "$CSAND" "${csand_min_root[@]}" "$opt" 77 true
                assert_failure 1
                assert_output "csand: Can't use fd 77 for $opt: Bad file descriptor"
        done
}

# csand opens no fd of its own before it reads its options (the user
# namespaces it makes, utils/userns.h, are opened right before the
# clone): with the caller's fds above stdio closed, fds 3 to 7 are not
# open when options are read. An option naming one must fail as it does
# for any fd the caller did not hand over, never read or write csand's.
@test "fd options: csand's own fds are not the caller's" {
        local opt fd
        for fd in 3 4 5 6; do
                for opt in --seccomp --add-seccomp-fd --info-fd --json-status-fd --sync-fd --block-fd --userns --pidns \
                        --userns-block-fd; do
                        run closefds "$CSAND" "${csand_min_root[@]}" "$opt" "$fd" true
                        assert_failure 1
                        assert_output "csand: Can't use fd $fd for $opt: Bad file descriptor"
                done
                for opt in --file --bind-data --ro-bind-data --bind-fd --ro-bind-fd; do
                        run closefds "$CSAND" "${csand_min_root[@]}" "$opt" "$fd" /x true
                        assert_failure 1
                        assert_output "csand: Can't use fd $fd for $opt: Bad file descriptor"
                done
                run closefds "$CSAND" --args "$fd" "${csand_min_root[@]}" true
                assert_failure 1
                assert_output "csand: Can't read --args from fd $fd: Bad file descriptor"
        done
        # with --dev on the command line, a nested namespace too: 3 to 7
        for fd in 3 4 5 6 7; do
                run closefds "$CSAND" "${csand_min_root[@]}" --dev /dev --info-fd "$fd" true
                assert_failure 1
                assert_output "csand: Can't use fd $fd for --info-fd: Bad file descriptor"
        done
}

@test "--info-fd writes the child's pid and namespace ids as JSON" {
        run csand_min --unshare-all --info-fd 10 true 10>"$TESTDIR/info"
        assert_success
        run python3 -c '
import json, sys
info = json.load(open(sys.argv[1]))
assert isinstance(info["child-pid"], int) and info["child-pid"] > 0, info
for ns in ("ipc", "mnt", "net", "pid", "uts"):
    assert isinstance(info[ns + "-namespace"], int), (ns, info)
print("ok")' "$TESTDIR/info"
        assert_success
        assert_output "ok"
}

@test "--info-fd and --json-status-fd: the command waits until the info is written" {
        # The namespace ids are read from /proc/CHILD/ns, which vanish when the
        # child exits; a command that ran ahead of the monitor left them out
        # (seen under ASan). A full pipe holds the monitor before it writes.
        for opt in --info-fd --json-status-fd; do
                run python3 - "$CSAND" "$TESTDIR" "$opt" "${csand_min_root[@]}" <<'PY'
import fcntl, json, os, subprocess, sys, time
csand, d, opt = sys.argv[1:4]
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, os.O_NONBLOCK)
filled = 0
try:
    while True:
        filled += os.write(w, b"x" * 4096)
except BlockingIOError:
    pass
fcntl.fcntl(w, fcntl.F_SETFL, 0)
p = subprocess.Popen([csand] + sys.argv[4:] + ["--unshare-all", "--bind", d, "/t", opt, str(w),
                      "touch", "/t/ran"], pass_fds=[w])
os.close(w)
time.sleep(0.5)
print("held" if not os.path.exists(d + "/ran") else "ran early")
data = b""
while chunk := os.read(r, 65536):
    data += chunk
p.wait()
info = json.JSONDecoder().raw_decode(data[filled:].decode())[0]
print(sorted(k for k in info if k.endswith("-namespace")), p.returncode)
os.unlink(d + "/ran")
PY
                assert_success
                assert_output "held
['cgroup-namespace', 'ipc-namespace', 'mnt-namespace', 'net-namespace', 'pid-namespace', 'uts-namespace'] 0"
        done
}

@test "--json-status-fd streams JSON ending with the exit code" {
        run csand_min --unshare-pid --json-status-fd 10 sh -c 'exit 42' 10>"$TESTDIR/status"
        assert_failure 42
        run python3 -c '
import json, sys
text = open(sys.argv[1]).read()
dec, i, docs = json.JSONDecoder(), 0, []
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    doc, i = dec.raw_decode(text, i)
    docs.append(doc)
assert docs[0]["child-pid"] > 0, docs
assert docs[-1] == {"exit-code": 42}, docs
print(len(docs))' "$TESTDIR/status"
        assert_success
        assert_output "2"

        run csand_min --json-status-fd 10 sh -c 'kill -KILL $$' 10>"$TESTDIR/status"
        assert_failure 137
        run tail -n1 "$TESTDIR/status"
        assert_output '{ "exit-code": 137 }'
}

@test "--block-fd holds the command until data arrives" {
        run python3 - "$CSAND" "$TESTDIR" "${csand_min_root[@]}" <<'PY'
import os, subprocess, sys, time
csand, d = sys.argv[1], sys.argv[2]
r, w = os.pipe()
p = subprocess.Popen([csand] + sys.argv[3:] + ["--bind", d, "/t", "--block-fd", str(r),
                      "sh", "-c", "touch /t/ran"], pass_fds=[r])
os.close(r)
time.sleep(0.5)     # the sandbox is set up by now; the command must not have run
print("held" if not os.path.exists(d + "/ran") else "ran early")
os.write(w, b"x")
p.wait()
print("ran" if os.path.exists(d + "/ran") else "never ran", p.returncode)
PY
        assert_success
        assert_output $'held\nran 0'
}

@test "--userns-block-fd lets the caller write the maps" {
        require_unprivileged "the caller writes the child's maps as an ordinary user"
        run python3 - "$CSAND" "${csand_min_root[@]}" <<'PY'
import json, os, subprocess, sys
info_r, info_w = os.pipe()
block_r, block_w = os.pipe()
p = subprocess.Popen([sys.argv[1]] + sys.argv[2:] + ["--unshare-user", "--info-fd", str(info_w),
                      "--userns-block-fd", str(block_r), "sh", "-c", "id -u; id -g"],
                     pass_fds=[info_w, block_r], stdout=subprocess.PIPE, text=True)
os.close(info_w)
os.close(block_r)
child = json.loads(os.read(info_r, 65536))["child-pid"]
for name, data in (("setgroups", "deny"), ("uid_map", f"0 {os.getuid()} 1"), ("gid_map", f"0 {os.getgid()} 1")):
    with open(f"/proc/{child}/{name}", "w") as f:
        f.write(data)
os.write(block_w, b"x")
out, _ = p.communicate()
print(out.split(), p.returncode)
PY
        assert_success
        assert_output "['0', '0'] 0"
}

@test "--userns-block-fd requires --unshare-user and --info-fd, in bwrap's order" {
        run csand_min --userns-block-fd 0 true
        assert_failure 1
        assert_output "csand: --userns-block-fd requires --unshare-user"
        run csand_min --unshare-user --userns-block-fd 0 true
        assert_failure 1
        assert_output "csand: --userns-block-fd requires --info-fd"
}

@test "--sync-fd is held open by the sandbox for as long as it runs" {
        run python3 - "$CSAND" "${csand_min_root[@]}" <<'PY'
import os, select, subprocess, sys
r, w = os.pipe()
p = subprocess.Popen(sys.argv[1:] + ["--unshare-pid", "--sync-fd", str(w), "sleep", "1"], pass_fds=[w])
os.close(w)
ready, _, _ = select.select([r], [], [], 0.3)
print("open while running" if not ready else "closed early")
p.wait()
ready, _, _ = select.select([r], [], [], 10)
print("eof after exit" if ready and os.read(r, 1) == b"" else "still open")
PY
        assert_success
        assert_output $'open while running\neof after exit'
}

@test "--lock-file holds a lock while the sandbox runs" {
        touch "$TESTDIR/lock"
        run python3 - "$CSAND" "$TESTDIR" "${csand_min_root[@]}" <<'PY'
import fcntl, subprocess, sys, time
csand, d = sys.argv[1], sys.argv[2]
p = subprocess.Popen([csand] + sys.argv[3:] + ["--bind", d, "/t", "--lock-file", "/t/lock",
                      "--block-fd", "0", "true"], stdin=subprocess.PIPE)
f = open(d + "/lock", "w")
for _ in range(100):     # wait until the sandbox holds it
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(f, fcntl.LOCK_UN)
        time.sleep(0.05)
    except OSError:
        print("locked while running")
        break
p.stdin.write(b"x"); p.stdin.close(); p.wait()
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("free after exit")
PY
        assert_success
        assert_output $'locked while running\nfree after exit'
}

@test "--lock-file is opened in the finished root, wherever it stands, as bwrap's pid 1 does" {
        # before the bind that makes the path exist
        run csand --lock-file /usr/lib/os-release "${csand_min_root[@]}" -- true
        assert_success
}

@test "--cap-add and --cap-drop, by name with or without CAP_, and ALL" {
        run csand_min --proc /proc --unshare-pid --cap-add CAP_NET_RAW --cap-add sys_chroot \
                sh -c 'grep -E "^Cap(Eff|Bnd|Amb)" /proc/self/status'
        assert_success
        # bits 13 (NET_RAW) and 18 (SYS_CHROOT): 0x42000
        assert_line --regexp '^CapEff:[[:space:]]+0000000000042000$'
        assert_line --regexp '^CapBnd:[[:space:]]+0000000000042000$'
        assert_line --regexp '^CapAmb:[[:space:]]+0000000000042000$'

        run csand_min --proc /proc --unshare-pid --cap-add ALL --cap-drop CAP_SYS_ADMIN \
                sh -c 'grep ^CapEff /proc/self/status'
        assert_success
        local eff=${output##*[[:space:]]}
        (( (0x$eff >> 21) & 1 )) && fail "CAP_SYS_ADMIN still there: $eff"
        (( (0x$eff >> 12) & 1 )) || fail "CAP_NET_ADMIN missing: $eff"

        run csand_min --cap-add CAP_NO_SUCH true
        assert_failure 1
        assert_output "csand: unknown cap: CAP_NO_SUCH"
}

@test "--exec-label and --file-label: without SELinux, bwrap's error" {
        run csand_min --exec-label system_u:object_r:foo_t:s0 true
        assert_failure 1
        assert_output "csand: labeling not supported on this system"
        run csand_min --file-label x true
        assert_failure 1
        assert_output "csand: labeling not supported on this system"
}

@test "--disable-userns stops the command from creating user namespaces" {
        require_userns
        run csand_min --unshare-user --disable-userns sh -c 'unshare -U true 2>&1; echo rc=$?; id -u'
        assert_success
        assert_line --partial "No space left on device"
        assert_line "rc=1"
        assert_line "$(id -u)"
        run csand_min --unshare-user --disable-userns --assert-userns-disabled true
        assert_success
}

@test "--assert-userns-disabled fails when user namespaces are still allowed" {
        require_userns
        run csand_min --unshare-user --assert-userns-disabled true
        assert_failure 1
        assert_output "csand: creation of new user namespaces was not disabled as requested"
}

@test "--userns and --userns2 join the caller's user namespaces" {
        require_unprivileged "needs user namespaces made by an ordinary user"
        unshare --user --map-root-user sh -c \
                'unshare --user --map-root-user --map-user=4242 --map-group=4242 sleep 300 & echo $! >"$1"; wait' \
                sh "$TESTDIR/inner" >/dev/null 2>&1 3>&- &
        local outer=$!
        wait_for_file "$TESTDIR/inner"
        local inner_in_outer
        inner_in_outer=$(cat "$TESTDIR/inner")
        # that pid is in the outer shell's pid namespace, which is ours
        run csand_min --userns 10 sh -c 'id -u' 10<"/proc/$outer/ns/user"
        assert_success
        assert_output "0"
        run csand_min --userns 10 --userns2 11 sh -c 'id -u' 10<"/proc/$outer/ns/user" 11<"/proc/$inner_in_outer/ns/user"
        assert_success
        assert_output "4242"
        run csand_min --unshare-user --userns 10 true 10<"/proc/$outer/ns/user"
        assert_failure 1
        assert_output "csand: --userns not compatible --unshare-user"
        kill -KILL "$inner_in_outer" "$outer" 2>/dev/null || true
        wait "$outer" 2>/dev/null || true
}

@test "--pidns joins the caller's pid namespace" {
        require_unprivileged "needs namespaces made by an ordinary user"
        # --kill-child: the sleep (pid 1 there) must not outlive the test,
        # and no fd of bats' may stay open in it.
        unshare --user --map-root-user --pid --fork --kill-child sleep 300 >/dev/null 2>&1 3>&- &
        local pid=$!
        local target
        for _ in $(seq 100); do
                target=$(pgrep -P "$pid" -x sleep || true)
                [ -n "$target" ] && break
                sleep 0.1
        done
        [ -n "$target" ]
        run csand_min --userns 10 --pidns 11 --proc /proc sh -c 'cat /proc/1/comm' \
                10<"/proc/$target/ns/user" 11<"/proc/$target/ns/pid"
        kill -KILL "$target" "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        assert_success
        assert_output "sleep"
}

@test "a later --chdir wins, with a warning" {
        run csand_min --chdir /usr --chdir /usr/bin sh -c 'pwd'
        assert_success
        assert_line "csand: Only the last --chdir option will take effect"
        assert_line "/usr/bin"
}

@test "drop-in: a flatpak-style command line through csand linked as bwrap" {
        require_x86_64
        mkdir -p "$TESTDIR/bin" "$TESTDIR/app"
        ln -s "$CSAND" "$TESTDIR/bin/bwrap"
        write_uname_filter "$TESTDIR/bpf"
        printf 'flatpak-info\n' >"$TESTDIR/info-data"
        printf 'passwd data\n' >"$TESTDIR/passwd"
        run python3 - "$TESTDIR" <<'PY'
import json, os, subprocess, sys
d = sys.argv[1]
info_r, info_w = os.pipe()
files = {n: os.open(os.path.join(d, f), os.O_RDONLY) for n, f in
         (("seccomp", "bpf"), ("data", "info-data"), ("passwd", "passwd"))}
argv = [d + "/bin/bwrap",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/run/user/1000",
        "--bind", d + "/app", "/app",
        "--file", str(files["passwd"]), "/etc/passwd",
        "--ro-bind-data", str(files["data"]), "/.flatpak-info",
        "--setenv", "FLATPAK_ID", "org.example.App",
        "--unshare-all", "--die-with-parent", "--new-session",
        "--info-fd", str(info_w), "--seccomp", str(files["seccomp"]),
        "--", "sh", "-c",
        'echo "$FLATPAK_ID"; cat /.flatpak-info /etc/passwd; echo app >/app/out; '
        'ls /run/user; uname >/dev/null 2>&1 || echo uname-blocked; '
        'test "$(cat /proc/self/sessionid 2>/dev/null)" != x; ps -o sid= -p $$ | tr -d " "; ls /proc | grep -c "^[0-9]"']
p = subprocess.run(argv, pass_fds=[info_w] + list(files.values()), capture_output=True, text=True)
os.close(info_w)
info = json.loads(os.read(info_r, 65536))
print(p.returncode)
print(p.stdout, end="")
print("stderr:" + p.stderr.strip())
print("info-pid-ok" if info["child-pid"] > 0 and "net-namespace" in info else "info-bad")
PY
        assert_success
        assert_line --index 0 "0"
        assert_line --index 1 "org.example.App"
        assert_line --index 2 "flatpak-info"
        assert_line --index 3 "passwd data"
        assert_line --index 4 "1000"
        assert_line --index 5 "uname-blocked"
        assert_line "stderr:"
        assert_line "info-pid-ok"
        assert_equal "$(cat "$TESTDIR/app/out")" "app"
        # bwrap's messages and --version, as bwrap
        run "$TESTDIR/bin/bwrap" --no-such-option
        assert_failure 1
        assert_output "bwrap: Unknown option --no-such-option"
        run "$TESTDIR/bin/bwrap" --version
        assert_success
        assert_output --regexp '^bubblewrap [0-9]+\.[0-9]+\.[0-9]+ '
}
