/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include "plan.h"

/* --join NAME|PID -- COMMAND: runs COMMAND inside a running sandbox of
 * this user (utils/registry.c finds it) the way the sandbox's own command
 * runs, and returns COMMAND's exit status (1 with a message when it could
 * not be started).
 *
 * The target is the sandbox's command process (the child of its pid 1,
 * when it has one): its namespaces (one setns() on a pidfd), its root,
 * its rlimits, and by default its environment (as it was at exec) and
 * working directory ($PWD of that environment). From the registration:
 * the sandbox's cgroup, uid/gid, capability sets (bounding set too, never
 * more than the command's own bounding set), no_new_privs, a new session
 * when the sandbox has one, and the seccomp programs the sandbox loaded,
 * kept byte for byte in the registration (re-deriving them from the plan
 * could differ: a profile file may have changed since).
 *
 * csand --join itself stays outside the sandbox's pid namespace as the
 * joined command's monitor: it passes signals on and waits, without
 * capabilities, not dumpable. */
int join_run(SandboxPlan *p);
