/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fd-util.h"
#include "macro.h"
#include "userns.h"

const char *userns_map_step_words(UsernsMapStep step) {
        static const char *const words[] = {
                [USERNS_MAP_UID] = "setting up uid map",
                [USERNS_MAP_SETGROUPS] = "error writing to setgroups",
                [USERNS_MAP_GID] = "setting up gid map",
        };
        return words[step];
}

int userns_write_own_maps_at(int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid) {
        return userns_write_own_maps_step(proc_fd, inside_uid, outside_uid, inside_gid, outside_gid, NULL);
}

/* In bwrap's order (uid map, setgroups, gid map), so that a failure is the
 * step bwrap names; *RET_STEP says which failed. */
int userns_write_own_maps_step(int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid,
                               UsernsMapStep *ret_step) {
        char line[64];
        UsernsMapStep dummy;
        UsernsMapStep *step = ret_step ?: &dummy;
        int r;

        *step = USERNS_MAP_UID;
        snprintf(line, sizeof(line), "%u %u 1\n", inside_uid, outside_uid);
        r = write_string_at(proc_fd, proc_fd == AT_FDCWD ? "/proc/self/uid_map" : "self/uid_map", line);
        if (r < 0)
                return r;
        *step = USERNS_MAP_SETGROUPS;
        r = write_string_at(proc_fd, proc_fd == AT_FDCWD ? "/proc/self/setgroups" : "self/setgroups", "deny");
        /* Kernels before 3.19 have no setgroups file; nothing to deny there. */
        if (r < 0 && r != -ENOENT)
                return r;
        *step = USERNS_MAP_GID;
        snprintf(line, sizeof(line), "%u %u 1\n", inside_gid, outside_gid);
        return write_string_at(proc_fd, proc_fd == AT_FDCWD ? "/proc/self/gid_map" : "self/gid_map", line);
}
