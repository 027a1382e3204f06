/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * enosys: runs a command on a pretend older kernel, where the named
 * syscalls answer ENOSYS (a seccomp filter, as container runtimes install
 * for syscalls they don't know):
 *
 *     $ enosys mount_setattr,open_tree -- csand --ro-bind / / true
 *
 * Names: the new mount API's calls and Landlock's. Two more words pretend
 * an older Landlock:
 *
 *     landlock-abi=N   landlock_create_ruleset()'s version query answers N,
 *                      and the calls an ABI N kernel would refuse are
 *                      refused as it would (EINVAL for access rights and
 *                      rule types it lacks, E2BIG for a ruleset struct
 *                      with members it lacks set); the rest go to the
 *                      real kernel. A seccomp user notification: this
 *                      process answers them, the command runs as its child.
 *     landlock-off     Landlock disabled at boot: landlock_create_ruleset()
 *                      answers EOPNOTSUPP.
 *
 *     $ enosys landlock-abi=3 -- csand --landlock-tcp-connect 80 ...
 *
 * And one word pretends a container runtime's default seccomp profile
 * (Docker's), in which unprivileged user namespaces can't be made:
 *
 *     userns-eperm     clone() and unshare() with CLONE_NEWUSER answer
 *                      EPERM, clone3() ENOSYS (its flags are in memory a
 *                      filter can't read, so the profile refuses it all).
 *
 * Exits 2 for a usage error, else with the command's status.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

static const struct {
        const char *name;
        int nr;
} known[] = {
        { "fsopen", SYS_fsopen },
        { "fsconfig", SYS_fsconfig },
        { "fsmount", SYS_fsmount },
        { "open_tree", SYS_open_tree },
        { "move_mount", SYS_move_mount },
        { "mount_setattr", SYS_mount_setattr },
        { "landlock_create_ruleset", __NR_landlock_create_ruleset },
        { "landlock_add_rule", __NR_landlock_add_rule },
        { "landlock_restrict_self", __NR_landlock_restrict_self },
};

static int lookup(const char *name) {
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (strcmp(known[i].name, name) == 0)
                        return known[i].nr;
        return -1;
}

/* ---- the pretend Landlock ABI ---- */

/* The filesystem rights of ABI N: 13 bits in ABI 1, REFER (2), TRUNCATE
 * (3), IOCTL_DEV (5). */
static uint64_t fs_rights(int abi) {
        int bits = abi >= 5 ? 16 : abi >= 3 ? 15 : abi >= 2 ? 14 : 13;
        return (UINT64_C(1) << bits) - 1;
}

/* The size of struct landlock_ruleset_attr in ABI N. */
static size_t ruleset_attr_size(int abi) {
        return abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
}

static int read_target(pid_t pid, uint64_t addr, void *buf, size_t len) {
        struct iovec local = { .iov_base = buf, .iov_len = len };
        struct iovec remote = { .iov_base = (void *) (uintptr_t) addr, .iov_len = len };
        return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t) len ? 0 : -EFAULT;
}

/* 0: let the real kernel do it; > 0: answer this value; < 0: this error. */
static long pretend(int abi, const struct seccomp_notif *req) {
        const __u64 *a = req->data.args;
        if (req->data.nr == __NR_landlock_create_ruleset) {
                if (a[0] == 0 && a[1] == 0 && a[2] == 1 /* LANDLOCK_CREATE_RULESET_VERSION */)
                        return abi;
                if (a[2] != 0)
                        return -EINVAL;
                uint64_t attr[3] = {};
                size_t size = a[1] < sizeof(attr) ? a[1] : sizeof(attr);
                if (size < 8 || read_target(req->pid, a[0], attr, size) < 0)
                        return -EFAULT;
                /* Members this ABI lacks must be zero, as copy_struct_from_user() wants. */
                for (size_t i = ruleset_attr_size(abi) / 8; i < size / 8; i++)
                        if (attr[i] != 0)
                                return -E2BIG;
                if (attr[0] & ~fs_rights(abi))
                        return -EINVAL;
                if (abi >= 4 && size >= 16 && (attr[1] & ~UINT64_C(3)))
                        return -EINVAL;
                if (abi >= 6 && size >= 24 && (attr[2] & ~UINT64_C(3)))
                        return -EINVAL;
                return 0;
        }
        if (req->data.nr == __NR_landlock_add_rule) {
                /* LANDLOCK_RULE_NET_PORT came with ABI 4. */
                if (a[1] == 2 && abi < 4)
                        return -EINVAL;
                return 0;
        }
        return 0;
}

/* Answers the notifications until the last filtered process is gone. */
static void supervise(int listener, int abi) {
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        for (;;) {
                memset(&req, 0, sizeof(req));
                if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* ENOENT or similar: nobody is left */
                }
                long v = pretend(abi, &req);
                memset(&resp, 0, sizeof(resp));
                resp.id = req.id;
                if (v == 0)
                        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
                else if (v > 0)
                        resp.val = v;
                else
                        resp.error = (int) v;
                (void) ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        }
}

static int send_fd(int sock, int fd) {
        char c = 0;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u = {};
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
        char c;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u = {};
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        if (recvmsg(sock, &msg, 0) != 1)
                return -1;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        if (!cm || cm->cmsg_type != SCM_RIGHTS)
                return -1;
        int fd;
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        return fd;
}

static int write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t) strlen(text) ? 0 : -1;
}

