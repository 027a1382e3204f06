#!/bin/bash
# Installs the Debian packages csand needs to build, test and benchmark,
# only those that are missing. Idempotent; run as root.
#
# Add a package by appending it to CSAND_DEPS below (one list, so that every
# script that needs packages goes through this one).
set -euo pipefail

CSAND_DEPS=(
        # build
        build-essential meson ninja-build pkg-config
        libcap-dev libseccomp-dev libjson-c-dev libsystemd-dev
        libarchive-dev libssl-dev  # images: layer tarballs, sha256
        # docs
        scdoc mandoc groff-base
        # tests
        bats bats-assert bats-support
        bubblewrap slirp4netns passt fuse-overlayfs
        iproute2 curl procps time util-linux python3 strace
        libcap2-bin  # setcap: the setuid suite checks that file capabilities are refused
        nftables openssl  # egress tests: nft trying to change the rules; a TLS server's certificate
        busybox-static  # image layers, and the flatpak tests' runtime (replaces busybox)
        golang-github-containers-common  # podman's seccomp.json, a real-world profile to accept
        dbus-daemon  # a user bus for the cgroup host tests
        bash-completion zsh fish
        # the real-client tier (tests/clients): bwrap's clients and what
        # they need to run headless
        opam flatpak xdg-dbus-proxy
        python3-gi gir1.2-webkit2-4.1 xvfb
        gir1.2-gnomedesktop-3.0 libgdk-pixbuf2.0-bin
        # benchmarks
        hyperfine iperf3
        podman uidmap runc  # rootless podman, image.sh's comparison (runc: crun 1.8 refuses hybrid cgroups)
        # sanitizer builds
        clang libclang-rt-14-dev
        # formatting: tools/format.sh, the cli test format-check
        clang-format-14
)

if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: must run as root (try: sudo $0)" >&2
        exit 1
fi

missing=()
for pkg in "${CSAND_DEPS[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
        case "$status" in
        ii*) ;;
        *) missing+=("$pkg") ;;
        esac
done

if [ ${#missing[@]} -eq 0 ]; then
        echo "install-deps: all ${#CSAND_DEPS[@]} packages present"
        exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
