# Shared helpers for the real-client tier (tests/clients/*.bats): bwrap's
# real clients (opam, flatpak, WebKitGTK, GNOME's thumbnailer) run as their
# users run them, once with Debian's /usr/bin/bwrap (the control) and once
# with csand in its place.  In a .bats file:
#
#     load ../lib/common
#     load ../lib/clients
#
# Each test gets a client directory whose path carries the test's token
# (see common.bash): HOME, XDG_* and the clients' own trees live there, so
# every process a client leaves behind (they all have HOME or a path of this
# directory in their environment or command line) is found by the common
# nothing-left-behind check.
#
# The bwrap a client runs is a stand-in (use_bwrap): a script that appends
# its command line to $BWRAP_LOG (with the arguments a client passes through
# `--args FD`) and then execs the bwrap under test.  The log proves which
# binary ran and keeps the clients' exact command lines; the tests also check
# from inside or outside the sandbox that its processes were started from
# that binary (argv[0] of the sandbox's monitor or pid 1 is the path the
# stand-in exec'd).
#
# Where the stand-in goes depends on where the client looks for bwrap:
#   opam (sandbox.sh), flatpak (Debian builds it with plain "bwrap"),
#   gnome-desktop's thumbnailer:          the first `bwrap` on PATH
#   WebKitGTK:                            /usr/bin/bwrap, compiled in; the
#       test binds the stand-in over it in a private user and mount namespace
#       of its own (use_bwrap_at_usr_bin), never on the machine itself.

# The helpers' directory (python scripts the tests run).
CLIENT_HELPERS="$CSAND_SOURCE_DIR/tests/clients/helpers"

# Debian's python, the one python3-gi belongs to.
CLIENT_PYTHON=/usr/bin/python3

# client_setup: common_setup, then a fresh client directory and environment.
client_setup() {
        common_setup
        require_userns
        CLIENT_DIR="$BATS_TEST_TMPDIR/$CSAND_TOKEN"
        mkdir -p "$CLIENT_DIR/bin" "$CLIENT_DIR/home" "$CLIENT_DIR/run" "$CLIENT_DIR/tmp"
        chmod 0700 "$CLIENT_DIR/run"
        CLIENT_PIDS=()
        BWRAP_LOG="$CLIENT_DIR/bwrap.log"
        export HOME="$CLIENT_DIR/home"
        # (a client may keep files there, e.g. opam the logs of a failed
        # build: not csand's leftovers)
        export TMPDIR="$CLIENT_DIR/tmp"
        export LANG=C.UTF-8
        export PATH="$CLIENT_DIR/bin:/usr/bin:/bin"
        # no desktop session of the caller's: each test starts what it needs
        local v
        for v in $(compgen -e | grep '^XDG_' || true); do
                unset "$v"
        done
        unset DISPLAY WAYLAND_DISPLAY XAUTHORITY DBUS_SESSION_BUS_ADDRESS \
                DBUS_SYSTEM_BUS_ADDRESS FLATPAK_BWRAP
        export XDG_CACHE_HOME="$HOME/.cache" XDG_CONFIG_HOME="$HOME/.config"
        export XDG_DATA_HOME="$HOME/.local/share" XDG_RUNTIME_DIR="$CLIENT_DIR/run"
}

# client SECONDS COMMAND...: runs a client's COMMAND as a user's session
# would, with the session's environment only (none of the test harness's
# variables, which flatpak, for one, would pass into its sandboxes), killed
# after SECONDS.
client() {
        local secs=$1
        shift
        local envs=() v
        for v in $(compgen -e); do
                case "$v" in
                HOME | USER | LOGNAME | SHELL | PATH | LANG | TERM | TMPDIR | XDG_* | DISPLAY | \
                        DBUS_SESSION_BUS_ADDRESS | DBUS_SYSTEM_BUS_ADDRESS | NO_AT_BRIDGE | \
                        OPAM* | CLIENT_TIMEOUT | ASAN_OPTIONS | UBSAN_OPTIONS)
                        envs+=("$v=${!v}")
                        ;;
                esac
        done
        # (no core file of a crashing client in the directory meson runs
        # the tests from, the source tree)
        (
                ulimit -c 0
                exec timeout -k 5 "$secs" env -i "${envs[@]}" "$@"
        )
}

