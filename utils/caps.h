/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* Empties every capability set (bounding and ambient included), so that
 * nothing survives exec even for uid 0 inside, and sets no_new_privs so
 * that setuid binaries and file capabilities cannot give any back. */
int caps_drop_all(void);
