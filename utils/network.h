/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* The sandbox's network: loopback, and user-mode networking through
 * slirp4netns or pasta (--network, --publish, --allow-host-loopback, --dns).
 *
 * The user-mode helper runs outside the sandbox with the user's rights and
 * is attached to the sandbox's network namespace by the monitor, between
 * clone and exec (network_start(), at the monitor's gate): the command only
 * starts once the interface is configured and the ports are published. It
 * is stopped when the sandbox ends (network_state_free(), from sandbox.c's
 * one teardown), and dies with csand if
 * csand is killed (slirp4netns: --exit-fd; both: PR_SET_PDEATHSIG, pasta
 * kept in the foreground so that the signal reaches it). */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"

typedef enum NetworkMode {
        NETWORK_UNSET, /* --unshare-net / --share-net decide */
        NETWORK_NONE,  /* own namespace, loopback only */
        NETWORK_HOST,  /* the caller's namespace */
        NETWORK_SLIRP4NETNS,
        NETWORK_PASTA,
        _NETWORK_MODE_MAX,
} NetworkMode;

/* --publish [IP:]HOSTPORT:PORT[/tcp|/udp] */
typedef struct PortForward {
        int family;                     /* AF_INET or AF_INET6 (of host_ip) */
        char host_ip[INET6_ADDRSTRLEN]; /* canonical text */
        uint16_t host_port;
        uint16_t port; /* inside the sandbox */
        bool udp;
} PortForward;

#define NETWORK_MAX_DNS 3          /* resolv.conf's MAXNS */
#define NETWORK_MAX_PASTA_PORTS 64 /* --publish with pasta: the argument vector csand builds */

/* The options, part of the plan. Whether the sandbox has a network
 * namespace of its own is the plan's unshare_net (--unshare-net,
 * --share-net, and --network, which sets it): the functions below take it
 * alongside. */
typedef struct NetworkSettings {
        NetworkMode mode;     /* --network; NETWORK_UNSET: unshare_net decides */
        PortForward *publish; /* --publish */
        size_t n_publish;
        bool allow_host_loopback;                    /* --allow-host-loopback */
        char dns[NETWORK_MAX_DNS][INET6_ADDRSTRLEN]; /* --dns */
        size_t n_dns;
        /* With a helper, /etc/resolv.conf is made from the host's rather
         * than from the sandbox's own (set by --image unless the user
         * mounts /etc/resolv.conf or /etc). */
        bool resolv_conf_from_host;
} NetworkSettings;

void network_settings_done(NetworkSettings *s);
/* Was any network option given (the mode, --publish, --dns,
 * --allow-host-loopback)? */
bool network_settings_given(const NetworkSettings *s);

/* The monitor's record of a running helper. */
typedef struct NetworkState NetworkState;

/* The slirp4netns and pasta addresses the sandbox sees. */
#define SLIRP4NETNS_GATEWAY "10.0.2.2"
#define SLIRP4NETNS_DNS "10.0.2.3"
#define PASTA_DNS_FORWARD "169.254.1.1"

/* Brings "lo" up in the current network namespace; the kernel then gives it
 * 127.0.0.1 and ::1 by itself. */
int network_loopback_up(void);

/* The network's rows of the option table (options.c assembles it): ROW(name,
 * metavars, which NetworkOption, help). */
typedef enum NetworkOption {
        NETWORK_OPTION_MODE,
        NETWORK_OPTION_PUBLISH,
        NETWORK_OPTION_ALLOW_HOST_LOOPBACK,
        NETWORK_OPTION_DNS,
} NetworkOption;

#define NETWORK_OPTIONS(ROW)                                                                                                 \
        ROW("--network", "MODE", NETWORK_OPTION_MODE,                                                                        \
            "none (own namespace, loopback only), host (the caller's), slirp4netns or pasta (user-mode networking)")         \
        ROW("--publish", "[IP:]HOSTPORT:PORT[/tcp|/udp]", NETWORK_OPTION_PUBLISH,                                            \
            "Forward host port HOSTPORT (on IP, default 127.0.0.1) to PORT in the sandbox (slirp4netns, pasta; repeatable)") \
        ROW("--allow-host-loopback", NULL, NETWORK_OPTION_ALLOW_HOST_LOOPBACK,                                               \
            "Let the sandbox reach the host's 127.0.0.1 through the gateway address (slirp4netns, pasta)")                   \
        ROW("--dns", "IP", NETWORK_OPTION_DNS, "Nameserver for the sandbox's resolv.conf (slirp4netns, pasta; repeatable, up to 3)")

/* Option handler for the rows above (VALUE is NULL for
 * --allow-host-loopback). --network sets *UNSHARE_NET as --unshare-net or
 * --share-net would. */
int network_settings_parse(NetworkSettings *s, bool *unshare_net, NetworkOption which, const char *value, Error *e);
/* Parses one --publish value. */
int network_parse_publish(const char *value, PortForward *ret, Error *e);

/* Option combinations (part of plan_validate). Pure. USERNS_GIVEN: --userns. */
int network_validate(const NetworkSettings *s, bool unshare_net, bool userns_given, Error *e);

/* The mode in effect: --network, or what --unshare-net/--share-net chose. */
NetworkMode network_mode(const NetworkSettings *s, bool unshare_net);
const char *network_mode_to_string(NetworkMode m);
/* slirp4netns or pasta? */
bool network_uses_helper(const NetworkSettings *s, bool unshare_net);
/* The nameserver the sandbox's lookups go to: the first --dns, else the
 * helper's forwarder. */
const char *network_resolver(const NetworkSettings *s, bool unshare_net);

/* "network" and, with a helper, "published-ports" members for the
 * --info-fd/--json-status-fd JSON object: ",\n    \"network\": ...", or
 * ", \"network\": ..." with ONE_LINE (JSON lines). */
void network_write_status_json(const NetworkSettings *s, bool unshare_net, FILE *f, bool one_line);

/* Monitor, at the gate, once the child has said its id maps are written:
 * starts the helper for CHILD's network namespace NETNS_FD (as the child
 * sent it: its /proc/PID/ns is not ours to open), waits until the
 * interface is configured, publishes the ports. Returns 1 with the helper
 * in *RET; 0 with nothing started (no helper asked for, or the child is
 * gone: its report says why). */
int network_start(const NetworkSettings *s, bool unshare_net, pid_t child, int netns_fd, NetworkState **ret, Error *e);
/* The user namespace that owns the sandbox's network namespace, the one
 * the helper joined (-EBADF: ours): utils/egress.c's guard joins it too. */
int network_state_userns_fd(const NetworkState *s);
/* Has the child died (of a setup error, which its report explains better
 * than anything that failed after it)? */
bool network_state_child_gone(const NetworkState *s);
/* Monitor, when the sandbox is over: stops and reaps the helper. */
NetworkState *network_state_free(NetworkState *s);

/* Child, in the sandbox's network namespace, before it lets the helper
 * start (GATE_MAPS): makes slirp4netns' tap device there, persistent, for
 * slirp4netns to attach to. A tap device that is not persistent is
 * unregistered by the close() of its last fd, in the helper's exit, which
 * the monitor waits for (~15 ms here: the kernel waits for RCU grace
 * periods); a persistent one goes with the network namespace, in the
 * kernel's own time, after csand is done. Best effort: where it fails,
 * slirp4netns makes the device itself, as before. */
void network_prepare_interface(const NetworkSettings *s, bool unshare_net);

/* Child, after the mount ops and before pivot_root: with user-mode
 * networking, mounts a generated /etc/resolv.conf when --dns is given or
 * when the sandbox's resolv.conf names a loopback nameserver (which the
 * sandbox cannot reach): it then points to the helper's DNS forwarder.
 * With s->resolv_conf_from_host (images), always, made from the host's
 * resolv.conf by the same rules (only the forwarder when it has none).
 * SCRATCH_FD: where its file is written, as mount_data_file()'s BASE_FD. */
int network_setup_resolv_conf(const NetworkSettings *s, bool unshare_net, int root_fd, int scratch_fd, Error *e);
