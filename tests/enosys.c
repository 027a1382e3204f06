/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * enosys: runs a command on a pretend older kernel, where the named
 * syscalls answer ENOSYS (a seccomp filter, as container runtimes install
 * for syscalls they don't know):
 *
 *     $ enosys mount_setattr,open_tree -- csand --ro-bind / / true
 *
 * Names: the new mount API's calls. Exits 2 for a usage error.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct {
        const char *name;
        int nr;
} known[] = {
        { "fsopen", SYS_fsopen },       { "fsconfig", SYS_fsconfig },     { "fsmount", SYS_fsmount },
        { "open_tree", SYS_open_tree }, { "move_mount", SYS_move_mount }, { "mount_setattr", SYS_mount_setattr },
};

static int lookup(const char *name) {
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (strcmp(known[i].name, name) == 0)
                        return known[i].nr;
        return -1;
}

int main(int argc, char **argv) {
        struct sock_filter insns[2 + 2 * 8] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)) };
        unsigned short n = 1;

        if (argc < 4 || strcmp(argv[2], "--") != 0) {
                fprintf(stderr, "usage: enosys NAME[,NAME...] -- COMMAND [ARGS...]\n");
                return 2;
        }
        for (char *save = NULL, *name = strtok_r(argv[1], ",", &save); name; name = strtok_r(NULL, ",", &save)) {
                int nr = lookup(name);
                if (nr < 0 || (size_t) n + 3 > sizeof(insns) / sizeof(insns[0])) {
                        fprintf(stderr, "enosys: unknown or too many syscalls: %s\n", name);
                        return 2;
                }
                insns[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned) nr, 0, 1);
                insns[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
        }
        insns[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

        struct sock_fprog prog = { .len = n, .filter = insns };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                perror("enosys: seccomp");
                return 1;
        }
        execvp(argv[3], argv + 3);
        perror("enosys: exec");
        return 127;
}
