#!/usr/bin/env bats
# --image bad input: one clear "csand: ..." line, exit status 1, and no
# cache entry (complete or half-written) for what was refused.

load ../lib/common
load ../lib/image

setup_file() {
        img_build_standard "$BATS_FILE_TMPDIR/oci" '{"Cmd":["true"]}' v1
        export IMG_OCI="$BATS_FILE_TMPDIR/oci" IMG_TOP_LAYER="$(tail -n1 <<<"${IMG_LAYERS%$'\n'}" | cut -d' ' -f1)"
}

setup() {
        common_setup
        SHM_DIR=
        require_userns
        export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache"
        IMG_WORK="$BATS_TEST_TMPDIR/w"
        IMG_BLOBS="$IMG_WORK/blobs" IMG_LAYERS=""
        mkdir -p "$IMG_WORK"
}

teardown() {
        [ -n "$SHM_DIR" ] && rm -rf "$SHM_DIR"
        common_teardown
}

# One clear line on stderr, exit 1.
assert_one_error() {
        assert_failure 1
        [ "${#lines[@]}" -eq 1 ] || fail "expected one line, got: $output"
        assert_output --regexp "^csand: .*$1"
}

assert_cache_empty() {
        local left
        left=$(ls -A "$XDG_CACHE_HOME/csand/layers" 2>/dev/null || true)
        [ -z "$left" ] || fail "cache entries left: $left"
}

# A one-layer image whose layer tar is written by python's tarfile from
# "kind name [target]" lines (file, dir, symlink, hardlink).
py_layer_image() {
        local out=$1 spec=$2 tarf="$IMG_WORK/evil.tar"
        python3 - "$tarf" "$spec" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for line in sys.argv[2].splitlines():
        kind, name, *rest = line.split()
        ti = tarfile.TarInfo(name)
        data = b""
        if kind == "file":
            data = b"pwned\n"; ti.size = len(data)
        elif kind == "dir":
            ti.type = tarfile.DIRTYPE; ti.mode = 0o755
        elif kind == "symlink":
            ti.type = tarfile.SYMTYPE; ti.linkname = rest[0]
        elif kind == "hardlink":
            ti.type = tarfile.LNKTYPE; ti.linkname = rest[0]
        t.addfile(ti, io.BytesIO(data))
PY
        local d
        d=$(img_sha "$tarf")
        mkdir -p "$IMG_BLOBS"
        mv "$tarf" "$IMG_BLOBS/$d"
        IMG_LAYERS="$d $(stat -c %s "$IMG_BLOBS/$d") application/vnd.oci.image.layer.v1.tar $d"$'\n'
        img_oci_write "$out" '{"Cmd":["true"]}' latest
}

@test "image errors: the image does not exist" {
        run csand --image "$BATS_TEST_TMPDIR/nothing:v1" true
        assert_one_error "Can't find image"
}

@test "image errors: a directory without index.json" {
        mkdir -p "$TESTDIR/empty"
        run csand --image "$TESTDIR/empty" true
        assert_one_error "not an OCI image layout: no index.json"
}

@test "image errors: an unknown tag lists the available ones" {
        run csand --image "$IMG_OCI:nope" true
        assert_one_error "no image tagged nope \(available: v1\)"
        # no tag given, and no "latest"... the only manifest is taken
        run csand --image "$IMG_OCI" true
        assert_success
}

@test "image errors: no manifest for this architecture" {
        cp -r "$IMG_OCI" "$TESTDIR/arch"
        local man f d
        man=$(grep -o '"digest":"sha256:[0-9a-f]*"' "$TESTDIR/arch/index.json" | cut -d: -f3 | tr -d '"')
        f="$TESTDIR/idx"
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":1,"platform":{"architecture":"s390x","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":1,"platform":{"architecture":"amd64","os":"windows"}}]}' "$man" "$man" >"$f"
        d=$(img_sha "$f")
        mv "$f" "$TESTDIR/arch/blobs/sha256/$d"
        printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":1,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' "$d" >"$TESTDIR/arch/index.json"
        run csand --image "$TESTDIR/arch:v1" true
        assert_one_error "no manifest for linux/.* \(available: linux/s390x, windows/amd64\)"
}

