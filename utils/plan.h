/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroups.h"
#include "egress.h"
#include "landlock.h"
#include "log.h"
#include "mount-op.h"
#include "network.h"
#include "rlimits.h"

/* --overlay-driver */
typedef enum OverlayDriver {
        OVERLAY_DRIVER_AUTO, /* kernel overlayfs where it works, else fuse-overlayfs */
        OVERLAY_DRIVER_KERNEL,
        OVERLAY_DRIVER_FUSE,
} OverlayDriver;

typedef enum EnvOpType {
        ENV_SET,
        ENV_UNSET,
        ENV_CLEAR,
} EnvOpType;

typedef struct EnvOp {
        EnvOpType type;
        char *name;
        char *value;
} EnvOp;

/* A classic BPF program for seccomp(2), read from the caller's fd. */
typedef struct SeccompProgram {
        void *data;
        size_t len;     /* bytes, a multiple of 8 */
        unsigned flags; /* SECCOMP_FILTER_FLAG_* to load it with */
} SeccompProgram;

typedef struct SandboxPlan {
        /* Namespaces. "try" variants are resolved against the kernel at launch. */
        bool unshare_user, unshare_user_try;
        bool unshare_ipc, unshare_pid, unshare_net, unshare_uts;
        bool unshare_cgroup, unshare_cgroup_try;
        int share_ns; /* CLONE_NEW* of --share-net, --share-ipc, ...: --image keeps them too */

        uid_t uid; /* ids inside; default: the caller's */
        gid_t gid;
        bool uid_set, gid_set;

        char *hostname;
        char *chdir_path;
        char *argv0; /* --argv0 */

        EnvOp *env_ops;
        size_t n_env_ops;

        MountOp *ops;
        size_t n_ops;

        bool die_with_parent;
        bool new_session;
        bool as_pid_1;
        /* --no-die-with-parent, --no-new-session: off even with --image */
        bool no_die_with_parent, no_new_session;

        /* Namespaces handed over by the caller. -EBADF when unset. */
        int userns_fd, userns2_fd, pidns_fd;
        bool disable_userns, assert_userns_disabled;

        /* Synchronisation and status fds. -EBADF when unset. */
        int sync_fd, block_fd, userns_block_fd, info_fd, json_status_fd;

        /* Capabilities the command keeps (bit N = capability N); none by default. */
        uint64_t caps;

        /* Loaded in order, last thing before exec. */
        SeccompProgram *seccomp;
        size_t n_seccomp;
        int seccomp_fd;        /* --seccomp (exclusive with --add-seccomp-fd):
                                                 * read by the child after setup, as bwrap
                                                 * does; -EBADF when unset */
        char *seccomp_profile; /* --seccomp-profile, compiled before clone */

        /* Overlays (utils/overlay.c): the driver. (The channel to the
         * fuse-overlayfs supervisor is the launch's: sandbox.c's Launch.) */
        OverlayDriver overlay_driver;

        /* images (utils/image.c): --image PATH[:TAG] (also set by
         * --image-info, which prints instead of running), --entrypoint
         * (NULL: the image's; "": none), --image-overlay RWSRC WORKDIR
         * (NULL: a throw-away upper), the cache actions. */
        char *image;
        char *image_entrypoint;
        char *image_overlay_rwsrc, *image_overlay_workdir;
        bool image_info, image_cache_list, image_cache_prune;

        /* fds csand owns (handed over by the caller, --image's layer
         * locks) that must not reach the command. An object of its own:
         * closing one early (the monitor, pid 1) is the fds' lifetime, not
         * a change to the plan, which is read only by then. */
        struct OwnedFds {
                int *fds;
                size_t n;
        } * owned;

        /* resources (utils/cgroups.c, utils/rlimits.c): the cgroup limits
         * and manager (the cgroup itself is the monitor's, in sandbox.c's
         * Launch); the rlimits set on the command before exec. */
        CgroupSettings cgroup;
        RlimitSettings rlimits;

        /* The command, pointing into argv (or --args data). */
        char **command;
        size_t n_command;

        /* --args data as read, by fd number: the ops parsed from it point
         * into it (MountOp.borrowed); in setuid mode the sandbox's worker
         * parses the same command line again and finds a copy of the data
         * at the same number (utils/setuid.c). */
        struct ArgsData {
                int fd;
                char *data;
                size_t len;
        } * args_data;
        size_t n_args_data;

        /* network (utils/network.c, utils/egress.c): --network, --publish,
         * --allow-host-loopback, --dns; egress by name: --allow-host,
         * --allow-udp, --add-host, --quiet */
        NetworkSettings network;
        EgressSettings egress;

        /* running sandboxes (utils/registry.c, utils/join.c): --name; the
         * commands --join, --list [--json], --stop [--stop-timeout]; the
         * first option given that builds a sandbox, which --join refuses. */
        char *name;
        char *join_target;
        bool list, list_json;
        char *stop_name;
        unsigned stop_timeout;
        bool stop_timeout_set;
        const char *sandbox_option;
        /* Landlock (utils/landlock.c): --landlock and its rules */
        LandlockSettings landlock;
} SandboxPlan;

int plan_new(SandboxPlan **ret);
SandboxPlan *plan_free(SandboxPlan *p);
static inline void plan_freep(SandboxPlan **p) {
        plan_free(*p);
}
#define _cleanup_plan_ _cleanup_(plan_freep)

/* Appends an op; takes copies of source/dest. Returns the op via *ret. */
int plan_add_op(SandboxPlan *p, MountOpType type, const char *source, const char *dest, MountOp **ret);
/* The same with the command line's own source/dest (argv or --args data,
 * which the plan outlives nothing of): no copies, which with thousands of
 * binds are most of the plan's memory. */
int plan_add_op_borrowed(SandboxPlan *p, MountOpType type, const char *source, const char *dest, MountOp **ret);
int plan_add_env(SandboxPlan *p, EnvOpType type, const char *name, const char *value);
/* Takes ownership of a caller's fd: close-on-exec from now on, so it never
 * reaches the command, and closed with the plan. */
int plan_own_fd(SandboxPlan *p, int fd);
/* Closes an owned fd early (and forgets it). */
void plan_close_fd(const SandboxPlan *p, int fd);
int plan_add_seccomp(SandboxPlan *p, void *data, size_t len);

/* Option combinations, checked before anything happens. Pure. */
/* plan_validate()'s error (Error.error) when there is no command: by
 * bwrap's name, csand then answers as bwrap does, with its usage. */
#define PLAN_NO_COMMAND EDESTADDRREQ
int plan_validate(const SandboxPlan *p, uid_t real_uid, Error *e);

/* Is there an operation of TYPE among the plan's mount operations? */
bool plan_has_op(const SandboxPlan *p, MountOpType type);

/* Landlock asked for and nothing that needs a namespace or a new root:
 * the command runs in place (utils/landlock.h). A decision about the
 * whole plan, hence here. */
bool plan_runs_in_place(const SandboxPlan *p);

/* What Landlock's rules derived from the plan (--landlock) are made from. */
LandlockPlan plan_landlock(const SandboxPlan *p);

/* Does the sandbox keep a pid 1 of csand's (reaper, lock holder,
 * --sync-fd) above the command? */
bool plan_needs_init(const SandboxPlan *p);

/* --setenv, --unsetenv and --clearenv, in order, on this process's
 * environment (the command's, or a joined command's). */
int plan_apply_env_ops(const SandboxPlan *p);
