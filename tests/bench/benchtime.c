/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * benchtime: time several commands, interleaved, with CLOCK_MONOTONIC.
 *
 *   benchtime [-n RUNS] [-w WARMUP] [-r RAWFILE] LABEL CMD [ARGS...] [::: LABEL CMD [ARGS...]]...
 *
 * Each round runs every command once (the starting command rotates from
 * round to round, so no command always follows the same one), timing from
 * just before posix_spawn() to waitpid() returning, with stdin and stdout on
 * /dev/null and stderr passed through. WARMUP rounds are run first and
 * discarded. Any run that does not exit 0 is an error: benchtime says which
 * and exits 1.
 *
 * A label written LABEL%K runs that command only in every K-th round (the
 * rounds where the others run too, so it stays interleaved with them): slow
 * commands, e.g. bwrap with 1000 binds, get fewer runs in the same run.
 *
 * With -r, every timed run is also written to RAWFILE as "ROUND LABEL US",
 * for paired (same-round) comparisons.
 *
 * Output, one line per command, in the order given:
 *   LABEL runs=N median_us=X min_us=X mean_us=X max_us=X
 *
 * No peak RSS here: posix_spawn() starts the child in benchtime's own memory
 * (vfork), and exec folds that memory's high-water mark into the child's
 * ru_maxrss, so it would report benchtime's size, not the command's. No CPU
 * time either: on these VMs it is sampled at the tick, too coarse per run.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct Command {
        const char *label;
        int every; /* runs in rounds where round % every == 0 */
        int n;     /* timed runs so far */
        char **argv;
        double *us;
} Command;

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median_sorted(const double *v, int n) {
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

/* Runs C once; returns the wall time in µs, or -1 on failure. */
static double run_once(const Command *c) {
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int status, r;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);

        double start = now_us();
        r = posix_spawn(&pid, c->argv[0], &fa, NULL, c->argv, environ);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                fprintf(stderr, "benchtime: %s: cannot run %s: %s\n", c->label, c->argv[0], strerror(r));
                return -1;
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        fprintf(stderr, "benchtime: waitpid: %s\n", strerror(errno));
                        return -1;
                }
        double end = now_us();
        posix_spawn_file_actions_destroy(&fa);

        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "benchtime: %s: %s failed (%s %d)\n", c->label, c->argv[0],
                        WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                return -1;
        }
        return end - start;
}

static void usage(void) {
        fprintf(stderr, "usage: benchtime [-n RUNS] [-w WARMUP] [-r RAWFILE] LABEL CMD [ARGS...] [::: LABEL CMD [ARGS...]]...\n");
        exit(2);
}

int main(int argc, char **argv) {
        int runs = 50, warmup = 3, opt;
        FILE *raw = NULL;

        while ((opt = getopt(argc, argv, "+n:w:r:")) != -1) {
                switch (opt) {
                case 'n':
                        runs = atoi(optarg);
                        break;
                case 'w':
                        warmup = atoi(optarg);
                        break;
                case 'r':
                        raw = fopen(optarg, "we");
                        if (!raw) {
                                fprintf(stderr, "benchtime: %s: %s\n", optarg, strerror(errno));
                                return 1;
                        }
                        break;
                default:
                        usage();
                }
        }
        if (runs < 1 || warmup < 0 || optind + 2 > argc)
                usage();

        /* Split the rest at ":::" into LABEL CMD ARGS groups, in place. */
        int n = 1;
        for (int i = optind; i < argc; i++)
                if (strcmp(argv[i], ":::") == 0)
                        n++;
        Command *cmds = calloc((size_t) n, sizeof(Command));
        if (!cmds)
                return 1;
        int k = 0, start = optind;
        for (int i = optind; i <= argc; i++) {
                if (i < argc && strcmp(argv[i], ":::") != 0)
                        continue;
                if (i - start < 2)
                        usage();
                cmds[k].label = argv[start];
                cmds[k].every = 1;
                char *pct = strrchr(argv[start], '%');
                if (pct) {
                        cmds[k].every = atoi(pct + 1);
                        if (cmds[k].every < 1)
                                usage();
                        *pct = '\0';
                }
                cmds[k].argv = argv + start + 1;
                cmds[k].us = calloc((size_t) runs, sizeof(double));
                if (!cmds[k].us)
                        return 1;
                if (i < argc)
                        argv[i] = NULL;
                k++;
                start = i + 1;
        }

        for (int round = -warmup; round < runs; round++) {
                int first = (round + warmup) % n;
                for (int j = 0; j < n; j++) {
                        Command *c = &cmds[(first + j) % n];
                        if (((round % c->every) + c->every) % c->every != 0)
                                continue;
                        double us = run_once(c);
                        if (us < 0)
                                return 1;
                        if (round >= 0) {
                                c->us[c->n++] = us;
                                if (raw)
                                        fprintf(raw, "%d %s %.1f\n", round, c->label, us);
                        }
                }
        }

        if (raw)
                fclose(raw);
        for (int j = 0; j < n; j++) {
                Command *c = &cmds[j];
                double sum = 0;
                for (int i = 0; i < c->n; i++)
                        sum += c->us[i];
                qsort(c->us, (size_t) c->n, sizeof(double), cmp_double);
                printf("%s runs=%d median_us=%.1f min_us=%.1f mean_us=%.1f max_us=%.1f\n", c->label, c->n,
                       median_sorted(c->us, c->n), c->us[0], sum / c->n, c->us[c->n - 1]);
        }
        return 0;
}
