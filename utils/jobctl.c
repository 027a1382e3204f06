/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobctl.h"

/* Is FD a terminal, the one REF describes? */
static bool same_terminal(int fd, const struct stat *ref) {
        struct stat st;
        return isatty(fd) && fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == ref->st_rdev;
}

void jobctl_init(JobControl *j, bool new_session) {
        struct stat st;

        *j = (JobControl) JOB_CONTROL_INIT;
        j->own_pgid = getpgrp();
        j->own_group = !new_session;
        /* With --new-session the command has no controlling terminal. */
        if (new_session)
                return;
        /* tcgetpgrp() succeeds only on our controlling terminal. A stdout
         * elsewhere (a pipe to less, a file) means the terminal is not the
         * command's alone to read: it stays with csand's group. */
        if (!isatty(STDIN_FILENO) || tcgetpgrp(STDIN_FILENO) < 0 || fstat(STDIN_FILENO, &st) < 0 ||
            !same_terminal(STDOUT_FILENO, &st))
                return;
        j->tty_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
}

bool jobctl_may_hand_terminal(const JobControl *j) {
        return j->tty_fd >= 0;
}

int jobctl_child_enter_group(const JobControl *j) {
        if (!j->own_group)
                return 0;
        return setpgid(0, 0) < 0 ? -errno : 0;
}

void jobctl_monitor_start(JobControl *j, pid_t child) {
        j->pgid = child;
        /* Also here, as shells do: the group exists before we use it,
         * whichever of us runs first. EACCES once the child has exec'd,
         * which means it did it itself. */
        if (j->own_group)
                (void) setpgid(child, child);
}

/* tcsetpgrp() from what may be a background group: with SIGTTOU blocked
 * the kernel allows it instead of stopping us. */
static int set_foreground(int fd, pid_t pgrp) {
        sigset_t ttou, saved;
        sigemptyset(&ttou);
        sigaddset(&ttou, SIGTTOU);
        sigprocmask(SIG_BLOCK, &ttou, &saved);
        int r = tcsetpgrp(fd, pgrp) < 0 ? -errno : 0;
        sigprocmask(SIG_SETMASK, &saved, NULL);
        return r;
}

void jobctl_hand_terminal(JobControl *j) {
        if (j->tty_fd < 0 || j->handed || j->pgid <= 0)
                return;
        /* Only from the foreground: in the background the terminal is
         * someone else's, and stays so. */
        if (tcgetpgrp(j->tty_fd) != j->own_pgid)
                return;
        if (set_foreground(j->tty_fd, j->pgid) == 0)
                j->handed = true;
}

void jobctl_take_terminal_back(JobControl *j) {
        if (!j->handed)
                return;
        /* Whichever group of the sandbox has it now (a job of a shell
         * inside, say): the sandbox's time with it is over. */
        (void) set_foreground(j->tty_fd, j->own_pgid);
        j->handed = false;
}

/* Stops csand with SIG, as the sandbox was stopped. SIGTSTP, SIGTTIN and
 * SIGTTOU are discarded by the kernel when our group is orphaned (no job
 * control shell to continue it): then we go on at once. */
static void stop_self(int sig) {
        sigset_t set, saved;
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, &saved);
        (void) kill(getpid(), sig);
        sigprocmask(SIG_SETMASK, &saved, NULL);
}

void jobctl_continued(JobControl *j) {
        jobctl_hand_terminal(j);
        if (j->pgid > 0)
                (void) kill(-j->pgid, SIGCONT);
}

void jobctl_sandbox_stopped(JobControl *j, int sig) {
        /* SIGSTOP: someone stopped it on purpose, and will continue it. */
        if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
                return;
        jobctl_take_terminal_back(j);
        stop_self(sig);
        jobctl_continued(j);
}

static void on_stopped(void *userdata, int sig) {
        jobctl_sandbox_stopped(userdata, sig);
}

static void on_continued(void *userdata) {
        jobctl_continued(userdata);
}

void jobctl_supervise(JobControl *j, Supervise *s, int stops_in) {
        if (!j->own_group)
                return;
        s->stops_in = stops_in;
        s->watch_stops = stops_in < 0;
        s->on_stop = on_stopped;
        s->on_continue = on_continued;
        s->userdata = j;
}

void jobctl_done(JobControl *j) {
        jobctl_take_terminal_back(j);
        j->tty_fd = safe_close(j->tty_fd);
}
