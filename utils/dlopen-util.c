/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <dlfcn.h>
#include <errno.h>

#include "dlopen-util.h"

int dlopen_symbols(void **dl, const char *soname, const char *feature, const DlSymbol *symbols, size_t n_symbols, Error *e) {
        if (*dl)
                return 0;
        void *h = dlopen(soname, RTLD_NOW | RTLD_NODELETE);
        if (!h)
                return error_setf(e, EOPNOTSUPP, "%s needs %s: %s", feature, soname, dlerror());
        for (size_t i = 0; i < n_symbols; i++) {
                *symbols[i].ptr = dlsym(h, symbols[i].name);
                if (!*symbols[i].ptr) {
                        dlclose(h);
                        return error_setf(e, EOPNOTSUPP, "%s: %s lacks %s", feature, soname, symbols[i].name);
                }
        }
        *dl = h;
        return 0;
}
