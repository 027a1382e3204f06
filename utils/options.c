/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "caps.h"
#include "fd-util.h"
#include "options.h"
#include "overlay.h"
#include "parse-util.h"
#include "registry.h"
#include "seccomp.h"

/* bwrap's limit on arguments, --args data included. */
#define MAX_ARGS 9000u

typedef enum OptionGroup {
        GROUP_GENERAL,
        GROUP_NAMESPACES,
        GROUP_IDENTITY,
        GROUP_FILESYSTEM,
        GROUP_ENVIRONMENT,
        GROUP_PROCESS,
        GROUP_SECURITY,
        GROUP_STATUS,
        GROUP_NETWORK,
        GROUP_RESOURCES,
        GROUP_IMAGES,
        GROUP_RUNNING,
        GROUP_LANDLOCK,
        _GROUP_MAX,
} OptionGroup;

static const char *const group_titles[_GROUP_MAX] = {
        [GROUP_GENERAL] = "General",
        [GROUP_NAMESPACES] = "Namespaces",
        [GROUP_IDENTITY] = "Identity inside the sandbox",
        [GROUP_FILESYSTEM] = "Filesystem (executed in order)",
        [GROUP_ENVIRONMENT] = "Environment",
        [GROUP_PROCESS] = "Process",
        [GROUP_SECURITY] = "Security",
        [GROUP_STATUS] = "Status and synchronisation",
        [GROUP_NETWORK] = "Network",
        [GROUP_RESOURCES] = "Resources",
        [GROUP_IMAGES] = "Images",
        [GROUP_RUNNING] = "Running sandboxes",
        [GROUP_LANDLOCK] = "Landlock",
};

/* What the parser carries from one option to the next: never part of
 * the plan, which holds only what the options said. */
typedef struct ParseState {
        mode_t next_perms;           /* --perms for the op that follows; MODE_UNSET */
        uint64_t next_size;          /* --size for the --tmpfs that follows; 0 */
        OverlaySources overlay_srcs; /* --overlay-src for the overlay that follows */
        bool in_args_data;           /* inside --args data, which may not nest */
        size_t n_parsed_args;        /* in all, --args data included (bwrap's limit) */
        OptionsCommand command;      /* --help, --version */
} ParseState;

static void parse_state_done(ParseState *st) {
        overlay_sources_done(&st->overlay_srcs);
}

typedef struct Option Option;
typedef int (*OptionHandler)(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e);

struct Option {
        const char *name;
        const char *metavars; /* e.g. "SRC DEST"; its word count is the arity */
        OptionGroup group;
        OptionHandler handler;
        size_t offset; /* handle_flag, handle_fd: the field in SandboxPlan */
        unsigned data; /* handler-specific */
        const char *help;
};

enum {
        BIND_READONLY = 1 << 0,
        BIND_DEVICES = 1 << 1,
        BIND_TRY = 1 << 2,
};

static int handle_flag(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        *(bool *) ((char *) p + o->offset) = true;
        return 0;
}

/* --help wins over --version, wherever each stands. */
static int handle_help(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        st->command = OPTIONS_HELP;
        return 0;
}

static int handle_version(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        if (st->command != OPTIONS_HELP)
                st->command = OPTIONS_VERSION;
        return 0;
}

static int handle_unshare_all(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        /* As bwrap: the -try forms of user and cgroup, so that --unshare-all
         * works on kernels without them. */
        p->unshare_user_try = p->unshare_ipc = p->unshare_pid = true;
        p->unshare_uts = p->unshare_cgroup_try = p->unshare_net = true;
        return 0;
}

/* --share-net (bwrap's) and csand's --share-ipc, --share-pid, --share-uts,
 * --share-cgroup: the namespace (a CLONE_NEW* bit in .data) stays the
 * caller's, whatever came before, and --image leaves it so; a later
 * --unshare-X or --unshare-all unshares it again. */
static int handle_share(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        p->share_ns |= o->data;
        if (o->data == CLONE_NEWNET)
                p->unshare_net = false;
        else if (o->data == CLONE_NEWIPC)
                p->unshare_ipc = false;
        else if (o->data == CLONE_NEWPID)
                p->unshare_pid = false;
        else if (o->data == CLONE_NEWUTS)
                p->unshare_uts = false;
        else if (o->data == CLONE_NEWCGROUP)
                p->unshare_cgroup = p->unshare_cgroup_try = false;
        return 0;
}

/* --no-new-session, --no-die-with-parent: the flag (at .data) off, whatever
 * came before, and marked (at .offset) so that --image leaves it off; a
 * later --new-session or --die-with-parent turns it on again. */
static int handle_no_flag(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        *(bool *) ((char *) p + o->offset) = true;
        *(bool *) ((char *) p + o->data) = false;
        return 0;
}

