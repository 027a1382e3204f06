/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "caps.h"
#include "macro.h"

static void cap_freep(cap_t *c) {
        if (*c)
                cap_free(*c);
}

int caps_drop_all(void) {
        int last = (int) cap_max_bits();

        /* The bounding set first: dropping it needs CAP_SETPCAP, which the
         * capset below takes away. */
        for (int c = 0; c < last; c++)
                if (cap_drop_bound((cap_value_t) c) < 0 && errno != EINVAL)
                        return -errno;
        if (cap_reset_ambient() < 0 && errno != EINVAL)
                return -errno;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;

        _cleanup_(cap_freep) cap_t empty = cap_init();
        if (!empty)
                return -ENOMEM;
        if (cap_set_proc(empty) < 0)
                return -errno;
        return 0;
}
