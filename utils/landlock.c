/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/landlock.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs-util.h"
#include "landlock.h"
#include "macro.h"
#include "parse-util.h"
#include "mount-op.h"

/* Debian 12's headers stop at ABI 2 (LANDLOCK_ACCESS_FS_REFER): what came
 * later is defined here, with the values of the kernel's UAPI. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)               /* ABI 6 */
#endif
/* enum landlock_rule_type's second member (ABI 4): an enum, so no #ifndef. */
#define CSAND_LANDLOCK_RULE_NET_PORT 2

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

/* The ABI 6 layouts, ours so that they do not depend on the headers'
 * age. A kernel takes a larger struct as long as what it does not know is
 * zero. */
struct csand_landlock_ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net; /* ABI 4 */
        uint64_t scoped;             /* ABI 6 */
};

struct csand_landlock_net_port_attr {
        uint64_t allowed_access;
        uint64_t port;
};

/* The filesystem rights of each ABI. */
#define FS_ABI1 ((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1)
#define FS_ABI2 (FS_ABI1 | LANDLOCK_ACCESS_FS_REFER)
#define FS_ABI3 (FS_ABI2 | LANDLOCK_ACCESS_FS_TRUNCATE)
#define FS_ABI5 (FS_ABI3 | LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* The rights that apply to a file that is not a directory: a rule on one
 * may name no other (EINVAL). */
#define FS_FILE                                                                                      \
        (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
         LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE                                                                                          \
        (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
         LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |       \
         LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE)
/* Devices: ioctls on them, and making them where a --dev-bind allows it. */
#define FS_DEVICES (LANDLOCK_ACCESS_FS_IOCTL_DEV | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK)

/* The plan's: what a read-only mount lets through (executing included,
 * as the mount is not noexec), and a read-write one. */
#define PLAN_RO (FS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define PLAN_RW (PLAN_RO | FS_WRITE)

static const uint64_t path_kind_access[_LANDLOCK_PATH_KIND_MAX] = {
        [LANDLOCK_PATH_RO] = FS_READ,
        [LANDLOCK_PATH_EXEC] = FS_READ | LANDLOCK_ACCESS_FS_EXECUTE,
        [LANDLOCK_PATH_RW] = FS_READ | FS_WRITE,
};

static const char *const path_kind_option[_LANDLOCK_PATH_KIND_MAX] = {
        [LANDLOCK_PATH_RO] = "--landlock-ro",
        [LANDLOCK_PATH_EXEC] = "--landlock-exec",
        [LANDLOCK_PATH_RW] = "--landlock-rw",
};

/* What can be asked for, and the ABI that first enforces it. */
typedef enum LandlockFeature {
        FEATURE_FS = 1 << 0,
        FEATURE_TRUNCATE = 1 << 1,
        FEATURE_IOCTL_DEV = 1 << 2,
        FEATURE_TCP_BIND = 1 << 3,
        FEATURE_TCP_CONNECT = 1 << 4,
        FEATURE_SCOPE_ABSTRACT = 1 << 5,
        FEATURE_SCOPE_SIGNAL = 1 << 6,
} LandlockFeature;

static const struct {
        LandlockFeature feature;
        int abi;
        const char *json;
} features[] = {
        { FEATURE_FS, 1, "filesystem" },
        { FEATURE_TRUNCATE, 3, "truncate" },
        { FEATURE_TCP_BIND, 4, "tcp-bind" },
        { FEATURE_TCP_CONNECT, 4, "tcp-connect" },
        { FEATURE_IOCTL_DEV, 5, "ioctl-dev" },
        { FEATURE_SCOPE_ABSTRACT, 6, "scope-abstract-unix-socket" },
        { FEATURE_SCOPE_SIGNAL, 6, "scope-signal" },
};

/* ---- options ---- */

/* PORT or FIRST-LAST, 0 to 65535. */
static int parse_port_range(const char *arg, uint16_t *ret_first, uint16_t *ret_last) {
        char buf[16];
        uint32_t first, last;
        const char *dash = strchr(arg, '-');
        size_t n = dash ? (size_t) (dash - arg) : strlen(arg);

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, arg, n);
        buf[n] = '\0';
        if (parse_uint32(buf, &first) < 0 || first > UINT16_MAX)
                return -EINVAL;
        last = first;
        if (dash && (parse_uint32(dash + 1, &last) < 0 || last > UINT16_MAX))
                return -EINVAL;
        if (last < first)
                return -ERANGE;
        *ret_first = (uint16_t) first;
        *ret_last = (uint16_t) last;
        return 0;
}

