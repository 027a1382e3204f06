/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "options.h"
#include "parse-util.h"

typedef enum OptionGroup {
        GROUP_GENERAL,
        GROUP_NAMESPACES,
        GROUP_IDENTITY,
        GROUP_FILESYSTEM,
        GROUP_ENVIRONMENT,
        GROUP_PROCESS,
        _GROUP_MAX,
} OptionGroup;

static const char *const group_titles[_GROUP_MAX] = {
        [GROUP_GENERAL] = "General",
        [GROUP_NAMESPACES] = "Namespaces",
        [GROUP_IDENTITY] = "Identity inside the sandbox",
        [GROUP_FILESYSTEM] = "Filesystem (executed in order)",
        [GROUP_ENVIRONMENT] = "Environment",
        [GROUP_PROCESS] = "Process",
};

typedef struct Option Option;
typedef int (*OptionHandler)(SandboxPlan *p, const Option *o, char **args, Error *e);

struct Option {
        const char *name;
        const char *metavars;   /* e.g. "SRC DEST"; its word count is the arity */
        OptionGroup group;
        OptionHandler handler;
        size_t offset;          /* handle_flag: the bool in SandboxPlan */
        unsigned data;          /* handler-specific */
        const char *help;
};

enum {
        BIND_READONLY = 1 << 0,
        BIND_DEVICES = 1 << 1,
        BIND_TRY = 1 << 2,
};

static int handle_flag(SandboxPlan *p, const Option *o, char **args, Error *e) {
        *(bool *) ((char *) p + o->offset) = true;
        return 0;
}

static int handle_help(SandboxPlan *p, const Option *o, char **args, Error *e) {
        p->show_help = true;
        return 0;
}

static int handle_version(SandboxPlan *p, const Option *o, char **args, Error *e) {
        p->show_version = true;
        return 0;
}

static int handle_unshare_all(SandboxPlan *p, const Option *o, char **args, Error *e) {
        /* As bwrap: the -try forms of user and cgroup, so that --unshare-all
         * works on kernels without them. */
        p->unshare_user_try = p->unshare_ipc = p->unshare_pid = true;
        p->unshare_uts = p->unshare_cgroup_try = p->unshare_net = true;
        return 0;
}

static int handle_share_net(SandboxPlan *p, const Option *o, char **args, Error *e) {
        p->unshare_net = false;
        return 0;
}

