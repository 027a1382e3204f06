/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <sys/types.h>

/* Maps INSIDE_UID/GID to the caller's OUTSIDE ids for the calling process,
 * which has just entered a new user namespace. setgroups is denied first,
 * as the kernel requires of an unprivileged writer. */
/* PROC_FD: a procfs to find "self" in (AT_FDCWD: /proc), for when the
 * sandbox's own root no longer has one. */
int userns_write_own_maps_at(int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid);

/* --disable-userns: creates a user namespace nested in ours, maps UID and
 * GID to themselves in it, and joins it. */
int userns_enter_nested(int proc_fd, uid_t uid, gid_t gid);
