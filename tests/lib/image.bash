# Building small container images for the image-*.bats tests: OCI image
# layouts and `docker save` tarballs, written with tar, gzip, zstd,
# sha256sum and JSON by hand.  The userland is the host's busybox with
# the libraries it links, so that the images are self-contained.
#
#   img_layer_start NAME           staging dir $IMG_STAGE/NAME (fill it)
#   img_layer_pack NAME none|gzip|zstd   -> blob in $IMG_BLOBS, sets
#                                  LAYER_DIGEST, LAYER_DIFFID, LAYER_SIZE, LAYER_MT
#   img_oci DIR CONFIG_JSON_CONFIG_PART TAG LAYER...   an OCI layout
#   img_busybox_layer DIR          the busybox userland into DIR

: "${IMG_ARCH:=$(case "$(uname -m)" in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac)}"

img_sha() {
        sha256sum "$1" | cut -d' ' -f1
}

# busybox and its shared libraries, with applet links in /bin.
img_busybox_layer() {
        local dir=$1 lib applet
        mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/proc" "$dir/dev"
        cp /usr/bin/busybox "$dir/bin/busybox"
        for lib in $(ldd /usr/bin/busybox | grep -o '/[^ ]*'); do
                mkdir -p "$dir$(dirname "$lib")"
                cp -L "$lib" "$dir$lib"
        done
        for applet in sh ls cat echo id env pwd stat readlink test true false sleep touch rm mkdir grep wc; do
                ln -s busybox "$dir/bin/$applet"
        done
}

# tar of a staging directory (deterministic), compressed, into $IMG_BLOBS.
img_layer_pack() {
        local stage=$1 comp=$2 tarf
        tarf=$(mktemp "$IMG_WORK/layer.XXXXXX")
        tar -C "$stage" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$tarf" .
        LAYER_DIFFID=$(img_sha "$tarf")
        case "$comp" in
        none) LAYER_MT=application/vnd.oci.image.layer.v1.tar ;;
        gzip) gzip -n "$tarf" && mv "$tarf.gz" "$tarf"; LAYER_MT=application/vnd.oci.image.layer.v1.tar+gzip ;;
        zstd) zstd -q --rm "$tarf" -o "$tarf.zst" && mv "$tarf.zst" "$tarf"; LAYER_MT=application/vnd.oci.image.layer.v1.tar+zstd ;;
        esac
        LAYER_DIGEST=$(img_sha "$tarf")
        LAYER_SIZE=$(stat -c %s "$tarf")
        mkdir -p "$IMG_BLOBS"
        mv "$tarf" "$IMG_BLOBS/$LAYER_DIGEST"
}

# img_blob FILE: moves FILE into $IMG_BLOBS, prints its digest.
img_blob() {
        local d
        d=$(img_sha "$1")
        mv "$1" "$IMG_BLOBS/$d"
        echo "$d"
}

