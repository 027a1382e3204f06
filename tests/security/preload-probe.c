/* The setuid escape battery's LD_PRELOAD/LD_AUDIT library: wherever it is
 * loaded, it leaves an empty file "pwned-EUID" in its own directory. Built
 * with the tests (not by the test) so that the battery also runs where no
 * compiler is, as in the VM tier's guest; it finds its directory at run
 * time, so one build serves every test's copy. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void probe_loaded(void) {
        Dl_info info;
        const char *slash;
        char path[4096];
        int fd;

        if (dladdr((void *) probe_loaded, &info) == 0 || !info.dli_fname)
                return;
        slash = strrchr(info.dli_fname, '/');
        if (!slash)
                return;
        snprintf(path, sizeof(path), "%.*s/pwned-%u", (int) (slash - info.dli_fname), info.dli_fname, (unsigned) geteuid());
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
                close(fd);
}
