/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * seccomp_profile_compile(): the shipped profiles and the fixtures in
 * tests/fixtures/seccomp/ are compiled, and the BPF is loaded in a forked
 * child (no_new_privs, PR_SET_SECCOMP) that makes real syscalls; the parent
 * checks each answer. Every probe is chosen so that, without the filter, the
 * kernel would answer differently: a passing check proves the filter did it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "tap.h"
#include "utils/seccomp-profile.h"
#include "utils/seccomp.h"

#ifndef CLONE_NEWUSER
#define CLONE_NEWUSER 0x10000000
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* The fd the child's ioctl probes use: a pipe, which is no terminal, so an
 * ioctl that gets through fails with ENOTTY. */
#define PIPE_FD 200

static char source_dir[4096];
static char fixture_dir[4096 + 64];
static char profile_dir[4096 + 64];

static bool streq_ptr(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static bool strv_equal(char **a, char **b) {
        size_t i = 0;
        for (; a[i] && b[i]; i++)
                if (!streq_ptr(a[i], b[i]))
                        return false;
        return !a[i] && !b[i];
}

static const char *fixture(const char *name) {
        static char path[8192];
        snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
        return path;
}

/* ---- compiling ---- */

static bool compile_ok(const char *what, const int *caps, size_t n_caps, CompiledProfile *ret) {
        Error e = {};
        int r = seccomp_profile_compile(what, caps, n_caps, ret, &e);
        if (!CHECK(r == 0, "%s compiles", what))
                tap_diag("%s", e.message);
        return r == 0;
}

static void check_sealed_memfd(const CompiledProfile *p, const char *what) {
        struct stat st;
        CHECK(fstat(p->fd, &st) == 0 && st.st_size > 0 && st.st_size % sizeof(struct sock_filter) == 0 &&
                      st.st_size / sizeof(struct sock_filter) <= BPF_MAXINSNS,
              "%s: a non-empty BPF program of at most %d instructions", what, BPF_MAXINSNS);
        CHECK_INT(lseek(p->fd, 0, SEEK_CUR), 0, "%s: the fd is positioned at 0", what);
        CHECK_INT(fcntl(p->fd, F_GET_SEALS), F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL,
                  "%s: the memfd is sealed against writing, growing, shrinking, resealing", what);
        CHECK(write(p->fd, "x", 1) < 0 && errno == EPERM, "%s: writing to it fails", what);
        CHECK(fcntl(p->fd, F_GETFD) == FD_CLOEXEC, "%s: the fd is close-on-exec", what);
}

static size_t read_program(int fd, struct sock_filter *insns, size_t max) {
        ssize_t n = pread(fd, insns, max * sizeof(struct sock_filter), 0);
        return n < 0 ? 0 : (size_t) n / sizeof(struct sock_filter);
}

static bool program_mentions(int fd, uint32_t k) {
        static struct sock_filter insns[BPF_MAXINSNS];
        size_t n = read_program(fd, insns, BPF_MAXINSNS);
        for (size_t i = 0; i < n; i++)
                if (insns[i].k == k)
                        return true;
        return false;
}

static bool program_equal(int a, int b) {
        static struct sock_filter pa[BPF_MAXINSNS], pb[BPF_MAXINSNS];
        size_t na = read_program(a, pa, BPF_MAXINSNS), nb = read_program(b, pb, BPF_MAXINSNS);
        return na > 0 && na == nb && memcmp(pa, pb, na * sizeof(struct sock_filter)) == 0;
}

/* ---- running syscalls under a filter ---- */

typedef struct Probe {
        const char *what;
        long nr;
        unsigned long a[6];
        int expect; /* 0: success; else the errno */
        bool forks; /* clone-like: the new child exits at once */
} Probe;

#define EXPECT_SIGSYS (-SIGSYS)

static int load_program(int fd, unsigned flags) {
        static struct sock_filter insns[BPF_MAXINSNS];
        size_t n = read_program(fd, insns, BPF_MAXINSNS);
        struct sock_fprog prog = { .len = (unsigned short) n, .filter = insns };

        if (n == 0)
                return -EINVAL;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (flags == 0)
                return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -errno : 0;
        return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0 ? -errno : 0;
}

static int run_probe(const Probe *p) {
        long r = syscall(p->nr, p->a[0], p->a[1], p->a[2], p->a[3], p->a[4], p->a[5]);
        int err = r < 0 ? errno : 0;
        if (p->forks && r == 0)
                _exit(0);
        if (p->forks && r > 0)
                waitpid((pid_t) r, NULL, __WALL);
        return err;
}

/* Runs the probes in one child under the program in FD; results[i] is the
 * errno of probe i (0: success). Returns the child's wait status. */
static int run_filtered(int fd, const Probe *probes, size_t n, int *results) {
        int pipefd[2], data[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(data, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                close(pipefd[0]);
                if (dup2(data[0], PIPE_FD) < 0)
                        _exit(120);
                int r = load_program(fd, 0);
                if (r < 0)
                        _exit(121);
                for (size_t i = 0; i < n; i++) {
                        int err = run_probe(&probes[i]);
                        if (write(pipefd[1], &err, sizeof(err)) != sizeof(err))
                                _exit(122);
                }
                _exit(0);
        }
        close(pipefd[1]);
        close(data[0]);
        close(data[1]);
        size_t got = 0;
        while (got < n * sizeof(int)) {
                ssize_t k = read(pipefd[0], (char *) results + got, n * sizeof(int) - got);
                if (k <= 0)
                        break;
                got += (size_t) k;
        }
        close(pipefd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        for (size_t i = got / sizeof(int); i < n; i++)
                results[i] = -1000;
        return status;
}

static const char *errname(int err) {
        if (err == 0)
                return "success";
        if (err == EXPECT_SIGSYS)
                return "SIGSYS";
        const char *s = strerrorname_np(err);
        return s ? s : "?";
}

static void check_probes(const char *profile, int fd, const Probe *probes, size_t n) {
        int results[128];
        if (n > 128)
                abort();
        int status = run_filtered(fd, probes, n, results);
        if (!CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: the child loaded the filter and ran %zu probes",
                   profile, n))
                tap_diag("wait status 0x%x", (unsigned) status);
        for (size_t i = 0; i < n; i++)
                if (!CHECK(results[i] == probes[i].expect, "%s: %s -> %s", profile, probes[i].what, errname(probes[i].expect)))
                        tap_diag("got %s (%d)", errname(results[i]), results[i]);
}

/* For actions that end the process: one child per probe. */
static void check_probe_kills(const char *profile, int fd, const Probe *p) {
        int result;
        int status = run_filtered(fd, p, 1, &result);
        if (!CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "%s: %s -> killed by SIGSYS", profile, p->what))
                tap_diag("wait status 0x%x", (unsigned) status);
}

/* ---- the shipped profiles ---- */

static char tiocsti_char = 'x';
static struct termios termios_buf;

/* The shipped profiles let pid 1 start the command with vfork() after
 * loading them (sandbox.c's init_vfork_allowed()): vfork itself and what
 * the child does before exec are proven allowed, so the command inherits
 * the filters instead of loading them a second time. */
static void check_vfork_proven(const CompiledProfile *p, const char *what) {
#ifdef __NR_vfork
        static struct sock_filter insns[BPF_MAXINSNS];
        size_t n = read_program(p->fd, insns, BPF_MAXINSNS);
        SeccompProgram prog = { .data = insns, .len = n * sizeof(struct sock_filter) };
        const SeccompCall calls[] = {
                { .nr = __NR_vfork },
                { .nr = __NR_umask, .known_args = 1, .args = { 022 } },
                { .nr = __NR_rt_sigprocmask, .known_args = 1 << 0 | 1 << 2, .args = { SIG_SETMASK } },
                { .nr = __NR_prctl, .known_args = 0x1f, .args = { PR_SET_PDEATHSIG, SIGKILL } },
        };
        CHECK(seccomp_programs_allow(&prog, 1, calls, sizeof(calls) / sizeof(calls[0])),
              "%s: vfork and the command's calls before exec are proven allowed", what);
#else
        (void) p;
        (void) what;
#endif
}

static void test_default_profile(void) {
        _cleanup_compiled_profile_ CompiledProfile p = COMPILED_PROFILE_NULL;
        if (!compile_ok("default", NULL, 0, &p))
                return;
        check_sealed_memfd(&p, "default");
        check_vfork_proven(&p, "default");
        CHECK_UINT(p.filter_flags, 0, "default: no load flags");
        for (char **u = p.unknown_syscalls; *u; u++)
                tap_diag("default: unknown to this libseccomp, skipped: %s", *u);
#if defined(__x86_64__)
        CHECK(program_mentions(p.fd, AUDIT_ARCH_I386), "default: archMap brings x86 along on x86_64");
        CHECK(!program_mentions(p.fd, AUDIT_ARCH_AARCH64), "default: ... and not aarch64, which can't run here");
#endif

        const Probe probes[] = {
                { "getpid()", SYS_getpid, {}, 0 },
                { "socket(AF_INET, SOCK_DGRAM)", SYS_socket, { AF_INET, SOCK_DGRAM }, 0 },
                { "clone(SIGCHLD) (fork)", SYS_clone, { SIGCHLD }, 0, true },
                { "clone(CLONE_NEWUSER|SIGCHLD)", SYS_clone, { CLONE_NEWUSER | SIGCHLD }, EPERM, true },
                { "clone(CLONE_NEWNET|SIGCHLD)", SYS_clone, { CLONE_NEWNET | SIGCHLD }, EPERM, true },
                { "clone3() falls back", SYS_clone3, { 0, 0 }, ENOSYS, true },
                { "unshare(CLONE_NEWUSER)", SYS_unshare, { CLONE_NEWUSER }, EPERM },
                { "unshare(CLONE_NEWNS)", SYS_unshare, { CLONE_NEWNS }, EPERM },
                { "unshare(CLONE_NEWTIME)", SYS_unshare, { 0x80 }, EPERM },
                { "unshare(CLONE_FILES)", SYS_unshare, { CLONE_FILES }, 0 },
                { "setns(-1, 0)", SYS_setns, { (unsigned long) -1, 0 }, EPERM },
                { "mount(NULL...)", SYS_mount, {}, EPERM },
                { "umount2(\"/\")", SYS_umount2, { (unsigned long) "/", 0 }, EPERM },
                { "fsopen(NULL)", SYS_fsopen, {}, ENOSYS },
                { "open_tree(AT_FDCWD, \"/\")", SYS_open_tree, { (unsigned long) AT_FDCWD, (unsigned long) "/" }, ENOSYS },
                { "keyctl(KEYCTL_GET_KEYRING_ID)",
                  SYS_keyctl,
                  { KEYCTL_GET_KEYRING_ID, (unsigned long) KEY_SPEC_PROCESS_KEYRING, 1 },
                  EPERM },
                { "add_key(NULL...)", SYS_add_key, {}, EPERM },
                { "bpf(1000)", SYS_bpf, { 1000 }, EPERM },
                { "perf_event_open(NULL)", SYS_perf_event_open, {}, EPERM },
                { "ptrace(0xdead)", SYS_ptrace, { 0xdead }, EPERM },
                { "process_vm_readv(self, nothing)", SYS_process_vm_readv, { (unsigned long) getpid() }, EPERM },
                { "name_to_handle_at(NULL)", SYS_name_to_handle_at, {}, EPERM },
                { "userfaultfd(bad flags)", SYS_userfaultfd, { 0x7fff0000 }, EPERM },
                { "chroot(NULL) without CAP_SYS_CHROOT", SYS_chroot, {}, EPERM },
                { "sethostname(NULL, 0)", SYS_sethostname, {}, EPERM },
                { "io_uring_setup(1, NULL)", SYS_io_uring_setup, { 1 }, ENOSYS },
                { "personality(0xffffffff) (query)", SYS_personality, { 0xffffffff }, 0 },
                { "personality(PER_LINUX)", SYS_personality, { 0 }, 0 },
                { "personality(ADDR_NO_RANDOMIZE)", SYS_personality, { 0x40000 }, ENOSYS },
                { "kcmp() (not listed: default ENOSYS)", SYS_kcmp, {}, ENOSYS },
                { "syscall 1000 (unknown)", 1000, {}, ENOSYS },
        };
        check_probes("default", p.fd, probes, ELEMENTSOF(probes));
}

static void test_desktop_profile(void) {
        _cleanup_compiled_profile_ CompiledProfile p = COMPILED_PROFILE_NULL;
        if (!compile_ok("desktop", NULL, 0, &p))
                return;
        check_sealed_memfd(&p, "desktop");
        check_vfork_proven(&p, "desktop");
        CHECK(p.unknown_syscalls[0] == NULL, "desktop: every syscall it names is known to libseccomp");

        const Probe probes[] = {
                { "ioctl(pipe, TIOCSTI)", SYS_ioctl, { PIPE_FD, TIOCSTI, (unsigned long) &tiocsti_char }, EPERM },
                { "ioctl(pipe, TIOCSTI | 1<<32)",
                  SYS_ioctl,
                  { PIPE_FD, (unsigned long) TIOCSTI | (1UL << 32), (unsigned long) &tiocsti_char },
                  EPERM },
                { "ioctl(pipe, TIOCLINUX)", SYS_ioctl, { PIPE_FD, TIOCLINUX, (unsigned long) &tiocsti_char }, EPERM },
                { "ioctl(pipe, TCGETS) gets through", SYS_ioctl, { PIPE_FD, TCGETS, (unsigned long) &termios_buf }, ENOTTY },
                { "socket(AF_UNIX)", SYS_socket, { AF_UNIX, SOCK_STREAM }, 0 },
                { "socket(AF_INET)", SYS_socket, { AF_INET, SOCK_DGRAM }, 0 },
                { "socket(AF_INET6)", SYS_socket, { AF_INET6, SOCK_DGRAM }, 0 },
                { "socket(AF_NETLINK)", SYS_socket, { AF_NETLINK, SOCK_RAW }, 0 },
                { "socket(AF_VSOCK)", SYS_socket, { AF_VSOCK, SOCK_STREAM }, EAFNOSUPPORT },
                { "socket(AF_PACKET)", SYS_socket, { AF_PACKET, SOCK_RAW }, EAFNOSUPPORT },
                { "socket(AF_UNSPEC)", SYS_socket, { AF_UNSPEC, SOCK_STREAM }, EAFNOSUPPORT },
                { "socket(AF_UNIX | 1<<32)", SYS_socket, { AF_UNIX | (1UL << 32), SOCK_STREAM }, EAFNOSUPPORT },
                { "personality(0xffffffff) (query)", SYS_personality, { 0xffffffff }, 0 },
                { "personality(PER_LINUX)", SYS_personality, { 0 }, 0 },
                { "personality(ADDR_NO_RANDOMIZE)", SYS_personality, { 0x40000 }, EPERM },
                { "personality(PER_LINUX32)", SYS_personality, { 8 }, EPERM },
                { "personality(0x7fffffff)", SYS_personality, { 0x7fffffff }, EPERM },
                { "personality(0x80000000)", SYS_personality, { 0x80000000 }, EPERM },
                { "personality(1<<32) (the kernel sees 0)", SYS_personality, { 1UL << 32 }, 0 },
                { "clone(SIGCHLD) (fork)", SYS_clone, { SIGCHLD }, 0, true },
                { "clone(CLONE_NEWUSER|SIGCHLD)", SYS_clone, { CLONE_NEWUSER | SIGCHLD }, EPERM, true },
                { "clone3() falls back", SYS_clone3, { 0, 0 }, ENOSYS, true },
                { "unshare(CLONE_NEWUSER)", SYS_unshare, { CLONE_NEWUSER }, EPERM },
                { "setns(-1, 0)", SYS_setns, { (unsigned long) -1, 0 }, EPERM },
                { "fsopen(NULL)", SYS_fsopen, {}, ENOSYS },
                { "open_tree(AT_FDCWD, \"/\")", SYS_open_tree, { (unsigned long) AT_FDCWD, (unsigned long) "/" }, ENOSYS },
                { "keyctl(KEYCTL_GET_KEYRING_ID)",
                  SYS_keyctl,
                  { KEYCTL_GET_KEYRING_ID, (unsigned long) KEY_SPEC_PROCESS_KEYRING, 1 },
                  EPERM },
                { "request_key(NULL)", SYS_request_key, {}, EPERM },
                { "perf_event_open(NULL)", SYS_perf_event_open, {}, EPERM },
                { "ptrace(0xdead)", SYS_ptrace, { 0xdead }, EPERM },
                { "kcmp() is allowed", SYS_kcmp, { (unsigned long) getpid(), (unsigned long) getpid(), 0, 0, 0 }, 0 },
                { "getpid()", SYS_getpid, {}, 0 },
        };
        check_probes("desktop", p.fd, probes, ELEMENTSOF(probes));
}

/* ---- the fixtures ---- */

static void test_args_fixture(void) {
        static const int sys_admin[] = { 21 /* CAP_SYS_ADMIN */ };
        static const int net_and_sys_admin[] = { 12 /* CAP_NET_ADMIN */, 21 };
        _cleanup_compiled_profile_ CompiledProfile none = COMPILED_PROFILE_NULL, one = COMPILED_PROFILE_NULL,
                                                   two = COMPILED_PROFILE_NULL;

        if (!compile_ok(fixture("args.json"), NULL, 0, &none) || !compile_ok(fixture("args.json"), sys_admin, 1, &one) ||
            !compile_ok(fixture("args.json"), net_and_sys_admin, 2, &two))
                return;
        CHECK(none.unknown_syscalls[0] && streq_ptr(none.unknown_syscalls[0], "csand_no_such_syscall") &&
                      !none.unknown_syscalls[1],
              "args.json: the unknown syscall name is reported, and only it");

        const Probe probes[] = {
                { "getsid(66001): EQ, errnoRet 42", SYS_getsid, { 66001 }, 42 },
                { "getsid(66002): no errnoRet means EPERM", SYS_getsid, { 66002 }, EPERM },
                { "getsid(66003): no rule", SYS_getsid, { 66003 }, ESRCH },
                { "getsid(66004): an errno name alone", SYS_getsid, { 66004 }, EDOM },
                { "getsid(66005): errnoRet wins over the name", SYS_getsid, { 66005 }, 41 },
                { "getsid(UINT64_MAX): a 64-bit value", SYS_getsid, { UINT64_MAX }, 43 },
                { "setpgid(66011): same index twice, first", SYS_setpgid, { 66011, 0 }, 44 },
                { "setpgid(66012): same index twice, second", SYS_setpgid, { 66012, 0 }, 44 },
                { "setpgid(66013): neither", SYS_setpgid, { 66013, 0 }, ESRCH },
                { "kill(66021, 0): both indexes match", SYS_kill, { 66021, 0 }, 45 },
                { "kill(66021, SIGCONT): only one does", SYS_kill, { 66021, SIGCONT }, ESRCH },
                { "close(0x1234): MASKED_EQ matches", SYS_close, { 0x1234 }, 46 },
                { "close(0x1334): MASKED_EQ does not", SYS_close, { 0x1334 }, EBADF },
                { "dup(66032): GT", SYS_dup, { 66032 }, 47 },
                { "dup(66031): not GT", SYS_dup, { 66031 }, EBADF },
                { "fsync(66041): GE", SYS_fsync, { 66041 }, 48 },
                { "fsync(66040): not GE", SYS_fsync, { 66040 }, EBADF },
                { "fdatasync(1): LT 3", SYS_fdatasync, { 1 }, 49 },
                { "fdatasync(66050): not LT", SYS_fdatasync, { 66050 }, EBADF },
                { "syncfs(66051): LE", SYS_syncfs, { 66051 }, 50 },
                { "syncfs(66052): not LE", SYS_syncfs, { 66052 }, EBADF },
                { "fchdir(66062): NE", SYS_fchdir, { 66062 }, 51 },
                { "fchdir(66061): not NE", SYS_fchdir, { 66061 }, EBADF },
                { "getpgid(66071): legacy \"name\"", SYS_getpgid, { 66071 }, 52 },
                { "getpgid(66072): excludes.caps, cap not held", SYS_getpgid, { 66072 }, 53 },
                { "getpgid(66073): includes.caps, cap not held", SYS_getpgid, { 66073 }, ESRCH },
                { "getpgid(66075): includes.minKernel 3.0", SYS_getpgid, { 66075 }, 56 },
                { "getpgid(66076): includes.minKernel 999.0", SYS_getpgid, { 66076 }, ESRCH },
                { "getpgid(66077): excludes.minKernel 3.0", SYS_getpgid, { 66077 }, ESRCH },
                { "getpgid(66078): includes.arches (native)", SYS_getpgid, { 66078 }, 59 },
                { "getpgid(66079): includes.arches (mips)", SYS_getpgid, { 66079 }, ESRCH },
                { "getpgid(66080): excludes.arches (native)", SYS_getpgid, { 66080 }, ESRCH },
                { "getpgid(66083): SCMP_ACT_LOG lets it through", SYS_getpgid, { 66083 }, ESRCH },
                { "getppid(): a rule equal to the default action", SYS_getppid, {}, 0 },
        };
        check_probes("args.json", none.fd, probes, ELEMENTSOF(probes));

        const Probe kills[] = {
                { "getpgid(66081): SCMP_ACT_KILL_PROCESS", SYS_getpgid, { 66081 }, EXPECT_SIGSYS },
                { "getpgid(66082): SCMP_ACT_TRAP", SYS_getpgid, { 66082 }, EXPECT_SIGSYS },
                { "getpgid(66084): SCMP_ACT_KILL", SYS_getpgid, { 66084 }, EXPECT_SIGSYS },
                { "getpgid(66085): SCMP_ACT_KILL_THREAD", SYS_getpgid, { 66085 }, EXPECT_SIGSYS },
        };
        for (size_t i = 0; i < ELEMENTSOF(kills); i++)
                check_probe_kills("args.json", none.fd, &kills[i]);

        const Probe with_sys_admin[] = {
                { "getpgid(66072): excludes.caps, cap held", SYS_getpgid, { 66072 }, ESRCH },
                { "getpgid(66074): includes two caps, one held", SYS_getpgid, { 66074 }, ESRCH },
        };
        check_probes("args.json with CAP_SYS_ADMIN", one.fd, with_sys_admin, ELEMENTSOF(with_sys_admin));

        const Probe with_both[] = {
                { "getpgid(66073): includes.caps, cap held", SYS_getpgid, { 66073 }, 54 },
                { "getpgid(66074): includes two caps, both held", SYS_getpgid, { 66074 }, 55 },
        };
        check_probes("args.json with CAP_NET_ADMIN and CAP_SYS_ADMIN", two.fd, with_both, ELEMENTSOF(with_both));
}

static void test_errno_default_fixture(void) {
        _cleanup_compiled_profile_ CompiledProfile p = COMPILED_PROFILE_NULL;
        if (!compile_ok(fixture("errno-default.json"), NULL, 0, &p))
                return;
        const Probe probes[] = {
                { "getpid(): allowed", SYS_getpid, {}, 0 },
                { "getppid(): defaultAction ERRNO without defaultErrnoRet is EPERM", SYS_getppid, {}, EPERM },
        };
        check_probes("errno-default.json", p.fd, probes, ELEMENTSOF(probes));
}

static void test_docker_style_fixture(void) {
        static const int net_admin[] = { 12 };
        _cleanup_compiled_profile_ CompiledProfile p = COMPILED_PROFILE_NULL, q = COMPILED_PROFILE_NULL;
        if (!compile_ok(fixture("docker-style.json"), NULL, 0, &p) ||
            !compile_ok(fixture("docker-style.json"), net_admin, 1, &q))
                return;
        const Probe probes[] = {
                { "socket(AF_VSOCK)", SYS_socket, { AF_VSOCK, SOCK_STREAM }, EACCES },
                { "socket(AF_INET6) without CAP_NET_ADMIN", SYS_socket, { AF_INET6, SOCK_DGRAM }, EACCES },
                { "socket(AF_INET)", SYS_socket, { AF_INET, SOCK_DGRAM }, 0 },
                { "personality(ADDR_NO_RANDOMIZE)", SYS_personality, { 0x40000 }, EINVAL },
                { "keyctl(KEYCTL_GET_KEYRING_ID)",
                  SYS_keyctl,
                  { KEYCTL_GET_KEYRING_ID, (unsigned long) KEY_SPEC_PROCESS_KEYRING, 1 },
                  EPERM },
        };
        check_probes("docker-style.json", p.fd, probes, ELEMENTSOF(probes));
        const Probe with_cap[] = {
                { "socket(AF_INET6) with CAP_NET_ADMIN", SYS_socket, { AF_INET6, SOCK_DGRAM }, 0 },
                { "socket(AF_VSOCK) still refused", SYS_socket, { AF_VSOCK, SOCK_STREAM }, EACCES },
        };
        check_probes("docker-style.json with CAP_NET_ADMIN", q.fd, with_cap, ELEMENTSOF(with_cap));
}

static void test_flags_and_arches(void) {
        _cleanup_compiled_profile_ CompiledProfile f = COMPILED_PROFILE_NULL, a = COMPILED_PROFILE_NULL;
        if (compile_ok(fixture("flags.json"), NULL, 0, &f))
                CHECK_UINT(f.filter_flags, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW,
                           "flags.json: LOG and SPEC_ALLOW become load flags");
        if (compile_ok(fixture("arches.json"), NULL, 0, &a)) {
#if defined(__x86_64__)
                CHECK(program_mentions(a.fd, AUDIT_ARCH_X86_64) && program_mentions(a.fd, AUDIT_ARCH_I386),
                      "arches.json: x86_64 and x86 are in the filter");
                CHECK(!program_mentions(a.fd, AUDIT_ARCH_AARCH64), "arches.json: aarch64 (not runnable here) is not");
#endif
        }
}

/* ---- bad input ---- */

static void check_fails(const char *what, int err, const char *message) {
        _cleanup_compiled_profile_ CompiledProfile p = COMPILED_PROFILE_NULL;
        Error e = {};
        int r = seccomp_profile_compile(what, NULL, 0, &p, &e);
        const char *base = strrchr(what, '/');
        CHECK_INT(r, -err, "%s is refused with %s", base ? base + 1 : what, errname(err));
        CHECK_CONTAINS(e.message, message, "%s: the message says so", base ? base + 1 : what);
        CHECK(p.fd < 0 && !p.unknown_syscalls, "%s: nothing is returned", base ? base + 1 : what);
}

static void test_bad_input(void) {
        static const struct {
                const char *file;
                int err;
                const char *message;
        } bad[] = {
                { "bad-json.json", EINVAL, "line 4, column 27: malformed JSON" },
                { "bad-trailing-comma.json", EINVAL, "line 4, column 56: malformed JSON" },
                { "bad-truncated.json", EINVAL, "line 5, column 1: malformed JSON: unexpected end of file" },
                { "bad-trailing.json", EINVAL, "line 2, column 1: malformed JSON" },
                { "bad-top-level.json", EINVAL, "the top-level value must be an object" },
                { "bad-action.json", EINVAL, "syscalls[0]: unknown action \"SCMP_ACT_FOO\"" },
                { "bad-default-action.json", EINVAL, "top level: unknown action \"SCMP_ACT_DENY\"" },
                { "bad-no-default-action.json", EINVAL, "\"defaultAction\" is missing" },
                { "bad-notify.json", EOPNOTSUPP, "action SCMP_ACT_NOTIFY is not supported" },
                { "bad-trace.json", EOPNOTSUPP, "action SCMP_ACT_TRACE is not supported" },
                { "bad-op.json", EINVAL, "syscalls[0].args[0]: unknown operator \"SCMP_CMP_FOO\"" },
                { "bad-index.json", ERANGE, "argument index 6 is out of range (0-5)" },
                { "bad-key.json", EINVAL, "syscalls[0]: unknown key \"arg\"" },
                { "bad-errno.json", ERANGE, "\"errnoRet\" is 5000, more than 4095" },
                { "bad-errno-name.json", EINVAL, "unknown errno name \"EFOO\" in \"errno\"" },
                { "bad-negative.json", ERANGE, "\"value\" must not be negative" },
                { "bad-value-type.json", EINVAL, "\"value\" must be an integer" },
                { "bad-names-type.json", EINVAL, "\"names\" must be an array" },
                { "bad-flag.json", EINVAL, "unknown flag \"SECCOMP_FILTER_FLAG_FOO\"" },
                { "bad-both-arches.json", EINVAL, "use either \"architectures\" or \"archMap\"" },
                { "bad-minkernel.json", EINVAL, "invalid minKernel \"five\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                check_fails(fixture(bad[i].file), bad[i].err, bad[i].message);

        check_fails(fixture("no-such-file.json"), ENOENT, "Can't open seccomp profile");
        check_fails(fixture_dir, EISDIR, "Can't read seccomp profile");
        check_fails("no-such-profile", ENOENT, "Unknown seccomp profile \"no-such-profile\"; known profiles: default, desktop");
        check_fails("no-such.json", ENOENT, "Unknown seccomp profile \"no-such.json\"");
        check_fails("bad!name", EINVAL, "Invalid seccomp profile name");
        check_fails(".hidden", EINVAL, "Invalid seccomp profile name");
}

/* ---- lookup ---- */

static void test_lookup(void) {
        _cleanup_strv_free_ char **names = NULL;
        CHECK_INT(seccomp_profile_list(&names), 0, "seccomp_profile_list() succeeds");
        bool has_default = false, has_desktop = false;
        for (size_t i = 0; names && names[i]; i++) {
                has_default = has_default || streq_ptr(names[i], "default");
                has_desktop = has_desktop || streq_ptr(names[i], "desktop");
        }
        CHECK(has_default && has_desktop, "the shipped profiles are listed");

        /* "args.json" has no '/' but ends in .json and exists: a path. */
        _cleanup_compiled_profile_ CompiledProfile p = COMPILED_PROFILE_NULL;
        char cwd[4096];
        if (getcwd(cwd, sizeof(cwd)) && chdir(fixture_dir) == 0) {
                compile_ok("args.json", NULL, 0, &p);
                CHECK(chdir(cwd) == 0, "back to %s", cwd);
        }
}

/* ---- the cache ---- */

static bool read_file(const char *path, char *buf, size_t size, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, size);
        close(fd);
        if (n < 0)
                return false;
        *ret_len = (size_t) n;
        return true;
}

static bool write_file(const char *path, const char *buf, size_t len) {
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return false;
        bool ok = write(fd, buf, len) == (ssize_t) len;
        close(fd);
        return ok;
}

/* The one entry in DIR, for tests that start from an empty cache. */
static bool only_entry(const char *dir, char *ret, size_t size) {
        char cmd[8300];
        snprintf(cmd, sizeof(cmd), "ls '%s'", dir);
        FILE *f = popen(cmd, "r");
        if (!f)
                return false;
        char line[512];
        int n = 0;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(ret, size, "%s/%s", dir, line);
                n++;
        }
        pclose(f);
        return n == 1;
}

static void test_cache(void) {
        char tmpl[] = "/tmp/csand-test-seccomp-cache-XXXXXX";
        if (!CHECK(mkdtemp(tmpl), "a private cache directory"))
                return;
        setenv("XDG_CACHE_HOME", tmpl, 1);
        unsetenv("CSAND_SECCOMP_CACHE");
        char dir[256], entry[1024];
        snprintf(dir, sizeof(dir), "%s/csand/seccomp", tmpl);

        _cleanup_compiled_profile_ CompiledProfile a = COMPILED_PROFILE_NULL, b = COMPILED_PROFILE_NULL,
                                                   c = COMPILED_PROFILE_NULL, d = COMPILED_PROFILE_NULL,
                                                   e = COMPILED_PROFILE_NULL, f = COMPILED_PROFILE_NULL;
        if (!compile_ok("default", NULL, 0, &a) || !compile_ok("default", NULL, 0, &b))
                return;
        CHECK(!a.from_cache, "cache: the first compilation is a real one");
        CHECK(b.from_cache, "cache: the second comes from the cache");
        CHECK(program_equal(a.fd, b.fd), "cache: same program");
        CHECK(strv_equal(a.unknown_syscalls, b.unknown_syscalls), "cache: same unknown syscalls");
        check_sealed_memfd(&b, "default from the cache");
        struct stat st;
        CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "cache: %s is private (0700)", dir);
        if (!CHECK(only_entry(dir, entry, sizeof(entry)), "cache: one entry, no temporary file left"))
                return;

        /* Damaged entries are recompiled, never trusted. */
        static char buf[1 << 20];
        size_t len;
        if (!CHECK(read_file(entry, buf, sizeof(buf), &len) && len > 64, "cache: the entry is readable"))
                return;
        CHECK(write_file(entry, buf, len - 3), "cache: truncate the entry to a size that is no whole program");
        if (compile_ok("default", NULL, 0, &c)) {
                CHECK(!c.from_cache, "cache: a truncated entry is not used");
                CHECK(program_equal(a.fd, c.fd), "cache: ... and the recompiled program is the same");
        }
        if (read_file(entry, buf, sizeof(buf), &len)) {
                buf[40] ^= 1; /* inside the key */
                write_file(entry, buf, len);
        }
        if (compile_ok("default", NULL, 0, &d))
                CHECK(!d.from_cache, "cache: an entry whose key differs is not used");

        /* Capabilities are part of the key. */
        static const int caps[] = { 18 /* CAP_SYS_CHROOT */ };
        if (compile_ok("default", caps, 1, &e))
                CHECK(!e.from_cache, "cache: other capabilities, another entry");

        /* A cache directory others may write to is not trusted. */
        _cleanup_compiled_profile_ CompiledProfile g = COMPILED_PROFILE_NULL, h = COMPILED_PROFILE_NULL;
        if (CHECK(chmod(dir, 0777) == 0, "cache: make %s writable by all", dir) && compile_ok("default", NULL, 0, &g) &&
            compile_ok("default", NULL, 0, &h))
                CHECK(!g.from_cache && !h.from_cache, "cache: entries in a directory others may write are not used");
        (void) chmod(dir, 0700);

        setenv("CSAND_SECCOMP_CACHE", "0", 1);
        if (compile_ok("default", NULL, 0, &f))
                CHECK(!f.from_cache, "cache: CSAND_SECCOMP_CACHE=0 bypasses it");
        unsetenv("CSAND_SECCOMP_CACHE");

        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
        CHECK(system(cmd) == 0, "cache: cleaned up");
}

