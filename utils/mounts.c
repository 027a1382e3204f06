/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fd-util.h"
#include "fs-util.h"
#include "macro.h"
#include "mount-util.h"
#include "mounts.h"
#include "overlay.h"

/* --- The fallback for kernels without mount_setattr() (before 5.12) -------- */

/* The caller's view while the new root is built (see mounts_new_root()). */
static int enter_caller_view(const NewRoot *root) {
        if (fchdir(root->caller_root_fd) < 0 || chroot(".") < 0 || fchdir(root->caller_cwd_fd) < 0)
                return -errno;
        return 0;
}

/* mountinfo lists the mounts below the reader's root as it was at open():
 * while the new root is built, that is the caller's tree, so ROOT's
 * mountinfo is opened with the scaffold as the root. */
static int open_mountinfo(const NewRoot *root, int *ret_fd) {
        if (!root) {
                int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                *ret_fd = fd;
                return 0;
        }
        _cleanup_close_ int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (proc < 0)
                return -errno;
        if (fchdir(root->scaffold_fd) < 0 || chroot(".") < 0)
                return -errno;
        int fd = openat(proc, "self/mountinfo", O_RDONLY | O_CLOEXEC);
        int r = fd < 0 ? -errno : 0;
        int k = enter_caller_view(root);
        if (r < 0 || k < 0) {
                safe_close(fd);
                return r < 0 ? r : k;
        }
        *ret_fd = fd;
        return 0;
}

static int mount_table_read(const NewRoot *root, MountTable *ret) {
        _cleanup_close_ int fd = -EBADF;
        int r = open_mountinfo(root, &fd);
        if (r < 0)
                return r;
        return mount_table_read_fd(fd, ret);
}

static const MountInfo *mount_table_find(const MountTable *t, uint64_t id) {
        for (size_t i = 0; i < t->n; i++)
                if (t->mounts[i].id == id)
                        return &t->mounts[i];
        return NULL;
}

/* Is ANCESTOR_ID above M in the tree of mounts (parent IDs, not paths)? */
static bool mount_is_below(const MountTable *t, const MountInfo *m, uint64_t ancestor_id) {
        for (size_t depth = 0; m && depth < t->n; depth++) {
                if (m->parent == ancestor_id)
                        return true;
                if (m->parent == m->id)
                        return false;
                m = mount_table_find(t, m->parent);
        }
        return false;
}

/* The ID of the mount FD is on: statx() tells from Linux 5.8, fdinfo before. */
static int fd_mount_id(int fd, uint64_t *ret) {
        struct statx sx;
        if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
                return -errno;
        if (sx.stx_mask & STATX_MNT_ID) {
                *ret = sx.stx_mnt_id;
                return 0;
        }
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
        _cleanup_close_ int info = open(p, O_RDONLY | O_CLOEXEC);
        if (info < 0)
                return -errno;
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = read_full_fd(info, 1 << 16, (void **) &data, &len);
        if (r < 0)
                return r;
        const char *field = strstr(data, "mnt_id:");
        if (!field)
                return -EOPNOTSUPP;
        *ret = strtoull(field + strlen("mnt_id:"), NULL, 10);
        return 0;
}

/* M's mount point relative to ROOT's, or NULL when it is not below it. */
static const char *mount_point_below(const MountInfo *m, const MountInfo *root) {
        const char *base = root->mount_point;
        size_t n = strcmp(base, "/") == 0 ? 0 : strlen(base);
        if (strncmp(m->mount_point, base, n) != 0 || (m->mount_point[n] != '/' && m->mount_point[n] != '\0'))
                return NULL;
        const char *rel = m->mount_point + n;
        return *rel == '/' ? rel + 1 : rel;
}

/* The topmost mount stacked on the root of FD's mount. A lookup does not
 * cross a mount stacked on the directory it starts from, but ".." out of a
 * subdirectory lands on it, for the command as for us. (A bind of "/"
 * brings such a mount along: a copy of the new root, which is stacked on
 * the caller's "/".) */
static int open_stacked_on_root(int fd, int *ret_fd) {
        int dir = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        _cleanup_closedir_ DIR *d = fdopendir(dir);
        if (!d) {
                safe_close(dir);
                return -errno;
        }
        int r = -EBUSY; /* no way up from below: fail rather than guess */
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                _cleanup_free_ char *up = NULL;
                r = asprintf(&up, "%s/..", de->d_name) < 0 ? -ENOMEM : open_beneath_no_symlinks(fd, up, ret_fd);
                break;
        }
        return r;
}

/* Remounts the submount M of the tree whose root mount (ROOT) FD is on,
 * through an fd opened at its mount point beneath FD. */
static int remount_submount(int fd, const MountTable *t, const MountInfo *root, const MountInfo *m, unsigned long flags) {
        const char *rel = mount_point_below(m, root);
        if (!rel)
                return -EBUSY;
        _cleanup_close_ int sub = -EBADF;
        int r = *rel ? open_beneath_no_symlinks(fd, rel, &sub) : open_stacked_on_root(fd, &sub);
        if (r < 0)
                return r;
        uint64_t id;
        r = fd_mount_id(sub, &id);
        if (r < 0)
                return r;
        if (id == m->id)
                return mount_remount_bind(sub, flags);
        /* Its path ended on one of its own ancestors, or on a mount that
         * came after mountinfo was read: things changed under us. Any other
         * mount there covers it (stacked on it, or on a directory above it):
         * a covered mount is out of every path's reach, so bwrap skips it
         * too. */
        const MountInfo *found = mount_table_find(t, id);
        if (!found || mount_is_below(t, m, id))
                return -EBUSY;
        return 0;
}

/* Every mount below FD's, found by mount ID in one read of mountinfo. */
static int remount_submounts(const NewRoot *nr, int fd, unsigned long flags) {
        uint64_t root_id;
        int r = fd_mount_id(fd, &root_id);
        if (r < 0)
                return r;
        _cleanup_(mount_table_done) MountTable t = {};
        r = mount_table_read(nr, &t);
        if (r < 0)
                return r;
        const MountInfo *root = mount_table_find(&t, root_id);
        if (!root)
                return -ENOENT;
        for (size_t i = 0; i < t.n; i++) {
                if (!mount_is_below(&t, &t.mounts[i], root_id))
                        continue;
                r = remount_submount(fd, &t, root, &t.mounts[i], flags);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* mount_setattr_fd() with mount(2) remounts, on a mount attached in our
 * namespace; with AT_RECURSIVE, its submounts are found by mount ID in one
 * read of /proc/self/mountinfo. Attributes the mounts have are kept. */
static int mounts_remount(const NewRoot *root, int fd, unsigned flags, uint64_t attrs) {
        unsigned long ms = mount_ms_flags_of_attrs(attrs);
        int r = mount_remount_bind(fd, ms);
        if (r < 0 || !(flags & AT_RECURSIVE))
                return r;
        return remount_submounts(root, fd, ms);
}

static int new_tmpfs(mode_t mode, uint64_t size, int *ret_fd) {
        char mode_s[16], size_s[32];
        snprintf(mode_s, sizeof(mode_s), "%04o", (unsigned) mode);
        snprintf(size_s, sizeof(size_s), "%" PRIu64, size);
        const char *options[] = { "mode", mode_s, size ? "size" : NULL, size_s, NULL };
        return mount_new("tmpfs", options, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, ret_fd);
}

/* Identity of a directory as a mount point: its mount and inode. */
static int mount_point_id(int fd, MountPointId *ret) {
        struct statx sx;
        if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID | STATX_INO, &sx) < 0)
                return -errno;
        *ret = (MountPointId) { .mnt_id = sx.stx_mnt_id, .ino = sx.stx_ino, .dev = makedev(sx.stx_dev_major, sx.stx_dev_minor) };
        return 0;
}

