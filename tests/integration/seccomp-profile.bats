#!/usr/bin/env bats
# --seccomp-profile NAME|FILE (issue 9), seen from outside: the shipped
# profiles refuse what they say and let ordinary programs run; a
# Docker-format file with args conditions and excludes.caps is honoured; the
# profile stacks with --add-seccomp-fd; bad input is one clear message and
# exit status 1.
#
# try-syscall (tests/try-syscall.c) makes one real syscall inside the sandbox
# and prints "NAME: ok" or "NAME: errno=E... (...)". Each refusal is checked
# against a probe the kernel itself would answer differently, often with a
# control run without the profile.

load ../lib/common

setup() {
        common_setup
        require_userns
        TRY=$CSAND_BUILD_DIR/tests/try-syscall
        [ -x "$TRY" ] || fail "$TRY is missing: build the try-syscall target (meson compile -C $CSAND_BUILD_DIR)"
        FIXTURES=$CSAND_SOURCE_DIR/tests/fixtures/seccomp
        # This tree's profiles, and a cache of compiled programs that dies
        # with the test instead of landing in the user's ~/.cache.
        export CSAND_SECCOMP_PROFILE_DIR=$CSAND_SOURCE_DIR/seccomp-profiles
        export XDG_CACHE_HOME=$BATS_TEST_TMPDIR/cache
}

# sandbox PROFILE COMMAND...: COMMAND in a minimal sandbox with try-syscall at
# /try-syscall, under PROFILE ("" for none).
sandbox() {
        local profile=$1
        shift
        local opts=()
        [ -n "$profile" ] && opts=(--seccomp-profile "$profile")
        csand_min "${opts[@]}" --ro-bind "$TRY" /try-syscall -- "$@"
}

