#!/bin/bash
# run-vm-tests.sh - boot a throw-away Debian 12 VM (systemd as PID 1, cgroup v2
# unified, lingering user "tester" uid 1000 with systemd --user and a user
# D-Bus) under qemu and run a payload inside it as that user.
# Adopted from the project's qemu recipe; tests/vm/run.sh is the entry point
# that builds csand and the payload and calls this script.
#
# Usage (as root):  run-vm-tests.sh SHARE_DIR
#   SHARE_DIR  host directory exported through virtio-9p and mounted at
#              /mnt/host in the guest. It must hold payload.sh, which the
#              guest runs as "tester" once for each context named in
#              $VM_CONTEXTS:
#                session  from a PAM login session (runuser -l -> pam_systemd,
#                         session-N.scope), where a desktop user runs csand
#                service  as a transient user service under
#                         user@1000.service/app.slice, where a CI job runs
#              If SHARE_DIR/root-hook.sh is executable it runs as root in the
#              guest after the payload.
# Env:
#   VMTIER=/var/cache/csand-vm   cache and work dir, outside any checkout:
#                        base.tar.zst (debootstrap result, keyed by its package
#                        list in base.pkgs), rootfs/ (configured), disk.img
#   KVER=<newest>        Debian kernel for the guest: /boot/vmlinuz-$KVER,
#                        its initrd and /lib/modules/$KVER (linux-image-amd64)
#   EXTRA_PKGS=a,b       extra Debian packages for the guest; a change of the
#                        list rebuilds the base
#   VM_CONTEXTS="session" contexts to run the payload in (see above); ";"
#                        separates the contexts of VMs booted side by side
#                        ("session service;nouserns-clone nouserns-max")
#   REBUILD=1            redo debootstrap;  RECONFIGURE=1  redo config + image
#   ACCEL=kvm|tcg        default: kvm where the CPU offers virtualisation
#                        (see below), else tcg
#   VM_TIMEOUT=900 VM_MEM=2048 VM_CPUS=2
#   VM_CPU               default host under KVM, qemu64 under TCG
#   VM_APPEND            more guest kernel arguments
# Outputs, for VM N (from 0): $VMTIER/boot-N.log (ttyS0 console),
# $VMTIER/results-N.log (ttyS1: the payload's output, last line
# "VMTEST-EXIT=<rc> ..."); $VMTIER/results.log, all of them in order. Exit
# status: the payloads' statuses or-ed together, 99 if a VM never reported.
set -euo pipefail
VMTIER=${VMTIER:-/var/cache/csand-vm}
KVER=${KVER:-$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -1)}
[ -n "$KVER" ] && [ -r "/boot/vmlinuz-$KVER" ] && [ -r "/boot/initrd.img-$KVER" ] && [ -d "/lib/modules/$KVER" ] ||
        { echo "run-vm-tests: need linux-image-amd64 (kernel, initrd, modules) for KVER=$KVER" >&2; exit 2; }
# KVM only where the CPU offers hardware virtualisation to this machine (vmx
# or svm in /proc/cpuinfo) and /dev/kvm can be opened. Without the flag, as
# on the nested (Firecracker) machines this tier was written on, /dev/kvm
# still opens and makes VMs, but qemu's "-cpu host" aborts (it can't set
# IA32_ARCH_CAPABILITIES, MSR 0x10a) and with a named model the guest runs
# far slower than under TCG: its kernel was still decompressing after
# 120 s, where TCG has booted it in ~14 s.
if [ -z "${ACCEL:-}" ]; then
        ACCEL=tcg
        if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
                ACCEL=kvm
        fi
