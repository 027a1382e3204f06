/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * csand: run a command in a sandbox as an ordinary user.
 *
 * One launch, top to bottom:
 *   main()            argv -> plan -> validate -> launch -> exit status
 *   sandbox_launch()  join --userns/--pidns, clone with the namespace flags;
 *                     the parent becomes the monitor, the child runs:
 *   child_setup()     user ns maps -> mount isolation -> new root -> mount
 *                     ops -> pivot_root -> loopback -> hostname -> nested
 *                     user ns rules -> --block-fd -> session
 *   child_run()       pid 1 when needed (reaper, signal forwarding, holder
 *                     of lock files and --sync-fd), then:
 *   child_exec()      capabilities and no_new_privs -> environment ->
 *                     working directory -> seccomp (last) -> exec
 *   monitor()         status fds, setup errors, signals, exit status
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "utils/caps.h"
#include "utils/image.h"
#include "utils/init.h"
#include "utils/jobctl.h"
#include "utils/log.h"
#include "utils/macro.h"
#include "utils/mounts.h"
#include "utils/network.h"
#include "utils/options.h"
#include "utils/overlay.h"
#include "utils/plan.h"
#include "utils/report.h"
#include "utils/seccomp.h"
#include "utils/status.h"
#include "utils/userns.h"

#ifndef CSAND_VERSION
#define CSAND_VERSION "unknown"
#endif

/* What the child needs from the parent beyond the plan. */
typedef struct Launch {
        const SandboxPlan *plan;
        uid_t outside_uid;
        gid_t outside_gid;
        bool new_userns;        /* we create the user namespace (and write its maps) */
        unsigned long clone_flags;
        char *outside_cwd;      /* the caller's directory, tried inside when there is no --chdir */
        sigset_t saved_sigmask;
        mode_t saved_umask;
        int report_fd;
        int gate_fd;            /* child: read end; the monitor opens it once the
                                 * outside work for this sandbox is done */
        int stops_fd;           /* pid 1: where it reports the command's stops */
        const JobControl *jobs;
        bool send_namespaces;   /* the monitor needs them (info JSON, network) */
        pid_t tracer;           /* the monitor's tracer (strace -f), which may trace us too */
} Launch;

/* ---- the child: from a fresh set of namespaces to exec ---- */

static void wait_for_fd(int fd) {
        char c;
        while (read(fd, &c, 1) < 0 && errno == EINTR)
                ;
}

/* --disable-userns: use up this namespace's allowance of user namespaces
 * with one nested namespace of our own, which the command then lives in. */
static int disable_nested_userns(const Launch *l, int proc_fd, Error *e) {
        const SandboxPlan *p = l->plan;
        _cleanup_close_ int fd = openat(proc_fd, "sys/user/max_user_namespaces", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "1", 1) != 1)
                return error_set_errno(e, errno, "Can't limit user namespaces (--disable-userns)");
        int r = userns_enter_nested(proc_fd, p->uid, p->gid);
        if (r < 0)
                return error_set_errno(e, r, "Can't create the nested user namespace (--disable-userns)");
        return 0;
}

static int assert_userns_disabled(Error *e) {
        if (unshare(CLONE_NEWUSER) == 0)
                return error_setf(e, EPERM, "creation of new user namespaces was not disabled as requested");
        if (errno != ENOSPC && errno != EPERM && errno != EUSERS)
                return error_set_errno(e, errno, "Unexpected error checking that user namespaces are disabled");
        return 0;
}

/* The pid that traces us (0: none), from /proc/self/status. */
static pid_t tracer_pid(void) {
        char buf[4096];
        _cleanup_close_ int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        const char *t = strstr(buf, "\nTracerPid:");
        return t ? (pid_t) strtol(t + strlen("\nTracerPid:"), NULL, 10) : 0;
}

