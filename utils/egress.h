/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* Egress by name (--allow-host, --allow-udp, --add-host, --quiet) for the
 * user-mode networks (utils/network.c).
 *
 * Enforced inside the sandbox's network namespace, where the command has no
 * capability: once slirp4netns or pasta is up, the monitor forks the guard,
 * a process that joins the sandbox's user and network namespaces, installs
 * static netfilter rules (one nf_tables transaction over netlink) and stays
 * there, outside the sandbox's mount and pid namespaces, undumpable, with
 * CAP_NET_ADMIN only (for SO_MARK). The rules send new TCP connections to
 * the guard's relay and DNS queries (UDP port 53, to any server) to its DNS
 * proxy; they let through only the guard's own marked sockets, the
 * --allow-udp destinations and loopback, and reject everything else (TCP
 * with a reset, the rest with ICMP port unreachable), IPv6 alike. The DNS
 * proxy answers allowed names (forwarding to the helper's resolver, or
 * --dns) and NXDOMAIN otherwise; the relay lets a connection through when
 * its original destination is an address an allowed lookup (or --add-host)
 * returned and the name the client shows (TLS SNI, HTTP Host), if any, is
 * allowed too. The man page, "Egress by name", says what this does not
 * cover. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "log.h"

typedef struct EgressRule {
        char *host;    /* lower case; for a wildcard without "*." */
        bool wildcard; /* *.example.org: names below host */
        int family;    /* an IP literal: AF_INET/AF_INET6, else 0 */
        unsigned char addr[16];
        uint16_t port; /* 0: any */
} EgressRule;

typedef struct EgressHost {
        char *name;
        int family;
        unsigned char addr[16];
} EgressHost;

typedef struct EgressSettings {
        EgressRule *allow; /* --allow-host */
        size_t n_allow;
        EgressRule *udp; /* --allow-udp */
        size_t n_udp;
        EgressHost *hosts; /* --add-host */
        size_t n_hosts;
        bool quiet;        /* --quiet: denials not on stderr */
        const char *first; /* the first egress option given, for messages */
} EgressSettings;

/* Which of the rows below an option is (options.c dispatches by it). */
typedef enum EgressOption {
        EGRESS_OPTION_ALLOW_HOST,
        EGRESS_OPTION_ALLOW_UDP,
        EGRESS_OPTION_ADD_HOST,
        EGRESS_OPTION_QUIET,
} EgressOption;

/* Rows of options.c's table: ROW(name, metavars, which EgressOption, help). */
#define EGRESS_OPTIONS(ROW)                                                                                           \
        ROW("--allow-host", "HOST[:PORT]", EGRESS_OPTION_ALLOW_HOST,                                                  \
            "Let the sandbox reach only these hosts (*.example.org: names below it; repeatable; slirp4netns, pasta)") \
        ROW("--allow-udp", "HOST:PORT", EGRESS_OPTION_ALLOW_UDP,                                                      \
            "Let the sandbox send UDP to HOST:PORT (with --allow-host; repeatable)")                                  \
        ROW("--add-host", "NAME:IP", EGRESS_OPTION_ADD_HOST,                                                          \
            "Resolve NAME to IP in the sandbox, without DNS (repeatable; slirp4netns, pasta)")                        \
        ROW("--quiet", NULL, EGRESS_OPTION_QUIET, "Do not report denied network destinations on stderr")

typedef struct Egress Egress;

/* Option handler for the rows above (VALUE is NULL for --quiet). */
int egress_settings_parse(EgressSettings *s, EgressOption which, const char *value, Error *e);
void egress_settings_done(EgressSettings *s);
/* Is traffic filtered (--allow-host or --allow-udp given)? */
bool egress_enabled(const EgressSettings *s);

/* Option combinations (part of plan_validate). Pure. USES_HELPER: is the
 * network slirp4netns or pasta; CAPS: the capabilities the command keeps. */
int egress_validate(const EgressSettings *s, bool uses_helper, uint64_t caps, Error *e);

/* Monitor, once the helper is up (sandbox.c starts it after
 * network_start()): starts the guard in the sandbox's network namespace
 * (NETNS_FD; USERNS_FD its owner, or -1 when that is ours) and returns
 * when the rules are in place. RESOLVER: where allowed lookups go
 * (network_resolver()); STATUS_FD: --json-status-fd, for denials, or -1.
 * *RET is NULL without filtering. */
int egress_start(const EgressSettings *s, const char *resolver, int status_fd, int netns_fd, int userns_fd,
                 Egress **ret, Error *e);
Egress *egress_free(Egress *g);

/* Child, before pivot_root: with --add-host, an /etc/hosts holding the
 * sandbox's own entries and these (written under SCRATCH_FD, as
 * mount_data_file()'s BASE_FD). */
int egress_setup_hosts(const EgressSettings *s, int root_fd, int scratch_fd, Error *e);
