/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>

#include "report.h"

int report_channel(int ret_fds[2]) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ret_fds) < 0)
                return -errno;
        return 0;
}

/* write() first: after exec's last step, seccomp, a filter of the
 * caller's may block send() and friends but hardly write(), which bwrap
 * needs for its own messages too. (A monitor that is gone makes it
 * SIGPIPE: there is nobody to tell then, and the child was exiting.) */
static void send_record(int fd, const void *data, size_t len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno != EPIPE)
                (void) !send(fd, data, len, MSG_NOSIGNAL);
}

void report_send(int fd, const Error *e) {
        send_record(fd, e, sizeof(*e));
}

void report_exec_starting(int fd) {
        /* One byte: a record of its own that no Error is as short as. */
        send_record(fd, "x", 1);
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
