/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <arpa/inet.h>
#include <assert.h>
#include <linux/if_tun.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "fs-util.h"
#include "helpers.h"
#include "macro.h"
#include "mount-util.h"
#include "network.h"
#include "parse-util.h"
#include "state-dirs.h"

/* How long a helper may take to configure the interface. Typically a few
 * milliseconds; generous for loaded CI machines and sanitizer builds. */
#define HELPER_READY_TIMEOUT_MS 10000
#define HELPER_API_TIMEOUT_MS 5000

struct NetworkState {
        Helper *helper;
        int exit_fd;     /* slirp4netns --exit-fd: the write end, only ours */
        int child_pidfd; /* the sandbox's child */
        int userns_fd;   /* the owner of its network namespace; -EBADF: ours */
};

static const char *const mode_names[_NETWORK_MODE_MAX] = {
        [NETWORK_UNSET] = "default",           [NETWORK_NONE] = "none",   [NETWORK_HOST] = "host",
        [NETWORK_SLIRP4NETNS] = "slirp4netns", [NETWORK_PASTA] = "pasta",
};

int network_loopback_up(void) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;

        struct ifreq ifr = {};
        strncpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name) - 1);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return -errno;
        return 0;
}

/* slirp4netns' interface in the sandbox. */
#define SLIRP_INTERFACE "tap0"

void network_prepare_interface(const NetworkSettings *s, bool unshare_net) {
        if (network_mode(s, unshare_net) != NETWORK_SLIRP4NETNS)
                return;
        _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return;
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
        memcpy(ifr.ifr_name, SLIRP_INTERFACE, sizeof(SLIRP_INTERFACE));
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return;
        /* Without it, our close() below would remove the device again. */
        (void) ioctl(fd, TUNSETPERSIST, 1);
}

/* ---- options ---- */

const char *network_mode_to_string(NetworkMode m) {
        return m >= 0 && m < _NETWORK_MODE_MAX ? mode_names[m] : NULL;
}

static bool mode_uses_helper(NetworkMode m) {
        return m == NETWORK_SLIRP4NETNS || m == NETWORK_PASTA;
}

NetworkMode network_mode(const NetworkSettings *s, bool unshare_net) {
        if (mode_uses_helper(s->mode))
                return s->mode;
        return unshare_net ? NETWORK_NONE : NETWORK_HOST;
}

bool network_uses_helper(const NetworkSettings *s, bool unshare_net) {
        return mode_uses_helper(network_mode(s, unshare_net));
}

const char *network_resolver(const NetworkSettings *s, bool unshare_net) {
        if (s->n_dns > 0)
                return s->dns[0];
        return network_mode(s, unshare_net) == NETWORK_SLIRP4NETNS ? SLIRP4NETNS_DNS : PASTA_DNS_FORWARD;
}

void network_settings_done(NetworkSettings *s) {
        free(s->publish);
        s->publish = NULL;
        s->n_publish = 0;
}

bool network_settings_given(const NetworkSettings *s) {
        return s->mode != NETWORK_UNSET || s->n_publish > 0 || s->n_dns > 0 || s->allow_host_loopback;
}

static int parse_publish_port(const char *s, const char *what, const char *value, uint16_t *ret, Error *e) {
        int r = parse_port(s, ret);
        if (r == -ERANGE)
                return error_setf(e, ERANGE, "--publish %s: %s %s is out of range (1-65535)", value, what, s);
        if (r < 0)
                return error_setf(e, EINVAL, "--publish %s: %s is not a port number: \"%s\"", value, what, s);
        return 0;
}

int network_parse_publish(const char *value, PortForward *ret, Error *e) {
        static const char usage[] = "expected [IP:]HOSTPORT:PORT[/tcp|/udp]";
        PortForward f = { .family = AF_INET };
        _cleanup_free_ char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;

        char *proto = strrchr(copy, '/');
        if (proto) {
                *proto++ = '\0';
                if (strcmp(proto, "udp") == 0)
                        f.udp = true;
                else if (strcmp(proto, "tcp") != 0)
                        return error_setf(e, EINVAL, "--publish %s: unknown protocol \"%s\" (tcp or udp)", value, proto);
        }

        /* [IPv6]:HOSTPORT:PORT, IPv4:HOSTPORT:PORT or HOSTPORT:PORT */
        const char *ip = "127.0.0.1";
        char *ports = copy;
        if (copy[0] == '[') {
                char *close = strchr(copy, ']');
                if (!close || close[1] != ':')
                        return error_setf(e, EINVAL, "--publish %s: %s", value, usage);
                *close = '\0';
                ip = copy + 1;
                ports = close + 2;
                f.family = AF_INET6;
        } else {
                char *first = strchr(copy, ':');
                if (first && strchr(first + 1, ':')) {
                        *first = '\0';
                        ip = copy;
                        ports = first + 1;
                }
        }
        char *colon = strchr(ports, ':');
        if (!colon || strchr(colon + 1, ':') || colon == ports || !colon[1])
                return error_setf(e, EINVAL, "--publish %s: %s", value, usage);
        *colon = '\0';

        unsigned char addr[sizeof(struct in6_addr)];
        if (inet_pton(f.family, ip, addr) != 1)
                return error_setf(e, EINVAL, "--publish %s: invalid %s address \"%s\"", value,
                                  f.family == AF_INET6 ? "IPv6" : "IPv4", ip);
        inet_ntop(f.family, addr, f.host_ip, sizeof(f.host_ip));

        int r = parse_publish_port(ports, "host port", value, &f.host_port, e);
        if (r < 0)
                return r;
        r = parse_publish_port(colon + 1, "port", value, &f.port, e);
        if (r < 0)
                return r;
        *ret = f;
        return 0;
}

