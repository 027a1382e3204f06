/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* A minimal ustar writer for the fuzz harnesses: they build tars whose
 * headers libarchive accepts (right checksums), so that the fuzzer's
 * mutations reach csand's code instead of dying in the tar parser. */
#pragma once

#include <stdio.h>
#include <string.h>

/* One member: TYPE is the ustar typeflag ('0' file, '1' hard link, '2'
 * symlink, '3' char device, '5' directory, '6' FIFO); NAME and LINK are
 * cut to 99 bytes; DATA (LEN bytes) only for files. */
static inline void tar_member(FILE *f, char type, unsigned mode, const char *name, const char *link, const void *data,
                              size_t len) {
        unsigned char h[512] = {};
        snprintf((char *) h, 100, "%s", name);
        snprintf((char *) h + 100, 8, "%07o", mode & 07777);
        memcpy(h + 108, "0000000", 8);
        memcpy(h + 116, "0000000", 8);
        snprintf((char *) h + 124, 12, "%011zo", type == '0' ? len : 0);
        memcpy(h + 136, "00000000000", 12);
        h[156] = (unsigned char) type;
        snprintf((char *) h + 157, 100, "%s", link);
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < sizeof(h); i++)
                sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum);
        fwrite(h, 1, sizeof(h), f);
        if (type != '0')
                return;
        static const unsigned char zero[512];
        fwrite(data, 1, len, f);
        fwrite(zero, 1, (512 - len % 512) % 512, f);
}

/* The end of the archive: two zero blocks. */
static inline void tar_end(FILE *f) {
        static const unsigned char zero[1024];
        fwrite(zero, 1, sizeof(zero), f);
}
