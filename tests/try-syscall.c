/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * try-syscall: tries one syscall, the way a program in a sandbox would, and
 * says what the kernel (or a seccomp filter) answered:
 *
 *     $ try-syscall unshare-user
 *     unshare-user: errno=EPERM (Operation not permitted)
 *
 * It exits 0 whatever the answer (2 for a usage error), so that tests compare
 * the printed line, e.g. with and without a seccomp profile. Each probe is a
 * real, harmless attempt: what it creates (a namespace, a key in the process
 * keyring, a child) dies with it.
 *
 * uring-socket-FAMILY makes the socket through io_uring (IORING_OP_SOCKET,
 * Linux 5.19) instead of socket(2): seccomp sees only io_uring_setup and
 * io_uring_enter, never the socket request inside the ring. It reports the
 * first step that fails, so a profile that closes io_uring shows as the
 * errno of io_uring_setup.
 *
 * Usage: try-syscall NAME [ARG]; try-syscall --list prints the names.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/mount.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* Each probe returns 0 on success or a negative errno. */
typedef long (*ProbeFn)(const char *arg);

static long ret_errno(long r) {
        return r < 0 ? -errno : 0;
}

/* A syscall that returns an fd on success: close it. */
static long ret_fd(long fd) {
        if (fd < 0)
                return -errno;
        close((int) fd);
        return 0;
}

static int parse_ulong(const char *s, unsigned long *ret) {
        char *end;
        if (!s || !*s || *s == '-')
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 0);
        if (errno || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Waits for a child that exits at once; its status does not matter. */
static long reap(pid_t pid) {
        if (pid < 0)
                return -errno;
        if (pid == 0)
                _exit(0);
        while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
                ;
        return 0;
}

static long probe_getpid(const char *arg) {
        return ret_errno(syscall(SYS_getpid));
}

static long probe_sched_yield(const char *arg) {
        return ret_errno(syscall(SYS_sched_yield));
}

static long probe_unshare(unsigned long flags) {
        return ret_errno(syscall(SYS_unshare, flags));
}

static long probe_unshare_user(const char *arg) {
        return probe_unshare(CLONE_NEWUSER);
}

static long probe_unshare_net(const char *arg) {
        return probe_unshare(CLONE_NEWNET);
}

static long probe_unshare_mount(const char *arg) {
        return probe_unshare(CLONE_NEWNS);
}

static long probe_unshare_files(const char *arg) {
        return probe_unshare(CLONE_FILES);
}

static long probe_clone(unsigned long flags) {
        /* The raw syscall: glibc's wrappers may use clone3 instead. */
        return reap((pid_t) syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL));
}

static long probe_clone_plain(const char *arg) {
        return probe_clone(0);
}

static long probe_clone_newuser(const char *arg) {
        return probe_clone(CLONE_NEWUSER);
}

static long probe_clone3_flags(uint64_t flags) {
        struct clone_args args = {
                .flags = flags,
                .exit_signal = SIGCHLD,
        };
        return reap((pid_t) syscall(SYS_clone3, &args, sizeof(args)));
}

static long probe_clone3(const char *arg) {
        return probe_clone3_flags(0);
}

static long probe_clone3_newuser(const char *arg) {
        return probe_clone3_flags(CLONE_NEWUSER);
}

static long probe_setns(const char *arg) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        /* A pipe is no namespace: EINVAL from the kernel, so that a refusal
         * by seccomp (EPERM) stands out, with no need for /proc. */
        long r = ret_errno(syscall(SYS_setns, p[0], 0));
        close(p[0]);
        close(p[1]);
        return r;
}

static long probe_mount(const char *arg) {
        return ret_errno(mount("none", "/", "tmpfs", 0, NULL));
}

static long probe_umount(const char *arg) {
        return ret_errno(umount2("/", MNT_DETACH));
}

static long probe_pivot_root(const char *arg) {
        return ret_errno(syscall(SYS_pivot_root, "/", "/"));
}

static long probe_chroot(const char *arg) {
        return ret_errno(chroot("/"));
}

static long probe_fsopen(const char *arg) {
        return ret_fd(syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
}

static long probe_fspick(const char *arg) {
        return ret_fd(syscall(SYS_fspick, AT_FDCWD, "/", FSPICK_CLOEXEC));
}

static long probe_open_tree(const char *arg) {
        /* Without OPEN_TREE_CLONE this is an O_PATH open, allowed to all. */
        return ret_fd(syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLOEXEC));
}

static long probe_move_mount(const char *arg) {
        return ret_errno(syscall(SYS_move_mount, AT_FDCWD, "/", AT_FDCWD, "/", 0));
}

static long probe_mount_setattr(const char *arg) {
        struct mount_attr attr = {};
        return ret_errno(syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof(attr)));
}