static void format_publish(const PortForward *f, char *buf, size_t size) {
        snprintf(buf, size, f->family == AF_INET6 ? "[%s]:%u:%u/%s" : "%s:%u:%u/%s", f->host_ip, f->host_port, f->port,
                 f->udp ? "udp" : "tcp");
}

static int add_publish(NetworkSettings *p, const char *value, Error *e) {
        PortForward f;
        int r = network_parse_publish(value, &f, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_publish; i++) {
                const PortForward *o = &p->publish[i];
                if (o->host_port == f.host_port && o->udp == f.udp && o->family == f.family &&
                    strcmp(o->host_ip, f.host_ip) == 0)
                        return error_setf(e, EINVAL, "--publish %s: host port %u/%s on %s is already published", value,
                                          f.host_port, f.udp ? "udp" : "tcp", f.host_ip);
        }
        PortForward *a = reallocarray(p->publish, p->n_publish + 1, sizeof(PortForward));
        if (!a)
                return -ENOMEM;
        p->publish = a;
        p->publish[p->n_publish++] = f;
        return 0;
}

static int add_dns(NetworkSettings *p, const char *value, Error *e) {
        unsigned char addr[sizeof(struct in6_addr)];
        int family = strchr(value, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(family, value, addr) != 1)
                return error_setf(e, EINVAL, "--dns takes an IPv4 or IPv6 address: \"%s\"", value);
        if (p->n_dns >= NETWORK_MAX_DNS)
                return error_setf(e, E2BIG, "--dns may be given at most %d times", NETWORK_MAX_DNS);
        inet_ntop(family, addr, p->dns[p->n_dns], sizeof(p->dns[0]));
        p->n_dns++;
        return 0;
}

static int set_mode(NetworkSettings *s, bool *unshare_net, const char *value, Error *e) {
        for (NetworkMode m = NETWORK_NONE; m < _NETWORK_MODE_MAX; m++)
                if (strcmp(value, mode_names[m]) == 0) {
                        s->mode = m;
                        /* Like --unshare-net or --share-net, wherever it stands. */
                        *unshare_net = m != NETWORK_HOST;
                        return 0;
                }
        return error_setf(e, EINVAL, "--network: unknown mode \"%s\" (none, host, slirp4netns or pasta)", value);
}

int network_settings_parse(NetworkSettings *s, bool *unshare_net, NetworkOption which, const char *value, Error *e) {
        switch (which) {
        case NETWORK_OPTION_MODE:
                return set_mode(s, unshare_net, value, e);
        case NETWORK_OPTION_PUBLISH:
                return add_publish(s, value, e);
        case NETWORK_OPTION_ALLOW_HOST_LOOPBACK:
                s->allow_host_loopback = true;
                return 0;
        case NETWORK_OPTION_DNS:
                return add_dns(s, value, e);
        }
        return -EINVAL;
}

/* 127.0.0.0/8, ::1, ::ffff:127.x, and the unspecified addresses (which
 * mean loopback to a resolver). */
static bool is_loopback_address(const char *s) {
        struct in_addr a4;
        struct in6_addr a6;
        if (inet_pton(AF_INET, s, &a4) == 1) {
                uint32_t h = ntohl(a4.s_addr);
                return (h >> 24) == 127 || h == 0;
        }
        if (inet_pton(AF_INET6, s, &a6) == 1) {
                if (IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_UNSPECIFIED(&a6))
                        return true;
                return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
        }
        return false;
}

