/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdint.h>

/* A capability by name, with or without "CAP_", any case. */
int caps_from_name(const char *name, int *ret_cap);
/* Every capability this kernel knows. */
uint64_t caps_all(void);

/* Leaves exactly KEEP (bit N = capability N) in every set, bounding and
 * ambient included, so that they survive exec whatever the uid, and nothing
 * else; sets no_new_privs so that setuid binaries and file capabilities
 * cannot give anything back. KEEP = 0 drops everything. */
int caps_apply(uint64_t keep);

/* The two halves of caps_apply(), for a process that forks after dropping
 * the bounding set once: the bounding set alone (needs CAP_SETPCAP), and
 * the permitted, effective, inheritable and ambient sets plus no_new_privs. */
int caps_drop_bounding(uint64_t keep);
int caps_set(uint64_t keep);
