#!/usr/bin/env bats
# The setuid escape battery: csand installed setuid root (CSAND is that
# copy: tests/setuid/run.sh runs this file in the setuid suite), attacked
# by the ordinary user who runs it. Every attack must fail. SECURITY.md,
# "Setuid mode", says what is defended and how.

load ../lib/common

setup() {
        common_setup
        require_setuid_attacker
}

# --- the privileged part and the worker ---------------------------------------

@test "the privileged part can't be ptraced, read, signalled or dumped while it waits" {
        run python3 "$CSAND_SOURCE_DIR/tests/security/setuid-attack.py" privileged "$CSAND"
        assert_success
        refute_line --partial ALLOWED
        assert_line "ptrace-attach refused"
        assert_line "process_vm_readv refused"
        assert_line "/proc/PID/mem refused"
        assert_line "/proc/PID/fd refused"
        assert_line "dumpable refused"
        assert_line "kill-SIGKILL refused"
        assert_line "exit 0"
}

@test "the worker, holding the sandbox's capabilities, can't be ptraced, read, dumped or entered" {
        run python3 "$CSAND_SOURCE_DIR/tests/security/setuid-attack.py" worker "$CSAND"
        assert_success
        refute_line --partial ALLOWED
        assert_line "ptrace-attach refused"
        assert_line "process_vm_readv refused"
        assert_line "/proc/PID/environ refused"
        assert_line "dumpable refused"
        assert_line "setns-userns refused"
        assert_line "exit 0"
}

@test "the sandbox's user namespace belongs to root: no process of the sandbox lets the caller in" {
        local namespaces="user mnt pid"
        if nouserns_mode; then
                # Setuid without user namespaces: the namespaces belong to
                # the initial one, pid 1 and the command are the caller's
                # with nothing; the caller may look at their namespaces but
                # not enter them.
                run csand_min --unshare-all --proc /proc python3 -c '
import os
print("user", "host" if os.readlink("/proc/self/ns/user") == os.readlink("/proc/1/ns/user") else "own")'
                assert_success
                assert_output "user host"
                namespaces="mnt pid net"
        else
                # Inside, the owner is someone the namespace doesn't map (not the caller).
                run csand_min --unshare-pid --proc /proc python3 -c '
import fcntl, os, struct
fd = os.open("/proc/self/ns/user", os.O_RDONLY)
buf = bytearray(4)
fcntl.ioctl(fd, 0xb704, buf)        # NS_GET_OWNER_UID
print("owner", struct.unpack("I", buf)[0])'
                assert_success
                assert_output "owner 65534"
        fi
        # Outside: pid 1 and the command are the caller's uid, but in a
        # user namespace the caller has no capability over.
        csand_min --unshare-all sh -c 'sleep 30; true' 3>&- &
        local pid
        pid=$(wait_for_process "$CSAND_TOKEN.*sleep 30") || fail "no sandbox"
        run python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for pid in sys.argv[2:]:
    for ns in sys.argv[1].split():
        try:
            fd = os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY)
        except PermissionError:
            print(ns, "refused")
            continue
        if libc.setns(fd, 0) == 0:
            print(ns, "ALLOWED")
        else:
            print(ns, "refused by setns:", os.strerror(ctypes.get_errno()))' "$namespaces" $(pgrep -P "$pid") $(pgrep -f -- "$CSAND_TOKEN")
        kill_leftover_processes
        assert_success
        refute_line --partial ALLOWED
        nouserns_mode || assert_line "user refused"
}

@test "the command runs as the caller with nothing: no capability, no_new_privs, real ids" {
        run csand_min --unshare-pid --proc /proc sh -c '
                grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):" /proc/self/status
                grep -E "^(Cap(Prm|Eff)):" /proc/1/status'
        assert_success
        refute_line --regexp 'Cap(Inh|Prm|Eff|Bnd|Amb):[[:space:]]+0*[1-9a-f]'
        assert_line --regexp 'NoNewPrivs:[[:space:]]+1'
}

@test "no csand process of root's is left once the sandbox runs" {
        run csand_min sh -c 'sleep 0.2; echo done'
        assert_success
        assert_output done
        run pgrep -u 0 -f -- "$CSAND_TOKEN"
        assert_failure
}

# --- options that would hand out privilege --------------------------------------

