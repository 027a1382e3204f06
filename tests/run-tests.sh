#!/bin/bash
# csand's test command (the README's second quick-start command):
#
#     sudo tests/run-tests.sh        # on a fresh Debian 12 machine
#     tests/run-tests.sh             # as an ordinary user, dependencies present
#
# As root it installs what is missing (tools/install-deps.sh), prepares the
# machine like an ordinary distribution (tools/prepare-machine.sh: the
# unprivileged user csandtest, /dev/fuse and /dev/net/tun 0666), copies the
# source tree to a fresh directory owned by that user and runs, in order:
#   1. the whole suite (meson test) as csandtest, csand's real situation;
#   1b. the setuid suite as csandtest, against a setuid root copy of that
#      build's csand (tests/setuid/run.sh);
#      once as it is, once where nobody may make a user namespace
#      (tests/setuid/nouserns-run.c, a seccomp filter set as root);
#   2. the root-meaningful subset (the cli suite, and the vm tier) as root,
#      from a build of its own; the vm tier (tests/vm/README.md) runs the
#      cgroup tests under a real systemd and, with unprivileged user
#      namespaces off, the setuid suite against setuid csand (the core
#      files, the setuid batteries, race, process-group);
#   3. the whole suite again as csandtest, built with ASan+UBSan.
# As an ordinary user it runs 1 and 3 in the source tree (build-tests/,
# build-asan/).
#
# CI=true is passed through: a test that would skip for a missing feature
# fails instead.  Failed tests print their TAP details.  The last line is
# "N passed, N failed, N skipped", counting TAP test cases across all runs;
# the exit status is non-zero when anything failed.
#
# Knobs: CSAND_TEST_USER (default csandtest), CSAND_TEST_NO_ASAN=1 to skip
# run 3, CSAND_TEST_KEEP=1 to keep the root run's work directory,
# MESON_TEST_ARGS for extra `meson test` arguments (e.g. "--suite unit").
set -uo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
user=${CSAND_TEST_USER:-csandtest}
ci=${CI:-}
logs=()          # meson testlog.json files to count
build_failures=0 # runs that did not get as far as running their tests
started=$(date +%s)

say() {
        printf '\n==> %s\n' "$*"
}

# as_user CMD...: runs CMD as the test user (as ourselves when not root) with
# a clean, ordinary environment.
as_user() {
        if [ "$(id -u)" -ne 0 ]; then
                "$@"
                return
        fi
        local home
        home=$(getent passwd "$user" | cut -d: -f6)
        runuser -u "$user" -- env -i \
                HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash \
                PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin \
                LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="$ci" \
                ${CSAND_SETUID:+CSAND_SETUID="$CSAND_SETUID"} \
                ${CSAND_NOUSERNS_RUN:+CSAND_NOUSERNS_RUN="$CSAND_NOUSERNS_RUN"} \
                ${CSAND_CHROOT_RUN:+CSAND_CHROOT_RUN="$CSAND_CHROOT_RUN"} \
                ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} \
                ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} \
                "$@"
}

# setup_and_test NAME RUNNER WORKDIR BUILDDIR [MESON SETUP ARGS...]:
# configures, builds and runs the whole suite with RUNNER (as_user or
# as_self).
setup_and_test() {
        local name=$1 runner=$2 dir=$3 build=$4
        shift 4
        say "$name: configure and build ($build)"
        local setup_args=("$@")
        if [ -d "$dir/$build/meson-private" ]; then
                # reconfigure: finds .bats files added since the last run
                setup_args+=(--reconfigure)
        fi
        local out
        if ! out=$(cd "$dir" && $runner meson setup "${setup_args[@]}" "$build" 2>&1); then
                echo "$out"
                echo "$name: meson setup failed"
                build_failures=$((build_failures + 1))
                return 1
        fi
        if ! (cd "$dir" && $runner meson compile -C "$build"); then
                echo "$name: build failed"
                build_failures=$((build_failures + 1))
                return 1
        fi
        # The vm suite boots a VM as root: it runs once, in the root pass;
        # the setuid suite once, after the user pass (needs root's copy).
        run_meson_test "$name" "$runner" "$dir" "$build" testlog-"$name" "${timeout_multiplier:-1}" ${MESON_TEST_ARGS:---no-suite vm --no-suite setuid}
}

# run_meson_test NAME RUNNER WORKDIR BUILDDIR LOGBASE TIMEOUT_MULT [ARGS...]
run_meson_test() {
        local name=$1 runner=$2 dir=$3 build=$4 logbase=$5 mult=$6
        shift 6
        say "$name: meson test $*"
        rm -f "$dir/$build/meson-logs/$logbase.json"
        (cd "$dir" && $runner meson test -C "$build" --no-rebuild --print-errorlogs \
                --logbase "$logbase" --timeout-multiplier "$mult" "$@")
        local rc=$?
        if [ -f "$dir/$build/meson-logs/$logbase.json" ]; then
                logs+=("$dir/$build/meson-logs/$logbase.json")
        else
                echo "$name: meson test wrote no log (exit $rc)"
                build_failures=$((build_failures + 1))
        fi
        return $rc
}

as_self() {
        "$@"
}

