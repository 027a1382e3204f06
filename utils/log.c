/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *program_name = "csand";
static bool level_prefix;

static int error_vset(Error *e, int err, bool with_errno, const char *fmt, va_list ap) {
        if (err < 0)
                err = -err;
        if (err == 0)
                err = EINVAL;
        e->error = err;
        int n = vsnprintf(e->message, sizeof(e->message), fmt, ap);
        if (with_errno && n >= 0 && (size_t) n < sizeof(e->message))
                snprintf(e->message + n, sizeof(e->message) - n, ": %s", strerror(err));
        return -err;
}

int error_setf(Error *e, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(e, err, false, fmt, ap);
        va_end(ap);
        return r;
}

int error_set_errno(Error *e, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(e, err, true, fmt, ap);
        va_end(ap);
        return r;
}

void log_setup(const char *argv0) {
        if (!argv0 || !*argv0)
                return;
        const char *slash = strrchr(argv0, '/');
        program_name = slash ? slash + 1 : argv0;
}

void log_set_level_prefix(bool b) {
        level_prefix = b;
}

const char *log_program_name(void) {
        return program_name;
}

/* The length of the UTF-8 sequence at S if it is valid and no C1 control
 * (U+0080..U+009F, which terminals may obey as escape sequences: U+009B is
 * CSI), else 0. */
size_t utf8_printable_len(const unsigned char *s) {
        size_t n;
        uint32_t cp;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF, C1 */
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp <= 0x9f)
                return 0;
        return n;
}

size_t log_escape_buf(const char *s, char *buf, size_t size) {
        size_t o = 0;
        if (size == 0)
                return 0;
        for (const unsigned char *c = (const unsigned char *) s; *c;) {
                size_t n = *c >= 0x20 && *c < 0x7f ? 1 : *c >= 0x80 ? utf8_printable_len(c) : 0;
                if (n == 0) {
                        if (o + 4 >= size)
                                break;
                        snprintf(buf + o, size - o, "\\x%02x", *c);
                        o += 4;
                        c++;
                        continue;
                }
                if (o + n >= size)
                        break;
                memcpy(buf + o, c, n);
                o += n;
                c += n;
        }
        buf[o] = 0;
        return o;
}

char *log_escape(const char *s) {
        size_t size = 4 * strlen(s) + 1;
        char *buf = malloc(size);
        if (buf)
                log_escape_buf(s, buf, size);
        return buf;
}

static void log_vprint(int syslog_level, const char *fmt, va_list ap) {
        char buf[2048], name[256], escaped[4 * sizeof(buf)];

        vsnprintf(buf, sizeof(buf), fmt, ap);
        /* Messages carry paths, image metadata, profile text: whatever came
         * from outside must not drive the terminal, nor add a line. */
        log_escape_buf(buf, escaped, sizeof(escaped));
        log_escape_buf(program_name, name, sizeof(name));
        /* One write, so that concurrent sandboxes don't interleave lines. */
        if (level_prefix)
                fprintf(stderr, "<%d>%s: %s\n", syslog_level, name, escaped);
        else
                fprintf(stderr, "%s: %s\n", name, escaped);
}

void log_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        log_vprint(3, fmt, ap);
        va_end(ap);
}

void log_warning(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        log_vprint(4, fmt, ap);
        va_end(ap);
}

void print_line(const char *fmt, ...) {
        va_list ap;
        char *line = NULL;
        va_start(ap, fmt);
        int n = vasprintf(&line, fmt, ap);
        va_end(ap);
        _cleanup_free_ char *escaped = n >= 0 ? log_escape(line) : NULL;
        free(line);
        if (escaped)
                printf("%s\n", escaped);
}
