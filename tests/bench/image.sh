#!/bin/bash
# SPDX-License-Identifier: LGPL-2.0-or-later
#
# Container image benchmark (issue 11; ARCHITECTURE.md, "Benchmarks"): the first run of an
# image (layers unpacked into an empty cache) and the cached run, against
# rootless podman on the same image when podman is installed and usable,
# interleaved, as ratios from one run.
#
#   tests/bench/image.sh [BUILD_DIR]        (default BUILD_DIR: build)
#
# The image is built once and kept in $CSAND_BENCH_IMAGE_STORE (default
# BUILD_DIR/tests/bench/image): a `debootstrap --variant=minbase` Debian
# root split into four gzip layers, written as an OCI layout. debootstrap
# needs root and the network; without them the layers come from host
# directories instead (libraries, binaries, /etc), and the output says
# which. An unprivileged run reuses a debootstrap image that root built.
#
# As with run.sh, csand (and podman) are measured as an unprivileged user:
# started as root, the script builds the image and then drops to
# $CSAND_BENCH_USER (default csandtest) for the measurements.
#
# Environment:
#   CSAND, CSAND_BENCH_TIMER   binaries to use (set by meson's benchmark();
#                       when CSAND is set nothing is built)
#   CSAND_BENCH_IMAGE_STORE    where the image is kept between runs
#   CSAND_BENCH_IMAGE_SOURCE   auto (default), debootstrap or host
#   CSAND_BENCH_IMAGE_SUITE, CSAND_BENCH_IMAGE_MIRROR   for debootstrap
#                       (default bookworm from http://deb.debian.org/debian)
#   CSAND_BENCH_IMAGE_ROUNDS   rounds (default 5): one first run of each
#                       tool per round
#   CSAND_BENCH_IMAGE_CACHED   cached runs of each tool per round (default 20)
#   CSAND_BENCH_QUICK=1 3 rounds of 5 cached runs
#   CSAND_BENCH_USER, CSAND_BENCH_NICE   as for run.sh
#   PODMAN              podman to compare with (default: podman in PATH;
#                       absent or not working: its rows are left out)
#   CSAND_BENCH_PODMAN_DRIVER  podman's storage driver (default overlay)
#   TMPDIR              where the caches and podman's storage go during the
#                       run (default /var/tmp); removed at the end
#
# It reports; it never fails on a slow number, only when a command fails.
set -euo pipefail

die() {
        echo "bench: $*" >&2
        exit 1
}

say() {
        echo "bench: $*" >&2
}

script=$(readlink -f "${BASH_SOURCE[0]}")
TAG=bench
# Bumped when the way the image is made changes: older images are not reused.
IMAGE_VERSION=1

# ---------------------------------------------------------------------------
# The image: built once, as root from debootstrap or as anyone from host
# directories, into STORE/SOURCE/{oci,meta}.
# ---------------------------------------------------------------------------

# pack_layer ROOT LIST NAME [TAR_ARGS...]: the entries in LIST (paths
# relative to ROOT, one a line, not recursed) as a gzip layer in $blobs;
# appends "digest size diffid" to $layers and the layer's counts to $meta.
pack_layer() {
        local root=$1 list=$2 name=$3 tarf entries files bytes diffid digest
        shift 3
        tarf=$work_img/layer.tar
        LC_ALL=C sort -u -o "$list" "$list"
        tar -C "$root" --no-recursion --numeric-owner "$@" -cf "$tarf" -T "$list"
        # entries, regular files and their bytes (hard links are "h", not "-")
        read -r entries files bytes < <(tar -tvf "$tarf" |
                awk '{ n++ } /^-/ { f++; s += $3 } END { printf "%d %d %d\n", n, f, s }')
        diffid=$(sha256sum "$tarf" | cut -d' ' -f1)
        echo "layer $name entries=$entries files=$files file_bytes=$bytes tar_bytes=$(stat -c %s "$tarf")" >>"$meta"
        gzip -n "$tarf"
        digest=$(sha256sum "$tarf.gz" | cut -d' ' -f1)
        echo "$digest $(stat -c %s "$tarf.gz") $diffid" >>"$layers"
        mv "$tarf.gz" "$blobs/$digest"
        say "  layer $name: $entries entries, $((bytes / 1000000)) MB of files"
}

# blob FILE: moves FILE into $blobs, prints its digest.
blob() {
        local d
        d=$(sha256sum "$1" | cut -d' ' -f1)
        mv "$1" "$blobs/$d"
        echo "$d"
}

