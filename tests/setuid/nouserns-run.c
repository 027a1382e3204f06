/* SPDX-License-Identifier: LGPL-2.0-or-later */
#define _GNU_SOURCE
/* nouserns-run COMMAND [ARG...]: runs COMMAND as the real user on a
 * system where nobody may make a user namespace, as with
 * user.max_user_namespaces=0, without touching the machine's sysctls.
 *
 * Installed setuid root for the test user only (tests/run-tests.sh:
 * root:USER, mode 4750). It installs a seccomp filter while root, so
 * without no_new_privs (the kernel allows that only with CAP_SYS_ADMIN):
 * clone() and unshare() with CLONE_NEWUSER fail with EPERM, clone3() with
 * ENOSYS (its flags are in memory a filter can't read; glibc then falls
 * back to clone()). Then it drops to the real uid and gid for good and
 * execs COMMAND. The filter is inherited by everything COMMAND starts, and
 * since no_new_privs stays unset, a setuid csand run from there is setuid
 * as installed: its privileged part meets the refusal as root would on
 * such a system. Nothing the caller can set undoes the filter. */
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "nouserns-run: add this architecture's AUDIT_ARCH"
#endif

#define ARG0_LO offsetof(struct seccomp_data, args[0])

int main(int argc, char **argv) {
        struct sock_filter code[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 3),
                /* the flags: clone's and unshare's first argument (low half) */
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO),
                BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
        uid_t uid = getuid();
        gid_t gid = getgid();

        if (argc < 2) {
                fprintf(stderr, "usage: %s COMMAND [ARG...]\n", argv[0]);
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "nouserns-run: must be setuid root (or run by root)\n");
                return 1;
        }
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) {
                fprintf(stderr, "nouserns-run: no_new_privs is set: a setuid csand would not be setuid\n");
                return 1;
        }
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
                perror("nouserns-run: seccomp");
                return 1;
        }
        if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
                perror("nouserns-run: dropping root");
                return 1;
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "nouserns-run: %s: %s\n", argv[1], strerror(errno));
        return 127;
}
