/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

/* Resource limits on the sandbox's own cgroup (--memory, --memory-swap,
 * --cpus, --cpu-weight, --pids-limit, --io-weight, --cgroup-property), made
 * by one of two backends behind a small ops table:
 *   systemd   a transient scope csand-PID.scope in csand.slice, started on
 *             the user's systemd through the user bus (sd-bus), with
 *             Delegate=yes and the limits as unit properties;
 *   cgroupfs  a sub-cgroup csand-PID of a cgroup v2 subtree the caller
 *             already owns (a delegated scope, a container), limits written
 *             to its files directly.
 * "auto" does nothing at all without limits, and with limits takes systemd
 * when the user bus answers, else cgroupfs when the caller's cgroup is
 * delegated, else fails and says how to get either. Either way the
 * sandbox's processes live in a leaf "sandbox" below the cgroup with the
 * limits, and its cgroup namespace, if any, is made there (by the child,
 * once cgroup_setup() has put it in), out of reach of the limits' files. */

typedef enum CgroupManager {
        CGROUP_MANAGER_AUTO,
        CGROUP_MANAGER_SYSTEMD,
        CGROUP_MANAGER_CGROUPFS,
} CgroupManager;

typedef struct CgroupPropertyInfo CgroupPropertyInfo; /* a row of the property table */
typedef struct CgroupScope CgroupScope;               /* the cgroup made for one sandbox */

/* One limit, parsed and checked when the option is parsed. */
typedef struct CgroupProperty {
        const CgroupPropertyInfo *info;
        const char *option; /* the option that set it, for messages */
        char *text;         /* the value as given */
        uint64_t value;     /* numbers, booleans and signals; UINT64_MAX: "infinity" */
} CgroupProperty;

typedef struct CgroupSettings {
        CgroupManager manager;
        bool manager_given;         /* --cgroup-manager: make a cgroup even without limits */
        CgroupProperty *properties; /* in order; a later value for the same property replaces the earlier */
        size_t n_properties;
} CgroupSettings;

/* The cgroup's rows of the option table (options.c assembles it):
 * ROW(name, metavars, the unit property a shorthand sets or NULL, whether
 * the value is a number of CPUs, help). */
#define CGROUP_OPTIONS(ROW)                                                                                                       \
        ROW("--memory", "SIZE", "MemoryMax", false, "Memory limit of the sandbox's cgroup (MemoryMax); k, m, g suffixes")         \
        ROW("--memory-swap", "SIZE", "MemorySwapMax", false, "Swap limit of the sandbox's cgroup (MemorySwapMax); 0 for no swap") \
        ROW("--cpus", "N", "CPUQuota", true, "CPU time limit in CPUs, fractions allowed, e.g. 1.5 (CPUQuota)")                    \
        ROW("--cpu-weight", "N", "CPUWeight", false, "CPU weight from 1 to 10000, default 100 (CPUWeight)")                       \
        ROW("--pids-limit", "N", "TasksMax", false, "Maximum number of processes and threads (TasksMax)")                         \
        ROW("--io-weight", "N", "IOWeight", false, "IO weight from 1 to 10000, default 100 (IOWeight)")                           \
        ROW("--cgroup-property", "NAME=VALUE", NULL, false, "Set another systemd unit property on the sandbox's cgroup")          \
        ROW("--cgroup-manager", "MANAGER", NULL, false,                                                                           \
            "auto (default), systemd (a scope through the user's systemd) or cgroupfs (a sub-cgroup of a delegated cgroup)")

/* Option handler for the rows above (OPTION is the name as typed, with
 * the dashes). */
int cgroup_settings_parse(CgroupSettings *s, const char *option, const char *arg, Error *e);

/* Combinations that cannot work, found before anything starts. */
int cgroup_settings_validate(const CgroupSettings *s, Error *e);

/* Is there cgroup work to do for this sandbox? No for auto without limits. */
bool cgroup_needed(const CgroupSettings *s);

/* In the monitor, while CHILD waits at the gate: makes the cgroup, applies
 * the limits, checks that each one took effect and puts CHILD in its leaf.
 * *RET: the monitor's handle on it, until cgroup_scope_free(). */
int cgroup_setup(const CgroupSettings *s, pid_t child, CgroupScope **ret, Error *e);

/* After the sandbox has ended: returns 1 when the kernel's OOM killer
 * killed a process in the sandbox's cgroup, with *ret_limit the memory
 * limit as the user gave it (NULL without a MemoryMax); 0 when not, or
 * when there is no cgroup or no way to know. */
int cgroup_oom_killed(const CgroupScope *sc, const CgroupSettings *s, const char **ret_limit);

/* Removes the sandbox's cgroup (cgroupfs; systemd removes an empty scope
 * itself) and frees SC. NULL is fine. */
CgroupScope *cgroup_scope_free(CgroupScope *sc);

void cgroup_settings_done(CgroupSettings *s);

/* The systemd unit that holds the sandbox's cgroup, NULL when there is
 * none or csand made the cgroup itself (cgroupfs). For --join. */
const char *cgroup_unit(const CgroupScope *sc);

/* --join: puts a joined process into a running sandbox's cgroup, the way
 * its manager wants it: through the systemd unit when it has one (the
 * user's manager moves it, asking pid 1 when the caller's cgroup is not
 * the user's), else by a write to the cgroup's cgroup.procs where the
 * caller may move a process there (its cgroup and the sandbox's meet in a
 * cgroup the user owns), else through the systemd unit the cgroup is in
 * (cgroupfs in a delegated scope, joined from a login session). Prepared
 * (the bus connected, the file opened) before the caller enters the
 * sandbox's user namespace, attached once the process exists. PATH is the
 * cgroup as /proc/PID/cgroup names it, UNIT from cgroup_unit() or NULL. */
typedef struct CgroupJoin CgroupJoin;
int cgroup_join_prepare(const char *path, const char *unit, CgroupJoin **ret, Error *e);
int cgroup_join_attach(CgroupJoin *j, pid_t pid, Error *e);
void cgroup_join_free(CgroupJoin *j);

/* For tests: the D-Bus name and signature a --cgroup-property NAME maps to. */
int cgroup_property_lookup(const char *name, const char **ret_dbus_name, const char **ret_signature);
