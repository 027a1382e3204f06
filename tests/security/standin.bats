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
        # Stand-ins are made where the premade user namespace can't serve:
        # csand as a pid namespace's init, and where the monitor must stay
        # outside the sandbox's namespace (--name: both stand-ins, forked by
        # the sandbox's child).
        for ((i = 0; i < 100; i++)); do
                STANDIN_SECRET="standin-env-$CSAND_TOKEN" as_pidns_init "$CSAND" --ro-bind / / true </dev/null
                STANDIN_SECRET="standin-env-$CSAND_TOKEN" as_pidns_init "$CSAND" "${csand_min_root[@]}" \
                        --unshare-all --dev /dev true </dev/null
                STANDIN_SECRET="standin-env-$CSAND_TOKEN" csand_min --name "standin-race-$i" --unshare-all --dev /dev \
                        true </dev/null
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

# From an strace -f of csand (prctl, pivot_root, setns, clone): whether
# a setup process (one that pivots) was dumpable before its pivot_root
# (fails), whether the monitor (MONITOR_PID, else the first process
# traced) was dumpable for anything but the vfork-like clone of the child
# that premakes the user namespace (fails), whether it joined a user
# namespace before its clone (the premade one), and how many other
# processes (stand-ins) made themselves dumpable.
maps_path() {
        awk -v monitor="${2:-}" '
                NR == 1 && monitor == "" { monitor = $1 }
                $1 == monitor && /PR_SET_DUMPABLE, SUID_DUMP_USER/ { mdump = 1; seen = ""; next }
                $1 == monitor && mdump && /PR_SET_DUMPABLE, SUID_DUMP_DISABLE/ {
                        mdump = 0
                        if (seen != "premake") { print "monitor dumpable for more than its premaking child"; bad = 1 }
                        next
                }
                $1 == monitor && mdump && /resumed>/ { next }
                $1 == monitor && mdump {
                        if (seen == "" && /clone\(.*CLONE_VM\|CLONE_FILES\|CLONE_VFORK/) seen = "premake"
                        else { print "monitor dumpable at: " $0; bad = 1 }
                        next
                }
                /pivot_root\(/ { pivoted[$1] = 1; setup[$1] = 1 }
                /PR_SET_DUMPABLE, SUID_DUMP_USER/ { if (!pivoted[$1]) early[$1] = 1 }
                /^[0-9]+ +clone\(/ && !/CLONE_VM/ && $1 == monitor && !cloned { cloned = 1 }
                /setns\(.*CLONE_NEWUSER/ && $1 == monitor && !cloned { premade = 1 }
                END {
                        if (mdump) { print "monitor left dumpable"; bad = 1 }
                        n = 0
                        for (p in early) if (setup[p]) { print "setup process " p " dumpable before its pivot_root"; bad = 1 }
                        for (p in early) if (!setup[p]) n++
                        print "monitor joined the premade namespace: " (premade ? "yes" : "no")
                        print "stand-ins made dumpable: " n
                        exit bad
                }' "$1"
}

# Deterministic, whatever the timing: under strace -f, the process that
# builds the root (the one that calls pivot_root) never makes itself
# dumpable before its pivot_root; the monitor is dumpable only while the
# vfork-like child that makes the sandbox's user namespace, and bwrap's
# nested one, and writes their maps, runs (it then joins the first with
# setns() before the clone); no stand-in is made, wherever the options
# say --dev or --disable-userns (--args included, read before that
# child), nor a fallback that makes the setup dumpable for a moment.
@test "stand-in: the setup is never dumpable; the maps are written by the monitor's premaking child" {
        require_feature strace command -v strace
        local args want
        # ARGS and the stand-ins expected
        for args in "0" "0 --dev /dev" "0 --unshare-all" "0 --unshare-all --dev /dev" \
                "0 --unshare-all --mqueue /dev/mqueue" "0 --unshare-user --disable-userns --unshare-net" \
                "0 --args 3"; do
                want=${args%% *}
                args=${args#?}
                # --dev through --args: known only once csand reads it
                printf '%s\0' --unshare-all --dev /dev >"$TESTDIR/dev-args"
                # shellcheck disable=SC2086
                strace -f -qq -e trace=prctl,pivot_root,setns,clone -o "$TESTDIR/trace" \
                        "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" $args -- true \
                        3<"$TESTDIR/dev-args" || fail "[$args] csand failed"
                run maps_path "$TESTDIR/trace"
                echo "[$args] $output"
                assert_success
                assert_output "monitor joined the premade namespace: yes
stand-ins made dumpable: $want"
        done
}

# Where csand makes no user namespace first thing (as a pid namespace's
# init, or a binary the user may run but not read, which starts not
# dumpable: the kernel's rule for such an exec), the first namespace's
# maps go through a stand-in, as where the monitor can't live in the
# sandbox's namespace, and the sandbox is the same.
@test "stand-in: without a premade namespace (pid 1; a csand the user can't read) the maps go through a stand-in" {
        require_feature strace command -v strace
        strace -f -qq -e trace=prctl,pivot_root,setns,clone,execve -o "$TESTDIR/trace" \
                unshare --user --map-current-user --pid --fork -- \
                "$CSAND" "${csand_min_root[@]}" --unshare-all --proc /proc -- cat /proc/self/uid_map >"$TESTDIR/out" ||
                fail "csand failed"
        run awk '{ print $1, $2, $3 }' "$TESTDIR/out"
        assert_output "$(id -u) $(id -u) 1"
        # the monitor: the process that execs csand (unshare(1)'s child)
        run maps_path "$TESTDIR/trace" \
                "$(awk -v c="$CSAND" 'index($0, "execve(\"" c "\"") { print $1; exit }' "$TESTDIR/trace")"
        assert_success
        assert_output "monitor joined the premade namespace: no
stand-ins made dumpable: 1"
        # ASan reads its options from /proc/self/environ, which a process
        # that is not dumpable from its exec can't: leak checking would
        # then be on for csand, which the sanitizer pass turns off.
        if ldd "$CSAND" | grep -q libasan; then
                skip "an unreadable copy of a sanitizer build can't read ASAN_OPTIONS"
        fi
        cp "$CSAND" "$TESTDIR/csand"
        chmod 0111 "$TESTDIR/csand"
        strace -f -qq -e trace=prctl,pivot_root,setns,clone -o "$TESTDIR/trace" \
                "$TESTDIR/csand" "${csand_min_root[@]}" --unshare-all --proc /proc -- cat /proc/self/uid_map >"$TESTDIR/out" ||
                fail "csand failed"
        run awk '{ print $1, $2, $3 }' "$TESTDIR/out"
        assert_output "$(id -u) $(id -u) 1"
        run maps_path "$TESTDIR/trace"
        assert_success
        assert_output "monitor joined the premade namespace: no
stand-ins made dumpable: 1"
}
