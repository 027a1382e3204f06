#!/usr/bin/env bats
# The start-up path loads no more than it needs (issue 4): optional
# libraries are dlopen()ed by the feature that uses them.

load ../lib/common

# The shared objects csand's own process initialises, per LD_DEBUG.
loaded_libraries() {
        LD_DEBUG=libs "$CSAND" "$@" 2>&1 >/dev/null | awk -v pid="" '
                /calling init:/ { if (pid == "") pid = $1; if ($1 == pid) { n = split($NF, p, "/"); print p[n] } }'
}

# libcap is linked in unless the build says otherwise (-Dstatic_libcap=false):
# loading it as a shared library costs ~70 us at every start.
@test "csand is linked against libc only (and libcap.so with -Dstatic_libcap=false)" {
        command -v readelf >/dev/null || fail "readelf (binutils) is missing"
        run sh -c "readelf -d '$CSAND' | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort"
        assert_success
        # (ASan and UBSan builds add their runtimes)
        refute_line --regexp '^lib(seccomp|json-c|archive|crypto|systemd)'
        assert_line --regexp '^libc\.so'
        if [[ ${CSAND_STATIC_LIBCAP:-1} == 1 ]]; then
                refute_line --regexp '^libcap\.so'
        else
                assert_line --regexp '^libcap\.so'
        fi
}

@test "a plain launch loads no optional library; --seccomp-profile loads libseccomp" {
        require_userns
        run loaded_libraries --ro-bind / / true
        assert_success
        refute_line --regexp '^lib(seccomp|json-c|archive|crypto|systemd)'

        XDG_CACHE_HOME="$TESTDIR/cache" run loaded_libraries --ro-bind / / --seccomp-profile default true
        assert_success
        assert_line --regexp '^libseccomp\.so'
        # a first compile parses the profile: json-c too
        assert_line --regexp '^libjson-c\.so'
}

# The sandbox's user namespace is made once the options are read, and only
# for a launch (utils/userns.c): --help, --version and --list make none,
# fork nothing and are never dumpable.
@test "--help, --version and --list make no namespace and start no process" {
        require_feature strace command -v strace
        local args
        for args in --help --version "--ro-bind / / --version" --list; do
                # (LeakSanitizer does not work under ptrace)
                # shellcheck disable=SC2086
                ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" XDG_RUNTIME_DIR="$TESTDIR" \
                        strace -f -qq -e trace=clone,clone3,fork,vfork,unshare,prctl \
                        -o "$TESTDIR/trace" "$CSAND" $args >/dev/null || fail "[$args] csand failed"
                run grep -E 'clone|fork|unshare|PR_SET_DUMPABLE, SUID_DUMP_USER' "$TESTDIR/trace"
                assert_failure
        done
}
