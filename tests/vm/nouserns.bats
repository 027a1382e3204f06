#!/usr/bin/env bats
# In the VM, contexts nouserns-clone and nouserns-max (payload.sh): the
# runner has set $VMTEST_KNOB (kernel.unprivileged_userns_clone or
# user.max_user_namespaces) to 0, so that this user can't make a user
# namespace. CSAND_PLAIN is csand as built, CSAND_SETUID (= CSAND) the
# same binary installed setuid root.

load ../lib/common

@test "no user namespace: plain csand says which knob, its value and the fix, exit 1, nothing left" {
        [ -n "${VMTEST_KNOB:-}" ] || fail "run by payload.sh in a nouserns-* context"
        run -1 --separate-stderr env CSAND_TEST_TOKEN="$CSAND_TOKEN" "$CSAND_PLAIN" "${csand_min_root[@]}" true
        assert_csand_error
        [[ "$stderr" == *"($VMTEST_KNOB=0)"* ]] || fail "no ($VMTEST_KNOB=0) in: $stderr"
        [[ "$stderr" == *"sysctl $VMTEST_KNOB="* ]] || fail "no fix in: $stderr"
}

@test "no user namespace: setuid csand runs the sandbox as the caller, with nothing" {
        run --separate-stderr csand_min --unshare-all --proc /proc --dev /dev sh -c '
                id -u; readlink /proc/self/ns/user; grep -E "^(Cap(Prm|Eff|Bnd|Amb)|NoNewPrivs):" /proc/self/status /proc/1/status'
        assert_success
        assert_line "$(id -u)"
        refute_line --regexp 'Cap...:[[:space:]]+0*[1-9a-f]'
        refute_line --regexp 'NoNewPrivs:[[:space:]]+0'
        if [ "$VMTEST_KNOB" = kernel.unprivileged_userns_clone ]; then
                # root may still make one: the privileged part does
                refute_line "$(readlink /proc/self/ns/user)"
        else
                # no one may: the namespaces belong to the initial user
                # namespace (SECURITY.md, "Setuid mode without user namespaces")
                assert_line "$(readlink /proc/self/ns/user)"
        fi
}

@test "no user namespace: setuid csand refuses what needs one, naming the knob" {
        [ "$VMTEST_KNOB" = user.max_user_namespaces ] || return 0
        run --separate-stderr csand_min --unshare-user --uid 0 true
        assert_csand_error
        [[ "$msg" == "csand: --unshare-user needs a user namespace, and none can be made here: "*"(user.max_user_namespaces=0)"* ]] ||
                fail "$msg"
}
