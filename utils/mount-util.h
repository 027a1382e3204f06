/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* The low-level mount layer: the new mount API's calls as csand uses
 * them, with the fallbacks for kernels that lack a part of it. Below
 * every module that mounts (mounts, network, egress); it knows nothing
 * of the plan. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* fsopen(2) of FSTYPE, close-on-exec: an fs context fd or -errno. */
int mount_fs_open(const char *fstype);

/* fsconfig(2): KEY set to the string VALUE, or, with VALUE NULL, the flag KEY. */
int mount_fs_set(int fs_fd, const char *key, const char *value);

/* fsconfig(2): KEY set to the open file FD (FSCONFIG_SET_FD). */
int mount_fs_set_fd(int fs_fd, const char *key, int fd);

/* The kernel's own words for a failed fsconfig(2) on FS_FD: the error
 * lines ("e overlayfs: ...") queued on the context, appended to BUF. */
void mount_fs_messages(int fs_fd, char *buf, size_t size);

/* Creates the filesystem configured on FS_FD and mounts it detached with
 * MOUNT_ATTR_* ATTRS into *RET_MNT. When the kernel refuses, its own words
 * (the "e ..." lines queued on the context) are appended to WHY if given. */
int mount_fs_create(int fs_fd, uint64_t attrs, int *ret_mnt, char *why, size_t why_size);

/* A detached mount of a new FSTYPE instance, its source named FSTYPE (as
 * mountinfo shows bwrap's mount(2) calls); OPTIONS is NULL or
 * NULL-terminated key, value pairs. */
int mount_new(const char *fstype, const char *const *options, uint64_t attrs, int *ret_fd);

/* open_tree(2), close-on-exec. */
int mount_open_tree(int dfd, const char *path, unsigned flags);

/* A private tmpfs (top directory 0700) that no path in the sandbox leads
 * to, with ATTRS, into *RET_FD. With BASE_FD >= 0 (a directory of the
 * scaffold) it is attached under a new directory NAME-N there: an attached
 * mount goes with the scaffold at the pivot, in the pivot's one unmount,
 * where a detached one is freed by its own (an RCU grace period each). With
 * BASE_FD < 0 it stays detached. */
int mount_scratch_tmpfs(int base_fd, const char *name, uint64_t attrs, int *ret_fd);

/* mount_setattr(2) setting MOUNT_ATTR_* ATTRS on the mount FD is on (with
 * AT_RECURSIVE in FLAGS, on its submounts too). -ENOSYS on a kernel without
 * it (before 5.12), answered without asking again once it said so. */
int mount_setattr_fd(int fd, unsigned flags, uint64_t attrs);

/* Whether a tree of mounts can be built whole while detached, to be
 * attached at once: Linux 6.15 moves detached mounts onto detached mounts
 * and clones detached mounts from them, and their attributes are set with
 * mount_setattr() (5.12; mount(2) refuses detached mounts). */
bool mount_detached_trees_supported(void);

/* move_mount(2) of the detached or attached mount FROM_FD onto TO_FD. */
int mount_move(int from_fd, int to_fd);
/* The same onto PATH, relative to the directory DIR_FD (or AT_FDCWD). */
int mount_move_to_path(int from_fd, int dir_fd, const char *path);

/* The MS_* flags of MOUNT_ATTR_* ATTRS, for mount(2). */
unsigned long mount_ms_flags_of_attrs(uint64_t attrs);

/* A bind remount of FD's mount (attached in our namespace) adding the
 * MS_* FLAGS to those it has: mount(2) replaces them all, and the kernel
 * refuses to clear those a more privileged namespace locked. */
int mount_remount_bind(int fd, unsigned long flags);

/* Attaches the detached mount MNT_FD (no submounts) on DST_FD with ATTRS
 * set: before attaching with mount_setattr(), or after with a remount on a
 * kernel without it. */
int mount_attach_with_attrs(int mnt_fd, int dst_fd, uint64_t attrs);

/* A file NAME holding DATA, as a detached mount: a file on a private tmpfs
 * that no path leads to, cloned with open_tree(). BASE_FD as for
 * mount_scratch_tmpfs(): the kernel clones from a detached tmpfs only from
 * Linux 6.15, so before that the scratch tmpfs must be attached (under the
 * scaffold of a new root built attached). */
int mount_data_file(int base_fd, const char *name, const char *data, int *ret_fd);

/* /proc/PID/mountinfo, the one parser of it: each mount's ID, its
 * parent's and its mount point, unescaped (the kernel writes " \t\n\\"
 * in paths as \ooo). */
typedef struct MountInfo {
        uint64_t id, parent;
        const char *mount_point; /* into MountTable.data */
} MountInfo;

typedef struct MountTable {
        char *data;
        MountInfo *mounts;
        size_t n;
} MountTable;

/* Reads the mountinfo file open at FD whole, into *RET. */
int mount_table_read_fd(int fd, MountTable *ret);
void mount_table_done(MountTable *t);
