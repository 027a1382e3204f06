/* SPDX-License-Identifier: LGPL-2.0-or-later */
/*
 * Docker/OCI-format JSON seccomp profiles, compiled with libseccomp into a
 * classic BPF program in a sealed memfd.
 *
 * The semantics follow runc, the reference implementation of the format, so
 * that a Docker or podman seccomp.json means the same thing here:
 *  - several "args" conditions on the same argument index are ORed (one rule
 *    each), conditions on different indexes are ANDed (one rule);
 *  - a rule whose action equals the default action is skipped;
 *  - "includes"/"excludes" compare against the native arch, the capabilities
 *    the sandbox will hold and the running kernel's version;
 *  - rules are added with libseccomp's "best effort" (non-exact) API, so on
 *    x86 a condition on socket() also covers socketcall(SYS_SOCKET), whose
 *    arguments BPF cannot see.
 *
 * Compiling a large allow-list takes libseccomp a few milliseconds, more than
 * the rest of csand's start-up, so compiled programs are cached (see the
 * cache section below).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "json-util.h"
#include "parse-util.h"
#include "seccomp-profile.h"
#include "state-dirs.h"

/* No sane profile comes near this; it bounds what a wrong path (a device, a
 * log file) makes us read. */
#define PROFILE_SIZE_MAX (4U * 1024U * 1024U)
/* The kernel refuses longer programs (BPF_MAXINSNS). */
#define BPF_INSNS_MAX 4096U
/* Kernel errno values are capped at MAX_ERRNO. */
#define ERRNO_MAX 4095U
/* Bounds the rules one syscall entry may expand to. */
#define ARGS_MAX 256U

/* ---- small helpers ---- */

/* ---- libseccomp, loaded on first use (see dlopen-util.h) ---- */

static DLSYM_FUNCTION(seccomp_arch_add);
static DLSYM_FUNCTION(seccomp_arch_native);
static DLSYM_FUNCTION(seccomp_arch_resolve_name);
static DLSYM_FUNCTION(seccomp_attr_set);
static DLSYM_FUNCTION(seccomp_export_bpf);
static DLSYM_FUNCTION(seccomp_init);
static DLSYM_FUNCTION(seccomp_release);
static DLSYM_FUNCTION(seccomp_rule_add_array);
static DLSYM_FUNCTION(seccomp_syscall_resolve_name);
static DLSYM_FUNCTION(seccomp_version);

static int libseccomp_dlopen(Error *e) {
        static void *dl;
        static const DlSymbol symbols[] = {
                DLSYM_ARG(seccomp_arch_add), DLSYM_ARG(seccomp_arch_native),    DLSYM_ARG(seccomp_arch_resolve_name),
                DLSYM_ARG(seccomp_attr_set), DLSYM_ARG(seccomp_export_bpf),     DLSYM_ARG(seccomp_init),
                DLSYM_ARG(seccomp_release),  DLSYM_ARG(seccomp_rule_add_array), DLSYM_ARG(seccomp_syscall_resolve_name),
                DLSYM_ARG(seccomp_version),
        };
        return dlopen_symbols(&dl, "libseccomp.so.2", "seccomp profiles", symbols, ELEMENTSOF(symbols), e);
}

#define seccomp_arch_add(...) sym_seccomp_arch_add(__VA_ARGS__)
#define seccomp_arch_native(...) sym_seccomp_arch_native(__VA_ARGS__)
#define seccomp_arch_resolve_name(...) sym_seccomp_arch_resolve_name(__VA_ARGS__)
#define seccomp_attr_set(...) sym_seccomp_attr_set(__VA_ARGS__)
#define seccomp_export_bpf(...) sym_seccomp_export_bpf(__VA_ARGS__)
#define seccomp_init(...) sym_seccomp_init(__VA_ARGS__)
#define seccomp_release(...) sym_seccomp_release(__VA_ARGS__)
#define seccomp_rule_add_array(...) sym_seccomp_rule_add_array(__VA_ARGS__)
#define seccomp_syscall_resolve_name(...) sym_seccomp_syscall_resolve_name(__VA_ARGS__)
#define seccomp_version(...) sym_seccomp_version(__VA_ARGS__)

static void json_tokener_freep(json_tokener **t) {
        if (*t)
                json_tokener_free(*t);
}

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static bool endswith(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && streq(s + n - m, suffix);
}

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool strv_contains(char *const *l, const char *s) {
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

/* Appends a copy of S unless it is already there; *l stays NULL-terminated. */
static int strv_extend_unique(char ***l, const char *s) {
        if (strv_contains(*l, s))
                return 0;
        size_t n = strv_length(*l);
        char **nl = realloc(*l, (n + 2) * sizeof(char *));
        if (!nl)
                return -ENOMEM;
        *l = nl;
        nl[n] = strdup(s);
        if (!nl[n])
                return -ENOMEM;
        nl[n + 1] = NULL;
        return 1;
}

static int strv_new_empty(char ***ret) {
        char **l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        *ret = l;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

void compiled_profile_done(CompiledProfile *p) {
        p->fd = safe_close(p->fd);
        p->unknown_syscalls = strv_free(p->unknown_syscalls);
}

/* ---- where profiles live ---- */

#if defined(CSAND_SOURCE_PROFILE_DIR) && defined(CSAND_BUILD_ROOT)
/* The source tree's profiles are only for binaries run from the build tree:
 * an installed csand must never pick up whatever sits in an old checkout. */
static bool running_from_build_tree(void) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return false;
        exe[n] = '\0';
        size_t m = strlen(CSAND_BUILD_ROOT);
        return strncmp(exe, CSAND_BUILD_ROOT, m) == 0 && exe[m] == '/';
}
#endif

size_t seccomp_profile_dirs(const char *ret_dirs[static 3]) {
        size_t n = 0;
        const char *env = getenv("CSAND_SECCOMP_PROFILE_DIR");

        if (env && *env)
                ret_dirs[n++] = env;
#ifdef CSAND_PROFILE_DIR
        ret_dirs[n++] = CSAND_PROFILE_DIR;
#endif
#if defined(CSAND_SOURCE_PROFILE_DIR) && defined(CSAND_BUILD_ROOT)
        if (running_from_build_tree())
                ret_dirs[n++] = CSAND_SOURCE_PROFILE_DIR;
#endif
        return n;
}

static int list_dir_profiles(const char *dir, char ***names) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !endswith(de->d_name, ".json"))
                        continue;
                _cleanup_free_ char *name = strndup(de->d_name, strlen(de->d_name) - strlen(".json"));
                if (!name)
                        return -ENOMEM;
                int r = strv_extend_unique(names, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

int seccomp_profile_list(char ***ret_names) {
        _cleanup_strv_free_ char **names = NULL;
        const char *dirs[3];
        size_t n = seccomp_profile_dirs(dirs);
        int r;

        r = strv_new_empty(&names);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = list_dir_profiles(dirs[i], &names);
                if (r < 0)
                        return r;
        }
        qsort(names, strv_length(names), sizeof(char *), cmp_str);
        *ret_names = TAKE_PTR(names);
        return 0;
}