# client_teardown: stops what the test started, shows the bwrap command lines
# of a failed test (and keeps them in $CSAND_CLIENT_LOG_DIR when that is
# set), then the common checks.
client_teardown() {
        stop_client_daemons
        if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
                # (bats-assert shows only stdout of a failed `run`)
                [ -z "${stderr:-}" ] || printf 'stderr of the last command:\n%s\n' "$stderr"
                if [ -s "${BWRAP_LOG:-}" ]; then
                        echo "bwrap command lines of this test ($BWRAP_LOG):"
                        sed 's/^/  /' "$BWRAP_LOG"
                fi
        fi
        if [ -s "${BWRAP_LOG:-}" ] && [ -n "${CSAND_CLIENT_LOG_DIR:-}" ]; then
                mkdir -p "$CSAND_CLIENT_LOG_DIR"
                cp "$BWRAP_LOG" "$CSAND_CLIENT_LOG_DIR/$(basename "$BATS_TEST_FILENAME" .bats)-$BATS_TEST_NUMBER-${BWRAP_KIND:-none}.log"
        fi
        common_teardown
}

# use_bwrap KIND [PATH]: writes the stand-in `bwrap` to PATH (default: the
# client directory's bin/, first on PATH) for KIND:
#   bwrap  Debian's /usr/bin/bwrap, the control
#   csand  $CSAND
#   false  /bin/false, a bwrap that always fails
#   PATH   that file (use_bwrap_at_usr_bin: the bind of Debian's bwrap)
use_bwrap() {
        local kind=$1 path=${2:-$CLIENT_DIR/bin/bwrap}
        BWRAP_KIND=$kind
        case "$kind" in
        bwrap)
                require_feature "Debian's bubblewrap (the control)" test -x /usr/bin/bwrap
                BWRAP_TARGET=/usr/bin/bwrap
                ;;
        csand) BWRAP_TARGET=$CSAND ;;
        false) BWRAP_TARGET=/bin/false ;;
        *) BWRAP_TARGET=$kind ;;
        esac
        write_bwrap_standin "$path" "$BWRAP_TARGET"
}

# write_bwrap_standin PATH TARGET: the logging stand-in, exec'ing TARGET.
write_bwrap_standin() {
        local path=$1 target=$2
        {
                echo '#!/bin/bash'
                echo '# bwrap stand-in of the client tests: logs, then execs the bwrap under test'
                printf 'target=%q\nlog=%q\n' "$target" "$BWRAP_LOG"
                cat <<'EOF'
rec=$(printf '%q ' "$target" "$@")
prev=
for a in "$@"; do
        # a memfd or file behind --args can be read again through /proc
        # without moving the client's offset (a pipe could not)
        if [ "$prev" = --args ] && [ -f "/proc/self/fd/$a" ]; then
                rec+=$'\n'"    --args $a:"
                while IFS= read -r -d '' x; do
                        rec+=" $(printf '%q' "$x")"
                done <"/proc/self/fd/$a"
        fi
        prev=$a
done
{
        flock 9
        printf '%s\n' "$rec" >&9
} 9>>"$log"
exec "$target" "$@"
EOF
        } >"$path"
        chmod 0755 "$path"
}

# The number of bwrap runs logged so far.
bwrap_runs() {
        grep -c -v '^    --args ' "$BWRAP_LOG" 2>/dev/null || true
}

