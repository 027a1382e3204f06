/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include "plan.h"

/* Stops mount events from propagating back to the host: rslave on "/". */
int mounts_isolate(void);

/* A fresh tmpfs for the new root, stacked on top of "/". Lookups of absolute
 * paths still start at the process root below it, so bind sources keep
 * resolving in the caller's view, while destinations are resolved through
 * the returned fd. No /tmp, no mountinfo, no second pivot. */
int mounts_new_root(int *ret_root_fd);

/* Executes the plan's mount ops in order. *root_fd is replaced when an op
 * mounts over the root itself (e.g. --ro-bind / /), so that later ops land
 * on top. */
int mounts_execute(const SandboxPlan *p, int *root_fd, Error *e);

/* Makes ROOT_FD the process root and detaches everything else. */
int mounts_pivot(int root_fd);
