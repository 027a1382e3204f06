#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.0-or-later
"""csand's differential tier: generated bwrap command lines, run under the
distribution's bwrap and under csand (as `bwrap`), compared by what a user
of the sandbox can observe.

    meson test -C BUILD --suite differential --print-errorlogs
    tests/differential/run.py [--cases N] [--seed S] [--jobs J]
    tests/differential/run.py --show N      # one case: full argv, raw outputs
    tests/differential/run.py --list        # the generated command lines only

Environment: CSAND (the binary under test, default build/csand),
CSAND_DIFF_BWRAP (default /usr/bin/bwrap), CSAND_DIFF_SEED (default the fixed
seed below: every run tries the same cases), CSAND_DIFF_CASES (default 600),
CSAND_DIFF_JOBS (parallel workers, default 3), CI=true (a missing bwrap is a
failure, not a skip).

How it works:
- gen_case() draws one command line from a grammar of bwrap 0.8's options
  (the root: /usr plus Debian's merged-/usr links, `--tmpfs /`, `--bind / /`
  and friends, or nothing; then binds with symlinked, `..` and missing
  sources from a fixture tree, `-try` variants, tmpfs/dir/file/bind-data with
  --perms and --size, symlinks used as destinations, --chmod, --remount-ro,
  --proc with and without a pid namespace, --dev, --mqueue, fds, namespaces,
  ids, caps, env, status fds, seccomp, nesting, and a few kinds of bad
  input).  Case N depends only on the seed and N.
- The command is mostly probe.sh, which prints the sandbox as seen from
  inside: mount table, ids and maps, capabilities, namespaces, fds, the
  types and modes of the paths the command line names, cwd, environment.
- Each case runs twice in one worker, with the worker's fixture made afresh
  before each run (a `--bind` can write to it): once under bwrap, once under
  csand through a symlink named `bwrap`, so that messages name `bwrap` on
  both sides and are compared literally.  normalise() removes what
  legitimately differs between two runs (pids, namespace ids, devices,
  sources, temporary paths).
- A difference is a failure unless an entry of deliberate.txt covers it
  (the entry and its reason are printed as a TAP comment).  Sanitizer
  reports from csand are always failures.
"""

import argparse
import concurrent.futures
import configparser
import difflib
import json
import os
import random
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SEED = 14
DEFAULT_CASES = 600
RUN_TIMEOUT = 30

PROBE = open(os.path.join(HERE, 'probe.sh')).read()

# fds every run gets (bash opens them, see run_one()); the grammar names them
FD_DATA_A, FD_DATA_B, FD_JSON, FD_INFO, FD_DIR = 10, 11, 12, 13, 14
FD_SECCOMP, FD_SECCOMP_BAD, FD_SYNC, FD_BLOCK, FD_ARGS = 15, 16, 17, 18, 19

USR_ROOT = [['--ro-bind', '/usr', '/usr'],
            ['--symlink', 'usr/bin', '/bin'],
            ['--symlink', 'usr/lib', '/lib'],
            ['--symlink', 'usr/lib64', '/lib64'],
            ['--symlink', 'usr/sbin', '/sbin']]

# ---------------------------------------------------------------- fixture


def make_fixture(fix):
        """A tree of files, dirs and symlinks (relative, absolute, climbing
        with .., dangling, looping) for sources and destinations."""
        os.makedirs(fix)
        w = lambda p, s, m=0o644: (open(os.path.join(fix, p), 'w').write(s),
                                   os.chmod(os.path.join(fix, p), m))
        for d in ('dir', 'dir/sub', 'emptydir', 'private'):
                os.mkdir(os.path.join(fix, d))
        os.chmod(os.path.join(fix, 'private'), 0o700)
        w('file', 'file\n')
        w('file2', 'second file\n')
        w('exec.sh', '#!/bin/sh\necho exec.sh ran\n', 0o755)
        w('dir/inner', 'inner\n')
        w('dir/sub/deep', 'deep\n')
        w('private/secret', 'secret\n', 0o600)
        os.mkfifo(os.path.join(fix, 'fifo'))
        depth = len([c for c in fix.split('/') if c]) + 1
        links = {
                'rel-file': 'file',
                'rel-dir': 'dir',
                'chain': 'rel-file',
                'dir/up': '../file',
                'dir/uproot': '../' * depth + 'usr/lib/os-release',
                'abs-file': fix + '/file',
                'abs-dir': fix + '/dir',
                'abs-os-release': '/etc/os-release',
                'dangling-rel': 'nowhere',
                'dangling-abs': '/nonexistent/target',
                'loop': 'loop',
        }
        for p, t in links.items():
                os.symlink(t, os.path.join(fix, p))


def rmtree_forced(path):
        """Removes a tree whatever modes a sandbox's --chmod left in it."""
        if not os.path.lexists(path):
                return
        if os.path.isdir(path) and not os.path.islink(path):
                try:
                        os.chmod(path, 0o700)
                except OSError:
                        pass
                for n in os.listdir(path):
                        rmtree_forced(os.path.join(path, n))
                os.rmdir(path)
        else:
                os.unlink(path)


def seccomp_allow_all():
        # one classic BPF instruction: return SECCOMP_RET_ALLOW
        return struct.pack('HBBI', 0x06, 0, 0, 0x7fff0000)

# ---------------------------------------------------------------- grammar


class Case:
        def __init__(self, n):
                self.n = n
                self.argv = []          # tokens; {FIX} {BWRAP} placeholders
                self.args_fd = None     # tokens moved to --args FD
                self.stat = []          # paths the probe stats
                self.statfs = []
                self.lists = []
                self.probe = False

        def display(self):
                s = self.render(self.argv)
                if self.args_fd is not None:
                        s += '  [--args %d: %s]' % (FD_ARGS, self.render(self.args_fd))
                return s

        @staticmethod
        def render(tokens):
                out = []
                for t in tokens:
                        if t == '{PROBE}':
                                out.append('PROBE')
                                continue
                        t = t.replace('{FIX}', '$FIX').replace('{BWRAP}', '$BWRAP')
                        if re.fullmatch(r'[\w@%+=:,./$-]+', t):
                                out.append(t)
                        else:
                                out.append(shlex.quote(t))
                return ' '.join(out)