# expect PROFILE PROBE [ARG] RESULT: the probe prints "PROBE: RESULT".
# RESULT is "ok" or an errno name.
expect() {
        local profile=$1 probe=$2 arg= want
        if [ $# -eq 4 ]; then
                arg=$3
                want=$4
        else
                want=$3
        fi
        run sandbox "$profile" /try-syscall "$probe" ${arg:+"$arg"}
        assert_success
        if [ "$want" = ok ]; then
                assert_output "$probe: ok"
        else
                assert_output --regexp "^$probe: errno=$want \\("
        fi
}

# ---- the default profile ------------------------------------------------------

@test "default: 'unshare -U' is refused; without a profile it works" {
        run sandbox "" unshare -U true
        assert_success
        run sandbox default unshare -U true
        assert_failure
        assert_output --partial "Operation not permitted"
}

@test "default: namespaces are refused with EPERM (the kernel alone allows them)" {
        expect "" unshare-user ok
        expect default unshare-user EPERM
        expect "" clone-newuser ok
        expect default clone-newuser EPERM
        expect "" setns EINVAL
        expect default setns EPERM
        # clone without namespace flags and unshare of the file table still work
        expect default clone ok
        expect default unshare-files ok
}

@test "default: clone3 gets ENOSYS, so that libc falls back to clone" {
        expect "" clone3 ok
        expect default clone3 ENOSYS
}

@test "default: keyring, ptrace, perf, process_vm, bpf, userfaultfd, file handles are refused with EPERM" {
        expect "" keyctl ok
        expect default keyctl EPERM
        expect default add_key EPERM
        expect default request_key EPERM
        expect "" process_vm_readv ok
        expect default process_vm_readv EPERM
        expect default ptrace-attach EPERM
        expect default perf_event_open EPERM
        expect default bpf EPERM
        expect default userfaultfd EPERM
        expect "" name_to_handle_at ok
        expect default name_to_handle_at EPERM
        expect default open_by_handle_at EPERM
        expect default mount EPERM
        expect default chroot EPERM
        expect default reboot EPERM
}

@test "default: the new mount API and unlisted syscalls get ENOSYS; personality only the usual values" {
        expect "" open_tree ok
        expect default open_tree ENOSYS
        expect default fsopen ENOSYS
        expect default io_uring_setup ENOSYS
        expect default personality ok
        expect default personality 0 ok
        expect default personality 0x40000 ENOSYS
}

# ---- the desktop profile ------------------------------------------------------

@test "desktop: TIOCSTI and TIOCLINUX are refused, junk in the upper 32 bits included" {
        # a pipe is no terminal: an ioctl that gets through fails with ENOTTY
        expect "" tiocsti ENOTTY
        expect desktop tiocsti EPERM
        expect "" tiocsti-highbits ENOTTY
        expect desktop tiocsti-highbits EPERM
        expect desktop tioclinux EPERM
        expect desktop tcgets ENOTTY
}

@test "desktop: new user namespaces, mounts, keyring, perf and ptrace are refused" {
        run sandbox desktop unshare -U true
        assert_failure
        assert_output --partial "Operation not permitted"
        expect desktop unshare-user EPERM
        expect desktop clone-newuser EPERM
        expect desktop clone3 ENOSYS
        expect desktop clone ok
        expect desktop open_tree ENOSYS
        expect desktop fsopen ENOSYS
        expect desktop keyctl EPERM
        expect desktop add_key EPERM
        expect desktop perf_event_open EPERM
        expect desktop ptrace-attach EPERM
        expect desktop process_vm_readv EPERM
}

@test "desktop: only unix, inet, inet6 and netlink sockets; only the default personality" {
        expect desktop socket-unix ok
        expect desktop socket-inet ok
        expect desktop socket-inet6 ok
        expect desktop socket-netlink ok
        expect desktop socket-vsock EAFNOSUPPORT
        expect desktop socket-packet EAFNOSUPPORT
        expect desktop socket-alg EAFNOSUPPORT
        expect "" socket-highbits ok
        expect desktop socket-highbits EAFNOSUPPORT
        expect desktop personality ok
        expect desktop personality 0 ok
        expect "" personality 0x40000 ok
        expect desktop personality 0x40000 EPERM
        expect desktop personality 8 EPERM
}

# ---- what ordinary programs need ----------------------------------------------

@test "default and desktop: a shell script, coreutils and python3 start up and work" {
        local script='set -e
d=$(mktemp -d)
for i in 3 1 2; do echo "$i" > "$d/$i"; done
cat "$d"/* | sort -n | tr "\n" " "; echo
cp "$d/1" "$d/copy" && ls "$d" | wc -l
stat -c %s "$d/copy"
date +%Y >/dev/null; id -u >/dev/null; uname -s
rm -r "$d"
echo script-done'
        local py='import json, os, subprocess, sys, tempfile, threading
t = threading.Thread(target=lambda: None); t.start(); t.join()
with tempfile.TemporaryDirectory() as d:
    open(os.path.join(d, "f"), "w").write("x")
    print(len(os.listdir(d)), subprocess.run(["true"]).returncode, json.dumps({"ok": True}))'
        local profile
        for profile in default desktop; do
                run csand_min --seccomp-profile "$profile" --unshare-pid --proc /proc --dev /dev --tmpfs /tmp \
                        --setenv TMPDIR /tmp -- sh -c "$script"
                assert_success
                assert_output "1 2 3 
4
2
Linux
script-done"
                run csand_min --seccomp-profile "$profile" --unshare-pid --proc /proc --dev /dev --tmpfs /tmp \
                        --setenv TMPDIR /tmp -- python3 -c "$py"
                assert_success
                assert_output '1 0 {"ok": true}'
        done
}

# ---- Docker-format profiles ---------------------------------------------------

@test "a Docker-format profile file: args conditions and excludes.caps are honoured" {
        local f=$FIXTURES/docker-style.json
        expect "$f" socket-inet ok
        expect "$f" socket-vsock EACCES
        # excludes.caps: CAP_NET_ADMIN is not held, so the rule applies
        expect "$f" socket-inet6 EACCES
        expect "$f" personality 0 ok
        expect "$f" personality 0x40000 EINVAL
        expect "$f" keyctl EPERM
}

@test "a Docker-format profile: a rule excluded by a capability the sandbox holds does not apply" {
        local f=$FIXTURES/docker-style.json
        run csand_min --unshare-user --cap-add CAP_NET_ADMIN --seccomp-profile "$f" --ro-bind "$TRY" /try-syscall \
                -- /try-syscall socket-inet6
        assert_success
        assert_output "socket-inet6: ok"
        # the rule without excludes still applies
        run csand_min --unshare-user --cap-add CAP_NET_ADMIN --seccomp-profile "$f" --ro-bind "$TRY" /try-syscall \
                -- /try-syscall socket-vsock
        assert_output --regexp "^socket-vsock: errno=EACCES "
}

@test "podman's own seccomp.json is accepted unchanged, when installed" {
        local f=/usr/share/containers/seccomp.json
        [ -r "$f" ] || skip "$f is not installed (Debian: golang-github-containers-common); optional"
        run csand_min --seccomp-profile "$f" --unshare-pid --proc /proc --tmpfs /tmp --setenv TMPDIR /tmp \
                -- python3 -c 'import subprocess; print(subprocess.run(["true"]).returncode)'
        assert_success
        assert_output 0
}

# ---- stacking -------------------------------------------------------------------

# write_bpf FILE NR ERRNO: a classic BPF program that fails syscall NR (of
# the native arch) with ERRNO and allows everything else.
write_bpf() {
        python3 - "$@" <<'EOF'
import struct, sys, platform
path, nr, err = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}[platform.machine()]
LD_ABS_W, JEQ_K, RET_K = 0x20, 0x15, 0x06
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
prog = [
    (LD_ABS_W, 0, 0, 4),          # arch
    (JEQ_K, 0, 3, arch),          # another arch: allow
    (LD_ABS_W, 0, 0, 0),          # syscall number
    (JEQ_K, 0, 1, nr),
    (RET_K, 0, 0, ERRNO | err),
    (RET_K, 0, 0, ALLOW),
]
with open(path, "wb") as f:
    for code, jt, jf, k in prog:
        f.write(struct.pack("=HBBI", code, jt, jf, k))
EOF
}

@test "--seccomp-profile stacks with --add-seccomp-fd: both filters apply" {
        local nr
        case $(uname -m) in
        x86_64) nr=24 ;;        # sched_yield
        aarch64) nr=124 ;;
        *) skip "no sched_yield number for $(uname -m) in this test" ;;
        esac
        local prog=$BATS_TEST_TMPDIR/yield.bpf
        write_bpf "$prog" "$nr" 77      # EBADFD
        run csand_min --add-seccomp-fd 7 --ro-bind "$TRY" /try-syscall \
                -- sh -c '/try-syscall sched_yield; /try-syscall unshare-user' 7<"$prog"
        assert_success
        assert_output "sched_yield: errno=EBADFD (File descriptor in bad state)
unshare-user: ok"
        run csand_min --seccomp-profile default --add-seccomp-fd 7 --ro-bind "$TRY" /try-syscall \
                -- sh -c '/try-syscall sched_yield; /try-syscall unshare-user' 7<"$prog"
        assert_success
        assert_output "sched_yield: errno=EBADFD (File descriptor in bad state)
unshare-user: errno=EPERM (Operation not permitted)"
}

# Loading a large program costs the kernel about as much as a start-up's
# mounts (it converts and compiles it): pid 1 loads the profile, then
# starts the command with vfork, and the command inherits the filter
# instead of loading it again (bwrap's order is kept for programs that
# refuse what that needs: bwrap-parity). strace shows the prctl() calls
# from registers, csand being not dumpable.
@test "--seccomp-profile: loaded once per launch, by pid 1 or by the command, and the command holds it" {
        require_feature "strace" command -v strace
        local pid1
        for pid1 in --unshare-pid ""; do
                # shellcheck disable=SC2086
                TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" run strace -f -qq -e trace=prctl \
                        -o "$TESTDIR/trace" "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" \
                        "${csand_min_root[@]}" $pid1 --ro-bind /proc /proc --seccomp-profile default \
                        --ro-bind "$TRY" /try-syscall -- sh -c \
                        'grep -E "^Seccomp(_filters)?:" /proc/self/status; /try-syscall unshare-user'
                assert_success
                assert_output "Seccomp:	2
Seccomp_filters:	1
unshare-user: errno=EPERM (Operation not permitted)"
                run grep -c 'PR_SET_SECCOMP' "$TESTDIR/trace"
                echo "[$pid1] loads: $output"
                assert_output 1
        done
}

# ---- finding profiles, the cache ------------------------------------------------

@test "a build-tree csand finds the shipped profiles without CSAND_SECCOMP_PROFILE_DIR" {
        unset CSAND_SECCOMP_PROFILE_DIR
        expect default unshare-user EPERM
        run csand_min --seccomp-profile no-such-profile -- true
        assert_failure 1
        assert_output --partial "known profiles: default, desktop"
}

@test "compiled profiles are cached; a damaged cache entry is recompiled, not trusted" {
        expect default unshare-user EPERM
        local entries=("$XDG_CACHE_HOME"/csand/seccomp/*.bpf)
        [ "${#entries[@]}" -eq 1 ] && [ -s "${entries[0]}" ] || fail "expected one cache entry, got: ${entries[*]}"
        [ "$(stat -c %a "$XDG_CACHE_HOME/csand/seccomp")" = 700 ] || fail "the cache directory is not private"
        # cut the entry short: it must not be loaded as a program
        truncate -s -5 "${entries[0]}"
        expect default unshare-user EPERM
        expect default clone ok
        # nothing but entries in the cache directory (no temporary files left)
        run find "$XDG_CACHE_HOME/csand/seccomp" -type f ! -name '*.bpf'
        assert_output ""
}

# ---- bad input --------------------------------------------------------------------

# refused SOURCE MESSAGE: csand --seccomp-profile SOURCE says "csand: ...MESSAGE..."
# on one line and exits 1 without running the command.
refused() {
        run csand_min --seccomp-profile "$1" -- sh -c 'echo command-ran'
        assert_failure 1
        refute_output --partial command-ran
        assert_output --regexp "^csand: "
        assert_output --partial "$2"
        [ "${#lines[@]}" -eq 1 ] || fail "expected one line of error, got ${#lines[@]}"
}

@test "bad input: malformed JSON is reported with its line and column" {
        refused "$FIXTURES/bad-json.json" "line 4, column 27: malformed JSON"
        refused "$FIXTURES/bad-truncated.json" "unexpected end of file"
        refused "$FIXTURES/bad-trailing-comma.json" "line 4, column 56"
}

@test "bad input: unknown action, unsupported action, unknown operator, index out of range" {
        refused "$FIXTURES/bad-action.json" 'unknown action "SCMP_ACT_FOO"'
        refused "$FIXTURES/bad-notify.json" "action SCMP_ACT_NOTIFY is not supported"
        refused "$FIXTURES/bad-op.json" 'unknown operator "SCMP_CMP_FOO"'
        refused "$FIXTURES/bad-index.json" "argument index 6 is out of range (0-5)"
        refused "$FIXTURES/bad-key.json" 'unknown key "arg"'
}

@test "bad input: unreadable file, unknown profile name" {
        refused "$TESTDIR/no-such-file.json" "No such file or directory"
        refused "$FIXTURES" "Is a directory"
        refused no-such-profile 'Unknown seccomp profile "no-such-profile"; known profiles: default, desktop'
        if [ "$(id -u)" -ne 0 ]; then
                cp "$FIXTURES/docker-style.json" "$TESTDIR/secret.json"
                chmod 000 "$TESTDIR/secret.json"
                refused "$TESTDIR/secret.json" "Permission denied"
        fi
}