/* Is FD the new root's top directory? Compared with the identity kept in
 * ROOT: one statx per destination. */
static bool is_new_root(const NewRoot *root, int fd) {
        MountPointId id;
        return mount_point_id(fd, &id) >= 0 && id.mnt_id == root->id.mnt_id && id.ino == root->id.ino &&
               id.dev == root->id.dev;
}

/* "/", "//", "/./x/.." and the like: the root itself, by the letters. */
static bool path_is_root(const char *path) {
        size_t depth = 0;
        for (const char *c = path; *c;) {
                size_t n = strcspn(c, "/");
                if (n == 2 && c[0] == '.' && c[1] == '.')
                        depth -= depth > 0;
                else if (n > 0 && !(n == 1 && c[0] == '.'))
                        depth++;
                c += n + (c[n] == '/');
        }
        return depth == 0;
}

/* Only "/" itself may be mounted over: a destination that a symlink turns
 * into the new root (--symlink / /data --ro-bind DIR /data) would leave the
 * sandbox without its "/". *RET_ONTO_ROOT: DST_FD is the new root's top
 * (then DEST is "/"), for attach(): one statx per destination. */
static int check_dest(const NewRoot *root, int dst_fd, const char *dest, bool *ret_onto_root, Error *e) {
        *ret_onto_root = root && is_new_root(root, dst_fd);
        if (!*ret_onto_root || path_is_root(dest))
                return 0;
        return error_setf(e, ELOOP, "Can't mount on %s: it resolves to the sandbox's root", dest);
}

/* Attaches MNT_FD on DST_FD; ONTO_ROOT: DST_FD is the new root's top (as
 * check_dest() or is_new_root() found). Lookups starting at a dirfd do not
 * cross a mount stacked on that very directory, so a mount over the root
 * becomes the root fd later ops resolve from. */