# write_oci DIR: the OCI layout (config, manifest, index) for $layers.
write_oci() {
        local dir=$1 ls="" ds="" d s di cfg cs man ms
        while read -r d s di; do
                ls+="${ls:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$s}"
                ds+="${ds:+,}\"sha256:$di\""
        done <"$layers"
        printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/bash"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
                "$ds" >"$work_img/config"
        cs=$(stat -c %s "$work_img/config")
        cfg=$(blob "$work_img/config")
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
                "$cfg" "$cs" "$ls" >"$work_img/manifest"
        ms=$(stat -c %s "$work_img/manifest")
        man=$(blob "$work_img/manifest")
        echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
                "$man" "$ms" "$TAG" >"$dir/index.json"
}

# top_layer: a small last layer as images have (a change on top of the
# base): a whiteout of /etc/motd and a new file.
top_layer() {
        local top=$work_img/top
        mkdir -p "$top/etc"
        : >"$top/etc/.wh.motd"
        echo "csand image benchmark" >"$top/etc/csand-bench"
        printf './etc\n./etc/.wh.motd\n./etc/csand-bench\n' >"$work_img/list.top"
        pack_layer "$top" "$work_img/list.top" top --owner=0 --group=0
}

# layers_debootstrap ROOT: usr/lib | the rest of usr and the /bin-style
# links | etc, var and the other top-level directories | top.
layers_debootstrap() {
        local r=$1
        (cd "$r" && {
                echo ./usr
                find ./usr/lib ./usr/lib64 2>/dev/null || true
        }) >"$work_img/list.lib"
        (cd "$r" && {
                find ./usr \( -path ./usr/lib -o -path ./usr/lib64 \) -prune -o -print
                find . -mindepth 1 -maxdepth 1 -type l
        }) >"$work_img/list.usr"
        # /dev, /proc and /sys as empty directories: debootstrap may leave
        # device nodes in /dev, which an image does not carry. Without the
        # downloaded .debs and apt's package lists (~100 MB), as Debian's
        # official images are made.
        (cd "$r" && {
                find . -mindepth 1 -maxdepth 1 -type d ! -name usr ! -name dev ! -name proc ! -name sys \
                        -exec find {} +
                printf './dev\n./proc\n./sys\n'
        } | grep -vE '^\./var/cache/apt/(archives/.*\.deb|.*\.bin)$|^\./var/lib/apt/lists/[^/]*_') >"$work_img/list.etc"
        pack_layer "$r" "$work_img/list.lib" usr-lib
        pack_layer "$r" "$work_img/list.usr" usr-bin-share
        pack_layer "$r" "$work_img/list.etc" etc-var
        top_layer
}

