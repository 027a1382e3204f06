/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include "log.h"

/* The child's way to tell the monitor why setup failed, over a close-on-exec
 * SOCK_SEQPACKET socketpair: the monitor prints one message, and a
 * successful exec shows up as end-of-file. */
int report_channel(int ret_fds[2]);
void report_send(int fd, const Error *e);
/* 1 with *ret filled, 0 at end-of-file, -EAGAIN when nothing is there yet. */
int report_receive(int fd, Error *ret, bool blocking);
