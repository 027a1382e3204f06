# SPDX-License-Identifier: LGPL-2.0-or-later
# shellcheck shell=bash
#
# The outer part the benchmark scripts share: find the binaries, pick the
# unprivileged user, stage copies it can read, and re-run the script as that
# user in a clean environment. csand is measured as it is used, by an
# unprivileged user, and the measurements must not depend on the caller's
# environment; so every script re-runs itself with CSAND_BENCH_INNER=1 and
# does the measuring in that inner run.
#
# Sourced by the scripts' outer part only (CSAND_BENCH_INNER unset), from
# the directory of the script's real path. The inner run never sources it,
# so a script staged alone into /tmp still works. The caller must define
# die MESSAGE (it prints the script's own prefix and exits 1).

# bench_build_csand [BUILD]: sets CSAND to the real path of csand. When
# CSAND is set (meson's benchmark() sets it) it is used and nothing is
# built; otherwise BUILD (default: build in the source tree) is configured
# if needed and compiled, so that a plain `tests/bench/X.sh` measures the
# current source.
bench_build_csand() {
        local top build
        top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
        build=${1:-$top/build}
        if [[ -z ${CSAND:-} ]]; then
                command -v meson >/dev/null || die "meson not found"
                if [[ ! -d $build/meson-private ]]; then
                        meson setup "$build" "$top" >/dev/null || die "meson setup $build failed"
                fi
                meson compile -C "$build" >/dev/null || die "meson compile -C $build failed"
                CSAND=$build/csand
        fi
        CSAND=$(readlink -f "$CSAND")
}

# bench_require_built DIR FILE...: dies unless every FILE is executable,
# telling to compile DIR. Checked before dropping privileges, so that a
# missing binary is reported as such rather than as a failure as the user.
bench_require_built() {
        local dir=$1 f
        shift
        for f; do
                [[ -x $f ]] || die "$f is missing: build it with meson compile -C $dir"
        done
}

# bench_require_user [HINT]: sets bench_user ($CSAND_BENCH_USER, default
# csandtest, which tools/prepare-machine.sh creates) and bench_home, its
# home directory. Dies, with HINT after "does not exist", if there is no
# such user, and if it is root: measuring as root would hide the cost of
# the unprivileged paths (user namespace, id maps) that real use pays.
bench_require_user() {
        bench_user=${CSAND_BENCH_USER:-csandtest}
        id -u "$bench_user" >/dev/null 2>&1 || die "user '$bench_user' does not exist${1:-}"
        [[ $(id -u "$bench_user") != 0 ]] || die "CSAND_BENCH_USER=$bench_user is root; an unprivileged user is needed"
        bench_home=$(getent passwd "$bench_user" | cut -d: -f6)
}

# bench_user_can_read FILE... / bench_user_can_run FILE...: whether
# bench_user can read (and run) every FILE. Asked as the user, with
# runuser, since root's view (and ACLs, or a build tree under /root) would
# say nothing about it.
bench_user_can_read() {
        local f
        for f; do
                runuser -u "$bench_user" -- test -r "$f" || return 1
        done
}
bench_user_can_run() {
        local f
        for f; do
                runuser -u "$bench_user" -- test -x "$f" -a -r "$f" || return 1
        done
}

# bench_make_stage NAME: sets bench_stage to a new private directory
# /tmp/NAME.XXXXXX, removed when the script exits. mktemp makes it 0700 and
# root's; it is opened to 0755 so that the user can run what is put there,
# and nobody else can put anything there.
bench_stage=
bench_cleanup_stage() {
        [[ -z $bench_stage ]] || rm -rf -- "$bench_stage"
}
bench_make_stage() {
        bench_stage=$(mktemp -d "/tmp/$1.XXXXXX")
        trap bench_cleanup_stage EXIT
        chmod 755 "$bench_stage"
}

# bench_stage_file VAR=NAME...: copies the file whose path is in the
# variable VAR to $bench_stage/NAME (mode 0755: the same bytes, runnable by
# the user) and points VAR at the copy. Used for the binaries and for the
# script itself, which the inner run executes from there.
bench_stage_file() {
        local a var name
        for a; do
                var=${a%%=*} name=${a#*=}
                install -m 755 "${!var}" "$bench_stage/$name"
                printf -v "$var" %s "$bench_stage/$name"
        done
}

# bench_stage_dir VAR=NAME: copies the directory whose path is in VAR to
# $bench_stage/NAME, opened to everyone for reading (a+rX), and points VAR
# at the copy. For data the inner run reads: the image, the profiles.
bench_stage_dir() {
        local var=${1%%=*} name=${1#*=}
        cp -a "${!var}" "$bench_stage/$name"
        chmod -R a+rX "$bench_stage/$name"
        printf -v "$var" %s "$bench_stage/$name"
}

# bench_exec_inner [--nice] [--set-user] SCRIPT VAR=VALUE...: runs
# `bash SCRIPT` with CSAND_BENCH_INNER=1 (the caller passes it among the
# VAR=VALUE) in an environment of only VAR=VALUE... and HOME, and never
# returns. Started unprivileged, it execs in place as the caller. Started
# as root (after bench_require_user), it runs it as bench_user with runuser
# and exits with its status; the EXIT trap then removes the stage.
# --nice: as root, run it at nice $CSAND_BENCH_NICE (default -20), so that
#         other load on the machine disturbs the measurements less.
# --set-user: also set USER to the user it runs as.
bench_exec_inner() {
        local nice=0 set_user=0 script rc=0
        while [[ $1 == --* ]]; do
                case $1 in
                --nice) nice=1 ;;
                --set-user) set_user=1 ;;
                *) die "bench_exec_inner: unknown option $1" ;;
                esac
                shift
        done
        script=$1
        shift
        if [[ $(id -u) != 0 ]]; then
                ((set_user == 0)) || set -- "$@" USER="$(id -un)"
                exec env -i "$@" HOME="${HOME:-/}" bash "$script"
        fi
        ((set_user == 0)) || set -- "$@" USER="$bench_user"
        local run=(runuser -u "$bench_user" -- env -i "$@" HOME="${bench_home:-/}" bash "$script")
        ((nice == 0)) || run=(nice -n "${CSAND_BENCH_NICE:--20}" "${run[@]}")
        "${run[@]}" || rc=$?
        exit $rc
}
