/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "macro.h"

/* A profile compiled to a classic BPF program, ready for the child.
 *
 * fd: a sealed memfd (O_CLOEXEC) holding the program, positioned at 0;
 *     its size is a non-zero multiple of sizeof(struct sock_filter), at most
 *     BPF_MAXINSNS instructions: seccomp_program_read() takes it as it is.
 * filter_flags: SECCOMP_FILTER_FLAG_* from the profile's "flags" (TSYNC,
 *     LOG, SPEC_ALLOW). They are not part of the BPF: pass them as the flags
 *     of seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) when loading.
 * unknown_syscalls: NULL-terminated names this libseccomp does not know;
 *     their rules were skipped, so those syscalls get the default action.
 *     Never NULL after success (possibly empty). The caller decides whether
 *     to warn: the shipped profiles knowingly list syscalls newer than the
 *     oldest libseccomp csand supports.
 * from_cache: the program came from the compiled-profile cache. */
typedef struct CompiledProfile {
        int fd;
        unsigned filter_flags;
        char **unknown_syscalls;
        bool from_cache;
} CompiledProfile;

#define COMPILED_PROFILE_NULL ((CompiledProfile) { .fd = -EBADF })

void compiled_profile_done(CompiledProfile *p);
#define _cleanup_compiled_profile_ _cleanup_(compiled_profile_done)

/* Compiles the profile NAME_OR_PATH into *ret. NAME_OR_PATH is a path when it
 * contains '/' or ends in ".json" and exists; otherwise it names an installed
 * profile (NAME.json in the profile dirs). CAPS are the capability numbers the
 * sandbox will hold, matched against "includes.caps"/"excludes.caps".
 *
 * Compiled programs are cached under $XDG_CACHE_HOME/csand/seccomp/, keyed by
 * the profile's bytes, libseccomp's version, the native arch, the kernel
 * release (for "minKernel") and CAPS; set CSAND_SECCOMP_CACHE=0 to bypass. */
int seccomp_profile_compile(const char *name_or_path, const int *caps, size_t n_caps, CompiledProfile *ret, Error *e);

/* The directories searched for profile names, in order:
 * $CSAND_SECCOMP_PROFILE_DIR (tests, build-tree runs), CSAND_PROFILE_DIR (the
 * installed datadir/csand/seccomp-profiles), and CSAND_SOURCE_PROFILE_DIR when
 * the running binary lives in the build tree (CSAND_BUILD_ROOT).
 * Returns the number of entries set in ret_dirs (at most 3). */
size_t seccomp_profile_dirs(const char *ret_dirs[static 3]);

/* Sorted, de-duplicated names of the installed profiles (NULL-terminated;
 * free with strv_free()). For error messages and completions. */
int seccomp_profile_list(char ***ret_names);
