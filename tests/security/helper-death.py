#!/usr/bin/env python3
# helper-death.py CSAND ARGS...: runs CSAND ARGS (whose command must print
# "ready" when it runs) with this process as the subreaper of whatever csand
# leaves behind, SIGKILLs csand once the command runs, and reports how each
# helper program csand had started (its children other than csand's own
# processes) ended, by state, not by a deadline:
#   NAME: killed by SIGKILL        NAME: exited 0        ...
# with the time from csand's reaping to the helper's as a "# ..." line.
# Being the subreaper, this process reaps the helper the moment it is dead:
# what the system's own reaper (pid 1) does with orphans plays no part.
# Whatever of the sandbox is left is killed at the end.  A generous alarm
# (60 s) is the only bound.
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def ppid_and_comm(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None, None
    comm = st[st.index("(") + 1:st.rindex(")")]
    return int(st[st.rindex(")") + 2:].split()[1]), comm


def children(pid):
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and ppid_and_comm(p)[0] == pid]


def name_of(comm):
    # pasta execs pasta.avx2 (or passt.avx2) on CPUs that have AVX2
    return "pasta" if comm.startswith(("pasta", "passt")) else comm


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("prctl(PR_SET_CHILD_SUBREAPER) failed")
        return 1
    signal.alarm(60)
    csand = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
    if csand.stdout.readline().strip() != b"ready":
        print("the command never ran")
        return 1
    helpers = {c: name_of(ppid_and_comm(c)[1]) for c in children(csand.pid)}
    helpers = {pid: name for pid, name in helpers.items() if name not in ("csand", None)}
    if not helpers:
        print("no helper process found")
        return 1
    os.kill(csand.pid, signal.SIGKILL)
    csand.wait()
    t0 = time.monotonic()
    ended = {}
    while len(ended) < len(helpers):
        pid, status = os.waitpid(-1, 0)
        if pid in helpers:
            ended[pid] = (status, time.monotonic() - t0)
    for pid, name in sorted(helpers.items(), key=lambda x: x[1]):
        status, dt = ended[pid]
        if os.WIFSIGNALED(status):
            print(f"{name}: killed by {signal.Signals(os.WTERMSIG(status)).name}")
        else:
            print(f"{name}: exited {os.WEXITSTATUS(status)}")
        print(f"# {name} reaped {dt * 1000:.1f} ms after csand")
    # The sandbox outlives csand without --die-with-parent: end it.
    for pid in children(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return 0


sys.exit(main())
