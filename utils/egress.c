/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "egress.h"
#include "fd-util.h"
#include "fs-util.h"
#include "helpers.h"
#include "macro.h"
#include "mount-util.h"
#include "network.h"
#include "parse-util.h"

#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

/* The guard's own sockets carry this mark; the rules let them through. */
#define GUARD_MARK 0x63736e64u
#define GUARD_READY_TIMEOUT_MS 10000
#define RELAY_BUF (64 * 1024)
#define PEEK_MAX (16 * 1024 + 5) /* a TLS record, or an HTTP head */
#define MAX_CONNS 512
#define MAX_QUERIES 128
#define DNS_TIMEOUT_MS 5000
/* The NFLOG group the rules send refused UDP and ICMP to: the sandbox's
 * network namespace is its own, so any number will do. */
#define LOG_GROUP 1
#define LOG_SNAPLEN 64 /* an IPv6 header and a UDP header */

struct Egress {
        Helper *guard;
        int stop_fd; /* closed: the guard reports what is left and exits */
};

/* How long the guard may take to report the last refused packets. */
#define GUARD_STOP_TIMEOUT_MS 2000

/* ---- options ---- */

bool egress_enabled(const EgressSettings *s) {
        return s->n_allow > 0 || s->n_udp > 0;
}

static void rule_done(EgressRule *r) {
        free(r->host);
}

void egress_settings_done(EgressSettings *s) {
        for (size_t i = 0; i < s->n_allow; i++)
                rule_done(&s->allow[i]);
        for (size_t i = 0; i < s->n_udp; i++)
                rule_done(&s->udp[i]);
        for (size_t i = 0; i < s->n_hosts; i++)
                free(s->hosts[i].name);
        free(s->allow);
        free(s->udp);
        free(s->hosts);
        *s = (EgressSettings) {};
}

/* A DNS name: labels of letters, digits, '-' and '_' (1-63 each, not
 * starting or ending with '-'), 253 characters at most; a trailing dot is
 * dropped. Lower-cases it in place. */
static bool valid_name(char *s) {
        size_t len = strlen(s);
        if (len > 0 && s[len - 1] == '.')
                s[--len] = '\0';
        if (len == 0 || len > 253)
                return false;
        size_t label = 0;
        for (char *c = s;; c++) {
                if (*c == '.' || *c == '\0') {
                        if (label == 0 || label > 63 || c[-1] == '-' || c[-(ptrdiff_t) label] == '-')
                                return false;
                        if (*c == '\0')
                                return true;
                        label = 0;
                        continue;
                }
                if (!isalnum((unsigned char) *c) && *c != '-' && *c != '_')
                        return false;
                *c = (char) tolower((unsigned char) *c);
                label++;
        }
}

static int parse_ip(const char *s, int *ret_family, unsigned char *addr) {
        if (inet_pton(AF_INET, s, addr) == 1) {
                *ret_family = AF_INET;
                return 0;
        }
        if (inet_pton(AF_INET6, s, addr) == 1) {
                *ret_family = AF_INET6;
                return 0;
        }
        return -EINVAL;
}

static int parse_port_of(const char *option, const char *value, const char *s, uint16_t *ret, Error *e) {
        int r = parse_port(s, ret);
        if (r == -ERANGE)
                return error_setf(e, ERANGE, "%s %s: port %s is out of range (1-65535)", option, value, s);
        if (r < 0)
                return error_setf(e, EINVAL, "%s %s: not a port number: \"%s\"", option, value, s);
        return 0;
}

/* HOST[:PORT], HOST a name, *.name, IPv4, IPv6 or [IPv6]. */
static int parse_rule(const char *option, const char *value, bool port_required, EgressRule *ret, Error *e) {
        _cleanup_free_ char *copy = strdup(value);
        EgressRule r = {};
        char *host = copy, *port = NULL;

        if (!copy)
                return -ENOMEM;
        if (copy[0] == '[') {
                char *close = strchr(copy, ']');
                if (!close || (close[1] != '\0' && close[1] != ':'))
                        return error_setf(e, EINVAL, "%s %s: expected [IPv6 address]:PORT", option, value);
                *close = '\0';
                host = copy + 1;
                port = close[1] ? close + 2 : NULL;
                if (parse_ip(host, &r.family, r.addr) < 0 || r.family != AF_INET6)
                        return error_setf(e, EINVAL, "%s %s: invalid IPv6 address \"%s\"", option, value, host);
        } else if (strchr(copy, ':') && strchr(copy, ':') == strrchr(copy, ':')) {
                port = strchr(copy, ':');
                *port++ = '\0';
        }
        if (port) {
                int k = parse_port_of(option, value, port, &r.port, e);
                if (k < 0)
                        return k;
        } else if (port_required)
                return error_setf(e, EINVAL, "%s %s: expected HOST:PORT", option, value);

        if (r.family == 0 && parse_ip(host, &r.family, r.addr) < 0) {
                r.family = 0;
                if (strncmp(host, "*.", 2) == 0) {
                        r.wildcard = true;
                        host += 2;
                }
                if (!valid_name(host))
                        return error_setf(e, EINVAL, "%s %s: not a host name%s or IP address", option, value,
                                          port_required ? "" : ", wildcard (*.example.org)");
                if (r.wildcard && port_required)
                        return error_setf(e, EINVAL, "%s %s: wildcards are for --allow-host", option, value);
        }
        r.host = strdup(host);
        if (!r.host)
                return -ENOMEM;
        *ret = r;
        return 0;
}

static int parse_add_host(const char *value, EgressHost *ret, Error *e) {
        _cleanup_free_ char *copy = strdup(value);
        EgressHost h = {};
        if (!copy)
                return -ENOMEM;
        char *ip = strchr(copy, ':');
        if (!ip)
                return error_setf(e, EINVAL, "--add-host %s: expected NAME:IP", value);
        *ip++ = '\0';
        size_t len = strlen(ip);
        if (len > 2 && ip[0] == '[' && ip[len - 1] == ']') {
                ip[len - 1] = '\0';
                ip++;
        }
        if (!valid_name(copy))
                return error_setf(e, EINVAL, "--add-host %s: not a host name: \"%s\"", value, copy);
        if (parse_ip(ip, &h.family, h.addr) < 0)
                return error_setf(e, EINVAL, "--add-host %s: invalid IP address \"%s\"", value, ip);
        h.name = strdup(copy);
        if (!h.name)
                return -ENOMEM;
        *ret = h;
        return 0;
}

#define APPEND(array, n, item)                                                       \
        ({                                                                           \
                typeof(array) _a = reallocarray((array), (n) + 1, sizeof(*(array))); \
                if (_a) {                                                            \
                        (array) = _a;                                                \
                        (array)[(n)++] = (item);                                     \
                }                                                                    \
                _a ? 0 : -ENOMEM;                                                    \
        })

/* The options' names, from their rows: for messages. */
#define EGRESS_OPTION_NAME(n, m, which, h) [which] = n,
static const char *const egress_option_names[] = { EGRESS_OPTIONS(EGRESS_OPTION_NAME) };

int egress_settings_parse(EgressSettings *s, EgressOption which, const char *value, Error *e) {
        const char *option = egress_option_names[which];
        int r;
        if (which == EGRESS_OPTION_QUIET) {
                s->quiet = true;
                return 0;
        }
        if (!s->first)
                s->first = option;
        if (which == EGRESS_OPTION_ADD_HOST) {
                EgressHost h;
                r = parse_add_host(value, &h, e);
                if (r < 0)
                        return r;
                r = APPEND(s->hosts, s->n_hosts, h);
                if (r < 0)
                        free(h.name);
                return r;
        }
        bool udp = which == EGRESS_OPTION_ALLOW_UDP;
        EgressRule rule;
        r = parse_rule(option, value, udp, &rule, e);
        if (r < 0)
                return r;
        r = udp ? APPEND(s->udp, s->n_udp, rule) : APPEND(s->allow, s->n_allow, rule);
        if (r < 0)
                rule_done(&rule);
        return r;
}

int egress_validate(const EgressSettings *s, bool uses_helper, uint64_t caps, Error *e) {
        if (!s->first)
                return 0;
        if (!uses_helper)
                return error_setf(e, EINVAL, "%s needs user-mode networking: --network slirp4netns or --network pasta",
                                  s->first);
        if (!egress_enabled(s))
                return 0;
        /* Either would let the command change the rules or mark its
         * packets as the guard's. */
        static const int forbidden[] = { CAP_NET_ADMIN, CAP_NET_RAW };
        for (size_t i = 0; i < ELEMENTSOF(forbidden); i++)
                if (caps & (UINT64_C(1) << forbidden[i]))
                        return error_setf(e, EINVAL,
                                          "%s cannot be combined with --cap-add %s: the command could change or step around the rules",
                                          s->first, forbidden[i] == CAP_NET_ADMIN ? "CAP_NET_ADMIN" : "CAP_NET_RAW");
        return 0;
}

/* ---- names and addresses ---- */

static bool rule_matches_name(const EgressRule *r, const char *name) {
        if (r->family != 0)
                return false;
        if (!r->wildcard)
                return strcmp(r->host, name) == 0;
        size_t n = strlen(name), h = strlen(r->host);
        return n > h + 1 && name[n - h - 1] == '.' && strcmp(name + n - h, r->host) == 0;
}

/* May NAME be looked up? (Any port: the relay checks the port.) */
static bool name_allowed(const EgressSettings *s, const char *name) {
        for (size_t i = 0; i < s->n_allow; i++)
                if (rule_matches_name(&s->allow[i], name))
                        return true;
        for (size_t i = 0; i < s->n_udp; i++)
                if (rule_matches_name(&s->udp[i], name))
                        return true;
        return false;
}

static bool name_allowed_tcp(const EgressSettings *s, const char *name, uint16_t port) {
        for (size_t i = 0; i < s->n_allow; i++)
                if (rule_matches_name(&s->allow[i], name) && (s->allow[i].port == 0 || s->allow[i].port == port))
                        return true;
        return false;
}

