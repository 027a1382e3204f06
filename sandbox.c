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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "utils/caps.h"
#include "utils/image.h"
#include "utils/init.h"
#include "utils/landlock.h"
#include "utils/log.h"
#include "utils/macro.h"
#include "utils/mounts.h"
#include "utils/network.h"
#include "utils/options.h"
#include "utils/overlay.h"
#include "utils/plan.h"
#include "utils/registry.h"
#include "utils/report.h"
#include "utils/seccomp.h"
#include "utils/setuid.h"
#include "utils/status.h"
#include "utils/userns-diag.h"
#include "utils/userns.h"

#ifndef CSAND_VERSION
#define CSAND_VERSION "unknown"
#endif
#ifndef CSAND_BWRAP_VERSION
#define CSAND_BWRAP_VERSION "unknown"
#endif

/* What the child needs from the parent beyond the plan. */
typedef struct Launch {
        SandboxPlan *plan;      /* the child's is its own copy: --seccomp's program joins it */
        uid_t outside_uid;
        gid_t outside_gid;
        bool new_userns;        /* we create the user namespace (and write its maps) */
        bool in_place;          /* Landlock only: no namespaces, no new root (utils/landlock.h) */
        unsigned long clone_flags;
        char *outside_cwd;      /* the caller's directory, tried inside when there is no --chdir */
        sigset_t saved_sigmask;
        mode_t saved_umask;
        int report_fd;
        int gate_fd;            /* child: read end; the monitor opens it once the
                                 * outside work for this sandbox is done */
} Launch;

/* ---- the child: from a fresh set of namespaces to exec ---- */

static void wait_for_fd(int fd) {
        char c;
        while (read(fd, &c, 1) < 0 && errno == EINTR)
                ;
}

/* The gate (see needs_gate()): the monitor sends GATE_INFO once it has
 * written --info-fd and --json-status-fd, then GATE_OPEN once its work
 * outside is done. */
#define GATE_INFO 'i'
#define GATE_OPEN '1'

/* Reads from the gate until BYTE arrives; false at end-of-file: the
 * monitor failed, has said why, and is done. */
static bool gate_wait(int fd, char byte) {
        for (;;) {
                char c;
                ssize_t n = read(fd, &c, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != 1)
                        return false;
                if (c == byte)
                        return true;
        }
}

static bool plan_has_dev(const SandboxPlan *p) {
        for (size_t i = 0; i < p->n_ops; i++)
                if (p->ops[i].type == MOUNT_OP_DEV)
                        return true;
        return false;
}

/* The ids the sandbox user has in the user namespace the clone made, as
 * in bwrap: root when there is a --dev (a devpts instance wants root
 * mapped where it is mounted), else the ids asked for. In setuid mode the
 * ids asked for, root being mapped besides (utils/setuid.h). */
static void first_level_ids(const Launch *l, uid_t *ret_uid, gid_t *ret_gid) {
        const SandboxPlan *p = l->plan;
        bool devpts = !setuid_maps_written() && plan_has_dev(p);
        *ret_uid = devpts ? 0 : p->uid;
        *ret_gid = devpts ? 0 : p->gid;
}

/* bwrap's second user namespace, nested in the first once the root is
 * built: when the first maps other ids than the ones asked for (--dev,
 * see first_level_ids()), and for --disable-userns, whose limit the
 * command must not be able to lift. Not with --userns-block-fd: the
 * caller's maps are final. Tools read the maps the command sees in
 * /proc/self/uid_map, so they are bwrap's: "1001 0 1" with --dev. */
static bool nested_userns_needed(const Launch *l) {
        const SandboxPlan *p = l->plan;
        uid_t uid;
        gid_t gid;
        if (!l->new_userns || p->userns_block_fd >= 0)
                return false;
        first_level_ids(l, &uid, &gid);
        return uid != p->uid || gid != p->gid || p->disable_userns;
}

