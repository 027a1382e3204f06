#!/usr/bin/env bats
# bubblewrap's 2026 advisories, against csand (issue 15, item 12):
#   CVE-2026-87766  a symlink in a destination's parent is followed outside
#                   the new root while the sandbox is set up;
#   CVE-2026-41163  the setup process is dumpable: the user (any process of
#                   the same uid outside the sandbox) can ptrace it or read
#                   its memory before the command runs.
# Probes: setup-ptrace.py.

load ../lib/common

setup() {
        common_setup
        require_unprivileged "as root the attacks would run with the host's root"
        require_userns
}

# ---- CVE-2026-87766 --------------------------------------------------------

# A bound directory /x (SRC, nested so that ../../.. stays in TESTDIR)
# whose entries are symlinks pointing out of it: to /, up and out with
# ../../.., to an absolute host path, through one another.  Every
# destination-making option is aimed at /x/LINK/sub.
setup_links() {
        SRC="$TESTDIR/a/b/src"
        OUTSIDE="$TESTDIR/outside"
        mkdir -p "$SRC" "$OUTSIDE"
        ln -s / "$SRC/root"
        ln -s ../../.. "$SRC/up"
        ln -s "$OUTSIDE" "$SRC/abs"
        ln -s ../../../../../../../../../../..$OUTSIDE "$SRC/climb"
        ln -s abs "$SRC/chain"
        ln -s up/outside "$SRC/upchain"
        # bwrap builds the root in /newroot with the host at /oldroot
        ln -s "/oldroot$OUTSIDE" "$SRC/oldroot"
        ln -s "/newroot/x/abs" "$SRC/newroot"
        echo data >"$TESTDIR/data"
        mkdir -p "$TESTDIR/bindsrc"
}

ops_at() {
        local d=$1
        echo "--dir $d"
        echo "--tmpfs $d"
        echo "--bind $TESTDIR/bindsrc $d"
        echo "--ro-bind $TESTDIR/bindsrc $d"
        echo "--dev-bind $TESTDIR/bindsrc $d"
        echo "--file 5 $d"
        echo "--bind-data 5 $d"
        echo "--ro-bind-data 5 $d"
        echo "--symlink /etc/passwd $d"
        echo "--dev $d"
        echo "--proc $d"
        echo "--mqueue $d"
        echo "--lock-file $d"
        echo "--dir $d --chmod 0777 $d"
        echo "--dir $d --remount-ro $d"
        echo "--overlay-src /usr --tmp-overlay $d"
}

# What the host has in TESTDIR (outside SRC) and in OUTSIDE, with modes.
host_view() {
        find "$TESTDIR" "$OUTSIDE" -path "$SRC" -prune -o -printf '%p %m %y\n' | sort
}

@test "CVE-2026-87766: a symlink in a destination's parent never leads outside the new root" {
        local link dest op before ran=0 ok=0
        setup_links
        before=$(host_view)
        for link in root up abs climb chain upchain oldroot newroot; do
                for dest in "/x/$link/sub" "/x/$link/sub/deeper"; do
                        while read -r op; do
                                # shellcheck disable=SC2086
                                run csand_min --unshare-pid --bind "$SRC" /x $op true 5<"$TESTDIR/data"
                                ran=$((ran + 1))
                                [ "$status" -ne 0 ] || ok=$((ok + 1))
                        done < <(ops_at "$dest")
                done
        done
        # (those that succeed made their object inside the new root; the
        # others found no such parent there)
        echo "# $ran setups through parent symlinks, $ok of them succeeded" >&3
        # nothing created, changed or mounted on the host (teardown also
        # compares the host's mount table)
        assert_equal "$(host_view)" "$before"

        # bwrap (0.8 here) for comparison, reported, not asserted: it
        # follows an absolute link to /oldroot/... onto the host
        if command -v bwrap >/dev/null; then
                run bwrap "${csand_min_root[@]}" --bind "$SRC" /x --dir /x/oldroot/by-bwrap true
                echo "# bwrap --dir /x/oldroot/by-bwrap (link to /oldroot$OUTSIDE): exit $status," \
                        "$([ -e "$OUTSIDE/by-bwrap" ] && echo "created $OUTSIDE/by-bwrap on the host" || echo "nothing on the host")" >&3
                rm -rf "$OUTSIDE/by-bwrap"
        fi
}

@test "CVE-2026-87766: inside, the links resolve within the new root" {
        setup_links
        # "/" and "../../.." are the new root's own
        run csand_min --unshare-pid --bind "$SRC" /x --dir /x/root/sub --dir /x/up/sub2 sh -c 'ls -d /sub /sub2'
        assert_success
        assert_output $'/sub\n/sub2'
        # a host path does not exist in the new root
        run --separate-stderr csand_min --unshare-pid --bind "$SRC" /x --dir /x/abs/sub true
        assert_csand_error
        assert_equal "$msg" "csand: Can't mkdir /x/abs/sub: No such file or directory"
        [ ! -e "$OUTSIDE/sub" ] || fail "created on the host"
        [ ! -e "$TESTDIR/sub" ] && [ ! -e "$TESTDIR/sub2" ] || fail "created on the host"
}

# ---- CVE-2026-41163 --------------------------------------------------------

@test "CVE-2026-41163: csand can't be ptraced or read by the user while it reads its options" {
        run python3 "$BATS_TEST_DIRNAME/setup-ptrace.py" args "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" \
                "${csand_min_root[@]}" --unshare-all
        assert_success
        assert_output "monitor ptrace: denied (EPERM)
monitor vm_readv: denied (EPERM)
monitor ns: denied (EACCES)
monitor root: denied (EACCES)
csand: 0"
}

@test "CVE-2026-41163: the setup process and csand can't be ptraced or read by the user during --block-fd" {
        local opts
        for opts in "--unshare-all" "--unshare-user" "--unshare-all --unshare-user --disable-userns" "--unshare-all --as-pid-1"; do
                # shellcheck disable=SC2086
                run python3 "$BATS_TEST_DIRNAME/setup-ptrace.py" block "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" \
                        "${csand_min_root[@]}" $opts
                assert_success
                [ "$output" = "monitor ptrace: denied (EPERM)
monitor vm_readv: denied (EPERM)
monitor ns: denied (EACCES)
monitor root: denied (EACCES)
child ptrace: denied (EPERM)
child vm_readv: denied (EPERM)
child ns: denied (EACCES)
child root: denied (EACCES)
csand: 0" ] || fail "$opts: $output"
        done
}

@test "CVE-2026-41163: attaching in a loop from clone to exec never catches the setup" {
        # The id maps are written by the vfork-like child that makes the
        # sandbox's user namespace before the clone (or opened through a
        # confined stand-in), never by a dumpable setup process: there is
        # no moment to catch.
        # (That child, while csand is as open as any new process for that
        # moment, is counted apart, on stderr: setup-ptrace.py.)
        run --separate-stderr env ROUNDS=25 python3 "$BATS_TEST_DIRNAME/setup-ptrace.py" race "$CSAND" \
                --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" --unshare-user --unshare-net
        echo "$stderr"
        assert_success
        assert_output "race: 0 attached
race: 25 x exit 0"
}
