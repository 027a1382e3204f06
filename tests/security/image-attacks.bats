#!/usr/bin/env bats
# Attacks through container images and the layer cache (issue 15): a cache
# in a directory others can write, setuid bits in layers, FIFOs and devices
# where csand reads from the image; and valid layers
# that must unpack in tar order, the later entry winning. Each attack is a
# crafted image or cache made by the test, run from outside as a user
# would; each test fails on 554d816.

load ../lib/common
load ../lib/image

setup_file() {
        # The busybox userland as the first layer of every crafted image.
        export IMG_WORK="$BATS_FILE_TMPDIR/base" IMG_BLOBS="$BATS_FILE_TMPDIR/base/blobs" IMG_LAYERS=""
        mkdir -p "$IMG_WORK"
        img_busybox_layer "$IMG_WORK/bb"
        printf 'root:x:0:0:root:/root:/bin/sh\n' >"$IMG_WORK/bb/etc/passwd"
        img_add_layer "$IMG_WORK/bb" gzip
        export BASE_LAYERS=$IMG_LAYERS BASE_BLOBS=$IMG_BLOBS
        img_build_standard "$BATS_FILE_TMPDIR/std" '{"Cmd":["true"]}' latest
        export STD_OCI="$BATS_FILE_TMPDIR/std"
        export STD_TOP_LAYER="$(tail -n1 <<<"${IMG_LAYERS%$'\n'}" | cut -d' ' -f1)"
}

setup() {
        common_setup
        require_userns
        export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache"
        CLEAN_DIRS=()
}

teardown() {
        chmod -R u+rwx "$BATS_TEST_TMPDIR" 2>/dev/null || true
        # what an old csand created in a shared directory
        local d
        for d in "${CLEAN_DIRS[@]}"; do
                rm -rf "$d"
        done
        common_teardown
}

