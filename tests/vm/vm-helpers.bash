# Helpers for the VM tier's .bats files (load vm-helpers after ../lib/common).

setup() {
        common_setup
        require_feature "a systemd user manager on the user bus" systemctl --user show -p Version
        require_feature "cgroup v2 at /sys/fs/cgroup" test "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs
}

teardown() {
        vm_teardown
}

vm_teardown() {
        local status=0
        [ -n "${SB_PID:-}" ] && kill "$SB_PID" 2>/dev/null && wait "$SB_PID" 2>/dev/null
        common_teardown || status=1
        return $status
}

# The sandbox's root: csand_min_root plus /dev (tail /dev/zero).
root=("${csand_min_root[@]}" --dev /dev)

# csand_bg ARGS...: starts csand ARGS... in the background (as csand_min
# would; after the words of the array csand_prefix, e.g. systemd-run), its
# --info-fd in $TESTDIR/info; waits until the sandbox is in the leaf of a
# cgroup of its own and sets SB_PID (csand), SB_CHILD (the sandbox's first
# process), SB_CGPATH (the cgroup with the limits), SB_CG (that cgroup's
# directory) and SB_LEAF (the leaf's directory, where the processes are).
csand_bg() {
        "${csand_prefix[@]}" "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${root[@]}" --info-fd 3 "$@" \
                3>"$TESTDIR/info" 2>"$TESTDIR/stderr" </dev/null &
        SB_PID=$!
        wait_for_file "$TESTDIR/info" || fail "csand wrote nothing to --info-fd: $(cat "$TESTDIR/stderr")"
        SB_CHILD=$(sed -n 's/.*"child-pid": *\([0-9]*\).*/\1/p' "$TESTDIR/info")
        local i path
        for ((i = 0; i < 300; i++)); do
                path=$(sed -n 's/^0:://p' "/proc/$SB_CHILD/cgroup" 2>/dev/null) || true
                [[ "$path" == */csand-*/sandbox ]] && break
                sleep 0.1
        done
        [[ "$path" == */csand-*/sandbox ]] ||
                fail "the sandbox is not in the leaf of a cgroup of its own (it is in '$path'): $(cat "$TESTDIR/stderr")"
        SB_CGPATH=${path%/sandbox}
        SB_CG=/sys/fs/cgroup$SB_CGPATH
        SB_LEAF=$SB_CG/sandbox
}
csand_prefix=()

# Stops the background sandbox (SIGTERM is passed on to it) and waits.
csand_bg_stop() {
        kill "$SB_PID"
        wait "$SB_PID" || true
        SB_PID=
}

# The csand scopes systemd knows about, loaded in any state.
csand_units() {
        systemctl --user list-units --all --plain --no-legend 'csand-*' 2>/dev/null | awk '{ print $1 }'
}

# Waits (up to ~30 s: the VM is slow) until no csand scope is left and,
# when given, cgroup directory DIR is gone.
assert_no_scope_left() {
        local dir=${1:-} i
        for ((i = 0; i < 300; i++)); do
                if [ -z "$(csand_units)" ] && { [ -z "$dir" ] || [ ! -e "$dir" ]; }; then
                        return 0
                fi
                sleep 0.1
        done
        systemctl --user list-units --all --no-pager 'csand-*' || true
        [ -n "$dir" ] && ls -la "$dir" 2>&1
        fail "a csand scope or cgroup is left behind${dir:+ ($dir)}"
}