# img_oci_write DIR CONFIG_PART TAG: an OCI layout in DIR from the layers
# packed so far (IMG_LAYERS: "digest size mediatype diffid" lines).
img_oci_write() {
        local dir=$1 cfgpart=$2 tag=$3 f cfg man ls="" ds="" d s mt di
        while read -r d s mt di; do
                [ -n "$d" ] || continue
                ls+="${ls:+,}{\"mediaType\":\"$mt\",\"digest\":\"sha256:$d\",\"size\":$s}"
                ds+="${ds:+,}\"sha256:$di\""
        done <<<"$IMG_LAYERS"
        f=$(mktemp "$IMG_WORK/cfg.XXXXXX")
        printf '{"architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]}}' \
                "$IMG_ARCH" "$cfgpart" "$ds" >"$f"
        local cs
        cs=$(stat -c %s "$f")
        cfg=$(img_blob "$f")
        f=$(mktemp "$IMG_WORK/man.XXXXXX")
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
                "$cfg" "$cs" "$ls" >"$f"
        local ms
        ms=$(stat -c %s "$f")
        man=$(img_blob "$f")
        mkdir -p "$dir/blobs/sha256"
        cp "$IMG_BLOBS"/* "$dir/blobs/sha256/"
        echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
                "$man" "$ms" "$IMG_ARCH" "$tag" >"$dir/index.json"
        IMG_MANIFEST=$man IMG_CONFIG=$cfg
}

img_add_layer() {
        img_layer_pack "$1" "$2"
        IMG_LAYERS+="$LAYER_DIGEST $LAYER_SIZE $LAYER_MT $LAYER_DIFFID"$'\n'
}

# The standard three-layer test image:
#   1 (gzip)  busybox userland, /etc/passwd, /data/{keep,gone}, /opq/{old1,old2}
#   2 (zstd)  whiteout of /data/gone, /opq opaque with /opq/new, /data/added
#             and a hard link /data/hl to it, a symlink /data/link
#   3 (tar)   /etc/motd
img_build_standard() {
        local out=$1 cfgpart=$2 tag=${3:-latest}
        IMG_WORK=$(mktemp -d "$BATS_FILE_TMPDIR/imgwork.XXXXXX")
        IMG_BLOBS="$IMG_WORK/blobs" IMG_LAYERS=""
        local s1="$IMG_WORK/s1" s2="$IMG_WORK/s2" s3="$IMG_WORK/s3"
        img_busybox_layer "$s1"
        printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345:App:/home/app:/bin/sh\n' >"$s1/etc/passwd"
        printf 'root:x:0:\nappgrp:x:2345:\nother:x:3456:\n' >"$s1/etc/group"
        mkdir -p "$s1/data" "$s1/opq" "$s1/home/app" "$s1/root"
        echo keep >"$s1/data/keep"
        echo gone >"$s1/data/gone"
        echo old1 >"$s1/opq/old1"
        echo old2 >"$s1/opq/old2"
        chmod 4755 "$s1/data/keep"
        img_add_layer "$s1" gzip
        mkdir -p "$s2/data" "$s2/opq"
        : >"$s2/data/.wh.gone"
        : >"$s2/opq/.wh..wh..opq"
        echo new >"$s2/opq/new"
        echo added >"$s2/data/added"
        ln "$s2/data/added" "$s2/data/hl"
        ln -s added "$s2/data/link"
        img_add_layer "$s2" zstd
        mkdir -p "$s3/etc"
        echo "hello from layer 3" >"$s3/etc/motd"
        img_add_layer "$s3" none
        img_oci_write "$out" "$cfgpart" "$tag"
}

# docker save format from the same layers: manifest.json, <config>.json,
# <n>/layer.tar (uncompressed), as a tarball at OUT.
img_docker_save() {
        local oci=$1 out=$2 tagref=$3 d stage layers="" i=0 cfg
        stage=$(mktemp -d "$IMG_WORK/docker.XXXXXX")
        cp "$oci/blobs/sha256/$IMG_CONFIG" "$stage/$IMG_CONFIG.json"
        while read -r d _ mt _; do
                [ -n "$d" ] || continue
                i=$((i + 1))
                mkdir -p "$stage/$i"
                case "$mt" in
                *gzip) gzip -dc "$oci/blobs/sha256/$d" >"$stage/$i/layer.tar" ;;
                *zstd) zstd -qdc "$oci/blobs/sha256/$d" >"$stage/$i/layer.tar" ;;
                *) cp "$oci/blobs/sha256/$d" "$stage/$i/layer.tar" ;;
                esac
                layers+="${layers:+,}\"$i/layer.tar\""
        done <<<"$IMG_LAYERS"
        printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$IMG_CONFIG" "$tagref" "$layers" >"$stage/manifest.json"
        tar -C "$stage" -cf "$out" .
}

# img_py_layer SPEC: a layer (plain tar) written by python's tarfile in the
# order of SPEC's lines, appended to IMG_LAYERS. Each line:
#   KIND NAME [mode=OCTAL] [data=TEXT] [target=PATH]
# KIND is file, dir, symlink, hardlink or fifo; NAME, TEXT and PATH take
# python's backslash escapes (\x1b, \u009b, \n, \\) and no spaces (\x20).
img_py_layer() {
        local spec=$1 tarf
        tarf=$(mktemp "$IMG_WORK/pylayer.XXXXXX")
        python3 - "$tarf" "$spec" <<'PY'
import io, sys, tarfile
def unesc(s):
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape")
kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}
with open(sys.argv[1], "wb") as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
    for line in sys.argv[2].splitlines():
        if not line.strip():
            continue
        kind, name, *rest = line.split()
        opts = dict(r.split("=", 1) for r in rest)
        ti = tarfile.TarInfo(unesc(name))
        ti.type = kinds[kind]
        ti.mode = int(opts.get("mode", "755" if kind == "dir" else "644"), 8)
        ti.linkname = unesc(opts.get("target", ""))
        data = unesc(opts.get("data", "")).encode("latin-1") if kind == "file" else b""
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
PY
        local d
        d=$(img_sha "$tarf")
        mkdir -p "$IMG_BLOBS"
        mv "$tarf" "$IMG_BLOBS/$d"
        IMG_LAYERS+="$d $(stat -c %s "$IMG_BLOBS/$d") application/vnd.oci.image.layer.v1.tar $d"$'\n'
}
