#!/usr/bin/env bats
# Attacks on the registry of running sandboxes (--name, --join, --list,
# --stop; utils/registry.c, utils/join.c). The registry directory is hidden
# inside every sandbox (names.bats, state-dirs.bats); these attacks come
# from whoever can still write it: the user's own processes outside
# sandboxes, some of them confined otherwise (a Landlock domain that lets
# them write $XDG_RUNTIME_DIR but not signal the user's other processes, a
# service with ProtectHome=), and from what a sandbox's command line may
# hold (an image's Cmd).

load ../lib/common

setup() {
        common_setup
        require_userns
        NAMES=$CSAND_RUNTIME_DIR/csand/names
        BG_PIDS=()
        export TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR"
        mkdir -p -m 0700 "$CSAND_RUNTIME_DIR/csand" "$NAMES"
}

teardown() {
        local p n
        # (first: a FIFO left by a failed test would hang an old --list)
        rm -f "$NAMES"/forged.* "$NAMES"/fifo.* "$NAMES/ready"
        for n in $("$CSAND" --list | cut -d" " -f1); do
                "$CSAND" --stop "$n" --stop-timeout 5 || true
        done
        for p in "${BG_PIDS[@]}"; do
                stop_pid "$p" 20
        done
        common_teardown
}

# start NAME ARGS...: a sandbox named NAME in the background, once listed.
start() {
        local name=$1
        shift
        closefds "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" --name "$name" "$@" \
                >"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" </dev/null &
        BG_PIDS+=($!)
        poll_until 200 listed "$name" || {
                cat "$BATS_TEST_TMPDIR/$name.err"
                fail "sandbox $name never showed up in --list"
        }
}

listed() {
        "$CSAND" --list | grep -q "^$1 "
}

