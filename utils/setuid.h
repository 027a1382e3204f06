/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "log.h"

struct SandboxPlan;

/* Setuid mode (meson -Dsetuid=true; README, "Setuid mode"; SECURITY.md).
 *
 * Three processes share the binary:
 *   - the caller's process, setuid root at exec. setuid_init() (first in
 *     main()) forks the privileged part and then drops to the real uid and
 *     gid for good: it parses argv, reads what the options name, builds the
 *     plan and becomes the monitor, as an unprivileged csand does.
 *   - the privileged part: root, not dumpable, signals from the caller
 *     refused (its real uid is 0 too), no environment, only the
 *     capabilities its one job needs. On request it creates the sandbox's
 *     namespaces with a user namespace owned by root, writes that
 *     namespace's maps for the real uid and gid only, and starts the
 *     worker in it; then it exits. It never opens a path the caller named.
 *     Where no user namespace can be made at all, it starts the worker in
 *     namespaces of the initial one instead (setuid_nouserns()).
 *   - the worker: csand again, exec'd in the new namespaces as the real
 *     user with the capabilities of that user namespace only (ambient) and
 *     no_new_privs, so not dumpable (AT_SECURE) and out of the caller's
 *     reach, since the caller doesn't own the namespace. It parses the same
 *     command line and runs an unprivileged csand's child from there on.
 *
 * setuid_init() returns 0 (go on), or -1 having said why (exit 1). */
int setuid_init(int *argc, char ***argv);

/* Running setuid (the caller's process, after the drop). */
bool setuid_active(void);
/* Running as the worker: its report, gate and stops fds (-EBADF: none). */
bool setuid_worker(int *ret_report_fd, int *ret_gate_fd, int *ret_stops_fd);
/* The worker runs without a user namespace: nobody, root included, may
 * make one here (user.max_user_namespaces=0). Its namespaces belong to the
 * initial user namespace; it holds CAP_SYS_ADMIN, CAP_NET_ADMIN and
 * CAP_SETPCAP there as the caller (every uid and gid the caller's), and
 * options that need a user namespace are refused (SECURITY.md, "Setuid
 * mode without user namespaces"). */
bool setuid_nouserns(void);

/* The options setuid mode refuses, with the reason in one message. */
int setuid_check_plan(const struct SandboxPlan *p, Error *e);

/* The worker's user namespace maps: written by the privileged part, the
 * sandbox's ids mapped directly to the real ones (and root to the overflow
 * uid when devpts needs it mapped, as bwrap's setuid mode did); no nested
 * namespace is needed. */
bool setuid_maps_written(void);

/* Asks the privileged part to create namespaces FLAGS (CLONE_NEWUSER is
 * always added) with UID/GID mapped to the real ids, and to start the
 * worker there, a child of ours, with REPORT_FD, GATE_FD and STOPS_FD
 * (pid 1's end of the stops pipe). Returns its pid, or -errno with E
 * filled. */
pid_t setuid_clone(const struct SandboxPlan *p, unsigned long flags, uid_t uid, gid_t gid, bool map_root, int report_fd,
                   int gate_fd, int stops_fd, Error *e);

/* Not needed after all (a command such as --list, Landlock in place): the
 * privileged part exits. */
void setuid_release(void);