# Counts TAP test cases in meson's JSON logs.  A meson test that failed
# without a failing TAP line (crash, timeout, bad plan) counts as one more
# failure.
summarize() {
        python3 - "$build_failures" "${logs[@]}" <<'EOF'
import json, re, sys

passed = failed = skipped = 0
failed = int(sys.argv[1])
skip_lines = []
tap = re.compile(r'^(not )?ok\b[^#]*(#\s*(\w+))?', re.IGNORECASE)
for path in sys.argv[2:]:
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            p = fl = s = 0
            details = []
            in_failure = False
            for l in (t.get('stdout') or '').splitlines():
                m = tap.match(l)
                if not m:
                    if in_failure and l.startswith('#'):
                        details.append(l)
                    continue
                in_failure = bool(m.group(1)) and (m.group(3) or '').lower() not in ('skip', 'todo')
                if in_failure:
                    details.append(l)
                directive = (m.group(3) or '').lower()
                if directive == 'skip':
                    s += 1
                    skip_lines.append(f"{t.get('name')} ({path.split('/')[-1].replace('.json', '')}): {l}")
                elif directive == 'todo':
                    s += 1
                elif m.group(1):
                    fl += 1
                else:
                    p += 1
            result = t.get('result', '')
            if result not in ('OK', 'SKIP', 'EXPECTEDFAIL') and fl == 0:
                fl += 1
            if result == 'SKIP' and p + fl + s == 0:
                s += 1
            if fl:
                run = path.split('/')[-1].replace('.json', '')
                print(f"--- {t.get('name')} ({run}): {result}")
                for d in details:
                    print(d)
                if not details:
                    print((t.get('stdout') or '')[-3000:])
                    print((t.get('stderr') or '')[-3000:])
            passed += p
            failed += fl
            skipped += s
if skip_lines:
    print("--- skipped:")
    for l in skip_lines:
        print(l)
if failed or skip_lines:
    print()
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
EOF
}

if [ "$(id -u)" -eq 0 ]; then
        say "installing missing packages"
        "$src/tools/install-deps.sh" || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }
        say "preparing the machine"
        "$src/tools/prepare-machine.sh" || { echo "prepare-machine failed"; echo "0 passed, 1 failed"; exit 1; }

        work=$(mktemp -d /var/tmp/csand-tests.XXXXXX)
        chmod 0755 "$work"
        cleanup() {
                if [ -z "${CSAND_TEST_KEEP:-}" ]; then
                        rm -rf "$work"
                else
                        echo "kept $work"
                fi
        }
        trap cleanup EXIT

        say "copying the source tree to $work"
        if git -c safe.directory='*' -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
                # tracked files plus untracked ones that are not ignored
                (cd "$src" && git -c safe.directory='*' ls-files -z --cached --others --exclude-standard |
                        while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
                        tar --null -T - -cf -) | tar -xf - -C "$work"
        else
                (cd "$src" && tar --exclude='./build' --exclude='./build-*' --exclude='./.git' -cf - .) |
                        tar -xf - -C "$work"
        fi
        chown -R "$user:" "$work"

        setup_and_test user as_user "$work" build -Dman=enabled
        if [ -x "$work/build/csand" ]; then
                install -d -m 0755 "$work/setuid"
                install -o root -g root -m 4755 "$work/build/csand" "$work/setuid/csand"
                # the wrong way to install it, which csand refuses
                install -d -m 0755 "$work/setuid/filecaps"
                install -o root -g root -m 0755 "$work/build/csand" "$work/setuid/filecaps/csand"
                setcap cap_sys_admin,cap_setuid,cap_setgid+ep "$work/setuid/filecaps/csand"
                # the same files where nobody may make a user namespace:
                # a seccomp filter installed as root (tests/setuid/run.sh)
                cc -O2 -o "$work/setuid/nouserns-run.tmp" "$work/tests/setuid/nouserns-run.c"
                install -o root -g "$(id -g "$user")" -m 4750 "$work/setuid/nouserns-run.tmp" "$work/setuid/nouserns-run"
                rm -f "$work/setuid/nouserns-run.tmp"
                # a caller jailed in a chroot (tests/setuid/chroot-run.c)
                cc -O2 -o "$work/setuid/chroot-run.tmp" "$work/tests/setuid/chroot-run.c"
                install -o root -g "$(id -g "$user")" -m 4750 "$work/setuid/chroot-run.tmp" "$work/setuid/chroot-run"
                rm -f "$work/setuid/chroot-run.tmp"
                CSAND_SETUID="$work/setuid/csand" CSAND_NOUSERNS_RUN="$work/setuid/nouserns-run" \
                        CSAND_CHROOT_RUN="$work/setuid/chroot-run" \
                        run_meson_test setuid as_user "$work" build testlog-setuid 1 --suite setuid
        fi
        # The cli suite means something as root too: no user namespace is
        # implied, and messages and exit codes must be the same. The vm
        # suite (real systemd, cgroup v2, in a qemu VM) needs root to boot.
        # Root gets a build of its own: tests that install or rebuild from
        # the build directory need to own it.
        MESON_TEST_ARGS="--suite cli --suite vm" \
                setup_and_test root as_self "$work" build-root -Dman=enabled
        if [ -z "${CSAND_TEST_NO_ASAN:-}" ]; then
                # Leak detection stays off for csand itself: LeakSanitizer
                # can't work under ptrace (tests strace csand) nor without
                # /proc; the unit tests turn it on for the parser and the plan.
                ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
                UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                timeout_multiplier=2 \
                        setup_and_test asan as_user "$work" build-asan -Dman=enabled -Db_sanitize=address,undefined -Db_lundef=false
        fi
else
        if ! command -v bats >/dev/null || ! command -v meson >/dev/null; then
                echo "run-tests: meson and bats are needed; install them with: sudo $src/tools/install-deps.sh" >&2
        fi
        setup_and_test user as_self "$src" build-tests
        echo "(not root: the root run of the cli suite is left out)"
        if [ -z "${CSAND_TEST_NO_ASAN:-}" ]; then
                export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1
                export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
                timeout_multiplier=2 \
                        setup_and_test asan as_self "$src" build-asan -Db_sanitize=address,undefined -Db_lundef=false
        fi
fi

say "done in $(($(date +%s) - started)) s"
summarize
