#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.0-or-later
"""What a process of the same user gets from csand's id-map stand-ins
while they are dumpable (standin.bats).

  standin-probe.py race CTL SECRET TOKEN
      Spins until CTL/done exists, trying each new process's
      /proc/PID/root and /proc/PID/cwd (also with ".." climbing out) for
      the file SECRET; prints "race: got N" (how many times SECRET's
      content was read through a stand-in: a process with TOKEN in its
      arguments, under seccomp) and whether it tried.

  standin-probe.py held CTL SECRET ENVSECRET
      Waits for CTL/pid (a stand-in held dumpable by the test), then
      reports, one line each, what its /proc files give: the host file
      SECRET through root and cwd (with ".." too), its root's entries, its
      mountinfo, its fds, ENVSECRET in its environment or anywhere in its
      memory.
"""
import errno
import os
import sys
import time

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


def race(ctl, secret, token):
    want = open_secret_content(ctl)
    got = tries = 0
    done = os.path.join(ctl, "done")
    deadline = time.monotonic() + 300
    while not os.path.exists(done) and time.monotonic() < deadline:
        last = last_pid()
        for pid in range(last - 2, last + 2):
            for path in paths(pid, secret):
                tries += 1
                data, _ = try_read(path)
                # every process of the user's shows its root: only the
                # stand-ins count
                if data is not None and data == want and is_standin(pid, token):
                    got += 1
    print(f"race: got {got}")
    print(f"race: tries {'some' if tries else 'none'}")


def open_secret_content(ctl):
    # the expected content, a copy in CTL (the file itself stands for one
    # out of the prober's view)
    with open(os.path.join(ctl, "expect"), "rb") as f:
        return f.read()


def errname(e):
    return errno.errorcode.get(e, str(e))


def held(ctl, secret, envsecret):
    want = open_secret_content(ctl)
    pidfile = os.path.join(ctl, "pid")
    for _ in range(1200):
        if os.path.exists(pidfile) and os.path.getsize(pidfile):
            break
        time.sleep(0.1)
    pid = int(open(pidfile).read())
    # positive control: it is dumpable, so its namespaces can be opened
    try:
        os.close(os.open(f"/proc/{pid}/ns/user", os.O_RDONLY))
        print("ns/user: opened (dumpable)")
    except OSError as e:
        print(f"ns/user: {errname(e.errno)}")
    leaked = [p for p in paths(pid, secret) if try_read(p)[0] == want]
    print(f"secret via root/cwd: {len(leaked)} of {len(CLIMBS) * 2}")
    for link in ("root", "cwd"):
        try:
            print(f"{link} entries: {len(os.listdir(f'/proc/{pid}/{link}'))}")
        except OSError as e:
            print(f"{link} entries: {errname(e.errno)}")
    data, e = try_read(f"/proc/{pid}/mountinfo")
    print(f"mountinfo lines: {len(data.splitlines()) if data is not None else errname(e)}")
    opened = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            os.close(os.open(f"/proc/{pid}/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK))
            opened += 1
        except OSError:
            pass
    print(f"fds opened: {opened}")
    env, e = try_read(f"/proc/{pid}/environ")
    print(f"environ has it: {'yes' if env is not None and envsecret.encode() in env else 'no'}")
    found = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if "r" not in line.split()[1]:
                continue
            try:
                mem.seek(lo)
                if envsecret.encode() in mem.read(hi - lo):
                    found += 1
            except OSError:
                pass
    print(f"memory has it: {'yes' if found else 'no'}")


if __name__ == "__main__":
    if sys.argv[1] == "race":
        race(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        held(sys.argv[2], sys.argv[3], sys.argv[4])
