#!/usr/bin/env bats
# The documentation and the shell completions agree with `csand --help`,
# which is generated from the option table and is therefore the truth:
#   - every option of --help has an entry in man/csand.1.scd, under the
#     subsection named like its --help group, with the same arguments;
#   - every option of --help is named in each completion file;
#   - no man page and no completion file names a --option csand lacks;
#   - the built man pages render without warnings;
#   - `meson install` puts every file where it belongs.
# When one of these fails after an option was added or changed, update
# man/csand.1.scd, completions/{bash/csand,zsh/_csand,fish/csand.fish} (and
# their tests in tests/cli/completion-*.bats, which derive what they check
# from --help too).

load ../lib/common
load ../lib/help

man_src() {
        echo "$CSAND_SOURCE_DIR/man/$1.scd"
}

completion_files=(
        completions/bash/csand
        completions/zsh/_csand
        completions/fish/csand.fish
)

help_options() {
        help_table | cut -f2 | sort -u
}

# Every --word in FILE that looks like a long option: "--" directly followed
# by a lower-case letter, not preceded by a word character or '-'. A bare
# "--" (end of options) does not count.
file_options() {
        grep -oP '(?<![\w-])--[a-z][a-z0-9-]*' "$1" | sort -u
}

# "GROUP<TAB>--option<TAB>--option METAVARS" for the option entries of the
# OPTIONS section of man/csand.1.scd: lines "*--name*" or "*--name* _META_
# ..." under a "## GROUP" subsection.
man_table() {
        awk '
                /^# / { in_options = ($0 == "# OPTIONS"); next }
                !in_options { next }
                /^## / { group = substr($0, 4); next }
                group != "" && /^\*--[a-z0-9-]+\*( |$)/ {
                        left = $0
                        gsub(/[*_]/, "", left)
                        split(left, w, " ")
                        printf "%s\t%s\t%s\n", group, w[1], left
                }' "$(man_src csand.1)"
}

@test "--help lists the options in groups" {
        run help_table
        assert_success
        # bwrap 0.11 alone has more than 50 options
        [ "${#lines[@]}" -gt 50 ] || fail "only ${#lines[@]} options parsed from --help: $output"
        run bash -c "'$CSAND' --help | grep -c '^[A-Z][^:]*:\$'"
        [ "$output" -ge 5 ] || fail "only $output option groups in --help"
}

