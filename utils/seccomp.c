/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "fd-util.h"
#include "seccomp-profile.h"
#include "seccomp.h"

int seccomp_program_read(int fd, SeccompProgram *ret, Error *e) {
        _cleanup_free_ void *data = NULL;
        size_t len;
        int r = read_full_fd(fd, (size_t) BPF_MAXINSNS * sizeof(struct sock_filter) + 1, &data, &len);
        if (r == -EFBIG)
                return error_setf(e, EFBIG, "Seccomp program on fd %d is longer than %d instructions", fd, BPF_MAXINSNS);
        if (r < 0)
                return error_set_errno(e, r, "Can't read seccomp data");
        if (len % sizeof(struct sock_filter) != 0)
                return error_setf(e, EINVAL, "Invalid seccomp data, must be multiple of 8");
        /* bwrap lets the kernel refuse an empty program later, with a hint
         * about kernel configuration; refused here, it is clearer. */
        if (len == 0)
                return error_setf(e, EINVAL, "Invalid seccomp data on fd %d: empty", fd);
        *ret = (SeccompProgram) { .data = TAKE_PTR(data), .len = len };
        return 0;
}

int seccomp_add_from_fd(SandboxPlan *p, int fd, Error *e) {
        SeccompProgram prog;
        int r = seccomp_program_read(fd, &prog, e);
        if (r < 0)
                return r;
        r = plan_add_seccomp(p, prog.data, prog.len);
        if (r < 0) {
                free(prog.data);
                return error_setf(e, ENOMEM, "Out of memory");
        }
        return 0;
}

int seccomp_add_profile(SandboxPlan *p, Error *e) {
        _cleanup_compiled_profile_ CompiledProfile cp = COMPILED_PROFILE_NULL;
        int caps[64];
        size_t n_caps = 0;

        /* "unconfined" (Docker's word): no profile, not even --image's default */
        if (!p->seccomp_profile || strcmp(p->seccomp_profile, SECCOMP_PROFILE_UNCONFINED) == 0)
                return 0;
        for (int c = 0; c < 64; c++)
                if (p->caps & (UINT64_C(1) << c))
                        caps[n_caps++] = c;
        int r = seccomp_profile_compile(p->seccomp_profile, caps, n_caps, &cp, e);
        if (r < 0)
                return r;
        size_t n = strlen(p->seccomp_profile);
        if (strchr(p->seccomp_profile, '/') || (n > 5 && strcmp(p->seccomp_profile + n - 5, ".json") == 0))
                for (char **s = cp.unknown_syscalls; s && *s; s++)
                        log_warning("--seccomp-profile %s: unknown syscall %s skipped", p->seccomp_profile, *s);

        SeccompProgram prog;
        r = seccomp_program_read(cp.fd, &prog, e);
        if (r < 0)
                return r;
        prog.flags = cp.filter_flags;
        r = plan_add_seccomp(p, prog.data, prog.len);
        if (r < 0) {
                free(prog.data);
                return error_setf(e, ENOMEM, "Out of memory");
        }
        /* First in, so that the bwrap-style programs stack on top of it. */
        SeccompProgram added = p->seccomp[p->n_seccomp - 1];
        added.flags = cp.filter_flags;
        memmove(p->seccomp + 1, p->seccomp, (p->n_seccomp - 1) * sizeof(SeccompProgram));
        p->seccomp[0] = added;
        return 0;
}

int seccomp_programs_apply(const SeccompProgram *progs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                struct sock_fprog prog = {
                        .len = (unsigned short) (progs[i].len / sizeof(struct sock_filter)),
                        .filter = progs[i].data,
                };
                /* bwrap loads each program with prctl(), so a program
                 * before may allow prctl() and still block seccomp(2):
                 * the next one must load the same way. seccomp(2) only
                 * for flags, which prctl() can't carry (a profile's). */
                int r = progs[i].flags == 0 ? prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) :
                                              syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, progs[i].flags, &prog);
                if (r < 0)
                        return -errno;
        }
        return 0;
}