static bool is_profile_path(const char *s) {
        if (strchr(s, '/'))
                return true;
        return endswith(s, ".json") && access(s, F_OK) == 0;
}

static bool is_valid_profile_name(const char *s) {
        if (!*s || *s == '.' || strlen(s) > NAME_MAX - strlen(".json"))
                return false;
        for (const char *c = s; *c; c++)
                if (!isalnum((unsigned char) *c) && !strchr("._-", *c))
                        return false;
        return true;
}

static int unknown_profile_error(const char *name, Error *e) {
        _cleanup_strv_free_ char **names = NULL;
        char known[512] = "";
        size_t len = 0;

        if (seccomp_profile_list(&names) < 0 || !names[0])
                return error_setf(e, ENOENT, "Unknown seccomp profile \"%s\" (no profiles are installed)", name);
        for (size_t i = 0; names[i]; i++) {
                int n = snprintf(known + len, sizeof(known) - len, "%s%s", i > 0 ? ", " : "", names[i]);
                if (n < 0 || (size_t) n >= sizeof(known) - len)
                        break;
                len += (size_t) n;
        }
        return error_setf(e, ENOENT, "Unknown seccomp profile \"%s\"; known profiles: %s", name, known);
}

/* Opens the profile; *ret_path is the file actually opened, for messages. */
static int open_profile(const char *name_or_path, int *ret_fd, char **ret_path, Error *e) {
        if (is_profile_path(name_or_path)) {
                int fd = open(name_or_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return error_set_errno(e, errno, "Can't open seccomp profile %s", name_or_path);
                char *p = strdup(name_or_path);
                if (!p) {
                        safe_close(fd);
                        return error_setf(e, ENOMEM, "Out of memory");
                }
                *ret_fd = fd;
                *ret_path = p;
                return 0;
        }

        if (!is_valid_profile_name(name_or_path))
                return error_setf(e, EINVAL, "Invalid seccomp profile name \"%s\"", name_or_path);

        const char *dirs[3];
        size_t n = seccomp_profile_dirs(dirs);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s.json", dirs[i], name_or_path) < 0)
                        return error_setf(e, ENOMEM, "Out of memory");
                int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0 && errno == ENOENT)
                        continue;
                if (fd < 0)
                        return error_set_errno(e, errno, "Can't open seccomp profile %s", path);
                *ret_fd = fd;
                *ret_path = TAKE_PTR(path);
                return 0;
        }
        return unknown_profile_error(name_or_path, e);
}

/* ---- JSON ---- */

/* 1-based line and column of byte OFFSET, as editors count them. */
static void offset_to_line_column(const char *buf, size_t offset, unsigned *ret_line, unsigned *ret_column) {
        unsigned line = 1, column = 1;
        for (size_t i = 0; i < offset && buf[i]; i++) {
                if (buf[i] == '\n') {
                        line++;
                        column = 1;
                } else
                        column++;
        }
        *ret_line = line;
        *ret_column = column;
}

static int parse_json(const char *path, const char *buf, size_t len, json_object **ret, Error *e) {
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new();
        unsigned line, column;

        if (!tok)
                return error_setf(e, ENOMEM, "Out of memory");
        if (len > INT_MAX)
                return error_setf(e, EFBIG, "Seccomp profile %s is too large", path);
        /* Strict: Docker reads profiles with Go's encoding/json, which
         * refuses trailing commas, single quotes and the like. */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        _cleanup_json_ json_object *root = json_tokener_parse_ex(tok, buf, (int) len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);

        if (!root && jerr == json_tokener_continue) {
                offset_to_line_column(buf, len, &line, &column);
                return error_setf(e, EINVAL, "Seccomp profile %s: line %u, column %u: malformed JSON: unexpected end of file",
                                  path, line, column);
        }
        if (!root || jerr != json_tokener_success) {
                /* parse_end is the offset of the offending byte. */
                offset_to_line_column(buf, end, &line, &column);
                return error_setf(e, EINVAL, "Seccomp profile %s: line %u, column %u: malformed JSON: %s", path, line,
                                  column, json_tokener_error_desc(jerr));
        }
        while (end < len && isspace((unsigned char) buf[end]))
                end++;
        if (end < len) {
                offset_to_line_column(buf, end, &line, &column);
                return error_setf(e, EINVAL,
                                  "Seccomp profile %s: line %u, column %u: malformed JSON: text after the top-level value",
                                  path, line, column);
        }
        *ret = TAKE_PTR(root);
        return 0;
}

/* ---- the compiler ---- */

typedef struct Compiler {
        const char *path; /* for messages */
        scmp_filter_ctx ctx;
        uint32_t native_arch;
        uint32_t default_action;
        uint64_t caps;      /* bit N: the sandbox holds capability N */
        unsigned kernel[3]; /* major, minor, patch of the running kernel */
        unsigned filter_flags;
        char **unknown; /* syscall names libseccomp does not know */
} Compiler;

