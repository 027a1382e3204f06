#!/usr/bin/env bats
# --image: OCI layouts and docker save tarballs built by the tests (busybox
# userland, three layers: gzip, zstd and plain tar, with a whiteout, an
# opaque directory, a hard link and a symlink), run from outside as a user
# would: the merged view, Env/WorkingDir/User/Entrypoint/Cmd rules,
# --image-info, the layer cache (concurrent first runs, list, prune), and
# --image-overlay's persistent upper with both overlay drivers.

load ../lib/common
load ../lib/image

setup_file() {
        local d="$BATS_FILE_TMPDIR"
        img_build_standard "$d/oci" '{"Env":["FOO=from-image","PATH=/bin"],"WorkingDir":"/work/dir","Cmd":["/bin/sh","-c","echo default-cmd"]}' v1
        img_docker_save "$d/oci" "$d/docker.tar" example.org/test/img:v1
        img_oci_write "$d/oci-ep" '{"Entrypoint":["/bin/echo","ep"],"Cmd":["default-arg"]}' latest
        img_oci_write "$d/oci-user" '{"User":"app","Cmd":["id"]}' latest
        img_oci_write "$d/oci-user2" '{"User":"1234:other","Cmd":["id"]}' latest
        img_oci_write "$d/oci-user3" '{"User":"4242","Cmd":["id"]}' latest
        img_oci_write "$d/oci-nocmd" '{}' latest
        export IMG_OCI="$d/oci" IMG_DOCKER="$d/docker.tar"
        export IMG_LAYER_DIGESTS="$(cut -d' ' -f1 <<<"$IMG_LAYERS" | xargs)"
}

setup() {
        common_setup
        require_userns
        export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache"
}

teardown() {
        # kernel overlayfs leaves WORKDIR/work with mode 000
        chmod -R u+rwx "$TESTDIR" 2>/dev/null || true
        common_teardown
}

cache_layers() {
        ls -A "$XDG_CACHE_HOME/csand/layers"
}

