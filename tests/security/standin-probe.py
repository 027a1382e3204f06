#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.0-or-later
"""What a process of the same user gets from csand's id-map stand-ins
while they are dumpable (standin.bats).

  standin-probe.py race CTL SECRET TOKEN ENVSECRET
      Spins until CTL/done exists, trying each new process's
      /proc/PID/root and /proc/PID/cwd (also with ".." climbing out) for
      the file SECRET (its content copied in CTL/expect); of those that
      are stand-ins (TOKEN in their arguments, under seccomp) also opens
      every fd and reads the environment, looking for ENVSECRET. Prints how
      often each gave something ("race: root/cwd N", "race: fds N",
      "race: environ N") and how many stand-ins were caught dumpable;
      and, joining each one's user namespace (or the one it is nested in)
      through /proc/PID/ns/user, then its mount namespace through
      /proc/PID/ns/mnt, how often SECRET was read there, at its path or
      under the scaffold's /oldroot ("race: ns/mnt N"), and whether a user
      namespace was joined at all ("race: ns/user joined some").
"""
import ctypes
import fcntl
import os
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
NS_GET_PARENT = 0xB702
libc = ctypes.CDLL(None, use_errno=True)

CLIMBS = ("", "/..", "/../..", "/../../..")


def paths(pid, secret):
    for link in ("root", "cwd"):
        for climb in CLIMBS:
            yield f"/proc/{pid}/{link}{climb}{secret}"


def try_read(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        return None, e.errno
    try:
        return os.read(fd, 4096), 0
    finally:
        os.close(fd)


def is_standin(pid, token):
    # one of this test's csand processes (TOKEN in its arguments) under
    # seccomp: the victims' commands and pid 1 load none
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return "\nSeccomp:\t2\n" in status and token.encode() in cmdline


def last_pid():
    with open("/proc/loadavg") as f:
        return int(f.read().split()[-1])


def caught(pid, secret, want, envsecret, counts):
    """Counts what PID (a stand-in) gives; returns whether it was dumpable."""
    # its namespaces first: they outlive its dumpable moment once open
    mnt, users = open_namespaces(pid)
    if not users:
        if mnt is not None:
            os.close(mnt)
        return False
    counts["root/cwd"] += sum(try_read(p)[0] == want for p in paths(pid, secret))
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        fds = []
    for fd in fds:
        try:
            os.close(os.open(f"/proc/{pid}/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK))
            counts["fds"] += 1
        except OSError:
            pass
    env, _ = try_read(f"/proc/{pid}/environ")
    counts["environ"] += env is not None and envsecret.encode() in env
    for u in users:
        read_in_namespaces(u, mnt, secret, want, counts)
    for fd in [mnt] + users:
        os.close(fd)
    return True


def open_namespaces(pid):
    """PID's mount namespace and the user namespaces that may own it (its
    own, the one it is nested in), opened while it is dumpable."""
    try:
        mnt = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
    except OSError:
        return None, []
    users = []
    # the nested stand-in's own namespace has no power over the mount
    # namespace: its parent has
    try:
        users.append(os.open(f"/proc/{pid}/ns/user", os.O_RDONLY))
        users.append(fcntl.ioctl(users[0], NS_GET_PARENT))
    except OSError:
        pass
    return mnt, users


def read_in_namespaces(userns, mnt, secret, want, counts):
    """In a child: joins USERNS, then MNT, and reads SECRET there."""
    pid = os.fork()
    if pid == 0:
        if libc.setns(userns, CLONE_NEWUSER) != 0:
            os._exit(0)
        ok = libc.setns(mnt, CLONE_NEWNS) == 0
        got = ok and any(try_read(p)[0] == want for p in (secret, "/oldroot" + secret))
        os._exit(2 if got else 1)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    counts["ns/user"] += code >= 1
    counts["ns/mnt"] += code == 2


def race(ctl, secret, token, envsecret):
    want = open_secret_content(ctl)
    counts = {"root/cwd": 0, "fds": 0, "environ": 0, "ns/mnt": 0, "ns/user": 0}
    dumpable = 0
    done = os.path.join(ctl, "done")
    deadline = time.monotonic() + 300
    while not os.path.exists(done) and time.monotonic() < deadline:
        last = last_pid()
        for pid in range(last - 2, last + 2):
            # every process of the user's shows its root: only the
            # stand-ins count
            if is_standin(pid, token) and caught(pid, secret, want, envsecret, counts):
                dumpable += 1
    joined = counts.pop("ns/user")
    for what, n in counts.items():
        print(f"race: {what} {n}")
    print(f"race: ns/user joined {'some' if joined else 'none'}")
    print(f"race: caught dumpable {'some' if dumpable else 'none'}")


def open_secret_content(ctl):
    # the expected content, a copy in CTL (the file itself stands for one
    # out of the prober's view)
    with open(os.path.join(ctl, "expect"), "rb") as f:
        return f.read()


if __name__ == "__main__":
    race(*sys.argv[2:6])
