/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* External helper processes (slirp4netns, pasta, fuse-overlayfs, ...) that
 * csand starts outside the sandbox and that must never outlive it.
 *
 * Every external program csand runs is found with helper_find_executable()
 * and started with helper_start(): nothing else in csand searches PATH or
 * execs a program of its own choosing (the command is the caller's).
 *
 * A helper is started as posix_spawn() starts a program: by a child that
 * shares our memory, on a small stack of its own, while we wait until it
 * has exec'd (no page tables copied, no copy-on-write faults), which makes
 * only system calls; forked instead when HelperSpec.pre_exec is given
 * (which runs csand's code and may join a user namespace, refused to a
 * process sharing memory). Either way with:
 *  - PR_SET_PDEATHSIG(SIGKILL), so that it dies with csand even when csand
 *    is SIGKILLed (if the helper keeps running in the process that csand
 *    started: helpers that daemonize must be told not to);
 *  - only the fds it is given: HelperSpec.fds[i] becomes fd 3 + i, every
 *    other fd above 2 is closed; stdin is /dev/null, stdout and stderr go to
 *    /dev/null or to a memory file that helper_read_output() returns;
 *  - a new session (no terminal signals), default signal dispositions and
 *    an empty signal mask (the monitor blocks the signals it supervises);
 *  - whatever HelperSpec.pre_exec does first (joining a namespace, dropping
 *    capabilities), with the caller's fds still where they were, and every
 *    signal blocked and at its default action.
 *
 * The Helper is owned by the caller; helper_free() (or _cleanup_helper_)
 * kills it with SIGKILL and reaps it, so no error path leaves one behind.
 * Nothing here prints. */

#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"

#define HELPER_UMASK_KEEP ((mode_t) -1)
#define HELPER_WHY_MAX 256

typedef struct HelperSpec {
        const char *path;  /* absolute path of the executable */
        char *const *argv; /* argv[0] included, NULL-terminated */
        const int *fds;    /* passed to the helper as 3, 4, ... */
        size_t n_fds;
        mode_t umask;        /* HELPER_UMASK_KEEP to inherit ours */
        bool capture_output; /* stdout+stderr into a memory file */
        /* Runs in the child before its fds are arranged; a negative errno
         * stops the start, *what says which step failed. Must not print
         * (stdio is still the caller's). */
        int (*pre_exec)(void *userdata, const char **what);
        void *userdata;
} HelperSpec;

typedef struct Helper {
        pid_t pid;
        int pidfd;
        int output_fd; /* memfd with the helper's output, or -EBADF */
        bool reaped;
        int status; /* wait status, once reaped */
} Helper;

/* Looks the bare NAME up in $PATH, in absolute entries only: empty and
 * relative entries (".", "bin") would make the current directory choose the
 * program, which then runs outside every sandbox. -ENOENT when there is no
 * executable of that name, -EINVAL for a NAME with a slash. */
int helper_find_executable(const char *name, char **ret_path);

/* In a child that csand forked to be a helper (with or without an exec):
 * nothing blocked, every signal's default action, as a new program
 * expects them. */
void helper_reset_signals(void);

/* Starts SPEC->path (absolute); returns once it has exec'd. On failure
 * before exec, WHY (if WHY_SIZE > 0) says which step failed and why. */
int helper_start(const HelperSpec *spec, Helper **ret, char *why, size_t why_size);

/* Waits up to TIMEOUT_MS for the helper to exit; 0 once it has (it is
 * reaped: h->status), -ETIMEDOUT. */
int helper_wait(Helper *h, int timeout_ms);

/* Waits until FD is readable (or hung up), the helper exits, or TIMEOUT_MS
 * passes. Returns 0 when FD is ready, -ECHILD when the helper exited first
 * (it is reaped: h->status), -ETIMEDOUT. */
int helper_wait_fd(Helper *h, int fd, int timeout_ms);

/* Has the helper exited? Reaps it if so. */
bool helper_exited(Helper *h);

/* The last (at most MAX) bytes of what the helper wrote to stdout and
 * stderr, NUL-terminated; "" when it was not captured. */
int helper_read_output(Helper *h, size_t max, char **ret);

/* Sends SIG (unless 0), waits up to TIMEOUT_MS for the helper to exit, then
 * SIGKILLs it; always reaps it. Idempotent. */
void helper_stop(Helper *h, int sig, int timeout_ms);

/* Stops the helper with SIGKILL (if still running), reaps it, frees it. */
Helper *helper_free(Helper *h);
static inline void helper_freep(Helper **h) {
        helper_free(*h);
}
#define _cleanup_helper_ _cleanup_(helper_freep)

/* "exited with status 3" / "was killed by signal 9" for a wait status. */
void helper_describe_status(int status, char *buf, size_t size);
