#!/bin/sh
# The setuid suite: runs a .bats file against csand installed setuid root,
# CSAND_SETUID (tests/run-tests.sh makes that copy as root: install -o root
# -m 4755 build/csand, and a setcap'd one in filecaps/). Without
# CSAND_SETUID it skips whatever CI says, as the VM tier does when not
# root: that is not a missing feature but a run that can't make the copy.
# A CSAND_SETUID that is not setuid root fails.
#
# run.sh --nouserns FILE: the same where nobody, root included, may make a
# user namespace (as with user.max_user_namespaces=0): the whole file runs
# under CSAND_NOUSERNS_RUN, tests/setuid/nouserns-run.c installed setuid
# root for the test user, with CSAND_SETUID_NOUSERNS=1 for the tests that
# expect that mode's refusals.
nouserns=
if [ "${1:-}" = --nouserns ]; then
        nouserns=1
        shift
fi
if [ -z "${CSAND_SETUID:-}" ]; then
        echo "1..0 # SKIP the setuid suite needs CSAND_SETUID, a setuid root copy of csand (sudo tests/run-tests.sh makes one)"
        exit 0
fi
if [ ! -u "$CSAND_SETUID" ] || [ "$(stat -c %u "$CSAND_SETUID")" != 0 ]; then
        echo "1..1"
        echo "not ok 1 CSAND_SETUID=$CSAND_SETUID is not setuid root"
        exit 1
fi
if [ -n "$nouserns" ]; then
        if [ ! -u "${CSAND_NOUSERNS_RUN:-}" ] || [ "$(stat -c %u "$CSAND_NOUSERNS_RUN")" != 0 ]; then
                echo "1..1"
                echo "not ok 1 CSAND_NOUSERNS_RUN=${CSAND_NOUSERNS_RUN:-} is not setuid root (tests/run-tests.sh installs tests/setuid/nouserns-run.c so)"
                exit 1
        fi
        CSAND=$CSAND_SETUID CSAND_SETUID_NOUSERNS=1 exec "$CSAND_NOUSERNS_RUN" bats --tap "$1"
fi
CSAND=$CSAND_SETUID exec bats --tap "$1"
