/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "plan.h"

int plan_new(SandboxPlan **ret) {
        SandboxPlan *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->owned = calloc(1, sizeof(*p->owned));
        if (!p->owned) {
                free(p);
                return -ENOMEM;
        }
        p->uid = getuid();
        p->gid = getgid();
        p->userns_fd = p->userns2_fd = p->pidns_fd = -EBADF;
        p->sync_fd = p->block_fd = p->userns_block_fd = p->info_fd = p->json_status_fd = -EBADF;
        p->seccomp_fd = -EBADF;
        *ret = p;
        return 0;
}

SandboxPlan *plan_free(SandboxPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_ops; i++) {
                if (!p->ops[i].borrowed) {
                        free(p->ops[i].source);
                        free(p->ops[i].dest);
                }
                for (size_t j = 0; j < p->ops[i].n_overlay_layers; j++)
                        free(p->ops[i].overlay_layers[j]);
                free(p->ops[i].overlay_layers);
                free(p->ops[i].overlay_workdir);
        }
        free(p->ops);
        for (size_t i = 0; i < p->n_env_ops; i++) {
                free(p->env_ops[i].name);
                free(p->env_ops[i].value);
        }
        free(p->env_ops);
        for (size_t i = 0; i < p->owned->n; i++)
                safe_close(p->owned->fds[i]);
        free(p->owned->fds);
        free(p->owned);
        for (size_t i = 0; i < p->n_args_data; i++)
                free(p->args_data[i].data);
        free(p->args_data);
        free(p->hostname);
        free(p->chdir_path);
        free(p->argv0);
        free(p->command);
        free(p->image);
        free(p->image_entrypoint);
        free(p->image_overlay_rwsrc);
        free(p->image_overlay_workdir);
        for (size_t i = 0; i < p->n_seccomp; i++)
                free(p->seccomp[i].data);
        free(p->seccomp);
        free(p->seccomp_profile);
        network_settings_done(&p->network);
        egress_settings_done(&p->egress);
        /* resources: also removes the sandbox's cgroup */
        cgroup_settings_done(&p->cgroup);
        rlimits_done(&p->rlimits);
        free(p->name);
        free(p->join_target);
        free(p->stop_name);
        landlock_settings_done(&p->landlock);
        free(p);
        return NULL;
}

/* Capacity is implicit: 8, then the next power of two. Doubling keeps
 * appends linear for thousands of mount ops. */
static void *grow(void *array, size_t n, size_t size) {
        bool full = n < 8 ? n == 0 : (n & (n - 1)) == 0;
        if (!full)
                return array;
        return reallocarray(array, n < 8 ? 8 : n * 2, size);
}

static int add_op(SandboxPlan *p, MountOpType type, const char *source, const char *dest, bool borrowed, MountOp **ret) {
        MountOp *ops = grow(p->ops, p->n_ops, sizeof(MountOp));
        if (!ops)
                return -ENOMEM;
        p->ops = ops;

        MountOp *op = &ops[p->n_ops];
        *op = (MountOp) {
                .type = type,
                .fd = -EBADF,
                .perms = MODE_UNSET,
                .borrowed = borrowed,
        };
        if (borrowed) {
                op->source = (char *) source;
                op->dest = (char *) dest;
        } else if ((source && !(op->source = strdup(source))) || (dest && !(op->dest = strdup(dest)))) {
                free(op->source);
                return -ENOMEM;
        }
        p->n_ops++;
        if (ret)
                *ret = op;
        return 0;
}

int plan_add_op(SandboxPlan *p, MountOpType type, const char *source, const char *dest, MountOp **ret) {
        return add_op(p, type, source, dest, false, ret);
}

int plan_add_op_borrowed(SandboxPlan *p, MountOpType type, const char *source, const char *dest, MountOp **ret) {
        return add_op(p, type, source, dest, true, ret);
}

int plan_add_env(SandboxPlan *p, EnvOpType type, const char *name, const char *value) {
        EnvOp *ops = grow(p->env_ops, p->n_env_ops, sizeof(EnvOp));
        if (!ops)
                return -ENOMEM;
        p->env_ops = ops;

        EnvOp *op = &ops[p->n_env_ops];
        *op = (EnvOp) { .type = type };
        if ((name && !(op->name = strdup(name))) || (value && !(op->value = strdup(value)))) {
                free(op->name);
                return -ENOMEM;
        }
        p->n_env_ops++;
        return 0;
}

int plan_own_fd(SandboxPlan *p, int fd) {
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0)
                return -errno;
        if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
                return -errno;
        /* The same fd may be named twice (--info-fd 3 --json-status-fd 3). */
        struct OwnedFds *o = p->owned;
        for (size_t i = 0; i < o->n; i++)
                if (o->fds[i] == fd)
                        return 0;
        int *fds = grow(o->fds, o->n, sizeof(int));
        if (!fds)
                return -ENOMEM;
        o->fds = fds;
        o->fds[o->n++] = fd;
        return 0;
}

void plan_close_fd(const SandboxPlan *p, int fd) {
        struct OwnedFds *o = p->owned;
        for (size_t i = 0; i < o->n; i++)
                if (o->fds[i] == fd) {
                        safe_close(fd);
                        o->fds[i] = o->fds[--o->n];
                        return;
                }
}

int plan_add_seccomp(SandboxPlan *p, void *data, size_t len) {
        SeccompProgram *progs = grow(p->seccomp, p->n_seccomp, sizeof(SeccompProgram));
        if (!progs)
                return -ENOMEM;
        p->seccomp = progs;
        p->seccomp[p->n_seccomp++] = (SeccompProgram) { .data = data, .len = len };
        return 0;
}

