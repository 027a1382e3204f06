/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include "log.h"

/* Why an unprivileged csand can't have a user namespace, told in one line
 * with the cause found (the sysctl and its value, AppArmor's restriction,
 * a seccomp filter of an enclosing container) and the fix. Everything is
 * read from the real /proc paths: a test pretends a kernel by binding
 * files over them in an outer sandbox. */

/* Before anything is set up for a sandbox with a new user namespace: where
 * AppArmor restricts unprivileged user namespaces
 * (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10 and later),
 * creating one succeeds but an unconfined caller is moved to the
 * "unprivileged_userns" profile, which denies every capability in it: the
 * setup would fail halfway, at the uid map. A throwaway child finds out
 * first. 0: no restriction, or the namespace works; < 0: E says why. */
int userns_diag_probe(Error *e);

/* After clone(CLONE_NEWUSER) failed with ERR (positive errno): the cause(s)
 * found and their fixes in E, and 1; 0 when none is found. */
int userns_diag_explain(int err, Error *e);
