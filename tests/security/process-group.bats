#!/usr/bin/env bats
# The sandbox is a process group of its own (issue 15, item 1): kill(0),
# setpriority(PRIO_PGRP, 0) and ioprio_set(IOPRIO_WHO_PGRP, 0) from inside
# don't reach the calling script's group (with or without a pid namespace:
# the caller's group is reached through the group, not through pids).  And
# the terminal still works as with any foreground job: csand hands it to the
# sandbox's group and takes it back, Ctrl-C and Ctrl-Z reach the command,
# job control inside works, csand in the background never takes it.  The
# terminal tests run on a real pseudo-terminal (pty-session.py).

load ../lib/common

setup() {
        common_setup
        require_userns
        sec_root=("${csand_min_root[@]}" --dev /dev)
        # csand as typed at a prompt (with this test's token and temp dirs)
        CS=$(printf '%q ' env TMPDIR="$CSAND_TMPDIR" XDG_RUNTIME_DIR="$CSAND_RUNTIME_DIR" \
                "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${sec_root[@]}")
}

# A calling script in a process group (and session) of its own, with a
# sibling in that group, runs "$@"; prints what became of the script, the
# sibling and their nice values and I/O priorities.
caller_script() {
        setsid -w bash -c '
                sleep 120 & sibling=$!
                before="$(ps -o ni= -p $$) $(ionice -p $$)"
                "$@"
                echo "sandbox-status=$?"
                kill -0 $sibling && echo sibling-alive
                [ "$(ps -o ni= -p $sibling) $(ionice -p $sibling)" = "$before" ] && echo sibling-priority-unchanged
                [ "$(ps -o ni= -p $$) $(ionice -p $$)" = "$before" ] && echo script-priority-unchanged
                kill $sibling' caller "$@"
        echo "script-status=$?"
}

ATTACKS=(
        "kill -KILL 0"
        "python3 -c 'import os; os.setpriority(os.PRIO_PGRP, 0, 19)'; ionice -c 3 -P 0"
)

@test "process group: the harness sees the attacks succeed without a sandbox (control)" {
        run caller_script sh -c "kill -KILL 0"
        assert_output "script-status=137"
        run caller_script sh -c "${ATTACKS[1]}"
        refute_line sibling-priority-unchanged
        refute_line script-priority-unchanged
        # bwrap (0.8 here, as 0.11) leaves the command in the caller's group:
        # it has the flaw. Reported, not asserted.
        if command -v bwrap >/dev/null; then
                run caller_script bwrap --ro-bind / / --unshare-all sh -c "kill -KILL 0"
                echo "# bwrap --unshare-all sh -c 'kill -KILL 0': $(tr '\n' ' ' <<<"$output")" >&3
        fi
}

@test "process group: kill -KILL 0 from the sandbox kills the sandbox only" {
        local opts
        for opts in "--unshare-all" "" "--unshare-pid --as-pid-1" "--unshare-pid --die-with-parent" "--new-session"; do
                # shellcheck disable=SC2086
                run caller_script "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${sec_root[@]}" $opts sh -c "kill -KILL 0"
                [ "${lines[-1]}" = script-status=0 ] || fail "$opts: the calling script was killed: $output"
                # (--as-pid-1: the command is its namespace's init, which
                # SIGKILL from inside does not kill)
                [[ "$opts" == *--as-pid-1* ]] || [[ "$output" == *sandbox-status=137* ]] || fail "$opts: $output"
                [[ "$output" == *sibling-alive* ]] || fail "$opts: $output"
        done
}

@test "process group: setpriority(PRIO_PGRP) and ioprio_set(IOPRIO_WHO_PGRP) from the sandbox don't reach the caller" {
        local opts
        for opts in "--unshare-all" "" "--sync-fd 9"; do
                # shellcheck disable=SC2086
                run caller_script "$CSAND" --setenv CSAND_TEST_TOKEN "$CSAND_TOKEN" "${sec_root[@]}" $opts \
                        sh -c "${ATTACKS[1]}" 9>/dev/null
                assert_line sandbox-status=0
                assert_line sibling-priority-unchanged
                assert_line script-priority-unchanged
                assert_line script-status=0
        done
}

@test "process group: the sandbox's group is its own, as seen from outside and inside" {
        run python3 - "$CSAND" "${sec_root[@]}" --unshare-pid --proc /proc <<'PY'
import os, subprocess, sys
r, w = os.pipe()
p = subprocess.Popen(sys.argv[1:] + ["--info-fd", str(w), "sh", "-c", "ps -o pgid= -p $$; ps -o pid= -p 1"],
                     pass_fds=[w], stdout=subprocess.PIPE, text=True)
os.close(w)
import json
child = json.loads(os.read(r, 65536))["child-pid"]
pgid_outside = os.getpgid(child)
out, _ = p.communicate()
print("outside:", "own" if pgid_outside == child and pgid_outside != os.getpgrp() else f"shared {pgid_outside}")
print("inside:", out.split())
PY
        assert_success
        assert_line "outside: own"
        # inside, the group is pid 1's: the sandbox's own pid namespace
        assert_line "inside: ['1', '1']"
}

# ---- the terminal --------------------------------------------------------

