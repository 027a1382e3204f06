#!/usr/bin/env bats
# GNOME's thumbnailer sandbox: gnome-desktop's GnomeDesktopThumbnailFactory
# (what Nautilus and the file chooser use) runs the thumbnailer of a file's
# type, gdk-pixbuf-thumbnailer for a PNG, under `bwrap --unshare-all
# --die-with-parent --seccomp FD ...`, found as the first `bwrap` on PATH.
# The same steps with Debian's bwrap (the control) and with csand.

load ../lib/common
load ../lib/clients

setup() {
        client_setup
        require_feature "python3-gi with GnomeDesktop 3.0 (gir1.2-gnomedesktop-3.0)" \
                "$CLIENT_PYTHON" -c 'import gi; gi.require_version("GnomeDesktop", "3.0"); from gi.repository import GnomeDesktop'
        require_feature "gdk-pixbuf-thumbnailer (libgdk-pixbuf2.0-bin)" \
                test -x /usr/bin/gdk-pixbuf-thumbnailer
}

teardown() {
        client_teardown
}

# thumbnail_png KIND: a PNG gets its thumbnail, made inside the sandbox.
thumbnail_png() {
        use_bwrap "$1"
        local png="$CLIENT_DIR/picture.png"
        run --separate-stderr client 60 "$CLIENT_PYTHON" "$CLIENT_HELPERS/thumbnail.py" "$png"
        [ -z "$stderr" ] || echo "stderr: $stderr"
        assert_success
        assert_equal "$(json_get "$output" 'd.get("error", "")')" ""
        assert_equal "$(json_get "$output" 'd["can_thumbnail"]')" true
        # the 300x200 picture scaled to the 128-pixel "normal" size, saved in
        # the cache of the test's HOME for the picture's URI
        assert_equal "$(json_get "$output" 'd["size"]')" "[128, 85]"
        assert_equal "$(json_get "$output" 'd["path"]')" \
                "$XDG_CACHE_HOME/thumbnails/normal/$(printf '%s' "file://$png" | md5sum | cut -d' ' -f1).png"
        assert_equal "$(json_get "$output" 'd["thumb_uri"]')" "file://$png"
        assert_bwrap_ran --unshare-all /usr/bin/gdk-pixbuf-thumbnailer
}

@test "GNOME thumbnail factory makes a PNG's thumbnail in the sandbox (Debian's bwrap, the control)" {
        thumbnail_png bwrap
}

@test "GNOME thumbnail factory makes a PNG's thumbnail in the sandbox (csand as bwrap)" {
        thumbnail_png csand
}

# What makes the two tests above mean something: the factory has no
# in-process fallback, a bwrap that fails gives no thumbnail.
@test "GNOME thumbnail factory: with a failing bwrap there is no thumbnail" {
        use_bwrap false
        run --separate-stderr client 60 "$CLIENT_PYTHON" "$CLIENT_HELPERS/thumbnail.py" "$CLIENT_DIR/picture.png"
        assert_success
        assert_equal "$(json_get "$output" '"path" in d')" false
        [[ "$(json_get "$output" 'd["error"]')" == *"exited with code 1"* ]] || fail "error: $output"
        assert_bwrap_ran /usr/bin/gdk-pixbuf-thumbnailer
        [ -z "$(find "$XDG_CACHE_HOME" -path '*/thumbnails/normal/*' 2>/dev/null)" ] || fail "a thumbnail was saved"
}