SOURCES_OK = ['{FIX}/file', '{FIX}/dir', '{FIX}/emptydir', '{FIX}/dir/../file',
              '{FIX}/rel-file', '{FIX}/rel-dir', '{FIX}/chain', '{FIX}/dir/up',
              '{FIX}/dir/uproot', '{FIX}/abs-file', '{FIX}/abs-dir',
              '{FIX}/abs-os-release', '{FIX}/exec.sh', '{FIX}/fifo',
              '{FIX}/private', '{FIX}/dir/sub/../inner', '{FIX}/./file',
              '/etc/os-release', '/usr/lib/os-release', '/etc', '/dev/null',
              '/usr/share', '/usr/bin/../lib/os-release']
SOURCES_MISSING = ['{FIX}/missing', '{FIX}/dangling-rel', '{FIX}/dangling-abs',
                   '{FIX}/dir/missing/x', '{FIX}/loop', '{FIX}/file/x',
                   '/nonexistent', '{FIX}/rel-dir/../missing']
DESTS = ['/a', '/b', '/a/b/c', '/data', '/etc/os-release', '/run/host/os-release',
         '/usr/x', '/mnt', '/tmp', '/opt/d/e', '/dev/x', '/proc/x', '/home/u',
         '/a/../b', '//c//d/', '/var/lib/x', '/a', '/b', '/data', '/run/host/os-release',
         '/opt/d/e']
SOURCES_DIRS = {'{FIX}/dir', '{FIX}/emptydir', '{FIX}/rel-dir', '{FIX}/abs-dir',
                '{FIX}/private', '/etc', '/usr/share'}
DIR_DESTS = ['/a', '/data', '/mnt', '/tmp', '/opt/d/e', '/a/b/c', '/usr/share',
             '{FIX}/dir', '{FIX}/emptydir', '{FIX}/newdir', '/home/u']
DIR_DESTS_HOST = ['/mnt', '/tmp', '/opt', '/srv', '/media', '/usr/share', '{FIX}/dir',
                  '{FIX}/emptydir', '{FIX}/rel-dir']
FILE_DESTS = ['/b', '/etc/os-release', '/run/host/os-release', '/data', '/var/lib/x',
              '{FIX}/file', '{FIX}/newfile', '/dev/x']
FILE_DESTS_HOST = ['/etc/os-release', '/etc/hostname', '{FIX}/file', '{FIX}/file2',
                   '{FIX}/rel-file', '{FIX}/abs-file']
DESTS_HOST = ['/mnt', '/tmp', '/opt', '/srv', '/media', '/etc/os-release', '/a', '/usr/share']
DEST_FIX = ['{FIX}/newdir', '{FIX}/dir', '{FIX}/file', '{FIX}/rel-dir',
            '{FIX}/dangling-rel', '{FIX}/abs-dir', '{FIX}/dir/new/deep']
SYMLINK_TARGETS = ['nowhere', '/nowhere', 'usr/lib', '/usr/lib', '/', '../..',
                   '{FIX}/dir', 'a', '/a', 'data/x', '{FIX}/missing']
PERMS_OK = ['0700', '0750', '0755', '0644', '0600', '0444', '1777', '0', '0711', '0555']
SIZES_OK = ['1048576', '4096', '65536', '100000', '1']
CAPS = ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_CHOWN', 'CAP_SETUID', 'ALL',
        'cap_chown', 'CAP_DAC_OVERRIDE', 'CAP_SYS_PTRACE']


