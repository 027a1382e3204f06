/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "userns-diag.h"
#include "userns.h"

#ifndef CSAND_APPARMOR_PROFILE
#define CSAND_APPARMOR_PROFILE "/etc/apparmor.d/csand"
#endif

#define KNOB_CLONE "/proc/sys/kernel/unprivileged_userns_clone"
#define KNOB_MAX "/proc/sys/user/max_user_namespaces"
#define KNOB_APPARMOR "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"

#define APPARMOR_FIX                                                                 \
        "install csand's AppArmor profile, which grants it userns (meson configure " \
        "-Dapparmor=true, meson install, then as root: apparmor_parser -r " CSAND_APPARMOR_PROFILE ")"

/* The first line of PATH, at most SIZE - 1 bytes, its newline cut. */
static int read_line(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        ssize_t n;
        while ((n = read(fd, buf, size - 1)) < 0)
                if (errno != EINTR)
                        return -errno;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

/* A sysctl's integer value; -ENOENT where this kernel has no such knob. */
static int read_knob(const char *path, long *ret) {
        char buf[32], *end;
        int r = read_line(path, buf, sizeof(buf));
        if (r < 0)
                return r;
        errno = 0;
        long v = strtol(buf, &end, 10);
        if (errno != 0 || end == buf || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static bool knob_is(const char *path, long value) {
        long v;
        return read_knob(path, &v) == 0 && v == value;
}

/* The "Seccomp:" field of /proc/self/status: 0 none, 1 strict, 2 filter. */
static long seccomp_mode(void) {
        _cleanup_close_ int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (read_full_fd(fd, 1 << 16, (void **) &data, &len) < 0)
                return 0;
        const char *s = strstr(data, "\nSeccomp:");
        return s ? strtol(s + strlen("\nSeccomp:"), NULL, 10) : 0;
}

/* Whether a seccomp filter, not the kernel, answers clone(CLONE_NEWUSER).
 * The kernel refuses CLONE_NEWUSER with CLONE_FS with EINVAL before any
 * other check (copy_process()), so no process is ever made; a filter that
 * matches the CLONE_NEWUSER bit (Docker's default profile) answers first,
 * with its own errno. */
static bool seccomp_refuses_userns(void) {
        if (seccomp_mode() == 0)
                return false;
        long pid = syscall(SYS_clone, CLONE_NEWUSER | CLONE_FS | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0)
                _exit(0); /* a kernel that took it: not a filter */
        if (pid > 0) {
                (void) waitpid((pid_t) pid, NULL, 0);
                return false;
        }
        return errno != EINVAL;
}

/* Whether csand runs in a user namespace other than the initial one, whose
 * uid map covers every id. */
static bool in_nested_userns(void) {
        char buf[128];
        unsigned long inside, outside, count;
        if (read_line("/proc/self/uid_map", buf, sizeof(buf)) < 0 || sscanf(buf, "%lu %lu %lu", &inside, &outside, &count) != 3)
                return false;
        return !(inside == 0 && outside == 0 && count == 4294967295UL);
}

/* Appends "; also: " and the next cause to BUF. */
static void add_cause(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static void add_cause(char *buf, size_t size, const char *fmt, ...) {
        size_t len = strlen(buf);
        if (len > 0 && len < size)
                len += (size_t) snprintf(buf + len, size - len, "; also: ");
        if (len >= size)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + len, size - len, fmt, ap);
        va_end(ap);
}

static void explain_limit(char *buf, size_t size) {
        long v;
        if (read_knob(KNOB_MAX, &v) < 0)
                add_cause(buf, size,
                          "the limit on user namespaces is reached (%s unreadable): "
                          "raise user.max_user_namespaces where it is set",
                          KNOB_MAX);
        else if (v == 0)
                add_cause(buf, size,
                          "user namespaces are disabled (user.max_user_namespaces=0): "
                          "allow them as root with sysctl user.max_user_namespaces=N, N > 0");
        else if (in_nested_userns())
                add_cause(buf, size,
                          "the limit on user namespaces is reached (user.max_user_namespaces=%ld here; "
                          "csand runs in a user namespace, and the limits of the enclosing ones apply too, "
                          "as in a sandbox made with --disable-userns): run csand outside it, "
                          "or raise the limit where it is set",
                          v);
        else
                add_cause(buf, size,
                          "the limit on user namespaces is reached (user.max_user_namespaces=%ld, "
                          "counted per user): end some, or raise it as root with sysctl user.max_user_namespaces=N",
                          v);
}

int userns_diag_explain(int err, Error *e) {
        char causes[sizeof(e->message)] = "";
        long v;

        /* Debian's knob refuses everyone without CAP_SYS_ADMIN in the initial
         * user namespace (root inside a sandbox too), whatever the errno we
         * got from whatever answered first. */
        if ((geteuid() != 0 || in_nested_userns()) && read_knob(KNOB_CLONE, &v) == 0 && v == 0)
                add_cause(causes, sizeof(causes),
                          "unprivileged user namespaces are disabled "
                          "(kernel.unprivileged_userns_clone=0): enable them as root with "
                          "sysctl kernel.unprivileged_userns_clone=1");
        if (err == ENOSPC || err == EUSERS)
                explain_limit(causes, sizeof(causes));
        if ((err == EPERM || err == EACCES || err == ENOSYS) && seccomp_refuses_userns())
                add_cause(causes, sizeof(causes),
                          "a seccomp filter refuses user namespaces (Seccomp: %ld in "
                          "/proc/self/status; clone(CLONE_NEWUSER): %s), as a container runtime's default "
                          "profile does: run the container with a profile that allows them "
                          "(e.g. --security-opt seccomp=unconfined)",
                          seccomp_mode(), strerror(err));
        if ((err == EPERM || err == EACCES) && knob_is(KNOB_APPARMOR, 1))
                add_cause(causes, sizeof(causes),
                          "AppArmor restricts unprivileged user namespaces "
                          "(kernel.apparmor_restrict_unprivileged_userns=1): " APPARMOR_FIX);
        if (causes[0] == '\0')
                return 0;
        (void) error_setf(e, err, "%s", causes);
        return 1;
}

/* In the throwaway child: 0 the namespace works, 1 it can't be made (the
 * real clone will say why), 2 its uid map can't be written (EPERM or
 * EACCES: no capabilities in it), 3 something else. */
static _noreturn_ void probe_child(uid_t uid, gid_t gid) {
        if (unshare(CLONE_NEWUSER) < 0)
                _exit(1);
        int r = userns_write_own_maps_at(AT_FDCWD, uid, uid, gid, gid);
        _exit(r == -EPERM || r == -EACCES ? 2 : r < 0 ? 3 : 0);
}

int userns_diag_probe(Error *e) {
        /* Without the restriction, nothing strips the namespace's
         * capabilities: no child to pay for. */
        if (!knob_is(KNOB_APPARMOR, 1))
                return 0;
        uid_t uid = geteuid();
        gid_t gid = getegid();
        pid_t pid = fork();
        if (pid < 0)
                return 0; /* the real setup will report what fails */
        if (pid == 0)
                probe_child(uid, gid);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 2)
                return 0;
        return error_setf(e, EPERM,
                          "AppArmor lets csand create a user namespace but strips its capabilities "
                          "(kernel.apparmor_restrict_unprivileged_userns=1; the uid map can't be written), "
                          "so no sandbox can be set up: " APPARMOR_FIX);
}
