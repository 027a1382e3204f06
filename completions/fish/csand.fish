# fish completion for csand(1)
# SPDX-License-Identifier: LGPL-2.0-or-later
#
# csand's options take up to three arguments each (--bind SRC DEST), which
# fish's own option parser cannot count, so one function walks the command
# line and completes whatever belongs at the cursor: an option, an option's
# value, or the command and its own arguments (after `--`, or from the first
# word that is not an option). Paths complete files and directories;
# --cap-add/--cap-drop capability names; --network, --overlay-driver and
# --cgroup-manager their modes; --cgroup-property and --rlimit the names
# before '='; --seccomp-profile the installed profile names (the *.json
# files of $CSAND_SECCOMP_PROFILE_DIR, by default
# @PKGDATADIR@/seccomp-profiles) and files; file descriptors, ids, modes,
# sizes, addresses and labels complete nothing.
# Tested by tests/cli/completion-fish.bats; the option list is checked
# against `csand --help` by tests/cli/docs-consistency.bats.

# The kinds of the arguments option $argv[1] takes, one per line (none for
# flags). Fails for an unknown option.
function __csand_option_args
    switch $argv[1]
        case --help --version --level-prefix \
            --unshare-all --share-net --unshare-user --unshare-user-try \
            --share-ipc --share-pid --share-uts --share-cgroup \
            --unshare-ipc --unshare-pid --unshare-net --unshare-uts \
            --unshare-cgroup --unshare-cgroup-try \
            --disable-userns --assert-userns-disabled \
            --clearenv --die-with-parent --new-session --as-pid-1 \
            --no-new-session --no-die-with-parent \
            --allow-host-loopback --quiet --image-cache-list --image-cache-prune \
            --list --json \
            --landlock --scope-abstract-sockets --scope-signals --landlock-best-effort
            return 0
        case --join --stop
            echo running
        case --name --stop-timeout
            echo none
        case --image --image-info
            echo path
        case --args --userns --userns2 --pidns --seccomp --add-seccomp-fd \
            --info-fd --json-status-fd --sync-fd --block-fd --userns-block-fd
            echo fd
        case --argv0 --uid --gid --hostname --exec-label --file-label --perms --size \
            --publish --dns --allow-host --allow-udp --add-host --entrypoint \
            --memory --memory-swap --cpus --cpu-weight --pids-limit --io-weight \
            --landlock-tcp-connect --landlock-tcp-bind
            echo none
        case --cgroup-property
            echo cgroup-property
        case --cgroup-manager
            echo cgroup-manager
        case --rlimit
            echo rlimit
        case --bind --bind-try --dev-bind --dev-bind-try --ro-bind --ro-bind-try --symlink
            echo path
            echo path
        case --bind-fd --ro-bind-fd --file --bind-data --ro-bind-data
            echo fd
            echo path
        case --remount-ro --lock-file --landlock-ro --landlock-exec --landlock-rw
            echo path
        case --proc --dev --tmpfs --mqueue --dir --chdir \
            --overlay-src --tmp-overlay --ro-overlay
            echo dir
        case --overlay
            # RWSRC WORKDIR DEST
            echo dir
            echo dir
            echo dir
        case --image-overlay
            # RWSRC WORKDIR
            echo dir
            echo dir
        case --overlay-driver
            echo overlay-driver
        case --network
            echo network
        case --chmod
            echo none
            echo path
        case --setenv
            echo var
            echo none
        case --unsetenv
            echo var
        case --cap-add --cap-drop
            echo cap
        case --seccomp-profile
            echo profile
        case '*'
            return 1
    end
end

