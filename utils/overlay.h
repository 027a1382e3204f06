/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* Layered filesystems: bwrap 0.11's --overlay-src, --overlay, --tmp-overlay
 * and --ro-overlay, mounted with kernel overlayfs (always "userxattr") or
 * with fuse-overlayfs (--overlay-driver).
 *
 * Three places take part:
 *   parsing    the --overlay-src rules and the MOUNT_OP_OVERLAY ops (the
 *              pending list itself is the option parser's state)
 *   the child  overlay_mount(): opens the layers (host paths, as every
 *              source), mounts kernel overlayfs from fds, or mounts a fuse
 *              filesystem itself (fsopen("fuse") on a /dev/fuse fd) and has
 *              fuse-overlayfs serve it
 *   the supervisor  a small process forked by csand before clone, outside
 *              every namespace of the sandbox. It starts each
 *              fuse-overlayfs (joined to the sandbox's user namespace only,
 *              without capabilities) and reaps it. Being outside the
 *              sandbox's pid namespace, neither it nor the daemons can be
 *              signalled or ptraced from inside.
 * A daemon lives exactly as long as its mount: it ends when the sandbox's
 * mount namespace goes away (last process of the sandbox gone), whether
 * csand exited normally or was killed. */

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "log.h"
#include "plan.h"

typedef enum OverlayKind {
        OVERLAY_KIND_RW,  /* --overlay RWSRC WORKDIR DEST */
        OVERLAY_KIND_TMP, /* --tmp-overlay DEST */
        OVERLAY_KIND_RO,  /* --ro-overlay DEST */
} OverlayKind;

/* ---- parsing ---- */

int overlay_driver_from_string(const char *s, OverlayDriver *ret);
const char *overlay_driver_to_string(OverlayDriver d);

/* The --overlay-src list the next overlay takes, lowest layer first. */
typedef struct OverlaySources {
        char **v;
        size_t n;
} OverlaySources;

/* --overlay-src: appends SRC. 0 or -ENOMEM. */
int overlay_sources_add(OverlaySources *s, const char *src);
void overlay_sources_done(OverlaySources *s);
/* bwrap's rule: a list must be taken by an overlay before any other
 * option (NEXT, the option that came instead; NULL at the end of the
 * options). Fails with bwrap's message when SRCS is not empty. */
int overlay_sources_check_taken(const OverlaySources *s, const char *next, Error *e);
/* --overlay/--tmp-overlay/--ro-overlay: a MOUNT_OP_OVERLAY op that takes
 * the list SRCS (bwrap's rules: at least one source, two for --ro-overlay). */
int overlay_plan_add_mount(SandboxPlan *p, OverlaySources *srcs, OverlayKind kind, const char *rwsrc,
                           const char *workdir, const char *dest, Error *e);
OverlayKind overlay_op_kind(const MountOp *op);

/* ---- the parent: the fuse-overlayfs supervisor ---- */

typedef struct OverlaySupervisor {
        pid_t pid; /* 0 when none was started */
        int pidfd;
        int child_end; /* the child's end of the channel (-EBADF: none) */
        /* Lazy start: a thread that forks the supervisor on the child's
         * first request, on this end of the channel. */
        int waiting_end;
        pthread_t waiter;
        bool have_waiter;
} OverlaySupervisor;
#define OVERLAY_SUPERVISOR_INIT \
        { .pid = 0, .pidfd = -EBADF, .child_end = -EBADF, .waiting_end = -EBADF }

/* Before clone (and before joining --userns/--pidns): when the plan has
 * overlays that may use fuse-overlayfs, makes the channel, ret->child_end
 * being the child's end (for overlay_mount()), and starts the supervisor:
 * at once, or with LAZY only once the child asks for a daemon (the usual
 * kernel overlayfs mount never does), from a thread of ours that waits for
 * that request; so LAZY only when we won't join a user namespace, which
 * the kernel refuses to a process with threads. 0 and nothing made when
 * fuse-overlayfs can't be used. */
int overlay_supervisor_start(const SandboxPlan *p, bool lazy, OverlaySupervisor *ret);
/* Whether overlay_supervisor_start() starts one for P. */
bool overlay_supervisor_wanted(const SandboxPlan *p);
/* In the parent after clone: drops the parent's copy of the child's end, so
 * that the supervisor sees end-of-file once the child has exec'd or died. */
void overlay_supervisor_forget_child_end(OverlaySupervisor *s);
/* After the sandbox ended (or failed to start; the child's end is closed
 * here if still open): waits (bounded) for the daemons to go, which
 * they do as soon as their mounts are gone. A daemon that still serves
 * processes of the sandbox (possible without --unshare-pid) is left to
 * them, with the supervisor reaping it. */
void overlay_supervisor_done(OverlaySupervisor *s);

/* ---- the child ---- */

/* Mounts the overlay of OP and returns it as a detached mount in
 * *ret_mnt_fd, for the caller to attach at op->dest. BASE_FD is the
 * scaffold's top (never visible to the sandbox: above its root's mount). */
int overlay_mount(const SandboxPlan *p, const MountOp *op, int fuse_fd, int base_fd, int *ret_mnt_fd, Error *e);
