/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>

#include "tap.h"
#include "utils/options.h"
#include "utils/plan.h"

/* Parses ARGV (NULL-terminated) and validates the plan as REAL_UID would.
 * Returns plan_validate's result; the message lands in *e. */
static int validate(uid_t real_uid, Error *e, char **argv) {
        SandboxPlan *p = NULL;
        int argc = 0;
        while (argv[argc])
                argc++;
        if (plan_new(&p) < 0) {
                printf("Bail out! plan_new failed\n");
                exit(1);
        }
        *e = (Error) {};
        int r = options_parse(p, argc, argv, NULL, e);
        if (r < 0) {
                printf("# options_parse failed: %s\n", e->message);
                plan_free(p);
                return -1000;
        }
        r = plan_validate(p, real_uid, e);
        plan_free(p);
        return r;
}

#define VALIDATE(uid, e, ...) validate(uid, &(e), (char *[]) { __VA_ARGS__, NULL })

int main(void) {
        Error e;
        int r;

        r = VALIDATE(1000, e, "true");
        CHECK_INT(r, 0, "a bare command is valid");

        r = VALIDATE(1000, e, "--unshare-all");
        CHECK_INT(r, -PLAN_NO_COMMAND, "no command is refused (an error of its own: by bwrap's name, the usage)");
        CHECK_CONTAINS(e.message, "command", "the message says the command is missing");

        r = VALIDATE(1000, e, "--hostname", "box", "true");
        CHECK_INT(r, -EINVAL, "--hostname without --unshare-uts is refused");
        CHECK_CONTAINS(e.message, "--hostname", "the message names --hostname");
        CHECK_CONTAINS(e.message, "--unshare-uts", "the message names --unshare-uts");

        r = VALIDATE(1000, e, "--hostname", "box", "--unshare-uts", "true");
        CHECK_INT(r, 0, "--hostname with --unshare-uts is valid");
        r = VALIDATE(1000, e, "--unshare-all", "--hostname", "box", "true");
        CHECK_INT(r, 0, "--hostname with --unshare-all is valid");

        r = VALIDATE(1000, e, "--as-pid-1", "true");
        CHECK_INT(r, -EINVAL, "--as-pid-1 without --unshare-pid is refused");
        CHECK_CONTAINS(e.message, "--as-pid-1", "the message names --as-pid-1");
        r = VALIDATE(1000, e, "--as-pid-1", "--unshare-pid", "true");
        CHECK_INT(r, 0, "--as-pid-1 with --unshare-pid is valid");

        r = VALIDATE(1000, e, "--uid", "0", "--gid", "0", "true");
        CHECK_INT(r, 0, "unprivileged, --uid/--gid imply the user namespace");

        r = VALIDATE(0, e, "--uid", "1234", "true");
        CHECK_INT(r, -EINVAL, "as root, --uid without --unshare-user is refused");
        CHECK_CONTAINS(e.message, "--uid", "the message names --uid");
        r = VALIDATE(0, e, "--uid", "1234", "--unshare-user", "true");
        CHECK_INT(r, 0, "as root, --uid with --unshare-user is valid");
        r = VALIDATE(0, e, "--uid", "1234", "--unshare-all", "true");
        CHECK_INT(r, 0, "as root, --uid with --unshare-all (user ns if possible) is valid");

        /* as in bwrap, the mount fails in its turn (core-fs.bats) */
        r = VALIDATE(1000, e, "--mqueue", "/dev/mqueue", "true");
        CHECK_INT(r, 0, "--mqueue without --unshare-ipc is left to the mount");
        r = VALIDATE(1000, e, "--unshare-ipc", "--mqueue", "/dev/mqueue", "true");
        CHECK_INT(r, 0, "--mqueue with --unshare-ipc is valid");

        return tap_done();
}