/* bwrap's warning when an option that takes one value is given again. */
static void warn_only_last(const Option *o) {
        log_warning("Only the last %s option will take effect", o->name);
}

static int handle_id(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        uint32_t v;
        bool is_uid = o->data;
        if (is_uid ? p->uid_set : p->gid_set)
                warn_only_last(o);
        if (parse_uint32(args[0], &v) < 0 || v == UINT32_MAX)
                return error_setf(e, EINVAL, "Invalid %s: %s", is_uid ? "uid" : "gid", args[0]);
        if (is_uid) {
                p->uid = v;
                p->uid_set = true;
        } else {
                p->gid = v;
                p->gid_set = true;
        }
        return 0;
}

static int replace_string(char **field, const char *value) {
        char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

static int handle_hostname(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        if (p->hostname)
                warn_only_last(o);
        if (strlen(args[0]) > 64)
                return error_setf(e, EINVAL, "Invalid --hostname: longer than 64 characters: %s", args[0]);
        return replace_string(&p->hostname, args[0]);
}

static int handle_chdir(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        if (p->chdir_path)
                log_warning("Only the last --chdir option will take effect");
        return replace_string(&p->chdir_path, args[0]);
}

static int handle_setenv(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        if (!*args[0] || strchr(args[0], '='))
                return error_setf(e, EINVAL, "Invalid --setenv variable name: %s", args[0]);
        return plan_add_env(p, ENV_SET, args[0], args[1]);
}

static int handle_unsetenv(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return plan_add_env(p, ENV_UNSET, args[0], NULL);
}

static int handle_clearenv(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return plan_add_env(p, ENV_CLEAR, NULL, NULL);
}

/* Takes the pending --perms for an op that supports it. */
static void take_perms(ParseState *st, MountOp *op) {
        op->perms = st->next_perms;
        st->next_perms = MODE_UNSET;
}

static int handle_bind(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        MountOp *op;
        int r = plan_add_op_borrowed(p, MOUNT_OP_BIND, args[0], args[1], &op);
        if (r < 0)
                return r;
        op->readonly = o->data & BIND_READONLY;
        op->allow_devices = o->data & BIND_DEVICES;
        op->try_only = o->data & BIND_TRY;
        return 0;
}

static int handle_dest_op(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        MountOp *op;
        int r = plan_add_op_borrowed(p, (MountOpType) o->data, NULL, args[0], &op);
        if (r < 0)
                return r;
        if (op->type == MOUNT_OP_TMPFS) {
                op->size = st->next_size;
                st->next_size = 0;
        }
        if (op->type == MOUNT_OP_TMPFS || op->type == MOUNT_OP_DIR)
                take_perms(st, op);
        return 0;
}

/* An fd number handed over by the caller: it must be open; from now on it
 * is close-on-exec and csand's. Returns it, or a negative errno. */
static int take_fd(SandboxPlan *p, const char *option, const char *arg, Error *e) {
        int fd;
        if (parse_fd(arg, &fd) < 0)
                return error_setf(e, EINVAL, "Invalid fd: %s", arg);
        int r = fd_validate(fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't use fd %d for %s", fd, option);
        r = plan_own_fd(p, fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't use fd %d for %s", fd, option);
        return fd;
}

static int handle_fd(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        int *field = (int *) ((char *) p + o->offset);
        if (*field >= 0)
                warn_only_last(o);
        int fd = take_fd(p, o->name, args[0], e);
        if (fd < 0)
                return fd;
        *field = fd;
        return 0;
}

/* --file, --bind-data, --ro-bind-data, --bind-fd, --ro-bind-fd: FD DEST. */
static int handle_fd_op(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        MountOp *op;
        int fd = take_fd(p, o->name, args[0], e);
        if (fd < 0)
                return fd;
        int r = plan_add_op_borrowed(p, (MountOpType) (o->data & 0xff), NULL, args[1], &op);
        if (r < 0)
                return r;
        op->fd = fd;
        op->readonly = o->data & (BIND_READONLY << 8);
        if (op->type != MOUNT_OP_BIND_FD)
                take_perms(st, op);
        return 0;
}

static int handle_lock_file(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return plan_add_op_borrowed(p, MOUNT_OP_LOCK_FILE, NULL, args[0], NULL);
}

static int handle_argv0(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return replace_string(&p->argv0, args[0]);
}

static int handle_level_prefix(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        log_set_level_prefix(true);
        return 0;
}

static int handle_seccomp(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        bool exclusive = o->data;

        /* bwrap's order: these are refused before the fd is touched (and
         * --seccomp's program is only read after setup). */
        if (exclusive && p->n_seccomp > 0)
                return error_setf(e, EINVAL, "--seccomp cannot be combined with --add-seccomp-fd");
        if (!exclusive && p->seccomp_fd >= 0)
                return error_setf(e, EINVAL, "--add-seccomp-fd cannot be combined with --seccomp");
        if (exclusive && p->seccomp_fd >= 0)
                log_warning("Only the last --seccomp option will take effect");
        int fd = take_fd(p, o->name, args[0], e);
        if (fd < 0)
                return fd;
        if (exclusive) {
                p->seccomp_fd = fd;
                return 0;
        }
        return seccomp_add_from_fd(p, fd, e);
}

static int handle_seccomp_profile(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        if (p->seccomp_profile)
                log_warning("Only the last --seccomp-profile option will take effect");
        return replace_string(&p->seccomp_profile, args[0]);
}

static int handle_cap(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        bool add = o->data;
        uint64_t set;
        int cap;

        if (strcasecmp(args[0], "ALL") == 0)
                set = caps_all();
        else if (caps_from_name(args[0], &cap) >= 0)
                set = UINT64_C(1) << cap;
        else
                return error_setf(e, EINVAL, "unknown cap: %s", args[0]);
        if (add)
                p->caps |= set;
        else
                p->caps &= ~set;
        return 0;
}

static int handle_selinux_label(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        /* bwrap's words where SELinux is not enabled: the same case */
        return error_setf(e, EOPNOTSUPP, "labeling not supported on this system");
}

static int parse_vector(SandboxPlan *p, ParseState *st, char **argv, size_t argc, size_t *ret_consumed, Error *e);

/* The plan keeps DATA (NUL-terminated, as read_full_fd() leaves it): the
 * options parsed from it point into it, as into argv (setuid mode also
 * hands it on to the worker). */
static int args_data_keep(SandboxPlan *p, int fd, char *data, size_t len) {
        struct ArgsData *a = reallocarray(p->args_data, p->n_args_data + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        p->args_data = a;
        p->args_data[p->n_args_data++] = (struct ArgsData) { .fd = fd, .data = data, .len = len };
        return 0;
}

/* NUL-separated options from an fd, parsed where --args stands. */
static int handle_args(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        _cleanup_free_ char *data = NULL;
        _cleanup_free_ char **vector = NULL;
        size_t len, n = 0, consumed;
        int fd;

        if (st->in_args_data)
                return error_setf(e, EINVAL, "--args not supported in arguments file");
        if (parse_fd(args[0], &fd) < 0)
                return error_setf(e, EINVAL, "Invalid fd: %s", args[0]);
        int r = read_full_fd(fd, SIZE_MAX / 2, (void **) &data, &len);
        if (r < 0)
                return error_set_errno(e, r, "Can't read --args from fd %d", fd);
        close(fd);
        r = args_data_keep(p, fd, data, len);
        if (r < 0)
                return error_set_errno(e, -r, "Can't keep --args data");
        char *kept = TAKE_PTR(data);

        for (size_t i = 0; i < len; i++)
                n += kept[i] == '\0';
        if (len > 0 && kept[len - 1] != '\0')
                n++; /* the last argument may lack its NUL */
        if (n > MAX_ARGS)
                return error_setf(e, E2BIG, "Exceeded maximum number of arguments %u", MAX_ARGS);
        vector = calloc(n + 1, sizeof(char *));
        if (!vector)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < len; k++) {
                vector[k] = kept + i;
                i += strlen(kept + i) + 1;
        }

        st->in_args_data = true;
        r = parse_vector(p, st, vector, n, &consumed, e);
        st->in_args_data = false;
        if (r < 0)
                return r;
        if (consumed < n)
                return error_setf(e, EINVAL, "--args data may only hold options, not \"%s\"", vector[consumed]);
        return 0;
}

static int handle_symlink(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return plan_add_op_borrowed(p, MOUNT_OP_SYMLINK, args[0], args[1], NULL);
}

static int handle_chmod(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        MountOp *op;
        mode_t mode;
        if (parse_mode(args[0], &mode) < 0)
                return error_setf(e, EINVAL, "--chmod takes an octal argument <= 07777");
        int r = plan_add_op_borrowed(p, MOUNT_OP_CHMOD, NULL, args[1], &op);
        if (r < 0)
                return r;
        op->perms = mode;
        return 0;
}

static int handle_perms(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        mode_t mode;
        if (st->next_perms != MODE_UNSET)
                return error_setf(e, EINVAL, "--perms given twice for the same action");
        if (parse_mode(args[0], &mode) < 0)
                return error_setf(e, EINVAL, "--perms takes an octal argument <= 07777");
        st->next_perms = mode;
        return 0;
}

/* bwrap's limit: what fits in a signed 64-bit size. */
#define MAX_TMPFS_BYTES (UINT64_MAX >> 1)

static int handle_size(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        uint64_t size;
        if (st->next_size != 0)
                return error_setf(e, EINVAL, "--size given twice for the same action");
        if (parse_size(args[0], &size) < 0 || size == 0)
                return error_setf(e, EINVAL, "--size takes a non-zero number of bytes");
        if (size > MAX_TMPFS_BYTES)
                return error_setf(e, EINVAL, "--size (for tmpfs) is limited to %" PRIu64, MAX_TMPFS_BYTES);
        st->next_size = size;
        return 0;
}

/* Overlays: the rules and the ops live in utils/overlay.c. */
static int handle_overlay_src(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return overlay_sources_add(&st->overlay_srcs, args[0]);
}

static int handle_overlay(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        OverlayKind kind = (OverlayKind) o->data;
        bool rw = kind == OVERLAY_KIND_RW;
        return overlay_plan_add_mount(p, &st->overlay_srcs, kind, rw ? args[0] : NULL, rw ? args[1] : NULL,
                                      args[rw ? 2 : 0], e);
}

static int handle_overlay_driver(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        if (overlay_driver_from_string(args[0], &p->overlay_driver) < 0)
                return error_setf(e, EINVAL, "--overlay-driver takes auto, kernel or fuse, not %s", args[0]);
        return 0;
}

/* network (utils/network.c): its rows are NETWORK_OPTIONS */
static int handle_network(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return network_settings_parse(&p->network, &p->unshare_net, (NetworkOption) o->data, o->metavars ? args[0] : NULL, e);
}
#define NETWORK_ROW(n, m, which, h) { n, m, GROUP_NETWORK, handle_network, .data = which, .help = h },

/* egress by name (utils/egress.c) */
static int handle_egress(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return egress_settings_parse(&p->egress, (EgressOption) o->data, o->metavars ? args[0] : NULL, e);
}
#define EGRESS_ROW(n, m, which, h) { n, m, GROUP_NETWORK, handle_egress, .data = which, .help = h },

/* resources: cgroup limits and rlimits (utils/cgroups.c, utils/rlimits.c) */
static int handle_cgroup(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return cgroup_settings_parse(&p->cgroup, o->name, args[0], e);
}

#define CGROUP_ROW(n, m, property, cpus, h) { n, m, GROUP_RESOURCES, handle_cgroup, .help = h },

static int handle_rlimit(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return rlimits_add(&p->rlimits, args[0], e);
}

/* images (utils/image.c): --image and --image-info set the image; data 1: print it */
static int handle_image(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        if (o->data)
                p->image_info = true;
        return replace_string(&p->image, args[0]);
}

static int handle_entrypoint(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return replace_string(&p->image_entrypoint, args[0]);
}

static int handle_image_overlay(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        if (p->image_overlay_rwsrc)
                log_warning("Only the last --image-overlay option will take effect");
        int r = replace_string(&p->image_overlay_rwsrc, args[0]);
        return r < 0 ? r : replace_string(&p->image_overlay_workdir, args[1]);
}

/* running sandboxes (utils/registry.c, utils/join.c) */
static int handle_running(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return registry_parse_option(p, o->name, args ? args[0] : NULL, e);
}

/* Landlock (utils/landlock.c) */
static int handle_landlock(SandboxPlan *p, ParseState *st, const Option *o, char **args, Error *e) {
        return landlock_settings_parse(&p->landlock, o->name, o->metavars ? args[0] : NULL, e);
}

#define FLAG(field) .handler = handle_flag, .offset = offsetof(SandboxPlan, field)
#define FD(field) .handler = handle_fd, .offset = offsetof(SandboxPlan, field)
#define NO_FLAG(no_field, field) \
        .handler = handle_no_flag, .offset = offsetof(SandboxPlan, no_field), .data = offsetof(SandboxPlan, field)
#define FD_OP(type, flags) .handler = handle_fd_op, .data = (type) | ((flags) << 8)

static const Option options[] = {
        { "--help", NULL, GROUP_GENERAL, handle_help, .help = "Print this help" },
        { "--version", NULL, GROUP_GENERAL, handle_version, .help = "Print version" },
        { "--args", "FD", GROUP_GENERAL, handle_args, .help = "Parse NUL-separated args from FD" },
        { "--argv0", "VALUE", GROUP_GENERAL, handle_argv0, .help = "Set argv[0] to the value VALUE before running the program" },
        { "--level-prefix", NULL, GROUP_GENERAL, handle_level_prefix, .help = "Prepend e.g. <3> to diagnostic messages" },

        { "--unshare-all", NULL, GROUP_NAMESPACES, handle_unshare_all, .help = "Unshare every namespace we support by default" },
        { "--share-net", NULL, GROUP_NAMESPACES, handle_share, .data = CLONE_NEWNET,
          .help = "Retain the network namespace (can only combine with --unshare-all)" },
        { "--share-ipc", NULL, GROUP_NAMESPACES, handle_share, .data = CLONE_NEWIPC,
          .help = "Retain the IPC namespace (undoes --unshare-all's and --image's)" },
        { "--share-pid", NULL, GROUP_NAMESPACES, handle_share, .data = CLONE_NEWPID,
          .help = "Retain the pid namespace (undoes --unshare-all's and --image's)" },
        { "--share-uts", NULL, GROUP_NAMESPACES, handle_share, .data = CLONE_NEWUTS,
          .help = "Retain the UTS namespace (undoes --unshare-all's and --image's)" },
        { "--share-cgroup", NULL, GROUP_NAMESPACES, handle_share, .data = CLONE_NEWCGROUP,
          .help = "Retain the cgroup namespace (undoes --unshare-all's and --image's)" },
        { "--unshare-user", NULL, GROUP_NAMESPACES, FLAG(unshare_user),
          .help = "Create new user namespace (may be automatically implied if not setuid)" },
        { "--unshare-user-try", NULL, GROUP_NAMESPACES, FLAG(unshare_user_try),
          .help = "Create new user namespace if possible else continue by skipping it" },
        { "--unshare-ipc", NULL, GROUP_NAMESPACES, FLAG(unshare_ipc), .help = "Create new ipc namespace" },
        { "--unshare-pid", NULL, GROUP_NAMESPACES, FLAG(unshare_pid), .help = "Create new pid namespace" },
        { "--unshare-net", NULL, GROUP_NAMESPACES, FLAG(unshare_net), .help = "Create new network namespace (with only lo, up)" },
        { "--unshare-uts", NULL, GROUP_NAMESPACES, FLAG(unshare_uts), .help = "Create new uts namespace" },
        { "--unshare-cgroup", NULL, GROUP_NAMESPACES, FLAG(unshare_cgroup), .help = "Create new cgroup namespace" },
        { "--unshare-cgroup-try", NULL, GROUP_NAMESPACES, FLAG(unshare_cgroup_try),
          .help = "Create new cgroup namespace if possible else continue by skipping it" },
        { "--userns", "FD", GROUP_NAMESPACES, FD(userns_fd), .help = "Use this user namespace (cannot combine with --unshare-user)" },
        { "--userns2", "FD", GROUP_NAMESPACES, FD(userns2_fd),
          .help = "After setup switch to this user namespace, only useful with --userns" },
        { "--disable-userns", NULL, GROUP_NAMESPACES, FLAG(disable_userns),
          .help = "Disable further use of user namespaces inside sandbox" },
        { "--assert-userns-disabled", NULL, GROUP_NAMESPACES, FLAG(assert_userns_disabled),
          .help = "Fail unless further use of user namespace inside sandbox is disabled" },
        { "--pidns", "FD", GROUP_NAMESPACES, FD(pidns_fd),
          .help = "Use this pid namespace (as parent namespace if using --unshare-pid)" },

        { "--uid", "UID", GROUP_IDENTITY, handle_id, .data = 1,
          .help = "Custom uid in the sandbox (requires --unshare-user or --userns)" },
        { "--gid", "GID", GROUP_IDENTITY, handle_id, .data = 0,
          .help = "Custom gid in the sandbox (requires --unshare-user or --userns)" },
        { "--hostname", "NAME", GROUP_IDENTITY, handle_hostname, .help = "Custom hostname in the sandbox (requires --unshare-uts)" },

        { "--bind", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = 0, .help = "Bind mount the host path SRC on DEST" },
        { "--bind-try", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_TRY,
          .help = "Equal to --bind but ignores non-existent SRC" },
        { "--dev-bind", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_DEVICES,
          .help = "Bind mount the host path SRC on DEST, allowing device access" },
        { "--dev-bind-try", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_DEVICES | BIND_TRY,
          .help = "Equal to --dev-bind but ignores non-existent SRC" },
        { "--ro-bind", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_READONLY,
          .help = "Bind mount the host path SRC readonly on DEST" },
        { "--ro-bind-try", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_READONLY | BIND_TRY,
          .help = "Equal to --ro-bind but ignores non-existent SRC" },
        { "--remount-ro", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_REMOUNT_RO,
          .help = "Remount DEST as readonly; does not recursively remount" },
        { "--proc", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_PROC, .help = "Mount new procfs on DEST" },
        { "--dev", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_DEV, .help = "Mount new dev on DEST" },
        { "--tmpfs", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_TMPFS, .help = "Mount new tmpfs on DEST" },
        { "--mqueue", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_MQUEUE, .help = "Mount new mqueue on DEST" },
        { "--dir", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_DIR, .help = "Create dir at DEST" },
        { "--bind-fd", "FD DEST", GROUP_FILESYSTEM, FD_OP(MOUNT_OP_BIND_FD, 0), .help = "Bind open directory or path fd on DEST" },
        { "--ro-bind-fd", "FD DEST", GROUP_FILESYSTEM, FD_OP(MOUNT_OP_BIND_FD, BIND_READONLY),
          .help = "Bind open directory or path fd read-only on DEST" },
        { "--file", "FD DEST", GROUP_FILESYSTEM, FD_OP(MOUNT_OP_FILE, 0), .help = "Copy from FD to destination DEST" },
        { "--bind-data", "FD DEST", GROUP_FILESYSTEM, FD_OP(MOUNT_OP_BIND_DATA, 0),
          .help = "Copy from FD to file which is bind-mounted on DEST" },
        { "--ro-bind-data", "FD DEST", GROUP_FILESYSTEM, FD_OP(MOUNT_OP_BIND_DATA, BIND_READONLY),
          .help = "Copy from FD to file which is readonly bind-mounted on DEST" },
        { "--symlink", "SRC DEST", GROUP_FILESYSTEM, handle_symlink, .help = "Create symlink at DEST with target SRC" },
        { "--chmod", "OCTAL PATH", GROUP_FILESYSTEM, handle_chmod, .help = "Change permissions of PATH (must already exist)" },
        { "--perms", "OCTAL", GROUP_FILESYSTEM, handle_perms,
          .help = "Set permissions of next argument (--bind-data, --file, etc.)" },
        { "--size", "BYTES", GROUP_FILESYSTEM, handle_size,
          .help = "Set size of next argument (only for --tmpfs); k, m, g suffixes" },
        { "--overlay-src", "SRC", GROUP_FILESYSTEM, handle_overlay_src, .help = "Read files from SRC in the following overlay" },
        { "--overlay", "RWSRC WORKDIR DEST", GROUP_FILESYSTEM, handle_overlay, .data = OVERLAY_KIND_RW,
          .help = "Mount overlayfs on DEST, with RWSRC as the host path for writes and WORKDIR an empty directory on the same filesystem as RWSRC" },
        { "--tmp-overlay", "DEST", GROUP_FILESYSTEM, handle_overlay, .data = OVERLAY_KIND_TMP,
          .help = "Mount overlayfs on DEST, with writes going to an invisible tmpfs" },
        { "--ro-overlay", "DEST", GROUP_FILESYSTEM, handle_overlay, .data = OVERLAY_KIND_RO,
          .help = "Mount overlayfs read-only on DEST" },
        { "--overlay-driver", "DRIVER", GROUP_FILESYSTEM, handle_overlay_driver,
          .help = "Overlay driver: auto (default: kernel overlayfs where it works, else fuse-overlayfs), kernel or fuse" },

        { "--chdir", "DIR", GROUP_ENVIRONMENT, handle_chdir, .help = "Change directory to DIR" },
        { "--setenv", "VAR VALUE", GROUP_ENVIRONMENT, handle_setenv, .help = "Set an environment variable" },
        { "--unsetenv", "VAR", GROUP_ENVIRONMENT, handle_unsetenv, .help = "Unset an environment variable" },
        { "--clearenv", NULL, GROUP_ENVIRONMENT, handle_clearenv, .help = "Unset all environment variables" },

        { "--die-with-parent", NULL, GROUP_PROCESS, FLAG(die_with_parent),
          .help = "Kills with SIGKILL child process (COMMAND) when csand or csand's parent dies." },
        { "--new-session", NULL, GROUP_PROCESS, FLAG(new_session), .help = "Create a new terminal session" },
        { "--as-pid-1", NULL, GROUP_PROCESS, FLAG(as_pid_1), .help = "Do not install a reaper process with PID=1" },
        { "--no-new-session", NULL, GROUP_PROCESS, NO_FLAG(no_new_session, new_session),
          .help = "Stay in the caller's terminal session (undoes --new-session, and --image's default)" },
        { "--no-die-with-parent", NULL, GROUP_PROCESS, NO_FLAG(no_die_with_parent, die_with_parent),
          .help = "Let the command outlive csand's parent (undoes --die-with-parent, and --image's default)" },

        { "--cap-add", "CAP", GROUP_SECURITY, handle_cap, .data = 1, .help = "Add cap CAP when running as privileged user (or ALL)" },
        { "--cap-drop", "CAP", GROUP_SECURITY, handle_cap, .data = 0,
          .help = "Drop cap CAP when running as privileged user (or ALL)" },
        { "--seccomp", "FD", GROUP_SECURITY, handle_seccomp, .data = 1,
          .help = "Load and use seccomp rules from FD (not repeatable)" },
        { "--add-seccomp-fd", "FD", GROUP_SECURITY, handle_seccomp, .data = 0,
          .help = "Load and use seccomp rules from FD (repeatable)" },
        { "--seccomp-profile", "NAME|FILE", GROUP_SECURITY, handle_seccomp_profile,
          .help = "Compile and load a Docker/OCI JSON seccomp profile (installed NAME or FILE)" },
        { "--exec-label", "LABEL", GROUP_SECURITY, handle_selinux_label, .help = "Exec label for the sandbox (SELinux)" },
        { "--file-label", "LABEL", GROUP_SECURITY, handle_selinux_label,
          .help = "File label for temporary sandbox content (SELinux)" },

        { "--info-fd", "FD", GROUP_STATUS, FD(info_fd), .help = "Write information about the running container to FD" },
        { "--json-status-fd", "FD", GROUP_STATUS, FD(json_status_fd),
          .help = "Write container status to FD as multiple JSON documents" },
        { "--sync-fd", "FD", GROUP_STATUS, FD(sync_fd), .help = "Keep this fd open while sandbox is running" },
        { "--block-fd", "FD", GROUP_STATUS, FD(block_fd), .help = "Block on FD until some data to read is available" },
        { "--userns-block-fd", "FD", GROUP_STATUS, FD(userns_block_fd), .help = "Block on FD until the user namespace is ready" },
        { "--lock-file", "DEST", GROUP_STATUS, handle_lock_file, .help = "Take a lock on DEST while sandbox is running" },

        /* network */
        NETWORK_OPTIONS(NETWORK_ROW) EGRESS_OPTIONS(EGRESS_ROW)

        /* resources */
        CGROUP_OPTIONS(CGROUP_ROW) { "--rlimit", "NAME=SOFT[:HARD]", GROUP_RESOURCES, handle_rlimit,
                                     .help = "Set resource limit NAME (NOFILE, NPROC, AS, CPU, ...) for the command" },

        /* images */
        { "--image", "PATH[:TAG]", GROUP_IMAGES, handle_image,
          .help = "Run in a container image (OCI layout directory or docker save tarball) as the root; the command replaces its Cmd" },
        { "--entrypoint", "PROG", GROUP_IMAGES, handle_entrypoint,
          .help = "Replace the image's Entrypoint (and its Cmd); \"\" for none" },
        { "--image-overlay", "RWSRC WORKDIR", GROUP_IMAGES, handle_image_overlay,
          .help = "Keep the changes to the image's root in RWSRC (WORKDIR: an empty directory on the same filesystem)" },
        { "--image-info", "PATH[:TAG]", GROUP_IMAGES, handle_image, .data = 1,
          .help = "Print the image's config and layers (with cache state), then exit" },
        { "--image-cache-list", NULL, GROUP_IMAGES, FLAG(image_cache_list),
          .help = "List the cached image layers and whether a sandbox uses them, then exit" },
        { "--image-cache-prune", NULL, GROUP_IMAGES, FLAG(image_cache_prune),
          .help = "Remove the cached image layers no sandbox uses, then exit" },

        /* running sandboxes */
        { "--name", "NAME", GROUP_RUNNING, handle_running,
          .help = "Register the sandbox as NAME (unique for this user) while it runs" },
        { "--join", "NAME|PID", GROUP_RUNNING, handle_running,
          .help = "Run COMMAND inside the running sandbox NAME (or the one with child pid PID) as its own command runs" },
        { "--list", NULL, GROUP_RUNNING, handle_running, .help = "List this user's running sandboxes, then exit" },
        { "--json", NULL, GROUP_RUNNING, handle_running, .help = "With --list: print JSON" },
        { "--stop", "NAME", GROUP_RUNNING, handle_running,
          .help = "Stop the sandbox NAME: SIGTERM, SIGKILL after the grace time; waits for its cleanup" },
        { "--stop-timeout", "SECONDS", GROUP_RUNNING, handle_running,
          .help = "With --stop: seconds between SIGTERM and SIGKILL (default 10)" },
        /* Landlock */
        { "--landlock", NULL, GROUP_LANDLOCK, handle_landlock,
          .help = "Landlock rules from the mounts: read where bound read-only, write where bound read-write or a tmpfs; alone: run in place" },
        { "--landlock-ro", "PATH", GROUP_LANDLOCK, handle_landlock,
          .help = "Let the command read files and list directories under PATH (repeatable)" },
        { "--landlock-exec", "PATH", GROUP_LANDLOCK, handle_landlock,
          .help = "Let the command read and execute files under PATH (repeatable)" },
        { "--landlock-rw", "PATH", GROUP_LANDLOCK, handle_landlock,
          .help = "Let the command read, write, create, remove and rename under PATH, not execute (repeatable)" },
        { "--landlock-tcp-connect", "PORT[-PORT]", GROUP_LANDLOCK, handle_landlock,
          .help = "Allow TCP connections to these ports only (repeatable)" },
        { "--landlock-tcp-bind", "PORT[-PORT]", GROUP_LANDLOCK, handle_landlock,
          .help = "Allow binding TCP sockets to these ports only (repeatable)" },
        { "--scope-abstract-sockets", NULL, GROUP_LANDLOCK, handle_landlock,
          .help = "No connecting to abstract unix sockets made outside the sandbox (X11, D-Bus)" },
        { "--scope-signals", NULL, GROUP_LANDLOCK, handle_landlock, .help = "No signals to processes outside the sandbox" },
        { "--landlock-best-effort", NULL, GROUP_LANDLOCK, handle_landlock,
          .help = "Run with what the kernel's Landlock enforces, warning once, instead of failing" },
};

static unsigned option_arity(const Option *o) {
        if (!o->metavars)
                return 0;
        unsigned n = 1;
        for (const char *c = o->metavars; *c; c++)
                n += *c == ' ';
        return n;
}

static const Option *option_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                if (strcmp(options[i].name, name) == 0)
                        return &options[i];
        return NULL;
}

static const char *const arity_words[] = { "no", "an", "two", "three" };

static int parse_vector(SandboxPlan *p, ParseState *st, char **argv, size_t argc, size_t *ret_consumed, Error *e) {
        size_t i = 0;

        while (i < argc) {
                const char *arg = argv[i];

                if (strcmp(arg, "--") == 0) {
                        i++;
                        break;
                }
                if (arg[0] != '-')
                        break;

                const Option *o = option_find(arg);
                if (!o)
                        return error_setf(e, EINVAL, "Unknown option %s", arg);
                unsigned n = option_arity(o);
                st->n_parsed_args += 1 + n;
                if (st->n_parsed_args > MAX_ARGS)
                        return error_setf(e, E2BIG, "Exceeded maximum number of arguments %u", MAX_ARGS);
                if (argc - i - 1 < n)
                        return error_setf(e, EINVAL, "%s takes %s argument%s", arg, arity_words[n], n > 1 ? "s" : "");

                bool perms_pending = st->next_perms != MODE_UNSET, size_pending = st->next_size != 0;
                bool overlay_src_pending = st->overlay_srcs.n > 0;
                int r = o->handler(p, st, o, argv + i + 1, e);
                if (r == -ENOMEM)
                        return error_setf(e, ENOMEM, "Out of memory");
                if (r < 0)
                        return r;
                /* --join runs in a sandbox that exists: it refuses these. */
                if (!p->sandbox_option && o->group != GROUP_GENERAL && o->group != GROUP_ENVIRONMENT && o->group != GROUP_RUNNING)
                        p->sandbox_option = o->name;
                /* --perms and --size modify only the operation that follows them. */
                if (perms_pending && st->next_perms != MODE_UNSET && o->handler != handle_perms && o->handler != handle_size)
                        return error_setf(e, EINVAL, "--perms must be followed by an option that creates a file");
                if (size_pending && st->next_size != 0 && o->handler != handle_size && o->handler != handle_perms)
                        return error_setf(e, EINVAL, "--size must be followed by --tmpfs");
                if (overlay_src_pending && o->handler != handle_overlay_src &&
                    overlay_sources_check_taken(&st->overlay_srcs, arg, e) < 0)
                        return -e->error;
                i += 1 + n;
        }
        *ret_consumed = i;
        return 0;
}

int options_parse(SandboxPlan *p, int argc, char **argv, OptionsCommand *ret_command, Error *e) {
        _cleanup_(parse_state_done) ParseState st = { .next_perms = MODE_UNSET };
        size_t consumed = 0;
        int r = parse_vector(p, &st, argv, (size_t) argc, &consumed, e);
        if (r < 0)
                return r;
        if (st.next_perms != MODE_UNSET)
                return error_setf(e, EINVAL, "--perms must be followed by an option that creates a file");
        if (st.next_size != 0)
                return error_setf(e, EINVAL, "--size must be followed by --tmpfs");
        if (overlay_sources_check_taken(&st.overlay_srcs, NULL, e) < 0)
                return -e->error;
        if (ret_command)
                *ret_command = st.command;

        p->n_command = (size_t) argc - consumed;
        p->command = calloc(p->n_command + 1, sizeof(char *));
        if (!p->command)
                return error_setf(e, ENOMEM, "Out of memory");
        memcpy(p->command, argv + consumed, p->n_command * sizeof(char *));
        return 0;
}

void options_print_help(FILE *f, const char *argv0) {
        /* argv[0] is whatever the caller's exec said: escaped as messages are. */
        _cleanup_free_ char *name = log_escape(argv0);
        fprintf(f, "usage: %s " CSAND_USAGE_ARGS "\n", name ?: "csand");
        for (int g = 0; g < _GROUP_MAX; g++) {
                fprintf(f, "\n%s:\n", group_titles[g]);
                for (size_t i = 0; i < ELEMENTSOF(options); i++) {
                        const Option *o = &options[i];
                        if ((int) o->group != g)
                                continue;
                        char left[64];
                        snprintf(left, sizeof(left), "%s%s%s", o->name, o->metavars ? " " : "", o->metavars ? o->metavars : "");
                        fprintf(f, "    %-28s %s\n", left, o->help);
                }
        }
}
