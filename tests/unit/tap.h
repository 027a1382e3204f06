/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* A tiny TAP producer for csand's C unit tests: one "ok N - name" or
 * "not ok N - name" line per check, diagnostics as "# " comments, the plan
 * at the end. main() returns tap_done(). */
#pragma once

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static unsigned tap_count, tap_failures;

static inline bool tap_result(bool ok, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static inline bool tap_result(bool ok, const char *file, int line, const char *fmt, ...) {
        va_list ap;
        tap_count++;
        if (!ok)
                tap_failures++;
        printf("%sok %u - ", ok ? "" : "not ", tap_count);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        if (!ok)
                printf("#   at %s:%d\n", file, line);
        fflush(stdout);
        return ok;
}

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...) {
        va_list ap;
        fputs("#   ", stdout);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

static inline int tap_done(void) {
        printf("1..%u\n", tap_count);
        return tap_failures ? 1 : 0;
}

#define CHECK(cond, ...) tap_result(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* Integers, shown on failure. */
#define CHECK_INT(got, want, ...)                                             \
        do {                                                                  \
                intmax_t _g_ = (intmax_t) (got), _w_ = (intmax_t) (want);     \
                if (!tap_result(_g_ == _w_, __FILE__, __LINE__, __VA_ARGS__)) \
                        tap_diag("%s = %jd, expected %jd", #got, _g_, _w_);   \
        } while (0)

#define CHECK_UINT(got, want, ...)                                            \
        do {                                                                  \
                uintmax_t _g_ = (uintmax_t) (got), _w_ = (uintmax_t) (want);  \
                if (!tap_result(_g_ == _w_, __FILE__, __LINE__, __VA_ARGS__)) \
                        tap_diag("%s = %ju, expected %ju", #got, _g_, _w_);   \
        } while (0)

/* Strings (NULL-safe), shown on failure. */
#define CHECK_STR(got, want, ...)                                                                                   \
        do {                                                                                                        \
                const char *_g_ = (got), *_w_ = (want);                                                             \
                bool _ok_ = (_g_ && _w_) ? strcmp(_g_, _w_) == 0 : _g_ == _w_;                                      \
                if (!tap_result(_ok_, __FILE__, __LINE__, __VA_ARGS__))                                             \
                        tap_diag("%s = \"%s\", expected \"%s\"", #got, _g_ ? _g_ : "(null)", _w_ ? _w_ : "(null)"); \
        } while (0)

/* HAYSTACK contains NEEDLE. */
#define CHECK_CONTAINS(haystack, needle, ...)                                                  \
        do {                                                                                   \
                const char *_h_ = (haystack), *_n_ = (needle);                                 \
                if (!tap_result(_h_ && strstr(_h_, _n_), __FILE__, __LINE__, __VA_ARGS__))     \
                        tap_diag("\"%s\" does not contain \"%s\"", _h_ ? _h_ : "(null)", _n_); \
        } while (0)