static int add_path(LandlockSettings *s, LandlockPathKind kind, const char *path, Error *e) {
        if (!*path)
                return error_setf(e, EINVAL, "%s takes a path, not an empty string", path_kind_option[kind]);
        LandlockPathRule *paths = reallocarray(s->paths, s->n_paths + 1, sizeof(*paths));
        if (!paths)
                return -ENOMEM;
        s->paths = paths;
        char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        s->paths[s->n_paths++] = (LandlockPathRule) { .kind = kind, .path = copy };
        return 0;
}

static int add_ports(LandlockSettings *s, bool bind, const char *option, const char *arg, Error *e) {
        uint16_t first, last;
        int r = parse_port_range(arg, &first, &last);
        if (r == -ERANGE)
                return error_setf(e, EINVAL, "%s: port range %s is reversed (FIRST-LAST, FIRST <= LAST)", option, arg);
        if (r < 0)
                return error_setf(e, EINVAL, "%s takes PORT or FIRST-LAST, ports 0 to 65535, not %s", option, arg);
        LandlockPortRule *ports = reallocarray(s->ports, s->n_ports + 1, sizeof(*ports));
        if (!ports)
                return -ENOMEM;
        s->ports = ports;
        s->ports[s->n_ports++] = (LandlockPortRule) { .bind = bind, .first = first, .last = last };
        return 0;
}

int landlock_settings_parse(LandlockSettings *s, const char *option, const char *arg, Error *e) {
        if (strcmp(option, "--landlock") == 0)
                s->from_plan = true;
        else if (strcmp(option, "--landlock-best-effort") == 0)
                s->best_effort = true;
        else if (strcmp(option, "--scope-abstract-sockets") == 0)
                s->scope_abstract_sockets = true;
        else if (strcmp(option, "--scope-signals") == 0)
                s->scope_signals = true;
        else if (strcmp(option, "--landlock-tcp-connect") == 0 || strcmp(option, "--landlock-tcp-bind") == 0)
                return add_ports(s, strcmp(option, "--landlock-tcp-bind") == 0, option, arg, e);
        else {
                for (int k = 0; k < _LANDLOCK_PATH_KIND_MAX; k++)
                        if (strcmp(option, path_kind_option[k]) == 0)
                                return add_path(s, (LandlockPathKind) k, arg, e);
                return error_setf(e, EINVAL, "Unknown option %s", option);
        }
        return 0;
}

bool landlock_requested(const LandlockSettings *s) {
        return s->from_plan || s->n_paths > 0 || s->n_ports > 0 || s->scope_abstract_sockets || s->scope_signals;
}

int landlock_settings_validate(const LandlockSettings *s, Error *e) {
        if (s->best_effort && !landlock_requested(s))
                return error_setf(e, EINVAL, "--landlock-best-effort requires a Landlock rule (--landlock, --landlock-ro, ...)");
        return 0;
}

void landlock_settings_done(LandlockSettings *s) {
        for (size_t i = 0; i < s->n_paths; i++)
                free(s->paths[i].path);
        free(s->paths);
        free(s->ports);
        *s = (LandlockSettings) {};
}

/* ---- the kernel's ABI ---- */

int landlock_abi(void) {
        static int abi = 0; /* 0: not asked yet */
        if (abi == 0) {
                long r = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
                abi = r > 0 ? (int) r : r == 0 ? -EINVAL : -errno;
        }
        return abi;
}

static unsigned requested_features(const LandlockSettings *s) {
        unsigned f = 0;
        if (s->from_plan || s->n_paths > 0)
                f |= FEATURE_FS | FEATURE_TRUNCATE | FEATURE_IOCTL_DEV;
        for (size_t i = 0; i < s->n_ports; i++)
                f |= s->ports[i].bind ? FEATURE_TCP_BIND : FEATURE_TCP_CONNECT;
        if (s->scope_abstract_sockets)
                f |= FEATURE_SCOPE_ABSTRACT;
        if (s->scope_signals)
                f |= FEATURE_SCOPE_SIGNAL;
        return f;
}

