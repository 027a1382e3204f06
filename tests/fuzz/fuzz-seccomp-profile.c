/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* libFuzzer target: seccomp_profile_compile() (utils/seccomp-profile.h) on
 * the input written to a temporary .json file, cache off
 * (CSAND_SECCOMP_CACHE=0).  The first byte picks the capability set the
 * profile is matched against. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "utils/log.h"
#include "utils/seccomp-profile.h"

static char path[256];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        setenv("CSAND_SECCOMP_CACHE", "0", 1);
        snprintf(path, sizeof(path), "%s/csand-fuzz-profile-%d.json", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                 (int) getpid());
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const int caps_sets[][3] = { { 0 }, { 21, 0, 0 }, { 21, 19, 38 } };
        size_t which = size > 0 ? data[0] % 3 : 0;
        FILE *f = fopen(path, "w");
        if (!f)
                abort();
        if (size > 1)
                fwrite(data + 1, 1, size - 1, f);
        fclose(f);

        CompiledProfile cp = COMPILED_PROFILE_NULL;
        Error e = {};
        if (seccomp_profile_compile(path, caps_sets[which], which, &cp, &e) >= 0)
                compiled_profile_done(&cp);
        unlink(path);
        return 0;
}