static bool literal_allowed_tcp(const EgressSettings *s, int family, const unsigned char *addr, uint16_t port) {
        size_t len = family == AF_INET ? 4 : 16;
        for (size_t i = 0; i < s->n_allow; i++) {
                const EgressRule *r = &s->allow[i];
                if (r->family == family && memcmp(r->addr, addr, len) == 0 && (r->port == 0 || r->port == port))
                        return true;
        }
        return false;
}

/* ---- the rules ---- */

/* The --allow-udp destinations, resolved once, by the monitor: literals,
 * --add-host names, else the host's resolver. */
typedef struct UdpDest {
        int family;
        char ip[INET6_ADDRSTRLEN];
        uint16_t port;
} UdpDest;

static int add_udp_dest(UdpDest **d, size_t *n, int family, const void *addr, uint16_t port) {
        UdpDest u = { .family = family, .port = port };
        inet_ntop(family, addr, u.ip, sizeof(u.ip));
        return APPEND(*d, *n, u);
}

static int resolve_udp(const EgressSettings *s, UdpDest **ret, size_t *ret_n, Error *e) {
        UdpDest *d = NULL;
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; i < s->n_udp && r >= 0; i++) {
                const EgressRule *u = &s->udp[i];
                bool found = false;
                if (u->family) {
                        r = add_udp_dest(&d, &n, u->family, u->addr, u->port);
                        continue;
                }
                for (size_t j = 0; j < s->n_hosts && r >= 0; j++)
                        if (strcmp(s->hosts[j].name, u->host) == 0) {
                                r = add_udp_dest(&d, &n, s->hosts[j].family, s->hosts[j].addr, u->port);
                                found = true;
                        }
                if (found)
                        continue;
                struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
                int k = getaddrinfo(u->host, NULL, &hints, &res);
                if (k != 0) {
                        free(d);
                        return error_setf(e, EHOSTUNREACH, "--allow-udp %s:%u: can't resolve %s: %s", u->host, u->port,
                                          u->host, gai_strerror(k));
                }
                for (struct addrinfo *a = res; a && r >= 0; a = a->ai_next) {
                        if (a->ai_family == AF_INET)
                                r = add_udp_dest(&d, &n, AF_INET, &((struct sockaddr_in *) a->ai_addr)->sin_addr, u->port);
                        else if (a->ai_family == AF_INET6)
                                r = add_udp_dest(&d, &n, AF_INET6, &((struct sockaddr_in6 *) a->ai_addr)->sin6_addr, u->port);
                }
                freeaddrinfo(res);
        }
        if (r < 0) {
                free(d);
                return error_setf(e, ENOMEM, "Out of memory");
        }
        *ret = d;
        *ret_n = n;
        return 0;
}

/* ---- the guard ---- */

typedef struct Learned {
        int family;
        unsigned char addr[16];
        char name[254];
} Learned;

/* Where a DNS reply goes: back over the proxy's UDP socket LISTEN to
 * ADDR, or (DNS over TCP) into the relay's connection with the id CONN. */
typedef struct DnsClient {
        int listen;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        uint64_t conn; /* 0: UDP */
} DnsClient;

typedef struct Query {
        int fd; /* to the resolver; -1: free slot */
        DnsClient client;
        uint16_t id;          /* the client's */
        uint16_t upstream_id; /* ours, random: the command knows the client's */
        char name[256];
        long long deadline;
} Query;

typedef struct Buf {
        size_t len, off;
        unsigned char data[RELAY_BUF];
} Buf;

typedef struct Conn {
        int in, out;            /* the sandbox's side, the relay's connection out */
        bool connected;         /* out has connected */
        bool checked;           /* the client's first bytes were looked at */
        bool in_eof, out_eof;   /* read end-of-file from in / out */
        bool in_shut, out_shut; /* shut down writing to in / out */
        int family;
        unsigned char addr[16];
        uint16_t port;
        Buf *up, *down;   /* in -> out, out -> in */
        uint64_t id;      /* unique, for the DNS replies it waits for */
        bool dns;         /* DNS over TCP: the guard answers, out is -1 */
        unsigned pending; /* DNS: questions sent on to the resolver */
} Conn;

typedef struct Guard {
        const EgressSettings *settings;
        int listen[4]; /* TCP v4, TCP v6, UDP v4, UDP v6; -1 when absent */
        struct sockaddr_storage resolver;
        socklen_t resolver_len;
        int status_fd; /* --json-status-fd, or -1 */
        int log_fd;    /* NFLOG: the refused UDP and ICMP; -1 if none */
        int stop_fd;   /* end-of-file: the sandbox has ended */
        Learned *learned;
        size_t n_learned;
        char **reported;
        size_t n_reported;
        char **packets; /* "PROTOCOL HOST PORT" of refused packets seen */
        size_t n_packets;
        Query queries[MAX_QUERIES];
        Conn *conns[MAX_CONNS];
        uint64_t last_conn_id;
} Guard;

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A denial: on stderr once per host (unless --quiet), on --json-status-fd
 * every time. HOST is a checked name or an address: no escaping needed. */
static void report_denial(Guard *g, const char *host, uint16_t port, const char *protocol) {
        bool seen = false;
        for (size_t i = 0; i < g->n_reported && !seen; i++)
                seen = strcmp(g->reported[i], host) == 0;
        if (!seen) {
                char *copy = strdup(host);
                if (copy && APPEND(g->reported, g->n_reported, copy) < 0)
                        free(copy);
                if (!g->settings->quiet) {
                        if (strcmp(protocol, "dns") == 0)
                                log_error("network: denied DNS lookup of %s (not allowed by --allow-host)", host);
                        else if (strcmp(protocol, "tcp") == 0)
                                log_error("network: denied TCP to %s port %u (not allowed by --allow-host)", host, port);
                        else if (strcmp(protocol, "udp") == 0)
                                log_error("network: denied UDP to %s port %u (not allowed by --allow-udp)", host, port);
                        else
                                log_error("network: denied ICMP to %s", host);
                }
        }
        if (g->status_fd >= 0) {
                char line[512], when[32];
                struct timespec ts;
                struct tm tm;
                clock_gettime(CLOCK_REALTIME, &ts);
                gmtime_r(&ts.tv_sec, &tm);
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                int n = snprintf(line, sizeof(line),
                                 "{ \"network-denied\": { \"host\": \"%s\", \"port\": %u, \"protocol\": \"%s\", \"time\": \"%s\" } }\n",
                                 host, port, protocol, when);
                if (n > 0 && (size_t) n < sizeof(line))
                        (void) write_all(g->status_fd, line, (size_t) n);
        }
}

/* ---- refused packets (NFLOG) ---- */

/* A refused packet, from its network header: reported once per protocol,
 * address and port (a program that retries or floods would otherwise fill
 * --json-status-fd). */
static void report_packet(Guard *g, const unsigned char *p, size_t len) {
        char host[INET6_ADDRSTRLEN], key[INET6_ADDRSTRLEN + 16];
        size_t l4;
        unsigned proto;

        if (len >= 20 && p[0] >> 4 == 4) {
                l4 = (size_t) (p[0] & 15) * 4;
                proto = p[9];
                inet_ntop(AF_INET, p + 16, host, sizeof(host));
        } else if (len >= 40 && p[0] >> 4 == 6) {
                l4 = 40; /* the rules log no packet with extension headers */
                proto = p[6];
                inet_ntop(AF_INET6, p + 24, host, sizeof(host));
        } else
                return;
        bool udp = proto == IPPROTO_UDP;
        if (!udp && proto != IPPROTO_ICMP && proto != IPPROTO_ICMPV6)
                return;
        if (udp && l4 + 4 > len)
                return;
        uint16_t port = udp ? (uint16_t) (p[l4 + 2] << 8 | p[l4 + 3]) : 0;
        snprintf(key, sizeof(key), "%s %s %u", udp ? "udp" : "icmp", host, port);
        for (size_t i = 0; i < g->n_packets; i++)
                if (strcmp(g->packets[i], key) == 0)
                        return;
        char *copy = strdup(key);
        if (copy && APPEND(g->packets, g->n_packets, copy) < 0)
                free(copy);
        report_denial(g, host, port, udp ? "udp" : "icmp");
}

static void log_read(Guard *g) {
        union {
                unsigned char buf[8192];
                struct nlmsghdr h;
        } m;

        for (;;) {
                ssize_t n = recv(g->log_fd, m.buf, sizeof(m.buf), MSG_DONTWAIT);
                /* ENOBUFS: the kernel dropped some; go on with the rest. */
                if (n < 0 && errno == ENOBUFS)
                        continue;
                if (n <= 0)
                        return;
                for (struct nlmsghdr *h = &m.h; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_type != (NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET) ||
                            h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
                                continue;
                        size_t off = NLMSG_ALIGN(sizeof(struct nfgenmsg)), end = h->nlmsg_len - NLMSG_HDRLEN;
                        const unsigned char *d = NLMSG_DATA(h);
                        while (off + NLA_HDRLEN <= end) {
                                const struct nlattr *a = (const struct nlattr *) (d + off);
                                if (a->nla_len < NLA_HDRLEN || off + a->nla_len > end)
                                        break;
                                if ((a->nla_type & NLA_TYPE_MASK) == NFULA_PAYLOAD)
                                        report_packet(g, d + off + NLA_HDRLEN, a->nla_len - NLA_HDRLEN);
                                off += NLA_ALIGN(a->nla_len);
                        }
                }
        }
}

static void learn(Guard *g, int family, const unsigned char *addr, const char *name) {
        size_t len = family == AF_INET ? 4 : 16;
        for (size_t i = 0; i < g->n_learned; i++)
                if (g->learned[i].family == family && memcmp(g->learned[i].addr, addr, len) == 0 &&
                    strcmp(g->learned[i].name, name) == 0)
                        return;
        Learned l = { .family = family };
        memcpy(l.addr, addr, len);
        snprintf(l.name, sizeof(l.name), "%s", name);
        (void) APPEND(g->learned, g->n_learned, l);
}

