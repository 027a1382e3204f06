/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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

static void log_vprint(int syslog_level, const char *fmt, va_list ap) {
        char buf[2048];

        vsnprintf(buf, sizeof(buf), fmt, ap);
        /* One write, so that concurrent sandboxes don't interleave lines. */
        if (level_prefix)
                fprintf(stderr, "<%d>%s: %s\n", syslog_level, program_name, buf);
        else
                fprintf(stderr, "%s: %s\n", program_name, buf);
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
