/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <endian.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "mount-util.h"
#include "userns.h"

/* Our /proc/self files belong to root while we are not dumpable, which is
 * what keeps the user outside from ptracing the setup; but that way the id
 * maps can't be opened either. Mostly they need not be: right before the
 * clone the monitor makes the sandbox's user namespace, and bwrap's nested
 * one where the plan has it, through a vfork-like child, dumpable for that
 * moment, that writes their maps itself (userns_premake(), at the end of
 * this file). Where that can't serve (the monitor must stay outside the
 * namespace: a network helper, the cgroup; or csand started not
 * dumpable), a stand-in does it: a fork of ours in the
 * same user namespace, which first confines itself to read(), write(),
 * exit() and that one prctl() with a seccomp filter, then becomes dumpable
 * (its /proc files the user's) and waits to be killed. Ptrace it, and you
 * get a process that can do nothing. We open its map files through a pinned
 * /proc/PID directory, after checking its user namespace is ours.
 *
 * Dumpable, it also opens its /proc/PID/root and cwd to any process of the
 * user's, another sandbox's without a pid namespace included: they would
 * be our mount namespace, the caller's whole view (and ".." from anywhere
 * in it climbs to its top). So before that it makes its root and working
 * directory an empty read-only tmpfs that is mounted nowhere (".." can't
 * leave a detached mount), which also empties its mountinfo, closes every
 * fd but its socket (stdio too) and wipes the caller's environment from
 * its copy of our memory. (Who can reach it: processes of the user's in
 * the initial user namespace, which owns ours; some of them see less than
 * the caller: a service running as the user in a mount namespace of its
 * own. Other sandboxes' processes lack CAP_SYS_PTRACE over our namespace.)
 *
 * Its namespaces are open to the same processes (/proc/PID/ns): through
 * ns/user they may join our user namespace (the user owns it), and with
 * the capabilities that gives, the mount namespace of ns/mnt, if our user
 * namespace owns it. So the stand-ins are forked before our mount
 * namespace exists (userns_standins_start(): the clone made no
 * CLONE_NEWNS, the child unshares it after the fork): theirs is the
 * caller's, owned by the caller's user namespace, where joining takes
 * privileges. They get their empty root from us over their socket once it
 * exists. The nested namespace's stand-in makes that namespace when we
 * tell it our maps are written (the kernel wants its ids mapped), and so
 * gets ready while we build the root. (Where a stand-in
 * can't start early, in setuid mode, whose privileged part made the
 * mount namespace, the nested one is started only after the pivot into
 * the finished root: its mount namespace then holds nothing else.)
 *
 * Each stand-in is killed, not waited for, once used, and
 * userns_reap_standins() reaps it later: the nested one's maps are written
 * ahead (userns_prepare_nested()), once the root's mounts are made, so
 * that its exit overlaps the rest of the setup; the namespace is joined
 * last. */

/* What a stand-in may make for the sandbox (userns_standins_start()). */
#define STANDIN_ASIDE (CLONE_NEWNET | CLONE_NEWIPC)

#if defined(__x86_64__)
#define STANDIN_ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define STANDIN_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define STANDIN_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__) && __BYTE_ORDER == __LITTLE_ENDIAN
#define STANDIN_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define STANDIN_ARCH AUDIT_ARCH_RISCV64
#elif defined(__s390x__)
#define STANDIN_ARCH AUDIT_ARCH_S390X
#elif defined(__powerpc64__) && __BYTE_ORDER == __LITTLE_ENDIAN
#define STANDIN_ARCH AUDIT_ARCH_PPC64LE
#endif

#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ARG0_LOW offsetof(struct seccomp_data, args[0])
#define ARG0_HIGH (offsetof(struct seccomp_data, args[0]) + 4)
#else
#define ARG0_LOW (offsetof(struct seccomp_data, args[0]) + 4)
#define ARG0_HIGH offsetof(struct seccomp_data, args[0])
#endif

