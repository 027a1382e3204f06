/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroups.h"
#include "fd-util.h"
#include "init.h"
#include "jobctl.h"
#include "join.h"
#include "landlock.h"
#include "registry.h"
#include "report.h"
#include "seccomp.h"

/* The exit status when COMMAND can't be run, as podman exec and nsenter
 * have it (and the shells): 127 not found, 126 found but not runnable. */
#define JOIN_EXIT_CANNOT_RUN 126
#define JOIN_EXIT_NOT_FOUND 127

/* What the joined command takes from the running sandbox. */
typedef struct Target {
        RegistryEntry entry;
        int child_fd; /* pidfd: the sandbox's child (pid 1 or the command) */
        pid_t cmd_pid;
        int cmd_fd;         /* pidfd: the sandbox's command */
        int proc_fd;        /* /proc/CMD */
        int root_fd;        /* its root */
        char *environ_data; /* its environment at exec, NUL-separated */
        size_t environ_len;
        struct rlimit limits[RLIM_NLIMITS];
        uint64_t cap_bnd;        /* its bounding set */
        unsigned long ns_flags;  /* its namespaces that are not ours */
        int pidns_owner_fd;      /* the user namespace that owns its pid namespace, when not ours */
        bool pidns_owner_is_its; /* ... and is the command's own (not one it is nested in) */
        CgroupJoin *cgroup;      /* the sandbox's cgroup, NULL without one of its own */
} Target;

#define TARGET_NULL \
        { .child_fd = -EBADF, .cmd_fd = -EBADF, .proc_fd = -EBADF, .root_fd = -EBADF, .pidns_owner_fd = -EBADF }

static void target_done(Target *t) {
        registry_entry_done(&t->entry);
        safe_close(t->child_fd);
        safe_close(t->cmd_fd);
        safe_close(t->proc_fd);
        safe_close(t->root_fd);
        safe_close(t->pidns_owner_fd);
        cgroup_join_free(t->cgroup);
        free(t->environ_data);
}

/* Not reaped, and not a zombie waiting to be: a sandbox's process whose
 * monitor has not noticed its end yet has ended all the same. */
static bool pidfd_alive(int fd) {
        char path[64], state;
        pid_t pid = 0;
        /* EPERM: it exists, and is not ours. */
        if (syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) < 0 && errno != EPERM)
                return false;
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
        _cleanup_close_ int info_fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *info = NULL;
        size_t len;
        const char *c = info_fd >= 0 && read_full_fd(info_fd, 4096, (void **) &info, &len) >= 0 ? strstr(info, "\nPid:") : NULL;
        if (!c || sscanf(c + 5, "%d", &pid) != 1)
                return false;
        return pid > 0 && proc_stat(pid, &state, NULL, NULL) >= 0 && state != 'Z' && state != 'X';
}

/* With a pid 1, the command is its child; orphans that pid 1 adopted are
 * its children too, but they all started after the command (they descend
 * from it): the earliest-started child, ties to the lowest pid. */
