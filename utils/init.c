/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
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

/* Reaps what has exited (everything, with reap_all: pid 1 adopts the
 * orphans); returns 1 once PID was among it. */
static int reap(pid_t pid, bool reap_all, bool *pid_done, int *ret_status) {
        for (;;) {
                int status;
                pid_t r = waitpid(reap_all ? -1 : pid, &status, WNOHANG);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ECHILD)
                                return *pid_done;
                        return -errno;
                }
                if (r == 0)
                        return *pid_done;
                if (r == pid) {
                        *pid_done = true;
                        *ret_status = status;
                }
        }
}

int init_supervise(pid_t pid, int signal_fd, bool reap_all, bool forward_tty_signals, int *ret_status) {
        bool done = false;
        int status = 0;

        for (;;) {
                int r = reap(pid, reap_all, &done, &status);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret_status = status;
                        return 0;
                }

                struct signalfd_siginfo si;
                ssize_t n = read(signal_fd, &si, sizeof(si));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (si.ssi_signo == SIGCHLD || done)
                        continue;
                if (si.ssi_code == SI_KERNEL && !forward_tty_signals)
                        continue;
                (void) kill(pid, (int) si.ssi_signo);
        }
}
