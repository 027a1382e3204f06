/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * seccomp_programs_allow(): classic BPF programs run here, as the kernel
 * would run them for a system call csand is about to make. Each verdict
 * that says "allowed" is checked against the kernel itself: the program is
 * loaded in a forked child, which makes the call for real.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "utils/macro.h"
#include "utils/seccomp.h"

#if defined(__x86_64__) && !defined(__ILP32__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__) && !defined(__AARCH64EB__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

#define LD_ABS(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define NR LD_ABS(offsetof(struct seccomp_data, nr))
#define ARG_LO(i) LD_ABS(offsetof(struct seccomp_data, args) + 8 * (i))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define ALLOW RET(SECCOMP_RET_ALLOW)
#define EPERM_ RET(SECCOMP_RET_ERRNO | EPERM)

#define PROGRAM(name, ...) static struct sock_filter name[] = { __VA_ARGS__ }

static SeccompProgram program(struct sock_filter *f, size_t n) {
        return (SeccompProgram) { .data = f, .len = n * sizeof(*f) };
}
#define PROG(name) program(name, ELEMENTSOF(name))

static bool allows(SeccompProgram p, SeccompCall c) {
        return seccomp_programs_allow(&p, 1, &c, 1);
}

/* What the kernel says: C made for real under P in a child; 0 or the errno,
 * or -1 if the child did not exit normally. */
static int kernel_says(SeccompProgram p, SeccompCall c) {
        pid_t pid = fork();
        if (pid == 0) {
                struct sock_fprog f = { .len = (unsigned short) (p.len / 8), .filter = p.data };
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &f) < 0)
                        _exit(100);
                long r = syscall(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5]);
                _exit(r < 0 ? errno : 0);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status);
}

static const SeccompCall umask_022 = { .nr = __NR_umask, .known_args = 1, .args = { 022 } };
static const SeccompCall umask_077 = { .nr = __NR_umask, .known_args = 1, .args = { 077 } };
static const SeccompCall umask_unknown = { .nr = __NR_umask };
static const SeccompCall getpid_call = { .nr = __NR_getpid };

PROGRAM(allow_all, ALLOW);
/* umask refused, the rest allowed */
PROGRAM(no_umask, NR, BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_umask, 0, 1), EPERM_, ALLOW);
/* umask allowed only for 022: looks at its argument */
PROGRAM(umask_022_only, NR, BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_umask, 0, 3), ARG_LO(0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 022, 1, 0), EPERM_, ALLOW);
/* everything on another arch is refused */
PROGRAM(arch_only, LD_ABS(offsetof(struct seccomp_data, arch)), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        RET(SECCOMP_RET_KILL_PROCESS), ALLOW);
/* looks at where the call comes from */
PROGRAM(by_ip, LD_ABS(offsetof(struct seccomp_data, instruction_pointer)), ALLOW);
/* scratch memory, X, ALU and JSET: (nr & ~1) via M[3] and X, then
 * refuse when bit 0 of umask's argument is set */
PROGRAM(alu_mem, NR, BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~1U), BPF_STMT(BPF_ST, 3), BPF_STMT(BPF_LDX | BPF_MEM, 3),
        BPF_STMT(BPF_MISC | BPF_TXA, 0), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_umask & ~1U, 0, 3), ARG_LO(0),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1), EPERM_, ALLOW);
/* X = 0 divides: the kernel ends the program with 0 (kill) */
PROGRAM(div_zero, NR, BPF_STMT(BPF_LDX | BPF_IMM, 0), BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0), ALLOW);
/* allowed, but logged: not the same as bwrap's unfiltered call */
PROGRAM(log_all, RET(SECCOMP_RET_LOG));
/* an instruction seccomp does not take (a packet load) */
PROGRAM(bad_insn, BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), ALLOW);
/* ends without a return */
PROGRAM(no_return, NR, BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0), ALLOW);

static void test_verdicts(void) {
        CHECK(allows(PROG(allow_all), umask_unknown), "allow-all allows");
        CHECK(!allows(PROG(no_umask), umask_022), "a program refusing umask refuses it");
        CHECK(allows(PROG(no_umask), getpid_call), "... and allows getpid");
        CHECK(allows(PROG(umask_022_only), umask_022), "an argument check passes for the known argument");
        CHECK(!allows(PROG(umask_022_only), umask_077), "... fails for another");
        CHECK(!allows(PROG(umask_022_only), umask_unknown), "... and is not proven for an unknown argument");
        CHECK(allows(PROG(umask_022_only), getpid_call), "... and other calls, which it doesn't look into, pass");
        CHECK(allows(PROG(arch_only), getpid_call), "the native arch is what the kernel gives");
        CHECK(!allows(PROG(by_ip), getpid_call), "a program that reads the instruction pointer is not proven");
        CHECK(allows(PROG(alu_mem), umask_022), "scratch memory, X, ALU, JSET: umask 022 allowed");
        CHECK(!allows(PROG(alu_mem), (SeccompCall) { .nr = __NR_umask, .known_args = 1, .args = { 023 } }),
              "... umask 023 refused");
        CHECK(!allows(PROG(div_zero), getpid_call), "division by X = 0 ends the program with kill");
        CHECK(!allows(PROG(log_all), getpid_call), "a logged allow is not an allow");
        CHECK(!allows(PROG(bad_insn), getpid_call), "an instruction seccomp refuses: not proven");
        CHECK(!allows(PROG(no_return), getpid_call), "a jump past the end: not proven");

        SeccompProgram both[] = { PROG(allow_all), PROG(no_umask) };
        SeccompCall calls[] = { getpid_call, umask_022 };
        CHECK(!seccomp_programs_allow(both, 2, calls, 2), "every program must allow every call");
        CHECK(seccomp_programs_allow(both, 2, calls, 1), "... getpid alone passes both");
}

/* The verdicts that prove something, and some refusals, as the kernel has them. */
static void test_against_kernel(void) {
        struct {
                SeccompProgram p;
                SeccompCall c;
        } cases[] = {
                { PROG(allow_all), umask_022 },
                { PROG(no_umask), umask_022 },
                { PROG(no_umask), getpid_call },
                { PROG(umask_022_only), umask_022 },
                { PROG(umask_022_only), umask_077 },
                { PROG(arch_only), getpid_call },
                { PROG(alu_mem), umask_022 },
                { PROG(alu_mem), { .nr = __NR_umask, .known_args = 1, .args = { 023 } } },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                bool proven = allows(cases[i].p, cases[i].c);
                int k = kernel_says(cases[i].p, cases[i].c);
                CHECK(proven == (k == 0), "case %zu: proven allowed (%d) exactly when the kernel allows (%d)", i, proven, k);
        }
}

int main(void) {
#ifdef ARCH
        test_verdicts();
        test_against_kernel();
#else
        SeccompProgram p = PROG(allow_all);
        CHECK(!seccomp_programs_allow(&p, 1, &getpid_call, 1), "an arch not worked out: never proven");
#endif
        return tap_done();
}
