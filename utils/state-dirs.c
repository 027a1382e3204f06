/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "state-dirs.h"

int state_dir_path(StateDir which, char **ret) {
        const char *home = getenv("HOME");
        const char *xdg = getenv(which == STATE_DIR_CACHE ? "XDG_CACHE_HOME" : "XDG_RUNTIME_DIR");
        int r;

        if (xdg && xdg[0] == '/')
                r = asprintf(ret, "%s/csand", xdg);
        else if (which == STATE_DIR_CACHE && home && home[0] == '/')
                r = asprintf(ret, "%s/.cache/csand", home);
        else
                return -ENOENT;
        return r < 0 ? -ENOMEM : 0;
}

int state_dir_make(StateDir which, char **ret) {
        _cleanup_free_ char *path = NULL;
        int r = state_dir_path(which, &path);
        if (r < 0)
                return r;
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                *ret = TAKE_PTR(path);
                return 0;
        }
        for (char *c = path + 1;; c++) {
                if (*c != '/' && *c)
                        continue;
                char saved = *c;
                *c = '\0';
                if (mkdir(path, 0700) < 0 && errno != EEXIST)
                        return -errno;
                *c = saved;
                if (!saved)
                        break;
        }
        *ret = TAKE_PTR(path);
        return 0;
}

static int watch_dir(const char *path, WatchedDir *ret) {
        WatchedDir w = {};
        w.real = realpath(path, NULL);
        if (!w.real)
                return -errno;
        int r = 0;
        for (char *c = w.real;; c++) {
                if (*c != '/' && *c)
                        continue;
                if (w.n_anc == STATE_DIR_MAX_DEPTH) {
                        r = -ENAMETOOLONG;
                        break;
                }
                /* "/" for the root, else the prefix up to C */
                char saved = *c;
                bool root = c == w.real;
                if (!root)
                        *c = '\0';
                struct stat st;
                if (stat(root ? "/" : w.real, &st) < 0)
                        r = -errno;
                *c = saved;
                if (r < 0)
                        break;
                w.anc_dev[w.n_anc] = st.st_dev;
                w.anc_ino[w.n_anc] = st.st_ino;
                w.anc_rest[w.n_anc] = *c ? c + 1 : c;
                w.n_anc++;
                w.st = st;
                if (!saved)
                        break;
        }
        if (r < 0) {
                free(w.real);
                return r;
        }
        *ret = w;
        return 0;
}

int state_watch_start(StateWatch *ret) {
        StateWatch w = {};
        for (StateDir d = 0; d < _STATE_DIR_MAX; d++) {
                _cleanup_free_ char *path = NULL;
                /* A directory we can't make (a read-only home, say) can't
                 * be made from inside either: nothing to watch. */
                int r = state_dir_make(d, &path);
                if (r >= 0)
                        r = watch_dir(path, &w.dirs[w.n]);
                if (r == -ENOMEM) {
                        state_watch_done(&w);
                        return r;
                }
                if (r >= 0)
                        w.n++;
        }
        *ret = w;
        return 0;
}

int state_watch_note_bind(StateWatch *w, const struct stat *src, const char *dest) {
        for (size_t i = 0; i < w->n; i++) {
                WatchedDir *d = &w->dirs[i];
                for (size_t k = 0; k < d->n_anc; k++) {
                        if (d->anc_dev[k] != src->st_dev || d->anc_ino[k] != src->st_ino)
                                continue;
                        if (k == d->n_anc - 1) {
                                d->bound_explicitly = true;
                                break;
                        }
                        char **l = realloc(d->inside, (d->n_inside + 1) * sizeof(char *));
                        if (!l)
                                return -ENOMEM;
                        d->inside = l;
                        if (asprintf(&d->inside[d->n_inside], "%s/%s", dest, d->anc_rest[k]) < 0)
                                return -ENOMEM;
                        d->n_inside++;
                        break;
                }
        }
        return 0;
}

void state_watch_done(StateWatch *w) {
        for (size_t i = 0; i < w->n; i++) {
                WatchedDir *d = &w->dirs[i];
                for (size_t j = 0; j < d->n_inside; j++)
                        free(d->inside[j]);
                free(d->inside);
                free(d->real);
        }
        *w = (StateWatch) {};
}
