# The differential tier's probe (tests/differential/run.py): run as
#     sh -c "$(cat probe.sh)" probe s:PATH... f:PATH... l:DIR...
# inside a sandbox, it prints what a user of the sandbox can observe, in
# "@section" blocks, raw; run.py normalises (pids, namespace ids, devices).
# s:PATH  stat PATH (type, mode, owner, link target)
# f:PATH  statfs PATH (fs type and size: --size)
# l:DIR   list DIR
# It must work in any root that has /bin/sh: with and without /proc, /dev,
# a writable /; so it reads /proc with the shell's own builtins (which also
# makes /proc/self the shell, the sandbox's command, not a helper), runs few
# programs, writes nothing but stdout.
exec 2>&1
stats=
fss=
lists=
for a; do
        case $a in
        s:*) stats="$stats ${a#s:}" ;;
        f:*) fss="$fss ${a#f:}" ;;
        l:*) lists="$lists ${a#l:}" ;;
        esac
done
dump() {
        while IFS= read -r l; do printf '%s\n' "$l"; done <"$1"
}
if [ -r /proc/self/status ]; then
        echo @status
        while IFS= read -r l; do
                case $l in
                Uid:* | Gid:* | Groups:* | Cap* | NoNewPrivs:* | Seccomp:*) printf '%s\n' "$l" ;;
                esac
        done </proc/self/status
        echo @stat
        read -r s </proc/self/stat
        printf '%s\n' "$s"
        echo @uid_map
        dump /proc/self/uid_map
        echo @gid_map
        dump /proc/self/gid_map
        echo @setgroups
        dump /proc/self/setgroups
        echo @mountinfo
        dump /proc/self/mountinfo
        echo @fds
        for f in /proc/self/fd/*; do printf '%s\n' "${f##*/}"; done
        echo @ns
        stat -c %N /proc/self/ns/*
        echo @hostname
        dump /proc/sys/kernel/hostname
else
        echo @noproc
        echo @hostname
        uname -n
        echo @id
        id -u
        id -g
fi
echo @pid
printf '%s\n' "$$"
echo @cwd
pwd
echo @env
export -p
echo @stats
# shellcheck disable=SC2086
[ -z "$stats" ] || stat -c '%n|%F|%a|%u|%g|%s|%N' -- $stats
echo @statfs
# shellcheck disable=SC2086
[ -z "$fss" ] || stat -f -c '%n|%T|%b|%S' -- $fss
echo @lists
for d in $lists; do
        echo "$d:"
        ls -A -- "$d"
done
echo @end
