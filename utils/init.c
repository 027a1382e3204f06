/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init.h"
#include "macro.h"

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGWINCH, SIGCONT };

void init_supervised_signals(sigset_t *ret) {
        sigemptyset(ret);
        for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
                sigaddset(ret, forwarded[i]);
        sigaddset(ret, SIGCHLD);
}

int init_signalfd(int *ret_fd) {
        sigset_t set;
        init_supervised_signals(&set);
        int fd = signalfd(-1, &set, SFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int init_exit_code(int status) {
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
}

static void stopped(Supervise *s, int sig) {
        if (s->stops_out >= 0) {
                unsigned char c = (unsigned char) sig;
                /* Non-blocking: a monitor that does not read does not hold
                 * us up. */
                (void) !write(s->stops_out, &c, 1);
        }
        if (s->on_stop)
                s->on_stop(s->userdata, sig);
}

/* Reaps what has exited (everything, with reap_all: pid 1 adopts the
 * orphans) and notes PID's stops; returns 1 once PID was among the dead,
 * 2 once no child is left either. */
static int reap(Supervise *s, bool *pid_done, int *ret_status) {
        int flags = WNOHANG | (s->watch_stops || s->stops_out >= 0 ? WUNTRACED : 0);
        for (;;) {
                int status;
                pid_t r = waitpid(s->reap_all ? -1 : s->pid, &status, flags);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ECHILD)
                                return *pid_done ? 2 : 0;
                        return -errno;
                }
                if (r == 0)
                        return *pid_done;
                if (r != s->pid)
                        continue;
                if (WIFSTOPPED(status)) {
                        if (!*pid_done)
                                stopped(s, WSTOPSIG(status));
                        continue;
                }
                *pid_done = true;
                *ret_status = status;
        }
}

/* Pid 1's reports of the command's stops. */
static void read_stops(Supervise *s) {
        unsigned char buf[16];
        ssize_t n = read(s->stops_in, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                /* Pid 1 is gone: its exit is on its way. (The fd is the
                 * caller's to close.) */
                s->stops_in = -EBADF;
                return;
        }
        for (ssize_t i = 0; i < n; i++) {
                if (s->code_next) {
                        s->reported_code = buf[i];
                        s->code_next = false;
                } else if (buf[i] == 0)
                        s->code_next = true;
                else if (s->on_stop)
                        s->on_stop(s->userdata, buf[i]);
        }
}

/* Pid 1: the command's exit code to the monitor (exit_out). Non-blocking:
 * a monitor that is gone does not hold us up. */
static void report_exit(Supervise *s, int status) {
        unsigned char msg[2] = { 0, (unsigned char) init_exit_code(status) };
        (void) !write(s->exit_out, msg, sizeof(msg));
        /* the same pipe as the stops': nothing more to tell on it */
        if (s->stops_out == s->exit_out)
                s->stops_out = -EBADF;
        s->exit_out = safe_close(s->exit_out);
}

static void forward(Supervise *s, const struct signalfd_siginfo *si) {
        int sig = (int) si->ssi_signo;
        if (sig == SIGCONT && s->on_continue) {
                s->on_continue(s->userdata);
                return;
        }
        if (si->ssi_code == SI_KERNEL && !s->forward_tty_signals)
                return;
        (void) kill(s->pid, sig);
}

int init_supervise(Supervise *s, int *ret_status) {
        bool done = false, outlived = s->exit_out >= 0;
        int status = 0;

        for (;;) {
                int r = reap(s, &done, &status);
                if (r < 0)
                        return r;
                if (r > 0 && s->exit_out >= 0)
                        report_exit(s, status);
                if (r == 2 || (r == 1 && !outlived)) {
                        *ret_status = status;
                        return 0;
                }
                if (s->reported_code >= 0) {
                        *ret_status = W_EXITCODE(s->reported_code, 0);
                        return 0;
                }

                struct pollfd p[3] = {
                        { .fd = s->signal_fd, .events = POLLIN },
                        { .fd = s->stops_in, .events = POLLIN },
                        { .fd = s->end_fd, .events = POLLIN },
                };
                r = poll(p, 3, -1);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[1].revents)
                        read_stops(s);
                if (p[2].revents) {
                        (void) kill(-s->pid, SIGKILL);
                        s->end_fd = -EBADF; /* once; the caller closes it */
                }
                if (!p[0].revents)
                        continue;

                struct signalfd_siginfo si;
                ssize_t n = read(s->signal_fd, &si, sizeof(si));
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                /* Once PID is gone (pid 1 outliving it), nothing to pass
                 * on: its pid may be another process's by now. */
                if (si.ssi_signo == SIGCHLD || done)
                        continue;
                forward(s, &si);
        }
}