@test "refused: --cap-add, --userns/--userns2/--pidns (even of namespaces the caller can open), --userns-block-fd" {
        run -1 --separate-stderr csand_min --cap-add CAP_NET_ADMIN true
        assert_csand_error
        assert_equal "$stderr" "csand: --cap-add in setuid mode can be used only by root"
        run -1 --separate-stderr csand_min --userns 5 true 5</proc/self/ns/user
        assert_csand_error
        assert_equal "$stderr" "csand: --userns doesn't work in setuid mode"
        run -1 --separate-stderr csand_min --unshare-user --userns2 5 true 5</proc/self/ns/user
        assert_csand_error
        assert_equal "$stderr" "csand: --userns2 doesn't work in setuid mode"
        run -1 --separate-stderr csand_min --unshare-pid --pidns 5 true 5</proc/self/ns/pid
        assert_csand_error
        assert_equal "$stderr" "csand: --pidns doesn't work in setuid mode"
        run -1 --separate-stderr csand_min --userns-block-fd 5 --info-fd 6 true 5</dev/null 6>/dev/null
        assert_csand_error
        assert_equal "$stderr" "csand: --userns-block-fd doesn't work in setuid mode"
}

@test "refused: overlays, --image, network helpers, cgroup limits, --join" {
        run -1 --separate-stderr csand_min --overlay-src /usr --tmp-overlay /mnt true
        assert_csand_error
        assert_equal "$stderr" "csand: Overlays (--overlay, --tmp-overlay, --ro-overlay) are not permitted in setuid mode"
        run -1 --separate-stderr csand --image "$TESTDIR/none" true
        assert_csand_error
        assert_equal "$stderr" "csand: --image is not permitted in setuid mode"
        run -1 --separate-stderr csand_min --network slirp4netns true
        assert_csand_error
        assert_equal "$stderr" "csand: --network is not permitted in setuid mode"
        run -1 --separate-stderr csand_min --memory 100m true
        assert_csand_error
        assert_equal "$stderr" "csand: Resource limits (--memory, --cpus, --pids-limit, ...) are not permitted in setuid mode"
        run -1 --separate-stderr csand --join somebody true
        assert_csand_error
        assert_equal "$stderr" "csand: --join doesn't work in setuid mode"
}

@test "installed with file capabilities instead of the setuid bit: refused" {
        local filecaps="${CSAND%/*}/filecaps/csand"
        [ -x "$filecaps" ] || fail "no $filecaps (tests/run-tests.sh makes it with setcap)"
        run -1 --separate-stderr "$filecaps" --ro-bind / / true
        assert_csand_error
        assert_equal "$stderr" "csand: csand has file capabilities: install it setuid root (meson -Dsetuid=true) or without privileges"
}

@test "the worker's option is csand's own: a setuid start refuses it" {
        run -1 --separate-stderr "$CSAND" --privsep-worker=3,-1,0,0 --ro-bind / / true
        assert_csand_error
        assert_equal "$stderr" "csand: --privsep-worker= is csand's own"
}

@test "--info-fd names the sandbox's namespaces (read by the privileged part for the caller)" {
        run csand_min --unshare-all --proc /proc --info-fd 3 sh -c 'readlink /proc/self/ns/mnt /proc/self/ns/pid' 3>"$TESTDIR/info"
        assert_success
        local mnt pid
        mnt=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["mnt-namespace"])' "$TESTDIR/info")
        pid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid-namespace"])' "$TESTDIR/info")
        assert_line "mnt:[$mnt]"
        assert_line "pid:[$pid]"
}

# --- ids ---------------------------------------------------------------------

@test "--uid 0 (or any uid) is the caller outside: files it makes are the caller's" {
        mkdir "$TESTDIR/w"
        # Setuid without user namespaces: no other ids than the caller's
        if nouserns_mode; then
                run --separate-stderr csand_min --uid 0 --gid 0 true
                assert_needs_userns --uid
                run csand_min --bind "$TESTDIR/w" /w sh -c 'touch /w/f0; id -u; id -g'
                assert_success
                assert_output "$(id -u)
$(id -g)"
                [ "$(stat -c %u:%g "$TESTDIR/w/f0")" = "$(id -u):$(id -g)" ]
                return
        fi
        run csand_min --uid 0 --gid 0 --bind "$TESTDIR/w" /w sh -c 'touch /w/f0; id -u; id -g'
        assert_success
        assert_output "0
0"
        run csand_min --uid 4321 --dev /dev --unshare-pid --proc /proc --bind "$TESTDIR/w" /w sh -c 'touch /w/f1; id -u; cat /proc/self/uid_map'
        assert_success
        assert_line 4321
        # root is mapped to nobody for devpts, the caller's id to itself
        assert_line --regexp "^ +0 +65534 +1$"
        assert_line --regexp "^ +4321 +$(id -u) +1$"
        [ "$(stat -c %u "$TESTDIR/w/f0")" = "$(id -u)" ]
        [ "$(stat -c %u "$TESTDIR/w/f1")" = "$(id -u)" ]
        [ "$(stat -c %g "$TESTDIR/w/f0")" = "$(id -g)" ]
}