#ifdef STANDIN_ARCH
/* BEFORE_ROOT: for a stand-in that confines itself before it has its
 * root, which it then still receives (recvmsg), enters (fchdir, chroot)
 * and closes; its other fds are closed by then, so that these give a
 * ptracer nothing either. */
static int confine_standin(bool before_root) {
        static const int plain[] = { __NR_read,    __NR_write,  __NR_exit,   __NR_exit_group,
                                     __NR_recvmsg, __NR_fchdir, __NR_chroot, __NR_close };
        const size_t n_plain = before_root ? ELEMENTSOF(plain) : 4;
        struct sock_filter filter[32] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, STANDIN_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
                /* x32 numbers alias others */
                BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
        };
        static const struct sock_filter tail[] = {
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 3, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 8, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                /* prctl(PR_SET_DUMPABLE, ...) only */
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_HIGH),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LOW),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_DUMPABLE, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                /* unshare() of network and IPC namespaces only */
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_HIGH),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LOW),
                BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, ~(uint32_t) STANDIN_ASIDE, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        };
        size_t n = 4;
#ifdef __x86_64__
        n += 2;
#endif
        /* Each allowed call jumps to tail[3], over the rest of the list
         * and tail's first three. */
        for (size_t i = 0; i < n_plain; i++)
                filter[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t) plain[i],
                                                            (uint8_t) (n_plain - i - 1 + 3), 0);
        assert(n + ELEMENTSOF(tail) <= ELEMENTSOF(filter));
        memcpy(filter + n, tail, sizeof(tail));
        n += ELEMENTSOF(tail);
        struct sock_fprog prog = { .len = (unsigned short) n, .filter = filter };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return RET_NERRNO(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog));
}

/* An empty read-only tmpfs, mounted nowhere: the stand-ins' root. */
static int empty_root(void) {
        _cleanup_close_ int fs = mount_fs_open("tmpfs");
        if (fs < 0)
                return fs;
        int fd = -EBADF;
        int r = mount_fs_create(fs, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, &fd, NULL, 0);
        return r < 0 ? r : fd;
}

/* Every fd but SOCK: stdio too (the caller's files, reopened by path
 * from /proc/PID/fd), and our ends of the launch's channels, whose
 * end-of-file the monitor waits for. */
static void close_all_but(int sock) {
        if (sock > 0)
                (void) syscall(SYS_close_range, 0, (unsigned) sock - 1, 0);
        (void) syscall(SYS_close_range, (unsigned) sock + 1, ~0U, 0);
}

/* Nothing of value is left where a dumpable stand-in shows it: its root
 * and directory, its mountinfo (only what is below its root), its fds,
 * its environment. (Its memory, through ptrace or /proc/PID/mem, is our
 * copy of the plan: what pid 1, reachable by design, shows later too.) */
static void standin_forget(int sock) {
        for (char **e = environ; e && *e; e++)
                explicit_bzero(*e, strlen(*e));
        close_all_but(sock);
}

static int standin_enter_root(int root_fd) {
        int r = fchdir(root_fd) < 0 || chroot(".") < 0 ? -errno : 0;
        safe_close(root_fd);
        return r;
}

/* The stand-in: waits for its root; with NEW_USERNS, for our word that
 * our ids are mapped, and makes the nested namespace; then,
 * confined, hidden and dumpable, sends "PID\n1" (its pid in /proc's
 * numbering, not the one of a pid namespace we may be in: read first,
 * while it still sees /proc; one message, one wake-up of ours) and waits
 * to be killed. */
