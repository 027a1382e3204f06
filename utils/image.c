/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* Container images: resolving a manifest, verifying and unpacking layers
 * into the cache, and turning the image config into plan content. See
 * image.h for the design. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "dlopen-util.h"
#include "json-util.h"
#include "log.h"
#include "sha256.h"

/* libarchive and libcrypto (with ICU, libxml2 and libstdc++ behind them)
 * are loaded only when an image option is used: linked, they cost every
 * csand start ~15 libraries' worth of loading and relocation. */
static DLSYM_FUNCTION(archive_error_string);
static DLSYM_FUNCTION(archive_entry_perm);
static DLSYM_FUNCTION(archive_read_support_format_tar);
static DLSYM_FUNCTION(archive_read_support_filter_zstd);
static DLSYM_FUNCTION(archive_read_support_filter_none);
static DLSYM_FUNCTION(archive_read_support_filter_gzip);
static DLSYM_FUNCTION(archive_read_next_header);
static DLSYM_FUNCTION(archive_read_new);
static DLSYM_FUNCTION(archive_read_free);
static DLSYM_FUNCTION(archive_entry_pathname);
static DLSYM_FUNCTION(archive_entry_mtime_nsec);
static DLSYM_FUNCTION(archive_entry_mtime);
static DLSYM_FUNCTION(archive_set_error);
static DLSYM_FUNCTION(archive_read_open2);
static DLSYM_FUNCTION(archive_read_open);
static DLSYM_FUNCTION(archive_read_data_block);
static DLSYM_FUNCTION(archive_read_data);
static DLSYM_FUNCTION(archive_entry_symlink);
static DLSYM_FUNCTION(archive_entry_size);
static DLSYM_FUNCTION(archive_entry_hardlink);
static DLSYM_FUNCTION(archive_entry_filetype);
static DLSYM_FUNCTION(EVP_DigestFinal_ex);
static DLSYM_FUNCTION(EVP_DigestInit_ex);
static DLSYM_FUNCTION(EVP_DigestUpdate);
static DLSYM_FUNCTION(EVP_MD_CTX_free);
static DLSYM_FUNCTION(EVP_MD_CTX_new);
static DLSYM_FUNCTION(EVP_sha256);

/* libarchive (and the ~12 libraries behind it) only when a layer is
 * unpacked or a tarball read: a run from cached layers of an OCI layout
 * needs only libcrypto and json-c. */
static int archive_dlopen(Error *e) {
        static void *archive;
        static const DlSymbol archive_symbols[] = {
                DLSYM_ARG(archive_error_string),
                DLSYM_ARG(archive_entry_perm),
                DLSYM_ARG(archive_read_support_format_tar),
                DLSYM_ARG(archive_read_support_filter_zstd),
                DLSYM_ARG(archive_read_support_filter_none),
                DLSYM_ARG(archive_read_support_filter_gzip),
                DLSYM_ARG(archive_read_next_header),
                DLSYM_ARG(archive_read_new),
                DLSYM_ARG(archive_read_free),
                DLSYM_ARG(archive_entry_pathname),
                DLSYM_ARG(archive_entry_mtime_nsec),
                DLSYM_ARG(archive_entry_mtime),
                DLSYM_ARG(archive_set_error),
                DLSYM_ARG(archive_read_open2),
                DLSYM_ARG(archive_read_open),
                DLSYM_ARG(archive_read_data_block),
                DLSYM_ARG(archive_read_data),
                DLSYM_ARG(archive_entry_symlink),
                DLSYM_ARG(archive_entry_size),
                DLSYM_ARG(archive_entry_hardlink),
                DLSYM_ARG(archive_entry_filetype),
        };
        return dlopen_symbols(&archive, "libarchive.so.13", "container images", archive_symbols,
                              ELEMENTSOF(archive_symbols), e);
}

/* libcrypto for the layers only: megabytes, where its SHA-NI code pays
 * for loading and initialising it (~2-3 ms); index, manifest and config go
 * through sha256.c. */
static int crypto_dlopen(Error *e) {
        static void *crypto;
        static const DlSymbol crypto_symbols[] = {
                DLSYM_ARG(EVP_DigestFinal_ex), DLSYM_ARG(EVP_DigestInit_ex), DLSYM_ARG(EVP_DigestUpdate),
                DLSYM_ARG(EVP_MD_CTX_free),    DLSYM_ARG(EVP_MD_CTX_new),    DLSYM_ARG(EVP_sha256),
        };
        return dlopen_symbols(&crypto, "libcrypto.so.3", "container images", crypto_symbols, ELEMENTSOF(crypto_symbols), e);
}

/* From here on, the calls go through the pointers. */
#define archive_error_string sym_archive_error_string
#define archive_entry_perm sym_archive_entry_perm
#define archive_read_support_format_tar sym_archive_read_support_format_tar
#define archive_read_support_filter_zstd sym_archive_read_support_filter_zstd
#define archive_read_support_filter_none sym_archive_read_support_filter_none
#define archive_read_support_filter_gzip sym_archive_read_support_filter_gzip
#define archive_read_next_header sym_archive_read_next_header
#define archive_read_new sym_archive_read_new
#define archive_read_free sym_archive_read_free
#define archive_entry_pathname sym_archive_entry_pathname
#define archive_entry_mtime_nsec sym_archive_entry_mtime_nsec
#define archive_entry_mtime sym_archive_entry_mtime
#define archive_set_error sym_archive_set_error
#define archive_read_open2 sym_archive_read_open2
#define archive_read_open sym_archive_read_open
#define archive_read_data_block sym_archive_read_data_block
#define archive_read_data sym_archive_read_data
#define archive_entry_symlink sym_archive_entry_symlink
#define archive_entry_size sym_archive_entry_size
#define archive_entry_hardlink sym_archive_entry_hardlink
#define archive_entry_filetype sym_archive_entry_filetype
#define EVP_DigestFinal_ex sym_EVP_DigestFinal_ex
#define EVP_DigestInit_ex sym_EVP_DigestInit_ex
#define EVP_DigestUpdate sym_EVP_DigestUpdate
#define EVP_MD_CTX_free sym_EVP_MD_CTX_free
#define EVP_MD_CTX_new sym_EVP_MD_CTX_new
#define EVP_sha256 sym_EVP_sha256

#include "fd-util.h"
#include "helpers.h"
#include "image.h"
#include "network.h"
#include "overlay.h"

#define BLOB_MAX (16u << 20) /* index, manifest, config, manifest.json */
#define XATTR_WHITEOUT "user.overlay.whiteout"
#define XATTR_OPAQUE "user.overlay.opaque"
/* The image's mode of a file that lost its setuid/setgid bits in the cache. */
#define XATTR_IMAGE_MODE "user.csand.mode"
/* On a cached layer's root: the format it was unpacked in. Bumped when
 * unpacking changes what a cached layer holds; entries of an older format
 * are unpacked anew. 2: no setuid or setgid bits. */
#define XATTR_LAYER_FORMAT "user.csand.layer"
#define LAYER_FORMAT "2"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct ImageLayer {
        char hex[65];     /* the blob's sha256, also the cache key */
        char *media_type; /* NULL for docker save layers */
        char *member;     /* docker save: the layer's name in the tarball */
        int64_t size;     /* -1 when unknown */
} ImageLayer;

typedef struct Image {
        char *path;
        char *tag; /* NULL: default */
        int fd;    /* the OCI layout's directory, or the tarball */
        bool tarball;
        char manifest_hex[65], config_hex[65];
        ImageLayer *layers;
        size_t n_layers;
        char **env, **entrypoint, **cmd; /* NULL-terminated; NULL when absent */
        char *workdir, *user;
        /* OCI: what the resolved image is recorded under; stored once the
         * image is ready, unless it came from there */
        char *record_key;
        char record_name[72];
        bool from_record;
} Image;

/* ==== small helpers ====================================================== */

static void image_done(Image *img) {
        free(img->path);
        free(img->tag);
        safe_close(img->fd);
        for (size_t i = 0; i < img->n_layers; i++) {
                free(img->layers[i].media_type);
                free(img->layers[i].member);
        }
        free(img->layers);
        strv_free(img->env);
        strv_free(img->entrypoint);
        strv_free(img->cmd);
        free(img->workdir);
        free(img->user);
        free(img->record_key);
}

static void archive_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}
#define _cleanup_archive_ _cleanup_(archive_freep)

/* A reader of tar, plain or compressed as image layers are (gzip, zstd). */
static int tar_reader_new(struct archive **ret, Error *e) {
        if (archive_dlopen(e) < 0)
                return -e->error;
        struct archive *a = archive_read_new();
        if (!a)
                return error_setf(e, ENOMEM, "Out of memory");
        archive_read_support_format_tar(a);
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_filter_none(a);
        *ret = a;
        return 0;
}

static bool is_sha256_hex(const char *s) {
        if (strlen(s) != 64)
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return true;
}

/* "sha256:<hex>" -> hex. */
static int digest_to_hex(const char *digest, char ret[static 65]) {
        if (!digest || strncmp(digest, "sha256:", 7) != 0 || !is_sha256_hex(digest + 7))
                return -EINVAL;
        memcpy(ret, digest + 7, 65);
        return 0;
}

