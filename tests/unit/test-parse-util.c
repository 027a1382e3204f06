/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>

#include "tap.h"
#include "utils/parse-util.h"

static void test_parse_size(void) {
        static const struct {
                const char *s;
                uint64_t v;
        } good[] = {
                { "0", 0 },
                { "1", 1 },
                { "4096", 4096 },
                { "1k", 1024 },
                { "1K", 1024 },
                { "3m", 3ULL << 20 },
                { "3M", 3ULL << 20 },
                { "2g", 2ULL << 30 },
                { "2G", 2ULL << 30 },
                { "16777215g", 16777215ULL << 30 },
                { "18446744073709551615", UINT64_MAX },
                { "17179869183g", 17179869183ULL << 30 },
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                uint64_t v = 12345;
                int r = parse_size(good[i].s, &v);
                CHECK_INT(r, 0, "parse_size(\"%s\") succeeds", good[i].s);
                CHECK_UINT(v, good[i].v, "parse_size(\"%s\") = %" PRIu64, good[i].s, good[i].v);
        }

        static const struct {
                const char *s;
                int err;
        } bad[] = {
                { "", -EINVAL },
                { "k", -EINVAL },
                { "-1", -EINVAL },
                { "+1", -EINVAL },
                { " 1", -EINVAL },
                { "1 ", -EINVAL },
                { "1kb", -EINVAL },
                { "1kk", -EINVAL },
                { "1t", -EINVAL },
                { "1.5m", -EINVAL },
                { "0x10", -EINVAL },
                { "abc", -EINVAL },
                { "18446744073709551616", -ERANGE },
                { "99999999999999999999999", -ERANGE },
                { "17179869184g", -ERANGE }, /* 2^34 GiB = 2^64 */
                { "18014398509481984k", -ERANGE },
                { "17592186044416m", -ERANGE },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                uint64_t v = 777;
                int r = parse_size(bad[i].s, &v);
                CHECK_INT(r, bad[i].err, "parse_size(\"%s\") fails with %s", bad[i].s,
                          bad[i].err == -ERANGE ? "-ERANGE" : "-EINVAL");
                CHECK_UINT(v, 777, "parse_size(\"%s\") leaves the output alone", bad[i].s);
        }
        CHECK_INT(parse_size(NULL, &(uint64_t) { 0 }), -EINVAL, "parse_size(NULL) fails with -EINVAL");
}

static void test_parse_mode(void) {
        static const struct {
                const char *s;
                mode_t m;
        } good[] = {
                { "0", 0 },        { "0755", 0755 },   { "755", 0755 }, { "0700", 0700 },
                { "1777", 01777 }, { "07777", 07777 }, { "0000", 0 },
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                mode_t m = 01;
                CHECK_INT(parse_mode(good[i].s, &m), 0, "parse_mode(\"%s\") succeeds", good[i].s);
                CHECK_UINT(m, good[i].m, "parse_mode(\"%s\") = 0%o", good[i].s, (unsigned) good[i].m);
        }

        const char *const bad[] = { "", "8", "0758", "9", "rwx", "-1", " 0755", "0755 ", "0x1ff", "u+x", "0755a" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                mode_t m = 01;
                int r = parse_mode(bad[i], &m);
                CHECK_INT(r, -EINVAL, "parse_mode(\"%s\") fails with -EINVAL", bad[i]);
                CHECK_UINT(m, 01, "parse_mode(\"%s\") leaves the output alone", bad[i]);
        }
        const char *const range[] = { "10000", "17777", "777777" };
        for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++)
                CHECK_INT(parse_mode(range[i], &(mode_t) { 0 }), -ERANGE,
                          "parse_mode(\"%s\") fails with -ERANGE (more than 07777)", range[i]);
}

static void test_parse_fd(void) {
        int fd = -1;
        CHECK_INT(parse_fd("0", &fd), 0, "parse_fd(\"0\") succeeds");
        CHECK_INT(fd, 0, "parse_fd(\"0\") = 0");
        CHECK_INT(parse_fd("17", &fd), 0, "parse_fd(\"17\") succeeds");
        CHECK_INT(fd, 17, "parse_fd(\"17\") = 17");
        CHECK_INT(parse_fd("2147483647", &fd), 0, "parse_fd(INT_MAX) succeeds");
        CHECK_INT(fd, 2147483647, "parse_fd(INT_MAX) = INT_MAX");

        fd = 99;
        CHECK_INT(parse_fd("2147483648", &fd), -ERANGE, "parse_fd(INT_MAX+1) fails with -ERANGE");
        CHECK_INT(parse_fd("-1", &fd), -EINVAL, "parse_fd(\"-1\") fails with -EINVAL");
        CHECK_INT(parse_fd("", &fd), -EINVAL, "parse_fd(\"\") fails with -EINVAL");
        CHECK_INT(parse_fd("3x", &fd), -EINVAL, "parse_fd(\"3x\") fails with -EINVAL");
        CHECK_INT(parse_fd("x3", &fd), -EINVAL, "parse_fd(\"x3\") fails with -EINVAL");
        CHECK_INT(parse_fd("99999999999999999999", &fd), -ERANGE, "parse_fd(huge) fails with -ERANGE");
        CHECK_INT(fd, 99, "failed parse_fd calls leave the output alone");
}

static void test_parse_uint32(void) {
        uint32_t v = 5;
        CHECK_INT(parse_uint32("0", &v), 0, "parse_uint32(\"0\") succeeds");
        CHECK_UINT(v, 0, "parse_uint32(\"0\") = 0");
        CHECK_INT(parse_uint32("1000", &v), 0, "parse_uint32(\"1000\") succeeds");
        CHECK_UINT(v, 1000, "parse_uint32(\"1000\") = 1000");
        CHECK_INT(parse_uint32("4294967295", &v), 0, "parse_uint32(UINT32_MAX) succeeds");
        CHECK_UINT(v, UINT32_MAX, "parse_uint32(UINT32_MAX) = UINT32_MAX");

        v = 5;
        CHECK_INT(parse_uint32("4294967296", &v), -ERANGE, "parse_uint32(UINT32_MAX+1) fails with -ERANGE");
        CHECK_INT(parse_uint32("18446744073709551616", &v), -ERANGE, "parse_uint32(2^64) fails with -ERANGE");
        CHECK_INT(parse_uint32("-1", &v), -EINVAL, "parse_uint32(\"-1\") fails with -EINVAL");
        CHECK_INT(parse_uint32("abc", &v), -EINVAL, "parse_uint32(\"abc\") fails with -EINVAL");
        CHECK_INT(parse_uint32("12abc", &v), -EINVAL, "parse_uint32(\"12abc\") fails with -EINVAL");
        CHECK_INT(parse_uint32("", &v), -EINVAL, "parse_uint32(\"\") fails with -EINVAL");
        CHECK_INT(parse_uint32(" 1", &v), -EINVAL, "parse_uint32(\" 1\") fails with -EINVAL");
        CHECK_INT(parse_uint32("1k", &v), -EINVAL, "parse_uint32(\"1k\") fails with -EINVAL (no suffixes)");
        CHECK_UINT(v, 5, "failed parse_uint32 calls leave the output alone");
}

int main(void) {
        test_parse_size();
        test_parse_mode();
        test_parse_fd();
        test_parse_uint32();
        return tap_done();
}
