/* SPDX-License-Identifier: LGPL-2.0-or-later */
#define _GNU_SOURCE
/* chroot-run CSAND COMMAND [ARG...]: runs COMMAND as the real user in a
 * chroot, with the setuid csand CSAND at /csand in it: a caller jailed in
 * a chroot, which setuid csand must not let see anything outside it.
 *
 * Installed setuid root for the test user only (tests/run-tests.sh:
 * root:USER, mode 4750). It makes a mount namespace of its own (nothing
 * is mounted on the host), mounts a tmpfs on /tmp there as the jail (a
 * mount of its own, as chroots on their own file system or bind mount
 * are), with /usr, /etc and /dev bound, a procfs, the usual symbolic
 * links and CSAND bound at /csand, chroots into it, drops to the real uid
 * and gid for good and execs COMMAND. The jail holds no /var, /home or
 * /root: a listing that shows one comes from outside. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define JAIL "/tmp"

static void die(const char *what) {
        fprintf(stderr, "chroot-run: %s: %s\n", what, strerror(errno));
        exit(1);
}

static void bind(const char *source, const char *target, unsigned long extra) {
        if (mount(source, target, NULL, MS_BIND | MS_REC | extra, NULL) < 0)
                die(target);
}

int main(int argc, char **argv) {
        uid_t uid = getuid();
        gid_t gid = getgid();

        if (argc < 3) {
                fprintf(stderr, "usage: %s CSAND COMMAND [ARG...]\n", argv[0]);
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "chroot-run: must be setuid root (or run by root)\n");
                return 1;
        }
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                die("mount namespace");
        /* CSAND is opened as the caller would (the real user's path), and
         * in this mount namespace, before the jail's tmpfs hides it. */
        char csand[64];
        int csand_fd = -1;
        if (setresuid(uid, 0, 0) < 0 || access(argv[1], X_OK) < 0 ||
            (csand_fd = open(argv[1], O_PATH | O_CLOEXEC)) < 0 || setresuid(0, 0, 0) < 0)
                die(argv[1]);
        snprintf(csand, sizeof(csand), "/proc/self/fd/%d", csand_fd);
        if (mount("jail", JAIL, "tmpfs", MS_NODEV, "mode=0755") < 0)
                die("tmpfs");
        const char *dirs[] = { JAIL "/usr", JAIL "/etc", JAIL "/dev", JAIL "/proc" };
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
                if (mkdir(dirs[i], 0755) < 0)
                        die(dirs[i]);
        if (symlink("usr/bin", JAIL "/bin") < 0 || symlink("usr/lib", JAIL "/lib") < 0 ||
            symlink("usr/lib64", JAIL "/lib64") < 0 || symlink("usr/sbin", JAIL "/sbin") < 0)
                die("symlink");
        bind("/usr", JAIL "/usr", 0);
        bind("/etc", JAIL "/etc", 0);
        bind("/dev", JAIL "/dev", 0);
        if (mount("proc", JAIL "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                die("proc");
        int fd = open(JAIL "/csand", O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
        if (fd < 0)
                die("csand");
        close(fd);
        bind(csand, JAIL "/csand", 0);
        close(csand_fd);
        if (chdir(JAIL) < 0 || chroot(".") < 0 || chdir("/") < 0)
                die("chroot");
        if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                die("dropping root");
        execvp(argv[2], argv + 2);
        die(argv[2]);
}
