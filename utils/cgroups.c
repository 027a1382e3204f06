/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef HAVE_LIBSYSTEMD
#define HAVE_LIBSYSTEMD 0
#endif
#if HAVE_LIBSYSTEMD
#include <systemd/sd-bus.h>
#endif

#include "cgroups.h"
#include "dlopen-util.h"
#include "fd-util.h"
#include "macro.h"
#include "parse-util.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define SLICE "csand.slice"
/* cgroupfs: where the processes of the delegated cgroup go when its
 * controllers must be enabled (no processes in inner cgroups). */
#define LEAF_NAME "csand-leaf"
/* Both managers: the sandbox's processes live in this leaf below the cgroup
 * that holds the limits, never in that cgroup itself (see enter_leaf()). */
#define SANDBOX_LEAF "sandbox"
#define USEC_PER_SEC UINT64_C(1000000)
#define JOB_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define CPU_PERIOD_USEC UINT64_C(100000) /* the kernel's and systemd's default period */

/* ---- the property table ---- */

typedef enum ValueKind {
        VALUE_BYTES,     /* size with k, m, g suffix, or "infinity" -> t */
        VALUE_COUNT,     /* number or "infinity" -> t */
        VALUE_WEIGHT,    /* 1..10000 -> t */
        VALUE_CPU_QUOTA, /* "150%" -> µs of CPU time per second, t */
        VALUE_USEC,      /* time span: N[us|ms|s|min|h] (seconds by default) or "infinity" -> t */
        VALUE_BOOL,      /* yes/no, true/false, on/off, 1/0 -> b */
        VALUE_STRING,    /* -> s */
        VALUE_SIGNAL,    /* SIGTERM, TERM or a number -> i */
        VALUE_CPU_SET,   /* "0-3,6" -> ay (a bitmask) */
} ValueKind;

struct CgroupPropertyInfo {
        const char *name;      /* as the user writes it (systemd's unit file name) */
        const char *dbus_name; /* as systemd's D-Bus API calls it */
        ValueKind kind;
        uint64_t min;           /* the smallest number allowed */
        const char *controller; /* cgroup v2 controller it needs, NULL for none */
        const char *file;       /* cgroupfs: the file it is written to; NULL: systemd only */
};

static const CgroupPropertyInfo property_table[] = {
        { "MemoryMin", "MemoryMin", VALUE_BYTES, 0, "memory", "memory.min" },
        { "MemoryLow", "MemoryLow", VALUE_BYTES, 0, "memory", "memory.low" },
        { "MemoryHigh", "MemoryHigh", VALUE_BYTES, 1, "memory", "memory.high" },
        { "MemoryMax", "MemoryMax", VALUE_BYTES, 1, "memory", "memory.max" },
        { "MemorySwapMax", "MemorySwapMax", VALUE_BYTES, 0, "memory", "memory.swap.max" },
        { "MemoryZSwapMax", "MemoryZSwapMax", VALUE_BYTES, 0, "memory", "memory.zswap.max" },
        { "TasksMax", "TasksMax", VALUE_COUNT, 1, "pids", "pids.max" },
        { "CPUWeight", "CPUWeight", VALUE_WEIGHT, 1, "cpu", "cpu.weight" },
        { "StartupCPUWeight", "StartupCPUWeight", VALUE_WEIGHT, 1, "cpu", NULL },
        { "CPUQuota", "CPUQuotaPerSecUSec", VALUE_CPU_QUOTA, 10000, "cpu", "cpu.max" },
        { "CPUQuotaPeriodSec", "CPUQuotaPeriodUSec", VALUE_USEC, 1000, "cpu", NULL },
        { "IOWeight", "IOWeight", VALUE_WEIGHT, 1, "io", "io.weight" },
        { "StartupIOWeight", "StartupIOWeight", VALUE_WEIGHT, 1, "io", NULL },
        { "AllowedCPUs", "AllowedCPUs", VALUE_CPU_SET, 0, "cpuset", "cpuset.cpus" },
        { "AllowedMemoryNodes", "AllowedMemoryNodes", VALUE_CPU_SET, 0, "cpuset", "cpuset.mems" },
        { "CPUAccounting", "CPUAccounting", VALUE_BOOL, 0, NULL, NULL },
        { "MemoryAccounting", "MemoryAccounting", VALUE_BOOL, 0, NULL, NULL },
        { "TasksAccounting", "TasksAccounting", VALUE_BOOL, 0, NULL, NULL },
        { "IOAccounting", "IOAccounting", VALUE_BOOL, 0, NULL, NULL },
        { "Delegate", "Delegate", VALUE_BOOL, 0, NULL, NULL },
        { "Description", "Description", VALUE_STRING, 0, NULL, NULL },
        { "CollectMode", "CollectMode", VALUE_STRING, 0, NULL, NULL },
        { "OOMPolicy", "OOMPolicy", VALUE_STRING, 0, NULL, NULL },
        { "ManagedOOMSwap", "ManagedOOMSwap", VALUE_STRING, 0, NULL, NULL },
        { "ManagedOOMMemoryPressure", "ManagedOOMMemoryPressure", VALUE_STRING, 0, NULL, NULL },
        { "ManagedOOMPreference", "ManagedOOMPreference", VALUE_STRING, 0, NULL, NULL },
        { "KillMode", "KillMode", VALUE_STRING, 0, NULL, NULL },
        { "KillSignal", "KillSignal", VALUE_SIGNAL, 1, NULL, NULL },
        { "FinalKillSignal", "FinalKillSignal", VALUE_SIGNAL, 1, NULL, NULL },
        { "SendSIGKILL", "SendSIGKILL", VALUE_BOOL, 0, NULL, NULL },
        { "SendSIGHUP", "SendSIGHUP", VALUE_BOOL, 0, NULL, NULL },
        { "TimeoutStopSec", "TimeoutStopUSec", VALUE_USEC, 0, NULL, NULL },
        { "RuntimeMaxSec", "RuntimeMaxUSec", VALUE_USEC, 1, NULL, NULL },
};

/* The shorthand options and the property each one sets: the rows of
 * CGROUP_OPTIONS that name one. */
#define LIMIT_ROW(name, metavars, property, cpus, help) { name, property, cpus },
static const struct {
        const char *option;
        const char *property; /* NULL: --cgroup-property, --cgroup-manager */
        bool cpus;            /* --cpus: a number of CPUs, not a percentage */
} limit_options[] = { CGROUP_OPTIONS(LIMIT_ROW) };

static const CgroupPropertyInfo *property_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(property_table); i++)
                if (strcmp(property_table[i].name, name) == 0)
                        return &property_table[i];
        return NULL;
}

static const char *dbus_signature(ValueKind kind) {
        switch (kind) {
        case VALUE_BOOL:
                return "b";
        case VALUE_STRING:
                return "s";
        case VALUE_SIGNAL:
                return "i";
        case VALUE_CPU_SET:
                return "ay";
        default:
                return "t";
        }
}

int cgroup_property_lookup(const char *name, const char **ret_dbus_name, const char **ret_signature) {
        const CgroupPropertyInfo *info = property_find(name);
        if (!info)
                return -ENOENT;
        if (ret_dbus_name)
                *ret_dbus_name = info->dbus_name;
        if (ret_signature)
                *ret_signature = dbus_signature(info->kind);
        return 0;
}

/* ---- value parsers ---- */

/* A non-negative decimal with up to 6 fractional digits, in millionths. */
static int parse_micro(const char *s, const char **ret_end, uint64_t *ret) {
        uint64_t v = 0;
        const char *c = s;
        if (!isdigit((unsigned char) *c))
                return -EINVAL;
        for (; isdigit((unsigned char) *c); c++) {
                if (v > (UINT64_MAX / 10 - 9) / USEC_PER_SEC)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*c - '0');
        }
        v *= USEC_PER_SEC;
        if (*c == '.') {
                uint64_t scale = USEC_PER_SEC / 10;
                c++;
                if (!isdigit((unsigned char) *c))
                        return -EINVAL;
                for (; isdigit((unsigned char) *c); c++) {
                        if (scale == 0)
                                return -EINVAL; /* finer than a millionth */
                        v += (uint64_t) (*c - '0') * scale;
                        scale /= 10;
                }
        }
        *ret_end = c;
        *ret = v;
        return 0;
}