static void sha256_to_hex(const unsigned char md[static 32], char ret[static 65]) {
        for (unsigned i = 0; i < 32; i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
}

static int openat2_beneath(int dir_fd, const char *path, int flags, uint64_t resolve, int *ret_fd) {
        struct open_how how = {
                .flags = (uint64_t) flags | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve,
        };
        int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

/* Removes NAME in DIR_FD and everything below it (our own cache: modes
 * are widened first so that read-only directories can be emptied). */
static int rm_rf_at(int dir_fd, const char *name);

static int rm_rf_children(int fd) {
        int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -errno;
        _cleanup_closedir_ DIR *d = fdopendir(dfd);
        if (!d) {
                safe_close(dfd);
                return -errno;
        }
        int ret = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                int r = S_ISDIR(st.st_mode) ? rm_rf_at(fd, de->d_name) : RET_NERRNO(unlinkat(fd, de->d_name, 0));
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

static int rm_rf_at(int dir_fd, const char *name) {
        (void) fchmodat(dir_fd, name, 0700, 0);
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        int r = rm_rf_children(fd);
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return r < 0 ? r : -errno;
        return r;
}

static int random_suffix(char ret[static 17]) {
        uint64_t v;
        if (getrandom(&v, sizeof(v), 0) != sizeof(v))
                return -errno;
        snprintf(ret, 17, "%016" PRIx64, v);
        return 0;
}

/* ==== reading blobs: OCI layout files or tarball members ================ */

/* A blob being read, hashed on the way. Either from an fd (OCI layout) or
 * from an outer archive positioned at a member (docker save tarball). */
typedef struct BlobStream {
        int fd;
        struct archive *outer;
        EVP_MD_CTX *evp; /* a layer: libcrypto's SHA-256 */
        Sha256 sha;      /* else */
        uint64_t n;
        uint64_t max; /* more is an error; 0: no bound */
        bool too_big;
        unsigned char buf[1 << 16];
} BlobStream;

static void blob_stream_done(BlobStream *s) {
        safe_close(s->fd);
        if (s->outer)
                archive_read_free(s->outer);
        if (s->evp)
                EVP_MD_CTX_free(s->evp);
}

static la_ssize_t blob_stream_read(struct archive *a, void *userdata, const void **ret_buf) {
        BlobStream *s = userdata;
        ssize_t n;
        if (s->outer)
                n = archive_read_data(s->outer, s->buf, sizeof(s->buf));
        else
                do
                        n = read(s->fd, s->buf, sizeof(s->buf));
                while (n < 0 && errno == EINTR);
        if (n > 0 && s->max > 0 && s->n + (uint64_t) n > s->max) {
                s->too_big = true;
                if (a)
                        archive_set_error(a, EFBIG, "the blob is larger than its descriptor says");
                return -1;
        }
        if (n < 0) {
                if (a)
                        archive_set_error(a, EIO, "read error in the image");
                return -1;
        }
        if (s->evp)
                EVP_DigestUpdate(s->evp, s->buf, (size_t) n);
        else
                sha256_update(&s->sha, s->buf, (size_t) n);
        s->n += (uint64_t) n;
        *ret_buf = s->buf;
        return n;
}

/* Reads what is left of the blob (hashing it), then checks the digest. */
static int blob_stream_verify(BlobStream *s, const char *hex, Error *e) {
        const void *b;
        la_ssize_t n;
        while ((n = blob_stream_read(NULL, s, &b)) > 0)
                ;
        if (s->too_big)
                return error_setf(e, EFBIG, "blob sha256:%s is larger than its descriptor says (%" PRIu64 " bytes)",
                                  hex, s->max);
        if (n < 0)
                return error_setf(e, EIO, "Can't read blob sha256:%s", hex);
        unsigned char md[EVP_MAX_MD_SIZE];
        if (s->evp)
                EVP_DigestFinal_ex(s->evp, md, NULL);
        else
                sha256_final(&s->sha, md);
        char got[65];
        sha256_to_hex(md, got);
        if (strcmp(got, hex) != 0)
                return error_setf(e, EBADMSG, "digest mismatch for blob sha256:%s (its content hashes to sha256:%s)", hex, got);
        return 0;
}

static const char *member_name(const char *name) {
        while (strncmp(name, "./", 2) == 0)
                name += 2;
        return name;
}

/* The tarball read with pread() from an offset of the reader's own: the
 * layers being unpacked at the same time each read their member through
 * one shared fd. */
typedef struct TarballReader {
        int fd;
        off_t off;
        unsigned char buf[1 << 16];
} TarballReader;

static la_ssize_t tarball_read(struct archive *a, void *userdata, const void **ret_buf) {
        TarballReader *t = userdata;
        ssize_t n;
        do
                n = pread(t->fd, t->buf, sizeof(t->buf), t->off);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                archive_set_error(a, errno, "read error in the tarball");
                return -1;
        }
        t->off += n;
        *ret_buf = t->buf;
        return n;
}

static la_int64_t tarball_skip(struct archive *a, void *userdata, la_int64_t request) {
        TarballReader *t = userdata;
        t->off += (off_t) request;
        return request;
}

static int tarball_close(struct archive *a, void *userdata) {
        free(userdata);
        return ARCHIVE_OK;
}

/* An archive reader on the tarball positioned at member NAME. It reads the
 * tarball from its start: one member is read at a time. */
static int tarball_open_member(const Image *img, const char *name, struct archive **ret, Error *e) {
        _cleanup_archive_ struct archive *a = NULL;
        if (tar_reader_new(&a, e) < 0)
                return -e->error;
        TarballReader *t = malloc(sizeof(TarballReader));
        if (!t)
                return error_setf(e, ENOMEM, "Out of memory");
        *t = (TarballReader) { .fd = img->fd };
        /* archive_read_open2() frees T through tarball_close(), also when it fails */
        if (archive_read_open2(a, t, NULL, tarball_read, tarball_skip, tarball_close) != ARCHIVE_OK)
                return error_setf(e, EINVAL, "%s: not a docker save tarball: %s", img->path, archive_error_string(a));
        struct archive_entry *entry;
        int r;
        while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN)
                if (strcmp(member_name(archive_entry_pathname(entry) ?: ""), member_name(name)) == 0) {
                        *ret = TAKE_PTR(a);
                        return 0;
                }
        if (r == ARCHIVE_EOF)
                return error_setf(e, ENOENT, "%s: no %s in the tarball", img->path, name);
        return error_setf(e, EINVAL, "%s: %s", img->path, archive_error_string(a));
}

/* FD, just opened (O_NONBLOCK: a FIFO would block the open, and every
 * read after it), is a regular file? Else a clear error naming WHAT. */
static int check_regular(int fd, const Image *img, const char *what, Error *e) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set_errno(e, errno, "%s: can't stat %s", img->path, what);
        if (!S_ISREG(st.st_mode))
                return error_setf(e, EINVAL, "%s: %s is not a regular file", img->path, what);
        return 0;
}

/* Opens blob HEX of the image (OCI: blobs/sha256/HEX; tarball: MEMBER).
 * LAYER: hashed with libcrypto. */
static int blob_open(const Image *img, const char *hex, const char *member, uint64_t max, bool layer, BlobStream *s, Error *e) {
        *s = (BlobStream) { .fd = -EBADF, .max = max };
        if (img->tarball) {
                if (tarball_open_member(img, member, &s->outer, e) < 0)
                        return -e->error;
        } else {
                char path[128], what[160];
                snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
                snprintf(what, sizeof(what), "%s%s", member ? "" : "blob sha256:", member ?: hex);
                int r = openat2_beneath(img->fd, member ?: path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, &s->fd);
                if (r < 0)
                        return error_set_errno(e, r, "%s: can't open %s", img->path, what);
                if (check_regular(s->fd, img, what, e) < 0)
                        return -e->error;
        }
        if (!layer) {
                sha256_init(&s->sha);
                return 0;
        }
        if (crypto_dlopen(e) < 0)
                return -e->error;
        s->evp = EVP_MD_CTX_new();
        if (!s->evp || EVP_DigestInit_ex(s->evp, EVP_sha256(), NULL) != 1)
                return error_setf(e, ENOMEM, "Can't set up SHA-256");
        return 0;
}

/* A whole small blob, NUL-terminated. HEX NULL: not verified (index.json,
 * manifest.json). */
static int blob_read_small(const Image *img, const char *hex, const char *member, char **ret, Error *e) {
        _cleanup_(blob_stream_done) BlobStream s;
        if (blob_open(img, hex ?: "", member, 0, false, &s, e) < 0)
                return -e->error;
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        const void *b;
        la_ssize_t n;
        while ((n = blob_stream_read(NULL, &s, &b)) > 0) {
                if (len + (size_t) n > BLOB_MAX)
                        return error_setf(e, EFBIG, "%s: %s is too large", img->path, member ?: hex);
                char *m = realloc(data, len + (size_t) n + 1);
                if (!m)
                        return error_setf(e, ENOMEM, "Out of memory");
                data = m;
                memcpy(data + len, b, (size_t) n);
                len += (size_t) n;
        }
        if (n < 0)
                return error_setf(e, EIO, "%s: can't read %s", img->path, member ?: hex);
        if (!data && !(data = strdup("")))
                return error_setf(e, ENOMEM, "Out of memory");
        data[len] = 0;
        if (hex && blob_stream_verify(&s, hex, e) < 0)
                return -e->error;
        *ret = TAKE_PTR(data);
        return 0;
}

static int json_parse_blob(const Image *img, const char *hex, const char *member, json_object **ret, Error *e) {
        _cleanup_free_ char *data = NULL;
        if (blob_read_small(img, hex, member, &data, e) < 0)
                return -e->error;
        json_object *o = json_tokener_parse(data);
        if (!o)
                return error_setf(e, EBADMSG, "%s: %s is not valid JSON", img->path, member ?: hex);
        *ret = o;
        return 0;
}

/* ==== JSON: index, manifest, config ===================================== */

