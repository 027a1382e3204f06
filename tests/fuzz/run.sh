#!/bin/sh
# tests/fuzz/run.sh [SECONDS]: builds the libFuzzer targets with clang
# (outside meson: -fsanitize=fuzzer,address,undefined over utils/*.c) and
# runs each for SECONDS (default 30) on its seed corpus in
# tests/fuzz/corpus/<target>/: the option parser, the seccomp profile
# compiler, the image layer unpacker and the image metadata parsers.  New
# inputs go to a scratch corpus, not the tree; a crash's reproducer is saved
# under tests/fuzz/crashes/ and the script fails.  Needs clang and its
# fuzzer runtime (Debian: clang libclang-rt-14-dev), and the -dev packages
# csand builds with.
#
# Environment: CC (default clang), FUZZ_BUILD_DIR (default a temp dir).
set -eu
seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
cc=${CC:-clang}
build=${FUZZ_BUILD_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/csand-fuzz.XXXXXX")}
mkdir -p "$build" "$here/crashes"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/csand-fuzz-corpus.XXXXXX")
trap 'chmod -R u+rwx "$scratch" 2>/dev/null; rm -rf "$scratch"; [ -n "${FUZZ_BUILD_DIR:-}" ] || rm -rf "$build"' EXIT

pkgs="libseccomp libcap json-c libarchive libcrypto"
pkg-config --exists libsystemd && pkgs="$pkgs libsystemd" && sysd=1 || sysd=0
# shellcheck disable=SC2086
flags="-g -O1 -std=gnu17 -D_GNU_SOURCE -fno-sanitize-recover=undefined -fsanitize=fuzzer,address,undefined \
 -DCSAND_VERSION=\"fuzz\" -DHAVE_LIBSYSTEMD=$sysd -DCSAND_PROFILE_DIR=\"$src/seccomp-profiles\" \
 -iquote $src $(pkg-config --cflags $pkgs)"
# shellcheck disable=SC2086
libs="$(pkg-config --libs $pkgs) -ldl"

objs=
for f in "$src"/utils/*.c; do
        o="$build/$(basename "$f" .c).o"
        # shellcheck disable=SC2086
        $cc $flags -fsanitize=fuzzer-no-link -c "$f" -o "$o"
        objs="$objs $o"
done

# The image targets unpack and write layouts under TMPDIR: in the scratch
# directory, gone with it whatever a crash leaves.
mkdir -p "$scratch/tmp"
export TMPDIR="$scratch/tmp"

status=0
for target in options seccomp-profile image-layer image-manifest; do
        # A target that includes a utils/*.c (to reach its static
        # functions) links without that file's object.
        link=
        for o in $objs; do
                grep -q "^#include \"utils/$(basename "$o" .o)\.c\"" "$here/fuzz-$target.c" || link="$link $o"
        done
        # shellcheck disable=SC2086
        $cc $flags "$here/fuzz-$target.c" $link $libs -o "$build/fuzz-$target"
        mkdir -p "$scratch/$target"
        echo "== fuzz-$target: $seconds s"
        if ! "$build/fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 -close_fd_mask=2 \
                -artifact_prefix="$here/crashes/$target-" \
                "$scratch/$target" "$here/corpus/$target" 2>&1 | grep -E '^(#[0-9]+.*(INITED|DONE)|stat::|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' ; then
                :
        fi
        if ls "$here/crashes/$target-"* >/dev/null 2>&1; then
                echo "fuzz-$target: crash reproducers in $here/crashes/"
                status=1
        fi
done
exit $status