# layers_host: the same split from the host's own files, a subset of about
# the size of the debootstrap image: shared libraries under 256 KiB (plus
# those the shells and coreutils need), /usr/bin programs under 512 KiB and
# /usr/sbin, the readable part of /etc and the usual empty directories.
# Only what the user can read; owned by root in the image.
layers_host() {
        local libs l
        libs=$(ldd /usr/bin/bash /usr/bin/ls /usr/bin/true /usr/bin/dash 2>/dev/null |
                awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ { print $1 }' | sort -u || true)
        readable() { # readable PATH FIND_ARGS...: what the user can read below PATH
                local p=$1
                shift
                find "$p" \( -type d ! \( -readable -executable \) -prune \) -o \
                        \( -readable \( -type f -o -type l -o -type d \) "$@" -print \) 2>/dev/null || true
        }
        (cd / && {
                printf './usr\n./usr/lib\n'
                readable ./usr/lib/x86_64-linux-gnu -maxdepth 1 \( -type l -o -type d -o -size -256k \)
                readable ./usr/lib64
                for l in $libs; do
                        echo ".$l"
                        echo ".$(readlink -f "$l")"
                done | sed 's,^\./lib,./usr/lib,'
        }) >"$work_img/list.lib"
        (cd / && {
                readable ./usr/bin \( -type l -o -type d -o -size -512k \)
                readable ./usr/sbin
                for l in bin sbin lib lib64; do
                        if [[ -L /$l ]]; then echo "./$l"; fi
                done
        }) >"$work_img/list.usr"
        # /etc copied into a staging directory with the empty ones: the
        # host's /root and such are not the user's to read.
        local st=$work_img/etc-var
        mkdir -p "$st"/{root,tmp,var/tmp,dev,proc,sys,run}
        chmod 700 "$st/root"
        chmod 1777 "$st/tmp" "$st/var/tmp"
        (cd / && readable ./etc) >"$work_img/list.etc-src"
        tar -C / --no-recursion -cf - -T "$work_img/list.etc-src" | tar -C "$st" -xf -
        (cd "$st" && find . -mindepth 1) >"$work_img/list.etc"
        pack_layer / "$work_img/list.lib" usr-lib --owner=0 --group=0
        pack_layer / "$work_img/list.usr" usr-bin-share --owner=0 --group=0
        pack_layer "$st" "$work_img/list.etc" etc-var --owner=0 --group=0
        top_layer
}

# build_image SOURCE DEST: builds the image into a temporary directory next
# to DEST and renames it into place, so that an interrupted build leaves
# nothing half-made. Run it in a subshell with errexit in force (see
# pick_image); it exits non-zero, with the reason on stderr, if it cannot.
build_image() {
        local src=$1 dest=$2
        tmp=$(mktemp -d "$(dirname "$dest")/.build.XXXXXX")
        # the subshell's own trap (the debootstrap root is ~200 MB); tmp is
        # not local: the trap runs after the function has returned
        trap 'rm -rf -- "$tmp"' EXIT
        work_img=$tmp/work blobs=$tmp/image/oci/blobs/sha256 layers=$tmp/work/layers meta=$tmp/image/meta
        mkdir -p "$work_img" "$blobs"
        case $src in
        debootstrap)
                local suite=${CSAND_BENCH_IMAGE_SUITE:-bookworm}
                local mirror=${CSAND_BENCH_IMAGE_MIRROR:-http://deb.debian.org/debian}
                say "building the image: debootstrap --variant=minbase $suite from $mirror (once; a minute or two)"
                if ! /usr/sbin/debootstrap --variant=minbase "$suite" "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
                        say "debootstrap failed: $(tail -n 3 "$tmp/debootstrap.log" | tr '\n' ' ')"
                        exit 1
                fi
                echo "source=debootstrap desc=Debian $suite minbase (debootstrap)" >"$meta"
                layers_debootstrap "$tmp/root"
                ;;
        host)
                say "building the image from host directories (once)"
                echo "source=host desc=host directories (libraries, /usr/bin, /usr/sbin, /etc of $(. /etc/os-release && echo "$PRETTY_NAME"))" >"$meta"
                layers_host
                ;;
        esac
        write_oci "$tmp/image/oci"
        chmod -R a+rX "$tmp/image"
        mv -T "$tmp/image" "$dest" 2>/dev/null || true # a parallel build may have won
}

# try_build SOURCE DEST: build_image in a subshell where errexit works; sets
# $built to its exit status. (Called from an if or ||, errexit would be off
# in all of it, and a failing tar would go unnoticed.)
try_build() {
        set +e
        (
                set -e
                build_image "$@"
        )
        built=$?
        set -e
}

# pick_image STORE: sets IMAGE_DIR to the image to use, building it first if
# needed, and IMAGE_NOTE to why it is not a debootstrap one. auto: a
# debootstrap image if there is one, or if root can build it; else one from
# host directories.
IMAGE_DIR='' IMAGE_NOTE=''
pick_image() {
        local store=$1 want=${CSAND_BENCH_IMAGE_SOURCE:-auto} built
        mkdir -p "$store"
        case $want in
        auto | debootstrap | host) ;;
        *) die "CSAND_BENCH_IMAGE_SOURCE=$want: auto, debootstrap or host" ;;
        esac
        local deb=$store/debootstrap-v$IMAGE_VERSION host=$store/host-v$IMAGE_VERSION
        if [[ $want != host ]]; then
                if [[ -f $deb/oci/index.json ]]; then
                        IMAGE_DIR=$deb
                        return
                fi
                local why=
                if [[ $(id -u) != 0 ]]; then
                        why="debootstrap needs root"
                elif [[ ! -x /usr/sbin/debootstrap ]]; then
                        why="/usr/sbin/debootstrap is not installed"
                else
                        try_build debootstrap "$deb"
                        if [[ $built == 0 ]]; then
                                IMAGE_DIR=$deb
                                return
                        fi
                        why="debootstrap failed"
                fi
                [[ $want == auto ]] || die "no debootstrap image in $deb and none can be built: $why"
                say "no debootstrap image ($why): using host directories"
                IMAGE_NOTE="no debootstrap image: $why"
        else
                IMAGE_NOTE="CSAND_BENCH_IMAGE_SOURCE=host"
        fi
        if [[ ! -f $host/oci/index.json ]]; then
                try_build host "$host"
                [[ $built == 0 ]] || die "cannot build the image from host directories"
        fi
        IMAGE_DIR=$host
}

