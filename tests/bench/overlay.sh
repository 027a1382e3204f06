#!/bin/bash
# Overlay benchmark (issue 6; ARCHITECTURE.md, "Benchmarks"): the same file workloads on a
# plain directory (--bind), kernel overlayfs and fuse-overlayfs, run inside
# csand, reported as ratios to the plain directory, all in one run.
#
#   tests/bench/overlay.sh [BUILD_DIR]      (CSAND=... overrides the binary)
#
# Workloads (times measured inside the sandbox, around the work only):
#   create   20,000 small files (4 bytes each) in a new directory
#   read     read those 20,000 files back
#   bigread  first read of a 256 MiB file that is in the lower layer
#   rmtree   rm -rf a lower tree of 10,000 files in 100 directories
# Bounded: every sandbox run has a time limit (BENCH_TIMEOUT, default 300 s);
# the working directory is BENCH_DIR (default: a new directory in /tmp) and
# is removed at the end. Reports; fails only when a command fails.
set -euo pipefail

build=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build}
CSAND=${CSAND:-$build/csand}
limit=${BENCH_TIMEOUT:-300}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/ovlbench.XXXXXX")
cleanup() {
        chmod -R u+rwx "$work" 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT

root=(--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --dev /dev)

# The lower layer: a large file and a tree to delete.
lower=$work/lower
mkdir -p "$lower/tree"
head -c $((256 << 20)) /dev/urandom >"$lower/big"
for d in $(seq 100); do
        mkdir "$lower/tree/d$d"
        (cd "$lower/tree/d$d" && seq 100 | sed 's/^/f/' | xargs touch)
done

# The workload, run inside: prints "name microseconds" lines.
workload='
set -e
now() { date +%s%N; }
t() { local s e; s=$(now); "$@"; e=$(now); echo "$name $(( (e - s) / 1000 ))"; }
mk() { mkdir /d/small; cd /d/small; seq 20000 | sed "s/^/f/" | xargs sh -c "for f; do echo abc > \$f; done" sh; }
rd() { cd /d/small; ls | xargs cat > /dev/null; }
big() { cat /d/big > /dev/null; }
rmt() { rm -rf /d/tree; }
name=create; t mk
name=read; t rd
sync
name=bigread; t big
name=rmtree; t rmt
'

declare -A us
run_mode() {
        local mode=$1
        shift
        local out
        out=$(timeout "$limit" "$CSAND" "${root[@]}" "$@" -- sh -c "$workload")
        while read -r name micro; do
                us[$mode,$name]=$micro
        done <<<"$out"
}

# plain: a copy of the lower layer, bound
cp -a "$lower" "$work/plain"
run_mode plain --bind "$work/plain" /d
sync; { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null || true

mkdir -p "$work/ku" "$work/kw"
run_mode kernel --overlay-driver kernel --overlay-src "$lower" --overlay "$work/ku" "$work/kw" /d
sync; { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null || true

modes=(plain kernel)
if command -v fuse-overlayfs >/dev/null && [ -r /dev/fuse ] && [ -w /dev/fuse ]; then
        mkdir -p "$work/fu" "$work/fw"
        run_mode fuse --overlay-driver fuse --overlay-src "$lower" --overlay "$work/fu" "$work/fw" /d
        modes+=(fuse)
else
        echo "# fuse-overlayfs or /dev/fuse not usable: fuse column skipped"
fi

printf '# overlay benchmark: csand %s, kernel %s, work dir on %s\n' \
        "$("$CSAND" --version | head -n1)" "$(uname -r)" "$(stat -f -c %T "$work")"
printf '%-10s' workload
for m in "${modes[@]}"; do printf ' %14s' "$m (ms)"; done
for m in "${modes[@]:1}"; do printf ' %12s' "$m/plain"; done
echo
for w in create read bigread rmtree; do
        printf '%-10s' "$w"
        for m in "${modes[@]}"; do printf ' %14s' "$(awk -v a="${us[$m,$w]}" 'BEGIN { printf "%.1f", a / 1000 }')"; done
        for m in "${modes[@]:1}"; do
                printf ' %12s' "$(awk -v a="${us[$m,$w]}" -v b="${us[plain,$w]}" 'BEGIN { printf "%.2fx", a / b }')"
        done
        echo
done
