/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* The signals the monitor and pid 1 pass on to the command, plus SIGCHLD. */
void init_supervised_signals(sigset_t *ret);

/* A signalfd for the supervised signals, which must already be blocked. */
int init_signalfd(int *ret_fd);

/* Waits for PID while passing supervised signals on to it.
 *  reap_all: as pid 1, also reap orphans. Returns as soon as PID has
 *            exited: pid 1 then exits too, and whatever the command left
 *            behind dies with the pid namespace.
 *  forward_tty_signals: also pass on signals the terminal sent (SI_KERNEL);
 *            off when PID shares our process group and got them itself.
 * *ret_status gets PID's wait status. */
int init_supervise(pid_t pid, int signal_fd, bool reap_all, bool forward_tty_signals, int *ret_status);

/* Exit code for a wait status: the code, or 128+N for death by signal N. */
int init_exit_code(int status);