static int handle_id(SandboxPlan *p, const Option *o, char **args, Error *e) {
        uint32_t v;
        bool is_uid = o->data;
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

static int handle_hostname(SandboxPlan *p, const Option *o, char **args, Error *e) {
        if (strlen(args[0]) > 64)
                return error_setf(e, EINVAL, "Invalid --hostname: longer than 64 characters: %s", args[0]);
        return replace_string(&p->hostname, args[0]);
}

static int handle_chdir(SandboxPlan *p, const Option *o, char **args, Error *e) {
        if (p->chdir_path)
                log_warning("Only the last --chdir option will take effect");
        return replace_string(&p->chdir_path, args[0]);
}

static int handle_setenv(SandboxPlan *p, const Option *o, char **args, Error *e) {
        if (!*args[0] || strchr(args[0], '='))
                return error_setf(e, EINVAL, "Invalid --setenv variable name: %s", args[0]);
        return plan_add_env(p, ENV_SET, args[0], args[1]);
}

static int handle_unsetenv(SandboxPlan *p, const Option *o, char **args, Error *e) {
        return plan_add_env(p, ENV_UNSET, args[0], NULL);
}

static int handle_clearenv(SandboxPlan *p, const Option *o, char **args, Error *e) {
        return plan_add_env(p, ENV_CLEAR, NULL, NULL);
}

/* Takes the pending --perms for an op that supports it. */
static void take_perms(SandboxPlan *p, MountOp *op) {
        op->perms = p->next_perms;
        p->next_perms = MODE_UNSET;
}

static int handle_bind(SandboxPlan *p, const Option *o, char **args, Error *e) {
        MountOp *op;
        int r = plan_add_op(p, MOUNT_OP_BIND, args[0], args[1], &op);
        if (r < 0)
                return r;
        op->readonly = o->data & BIND_READONLY;
        op->allow_devices = o->data & BIND_DEVICES;
        op->try_only = o->data & BIND_TRY;
        return 0;
}

static int handle_dest_op(SandboxPlan *p, const Option *o, char **args, Error *e) {
        MountOp *op;
        int r = plan_add_op(p, (MountOpType) o->data, NULL, args[0], &op);
        if (r < 0)
                return r;
        if (op->type == MOUNT_OP_TMPFS) {
                op->size = p->next_size;
                p->next_size = 0;
        }
        if (op->type == MOUNT_OP_TMPFS || op->type == MOUNT_OP_DIR)
                take_perms(p, op);
        return 0;
}

static int handle_symlink(SandboxPlan *p, const Option *o, char **args, Error *e) {
        return plan_add_op(p, MOUNT_OP_SYMLINK, args[0], args[1], NULL);
}

static int handle_chmod(SandboxPlan *p, const Option *o, char **args, Error *e) {
        MountOp *op;
        mode_t mode;
        if (parse_mode(args[0], &mode) < 0)
                return error_setf(e, EINVAL, "--chmod takes an octal mode: %s", args[0]);
        int r = plan_add_op(p, MOUNT_OP_CHMOD, NULL, args[1], &op);
        if (r < 0)
                return r;
        op->perms = mode;
        return 0;
}

static int handle_perms(SandboxPlan *p, const Option *o, char **args, Error *e) {
        mode_t mode;
        if (parse_mode(args[0], &mode) < 0)
                return error_setf(e, EINVAL, "--perms takes an octal mode: %s", args[0]);
        p->next_perms = mode;
        return 0;
}

static int handle_size(SandboxPlan *p, const Option *o, char **args, Error *e) {
        uint64_t size;
        if (parse_size(args[0], &size) < 0 || size == 0)
                return error_setf(e, EINVAL, "--size takes a positive size in bytes (k, m, g suffixes allowed): %s", args[0]);
        p->next_size = size;
        return 0;
}

#define FLAG(field) .handler = handle_flag, .offset = offsetof(SandboxPlan, field)

static const Option options[] = {
        { "--help", NULL, GROUP_GENERAL, handle_help, .help = "Print this help" },
        { "--version", NULL, GROUP_GENERAL, handle_version, .help = "Print version" },

        { "--unshare-all", NULL, GROUP_NAMESPACES, handle_unshare_all,
          .help = "Unshare every namespace we support by default" },
        { "--share-net", NULL, GROUP_NAMESPACES, handle_share_net,
          .help = "Retain the network namespace (can only combine with --unshare-all)" },
        { "--unshare-user", NULL, GROUP_NAMESPACES, FLAG(unshare_user), .help = "Create new user namespace (may be automatically implied if not setuid)" },
        { "--unshare-user-try", NULL, GROUP_NAMESPACES, FLAG(unshare_user_try), .help = "Create new user namespace if possible else continue by skipping it" },
        { "--unshare-ipc", NULL, GROUP_NAMESPACES, FLAG(unshare_ipc), .help = "Create new ipc namespace" },
        { "--unshare-pid", NULL, GROUP_NAMESPACES, FLAG(unshare_pid), .help = "Create new pid namespace" },
        { "--unshare-net", NULL, GROUP_NAMESPACES, FLAG(unshare_net), .help = "Create new network namespace (with only lo, up)" },
        { "--unshare-uts", NULL, GROUP_NAMESPACES, FLAG(unshare_uts), .help = "Create new uts namespace" },
        { "--unshare-cgroup", NULL, GROUP_NAMESPACES, FLAG(unshare_cgroup), .help = "Create new cgroup namespace" },
        { "--unshare-cgroup-try", NULL, GROUP_NAMESPACES, FLAG(unshare_cgroup_try), .help = "Create new cgroup namespace if possible else continue by skipping it" },

        { "--uid", "UID", GROUP_IDENTITY, handle_id, .data = 1, .help = "Custom uid in the sandbox (requires --unshare-user or --userns)" },
        { "--gid", "GID", GROUP_IDENTITY, handle_id, .data = 0, .help = "Custom gid in the sandbox (requires --unshare-user or --userns)" },
        { "--hostname", "NAME", GROUP_IDENTITY, handle_hostname, .help = "Custom hostname in the sandbox (requires --unshare-uts)" },

        { "--bind", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = 0, .help = "Bind mount the host path SRC on DEST" },
        { "--bind-try", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_TRY, .help = "Equal to --bind but ignores non-existent SRC" },
        { "--dev-bind", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_DEVICES, .help = "Bind mount the host path SRC on DEST, allowing device access" },
        { "--dev-bind-try", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_DEVICES | BIND_TRY, .help = "Equal to --dev-bind but ignores non-existent SRC" },
        { "--ro-bind", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_READONLY, .help = "Bind mount the host path SRC readonly on DEST" },
        { "--ro-bind-try", "SRC DEST", GROUP_FILESYSTEM, handle_bind, .data = BIND_READONLY | BIND_TRY, .help = "Equal to --ro-bind but ignores non-existent SRC" },
        { "--remount-ro", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_REMOUNT_RO, .help = "Remount DEST as readonly; does not recursively remount" },
        { "--proc", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_PROC, .help = "Mount new procfs on DEST" },
        { "--dev", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_DEV, .help = "Mount new dev on DEST" },
        { "--tmpfs", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_TMPFS, .help = "Mount new tmpfs on DEST" },
        { "--mqueue", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_MQUEUE, .help = "Mount new mqueue on DEST" },
        { "--dir", "DEST", GROUP_FILESYSTEM, handle_dest_op, .data = MOUNT_OP_DIR, .help = "Create dir at DEST" },
        { "--symlink", "SRC DEST", GROUP_FILESYSTEM, handle_symlink, .help = "Create symlink at DEST with target SRC" },
        { "--chmod", "OCTAL PATH", GROUP_FILESYSTEM, handle_chmod, .help = "Change permissions of PATH (must already exist)" },
        { "--perms", "OCTAL", GROUP_FILESYSTEM, handle_perms, .help = "Set permissions of next argument (--dir, --tmpfs)" },
        { "--size", "BYTES", GROUP_FILESYSTEM, handle_size, .help = "Set size of next argument (only for --tmpfs); k, m, g suffixes" },

        { "--chdir", "DIR", GROUP_ENVIRONMENT, handle_chdir, .help = "Change directory to DIR" },
        { "--setenv", "VAR VALUE", GROUP_ENVIRONMENT, handle_setenv, .help = "Set an environment variable" },
        { "--unsetenv", "VAR", GROUP_ENVIRONMENT, handle_unsetenv, .help = "Unset an environment variable" },
        { "--clearenv", NULL, GROUP_ENVIRONMENT, handle_clearenv, .help = "Unset all environment variables" },

        { "--die-with-parent", NULL, GROUP_PROCESS, FLAG(die_with_parent), .help = "Kills with SIGKILL child process (COMMAND) when csand or csand's parent dies." },
        { "--new-session", NULL, GROUP_PROCESS, FLAG(new_session), .help = "Create a new terminal session" },
        { "--as-pid-1", NULL, GROUP_PROCESS, FLAG(as_pid_1), .help = "Do not install a reaper process with PID=1" },
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

static int parse_vector(SandboxPlan *p, char **argv, size_t argc, size_t *ret_consumed, Error *e) {
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
                if (argc - i - 1 < n)
                        return error_setf(e, EINVAL, "%s takes %s argument%s", arg, arity_words[n], n > 1 ? "s" : "");

                bool perms_pending = p->next_perms != MODE_UNSET, size_pending = p->next_size != 0;
                int r = o->handler(p, o, argv + i + 1, e);
                if (r == -ENOMEM)
                        return error_setf(e, ENOMEM, "Out of memory");
                if (r < 0)
                        return r;
                /* --perms and --size modify only the operation that follows them. */
                if (perms_pending && p->next_perms != MODE_UNSET && o->handler != handle_perms && o->handler != handle_size)
                        return error_setf(e, EINVAL, "--perms must be followed by --dir or --tmpfs, not %s", arg);
                if (size_pending && p->next_size != 0 && o->handler != handle_size && o->handler != handle_perms)
                        return error_setf(e, EINVAL, "--size must be followed by --tmpfs, not %s", arg);
                i += 1 + n;
        }
        *ret_consumed = i;
        return 0;
}

int options_parse(SandboxPlan *p, int argc, char **argv, Error *e) {
        size_t consumed = 0;
        int r = parse_vector(p, argv, (size_t) argc, &consumed, e);
        if (r < 0)
                return r;
        if (p->next_perms != MODE_UNSET)
                return error_setf(e, EINVAL, "--perms must be followed by --dir or --tmpfs");
        if (p->next_size != 0)
                return error_setf(e, EINVAL, "--size must be followed by --tmpfs");

        p->n_command = (size_t) argc - consumed;
        p->command = calloc(p->n_command + 1, sizeof(char *));
        if (!p->command)
                return error_setf(e, ENOMEM, "Out of memory");
        memcpy(p->command, argv + consumed, p->n_command * sizeof(char *));
        return 0;
}

void options_print_help(FILE *f, const char *argv0) {
        fprintf(f, "usage: %s " CSAND_USAGE_ARGS "\n", argv0);
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
