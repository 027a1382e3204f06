#!/usr/bin/env bats
# flatpak (Debian's 1.14), in a --user installation of the test's own HOME:
# a runtime made from busybox-static and an app, exported to a local
# repository (setup_file, no sandbox involved), then what users do: add the
# file:// remote, install (the install triggers run sandboxed), run, run
# --command, --filesystem=home, --sandbox, build an app with `flatpak build`
# and run it, and ps, enter and kill a running instance.  Debian builds
# flatpak with plain "bwrap": the first `bwrap` on PATH (FLATPAK_BWRAP unset).
# `flatpak run` passes nearly all its options through `--args FD`, with
# --info-fd, --seccomp, --ro-bind-data and --lock-file.
# A private dbus-daemon serves as the session bus (flatpak runs its D-Bus
# proxy in the sandbox too) and as the system bus (install asks it about
# parental controls).  The same steps with Debian's bwrap (the control) and
# with csand.

load ../lib/common
load ../lib/clients

APP=org.test.Hello
RUNTIME=org.test.Platform

setup_file() {
        command -v flatpak >/dev/null && [ -x /bin/busybox ] || return 0
        local d=$BATS_FILE_TMPDIR
        (
                set -e
                # nothing here runs a sandbox: a bwrap that fails proves it
                export HOME="$d/setup-home" XDG_RUNTIME_DIR="$d/setup-run" FLATPAK_BWRAP=/bin/false
                export XDG_DATA_HOME="$HOME/.local/share" XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache"
                unset DBUS_SESSION_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY
                mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
                chmod 0700 "$XDG_RUNTIME_DIR"

                # the runtime: busybox-static and its applets as /usr (a
                # dynamic busybox, should one have replaced it, brings its
                # libraries: /lib and /lib64 lead to the runtime's usr/)
                local rt="$d/runtime" applet lib
                mkdir -p "$rt/usr/bin" "$rt/files"
                printf '[Runtime]\nname=%s\n' "$RUNTIME" >"$rt/metadata"
                cp /bin/busybox "$rt/usr/bin/busybox"
                for lib in $(ldd /bin/busybox 2>/dev/null | grep -o '/[^ ]*' || true); do
                        lib=${lib#/usr}
                        mkdir -p "$rt/usr$(dirname "$lib")"
                        cp -L "$lib" "$rt/usr$lib"
                done
                for applet in $(/bin/busybox --list); do
                        [ "$applet" = busybox ] || ln -s busybox "$rt/usr/bin/$applet"
                done
                flatpak build-export --runtime --disable-sandbox "$d/repo" "$rt" stable
                # build-init wants the runtime installed
                flatpak remote-add --user --no-gpg-verify setup "file://$d/repo"
                flatpak install -y --user --noninteractive setup "$RUNTIME"

                # the app: one script
                flatpak build-init "$d/app" "$APP" "$RUNTIME" "$RUNTIME" stable
                mkdir -p "$d/app/files/bin"
                printf '#!/bin/sh\necho "hello from $FLATPAK_ID"\n' >"$d/app/files/bin/hello"
                chmod 0755 "$d/app/files/bin/hello"
                flatpak build-finish --command=hello "$d/app"
                flatpak build-export --disable-sandbox "$d/repo" "$d/app" stable
        ) >"$d/setup.log" 2>&1 || {
                cat "$d/setup.log"
                return 1
        }
}

setup() {
        client_setup
        require_feature "flatpak" command -v flatpak
        require_feature "busybox (busybox-static)" test -x /bin/busybox
        require_feature "dbus-daemon" command -v dbus-daemon
        FP_REPO="$BATS_FILE_TMPDIR/repo"
        [ -d "$FP_REPO" ] || fail "setup_file did not make the repository"
}

teardown() {
        # a failed ps/enter/kill test leaves its instance running: end it so
        # that the failure shows, not its consequences (a passing test must
        # have ended it itself, the common check sees to that)
        if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${FP_RUNPID:-}" ] && kill -0 "$FP_RUNPID" 2>/dev/null; then
                echo "output of the running instance: $(cat "$CLIENT_DIR/run.out")"
                client 30 flatpak kill "$APP" >/dev/null 2>&1 || kill -KILL "$FP_RUNPID" 2>/dev/null || true
                wait "$FP_RUNPID" 2>/dev/null || true
        fi
        client_teardown
}

fp() {
        client 60 flatpak "$@" </dev/null
}

# install_app KIND: the stand-in for KIND, a bus, the remote, the app (and
# with it the runtime) installed.
install_app() {
        use_bwrap "$1"
        start_private_bus system
        run fp remote-add --user --no-gpg-verify test "file://$FP_REPO"
        assert_success
        run fp install -y --user --noninteractive test "$APP"
        assert_success
        refute_output --partial "rror"
        refute_output --partial "arning"
        # flatpak's install triggers (desktop, icon and MIME caches) ran in
        # `bwrap --ro-bind / / ...`
        assert_bwrap_ran "--ro-bind / / --proc /proc --dev /dev" /usr/share/flatpak/triggers/desktop-database.trigger
}

# The first line of the sandbox's pid 1 command line, from inside, must be the
# bwrap under test.
IN_SANDBOX_MONITOR='tr "\0" "\n" </proc/$PPID/cmdline | head -n1'

run_app() {
        install_app "$1"
        run --separate-stderr fp run "$APP"
        assert_success
        assert_output "hello from $APP"
        assert_bwrap_ran "-- hello" --info-fd --seccomp --ro-bind-data
}

run_command() {
        install_app "$1"
        run --separate-stderr fp run --command=sh "$APP" -c "$IN_SANDBOX_MONITOR; id -u; test -x /app/bin/hello && echo app; test -x /usr/bin/busybox && echo runtime; cat /run/host/os-release"
        assert_success
        assert_output "$BWRAP_TARGET
$(id -u)
app
runtime
$(cat /etc/os-release)"
}

filesystem_home() {
        install_app "$1"
        echo host-file >"$HOME/host-file"
        run --separate-stderr fp run --command=cat "$APP" "$HOME/host-file"
        assert_failure
        run --separate-stderr fp run --filesystem=home --command=cat "$APP" "$HOME/host-file"
        assert_success
        assert_output host-file
        run --separate-stderr fp run --filesystem=home --command=sh "$APP" -c "echo from-app >'$HOME/app-file'"
        assert_success
        assert_equal "$(cat "$HOME/app-file")" from-app
}

sandbox_flag() {
        install_app "$1"
        echo host-file >"$HOME/host-file"
        run fp override --user --filesystem=home "$APP"
        assert_success
        run --separate-stderr fp run --command=cat "$APP" "$HOME/host-file"
        assert_success
        assert_output host-file
        # --sandbox drops the permissions the override gave
        run --separate-stderr fp run --sandbox --command=cat "$APP" "$HOME/host-file"
        assert_failure
        run --separate-stderr fp run --sandbox --command=sh "$APP" -c "$IN_SANDBOX_MONITOR"
        assert_success
        assert_output "$BWRAP_TARGET"
}

build_app() {
        install_app "$1"
        local dir="$CLIENT_DIR/build" repo="$CLIENT_DIR/repo2"
        run fp build-init "$dir" org.test.Built "$RUNTIME" "$RUNTIME" stable
        assert_success
        run --separate-stderr fp build "$dir" sh -c "mkdir -p /app/bin && printf '#!/bin/sh\necho built by flatpak build\n' >/app/bin/built && chmod 0755 /app/bin/built && $IN_SANDBOX_MONITOR"
        assert_success
        assert_output "$BWRAP_TARGET"
        assert [ -x "$dir/files/bin/built" ]
        run fp build-finish --command=built "$dir"
        assert_success
        run fp build-export "$repo" "$dir" stable
        assert_success
        run fp remote-add --user --no-gpg-verify built "file://$repo"
        assert_success
        run fp install -y --user --noninteractive built org.test.Built
        assert_success
        run --separate-stderr fp run org.test.Built
        assert_success
        assert_output "built by flatpak build"
}

# Prints "INSTANCE CHILD-PID" of the running $APP once flatpak ps shows it.
wait_for_instance() {
        local i line
        for ((i = 0; i < 200; i++)); do
                line=$(fp ps --columns=instance,child-pid,application 2>/dev/null | awk -v app="$APP" '$3 == app && $2 > 0 { print $1, $2; exit }')
                # Running: its pid 1 reachable, as flatpak enter needs. The
                # instance is listed from --info-fd, written (as bwrap does)
                # before the sandbox's setup is done; csand's pid 1 is made
                # reachable only then (SECURITY.md, CVE-2026-41163), where
                # bwrap's setup process is reachable throughout.
                if [ -n "$line" ] && stat "/proc/${line#* }/root/" >/dev/null 2>&1; then
                        echo "$line"
                        return 0
                fi
                sleep 0.1
        done
        return 1
}

# Once flatpak kill has ended it, flatpak ps stops listing the app.
assert_instance_gone() {
        poll_until 200 eval '! fp ps --columns=application 2>/dev/null | grep -qx "$APP"' || true
        run fp ps --columns=application
        refute_output "$APP"
}

ps_enter_kill() {
        install_app "$1"
        client 600 flatpak run --command=sleep "$APP" 600 </dev/null >"$CLIENT_DIR/run.out" 2>&1 3>&- &
        FP_RUNPID=$!
        local runpid=$FP_RUNPID instance child
        read -r instance child < <(wait_for_instance) || fail "flatpak ps never showed the instance: $(fp ps 2>&1; cat "$CLIENT_DIR/run.out")"
        [ -e "/proc/$child" ] || fail "the sandbox's pid 1 ($child) is gone: $(cat "$CLIENT_DIR/run.out")"
        # the sandbox's pid 1, from the host: started from the bwrap under test
        assert_equal "$(argv0_of "$child")" "$BWRAP_TARGET"
        run --separate-stderr fp enter "$instance" sh -c 'echo entered; tr "\0" "\n" </proc/1/cmdline | head -n1; id -u'
        assert_success
        assert_output "entered
$BWRAP_TARGET
$(id -u)"
        run fp kill "$instance"
        assert_success
        local i
        for ((i = 0; i < 200; i++)); do
                kill -0 "$runpid" 2>/dev/null || break
                sleep 0.1
        done
        ! kill -0 "$runpid" 2>/dev/null || fail "flatpak run still runs after flatpak kill"
        local rc=0
        wait "$runpid" || rc=$?
        # SIGKILL of the sandbox's pid 1 comes back as 128+9
        assert_equal "$rc" 137
        assert_instance_gone
}

# An app whose command starts a process and exits: bwrap returns as soon as
# the command does, and its pid 1 lives on with that process, so flatpak
# lists the instance until it ends (csand ended the sandbox with the
# command until the pid 1 rework of issue 14's fifth start-up round).
leftover_instance() {
        install_app "$1"
        # (its output to a file: the sandbox's pid 1 keeps the stdout it was
        # given, which `run` would wait for)
        fp run --command=sh "$APP" -c 'sleep 600 </dev/null >/dev/null 2>&1 & echo started' \
                >"$CLIENT_DIR/leftover.out" 2>"$CLIENT_DIR/leftover.err" || fail "flatpak run: $(cat "$CLIENT_DIR/leftover.err")"
        assert_equal "$(cat "$CLIENT_DIR/leftover.out")" started
        local instance child
        read -r instance child < <(wait_for_instance) ||
                fail "flatpak ps does not list the instance its leftover process keeps: $(fp ps 2>&1)"
        run --separate-stderr fp enter "$instance" sh -c 'for c in /proc/[0-9]*/comm; do cat "$c"; done 2>/dev/null | grep -x sleep'
        assert_success
        assert_output sleep
        run fp kill "$instance"
        assert_success
        assert_instance_gone
}

@test "flatpak: install from a file:// remote and run the app (Debian's bwrap, the control)" {
        run_app bwrap
}

@test "flatpak: install from a file:// remote and run the app (csand as bwrap)" {
        run_app csand
}

@test "flatpak: run --command=sh sees the runtime, the app and the host's os-release (Debian's bwrap, the control)" {
        run_command bwrap
}

@test "flatpak: run --command=sh sees the runtime, the app and the host's os-release (csand as bwrap)" {
        run_command csand
}

@test "flatpak: run --filesystem=home reads and writes the home directory, run alone does not see it (Debian's bwrap, the control)" {
        filesystem_home bwrap
}

@test "flatpak: run --filesystem=home reads and writes the home directory, run alone does not see it (csand as bwrap)" {
        filesystem_home csand
}

@test "flatpak: run --sandbox drops the permissions of an override (Debian's bwrap, the control)" {
        sandbox_flag bwrap
}

@test "flatpak: run --sandbox drops the permissions of an override (csand as bwrap)" {
        sandbox_flag csand
}

@test "flatpak: build-init, build, build-finish, build-export, install and run a new app (Debian's bwrap, the control)" {
        build_app bwrap
}

@test "flatpak: build-init, build, build-finish, build-export, install and run a new app (csand as bwrap)" {
        build_app csand
}

@test "flatpak: ps, enter and kill a running instance (Debian's bwrap, the control)" {
        ps_enter_kill bwrap
}

@test "flatpak: ps, enter and kill a running instance (csand as bwrap)" {
        ps_enter_kill csand
}

@test "flatpak: an app that leaves a process running stays an instance until flatpak kill (Debian's bwrap, the control)" {
        leftover_instance bwrap
}

@test "flatpak: an app that leaves a process running stays an instance until flatpak kill (csand as bwrap)" {
        leftover_instance csand
}
