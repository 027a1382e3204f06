#!/usr/bin/env bats
# The id-map stand-ins (utils/userns.c) are dumpable while the sandbox's
# child opens their map files. Dumpable, their /proc/PID/root and cwd,
# mountinfo, fds, environment and memory are open to the processes of the
# user's that the kernel lets ptrace-read them: those in the initial user
# namespace (which own the sandbox's). Some of those see less than the
# caller: a system service running as the user with its own mount
# namespace (ProtectHome=, InaccessiblePaths=), a sandbox made without a
# user namespace. They must find nothing of the caller's view there (the
# child's mount namespace is a copy of it) nor of its environment. Such a
# process can't be made without privileges: the probe runs as the test
# user and reads a file through the stand-ins' root, which shows the view
# is reachable; it races them, since they are dumpable only for a moment. (Another sandbox's processes, in a user namespace of their
# own, are refused by the kernel: no CAP_SYS_PTRACE over the stand-in's.)
# Their /proc/PID/ns are open to the same processes: through ns/user one
# joins the sandbox's user namespace (the user owns it), and with its
# capabilities the mount namespace of ns/mnt, if that namespace owns it:
# the stand-ins' mount namespace must be the caller's, never the one the
# root is being built in (the caller's tree, the scaffold's /oldroot).
# Probe: standin-probe.py.

load ../lib/common

setup() {
        common_setup
        require_unprivileged "as root the probe could read anything anyway"
        require_userns
        mkdir -p "$TESTDIR/secret" "$TESTDIR/ctl"
        echo "standin-secret-$RANDOM$RANDOM" >"$TESTDIR/secret/file"
        cp "$TESTDIR/secret/file" "$TESTDIR/ctl/expect"
}

attacker() {
        python3 "$BATS_TEST_DIRNAME/standin-probe.py" "$1" "$TESTDIR/ctl" "$TESTDIR/secret/file" "${@:2}"
}

@test "stand-in: racing it over many launches gives neither the caller's files (root, cwd, or its mount namespace joined), nor its fds, nor its environment" {
        STANDIN_SECRET="standin-env-$CSAND_TOKEN" attacker race "$CSAND_TOKEN" "standin-env-$CSAND_TOKEN" >"$TESTDIR/out" 2>&1 &
        local apid=$! i
        # let the attacker start spinning
        sleep 1
        for ((i = 0; i < 100; i++)); do
                STANDIN_SECRET="standin-env-$CSAND_TOKEN" csand --ro-bind / / true </dev/null
                STANDIN_SECRET="standin-env-$CSAND_TOKEN" csand_min --unshare-all --dev /dev true </dev/null
        done
        touch "$TESTDIR/ctl/done"
        wait "$apid"
        run cat "$TESTDIR/out"
        assert_output "race: root/cwd 0
race: fds 0
race: environ 0
race: ns/mnt 0
race: ns/user joined some
race: caught dumpable some"
}

# Deterministic, whatever the timing: under strace -f, the process that
# builds the root (the one that calls pivot_root) never makes itself
# dumpable before its pivot_root, and a stand-in did make itself dumpable
# (its maps were opened through one, not by a fallback that makes the
# child dumpable for a moment: a stand-in its own seccomp filter kills
# would end there silently).
@test "stand-in: the setup is never dumpable; the maps are opened through a stand-in" {
        require_feature strace command -v strace
        local args
        for args in "" "--dev /dev" "--unshare-all" "--unshare-all --dev /dev" "--unshare-all --mqueue /dev/mqueue" \
                "--unshare-user --disable-userns --unshare-net"; do
                # shellcheck disable=SC2086
                strace -f -qq -e trace=prctl,pivot_root -o "$TESTDIR/trace" \
                        "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" $args -- true ||
                        fail "[$args] csand failed"
                run awk '
                        /pivot_root\(/ { pivoted[$1] = 1; setup[$1] = 1 }
                        /PR_SET_DUMPABLE, SUID_DUMP_USER/ { if (!pivoted[$1]) early[$1] = 1 }
                        END {
                                n = 0
                                for (p in early) if (setup[p]) { print "setup process " p " dumpable before its pivot_root"; bad = 1 }
                                for (p in early) if (!setup[p]) n++
                                print "stand-ins made dumpable: " n
                                exit bad
                        }' "$TESTDIR/trace"
                echo "[$args] $output"
                assert_success
                refute_line "stand-ins made dumpable: 0"
        done
}
