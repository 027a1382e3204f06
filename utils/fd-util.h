/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "macro.h"

/* Reads FD to its end into a new buffer (NUL-terminated, for convenience;
 * the NUL is not counted). -EFBIG when more than MAX bytes are there. */
int read_full_fd(int fd, size_t max, void **ret_data, size_t *ret_len);

/* Writes all of BUF, retrying short writes. */
int write_all(int fd, const void *buf, size_t len);

/* Writes DATA to NAME (relative to DIR_FD) in one write(2), as procfs and
 * cgroupfs files want: one value per write. */
int write_string_at(int dir_fd, const char *name, const char *data);

/* Opens NAME (relative to DIR_FD) for reading if it is a regular file,
 * without following a symlink and without blocking (a FIFO planted there
 * must not hang the caller): the fd, -EBADFD when it is something else,
 * or -errno. *RET_ST (optional) gets its fstat(). */
int open_regular_at(int dir_fd, const char *name, struct stat *ret_st);

/* Is FD open? */
int fd_validate(int fd);

/* One message of LEN bytes with N_FDS fds (SCM_RIGHTS, at most 253) on a
 * socket: 0 when all of it went, -errno, or -EIO for a short send. */
int fd_send_with_fds(int sock, const void *data, size_t len, const int *fds, size_t n_fds);
/* Receives one message into DATA (at most LEN bytes) and its fds
 * (close-on-exec) into FDS, those beyond MAX_FDS closed; *RET_N_FDS says
 * how many were kept. The message's length (0: end-of-file), or -errno. */
ssize_t fd_recv_with_fds(int sock, void *data, size_t len, int *fds, size_t max_fds, size_t *ret_n_fds);