static const char *json_str(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *json_array(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

/* An array of strings; *ret NULL when absent or null. */
static int json_strv(json_object *o, const char *key, char ***ret) {
        json_object *a = json_array(o, key);
        *ret = NULL;
        if (!a)
                return 0;
        size_t n = json_object_array_length(a);
        char **v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_array_get_idx(a, i);
                if (!json_object_is_type(s, json_type_string) || !(v[i] = strdup(json_object_get_string(s)))) {
                        strv_free(v);
                        return json_object_is_type(s, json_type_string) ? -ENOMEM : -EBADMSG;
                }
        }
        *ret = v;
        return 0;
}

static int dup_str(const char *s, char **ret) {
        *ret = NULL;
        if (s && *s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

static int parse_config(Image *img, json_object *root, Error *e) {
        json_object *c = NULL;
        json_object_object_get_ex(root, "config", &c);
        if (json_strv(c, "Env", &img->env) < 0 || json_strv(c, "Entrypoint", &img->entrypoint) < 0 ||
            json_strv(c, "Cmd", &img->cmd) < 0)
                return error_setf(e, EBADMSG, "%s: invalid image config (Env, Entrypoint or Cmd)", img->path);
        if (dup_str(json_str(c, "WorkingDir"), &img->workdir) < 0 || dup_str(json_str(c, "User"), &img->user) < 0)
                return error_setf(e, ENOMEM, "Out of memory");
        return 0;
}

static const char *const layer_media_types[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

static bool layer_media_type_ok(const char *mt) {
        for (size_t i = 0; i < ELEMENTSOF(layer_media_types); i++)
                if (strcmp(mt, layer_media_types[i]) == 0)
                        return true;
        return false;
}

static bool is_index_type(const char *mt) {
        return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
                      strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

static bool is_manifest_type(const char *mt) {
        return mt && (strcmp(mt, "application/vnd.oci.image.manifest.v1+json") == 0 ||
                      strcmp(mt, "application/vnd.docker.distribution.manifest.v2+json") == 0);
}

static int add_layer(Image *img, const char *hex, const char *media_type, const char *member, int64_t size) {
        ImageLayer *v = reallocarray(img->layers, img->n_layers + 1, sizeof(ImageLayer));
        if (!v)
                return -ENOMEM;
        img->layers = v;
        ImageLayer *l = &v[img->n_layers];
        *l = (ImageLayer) { .size = size };
        memcpy(l->hex, hex, 65);
        if ((media_type && !(l->media_type = strdup(media_type))) || (member && !(l->member = strdup(member))))
                return -ENOMEM;
        img->n_layers++;
        return 0;
}

static int oci_parse_manifest(Image *img, json_object *m, Error *e) {
        json_object *cfg = NULL;
        char hex[65];
        json_object_object_get_ex(m, "config", &cfg);
        if (digest_to_hex(json_str(cfg, "digest"), hex) < 0)
                return error_setf(e, EBADMSG, "%s: manifest sha256:%s has no valid config digest", img->path, img->manifest_hex);
        memcpy(img->config_hex, hex, 65);
        _cleanup_json_ json_object *config = NULL;
        if (json_parse_blob(img, hex, NULL, &config, e) < 0 || parse_config(img, config, e) < 0)
                return -e->error;

        json_object *layers = json_array(m, "layers");
        size_t n = layers ? json_object_array_length(layers) : 0;
        for (size_t i = 0; i < n; i++) {
                json_object *l = json_object_array_get_idx(layers, i), *sz = NULL;
                const char *mt = json_str(l, "mediaType");
                if (!mt || !layer_media_type_ok(mt))
                        return error_setf(e, EPROTONOSUPPORT, "%s: unsupported layer media type %s", img->path, mt ?: "(none)");
                if (digest_to_hex(json_str(l, "digest"), hex) < 0)
                        return error_setf(e, EBADMSG, "%s: layer %zu has no valid sha256 digest", img->path, i + 1);
                json_object_object_get_ex(l, "size", &sz);
                if (add_layer(img, hex, mt, NULL, sz ? json_object_get_int64(sz) : -1) < 0)
                        return error_setf(e, ENOMEM, "Out of memory");
        }
        if (n == 0)
                return error_setf(e, EBADMSG, "%s: the manifest has no layers", img->path);
        return 0;
}

static const char *oci_arch(void) {
        static const char *const map[][2] = {
                { "x86_64", "amd64" },    { "aarch64", "arm64" }, { "i686", "386" },
                { "i386", "386" },        { "armv7l", "arm" },    { "armv6l", "arm" },
                { "ppc64le", "ppc64le" }, { "s390x", "s390x" },   { "riscv64", "riscv64" },
        };
        static struct utsname u;
        if (uname(&u) < 0)
                return "unknown";
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(u.machine, map[i][0]) == 0)
                        return map[i][1];
        return u.machine;
}

/* The entry of an index for linux/<our arch>; an entry without a platform
 * is taken when it is the only one. */
static json_object *index_pick_platform(json_object *manifests, char *avail, size_t avail_size) {
        size_t n = json_object_array_length(manifests);
        const char *arch = oci_arch();
        avail[0] = 0;
        for (size_t i = 0; i < n; i++) {
                json_object *m = json_object_array_get_idx(manifests, i), *pl = NULL;
                json_object_object_get_ex(m, "platform", &pl);
                const char *os = json_str(pl, "os"), *a = json_str(pl, "architecture");
                if (!pl && n == 1)
                        return m;
                if (os && a && strcmp(os, "linux") == 0 && strcmp(a, arch) == 0)
                        return m;
                size_t len = strlen(avail);
                snprintf(avail + len, avail_size - len, "%s%s/%s", len ? ", " : "", os ?: "?", a ?: "?");
        }
        return NULL;
}

static int oci_resolve(Image *img, json_object *desc, unsigned depth, Error *e) {
        char hex[65];
        if (depth > 4)
                return error_setf(e, ELOOP, "%s: indexes nested too deeply", img->path);
        if (digest_to_hex(json_str(desc, "digest"), hex) < 0)
                return error_setf(e, EBADMSG, "%s: descriptor without a valid sha256 digest", img->path);
        _cleanup_json_ json_object *o = NULL;
        if (json_parse_blob(img, hex, NULL, &o, e) < 0)
                return -e->error;
        const char *mt = json_str(desc, "mediaType") ?: json_str(o, "mediaType");
        if (is_index_type(mt)) {
                json_object *ms = json_array(o, "manifests");
                char avail[512];
                json_object *m = ms ? index_pick_platform(ms, avail, sizeof(avail)) : NULL;
                if (!m)
                        return error_setf(e, ENOENT, "%s: no manifest for linux/%s (available: %s)", img->path,
                                          oci_arch(), *avail ? avail : "none");
                return oci_resolve(img, m, depth + 1, e);
        }
        if (!is_manifest_type(mt) && !(mt == NULL && json_array(o, "layers")))
                return error_setf(e, EPROTONOSUPPORT, "%s: unsupported media type %s", img->path, mt ?: "(none)");
        memcpy(img->manifest_hex, hex, 65);
        return oci_parse_manifest(img, o, e);
}

/* ==== resolved images ====================================================
 *
 * What index.json, the manifest and the config say, kept once resolved: a
 * run with a record reads index.json and the record, and neither parses
 * JSON (json-c is not loaded) nor reads and hashes the manifest and the
 * config. Keyed by the sha256 of index.json's bytes, the tag and the
 * platform: the blobs they lead to are named by their digests, checked
 * when the record was made, so the same index.json resolves the same way.
 * A record sits in the layer cache, whose directories are the user's own
 * and private (cache_open()), as "image-KEYHASH", written to a temporary
 * file and renamed into place; it is read only if it is ours and nobody
 * else may write it, and anything wrong with one means resolving again.
 *
 * Fields, each ended by a NUL: RECORD_MAGIC, the key, the manifest's and
 * the config's sha256, then "L<hex> <size> <media type>" per layer,
 * "e<n>", "p<n>", "c<n>" followed by the n strings of Env, Entrypoint, Cmd
 * (each only if the config has it), "W<dir>" and "U<user>" (likewise). */

#define RECORD_MAGIC "csand-image 1"
#define RECORD_PREFIX "image-"
#define RECORD_MAX (1U << 20)

static void sha256_hex_of(const void *data, size_t len, char ret[static 65]) {
        uint8_t md[32];
        Sha256 s;
        sha256_init(&s);
        sha256_update(&s, data, len);
        sha256_final(&s, md);
        sha256_to_hex(md, ret);
}

static int image_record_name(Image *img, const char *index, size_t len) {
        char hex[65];
        sha256_hex_of(index, len, hex);
        if (asprintf(&img->record_key, "index.json sha256:%s\n%s%s\nplatform linux/%s", hex,
                     img->tag ? "tag " : "no tag", img->tag ?: "", oci_arch()) < 0) {
                img->record_key = NULL;
                return -ENOMEM;
        }
        sha256_hex_of(img->record_key, strlen(img->record_key), hex);
        snprintf(img->record_name, sizeof(img->record_name), RECORD_PREFIX "%s", hex);
        return 0;
}

/* The next field of BUF's LEN bytes at *POS, or NULL at the end. */
static const char *record_field(const char *buf, size_t len, size_t *pos) {
        if (*pos >= len)
                return NULL;
        const char *f = buf + *pos;
        *pos += strlen(f) + 1; /* the buffer ends with a NUL (checked) */
        return f;
}

static int record_strv(const char *count, const char *buf, size_t len, size_t *pos, char ***ret) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(count, &end, 10);
        if (errno || *end || n > len || *ret)
                return -EBADMSG;
        _cleanup_strv_free_ char **v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *f = record_field(buf, len, pos);
                if (!f)
                        return -EBADMSG;
                if (!(v[i] = strdup(f)))
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

static int record_layer(Image *img, const char *f) {
        char hex[65], mt[256];
        int64_t size;
        if (sscanf(f, "%64s %" SCNd64 " %255s", hex, &size, mt) != 3 || !is_sha256_hex(hex) || !layer_media_type_ok(mt))
                return -EBADMSG;
        return add_layer(img, hex, mt, NULL, size);
}

static int record_parse(Image *img, const char *want_key, const char *buf, size_t len) {
        size_t pos = 0;
        const char *magic = record_field(buf, len, &pos), *key = record_field(buf, len, &pos),
                   *manifest = record_field(buf, len, &pos), *config = record_field(buf, len, &pos);
        if (!config || strcmp(magic, RECORD_MAGIC) != 0 || strcmp(key, want_key) != 0 || !is_sha256_hex(manifest) ||
            !is_sha256_hex(config))
                return -EBADMSG;
        memcpy(img->manifest_hex, manifest, 65);
        memcpy(img->config_hex, config, 65);
        for (const char *f; (f = record_field(buf, len, &pos));) {
                int r;
                switch (f[0]) {
                case 'L':
                        r = record_layer(img, f + 1);
                        break;
                case 'e':
                        r = record_strv(f + 1, buf, len, &pos, &img->env);
                        break;
                case 'p':
                        r = record_strv(f + 1, buf, len, &pos, &img->entrypoint);
                        break;
                case 'c':
                        r = record_strv(f + 1, buf, len, &pos, &img->cmd);
                        break;
                case 'W':
                        r = img->workdir ? -EBADMSG : dup_str(f + 1, &img->workdir);
                        break;
                case 'U':
                        r = img->user ? -EBADMSG : dup_str(f + 1, &img->user);
                        break;
                default:
                        r = -EBADMSG;
                }
                if (r < 0)
                        return r;
        }
        return img->n_layers > 0 ? 0 : -EBADMSG;
}

/* Fills IMG from its record; on any failure IMG is as it was. */
static int image_record_load(Image *img, int cache_fd) {
        struct stat st;
        _cleanup_close_ int fd = open_regular_at(cache_fd, img->record_name, &st);
        if (fd < 0)
                return fd;
        if (st.st_uid != geteuid() || (st.st_mode & 022))
                return -EPERM;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_full_fd(fd, RECORD_MAX, (void **) &buf, &len);
        if (r < 0)
                return r;
        if (len == 0 || buf[len - 1] != 0)
                return -EBADMSG;
        Image parsed = { .fd = -EBADF };
        r = record_parse(&parsed, img->record_key, buf, len);
        if (r >= 0) {
                memcpy(img->manifest_hex, parsed.manifest_hex, 65);
                memcpy(img->config_hex, parsed.config_hex, 65);
                img->layers = TAKE_PTR(parsed.layers);
                img->n_layers = parsed.n_layers;
                img->env = TAKE_PTR(parsed.env);
                img->entrypoint = TAKE_PTR(parsed.entrypoint);
                img->cmd = TAKE_PTR(parsed.cmd);
                img->workdir = TAKE_PTR(parsed.workdir);
                img->user = TAKE_PTR(parsed.user);
                parsed.n_layers = 0;
                img->from_record = true;
        }
        image_done(&parsed);
        return r;
}

static int record_put(FILE *f, char tag, const char *s) {
        return fprintf(f, "%c%s", tag, s) < 0 || fputc(0, f) == EOF ? -EIO : 0;
}

static int record_put_strv(FILE *f, char tag, char **v) {
        if (!v)
                return 0;
        size_t n = strv_length(v);
        if (fprintf(f, "%c%zu", tag, n) < 0 || fputc(0, f) == EOF)
                return -EIO;
        for (size_t i = 0; i < n; i++)
                if (fputs(v[i], f) == EOF || fputc(0, f) == EOF)
                        return -EIO;
        return 0;
}

static int record_write(FILE *f, const Image *img) {
        int r = 0;
        if (fprintf(f, RECORD_MAGIC "%c%s%c%s%c%s%c", 0, img->record_key, 0, img->manifest_hex, 0, img->config_hex, 0) < 0)
                return -EIO;
        for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
                const ImageLayer *l = &img->layers[i];
                r = fprintf(f, "L%s %" PRId64 " %s%c", l->hex, l->size, l->media_type ?: "", 0) < 0 ? -EIO : 0;
        }
        if (r >= 0)
                r = record_put_strv(f, 'e', img->env);
        if (r >= 0)
                r = record_put_strv(f, 'p', img->entrypoint);
        if (r >= 0)
                r = record_put_strv(f, 'c', img->cmd);
        if (r >= 0 && img->workdir)
                r = record_put(f, 'W', img->workdir);
        if (r >= 0 && img->user)
                r = record_put(f, 'U', img->user);
        return r;
}

/* Best effort: without a record the next run resolves again. */
static void image_record_store(const Image *img, int cache_fd) {
        char rnd[17], tmp[64];
        if (!img->record_key || img->from_record || random_suffix(rnd) < 0)
                return;
        snprintf(tmp, sizeof(tmp), ".tmp-" RECORD_PREFIX "%s", rnd);
        int fd = openat(cache_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        FILE *f = fdopen(fd, "w");
        if (!f) {
                safe_close(fd);
                (void) unlinkat(cache_fd, tmp, 0);
                return;
        }
        int r = record_write(f, img);
        if (fclose(f) != 0 || r < 0 || renameat(cache_fd, tmp, cache_fd, img->record_name) < 0)
                (void) unlinkat(cache_fd, tmp, 0);
}

static bool ref_matches(const char *ref, const char *tag) {
        size_t lr = strlen(ref), lt = strlen(tag);
        if (strcmp(ref, tag) == 0)
                return true;
        return lr > lt && ref[lr - lt - 1] == ':' && strcmp(ref + lr - lt, tag) == 0 && !strchr(ref + lr - lt, '/');
}

static int oci_resolve_index(Image *img, const char *data, Error *e);

/* CACHE_FD: the layer cache, where the resolved image may be recorded. */
static int oci_load(Image *img, int cache_fd, Error *e) {
        _cleanup_free_ char *data = NULL;
        if (faccessat(img->fd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
                return error_setf(e, ENOENT, "%s: not an OCI image layout: no index.json", img->path);
        if (blob_read_small(img, NULL, "index.json", &data, e) < 0)
                return -e->error;
        if (image_record_name(img, data, strlen(data)) < 0)
                return error_setf(e, ENOMEM, "Out of memory");
        if (image_record_load(img, cache_fd) >= 0)
                return 0;
        if (json_dlopen("container images", e) < 0)
                return -e->error;
        return oci_resolve_index(img, data, e);
}

static int oci_resolve_index(Image *img, const char *data, Error *e) {
        _cleanup_json_ json_object *index = json_tokener_parse(data);
        if (!index)
                return error_setf(e, EBADMSG, "%s: index.json is not valid JSON", img->path);
        json_object *ms = json_array(index, "manifests");
        size_t n = ms ? json_object_array_length(ms) : 0;
        const char *want = img->tag ?: "latest";
        char avail[512] = "";
        for (size_t i = 0; i < n; i++) {
                json_object *m = json_object_array_get_idx(ms, i), *ann = NULL;
                json_object_object_get_ex(m, "annotations", &ann);
                const char *ref = json_str(ann, "org.opencontainers.image.ref.name");
                if (ref && ref_matches(ref, want))
                        return oci_resolve(img, m, 0, e);
                if (ref) {
                        size_t len = strlen(avail);
                        snprintf(avail + len, sizeof(avail) - len, "%s%s", len ? ", " : "", ref);
                }
        }
        if (!img->tag && n == 1)
                return oci_resolve(img, json_object_array_get_idx(ms, 0), 0, e);
        if (n == 0)
                return error_setf(e, ENOENT, "%s: index.json lists no manifests", img->path);
        return error_setf(e, ENOENT, "%s: no image tagged %s (available: %s)", img->path, want, *avail ? avail : "no tags");
}

/* The 64 hex digits in a docker save config name ("<hex>.json" or
 * "blobs/sha256/<hex>"), or NULL. */
static bool tarball_name_hex(const char *name, char ret[static 65]) {
        const char *b = strrchr(name, '/');
        b = b ? b + 1 : name;
        if (strlen(b) < 64)
                return false;
        memcpy(ret, b, 64);
        ret[64] = 0;
        return is_sha256_hex(ret) && (b[64] == 0 || strcmp(b + 64, ".json") == 0);
}

static json_object *tarball_pick(json_object *list, const char *tag, char *avail, size_t avail_size) {
        size_t n = json_object_array_length(list);
        const char *want = tag ?: "latest";
        for (size_t i = 0; i < n; i++) {
                json_object *m = json_object_array_get_idx(list, i);
                json_object *tags = json_array(m, "RepoTags");
                for (size_t j = 0; tags && j < json_object_array_length(tags); j++) {
                        const char *t = json_object_get_string(json_object_array_get_idx(tags, j));
                        if (t && ref_matches(t, want))
                                return m;
                        size_t len = strlen(avail);
                        if (t)
                                snprintf(avail + len, avail_size - len, "%s%s", len ? ", " : "", t);
                }
        }
        return !tag && n == 1 ? json_object_array_get_idx(list, 0) : NULL;
}

static int tarball_load(Image *img, Error *e) {
        _cleanup_json_ json_object *list = NULL, *config = NULL;
        if (json_parse_blob(img, NULL, "manifest.json", &list, e) < 0)
                return -e->error;
        if (!json_object_is_type(list, json_type_array))
                return error_setf(e, EBADMSG, "%s: manifest.json is not a list", img->path);
        char avail[512] = "";
        json_object *m = tarball_pick(list, img->tag, avail, sizeof(avail));
        if (!m)
                return error_setf(e, ENOENT, "%s: no image tagged %s (available: %s)", img->path, img->tag ?: "latest",
                                  *avail ? avail : "no tags");
        const char *cfg = json_str(m, "Config");
        char hex[65];
        if (!cfg || !tarball_name_hex(cfg, hex))
                return error_setf(e, EBADMSG, "%s: manifest.json has no Config named by its sha256", img->path);
        memcpy(img->config_hex, hex, 65);
        if (json_parse_blob(img, hex, cfg, &config, e) < 0 || parse_config(img, config, e) < 0)
                return -e->error;

        json_object *rootfs = NULL, *layers = json_array(m, "Layers");
        json_object_object_get_ex(config, "rootfs", &rootfs);
        json_object *diff_ids = json_array(rootfs, "diff_ids");
        size_t n = layers ? json_object_array_length(layers) : 0;
        if (n == 0 || !diff_ids || json_object_array_length(diff_ids) != n)
                return error_setf(e, EBADMSG, "%s: Layers in manifest.json do not match the config's diff_ids", img->path);
        for (size_t i = 0; i < n; i++) {
                const char *member = json_object_get_string(json_object_array_get_idx(layers, i));
                if (digest_to_hex(json_object_get_string(json_object_array_get_idx(diff_ids, i)), hex) < 0 || !member)
                        return error_setf(e, EBADMSG, "%s: layer %zu has no valid sha256 diff_id", img->path, i + 1);
                if (add_layer(img, hex, NULL, member, -1) < 0)
                        return error_setf(e, ENOMEM, "Out of memory");
        }
        return 0;
}

/* PATH[:TAG]: the longest prefix before a ':' that exists is the path. */
static int image_open(const char *spec, int cache_fd, Image *img, Error *e) {
        *img = (Image) { .fd = -EBADF };
        _cleanup_free_ char *path = strdup(spec);
        if (!path)
                return error_setf(e, ENOMEM, "Out of memory");
        struct stat st;
        char *colon = NULL;
        while (stat(path, &st) < 0) {
                if (colon)
                        *colon = ':';
                colon = strchr(colon ? colon + 1 : path, ':');
                if (!colon)
                        return error_setf(e, ENOENT, "Can't find image %s", spec);
                *colon = 0;
        }
        if (colon && !(img->tag = strdup(colon + 1)))
                return error_setf(e, ENOMEM, "Out of memory");
        img->path = TAKE_PTR(path);
        img->tarball = !S_ISDIR(st.st_mode);
        img->fd = open(img->path, (img->tarball ? O_NONBLOCK | O_NOCTTY : O_DIRECTORY) | O_RDONLY | O_CLOEXEC);
        if (img->fd < 0)
                return error_set_errno(e, errno, "Can't open image %s", img->path);
        if (!img->tarball)
                return oci_load(img, cache_fd, e);
        /* A tarball is read once per blob: a FIFO or a device can't be. */
        if (fstat(img->fd, &st) < 0 || !S_ISREG(st.st_mode))
                return error_setf(e, EINVAL,
                                  "Image %s is neither an OCI layout directory nor a docker save tarball (a regular file)",
                                  img->path);
        if (json_dlopen("container images", e) < 0)
                return -e->error;
        return tarball_load(img, e);
}

/* ==== unpacking a layer ================================================== */

typedef struct DirMode {
        char *path;
        mode_t mode;
} DirMode;

typedef struct Unpack {
        int root_fd;
        const char *layer; /* for messages: "sha256:..." */
        DirMode *dirs;
        size_t n_dirs;
} Unpack;

static void unpack_done(Unpack *u) {
        for (size_t i = 0; i < u->n_dirs; i++)
                free(u->dirs[i].path);
        free(u->dirs);
}

/* "./a//b/" -> "a/b", "" for the root. Absolute paths and ".." are refused. */
static int entry_path_normalize(const char *in, char **ret) {
        if (in[0] == '/')
                return -EINVAL;
        _cleanup_free_ char *copy = strdup(in), *out = calloc(1, strlen(in) + 1);
        if (!copy || !out)
                return -ENOMEM;
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (strcmp(c, ".") == 0)
                        continue;
                if (strcmp(c, "..") == 0)
                        return -EINVAL;
                if (*out)
                        strcat(out, "/");
                strcat(out, c);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* An fd for directory REL under the layer root, never through a symlink;
 * missing directories are created (0755) when CREATE. */
static int layer_open_dir(int root_fd, const char *rel, bool create, int *ret_fd) {
        const uint64_t res = RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV;
        int r = openat2_beneath(root_fd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY, res, ret_fd);
        if (r != -ENOENT || !create)
                return r;
        _cleanup_free_ char *copy = strdup(rel);
        _cleanup_close_ int cur = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!copy || cur < 0)
                return copy ? -errno : -ENOMEM;
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int next = -EBADF;
                if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST)
                        return -errno;
                r = openat2_beneath(cur, c, O_RDONLY | O_DIRECTORY, res, &next);
                if (r < 0)
                        return r;
                safe_close(cur);
                cur = next;
        }
        *ret_fd = TAKE_FD(cur);
        return 0;
}

static void split_path(char *path, const char **ret_dir, const char **ret_base) {
        char *slash = strrchr(path, '/');
        if (slash) {
                *slash = 0;
                *ret_dir = path;
                *ret_base = slash + 1;
        } else {
                *ret_dir = "";
                *ret_base = path;
        }
}

/* Forgets the directory modes recorded for PATH and below: what was
 * there is gone, and a later directory of the same name is another one. */
static void unpack_forget_dirs(Unpack *u, const char *path) {
        size_t len = strlen(path), kept = 0;
        for (size_t i = 0; i < u->n_dirs; i++) {
                const char *d = u->dirs[i].path;
                if (strncmp(d, path, len) == 0 && (d[len] == 0 || d[len] == '/' || len == 0))
                        free(u->dirs[i].path);
                else
                        u->dirs[kept++] = u->dirs[i];
        }
        u->n_dirs = kept;
}

/* What make_room() found. */
enum {
        ROOM_EMPTY,    /* nothing */
        ROOM_DIR_KEPT, /* a directory, kept (KEEP_DIR) */
        ROOM_REPLACED, /* something else, removed */
};

/* Makes room for a new entry PATH (NAME in DIR_FD). Entries apply in tar
 * order and the later one wins, as containerd applies layers: what is
 * there goes, except that a directory stays for a directory (KEEP_DIR:
 * the entry then only sets its mode). */
static int make_room(Unpack *u, const char *path, int dir_fd, const char *name, bool keep_dir) {
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? ROOM_EMPTY : -errno;
        if (S_ISDIR(st.st_mode) && keep_dir)
                return ROOM_DIR_KEPT;
        int r = S_ISDIR(st.st_mode) ? rm_rf_at(dir_fd, name) : RET_NERRNO(unlinkat(dir_fd, name, 0));
        if (r < 0)
                return r;
        if (S_ISDIR(st.st_mode))
                unpack_forget_dirs(u, path);
        return ROOM_REPLACED;
}

static bool xattr_is(int fd, const char *name, const char *value) {
        char buf[8];
        ssize_t n = fgetxattr(fd, name, buf, sizeof(buf));
        return n == (ssize_t) strlen(value) && memcmp(buf, value, (size_t) n) == 0;
}

static bool is_whiteout_stat(const struct stat *st) {
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* An opaque directory hides the lower layers wholesale: drop the
 * whiteouts already made in it (xattr whiteouts would show as files). */
static int drop_whiteouts(int dir_fd) {
        int dfd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        _cleanup_closedir_ DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d)
                return safe_close(dfd), -errno;
        for (struct dirent *de; (de = readdir(d));) {
                struct stat st;
                if (de->d_type == DT_CHR && fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    is_whiteout_stat(&st)) {
                        (void) unlinkat(dir_fd, de->d_name, 0);
                        continue;
                }
                if (de->d_type != DT_REG)
                        continue;
                _cleanup_close_ int fd = openat(dir_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0 && fgetxattr(fd, XATTR_WHITEOUT, NULL, 0) >= 0)
                        (void) unlinkat(dir_fd, de->d_name, 0);
        }
        return 0;
}

static int set_opaque(int dir_fd) {
        /* overlayfs with userxattr, and fuse-overlayfs's own name */
        if (fsetxattr(dir_fd, XATTR_OPAQUE, "y", 1, 0) < 0 || fsetxattr(dir_fd, "user.fuseoverlayfs.opaque", "y", 1, 0) < 0)
                return -errno;
        return 0;
}

/* .wh..wh..opq: the lower layers' DIR is hidden, whatever the order of
 * the marker and this layer's entries in DIR (the OCI spec). */
static int unpack_opaque(int dir_fd) {
        int r = set_opaque(dir_fd);
        return r < 0 ? r : drop_whiteouts(dir_fd);
}

/* .wh.NAME: NAME goes, this layer's as any earlier entry (the later entry
 * wins), and the lower layers' NAME is hidden. */
static int unpack_whiteout(Unpack *u, const char *dir, int dir_fd, const char *name) {
        if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return -EINVAL;
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
                return -ENOMEM;
        int r = make_room(u, path, dir_fd, name, false);
        if (r < 0)
                return r;
        if (xattr_is(dir_fd, XATTR_OPAQUE, "y"))
                return 0; /* nothing below to hide */
        /* The classic whiteout, a 0/0 character device: anyone may make
         * one since Linux 5.8, and both overlay drivers read it. */
        if (mknodat(dir_fd, name, S_IFCHR | 0000, makedev(0, 0)) == 0)
                return 0;
        if (errno != EPERM)
                return -errno;
        /* Else an xattr whiteout (Linux 6.7+, kernel overlayfs only). */
        _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (fsetxattr(fd, XATTR_WHITEOUT, "y", 1, 0) < 0 || fsetxattr(dir_fd, XATTR_OPAQUE, "x", 1, 0) < 0)
                return -errno;
        return 0;
}

static int unpack_file_data(struct archive *a, int fd, int64_t size) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r;
        while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                for (size_t done = 0; done < len;) {
                        ssize_t n = pwrite(fd, (const char *) buf + done, len - done, off + (off_t) done);
                        if (n < 0 && errno != EINTR)
                                return -errno;
                        done += n > 0 ? (size_t) n : 0;
                }
        }
        if (r != ARCHIVE_EOF)
                return -EIO;
        return RET_NERRNO(ftruncate(fd, size));
}

/* The image's MODE without setuid and setgid: those bits would do nothing
 * inside (no_new_privs, nosuid mounts), but in the cache, a directory of
 * the user's on the host, they would be real: a setuid program of the
 * user's that anyone who can reach it runs with the user's rights. */
static mode_t cache_mode(mode_t mode) {
        return mode & 07777 & ~(mode_t) (S_ISUID | S_ISGID);
}

static int unpack_regular(struct archive *a, struct archive_entry *entry, int dir_fd, const char *base) {
        _cleanup_close_ int fd = openat(dir_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        int r = unpack_file_data(a, fd, archive_entry_size(entry));
        if (r < 0)
                return r;
        struct timespec ts[2] = {
                { .tv_sec = archive_entry_mtime(entry), .tv_nsec = archive_entry_mtime_nsec(entry) },
                { .tv_sec = archive_entry_mtime(entry), .tv_nsec = archive_entry_mtime_nsec(entry) },
        };
        (void) futimens(fd, ts);
        mode_t mode = archive_entry_perm(entry) & 07777;
        if (mode != cache_mode(mode)) {
                /* Kept for whoever wants to know (getfattr inside): best effort. */
                char v[8];
                snprintf(v, sizeof(v), "%04o", (unsigned) mode);
                (void) fsetxattr(fd, XATTR_IMAGE_MODE, v, strlen(v), 0);
        }
        return RET_NERRNO(fchmod(fd, cache_mode(mode)));
}

static int unpack_hardlink(Unpack *u, const char *target, int dir_fd, const char *base) {
        _cleanup_free_ char *t = NULL;
        int r = entry_path_normalize(target, &t);
        if (r < 0 || !*t)
                return -EINVAL;
        const char *tdir, *tbase;
        split_path(t, &tdir, &tbase);
        _cleanup_close_ int tfd = -EBADF;
        r = layer_open_dir(u->root_fd, tdir, false, &tfd);
        if (r < 0)
                return r;
        return RET_NERRNO(linkat(tfd, tbase, dir_fd, base, 0));
}

/* A directory entry; ROOM is what make_room() found. Its mode is set at
 * the end (unpack_apply_dir_modes()); the last entry for PATH wins. */
static int unpack_dir(Unpack *u, const char *path, int dir_fd, const char *base, mode_t mode, int room) {
        if (room == ROOM_DIR_KEPT)
                for (size_t i = 0; i < u->n_dirs; i++)
                        if (strcmp(u->dirs[i].path, path) == 0) {
                                u->dirs[i].mode = cache_mode(mode);
                                return 0;
                        }
        if (room != ROOM_DIR_KEPT && mkdirat(dir_fd, base, 0700) < 0)
                return -errno;
        if (room == ROOM_REPLACED) {
                /* What it replaces (a file, a symlink, a whiteout) already
                 * hid the lower layers' PATH: so must the new directory. */
                _cleanup_close_ int fd = openat(dir_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r = fd < 0 ? -errno : set_opaque(fd);
                if (r < 0)
                        return r;
        }
        DirMode *v = reallocarray(u->dirs, u->n_dirs + 1, sizeof(DirMode));
        if (!v)
                return -ENOMEM;
        u->dirs = v;
        if (!(v[u->n_dirs].path = strdup(path)))
                return -ENOMEM;
        v[u->n_dirs++].mode = cache_mode(mode);
        return 0;
}

/* Any entry but a whiteout, as PATH (BASE in DIR_FD), in place of what is
 * there. */
static int unpack_new(Unpack *u, struct archive *a, struct archive_entry *entry, const char *path, int dir_fd,
                      const char *base) {
        mode_t type = archive_entry_filetype(entry);
        const char *hardlink = archive_entry_hardlink(entry);
        if (!hardlink && type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK && type != AE_IFIFO)
                return 0; /* device nodes and sockets: skipped */
        int room = make_room(u, path, dir_fd, base, type == AE_IFDIR && !hardlink);
        if (room < 0)
                return room;
        if (hardlink)
                return unpack_hardlink(u, hardlink, dir_fd, base);
        switch (type) {
        case AE_IFDIR:
                return unpack_dir(u, path, dir_fd, base, archive_entry_perm(entry), room);
        case AE_IFREG:
                return unpack_regular(a, entry, dir_fd, base);
        case AE_IFLNK:
                return RET_NERRNO(symlinkat(archive_entry_symlink(entry) ?: "", dir_fd, base));
        default:
                return RET_NERRNO(mknodat(dir_fd, base, S_IFIFO | (archive_entry_perm(entry) & 0777), 0));
        }
}

static int unpack_entry(Unpack *u, struct archive *a, struct archive_entry *entry, Error *e) {
        const char *name = archive_entry_pathname(entry) ?: "";
        _cleanup_free_ char *path = NULL;
        int r = entry_path_normalize(name, &path);
        if (r == -EINVAL)
                return error_setf(e, EINVAL, "layer %s: refusing path %s outside the layer", u->layer, name);
        if (r < 0)
                return error_set_errno(e, r, "layer %s: %s", u->layer, name);
        mode_t type = archive_entry_filetype(entry);
        const char *hardlink = archive_entry_hardlink(entry);
        if (!*path) { /* the layer's root */
                if (type == AE_IFDIR)
                        return unpack_dir(u, "", u->root_fd, ".", archive_entry_perm(entry), ROOM_DIR_KEPT) < 0 ?
                                       error_setf(e, ENOMEM, "Out of memory") :
                                       0;
                return error_setf(e, EINVAL, "layer %s: the root is not a directory", u->layer);
        }
        _cleanup_free_ char *full = strdup(path);
        if (!full)
                return error_setf(e, ENOMEM, "Out of memory");
        const char *dir, *base;
        split_path(path, &dir, &base);
        _cleanup_close_ int dir_fd = -EBADF;
        r = layer_open_dir(u->root_fd, dir, true, &dir_fd);
        if (r < 0)
                return error_set_errno(e, r, "layer %s: refusing %s (its directory is missing, a symlink or not a directory)",
                                       u->layer, name);

        if (strcmp(base, ".wh..wh..opq") == 0)
                r = unpack_opaque(dir_fd);
        else if (strncmp(base, ".wh.", 4) == 0)
                r = unpack_whiteout(u, dir, dir_fd, base + 4);
        else
                r = unpack_new(u, a, entry, full, dir_fd, base);
        if (r == -EINVAL && hardlink)
                return error_setf(e, EINVAL, "layer %s: refusing hard link %s to %s outside the layer", u->layer, name, hardlink);
        if (r < 0)
                return error_set_errno(e, r, "layer %s: can't unpack %s", u->layer, name);
        return 0;
}

/* Directory modes last (in reverse, children first), so that read-only
 * directories could be filled. */
static int unpack_apply_dir_modes(Unpack *u, Error *e) {
        for (size_t i = u->n_dirs; i-- > 0;) {
                _cleanup_close_ int fd = -EBADF;
                int r = layer_open_dir(u->root_fd, u->dirs[i].path, false, &fd);
                if (r >= 0)
                        r = RET_NERRNO(fchmod(fd, u->dirs[i].mode));
                if (r < 0)
                        return error_set_errno(e, r, "layer %s: can't set the mode of %s", u->layer, u->dirs[i].path);
        }
        return 0;
}

static int unpack_archive(Unpack *u, BlobStream *s, Error *e) {
        _cleanup_archive_ struct archive *a = NULL;
        if (tar_reader_new(&a, e) < 0)
                return -e->error;
        if (archive_read_open(a, s, NULL, blob_stream_read, NULL) != ARCHIVE_OK)
                return error_setf(e, EINVAL, "layer %s: %s", u->layer, archive_error_string(a));
        struct archive_entry *entry;
        int r;
        while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN)
                if (unpack_entry(u, a, entry, e) < 0)
                        return -e->error;
        if (r != ARCHIVE_EOF)
                return error_setf(e, EINVAL, "layer %s: %s", u->layer, archive_error_string(a));
        return unpack_apply_dir_modes(u, e);
}

/* ==== the layer cache ==================================================== */

/* $XDG_CACHE_HOME, else ~/.cache: the directory the cache lives in. */
static int cache_base(char **ret) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        int n;
        /* The XDG spec says relative paths are to be ignored. */
        if (xdg && xdg[0] == '/')
                n = asprintf(ret, "%s", xdg);
        else if (home && home[0] == '/')
                n = asprintf(ret, "%s/.cache", home);
        else
                return -ENOENT;
        return n < 0 ? -ENOMEM : 0;
}

/* BASE with its symlinks resolved, as far as it exists; the components
 * that don't exist yet are appended as they are ("." dropped, ".."
 * refused: it would lead out of what was checked). */
static int cache_base_resolve(const char *base, char **ret) {
        _cleanup_free_ char *head = strdup(base), *tail = strdup("");
        if (!head || !tail)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *real = realpath(head, NULL);
                if (real) {
                        if (asprintf(ret, "%s%s", strcmp(real, "/") == 0 ? "" : real, tail) < 0)
                                return -ENOMEM;
                        return 0;
                }
                if (errno != ENOENT)
                        return -errno;
                char *slash = strrchr(head, '/');
                if (!slash)
                        return -ENOENT;
                const char *last = slash + 1;
                if (strcmp(last, "..") == 0)
                        return -EINVAL;
                if (*last && strcmp(last, ".") != 0) {
                        char *t = NULL;
                        if (asprintf(&t, "/%s%s", last, tail) < 0)
                                return -ENOMEM;
                        free(tail);
                        tail = t;
                }
                if (slash == head)
                        slash[1] = 0; /* up to "/" itself */
                else
                        *slash = 0;
        }
}

/* May anyone but the caller change what the directory at FD holds (PATH,
 * for the message)? The cache's own directories (PRIVATE) must be the
 * caller's and writable by nobody else, as ssh and gpg want of theirs. Their
 * parents may also be root's (or, nested in a user namespace, an owner's
 * outside it), and writable by others when sticky: then
 * nobody else can rename or remove what is the caller's in them. */
/* The uid files of owners outside our user namespace show (nested in a
 * sandbox: root's files, among others). */
static uid_t overflow_uid(void) {
        char buf[32] = "";
        _cleanup_close_ int fd = open("/proc/sys/kernel/overflowuid", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
                return 65534;
        return (uid_t) strtoul(buf, NULL, 10);
}

static int cache_check_dir(int fd, const char *path, bool private, const char *base, Error *e) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set_errno(e, errno, "Can't stat %s", path);
        if (!S_ISDIR(st.st_mode))
                return error_setf(e, ENOTDIR, "Refusing the image cache in %s: %s is not a directory", base, path);
        /* Parents may be root's, or (nested in a user namespace) an owner's
         * outside it, who set up that namespace's files as root does. */
        if (st.st_uid != geteuid() && (private || (st.st_uid != 0 && st.st_uid != overflow_uid())))
                return error_setf(e, EPERM, "Refusing the image cache in %s: %s belongs to uid %u, not to you (set XDG_CACHE_HOME to a directory of yours)",
                                  base, path, (unsigned) st.st_uid);
        if ((st.st_mode & 022) && (private || !(st.st_mode & S_ISVTX)))
                return error_setf(e, EPERM, "Refusing the image cache in %s: others can write to %s (chmod go-w it, or set XDG_CACHE_HOME)",
                                  base, path);
        return 0;
}

/* The user's own cache directory $BASE/csand/layers: each directory on the
 * way is opened without following symlinks and checked before the next is
 * looked up in it (or created, 0700), so that the path handed to overlayfs
 * later leads where it led when checked. */
static int cache_open(char **ret_path, int *ret_fd, Error *e) {
        _cleanup_free_ char *base = NULL, *resolved = NULL, *path = NULL;
        int r = cache_base(&base);
        if (r < 0)
                return error_set_errno(e, r, "Can't find the cache directory (set XDG_CACHE_HOME or HOME)");
        r = cache_base_resolve(base, &resolved);
        if (r < 0)
                return error_set_errno(e, r, "Can't resolve the cache directory %s", base);
        if (asprintf(&path, "%s/csand/layers", resolved) < 0)
                return error_setf(e, ENOMEM, "Out of memory");
        size_t private_from = strlen(resolved);
        _cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || cache_check_dir(fd, "/", private_from == 0, base, e) < 0)
                return fd < 0 ? error_set_errno(e, errno, "Can't open /") : -e->error;
        for (char *c = path + 1; *c;) {
                char *end = strchrnul(c, '/'), saved = *end;
                *end = 0;
                bool private = (size_t) (end - path) >= private_from;
                int next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOENT) {
                        if (mkdirat(fd, c, 0700) < 0 && errno != EEXIST)
                                return error_set_errno(e, errno, "Can't create %s", path);
                        next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (next < 0)
                        return error_set_errno(e, errno, "Can't open %s", path);
                safe_close(fd);
                fd = next;
                if (cache_check_dir(fd, path, private, base, e) < 0)
                        return -e->error;
                *end = saved;
                c = saved ? end + 1 : end;
        }
        /* A real fd: the cache is read with fdopendir(). */
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return error_set_errno(e, errno, "Can't open %s", path);
        *ret_fd = dfd;
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return 0;
}