static int enter_nested_userns(const Launch *l, int proc_fd, Error *e) {
        const SandboxPlan *p = l->plan;
        uid_t uid;
        gid_t gid;
        /* --disable-userns: this namespace's allowance of user namespaces
         * is the one nested namespace the command then lives in. */
        if (p->disable_userns) {
                /* Setuid mode: the command has no capability in this
                 * namespace (root owns it), so the limit is set here. */
                const char *limit = setuid_maps_written() ? "0" : "1";
                _cleanup_close_ int fd = openat(proc_fd, "sys/user/max_user_namespaces", O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, limit, 1) != 1)
                        return error_set_errno(e, errno, "Can't limit user namespaces (--disable-userns)");
                if (setuid_maps_written())
                        return 0;
        }
        if (unshare(CLONE_NEWUSER) < 0)
                return error_set_errno(e, errno, "Can't create the nested user namespace");
        first_level_ids(l, &uid, &gid);
        int r = userns_write_own_maps_at(proc_fd, p->uid, uid, p->gid, gid);
        if (r < 0)
                return error_set_errno(e, r, "Can't write the nested user namespace's maps");
        return 0;
}

static int assert_userns_disabled(Error *e) {
        if (unshare(CLONE_NEWUSER) == 0)
                return error_setf(e, EPERM, "creation of new user namespaces was not disabled as requested");
        if (errno != ENOSPC && errno != EPERM && errno != EUSERS)
                return error_set_errno(e, errno, "Unexpected error checking that user namespaces are disabled");
        return 0;
}

static int child_setup_last(const Launch *l, Error *e);

