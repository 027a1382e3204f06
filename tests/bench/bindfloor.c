/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * bindfloor: the kernel's own cost of read-only binds, the floor for the
 * benchmark's per-bind figure (case d).
 *
 *   bindfloor [SRC...]
 *
 * As floor.c: clone(2) with all seven namespaces, the child writes its id
 * maps (child.h). Then, in its own mount namespace, a fresh tmpfs is attached over
 * /tmp (nothing outside the namespace sees it) with a directory "mnt", and
 * each SRC is bound read-only at mnt/I, I = 0, 1, ... with the least one
 * --ro-bind-try of a directory needs of the kernel:
 *
 *   open_tree(SRC, OPEN_TREE_CLONE | AT_RECURSIVE)    the detached copy
 *   mount_setattr(AT_RECURSIVE, rdonly nosuid nodev)  read-only, once
 *   mkdirat(mnt, I) + openat(mnt, I, O_PATH)         the mount point
 *   move_mount()                                     attach
 *   close() x 2
 *
 * then execs the host's /usr/bin/true, so the namespace with its mounts is
 * torn down as a sandbox's is. The parent waits and exits with the
 * command's status, or 1 when something failed here (which SRC, and why).
 *
 * No path checks, no parents made, no symlinks resolved inside a root:
 * (bindfloor SRC x N) - (bindfloor) over N is what the kernel takes per
 * bind; a launcher's per-bind figure above it is the launcher's own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

static void die(const char *what, const char *arg) {
        fprintf(stderr, "bindfloor: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
        _exit(1);
}

/* A fresh tmpfs over /tmp, in this process's own mount namespace; returns
 * an fd of its directory "mnt". */
static int make_root(void) {
        int fs = (int) syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0 || syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                die("tmpfs", NULL);
        int mnt = (int) syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0 || syscall(SYS_move_mount, mnt, "", AT_FDCWD, "/tmp", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                die("attaching a tmpfs on", "/tmp");
        if (mkdirat(mnt, "mnt", 0755) < 0)
                die("mkdir", "mnt");
        int dir = openat(mnt, "mnt", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                die("open", "mnt");
        close(mnt);
        close(fs);
        return dir;
}

static void bind_read_only(int dir, const char *src, unsigned i) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
        char name[16];
        snprintf(name, sizeof(name), "%u", i);
        int tree = (int) syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (tree < 0)
                die("open_tree", src);
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
                die("mount_setattr", src);
        if (mkdirat(dir, name, 0755) < 0)
                die("mkdir", name);
        int dst = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0)
                die("open", name);
        if (syscall(SYS_move_mount, tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                die("move_mount", src);
        close(dst);
        close(tree);
}

int main(int argc, char **argv) {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
                              CLONE_NEWCGROUP;

        pid_t pid = (pid_t) syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0)
                die("clone", NULL);
        if (pid == 0) {
                bench_write_id_maps("bindfloor", uid, gid);
                int dir = make_root();
                for (int i = 1; i < argc; i++)
                        bind_read_only(dir, argv[i], (unsigned) (i - 1));
                close(dir);
                execl("/usr/bin/true", "true", (char *) NULL);
                die("exec", "/usr/bin/true");
        }

        return bench_wait("bindfloor", pid);
}
