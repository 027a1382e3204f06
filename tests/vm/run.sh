#!/bin/bash
# The VM tier (ARCHITECTURE.md, "Tests"): cgroup limits through a real systemd user
# manager, which these machines (no systemd as PID 1, hybrid cgroups) cannot
# give. Run as root:
#
#     tests/vm/run.sh
#
# It installs what it needs (qemu, a Debian kernel, debootstrap; csand's
# build dependencies through tools/install-deps.sh), builds csand on the host
# (in $VMTIER/build, outside the checkout), boots a throw-away Debian 12 VM
# with systemd and cgroup v2 (tests/vm/run-vm-tests.sh; the image is cached
# in $VMTIER) and runs tests/vm/*.bats inside it as a lingering user, once
# per context in $VM_CONTEXTS. Progress goes to stderr; stdout is TAP (test
# names prefixed with the context) followed by the closing line
# "# vm: N passed, N failed, N skipped" (a TAP comment). Exit status 0 when nothing failed.
#
# Env: VMTIER (default /var/cache/csand-vm), VM_CONTEXTS (default "session
# service;nouserns-clone nouserns-max": ";" separates VMs booted side by
# side), VM_TESTS (default: all; some of
# tests/vm's .bats file names, to run only those while working on them),
# VM_SETUID_CORE=0 (the nouserns contexts without the core suite),
# VM_TIMEOUT (default 2400 s) and run-vm-tests.sh's knobs (REBUILD=1,
# RECONFIGURE=1, ACCEL, VM_CPUS, ...). As an ordinary user it only prints a
# TAP skip.
set -uo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export VMTIER=${VMTIER:-/var/cache/csand-vm}
# Two VMs side by side: the cgroup contexts run one file at a time and
# leave the second CPU idle, the nouserns contexts change a sysctl the
# cgroup contexts need on.
export VM_CONTEXTS=${VM_CONTEXTS:-session service;nouserns-clone nouserns-max}
export VM_TIMEOUT=${VM_TIMEOUT:-2400}   # the VM's own run: the cgroup tests and the core suite twice; ~12-20 min idle under TCG
started=$SECONDS

say() { echo "vm: $*" >&2; }

# A failure before any test ran: one failing TAP test that says why.
infra_fail() {
        echo "not ok 1 vm tier: $*"
        echo "1..1"
        echo "# vm: 0 passed, 1 failed, 0 skipped"
        say "wall time $((SECONDS - started)) s"
        exit 1
}

# Not a missing feature but the wrong caller: skips whatever CI says (the
# root run of tests/run-tests.sh runs it for real).
if [ "$(id -u)" -ne 0 ]; then
        echo "1..0 # SKIP the VM tier runs as root (it installs packages and boots qemu): sudo tests/vm/run.sh"
        exit 0
fi
mkdir -p "$VMTIER" || infra_fail "can't create $VMTIER"

# ---- 1. packages
if [ -x "$src/tools/install-deps.sh" ]; then
        "$src/tools/install-deps.sh" >&2 || infra_fail "tools/install-deps.sh failed"
fi
vm_pkgs=(qemu-system-x86 qemu-utils linux-image-amd64 debootstrap e2fsprogs zstd
        meson ninja-build pkg-config gcc binutils libc6-dev libcap-dev libsystemd-dev)
missing=()
for pkg in "${vm_pkgs[@]}"; do
        case $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) in
        ii*) ;;
        *) missing+=("$pkg") ;;
        esac
done
if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } </dev/null >&2 ||
                infra_fail "apt-get install ${missing[*]} failed"
fi
say "packages ready at $((SECONDS - started)) s"

# ---- 2. build csand on the host (the guest is bookworm too: same glibc)
build=$VMTIER/build
if [ -d "$build" ] && [ "$(cat "$build/.csand-source" 2>/dev/null)" != "$src" ]; then
        rm -rf "$build"
fi
if [ ! -d "$build/meson-private" ]; then
        meson setup "$build" "$src" -Dsystemd=enabled -Dman=disabled >"$VMTIER/build-setup.log" 2>&1 ||
                { cat "$VMTIER/build-setup.log" >&2; infra_fail "meson setup failed"; }
        echo "$src" >"$build/.csand-source"
fi
meson compile -C "$build" csand enosys try-syscall preload-probe >"$VMTIER/build.log" 2>&1 ||
        { tail -40 "$VMTIER/build.log" >&2; infra_fail "building csand failed"; }
say "csand built at $((SECONDS - started)) s"

