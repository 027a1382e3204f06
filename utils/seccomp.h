/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "plan.h"

/* Reads a classic BPF program (struct sock_filter[]) from FD, as bwrap's
 * --seccomp and --add-seccomp-fd take it: whole, non-empty, a multiple of
 * 8 bytes, at most BPF_MAXINSNS instructions. */
int seccomp_program_read(int fd, SeccompProgram *ret, Error *e);
/* seccomp_program_read(), then the program goes last into P's list. */
int seccomp_add_from_fd(SandboxPlan *p, int fd, Error *e);

/* --seccomp-profile unconfined: no profile (undoes --image's default). */
#define SECCOMP_PROFILE_UNCONFINED "unconfined"

/* Compiles --seccomp-profile (if any) for the capabilities the command will
 * hold and puts it first among the programs to load. Warns about syscall
 * names libseccomp does not know only for the user's own profile files:
 * the shipped ones knowingly name syscalls newer than some libseccomps. */
int seccomp_add_profile(SandboxPlan *p, Error *e);

/* Installs the programs in order, with prctl(PR_SET_SECCOMP) as bwrap does
 * (seccomp(2) for a program with filter flags); the last one installed
 * runs first, as the kernel stacks filters. Needs no_new_privs (set by
 * caps_apply). */
int seccomp_programs_apply(const SeccompProgram *progs, size_t n);

/* One system call as csand itself will make it: its number for the native
 * arch, and its arguments where they are known (bit i of KNOWN_ARGS set
 * for args[i]; pointers and registers left as they happen to be are not). */
typedef struct SeccompCall {
        int nr;
        unsigned known_args;
        uint64_t args[6];
} SeccompCall;

/* Whether each of PROGS would let each of CALLS through (SECCOMP_RET_ALLOW,
 * nothing else: not even a logged allow), found by running the programs
 * here on what the kernel would give them. False whenever the answer
 * depends on what is not known: an argument not in KNOWN_ARGS, the
 * instruction pointer, an arch or an instruction this code does not know.
 * So true is a proof, false only "not proven". */
bool seccomp_programs_allow(const SeccompProgram *progs, size_t n, const SeccompCall *calls, size_t n_calls);