/* The rule that asked for FEATURE, the way the user wrote it. */
static void describe(const LandlockSettings *s, LandlockFeature feature, char *buf, size_t size) {
        const LandlockPortRule *port = NULL;
        switch (feature) {
        case FEATURE_FS:
                if (s->from_plan)
                        snprintf(buf, size, "--landlock");
                else
                        snprintf(buf, size, "%s %s", path_kind_option[s->paths[0].kind], s->paths[0].path);
                return;
        case FEATURE_TRUNCATE:
                snprintf(buf, size, "truncation outside writable paths");
                return;
        case FEATURE_IOCTL_DEV:
                snprintf(buf, size, "device ioctls");
                return;
        case FEATURE_TCP_BIND:
        case FEATURE_TCP_CONNECT:
                for (size_t i = 0; i < s->n_ports && !port; i++)
                        if (s->ports[i].bind == (feature == FEATURE_TCP_BIND))
                                port = &s->ports[i];
                if (!port)
                        break;
                if (port->first == port->last)
                        snprintf(buf, size, "--landlock-tcp-%s %u", port->bind ? "bind" : "connect", port->first);
                else
                        snprintf(buf, size, "--landlock-tcp-%s %u-%u", port->bind ? "bind" : "connect", port->first, port->last);
                return;
        case FEATURE_SCOPE_ABSTRACT:
                snprintf(buf, size, "--scope-abstract-sockets");
                return;
        case FEATURE_SCOPE_SIGNAL:
                snprintf(buf, size, "--scope-signals");
                return;
        }
        snprintf(buf, size, "?");
}

/* "X (ABI 4), Y (ABI 6)" for the features in MISSING; without the ABIs
 * when there is no Landlock at all. */
static void list_missing(const LandlockSettings *s, unsigned missing, char *buf, size_t size) {
        size_t n = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(features) && n < size; i++) {
                char what[128];
                if (!(missing & features[i].feature))
                        continue;
                describe(s, features[i].feature, what, sizeof(what));
                int k = s->abi > 0 ? snprintf(buf + n, size - n, "%s%s (ABI %d)", n ? ", " : "", what, features[i].abi) :
                                     snprintf(buf + n, size - n, "%s%s", n ? ", " : "", what);
                if (k < 0)
                        break;
                n += (size_t) k;
        }
}

static const char *unavailable_reason(int error) {
        switch (error) {
        case ENOSYS:
                return "not in this kernel";
        case EOPNOTSUPP:
                return "disabled at boot";
        default:
                return strerror(error);
        }
}

int landlock_prepare(LandlockSettings *s, Error *e) {
        s->requested = requested_features(s);
        s->prepared = true;
        if (s->requested == 0)
                return 0;

        int abi = landlock_abi();
        s->abi = abi > 0 ? abi : 0;
        s->abi_error = abi > 0 ? 0 : -abi;

        s->enforced = 0;
        for (size_t i = 0; i < ELEMENTSOF(features); i++)
                if ((s->requested & features[i].feature) && s->abi >= features[i].abi)
                        s->enforced |= features[i].feature;

        unsigned missing = s->requested & ~s->enforced;
        if (missing) {
                char list[512], head[128];
                list_missing(s, missing, list, sizeof(list));
                if (s->abi > 0)
                        snprintf(head, sizeof(head), "this kernel's Landlock (ABI %d)", s->abi);
                else
                        snprintf(head, sizeof(head), "Landlock, %s,", unavailable_reason(s->abi_error));
                if (!s->best_effort)
                        return error_setf(e, EOPNOTSUPP, "%s can't enforce %s; --landlock-best-effort runs without %s",
                                          head, list, __builtin_popcount(missing) > 1 ? "them" : "it");
                log_warning("warning: %s does not enforce %s", head, list);
        }

        if (s->enforced & FEATURE_FS)
                s->handled_fs = s->abi >= 5 ? FS_ABI5 : s->abi >= 3 ? FS_ABI3 : s->abi >= 2 ? FS_ABI2 : FS_ABI1;
        if (s->enforced & FEATURE_TCP_BIND)
                s->handled_net |= LANDLOCK_ACCESS_NET_BIND_TCP;
        if (s->enforced & FEATURE_TCP_CONNECT)
                s->handled_net |= LANDLOCK_ACCESS_NET_CONNECT_TCP;
        if (s->enforced & FEATURE_SCOPE_ABSTRACT)
                s->scoped |= LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
        if (s->enforced & FEATURE_SCOPE_SIGNAL)
                s->scoped |= LANDLOCK_SCOPE_SIGNAL;
        return 0;
}

/* ---- building and applying the ruleset (the command's process) ---- */

