/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "parse-util.h"
#include "rlimits.h"

static const struct {
        const char *name;
        int resource;
} rlimit_names[] = {
        { "AS", RLIMIT_AS },           { "CORE", RLIMIT_CORE },
        { "CPU", RLIMIT_CPU },         { "DATA", RLIMIT_DATA },
        { "FSIZE", RLIMIT_FSIZE },     { "LOCKS", RLIMIT_LOCKS },
        { "MEMLOCK", RLIMIT_MEMLOCK }, { "MSGQUEUE", RLIMIT_MSGQUEUE },
        { "NICE", RLIMIT_NICE },       { "NOFILE", RLIMIT_NOFILE },
        { "NPROC", RLIMIT_NPROC },     { "RTPRIO", RLIMIT_RTPRIO },
        { "RTTIME", RLIMIT_RTTIME },   { "SIGPENDING", RLIMIT_SIGPENDING },
        { "STACK", RLIMIT_STACK },
};

const char *rlimit_to_name(int resource) {
        for (size_t i = 0; i < ELEMENTSOF(rlimit_names); i++)
                if (rlimit_names[i].resource == resource)
                        return rlimit_names[i].name;
        return NULL;
}

int rlimit_from_name(const char *name) {
        if (strncasecmp(name, "RLIMIT_", 7) == 0)
                name += 7;
        for (size_t i = 0; i < ELEMENTSOF(rlimit_names); i++)
                if (strcasecmp(rlimit_names[i].name, name) == 0)
                        return rlimit_names[i].resource;
        return -EINVAL;
}

static int parse_rlim(const char *s, rlim_t *ret) {
        uint64_t v;
        if (strcmp(s, "unlimited") == 0 || strcmp(s, "infinity") == 0) {
                *ret = RLIM_INFINITY;
                return 0;
        }
        int r = parse_size(s, &v);
        if (r < 0)
                return r;
        if (v >= (uint64_t) RLIM_INFINITY)
                return -ERANGE;
        *ret = (rlim_t) v;
        return 0;
}

static void format_rlim(rlim_t v, char *buf, size_t size) {
        if (v == RLIM_INFINITY)
                snprintf(buf, size, "unlimited");
        else
                snprintf(buf, size, "%" PRIu64, (uint64_t) v);
}

int rlimits_add(RlimitSettings *s, const char *arg, Error *e) {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg)
                return error_setf(e, EINVAL, "--rlimit takes NAME=SOFT[:HARD], not \"%s\"", arg);

        _cleanup_free_ char *name = strndup(arg, (size_t) (eq - arg));
        _cleanup_free_ char *soft = strdup(eq + 1);
        if (!name || !soft)
                return -ENOMEM;
        int resource = rlimit_from_name(name);
        if (resource < 0)
                return error_setf(e, EINVAL,
                                  "--rlimit: unknown resource %s (known: AS CORE CPU DATA FSIZE LOCKS MEMLOCK MSGQUEUE NICE NOFILE NPROC RTPRIO RTTIME SIGPENDING STACK)",
                                  name);

        char *hard = strchr(soft, ':');
        if (hard)
                *hard++ = '\0';
        struct rlimit l;
        if (parse_rlim(soft, &l.rlim_cur) < 0)
                return error_setf(e, EINVAL, "--rlimit %s: invalid soft limit \"%s\" (a number, \"unlimited\" or \"infinity\")",
                                  name, soft);
        if (!hard)
                l.rlim_max = l.rlim_cur;
        else if (parse_rlim(hard, &l.rlim_max) < 0)
                return error_setf(e, EINVAL, "--rlimit %s: invalid hard limit \"%s\" (a number, \"unlimited\" or \"infinity\")",
                                  name, hard);
        /* RLIM_INFINITY is the largest value, so this also catches
         * unlimited:NUMBER. */
        if (l.rlim_cur > l.rlim_max) {
                char a[32], b[32];
                format_rlim(l.rlim_cur, a, sizeof(a));
                format_rlim(l.rlim_max, b, sizeof(b));
                return error_setf(e, EINVAL, "--rlimit %s: soft limit %s is above the hard limit %s", name, a, b);
        }

        for (size_t i = 0; i < s->n_items; i++)
                if (s->items[i].resource == resource) {
                        s->items[i].limit = l;
                        return 0;
                }
        RlimitSetting *items = reallocarray(s->items, s->n_items + 1, sizeof(RlimitSetting));
        if (!items)
                return -ENOMEM;
        s->items = items;
        s->items[s->n_items++] = (RlimitSetting) { .resource = resource, .limit = l };
        return 0;
}

int rlimits_validate(const RlimitSettings *s, Error *e) {
        for (size_t i = 0; i < s->n_items; i++) {
                const RlimitSetting *it = &s->items[i];
                struct rlimit cur;
                if (getrlimit(it->resource, &cur) < 0)
                        return error_set_errno(e, errno, "--rlimit %s: getrlimit", rlimit_to_name(it->resource));
                if (it->limit.rlim_max > cur.rlim_max) {
                        char a[32], b[32];
                        format_rlim(it->limit.rlim_max, a, sizeof(a));
                        format_rlim(cur.rlim_max, b, sizeof(b));
                        return error_setf(e, EPERM, "--rlimit %s: hard limit %s is above csand's own hard limit %s, which only a privileged process may raise",
                                          rlimit_to_name(it->resource), a, b);
                }
        }
        return 0;
}

int rlimits_apply(const RlimitSettings *s, Error *e) {
        for (size_t i = 0; i < s->n_items; i++) {
                const RlimitSetting *it = &s->items[i];
                if (setrlimit(it->resource, &it->limit) < 0)
                        return error_set_errno(e, errno, "Can't set resource limit %s (--rlimit)",
                                               rlimit_to_name(it->resource));
        }
        return 0;
}

void rlimits_done(RlimitSettings *s) {
        free(s->items);
        s->items = NULL;
        s->n_items = 0;
}
