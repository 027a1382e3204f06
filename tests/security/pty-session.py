#!/usr/bin/env python3
# pty-session.py STEP... -- COMMAND...: runs COMMAND as the session leader of
# a new pseudo-terminal (its controlling terminal, in the foreground), then
# plays the STEPs against it, as a person at that terminal would:
#   send:TEXT      type TEXT (Python escapes: \n, \x03 for Ctrl-C, \x1a for
#                  Ctrl-Z)
#   expect:REGEX   wait until what the terminal printed since the last
#                  expect matches REGEX (re.search, MULTILINE)
#   eof            wait until COMMAND is gone (the terminal hangs up)
# No step has a deadline of its own: one generous alarm (90 s) bounds the
# whole session.  Exits 0 when every step was met; otherwise prints the
# step that was not and the terminal's output, and exits 1.
import codecs
import os
import pty
import re
import select
import signal
import sys


def main():
    split = sys.argv.index("--")
    steps, command = sys.argv[1:split], sys.argv[split + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    out = b""
    seen = 0

    def timeout(*_):
        print(f"TIMEOUT at step {current!r}")
        print("---- terminal ----")
        print(out.decode(errors="replace").replace("\r\n", "\n"))
        os.kill(pid, signal.SIGKILL)
        sys.exit(1)

    signal.signal(signal.SIGALRM, timeout)
    signal.alarm(90)

    def read_more():
        nonlocal out
        r, _, _ = select.select([fd], [], [])
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        out += data
        return bool(data)

    current = None
    for step in steps:
        current = step
        kind, _, arg = step.partition(":")
        if kind == "send":
            os.write(fd, codecs.decode(arg, "unicode_escape").encode())
        elif kind == "expect":
            pattern = re.compile(arg.encode(), re.MULTILINE)
            while True:
                m = pattern.search(out, seen)
                if m:
                    seen = m.end()
                    break
                if not read_more():
                    timeout()
        elif kind == "eof":
            while read_more():
                pass
        else:
            print(f"unknown step {step!r}")
            return 2
    signal.alarm(0)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return 0


sys.exit(main())
