#!/usr/bin/env bats
# The programs csand runs outside every sandbox on the sandbox's behalf
# (fuse-overlayfs, slirp4netns, pasta; issue 15): which program runs is
# never chosen by the directory csand happens to start from, and none of
# them outlives csand.

load ../lib/common

setup() {
        common_setup
        require_userns
        HELPERS=(fuse-overlayfs slirp4netns pasta)
}

# A sandbox that can write the directory a later csand starts from plants
# HELPER there (as bin/HELPER and ./HELPER): a script that would run on
# the host, recording that it ran.
plant_helpers() {
        local h
        PLANT="$TESTDIR/cwd"
        mkdir -p "$PLANT"
        for h in "${HELPERS[@]}"; do
                csand_min --bind "$PLANT" /w sh -c '
                        mkdir -p /w/bin
                        for f in /w/bin/$1 /w/$1; do
                                printf "#!/bin/sh\n/usr/bin/touch %s\nexit 1\n" "$2" >$f
                                chmod +x $f
                        done' sh "$h" "$TESTDIR/RAN-$h"
        done
        [ -x "$PLANT/bin/fuse-overlayfs" ] && [ -x "$PLANT/pasta" ] || fail "planting failed"
}

# Runs csand from the planted directory with PATH=$1.
csand_from_plant() {
        local path=$1
        shift
        (cd "$PLANT" && PATH=$path csand "${csand_min_root[@]}" "$@")
}

helper_options() {
        case $1 in
        fuse-overlayfs) echo "--overlay-driver fuse --overlay-src /usr --tmp-overlay /usr" ;;
        *) echo "--unshare-net --network $1" ;;
        esac
}

assert_planted_never_ran() {
        run find "$TESTDIR" -maxdepth 1 -name 'RAN-*'
        assert_output ""
}

@test "helpers: relative and empty PATH entries are skipped (the real helper runs)" {
        local h path
        plant_helpers
        for h in "${HELPERS[@]}"; do
                require_feature "$h" command -v "$h"
                for path in "bin:$PATH" "./bin:$PATH" ".:$PATH" ":$PATH" "/nonexistent::$PATH" "bin/../bin:$PATH"; do
                        # shellcheck disable=SC2046
                        run csand_from_plant "$path" $(helper_options "$h") true
                        [ "$status" -eq 0 ] || fail "$h with PATH=$path: $status $output"
                done
        done
        assert_planted_never_ran
}

@test "helpers: with only relative or empty PATH entries the helper is missing, the planted one never runs" {
        local h path
        plant_helpers
        for h in "${HELPERS[@]}"; do
                for path in "bin" "." ":" "/nonexistent:" "bin:."; do
                        # shellcheck disable=SC2046
                        run --separate-stderr csand_from_plant "$path" $(helper_options "$h") true
                        assert_csand_error
                        [[ "$msg" == *"no executable named $h in PATH"* || "$msg" == *"fuse-overlayfs not found in PATH"* ]] ||
                                fail "$h with PATH='$path': $msg"
                done
        done
        assert_planted_never_ran
}

# After `kill -9` of csand, slirp4netns was reported to live on for ~1.5 s.
# It does not: PR_SET_PDEATHSIG (set by helper_start() in the helper's own
# process, the monitor being single-threaded) kills it the moment csand
# dies; it then needs a few tens of milliseconds to exit (the kernel
# unregisters its tap device in its exit) and stays a zombie until whoever
# adopts orphans reaps it: on the CI VM that is pid 1, which reaps every
# ~1.7 s (pasta is the same, but its comm is pasta.avx2/passt.avx2, so
# `pgrep pasta` never shows it).  Measured here with the test as the
# subreaper: the helper must end because csand died: its parent-death
# SIGKILL, or (slirp4netns) end-of-file on its --exit-fd, which csand's exit
# closes a moment before the kernel sends the signal, so that slirp4netns
# may already be exiting normally.  The time is reported, not asserted.
@test "helpers: slirp4netns and pasta end the moment csand is SIGKILLed, even when the sandbox lives on" {
        local h opts
        for h in slirp4netns pasta; do
                require_feature "$h" command -v "$h"
                for opts in "" "--die-with-parent"; do
                        # shellcheck disable=SC2086
                        run python3 "$BATS_TEST_DIRNAME/helper-death.py" "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" \
                                "${csand_min_root[@]}" --unshare-all --network "$h" $opts sh -c 'echo ready; exec sleep 100'
                        assert_success
                        if [ "$h" = slirp4netns ]; then
                                assert_line --regexp "^$h: (killed by SIGKILL|exited 0)$"
                        else
                                assert_line "$h: killed by SIGKILL"
                        fi
                        printf '# %s %s: %s\n' "$h" "${opts:-(no --die-with-parent)}" "$(grep -o 'reaped.*' <<<"$output")" >&3
                done
        done
}

# The spawner's child shares csand's memory until it execs, with every
# signal blocked meanwhile: the helper must still start as a new program
# expects, even when csand's caller ignores signals (nohup, a shell's
# background job) and csand blocks those it supervises and ignores SIGPIPE.
@test "helpers: start with every signal at its default action, none blocked, in a session of their own" {
        require_userns
        require_feature "a usable /dev/net/tun" test -r /dev/net/tun -a -w /dev/net/tun
        require_feature "perl" test -x /usr/bin/perl
        mkdir -p "$TESTDIR/bin"
        # A stand-in slirp4netns: records its state, says it is ready. In
        # perl, which leaves the signal state as exec left it (a shell
        # clears the mask).
        cat >"$TESTDIR/bin/slirp4netns" <<EOF
#!/usr/bin/perl
open(my \$in, "<", "/proc/self/status") or die;
open(my \$out, ">", "$TESTDIR/state") or die;
print \$out grep { /^(SigBlk|SigIgn):/ } <\$in>;
open(my \$stat, "<", "/proc/self/stat") or die;
my @f = split(/ /, <\$stat>);
print \$out "session \$f[5] pid \$\$\n";
close(\$out);
for (@ARGV) { if (/^--ready-fd=(\d+)\$/) { open(my \$r, ">&=", \$1) or die; syswrite(\$r, "1"); } }
exec("sleep", "60");
EOF
        chmod +x "$TESTDIR/bin/slirp4netns"
        run sh -c 'trap "" INT HUP QUIT; PATH="$0:/usr/bin:/bin" exec "$@"' "$TESTDIR/bin" "$CSAND" \
                --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${csand_min_root[@]}" --proc /proc --unshare-all --network slirp4netns \
                sh -c 'grep SigIgn /proc/self/status'
        assert_success
        # the caller's ignored signals reach the command, as in bwrap
        refute_output "SigIgn:	0000000000000000"
        run cat "$TESTDIR/state"
        assert_line "SigBlk:	0000000000000000"
        # SIGHUP, SIGINT, SIGQUIT (the caller's) and SIGPIPE (csand's) not
        # ignored (perl ignores SIGFPE itself)
        local ign
        ign=$(sed -n 's/^SigIgn:\t//p' "$TESTDIR/state")
        (( (16#$ign & 0x1007) == 0 )) || fail "the helper ignores signals: SigIgn $ign"
        assert_line --regexp '^session ([0-9]+) pid \1$'
}
