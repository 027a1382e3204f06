#!/usr/bin/env bats
# --overlay-src/--overlay/--tmp-overlay/--ro-overlay with both drivers,
# checked from outside: where writes land, whiteouts and opaque directories
# in the upper layer, persistence across runs, read-only stacks, uppers on
# ext4 and tmpfs, and which driver really mounted the layers (the fstype in
# the sandbox's own mountinfo).

load ../lib/common

setup() {
        common_setup
        require_userns
        L1="$TESTDIR/l1" L2="$TESTDIR/l2" UP="$TESTDIR/up" WK="$TESTDIR/wk"
        mkdir -p "$L1/dir/sub" "$L2" "$UP" "$WK"
        echo one >"$L1/a"
        echo lower-dir-file >"$L1/dir/sub/f"
        echo two >"$L2/b"
        echo from-l1 >"$L1/shadowed"
        echo from-l2 >"$L2/shadowed"
        SHM_DIR=
}

teardown() {
        # kernel overlayfs leaves WORKDIR/work with mode 000
        chmod -R u+rwx "$TESTDIR" 2>/dev/null || true
        [ -n "$SHM_DIR" ] && { chmod -R u+rwx "$SHM_DIR"; rm -rf "$SHM_DIR"; }
        common_teardown
}

# require_driver kernel|fuse
require_driver() {
        if [ "$1" = fuse ]; then
                require_feature "fuse-overlayfs" command -v fuse-overlayfs
                require_feature "/dev/fuse usable by $(id -un)" test -r /dev/fuse -a -w /dev/fuse
        fi
}

fstype_for() {
        case $1 in
        kernel) echo overlay ;;
        fuse) echo fuse.fuse-overlayfs ;;
        esac
}

# Runs csand with the token also in its environment, so that the
# fuse-overlayfs daemons (which inherit csand's environment) are found by
# the common leftover-process check.
ovl() {
        CSAND_TEST_TOKEN=$CSAND_TOKEN csand_min --unshare-pid --proc /proc "$@"
}

# fstype of mount point MP in the mountinfo text on stdin
fstype_at() {
        awk -v mp="$1" '$5 == mp { for (i = 7; i <= NF; i++) if ($i == "-") { t = $(i + 1); break } } END { print t }'
}

is_whiteout() {
        [ -c "$1" ] && [ "$(stat -c '%t:%T' "$1")" = 0:0 ]
}

xattr_of() {
        python3 -c 'import os, sys
try:
    print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())
except OSError:
    pass' "$1" "$2"
}

lowers_untouched() {
        assert_equal "$(cat "$L1/a")" one
        assert_equal "$(cat "$L1/dir/sub/f")" lower-dir-file
        assert_equal "$(cat "$L2/b")" two
        assert_equal "$(ls -A "$L1" | tr '\n' ' ')" "a dir shadowed "
        assert_equal "$(ls -A "$L2" | tr '\n' ' ')" "b shadowed "
}

# --- writes, whiteouts, opaque directories ------------------------------------

check_rw() {
        local driver=$1
        require_driver "$driver"
        run ovl --overlay-driver "$driver" --overlay-src "$L1" --overlay-src "$L2" --overlay "$UP" "$WK" /m \
                -- sh -c 'cat /m/a /m/b /m/shadowed /m/dir/sub/f && echo new > /m/new && echo changed > /m/a &&
                          rm /m/b && rm -rf /m/dir && mkdir /m/dir && echo fresh > /m/dir/g &&
                          ls -A /m/dir && cat /proc/self/mountinfo'
        assert_success
        # the last --overlay-src is the top layer
        assert_line --index 0 one
        assert_line --index 1 two
        assert_line --index 2 from-l2
        assert_line --index 3 lower-dir-file
        assert_line --index 4 g
        assert_equal "$(fstype_at /m <<<"$output")" "$(fstype_for "$driver")"

        # the changes are in RWSRC ...
        assert_equal "$(cat "$UP/new")" new
        assert_equal "$(cat "$UP/a")" changed
        assert_equal "$(cat "$UP/dir/g")" fresh
        # ... deletions are whiteouts there ...
        is_whiteout "$UP/b" || fail "no 0/0 whiteout for b in the upper: $(ls -la "$UP")"
        # ... the re-created directory is opaque ...
        local opaque
        opaque=$(xattr_of "$UP/dir" user.overlay.opaque)$(xattr_of "$UP/dir" user.fuseoverlayfs.opaque)
        assert_equal "$opaque" y
        # ... and the lower layers are as they were
        lowers_untouched

        # a second run over the same RWSRC sees the first one's changes
        run ovl --overlay-driver "$driver" --overlay-src "$L1" --overlay-src "$L2" --overlay "$UP" "$WK" /m \
                -- sh -c 'ls -A /m | tr "\n" " "; echo; cat /m/a /m/new; ls -A /m/dir'
        assert_success
        assert_line --index 0 "a dir new shadowed "
        assert_line --index 1 changed
        assert_line --index 2 new
        assert_line --index 3 g
}

