/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "macro.h"

/* An error on its way to the one place that prints it. Building blocks fill
 * it in and return a negative errno; only main() and the child's reporter
 * print. */
typedef struct Error {
        int error; /* positive errno */
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
/* Messages are escaped when printed (log_escape_buf()): a path, a tag or
 * profile text with terminal escapes in it prints them as \xHH. */
void log_error(const char *fmt, ...) _printf_(1, 2);
void log_warning(const char *fmt, ...) _printf_(1, 2);

/* S with every byte that could drive a terminal written as \xHH: C0 controls
 * (newline and tab included), DEL, UTF-8 C1 controls (U+0080..U+009F) and
 * bytes that are not valid UTF-8; other UTF-8 text is kept. For everything
 * csand prints that came from outside (paths, image metadata, profile
 * text). The _buf form truncates to SIZE (terminated) and returns the
 * length; log_escape() returns a new string (NULL: out of memory). */
size_t log_escape_buf(const char *s, char *buf, size_t size);
/* The length of the UTF-8 sequence at S if it is valid and no C1 control,
 * else 0: what log_escape() keeps (other escapers use it: --list --json). */
size_t utf8_printable_len(const unsigned char *s);
char *log_escape(const char *s);
/* One line on stdout (the newline added), escaped as log_escape() does: for
 * output such as --image-info's, made of what an image says. */
void print_line(const char *fmt, ...) _printf_(1, 2);
