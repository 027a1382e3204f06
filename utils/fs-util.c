/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

static int openat2_resolve(int dir_fd, const char *path, int flags, uint64_t resolve) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = resolve,
        };
        /* "/" and "" both name the directory itself. */
        while (*path == '/')
                path++;
        if (!*path)
                path = ".";
        return RET_NERRNO(syscall(SYS_openat2, dir_fd, path, &how, sizeof(how)));
}

static int openat2_in_root(int root_fd, const char *path, int flags) {
        return openat2_resolve(root_fd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

int open_beneath_no_symlinks(int dir_fd, const char *path, int *ret_fd) {
        int fd = openat2_resolve(dir_fd, path, O_PATH, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

int open_in_root(int root_fd, const char *path, int flags, int *ret_fd) {
        int fd = openat2_in_root(root_fd, path, flags | O_PATH);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

int create_file_in_root(int root_fd, const char *path, int flags, mode_t mode, int *ret_fd) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CREAT | O_WRONLY | O_CLOEXEC),
                .mode = mode,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        while (*path == '/')
                path++;
        int fd = RET_NERRNO(syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof(how)));
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

int open_file_in_root(int root_fd, const char *path, int flags, int *ret_fd) {
        int fd = openat2_in_root(root_fd, path, flags);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

/* Splits "a/b/c/" into parent "a/b" and base "c" in a fresh copy. */
static int split_path(const char *path, char **ret_copy, const char **ret_parent, const char **ret_base) {
        char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        size_t n = strlen(copy);
        while (n > 1 && copy[n - 1] == '/')
                copy[--n] = '\0';
        char *slash = strrchr(copy, '/');
        if (!slash) {
                *ret_parent = ".";
                *ret_base = copy;
        } else {
                *slash = '\0';
                *ret_parent = slash == copy ? "/" : copy;
                *ret_base = slash + 1;
        }
        *ret_copy = copy;
        return 0;
}

static int mkdir_p_mode(int root_fd, const char *path, mode_t mode, mode_t parent_mode, int *ret_fd);

/* open_parent_in_root(), with missing parents made with PARENT_MODE. */
static int open_parent_mode(int root_fd, const char *path, mode_t parent_mode, int *ret_fd, char **ret_base) {
        _cleanup_free_ char *copy = NULL;
        const char *parent, *base;
        int fd, r;

        r = split_path(path, &copy, &parent, &base);
        if (r < 0)
                return r;
        if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
                return -EINVAL;
        r = mkdir_p_mode(root_fd, parent, parent_mode, parent_mode, &fd);
        if (r < 0)
                return r;
        char *b = strdup(base);
        if (!b) {
                safe_close(fd);
                return -ENOMEM;
        }
        *ret_fd = fd;
        *ret_base = b;
        return 0;
}

/* 1 and the path before it when PATH's last component is "." or "..". */
static int ends_in_dots(const char *path, char **ret_parent) {
        _cleanup_free_ char *copy = NULL;
        const char *parent, *base;
        int r = split_path(path, &copy, &parent, &base);
        if (r < 0)
                return r;
        if (strcmp(base, ".") != 0 && strcmp(base, "..") != 0)
                return 0;
        *ret_parent = strdup(parent);
        return *ret_parent ? 1 : -ENOMEM;
}

int open_parent_in_root(int root_fd, const char *path, int *ret_fd, char **ret_base) {
        return open_parent_mode(root_fd, path, 0755, ret_fd, ret_base);
}

static int mkdir_p_mode(int root_fd, const char *path, mode_t mode, mode_t parent_mode, int *ret_fd) {
        int fd = openat2_in_root(root_fd, path, O_PATH | O_DIRECTORY);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (fd != -ENOENT)
                return fd;

        _cleanup_close_ int parent_fd = -EBADF;
        _cleanup_free_ char *base = NULL;
        int r = ends_in_dots(path, &base);
        if (r != 0) {
                /* "a/..": made by making "a" (bwrap's mkdir -p does the same) */
                if (r > 0 && (r = mkdir_p_mode(root_fd, base, parent_mode, parent_mode, &parent_fd)) >= 0)
                        r = open_in_root(root_fd, path, O_DIRECTORY, ret_fd);
                return r;
        }
        r = open_parent_mode(root_fd, path, parent_mode, &parent_fd, &base);
        if (r < 0)
                return r;
        /* mkdirat() never follows a symlink in its last component: EEXIST. */
        if (mkdirat(parent_fd, base, mode) < 0 && errno != EEXIST)
                return -errno;
        /* Re-resolve the whole path, in the root, rather than trusting base. */
        return open_in_root(root_fd, path, O_DIRECTORY, ret_fd);
}

int mkdir_p_in_root(int root_fd, const char *path, mode_t mode, int *ret_fd) {
        return mkdir_p_mode(root_fd, path, mode, 0755, ret_fd);
}

/* One step of bwrap's mkdir_with_parents() (its ensure_dir()), inside the
 * root: a directory (through symlinks) is fine, anything else is ENOTDIR;
 * a missing one is made, and EEXIST from mkdir is fine too, so a dangling
 * symlink is walked past and the next step names the error. */
static int ensure_dir_in_root(int root_fd, char *path, mode_t mode) {
        _cleanup_close_ int fd = openat2_in_root(root_fd, path, O_PATH | O_DIRECTORY);
        if (fd >= 0)
                return 0;
        if (fd != -ENOENT && fd != -ELOOP)
                return fd;

        _cleanup_close_ int parent_fd = -EBADF;
        char *slash = strrchr(path, '/'), *base = path;
        if (slash) {
                *slash = '\0';
                parent_fd = openat2_in_root(root_fd, slash == path ? "/" : path, O_PATH | O_DIRECTORY);
                *slash = '/';
                base = slash + 1;
        } else
                parent_fd = openat2_in_root(root_fd, "/", O_PATH | O_DIRECTORY);
        if (parent_fd < 0)
                return parent_fd;
        if (mkdirat(parent_fd, base, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int mkdir_parents_in_root(int root_fd, const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        /* As bwrap: every component followed by a slash, in order ("a/b/"
         * makes "a/b" too); repeated slashes are one. */
        for (char *c = copy + strspn(copy, "/"); (c = strchr(c, '/')); c += strspn(c, "/")) {
                *c = '\0';
                int r = ensure_dir_in_root(root_fd, copy, mode);
                *c = '/';
                if (r < 0)
                        return r;
        }
        return 0;
}

mode_t parent_dir_mode(mode_t mode) {
        mode_t parents = 0755;
        if (!(mode & 0070))
                parents &= ~(mode_t) 0050;
        if (!(mode & 0007))
                parents &= ~(mode_t) 0005;
        return parents;
}

int touch_in_root(int root_fd, const char *path, mode_t mode, int *ret_fd) {
        int fd = openat2_in_root(root_fd, path, O_PATH);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (fd != -ENOENT)
                return fd;

        _cleanup_close_ int parent_fd = -EBADF;
        _cleanup_free_ char *base = NULL;
        int r = open_parent_in_root(root_fd, path, &parent_fd, &base);
        if (r < 0)
                return r;
        int created = openat(parent_fd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
        if (created < 0 && errno == EEXIST) {
                /* A dangling symlink: like bwrap's creat(), make its target,
                 * resolved inside the root. */
                r = create_file_in_root(root_fd, path, 0, mode, &created);
                if (r < 0 && r != -EEXIST && r != -EISDIR)
                        return r;
        } else if (created < 0)
                return -errno;
        safe_close(created);
        return open_in_root(root_fd, path, 0, ret_fd);
}

bool fd_same_inode(int a, int b) {
        struct stat sa, sb;
        if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
                return false;
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int fchmod_opath(int fd, mode_t mode) {
        char p[64];
        /* fchmod() refuses O_PATH fds; the /proc magic link does not. */
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        return RET_NERRNO(chmod(p, mode));
}
