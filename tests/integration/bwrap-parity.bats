#!/usr/bin/env bats
# bwrap's own behaviour, side by side (issue 14): the same command line runs
# under the distribution's bwrap (Debian's 0.8, the reference for what 0.8
# already does) and under csand, and what a user observes must agree.
# Behaviour bwrap 0.8 lacks (0.9-0.11) is checked against bwrap 0.11's
# source and manual, and says so.

load ../lib/common

BWRAP=${CSAND_TEST_BWRAP:-/usr/bin/bwrap}

require_bwrap() {
        require_feature "bwrap, the reference (package bubblewrap)" test -x "$BWRAP"
}

# run_one BINARY ARGS...: BINARY with the minimal root and ARGS, its exit
# status, stdout and stderr kept in $TESTDIR/NAME.{rc,out,err} (NAME: bwrap
# or csand), bwrap's "bwrap: " prefix spelled "csand: ". The test's token
# goes into both sandboxes, so that teardown finds what either left behind.
run_one() {
        local bin=$1 name
        shift
        name=$([ "$bin" = "$BWRAP" ] && echo bwrap || echo csand)
        local rc=0
        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$bin" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" "$@" \
                >"$TESTDIR/$name.out" 2>"$TESTDIR/$name.err" || rc=$?
        echo "$rc" >"$TESTDIR/$name.rc"
        sed -i 's/^bwrap: /csand: /' "$TESTDIR/$name.err"
}

# run_both ARGS...: the same command line under bwrap and csand.
run_both() {
        run_one "$BWRAP" "$@"
        run_one "$CSAND" "$@"
}

# assert_same WHAT...: bwrap's and csand's rc, out and/or err are equal.
assert_same() {
        local what
        for what in "$@"; do
                if ! cmp -s "$TESTDIR/bwrap.$what" "$TESTDIR/csand.$what"; then
                        echo "bwrap and csand differ in $what:"
                        diff -u "$TESTDIR/bwrap.$what" "$TESTDIR/csand.$what" || true
                        fail "$what differs from bwrap's"
                fi
        done
}

# --- --json-status-fd, --info-fd (item 6) -------------------------------------

# The status fd's content, normalised: each line must be one JSON object
# (JSON lines); printed as its members' names with the values that don't
# vary between runs (exit-code), without csand's own additions (network,
# published-ports, after bwrap's members).
json_status_shape() {
        python3 - "$1" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
assert text == "" or text.endswith("\n"), "the last object does not end its line"
for line in text.splitlines():
    obj = json.loads(line)          # one object per line, whole
    assert isinstance(obj, dict), line
    shown = []
    for k, v in obj.items():
        if k in ("network", "published-ports"):
            continue
        shown.append(f"{k}={v}" if k == "exit-code" else k)
    print(" ".join(shown))
PY
}

@test "--json-status-fd: JSON lines, and an exit code only for a command that ran, as bwrap" {
        require_bwrap
        local args
        # ran (with and without pid 1), setup failure, exec failure (with and
        # without pid 1), every namespace
        for args in "--unshare-pid sh -c 'exit 3'" "sh -c 'kill -KILL \$\$'" \
                "--bind /nonexistent-csand-src /x true" "/nonexistent-csand-cmd" \
                "--unshare-pid /nonexistent-csand-cmd" "--unshare-all --as-pid-1 true"; do
                eval "set -- $args"
                run_one "$BWRAP" --json-status-fd 3 "$@" 3>"$TESTDIR/bwrap.status"
                run_one "$CSAND" --json-status-fd 3 "$@" 3>"$TESTDIR/csand.status"
                assert_same rc err
                json_status_shape "$TESTDIR/bwrap.status" >"$TESTDIR/bwrap.shape"
                json_status_shape "$TESTDIR/csand.status" >"$TESTDIR/csand.shape" ||
                        fail "csand's status for '$args' is not JSON lines: $(cat "$TESTDIR/csand.status")"
                echo "$args: $(paste -sd'|' "$TESTDIR/csand.shape")"
                assert_same shape
        done
}

@test "--info-fd/--json-status-fd with a setup failure: bwrap's error and ids, every time" {
        require_bwrap
        # The child fails within a millisecond: csand's monitor used to die of
        # SIGPIPE at the gate (exit 141, no message) and to miss the ids of
        # the child that was gone (about one run in eight here).
        run_one "$BWRAP" --json-status-fd 3 --bind /nonexistent-csand-src /x true 3>"$TESTDIR/bwrap.status"
        json_status_shape "$TESTDIR/bwrap.status" >"$TESTDIR/bwrap.shape"
        local i
        for ((i = 0; i < 40; i++)); do
                run_one "$CSAND" --json-status-fd 3 --bind /nonexistent-csand-src /x true 3>"$TESTDIR/csand.status"
                assert_same rc err
                json_status_shape "$TESTDIR/csand.status" >"$TESTDIR/csand.shape"
                assert_same shape
        done
}

@test "--info-fd: the members bwrap writes, in its layout" {
        require_bwrap
        run_one "$BWRAP" --unshare-all --info-fd 3 true 3>"$TESTDIR/bwrap.info"
        run_one "$CSAND" --unshare-all --info-fd 3 true 3>"$TESTDIR/csand.info"
        assert_same rc err
        # one object over several lines: the members' names, in order, with
        # csand's own (after bwrap's) left out
        local f
        for f in bwrap csand; do
                python3 -c 'import json, sys
o = json.load(open(sys.argv[1]))
print(" ".join(k for k in o if k not in ("network", "published-ports")))' "$TESTDIR/$f.info" >"$TESTDIR/$f.keys"
                sed -E 's/[0-9]+/N/g; /"network"/d' "$TESTDIR/$f.info" | sed -E '$!s/N,?$/N/' >"$TESTDIR/$f.layout"
        done
        cat "$TESTDIR/csand.keys"
        assert_same keys layout
}
