/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "utils/options.h"
#include "utils/plan.h"

#define ARGV(...) ((char *[]) { __VA_ARGS__, NULL })
#define ARGC(argv) ((int) (sizeof(argv) / sizeof((argv)[0])) - 1)

static OptionsCommand command;

/* Parses ARGV into a fresh plan; returns options_parse's result (the
 * command in COMMAND). */
static int parse(SandboxPlan **ret, char **argv, int argc, Error *e) {
        SandboxPlan *p = NULL;
        if (plan_new(&p) < 0) {
                printf("Bail out! plan_new failed\n");
                exit(1);
        }
        *e = (Error) {};
        int r = options_parse(p, argc, argv, &command, e);
        *ret = p;
        return r;
}

#define PARSE(p, e, ...)                           \
        ({                                         \
                char **_argv_ = ARGV(__VA_ARGS__); \
                int _argc_ = 0;                    \
                while (_argv_[_argc_])             \
                        _argc_++;                  \
                parse(&(p), _argv_, _argc_, &(e)); \
        })

static void check_op(const SandboxPlan *p, size_t i, MountOpType type, const char *source, const char *dest,
                     bool readonly, bool devices, bool try_only) {
        if (!CHECK(i < p->n_ops, "op %zu exists", i))
                return;
        const MountOp *op = &p->ops[i];
        CHECK_INT(op->type, type, "op %zu has type %d", i, (int) type);
        CHECK_STR(op->source, source, "op %zu source is %s", i, source ? source : "unset");
        CHECK_STR(op->dest, dest, "op %zu dest is %s", i, dest);
        CHECK_INT(op->readonly, readonly, "op %zu readonly=%d", i, readonly);
        CHECK_INT(op->allow_devices, devices, "op %zu allow_devices=%d", i, devices);
        CHECK_INT(op->try_only, try_only, "op %zu try_only=%d", i, try_only);
}

static void test_ops_in_order(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--bind", "/a", "/A", "--ro-bind", "/b", "/B", "--dev-bind", "/c", "/C", "--bind-try", "/d",
                      "/D", "--ro-bind-try", "/e", "/E", "--dev-bind-try", "/f", "/F", "--remount-ro", "/B", "--proc",
                      "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--mqueue", "/dev/mqueue", "--dir", "/G",
                      "--symlink", "target", "/link", "--chmod", "0700", "/G", "--", "cmd", "arg1", "--bind");
        CHECK_INT(r, 0, "a command line with every op kind parses");
        CHECK_UINT(p->n_ops, 14, "14 ops recorded");
        check_op(p, 0, MOUNT_OP_BIND, "/a", "/A", false, false, false);
        check_op(p, 1, MOUNT_OP_BIND, "/b", "/B", true, false, false);
        check_op(p, 2, MOUNT_OP_BIND, "/c", "/C", false, true, false);
        check_op(p, 3, MOUNT_OP_BIND, "/d", "/D", false, false, true);
        check_op(p, 4, MOUNT_OP_BIND, "/e", "/E", true, false, true);
        check_op(p, 5, MOUNT_OP_BIND, "/f", "/F", false, true, true);
        check_op(p, 6, MOUNT_OP_REMOUNT_RO, NULL, "/B", false, false, false);
        check_op(p, 7, MOUNT_OP_PROC, NULL, "/proc", false, false, false);
        check_op(p, 8, MOUNT_OP_DEV, NULL, "/dev", false, false, false);
        check_op(p, 9, MOUNT_OP_TMPFS, NULL, "/tmp", false, false, false);
        check_op(p, 10, MOUNT_OP_MQUEUE, NULL, "/dev/mqueue", false, false, false);
        check_op(p, 11, MOUNT_OP_DIR, NULL, "/G", false, false, false);
        check_op(p, 12, MOUNT_OP_SYMLINK, "target", "/link", false, false, false);
        check_op(p, 13, MOUNT_OP_CHMOD, NULL, "/G", false, false, false);
        if (p->n_ops == 14) {
                CHECK_UINT(p->ops[13].perms, 0700, "--chmod records its mode");
                CHECK_UINT(p->ops[9].perms, MODE_UNSET, "--tmpfs without --perms has no mode");
                CHECK_UINT(p->ops[9].size, 0, "--tmpfs without --size has no size");
                CHECK_UINT(p->ops[11].perms, MODE_UNSET, "--dir without --perms has no mode");
                CHECK_INT(p->ops[0].fd, -EBADF, "bind op has no fd");
        }
        CHECK_UINT(p->n_command, 3, "everything after -- is the command");
        CHECK_STR(p->command[0], "cmd", "command[0]");
        CHECK_STR(p->command[2], "--bind", "an option after -- belongs to the command");
        CHECK(p->command[3] == NULL, "command is NULL-terminated");
        plan_free(p);
}