static int find_command(const Target *t, pid_t *ret_pid, uint64_t *ret_start) {
        if (!t->entry.has_init) {
                *ret_pid = t->entry.child_pid;
                *ret_start = t->entry.child_start;
                return 0;
        }
        _cleanup_closedir_ DIR *d = opendir("/proc");
        if (!d)
                return -errno;
        pid_t best = 0;
        uint64_t best_start = UINT64_MAX;
        struct dirent *de;
        while ((de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                pid_t ppid;
                uint64_t start;
                if (*end || pid <= 0 || proc_stat((pid_t) pid, NULL, &ppid, &start) < 0 || ppid != t->entry.child_pid)
                        continue;
                if (start < best_start || (start == best_start && pid < best)) {
                        best = (pid_t) pid;
                        best_start = start;
                }
        }
        if (best == 0)
                return -ESRCH;
        *ret_pid = best;
        *ret_start = best_start;
        return 0;
}

static int read_namespaces(Target *t) {
        for (size_t i = 0; registry_namespaces[i].name; i++) {
                char path[64];
                struct stat ours, theirs;
                snprintf(path, sizeof(path), "ns/%s", registry_namespaces[i].name);
                if (fstatat(t->proc_fd, path, &theirs, 0) < 0) {
                        if (errno == ENOENT)
                                continue; /* a kernel without it */
                        return -errno;
                }
                snprintf(path, sizeof(path), "/proc/self/ns/%s", registry_namespaces[i].name);
                if (stat(path, &ours) < 0)
                        return -errno;
                if (ours.st_ino != theirs.st_ino || ours.st_dev != theirs.st_dev)
                        t->ns_flags |= registry_namespaces[i].flag;
        }
        return 0;
}

/* Entering a pid namespace takes CAP_SYS_ADMIN in the user namespace that
 * owns it, which csand's sandboxes make (the command may live in another
 * one nested in it). */
static int read_pidns_owner(Target *t) {
        if (!(t->ns_flags & CLONE_NEWPID))
                return 0;
        _cleanup_close_ int pidns_fd = openat(t->proc_fd, "ns/pid", O_RDONLY | O_CLOEXEC);
        if (pidns_fd < 0)
                return -errno;
        _cleanup_close_ int owner_fd = ioctl(pidns_fd, NS_GET_USERNS);
        if (owner_fd < 0)
                return -errno;
        struct stat owner, ours, its;
        if (fstat(owner_fd, &owner) < 0 || stat("/proc/self/ns/user", &ours) < 0 || fstatat(t->proc_fd, "ns/user", &its, 0) < 0)
                return -errno;
        if (owner.st_ino == ours.st_ino && owner.st_dev == ours.st_dev)
                return 0;
        t->pidns_owner_is_its = owner.st_ino == its.st_ino && owner.st_dev == its.st_dev;
        t->pidns_owner_fd = TAKE_FD(owner_fd);
        return 0;
}

static int read_cap_bnd(Target *t) {
        _cleanup_close_ int fd = openat(t->proc_fd, "status", O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (fd < 0)
                return -errno;
        int r = read_full_fd(fd, 65536, (void **) &data, &len);
        if (r < 0)
                return r;
        const char *c = strstr(data, "\nCapBnd:");
        if (!c || sscanf(c + 8, "%" SCNx64, &t->cap_bnd) != 1)
                return -EIO;
        return 0;
}

static int target_open(const SandboxPlan *p, Target *t, Error *e) {
        const char *name = p->join_target;
        int r = registry_lookup(name, &t->entry, e);
        if (r < 0)
                return r;
        name = t->entry.name;
        /* Fail closed: without its rules, no domain like the command's. */
        if (t->entry.landlock_error)
                return error_setf(e, EOPNOTSUPP, "Can't join %s: its Landlock rules can't be rebuilt: %s", name,
                                  t->entry.landlock_error);
        /* Fail closed: a newer csand's key may be a restriction we would drop. */
        if (t->entry.unknown_key)
                return error_setf(e, EPROTO,
                                  "Can't join %s: its registration has \"%s\", which this csand does not know (a newer csand started it?), so the joined command could miss a restriction of the sandbox",
                                  name, t->entry.unknown_key);
        if (t->entry.seccomp_unknown)
                return error_setf(e, EOPNOTSUPP,
                                  "Can't join %s: its --seccomp program was read by the sandbox itself and is not known to csand, so the joined command would run without it",
                                  name);
        t->child_fd = pidfd_open_verified(t->entry.child_pid, t->entry.child_start);
        if (t->child_fd < 0)
                return error_setf(e, ESRCH, "The sandbox %s ended while being joined", name);

        uint64_t start;
        r = find_command(t, &t->cmd_pid, &start);
        if (r >= 0)
                r = t->cmd_fd = pidfd_open_verified(t->cmd_pid, start);
        /* Still the child of the sandbox's pid 1, which still runs: the
         * pidfd is the sandbox's command. */
        pid_t ppid;
        if (r >= 0 && t->entry.has_init && (proc_stat(t->cmd_pid, NULL, &ppid, &start) < 0 || ppid != t->entry.child_pid))
                r = -ESRCH;
        if (r < 0 || !pidfd_alive(t->child_fd))
                return error_setf(e, ESRCH, "The sandbox %s ended while being joined", name);

        char path[64];
        snprintf(path, sizeof(path), "/proc/%d", (int) t->cmd_pid);
        t->proc_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (t->proc_fd < 0 || !pidfd_alive(t->cmd_fd))
                return error_setf(e, ESRCH, "The sandbox %s ended while being joined", name);
        /* Owned by us unless not dumpable: then it is not ours to enter. */
        struct stat st;
        if (fstat(t->proc_fd, &st) < 0 || st.st_uid != geteuid())
                return error_setf(e, EPERM, "Can't join %s: its command (pid %d) is not accessible to this user", name,
                                  (int) t->cmd_pid);

        t->root_fd = openat(t->proc_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (t->root_fd < 0 && !pidfd_alive(t->cmd_fd))
                return error_setf(e, ESRCH, "The sandbox %s ended while being joined", name);
        if (t->root_fd < 0)
                return error_set_errno(e, errno, "Can't join %s: can't open its root", name);
        _cleanup_close_ int env_fd = openat(t->proc_fd, "environ", O_RDONLY | O_CLOEXEC);
        r = env_fd < 0 ? -errno : read_full_fd(env_fd, 16 * 1024 * 1024, (void **) &t->environ_data, &t->environ_len);
        if (r < 0 && !pidfd_alive(t->cmd_fd))
                return error_setf(e, ESRCH, "The sandbox %s ended while being joined", name);
        if (r < 0)
                return error_set_errno(e, r, "Can't join %s: can't read its environment", name);
        r = read_namespaces(t);
        if (r >= 0)
                r = read_pidns_owner(t);
        if (r >= 0)
                r = read_cap_bnd(t);
        for (int i = 0; r >= 0 && i < RLIM_NLIMITS; i++)
                if (prlimit(t->cmd_pid, (__rlimit_resource_t) i, NULL, &t->limits[i]) < 0)
                        r = -errno;
        if (r < 0 || !pidfd_alive(t->cmd_fd))
                return error_setf(e, ESRCH, "The sandbox %s ended while being joined", name);

        /* Opened here, outside: the bus connection and the file are ours
         * as csand made them for the sandbox. */
        if (t->entry.cgroup) {
                Error why = {};
                if (cgroup_join_prepare(t->entry.cgroup, t->entry.cgroup_unit, &t->cgroup, &why) < 0)
                        return error_setf(e, why.error, "Can't join the cgroup of %s: %s", name, why.message);
        }
        return 0;
}

/* Into those of its namespaces that FLAGS name; the pidfd names one process. */
static int target_enter(const Target *t, unsigned long flags, Error *e) {
        if (flags && setns(t->cmd_fd, (int) flags) < 0) {
                if (errno == ESRCH)
                        return error_setf(e, ESRCH, "The sandbox %s ended while being joined", t->entry.name);
                return error_set_errno(e, errno, "Can't enter the namespaces of %s", t->entry.name);
        }
        return 0;
}

/* The same directory on the same mount as our "/". */
static bool is_our_root(int fd) {
        struct statx a, b;
        unsigned mask = STATX_INO | STATX_MNT_ID;
        if (statx(fd, "", AT_EMPTY_PATH, mask, &a) < 0 || statx(AT_FDCWD, "/", 0, mask, &b) < 0)
                return false;
        return a.stx_dev_major == b.stx_dev_major && a.stx_dev_minor == b.stx_dev_minor && a.stx_ino == b.stx_ino &&
               (a.stx_mask & b.stx_mask & STATX_MNT_ID) && a.stx_mnt_id == b.stx_mnt_id;
}

/* The joined command, once its monitor has put it in the sandbox's cgroup:
 * the other namespaces, all at once with the command's user namespace
 * unless we are in it already (see enter_pidns()), so that the cgroup
 * namespace has our cgroup inside it; then the root. */
static int joined_enter(const Target *t, int report_fd, Error *e) {
        char c;
        ssize_t n;
        while ((n = read(report_fd, &c, 1)) < 0 && errno == EINTR)
                ;
        /* End-of-file: the monitor failed, and says why. */
        if (n != 1)
                _exit(1);
        unsigned long flags = t->ns_flags & ~(unsigned long) CLONE_NEWPID;
        if (t->pidns_owner_is_its)
                flags &= ~(unsigned long) CLONE_NEWUSER;
        if (target_enter(t, flags, e) < 0)
                return -e->error;
        /* In place (Landlock only) its root is ours, where an unprivileged
         * caller may not chroot. */
        if (!(t->ns_flags & CLONE_NEWNS) && is_our_root(t->root_fd))
                return 0;
        if (fchdir(t->root_fd) < 0 || chroot(".") < 0)
                return error_set_errno(e, errno, "Can't enter the root of %s", t->entry.name);
        return 0;
}

/* ---- the joined command, in the sandbox's pid namespace ---- */

static const char *environ_lookup(const Target *t, const char *name) {
        size_t n = strlen(name);
        for (size_t i = 0; i < t->environ_len; i += strlen(t->environ_data + i) + 1)
                if (strncmp(t->environ_data + i, name, n) == 0 && t->environ_data[i + n] == '=')
                        return t->environ_data + i + n + 1;
        return NULL;
}

static int set_environment(const SandboxPlan *p, const Target *t) {
        if (clearenv() != 0)
                return -ENOMEM;
        for (size_t i = 0; i < t->environ_len; i += strlen(t->environ_data + i) + 1)
                if (strchr(t->environ_data + i, '=') && putenv(t->environ_data + i) != 0)
                        return -errno;
        return plan_apply_env_ops(p);
}

/* --chdir, else where the sandbox's command started ($PWD in its
 * environment at exec), else /. */
static int enter_working_directory(const SandboxPlan *p, const Target *t, Error *e) {
        const char *dir = p->chdir_path;
        if (dir) {
                if (chdir(dir) < 0)
                        return error_set_errno(e, errno, "Can't chdir to %s", dir);
        } else {
                dir = environ_lookup(t, "PWD");
                if (!dir || dir[0] != '/' || chdir(dir) < 0)
                        dir = "/";
                if (chdir(dir) < 0)
                        return error_set_errno(e, errno, "Can't chdir to /");
        }
        return setenv("PWD", dir, 1) < 0 ? error_set_errno(e, errno, "setenv PWD") : 0;
}

/* The command's limits; where a hard limit is above ours (we can't raise
 * it), ours: never more than the sandbox's command has. */
static int set_rlimits(const Target *t, Error *e) {
        for (int i = 0; i < RLIM_NLIMITS; i++) {
                struct rlimit want = t->limits[i], have;
                if (getrlimit((__rlimit_resource_t) i, &have) < 0)
                        continue;
                if (want.rlim_max > have.rlim_max)
                        want.rlim_max = have.rlim_max;
                if (want.rlim_cur > want.rlim_max)
                        want.rlim_cur = want.rlim_max;
                if (setrlimit((__rlimit_resource_t) i, &want) < 0)
                        return error_set_errno(e, errno, "Can't set resource limit %d", i);
        }
        return 0;
}

/* The sandbox's command's Landlock domain, rebuilt as it was built. */
static int joined_landlock(const Target *t, Error *e) {
        const RegistryEntry *en = &t->entry;
        if (en->landlock.handled_fs == 0 && en->landlock.handled_net == 0 && en->landlock.scoped == 0)
                return 0;
        Error why = {};
        if (landlock_apply_recorded(&en->landlock, en->landlock_paths, en->n_landlock_paths, &why) < 0)
                return error_setf(e, why.error, "Can't join %s: %s", en->name, why.message);
        return 0;
}

static uint64_t our_cap_bnd(void) {
        uint64_t set = 0;
        for (unsigned c = 0; c < 64; c++) {
                int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
                if (r < 0)
                        break; /* EINVAL: past the kernel's last one */
                if (r > 0)
                        set |= UINT64_C(1) << c;
        }
        return set;
}

static _noreturn_ void joined_exec(const SandboxPlan *p, const Target *t, const JobControl *jobs,
                                   const sigset_t *saved_mask, int report_fd) {
        const RegistryEntry *en = &t->entry;
        Error e = {};
        int r;

        /* A process group of its own, as the sandbox's command has (see
         * jobctl.h): kill(0) from it must not reach the caller's. Before
         * joined_enter()'s wait: the monitor hands the group the terminal
         * before it lets us go on. */
        r = jobctl_child_enter_group(jobs);
        if (r < 0) {
                error_set_errno(&e, r, "Can't create the joined command's process group");
                goto fail;
        }
        if (joined_enter(t, report_fd, &e) < 0)
                goto fail;
        if (en->new_session && setsid() < 0) {
                error_set_errno(&e, errno, "setsid");
                goto fail;
        }
        if (setresgid(en->gid, en->gid, en->gid) < 0 || setresuid(en->uid, en->uid, en->uid) < 0) {
                error_set_errno(&e, errno, "Can't become uid %u gid %u", (unsigned) en->uid, (unsigned) en->gid);
                goto fail;
        }
        uint64_t keep = en->caps & t->cap_bnd;
        r = caps_drop_bounding(keep);
        /* In place an unprivileged caller may not drop from the bounding
         * set, nor could the sandbox: then ours must be no wider than its. */
        if (r == -EPERM && (our_cap_bnd() & ~t->cap_bnd) == 0)
                r = 0;
        if (r >= 0)
                r = caps_set(keep); /* and no_new_privs */
        if (r < 0) {
                error_set_errno(&e, r, "Can't drop capabilities");
                goto fail;
        }
        r = set_environment(p, t);
        if (r < 0) {
                error_set_errno(&e, r, "Can't set up the environment");
                goto fail;
        }
        if (enter_working_directory(p, t, &e) < 0 || set_rlimits(t, &e) < 0)
                goto fail;
        if (joined_landlock(t, &e) < 0)
                goto fail;
        sigprocmask(SIG_SETMASK, saved_mask, NULL);
        char *file = p->command[0];
        if (p->argv0)
                p->command[0] = p->argv0;
        r = seccomp_programs_apply(en->seccomp, en->n_seccomp);
        if (r < 0) {
                error_set_errno(&e, r, "Can't load seccomp filter");
                goto fail;
        }
        execvp(file, p->command);
        r = errno;
        error_set_errno(&e, r, "execvp %s", file);
        report_send(report_fd, &e);
        /* As podman exec and nsenter: not found, or found but not runnable. */
        _exit(r == ENOENT ? JOIN_EXIT_NOT_FOUND : JOIN_EXIT_CANNOT_RUN);
fail:
        report_send(report_fd, &e);
        _exit(1);
}

/* ---- csand --join: the joined command's monitor ---- */

/* Only what the fork needs: the sandbox's pid namespace, for our children,
 * and the user namespace that owns it. The joined command is put into the
 * sandbox's cgroup from here (join_cgroup()) and enters the other
 * namespaces itself after that. */
static int enter_pidns(const Target *t, Error *e) {
        if (t->pidns_owner_fd >= 0 && setns(t->pidns_owner_fd, CLONE_NEWUSER) < 0)
                return error_set_errno(e, errno, "Can't enter the user namespace of %s", t->entry.name);
        return target_enter(t, t->ns_flags & CLONE_NEWPID, e);
}

/* PID into the sandbox's cgroup, then it may go on (joined_enter()). */
static int join_cgroup(const Target *t, pid_t pid, int report_fd, Error *e) {
        if (t->cgroup) {
                Error why = {};
                if (cgroup_join_attach(t->cgroup, pid, &why) < 0) {
                        if (!pidfd_alive(t->cmd_fd))
                                return error_setf(e, ESRCH, "The sandbox %s ended while being joined", t->entry.name);
                        return error_setf(e, why.error, "Can't join the cgroup of %s: %s", t->entry.name, why.message);
                }
        }
        if (send(report_fd, "1", 1, MSG_NOSIGNAL) != 1) {
                if (!pidfd_alive(t->cmd_fd))
                        return error_setf(e, ESRCH, "The sandbox %s ended while being joined", t->entry.name);
                return error_set_errno(e, errno, "Can't start the joined command");
        }
        return 0;
}

static int join_and_wait(SandboxPlan *p, Target *t, Error *e) {
        int fds[2], status, r;

        r = report_channel(fds);
        if (r < 0)
                return error_set_errno(e, r, "socketpair");
        _cleanup_close_ int report_fd = fds[0];
        _cleanup_close_ int child_report_fd = fds[1];
        r = enter_pidns(t, e);
        if (r < 0)
                return r;

        /* The terminal goes to the joined command's group as to the
         * sandbox's (see jobctl.h). */
        _cleanup_(jobctl_done) JobControl jobs = JOB_CONTROL_INIT;
        jobctl_init(&jobs, t->entry.new_session);

        /* SIGTTOU too: as sandbox.c's monitor, we may set the terminal's
         * foreground while the joined command's group has it. */
        sigset_t supervised, saved;
        init_supervised_signals(&supervised);
        sigaddset(&supervised, SIGTTOU);
        sigprocmask(SIG_BLOCK, &supervised, &saved);
        _cleanup_close_ int sfd = -EBADF;
        r = init_signalfd(&sfd);
        if (r < 0)
                return error_set_errno(e, r, "signalfd");

        pid_t pid = fork();
        if (pid < 0) {
                /* ENOMEM: the pid namespace's pid 1 is gone. */
                if (errno == ENOMEM && !pidfd_alive(t->child_fd))
                        return error_setf(e, ESRCH, "The sandbox %s ended while being joined", t->entry.name);
                return error_set_errno(e, errno, "fork");
        }
        if (pid == 0) {
                report_fd = safe_close(report_fd);
                joined_exec(p, t, &jobs, &saved, child_report_fd);
        }
        child_report_fd = safe_close(child_report_fd);
        jobctl_monitor_start(&jobs, pid);
        /* Before join_cgroup() lets the command go on. */
        jobctl_hand_terminal(&jobs);

        r = join_cgroup(t, pid, report_fd, e);
        if (r < 0) {
                kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        /* In the user namespace that owns the sandbox's pid namespace,
         * with every capability there: keep none of it, and let no process
         * of the sandbox trace us. */
        (void) caps_apply(0);
        (void) prctl(PR_SET_DUMPABLE, 0);

        Error report = {};
        do
                r = report_receive(report_fd, &report, true);
        while (r == -EINTR);
        bool failed = r > 0;
        if (failed)
                jobctl_take_terminal_back(&jobs);

        /* A group of its own: what the terminal sends to ours is for it
         * too, and its stops are ours (job control). */
        Supervise s = SUPERVISE_INIT;
        s.pid = pid;
        s.signal_fd = sfd;
        s.forward_tty_signals = true;
        s.end_fd = t->child_fd;
        jobctl_supervise(&jobs, &s, -EBADF);
        r = init_supervise(&s, &status);
        jobctl_take_terminal_back(&jobs);
        if (failed && r >= 0 && WIFEXITED(status) &&
            (WEXITSTATUS(status) == JOIN_EXIT_NOT_FOUND || WEXITSTATUS(status) == JOIN_EXIT_CANNOT_RUN)) {
                /* All was joined, only the command could not run: its status. */
                log_error("%s", report.message);
                return WEXITSTATUS(status);
        }
        if (failed) {
                *e = report;
                return -report.error ?: -EINVAL;
        }
        if (r < 0)
                return error_set_errno(e, r, "waiting for the joined command");
        return init_exit_code(status);
}

int join_run(SandboxPlan *p) {
        Target t = TARGET_NULL;
        Error e = {};
        int r = target_open(p, &t, &e);
        if (r >= 0)
                r = join_and_wait(p, &t, &e);
        target_done(&t);
        if (r < 0) {
                log_error("%s", e.message);
                return 1;
        }
        return r;
}
