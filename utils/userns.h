/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>

/* One id-map stand-in (see userns.c): its pid (0: none), our end of its
 * socket and, while it makes the network namespace, its /proc directory. */
typedef struct Standin {
        pid_t pid;
        int sock;
        int dir;
} Standin;

/* The stand-ins of one launch, the child's: those started and not yet
 * used, those killed and not yet reaped, and what pid 1 sets
 * ns_last_pid back with once they are gone. */
typedef struct Standins {
        Standin first;       /* for the maps of the user namespace the clone made */
        Standin nested;      /* for bwrap's second one, nested in it */
        unsigned long aside; /* namespaces the first one makes for the sandbox */
        pid_t killed[2];
        int ns_last_pid_fd;
        int nested_userns; /* made, its maps written, not yet entered */
} Standins;

#define STANDINS_INIT                                              \
        ((Standins) { .first = { .sock = -EBADF, .dir = -EBADF },  \
                      .nested = { .sock = -EBADF, .dir = -EBADF }, \
                      .ns_last_pid_fd = -EBADF,                    \
                      .nested_userns = -EBADF })

/* Right after a clone with CLONE_NEWUSER and without CLONE_NEWNS: forks
 * the stand-ins (the one for our own maps; with NESTED the nested
 * namespace's too) while our mount
 * namespace is still the caller's, so that theirs is, which nobody
 * outside the caller's own user namespace may join. The caller then
 * unshares CLONE_NEWNS and calls userns_standins_give_root(). 0 without
 * starting any where userns.c has no stand-ins (the maps are then opened
 * as userns_write_own_maps_step() says). ASIDE: namespaces the clone left
 * out (CLONE_NEWNET, CLONE_NEWIPC) that the first stand-in, once used for
 * the maps, makes for the sandbox while we build the root (they are the
 * dearest to make): userns_enter_aside() joins them. */
int userns_standins_start(Standins *s, int proc_fd, bool nested, unsigned long aside);
/* In the new mount namespace: makes the stand-ins' empty root and hands it
 * to them (the nested one makes its user namespace once the first maps
 * are written: the kernel wants our ids mapped). */
int userns_standins_give_root(Standins *s);

typedef enum UsernsMapStep {
        USERNS_MAP_UID,
        USERNS_MAP_SETGROUPS,
        USERNS_MAP_GID,
} UsernsMapStep;

/* Maps INSIDE_UID/GID to the caller's OUTSIDE ids for the calling process,
 * which has just entered a new user namespace, and denies setgroups, as
 * the kernel requires of an unprivileged writer; written in bwrap's order
 * (uid map, setgroups, gid map). The map files are opened through a
 * confined stand-in (see userns.c; one of S's, else one started here):
 * the caller stays not dumpable, so that the user outside can't ptrace
 * the setup. PROC_FD: a procfs to find "self" in (AT_FDCWD: /proc).
 * *RET_STEP says which step failed; 1 when we had to be dumpable to open
 * the maps (no stand-in: see userns.c), else 0. The stand-in is killed,
 * not waited for: userns_reap_standins() reaps it, and must be called
 * while we still have our capabilities here (before
 * userns_enter_nested()); userns_standins_done() before the command
 * starts. */
int userns_write_own_maps_step(Standins *s, int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid,
                               gid_t outside_gid, UsernsMapStep *ret_step);
/* The same with a stand-in of its own, started and ended here. */
int userns_write_own_maps_at(int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid);
/* bwrap's words for a failed STEP. */
const char *userns_map_step_words(UsernsMapStep step);

/* bwrap's second user namespace (--dev, --disable-userns): creates a user
 * namespace nested in ours (through S's nested stand-in, else one started
 * here), maps INSIDE_UID/GID in it to OUTSIDE_UID/GID of ours, and joins
 * it. */
int userns_enter_nested(Standins *s, int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid);
/* The same namespace made and its maps written ahead, through the nested
 * stand-in started with the others (else nothing is done here):
 * userns_enter_nested() then only joins it. Called after the mount
 * operations, by when the stand-in is normally ready (else this waits for
 * it): it is killed here, so that its exit overlaps the pivot and the
 * loopback instead of being waited for at the end. */
int userns_prepare_nested(Standins *s, int proc_fd, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid);

/* Joins the namespaces FLAGS the first stand-in made (see
 * userns_standins_start()), or, where it made none, makes them. Then the
 * stand-in is killed (userns_reap_standins() reaps it). */
int userns_enter_aside(Standins *s, unsigned long flags);

/* The sandbox's user namespace made by the monitor right before the
 * clone, once the plan is final (see userns.c): its maps written, and
 * bwrap's nested one's where the plan has it. The monitor joins it, and
 * the clone then makes the sandbox's other namespaces owned by it; the
 * child joins the nested one last. Nobody has to be dumpable for the maps
 * later, and no stand-in is needed. */
typedef struct UsernsPremade {
        int userns;
        int nested;  /* -EBADF: none */
        pid_t child; /* the premaking child, maybe still exiting: userns_premake_reap() */
} UsernsPremade;

#define USERNS_PREMADE_NULL ((UsernsPremade) { .userns = -EBADF, .nested = -EBADF })

/* A user namespace's one map line each for uids and gids. */
typedef struct UsernsMap {
        uid_t inside_uid;
        uid_t outside_uid;
        gid_t inside_gid;
        gid_t outside_gid;
} UsernsMap;

/* Whether this process may premake: called first thing in main(), before
 * it makes itself not dumpable (false: setuid, root, an unreadable
 * binary the kernel made not dumpable, or pid 1). */
bool userns_premake_possible(void);
/* Makes the namespace with FIRST's maps and, with NESTED, one nested in
 * it with NESTED's; 0 or -errno (nothing made, nothing to reap). */
int userns_premake(UsernsPremade *ret, const UsernsMap *first, const UsernsMap *nested);
/* Reaps the premaking child *PID (0: none), and sets it to 0. */
void userns_premake_reap(pid_t *pid);
void userns_premade_done(UsernsPremade *pre);

/* The monitor, in the premade namespace after the clone: makes the
 * namespaces FLAGS (CLONE_NEWNET, CLONE_NEWIPC) the clone left out, while
 * the child builds the root, and sends them to it over SOCK (or the errno
 * making them gave). */
void userns_make_aside(int sock, unsigned long flags);
/* The child's side: joins them; makes them itself if the monitor said
 * nothing (it died). */
int userns_join_aside(int sock, unsigned long flags);

/* Reaps the stand-ins used so far and, as pid 1, sets ns_last_pid back. */
void userns_reap_standins(Standins *s);
/* The same, and ends and closes everything of S's. */
void userns_standins_done(Standins *s);
