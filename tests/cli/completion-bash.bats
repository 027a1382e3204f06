#!/usr/bin/env bats
# The bash completion (completions/bash/csand), driven in a real bash with
# bash-completion loaded: COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT are set
# as readline sets them and _csand is called; COMPREPLY is what the user
# would be offered. What is expected is derived from `csand --help` (the
# options and their metavariables), so a new option is checked as soon as it
# exists. --seccomp-profile is tested only when --help lists it.

load ../lib/common
load ../lib/help
load ../lib/completion

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

@test "bash: --ro completes to exactly the --ro options of --help" {
        completion_case_ro_prefix
}

@test "bash: -- offers every option of --help, and no other" {
        completion_case_every_option
}

@test "bash: every option takes as many arguments as --help says" {
        completion_case_argument_counts
}

@test "bash: path arguments complete files and directories, FD arguments nothing" {
        completion_case_path_arguments
}

@test "bash: directory-only destinations offer no files" {
        completion_case_directory_destinations
}

@test "bash: --cap-add and --cap-drop offer the capability names" {
        completion_case_capabilities
}

@test "bash: the capability list has every capability of linux/capability.h" {
        completion_case_capability_list
}

@test "bash: --network, --overlay-driver and --cgroup-manager offer their modes (those --help lists)" {
        completion_case_modes
}

@test "bash: --cgroup-property and --rlimit offer the names before '=' (those --help lists)" {
        completion_case_name_value
}

@test "bash: --seccomp-profile offers the installed profiles and files (when --help lists it)" {
        completion_case_seccomp_profile
}

@test "bash: after -- and at the first non-option word, commands and then their arguments" {
        completion_case_command
}

@test "bash: values with ':' and '=' do not shift the command" {
        completion_case_values_with_separators
}

@test "bash: --setenv and --unsetenv complete variable names" {
        completion_case_env_names
}

@test "bash: --join and --stop complete the names of the running sandboxes" {
        completion_case_running_names
}

@test "bash: after --join, --list and --stop only the options they take" {
        completion_case_running_options
}
