#!/usr/bin/env bats
# Without a usable user namespace (and csand not setuid): one "csand: ..."
# line naming the cause found, with the value read, and the fix; exit 1;
# the command never runs; nothing left behind.
#
# This machine's sysctls are never changed. The kernels are pretended:
# user.max_user_namespaces is per user namespace, so an outer csand with
# --disable-userns exhausts it for an inner csand; a sysctl this kernel
# lacks (Debian's kernel.unprivileged_userns_clone, Ubuntu's
# kernel.apparmor_restrict_unprivileged_userns) is a file the outer csand
# binds at its real /proc path; a container runtime's seccomp profile is
# tests/enosys userns-eperm. The inner csand reads the real paths.

load ../lib/common

setup() {
        common_setup
        require_unprivileged "a user namespace is what is missing"
        require_userns
        ENOSYS="$CSAND_BUILD_DIR/tests/enosys"
}

# outer OUTER-ARGS... : runs csand as an "enclosing system" with the host's
# root read-only (but this test's directories writable, so that whatever
# the inner csand leaves is seen by the teardown), then the inner command
# given after the OUTER-ARGS, separated by "--".
outer() {
        csand --ro-bind / / --bind "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR" --unshare-user "$@"
}

# The inner csand and a command that leaves a trace if it runs.
inner=(--ro-bind / / sh -c 'touch "$0"' "$BATS_TEST_TMPDIR/work/command-ran")

# fails_with PATTERN...: after `run`, the failure's shape, the message
# matching every PATTERN, and the command not run.
fails_with() {
        assert_csand_error
        local p
        for p in "$@"; do
                [[ "$msg" == *"$p"* ]] || fail "message lacks '$p': $msg"
        done
        [ ! -e "$TESTDIR/command-ran" ] || fail "the command ran"
}

@test "tests/enosys userns-eperm refuses user namespaces as Docker's default profile does" {
        run "$ENOSYS" userns-eperm -- unshare --user true
        assert_failure
        assert_output --partial "Operation not permitted"
        # the rest of clone and unshare still works
        run "$ENOSYS" userns-eperm -- unshare --mount --map-root-user true
        assert_failure
        run "$ENOSYS" userns-eperm -- sh -c 'echo forked'
        assert_success
        assert_output forked
}

@test "a seccomp filter refusing CLONE_NEWUSER is named, with /proc/self/status's Seccomp value" {
        run --separate-stderr "$ENOSYS" userns-eperm -- "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${inner[@]}"
        fails_with "Found: a seccomp filter refuses user namespaces" \
                "Seccomp: 2 in /proc/self/status" "Operation not permitted" "--security-opt seccomp=unconfined"
        [[ "$msg" != *"also:"* ]] || fail "more than one cause: $msg"
}

@test "the limit of an enclosing user namespace (--disable-userns): the value read here" {
        # what the inner csand reads: its own namespace's limit, not the exhausted one
        run outer --disable-userns -- cat /proc/sys/user/max_user_namespaces
        assert_success
        local value=$output
        run --separate-stderr outer --disable-userns -- "$CSAND" "${inner[@]}"
        fails_with "the limit on user namespaces is reached (user.max_user_namespaces=$value here;" \
                "run csand outside it"
        [[ "$msg" != *"also:"* ]] || fail "more than one cause: $msg"
}

@test "user.max_user_namespaces=0 is named with the sysctl that fixes it" {
        run --separate-stderr outer --disable-userns --unshare-pid --proc /proc \
                --tmpfs /proc/sys/user --ro-bind-data 3 /proc/sys/user/max_user_namespaces \
                -- "$CSAND" "${inner[@]}" 3< <(printf '0\n')
        fails_with "user namespaces are disabled (user.max_user_namespaces=0)" \
                "sysctl user.max_user_namespaces=N"
        [[ "$msg" != *"also:"* ]] || fail "more than one cause: $msg"
}

@test "kernel.unprivileged_userns_clone=0 (Debian's knob) is named with the sysctl that fixes it" {
        # EPERM, as that knob answers: from the pretend container's filter,
        # which is named too
        run --separate-stderr outer --unshare-pid --proc /proc \
                --tmpfs /proc/sys/kernel --ro-bind-data 3 /proc/sys/kernel/unprivileged_userns_clone \
                -- "$ENOSYS" userns-eperm -- "$CSAND" "${inner[@]}" 3< <(printf '0\n')
        fails_with "Found: unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0): enable them as root with sysctl kernel.unprivileged_userns_clone=1" \
                "also: a seccomp filter refuses user namespaces"
}

@test "kernel.unprivileged_userns_clone=1 is no cause" {
        run --separate-stderr outer --disable-userns --unshare-pid --proc /proc \
                --tmpfs /proc/sys/kernel --ro-bind-data 3 /proc/sys/kernel/unprivileged_userns_clone \
                -- "$CSAND" "${inner[@]}" 3< <(printf '1\n')
        fails_with "the limit on user namespaces is reached"
        [[ "$msg" != *"unprivileged_userns_clone"* ]] || fail "$msg"
}

@test "AppArmor's restriction refusing the namespace is named with the profile to install" {
        run --separate-stderr outer --unshare-pid --proc /proc \
                --tmpfs /proc/sys/kernel --ro-bind-data 3 /proc/sys/kernel/apparmor_restrict_unprivileged_userns \
                -- "$ENOSYS" userns-eperm -- "$CSAND" "${inner[@]}" 3< <(printf '1\n')
        fails_with "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): install csand's AppArmor profile" \
                "-Dapparmor=true" "apparmor_parser -r /" "/apparmor.d/csand)"
}

@test "AppArmor's stripped namespace is found before any setup, with the profile to install" {
        # (The sanitizer runtime needs the real /proc, which this test replaces.)
        if ldd "$CSAND" | grep -q libasan; then
                skip "a sanitizer build can't run without /proc"
        fi
        # A pretend Ubuntu 24.04: the restriction is on and a new user
        # namespace's uid map can't be written (EACCES, as its capabilities
        # are denied); no /proc otherwise, so the sandbox couldn't be set up.
        run --separate-stderr outer --tmpfs /proc \
                --ro-bind-data 3 /proc/sys/kernel/apparmor_restrict_unprivileged_userns \
                --perms 0444 --file 4 /proc/self/setgroups --perms 0444 --file 5 /proc/self/uid_map \
                -- "$CSAND" "${inner[@]}" 3< <(printf '1\n') 4</dev/null 5</dev/null
        fails_with "csand: AppArmor lets csand create a user namespace but strips its capabilities (kernel.apparmor_restrict_unprivileged_userns=1;" \
                "install csand's AppArmor profile" "/apparmor.d/csand)"
}

@test "with AppArmor's restriction on and the namespace intact (a profile grants userns), csand runs" {
        run outer --unshare-pid --proc /proc \
                --tmpfs /proc/sys/kernel --ro-bind-data 3 /proc/sys/kernel/apparmor_restrict_unprivileged_userns \
                -- "$CSAND" --ro-bind / / --unshare-pid cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 3< <(printf '1\n')
        assert_success
        assert_output 1
}
