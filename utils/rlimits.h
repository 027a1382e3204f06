/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/resource.h>

#include "log.h"

/* --rlimit NAME=SOFT[:HARD]: resource limits set on the command just
 * before exec (the monitor and the sandbox's pid 1 keep the caller's). */
typedef struct RlimitSetting {
        int resource; /* RLIMIT_* */
        struct rlimit limit;
} RlimitSetting;

typedef struct RlimitSettings {
        RlimitSetting *items; /* one per resource; a later --rlimit replaces an earlier one */
        size_t n_items;
} RlimitSettings;

/* Parses one --rlimit argument: NAME is NOFILE, NPROC, AS, CPU, FSIZE,
 * CORE, DATA, STACK, MEMLOCK, MSGQUEUE, NICE, RTPRIO, RTTIME, SIGPENDING or
 * LOCKS (any case, RLIMIT_ prefix allowed); SOFT and HARD are numbers (k, m,
 * g suffixes allowed), "unlimited" or "infinity". Without HARD, the hard
 * limit is SOFT too (as systemd's LimitNOFILE= and docker's --ulimit). */
int rlimits_add(RlimitSettings *s, const char *arg, Error *e);

/* Checks against the caller's own limits: a hard limit above the caller's
 * cannot be set without privileges, so it is an error before anything starts. */
int rlimits_validate(const RlimitSettings *s, Error *e);

/* setrlimit() for each setting; in the child, just before exec. */
int rlimits_apply(const RlimitSettings *s, Error *e);

void rlimits_done(RlimitSettings *s);

/* "NOFILE" for RLIMIT_NOFILE; NULL when unknown. */
const char *rlimit_to_name(int resource);
int rlimit_from_name(const char *name);