@test "image errors: a corrupted layer blob is detected, nothing is cached for it" {
        cp -r "$IMG_OCI" "$TESTDIR/bad"
        chmod -R u+w "$TESTDIR/bad"
        # same size, one byte different: the top layer is a plain tar
        printf 'X' | dd of="$TESTDIR/bad/blobs/sha256/$IMG_TOP_LAYER" bs=1 seek=600 conv=notrunc status=none
        run csand --image "$TESTDIR/bad:v1" true
        assert_one_error "digest mismatch for blob sha256:$IMG_TOP_LAYER"
        run ls -A "$XDG_CACHE_HOME/csand/layers"
        refute_output --partial "$IMG_TOP_LAYER"
        refute_output --partial ".tmp-"
}

@test "image errors: a corrupted config is detected" {
        cp -r "$IMG_OCI" "$TESTDIR/badcfg"
        chmod -R u+w "$TESTDIR/badcfg"
        local cfg
        cfg=$(csand --image-info "$TESTDIR/badcfg:v1" | sed -n 's/^config: sha256://p')
        echo ' ' >>"$TESTDIR/badcfg/blobs/sha256/$cfg"
        run csand --image "$TESTDIR/badcfg:v1" true
        assert_one_error "digest mismatch for blob sha256:$cfg"
}

@test "image errors: an unsupported layer media type" {
        printf 'x' >"$IMG_WORK/l"
        mkdir -p "$IMG_BLOBS"
        local d
        d=$(img_blob "$IMG_WORK/l")
        IMG_LAYERS="$d 1 application/vnd.oci.image.layer.v1.tar+bzip2 $d"$'\n'
        img_oci_write "$TESTDIR/mt" '{"Cmd":["true"]}' latest
        run csand --image "$TESTDIR/mt" true
        assert_one_error "unsupported layer media type application/vnd.oci.image.layer.v1.tar\+bzip2"
        assert_cache_empty
}

@test "image errors: a layer with ../ paths is refused, nothing written outside" {
        py_layer_image "$TESTDIR/dotdot" "dir a
file a/../../escaped"
        run csand --image "$TESTDIR/dotdot" true
        assert_one_error "refusing path a/../../escaped outside the layer"
        assert_cache_empty
        [ ! -e "$XDG_CACHE_HOME/csand/escaped" ] && [ ! -e "$XDG_CACHE_HOME/escaped" ]
}

@test "image errors: absolute paths and hard links out of the layer are refused" {
        py_layer_image "$TESTDIR/abs" "file /etc/evil"
        run csand --image "$TESTDIR/abs" true
        assert_one_error "refusing path /etc/evil outside the layer"
        IMG_BLOBS="$IMG_WORK/blobs2"
        py_layer_image "$TESTDIR/hl" "hardlink x ../../../etc/passwd"
        run csand --image "$TESTDIR/hl" true
        assert_one_error "refusing hard link x to ../../../etc/passwd outside the layer"
        assert_cache_empty
}

@test "image errors: writing through a symlink in the layer is refused" {
        mkdir -p "$TESTDIR/target"
        py_layer_image "$TESTDIR/sym" "symlink esc $TESTDIR/target
file esc/pwned"
        run csand --image "$TESTDIR/sym" true
        assert_one_error "refusing esc/pwned"
        [ ! -e "$TESTDIR/target/pwned" ]
        assert_cache_empty
        IMG_BLOBS="$IMG_WORK/blobs2"
        py_layer_image "$TESTDIR/sym2" "symlink up ..
file up/pwned"
        run csand --image "$TESTDIR/sym2" true
        assert_one_error "refusing up/pwned"
        assert_cache_empty
}

