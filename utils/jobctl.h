/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* The sandbox as a job: a process group of its own, and the terminal.
 *
 * The sandbox's processes never share a process group with the caller:
 * kill(0, ...), setpriority(PRIO_PGRP, 0, ...) and ioprio_set(IOPRIO_WHO_PGRP,
 * 0, ...) from inside reach the sandbox only. The child makes the group
 * (setpgid(0, 0), first thing after clone) and the monitor does too
 * (setpgid(child, child), right after clone), as shells do, so that it
 * exists whichever runs first. The group's id is the child's pid as the
 * monitor sees it, whatever the child's pid inside its pid namespace.
 * --new-session instead makes a session (and group) of its own with
 * setsid(), late in the setup; the child must then not lead a group before.
 *
 * The terminal: when csand runs in the foreground of its controlling
 * terminal, and both its stdin and stdout are that terminal (an interactive
 * run, not `csand ... | less`, where the terminal belongs to the pipeline),
 * the monitor hands the terminal's foreground to the sandbox's group before
 * the command starts (tcsetpgrp(), with SIGTTOU blocked as a shell does), so
 * that the command reads the terminal and gets Ctrl-C and Ctrl-Z directly,
 * and takes it back when the sandbox ends or fails, before printing
 * anything. In the background (or in a pipeline) it never touches the
 * terminal.
 *
 * Job control: when the sandbox stops on a terminal stop signal (Ctrl-Z, a
 * read or write from the background), the monitor takes the terminal back
 * and stops itself with the same signal, so that the caller's shell sees
 * csand stopped; when continued (fg, bg), it hands the terminal over again
 * if it is now in the foreground, and continues the sandbox's group. */

#include <stdbool.h>
#include <sys/types.h>

#include "init.h"
#include "macro.h"

typedef struct JobControl {
        int tty_fd;     /* the controlling terminal (stdin, close-on-exec copy), or -EBADF */
        pid_t own_pgid; /* csand's process group */
        pid_t pgid;     /* the sandbox's process group (the child's pid), 0 before clone */
        bool own_group; /* the child makes a process group of its own (no --new-session) */
        bool handed;    /* the sandbox's group holds the terminal: take it back */
} JobControl;
#define JOB_CONTROL_INIT \
        { .tty_fd = -EBADF }

/* Before clone. NEW_SESSION: --new-session (the child calls setsid()). */
void jobctl_init(JobControl *j, bool new_session);

/* Will the monitor want to hand the terminal over (so the child must wait
 * at the gate until it has)? */
bool jobctl_may_hand_terminal(const JobControl *j);

/* The child, first thing after clone. 0 or -errno. */
int jobctl_child_enter_group(const JobControl *j);

/* The monitor, right after clone. */
void jobctl_monitor_start(JobControl *j, pid_t child);

/* The monitor, before the command may start and whenever continued: hands
 * the terminal to the sandbox's group if csand is in the foreground. */
void jobctl_hand_terminal(JobControl *j);

/* The monitor: takes the terminal back if it was handed over. Idempotent. */
void jobctl_take_terminal_back(JobControl *j);

/* The monitor: the sandbox stopped on signal SIG. */
void jobctl_sandbox_stopped(JobControl *j, int sig);

/* The monitor: csand got SIGCONT. */
void jobctl_continued(JobControl *j);

/* The monitor: S (for init_supervise()) makes the stops of the group
 * csand's own (jobctl_sandbox_stopped(), jobctl_continued()). STOPS_IN:
 * where pid 1 reports the command's stops, or -EBADF when S->pid is the
 * command itself. Not with --new-session: no terminal, no job. */
void jobctl_supervise(JobControl *j, Supervise *s, int stops_in);

/* Takes the terminal back and closes it. */
void jobctl_done(JobControl *j);