static int parse_usec(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "", USEC_PER_SEC }, { "s", USEC_PER_SEC },        { "sec", USEC_PER_SEC },      { "ms", 1000 },
                { "us", 1 },          { "min", 60 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC },
        };
        uint64_t v;
        char *end;
        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (strcmp(end, units[i].suffix) == 0) {
                        if (v > UINT64_MAX / units[i].usec - 1)
                                return -ERANGE;
                        *ret = v * units[i].usec;
                        return 0;
                }
        return -EINVAL;
}

static int parse_bool(const char *s, uint64_t *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = 1;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = 0;
                        return 0;
                }
        }
        return -EINVAL;
}

static int parse_signal(const char *s, uint64_t *ret) {
        uint32_t n;
        if (parse_uint32(s, &n) >= 0) {
                if (n < 1 || n >= (uint32_t) NSIG)
                        return -ERANGE;
                *ret = n;
                return 0;
        }
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int sig = 1; sig < SIGRTMIN; sig++) {
                const char *abbrev = sigabbrev_np(sig);
                if (abbrev && strcasecmp(abbrev, s) == 0) {
                        *ret = (uint64_t) sig;
                        return 0;
                }
        }
        return -EINVAL;
}

#define CPU_SET_MAX 8192

/* "0-3,6": the kernel's list format, which systemd also takes. */
static int parse_cpu_set(const char *s, uint8_t *mask, size_t *ret_len) {
        size_t len = 0;
        const char *c = s;
        memset(mask, 0, CPU_SET_MAX / 8);
        for (;;) {
                char *end;
                if (!isdigit((unsigned char) *c))
                        return -EINVAL;
                unsigned long a = strtoul(c, &end, 10), b = a;
                c = end;
                if (*c == '-') {
                        c++;
                        if (!isdigit((unsigned char) *c))
                                return -EINVAL;
                        b = strtoul(c, &end, 10);
                        c = end;
                }
                if (a > b || b >= CPU_SET_MAX)
                        return -ERANGE;
                for (unsigned long i = a; i <= b; i++)
                        mask[i / 8] |= (uint8_t) (1u << (i % 8));
                if (b / 8 + 1 > len)
                        len = b / 8 + 1;
                if (*c == '\0')
                        break;
                if (*c != ',')
                        return -EINVAL;
                c++;
        }
        *ret_len = len;
        return 0;
}

static int parse_value(const CgroupPropertyInfo *info, bool cpus, const char *text, uint64_t *ret) {
        uint64_t v = 0;
        int r;

        if (cpus) {
                /* --cpus 1.5: 1.5 s of CPU time per second */
                const char *end;
                r = parse_micro(text, &end, &v);
                if (r < 0)
                        return r;
                if (*end)
                        return -EINVAL;
        } else
                switch (info->kind) {
                case VALUE_BYTES:
                case VALUE_COUNT:
                        if (strcmp(text, "infinity") == 0) {
                                *ret = UINT64_MAX;
                                return 0;
                        }
                        r = info->kind == VALUE_BYTES ? parse_size(text, &v) : parse_uint64(text, &v);
                        if (r < 0)
                                return r;
                        if (v == UINT64_MAX)
                                return -ERANGE;
                        break;
                case VALUE_WEIGHT:
                        r = parse_uint64(text, &v);
                        if (r < 0)
                                return r;
                        if (v > 10000)
                                return -ERANGE;
                        break;
                case VALUE_CPU_QUOTA: {
                        const char *end;
                        r = parse_micro(text, &end, &v);
                        if (r < 0)
                                return r;
                        if (strcmp(end, "%") != 0)
                                return -EINVAL;
                        v /= 100; /* millionths of a percent -> µs per second */
                        break;
                }
                case VALUE_USEC:
                        if (strcmp(text, "infinity") == 0) {
                                *ret = UINT64_MAX;
                                return 0;
                        }
                        r = parse_usec(text, &v);
                        if (r < 0)
                                return r;
                        break;
                case VALUE_BOOL:
                        return parse_bool(text, ret);
                case VALUE_STRING:
                        if (!*text)
                                return -EINVAL;
                        *ret = 0;
                        return 0;
                case VALUE_SIGNAL:
                        r = parse_signal(text, &v);
                        if (r < 0)
                                return r;
                        break;
                case VALUE_CPU_SET: {
                        uint8_t mask[CPU_SET_MAX / 8];
                        size_t len;
                        return parse_cpu_set(text, mask, &len);
                }
                }
        if (v < info->min)
                return -ERANGE;
        *ret = v;
        return 0;
}

static const char *value_hint(const CgroupPropertyInfo *info, bool cpus) {
        if (cpus)
                return "a number of CPUs, at least 0.01, e.g. 1.5";
        switch (info->kind) {
        case VALUE_BYTES:
                return info->min > 0 ? "a size above zero in bytes, k, m, g suffixes allowed, e.g. 512m" :
                                       "a size in bytes, k, m, g suffixes allowed, e.g. 512m";
        case VALUE_COUNT:
                return "a number above zero, or \"infinity\"";
        case VALUE_WEIGHT:
                return "a weight from 1 to 10000";
        case VALUE_CPU_QUOTA:
                return "a percentage of one CPU, at least 1%, e.g. 150%";
        case VALUE_USEC:
                return "a time span, e.g. 30s, 500ms, 5min, or \"infinity\"";
        case VALUE_BOOL:
                return "yes or no";
        case VALUE_STRING:
                return "a non-empty string";
        case VALUE_SIGNAL:
                return "a signal name or number, e.g. SIGTERM";
        case VALUE_CPU_SET:
                return "a list of CPUs or nodes, e.g. 0-3,6";
        }
        return "";
}

/* ---- settings ---- */

static int add_property(CgroupSettings *s, const CgroupPropertyInfo *info, const char *option, const char *text, uint64_t value) {
        char *copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_properties; i++)
                if (s->properties[i].info == info) {
                        free(s->properties[i].text);
                        s->properties[i] = (CgroupProperty) { info, option, copy, value };
                        return 0;
                }
        CgroupProperty *props = reallocarray(s->properties, s->n_properties + 1, sizeof(CgroupProperty));
        if (!props) {
                free(copy);
                return -ENOMEM;
        }
        s->properties = props;
        s->properties[s->n_properties++] = (CgroupProperty) { info, option, copy, value };
        return 0;
}

static void known_properties(char *buf, size_t size) {
        size_t n = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(property_table) && n < size; i++)
                n += (size_t) snprintf(buf + n, size - n, "%s%s", i ? " " : "", property_table[i].name);
}

int cgroup_settings_parse(CgroupSettings *s, const char *option, const char *arg, Error *e) {
        uint64_t v;

        if (strcmp(option, "--cgroup-manager") == 0) {
                if (strcmp(arg, "auto") == 0)
                        s->manager = CGROUP_MANAGER_AUTO;
                else if (strcmp(arg, "systemd") == 0)
                        s->manager = CGROUP_MANAGER_SYSTEMD;
                else if (strcmp(arg, "cgroupfs") == 0)
                        s->manager = CGROUP_MANAGER_CGROUPFS;
                else
                        return error_setf(e, EINVAL, "--cgroup-manager takes auto, systemd or cgroupfs, not \"%s\"", arg);
                s->manager_given = s->manager != CGROUP_MANAGER_AUTO;
                return 0;
        }

        if (strcmp(option, "--cgroup-property") == 0) {
                const char *eq = strchr(arg, '=');
                if (!eq || eq == arg)
                        return error_setf(e, EINVAL, "--cgroup-property takes NAME=VALUE, not \"%s\"", arg);
                _cleanup_free_ char *name = strndup(arg, (size_t) (eq - arg));
                if (!name)
                        return -ENOMEM;
                const CgroupPropertyInfo *info = property_find(name);
                if (!info) {
                        char known[1024];
                        known_properties(known, sizeof(known));
                        return error_setf(e, EINVAL, "--cgroup-property: unknown property %s (known: %s)", name, known);
                }
                if (parse_value(info, false, eq + 1, &v) < 0)
                        return error_setf(e, EINVAL, "--cgroup-property %s: invalid value \"%s\" (%s)", name, eq + 1,
                                          value_hint(info, false));
                return add_property(s, info, option, eq + 1, v);
        }

        for (size_t i = 0; i < ELEMENTSOF(limit_options); i++) {
                if (!limit_options[i].property || strcmp(limit_options[i].option, option) != 0)
                        continue;
                const CgroupPropertyInfo *info = property_find(limit_options[i].property);
                /* The shorthands take finite values only. */
                if (strcmp(arg, "infinity") == 0 || parse_value(info, limit_options[i].cpus, arg, &v) < 0)
                        return error_setf(e, EINVAL, "%s: invalid value \"%s\" (%s)", option, arg,
                                          value_hint(info, limit_options[i].cpus));
                return add_property(s, info, option, arg, v);
        }
        return error_setf(e, EINVAL, "%s: not a resource option", option);
}