/* --args FD: the ops point into the data the plan keeps (MountOp.borrowed),
 * which must outlive the parse (ASan in CI); the last argument may lack its
 * NUL. */
static void test_args_fd(void) {
        static const char data[] = "--ro-bind\0/usr\0/usr\0--symlink\0usr/bin\0/bin\0--dir\0/last";
        int fds[2];
        if (!CHECK(pipe(fds) == 0, "pipe"))
                return;
        CHECK(write(fds[1], data, sizeof(data) - 1) == (ssize_t) sizeof(data) - 1, "--args data written");
        close(fds[1]);
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", fds[0]);
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--tmpfs", "/tmp", "--args", fd, "--dir", "/after", "true");
        CHECK_INT(r, 0, "options from --args parse where --args stands");
        CHECK_UINT(p->n_ops, 5, "5 ops recorded");
        check_op(p, 0, MOUNT_OP_TMPFS, NULL, "/tmp", false, false, false);
        check_op(p, 1, MOUNT_OP_BIND, "/usr", "/usr", true, false, false);
        check_op(p, 2, MOUNT_OP_SYMLINK, "usr/bin", "/bin", false, false, false);
        check_op(p, 3, MOUNT_OP_DIR, NULL, "/last", false, false, false);
        check_op(p, 4, MOUNT_OP_DIR, NULL, "/after", false, false, false);
        plan_free(p);
}

static void test_command_starts_at_first_non_option(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--unshare-pid", "echo", "--unshare-net", "x");
        CHECK_INT(r, 0, "options then a command parse");
        CHECK(p->unshare_pid, "--unshare-pid before the command is an option");
        CHECK(!p->unshare_net, "--unshare-net after the command is not");
        CHECK_UINT(p->n_command, 3, "command has 3 words");
        CHECK_STR(p->command[1], "--unshare-net", "command keeps its own arguments");
        plan_free(p);

        r = PARSE(p, e, "--unshare-pid");
        CHECK_INT(r, 0, "options without a command parse (validation rejects it later)");
        CHECK_UINT(p->n_command, 0, "no command words");
        plan_free(p);
}

static void test_flags(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                      "--unshare-cgroup", "--die-with-parent", "--new-session", "--as-pid-1", "true");
        CHECK_INT(r, 0, "namespace and process flags parse");
        CHECK(p->unshare_user && p->unshare_ipc && p->unshare_pid && p->unshare_net && p->unshare_uts && p->unshare_cgroup,
              "each --unshare-X sets its namespace");
        CHECK(!p->unshare_user_try && !p->unshare_cgroup_try, "the -try forms stay unset");
        CHECK(p->die_with_parent && p->new_session && p->as_pid_1, "--die-with-parent --new-session --as-pid-1 set");
        plan_free(p);

        r = PARSE(p, e, "--unshare-user-try", "--unshare-cgroup-try", "true");
        CHECK_INT(r, 0, "-try flags parse");
        CHECK(p->unshare_user_try && p->unshare_cgroup_try && !p->unshare_user && !p->unshare_cgroup,
              "--unshare-user-try/--unshare-cgroup-try set only the -try forms");
        plan_free(p);

        r = PARSE(p, e, "--help");
        CHECK(r == 0 && command == OPTIONS_HELP, "--help sets show_help");
        plan_free(p);
        r = PARSE(p, e, "--version");
        CHECK(r == 0 && command == OPTIONS_VERSION, "--version sets show_version");
        plan_free(p);
}

static void test_unshare_all_share_net(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--unshare-all", "true");
        CHECK_INT(r, 0, "--unshare-all parses");
        CHECK(p->unshare_user_try && p->unshare_ipc && p->unshare_pid && p->unshare_net && p->unshare_uts && p->unshare_cgroup_try,
              "--unshare-all: user(try) ipc pid net uts cgroup(try)");
        CHECK(!p->unshare_user && !p->unshare_cgroup, "--unshare-all uses the -try forms of user and cgroup, as bwrap");
        plan_free(p);

        r = PARSE(p, e, "--unshare-all", "--share-net", "true");
        CHECK_INT(r, 0, "--unshare-all --share-net parses");
        CHECK(!p->unshare_net, "--share-net after --unshare-all keeps the network");
        CHECK(p->unshare_pid && p->unshare_ipc && p->unshare_uts, "--share-net leaves the other namespaces");
        plan_free(p);

        r = PARSE(p, e, "--share-net", "--unshare-all", "true");
        CHECK_INT(r, 0, "--share-net --unshare-all parses");
        CHECK(p->unshare_net, "options apply in order: --unshare-all after --share-net unshares the network");
        plan_free(p);
}

