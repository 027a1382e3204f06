/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <sys/types.h>

/* Maps INSIDE_UID/GID to the caller's OUTSIDE ids for the calling process,
 * which has just entered a new user namespace. setgroups is denied first,
 * as the kernel requires of an unprivileged writer. */
int userns_write_own_maps(uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid);