static const CgroupProperty *settings_find(const CgroupSettings *s, const char *name) {
        for (size_t i = 0; i < s->n_properties; i++)
                if (strcmp(s->properties[i].info->name, name) == 0)
                        return &s->properties[i];
        return NULL;
}

/* How the user named a property: "--memory", or "--cgroup-property MemoryHigh". */
static const char *property_label(const CgroupProperty *p, char *buf, size_t size) {
        if (strcmp(p->option, "--cgroup-property") != 0)
                return p->option;
        snprintf(buf, size, "%s %s", p->option, p->info->name);
        return buf;
}

static bool have_systemd(void) {
        return HAVE_LIBSYSTEMD;
}

/* Properties the cgroupfs backend cannot apply: the first one, or NULL. */
static const CgroupProperty *first_systemd_only(const CgroupSettings *s) {
        for (size_t i = 0; i < s->n_properties; i++)
                if (!s->properties[i].info->file)
                        return &s->properties[i];
        return NULL;
}

int cgroup_settings_validate(const CgroupSettings *s, Error *e) {
        const CgroupProperty *delegate = settings_find(s, "Delegate");
        if (delegate && delegate->value == 0)
                return error_setf(e, EINVAL,
                                  "--cgroup-property Delegate=%s: the sandbox's processes live in a sub-cgroup of its scope, "
                                  "which needs Delegate=yes (csand's default)",
                                  delegate->text);
        if (s->manager == CGROUP_MANAGER_SYSTEMD && !have_systemd())
                return error_setf(e, EOPNOTSUPP,
                                  "--cgroup-manager systemd: csand was built without libsystemd; use --cgroup-manager cgroupfs");
        if (s->manager == CGROUP_MANAGER_CGROUPFS || (s->manager == CGROUP_MANAGER_AUTO && !have_systemd())) {
                const CgroupProperty *p = first_systemd_only(s);
                if (p)
                        return error_setf(e, EOPNOTSUPP,
                                          "--cgroup-property %s is a systemd unit property without a cgroupfs equivalent; it needs --cgroup-manager systemd%s",
                                          p->info->name, have_systemd() ? "" : " (csand was built without libsystemd)");
        }
        return 0;
}

bool cgroup_needed(const CgroupSettings *s) {
        return s->manager_given || s->n_properties > 0;
}

/* ---- small cgroupfs helpers ---- */

static int read_at(int dir_fd, const char *name, char **ret) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        void *data;
        size_t len;
        int r = read_full_fd(fd, 1 << 20, &data, &len);
        if (r < 0)
                return r;
        *ret = data;
        return 0;
}

static bool word_in(const char *list, const char *word) {
        size_t len = strlen(word);
        for (const char *c = list; c && *c;) {
                c += strspn(c, " \t\n");
                size_t n = strcspn(c, " \t\n");
                if (n == len && strncmp(c, word, len) == 0)
                        return true;
                c += n;
        }
        return false;
}

/* "KEY VALUE" lines (memory.events, cgroup.events). */
static int keyed_value(const char *text, const char *key, uint64_t *ret) {
        size_t len = strlen(key);
        for (const char *c = text; c && *c; c = strchr(c, '\n'), c = c ? c + 1 : NULL)
                if (strncmp(c, key, len) == 0 && c[len] == ' ') {
                        char num[32];
                        size_t n = strcspn(c + len + 1, "\n");
                        if (n == 0 || n >= sizeof(num))
                                return -EINVAL;
                        memcpy(num, c + len + 1, n);
                        num[n] = '\0';
                        return parse_uint64(num, ret);
                }
        return -ENOENT;
}

static int read_oom_kills(int fd, uint64_t *ret) {
        char buf[1024];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return keyed_value(buf, "oom_kill", ret);
}

/* PID's cgroup v2 path ("/user.slice/..."), from /proc/PID/cgroup. */
static int cgroup_of_pid(pid_t pid, char **ret) {
        char path[64];
        _cleanup_free_ char *text = NULL;
        if (pid == 0)
                snprintf(path, sizeof(path), "/proc/self/cgroup");
        else
                snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        int r = read_at(AT_FDCWD, path, &text);
        if (r < 0)
                return r;
        for (char *c = text; c && *c; c = strchr(c, '\n'), c = c ? c + 1 : NULL)
                if (strncmp(c, "0::", 3) == 0) {
                        size_t n = strcspn(c + 3, "\n");
                        char *p = strndup(c + 3, n);
                        if (!p)
                                return -ENOMEM;
                        *ret = p;
                        return 0;
                }
        return -ENOMEDIUM;
}

