/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "plan.h"

/* bwrap's --info-fd / --json-status-fd JSON: the child's pid and the ids
 * (inode numbers) of the namespaces it got, then, for the status fd, the
 * exit code when the command ran and is over. csand adds its own members after bwrap's:
 * "network" (none, host, slirp4netns or pasta) and, with user-mode
 * networking, "published-ports" (a list of { "protocol", "host-ip",
 * "host-port", "port" }). */
/* NS_FDS: the child's namespaces as it sent them (report.h's order),
 * -EBADF where missing. JSON_LINES: the object on one line
 * (--json-status-fd), else indented over several (--info-fd). No
 * "user-namespace", as in bwrap. */
int status_write_info(int fd, const SandboxPlan *p, pid_t child, unsigned long clone_flags, const int *ns_fds, bool json_lines);
int status_write_exit(int fd, int exit_code);
/* resources: before the exit code, when the memory limit killed the sandbox:
 * { "oom-killed": true, "memory-limit": "50M" } (the limit as given). */
int status_write_oom_kill(int fd, const char *memory_limit);
