/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "mount-op.h"

/* Landlock (issue 20): a second wall the command puts up around itself,
 * last thing before seccomp, that holds whatever happens to the mounts.
 *
 *   --landlock              rules derived from the mount plan: read and
 *                           execute where the plan binds read-only, read
 *                           and write where it binds read-write or mounts
 *                           a tmpfs or an overlay's upper, device ioctls
 *                           where --dev/--dev-bind allow devices
 *   --landlock-ro/-exec/-rw PATH     explicit file rules, PATH as the
 *                           command sees it
 *   --landlock-tcp-connect/-bind PORT[-PORT]  TCP ports the command may
 *                           connect to / bind (the others: denied)
 *   --scope-abstract-sockets, --scope-signals  no reaching outside the
 *                           command's own Landlock domain
 *   --landlock-best-effort  run with what the kernel can enforce, warning
 *                           once, instead of failing
 *
 * Any of them and no option that needs a namespace: the command runs in
 * place (no new root, no namespaces) under Landlock, no_new_privs and any
 * seccomp filter: plan_runs_in_place() (utils/plan.c). */

typedef enum LandlockPathKind {
        LANDLOCK_PATH_RO,   /* read files, list directories */
        LANDLOCK_PATH_EXEC, /* the same and execute */
        LANDLOCK_PATH_RW,   /* read, write, create, remove, rename, truncate; no execute */
        _LANDLOCK_PATH_KIND_MAX,
} LandlockPathKind;

typedef struct LandlockPathRule {
        LandlockPathKind kind;
        char *path;
} LandlockPathRule;

typedef struct LandlockPortRule {
        bool bind; /* else connect */
        uint16_t first, last;
} LandlockPortRule;

typedef struct LandlockSettings {
        bool from_plan; /* --landlock */
        LandlockPathRule *paths;
        size_t n_paths;
        LandlockPortRule *ports;
        size_t n_ports;
        bool scope_abstract_sockets, scope_signals;
        bool best_effort;

        /* Filled in by landlock_prepare() in csand's own process, before
         * anything is created; the child only builds and applies. */
        bool prepared;
        int abi;       /* the kernel's ABI version; 0: none */
        int abi_error; /* why there is none (positive errno) */
        uint64_t handled_fs, handled_net, scoped;
        unsigned requested, enforced; /* LandlockFeature bits */
} LandlockSettings;

/* Parses the rows of the option table (OPTION as typed, ARG NULL for flags). */
int landlock_settings_parse(LandlockSettings *s, const char *option, const char *arg, Error *e);

/* Combinations that cannot work, before anything starts. */
int landlock_settings_validate(const LandlockSettings *s, Error *e);

/* Was any Landlock rule or scope asked for? */
bool landlock_requested(const LandlockSettings *s);

/* The kernel's ABI version (landlock_create_ruleset(NULL, 0, VERSION)),
 * asked once per process; a negative errno when Landlock is unavailable. */
int landlock_abi(void);

/* In csand's process: asks the kernel for its ABI and decides what is
 * enforced; fails naming what cannot be, or under --landlock-best-effort
 * warns once. */
int landlock_prepare(LandlockSettings *s, Error *e);

/* What the rules derived from the plan (--landlock) are made from: the
 * mount ops (none when the command runs in place: no new root, no plan
 * rules) and --chdir, which relative explicit paths are resolved against
 * for --join. plan_landlock() fills it in. */
typedef struct LandlockPlan {
        const MountOp *ops;
        size_t n_ops;
        bool in_place;
        const char *chdir;
} LandlockPlan;

/* In the command's process, after capabilities, environment, working
 * directory and rlimits, just before seccomp: builds the ruleset (the
 * plan's destinations and the explicit paths, opened as the command sees
 * them) and restricts the process, with no_new_privs. No allocation: this
 * may run in a vfork()ed child. */
int landlock_apply(const LandlockSettings *s, const LandlockPlan *p, Error *e);

/* --join (the joined command gets the sandbox's Landlock domain, rebuilt:
 * a domain can't be copied from another process). In the monitor while the
 * child waits at the gate: the path rules landlock_apply() will add, each
 * opened in ROOT_FD (the child's root) as the command will open it, passed
 * to FN with the rights that end up in the ruleset and the file's device
 * and inode. Fails when a rule can't be resolved here: a relative path
 * without an absolute --chdir. */
typedef void (*LandlockRuleFn)(void *userdata, uint64_t access, uint64_t dev, uint64_t ino, const char *path);
int landlock_resolve_rules(const LandlockSettings *s, const LandlockPlan *p, int root_fd, LandlockRuleFn fn,
                           void *userdata, Error *e);

typedef struct LandlockRecordedPath {
        uint64_t access, dev, ino;
        char *path;
} LandlockRecordedPath;

/* In the joined command, in the sandbox's root: S's handled rights, scopes
 * and ports, and PATHS, each of which must still name the same file
 * (else it fails: the domain would not be the sandbox's). */
int landlock_apply_recorded(const LandlockSettings *s, const LandlockRecordedPath *paths, size_t n_paths, Error *e);

/* ,"landlock": { "abi": N, "mode": ..., "enforced": [...], "not-enforced": [...] }
 * for --info-fd and --json-status-fd, when Landlock was asked for. */
void landlock_write_status_json(const LandlockSettings *s, bool in_place, FILE *f, bool one_line);

void landlock_settings_done(LandlockSettings *s);
