#!/usr/bin/env bats
# A sandbox that can write the user's home must not weaken later sandboxes
# through csand's own files (issue 15, item 4): the compiled seccomp cache,
# image layers and helper sockets are hidden from every sandbox unless the
# user binds them explicitly.

load ../lib/common

setup() {
        common_setup
        require_userns
        TRY=$CSAND_BUILD_DIR/tests/try-syscall
        [ -x "$TRY" ] || fail "$TRY is missing: build the try-syscall target"
        export XDG_CACHE_HOME=$TESTDIR/home/.cache
        mkdir -p "$XDG_CACHE_HOME"
}

teardown() {
        common_teardown
}

# A profile-confined probe: the default profile refuses unshare(CLONE_NEWUSER).
probe_default() {
        csand_min --seccomp-profile default --ro-bind "$TRY" /try-syscall -- /try-syscall unshare-user
}

# Rewrites every cached compiled profile under DIR into allow-all (one
# SECCOMP_RET_ALLOW instruction), keeping the entry's header and key.
rewrite_cache='
import glob, struct, sys
n = 0
for path in glob.glob(sys.argv[1] + "/**/*.bpf", recursive=True):
    data = open(path, "rb").read()
    magic, key_len, flags, unknown_len, bpf_len = struct.unpack_from("8sIIII", data)
    head = 8 + 16
    allow = struct.pack("HBBI", 0x06, 0, 0, 0x7fff0000)
    new = struct.pack("8sIIII", magic, key_len, flags, unknown_len, len(allow)) + data[head:head + key_len + unknown_len] + allow
    try:
        open(path, "wb").write(new)
        n += 1
    except OSError as e:
        print("refused:", e.strerror)
print("rewritten:", n)
'

@test "a sandbox with the user's cache bound can't turn a cached seccomp profile into allow-all" {
        run probe_default
        assert_output --regexp '^unshare-user: errno=EPERM'
        ls "$XDG_CACHE_HOME"/csand/seccomp/*.bpf >/dev/null || fail "no cache entry was written"

        # The attacker's sandbox: the home (with the cache) bound read-write.
        run csand_min --bind "$TESTDIR/home" "$TESTDIR/home" -- python3 -c "$rewrite_cache" "$XDG_CACHE_HOME"
        assert_success
        assert_line "rewritten: 0"

        # The next run still enforces the profile.
        run probe_default
        assert_output --regexp '^unshare-user: errno=EPERM'
}

@test "csand's state directories are empty and read-only wherever a bind shows them" {
        run probe_default
        for b in "$TESTDIR/home" "$XDG_CACHE_HOME" /; do
                run csand_min --bind "$b" "/mnt$b" -- sh -c "
                        ls -A /mnt$XDG_CACHE_HOME/csand | wc -l
                        touch /mnt$XDG_CACHE_HOME/csand/x 2>&1 || true"
                assert_success
                assert_line 0
                assert_line --partial "Read-only file system"
        done
        # also through a second, symlinked path to the same directory
        ln -s home "$TESTDIR/alias"
        run csand_min --bind "$TESTDIR/alias" /a -- sh -c 'ls -A /a/.cache/csand | wc -l'
        assert_success
        assert_output 0
        [ -n "$(ls -A "$XDG_CACHE_HOME/csand")" ] || fail "the cache itself is gone"
}

@test "a sandbox can't plant a cache that does not exist yet: it is made, then hidden" {
        [ ! -e "$XDG_CACHE_HOME/csand" ]
        run csand_min --bind "$TESTDIR/home" "$TESTDIR/home" -- \
                sh -c "mkdir -p $XDG_CACHE_HOME/csand/seccomp 2>&1 || echo refused"
        assert_success
        assert_line refused
        [ -d "$XDG_CACHE_HOME/csand" ] && [ -z "$(ls -A "$XDG_CACHE_HOME/csand")" ]
        [ "$(stat -c %a "$XDG_CACHE_HOME/csand")" = 700 ]
}

@test "the runtime directory of helper sockets is hidden as well" {
        run csand_min --bind "$CSAND_RUNTIME_DIR" /r -- sh -c 'ls -A /r/csand | wc -l; touch /r/csand/x 2>&1 || true'
        assert_success
        assert_line 0
        assert_line --partial "Read-only file system"
}

@test "a state directory the user binds itself is the user's choice" {
        run probe_default
        run csand_min --bind "$TESTDIR/home" "$TESTDIR/home" --bind "$XDG_CACHE_HOME/csand" "$XDG_CACHE_HOME/csand" -- \
                sh -c "ls $XDG_CACHE_HOME/csand"
        assert_success
        assert_line seccomp
}
