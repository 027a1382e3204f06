/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "network.h"
#include "setuid.h"
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
        /* No "user": as in bwrap, whose child may still move into a nested
         * user namespace (--dev, --uid, --disable-userns) after this is
         * written, so any id given here could be stale. */
        { "uts", CLONE_NEWUTS },
};

int status_write_info(int fd, const SandboxPlan *p, pid_t child, unsigned long clone_flags, bool json_lines) {
        /* --info-fd: one indented object; --json-status-fd: JSON lines,
         * the whole object on one line (bwrap's two formats). */
        const char *sep = json_lines ? ", " : ",\n    ";
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fprintf(f, "{%s\"child-pid\": %d", json_lines ? " " : "\n    ", (int) child);
        for (size_t i = 0; i < ELEMENTSOF(namespaces); i++) {
                char path[64];
                struct stat st;
                if (!(clone_flags & namespaces[i].flag))
                        continue;
                uint64_t ino;
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int) child, namespaces[i].name);
                if (stat(path, &st) == 0)
                        ino = st.st_ino;
                else if (setuid_namespace_id(namespaces[i].name, &ino) < 0)
                        continue;
                fprintf(f, "%s\"%s-namespace\": %llu", sep, namespaces[i].name, (unsigned long long) ino);
        }
        /* csand's own members, after bwrap's. */
        network_write_status_json(p, f, json_lines);
        landlock_write_status_json(&p->landlock, landlock_runs_in_place(p), f, json_lines);
        fputs(json_lines ? " }\n" : "\n}\n", f);
        if (fclose(f) != 0)
                return -ENOMEM;
        return write_all(fd, buf, size);
}

int status_write_exit(int fd, int exit_code) {
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "{ \"exit-code\": %d }\n", exit_code);
        return write_all(fd, buf, (size_t) n);
}

/* resources: MEMORY_LIMIT is a checked size ("50M", "infinity"), no escaping needed */
int status_write_oom_kill(int fd, const char *memory_limit) {
        char buf[128];
        int n = snprintf(buf, sizeof(buf), "{ \"oom-killed\": true%s%s%s }\n", memory_limit ? ", \"memory-limit\": \"" : "",
                         memory_limit ? memory_limit : "", memory_limit ? "\"" : "");
        if (n < 0 || (size_t) n >= sizeof(buf))
                return -ENOBUFS;
        return write_all(fd, buf, (size_t) n);
}
