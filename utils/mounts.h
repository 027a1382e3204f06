/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <stdlib.h>

#include "plan.h"
#include "state-dirs.h"

/* Every root is built with the new mount API; on a kernel without it (or
 * under a seccomp policy that hides it), a clear error before anything is
 * created. mount_setattr() alone may be missing (Linux 5.6 to 5.11). */
int mounts_check_kernel(Error *e);

/* Stops mount events from propagating back to the host: rslave on "/".
 * Needed only when the mount namespace was not made with a user namespace
 * of its own (the kernel makes that one's copies slaves itself). */
int mounts_isolate(void);

typedef struct MountPointId {
        uint64_t mnt_id, ino;
        dev_t dev;
} MountPointId;

/* The new root while it is built. */
typedef struct NewRoot {
        int fd;             /* the topmost mount at the new root: where destinations resolve */
        bool bare;          /* nothing mounted at the new root yet (fd: the scaffold's newroot/,
                             * or -EBADF where the root is built detached) */
        bool detached;      /* built as a detached tree, attached by mounts_pivot() alone (see
                             * mounts_new_root()); implies mount_setattr() */
        int tree_fd;        /* detached: the tree's first mount, under all at its root */
        MountPointId id;    /* fd's */
        int scaffold_fd;    /* csand's own tmpfs: newroot/ and scratch space (mount_data_file()'s
                             * too); where the root is not built detached, the namespace's root
                             * until mounts_pivot(), the caller's tree under its oldroot/; else
                             * made when first needed, or -EBADF */
        int caller_root_fd; /* not detached: the caller's tree, the process root while the root is built */
        int caller_cwd_fd;  /* not detached: the caller's working directory, for relative sources */
        StateWatch state;   /* csand's own state directories, hidden from the sandbox */
        bool state_watched;
        int parent_fd;     /* the last bind's parent directory, for the next bind under it */
        char *parent_path; /* (the path it was opened by; see make_parents()) */
} NewRoot;

#define NEW_ROOT_NULL                          \
        ((NewRoot) { .fd = -EBADF,             \
                     .tree_fd = -EBADF,        \
                     .scaffold_fd = -EBADF,    \
                     .caller_root_fd = -EBADF, \
                     .caller_cwd_fd = -EBADF,  \
                     .parent_fd = -EBADF })

/* Attaches the detached mount MNT_FD on DST_FD with MOUNT_ATTR_* ATTRS set
 * on it (with AT_RECURSIVE in FLAGS, on its submounts too): on the detached
 * tree before attaching, with mount_setattr(); before Linux 5.12, with
 * mount(2) remounts after attaching (nobody runs in the sandbox yet). With
 * ROOT, a mount over the new root becomes ROOT's fd (see attach()). */
int mounts_attach_with_attrs(NewRoot *root, int mnt_fd, int dst_fd, unsigned flags, uint64_t attrs);

static inline void new_root_done(NewRoot *r) {
        r->fd = safe_close(r->fd);
        r->tree_fd = safe_close(r->tree_fd);
        r->scaffold_fd = safe_close(r->scaffold_fd);
        r->caller_root_fd = safe_close(r->caller_root_fd);
        r->caller_cwd_fd = safe_close(r->caller_cwd_fd);
        r->parent_fd = safe_close(r->parent_fd);
        free(r->parent_path);
        r->parent_path = NULL;
        state_watch_done(&r->state);
}

/* Two views that never mix while the new root is built: bind sources
 * resolve exactly as the caller sees them, destinations through ROOT's fd,
 * inside the new root. Where the kernel mounts onto detached mounts (Linux
 * 6.15), the new root is built as a detached tree, and the caller's tree
 * stays the namespace's root and the process root until mounts_pivot()
 * attaches the new root and pivots into it: one pivot_root() in all (but
 * for P's --remount-ro, which needs the new root attached).
 * Before, a scaffold tmpfs becomes the namespace's root, with the caller's
 * tree under oldroot/ and the new root's directory newroot/ (bound onto
 * itself before the first op, as bwrap's, unless that op binds onto "/"),
 * and the process root is the caller's tree again while the root is built. */
int mounts_new_root(const SandboxPlan *p, NewRoot *ret);

/* Executes the plan's mount ops in order. root->fd is replaced when an op
 * mounts over the root itself (e.g. --ro-bind / /), so that later ops land
 * on top. FUSE_FD: the channel to the fuse-overlayfs supervisor for the
 * overlays, -EBADF when there is none (utils/overlay.h). */
int mounts_execute(const SandboxPlan *p, NewRoot *root, int fuse_fd, Error *e);

/* Makes ROOT's topmost mount the process root and detaches everything
 * else: the caller's tree, the scaffold, what the top is stacked on. */
int mounts_pivot(const NewRoot *root);
