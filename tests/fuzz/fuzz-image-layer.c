/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* libFuzzer target: the layer unpacker, unpack_archive() of utils/image.c
 * (included here: its functions are static; run.sh leaves image.o out of
 * this target's link).
 *
 * Input: a first byte 0, then entries the harness writes as a tar with
 * valid headers (so that mutations reach csand's code rather than fail
 * libarchive's checksum): per entry a kind byte (file, directory, symlink,
 * hard link, FIFO, character device, by value mod 6), two bytes of mode,
 * the name and the data or link target, each NUL-terminated. Any other
 * first byte: the input is the layer blob itself (tar, plain, gzip or
 * zstd). The blob is read through a memfd as csand reads one. Each run
 * unpacks into a fresh
 * directory JAIL/root; afterwards JAIL must hold nothing but root (an entry
 * written beside it means the unpacker left the layer: abort, so that
 * libFuzzer keeps the input), and no file under root may carry a setuid or
 * setgid bit. Errors of the unpacker are expected; crashes, leaks and
 * sanitizer reports are the findings. */
#include "utils/image.c"

#include <sys/mman.h>

#include "tar-writer.h"

static char jail[256];

/* Empty between runs (left behind only by a crash). */
static void remove_jail(void) {
        (void) rmdir(jail);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        Error e = {};
        if (archive_dlopen(&e) < 0) {
                fprintf(stderr, "fuzz-image-layer: %s\n", e.message);
                abort();
        }
        snprintf(jail, sizeof(jail), "%s/csand-fuzz-layer-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(jail))
                abort();
        atexit(remove_jail);
        return 0;
}

/* Nothing in JAIL but "root", and no setuid/setgid bit below it. */
static void check_contained(int jail_fd, int root_fd) {
        int dfd = fcntl(jail_fd, F_DUPFD_CLOEXEC, 3);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d)
                abort();
        for (struct dirent *de; (de = readdir(d));)
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 && strcmp(de->d_name, "root") != 0) {
                        fprintf(stderr, "fuzz-image-layer: %s written beside the layer\n", de->d_name);
                        abort();
                }
        closedir(d);
        struct stat st;
        if (fstat(root_fd, &st) < 0 || (st.st_mode & (S_ISUID | S_ISGID)))
                abort();
}

static void check_no_setid(int dir_fd, unsigned depth) {
        int dfd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d)
                return; /* a mode-000 directory of the layer */
        for (struct dirent *de; (de = readdir(d));) {
                struct stat st;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                    fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (st.st_mode & (S_ISUID | S_ISGID)) {
                        fprintf(stderr, "fuzz-image-layer: %s keeps a setuid/setgid bit\n", de->d_name);
                        abort();
                }
                if (S_ISDIR(st.st_mode) && depth < 64) {
                        int sub = openat(dir_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0) {
                                check_no_setid(sub, depth + 1);
                                close(sub);
                        }
                }
        }
        closedir(d);
}

/* The structured input as a tar, in a memfd. */
static int tar_from_entries(const uint8_t *data, size_t size) {
        static const char types[] = { '0', '5', '2', '1', '6', '3' };
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                abort();
        for (size_t i = 0; i + 3 < size;) {
                char type = types[data[i] % 6];
                unsigned mode = (unsigned) data[i + 1] << 8 | data[i + 2];
                i += 3;
                const char *name = (const char *) data + i;
                size_t n = strnlen(name, size - i);
                if (i + n >= size)
                        break;
                i += n + 1;
                const char *arg = (const char *) data + i;
                size_t a = strnlen(arg, size - i);
                char *copy = strndup(arg, a);
                if (!copy)
                        abort();
                i += a + (i + a < size);
                tar_member(f, type, mode, name, type == '1' || type == '2' ? copy : "", copy, a);
                free(copy);
        }
        tar_end(f);
        fclose(f);
        int fd = memfd_create("fuzz-layer", MFD_CLOEXEC);
        if (fd < 0 || write(fd, buf, len) != (ssize_t) len)
                abort();
        free(buf);
        return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_close_ int jail_fd = open(jail, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (jail_fd < 0 || mkdirat(jail_fd, "root", 0755) < 0)
                abort();
        _cleanup_close_ int root_fd = openat(jail_fd, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root_fd < 0)
                abort();

        _cleanup_(blob_stream_done) BlobStream s = { .fd = -EBADF };
        if (size > 0 && data[0] == 0)
                s.fd = tar_from_entries(data + 1, size - 1);
        else if ((s.fd = memfd_create("fuzz-layer", MFD_CLOEXEC)) < 0 || (size > 0 && write(s.fd, data, size) != (ssize_t) size))
                abort();
        if (lseek(s.fd, 0, SEEK_SET) < 0)
                abort();
        sha256_init(&s.sha);

        Error e = {};
        {
                _cleanup_(unpack_done) Unpack u = { .root_fd = root_fd, .layer = "sha256:fuzz" };
                (void) unpack_archive(&u, &s, &e);
        }
        check_no_setid(root_fd, 0);
        check_contained(jail_fd, root_fd);
        if (rm_rf_at(jail_fd, "root") < 0)
                abort();
        return 0;
}