@test "--overlay (kernel): writes land in RWSRC, deletions are whiteouts, lowers untouched, persistent" {
        check_rw kernel
}

@test "--overlay (fuse): writes land in RWSRC, deletions are whiteouts, lowers untouched, persistent" {
        check_rw fuse
}

# --- --tmp-overlay ------------------------------------------------------------

check_tmp() {
        local driver=$1
        require_driver "$driver"
        local before
        before=$(cd "$TESTDIR" && find . -printf '%p %s %y\n' | sort)
        run ovl --overlay-driver "$driver" --overlay-src "$L1" --overlay-src "$L2" --tmp-overlay /m \
                -- sh -c 'echo x > /m/new && rm /m/a && rm -rf /m/dir && echo y >> /m/b && cat /m/new /m/b &&
                          ls -A /m | tr "\n" " " && echo && cat /proc/self/mountinfo'
        assert_success
        assert_line --index 0 x
        assert_line --index 1 two
        assert_line --index 2 y
        assert_line --index 3 "b new shadowed "
        assert_equal "$(fstype_at /m <<<"$output")" "$(fstype_for "$driver")"
        # no trace: the test directory is exactly as it was
        assert_equal "$(cd "$TESTDIR" && find . -printf '%p %s %y\n' | sort)" "$before"
        lowers_untouched
        # and nothing of the upper tmpfs is reachable inside (kernel
        # overlayfs' mount options name the path it had while mounting)
        run ovl --overlay-driver "$driver" --overlay-src "$L1" --tmp-overlay /m -- sh -c \
                'ls -A / /m && cut -d" " -f5 /proc/self/mountinfo'
        assert_success
        refute_output --partial csand
        refute_output --partial upper
}

@test "--tmp-overlay (kernel): writable, leaves no trace anywhere" {
        check_tmp kernel
}

@test "--tmp-overlay (fuse): writable, leaves no trace anywhere" {
        check_tmp fuse
}

# --- --ro-overlay -------------------------------------------------------------

check_ro() {
        local driver=$1
        require_driver "$driver"
        run ovl --overlay-driver "$driver" --overlay-src "$L1" --overlay-src "$L2" --ro-overlay /m \
                -- sh -c 'cat /m/a /m/b /m/shadowed; grep " /m " /proc/self/mountinfo; touch /m/new'
        assert_failure
        assert_line --index 0 one
        assert_line --index 1 two
        assert_line --index 2 from-l2
        assert_output --partial "Read-only file system"
        assert_equal "$(fstype_at /m <<<"$output")" "$(fstype_for "$driver")"
        run ovl --overlay-driver "$driver" --overlay-src "$L1" --overlay-src "$L2" --ro-overlay /m -- rm /m/a
        assert_failure
        assert_output --partial "Read-only file system"
        lowers_untouched
}

@test "--ro-overlay (kernel): writes fail with EROFS" {
        check_ro kernel
}

@test "--ro-overlay (fuse): writes fail with EROFS" {
        check_ro fuse
}

# --- upper layer on ext4 and on tmpfs -----------------------------------------

