/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
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

/* ---- running a program here ----
 *
 * A classic BPF program for seccomp only jumps forward, so it ends; its
 * instructions are the few the kernel accepts for seccomp
 * (seccomp_check_filter()). Run on the struct seccomp_data the kernel
 * would pass, with every 32-bit word marked known or not. */

#if defined(__x86_64__) && !defined(__ILP32__)
#define SECCOMP_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define SECCOMP_ARCH_HERE AUDIT_ARCH_I386
#elif defined(__aarch64__) && !defined(__AARCH64EB__)
#define SECCOMP_ARCH_HERE AUDIT_ARCH_AARCH64
#else
#define SECCOMP_ARCH_HERE 0 /* not worked out: never proven */
#endif

#define DATA_WORDS (sizeof(struct seccomp_data) / sizeof(uint32_t))

typedef struct CallData {
        uint32_t words[DATA_WORDS];
        bool known[DATA_WORDS];
} CallData;

static void call_data(const SeccompCall *c, CallData *ret) {
        struct seccomp_data d = { .nr = c->nr, .arch = SECCOMP_ARCH_HERE };
        *ret = (CallData) {};
        memcpy(d.args, c->args, sizeof(d.args));
        memcpy(ret->words, &d, sizeof(d));
        ret->known[offsetof(struct seccomp_data, nr) / 4] = true;
        ret->known[offsetof(struct seccomp_data, arch) / 4] = true;
        for (size_t i = 0; i < 6; i++)
                if (c->known_args & (1U << i)) {
                        size_t w = (offsetof(struct seccomp_data, args) + i * sizeof(uint64_t)) / 4;
                        ret->known[w] = ret->known[w + 1] = true;
                }
}

static uint32_t alu(uint16_t op, uint32_t a, uint32_t v) {
        switch (op) {
        case BPF_ADD:
                return a + v;
        case BPF_SUB:
                return a - v;
        case BPF_MUL:
                return a * v;
        case BPF_DIV:
                return a / v;
        case BPF_MOD:
                return a % v;
        case BPF_OR:
                return a | v;
        case BPF_AND:
                return a & v;
        case BPF_XOR:
                return a ^ v;
        case BPF_LSH:
                return a << (v & 31);
        case BPF_RSH:
                return a >> (v & 31);
        default:
                return -a; /* BPF_NEG */
        }
}

static bool jump_taken(uint16_t op, uint32_t a, uint32_t v) {
        switch (op) {
        case BPF_JEQ:
                return a == v;
        case BPF_JGT:
                return a > v;
        case BPF_JGE:
                return a >= v;
        default:
                return a & v; /* BPF_JSET */
        }
}

/* The program's return value for D, or -EDOM where it depends on what is
 * not known, -EINVAL for what the kernel would not have loaded. */
static int64_t program_run(const struct sock_filter *f, size_t len, const CallData *d) {
        uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};

        for (size_t pc = 0; pc < len; pc++) {
                const struct sock_filter *i = &f[pc];
                uint16_t op = BPF_OP(i->code);
                uint32_t v = BPF_SRC(i->code) == BPF_X ? x : i->k;

                switch (i->code) {
                case BPF_LD | BPF_W | BPF_ABS:
                        if (i->k % 4 != 0 || i->k / 4 >= DATA_WORDS)
                                return -EINVAL;
                        if (!d->known[i->k / 4])
                                return -EDOM;
                        a = d->words[i->k / 4];
                        continue;
                case BPF_LD | BPF_W | BPF_LEN:
                        a = sizeof(struct seccomp_data);
                        continue;
                case BPF_LDX | BPF_W | BPF_LEN:
                        x = sizeof(struct seccomp_data);
                        continue;
                case BPF_LD | BPF_IMM:
                        a = i->k;
                        continue;
                case BPF_LDX | BPF_IMM:
                        x = i->k;
                        continue;
                case BPF_MISC | BPF_TAX:
                        x = a;
                        continue;
                case BPF_MISC | BPF_TXA:
                        a = x;
                        continue;
                case BPF_RET | BPF_K:
                        return i->k;
                case BPF_RET | BPF_A:
                        return a;
                case BPF_JMP | BPF_JA:
                        pc += i->k;
                        continue;
                case BPF_LD | BPF_MEM:
                case BPF_LDX | BPF_MEM:
                case BPF_ST:
                case BPF_STX:
                        if (i->k >= BPF_MEMWORDS)
                                return -EINVAL;
                        if (i->code == (BPF_LD | BPF_MEM))
                                a = mem[i->k];
                        else if (i->code == (BPF_LDX | BPF_MEM))
                                x = mem[i->k];
                        else
                                mem[i->k] = i->code == BPF_ST ? a : x;
                        continue;
                }
                switch (BPF_CLASS(i->code)) {
                case BPF_ALU:
                        if (op > BPF_XOR)
                                return -EINVAL;
                        /* The kernel ends a program that divides by X = 0
                         * with 0, which kills. */
                        if ((op == BPF_DIV || op == BPF_MOD) && v == 0)
                                return 0;
                        a = alu(op, a, v);
                        continue;
                case BPF_JMP:
                        if (op < BPF_JEQ || op > BPF_JSET)
                                return -EINVAL;
                        pc += jump_taken(op, a, v) ? i->jt : i->jf;
                        continue;
                }
                return -EINVAL;
        }
        return -EINVAL; /* jumped or ran past the end: the kernel refuses that */
}

bool seccomp_programs_allow(const SeccompProgram *progs, size_t n, const SeccompCall *calls, size_t n_calls) {
        if (SECCOMP_ARCH_HERE == 0)
                return false;
        for (size_t c = 0; c < n_calls; c++) {
                CallData d;
                call_data(&calls[c], &d);
                for (size_t i = 0; i < n; i++)
                        if (program_run(progs[i].data, progs[i].len / sizeof(struct sock_filter), &d) != SECCOMP_RET_ALLOW)
                                return false;
        }
        return true;
}
