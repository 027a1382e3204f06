/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stddef.h>

#include "macro.h"

/* Reads FD to its end into a new buffer (NUL-terminated, for convenience;
 * the NUL is not counted). -EFBIG when more than MAX bytes are there. */
int read_full_fd(int fd, size_t max, void **ret_data, size_t *ret_len);

/* Writes all of BUF, retrying short writes. */
int write_all(int fd, const void *buf, size_t len);

/* Writes DATA to NAME (relative to DIR_FD) in one write(2), as procfs and
 * cgroupfs files want: one value per write. */
int write_string_at(int dir_fd, const char *name, const char *data);

/* Is FD open? */
int fd_validate(int fd);
