/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "network.h"
#include "parse-util.h"
#include "registry.h"
#include "state-dirs.h"

#define NAME_MAX_LEN 64
#define RECORD_MAX (1024 * 1024)
#define STOP_TIMEOUT_DEFAULT 10
/* After SIGKILL to the sandbox: how long its monitor may take to clean up. */
#define STOP_CLEANUP_TIMEOUT_MS 10000

struct Registration {
        int dir_fd;
        int lock_fd;
        char *name;
};

/* ---- names and options ---- */

/* Letters, digits, '_', '-', '.', starting with a letter or digit; not all
 * digits, so that --join NAME|PID is never ambiguous. */
static bool name_is_valid(const char *name) {
        size_t n = strlen(name);
        bool digits_only = true;
        if (n == 0 || n > NAME_MAX_LEN || !isalnum((unsigned char) name[0]))
                return false;
        for (const char *c = name; *c; c++) {
                if (!isalnum((unsigned char) *c) && !strchr("_-.", *c))
                        return false;
                digits_only = digits_only && isdigit((unsigned char) *c);
        }
        return !digits_only;
}

static int take_name(char **field, const char *option, const char *arg, Error *e) {
        if (!name_is_valid(arg))
                return error_setf(e, EINVAL, "Invalid %s: %s (letters, digits, '_', '-' and '.', at most %d, not only digits)",
                                  option, arg, NAME_MAX_LEN);
        char *copy = strdup(arg);
        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

int registry_parse_option(SandboxPlan *p, const char *option, const char *arg, Error *e) {
        if (strcmp(option, "--name") == 0)
                return take_name(&p->name, option, arg, e);
        if (strcmp(option, "--stop") == 0)
                return take_name(&p->stop_name, option, arg, e);
        if (strcmp(option, "--join") == 0) {
                uint32_t pid;
                if (parse_uint32(arg, &pid) >= 0 && pid > 0 && pid <= INT_MAX) {
                        /* a pid */
                } else if (!name_is_valid(arg))
                        return error_setf(e, EINVAL, "Invalid --join: %s (a sandbox's name or pid)", arg);
                char *copy = strdup(arg);
                if (!copy)
                        return -ENOMEM;
                free(p->join_target);
                p->join_target = copy;
                return 0;
        }
        if (strcmp(option, "--list") == 0) {
                p->list = true;
                return 0;
        }
        if (strcmp(option, "--json") == 0) {
                p->list_json = true;
                return 0;
        }
        if (strcmp(option, "--stop-timeout") == 0) {
                uint32_t v;
                if (parse_uint32(arg, &v) < 0 || v > 86400)
                        return error_setf(e, EINVAL, "--stop-timeout takes whole seconds from 0 to 86400: %s", arg);
                p->stop_timeout = v;
                p->stop_timeout_set = true;
                return 0;
        }
        return -EINVAL;
}

bool registry_is_command(const SandboxPlan *p) {
        return p->join_target || p->list || p->stop_name || p->list_json || p->stop_timeout_set;
}

int registry_validate_command(const SandboxPlan *p, Error *e) {
        int n = !!p->join_target + !!p->list + !!p->stop_name;
        if (n > 1)
                return error_setf(e, EINVAL, "--join, --list and --stop cannot be combined");
        if (p->list_json && !p->list)
                return error_setf(e, EINVAL, "--json requires --list");
        if (p->stop_timeout_set && !p->stop_name)
                return error_setf(e, EINVAL, "--stop-timeout requires --stop");
        const char *cmd = p->join_target ? "--join" : p->list ? "--list" : "--stop";
        if (p->name)
                return error_setf(e, EINVAL, "%s cannot be combined with --name", cmd);
        if (p->join_target) {
                if (p->sandbox_option)
                        return error_setf(e, EINVAL, "--join cannot be combined with %s: the sandbox exists already",
                                          p->sandbox_option);
                if (p->n_command == 0)
                        return error_setf(e, EINVAL, "--join requires a command: --join %s -- COMMAND", p->join_target);
                return 0;
        }
        /* The environment options are ignored: there is no command. */
        if (p->sandbox_option)
                return error_setf(e, EINVAL, "%s cannot be combined with %s", cmd, p->sandbox_option);
        if (p->n_command > 0)
                return error_setf(e, EINVAL, "%s takes no command", cmd);
        return 0;
}

/* ---- /proc ---- */

int proc_stat(pid_t pid, char *ret_state, pid_t *ret_ppid, uint64_t *ret_start) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        /* The name (field 2) may hold anything: fields 3.. follow its last ')'. */
        char *c = strrchr(buf, ')');
        char state;
        int ppid;
        if (!c || sscanf(c + 1, " %c %d", &state, &ppid) != 2)
                return -EIO;
        c++;
        for (int field = 2; field < 22; field++) {
                c = strchr(c, ' ');
                if (!c)
                        return -EIO;
                c++;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(c, &end, 10);
        if (errno || end == c)
                return -EIO;
        if (ret_state)
                *ret_state = state;
        if (ret_ppid)
                *ret_ppid = ppid;
        if (ret_start)
                *ret_start = v;
        return 0;
}

int proc_start_time(pid_t pid, uint64_t *ret) {
        return proc_stat(pid, NULL, NULL, ret);
}

int pidfd_open_verified(pid_t pid, uint64_t start) {
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return -errno;
        /* The pid may have been reused since it was recorded: a process
         * that holds it now and started at START is the recorded one, and
         * so is the pidfd, opened before. */
        uint64_t now;
        int r = proc_start_time(pid, &now);
        if (r < 0 || now != start) {
                close(fd);
                return r < 0 ? r : -ESRCH;
        }
        return fd;
}

static bool process_is(pid_t pid, uint64_t start) {
        uint64_t now;
        return pid > 0 && proc_start_time(pid, &now) >= 0 && now == start;
}

/* The recorded processes are a running sandbox's: the monitor holds the
 * name's lock (LOCK_HOLDER, as F_GETLK reports it), the child is the
 * monitor's (cloned by it, or with CLONE_PARENT by setuid csand's
 * privileged part), and both are the processes that started at the
 * recorded times. Whoever can write the registry directory can write a
 * record, but can't make another process hold its lock or parent a
 * process: so --stop and --join act on no process but the lock holder
 * and its child. */
static bool record_is_running(const RegistryEntry *e, pid_t lock_holder) {
        pid_t ppid;
        uint64_t start;
        return e->monitor_pid == lock_holder && process_is(e->monitor_pid, e->monitor_start) &&
               proc_stat(e->child_pid, NULL, &ppid, &start) >= 0 && ppid == e->monitor_pid && start == e->child_start;
}

/* ---- the directory ---- */

static int names_dir_open(bool create, int *ret) {
        _cleanup_free_ char *runtime = NULL;
        int r = create ? state_dir_make(STATE_DIR_RUNTIME, &runtime) : state_dir_path(STATE_DIR_RUNTIME, &runtime);
        if (r < 0)
                return r;
        _cleanup_close_ int rfd = open(runtime, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rfd < 0)
                return -errno;
        if (create && mkdirat(rfd, "names", 0700) < 0 && errno != EEXIST)
                return -errno;
        int fd = openat(rfd, "names", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* Another user's directory (a borrowed $XDG_RUNTIME_DIR) is not ours to trust. */
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0077)) {
                close(fd);
                return -EPERM;
        }
        *ret = fd;
        return 0;
}