/* csand's --share-X (after bwrap's --share-net) and --no-new-session,
 * --no-die-with-parent: the last of a pair wins, and the plan remembers
 * the share/no for --image's defaults. */
static void test_share_and_no_flags(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--unshare-all", "--unshare-cgroup", "--share-ipc", "--share-pid", "--share-uts",
                      "--share-cgroup", "true");
        CHECK_INT(r, 0, "--share-ipc, -pid, -uts, -cgroup parse");
        CHECK(!p->unshare_ipc && !p->unshare_pid && !p->unshare_uts && !p->unshare_cgroup && !p->unshare_cgroup_try,
              "--share-X after --unshare-all/--unshare-cgroup keeps those namespaces");
        CHECK(p->unshare_net, "--share-X leaves the network");
        CHECK_INT(p->share_ns, CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWCGROUP, "share_ns records them");
        plan_free(p);

        r = PARSE(p, e, "--share-ipc", "--unshare-ipc", "true");
        CHECK(r == 0 && p->unshare_ipc, "a later --unshare-ipc wins");
        plan_free(p);

        r = PARSE(p, e, "--new-session", "--no-new-session", "--no-die-with-parent", "--die-with-parent", "true");
        CHECK_INT(r, 0, "--no-new-session, --no-die-with-parent parse");
        CHECK(!p->new_session && p->no_new_session, "--no-new-session after --new-session: off, and marked");
        CHECK(p->die_with_parent && p->no_die_with_parent, "--die-with-parent after --no-die-with-parent: on");
        plan_free(p);
}

static void test_ids_and_strings(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--uid", "0", "--gid", "4242", "--hostname", "box", "--chdir", "/work", "true");
        CHECK_INT(r, 0, "--uid --gid --hostname --chdir parse");
        CHECK(p->uid_set && p->uid == 0, "--uid 0 recorded");
        CHECK(p->gid_set && p->gid == 4242, "--gid 4242 recorded");
        CHECK_STR(p->hostname, "box", "--hostname recorded");
        CHECK_STR(p->chdir_path, "/work", "--chdir recorded");
        plan_free(p);

        r = PARSE(p, e, "--uid", "abc", "true");
        CHECK(r < 0, "--uid abc is refused");
        CHECK_CONTAINS(e.message, "abc", "the message names the bad value");
        CHECK_CONTAINS(e.message, "uid", "the message names the option");
        plan_free(p);

        r = PARSE(p, e, "--gid", "12x", "true");
        CHECK(r < 0, "--gid 12x is refused");
        CHECK_CONTAINS(e.message, "gid", "the message names --gid");
        plan_free(p);

        r = PARSE(p, e, "--uid", "-1", "true");
        CHECK(r < 0, "--uid -1 is refused");
        plan_free(p);
        r = PARSE(p, e, "--uid", "4294967296", "true");
        CHECK(r < 0, "--uid 2^32 is refused");
        plan_free(p);
        r = PARSE(p, e, "--uid", "4294967295", "true");
        CHECK(r < 0, "--uid 4294967295 ((uid_t) -1) is refused");
        plan_free(p);

        r = PARSE(p, e, "--hostname", "0123456789012345678901234567890123456789012345678901234567890123456789", "true");
        CHECK(r < 0, "a hostname longer than 64 characters is refused");
        plan_free(p);
}

static void test_env_ops(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--setenv", "A", "1", "--unsetenv", "B", "--clearenv", "--setenv", "C", "x=y", "true");
        CHECK_INT(r, 0, "environment options parse");
        CHECK_UINT(p->n_env_ops, 4, "4 environment ops");
        if (p->n_env_ops == 4) {
                CHECK(p->env_ops[0].type == ENV_SET, "op 0 is set");
                CHECK_STR(p->env_ops[0].name, "A", "op 0 name");
                CHECK_STR(p->env_ops[0].value, "1", "op 0 value");
                CHECK(p->env_ops[1].type == ENV_UNSET, "op 1 is unset");
                CHECK_STR(p->env_ops[1].name, "B", "op 1 name");
                CHECK(p->env_ops[2].type == ENV_CLEAR, "op 2 is clear");
                CHECK(p->env_ops[3].type == ENV_SET, "op 3 is set");
                CHECK_STR(p->env_ops[3].value, "x=y", "a value may contain '='");
        }
        plan_free(p);

        r = PARSE(p, e, "--setenv", "A=B", "1", "true");
        CHECK(r < 0, "--setenv with '=' in the name is refused");
        plan_free(p);
}

