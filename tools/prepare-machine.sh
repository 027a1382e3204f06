#!/bin/bash
# Makes this machine look like an ordinary distribution for csand's tests.
# Idempotent; run as root.
#  - an unprivileged test user (CSAND_TEST_USER, default csandtest) with a
#    home directory and bash as its shell;
#  - /dev/fuse and /dev/net/tun mode 0666, as Debian and Fedora ship them
#    (some build machines restrict them to root).
set -euo pipefail

user=${CSAND_TEST_USER:-csandtest}

if [ "$(id -u)" -ne 0 ]; then
        echo "prepare-machine: must run as root (try: sudo $0)" >&2
        exit 1
fi

if ! id -u "$user" >/dev/null 2>&1; then
        echo "prepare-machine: creating user $user"
        useradd --create-home --shell /bin/bash --user-group "$user"
fi
home=$(getent passwd "$user" | cut -d: -f6)
if [ -n "$home" ] && [ ! -d "$home" ]; then
        install -d -m 0755 -o "$user" -g "$(id -gn "$user")" "$home"
fi

# Sub-ids for rootless podman (tests/bench/image.sh compares with it);
# useradd adds a range on most systems, an older user may lack one.
for f in /etc/subuid /etc/subgid; do
        if ! grep -q "^$user:" "$f" 2>/dev/null; then
                echo "prepare-machine: adding a sub-id range for $user to $f"
                if [ "$f" = /etc/subuid ]; then
                        usermod --add-subuids 100000-165535 "$user"
                else
                        usermod --add-subgids 100000-165535 "$user"
                fi
        fi
done

for dev in /dev/fuse /dev/net/tun; do
        if [ -c "$dev" ] && [ "$(stat -c %a "$dev")" != 666 ]; then
                echo "prepare-machine: chmod 0666 $dev"
                chmod 0666 "$dev"
        fi
done

# Unprivileged user namespaces are what csand runs on; say so early if the
# kernel refuses them rather than failing every test.
if ! runuser -u "$user" -- unshare --user --map-root-user true 2>/dev/null; then
        echo "prepare-machine: warning: $user cannot create user namespaces" >&2
        for knob in /proc/sys/kernel/unprivileged_userns_clone /proc/sys/user/max_user_namespaces \
                    /proc/sys/kernel/apparmor_restrict_unprivileged_userns; do
                [ -r "$knob" ] && echo "prepare-machine:   $knob = $(cat "$knob")" >&2
        done
fi
exit 0