# attack_image OUT CONFIG SPEC...: an OCI layout with the busybox layer and
# a layer written from each SPEC (see img_py_layer in tests/lib/image.bash).
attack_image() {
        local out=$1 config=$2 spec
        shift 2
        IMG_WORK="$BATS_TEST_TMPDIR/img" IMG_BLOBS="$BATS_TEST_TMPDIR/img/blobs" IMG_LAYERS=$BASE_LAYERS
        mkdir -p "$IMG_BLOBS"
        cp "$BASE_BLOBS"/* "$IMG_BLOBS/"
        for spec; do
                img_py_layer "$spec"
        done
        img_oci_write "$out" "$config" latest
        ATTACK_LAYER=$(tail -n1 <<<"${IMG_LAYERS%$'\n'}" | cut -d' ' -f1)
}

# The layer cache of XDG_CACHE_HOME.
cache_layers_dir() {
        echo "$XDG_CACHE_HOME/csand/layers"
}

# ---- item 3: the cache must be the user's alone ----------------------------

@test "cache: created 0700, all of it, when missing" {
        export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/new/cache"
        run csand --image "$STD_OCI" true
        assert_success
        run stat -c '%a %U' "$BATS_TEST_TMPDIR/new" "$XDG_CACHE_HOME" "$XDG_CACHE_HOME/csand" "$XDG_CACHE_HOME/csand/layers"
        assert_output "700 $(id -un)
700 $(id -un)
700 $(id -un)
700 $(id -un)"
}

@test "cache: a layer planted in a cache others can write is refused, not run" {
        # Another user prepared the shared directory (here: mode 1777, like
        # /tmp) with the victim's cache in it, and the image's top layer.
        mkdir -m 1777 "$XDG_CACHE_HOME"
        mkdir -m 0777 -p "$XDG_CACHE_HOME/csand/layers/sha256-$STD_TOP_LAYER/etc"
        chmod 0777 "$XDG_CACHE_HOME/csand"
        echo planted >"$XDG_CACHE_HOME/csand/layers/sha256-$STD_TOP_LAYER/etc/motd"
        run --separate-stderr csand --image "$STD_OCI" cat /etc/motd
        assert_csand_error
        [[ "$msg" == *"Refusing the image cache in $XDG_CACHE_HOME: others can write to $XDG_CACHE_HOME "* ]] ||
                fail "unexpected message: $msg"
}

@test "cache: XDG_CACHE_HOME writable by others (0777, 1777, 0770) is refused, nothing created in it" {
        local mode
        for mode in 0777 1777 0770; do
                rm -rf "$XDG_CACHE_HOME"
                mkdir -m "$mode" "$XDG_CACHE_HOME"
                run --separate-stderr csand --image "$STD_OCI" true
                assert_csand_error
                assert_equal "$msg" "csand: Refusing the image cache in $XDG_CACHE_HOME: others can write to $XDG_CACHE_HOME (chmod go-w it, or set XDG_CACHE_HOME)"
                run ls -A "$XDG_CACHE_HOME"
                assert_output ""
        done
        # --image-info and the cache actions go through the same check
        run --separate-stderr csand --image-cache-list
        assert_csand_error
        run --separate-stderr csand --image-info "$STD_OCI"
        assert_csand_error
}

@test "cache: a directory that is not the user's (/tmp, /var/tmp) is refused" {
        require_unprivileged "root owns /tmp"
        local dir
        for dir in /tmp /var/tmp; do
                [ -e "$dir/csand" ] || CLEAN_DIRS+=("$dir/csand")
                XDG_CACHE_HOME=$dir run --separate-stderr csand --image "$STD_OCI" true
                assert_csand_error
                assert_equal "$msg" "csand: Refusing the image cache in $dir: $dir belongs to uid 0, not to you (set XDG_CACHE_HOME to a directory of yours)"
        done
        local d
        for d in "${CLEAN_DIRS[@]}"; do
                [ ! -e "$d" ] || fail "$d was created"
        done
}

@test "cache: a parent others can write (not sticky) is refused; csand's own directories too" {
        # Whoever can write the parent can rename the cache away and put
        # another in its place.
        mkdir -m 0777 "$BATS_TEST_TMPDIR/shared"
        mkdir -m 0700 "$BATS_TEST_TMPDIR/shared/cache"
        XDG_CACHE_HOME=$BATS_TEST_TMPDIR/shared/cache run --separate-stderr csand --image "$STD_OCI" true
        assert_csand_error
        [[ "$msg" == *": others can write to $BATS_TEST_TMPDIR/shared "* ]] || fail "unexpected message: $msg"
        # csand/ or csand/layers made writable by others
        mkdir -m 0700 "$XDG_CACHE_HOME"
        mkdir -m 0777 "$XDG_CACHE_HOME/csand"
        run --separate-stderr csand --image "$STD_OCI" true
        assert_csand_error
        [[ "$msg" == *": others can write to $XDG_CACHE_HOME/csand "* ]] || fail "unexpected message: $msg"
        chmod 0700 "$XDG_CACHE_HOME/csand"
        mkdir -m 0775 "$XDG_CACHE_HOME/csand/layers"
        run --separate-stderr csand --image "$STD_OCI" true
        assert_csand_error
        [[ "$msg" == *": others can write to $XDG_CACHE_HOME/csand/layers "* ]] || fail "unexpected message: $msg"
        chmod 0700 "$XDG_CACHE_HOME/csand/layers"
        run csand --image "$STD_OCI" true
        assert_success
}

@test "cache: a symlinked XDG_CACHE_HOME to a private directory works; the cache is in its target" {
        mkdir -m 0700 "$BATS_TEST_TMPDIR/real"
        ln -s real "$BATS_TEST_TMPDIR/link"
        XDG_CACHE_HOME=$BATS_TEST_TMPDIR/link run csand --image "$STD_OCI" cat /etc/motd
        assert_success
        assert_output "hello from layer 3"
        [ -d "$BATS_TEST_TMPDIR/real/csand/layers/sha256-$STD_TOP_LAYER" ] || fail "the layer is not in the symlink's target"
}

@test "cache: no setuid or setgid bit in the cache; the image's mode is kept in user.csand.mode" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' '
dir sgid-dir mode=2775
file sgid-dir/f mode=2755 data=x
file suid mode=4755 data=x
file both mode=6711 data=x
file sticky mode=1755 data=x'
        run csand --image "$BATS_TEST_TMPDIR/oci" stat -c '%n %a' /sgid-dir /sgid-dir/f /suid /both /sticky
        assert_success
        assert_output "/sgid-dir 775
/sgid-dir/f 755
/suid 755
/both 711
/sticky 1755"
        run find "$(cache_layers_dir)" -perm /6000
        assert_success
        assert_output ""
        local layer
        layer="$(cache_layers_dir)/sha256-$ATTACK_LAYER"
        run python3 -c 'import os, sys
for f in sys.argv[1:]:
    try:
        v = os.getxattr(f, "user.csand.mode").decode()
    except OSError:
        v = "-"
    print(os.path.basename(f), v)' "$layer/suid" "$layer/both" "$layer/sgid-dir/f" "$layer/sticky"
        assert_output "suid 4755
both 6711
f 2755
sticky -"
}

@test "cache: a layer cached with setuid bits by an older csand is unpacked anew" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' 'file suid mode=4755 data=x'
        run csand --image "$BATS_TEST_TMPDIR/oci" true
        assert_success
        local layer
        layer="$(cache_layers_dir)/sha256-$ATTACK_LAYER"
        # what 554d816 left: the bits, and no format mark
        chmod 4755 "$layer/suid"
        python3 -c 'import os, sys; os.removexattr(sys.argv[1], "user.csand.layer")' "$layer"
        run csand --image "$BATS_TEST_TMPDIR/oci" stat -c %a /suid
        assert_success
        assert_output 755
        run find "$(cache_layers_dir)" -perm /6000
        assert_output ""
        # the old copy is gone (nobody held it)
        run ls -A "$(cache_layers_dir)"
        refute_output --partial .trash-
}

# ---- item 6: crafted images must not hang csand --------------------------------
# Everything read from an image is opened non-blocking and checked to be a
# regular file before it is read. 554d816 blocked forever in open(2) on
# these FIFOs: csand runs under timeout(1) so that such a failure ends
# (generously: this bounds a hang, it measures nothing).

csand_bounded() {
        TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                timeout --kill-after=10 120 "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "$@"
}

@test "hang: a FIFO at etc/passwd in a layer is refused, not read" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' 'fifo etc/passwd'
        run --separate-stderr csand_bounded --image "$BATS_TEST_TMPDIR/oci" true
        assert_csand_error
        assert_equal "$msg" "csand: $BATS_TEST_TMPDIR/oci: /etc/passwd in the image is not a regular file"
        # the same for etc/group, read for a group name
        attack_image "$BATS_TEST_TMPDIR/oci2" '{"User":"0:wheel","Cmd":["true"]}' 'fifo etc/group'
        run --separate-stderr csand_bounded --image "$BATS_TEST_TMPDIR/oci2" true
        assert_csand_error
        assert_equal "$msg" "csand: $BATS_TEST_TMPDIR/oci2: /etc/group in the image is not a regular file"
}

@test "hang: a whiteout of etc/passwd hides the lower layer's, as in the sandbox" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"User":"root","Cmd":["true"]}' 'file etc/.wh.passwd'
        run --separate-stderr csand_bounded --image "$BATS_TEST_TMPDIR/oci" true
        assert_csand_error
        assert_equal "$msg" "csand: $BATS_TEST_TMPDIR/oci: user root not found in the image's /etc/passwd"
}

@test "hang: index.json, a blob, or the image itself as a FIFO is refused" {
        local oci="$BATS_TEST_TMPDIR/oci"
        attack_image "$oci" '{"Cmd":["true"]}' 'file x'
        cp -a "$oci" "$BATS_TEST_TMPDIR/oci-blob"
        rm "$oci/index.json"
        mkfifo "$oci/index.json"
        run --separate-stderr csand_bounded --image "$oci" true
        assert_csand_error
        assert_equal "$msg" "csand: $oci: index.json is not a regular file"
        run --separate-stderr csand_bounded --image-info "$oci"
        assert_csand_error
        # the manifest blob
        oci="$BATS_TEST_TMPDIR/oci-blob"
        rm "$oci/blobs/sha256/$IMG_MANIFEST"
        mkfifo "$oci/blobs/sha256/$IMG_MANIFEST"
        run --separate-stderr csand_bounded --image "$oci" true
        assert_csand_error
        assert_equal "$msg" "csand: $oci: blob sha256:$IMG_MANIFEST is not a regular file"
        # a FIFO given as the image (a docker save tarball is read once per blob)
        mkfifo "$BATS_TEST_TMPDIR/image.tar"
        run --separate-stderr csand_bounded --image "$BATS_TEST_TMPDIR/image.tar" true
        assert_csand_error
        assert_equal "$msg" "csand: Image $BATS_TEST_TMPDIR/image.tar is neither an OCI layout directory nor a docker save tarball (a regular file)"
        run --separate-stderr csand_bounded --image /dev/zero true
        assert_csand_error
        assert_equal "$msg" "csand: Image /dev/zero is neither an OCI layout directory nor a docker save tarball (a regular file)"
        run ls -A "$(cache_layers_dir)"
        assert_output ""
}

@test "hang: a layer blob larger than its descriptor says is refused, nothing cached" {
        IMG_WORK="$BATS_TEST_TMPDIR/img" IMG_BLOBS="$BATS_TEST_TMPDIR/img/blobs" IMG_LAYERS=$BASE_LAYERS
        mkdir -p "$IMG_BLOBS"
        cp "$BASE_BLOBS"/* "$IMG_BLOBS/"
        img_py_layer 'file big data=0123456789'
        local d size mt di
        read -r d size mt di <<<"$(tail -n1 <<<"${IMG_LAYERS%$'\n'}")"
        IMG_LAYERS="$BASE_LAYERS$d 100 $mt $di"$'\n'
        img_oci_write "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' latest
        [ "$size" -gt 100 ] || fail "the layer is only $size bytes"
        run --separate-stderr csand_bounded --image "$BATS_TEST_TMPDIR/oci" true
        assert_csand_error
        assert_equal "$msg" "csand: blob sha256:$d is larger than its descriptor says (100 bytes)"
        run ls -A "$(cache_layers_dir)"
        refute_output --partial "$d"
}

# ---- item 9: entries apply in tar order, the later one wins --------------------
# As containerd applies a layer: what is at a path goes when a later entry
# names it, except that a directory stays for a directory (which then only
# sets its mode). What an entry replaced had already hidden the lower
# layers' path, so a directory that comes after it hides them too.

@test "layers: a directory followed by a symlink of the same name" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' 'file a/lower data=lower' '
dir a mode=0700
file a/f data=f
symlink a target=b
dir b
file b/g data=g'
        run csand --image "$BATS_TEST_TMPDIR/oci" sh -c 'readlink /a; cat /a/g; echo; ls /b'
        assert_success
        assert_output "b
g
g"
}

@test "layers: a directory followed by a whiteout of itself" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' 'file a/lower data=lower' '
dir a
file a/new data=new
file .wh.a'
        run csand --image "$BATS_TEST_TMPDIR/oci" sh -c 'test -e /a && ls -la /a; ls /'
        assert_success
        refute_line a
        refute_output --partial lower
}

@test "layers: a directory given twice takes the later mode" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' '
dir d mode=0700
file d/f data=x
dir d mode=0751'
        run csand --image "$BATS_TEST_TMPDIR/oci" stat -c %a /d
        assert_success
        assert_output 751
}

@test "layers: a whiteout, or a symlink, then a directory of that name hides the lower layers' directory" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' '
file w/lower data=lower
file s/lower data=lower' '
file .wh.w
dir w
file w/new data=new
symlink s target=elsewhere
dir s
file s/new data=new'
        local driver
        for driver in kernel fuse; do
                run csand --overlay-driver "$driver" --image "$BATS_TEST_TMPDIR/oci" sh -c 'ls /w; ls /s'
                assert_success
                assert_output "new
new"
        done
}

@test "layers: a whiteout in an opaque directory removes this layer's entry too" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' 'file o/lower data=lower' '
dir o
file o/.wh..wh..opq
file o/x data=x
file o/.wh.x
file o/y data=y'
        run csand --image "$BATS_TEST_TMPDIR/oci" ls -A /o
        assert_success
        assert_output y
}

@test "layers: a file replaced by a later file, a symlink by a directory, a file by a FIFO" {
        attack_image "$BATS_TEST_TMPDIR/oci" '{"Cmd":["true"]}' '
file f data=one
file f data=two
symlink l target=f
dir l
file l/in data=in
file p data=x
fifo p'
        run csand --image "$BATS_TEST_TMPDIR/oci" sh -c 'cat /f; echo; ls /l; test -p /p && echo fifo'
        assert_success
        assert_output "two
in
fifo"
}
