/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* Resources: parsing of the cgroup limit options and --rlimit
 * (utils/cgroups.c, utils/rlimits.c). The limits themselves are tested in the
 * VM tier (tests/vm/), the messages in tests/integration/cgroup-host.bats. */
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "tap.h"
#include "utils/cgroups.h"
#include "utils/rlimits.h"

static int parse1(const char *option, const char *arg, uint64_t *ret_value) {
        CgroupSettings s = {};
        Error e = {};
        int r = cgroup_settings_parse(&s, option, arg, &e);
        if (r >= 0 && s.n_properties == 1 && ret_value)
                *ret_value = s.properties[0].value;
        cgroup_settings_done(&s);
        return r;
}

static uint64_t value_of(const char *option, const char *arg) {
        uint64_t v = 0;
        if (parse1(option, arg, &v) < 0)
                return (uint64_t) -1 - 1;
        return v;
}

int main(void) {
        CgroupSettings s = {};
        Error e = {};
        const char *dbus_name, *sig;

        /* shorthands */
        CHECK_UINT(value_of("--memory", "50M"), 50u << 20, "--memory 50M is 50 MiB");
        CHECK_UINT(value_of("--memory", "1g"), 1u << 30, "--memory 1g");
        CHECK_UINT(value_of("--memory", "4096"), 4096, "--memory in bytes");
        CHECK_UINT(value_of("--memory-swap", "0"), 0, "--memory-swap 0 (no swap) is allowed");
        CHECK_UINT(value_of("--cpus", "1.5"), 1500000, "--cpus 1.5 is 1.5 s of CPU per second");
        CHECK_UINT(value_of("--cpus", "2"), 2000000, "--cpus 2");
        CHECK_UINT(value_of("--cpus", "0.01"), 10000, "--cpus 0.01 is the smallest");
        CHECK_UINT(value_of("--cpu-weight", "10000"), 10000, "--cpu-weight 10000 is the largest");
        CHECK_UINT(value_of("--pids-limit", "1"), 1, "--pids-limit 1");
        CHECK_UINT(value_of("--io-weight", "1"), 1, "--io-weight 1 is the smallest");

        static const char *const bad[][2] = {
                { "--memory", "10X" },
                { "--memory", "0" },
                { "--memory", "-5" },
                { "--memory", "" },
                { "--memory", "infinity" },
                { "--memory", "1.5G" },
                { "--memory-swap", "x" },
                { "--cpus", "0" },
                { "--cpus", "0.001" },
                { "--cpus", "-1" },
                { "--cpus", "1." },
                { "--cpus", ".5" },
                { "--cpus", "0.0000001" },
                { "--cpus", "99999999999999999999" },
                { "--cpu-weight", "0" },
                { "--cpu-weight", "10001" },
                { "--io-weight", "0" },
                { "--pids-limit", "0" },
                { "--pids-limit", "-1" },
                { "--pids-limit", "infinity" },
                { "--cgroup-manager", "systemd-ish" },
                { "--cgroup-property", "NoSuchThing=1" },
                { "--cgroup-property", "MemoryMax" },
                { "--cgroup-property", "=1" },
                { "--cgroup-property", "CPUQuota=50" },
                { "--cgroup-property", "CPUQuota=0.5%" },
                { "--cgroup-property", "TasksMax=0" },
                { "--cgroup-property", "Delegate=perhaps" },
                { "--cgroup-property", "KillSignal=SIGFOO" },
                { "--cgroup-property", "KillSignal=0" },
                { "--cgroup-property", "AllowedCPUs=2-1" },
                { "--cgroup-property", "AllowedCPUs=1,,2" },
                { "--cgroup-property", "AllowedCPUs=9000" },
                { "--cgroup-property", "RuntimeMaxSec=5 years" },
                { "--cgroup-property", "Description=" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                CHECK_INT(parse1(bad[i][0], bad[i][1], NULL), -EINVAL, "%s \"%s\" is refused", bad[i][0], bad[i][1]);

        /* --cgroup-property: typed values */
        CHECK_UINT(value_of("--cgroup-property", "MemoryMax=infinity"), UINT64_MAX, "MemoryMax=infinity");
        CHECK_UINT(value_of("--cgroup-property", "CPUQuota=150%"), 1500000, "CPUQuota=150%% is 1.5 s per second");
        CHECK_UINT(value_of("--cgroup-property", "CPUQuota=12.5%"), 125000, "CPUQuota=12.5%%");
        CHECK_UINT(value_of("--cgroup-property", "RuntimeMaxSec=2"), 2000000, "RuntimeMaxSec=2 is in seconds");
        CHECK_UINT(value_of("--cgroup-property", "RuntimeMaxSec=500ms"), 500000, "RuntimeMaxSec=500ms");
        CHECK_UINT(value_of("--cgroup-property", "TimeoutStopSec=2min"), 120000000, "TimeoutStopSec=2min");
        CHECK_UINT(value_of("--cgroup-property", "Delegate=no"), 0, "Delegate=no");
        CHECK_UINT(value_of("--cgroup-property", "SendSIGHUP=yes"), 1, "SendSIGHUP=yes");
        CHECK_UINT(value_of("--cgroup-property", "KillSignal=SIGINT"), 2, "KillSignal=SIGINT");
        CHECK_UINT(value_of("--cgroup-property", "KillSignal=term"), 15, "KillSignal=term");
        CHECK_UINT(value_of("--cgroup-property", "KillSignal=9"), 9, "KillSignal=9");
        CHECK(parse1("--cgroup-property", "AllowedCPUs=0-3,6", NULL) == 0, "AllowedCPUs=0-3,6");

        /* the D-Bus names and signatures */
        CHECK(cgroup_property_lookup("CPUQuota", &dbus_name, &sig) == 0 &&
                      strcmp(dbus_name, "CPUQuotaPerSecUSec") == 0 && strcmp(sig, "t") == 0,
              "CPUQuota is CPUQuotaPerSecUSec, t");
        CHECK(cgroup_property_lookup("RuntimeMaxSec", &dbus_name, &sig) == 0 && strcmp(dbus_name, "RuntimeMaxUSec") == 0,
              "RuntimeMaxSec is RuntimeMaxUSec");
        CHECK(cgroup_property_lookup("Delegate", NULL, &sig) == 0 && strcmp(sig, "b") == 0, "Delegate is b");
        CHECK(cgroup_property_lookup("KillSignal", NULL, &sig) == 0 && strcmp(sig, "i") == 0, "KillSignal is i");
        CHECK(cgroup_property_lookup("AllowedCPUs", NULL, &sig) == 0 && strcmp(sig, "ay") == 0, "AllowedCPUs is ay");
        CHECK(cgroup_property_lookup("Description", NULL, &sig) == 0 && strcmp(sig, "s") == 0, "Description is s");
        CHECK(cgroup_property_lookup("Frobnicate", NULL, NULL) == -ENOENT, "unknown properties are not in the table");

        /* needed or not: auto without limits does nothing */
        CHECK(!cgroup_needed(&s), "no options: no cgroup");
        CHECK_INT(cgroup_settings_parse(&s, "--cgroup-manager", "auto", &e), 0, "--cgroup-manager auto");
        CHECK(!cgroup_needed(&s), "--cgroup-manager auto alone: no cgroup");
        CHECK_INT(cgroup_settings_parse(&s, "--cgroup-manager", "systemd", &e), 0, "--cgroup-manager systemd");
        CHECK(cgroup_needed(&s), "--cgroup-manager systemd alone: a cgroup");
        cgroup_settings_done(&s);
        s = (CgroupSettings) {};
        CHECK_INT(cgroup_settings_parse(&s, "--pids-limit", "5", &e), 0, "--pids-limit 5");
        CHECK(cgroup_needed(&s), "a limit: a cgroup");
        /* a later value for the same property replaces the earlier one */
        CHECK_INT(cgroup_settings_parse(&s, "--cgroup-property", "TasksMax=7", &e), 0, "TasksMax=7 after --pids-limit");
        CHECK(s.n_properties == 1 && s.properties[0].value == 7, "one TasksMax, the last one");
        CHECK_INT(cgroup_settings_validate(&s, &e), 0, "valid");
        CHECK_INT(cgroup_settings_parse(&s, "--cgroup-property", "KillMode=mixed", &e), 0, "KillMode=mixed");
        CHECK_INT(cgroup_settings_parse(&s, "--cgroup-manager", "cgroupfs", &e), 0, "--cgroup-manager cgroupfs");
        CHECK_INT(cgroup_settings_validate(&s, &e), -EOPNOTSUPP, "a systemd-only property with cgroupfs is refused");
        CHECK(strstr(e.message, "KillMode") != NULL, "and the message names it: %s", e.message);
        CHECK_INT(cgroup_oom_killed(NULL, &s, NULL), 0, "no cgroup, no OOM kill");
        cgroup_settings_done(&s);

        /* --rlimit */
        RlimitSettings rl = {};
        CHECK_INT(rlimits_add(&rl, "NOFILE=100", &e), 0, "NOFILE=100");
        CHECK(rl.n_items == 1 && rl.items[0].resource == RLIMIT_NOFILE && rl.items[0].limit.rlim_cur == 100 &&
                      rl.items[0].limit.rlim_max == 100,
              "SOFT alone sets both limits");
        CHECK_INT(rlimits_add(&rl, "nofile=50:80", &e), 0, "nofile=50:80");
        CHECK(rl.n_items == 1 && rl.items[0].limit.rlim_cur == 50 && rl.items[0].limit.rlim_max == 80, "replaces, SOFT:HARD");
        CHECK_INT(rlimits_add(&rl, "RLIMIT_CORE=0:unlimited", &e), 0, "RLIMIT_CORE=0:unlimited");
        CHECK(rl.n_items == 2 && rl.items[1].resource == RLIMIT_CORE && rl.items[1].limit.rlim_max == RLIM_INFINITY,
              "unlimited is RLIM_INFINITY");
        CHECK_INT(rlimits_add(&rl, "AS=1g:infinity", &e), 0, "AS=1g:infinity");
        CHECK(rl.items[2].limit.rlim_cur == (1u << 30), "sizes take suffixes");
        static const char *const bad_rl[] = {
                "NOFILE",    "=5",      "BOGUS=1",  "NOFILE=x", "NOFILE=1:x", "NOFILE=2:1", "NOFILE=unlimited:5",
                "NOFILE=-1", "NOFILE=", "NOFILE=1:"
        };
        for (size_t i = 0; i < sizeof(bad_rl) / sizeof(bad_rl[0]); i++)
                CHECK_INT(rlimits_add(&rl, bad_rl[i], &e), -EINVAL, "--rlimit %s is refused", bad_rl[i]);
        rlimits_done(&rl);

        struct rlimit cur;
        getrlimit(RLIMIT_NOFILE, &cur);
        if (cur.rlim_max != RLIM_INFINITY) {
                char arg[64];
                snprintf(arg, sizeof(arg), "NOFILE=1:%llu", (unsigned long long) cur.rlim_max + 1);
                CHECK_INT(rlimits_add(&rl, arg, &e), 0, "%s parses", arg);
                CHECK_INT(rlimits_validate(&rl, &e), -EPERM, "a hard limit above ours is refused at validation");
                rlimits_done(&rl);
        }
        CHECK(rlimit_from_name("sigpending") == RLIMIT_SIGPENDING && strcmp(rlimit_to_name(RLIMIT_RTTIME), "RTTIME") == 0,
              "names both ways");
        return tap_done();
}