static _noreturn_ void standin(int proc_fd, int sock, bool new_userns, unsigned long aside) {
        char msg[40], c;
        ssize_t n = readlinkat(proc_fd, proc_fd == AT_FDCWD ? "/proc/self" : "self", msg, sizeof(msg) - 3);
        if (n <= 0)
                _exit(1);
        msg[n++] = '\n';
        msg[n++] = '1';
        standin_forget(sock);
        /* The first one confines itself while the child makes its root:
         * it is ready the sooner once the root arrives. The nested one
         * can't: it makes its user namespace after the root arrives, and
         * the kernel lets no chrooted process make one. */
        if (!new_userns && confine_standin(true) < 0)
                _exit(1);
        int root_fd = -EBADF;
        size_t n_fds = 0;
        if (fd_recv_with_fds(sock, &c, 1, &root_fd, 1, &n_fds) != 1 || n_fds != 1)
                _exit(1);
        if (new_userns && (read(sock, &c, 1) != 1 || unshare(CLONE_NEWUSER) < 0))
                _exit(1);
        if (standin_enter_root(root_fd) < 0 || (new_userns && confine_standin(false) < 0))
                _exit(1);
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 || write(sock, msg, (size_t) n) != n)
                _exit(1);
        /* Namespaces of the sandbox's, made while the child builds the
         * root: the errno, or 0. */
        if (aside != 0) {
                c = unshare((int) aside) < 0 ? (char) errno : 0;
                if (write(sock, &c, 1) != 1)
                        _exit(1);
        }
        /* Until killed. */
        while (read(sock, &c, 1) > 0)
                ;
        _exit(0);
}

/* Started and not yet stopped: ours, or one the monitor forked for us
 * (no pid of ours: it ends when its socket closes, the monitor reaps it). */
static bool standin_running(const Standin *st) {
        return st->sock >= 0;
}

