#!/usr/bin/env bats
# Bad overlay input: one "csand: ..." line on stderr, exit status 1, nothing
# on stdout; the common teardown checks that nothing is left mounted or
# running.

load ../lib/common

setup() {
        common_setup
        mkdir -p "$TESTDIR/l1" "$TESTDIR/l2" "$TESTDIR/up" "$TESTDIR/wk"
        echo one >"$TESTDIR/l1/a"
        SHM_DIR=
}

teardown() {
        chmod -R u+rwx "$TESTDIR" 2>/dev/null || true
        [ -n "$SHM_DIR" ] && rm -rf "$SHM_DIR"
        common_teardown
}

# run_bad ARGS...: csand fails with exactly one "csand: " line; $msg holds it.
# RUN_PATH, when set, is csand's PATH.
run_bad() {
        run --separate-stderr env CSAND_TEST_TOKEN="$CSAND_TOKEN" ${RUN_PATH:+PATH="$RUN_PATH"} "$CSAND" "$@"
        assert_csand_error
}

@test "--overlay, --tmp-overlay, --ro-overlay without --overlay-src" {
        run_bad --overlay "$TESTDIR/up" "$TESTDIR/wk" /m true
        [[ "$msg" == *"--overlay requires at least one --overlay-src"* ]] || fail "$msg"
        run_bad --tmp-overlay /m true
        [[ "$msg" == *"--tmp-overlay requires at least one --overlay-src"* ]] || fail "$msg"
        run_bad --ro-overlay /m true
        [[ "$msg" == *"--ro-overlay requires at least two --overlay-src"* ]] || fail "$msg"
}

@test "--ro-overlay with one --overlay-src" {
        run_bad --overlay-src "$TESTDIR/l1" --ro-overlay /m true
        [[ "$msg" == *"--ro-overlay requires at least two --overlay-src"* ]] || fail "$msg"
}

@test "an --overlay-src list consumed once: the next overlay needs its own" {
        run_bad --overlay-src "$TESTDIR/l1" --tmp-overlay /a --tmp-overlay /b true
        [[ "$msg" == *"--tmp-overlay requires at least one --overlay-src"* ]] || fail "$msg"
}

@test "dangling --overlay-src at the end of the options" {
        run_bad --overlay-src "$TESTDIR/l1" true
        [[ "$msg" == *"--overlay-src must be followed by"* ]] || fail "$msg"
}

@test "dangling --overlay-src is told before a missing command, as bwrap 0.11 does" {
        # bwrap checks the list at the end of its options (parse_args()),
        # before it looks for a command.
        run_bad --overlay-src "$TESTDIR/l1"
        [[ "$msg" == *"--overlay-src must be followed by"* ]] || fail "$msg"
        [[ "$msg" != *", not "* ]] || fail "$msg"
}

@test "--overlay-src followed by an option that is not an overlay" {
        run_bad --overlay-src "$TESTDIR/l1" --bind /usr /usr --tmp-overlay /m true
        [[ "$msg" == *"--overlay-src must be followed by"*"--bind"* ]] || fail "$msg"
}

@test "overlay options take their arguments" {
        run_bad --overlay-src
        [[ "$msg" == *"--overlay-src"* ]] || fail "$msg"
        run_bad --overlay-src "$TESTDIR/l1" --overlay /a /b
        [[ "$msg" == *"--overlay takes three arguments"* ]] || fail "$msg"
        run_bad --overlay-driver
        [[ "$msg" == *"--overlay-driver"* ]] || fail "$msg"
}

@test "--overlay-driver with an unknown driver" {
        run_bad --overlay-driver zfs true
        [[ "$msg" == *"--overlay-driver takes auto, kernel or fuse"*zfs* ]] || fail "$msg"
}

