/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include "log.h"

/* The child's way to tell the monitor why setup failed, over a close-on-exec
 * SOCK_SEQPACKET socketpair: the monitor prints one message, and a
 * successful exec shows up as end-of-file. */
int report_channel(int ret_fds[2]);
void report_send(int fd, const Error *e);
/* The child, after everything else and right before exec: the command is
 * about to start. A failed exec follows it with a report; a successful one
 * closes the channel. Only the status fd needs to tell "the command ran"
 * from "the child died in setup without a word" (bwrap reports an exit
 * code only for a command that ran). */
void report_exec_starting(int fd);

enum {
        REPORT_ERROR = 1,       /* *ret filled */
        REPORT_EXEC = 2,        /* report_exec_starting() */
};
/* REPORT_ERROR or REPORT_EXEC, 0 at end-of-file, -EAGAIN when nothing is
 * there yet. */
int report_receive(int fd, Error *ret, bool blocking);
