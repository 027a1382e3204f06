/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* The mount list: the steps that build the new root, as the options give
 * them. Data only, for the modules that read the list (mounts, overlay,
 * Landlock's rules derived from the plan) without the rest of the plan. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* One step in building the new root, executed in command-line order. */
typedef enum MountOpType {
        MOUNT_OP_BIND, /* --bind, --ro-bind, --dev-bind and their -try forms */
        MOUNT_OP_REMOUNT_RO,
        MOUNT_OP_PROC,
        MOUNT_OP_DEV,
        MOUNT_OP_TMPFS,
        MOUNT_OP_MQUEUE,
        MOUNT_OP_DIR,
        MOUNT_OP_SYMLINK,
        MOUNT_OP_CHMOD,
        MOUNT_OP_FILE,      /* --file FD DEST: copy the fd's data into a new file */
        MOUNT_OP_BIND_DATA, /* --bind-data/--ro-bind-data: a file with the data, bound */
        MOUNT_OP_BIND_FD,   /* --bind-fd/--ro-bind-fd */
        MOUNT_OP_LOCK_FILE, /* --lock-file: held by pid 1 while the sandbox runs */
        MOUNT_OP_OVERLAY,   /* --overlay (source: RWSRC), --tmp-overlay, --ro-overlay (readonly); utils/overlay.c */
} MountOpType;

#define MODE_UNSET ((mode_t) -1)

typedef struct MountOp {
        MountOpType type;
        char *source;  /* bind source, symlink target */
        char *dest;    /* inside the new root */
        int fd;        /* data or bind fd, -EBADF when unused */
        mode_t perms;  /* --perms/--chmod, MODE_UNSET when not given */
        uint64_t size; /* --size for tmpfs, 0 when not given */
        bool readonly;
        bool allow_devices;
        bool try_only; /* -try: a missing source is skipped */
        bool borrowed; /* source and dest point into argv or --args data, as the command does */
        /* MOUNT_OP_OVERLAY: the lower layers, lowest first, and --overlay's WORKDIR */
        char **overlay_layers;
        size_t n_overlay_layers;
        char *overlay_workdir;
} MountOp;
