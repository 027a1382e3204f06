#!/usr/bin/env python3
# setup-ptrace.py MODE CSAND ARGS...: attacks csand's own processes from
# outside, as the same user, while the sandbox is being set up
# (CVE-2026-41163's class: a setup process the user can ptrace).  ARGS is
# csand's root and options; the command is added here.  Each attack prints
# one line, "WHO WHAT: denied (EPERM)" or "WHO WHAT: ALLOWED (...)":
#   ptrace     PTRACE_SEIZE (detached again at once)
#   vm_readv   process_vm_readv() of one page
#   ns         open /proc/PID/ns/mnt (a way into the sandbox's namespaces)
#   root       stat /proc/PID/root/ (its file system)
# MODE:
#   args   the monitor, while it reads --args from a pipe (before clone)
#   block  the monitor and the child, while the child waits at --block-fd
#          (after the mounts, before the command)
#   race   $ROUNDS runs (no pid 1, so that the child becomes the command):
#          attaches to csand's children in a loop, from clone until the
#          command runs, counting the attaches that caught a process still
#          running csand's setup (each detached at once); prints "race: N
#          attached" and how each run ended ("refused: traced" when csand
#          saw a tracer it did not know and stopped).  (csand itself is
#          attacked in args mode: between its exec and main() it is as
#          open as any new process of the user's, see SECURITY.md; so, for
#          that moment, is csand while the vfork-like child that makes the
#          sandbox's user namespace right before the clone runs: counted
#          apart, on stderr.)
import ctypes
import errno
import fcntl
import json
import os
import subprocess
import sys
import termios
import threading
import time

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


libc.process_vm_readv.argtypes = [ctypes.c_int, ctypes.POINTER(IoVec), ctypes.c_ulong,
                                  ctypes.POINTER(IoVec), ctypes.c_ulong, ctypes.c_ulong]
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def verdict(e):
    return f"denied ({errno.errorcode[e]})" if e in (errno.EPERM, errno.EACCES) else \
        f"ALLOWED ({errno.errorcode.get(e, e) if e else 'ok'})"


def seize(pid):
    """Attaches (PTRACE_SEIZE: no SIGSTOP that could outlive us) and stops
    PID; 0 or the errno. The caller detaches."""
    if libc.ptrace(PTRACE_SEIZE, pid, None, None) != 0:
        return ctypes.get_errno()
    libc.ptrace(PTRACE_INTERRUPT, pid, None, None)
    os.waitpid(pid, WALL)
    return 0


def try_ptrace(pid):
    e = seize(pid)
    if e == 0:
        libc.ptrace(PTRACE_DETACH, pid, None, None)
    return e


def try_vm_readv(pid):
    buf = ctypes.create_string_buffer(4096)
    local = IoVec(ctypes.cast(buf, ctypes.c_void_p), 4096)
    # any address: a permitted read answers EFAULT at worst
    remote = IoVec(0x400000, 4096)
    if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) >= 0:
        return 0
    return ctypes.get_errno()


def try_open(path, stat_only=False):
    try:
        if stat_only:
            os.listdir(path)
        else:
            os.close(os.open(path, os.O_RDONLY))
        return 0
    except OSError as e:
        return e.errno


def attack(who, pid):
    print(f"{who} ptrace: {verdict(try_ptrace(pid))}")
    print(f"{who} vm_readv: {verdict(try_vm_readv(pid))}")
    print(f"{who} ns: {verdict(try_open(f'/proc/{pid}/ns/mnt'))}")
    print(f"{who} root: {verdict(try_open(f'/proc/{pid}/root/', stat_only=True))}")


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None, None
    return st[st.index("(") + 1:st.rindex(")")], st[st.rindex(")") + 2]


def pipe_fill(fd):
    n = ctypes.c_int()
    fcntl.ioctl(fd, termios.FIONREAD, n)
    return n.value


def mode_args(csand):
    r, w = os.pipe()
    args = [a.encode() + b"\0" for a in csand[1:]]
    p = subprocess.Popen([csand[0], "--args", str(r), "true"], pass_fds=[r])
    os.close(r)
    # csand's option parser reads its arguments from the pipe: once it has
    # taken the first, it is well into main() (polling, not a deadline)
    os.write(w, args[0])
    while pipe_fill(w) > 0 and p.poll() is None:
        time.sleep(0.01)
    attack("monitor", p.pid)
    os.write(w, b"".join(args[1:]))
    os.close(w)
    print(f"csand: {p.wait()}")


def mode_block(csand):
    info_r, info_w = os.pipe()
    block_r, block_w = os.pipe()
    p = subprocess.Popen(csand + ["--info-fd", str(info_w), "--block-fd", str(block_r), "true"],
                         pass_fds=[info_w, block_r])
    os.close(info_w)
    os.close(block_r)
    child = json.loads(os.read(info_r, 65536))["child-pid"]
    # Once its id maps are written the child goes on with its mounts and
    # then waits for --block-fd: the rest of its setup is its own.
    while True:
        with open(f"/proc/{child}/uid_map") as f:
            if f.read().strip():
                break
        time.sleep(0.01)
    attack("monitor", p.pid)
    attack("child", child)
    os.write(block_w, b"x")
    os.close(block_w)
    print(f"csand: {p.wait()}")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def dumpable(pid):
    """Whether PID's /proc files are the user's (it is dumpable)."""
    try:
        return os.stat(f"/proc/{pid}/environ").st_uid == os.getuid()
    except OSError:
        return False


def attach_csand(pid, csand_pid):
    """Attaches to PID if it is (still) csand, not the command it exec'd:
    "setup", or "premake" for the child that makes the sandbox's user
    namespace right before the clone (utils/userns.c), while csand is
    dumpable for that moment (it shares csand's memory: csand waits,
    dumpable, until it has exited, so held stopped here it keeps csand
    so)."""
    if seize(pid) != 0:
        return None
    name = state(pid)[0]
    premake = dumpable(csand_pid)
    libc.ptrace(PTRACE_DETACH, pid, None, None)
    if name != "csand" and not premake:
        return None
    return "premake" if premake else "setup"


def mode_race(csand, rounds):
    attached = premake = 0
    ended = {}
    for _ in range(rounds):
        r, w = os.pipe()
        p = subprocess.Popen(csand + ["sh", "-c", f"echo >&{w}"], pass_fds=[w], stderr=subprocess.PIPE)
        os.close(w)
        done = threading.Event()
        threading.Thread(target=lambda: (os.read(r, 1), done.set()), daemon=True).start()
        while not done.is_set() and p.poll() is None:
            for pid in children(p.pid):
                caught = attach_csand(pid, p.pid)
                if caught == "setup":
                    attached += 1
                elif caught == "premake":
                    premake += 1
        err = p.communicate()[1].decode()
        os.close(r)
        how = "refused: traced" if "being traced" in err else f"exit {p.returncode}"
        ended[how] = ended.get(how, 0) + 1
    print(f"race: {attached} attached")
    # as open as csand is until main() (see SECURITY.md)
    print(f"race: {premake} while csand makes the sandbox's user namespace", file=sys.stderr)
    for how, n in sorted(ended.items()):
        print(f"race: {n} x {how}")


def main():
    mode, csand = sys.argv[1], sys.argv[2:]
    if mode == "args":
        mode_args(csand)
    elif mode == "block":
        mode_block(csand)
    elif mode == "race":
        mode_race(csand, int(os.environ.get("ROUNDS", "20")))
    return 0


sys.exit(main())
