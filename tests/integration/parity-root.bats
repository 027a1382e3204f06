#!/usr/bin/env bats
# Building the new root, side by side with the real bwrap (issue 14, known
# differences 1, 2, 3, 5, 11, 12, 13, 15 and the order of checks in 16).
# Each case runs the same command line under /usr/bin/bwrap and under csand
# linked as `bwrap` (so that messages carry the same name) and compares what
# a user sees: exit status, output, messages.

load ../lib/common

setup() {
        common_setup
        require_userns
        require_feature "bwrap (the reference)" test -x /usr/bin/bwrap
        mkdir -p "$TESTDIR/bin"
        ln -s "$CSAND" "$TESTDIR/bin/bwrap"
        root=(--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64)
}

teardown() {
        common_teardown
}

# side_by_side ARGS...: runs ARGS under bwrap and under csand as bwrap
# (in $RUN_IN if set); $ref and $ours hold "status|output" of each (stdout
# and stderr merged).
side_by_side() {
        local out st
        out=$(cd "${RUN_IN:-$PWD}" && closefds /usr/bin/bwrap "$@" 2>&1) && st=0 || st=$?
        ref="$st|$out"
        out=$(cd "${RUN_IN:-$PWD}" && TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                closefds "$TESTDIR/bin/bwrap" "$@" 2>&1) && st=0 || st=$?
        ours="$st|$out"
}

assert_same() {
        side_by_side "$@"
        [ "$ref" = "$ours" ] || fail "$(printf 'bwrap: %s\ncsand: %s' "$ref" "$ours")"
}

@test "1, 15: --proc without a pid namespace binds the caller's /proc, nosuid,nodev, as bwrap" {
        assert_same --ro-bind / / --proc /proc true
        assert_same --ro-bind / / --proc /proc sh -c 'findmnt -n -o FSTYPE,OPTIONS /proc | tail -1 | tr -s " " | cut -d, -f1-3'
        [ "$ours" = "0|proc rw,nosuid,nodev" ] || fail "$ours"
        # the caller's processes are visible, as they are with bwrap
        assert_same --ro-bind / / --proc /proc sh -c "test -d /proc/$$ && echo sees-caller"
        [ "$ours" = "0|sees-caller" ] || fail "$ours"
        # opam's sandbox.sh shape: no --unshare-pid
        assert_same "${root[@]}" --unshare-net --new-session --die-with-parent --proc /proc --dev /dev \
                --tmpfs /tmp sh -c 'echo built > /tmp/x && cat /tmp/x'
}

@test "1: /proc/sys stays read-only when the caller's /proc has a submount below it" {
        # The outer sandbox's /proc has a tmpfs below /proc/sys (as a host's
        # has binfmt_misc); the inner csand binds that /proc.
        run csand --ro-bind / / --unshare-pid --proc /proc --tmpfs /proc/sys/fs/binfmt_misc -- \
                "$CSAND" --ro-bind / / --proc /proc sh -c '
                        touch /proc/sys/fs/binfmt_misc/x 2>&1 || true
                        findmnt -n -o OPTIONS /proc/sys/fs/binfmt_misc | cut -d, -f1'
        assert_success
        assert_line --partial "Read-only file system"
        assert_line ro
}

@test "2: a source through a relative symlink climbing to / (flatpak's /etc/os-release) is the caller's" {
        [ -L /etc/os-release ] || skip "this system's /etc/os-release is not a symlink"
        expected=$(cat /etc/os-release)
        # before the new root has a /usr of its own, after a --tmpfs /, and
        # after a /usr of another tree: always the caller's file
        assert_same --ro-bind /etc/os-release /run/host/os-release "${root[@]}" cat /run/host/os-release
        [ "$ours" = "0|$expected" ] || fail "$ours"
        assert_same --tmpfs / --ro-bind /etc/os-release /x "${root[@]}" cat /x
        [ "$ours" = "0|$expected" ] || fail "$ours"
        mkdir -p "$TESTDIR/fakeusr/lib"
        echo fake >"$TESTDIR/fakeusr/lib/os-release"
        assert_same --ro-bind "$TESTDIR/fakeusr" /usr --ro-bind /etc/os-release /x "${root[@]}" cat /x
        [ "$ours" = "0|$expected" ] || fail "$ours"
        assert_same --ro-bind-try /etc/os-release /x "${root[@]}" cat /x
        [ "$ours" = "0|$expected" ] || fail "$ours"
}

