#!/bin/bash
# Runs inside the VM as the lingering user "tester", once per context (see
# run-vm-tests.sh): csand's VM-tier tests, TAP on stdout. The host's share is
# /mnt/host: csand built on the host, tests/vm/*.bats and tests/lib/.
set -u
export CI=true        # in the VM nothing may skip for a missing feature
export CSAND=/mnt/host/csand CSAND_SOURCE_DIR=/mnt/host CSAND_BUILD_DIR=/mnt/host
cd "$HOME" || cd /tmp || exit 1
echo "# context ${VMTEST_CONTEXT:-?}: uid $(id -u), cgroup $(sed -n 's/^0:://p' /proc/self/cgroup)," \
        "user manager delegates: $(cat "/sys/fs/cgroup/user.slice/user-$(id -u).slice/user@$(id -u).service/cgroup.controllers" 2>/dev/null)"
# run_bats JOBS FILE...: runs the files with bats, JOBS at a time (each file
# its own bats, as meson runs the host's files), and prints each file's TAP
# when it is done, with a comment saying how long it took. A file whose
# bats stopped before its plan's end (or never printed one) gets one failing
# test that says so. Fails when any file failed.
run_bats() {
        local jobs=$1 out i f rc=0
        local -A index=()
        shift
        out=$(mktemp -d) || return 1
        i=0
        for f in "$@"; do
                while [ ${#index[@]} -ge "$jobs" ]; do
                        reap_bats || rc=1
                done
                (start=$SECONDS; bats --tap "$f" >"$out/$i.tap" 2>&1; r=$?
                        echo "$r $((SECONDS - start))" >"$out/$i.rc"; exit $r) &
                index[$!]=$i:$f
                i=$((i + 1))
        done
        while [ ${#index[@]} -gt 0 ]; do
                reap_bats || rc=1
        done
        rm -rf "$out"
        return $rc
}

# reap_bats: waits for one of run_bats's files (its $index) to end and
# reports it.
reap_bats() {
        local pid status=0
        wait -n -p pid
        report_bats "${index[$pid]}" || status=1
        unset "index[$pid]"
        return $status
}

# report_bats N:FILE: prints file N's TAP (from run_bats's $out).
report_bats() {
        local n=${1%%:*} f=${1#*:} r secs plan ran
        read -r r secs <"$out/$n.rc" || { r=1; secs=?; }
        cat "$out/$n.tap"
        echo "# ${f##*/}: exit $r in $secs s"
        plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out/$n.tap" | head -1)
        ran=$(grep -cE '^(not )?ok [0-9]+' "$out/$n.tap")
        if [ -z "$plan" ] || [ "$ran" -lt "$plan" ]; then
                echo "not ok 0 ${f##*/}: bats stopped after $ran of ${plan:-?} tests (exit $r)"
                return 1
        fi
        [ "$r" = 0 ]
}

# longest_first FILE...: the files, longest first: by their times in this
# context in the last run (run.sh's durations); a file without one (new, or
# no last run) by its number of tests times the known files' time per test.
longest_first() {
        local f
        for f in "$@"; do
                printf '%s %s %s\n' "$f" "$(grep -c '^@test' "$f")" "${f##*/}"
        done | awk -v ctx="${VMTEST_CONTEXT:-}" '
                FILENAME != "-" { if ($1 == ctx) secs[$2] = $3; next }
                { file[NR] = $1; tests[NR] = $2; name[NR] = $3
                  if ($3 in secs) { known += secs[$3]; known_tests += $2 } }
                END {
                        per_test = known_tests ? known / known_tests : 1
                        for (i = 1; i <= NR; i++)
                                print (name[i] in secs ? secs[name[i]] : tests[i] * per_test), file[i]
                }' /mnt/host/durations - |
                sort -k1,1nr | cut -d' ' -f2
}

# Without unprivileged user namespaces (setuid mode; the runner has set the
# knob): the diagnosis of the plain csand, then the files of the host's
# setuid suite (tests/meson.build: the core files but core-old-kernel, the
# setuid escape and mount batteries, race and process-group) against csand
# installed setuid root, one file per guest CPU at a time, the longest
# first. VM_SETUID_CORE=0 leaves the setuid suite out.
case ${VMTEST_CONTEXT:-} in
nouserns-*)
        export CSAND_PLAIN=$CSAND CSAND=/usr/local/lib/csand-setuid/csand
        export CSAND_CHROOT_RUN=/usr/local/lib/csand-setuid/chroot-run
        # With no user namespace for anyone setuid mode runs without one,
        # and the core files expect that mode's refusals (tests/lib/common.bash).
        [ "$VMTEST_CONTEXT" = nouserns-max ] && export CSAND_SETUID_NOUSERNS=1
        files=(/mnt/host/tests/vm/nouserns.bats)
        [ -e /mnt/host/no-setuid-core ] ||
                files+=(/mnt/host/tests/integration/core-*.bats
                        /mnt/host/tests/security/{setuid-*,race,process-group}.bats)
        run_bats "$(nproc)" $(longest_first "${files[@]}" | grep -v old-kernel)
        exit
        ;;
esac

# The login session runs every test (the cgroup files, and
# old-kernel.bats: what the guest's kernel, older than 6.15, has csand do
# another way); the user service (the other way the
# sandbox gets attached: by the user manager inside its own tree, without
# pid 1's help) the core ones and --join's. One file at a time: the cgroup
# tests check that no csand scope at all is left, and switch nsdelegate for
# the whole hierarchy.
# VM_TESTS (tests-selected) narrows both to the files named.
files=(/mnt/host/tests/vm/cgroups*.bats /mnt/host/tests/vm/old-kernel.bats)
if [ "${VMTEST_CONTEXT:-}" = service ]; then
        files=(/mnt/host/tests/vm/cgroups-core.bats /mnt/host/tests/vm/cgroups-join.bats)
fi
if [ -s /mnt/host/tests-selected ]; then
        selected=()
        for f in "${files[@]}"; do
                case " $(cat /mnt/host/tests-selected) " in *" ${f##*/} "*) selected+=("$f") ;; esac
        done
        files=("${selected[@]}")
        [ ${#files[@]} -gt 0 ] || { printf 'ok 1 # SKIP none of VM_TESTS runs in this context\n1..1\n'; exit 0; }
fi
run_bats 1 "${files[@]}"