static int add_path_rule(int ruleset_fd, int fd, uint64_t access, uint64_t handled) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                access &= FS_FILE;
        access &= handled;
        if (access == 0)
                return 0;
        struct landlock_path_beneath_attr attr = { .allowed_access = access, .parent_fd = fd };
        return RET_NERRNO(syscall(__NR_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0));
}

/* Same path, ignoring repeated and trailing slashes (the plan's
 * destinations are relative to the new root either way). */
static bool same_dest(const char *a, const char *b) {
        for (;;) {
                while (*a == '/')
                        a++;
                while (*b == '/')
                        b++;
                if (!*a || !*b)
                        return !*a && !*b;
                while (*a && *a != '/' && *a == *b)
                        a++, b++;
                if ((*a && *a != '/') || (*b && *b != '/'))
                        return false;
        }
}

static bool op_mounts(MountOpType t) {
        return t == MOUNT_OP_BIND || t == MOUNT_OP_PROC || t == MOUNT_OP_DEV || t == MOUNT_OP_TMPFS || t == MOUNT_OP_MQUEUE ||
               t == MOUNT_OP_FILE || t == MOUNT_OP_BIND_DATA || t == MOUNT_OP_BIND_FD || t == MOUNT_OP_OVERLAY;
}

/* The rights op I of the plan gives its destination; 0: no rule. */
static uint64_t plan_op_access(const LandlockPlan *p, size_t i) {
        const MountOp *op = &p->ops[i];
        uint64_t access;

        switch (op->type) {
        case MOUNT_OP_BIND:
        case MOUNT_OP_BIND_FD:
        case MOUNT_OP_BIND_DATA:
        case MOUNT_OP_OVERLAY: /* --ro-overlay is readonly; --overlay, --tmp-overlay write to their upper */
                access = op->readonly ? PLAN_RO : PLAN_RW;
                if (op->allow_devices)
                        access |= FS_DEVICES;
                break;
        case MOUNT_OP_TMPFS:
        case MOUNT_OP_MQUEUE:
        case MOUNT_OP_FILE:
                access = PLAN_RW;
                break;
        case MOUNT_OP_DEV:
                access = PLAN_RW | LANDLOCK_ACCESS_FS_IOCTL_DEV;
                break;
        case MOUNT_OP_PROC:
                /* /proc/self/... takes writes; nothing is made or removed there. */
                access = FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE;
                break;
        case MOUNT_OP_LOCK_FILE:
                access = FS_READ;
                break;
        default: /* --dir, --symlink, --chmod, --remount-ro: no mount of their own */
                return 0;
        }
        /* A later mount on the same destination hides this one; a later
         * --remount-ro leaves it read-only. */
        for (size_t j = i + 1; j < p->n_ops; j++) {
                if (!p->ops[j].dest || !same_dest(op->dest, p->ops[j].dest))
                        continue;
                if (op_mounts(p->ops[j].type))
                        return 0;
                if (p->ops[j].type == MOUNT_OP_REMOUNT_RO)
                        access &= PLAN_RO | LANDLOCK_ACCESS_FS_IOCTL_DEV;
        }
        return access;
}

/* Where the path rules go: the ruleset, in the command's process; or, for
 * --join, a record of them, resolved by the monitor in the command's root
 * while the child waits at the gate (its mounts are final by then). */
typedef struct RuleSink {
        int ruleset_fd;   /* landlock_apply(); else -EBADF */
        int root_fd;      /* landlock_resolve_rules(): the command's root */
        const char *base; /* ... the directory relative paths are in, NULL: not known */
        LandlockRuleFn fn;
        void *userdata;
} RuleSink;

/* PATH as the command sees it; PLAN: a destination of the plan, relative
 * to the root. */
static int sink_open(const RuleSink *k, int root_fd, const char *path, bool plan) {
        _cleanup_free_ char *joined = NULL;
        int fd;
        if (k->ruleset_fd >= 0) {
                fd = plan ? openat(root_fd, path, O_PATH | O_CLOEXEC) : open(path, O_PATH | O_CLOEXEC);
                return fd < 0 ? -errno : fd;
        }
        if (!plan && path[0] != '/') {
                if (!k->base)
                        return -EADDRNOTAVAIL;
                if (asprintf(&joined, "%s/%s", k->base, path) < 0)
                        return -ENOMEM;
                path = joined;
        }
        int r = open_in_root(k->root_fd, path, 0, &fd);
        return r < 0 ? r : fd;
}