class Gen:
        def __init__(self, rng, case):
                self.r = rng
                self.c = case
                self.ops = []           # ordered token groups
                self.dests = []         # destinations used so far
                self.symlinks = []      # symlink destinations made
                self.host_root = False
                self.tmp_tmpfs = False  # /tmp is a tmpfs inside: /tmp/x is safe
                self.has_pid = False
                self.used_fds = set()
                self.root_kind = None

        def p(self, prob):
                return self.r.random() < prob

        def choice(self, seq):
                return self.r.choice(seq)

        def dest(self):
                r = self.r.random()
                if self.symlinks and r < 0.15:
                        d = self.choice(self.symlinks)
                        return self.choice([d, d, d + '/x'])
                if self.dests and r < 0.3:
                        return self.choice(self.dests)
                if r < 0.38:
                        return self.choice(DEST_FIX)
                if self.tmp_tmpfs and r < 0.45:
                        return '/tmp/x'
                if self.host_root:
                        # what exists on the host: nothing is created there
                        return self.choice(DESTS_HOST)
                return self.choice(DESTS)

        def source(self, try_):
                if self.p(0.4 if try_ else 0.04):
                        return self.choice(SOURCES_MISSING)
                return self.choice(SOURCES_OK)

        def bind_dest(self, src):
                """Mostly a destination of the source's type (or a new path)."""
                if self.p(0.25):
                        return self.dest()
                if src in SOURCES_DIRS:
                        return self.choice(DIR_DESTS_HOST if self.host_root else DIR_DESTS)
                return self.choice(FILE_DESTS_HOST if self.host_root else FILE_DESTS)

        def add(self, tokens, dest=None, kind=None):
                self.ops.append(tokens)
                if dest is not None:
                        self.dests.append(dest)
                        self.note_path(dest)
                        if kind == 'tmpfs':
                                self.c.statfs.append(dest)
                        # what a new mount or directory holds (not a host
                        # directory: others write in /tmp while we run)
                        if kind in ('tmpfs', 'dev') or (kind == 'dir' and not self.host_root):
                                self.c.lists.append(dest)

        def note_path(self, dest):
                # the destination and its parents (see expand())
                if dest not in self.c.stat:
                        self.c.stat.append(dest)

        def data_fd(self):
                # bwrap reads and closes each fd: mostly a fresh one
                free = [fd for fd in (FD_DATA_A, FD_DATA_B) if fd not in self.used_fds]
                fd = self.choice(free) if free and self.p(0.95) else self.choice([FD_DATA_A, FD_DATA_B])
                self.used_fds.add(fd)
                return fd

        def perms_prefix(self):
                if self.p(0.25):
                        return ['--perms', self.choice(PERMS_OK)]
                return []

        def op(self):
                kinds = ['bind', 'tmpfs', 'dir', 'file', 'bind-data', 'symlink',
                         'chmod', 'remount-ro', 'proc', 'dev', 'mqueue', 'bind-fd',
                         'lock-file']
                weights = [30, 10, 10, 6, 6, 10, 4, 5, 6, 5, 1, 2, 1]
                k = self.r.choices(kinds, weights)[0]
                if k == 'bind':
                        o = self.choice(['--bind', '--ro-bind', '--dev-bind'])
                        try_ = self.p(0.3)
                        if try_:
                                o += '-try'
                        src = self.source(try_)
                        d = self.bind_dest(src)
                        self.add([o, src, d], d)
                elif k == 'tmpfs':
                        pre = self.perms_prefix()
                        if self.p(0.25):
                                sz = ['--size', self.choice(SIZES_OK)]
                                pre = pre + sz if self.p(0.5) else sz + pre
                        d = self.choice(['/tmp', '/tmp', '/a', '/data', '/usr/share']) if self.p(0.6) else self.dest()
                        if d == '/tmp':
                                self.tmp_tmpfs = True
                        self.add(pre + ['--tmpfs', d], d, 'tmpfs')
                elif k == 'dir':
                        d = self.dest()
                        self.add(self.perms_prefix() + ['--dir', d], d, 'dir')
                elif k == 'file':
                        d = self.dest()
                        self.add(self.perms_prefix() + ['--file', str(self.data_fd()), d], d)
                elif k == 'bind-data':
                        d = self.dest()
                        o = self.choice(['--bind-data', '--ro-bind-data'])
                        self.add(self.perms_prefix() + [o, str(self.data_fd()), d], d)
                elif k == 'symlink':
                        d = self.choice(['/p', '/q', '/p', '/data']) if self.p(0.7) else self.dest()
                        self.symlinks.append(d)
                        self.add(['--symlink', self.choice(SYMLINK_TARGETS), d], d)
                elif k == 'chmod':
                        cands = self.dests + ['/usr', '/', '{FIX}/file', '{FIX}/dir', '/nonexistent']
                        d = self.choice(cands)
                        self.add(['--chmod', self.choice(PERMS_OK), d])
                        self.note_path(d)
                elif k == 'remount-ro':
                        cands = self.dests + ['/', '/usr', '/nonexistent', '/tmp']
                        self.add(['--remount-ro', self.choice(cands)])
                elif k == 'proc':
                        d = '/proc' if self.p(0.85) else self.choice(['/p2', '/a'])
                        self.add(['--proc', d], d)
                elif k == 'dev':
                        d = '/dev' if self.p(0.85) else self.choice(['/d', '/a'])
                        self.add(['--dev', d], d, 'dev')
                elif k == 'mqueue':
                        self.add(['--mqueue', '/dev/mqueue'], '/dev/mqueue')
                elif k == 'bind-fd':
                        d = self.dest()
                        self.add([self.choice(['--bind-fd', '--ro-bind-fd']), str(FD_DIR), d], d)
                elif k == 'lock-file':
                        # one that exists: bwrap 0.8's pid 1 opens it while
                        # the command already runs, a missing one races
                        if self.root_kind != 'none':
                                self.add(['--lock-file', '/usr/lib/os-release'])

        def root(self):
                kinds = ['usr', 'usr-tmpfs', 'ro-host', 'rw-host', 'dev-host', 'none']
                k = self.r.choices(kinds, [48, 12, 16, 8, 3, 4])[0]
                self.root_kind = k
                if k in ('usr', 'usr-tmpfs'):
                        return ([['--tmpfs', '/']] if k == 'usr-tmpfs' else []) + [list(x) for x in USR_ROOT], k
                if k == 'none':
                        return [], k
                self.host_root = True
                o = {'ro-host': '--ro-bind', 'rw-host': '--bind', 'dev-host': '--dev-bind'}[k]
                return [[o, '/', '/']], k

        def globals(self):
                g = []
                r = self.r
                if self.p(0.12):
                        g.append(['--unshare-all'])
                        if self.p(0.3):
                                g.append(['--share-net'])
                        self.has_pid = True
                else:
                        for ns in ('user', 'user-try', 'ipc', 'pid', 'net', 'uts', 'cgroup', 'cgroup-try'):
                                if self.p(0.3 if ns == 'pid' else 0.12):
                                        g.append(['--unshare-' + ns])
                                        if ns == 'pid':
                                                self.has_pid = True
                flat = [t for x in g for t in x]
                if self.p(0.12):
                        g.append(['--uid', self.choice(['0', '1001', '4242'])])
                if self.p(0.1):
                        g.append(['--gid', self.choice(['0', '1001', '4242'])])
                if self.p(0.1):
                        if '--unshare-uts' not in flat and '--unshare-all' not in flat and self.p(0.9):
                                g.append(['--unshare-uts'])
                        g.append(['--hostname', 'sandbox-host'])
                if self.p(0.12):
                        g.append(['--chdir', self.choice(['/', '/usr', '{FIX}/dir', '/tmp', '/a'])])
                if self.p(0.1):
                        g.append(['--setenv', 'DIFF_VAR', self.choice(['value', '', 'a b=c'])])
                if self.p(0.05):
                        g.append(['--unsetenv', self.choice(['DIFF_KEEP', 'HOME', 'NOT_SET'])])
                if self.p(0.05):
                        g.append(['--clearenv'])
                if self.p(0.08):
                        g.append([self.choice(['--cap-add', '--cap-add', '--cap-drop']), self.choice(CAPS)])
                if self.p(0.1):
                        g.append(['--new-session'])
                if self.p(0.1):
                        g.append(['--die-with-parent'])
                if self.p(0.08):
                        if not self.has_pid and self.p(0.8):
                                g.append(['--unshare-pid'])
                                self.has_pid = True
                        g.append(['--as-pid-1'])
                if self.p(0.1):
                        g.append(['--json-status-fd', str(FD_JSON)])
                if self.p(0.08):
                        g.append(['--info-fd', str(FD_INFO)])
                if self.p(0.05):
                        g.append([self.choice(['--seccomp', '--add-seccomp-fd']), str(FD_SECCOMP)])
                if self.p(0.03):
                        g.append(['--sync-fd', str(FD_SYNC)])
                if self.p(0.03):
                        g.append(['--block-fd', str(FD_BLOCK)])
                if self.p(0.03):
                        g.append(['--disable-userns'])
                        if '--unshare-user' not in flat and self.p(0.7):
                                g.append(['--unshare-user'])
                        if self.p(0.3):
                                g.append(['--assert-userns-disabled'])
                elif self.p(0.02):
                        g.append(['--assert-userns-disabled'])
                return g

        def bad_input(self, seq, cmd):
                """One kind of bad input; returns the new (seq, cmd)."""
                k = self.choice(['unknown', 'missing-arg', 'no-command', 'bad-perms',
                                 'perms-misplaced', 'size-misplaced', 'bad-size',
                                 'bad-cap', 'hostname-no-uts', 'as-pid-1-no-pid',
                                 'bad-fd', 'chmod-missing', 'double-perms',
                                 'chdir-missing', 'bad-seccomp', 'two-seccomps',
                                 'relative-dest', 'empty-dest', 'bad-chmod',
                                 'userns-block-fd', 'uid-bad', 'size-perms-twice'])
                i = self.r.randint(0, len(seq))
                ins = lambda toks: seq[:i] + [toks] + seq[i:]
                if k == 'unknown':
                        seq = ins(['--no-such-option'])
                elif k == 'missing-arg':
                        seq = seq + [self.choice([['--bind', '/usr'], ['--dir'], ['--perms'], ['--setenv', 'X']])]
                        cmd = []
                elif k == 'no-command':
                        cmd = []
                elif k == 'bad-perms':
                        seq = ins(['--perms', self.choice(['999', '0x1', '', '-1', '77777']), '--dir', '/a'])
                elif k == 'perms-misplaced':
                        seq = ins(['--perms', '0700', self.choice(['--bind', '--ro-bind']), '/usr', '/a'])
                elif k == 'size-misplaced':
                        seq = ins(['--size', '4096', self.choice(['--dir', '--remount-ro']), '/a'])
                elif k == 'bad-size':
                        seq = ins(['--size', self.choice(['abc', '-1', '0', '1k', '99999999999999999999']), '--tmpfs', '/a'])
                elif k == 'bad-cap':
                        seq = ins([self.choice(['--cap-add', '--cap-drop']), self.choice(['CAP_BOGUS', 'bogus', '', 'CAP_'])])
                elif k == 'hostname-no-uts':
                        seq = [x for x in seq if x not in (['--unshare-uts'], ['--unshare-all'])]
                        seq = ins(['--hostname', 'h'])
                elif k == 'as-pid-1-no-pid':
                        seq = [x for x in seq if x not in (['--unshare-pid'], ['--unshare-all'])]
                        seq = ins(['--as-pid-1'])
                elif k == 'bad-fd':
                        # (not --info-fd 99: bwrap 0.8 exits, its sandbox waits forever)
                        seq = ins(self.choice([['--file', '99', '/a'], ['--bind-data', 'x', '/a'],
                                               ['--bind-fd', '99', '/a'], ['--block-fd', '99'],
                                               ['--json-status-fd', '-1']]))
                elif k == 'chmod-missing':
                        seq = ins(['--chmod', '0755', '/nonexistent'])
                elif k == 'double-perms':
                        seq = ins(['--perms', '0700', '--perms', '0755', '--dir', '/a'])
                elif k == 'chdir-missing':
                        seq = ins(['--chdir', '/nonexistent'])
                elif k == 'bad-seccomp':
                        seq = ins([self.choice(['--seccomp', '--add-seccomp-fd']), str(FD_SECCOMP_BAD)])
                elif k == 'two-seccomps':
                        seq = ins(['--seccomp', str(FD_SECCOMP), '--add-seccomp-fd', str(FD_SECCOMP)])
                elif k == 'relative-dest':
                        seq = ins([self.choice(['--dir', '--tmpfs']), 'rel/dir'])
                        self.note_path('/rel/dir')
                elif k == 'empty-dest':
                        seq = ins(['--dir', ''])
                elif k == 'bad-chmod':
                        seq = ins(['--chmod', self.choice(['9', 'rwx', '']), '/'])
                elif k == 'userns-block-fd':
                        seq = ins(['--userns-block-fd', str(FD_BLOCK)])
                elif k == 'uid-bad':
                        seq = ins([self.choice(['--uid', '--gid']), self.choice(['abc', '-1', '4294967295'])])
                elif k == 'size-perms-twice':
                        seq = ins(['--size', '4096', '--size', '8192', '--tmpfs', '/a'])
                return seq, cmd

        def command(self, root_kind):
                r = self.r.random()
                if r < 0.06:
                        return [self.choice(['true', 'false', '/nonexistent-cmd', 'sh'])] + \
                               (['-c', 'echo out; echo err >&2; exit 7'] if self.p(0.5) else [])
                # the tool must be visible inside: it lives under /tmp
                if r < 0.13 and self.host_root and not any(d == '/tmp' or d.startswith('/tmp/') for d in self.dests):
                        return self.nested()
                self.c.probe = True
                return ['{PROBE}']

        def nested(self):
                # the same tool inside: it is visible under a host root
                inner = [['--ro-bind', '/', '/'] if self.p(0.7) else ['--bind', '/', '/']]
                for o in (['--unshare-pid'], ['--proc', '/proc'], ['--dev', '/dev'],
                          ['--unshare-user'], ['--tmpfs', '/tmp'], ['--unshare-net'],
                          ['--uid', '0']):
                        if self.p(0.3):
                                inner.append(o)
                self.r.shuffle(inner)
                if self.p(0.3):
                        inner.insert(0, ['--tmpfs', '/'])
                if ['--proc', '/proc'] in inner:
                        self.c.stat.append('/proc')
                self.c.probe = True
                return ['{BWRAP}'] + [t for x in inner for t in x] + ['{PROBE}']


