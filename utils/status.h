/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* bwrap's --info-fd / --json-status-fd JSON: the child's pid and the ids
 * (inode numbers) of the namespaces it got, then, for the status fd, the
 * exit code when it is over. */
int status_write_info(int fd, pid_t child, unsigned long clone_flags);
int status_write_exit(int fd, int exit_code);