pty() {
        python3 "$BATS_TEST_DIRNAME/pty-session.py" "$@"
}

# An interactive bash at a terminal, as the caller: prompt "T$ ".
CALLER=(-- env PS1='T$ ' bash --norc --noprofile -i)

@test "terminal: an interactive shell in the sandbox gets the terminal: reads, job control, Ctrl-C, exit status" {
        local opts
        for opts in "--unshare-all --proc /proc" ""; do
                # (each line typed at a prompt: Ctrl-C flushes what was typed
                # ahead; the job itself says when it runs, so that Ctrl-C is for it;
                # the background job is killed with SIGKILL: a SIGTERM can reach
                # it between fork and exec, while it still ignores SIGTERM as the
                # interactive shell does, and it would outlive the test)
                run pty 'expect:T\$ $' \
                        "send:$CS $opts env PS1='inner\$ ' sh -i\n" 'expect:inner\$ $' \
                        'send:read x; echo "got[$x]"\n' 'send:hello\n' 'expect:got\[hello\]' 'expect:inner\$ $' \
                        'send:case $- in *m*) echo job-control-on;; esac\n' 'expect:job-control-on' 'expect:inner\$ $' \
                        'send:sleep 60 &\n' 'expect:inner\$ $' 'send:jobs\n' 'expect:Running' 'expect:inner\$ $' \
                        'send:kill -KILL %1\n' 'expect:inner\$ $' \
                        'send:sh -c \x27echo CAT-$((2+2)); exec cat\x27\n' 'expect:CAT-4' 'send:\x03' 'expect:inner\$ $' \
                        'send:echo alive $((6*7))\n' 'expect:alive 42' 'expect:inner\$ $' \
                        'send:exit 7\n' 'expect:T\$ $' 'send:echo status=$?\n' 'expect:status=7' \
                        "${CALLER[@]}"
                [ "$status" -eq 0 ] || fail "$opts: $output"
        done
}

@test "terminal: Ctrl-C reaches the command, csand exits 130, the calling script gets the terminal back" {
        local opts fg
        fg='python3 -c "import os; print(\"caller-\" + (\"fg\" if os.tcgetpgrp(0) == os.getpgrp() else \"bg\"))"'
        for opts in "" "--unshare-pid --proc /proc" "--unshare-all --die-with-parent"; do
                run pty 'expect:READY-2' 'send:\x03' 'expect:status=130' 'expect:caller-fg' \
                        -- bash -c "$CS $opts sh -c 'echo READY-\$((1+1)); exec sleep 60'; echo status=\$?; $fg"
                [ "$status" -eq 0 ] || fail "$opts: $output"
        done
        # --as-pid-1: the command is its pid namespace's init, which gets only
        # the signals it handles
        run pty 'expect:READY-2' 'send:\x03' 'expect:status=42' 'expect:caller-fg' \
                -- bash -c "$CS --unshare-pid --as-pid-1 sh -c 'trap \"exit 42\" INT; echo READY-\$((1+1)); while :; do sleep 1; done'; echo status=\$?; $fg"
        [ "$status" -eq 0 ] || fail "--as-pid-1: $output"
}

@test "terminal: on a setup failure the calling script gets the terminal back" {
        local fg
        fg='python3 -c "import os; print(\"caller-\" + (\"fg\" if os.tcgetpgrp(0) == os.getpgrp() else \"bg\"))"'
        run pty 'expect:status=1' 'expect:caller-fg' \
                -- bash -c "$CS --chdir /nonexistent true; echo status=\$?; $CS /nonexistent-command; echo status=\$?; $fg"
        assert_success
}

@test "terminal: Ctrl-Z stops csand with the sandbox, fg continues both with the terminal" {
        local opts
        for opts in "" "--unshare-pid --proc /proc"; do
                run pty 'expect:T\$ $' 'send:set -b\n' 'expect:T\$ $' \
                        "send:$CS $opts sh -c 'echo READY-\$((1+1)); read x; echo got[\$x]'\n" 'expect:READY-2' \
                        'send:\x1a' 'expect:Stopped' 'expect:T\$ $' 'send:fg\n' 'send:hi\n' 'expect:got\[hi\]' \
                        'expect:T\$ $' 'send:echo status=$?\n' 'expect:status=0' \
                        "${CALLER[@]}"
                [ "$status" -eq 0 ] || fail "$opts: $output"
        done
}

@test "terminal: in the background csand never takes the terminal; a read stops it until fg" {
        local opts
        for opts in "" "--unshare-pid --proc /proc"; do
                run pty 'expect:T\$ $' 'send:set -b\n' 'expect:T\$ $' \
                        "send:$CS $opts sh -c 'read x; echo got[\$x]' &\n" 'expect:Stopped' \
                        'send:fg\n' 'send:there\n' 'expect:got\[there\]' 'expect:T\$ $' \
                        "${CALLER[@]}"
                [ "$status" -eq 0 ] || fail "$opts: $output"
        done
        # with tostop, csand's own message from the background does not stop it
        run pty 'expect:T\$ $' \
                "send:stty tostop; $CS --chdir /nonexistent true & wait \$!; echo status=\$?\n" \
                'expect:Can.t chdir to /nonexistent' 'expect:status=1' \
                "${CALLER[@]}"
        assert_success
}