static void test_perms_size(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--perms", "0700", "--dir", "/a", "--dir", "/b", "--perms", "01777", "--tmpfs", "/t", "--size",
                      "1m", "--tmpfs", "/u", "--perms", "0750", "--size", "4k", "--tmpfs", "/v", "--tmpfs", "/w", "true");
        CHECK_INT(r, 0, "--perms/--size before --dir/--tmpfs parse");
        CHECK_UINT(p->n_ops, 6, "6 ops");
        if (p->n_ops == 6) {
                CHECK_UINT(p->ops[0].perms, 0700, "--perms applies to the next --dir");
                CHECK_UINT(p->ops[1].perms, MODE_UNSET, "... and only to it");
                CHECK_UINT(p->ops[2].perms, 01777, "--perms applies to --tmpfs");
                CHECK_UINT(p->ops[2].size, 0, "a tmpfs without --size has none");
                CHECK_UINT(p->ops[3].size, 1 << 20, "--size 1m = 1048576 bytes");
                CHECK_UINT(p->ops[3].perms, MODE_UNSET, "an earlier --perms doesn't carry over");
                CHECK_UINT(p->ops[4].perms, 0750, "--perms and --size together: perms");
                CHECK_UINT(p->ops[4].size, 4096, "--perms and --size together: size");
                CHECK_UINT(p->ops[5].size, 0, "--size applies only to the next --tmpfs");
                CHECK_UINT(p->ops[5].perms, MODE_UNSET, "--perms applies only to the next --tmpfs");
        }
        plan_free(p);

        r = PARSE(p, e, "--perms", "0700", "--bind", "/a", "/b", "true");
        CHECK(r < 0, "--perms before --bind is refused");
        CHECK_CONTAINS(e.message, "--perms", "the message names --perms");
        plan_free(p);

        r = PARSE(p, e, "--perms", "0700", "--symlink", "a", "/b", "true");
        CHECK(r < 0, "--perms before --symlink is refused");
        plan_free(p);

        r = PARSE(p, e, "--size", "1m", "--dir", "/a", "true");
        CHECK(r < 0, "--size before --dir is refused");
        CHECK_CONTAINS(e.message, "--size", "the message names --size");
        plan_free(p);

        r = PARSE(p, e, "--size", "1m", "--unshare-pid", "--tmpfs", "/t", "true");
        CHECK(r < 0, "--size must be directly followed by its op");
        plan_free(p);

        r = PARSE(p, e, "--tmpfs", "/t", "--perms", "0700");
        CHECK(r < 0, "a trailing --perms is refused");
        CHECK_CONTAINS(e.message, "--perms", "the message names --perms");
        plan_free(p);

        r = PARSE(p, e, "--tmpfs", "/t", "--size", "1k");
        CHECK(r < 0, "a trailing --size is refused");
        plan_free(p);

        r = PARSE(p, e, "--perms", "0700", "true");
        CHECK(r < 0, "--perms followed by the command is refused");
        plan_free(p);

        r = PARSE(p, e, "--perms", "0800", "--dir", "/a", "true");
        CHECK(r < 0, "--perms 0800 (not octal) is refused");
        CHECK_CONTAINS(e.message, "--perms takes an octal argument <= 07777", "bwrap's message for a bad mode");
        plan_free(p);

        r = PARSE(p, e, "--size", "0", "--tmpfs", "/a", "true");
        CHECK(r < 0, "--size 0 is refused");
        plan_free(p);

        r = PARSE(p, e, "--size", "12q", "--tmpfs", "/a", "true");
        CHECK(r < 0, "--size 12q is refused");
        CHECK_CONTAINS(e.message, "--size takes a non-zero number of bytes", "bwrap's message for a bad size");
        plan_free(p);

        r = PARSE(p, e, "--chmod", "rwx", "/a", "true");
        CHECK(r < 0, "--chmod with a non-octal mode is refused");
        plan_free(p);
}

