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
        REPORT_ERROR = 1, /* *ret filled */
        REPORT_EXEC = 2,  /* report_exec_starting() */
};
/* REPORT_ERROR or REPORT_EXEC, 0 at end-of-file, -EAGAIN when nothing is
 * there yet. */
int report_receive(int fd, Error *ret, bool blocking);

/* The sandbox's namespaces, which the monitor needs (the info JSON, the
 * network helpers) but may not open as /proc/CHILD/ns/ (the child is not
 * dumpable during its setup, so that nobody outside can ptrace it): the
 * child sends them, first thing, on the gate (see sandbox.c), a socket of
 * sequenced packets. */
enum {
        REPORT_NS_CGROUP,
        REPORT_NS_IPC,
        REPORT_NS_MNT,
        REPORT_NS_NET,
        REPORT_NS_PID,
        REPORT_NS_USER,
        REPORT_NS_UTS,
        _REPORT_NS_MAX,
};
extern const char *const report_namespace_names[_REPORT_NS_MAX];

/* The child: its own /proc/self/ns/ entries (best effort, the ones it can
 * open). */
void report_send_namespaces(int fd);
/* The monitor: fills RET_FDS (close-on-exec; -EBADF for those not sent).
 * 1 when the message came, 0 at end-of-file (the child died first). */
int report_receive_namespaces(int fd, int ret_fds[_REPORT_NS_MAX]);

/* The child, at the gate once its root is final: that root (the monitor
 * can't open /proc/CHILD/root of a child that is not dumpable). The
 * monitor: *RET_FD (close-on-exec); 1 when it came, 0 at end-of-file. */
void report_send_root(int fd);
int report_receive_root(int fd, int *ret_fd);