# forge NAME MONITOR CHILD [ignore-term] [ofd] [version=N]: a process of
# the user's that holds NAME's lock and writes a record naming MONITOR and
# CHILD (pids, with their real start times: "self" is the forger itself,
# "kid" a child of its own), as a process that can write the registry can;
# returns once it is in place. ofd: the lock an OFD lock, as an older
# csand's monitor held (before the POSIX lock); version=N: the record's
# first line "version N", as a newer csand's would be.
forge() {
        mkfifo "$NAMES/ready"
        python3 - "$NAMES" "$@" "$CSAND_TOKEN" <<'EOF' &
import fcntl, os, signal, struct, subprocess, sys, time
d, name, mon, child = sys.argv[1:5]
if "ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
version = next((a[8:] for a in sys.argv if a.startswith("version=")), "1")
kid = None
if "kid" in (mon, child):
        kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", sys.argv[-1]])
        # SIGTERM ends the forger with its child (unless ignore-term)
        if "ignore-term" not in sys.argv:
                signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
def pid(p): return os.getpid() if p == "self" else kid.pid if p == "kid" else int(p)
def start(p): return open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[19]
f = open(f"{d}/{name}.lock", "w")
if "ofd" in sys.argv:
        # struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD)
        fcntl.fcntl(f, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
else:
        fcntl.lockf(f, fcntl.LOCK_EX)
m, c = pid(mon), pid(child)
with open(f"{d}/{name}.rec", "w") as r:
        r.write(f"version {version}\nname {name}\nmonitor {m} {start(m)}\nchild {c} {start(c)}\n"
                "init 0\nnew-session 0\nuid 0\ngid 0\ncaps 0\nstarted 0\narg forged\nend\n")
open(f"{d}/ready", "w").close()
try:
        time.sleep(300)
finally:
        if kid:
                kid.kill()
EOF
        BG_PIDS+=($!)
        cat "$NAMES/ready" >/dev/null
        rm "$NAMES/ready"
}

@test "a forged registration can't make --stop signal a process that is not the lock holder and its child" {
        python3 -c "import time; time.sleep(300)" "$CSAND_TOKEN" &
        local victim=$!
        BG_PIDS+=($victim)
        # The record names the victim as the monitor (and the child).
        forge forged "$victim" "$victim"
        run --separate-stderr "$CSAND" --stop forged --stop-timeout 0
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named forged (see --list)"
        kill -0 "$victim"
        run "$CSAND" --list
        assert_output ""
        stop_pid "${BG_PIDS[-1]}"
        rm -f "$NAMES"/forged.*

        # The forger as the monitor (it holds the lock, ignores SIGTERM),
        # the victim as the child: SIGKILL after the grace time would reach it.
        forge forged self "$victim" ignore-term
        run --separate-stderr "$CSAND" --stop forged --stop-timeout 0
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named forged (see --list)"
        kill -0 "$victim"
        run --separate-stderr "$CSAND" --join forged -- true
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named forged (see --list)"
}

# alive PID...: each still runs (not signalled by --stop).
alive() {
        local p
        for p in "$@"; do
                kill -0 "$p" || fail "$p was killed"
        done
}

# assert_unusable WHY: the sandbox "forged" runs, and its registration is
# one this csand can't use, for WHY: --list (and --json) says so, --join
# and --stop refuse it, saying why.
assert_unusable() {
        local why=$1
        run --separate-stderr "$CSAND" --list
        assert_success
        assert_output "forged - - $why"
        run --separate-stderr "$CSAND" --list --json
        assert_success
        python3 -c 'import json, sys; assert json.load(sys.stdin) == [{"name": "forged", "error": sys.argv[1]}]' \
                "$why" <<<"$output" || fail "--list --json: $output"
        run --separate-stderr "$CSAND" --join forged -- true
        assert_csand_error
        assert_equal "$msg" "csand: The sandbox forged was $why; use that csand to join or stop it"
        run --separate-stderr "$CSAND" --stop forged --stop-timeout 0
        assert_csand_error
        assert_equal "$msg" "csand: The sandbox forged was $why; use that csand to join or stop it"
}

@test "a newer csand's registration (record version 2): listed as such; --join and --stop refuse it, naming why, and signal nothing" {
        python3 -c "import time; time.sleep(300)" "$CSAND_TOKEN" &
        local victim=$! why="started by a newer csand (record version 2)"
        BG_PIDS+=($victim)
        forge forged self "$victim" version=2
        local forger=${BG_PIDS[-1]}
        assert_unusable "$why"
        alive "$victim" "$forger"
        # a version this csand reads or none at all is what it was: the
        # version line alone is not enough to be listed
        stop_pid "$forger"
        rm -f "$NAMES"/forged.*
        forge forged self "$victim" version=x2
        run --separate-stderr "$CSAND" --stop forged --stop-timeout 0
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named forged (see --list)"
        run "$CSAND" --list
        assert_output ""
        stop_pid "${BG_PIDS[-1]}"
        rm -f "$NAMES"/forged.*
        # a newer csand's record whose lock nobody holds is no sandbox
        forge forged self "$victim" version=2
        stop_pid "${BG_PIDS[-1]}"
        run "$CSAND" --list
        assert_output ""
        run --separate-stderr "$CSAND" --join forged -- true
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named forged (see --list)"
        alive "$victim"
}

@test "an older csand's registration (its OFD lock names no holder): listed as unverifiable; --join and --stop refuse it, and signal nothing" {
        local why="started by an older csand and can't be verified (its lock names no process)"
        # As an older csand's monitor would be: the lock holder, and its
        # child; all that is missing is the kernel's word that the holder
        # is the monitor, which an OFD lock does not give.
        forge forged self kid ofd
        local forger=${BG_PIDS[-1]} kid
        kid=$(pgrep -P "$forger")
        [ -n "$kid" ] || fail "the forger has no child"
        assert_unusable "$why"
        alive "$forger" "$kid"
        # the name stays taken while the lock is held
        run --separate-stderr "$CSAND" "${csand_min_root[@]}" --name forged true
        assert_csand_error
        alive "$forger" "$kid"
}

@test "FIFOs in the registry: --list, --join, --stop and --name neither hang nor use them" {
        # (timeout only ends a hang: the old code blocked here forever)
        mkfifo "$NAMES/fifo.lock"
        run --separate-stderr timeout 60 "$CSAND" --list
        assert_success
        assert_output ""
        run --separate-stderr timeout 60 "$CSAND" --join fifo -- true
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named fifo (see --list)"
        run --separate-stderr timeout 60 "$CSAND" "${csand_min_root[@]}" --name fifo true
        assert_csand_error
        assert_equal "$msg" "csand: Can't register --name fifo: fifo.lock is not a regular file"
        rm "$NAMES/fifo.lock"

        # A held lock, and a FIFO as the record.
        forge forged self self
        rm "$NAMES/forged.rec"
        mkfifo "$NAMES/forged.rec"
        run --separate-stderr timeout 60 "$CSAND" --list
        assert_success
        assert_output ""
        run --separate-stderr timeout 60 "$CSAND" --join forged -- true
        assert_csand_error
        run --separate-stderr timeout 60 "$CSAND" --stop forged
        assert_csand_error
        assert_equal "$msg" "csand: No running sandbox named forged (see --list)"
}

# add_record_line NAME LINE: LINE added to NAME's record before its "end", as a
# newer csand (or anyone who can write the directory) would write it.
add_record_line() {
        python3 - "$NAMES/$1.rec" "$2" <<'EOF'
import os, sys
path, line = sys.argv[1:3]
data = open(path).read()
assert data.endswith("end\n")
open(path + ".tmp", "w").write(data[:-4] + line + "\nend\n")
os.rename(path + ".tmp", path)
EOF
}

@test "--join fails closed on a registration key this csand does not know; --list and --stop still work" {
        start newer "${csand_min_root[@]}" --proc /proc --unshare-pid sleep 300
        cp "$NAMES/newer.rec" "$BATS_TEST_TMPDIR/newer.rec"
        local key
        for key in "frobnicate-fs 1" "landlock-frobnicate b 1 2"; do
                cp "$BATS_TEST_TMPDIR/newer.rec" "$NAMES/newer.rec"
                add_record_line newer "$key"
                run --separate-stderr "$CSAND" --join newer -- echo joined
                assert_csand_error
                assert_equal "$msg" "csand: Can't join newer: its registration has \"${key%% *}\", which this csand does not know (a newer csand started it?), so the joined command could miss a restriction of the sandbox"
        done
        run "$CSAND" --list
        assert_output --regexp "^newer [0-9]+ .* sleep 300$"
        # Informational keys, by their prefix, don't stop a join.
        cp "$BATS_TEST_TMPDIR/newer.rec" "$NAMES/newer.rec"
        add_record_line newer "info-frobnicate whatever"
        run --separate-stderr "$CSAND" --join newer -- echo joined
        assert_success
        assert_output joined
        run "$CSAND" --stop newer
        assert_success
        [ ! -e "$NAMES/newer.rec" ]
}

@test "--list and --list --json escape what a sandbox's command line holds (an image's Cmd could)" {
        local hostile=$'\e]0;PWNED\a\e[2J' c1=$'\x7f\xc2\x9b31m\xff' nl=$'a\nb'
        start esc "${csand_min_root[@]}" --unshare-pid sh -c 'sleep 300' "$hostile" "$c1" "$nl"
        "$CSAND" --list >"$BATS_TEST_TMPDIR/list"
        "$CSAND" --list --json >"$BATS_TEST_TMPDIR/json"
        python3 - "$BATS_TEST_TMPDIR/list" "$BATS_TEST_TMPDIR/json" <<'EOF'
import json, re, sys
text = open(sys.argv[1], "rb").read()
raw = open(sys.argv[2], "rb").read()
# one line, no control byte but its newline, no DEL, no C1, valid UTF-8
for what, out in (("--list", text), ("--json", raw)):
        body = out.rstrip(b"\n").replace(b"\n", b"") if what == "--json" else out[:-1]
        assert not re.search(rb"[\x00-\x1f\x7f]|\xc2[\x80-\x9f]", body), (what, out)
        out.decode("utf-8")
assert text.count(b"\n") == 1, text
assert text.endswith(b" sh -c sleep 300 \\x1b]0;PWNED\\x07\\x1b[2J \\x7f\\xc2\\x9b31m\\xff a\\x0ab\n"), text
l = json.loads(raw)
assert l[0]["command"] == ["sh", "-c", "sleep 300", "\x1b]0;PWNED\x07\x1b[2J", "\x7f\x9b31m\ufffd", "a\nb"], l
EOF
}
