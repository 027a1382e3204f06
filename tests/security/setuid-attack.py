#!/usr/bin/env python3
"""Attacks on setuid csand's processes during setup, as the caller would
make them (tests/security/setuid-escape.bats).

    setuid-attack.py privileged CSAND   the privileged part, held while the
                                        caller's process reads --args
    setuid-attack.py worker CSAND       the worker, held at --block-fd

Prints one line per attempt, "NAME refused" or "NAME ALLOWED", then the
sandbox's exit status as "exit N"."""
import ctypes
import os
import signal
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 16, 17, 0x4206
CLONE_NEWUSER = 0x10000000


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def report(name, allowed):
    print(f"{name} {'ALLOWED' if allowed else 'refused'}", flush=True)


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_for(pred):
    for _ in range(400):
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    sys.exit("timed out waiting for csand's process")


def try_ptrace(pid):
    for req, name in ((PTRACE_ATTACH, "ptrace-attach"), (PTRACE_SEIZE, "ptrace-seize")):
        ok = libc.ptrace(req, pid, None, None) == 0
        if ok:
            libc.ptrace(PTRACE_DETACH, pid, None, None)
        report(name, ok)


def try_vm_readv(pid):
    buf = ctypes.create_string_buffer(64)
    local = IoVec(ctypes.cast(buf, ctypes.c_void_p), 64)
    # Any address: permission is checked before the address is looked at
    # (EPERM), a readable process would answer EFAULT or the bytes.
    remote = IoVec(0x400000, 64)
    n = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    report("process_vm_readv", n >= 0 or ctypes.get_errno() != 1)


def try_proc(pid):
    for f in ("mem", "environ", "fd", "root/", "cwd/", "maps", "auxv"):
        path = f"/proc/{pid}/{f}"
        try:
            if f.endswith("/") or f == "fd":
                os.listdir(path)
            else:
                with open(path, "rb") as fh:
                    fh.read(1)
            report(f"/proc/PID/{f.rstrip('/')}", True)
        except PermissionError:
            report(f"/proc/PID/{f.rstrip('/')}", False)
    # Not dumpable: the kernel gives the files of its /proc directory to root.
    report("dumpable", os.stat(f"/proc/{pid}/fd").st_uid == os.getuid())


def try_userns(pid):
    try:
        fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
    except PermissionError:
        report("setns-userns", False)
        return
    report("setns-userns", libc.setns(fd, CLONE_NEWUSER) == 0)
    os.close(fd)


def try_signals(pid):
    for sig in (signal.SIGSTOP, signal.SIGSEGV, signal.SIGKILL):
        try:
            os.kill(pid, sig)
            report(f"kill-{sig.name}", True)
            return
        except PermissionError:
            report(f"kill-{sig.name}", False)


def privileged(csand):
    r, w = os.pipe()
    p = subprocess.Popen([csand, "--args", str(r), "--ro-bind", "/", "/", "true"], pass_fds=[r])
    os.close(r)
    priv = wait_for(lambda: children(p.pid))[0]
    try_ptrace(priv)
    try_vm_readv(priv)
    try_proc(priv)
    try_signals(priv)
    os.write(w, b"--setenv\0X\0Y\0")
    os.close(w)
    print(f"exit {p.wait()}", flush=True)


def worker(csand):
    r, w = os.pipe()
    p = subprocess.Popen([csand, "--block-fd", str(r), "--ro-bind", "/", "/", "--unshare-pid", "true"], pass_fds=[r])
    os.close(r)
    # The privileged part has gone; the one child left is the worker.
    def the_worker():
        c = children(p.pid)
        if len(c) != 1:
            return None
        try:
            with open(f"/proc/{c[0]}/status") as f:
                uids = next(l for l in f if l.startswith("Uid:")).split()[1:]
        except (OSError, StopIteration):
            return None
        # past its switch to the sandbox's user, holding its capabilities
        return c[0] if uids[0] == str(os.getuid()) else None
    pid = wait_for(the_worker)
    try_ptrace(pid)
    try_vm_readv(pid)
    try_proc(pid)
    try_userns(pid)
    os.close(w)
    print(f"exit {p.wait()}", flush=True)


if __name__ == "__main__":
    {"privileged": privileged, "worker": worker}[sys.argv[1]](sys.argv[2])