function __csand_options
    printf '%s\t%s\n' \
        --help 'Print this help' \
        --version 'Print version' \
        --args 'Parse NUL-separated args from FD' \
        --argv0 'Set argv[0] to VALUE before running the program' \
        --level-prefix 'Prepend e.g. <3> to diagnostic messages' \
        --unshare-all 'Unshare every namespace we support by default' \
        --share-net 'Retain the network namespace' \
        --share-ipc 'Retain the IPC namespace' \
        --share-pid 'Retain the pid namespace' \
        --share-uts 'Retain the UTS namespace' \
        --share-cgroup 'Retain the cgroup namespace' \
        --unshare-user 'Create new user namespace' \
        --unshare-user-try 'Create new user namespace if possible' \
        --unshare-ipc 'Create new ipc namespace' \
        --unshare-pid 'Create new pid namespace' \
        --unshare-net 'Create new network namespace (with only lo, up)' \
        --unshare-uts 'Create new uts namespace' \
        --unshare-cgroup 'Create new cgroup namespace' \
        --unshare-cgroup-try 'Create new cgroup namespace if possible' \
        --userns 'Use this user namespace (FD)' \
        --userns2 'After setup switch to this user namespace (FD)' \
        --disable-userns 'Disable further use of user namespaces inside sandbox' \
        --assert-userns-disabled 'Fail unless further use of user namespaces is disabled' \
        --pidns 'Use this pid namespace (FD)' \
        --uid 'Custom uid in the sandbox' \
        --gid 'Custom gid in the sandbox' \
        --hostname 'Custom hostname in the sandbox' \
        --bind 'Bind mount the host path SRC on DEST' \
        --bind-try 'Equal to --bind but ignores non-existent SRC' \
        --dev-bind 'Bind mount SRC on DEST, allowing device access' \
        --dev-bind-try 'Equal to --dev-bind but ignores non-existent SRC' \
        --ro-bind 'Bind mount the host path SRC readonly on DEST' \
        --ro-bind-try 'Equal to --ro-bind but ignores non-existent SRC' \
        --remount-ro 'Remount DEST as readonly' \
        --proc 'Mount new procfs on DEST' \
        --dev 'Mount new dev on DEST' \
        --tmpfs 'Mount new tmpfs on DEST' \
        --mqueue 'Mount new mqueue on DEST' \
        --dir 'Create dir at DEST' \
        --bind-fd 'Bind open directory or path fd on DEST' \
        --ro-bind-fd 'Bind open directory or path fd read-only on DEST' \
        --file 'Copy from FD to destination DEST' \
        --bind-data 'Copy from FD to file which is bind-mounted on DEST' \
        --ro-bind-data 'Copy from FD to file which is readonly bind-mounted on DEST' \
        --symlink 'Create symlink at DEST with target SRC' \
        --chmod 'Change permissions of PATH' \
        --perms 'Set permissions of next argument' \
        --size 'Set size of next --tmpfs (k, m, g suffixes)' \
        --overlay-src 'Read files from SRC in the following overlay' \
        --overlay 'Mount overlayfs on DEST, writes going to RWSRC' \
        --tmp-overlay 'Mount overlayfs on DEST, writes going to an invisible tmpfs' \
        --ro-overlay 'Mount overlayfs read-only on DEST' \
        --overlay-driver 'Overlay driver: auto, kernel or fuse' \
        --chdir 'Change directory to DIR' \
        --setenv 'Set an environment variable' \
        --unsetenv 'Unset an environment variable' \
        --clearenv 'Unset all environment variables' \
        --die-with-parent 'Kill the command when csand or its parent dies' \
        --new-session 'Create a new terminal session' \
        --as-pid-1 'Do not install a reaper process with PID=1' \
        --no-new-session 'Stay in the caller\'s terminal session (undoes --image\'s default)' \
        --no-die-with-parent 'Let the command outlive csand\'s parent (undoes --image\'s default)' \
        --cap-add 'Add capability CAP (or ALL)' \
        --cap-drop 'Drop capability CAP (or ALL)' \
        --seccomp 'Load and use seccomp rules from FD (not repeatable)' \
        --add-seccomp-fd 'Load and use seccomp rules from FD (repeatable)' \
        --seccomp-profile 'Compile and use a Docker/OCI JSON seccomp profile' \
        --exec-label 'Exec label for the sandbox (SELinux)' \
        --file-label 'File label for temporary sandbox content (SELinux)' \
        --info-fd 'Write information about the running container to FD' \
        --json-status-fd 'Write container status to FD as JSON documents' \
        --sync-fd 'Keep this fd open while sandbox is running' \
        --block-fd 'Block on FD until some data to read is available' \
        --userns-block-fd 'Block on FD until the user namespace is ready' \
        --lock-file 'Take a lock on DEST while sandbox is running' \
        --network 'none, host, slirp4netns or pasta' \
        --publish 'Forward [IP:]HOSTPORT:PORT[/tcp|/udp] into the sandbox' \
        --allow-host-loopback "Let the sandbox reach the host's 127.0.0.1" \
        --dns 'Nameserver for the sandbox (repeatable, up to 3)' \
        --allow-host 'Let the sandbox reach only these hosts (HOST[:PORT], *.example.org)' \
        --allow-udp 'Let the sandbox send UDP to HOST:PORT' \
        --add-host 'Resolve NAME to IP in the sandbox (NAME:IP)' \
        --quiet 'Do not report denied network destinations' \
        --memory 'Memory limit of the sandbox (MemoryMax)' \
        --memory-swap 'Swap limit of the sandbox (MemorySwapMax)' \
        --cpus 'CPU time limit in CPUs (CPUQuota)' \
        --cpu-weight 'CPU weight, 1 to 10000 (CPUWeight)' \
        --pids-limit 'Maximum number of processes and threads (TasksMax)' \
        --io-weight 'IO weight, 1 to 10000 (IOWeight)' \
        --cgroup-property 'Set another systemd unit property (NAME=VALUE)' \
        --cgroup-manager 'auto, systemd or cgroupfs' \
        --rlimit 'Set resource limit NAME=SOFT[:HARD] for the command' \
        --image 'Run in a container image (OCI layout or docker save tarball)' \
        --entrypoint "Replace the image's Entrypoint (and its Cmd)" \
        --image-overlay "Keep the changes to the image's root in RWSRC" \
        --image-info "Print the image's config and layers, then exit" \
        --image-cache-list 'List the cached image layers, then exit' \
        --image-cache-prune 'Remove cached image layers no sandbox uses, then exit' \
        --name 'Register the sandbox as NAME while it runs' \
        --join 'Run COMMAND inside a running sandbox (NAME or PID)' \
        --list 'List the running sandboxes, then exit' \
        --json 'With --list: print JSON' \
        --stop 'Stop a running sandbox' \
        --stop-timeout 'With --stop: seconds between SIGTERM and SIGKILL' \
        --landlock 'Landlock rules from the mounts; alone: run in place' \
        --landlock-ro 'Let the command read under PATH' \
        --landlock-exec 'Let the command read and execute under PATH' \
        --landlock-rw 'Let the command read and write under PATH' \
        --landlock-tcp-connect 'Allow TCP connections to PORT[-PORT] only' \
        --landlock-tcp-bind 'Allow binding TCP sockets to PORT[-PORT] only' \
        --scope-abstract-sockets 'No connecting to abstract unix sockets made outside' \
        --scope-signals 'No signals to processes outside the sandbox' \
        --landlock-best-effort "Run with what the kernel's Landlock enforces, warning once"
