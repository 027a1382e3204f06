/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4), plain C. For the small blobs every image run
 * verifies (index, manifest, config): loading and initialising libcrypto
 * costs a cached run ~2-3 ms, more than hashing a few KiB takes. Layers,
 * megabytes each, go through libcrypto's (SHA-NI) implementation. */
typedef struct Sha256 {
        uint32_t h[8];
        uint64_t length; /* bytes so far */
        uint8_t block[64];
        size_t used; /* bytes in block */
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t ret[static 32]);
