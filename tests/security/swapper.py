#!/usr/bin/env python3
# swapper.py DIR SECONDS: for at most SECONDS, keeps exchanging DIR/sub (a
# real directory with target/ and f in it) with a symlink to the directory
# outside (DIR/../outside, absolute and relative forms in turn), atomically
# with renameat2(RENAME_EXCHANGE), as fast as it can.  Used by race.bats to
# race csand's resolution of mount destinations.
import ctypes
import os
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_EXCHANGE = 2
SYS_renameat2 = 316  # x86_64

d, seconds = sys.argv[1], float(sys.argv[2])
outside = os.path.abspath(os.path.join(d, "..", "outside"))
os.makedirs(os.path.join(d, "sub", "target"), exist_ok=True)
open(os.path.join(d, "sub", "f"), "a").close()
for name, target in (("abs", outside), ("rel", "../outside")):
    p = os.path.join(d, name)
    if not os.path.islink(p):
        os.symlink(target, p)

sub = os.path.join(d, "sub").encode()
links = [os.path.join(d, "abs").encode(), os.path.join(d, "rel").encode()]
end = time.monotonic() + seconds
n = 0
open(os.path.join(d, "..", "swapper-started"), "w").close()
while time.monotonic() < end:
    link = links[(n >> 1) & 1]
    if libc.syscall(SYS_renameat2, AT_FDCWD, sub, AT_FDCWD, link, RENAME_EXCHANGE) != 0:
        sys.exit(f"renameat2: errno {ctypes.get_errno()}")
    n += 1
    if os.path.exists(os.path.join(d, "..", "swapper-stop")):
        break
# leave the real directory in place
if os.path.islink(sub):
    libc.syscall(SYS_renameat2, AT_FDCWD, sub, AT_FDCWD, link, RENAME_EXCHANGE)
print(n)