@test "image errors: a docker save tarball without manifest.json" {
        tar -C "$IMG_OCI" -cf "$TESTDIR/notdocker.tar" oci-layout
        run csand --image "$TESTDIR/notdocker.tar" true
        assert_one_error "no manifest.json in the tarball"
}

@test "image errors: --image-cache-prune removes leftovers of an interrupted unpack" {
        mkdir -p "$XDG_CACHE_HOME/csand/layers/.tmp-sha256-dead-0000/sub"
        chmod 0555 "$XDG_CACHE_HOME/csand/layers/.tmp-sha256-dead-0000/sub"
        # and of a record of a resolved image being written
        echo half >"$XDG_CACHE_HOME/csand/layers/.tmp-image-0000"
        run csand --image-cache-prune
        assert_success
        assert_cache_empty
}

@test "image errors: --image-overlay without --image" {
        mkdir -p "$TESTDIR/up" "$TESTDIR/wk"
        run csand --image-overlay "$TESTDIR/up" "$TESTDIR/wk" true
        assert_one_error "--image-overlay requires --image$"
        run csand --image-overlay "$TESTDIR/up" "$TESTDIR/wk"
        assert_one_error "--image-overlay requires --image$"
        run csand --image-cache-list --image-overlay "$TESTDIR/up" "$TESTDIR/wk"
        assert_one_error "--image-overlay requires --image$"
        run csand --image "$IMG_OCI:v1" --image-overlay "$TESTDIR/up"
        assert_one_error "--image-overlay takes two arguments$"
        [ -z "$(find "$TESTDIR/up" "$TESTDIR/wk" -mindepth 1)" ] || fail "RWSRC or WORKDIR written to"
        assert_cache_empty
}

@test "image errors: --image-overlay with a missing or non-directory RWSRC or WORKDIR" {
        mkdir -p "$TESTDIR/up" "$TESTDIR/wk"
        : >"$TESTDIR/file"
        run csand --image "$IMG_OCI:v1" --image-overlay "$TESTDIR/nope" "$TESTDIR/wk" true
        assert_one_error "Can't open --image-overlay RWSRC $TESTDIR/nope: No such file or directory$"
        run csand --image "$IMG_OCI:v1" --image-overlay "$TESTDIR/up" "$TESTDIR/nope" true
        assert_one_error "Can't open --image-overlay WORKDIR $TESTDIR/nope: No such file or directory$"
        run csand --image "$IMG_OCI:v1" --image-overlay "$TESTDIR/file" "$TESTDIR/wk" true
        assert_one_error "RWSRC $TESTDIR/file: Not a directory$"
        # nothing was created or written, and no layer was unpacked
        [ ! -e "$TESTDIR/nope" ] || fail "$TESTDIR/nope was created"
        [ -z "$(find "$TESTDIR/up" "$TESTDIR/wk" -mindepth 1)" ] || fail "RWSRC or WORKDIR written to"
        assert_cache_empty
}

@test "image errors: --image-overlay WORKDIR on another filesystem than RWSRC" {
        require_feature "a writable tmpfs at /dev/shm" test -w /dev/shm
        [ "$(stat -f -c %T /dev/shm)" != "$(stat -f -c %T "$TESTDIR")" ] ||
                require_feature "/dev/shm and $TESTDIR on different filesystems" false
        SHM_DIR=$(mktemp -d /dev/shm/imgovl.XXXXXX)
        mkdir -p "$TESTDIR/up"
        local driver
        for driver in auto kernel fuse; do
                # (the token in csand's environment reaches fuse-overlayfs too)
                CSAND_TEST_TOKEN=$CSAND_TOKEN run csand --overlay-driver "$driver" --image "$IMG_OCI:v1" \
                        --image-overlay "$TESTDIR/up" "$SHM_DIR" true
                assert_one_error "WORKDIR $SHM_DIR is not on the same filesystem .*RWSRC $TESTDIR/up"
        done
        [ -z "$(find "$TESTDIR/up" "$SHM_DIR" -mindepth 1)" ] || fail "RWSRC or WORKDIR written to"
}
