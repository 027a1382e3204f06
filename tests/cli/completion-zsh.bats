#!/usr/bin/env bats
# The zsh completion (completions/zsh/_csand), driven in a real interactive
# zsh: `zsh -f` with compinit runs in a pseudo-terminal (zsh/zpty), each line
# is typed followed by Tab, and compadd is wrapped so that every candidate
# zsh would offer is also printed, framed by NUL lines from
# compprefuncs/comppostfuncs (the technique of zsh-capture-completion). What is expected is derived from `csand --help` (the
# options and their metavariables), so a new option is checked as soon as it
# exists. --seccomp-profile is tested only when --help lists it.

load ../lib/common
load ../lib/help
load ../lib/completion

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

# --help and --version exclude every other option in zsh
completion_exclusive_options=(--help --version)

@test "zsh: --ro completes to exactly the --ro options of --help" {
        completion_case_ro_prefix
}

@test "zsh: -- offers every option of --help, and no other" {
        completion_case_every_option
}

@test "zsh: every option takes as many arguments as --help says" {
        completion_case_argument_counts
}

@test "zsh: path arguments complete files and directories, FD arguments nothing" {
        completion_case_path_arguments
}

@test "zsh: directory-only destinations offer no files" {
        completion_case_directory_destinations
}

@test "zsh: --cap-add and --cap-drop offer the capability names" {
        completion_case_capabilities
}

@test "zsh: the capability list has every capability of linux/capability.h" {
        completion_case_capability_list
}

@test "zsh: --network, --overlay-driver and --cgroup-manager offer their modes (those --help lists)" {
        completion_case_modes
}

@test "zsh: --cgroup-property and --rlimit offer the names before '=' (those --help lists)" {
        completion_case_name_value
}

@test "zsh: --seccomp-profile offers the installed profiles and files (when --help lists it)" {
        completion_case_seccomp_profile
}

@test "zsh: after -- and at the first non-option word, commands and then their arguments" {
        completion_case_command
}

@test "zsh: values with ':' and '=' do not shift the command" {
        completion_case_values_with_separators
}

@test "zsh: --setenv and --unsetenv complete variable names" {
        completion_case_env_names
}

@test "zsh: --join and --stop complete the names of the running sandboxes" {
        completion_case_running_names
}

@test "zsh: after --join, --list and --stop only the options they take" {
        completion_case_running_options
}