static int sink_add(const RuleSink *k, int fd, uint64_t access, uint64_t handled, const char *path) {
        if (k->ruleset_fd >= 0)
                return add_path_rule(k->ruleset_fd, fd, access, handled);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                access &= FS_FILE;
        access &= handled;
        if (access != 0)
                k->fn(k->userdata, access, (uint64_t) st.st_dev, (uint64_t) st.st_ino, path);
        return 0;
}

static int add_plan_rules(const LandlockSettings *s, const LandlockPlan *p, const RuleSink *k, Error *e) {
        _cleanup_close_ int root_fd = k->ruleset_fd >= 0 ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC) : dup(k->root_fd);
        if (root_fd < 0)
                return error_set_errno(e, errno, "Landlock: can't open /");
        /* The root and the directories the plan made in it may be listed:
         * everything in them is the plan's. */
        int r = sink_add(k, root_fd, LANDLOCK_ACCESS_FS_READ_DIR, s->handled_fs, "/");
        if (r < 0)
                return error_set_errno(e, -r, "Landlock: can't add a rule for /");

        for (size_t i = 0; i < p->n_ops; i++) {
                uint64_t access = plan_op_access(p, i);
                if (access == 0)
                        continue;
                const char *rel = p->ops[i].dest;
                while (*rel == '/')
                        rel++;
                _cleanup_close_ int fd = sink_open(k, root_fd, *rel ? rel : ".", true);
                if (fd < 0) {
                        /* A -try bind that was skipped, a path the command can't reach. */
                        if (fd == -ENOENT || fd == -EACCES || fd == -ENOTDIR)
                                continue;
                        return error_set_errno(e, -fd, "Landlock: can't open %s", p->ops[i].dest);
                }
                r = sink_add(k, fd, access, s->handled_fs, p->ops[i].dest);
                if (r < 0)
                        return error_set_errno(e, -r, "Landlock: can't add a rule for %s", p->ops[i].dest);
        }
        return 0;
}

static int add_explicit_path_rules(const LandlockSettings *s, const RuleSink *k, Error *e) {
        for (size_t i = 0; i < s->n_paths; i++) {
                const LandlockPathRule *rule = &s->paths[i];
                /* As the command sees it: relative to its working directory. */
                _cleanup_close_ int fd = sink_open(k, -EBADF, rule->path, false);
                if (fd == -EADDRNOTAVAIL)
                        return error_setf(e, EADDRNOTAVAIL, "%s %s is relative to the working directory the command started in",
                                          path_kind_option[rule->kind], rule->path);
                if (fd < 0)
                        return error_set_errno(e, -fd, "%s %s", path_kind_option[rule->kind], rule->path);
                int r = sink_add(k, fd, path_kind_access[rule->kind], s->handled_fs, rule->path);
                if (r < 0)
                        return error_set_errno(e, -r, "%s %s: can't add the Landlock rule",
                                               path_kind_option[rule->kind], rule->path);
        }
        return 0;
}

static int add_port_rules(const LandlockSettings *s, int ruleset_fd, Error *e) {
        for (size_t i = 0; i < s->n_ports; i++) {
                const LandlockPortRule *rule = &s->ports[i];
                uint64_t access = rule->bind ? LANDLOCK_ACCESS_NET_BIND_TCP : LANDLOCK_ACCESS_NET_CONNECT_TCP;
                if (!(access & s->handled_net))
                        continue;
                for (uint32_t port = rule->first; port <= rule->last; port++) {
                        struct csand_landlock_net_port_attr attr = { .allowed_access = access, .port = port };
                        if (syscall(__NR_landlock_add_rule, ruleset_fd, CSAND_LANDLOCK_RULE_NET_PORT, &attr, 0) < 0)
                                return error_set_errno(e, errno, "--landlock-tcp-%s: can't add the Landlock rule for port %u",
                                                       rule->bind ? "bind" : "connect", port);
                }
        }
        return 0;
}

static int add_path_rules(const LandlockSettings *s, const LandlockPlan *p, const RuleSink *k, Error *e) {
        if (s->from_plan && !p->in_place && add_plan_rules(s, p, k, e) < 0)
                return -e->error;
        return add_explicit_path_rules(s, k, e);
}

static int create_ruleset(const LandlockSettings *s, Error *e) {
        struct csand_landlock_ruleset_attr attr = {
                .handled_access_fs = s->handled_fs,
                .handled_access_net = s->handled_net,
                .scoped = s->scoped,
        };
        /* Older kernels take the whole struct as long as what they don't
         * know is zero, which landlock_prepare() made sure of. */
        int ruleset_fd = (int) syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0);
        if (ruleset_fd < 0)
                return error_set_errno(e, errno, "Can't create the Landlock ruleset");
        return ruleset_fd;
}