/* A new user namespace in which our uid and gid are themselves. */
static int enter_own_userns(void) {
        char line[64];
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (syscall(SYS_unshare, CLONE_NEWUSER) < 0 || write_file("/proc/self/setgroups", "deny") < 0)
                return -1;
        snprintf(line, sizeof(line), "%u %u 1\n", (unsigned) uid, (unsigned) uid);
        if (write_file("/proc/self/uid_map", line) < 0)
                return -1;
        snprintf(line, sizeof(line), "%u %u 1\n", (unsigned) gid, (unsigned) gid);
        return write_file("/proc/self/gid_map", line);
}

int main(int argc, char **argv) {
        struct sock_filter insns[4 + 2 * 16 + 8] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)) };
        unsigned short n = 1;
        int abi = 0; /* > 0: pretend this Landlock ABI */
        bool off = false;
        bool userns_eperm = false;

        if (argc < 4 || strcmp(argv[2], "--") != 0) {
                fprintf(stderr, "usage: enosys NAME[,NAME...] -- COMMAND [ARGS...]\n");
                return 2;
        }
        for (char *save = NULL, *name = strtok_r(argv[1], ",", &save); name; name = strtok_r(NULL, ",", &save)) {
                if (strncmp(name, "landlock-abi=", 13) == 0) {
                        abi = atoi(name + 13);
                        if (abi < 1) {
                                fprintf(stderr, "enosys: bad ABI: %s\n", name);
                                return 2;
                        }
                        continue;
                }
                if (strcmp(name, "userns-eperm") == 0) {
                        userns_eperm = true;
                        continue;
                }
                if (strcmp(name, "landlock-off") == 0) {
                        off = true;
                        continue;
                }
                int nr = lookup(name);
                if (nr < 0 || (size_t) n + 2 + 14 > sizeof(insns) / sizeof(insns[0])) {
                        fprintf(stderr, "enosys: unknown or too many syscalls: %s\n", name);
                        return 2;
                }
                insns[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned) nr, 0, 1);
                insns[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
        }
        if (off) {
                insns[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_landlock_create_ruleset, 0, 1);
                insns[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP);
        }
        if (abi > 0) {
                insns[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_landlock_create_ruleset, 1, 0);
                insns[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_landlock_add_rule, 0, 1);
                insns[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
        }
        if (userns_eperm) {
                /* Last: the accumulator still holds the syscall number here. */
                insns[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
                insns[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
                insns[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 1, 0);
                insns[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 0, 3);
                /* The flags: the first argument's low word (x86-64, arm64: little-endian). */
                insns[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
                insns[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1);
                insns[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
        }
        insns[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = { .len = n, .filter = insns };

        if (abi == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                        perror("enosys: seccomp");
                        return 1;
                }
                execvp(argv[3], argv + 3);
                perror("enosys: exec");
                return 127;
        }

        /* The command is our child, so that we may read its memory (and
         * its descendants') whatever ptrace_scope says; the filter's
         * listener comes back to us over a socket. It runs in a user
         * namespace of our own making that maps our ids only: csand is not
         * dumpable, and reading its memory then takes CAP_SYS_PTRACE in the
         * namespace it runs in, which we have there as its owner. */
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                perror("enosys: socketpair");
                return 1;
        }
        pid_t pid = fork();
        if (pid < 0) {
                perror("enosys: fork");
                return 1;
        }
        if (pid == 0) {
                close(sv[0]);
                if (enter_own_userns() < 0) {
                        perror("enosys: user namespace");
                        _exit(1);
                }
                int listener;
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    (listener = (int) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                                              &prog)) < 0) {
                        perror("enosys: seccomp");
                        _exit(1);
                }
                if (send_fd(sv[1], listener) < 0) {
                        perror("enosys: sendmsg");
                        _exit(1);
                }
                close(listener);
                close(sv[1]);
                execvp(argv[3], argv + 3);
                perror("enosys: exec");
                _exit(127);
        }
        close(sv[1]);
        int listener = recv_fd(sv[0]);
        close(sv[0]);
        if (listener >= 0) {
                supervise(listener, abi);
                close(listener);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return 1;
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
}