end

function __csand_complete_value
    set -l cur (commandline -ct)
    switch $argv[1]
        case path
            __fish_complete_path $cur
        case dir
            __fish_complete_directories $cur
        case var
            set -xn
        case cap
            # capabilities(7); csand also takes them without CAP_ and in any
            # case (fish matches "sys_ad" against CAP_SYS_ADMIN by itself).
            printf '%s\n' ALL CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH \
                CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID \
                CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE \
                CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK \
                CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT \
                CAP_SYS_PTRACE CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT \
                CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG \
                CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL \
                CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG \
                CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON \
                CAP_BPF CAP_CHECKPOINT_RESTORE
        case overlay-driver
            printf '%s\t%s\n' auto 'kernel overlayfs where it works, else fuse-overlayfs' \
                kernel 'kernel overlayfs (userxattr)' fuse fuse-overlayfs
        case network
            printf '%s\t%s\n' none 'own namespace, loopback only' host "the caller's network" \
                slirp4netns 'user-mode networking' pasta 'user-mode networking'
        case cgroup-manager
            printf '%s\t%s\n' auto 'systemd if the user bus answers, else cgroupfs' \
                systemd 'a transient scope of the user systemd' cgroupfs 'a sub-cgroup of a delegated cgroup'
        case cgroup-property
            # NAME=VALUE: the names csand knows (utils/cgroups.c)
            string match -q -- '*=*' $cur; and return
            printf '%s=\n' \
                MemoryMin MemoryLow MemoryHigh MemoryMax MemorySwapMax \
                MemoryZSwapMax TasksMax CPUWeight StartupCPUWeight CPUQuota \
                CPUQuotaPeriodSec IOWeight StartupIOWeight AllowedCPUs \
                AllowedMemoryNodes CPUAccounting MemoryAccounting \
                TasksAccounting IOAccounting Delegate Description CollectMode \
                OOMPolicy ManagedOOMSwap ManagedOOMMemoryPressure \
                ManagedOOMPreference KillMode KillSignal FinalKillSignal \
                SendSIGKILL SendSIGHUP TimeoutStopSec RuntimeMaxSec
        case rlimit
            # NAME=SOFT[:HARD]: setrlimit(2)'s resources, without RLIMIT_
            string match -q -- '*=*' $cur; and return
            printf '%s=\n' AS CORE CPU DATA FSIZE LOCKS MEMLOCK MSGQUEUE NICE NOFILE NPROC RTPRIO RTTIME SIGPENDING STACK
        case running
            # the names of this user's running sandboxes (--list's first column)
            set -l prog (commandline -opc)[1]
            for l in (command $prog --list 2>/dev/null)
                printf '%s\t%s\n' (string split -f1 ' ' -- $l) 'running sandbox'
            end
        case profile
            set -l dir '@PKGDATADIR@/seccomp-profiles'
            set -q CSAND_SECCOMP_PROFILE_DIR; and set dir $CSAND_SECCOMP_PROFILE_DIR
            for f in $dir/*.json
                test -f $f; and printf '%s\t%s\n' (string replace -r '^.*/(.*)\.json$' '$1' -- $f) 'installed profile'
            end
            __fish_complete_path $cur
    end
