/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stddef.h>

#include "log.h"

/* Optional libraries are loaded when a feature needs them, systemd's
 * pattern: linked, every csand start would pay for loading and relocating
 * them (libseccomp and json-c alone: ~110 µs of a ~3 ms launch).
 *
 * A module declares a pointer per function, with the real prototype:
 *
 *     static DLSYM_FUNCTION(archive_read_new);
 *
 * lists them for dlopen_symbols() with DLSYM_ARG(archive_read_new), and
 * calls through sym_archive_read_new (or redirects the name with a
 * function-like macro, which leaves typeof(name) and &name alone). */
#define DLSYM_FUNCTION(name) typeof(name) *sym_##name
#define DLSYM_ARG(name) \
        { (void **) &sym_##name, #name }

typedef struct DlSymbol {
        void **ptr;
        const char *name;
} DlSymbol;

/* Loads SONAME (once: *dl is the handle, kept for the process's life) and
 * resolves every symbol. FEATURE names what needs it, for the message:
 * "FEATURE needs SONAME: why" or "FEATURE: SONAME lacks NAME". */
int dlopen_symbols(void **dl, const char *soname, const char *feature, const DlSymbol *symbols, size_t n_symbols, Error *e);
