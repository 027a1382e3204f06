#!/usr/bin/env bats
# What one more bind costs csand, counted in system calls, never timed
# (issue 17: 1,000 binds within 15 ms). tests/bench/bindfloor.c does the
# least such a bind needs of the kernel in 7: open_tree, mount_setattr,
# mkdirat, openat, move_mount and two closes.

load ../lib/common

setup() {
        common_setup
        require_userns
        require_feature "strace" command -v strace
}

# calls N: the system calls of a launch (every process: strace -f -c) with
# N --ro-bind-try of a directory, each at a new /mnt/I.
calls() {
        local binds=() i
        for ((i = 0; i < $1; i++)); do
                binds+=(--ro-bind-try /usr/share "/mnt/$i")
        done
        env CSAND_TEST_TOKEN="$CSAND_TOKEN" strace -f -qq -c -o "$TESTDIR/count-$1" "$CSAND" \
                "${csand_min_root[@]}" "${binds[@]}" -- true >/dev/null
        awk '$NF == "total" { print $4 }' "$TESTDIR/count-$1"
}

@test "a --ro-bind-try of a directory at a new destination costs at most 10 system calls" {
        # 554d816 made 13 per bind, 6c8be2c 16; now the floor's 7 and the
        # source's type (fstat), and bwrap's look at the source before the
        # first op (a stat) where csand's state directories are still to be made
        local few many
        few=$(calls 10)
        many=$(calls 50)
        [[ $few =~ ^[0-9]+$ && $many =~ ^[0-9]+$ ]] || fail "no count: '$few' '$many'"
        ((many - few <= 40 * 10)) || fail "$(((many - few) / 40)) system calls per bind ($few with 10 binds, $many with 50)"
}