# ---------------------------------------------------------------------------
# Outer part: build csand, build or find the image, drop privileges.
# ---------------------------------------------------------------------------
if [[ ${CSAND_BENCH_INNER:-} != 1 ]]; then
        # shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
        . "$(dirname "$script")/lib.sh"
        bench_build_csand "${1:-}"
        build_dir=$(dirname "$CSAND")
        timer=$(readlink -f "${CSAND_BENCH_TIMER:-$build_dir/tests/bench/benchtime}")
        bench_require_built "$build_dir" "$CSAND" "$timer"

        umask 022
        pick_image "${CSAND_BENCH_IMAGE_STORE:-$build_dir/tests/bench/image}"
        image=$(readlink -f "$IMAGE_DIR")

        env_args=(PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 LC_ALL=C.UTF-8
                  CSAND_BENCH_INNER=1 CSAND_BENCH_QUICK="${CSAND_BENCH_QUICK:-}"
                  CSAND_BENCH_IMAGE_ROUNDS="${CSAND_BENCH_IMAGE_ROUNDS:-}"
                  CSAND_BENCH_IMAGE_CACHED="${CSAND_BENCH_IMAGE_CACHED:-}"
                  PODMAN="${PODMAN:-}" CSAND_BENCH_PODMAN_DRIVER="${CSAND_BENCH_PODMAN_DRIVER:-}"
                  TMPDIR="${TMPDIR:-/var/tmp}" CSAND_BENCH_IMAGE_NOTE="$IMAGE_NOTE")

        if [[ $(id -u) == 0 ]]; then
                bench_require_user ". The benchmark runs csand as an unprivileged user, as in real use; create it with tools/prepare-machine.sh (or set CSAND_BENCH_USER to an existing unprivileged user)."
                # The user must be able to run what was built and read the
                # image; if they are closed to it, use copies (same bytes) in
                # a private directory.
                if ! bench_user_can_read "$CSAND" "$timer" "$script" "$image/oci/index.json"; then
                        bench_make_stage csand-bench
                        bench_stage_file CSAND=csand timer=benchtime script=image.sh
                        bench_stage_dir image=image
                fi
        fi
        bench_exec_inner --nice --set-user "$script" "${env_args[@]}" \
                CSAND="$CSAND" CSAND_BENCH_TIMER="$timer" CSAND_BENCH_IMAGE="$image"
fi

# ---------------------------------------------------------------------------
# Inner part: runs as the unprivileged user.
# ---------------------------------------------------------------------------
TIMER=$CSAND_BENCH_TIMER
IMAGE=$CSAND_BENCH_IMAGE/oci
META=$CSAND_BENCH_IMAGE/meta
cd /

rounds=${CSAND_BENCH_IMAGE_ROUNDS:-5}
cached=${CSAND_BENCH_IMAGE_CACHED:-20}
if [[ -n ${CSAND_BENCH_QUICK:-} && $CSAND_BENCH_QUICK != 0 ]]; then
        rounds=3 cached=5
fi
[[ $rounds -ge 1 && $cached -ge 1 ]] 2>/dev/null || die "CSAND_BENCH_IMAGE_ROUNDS and CSAND_BENCH_IMAGE_CACHED must be numbers >= 1"

# The caches and podman's storage live here, on disk as ~/.cache and
# ~/.local/share would be, and go at the end. A lowercase name: podman
# names an image read from an oci: path after the path, and image names
# must be lowercase.
work=${TMPDIR:-/var/tmp}/csand-image-bench-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
mkdir -m 700 "$work" || die "cannot create $work"
raw=$work/raw
log=$work/log
: >"$raw"

# csand runs with --unshare-all, as podman --network none has its own
# pid, ipc, uts and network namespaces too.
CSAND_ARGS=(--unshare-all --image "$IMAGE:$TAG" true)

