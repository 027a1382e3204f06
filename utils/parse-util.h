/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

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
