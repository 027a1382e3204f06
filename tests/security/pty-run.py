#!/usr/bin/env python3
# pty-run.py COMMAND...: runs COMMAND (through sh -c) on a new pseudo-terminal
# that is its controlling terminal, then checks whether anything was left in
# the terminal's input queue (keystrokes injected with TIOCSTI): prints
# "INJECTED:<line>" or "CLEAN" after the command's own output.
import os
import pty
import sys
import time

cmd = " ".join(sys.argv[1:])
script = cmd + '\nif read -t 1 line; then echo "INJECTED:$line"; else echo CLEAN; fi\n'
pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "-c", script])
out = b""
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
