/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* More than any helper needs (fuse-overlayfs: a connection and up to 240
 * layers); keeps the child free of allocations. */
#define HELPER_MAX_FDS 256

/* The vfork-style child's stack: helper_child() needs about
 * HELPER_MAX_FDS ints and a few frames (more under AddressSanitizer). */
#define HELPER_STACK_SIZE (128 * 1024)

int helper_find_executable(const char *name, char **ret_path) {
        /* A bare name only: a path would be resolved against wherever the
         * caller happens to be. */
        if (!name || !*name || strchr(name, '/'))
                return -EINVAL;

        const char *path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *dir = path; dir;) {
                const char *colon = strchr(dir, ':');
                size_t len = colon ? (size_t) (colon - dir) : strlen(dir);
                /* Only absolute entries. An empty entry means the current
                 * directory to a shell, and a relative one is resolved
                 * against it: a directory that a sandbox may well be able
                 * to write, while the helper runs outside every sandbox,
                 * with the user's rights. */
                if (len > 0 && dir[0] == '/') {
                        char *candidate = NULL;
                        if (asprintf(&candidate, "%.*s/%s", (int) len, dir, name) < 0)
                                return -ENOMEM;
                        struct stat st;
                        if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0) {
                                *ret_path = candidate;
                                return 0;
                        }
                        free(candidate);
                }
                dir = colon ? colon + 1 : NULL;
        }
        return -ENOENT;
}

/* What the child leaves for helper_start() when it could not exec: the
 * step (a string of ours or the caller's, at the same address in a forked
 * child) and the negative errno. The parent writes the message. */
typedef struct HelperFailure {
        int error;
        const char *what;
} HelperFailure;

/* The child's side of helper_start(), in the child's own memory after a
 * fork (a spec with a pre_exec hook) or, without one, on its own small
 * stack in *our* memory while we wait (posix_spawn's vfork-style clone):
 * so it makes system calls only, no allocation and no libc state, and
 * leaves our memory as it found it except for errno, which we restore. */
typedef struct HelperChild {
        const HelperSpec *spec;
        pid_t parent;
        int null_fd, out_fd, err_pipe;
} HelperChild;

/* The kernel's struct sigaction, for rt_sigaction() without libc's
 * wrapper. */
struct kernel_sigaction {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
};

static _noreturn_ void child_fail(int err_pipe, int r, const char *what) {
        HelperFailure f = { .error = r < 0 ? r : -EIO, .what = what };
        (void) !write(err_pipe, &f, sizeof(f));
        _exit(127);
}

/* dup2() that also works when FROM == TO (then only the close-on-exec flag
 * is cleared, which dup2() would leave set). */
static int move_fd(int from, int to) {
        if (from == to) {
                int flags = fcntl(from, F_GETFD);
                if (flags < 0 || fcntl(from, F_SETFD, flags & ~FD_CLOEXEC) < 0)
                        return -errno;
                return 0;
        }
        return dup2(from, to) < 0 ? -errno : 0;
}

static void close_all_from(int first) {
        if (syscall(SYS_close_range, (unsigned) first, ~0U, 0) == 0)
                return;
        for (int fd = first; fd < 65536; fd++)
                (void) close(fd);
}

/* Every signal to its default action: a handler of ours must not run
 * here (in our memory, with the vfork-style clone) before exec. Signals
 * stay blocked, as the parent blocked them for the clone, until just
 * before exec. */
static void child_default_signals(void) {
        const struct kernel_sigaction dfl = { .handler = SIG_DFL };
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
}