static void compiler_done(Compiler *c) {
        if (c->ctx)
                seccomp_release(c->ctx);
        c->ctx = NULL;
        c->unknown = strv_free(c->unknown);
}

/* Every diagnostic names the file and the JSON location, e.g.
 * "Seccomp profile p.json: syscalls[3].args[0].op: unknown operator ...". */
#define fail(c, e, err, where, fmt, ...) \
        error_setf(e, err, "Seccomp profile %s: %s: " fmt, (c)->path, where, ##__VA_ARGS__)

/* Docker profiles carry "comment" fields, and csand's own a description;
 * neither means anything to the filter. */
static bool is_ignored_key(const char *key) {
        return streq(key, "comment") || startswith(key, "x-");
}

/* Refuses keys we do not know: a misspelt "args" must not silently turn a
 * conditional rule into an unconditional one. */
static int check_keys(const Compiler *c, json_object *o, const char *const *known, const char *where, Error *e) {
        if (!json_object_is_type(o, json_type_object))
                return fail(c, e, EINVAL, where, "must be an object");
        json_object_object_foreach(o, key, val) {
                (void) val;
                if (is_ignored_key(key))
                        continue;
                bool found = false;
                for (size_t i = 0; known[i]; i++)
                        if (streq(known[i], key))
                                found = true;
                if (!found)
                        return fail(c, e, EINVAL, where, "unknown key \"%s\"", key);
        }
        return 0;
}

/* Looks KEY up in O. Absent and null both give *ret = NULL and 0; a value of
 * another type is an error. */
static int get_member(const Compiler *c, json_object *o, const char *key, json_type type, const char *where,
                      json_object **ret, Error *e) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, type))
                return fail(c, e, EINVAL, where, "\"%s\" must be %s", key,
                            type == json_type_int    ? "an integer" :
                            type == json_type_array  ? "an array" :
                            type == json_type_object ? "an object" :
                            type == json_type_string ? "a string" :
                                                       json_type_to_name(type));
        *ret = v;
        return 1;
}

static int get_u64(const Compiler *c, json_object *o, const char *key, const char *where, uint64_t max,
                   bool *ret_present, uint64_t *ret, Error *e) {
        json_object *v;
        int r = get_member(c, o, key, json_type_int, where, &v, e);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret_present = false;
                return 0;
        }
        /* json-c keeps integers above INT64_MAX as unsigned; get_int64()
         * clamps those to INT64_MAX, so a negative result is a real sign. */
        if (json_object_get_int64(v) < 0)
                return fail(c, e, ERANGE, where, "\"%s\" must not be negative", key);
        uint64_t u = json_object_get_uint64(v);
        if (u > max)
                return fail(c, e, ERANGE, where, "\"%s\" is %" PRIu64 ", more than %" PRIu64, key, u, max);
        *ret_present = true;
        *ret = u;
        return 0;
}

/* For each string of the array member KEY, calls FN. */
typedef int (*StringFn)(Compiler *c, const char *s, const char *where, void *userdata, Error *e);
static int foreach_string(Compiler *c, json_object *o, const char *key, const char *where, StringFn fn, void *userdata,
                          Error *e) {
        json_object *arr;
        int r = get_member(c, o, key, json_type_array, where, &arr, e);
        if (r <= 0)
                return r;
        size_t n = json_object_array_length(arr);
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_array_get_idx(arr, i);
                if (!json_object_is_type(s, json_type_string))
                        return fail(c, e, EINVAL, where, "\"%s\"[%zu] must be a string", key, i);
                r = fn(c, json_object_get_string(s), where, userdata, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* -- actions -- */

static const struct {
        const char *name;
        uint32_t action;
} action_table[] = {
        { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW },
        { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0) },
        { "SCMP_ACT_KILL", SCMP_ACT_KILL },
        { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD },
        { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS },
        { "SCMP_ACT_TRAP", SCMP_ACT_TRAP },
        { "SCMP_ACT_LOG", SCMP_ACT_LOG },
};

/* containers/common (podman) profiles name the errno as well ("errno":
 * "EPERM" next to "errnoRet": 1). The number wins; the name is used when it
 * is alone. Leaves *ret alone when there is no name. */
static int parse_errno_name(const Compiler *c, json_object *o, const char *key, const char *where, uint64_t *ret, Error *e) {
        json_object *v;
        int r = get_member(c, o, key, json_type_string, where, &v, e);
        if (r <= 0)
                return r;
        const char *name = json_object_get_string(v);
        for (int i = 1; i <= (int) ERRNO_MAX; i++) {
                const char *n = strerrorname_np(i);
                if (n && streq(n, name)) {
                        *ret = (uint64_t) i;
                        return 0;
                }
        }
        return fail(c, e, EINVAL, where, "unknown errno name \"%s\" in \"%s\"", name, key);
}

/* Parses the action in member ACTION_KEY of O; ERRNO takes its value from
 * ERRNO_KEY (or the name in ERRNO_NAME_KEY), EPERM when absent (Docker's
 * rule). */
static int parse_action(const Compiler *c, json_object *o, const char *action_key, const char *errno_key,
                        const char *errno_name_key, const char *where, uint32_t *ret, Error *e) {
        json_object *v;
        int r = get_member(c, o, action_key, json_type_string, where, &v, e);
        if (r < 0)
                return r;
        if (r == 0)
                return fail(c, e, EINVAL, where, "\"%s\" is missing", action_key);
        const char *name = json_object_get_string(v);

        if (streq(name, "SCMP_ACT_NOTIFY") || streq(name, "SCMP_ACT_TRACE"))
                return fail(c, e, EOPNOTSUPP, where, "action %s is not supported", name);
        for (size_t i = 0; i < ELEMENTSOF(action_table); i++) {
                if (!streq(action_table[i].name, name))
                        continue;
                if (action_table[i].action != SCMP_ACT_ERRNO(0)) {
                        *ret = action_table[i].action;
                        return 0;
                }
                uint64_t err = EPERM;
                bool present;
                r = get_u64(c, o, errno_key, where, ERRNO_MAX, &present, &err, e);
                if (r < 0)
                        return r;
                if (!present) {
                        r = parse_errno_name(c, o, errno_name_key, where, &err, e);
                        if (r < 0)
                                return r;
                }
                *ret = SCMP_ACT_ERRNO((uint16_t) err);
                return 0;
        }
        return fail(c, e, EINVAL, where, "unknown action \"%s\"", name);
}

/* -- architectures -- */

/* Which arches a machine of the native arch can run: only those are worth
 * a place in the filter; the others would be dead code. */
static const struct {
        uint32_t native;
        uint32_t compat[2];
} arch_compat_table[] = {
        { SCMP_ARCH_X86_64, { SCMP_ARCH_X86, SCMP_ARCH_X32 } },
        { SCMP_ARCH_AARCH64, { SCMP_ARCH_ARM, 0 } },
        { SCMP_ARCH_S390X, { SCMP_ARCH_S390, 0 } },
        { SCMP_ARCH_PPC64, { SCMP_ARCH_PPC, 0 } },
        { SCMP_ARCH_MIPS64, { SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64N32 } },
        { SCMP_ARCH_MIPSEL64, { SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64N32 } },
};

static bool arch_runs_here(uint32_t native, uint32_t arch) {
        if (arch == native)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(arch_compat_table); i++)
                if (arch_compat_table[i].native == native)
                        return arch == arch_compat_table[i].compat[0] || arch == arch_compat_table[i].compat[1];
        return false;
}

