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

static void write_file(const char *path, const char *data) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t n = strlen(data);
        if (fd < 0 || write(fd, data, n) != (ssize_t) n) {
                fprintf(stderr, "floor: writing %s: %s\n", path, strerror(errno));
                _exit(1);
        }
        close(fd);
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
                if (flags & CLONE_NEWUSER) {
                        char line[64];
                        write_file("/proc/self/setgroups", "deny");
                        snprintf(line, sizeof(line), "%u %u 1\n", (unsigned) uid, (unsigned) uid);
                        write_file("/proc/self/uid_map", line);
                        snprintf(line, sizeof(line), "%u %u 1\n", (unsigned) gid, (unsigned) gid);
                        write_file("/proc/self/gid_map", line);
                }
                execv(command[0], command);
                fprintf(stderr, "floor: exec %s: %s\n", command[0], strerror(errno));
                _exit(1);
        }

        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        fprintf(stderr, "floor: waitpid: %s\n", strerror(errno));
                        return 1;
                }
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
}