int network_validate(const NetworkSettings *p, bool unshare_net, bool userns_given, Error *e) {
        NetworkMode m = network_mode(p, unshare_net);
        const char *name = mode_names[m];

        if (mode_uses_helper(p->mode) && !unshare_net)
                return error_setf(e, EINVAL,
                                  "--network %s needs a network namespace of its own: it cannot be combined with --share-net",
                                  mode_names[p->mode]);
        if (!mode_uses_helper(m)) {
                const char *opt = p->n_publish > 0       ? "--publish" :
                                  p->allow_host_loopback ? "--allow-host-loopback" :
                                  p->n_dns > 0           ? "--dns" :
                                                           NULL;
                if (opt)
                        return error_setf(e, EINVAL,
                                          "%s needs user-mode networking: --network slirp4netns or --network pasta", opt);
                return 0;
        }
        if (userns_given)
                return error_setf(e, EINVAL, "--network %s cannot be combined with --userns", name);
        if (m == NETWORK_PASTA && p->n_publish > NETWORK_MAX_PASTA_PORTS)
                return error_setf(e, E2BIG, "--network pasta: at most %d ports can be published", NETWORK_MAX_PASTA_PORTS);
        for (size_t i = 0; i < p->n_publish; i++) {
                const PortForward *f = &p->publish[i];
                char spec[96];
                if (m != NETWORK_SLIRP4NETNS)
                        continue;
                format_publish(f, spec, sizeof(spec));
                if (f->family != AF_INET)
                        return error_setf(e, EINVAL,
                                          "--publish %s: slirp4netns publishes on IPv4 addresses only (use --network pasta)",
                                          spec);
                /* libslirp sees a loopback client as its "host loopback"
                 * address and, with --disable-host-loopback, drops the UDP
                 * replies to it: the port would swallow every datagram. */
                if (f->udp && !p->allow_host_loopback && is_loopback_address(f->host_ip))
                        return error_setf(e, EINVAL,
                                          "--publish %s: slirp4netns can't answer UDP clients on the host's loopback without --allow-host-loopback (or use --network pasta)",
                                          spec);
        }
        return 0;
}

/* ---- status ---- */

void network_write_status_json(const NetworkSettings *p, bool unshare_net, FILE *f, bool one_line) {
        const char *sep = one_line ? ", " : ",\n    ";
        NetworkMode m = network_mode(p, unshare_net);
        fprintf(f, "%s\"network\": \"%s\"", sep, mode_names[m]);
        if (!mode_uses_helper(m))
                return;
        fprintf(f, "%s\"published-ports\": [", sep);
        for (size_t i = 0; i < p->n_publish; i++) {
                const PortForward *pf = &p->publish[i];
                fprintf(f, "%s%s{ \"protocol\": \"%s\", \"host-ip\": \"%s\", \"host-port\": %u, \"port\": %u }", i ? "," : "",
                        one_line ? " " : "\n        ", pf->udp ? "udp" : "tcp", pf->host_ip, pf->host_port, pf->port);
        }
        fprintf(f, "%s]", !p->n_publish ? "" : one_line ? " " : "\n    ");
}

/* ---- the monitor: starting and stopping the helper ---- */

NetworkState *network_state_free(NetworkState *s) {
        if (!s)
                return NULL;
        /* Neither helper keeps anything worth a graceful end (slirp4netns'
         * API socket directory is gone already, pasta's pid file is our
         * pipe), and the sandbox they served has ended: SIGKILL, and reap.
         * (slirp4netns would also leave when its --exit-fd hangs up, which
         * is what ends it if csand is killed.) */
        s->exit_fd = safe_close(s->exit_fd);
        helper_free(s->helper);
        safe_close(s->child_pidfd);
        safe_close(s->userns_fd);
        free(s);
        return NULL;
}

static void network_state_freep(NetworkState **s) {
        network_state_free(*s);
}

int network_state_userns_fd(const NetworkState *s) {
        return s->userns_fd;
}

/* What the helper said last, on one line: its last few lines that are not
 * noise, joined. */
static void helper_message(Helper *h, char *buf, size_t size) {
        _cleanup_free_ char *out = NULL;
        const char *lines[3];
        size_t n = 0;

        buf[0] = '\0';
        if (helper_read_output(h, 4096, &out) < 0)
                return;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                while (*line == ' ' || *line == '\t')
                        line++;
                /* pasta's complaints about a missing syslog; slirp4netns' progress. */
                if (!*line || strstr(line, "to syslog") || strncmp(line, "sent tapfd=", 11) == 0 ||
                    strncmp(line, "received tapfd=", 15) == 0 || strncmp(line, "starting slirp", 14) == 0)
                        continue;
                if (n == ELEMENTSOF(lines)) {
                        memmove(lines, lines + 1, sizeof(lines[0]) * (n - 1));
                        n--;
                }
                lines[n++] = line;
        }
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(buf);
                snprintf(buf + len, size - len, "%s%s", i ? "; " : "", lines[i]);
        }
}

/* A helper that failed before it was ready: why, in one line. */
static int helper_failed(Helper *h, const char *name, int r, Error *e) {
        char msg[512], status[96];

        if (r == -ETIMEDOUT)
                return error_setf(e, ETIMEDOUT, "%s did not configure the sandbox's network within %d s", name,
                                  HELPER_READY_TIMEOUT_MS / 1000);
        if (!helper_exited(h))
                helper_stop(h, SIGKILL, 0);
        helper_message(h, msg, sizeof(msg));
        helper_describe_status(h->status, status, sizeof(status));
        if (msg[0])
                return error_setf(e, EIO, "%s failed to set up the sandbox's network: %s", name, msg);
        return error_setf(e, EIO, "%s %s before the sandbox's network was ready", name, status);
}