/* "SCMP_ARCH_X86_64", "x86_64" and Go's "amd64" (Docker's includes.arches)
 * all name the same arch. 0 when libseccomp does not know it. */
static uint32_t arch_from_name(const char *name) {
        static const char *const go_names[][2] = {
                { "amd64", "x86_64" },      { "386", "x86" },       { "arm64", "aarch64" },
                { "mips64le", "mipsel64" }, { "mipsle", "mipsel" }, { "mips64n32le", "mipsel64n32" },
        };
        char buf[64];
        size_t n = 0;

        if (startswith(name, "SCMP_ARCH_"))
                name += strlen("SCMP_ARCH_");
        for (; name[n] && n < sizeof(buf) - 1; n++)
                buf[n] = (char) tolower((unsigned char) name[n]);
        buf[n] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(go_names); i++)
                if (streq(buf, go_names[i][0]))
                        return seccomp_arch_resolve_name(go_names[i][1]);
        return seccomp_arch_resolve_name(buf);
}

static int add_arch(Compiler *c, const char *name, const char *where, void *userdata, Error *e) {
        uint32_t arch = arch_from_name(name);
        if (arch == 0 || !arch_runs_here(c->native_arch, arch))
                return 0;
        int r = seccomp_arch_add(c->ctx, arch);
        if (r < 0 && r != -EEXIST)
                return error_set_errno(e, -r, "Seccomp profile %s: %s: can't add architecture %s", c->path, where, name);
        return 0;
}

static int add_arch_map_entry(Compiler *c, json_object *entry, const char *where, Error *e) {
        static const char *const keys[] = { "architecture", "subArchitectures", NULL };
        json_object *v;
        int r;

        r = check_keys(c, entry, keys, where, e);
        if (r < 0)
                return r;
        r = get_member(c, entry, "architecture", json_type_string, where, &v, e);
        if (r < 0)
                return r;
        if (r == 0)
                return fail(c, e, EINVAL, where, "\"architecture\" is missing");
        /* As Docker: only the native arch's entry counts, and brings its
         * sub-architectures along (x86_64: x86 and x32). */
        if (arch_from_name(json_object_get_string(v)) != c->native_arch)
                return 0;
        return foreach_string(c, entry, "subArchitectures", where, add_arch, NULL, e);
}

