#!/usr/bin/env bats
# Escape battery: symlinks planted and symlink-swap races on mount
# destinations (CVE-2024-42472's class).  csand resolves every destination
# inside the new root with openat2(RESOLVE_IN_ROOT): whatever a symlink in a
# bound directory points to, nothing may be created, written or mounted
# outside the new root.  SRC (bound at /x) holds sub/, which a helper on the
# host keeps exchanging with a symlink to $TESTDIR/outside.

load ../lib/common

setup() {
        common_setup
        require_userns
        [ "$(uname -m)" = x86_64 ] || skip "swapper.py uses x86_64's renameat2 number"
        SRC="$TESTDIR/src"
        OUTSIDE="$TESTDIR/outside"
        mkdir -p "$SRC/sub/target" "$OUTSIDE"
        touch "$SRC/sub/f"
        ln -s "$OUTSIDE" "$SRC/abs"
        ln -s ../outside "$SRC/rel"
        echo data >"$TESTDIR/data"
        SWAPPER=
}

teardown() {
        if [ -n "$SWAPPER" ]; then
                touch "$TESTDIR/swapper-stop"
                wait "$SWAPPER" || true
        fi
        common_teardown
}

assert_outside_untouched() {
        run find "$OUTSIDE" -mindepth 1
        assert_output ""
        # nothing of the host's mount table changed (teardown checks it
        # again), in particular nothing mounted on $OUTSIDE
        run grep -F " $OUTSIDE" /proc/self/mountinfo
        assert_failure
}

# Every destination-creating operation, aimed through a symlink to outside.
ops_through() {
        local via=$1
        echo "--tmpfs /x/$via/target"
        echo "--dir /x/$via/newdir"
        echo "--file 5 /x/$via/file"
        echo "--bind-data 5 /x/$via/bdata"
        echo "--ro-bind-data 5 /x/$via/rodata"
        echo "--symlink /etc/passwd /x/$via/link"
        echo "--ro-bind /usr /x/$via/target"
        echo "--remount-ro /x/$via"
        echo "--chmod 0777 /x/$via"
        echo "--lock-file /x/$via/lock"
        echo "--mqueue /x/$via/mq"
}

@test "planted symlinks: no operation creates, changes or mounts anything outside the new root" {
        local via op
        chmod 0755 "$OUTSIDE"
        for via in abs rel abs/sub-of-outside rel/../../outside; do
                while read -r op; do
                        # shellcheck disable=SC2086
                        run csand "${csand_min_root[@]}" --bind "$SRC" /x $op \
                                sh -c 'echo pwned >/x/'"${via%%/*}"'/written 2>/dev/null; true' 5<"$TESTDIR/data"
                        echo "$op: $status $output"
                done < <(ops_through "$via")
        done
        assert_outside_untouched
        assert_equal "$(stat -c %a "$OUTSIDE")" 755
}

@test "symlink-swap race on bind destinations: nothing outside the new root, ever" {
        local i op ok=0 failed=0
        python3 "$BATS_TEST_DIRNAME/swapper.py" "$SRC" 60 >"$TESTDIR/swaps" &
        SWAPPER=$!
        wait_for_file "$TESTDIR/swapper-started" || [ -e "$TESTDIR/swapper-started" ]
        for ((i = 0; i < 25; i++)); do
                # The swapper stops after 60 s: past that there is no race
                # to run (a TCG guest gets there in a few rounds).
                [ "$i" -gt 0 ] && ! kill -0 "$SWAPPER" 2>/dev/null && break
                while read -r op; do
                        # shellcheck disable=SC2086
                        if csand "${csand_min_root[@]}" --bind "$SRC" /x $op true 5<"$TESTDIR/data" 2>/dev/null; then
                                ok=$((ok + 1))
                        else
                                failed=$((failed + 1))
                        fi
                done < <(ops_through sub)
        done
        touch "$TESTDIR/swapper-stop"
        wait "$SWAPPER"
        SWAPPER=
        echo "# runs: $ok succeeded, $failed refused; swaps: $(cat "$TESTDIR/swaps")" >&3
        # the race was real: the swapper ran and both outcomes happened
        [ "$(cat "$TESTDIR/swaps")" -gt 100 ]
        [ "$ok" -gt 0 ]
        assert_outside_untouched
        # and the bound tree itself holds only what the operations made
        # while sub/ was the real directory
        [ -d "$SRC/sub" ] && [ ! -L "$SRC/sub" ]
}
