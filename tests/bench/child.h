/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * What floor.c and bindfloor.c do alike: the child's own id maps (setgroups
 * deny, its uid and gid mapped to themselves) and the parent's wait. A
 * failure says PROG: what and why, and exits 1.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void bench_write_file(const char *prog, const char *path, const char *data) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t n = strlen(data);
        if (fd < 0 || write(fd, data, n) != (ssize_t) n) {
                fprintf(stderr, "%s: writing %s: %s\n", prog, path, strerror(errno));
                _exit(1);
        }
        close(fd);
}

static void bench_write_id_maps(const char *prog, uid_t uid, gid_t gid) {
        char line[64];
        bench_write_file(prog, "/proc/self/setgroups", "deny");
        snprintf(line, sizeof(line), "%u %u 1\n", (unsigned) uid, (unsigned) uid);
        bench_write_file(prog, "/proc/self/uid_map", line);
        snprintf(line, sizeof(line), "%u %u 1\n", (unsigned) gid, (unsigned) gid);
        bench_write_file(prog, "/proc/self/gid_map", line);
}

/* The child's exit status, 128+N for signal N. */
static int bench_wait(const char *prog, pid_t pid) {
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        fprintf(stderr, "%s: waitpid: %s\n", prog, strerror(errno));
                        return 1;
                }
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
}
