/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fd-util.h"
#include "macro.h"
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

const char *const report_namespace_names[_REPORT_NS_MAX] = {
        [REPORT_NS_CGROUP] = "cgroup", [REPORT_NS_IPC] = "ipc",   [REPORT_NS_MNT] = "mnt", [REPORT_NS_NET] = "net",
        [REPORT_NS_PID] = "pid",       [REPORT_NS_USER] = "user", [REPORT_NS_UTS] = "uts",
};

/* The namespaces message: which of them follow as SCM_RIGHTS, in order.
 * Its size tells it from an Error. */
typedef struct NamespacesMessage {
        uint32_t magic;
        uint32_t mask;
} NamespacesMessage;
#define NAMESPACES_MAGIC 0x6e737673u

/* A message of exactly LEN bytes with its fds: 1, 0 at end-of-file (the
 * child died first), or -EBADMSG for one of another size (its fds
 * closed). */
static int receive_with_fds(int fd, void *data, size_t len, int *fds, size_t max, size_t *n_fds) {
        ssize_t n = fd_recv_with_fds(fd, data, len, fds, max, n_fds);
        if (n < 0)
                return (int) n;
        if ((size_t) n == len && n > 0)
                return 1;
        for (size_t i = 0; i < *n_fds; i++)
                safe_close(fds[i]);
        *n_fds = 0;
        return n == 0 ? 0 : -EBADMSG;
}

void report_send_namespaces(int fd) {
        NamespacesMessage m = { .magic = NAMESPACES_MAGIC };
        int fds[_REPORT_NS_MAX];
        size_t n = 0;
        for (size_t i = 0; i < _REPORT_NS_MAX; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/ns/%s", report_namespace_names[i]);
                int nsfd = open(path, O_RDONLY | O_CLOEXEC);
                if (nsfd < 0)
                        continue;
                m.mask |= 1u << i;
                fds[n++] = nsfd;
        }
        (void) fd_send_with_fds(fd, &m, sizeof(m), fds, n);
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

int report_receive_namespaces(int fd, int ret_fds[_REPORT_NS_MAX]) {
        NamespacesMessage m = {};
        int got[_REPORT_NS_MAX];
        size_t k;
        for (size_t i = 0; i < _REPORT_NS_MAX; i++)
                ret_fds[i] = -EBADF;
        int r = receive_with_fds(fd, &m, sizeof(m), got, _REPORT_NS_MAX, &k);
        if (r <= 0)
                return r;
        if (m.magic != NAMESPACES_MAGIC) {
                for (size_t i = 0; i < k; i++)
                        safe_close(got[i]);
                return -EBADMSG;
        }
        size_t j = 0;
        for (size_t i = 0; i < _REPORT_NS_MAX && j < k; i++)
                if (m.mask & (1u << i))
                        ret_fds[i] = got[j++];
        for (; j < k; j++)
                safe_close(got[j]);
        return 1;
}

#define ROOT_MAGIC 0x726f6f74u

void report_send_root(int fd) {
        uint32_t magic = ROOT_MAGIC;
        _cleanup_close_ int root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        (void) fd_send_with_fds(fd, &magic, sizeof(magic), &root_fd, root_fd >= 0);
}

int report_receive_root(int fd, int *ret_fd) {
        uint32_t magic = 0;
        size_t k;
        int got = -EBADF;
        *ret_fd = -EBADF;
        int r = receive_with_fds(fd, &magic, sizeof(magic), &got, 1, &k);
        if (r <= 0)
                return r;
        if (magic != ROOT_MAGIC || k != 1) {
                if (k == 1)
                        safe_close(got);
                return -EBADMSG;
        }
        *ret_fd = got;
        return 1;
}