# assert_bwrap_ran [TEXT...]: bwrap ran at least once, every run exec'd the
# bwrap under test, and some run's command line contains each TEXT.
assert_bwrap_ran() {
        [ -s "$BWRAP_LOG" ] || fail "the client never ran bwrap (no $BWRAP_LOG)"
        local want line
        want=$(printf '%q ' "$BWRAP_TARGET")
        while IFS= read -r line; do
                [[ "$line" == "    --args "* ]] && continue
                [[ "$line" == "$want"* ]] || fail "a bwrap run did not exec $BWRAP_TARGET: $line"
        done <"$BWRAP_LOG"
        local text
        for text in "$@"; do
                grep -qF -- "$text" "$BWRAP_LOG" || fail "no bwrap run with '$text' in its command line"
        done
}

# argv0_of PID: the first word of a process's command line (readable for
# every process, dumpable or not).
argv0_of() {
        tr '\0' '\n' <"/proc/$1/cmdline" | head -n1
}

# --- daemons a test starts: a private D-Bus, an X server ---------------------

# start_private_bus [system]: a dbus-daemon of this test, with no service
# activation (nothing gets started behind the test's back); its address goes
# to DBUS_SESSION_BUS_ADDRESS, and with "system" to DBUS_SYSTEM_BUS_ADDRESS
# as well (flatpak's install asks the system bus about parental controls).
start_private_bus() {
        local sock="$CLIENT_DIR/bus" conf="$CLIENT_DIR/bus.conf"
        cat >"$conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
        dbus-daemon --config-file="$conf" --nofork --nosyslog \
                </dev/null >"$CLIENT_DIR/dbus.log" 2>&1 3>&- &
        CLIENT_PIDS+=($!)
        wait_for_socket "$sock" || fail "the private dbus-daemon did not start: $(cat "$CLIENT_DIR/dbus.log")"
        export DBUS_SESSION_BUS_ADDRESS="unix:path=$sock"
        if [ "${1:-}" = system ]; then
                export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$sock"
        fi
}

# start_xvfb: an X server of this test on a free display; sets DISPLAY.
start_xvfb() {
        local fdfile="$CLIENT_DIR/xvfb.display"
        Xvfb -displayfd 4 -nolisten tcp -screen 0 800x600x24 \
                </dev/null 4>"$fdfile" >"$CLIENT_DIR/xvfb.log" 2>&1 3>&- &
        CLIENT_PIDS+=($!)
        wait_for_file "$fdfile" || fail "Xvfb did not start: $(cat "$CLIENT_DIR/xvfb.log")"
        export DISPLAY=":$(tr -d '\n' <"$fdfile")"
}

# Polls (up to ~20 s) until PATH is a socket.
wait_for_socket() {
        poll_until 200 test -S "$1"
}

stop_client_daemons() {
        local pid
        for pid in "${CLIENT_PIDS[@]}"; do
                stop_pid "$pid"
        done
        CLIENT_PIDS=()
}

# use_bwrap_at_usr_bin KIND: the stand-in for KIND, to be bound over
# /usr/bin/bwrap by "${BWRAP_AT[@]}" COMMAND..., which runs COMMAND in a
# private user and mount namespace (helpers/bwrap-at.py); Debian's bwrap
# stays reachable there at $CLIENT_DIR/real-bwrap for the control.
use_bwrap_at_usr_bin() {
        local kind=$1
        local keep="$CLIENT_DIR/real-bwrap" standin="$CLIENT_DIR/usr-bin-bwrap"
        : >"$keep"
        if [ "$kind" = bwrap ]; then
                require_feature "Debian's bubblewrap (the control)" test -x /usr/bin/bwrap
                use_bwrap "$keep" "$standin"
                BWRAP_KIND=bwrap
        else
                use_bwrap "$kind" "$standin"
        fi
        BWRAP_AT=("$CLIENT_PYTHON" "$CLIENT_HELPERS/bwrap-at.py" "$standin" "$keep" --)
}

# json_get JSON EXPR: prints EXPR evaluated on the parsed JSON object d (a
# string as it is, anything else as JSON), e.g. json_get "$output" 'd["js"]'.
json_get() {
        "$CLIENT_PYTHON" -c 'import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2], {"d": d})
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}
