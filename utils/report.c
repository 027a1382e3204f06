/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <sys/socket.h>

#include "report.h"

int report_channel(int ret_fds[2]) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ret_fds) < 0)
                return -errno;
        return 0;
}

void report_send(int fd, const Error *e) {
        /* Best effort: if the monitor is gone, there is nobody to tell. */
        (void) !send(fd, e, sizeof(*e), MSG_NOSIGNAL);
}

void report_exec_starting(int fd) {
        /* One byte: a record of its own that no Error is as short as. */
        (void) !send(fd, "x", 1, MSG_NOSIGNAL);
}

int report_receive(int fd, Error *ret, bool blocking) {
        ssize_t n = recv(fd, ret, sizeof(*ret), blocking ? 0 : MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (n == 0)
                return 0;
        if (n == 1)
                return REPORT_EXEC;
        if ((size_t) n != sizeof(*ret))
                return -EBADMSG;
        ret->message[sizeof(ret->message) - 1] = '\0';
        return REPORT_ERROR;
}