@test "2: '..' in a source, relative sources and relative symlinks resolve in the caller's view" {
        mkdir -p "$TESTDIR/d/e"
        echo there >"$TESTDIR/d/f"
        ln -s ../f "$TESTDIR/d/e/up"
        ln -s ../../../../../../../../../../../../etc/hostname "$TESTDIR/d/deep"
        # the new root has its own /etc and /usr: a source must not see them
        assert_same "${root[@]}" --tmpfs /etc --ro-bind "$TESTDIR/d/e/up" /a --ro-bind "$TESTDIR/d/deep" /b \
                --ro-bind "$TESTDIR/d/e/../f" /c sh -c 'cat /a /b /c'
        [ "$ours" = "0|$(printf 'there\n%s\nthere' "$(cat /etc/hostname)")" ] || fail "$ours"
        RUN_IN="$TESTDIR/d/e" assert_same "${root[@]}" --ro-bind ../f /a --ro-bind up /b cat /a /b
        [ "$ours" = "0|$(printf 'there\nthere')" ] || fail "$ours"
}

@test "3: --bind / / leaves nothing of csand's over the root: nested user namespaces work" {
        assert_same --bind / / --unshare-user sh -c 'findmnt -n -o FSTYPE / ; unshare -U true && echo nested-ok'
        [ "$ours" = "0|$(findmnt -n -o FSTYPE /)
nested-ok" ] || fail "$ours"
        assert_same --bind / / sh -c "$(printf '%q ' /usr/bin/bwrap --ro-bind / / true) && echo bwrap-inside-ok"
        [ "$ours" = "0|bwrap-inside-ok" ] || fail "$ours"
        assert_same --ro-bind / / --unshare-user --disable-userns sh -c 'unshare -U true 2>&- || echo refused'
        [ "$ours" = "0|refused" ] || fail "$ours"
        side_by_side --ro-bind / / --unshare-user --assert-userns-disabled true
        [ "${ref%%|*}" = 1 ] && [ "${ours%%|*}" = 1 ] || fail "$(printf 'bwrap: %s\ncsand: %s' "$ref" "$ours")"
}

@test "3: the mount table of a --ro-bind / / sandbox is bwrap's, plus the covers of csand's own state" {
        # (deliberate: csand's cache and runtime directories are hidden, see SECURITY.md)
        export XDG_CACHE_HOME=$TESTDIR/cache
        local state="$XDG_CACHE_HOME/csand|$CSAND_RUNTIME_DIR/csand"
        assert_same --ro-bind / / sh -c "awk '{ print \$5, \$9 }' /proc/self/mountinfo | grep -Ev '^($state) '"
        run csand --ro-bind / / findmnt -l -n -o TARGET,FSTYPE,OPTIONS
        assert_line --regexp "^$XDG_CACHE_HOME/csand +tmpfs +ro,"
        assert_line --regexp "^$CSAND_RUNTIME_DIR/csand +tmpfs +ro,"
}

# A first bind onto "/" is the new root itself (csand mounts no tmpfs
# under it); a -try one that binds nothing leaves the usual tmpfs root, and
# a bind onto "/" after other operations covers what they made. What the
# sandbox sees of its root is bwrap's each time: the root's file system and
# flags, its entries, where ".." from it leads, and that the mounts after
# it land in it.
@test "a first bind onto / is the root, a -try that binds nothing leaves a tmpfs root, as in bwrap" {
        # (no awk in the sandbox: the root's last line of mountinfo, its
        # flags and type, by sh)
        local show='while read -r id parent dev r mp opts rest; do
                        [ "$mp" = / ] && t=" $rest" && t=${t#* - } && root="$opts ${t%% *}"
                done </proc/self/mountinfo; echo "$root"
                ls -a / | tr "\n" " "; echo; ls -di / /.. | tr -s " " | cut -d" " -f1 | uniq | wc -l'
        assert_same --ro-bind / / --proc /proc sh -c "$show"
        assert_same --ro-bind /usr / --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
                --symlink usr/lib64 /lib64 --proc /proc --tmpfs /tmp sh -c "$show; ls -d /tmp"
        assert_same --ro-bind-try "$TESTDIR/missing" / "${root[@]}" --proc /proc --dir /made sh -c "$show"
        [[ $ours == "0|rw,nosuid,nodev"*" tmpfs"* ]] || fail "not a tmpfs root: $ours"
        assert_same "${root[@]}" --dir /made --bind / / --proc /proc sh -c "$show; ls -d /made 2>&1"
}

@test "a tmpfs root is bwrap's: its scaffold's newroot/ bound onto itself, with the same options" {
        # mountinfo's root field and the tmpfs's own options, and the mode
        local show='while read -r id parent dev r mp opts rest; do
                        [ "$mp" = / ] && t=" $rest" && root="$r $opts ${t#* - }"
                done </proc/self/mountinfo; echo "$root"; stat -c %a /'
        assert_same "${root[@]}" --proc /proc sh -c "$show"
        [[ $ours == "0|/newroot rw,nosuid,nodev,"*" tmpfs tmpfs rw,uid=$(id -u),gid=$(id -g)"$'\n'755 ]] || fail "$ours"
        assert_same "${root[@]}" --proc /proc --unshare-all --dev /dev --uid 0 sh -c "$show"
}

@test "5: --dev nodes are not noexec: /dev/zero maps executable, as with bwrap" {
        assert_same "${root[@]}" --dev /dev python3 -c '
import mmap
f = open("/dev/zero", "rb")
mmap.mmap(f.fileno(), 4096, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_EXEC)
print("mapped")'
        [ "$ours" = "0|mapped" ] || fail "$ours"
}

@test "11: --remount-ro adds nodev and nosuid, as bwrap's" {
        assert_same "${root[@]}" --proc /proc --dev /dev --tmpfs /t --dev-bind /dev /t/d --remount-ro /t/d sh -c '
                findmnt -n -o OPTIONS /t/d | cut -d, -f1-3; echo x 2>/dev/null >/t/d/null || echo write-refused'
        [ "$ours" = "0|$(printf 'ro,nosuid,nodev\nwrite-refused')" ] || fail "$ours"
}

@test "12: a dangling relative symlink as a destination: its target is made, inside the root" {
        echo content >"$TESTDIR/file"
        assert_same "${root[@]}" --symlink nowhere /p --ro-bind "$TESTDIR/file" /p sh -c 'cat /nowhere /p'
        [ "$ours" = "0|$(printf 'content\ncontent')" ] || fail "$ours"
        # (each with an fd of its own: the offset is shared)
        local b
        for b in /usr/bin/bwrap "$TESTDIR/bin/bwrap"; do
                run closefds env F="$TESTDIR/file" sh -c 'exec "$@" 5<"$F"' sh \
                        "$b" "${root[@]}" --symlink nowhere /p --file 5 /p cat /nowhere
                assert_success
                assert_output content
        done
        assert_same "${root[@]}" --symlink nowhere /p --dir /p sh -c 'test -L /p && ! test -e /nowhere && echo as-before'
        [ "$ours" = "0|as-before" ] || fail "$ours"
}

@test "13: a destination that a symlink turns into the sandbox's / is refused (deliberately unlike bwrap 0.8)" {
        mkdir -p "$TESTDIR/data"
        run --separate-stderr csand "${root[@]}" --symlink / /data --ro-bind "$TESTDIR/data" /data true
        assert_csand_error
        assert_equal "$msg" "csand: Can't mount on /data: it resolves to the sandbox's root"
        # "/" itself may still be mounted over, and so may a path naming it by letters
        run csand --ro-bind / / --tmpfs /. "${root[@]}" sh -c 'test -x /bin/sh && ! test -e /etc && echo ok'
        assert_success
        assert_output ok
}

@test "16: every source is checked before the first operation, as bwrap names the problem" {
        echo x >"$TESTDIR/file"
        # an earlier operation would fail (a directory under a file), but the missing source is named
        assert_same "${root[@]}" --ro-bind "$TESTDIR/file" /f --dir /f/sub --ro-bind "$TESTDIR/nope" /y true
        [[ "$ours" == "1|bwrap: Can't find source path $TESTDIR/nope: No such file or directory" ]] || fail "$ours"
        assert_same "${root[@]}" --ro-bind-try "$TESTDIR/nope1" /a --ro-bind "$TESTDIR/nope2" /b true
        [[ "$ours" == "1|bwrap: Can't find source path $TESTDIR/nope2: No such file or directory" ]] || fail "$ours"
}

@test "16: nothing reaches the caller's files before a missing source is named, as bwrap" {
        # csand looks at the sources ahead only where going on would differ;
        # its state directories made already, so that their making is not one
        mkdir -p "$TESTDIR/w" "$TESTDIR/f" "$CSAND_RUNTIME_DIR/csand" "${XDG_CACHE_HOME:-$HOME/.cache}/csand"
        mkfifo "$TESTDIR/f/fifo"
        exec 7<>"$TESTDIR/f/fifo"
        # an op after a writable bind: a new directory in the caller's
        assert_same "${root[@]}" --bind "$TESTDIR/w" /w --dir /w/new --ro-bind "$TESTDIR/nope" /y true
        [[ "$ours" == "1|bwrap: Can't find source path $TESTDIR/nope: No such file or directory" ]] || fail "$ours"
        [ ! -e "$TESTDIR/w/new" ] || fail "$TESTDIR/w/new was made"
        # a bind after a writable bind: its mount point in the caller's directory
        assert_same "${root[@]}" --bind "$TESTDIR/w" /w --ro-bind /usr /w/usr --ro-bind "$TESTDIR/nope" /y true
        [ ! -e "$TESTDIR/w/usr" ] || fail "$TESTDIR/w/usr was made"
        # --file through a read-only bind: a FIFO takes the data all the same
        assert_same "${root[@]}" --ro-bind "$TESTDIR/f" /f --file 0 /f/fifo --ro-bind "$TESTDIR/nope" /y true <<<data
        [[ "$ours" == "1|bwrap: Can't find source path $TESTDIR/nope: No such file or directory" ]] || fail "$ours"
        ! read -r -t 0 -u 7 || fail "data went into the caller's FIFO"
        exec 7<&-
        # csand's own state directories are not made either
        run env XDG_CACHE_HOME="$TESTDIR/cache" XDG_RUNTIME_DIR="$TESTDIR/run" "$CSAND" "${root[@]}" \
                --ro-bind /usr/share /s --ro-bind "$TESTDIR/nope" /y true
        assert_failure
        [ ! -e "$TESTDIR/cache/csand" ] && [ ! -e "$TESTDIR/run/csand" ] || fail "a state directory was made"
}

@test "--tmpfs, --mqueue and --dev mounts carry bwrap's sources and flags" {
        assert_same "${root[@]}" --proc /proc --tmpfs /t --mqueue /mq --unshare-ipc --dev /d \
                sh -c 'findmnt -l -n -o TARGET,SOURCE,FSTYPE,OPTIONS | grep -E "^/(t|mq|d|d/null|d/pts) " |
                        while read -r t s f o; do
                                echo "$t $s $f $(echo "$o" | tr , "\n" | grep -xE "ro|rw|nosuid|nodev|noexec" | tr "\n" ,)"
                        done'
}

@test "a destination with '..' is made as bwrap makes it" {
        assert_same "${root[@]}" --dir /a/../b --tmpfs /c/./d/.. sh -c 'ls -d /a /b /c; test -e /c/d || echo no-d'
        [ "$ours" = "0|$(printf '/a\n/b\n/c\nno-d')" ] || fail "$ours"
}

@test "7: parents made for an op without --perms are 0700, with --perms bwrap's rule, as bwrap" {
        local show='stat -c "%n %a" /t/a /t/a/b'
        # binds, --symlink, --proc, --dev, --bind-data, --tmp... carry perms 0 in bwrap
        assert_same "${root[@]}" --tmpfs /t --ro-bind /etc/hostname /t/a/b/f sh -c "$show"
        [ "$ours" = "0|/t/a 700
/t/a/b 700" ] || fail "$ours"
        assert_same "${root[@]}" --tmpfs /t --symlink x /t/a/b/l sh -c "$show"
        assert_same "${root[@]}" --tmpfs /t --dev /t/a/b/d sh -c "$show"
        assert_same "${root[@]}" --tmpfs /t --remount-ro /t/a/b/r true
        assert_same "${root[@]}" --tmpfs /t --ro-bind-data 0 /t/a/b/f sh -c "$show" </dev/null
        # ops with a mode: 0755 less the group/other bits the mode lacks
        assert_same "${root[@]}" --tmpfs /t --dir /t/a/b/c sh -c "$show"
        [ "$ours" = "0|/t/a 755
/t/a/b 755" ] || fail "$ours"
        assert_same "${root[@]}" --tmpfs /t --perms 0640 --tmpfs /t/a/b/c sh -c "$show"
        assert_same "${root[@]}" --tmpfs /t --perms 0711 --dir /t/a/b/ sh -c "$show"
        # a -try bind whose source is missing makes nothing
        assert_same "${root[@]}" --tmpfs /t --ro-bind-try /nonexistent /t/a/b sh -c 'ls /t'
}

@test "7: a dangling symlink among the parents is walked past: the error is bwrap's" {
        # the last parent dangles: the parents pass, the op's own mkdir fails
        assert_same "${root[@]}" --tmpfs /t --symlink nowhere /t/d --ro-bind /usr /t/d/x true
        [[ "$ours" == "1|bwrap: Can't mkdir /t/d/x: No such file or directory" ]] || fail "$ours"
        assert_same "${root[@]}" --tmpfs /t --symlink nowhere /t/d --symlink y /t/d/x true
        # one further down: the parents fail
        assert_same "${root[@]}" --tmpfs /t --symlink nowhere /t/d --dir /t/d/x/y true
        [[ "$ours" == "1|bwrap: Can't mkdir parents for /t/d/x/y: No such file or directory" ]] || fail "$ours"
        assert_same "${root[@]}" --tmpfs /t --symlink loop /t/loop --ro-bind /usr /t/loop/x/y true
        # a file among the parents
        assert_same "${root[@]}" --tmpfs /t --ro-bind /etc/hostname /t/f --dir /t/f/x/y true
}

@test "binds under one parent: an op covering the parent between them moves the next one, as bwrap" {
        # csand keeps the parent's fd from one bind to the next under it (from
        # the second on: the first makes the parent)
        assert_same "${root[@]}" --ro-bind /usr/share /m/w --ro-bind /usr/share /m/x --tmpfs /m --ro-bind /usr/share /m/y \
                sh -c 'ls /m; test -d /m/y/doc && echo bound'
        [ "$ours" = "0|$(printf 'y\nbound')" ] || fail "$ours"
        # a bind onto the parent itself: the next one is made in the bound directory
        mkdir "$TESTDIR/b"
        assert_same "${root[@]}" --ro-bind /usr/share /m/w --ro-bind /usr/share /m/x --bind "$TESTDIR/b" /m \
                --ro-bind /usr/share /m/y \
                sh -c 'ls /m; test -d /m/y/doc && echo bound'
        [ "$ours" = "0|$(printf 'y\nbound')" ] || fail "$ours"
        [ -d "$TESTDIR/b/y" ] || fail "no y in the bound directory"
}
