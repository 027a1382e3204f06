#!/usr/bin/env bats
# The fish completion (completions/fish/csand.fish), driven in a real fish:
# `complete -C LINE` prints what fish would offer at the end of LINE. fish
# autoloads the file from $fish_complete_path, and only for a command that
# exists: csand is put on PATH. What is expected is derived from `csand --help` (the
# options and their metavariables), so a new option is checked as soon as it
# exists. --seccomp-profile is tested only when --help lists it.

load ../lib/common
load ../lib/help
load ../lib/completion

# The configured copy from the build tree (what gets installed), else the
# source file, alone in a directory for $fish_complete_path.
completion_dir() {
        local d="$BATS_TEST_TMPDIR/fish-completions"
        mkdir -p "$d"
        if [ -f "$CSAND_BUILD_DIR/completions/csand.fish" ]; then
                cp "$CSAND_BUILD_DIR/completions/csand.fish" "$d/"
        else
                cp "$CSAND_SOURCE_DIR/completions/fish/csand.fish" "$d/"
        fi
        echo "$d"
}

setup() {
        common_setup
        require_feature "fish" command -v fish
        # A directory to complete paths in.
        WORK="$BATS_TEST_TMPDIR/cwd"
        mkdir -p "$WORK/beta-dir"
        touch "$WORK/beta-file"
        mkdir -p "$BATS_TEST_TMPDIR/bin"
        ln -sf "$CSAND" "$BATS_TEST_TMPDIR/bin/csand"
        export CSAND_SECCOMP_PROFILE_DIR="$CSAND_SOURCE_DIR/seccomp-profiles"
}

# run_completion LINE...: completes every LINE in one fish; the results go
# to $BATS_TEST_TMPDIR/results, read them with `candidates LINE`.
run_completion() {
        printf '%s\n' "$@" >"$BATS_TEST_TMPDIR/lines"
        local d
        d=$(completion_dir)
        # --no-config: no user or system configuration, and an empty
        # $fish_complete_path, set here to csand's file and fish's own
        # completions (for the commands run in the sandbox).
        (cd "$WORK" && PATH="$BATS_TEST_TMPDIR/bin:$PATH" timeout 120 fish --no-config -c '
                set fish_complete_path $argv[1] $__fish_data_dir/completions
                while read -l line
                        echo "### $line"
                        complete -C $line | string replace -r "\t.*" ""
                end
                true' "$d" <"$BATS_TEST_TMPDIR/lines" >"$BATS_TEST_TMPDIR/results")
}

# The candidates offered for LINE (after `run_completion`), sorted, one per
# line; fish shows directories as "dir/", the slash is dropped here.
candidates() {
        awk -v l="### $1" '$0 == l { on = 1; next } /^### / { on = 0 } on && $0 != "" { sub(/\/$/, ""); print }' \
                "$BATS_TEST_TMPDIR/results" | sort -u
}

# fish matches "sys_ad" inside CAP_SYS_ADMIN by itself
completion_cap_suffix_match=CAP_SYS_ADMIN

@test "fish: --ro completes to exactly the --ro options of --help" {
        completion_case_ro_prefix
}

@test "fish: -- offers every option of --help, and no other" {
        completion_case_every_option
}

@test "fish: every option takes as many arguments as --help says" {
        completion_case_argument_counts
}

@test "fish: path arguments complete files and directories, FD arguments nothing" {
        completion_case_path_arguments
}

@test "fish: directory-only destinations offer no files" {
        completion_case_directory_destinations
}

@test "fish: --cap-add and --cap-drop offer the capability names" {
        completion_case_capabilities
}

@test "fish: the capability list has every capability of linux/capability.h" {
        completion_case_capability_list
}

@test "fish: --network, --overlay-driver and --cgroup-manager offer their modes (those --help lists)" {
        completion_case_modes
}

@test "fish: --cgroup-property and --rlimit offer the names before '=' (those --help lists)" {
        completion_case_name_value
}

@test "fish: --seccomp-profile offers the installed profiles and files (when --help lists it)" {
        completion_case_seccomp_profile
}

@test "fish: after -- and at the first non-option word, commands and then their arguments" {
        completion_case_command
}

@test "fish: values with ':' and '=' do not shift the command" {
        completion_case_values_with_separators
}

@test "fish: --setenv and --unsetenv complete variable names" {
        completion_case_env_names
}

@test "fish: --join and --stop complete the names of the running sandboxes" {
        completion_case_running_names
}

@test "fish: after --join, --list and --stop only the options they take" {
        completion_case_running_options
}
