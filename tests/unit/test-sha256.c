/* SPDX-License-Identifier: LGPL-2.0-or-later */
#include <stdlib.h>

#include "tap.h"
#include "utils/sha256.h"

static void hex(const uint8_t md[static 32], char ret[static 65]) {
        for (unsigned i = 0; i < 32; i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
}

/* DATA fed in pieces of STEP bytes (0: all at once). */
static void digest(const char *data, size_t n, size_t step, char ret[static 65]) {
        Sha256 s;
        uint8_t md[32];
        sha256_init(&s);
        for (size_t done = 0; done < n;) {
                size_t take = step && n - done > step ? step : n - done;
                sha256_update(&s, data + done, take);
                done += take;
        }
        sha256_final(&s, md);
        hex(md, ret);
}

/* FIPS 180-4's examples (NIST CSRC), and lengths around the padding's
 * block boundary (55, 56, 64 bytes), checked against sha256sum. */
static void test_vectors(void) {
        static const struct {
                const char *data, *sha;
        } v[] = {
                { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
                { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
                { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
                { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                  "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
                { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                  "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
                { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                  "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
        };
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
                for (size_t step = 0; step <= 7; step += 7) {
                        char got[65];
                        digest(v[i].data, strlen(v[i].data), step, got);
                        CHECK_STR(got, v[i].sha, "sha256 of %zu bytes (pieces of %zu)", strlen(v[i].data), step);
                }
}

static void test_million_a(void) {
        size_t n = 1000000;
        char *a = malloc(n), got[65];
        if (!CHECK(a != NULL, "malloc"))
                return;
        memset(a, 'a', n);
        digest(a, n, 4099, got);
        CHECK_STR(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "sha256 of a million 'a'");
        free(a);
}

int main(void) {
        test_vectors();
        test_million_a();
        return tap_done();
}