static bool same_file(int a, int b) {
        struct stat sa, sb;
        return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The stand-in's "PID\n1": its /proc directory, pinned, once it is ready,
 * and its user namespace (ours, or with NEW_USERNS, a child of ours). */
static int standin_dir(int proc_fd, int sock, bool new_userns, int *ret_userns) {
        char buf[48];
        ssize_t k;
        /* One message: what the stand-in says next (ASIDE) is another. */
        while ((k = read(sock, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
                ;
        if (k <= 0)
                return -EIO; /* it died: no seccomp, say */
        buf[k] = '\0';
        const char *nl = strchr(buf, '\n');
        if (!nl || nl[1] != '1')
                return -EBADMSG;
        char pid[24];
        snprintf(pid, sizeof(pid), "%.*s", (int) (nl - buf), buf);
        _cleanup_close_ int procdir = openat(proc_fd, proc_fd == AT_FDCWD ? "/proc" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (procdir < 0)
                return -errno;
        int dir = openat(procdir, pid, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        /* The maps written must be those of our user namespace (or of the
         * one nested in it): not of some other process of the user's. */
        _cleanup_close_ int own_ns = openat(procdir, "self/ns/user", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int its_ns = openat(dir, "ns/user", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int parent_ns = its_ns >= 0 && new_userns ? ioctl(its_ns, NS_GET_PARENT) : -EBADF;
        if (own_ns < 0 || its_ns < 0 || !same_file(own_ns, new_userns ? parent_ns : its_ns)) {
                safe_close(dir);
                return -ESRCH;
        }
        *ret_userns = TAKE_FD(its_ns);
        return dir;
}

static int standin_start(int proc_fd, bool new_userns, unsigned long aside, Standin *ret) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(sv[0]);
                safe_close(sv[1]);
                return r;
        }
        if (pid == 0) {
                safe_close(sv[0]);
                standin(proc_fd, sv[1], new_userns, aside);
        }
        safe_close(sv[1]);
        *ret = (Standin) { .pid = pid, .sock = sv[0], .dir = -EBADF };
        return 0;
}

/* Its root: it goes on once it has it. */
static int standin_give_root(const Standin *st, int root_fd) {
        return fd_send_with_fds(st->sock, "r", 1, &root_fd, 1);
}

/* Killed, and reaped later (userns_reap_standins()): its exit takes
 * nothing from the setup's time. */
static void standin_stop(Standins *s, Standin *st) {
        if (!standin_running(st))
                return;
        st->sock = safe_close(st->sock);
        st->dir = safe_close(st->dir);
        if (st->pid <= 0)
                return;
        (void) kill(st->pid, SIGKILL);
        if (s->killed[ELEMENTSOF(s->killed) - 1] > 0)
                userns_reap_standins(s);
        for (size_t i = 0; i < ELEMENTSOF(s->killed); i++)
                if (s->killed[i] <= 0) {
                        s->killed[i] = st->pid;
                        break;
                }
        st->pid = 0;
}

/* Opens NAMES[i] of a ready stand-in's /proc directory into FDS[i] (-errno
 * for each that fails), and its user namespace into *RET_USERNS. */
static int open_maps_via_standin(Standins *s, Standin *st, int proc_fd, bool new_userns, const char *const *names,
                                 int *fds, size_t n, int *ret_userns) {
        int dir = standin_dir(proc_fd, st->sock, new_userns, ret_userns);
        for (size_t i = 0; dir >= 0 && i < n; i++) {
                fds[i] = openat(dir, names[i], O_WRONLY | O_CLOEXEC);
                if (fds[i] < 0)
                        fds[i] = -errno;
        }
        /* The first one makes namespaces of ours next (ASIDE): kept,
         * pinned, until userns_enter_aside(). */
        if (dir >= 0 && s->aside != 0 && st == &s->first) {
                st->dir = dir;
                return 0;
        }
        safe_close(dir);
        standin_stop(s, st);
        return dir < 0 ? dir : 0;
}

/* The nested namespace's stand-in may make it: our ids are mapped. */
static int standin_go(const Standin *st) {
        return write(st->sock, "g", 1) == 1 ? 0 : -EIO;
}

/* An empty root for ST, and ST started and given it (and the word to go
 * on): where it can't have been started early. */
static int standin_start_now(int proc_fd, bool new_userns, Standin *st) {
        _cleanup_close_ int root = empty_root();
        if (root < 0)
                return root;
        int r = standin_start(proc_fd, new_userns, 0, st);
        if (r >= 0)
                r = standin_give_root(st, root);
        return r >= 0 && new_userns ? standin_go(st) : r;
}
#endif

static int write_all_fd(int fd, const char *data) {
        size_t len = strlen(data);
        ssize_t n = write(fd, data, len);
        if (n < 0)
                return -errno;
        return (size_t) n == len ? 0 : -EIO;
}

/* The three files, opened in this order; written in bwrap's (uid map,
 * setgroups, gid map), so that a failure is the step bwrap names. */
enum { MAP_SETGROUPS, MAP_UID, MAP_GID, _MAP_MAX };
static const char *const map_names[_MAP_MAX] = { "setgroups", "uid_map", "gid_map" };

const char *userns_map_step_words(UsernsMapStep step) {
        static const char *const words[] = {
                [USERNS_MAP_UID] = "setting up uid map",
                [USERNS_MAP_SETGROUPS] = "error writing to setgroups",
                [USERNS_MAP_GID] = "setting up gid map",
        };
        return words[step];
}

/* Writes the maps into FDS (each an fd, or the -errno its open failed
 * with); *STEP says which step failed. */
static int write_maps(const int *fds, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid,
                      UsernsMapStep *step) {
        char line[64];
        int r;

        *step = USERNS_MAP_UID;
        snprintf(line, sizeof(line), "%u %u 1\n", inside_uid, outside_uid);
        r = fds[MAP_UID] < 0 ? fds[MAP_UID] : write_all_fd(fds[MAP_UID], line);
        if (r < 0)
                return r;
        *step = USERNS_MAP_SETGROUPS;
        /* Kernels before 3.19 have no setgroups file; nothing to deny there. */
        r = fds[MAP_SETGROUPS] < 0 ? fds[MAP_SETGROUPS] : write_all_fd(fds[MAP_SETGROUPS], "deny");
        if (r < 0 && r != -ENOENT)
                return r;
        *step = USERNS_MAP_GID;
        snprintf(line, sizeof(line), "%u %u 1\n", inside_gid, outside_gid);
        return fds[MAP_GID] < 0 ? fds[MAP_GID] : write_all_fd(fds[MAP_GID], line);
}

static void close_maps(int *fds) {
        for (size_t i = 0; i < _MAP_MAX; i++)
                fds[i] = safe_close(fds[i]);
}

/* Without a stand-in (an architecture we have no filter for): dumpable for
 * the three open()s (an attacher that stays is caught by the caller's
 * tracer check). */
/* Our own map files into FDS (-errno for each that fails to open): we
 * must be dumpable. PROC_FD as for userns_write_own_maps_step(). */
static void open_own_maps(int proc_fd, int *fds) {
        for (size_t i = 0; i < _MAP_MAX; i++) {
                char path[32];
                snprintf(path, sizeof(path), "%s%s", proc_fd == AT_FDCWD ? "/proc/self/" : "self/", map_names[i]);
                fds[i] = openat(proc_fd, path, O_WRONLY | O_CLOEXEC);
                if (fds[i] < 0)
                        fds[i] = -errno;
        }
}

static void open_own_maps_dumpable(int proc_fd, int *fds) {
        (void) prctl(PR_SET_DUMPABLE, 1);
        open_own_maps(proc_fd, fds);
        (void) prctl(PR_SET_DUMPABLE, 0);
}

void userns_reap_standins(Standins *s) {
#ifdef STANDIN_ARCH
        for (size_t i = 0; i < ELEMENTSOF(s->killed); i++) {
                if (s->killed[i] > 0)
                        while (waitpid(s->killed[i], NULL, 0) < 0 && errno == EINTR)
                                ;
                s->killed[i] = 0;
        }
        /* At offset 0 each time: a sysctl ignores writes past it. */
        if (s->ns_last_pid_fd >= 0)
                (void) !pwrite(s->ns_last_pid_fd, "1", 1, 0);
#endif
}

void userns_standins_done(Standins *s) {
#ifdef STANDIN_ARCH
        /* Unused ones too (a setup that failed before it needed them):
         * their end of the socket closed, they end by themselves. */
        standin_stop(s, &s->first);
        standin_stop(s, &s->nested);
        userns_reap_standins(s);
        s->ns_last_pid_fd = safe_close(s->ns_last_pid_fd);
        s->nested_userns = safe_close(s->nested_userns);
#endif
}

int userns_standins_start(Standins *s, int proc_fd, bool nested, unsigned long aside) {
#ifdef STANDIN_ARCH
        assert((aside & ~(unsigned long) STANDIN_ASIDE) == 0);
        s->aside = aside;
        int r = standin_start(proc_fd, false, aside, &s->first);
        if (r >= 0 && nested)
                r = standin_start(proc_fd, true, 0, &s->nested);
        return r;
#else
        return 0;
#endif
}

int userns_standins_give_root(Standins *s) {
#ifdef STANDIN_ARCH
        if (!standin_running(&s->first) && !standin_running(&s->nested))
                return 0;
        /* Closed here first: the last close of a mount that was never
         * attached unmounts it and waits for an RCU grace period, which
         * a stand-in then pays (the nested one: while we build the root). */
        _cleanup_close_ int root = empty_root();
        if (root < 0)
                return root;
        int r = standin_running(&s->first) ? standin_give_root(&s->first, root) : 0;
        if (r >= 0 && standin_running(&s->nested) && standin_give_root(&s->nested, root) < 0) {
                r = -EIO;
                standin_stop(s, &s->nested);
        }
        return r;
#else
        return 0;
#endif
}

/* As pid 1, ns_last_pid, kept from the first stand-in to
 * userns_standins_done(): as the init of a new pid namespace we give the
 * stand-ins pids 2 (and 3): it is set back to 1 once they are gone, so
 * that the command is pid 2 as with bwrap. (Best effort: a read-only
 * /proc/sys leaves it 3. Written in the user namespace that owns the pid
 * namespace, whose capabilities this takes: before the nested one is
 * entered.) */
static void open_ns_last_pid(Standins *s, int proc_fd) {
        if (getpid() == 1 && s->ns_last_pid_fd < 0)
                s->ns_last_pid_fd =
                        openat(proc_fd, proc_fd == AT_FDCWD ? "/proc/sys/kernel/ns_last_pid" : "sys/kernel/ns_last_pid",
                               O_WRONLY | O_CLOEXEC);
}

int userns_write_own_maps_step(Standins *s, int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid,
                               gid_t outside_gid, UsernsMapStep *ret_step) {
        int fds[_MAP_MAX] = { -EBADF, -EBADF, -EBADF };
        UsernsMapStep dummy;
        int r = -ENOSYS;
#ifdef STANDIN_ARCH
        _cleanup_close_ int userns = -EBADF;
        r = standin_running(&s->first) ? 0 : standin_start_now(proc_fd, false, &s->first);
        open_ns_last_pid(s, proc_fd);
        if (r >= 0)
                r = open_maps_via_standin(s, &s->first, proc_fd, false, map_names, fds, _MAP_MAX, &userns);
#endif
        bool dumpable = r < 0;
        if (dumpable)
                open_own_maps_dumpable(proc_fd, fds);
        r = write_maps(fds, inside_uid, outside_uid, inside_gid, outside_gid, ret_step ?: &dummy);
        close_maps(fds);
#ifdef STANDIN_ARCH
        if (r >= 0 && standin_running(&s->nested) && standin_go(&s->nested) < 0)
                standin_stop(s, &s->nested);
#endif
        return r < 0 ? r : dumpable;
}

int userns_write_own_maps_at(int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid) {
        Standins s = STANDINS_INIT;
        int r = userns_write_own_maps_step(&s, proc_fd, inside_uid, outside_uid, inside_gid, outside_gid, NULL);
        userns_standins_done(&s);
        return r < 0 ? r : 0;
}

#ifdef STANDIN_ARCH
/* The nested namespace, made by S's nested stand-in (killed here), its
 * maps written from here, its parent namespace, where we have our
 * capabilities; its fd kept in S for userns_enter_nested(). 0 with no fd
 * kept where the stand-in failed us (-ENOSYS: none started). */
static int nested_make(Standins *s, int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid) {
        int fds[_MAP_MAX] = { -EBADF, -EBADF, -EBADF };
        _cleanup_close_ int userns = -EBADF;
        UsernsMapStep step;
        if (!standin_running(&s->nested))
                return -ENOSYS;
        int r = open_maps_via_standin(s, &s->nested, proc_fd, true, map_names, fds, _MAP_MAX, &userns);
        if (r < 0)
                return 0;
        r = write_maps(fds, inside_uid, outside_uid, inside_gid, outside_gid, &step);
        close_maps(fds);
        if (r < 0)
                return r;
        s->nested_userns = TAKE_FD(userns);
        return 0;
}
#endif

int userns_prepare_nested(Standins *s, int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid) {
#ifdef STANDIN_ARCH
        int r = nested_make(s, proc_fd, inside_uid, outside_uid, inside_gid, outside_gid);
        return r == -ENOSYS ? 0 : r;
#else
        return 0;
#endif
}

int userns_enter_nested(Standins *s, int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid) {
        int fds[_MAP_MAX] = { -EBADF, -EBADF, -EBADF };
        UsernsMapStep step;
        int r;
#ifdef STANDIN_ARCH
        if (s->nested_userns < 0 && (standin_running(&s->nested) || standin_start_now(proc_fd, true, &s->nested) >= 0)) {
                r = nested_make(s, proc_fd, inside_uid, outside_uid, inside_gid, outside_gid);
                if (r < 0)
                        return r;
        }
        if (s->nested_userns >= 0) {
                /* Gone before the nested namespace costs us ns_last_pid. */
                userns_reap_standins(s);
                r = RET_NERRNO(setns(s->nested_userns, CLONE_NEWUSER));
                s->nested_userns = safe_close(s->nested_userns);
                return r;
        }
#endif
        if (unshare(CLONE_NEWUSER) < 0)
                return -errno;
        open_own_maps_dumpable(proc_fd, fds);
        r = write_maps(fds, inside_uid, outside_uid, inside_gid, outside_gid, &step);
        close_maps(fds);
        return r;
}

#ifdef STANDIN_ARCH
/* The namespace of TYPE (ns/NAME) ST made: checked to be one our user
 * namespace USERNS owns (ST's own, which standin_dir() checked is ours), so that
 * a stand-in steered by a ptracer can't hand us the caller's. */
static int standin_ns_join(const Standin *st, int userns, const char *name, int type) {
        _cleanup_close_ int ns = openat(st->dir, name, O_RDONLY | O_CLOEXEC);
        if (ns < 0)
                return -errno;
        _cleanup_close_ int owner = ioctl(ns, NS_GET_USERNS);
        if (owner < 0)
                return -errno;
        if (!same_file(owner, userns))
                return -ESRCH;
        return RET_NERRNO(setns(ns, type));
}

/* Joins what ST made once it says so: -EIO if it said nothing (it died). */
static int standin_aside_join(const Standin *st, unsigned long aside) {
        char err;
        ssize_t n;
        while ((n = read(st->sock, &err, 1)) < 0 && errno == EINTR)
                ;
        if (n != 1)
                return -EIO;
        if (err != 0)
                return -(unsigned char) err;
        _cleanup_close_ int userns = openat(st->dir, "ns/user", O_RDONLY | O_CLOEXEC);
        if (userns < 0)
                return -errno;
        int r = 0;
        if (aside & CLONE_NEWNET)
                r = standin_ns_join(st, userns, "ns/net", CLONE_NEWNET);
        if (r >= 0 && (aside & CLONE_NEWIPC))
                r = standin_ns_join(st, userns, "ns/ipc", CLONE_NEWIPC);
        return r;
}
#endif

int userns_enter_aside(Standins *s, unsigned long flags) {
#ifdef STANDIN_ARCH
        if (s->aside == flags && standin_running(&s->first) && s->first.dir >= 0) {
                int r = standin_aside_join(&s->first, flags);
                standin_stop(s, &s->first);
                /* Its errno is the one we would get making them here; if it
                 * died (killed by the user, say) we make them ourselves. */
                if (r != -EIO)
                        return r;
        }
#endif
        return RET_NERRNO(unshare((int) flags));
}

/* The premade namespace (userns.h). What makes the map files openable is
 * that we are dumpable while they are opened: a vfork-like child, sharing
 * our memory (and so our dumpability) and our fd table, unshares a user
 * namespace, writes its maps, for bwrap's pair unshares the nested one
 * and writes its maps too, and opens the namespaces into that table, then
 * exits; we resume once it lets go of our memory, and are not dumpable
 * again (it is reaped later: userns_premake_reap()). Dumpable for
 * that moment, csand is as open to the user's own processes as every
 * process is from its exec until csand's main() makes it not dumpable,
 * no more (SECURITY.md): it has no privilege the user lacks, and only a
 * process in our own user namespace with our capabilities may attach (a
 * sandbox's, in a user namespace of its own, may not). The maps written
 * by the namespace's own first process: nobody need be dumpable for them
 * later, and the child the clone makes needs no stand-in. */
typedef struct PremakeJob {
        const UsernsMap *first;
        const UsernsMap *nested; /* NULL: none */
        UsernsPremade *out;
} PremakeJob;

/* Unshares a user namespace, writes MAP into it and opens it. */
static int premake_one(const UsernsMap *map) {
        int fds[_MAP_MAX];
        UsernsMapStep step;
        if (unshare(CLONE_NEWUSER) < 0)
                return -errno;
        open_own_maps(AT_FDCWD, fds);
        int r = write_maps(fds, map->inside_uid, map->outside_uid, map->inside_gid, map->outside_gid, &step);
        close_maps(fds);
        if (r < 0)
                return r;
        return RET_NERRNO(open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC));
}

static int premake_child(void *arg) {
        PremakeJob *job = arg;
        /* Not named csand: it is csand's own setup, not a sandbox's. */
        (void) prctl(PR_SET_NAME, "csand-userns", 0, 0, 0);
        job->out->userns = premake_one(job->first);
        if (job->out->userns >= 0 && job->nested)
                job->out->nested = premake_one(job->nested);
        _exit(0);
}

/* Above stdio: a caller may start us with 0, 1 or 2 closed. */
static int move_above_stdio(int *fd) {
        if (*fd < 0)
                return *fd;
        if (*fd > STDERR_FILENO)
                return 0;
        int moved = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        safe_close(*fd);
        *fd = moved < 0 ? -errno : moved;
        return moved < 0 ? -errno : 0;
}

void userns_premade_done(UsernsPremade *pre) {
        pre->userns = safe_close(pre->userns);
        pre->nested = safe_close(pre->nested);
}

bool userns_premake_possible(void) {
        /* Not as root, setuid, or where the kernel made us not dumpable
         * at exec (an unreadable binary): we may not make ourselves
         * dumpable then. As a pid namespace's init (a sandbox in a
         * sandbox, --as-pid-1) our child would take pid 2, which bwrap's
         * sandbox child has there. */
        return getuid() != 0 && geteuid() == getuid() && getegid() == getgid() &&
               prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1 && getpid() != 1;
}

void userns_premake_reap(pid_t *pid) {
        if (*pid > 0)
                while (waitpid(*pid, NULL, __WALL) < 0 && errno == EINTR)
                        ;
        *pid = 0;
}

int userns_premake(UsernsPremade *ret, const UsernsMap *first, const UsernsMap *nested) {
        *ret = USERNS_PREMADE_NULL;
        /* The child reads FIRST and NESTED in place: it shares our memory. */
        PremakeJob job = { .first = first, .nested = nested, .out = ret };
        /* Its stack, while we wait for it to let go of our memory. */
        char stack[16384] __attribute__((aligned(16)));
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
                return -errno;
        pid_t pid = clone(premake_child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | CLONE_FILES, &job);
        int r = pid < 0 ? -errno : 0;
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* It has let go of our memory and is exiting: reaped later, off
         * the launch's way (waiting here costs a second wake-up). */
        ret->child = pid > 0 ? pid : 0;
        if (r >= 0)
                r = move_above_stdio(&ret->userns);
        if (r >= 0 && nested)
                r = move_above_stdio(&ret->nested);
        if (r < 0) {
                userns_premade_done(ret);
                userns_premake_reap(&ret->child);
        }
        return r;
}

void userns_make_aside(int sock, unsigned long flags) {
        int fds[2] = { -EBADF, -EBADF };
        size_t n = 0;
        char err = 0;
        if (unshare((int) flags) < 0)
                err = (char) errno;
        if (err == 0 && (flags & CLONE_NEWNET) && (fds[n++] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
                err = (char) errno;
        if (err == 0 && (flags & CLONE_NEWIPC) && (fds[n++] = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC)) < 0)
                err = (char) errno;
        (void) fd_send_with_fds(sock, &err, 1, fds, err == 0 ? n : 0);
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

int userns_join_aside(int sock, unsigned long flags) {
        int fds[2] = { -EBADF, -EBADF };
        size_t n = 0;
        char err;
        ssize_t k = fd_recv_with_fds(sock, &err, 1, fds, ELEMENTSOF(fds), &n);
        size_t want = !!(flags & CLONE_NEWNET) + !!(flags & CLONE_NEWIPC);
        int r;
        if (k != 1)
                r = RET_NERRNO(unshare((int) flags)); /* the monitor is gone */
        else if (err != 0)
                r = -(unsigned char) err;
        else if (n != want)
                r = -EBADMSG;
        else {
                r = 0;
                for (size_t i = 0; r >= 0 && i < n; i++)
                        r = RET_NERRNO(setns(fds[i], 0));
        }
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
        return r;
}