/* Can the host port be bound? The helper would fail later with a less
 * helpful message (or, for slirp4netns, none). */
static int probe_host_port(const PortForward *f, Error *e) {
        char spec[96];
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } a = {};
        socklen_t len;

        format_publish(f, spec, sizeof(spec));
        _cleanup_close_ int fd = socket(f->family, (f->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set_errno(e, errno, "--publish %s: socket", spec);
        if (f->family == AF_INET6) {
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_port = htons(f->host_port);
                inet_pton(AF_INET6, f->host_ip, &a.in6.sin6_addr);
                len = sizeof(a.in6);
        } else {
                a.in.sin_family = AF_INET;
                a.in.sin_port = htons(f->host_port);
                inet_pton(AF_INET, f->host_ip, &a.in.sin_addr);
                len = sizeof(a.in);
        }
        /* As the helpers do: a TCP port in TIME_WAIT is not in use. */
        int one = 1;
        if (!f->udp)
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, &a.sa, len) < 0) {
                int r = errno;
                if (r == EADDRINUSE)
                        return error_setf(e, r, "--publish %s: %s port %u on %s is already in use on the host", spec,
                                          f->udp ? "UDP" : "TCP", f->host_port, f->host_ip);
                return error_set_errno(e, r, "--publish %s: can't bind %s port %u on the host", spec, f->host_ip, f->host_port);
        }
        return 0;
}

static bool same_namespace(int a, int b) {
        struct stat sa, sb;
        return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Has the child exited, or does it within GRACE_MS? */
static bool child_exits(int child_pidfd, int grace_ms) {
        struct pollfd p = { .fd = child_pidfd, .events = POLLIN };
        int r;
        while ((r = poll(&p, 1, grace_ms)) < 0 && errno == EINTR)
                ;
        return r > 0;
}

/* Does a /proc/PID/[ug]id_map hold a mapping, and one for id 0 inside? */
static int read_id_map(pid_t child, const char *file, bool *ret_root) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int) child, file);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        *ret_root = false;
        for (char *line = buf; line && *line;) {
                unsigned long inside, outside, count;
                if (sscanf(line, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 && count > 0)
                        *ret_root = true;
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return n > 0;
}

/* Are the sandbox's id maps written, and is root mapped? The monitor
 * calls this once the child has said so at the gate (sandbox.c): maps
 * still empty mean the child died first (-ESRCH). */
static int read_id_maps(pid_t child, bool *ret_root_mapped) {
        bool uid_root, gid_root;
        int u = read_id_map(child, "uid_map", &uid_root);
        int g = read_id_map(child, "gid_map", &gid_root);
        if (u < 0 && u != -ENOENT)
                return u;
        if (u <= 0 || g <= 0)
                return -ESRCH;
        *ret_root_mapped = uid_root && gid_root;
        return 0;
}

/* slirp4netns' API socket lives in a private directory for as long as it
 * takes to publish the ports; the listening socket stays open inside
 * slirp4netns, but nobody can connect to it any more. */
typedef struct ApiDir {
        char dir[96];
        char socket[128];
} ApiDir;

static void api_dir_remove(ApiDir *d) {
        if (d->socket[0])
                (void) unlink(d->socket);
        if (d->dir[0])
                (void) rmdir(d->dir);
        d->socket[0] = d->dir[0] = '\0';
}

/* Under csand's runtime directory, which mounts.c hides from sandboxes
 * (so that none can reach another's helper); /tmp where there is none. */
static int api_dir_make(ApiDir *ret) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        _cleanup_free_ char *base = NULL;
        struct stat st;
        if (!xdg || xdg[0] != '/' || strlen(xdg) > 60 || stat(xdg, &st) < 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != geteuid() || access(xdg, W_OK | X_OK) < 0 || state_dir_make(STATE_DIR_RUNTIME, &base) < 0)
                base = strdup("/tmp");
        if (!base)
                return -ENOMEM;
        ApiDir d = {};
        snprintf(d.dir, sizeof(d.dir), "%s/%snet.XXXXXX", base, strcmp(base, "/tmp") == 0 ? "csand-" : "");
        if (!mkdtemp(d.dir))
                return -errno;
        snprintf(d.socket, sizeof(d.socket), "%s/api.sock", d.dir);
        if (strlen(d.socket) >= sizeof(((struct sockaddr_un *) NULL)->sun_path)) {
                (void) rmdir(d.dir);
                return -ENAMETOOLONG;
        }
        *ret = d;
        return 0;
}

/* One request to slirp4netns' API: connect, send, half-close, read the
 * reply to the end. */
