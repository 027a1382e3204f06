/* SPDX-License-Identifier: LGPL-2.0-or-later */
/* libFuzzer target: the image metadata parsers of utils/image.c (included
 * here: its functions are static; run.sh leaves image.o out of this
 * target's link): index.json, nested indexes and manifests, the config,
 * docker save's manifest.json; then --image-info's printing, the config
 * turned into plan content (Env, Entrypoint/Cmd), and the passwd lookup.
 *
 * Input: a mode byte (even: OCI layout, odd: docker save tarball), then
 * NUL-separated parts:
 *   0  index.json (OCI) or manifest.json (docker save)
 *   1  the manifest blob (OCI; it may be an index too)
 *   2  the config blob
 *   3  the tag asked for ("" for none)
 *   4  passwd text, looked up for the config's User
 * Digests can't be guessed, so the harness writes the blobs under their
 * real sha256 and fills in placeholders: "@MANIFEST@" and "@CONFIG@"
 * become "sha256:<hex>" of part 1 and part 2, "@CONFIGNAME@" becomes
 * "<hex>.json" (docker save's name for the config). */
#include "utils/image.c"

#include "tar-writer.h"

#define N_PARTS 5

static char jail[256];

/* Empty between runs (left behind only by a crash). */
static void remove_jail(void) {
        (void) rmdir(jail);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        Error e = {};
        if (json_dlopen("container images", &e) < 0 || archive_dlopen(&e) < 0) {
                fprintf(stderr, "fuzz-image-manifest: %s\n", e.message);
                abort();
        }
        snprintf(jail, sizeof(jail), "%s/csand-fuzz-manifest-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(jail))
                abort();
        atexit(remove_jail);
        /* --image-info prints: keep libFuzzer's output readable. */
        if (!freopen("/dev/null", "w", stdout))
                abort();
        return 0;
}

static void sha256_hex(const void *data, size_t len, char ret[static 65]) {
        Sha256 ctx;
        unsigned char md[32];
        sha256_init(&ctx);
        sha256_update(&ctx, data, len);
        sha256_final(&ctx, md);
        sha256_to_hex(md, ret);
}

/* S with every PLACEHOLDER replaced by VALUE (a new string). */
static char *replace_all(const char *s, const char *placeholder, const char *value) {
        size_t lp = strlen(placeholder), lv = strlen(value), n = 0;
        for (const char *p = s; (p = strstr(p, placeholder)); p += lp)
                n++;
        char *out = malloc(strlen(s) + n * lv + 1), *o = out;
        if (!out)
                abort();
        for (const char *p = s, *q;; p = q + lp) {
                q = strstr(p, placeholder);
                if (!q) {
                        strcpy(o, p);
                        break;
                }
                memcpy(o, p, (size_t) (q - p));
                o += q - p;
                memcpy(o, value, lv);
                o += lv;
        }
        return out;
}

static void write_at(int dir_fd, const char *name, const char *data) {
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, data, strlen(data)) < 0)
                abort();
        close(fd);
}

/* The image at JAIL/img (a layout directory or a tarball), from PARTS. */
static void write_image(int jail_fd, char *parts[N_PARTS], bool tarball) {
        char config_hex[65], manifest_hex[65], ref[80], name[80];
        sha256_hex(parts[2], strlen(parts[2]), config_hex);
        if (tarball) {
                snprintf(name, sizeof(name), "%s.json", config_hex);
                _cleanup_free_ char *list = replace_all(parts[0], "@CONFIGNAME@", name);
                int fd = openat(jail_fd, "img", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
                if (!f)
                        abort();
                tar_member(f, '0', 0644, "manifest.json", "", list, strlen(list));
                tar_member(f, '0', 0644, name, "", parts[2], strlen(parts[2]));
                tar_end(f);
                fclose(f);
                return;
        }
        if (mkdirat(jail_fd, "img", 0755) < 0)
                abort();
        _cleanup_close_ int img = openat(jail_fd, "img", O_RDONLY | O_DIRECTORY | O_CLOEXEC), blobs = -EBADF;
        if (img < 0 || mkdirat(img, "blobs", 0755) < 0 || mkdirat(img, "blobs/sha256", 0755) < 0 ||
            (blobs = openat(img, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                abort();
        snprintf(ref, sizeof(ref), "sha256:%s", config_hex);
        _cleanup_free_ char *manifest = replace_all(parts[1], "@CONFIG@", ref);
        sha256_hex(manifest, strlen(manifest), manifest_hex);
        snprintf(ref, sizeof(ref), "sha256:%s", manifest_hex);
        _cleanup_free_ char *index = replace_all(parts[0], "@MANIFEST@", ref);
        write_at(blobs, config_hex, parts[2]);
        write_at(blobs, manifest_hex, manifest);
        write_at(img, "index.json", index);
}

/* What image_prepare() does with a parsed image, short of unpacking. */
static void use_image(const Image *img, int jail_fd, const char *passwd) {
        image_print_info(img, jail_fd);
        _cleanup_(plan_freep) SandboxPlan *p = NULL;
        Error e = {};
        if (plan_new(&p) < 0)
                abort();
        if (image_apply_env(p, img, "/") >= 0)
                (void) image_apply_command(p, img, &e);
        _cleanup_free_ char *spec = strdup(img->user ?: "0");
        if (!spec)
                abort();
        char *g = strchr(spec, ':'), f[7][256];
        if (g)
                *g++ = 0;
        uint32_t id;
        (void) db_lookup(passwd, spec, parse_id(spec, &id) >= 0, f);
        if (g)
                (void) db_lookup(passwd, g, false, f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        bool tarball = data[0] & 1;
        /* NUL-terminated parts; missing ones are empty. */
        _cleanup_free_ char *copy = malloc(size + N_PARTS);
        if (!copy)
                abort();
        memcpy(copy, data + 1, size - 1);
        memset(copy + size - 1, 0, N_PARTS + 1);
        char *parts[N_PARTS], *c = copy;
        for (size_t i = 0; i < N_PARTS; i++) {
                parts[i] = c;
                if (c < copy + size - 1)
                        c += strlen(c) + 1;
        }

        _cleanup_close_ int jail_fd = open(jail, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (jail_fd < 0)
                abort();
        write_image(jail_fd, parts, tarball);
        _cleanup_free_ char *spec = NULL;
        if (asprintf(&spec, "%s/img%s%s", jail, *parts[3] ? ":" : "", parts[3]) < 0)
                abort();
        Error e = {};
        Image img;
        if (image_open(spec, -EBADF /* no cache: the manifest is always parsed */, &img, &e) >= 0)
                use_image(&img, jail_fd, parts[4]);
        image_done(&img);
        if (rm_rf_at(jail_fd, "img") < 0 && unlinkat(jail_fd, "img", 0) < 0)
                abort();
        return 0;
}
