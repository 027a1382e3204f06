/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "network.h"
#include "report.h"
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

/* NS_FDS's entry for the namespace NAME. */
static int ns_fd(const int *ns_fds, const char *name) {
        for (size_t i = 0; i < _REPORT_NS_MAX; i++)
                if (strcmp(report_namespace_names[i], name) == 0)
                        return ns_fds[i];
        return -EBADF;
}

int status_write_info(int fd, const SandboxPlan *p, pid_t child, unsigned long clone_flags, const int *ns_fds, bool json_lines) {
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
                struct stat st;
                if (!(clone_flags & namespaces[i].flag))
                        continue;
                int nsfd = ns_fd(ns_fds, namespaces[i].name);
                if (nsfd < 0 || fstat(nsfd, &st) < 0)
                        continue;
                fprintf(f, "%s\"%s-namespace\": %llu", sep, namespaces[i].name, (unsigned long long) st.st_ino);
        }
        /* csand's own members, after bwrap's. */
        network_write_status_json(&p->network, p->unshare_net, f, json_lines);
        landlock_write_status_json(&p->landlock, plan_runs_in_place(p), f, json_lines);
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
