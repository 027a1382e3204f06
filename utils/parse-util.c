/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "parse-util.h"

static int parse_unsigned(const char *s, int base, uint64_t *ret, char **ret_end) {
        char *end = NULL;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (end == s)
                return -EINVAL;
        *ret = v;
        *ret_end = end;
        return 0;
}

int parse_uint64(const char *s, uint64_t *ret) {
        uint64_t v;
        char *end;
        int r = parse_unsigned(s, 10, &v, &end);
        if (r < 0)
                return r;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_uint32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int parse_fd(const char *s, int *ret) {
        uint64_t v;
        int r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v > INT_MAX)
                return -ERANGE;
        *ret = (int) v;
        return 0;
}

int parse_mode(const char *s, mode_t *ret) {
        uint64_t v;
        char *end;
        int r = parse_unsigned(s, 8, &v, &end);
        if (r < 0)
                return r;
        if (*end)
                return -EINVAL;
        if (v > 07777)
                return -ERANGE;
        *ret = (mode_t) v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        uint64_t v, factor = 1;
        char *end;
        int r = parse_unsigned(s, 10, &v, &end);
        if (r < 0)
                return r;
        switch (*end) {
        case '\0':
                break;
        case 'k':
        case 'K':
                factor = UINT64_C(1) << 10;
                break;
        case 'm':
        case 'M':
                factor = UINT64_C(1) << 20;
                break;
        case 'g':
        case 'G':
                factor = UINT64_C(1) << 30;
                break;
        default:
                return -EINVAL;
        }
        if (*end && end[1])
                return -EINVAL;
        if (v > UINT64_MAX / factor)
                return -ERANGE;
        *ret = v * factor;
        return 0;
}

int parse_port(const char *s, uint16_t *ret) {
        uint64_t v;
        int r = parse_uint64(s, &v);
        if (r == -ERANGE || (r == 0 && (v == 0 || v > 65535)))
                return -ERANGE;
        if (r < 0)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

int parse_kernel_version(const char *s, bool allow_suffix, unsigned ret[3]) {
        unsigned v[3] = {};
        const char *p = s;

        for (size_t i = 0; i < 3; i++) {
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                char *end;
                errno = 0;
                unsigned long n = strtoul(p, &end, 10);
                if (errno == ERANGE || n > UINT_MAX)
                        return -ERANGE;
                v[i] = (unsigned) n;
                p = end;
                if (*p != '.' || i == 2)
                        break;
                p++;
        }
        if (*p && !allow_suffix)
                return -EINVAL;
        memcpy(ret, v, sizeof(v));
        return 0;
}

int running_kernel_version(unsigned ret[3]) {
        struct utsname u;
        if (uname(&u) < 0)
                return -errno;
        return parse_kernel_version(u.release, true, ret);
}