def gen_case(seed, n):
        rng = random.Random('%s:%d' % (seed, n))
        c = Case(n)
        g = Gen(rng, c)
        root, root_kind = g.root()
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5])):
                g.op()
        body = g.ops
        # ordering: mostly root first; sometimes operations before or between
        if root and rng.random() < 0.12:
                i = rng.randint(0, len(body))
                seq = body[:i] + root + body[i:]
        else:
                seq = root + body
        glob = g.globals()
        where = rng.random()
        for x in glob:
                # position-free options: first, last, or anywhere
                if where < 0.5:
                        seq.insert(0, x)
                elif where < 0.7:
                        seq.append(x)
                else:
                        seq.insert(rng.randint(0, len(seq)), x)
        cmd = g.command(root_kind)
        if rng.random() < 0.1:
                seq, cmd = g.bad_input(seq, cmd)
        if seq and rng.random() < 0.04:
                # some options through --args
                k = rng.randint(1, len(seq))
                c.args_fd = [t for x in seq[:k] for t in x]
                seq = [['--args', str(FD_ARGS)]] + seq[k:]
        c.argv = [t for x in seq for t in x] + cmd
        if c.probe:
                if '/' not in c.stat:
                        c.stat.insert(0, '/')
                c.statfs.insert(0, '/')
                c.lists.insert(0, '/')
        return c

