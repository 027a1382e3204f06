#!/usr/bin/env bats
# WebKitGTK (Debian's libwebkit2gtk-4.1, through python3-gi): a WebView on a
# WebContext with the sandbox enabled loads a file:// page and runs
# JavaScript.  WebKit starts its web process, and the xdg-dbus-proxy that
# filters its D-Bus, under bwrap, with most options in an `--args` memfd and
# a `--seccomp` fd.  The path /usr/bin/bwrap is compiled in: the test binds
# its stand-in there in a private user and mount namespace
# (use_bwrap_at_usr_bin)
# and runs the application in it, under an X server and a D-Bus of its own.
# The same steps with Debian's bwrap (the control) and with csand.

load ../lib/common
load ../lib/clients

setup() {
        client_setup
        require_feature "python3-gi with WebKit2 4.1 (gir1.2-webkit2-4.1)" \
                "$CLIENT_PYTHON" -c 'import gi; gi.require_version("WebKit2", "4.1"); from gi.repository import WebKit2'
        require_feature "Xvfb (xvfb)" command -v Xvfb
        require_feature "dbus-daemon" command -v dbus-daemon
        start_xvfb
        start_private_bus
        # GTK's accessibility bridge would ask the bus to start AT-SPI
        export NO_AT_BRIDGE=1
}

teardown() {
        client_teardown
}

# web_page KIND: the page loads, its JavaScript runs, and the web process
# runs below the bwrap under test.
web_page() {
        local kind=$1 page="$CLIENT_DIR/page.html"
        printf '<html><head><title>csand-page</title></head><body>hello</body></html>\n' >"$page"
        use_bwrap_at_usr_bin "$kind"
        # (the application gives up on its own first, and says why)
        export CLIENT_TIMEOUT=90
        run --separate-stderr client 120 "${BWRAP_AT[@]}" "$CLIENT_PYTHON" "$CLIENT_HELPERS/webkit-client.py" "$page"
        [ -z "$stderr" ] || echo "stderr: $stderr"
        assert_success
        assert_equal "$(json_get "$output" 'd["sandbox_enabled"]')" true
        assert_equal "$(json_get "$output" 'd.get("js", repr(d))')" "csand-page 42"
        # every web process runs below the bwrap under test: its parent (the
        # sandbox's monitor or pid 1) was exec'd from that binary
        local parents
        parents=$(json_get "$output" '"\n".join(c[-2] if len(c) > 1 else "" for c in d["web_processes"])')
        [ -n "$parents" ] || fail "no WebKitWebProcess found below the application: $output"
        local parent
        while IFS= read -r parent; do
                assert_equal "$parent" "$BWRAP_TARGET"
        done <<<"$parents"
        assert_bwrap_ran WebKitWebProcess /usr/bin/xdg-dbus-proxy --seccomp
}

@test "WebKitGTK: a sandboxed web process loads a file:// page and runs JavaScript (Debian's bwrap, the control)" {
        web_page bwrap
}

@test "WebKitGTK: a sandboxed web process loads a file:// page and runs JavaScript (csand as bwrap)" {
        web_page csand
}
