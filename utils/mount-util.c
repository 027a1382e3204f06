/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "mount-util.h"
#include "parse-util.h"

int mount_fs_open(const char *fstype) {
        return RET_NERRNO(syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC));
}

int mount_fs_set(int fs_fd, const char *key, const char *value) {
        if (!value)
                return RET_NERRNO(syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_FLAG, key, NULL, 0));
        return RET_NERRNO(syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_STRING, key, value, 0));
}

int mount_fs_set_fd(int fs_fd, const char *key, int fd) {
        return RET_NERRNO(syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_FD, key, NULL, fd));
}

void mount_fs_messages(int fs_fd, char *buf, size_t size) {
        char m[512];
        ssize_t n;
        while ((n = read(fs_fd, m, sizeof(m) - 1)) > 0) {
                m[n] = '\0';
                if (m[0] != 'e' || m[1] != ' ')
                        continue;
                size_t len = strlen(buf);
                snprintf(buf + len, size - len, "%s%s", len ? "; " : "", m + 2);
        }
}

int mount_fs_create(int fs_fd, uint64_t attrs, int *ret_mnt, char *why, size_t why_size) {
        int r = RET_NERRNO(syscall(SYS_fsconfig, fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
        if (r < 0) {
                if (why)
                        mount_fs_messages(fs_fd, why, why_size);
                return r;
        }
        int fd = RET_NERRNO(syscall(SYS_fsmount, fs_fd, FSMOUNT_CLOEXEC, attrs));
        if (fd < 0)
                return fd;
        *ret_mnt = fd;
        return 0;
}

int mount_new(const char *fstype, const char *const *options, uint64_t attrs, int *ret_fd) {
        _cleanup_close_ int fs_fd = mount_fs_open(fstype);
        if (fs_fd < 0)
                return fs_fd;
        int r = mount_fs_set(fs_fd, "source", fstype);
        for (const char *const *o = options; r >= 0 && o && *o; o += 2)
                r = mount_fs_set(fs_fd, o[0], o[1]);
        if (r < 0)
                return r;
        return mount_fs_create(fs_fd, attrs, ret_fd, NULL, 0);
}

int mount_open_tree(int dfd, const char *path, unsigned flags) {
        return RET_NERRNO(syscall(SYS_open_tree, dfd, path, flags | OPEN_TREE_CLOEXEC));
}

int mount_scratch_tmpfs(int base_fd, const char *name, uint64_t attrs, int *ret_fd) {
        static unsigned n_made;
        static const char *const options[] = { "mode", "0700", NULL };
        _cleanup_close_ int mnt = -EBADF;
        int r = mount_new("tmpfs", options, attrs, &mnt);
        if (r < 0)
                return r;
        if (base_fd >= 0) {
                char dir[64];
                snprintf(dir, sizeof(dir), ".%s-%u", name, n_made++);
                if (mkdirat(base_fd, dir, 0700) < 0)
                        return -errno;
                _cleanup_close_ int at = openat(base_fd, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = at < 0 ? -errno : mount_move(mnt, at);
                if (r < 0)
                        return r;
        }
        *ret_fd = TAKE_FD(mnt);
        return 0;
}

static int sys_mount_setattr(int fd, const char *path, unsigned flags, uint64_t attr_set) {
        struct mount_attr attr = { .attr_set = attr_set };
        return RET_NERRNO(syscall(SYS_mount_setattr, fd, path, flags, &attr, sizeof(attr)));
}

int mount_setattr_fd(int fd, unsigned flags, uint64_t attrs) {
        /* Whether mount_setattr() exists is the kernel's answer (or a
         * seccomp filter's, which can only grow stricter, never looser), the
         * same for the whole process, and every mount op and network.c's
         * resolv.conf ask: a function-local static spares threading one
         * bit through sandbox.c, and a cached "missing" can't go stale. */
        static bool missing = false;
        if (missing)
                return -ENOSYS;
        int r = sys_mount_setattr(fd, "", AT_EMPTY_PATH | flags, attrs);
        if (r == -ENOSYS)
                missing = true;
        return r;
}

bool mount_detached_trees_supported(void) {
        unsigned v[3];
        if (running_kernel_version(v) < 0 || v[0] < 6 || (v[0] == 6 && v[1] < 15))
                return false;
        /* a seccomp policy may hide it (EBADF: it is there) */
        return mount_setattr_fd(-EBADF, 0, 0) != -ENOSYS;
}

int mount_move(int from_fd, int to_fd) {
        return RET_NERRNO(syscall(SYS_move_mount, from_fd, "", to_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
}

int mount_move_to_path(int from_fd, int dir_fd, const char *path) {
        return RET_NERRNO(syscall(SYS_move_mount, from_fd, "", dir_fd, path, MOVE_MOUNT_F_EMPTY_PATH));
}

unsigned long mount_ms_flags_of_attrs(uint64_t attrs) {
        return (attrs & MOUNT_ATTR_RDONLY ? MS_RDONLY : 0) | (attrs & MOUNT_ATTR_NOSUID ? MS_NOSUID : 0) |
               (attrs & MOUNT_ATTR_NODEV ? MS_NODEV : 0) | (attrs & MOUNT_ATTR_NOEXEC ? MS_NOEXEC : 0);
}

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000 /* the kernel's, not yet in glibc's statvfs.h */
#endif

/* The per-mount flags FD's mount has now. A bind remount replaces them all,
 * and the kernel refuses to clear those locked by a more privileged
 * namespace (EPERM): like bwrap, we keep them, so attributes are only ever
 * added, as mount_setattr() does. */
static int current_ms_flags(int fd, unsigned long *ret) {
        struct statvfs sv;
        if (fstatvfs(fd, &sv) < 0)
                return -errno;
        *ret = (sv.f_flag & ST_RDONLY ? MS_RDONLY : 0) | (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) |
               (sv.f_flag & ST_NODEV ? MS_NODEV : 0) | (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0) |
               (sv.f_flag & ST_NOSYMFOLLOW ? MS_NOSYMFOLLOW : 0);
        return 0;
}

/* mount(2) takes a path, and refuses detached mounts: FD's mount must be
 * attached in our namespace. The atime flags are left alone, as a remount
 * without any preserves them. */
int mount_remount_bind(int fd, unsigned long flags) {
        unsigned long kept = 0;
        int r = current_ms_flags(fd, &kept);
        if (r < 0)
                return r;
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        return RET_NERRNO(mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | kept | flags, NULL));
}

int mount_attach_with_attrs(int mnt_fd, int dst_fd, uint64_t attrs) {
        int r = mount_setattr_fd(mnt_fd, 0, attrs);
        bool remount = r == -ENOSYS; /* before Linux 5.12: after attaching */
        if (r < 0 && !remount)
                return r;
        r = mount_move(mnt_fd, dst_fd);
        if (r < 0 || !remount)
                return r;
        return mount_remount_bind(mnt_fd, mount_ms_flags_of_attrs(attrs));
}

int mount_data_file(int base_fd, const char *name, const char *data, int *ret_fd) {
        _cleanup_close_ int mnt_fd = -EBADF, file_fd = -EBADF;
        int r = mount_scratch_tmpfs(base_fd, "csand-file", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, &mnt_fd);
        if (r < 0)
                return r;
        file_fd = openat(mnt_fd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (file_fd < 0)
                return -errno;
        if (fchmod(file_fd, 0644) < 0)
                return -errno;
        r = write_all(file_fd, data, strlen(data));
        if (r < 0)
                return r;
        int fd = mount_open_tree(mnt_fd, name, OPEN_TREE_CLONE);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

void mount_table_done(MountTable *t) {
        free(t->data);
        free(t->mounts);
        *t = (MountTable) {};
}

/* mountinfo escapes " \t\n\\" in paths as \ooo. */
static void unescape_octal(char *s) {
        char *w = s;
        for (const char *c = s; *c;) {
                if (c[0] == '\\' && c[1] >= '0' && c[1] <= '3' && c[2] >= '0' && c[2] <= '7' && c[3] >= '0' && c[3] <= '7') {
                        *w++ = (char) ((c[1] - '0') << 6 | (c[2] - '0') << 3 | (c[3] - '0'));
                        c += 4;
                } else
                        *w++ = *c++;
        }
        *w = '\0';
}

/* "ID PARENT MAJ:MIN ROOT MOUNT-POINT ...": modifies LINE in place. */
static bool parse_mountinfo_line(char *line, MountInfo *ret) {
        char *end;
        ret->id = strtoull(line, &end, 10);
        if (*end != ' ')
                return false;
        ret->parent = strtoull(end + 1, &end, 10);
        if (*end != ' ')
                return false;
        char *field = end + 1;
        for (int skip = 0; skip < 2; skip++) {
                field = strchr(field, ' ');
                if (!field)
                        return false;
                field++;
        }
        char *space = strchr(field, ' ');
        if (!space)
                return false;
        *space = '\0';
        unescape_octal(field);
        ret->mount_point = field;
        return true;
}

int mount_table_read_fd(int fd, MountTable *ret) {
        _cleanup_(mount_table_done) MountTable t = {};
        size_t len, lines = 0;
        int r = read_full_fd(fd, 64 << 20, (void **) &t.data, &len);
        if (r < 0)
                return r;
        for (const char *c = t.data; *c; c++)
                lines += *c == '\n';
        t.mounts = calloc(lines + 1, sizeof(MountInfo));
        if (!t.mounts)
                return -ENOMEM;
        for (char *line = t.data; *line;) {
                char *nl = strchrnul(line, '\n');
                bool last = !*nl;
                *nl = '\0';
                if (parse_mountinfo_line(line, &t.mounts[t.n]))
                        t.n++;
                line = last ? nl : nl + 1;
        }
        *ret = t;
        t = (MountTable) {};
        return 0;
}
