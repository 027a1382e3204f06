#!/bin/bash
# The README's first quick-start command:
#
#     sudo tools/demo.sh      (or, with the dependencies present: tools/demo.sh)
#
# Installs what is missing, builds csand in build/ and runs a command in a
# sandbox as an unprivileged user (csandtest when started as root): it sees
# only /usr, read-only, its own pid, network, uts, ipc and cgroup namespaces,
# and a fresh /proc, /dev and /tmp.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"

if [ "$(id -u)" -eq 0 ]; then
        tools/install-deps.sh
        tools/prepare-machine.sh
elif ! command -v meson >/dev/null || ! command -v ninja >/dev/null || ! pkg-config --exists libcap; then
        echo "demo: meson, ninja and libcap-dev are needed: sudo $src/tools/install-deps.sh (or run this as root)" >&2
        exit 1
fi

build=build
if [ ! -d "$build/meson-private" ]; then
        meson setup "$build" >/dev/null
fi
meson compile -C "$build" >/dev/null

# When root, the user runs a copy in a place it can reach (the tree may sit
# under a directory only root can enter).
csand="$src/$build/csand"
run_as=()
if [ "$(id -u)" -eq 0 ]; then
        user=${CSAND_TEST_USER:-csandtest}
        tmp=$(mktemp -d /var/tmp/csand-demo.XXXXXX)
        trap 'rm -rf "$tmp"' EXIT
        chmod 0755 "$tmp"
        csand=$tmp/csand
        install -m 0755 "$src/$build/csand" "$csand"
        run_as=(runuser -u "$user" --)
        cd /
fi

demo='
echo "== inside the sandbox"
echo "id:       $(id)"
echo "hostname: $(hostname)"
echo "ps ax:"; ps ax -o pid,user,comm
echo "network:"; ip -brief link
echo "/:        $(echo /*)"
echo "capabilities: $(grep CapEff /proc/self/status)"
printf "writing /usr/demo: "; touch /usr/demo 2>&1 || true
printf "writing /tmp/demo: "; touch /tmp/demo && echo ok
'

echo "== csand $("$csand" --version | cut -d" " -f2-) as $("${run_as[@]}" id -un) on $(hostname)"
args=(
        --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib
        --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin
        --proc /proc --dev /dev --tmpfs /tmp
        --unshare-all --hostname csand-demo --die-with-parent
)
echo "\$ csand ${args[*]} -- /bin/sh -c '...'"
"${run_as[@]}" "$csand" "${args[@]}" -- /bin/sh -c "$demo"