# rm_cache DIR: removes a csand cache (unpacked directories can be 0555).
rm_cache() {
        [[ -e $1 ]] || return 0
        chmod -R u+rwx "$1" 2>/dev/null || true
        rm -rf -- "$1"
}

# ----- podman, rootless, with storage of its own in $work -----------------
have_podman=0
podman_note=
PODMAN_BIN=${PODMAN:-$(command -v podman || true)}
pod=$work/podman
PODMAN_REF=localhost/csand-bench:$TAG
PODMAN_OCI=oci:$work/oci:$TAG
PODMAN_CMD=()
podman_cleanup() {
        [[ -d $pod ]] || return 0
        if [[ ${#PODMAN_CMD[@]} -gt 0 && -d $pod/root ]]; then
                # conmon runs `podman container cleanup` after each --rm run
                # returns: let the last ones finish (they are looked for by
                # this run's own storage path, not killed)
                local i
                for ((i = 0; i < 50; i++)); do
                        pgrep -u "$(id -u)" -f -- "--root $pod/root" >/dev/null || break
                        sleep 0.2
                done
                "${PODMAN_CMD[@]}" rm -a -f >/dev/null 2>&1 || true
                "${PODMAN_CMD[@]}" rmi -a -f >/dev/null 2>&1 || true
                # the storage holds files owned by the user's sub-uids (the
                # first runs' storage too: root-first-N, rN)
                "${PODMAN_CMD[@]}" unshare rm -rf "$pod"/root* "$pod"/run "$pod"/r[0-9]* >/dev/null 2>&1 || true
        fi
        # rootless podman leaves a pause process holding its user namespace;
        # it is this run's (our XDG_RUNTIME_DIR), so it goes too, by its pid.
        local pid f=$pod/xdg/libpod/tmp/pause.pid
        if [[ -f $f ]]; then
                pid=$(cat "$f")
                if [[ $pid =~ ^[0-9]+$ ]]; then kill "$pid" 2>/dev/null || true; fi
        fi
}
cleanup() {
        podman_cleanup
        rm_cache "$work"
}
trap cleanup EXIT

# podman_try ARGS...: runs podman with ARGS; on failure sets $why to its
# last line of output.
podman_try() {
        local out
        if ! out=$("${PODMAN_CMD[@]}" "$@" 2>&1); then
                why=$(grep -v 'level=warning' <<<"$out" | tail -n1)
                return 1
        fi
        last=$(tail -n1 <<<"$out")
}

podman_setup() {
        local why='' last='' runtime_note=''
        if [[ -z $PODMAN_BIN || ! -x $PODMAN_BIN ]]; then
                podman_note="not installed"
                return
        fi
        if [[ ! $work =~ ^[a-z0-9/._-]+$ ]]; then
                podman_note="not usable (it names oci: images after their path, which must be lowercase: $work; set TMPDIR)"
                return
        fi
        ln -s "$IMAGE" "$work/oci"
        mkdir "$pod"
        mkdir -m 700 "$pod/xdg"
        # Private storage, runtime, data and cache directories, so that the
        # user's own images and home are untouched and all of it goes at the
        # end (csand's runs all set XDG_CACHE_HOME themselves). overlay: with
        # no storage.conf (Debian's podman only suggests containers-storage)
        # rootless podman picks vfs, which copies every layer; overlay is
        # what is normally used. cgroupfs: no systemd user session here.
        export XDG_RUNTIME_DIR=$pod/xdg XDG_DATA_HOME=$pod/data XDG_CACHE_HOME=$pod/cache
        PODMAN_CMD=("$PODMAN_BIN" --root "$pod/root" --runroot "$pod/run"
                    --storage-driver "${CSAND_BENCH_PODMAN_DRIVER:-overlay}" --cgroup-manager cgroupfs)
        if ! podman_try pull -q "$PODMAN_OCI"; then
                podman_note="not usable (podman pull: $why)"
                return
        fi
        local id=$last
        if ! podman_try run --rm --network none "$id" true; then
                # crun 1.8 refuses hybrid v1/v2 cgroup layouts (these
                # machines); runc runs there
                if command -v runc >/dev/null && ! grep -q -- '--runtime' <<<"${PODMAN_CMD[*]}"; then
                        runtime_note=" (default runtime failed: $why)"
                        PODMAN_CMD+=(--runtime runc)
                        podman_try run --rm --network none "$id" true || { podman_note="not usable (podman run with runc: $why)$runtime_note"; return; }
                else
                        podman_note="not usable (podman run: $why)"
                        return
                fi
        fi
        podman_try tag "$id" "$PODMAN_REF" || { podman_note="not usable (podman tag: $why)"; return; }
        have_podman=1
        podman_note="$("$PODMAN_BIN" --version), rootless, storage $("${PODMAN_CMD[@]}" info --format '{{.Store.GraphDriverName}}' 2>/dev/null) (native overlay diff: $("${PODMAN_CMD[@]}" info --format '{{index .Store.GraphStatus "Native Overlay Diff"}}' 2>/dev/null)), runtime $("${PODMAN_CMD[@]}" info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)$runtime_note, cgroups $("${PODMAN_CMD[@]}" info --format '{{.Host.CgroupsVersion}}/{{.Host.CgroupManager}}' 2>/dev/null)"
}
podman_setup

# timed [-n RUNS -w WARMUP] LABEL CMD... [::: LABEL CMD...]: runs benchtime,
# appends its raw "ROUND LABEL US" lines (with our round) to $raw.
round=0
timed() {
        local opts=(-n 1 -w 0)
        if [[ $1 == -n ]]; then
                opts=(-n "$2" -w "$4")
                shift 4
        fi
        if ! "$TIMER" "${opts[@]}" -r "$work/raw1" "$@" >/dev/null 2>"$log"; then
                cat "$log" >&2
                die "a command failed: $*"
        fi
        awk -v r="$round" '{ print r, $2, $3 }' "$work/raw1" >>"$raw"
}

# Before each first run: sync, so that the writeback of what the last one
# unpacked (~100 MB, either tool) does not land in this one's time. Each
# first run gets a new, empty place (a cache directory for csand, storage
# for podman) and nothing is removed until the end: on these machines'
# ext4, creating files where as many had just been removed was 10-40x
# slower (0.7-3 ms a file instead of 0.07), for either tool, depending on
# what ran just before.
first_csand() {
        sync
        XDG_CACHE_HOME=$work/first-$round timed first_csand "$CSAND" "${CSAND_ARGS[@]}"
}
first_podman() {
        # storage of its own, empty, for this first run; the cached runs
        # use the one podman_setup() filled
        local cmd=() a prev=
        for a in "${PODMAN_CMD[@]}"; do
                # (podman wants a runroot of at most 50 characters)
                case $prev in
                --root) a=$a-first-$round ;;
                --runroot) a=$pod/r$round ;;
                esac
                cmd+=("$a")
                prev=$a
        done
        sync
        # `podman run` of the layout itself: copy into storage, then run,
        # in one command as csand's first run is
        timed first_podman "${cmd[@]}" run --rm --network none "$PODMAN_OCI" true
}

# Warm the cache of the cached runs (untimed).
XDG_CACHE_HOME=$work/warm "$CSAND" "${CSAND_ARGS[@]}" || die "csand ${CSAND_ARGS[*]} failed"

say "$rounds rounds: a first run of each tool, then $cached cached runs of each, interleaved"
for ((round = 1; round <= rounds; round++)); do
        say "round $round/$rounds"
        # the order of the slow first runs alternates from round to round
        if [[ $have_podman == 1 && $((round % 2)) == 0 ]]; then
                first_podman
                first_csand
        else
                first_csand
                if [[ $have_podman == 1 ]]; then first_podman; fi
        fi
        # XDG_CACHE_HOME through benchtime's environment: no env(1) exec timed
        cmds=(csand_cached "$CSAND" "${CSAND_ARGS[@]}" ::: csand_info "$CSAND" --image-info "$IMAGE:$TAG")
        [[ $have_podman == 0 ]] || cmds+=(::: podman_cached "${PODMAN_CMD[@]}" run --rm --network none "$PODMAN_REF" true)
        XDG_CACHE_HOME=$work/warm timed -n "$cached" -w $((round == 1 ? 2 : 0)) "${cmds[@]}"
done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
# stats LABEL: "runs median min" in µs from the raw lines
stats() {
        awk -v l="$1" '$2 == l { print $3 }' "$raw" | sort -n |
                awk '{ v[++n] = $1 } END { if (n) printf "%d %.1f %.1f\n", n, (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2), v[1] }'
}
declare -A RUNS MED MIN
for l in first_csand first_podman csand_cached podman_cached csand_info; do
        s=$(stats "$l")
        [[ -n $s ]] || continue
        read -r RUNS[$l] MED[$l] MIN[$l] <<<"$s"
done
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.3f", a / b; else printf "-" }'; }
ms() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1000 }'; }

