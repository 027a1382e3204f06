/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* libFuzzer target: options_parse() + plan_validate() (utils/options.h,
 * utils/plan.h), --args data included.
 *
 * Input: NUL-separated words.  Up to the first empty word (two NULs in a
 * row) they are argv; whatever follows is the --args data.  Options that
 * take an fd never see a number from the input: the word after any such
 * option (in argv and in the --args data) is replaced by a fresh fd the
 * harness owns, so that the parser can't close or read libFuzzer's own fds:
 *   --args                                   a memfd holding the --args data
 *   --seccomp, --add-seccomp-fd              a memfd holding the input's bytes
 *                                            (some 8-byte multiple of them)
 *   --file, --bind-data, --ro-bind-data      a memfd with a few bytes
 *   everything else (--info-fd, --userns...) /dev/null
 * unless the word is not a number at all (kept: the parser must reject it).
 * fds left open by the parser are closed after each run. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "utils/log.h"
#include "utils/options.h"
#include "utils/plan.h"

#define MAX_WORDS 512
#define MAX_FDS 64

static const char *const fd_options[] = {
        "--args",           "--userns",       "--userns2",         "--pidns",
        "--sync-fd",        "--block-fd",     "--userns-block-fd", "--info-fd",
        "--json-status-fd", "--seccomp",      "--add-seccomp-fd",  "--file",
        "--bind-data",      "--ro-bind-data", "--bind-fd",         "--ro-bind-fd",
};

static int fds[MAX_FDS];
static size_t n_fds;

static int memfd_with(const void *data, size_t len) {
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd < 0)
                abort();
        if (len > 0 && write(fd, data, len) != (ssize_t) len)
                abort();
        lseek(fd, 0, SEEK_SET);
        return fd;
}

static int harness_fd(const char *option, const uint8_t *input, size_t input_len, const char *args_data, size_t args_len) {
        int fd;
        if (n_fds >= MAX_FDS)
                return -1;
        if (strcmp(option, "--args") == 0)
                fd = memfd_with(args_data, args_len);
        else if (strcmp(option, "--seccomp") == 0 || strcmp(option, "--add-seccomp-fd") == 0)
                fd = memfd_with(input, (input_len / 8) * 8 > 4096 ? 4096 : (input_len / 8) * 8);
        else if (strcmp(option, "--file") == 0 || strcmp(option, "--bind-data") == 0 || strcmp(option, "--ro-bind-data") == 0)
                fd = memfd_with("data", 4);
        else
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                abort();
        fds[n_fds++] = fd;
        return fd;
}

static bool is_fd_option(const char *w) {
        for (size_t i = 0; i < sizeof(fd_options) / sizeof(fd_options[0]); i++)
                if (strcmp(w, fd_options[i]) == 0)
                        return true;
        return false;
}

static bool looks_numeric(const char *w) {
        for (; *w; w++)
                if (*w >= '0' && *w <= '9')
                        return true;
        return false;
}

/* Rewrites the fd words of WORDS in place (as newly allocated strings kept in NUMBUF). */
static void rewrite_fds(char **words, size_t n, char numbuf[][16], size_t *n_num, const uint8_t *input,
                        size_t input_len, const char *args_data, size_t args_len) {
        for (size_t i = 0; i + 1 < n; i++) {
                if (!is_fd_option(words[i]) || !looks_numeric(words[i + 1]) || *n_num >= MAX_WORDS)
                        continue;
                int fd = harness_fd(words[i], input, input_len, args_data, args_len);
                if (fd < 0)
                        continue;
                snprintf(numbuf[*n_num], 16, "%d", fd);
                words[i + 1] = numbuf[(*n_num)++];
        }
}

static size_t split(char *buf, size_t len, char **words, size_t max) {
        size_t n = 0;
        for (size_t i = 0; i < len && n < max;) {
                words[n++] = buf + i;
                i += strlen(buf + i) + 1;
        }
        return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        setenv("CSAND_SECCOMP_CACHE", "0", 1);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char numbuf[2 * MAX_WORDS][16];
        size_t n_num = 0;
        char *buf = malloc(size + 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';

        /* argv part: up to the first empty word */
        size_t argv_len = size, i;
        for (i = 0; i + 1 < size; i++)
                if (buf[i] == '\0' && buf[i + 1] == '\0') {
                        argv_len = i;
                        break;
                }
        const char *args_raw = argv_len < size ? buf + argv_len + 2 : "";
        size_t args_raw_len = argv_len < size ? size - argv_len - 2 : 0;
        if (argv_len + 2 > size)
                args_raw_len = 0;

        /* --args data, with its own fd words rewritten, re-joined with NULs */
        char *args_copy = malloc(args_raw_len + 1), *args_data = malloc(args_raw_len * 2 + 64 * MAX_WORDS + 1);
        char *awords[MAX_WORDS];
        size_t args_len = 0;
        memcpy(args_copy, args_raw, args_raw_len);
        args_copy[args_raw_len] = '\0';
        size_t an = split(args_copy, args_raw_len, awords, MAX_WORDS);
        rewrite_fds(awords, an, numbuf, &n_num, data, size, "", 0);
        for (size_t k = 0; k < an; k++) {
                size_t l = strlen(awords[k]) + 1;
                memcpy(args_data + args_len, awords[k], l);
                args_len += l;
        }

        char *words[MAX_WORDS + 1];
        size_t n = split(buf, argv_len, words, MAX_WORDS);
        rewrite_fds(words, n, numbuf, &n_num, data, size, args_data, args_len);
        words[n] = NULL;

        SandboxPlan *p = NULL;
        if (plan_new(&p) >= 0) {
                Error e = {};
                if (options_parse(p, (int) n, words, NULL, &e) >= 0) {
                        Error e2 = {};
                        (void) plan_validate(p, 1000, &e2);
                        (void) plan_validate(p, 0, &e2);
                }
                plan_free(p);
        }

        for (size_t k = 0; k < n_fds; k++)
                if (fcntl(fds[k], F_GETFD) >= 0)
                        close(fds[k]);
        n_fds = 0;
        free(args_copy);
        free(args_data);
        free(buf);
        return 0;
}
