# Completion cases shared by tests/cli/completion-{bash,zsh,fish}.bats: each
# shell's file provides run_completion LINE... (complete every LINE in a real
# shell) and candidates LINE (what was offered, sorted), and runs these as
# its tests. What is expected comes from `csand --help`, so a new option is
# checked in all three shells as soon as it exists. Where a shell differs,
# its file says so in a variable:
#   completion_cap_suffix_match  what "--cap-drop sys_ad" offers (fish also
#                                matches inside CAP_SYS_ADMIN)
#   completion_exclusive_options options after which no option may follow
#                                (zsh: --help and --version)

completion_case_ro_prefix() {
        run_completion "csand --ro"
        assert_equal "$(candidates "csand --ro")" "$("$CSAND" --help | awk '$1 ~ /^--ro/ { print $1 }' | sort -u)"
        # the four of bwrap 0.11 that start so
        candidates "csand --ro" | grep -qx -- --ro-bind
        candidates "csand --ro" | grep -qx -- --ro-bind-try
}

completion_case_every_option() {
        run_completion "csand --"
        local offered expected
        offered=$(candidates "csand --" | grep -vx -- --)
        expected=$(help_options_with_args | cut -d' ' -f1 | sort -u)
        assert_equal "$offered" "$expected"
}

# For every option with N arguments: at each of its argument positions
# `--he` must not complete to --help (the word is a value), and right after
# its N arguments it must (options go on).
completion_case_argument_counts() {
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
                [[ " ${completion_exclusive_options[*]} " == *" $opt "* ]] && continue
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
completion_case_path_arguments() {
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

completion_case_directory_destinations() {
        help_has --tmpfs || skip "no --tmpfs"
        run_completion "csand --tmpfs beta" "csand --chdir beta" "csand --ro-bind beta"
        assert_equal "$(candidates "csand --tmpfs beta")" "beta-dir"
        assert_equal "$(candidates "csand --chdir beta")" "beta-dir"
        assert_equal "$(candidates "csand --ro-bind beta")" "$(printf 'beta-dir\nbeta-file')"
}

completion_case_capabilities() {
        help_has --cap-add || skip "csand --help does not list --cap-add"
        run_completion "csand --cap-add " "csand --cap-drop CAP_SYS_AD" "csand --cap-drop sys_ad" "csand --cap-add cap_net_r"
        local c
        c=$(candidates "csand --cap-add ")
        grep -qx ALL <<<"$c" || fail "no ALL"
        grep -qx CAP_SYS_ADMIN <<<"$c" || fail "no CAP_SYS_ADMIN"
        grep -qx CAP_CHECKPOINT_RESTORE <<<"$c" || fail "no CAP_CHECKPOINT_RESTORE"
        [ "$(wc -l <<<"$c")" -ge 42 ] || fail "only $(wc -l <<<"$c") capabilities"
        assert_equal "$(candidates "csand --cap-drop CAP_SYS_AD")" CAP_SYS_ADMIN
        assert_equal "$(candidates "csand --cap-drop sys_ad")" "${completion_cap_suffix_match:-SYS_ADMIN}"
        assert_equal "$(candidates "csand --cap-add cap_net_r")" CAP_NET_RAW
}

completion_case_capability_list() {
        help_has --cap-add || skip "csand --help does not list --cap-add"
        local header=/usr/include/linux/capability.h
        require_feature "Linux UAPI headers ($header)" test -f "$header"
        run_completion "csand --cap-add "
        local missing
        missing=$(comm -23 <(sed -n 's/^#define \(CAP_[A-Z_]*\)[[:blank:]]\+[0-9]\+$/\1/p' "$header" | grep -vx CAP_LAST_CAP | sort -u) \
                <(candidates "csand --cap-add "))
        [ -z "$missing" ] || fail "capabilities not offered: $missing"
}

completion_case_modes() {
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
completion_case_name_value() {
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

completion_case_seccomp_profile() {
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

completion_case_command() {
        run_completion "csand -- bas" "csand --unshare-all bas" "csand --ro-bind / / -- ls --al" \
                "csand --unshare-pid ls --al" "csand --unshare-pid ls --ro" "csand -- ls --ro"
        candidates "csand -- bas" | grep -qx bash || fail "no bash after --"
        candidates "csand --unshare-all bas" | grep -qx bash || fail "no bash as the first non-option word"
        candidates "csand --ro-bind / / -- ls --al" | grep -qx -- '--all' || fail "ls's options not completed"
        candidates "csand --unshare-pid ls --al" | grep -qx -- '--all' || fail "ls's options not completed"
        [ -z "$(candidates "csand --unshare-pid ls --ro")" ] || fail "csand options offered after the command"
        [ -z "$(candidates "csand -- ls --ro")" ] || fail "csand options offered after --"
}

completion_case_values_with_separators() {
        run_completion "csand --setenv PATH /usr/bin:/bin ls --al" "csand --setenv A b=c bas" "csand --setenv A b=c --he"
        candidates "csand --setenv PATH /usr/bin:/bin ls --al" | grep -qx -- '--all' || fail "ls's options not completed"
        candidates "csand --setenv A b=c bas" | grep -qx bash || fail "command not completed"
        assert_equal "$(candidates "csand --setenv A b=c --he")" "--help"
}

completion_case_env_names() {
        HOME=${HOME:-/} run_completion "csand --setenv HO" "csand --unsetenv HO"
        candidates "csand --setenv HO" | grep -qx HOME || fail "HOME not offered"
        candidates "csand --unsetenv HO" | grep -qx HOME || fail "HOME not offered"
}

# --join and --stop offer the names of the running sandboxes (csand --list,
# run as the command line names it: csand on PATH); --name offers nothing.
completion_case_running_names() {
        require_userns
        mkdir -p "$BATS_TEST_TMPDIR/bin"
        ln -sf "$CSAND" "$BATS_TEST_TMPDIR/bin/csand"
        export XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR"
        closefds "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" --name alpha-box "${csand_min_root[@]}" sleep 300 \
                </dev/null >/dev/null 2>&1 &
        local pid=$! i
        for ((i = 0; i < 200; i++)); do
                "$CSAND" --list | grep -q '^alpha-box ' && break
                sleep 0.1
        done
        PATH="$BATS_TEST_TMPDIR/bin:$PATH" run_completion "csand --join al" "csand --stop " "csand --name al" || true
        "$CSAND" --stop alpha-box
        wait "$pid" || true
        assert_equal "$(candidates "csand --join al")" alpha-box
        assert_equal "$(candidates "csand --stop ")" alpha-box
        assert_equal "$(candidates "csand --name al")" ""
}

# After --join, --list or --stop only the options it takes (the man page:
# "Only --chdir, the environment options, --argv0, --args and
# --level-prefix go with --join"; --list takes --json, --stop
# --stop-timeout), and --help and --version, which go with anything.
completion_case_running_options() {
        run_completion "csand --join box --" "csand --list --" "csand --stop box --" "csand --join box --chdir / --se"
        local common="--help --level-prefix --version"
        assert_equal "$(candidates "csand --join box --" | grep -vx -- --)" \
                "$(printf '%s\n' $common --args --argv0 --chdir --clearenv --setenv --unsetenv | sort)"
        assert_equal "$(candidates "csand --list --")" "$(printf '%s\n' $common --json | sort)"
        assert_equal "$(candidates "csand --stop box --")" "$(printf '%s\n' $common --stop-timeout | sort)"
        assert_equal "$(candidates "csand --join box --chdir / --se")" --setenv
}
