/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdint.h>

#include "plan.h"

/* Every root is built with the new mount API; on a kernel without it (or
 * under a seccomp policy that hides it), a clear error before anything is
 * created. mount_setattr() alone may be missing (Linux 5.6 to 5.11). */
int mounts_check_kernel(Error *e);

/* Stops mount events from propagating back to the host: rslave on "/". */
int mounts_isolate(void);

/* The new root while it is built. */
typedef struct NewRoot {
        int fd;                 /* the topmost mount at the root: where lookups start */
        unsigned n_stacked;     /* mounts stacked over the bottom tmpfs by ops that
                                 * mount over the root itself (--ro-bind / /) */
} NewRoot;

#define NEW_ROOT_NULL ((NewRoot) { .fd = -EBADF })

/* Attaches the detached mount MNT_FD on DST_FD with MOUNT_ATTR_* ATTRS set
 * on it (with AT_RECURSIVE in FLAGS, on its submounts too): on the detached
 * tree before attaching, with mount_setattr(); before Linux 5.12, with
 * mount(2) remounts after attaching (nobody runs in the sandbox yet). With
 * ROOT, a mount over the new root becomes ROOT's fd (see attach()). */
int mounts_attach_with_attrs(NewRoot *root, int mnt_fd, int dst_fd, unsigned flags, uint64_t attrs);

static inline void new_root_done(NewRoot *r) {
        r->fd = safe_close(r->fd);
}

/* A fresh tmpfs for the new root, stacked on top of "/". Lookups of absolute
 * paths still start at the process root below it, so bind sources keep
 * resolving in the caller's view, while destinations are resolved through
 * the root's fd. No /tmp, no mountinfo, no second pivot. */
int mounts_new_root(NewRoot *ret);

/* Executes the plan's mount ops in order. root->fd is replaced when an op
 * mounts over the root itself (e.g. --ro-bind / /), so that later ops land
 * on top, and counted, so that mounts_pivot() knows what lies below. */
int mounts_execute(const SandboxPlan *p, NewRoot *root, Error *e);

/* Makes ROOT the process root and detaches everything else: our own count
 * of what is stacked below it, no mountinfo. */
int mounts_pivot(const NewRoot *root);
