/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "macro.h"

/* An error on its way to the one place that prints it. Building blocks fill
 * it in and return a negative errno; only main() and the child's reporter
 * print. */
typedef struct Error {
        int error;              /* positive errno */
        char message[1024];
} Error;

/* Sets the message verbatim; returns -err (or -EINVAL when err is 0). */
int error_setf(Error *e, int err, const char *fmt, ...) _printf_(3, 4);
/* Same, with ": strerror(err)" appended, the way bwrap words its failures. */
int error_set_errno(Error *e, int err, const char *fmt, ...) _printf_(3, 4);

/* Messages are "PROG: text", PROG being the basename of argv[0], so csand
 * linked as "bwrap" speaks as bwrap. */
void log_setup(const char *argv0);
void log_set_level_prefix(bool b);
const char *log_program_name(void);
void log_error(const char *fmt, ...) _printf_(1, 2);
void log_warning(const char *fmt, ...) _printf_(1, 2);