end

# Completes the command in $argv (its words before the cursor) and its
# arguments, with the command's own completion.
function __csand_complete_command
    if test (count $argv) -eq 0
        __fish_complete_command
    else
        complete -C (string join ' ' -- (string escape -- $argv) (commandline -ct))
    end
end

# After --join, --list or --stop ($argv[1]): only the options it takes
# (csand refuses the rest).
function __csand_running_options
    set -l keep --help --version --level-prefix
    switch $argv[1]
        case --join
            set keep $keep --args --argv0 --chdir --setenv --unsetenv --clearenv
        case --list
            set keep $keep --json
        case --stop
            set keep $keep --stop-timeout
    end
    for line in (__csand_options)
        contains -- (string split -m1 \t -- $line)[1] $keep; and printf '%s\n' $line
    end
    test $argv[1] = --join; and printf '%s\t%s\n' -- 'End of options'
end

function __csand_complete
    set -l tokens (commandline -opc)
    set -l n (count $tokens)
    set -l i 2
    set -l running
    while test $i -le $n
        set -l word $tokens[$i]
        if test "$word" = --
            __csand_complete_command $tokens[(math $i + 1)..-1]
            return
        end
        contains -- $word --join --list --stop; and set running $word
        if not string match -q -- '-*' $word
            __csand_complete_command $tokens[$i..-1]
            return
        end
        set -l kinds (__csand_option_args $word)
        set -l k (count $kinds)
        # The word at the cursor is token n+1: a value of this option?
        if test (math $n + 1) -le (math $i + $k)
            __csand_complete_value $kinds[(math $n + 1 - $i)]
            return
        end
        set i (math $i + 1 + $k)
    end

    if string match -q -- '-*' (commandline -ct); and set -q running[1]
        __csand_running_options $running
    else if string match -q -- '-*' (commandline -ct)
        __csand_options
        printf '%s\t%s\n' -- 'End of options'
    else
        __csand_complete_command
    end
end

complete -c csand -e
complete -c csand -f -a '(__csand_complete)'
