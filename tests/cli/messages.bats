#!/usr/bin/env bats
# Bad input on the command line: one "PROG: ..." line on stderr naming the
# option, exit status 1, nothing on stdout, nothing left behind (the common
# teardown checks processes, mounts and temp files after each test).

load ../lib/common

# run_bad ARGS...: runs csand, asserts the failure shape, leaves the message
# in $msg.
run_bad() {
        run --separate-stderr "$CSAND" "$@"
        assert_csand_error
}

@test "unknown option: names it" {
        run_bad --frobnicate true
        [[ "$msg" == *"--frobnicate"* ]] || fail "message does not name the option: $msg"
}

@test "unknown option after valid ones: names it" {
        run_bad --unshare-pid --ro-bind /usr /usr --no-such-thing true
        [[ "$msg" == *"--no-such-thing"* ]] || fail "message does not name the option: $msg"
}

@test "no '--opt=value' forms: --bind=/a is unknown" {
        run_bad --bind=/usr /usr true
        [[ "$msg" == *"--bind=/usr"* ]] || fail "message does not name the argument: $msg"
}

@test "missing argument: every option with arguments, at the end of argv" {
        local opt
        for opt in --bind --bind-try --dev-bind --dev-bind-try --ro-bind --ro-bind-try --remount-ro \
                   --proc --dev --tmpfs --mqueue --dir --symlink --perms --size --chmod \
                   --uid --gid --hostname --chdir --setenv --unsetenv; do
                run_bad "$opt"
                [[ "$msg" == *"$opt"* ]] || fail "message for a bare $opt does not name it: $msg"
        done
}

@test "missing argument: two-argument options given one" {
        local opt
        for opt in --bind --ro-bind --dev-bind --symlink --setenv --chmod; do
                run_bad "$opt" /only-one
                [[ "$msg" == *"$opt"* ]] || fail "message for $opt with one argument does not name it: $msg"
        done
}

@test "non-numeric --uid: names the option and the value" {
        run_bad --unshare-user --uid abc true
        [[ "$msg" == *uid* && "$msg" == *abc* ]] || fail "message: $msg"
}

@test "non-numeric --gid: names the option and the value" {
        run_bad --unshare-user --gid 12x true
        [[ "$msg" == *gid* && "$msg" == *12x* ]] || fail "message: $msg"
}

@test "negative or out-of-range ids are refused" {
        run_bad --unshare-user --uid -1 true
        [[ "$msg" == *uid* ]] || fail "message: $msg"
        run_bad --unshare-user --gid 4294967296 true
        [[ "$msg" == *gid* ]] || fail "message: $msg"
}

@test "--hostname without --unshare-uts" {
        run_bad --hostname box true
        [[ "$msg" == *"--hostname"* && "$msg" == *"--unshare-uts"* ]] || fail "message: $msg"
}

@test "--as-pid-1 without --unshare-pid" {
        run_bad --as-pid-1 true
        [[ "$msg" == *"--as-pid-1"* && "$msg" == *"--unshare-pid"* ]] || fail "message: $msg"
}

@test "no command" {
        run_bad
        run_bad --unshare-pid --ro-bind /usr /usr
        run_bad --unshare-pid --
}

@test "--perms not followed by --dir or --tmpfs" {
        run_bad --perms 0700 --bind /usr /usr true
        [[ "$msg" == *"--perms"* ]] || fail "message: $msg"
        run_bad --tmpfs /t --perms 0700
        [[ "$msg" == *"--perms"* ]] || fail "message: $msg"
}

@test "--size not followed by --tmpfs" {
        run_bad --size 1m --dir /d true
        [[ "$msg" == *"--size"* ]] || fail "message: $msg"
        run_bad --tmpfs /t --size 1m
        [[ "$msg" == *"--size"* ]] || fail "message: $msg"
}

@test "bad --perms, --size, --chmod and --cap-add values: bwrap's words" {
        # scripts written for bwrap match its texts (issue 14 item 16)
        run_bad --perms 0800 --dir /d true
        assert_equal "$msg" "csand: --perms takes an octal argument <= 07777"
        run_bad --perms rwx --dir /d true
        assert_equal "$msg" "csand: --perms takes an octal argument <= 07777"
        run_bad --size 10q --tmpfs /t true
        assert_equal "$msg" "csand: --size takes a non-zero number of bytes"
        run_bad --size 0 --tmpfs /t true
        assert_equal "$msg" "csand: --size takes a non-zero number of bytes"
        run_bad --chmod u+x /d true
        assert_equal "$msg" "csand: --chmod takes an octal argument <= 07777"
        run_bad --cap-add CAP_NO_SUCH true
        assert_equal "$msg" "csand: unknown cap: CAP_NO_SUCH"
        run_bad --cap-drop CAP_ true
        assert_equal "$msg" "csand: unknown cap: CAP_"
        run_bad --perms 0700 --bind /usr /usr true
        assert_equal "$msg" "csand: --perms must be followed by an option that creates a file"
        run_bad --size 4096 --dir /d true
        assert_equal "$msg" "csand: --size must be followed by --tmpfs"
}

