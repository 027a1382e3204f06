#!/usr/bin/env bats
# The command's environment and working directory: --chdir and the cwd
# fallback (caller's cwd if it exists inside, else $HOME, else /; PWD set),
# --setenv --unsetenv --clearenv applied in order.

load ../lib/common

setup() {
        common_setup
        require_userns
        mkdir -p "$TESTDIR/cwd" "$TESTDIR/home"
}

@test "--chdir: the command starts there, PWD says so" {
        run csand_min --dir /work/sub --chdir /work/sub -- sh -c 'pwd -P; echo "PWD=$PWD"'
        assert_success
        assert_line --index 0 /work/sub
        assert_line --index 1 PWD=/work/sub
}

@test "--chdir to a directory that does not exist inside: error naming it, exit 1" {
        run --separate-stderr csand_min --chdir /no/such/dir -- true
        assert_failure 1
        assert_equal "${#stderr_lines[@]}" 1
        [[ "${stderr_lines[0]}" == "csand: "*"/no/such/dir"* ]] || fail "message: ${stderr_lines[0]}"
}

@test "no --chdir: the caller's directory when it exists inside" {
        cd "$TESTDIR/cwd"
        run csand_min --bind "$TESTDIR/cwd" "$TESTDIR/cwd" -- sh -c 'pwd -P; echo "PWD=$PWD"'
        assert_success
        assert_line --index 0 "$TESTDIR/cwd"
        assert_line --index 1 "PWD=$TESTDIR/cwd"
}

@test "no --chdir: \$HOME when the caller's directory is not inside" {
        cd "$TESTDIR/cwd"
        HOME="$TESTDIR/home" run csand_min --bind "$TESTDIR/home" "$TESTDIR/home" -- sh -c 'pwd -P; echo "PWD=$PWD"'
        assert_success
        assert_line --index 0 "$TESTDIR/home"
        assert_line --index 1 "PWD=$TESTDIR/home"
}

@test "no --chdir: / when neither the caller's directory nor \$HOME is inside" {
        cd "$TESTDIR/cwd"
        HOME="$TESTDIR/home" run csand_min -- sh -c 'pwd -P; echo "PWD=$PWD"'
        assert_success
        assert_line --index 0 /
        assert_line --index 1 PWD=/
}

@test "no --chdir and no \$HOME at all: /" {
        cd "$TESTDIR/cwd"
        run env -u HOME TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$CSAND" "${csand_min_root[@]}" -- sh -c 'pwd -P; echo "PWD=$PWD"'
        assert_success
        assert_line --index 0 /
        assert_line --index 1 PWD=/
}

@test "the caller's environment passes through by default" {
        CSAND_TEST_VAR="some value" run csand_min -- sh -c 'echo "$CSAND_TEST_VAR"'
        assert_success
        assert_output "some value"
}

@test "--setenv sets, and overrides the caller's value" {
        CSAND_TEST_VAR=outer run csand_min --setenv CSAND_TEST_VAR inner --setenv OTHER 'a b=c' -- \
                sh -c 'echo "$CSAND_TEST_VAR"; echo "$OTHER"'
        assert_success
        assert_line --index 0 inner
        assert_line --index 1 "a b=c"
}

@test "--unsetenv removes a variable of the caller" {
        CSAND_TEST_VAR=outer run csand_min --unsetenv CSAND_TEST_VAR -- sh -c 'echo "${CSAND_TEST_VAR-unset}"'
        assert_success
        assert_output unset
}

@test "--clearenv: nothing of the caller's environment is left (PWD is set)" {
        CSAND_TEST_VAR=outer run csand_min --clearenv -- /usr/bin/env
        assert_success
        assert_output "PWD=/"
}

@test "--setenv, --unsetenv and --clearenv apply in order" {
        CSAND_TEST_VAR=outer run csand_min --setenv A 1 --clearenv --setenv B 2 --setenv C 3 --unsetenv C -- /usr/bin/env
        assert_success
        refute_line --partial CSAND_TEST_VAR
        refute_line A=1
        assert_line B=2
        refute_line C=3
        assert_equal "${#lines[@]}" 2  # B and PWD

        run csand_min --setenv A 1 --unsetenv A --setenv A 2 -- sh -c 'echo "$A"'
        assert_success
        assert_output 2
}

@test "--clearenv then --setenv PATH: the command is found through the new PATH" {
        run csand_min --clearenv --setenv PATH /usr/bin -- env
        assert_success
        assert_line PATH=/usr/bin
}

@test "--setenv HOME is the \$HOME of the cwd fallback" {
        cd "$TESTDIR/cwd"
        run csand_min --dir /elsewhere --setenv HOME /elsewhere -- sh -c 'pwd -P'
        assert_success
        assert_output /elsewhere
}
