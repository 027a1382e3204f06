#!/usr/bin/env bats
# --help and --version: what a user and a wrapper script see first.

load ../lib/common

# Every option of the foundation (issue 2), as bwrap names them.
core_options=(
        --help --version
        --unshare-user --unshare-user-try --unshare-ipc --unshare-pid --unshare-net --unshare-uts
        --unshare-cgroup --unshare-cgroup-try --unshare-all --share-net
        --uid --gid --hostname --chdir --setenv --unsetenv --clearenv
        --bind --bind-try --dev-bind --dev-bind-try --ro-bind --ro-bind-try --remount-ro
        --proc --dev --tmpfs --mqueue --dir --symlink --perms --size --chmod
        --die-with-parent --new-session --as-pid-1
)

@test "--help: usage line first, on stdout, exit 0" {
        run --separate-stderr "$CSAND" --help
        assert_success
        assert_equal "${lines[0]}" "usage: $CSAND [OPTIONS...] [--] COMMAND [ARGS...]"
        assert_equal "$stderr" ""
}

@test "--help: ARGV0 in the usage line is argv[0] as invoked" {
        mkdir -p "$TESTDIR/bin"
        ln -s "$CSAND" "$TESTDIR/bin/csand"
        PATH="$TESTDIR/bin:$PATH" run --separate-stderr csand_by_path --help
        assert_success
        assert_equal "${lines[0]}" "usage: csand [OPTIONS...] [--] COMMAND [ARGS...]"
}

csand_by_path() {
        command csand "$@"
}

@test "--help lists every core option" {
        run --separate-stderr "$CSAND" --help
        assert_success
        local opt missing=()
        for opt in "${core_options[@]}"; do
                grep -qE -- "^[[:space:]]+$opt( |\$)" <<<"$output" || missing+=("$opt")
        done
        assert_equal "${missing[*]}" ""
}

@test "--help lists each option with its argument names" {
        run "$CSAND" --help
        assert_success
        assert_line --regexp '^ +--bind SRC DEST +[^ ]'
        assert_line --regexp '^ +--symlink SRC DEST +[^ ]'
        assert_line --regexp '^ +--uid UID +[^ ]'
        assert_line --regexp '^ +--setenv VAR VALUE +[^ ]'
        assert_line --regexp '^ +--chmod OCTAL PATH +[^ ]'
        assert_line --regexp '^ +--unshare-all +[^ ]'
}

@test "--help among other options still prints help and exits 0" {
        run --separate-stderr "$CSAND" --unshare-pid --help --bind /a /b
        assert_success
        assert_equal "${lines[0]}" "usage: $CSAND [OPTIONS...] [--] COMMAND [ARGS...]"
}

@test "--help as a command argument is the command's, not csand's" {
        # after the command starts, nothing is an option any more
        run --separate-stderr "$CSAND" "${csand_min_root[@]}" printf '%s\n' --help
        assert_success
        assert_output "--help"
}

# The bwrap release csand follows, as tests/fixtures/bwrap-options names it.
followed_bwrap_version() {
        sed -n '1s/^# bubblewrap \([0-9.]*\)$/\1/p' "$CSAND_SOURCE_DIR/tests/fixtures/bwrap-options"
}

@test "--version: 'csand VERSION (bubblewrap X.Y.Z)', the meson project's and the bwrap followed, exit 0" {
        local version bwrap
        version=$(sed -n "s/^[[:space:]]*version:[[:space:]]*'\([^']*\)'.*/\1/p" "$CSAND_SOURCE_DIR/meson.build" | head -n1)
        bwrap=$(followed_bwrap_version)
        [ -n "$version" ] && [ -n "$bwrap" ]
        run --separate-stderr "$CSAND" --version
        assert_success
        assert_output "csand $version (bubblewrap $bwrap)"
        assert_equal "$stderr" ""
}

@test "--version through a link named bwrap speaks as bubblewrap" {
        mkdir -p "$TESTDIR/bin"
        ln -s "$CSAND" "$TESTDIR/bin/bwrap"
        run --separate-stderr "$TESTDIR/bin/bwrap" --version
        assert_success
        # scripts parse "bubblewrap X.Y.Z" (flatpak checks the version this way)
        assert_output --regexp "^bubblewrap $(followed_bwrap_version | sed 's/\./\\./g') \(csand [0-9.]+\)\$"
}

# What makes the version named true: csand takes every option of that bwrap
# release, with the same number of arguments.
@test "--version's bwrap release: csand takes each of its options with the same arguments" {
        run "$CSAND" --help
        assert_success
        local help=$output opt n line got missing=()
        while read -r opt n; do
                [[ "$opt" == "#"* || -z "$opt" ]] && continue
                line=$(grep -E -- "^[[:space:]]+$opt( |\$)" <<<"$help" | head -n1)
                if [ -z "$line" ]; then
                        missing+=("$opt (not in --help)")
                        continue
                fi
                # the argument names: the all-capitals words after the option
                # (the help text after them is a sentence)
                got=$(awk '{ n = 0; for (i = 2; i <= NF && $i ~ /^[A-Z][A-Z_|]*$/; i++) n++; print n }' <<<"$line")
                [ "$got" -eq "$n" ] || missing+=("$opt takes $got arguments, bwrap's $n")
        done <"$CSAND_SOURCE_DIR/tests/fixtures/bwrap-options"
        assert_equal "${missing[*]}" ""
}

@test "the bwrap options list is a superset of the distribution's bwrap's --help" {
        require_feature "bwrap (package bubblewrap)" test -x /usr/bin/bwrap
        # an older bwrap's options, each in the newer release's list with the
        # same arguments: the list is not missing what a client already uses
        run /usr/bin/bwrap --help
        local listed missing=() opt n
        listed=$(grep -v '^#' "$CSAND_SOURCE_DIR/tests/fixtures/bwrap-options")
        while read -r opt n; do
                grep -qx -- "$opt $n" <<<"$listed" || missing+=("$opt $n")
        done < <(sed -n 's/^    \(--[a-z0-9-]*\)\(\( [A-Z][A-Z_]*\)*\).*/\1 \2/p' <<<"$output" |
                awk '{ print $1, NF - 1 }')
        assert_equal "${missing[*]}" ""
}
