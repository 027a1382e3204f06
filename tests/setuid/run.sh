#!/bin/sh
# The setuid suite: runs a .bats file against csand installed setuid root,
# CSAND_SETUID (tests/run-tests.sh makes that copy as root: install -o root
# -m 4755 build/csand). Without it the file is skipped, or fails with
# CI=true: CI always makes the copy.
if [ -z "${CSAND_SETUID:-}" ] || [ ! -u "${CSAND_SETUID}" ]; then
        echo "1..1"
        if [ "${CI:-}" = true ]; then
                echo "not ok 1 CSAND_SETUID names no setuid csand (made by tests/run-tests.sh as root)"
                exit 1
        fi
        echo "ok 1 # skip CSAND_SETUID names no setuid csand (made by tests/run-tests.sh as root)"
        exit 0
fi
CSAND=$CSAND_SETUID exec bats --tap "$1"
