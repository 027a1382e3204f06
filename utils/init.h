/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"

/* The signals the monitor and pid 1 pass on to the command, plus SIGCHLD. */
void init_supervised_signals(sigset_t *ret);

/* A signalfd for the supervised signals, which must already be blocked. */
int init_signalfd(int *ret_fd);

typedef struct Supervise {
        pid_t pid;     /* the process waited for */
        int signal_fd; /* from init_signalfd() */
        /* As pid 1, also reap orphans. Returns as soon as PID has exited
         * (pid 1 then exits too, and whatever the command left behind dies
         * with the pid namespace), unless exit_out is set. */
        bool reap_all;
        /* Pid 1, as bwrap's: once PID has exited, reports its exit code
         * to the monitor on exit_out (a 0 byte, then the code: stops are
         * never 0) and goes on reaping until no child is left; only then
         * returns. The monitor, reading stops_in, returns at once with
         * that code (*ret_status an exit with it). */
        int exit_out;
        /* Also pass on signals the terminal sent (SI_KERNEL); off where PID
         * is in our process group and got them itself. */
        bool forward_tty_signals;
        /* Stops of PID, for the monitor's job control. Pid 1 writes each
         * stop signal, one byte, to stops_out; the monitor reads them from
         * stops_in (pid 1 between it and the command), or, with
         * watch_stops, sees PID's own stops (PID is the command). */
        int stops_out;
        int stops_in;
        bool watch_stops;
        void (*on_stop)(void *userdata, int sig);
        void (*on_continue)(void *userdata); /* we got SIGCONT */
        void *userdata;
        /* A pidfd: once that process has ended, PID's process group is
         * killed (a joined command ends with its sandbox, as a pid
         * namespace would end it). */
        int end_fd;
        /* the monitor's reading of pid 1's reports */
        bool code_next;
        int reported_code;
} Supervise;
#define SUPERVISE_INIT \
        { .exit_out = -EBADF, .stops_out = -EBADF, .stops_in = -EBADF, .end_fd = -EBADF, .reported_code = -1 }

/* Waits for s->pid while passing supervised signals on to it (SIGCONT to
 * its whole process group when on_continue is set, the job-control view).
 * *ret_status gets PID's wait status. */
int init_supervise(Supervise *s, int *ret_status);

/* Exit code for a wait status: the code, or 128+N for death by signal N. */
int init_exit_code(int status);