static int child_setup(const Launch *l, Error *e) {
        const SandboxPlan *p = l->plan;
        int r;

        if (p->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return error_set_errno(e, errno, "prctl(PR_SET_PDEATHSIG)");

        /* --userns-block-fd: the caller writes our maps (it has our pid from
         * --info-fd), for which we were dumpable until now. */
        if (p->userns_block_fd >= 0) {
                wait_for_fd(p->userns_block_fd);
                (void) prctl(PR_SET_DUMPABLE, 0);
        } else if (l->new_userns) {
                r = userns_write_own_maps_at(AT_FDCWD, p->uid, l->outside_uid, p->gid, l->outside_gid);
                if (r < 0)
                        return error_set_errno(e, r, "Can't write uid/gid maps");
        }
        /* With --userns-block-fd (or where userns.c has no stand-in) the
         * setup was ptrace-able by the user outside until now: whoever
         * attached then and is still attached is not ours. */
        pid_t tracer = tracer_pid();
        if (tracer != 0 && tracer != l->tracer)
                return error_setf(e, EPERM, "The sandbox's setup is being traced by process %d", (int) tracer);

        /* The host's /proc, for what must still be done there after pivot_root. */
        _cleanup_close_ int proc_fd = -EBADF;
        if (p->disable_userns) {
                proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (proc_fd < 0)
                        return error_set_errno(e, errno, "Can't open /proc");
        }

        r = mounts_isolate();
        if (r < 0)
                return error_set_errno(e, r, "Failed to make / slave");
        _cleanup_(new_root_done) NewRoot root = NEW_ROOT_NULL;
        r = mounts_new_root(&root);
        if (r < 0)
                return error_set_errno(e, r, "Can't create the new root");
        r = mounts_execute(p, &root, e);
        if (r < 0)
                return r;
        r = network_setup_resolv_conf(p, &root.fd, e);
        if (r < 0)
                return r;
        r = mounts_pivot(&root);
        if (r < 0)
                return error_set_errno(e, r, "Can't pivot_root into the new root");

        if (p->unshare_net) {
                r = network_loopback_up();
                if (r < 0)
                        return error_set_errno(e, r, "Can't bring up the loopback interface");
        }
        if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
                return error_set_errno(e, errno, "Can't set hostname %s", p->hostname);

        /* User namespace changes come last: they cost us the capabilities
         * over everything set up above. */
        if (p->disable_userns && disable_nested_userns(l, proc_fd, e) < 0)
                return -e->error;
        if (p->userns2_fd >= 0 && setns(p->userns2_fd, CLONE_NEWUSER) < 0)
                return error_set_errno(e, errno, "Switching to the --userns2 user namespace failed");
        if (p->assert_userns_disabled && assert_userns_disabled(e) < 0)
                return -e->error;

        if (p->block_fd >= 0)
                wait_for_fd(p->block_fd);
        if (l->gate_fd >= 0) {
                char c;
                ssize_t n;
                while ((n = read(l->gate_fd, &c, 1)) < 0 && errno == EINTR)
                        ;
                /* End-of-file: the monitor failed, has said why, and is done. */
                if (n != 1)
                        _exit(1);
                safe_close(l->gate_fd);
        }
        if (p->new_session && setsid() < 0)
                return error_set_errno(e, errno, "setsid");
        return 0;
}

static int apply_environment(const SandboxPlan *p) {
        for (size_t i = 0; i < p->n_env_ops; i++) {
                const EnvOp *op = &p->env_ops[i];
                int r = op->type == ENV_SET ? setenv(op->name, op->value, 1) :
                        op->type == ENV_UNSET ? unsetenv(op->name) : clearenv();
                if (r != 0)
                        return -errno ?: -EINVAL;
        }
        return 0;
}

/* --chdir, else the caller's directory if it exists inside, else $HOME, else /. */
static int enter_working_directory(const Launch *l, Error *e) {
        const char *dir = l->plan->chdir_path;
        if (dir) {
                if (chdir(dir) < 0)
                        return error_set_errno(e, errno, "Can't chdir to %s", dir);
        } else {
                const char *home = getenv("HOME");
                if (l->outside_cwd && chdir(l->outside_cwd) == 0)
                        dir = l->outside_cwd;
                else if (home && chdir(home) == 0)
                        dir = home;
                else if (chdir("/") == 0)
                        dir = "/";
                else
                        return error_set_errno(e, errno, "Can't chdir to /");
        }
        if (setenv("PWD", dir, 1) < 0)
                return error_set_errno(e, errno, "setenv PWD");
        return 0;
}

static _noreturn_ void child_exec(const Launch *l) {
        const SandboxPlan *p = l->plan;
        Error e = {};
        int r;

        if (p->die_with_parent)
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* child_run() has dropped the bounding set already. */
        r = caps_set(p->caps);
        if (r < 0) {
                error_set_errno(&e, r, "Can't drop capabilities");
                goto fail;
        }
        r = apply_environment(p);
        if (r < 0) {
                error_set_errno(&e, r, "Can't set up the environment");
                goto fail;
        }
        if (enter_working_directory(l, &e) < 0)
                goto fail;
        umask(l->saved_umask);
        sigprocmask(SIG_SETMASK, &l->saved_sigmask, NULL);

        char *saved_argv0 = p->command[0];
        if (p->argv0)
                p->command[0] = p->argv0;
        if (rlimits_apply(&p->rlimits, &e) < 0)
                goto fail;
        r = seccomp_programs_apply(p->seccomp, p->n_seccomp);
        if (r < 0) {
                error_set_errno(&e, r, "Can't load seccomp filter");
                goto fail;
        }
        execvp(saved_argv0, p->command);
        error_set_errno(&e, errno, "execvp %s", saved_argv0);
fail:
        report_send(l->report_fd, &e);
        _exit(1);
}

static bool need_init(const SandboxPlan *p) {
        if (p->as_pid_1)
                return false;
        if (p->unshare_pid || p->sync_fd >= 0)
                return true;
        /* Someone must hold the locks for as long as the sandbox lives. */
        for (size_t i = 0; i < p->n_ops; i++)
                if (p->ops[i].type == MOUNT_OP_LOCK_FILE)
                        return true;
        return false;
}

static _noreturn_ void child_run(const Launch *l) {
        const SandboxPlan *p = l->plan;
        Error e = {};
        int r;

        /* Not dumpable (as the monitor was when it cloned us) except where
         * the caller must write our maps (--userns-block-fd): then from
         * before the monitor tells the caller our pid. */
        if (p->userns_block_fd >= 0)
                (void) prctl(PR_SET_DUMPABLE, 1);
        if (l->send_namespaces)
                report_send_namespaces(l->report_fd);

        /* A process group of the sandbox's own, before anything else:
         * kill(0) and PRIO_PGRP from inside must not reach the caller's. */
        r = jobctl_child_enter_group(l->jobs);
        if (r < 0) {
                error_set_errno(&e, r, "Can't create the sandbox's process group");
                goto fail;
        }
        if (child_setup(l, &e) < 0)
                goto fail;
        /* Once, here, for the command and for pid 1 alike. */
        r = caps_drop_bounding(p->caps);
        if (r < 0) {
                error_set_errno(&e, r, "Can't drop capabilities");
                goto fail;
        }
        if (!need_init(p))
                child_exec(l);

        /* Pid 1: the command is our child; we reap and pass signals on. */
        _cleanup_close_ int sfd = -EBADF;
        r = init_signalfd(&sfd);
        if (r < 0) {
                error_set_errno(&e, r, "signalfd");
                goto fail;
        }
        /* Pid 1 runs no user code and keeps no capability. Not dumpable, so
         * that the command (same uid) cannot ptrace it either. Both before
         * the command starts, as far as the command's own capabilities
         * allow: it inherits them from us. (Dumpable belongs to the memory,
         * which the command's exec replaces.) */
        if (prctl(PR_SET_DUMPABLE, 0) < 0) {
                error_set_errno(&e, errno, "prctl(PR_SET_DUMPABLE)");
                goto fail;
        }
        r = p->caps == 0 ? caps_set(0) : 0;
        if (r < 0) {
                error_set_errno(&e, r, "Can't drop capabilities");
                goto fail;
        }
        /* Ctrl-Z reaches the whole group: pid 1 (without a pid namespace
         * an ordinary process) must not stop with the command, or it could
         * not tell the monitor; nor die of SIGPIPE telling a monitor that
         * is gone. The command gets the caller's mask back. */
        sigset_t stops;
        sigemptyset(&stops);
        sigaddset(&stops, SIGTSTP);
        sigaddset(&stops, SIGTTIN);
        sigaddset(&stops, SIGTTOU);
        sigaddset(&stops, SIGPIPE);
        sigprocmask(SIG_BLOCK, &stops, NULL);
        /* vfork, as posix_spawn does: the command borrows our memory until
         * it execs, so no page tables are copied and neither side takes
         * copy-on-write faults; we resume once it has exec'd or failed. */
        pid_t pid = vfork();
        if (pid == 0)
                child_exec(l);
        if (pid < 0) {
                error_set_errno(&e, errno, "vfork");
                goto fail;
        }

        close(l->report_fd);
        if (p->caps != 0)
                (void) caps_apply(0);
        /* The command is in our process group and gets the terminal's
         * signals itself; the monitor learns of its stops from us. */
        Supervise s = SUPERVISE_INIT;
        s.pid = pid;
        s.signal_fd = sfd;
        s.reap_all = true;
        s.stops_out = l->stops_fd;
        int status;
        r = init_supervise(&s, &status);
        _exit(r < 0 ? 1 : init_exit_code(status));
fail:
        report_send(l->report_fd, &e);
        _exit(1);
}

/* ---- the parent: launch and monitor ---- */

static pid_t raw_clone(unsigned long flags) {
        /* fork() semantics plus namespace flags: the child continues here. */
        return (pid_t) syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

static bool kernel_has_namespace(const char *name) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
        return access(path, F_OK) == 0;
}

static unsigned long namespace_flags(const SandboxPlan *p, bool new_userns) {
        unsigned long f = CLONE_NEWNS;
        if (new_userns)
                f |= CLONE_NEWUSER;
        if (p->unshare_ipc)
                f |= CLONE_NEWIPC;
        if (p->unshare_pid)
                f |= CLONE_NEWPID;
        if (p->unshare_net)
                f |= CLONE_NEWNET;
        if (p->unshare_uts)
                f |= CLONE_NEWUTS;
        if (p->unshare_cgroup || (p->unshare_cgroup_try && kernel_has_namespace("cgroup")))
                f |= CLONE_NEWCGROUP;
        return f;
}

/* --userns and --pidns: the namespaces the clone creates are then owned
 * by (and nested in) the caller's. */
static int join_namespaces(const SandboxPlan *p) {
        if (p->userns_fd >= 0 && setns(p->userns_fd, CLONE_NEWUSER) < 0) {
                if (errno == EINVAL)
                        log_error("Joining the specified user namespace failed, it might not be a descendant of the current user namespace.");
                else
                        log_error("Joining specified user namespace failed: %s", strerror(errno));
                return -1;
        }
        if (p->pidns_fd >= 0 && setns(p->pidns_fd, CLONE_NEWPID) < 0) {
                log_error("Joining specified pid namespace failed: %s", strerror(errno));
                return -1;
        }
        return 0;
}

/* Does the monitor have work to do outside before the command may run? */
static bool needs_gate(const SandboxPlan *p, const JobControl *jobs) {
        /* The terminal goes to the sandbox's group before the command runs. */
        if (jobctl_may_hand_terminal(jobs))
                return true;
        if (network_uses_helper(p))
                return true;
        if (cgroup_needed(&p->cgroup))
                return true;
        /* The namespace ids in the info JSON are read from /proc/CHILD/ns,
         * which vanish once the child exits: as in bwrap, the command waits
         * until they are written. */
        if (p->info_fd >= 0 || p->json_status_fd >= 0)
                return true;
        return false;
}

/* The monitor's work outside the sandbox between clone and exec. The
 * child waits at the gate until this is done. */
static int monitor_before_exec(SandboxPlan *p, const Launch *l, pid_t child, const int *ns_fds, Error *e) {
        /* The sandbox's own cgroup with its limits, before any helper starts. */
        if (cgroup_needed(&p->cgroup) && cgroup_setup(&p->cgroup, child, e) < 0)
                return -e->error;
        int r = network_start(p, child, ns_fds[REPORT_NS_NET], e);
        if (r < 0)
                return r;
        return 0;
}

/* The monitor's work after the sandbox ended with exit status CODE,
 * before the status is reported. */
static void monitor_after_exit(SandboxPlan *p, int code) {
        const char *limit = NULL;
        /* Killed by the OOM killer in the sandbox's cgroup (SIGKILL). */
        if (code == 128 + SIGKILL && cgroup_oom_killed(&p->cgroup, &limit) > 0) {
                if (limit)
                        log_error("killed: memory limit %s exceeded", limit);
                else
                        log_error("killed: out of memory in the sandbox's cgroup");
                if (p->json_status_fd >= 0)
                        (void) status_write_oom_kill(p->json_status_fd, limit);
        }
}

static void close_namespaces(int (*fds)[_REPORT_NS_MAX]) {
        for (size_t i = 0; i < _REPORT_NS_MAX; i++)
                safe_close((*fds)[i]);
}

static void on_sandbox_stopped(void *userdata, int sig) {
        jobctl_sandbox_stopped(userdata, sig);
}

static void on_continued(void *userdata) {
        jobctl_continued(userdata);
}

/* Waits for the child while printing its setup error, if any, and passing
 * signals on. Returns the exit status csand should end with. STOPS_FD: pid
 * 1's reports of the command's stops, or -EBADF when the child is the
 * command. */
static int monitor(SandboxPlan *p, const Launch *l, JobControl *jobs, pid_t child, int report_fd, int gate_fd,
                   int stops_fd) {
        _cleanup_close_ int sfd = -EBADF;
        _cleanup_(close_namespaces) int ns_fds[_REPORT_NS_MAX];
        Error report = {};
        bool failed = false;
        int status, r;

        /* The child's first message: its namespaces, which its /proc no
         * longer lets us open. */
        for (size_t i = 0; i < _REPORT_NS_MAX; i++)
                ns_fds[i] = -EBADF;
        if (l->send_namespaces)
                (void) report_receive_namespaces(report_fd, ns_fds);
        if (p->info_fd >= 0) {
                (void) status_write_info(p->info_fd, p, child, l->clone_flags, ns_fds);
                plan_close_fd(p, p->info_fd);
        }
        if (p->json_status_fd >= 0)
                (void) status_write_info(p->json_status_fd, p, child, l->clone_flags, ns_fds);
        /* Only the sandbox's pid 1 holds --sync-fd: its end is the caller's signal. */
        if (p->sync_fd >= 0)
                plan_close_fd(p, p->sync_fd);

        r = init_signalfd(&sfd);
        if (r < 0) {
                log_error("signalfd: %s", strerror(-r));
                kill(child, SIGKILL);
                waitpid(child, NULL, 0);
                return 1;
        }

        if (gate_fd >= 0) {
                Error e = {};
                r = monitor_before_exec(p, l, child, ns_fds, &e);
                if (r < 0) {
                        log_error("%s", e.message);
                        kill(child, SIGKILL);
                        waitpid(child, NULL, 0);
                        return 1;
                }
                /* Last: a stopped csand (Ctrl-Z during the setup) holds the
                 * command here until continued in the foreground again. */
                jobctl_hand_terminal(jobs);
                (void) write(gate_fd, "1", 1);
                safe_close(gate_fd);
        }

        /* Setup: until exec closes the channel, or an error arrives. */
        do
                r = report_receive(report_fd, &report, true);
        while (r == -EINTR);
        failed = r > 0;
        if (failed) {
                jobctl_take_terminal_back(jobs);
                log_error("%s", report.message);
        }

        /* The sandbox is a process group of its own: what the terminal sends
         * to csand's group is for it too, and its stops are csand's (job
         * control; not with --new-session, where it has no terminal). */
        Supervise s = SUPERVISE_INIT;
        s.pid = child;
        s.signal_fd = sfd;
        s.forward_tty_signals = true;
        if (!p->new_session) {
                s.stops_in = stops_fd;
                s.watch_stops = stops_fd < 0;
                s.on_stop = on_sandbox_stopped;
                s.on_continue = on_continued;
                s.userdata = jobs;
        }
        r = init_supervise(&s, &status);
        jobctl_take_terminal_back(jobs);
        network_stop(p);
        if (r < 0) {
                log_error("waiting for the sandbox: %s", strerror(-r));
                return 1;
        }
        /* An exec failure is reported late, by the command's process. */
        if (!failed && report_receive(report_fd, &report, false) > 0) {
                log_error("%s", report.message);
                failed = true;
        }
        int code = failed ? 1 : init_exit_code(status);
        if (!failed)
                monitor_after_exit(p, code);
        if (p->json_status_fd >= 0)
                (void) status_write_exit(p->json_status_fd, code);
        return code;
}

static int sandbox_launch(SandboxPlan *p) {
        Launch l = {
                .plan = p,
                .outside_uid = geteuid(),
                .outside_gid = getegid(),
                .report_fd = -EBADF,
                .gate_fd = -EBADF,
                .stops_fd = -EBADF,
        };
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        _cleanup_(jobctl_done) JobControl jobs = JOB_CONTROL_INIT;
        int fds[2], r;

        l.outside_cwd = cwd;
        l.new_userns = p->userns_fd < 0 && (p->unshare_user || p->unshare_user_try || l.outside_uid != 0);
        l.clone_flags = namespace_flags(p, l.new_userns);

        if (p->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
                log_error("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
                return 1;
        }
        /* Before joining --userns/--pidns: it stays outside the sandbox. */
        _cleanup_(overlay_supervisor_done) OverlaySupervisor overlay_sup = OVERLAY_SUPERVISOR_INIT;
        r = overlay_supervisor_start(p, &overlay_sup);
        if (r < 0) {
                log_error("Can't start the fuse-overlayfs supervisor: %s", strerror(-r));
                return 1;
        }
        if (join_namespaces(p) < 0)
                return 1;

        r = report_channel(fds);
        if (r < 0) {
                log_error("socketpair: %s", strerror(-r));
                return 1;
        }
        _cleanup_close_ int report_fd = fds[0];
        l.report_fd = fds[1];

        jobctl_init(&jobs, p->new_session);
        l.jobs = &jobs;
        l.send_namespaces = p->info_fd >= 0 || p->json_status_fd >= 0 || network_uses_helper(p);
        l.tracer = tracer_pid();

        int gate[2] = { -EBADF, -EBADF };
        if (needs_gate(p, &jobs) && pipe2(gate, O_CLOEXEC) < 0) {
                log_error("pipe: %s", strerror(errno));
                safe_close(l.report_fd);
                return 1;
        }
        l.gate_fd = gate[0];
        /* Pid 1 tells the monitor when the command stops (job control). */
        int stops[2] = { -EBADF, -EBADF };
        if (need_init(p) && !p->new_session && pipe2(stops, O_CLOEXEC | O_NONBLOCK) < 0) {
                log_error("pipe: %s", strerror(errno));
                safe_close(l.report_fd);
                safe_close(gate[0]);
                safe_close(gate[1]);
                return 1;
        }
        l.stops_fd = stops[1];

        /* SIGTTOU too, for good: the monitor may print and set the
         * terminal's foreground while the sandbox's group has it, as a
         * shell does, instead of being stopped. */
        sigset_t supervised;
        init_supervised_signals(&supervised);
        sigaddset(&supervised, SIGTTOU);
        sigprocmask(SIG_BLOCK, &supervised, &l.saved_sigmask);
        l.saved_umask = umask(0);

        pid_t pid = raw_clone(l.clone_flags);
        if (pid < 0 && (errno == EINVAL || errno == EPERM || errno == ENOSPC || errno == EUSERS) &&
            p->unshare_user_try && !p->unshare_user && l.outside_uid == 0) {
                /* --unshare-user-try as root: do without a user namespace. */
                l.new_userns = false;
                l.clone_flags &= ~(unsigned long) CLONE_NEWUSER;
                pid = raw_clone(l.clone_flags);
        }
        if (pid < 0) {
                r = errno;
                safe_close(l.report_fd);
                safe_close(gate[0]);
                safe_close(gate[1]);
                safe_close(stops[0]);
                safe_close(stops[1]);
                log_error("Creating new namespace failed: %s%s", strerror(r),
                          r == EPERM || r == ENOSPC ? " (are unprivileged user namespaces enabled?)" : "");
                return 1;
        }
        if (pid == 0) {
                report_fd = safe_close(report_fd);
                safe_close(gate[1]);
                safe_close(stops[0]);
                child_run(&l);
        }
        safe_close(l.report_fd);
        safe_close(gate[0]);
        safe_close(stops[1]);
        jobctl_monitor_start(&jobs, pid);
        overlay_supervisor_forget_child_end(p);
        r = monitor(p, &l, &jobs, pid, report_fd, gate[1], stops[0]);
        safe_close(stops[0]);
        return r;
}

int main(int argc, char **argv) {
        _cleanup_plan_ SandboxPlan *plan = NULL;
        Error e = {};

        /* Not dumpable, from the start: csand lives in the caller's
         * namespaces, and ptrace or process_vm_readv by anyone of the same
         * uid (a command in a sandbox without a pid namespace, say) would
         * let them steer it. Not dumpable, that takes CAP_SYS_PTRACE in our
         * user namespace. The child inherits it (see child_setup()). */
        (void) prctl(PR_SET_DUMPABLE, 0);
        log_setup(argv[0]);
        if (plan_new(&plan) < 0) {
                log_error("Out of memory");
                return 1;
        }
        if (options_parse(plan, argc - 1, argv + 1, &e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        if (plan->show_help) {
                options_print_help(stdout, argv[0]);
                return 0;
        }
        if (plan->show_version) {
                if (strcmp(log_program_name(), "bwrap") == 0)
                        printf("bubblewrap 0.11.0 (csand %s)\n", CSAND_VERSION);
                else
                        printf("csand %s\n", CSAND_VERSION);
                return 0;
        }
        if (plan_validate(plan, getuid(), &e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        if (!plan->image_info && !plan->image_cache_list && !plan->image_cache_prune && mounts_check_kernel(&e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        /* --image: layers, config and command into the plan; or an image action that ends here. */
        int r = image_prepare(plan, &e);
        if (r != 0) {
                if (r < 0)
                        log_error("%s", e.message);
                return r < 0;
        }
        /* After parsing: the profile depends on the capabilities kept. */
        if (seccomp_add_profile(plan, &e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        return sandbox_launch(plan);
}
