/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* The sandbox's network: loopback, and user-mode networking through
 * slirp4netns or pasta (--network, --publish, --allow-host-loopback, --dns).
 *
 * The user-mode helper runs outside the sandbox with the user's rights and
 * is attached to the sandbox's network namespace by the monitor, between
 * clone and exec (network_start(), at the monitor's gate): the command only
 * starts once the interface is configured and the ports are published. It
 * is stopped when the sandbox ends (network_stop()), and dies with csand if
 * csand is killed (slirp4netns: --exit-fd; both: PR_SET_PDEATHSIG, pasta
 * kept in the foreground so that the signal reaches it). */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"

typedef enum NetworkMode {
        NETWORK_UNSET,          /* --unshare-net / --share-net decide */
        NETWORK_NONE,           /* own namespace, loopback only */
        NETWORK_HOST,           /* the caller's namespace */
        NETWORK_SLIRP4NETNS,
        NETWORK_PASTA,
        _NETWORK_MODE_MAX,
} NetworkMode;

/* --publish [IP:]HOSTPORT:PORT[/tcp|/udp] */
typedef struct PortForward {
        int family;                     /* AF_INET or AF_INET6 (of host_ip) */
        char host_ip[INET6_ADDRSTRLEN]; /* canonical text */
        uint16_t host_port;
        uint16_t port;                  /* inside the sandbox */
        bool udp;
} PortForward;

#define NETWORK_MAX_DNS 3               /* resolv.conf's MAXNS */

/* The monitor's record of a running helper. */
typedef struct NetworkState NetworkState;

struct SandboxPlan;

/* The slirp4netns and pasta addresses the sandbox sees. */
#define SLIRP4NETNS_GATEWAY "10.0.2.2"
#define SLIRP4NETNS_DNS "10.0.2.3"
#define PASTA_DNS_FORWARD "169.254.1.1"

/* Brings "lo" up in the current network namespace; the kernel then gives it
 * 127.0.0.1 and ::1 by itself. */
int network_loopback_up(void);

/* Option handlers: --network, --publish, --dns (the option name in OPTION). */
int network_parse_option(struct SandboxPlan *p, const char *option, const char *value, Error *e);
/* Parses one --publish value. */
int network_parse_publish(const char *value, PortForward *ret, Error *e);

/* Option combinations (part of plan_validate). Pure. */
int network_validate(const struct SandboxPlan *p, Error *e);

/* The mode in effect: --network, or what --unshare-net/--share-net chose. */
NetworkMode network_mode(const struct SandboxPlan *p);
const char *network_mode_to_string(NetworkMode m);
/* slirp4netns or pasta? */
bool network_uses_helper(const struct SandboxPlan *p);

/* "network" and, with a helper, "published-ports" members for the
 * --info-fd/--json-status-fd JSON object: ",\n    \"network\": ...", or
 * ", \"network\": ..." with ONE_LINE (JSON lines). */
void network_write_status_json(const struct SandboxPlan *p, FILE *f, bool one_line);

/* Monitor, at the gate, once the child has said its id maps are written:
 * starts the helper for CHILD's network namespace NETNS_FD (as the child
 * sent it: its /proc/PID/ns is not ours to open), waits
 * until the interface is configured, publishes the ports. The state goes
 * to p->network_state. */
int network_start(struct SandboxPlan *p, pid_t child, int netns_fd, Error *e);
/* Monitor, when the sandbox is over: stops and reaps the helper. */
void network_stop(struct SandboxPlan *p);
NetworkState *network_state_free(NetworkState *s);

/* A file NAME holding DATA, as a detached mount: a file on a private tmpfs
 * that no path leads to, cloned with open_tree(). */
int network_data_file_mount(const char *name, const char *data, int *ret_fd);

/* Child, after the mount ops and before pivot_root: with user-mode
 * networking, mounts a generated /etc/resolv.conf when --dns is given or
 * when the sandbox's resolv.conf names a loopback nameserver (which the
 * sandbox cannot reach): it then points to the helper's DNS forwarder.
 * With p->resolv_conf_from_host (images), always, made from the host's
 * resolv.conf by the same rules (only the forwarder when it has none).
 * With --add-host, /etc/hosts too (utils/egress.c). */
int network_setup_resolv_conf(const struct SandboxPlan *p, int *root_fd, Error *e);
