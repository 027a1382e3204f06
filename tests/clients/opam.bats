#!/usr/bin/env bats
# opam (Debian's 2.1) with its build sandbox on, as opam sets it up by
# default: `opam init` writes the hook sandbox.sh and checks that it works,
# and every build, install and remove command then runs through it:
# `bwrap --unshare-net --new-session --die-with-parent --proc /proc --dev /dev
# --tmpfs /opam-tmp --ro-bind /usr /usr ... --ro-bind /tmp /tmp --bind
# BUILD_DIR BUILD_DIR CMD` with the first `bwrap` on PATH, no pid namespace.
# Everything is local: a file:// repository of packages without sources,
# an empty switch, OPAMROOT in the test's directory.  The same steps with
# Debian's bwrap (the control) and with csand.

load ../lib/common
load ../lib/clients

setup() {
        client_setup
        require_feature "opam" command -v opam
        local v
        for v in $(compgen -e | grep '^OPAM' || true); do
                unset "$v"
        done
        export OPAMROOT="$CLIENT_DIR/opamroot" OPAMCOLOR=never OPAMUTF8=never
        # sandbox.sh binds /home, /tmp and /var read-only: the test's own
        # files must be in one of them to be "outside, read-only"
        case "$CLIENT_DIR" in
        /tmp/* | /var/* | /home/*) ;;
        *) fail "the test directory $CLIENT_DIR is not under /tmp, /var or /home (set TMPDIR)" ;;
        esac
        OPAM_REPO="$CLIENT_DIR/repo"
        make_repo
}

teardown() {
        client_teardown
}

# opam_package NAME FIELDS: a package of the local repository.
opam_package() {
        mkdir -p "$OPAM_REPO/packages/$1/$1.1"
        {
                printf 'opam-version: "2.0"\nsynopsis: "csand client test"\nmaintainer: "csand"\n'
                printf '%s\n' "$2"
        } >"$OPAM_REPO/packages/$1/$1.1/opam"
}

make_repo() {
        mkdir -p "$OPAM_REPO"
        printf 'opam-version: "2.0"\n' >"$OPAM_REPO/repo"
        # writes only in its build directory; keeps argv[0] of the process
        # that started its build command (the sandbox's monitor: no pid
        # namespace)
        opam_package hello '
build: [
  ["sh" "-c" "echo built-in-the-sandbox > inbuild.txt"]
  ["sh" "-c" "cat /proc/$PPID/cmdline > monitor.txt"]
]
install: [
  ["mkdir" "-p" "%{prefix}%/share/hello"]
  ["cp" "inbuild.txt" "monitor.txt" "%{prefix}%/share/hello/"]
]
remove: [["rm" "-rf" "%{prefix}%/share/hello"]]'
        # builds that write outside their build directory: HOME, the switch
        opam_package escape-home "build: [[\"sh\" \"-c\" \"echo escaped > $HOME/escaped\"]]"
        opam_package escape-prefix 'build: [["sh" "-c" "echo escaped > %{prefix}%/escaped"]]'
}

# init_switch KIND: opam init (sandboxing on: no answer to "disable it?",
# and the hook must be in the configuration), then an empty switch "sw".
init_switch() {
        use_bwrap "$1"
        run client 120 opam init --bare -n default "file://$OPAM_REPO" </dev/null
        assert_success
        # (without a terminal to answer, opam keeps sandboxing on even when
        # its check fails)
        refute_output --partial "Sandboxing is not working"
        grep -q 'wrap-build-commands' "$OPAMROOT/config" ||
                fail "opam init turned sandboxing off: $(cat "$OPAMROOT/config")"
        assert [ -x "$OPAMROOT/opam-init/hooks/sandbox.sh" ]
        # opam init's own check ran in the sandbox
        assert_bwrap_ran opam-sandbox-check-out
        run client 120 opam switch create --empty sw </dev/null
        assert_success
}

# build_install_remove KIND
build_install_remove() {
        init_switch "$1"
        local runs share="$OPAMROOT/sw/share/hello"
        runs=$(bwrap_runs)
        run client 120 opam install -y --switch sw hello </dev/null
        assert_success
        assert_equal "$(cat "$share/inbuild.txt")" built-in-the-sandbox
        # the build's monitor process was started from the bwrap under test
        assert_equal "$(tr '\0' '\n' <"$share/monitor.txt" | head -n1)" "$BWRAP_TARGET"
        # two build and two install commands, one sandbox each
        assert_equal "$(($(bwrap_runs) - runs))" 4
        assert_bwrap_ran "--proc /proc --dev /dev" "--bind $OPAMROOT/sw/.opam-switch/build/hello.1 $OPAMROOT/sw/.opam-switch/build/hello.1"
        run client 120 opam remove -y --switch sw hello </dev/null
        assert_success
        assert [ ! -e "$share" ]
        assert_equal "$(($(bwrap_runs) - runs))" 5
}

# write_outside KIND
write_outside() {
        init_switch "$1"
        run client 120 opam install -y --switch sw escape-home </dev/null
        assert_failure
        assert_output --partial "$HOME/escaped: Read-only file system"
        assert [ ! -e "$HOME/escaped" ]
        run client 120 opam install -y --switch sw escape-prefix </dev/null
        assert_failure
        assert_output --partial "$OPAMROOT/sw/escaped: Read-only file system"
        assert [ ! -e "$OPAMROOT/sw/escaped" ]
}

@test "opam: sandboxed init, empty switch, a package built, installed and removed in the sandbox (Debian's bwrap, the control)" {
        build_install_remove bwrap
}

@test "opam: sandboxed init, empty switch, a package built, installed and removed in the sandbox (csand as bwrap)" {
        build_install_remove csand
}

@test "opam: builds that write outside their build directory fail, read-only (Debian's bwrap, the control)" {
        write_outside bwrap
}

@test "opam: builds that write outside their build directory fail, read-only (csand as bwrap)" {
        write_outside csand
}
