/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Where csand keeps its own state, as the caller names it: one owner for
 * the paths, so that every module agrees and mounts.c can hide them all
 * from the sandboxes (see SECURITY.md, "csand's own files").
 *
 *   cache    $XDG_CACHE_HOME/csand, else $HOME/.cache/csand: compiled
 *            seccomp profiles, unpacked image layers
 *   runtime  $XDG_RUNTIME_DIR/csand: per-run sockets of network helpers
 *
 * Relative XDG paths are ignored, as the XDG spec says. -ENOENT when the
 * environment names no such place. */
typedef enum StateDir {
        STATE_DIR_CACHE,
        STATE_DIR_RUNTIME,
        _STATE_DIR_MAX,
} StateDir;

int state_dir_path(StateDir which, char **ret);

/* The directory, created (0700, parents too) when missing. */
int state_dir_make(StateDir which, char **ret);

/* Which binds expose the state directories inside a new root. Each
 * directory is identified by device and inode, and so is each of its
 * ancestors: a bind whose source is one of them shows the directory at the
 * bind's destination plus the rest of the path. */
#define STATE_DIR_MAX_DEPTH 32

typedef struct WatchedDir {
        struct stat st; /* the directory itself */
        char *real;     /* its canonical path */
        size_t n_anc;   /* real's prefixes, "/" first, the directory last */
        dev_t anc_dev[STATE_DIR_MAX_DEPTH];
        ino_t anc_ino[STATE_DIR_MAX_DEPTH];
        const char *anc_rest[STATE_DIR_MAX_DEPTH]; /* into real: the path below each */
        bool bound_explicitly;                     /* a bind's source is the directory itself */
        char **inside;                             /* where binds may show it in the new root */
        size_t n_inside;
} WatchedDir;

typedef struct StateWatch {
        WatchedDir dirs[_STATE_DIR_MAX];
        size_t n;
} StateWatch;

/* Creates the state directories that the environment names and records
 * their identities, in the caller's view. */
int state_watch_start(StateWatch *ret);
/* A bind of the directory SRC at DEST inside the new root. */
int state_watch_note_bind(StateWatch *w, const struct stat *src, const char *dest);
void state_watch_done(StateWatch *w);
