# csand --help read as a table, for the tests that check the docs and the
# completions against it (tests/cli/docs-consistency.bats,
# tests/lib/completion.bash).

# "GROUP<TAB>--option<TAB>--option METAVARS" for every option of --help.
# Group titles are the unindented lines ending in ':'. Option lines are
# printed as "    %-28s %s": when column 33 is blank, the option and its
# metavariables are columns 5-32; a longer left part is followed by one
# blank, and its metavariables are the upper-case words after the name
# (SRC, NAME|FILE, NAME=SOFT[:HARD], [IP:]HOSTPORT:PORT[/tcp|/udp]).
help_table() {
        "$CSAND" --help | awk '
                /^[A-Z][^:]*:$/ { group = substr($0, 1, length($0) - 1); next }
                /^    --/ {
                        if (substr($0, 33, 1) == " ") {
                                left = substr($0, 5, 28)
                                sub(/ +$/, "", left)
                        } else {
                                left = $1
                                for (i = 2; i <= NF && $i ~ /^(\[[^]]*\])?[A-Z][A-Z0-9_|:=]*(\[[^]]*\])?$/; i++)
                                        left = left " " $i
                        }
                        printf "%s\t%s\t%s\n", group, $1, left
                }'
}

# "--option METAVARS..." per line.
help_options_with_args() {
        help_table | cut -f3
}

help_has() {
        "$CSAND" --help | grep -q -- "^    $1\\b"
}
