/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "landlock.h"
#include "plan.h"

/* Running sandboxes, by name (--name, --list, --stop; --join in join.c).
 *
 * $XDG_RUNTIME_DIR/csand/names/ (0700, the user's, hidden from every
 * sandbox with the rest of the runtime directory) holds per name:
 *   NAME.lock  a POSIX lock (fcntl F_SETLK) held by the sandbox's monitor
 *              for as long as it runs: the kernel drops it when the
 *              monitor dies, however it dies. Exactly one start wins it;
 *              a name whose lock nobody holds is free, whatever files are
 *              left there. POSIX, not OFD: F_GETLK names the holding
 *              process, and a record counts only when that is its monitor
 *              (an older csand's OFD lock names none: listed as such, never
 *              acted on).
 *   NAME.rec   the registration, renamed into place once complete, its
 *              first line "version 1" (another: a newer csand's, listed as
 *              such, never read further or acted on): the
 *              monitor's and the sandbox's pid with their start times
 *              (/proc/PID/stat field 22), so that a pid is never trusted
 *              alone, and what --join needs to run a command the way the
 *              sandbox's own command runs (capabilities, uid/gid, session,
 *              the seccomp programs it loaded, its cgroup), plus what
 *              --list shows.
 * Readers test the lock with F_GETLK, which takes nothing, so that a
 * --list never makes a concurrent start think its name is taken.
 *
 * A record is data from whoever could write the directory (the user's
 * processes outside sandboxes): it is trusted only as far as the kernel
 * confirms it (lock holder, parent, start times), keys this csand does not
 * know make --join refuse (unknown_key) unless informational ("info-..."),
 * and everything printed from it is escaped. */

typedef struct Registration Registration;

/* One running sandbox as its registration describes it. */
typedef struct RegistryEntry {
        char *name;
        pid_t monitor_pid, child_pid;
        uint64_t monitor_start, child_start; /* clock ticks since boot */
        int64_t started;                     /* wall clock, seconds */
        bool has_init;                       /* the child is a pid 1 and the command its child */
        bool new_session;
        uid_t uid;
        gid_t gid;
        uint64_t caps;
        char *namespaces; /* "user,pid,net": the ones the sandbox made */
        char *network;
        char *limits;      /* "memory=50M,pids-limit=10", "" for none */
        char *cgroup;      /* below /sys/fs/cgroup, NULL without its own */
        char *cgroup_unit; /* the systemd unit that holds it, NULL: cgroupfs */
        char **command;
        /* Its Landlock ruleset, as the monitor resolved it (landlock_resolve_rules()):
         * the handled rights, scopes and ports in landlock, the path rules in
         * landlock_paths; or why it could not be resolved. */
        LandlockSettings landlock;
        LandlockRecordedPath *landlock_paths;
        size_t n_landlock_paths;
        char *landlock_error;
        SeccompProgram *seccomp;
        size_t n_seccomp;
        /* It loaded a --seccomp program, which its child read after setup
         * (as bwrap reads it) and the monitor never saw. */
        bool seccomp_unknown;
        /* The first key of the record this csand does not know, other than
         * an informational "info-..." one (a newer csand's): NULL for none. */
        char *unknown_key;
        /* A sandbox runs under the name (its lock is held) but its record
         * can't be used; only name is set then. A newer csand's record
         * version, whose format this csand does not know (0: none)... */
        unsigned newer_version;
        /* ...or the lock is an older csand's (an OFD lock, before the
         * monitor's became a POSIX one), whose holder F_GETLK can't name:
         * its processes can't be verified, so they are never acted on. */
        bool older_lock;
} RegistryEntry;

void registry_entry_done(RegistryEntry *e);

/* --name, --join, --list, --json, --stop, --stop-timeout */
int registry_parse_option(SandboxPlan *p, const char *option, const char *arg, Error *e);

/* Is this run one of --join, --list, --stop rather than a sandbox?
 * (sandbox.c dispatches them; --join is utils/join.c's.) */
bool registry_is_command(const SandboxPlan *p);
/* The options given with it, checked first. */
int registry_validate_command(const SandboxPlan *p, Error *e);
/* --list [--json] and --stop: return the exit status, print their own errors. */
int registry_run_list(const SandboxPlan *p);
int registry_run_stop(const SandboxPlan *p);

/* The monitor, once the child exists: takes --name NAME (an error when it
 * is taken; nothing for NULL) before anything is made outside for the
 * sandbox; *RET is set as soon as there is something to release... */
int registry_claim(const char *name, Registration **ret, Error *e);
/* ...and publishes the registration REG (NULL: none) once it all is
 * (cgroup, helpers). ROOT_FD: the sandbox's final root, for Landlock
 * rules (-EBADF without them); CGROUP_UNIT: cgroup_unit() of its cgroup. */
int registry_publish(Registration *reg, const SandboxPlan *p, pid_t child, unsigned long clone_flags, int root_fd,
                     const char *cgroup_unit, Error *e);
/* Removes the registration and frees the name. NULL is fine. */
void registry_release(Registration *r);

/* NAME_OR_PID: a name, or the sandbox's child pid (as --info-fd gives it).
 * Only running sandboxes of this user whose record can be used; errors say
 * why not (a newer or an older csand's, see RegistryEntry). */
int registry_lookup(const char *name_or_pid, RegistryEntry *ret, Error *e);

/* Start time of PID in clock ticks since boot (/proc/PID/stat field 22). */
int proc_start_time(pid_t pid, uint64_t *ret);
/* Fields 3 (state), 4 (parent) and 22 (start time) of /proc/PID/stat; NULL
 * for those not wanted. */
int proc_stat(pid_t pid, char *ret_state, pid_t *ret_ppid, uint64_t *ret_start);
/* A pidfd for PID, when it is still the process that started at START. */
int pidfd_open_verified(pid_t pid, uint64_t start);

/* The namespaces a sandbox may have, by their /proc/PID/ns names; ends
 * with a NULL name. */
typedef struct RegistryNamespace {
        const char *name;
        unsigned long flag;
} RegistryNamespace;

extern const RegistryNamespace registry_namespaces[];
