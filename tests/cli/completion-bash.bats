#!/usr/bin/env bats
# The bash completion (completions/bash/csand), driven in a real bash with
# bash-completion loaded: COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT are set
# as readline sets them and _csand is called; COMPREPLY is what the user
# would be offered. What is expected is derived from `csand --help` (the
# options and their metavariables), so a new option is checked as soon as it
# exists. --seccomp-profile is tested only when --help lists it.

load ../lib/common

bash_completion_lib=/usr/share/bash-completion/bash_completion

# The configured copy from the build tree (what gets installed), else the
# source file.
completion_file() {
        if [ -f "$CSAND_BUILD_DIR/completions/csand" ]; then
                echo "$CSAND_BUILD_DIR/completions/csand"
        else
                echo "$CSAND_SOURCE_DIR/completions/bash/csand"
        fi
}

setup() {
        common_setup
        require_feature "bash-completion ($bash_completion_lib)" test -f "$bash_completion_lib"
        # A directory to complete paths in.
        WORK="$BATS_TEST_TMPDIR/cwd"
        mkdir -p "$WORK/beta-dir"
        touch "$WORK/beta-file"
        export CSAND_SECCOMP_PROFILE_DIR="$CSAND_SOURCE_DIR/seccomp-profiles"
        cat >"$BATS_TEST_TMPDIR/driver.bash" <<'EOF'
# bash driver.bash COMPLETION_FILE < lines: for each line, "### LINE" and
# then the candidates for completing at its end, one per line.
source /usr/share/bash-completion/bash_completion
source "$1"
# Outside a completion started by readline, compopt fails; it only sets
# display options.
compopt() { :; }
complete_line() {
        local line=$1 rest w
        # Words as readline makes them: blanks separate, and the characters
        # of COMP_WORDBREAKS that are not blanks (':' and '=' here) are
        # words of their own.
        COMP_WORDS=()
        rest=$line
        while [[ $rest =~ ^[[:blank:]]*([^[:blank:]:=]+|[:=]+) ]]; do
                COMP_WORDS+=("${BASH_REMATCH[1]}")
                rest=${rest:${#BASH_REMATCH[0]}}
        done
        [[ $line == *[[:blank:]] ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
        COMPREPLY=()
        _csand csand "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf '%s\n' "${COMPREPLY[@]}"
}
while IFS= read -r line; do
        printf '### %s\n' "$line"
        complete_line "$line" 2>/dev/null
done
EOF
}

# run_completion LINE...: completes every LINE in one bash; the results go to
# $BATS_TEST_TMPDIR/results, read them with `candidates LINE`.
run_completion() {
        printf '%s\n' "$@" >"$BATS_TEST_TMPDIR/lines"
        (cd "$WORK" && bash --norc --noprofile "$BATS_TEST_TMPDIR/driver.bash" "$(completion_file)" \
                <"$BATS_TEST_TMPDIR/lines" >"$BATS_TEST_TMPDIR/results")
}

# The candidates offered for LINE (after `run_completion`), sorted, one per line.
candidates() {
        awk -v l="### $1" '$0 == l { on = 1; next } /^### / { on = 0 } on && $0 != "" { print }' \
                "$BATS_TEST_TMPDIR/results" | sort -u
}

# "--option METAVARS..." per line, from --help, whose lines are printed as
# "    %-28s %s": when column 33 is blank, the option and its metavariables
# are columns 5-32; a longer left part is followed by one blank, and its
# metavariables are the upper-case words after the name (SRC, NAME|FILE,
# NAME=SOFT[:HARD], [IP:]HOSTPORT:PORT[/tcp|/udp]).
help_options_with_args() {
        "$CSAND" --help | awk '/^    --/ {
                if (substr($0, 33, 1) == " ") {
                        left = substr($0, 5, 28)
                        sub(/ +$/, "", left)
                } else {
                        left = $1
                        for (i = 2; i <= NF && $i ~ /^(\[[^]]*\])?[A-Z][A-Z0-9_|:=]*(\[[^]]*\])?$/; i++)
                                left = left " " $i
                }
                print left
        }'
}

help_has() {
        "$CSAND" --help | grep -q -- "^    $1\\b"
}

@test "bash: --ro completes to exactly the --ro options of --help" {
        run_completion "csand --ro"
        assert_equal "$(candidates "csand --ro")" "$("$CSAND" --help | awk '$1 ~ /^--ro/ { print $1 }' | sort -u)"
        # the four of bwrap 0.11 that start so
        candidates "csand --ro" | grep -qx -- --ro-bind
        candidates "csand --ro" | grep -qx -- --ro-bind-try
}

@test "bash: -- offers every option of --help, and no other" {
        run_completion "csand --"
        local offered expected
        offered=$(candidates "csand --" | grep -vx -- --)
        expected=$(help_options_with_args | cut -d' ' -f1 | sort -u)
        assert_equal "$offered" "$expected"
}

# For every option with N arguments: at each of its argument positions
# `--he` must not complete to --help (the word is a value), and right after
# its N arguments it must (options go on).
@test "bash: every option takes as many arguments as --help says" {
        local lines=() opt args n k prefix
        while read -r opt args; do
                n=$(wc -w <<<"$args")
                prefix="csand $opt"
                for ((k = 0; k < n; k++)); do
                        lines+=("$prefix --he")
                        prefix+=" x$k"
                done
                lines+=("$prefix --he")
        done < <(help_options_with_args)
        run_completion "${lines[@]}"

        local bad=()
        while read -r opt args; do
                n=$(wc -w <<<"$args")
                prefix="csand $opt"
                for ((k = 0; k < n; k++)); do
                        candidates "$prefix --he" | grep -qx -- --help && bad+=("$opt: argument $((k + 1)) completed as an option")
                        prefix+=" x$k"
                done
                candidates "$prefix --he" | grep -qx -- --help || bad+=("$opt: no options after its $n argument(s)")
        done < <(help_options_with_args)
        if [ ${#bad[@]} -gt 0 ]; then
                printf '%s\n' "${bad[@]}"
                fail "argument counts disagree with --help"
        fi
}

# Positions named SRC, DEST, PATH, DIR, RWSRC or WORKDIR in --help complete
# directories, PATH and the SRC of binds and symlinks files too; positions
# named FD complete nothing.
@test "bash: path arguments complete files and directories, FD arguments nothing" {
        local lines=() opt args k meta prefix
        while read -r opt args; do
                prefix="csand $opt"
                k=0
                for meta in $args; do
                        lines+=("$prefix beta" "$prefix ")
                        prefix+=" x$k"
                        k=$((k + 1))
                done
        done < <(help_options_with_args)
        run_completion "${lines[@]}"

        local bad=() c
        while read -r opt args; do
                prefix="csand $opt"
                k=0
                for meta in $args; do
                        c=$(candidates "$prefix beta")
                        case $meta in
                        SRC | PATH | DEST | DIR | RWSRC | WORKDIR)
                                grep -qx 'beta-dir/\?' <<<"$c" || bad+=("$opt $meta: no directories")
                                ;;
                        esac
                        case $opt/$meta in
                        --overlay-src/*) ;; # layers are directories
                        */SRC | */PATH)
                                grep -qx beta-file <<<"$c" || bad+=("$opt $meta: no files")
                                ;;
                        esac
                        case $meta in
                        FD)
                                [ -z "$(candidates "$prefix ")" ] || bad+=("$opt $meta: offers $(candidates "$prefix " | head -3 | paste -sd' ')")
                                ;;
                        esac
                        prefix+=" x$k"
                        k=$((k + 1))
                done
        done < <(help_options_with_args)
        if [ ${#bad[@]} -gt 0 ]; then
                printf '%s\n' "${bad[@]}"
                fail "value completion disagrees with the metavariables of --help"
        fi
}

@test "bash: directory-only destinations offer no files" {
        help_has --tmpfs || skip "no --tmpfs"
        run_completion "csand --tmpfs beta" "csand --chdir beta" "csand --ro-bind beta"
        assert_equal "$(candidates "csand --tmpfs beta")" "beta-dir"
        assert_equal "$(candidates "csand --chdir beta")" "beta-dir"
        assert_equal "$(candidates "csand --ro-bind beta")" "$(printf 'beta-dir\nbeta-file')"
}

@test "bash: --cap-add and --cap-drop offer the capability names" {
        help_has --cap-add || skip "csand --help does not list --cap-add"
        run_completion "csand --cap-add " "csand --cap-drop CAP_SYS_AD" "csand --cap-drop sys_ad" "csand --cap-add cap_net_r"
        local c
        c=$(candidates "csand --cap-add ")
        grep -qx ALL <<<"$c" || fail "no ALL"
        grep -qx CAP_SYS_ADMIN <<<"$c" || fail "no CAP_SYS_ADMIN"
        grep -qx CAP_CHECKPOINT_RESTORE <<<"$c" || fail "no CAP_CHECKPOINT_RESTORE"
        [ "$(wc -l <<<"$c")" -ge 42 ] || fail "only $(wc -l <<<"$c") capabilities"
        assert_equal "$(candidates "csand --cap-drop CAP_SYS_AD")" CAP_SYS_ADMIN
        assert_equal "$(candidates "csand --cap-drop sys_ad")" SYS_ADMIN
        assert_equal "$(candidates "csand --cap-add cap_net_r")" CAP_NET_RAW
}

@test "bash: the capability list has every capability of linux/capability.h" {
        help_has --cap-add || skip "csand --help does not list --cap-add"
        local header=/usr/include/linux/capability.h
        require_feature "Linux UAPI headers ($header)" test -f "$header"
        run_completion "csand --cap-add "
        local missing
        missing=$(comm -23 <(sed -n 's/^#define \(CAP_[A-Z_]*\)[[:blank:]]\+[0-9]\+$/\1/p' "$header" | grep -vx CAP_LAST_CAP | sort -u) \
                <(candidates "csand --cap-add "))
        [ -z "$missing" ] || fail "capabilities not offered: $missing"
}

@test "bash: --network, --overlay-driver and --cgroup-manager offer their modes (those --help lists)" {
        help_has --network || help_has --overlay-driver || help_has --cgroup-manager ||
                skip "csand --help lists none of --network, --overlay-driver, --cgroup-manager"
        run_completion "csand --network " "csand --network sl" "csand --overlay-driver " "csand --cgroup-manager "
        if help_has --network; then
                assert_equal "$(candidates "csand --network ")" "$(printf '%s\n' host none pasta slirp4netns)"
                assert_equal "$(candidates "csand --network sl")" slirp4netns
        fi
        if help_has --overlay-driver; then
                assert_equal "$(candidates "csand --overlay-driver ")" "$(printf '%s\n' auto fuse kernel)"
        fi
        if help_has --cgroup-manager; then
                assert_equal "$(candidates "csand --cgroup-manager ")" "$(printf '%s\n' auto cgroupfs systemd)"
        fi
}

# NAME=VALUE options: the names, up to the '=' (shown with or without it).
@test "bash: --cgroup-property and --rlimit offer the names before '=' (those --help lists)" {
        help_has --cgroup-property || help_has --rlimit || skip "csand --help lists neither --cgroup-property nor --rlimit"
        run_completion "csand --cgroup-property MemoryM" "csand --cgroup-property MemoryMax=" \
                "csand --rlimit NOF" "csand --rlimit nof" "csand --rlimit " "csand --rlimit NOFILE=" \
                "csand --rlimit NOFILE=1 --he"
        if help_has --cgroup-property; then
                assert_equal "$(candidates "csand --cgroup-property MemoryM" | tr -d =)" "$(printf '%s\n' MemoryMax MemoryMin)"
                [ -z "$(candidates "csand --cgroup-property MemoryMax=")" ] || fail "names offered after '='"
        fi
        if help_has --rlimit; then
                assert_equal "$(candidates "csand --rlimit NOF" | tr -d =)" NOFILE
                assert_equal "$(candidates "csand --rlimit nof" | tr -d =)" NOFILE
                [ "$(candidates "csand --rlimit " | wc -l)" -ge 15 ] || fail "not every resource offered"
                [ -z "$(candidates "csand --rlimit NOFILE=")" ] || fail "names offered after '='"
                assert_equal "$(candidates "csand --rlimit NOFILE=1 --he")" --help
        fi
}

@test "bash: --seccomp-profile offers the installed profiles and files (when --help lists it)" {
        help_has --seccomp-profile || skip "csand --help does not list --seccomp-profile"
        run_completion "csand --seccomp-profile " "csand --seccomp-profile de" "csand --seccomp-profile beta"
        local c p
        c=$(candidates "csand --seccomp-profile ")
        for p in "$CSAND_SECCOMP_PROFILE_DIR"/*.json; do
                p=${p##*/}
                grep -qx "${p%.json}" <<<"$c" || fail "profile ${p%.json} not offered: $c"
        done
        candidates "csand --seccomp-profile de" | grep -qx default || fail "default not offered"
        candidates "csand --seccomp-profile de" | grep -qx desktop || fail "desktop not offered"
        candidates "csand --seccomp-profile beta" | grep -qx beta-file || fail "files not offered"
}

@test "bash: after -- and at the first non-option word, commands and then their arguments" {
        run_completion "csand -- bas" "csand --unshare-all bas" "csand --ro-bind / / -- ls --al" \
                "csand --unshare-pid ls --al" "csand --unshare-pid ls --ro" "csand -- ls --ro"
        candidates "csand -- bas" | grep -qx bash || fail "no bash after --"
        candidates "csand --unshare-all bas" | grep -qx bash || fail "no bash as the first non-option word"
        candidates "csand --ro-bind / / -- ls --al" | grep -qx -- '--all' || fail "ls's options not completed"
        candidates "csand --unshare-pid ls --al" | grep -qx -- '--all' || fail "ls's options not completed"
        [ -z "$(candidates "csand --unshare-pid ls --ro")" ] || fail "csand options offered after the command"
        [ -z "$(candidates "csand -- ls --ro")" ] || fail "csand options offered after --"
}

@test "bash: values with ':' and '=' do not shift the command" {
        run_completion "csand --setenv PATH /usr/bin:/bin ls --al" "csand --setenv A b=c bas" "csand --setenv A b=c --he"
        candidates "csand --setenv PATH /usr/bin:/bin ls --al" | grep -qx -- '--all' || fail "ls's options not completed"
        candidates "csand --setenv A b=c bas" | grep -qx bash || fail "command not completed"
        assert_equal "$(candidates "csand --setenv A b=c --he")" "--help"
}

@test "bash: --setenv and --unsetenv complete variable names" {
        HOME=${HOME:-/} run_completion "csand --setenv HO" "csand --unsetenv HO"
        candidates "csand --setenv HO" | grep -qx HOME || fail "HOME not offered"
        candidates "csand --unsetenv HO" | grep -qx HOME || fail "HOME not offered"
}
