#!/usr/bin/python3
"""bwrap-at.py STANDIN KEEP -- COMMAND...

Runs COMMAND with STANDIN bound over /usr/bin/bwrap, for clients that have
that path compiled in (WebKitGTK).  The bind lives in a private user and
mount namespace made here, so the machine's /usr/bin/bwrap is never touched;
Debian's bwrap stays reachable at KEEP (an existing file) for the control.

The namespace maps only the caller's uid and gid, and COMMAND is exec'd as
that uid, so it has no capabilities left: the client and the bwrap it runs
start as an ordinary user would, one user namespace deeper.  (mount(8)
refuses a non-root user even with the capability, hence the syscalls.)
"""
import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

libc = ctypes.CDLL(None, use_errno=True)


def check(ret, what):
    if ret != 0:
        sys.exit(f'bwrap-at: {what}: {os.strerror(ctypes.get_errno())}')


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def main():
    if len(sys.argv) < 5 or sys.argv[3] != '--':
        sys.exit('usage: bwrap-at.py STANDIN KEEP -- COMMAND...')
    standin, keep = sys.argv[1].encode(), sys.argv[2].encode()
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), 'unshare')
    write('/proc/self/setgroups', 'deny')
    write('/proc/self/uid_map', f'{uid} {uid} 1')
    write('/proc/self/gid_map', f'{gid} {gid} 1')
    # nothing of this namespace may propagate back to the host's
    check(libc.mount(None, b'/', None, MS_REC | MS_PRIVATE, None), 'make / private')
    check(libc.mount(b'/usr/bin/bwrap', keep, None, MS_BIND, None), 'bind /usr/bin/bwrap to KEEP')
    check(libc.mount(standin, b'/usr/bin/bwrap', None, MS_BIND, None), 'bind STANDIN over /usr/bin/bwrap')
    os.execvp(sys.argv[4], sys.argv[4:])


main()
