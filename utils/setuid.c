/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* Setuid mode: the privileged part and the worker (see setuid.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups.h"
#include "fd-util.h"
#include "network.h"
#include "plan.h"
#include "report.h"
#include "setuid.h"
#include "userns-diag.h"

/* argv[1] of the worker: "--privsep-worker=REPORT,GATE,UID,GID". The
 * privileged part puts it there; anyone else who passes it gets nothing
 * from it (a setuid start refuses it, an unprivileged csand has nothing
 * to give away). */
#define WORKER_OPTION "--privsep-worker="
#define MAX_ARGS_FDS 16
#define MAX_FDS (MAX_ARGS_FDS + 3) /* report, gate, stops, --args copies */

/* The privileged part accepts only these namespaces from the caller;
 * CLONE_NEWUSER it adds itself. */
#define ALLOWED_FLAGS \
        ((uint64_t) (CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWCGROUP))

typedef struct CloneRequest {
        uint64_t flags;
        uint32_t uid, gid;
        uint32_t map_root;
        uint32_t has_gate;
        uint32_t has_stops;    /* pid 1's end of the stops pipe follows the gate */
        uint32_t needs_userns; /* no fallback without one (a hint: the worker checks again) */
        uint32_t n_args;
        int32_t args_fd[MAX_ARGS_FDS];
} CloneRequest;

typedef struct CloneReply {
        int32_t pid;   /* the worker, or 0 */
        int32_t error; /* positive errno, or 0 */
        char what[64]; /* the step that failed */
} CloneReply;

static bool active, worker, maps_written;
static int nouserns; /* the worker's: errno of the user namespace refused, or 0 */
static int priv_fd = -EBADF;
static pid_t priv_pid;
static int worker_report_fd = -EBADF, worker_gate_fd = -EBADF, worker_stops_fd = -EBADF;

/* Before any of csand's own code: a setuid start (and the worker, which
 * runs with capabilities) is not dumpable, whatever fs.suid_dumpable says. */
__attribute__((constructor)) static void setuid_early(void) {
        if (getauxval(AT_SECURE))
                (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int caps_get(struct __user_cap_data_struct data[2]) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        return syscall(SYS_capget, &hdr, data) < 0 ? -errno : 0;
}

static int caps_put(struct __user_cap_data_struct data[2]) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

static uint64_t caps_set_of(const struct __user_cap_data_struct data[2], size_t offset) {
        uint32_t lo, hi;
        memcpy(&lo, (const char *) &data[0] + offset, sizeof(lo));
        memcpy(&hi, (const char *) &data[1] + offset, sizeof(hi));
        return (uint64_t) hi << 32 | lo;
}

static unsigned cap_last(void) {
        for (unsigned c = 63; c > 0; c--)
                if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0)
                        return c;
        return 0;
}

/* Capabilities that came from neither the ambient set nor a uid of 0: a
 * binary installed with file capabilities, which csand refuses (bwrap did
 * too): privileges with no privileged part to keep them in. */
static bool has_file_caps(void) {
        struct __user_cap_data_struct d[2] = {};
        if (caps_get(d) < 0)
                return true;
        uint64_t permitted = caps_set_of(d, offsetof(struct __user_cap_data_struct, permitted));
        /* The common case, an ordinary user: nothing to explain, and no
         * system call more on every start. */
        if (permitted == 0)
                return false;
        for (unsigned c = 0, last = cap_last(); c <= last; c++)
                if ((permitted & (UINT64_C(1) << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) != 1)
                        return true;
        return false;
}

/* Keeps exactly KEEP in the bounding and permitted sets, EFFECTIVE of
 * them in the effective set, nothing inheritable; the bounding set first,
 * while CAP_SETPCAP is there. */
static int caps_limit(uint64_t keep, uint64_t effective) {
        for (unsigned c = 0, last = cap_last(); c <= last; c++)
                if (!(keep & (UINT64_C(1) << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
                        return -errno;
        effective &= keep;
        struct __user_cap_data_struct d[2] = {
                { .effective = (uint32_t) effective, .permitted = (uint32_t) keep },
                { .effective = (uint32_t) (effective >> 32), .permitted = (uint32_t) (keep >> 32) },
        };
        return caps_put(d);
}

#define CAP(c) (UINT64_C(1) << (c))
/* The privileged part's own work: clone, the maps, the worker's ids. */
#define PRIV_EFFECTIVE (CAP(CAP_SYS_ADMIN) | CAP(CAP_SETUID) | CAP(CAP_SETGID))
/* What a worker without a user namespace keeps (worker_caps_nouserns()):
 * mounts, pivot_root and sethostname; chroot between the caller's tree and
 * the scaffold while the root is built (mounts.c); the loopback; dropping
 * the bounding set at the end. Never one that overrides file permissions. */
#define WORKER_NOUSERNS_CAPS (CAP(CAP_SYS_ADMIN) | CAP(CAP_SYS_CHROOT) | CAP(CAP_NET_ADMIN) | CAP(CAP_SETPCAP))

/* ---- the privileged part ---- */

typedef struct Priv {
        int sock, proc_fd, exe_fd;
        uid_t uid; /* the real ids: the only ones ever mapped */
        gid_t gid;
        char **argv; /* the worker's command line: the caller's, not the request's */
        char **env;  /* the command's environment, passed on, never read */
} Priv;

static int reply(int sock, pid_t pid, int err, const char *what) {
        CloneReply r = { .pid = pid, .error = err };
        snprintf(r.what, sizeof(r.what), "%s", what ?: "");
        return send(sock, &r, sizeof(r), MSG_NOSIGNAL) == (ssize_t) sizeof(r) ? 0 : -errno;
}

static int write_map(const Priv *pv, pid_t pid, const char *file, const char *line) {
        char path[64];
        snprintf(path, sizeof(path), "%d/%s", pid, file);
        return write_string_at(pv->proc_fd, path, line);
}

/* The worker's maps: the sandbox's ids to the real ones, and, when devpts
 * needs a root inside (--dev), root to the overflow ids (bwrap's setuid
 * mode did the same): owned by nobody, reachable only with capabilities
 * the command never has. */
static int write_maps(const Priv *pv, pid_t pid, const CloneRequest *rq, const char **what) {
        char line[96];
        int r;
        *what = "setting up uid map";
        if (rq->map_root && rq->uid != 0 && pv->uid != 0)
                snprintf(line, sizeof(line), "0 65534 1\n%u %u 1\n", rq->uid, pv->uid);
        else
                snprintf(line, sizeof(line), "%u %u 1\n", rq->uid, pv->uid);
        r = write_map(pv, pid, "uid_map", line);
        if (r < 0)
                return r;
        /* As for an unprivileged writer: dropping groups must not open what
         * a group was denied. */
        *what = "error writing to setgroups";
        r = write_map(pv, pid, "setgroups", "deny");
        if (r < 0)
                return r;
        *what = "setting up gid map";
        if (rq->map_root && rq->gid != 0 && pv->gid != 0)
                snprintf(line, sizeof(line), "0 65534 1\n%u %u 1\n", rq->gid, pv->gid);
        else
                snprintf(line, sizeof(line), "%u %u 1\n", rq->gid, pv->gid);
        return write_map(pv, pid, "gid_map", line);
}

/* Copies the permitted set into the effective or the inheritable set. */
static int caps_permitted_into(bool inheritable) {
        struct __user_cap_data_struct d[2] = {};
        if (caps_get(d) < 0)
                return -errno;
        for (size_t i = 0; i < 2; i++)
                *(inheritable ? &d[i].inheritable : &d[i].effective) = d[i].permitted;
        return caps_put(d);
}

/* In the new namespaces, as root of nowhere: the global uid 0 is not
 * mapped in this user namespace, so this process holds capabilities over
 * the sandbox's namespaces only, and the caller (another uid, and not the
 * owner of the namespace) can neither ptrace nor signal it. The worker's
 * first act is to become the sandbox's user (setuid_init()). */
static int worker_caps_userns(void) {
        /* Ours alone: every capability of the new namespace, kept across
         * exec by the ambient set, which needs them inheritable. */
        int r = caps_permitted_into(true);
        if (r < 0)
                return r;
        for (unsigned cap = 0, last = cap_last(); cap <= last; cap++)
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                        return -errno;
        return 0;
}

/* No user namespace (user.max_user_namespaces=0): the namespaces belong to
 * the initial one, and the worker needs real capabilities there:
 * WORKER_NOUSERNS_CAPS and nothing else, in every set including the
 * bounding set, so that root's exec of the worker grants no more; and
 * CAP_SETUID and CAP_SETGID to become the caller, its first act
 * (start_worker()), which drops them. */
static int worker_caps_nouserns(void) {
        /* CAP_SETPCAP for the bounding set, held permitted until now. */
        int r = caps_permitted_into(false);
        if (r < 0)
                return r;
        return caps_limit(WORKER_NOUSERNS_CAPS | CAP(CAP_SETUID) | CAP(CAP_SETGID),
                          WORKER_NOUSERNS_CAPS | CAP(CAP_SETUID) | CAP(CAP_SETGID));
}

static _noreturn_ void worker_exec(const Priv *pv, const CloneRequest *rq, int no_userns, int sync_fd, int *fds, size_t n_fds) {
        char c = 0;
        while (read(sync_fd, &c, 1) < 0 && errno == EINTR)
                ;
        if (c != '1')
                _exit(1);

        int report = fds[0], gate = rq->has_gate ? fds[1] : -EBADF;
        int stops = rq->has_stops ? fds[1 + rq->has_gate] : -EBADF;
        size_t first_args = 1 + rq->has_gate + rq->has_stops;
        Error e = {};
        int r = no_userns ? worker_caps_nouserns() : worker_caps_userns();
        if (r < 0) {
                error_set_errno(&e, -r, "Can't set the worker's capabilities");
                goto fail;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                error_set_errno(&e, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
                goto fail;
        }
        /* The --args data where the caller's fds were (already read). */
        for (size_t i = 0; i < rq->n_args; i++)
                if (dup2(fds[first_args + i], rq->args_fd[i]) < 0) {
                        error_set_errno(&e, errno, "Can't pass --args data on");
                        goto fail;
                }
        if (fcntl(report, F_SETFD, 0) < 0 || (gate >= 0 && fcntl(gate, F_SETFD, 0) < 0) ||
            (stops >= 0 && fcntl(stops, F_SETFD, 0) < 0)) {
                error_set_errno(&e, errno, "fcntl");
                goto fail;
        }
        size_t argc = 0;
        while (pv->argv[argc])
                argc++;
        char **argv = calloc(argc + 2, sizeof(char *));
        char opt[128];
        if (!argv) {
                error_set_errno(&e, ENOMEM, "Out of memory");
                goto fail;
        }
        /* Without a user namespace the sandbox's ids are the real ones. */
        snprintf(opt, sizeof(opt), WORKER_OPTION "%d,%d,%d,%u,%u,%d", report, gate, stops,
                 no_userns ? pv->uid : rq->uid, no_userns ? pv->gid : rq->gid, no_userns);
        argv[0] = pv->argv[0];
        argv[1] = opt;
        memcpy(argv + 2, pv->argv + 1, (argc - 1) * sizeof(char *));
        syscall(SYS_execveat, pv->exe_fd, "", argv, pv->env, AT_EMPTY_PATH);
        error_set_errno(&e, errno, "Can't start csand's worker in the sandbox");
fail:
        report_send(report, &e);
        _exit(1);
}

static int receive_request(int sock, CloneRequest *rq, int fds[static MAX_FDS], size_t *ret_n) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
                struct cmsghdr align;
        } control = {};
        struct iovec iov = { .iov_base = rq, .iov_len = sizeof(*rq) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n == 0)
                return 0;
        if (n < 0)
                return -errno;
        size_t got = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k && got < MAX_FDS; i++)
                                memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                }
        *ret_n = got;
        /* A caller's RLIMIT_NOFILE can cut fds off: refuse, never guess. */
        if ((size_t) n != sizeof(*rq) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                return -EBADMSG;
        return 1;
}

static int check_request(const Priv *pv, const CloneRequest *rq, const int *fds, size_t n_fds) {
        if ((rq->flags & ~ALLOWED_FLAGS) || !(rq->flags & CLONE_NEWNS))
                return -EINVAL;
        if (rq->uid == (uint32_t) -1 || rq->gid == (uint32_t) -1 || rq->n_args > MAX_ARGS_FDS || rq->has_gate > 1 ||
            rq->has_stops > 1)
                return -EINVAL;
        if (n_fds != 1 + rq->has_gate + rq->has_stops + rq->n_args)
                return -EBADMSG;
        /* Each --args copy goes where the caller's fd was: never onto an fd
         * of ours. */
        for (size_t i = 0; i < rq->n_args; i++) {
                int t = rq->args_fd[i];
                if (t < 0 || t == pv->sock || t == pv->proc_fd || t == pv->exe_fd)
                        return -EINVAL;
                for (size_t j = 0; j < n_fds; j++)
                        if (t == fds[j])
                                return -EINVAL;
        }
        return 0;
}

/* One request: clone the worker into new namespaces (our caller's child,
 * CLONE_PARENT), write its maps, let it go, reply with its pid. */
static int serve_one(const Priv *pv) {
        CloneRequest rq = {};
        int fds[MAX_FDS];
        size_t n_fds = 0;
        int r = receive_request(pv->sock, &rq, fds, &n_fds);
        if (r <= 0) {
                if (r < 0)
                        (void) reply(pv->sock, 0, -r, "Can't receive the request");
                return r;
        }
        r = check_request(pv, &rq, fds, n_fds);
        if (r < 0)
                return reply(pv->sock, 0, -r, "Invalid request");

        int sync[2];
        if (pipe2(sync, O_CLOEXEC) < 0)
                return reply(pv->sock, 0, errno, "pipe");
        pid_t pid = (pid_t) syscall(SYS_clone, (unsigned long) rq.flags | CLONE_NEWUSER | CLONE_PARENT | SIGCHLD, NULL,
                                    NULL, NULL, NULL);
        /* Nobody may have a user namespace (user.max_user_namespaces=0
         * says ENOSPC, an LSM or seccomp filter EPERM): without one, as
         * bwrap's setuid mode ran, unless the sandbox can't do without. */
        int no_userns = 0;
        if (pid < 0 && (errno == ENOSPC || errno == EPERM || errno == EUSERS)) {
                no_userns = errno;
                if (rq.needs_userns) {
                        close(sync[0]);
                        close(sync[1]);
                        return reply(pv->sock, 0, no_userns, "needs-userns");
                }
                pid = (pid_t) syscall(SYS_clone, (unsigned long) rq.flags | CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
        }
        if (pid < 0) {
                int err = errno;
                close(sync[0]);
                close(sync[1]);
                return reply(pv->sock, 0, err, "clone");
        }
        if (pid == 0) {
                close(sync[1]);
                close(pv->sock);
                worker_exec(pv, &rq, no_userns, sync[0], fds, n_fds);
        }
        close(sync[0]);
        const char *what = NULL;
        r = no_userns ? 0 : write_maps(pv, pid, &rq, &what);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                close(sync[1]);
                return reply(pv->sock, pid, -r, what);
        }
        (void) write(sync[1], "1", 1);
        close(sync[1]);
        return reply(pv->sock, pid, 0, NULL);
}

/* The environment the worker is started with, which is the command's:
 * the caller's, less what the dynamic linker and glibc read before main().
 * The worker starts as root, and not in secure mode (it is no set-user-ID
 * exec): glibc's secure start of this process has dropped most of them
 * already, but not GLIBC_TUNABLES' settings it only ignored. */
static char **worker_environment(char **env) {
        size_t n = strv_length(env), k = 0;
        char **out = calloc(n + 1, sizeof(char *));
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (strncmp(env[i], "LD_", 3) != 0 && strncmp(env[i], "GLIBC_TUNABLES=", 15) != 0)
                        out[k++] = env[i];
        return out;
}

static _noreturn_ void privileged_main(int sock, char **argv, uid_t uid, gid_t gid) {
        Priv pv = { .sock = sock, .argv = argv, .env = worker_environment(environ), .uid = uid, .gid = gid };
        /* Nothing of the caller's environment decides anything here. */
        environ = NULL;
        /* No core dumps. (Real uid 0 since before the fork.) */
        struct rlimit no_core = {};
        if (setrlimit(RLIMIT_CORE, &no_core) < 0)
                _exit(1);
        pv.proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        pv.exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
        if (pv.proc_fd < 0 || pv.exe_fd < 0 || !pv.env)
                _exit(1);
        /* clone(CLONE_NEWUSER) where only root may, and the maps; the
         * worker's capabilities without a user namespace, permitted only. */
        if (caps_limit(PRIV_EFFECTIVE | WORKER_NOUSERNS_CAPS, PRIV_EFFECTIVE) < 0)
                _exit(1);
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* One sandbox per start: done after the first request. */
        _exit(serve_one(&pv) < 0);
}

/* ---- the caller's process ---- */

static int drop_to_real_user(uid_t uid, gid_t gid) {
        if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return -errno;
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        struct __user_cap_data_struct d[2] = {};
        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || caps_get(d) < 0)
                return -errno;
        if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid || d[0].permitted ||
            d[1].permitted || d[0].effective || d[1].effective)
                return -EPERM;
        /* Nothing privileged is left here: as reachable as an unprivileged
         * csand (it becomes the monitor, made not dumpable after the clone). */
        (void) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        return 0;
}

static int start_setuid(char **argv) {
        uid_t uid = getuid();
        gid_t gid = getgid();
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                log_error("socketpair: %s", strerror(errno));
                return -1;
        }
        /* Real uid 0 before the fork: the caller may not signal the
         * privileged part (kill(2) checks the real and saved uid) from its
         * first instant, nor this process until it drops to the caller. */
        if (setresuid(0, 0, 0) < 0) {
                log_error("Can't start the privileged part: %s", strerror(errno));
                return -1;
        }
        pid_t pid = fork();
        if (pid < 0) {
                log_error("Can't start the privileged part: %s", strerror(errno));
                return -1;
        }
        if (pid == 0) {
                close(sv[0]);
                privileged_main(sv[1], argv, uid, gid);
        }
        close(sv[1]);
        priv_fd = sv[0];
        priv_pid = pid;
        int r = drop_to_real_user(uid, gid);
        if (r < 0) {
                log_error("Can't drop root privileges: %s", strerror(-r));
                return -1;
        }
        active = true;
        return 0;
}

