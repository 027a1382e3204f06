#!/usr/bin/env bats
# The zsh completion (completions/zsh/_csand), driven in a real interactive
# zsh: `zsh -f` with compinit runs in a pseudo-terminal (zsh/zpty), each line
# is typed followed by Tab, and compadd is wrapped so that every candidate
# zsh would offer is also printed, framed by NUL lines from
# compprefuncs/comppostfuncs (the technique of zsh-capture-completion). What is expected is derived from `csand --help` (the
# options and their metavariables), so a new option is checked as soon as it
# exists. --seccomp-profile is tested only when --help lists it.

load ../lib/common

# The configured copy from the build tree (what gets installed), else the
# source file.
completion_dir() {
        local d="$BATS_TEST_TMPDIR/fpath"
        mkdir -p "$d"
        if [ -f "$CSAND_BUILD_DIR/completions/_csand" ]; then
                cp "$CSAND_BUILD_DIR/completions/_csand" "$d/"
        else
                cp "$CSAND_SOURCE_DIR/completions/zsh/_csand" "$d/"
        fi
        echo "$d"
}

setup() {
        common_setup
        require_feature "zsh" command -v zsh
        require_feature "the zsh/zpty module" zsh -fc 'zmodload zsh/zpty'
        # A directory to complete paths in.
        WORK="$BATS_TEST_TMPDIR/cwd"
        mkdir -p "$WORK/beta-dir"
        touch "$WORK/beta-file"
        export CSAND_SECCOMP_PROFILE_DIR="$CSAND_SOURCE_DIR/seccomp-profiles"
        cat >"$BATS_TEST_TMPDIR/init.zsh" <<'EOF'
# Sourced by the interactive zsh in the pty.
PROMPT=
unsetopt auto_list list_ambiguous list_beep auto_menu menu_complete
autoload -U compinit && compinit -u -D
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
# Print every candidate, and add it too: the tag loops of _files & co. stop
# at the first tag that added matches, as in an ordinary shell.
compadd () {
        # calls that only query (-O, -A, -D) go through untouched
        if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
                builtin compadd "$@"
                return $?
        fi
        typeset -a __hits
        builtin compadd -A __hits "$@"
        builtin compadd "$@"
        local ret=$? h
        local -A apre hpre
        zparseopts -E P:=apre p:=hpre
        for h in $__hits; do
                print -r -- "$IPREFIX${apre[-P]}${hpre[-p]}$h"
        done
        return $ret
}
bindkey '^M' undefined
bindkey '^J' undefined
null-line () { echo -E - $'\0' }
# compprefuncs/comppostfuncs are emptied after each completion: set them
# for every Tab.
capture-complete () {
        compprefuncs=( null-line )
        comppostfuncs=( null-line )
        zle complete-word
}
zle -N capture-complete
bindkey '^I' capture-complete
EOF
        cat >"$BATS_TEST_TMPDIR/driver.zsh" <<'EOF'
# zsh -f driver.zsh FPATH_DIR INIT < lines: for each line, "### LINE" and
# then the candidates for completing at its end, one per line.
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "fpath=(${(q)1} \$fpath)"
zpty -w z "source ${(q)2}"
local line out
while IFS= read -r line; do
        print -r -- "### $line"
        zpty -w -n z "$line"$'\t'
        while zpty -r z out; do
                [[ $out == *$'\0'* ]] && break
        done
        while zpty -r z out; do
                [[ $out == *$'\0'* ]] && break
                out=${out%$'\n'}
                print -r -- "${out%$'\r'}"
        done
        # clear the line for the next one
        zpty -w -n z $'\C-u'
done
zpty -d z
EOF
}