# Every entry of the layer cache with its type, mode, size, xattrs and the
# checksum of its data: any change to the cache shows here.
cache_snapshot() {
        python3 - "$XDG_CACHE_HOME/csand/layers" <<'PY'
import hashlib, os, stat, sys
top = sys.argv[1]
for root, dirs, files in os.walk(top):
    dirs.sort()
    for name in [""] + sorted(dirs + files):
        path = os.path.join(root, name) if name else root
        st = os.lstat(path)
        data = ""
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb") as f:
                data = hashlib.sha256(f.read()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            data = os.readlink(path)
        xattrs = sorted((a, os.getxattr(path, a, follow_symlinks=False)) for a in os.listxattr(path, follow_symlinks=False))
        print(os.path.relpath(path, top), oct(st.st_mode), st.st_size, st.st_nlink, data, xattrs)
PY
}

is_whiteout() {
        [ -c "$1" ] && [ "$(stat -c '%t:%T' "$1")" = 0:0 ]
}

require_driver() {
        if [ "$1" = fuse ]; then
                require_feature "fuse-overlayfs" command -v fuse-overlayfs
                require_feature "/dev/fuse usable by $(id -un)" test -r /dev/fuse -a -w /dev/fuse
        fi
}

# /data/keep is 4755 in the image: the cache drops setuid and setgid bits
# (tests/security/image-attacks.bats).
@test "image: the merged view of the layers (whiteout, opaque dir, links, modes)" {
        run csand --image "$IMG_OCI:v1" sh -c 'ls /data; echo --; ls /opq; echo --; cat /etc/motd /data/hl /data/link; stat -c "%a %h" /data/keep /data/added'
        assert_success
        assert_output "added
hl
keep
link
--
new
--
hello from layer 3
added
added
755 1
644 2"
}

@test "image: writes go to a throw-away upper; the cache is unchanged" {
        run csand --image "$IMG_OCI:v1" sh -c 'echo x >/data/keep && rm /data/added && mkdir /newdir && echo ok'
        assert_success
        assert_output ok
        run csand --image "$IMG_OCI:v1" sh -c 'cat /data/keep; ls /data; test -e /newdir || echo no-newdir'
        assert_success
        assert_output "keep
added
hl
keep
link
no-newdir"
}

@test "image: Env before --setenv, WorkingDir unless --chdir, /proc /dev /tmp provided" {
        run csand --image "$IMG_OCI:v1" sh -c 'echo $FOO $PATH; pwd; test -d /proc/self && test -c /dev/null && echo x >/tmp/t && echo mounts-ok'
        assert_success
        assert_output "from-image /bin
/work/dir
mounts-ok"
        run csand --image "$IMG_OCI:v1" --setenv FOO mine --chdir /data sh -c 'echo $FOO; pwd'
        assert_success
        assert_output "mine
/data"
}

@test "image: --as-pid-1 works with the pid namespace the image turns on" {
        # refused where the image makes no pid namespace (--pidns: one
        # given), and then nothing is unpacked
        run --separate-stderr csand --image "$IMG_OCI:v1" --pidns 5 --as-pid-1 true 5</proc/self/ns/pid
        assert_csand_error
        assert_equal "$msg" "csand: Specifying --as-pid-1 requires --unshare-pid"
        [ -z "$(cache_layers 2>/dev/null)" ]
        # --image makes the pid namespace (for its /proc): options are checked
        # against that, not against the command line alone
        run --separate-stderr csand --image "$IMG_OCI:v1" --as-pid-1 sh -c 'echo $$; read c </proc/1/comm; echo $c'
        assert_success
        # the command is pid 1 (no csand init)
        assert_output "1
sh"
}

@test "image: Cmd is the default command, a given command replaces it" {
        run csand --image "$IMG_OCI:v1"
        assert_success
        assert_output default-cmd
        run csand --image "$IMG_OCI:v1" echo given
        assert_success
        assert_output given
}

@test "image: Entrypoint + Cmd, and --entrypoint" {
        run csand --image "$BATS_FILE_TMPDIR/oci-ep"
        assert_success
        assert_output "ep default-arg"
        run csand --image "$BATS_FILE_TMPDIR/oci-ep" one two
        assert_success
        assert_output "ep one two"
        # --entrypoint replaces the entrypoint and drops Cmd
        run csand --image "$BATS_FILE_TMPDIR/oci-ep" --entrypoint /bin/pwd
        assert_success
        assert_output /
        run csand --image "$BATS_FILE_TMPDIR/oci-ep" --entrypoint "" echo no-ep
        assert_success
        assert_output no-ep
}

@test "image: no command, no Cmd or Entrypoint: a clear error" {
        run csand --image "$BATS_FILE_TMPDIR/oci-nocmd"
        assert_failure 1
        assert_output --partial "has no Entrypoint or Cmd"
        [ "${#lines[@]}" -eq 1 ]
}

@test "image: User by name, name:group, numeric; default root; --uid wins" {
        run csand --image "$IMG_OCI:v1" id -u
        assert_output 0
        run csand --image "$BATS_FILE_TMPDIR/oci-user" sh -c 'id -u; id -g; echo $HOME'
        assert_success
        assert_output "1234
2345
/home/app"
        run csand --image "$BATS_FILE_TMPDIR/oci-user2" sh -c 'id -u; id -g'
        assert_output "1234
3456"
        run csand --image "$BATS_FILE_TMPDIR/oci-user3" sh -c 'id -u; id -g'
        assert_output "4242
0"
        run csand --image "$BATS_FILE_TMPDIR/oci-user" --uid 77 --gid 88 sh -c 'id -u; id -g'
        assert_output "77
88"
}

@test "image: a docker save tarball" {
        run csand --image "$IMG_DOCKER:v1" sh -c 'cat /etc/motd; ls /opq; echo $FOO'
        assert_success
        assert_output "hello from layer 3
new
from-image"
        run csand --image "$IMG_DOCKER" true
        assert_success
        run csand --image-info "$IMG_DOCKER:example.org/test/img:v1"
        assert_success
        assert_line "format: docker-save"
}

@test "image: --image-info prints the config and the layers with their cache state" {
        run csand --image-info "$IMG_OCI:v1"
        assert_success
        assert_line "format: oci-layout"
        assert_line "env: FOO=from-image"
        assert_line "workdir: /work/dir"
        assert_line 'cmd: ["/bin/sh","-c","echo default-cmd"]'
        assert_line "entrypoint: (none)"
        assert_line "layers: 3"
        local d
        for d in $IMG_LAYER_DIGESTS; do
                assert_line --regexp "^layer: sha256:$d .* not-cached\$"
        done
        run csand --image "$IMG_OCI:v1" true
        run csand --image-info "$IMG_OCI:v1"
        for d in $IMG_LAYER_DIGESTS; do
                assert_line --regexp "^layer: sha256:$d .* cached\$"
        done
}

@test "image: concurrent first runs both succeed and share one cache entry per layer" {
        local i
        for i in 1 2 3; do
                csand --image "$IMG_OCI:v1" cat /etc/motd >"$TESTDIR/out$i" 2>&1 &
        done
        wait %1 && wait %2 && wait %3
        for i in 1 2 3; do
                [ "$(cat "$TESTDIR/out$i")" = "hello from layer 3" ] || fail "run $i: $(cat "$TESTDIR/out$i")"
        done
        run cache_layers
        # one entry per layer, and one record of the resolved image
        assert_equal "$(grep -v '^image-' <<<"$output")" "$(for d in $IMG_LAYER_DIGESTS; do echo "sha256-$d"; done | sort)"
        assert_equal "$(grep -c '^image-' <<<"$output")" 1
}

@test "image: the fuse-overlayfs driver reads the same layers" {
        require_feature "fuse-overlayfs" which fuse-overlayfs
        require_feature "/dev/fuse usable" test -w /dev/fuse
        run csand --overlay-driver fuse --image "$IMG_OCI:v1" sh -c 'ls /data; ls /opq; grep -c fuse-overlayfs /proc/self/mountinfo'
        assert_success
        assert_output "added
hl
keep
link
new
1"
}

@test "image: cache list and prune keep the layers a sandbox uses" {
        run csand --image "$IMG_OCI:v1" true
        assert_success
        run csand --image-cache-list
        assert_success
        [ "${#lines[@]}" -eq 3 ]
        assert_line --regexp "^sha256:[0-9a-f]{64} unused$"
        # a running sandbox holds its layers
        closefds "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" --image "$IMG_OCI:v1" --bind "$TESTDIR" /shared \
                sh -c 'touch /shared/ready; while ! test -e /shared/stop; do sleep 0.05; done' &
        local pid=$!
        for _ in $(seq 100); do [ -e "$TESTDIR/ready" ] && break; sleep 0.05; done
        run csand --image-cache-list
        refute_line --partial unused
        run csand --image-cache-prune
        assert_success
        assert_line "pruned 0 layers, 3 in use kept"
        touch "$TESTDIR/stop"
        wait "$pid"
        run csand --image-cache-prune
        assert_success
        assert_line "pruned 3 layers, 0 in use kept"
        run cache_layers
        assert_output ""
        # and the next run unpacks again
        run csand --image "$IMG_OCI:v1" cat /etc/motd
        assert_output "hello from layer 3"
}

# csand is not dumpable: strace sees its calls but can't read their
# arguments in its memory. clone3() is glibc's pthread_create() (csand forks
# with clone(), whose flags are in registers).
count_threads() {
        grep -cE '^[0-9]+ +clone3\(|CLONE_THREAD' "$1" || true
}

@test "image: a first run unpacks the missing layers on several threads (one per CPU)" {
        require_feature "strace" command -v strace
        run strace -f -qq -e trace=clone,clone3 -o "$TESTDIR/trace" \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" --image "$IMG_OCI:v1" cat /etc/motd
        assert_success
        assert_output "hello from layer 3"
        local threads
        threads=$(count_threads "$TESTDIR/trace")
        if [ "$(nproc)" -ge 2 ]; then
                [ "$threads" -ge 1 ] || fail "no thread started for $(wc -w <<<"$IMG_LAYER_DIGESTS") layers on $(nproc) CPUs"
        else
                [ "$threads" -eq 0 ] || fail "$threads threads on 1 CPU"
        fi
        # the cached run starts none (with kernel overlayfs named: with the
        # default driver, csand has one more thread, which waits to start
        # the fuse-overlayfs supervisor should the child ask for it)
        run strace -f -qq -e trace=clone,clone3 -o "$TESTDIR/trace2" \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" --overlay-driver kernel --image "$IMG_OCI:v1" true
        assert_success
        assert_equal "$(count_threads "$TESTDIR/trace2")" 0
}

@test "image: a run from cached layers loads neither libarchive nor libcrypto, nor json-c" {
        # the dynamic loader's own account of what it loaded (LD_DEBUG=files:
        # one file per process, csand's included)
        mkdir "$TESTDIR/ld1" "$TESTDIR/ld2"
        LD_DEBUG=files LD_DEBUG_OUTPUT="$TESTDIR/ld1/log" run csand --image "$IMG_OCI:v1" true
        assert_success
        # control: the first run unpacked with libarchive and read the
        # image's JSON with json-c
        grep -qs 'file=libarchive\.so' "$TESTDIR"/ld1/log.* || fail "control: libarchive not loaded: $(ls "$TESTDIR/ld1")"
        grep -qs 'file=libjson-c\.so' "$TESTDIR"/ld1/log.* || fail "control: json-c not loaded: $(ls "$TESTDIR/ld1")"
        # the next run has its layers, and the resolved image recorded
        LD_DEBUG=files LD_DEBUG_OUTPUT="$TESTDIR/ld2/log" run csand --image "$IMG_OCI:v1" cat /etc/motd
        assert_success
        assert_output "hello from layer 3"
        run grep -hE 'file=lib(archive|crypto|json-c)\.so' "$TESTDIR"/ld2/log.*
        assert_output ""
}

# record_path: the layer cache's one record of a resolved image.
record_path() {
        local r=("$XDG_CACHE_HOME"/csand/layers/image-*)
        [ "${#r[@]}" -eq 1 ] && [ -f "${r[0]}" ] || fail "expected one record, got: ${r[*]}"
        echo "${r[0]}"
}

@test "image: the resolved image is recorded; a changed index.json is resolved again" {
        cp -r "$IMG_OCI" "$TESTDIR/oci"
        chmod -R u+w "$TESTDIR/oci"
        run csand --image "$TESTDIR/oci:v1"
        assert_success
        assert_output default-cmd
        record_path >/dev/null
        # the same index.json with the tag renamed: v1 is gone, v2 is there
        sed -i 's/"v1"/"v2"/' "$TESTDIR/oci/index.json"
        run --separate-stderr csand --image "$TESTDIR/oci:v1" true
        assert_csand_error
        assert_equal "$msg" "csand: $TESTDIR/oci: no image tagged v1 (available: v2)"
        run csand --image "$TESTDIR/oci:v2"
        assert_success
        assert_output default-cmd
}

@test "image: a record is used only if it is whole, ours and writable by nobody else" {
        run csand --image "$IMG_OCI:v1"
        assert_success
        assert_output default-cmd
        local rec
        rec=$(record_path)
        [ "$(stat -c %a "$rec")" = 600 ] || fail "the record's mode is $(stat -c %a "$rec")"
        # the record is what a later run uses (its Cmd changed in place)
        python3 -c 'import sys; p = sys.argv[1]; d = open(p, "rb").read(); open(p, "wb").write(d.replace(b"echo default-cmd", b"echo from-record"))' "$rec"
        run csand --image "$IMG_OCI:v1"
        assert_output from-record
        # writable by the group: not used, and made anew
        chmod 0620 "$rec"
        run csand --image "$IMG_OCI:v1"
        assert_output default-cmd
        rec=$(record_path)
        [ "$(stat -c %a "$rec")" = 600 ] || fail "the record's mode is $(stat -c %a "$rec")"
        # cut short: not used
        truncate -s -3 "$rec"
        run csand --image "$IMG_OCI:v1"
        assert_output default-cmd
        # not a regular file: not used (a FIFO would block a reader)
        rm "$rec"
        mkfifo -m 0600 "$rec"
        run csand --image "$IMG_OCI:v1"
        assert_output default-cmd
}

# --- --image-overlay: a persistent upper ------------------------------------

# Runs csand with the token in its environment too, so that the
# fuse-overlayfs daemons (which inherit it) are found by the leftover check.
image_ovl() {
        CSAND_TEST_TOKEN=$CSAND_TOKEN csand --image "$IMG_OCI:v1" --image-overlay "$TESTDIR/up" "$TESTDIR/wk" "$@"
}

check_image_overlay() {
        local driver=$1
        require_driver "$driver"
        mkdir "$TESTDIR/up" "$TESTDIR/wk"
        run csand --image "$IMG_OCI:v1" true
        assert_success
        local cache_before
        cache_before=$(cache_snapshot)

        run image_ovl --overlay-driver "$driver" sh -c \
                'echo persisted >/data/new && echo changed >/etc/motd && rm /data/keep && mkdir /newdir && ls /data &&
                 grep " / " /proc/self/mountinfo'
        assert_success
        assert_line --index 0 added
        assert_line --index 3 new
        refute_line keep
        assert_line --partial " - $( [ "$driver" = fuse ] && echo fuse.fuse-overlayfs || echo overlay) "
        # the changes are in RWSRC, the deletion a whiteout there
        assert_equal "$(cat "$TESTDIR/up/data/new")" persisted
        assert_equal "$(cat "$TESTDIR/up/etc/motd")" changed
        [ -d "$TESTDIR/up/newdir" ] || fail "no /newdir in RWSRC: $(ls -A "$TESTDIR/up")"
        is_whiteout "$TESTDIR/up/data/keep" || fail "no 0/0 whiteout for /data/keep in RWSRC: $(ls -la "$TESTDIR/up/data")"

        # a second run over the same RWSRC sees the first one's changes
        run image_ovl --overlay-driver "$driver" sh -c 'cat /data/new /etc/motd; ls /data; test -d /newdir && echo newdir'
        assert_success
        assert_output "persisted
changed
added
hl
link
new
newdir"
        # the layer cache is never written to
        assert_equal "$(cache_snapshot)" "$cache_before"
        # and a run without --image-overlay sees the image as it is
        run csand --image "$IMG_OCI:v1" sh -c 'cat /data/keep /etc/motd; test -e /data/new || echo no-new'
        assert_success
        assert_output "keep
hello from layer 3
no-new"
}

@test "image: --image-overlay (kernel) keeps the changes in RWSRC across runs, the cache unchanged" {
        check_image_overlay kernel
}

@test "image: --image-overlay (fuse) keeps the changes in RWSRC across runs, the cache unchanged" {
        check_image_overlay fuse
}