static bool cgroup2_mounted(void) {
        struct statfs sfs;
        return statfs(CGROUP_ROOT, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static int open_cgroup(const char *path, int *ret_fd) {
        _cleanup_free_ char *full = NULL;
        if (asprintf(&full, CGROUP_ROOT "%s", path) < 0)
                return -ENOMEM;
        int fd = open(full, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

/* The controllers the settings need, as a space-separated list. */
static void needed_controllers(const CgroupSettings *s, char *buf, size_t size) {
        static const char *const order[] = { "cpu", "cpuset", "io", "memory", "pids" };
        size_t n = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < ELEMENTSOF(order); k++)
                for (size_t i = 0; i < s->n_properties; i++)
                        if (s->properties[i].info->controller && strcmp(s->properties[i].info->controller, order[k]) == 0) {
                                n += (size_t) snprintf(buf + n, size - n, "%s%s", n ? " " : "", order[k]);
                                break;
                        }
}

/* Every limit needs its controller in the sandbox's cgroup: a limit that
 * would silently not apply is an error. */
_unused_ static int check_controllers(const CgroupSettings *s, int dir_fd, const char *path, const char *how, Error *e) {
        _cleanup_free_ char *have = NULL;
        int r = read_at(dir_fd, "cgroup.controllers", &have);
        if (r < 0)
                return error_set_errno(e, r, "Can't read the controllers of cgroup %s", path);
        for (size_t i = 0; i < s->n_properties; i++) {
                const CgroupProperty *p = &s->properties[i];
                if (!p->info->controller || word_in(have, p->info->controller))
                        continue;
                char label[128];
                have[strcspn(have, "\n")] = '\0';
                return error_setf(e, EOPNOTSUPP, "%s needs the %s controller, which %s (available: %s)",
                                  property_label(p, label, sizeof(label)), p->info->controller, how, *have ? have : "none");
        }
        return 0;
}

/* ---- the runtime: one cgroup for one sandbox ---- */

struct CgroupScope {
        const struct CgroupBackend *backend;
        char *path;                /* the sandbox's cgroup below CGROUP_ROOT */
        int dir_fd;                /* O_PATH of it */
        int memory_events_fd;      /* its memory.events, kept open to read after the end */
        int parent_events_fd;      /* systemd: the slice's memory.events (the scope may be gone) */
        uint64_t parent_oom_kills; /* ... and its oom_kill count when we started */
        /* cgroupfs */
        int base_fd; /* the delegated cgroup we made ours in */
        char *name;  /* ours, in base_fd */
#if HAVE_LIBSYSTEMD
        sd_bus *bus;
#endif
};

typedef struct CgroupBackend {
        const char *name;
        /* Makes the cgroup, applies the limits and moves CHILD in. -ENOMEDIUM:
         * this way is not available here, e says why. */
        int (*create)(CgroupScope *sc, const CgroupSettings *s, pid_t child, Error *e);
        /* After the sandbox ended. */
        void (*destroy)(CgroupScope *sc);
} CgroupBackend;

/* ---- systemd ---- */

#if HAVE_LIBSYSTEMD
/* libsystemd is loaded only when a scope is to be made, the way systemd
 * loads its own optional libraries: a csand without limits does not pay for
 * loading it and its dependencies (~0.4 ms a start). Set once, never freed. */
static DLSYM_FUNCTION(sd_bus_open_user);
static DLSYM_FUNCTION(sd_bus_flush_close_unref);
static DLSYM_FUNCTION(sd_bus_match_signal);
static DLSYM_FUNCTION(sd_bus_call);
static DLSYM_FUNCTION(sd_bus_process);
static DLSYM_FUNCTION(sd_bus_wait);
static DLSYM_FUNCTION(sd_bus_slot_unref);
static DLSYM_FUNCTION(sd_bus_message_new_method_call);
static DLSYM_FUNCTION(sd_bus_message_unref);
static DLSYM_FUNCTION(sd_bus_message_append);
static DLSYM_FUNCTION(sd_bus_message_append_array);
static DLSYM_FUNCTION(sd_bus_message_open_container);
static DLSYM_FUNCTION(sd_bus_message_close_container);
static DLSYM_FUNCTION(sd_bus_message_read);
static DLSYM_FUNCTION(sd_bus_error_free);
static DLSYM_FUNCTION(sd_bus_error_get_errno);
static DLSYM_FUNCTION(sd_bus_get_property_string);

/* -ENOMEDIUM when it can't be loaded: this way is not available here. */
static int dlopen_libsystemd(Error *e) {
        static void *dl;
        static const DlSymbol symbols[] = {
                DLSYM_ARG(sd_bus_open_user),
                DLSYM_ARG(sd_bus_flush_close_unref),
                DLSYM_ARG(sd_bus_match_signal),
                DLSYM_ARG(sd_bus_call),
                DLSYM_ARG(sd_bus_process),
                DLSYM_ARG(sd_bus_wait),
                DLSYM_ARG(sd_bus_slot_unref),
                DLSYM_ARG(sd_bus_message_new_method_call),
                DLSYM_ARG(sd_bus_message_unref),
                DLSYM_ARG(sd_bus_message_append),
                DLSYM_ARG(sd_bus_message_append_array),
                DLSYM_ARG(sd_bus_message_open_container),
                DLSYM_ARG(sd_bus_message_close_container),
                DLSYM_ARG(sd_bus_message_read),
                DLSYM_ARG(sd_bus_error_free),
                DLSYM_ARG(sd_bus_error_get_errno),
                DLSYM_ARG(sd_bus_get_property_string),
        };
        int r = dlopen_symbols(&dl, "libsystemd.so.0", "the systemd cgroup manager", symbols, ELEMENTSOF(symbols), e);
        if (r < 0)
                e->error = ENOMEDIUM;
        return r < 0 ? -ENOMEDIUM : 0;
}

static void bus_error_freep(sd_bus_error *err) {
        sym_sd_bus_error_free(err);
}

static void bus_message_unrefp(sd_bus_message **m) {
        if (*m)
                sym_sd_bus_message_unref(*m);
}

static void bus_slot_unrefp(sd_bus_slot **slot) {
        if (*slot)
                sym_sd_bus_slot_unref(*slot);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

typedef struct JobWait {
        const char *job;
        bool done;
        char result[32];
} JobWait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        JobWait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        if (sym_sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (w->job && strcmp(path, w->job) == 0) {
                w->done = true;
                snprintf(w->result, sizeof(w->result), "%s", result);
        }
        return 0;
}

static int append_property(sd_bus_message *m, const CgroupProperty *p) {
        const CgroupPropertyInfo *info = p->info;
        int r;
        switch (info->kind) {
        case VALUE_BOOL:
                return sym_sd_bus_message_append(m, "(sv)", info->dbus_name, "b", (int) p->value);
        case VALUE_STRING:
                return sym_sd_bus_message_append(m, "(sv)", info->dbus_name, "s", p->text);
        case VALUE_SIGNAL:
                return sym_sd_bus_message_append(m, "(sv)", info->dbus_name, "i", (int32_t) p->value);
        case VALUE_CPU_SET: {
                uint8_t mask[CPU_SET_MAX / 8];
                size_t len;
                r = parse_cpu_set(p->text, mask, &len);
                if (r < 0)
                        return r;
                r = sym_sd_bus_message_open_container(m, 'r', "sv");
                if (r < 0)
                        return r;
                r = sym_sd_bus_message_append(m, "s", info->dbus_name);
                if (r < 0)
                        return r;
                r = sym_sd_bus_message_open_container(m, 'v', "ay");
                if (r < 0)
                        return r;
                r = sym_sd_bus_message_append_array(m, 'y', mask, len);
                if (r < 0)
                        return r;
                r = sym_sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
                return sym_sd_bus_message_close_container(m);
        }
        default:
                return sym_sd_bus_message_append(m, "(sv)", info->dbus_name, "t", p->value);
        }
}

static int append_properties(sd_bus_message *m, const CgroupSettings *s, pid_t child) {
        int r = sym_sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        /* Our defaults, unless the user set them. Delegate: the sandbox may
         * manage its own sub-cgroups. CollectMode: a failed scope (killed,
         * out of memory) is unloaded too, so nothing is left behind. */
        if (!settings_find(s, "Description") &&
            (r = sym_sd_bus_message_append(m, "(sv)", "Description", "s", "csand sandbox")) < 0)
                return r;
        if (!settings_find(s, "Delegate") && (r = sym_sd_bus_message_append(m, "(sv)", "Delegate", "b", 1)) < 0)
                return r;
        if (!settings_find(s, "CollectMode") &&
            (r = sym_sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed")) < 0)
                return r;
        r = sym_sd_bus_message_append(m, "(sv)", "Slice", "s", SLICE);
        if (r < 0)
                return r;
        r = sym_sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t) child);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_properties; i++) {
                r = append_property(m, &s->properties[i]);
                if (r < 0)
                        return r;
        }
        return sym_sd_bus_message_close_container(m);
}

/* An error that came from our side of the connection (sd-bus maps errnos
 * to "System.Error.*"), not a reply from a peer. */
static bool bus_error_is_local(const sd_bus_error *err) {
        return !err->name || strncmp(err->name, "System.Error.", 13) == 0;
}

static bool bus_error_is(const sd_bus_error *err, const char *name) {
        return err->name && strcmp(err->name, name) == 0;
}

static const char *user_bus_address(char *buf, size_t size) {
        const char *a = getenv("DBUS_SESSION_BUS_ADDRESS");
        if (a)
                return a;
        const char *d = getenv("XDG_RUNTIME_DIR");
        if (!d)
                return NULL;
        snprintf(buf, size, "unix:path=%s/bus", d);
        return buf;
}

/* StartTransientUnit of UNIT: 0 with the job's path in w->job (pointing into
 * *ret_reply), or a negative errno with e filled in (-ENOMEDIUM: no systemd
 * on the bus, -EEXIST: the unit exists). */
static int start_scope(CgroupScope *sc, const CgroupSettings *s, pid_t child, const char *unit, const char *address,
                       JobWait *w, sd_bus_message **ret_reply, Error *e) {
        _cleanup_(bus_error_freep) sd_bus_error err = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sym_sd_bus_message_new_method_call(sc->bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                               "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r >= 0)
                r = sym_sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = append_properties(m, s, child);
        if (r >= 0)
                r = sym_sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return error_set_errno(e, r, "Can't build the D-Bus request for %s", unit);

        r = sym_sd_bus_call(sc->bus, m, 0, &err, &reply);
        if (r < 0) {
                if (bus_error_is_local(&err))
                        return error_setf(e, ENOMEDIUM, "the user bus at %s does not answer: %s", address,
                                          err.message ?: strerror(-r));
                /* Nobody owns the name, or the bus could not start it. */
                if (bus_error_is(&err, SD_BUS_ERROR_SERVICE_UNKNOWN) || bus_error_is(&err, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
                    strncmp(err.name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0)
                        return error_setf(e, ENOMEDIUM, "the user bus at %s has no systemd on it: %s", address, err.message);
                if (bus_error_is(&err, "org.freedesktop.systemd1.UnitExists"))
                        return error_setf(e, EEXIST, "systemd refused to start %s: %s", unit, err.message);
                /* A real answer: the manager refused. Its messages name the
                 * property ("Cannot set property X, or unknown property."). */
                return error_setf(e, sym_sd_bus_error_get_errno(&err) ?: EINVAL, "systemd refused to start %s: %s",
                                  unit, err.message ?: err.name);
        }
        r = sym_sd_bus_message_read(reply, "o", &w->job);
        if (r < 0)
                return error_set_errno(e, r, "Unexpected reply from systemd starting %s", unit);
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

static int systemd_create(CgroupScope *sc, const CgroupSettings *s, pid_t child, Error *e) {
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(bus_slot_unrefp) sd_bus_slot *slot = NULL;
        char unit[64], addr_buf[4200];
        const char *address = user_bus_address(addr_buf, sizeof(addr_buf));
        JobWait w = {};
        int r;

        if (dlopen_libsystemd(e) < 0)
                return -ENOMEDIUM;
        r = sym_sd_bus_open_user(&sc->bus);
        if (r == -ENOMEDIUM || (r < 0 && !address))
                return error_setf(e, ENOMEDIUM, "no user bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set");
        if (r < 0)
                return error_setf(e, ENOMEDIUM, "can't connect to the user bus at %s: %s", address, strerror(-r));
        if (!address)
                address = "(default)";

        /* Before the job exists, so that its end can't be missed. */
        r = sym_sd_bus_match_signal(sc->bus, &slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                    "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, &w);
        if (r < 0)
                return error_setf(e, ENOMEDIUM, "the user bus at %s does not answer: %s", address, strerror(-r));

        /* csand-PID.scope; should one of that name still be running (a
         * csand of the same pid in another pid namespace), csand-PID-N. */
        snprintf(unit, sizeof(unit), "csand-%d.scope", (int) getpid());
        r = start_scope(sc, s, child, unit, address, &w, &reply, e);
        if (r == -EEXIST) {
                snprintf(unit, sizeof(unit), "csand-%d-%08x.scope", (int) getpid(), (unsigned) now_usec());
                r = start_scope(sc, s, child, unit, address, &w, &reply, e);
        }
        if (r < 0)
                return r;

        uint64_t start = now_usec();
        for (;;) {
                r = sym_sd_bus_process(sc->bus, NULL);
                if (r < 0)
                        return error_set_errno(e, r, "Lost the user bus while systemd started %s", unit);
                if (w.done)
                        break;
                if (r > 0)
                        continue;
                uint64_t elapsed = now_usec() - start;
                if (elapsed >= JOB_TIMEOUT_USEC)
                        return error_setf(e, ETIMEDOUT, "Timed out waiting for systemd to start %s", unit);
                r = sym_sd_bus_wait(sc->bus, JOB_TIMEOUT_USEC - elapsed);
                if (r < 0)
                        return error_set_errno(e, r, "Lost the user bus while systemd started %s", unit);
        }
        if (strcmp(w.result, "done") != 0)
                return error_setf(e, EIO, "systemd could not start %s: the job ended with result \"%s\"", unit, w.result);

        r = cgroup_of_pid(child, &sc->path);
        if (r < 0)
                return error_set_errno(e, r, "Can't find the cgroup of the sandbox in %s", unit);
        r = open_cgroup(sc->path, &sc->dir_fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't open the cgroup %s of %s", sc->path, unit);
        return check_controllers(s, sc->dir_fd, sc->path,
                                 "the user's systemd does not delegate (Debian's user@.service delegates cpu, memory and pids; "
                                 "a drop-in with Delegate=cpu cpuset io memory pids adds the others)",
                                 e);
}

static void systemd_destroy(CgroupScope *sc) {
        /* The scope goes away by itself once its last process is gone
         * (CollectMode=inactive-or-failed). */
        if (sc->bus)
                sc->bus = sym_sd_bus_flush_close_unref(sc->bus);
}

static const CgroupBackend systemd_backend = {
        .name = "systemd",
        .create = systemd_create,
        .destroy = systemd_destroy,
};
#endif

/* ---- cgroupfs ---- */

static int cgroup_value_for(const CgroupProperty *p, char *buf, size_t size) {
        const CgroupPropertyInfo *info = p->info;
        switch (info->kind) {
        case VALUE_BYTES:
        case VALUE_COUNT:
                if (p->value == UINT64_MAX)
                        snprintf(buf, size, "max");
                else
                        snprintf(buf, size, "%" PRIu64, p->value);
                return 0;
        case VALUE_WEIGHT:
                snprintf(buf, size, "%s%" PRIu64, strcmp(info->file, "io.weight") == 0 ? "default " : "", p->value);
                return 0;
        case VALUE_CPU_QUOTA:
                snprintf(buf, size, "%" PRIu64 " %" PRIu64, p->value * CPU_PERIOD_USEC / USEC_PER_SEC, CPU_PERIOD_USEC);
                return 0;
        case VALUE_CPU_SET:
                snprintf(buf, size, "%s", p->text);
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}

/* A process that is exiting stays listed in cgroup.procs for a moment,
 * and the kernel skips it when asked to move it (the write succeeds): a
 * killed id-map stand-in, not reaped yet, is one. Its pidfd turns readable
 * once it has left every cgroup list; a live process times out. */
static void wait_if_exiting(const char *pid) {
        uint32_t n;
        if (parse_uint32(pid, &n) < 0 || n == 0)
                return;
        _cleanup_close_ int fd = (int) syscall(SYS_pidfd_open, (pid_t) n, 0);
        if (fd < 0)
                return;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        (void) poll(&pfd, 1, 100);
}

/* Moves every process of DIR_FD into LEAF_FD, until none is left. */
static int move_all_processes(int dir_fd, int leaf_fd) {
        for (int tries = 0; tries < 10; tries++) {
                _cleanup_free_ char *procs = NULL;
                int r = read_at(dir_fd, "cgroup.procs", &procs);
                if (r < 0)
                        return r;
                if (!procs || !*procs) /* read_at() sets it; gcc can't see that */
                        return 0;
                for (char *line = strtok(procs, "\n"); line; line = strtok(NULL, "\n")) {
                        if (tries > 0)
                                wait_if_exiting(line);
                        r = write_string_at(leaf_fd, "cgroup.procs", line);
                        if (r < 0 && r != -ESRCH)
                                return r;
                }
        }
        return -EBUSY;
}

/* Removes cgroup NAME of DIR_FD and the cgroups below it (the sandbox may
 * have made some in its leaf), as far as they are empty. */
static void remove_cgroup_tree(int dir_fd, const char *name, unsigned depth) {
        if (depth < 16) {
                int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                _cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
                if (fd >= 0 && !d)
                        close(fd);
                struct dirent *de;
                while (d && (de = readdir(d)))
                        if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                                remove_cgroup_tree(dirfd(d), de->d_name, depth + 1);
        }
        (void) unlinkat(dir_fd, name, AT_REMOVEDIR);
}

/* Empty csand-PID cgroups whose csand is gone (it was SIGKILLed). */
static void remove_stale(int base_fd) {
        int fd = openat(base_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                uint32_t pid;
                if (de->d_type != DT_DIR || strncmp(de->d_name, "csand-", 6) != 0 || parse_uint32(de->d_name + 6, &pid) < 0)
                        continue;
                if (pid == 0 || pid > INT32_MAX || kill((pid_t) pid, 0) == 0 || errno != ESRCH)
                        continue;
                remove_cgroup_tree(base_fd, de->d_name, 0);
        }
}

static int cgroupfs_create(CgroupScope *sc, const CgroupSettings *s, _unused_ pid_t child, Error *e) {
        _cleanup_free_ char *own = NULL, *base = NULL, *controllers = NULL, *enabled = NULL;
        char needed[64], buf[128];
        int r;

        if (!cgroup2_mounted())
                return error_setf(e, ENOMEDIUM, "cgroup v2 is not mounted at " CGROUP_ROOT " (a cgroup v1 or hybrid layout)");
        r = cgroup_of_pid(0, &own);
        if (r < 0)
                return error_setf(e, ENOMEDIUM, "csand's own cgroup v2 is not in /proc/self/cgroup");
        /* Inside our own leaf (an earlier run moved us there): use its parent. */
        base = strdup(own);
        if (!base)
                return -ENOMEM;
        char *slash = strrchr(base, '/');
        if (slash && strcmp(slash + 1, LEAF_NAME) == 0)
                *slash = '\0';
        if (strcmp(base, "/") == 0)
                base[0] = '\0'; /* the root of (a namespace's) hierarchy */
        r = open_cgroup(base, &sc->base_fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't open the current cgroup %s", *base ? base : "/");
        if (faccessat(sc->base_fd, ".", W_OK, AT_EACCESS) < 0 || faccessat(sc->base_fd, "cgroup.procs", W_OK, AT_EACCESS) < 0 ||
            faccessat(sc->base_fd, "cgroup.subtree_control", W_OK, AT_EACCESS) < 0)
                return error_setf(e, ENOMEDIUM, "the current cgroup %s is not delegated to this user", *base ? base : "/");

        /* Controllers for the limits: enabled for our sub-cgroups. An inner
         * cgroup may hold no processes, so those here (csand's monitor, and
         * whoever shares its cgroup) move to a leaf first. */
        needed_controllers(s, needed, sizeof(needed));
        r = read_at(sc->base_fd, "cgroup.controllers", &controllers);
        if (r < 0)
                return error_set_errno(e, r, "Can't read the controllers of cgroup %s", *base ? base : "/");
        r = read_at(sc->base_fd, "cgroup.subtree_control", &enabled);
        if (r < 0)
                return error_set_errno(e, r, "Can't read the controllers of cgroup %s", *base ? base : "/");
        size_t n = 0;
        buf[0] = '\0';
        char words[sizeof(needed)];
        memcpy(words, needed, sizeof(words));
        for (char *c = words, *save = NULL, *w; (w = strtok_r(c, " ", &save)); c = NULL) {
                if (!word_in(controllers, w)) {
                        controllers[strcspn(controllers, "\n")] = '\0';
                        for (size_t i = 0; i < s->n_properties; i++)
                                if (s->properties[i].info->controller && strcmp(s->properties[i].info->controller, w) == 0) {
                                        char label[128];
                                        return error_setf(e, EOPNOTSUPP,
                                                          "%s needs the %s controller, which the delegated cgroup %s does not have (available: %s)",
                                                          property_label(&s->properties[i], label, sizeof(label)), w,
                                                          *base ? base : "/", *controllers ? controllers : "none");
                                }
                }
                if (!word_in(enabled, w))
                        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s+%s", n ? " " : "", w);
        }
        if (n > 0) {
                for (int tries = 0;; tries++) {
                        if (mkdirat(sc->base_fd, LEAF_NAME, 0755) < 0 && errno != EEXIST)
                                return error_set_errno(e, errno, "Can't create the cgroup %s/" LEAF_NAME, base);
                        _cleanup_close_ int leaf_fd = openat(sc->base_fd, LEAF_NAME, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (leaf_fd < 0)
                                return error_set_errno(e, errno, "Can't open the cgroup %s/" LEAF_NAME, base);
                        r = move_all_processes(sc->base_fd, leaf_fd);
                        if (r < 0)
                                return error_set_errno(e, r, "Can't move the processes of cgroup %s to its leaf " LEAF_NAME,
                                                       *base ? base : "/");
                        r = write_string_at(sc->base_fd, "cgroup.subtree_control", buf);
                        if (r >= 0)
                                break;
                        /* EBUSY: a process appeared meanwhile. */
                        if (r != -EBUSY || tries >= 5)
                                return error_set_errno(e, r, "Can't enable the controllers %s in cgroup %s", needed,
                                                       *base ? base : "/");
                }
        }

        remove_stale(sc->base_fd);
        if (asprintf(&sc->name, "csand-%d", (int) getpid()) < 0)
                return -ENOMEM;
        if (mkdirat(sc->base_fd, sc->name, 0755) < 0) {
                /* A stale one of our pid: remove it if it is empty. */
                if (errno != EEXIST || unlinkat(sc->base_fd, sc->name, AT_REMOVEDIR) < 0 ||
                    mkdirat(sc->base_fd, sc->name, 0755) < 0) {
                        r = -errno;
                        sc->name = (free(sc->name), NULL);
                        return error_set_errno(e, r, "Can't create the cgroup %s/csand-%d", base, (int) getpid());
                }
        }
        if (asprintf(&sc->path, "%s/%s", base, sc->name) < 0)
                return -ENOMEM;
        sc->dir_fd = openat(sc->base_fd, sc->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (sc->dir_fd < 0)
                return error_set_errno(e, errno, "Can't open the cgroup %s", sc->path);

        for (size_t i = 0; i < s->n_properties; i++) {
                const CgroupProperty *p = &s->properties[i];
                char value[128];
                char label[128];
                if (cgroup_value_for(p, value, sizeof(value)) < 0)
                        return error_setf(e, EOPNOTSUPP, "%s has no cgroupfs equivalent; it needs --cgroup-manager systemd",
                                          property_label(p, label, sizeof(label)));
                r = write_string_at(sc->dir_fd, p->info->file, value);
                if (r < 0)
                        return error_set_errno(e, r, "%s: can't write \"%s\" to %s of cgroup %s",
                                               property_label(p, label, sizeof(label)), value, p->info->file, sc->path);
        }
        return 0;
}

static void cgroupfs_destroy(CgroupScope *sc) {
        if (!sc->name)
                return;
        /* Left alone while processes live in it (a daemon the command left
         * behind without --unshare-pid); a later csand removes it once empty. */
        remove_cgroup_tree(sc->base_fd, sc->name, 0);
}

static const CgroupBackend cgroupfs_backend = {
        .name = "cgroupfs",
        .create = cgroupfs_create,
        .destroy = cgroupfs_destroy,
};

/* ---- the sandbox's leaf ---- */

/* The limits are on the cgroup the manager made (sc->dir_fd); the sandbox's
 * processes go into its leaf SANDBOX_LEAF. A cgroup namespace made for the
 * sandbox (--unshare-cgroup, made once it is in the leaf) or by the command
 * itself has the leaf, or a cgroup below it, as its root: whatever cgroup2
 * the command mounts shows the leaf at most, and the files that hold the
 * limits are above it, out of reach. The command may be able to write the
 * leaf's own files (without the nsdelegate mount option nothing stops a
 * namespace's root from writing its root cgroup's files, which the user
 * owns), but a child cgroup can't loosen its parent's limits. Nor can the
 * command leave the leaf: a move needs the common parent's cgroup.procs. */
static int enter_leaf(CgroupScope *sc, pid_t child, Error *e) {
        _cleanup_close_ int leaf_fd = -EBADF;
        _cleanup_free_ char *available = NULL;
        char pid[32];
        int r;

        if (mkdirat(sc->dir_fd, SANDBOX_LEAF, 0755) < 0 && errno != EEXIST)
                return error_set_errno(e, errno, "Can't create the cgroup %s/" SANDBOX_LEAF, sc->path);
        leaf_fd = openat(sc->dir_fd, SANDBOX_LEAF, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (leaf_fd < 0)
                return error_set_errno(e, errno, "Can't open the cgroup %s/" SANDBOX_LEAF, sc->path);
        snprintf(pid, sizeof(pid), "%d", (int) child);
        r = write_string_at(leaf_fd, "cgroup.procs", pid);
        if (r < 0)
                return error_set_errno(e, r, "Can't move the sandbox into cgroup %s/" SANDBOX_LEAF, sc->path);

        /* The leaf gets the controllers its parent has, as a delegated
         * cgroup would: a cgroup manager inside the sandbox (a nested csand,
         * podman) can then set limits of its own below them. The sandbox's
         * limits don't depend on it, hence best effort. */
        if (read_at(sc->dir_fd, "cgroup.controllers", &available) >= 0) {
                char enable[256];
                size_t n = 0;
                enable[0] = '\0';
                for (char *c = available, *save = NULL, *w; n < sizeof(enable) && (w = strtok_r(c, " \n", &save)); c = NULL)
                        n += (size_t) snprintf(enable + n, sizeof(enable) - n, "%s+%s", n ? " " : "", w);
                if (n > 0 && n < sizeof(enable))
                        (void) write_string_at(sc->dir_fd, "cgroup.subtree_control", enable);
        }
        return 0;
}

/* ---- choosing a backend, and the end ---- */

static void scope_free(CgroupScope *sc) {
        if (!sc)
                return;
        if (sc->backend)
                sc->backend->destroy(sc);
        safe_close(sc->dir_fd);
        safe_close(sc->memory_events_fd);
        safe_close(sc->parent_events_fd);
        safe_close(sc->base_fd);
        free(sc->path);
        free(sc->name);
        free(sc);
}

static CgroupScope *scope_new(void) {
        CgroupScope *sc = calloc(1, sizeof(*sc));
        if (!sc)
                return NULL;
        sc->dir_fd = sc->memory_events_fd = sc->parent_events_fd = sc->base_fd = -EBADF;
        return sc;
}

static int try_backend(const CgroupBackend *b, const CgroupSettings *s, pid_t child, CgroupScope **ret, Error *e) {
        CgroupScope *sc = scope_new();
        if (!sc)
                return -ENOMEM;
        int r = b->create(sc, s, child, e);
        /* On failure, undo what was made (the child is killed by the caller;
         * a systemd scope then goes away by itself). */
        sc->backend = b;
        if (r < 0) {
                scope_free(sc);
                return r;
        }
        *ret = sc;
        return 0;
}

#define HINT_SYSTEMD \
        "run csand in a login session with a systemd user manager (or enable lingering: loginctl enable-linger)"
#define HINT_CGROUPFS \
        "run it inside a cgroup delegated to you (systemd-run --user --scope -p Delegate=yes csand ..., or a container with its own cgroup v2)"

int cgroup_setup(const CgroupSettings *s, pid_t child, CgroupScope **ret, Error *e) {
        CgroupScope *sc = NULL;
        Error why = {};
        int r;

        switch (s->manager) {
        case CGROUP_MANAGER_SYSTEMD:
#if HAVE_LIBSYSTEMD
                r = try_backend(&systemd_backend, s, child, &sc, &why);
                if (r == -ENOMEDIUM)
                        return error_setf(e, EHOSTUNREACH,
                                          "--cgroup-manager systemd: can't reach the systemd user manager: %s; %s",
                                          why.message, HINT_SYSTEMD);
                break;
#else
                return error_setf(e, EOPNOTSUPP, "--cgroup-manager systemd: csand was built without libsystemd");
#endif
        case CGROUP_MANAGER_CGROUPFS:
                r = try_backend(&cgroupfs_backend, s, child, &sc, &why);
                if (r == -ENOMEDIUM)
                        return error_setf(e, EOPNOTSUPP, "--cgroup-manager cgroupfs: can't make a cgroup: %s; %s",
                                          why.message, HINT_CGROUPFS);
                break;
        case CGROUP_MANAGER_AUTO:
        default: {
                char systemd_why[sizeof(why.message)] = "csand was built without libsystemd";
                r = -ENOMEDIUM;
#if HAVE_LIBSYSTEMD
                r = try_backend(&systemd_backend, s, child, &sc, &why);
                if (r == -ENOMEDIUM)
                        snprintf(systemd_why, sizeof(systemd_why), "%s", why.message);
#endif
                if (r == -ENOMEDIUM) {
                        const CgroupProperty *p = first_systemd_only(s);
                        if (p)
                                return error_setf(e, EHOSTUNREACH,
                                                  "--cgroup-property %s needs the systemd user manager, which is not reachable: %s; %s",
                                                  p->info->name, systemd_why, HINT_SYSTEMD);
                        why = (Error) {};
                        r = try_backend(&cgroupfs_backend, s, child, &sc, &why);
                        if (r == -ENOMEDIUM)
                                return error_setf(e, EHOSTUNREACH,
                                                  "resource limits need a cgroup of the sandbox's own, and neither way to make one works here: "
                                                  "the systemd user manager is not reachable (%s), and %s. To fix it, %s; or %s",
                                                  systemd_why, why.message, HINT_SYSTEMD, HINT_CGROUPFS);
                }
                break;
        }
        }
        if (r < 0) {
                if (why.message[0])
                        *e = why;
                else
                        error_set_errno(e, r, "Can't set up the sandbox's cgroup");
                return -e->error;
        }
        r = enter_leaf(sc, child, e);
        if (r < 0) {
                scope_free(sc);
                return r;
        }

        /* Kept open so that the OOM killer's count can be read after the
         * end, even after systemd removed the scope's cgroup (then from the
         * slice, whose counts include its children's). */
        if (settings_find(s, "MemoryMax") || settings_find(s, "MemorySwapMax") || settings_find(s, "MemoryHigh")) {
                uint64_t v;
                sc->memory_events_fd = openat(sc->dir_fd, "memory.events", O_RDONLY | O_CLOEXEC);
                if (sc->backend != &cgroupfs_backend) {
                        _cleanup_free_ char *parent = strdup(sc->path);
                        char *slash = parent ? strrchr(parent, '/') : NULL;
                        if (slash) {
                                _cleanup_close_ int pfd = -EBADF;
                                *slash = '\0';
                                if (open_cgroup(parent, &pfd) >= 0)
                                        sc->parent_events_fd = openat(pfd, "memory.events", O_RDONLY | O_CLOEXEC);
                                if (sc->parent_events_fd >= 0 && read_oom_kills(sc->parent_events_fd, &v) >= 0)
                                        sc->parent_oom_kills = v;
                                else
                                        sc->parent_events_fd = safe_close(sc->parent_events_fd);
                        }
                }
        }
        *ret = sc;
        return 0;
}

int cgroup_oom_killed(const CgroupScope *sc, const CgroupSettings *s, const char **ret_limit) {
        uint64_t n = 0;
        const CgroupProperty *max = settings_find(s, "MemoryMax");

        if (!sc || sc->memory_events_fd < 0)
                return 0;
        if (read_oom_kills(sc->memory_events_fd, &n) < 0) {
                /* The scope is already gone: ask the slice. Another sandbox
                 * in it may have been the one, so this counts only together
                 * with the caller's check that the command died of SIGKILL. */
                uint64_t now;
                if (sc->parent_events_fd < 0 || read_oom_kills(sc->parent_events_fd, &now) < 0)
                        return 0;
                n = now - sc->parent_oom_kills;
        }
        if (n == 0)
                return 0;
        if (ret_limit)
                *ret_limit = max ? max->text : NULL;
        return 1;
}

CgroupScope *cgroup_scope_free(CgroupScope *sc) {
        scope_free(sc);
        return NULL;
}

void cgroup_settings_done(CgroupSettings *s) {
        for (size_t i = 0; i < s->n_properties; i++)
                free(s->properties[i].text);
        free(s->properties);
        s->properties = NULL;
        s->n_properties = 0;
}

/* ---- --join ---- */

struct CgroupJoin {
        char *unit;      /* systemd's unit, NULL: cgroupfs */
        char *subcgroup; /* below the unit's own cgroup, "" for itself */
        int procs_fd;    /* cgroupfs: the cgroup's cgroup.procs */
#if HAVE_LIBSYSTEMD
        sd_bus *bus;
#endif
};

const char *cgroup_unit(const CgroupScope *sc) {
#if HAVE_LIBSYSTEMD
        /* systemd names a unit's cgroup after the unit. */
        if (sc && sc->backend == &systemd_backend && sc->path) {
                const char *slash = strrchr(sc->path, '/');
                return slash ? slash + 1 : sc->path;
        }
#else
        (void) sc;
#endif
        return NULL;
}

/* What follows UNIT's own component in PATH ("/sandbox", or "" when PATH is
 * the unit's cgroup itself); NULL when PATH is not below UNIT. */
static const char *path_below_unit(const char *path, const char *unit) {
        size_t n = strlen(unit);
        for (const char *c = strchr(path, '/'); c; c = strchr(c + 1, '/'))
                if (strncmp(c + 1, unit, n) == 0 && (c[1 + n] == '/' || c[1 + n] == '\0'))
                        return c + 1 + n;
        return NULL;
}

void cgroup_join_free(CgroupJoin *j) {
        if (!j)
                return;
#if HAVE_LIBSYSTEMD
        if (j->bus)
                sym_sd_bus_flush_close_unref(j->bus);
#endif
        safe_close(j->procs_fd);
        free(j->unit);
        free(j->subcgroup);
        free(j);
}

/* Where PATH and our own cgroup meet: a cgroupfs write that moves one of
 * our processes into PATH needs write access to its cgroup.procs (the
 * kernel's rule for delegated subtrees). */
static int meeting_point(const char *path, char **ret) {
        _cleanup_free_ char *own = NULL;
        int r = cgroup_of_pid(0, &own);
        if (r < 0)
                return r;
        /* The longest common prefix that ends a component in both:
         * "/a/b" and "/a/bc" meet at "/a". */
        size_t n = 0;
        for (size_t i = 0;; i++) {
                bool end_own = own[i] == '\0' || own[i] == '/', end_path = path[i] == '\0' || path[i] == '/';
                if (i > 0 && end_own && end_path)
                        n = i;
                if (own[i] != path[i] || own[i] == '\0')
                        break;
        }
        *ret = strndup(own, n);
        return *ret ? 0 : -ENOMEM;
}

static bool cgroupfs_can_move(const char *meet) {
        _cleanup_free_ char *procs = NULL;
        if (asprintf(&procs, CGROUP_ROOT "%s/cgroup.procs", meet) < 0)
                return false;
        return faccessat(AT_FDCWD, procs, W_OK, AT_EACCESS) == 0;
}

#if HAVE_LIBSYSTEMD
/* The unit of the user's systemd that holds PATH (csand's cgroupfs cgroup
 * in a scope delegated to the user): it can move a process there for us. */
static int unit_of_cgroup(CgroupJoin *j, const char *path, Error *e) {
        _cleanup_(bus_error_freep) sd_bus_error err = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *id = NULL;
        const char *object;
        int r = dlopen_libsystemd(e);
        if (r < 0)
                return r;
        r = sym_sd_bus_open_user(&j->bus);
        if (r < 0)
                return error_set_errno(e, r, "no user bus");
        _cleanup_(bus_message_unrefp) sd_bus_message *m = NULL;
        r = sym_sd_bus_message_new_method_call(j->bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                               "org.freedesktop.systemd1.Manager", "GetUnitByControlGroup");
        if (r >= 0)
                r = sym_sd_bus_message_append(m, "s", path);
        if (r >= 0)
                r = sym_sd_bus_call(j->bus, m, 0, &err, &reply);
        if (r >= 0)
                r = sym_sd_bus_message_read(reply, "o", &object);
        if (r >= 0)
                r = sym_sd_bus_get_property_string(j->bus, "org.freedesktop.systemd1", object,
                                                   "org.freedesktop.systemd1.Unit", "Id", &err, &id);
        if (r < 0)
                return error_setf(e, sym_sd_bus_error_get_errno(&err) ?: -r,
                                  "no unit of the user's systemd holds it: %s", err.message ?: strerror(-r));
        const char *below = path_below_unit(path, id);
        if (!below)
                return error_setf(e, EINVAL, "it is not below the cgroup of %s", id);
        j->unit = TAKE_PTR(id);
        j->subcgroup = strdup(below);
        return j->subcgroup ? 0 : error_setf(e, ENOMEM, "Out of memory");
}
#endif

/* cgroupfs: a write to PATH's cgroup.procs where we may, else through the
 * systemd unit PATH is in: a scope delegated to the user, joined from a
 * login session, meets it only at the root-owned user-UID.slice. */
static int prepare_cgroupfs(CgroupJoin *j, const char *path, Error *e) {
        _cleanup_free_ char *procs = NULL, *meet = NULL;
        int r = meeting_point(path, &meet);
        if (r < 0)
                return error_set_errno(e, r, "can't read csand's own cgroup");
        if (cgroupfs_can_move(meet)) {
                if (asprintf(&procs, CGROUP_ROOT "%s/cgroup.procs", path) < 0)
                        return error_setf(e, ENOMEM, "Out of memory");
                j->procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
                return j->procs_fd < 0 ? error_set_errno(e, errno, "can't open %s", procs) : 0;
        }
        Error why = {};
#if HAVE_LIBSYSTEMD
        r = unit_of_cgroup(j, path, &why);
#else
        r = error_setf(&why, EOPNOTSUPP, "csand was built without libsystemd");
#endif
        if (r < 0)
                return error_setf(e, EACCES,
                                  "its cgroup %s and csand's meet at %s, which this user may not write to, "
                                  "and the user's systemd can't move it there (%s)",
                                  path, *meet ? meet : "/", why.message);
        return 0;
}

int cgroup_join_prepare(const char *path, const char *unit, CgroupJoin **ret, Error *e) {
        CgroupJoin *j = calloc(1, sizeof(*j));
        int r;

        if (!j)
                return error_setf(e, ENOMEM, "Out of memory");
        j->procs_fd = -EBADF;
        if (unit) {
#if HAVE_LIBSYSTEMD
                const char *below = path_below_unit(path, unit);
                if (!below)
                        r = error_setf(e, EINVAL, "its cgroup %s is not below its unit %s", path, unit);
                else if (!(j->unit = strdup(unit)) || !(j->subcgroup = strdup(below)))
                        r = error_setf(e, ENOMEM, "Out of memory");
                else if ((r = dlopen_libsystemd(e)) >= 0 && (r = sym_sd_bus_open_user(&j->bus)) < 0)
                        error_set_errno(e, r, "can't connect to the user bus, whose systemd holds it in %s", unit);
#else
                r = error_setf(e, EOPNOTSUPP, "systemd holds it in %s, and csand was built without libsystemd", unit);
#endif
        } else
                r = prepare_cgroupfs(j, path, e);
        if (r < 0) {
                cgroup_join_free(j);
                return r;
        }
        *ret = j;
        return 0;
}

#if HAVE_LIBSYSTEMD
/* AttachProcessesToUnit: systemd's way into a unit's (delegated) cgroup.
 * Its user manager asks pid 1 when our cgroup and the unit's have no
 * common parent the user owns (a login session's scope). */
static int attach_through_systemd(CgroupJoin *j, pid_t pid, Error *e) {
        _cleanup_(bus_error_freep) sd_bus_error err = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r = sym_sd_bus_message_new_method_call(j->bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                   "org.freedesktop.systemd1.Manager", "AttachProcessesToUnit");
        if (r >= 0)
                r = sym_sd_bus_message_append(m, "ssau", j->unit, j->subcgroup, 1, (uint32_t) pid);
        if (r < 0)
                return error_set_errno(e, r, "can't build the D-Bus request for %s", j->unit);
        r = sym_sd_bus_call(j->bus, m, 0, &err, &reply);
        if (r < 0)
                return error_setf(e, sym_sd_bus_error_get_errno(&err) ?: -r, "systemd did not move it into %s: %s",
                                  j->unit, err.message ?: strerror(-r));
        return 0;
}
#endif

int cgroup_join_attach(CgroupJoin *j, pid_t pid, Error *e) {
#if HAVE_LIBSYSTEMD
        if (j->bus)
                return attach_through_systemd(j, pid, e);
#endif
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", (int) pid);
        if (write(j->procs_fd, buf, (size_t) n) != n)
                return error_set_errno(e, errno, "can't move it into the cgroup");
        return 0;
}