static int attach(NewRoot *root, int mnt_fd, int dst_fd, bool onto_root) {
        /* The new root's first mount: a detached tree of its own, where the
         * root is built detached. */
        bool keep_detached = onto_root && root->bare && root->detached;
        if (!keep_detached) {
                int r = mount_move(mnt_fd, dst_fd);
                if (r < 0)
                        return r;
        }
        if (!onto_root)
                return 0;
        int fd = fcntl(mnt_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        if (keep_detached) {
                root->tree_fd = fcntl(mnt_fd, F_DUPFD_CLOEXEC, 3);
                if (root->tree_fd < 0) {
                        safe_close(fd);
                        return -errno;
                }
        }
        safe_close(root->fd);
        root->fd = fd;
        root->bare = false;
        return mount_point_id(root->fd, &root->id);
}

/* mounts_attach_with_attrs() where the caller knows whether DST_FD is the
 * new root's top (ONTO_ROOT). */
static int attach_with_attrs(NewRoot *root, int mnt_fd, int dst_fd, bool onto_root, unsigned flags, uint64_t attrs) {
        int r = mount_setattr_fd(mnt_fd, flags, attrs);
        bool remount = r == -ENOSYS; /* before Linux 5.12: after attaching */
        if (r < 0 && !remount)
                return r;
        r = root ? attach(root, mnt_fd, dst_fd, onto_root) : mount_move(mnt_fd, dst_fd);
        if (r < 0 || !remount)
                return r;
        return mounts_remount(root, mnt_fd, flags, attrs);
}

int mounts_attach_with_attrs(NewRoot *root, int mnt_fd, int dst_fd, unsigned flags, uint64_t attrs) {
        return attach_with_attrs(root, mnt_fd, dst_fd, root && is_new_root(root, dst_fd), flags, attrs);
}

/* Is there an entry at PATH, of any kind, without following a symlink
 * there? */
static bool lexists_in_root(int root_fd, char *path) {
        _cleanup_close_ int dir = -EBADF;
        struct stat st;
        char *slash = strrchr(path, '/');
        if (!slash)
                return false;
        *slash = '\0';
        int r = open_in_root(root_fd, slash == path ? "/" : path, O_DIRECTORY, &dir);
        *slash = '/';
        return r >= 0 && fstatat(dir, slash + 1, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* bwrap makes a destination's parents first, each as its ensure_dir()
 * does, and a failure there is "Can't mkdir parents for DEST"; we make the
 * whole path in one walk, and tell which part failed by walking the
 * parents as bwrap would, without creating anything: a parent that
 * resolves to a directory is fine, one that resolves to something else is
 * bwrap's ENOTDIR, an entry that resolves nowhere (a dangling symlink) is
 * its mkdir()'s EEXIST and fine, no entry at all is where it failed. */
static bool parent_missing(int root_fd, const char *dest) {
        _cleanup_free_ char *path = strdup(dest);
        if (!path)
                return false;
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
                path[--n] = '\0';
        for (char *c = path + strspn(path, "/"); (c = strchr(c, '/')); c += strspn(c, "/")) {
                _cleanup_close_ int fd = -EBADF;
                *c = '\0';
                int r = open_in_root(root_fd, path, O_DIRECTORY, &fd);
                bool ok = r >= 0 || (r != -ENOTDIR && lexists_in_root(root_fd, path));
                *c = '/';
                if (!ok)
                        return true;
        }
        return false;
}

/* bwrap's messages about mounts name paths as its setup sees them: the new
 * root under /newroot, the caller's tree under /oldroot.  Ours say the same
 * (scripts match bwrap's words; our scaffold has the same two names). */
#define NEWROOT_PATH_MAX (PATH_MAX + 16)
static const char *newroot_path(const char *dest, char buf[static NEWROOT_PATH_MAX]) {
        while (*dest == '/')
                dest++;
        snprintf(buf, NEWROOT_PATH_MAX, "/newroot/%s", dest);
        return buf;
}

/* "Can't mount FSTYPE on /newroot/DEST: ERROR", bwrap's words. */
static int mount_error(Error *e, int r, const char *fstype, const char *dest) {
        char buf[NEWROOT_PATH_MAX];
        return error_set_errno(e, r, "Can't mount %s on %s", fstype, newroot_path(dest, buf));
}

/* The directory a new mount goes on, made before the mount, as bwrap's
 * order has it (a read-only parent is named before a refused mount). */
static int make_mount_point(NewRoot *root, const char *dest, int *ret_fd, bool *ret_onto_root, Error *e) {
        _cleanup_close_ int dst = -EBADF;
        int r = mkdir_p_in_root(root->fd, dest, 0755, &dst);
        if (r < 0 && parent_missing(root->fd, dest))
                return error_set_errno(e, r, "Can't mkdir parents for %s", dest);
        if (r < 0)
                return error_set_errno(e, r, "Can't mkdir %s", dest);
        r = check_dest(root, dst, dest, ret_onto_root, e);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(dst);
        return 0;
}

static int attach_new_mount_at_dir(NewRoot *root, int mnt_fd, const char *dest, Error *e) {
        _cleanup_close_ int dst = -EBADF;
        bool onto_root;
        int r = make_mount_point(root, dest, &dst, &onto_root, e);
        if (r < 0)
                return r;
        r = attach(root, mnt_fd, dst, onto_root);
        if (r < 0)
                return error_set_errno(e, r, "Can't mount on %s", dest);
        return 0;
}

int mounts_check_kernel(Error *e) {
        /* Each probed with bad arguments: EBADF or EFAULT where it exists.
         * All arrived by Linux 5.2 (openat2, also needed, in 5.6); a seccomp
         * policy may hide any of them. mount_setattr (5.12) is not probed:
         * without it, attributes are applied with mount(2) remounts. */
        static const struct {
                const char *name;
                long nr;
        } calls[] = {
                { "fsopen", SYS_fsopen },       { "fsconfig", SYS_fsconfig },     { "fsmount", SYS_fsmount },
                { "open_tree", SYS_open_tree }, { "move_mount", SYS_move_mount },
        };
        for (size_t i = 0; i < ELEMENTSOF(calls); i++)
                if (syscall(calls[i].nr, -1, NULL, 0, NULL, 0) < 0 && errno == ENOSYS)
                        return error_setf(e, ENOSYS,
                                          "This kernel lacks %s(): csand builds the sandbox with the new mount API "
                                          "(Linux 5.6 or later), which a seccomp policy may also hide",
                                          calls[i].name);
        return 0;
}

int mounts_isolate(void) {
        return RET_NERRNO(mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL));
}

/* The directory FD names, opened so that what is mounted on it is reached. */
static int open_mounted(int dir_fd, const char *name, int *ret_fd) {
        int fd = openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

/* The scaffold: a tmpfs with newroot/ (and, where it becomes the
 * namespace's root, oldroot/). bwrap's base tmpfs has no mode=; the new
 * root, its newroot/ bound onto itself, shows the same options (nobody but
 * us reaches the scaffold's top: it is above that mount's). */
static int scaffold_make(bool with_oldroot, int *ret_fd) {
        _cleanup_close_ int scaffold = -EBADF;
        int r = new_tmpfs(01777, 0, &scaffold);
        if (r < 0)
                return r;
        if ((with_oldroot && mkdirat(scaffold, "oldroot", 0700) < 0) || mkdirat(scaffold, "newroot", 0755) < 0)
                return -errno;
        *ret_fd = TAKE_FD(scaffold);
        return 0;
}

/* The scaffold, for the new root's tmpfs or scratch space. Where the root
 * is built detached, it is made when first needed, and is never attached:
 * it goes, with the scratch mounts under it, when its fd is closed. */
static int scaffold_get(NewRoot *root, int *ret_fd) {
        if (root->scaffold_fd < 0) {
                int r = scaffold_make(false, &root->scaffold_fd);
                if (r < 0)
                        return r;
        }
        *ret_fd = root->scaffold_fd;
        return 0;
}

int mounts_new_root(const SandboxPlan *p, NewRoot *ret) {
        _cleanup_close_ int scaffold = -EBADF, cwd = -EBADF, newroot = -EBADF, oldroot = -EBADF;
        int r;

        /* Nothing to do before the first op: the caller's tree stays the
         * process root, and bind sources resolve exactly as the caller sees
         * them (absolute, relative to its directory, through symlinks and
         * /proc magic links), whatever the operations before them did to
         * the new root, which nothing leads to until mounts_pivot(). */
        /* (--remount-ro changes a mount already in the new root, which
         * mount_setattr() refuses inside a detached tree, but for its top:
         * such a root is built attached.) */
        if (!plan_has_op(p, MOUNT_OP_REMOUNT_RO) && mount_detached_trees_supported()) {
                *ret = NEW_ROOT_NULL;
                ret->bare = true;
                ret->detached = true;
                return 0;
        }

        cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0)
                return -errno;
        r = scaffold_make(true, &scaffold);
        if (r < 0)
                return r;
        r = mount_move_to_path(scaffold, AT_FDCWD, "/");
        if (r < 0)
                return r;
        /* The caller's tree moves under the scaffold, and nothing of ours is
         * stacked on its root any more: ".." that climbs to its top, from a
         * path or a relative symlink, stays in it. */
        if (fchdir(scaffold) < 0)
                return -errno;
        if (syscall(SYS_pivot_root, ".", "oldroot") < 0)
                return -errno;

        /* Not yet a mount: mounts_execute() mounts its tmpfs there, or the
         * first operation's bind where that covers "/" anyway. */
        r = open_mounted(scaffold, "newroot", &newroot);
        if (r < 0)
                return r;

        /* While the root is built, the process root is the caller's, as
         * above. */
        r = open_mounted(scaffold, "oldroot", &oldroot);
        if (r < 0)
                return r;
        NewRoot root = NEW_ROOT_NULL;
        root.fd = TAKE_FD(newroot);
        root.bare = true;
        root.scaffold_fd = TAKE_FD(scaffold);
        root.caller_root_fd = TAKE_FD(oldroot);
        root.caller_cwd_fd = TAKE_FD(cwd);
        r = mount_point_id(root.fd, &root.id);
        if (r >= 0)
                r = enter_caller_view(&root);
        if (r < 0) {
                new_root_done(&root);
                return r;
        }
        *ret = root;
        return 0;
}

static bool is_dangling_symlink(int root_fd, const char *path);

/* "Can't bind mount /oldroot/SOURCE on /newroot/DEST: ...", bwrap's words. */
static int bind_error(Error *e, int r, const MountOp *op) {
        char real[PATH_MAX], buf[NEWROOT_PATH_MAX];
        const char *from = realpath(op->source, real) ? real : op->source;
        return error_set_errno(e, r, "Can't bind mount /oldroot%s on %s: Unable to mount source on destination", from,
                               newroot_path(op->dest, buf));
}

/* A mount point for a file: an existing non-directory will do, as in
 * bwrap's ensure_file(); a directory is the error creating a file there
 * gives. */
static int touch_file_in_root(int root_fd, const char *dest, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        size_t n = strlen(dest);
        if (n > 0 && dest[n - 1] == '/') {
                /* what creating "DEST/" gives bwrap, after the parents */
                _cleanup_free_ char *base = NULL;
                int r = open_parent_in_root(root_fd, dest, &fd, &base);
                return r < 0 ? r : -EISDIR;
        }
        int r = touch_in_root(root_fd, dest, 0444, &fd);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static mode_t op_perms(const MountOp *op);

static void forget_parent(NewRoot *root) {
        root->parent_fd = safe_close(root->parent_fd);
        free(root->parent_path);
        root->parent_path = NULL;
}

/* Makes DEST's parents as mkdir_parents_in_root() does, with one lookup
 * where they all exist already (a bind's usual case): when the path before
 * DEST's last slash resolves to a directory, so does each of its prefixes,
 * and bwrap makes none. *RET_PARENT gets that directory, owned by ROOT,
 * when DEST's last component is a name to make in it (no slash at DEST's
 * end, neither "." nor ".."), else -EBADF.
 *
 * The directory is kept for the next bind under the same path, as long as
 * every op in between was a bind onto a directory it made there
 * (mounts_execute() and bind_tree() forget it otherwise): such a mount
 * covers an empty directory no lookup went through, so the path still
 * leads where it led. */
static int make_parents(NewRoot *root, const char *dest, mode_t mode, int *ret_parent, const char **ret_base) {
        *ret_parent = -EBADF;
        const char *slash = strrchr(dest, '/');
        size_t n = slash ? (size_t) (slash - dest) : 0;
        const char *base = slash ? slash + 1 : dest;
        bool named = *base && strcmp(base, ".") != 0 && strcmp(base, "..") != 0;
        if (n == 0 || strspn(dest, "/") >= n || !named)
                return mkdir_parents_in_root(root->fd, dest, mode); /* the root's child, or no name to make */
        if (!root->parent_path || strlen(root->parent_path) != n || memcmp(root->parent_path, dest, n) != 0) {
                forget_parent(root);
                _cleanup_free_ char *prefix = strndup(dest, n);
                if (!prefix)
                        return -ENOMEM;
                if (open_in_root(root->fd, prefix, O_DIRECTORY, &root->parent_fd) < 0)
                        return mkdir_parents_in_root(root->fd, dest, mode);
                root->parent_path = TAKE_PTR(prefix);
        }
        *ret_parent = root->parent_fd;
        *ret_base = base;
        return 0;
}

/* A bind's directory DEST, as mkdir_p_in_root() makes it; with PARENT (its
 * parent, from make_parents()), one mkdir and one open when DEST is new.
 * *RET_FRESH: DEST is a directory just made here, and opened without
 * following a symlink: nothing is mounted on it and it is not the new
 * root's top. Anything else (it exists, the mkdir fails) takes the general
 * way, which gives the same result and errors. */
static int make_bind_dir(NewRoot *root, const char *dest, int parent, const char *base, int *ret_fd, bool *ret_fresh) {
        *ret_fresh = false;
        if (parent >= 0 && mkdirat(parent, base, 0755) == 0) {
                int fd = openat(parent, base, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0) {
                        *ret_fd = fd;
                        *ret_fresh = true;
                        return 0;
                }
        }
        return mkdir_p_in_root(root->fd, dest, 0755, ret_fd);
}

static int attach_bind(const MountOp *op, NewRoot *root, int src, const struct stat *st, int parent, const char *base,
                       uint64_t attrs, Error *e);

static int root_ensure_mounted(NewRoot *root, Error *e);

/* Clones SOURCE (and its submounts) from the caller's view and attaches it
 * at DEST, after setting the attributes on the whole detached tree: one
 * mount_setattr(AT_RECURSIVE) instead of a remount per submount, and no
 * mountinfo parsing, so the cost stays linear in the number of binds.
 * Before Linux 5.12 the attributes follow the attach, as remounts (no one
 * runs in the sandbox yet to see it writable in between).
 *
 * bwrap looks at the source (a stat: a missing -try source skips the op)
 * and then makes DEST's parents; here the clone is that look, so unless
 * PARENTS_MADE the parents follow it. When the clone fails, the parents are
 * made first, as bwrap's stat would have let it, and then the clone's
 * error is told. */
static int bind_tree(const MountOp *op, NewRoot *root, int expect_fd, bool parents_made, Error *e) {
        _cleanup_close_ int src = mount_open_tree(AT_FDCWD, op->source, OPEN_TREE_CLONE | AT_RECURSIVE);
        if (src == -ENOENT && op->try_only)
                return 0;
        int r = 0;
        int parent = -EBADF; /* ROOT's */
        const char *base = NULL;
        /* A first bind onto "/" (see mounts_execute()) has no parents, and
         * where the root is built detached, no root fd yet either. */
        if (!parents_made && !root->bare) {
                r = make_parents(root, op->dest, parent_dir_mode(op_perms(op)), &parent, &base);
                if (r < 0)
                        return error_set_errno(e, r, "Can't mkdir parents for %s", op->dest);
        }
        if (src < 0)
                return error_set_errno(e, src, "Can't find source path %s", op->source);
        if (expect_fd >= 0 && !fd_same_inode(src, expect_fd))
                return error_setf(e, EBUSY, "Race condition binding fd %d: %s is no longer the file it held", expect_fd,
                                  op->source);

        uint64_t attrs = MOUNT_ATTR_NOSUID;
        if (!op->allow_devices)
                attrs |= MOUNT_ATTR_NODEV;
        if (op->readonly)
                attrs |= MOUNT_ATTR_RDONLY;
        struct stat st;
        if (fstat(src, &st) < 0)
                return error_set_errno(e, errno, "Can't stat %s", op->source);
        if (S_ISDIR(st.st_mode)) {
                /* Started at the first directory bind, in the caller's view:
                 * nothing else can show the state directories. */
                if (!root->state_watched) {
                        r = state_watch_start(&root->state);
                        root->state_watched = r >= 0;
                }
                if (r >= 0)
                        r = state_watch_note_bind(&root->state, &st, op->dest);
        }
        if (r < 0)
                return error_set_errno(e, r, "Can't bind mount %s on %s", op->source, op->dest);

        if (root->bare && S_ISDIR(st.st_mode)) {
                r = attach_with_attrs(root, src, root->fd, true, AT_RECURSIVE, attrs);
                return r < 0 ? bind_error(e, r, op) : 0;
        }
        /* (a file onto "/" fails as bwrap's does, on its tmpfs) */
        if (root_ensure_mounted(root, e) < 0)
                return -e->error;
        return attach_bind(op, root, src, &st, parent, base, attrs, e);
}

/* bind_tree()'s attach of SRC (its stat ST) at DEST: its mount point made
 * (a new directory under PARENT when it is there, named BASE) and checked. */
static int attach_bind(const MountOp *op, NewRoot *root, int src, const struct stat *st, int parent, const char *base,
                       uint64_t attrs, Error *e) {
        _cleanup_close_ int dst = -EBADF;
        bool fresh = false;
        int r;
        if (S_ISDIR(st->st_mode)) {
                r = make_bind_dir(root, op->dest, parent, base, &dst, &fresh);
                /* a symlink leading nowhere or in circles: bwrap's mkdir()
                 * meets EEXIST there, and its mount fails */
                if ((r == -ENOENT || r == -ELOOP) && is_dangling_symlink(root->fd, op->dest))
                        return bind_error(e, r, op);
                if (r < 0 && parent_missing(root->fd, op->dest))
                        return error_set_errno(e, r, "Can't mkdir parents for %s", op->dest);
                if (r < 0)
                        return error_set_errno(e, r, "Can't mkdir %s", op->dest);
        } else {
                r = touch_file_in_root(root->fd, op->dest, &dst);
                if (r < 0 && parent_missing(root->fd, op->dest))
                        return error_set_errno(e, r, "Can't mkdir parents for %s", op->dest);
                if (r < 0)
                        return error_set_errno(e, r, "Can't create file at %s", op->dest);
        }
        bool onto_root = false;
        if (!fresh) {
                forget_parent(root); /* this mount may cover a path's way */
                r = check_dest(root, dst, op->dest, &onto_root, e);
                if (r < 0)
                        return r;
        }

        r = attach_with_attrs(root, src, dst, onto_root, AT_RECURSIVE, attrs);
        if (r < 0)
                return bind_error(e, r, op);
        return 0;
}

static int op_bind(const MountOp *op, NewRoot *root, Error *e) {
        return bind_tree(op, root, -EBADF, false, e);
}

static int op_remount_ro(const MountOp *op, int root_fd, Error *e) {
        _cleanup_close_ int fd = -EBADF;
        char buf[NEWROOT_PATH_MAX];
        const char *dest = newroot_path(op->dest, buf);
        int r = open_in_root(root_fd, op->dest, 0, &fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't remount readonly on %s: realpath(destination)", dest);
        /* bwrap's remount is a bind remount without device access: it adds
         * nosuid and nodev too. */
        const uint64_t attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        r = mount_setattr_fd(fd, 0, attrs);
        if (r == -ENOSYS)
                r = mounts_remount(NULL, fd, 0, attrs);
        if (r == -EINVAL) /* not a mount point */
                return error_setf(e, EINVAL, "Can't remount readonly on %s: Unable to find \"%s\" in mount table", dest, dest);
        if (r < 0)
                return error_set_errno(e, r, "Can't remount readonly on %s: Unable to remount destination \"%s\" with correct flags",
                                       dest, dest);
        return 0;
}

/* bwrap's list: writable, these would reach host kernel state. */
static const char *const proc_read_only[] = { "sys", "sysrq-trigger", "irq", "bus" };

/* A procfs of our own needs a pid namespace of our own: the kernel refuses
 * a new instance for the caller's. Sharing the caller's, we bind the
 * caller's /proc, as bwrap does. */
static int proc_mount(const SandboxPlan *p, int *ret_fd) {
        if (p->unshare_pid || p->pidns_fd >= 0)
                return mount_new("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, ret_fd);
        int fd = mount_open_tree(AT_FDCWD, "/proc", OPEN_TREE_CLONE | AT_RECURSIVE);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

static int op_proc(const SandboxPlan *p, const MountOp *op, NewRoot *root, Error *e) {
        _cleanup_close_ int proc = -EBADF, point = -EBADF;
        bool onto_root;
        int r = make_mount_point(root, op->dest, &point, &onto_root, e);
        if (r < 0)
                return r;
        r = proc_mount(p, &proc);
        /* The caller's, bound: nosuid,nodev as bwrap's binds have. */
        if (r >= 0 && !p->unshare_pid && p->pidns_fd < 0)
                r = attach_with_attrs(root, proc, point, onto_root, AT_RECURSIVE, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        else if (r >= 0)
                r = attach(root, proc, point, onto_root);
        if (r < 0)
                return mount_error(e, r, "proc", op->dest);

        /* Read-only with everything mounted below them (the caller's
         * binfmt_misc under sys/fs, say). bwrap covers them only where its
         * setup process could write, which unprivileged it never can;
         * csand always does (a deliberate difference: defence in depth). */
        for (size_t i = 0; i < ELEMENTSOF(proc_read_only); i++) {
                const char *name = proc_read_only[i];
                _cleanup_close_ int sub = mount_open_tree(proc, name, OPEN_TREE_CLONE | AT_RECURSIVE);
                if (sub == -ENOENT)
                        continue;
                if (sub < 0)
                        return error_set_errno(e, sub, "Can't bind %s/%s", op->dest, name);
                const uint64_t attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
                _cleanup_close_ int dst = openat(proc, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                /* (inside the new procfs: never the root's top) */
                r = dst < 0 ? -errno : attach_with_attrs(root, sub, dst, false, AT_RECURSIVE, attrs);
                if (r < 0)
                        return error_set_errno(e, r, "Can't make %s/%s read-only", op->dest, name);
        }
        return 0;
}

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
static const char *const dev_links[][2] = {
        { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
        { "stderr", "/proc/self/fd/2" }, { "core", "/proc/kcore" },      { "ptmx", "pts/ptmx" },
};

/* A host device node bound onto a fresh file in DEV (mknod is not allowed
 * in a user namespace; a bind of the host's node is). */
static int bind_device(int dev, const char *host_path, const char *name, Error *e) {
        _cleanup_close_ int src = mount_open_tree(AT_FDCWD, host_path, OPEN_TREE_CLONE);
        if (src < 0)
                return error_set_errno(e, src, "Can't find device %s", host_path);
        _cleanup_close_ int dst = -EBADF;
        int r = touch_in_root(dev, name, 0444, &dst);
        if (r < 0)
                return error_set_errno(e, r, "Can't create /dev/%s", name);
        /* nosuid only, as bwrap's device binds: JIT engines map /dev/zero
         * with PROT_EXEC. */
        r = mounts_attach_with_attrs(NULL, src, dst, 0, MOUNT_ATTR_NOSUID);
        if (r < 0)
                return error_set_errno(e, r, "Can't bind %s", host_path);
        return 0;
}

static int op_dev(const MountOp *op, NewRoot *root, Error *e) {
        _cleanup_close_ int dev = -EBADF, dst = -EBADF;
        bool onto_root;
        int r = make_mount_point(root, op->dest, &dst, &onto_root, e);
        if (r < 0)
                return r;
        r = new_tmpfs(0755, 0, &dev);
        if (r >= 0)
                r = attach(root, dev, dst, onto_root);
        if (r < 0)
                return mount_error(e, r, "tmpfs", op->dest);

        /* Nobody else can see this fresh tmpfs yet: names relative to it are safe. */
        for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
                char host[64];
                snprintf(host, sizeof(host), "/dev/%s", dev_nodes[i]);
                r = bind_device(dev, host, dev_nodes[i], e);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(dev_links); i++)
                if (symlinkat(dev_links[i][1], dev, dev_links[i][0]) < 0)
                        return error_set_errno(e, errno, "Can't create %s/%s", op->dest, dev_links[i][0]);
        if (mkdirat(dev, "shm", 01777) < 0 || mkdirat(dev, "pts", 0755) < 0)
                return error_set_errno(e, errno, "Can't create directories in %s", op->dest);

        /* A private devpts instance: the sandbox's ptys are its own. */
        _cleanup_close_ int pts = -EBADF;
        const char *pts_options[] = { "ptmxmode", "0666", "mode", "620", NULL };
        r = mount_new("devpts", pts_options, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, &pts);
        if (r < 0)
                return error_set_errno(e, r, "Can't mount devpts on %s/pts", op->dest);
        _cleanup_close_ int pts_dir = openat(dev, "pts", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pts_dir < 0 || mount_move(pts, pts_dir) < 0)
                return error_set_errno(e, errno, "Can't mount devpts on %s/pts", op->dest);

        /* As bwrap: a terminal on stdout is the sandbox's console. */
        if (isatty(STDOUT_FILENO)) {
                char tty[256];
                if (ttyname_r(STDOUT_FILENO, tty, sizeof(tty)) == 0) {
                        r = bind_device(dev, tty, "console", e);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int op_tmpfs(const MountOp *op, NewRoot *root, Error *e) {
        _cleanup_close_ int fd = -EBADF, dst = -EBADF;
        bool onto_root;
        int r = make_mount_point(root, op->dest, &dst, &onto_root, e);
        if (r < 0)
                return r;
        r = new_tmpfs(op->perms == MODE_UNSET ? 0755 : op->perms, op->size, &fd);
        if (r >= 0)
                r = attach(root, fd, dst, onto_root);
        if (r < 0)
                return mount_error(e, r, "tmpfs", op->dest);
        return 0;
}

static int op_mqueue(const MountOp *op, NewRoot *root, Error *e) {
        _cleanup_close_ int fd = -EBADF, dst = -EBADF;
        bool onto_root;
        int r = make_mount_point(root, op->dest, &dst, &onto_root, e);
        if (r < 0)
                return r;
        /* No flags, as bwrap: an mqueue holds neither devices nor programs. */
        r = mount_new("mqueue", NULL, 0, &fd);
        if (r >= 0)
                r = attach(root, fd, dst, onto_root);
        if (r < 0)
                return mount_error(e, r, "mqueue", op->dest);
        return 0;
}

static bool is_dangling_symlink(int root_fd, const char *path) {
        _cleanup_close_ int parent = -EBADF;
        _cleanup_free_ char *base = NULL;
        struct stat st;
        return open_parent_in_root(root_fd, path, &parent, &base) >= 0 &&
               fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

static int op_dir(const MountOp *op, int root_fd, Error *e) {
        _cleanup_close_ int fd = -EBADF;
        /* An existing directory keeps its permissions, as in bwrap; --chmod changes them. */
        int r = mkdir_p_in_root(root_fd, op->dest, op->perms == MODE_UNSET ? 0755 : op->perms, &fd);
        /* a symlink that leads nowhere, or in circles: bwrap's mkdir()
         * meets EEXIST and is content */
        if ((r == -ENOENT || r == -ELOOP) && is_dangling_symlink(root_fd, op->dest))
                return 0;
        if (r < 0 && parent_missing(root_fd, op->dest))
                return error_set_errno(e, r, "Can't mkdir parents for %s", op->dest);
        if (r < 0)
                return error_set_errno(e, r, "Can't mkdir %s", op->dest);
        return 0;
}

static int op_symlink(const MountOp *op, int root_fd, Error *e) {
        _cleanup_close_ int parent = -EBADF;
        _cleanup_free_ char *base = NULL;
        int r = open_parent_in_root(root_fd, op->dest, &parent, &base);
        if (r < 0 && parent_missing(root_fd, op->dest))
                return error_set_errno(e, r, "Can't mkdir parents for %s", op->dest);
        if (r < 0)
                return error_set_errno(e, r, "Can't make symlink at %s", op->dest);
        if (symlinkat(op->source, parent, base) == 0)
                return 0;
        if (errno != EEXIST)
                return error_set_errno(e, errno, "Can't make symlink at %s", op->dest);

        /* Idempotent, as callers expect: the same link again is fine. */
        char target[PATH_MAX];
        ssize_t n = readlinkat(parent, base, target, sizeof(target) - 1);
        if (n >= 0) {
                target[n] = '\0';
                if (strcmp(target, op->source) == 0)
                        return 0;
                return error_setf(e, EEXIST, "Can't make symlink at %s: existing destination is %s", op->dest, target);
        }
        return error_setf(e, EEXIST, "Can't make symlink at %s: destination exists and is not a symlink", op->dest);
}

/* Writes all of DATA_FD's data into FD. */
static int write_from_fd(int fd, int data_fd) {
        _cleanup_free_ void *data = NULL;
        size_t len;
        int r = read_full_fd(data_fd, SIZE_MAX / 2, &data, &len);
        if (r < 0)
                return r;
        return write_all(fd, data, len);
}

/* Writes all of DATA_FD's data into a new file NAME in DIR_FD. */
static int write_file_from_fd(int dir_fd, const char *name, mode_t mode, int data_fd) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        return write_from_fd(fd, data_fd);
}

static int op_file(const MountOp *op, int root_fd, Error *e) {
        _cleanup_close_ int parent = -EBADF, fd = -EBADF;
        _cleanup_free_ char *base = NULL;
        int r = open_parent_in_root(root_fd, op->dest, &parent, &base);
        if (r < 0 && parent_missing(root_fd, op->dest))
                return error_set_errno(e, r, "Can't mkdir parents for %s", op->dest);
        if (r < 0)
                return error_set_errno(e, r, "Can't create file %s", op->dest);
        /* Through a symlink at DEST, inside the root, as bwrap's creat(). */
        r = create_file_in_root(root_fd, op->dest, O_TRUNC, op->perms == MODE_UNSET ? 0666 : op->perms, &fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't create file %s", op->dest);
        r = write_from_fd(fd, op->fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't write data to file %s", op->dest);
        return 0;
}

/* The data goes into a file on a scratch tmpfs that the sandbox never sees
 * (attached under a directory of the scaffold, a new one for each op,
 * while we take a bind of the file; it goes with the scaffold, at the
 * pivot or when a detached build closes it, which saves an RCU grace
 * period per op), so DEST may sit on a read-only filesystem and may
 * already exist. */
static int op_bind_data(const MountOp *op, NewRoot *root, Error *e) {
        _cleanup_close_ int scratch = -EBADF, file = -EBADF, dst = -EBADF;
        int base_fd;
        int r = scaffold_get(root, &base_fd);
        if (r >= 0)
                r = mount_scratch_tmpfs(base_fd, "csand-data", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, &scratch);
        if (r < 0)
                return error_set_errno(e, r, "Can't mount tmpfs for %s", op->dest);
        r = write_file_from_fd(scratch, "data", op->perms == MODE_UNSET ? 0600 : op->perms, op->fd);
        if (r >= 0) {
                file = mount_open_tree(scratch, "data", OPEN_TREE_CLONE);
                r = file;
        }
        if (r < 0)
                return error_set_errno(e, r, "Can't write data to file %s", op->dest);

        uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (op->readonly ? MOUNT_ATTR_RDONLY : 0);
        r = touch_file_in_root(root->fd, op->dest, &dst);
        if (r < 0 && parent_missing(root->fd, op->dest))
                return error_set_errno(e, r, "Can't mkdir parents for %s", op->dest);
        if (r < 0)
                return error_set_errno(e, r, "Can't create file at %s", op->dest);
        bool onto_root;
        r = check_dest(root, dst, op->dest, &onto_root, e);
        if (r < 0)
                return r;
        r = attach_with_attrs(root, file, dst, onto_root, 0, attrs);
        if (r < 0)
                return error_set_errno(e, r, "Can't bind data on %s", op->dest);
        return 0;
}

/* The caller's fd belongs to the caller's mount namespace, which
 * open_tree() won't clone from; we bind what its path names in our copy
 * and then check it is the very inode the fd holds, so a rename or symlink
 * swap in between is caught (bwrap's check). */
static int op_bind_fd(const MountOp *op, NewRoot *root, Error *e) {
        char link[64], path[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", op->fd);
        ssize_t n = readlink(link, path, sizeof(path) - 1);
        if (n < 0)
                return error_set_errno(e, errno, "Can't resolve fd %d for %s", op->fd, op->dest);
        path[n] = '\0';
        if (path[0] != '/')
                return error_setf(e, EINVAL, "fd %d for %s is not a file or directory (%s)", op->fd, op->dest, path);

        MountOp bind = *op;
        bind.type = MOUNT_OP_BIND;
        bind.source = path;
        return bind_tree(&bind, root, op->fd, true, e);
}

static int op_lock_file(const MountOp *op, int root_fd, Error *e) {
        int fd;
        int r = open_file_in_root(root_fd, op->dest, O_RDONLY, &fd);
        if (r < 0)
                return error_set_errno(e, r, "Unable to open lock file %s", op->dest);
        struct flock lock = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
        if (fcntl(fd, F_SETLK, &lock) < 0) {
                r = -errno;
                safe_close(fd);
                return error_set_errno(e, r, "Unable to lock file %s", op->dest);
        }
        /* Deliberately left open (close-on-exec): pid 1 holds the lock for
         * as long as the sandbox lives. */
        return 0;
}

static int op_chmod(const MountOp *op, int root_fd, Error *e) {
        _cleanup_close_ int fd = -EBADF;
        int r = open_in_root(root_fd, op->dest, 0, &fd);
        if (r < 0)
                return error_set_errno(e, r, "Can't chmod %#o %s", (unsigned) op->perms, op->dest);
        r = fchmod_opath(fd, op->perms);
        if (r < 0)
                return error_set_errno(e, r, "Can't chmod %#o %s", (unsigned) op->perms, op->dest);
        return 0;
}

static int check_source(const char *source, bool try_only, Error *e) {
        struct stat st;
        if (stat(source, &st) == 0 || (try_only && errno == ENOENT))
                return 0;
        return error_set_errno(e, errno, "Can't find source path %s", source);
}
/* The permissions bwrap's op carries: --perms, bwrap's default for the
 * ops that take one, and 0 for the rest (its ops are zeroed). */
static mode_t op_perms(const MountOp *op) {
        switch (op->type) {
        case MOUNT_OP_TMPFS:
        case MOUNT_OP_DIR:
                return op->perms != MODE_UNSET ? op->perms : 0755;
        case MOUNT_OP_FILE:
                return op->perms != MODE_UNSET ? op->perms : 0666;
        case MOUNT_OP_BIND_DATA:
                return op->perms != MODE_UNSET ? op->perms : 0600;
        default:
                return 0;
        }
}

/* bwrap makes the parents of every op's destination before the op runs,
 * with parent_dir_mode() of the op's permissions (0700 for the ops without
 * any), except where the op changes what exists (--chmod) and --lock-file
 * (not an op of bwrap's). A bind makes them itself, after looking at its
 * source (bind_tree()): a -try bind whose source is missing makes none. */
static int make_op_parents(const MountOp *op, int root_fd, Error *e) {
        if (op->type == MOUNT_OP_CHMOD || op->type == MOUNT_OP_LOCK_FILE || op->type == MOUNT_OP_BIND)
                return 0;
        int r = mkdir_parents_in_root(root_fd, op->dest, parent_dir_mode(op_perms(op)));
        if (r < 0)
                return error_set_errno(e, r, "Can't mkdir parents for %s", op->dest);
        return 0;
}

/* Looks at the sources of the ops from FROM on, as bwrap looks at every
 * source before its first op (see SourceChecks). */
static int check_sources(const SandboxPlan *p, size_t from, Error *e) {
        for (size_t i = from; i < p->n_ops; i++) {
                const MountOp *op = &p->ops[i];
                int r = 0;
                if (op->type == MOUNT_OP_BIND)
                        r = check_source(op->source, op->try_only, e);
                else if (op->type == MOUNT_OP_OVERLAY) {
                        for (size_t j = 0; r >= 0 && j < op->n_overlay_layers; j++)
                                r = check_source(op->overlay_layers[j], false, e);
                        if (r >= 0 && op->source)
                                r = check_source(op->source, false, e);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* csand's own state (compiled seccomp profiles, image layers, helper
 * sockets) must not be writable from a sandbox that later sandboxes would
 * trust: wherever a bind shows one of its directories, and the user did not
 * bind that directory itself, an empty read-only tmpfs covers it. */
static int hide_state_dirs(NewRoot *root, Error *e) {
        for (size_t i = 0; i < root->state.n; i++) {
                const WatchedDir *d = &root->state.dirs[i];
                if (d->bound_explicitly)
                        continue;
                for (size_t j = 0; j < d->n_inside; j++) {
                        _cleanup_close_ int at = -EBADF, cover = -EBADF;
                        struct stat st;
                        if (open_in_root(root->fd, d->inside[j], O_DIRECTORY, &at) < 0 || fstat(at, &st) < 0 ||
                            st.st_dev != d->st.st_dev || st.st_ino != d->st.st_ino)
                                continue; /* not (or no longer) shown there */
                        const char *options[] = { "mode", "0700", NULL };
                        int r = mount_new("tmpfs", options,
                                          MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                          &cover);
                        if (r >= 0)
                                r = mount_move(cover, at);
                        if (r < 0)
                                return error_set_errno(e, r, "Can't hide %s from the sandbox", d->real);
                }
        }
        return 0;
}

/* bwrap looks at every source (a stat each) before its first op, so that
 * of several problems the same one is named and nothing is done when a
 * source is missing. Each bind's clone is its own look at its source, so
 * csand looks at the sources still ahead only where going on without
 * would differ: before an op's error is told (a missing source ahead is
 * named instead), and before an op that could change something outside
 * the sandbox's own new, still private tree. That is, once a mount of
 * the caller's files is in it, an op that writes into existing files
 * (--file, --chmod: a FIFO or a terminal passes writes through even a
 * read-only or nodev-less bind); once a writable one is, any op (a new
 * entry may land in the caller's directory); an overlay (its upper and
 * work directories, a fuse-overlayfs daemon); the first bind when csand's
 * state directories are still to be made (state_watch_start()). One path
 * walk fewer per bind where none of these comes. */
typedef struct SourceChecks {
        bool done;            /* the sources of every op from here on were looked at */
        bool caller_files;    /* a mount of the caller's files is in the new root */
        bool caller_writable; /* a writable one */
        int state_missing;    /* csand's state directories are to be made: -1 not known yet */
} SourceChecks;

/* Would state_watch_start() make one of them (state_dir_make())? */
static bool state_dirs_missing(void) {
        for (StateDir d = 0; d < _STATE_DIR_MAX; d++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                if (state_dir_path(d, &path) >= 0 && (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)))
                        return true;
        }
        return false;
}

static bool must_look_ahead(SourceChecks *c, const MountOp *op, const NewRoot *root) {
        if (c->done)
                return false;
        if (c->caller_writable || op->type == MOUNT_OP_OVERLAY)
                return true;
        if (c->caller_files && (op->type == MOUNT_OP_FILE || op->type == MOUNT_OP_CHMOD))
                return true;
        if ((op->type == MOUNT_OP_BIND || op->type == MOUNT_OP_BIND_FD) && !root->state_watched) {
                if (c->state_missing < 0)
                        c->state_missing = state_dirs_missing();
                return c->state_missing;
        }
        return false;
}

/* What OP (done) put in the new root. */
static void note_op_done(SourceChecks *c, const SandboxPlan *p, const MountOp *op) {
        switch (op->type) {
        case MOUNT_OP_BIND:
        case MOUNT_OP_BIND_FD:
                c->caller_files = true;
                c->caller_writable |= !op->readonly;
                break;
        case MOUNT_OP_PROC:
                /* the caller's /proc, without a pid namespace of our own */
                if (!p->unshare_pid && p->pidns_fd < 0)
                        c->caller_files = c->caller_writable = true;
                break;
        case MOUNT_OP_DEV: /* the host's device nodes, the caller's terminal */
                c->caller_files = true;
                break;
        case MOUNT_OP_OVERLAY:
                c->caller_files = c->caller_writable = true;
                break;
        default:
                break;
        }
}

static int run_op(const SandboxPlan *p, const MountOp *op, NewRoot *root, int fuse_fd, Error *e) {
        if (op->type != MOUNT_OP_BIND)
                forget_parent(root);
        int r = make_op_parents(op, root->fd, e);
        if (r < 0)
                return r;
        switch (op->type) {
        case MOUNT_OP_BIND:
                return op_bind(op, root, e);
        case MOUNT_OP_REMOUNT_RO:
                return op_remount_ro(op, root->fd, e);
        case MOUNT_OP_PROC:
                return op_proc(p, op, root, e);
        case MOUNT_OP_DEV:
                return op_dev(op, root, e);
        case MOUNT_OP_TMPFS:
                return op_tmpfs(op, root, e);
        case MOUNT_OP_MQUEUE:
                return op_mqueue(op, root, e);
        case MOUNT_OP_DIR:
                return op_dir(op, root->fd, e);
        case MOUNT_OP_SYMLINK:
                return op_symlink(op, root->fd, e);
        case MOUNT_OP_CHMOD:
                return op_chmod(op, root->fd, e);
        case MOUNT_OP_FILE:
                return op_file(op, root->fd, e);
        case MOUNT_OP_BIND_DATA:
                return op_bind_data(op, root, e);
        case MOUNT_OP_BIND_FD:
                return op_bind_fd(op, root, e);
        case MOUNT_OP_LOCK_FILE:
                return 0; /* in mounts_execute(), at the end */
        case MOUNT_OP_OVERLAY: {
                _cleanup_close_ int mnt = -EBADF;
                /* overlayfs takes an upper layer on a mount attached in our
                 * namespace, or on the top of a detached tree, not one inside
                 * a detached tree: a root built detached has --tmp-overlay's
                 * scratch tmpfs detached on its own. */
                int base_fd = root->detached ? -EBADF : root->scaffold_fd;
                r = overlay_mount(p, op, fuse_fd, base_fd, &mnt, e);
                if (r >= 0)
                        r = attach_new_mount_at_dir(root, mnt, op->dest, e);
                return r;
        }
        default:
                return error_setf(e, EOPNOTSUPP, "Unsupported mount operation for %s", op->dest);
        }
}

/* The new root's own mount, unless something is mounted there: on the
 * scaffold's newroot/ (ROOT's fd until then: a directory, not a mount), or
 * where the root is built detached, the detached tree it starts. */
static int root_ensure_mounted(NewRoot *root, Error *e) {
        if (!root->bare)
                return 0;
        /* As bwrap's: the scaffold's newroot/ bound onto itself (a mount
         * of its own to pivot into; its tmpfs is the scaffold's, whose
         * other entries lie above the mount's top, out of reach). */
        int scaffold;
        int r = scaffold_get(root, &scaffold);
        _cleanup_close_ int self = r < 0 ? r : mount_open_tree(scaffold, "newroot", OPEN_TREE_CLONE);
        r = self < 0 ? self : attach(root, self, root->fd, true);
        return r < 0 ? error_set_errno(e, r, "Can't create the new root") : 0;
}

/* A first operation that binds a tree onto "/" (--ro-bind / /, --bind DIR
 * /) hides whatever is under it for good: the new root needs no tmpfs of
 * its own then (bwrap mounts one; nothing shows it: ~25 us, a superblock
 * and a mount less). Should it mount nothing (a -try without a source),
 * the tmpfs is made after it. */
static bool op_binds_onto_root(const MountOp *op) {
        return op->type == MOUNT_OP_BIND && path_is_root(op->dest);
}

int mounts_execute(const SandboxPlan *p, NewRoot *root, int fuse_fd, Error *e) {
        SourceChecks checks = { .state_missing = -1 };
        int r;

        for (size_t i = 0; i < p->n_ops; i++) {
                const MountOp *op = &p->ops[i];
                /* (or after a first bind onto "/" that mounted nothing) */
                if (!(i == 0 && op_binds_onto_root(op)) && root_ensure_mounted(root, e) < 0)
                        return -e->error;
                if (must_look_ahead(&checks, op, root)) {
                        r = check_sources(p, i, e);
                        if (r < 0)
                                return r;
                        checks.done = true;
                }
                r = run_op(p, op, root, fuse_fd, e);
                if (r < 0 && !checks.done) {
                        /* a missing source ahead is the problem bwrap names */
                        int k = check_sources(p, i, e);
                        return k < 0 ? k : r;
                }
                if (r < 0)
                        return r;
                note_op_done(&checks, p, op);
        }
        if (root_ensure_mounted(root, e) < 0)
                return -e->error;
        r = hide_state_dirs(root, e);
        if (r < 0)
                return r;
        /* As bwrap's pid 1 does, in the finished root, wherever they stand
         * among the operations. */
        for (size_t i = 0; i < p->n_ops; i++)
                if (p->ops[i].type == MOUNT_OP_LOCK_FILE) {
                        r = op_lock_file(&p->ops[i], root->fd, e);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* After pivot_root(".", "."), the old root is stacked on the new one, and
 * ".." at "/" lands on whatever is stacked there (the kernel crosses
 * mounts after "..", even at the process root): everything on the new
 * root's top is detached, topmost first, until ".." at "/" is "/" itself.
 * Where the root was built detached, that is the caller's tree, and below
 * it the tree's first mounts when ops stacked mounts onto "/"; else the
 * scaffold, with all of that under it. */
static int detach_above_root(const NewRoot *root) {
        uint64_t root_id;
        int r = fd_mount_id(root->fd, &root_id);
        if (r < 0)
                return r;
        /* the old root at least is there; each unmount takes the topmost,
         * and the kernel allows 100,000 mounts in a namespace by default */
        if (umount2(".", MNT_DETACH) < 0)
                return -errno;
        for (unsigned n = 0; n < 100000; n++) {
                _cleanup_close_ int up = open("..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                uint64_t id;
                r = up < 0 ? -errno : fd_mount_id(up, &id);
                if (r < 0)
                        return r;
                if (id == root_id)
                        return 0;
                if (umount2(".", MNT_DETACH) < 0)
                        return -errno;
        }
        return -ELOOP;
}

int mounts_pivot(const NewRoot *root) {
        int r;
        /* pivot_root() wants the new root attached below the process root:
         * where it was built detached, it is attached on the caller's "/"
         * (the process root all along); else the process root is the
         * scaffold, again. */
        if (root->detached) {
                r = mount_move_to_path(root->tree_fd, AT_FDCWD, "/");
                if (r < 0)
                        return r;
        } else if (fchdir(root->scaffold_fd) < 0 || chroot(".") < 0)
                return -errno;
        if (fchdir(root->fd) < 0)
                return -errno;
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return -errno;
        r = detach_above_root(root);
        if (r < 0)
                return r;
        return RET_NERRNO(chdir("/"));
}