static long probe_keyctl(const char *arg) {
        return ret_errno(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1));
}

static long probe_add_key(const char *arg) {
        return ret_errno(syscall(SYS_add_key, "user", "csand-try-syscall", "x", 1, KEY_SPEC_PROCESS_KEYRING));
}

static long probe_request_key(const char *arg) {
        return ret_errno(syscall(SYS_request_key, "user", "csand-try-syscall-none", NULL, KEY_SPEC_PROCESS_KEYRING));
}

static long probe_bpf(const char *arg) {
        /* BPF_MAP_CREATE (0) of a one-entry array. */
        struct {
                uint32_t map_type, key_size, value_size, max_entries;
        } attr = { 2 /* BPF_MAP_TYPE_ARRAY */, 4, 4, 1 };
        return ret_fd(syscall(SYS_bpf, 0, &attr, sizeof(attr)));
}

static long probe_perf_event_open(const char *arg) {
        /* Counting our own user-space time: allowed to everyone at
         * perf_event_paranoid <= 2. */
        struct perf_event_attr attr = {
                .type = PERF_TYPE_SOFTWARE,
                .size = sizeof(attr),
                .config = PERF_COUNT_SW_TASK_CLOCK,
                .exclude_kernel = 1,
                .exclude_hv = 1,
        };
        return ret_fd(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

static long probe_ptrace_attach(const char *arg) {
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                pause();
                _exit(0);
        }
        long r = ret_errno(ptrace(PTRACE_ATTACH, pid, NULL, NULL));
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return r;
}

static long probe_process_vm_readv(const char *arg) {
        char src[8] = "csand", dst[8];
        struct iovec local = { dst, sizeof(dst) }, remote = { src, sizeof(src) };
        return ret_errno(process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
}

static long probe_userfaultfd(const char *arg) {
        return ret_fd(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
}

/* ioctl CMD on a pipe: a pipe is no terminal, so an ioctl the filter lets
 * through fails with ENOTTY, and nothing can reach a real terminal. */
static long probe_ioctl_on_pipe(unsigned long cmd) {
        int p[2];
        char c = 'x';
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        /* The raw syscall passes all 64 bits of CMD. */
        long r = ret_errno(syscall(SYS_ioctl, p[0], cmd, &c));
        close(p[0]);
        close(p[1]);
        return r;
}

static long probe_tiocsti(const char *arg) {
        return probe_ioctl_on_pipe(TIOCSTI);
}

static long probe_tiocsti_highbits(const char *arg) {
        /* The kernel reads cmd as an unsigned int: this is TIOCSTI too. */
        return probe_ioctl_on_pipe((unsigned long) TIOCSTI | (UINT64_C(1) << 32));
}

static long probe_tioclinux(const char *arg) {
        return probe_ioctl_on_pipe(TIOCLINUX);
}

static long probe_tcgets(const char *arg) {
        return probe_ioctl_on_pipe(TCGETS);
}

static long probe_personality(const char *arg) {
        unsigned long persona = 0xffffffffUL; /* the query */
        if (arg && parse_ulong(arg, &persona) < 0)
                return -EINVAL;
        return ret_errno(syscall(SYS_personality, persona));
}

static long probe_socket_raw(unsigned long domain, int type, int protocol) {
        return ret_fd(syscall(SYS_socket, domain, type | SOCK_CLOEXEC, protocol));
}

static const struct {
        const char *name;
        int family, type, protocol;
} socket_families[] = {
        { "unix", AF_UNIX, SOCK_STREAM, 0 },   { "inet", AF_INET, SOCK_STREAM, 0 },
        { "inet6", AF_INET6, SOCK_STREAM, 0 }, { "netlink", AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */ },
        { "packet", AF_PACKET, SOCK_RAW, 0 },  { "vsock", AF_VSOCK, SOCK_STREAM, 0 },
        { "alg", AF_ALG, SOCK_SEQPACKET, 0 },  { "bluetooth", AF_BLUETOOTH, SOCK_RAW, 0 },
};

/* socket-FAMILY: a name above or a number; -EINVAL when it is neither. */
static int socket_family_lookup(const char *family, unsigned long *ret_domain, int *ret_type, int *ret_protocol) {
        for (size_t i = 0; i < sizeof(socket_families) / sizeof(socket_families[0]); i++)
                if (strcmp(family, socket_families[i].name) == 0) {
                        *ret_domain = (unsigned long) socket_families[i].family;
                        *ret_type = socket_families[i].type;
                        *ret_protocol = socket_families[i].protocol;
                        return 0;
                }
        *ret_type = SOCK_STREAM;
        *ret_protocol = 0;
        return parse_ulong(family, ret_domain);
}

/* One IORING_OP_SOCKET through a ring of one entry, with the raw syscalls
 * (no liburing): 0 when the socket was made, else the negative errno of the
 * step that failed (setup, mmap, enter) or of the operation itself. */
static long uring_socket(unsigned long domain, int type, int protocol) {
        struct io_uring_params p = {};
        int fd = (int) syscall(SYS_io_uring_setup, 1, &p);
        if (fd < 0)
                return -errno;
        size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
        size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
        size_t sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
        long r = 0;
        char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
        char *cq = mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        struct io_uring_sqe *sqes =
                mmap(NULL, sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
        if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
                r = -errno;
                goto out;
        }
        sqes[0] = (struct io_uring_sqe) {
                .opcode = IORING_OP_SOCKET,
                .fd = (int) domain,
                .off = (uint64_t) (type | SOCK_CLOEXEC),
                .len = (uint32_t) protocol,
        };
        unsigned *tail = (unsigned *) (sq + p.sq_off.tail), mask = *(unsigned *) (sq + p.sq_off.ring_mask);
        ((unsigned *) (sq + p.sq_off.array))[*tail & mask] = 0;
        __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
        if (syscall(SYS_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
                r = -errno;
                goto out;
        }
        unsigned head = __atomic_load_n((unsigned *) (cq + p.cq_off.head), __ATOMIC_ACQUIRE);
        unsigned cq_mask = *(unsigned *) (cq + p.cq_off.ring_mask);
        if (head == __atomic_load_n((unsigned *) (cq + p.cq_off.tail), __ATOMIC_ACQUIRE)) {
                r = -EAGAIN; /* no completion: cannot happen with GETEVENTS */
                goto out;
        }
        int res = ((struct io_uring_cqe *) (cq + p.cq_off.cqes))[head & cq_mask].res;
        if (res >= 0)
                close(res);
        r = res < 0 ? res : 0;
out:
        if (sqes != MAP_FAILED)
                munmap(sqes, sqes_size);
        if (cq != MAP_FAILED)
                munmap(cq, cq_size);
        if (sq != MAP_FAILED)
                munmap(sq, sq_size);
        close(fd);
        return r;
}

static long probe_socket_highbits(const char *arg) {
        /* AF_UNIX with junk in the upper half: the kernel reads an int. */
        return probe_socket_raw(AF_UNIX | (UINT64_C(1) << 32), SOCK_STREAM, 0);
}

static long probe_name_to_handle_at(const char *arg) {
        struct {
                struct file_handle fh;
                unsigned char buf[128];
        } h = { .fh.handle_bytes = 128 };
        int mount_id;
        return ret_errno(name_to_handle_at(AT_FDCWD, arg ? arg : "/", &h.fh, &mount_id, 0));
}

static long probe_open_by_handle_at(const char *arg) {
        struct {
                struct file_handle fh;
                unsigned char buf[128];
        } h = { .fh.handle_bytes = 128 };
        int mount_id;
        /* With a real handle if we can get one, else an empty one. */
        (void) name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0);
        int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;
        long r = ret_fd(open_by_handle_at(root, &h.fh, O_RDONLY | O_CLOEXEC));
        close(root);
        return r;
}

static long probe_sethostname(const char *arg) {
        return ret_errno(sethostname("csand-try", strlen("csand-try")));
}

static long probe_io_uring_setup(const char *arg) {
        unsigned char params[120] = {}; /* struct io_uring_params */
        return ret_fd(syscall(SYS_io_uring_setup, 1, params));
}

static long probe_reboot(const char *arg) {
        /* LINUX_REBOOT_CMD_CAD_OFF: harmless even if it were allowed. */
        return ret_errno(syscall(SYS_reboot, 0xfee1dead, 672274793, 0, NULL));
}

static long probe_iopl(const char *arg) {
#ifdef SYS_iopl
        return ret_errno(syscall(SYS_iopl, 0));
#else
        return -ENOSYS;
#endif
}

static long probe_acct(const char *arg) {
        return ret_errno(syscall(SYS_acct, NULL));
}

static long probe_clock_settime(const char *arg) {
        struct timespec ts;
        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return -errno;
        return ret_errno(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
}

static long probe_kcmp(const char *arg) {
        pid_t self = getpid();
        return ret_errno(syscall(SYS_kcmp, self, self, 0 /* KCMP_FILE */, 0, 0));
}

/* syscall NUMBER: a raw syscall with zero arguments, e.g. one newer than
 * any profile. */
static long probe_syscall_number(const char *arg) {
        unsigned long nr;
        if (!arg || parse_ulong(arg, &nr) < 0)
                return -EINVAL;
        return ret_errno(syscall((long) nr, 0, 0, 0, 0, 0, 0));
}

static const struct {
        const char *name;
        ProbeFn fn;
        const char *arg_help;
} probes[] = {
        { "getpid", probe_getpid, NULL },
        { "sched_yield", probe_sched_yield, NULL },
        { "unshare-user", probe_unshare_user, NULL },
        { "unshare-net", probe_unshare_net, NULL },
        { "unshare-mount", probe_unshare_mount, NULL },
        { "unshare-files", probe_unshare_files, NULL },
        { "clone", probe_clone_plain, NULL },
        { "clone-newuser", probe_clone_newuser, NULL },
        { "clone3", probe_clone3, NULL },
        { "clone3-newuser", probe_clone3_newuser, NULL },
        { "setns", probe_setns, NULL },
        { "mount", probe_mount, NULL },
        { "umount", probe_umount, NULL },
        { "pivot_root", probe_pivot_root, NULL },
        { "chroot", probe_chroot, NULL },
        { "fsopen", probe_fsopen, NULL },
        { "fspick", probe_fspick, NULL },
        { "open_tree", probe_open_tree, NULL },
        { "move_mount", probe_move_mount, NULL },
        { "mount_setattr", probe_mount_setattr, NULL },
        { "keyctl", probe_keyctl, NULL },
        { "add_key", probe_add_key, NULL },
        { "request_key", probe_request_key, NULL },
        { "bpf", probe_bpf, NULL },
        { "perf_event_open", probe_perf_event_open, NULL },
        { "ptrace-attach", probe_ptrace_attach, NULL },
        { "process_vm_readv", probe_process_vm_readv, NULL },
        { "userfaultfd", probe_userfaultfd, NULL },
        { "tiocsti", probe_tiocsti, NULL },
        { "tiocsti-highbits", probe_tiocsti_highbits, NULL },
        { "tioclinux", probe_tioclinux, NULL },
        { "tcgets", probe_tcgets, NULL },
        { "personality", probe_personality, "[PERSONA]" },
        { "socket-highbits", probe_socket_highbits, NULL },
        { "name_to_handle_at", probe_name_to_handle_at, "[PATH]" },
        { "open_by_handle_at", probe_open_by_handle_at, NULL },
        { "sethostname", probe_sethostname, NULL },
        { "io_uring_setup", probe_io_uring_setup, NULL },
        { "reboot", probe_reboot, NULL },
        { "iopl", probe_iopl, NULL },
        { "acct", probe_acct, NULL },
        { "clock_settime", probe_clock_settime, NULL },
        { "kcmp", probe_kcmp, NULL },
        { "syscall", probe_syscall_number, "NUMBER" },
};

static int usage(void) {
        fprintf(stderr, "usage: try-syscall NAME [ARG]   (try-syscall --list: the names)\n");
        return 2;
}

static void list(void) {
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
                printf("%s%s%s\n", probes[i].name, probes[i].arg_help ? " " : "", probes[i].arg_help ? probes[i].arg_help : "");
        for (size_t i = 0; i < sizeof(socket_families) / sizeof(socket_families[0]); i++)
                printf("socket-%s\n", socket_families[i].name);
        printf("socket-NUMBER\n");
        for (size_t i = 0; i < sizeof(socket_families) / sizeof(socket_families[0]); i++)
                printf("uring-socket-%s\n", socket_families[i].name);
        printf("uring-socket-NUMBER\n");
}

static void report(const char *name, long r) {
        if (r == 0)
                printf("%s: ok\n", name);
        else {
                const char *ename = strerrorname_np((int) -r);
                printf("%s: errno=%s (%s)\n", name, ename ? ename : "?", strerror((int) -r));
        }
        fflush(stdout);
}

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], "--list") == 0) {
                list();
                return 0;
        }
        if (argc < 2 || argc > 3)
                return usage();
        const char *name = argv[1], *arg = argc == 3 ? argv[2] : NULL;

        if (strncmp(name, "socket-", strlen("socket-")) == 0 && strcmp(name, "socket-highbits") != 0) {
                unsigned long domain;
                int type, protocol;
                if (arg || socket_family_lookup(name + strlen("socket-"), &domain, &type, &protocol) < 0)
                        return usage();
                report(name, probe_socket_raw(domain, type, protocol));
                return 0;
        }
        if (strncmp(name, "uring-socket-", strlen("uring-socket-")) == 0) {
                unsigned long domain;
                int type, protocol;
                if (arg || socket_family_lookup(name + strlen("uring-socket-"), &domain, &type, &protocol) < 0)
                        return usage();
                report(name, uring_socket(domain, type, protocol));
                return 0;
        }
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
                if (strcmp(probes[i].name, name) != 0)
                        continue;
                if (arg && !probes[i].arg_help)
                        return usage();
                report(name, probes[i].fn(arg));
                return 0;
        }
        fprintf(stderr, "try-syscall: unknown syscall probe %s\n", name);
        return 2;
}