# ---------------------------------------------------------------- running


class Env:
        def __init__(self, csand, bwrap):
                self.base = tempfile.mkdtemp(prefix='csand-diff.')
                os.chmod(self.base, 0o755)
                self.bindir = os.path.join(self.base, 'bin')
                os.mkdir(self.bindir)
                # csand as `bwrap`: its messages and personality follow argv[0]
                self.csand_link = os.path.join(self.bindir, 'bwrap')
                os.symlink(os.path.abspath(csand), self.csand_link)
                self.bwrap = bwrap
                self.host_ns = {}
                for n in os.listdir('/proc/self/ns'):
                        self.host_ns[n] = os.readlink('/proc/self/ns/' + n)
                self.workers = {}
                self.lock = threading.Lock()
                self.next_worker = 0

        def worker_dir(self):
                tid = threading.get_ident()
                with self.lock:
                        if tid not in self.workers:
                                d = os.path.join(self.base, 'w%d' % self.next_worker)
                                self.next_worker += 1
                                os.mkdir(d)
                                self.workers[tid] = d
                        return self.workers[tid]

        def cleanup(self):
                rmtree_forced(self.base)


WRAP = ('exec 10<"$1" 11<"$2" 12>"$3" 13>"$4" 14<"$5" 15<"$6" 16<"$7" 17</dev/null '
        '18<"$8" 19<"$9"; shift 9; exec "$@"')


def with_parents(paths, fix):
        """The paths and their parents: the types and modes of the paths an
        operation creates."""
        out = []
        for p in paths:
                parts = [x for x in p.replace('{FIX}', fix).split('/') if x]
                for i in range(0 if p == '/' else 1, len(parts) + 1):
                        q = '/' + '/'.join(parts[:i])
                        if q not in out:
                                out.append(q)
        return out


def expand(case, tokens, fix, inner_tool):
        out = []
        for t in tokens:
                if t == '{PROBE}':
                        out += ['sh', '-c', PROBE, 'probe']
                        out += ['s:' + p for p in with_parents(case.stat, fix)]
                        out += ['f:' + p.replace('{FIX}', fix) for p in case.statfs]
                        out += ['l:' + p.replace('{FIX}', fix) for p in case.lists]
                        continue
                out.append(t.replace('{FIX}', fix).replace('{BWRAP}', inner_tool))
        return out