fi
# Under TCG the baseline model runs bash and bats about twice as fast as
# "max" (glibc then avoids AVX paths); under KVM the host's CPU is free.
if [ "$ACCEL" = kvm ]; then VM_CPU=${VM_CPU:-host}; else VM_CPU=${VM_CPU:-qemu64}; fi
VM_TIMEOUT=${VM_TIMEOUT:-900}
VM_CONTEXTS=${VM_CONTEXTS:-session}
ROOTFS=$VMTIER/rootfs
BASE=$VMTIER/base.tar.zst
IMG=$VMTIER/disk.img
IMG_SIZE=${IMG_SIZE:-1536M}
SHARE=${1:?usage: run-vm-tests.sh SHARE_DIR}
[ -r "$SHARE/payload.sh" ] || { echo "run-vm-tests: $SHARE/payload.sh is missing" >&2; exit 2; }
PKGS=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,udev,kmod,iproute2,procps,sudo,python3,slirp4netns${EXTRA_PKGS:+,$EXTRA_PKGS}
mkdir -p "$VMTIER"
t0=$(date +%s)
ts() { echo "[$(($(date +%s) - t0))s] $*"; }

# ------------------------------------------------ 1. debootstrap (cached)
if [ -n "${REBUILD:-}" ] || [ ! -s "$BASE" ] || [ "$(cat "$VMTIER/base.pkgs" 2>/dev/null)" != "$PKGS" ]; then
        # the mirror the host's apt is configured with
        MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        [ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
        [ -n "$MIRROR" ] || { echo "run-vm-tests: no Debian mirror in the host's apt sources" >&2; exit 2; }
        tmp=$VMTIER/debootstrap.tmp
        rm -rf "$tmp"
        ts "debootstrap from $MIRROR"
        if ! debootstrap --variant=minbase --include="$PKGS" bookworm "$tmp" "$MIRROR" >"$VMTIER/debootstrap.log" 2>&1; then
                tail -20 "$VMTIER/debootstrap.log"
                echo "run-vm-tests: debootstrap failed (log: $VMTIER/debootstrap.log)" >&2
                exit 2
        fi
        rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/apt/archives/*.deb
        tar -C "$tmp" -cf - . | zstd -q -T0 -3 >"$BASE.new"
        mv "$BASE.new" "$BASE"
        echo "$PKGS" >"$VMTIER/base.pkgs"
        rm -rf "$tmp"
        RECONFIGURE=1
        ts "debootstrap done, base.tar.zst $(du -h "$BASE" | cut -f1)"
fi

# ------------------------------------------------ 2. configure the rootfs (cached)
# Keyed by this script's content (it holds the configuration and the
# runner), the kernel and the base: a change to any of them reconfigures.
CONFIG_KEY="$(sha256sum <"${BASH_SOURCE[0]}" | cut -c1-16) $KVER $(stat -c %Y "$BASE")"
if [ -n "${RECONFIGURE:-}" ] || [ ! -e "$ROOTFS/.configured" ] ||
        [ "$(cat "$ROOTFS/.configured" 2>/dev/null)" != "$CONFIG_KEY" ]; then
        rm -rf "$ROOTFS"
        mkdir -p "$ROOTFS"
        zstd -dc "$BASE" | tar -C "$ROOTFS" -xf -
        R=$ROOTFS
        echo vmtest >"$R/etc/hostname"
        printf '127.0.0.1 localhost\n127.0.1.1 vmtest\n' >"$R/etc/hosts"
        echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$R/etc/fstab"
        chroot "$R" useradd -m -u 1000 -U -s /bin/bash tester
        chroot "$R" passwd -d root >/dev/null        # throw-away VM: root without password
        mkdir -p "$R/var/lib/systemd/linger"
        touch "$R/var/lib/systemd/linger/tester"     # = loginctl enable-linger tester
        ln -sf /lib/systemd/system/multi-user.target "$R/etc/systemd/system/default.target"
        # No timers at all (timers.target masked): a timer's unit that runs
        # during a test changes the guest's mount table (systemd-tmpfiles-clean
        # mounts /run/credentials/...), which the tests' teardown reads as a
        # mount csand left behind.
        # Nor what a test run doesn't use and boot waits for (e2scrub_reap
        # took 20 s under TCG, binfmt_misc has no module here and its
        # automount would mount on first access, gettys).
        for u in systemd-firstboot.service systemd-timesyncd.service timers.target \
                apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
                man-db.timer systemd-tmpfiles-clean.timer dpkg-db-backup.timer \
                e2scrub_reap.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
                getty@tty1.service serial-getty@ttyS0.service modprobe@drm.service; do
                ln -sf /dev/null "$R/etc/systemd/system/$u"
        done
        # the host kernel's modules needed after switch_root (block and ext4
        # are in the initrd)
        M=/lib/modules/$KVER
        mkdir -p "$R$M/kernel"
        cp -a "$M"/modules.builtin* "$M/modules.order" "$R$M/"
        for d in fs/9p net/9p fs/netfs fs/fscache fs/fuse fs/autofs; do
                [ -d "$M/kernel/$d" ] || continue
                mkdir -p "$R$M/kernel/$d"
                cp -a "$M/kernel/$d/." "$R$M/kernel/$d/"
        done
        # tun, for slirp4netns (old-kernel.bats)
        for f in "$M"/kernel/drivers/net/tun.ko*; do
                [ -e "$f" ] || continue
                mkdir -p "$R$M/kernel/drivers/net"
                cp -a "$f" "$R$M/kernel/drivers/net/"
        done
        depmod -b "$R" "$KVER"
        mkdir -p "$R/usr/local/sbin" "$R/mnt/host"
        # Tests switch the cgroup2 mount option nsdelegate on and off (the
        # limits must hold either way); tester may run this one as root.
        cat >"$R/usr/local/sbin/vmtest-nsdelegate" <<'EOF'
#!/bin/sh
# vmtest-nsdelegate on|off: remount /sys/fs/cgroup with or without nsdelegate.
# A remount sets exactly the options it is given: the mount's flags and
# systemd's other option, memory_recursiveprot, are given again.
case $1 in
on) opts=nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot ;;
off) opts=nosuid,nodev,noexec,relatime,memory_recursiveprot ;;
*) echo "usage: vmtest-nsdelegate on|off" >&2; exit 2 ;;
esac
exec mount -t cgroup2 -o "remount,$opts" cgroup2 /sys/fs/cgroup
EOF
        chmod 755 "$R/usr/local/sbin/vmtest-nsdelegate"
        echo 'tester ALL=(root) NOPASSWD: /usr/local/sbin/vmtest-nsdelegate' >"$R/etc/sudoers.d/vmtest"
        chmod 440 "$R/etc/sudoers.d/vmtest"
        # The runner: a system service that waits for user@1000 and its bus,
        # then runs the payload as tester in each context.
        cat >"$R/usr/local/sbin/vmtest-runner" <<'EOF'
#!/bin/bash
exec >/dev/ttyS1 2>&1          # ttyS1 = the host's results.log
up() { cut -d' ' -f1 /proc/uptime; }
echo "VMTEST-BEGIN uptime=$(up)"
modprobe 9pnet_virtio 2>/dev/null
modprobe tun 2>/dev/null
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,access=any host0 /mnt/host; then
        echo "no 9p share"; echo "VMTEST-EXIT=98"; systemctl poweroff --no-block; exit 0
fi
for i in $(seq 1 240); do
        [ -S /run/user/1000/bus ] && systemctl -q is-active user@1000.service && break
        sleep 0.5
done
echo "user@1000 and /run/user/1000/bus ready at uptime=$(up)"
T=/mnt/host/payload.sh
UENV="XDG_RUNTIME_DIR=/run/user/1000 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus"
# What else changes the guest while the tests run (their teardown compares
# mount tables): no timer may be left, and each context says which units
# pid 1 started and which mounts changed while it ran.
echo "# timers active: $(systemctl list-units --type=timer --state=active --no-legend --plain | wc -l)"
rc=0
for ctx in $(sed -n 's/.*vmtest\.contexts=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' '); do
        echo "VMTEST-CONTEXT $ctx uptime=$(up)"
        since=$(date +%s)
        mounts=$(cut -d' ' -f5 /proc/self/mountinfo | sort)
        case $ctx in
        service)
                runuser -u tester -- env $UENV systemd-run --user --quiet --wait --pipe --collect \
                        --unit=vmtest-payload -p WorkingDirectory=/home/tester \
                        -E VMTEST_CONTEXT=service bash "$T" </dev/null
                r=$?
                runuser -u tester -- env $UENV systemctl --user reset-failed ;;
        session)
                runuser -l tester -c "VMTEST_CONTEXT=session bash $T" </dev/null
                r=$? ;;
        nouserns-clone|nouserns-max)
                # No unprivileged user namespace: Debian's knob, or none at
                # all. csand installed setuid root from the share's build.
                knob=kernel.unprivileged_userns_clone
                [ "$ctx" = nouserns-max ] && knob=user.max_user_namespaces
                # (named csand: messages are "csand: ..." after argv[0])
                install -d -m 0755 /usr/local/lib/csand-setuid
                install -o root -g root -m 4755 /mnt/host/csand /usr/local/lib/csand-setuid/csand
                install -o root -g tester -m 4750 /mnt/host/chroot-run /usr/local/lib/csand-setuid/chroot-run
                # and, as tests/run-tests.sh does, the wrong way, which csand
                # refuses: file capabilities (the attribute run.sh's setcap wrote)
                install -d -m 0755 /usr/local/lib/csand-setuid/filecaps
                install -o root -g root -m 0755 /mnt/host/csand /usr/local/lib/csand-setuid/filecaps/csand
                python3 -c 'import os, sys; os.setxattr(sys.argv[1], "security.capability", bytes.fromhex(open(sys.argv[2]).read()))' \
                        /usr/local/lib/csand-setuid/filecaps/csand /mnt/host/filecaps.xattr
                old=$(sysctl -n "$knob")
                sysctl -q -w "$knob=0"
                runuser -l tester -c "VMTEST_CONTEXT=$ctx VMTEST_KNOB=$knob bash $T" </dev/null
                r=$?
                sysctl -q -w "$knob=$old" ;;
        *)
                echo "unknown context $ctx"; r=97 ;;
        esac
        journalctl -q -b --since "@$since" _PID=1 -o cat | grep -E '^(Starting|Mounting|Mounted) ' |
                sed 's/^/# pid 1 during the context: /'
        diff <(echo "$mounts") <(cut -d' ' -f5 /proc/self/mountinfo | sort) | grep '^[<>]' |
                sed 's/^/# mount table changed during the context: /'
        echo "VMTEST-CONTEXT-END $ctx rc=$r uptime=$(up)"
        rc=$((rc | r))
done
if [ -x /mnt/host/root-hook.sh ]; then
        echo "===== root hook ====="; /mnt/host/root-hook.sh; echo "root-hook rc=$?"
fi
systemctl --failed --no-legend --plain
echo "VMTEST-EXIT=$rc uptime=$(up)"
sync
systemctl poweroff --no-block
EOF
        chmod 755 "$R/usr/local/sbin/vmtest-runner"
        cat >"$R/etc/systemd/system/vmtest.service" <<'EOF'
[Unit]
Description=VM test runner
After=multi-user.target user@1000.service systemd-user-sessions.service
Wants=user@1000.service
[Service]
Type=simple
ExecStart=/usr/local/sbin/vmtest-runner
[Install]
WantedBy=multi-user.target
EOF
        ln -sf /etc/systemd/system/vmtest.service \
                "$R/etc/systemd/system/multi-user.target.wants/vmtest.service"
        echo "$CONFIG_KEY" >"$R/.configured"
        rm -f "$IMG"
        ts "rootfs configured: $(du -sh "$R" | cut -f1)"
fi

# ------------------------------------------------ 3. disk image (cached)
if [ ! -e "$IMG" ] || [ "$ROOTFS/.configured" -nt "$IMG" ]; then
        rm -f "$IMG"
        mkfs.ext4 -q -F -L vmroot -d "$ROOTFS" "$IMG" "$IMG_SIZE"   # no mount needed
        ts "image built: $(du -h --apparent-size "$IMG" | cut -f1) apparent, $(du -h "$IMG" | cut -f1) allocated"
fi

# ------------------------------------------------ 4. boot and run
# One VM per group of contexts (VM_CONTEXTS, groups separated by ";"), all
# booted side by side from the same image, each on a copy-on-write overlay
# of its own; the guest's runner reads its contexts from the kernel command
# line. Each VM's logs are boot-N.log and results-N.log; results.log is
# their concatenation, in the order of the groups.
chmod -R a+rX "$SHARE"
chmod 0777 "$SHARE"
rm -f "$VMTIER"/run*.qcow2 "$VMTIER"/results*.log "$VMTIER"/boot*.log "$VMTIER"/qemu*.log

# boot_vm N CONTEXTS...: boots VM N, which runs the payload in CONTEXTS; its
# status is the payload's (VMTEST-EXIT), 99 if it never reported.
boot_vm() {
        local n=$1 ovl=$VMTIER/run-$1.qcow2 qrc rc
        shift
        # throw-away copy-on-write overlay: the cached image stays pristine
        qemu-img create -q -f qcow2 -F raw -b "$IMG" "$ovl"
        ts "VM $n booting (accel=$ACCEL, contexts: $*)"
        # The guest is thrown away: no Spectre mitigations in its kernel,
        # and its disk writes never wait for the host's disk (cache=unsafe).
        # Under TCG every page the guest zeroes and every audited syscall
        # is emulated: without init_on_alloc (Debian's default zeroes each
        # allocation), syscall auditing and transparent huge pages (2 MB
        # zeroed at a fault). Two VMs side by side, one with these three
        # (one sample each, loaded host): 10 x csand --unshare-all 4.7 s
        # against 11.3 s, 30 x bash -c true 5.6 s against 7.2 s.
        timeout "$VM_TIMEOUT" qemu-system-x86_64 -accel "$ACCEL" -cpu "$VM_CPU" \
                -m "${VM_MEM:-2048}" -smp "${VM_CPUS:-2}" \
                -nodefaults -display none -monitor none -no-reboot -nic none \
                -kernel "/boot/vmlinuz-$KVER" -initrd "/boot/initrd.img-$KVER" \
                -append "root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 quiet systemd.show_status=1 fsck.mode=skip mitigations=off init_on_alloc=0 audit=0 transparent_hugepage=never vmtest.contexts=$(IFS=,; echo "$*")${VM_APPEND:+ $VM_APPEND}" \
                -drive file="$ovl",if=virtio,format=qcow2,cache=unsafe \
                -virtfs local,path="$SHARE",mount_tag=host0,security_model=none,id=host0 \
                -serial file:"$VMTIER/boot-$n.log" -serial file:"$VMTIER/results-$n.log" \
                -device virtio-rng-pci \
                </dev/null >"$VMTIER/qemu-$n.log" 2>&1
        qrc=$?
        rm -f "$ovl"
        ts "VM $n: qemu exited rc=$qrc"
        rc=$(sed -n 's/^VMTEST-EXIT=\([0-9]*\).*/\1/p' "$VMTIER/results-$n.log" 2>/dev/null | tail -1)
        if [ -z "$rc" ]; then
                echo "run-vm-tests: VM $n never reported (qemu rc=$qrc); tail of $VMTIER/boot-$n.log:"
                tail -40 "$VMTIER/boot-$n.log" 2>/dev/null || true
                return 99
        fi
        return "$rc"
}

set +e
IFS=';' read -r -a groups <<<"$VM_CONTEXTS"
pids=()
for n in "${!groups[@]}"; do
        # shellcheck disable=SC2086 # the group's contexts, one word each
        boot_vm "$n" ${groups[$n]} &
        pids+=($!)
done
rc=0
for n in "${!pids[@]}"; do
        wait "${pids[$n]}"
        r=$?
        # (a VM that never reported wins: the TAP summary says so)
        if [ "$r" = 99 ] || [ "$rc" = 99 ]; then rc=99; else rc=$((rc | r)); fi
        cat "$VMTIER/results-$n.log" >>"$VMTIER/results.log" 2>/dev/null
done
set -e
exit "$rc"
