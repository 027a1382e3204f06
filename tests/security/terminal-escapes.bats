#!/usr/bin/env bats
# Terminal escapes from outside (issue 15, item 7). What csand prints that
# came from an image, a path, a profile or a cache entry reached the
# caller's terminal raw: ESC sequences could retitle the window, clear the
# screen, hide text or (on some terminals) answer back. Every message and
# every line of --image-info and the cache listings now goes through
# log_escape() (utils/log.c): control characters (C0, DEL, UTF-8 C1, bytes
# that are not UTF-8) print as \xHH, on one line.

load ../lib/common
load ../lib/image

setup_file() {
        export IMG_WORK="$BATS_FILE_TMPDIR/base" IMG_BLOBS="$BATS_FILE_TMPDIR/base/blobs" IMG_LAYERS=""
        mkdir -p "$IMG_WORK"
        img_busybox_layer "$IMG_WORK/bb"
        img_add_layer "$IMG_WORK/bb" gzip
        export BASE_LAYERS=$IMG_LAYERS BASE_BLOBS=$IMG_BLOBS
}

setup() {
        common_setup
        require_userns
        export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache"
        export CSAND_SECCOMP_PROFILE_DIR=$CSAND_SOURCE_DIR/seccomp-profiles
        IMG_WORK="$BATS_TEST_TMPDIR/img" IMG_BLOBS="$BATS_TEST_TMPDIR/img/blobs" IMG_LAYERS=$BASE_LAYERS
        mkdir -p "$IMG_BLOBS"
        cp "$BASE_BLOBS"/* "$IMG_BLOBS/"
}

# Fails when TEXT has a byte that drives a terminal: C0 controls but the
# newline, DEL, UTF-8 C1 controls, and 8-bit CSI/OSC.
refute_control_chars() {
        printf '%s' "$1" | python3 -c '
import re, sys
d = sys.stdin.buffer.read()
m = re.search(rb"[\x00-\x09\x0b-\x1f\x7f\x9b\x9d]|\xc2[\x80-\x9f]", d)
if m:
    print("raw control byte %r at %d in: %r" % (m.group(0), m.start(), d))
    sys.exit(1)' || fail "csand printed a control character"
}

# The ESC sequences used below, as JSON escapes (for image configs) and as
# the bytes themselves (for paths).
ESC_JSON='\u001b]0;owned\u0007\u001b[2J\u009b31m'
ESC_RAW=$'\e]0;owned\a\e[2J\xc2\x9b31m'
ESC_SHOWN='\x1b]0;owned\x07\x1b[2J\xc2\x9b31m'

@test "--image-info: Env, WorkingDir, User, Cmd and the tag print escaped" {
        img_py_layer 'file x'
        img_oci_write "$BATS_TEST_TMPDIR/oci" \
                "{\"Env\":[\"A=$ESC_JSON\"],\"WorkingDir\":\"/w$ESC_JSON\",\"User\":\"u$ESC_JSON\",\"Cmd\":[\"c$ESC_JSON\"]}" \
                "v1$ESC_JSON"
        run csand --image-info "$BATS_TEST_TMPDIR/oci:v1$ESC_RAW"
        assert_success
        refute_control_chars "$output"
        assert_line "tag: v1$ESC_SHOWN"
        assert_line "env: A=$ESC_SHOWN"
        assert_line "workdir: /w$ESC_SHOWN"
        assert_line "user: u$ESC_SHOWN"
        # JSON already writes C0 as \u00XX; C1 and DEL are left to log_escape()
        assert_line --partial 'cmd: ["c\u001b]0;owned\u0007\u001b[2J\xc2\x9b31m"]'
}

@test "image errors: tags listed from index.json and the tag asked for print escaped" {
        img_py_layer 'file x'
        img_oci_write "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' "v1$ESC_JSON"
        run --separate-stderr csand --image "$BATS_TEST_TMPDIR/oci:nope$ESC_RAW" true
        assert_csand_error
        refute_control_chars "$stderr"
        assert_equal "$msg" "csand: $BATS_TEST_TMPDIR/oci: no image tagged nope$ESC_SHOWN (available: v1$ESC_SHOWN)"
}

@test "image errors: a refused tar entry name prints escaped, on one line" {
        # (img_py_layer reads \uXXXX and \xHH escapes in names)
        img_py_layer "file ../$ESC_JSON\\x0acsand:\\x20forged\\x20line"
        img_oci_write "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' latest
        run --separate-stderr csand --image "$BATS_TEST_TMPDIR/oci" true
        assert_csand_error
        refute_control_chars "$stderr"
        [[ "$msg" == *"refusing path ../$ESC_SHOWN\x0acsand: forged line outside the layer" ]] ||
                fail "unexpected message: $msg"
}

@test "a path on the command line prints escaped in the error, on one line" {
        run --separate-stderr csand --ro-bind "/nonexistent/$ESC_RAW"$'\ncsand: forged' /x true
        assert_csand_error
        refute_control_chars "$stderr"
        assert_equal "$msg" "csand: Can't find source path /nonexistent/$ESC_SHOWN\x0acsand: forged: No such file or directory"
        # an invalid byte on its own
        run --separate-stderr csand --chdir $'/\x9b2J' --ro-bind /usr /usr true
        refute_control_chars "$stderr"
}

@test "seccomp profile text prints escaped (an unknown syscall name, an unknown action)" {
        local p=$BATS_TEST_TMPDIR/p.json
        printf '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x%s"],"action":"SCMP_ACT_ERRNO"}]}' "$ESC_JSON" >"$p"
        run --separate-stderr csand_min --seccomp-profile "$p" true
        assert_success
        refute_control_chars "$stderr"
        assert_equal "$stderr" "csand: --seccomp-profile $p: unknown syscall x$ESC_SHOWN skipped"
        printf '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"A%s"}]}' "$ESC_JSON" >"$p"
        run --separate-stderr csand_min --seccomp-profile "$p" true
        assert_csand_error
        refute_control_chars "$stderr"
        [[ "$msg" == *"unknown action \"A$ESC_SHOWN\""* ]] || fail "unexpected message: $msg"
}

@test "--image-cache-list prints a cache entry's name escaped" {
        mkdir -p -m 0700 "$XDG_CACHE_HOME" "$XDG_CACHE_HOME/csand" "$XDG_CACHE_HOME/csand/layers"
        mkdir "$XDG_CACHE_HOME/csand/layers/sha256-$ESC_RAW"
        run csand --image-cache-list
        assert_success
        refute_control_chars "$output"
        assert_output "sha256:$ESC_SHOWN unused"
}