/* The first name learned for the address (for messages), or NULL. */
static const char *learned_name(const Guard *g, int family, const unsigned char *addr) {
        size_t len = family == AF_INET ? 4 : 16;
        for (size_t i = 0; i < g->n_learned; i++)
                if (g->learned[i].family == family && memcmp(g->learned[i].addr, addr, len) == 0)
                        return g->learned[i].name;
        return NULL;
}

/* Did an allowed lookup (or --add-host) give this address, for a name
 * allowed on this port? Or is the address itself allowed? */
static bool address_allowed(const Guard *g, int family, const unsigned char *addr, uint16_t port) {
        size_t len = family == AF_INET ? 4 : 16;
        if (literal_allowed_tcp(g->settings, family, addr, port))
                return true;
        for (size_t i = 0; i < g->n_learned; i++)
                if (g->learned[i].family == family && memcmp(g->learned[i].addr, addr, len) == 0 &&
                    name_allowed_tcp(g->settings, g->learned[i].name, port))
                        return true;
        return false;
}

static int marked_socket(int family, int type) {
        int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        unsigned mark = GUARD_MARK;
        if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Closes FD with a reset rather than a FIN. */
static void reset_close(int fd) {
        struct linger l = { .l_onoff = 1, .l_linger = 0 };
        if (fd < 0)
                return;
        (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        close(fd);
}

/* ---- DNS ---- */

#define DNS_HEADER 12

/* The question's name (lower case, no trailing dot) and the offset after
 * the question; -1 for anything but one plain question. */
static int dns_question(const unsigned char *m, size_t len, char *name, size_t size, uint16_t *ret_type) {
        if (len < DNS_HEADER || (m[2] & 0x80) || ((m[4] << 8) | m[5]) != 1)
                return -1;
        size_t i = DNS_HEADER, out = 0;
        while (i < len && m[i] != 0) {
                size_t l = m[i];
                if (l > 63 || i + 1 + l >= len || out + l + 2 > size)
                        return -1;
                if (out > 0)
                        name[out++] = '.';
                /* A dot or a NUL inside a label would make the text we
                 * judge ("ok.test") another name than the resolver gets. */
                for (size_t k = 0; k < l; k++) {
                        unsigned char ch = m[i + 1 + k];
                        if (!isalnum(ch) && ch != '-' && ch != '_')
                                return -1;
                        name[out++] = (char) tolower(ch);
                }
                i += 1 + l;
        }
        if (i + 5 > len || out == 0)
                return -1;
        name[out] = '\0';
        if (!valid_name(name))
                return -1;
        *ret_type = (uint16_t) ((m[i + 1] << 8) | m[i + 2]);
        return (int) (i + 5);
}

/* A reply made from the query (header and question): RCODE, and the
 * --add-host addresses of the asked type as answers. */
static size_t dns_local_reply(const Guard *g, const unsigned char *q, int qend, const char *name, uint16_t type,
                              int rcode, unsigned char *out, size_t size) {
        if ((size_t) qend > size)
                return 0;
        memcpy(out, q, (size_t) qend);
        out[2] = 0x80 | (q[2] & 0x79); /* QR, opcode, RD */
        out[3] = 0x80 | (unsigned char) rcode;
        memset(out + 6, 0, 6); /* no answer, authority, additional */
        size_t n = (size_t) qend, answers = 0;
        for (size_t i = 0; rcode == 0 && i < g->settings->n_hosts; i++) {
                const EgressHost *h = &g->settings->hosts[i];
                size_t alen = h->family == AF_INET ? 4 : 16;
                if (strcmp(h->name, name) != 0 || type != (h->family == AF_INET ? 1 : 28) || n + 12 + alen > size)
                        continue;
                unsigned char rr[12] = { 0xc0, DNS_HEADER, 0, (unsigned char) type, 0, 1, 0, 0,
                                         0,    60,         0, (unsigned char) alen };
                memcpy(out + n, rr, sizeof(rr));
                memcpy(out + n + sizeof(rr), h->addr, alen);
                n += sizeof(rr) + alen;
                answers++;
        }
        out[7] = (unsigned char) answers;
        return n;
}

static bool is_added_host(const EgressSettings *s, const char *name) {
        for (size_t i = 0; i < s->n_hosts; i++)
                if (strcmp(s->hosts[i].name, name) == 0)
                        return true;
        return false;
}

static size_t skip_dns_name(const unsigned char *m, size_t len, size_t i) {
        while (i < len) {
                if ((m[i] & 0xc0) == 0xc0)
                        return i + 2;
                if (m[i] == 0)
                        return i + 1;
                i += 1 + m[i];
        }
        return len + 1;
}

/* The resolver's answer: its A and AAAA records are what NAME may reach. */
static void learn_from_answer(Guard *g, const unsigned char *m, size_t len, const char *name) {
        if (len < DNS_HEADER)
                return;
        unsigned qd = (unsigned) (m[4] << 8 | m[5]), an = (unsigned) (m[6] << 8 | m[7]);
        size_t i = DNS_HEADER;
        for (unsigned k = 0; k < qd && i <= len; k++)
                i = skip_dns_name(m, len, i) + 4;
        for (unsigned k = 0; k < an && i < len; k++) {
                i = skip_dns_name(m, len, i);
                if (i + 10 > len)
                        return;
                unsigned type = (unsigned) (m[i] << 8 | m[i + 1]);
                size_t rdlen = (size_t) (m[i + 8] << 8 | m[i + 9]);
                i += 10;
                if (i + rdlen > len)
                        return;
                if ((type == 1 && rdlen == 4) || (type == 28 && rdlen == 16))
                        learn(g, type == 1 ? AF_INET : AF_INET6, m + i, name);
                i += rdlen;
        }
}

static Conn *conn_by_id(Guard *g, uint64_t id) {
        for (size_t i = 0; i < MAX_CONNS; i++)
                if (g->conns[i] && g->conns[i]->id == id)
                        return g->conns[i];
        return NULL;
}

/* A reply to CLIENT: a datagram, or a length-prefixed message queued on
 * the TCP connection (dropped when it does not fit: the client asks
 * again). */
static void dns_reply(Guard *g, const DnsClient *client, const unsigned char *m, size_t len) {
        if (client->conn == 0) {
                (void) sendto(client->listen, m, len, MSG_DONTWAIT, (const struct sockaddr *) &client->addr, client->addr_len);
                return;
        }
        Conn *c = conn_by_id(g, client->conn);
        if (!c || len > 65535 || c->down->len + 2 + len > sizeof(c->down->data))
                return;
        c->down->data[c->down->len] = (unsigned char) (len >> 8);
        c->down->data[c->down->len + 1] = (unsigned char) len;
        memcpy(c->down->data + c->down->len + 2, m, len);
        c->down->len += 2 + len;
}

/* One DNS message M from CLIENT: answered here, or sent on to the
 * resolver (true: a reply will follow from dns_answer()). */
static bool dns_question_in(Guard *g, const unsigned char *m, size_t n, const DnsClient *client) {
        unsigned char out[4096];
        char name[256];
        uint16_t type;

        int qend = dns_question(m, n, name, sizeof(name), &type);
        if (qend < 0) {
                /* Not a question we can judge: refused (format error). */
                if (n >= DNS_HEADER) {
                        memcpy(out, m, DNS_HEADER);
                        out[2] = 0x80 | (m[2] & 0x79);
                        out[3] = 0x80 | 1;
                        memset(out + 4, 0, 8);
                        dns_reply(g, client, out, DNS_HEADER);
                }
                return false;
        }
        bool allowed = name_allowed(g->settings, name);
        if (!allowed || is_added_host(g->settings, name)) {
                if (!allowed)
                        report_denial(g, name, 53, "dns");
                size_t len = dns_local_reply(g, m, qend, name, type, allowed ? 0 : 3, out, sizeof(out));
                if (len > 0)
                        dns_reply(g, client, out, len);
                return false;
        }

        Query *q = NULL;
        for (size_t i = 0; i < MAX_QUERIES && !q; i++)
                if (g->queries[i].fd < 0)
                        q = &g->queries[i];
        if (!q)
                return false; /* the client retries */
        /* The resolver sees an id of ours: the client's is the command's
         * choice, and a reply that guessed it would be learned from. */
        unsigned char up[4096];
        uint16_t upstream_id;
        if (n > sizeof(up) || getrandom(&upstream_id, sizeof(upstream_id), 0) != sizeof(upstream_id))
                return false;
        memcpy(up, m, n);
        up[0] = (unsigned char) (upstream_id >> 8);
        up[1] = (unsigned char) upstream_id;
        int fd = marked_socket(g->resolver.ss_family, SOCK_DGRAM);
        if (fd < 0)
                return false;
        if (connect(fd, (struct sockaddr *) &g->resolver, g->resolver_len) < 0 || send(fd, up, n, 0) != (ssize_t) n) {
                close(fd);
                return false;
        }
        *q = (Query) {
                .fd = fd,
                .client = *client,
                .id = (uint16_t) (m[0] << 8 | m[1]),
                .upstream_id = upstream_id,
                .deadline = now_ms() + DNS_TIMEOUT_MS,
        };
        snprintf(q->name, sizeof(q->name), "%s", name);
        return true;
}

static void dns_query(Guard *g, int listen_fd) {
        unsigned char m[4096];
        DnsClient client = { .listen = listen_fd, .addr_len = sizeof(client.addr) };

        ssize_t n = recvfrom(listen_fd, m, sizeof(m), MSG_DONTWAIT, (struct sockaddr *) &client.addr, &client.addr_len);
        if (n > 0)
                (void) dns_question_in(g, m, (size_t) n, &client);
}

static void conn_free(Guard *g, size_t i, bool reset);

static void query_done(Guard *g, Query *q) {
        q->fd = safe_close(q->fd);
        for (size_t i = 0; q->client.conn && i < MAX_CONNS; i++) {
                Conn *c = g->conns[i];
                if (!c || c->id != q->client.conn)
                        continue;
                if (c->pending > 0)
                        c->pending--;
                /* Timed out, the client gone: nothing else would end it. */
                if (c->in_eof && c->pending == 0 && c->down->len == 0)
                        conn_free(g, i, false);
                break;
        }
}

static void dns_answer(Guard *g, Query *q) {
        unsigned char m[4096];
        ssize_t n = recv(q->fd, m, sizeof(m), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n >= DNS_HEADER && (uint16_t) (m[0] << 8 | m[1]) == q->upstream_id) {
                learn_from_answer(g, m, (size_t) n, q->name);
                m[0] = (unsigned char) (q->id >> 8);
                m[1] = (unsigned char) q->id;
                dns_reply(g, &q->client, m, (size_t) n);
        }
        query_done(g, q);
}

/* ---- the relay ---- */

/* What a client's first bytes show (shown_name()): 1 with a name, 0 when
 * there is none, -EAGAIN when more bytes are needed, -EBADMSG when they
 * show a name in a way the relay can't judge (two names, a NUL in one, a
 * TLS hello longer than it reads ahead): the connection is then reset, as
 * the server might take the name the relay did not see. */

/* The first handshake message of TLS records at the start of D, joined
 * into OUT (a client may split its hello over several records): its
 * length. */
static int tls_handshake(const unsigned char *d, size_t len, unsigned char *out, size_t size, size_t *ret_len) {
        size_t off = 0, n = 0;
        for (;;) {
                if (n >= 4) {
                        size_t need = 4 + (size_t) (out[1] << 16 | out[2] << 8 | out[3]);
                        if (need > size)
                                return -EBADMSG;
                        if (n >= need) {
                                *ret_len = need;
                                return 0;
                        }
                }
                if (len - off < 5)
                        return -EAGAIN;
                size_t rec = (size_t) (d[off + 3] << 8 | d[off + 4]);
                if (d[off] != 0x16 || d[off + 1] != 3 || rec == 0)
                        return -EBADMSG;
                if (off + 5 + rec > PEEK_MAX || n + rec > size)
                        return -EBADMSG;
                if (len - off < 5 + rec)
                        return -EAGAIN;
                memcpy(out + n, d + off + 5, rec);
                n += rec;
                off += 5 + rec;
        }
}

/* The server name of a ClientHello H (LEN bytes, complete): exactly one
 * server_name extension holding exactly one host_name, without NUL (as
 * OpenSSL takes it). */
static int hello_sni(const unsigned char *h, size_t len, char *name, size_t size) {
        const unsigned char *p = h + 4 + 2 + 32, *end = h + len;
        bool found = false;

        if (h[0] != 1)
                return 0;
        if (p + 1 > end)
                return -EBADMSG;
        p += 1 + p[0]; /* session id */
        if (p + 2 > end)
                return -EBADMSG;
        p += 2 + (p[0] << 8 | p[1]); /* cipher suites */
        if (p + 1 > end)
                return -EBADMSG;
        p += 1 + p[0]; /* compression */
        if (p == end)
                return 0; /* no extensions */
        if (p + 2 > end || p + 2 + (p[0] << 8 | p[1]) != end)
                return -EBADMSG;
        p += 2;
        while (p < end) {
                if (p + 4 > end)
                        return -EBADMSG;
                unsigned type = (unsigned) (p[0] << 8 | p[1]);
                size_t elen = (size_t) (p[2] << 8 | p[3]);
                p += 4;
                if (p + elen > end)
                        return -EBADMSG;
                if (type == 0) {
                        /* list length, type 0 (host_name), length, name */
                        size_t nlen = elen >= 5 ? (size_t) (p[3] << 8 | p[4]) : 0;
                        if (found || elen < 5 || (size_t) (p[0] << 8 | p[1]) != elen - 2 || p[2] != 0 ||
                            5 + nlen != elen || nlen == 0 || nlen + 1 > size || memchr(p + 5, 0, nlen))
                                return -EBADMSG;
                        memcpy(name, p + 5, nlen);
                        name[nlen] = '\0';
                        found = true;
                }
                p += elen;
        }
        return found;
}

static int tls_sni(const unsigned char *d, size_t len, char *name, size_t size) {
        unsigned char hello[PEEK_MAX];
        size_t n;
        /* Not a TLS record: no name. */
        if (len >= 2 && d[1] != 3)
                return 0;
        int r = tls_handshake(d, len, hello, sizeof(hello), &n);
        if (r < 0)
                return r;
        if (n < 4 + 2 + 32)
                return hello[0] == 1 ? -EBADMSG : 0;
        return hello_sni(hello, n, name, size);
}

/* The host of an HTTP authority ("name[:port]") at V, up to END or one
 * of STOP, into NAME (an IPv6 literal gives "[", no valid name). */
static int http_authority(const char *v, const char *end, const char *stop, char *name, size_t size) {
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        const char *e = v;
        while (e < end && !strchr(stop, *e))
                e++;
        if ((size_t) (e - v) + 1 > size)
                return -EBADMSG;
        memcpy(name, v, (size_t) (e - v));
        name[e - v] = '\0';
        return 1;
}

/* Records NAME (when R is 1) as the request's host: every name the
 * request shows must be the same one. */
static int http_same_host(int r, const char *name, char *host, size_t size, bool *found) {
        if (r <= 0)
                return r;
        if (*found)
                return strcasecmp(host, name) == 0 ? 1 : -EBADMSG;
        snprintf(host, size, "%s", name);
        *found = true;
        return 1;
}

/* An HTTP/1 request's host: its absolute-form target (which servers
 * prefer to Host) and every Host header must name the same one. */
static int http_host(const unsigned char *d, size_t len, char *name, size_t size) {
        const char *text = (const char *) d, *end = text + len;
        char shown[256];
        bool found = false;
        int r;

        /* Servers skip empty lines before the request line. */
        while (end - text >= 2 && text[0] == '\r' && text[1] == '\n')
                text += 2;
        size_t i = 0, rest = (size_t) (end - text);
        if (rest == 0 || (rest == 1 && text[0] == '\r'))
                return len < PEEK_MAX ? -EAGAIN : 0;
        while (i < rest && i < 16 && text[i] >= 'A' && text[i] <= 'Z')
                i++;
        if (i == 0 || (i < rest && text[i] != ' '))
                return 0;
        const char *head_end = memmem(text, rest, "\r\n\r\n", 4);
        if (!head_end)
                return len < PEEK_MAX ? -EAGAIN : 0;
        if (memchr(text, '\0', (size_t) (head_end - text)))
                return -EBADMSG;
        const char *line_end = memmem(text, rest, "\r\n", 2);
        const char *target = text + i + 1;
        const char *target_end = memchr(target, ' ', (size_t) (line_end - target)) ?: line_end;
        const char *scheme = memmem(target, (size_t) (target_end - target), "://", 3);
        if (scheme) {
                const char *auth = scheme + 3, *auth_end = auth;
                while (auth_end < target_end && !strchr("/?#", *auth_end))
                        auth_end++;
                if (memchr(auth, '@', (size_t) (auth_end - auth)))
                        return -EBADMSG;
                r = http_same_host(http_authority(auth, auth_end, ":", shown, sizeof(shown)), shown, name, size, &found);
                if (r < 0)
                        return r;
        }
        for (const char *l = line_end; l && l < head_end; l = memmem(l + 2, (size_t) (head_end - l), "\r\n", 2)) {
                const char *v = l + 2;
                if ((size_t) (head_end - v) < 5 || strncasecmp(v, "host:", 5) != 0)
                        continue;
                const char *v_end = memmem(v, (size_t) (head_end + 2 - v), "\r\n", 2);
                r = http_same_host(http_authority(v + 5, v_end, "\r: ", shown, sizeof(shown)), shown, name, size, &found);
                if (r < 0)
                        return r;
        }
        return found;
}

static int shown_name(const Buf *b, char *name, size_t size) {
        const unsigned char *d = b->data;
        if (b->len == 0)
                return -EAGAIN;
        if (d[0] == 0x16)
                return tls_sni(d, b->len, name, size);
        return http_host(d, b->len, name, size);
}

static void conn_free(Guard *g, size_t i, bool reset) {
        Conn *c = g->conns[i];
        if (reset) {
                reset_close(c->in);
                reset_close(c->out);
        } else {
                safe_close(c->in);
                safe_close(c->out);
        }
        free(c->up);
        free(c->down);
        free(c);
        g->conns[i] = NULL;
}

static void addr_text(int family, const unsigned char *addr, char *buf, size_t size) {
        inet_ntop(family, addr, buf, (socklen_t) size);
}

static void relay_accept(Guard *g, int listen_fd, int family) {
        union {
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } dst = {};
        socklen_t len = sizeof(dst);
        char text[INET6_ADDRSTRLEN];

        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return;
        if (getsockopt(fd, family == AF_INET ? SOL_IP : SOL_IPV6,
                       family == AF_INET ? SO_ORIGINAL_DST : IP6T_SO_ORIGINAL_DST, &dst, &len) < 0) {
                reset_close(fd);
                return;
        }
        const unsigned char *addr = family == AF_INET ? (const unsigned char *) &dst.in.sin_addr : dst.in6.sin6_addr.s6_addr;
        uint16_t port = ntohs(family == AF_INET ? dst.in.sin_port : dst.in6.sin6_port);
        /* DNS over TCP, to whatever server: answered as over UDP. */
        bool dns = port == 53;
        if (!dns && !address_allowed(g, family, addr, port)) {
                const char *name = learned_name(g, family, addr);
                addr_text(family, addr, text, sizeof(text));
                report_denial(g, name ?: text, port, "tcp");
                reset_close(fd);
                return;
        }
        size_t slot = MAX_CONNS;
        for (size_t i = 0; i < MAX_CONNS && slot == MAX_CONNS; i++)
                if (!g->conns[i])
                        slot = i;
        Conn *c = slot < MAX_CONNS ? calloc(1, sizeof(Conn)) : NULL;
        if (c) {
                c->up = malloc(sizeof(Buf));
                c->down = malloc(sizeof(Buf));
        }
        if (!c || !c->up || !c->down) {
                if (c) {
                        free(c->up);
                        free(c->down);
                }
                free(c);
                reset_close(fd);
                return;
        }
        c->up->len = c->up->off = c->down->len = c->down->off = 0;
        c->in = fd;
        c->family = family;
        memcpy(c->addr, addr, family == AF_INET ? 4 : 16);
        c->port = port;
        c->id = ++g->last_conn_id;
        g->conns[slot] = c;
        if (dns) {
                c->dns = c->connected = c->checked = true;
                c->out = -EBADF;
                return;
        }
        c->out = marked_socket(family, SOCK_STREAM);
        if (c->out < 0 || (connect(c->out, (struct sockaddr *) &dst, len) < 0 && errno != EINPROGRESS))
                conn_free(g, slot, true);
}

/* The client's first bytes are in: does the name they show pass? */
static bool conn_check(Guard *g, size_t i) {
        Conn *c = g->conns[i];
        char name[256];
        int r = shown_name(c->up, name, sizeof(name));
        if (r == -EAGAIN && !c->in_eof && c->up->len < sizeof(c->up->data))
                return true; /* wait for more */
        c->checked = true;
        /* An address allowed as such needs no name. */
        if (literal_allowed_tcp(g->settings, c->family, c->addr, c->port))
                return true;
        if (r == 0 || r == -EAGAIN)
                return true;
        bool valid = r > 0 && valid_name(name);
        if (valid && name_allowed_tcp(g->settings, name, c->port))
                return true;
        char text[INET6_ADDRSTRLEN];
        addr_text(c->family, c->addr, text, sizeof(text));
        /* A shown name that is not a valid one is reported by address. */
        report_denial(g, valid ? name : text, c->port, "tcp");
        conn_free(g, i, true);
        return false;
}

/* Moves bytes from FROM into B; false on a reset or error. */
static bool fill(int from, Buf *b, bool *eof) {
        ssize_t n = read(from, b->data + b->len, sizeof(b->data) - b->len);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR;
        if (n == 0)
                *eof = true;
        b->len += (size_t) n;
        return true;
}

static bool drain(int to, Buf *b) {
        ssize_t n = send(to, b->data + b->off, b->len - b->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR;
        b->off += (size_t) n;
        if (b->off == b->len)
                b->off = b->len = 0;
        return true;
}

/* DNS over TCP: each message, two bytes of length and a question, is
 * answered in order of the replies; the connection ends when the client's
 * has and every reply is written. */
static void dns_conn_step(Guard *g, size_t i, short in_ev) {
        Conn *c = g->conns[i];
        if ((in_ev & (POLLIN | POLLHUP | POLLERR)) && c->up->len < sizeof(c->up->data) && !c->in_eof &&
            !fill(c->in, c->up, &c->in_eof)) {
                conn_free(g, i, true);
                return;
        }
        if (in_ev & POLLERR) {
                conn_free(g, i, true);
                return;
        }
        for (;;) {
                size_t len = c->up->len >= 2 ? (size_t) (c->up->data[0] << 8 | c->up->data[1]) : SIZE_MAX;
                if (len == SIZE_MAX || c->up->len < 2 + len)
                        break;
                DnsClient client = { .conn = c->id };
                if (dns_question_in(g, c->up->data + 2, len, &client))
                        c->pending++;
                memmove(c->up->data, c->up->data + 2 + len, c->up->len - 2 - len);
                c->up->len -= 2 + len;
        }
        /* A message longer than the buffer can never be answered. */
        if (c->up->len == sizeof(c->up->data)) {
                conn_free(g, i, true);
                return;
        }
        if (c->down->len > c->down->off && !drain(c->in, c->down)) {
                conn_free(g, i, true);
                return;
        }
        if (c->in_eof && c->pending == 0 && c->down->len == 0)
                conn_free(g, i, false);
}

/* After poll: one step for each direction of connection I. */
static void conn_step(Guard *g, size_t i, short in_ev, short out_ev) {
        Conn *c = g->conns[i];
        if (c->dns) {
                dns_conn_step(g, i, in_ev);
                return;
        }
        if (!c->connected && out_ev) {
                int err = 0;
                socklen_t l = sizeof(err);
                if (getsockopt(c->out, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
                        conn_free(g, i, true);
                        return;
                }
                c->connected = true;
                out_ev &= ~POLLOUT;
        }
        if ((in_ev & (POLLIN | POLLHUP | POLLERR)) && c->up->len < sizeof(c->up->data) && !c->in_eof &&
            !fill(c->in, c->up, &c->in_eof)) {
                conn_free(g, i, true);
                return;
        }
        if (c->connected && (out_ev & (POLLIN | POLLHUP | POLLERR)) && c->down->len == 0 && !c->out_eof &&
            !fill(c->out, c->down, &c->out_eof)) {
                conn_free(g, i, true);
                return;
        }
        /* An error, or a hang-up after end-of-file (nothing more can be
         * written either): nothing left to do with that side, and poll
         * would report it again and again. */
        if (((in_ev | (c->connected ? out_ev : 0)) & POLLERR)) {
                conn_free(g, i, true);
                return;
        }
        if ((in_ev & POLLHUP) && c->in_eof)
                c->in_shut = true;
        if ((out_ev & POLLHUP) && c->out_eof)
                c->out_shut = true;
        if (!c->checked && (c->up->len > 0 || c->in_eof) && !conn_check(g, i))
                return;
        if (c->connected && c->checked && c->up->len > c->up->off && !drain(c->out, c->up)) {
                conn_free(g, i, true);
                return;
        }
        if (c->down->len > c->down->off && !drain(c->in, c->down)) {
                conn_free(g, i, true);
                return;
        }
        /* Half-closes pass on once the buffers are empty. */
        if (c->connected && c->checked && c->in_eof && c->up->len == 0 && !c->out_shut) {
                (void) shutdown(c->out, SHUT_WR);
                c->out_shut = true;
        }
        if (c->out_eof && c->down->len == 0 && !c->in_shut) {
                (void) shutdown(c->in, SHUT_WR);
                c->in_shut = true;
        }
        if (c->in_shut && c->out_shut)
                conn_free(g, i, false);
}

static short in_events(const Conn *c) {
        short ev = 0;
        if (c->dns)
                return (short) ((!c->in_eof && c->up->len < sizeof(c->up->data) ? POLLIN : 0) |
                                (c->down->len > c->down->off ? POLLOUT : 0));
        if (!c->in_eof && c->up->len < sizeof(c->up->data) && (c->up->len == 0 || !c->checked))
                ev |= POLLIN;
        if (c->down->len > c->down->off)
                ev |= POLLOUT;
        return ev;
}

static short out_events(const Conn *c) {
        if (c->dns)
                return 0;
        if (!c->connected)
                return POLLOUT;
        short ev = 0;
        if (!c->out_eof && c->down->len == 0)
                ev |= POLLIN;
        if (c->checked && c->up->len > c->up->off)
                ev |= POLLOUT;
        return ev;
}

static _noreturn_ void guard_loop(Guard *g) {
        struct pollfd pfd[6 + MAX_QUERIES + 2 * MAX_CONNS];
        size_t slot_of[ELEMENTSOF(pfd)];

        for (;;) {
                size_t n = 0;
                for (size_t i = 0; i < 4; i++)
                        pfd[n++] = (struct pollfd) { .fd = g->listen[i], .events = POLLIN };
                pfd[n++] = (struct pollfd) { .fd = g->log_fd, .events = POLLIN };
                pfd[n++] = (struct pollfd) { .fd = g->stop_fd, .events = POLLIN };
                for (size_t i = 0; i < MAX_QUERIES; i++)
                        if (g->queries[i].fd >= 0) {
                                slot_of[n] = i;
                                pfd[n++] = (struct pollfd) { .fd = g->queries[i].fd, .events = POLLIN };
                        }
                size_t conns_at = n;
                for (size_t i = 0; i < MAX_CONNS; i++)
                        if (g->conns[i]) {
                                slot_of[n] = i;
                                pfd[n++] = (struct pollfd) { .fd = g->conns[i]->in, .events = in_events(g->conns[i]) };
                                pfd[n++] = (struct pollfd) { .fd = g->conns[i]->out, .events = out_events(g->conns[i]) };
                        }
                int r = poll(pfd, n, 1000);
                if (r < 0 && errno != EINTR)
                        _exit(1);
                if (pfd[4].revents)
                        log_read(g);
                /* The command's packets were logged as it sent them: all
                 * are in the socket now, none is lost. */
                if (pfd[5].revents) {
                        if (g->log_fd >= 0)
                                log_read(g);
                        _exit(0);
                }
                for (size_t k = 6; k < conns_at; k++)
                        if (pfd[k].revents)
                                dns_answer(g, &g->queries[slot_of[k]]);
                for (size_t k = conns_at; k < n; k += 2)
                        if ((pfd[k].revents || pfd[k + 1].revents) && g->conns[slot_of[k]])
                                conn_step(g, slot_of[k], pfd[k].revents, pfd[k + 1].revents);
                for (size_t i = 0; i < 4; i++) {
                        if (!(pfd[i].revents & POLLIN))
                                continue;
                        if (i < 2)
                                relay_accept(g, g->listen[i], i == 0 ? AF_INET : AF_INET6);
                        else
                                dns_query(g, g->listen[i]);
                }
                long long now = now_ms();
                for (size_t i = 0; i < MAX_QUERIES; i++)
                        if (g->queries[i].fd >= 0 && g->queries[i].deadline < now)
                                query_done(g, &g->queries[i]);
        }
}

/* ---- the guard: setting up ---- */

static int listen_on(int family, int type, uint16_t *ret_port) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } a = {};
        socklen_t len;
        int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (family == AF_INET) {
                a.in.sin_family = AF_INET;
                a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                len = sizeof(a.in);
        } else {
                int one = 1;
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_addr = in6addr_loopback;
                len = sizeof(a.in6);
        }
        if (bind(fd, &a.sa, len) < 0 || (type == SOCK_STREAM && listen(fd, 128) < 0) || getsockname(fd, &a.sa, &len) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        *ret_port = ntohs(family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
        return fd;
}

/* The guard keeps CAP_NET_ADMIN alone, effective: for SO_MARK. */
static int keep_net_admin(void) {
        cap_value_t v = CAP_NET_ADMIN;
        cap_t caps = cap_init();
        if (!caps)
                return -errno;
        int r = cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET) < 0 ||
                                cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET) < 0 || cap_set_proc(caps) < 0 ?
                        -errno :
                        0;
        cap_free(caps);
        return r;
}

/* ---- the rules: one nf_tables transaction over netlink ---- */

/* A netlink batch being built. */
typedef struct Batch {
        unsigned char buf[32768];
        size_t len;
        size_t msg;     /* offset of the open message */
        size_t nest[8]; /* offsets of the open nested attributes */
        int depth;
        uint32_t seq;
        unsigned n_acks; /* messages that ask for one */
        bool overflow;
} Batch;

static void *batch_put(Batch *b, size_t len) {
        size_t aligned = NLMSG_ALIGN(len);
        if (b->overflow || b->len + aligned > sizeof(b->buf)) {
                b->overflow = true;
                return NULL;
        }
        void *p = b->buf + b->len;
        memset(p, 0, aligned);
        b->len += aligned;
        return p;
}

static void msg_begin(Batch *b, uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id) {
        b->msg = b->len;
        struct nlmsghdr *h = batch_put(b, sizeof(struct nlmsghdr));
        struct nfgenmsg *g = batch_put(b, sizeof(struct nfgenmsg));
        if (!h || !g)
                return;
        h->nlmsg_type = type;
        h->nlmsg_flags = NLM_F_REQUEST | flags;
        h->nlmsg_seq = ++b->seq;
        g->nfgen_family = family;
        g->version = NFNETLINK_V0;
        g->res_id = htons(res_id);
        if (flags & NLM_F_ACK)
                b->n_acks++;
}

static void msg_end(Batch *b) {
        if (!b->overflow)
                ((struct nlmsghdr *) (b->buf + b->msg))->nlmsg_len = (uint32_t) (b->len - b->msg);
}

/* An nf_tables object in the inet family (both IP versions). */
static void nft_msg(Batch *b, uint16_t type) {
        msg_begin(b, (uint16_t) (NFNL_SUBSYS_NFTABLES << 8 | type),
                  NLM_F_CREATE | NLM_F_ACK | (type == NFT_MSG_NEWRULE ? NLM_F_APPEND : 0), NFPROTO_INET, 0);
}

static void attr(Batch *b, uint16_t type, const void *data, size_t len) {
        struct nlattr *a = batch_put(b, NLA_HDRLEN + len);
        if (!a)
                return;
        a->nla_type = type;
        a->nla_len = (uint16_t) (NLA_HDRLEN + len);
        memcpy((unsigned char *) a + NLA_HDRLEN, data, len);
}

static void attr_u32(Batch *b, uint16_t type, uint32_t v) {
        v = htonl(v);
        attr(b, type, &v, sizeof(v));
}

static void attr_str(Batch *b, uint16_t type, const char *s) {
        attr(b, type, s, strlen(s) + 1);
}

static void nest_begin(Batch *b, uint16_t type) {
        size_t at = b->len;
        struct nlattr *a = batch_put(b, NLA_HDRLEN);
        if (!a || b->depth == (int) ELEMENTSOF(b->nest)) {
                b->overflow = true;
                return;
        }
        a->nla_type = NLA_F_NESTED | type;
        b->nest[b->depth++] = at;
}

static void nest_end(Batch *b) {
        if (b->overflow)
                return;
        size_t at = b->nest[--b->depth];
        ((struct nlattr *) (b->buf + at))->nla_len = (uint16_t) (b->len - at);
}

/* Expressions, each an element of the rule's list. */
static void expr_begin(Batch *b, const char *name) {
        nest_begin(b, NFTA_LIST_ELEM);
        attr_str(b, NFTA_EXPR_NAME, name);
        nest_begin(b, NFTA_EXPR_DATA);
}

static void expr_end(Batch *b) {
        nest_end(b);
        nest_end(b);
}

static void data_value(Batch *b, uint16_t type, const void *data, size_t len) {
        nest_begin(b, type);
        attr(b, NFTA_DATA_VALUE, data, len);
        nest_end(b);
}

static void e_meta(Batch *b, uint32_t key) {
        expr_begin(b, "meta");
        attr_u32(b, NFTA_META_KEY, key);
        attr_u32(b, NFTA_META_DREG, NFT_REG_1);
        expr_end(b);
}

static void e_cmp(Batch *b, uint32_t op, const void *data, size_t len) {
        expr_begin(b, "cmp");
        attr_u32(b, NFTA_CMP_SREG, NFT_REG_1);
        attr_u32(b, NFTA_CMP_OP, op);
        data_value(b, NFTA_CMP_DATA, data, len);
        expr_end(b);
}

static void e_payload(Batch *b, uint32_t base, uint32_t offset, uint32_t len) {
        expr_begin(b, "payload");
        attr_u32(b, NFTA_PAYLOAD_DREG, NFT_REG_1);
        attr_u32(b, NFTA_PAYLOAD_BASE, base);
        attr_u32(b, NFTA_PAYLOAD_OFFSET, offset);
        attr_u32(b, NFTA_PAYLOAD_LEN, len);
        expr_end(b);
}

/* Register & MASK != 0 (4 bytes, host order: conntrack's fields). */
static void e_bits_set(Batch *b, uint32_t mask) {
        uint32_t zero = 0;
        expr_begin(b, "bitwise");
        attr_u32(b, NFTA_BITWISE_SREG, NFT_REG_1);
        attr_u32(b, NFTA_BITWISE_DREG, NFT_REG_1);
        attr_u32(b, NFTA_BITWISE_LEN, sizeof(mask));
        data_value(b, NFTA_BITWISE_MASK, &mask, sizeof(mask));
        data_value(b, NFTA_BITWISE_XOR, &zero, sizeof(zero));
        expr_end(b);
        e_cmp(b, NFT_CMP_NEQ, &zero, sizeof(zero));
}

static void e_ct(Batch *b, uint32_t key) {
        expr_begin(b, "ct");
        attr_u32(b, NFTA_CT_KEY, key);
        attr_u32(b, NFTA_CT_DREG, NFT_REG_1);
        expr_end(b);
}

static void e_verdict(Batch *b, uint32_t code) {
        expr_begin(b, "immediate");
        attr_u32(b, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
        nest_begin(b, NFTA_IMMEDIATE_DATA);
        nest_begin(b, NFTA_DATA_VERDICT);
        attr_u32(b, NFTA_VERDICT_CODE, code);
        nest_end(b);
        nest_end(b);
        expr_end(b);
}

static void e_accept(Batch *b) {
        e_verdict(b, NF_ACCEPT);
}

/* Register = the type of the packet's source address (RTN_LOCAL: one of
 * this network namespace's own; 4 bytes, host order). */
static void e_fib_saddr_type(Batch *b) {
        expr_begin(b, "fib");
        attr_u32(b, NFTA_FIB_DREG, NFT_REG_1);
        attr_u32(b, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
        attr_u32(b, NFTA_FIB_FLAGS, NFTA_FIB_F_SADDR);
        expr_end(b);
}

static void e_redirect(Batch *b, uint16_t port) {
        uint16_t be = htons(port);
        expr_begin(b, "immediate");
        attr_u32(b, NFTA_IMMEDIATE_DREG, NFT_REG_1);
        data_value(b, NFTA_IMMEDIATE_DATA, &be, sizeof(be));
        expr_end(b);
        expr_begin(b, "redir");
        attr_u32(b, NFTA_REDIR_REG_PROTO_MIN, NFT_REG_1);
        expr_end(b);
}

static void e_reject(Batch *b, uint32_t type, uint8_t code) {
        expr_begin(b, "reject");
        attr_u32(b, NFTA_REJECT_TYPE, type);
        attr(b, NFTA_REJECT_ICMP_CODE, &code, 1);
        expr_end(b);
}

static void e_log(Batch *b) {
        uint16_t group = htons(LOG_GROUP);
        expr_begin(b, "log");
        attr(b, NFTA_LOG_GROUP, &group, sizeof(group));
        attr_u32(b, NFTA_LOG_SNAPLEN, LOG_SNAPLEN);
        expr_end(b);
}

static void rule_begin(Batch *b, const char *chain) {
        nft_msg(b, NFT_MSG_NEWRULE);
        attr_str(b, NFTA_RULE_TABLE, "csand");
        attr_str(b, NFTA_RULE_CHAIN, chain);
        nest_begin(b, NFTA_RULE_EXPRESSIONS);
}

static void rule_end(Batch *b) {
        nest_end(b);
        msg_end(b);
}

static void m_u8(Batch *b, uint32_t key, uint8_t v) {
        e_meta(b, key);
        e_cmp(b, NFT_CMP_EQ, &v, 1);
}

/* The rules every chain starts with: the guard's own mark, loopback.
 * SPOOF: first drop what goes through loopback from a source address that
 * isn't one of the namespace's own. The command can send so (IPv6's
 * IPV6_FREEBIND binds any address, and port 53 with
 * CAP_NET_BIND_SERVICE) to pose as the resolver to the guard's query
 * socket: such a reply is part of the guard's own flow, which the rules
 * let in as established, and its addresses would be learned. */
static void rule_mark_and_lo(Batch *b, const char *chain, bool spoof) {
        uint32_t mark = GUARD_MARK, lo = 1; /* "lo" is ifindex 1 in every network namespace */
        uint32_t local = RTN_LOCAL;
        rule_begin(b, chain);
        e_meta(b, NFT_META_MARK);
        e_cmp(b, NFT_CMP_EQ, &mark, sizeof(mark));
        e_accept(b);
        rule_end(b);
        if (spoof) {
                rule_begin(b, chain);
                e_meta(b, NFT_META_OIF);
                e_cmp(b, NFT_CMP_EQ, &lo, sizeof(lo));
                e_fib_saddr_type(b);
                e_cmp(b, NFT_CMP_NEQ, &local, sizeof(local));
                e_verdict(b, NF_DROP);
                rule_end(b);
        }
        rule_begin(b, chain);
        e_meta(b, NFT_META_OIF);
        e_cmp(b, NFT_CMP_EQ, &lo, sizeof(lo));
        e_accept(b);
        rule_end(b);
}

static void rule_udp_dests(Batch *b, const char *chain, const UdpDest *udp, size_t n_udp) {
        for (size_t i = 0; i < n_udp; i++) {
                unsigned char addr[16];
                uint16_t port = htons(udp[i].port);
                bool v6 = udp[i].family == AF_INET6;
                inet_pton(udp[i].family, udp[i].ip, addr);
                rule_begin(b, chain);
                m_u8(b, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
                m_u8(b, NFT_META_L4PROTO, IPPROTO_UDP);
                e_payload(b, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4);
                e_cmp(b, NFT_CMP_EQ, addr, v6 ? 16 : 4);
                e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
                e_cmp(b, NFT_CMP_EQ, &port, 2);
                e_accept(b);
                rule_end(b);
        }
}

/* IPv6 finds its next hop (the helper's gateway) with ICMPv6 neighbour
 * and router messages (types 133 to 136), which only the kernel sends (the
 * command has no CAP_NET_RAW): rejected, every IPv6 connection out, the
 * guard's too, fails with EHOSTUNREACH. */
static void rule_neighbour_discovery(Batch *b) {
        uint8_t first = 133, last = 136;
        rule_begin(b, "filter");
        m_u8(b, NFT_META_NFPROTO, NFPROTO_IPV6);
        m_u8(b, NFT_META_L4PROTO, IPPROTO_ICMPV6);
        e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
        e_cmp(b, NFT_CMP_GTE, &first, 1);
        e_cmp(b, NFT_CMP_LTE, &last, 1);
        e_accept(b);
        rule_end(b);
}

/* What the command can send and the filter refuses, logged to the guard
 * before the reject: UDP, ICMP, and ICMPv6 echo requests (its other types
 * are the kernel's own, such as multicast listener reports). */
static void rules_log_refused(Batch *b) {
        for (int kind = 0; kind < 3; kind++) {
                uint8_t echo6 = 128;
                rule_begin(b, "filter");
                if (kind == 0)
                        m_u8(b, NFT_META_L4PROTO, IPPROTO_UDP);
                else {
                        m_u8(b, NFT_META_NFPROTO, kind == 1 ? NFPROTO_IPV4 : NFPROTO_IPV6);
                        m_u8(b, NFT_META_L4PROTO, kind == 1 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
                }
                if (kind == 2) {
                        e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
                        e_cmp(b, NFT_CMP_EQ, &echo6, 1);
                }
                e_log(b);
                e_reject(b, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_PORT_UNREACH);
                rule_end(b);
        }
}

static void chain(Batch *b, const char *name, const char *type, int32_t priority, uint32_t policy) {
        nft_msg(b, NFT_MSG_NEWCHAIN);
        attr_str(b, NFTA_CHAIN_TABLE, "csand");
        attr_str(b, NFTA_CHAIN_NAME, name);
        nest_begin(b, NFTA_CHAIN_HOOK);
        attr_u32(b, NFTA_HOOK_HOOKNUM, NF_INET_LOCAL_OUT);
        attr_u32(b, NFTA_HOOK_PRIORITY, (uint32_t) priority);
        nest_end(b);
        attr_u32(b, NFTA_CHAIN_POLICY, policy);
        attr_str(b, NFTA_CHAIN_TYPE, type);
        msg_end(b);
}

/* The guard's own marked sockets and loopback pass; --allow-udp
 * destinations pass; other UDP to port 53 goes to the DNS proxy and new
 * TCP to the relay (PORT: relay v4, relay v6, DNS v4, DNS v6; 0: none);
 * the filter then lets through what was redirected, established flows
 * (--publish, replies) and rejects the rest. */
static void build_rules(Batch *b, const uint16_t *port, const UdpDest *udp, size_t n_udp, bool log) {
        msg_begin(b, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
        msg_end(b);
        nft_msg(b, NFT_MSG_NEWTABLE);
        attr_str(b, NFTA_TABLE_NAME, "csand");
        msg_end(b);
        chain(b, "nat", "nat", -100, NF_ACCEPT);
        chain(b, "filter", "filter", 0, NF_DROP);

        rule_mark_and_lo(b, "nat", false);
        rule_udp_dests(b, "nat", udp, n_udp);
        for (int v6 = 0; v6 < 2; v6++)
                for (int dns = 0; dns < 2; dns++) {
                        uint16_t to = port[2 * dns + v6];
                        if (to == 0)
                                continue;
                        rule_begin(b, "nat");
                        m_u8(b, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
                        m_u8(b, NFT_META_L4PROTO, dns ? IPPROTO_UDP : IPPROTO_TCP);
                        if (dns) {
                                uint16_t p53 = htons(53);
                                e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
                                e_cmp(b, NFT_CMP_EQ, &p53, 2);
                        }
                        e_redirect(b, to);
                        rule_end(b);
                }

        rule_mark_and_lo(b, "filter", true);
        /* Redirected: the filter still sees the old output interface. */
        rule_begin(b, "filter");
        e_ct(b, NFT_CT_STATUS);
        e_bits_set(b, IPS_DST_NAT);
        e_accept(b);
        rule_end(b);
        rule_begin(b, "filter");
        e_ct(b, NFT_CT_STATE);
        e_bits_set(b, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
        e_accept(b);
        rule_end(b);
        rule_udp_dests(b, "filter", udp, n_udp);
        rule_neighbour_discovery(b);
        rule_begin(b, "filter");
        m_u8(b, NFT_META_L4PROTO, IPPROTO_TCP);
        e_reject(b, NFT_REJECT_TCP_RST, 0);
        rule_end(b);
        if (log)
                rules_log_refused(b);
        rule_begin(b, "filter");
        e_reject(b, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_PORT_UNREACH);
        rule_end(b);

        msg_begin(b, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
        msg_end(b);
}

/* Sends the batch and reads an acknowledgement for each message that asked
 * for one: 0, or the kernel's error for the first that failed. */
static int netlink_send(int fd, Batch *b) {
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        if (b->overflow)
                return -E2BIG;
        if (sendto(fd, b->buf, b->len, 0, (struct sockaddr *) &kernel, sizeof(kernel)) != (ssize_t) b->len)
                return -errno;
        unsigned acks = 0;
        while (acks < b->n_acks) {
                union {
                        unsigned char buf[8192];
                        struct nlmsghdr h;
                } m;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, GUARD_READY_TIMEOUT_MS);
                if (r <= 0)
                        return r < 0 ? -errno : -ETIMEDOUT;
                ssize_t n = recv(fd, m.buf, sizeof(m.buf), 0);
                if (n < 0)
                        return -errno;
                for (struct nlmsghdr *h = &m.h; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_type != NLMSG_ERROR)
                                continue;
                        const struct nlmsgerr *err = NLMSG_DATA(h);
                        if (err->error != 0)
                                return err->error;
                        acks++;
                }
        }
        return 0;
}

static int nft_commit(Batch *b) {
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
                return -errno;
        return netlink_send(fd, b);
}

/* A socket that receives what the rules log to LOG_GROUP (the first
 * LOG_SNAPLEN bytes of each packet), or the error: binding needs
 * CAP_NET_ADMIN over the network namespace, and nfnetlink_log. */
static int log_open(void) {
        static Batch b;
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
        struct nfulnl_msg_config_cmd cmd = { .command = NFULNL_CFG_CMD_BIND };
        struct nfulnl_msg_config_mode mode = { .copy_range = htonl(LOG_SNAPLEN), .copy_mode = NFULNL_COPY_PACKET };
        if (fd < 0)
                return -errno;
        b = (Batch) {};
        msg_begin(&b, NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG, NLM_F_ACK, AF_UNSPEC, LOG_GROUP);
        attr(&b, NFULA_CFG_CMD, &cmd, sizeof(cmd));
        attr(&b, NFULA_CFG_MODE, &mode, sizeof(mode));
        /* Each packet at once, not in batches of 100 or after a second: a
         * command that exits at once is still reported. */
        attr_u32(&b, NFULA_CFG_QTHRESH, 1);
        msg_end(&b);
        int r = netlink_send(fd, &b);
        return r < 0 ? r : TAKE_FD(fd);
}

typedef struct GuardArgs {
        const EgressSettings *settings;
        const char *resolver;
        int status_fd;
        int netns_fd, userns_fd, ready_fd, stop_fd;
        const UdpDest *udp;
        size_t n_udp;
} GuardArgs;

/* Is ADDR one of this network namespace's own (loopback included)? Only
 * then can a socket be bound to it. */
static bool address_is_local(const struct sockaddr_storage *addr, socklen_t len) {
        union {
                struct sockaddr_storage ss;
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } a = { .ss = *addr };
        _cleanup_close_ int fd = socket(a.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (a.ss.ss_family == AF_INET)
                a.in.sin_port = 0;
        else
                a.in6.sin6_port = 0;
        return fd >= 0 && bind(fd, &a.sa, len) == 0;
}

/* In the forked guard, up to its loop; the message goes to the monitor. */
static int guard_setup(const GuardArgs *a, Guard *g, char *msg, size_t size) {
        uint16_t port[4] = {};
        int r;

        if (a->userns_fd >= 0 && setns(a->userns_fd, CLONE_NEWUSER) < 0)
                return snprintf(msg, size, "can't join the sandbox's user namespace: %s", strerror(errno)), -errno;
        if (setns(a->netns_fd, CLONE_NEWNET) < 0)
                return snprintf(msg, size, "can't join the sandbox's network namespace: %s", strerror(errno)), -errno;
        /* Nobody with the same uid may ptrace it (it holds CAP_NET_ADMIN in
         * the sandbox's user namespace). */
        (void) prctl(PR_SET_DUMPABLE, 0);
        /* The child may not have brought it up yet. */
        (void) network_loopback_up();
        /* Answers from there would be the command's to write. */
        if (address_is_local(&g->resolver, g->resolver_len))
                return snprintf(msg, size, "--dns %s is an address of the sandbox itself: its answers would be the command's",
                                a->resolver),
                       -EINVAL;
        for (int i = 0; i < 4; i++) {
                int fd = listen_on(i % 2 ? AF_INET6 : AF_INET, i < 2 ? SOCK_STREAM : SOCK_DGRAM, &port[i]);
                /* No IPv6 on this host: then nothing of it to filter either. */
                if (fd < 0 && i % 2 && fd == -EAFNOSUPPORT)
                        continue;
                if (fd < 0)
                        return snprintf(msg, size, "can't listen in the sandbox's network namespace: %s", strerror(-fd)), fd;
                g->listen[i] = fd;
        }
        if (g->listen[1] < 0)
                port[1] = port[3] = 0;
        /* Without nfnetlink_log, refused packets go unreported. */
        g->log_fd = log_open();
        static Batch batch;
        build_rules(&batch, port, a->udp, a->n_udp, g->log_fd >= 0);
        r = nft_commit(&batch);
        if (r < 0)
                return snprintf(msg, size, "can't install the netfilter rules: %s", strerror(-r)), r;
        r = keep_net_admin();
        if (r < 0)
                return snprintf(msg, size, "can't drop capabilities: %s", strerror(-r)), r;
        return 0;
}

/* Where allowed lookups go: --dns, else the helper's forwarder. */
static void resolver_address(const char *ip, Guard *g) {
        struct sockaddr_in *in = (struct sockaddr_in *) &g->resolver;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &g->resolver;
        if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons(53);
                g->resolver_len = sizeof(*in);
        } else {
                memset(in6, 0, sizeof(*in6));
                inet_pton(AF_INET6, ip, &in6->sin6_addr);
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(53);
                g->resolver_len = sizeof(*in6);
        }
}

static _noreturn_ void guard_main(const GuardArgs *a) {
        const EgressSettings *s = a->settings;
        static Guard g;
        char msg[512] = "";

        g.settings = s;
        g.status_fd = a->status_fd;
        g.log_fd = -1;
        g.stop_fd = a->stop_fd;
        for (size_t i = 0; i < 4; i++)
                g.listen[i] = -1;
        for (size_t i = 0; i < MAX_QUERIES; i++)
                g.queries[i].fd = -1;
        resolver_address(a->resolver, &g);
        /* --add-host names that are allowed reach their addresses. */
        for (size_t i = 0; i < s->n_hosts; i++)
                learn(&g, s->hosts[i].family, s->hosts[i].addr, s->hosts[i].name);

        int r = guard_setup(a, &g, msg, sizeof(msg));
        if (r < 0) {
                (void) write_all(a->ready_fd, msg, strlen(msg));
                _exit(1);
        }
        (void) write_all(a->ready_fd, "", 1);
        close(a->ready_fd);
        guard_loop(&g);
}

/* In the forked guard: dies with the monitor; default signals; only the
 * fds it uses. */
static void guard_prepare(pid_t parent, const int *keep, size_t n_keep) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(1);
        helper_reset_signals();
        (void) signal(SIGPIPE, SIG_IGN);
        (void) setsid();
        /* close_range() over the gaps between the kept fds, in order. */
        unsigned from = 3;
        for (;;) {
                unsigned next = ~0U;
                for (size_t i = 0; i < n_keep; i++)
                        if (keep[i] >= (int) from && (unsigned) keep[i] < next)
                                next = (unsigned) keep[i];
                if (next > from)
                        (void) syscall(SYS_close_range, from, next == ~0U ? ~0U : next - 1, 0);
                if (next == ~0U)
                        break;
                from = next + 1;
        }
}

Egress *egress_free(Egress *g) {
        if (!g)
                return NULL;
        g->stop_fd = safe_close(g->stop_fd);
        helper_stop(g->guard, 0, GUARD_STOP_TIMEOUT_MS);
        helper_free(g->guard);
        free(g);
        return NULL;
}

static void egress_freep(Egress **g) {
        egress_free(*g);
}

int egress_start(const EgressSettings *s, const char *resolver, int status_fd, int netns_fd, int userns_fd,
                 Egress **ret, Error *e) {
        _cleanup_(egress_freep) Egress *g = NULL;
        _cleanup_free_ UdpDest *udp = NULL;
        _cleanup_close_ int ready_r = -EBADF, ready_w = -EBADF, stop_r = -EBADF;
        size_t n_udp = 0;
        int pair[2];

        *ret = NULL;
        if (!egress_enabled(s))
                return 0;
        if (resolve_udp(s, &udp, &n_udp, e) < 0)
                return -e->error;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return error_set_errno(e, errno, "socketpair");
        ready_r = pair[0];
        ready_w = pair[1];
        g = calloc(1, sizeof(*g));
        if (g) {
                g->stop_fd = -EBADF;
                g->guard = calloc(1, sizeof(Helper));
        }
        if (!g || !g->guard)
                return error_setf(e, ENOMEM, "Out of memory");
        if (pipe2(pair, O_CLOEXEC) < 0)
                return error_set_errno(e, errno, "pipe");
        stop_r = pair[0];
        g->stop_fd = pair[1];
        /* Nothing to stop until the fork succeeded. */
        *g->guard = (Helper) { .pidfd = -EBADF, .output_fd = -EBADF, .reaped = true };

        GuardArgs a = {
                .settings = s,
                .resolver = resolver,
                .status_fd = status_fd,
                .netns_fd = netns_fd,
                .userns_fd = userns_fd,
                .ready_fd = ready_w,
                .stop_fd = stop_r,
                .udp = udp,
                .n_udp = n_udp,
        };
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return error_set_errno(e, errno, "fork");
        if (pid == 0) {
                int keep[] = { netns_fd, userns_fd, ready_w, status_fd, stop_r };
                guard_prepare(parent, keep, ELEMENTSOF(keep));
                guard_main(&a);
        }
        g->guard->pid = pid;
        g->guard->reaped = false;
        g->guard->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (g->guard->pidfd < 0)
                return error_set_errno(e, errno, "pidfd_open");
        ready_w = safe_close(ready_w);

        char msg[512];
        int r = helper_wait_fd(g->guard, ready_r, GUARD_READY_TIMEOUT_MS);
        ssize_t n = r == 0 ? recv(ready_r, msg, sizeof(msg) - 1, 0) : -1;
        if (n == 1 && msg[0] == '\0') {
                *ret = TAKE_PTR(g);
                return 0;
        }
        if (r == -ETIMEDOUT)
                return error_setf(e, ETIMEDOUT, "%s: the rules were not in place within %d s", s->first,
                                  GUARD_READY_TIMEOUT_MS / 1000);
        if (n <= 0)
                return error_setf(e, EIO, "%s: the network guard ended before the rules were in place", s->first);
        msg[n] = '\0';
        return error_setf(e, EIO, "%s: can't set up the sandbox's network rules: %s", s->first, msg);
}

/* ---- the child: /etc/hosts ---- */

int egress_setup_hosts(const EgressSettings *s, int root_fd, int scratch_fd, Error *e) {
        _cleanup_free_ char *old = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF, mnt = -EBADF, dst = -EBADF;
        size_t len = 0, size = 0;
        int r;

        if (s->n_hosts == 0)
                return 0;
        r = open_file_in_root(root_fd, "/etc/hosts", O_RDONLY, &fd);
        if (r >= 0)
                r = read_full_fd(fd, 1 << 20, (void **) &old, &len);
        if (r < 0 && r != -ENOENT)
                return error_set_errno(e, -r, "Can't read /etc/hosts");
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return error_setf(e, ENOMEM, "Out of memory");
        if (old)
                fprintf(f, "%s%s", old, len > 0 && old[len - 1] != '\n' ? "\n" : "");
        fprintf(f, "# Added by csand (--add-host)\n");
        for (size_t i = 0; i < s->n_hosts; i++) {
                char ip[INET6_ADDRSTRLEN];
                inet_ntop(s->hosts[i].family, s->hosts[i].addr, ip, sizeof(ip));
                fprintf(f, "%s\t%s\n", ip, s->hosts[i].name);
        }
        if (fclose(f) != 0)
                return error_setf(e, ENOMEM, "Out of memory");
        r = mount_data_file(scratch_fd, "hosts", buf, &mnt);
        if (r < 0)
                return error_set_errno(e, -r, "Can't prepare /etc/hosts for the sandbox");
        r = touch_in_root(root_fd, "/etc/hosts", 0644, &dst);
        if (r < 0)
                return error_set_errno(e, -r, "Can't create /etc/hosts for --add-host");
        r = mount_attach_with_attrs(mnt, dst, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return error_set_errno(e, -r, "Can't mount /etc/hosts");
        return 0;
}