/* The cached layer NAME with a shared lock held, or -ENOENT. */
static int layer_open_locked(int cache_fd, const char *name, int *ret_fd) {
        _cleanup_close_ int fd = openat(cache_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r;
        while ((r = flock(fd, LOCK_SH)) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return -errno;
        struct stat a, b;
        if (fstat(fd, &a) < 0 || fstatat(cache_fd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != b.st_ino ||
            a.st_dev != b.st_dev)
                return -ENOENT; /* pruned while we waited */
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Unpacks LAYER into a temporary directory and renames it to NAME. Losing
 * the rename to a concurrent run is success: the winner's copy is used. */
static int layer_unpack(const Image *img, int cache_fd, const ImageLayer *l, const char *name, Error *e) {
        char rnd[17], tmp[128], label[80];
        int r = random_suffix(rnd);
        if (r < 0)
                return error_set_errno(e, r, "getrandom");
        snprintf(tmp, sizeof(tmp), ".tmp-%s-%s", name, rnd);
        snprintf(label, sizeof(label), "sha256:%s", l->hex);
        if (mkdirat(cache_fd, tmp, 0755) < 0)
                return error_set_errno(e, errno, "Can't create a directory in the cache");
        _cleanup_close_ int fd = openat(cache_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = -errno;
                (void) rm_rf_at(cache_fd, tmp);
                return error_set_errno(e, -r, "Can't open %s in the cache", tmp);
        }
        /* Before the directory modes: a read-only root takes no xattr. */
        if (fsetxattr(fd, XATTR_LAYER_FORMAT, LAYER_FORMAT, strlen(LAYER_FORMAT), 0) < 0) {
                r = -errno;
                (void) rm_rf_at(cache_fd, tmp);
                return error_set_errno(e, -r, "Can't mark %s in the cache", tmp);
        }
        _cleanup_(unpack_done) Unpack u = { .root_fd = fd, .layer = label };
        _cleanup_(blob_stream_done) BlobStream s;
        r = blob_open(img, l->hex, l->member, l->size > 0 ? (uint64_t) l->size : 0, true, &s, e);
        if (r >= 0)
                r = unpack_archive(&u, &s, e);
        if (r >= 0)
                r = blob_stream_verify(&s, l->hex, e);
        else if (s.evp) {
                /* A damaged blob is best reported as what it is. */
                Error mismatch = {};
                if (blob_stream_verify(&s, l->hex, &mismatch) < 0)
                        *e = mismatch;
        }
        if (r >= 0 && fsync(fd) < 0)
                r = error_set_errno(e, errno, "fsync");
        if (r >= 0 && renameat(cache_fd, tmp, cache_fd, name) < 0) {
                if (errno != EEXIST && errno != ENOTEMPTY)
                        r = error_set_errno(e, errno, "Can't move layer %s into place", label);
                (void) rm_rf_at(cache_fd, tmp);
        }
        if (r < 0)
                (void) rm_rf_at(cache_fd, tmp);
        return r < 0 ? r : 0;
}

/* Moves cached layer NAME of an older format out of the way, and removes
 * it unless a sandbox still uses it (then --image-cache-prune will). */
static void layer_retire(int cache_fd, const char *name) {
        char rnd[17], trash[64];
        if (random_suffix(rnd) < 0)
                return;
        snprintf(trash, sizeof(trash), ".trash-%s", rnd);
        if (renameat(cache_fd, name, cache_fd, trash) < 0)
                return; /* a concurrent run retired it */
        _cleanup_close_ int fd = openat(cache_fd, trash, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
                (void) rm_rf_at(cache_fd, trash);
}

static int layer_ensure(const Image *img, int cache_fd, const ImageLayer *l, int *ret_fd, Error *e) {
        char name[80];
        snprintf(name, sizeof(name), "sha256-%s", l->hex);
        for (unsigned attempt = 0; attempt < 5; attempt++) {
                int r = layer_open_locked(cache_fd, name, ret_fd);
                if (r >= 0 && xattr_is(*ret_fd, XATTR_LAYER_FORMAT, LAYER_FORMAT))
                        return 0;
                if (r >= 0) {
                        /* Unpacked by an older csand (setuid bits and all). */
                        *ret_fd = safe_close(*ret_fd);
                        layer_retire(cache_fd, name);
                        r = -ENOENT;
                }
                if (r != -ENOENT)
                        return error_set_errno(e, r, "Can't open cached layer %s", name);
                if (layer_unpack(img, cache_fd, l, name, e) < 0)
                        return -e->error;
        }
        return error_setf(e, EAGAIN, "Layer sha256:%s keeps disappearing from the cache", l->hex);
}

/* ==== unpacking the missing layers on every core ========================= */

/* The layers that are not in the cache, unpacked by one thread per core
 * (each reads, verifies and unpacks whole layers, largest first), so that
 * a first run is not one core's gunzip and sha256 while the others idle.
 * Memory stays bounded: a thread holds one layer's stream buffers, never a
 * layer. The layers are locked and checked afterwards by layer_ensure(),
 * as cached ones are (and a layer of an older format is redone there). */
typedef struct UnpackJobs {
        const Image *img;
        int cache_fd;
        size_t *order; /* layer indexes, largest first */
        size_t n;
        size_t next; /* the next in ORDER to take */
        pthread_mutex_t lock;
        bool failed;
        Error *errors; /* one per layer of the image */
} UnpackJobs;

static void *unpack_worker(void *userdata) {
        UnpackJobs *j = userdata;
        for (;;) {
                pthread_mutex_lock(&j->lock);
                size_t k = j->failed ? j->n : j->next++;
                pthread_mutex_unlock(&j->lock);
                if (k >= j->n)
                        return NULL;
                size_t i = j->order[k];
                const ImageLayer *l = &j->img->layers[i];
                char name[80];
                snprintf(name, sizeof(name), "sha256-%s", l->hex);
                if (layer_unpack(j->img, j->cache_fd, l, name, &j->errors[i]) < 0) {
                        pthread_mutex_lock(&j->lock);
                        j->failed = true;
                        pthread_mutex_unlock(&j->lock);
                }
        }
}

static unsigned online_cpus(void) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) < 0)
                return 1;
        int n = CPU_COUNT(&set);
        return n > 1 ? (unsigned) n : 1;
}

static int layers_unpack_missing(const Image *img, int cache_fd, Error *e) {
        _cleanup_free_ size_t *order = calloc(img->n_layers, sizeof(size_t));
        _cleanup_free_ Error *errors = calloc(img->n_layers, sizeof(Error));
        if (!order || !errors)
                return error_setf(e, ENOMEM, "Out of memory");
        UnpackJobs j = { .img = img, .cache_fd = cache_fd, .order = order, .errors = errors, .lock = PTHREAD_MUTEX_INITIALIZER };
        for (size_t i = 0; i < img->n_layers; i++) {
                char name[80];
                snprintf(name, sizeof(name), "sha256-%s", img->layers[i].hex);
                if (faccessat(cache_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
                        order[j.n++] = i;
        }
        if (j.n <= 1)
                return 0; /* layer_ensure() unpacks a single one */
        /* Largest first (insertion sort: a handful of layers). */
        for (size_t a = 1; a < j.n; a++)
                for (size_t b = a; b > 0 && img->layers[order[b]].size > img->layers[order[b - 1]].size; b--) {
                        size_t t = order[b];
                        order[b] = order[b - 1];
                        order[b - 1] = t;
                }
        pthread_t threads[64];
        size_t n_threads = online_cpus();
        if (n_threads > j.n)
                n_threads = j.n;
        if (n_threads > ELEMENTSOF(threads))
                n_threads = ELEMENTSOF(threads);
        size_t started = 0;
        /* the calling thread is one of them */
        for (; started + 1 < n_threads; started++)
                if (pthread_create(&threads[started], NULL, unpack_worker, &j) != 0)
                        break; /* fewer threads: the work gets done all the same */
        unpack_worker(&j);
        for (size_t t = 0; t < started; t++)
                pthread_join(threads[t], NULL);
        for (size_t i = 0; i < img->n_layers; i++)
                if (errors[i].error) {
                        *e = errors[i];
                        return -e->error;
                }
        return 0;
}

/* ==== the config as plan content ========================================= */

/* FILE (e.g. "etc/passwd") in the cached layer at LAYER_FD, read (at most
 * 1 MiB): 0 when it is a regular file there; -ENOENT when the layer does
 * not have it (look below); -ESRCH when it deletes it (a whiteout); -EINVAL
 * when it is anything else, never opened for reading: a crafted image's
 * FIFO would block the open forever, a device could be anything. */
static int layer_read_file(int layer_fd, const char *file, char **ret) {
        _cleanup_close_ int path_fd = -EBADF, fd = -EBADF;
        const uint64_t res = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = res };
        path_fd = (int) syscall(SYS_openat2, layer_fd, file, &how, sizeof(how));
        if (path_fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
        struct stat st;
        if (fstat(path_fd, &st) < 0)
                return -errno;
        if (is_whiteout_stat(&st))
                return -ESRCH;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        how.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
        fd = (int) syscall(SYS_openat2, layer_fd, file, &how, sizeof(how));
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return -EINVAL; /* swapped since */
        if (fgetxattr(fd, XATTR_WHITEOUT, NULL, 0) >= 0)
                return -ESRCH;
        size_t len;
        return read_full_fd(fd, 1 << 20, (void **) ret, &len);
}

/* The top-most layer's FILE: -ENOENT when no layer has it or the top-most
 * that names it deletes it. */
static int layers_read_file(int cache_fd, const Image *img, const char *file, char **ret) {
        for (size_t i = img->n_layers; i-- > 0;) {
                char name[80];
                snprintf(name, sizeof(name), "sha256-%s", img->layers[i].hex);
                _cleanup_close_ int root = openat(cache_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (root < 0)
                        return -errno;
                int r = layer_read_file(root, file, ret);
                if (r != -ENOENT)
                        return r == -ESRCH ? -ENOENT : r;
        }
        return -ENOENT;
}

/* NAME's line in passwd/group data: field 2 (the id), field 3, field 5 (home). */
static bool db_lookup(const char *data, const char *name, bool by_id, char fields[7][256]) {
        for (const char *line = data; line && *line;) {
                const char *end = strchrnul(line, '\n');
                size_t f = 0, k = 0;
                memset(fields, 0, 7 * 256);
                for (const char *c = line; c < end && f < 7; c++) {
                        if (*c == ':') {
                                f++;
                                k = 0;
                        } else if (k < 255)
                                fields[f][k++] = *c;
                }
                if (strcmp(fields[by_id ? 2 : 0], name) == 0)
                        return true;
                line = *end ? end + 1 : NULL;
        }
        return false;
}

static int parse_id(const char *s, uint32_t *ret) {
        char *end;
        if (!*s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || v >= UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

/* /etc/FILE of the image, NULL in *ret when it has none. */
static int image_read_db(int cache_fd, const Image *img, const char *file, char **ret, Error *e) {
        char path[32];
        snprintf(path, sizeof(path), "etc/%s", file);
        int r = layers_read_file(cache_fd, img, path, ret);
        if (r == -EINVAL)
                return error_setf(e, EINVAL, "%s: /%s in the image is not a regular file", img->path, path);
        if (r < 0 && r != -ENOENT)
                return error_set_errno(e, r, "%s: can't read /%s in the image", img->path, path);
        return 0;
}

/* User "name|uid[:group|gid]" -> ids and home, through the image's files. */
static int image_resolve_user(int cache_fd, const Image *img, uid_t *ret_uid, gid_t *ret_gid, char **ret_home, Error *e) {
        _cleanup_free_ char *spec = strdup(img->user ?: "0"), *passwd = NULL, *group = NULL;
        if (!spec)
                return error_setf(e, ENOMEM, "Out of memory");
        char *g = strchr(spec, ':');
        if (g)
                *g++ = 0;
        if (image_read_db(cache_fd, img, "passwd", &passwd, e) < 0)
                return -e->error;
        char f[7][256];
        uint32_t uid, gid = 0;
        bool numeric = parse_id(spec, &uid) >= 0;
        bool found = passwd && db_lookup(passwd, spec, numeric, f);
        if (!numeric && !found)
                return error_setf(e, ENOENT, "%s: user %s not found in the image's /etc/passwd", img->path, spec);
        if (found && (parse_id(f[2], &uid) < 0 || parse_id(f[3], &gid) < 0))
                return error_setf(e, EINVAL, "%s: invalid /etc/passwd entry for %s", img->path, spec);
        if (g && parse_id(g, &gid) < 0) {
                if (image_read_db(cache_fd, img, "group", &group, e) < 0)
                        return -e->error;
                if (!group || !db_lookup(group, g, false, f) || parse_id(f[2], &gid) < 0)
                        return error_setf(e, ENOENT, "%s: group %s not found in the image's /etc/group", img->path, g);
                if (!found)
                        f[5][0] = 0;
        }
        *ret_uid = uid;
        *ret_gid = gid;
        *ret_home = strdup(found && f[5][0] ? f[5] : "/");
        return *ret_home ? 0 : error_setf(e, ENOMEM, "Out of memory");
}

/* Moves the last N items of an array of SIZE-byte items to its front. */
static int rotate_to_front(void *base, size_t total, size_t n, size_t size) {
        _cleanup_free_ char *tmp = malloc(n * size ?: 1);
        if (!tmp)
                return -ENOMEM;
        char *b = base;
        memcpy(tmp, b + (total - n) * size, n * size);
        memmove(b + n * size, b, (total - n) * size);
        memcpy(b, tmp, n * size);
        return 0;
}

static bool strv_has_var(char **env, const char *name) {
        size_t n = strlen(name);
        for (char **s = env; s && *s; s++)
                if (strncmp(*s, name, n) == 0 && (*s)[n] == '=')
                        return true;
        return false;
}

/* PATH (Docker's default) and HOME first, then the image's Env: all
 * before the user's own environment options. */
static int image_apply_env(SandboxPlan *p, const Image *img, const char *home) {
        size_t before = p->n_env_ops;
        int r = 0;
        if (!strv_has_var(img->env, "PATH"))
                r = plan_add_env(p, ENV_SET, "PATH", DEFAULT_PATH);
        if (r >= 0 && !strv_has_var(img->env, "HOME"))
                r = plan_add_env(p, ENV_SET, "HOME", home);
        for (char **s = img->env; r >= 0 && s && *s; s++) {
                char *eq = strchr(*s, '=');
                if (!eq || eq == *s)
                        continue;
                _cleanup_free_ char *name = strndup(*s, (size_t) (eq - *s));
                r = name ? plan_add_env(p, ENV_SET, name, eq + 1) : -ENOMEM;
        }
        if (r < 0)
                return r;
        return rotate_to_front(p->env_ops, p->n_env_ops, p->n_env_ops - before, sizeof(EnvOp));
}

/* Docker's rules: a command given replaces Cmd; --entrypoint replaces the
 * Entrypoint and drops Cmd; "" means no entrypoint. One allocation holds
 * the pointers and the strings, so that plan_free()'s free(command) frees
 * it all. */
static int image_apply_command(SandboxPlan *p, const Image *img, Error *e) {
        char *epv[2] = { p->image_entrypoint, NULL };
        char **ep = p->image_entrypoint ? (*p->image_entrypoint ? epv : NULL) : img->entrypoint;
        char **cmd = p->n_command > 0 ? p->command : p->image_entrypoint ? NULL : img->cmd;
        size_t n = 0, bytes = 0;
        for (char **v = ep; v && *v; v++, n++)
                bytes += strlen(*v) + 1;
        for (char **v = cmd; v && *v; v++, n++)
                bytes += strlen(*v) + 1;
        if (n == 0)
                return error_setf(e, EINVAL, "%s: the image has no Entrypoint or Cmd: give a command (or --entrypoint)",
                                  img->path);
        char **out = malloc((n + 1) * sizeof(char *) + bytes);
        if (!out)
                return error_setf(e, ENOMEM, "Out of memory");
        char *data = (char *) (out + n + 1);
        size_t i = 0;
        for (unsigned part = 0; part < 2; part++)
                for (char **v = part == 0 ? ep : cmd; v && *v; v++) {
                        out[i++] = data;
                        data = stpcpy(data, *v) + 1;
                }
        out[n] = NULL;
        free(p->command);
        p->command = out;
        p->n_command = n;
        return 0;
}

static bool plan_mounts(const SandboxPlan *p, size_t n, const char *dest) {
        for (size_t i = 0; i < n; i++) {
                const char *d = p->ops[i].dest;
                while (d && d[0] == '/' && d[1] == '/')
                        d++;
                size_t len = d ? strlen(d) : 0;
                while (len > 1 && d[len - 1] == '/')
                        len--;
                if (d && strlen(dest) == len && strncmp(d, dest, len) == 0)
                        return true;
        }
        return false;
}

/* The root: one overlay of the layers with a throw-away upper (or
 * --image-overlay's RWSRC, as --overlay's), then /proc, /dev, /tmp and the
 * working directory: before every op of the user's. */
static int image_apply_mounts(SandboxPlan *p, const char *cache_path, const Image *img, const char *workdir, Error *e) {
        size_t before = p->n_ops;
        _cleanup_(overlay_sources_done) OverlaySources srcs = {};
        MountOp *op;
        int r = 0;
        for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
                char dir[PATH_MAX];
                snprintf(dir, sizeof(dir), "%s/sha256-%s", cache_path, img->layers[i].hex);
                r = overlay_sources_add(&srcs, dir);
        }
        if (r < 0)
                return error_setf(e, ENOMEM, "Out of memory");
        OverlayKind kind = p->image_overlay_rwsrc ? OVERLAY_KIND_RW : OVERLAY_KIND_TMP;
        if (overlay_plan_add_mount(p, &srcs, kind, p->image_overlay_rwsrc, p->image_overlay_workdir, "/", e) < 0)
                return -e->error;
        static const struct {
                const char *dest;
                MountOpType type;
        } std[] = {
                { "/proc", MOUNT_OP_PROC },
                { "/dev", MOUNT_OP_DEV },
                { "/tmp", MOUNT_OP_TMPFS },
        };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(std); i++)
                if (!plan_mounts(p, before, std[i].dest))
                        r = plan_add_op(p, std[i].type, NULL, std[i].dest, &op);
        if (r >= 0 && workdir && strcmp(workdir, "/") != 0 && (r = plan_add_op(p, MOUNT_OP_DIR, NULL, workdir, &op)) >= 0)
                op->perms = 0755;
        if (r < 0 || rotate_to_front(p->ops, p->n_ops, p->n_ops - before, sizeof(MountOp)) < 0)
                return error_setf(e, ENOMEM, "Out of memory");
        return 0;
}

/* As rootless podman: user-mode networking, pasta first (podman 5's
 * default), then slirp4netns (podman 4's); loopback only where neither is
 * installed, or with --userns (which user-mode networking can't join). */
static NetworkMode image_default_network(const SandboxPlan *p) {
        static const NetworkMode modes[] = { NETWORK_PASTA, NETWORK_SLIRP4NETNS };
        for (size_t i = 0; p->userns_fd < 0 && i < ELEMENTSOF(modes); i++) {
                _cleanup_free_ char *path = NULL;
                if (helper_find_executable(network_mode_to_string(modes[i]), &path) >= 0)
                        return modes[i];
        }
        return NETWORK_NONE;
}

/* A container engine's isolation, wherever the user did not choose:
 * every namespace, a network of its own, a session of its own, death with
 * csand's parent, the default seccomp profile. */
static int image_plan_isolation(SandboxPlan *p) {
        /* The layers are the caller's files: in a user namespace of ours
         * they show as owned by the image's user. */
        if (p->userns_fd < 0)
                p->unshare_user = true;
        if (p->pidns_fd < 0 && !(p->share_ns & CLONE_NEWPID))
                p->unshare_pid = true;
        if (!(p->share_ns & CLONE_NEWIPC))
                p->unshare_ipc = true;
        if (!(p->share_ns & CLONE_NEWUTS))
                p->unshare_uts = true;
        if (!(p->share_ns & CLONE_NEWCGROUP) && !p->unshare_cgroup)
                p->unshare_cgroup_try = true;
        /* --share-net, --unshare-net and --network decide; else ours */
        if (p->network.mode == NETWORK_UNSET && !(p->share_ns & CLONE_NEWNET) && !p->unshare_net) {
                p->network.mode = image_default_network(p);
                p->unshare_net = true;
        }
        if (!p->no_new_session)
                p->new_session = true;
        if (!p->no_die_with_parent)
                p->die_with_parent = true;
        if (!p->seccomp_profile && !(p->seccomp_profile = strdup("default")))
                return -ENOMEM;
        return 0;
}

int image_plan_defaults(SandboxPlan *p) {
        if (!p->image || p->image_info)
                return 0;
        int r = image_plan_isolation(p);
        if (r < 0)
                return r;
        /* As Docker: with user-mode networking, a resolv.conf made from
         * the host's (images rarely have one that works), unless the user
         * mounts their own. */
        if (network_uses_helper(&p->network, p->unshare_net) && !plan_mounts(p, p->n_ops, "/etc/resolv.conf") &&
            !plan_mounts(p, p->n_ops, "/etc"))
                p->network.resolv_conf_from_host = true;
        return 0;
}

static int image_apply(SandboxPlan *p, const char *cache_path, int cache_fd, const Image *img, Error *e) {
        uid_t uid = 0;
        gid_t gid = 0;
        _cleanup_free_ char *home = NULL;
        if (image_resolve_user(cache_fd, img, &uid, &gid, &home, e) < 0)
                return -e->error;
        /* (Namespaces, network and the rest: image_plan_defaults().) */
        if (!p->uid_set)
                p->uid = uid;
        if (!p->gid_set)
                p->gid = gid;
        if (image_apply_env(p, img, home) < 0)
                return error_setf(e, ENOMEM, "Out of memory");
        const char *workdir = p->chdir_path ? NULL : img->workdir ?: "/";
        if (workdir && !(p->chdir_path = strdup(workdir)))
                return error_setf(e, ENOMEM, "Out of memory");
        if (image_apply_mounts(p, cache_path, img, workdir, e) < 0)
                return -e->error;
        return image_apply_command(p, img, e);
}

/* --image-overlay's directories, checked before any layer is unpacked; the
 * child's overlay_mount() checks the rest, as for --overlay. */
static int image_check_overlay_dirs(const SandboxPlan *p, Error *e) {
        const char *const what[] = { "RWSRC", "WORKDIR" };
        const char *const dirs[] = { p->image_overlay_rwsrc, p->image_overlay_workdir };
        for (size_t i = 0; p->image_overlay_rwsrc && i < ELEMENTSOF(dirs); i++) {
                _cleanup_close_ int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return error_set_errno(e, errno, "Can't open --image-overlay %s %s", what[i], dirs[i]);
        }
        return 0;
}

/* ==== --image-info, --image-cache-list, --image-cache-prune =============== */

/* Everything here comes from the image or the command line: print_line()
 * escapes what could drive the terminal. */
static void print_strv(const char *label, char **v) {
        if (!v) {
                print_line("%s: (none)", label);
                return;
        }
        _cleanup_json_ json_object *a = json_object_new_array();
        for (char **s = v; *s; s++)
                json_object_array_add(a, json_object_new_string(*s));
        print_line("%s: %s", label, json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void image_print_info(const Image *img, int cache_fd) {
        print_line("image: %s", img->path);
        print_line("format: %s", img->tarball ? "docker-save" : "oci-layout");
        print_line("tag: %s", img->tag ?: "(default)");
        if (!img->tarball)
                print_line("manifest: sha256:%s", img->manifest_hex);
        print_line("config: sha256:%s", img->config_hex);
        for (char **s = img->env; s && *s; s++)
                print_line("env: %s", *s);
        print_line("workdir: %s", img->workdir ?: "/");
        print_line("user: %s", img->user ?: "0 (default)");
        print_strv("entrypoint", img->entrypoint);
        print_strv("cmd", img->cmd);
        print_line("layers: %zu", img->n_layers);
        for (size_t i = 0; i < img->n_layers; i++) {
                const ImageLayer *l = &img->layers[i];
                char name[80];
                snprintf(name, sizeof(name), "sha256-%s", l->hex);
                print_line("layer: sha256:%s %s %s", l->hex, l->media_type ?: "application/x-tar",
                           faccessat(cache_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? "cached" : "not-cached");
        }
}

/* Each cache entry: "sha256:HEX in-use|unused"; prune removes the unused
 * ones (and leftovers of interrupted unpacks nobody is writing). */
static int cache_walk(int cache_fd, bool prune, Error *e) {
        int dfd = fcntl(cache_fd, F_DUPFD_CLOEXEC, 3);
        _cleanup_closedir_ DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d)
                return safe_close(dfd), error_set_errno(e, errno, "Can't read the cache");
        size_t removed = 0, kept = 0;
        for (struct dirent *de; (de = readdir(d));) {
                const char *n = de->d_name;
                if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
                        continue;
                bool layer = strncmp(n, "sha256-", 7) == 0;
                if (strncmp(n, RECORD_PREFIX, strlen(RECORD_PREFIX)) == 0 ||
                    strncmp(n, ".tmp-" RECORD_PREFIX, strlen(".tmp-" RECORD_PREFIX)) == 0) {
                        /* a resolved image (or one half written): the next
                         * run resolves it again */
                        if (prune && unlinkat(cache_fd, n, 0) < 0 && errno != ENOENT)
                                return error_set_errno(e, errno, "Can't remove %s from the cache", n);
                        continue;
                }
                _cleanup_close_ int fd = openat(cache_fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                bool busy = fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0;
                if (!prune) {
                        if (layer)
                                print_line("sha256:%s %s", n + 7, busy ? "in-use" : "unused");
                        continue;
                }
                if (busy) {
                        kept += layer;
                        continue;
                }
                char rnd[17], trash[160];
                if (random_suffix(rnd) < 0)
                        continue;
                snprintf(trash, sizeof(trash), ".trash-%s", rnd);
                if (renameat(cache_fd, n, cache_fd, trash) < 0 || rm_rf_at(cache_fd, trash) < 0)
                        return error_set_errno(e, errno, "Can't remove %s from the cache", n);
                if (layer) {
                        print_line("removed sha256:%s", n + 7);
                        removed++;
                }
        }
        if (prune)
                print_line("pruned %zu layers, %zu in use kept", removed, kept);
        return 0;
}

/* ==== entry point ========================================================= */

int image_prepare(SandboxPlan *p, Error *e) {
        _cleanup_free_ char *cache_path = NULL;
        _cleanup_close_ int cache_fd = -EBADF;
        int r;

        if (!p->image && !p->image_cache_list && !p->image_cache_prune)
                return 0;
        if (cache_open(&cache_path, &cache_fd, e) < 0)
                return -e->error;
        if (p->image_cache_list || p->image_cache_prune) {
                r = cache_walk(cache_fd, p->image_cache_prune, e);
                return r < 0 ? r : 1;
        }

        _cleanup_(image_done) Image img;
        if (image_open(p->image, cache_fd, &img, e) < 0)
                return -e->error;
        if (p->image_info) {
                /* (which prints with json-c, which a record spares) */
                if (json_dlopen("container images", e) < 0)
                        return -e->error;
                image_print_info(&img, cache_fd);
                return 1;
        }
        if (image_check_overlay_dirs(p, e) < 0)
                return -e->error;
        if (layers_unpack_missing(&img, cache_fd, e) < 0)
                return -e->error;
        for (size_t i = 0; i < img.n_layers; i++) {
                int fd = -EBADF;
                if (layer_ensure(&img, cache_fd, &img.layers[i], &fd, e) < 0)
                        return -e->error;
                /* The monitor holds the lock for as long as the sandbox lives. */
                r = plan_own_fd(p, fd);
                if (r < 0) {
                        safe_close(fd);
                        return error_set_errno(e, r, "Can't keep the layer lock");
                }
        }
        if (image_apply(p, cache_path, cache_fd, &img, e) < 0)
                return -e->error;
        /* Recorded only now: a run that fails leaves nothing behind. */
        image_record_store(&img, cache_fd);
        return 0;
}