static int helper_child(void *userdata) {
        const HelperChild *c = userdata;
        const HelperSpec *spec = c->spec;
        int high[HELPER_MAX_FDS];
        int err_pipe = c->err_pipe, r = 0;

        /* Die with our parent, even when it is SIGKILLed. If it is already
         * gone, the signal was never armed: give up. */
        if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != c->parent)
                child_fail(err_pipe, -ESRCH, "the parent is gone");
        (void) setsid();
        child_default_signals();

        /* The caller's own preparations (a forked child only), while its
         * fds are where it left them. */
        if (spec->pre_exec) {
                const char *what = "prepare";
                r = spec->pre_exec(spec->userdata, &what);
                if (r < 0)
                        child_fail(err_pipe, r, what);
        }

        /* Out of the way first: the fds may sit where 0..2 or 3.. go. */
        int base = 3 + (int) spec->n_fds + 3;
        for (size_t i = 0; i < spec->n_fds; i++) {
                high[i] = fcntl(spec->fds[i], F_DUPFD_CLOEXEC, base);
                if (high[i] < 0)
                        child_fail(err_pipe, -errno, "can't arrange fds");
        }
        int out_fd = c->out_fd >= 0 ? c->out_fd : c->null_fd;
        if ((r = move_fd(c->null_fd, STDIN_FILENO)) < 0 || (r = move_fd(out_fd, STDOUT_FILENO)) < 0 ||
            (r = move_fd(out_fd, STDERR_FILENO)) < 0)
                child_fail(err_pipe, r, "can't set up stdio");
        /* err_pipe must survive until exec: keep it above everything. */
        int err_fd = fcntl(err_pipe, F_DUPFD_CLOEXEC, base + (int) spec->n_fds);
        if (err_fd < 0)
                child_fail(err_pipe, -errno, "can't arrange fds");
        err_pipe = err_fd;
        for (size_t i = 0; i < spec->n_fds; i++)
                if ((r = move_fd(high[i], 3 + (int) i)) < 0)
                        child_fail(err_pipe, r, "can't arrange fds");
        /* Everything else goes; err_pipe only at exec (it is close-on-exec). */
        for (int fd = 3 + (int) spec->n_fds; fd < err_pipe; fd++)
                (void) close(fd);
        close_all_from(err_pipe + 1);

        if (spec->umask != HELPER_UMASK_KEEP)
                umask(spec->umask);
        const uint64_t none = 0;
        (void) syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
        execve(spec->path, spec->argv, environ);
        child_fail(err_pipe, -errno, spec->path);
}

/* Starts helper_child(): a fork when the spec has a pre_exec hook (which
 * may do anything, and may join a user namespace, which the kernel refuses
 * to a process that shares its memory), else a clone that shares our
 * memory and suspends us until it has exec'd or failed: no page tables
 * copied, no copy-on-write faults on either side. */
static pid_t spawn_child(HelperChild *c) {
        if (c->spec->pre_exec) {
                pid_t pid = fork();
                if (pid == 0)
                        _exit(helper_child(c));
                return pid;
        }
        const size_t stack_size = HELPER_STACK_SIZE;
        void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED)
                return -1;
        int saved_errno = errno;
        pid_t pid = clone(helper_child, (char *) stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
        int r = pid < 0 ? errno : saved_errno;
        (void) munmap(stack, stack_size);
        errno = r;
        return pid;
}