src=$(sed -n 's/^source=\([^ ]*\).*/\1/p' "$META")
desc=$(sed -n 's/^source=[^ ]* desc=//p' "$META")
fallback=
[[ -z ${CSAND_BENCH_IMAGE_NOTE:-} ]] || fallback=" ($CSAND_BENCH_IMAGE_NOTE)"
read -r nlayers entries files fbytes tbytes < <(awk '/^layer / {
        n++; for (i = 3; i <= NF; i++) { split($i, kv, "="); t[kv[1]] += kv[2] } }
        END { printf "%d %d %d %d %d\n", n, t["entries"], t["files"], t["file_bytes"], t["tar_bytes"] }' "$META")
bbytes=$(find "$IMAGE/blobs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')

echo
echo "csand image benchmark: $(uname -r), $(nproc) CPUs, as $(id -un) (uid $(id -u)), nice $(nice), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "image: $IMAGE"
echo "  source: $src$fallback, $desc"
echo "  $nlayers gzip layers, $entries entries ($files regular files), $(awk -v b="$fbytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB in files, $(awk -v b="$tbytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB as tar, $(awk -v b="$bbytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB compressed"
awk '/^layer / { printf "    %-14s %s %s %s\n", $2, $3, $4, $5 }' "$META"
echo "csand: $CSAND ($("$CSAND" --version 2>/dev/null | head -n1)), ${CSAND_ARGS[*]}"
if [[ $have_podman == 1 ]]; then
        echo "podman: $podman_note"
        echo "        podman run --rm --network none IMAGE true; first run: podman run ... oci:DIR:TAG true with new, empty storage"
else
        echo "podman: $podman_note"
fi
echo "first run: empty cache (a new XDG_CACHE_HOME) for csand, new, empty storage (--root, --runroot) for podman;"
echo "the blobs are in the page cache either way; sync before each. Times in ms, wall clock per launch (benchtime);"
echo "each round: first runs, then cached runs interleaved; ratios are of medians from this run"
echo
printf '%-7s %-32s %-7s %5s %11s %11s %8s %9s\n' case what tool runs median_ms min_ms x_first x_podman
row() { # row CASE WHAT TOOL LABEL FIRST_LABEL PODMAN_LABEL
        local l=$4
        [[ -n ${MED[$l]:-} ]] || return 0
        printf '%-7s %-32s %-7s %5s %11s %11s %8s %9s\n' "$1" "$2" "$3" "${RUNS[$l]}" "$(ms "${MED[$l]}")" "$(ms "${MIN[$l]}")" \
                "$( [[ -n $5 ]] && ratio "${MED[$l]}" "${MED[$5]:-}" || echo -)" \
                "$( [[ -n $6 ]] && ratio "${MED[$l]}" "${MED[$6]:-}" || echo -)"
}
row first "empty cache: unpack + run" csand first_csand "" first_podman
row "" "" podman first_podman "" ""
row cached "layers cached: run" csand csand_cached first_csand podman_cached
row "" "" podman podman_cached first_podman ""
row info "--image-info, cached" csand csand_info "" ""
[[ $have_podman == 1 ]] || echo "(podman: $podman_note: no podman rows)"

echo
echo "BENCH case=image-size source=$src layers=$nlayers entries=$entries files=$files file_bytes=$fbytes tar_bytes=$tbytes blob_bytes=$bbytes"
bench_line() { # bench_line CASE TOOL LABEL [KEY LABEL]...
        local c=$1 t=$2 l=$3 line
        shift 3
        [[ -n ${MED[$l]:-} ]] || return 0
        line="BENCH case=$c tool=$t runs=${RUNS[$l]} median_us=${MED[$l]} min_us=${MIN[$l]}"
        while (($#)); do
                [[ -z ${MED[$2]:-} ]] || line+=" $1=$(ratio "${MED[$l]}" "${MED[$2]}")"
                shift 2
        done
        echo "$line"
}
bench_line image-first csand first_csand ratio_podman first_podman
bench_line image-first podman first_podman
bench_line image-cached csand csand_cached ratio_first first_csand ratio_podman podman_cached
bench_line image-cached podman podman_cached ratio_first first_podman
bench_line image-info csand csand_info ratio_cached csand_cached