@test "files the caller can't read stay unreadable: binds are opened as the caller" {
        run csand_min --ro-bind /etc/shadow /s cat /s
        assert_failure
        refute_output --partial 'root:'
        run csand_min --ro-bind /root /r ls /r
        assert_failure
}

# --- the caller's environment, limits and arguments -----------------------------

@test "LD_PRELOAD and friends reach neither csand nor the command" {
        # preload-probe.c, built with the tests: it leaves pwned-EUID
        # next to itself wherever it is loaded
        local probe="$CSAND_BUILD_DIR/tests/preload-probe.so"
        [ -r "$probe" ] || fail "no $probe (built with the tests)"
        cp "$probe" "$TESTDIR/evil.so"
        # (control: an ordinary program loads it)
        env LD_PRELOAD="$TESTDIR/evil.so" true
        [ -e "$TESTDIR/pwned-$(id -u)" ] || fail "the probe did not work"
        rm "$TESTDIR/pwned-$(id -u)"
        run env LD_PRELOAD="$TESTDIR/evil.so" LD_LIBRARY_PATH="$TESTDIR" LD_AUDIT="$TESTDIR/evil.so" \
                GCONV_PATH="$TESTDIR" "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" \
                "${csand_min_root[@]}" sh -c 'env | grep -E "^(LD_|GCONV_PATH)" || echo clean'
        assert_success
        assert_output clean
        run ls "$TESTDIR"
        refute_output --partial pwned
}

@test "a huge --args is refused as bwrap refuses it; a huge argument is fine" {
        python3 -c 'import sys; sys.stdout.buffer.write(b"--setenv\0A\0B\0" * 4000)' >"$TESTDIR/args"
        run -1 --separate-stderr csand_min --args 5 true 5<"$TESTDIR/args"
        assert_csand_error
        assert_equal "$stderr" "csand: Exceeded maximum number of arguments 9000"
        local big
        big=$(head -c 100000 /dev/zero | tr '\0' x)
        run csand_min --setenv BIG "$big" sh -c 'printf %s "$BIG" | wc -c'
        assert_success
        assert_output 100000
}

@test "--args data is the same for the worker: options from it apply" {
        printf -- '--setenv\0FROM_ARGS\0yes\0' >"$TESTDIR/args"
        run csand_min --args 5 sh -c 'echo $FROM_ARGS' 5<"$TESTDIR/args"
        assert_success
        assert_output yes
}

@test "RLIMIT_NOFILE and RLIMIT_FSIZE set by the caller: a clean result, nothing of root's left" {
        # Too few fds, at each step: the caller's process, the privileged
        # part receiving the request (its fds cut off), the worker.
        local n
        for n in 5 6 7 8 9 10 12; do
                run --separate-stderr python3 -c '
import os, resource, sys
os.closerange(3, 65536)
n = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
os.execv(sys.argv[2], sys.argv[2:])' "$n" "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" true
                if [ "$status" -ne 0 ]; then
                        assert_csand_error
                fi
        done
        # RLIMIT_FSIZE binds csand's writes as the caller's, as without
        # setuid: no file written, a clean run; a --file written into the
        # sandbox's tmpfs kills the setup with SIGXFSZ (128+25).
        run sh -c 'ulimit -f 0; exec "$@"' sh "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" \
                "${csand_min_root[@]}" echo ran
        assert_success
        assert_output ran
        run sh -c 'ulimit -f 0; exec "$@"' sh "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" \
                "${csand_min_root[@]}" --file 5 /f cat /f 5<<<"hello"
        assert_failure 153
        run pgrep -u 0 -f -- "$CSAND_TOKEN"
        assert_failure
}

# --- paths ------------------------------------------------------------------------

@test "a caller-owned directory, swapped for a symlink to /etc, as a mount target stays inside" {
        ln -s /etc "$TESTDIR/target"
        run csand_min --ro-bind /etc /etc --bind "$TESTDIR" "$TESTDIR" --tmpfs "$TESTDIR/target" \
                sh -c 'touch '"$TESTDIR"'/target/planted && echo made'
        assert_success
        assert_output made
        [ ! -e /etc/planted ]
}

@test "/proc/self/exe and /proc/1/exe: csand's binary can't be written or replaced from inside" {
        local before
        before=$(sha256sum <"$CSAND")
        run csand_min --unshare-pid --proc /proc sh -c '
                { echo x >>/proc/1/exe; } 2>/dev/null && echo wrote-1
                { echo x >>/proc/self/exe; } 2>/dev/null && echo wrote-self
                ls /proc/1/fd | wc -l'
        assert_success
        refute_line wrote-1
        refute_line wrote-self
        [ "$(sha256sum <"$CSAND")" = "$before" ]
}
