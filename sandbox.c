/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * csand: run a command in a sandbox as an ordinary user.
 *
 * One launch, top to bottom:
 *   main()            argv -> plan -> validate -> launch -> exit status
 *   sandbox_launch()  join --userns/--pidns, clone with the namespace flags;
 *                     the parent becomes the monitor, the child runs:
 *   child_setup()     user ns maps -> mount isolation -> new root -> mount
 *                     ops -> pivot_root -> net/ipc ns made aside -> loopback
 *                     -> hostname -> nested user ns rules -> --block-fd ->
 *                     session
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
#include "utils/egress.h"
#include "utils/image.h"
#include "utils/init.h"
#include "utils/jobctl.h"
#include "utils/join.h"
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

/* What the child needs from the parent beyond the plan, and the monitor's
 * runtime handles: what it started or took outside for this sandbox, all
 * released by launch_done(), the one teardown path (the plan is data). */
typedef struct Launch {
        const SandboxPlan *plan;
        /* The command's argv: the plan's command, with --argv0 as its first
         * word (made before the clone: pid 1's vfork child can't allocate). */
        char **argv;
        /* The child's: --seccomp's program, read where bwrap reads it
         * (after setup), loaded after the plan's. */
        SeccompProgram seccomp_fd_prog;
        uid_t outside_uid;
        gid_t outside_gid;
        bool new_userns;     /* we create the user namespace (and write its maps) */
        bool userns_premade; /* the monitor made it with its maps and joined it before the clone */
        pid_t premake_pid;   /* the monitor's: the child that made it, to reap */
        bool in_place;       /* Landlock only: no namespaces, no new root (utils/landlock.h) */
        unsigned long clone_flags;
        char *outside_cwd; /* the caller's directory, tried inside when there is no --chdir */
        sigset_t saved_sigmask;
        mode_t saved_umask;
        int report_fd;
        int gate_fd;            /* child: its end of the gate (see below) */
        bool cgroupns_in_leaf;  /* CLONE_NEWCGROUP is left to the child, to make
                                 * once it is in its cgroup's leaf */
        bool mountns_late;      /* and CLONE_NEWNS, to make once it has forked
                                 * its id-map stand-ins (utils/userns.c) */
        unsigned long ns_aside; /* and these (CLONE_NEWNET, CLONE_NEWIPC), made by
                                  * the first stand-in (or, in a premade user
                                  * namespace, the monitor) while the root is built */
        Standins standins;      /* the child's */
        int nested_userns_fd;   /* child: or the nested namespace premade with it,
                                 * its maps written, to join */
        int stops_fd;           /* pid 1: where it reports the command's stops */
        const JobControl *jobs;
        pid_t monitor_pid; /* whose tracer (strace -f) may trace the child too */
        /* The fuse-overlayfs supervisor, started before the clone; its
         * channel's child end is what the child's overlays ask it on. */
        OverlaySupervisor overlay;
        /* The monitor's, NULL until made: the --name registration, the
         * sandbox's cgroup, the network helper, the egress guard. */
        Registration *registration;
        CgroupScope *cgroup;
        NetworkState *network;
        Egress *egress;
} Launch;

/* The monitor's helpers stop once the sandbox has ended: the guard first,
 * then the helper it filtered for. */
static void launch_stop_helpers(Launch *l) {
        l->egress = egress_free(l->egress);
        l->network = network_state_free(l->network);
}

/* Everything the monitor holds for the sandbox, in reverse order of
 * making; the name last: it is free for a new sandbox from then on. */
static void launch_done(Launch *l) {
        if (l->argv != l->plan->command)
                free(l->argv);
        l->argv = NULL;
        launch_stop_helpers(l);
        l->cgroup = cgroup_scope_free(l->cgroup);
        overlay_supervisor_done(&l->overlay);
        registry_release(l->registration);
        l->registration = NULL;
        userns_premake_reap(&l->premake_pid);
}

/* The command's argv with --argv0 as its first word, in a copy: the plan
 * stays as it was validated. */
