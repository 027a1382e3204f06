/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fd-util.h"
#include "macro.h"
#include "userns.h"

int userns_write_own_maps_at(int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid) {
        char line[64];
        int r;

        r = write_string_at(proc_fd, proc_fd == AT_FDCWD ? "/proc/self/setgroups" : "self/setgroups", "deny");
        /* Kernels before 3.19 have no setgroups file; nothing to deny there. */
        if (r < 0 && r != -ENOENT)
                return r;
        snprintf(line, sizeof(line), "%u %u 1\n", inside_uid, outside_uid);
        r = write_string_at(proc_fd, proc_fd == AT_FDCWD ? "/proc/self/uid_map" : "self/uid_map", line);
        if (r < 0)
                return r;
        snprintf(line, sizeof(line), "%u %u 1\n", inside_gid, outside_gid);
        return write_string_at(proc_fd, proc_fd == AT_FDCWD ? "/proc/self/gid_map" : "self/gid_map", line);
}