@test "man page: every --help option has an entry, in its --help group, with the same arguments" {
        local help man missing=() wrong=()
        help=$(help_table)
        man=$(man_table)
        local group name left mgroup mleft
        while IFS=$'\t' read -r group name left; do
                mgroup=$(awk -F'\t' -v n="$name" '$2 == n { print $1; exit }' <<<"$man")
                mleft=$(awk -F'\t' -v n="$name" '$2 == n { print $3; exit }' <<<"$man")
                if [ -z "$mgroup" ]; then
                        missing+=("$name")
                        continue
                fi
                [ "$mgroup" = "$group" ] || wrong+=("$name: --help group \"$group\", man subsection \"$mgroup\"")
                [ "$mleft" = "$left" ] || wrong+=("$name: --help says \"$left\", man entry says \"$mleft\"")
        done <<<"$help"
        [ ${#missing[@]} -eq 0 ] || fail "no entry in man/csand.1.scd for: ${missing[*]}"
        if [ ${#wrong[@]} -gt 0 ]; then
                printf '%s\n' "${wrong[@]}"
                fail "man/csand.1.scd disagrees with --help"
        fi
}

@test "man page: option subsections are the --help groups, in the same order" {
        local help_groups man_groups
        help_groups=$("$CSAND" --help | sed -n 's/^\([A-Z][^:]*\):$/\1/p')
        man_groups=$(awk '/^# / { in_options = ($0 == "# OPTIONS"); next }
                          in_options && /^## / { print substr($0, 4) }' "$(man_src csand.1)")
        assert_equal "$man_groups" "$help_groups"
}

@test "man page: every option entry is an option csand has" {
        local extra
        extra=$(comm -13 <(help_options) <(man_table | cut -f2 | sort -u))
        [ -z "$extra" ] || fail "man/csand.1.scd has entries for options --help does not list: $extra"
}

@test "man pages name no option csand lacks" {
        local page extra
        for page in csand.1 csand-seccomp-profile.5; do
                extra=$(comm -13 <(help_options) <(file_options "$(man_src $page)"))
                [ -z "$extra" ] || fail "man/$page.scd names options --help does not list: $extra"
        done
}

@test "completions: every file names every --help option" {
        local f missing
        for f in "${completion_files[@]}"; do
                missing=$(comm -23 <(help_options) <(file_options "$CSAND_SOURCE_DIR/$f"))
                [ -z "$missing" ] || fail "$f does not complete: $missing"
        done
}

@test "completions: no file names an option csand lacks" {
        local f extra
        for f in "${completion_files[@]}"; do
                extra=$(comm -13 <(help_options) <(file_options "$CSAND_SOURCE_DIR/$f"))
                [ -z "$extra" ] || fail "$f names options --help does not list: $extra"
        done
}

# scdoc drops a lone backslash at the end of a line of a literal block (the
# shell's line continuation): the source must double it.
@test "man pages: literal blocks keep their line continuations" {
        run awk '/^```/ { b = !b; next } b && /[^\\]\\$/ { print FILENAME ":" FNR ": " $0 }' \
                "$(man_src csand.1)" "$(man_src csand-seccomp-profile.5)"
        [ -z "$output" ] || fail "single trailing backslash (write \\\\): $output"
}

# Every csand command line in the examples parses: each option exists and is
# followed by as many arguments as --help gives it, and a command follows.
@test "man pages: the csand command lines of the examples use csand's options correctly" {
        local table="$BATS_TEST_TMPDIR/arity"
        help_table | awk -F'\t' '{ print $2 "\t" split($3, w, " ") - 1 }' >"$table"
        run python3 - "$table" "$(man_src csand.1)" "$(man_src csand-seccomp-profile.5)" <<'EOF'
import shlex, sys
arity = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[1]))
bad = 0
for path in sys.argv[2:]:
    block, lines = False, []
    for line in open(path):
        if line.strip() == "```":
            block = not block
            continue
        if block:
            lines.append(line.rstrip("\n"))
    text = "\n".join(lines).replace("\\\\\n", " ")
    for cmd in text.split("\n"):
        try:
            words = shlex.split(cmd, comments=True)
        except ValueError:
            continue
        for start in [i for i, w in enumerate(words) if w in ("csand", "bwrap")]:
            i = start + 1
            while i < len(words) and words[i].startswith("-") and words[i] != "--":
                opt = words[i]
                if opt not in arity:
                    print(f"{path}: unknown option {opt} in: {cmd}")
                    bad = 1
                    break
                i += 1 + int(arity[opt])
            if i < len(words) and words[i] == "--":
                i += 1
            if words[start + 1:start + 2] not in (["--version"], ["--help"]) and i >= len(words):
                print(f"{path}: no command after the options in: {cmd}")
                bad = 1
sys.exit(bad)
EOF
        [ "$status" -eq 0 ] || fail "$output"
}

# The built page $1 (build/man/*), else its source run through scdoc here,
# copied to the test's directory; the path in $page_file.
rendered_page() {
        page_file="$BATS_TEST_TMPDIR/$1"
        if [ -f "$CSAND_BUILD_DIR/man/$1" ]; then
                cp "$CSAND_BUILD_DIR/man/$1" "$page_file"
        else
                require_feature "scdoc (the man pages were not built: -Dman=disabled?)" command -v scdoc
                scdoc <"$(man_src "$1")" >"$page_file"
        fi
}

@test "man pages: groff -ww reports nothing" {
        require_feature "groff" command -v groff
        local page
        for page in csand.1 csand-seccomp-profile.5; do
                rendered_page $page
                run groff -ww -man -z "$page_file"
                assert_success
                [ -z "$output" ] || fail "groff warnings for $page: $output"
        done
}

# mandoc -Tlint at level "warning" (its "style" level only has opinions:
# lines over 80 bytes, a lower-case title). scdoc 1.11 opens every paragraph
# with .PP, also right after .SH/.SS and between an item's lines; mandoc
# reports each as "skipping paragraph macro: PP empty/after SH/after SS" and
# ignores them, as groff does: that is the one message filtered out.
@test "man pages: mandoc -Tlint reports no warnings" {
        require_feature "mandoc" command -v mandoc
        local page
        for page in csand.1 csand-seccomp-profile.5; do
                rendered_page $page
                run bash -c "mandoc -Tlint -Wwarning '$page_file' 2>&1 | grep -v 'WARNING: skipping paragraph macro: PP \\(empty\\|after SH\\|after SS\\)\$'"
                [ -z "$output" ] || fail "mandoc -Tlint for $page: $output"
        done
}

@test "man pages: the built pages are configured, and csand(1) shows every option of --help" {
        require_feature "mandoc" command -v mandoc
        local page text missing=() name
        for page in csand.1 csand-seccomp-profile.5; do
                [ -f "$CSAND_BUILD_DIR/man/$page" ] || continue
                ! grep -n '@[A-Z_]*@' "$CSAND_BUILD_DIR/man/$page" || fail "unsubstituted @VARIABLE@ in $page"
        done
        rendered_page csand.1
        text=$(mandoc -Tascii "$page_file" | sed 's/.\x08//g')
        for name in $(help_options); do
                grep -qF -- "$name" <<<"$text" || missing+=("$name")
        done
        [ ${#missing[@]} -eq 0 ] || fail "rendered csand.1 lacks: ${missing[*]}"
}

# --- installation ------------------------------------------------------------

# meson's value for option $2 of build dir $1.
meson_option() {
        meson introspect "$1" --buildoptions |
                python3 -c 'import json, sys
name = sys.argv[1]
for o in json.load(sys.stdin):
    if o["name"] == name:
        v = o["value"]
        print(str(v).lower() if isinstance(v, bool) else v)' "$2"
}

# abs PREFIX DIR: DIR if absolute, else PREFIX/DIR.
abs() {
        case $2 in
        /*) echo "$2" ;;
        *) echo "$1/$2" ;;
        esac
}

# pkg_dir PACKAGE DATADIR FALLBACK: the completionsdir variable of
# PACKAGE.pc evaluated with DATADIR, as completions/meson.build does.
pkg_dir() {
        pkg-config --define-variable=datadir="$2" --variable=completionsdir "$1" 2>/dev/null || echo "$3"
}

# check_install BUILD DESTDIR: every file `meson install` should have put
# into DESTDIR for the configuration of BUILD is there.
check_install() {
        local build=$1 dest=$2 missing=()
        local prefix bindir datadir mandir sysconfdir man apparmor bwrap_link
        prefix=$(meson_option "$build" prefix)
        bindir=$(abs "$prefix" "$(meson_option "$build" bindir)")
        datadir=$(abs "$prefix" "$(meson_option "$build" datadir)")
        mandir=$(abs "$prefix" "$(meson_option "$build" mandir)")
        sysconfdir=$(abs "$prefix" "$(meson_option "$build" sysconfdir)")
        man=$(meson_option "$build" man)
        apparmor=$(meson_option "$build" apparmor)
        bwrap_link=$(meson_option "$build" bwrap_link)

        local expect=(
                "$bindir/csand"
                "$(pkg_dir bash-completion "$datadir" "$datadir/bash-completion/completions")/csand"
                "$datadir/zsh/site-functions/_csand"
                "$(pkg_dir fish "$datadir" "$datadir/fish/vendor_completions.d")/csand.fish"
        )
        # The man pages, when this build made them (always with -Dman=enabled).
        if [ "$man" = enabled ] || [ -f "$build/man/csand.1" ]; then
                expect+=("$mandir/man1/csand.1" "$mandir/man5/csand-seccomp-profile.5")
        fi
        # Every profile of the source tree, for --seccomp-profile NAME.
        local p
        for p in "$CSAND_SOURCE_DIR"/seccomp-profiles/*.json; do
                [ -e "$p" ] && expect+=("$datadir/csand/seccomp-profiles/${p##*/}")
        done
        [ "$apparmor" = true ] && expect+=("$sysconfdir/apparmor.d/csand")

        local f
        for f in "${expect[@]}"; do
                [ -f "$dest$f" ] || missing+=("$f")
        done
        if [ ${#missing[@]} -gt 0 ]; then
                echo "installed:"
                (cd "$dest" && find . ! -type d | sort)
                fail "not installed: ${missing[*]}"
        fi

        [ -x "$dest$bindir/csand" ] || fail "$bindir/csand is not executable"
        "$dest$bindir/csand" --version | grep -q '^csand ' || fail "the installed csand does not run"

        if [ "$bwrap_link" = true ]; then
                [ -L "$dest$bindir/bwrap" ] || fail "no bwrap link in $bindir"
                [ "$(readlink "$dest$bindir/bwrap")" = csand ] || fail "bwrap links to $(readlink "$dest$bindir/bwrap")"
        else
                [ ! -e "$dest$bindir/bwrap" ] || fail "bwrap installed without -Dbwrap_link=true"
        fi
        if [ "$apparmor" = true ]; then
                grep -q "^profile csand $bindir/csand " "$dest$sysconfdir/apparmor.d/csand" ||
                        fail "the AppArmor profile does not name $bindir/csand"
                grep -q '^  userns,$' "$dest$sysconfdir/apparmor.d/csand" || fail "the AppArmor profile lacks userns"
        else
                [ ! -e "$dest$sysconfdir/apparmor.d/csand" ] || fail "AppArmor profile installed without -Dapparmor=true"
        fi

        # The completions and man pages name this installation's profile dir.
        local installed
        for installed in "${expect[@]}"; do
                case $installed in
                */csand | */_csand | */csand.fish | *.1 | *.5)
                        [ "$installed" = "$bindir/csand" ] && continue
                        ! grep -n '@[A-Z_]*@' "$dest$installed" || fail "unsubstituted @VARIABLE@ in $installed"
                        ;;
                esac
        done
        grep -qF "$datadir/csand/seccomp-profiles" "$dest$(pkg_dir bash-completion "$datadir" "$datadir/bash-completion/completions")/csand" ||
                fail "the bash completion does not look for profiles in $datadir/csand/seccomp-profiles"
}

@test "install: meson install --destdir of the build under test puts every file in place" {
        # meson install writes its log into the build directory: only its
        # owner (the test user; root for a build of root's) should.
        [ -O "$CSAND_BUILD_DIR" ] || skip "the build directory $CSAND_BUILD_DIR belongs to another user than $(id -un)"
        require_feature "meson" command -v meson
        local dest="$BATS_TEST_TMPDIR/destdir"
        run meson install -C "$CSAND_BUILD_DIR" --destdir "$dest" --no-rebuild --quiet
        assert_success
        check_install "$CSAND_BUILD_DIR" "$dest"
}

@test "install: prefix /usr with the bwrap link, the AppArmor profile and man pages" {
        require_feature "meson" command -v meson
        require_feature "scdoc" command -v scdoc
        local build="$BATS_TEST_TMPDIR/build" dest="$BATS_TEST_TMPDIR/destdir"
        run meson setup "$build" "$CSAND_SOURCE_DIR" --prefix=/usr --buildtype=plain \
                -Dman=enabled -Dbwrap_link=true -Dapparmor=true
        assert_success
        # Build only what gets installed (not the test programs), as the
        # build-tree paths `meson introspect --installed` lists; the
        # configured files are there already.
        local targets
        targets=$(meson introspect "$build" --installed | python3 -c 'import json, os, sys
build = os.path.realpath(sys.argv[1])
for f in json.load(sys.stdin):
    f = os.path.realpath(f)
    if f.startswith(build + "/") and not os.path.exists(f):
        print(os.path.relpath(f, build))' "$build")
        run ninja -C "$build" $targets
        assert_success
        run meson install -C "$build" --destdir "$dest" --no-rebuild --quiet
        assert_success
        check_install "$build" "$dest"
        # prefix /usr: the system's directories, not /usr/etc
        [ -f "$dest/etc/apparmor.d/csand" ] || fail "AppArmor profile not in /etc/apparmor.d"
        [ -f "$dest/usr/share/bash-completion/completions/csand" ] || fail "bash completion not in /usr/share/bash-completion/completions"
        [ -f "$dest/usr/share/man/man1/csand.1" ] || fail "csand.1 not in /usr/share/man/man1"
}