static int launch_make_argv(Launch *l) {
        const SandboxPlan *p = l->plan;
        l->argv = p->command;
        if (!p->argv0)
                return 0;
        char **argv = calloc(p->n_command + 1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        memcpy(argv, p->command, p->n_command * sizeof(char *));
        argv[0] = p->argv0;
        l->argv = argv;
        return 0;
}

static bool launch_has_seccomp(const Launch *l) {
        return l->plan->n_seccomp > 0 || l->seccomp_fd_prog.data;
}

/* The plan's programs, then --seccomp's. */
static int launch_apply_seccomp(const Launch *l) {
        int r = seccomp_programs_apply(l->plan->seccomp, l->plan->n_seccomp);
        if (r >= 0 && l->seccomp_fd_prog.data)
                r = seccomp_programs_apply(&l->seccomp_fd_prog, 1);
        return r;
}

/* ---- the child: from a fresh set of namespaces to exec ---- */

static void wait_for_fd(int fd) {
        char c;
        while (read(fd, &c, 1) < 0 && errno == EINTR)
                ;
}

/* ---- the gate ----
 *
 * The monitor's work outside the sandbox (needs_gate()) and the child's
 * setup meet on one socket pair, in one fixed order, and only the gate_*()
 * functions below speak on it:
 *
 *   GATE_LEAF    monitor -> child  the child is in its cgroup's leaf
 *                                  (Launch.cgroupns_in_leaf only): it
 *                                  makes its cgroup namespace there
 *   namespaces   child -> monitor  its namespaces as fds, first thing
 *                                  (after the leaf step): the monitor may
 *                                  not open /proc/CHILD/ns, the child
 *                                  being not dumpable (see main()); they
 *                                  give the ids for --info-fd and
 *                                  --json-status-fd and the network
 *                                  namespace for the helper
 *   GATE_MAPS    child -> monitor  the id maps of the sandbox's user
 *                                  namespace are written (by the child,
 *                                  or by the caller: --userns-block-fd):
 *                                  a network helper may join it now
 *   root         child -> monitor  its root, once final, as an fd (only
 *                                  for a --name with Landlock rules, which
 *                                  the monitor resolves in that root for
 *                                  --join)
 *   GATE_OPEN    monitor -> child  the outside work is done and the
 *                                  terminal handed over: the command may
 *                                  run
 *
 * Why this order: a cgroup namespace made late must exist before the ids
 * are read, and the ids must be written before a caller that waits for
 * them (--userns-block-fd) can go on. Messages, so that neither side
 * polls /proc for the other's progress. Sequenced packets: the namespaces
 * are one message; send() with MSG_NOSIGNAL: a peer that died of its setup
 * error is not our death, its report is printed. End-of-file on either
 * side: the other has failed, has said why, and is done. */
#define GATE_LEAF 'l'
#define GATE_MAPS 'm'
#define GATE_OPEN '1'

/* Is there a GATE_MAPS step? Only for its reader, a network helper: a
 * message left unread when the monitor closes its end would make the
 * child's next read fail (ECONNRESET) instead of seeing GATE_OPEN. */
static bool gate_has_maps_step(const SandboxPlan *p) {
        return network_uses_helper(&p->network, p->unshare_net);
}

static bool gate_root_needed(const SandboxPlan *p) {
        return p->name && landlock_requested(&p->landlock);
}

static void gate_send(int fd, char byte) {
        (void) send(fd, &byte, 1, MSG_NOSIGNAL);
}

/* Reads from the gate until BYTE arrives; false at end-of-file. */
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

/* The child's first step at the gate. With a cgroup of its own, the
 * sandbox's cgroup namespace is made once the monitor has put us in the
 * leaf of that cgroup: the leaf is then its root, and the cgroup with the
 * limits is out of the command's reach (see enter_leaf() in
 * utils/cgroups.c). Then, failed or not, the namespaces. */
static int gate_child_first(const Launch *l, Error *e) {
        int r = 0;
        if (l->cgroupns_in_leaf) {
                if (!gate_wait(l->gate_fd, GATE_LEAF))
                        _exit(1);
                if (unshare(CLONE_NEWCGROUP) < 0)
                        r = error_set_errno(e, errno, "Can't create the cgroup namespace");
        }
        report_send_namespaces(l->gate_fd);
        return r;
}

/* The monitor's side of it: NS_FDS as the child sent them (-EBADF for
 * those it did not: it died first). */
static void gate_monitor_first(const Launch *l, int gate_fd, int ns_fds[_REPORT_NS_MAX]) {
        if (l->cgroupns_in_leaf)
                gate_send(gate_fd, GATE_LEAF);
        (void) report_receive_namespaces(gate_fd, ns_fds);
}

/* The ids the sandbox user has in the user namespace the clone made, as
 * in bwrap: root when there is a --dev (a devpts instance wants root
 * mapped where it is mounted), else the ids asked for. In setuid mode the
 * ids asked for, root being mapped besides (utils/setuid.h). */
static void first_level_ids(const Launch *l, uid_t *ret_uid, gid_t *ret_gid) {
        const SandboxPlan *p = l->plan;
        bool devpts = !setuid_maps_written() && plan_has_op(p, MOUNT_OP_DEV);
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

/* Its maps written while the root is still built (userns.c). */
static int prepare_nested_userns(Launch *l, int proc_fd, Error *e) {
        const SandboxPlan *p = l->plan;
        if (l->nested_userns_fd >= 0)
                return 0;
        uid_t uid;
        gid_t gid;
        first_level_ids(l, &uid, &gid);
        int r = userns_prepare_nested(&l->standins, proc_fd, p->uid, uid, p->gid, gid);
        if (r < 0)
                return error_set_errno(e, r, "Can't create the nested user namespace");
        return 0;
}

/* bwrap's words for a namespace it could not make (NULL: its generic
 * "Creating new namespace failed: ERROR"). */
static const char *namespace_error_words(int err, bool new_userns) {
        if (new_userns && err == EINVAL)
                return "Creating new namespace failed, likely because the kernel does not support user namespaces.";
        if (new_userns && err == EPERM)
                return "No permissions to create a new namespace, likely because the kernel does not allow "
                       "non-privileged user namespaces. On e.g. debian this can be enabled with "
                       "'sysctl kernel.unprivileged_userns_clone=1'.";
        if (err == ENOSPC)
                return "Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)";
        return NULL;
}

/* The network and IPC namespaces the first stand-in made meanwhile
 * (Launch.ns_aside); a failure to make them reads as the clone's would. */
static int enter_aside_namespaces(Launch *l, Error *e) {
        int r = l->userns_premade ? userns_join_aside(l->report_fd, l->ns_aside) :
                                    userns_enter_aside(&l->standins, l->ns_aside);
        if (r >= 0)
                return 0;
        const char *words = namespace_error_words(-r, true);
        return words ? error_setf(e, -r, "%s", words) : error_set_errno(e, r, "Creating new namespace failed");
}

static int enter_nested_userns(Launch *l, int proc_fd, Error *e) {
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
        if (l->nested_userns_fd >= 0) {
                int r = RET_NERRNO(setns(l->nested_userns_fd, CLONE_NEWUSER));
                l->nested_userns_fd = safe_close(l->nested_userns_fd);
                return r < 0 ? error_set_errno(e, r, "Can't create the nested user namespace") : 0;
        }
        first_level_ids(l, &uid, &gid);
        int r = userns_enter_nested(&l->standins, proc_fd, p->uid, uid, p->gid, gid);
        if (r < 0)
                return error_set_errno(e, r, "Can't create the nested user namespace");
        return 0;
}

static int assert_userns_disabled(Error *e) {
        if (unshare(CLONE_NEWUSER) == 0)
                return error_setf(e, EPERM, "creation of new user namespaces was not disabled as requested");
        if (errno != ENOSPC && errno != EPERM && errno != EUSERS)
                return error_set_errno(e, errno, "Unexpected error checking that user namespaces are disabled");
        return 0;
}

/* The pid that traces PID (0: us; the result 0: none), from its status
 * file (which anyone may read). */
static pid_t tracer_pid(pid_t pid) {
        char buf[4096], path[32];
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        _cleanup_close_ int fd = open(pid == 0 ? "/proc/self/status" : path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        const char *t = strstr(buf, "\nTracerPid:");
        return t ? (pid_t) strtol(t + strlen("\nTracerPid:"), NULL, 10) : 0;
}

static int child_setup_last(const Launch *l, Error *e);

static int child_setup(Launch *l, Error *e) {
        const SandboxPlan *p = l->plan;
        int r;

        if (p->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return error_set_errno(e, errno, "prctl(PR_SET_PDEATHSIG)");
        /* The monitor's, as in bwrap: a caller that reads --info-fd to its
         * end (before writing our maps, say) must not wait for our exec. */
        plan_close_fd(l->plan, p->info_fd);
        plan_close_fd(l->plan, p->json_status_fd);

        bool was_dumpable = p->userns_block_fd >= 0;
        /* --userns-block-fd: the caller writes our maps (it has our pid
         * from --info-fd), for which we were dumpable until now. */
        if (p->userns_block_fd >= 0) {
                wait_for_fd(p->userns_block_fd);
                (void) prctl(PR_SET_DUMPABLE, 0);
        } else if (l->new_userns && !l->userns_premade && !setuid_maps_written()) {
                uid_t uid;
                gid_t gid;
                first_level_ids(l, &uid, &gid);
                UsernsMapStep step;
                r = userns_write_own_maps_step(&l->standins, AT_FDCWD, uid, l->outside_uid, gid, l->outside_gid, &step);
                if (r < 0)
                        return error_set_errno(e, r, "%s", userns_map_step_words(step));
                was_dumpable = r > 0;
        }
        if (l->gate_fd >= 0 && gate_has_maps_step(p)) {
                network_prepare_interface(&p->network, p->unshare_net);
                gate_send(l->gate_fd, GATE_MAPS);
        }
        /* With --userns-block-fd (or where userns.c had no stand-in) the
         * setup was ptrace-able by the user outside until now: whoever
         * attached then and is still attached is not ours. */
        pid_t tracer = was_dumpable ? tracer_pid(0) : 0;
        if (tracer != 0 && tracer != tracer_pid(l->monitor_pid))
                return error_setf(e, EPERM, "The sandbox's setup is being traced by process %d", (int) tracer);

        /* The host's /proc, for what must still be done there after pivot_root. */
        _cleanup_close_ int proc_fd = -EBADF;
        bool nested = nested_userns_needed(l);
        if (nested) {
                proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (proc_fd < 0)
                        return error_set_errno(e, errno, "Can't open /proc");
        }

        /* A mount namespace made along with a user namespace of its own
         * holds slave copies of the caller's shared mounts already (the
         * kernel's rule for a less privileged copy): nothing done here can
         * propagate back, and remounting the whole tree slave is no-op work. */
        if (!l->new_userns) {
                r = mounts_isolate();
                if (r < 0)
                        return error_set_errno(e, r, "Failed to make / slave");
        }
        _cleanup_(new_root_done) NewRoot root = NEW_ROOT_NULL;
        r = mounts_new_root(p, &root);
        if (r < 0)
                return error_set_errno(e, r, "Can't create the new root");
        r = mounts_execute(p, &root, l->overlay.child_end, e);
        if (r < 0)
                return r;
        if (nested && prepare_nested_userns(l, proc_fd, e) < 0)
                return -e->error;
        /* --add-host's /etc/hosts, then resolv.conf: files only a helper's
         * network has (the options are refused without one), written on
         * scratch space under the scaffold where there is one. */
        if (egress_setup_hosts(&p->egress, root.fd, root.scaffold_fd, e) < 0)
                return -e->error;
        r = network_setup_resolv_conf(&p->network, p->unshare_net, root.fd, root.scaffold_fd, e);
        if (r < 0)
                return r;
        r = mounts_pivot(&root);
        if (r < 0)
                return error_set_errno(e, r, "Can't pivot_root into the new root");
        /* The network and IPC namespaces made aside while the root was
         * built (see sandbox_launch()): joined once it is done, pivot
         * included, so that all of it overlaps their making. */
        if (l->ns_aside != 0 && enter_aside_namespaces(l, e) < 0)
                return -e->error;

        if (p->unshare_net) {
                r = network_loopback_up();
                if (r < 0)
                        return error_set_errno(e, r, "Can't bring up the loopback interface");
        }
        if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
                return error_set_errno(e, errno, "Can't set hostname %s", p->hostname);

        /* User namespace changes come last: they cost us the capabilities
         * over everything set up above (ns_last_pid's too). */
        userns_reap_standins(&l->standins);
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
                if (gate_root_needed(p))
                        report_send_root(l->gate_fd);
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
/* What the command's process takes from pid 1 when pid 1 has done it
 * already (see init_run()): no capabilities, the environment, the working
 * directory. */
static int child_exec_common(const Launch *l, Error *e) {
        const SandboxPlan *p = l->plan;
        /* child_run() has dropped the bounding set already. */
        int r = caps_set(p->caps);
        if (r < 0)
                return error_set_errno(e, r, "Can't drop capabilities");
        r = plan_apply_env_ops(p);
        if (r < 0)
                return error_set_errno(e, r, "Can't set up the environment");
        return enter_working_directory(l, e);
}

/* PREPARED: pid 1 did child_exec_common() and loaded the filters, which
 * the command inherits (it is pid 1's vfork child: system calls only from
 * here, in pid 1's memory; init_vfork_allowed() lists them). */
static _noreturn_ void child_exec(const Launch *l, int go_fd, bool prepared) {
        const SandboxPlan *p = l->plan;
        Error e = {};
        int r;

        if (p->die_with_parent)
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (!prepared && child_exec_common(l, &e) < 0)
                goto fail;
        umask(l->saved_umask);
        sigprocmask(SIG_SETMASK, &l->saved_sigmask, NULL);

        if (rlimits_apply(&p->rlimits, &e) < 0)
                goto fail;
        LandlockPlan landlock = plan_landlock(p);
        if (landlock_apply(&p->landlock, &landlock, &e) < 0)
                goto fail;
        if (go_fd >= 0) {
                wait_for_fd(go_fd);
                safe_close(go_fd);
        }
        r = prepared ? 0 : launch_apply_seccomp(l);
        if (r < 0) {
                error_set_errno(&e, r, "Can't load seccomp filter");
                goto fail;
        }
        if (p->json_status_fd >= 0)
                report_exec_starting(l->report_fd);
        execvp(p->command[0], l->argv);
        error_set_errno(&e, errno, "execvp %s", p->command[0]);
fail:
        report_send(l->report_fd, &e);
        _exit(1);
}

/* Whether csand runs something of its own outside the sandbox for as long
 * as it lasts, and ends it when it returns: a network helper, the cgroup,
 * the --name registration, a fuse-overlayfs supervisor. */
static bool launch_has_outside_work(const SandboxPlan *p) {
        return network_uses_helper(&p->network, p->unshare_net) || cgroup_needed(&p->cgroup) || p->name ||
               overlay_supervisor_wanted(p);
}

/* As bwrap: once the command has exited pid 1 reports its status and csand
 * returns with it at once; what the command left running goes on in the
 * sandbox, pid 1 reaping it until none is left (with --die-with-parent it
 * dies with pid 1 as soon as csand is gone). Not where csand has something
 * of its own to tear down when it returns, which those processes would be
 * left without (a network helper, the cgroup, the --name registration, a
 * fuse-overlayfs daemon), nor with --image, whose container ends with its
 * command as docker's and podman's do: there pid 1 exits with the command
 * and the pid namespace takes the rest with it. */
static bool sandbox_outlives_command(const SandboxPlan *p) {
        return p->unshare_pid && plan_needs_init(p) && !launch_has_outside_work(p) && !p->image;
}

static _noreturn_ void init_run(const Launch *l);

/* The id-map stand-ins first, in the caller's mount namespace, then the
 * sandbox's (see utils/userns.c): the clone left CLONE_NEWNS to us. */
static int child_enter_mountns(Launch *l, Error *e) {
        int r = userns_standins_start(&l->standins, AT_FDCWD, nested_userns_needed(l), l->ns_aside);
        if (r < 0)
                return error_set_errno(e, r, "Can't start the id-map stand-in");
        if (unshare(CLONE_NEWNS) < 0)
                return error_set_errno(e, errno, "Can't create the mount namespace");
        r = userns_standins_give_root(&l->standins);
        if (r < 0)
                return error_set_errno(e, r, "Can't give the id-map stand-in its root");
        return 0;
}

static _noreturn_ void child_run(Launch *l) {
        const SandboxPlan *p = l->plan;
        Error e = {};
        int r;

        /* Not dumpable (as the monitor was when it cloned us) except where
         * the caller must write our maps (--userns-block-fd): then from
         * before the monitor tells the caller our pid. */
        if (p->userns_block_fd >= 0)
                (void) prctl(PR_SET_DUMPABLE, 1);
        /* A process group of the sandbox's own, before anything else:
         * kill(0) and PRIO_PGRP from inside must not reach the caller's. */
        r = jobctl_child_enter_group(l->jobs);
        if (r < 0) {
                error_set_errno(&e, r, "Can't create the sandbox's process group");
                goto fail;
        }
        if (l->mountns_late && child_enter_mountns(l, &e) < 0)
                goto fail;
        if (l->gate_fd >= 0 && gate_child_first(l, &e) < 0)
                goto fail;
        if (l->in_place) {
                if (p->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
                        error_set_errno(&e, errno, "prctl(PR_SET_PDEATHSIG)");
                        goto fail;
                }
                if (child_setup_last(l, &e) < 0)
                        goto fail;
        } else if (child_setup(l, &e) < 0)
                goto fail;
        userns_standins_done(&l->standins);
        /* --seccomp's program, read where bwrap reads it: after setup. */
        if (p->seccomp_fd >= 0 && seccomp_program_read(p->seccomp_fd, &l->seccomp_fd_prog, &e) < 0)
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
                child_exec(l, -EBADF, false);
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
 * signalfd, --sync-fd, the --lock-file locks (files inside the sandbox)
 * and the pipe that reports the command's stops to the monitor (which
 * could then only make csand stop itself, as a Ctrl-Z would) stay, not the fds the caller handed over (--bind-fd's directories,
 * namespaces, data) nor the channel to the fuse-overlayfs supervisor; and
 * the command's seccomp filters, which bwrap's pid 1 loads too. All before
 * the command's own code runs, so that it never finds pid 1 unreachable
 * or reachable too early. If the filters can't be loaded, pid 1 is not
 * made dumpable again. */
static int init_make_reachable(const Launch *l, int fuse_fd) {
        const SandboxPlan *p = l->plan;
        for (size_t i = p->owned->n; i-- > 0;)
                if (p->owned->fds[i] != p->sync_fd)
                        plan_close_fd(p, p->owned->fds[i]);
        safe_close(fuse_fd);
        /* Dumpable first: after the filters, prctl() may be what they
         * refuse. Nothing of the command's runs yet to use the gap. */
        if (prctl(PR_SET_DUMPABLE, 1) < 0)
                return -errno;
        int r = launch_apply_seccomp(l);
        if (r < 0) {
                (void) prctl(PR_SET_DUMPABLE, 0);
                return r;
        }
        return 0;
}

/* Whether the command may be pid 1's vfork child. It must keep nothing
 * pid 1 drops (capabilities), and Landlock's rules allocate. With seccomp
 * filters, pid 1 loads them before the vfork and the command inherits
 * them, loaded once; but then vfork() and what the child does before its
 * exec run under them, where bwrap's pid 1 forks first and its command
 * loads them after those calls. So only when every program is shown to
 * let exactly those calls through; a program that refuses clone, say, or
 * umask, gets bwrap's order: fork, then both load. */
static bool init_vfork_allowed(const Launch *l) {
        const SandboxPlan *p = l->plan;
        if (p->caps != 0 || landlock_requested(&p->landlock))
                return false;
        if (!launch_has_seccomp(l))
                return true;
#ifdef __NR_vfork
        /* Which call libc makes for setrlimit() is libc's choice. */
        if (p->rlimits.n_items > 0)
                return false;
        /* child_exec()'s calls before the filters would load, as made
         * (the last only with --die-with-parent). */
        const SeccompCall calls[] = {
                { .nr = __NR_vfork },
                { .nr = __NR_umask, .known_args = 1 << 0, .args = { l->saved_umask } },
                { .nr = __NR_rt_sigprocmask, .known_args = 1 << 0 | 1 << 2, .args = { SIG_SETMASK, 0, 0 } },
                { .nr = __NR_prctl, .known_args = 0x1f, .args = { PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0 } },
        };
        size_t n = ELEMENTSOF(calls) - !p->die_with_parent;
        return seccomp_programs_allow(p->seccomp, p->n_seccomp, calls, n) &&
               (!l->seccomp_fd_prog.data || seccomp_programs_allow(&l->seccomp_fd_prog, 1, calls, n));
#else
        return false; /* libc's vfork() is some clone(): not worked out */
#endif
}

static _noreturn_ void init_run(const Launch *l) {
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

        pid_t pid;
        _cleanup_close_ int go = -EBADF;
        if (init_vfork_allowed(l)) {
                /* Nothing to keep for the command: pid 1 is made reachable
                 * (and filtered) first, then the command starts with
                 * vfork, as posix_spawn does: it borrows our memory until
                 * it execs, so no page tables are copied and neither side
                 * takes copy-on-write faults; we resume once it has
                 * exec'd. So the child makes system calls only: what
                 * allocates or writes our memory (libcap's cap_init(),
                 * setenv(), and Landlock's rules, hence not with them) is
                 * done here first, the working directory too, as bwrap's
                 * pid 1 has the command's. */
                if (child_exec_common(l, &e) < 0)
                        goto fail;
                r = init_make_reachable(l, l->overlay.child_end);
                if (r < 0) {
                        error_set_errno(&e, r, "Can't drop capabilities or load the seccomp filters in pid 1");
                        goto fail;
                }
                pid = vfork();
                if (pid == 0)
                        child_exec(l, -EBADF, true);
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
                        child_exec(l, fds[0], false);
                }
                safe_close(fds[0]);
                if (pid > 0) {
                        r = caps_apply(0);
                        if (r >= 0)
                                r = init_make_reachable(l, l->overlay.child_end);
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
        /* The command is in our process group and gets the terminal's
         * signals itself; the monitor learns of its stops from us. */
        Supervise s = SUPERVISE_INIT;
        s.pid = pid;
        s.signal_fd = sfd;
        s.reap_all = true;
        s.stops_out = l->plan->new_session ? -EBADF : l->stops_fd;
        if (sandbox_outlives_command(l->plan))
                s.exit_out = l->stops_fd;
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
        if (network_uses_helper(&p->network, p->unshare_net))
                return true;
        if (cgroup_needed(&p->cgroup))
                return true;
        /* The namespace ids in the info JSON come from the child at the
         * gate; as in bwrap, the command waits until they are written. */
        if (p->info_fd >= 0 || p->json_status_fd >= 0)
                return true;
        /* --name: registered before the command runs, so that it can be joined. */
        if (p->name)
                return true;
        return false;
}

/* The namespaces the sandbox ends up with: the clone's, and the cgroup
 * namespace the child makes later in its leaf. */
static unsigned long sandbox_ns_flags(const Launch *l) {
        return l->clone_flags | (l->cgroupns_in_leaf ? CLONE_NEWCGROUP : 0) | (l->mountns_late ? CLONE_NEWNS : 0);
}

/* --info-fd and the start of --json-status-fd: the namespace ids. */
static void monitor_write_info(const SandboxPlan *p, const Launch *l, pid_t child, const int *ns_fds) {
        if (p->info_fd >= 0) {
                (void) status_write_info(p->info_fd, p, child, sandbox_ns_flags(l), ns_fds, false);
                plan_close_fd(p, p->info_fd);
        }
        if (p->json_status_fd >= 0)
                (void) status_write_info(p->json_status_fd, p, child, sandbox_ns_flags(l), ns_fds, true);
}

/* The user-mode network's helper, then the egress guard in the namespace
 * it serves: the guard's rules filter what the helper carries. */
static int monitor_start_network(const SandboxPlan *p, Launch *l, pid_t child, int netns_fd, Error *e) {
        int r = network_start(&p->network, p->unshare_net, child, netns_fd, &l->network, e);
        if (r <= 0)
                return r;
        r = egress_start(&p->egress, network_resolver(&p->network, p->unshare_net), p->json_status_fd, netns_fd,
                         network_state_userns_fd(l->network), &l->egress, e);
        /* A child that died of a setup error explains the failure better
         * than the guard can: the monitor prints its report. */
        if (r < 0 && network_state_child_gone(l->network))
                return 0;
        return r;
}

/* The monitor's work outside the sandbox between clone and exec, in step
 * with the child (see "the gate" above); then it opens the gate. */
static int monitor_before_exec(const SandboxPlan *p, Launch *l, JobControl *jobs, pid_t child, int gate_fd,
                               int ns_fds[_REPORT_NS_MAX], Error *e) {
        /* --name first: a taken name leaves nothing made outside. */
        if (registry_claim(p->name, &l->registration, e) < 0)
                return -e->error;
        /* The sandbox's own cgroup with its limits, before any helper starts. */
        if (cgroup_needed(&p->cgroup) && cgroup_setup(&p->cgroup, child, &l->cgroup, e) < 0)
                return -e->error;
        if (l->cgroupns_in_leaf) {
                gate_monitor_first(l, gate_fd, ns_fds);
                monitor_write_info(p, l, child, ns_fds);
        }
        /* The helper joins the sandbox's user namespace once its maps are
         * written. End-of-file: the child failed first; its report says why. */
        if (gate_has_maps_step(p) && !gate_wait(gate_fd, GATE_MAPS))
                return 0;
        int r = monitor_start_network(p, l, child, ns_fds[REPORT_NS_NET], e);
        if (r < 0)
                return r;
        /* End-of-file: the child failed, and its report says why. */
        _cleanup_close_ int root_fd = -EBADF;
        if (gate_root_needed(p) && report_receive_root(gate_fd, &root_fd) == 0)
                return 0;
        /* Once it all exists: what --join and --list read. */
        r = registry_publish(l->registration, p, child, sandbox_ns_flags(l), root_fd, cgroup_unit(l->cgroup), e);
        if (r < 0)
                return r;
        /* Last: a stopped csand (Ctrl-Z during the setup) holds the
         * command here until continued in the foreground again. */
        jobctl_hand_terminal(jobs);
        gate_send(gate_fd, GATE_OPEN);
        return 0;
}

/* The monitor's work after the sandbox ended with exit status CODE,
 * before the status is reported. */
static void monitor_after_exit(const SandboxPlan *p, const Launch *l, int code) {
        const char *limit = NULL;
        /* Killed by the OOM killer in the sandbox's cgroup (SIGKILL). */
        if (code == 128 + SIGKILL && cgroup_oom_killed(l->cgroup, &p->cgroup, &limit) > 0) {
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

/* Waits for the child while printing its setup error, if any, and passing
 * signals on. Returns the exit status csand should end with. STOPS_FD: pid
 * 1's reports of the command's stops, or -EBADF when the child is the
 * command. */
static int monitor(const SandboxPlan *p, Launch *l, JobControl *jobs, pid_t child, int report_fd, int gate_fd, int stops_fd) {
        _cleanup_close_ int sfd = -EBADF;
        _cleanup_(close_namespaces) int ns_fds[_REPORT_NS_MAX];
        Error report = {};
        bool failed = false;
        int status, r;

        for (size_t i = 0; i < _REPORT_NS_MAX; i++)
                ns_fds[i] = -EBADF;
        if (gate_fd >= 0 && !l->cgroupns_in_leaf) {
                gate_monitor_first(l, gate_fd, ns_fds);
                monitor_write_info(p, l, child, ns_fds);
        }
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
                r = monitor_before_exec(p, l, jobs, child, gate_fd, ns_fds, &e);
                if (r < 0) {
                        log_error("%s", e.message);
                        kill(child, SIGKILL);
                        waitpid(child, NULL, 0);
                        return 1;
                }
                safe_close(gate_fd);
        }

        /* Setup: until exec closes the channel, or an error arrives. */
        bool exec_started = false;
        do {
                r = report_receive(report_fd, &report, true);
                exec_started = exec_started || r == REPORT_EXEC;
        } while (r == -EINTR || r == REPORT_EXEC);
        failed = r == REPORT_ERROR;
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
        jobctl_supervise(jobs, &s, stops_fd);
        /* Pid 1's report of the command's exit, with or without job control. */
        s.stops_in = stops_fd;
        r = init_supervise(&s, &status);
        jobctl_take_terminal_back(jobs);
        launch_stop_helpers(l);
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
                monitor_after_exit(p, l, code);
        /* As bwrap: an exit code only for a command that ran; a failed setup
         * or exec has said why on stderr. */
        if (p->json_status_fd >= 0 && exec_started && !failed)
                (void) status_write_exit(p->json_status_fd, code);
        return code;
}

/* bwrap's words for a failed clone(), which scripts match, then the causes
 * found (utils/userns-diag.c) with their fixes, on the same line. */
static void log_clone_error(int err, bool new_userns, const char *causes) {
        const char *words = namespace_error_words(err, new_userns);
        if (words)
                log_error("%s%s%s", words, causes ? " Found: " : "", causes ?: "");
        else
                log_error("Creating new namespace failed: %s%s%s", strerror(err), causes ? ". Found: " : "", causes ?: "");
}

/* Setuid mode: the privileged part starts the sandbox's worker, our child,
 * in the namespaces (utils/setuid.h); the rest is the monitor's as usual. */
static int launch_setuid(Launch *l, JobControl *jobs, int report_fd, int gate[2], int stops[2]) {
        const SandboxPlan *p = l->plan;
        Error e = {};
        pid_t pid = setuid_clone(p, l->clone_flags, p->uid, p->gid, plan_has_op(p, MOUNT_OP_DEV), l->report_fd, gate[0],
                                 stops[1], &e);
        safe_close(l->report_fd);
        safe_close(gate[0]);
        safe_close(stops[1]);
        if (pid < 0) {
                Error diag = {};
                safe_close(gate[1]);
                safe_close(stops[0]);
                if (strcmp(e.message, "clone") == 0)
                        log_clone_error(e.error, true, userns_diag_explain(e.error, &diag) > 0 ? diag.message : NULL);
                else
                        log_error("%s", e.message);
                return 1;
        }
        (void) prctl(PR_SET_DUMPABLE, 0);
        jobctl_monitor_start(jobs, pid);
        int r = monitor(l->plan, l, jobs, pid, report_fd, gate[1], stops[0]);
        safe_close(stops[0]);
        return r;
}

/* Setuid mode's worker: already in the sandbox's namespaces, as the
 * sandbox's user with that user namespace's capabilities (or, where none
 * can be made, as the caller with the few it needs); from here on what an
 * unprivileged csand's child does (utils/setuid.h). */
static _noreturn_ void worker_run(SandboxPlan *p) {
        /* Its process group, made here, before the gate's first message
         * (the monitor's setpgid() comes after our exec and fails, and the
         * monitor tells --info-fd our pid once it has our namespaces);
         * the terminal is the monitor's to hand over. */
        JobControl jobs = JOB_CONTROL_INIT;
        jobs.own_group = !p->new_session;
        (void) jobctl_child_enter_group(&jobs);
        Launch l = { .plan = p,
                     .outside_uid = getuid(),
                     .outside_gid = getgid(),
                     .new_userns = !setuid_nouserns(),
                     .jobs = &jobs,
                     .overlay = OVERLAY_SUPERVISOR_INIT,
                     .standins = STANDINS_INIT,
                     .nested_userns_fd = -EBADF };
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        sigset_t supervised;

        (void) setuid_worker(&l.report_fd, &l.gate_fd, &l.stops_fd);
        l.outside_cwd = cwd;
        if (launch_make_argv(&l) < 0) {
                log_error("Out of memory");
                _exit(1);
        }
        l.clone_flags = namespace_flags(p, l.new_userns);
        init_supervised_signals(&supervised);
        sigprocmask(SIG_BLOCK, &supervised, &l.saved_sigmask);
        l.saved_umask = umask(0);
        child_run(&l);
}

/* Whether the monitor may live in the sandbox's user namespace from the
 * clone on, as it does when it made it (utils/userns.h, the premade
 * namespace): nothing of ours then runs outside it (a network helper, the
 * cgroup, the --name registry, a fuse-overlayfs supervisor, whose thread
 * would also keep us from joining), the caller writes no maps, no --pidns
 * is joined. */
static bool premade_userns_serves(const SandboxPlan *p) {
        return !setuid_active() && p->userns_block_fd < 0 && p->pidns_fd < 0 && !launch_has_outside_work(p);
}

/* Makes the sandbox's user namespace with its maps (and bwrap's nested
 * one where the plan has it, utils/userns.h) and joins it: the clone
 * makes no user namespace then, and the child no maps. Where that fails
 * the launch makes its own as usual, the stand-ins' mount namespace the
 * caller's. */
static void launch_enter_premade(Launch *l) {
        const SandboxPlan *p = l->plan;
        _cleanup_(userns_premade_done) UsernsPremade premade = USERNS_PREMADE_NULL;
        UsernsMap first = { .outside_uid = l->outside_uid, .outside_gid = l->outside_gid };
        first_level_ids(l, &first.inside_uid, &first.inside_gid);
        UsernsMap nested = { p->uid, first.inside_uid, p->gid, first.inside_gid };
        pid_t parent = getppid();
        int r = userns_premake(&premade, &first, nested_userns_needed(l) ? &nested : NULL);
        /* reaped once the clone is made (or by launch_done()) */
        l->premake_pid = premade.child;
        if (r < 0 || setns(premade.userns, CLONE_NEWUSER) < 0) {
                userns_premake_reap(&l->premake_pid);
                l->userns_premade = false;
                l->clone_flags &= ~(unsigned long) CLONE_NEWNS;
                l->mountns_late = true;
                return;
        }
        l->clone_flags &= ~(unsigned long) CLONE_NEWUSER;
        l->nested_userns_fd = TAKE_FD(premade.nested);
        /* Joining gave us new credentials: the kernel keeps the parent-death
         * signal where, as here, their capabilities are only those of a
         * namespace we own; set again rather than relied upon. */
        if (p->die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
                (void) kill(getpid(), SIGKILL);
}

static int sandbox_launch(const SandboxPlan *p, bool may_premake) {
        _cleanup_(launch_done) Launch l = {
                .plan = p,
                .outside_uid = geteuid(),
                .outside_gid = getegid(),
                .report_fd = -EBADF,
                .gate_fd = -EBADF,
                .stops_fd = -EBADF,
                .overlay = OVERLAY_SUPERVISOR_INIT,
                .standins = STANDINS_INIT,
                .nested_userns_fd = -EBADF,
        };
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        _cleanup_(jobctl_done) JobControl jobs = JOB_CONTROL_INIT;
        int fds[2], r;

        l.outside_cwd = cwd;
        if (launch_make_argv(&l) < 0) {
                log_error("Out of memory");
                return 1;
        }
        l.in_place = plan_runs_in_place(p);
        l.new_userns = !l.in_place && p->userns_fd < 0 && (p->unshare_user || p->unshare_user_try || l.outside_uid != 0);
        l.clone_flags = l.in_place ? 0 : namespace_flags(p, l.new_userns);
        if ((l.clone_flags & CLONE_NEWCGROUP) && cgroup_needed(&p->cgroup)) {
                l.clone_flags &= ~(unsigned long) CLONE_NEWCGROUP;
                l.cgroupns_in_leaf = true;
        }
        l.userns_premade = may_premake && l.new_userns && premade_userns_serves(p);
        /* The stand-ins' mount namespace must be the caller's (utils/userns.c). */
        if (l.new_userns && p->userns_block_fd < 0 && !setuid_active() && !l.userns_premade) {
                l.clone_flags &= ~(unsigned long) CLONE_NEWNS;
                l.mountns_late = true;
        }

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
        r = overlay_supervisor_start(p, p->userns_fd < 0 && p->pidns_fd < 0, &l.overlay);
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
        l.monitor_pid = getpid();

        /* A socket rather than a pipe: see "the gate" above. */
        int gate[2] = { -EBADF, -EBADF };
        if (needs_gate(p, &jobs) && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, gate) < 0) {
                log_error("socketpair: %s", strerror(errno));
                safe_close(l.report_fd);
                return 1;
        }
        l.gate_fd = gate[0];
        /* Making the network and IPC namespaces is the dearest part of the
         * clone (~0.5 and ~0.08 ms here): the first stand-in makes them
         * instead, while the root is built, or in a premade user namespace
         * the monitor, which has nothing else to do then. Not where the
         * monitor takes the namespaces at the gate first thing (a network
         * helper, --info-fd, ...), nor the IPC namespace for an --mqueue
         * (mounted for the namespace of whoever mounts it). */
        if ((l.mountns_late || l.userns_premade) && l.gate_fd < 0) {
                l.ns_aside = l.clone_flags & (CLONE_NEWNET | (plan_has_op(p, MOUNT_OP_MQUEUE) ? 0 : CLONE_NEWIPC));
                l.clone_flags &= ~l.ns_aside;
        }
        /* Pid 1 tells the monitor when the command stops (job control) and,
         * where the sandbox outlives it, when it exits. */
        int stops[2] = { -EBADF, -EBADF };
        if (plan_needs_init(p) && (!p->new_session || sandbox_outlives_command(p)) && pipe2(stops, O_CLOEXEC | O_NONBLOCK) < 0) {
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

        if (setuid_active())
                return launch_setuid(&l, &jobs, report_fd, gate, stops);
        if (l.userns_premade)
                launch_enter_premade(&l);
        pid_t pid = raw_clone(l.clone_flags);
        if (pid < 0 && (errno == EINVAL || errno == EPERM || errno == ENOSPC || errno == EUSERS) &&
            p->unshare_user_try && !p->unshare_user && l.outside_uid == 0) {
                /* --unshare-user-try as root: do without a user namespace. */
                l.new_userns = false;
                l.mountns_late = false;
                l.clone_flags = (l.clone_flags & ~(unsigned long) CLONE_NEWUSER) | CLONE_NEWNS;
                l.clone_flags |= l.ns_aside;
                l.ns_aside = 0;
                pid = raw_clone(l.clone_flags);
        }
        if (pid < 0) {
                r = errno;
                safe_close(l.report_fd);
                safe_close(gate[0]);
                safe_close(gate[1]);
                safe_close(stops[0]);
                safe_close(stops[1]);
                safe_close(l.nested_userns_fd);
                Error diag = {};
                bool found = l.new_userns && userns_diag_explain(r, &diag) > 0;
                log_clone_error(r, l.new_userns, found ? diag.message : NULL);
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
        safe_close(l.nested_userns_fd);
        if (l.userns_premade) {
                if (l.ns_aside != 0)
                        userns_make_aside(report_fd, l.ns_aside);
                /* Nothing of the monitor's needs them from here on. */
                (void) caps_set(0);
                userns_premake_reap(&l.premake_pid);
        }
        jobctl_monitor_start(&jobs, pid);
        overlay_supervisor_forget_child_end(&l.overlay);
        r = monitor(p, &l, &jobs, pid, report_fd, gate[1], stops[0]);
        safe_close(stops[0]);
        return r;
}

/* --list, --stop (utils/registry.c) and --join (utils/join.c): about
 * sandboxes that run already. Returns the exit status. */
static int run_command(SandboxPlan *p) {
        Error e = {};
        if (registry_validate_command(p, &e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        if (p->list)
                return registry_run_list(p);
        if (p->stop_name)
                return registry_run_stop(p);
        return join_run(p);
}

int main(int argc, char **argv) {
        _cleanup_plan_ SandboxPlan *plan = NULL;
        Error e = {};

        /* Whether the monitor may make the sandbox's user namespace itself
         * (utils/userns.h), which takes being dumpable for that moment:
         * only where we start dumpable, as every process is until here. */
        bool may_premake = userns_premake_possible();
        /* Not dumpable, from the start: csand lives in the caller's
         * namespaces, and ptrace or process_vm_readv by anyone of the same
         * uid (a command in a sandbox without a pid namespace, say) would
         * let them steer it. Not dumpable, that takes CAP_SYS_PTRACE in our
         * user namespace. The child inherits it (see child_setup()). */
        (void) prctl(PR_SET_DUMPABLE, 0);
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
        OptionsCommand command;
        if (options_parse(plan, argc - 1, argv + 1, &command, &e) < 0 || setuid_check_plan(plan, &e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        if (command == OPTIONS_HELP) {
                options_print_help(stdout, argv[0]);
                return 0;
        }
        /* The bwrap release whose behaviour csand follows: first, as
         * bwrap (scripts parse "bubblewrap X.Y.Z"), or after csand's own. */
        if (command == OPTIONS_VERSION) {
                if (strcmp(log_program_name(), "bwrap") == 0)
                        printf("bubblewrap %s (csand %s)\n", CSAND_BWRAP_VERSION, CSAND_VERSION);
                else
                        printf("csand %s (bubblewrap %s)\n", CSAND_VERSION, CSAND_BWRAP_VERSION);
                return 0;
        }
        /* --join, --list, --stop: about sandboxes that run already. */
        if (registry_is_command(plan))
                return run_command(plan);
        /* --image's defaults first: options are checked against them. */
        if (image_plan_defaults(plan) < 0) {
                log_error("Out of memory");
                return 1;
        }
        /* The options as given, before anything is read or made. */
        uid_t real_uid = getuid();
        if (plan_validate(plan, real_uid, &e) < 0) {
                /* bwrap prints its usage on stderr; scripts see that line */
                if (e.error == PLAN_NO_COMMAND && strcmp(log_program_name(), "bwrap") == 0)
                        options_print_help(stderr, argv[0]);
                else
                        log_error("%s", e.message);
                return 1;
        }
        if (!plan->image_info && !plan->image_cache_list && !plan->image_cache_prune && !plan_runs_in_place(plan) &&
            mounts_check_kernel(&e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        /* The plan is completed: --image's layers, config and command (or
         * an image action that ends here), the seccomp profile (it depends
         * on the capabilities kept), the kernel's Landlock ABI against the
         * rules asked for. */
        int r = image_prepare(plan, &e);
        if (r != 0) {
                if (r < 0)
                        log_error("%s", e.message);
                return r < 0;
        }
        if (seccomp_add_profile(plan, &e) < 0 || landlock_prepare(&plan->landlock, &e) < 0 ||
            plan_validate(plan, real_uid, &e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        /* From here on the plan is read only (sandbox_launch() takes it
         * as it is; pid 1 closes its copies of the owned fds). */
        if (setuid_worker(NULL, NULL, NULL))
                worker_run(plan);
        return sandbox_launch(plan, may_premake);
}