static int finish_ruleset(const LandlockSettings *s, int ruleset_fd, Error *e);

int landlock_apply(const LandlockSettings *s, const LandlockPlan *p, Error *e) {
        if (s->handled_fs == 0 && s->handled_net == 0 && s->scoped == 0)
                return 0;

        _cleanup_close_ int ruleset_fd = create_ruleset(s, e);
        if (ruleset_fd < 0)
                return ruleset_fd;

        if (s->handled_fs != 0) {
                const RuleSink k = { .ruleset_fd = ruleset_fd, .root_fd = -EBADF };
                if (add_path_rules(s, p, &k, e) < 0)
                        return -e->error;
        }
        return finish_ruleset(s, ruleset_fd, e);
}

int landlock_resolve_rules(const LandlockSettings *s, const LandlockPlan *p, int root_fd, LandlockRuleFn fn,
                           void *userdata, Error *e) {
        if (s->handled_fs == 0)
                return 0;
        /* With an absolute --chdir, the command's working directory is known
         * here (else it is decided in the child). */
        const RuleSink k = {
                .ruleset_fd = -EBADF,
                .root_fd = root_fd,
                .base = p->chdir && p->chdir[0] == '/' ? p->chdir : NULL,
                .fn = fn,
                .userdata = userdata,
        };
        return add_path_rules(s, p, &k, e);
}

int landlock_apply_recorded(const LandlockSettings *s, const LandlockRecordedPath *paths, size_t n_paths, Error *e) {
        _cleanup_close_ int ruleset_fd = create_ruleset(s, e);
        if (ruleset_fd < 0)
                return ruleset_fd;
        for (size_t i = 0; i < n_paths; i++) {
                const LandlockRecordedPath *rp = &paths[i];
                struct stat st;
                _cleanup_close_ int fd = open(rp->path, O_PATH | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0)
                        return error_set_errno(e, errno, "its Landlock rule for %s can't be rebuilt", rp->path);
                if ((uint64_t) st.st_dev != rp->dev || (uint64_t) st.st_ino != rp->ino)
                        return error_setf(e, ESTALE,
                                          "its Landlock rule for %s can't be rebuilt: that path names another file now",
                                          rp->path);
                struct landlock_path_beneath_attr attr = { .allowed_access = rp->access, .parent_fd = fd };
                if (syscall(__NR_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) < 0)
                        return error_set_errno(e, errno, "its Landlock rule for %s can't be rebuilt", rp->path);
        }
        return finish_ruleset(s, ruleset_fd, e);
}

static int finish_ruleset(const LandlockSettings *s, int ruleset_fd, Error *e) {
        if (add_port_rules(s, ruleset_fd, e) < 0)
                return -e->error;

        /* Needed unless we have CAP_SYS_ADMIN; caps_set() has set it already. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return error_set_errno(e, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
        if (syscall(__NR_landlock_restrict_self, ruleset_fd, 0) < 0)
                return error_set_errno(e, errno, "Can't apply the Landlock ruleset");
        return 0;
}

/* ---- status ---- */

static void write_feature_list(FILE *f, const char *name, unsigned set, bool one_line) {
        bool first = true;
        fprintf(f, one_line ? ", \"%s\": [" : ",\n        \"%s\": [", name);
        for (size_t i = 0; i < ELEMENTSOF(features); i++)
                if (set & features[i].feature) {
                        fprintf(f, "%s\"%s\"", first ? "" : ", ", features[i].json);
                        first = false;
                }
        fprintf(f, "]");
}

void landlock_write_status_json(const LandlockSettings *s, bool in_place, FILE *f, bool one_line) {
        if (!s->prepared || s->requested == 0)
                return;
        fprintf(f,
                one_line ? ", \"landlock\": { \"abi\": %d, \"mode\": \"%s\"" :
                           ",\n    \"landlock\": {\n        \"abi\": %d,\n        \"mode\": \"%s\"",
                s->abi, in_place ? "in-place" : "namespaces");
        write_feature_list(f, "enforced", s->enforced, one_line);
        write_feature_list(f, "not-enforced", s->requested & ~s->enforced, one_line);
        fputs(one_line ? " }" : "\n    }", f);
}