# ---- 3. the share: csand, the tests, the payload
share=$VMTIER/share
# Each file's time in each context in the last run, if any (payload.sh
# starts the longest first): "CONTEXT FILE SECONDS" lines.
durations=$(tr -d '\r' <"$VMTIER/results.log" 2>/dev/null | awk '
        /^VMTEST-CONTEXT / { ctx = $2 }
        /^# [^ ]+\.bats: exit [0-9]+ in [0-9]+ s$/ { f = $2; sub(/:$/, "", f); print ctx, f, $(NF - 1) }')
rm -rf "$share"
mkdir -p "$share/tests/vm" "$share/tests/lib"
echo "$durations" >"$share/durations"
cp "$build/csand" "$share/csand"
cp "$src"/tests/vm/*.bats "$src"/tests/vm/*.bash "$src"/tests/vm/cgroup-attack.sh "$share/tests/vm/"
cp "$src"/tests/lib/*.bash "$share/tests/lib/"
# the nouserns-* contexts: the host's setuid suite (tests/meson.build:
# the core files, the setuid batteries, race and process-group; and what
# they run from the source and build trees) against csand installed setuid
# root
mkdir -p "$share/tests/integration" "$share/tests/security"
cp "$src"/tests/integration/core-*.bats "$share/tests/integration/"
cp "$src"/tests/security/*.py "$src"/tests/security/setuid-*.bats "$src"/tests/security/race.bats \
        "$src"/tests/security/process-group.bats "$share/tests/security/"
cp "$build/tests/enosys" "$build/tests/try-syscall" "$build/tests/preload-probe.so" "$share/tests/" 2>/dev/null || true
# A caller jailed in a chroot (setuid-sources.bats), installed setuid root
# in the guest as tests/run-tests.sh does on the host.
cc -O2 -o "$share/chroot-run" "$src/tests/setuid/chroot-run.c" || infra_fail "can't build tests/setuid/chroot-run.c"
# The wrong way to install csand, which it refuses (setuid-escape.bats):
# with file capabilities, as tests/run-tests.sh makes it with setcap. The
# guest has no setcap; it sets the attribute setcap wrote here.
cp "$build/csand" "$VMTIER/filecaps-csand"
setcap cap_sys_admin,cap_setuid,cap_setgid+ep "$VMTIER/filecaps-csand" &&
        python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "security.capability").hex())' \
                "$VMTIER/filecaps-csand" >"$share/filecaps.xattr" ||
        infra_fail "setcap on a copy of csand failed"
rm -f "$VMTIER/filecaps-csand"
[ "${VM_SETUID_CORE:-1}" = 0 ] && touch "$share/no-setuid-core"
install -m 0755 "$src/tests/vm/payload.sh" "$share/payload.sh"
if [ -n "${VM_TESTS:-}" ]; then
        for t in $VM_TESTS; do
                [ -f "$src/tests/vm/$t" ] || infra_fail "VM_TESTS: no tests/vm/$t"
        done
        echo "$VM_TESTS" >"$share/tests-selected"
fi

# The guest gets the packages of the libraries csand links directly (their
# own dependencies come with them) and of libsystemd.so.0, which it loads
# when it makes a scope: a fixed list, so that the cached image stays valid,
# plus whatever else csand comes to link.
guest_pkgs=(bats bats-assert bats-support libarchive13 libcap2 libjson-c5 libseccomp2 libssl3 libsystemd0)
for soname in $(objdump -p "$build/csand" | awk '$1 == "NEEDED" { print $2 }'); do
        lib=$(ldd "$build/csand" | awk -v so="$soname" '$1 == so && $3 ~ /^\// { print $3 }')
        [ -n "$lib" ] || continue
        pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null) || continue
        pkg=${pkg%%:*}
        case " ${guest_pkgs[*]} libc6 " in *" $pkg "*) ;; *) guest_pkgs+=("$pkg") ;; esac
done
EXTRA_PKGS=$(IFS=,; echo "${guest_pkgs[*]}")
export EXTRA_PKGS

# ---- 4. boot and run
say "running the VMs (contexts: $VM_CONTEXTS; cache: $VMTIER)"
"$src/tests/vm/run-vm-tests.sh" "$share" >&2
rc=$?
say "VM done at $((SECONDS - started)) s (rc $rc)"
[ -s "$VMTIER/results.log" ] || infra_fail "the VM reported nothing (rc $rc; see $VMTIER/boot-*.log)"

# ---- 5. TAP: the contexts' results, renumbered, names prefixed
tr -d '\r' <"$VMTIER/results.log" | awk -v rc="$rc" '
        /^VMTEST-CONTEXT / { ctx = $2; seen = 0; next }
        /^VMTEST-CONTEXT-END / { if (!seen) { n++; failed++; print "not ok " n " [" ctx "] the payload ran no test" } next }
        /^(not )?ok [0-9]+/ {
                seen = 1
                notok = ($1 == "not")
                line = $0
                sub(/^(not )?ok [0-9]+ ?/, "", line)
                n++
                if (line ~ /# [Ss][Kk][Ii][Pp]/) skipped++
                else if (notok) failed++
                else passed++
                print (notok ? "not ok " : "ok ") n " [" ctx "] " line
                next
        }
        /^#/ { print; next }
        END {
                if (n == 0) { n = 1; failed = 1; print "not ok 1 vm tier: no test ran (VM rc " rc ")" }
                else if (rc == 99 || rc == 98) { n++; failed++; print "not ok " n " vm tier: the VM did not finish (rc " rc ")" }
                print "1.." n
                printf "# vm: %d passed, %d failed, %d skipped\n", passed, failed, skipped
                exit failed > 0
        }'
status=$?
say "wall time $((SECONDS - started)) s"
exit $status