@test "nonexistent lower layer, RWSRC or WORKDIR" {
        require_userns
        # lower layers and RWSRC are sources: checked before any setup, in bwrap 0.11's words
        run_bad "${csand_min_root[@]}" --overlay-src "$TESTDIR/nope" --tmp-overlay /m true
        [[ "$msg" == *"Can't find source path $TESTDIR/nope: No such file or directory"* ]] || fail "$msg"
        run_bad "${csand_min_root[@]}" --overlay-src "$TESTDIR/l1" --overlay "$TESTDIR/nope" "$TESTDIR/wk" /m true
        [[ "$msg" == *"Can't find source path $TESTDIR/nope: No such file or directory"* ]] || fail "$msg"
        run_bad "${csand_min_root[@]}" --overlay-src "$TESTDIR/l1" --overlay "$TESTDIR/up" "$TESTDIR/nope" /m true
        [[ "$msg" == *"WORKDIR $TESTDIR/nope"*"No such file or directory"* ]] || fail "$msg"
        run_bad "${csand_min_root[@]}" --overlay-src "$TESTDIR/l1/a" --tmp-overlay /m true
        [[ "$msg" == *"Not a directory"* ]] || fail "$msg"
}

@test "WORKDIR on another filesystem than RWSRC" {
        require_userns
        require_feature "a writable tmpfs at /dev/shm" test -w /dev/shm
        [ "$(stat -f -c %T /dev/shm)" != "$(stat -f -c %T "$TESTDIR")" ] ||
                require_feature "/dev/shm and $TESTDIR on different filesystems" false
        SHM_DIR=$(mktemp -d /dev/shm/ovltest.XXXXXX)
        local driver
        for driver in auto kernel fuse; do
                run_bad "${csand_min_root[@]}" --overlay-driver "$driver" --overlay-src "$TESTDIR/l1" \
                        --overlay "$TESTDIR/up" "$SHM_DIR" /m true
                [[ "$msg" == *"WORKDIR $SHM_DIR is not on the same filesystem"*"RWSRC $TESTDIR/up"* ]] || fail "$msg"
        done
}

@test "--overlay-driver fuse without fuse-overlayfs in PATH" {
        require_userns
        local bin="$TESTDIR/bin"
        mkdir -p "$bin"
        RUN_PATH=$bin run_bad "${csand_min_root[@]}" --overlay-driver fuse \
                --overlay-src "$TESTDIR/l1" --tmp-overlay /m /usr/bin/true
        [[ "$msg" == *"with fuse-overlayfs: fuse-overlayfs not found in PATH"* ]] || fail "$msg"
}

@test "auto with neither driver working names both" {
        require_userns
        local bin="$TESTDIR/bin"
        mkdir -p "$bin"
        # the kernel refuses / (mounts below it), fuse-overlayfs is missing
        RUN_PATH=$bin run_bad --overlay-src / --tmp-overlay / /usr/bin/true
        [[ "$msg" == *"kernel overlayfs: a layer has mounts below it"*"fuse-overlayfs: fuse-overlayfs not found in PATH"* ]] ||
                fail "$msg"
}

@test "--overlay-driver kernel over a layer with mounts below it says why" {
        require_userns
        require_unprivileged "mounts below / are locked only in a user namespace of an unprivileged user"
        run_bad --overlay-driver kernel --overlay-src / --tmp-overlay / /usr/bin/true
        [[ "$msg" == *"with kernel overlayfs: a layer has mounts below it"* ]] || fail "$msg"
}

@test "kernel overlayfs: mounts below a layer whose path mountinfo escapes (a space) are found" {
        require_userns
        require_unprivileged "mounts below a layer are locked only in a user namespace of an unprivileged user"
        # mountinfo writes the space in "a b" as \040: the layer's mounts
        # must be found by the unescaped path. The outer csand mounts a
        # tmpfs below the layer; for the inner one it is locked.
        mkdir -p "$TESTDIR/a b/sub"
        run_bad --dev-bind / / --tmpfs "$TESTDIR/a b/sub" -- \
                "$CSAND" --overlay-driver kernel --overlay-src "$TESTDIR/a b" --tmp-overlay / /usr/bin/true
        [[ "$msg" == *"with kernel overlayfs: a layer has mounts below it"* ]] || fail "$msg"
}
