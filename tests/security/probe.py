#!/usr/bin/env python3
# Attack probes for tests/security/*.bats.  Each probe makes one real attempt
# from inside a sandbox and prints one line, "NAME: ok" when the attempt
# worked or "NAME: errno=ENAME" when the kernel refused it; the tests compare
# these lines.  Exits 0 whatever the answer (2 on usage errors).
#
#   probe.py open PATH MODE            open(2) with r, w, rw, path (O_PATH)
#   probe.py reopen PATH               open PATH read-only, then re-open it
#                                      read-write through /proc/self/fd/N
#   probe.py remount-rw PATH           mount(MS_REMOUNT|MS_BIND) without MS_RDONLY
#   probe.py setattr-rw PATH           mount_setattr(): clear MOUNT_ATTR_RDONLY
#   probe.py umount PATH               umount2(PATH, MNT_DETACH)
#   probe.py ptrace PID                PTRACE_ATTACH (detaches again on success)
#   probe.py kill PID SIG              kill(2)
#   probe.py mknod PATH                a character device 1:3 (/dev/null's)
#   probe.py tiocsti FD TEXT           TIOCSTI each byte of TEXT into FD
#   probe.py abstract NAME             connect to the abstract UNIX socket @NAME
#   probe.py write PATH TEXT           open O_WRONLY|O_TRUNC and write TEXT
#   probe.py fds                       the open fds other than 0, 1, 2 (and
#                                      the one listing them), with targets
import ctypes
import errno
import os
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)

MS_RDONLY, MS_REMOUNT, MS_BIND = 1, 32, 4096
MNT_DETACH = 2
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
SYS_mount_setattr = 442  # x86_64, aarch64
MOUNT_ATTR_RDONLY = 1
AT_RECURSIVE = 0x8000


def name(e):
    return errno.errorcode.get(e, str(e))


def report(probe, r):
    if r is None or (isinstance(r, int) and r >= 0):
        print(f"{probe}: ok")
    else:
        print(f"{probe}: errno={name(-r)}")


def cerr(r):
    return -ctypes.get_errno() if r < 0 else 0


def oserr(fn):
    try:
        fn()
        return 0
    except OSError as e:
        return -e.errno


def p_open(path, mode):
    flags = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR, "path": os.O_PATH}[mode]
    return oserr(lambda: os.close(os.open(path, flags)))


def p_reopen(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return oserr(lambda: os.close(os.open(f"/proc/self/fd/{fd}", os.O_RDWR)))
    finally:
        os.close(fd)


def p_remount_rw(path):
    return cerr(libc.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND, None))


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def p_setattr_rw(path):
    attr = MountAttr(0, MOUNT_ATTR_RDONLY, 0, 0)
    r = libc.syscall(SYS_mount_setattr, -100, path.encode(), AT_RECURSIVE,
                     ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
    return cerr(r)


def p_umount(path):
    return cerr(libc.umount2(path.encode(), MNT_DETACH))


def p_ptrace(pid):
    pid = int(pid)
    r = libc.ptrace(PTRACE_ATTACH, pid, None, None)
    if r == 0:
        os.waitpid(pid, os.__dict__.get("WALL", 0x40000000))
        libc.ptrace(PTRACE_DETACH, pid, None, None)
        return 0
    return cerr(r)


def p_kill(pid, sig):
    return oserr(lambda: os.kill(int(pid), int(sig)))


def p_mknod(path):
    import stat
    return oserr(lambda: os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3)))


def p_tiocsti(fd, text):
    import fcntl
    import termios
    fd = int(fd)
    for b in text.encode():
        r = oserr(lambda: fcntl.ioctl(fd, termios.TIOCSTI, bytes([b])))
        if r < 0:
            return r
    return 0


def p_abstract(nm):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        return oserr(lambda: s.connect("\0" + nm))
    finally:
        s.close()


def p_write(path, text):
    def w():
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    return oserr(w)


def p_fds():
    # listdir's own fd is closed again by the time of the readlink: ENOENT
    for n in sorted(int(x) for x in os.listdir("/proc/self/fd")):
        if n in (0, 1, 2):
            continue
        try:
            print(f"fd {n} -> {os.readlink(f'/proc/self/fd/{n}')}")
        except FileNotFoundError:
            pass
    return None


PROBES = {
    "open": p_open, "reopen": p_reopen, "remount-rw": p_remount_rw,
    "setattr-rw": p_setattr_rw, "umount": p_umount, "ptrace": p_ptrace,
    "kill": p_kill, "mknod": p_mknod, "tiocsti": p_tiocsti,
    "abstract": p_abstract, "write": p_write,
}


def main():
    if len(sys.argv) < 2:
        sys.exit(2)
    if sys.argv[1] == "fds":
        p_fds()
        return
    fn = PROBES.get(sys.argv[1])
    if not fn:
        sys.exit(2)
    report(sys.argv[1], fn(*sys.argv[2:]))


main()