static int add_architectures(Compiler *c, json_object *root, Error *e) {
        json_object *list, *map;
        int r;

        r = get_member(c, root, "architectures", json_type_array, "architectures", &list, e);
        if (r < 0)
                return r;
        r = get_member(c, root, "archMap", json_type_array, "archMap", &map, e);
        if (r < 0)
                return r;
        if (list && map && json_object_array_length(list) > 0 && json_object_array_length(map) > 0)
                return fail(c, e, EINVAL, "archMap", "use either \"architectures\" or \"archMap\", not both");
        if (list)
                return foreach_string(c, root, "architectures", "architectures", add_arch, NULL, e);
        for (size_t i = 0; map && i < json_object_array_length(map); i++) {
                char where[64];
                snprintf(where, sizeof(where), "archMap[%zu]", i);
                r = add_arch_map_entry(c, json_object_array_get_idx(map, i), where, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* -- flags -- */

/* What libseccomp 2.5 can set (SCMP_FLTATR_CTL_TSYNC, _LOG, _SSB). They
 * change how the program is loaded, not the program, so they travel next to
 * the exported BPF. */
static int add_flag(Compiler *c, const char *name, const char *where, void *userdata, Error *e) {
        static const struct {
                const char *name;
                unsigned flag;
        } flags[] = {
                { "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
                { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
                { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
        };
        for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                if (streq(flags[i].name, name)) {
                        c->filter_flags |= flags[i].flag;
                        return 0;
                }
        if (streq(name, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") || streq(name, "SECCOMP_FILTER_FLAG_NEW_LISTENER"))
                return fail(c, e, EOPNOTSUPP, where,
                            "flag %s is not supported (it only makes sense with SCMP_ACT_NOTIFY)", name);
        return fail(c, e, EINVAL, where, "unknown flag \"%s\"", name);
}

/* -- includes / excludes -- */

static bool kernel_at_least(const Compiler *c, const unsigned v[3]) {
        for (size_t i = 0; i < 3; i++)
                if (c->kernel[i] != v[i])
                        return c->kernel[i] > v[i];
        return true;
}

typedef struct FilterMatch {
        bool any; /* one listed item matched */
        bool all; /* every listed item matched */
} FilterMatch;

static int match_cap(Compiler *c, const char *name, const char *where, void *userdata, Error *e) {
        FilterMatch *m = userdata;
        cap_value_t cap;
        /* A name this libcap does not know can't be held: as in Docker. */
        bool held = cap_from_name(name, &cap) == 0 && cap >= 0 && cap < 64 && (c->caps & (UINT64_C(1) << cap));
        m->any = m->any || held;
        m->all = m->all && held;
        return 0;
}

static int match_arch(Compiler *c, const char *name, const char *where, void *userdata, Error *e) {
        FilterMatch *m = userdata;
        bool native = arch_from_name(name) == c->native_arch;
        m->any = m->any || native;
        m->all = m->all && native;
        return 0;
}

/* Evaluates an "includes" (INCLUDE) or "excludes" object: for includes,
 * true when all its conditions hold (all caps held, the native arch listed,
 * the kernel new enough); for excludes, true when any of them does. */
static int eval_filter(Compiler *c, json_object *entry, const char *key, bool include, const char *where0, bool *ret,
                       Error *e) {
        static const char *const keys[] = { "caps", "arches", "minKernel", NULL };
        json_object *f, *v;
        char where[96];
        int r;

        snprintf(where, sizeof(where), "%s.%s", where0, key);
        r = get_member(c, entry, key, json_type_object, where0, &f, e);
        if (r < 0)
                return r;
        *ret = include;
        if (r == 0)
                return 0;
        r = check_keys(c, f, keys, where, e);
        if (r < 0)
                return r;

        FilterMatch caps = { .any = false, .all = true }, arches = { .any = false, .all = true };
        r = foreach_string(c, f, "caps", where, match_cap, &caps, e);
        if (r < 0)
                return r;
        r = foreach_string(c, f, "arches", where, match_arch, &arches, e);
        if (r < 0)
                return r;
        r = get_member(c, f, "minKernel", json_type_string, where, &v, e);
        if (r < 0)
                return r;
        bool has_min = v != NULL, new_enough = false;
        if (has_min) {
                unsigned min[3];
                if (parse_kernel_version(json_object_get_string(v), false, min) < 0)
                        return fail(c, e, EINVAL, where, "invalid minKernel \"%s\" (expected e.g. \"5.8\")",
                                    json_object_get_string(v));
                new_enough = kernel_at_least(c, min);
        }

        if (include)
                *ret = caps.all && (arches.all || arches.any) && (!has_min || new_enough);
        else
                *ret = caps.any || arches.any || new_enough;
        return 0;
}

/* -- syscall rules -- */

static const struct {
        const char *name;
        enum scmp_compare op;
} op_table[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE },
        { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE },
        { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE },
        { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static int parse_arg(const Compiler *c, json_object *o, const char *where, struct scmp_arg_cmp *ret, Error *e) {
        static const char *const keys[] = { "index", "value", "valueTwo", "op", NULL };
        uint64_t index = 0, value = 0, value_two = 0;
        bool present;
        json_object *op;
        int r;

        r = check_keys(c, o, keys, where, e);
        if (r < 0)
                return r;
        r = get_u64(c, o, "index", where, UINT64_MAX, &present, &index, e);
        if (r < 0)
                return r;
        if (!present)
                return fail(c, e, EINVAL, where, "\"index\" is missing");
        if (index > 5)
                return fail(c, e, ERANGE, where, "argument index %" PRIu64 " is out of range (0-5)", index);
        r = get_u64(c, o, "value", where, UINT64_MAX, &present, &value, e);
        if (r < 0)
                return r;
        r = get_u64(c, o, "valueTwo", where, UINT64_MAX, &present, &value_two, e);
        if (r < 0)
                return r;
        r = get_member(c, o, "op", json_type_string, where, &op, e);
        if (r < 0)
                return r;
        if (r == 0)
                return fail(c, e, EINVAL, where, "\"op\" is missing");

        const char *name = json_object_get_string(op);
        for (size_t i = 0; i < ELEMENTSOF(op_table); i++)
                if (streq(op_table[i].name, name)) {
                        /* For MASKED_EQ, "value" is the mask and "valueTwo"
                         * the datum, as in runc. */
                        *ret = (struct scmp_arg_cmp) {
                                .arg = (unsigned) index,
                                .op = op_table[i].op,
                                .datum_a = value,
                                .datum_b = value_two,
                        };
                        return 0;
                }
        return fail(c, e, EINVAL, where, "unknown operator \"%s\"", name);
}

typedef struct Rule {
        uint32_t action;
        struct scmp_arg_cmp *args;
        size_t n_args;
        bool or_args; /* an index appears twice: one rule per condition */
} Rule;

static int parse_args(const Compiler *c, json_object *entry, const char *where0, Rule *rule, Error *e) {
        json_object *arr;
        int r = get_member(c, entry, "args", json_type_array, where0, &arr, e);
        if (r <= 0)
                return r;
        size_t n = json_object_array_length(arr);
        if (n == 0)
                return 0;
        if (n > ARGS_MAX)
                return fail(c, e, E2BIG, where0, "more than %u \"args\"", ARGS_MAX);
        rule->args = calloc(n, sizeof(struct scmp_arg_cmp));
        if (!rule->args)
                return error_setf(e, ENOMEM, "Out of memory");

        unsigned seen = 0;
        for (size_t i = 0; i < n; i++) {
                char where[96];
                snprintf(where, sizeof(where), "%s.args[%zu]", where0, i);
                r = parse_arg(c, json_object_array_get_idx(arr, i), where, &rule->args[i], e);
                if (r < 0)
                        return r;
                /* libseccomp compares each argument once per rule; runc
                 * then falls back to one rule per condition (OR). */
                if (seen & (1U << rule->args[i].arg))
                        rule->or_args = true;
                seen |= 1U << rule->args[i].arg;
        }
        rule->n_args = n;
        return 0;
}

static int add_rule_for(Compiler *c, const char *name, const char *where, void *userdata, Error *e) {
        const Rule *rule = userdata;
        int nr = seccomp_syscall_resolve_name(name);
        int r = 0;

        if (nr == __NR_SCMP_ERROR) {
                /* Newer than this libseccomp: the caller warns. */
                r = strv_extend_unique(&c->unknown, name);
                return r < 0 ? error_setf(e, ENOMEM, "Out of memory") : 0;
        }
        /* libseccomp refuses these (EACCES), and they change nothing. */
        if (rule->action == c->default_action)
                return 0;

        if (rule->or_args)
                for (size_t i = 0; i < rule->n_args; i++) {
                        r = seccomp_rule_add_array(c->ctx, rule->action, nr, 1, &rule->args[i]);
                        if (r < 0)
                                break;
                }
        else
                r = seccomp_rule_add_array(c->ctx, rule->action, nr, (unsigned) rule->n_args, rule->args);
        if (r < 0)
                return error_set_errno(e, -r, "Seccomp profile %s: %s: libseccomp refused the rule for %s", c->path,
                                       where, name);
        return 0;
}

static int add_syscall_entry(Compiler *c, json_object *entry, const char *where, Error *e) {
        static const char *const keys[] = {
                "names", "name", "action", "errnoRet", "errno", "args", "includes", "excludes", NULL,
        };
        _cleanup_free_ struct scmp_arg_cmp *args = NULL;
        Rule rule = {};
        bool included, excluded;
        json_object *names, *name;
        int r;

        r = check_keys(c, entry, keys, where, e);
        if (r < 0)
                return r;
        r = get_member(c, entry, "names", json_type_array, where, &names, e);
        if (r < 0)
                return r;
        r = get_member(c, entry, "name", json_type_string, where, &name, e);
        if (r < 0)
                return r;
        if (names && name)
                return fail(c, e, EINVAL, where, "use either \"names\" or \"name\", not both");
        if (!names && !name)
                return fail(c, e, EINVAL, where, "\"names\" is missing");

        /* Everything is checked before includes/excludes are looked at, so
         * that a mistake shows up on every machine, not just on some. */
        r = parse_action(c, entry, "action", "errnoRet", "errno", where, &rule.action, e);
        if (r < 0)
                return r;
        r = parse_args(c, entry, where, &rule, e);
        args = rule.args;
        if (r < 0)
                return r;
        r = eval_filter(c, entry, "includes", true, where, &included, e);
        if (r < 0)
                return r;
        r = eval_filter(c, entry, "excludes", false, where, &excluded, e);
        if (r < 0)
                return r;
        if (!included || excluded)
                return 0;

        if (name)
                return add_rule_for(c, json_object_get_string(name), where, &rule, e);
        return foreach_string(c, entry, "names", where, add_rule_for, &rule, e);
}

static int add_syscalls(Compiler *c, json_object *root, Error *e) {
        json_object *arr;
        int r = get_member(c, root, "syscalls", json_type_array, "syscalls", &arr, e);
        if (r <= 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                char where[64];
                snprintf(where, sizeof(where), "syscalls[%zu]", i);
                r = add_syscall_entry(c, json_object_array_get_idx(arr, i), where, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int compiler_init(Compiler *c, json_object *root, Error *e) {
        static const char *const keys[] = {
                "defaultAction",
                "defaultErrnoRet",
                "defaultErrno",
                "architectures",
                "archMap",
                "syscalls",
                "flags",
                /* Only meaningful with SCMP_ACT_NOTIFY, which is refused. */
                "listenerPath",
                "listenerMetadata",
                NULL,
        };
        int r;

        if (!json_object_is_type(root, json_type_object))
                return error_setf(e, EINVAL, "Seccomp profile %s: the top-level value must be an object", c->path);
        r = check_keys(c, root, keys, "top level", e);
        if (r < 0)
                return r;
        r = parse_action(c, root, "defaultAction", "defaultErrnoRet", "defaultErrno", "top level", &c->default_action, e);
        if (r < 0)
                return r;
        c->ctx = seccomp_init(c->default_action);
        if (!c->ctx)
                return error_setf(e, ENOMEM, "Seccomp profile %s: libseccomp could not create a filter", c->path);
        /* csand sets no_new_privs itself, in the child; the filter is only
         * exported here, never loaded. */
        r = seccomp_attr_set(c->ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return error_set_errno(e, -r, "seccomp_attr_set(SCMP_FLTATR_CTL_NNP)");
        /* A binary search over the syscall numbers instead of a linear
         * chain: a few hundred allowed syscalls cost ~9 jumps, not ~300. */
        r = seccomp_attr_set(c->ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return error_set_errno(e, -r, "seccomp_attr_set(SCMP_FLTATR_CTL_OPTIMIZE)");
        c->native_arch = seccomp_arch_native();
        return 0;
}

static int export_to_memfd(const Compiler *c, int *ret_fd, Error *e) {
        _cleanup_close_ int fd = memfd_create("csand-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        struct stat st;
        int r;

        if (fd < 0)
                return error_set_errno(e, errno, "memfd_create");
        r = seccomp_export_bpf(c->ctx, fd);
        if (r < 0)
                return error_set_errno(e, -r, "Seccomp profile %s: can't export the BPF program", c->path);
        if (fstat(fd, &st) < 0)
                return error_set_errno(e, errno, "fstat");
        if (st.st_size <= 0 || (size_t) st.st_size % sizeof(struct sock_filter) != 0)
                return error_setf(e, EIO, "Seccomp profile %s: libseccomp exported %jd bytes, not a BPF program",
                                  c->path, (intmax_t) st.st_size);
        if ((size_t) st.st_size / sizeof(struct sock_filter) > BPF_INSNS_MAX)
                return error_setf(e, E2BIG, "Seccomp profile %s compiles to %zu BPF instructions, more than the kernel's limit of %u",
                                  c->path, (size_t) st.st_size / sizeof(struct sock_filter), BPF_INSNS_MAX);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Seals FD against any change and rewinds it: the child reads exactly what
 * the parent checked. */
static int seal_memfd(int fd) {
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
                return -errno;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        return 0;
}

static uint64_t caps_mask(const int *caps, size_t n_caps) {
        uint64_t m = 0;
        for (size_t i = 0; i < n_caps; i++)
                if (caps[i] >= 0 && caps[i] < 64)
                        m |= UINT64_C(1) << caps[i];
        return m;
}

/* The whole compilation of an already parsed profile, into an unsealed
 * memfd. */
static int compile_json(const char *path, json_object *root, uint64_t caps, CompiledProfile *ret, Error *e) {
        _cleanup_(compiler_done) Compiler c = { .path = path, .caps = caps };
        int fd = -EBADF, r;

        r = running_kernel_version(c.kernel);
        if (r < 0)
                return error_set_errno(e, r, "Can't parse the kernel release");
        if (strv_new_empty(&c.unknown) < 0)
                return error_setf(e, ENOMEM, "Out of memory");
        r = compiler_init(&c, root, e);
        if (r < 0)
                return r;
        r = add_architectures(&c, root, e);
        if (r < 0)
                return r;
        r = foreach_string(&c, root, "flags", "flags", add_flag, NULL, e);
        if (r < 0)
                return r;
        r = add_syscalls(&c, root, e);
        if (r < 0)
                return r;
        r = export_to_memfd(&c, &fd, e);
        if (r < 0)
                return r;
        *ret = (CompiledProfile) {
                .fd = fd,
                .filter_flags = c.filter_flags,
                .unknown_syscalls = TAKE_PTR(c.unknown),
        };
        return 0;
}

/* ---- the compiled-profile cache ----
 *
 * libseccomp needs milliseconds for a large allow-list, more than the rest
 * of csand's start-up, and the answer only changes with the profile's bytes,
 * libseccomp, the arch, the kernel (minKernel), the capabilities, or this
 * compiler. Entries live in $XDG_CACHE_HOME/csand/seccomp/ (else
 * ~/.cache/...), one file each:
 *
 *     CacheHeader | key | unknown syscall names, NUL-separated | BPF program
 *
 * The file name is a hash of the key, but an entry is only used when its
 * stored key matches byte for byte, so a collision costs a recompilation,
 * never a wrong filter. Entries are written to a temporary file and renamed
 * into place, so readers never see half an entry; any failure of the cache
 * just means compiling. */

#define CACHE_MAGIC "CSANDSC1"
/* Bump when the compiler's output for a given profile changes. */
#define CACHE_FORMAT 1
#define CACHE_ENTRY_MAX (16U * 1024U * 1024U)

typedef struct CacheHeader {
        char magic[8];
        uint32_t key_len;
        uint32_t filter_flags;
        uint32_t unknown_len;
        uint32_t bpf_len;
} CacheHeader;

typedef struct CacheEntry {
        char *dir;
        char *path;
        char *key;
        size_t key_len;
} CacheEntry;

static void cache_entry_done(CacheEntry *c) {
        free(c->dir);
        free(c->path);
        free(c->key);
        *c = (CacheEntry) {};
}

static bool cache_enabled(void) {
        const char *v = getenv("CSAND_SECCOMP_CACHE");
        return !v || !streq(v, "0");
}

static int cache_dir(char **ret) {
        _cleanup_free_ char *base = NULL;
        int r = state_dir_path(STATE_DIR_CACHE, &base);
        if (r < 0)
                return r;
        return asprintf(ret, "%s/seccomp", base) < 0 ? -ENOMEM : 0;
}

static uint64_t fnv1a64(const void *p, size_t n) {
        const unsigned char *c = p;
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (size_t i = 0; i < n; i++) {
                h ^= c[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

static int cache_entry_for(const char *profile, size_t len, uint64_t caps, CacheEntry *ret) {
        _cleanup_(cache_entry_done) CacheEntry c = {};
        const struct scmp_version *v = seccomp_version();
        unsigned k[3];
        char head[256];
        int r;

        r = running_kernel_version(k);
        if (r < 0)
                return r;
        r = snprintf(head, sizeof(head),
                     "csand-seccomp-cache %d\nlibseccomp %u.%u.%u\narch 0x%08" PRIx32
                     "\nkernel %u.%u.%u\ncaps 0x%016" PRIx64 "\n\n",
                     CACHE_FORMAT, v->major, v->minor, v->micro, seccomp_arch_native(), k[0], k[1], k[2], caps);
        if (r < 0 || (size_t) r >= sizeof(head))
                return -EINVAL;
        c.key_len = (size_t) r + len;
        c.key = malloc(c.key_len);
        if (!c.key)
                return -ENOMEM;
        memcpy(c.key, head, (size_t) r);
        memcpy(c.key + r, profile, len);

        r = cache_dir(&c.dir);
        if (r < 0)
                return r;
        if (asprintf(&c.path, "%s/%016" PRIx64 ".bpf", c.dir, fnv1a64(c.key, c.key_len)) < 0)
                return -ENOMEM;
        *ret = c;
        c = (CacheEntry) {};
        return 0;
}

/* NUL-separated names into a NULL-terminated list. */
static int split_names(const char *p, size_t len, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r = strv_new_empty(&l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < len;) {
                size_t n = strnlen(p + i, len - i);
                if (n == len - i)
                        return -EBADMSG; /* not terminated */
                r = strv_extend_unique(&l, p + i);
                if (r < 0)
                        return r;
                i += n + 1;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* A filter is only as good as the file it came from: entries are trusted
 * only in a directory, and from a file, that are ours and that nobody else
 * may write (think of an XDG_CACHE_HOME shared by mistake). */
static bool owned_privately(const struct stat *st) {
        return st->st_uid == geteuid() && (st->st_mode & 022) == 0;
}

static bool cache_dir_is_private(const CacheEntry *c) {
        struct stat st;
        return lstat(c->dir, &st) == 0 && S_ISDIR(st.st_mode) && owned_privately(&st);
}

static int cache_load(const CacheEntry *c, CompiledProfile *ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_strv_free_ char **unknown = NULL;
        CacheHeader h;
        struct stat st;
        size_t len;
        int r;

        if (!cache_dir_is_private(c))
                return -EPERM;
        _cleanup_close_ int fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || !owned_privately(&st))
                return -EPERM;
        r = read_full_fd(fd, CACHE_ENTRY_MAX, (void **) &buf, &len);
        if (r < 0)
                return r;
        if (len < sizeof(h))
                return -EBADMSG;
        memcpy(&h, buf, sizeof(h));
        if (memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) != 0 ||
            len != sizeof(h) + (size_t) h.key_len + h.unknown_len + h.bpf_len)
                return -EBADMSG;
        if (h.bpf_len == 0 || h.bpf_len % sizeof(struct sock_filter) != 0 || h.bpf_len / sizeof(struct sock_filter) > BPF_INSNS_MAX)
                return -EBADMSG;
        if (h.key_len != c->key_len || memcmp(buf + sizeof(h), c->key, c->key_len) != 0)
                return -ESTALE;

        const char *names = buf + sizeof(h) + h.key_len;
        r = split_names(names, h.unknown_len, &unknown);
        if (r < 0)
                return r;
        _cleanup_close_ int mfd = memfd_create("csand-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return -errno;
        r = write_all(mfd, names + h.unknown_len, h.bpf_len);
        if (r < 0)
                return r;
        *ret = (CompiledProfile) {
                .fd = TAKE_FD(mfd),
                .filter_flags = h.filter_flags,
                .unknown_syscalls = TAKE_PTR(unknown),
                .from_cache = true,
        };
        return 0;
}

static int mkdir_parents_private(const char *dir) {
        _cleanup_free_ char *p = strdup(dir);
        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
                if (s)
                        *s = '\0';
                if (mkdir(p, 0700) < 0 && errno != EEXIST)
                        return -errno;
                if (!s)
                        return 0;
                *s = '/';
        }
}

static int cache_store(const CacheEntry *c, const CompiledProfile *p) {
        _cleanup_free_ char *bpf = NULL, *tmp = NULL, *names = NULL;
        size_t bpf_len, names_len = 0;
        int r;

        if (c->key_len > CACHE_ENTRY_MAX)
                return -EFBIG;
        /* The memfd is not sealed yet, and its offset is at the end. */
        if (lseek(p->fd, 0, SEEK_SET) < 0)
                return -errno;
        r = read_full_fd(p->fd, BPF_INSNS_MAX * sizeof(struct sock_filter), (void **) &bpf, &bpf_len);
        if (r < 0)
                return r;
        for (size_t i = 0; p->unknown_syscalls[i]; i++)
                names_len += strlen(p->unknown_syscalls[i]) + 1;
        names = malloc(names_len + 1);
        if (!names)
                return -ENOMEM;
        for (size_t i = 0, off = 0; p->unknown_syscalls[i]; i++) {
                size_t n = strlen(p->unknown_syscalls[i]) + 1;
                memcpy(names + off, p->unknown_syscalls[i], n);
                off += n;
        }

        CacheHeader h = {
                .key_len = (uint32_t) c->key_len,
                .filter_flags = p->filter_flags,
                .unknown_len = (uint32_t) names_len,
                .bpf_len = (uint32_t) bpf_len,
        };
        memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));

        r = mkdir_parents_private(c->dir);
        if (r < 0)
                return r;
        if (!cache_dir_is_private(c))
                return -EPERM;
        if (asprintf(&tmp, "%s/.tmp-XXXXXX", c->dir) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_all(fd, &h, sizeof(h));
        if (r >= 0)
                r = write_all(fd, c->key, c->key_len);
        if (r >= 0)
                r = write_all(fd, names, names_len);
        if (r >= 0)
                r = write_all(fd, bpf, bpf_len);
        if (r >= 0 && rename(tmp, c->path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

/* ---- the interface ---- */

static int read_profile(const char *name_or_path, char **ret_path, char **ret_buf, size_t *ret_len, Error *e) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *path = NULL;
        int r;

        r = open_profile(name_or_path, &fd, &path, e);
        if (r < 0)
                return r;
        r = read_full_fd(fd, PROFILE_SIZE_MAX, (void **) ret_buf, ret_len);
        if (r == -EFBIG)
                return error_setf(e, EFBIG, "Seccomp profile %s is larger than %u bytes", path, PROFILE_SIZE_MAX);
        if (r < 0)
                return error_set_errno(e, r, "Can't read seccomp profile %s", path);
        *ret_path = TAKE_PTR(path);
        return 0;
}

static int compile_buffer(const char *path, const char *buf, size_t len, uint64_t caps, CompiledProfile *ret, Error *e) {
        _cleanup_json_ json_object *root = NULL;
        int r = json_dlopen("seccomp profiles", e);
        if (r < 0)
                return r;
        r = parse_json(path, buf, len, &root, e);
        if (r < 0)
                return r;
        return compile_json(path, root, caps, ret, e);
}

int seccomp_profile_compile(const char *name_or_path, const int *caps, size_t n_caps, CompiledProfile *ret, Error *e) {
        _cleanup_compiled_profile_ CompiledProfile prog = COMPILED_PROFILE_NULL;
        _cleanup_(cache_entry_done) CacheEntry cache = {};
        _cleanup_free_ char *path = NULL, *buf = NULL;
        uint64_t mask = caps_mask(caps, n_caps);
        size_t len;
        int r;

        r = read_profile(name_or_path, &path, &buf, &len, e);
        if (r < 0)
                return r;
        /* The cache key has libseccomp's version: needed even for a hit. */
        r = libseccomp_dlopen(e);
        if (r < 0)
                return r;
        bool use_cache = cache_enabled() && cache_entry_for(buf, len, mask, &cache) >= 0;
        if (!use_cache || cache_load(&cache, &prog) < 0) {
                r = compile_buffer(path, buf, len, mask, &prog, e);
                if (r < 0)
                        return r;
                if (use_cache)
                        (void) cache_store(&cache, &prog);
        }
        r = seal_memfd(prog.fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't seal the seccomp program");
        *ret = prog;
        prog = COMPILED_PROFILE_NULL;
        return 0;
}
