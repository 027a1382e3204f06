/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Checked parsers: whole string, no sign tricks, no overflow. 0 or -EINVAL/-ERANGE. */
int parse_uint64(const char *s, uint64_t *ret);
int parse_uint32(const char *s, uint32_t *ret);
/* A TCP/UDP port, 1 to 65535: -ERANGE for a number outside, -EINVAL for
 * anything else. */
int parse_port(const char *s, uint16_t *ret);
int parse_fd(const char *s, int *ret);
int parse_mode(const char *s, mode_t *ret);
/* Bytes with an optional k/m/g suffix (powers of 1024). */
int parse_size(const char *s, uint64_t *ret);

/* A kernel version, "5.8" or "4.15.3": at most three numbers, each
 * checked, into RET (missing ones 0); with ALLOW_SUFFIX, anything may
 * follow them ("6.1.0-57-amd64"). */
int parse_kernel_version(const char *s, bool allow_suffix, unsigned ret[3]);
/* The running kernel's, from uname(). */
int running_kernel_version(unsigned ret[3]);
