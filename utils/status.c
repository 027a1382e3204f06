/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "status.h"

static const struct {
        const char *name;
        unsigned long flag;
} namespaces[] = {
        { "cgroup", CLONE_NEWCGROUP },
        { "ipc", CLONE_NEWIPC },
        { "mnt", CLONE_NEWNS },
        { "net", CLONE_NEWNET },
        { "pid", CLONE_NEWPID },
        { "user", CLONE_NEWUSER },
        { "uts", CLONE_NEWUTS },
};

int status_write_info(int fd, pid_t child, unsigned long clone_flags) {
        char buf[1024];
        int n = snprintf(buf, sizeof(buf), "{\n    \"child-pid\": %d", (int) child);

        for (size_t i = 0; i < ELEMENTSOF(namespaces); i++) {
                char path[64];
                struct stat st;
                if (!(clone_flags & namespaces[i].flag))
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int) child, namespaces[i].name);
                if (stat(path, &st) < 0)
                        continue;
                n += snprintf(buf + n, sizeof(buf) - (size_t) n, ",\n    \"%s-namespace\": %llu",
                              namespaces[i].name, (unsigned long long) st.st_ino);
        }
        n += snprintf(buf + n, sizeof(buf) - (size_t) n, "\n}\n");
        return write_all(fd, buf, (size_t) n);
}

int status_write_exit(int fd, int exit_code) {
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "{ \"exit-code\": %d }\n", exit_code);
        return write_all(fd, buf, (size_t) n);
}
