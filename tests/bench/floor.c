/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * floor: the least a sandbox launcher can do, used as the benchmark's floor.
 *
 *   floor [NS,NS,...] [-- COMMAND [ARGS...]]
 *
 * clone(2) with the namespaces named (default: all seven, i.e.
 * user,mnt,pid,ipc,uts,net,cgroup), the child writes its own id maps
 * (setgroups deny, uid and gid mapped to themselves) and execs COMMAND
 * (default /usr/bin/true, the host's, so no mount is needed). With a pid
 * namespace the command is pid 1 there. The parent waits and exits with the
 * command's status (128+N for signal N), or 1 when something failed here.
 *
 * No mounts, no fork of an init, no capability drop: anything a launcher
 * adds on top of this is its own cost.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

static const struct {
        const char *name;
        unsigned long flag;
} namespaces[] = {
        { "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS },  { "pid", CLONE_NEWPID },       { "ipc", CLONE_NEWIPC },
        { "uts", CLONE_NEWUTS },   { "net", CLONE_NEWNET }, { "cgroup", CLONE_NEWCGROUP },
};

#define N_NAMESPACES (sizeof(namespaces) / sizeof(namespaces[0]))

static int parse_namespaces(const char *list, unsigned long *ret) {
        unsigned long flags = 0;
        char *copy = strdup(list), *save = NULL;
        if (!copy)
                return -1;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                size_t i;
                if (strcmp(w, "all") == 0) {
                        for (i = 0; i < N_NAMESPACES; i++)
                                flags |= namespaces[i].flag;
                        continue;
                }
                for (i = 0; i < N_NAMESPACES; i++)
                        if (strcmp(w, namespaces[i].name) == 0)
                                break;
                if (i == N_NAMESPACES) {
                        fprintf(stderr, "floor: unknown namespace %s\n", w);
                        free(copy);
                        return -1;
                }
                flags |= namespaces[i].flag;
        }
        free(copy);
        *ret = flags;
        return 0;
}

int main(int argc, char **argv) {
        static char *default_command[] = { "/usr/bin/true", NULL };
        char **command = default_command;
        unsigned long flags = 0;

        if (parse_namespaces("all", &flags) < 0)
                return 1;
        int i = 1;
        if (i < argc && strcmp(argv[i], "--") != 0) {
                if (parse_namespaces(argv[i], &flags) < 0)
                        return 1;
                i++;
        }
        if (i < argc && strcmp(argv[i], "--") == 0 && i + 1 < argc)
                command = argv + i + 1;

        uid_t uid = geteuid();
        gid_t gid = getegid();

        pid_t pid = (pid_t) syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0) {
                fprintf(stderr, "floor: clone: %s\n", strerror(errno));
                return 1;
        }
        if (pid == 0) {
                if (flags & CLONE_NEWUSER)
                        bench_write_id_maps("floor", uid, gid);
                execv(command[0], command);
                fprintf(stderr, "floor: exec %s: %s\n", command[0], strerror(errno));
                _exit(1);
        }

        return bench_wait("floor", pid);
}