int helper_start(const HelperSpec *spec, Helper **ret, char *why, size_t why_size) {
        _cleanup_close_ int null_fd = -EBADF, out_fd = -EBADF;
        int pipefd[2];

        if (why_size > 0)
                why[0] = '\0';
        if (!spec->path || spec->path[0] != '/')
                return -EINVAL;
        if (spec->n_fds > HELPER_MAX_FDS)
                return -E2BIG;
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (null_fd < 0)
                return -errno;
        if (spec->capture_output) {
                out_fd = memfd_create("csand-helper-output", MFD_CLOEXEC);
                if (out_fd < 0)
                        return -errno;
        }
        Helper *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->pidfd = h->output_fd = -EBADF;
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                free(h);
                return -errno;
        }

        /* Everything blocked until the child has reset every disposition
         * (see child_default_signals()). */
        HelperChild c = { .spec = spec, .parent = getpid(), .null_fd = null_fd, .out_fd = out_fd, .err_pipe = pipefd[1] };
        sigset_t all, saved;
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, &saved);
        pid_t pid = spawn_child(&c);
        int r = pid < 0 ? -errno : 0;
        sigprocmask(SIG_SETMASK, &saved, NULL);
        safe_close(pipefd[1]);
        if (pid < 0) {
                safe_close(pipefd[0]);
                free(h);
                return r;
        }
        h->pid = pid;
        h->output_fd = TAKE_FD(out_fd);

        /* End-of-file: exec succeeded. A HelperFailure: why it did not. */
        HelperFailure f = {};
        ssize_t n;
        while ((n = read(pipefd[0], &f, sizeof(f))) < 0 && errno == EINTR)
                ;
        safe_close(pipefd[0]);
        if (n > 0) {
                helper_free(h);
                r = (size_t) n == sizeof(f) && f.error < 0 ? f.error : -EIO;
                if (why_size > 0 && (size_t) n == sizeof(f))
                        snprintf(why, why_size, "%s: %s", f.what ? f.what : "exec", strerror(-r));
                else if (why_size > 0)
                        snprintf(why, why_size, "exec failed");
                return r;
        }

        h->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (h->pidfd < 0) {
                r = -errno;
                helper_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

static void reap(Helper *h) {
        int status;
        while (waitpid(h->pid, &status, 0) < 0)
                if (errno != EINTR) {
                        status = 0;
                        break;
                }
        h->status = status;
        h->reaped = true;
}

bool helper_exited(Helper *h) {
        if (h->reaped)
                return true;
        int status;
        pid_t r = waitpid(h->pid, &status, WNOHANG);
        if (r == h->pid) {
                h->status = status;
                h->reaped = true;
        }
        return h->reaped;
}

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void helper_reset_signals(void) {
        /* Dispositions first, so no handler of ours runs once unblocked. */
        child_default_signals();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Waits up to TIMEOUT_MS for PIDFD's process to exit: 0 once it has,
 * -ETIMEDOUT, or -errno. */
static int poll_exit(int pidfd, int timeout_ms) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        long long deadline = now_ms() + timeout_ms;
        for (;;) {
                long long left = deadline - now_ms();
                int r = poll(&p, 1, left > 0 ? (int) left : 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                return r == 0 ? -ETIMEDOUT : 0;
        }
}

int helper_wait(Helper *h, int timeout_ms) {
        if (h->reaped)
                return 0;
        int r = poll_exit(h->pidfd, timeout_ms);
        if (r < 0)
                return r;
        reap(h);
        return 0;
}

int helper_wait_fd(Helper *h, int fd, int timeout_ms) {
        long long deadline = now_ms() + timeout_ms;
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = h->reaped ? -1 : h->pidfd, .events = POLLIN },
                };
                long long left = deadline - now_ms();
                if (left < 0)
                        left = 0;
                int r = poll(p, 2, (int) left);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[0].revents)
                        return 0;
                if (p[1].revents) {
                        reap(h);
                        return -ECHILD;
                }
                if (r == 0)
                        return -ETIMEDOUT;
        }
}

int helper_read_output(Helper *h, size_t max, char **ret) {
        struct stat st;
        size_t size = 0, off = 0;
        if (h->output_fd >= 0) {
                if (fstat(h->output_fd, &st) < 0)
                        return -errno;
                size = (size_t) st.st_size;
        }
        if (size > max) {
                off = size - max;
                size = max;
        }
        char *buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        size_t got = 0;
        while (got < size) {
                ssize_t n = pread(h->output_fd, buf + got, size - got, (off_t) (off + got));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        buf[got] = '\0';
        *ret = buf;
        return 0;
}

void helper_stop(Helper *h, int sig, int timeout_ms) {
        if (!h || h->reaped)
                return;
        /* The pid is ours and unreaped: it cannot have been reused. */
        if (sig != 0)
                (void) kill(h->pid, sig);
        if (sig != SIGKILL && timeout_ms > 0 && h->pidfd >= 0)
                (void) poll_exit(h->pidfd, timeout_ms);
        if (!helper_exited(h)) {
                (void) kill(h->pid, SIGKILL);
                reap(h);
        }
}

Helper *helper_free(Helper *h) {
        if (!h)
                return NULL;
        helper_stop(h, SIGKILL, 0);
        safe_close(h->pidfd);
        safe_close(h->output_fd);
        free(h);
        return NULL;
}

void helper_describe_status(int status, char *buf, size_t size) {
        if (WIFSIGNALED(status))
                snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
}