static int lock_path(char *buf, size_t size, const char *name, const char *suffix) {
        int n = snprintf(buf, size, "%s.%s", name, suffix);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

/* ---- the monitor's side ---- */

int registry_claim(const char *name, Registration **ret, Error *e) {
        char lock[NAME_MAX_LEN + 8];
        int r;

        if (!name)
                return 0;
        Registration *reg = calloc(1, sizeof(*reg));
        if (!reg)
                return error_setf(e, ENOMEM, "Out of memory");
        *reg = (Registration) { .dir_fd = -EBADF, .lock_fd = -EBADF, .name = strdup(name) };
        /* The caller's from here, to release however the claim ends. */
        *ret = reg;
        if (!reg->name)
                return error_setf(e, ENOMEM, "Out of memory");
        r = names_dir_open(true, &reg->dir_fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't register --name %s: no usable $XDG_RUNTIME_DIR/csand/names", name);
        (void) lock_path(lock, sizeof(lock), name, "lock");

        for (;;) {
                _cleanup_close_ int fd = openat(reg->dir_fd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                struct stat a, b;
                if (fd < 0 || fstat(fd, &a) < 0)
                        return error_set_errno(e, errno, "Can't register --name %s", name);
                /* Not ours to lock (a FIFO planted there by someone who can write the directory). */
                if (!S_ISREG(a.st_mode))
                        return error_setf(e, EPERM, "Can't register --name %s: %s is not a regular file", name, lock);
                /* A process-owned (POSIX) lock, not an OFD lock: readers
                 * learn its holder's pid from F_GETLK (see read_entry()). */
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
                if (fcntl(fd, F_SETLK, &fl) < 0) {
                        if (errno == EAGAIN || errno == EACCES)
                                return error_setf(e, EEXIST, "A sandbox named %s is already running", name);
                        return error_set_errno(e, errno, "Can't lock --name %s", name);
                }
                /* The previous holder unlinks the file as it ends: a lock on
                 * an unlinked file protects nothing, try the new one. */
                if (fstatat(reg->dir_fd, lock, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
                        continue;
                reg->lock_fd = TAKE_FD(fd);
                return 0;
        }
}

/* "a\nb" -> "a\\nb": one record line per value. */
static void put_escaped_value(FILE *f, const char *value) {
        for (const char *c = value; *c; c++) {
                if (*c == '\\')
                        fputs("\\\\", f);
                else if (*c == '\n')
                        fputs("\\n", f);
                else
                        fputc(*c, f);
        }
        fputc('\n', f);
}

static void put_escaped(FILE *f, const char *key, const char *value) {
        fprintf(f, "%s ", key);
        put_escaped_value(f, value);
}

static void put_landlock_path(void *userdata, uint64_t access, uint64_t dev, uint64_t ino, const char *path) {
        FILE *f = userdata;
        fprintf(f, "landlock-path %" PRIx64 " %" PRIu64 " %" PRIu64 " ", access, dev, ino);
        put_escaped_value(f, path);
}

/* What --join needs to rebuild the command's Landlock domain: the child
 * waits at the gate, and sent ROOT_FD, its final root. */
static void write_landlock(const SandboxPlan *p, int root_fd, FILE *f) {
        const LandlockSettings *s = &p->landlock;
        LandlockPlan lp = plan_landlock(p);
        Error e = {};

        if (s->handled_fs == 0 && s->handled_net == 0 && s->scoped == 0)
                return;
        fprintf(f, "landlock %" PRIx64 " %" PRIx64 " %" PRIx64 "\n", s->handled_fs, s->handled_net, s->scoped);
        for (size_t i = 0; i < s->n_ports; i++)
                fprintf(f, "landlock-port %c %u %u\n", s->ports[i].bind ? 'b' : 'c', s->ports[i].first, s->ports[i].last);
        if (root_fd < 0)
                error_setf(&e, EBADMSG, "the sandbox did not send its root");
        else
                (void) landlock_resolve_rules(s, &lp, root_fd, put_landlock_path, f, &e);
        /* The sandbox runs anyway; joining it is refused, saying why. */
        if (e.error)
                put_escaped(f, "landlock-error", e.message);
}

const RegistryNamespace registry_namespaces[] = {
        { "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS },  { "pid", CLONE_NEWPID },       { "net", CLONE_NEWNET },
        { "ipc", CLONE_NEWIPC },   { "uts", CLONE_NEWUTS }, { "cgroup", CLONE_NEWCGROUP }, { NULL, 0 },
};

/* The child's cgroup v2 path, as the monitor sees it. */
static char *read_cgroup_path(pid_t pid) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (fd < 0 || read_full_fd(fd, 65536, (void **) &data, &len) < 0)
                return NULL;
        for (char *line = data; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (strncmp(line, "0::", 3) == 0)
                        return strdup(line + 3);
                line = nl ? nl + 1 : NULL;
        }
        return NULL;
}

static int write_record(const SandboxPlan *p, pid_t child, unsigned long clone_flags, int root_fd, const char *unit, FILE *f) {
        uint64_t mstart, cstart;
        int r = proc_start_time(getpid(), &mstart);
        if (r < 0)
                return r;
        r = proc_start_time(child, &cstart);
        if (r < 0)
                return r;
        fprintf(f, "version 1\n");
        put_escaped(f, "name", p->name);
        fprintf(f, "monitor %d %" PRIu64 "\n", (int) getpid(), mstart);
        fprintf(f, "child %d %" PRIu64 "\n", (int) child, cstart);
        fprintf(f, "started %lld\n", (long long) time(NULL));
        fprintf(f, "init %d\n", plan_needs_init(p));
        fprintf(f, "new-session %d\n", p->new_session);
        fprintf(f, "uid %u\ngid %u\n", (unsigned) p->uid, (unsigned) p->gid);
        fprintf(f, "caps %" PRIx64 "\n", p->caps);
        fprintf(f, "namespaces ");
        bool first = true;
        for (size_t i = 0; registry_namespaces[i].name; i++)
                if (clone_flags & registry_namespaces[i].flag) {
                        fprintf(f, "%s%s", first ? "" : ",", registry_namespaces[i].name);
                        first = false;
                }
        fprintf(f, "\nnetwork %s\n", network_mode_to_string(network_mode(&p->network, p->unshare_net)));
        fprintf(f, "limits ");
        for (size_t i = 0; i < p->cgroup.n_properties; i++) {
                const CgroupProperty *cp = &p->cgroup.properties[i];
                const char *opt = cp->option;
                while (*opt == '-')
                        opt++;
                /* --cgroup-property NAME=VALUE carries its own name */
                if (strcmp(opt, "cgroup-property") == 0)
                        fprintf(f, "%s%s", i ? "," : "", cp->text);
                else
                        fprintf(f, "%s%s=%s", i ? "," : "", opt, cp->text);
        }
        for (size_t i = 0; i < p->rlimits.n_items; i++) {
                const RlimitSetting *rl = &p->rlimits.items[i];
                const char *n = rlimit_to_name(rl->resource);
                bool first_limit = i == 0 && p->cgroup.n_properties == 0;
                fprintf(f, "%s%s=", first_limit ? "" : ",", n ? n : "?");
                if (rl->limit.rlim_cur == RLIM_INFINITY)
                        fprintf(f, "unlimited");
                else
                        fprintf(f, "%llu", (unsigned long long) rl->limit.rlim_cur);
                if (rl->limit.rlim_max == RLIM_INFINITY)
                        fprintf(f, ":unlimited");
                else
                        fprintf(f, ":%llu", (unsigned long long) rl->limit.rlim_max);
        }
        fputc('\n', f);
        if (cgroup_needed(&p->cgroup)) {
                _cleanup_free_ char *cg = read_cgroup_path(child);
                if (cg)
                        put_escaped(f, "cgroup", cg);
                if (unit)
                        put_escaped(f, "cgroup-unit", unit);
        }
        for (size_t i = 0; i < p->n_command; i++)
                put_escaped(f, "arg", p->command[i]);
        write_landlock(p, root_fd, f);
        for (size_t i = 0; i < p->n_seccomp; i++) {
                fprintf(f, "seccomp %u ", p->seccomp[i].flags);
                for (size_t j = 0; j < p->seccomp[i].len; j++)
                        fprintf(f, "%02x", ((const unsigned char *) p->seccomp[i].data)[j]);
                fputc('\n', f);
        }
        if (p->seccomp_fd >= 0)
                fprintf(f, "seccomp-unknown 1\n");
        fprintf(f, "end\n");
        return 0;
}

int registry_publish(Registration *reg, const SandboxPlan *p, pid_t child, unsigned long clone_flags, int root_fd,
                     const char *cgroup_unit, Error *e) {
        char rec[NAME_MAX_LEN + 8], tmp[NAME_MAX_LEN + 16];
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;

        if (!reg || reg->lock_fd < 0)
                return 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return error_setf(e, ENOMEM, "Out of memory");
        int r = write_record(p, child, clone_flags, root_fd, cgroup_unit, f);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return error_set_errno(e, r, "Can't register --name %s", p->name);
        (void) lock_path(rec, sizeof(rec), reg->name, "rec");
        (void) lock_path(tmp, sizeof(tmp), reg->name, "rec.new");
        /* Whole or not at all: readers see the old record (which they
         * find stale) or this one. */
        (void) unlinkat(reg->dir_fd, tmp, 0);
        _cleanup_close_ int fd = openat(reg->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return error_set_errno(e, errno, "Can't register --name %s", p->name);
        r = write_all(fd, buf, size);
        if (r >= 0 && renameat(reg->dir_fd, tmp, reg->dir_fd, rec) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(reg->dir_fd, tmp, 0);
                return error_set_errno(e, r, "Can't register --name %s", p->name);
        }
        return 0;
}

void registry_release(Registration *reg) {
        char path[NAME_MAX_LEN + 16];
        if (!reg)
                return;
        if (reg->lock_fd >= 0) {
                /* Still holding the lock: nobody else touches these. The
                 * lock file goes last, so that a start waiting on it retries
                 * on a new one (see registry_claim()). */
                (void) lock_path(path, sizeof(path), reg->name, "rec.new");
                (void) unlinkat(reg->dir_fd, path, 0);
                (void) lock_path(path, sizeof(path), reg->name, "rec");
                (void) unlinkat(reg->dir_fd, path, 0);
                (void) lock_path(path, sizeof(path), reg->name, "lock");
                (void) unlinkat(reg->dir_fd, path, 0);
                safe_close(reg->lock_fd);
        }
        safe_close(reg->dir_fd);
        free(reg->name);
        free(reg);
}

/* ---- reading registrations ---- */

void registry_entry_done(RegistryEntry *e) {
        free(e->name);
        free(e->namespaces);
        free(e->network);
        free(e->limits);
        free(e->cgroup);
        free(e->cgroup_unit);
        landlock_settings_done(&e->landlock);
        for (size_t i = 0; i < e->n_landlock_paths; i++)
                free(e->landlock_paths[i].path);
        free(e->landlock_paths);
        free(e->landlock_error);
        free(e->unknown_key);
        strv_free(e->command);
        for (size_t i = 0; i < e->n_seccomp; i++)
                free(e->seccomp[i].data);
        free(e->seccomp);
        *e = (RegistryEntry) {};
}

static char *unescape(const char *s) {
        char *out = malloc(strlen(s) + 1), *o = out;
        if (!out)
                return NULL;
        for (; *s; s++) {
                if (*s == '\\' && s[1]) {
                        s++;
                        *o++ = *s == 'n' ? '\n' : *s;
                } else
                        *o++ = *s;
        }
        *o = '\0';
        return out;
}

static int hex_decode(const char *s, void **ret, size_t *ret_len) {
        size_t n = strlen(s);
        if (n == 0 || n % 2)
                return -EINVAL;
        unsigned char *data = malloc(n / 2);
        if (!data)
                return -ENOMEM;
        for (size_t i = 0; i < n / 2; i++) {
                unsigned v;
                if (sscanf(s + 2 * i, "%2x", &v) != 1) {
                        free(data);
                        return -EINVAL;
                }
                data[i] = (unsigned char) v;
        }
        *ret = data;
        *ret_len = n / 2;
        return 0;
}

/* A key this csand does not know. A newer csand's record may hold what
 * only it knows how to apply (a restriction): --join refuses such a
 * sandbox instead of running the command without it. Keys starting with
 * "info-" are informational by this rule (what --list could show), so a
 * newer csand adds those without locking older ones out. --list and
 * --stop need no more than the pids, and go on. */
static int unknown_key(RegistryEntry *e, const char *key) {
        if (strncmp(key, "info-", 5) == 0 || e->unknown_key)
                return 0;
        return (e->unknown_key = strdup(key)) ? 0 : -ENOMEM;
}

static int parse_landlock(RegistryEntry *e, const char *key, const char *value) {
        LandlockSettings *s = &e->landlock;
        int n = 0;
        if (strcmp(key, "") == 0)
                return sscanf(value, "%" SCNx64 " %" SCNx64 " %" SCNx64, &s->handled_fs, &s->handled_net, &s->scoped) == 3 ?
                               0 :
                               -EINVAL;
        if (strcmp(key, "-error") == 0)
                return (e->landlock_error = unescape(value)) ? 0 : -ENOMEM;
        if (strcmp(key, "-port") == 0) {
                char kind;
                unsigned first, last;
                if (sscanf(value, "%c %u %u", &kind, &first, &last) != 3 || first > last || last > UINT16_MAX)
                        return -EINVAL;
                LandlockPortRule *ports = reallocarray(s->ports, s->n_ports + 1, sizeof(*ports));
                if (!ports)
                        return -ENOMEM;
                s->ports = ports;
                s->ports[s->n_ports++] =
                        (LandlockPortRule) { .bind = kind == 'b', .first = (uint16_t) first, .last = (uint16_t) last };
                return 0;
        }
        if (strcmp(key, "-path") == 0) {
                LandlockRecordedPath rp = {};
                if (sscanf(value, "%" SCNx64 " %" SCNu64 " %" SCNu64 " %n", &rp.access, &rp.dev, &rp.ino, &n) != 3 || n == 0)
                        return -EINVAL;
                LandlockRecordedPath *paths = reallocarray(e->landlock_paths, e->n_landlock_paths + 1, sizeof(*paths));
                if (!paths)
                        return -ENOMEM;
                e->landlock_paths = paths;
                if (!(rp.path = unescape(value + n)))
                        return -ENOMEM;
                paths[e->n_landlock_paths++] = rp;
                return 0;
        }
        return 1; /* not a Landlock key */
}

static int parse_line(RegistryEntry *e, char *key, char *value, size_t *n_args) {
        int n = 0;
        if (strcmp(key, "version") == 0)
                return strcmp(value, "1") == 0 ? 0 : -EPROTO;
        if (strcmp(key, "name") == 0)
                return (e->name = unescape(value)) ? 0 : -ENOMEM;
        if (strcmp(key, "monitor") == 0)
                return sscanf(value, "%d %" SCNu64 "%n", &e->monitor_pid, &e->monitor_start, &n) == 2 ? 0 : -EINVAL;
        if (strcmp(key, "child") == 0)
                return sscanf(value, "%d %" SCNu64 "%n", &e->child_pid, &e->child_start, &n) == 2 ? 0 : -EINVAL;
        if (strcmp(key, "started") == 0)
                return sscanf(value, "%" SCNd64, &e->started) == 1 ? 0 : -EINVAL;
        if (strcmp(key, "seccomp-unknown") == 0) {
                e->seccomp_unknown = true;
                return 0;
        }
        if (strcmp(key, "init") == 0 || strcmp(key, "new-session") == 0) {
                *(key[0] == 'i' ? &e->has_init : &e->new_session) = strcmp(value, "1") == 0;
                return 0;
        }
        if (strcmp(key, "uid") == 0)
                return sscanf(value, "%u", &e->uid) == 1 ? 0 : -EINVAL;
        if (strcmp(key, "gid") == 0)
                return sscanf(value, "%u", &e->gid) == 1 ? 0 : -EINVAL;
        if (strcmp(key, "caps") == 0)
                return sscanf(value, "%" SCNx64, &e->caps) == 1 ? 0 : -EINVAL;
        if (strcmp(key, "namespaces") == 0)
                return (e->namespaces = strdup(value)) ? 0 : -ENOMEM;
        if (strcmp(key, "network") == 0)
                return (e->network = strdup(value)) ? 0 : -ENOMEM;
        if (strcmp(key, "limits") == 0)
                return (e->limits = strdup(value)) ? 0 : -ENOMEM;
        if (strcmp(key, "cgroup") == 0)
                return (e->cgroup = unescape(value)) ? 0 : -ENOMEM;
        if (strcmp(key, "cgroup-unit") == 0)
                return (e->cgroup_unit = unescape(value)) ? 0 : -ENOMEM;
        if (strcmp(key, "arg") == 0) {
                char **l = realloc(e->command, (*n_args + 2) * sizeof(char *));
                if (!l)
                        return -ENOMEM;
                e->command = l;
                l[*n_args + 1] = NULL;
                if (!(l[*n_args] = unescape(value)))
                        return -ENOMEM;
                (*n_args)++;
                return 0;
        }
        if (strncmp(key, "landlock", 8) == 0) {
                int r = parse_landlock(e, key + 8, value);
                if (r <= 0)
                        return r;
        }
        if (strcmp(key, "seccomp") == 0) {
                unsigned flags;
                if (sscanf(value, "%u %n", &flags, &n) != 1)
                        return -EINVAL;
                SeccompProgram *progs = realloc(e->seccomp, (e->n_seccomp + 1) * sizeof(SeccompProgram));
                if (!progs)
                        return -ENOMEM;
                e->seccomp = progs;
                SeccompProgram *prog = &progs[e->n_seccomp];
                *prog = (SeccompProgram) { .flags = flags };
                int r = hex_decode(value + n, &prog->data, &prog->len);
                if (r < 0)
                        return r;
                e->n_seccomp++;
                return 0;
        }
        return unknown_key(e, key);
}

static int parse_record(char *data, RegistryEntry *ret) {
        RegistryEntry e = {};
        size_t n_args = 0;
        bool complete = false;
        int r = 0;

        for (char *line = data; line && *line && r >= 0;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (strcmp(line, "end") == 0) {
                        complete = true;
                        break;
                }
                char *sp = strchr(line, ' ');
                if (!sp)
                        r = -EINVAL;
                else {
                        *sp = '\0';
                        r = parse_line(&e, line, sp + 1, &n_args);
                }
                line = nl ? nl + 1 : NULL;
        }
        if (r >= 0 && (!complete || !e.name || e.monitor_pid <= 0 || e.child_pid <= 0 || !e.command))
                r = -EINVAL;
        if (r < 0) {
                registry_entry_done(&e);
                return r;
        }
        *ret = e;
        return 0;
}

/* A record's version, from its first line ("version N", the one line a
 * newer csand's format keeps); 0 when it has none. */
static uint32_t record_version(const char *data) {
        char digits[16];
        size_t n = strcspn(data, "\n");
        uint32_t v;
        if (strncmp(data, "version ", 8) != 0 || data[n] != '\n' || n - 8 >= sizeof(digits))
                return 0;
        memcpy(digits, data + 8, n - 8);
        digits[n - 8] = '\0';
        return parse_uint32(digits, &v) >= 0 ? v : 0;
}

/* A sandbox that runs under NAME whose record this csand can't use (see
 * RegistryEntry): only its name, and why. */
static int unusable_entry(const char *name, uint32_t newer_version, bool older_lock, RegistryEntry *ret) {
        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        *ret = (RegistryEntry) { .name = copy, .newer_version = newer_version, .older_lock = older_lock };
        return 0;
}

/* Why E's sandbox can't be joined or stopped by this csand; NULL when it can. */
static const char *unusable_reason(const RegistryEntry *e, char *buf, size_t size) {
        if (e->newer_version > 0) {
                snprintf(buf, size, "started by a newer csand (record version %u)", e->newer_version);
                return buf;
        }
        if (e->older_lock)
                return "started by an older csand and can't be verified (its lock names no process)";
        return NULL;
}

/* NAME's registration when its sandbox runs: 0 and *ret (maybe an unusable
 * one, see RegistryEntry); -ESRCH when it does not (no lock held, or a
 * record its processes no longer match). */
static int read_entry(int dir_fd, const char *name, RegistryEntry *ret) {
        char path[NAME_MAX_LEN + 8];
        int r = lock_path(path, sizeof(path), name, "lock");
        if (r < 0)
                return r;
        /* Regular files only: a FIFO planted here must not hang --list,
         * --join or --stop. */
        _cleanup_close_ int lfd = open_regular_at(dir_fd, path, NULL);
        if (lfd < 0)
                return lfd == -ENOENT || lfd == -EBADFD ? -ESRCH : lfd;
        /* F_GETLK, which takes nothing, and names the holder of a POSIX
         * lock (an OFD lock's is -1: not a monitor's). */
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (fcntl(lfd, F_GETLK, &fl) < 0)
                return -errno;
        if (fl.l_type == F_UNLCK)
                return -ESRCH; /* stale: the next start with this name reclaims it */

        (void) lock_path(path, sizeof(path), name, "rec");
        _cleanup_close_ int fd = open_regular_at(dir_fd, path, NULL);
        if (fd < 0)
                return fd == -ENOENT || fd == -EBADFD ? -ESRCH : fd; /* ENOENT: still starting */
        _cleanup_free_ char *data = NULL;
        size_t len;
        r = read_full_fd(fd, RECORD_MAX, (void **) &data, &len);
        if (r < 0)
                return r;
        /* Someone runs under the name with a record we can't read: said
         * so, not taken for no sandbox. */
        uint32_t version = record_version(data);
        if (version > 1)
                return unusable_entry(name, version, false, ret);
        RegistryEntry e;
        r = parse_record(data, &e);
        if (r < 0)
                return -ESRCH;
        /* An OFD lock, as an older csand's monitor held, names no holder
         * (-1): nothing ties the record's processes to the lock, so they
         * are never verified, and never acted on. */
        bool older = fl.l_pid == -1 && strcmp(e.name, name) == 0;
        /* A record left by a killed run, not yet replaced by the new
         * holder's; or one that names processes not the holder's. */
        if (older || strcmp(e.name, name) != 0 || !record_is_running(&e, fl.l_pid)) {
                registry_entry_done(&e);
                return older ? unusable_entry(name, 0, true, ret) : -ESRCH;
        }
        *ret = e;
        return 0;
}

static int entry_compare(const void *a, const void *b) {
        return strcmp(((const RegistryEntry *) a)->name, ((const RegistryEntry *) b)->name);
}

/* All running sandboxes of this user, by name. */
static int read_all(RegistryEntry **ret, size_t *ret_n) {
        RegistryEntry *list = NULL;
        size_t n = 0;
        int dir_fd, r;

        *ret = NULL;
        *ret_n = 0;
        r = names_dir_open(false, &dir_fd);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        DIR *d = fdopendir(dir_fd);
        if (!d) {
                close(dir_fd);
                return -errno;
        }
        _cleanup_closedir_ DIR *dir = d;
        struct dirent *de;
        while ((de = readdir(dir))) {
                size_t len = strlen(de->d_name);
                if (len < 6 || strcmp(de->d_name + len - 5, ".lock") != 0)
                        continue;
                char name[NAME_MAX_LEN + 1];
                if (len - 5 > NAME_MAX_LEN)
                        continue;
                memcpy(name, de->d_name, len - 5);
                name[len - 5] = '\0';
                RegistryEntry e;
                if (!name_is_valid(name) || read_entry(dirfd(dir), name, &e) < 0)
                        continue;
                RegistryEntry *l = realloc(list, (n + 1) * sizeof(RegistryEntry));
                if (!l) {
                        registry_entry_done(&e);
                        r = -ENOMEM;
                        break;
                }
                list = l;
                list[n++] = e;
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        registry_entry_done(&list[i]);
                free(list);
                return r;
        }
        if (n > 1)
                qsort(list, n, sizeof(RegistryEntry), entry_compare);
        *ret = list;
        *ret_n = n;
        return 0;
}

static void free_all(RegistryEntry *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                registry_entry_done(&list[i]);
        free(list);
}

int registry_lookup(const char *target, RegistryEntry *ret, Error *e) {
        uint32_t pid;
        int r;

        if (parse_uint32(target, &pid) >= 0) {
                RegistryEntry *list;
                size_t n;
                r = read_all(&list, &n);
                if (r < 0)
                        return error_set_errno(e, r, "Can't read the running sandboxes");
                for (size_t i = 0; i < n; i++)
                        if ((uint32_t) list[i].child_pid == pid) {
                                *ret = list[i];
                                list[i] = (RegistryEntry) {};
                                free_all(list, n);
                                return 0;
                        }
                free_all(list, n);
                return error_setf(e, ESRCH, "No running sandbox of this user has pid %s (see --list)", target);
        }
        int dir_fd;
        r = names_dir_open(false, &dir_fd);
        if (r == -ENOENT)
                r = -ESRCH;
        if (r >= 0) {
                r = read_entry(dir_fd, target, ret);
                close(dir_fd);
        }
        if (r == -ESRCH)
                return error_setf(e, ESRCH, "No running sandbox named %s (see --list)", target);
        if (r < 0)
                return error_set_errno(e, r, "Can't read the registration of %s", target);
        char buf[128];
        const char *why = unusable_reason(ret, buf, sizeof(buf));
        if (why) {
                r = ret->newer_version > 0 ? EPROTONOSUPPORT : EPERM;
                registry_entry_done(ret);
                return error_setf(e, r, "The sandbox %s was %s; use that csand to join or stop it", target, why);
        }
        return 0;
}

/* ---- --list ---- */

static void format_time(int64_t t, char *buf, size_t size) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (!localtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
                snprintf(buf, size, "%" PRId64, t);
}

/* A JSON string of S, which came from a record (a command line, maybe an
 * image's Cmd): control characters, DEL and C1 controls as \u escapes, so
 * that the JSON is as safe on a terminal as csand's other output; bytes
 * that are not UTF-8 as U+FFFD, so that it stays JSON. */
static void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *c = (const unsigned char *) s; *c;) {
                size_t n = *c >= 0x80 ? utf8_printable_len(c) : 1;
                if (*c == '"' || *c == '\\')
                        fprintf(f, "\\%c", *c);
                else if (*c < 0x20 || *c == 0x7f)
                        fprintf(f, "\\u%04x", *c);
                else if (n > 0) {
                        fwrite(c, 1, n, f);
                        c += n;
                        continue;
                } else if (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f) {
                        fprintf(f, "\\u%04x", c[1]); /* C1: U+0080..U+009F */
                        c += 2;
                        continue;
                } else
                        fputs("\\ufffd", f);
                c++;
        }
        fputc('"', f);
}

/* "a,b" as a JSON array of strings; "" as []. */
static void json_list(FILE *f, const char *csv) {
        fputc('[', f);
        for (const char *c = csv; c && *c;) {
                const char *end = strchrnul(c, ',');
                _cleanup_free_ char *item = strndup(c, (size_t) (end - c));
                if (c != csv)
                        fputs(", ", f);
                json_string(f, item ? item : "");
                c = *end ? end + 1 : end;
        }
        fputc(']', f);
}

static void print_json(FILE *f, const RegistryEntry *list, size_t n) {
        fputs("[", f);
        for (size_t i = 0; i < n; i++) {
                const RegistryEntry *e = &list[i];
                char when[64], buf[128];
                const char *why = unusable_reason(e, buf, sizeof(buf));
                fprintf(f, "%s\n  { \"name\": ", i ? "," : "");
                json_string(f, e->name);
                if (why) {
                        fputs(", \"error\": ", f);
                        json_string(f, why);
                        fputs(" }", f);
                        continue;
                }
                format_time(e->started, when, sizeof(when));
                fprintf(f, ", \"pid\": %d, \"monitor-pid\": %d, \"started\": ", (int) e->child_pid, (int) e->monitor_pid);
                json_string(f, when);
                fputs(", \"command\": [", f);
                for (char **a = e->command; *a; a++) {
                        if (a != e->command)
                                fputs(", ", f);
                        json_string(f, *a);
                }
                fputs("], \"namespaces\": ", f);
                json_list(f, e->namespaces);
                fputs(", \"network\": ", f);
                json_string(f, e->network ? e->network : "");
                fputs(", \"limits\": ", f);
                json_list(f, e->limits);
                fputs(" }", f);
        }
        fputs(n ? "\n]\n" : "]\n", f);
}

/* One line each: NAME PID STARTED NAMESPACES NETWORK LIMITS COMMAND...,
 * escaped as csand's messages are (print_line()): the command may be an
 * image's Cmd, and the record anyone's who could write the directory. One
 * whose record this csand can't use: NAME - - and why. */
static int print_lines(const RegistryEntry *list, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const RegistryEntry *e = &list[i];
                char when[64], buf[128];
                const char *why = unusable_reason(e, buf, sizeof(buf));
                if (why) {
                        print_line("%s - - %s", e->name, why);
                        continue;
                }
                _cleanup_free_ char *line = NULL;
                size_t size = 0;
                FILE *f = open_memstream(&line, &size);
                if (!f)
                        return -ENOMEM;
                format_time(e->started, when, sizeof(when));
                fprintf(f, "%s %d %s ns=%s network=%s limits=%s", e->name, (int) e->child_pid, when,
                        e->namespaces && *e->namespaces ? e->namespaces : "-", e->network ? e->network : "-",
                        e->limits && *e->limits ? e->limits : "-");
                for (char **a = e->command; *a; a++)
                        fprintf(f, " %s", *a);
                if (fclose(f) != 0)
                        return -ENOMEM;
                print_line("%s", line);
        }
        return 0;
}

int registry_run_list(const SandboxPlan *p) {
        RegistryEntry *list;
        size_t n;
        int r = read_all(&list, &n);
        if (r < 0) {
                log_error("Can't read the running sandboxes: %s", strerror(-r));
                return 1;
        }
        if (p->list_json)
                print_json(stdout, list, n);
        else
                r = print_lines(list, n);
        free_all(list, n);
        if (r < 0) {
                log_error("Can't list the running sandboxes: %s", strerror(-r));
                return 1;
        }
        return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- --stop ---- */

static bool wait_pidfd(int fd, int timeout_ms) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r;
        while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
                ;
        return r > 0;
}

static int pidfd_signal(int fd, int sig) {
        return RET_NERRNO(syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0));
}

int registry_run_stop(const SandboxPlan *p) {
        RegistryEntry entry;
        Error e = {};
        if (registry_lookup(p->stop_name, &entry, &e) < 0) {
                log_error("%s", e.message);
                return 1;
        }
        _cleanup_close_ int monitor = pidfd_open_verified(entry.monitor_pid, entry.monitor_start);
        _cleanup_close_ int child = pidfd_open_verified(entry.child_pid, entry.child_start);
        registry_entry_done(&entry);
        if (monitor < 0)
                return 0; /* ended meanwhile: stopped is stopped */

        /* The monitor passes SIGTERM on to the sandbox, and cleans up
         * (helpers, cgroup, registration) once the sandbox has ended. */
        int r = pidfd_signal(monitor, SIGTERM);
        if (r < 0 && r != -ESRCH) {
                log_error("Can't stop %s: %s", p->stop_name, strerror(-r));
                return 1;
        }
        /* Then SIGCONT, as systemd and a shell's kill do: a stopped
         * sandbox (or its csand, stopped with it) gets to act on SIGTERM
         * now instead of being killed after the grace time. The monitor
         * passes SIGCONT on to the sandbox's process group. */
        (void) pidfd_signal(monitor, SIGCONT);
        unsigned timeout = p->stop_timeout_set ? p->stop_timeout : STOP_TIMEOUT_DEFAULT;
        if (wait_pidfd(monitor, (int) timeout * 1000))
                return 0;
        /* The grace time is over: the sandbox goes (its pid 1 takes its
         * pid namespace along); its monitor still cleans up. */
        if (child >= 0)
                (void) pidfd_signal(child, SIGKILL);
        if (wait_pidfd(monitor, STOP_CLEANUP_TIMEOUT_MS))
                return 0;
        (void) pidfd_signal(monitor, SIGKILL);
        (void) wait_pidfd(monitor, -1);
        log_error("%s did not end after SIGKILL: killed its csand", p->stop_name);
        return 1;
}
