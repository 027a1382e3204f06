/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "fd-util.h"
#include "fs-util.h"
#include "helpers.h"
#include "macro.h"
#include "mount-util.h"
#include "overlay.h"

/* ==== parsing ============================================================ */

static const char *const driver_names[] = {
        [OVERLAY_DRIVER_AUTO] = "auto",
        [OVERLAY_DRIVER_KERNEL] = "kernel",
        [OVERLAY_DRIVER_FUSE] = "fuse",
};

int overlay_driver_from_string(const char *s, OverlayDriver *ret) {
        for (size_t i = 0; i < ELEMENTSOF(driver_names); i++)
                if (strcmp(s, driver_names[i]) == 0) {
                        *ret = (OverlayDriver) i;
                        return 0;
                }
        return -EINVAL;
}

const char *overlay_driver_to_string(OverlayDriver d) {
        return (size_t) d < ELEMENTSOF(driver_names) ? driver_names[d] : "unknown";
}

int overlay_sources_add(OverlaySources *s, const char *src) {
        char **v = reallocarray(s->v, s->n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        s->v = v;
        if (!(v[s->n] = strdup(src)))
                return -ENOMEM;
        s->n++;
        return 0;
}

void overlay_sources_done(OverlaySources *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        *s = (OverlaySources) {};
}

int overlay_sources_check_taken(const OverlaySources *s, const char *next, Error *e) {
        if (s->n == 0)
                return 0;
        /* bwrap's words; csand names the option that came instead. */
        return error_setf(e, EINVAL,
                          "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay%s%s",
                          next ? ", not " : "", next ?: "");
}

int overlay_plan_add_mount(SandboxPlan *p, OverlaySources *srcs, OverlayKind kind, const char *rwsrc,
                           const char *workdir, const char *dest, Error *e) {
        static const char *const names[] = {
                [OVERLAY_KIND_RW] = "--overlay",
                [OVERLAY_KIND_TMP] = "--tmp-overlay",
                [OVERLAY_KIND_RO] = "--ro-overlay",
        };
        size_t need = kind == OVERLAY_KIND_RO ? 2 : 1;
        if (srcs->n < need)
                return error_setf(e, EINVAL, "%s requires at least %s --overlay-src", names[kind], need == 1 ? "one" : "two");

        _cleanup_free_ char *wd = NULL;
        if (workdir && !(wd = strdup(workdir)))
                return -ENOMEM;
        MountOp *op;
        int r = plan_add_op(p, MOUNT_OP_OVERLAY, kind == OVERLAY_KIND_RW ? rwsrc : NULL, dest, &op);
        if (r < 0)
                return r;
        op->readonly = kind == OVERLAY_KIND_RO;
        op->overlay_workdir = TAKE_PTR(wd);
        /* The op takes the list as it is. */
        op->overlay_layers = TAKE_PTR(srcs->v);
        op->n_overlay_layers = srcs->n;
        srcs->n = 0;
        return 0;
}

OverlayKind overlay_op_kind(const MountOp *op) {
        if (op->readonly)
                return OVERLAY_KIND_RO;
        return op->source ? OVERLAY_KIND_RW : OVERLAY_KIND_TMP;
}

/* ==== the layers, opened in the caller's view ============================= */

typedef struct Layers {
        int *lower; /* lowest first, as given */
        size_t n_lower;
        int upper, work;     /* --overlay only */
        bool tmp;            /* --tmp-overlay: upper and work on a private tmpfs, made per attempt */
        mode_t tmp_mode;     /* ... whose top directory gets the top lower's mode */
        bool unmapped_owner; /* a lower's top directory belongs to an id the sandbox does not map */
} Layers;

static void layers_done(Layers *l) {
        for (size_t i = 0; i < l->n_lower; i++)
                safe_close(l->lower[i]);
        free(l->lower);
        safe_close(l->upper);
        safe_close(l->work);
}

static int open_dir(const char *path) {
        /* A real (not O_PATH) fd: fsconfig(FSCONFIG_SET_FD) wants one, and
         * overlayfs needs to read the layer anyway. */
        return RET_NERRNO(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

static int read_small_file(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

static unsigned long overflow_id(const char *path) {
        char buf[32], *end;
        if (read_small_file(path, buf, sizeof(buf)) < 0)
                return 65534;
        errno = 0;
        unsigned long v = strtoul(buf, &end, 10);
        return errno || end == buf ? 65534 : v;
}

/* Does our user namespace map every id (root, or no user namespace)? */
static bool maps_everything(const char *path) {
        char buf[128];
        unsigned long a, b, n;
        if (read_small_file(path, buf, sizeof(buf)) < 0)
                return false;
        return sscanf(buf, "%lu %lu %lu", &a, &b, &n) == 3 && a == 0 && b == 0 && n == 4294967295UL;
}

/* Ids the sandbox does not map show up as the overflow ids (nobody). */
static bool owner_unmapped(int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return false;
        if (maps_everything("/proc/self/uid_map") && maps_everything("/proc/self/gid_map"))
                return false;
        return st.st_uid == overflow_id("/proc/sys/kernel/overflowuid") ||
               st.st_gid == overflow_id("/proc/sys/kernel/overflowgid");
}

/* A private tmpfs for --tmp-overlay's upper and work directories: attached
 * under BASE_FD (the scaffold) for kernel overlayfs where the new root is
 * built attached, else detached; either way the overlay is all that keeps
 * it alive once setup is done, and nothing else can reach it. */
static int scratch_upper_work(int base_fd, mode_t mode, int *ret_mnt) {
        _cleanup_close_ int mnt = -EBADF;
        int r = mount_scratch_tmpfs(base_fd, "csand-overlay", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, &mnt);
        if (r < 0)
                return r;
        /* The upper's top directory is the merged top directory: it gets
         * the mode of the top lower layer (its owner is ours, necessarily). */
        if (mkdirat(mnt, "upper", mode) < 0 || fchmodat(mnt, "upper", mode, 0) < 0 || mkdirat(mnt, "work", 0700) < 0)
                return -errno;
        *ret_mnt = TAKE_FD(mnt);
        return 0;
}

static int same_mount(int a, int b) {
        struct statx sa, sb;
        if (statx(a, "", AT_EMPTY_PATH, STATX_MNT_ID, &sa) < 0 || statx(b, "", AT_EMPTY_PATH, STATX_MNT_ID, &sb) < 0)
                return -errno;
        if (!(sa.stx_mask & STATX_MNT_ID) || !(sb.stx_mask & STATX_MNT_ID))
                return sa.stx_dev_major == sb.stx_dev_major && sa.stx_dev_minor == sb.stx_dev_minor;
        return sa.stx_mnt_id == sb.stx_mnt_id;
}

static int open_layers(const MountOp *op, Layers *l, Error *e) {
        OverlayKind kind = overlay_op_kind(op);
        int r;

        l->lower = calloc(op->n_overlay_layers, sizeof(int));
        if (!l->lower)
                return error_setf(e, ENOMEM, "Out of memory");
        for (size_t i = 0; i < op->n_overlay_layers; i++) {
                int fd = open_dir(op->overlay_layers[i]);
                if (fd < 0)
                        return error_set_errno(e, fd, "Can't open --overlay-src %s", op->overlay_layers[i]);
                l->lower[l->n_lower++] = fd;
                if (!l->unmapped_owner && owner_unmapped(fd))
                        l->unmapped_owner = true;
        }

        if (kind == OVERLAY_KIND_RW) {
                l->upper = open_dir(op->source);
                if (l->upper < 0)
                        return error_set_errno(e, l->upper, "Can't open --overlay RWSRC %s", op->source);
                l->work = open_dir(op->overlay_workdir);
                if (l->work < 0)
                        return error_set_errno(e, l->work, "Can't open --overlay WORKDIR %s", op->overlay_workdir);
                r = same_mount(l->upper, l->work);
                if (r < 0)
                        return error_set_errno(e, r, "Can't stat --overlay WORKDIR %s", op->overlay_workdir);
                if (r == 0)
                        return error_setf(e, EXDEV, "--overlay: WORKDIR %s is not on the same filesystem (mount) as RWSRC %s",
                                          op->overlay_workdir, op->source);
                if (fd_same_inode(l->upper, l->work))
                        return error_setf(e, EINVAL, "--overlay: WORKDIR %s and RWSRC %s are the same directory",
                                          op->overlay_workdir, op->source);
        } else if (kind == OVERLAY_KIND_TMP) {
                struct stat st;
                if (fstat(l->lower[l->n_lower - 1], &st) < 0)
                        return error_set_errno(e, errno, "Can't stat --overlay-src %s", op->overlay_layers[l->n_lower - 1]);
                l->tmp = true;
                l->tmp_mode = st.st_mode & 07777;
        }
        return 0;
}

/* ==== kernel overlayfs =================================================== */

/* How layers are handed to overlayfs, newest kernels first. */
typedef enum LayerPassing {
        PASS_FD,          /* FSCONFIG_SET_FD "lowerdir+", "upperdir", "workdir" (6.13+) */
        PASS_PATH_APPEND, /* "lowerdir+" strings, one layer each (6.8+) */
        PASS_PATH_LIST,   /* one "lowerdir" list, top first */
        _PASS_MAX,
} LayerPassing;

/* Strings name the layers as /proc/self/fd/N: the very directories we
 * opened, and never a ':', ',' or '\' to escape. */
static int set_layer(int fs, LayerPassing how, const char *key, int fd) {
        if (how == PASS_FD)
                return mount_fs_set_fd(fs, key, fd);
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        return mount_fs_set(fs, key, path);
}

static int kernel_configure(int fs, const Layers *l, int upper, int work, LayerPassing how) {
        int r;
        if (how == PASS_PATH_LIST) {
                size_t size = l->n_lower * 32 + 1;
                _cleanup_free_ char *list = malloc(size);
                if (!list)
                        return -ENOMEM;
                list[0] = '\0';
                for (size_t i = l->n_lower; i-- > 0;) {
                        size_t len = strlen(list);
                        snprintf(list + len, size - len, "%s/proc/self/fd/%d", len ? ":" : "", l->lower[i]);
                }
                r = mount_fs_set(fs, "lowerdir", list);
        } else {
                r = 0;
                /* Appended layers stack downwards: the top one first. */
                for (size_t i = l->n_lower; r >= 0 && i-- > 0;)
                        r = set_layer(fs, how, "lowerdir+", l->lower[i]);
        }
        if (r >= 0 && upper >= 0)
                r = set_layer(fs, how, "upperdir", upper);
        if (r >= 0 && work >= 0)
                r = set_layer(fs, how, "workdir", work);
        return r;
}

static int kernel_mount_with(const Layers *l, int upper, int work, bool readonly, int *ret_mnt, char *why, size_t why_size) {
        uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (readonly ? MOUNT_ATTR_RDONLY : 0);
        int r = -EINVAL;

        for (LayerPassing how = 0; how < _PASS_MAX; how++) {
                _cleanup_close_ int fs = mount_fs_open("overlay");
                if (fs < 0) {
                        snprintf(why, why_size, "%s", fs == -ENODEV ? "overlayfs is not available" : strerror(-fs));
                        return fs;
                }
                /* Always userxattr: in a user namespace trusted.* xattrs are
                 * out of reach, and without it deleting a lower directory
                 * fails with EIO. */
                r = mount_fs_set(fs, "userxattr", NULL);
                if (r < 0) {
                        mount_fs_messages(fs, why, why_size);
                        return r;
                }
                r = kernel_configure(fs, l, upper, work, how);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue; /* this kernel wants layers another way */
                return mount_fs_create(fs, attrs, ret_mnt, why, why_size);
        }
        snprintf(why, why_size, "%s", "the kernel takes none of the ways to pass layers");
        return r;
}

/* overlayfs won't take layers on a detached mount: --tmp-overlay's tmpfs
 * is attached under a directory of the scaffold (BASE_FD), a new one for
 * each overlay. It stays there, out of the sandbox's sight, and goes with
 * the scaffold at the pivot: detaching it here would cost an RCU grace
 * period of its own (0.1 ms, at times several), the pivot's one umount
 * takes it along. */
static int kernel_mount_tmp(const Layers *l, int base_fd, int *ret_mnt, char *why, size_t why_size) {
        _cleanup_close_ int scratch = -EBADF, upper = -EBADF, work = -EBADF;
        int r = scratch_upper_work(base_fd, l->tmp_mode, &scratch);
        if (r < 0)
                return r;
        upper = openat(scratch, "upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        work = openat(scratch, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return upper < 0 || work < 0 ? -errno : kernel_mount_with(l, upper, work, false, ret_mnt, why, why_size);
}

/* Is something mounted below the directory FD (say /proc below /)? In a
 * user namespace those mounts are locked to their parent, and overlayfs
 * refuses such a layer (EINVAL, silently): it would reveal what they hide. */
static bool has_mounts_below(int fd) {
        char link[64], dir[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, dir, sizeof(dir) - 1);
        if (n <= 0)
                return false;
        dir[n] = '\0';
        size_t len = strcmp(dir, "/") == 0 ? 0 : (size_t) n;
        _cleanup_close_ int mi = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        _cleanup_(mount_table_done) MountTable t = {};
        if (mi < 0 || mount_table_read_fd(mi, &t) < 0)
                return false;
        for (size_t i = 0; i < t.n; i++) {
                const char *mp = t.mounts[i].mount_point;
                if (strncmp(mp, dir, len) == 0 && mp[len] == '/' && mp[len + 1] != '\0')
                        return true;
        }
        return false;
}

static int kernel_mount(const Layers *l, bool readonly, int base_fd, int *ret_mnt, char *why, size_t why_size) {
        int r = l->tmp ? kernel_mount_tmp(l, base_fd, ret_mnt, why, why_size) :
                         kernel_mount_with(l, l->upper, l->work, readonly, ret_mnt, why, why_size);
        if (r == -EINVAL && !why[0])
                for (size_t i = 0; i < l->n_lower; i++)
                        if (has_mounts_below(l->lower[i])) {
                                snprintf(why, why_size,
                                         "a layer has mounts below it, which kernel overlayfs "
                                         "refuses in a user namespace (fuse-overlayfs does not)");
                                break;
                        }
        return r;
}

/* ==== fuse-overlayfs: the child's side ==================================== */

enum {
        FUSE_REQUEST_READONLY = 1 << 0,
        FUSE_REQUEST_SQUASH = 1 << 1, /* show every file as ours, so copy-up of others' files works */
        FUSE_REQUEST_TMP = 1 << 2,    /* --tmp-overlay: a detached tmpfs with upper/ and work/ */
};

/* Child -> supervisor; fds: /dev/fuse, the user namespace, the lowers
 * (lowest first), then upper and work (--overlay) or the detached tmpfs
 * (--tmp-overlay). */
typedef struct FuseRequest {
        uint32_t n_lower;
        uint32_t flags;
        uint32_t uid, gid; /* inside ids, for squashing */
        /* --overlay's RWSRC and WORKDIR as the caller sees them: fuse-overlayfs
         * renames between the two, so they must stay on one mount, which
         * separate copies would not be. */
        char upper[2048], work[2048];
} FuseRequest;

typedef struct FuseReply {
        int32_t error; /* positive errno, 0 on success */
        char message[480];
} FuseReply;

/* SCM_RIGHTS carries at most 253 fds. */
#define FUSE_MAX_LOWER 240

typedef struct FdArray {
        int fds[FUSE_MAX_LOWER + 2];
        size_t n;
} FdArray;

static void fd_array_close(FdArray *a) {
        for (size_t i = 0; i < a->n; i++)
                safe_close(a->fds[i]);
        a->n = 0;
}

/* The path of directory FD as the caller sees it (the process root is the
 * caller's while the root is built), fit for fuse-overlayfs's options. */
static int option_path_of(int fd, char *buf, size_t size) {
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, buf, size - 1);
        if (n < 0)
                return -errno;
        if ((size_t) n >= size - 1)
                return -ENAMETOOLONG;
        buf[n] = '\0';
        if (buf[0] != '/' || strpbrk(buf, ",:\\"))
                return -EINVAL;
        return 0;
}

/* A detached copy of the tree at directory FD, submounts included. */
static int clone_tree(int fd, FdArray *a) {
        if (a->n >= ELEMENTSOF(a->fds))
                return -E2BIG;
        int t = mount_open_tree(fd, "", OPEN_TREE_CLONE | AT_RECURSIVE | AT_EMPTY_PATH);
        if (t < 0)
                return t;
        a->fds[a->n++] = t;
        return 0;
}

static int fuse_mount(const SandboxPlan *p, int fuse_fd, const Layers *l, bool readonly, int *ret_mnt, char *why,
                      size_t why_size) {
        int r;

        if (fuse_fd < 0) {
                snprintf(why, why_size, "no fuse-overlayfs supervisor");
                return -ENOTCONN;
        }
        if (l->n_lower > FUSE_MAX_LOWER) {
                snprintf(why, why_size, "at most %d layers", FUSE_MAX_LOWER);
                return -E2BIG;
        }

        /* We mount the fuse filesystem ourselves, with our capabilities in
         * the sandbox's user namespace: no setuid fusermount, and the daemon
         * gets the connection as /dev/fd/3 and needs no privilege at all. */
        _cleanup_close_ int dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (dev < 0) {
                r = -errno;
                snprintf(why, why_size, "can't open /dev/fuse: %s", strerror(-r));
                return r;
        }
        _cleanup_close_ int fs = mount_fs_open("fuse");
        if (fs < 0) {
                snprintf(why, why_size, "%s", fs == -ENODEV ? "fuse is not available" : strerror(-fs));
                return fs;
        }
        char fd_s[16], uid_s[16], gid_s[16];
        snprintf(fd_s, sizeof(fd_s), "%d", dev);
        snprintf(uid_s, sizeof(uid_s), "%u", (unsigned) getuid());
        snprintf(gid_s, sizeof(gid_s), "%u", (unsigned) getgid());
        const char *const strings[][2] = {
                { "source", "fuse-overlayfs" },
                { "subtype", "fuse-overlayfs" },
                { "fd", fd_s },
                { "rootmode", "40000" },
                { "user_id", uid_s },
                { "group_id", gid_s },
        };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                r = mount_fs_set(fs, strings[i][0], strings[i][1]);
                if (r < 0) {
                        mount_fs_messages(fs, why, why_size);
                        return r;
                }
        }
        /* allow_other: nested user namespaces of the sandbox can use it too
         * (the kernel still confines it to our user namespace);
         * default_permissions: the kernel checks modes, as on any fs. */
        if ((r = mount_fs_set(fs, "allow_other", NULL)) < 0 || (r = mount_fs_set(fs, "default_permissions", NULL)) < 0) {
                mount_fs_messages(fs, why, why_size);
                return r;
        }
        _cleanup_close_ int mnt = -EBADF;
        uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (readonly ? MOUNT_ATTR_RDONLY : 0);
        r = mount_fs_create(fs, attrs, &mnt, why, why_size);
        if (r < 0)
                return r;

        _cleanup_close_ int userns = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        if (userns < 0) {
                r = -errno;
                snprintf(why, why_size, "can't open /proc/self/ns/user: %s", strerror(-r));
                return r;
        }

        _cleanup_close_ int scratch = -EBADF;
        if (l->tmp) {
                r = scratch_upper_work(-EBADF, l->tmp_mode, &scratch);
                if (r < 0)
                        return r;
        }

        /* The daemon lives in another mount namespace: the layers go as
         * detached copies of the directories we opened (see daemon_attach_layers()). */
        _cleanup_(fd_array_close) FdArray trees = {};
        for (size_t i = 0; i < l->n_lower; i++)
                if ((r = clone_tree(l->lower[i], &trees)) < 0)
                        break;
        if (r < 0) {
                snprintf(why, why_size, "can't copy a layer for fuse-overlayfs: %s", strerror(-r));
                return r;
        }
        int fds[FUSE_MAX_LOWER + 4];
        size_t n = 0;
        fds[n++] = dev;
        fds[n++] = userns;
        for (size_t i = 0; i < trees.n; i++)
                fds[n++] = trees.fds[i];
        if (l->tmp)
                fds[n++] = scratch;
        FuseRequest req = {
                .n_lower = (uint32_t) l->n_lower,
                .flags = (readonly ? FUSE_REQUEST_READONLY : 0) | (l->tmp ? FUSE_REQUEST_TMP : 0) |
                         (!readonly && l->unmapped_owner ? FUSE_REQUEST_SQUASH : 0),
                .uid = (uint32_t) getuid(),
                .gid = (uint32_t) getgid(),
        };
        if (!l->tmp && !readonly) {
                if ((r = option_path_of(l->upper, req.upper, sizeof(req.upper))) < 0 ||
                    (r = option_path_of(l->work, req.work, sizeof(req.work))) < 0) {
                        snprintf(why, why_size, "%s",
                                 r == -EINVAL ? "RWSRC and WORKDIR can't contain ',', ':' or '\\' for fuse-overlayfs" :
                                                strerror(-r));
                        return r;
                }
                fds[n++] = l->upper; /* checked by the daemon against the paths */
                fds[n++] = l->work;
        }
        r = fd_send_with_fds(fuse_fd, &req, sizeof(req), fds, n);
        if (r < 0) {
                snprintf(why, why_size, "can't reach the fuse-overlayfs supervisor: %s", strerror(-r));
                return r;
        }
        /* Our copy of the connection goes now: once the daemon is gone, the
         * connection is aborted instead of hanging whoever uses the mount. */
        dev = safe_close(dev);

        FuseReply reply;
        ssize_t k;
        while ((k = recv(fuse_fd, &reply, sizeof(reply), 0)) < 0 && errno == EINTR)
                ;
        if (k != (ssize_t) sizeof(reply)) {
                snprintf(why, why_size, "the fuse-overlayfs supervisor is gone");
                return -ECONNRESET;
        }
        reply.message[sizeof(reply.message) - 1] = '\0';
        if (reply.error != 0) {
                snprintf(why, why_size, "%s", reply.message);
                return -reply.error;
        }
        *ret_mnt = TAKE_FD(mnt);
        return 0;
}

/* ==== the child: choosing the driver ====================================== */

int overlay_mount(const SandboxPlan *p, const MountOp *op, int fuse_fd, int base_fd, int *ret_mnt_fd, Error *e) {
        _cleanup_(layers_done) Layers l = { .upper = -EBADF, .work = -EBADF };
        bool readonly = op->readonly;
        int r = open_layers(op, &l, e);
        if (r < 0)
                return r;

        /* auto: the kernel (10-70x faster) whenever it takes the layers;
         * fuse-overlayfs where it refuses them (an old kernel, a layer with
         * mounts below it such as the host's /, a filesystem overlayfs
         * rejects). The mount attempt is the probe: nothing is mounted
         * twice. */
        OverlayDriver order[2];
        size_t n_order = 0;
        if (p->overlay_driver != OVERLAY_DRIVER_AUTO)
                order[n_order++] = p->overlay_driver;
        else {
                order[n_order++] = OVERLAY_DRIVER_KERNEL;
                order[n_order++] = OVERLAY_DRIVER_FUSE;
        }

        char why[2][512] = { "", "" };
        int errs[2] = { 0, 0 };
        for (size_t i = 0; i < n_order; i++) {
                _cleanup_close_ int mnt = -EBADF;
                r = order[i] == OVERLAY_DRIVER_KERNEL ? kernel_mount(&l, readonly, base_fd, &mnt, why[i], sizeof(why[i])) :
                                                        fuse_mount(p, fuse_fd, &l, readonly, &mnt, why[i], sizeof(why[i]));
                if (r >= 0) {
                        *ret_mnt_fd = TAKE_FD(mnt);
                        return 0;
                }
                if (r == -ENOMEM)
                        return error_setf(e, ENOMEM, "Out of memory");
                errs[i] = -r;
                if (!why[i][0])
                        snprintf(why[i], sizeof(why[i]), "%s", strerror(-r));
        }

        static const char *const labels[] = {
                [OVERLAY_DRIVER_KERNEL] = "kernel overlayfs",
                [OVERLAY_DRIVER_FUSE] = "fuse-overlayfs",
        };
        if (n_order == 1)
                return error_setf(e, errs[0], "Can't mount overlay on %s with %s: %s", op->dest, labels[order[0]], why[0]);
        return error_setf(e, errs[0], "Can't mount overlay on %s: %s: %s; %s: %s", op->dest, labels[order[0]], why[0],
                          labels[order[1]], why[1]);
}

/* ==== the supervisor ====================================================== */

static bool plan_may_use_fuse(const SandboxPlan *p) {
        if (p->overlay_driver == OVERLAY_DRIVER_KERNEL)
                return false;
        for (size_t i = 0; i < p->n_ops; i++)
                if (p->ops[i].type == MOUNT_OP_OVERLAY)
                        return true;
        return false;
}

static bool same_userns(int fd) {
        struct stat a, b;
        return fstat(fd, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Where the daemon's own mount namespace has its layers: fuse-overlayfs
 * wants paths it can realpath(), and no layer lives in /proc. */
#define DAEMON_DIR "/proc/fs"

/* The layers arrive as detached mount trees, cloned by the child from the
 * very directories it opened (a path of the child's, or /proc/self/fd/N of
 * one of its fds, would mean nothing in our namespace). Each is attached
 * under a tmpfs on DAEMON_DIR, in a private copy of the caller's mount
 * namespace: the lower layers as 0, 1, ..., --overlay's as upper and work,
 * --tmp-overlay's tmpfs as tmp. */
static int daemon_attach_layers(const FuseRequest *req, int *fds, size_t n_fds) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return -errno;
        if (mount("tmpfs", DAEMON_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
                return -errno;
        _cleanup_close_ int dir = open(DAEMON_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        for (size_t i = 2; i < n_fds; i++) {
                size_t k = i - 2;
                char name[16];
                if (k >= req->n_lower && !(req->flags & FUSE_REQUEST_TMP)) {
                        /* RWSRC and WORKDIR: by path, still the directories the child opened */
                        struct stat want, got;
                        const char *path = k == req->n_lower ? req->upper : req->work;
                        if (fstat(fds[i], &want) < 0 || stat(path, &got) < 0)
                                return -errno;
                        if (want.st_dev != got.st_dev || want.st_ino != got.st_ino)
                                return -EBUSY;
                        continue;
                }
                if (k < req->n_lower)
                        snprintf(name, sizeof(name), "%zu", k);
                else
                        snprintf(name, sizeof(name), "tmp");
                if (mkdirat(dir, name, 0700) < 0)
                        return -errno;
                int r = mount_move_to_path(fds[i], dir, name);
                if (r < 0)
                        return r;
                fds[i] = safe_close(fds[i]);
        }
        return 0;
}

typedef struct DaemonPrep {
        const FuseRequest *req;
        int *fds; /* as received (see start_daemon()) */
        size_t n_fds;
} DaemonPrep;

/* The daemon, before exec (HelperSpec.pre_exec; helpers.c has set up its
 * stdio, session and signals): the sandbox's user namespace (so that ids
 * mean inside what they mean to the kernel's fuse connection), no
 * capability (but see ns_root below), no new privileges. It stays in the
 * caller's pid namespace, out of the sandbox's sight, and sees the layers
 * the child opened, in a private mount namespace of its own. */
static int daemon_pre_exec(void *userdata, const char **what) {
        const DaemonPrep *d = userdata;
        int userns = d->fds[1];
        bool join = !same_userns(userns);
        uid_t outside_uid = getuid();
        if (join && setns(userns, CLONE_NEWUSER) < 0) {
                *what = "can't join the sandbox's user namespace";
                return -errno;
        }
        int r = daemon_attach_layers(d->req, d->fds, d->n_fds);
        if (r < 0) {
                *what = "can't attach the layers";
                return r;
        }
        /* An ordinary caller who is root in the namespace joined (the
         * sandbox's first one maps the caller to 0 when there is a --dev,
         * as bwrap's does): fuse-overlayfs then works as root, which it
         * can't without that namespace's capabilities (copy-ups of
         * read-only files fail). It keeps them, as rootless podman runs
         * it: they cover only the caller's own files and namespaces. */
        bool ns_root = join && outside_uid != 0 && getuid() == 0;
        r = !ns_root && (join || geteuid() == 0) ? caps_apply(0) : RET_NERRNO(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
        if (r < 0) {
                *what = "can't drop capabilities";
                return r;
        }
        return 0;
}

/* fuse-overlayfs' -o: the layers where daemon_attach_layers() put them,
 * --overlay's RWSRC and WORKDIR as the caller sees them. */
static char *daemon_options(const FuseRequest *req) {
        size_t n_lower = req->n_lower;
        size_t size = 256 + n_lower * 24 + sizeof(req->upper) + sizeof(req->work);
        char *opts = malloc(size);
        if (!opts)
                return NULL;
        size_t len = (size_t) snprintf(opts, size, "lowerdir=");
        /* fuse-overlayfs lists the top layer first. */
        for (size_t i = n_lower; i-- > 0;)
                len += (size_t) snprintf(opts + len, size - len, "%s" DAEMON_DIR "/%zu", i + 1 < n_lower ? ":" : "", i);
        if (req->flags & FUSE_REQUEST_TMP)
                len += (size_t) snprintf(opts + len, size - len,
                                         ",upperdir=" DAEMON_DIR "/tmp/upper,workdir=" DAEMON_DIR "/tmp/work");
        else if (!(req->flags & FUSE_REQUEST_READONLY))
                len += (size_t) snprintf(opts + len, size - len, ",upperdir=%s,workdir=%s", req->upper, req->work);
        if (req->flags & FUSE_REQUEST_SQUASH)
                snprintf(opts + len, size - len, ",squash_to_uid=%u,squash_to_gid=%u", req->uid, req->gid);
        return opts;
}

/* The first line of the daemon's stderr that says something. */
static void first_message(const char *out, char *buf, size_t size) {
        for (const char *line = out; *line;) {
                const char *end = strchrnul(line, '\n');
                size_t len = (size_t) (end - line);
                /* fuse-overlayfs always says this about its own default options */
                if (len > 0 && strncmp(line, "unknown argument ignored", 24) != 0) {
                        snprintf(buf, size, "%.*s", (int) len, line);
                        return;
                }
                line = *end ? end + 1 : end;
        }
}

/* Starts one daemon (through the one spawner, helpers.c) and waits until it
 * is serving: fuse-overlayfs forks into the background (we are its
 * subreaper) once it has opened its layers, and its first process exits 0;
 * any failure is in its output. FDS as received: /dev/fuse, the user
 * namespace, the lowers (detached trees), then upper and work or the
 * tmpfs. Only the connection is passed on, at 3. */
static void start_daemon(const char *binary, const FuseRequest *req, int *fds, size_t n_fds, FuseReply *reply) {
        DaemonPrep prep = { .req = req, .fds = fds, .n_fds = n_fds };
        _cleanup_free_ char *opts = daemon_options(req);
        if (!opts) {
                reply->error = ENOMEM;
                snprintf(reply->message, sizeof(reply->message), "Out of memory");
                return;
        }
        char *argv[] = { (char *) binary, (char *) "-o", opts, (char *) "/dev/fd/3", NULL };
        HelperSpec spec = {
                .path = binary,
                .argv = argv,
                .fds = fds,
                .n_fds = 1,
                /* Modes arrive with the sandbox's umask already applied. */
                .umask = 0,
                .capture_output = true,
                .pre_exec = daemon_pre_exec,
                .userdata = &prep,
        };
        _cleanup_helper_ Helper *h = NULL;
        char why[HELPER_WHY_MAX];
        int r = helper_start(&spec, &h, why, sizeof(why));
        if (r < 0) {
                reply->error = -r;
                snprintf(reply->message, sizeof(reply->message), "%s", why[0] ? why : strerror(-r));
                return;
        }
        r = helper_wait(h, 20000);
        if (r < 0) {
                reply->error = -r;
                snprintf(reply->message, sizeof(reply->message), "%s",
                         r == -ETIMEDOUT ? "fuse-overlayfs did not start within 20 s" : strerror(-r));
                return;
        }
        if (WIFEXITED(h->status) && WEXITSTATUS(h->status) == 0)
                return;

        _cleanup_free_ char *out = NULL;
        char msg[400] = "", status[96];
        if (helper_read_output(h, 4096, &out) >= 0)
                first_message(out, msg, sizeof(msg));
        helper_describe_status(h->status, status, sizeof(status));
        reply->error = EIO;
        if (msg[0])
                snprintf(reply->message, sizeof(reply->message), "%s", msg);
        else
                snprintf(reply->message, sizeof(reply->message), "fuse-overlayfs %s", status);
}

static _noreturn_ void supervisor_main(int channel) {
        /* Out of the caller's session (terminal signals are not for us or
         * the daemons), parent of orphaned daemons, not ptrace-able. */
        (void) setsid();
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
        (void) prctl(PR_SET_DUMPABLE, 0);
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0) {
                (void) dup2(null_fd, STDIN_FILENO);
                (void) dup2(null_fd, STDOUT_FILENO);
                (void) dup2(null_fd, STDERR_FILENO);
        }
        /* Nothing of the caller's (--sync-fd, --info-fd, a pipe someone
         * waits on) may be held open by us. */
        if (channel > 3)
                (void) close_range(3, (unsigned) channel - 1, 0);
        (void) close_range((unsigned) channel + 1, ~0U, 0);
        signal(SIGPIPE, SIG_IGN);

        char *binary = NULL;
        bool have_binary = helper_find_executable("fuse-overlayfs", &binary) >= 0;

        for (;;) {
                FuseRequest req;
                int fds[FUSE_MAX_LOWER + 4];
                size_t n_fds = 0;
                ssize_t n = fd_recv_with_fds(channel, &req, sizeof(req), fds, ELEMENTSOF(fds), &n_fds);
                if (n <= 0)
                        break; /* the child exec'd or died */

                FuseReply reply = {};
                size_t want = 2 + (size_t) req.n_lower +
                              (req.flags & FUSE_REQUEST_TMP      ? 1 :
                               req.flags & FUSE_REQUEST_READONLY ? 0 :
                                                                   2);
                req.upper[sizeof(req.upper) - 1] = req.work[sizeof(req.work) - 1] = '\0';
                if (n != (ssize_t) sizeof(req) || req.n_lower == 0 || n_fds != want) {
                        reply.error = EBADMSG;
                        snprintf(reply.message, sizeof(reply.message), "bad request to the fuse-overlayfs supervisor");
                } else if (!have_binary) {
                        reply.error = ENOENT;
                        snprintf(reply.message, sizeof(reply.message), "fuse-overlayfs not found in PATH");
                } else
                        start_daemon(binary, &req, fds, n_fds, &reply);
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                (void) send(channel, &reply, sizeof(reply), MSG_NOSIGNAL);
        }
        safe_close(channel);

        /* The daemons end with their mounts; reap them all. */
        for (;;) {
                pid_t r = waitpid(-1, NULL, 0);
                if (r < 0 && errno != EINTR)
                        break;
        }
        _exit(0);
}

/* Forks the supervisor on CHANNEL (which it takes). */
static int supervisor_fork(OverlaySupervisor *s, int channel) {
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(channel);
                return r;
        }
        if (pid == 0)
                supervisor_main(channel); /* closes every other fd */
        safe_close(channel);
        s->pid = pid;
        s->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (s->pidfd >= 0)
                (void) fcntl(s->pidfd, F_SETFD, FD_CLOEXEC);
        else
                s->pidfd = -EBADF;
        return 0;
}

/* The waiter thread: forks the supervisor once the child asks for a
 * daemon; ends without when the child's end closes unused (the child
 * exec'd or died), which is what a kernel overlayfs mount leads to. */
static void *supervisor_waiter(void *userdata) {
        OverlaySupervisor *s = userdata;
        char c;
        ssize_t n;
        while ((n = recv(s->waiting_end, &c, sizeof(c), MSG_PEEK)) < 0 && errno == EINTR)
                ;
        int channel = TAKE_FD(s->waiting_end);
        if (n > 0)
                (void) supervisor_fork(s, channel); /* a failure: the child sees end-of-file */
        else
                safe_close(channel);
        return NULL;
}

bool overlay_supervisor_wanted(const SandboxPlan *p) {
        return plan_may_use_fuse(p);
}

int overlay_supervisor_start(const SandboxPlan *p, bool lazy, OverlaySupervisor *ret) {
        if (!overlay_supervisor_wanted(p))
                return 0;

        int fds[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
                return -errno;
        ret->child_end = fds[1];
        if (!lazy)
                return supervisor_fork(ret, fds[0]);

        /* The thread starts with every signal blocked: they are the main
         * thread's (the monitor's signalfd). A small stack: it only waits,
         * and forks. */
        ret->waiting_end = fds[0];
        pthread_attr_t attr;
        sigset_t all, saved;
        int r = -pthread_attr_init(&attr);
        if (r < 0)
                goto fail;
        (void) pthread_attr_setstacksize(&attr, 256 * 1024);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        r = -pthread_create(&ret->waiter, &attr, supervisor_waiter, ret);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        pthread_attr_destroy(&attr);
        if (r < 0)
                goto fail;
        ret->have_waiter = true;
        return 0;
fail:
        ret->waiting_end = safe_close(ret->waiting_end);
        ret->child_end = safe_close(ret->child_end);
        return r;
}

void overlay_supervisor_forget_child_end(OverlaySupervisor *s) {
        s->child_end = safe_close(s->child_end);
}

void overlay_supervisor_done(OverlaySupervisor *s) {
        s->child_end = safe_close(s->child_end);
        /* The child's end is closed everywhere by now (its last process is
         * gone): the waiter has forked the supervisor or sees end-of-file. */
        if (s->have_waiter) {
                (void) pthread_join(s->waiter, NULL);
                s->have_waiter = false;
        }
        if (s->pid <= 0)
                return;
        /* Normally a matter of milliseconds: the mounts went with the
         * sandbox's last process. */
        const int timeout_ms = 5000;
        if (s->pidfd >= 0) {
                struct pollfd pfd = { .fd = s->pidfd, .events = POLLIN };
                int k;
                while ((k = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
                        ;
                if (k > 0)
                        (void) waitpid(s->pid, NULL, 0);
        } else {
                for (int i = 0; i < timeout_ms / 10; i++) {
                        pid_t r = waitpid(s->pid, NULL, WNOHANG);
                        if (r == s->pid || (r < 0 && errno != EINTR))
                                break;
                        usleep(10000);
                }
        }
        s->pidfd = safe_close(s->pidfd);
        s->pid = 0;
}
