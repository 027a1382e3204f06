/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Everything here resolves PATH inside the tree whose root is ROOT_FD, with
 * openat2(RESOLVE_IN_ROOT): absolute symlinks and ".." stay inside, magic
 * links are refused. A symlink swapped in by another process during setup
 * can therefore never point csand outside the new root. */

/* An O_PATH fd for PATH (following symlinks, scoped to the root). */
int open_in_root(int root_fd, const char *path, int flags, int *ret_fd);
/* An O_PATH fd for PATH beneath DIR_FD, for a path the kernel printed (a
 * mount point in mountinfo), which has no symlinks: one found on the way
 * (swapped in since) fails with ELOOP, and ".." can't leave DIR_FD. */
int open_beneath_no_symlinks(int dir_fd, const char *path, int *ret_fd);
/* A real (not O_PATH) fd for PATH, e.g. O_RDONLY for a lock. */
int open_file_in_root(int root_fd, const char *path, int flags, int *ret_fd);
/* Opens PATH for writing, creating it with MODE where it is missing; a
 * trailing symlink is followed (inside the root), as creat() does. */
int create_file_in_root(int root_fd, const char *path, int flags, mode_t mode, int *ret_fd);
/* mkdir -p; new directories get MODE (parents 0755). Returns an O_PATH fd. */
int mkdir_p_in_root(int root_fd, const char *path, mode_t mode, int *ret_fd);
/* bwrap's mkdir_with_parents(): each directory PATH names before its last
 * component is made with MODE unless it exists (through symlinks, inside
 * the root); a dangling symlink among them is walked past, as bwrap's
 * mkdir() meeting EEXIST, and the next step fails. */
int mkdir_parents_in_root(int root_fd, const char *path, mode_t mode);
/* bwrap's mode for the parent directories made for a file of mode MODE:
 * 0755, without the group bits if MODE has none, without the other bits
 * if MODE has none, so that a private file doesn't sit in directories
 * that show it to everyone. */
mode_t parent_dir_mode(mode_t mode);
/* Creates an empty file (parents 0755) unless something exists there already;
 * a dangling symlink's target is created, as bwrap's creat() does. Returns an O_PATH fd to what is at PATH. */
int touch_in_root(int root_fd, const char *path, mode_t mode, int *ret_fd);
/* An O_PATH fd to the directory that holds PATH's last component, and that
 * component (a pointer into a copy owned by the caller via *ret_base_buf). */
int open_parent_in_root(int root_fd, const char *path, int *ret_fd, char **ret_base);
/* Same inode on the same device? */
bool fd_same_inode(int a, int b);
/* chmod through an O_PATH fd. */
int fchmod_opath(int fd, mode_t mode);
