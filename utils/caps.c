/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "caps.h"
#include "macro.h"

static void cap_freep(cap_t *c) {
        if (*c)
                cap_free(*c);
}

int caps_from_name(const char *name, int *ret_cap) {
        cap_value_t v;
        char lower[64];
        size_t i;

        /* libcap knows "cap_sys_admin"; accept "SYS_ADMIN" and "CAP_SYS_ADMIN" too. */
        if (strncasecmp(name, "cap_", 4) != 0)
                snprintf(lower, sizeof(lower), "cap_%s", name);
        else
                snprintf(lower, sizeof(lower), "%s", name);
        for (i = 0; lower[i]; i++)
                lower[i] = (char) (lower[i] >= 'A' && lower[i] <= 'Z' ? lower[i] + 32 : lower[i]);
        if (cap_from_name(lower, &v) < 0 || v < 0 || v >= 64 || (unsigned) v >= (unsigned) cap_max_bits())
                return -EINVAL;
        *ret_cap = v;
        return 0;
}

uint64_t caps_all(void) {
        unsigned n = cap_max_bits();
        return n >= 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
}

int caps_drop_bounding(uint64_t keep) {
        unsigned last = cap_max_bits();
        for (unsigned c = 0; c < last; c++)
                if (!(keep & (UINT64_C(1) << c)) && cap_drop_bound((cap_value_t) c) < 0 && errno != EINVAL)
                        return -errno;
        return 0;
}

/* The permitted set: what this process can keep at most. */
static int caps_permitted(uint64_t *ret) {
        _cleanup_(cap_freep) cap_t cur = cap_get_proc();
        if (!cur)
                return -errno;
        uint64_t have = 0;
        for (unsigned c = 0, last = cap_max_bits(); c < last && c < 64; c++) {
                cap_flag_value_t v;
                if (cap_get_flag(cur, (cap_value_t) c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
                        have |= UINT64_C(1) << c;
        }
        *ret = have;
        return 0;
}

int caps_set(uint64_t keep) {
        unsigned last = cap_max_bits();
        /* --cap-add ALL means all we have: root outside a user namespace
         * may lack some (a container's bounding set). Nothing to ask when
         * nothing is kept, the common case. */
        if (keep != 0) {
                uint64_t have = 0;
                int r = caps_permitted(&have);
                if (r < 0)
                        return r;
                keep &= have;
        }

        /* One prctl, where libcap's cap_reset_ambient() asks about every
         * capability first. EINVAL: a kernel without ambient capabilities. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;

        _cleanup_(cap_freep) cap_t caps = cap_init();
        if (!caps)
                return -ENOMEM;
        for (unsigned c = 0; c < last; c++) {
                if (!(keep & (UINT64_C(1) << c)))
                        continue;
                cap_value_t v = (cap_value_t) c;
                if (cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET) < 0 ||
                    cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET) < 0 ||
                    cap_set_flag(caps, CAP_INHERITABLE, 1, &v, CAP_SET) < 0)
                        return -errno;
        }
        if (cap_set_proc(caps) < 0)
                return -errno;

        /* Ambient, so that a non-root uid keeps them across exec. */
        for (unsigned c = 0; c < last; c++)
                if ((keep & (UINT64_C(1) << c)) && cap_set_ambient((cap_value_t) c, CAP_SET) < 0)
                        return -errno;
        return 0;
}

int caps_apply(uint64_t keep) {
        /* The bounding set first: dropping from it needs CAP_SETPCAP, which
         * caps_set() may take away. */
        int r = caps_drop_bounding(keep);
        if (r < 0)
                return r;
        return caps_set(keep);
}