@test "with several problems, the one bwrap names first" {
        # bwrap checks the user namespace options before the command
        run_bad --userns-block-fd 0 --disable-userns
        assert_equal "$msg" "csand: --userns-block-fd requires --unshare-user"
        run_bad --unshare-user --userns-block-fd 0 --hostname h
        assert_equal "$msg" "csand: --userns-block-fd requires --info-fd"
        run_bad --disable-userns --hostname h true
        assert_equal "$msg" "csand: --disable-userns requires --unshare-user"
        run_bad --unshare-user --info-fd 1 --userns-block-fd 0 --disable-userns true
        assert_equal "$msg" "csand: --disable-userns is not compatible with  --userns-block-fd"
        run_bad --disable-userns
        assert_equal "$msg" "csand: --disable-userns requires --unshare-user"
        run_bad --hostname h --as-pid-1
        assert_equal "$msg" "csand: No command specified (see --help)"
        run_bad --hostname h --as-pid-1 true
        assert_equal "$msg" "csand: Specifying --hostname requires --unshare-uts"
        run_bad --unshare-pid --as-pid-1 --lock-file /l true
        assert_equal "$msg" "csand: Specifying --as-pid-1 and --lock-file is not permitted"
}

@test "an option that takes one value, given twice: bwrap's warning, then on" {
        run --separate-stderr "$CSAND" --hostname a --hostname b --uid 1 --uid 2 --gid 3 --gid 4 \
                --info-fd 1 --info-fd 1 --chdir / --chdir /
        assert_failure 1
        assert_equal "$stderr" "csand: Only the last --hostname option will take effect
csand: Only the last --uid option will take effect
csand: Only the last --gid option will take effect
csand: Only the last --info-fd option will take effect
csand: Only the last --chdir option will take effect
csand: No command specified (see --help)"
}

@test "--setenv with '=' in the name" {
        run_bad --setenv A=B 1 true
        [[ "$msg" == *"A=B"* ]] || fail "message: $msg"
}

@test "through a link named bwrap, messages say 'bwrap: '" {
        mkdir -p "$TESTDIR/bin"
        ln -s "$CSAND" "$TESTDIR/bin/bwrap"
        run --separate-stderr "$TESTDIR/bin/bwrap" --frobnicate true
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        assert_equal "${stderr_lines[0]}" "bwrap: Unknown option --frobnicate"

        run --separate-stderr "$TESTDIR/bin/bwrap" --hostname box true
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        [[ "${stderr_lines[0]}" == "bwrap: "*"--hostname"* ]] || fail "message: ${stderr_lines[0]}"
}

@test "PROG is the basename of argv[0], whatever the link's name" {
        mkdir -p "$TESTDIR/bin"
        ln -s "$CSAND" "$TESTDIR/bin/my-sandbox"
        run --separate-stderr "$TESTDIR/bin/my-sandbox" --frobnicate
        assert_failure 1
        assert_equal "${stderr_lines[0]}" "my-sandbox: Unknown option --frobnicate"
}

@test "through a link named bwrap, --help's usage line names the link" {
        mkdir -p "$TESTDIR/bin"
        ln -s "$CSAND" "$TESTDIR/bin/bwrap"
        run --separate-stderr "$TESTDIR/bin/bwrap" --help
        assert_success
        assert_equal "${lines[0]}" "usage: $TESTDIR/bin/bwrap [OPTIONS...] [--] COMMAND [ARGS...]"
}

@test "--uid without --unshare-user: refused as root, implies a user namespace unprivileged" {
        if [ "$(id -u)" -eq 0 ]; then
                # root gets no user namespace unless asked: a different uid can't be had
                run_bad --uid 4321 true
                [[ "$msg" == *"--uid"* && "$msg" == *"--unshare-user"* ]] || fail "message: $msg"
                run_bad --gid 4321 true
                [[ "$msg" == *"--gid"* && "$msg" == *"--unshare-user"* ]] || fail "message: $msg"
        else
                require_userns
                run --separate-stderr "$CSAND" "${csand_min_root[@]}" --uid 4321 --gid 4321 -- sh -c 'id -u; id -g'
                assert_success
                assert_equal "${lines[*]}" "4321 4321"
        fi
}

@test "through a link named bwrap, no command: the usage on stderr, exit 1, as bwrap" {
        mkdir -p "$TESTDIR/bin"
        ln -s "$CSAND" "$TESTDIR/bin/bwrap"
        local args
        for args in "" "--unshare-pid" "--unshare-pid --"; do
                # shellcheck disable=SC2086
                run --separate-stderr "$TESTDIR/bin/bwrap" $args
                assert_failure 1
                assert_equal "$output" ""
                assert_equal "${stderr_lines[0]}" "usage: $TESTDIR/bin/bwrap [OPTIONS...] [--] COMMAND [ARGS...]"
        done
        # bwrap's order: the namespace checks come first
        run --separate-stderr "$TESTDIR/bin/bwrap" --disable-userns
        assert_failure 1
        assert_equal "$stderr" "bwrap: --disable-userns requires --unshare-user"
}
