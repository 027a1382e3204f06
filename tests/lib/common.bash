# Shared helpers for csand's BATS tests.  In a .bats file:
#
#     load ../lib/common
#
# This gives every test a setup/teardown pair that records the host's state
# and, after the test, checks that csand left nothing behind: no process
# carrying the test's token, the same host mount table, nothing left in the
# TMPDIR and XDG_RUNTIME_DIR csand was given.  A file that needs its own setup/teardown calls common_setup /
# common_teardown from them.
#
# Environment (set by tests/meson.build; defaults for running `bats` by hand
# from the source tree):
#   CSAND             the csand binary under test
#   CSAND_SOURCE_DIR  the source tree
#   CSAND_BUILD_DIR   the build tree
#   CI=true           a missing feature fails instead of skipping

bats_require_minimum_version 1.5.0

# bats-support and bats-assert: their src/ files define functions only; each
# load.bash would run dirname once per file, in every test (bats sources
# this file for each test): 15 processes a test, seconds in the VM tier.
for f in /usr/lib/bats/bats-support/src/*.bash /usr/lib/bats/bats-assert/src/*.bash; do
        source "$f"
done
unset f

: "${CSAND_SOURCE_DIR:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${CSAND_BUILD_DIR:=$CSAND_SOURCE_DIR/build}"
: "${CSAND:=$CSAND_BUILD_DIR/csand}"

# A minimal root for running the host's programs: /usr read-only and the
# merged-/usr links Debian has.  Add --proc /proc, --dev /dev, --ro-bind /etc
# /etc etc. when a test needs them.
csand_min_root=(
        --ro-bind /usr /usr
        --symlink usr/bin /bin
        --symlink usr/lib /lib
        --symlink usr/lib64 /lib64
        --symlink usr/sbin /sbin
)

# Runs csand with a per-test token in its argv (and in the command's
# environment unless the test clears it), so that teardown can find any
# process this test left behind without confusing it with the processes of
# tests running in parallel.
csand() {
        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "$@"
}

# Runs csand with the minimal root and the given extra options/command.
csand_min() {
        csand "${csand_min_root[@]}" "$@"
}

# Runs "$@" with every fd above 2 closed (bats itself keeps fds 3 and up
# open, and they would be passed into the sandbox like any caller's fd).
# A seccomp program (classic BPF, as bwrap takes it) that makes uname(2)
# fail with EPERM on x86_64 and allows everything else.
write_uname_filter() {
        python3 - "$1" <<'PY'
import struct, sys
def insn(code, jt, jf, k): return struct.pack('HBBI', code, jt, jf, k)
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
prog = (insn(LD_W_ABS, 0, 0, 4)                 # arch
        + insn(JEQ_K, 0, 3, 0xc000003e)         # AUDIT_ARCH_X86_64, else allow
        + insn(LD_W_ABS, 0, 0, 0)               # syscall nr
        + insn(JEQ_K, 0, 1, 63)                 # __NR_uname
        + insn(RET_K, 0, 0, 0x00050000 | 1)     # SECCOMP_RET_ERRNO | EPERM
        + insn(RET_K, 0, 0, 0x7fff0000))        # SECCOMP_RET_ALLOW
open(sys.argv[1], 'wb').write(prog)
PY
}

require_x86_64() {
        [ "$(uname -m)" = x86_64 ] || skip "the test's BPF program is for x86_64"
}

# as_pidns_init CMD...: CMD as the init (pid 1) of a new pid namespace, in
# a user namespace that maps the caller's ids (unshare(1)). There csand
# makes no user namespace first thing (its child would take pid 2,
# bwrap's sandbox child's): its launches use the id-map stand-ins.
as_pidns_init() {
        unshare --user --map-current-user --pid --fork -- "$@"
}

closefds() {
        python3 -c 'import os, sys
os.closerange(3, 65536)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

# require_feature NAME COMMAND...: skips the test, naming what is missing,
# unless COMMAND succeeds.  With CI=true the test fails instead: CI machines
# are expected to have everything.
require_feature() {
        local name=$1
        shift
        if "$@" >/dev/null 2>&1; then
                return 0
        fi
        if [ "${CI:-}" = true ]; then
                fail "missing feature: $name (check failed: $*); CI=true makes this a failure, not a skip"
                return 1
        fi
        skip "missing feature: $name (check failed: $*)"
}

# Guards for tests that only make sense for one kind of caller.  These are
# not missing features: they skip whatever CI says.
require_unprivileged() {
        if [ "$(id -u)" -eq 0 ]; then
                skip "only meaningful unprivileged${1:+: $1} (running as root)"
        fi
}

require_root() {
        if [ "$(id -u)" -ne 0 ]; then
                skip "only meaningful as root${1:+: $1}"
        fi
}

# After `run --separate-stderr ...` of a failing csand: exit 1, nothing on
# stdout, exactly one line on stderr, "csand: ...". The line is left in $msg
# for the caller's checks of what it names.
assert_csand_error() {
        assert_failure 1
        assert_equal "$output" ""
        if [ "${#stderr_lines[@]}" -ne 1 ]; then
                printf 'stderr: %s\n' "$stderr"
                fail "expected exactly one line on stderr, got ${#stderr_lines[@]}"
        fi
        msg=${stderr_lines[0]}
        [[ "$msg" == "csand: "* ]] || fail "message not prefixed 'csand: ': $msg"
}

# The setuid batteries: CSAND is a setuid copy (tests/setuid/run.sh), the
# attacker an ordinary user.
require_setuid_attacker() {
        [ -u "$CSAND" ] || fail "CSAND=$CSAND is not setuid (run through tests/setuid/run.sh)"
        [ "$(id -u)" -ne 0 ] || fail "the attacker must be an ordinary user"
}

# Setuid mode where nobody may make a user namespace (tests/setuid/run.sh
# --nouserns): the sandbox's namespaces belong to the initial user
# namespace, and options that need one of their own are refused.
nouserns_mode() {
        [ -n "${CSAND_SETUID_NOUSERNS:-}" ]
}

# After `run --separate-stderr ...` in that mode: OPTION was refused.
assert_needs_userns() {
        assert_csand_error
        [[ "$msg" == "csand: $1 needs a user namespace, and none can be made here"* ]] || fail "not the refusal of $1: $msg"
}

# Unprivileged csand needs user namespaces; as root it does not, nor
# installed setuid root (its privileged part makes the namespace).
require_userns() {
        [ -u "$CSAND" ] && [ "$(stat -c %u "$CSAND")" = 0 ] && return 0
        require_feature "unprivileged user namespaces" unshare --user --map-root-user true
}

# --- nothing left behind ----------------------------------------------------

# Pids of processes (of any user we can see) whose command line or
# environment carries this test's token.
csand_token_pids() {
        local pattern_file="$BATS_TEST_TMPDIR/.token-pattern"
        printf '%s\n' "$CSAND_TOKEN" >"$pattern_file"
        # -f: the token is not in grep's own command line.
        grep -lsaF -f "$pattern_file" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null |
                sed -n 's|^/proc/\([0-9]*\)/.*|\1|p' | sort -un |
                while read -r pid; do
                        # zombies and processes already gone don't count
                        state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$pid/status" 2>/dev/null) || continue
                        [ -n "$state" ] && [ "$state" != Z ] && echo "$pid"
                done
}

# Waits (generously) for the processes of this test to go away.  Succeeds
# when none is left; otherwise prints them and fails.
no_token_pids() {
        [ -z "$(csand_token_pids)" ]
}

assert_no_leftover_processes() {
        poll_until 100 no_token_pids && return 0
        local pid
        for pid in $(csand_token_pids); do
                echo "leftover process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
        done
        fail "processes left behind by this test"
}

kill_leftover_processes() {
        local pid
        for pid in $(csand_token_pids); do
                kill -KILL "$pid" 2>/dev/null || true
        done
}

csand_host_mountinfo() {
        # mount id, parent, device, root, mount point, mount options: what
        # identifies a mount, without the propagation fields that follow.
        # (awk: a loop in bash costs more under bats' DEBUG trap, which runs
        # for every command of a test)
        awk '{ print $1, $2, $3, $4, $5, $6 }' /proc/self/mountinfo
}

assert_host_mounts_unchanged() {
        local now
        now=$(csand_host_mountinfo)
        if [ "$now" != "$CSAND_MOUNTINFO_BEFORE" ]; then
                diff <(echo "$CSAND_MOUNTINFO_BEFORE") <(echo "$now") || true
                fail "the host's mount table changed"
        fi
}

# Every csand run of a test gets its own TMPDIR and XDG_RUNTIME_DIR (see
# csand()); whatever csand puts there must be gone when it exits.  (Global
# directories such as /tmp are shared with the tests that run in parallel,
# so their contents can't be attributed to one test.) csand's own runtime
# directory, XDG_RUNTIME_DIR/csand, stays (like its cache, it is made once and
# hidden from every sandbox), and so does its names/ (--name); nothing may
# be left in either.
assert_no_stray_temp_entries() {
        local stray
        stray=$(find "$CSAND_TMPDIR" "$CSAND_RUNTIME_DIR" -mindepth 1 ! -path "$CSAND_RUNTIME_DIR/csand" ! -path "$CSAND_RUNTIME_DIR/csand/names" 2>/dev/null || true)
        if [ -n "$stray" ]; then
                echo "$stray"
                fail "temporary files left behind"
        fi
}

assert_nothing_left_behind() {
        # (called in a || list, where errexit is off: count the failures)
        local failures=0
        assert_no_leftover_processes || failures=$((failures + 1))
        assert_host_mounts_unchanged || failures=$((failures + 1))
        assert_no_stray_temp_entries || failures=$((failures + 1))
        [ "$failures" -eq 0 ]
}

common_setup() {
        CSAND_TOKEN="csandtok-$$-${BATS_TEST_NUMBER}-${RANDOM}${RANDOM}"
        CSAND_MOUNTINFO_BEFORE=$(csand_host_mountinfo)
        CSAND_TMPDIR="$BATS_TEST_TMPDIR/csand-tmp"
        CSAND_RUNTIME_DIR="$BATS_TEST_TMPDIR/csand-run"
        # A scratch directory that the sandboxes may bind.
        TESTDIR="$BATS_TEST_TMPDIR/work"
        mkdir -p "$CSAND_TMPDIR" "$TESTDIR"
        mkdir -p -m 0700 "$CSAND_RUNTIME_DIR"
        if [ ! -x "$CSAND" ]; then
                fail "CSAND=$CSAND is not an executable (build first: meson compile -C build)"
        fi
}

common_teardown() {
        # (nothing to kill when nothing was left)
        assert_nothing_left_behind && return 0
        kill_leftover_processes
        return 1
}

setup() {
        common_setup
}

teardown() {
        common_teardown
}

# --- small helpers -----------------------------------------------------------

# The mount options (field 6 of mountinfo) of mount point MP in MOUNTINFO text.
mount_options_of() {
        local mp=$1 mountinfo=$2
        awk -v mp="$mp" '$5 == mp { opts = $6 } END { print opts }' <<<"$mountinfo"
}

# The one polling loop of the test library.  poll_until TENTHS COMMAND...:
# runs COMMAND every 0.1 s until it succeeds, at most TENTHS times (bounds
# are generous: the machine may be loaded; no test asserts on time).
poll_until() {
        local n=$1 i
        shift
        for ((i = 0; i < n; i++)); do
                "$@" && return 0
                sleep 0.1
        done
        return 1
}

# poll_output TENTHS COMMAND...: as poll_until, until COMMAND prints
# something; prints that.
poll_output() {
        local n=$1 i out
        shift
        for ((i = 0; i < n; i++)); do
                out=$("$@")
                if [ -n "$out" ]; then
                        echo "$out"
                        return 0
                fi
                sleep 0.1
        done
        return 1
}

# Has process PID ended (or been reaped)?
pid_gone() {
        ! kill -0 "$1" 2>/dev/null
}

# stop_pid PID [TENTHS]: SIGTERM, then SIGKILL if it has not ended within
# TENTHS/10 s (default 10 s); reaps it when it is our child.
stop_pid() {
        local pid=$1
        kill -TERM "$pid" 2>/dev/null || return 0
        poll_until "${2:-100}" pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
}

no_process_matches() {
        ! pgrep -f -- "$1" >/dev/null
}

first_process_matching() {
        pgrep -f -- "$1" | head -n1
}

# Polls (up to ~20 s) until no process matches pgrep -f PATTERN.
wait_for_no_process() {
        poll_until 200 no_process_matches "$1" && return 0
        pgrep -af -- "$1" || true
        return 1
}

# Polls (up to ~20 s) until some process matches pgrep -f PATTERN; prints its pid.
wait_for_process() {
        poll_output 200 first_process_matching "$1"
}

# Polls (up to ~20 s) until FILE exists and is not empty.
wait_for_file() {
        poll_until 200 test -s "$1"
}
