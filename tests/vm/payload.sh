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
# The login session runs every test; the user service (the other way the
# sandbox gets attached: by the user manager inside its own tree, without
# pid 1's help) the core ones and --join's.
# Without unprivileged user namespaces (setuid mode): the diagnosis of the
# plain csand, then the core suite against csand installed setuid root.
case ${VMTEST_CONTEXT:-} in
nouserns-*)
        export CSAND_PLAIN=$CSAND CSAND=/usr/local/lib/csand-setuid/csand
        core=
        # Debian's knob leaves root able to make the namespace; with no
        # user namespace for anyone setuid mode runs without one, and the
        # core files expect that mode's refusals (tests/lib/common.bash).
        # The core suite there only with VM_SETUID_CORE=1: ~20 min in TCG.
        [ "$VMTEST_CONTEXT" = nouserns-max ] && export CSAND_SETUID_NOUSERNS=1
        [ -e /mnt/host/setuid-core ] &&
                core="$(ls /mnt/host/tests/integration/core-*.bats | grep -v old-kernel) /mnt/host/tests/security/setuid-mounts.bats"
        exec bats --tap /mnt/host/tests/vm/nouserns.bats $core
        ;;
esac
# VM_TESTS (tests-selected) narrows both to the files named.
files=(/mnt/host/tests/vm/cgroups*.bats)
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
exec bats --tap "${files[@]}"