# run_completion LINE...: completes every LINE in one zsh; the results go to
# $BATS_TEST_TMPDIR/results, read them with `candidates LINE`.
run_completion() {
        printf '%s\n' "$@" >"$BATS_TEST_TMPDIR/lines"
        local fp
        fp=$(completion_dir)
        (cd "$WORK" && timeout 120 zsh -f "$BATS_TEST_TMPDIR/driver.zsh" "$fp" "$BATS_TEST_TMPDIR/init.zsh" \
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

@test "zsh: --ro completes to exactly the --ro options of --help" {
        run_completion "csand --ro"
        assert_equal "$(candidates "csand --ro")" "$("$CSAND" --help | awk '$1 ~ /^--ro/ { print $1 }' | sort -u)"
        # the four of bwrap 0.11 that start so
        candidates "csand --ro" | grep -qx -- --ro-bind
        candidates "csand --ro" | grep -qx -- --ro-bind-try
}

@test "zsh: -- offers every option of --help, and no other" {
        run_completion "csand --"
        local offered expected
        offered=$(candidates "csand --" | grep -vx -- --)
        expected=$(help_options_with_args | cut -d' ' -f1 | sort -u)
        assert_equal "$offered" "$expected"
}

# For every option with N arguments: at each of its argument positions
# `--he` must not complete to --help (the word is a value), and right after
# its N arguments it must (options go on).
@test "zsh: every option takes as many arguments as --help says" {
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
                # --help and --version exclude every other option in zsh
                case $opt in --help | --version) continue ;; esac
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
@test "zsh: path arguments complete files and directories, FD arguments nothing" {
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

@test "zsh: directory-only destinations offer no files" {
        help_has --tmpfs || skip "no --tmpfs"
        run_completion "csand --tmpfs beta" "csand --chdir beta" "csand --ro-bind beta"
        assert_equal "$(candidates "csand --tmpfs beta")" "beta-dir"
        assert_equal "$(candidates "csand --chdir beta")" "beta-dir"
        assert_equal "$(candidates "csand --ro-bind beta")" "$(printf 'beta-dir\nbeta-file')"
}

@test "zsh: --cap-add and --cap-drop offer the capability names" {
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

@test "zsh: the capability list has every capability of linux/capability.h" {
        help_has --cap-add || skip "csand --help does not list --cap-add"
        local header=/usr/include/linux/capability.h
        require_feature "Linux UAPI headers ($header)" test -f "$header"
        run_completion "csand --cap-add "
        local missing
        missing=$(comm -23 <(sed -n 's/^#define \(CAP_[A-Z_]*\)[[:blank:]]\+[0-9]\+$/\1/p' "$header" | grep -vx CAP_LAST_CAP | sort -u) \
                <(candidates "csand --cap-add "))
        [ -z "$missing" ] || fail "capabilities not offered: $missing"
}

@test "zsh: --network, --overlay-driver and --cgroup-manager offer their modes (those --help lists)" {
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
@test "zsh: --cgroup-property and --rlimit offer the names before '=' (those --help lists)" {
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

@test "zsh: --seccomp-profile offers the installed profiles and files (when --help lists it)" {
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

@test "zsh: after -- and at the first non-option word, commands and then their arguments" {
        run_completion "csand -- bas" "csand --unshare-all bas" "csand --ro-bind / / -- ls --al" \
                "csand --unshare-pid ls --al" "csand --unshare-pid ls --ro" "csand -- ls --ro"
        candidates "csand -- bas" | grep -qx bash || fail "no bash after --"
        candidates "csand --unshare-all bas" | grep -qx bash || fail "no bash as the first non-option word"
        candidates "csand --ro-bind / / -- ls --al" | grep -qx -- '--all' || fail "ls's options not completed"
        candidates "csand --unshare-pid ls --al" | grep -qx -- '--all' || fail "ls's options not completed"
        [ -z "$(candidates "csand --unshare-pid ls --ro")" ] || fail "csand options offered after the command"
        [ -z "$(candidates "csand -- ls --ro")" ] || fail "csand options offered after --"
}

@test "zsh: values with ':' and '=' do not shift the command" {
        run_completion "csand --setenv PATH /usr/bin:/bin ls --al" "csand --setenv A b=c bas" "csand --setenv A b=c --he"
        candidates "csand --setenv PATH /usr/bin:/bin ls --al" | grep -qx -- '--all' || fail "ls's options not completed"
        candidates "csand --setenv A b=c bas" | grep -qx bash || fail "command not completed"
        assert_equal "$(candidates "csand --setenv A b=c --he")" "--help"
}

@test "zsh: --setenv and --unsetenv complete variable names" {
        HOME=${HOME:-/} run_completion "csand --setenv HO" "csand --unsetenv HO"
        candidates "csand --setenv HO" | grep -qx HOME || fail "HOME not offered"
        candidates "csand --unsetenv HO" | grep -qx HOME || fail "HOME not offered"
}