bool plan_has_op(const SandboxPlan *p, MountOpType type) {
        for (size_t i = 0; i < p->n_ops; i++)
                if (p->ops[i].type == type)
                        return true;
        return false;
}

int plan_validate(const SandboxPlan *p, uid_t real_uid, Error *e) {
        /* Unprivileged, a user namespace is the only way in: implied, as in bwrap. */
        bool userns = p->unshare_user || p->unshare_user_try || real_uid != 0 || p->userns_fd >= 0;

        /* --image (utils/image.c): its upper needs it; it may supply the command. */
        if (p->image_overlay_rwsrc && !p->image)
                return error_setf(e, EINVAL, "--image-overlay requires --image");
        /* bwrap's checks in bwrap's order and words: with several problems,
         * scripts see the message bwrap gives.  As in bwrap, the user
         * namespace --userns-block-fd and --disable-userns work on must be
         * asked for, not implied by running unprivileged. */
        if (p->userns_block_fd >= 0 && !p->unshare_user)
                return error_setf(e, EINVAL, "--userns-block-fd requires --unshare-user");
        if (p->userns_block_fd >= 0 && p->info_fd < 0)
                return error_setf(e, EINVAL, "--userns-block-fd requires --info-fd");
        if (p->userns_fd >= 0 && p->unshare_user)
                return error_setf(e, EINVAL, "--userns not compatible --unshare-user");
        if (p->userns_fd >= 0 && p->unshare_user_try)
                return error_setf(e, EINVAL, "--userns not compatible --unshare-user-try");
        if (p->disable_userns && !p->unshare_user)
                return error_setf(e, EINVAL, "--disable-userns requires --unshare-user");
        /* (two spaces: bwrap's text, which scripts may match) */
        if (p->disable_userns && p->userns_block_fd >= 0)
                return error_setf(e, EINVAL, "--disable-userns is not compatible with  --userns-block-fd");
        if (p->n_command == 0 && !p->image && !p->image_cache_list && !p->image_cache_prune)
                return error_setf(e, PLAN_NO_COMMAND, "No command specified (see --help)");
        if (p->uid_set && !userns && p->uid != real_uid)
                return error_setf(e, EINVAL, "Specifying --uid requires --unshare-user or --userns");
        if (p->gid_set && !userns && p->gid != getgid())
                return error_setf(e, EINVAL, "Specifying --gid requires --unshare-user or --userns");
        if (p->hostname && !p->unshare_uts)
                return error_setf(e, EINVAL, "Specifying --hostname requires --unshare-uts");
        if (p->as_pid_1 && !p->unshare_pid)
                return error_setf(e, EINVAL, "Specifying --as-pid-1 requires --unshare-pid");
        if (p->as_pid_1 && plan_has_op(p, MOUNT_OP_LOCK_FILE))
                return error_setf(e, EINVAL, "Specifying --as-pid-1 and --lock-file is not permitted");
        /* csand's own: bwrap ignores --userns2 without --userns */
        if (p->userns2_fd >= 0 && p->userns_fd < 0)
                return error_setf(e, EINVAL, "--userns2 requires --userns");
        /* --mqueue without --unshare-ipc: the mount fails, with bwrap's
         * message, when its turn comes (mounts.c). */
        /* network */
        if (network_validate(&p->network, p->unshare_net, p->userns_fd >= 0, e) < 0 ||
            egress_validate(&p->egress, network_uses_helper(&p->network, p->unshare_net), p->caps, e) < 0)
                return -e->error;
        /* resources */
        if (cgroup_settings_validate(&p->cgroup, e) < 0 || rlimits_validate(&p->rlimits, e) < 0)
                return -e->error;
        /* Landlock */
        if (landlock_settings_validate(&p->landlock, e) < 0)
                return -e->error;
        return 0;
}

bool plan_runs_in_place(const SandboxPlan *p) {
        if (!landlock_requested(&p->landlock))
                return false;
        /* Anything that needs a namespace, a new root or an id map. */
        if (p->unshare_user || p->unshare_user_try || p->unshare_ipc || p->unshare_pid || p->unshare_net ||
            p->unshare_uts || p->unshare_cgroup || p->unshare_cgroup_try)
                return false;
        if (p->n_ops > 0 || p->image || p->hostname || p->uid_set || p->gid_set)
                return false;
        if (p->userns_fd >= 0 || p->userns2_fd >= 0 || p->pidns_fd >= 0 || p->userns_block_fd >= 0)
                return false;
        if (p->disable_userns || p->assert_userns_disabled || p->as_pid_1)
                return false;
        return !network_settings_given(&p->network);
}

LandlockPlan plan_landlock(const SandboxPlan *p) {
        return (LandlockPlan) {
                .ops = p->ops,
                .n_ops = p->n_ops,
                .in_place = plan_runs_in_place(p),
                .chdir = p->chdir_path,
        };
}

bool plan_needs_init(const SandboxPlan *p) {
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

int plan_apply_env_ops(const SandboxPlan *p) {
        for (size_t i = 0; i < p->n_env_ops; i++) {
                const EnvOp *op = &p->env_ops[i];
                int r = op->type == ENV_SET   ? setenv(op->name, op->value, 1) :
                        op->type == ENV_UNSET ? unsetenv(op->name) :
                                                clearenv();
                if (r != 0)
                        return -errno ?: -EINVAL;
        }
        return 0;
}