check_upper_fs() {
        local driver=$1 fs=$2 base
        require_driver "$driver"
        if [ "$fs" = tmpfs ]; then
                require_feature "a writable tmpfs at /dev/shm" test -w /dev/shm
                SHM_DIR=$(mktemp -d /dev/shm/ovltest.XXXXXX)
                base=$SHM_DIR
        else
                base=$TESTDIR
        fi
        [ "$(stat -f -c %T "$base")" = "$( [ "$fs" = tmpfs ] && echo tmpfs || echo ext2/ext3)" ] ||
                require_feature "$fs for the upper layer" false
        mkdir -p "$base/u" "$base/w"
        run ovl --overlay-driver "$driver" --overlay-src "$L1" --overlay "$base/u" "$base/w" /m \
                -- sh -c 'echo on-'"$fs"' > /m/file && rm /m/a && rm -rf /m/dir && cat /m/file'
        assert_success
        assert_output "on-$fs"
        assert_equal "$(cat "$base/u/file")" "on-$fs"
        is_whiteout "$base/u/a" || fail "no whiteout for a on $fs"
        is_whiteout "$base/u/dir" || fail "no whiteout for dir on $fs"
        lowers_untouched
}

@test "upper layer on ext4 (kernel)" {
        check_upper_fs kernel ext4
}

@test "upper layer on ext4 (fuse)" {
        check_upper_fs fuse ext4
}

@test "upper layer on tmpfs (kernel)" {
        check_upper_fs kernel tmpfs
}

@test "upper layer on tmpfs (fuse)" {
        check_upper_fs fuse tmpfs
}

# --- the driver that auto picks ---------------------------------------------

@test "--overlay-driver auto (the default) uses kernel overlayfs here" {
        run ovl --overlay-src "$L1" --overlay "$UP" "$WK" /m -- cat /proc/self/mountinfo
        assert_success
        assert_equal "$(fstype_at /m <<<"$output")" overlay
        run ovl --overlay-driver auto --overlay-src "$L1" --tmp-overlay /m -- cat /proc/self/mountinfo
        assert_success
        assert_equal "$(fstype_at /m <<<"$output")" overlay
}

# The fuse-overlayfs supervisor (the process that starts the daemons, outside
# the sandbox) makes itself a subreaper, and nothing else of csand does:
# strace decodes prctl()'s arguments, from registers, although csand is not
# dumpable.
supervisor_started() {
        grep -c 'PR_SET_CHILD_SUBREAPER' "$1" || true
}

@test "--overlay-driver auto: no fuse-overlayfs supervisor is started when kernel overlayfs mounts" {
        require_feature "strace" command -v strace
        run strace -f -qq -e trace=prctl -o "$TESTDIR/trace" env CSAND_TEST_TOKEN="$CSAND_TOKEN" "$CSAND" \
                "${csand_min_root[@]}" --overlay-src "$L1" --tmp-overlay /m -- cat /m/a
        assert_success
        assert_output one
        assert_equal "$(supervisor_started "$TESTDIR/trace")" 0
        # the control: with fuse-overlayfs it is started, on the child's request
        require_driver fuse
        run strace -f -qq -e trace=prctl -o "$TESTDIR/trace-fuse" env CSAND_TEST_TOKEN="$CSAND_TOKEN" "$CSAND" \
                "${csand_min_root[@]}" --overlay-driver fuse --overlay-src "$L1" --tmp-overlay /m -- cat /m/a
        assert_success
        assert_output one
        assert_equal "$(supervisor_started "$TESTDIR/trace-fuse")" 1
}

@test "--overlay-src / --tmp-overlay /: a throw-away writable copy of the host root" {
        require_driver fuse
        local probe="/tmp/ovl-probe-$$-$RANDOM"
        # kernel overlayfs refuses / in a user namespace (mounts below it are
        # locked), so auto falls back to fuse-overlayfs; writes to root-owned
        # directories work (owners squashed to ours) and stay inside.
        run closefds env CSAND_TEST_TOKEN="$CSAND_TOKEN" "$CSAND" --overlay-src / --tmp-overlay / \
                --unshare-pid --proc /proc --dev /dev \
                -- sh -c "echo hello > $probe && cat $probe && mkdir -p /usr/local/ovl-probe && rm -rf /etc/apt &&
                          test ! -e /etc/apt && awk '\$5 == \"/\"' /proc/self/mountinfo | wc -l && awk '\$5 == \"/\"' /proc/self/mountinfo"
        assert_success
        assert_line --index 0 hello
        assert_line --index 1 1
        assert_output --partial "fuse.fuse-overlayfs"
        # the old root is gone from the sandbox's mount table
        refute_output --partial " ext4 "
        [ ! -e "$probe" ]
        [ ! -e /usr/local/ovl-probe ]
        [ -d /etc/apt ]
}
