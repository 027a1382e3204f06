#!/bin/sh
# Runs inside a sandbox with resource limits and tries every way we know to
# raise the limits (memory.max, pids.max) of the sandbox's cgroup or to leave
# it, printing what it could do. The test checks the outcome from outside;
# these lines are for its failure message.
#   cgroup-attack.sh              with capabilities (--cap-add ALL)
#   cgroup-attack.sh --userns     without: a nested user namespace gives them,
#                                 as any command can by default

# Every memory.max and pids.max in the cgroup tree at $1, the files of our
# own cgroup as /proc/self/cgroup names it (relative to our namespace's
# root) and of its parent; then a move into each cgroup of the tree, the top
# last.
attack_tree() {
        for f in $(find "$1" \( -name memory.max -o -name pids.max \) 2>/dev/null) \
                $(sed -n "s|^0::\\(.*\\)|$1\\1/memory.max $1\\1/../memory.max $1\\1/pids.max $1\\1/../pids.max|p" /proc/self/cgroup); do
                [ -e "$f" ] || continue
                if echo max 2>/dev/null >"$f"; then echo "wrote $f"; else echo "refused $f"; fi
        done
        for d in $(find "$1" -mindepth 1 -type d 2>/dev/null) "$1"; do
                if echo 0 2>/dev/null >"$d/cgroup.procs"; then echo "moved to $d: $(cat /proc/self/cgroup)"; fi
        done
}

case ${1:-} in
--userns)
        exec unshare -Urm sh "$0" ;;
--nested)
        # a cgroup namespace of our own making, rooted where we are
        mount -t cgroup2 cgroup2 /tmp/nested || exit 0
        echo "mounted a nested namespace's cgroup2: $(cat /proc/self/cgroup)"
        attack_tree /tmp/nested
        exit 0 ;;
esac
mkdir -p /tmp/own /tmp/nested
# the cgroup namespace csand made (--unshare-cgroup)
if mount -t cgroup2 cgroup2 /tmp/own 2>/dev/null; then
        echo "mounted the sandbox namespace's cgroup2: $(cat /proc/self/cgroup)"
        attack_tree /tmp/own
fi
unshare -C sh "$0" --nested
# the host's tree, when it is bound in
if [ -e /sys/fs/cgroup/cgroup.procs ]; then
        mount -o remount,bind,rw /sys/fs/cgroup 2>/dev/null && echo "remounted /sys/fs/cgroup read-write"
        for d in $(find /sys/fs/cgroup -type d -name 'csand-*' 2>/dev/null); do
                attack_tree "$d"
        done
fi
echo "in the end: $(cat /proc/self/cgroup)"
echo ready
exec sleep 120
