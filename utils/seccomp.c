/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "fd-util.h"
#include "seccomp.h"

int seccomp_program_read(int fd, SeccompProgram *ret, Error *e) {
        _cleanup_free_ void *data = NULL;
        size_t len;
        int r = read_full_fd(fd, (size_t) BPF_MAXINSNS * sizeof(struct sock_filter) + 1, &data, &len);
        if (r == -EFBIG)
                return error_setf(e, EFBIG, "Seccomp program on fd %d is longer than %d instructions", fd, BPF_MAXINSNS);
        if (r < 0)
                return error_set_errno(e, r, "Can't read seccomp program from fd %d", fd);
        if (len == 0 || len % sizeof(struct sock_filter) != 0)
                return error_setf(e, EINVAL, "Invalid seccomp data on fd %d: %zu bytes, must be a non-zero multiple of 8", fd, len);
        *ret = (SeccompProgram) { .data = TAKE_PTR(data), .len = len };
        return 0;
}

int seccomp_programs_apply(const SeccompProgram *progs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                struct sock_fprog prog = {
                        .len = (unsigned short) (progs[i].len / sizeof(struct sock_filter)),
                        .filter = progs[i].data,
                };
                if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                        return -errno;
        }
        return 0;
}
