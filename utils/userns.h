/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Maps INSIDE_UID/GID to the caller's OUTSIDE ids for the calling process,
 * which has just entered a new user namespace, and denies setgroups, as
 * the kernel requires of an unprivileged writer. The map files are opened
 * through a confined stand-in (see userns.c): the caller stays not
 * dumpable, so that the user outside can't ptrace the setup. */
/* PROC_FD: a procfs to find "self" in (AT_FDCWD: /proc), for when the
 * sandbox's own root no longer has one. */
int userns_write_own_maps_at(int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid);

typedef enum UsernsMapStep {
        USERNS_MAP_UID,
        USERNS_MAP_SETGROUPS,
        USERNS_MAP_GID,
} UsernsMapStep;

/* The same, written in bwrap's order (uid map, setgroups, gid map);
 * *RET_STEP says which step failed; 1 when we had to be dumpable to open
 * the maps (no stand-in: see userns.c), else 0. The stand-in is killed,
 * not waited for: userns_reap_standins() reaps it, and must be called
 * while we still have our capabilities here (before
 * userns_enter_nested()); userns_standins_done() before the command
 * starts. */
int userns_write_own_maps_step(int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid,
                               UsernsMapStep *ret_step);
/* bwrap's words for a failed STEP. */
const char *userns_map_step_words(UsernsMapStep step);

/* bwrap's second user namespace (--dev, --disable-userns): creates a user
 * namespace nested in ours, maps INSIDE_UID/GID in it to OUTSIDE_UID/GID
 * of ours, and joins it. */
int userns_enter_nested(int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid);

/* Reaps the stand-ins used so far and, as pid 1, sets ns_last_pid back. */
void userns_reap_standins(void);
/* The same, and closes what was kept for it. */
void userns_standins_done(void);