/* The worker without a user namespace, started as root with
 * WORKER_NOUSERNS_CAPS: it becomes the caller, every uid and gid the
 * caller's (the file system ids too, so every path it opens is opened with
 * the caller's rights: it holds no capability that overrides file
 * permissions, and keeps the caller's groups), keeping those capabilities
 * and no other. Checked after the change: anything else is refused. */
static int become_caller_nouserns(uid_t uid, gid_t gid) {
        if (uid == 0 || getuid() != 0 || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return -EPERM;
        if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return -errno;
        (void) prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        /* The uid change emptied the effective set, kept the permitted:
         * CAP_SETUID and CAP_SETGID go from every set. */
        struct __user_cap_data_struct d[2] = {
                { .effective = (uint32_t) WORKER_NOUSERNS_CAPS, .permitted = (uint32_t) WORKER_NOUSERNS_CAPS },
                { .effective = (uint32_t) (WORKER_NOUSERNS_CAPS >> 32), .permitted = (uint32_t) (WORKER_NOUSERNS_CAPS >> 32) },
        };
        if (caps_put(d) < 0 || prctl(PR_CAPBSET_DROP, CAP_SETUID, 0, 0, 0) < 0 ||
            prctl(PR_CAPBSET_DROP, CAP_SETGID, 0, 0, 0) < 0 || caps_get(d) < 0)
                return -errno;
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
                return -errno;
        if (ru != uid || eu != uid || su != uid || (uid_t) setfsuid((uid_t) -1) != uid || rg != gid || eg != gid ||
            sg != gid || (gid_t) setfsgid((gid_t) -1) != gid)
                return -EPERM;
        uint64_t eff = caps_set_of(d, offsetof(struct __user_cap_data_struct, effective));
        uint64_t prm = caps_set_of(d, offsetof(struct __user_cap_data_struct, permitted));
        uint64_t inh = caps_set_of(d, offsetof(struct __user_cap_data_struct, inheritable));
        return eff == WORKER_NOUSERNS_CAPS && prm == WORKER_NOUSERNS_CAPS && inh == 0 ? 0 : -EPERM;
}

/* Is the process root a chroot rather than its mount namespace's root?
 * Building the root then attaches csand's scaffold where the chroot's
 * directory was, in the tree above it, and ".." from csand's own fds on
 * the scaffold (a bind source /proc/self/fd/N/..) would reach what the
 * chroot hides. Found with CAP_SYS_CHROOT: rooted in /proc for a moment,
 * ".." from the old root climbs to whatever holds it, and stays only at
 * the namespace's root, where nothing is above. (The kernel refuses a
 * user namespace to a chrooted process, so this is the worker without
 * one; its mount namespace is its own.) */
static int root_is_chroot(void) {
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int up = -EBADF;
        struct statx a, b;
        if (root < 0 || cwd < 0 || chroot("/proc") < 0)
                return -errno;
        up = openat(root, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r = up < 0 ? -errno : 0;
        /* Back to the caller's root and directory, or nothing goes on. */
        if (fchdir(root) < 0 || chroot(".") < 0 || fchdir(cwd) < 0)
                return -errno;
        if (r < 0)
                return r;
        if (statx(root, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &a) < 0 ||
            statx(up, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &b) < 0)
                return -errno;
        return a.stx_mnt_id != b.stx_mnt_id || a.stx_ino != b.stx_ino || a.stx_dev_major != b.stx_dev_major ||
               a.stx_dev_minor != b.stx_dev_minor;
}

static int start_worker(int *argc, char ***argv) {
        const char *arg = (*argv)[1] + strlen(WORKER_OPTION);
        int report, gate, stops, no_userns;
        unsigned uid, gid;
        if (sscanf(arg, "%d,%d,%d,%u,%u,%d", &report, &gate, &stops, &uid, &gid, &no_userns) != 6 || report < 0) {
                log_error("Invalid %s", WORKER_OPTION);
                return -1;
        }
        /* First: the sandbox's user, before any file is opened (the
         * process starts as the global root, unmapped here, which the
         * file system would still take for the owner of root's files). */
        int r = no_userns                                                      ? become_caller_nouserns(uid, gid) :
                (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) ? -errno :
                                                                                 0;
        if (r < 0) {
                Error e = {};
                error_set_errno(&e, -r, "Can't switch to uid %u", uid);
                report_send(report, &e);
                return -1;
        }
        r = no_userns ? root_is_chroot() : 0;
        if (r != 0) {
                Error e = {};
                if (r < 0)
                        error_set_errno(&e, -r, "Can't tell whether the caller's root is a chroot");
                else
                        error_setf(&e, EPERM,
                                   "Setuid csand can't run in a chroot: the sandbox would reach what the chroot hides");
                report_send(report, &e);
                return -1;
        }
        nouserns = no_userns;
        /* The uid change made us dumpable if fs.suid_dumpable says so. */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        worker = maps_written = true;
        worker_report_fd = report;
        worker_gate_fd = gate;
        worker_stops_fd = stops;
        (void) fcntl(report, F_SETFD, FD_CLOEXEC);
        if (gate >= 0)
                (void) fcntl(gate, F_SETFD, FD_CLOEXEC);
        if (stops >= 0)
                (void) fcntl(stops, F_SETFD, FD_CLOEXEC);
        (*argv)[1] = (*argv)[0];
        (*argv)++;
        (*argc)--;
        return 0;
}

int setuid_init(int *argc, char ***argv) {
        uid_t ruid, euid, suid;
        gid_t rgid, egid, sgid;
        if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0) {
                log_error("getresuid: %s", strerror(errno));
                return -1;
        }
        bool marker = *argc > 1 && strncmp((*argv)[1], WORKER_OPTION, strlen(WORKER_OPTION)) == 0;
        if (euid != ruid || egid != rgid) {
                if (euid != ruid && euid != 0) {
                        log_error("Unexpected setuid user %u, should be 0", euid);
                        return -1;
                }
                if (euid == ruid) {
                        log_error("csand is setgid: install it setuid root (meson -Dsetuid=true) or without privileges");
                        return -1;
                }
                if (marker) {
                        log_error("%s is csand's own", WORKER_OPTION);
                        return -1;
                }
                return start_setuid(*argv);
        }
        if (ruid != 0 && has_file_caps()) {
                log_error("csand has file capabilities: install it setuid root (meson -Dsetuid=true) or without privileges");
                return -1;
        }
        if (marker)
                return start_worker(argc, argv);
        return 0;
}

bool setuid_active(void) {
        return active;
}

bool setuid_worker(int *ret_report_fd, int *ret_gate_fd, int *ret_stops_fd) {
        if (ret_report_fd)
                *ret_report_fd = worker_report_fd;
        if (ret_gate_fd)
                *ret_gate_fd = worker_gate_fd;
        if (ret_stops_fd)
                *ret_stops_fd = worker_stops_fd;
        return worker;
}

bool setuid_nouserns(void) {
        return nouserns != 0;
}

bool setuid_maps_written(void) {
        return maps_written;
}

void setuid_release(void) {
        if (priv_fd < 0)
                return;
        priv_fd = safe_close(priv_fd);
        (void) waitpid(priv_pid, NULL, 0);
}

static bool plan_has_overlay(const SandboxPlan *p) {
        for (size_t i = 0; i < p->n_ops; i++)
                if (p->ops[i].type == MOUNT_OP_OVERLAY)
                        return true;
        return false;
}

/* The option that can't do without a user namespace, or NULL. UID and GID
 * are the real ids. */
static const char *needs_userns(const SandboxPlan *p, uid_t uid, gid_t gid) {
        if (p->unshare_user)
                return "--unshare-user";
        if (p->uid != uid)
                return "--uid";
        if (p->gid != gid)
                return "--gid";
        if (p->disable_userns)
                return "--disable-userns";
        return NULL;
}

static int error_no_userns(Error *e, const char *option, int err) {
        Error diag = {};
        return error_setf(e, EPERM, "%s needs a user namespace, and none can be made here%s%s", option,
                          userns_diag_explain(err, &diag) > 0 ? ": " : "", diag.message);
}

int setuid_check_plan(const SandboxPlan *p, Error *e) {
        if (!active && !worker)
                return 0;
        /* Checked again by the worker: the caller's hint to the privileged
         * part decides nothing. */
        const char *option = nouserns ? needs_userns(p, getuid(), getgid()) : NULL;
        if (option)
                return error_no_userns(e, option, nouserns);
        if (p->caps != 0)
                return error_setf(e, EPERM, "--cap-add in setuid mode can be used only by root");
        if (p->userns_fd >= 0)
                return error_setf(e, EPERM, "--userns doesn't work in setuid mode");
        if (p->userns2_fd >= 0)
                return error_setf(e, EPERM, "--userns2 doesn't work in setuid mode");
        if (p->pidns_fd >= 0)
                return error_setf(e, EPERM, "--pidns doesn't work in setuid mode");
        if (p->userns_block_fd >= 0)
                return error_setf(e, EPERM, "--userns-block-fd doesn't work in setuid mode");
        if (plan_has_overlay(p))
                return error_setf(e, EPERM, "Overlays (--overlay, --tmp-overlay, --ro-overlay) are not permitted in setuid mode");
        if (p->image || p->image_overlay_rwsrc)
                return error_setf(e, EPERM, "--image is not permitted in setuid mode");
        if (network_uses_helper(&p->network, p->unshare_net))
                return error_setf(e, EPERM, "--network is not permitted in setuid mode");
        if (cgroup_needed(&p->cgroup))
                return error_setf(e, EPERM,
                                  "Resource limits (--memory, --cpus, --pids-limit, ...) are not permitted in setuid mode");
        if (p->join_target)
                return error_setf(e, EPERM, "--join doesn't work in setuid mode");
        return 0;
}

static int send_request(const CloneRequest *rq, const int *fds, size_t n_fds) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
                struct cmsghdr align;
        } control = {};
        struct iovec iov = { .iov_base = (void *) rq, .iov_len = sizeof(*rq) };
        struct msghdr msg = { .msg_iov = &iov,
                              .msg_iovlen = 1,
                              .msg_control = control.buf,
                              .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (!c)
                return -EINVAL;
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        return sendmsg(priv_fd, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int args_memfd(const struct ArgsData *a) {
        _cleanup_close_ int fd = memfd_create("csand-args", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, a->data, a->len);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        return TAKE_FD(fd);
}

pid_t setuid_clone(const SandboxPlan *p, unsigned long flags, uid_t uid, gid_t gid, bool map_root, int report_fd,
                   int gate_fd, int stops_fd, Error *e) {
        CloneRequest rq = {
                .flags = flags & ~(unsigned long) CLONE_NEWUSER,
                .uid = uid,
                .gid = gid,
                .map_root = map_root,
                .has_gate = gate_fd >= 0,
                .has_stops = stops_fd >= 0,
                .needs_userns = needs_userns(p, getuid(), getgid()) != NULL,
        };
        int fds[MAX_FDS];
        size_t n = 0;
        int r = 0;

        if (p->n_args_data > MAX_ARGS_FDS)
                return error_setf(e, E2BIG, "At most %d --args in setuid mode", MAX_ARGS_FDS);
        fds[n++] = report_fd;
        if (gate_fd >= 0)
                fds[n++] = gate_fd;
        if (stops_fd >= 0)
                fds[n++] = stops_fd;
        for (size_t i = 0; i < p->n_args_data && r >= 0; i++) {
                r = args_memfd(&p->args_data[i]);
                if (r >= 0) {
                        fds[n++] = r;
                        rq.args_fd[rq.n_args++] = p->args_data[i].fd;
                }
        }
        if (r >= 0)
                r = send_request(&rq, fds, n);
        for (size_t i = 1 + rq.has_gate + rq.has_stops; i < n; i++)
                close(fds[i]);
        if (r < 0)
                return error_set_errno(e, -r, "Can't reach csand's privileged part");

        CloneReply rp = {};
        ssize_t k = recv(priv_fd, &rp, sizeof(rp), 0);
        setuid_release();
        if (k != (ssize_t) sizeof(rp))
                return error_setf(e, EPROTO, "csand's privileged part failed");
        if (rp.error != 0) {
                if (rp.pid > 0)
                        (void) waitpid(rp.pid, NULL, 0);
                rp.what[sizeof(rp.what) - 1] = 0;
                if (strcmp(rp.what, "needs-userns") == 0)
                        return error_no_userns(e, needs_userns(p, getuid(), getgid()) ?: "The sandbox", rp.error);
                /* "clone" alone: the caller explains (no namespace for anyone?). */
                if (strcmp(rp.what, "clone") == 0)
                        return error_setf(e, rp.error, "clone");
                return error_set_errno(e, rp.error, "%s", rp.what);
        }
        return rp.pid;
}