static int child_setup(const Launch *l, Error *e) {
        const SandboxPlan *p = l->plan;
        int r;

        if (p->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return error_set_errno(e, errno, "prctl(PR_SET_PDEATHSIG)");
        /* The monitor's, as in bwrap: a caller that reads --info-fd to its
         * end (before writing our maps, say) must not wait for our exec. */
        plan_close_fd(l->plan, p->info_fd);
        plan_close_fd(l->plan, p->json_status_fd);

        /* --userns-block-fd: the caller writes our maps (it has our pid from --info-fd). */
        if (p->userns_block_fd >= 0)
                wait_for_fd(p->userns_block_fd);
        else if (l->new_userns && !setuid_maps_written()) {
                uid_t uid;
                gid_t gid;
                first_level_ids(l, &uid, &gid);
                UsernsMapStep step;
                r = userns_write_own_maps_step(AT_FDCWD, uid, l->outside_uid, gid, l->outside_gid, &step);
                if (r < 0)
                        return error_set_errno(e, r, "%s", userns_map_step_words(step));
        }

        /* The host's /proc, for what must still be done there after pivot_root. */
        _cleanup_close_ int proc_fd = -EBADF;
        bool nested = nested_userns_needed(l);
        if (nested) {
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
        if (nested && enter_nested_userns(l, proc_fd, e) < 0)
                return -e->error;
        if (p->userns2_fd >= 0 && setns(p->userns2_fd, CLONE_NEWUSER) < 0)
                return error_set_errno(e, errno, "Switching to the --userns2 user namespace failed");
        if (p->assert_userns_disabled && assert_userns_disabled(e) < 0)
                return -e->error;
        return child_setup_last(l, e);
}

/* The end of the setup, in place too: --block-fd, the gate, the session. */
static int child_setup_last(const Launch *l, Error *e) {
        const SandboxPlan *p = l->plan;
        if (p->block_fd >= 0)
                wait_for_fd(p->block_fd);
        if (p->new_session && setsid() < 0)
                return error_set_errno(e, errno, "setsid");
        /* Last: no failure comes after the gate (see child_run()). */
        if (l->gate_fd >= 0) {
                if (!gate_wait(l->gate_fd, GATE_OPEN))
                        _exit(1);
                safe_close(l->gate_fd);
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
                else {
                        /* The pivot left us at "/"; as bwrap, a "/" we may
                         * no longer search (--chmod 0 /) is not our error:
                         * the command's exec will say what fails. */
                        (void) chdir("/");
                        dir = "/";
                }
        }
        if (setenv("PWD", dir, 1) < 0)
                return error_set_errno(e, errno, "setenv PWD");
        return 0;
}

/* GO_FD (or -EBADF): the command waits for its end-of-file before its
 * seccomp filters and exec, while pid 1 makes itself reachable (see
 * init_make_reachable()). */
static _noreturn_ void child_exec(const Launch *l, int go_fd) {
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
        r = plan_apply_env_ops(p);
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
        if (landlock_apply(&p->landlock, p, &e) < 0)
                goto fail;
        if (go_fd >= 0) {
                wait_for_fd(go_fd);
                safe_close(go_fd);
        }
        r = seccomp_programs_apply(p->seccomp, p->n_seccomp);
        if (r < 0) {
                error_set_errno(&e, r, "Can't load seccomp filter");
                goto fail;
        }
        if (p->json_status_fd >= 0)
                report_exec_starting(l->report_fd);
        execvp(saved_argv0, p->command);
        error_set_errno(&e, errno, "execvp %s", saved_argv0);
fail:
        report_send(l->report_fd, &e);
        _exit(1);
}

static _noreturn_ void init_run(const Launch *l);

static _noreturn_ void child_run(const Launch *l) {
        const SandboxPlan *p = l->plan;
        Error e = {};
        int r;

        if (l->in_place) {
                if (p->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
                        error_set_errno(&e, errno, "prctl(PR_SET_PDEATHSIG)");
                        goto fail;
                }
                if (child_setup_last(l, &e) < 0)
                        goto fail;
        } else if (child_setup(l, &e) < 0) {
                /* Not before the monitor has read our namespace ids for
                 * --info-fd: /proc/CHILD/ns goes with us. (bwrap's child
                 * waits for that before its setup; ours only on failure.) */
                if (l->gate_fd >= 0 && (p->info_fd >= 0 || p->json_status_fd >= 0))
                        (void) gate_wait(l->gate_fd, GATE_INFO);
                goto fail;
        }
        /* --seccomp's program, read where bwrap reads it: after setup. */
        if (p->seccomp_fd >= 0 && seccomp_add_from_fd(l->plan, p->seccomp_fd, &e) < 0)
                goto fail;
        /* Once, here, for the command and for pid 1 alike. In place an
         * unprivileged caller may not (EPERM), and under no_new_privs its
         * command's exec gains nothing the bounding set would hold back. */
        r = caps_drop_bounding(p->caps);
        if (r == -EPERM && l->in_place)
                r = 0;
        if (r < 0) {
                error_set_errno(&e, r, "Can't drop capabilities");
                goto fail;
        }
        if (!plan_needs_init(p))
                child_exec(l, -EBADF);
        init_run(l);
fail:
        report_send(l->report_fd, &e);
        _exit(1);
}

/* ---- pid 1 ---- */

/* Pid 1 is dumpable, as bwrap's is, so that the caller (and flatpak enter,
 * nsenter) can reach /proc/CHILD/root and /proc/CHILD/ns. The command, the
 * same uid in the same user namespace, can then ptrace it too (unless Yama
 * says no): so by then pid 1 must hold nothing the command hasn't got
 * (SECURITY.md, "The sandbox's pid 1"). No capability; of its fds only the
 * signalfd, --sync-fd and the --lock-file locks (files inside the sandbox)
 * stay, not the fds the caller handed over (--bind-fd's directories,
 * namespaces, data) nor the channel to the fuse-overlayfs supervisor; and
 * the command's seccomp filters, which bwrap's pid 1 loads too. All before
 * the command's own code runs, so that it never finds pid 1 unreachable
 * or reachable too early. If the filters can't be loaded, pid 1 is not
 * made dumpable again. */
static int init_make_reachable(SandboxPlan *p) {
        for (size_t i = p->n_owned_fds; i-- > 0;)
                if (p->owned_fds[i] != p->sync_fd)
                        plan_close_fd(p, p->owned_fds[i]);
        p->overlay_fuse_fd = safe_close(p->overlay_fuse_fd);
        /* Dumpable first: after the filters, prctl() may be what they
         * refuse. Nothing of the command's runs yet to use the gap. */
        if (prctl(PR_SET_DUMPABLE, 1) < 0)
                return -errno;
        int r = seccomp_programs_apply(p->seccomp, p->n_seccomp);
        if (r < 0) {
                (void) prctl(PR_SET_DUMPABLE, 0);
                return r;
        }
        return 0;
}

static _noreturn_ void init_run(const Launch *l) {
        SandboxPlan *p = l->plan;
        Error e = {};
        int r;

        /* Pid 1: the command is our child; we reap and pass signals on. */
        _cleanup_close_ int sfd = -EBADF;
        r = init_signalfd(&sfd);
        if (r < 0) {
                error_set_errno(&e, r, "signalfd");
                goto fail;
        }
        /* Not dumpable while we hold capabilities and the caller's fds. */
        if (prctl(PR_SET_DUMPABLE, 0) < 0) {
                error_set_errno(&e, errno, "prctl(PR_SET_DUMPABLE)");
                goto fail;
        }

        pid_t pid;
        _cleanup_close_ int go = -EBADF;
        if (p->caps == 0 && p->n_seccomp == 0) {
                /* Nothing to keep for the command: pid 1 is made reachable
                 * first, then the command starts with vfork, as
                 * posix_spawn does: it borrows our memory until it execs,
                 * so no page tables are copied and neither side takes
                 * copy-on-write faults; we resume once it has exec'd. */
                r = caps_set(0);
                if (r < 0) {
                        error_set_errno(&e, r, "Can't drop capabilities");
                        goto fail;
                }
                r = init_make_reachable(p);
                if (r < 0) {
                        error_set_errno(&e, r, "prctl(PR_SET_DUMPABLE)");
                        goto fail;
                }
                pid = vfork();
                if (pid == 0)
                        child_exec(l, -EBADF);
        } else {
                /* The command inherits our capabilities (--cap-add), and
                 * the filters would bind its setup: it forks with them,
                 * then waits at GO until pid 1 has dropped the
                 * capabilities, loaded the filters and become reachable. */
                int fds[2];
                if (pipe2(fds, O_CLOEXEC) < 0) {
                        error_set_errno(&e, errno, "pipe");
                        goto fail;
                }
                go = fds[1];
                pid = fork();
                if (pid == 0) {
                        safe_close(go);
                        child_exec(l, fds[0]);
                }
                safe_close(fds[0]);
                if (pid > 0) {
                        r = caps_apply(0);
                        if (r >= 0)
                                r = init_make_reachable(p);
                        if (r < 0) {
                                /* The command would have what pid 1 lacks. */
                                (void) kill(pid, SIGKILL);
                                error_set_errno(&e, r, "Can't drop capabilities or load the seccomp filters in pid 1");
                                goto fail;
                        }
                        go = safe_close(go);
                }
        }
        if (pid < 0) {
                error_set_errno(&e, errno, "Can't start the command");
                goto fail;
        }

        close(l->report_fd);
        int status;
        r = init_supervise(pid, sfd, true, false, &status);
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
static bool needs_gate(const SandboxPlan *p) {
        if (network_uses_helper(p))
                return true;
        if (cgroup_needed(&p->cgroup))
                return true;
        /* The namespace ids in the info JSON are read from /proc/CHILD/ns,
         * which vanish once the child exits: as in bwrap, the command waits
         * until they are written. */
        if (p->info_fd >= 0 || p->json_status_fd >= 0)
                return true;
        /* --name: registered before the command runs, so that it can be joined. */
        if (p->name)
                return true;
        return false;
}

/* The monitor's work outside the sandbox between clone and exec. The
 * child waits at the gate until this is done. */
static int monitor_before_exec(SandboxPlan *p, const Launch *l, pid_t child, Error *e) {
        /* --name first: a taken name leaves nothing made outside. */
        if (registry_claim(p, e) < 0)
                return -e->error;
        /* The sandbox's own cgroup with its limits, before any helper starts. */
        if (cgroup_needed(&p->cgroup) && cgroup_setup(&p->cgroup, child, e) < 0)
                return -e->error;
        int r = network_start(p, child, e);
        if (r < 0)
                return r;
        /* Once it all exists: what --join and --list read. */
        return registry_publish(p, child, l->clone_flags, e);
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

/* Waits for the child while printing its setup error, if any, and passing
 * signals on. Returns the exit status csand should end with. */
static int monitor(SandboxPlan *p, const Launch *l, pid_t child, int report_fd, int gate_fd) {
        _cleanup_close_ int sfd = -EBADF;
        Error report = {};
        bool failed = false;
        int status, r;

        if (p->info_fd >= 0) {
                (void) status_write_info(p->info_fd, p, child, l->clone_flags, false);
                plan_close_fd(p, p->info_fd);
        }
        if (p->json_status_fd >= 0)
                (void) status_write_info(p->json_status_fd, p, child, l->clone_flags, true);
        /* A child that failed its setup may go now (see child_run()). */
        if (gate_fd >= 0 && (p->info_fd >= 0 || p->json_status_fd >= 0))
                (void) send(gate_fd, (const char[]) { GATE_INFO }, 1, MSG_NOSIGNAL);
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
                r = monitor_before_exec(p, l, child, &e);
                if (r < 0) {
                        log_error("%s", e.message);
                        kill(child, SIGKILL);
                        waitpid(child, NULL, 0);
                        return 1;
                }
                /* The child may have died of a setup error meanwhile: then
                 * EPIPE, not death by SIGPIPE, and its report is printed. */
                (void) send(gate_fd, (const char[]) { GATE_OPEN }, 1, MSG_NOSIGNAL);
                safe_close(gate_fd);
        }

        /* Setup: until exec closes the channel, or an error arrives. */
        bool exec_started = false;
        do {
                r = report_receive(report_fd, &report, true);
                exec_started = exec_started || r == REPORT_EXEC;
        } while (r == -EINTR || r == REPORT_EXEC);
        failed = r == REPORT_ERROR;
        if (failed)
                log_error("%s", report.message);

        /* The command inherits our process group unless --new-session, and
         * then the terminal's signals reach it directly. */
        r = init_supervise(child, sfd, false, p->new_session, &status);
        network_stop(p);
        if (r < 0) {
                log_error("waiting for the sandbox: %s", strerror(-r));
                return 1;
        }
        /* An exec failure is reported late, by the command's process. */
        if (!failed && report_receive(report_fd, &report, false) == REPORT_ERROR) {
                log_error("%s", report.message);
                failed = true;
        }
        int code = failed ? 1 : init_exit_code(status);
        if (!failed)
                monitor_after_exit(p, code);
        /* As bwrap: an exit code only for a command that ran; a failed setup
         * or exec has said why on stderr. */
        if (p->json_status_fd >= 0 && exec_started && !failed)
                (void) status_write_exit(p->json_status_fd, code);
        return code;
}

/* bwrap's words for a failed clone(), which scripts match, then the causes
 * found (utils/userns-diag.c) with their fixes, on the same line. */
static void log_clone_error(int err, bool new_userns, const char *causes) {
        const char *words = new_userns && err == EINVAL ?
                                    "Creating new namespace failed, likely because the kernel does not support user namespaces." :
                            new_userns && err == EPERM ?
                                    "No permissions to create a new namespace, likely because the kernel does not allow "
                                    "non-privileged user namespaces. On e.g. debian this can be enabled with "
                                    "'sysctl kernel.unprivileged_userns_clone=1'." :
                            err == ENOSPC ?
                                    "Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)" :
                                    NULL;
        if (words)
                log_error("%s%s%s", words, causes ? " Found: " : "", causes ?: "");
        else
                log_error("Creating new namespace failed: %s%s%s", strerror(err), causes ? ". Found: " : "", causes ?: "");
}

/* Setuid mode: the privileged part starts the sandbox's worker, our child,
 * in the namespaces (utils/setuid.h); the rest is the monitor's as usual. */
static int launch_setuid(Launch *l, int report_fd, int gate[2]) {
        const SandboxPlan *p = l->plan;
        Error e = {};
        pid_t pid = setuid_clone(p, l->clone_flags, p->uid, p->gid, plan_has_dev(p), l->report_fd, gate[0], &e);
        safe_close(l->report_fd);
        safe_close(gate[0]);
        if (pid < 0) {
                Error diag = {};
                safe_close(gate[1]);
                if (strcmp(e.message, "clone") == 0)
                        log_clone_error(e.error, true, userns_diag_explain(e.error, &diag) > 0 ? diag.message : NULL);
                else
                        log_error("%s", e.message);
                return 1;
        }
        (void) prctl(PR_SET_DUMPABLE, 0);
        return monitor(l->plan, l, pid, report_fd, gate[1]);
}

/* Setuid mode's worker: already in the sandbox's namespaces, as the
 * sandbox's user with that user namespace's capabilities; from here on
 * what an unprivileged csand's child does (utils/setuid.h). */
static _noreturn_ void worker_run(SandboxPlan *p) {
        Launch l = { .plan = p, .outside_uid = getuid(), .outside_gid = getgid(), .new_userns = true };
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        sigset_t supervised;

        (void) setuid_worker(&l.report_fd, &l.gate_fd);
        l.outside_cwd = cwd;
        l.clone_flags = namespace_flags(p, true);
        init_supervised_signals(&supervised);
        sigprocmask(SIG_BLOCK, &supervised, &l.saved_sigmask);
        l.saved_umask = umask(0);
        child_run(&l);
}

static int sandbox_launch(SandboxPlan *p) {
        Launch l = {
                .plan = p,
                .outside_uid = geteuid(),
                .outside_gid = getegid(),
                .report_fd = -EBADF,
                .gate_fd = -EBADF,
        };
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        int fds[2], r;

        l.outside_cwd = cwd;
        l.in_place = landlock_runs_in_place(p);
        l.new_userns = !l.in_place && p->userns_fd < 0 && (p->unshare_user || p->unshare_user_try || l.outside_uid != 0);
        l.clone_flags = l.in_place ? 0 : namespace_flags(p, l.new_userns);

        if (p->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
                log_error("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
                return 1;
        }
        /* Before anything is made: a namespace AppArmor strips would fail
         * halfway. (Setuid mode: root makes it.) */
        if (l.new_userns && !setuid_active()) {
                Error e = {};
                if (userns_diag_probe(&e) < 0) {
                        log_error("%s", e.message);
                        return 1;
                }
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

        /* A socket rather than a pipe: the monitor's write must not kill it
         * with SIGPIPE when the child's setup failed before the gate. */
        int gate[2] = { -EBADF, -EBADF };
        /* A socket rather than a pipe, for send(MSG_NOSIGNAL). */
        if (needs_gate(p) && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gate) < 0) {
                log_error("socketpair: %s", strerror(errno));
                safe_close(l.report_fd);
                return 1;
        }
        l.gate_fd = gate[0];

        sigset_t supervised;
        init_supervised_signals(&supervised);
        sigprocmask(SIG_BLOCK, &supervised, &l.saved_sigmask);
        l.saved_umask = umask(0);

        if (setuid_active())
                return launch_setuid(&l, report_fd, gate);
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
                Error diag = {};
                bool found = l.new_userns && userns_diag_explain(r, &diag) > 0;
                log_clone_error(r, l.new_userns, found ? diag.message : NULL);
                return 1;
        }
        if (pid == 0) {
                report_fd = safe_close(report_fd);
                safe_close(gate[1]);
                child_run(&l);
        }
        safe_close(l.report_fd);
        safe_close(gate[0]);
        overlay_supervisor_forget_child_end(p);
        /* The monitor lives in the caller's namespaces: without a pid
         * namespace the command (same uid) could ptrace it and step outside.
         * Not dumpable, ptrace needs CAP_SYS_PTRACE in our user namespace.
         * Only now: the child must stay dumpable to write its own id maps. */
        (void) prctl(PR_SET_DUMPABLE, 0);
        return monitor(p, &l, pid, report_fd, gate[1]);
}

int main(int argc, char **argv) {
        _cleanup_plan_ SandboxPlan *plan = NULL;
        Error e = {};

        log_setup(argv[0]);
        /* As bwrap 0.11.1: a caller that ignores SIGCHLD (Erlang, some
         * desktop tools) would otherwise have our children reaped by the
         * kernel behind our back, and the monitor and pid 1 would wait for
         * them forever. Blocked for the signalfd later, never ignored. */
        (void) signal(SIGCHLD, SIG_DFL);
        /* Setuid: the privileged part forked, the rest of us the caller. */
        if (setuid_init(&argc, &argv) < 0)
                return 1;
        if (plan_new(&plan) < 0) {
                log_error("Out of memory");
                return 1;
        }
        if (options_parse(plan, argc - 1, argv + 1, &e) < 0 || setuid_check_plan(plan, &e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        if (plan->show_help) {
                options_print_help(stdout, argv[0]);
                return 0;
        }
        /* The bwrap release whose behaviour csand follows: first, as
         * bwrap (scripts parse "bubblewrap X.Y.Z"), or after csand's own. */
        if (plan->show_version) {
                if (strcmp(log_program_name(), "bwrap") == 0)
                        printf("bubblewrap %s (csand %s)\n", CSAND_BWRAP_VERSION, CSAND_VERSION);
                else
                        printf("csand %s (bubblewrap %s)\n", CSAND_VERSION, CSAND_BWRAP_VERSION);
                return 0;
        }
        /* --join, --list, --stop: about sandboxes that run already. */
        if (registry_is_command(plan))
                return registry_run_command(plan);
        /* --image's namespaces first: options are checked against them. */
        image_plan_namespaces(plan);
        if (plan_validate(plan, getuid(), &e) < 0) {
                /* bwrap prints its usage on stderr; scripts see that line */
                if (e.error == PLAN_NO_COMMAND && strcmp(log_program_name(), "bwrap") == 0)
                        options_print_help(stderr, argv[0]);
                else
                        log_error("%s", e.message);
                return 1;
        }
        if (!plan->image_info && !plan->image_cache_list && !plan->image_cache_prune && !landlock_runs_in_place(plan) &&
            mounts_check_kernel(&e) < 0) {
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
        /* The kernel's Landlock ABI against the rules asked for. */
        if (landlock_prepare(&plan->landlock, &e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        if (setuid_worker(NULL, NULL))
                worker_run(plan);
        return sandbox_launch(plan);
}