def run_one(env, case, which):
        """Runs the case under one tool in this thread's worker directory."""
        w = env.worker_dir()
        fix = os.path.join(w, 'fix')
        for p in ('fix', 'tmp', 'run', 'fds'):
                rmtree_forced(os.path.join(w, p))
        make_fixture(fix)
        for p in ('tmp', 'run', 'fds'):
                os.mkdir(os.path.join(w, p), 0o700)
        fds = os.path.join(w, 'fds')
        files = {}
        for name, data in (('a', b'alpha\n'), ('b', b'beta beta\n'), ('seccomp', seccomp_allow_all()),
                           ('seccomp-bad', b'1234567'), ('block', b'x')):
                files[name] = os.path.join(fds, name)
                with open(files[name], 'wb') as f:
                        f.write(data)
        files['args'] = os.path.join(fds, 'args')
        tool = env.bwrap if which == 'bwrap' else env.csand_link
        with open(files['args'], 'wb') as f:
                if case.args_fd is not None:
                        f.write(b''.join(t.replace('{FIX}', fix).replace('{BWRAP}', tool).encode() + b'\0'
                                         for t in case.args_fd))
        json_out = os.path.join(fds, 'json')
        info_out = os.path.join(fds, 'info')
        argv = ['bash', '-c', WRAP, 'wrap', files['a'], files['b'], json_out, info_out,
                os.path.join(fix, 'dir'), files['seccomp'], files['seccomp-bad'], files['block'],
                files['args'], tool] + expand(case, case.argv, fix, tool)
        run_env = {
                'PATH': '/usr/bin:/bin:/usr/sbin:/sbin',
                'HOME': os.environ.get('HOME', '/'),
                'LANG': 'C',
                'DIFF_KEEP': 'kept',
                'TMPDIR': os.path.join(w, 'tmp'),
                'XDG_RUNTIME_DIR': os.path.join(w, 'run'),
        }
        for k in ('ASAN_OPTIONS', 'UBSAN_OPTIONS'):
                if k in os.environ:
                        run_env[k] = os.environ[k]
        p = subprocess.Popen(argv, cwd=fix, env=run_env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
                out, err = p.communicate(timeout=RUN_TIMEOUT)
                rc = p.returncode
        except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, err = p.communicate()
                rc = 'timeout'

        def rd(path):
                try:
                        with open(path, 'rb') as f:
                                return f.read().decode(errors='replace')
                except OSError:
                        return ''
        # csand keeps one directory of its own in XDG_RUNTIME_DIR
        # (utils/state-dirs.c); anything in it, or anything else, is left
        # behind by this run
        left = []
        for d in ('tmp', 'run'):
                for n in sorted(os.listdir(os.path.join(w, d))):
                        p = os.path.join(w, d, n)
                        if d == 'run' and n == 'csand' and os.path.isdir(p) and not os.path.islink(p):
                                left += ['run/csand/' + x for x in sorted(os.listdir(p))]
                        else:
                                left.append(d + '/' + n)
        return {'argv': argv, 'rc': rc, 'stdout': out.decode(errors='replace'),
                'stderr': err.decode(errors='replace'), 'json': rd(json_out),
                'info': rd(info_out), 'left': left, 'w': w, 'tool': tool}

# ---------------------------------------------------------------- normalising


def norm_paths(s, raw, env):
        s = s.replace(raw['tool'], '$BWRAP')
        return s.replace(raw['w'], '$W').replace(env.base, '$T')


def norm_json(text, layout):
        """A sequence of JSON documents: keys and value types (exit-code's
        value), and whether each sits on one line (json-status-fd: lines)."""
        docs = []
        dec = json.JSONDecoder()
        i = 0
        text = text.strip()
        while i < len(text):
                try:
                        obj, j = dec.raw_decode(text, i)
                except ValueError:
                        docs.append('unparsable: ' + text[i:i + 80])
                        break
                piece = text[i:j]
                if isinstance(obj, dict):
                        items = []
                        for k, v in obj.items():
                                if k == 'exit-code':
                                        items.append('%s=%r' % (k, v))
                                else:
                                        items.append('%s:%s' % (k, type(v).__name__))
                        d = '{' + ' '.join(items) + '}'
                else:
                        d = type(obj).__name__
                if layout:
                        d += ' (one line)' if '\n' not in piece else ' (several lines)'
                docs.append(d)
                i = j
                while i < len(text) and text[i] in ' \t\r\n':
                        i += 1
        return '\n'.join(docs)


def norm_mountinfo(lines):
        """The mounts a path lookup inside can reach, sorted by mount point:
        mount point, fs type, ro/nosuid/nodev/noexec.  Mounts hidden under
        others (stacked, or under a later mount on a parent directory) are
        left out: their order and flags depend on how the tree was copied,
        and nothing inside can reach them."""
        mounts = {}
        order = []
        for l in lines:
                f = l.split(' ')
                try:
                        sep = f.index('-')
                        mid, parent, mp = f[0], f[1], f[4]
                except (ValueError, IndexError):
                        continue
                opts = [o for o in f[5].split(',') if o in ('ro', 'nosuid', 'nodev', 'noexec')]
                mounts[mid] = {'parent': parent, 'mp': mp, 'desc': '%s %s %s' % (mp, f[sep + 1], ','.join(opts) or '-')}
                order.append(mid)
        children = {}
        for mid in order:
                children.setdefault(mounts[mid]['parent'], []).append(mid)

        def on_top(m, mp):
                # follow mounts stacked on m at the same mount point
                while True:
                        up = [c for c in children.get(m, []) if mounts[c]['mp'] == mp]
                        if not up:
                                return m
                        m = up[-1]
        roots = [m for m in order if mounts[m]['parent'] not in mounts]
        if not roots:
                return [mounts[m]['desc'] for m in order]
        root = on_top(roots[0], mounts[roots[0]]['mp'])
        visible = []
        for mid in order:
                mp = mounts[mid]['mp']
                cur = root
                parts = [x for x in mp.split('/') if x]
                for i in range(1, len(parts) + 1):
                        prefix = '/' + '/'.join(parts[:i])
                        nxt = [c for c in children.get(cur, []) if mounts[c]['mp'] == prefix]
                        if nxt:
                                cur = on_top(nxt[-1], prefix)
                if cur == mid:
                        visible.append(mounts[mid]['desc'])
        return sorted(visible)


def norm_pid(v):
        try:
                return v if int(v) <= 2 else 'N'
        except ValueError:
                return v


def parse_probe(text, env):
        """probe.sh's sections -> {field: text}."""
        sec = {}
        cur = None
        for l in text.split('\n'):
                if l.startswith('@') and re.fullmatch(r'@[a-z_]+', l):
                        cur = l[1:]
                        sec[cur] = []
                elif cur is not None:
                        sec[cur].append(l)
                else:
                        sec.setdefault('before', []).append(l)
        f = {}
        if 'end' not in sec:
                f['probe'] = 'incomplete output'
        if 'noproc' in sec:
                f['proc'] = 'none'
        st = sec.get('status', [])
        f['caps'] = '\n'.join(l for l in st if l.startswith(('Cap', 'NoNewPrivs', 'Seccomp')))
        f['ids'] = '\n'.join(re.sub(r'\s+', ' ', l) for l in st if l.startswith(('Uid', 'Gid', 'Groups'))) \
                or ' '.join(sec.get('id', []))
        maps = []
        for k in ('uid_map', 'gid_map', 'setgroups'):
                if k in sec:
                        maps.append(k + ': ' + ' | '.join(re.sub(r'\s+', ' ', l.strip()) for l in sec[k] if l))
        f['maps'] = '\n'.join(maps)
        if 'stat' in sec and sec['stat']:
                # pid (comm) state ppid pgrp session ...
                m = re.match(r'(\d+) \(.*\) \S+ (\d+) (\d+) (\d+)', sec['stat'][0])
                if m:
                        pid, _, pgrp, sid = m.groups()
                        f['session'] = 'pgrp==pid %s, sid==pid %s' % (pgrp == pid, sid == pid)
        f['pid'] = ' '.join(norm_pid(x) for x in sec.get('pid', []))
        f['mounts'] = '\n'.join(norm_mountinfo(sec.get('mountinfo', [])))
        f['fds'] = ' '.join(sec.get('fds', []))
        ns = []
        for l in sec.get('ns', []):
                m = re.match(r"'/proc/self/ns/(\w+)' -> '(.*)'", l)
                if m:
                        n, v = m.groups()
                        ns.append('%s %s' % (n, 'host' if env.host_ns.get(n) == v else 'new'))
                else:
                        ns.append(l)
        f['ns'] = '\n'.join(ns)
        for k in ('hostname', 'cwd', 'env', 'statfs', 'lists'):
                f[k] = '\n'.join(sec.get(k, []))
        stats = []
        for l in sec.get('stats', []):
                p = l.split('|')
                if len(p) == 7:
                        if p[1] != 'regular file' and p[1] != 'regular empty file':
                                p[5] = ''
                        l = '|'.join(p)
                stats.append(l)
        f['stats'] = '\n'.join(stats)
        if 'before' in sec:
                f['stdout-before-probe'] = '\n'.join(sec['before'])
        return f


SANITIZER = re.compile(r'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|'
                       r'ThreadSanitizer|MemorySanitizer')


def normalise(case, raw, env):
        f = {}
        f['exit'] = str(raw['rc'])
        err = norm_paths(raw['stderr'], raw, env)
        f['stderr'] = err.split('\n', 1)[0] if err else ''
        out = norm_paths(raw['stdout'], raw, env)
        if case.probe and ('@end' in out or '@status' in out or '@noproc' in out):
                f.update(parse_probe(out, env))
        else:
                f['stdout'] = out
        if raw['json']:
                f['json-status'] = norm_json(norm_paths(raw['json'], raw, env), True)
        if raw['info']:
                f['info'] = norm_json(norm_paths(raw['info'], raw, env), False)
        if raw['left']:
                f['left-behind'] = ' '.join(raw['left'])
        return {k: v for k, v in f.items() if v != ''}

# ---------------------------------------------------------------- deliberate


class Deliberate:
        """deliberate.txt: sections of
               [name]
               reason       = why csand differs (required)
               cmdline      = regex searched in the case's command line
               field        = regex matched against the whole field name
               bwrap        = regex searched in bwrap's value of the field
               csand        = regex searched in csand's value of the field
               bwrap-stderr = regex searched in bwrap's first stderr line
               csand-stderr = regex searched in csand's first stderr line
               pending      = who fixes it: not deliberate, a known difference
                              whose fix is under way (the case is TAP TODO)
        A differing field (for mounts and stats: one mount point or path)
        is covered by the first entry all of whose given keys match.  The
        -stderr keys describe the whole case: a deliberate refusal makes
        every field differ."""
        KEYS = ('cmdline', 'field', 'bwrap', 'csand', 'bwrap-stderr', 'csand-stderr')
        TEXT_KEYS = ('reason', 'pending')

        def __init__(self, path):
                cp = configparser.ConfigParser(interpolation=None)
                with open(path) as f:
                        cp.read_file(f)
                self.entries = []
                for name in cp.sections():
                        s = cp[name]
                        if 'reason' not in s:
                                raise SystemExit('%s: [%s] has no reason' % (path, name))
                        unknown = set(s) - set(self.KEYS) - set(self.TEXT_KEYS)
                        if unknown:
                                raise SystemExit('%s: [%s]: unknown keys %s' % (path, name, ', '.join(sorted(unknown))))
                        e = {'name': name, 'reason': ' '.join(s['reason'].split())}
                        if 'pending' in s:
                                e['pending'] = ' '.join(s['pending'].split())
                        for k in self.KEYS:
                                if k in s:
                                        e[k] = re.compile(s[k].strip(), re.M)
                        self.entries.append(e)
                self.used = {e['name']: 0 for e in self.entries}

        def match(self, cmdline, field, bv, cv, nb, nc):
                values = {'cmdline': cmdline, 'bwrap': bv or '', 'csand': cv or '',
                          'bwrap-stderr': nb.get('stderr', ''), 'csand-stderr': nc.get('stderr', '')}
                for e in self.entries:
                        if 'field' in e and not e['field'].fullmatch(field):
                                continue
                        if all(e[k].search(values[k]) for k in values if k in e):
                                return e
                return None

# ---------------------------------------------------------------- main


# fields compared line by line, keyed by their first word: each mount point
# and each path is a difference of its own
KEYED = {'mounts': ' ', 'stats': '|'}


def field_diffs(nb, nc):
        """[(field, label, bwrap value, csand value)] for what differs."""
        out = []
        for k in sorted(set(nb) | set(nc), key=lambda k: (k not in ('exit', 'stderr'), k)):
                bv, cv = nb.get(k), nc.get(k)
                if bv == cv:
                        continue
                if k in KEYED and bv is not None and cv is not None:
                        sep = KEYED[k]
                        bd = {l.split(sep, 1)[0]: l for l in bv.split('\n')}
                        cd = {l.split(sep, 1)[0]: l for l in cv.split('\n')}
                        keys = list(bd) + [x for x in cd if x not in bd]
                        for key in keys:
                                if bd.get(key) != cd.get(key):
                                        out.append((k, '%s %s' % (k, key), bd.get(key), cd.get(key)))
                        if [x for x in bd if x in cd] != [x for x in cd if x in bd]:
                                out.append((k, k + ' order', bv, cv))
                else:
                        out.append((k, k, bv, cv))
        return out


def compare(env, case, delib):
        rb = run_one(env, case, 'bwrap')
        rc = run_one(env, case, 'csand')
        nb, nc = normalise(case, rb, env), normalise(case, rc, env)
        cmd = case.display()
        diffs = [(label, bv, cv, delib.match(cmd, k, bv, cv, nb, nc))
                 for k, label, bv, cv in field_diffs(nb, nc)]
        sanitizer = SANITIZER.search(rc['stderr'])
        return case, rb, rc, nb, nc, diffs, sanitizer


def show_diff(k, bv, cv, limit=24):
        lines = []
        bl = (bv if bv is not None else '(absent)').split('\n')
        cl = (cv if cv is not None else '(absent)').split('\n')
        if len(bl) == 1 and len(cl) == 1:
                lines.append('%s: bwrap: %s' % (k, bl[0]))
                lines.append('%s: csand: %s' % (k, cl[0]))
        else:
                lines.append('%s: (- bwrap, + csand)' % k)
                d = list(difflib.unified_diff(bl, cl, lineterm='', n=1))[2:]
                lines += ['  ' + x for x in d[:limit]]
                if len(d) > limit:
                        lines.append('  ... %d more lines' % (len(d) - limit))
        return lines


def tap_escape(s):
        return s.replace('\\', '\\\\').replace('#', '\\#').replace('\n', ' ')


def main():
        ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
        ap.add_argument('--cases', type=int, default=int(os.environ.get('CSAND_DIFF_CASES', DEFAULT_CASES)))
        ap.add_argument('--seed', default=os.environ.get('CSAND_DIFF_SEED', str(DEFAULT_SEED)))
        ap.add_argument('--jobs', type=int, default=int(os.environ.get('CSAND_DIFF_JOBS', 3)))
        ap.add_argument('--first', type=int, default=1, help='first case number')
        ap.add_argument('--show', type=int, help='run case N and print everything')
        ap.add_argument('--list', action='store_true', help='print the command lines only')
        ap.add_argument('--deliberate', default=os.path.join(HERE, 'deliberate.txt'))
        a = ap.parse_args()

        if a.list:
                for n in range(a.first, a.first + a.cases):
                        print('%d: %s' % (n, gen_case(a.seed, n).display()))
                return 0

        csand = os.environ.get('CSAND') or os.path.join(HERE, '..', '..', 'build', 'csand')
        bwrap = os.environ.get('CSAND_DIFF_BWRAP', '/usr/bin/bwrap')
        ci = os.environ.get('CI') == 'true'
        if os.geteuid() == 0:
                # privileged bwrap is another program (no user namespace implied)
                print('1..0 # SKIP the differential tier compares unprivileged runs; running as root')
                return 0
        if not os.access(bwrap, os.X_OK):
                if ci:
                        print('1..1\nnot ok 1 - %s is missing (CI=true: install bubblewrap, tools/install-deps.sh)' % bwrap)
                        return 1
                print('1..0 # SKIP %s is missing (Debian: bubblewrap)' % bwrap)
                return 0
        if not os.access(csand, os.X_OK):
                print('1..1\nnot ok 1 - csand binary %s is missing' % csand)
                return 1
        # csand under ASan: leaks are not this tier's business, and
        # LeakSanitizer can't run without /proc (most sandboxes here)
        os.environ.setdefault('ASAN_OPTIONS', 'detect_leaks=0:halt_on_error=1')
        os.umask(0o022)
        delib = Deliberate(a.deliberate)
        env = Env(csand, bwrap)
        try:
                if a.show is not None:
                        return show(env, gen_case(a.seed, a.show), delib)
                return run_all(env, a, delib)
        finally:
                env.cleanup()


def show(env, case, delib):
        case, rb, rc, nb, nc, diffs, san = compare(env, case, delib)
        print('case %d: %s' % (case.n, case.display()))
        for name, r, n in (('bwrap', rb, nb), ('csand', rc, nc)):
                print('==== %s: argv' % name)
                print(' '.join(shlex.quote(x) for x in r['argv'][13:]).replace(shlex.quote(PROBE), 'PROBE'))
                print('==== %s: exit %s, stderr:\n%s' % (name, r['rc'], r['stderr']))
                print('==== %s: stdout:\n%s' % (name, r['stdout']))
                if r['json'] or r['info']:
                        print('==== %s: json-status:\n%s\n==== info:\n%s' % (name, r['json'], r['info']))
        print('==== differences')
        for k, bv, cv, e in diffs:
                for l in show_diff(k, bv, cv, 200):
                        print(l)
                if e:
                        print('  deliberate: [%s] %s' % (e['name'], e['reason']))
        if san:
                print('csand: sanitizer report')
        return 0


def run_all(env, a, delib):
        cases = [gen_case(a.seed, n) for n in range(a.first, a.first + a.cases)]
        print('1..%d' % len(cases))
        print('# seed %s (CSAND_DIFF_SEED), %d cases, bwrap %s vs csand %s' %
              (a.seed, len(cases), env.bwrap, os.readlink(env.csand_link)))
        sys.stdout.flush()
        failed = differing = listed = pending = bwrap_ok = 0
        fields = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
                for i, res in enumerate(ex.map(lambda c: compare(env, c, delib), cases), 1):
                        case, rb, rc, nb, nc, diffs, san = res
                        unlisted = [d for d in diffs if d[3] is None]
                        waiting = sorted({d[3]['pending'] for d in diffs if d[3] and 'pending' in d[3]})
                        ok = not unlisted and not san
                        desc = tap_escape(case.display())
                        if ok and waiting:
                                # a known difference whose fix is on its way:
                                # TAP's TODO (meson: expected failure)
                                print('not ok %d - %s # TODO pending: %s' % (i, desc, tap_escape('; '.join(waiting))))
                                pending += 1
                        else:
                                print('%s %d - %s' % ('ok' if ok else 'not ok', i, desc))
                        if rb['rc'] == 0:
                                bwrap_ok += 1
                        if diffs:
                                differing += 1
                                if ok:
                                        listed += 1
                        if san:
                                print('# csand: sanitizer report:')
                                for l in rc['stderr'].split('\n')[:30]:
                                        print('#   ' + l)
                        covered = {}
                        for k, bv, cv, e in diffs:
                                f = k.split(' ')[0]
                                fields[f] = fields.get(f, 0) + 1
                                if e:
                                        covered.setdefault(e['name'], []).append(k)
                                else:
                                        for l in show_diff(k, bv, cv):
                                                print('# ' + l)
                        for name, ks in covered.items():
                                delib.used[name] += 1
                                print('# listed [%s]: %s' % (name, ', '.join(ks)))
                        if not ok:
                                failed += 1
                        sys.stdout.flush()
        print('# %d cases (bwrap exited 0 in %d), %d differing: %d only in listed ways '
              '(%d of them pending fixes), %d failed' %
              (len(cases), bwrap_ok, differing, listed, pending, failed))
        print('# differing fields: ' + ', '.join('%s %d' % kv for kv in sorted(fields.items())))
        print('# cases per deliberate.txt entry: ' + ', '.join('%s %d' % kv for kv in delib.used.items()))
        for e in delib.entries:
                if delib.used[e['name']]:
                        print('# [%s]%s: %s' % (e['name'], ' (pending: %s)' % e['pending'] if 'pending' in e else '',
                                                e['reason']))
        return 1 if failed else 0


if __name__ == '__main__':
        sys.exit(main())