/* ---- main ---- */

static bool find_source_dir(void) {
        const char *env = getenv("CSAND_SOURCE_DIR");
        if (env && *env)
                snprintf(source_dir, sizeof(source_dir), "%s", env);
#ifdef CSAND_SOURCE_PROFILE_DIR
        else
                snprintf(source_dir, sizeof(source_dir), "%s/..", CSAND_SOURCE_PROFILE_DIR);
#endif
        snprintf(fixture_dir, sizeof(fixture_dir), "%s/tests/fixtures/seccomp", source_dir);
        snprintf(profile_dir, sizeof(profile_dir), "%s/seccomp-profiles", source_dir);
        return source_dir[0] && access(fixture_dir, F_OK) == 0 && access(profile_dir, F_OK) == 0;
}

int main(void) {
        if (!CHECK(find_source_dir(), "the source tree is found (CSAND_SOURCE_DIR or CSAND_SOURCE_PROFILE_DIR)"))
                return tap_done();
        /* Tests compile the profiles of this tree, and never touch the
         * user's real cache. */
        setenv("CSAND_SECCOMP_PROFILE_DIR", profile_dir, 1);
        setenv("CSAND_SECCOMP_CACHE", "0", 1);

        test_default_profile();
        test_desktop_profile();
        test_args_fixture();
        test_errno_default_fixture();
        test_docker_style_fixture();
        test_flags_and_arches();
        test_bad_input();
        test_lookup();
        test_cache();
        return tap_done();
}