static int slirp_api_call(Helper *h, const char *socket_path, const char *request, char *reply, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        int r = write_all(fd, request, strlen(request));
        if (r < 0)
                return r;
        if (shutdown(fd, SHUT_WR) < 0)
                return -errno;
        size_t got = 0;
        for (;;) {
                r = helper_wait_fd(h, fd, HELPER_API_TIMEOUT_MS);
                if (r < 0)
                        return r;
                ssize_t n = read(fd, reply + got, size - 1 - got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                got += (size_t) n;
                if (got == size - 1)
                        break;
        }
        reply[got] = '\0';
        return 0;
}

static int slirp_publish(Helper *h, const char *socket_path, const PortForward *f, Error *e) {
        char request[512], reply[1024], spec[96];
        format_publish(f, spec, sizeof(spec));
        snprintf(request, sizeof(request),
                 "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"%s\", \"host_addr\": \"%s\", "
                 "\"host_port\": %u, \"guest_port\": %u}}",
                 f->udp ? "udp" : "tcp", f->host_ip, f->host_port, f->port);
        int r = slirp_api_call(h, socket_path, request, reply, sizeof(reply));
        if (r == -ECHILD)
                return helper_failed(h, "slirp4netns", r, e);
        if (r < 0)
                return error_set_errno(e, r, "--publish %s: can't reach slirp4netns' API socket", spec);
        if (strstr(reply, "\"return\"") && !strstr(reply, "\"error\""))
                return 0;
        /* {"error": {"desc": "..."}} */
        const char *desc = strstr(reply, "\"desc\"");
        const char *q = desc ? strchr(desc + 6, '"') : NULL;
        const char *end = q ? strchr(q + 1, '"') : NULL;
        if (q && end)
                return error_setf(e, EIO, "--publish %s: slirp4netns refused: %.*s", spec, (int) (end - q - 1), q + 1);
        return error_setf(e, EIO, "--publish %s: slirp4netns refused: %s", spec, reply);
}

static void api_dir_removep(ApiDir *d) {
        api_dir_remove(d);
}

/* Both helpers run with a private umask (their sockets and files are
 * nobody else's) and their output captured for our error messages. */
static int start_helper(const char *path, const char **argv, const int *fds, int n_fds, Helper **ret, Error *e) {
        HelperSpec spec = {
                .path = path,
                .argv = (char *const *) argv,
                .fds = fds,
                .n_fds = (size_t) n_fds,
                .umask = 0077,
                .capture_output = true,
        };
        char why[HELPER_WHY_MAX];
        int r = helper_start(&spec, ret, why, sizeof(why));
        if (r < 0 && why[0])
                return error_setf(e, -r, "Can't start %s: %s", path, why);
        if (r < 0)
                return error_set_errno(e, r, "Can't start %s", path);
        return 0;
}

static int start_slirp4netns(const NetworkSettings *p, const char *path, int netns_fd, int userns_fd, bool root_mapped,
                             NetworkState *s, Error *e) {
        _cleanup_(api_dir_removep) ApiDir api = {};
        _cleanup_close_ int ready_r = -EBADF, ready_w = -EBADF, exit_r = -EBADF;
        char a_ready[32], a_exit[32], a_userns[48], a_netns[32], a_api[160];
        int fds[4], n_fds = 0, pfd[2], r;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return error_set_errno(e, errno, "pipe");
        ready_r = pfd[0];
        ready_w = pfd[1];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return error_set_errno(e, errno, "pipe");
        exit_r = pfd[0];
        s->exit_fd = pfd[1];
        if (p->n_publish > 0) {
                r = api_dir_make(&api);
                if (r < 0)
                        return error_set_errno(e, r, "Can't create a directory for slirp4netns' API socket");
        }

        const char *argv[24];
        size_t n = 0;
        argv[n++] = "slirp4netns";
        argv[n++] = "--configure";
        argv[n++] = "--mtu=65520";
        if (!p->allow_host_loopback)
                argv[n++] = "--disable-host-loopback";
        /* Its sandbox (a mount namespace with only /etc and /run) needs uid
         * and gid 0 mapped in the user namespace it enters, and root's
         * rights where it runs: slirp4netns 1.2 joins no user namespace for
         * it with --userns-path, and unprivileged it fails ("setegid(0)")
         * once uid and gid 0 are mapped (images, --uid 0 --gid 0). */
        if (root_mapped && geteuid() == 0)
                argv[n++] = "--enable-sandbox";
        argv[n++] = "--enable-seccomp";
        fds[n_fds] = netns_fd;
        snprintf(a_netns, sizeof(a_netns), "/proc/self/fd/%d", 3 + n_fds++);
        if (userns_fd >= 0) {
                fds[n_fds] = userns_fd;
                snprintf(a_userns, sizeof(a_userns), "--userns-path=/proc/self/fd/%d", 3 + n_fds++);
                argv[n++] = a_userns;
        }
        fds[n_fds] = ready_w;
        snprintf(a_ready, sizeof(a_ready), "--ready-fd=%d", 3 + n_fds++);
        argv[n++] = a_ready;
        fds[n_fds] = exit_r;
        snprintf(a_exit, sizeof(a_exit), "--exit-fd=%d", 3 + n_fds++);
        argv[n++] = a_exit;
        if (api.socket[0]) {
                snprintf(a_api, sizeof(a_api), "--api-socket=%s", api.socket);
                argv[n++] = a_api;
        }
        argv[n++] = "--netns-type=path";
        argv[n++] = a_netns;
        argv[n++] = SLIRP_INTERFACE;
        argv[n] = NULL;

        r = start_helper(path, argv, fds, n_fds, &s->helper, e);
        if (r < 0)
                return r;
        ready_w = safe_close(ready_w);
        exit_r = safe_close(exit_r);

        /* "1" once the interface is configured (and the API socket is up). */
        r = helper_wait_fd(s->helper, ready_r, HELPER_READY_TIMEOUT_MS);
        char c = 0;
        if (r == 0 && read(ready_r, &c, 1) != 1)
                r = -ECHILD;
        if (r == 0 && c != '1')
                r = -EIO;
        if (r < 0)
                return helper_failed(s->helper, "slirp4netns", r, e);

        for (size_t i = 0; i < p->n_publish; i++) {
                r = slirp_publish(s->helper, api.socket, &p->publish[i], e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int start_pasta(const NetworkSettings *p, const char *path, int netns_fd, int userns_fd, NetworkState *s, Error *e) {
        _cleanup_close_ int pid_r = -EBADF, pid_w = -EBADF;
        char a_netns[32], a_userns[32], a_pid[32];
        char specs[NETWORK_MAX_PASTA_PORTS][80];
        int fds[3], n_fds = 0, pfd[2], r;
        size_t n_specs = 0;

        assert(p->n_publish <= ELEMENTSOF(specs)); /* network_validate() */
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return error_set_errno(e, errno, "pipe");
        pid_r = pfd[0];
        pid_w = pfd[1];

        const char *argv[32 + 2 * ELEMENTSOF(specs)];
        size_t n = 0;
        argv[n++] = "pasta";
        argv[n++] = "--config-net";
        /* In the foreground, pasta stays the process we forked, so that
         * PR_SET_PDEATHSIG kills it with csand. */
        argv[n++] = "--foreground";
        argv[n++] = "--quiet";
        if (!p->allow_host_loopback)
                argv[n++] = "--no-map-gw";
        /* pasta forwards every port by default, both ways: nothing but
         * what was published. */
        for (int udp = 0; udp <= 1; udp++) {
                size_t before = n;
                for (size_t i = 0; i < p->n_publish; i++) {
                        const PortForward *f = &p->publish[i];
                        if (f->udp != (bool) udp)
                                continue;
                        snprintf(specs[n_specs], sizeof(specs[0]), "%s/%u:%u", f->host_ip, f->host_port, f->port);
                        argv[n++] = udp ? "-u" : "-t";
                        argv[n++] = specs[n_specs++];
                }
                if (n == before) {
                        argv[n++] = udp ? "-u" : "-t";
                        argv[n++] = "none";
                }
        }
        argv[n++] = "-T";
        argv[n++] = "none";
        argv[n++] = "-U";
        argv[n++] = "none";
        /* DNS to this address goes to the host's first nameserver (see
         * network_setup_resolv_conf()). */
        argv[n++] = "--dns-forward";
        argv[n++] = PASTA_DNS_FORWARD;
        fds[n_fds] = pid_w;
        snprintf(a_pid, sizeof(a_pid), "/proc/self/fd/%d", 3 + n_fds++);
        argv[n++] = "--pid";
        argv[n++] = a_pid;
        if (userns_fd >= 0) {
                fds[n_fds] = userns_fd;
                snprintf(a_userns, sizeof(a_userns), "/proc/self/fd/%d", 3 + n_fds++);
                argv[n++] = "--userns";
                argv[n++] = a_userns;
        }
        fds[n_fds] = netns_fd;
        snprintf(a_netns, sizeof(a_netns), "/proc/self/fd/%d", 3 + n_fds++);
        argv[n++] = "--netns";
        argv[n++] = a_netns;
        if (userns_fd < 0)
                argv[n++] = "--netns-only";
        argv[n] = NULL;

        r = start_helper(path, argv, fds, n_fds, &s->helper, e);
        if (r < 0)
                return r;
        pid_w = safe_close(pid_w);

        /* pasta writes its pid file once the namespace is configured. */
        char buf[32];
        size_t got = 0;
        for (;;) {
                r = helper_wait_fd(s->helper, pid_r, HELPER_READY_TIMEOUT_MS);
                if (r < 0)
                        return helper_failed(s->helper, "pasta", r, e);
                ssize_t k = read(pid_r, buf + got, sizeof(buf) - 1 - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return helper_failed(s->helper, "pasta", -ECHILD, e);
                got += (size_t) k;
                if (memchr(buf, '\n', got) || got == sizeof(buf) - 1)
                        break;
        }
        return 0;
}

bool network_state_child_gone(const NetworkState *s) {
        return child_exits(s->child_pidfd, 0);
}

int network_start(const NetworkSettings *p, bool unshare_net, pid_t child, int netns_fd, NetworkState **ret, Error *e) {
        _cleanup_(network_state_freep) NetworkState *s = NULL;
        _cleanup_close_ int own_userns_fd = -EBADF;
        _cleanup_free_ char *path = NULL;
        NetworkMode m = network_mode(p, unshare_net);
        const char *name = mode_names[m];
        bool root_mapped = false;
        int r;

        *ret = NULL;
        if (!mode_uses_helper(m))
                return 0;

        /* The monitor writes to the gate after this, and the child may
         * have died of a setup error meanwhile: EPIPE, not death by
         * SIGPIPE, so that the monitor goes on to print the child's error.
         * (The command and the helpers have their own dispositions.) */
        (void) signal(SIGPIPE, SIG_IGN);

        r = helper_find_executable(name, &path);
        if (r == -ENOMEM)
                return error_setf(e, ENOMEM, "Out of memory");
        if (r < 0)
                return error_setf(e, ENOENT, "--network %s: %s is missing: no executable named %s in PATH (is it installed?)",
                                  name, name, name);
        if (access("/dev/net/tun", R_OK | W_OK) < 0)
                return error_set_errno(e, errno, "--network %s needs /dev/net/tun (to create the sandbox's interface), which is not accessible",
                                       name);
        for (size_t i = 0; i < p->n_publish; i++) {
                r = probe_host_port(&p->publish[i], e);
                if (r < 0)
                        return r;
        }

        s = calloc(1, sizeof(*s));
        if (!s)
                return error_setf(e, ENOMEM, "Out of memory");
        *s = (NetworkState) { .exit_fd = -EBADF, .child_pidfd = -EBADF, .userns_fd = -EBADF };
        s->child_pidfd = (int) syscall(SYS_pidfd_open, child, 0);
        if (s->child_pidfd < 0)
                return error_set_errno(e, errno, "pidfd_open");
        if (netns_fd < 0) {
                /* Gone: the child is on its way out, with its own report. */
                if (child_exits(s->child_pidfd, 5000))
                        return 0;
                return error_setf(e, EIO, "The sandbox did not tell its network namespace");
        }
        /* The user namespace that owns the network namespace: the one the
         * helper needs capabilities in (not necessarily the child's current
         * one: --disable-userns nests another). */
        s->userns_fd = ioctl(netns_fd, NS_GET_USERNS);
        if (s->userns_fd < 0)
                return error_set_errno(e, errno, "Can't find the user namespace of the sandbox's network namespace");
        own_userns_fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        if (own_userns_fd >= 0 && same_namespace(s->userns_fd, own_userns_fd))
                s->userns_fd = safe_close(s->userns_fd);
        else {
                r = read_id_maps(child, &root_mapped);
                if (r == -ESRCH)
                        return 0;
                if (r < 0)
                        return error_set_errno(e, r, "Can't read the sandbox's id maps");
        }

        if (m == NETWORK_SLIRP4NETNS)
                r = start_slirp4netns(p, path, netns_fd, s->userns_fd, root_mapped, s, e);
        else
                r = start_pasta(p, path, netns_fd, s->userns_fd, s, e);
        if (r < 0) {
                /* A child that died of a setup error explains the failure
                 * better than the helper can: the monitor prints its report. */
                if (child_exits(s->child_pidfd, 0))
                        return 0;
                return r;
        }
        *ret = TAKE_PTR(s);
        return 1;
}

/* ---- the child: resolv.conf ---- */

#define RESOLV_CONF "/etc/resolv.conf"
#define RESOLV_CONF_ATTRS (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)

/* "nameserver ADDR ...": ADDR (in a copy), else NULL. */
static char *nameserver_of(const char *line, size_t len) {
        const char *kw = "nameserver";
        size_t k = strlen(kw);
        if (len <= k || strncmp(line, kw, k) != 0 || (line[k] != ' ' && line[k] != '\t'))
                return NULL;
        const char *a = line + k;
        while (a < line + len && (*a == ' ' || *a == '\t'))
                a++;
        const char *end = a;
        while (end < line + len && *end != ' ' && *end != '\t' && *end != '#' && *end != ';' && *end != '%')
                end++;
        return end > a ? strndup(a, (size_t) (end - a)) : NULL;
}

/* The next line of *CURSOR, without its newline; false at the end. */
static bool next_line(const char **cursor, const char **ret_line, size_t *ret_len) {
        const char *l = *cursor;
        if (!l || !*l)
                return false;
        const char *nl = strchr(l, '\n');
        *ret_line = l;
        *ret_len = nl ? (size_t) (nl - l) : strlen(l);
        *cursor = nl ? nl + 1 : NULL;
        return true;
}

/* Does TEXT name a nameserver, and one on loopback? */
static void scan_nameservers(const char *text, bool *ret_any, bool *ret_loopback) {
        const char *line;
        size_t len;
        *ret_any = *ret_loopback = false;
        for (const char *c = text; next_line(&c, &line, &len);) {
                _cleanup_free_ char *ns = nameserver_of(line, len);
                if (ns) {
                        *ret_any = true;
                        *ret_loopback = *ret_loopback || is_loopback_address(ns);
                }
        }
}

/* The new resolv.conf made from OLD (NULL: none), or NULL (and 0) when OLD
 * is fine as it is and ALWAYS is false. */
static int generate_resolv_conf(const NetworkSettings *p, bool unshare_net, const char *old, bool always, char **ret) {
        const char *forwarder = network_mode(p, unshare_net) == NETWORK_SLIRP4NETNS ? SLIRP4NETNS_DNS : PASTA_DNS_FORWARD;
        bool any_ns, loopback_ns, forwarder_written = false;
        const char *line;
        char *buf = NULL;
        size_t size = 0, len;

        /* Needed when a nameserver is on loopback, or when none is named
         * (the resolver then asks 127.0.0.1). */
        scan_nameservers(old, &any_ns, &loopback_ns);
        if (!always && p->n_dns == 0 && !loopback_ns && (!old || any_ns)) {
                *ret = NULL;
                return 0;
        }

        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# Generated by csand for --network %s\n", mode_names[network_mode(p, unshare_net)]);
        for (size_t i = 0; i < p->n_dns; i++)
                fprintf(f, "nameserver %s\n", p->dns[i]);
        if (p->n_dns == 0 && !any_ns) {
                fprintf(f, "nameserver %s\n", forwarder);
                forwarder_written = true;
        }
        for (const char *c = old; next_line(&c, &line, &len);) {
                _cleanup_free_ char *ns = nameserver_of(line, len);
                if (!ns)
                        fprintf(f, "%.*s\n", (int) len, line);
                else if (p->n_dns > 0)
                        ; /* --dns replaces them all */
                else if (!is_loopback_address(ns))
                        fprintf(f, "nameserver %s\n", ns);
                else if (!forwarder_written) {
                        fprintf(f, "nameserver %s\n", forwarder);
                        forwarder_written = true;
                }
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

/* /etc/resolv.conf in the tree at ROOT_FD, symlinks resolved inside it;
 * NULL (and 0) when there is none. */
static int read_resolv_conf(int root_fd, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        size_t len;
        int r = open_file_in_root(root_fd, RESOLV_CONF, O_RDONLY, &fd);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        return read_full_fd(fd, 1 << 20, (void **) ret, &len);
}

/* The resolv.conf the sandbox's is made from: the host's (before
 * pivot_root, "/" is still the host's root), or the sandbox's own. */
static int read_old_resolv_conf(const NetworkSettings *p, int root_fd, char **ret, Error *e) {
        _cleanup_close_ int host_fd = -EBADF;
        if (p->resolv_conf_from_host) {
                host_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (host_fd < 0)
                        return error_set_errno(e, errno, "Can't open the host's /");
        }
        int r = read_resolv_conf(host_fd >= 0 ? host_fd : root_fd, ret);
        if (r < 0)
                return error_set_errno(e, r, "Can't read %s%s", host_fd >= 0 ? "the host's " : "", RESOLV_CONF);
        return 0;
}

int network_setup_resolv_conf(const NetworkSettings *p, bool unshare_net, int root_fd, int scratch_fd, Error *e) {
        _cleanup_free_ char *old = NULL, *new = NULL;
        _cleanup_close_ int mnt = -EBADF, dst = -EBADF;
        int r;

        if (!network_uses_helper(p, unshare_net))
                return 0;
        if (read_old_resolv_conf(p, root_fd, &old, e) < 0)
                return -e->error;
        /* No resolver configured: not ours to invent one (unless the
         * sandbox's is to be made from the host's, as for images). */
        if (!old && p->n_dns == 0 && !p->resolv_conf_from_host)
                return 0;

        r = generate_resolv_conf(p, unshare_net, old, p->resolv_conf_from_host, &new);
        if (r < 0)
                return error_set_errno(e, r, "Can't generate %s", RESOLV_CONF);
        if (!new)
                return 0;

        r = mount_data_file(scratch_fd, "resolv.conf", new, &mnt);
        if (r < 0)
                return error_set_errno(e, r, "Can't prepare %s for the sandbox", RESOLV_CONF);
        r = touch_in_root(root_fd, RESOLV_CONF, 0644, &dst);
        if (r < 0)
                return error_set_errno(e, r, "Can't create %s%s", RESOLV_CONF, p->n_dns > 0 ? " for --dns" : "");
        r = mount_attach_with_attrs(mnt, dst, RESOLV_CONF_ATTRS);
        if (r < 0)
                return error_set_errno(e, r, "Can't mount %s", RESOLV_CONF);
        return 0;
}