static void test_bad_options(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--unshare-pid", "--frobnicate", "true");
        CHECK_INT(r, -EINVAL, "an unknown option fails with -EINVAL");
        CHECK_CONTAINS(e.message, "--frobnicate", "the message names the unknown option");
        plan_free(p);

        r = PARSE(p, e, "--bind", "/only-one");
        CHECK_INT(r, -EINVAL, "--bind with one argument fails");
        CHECK_CONTAINS(e.message, "--bind", "the message names --bind");
        plan_free(p);

        r = PARSE(p, e, "--symlink");
        CHECK_INT(r, -EINVAL, "--symlink with no argument fails");
        CHECK_CONTAINS(e.message, "--symlink", "the message names --symlink");
        plan_free(p);

        r = PARSE(p, e, "--uid");
        CHECK_INT(r, -EINVAL, "--uid with no argument fails");
        CHECK_CONTAINS(e.message, "--uid", "the message names --uid");
        plan_free(p);

        r = PARSE(p, e, "--bind=/a", "/b", "true");
        CHECK_INT(r, -EINVAL, "no --opt=value forms (bwrap has none)");
        plan_free(p);

        r = PARSE(p, e, "-x", "true");
        CHECK_INT(r, -EINVAL, "an unknown short option fails");
        plan_free(p);
}

static void test_landlock(void) {
        SandboxPlan *p;
        Error e;
        int r = PARSE(p, e, "--landlock", "--landlock-ro", "/usr", "--landlock-exec", "/bin", "--landlock-rw", "rel/dir",
                      "--landlock-tcp-connect", "443", "--landlock-tcp-bind", "8000-8010", "--landlock-tcp-bind", "0",
                      "--scope-abstract-sockets", "--scope-signals", "--landlock-best-effort", "true");
        CHECK_INT(r, 0, "the Landlock options parse");
        const LandlockSettings *s = &p->landlock;
        CHECK(s->from_plan && s->scope_abstract_sockets && s->scope_signals && s->best_effort, "--landlock and the flags");
        CHECK_INT(s->n_paths, 3, "three path rules");
        if (s->n_paths == 3) {
                CHECK(s->paths[0].kind == LANDLOCK_PATH_RO && strcmp(s->paths[0].path, "/usr") == 0, "--landlock-ro /usr");
                CHECK(s->paths[1].kind == LANDLOCK_PATH_EXEC && strcmp(s->paths[1].path, "/bin") == 0, "--landlock-exec /bin");
                CHECK(s->paths[2].kind == LANDLOCK_PATH_RW && strcmp(s->paths[2].path, "rel/dir") == 0,
                      "--landlock-rw keeps a relative path");
        }
        CHECK_INT(s->n_ports, 3, "three port rules");
        if (s->n_ports == 3) {
                CHECK(!s->ports[0].bind && s->ports[0].first == 443 && s->ports[0].last == 443, "connect 443");
                CHECK(s->ports[1].bind && s->ports[1].first == 8000 && s->ports[1].last == 8010, "bind 8000-8010");
                CHECK(s->ports[2].bind && s->ports[2].first == 0 && s->ports[2].last == 0, "bind 0");
        }
        CHECK(landlock_requested(s), "Landlock is requested");
        CHECK(plan_runs_in_place(p), "no namespace option: in place");
        plan_free(p);

        r = PARSE(p, e, "--landlock", "--unshare-net", "true");
        CHECK(r == 0 && !plan_runs_in_place(p), "--unshare-net: not in place");
        plan_free(p);
        r = PARSE(p, e, "--landlock", "--ro-bind", "/", "/", "true");
        CHECK(r == 0 && !plan_runs_in_place(p), "a filesystem option: not in place");
        plan_free(p);
        r = PARSE(p, e, "--ro-bind", "/", "/", "true");
        CHECK(r == 0 && !landlock_requested(&p->landlock) && !plan_runs_in_place(p), "no Landlock option: never in place");
        plan_free(p);

        static const char *const bad[] = { "", "x", "65536", "-1", "1-", "-", "1-2-3", "5-4", "99999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                r = PARSE(p, e, "--landlock-tcp-connect", (char *) bad[i], "true");
                CHECK(r == -EINVAL, "--landlock-tcp-connect \"%s\" is refused", bad[i]);
                plan_free(p);
        }
}

int main(void) {
        test_ops_in_order();
        test_args_fd();
        test_command_starts_at_first_non_option();
        test_flags();
        test_unshare_all_share_net();
        test_share_and_no_flags();
        test_ids_and_strings();
        test_env_ops();
        test_perms_size();
        test_bad_options();
        test_landlock();
        return tap_done();
}
