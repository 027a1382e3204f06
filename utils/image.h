/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* Container images as the root filesystem: --image PATH[:TAG],
 * --entrypoint, --image-info, --image-cache-list, --image-cache-prune.
 *
 * PATH is an OCI image layout directory (index.json, blobs/sha256/...) or
 * a `docker save` tarball (manifest.json, config, layer tars). Every blob
 * read is checked against its sha256 digest. Each layer is unpacked once
 * into $XDG_CACHE_HOME/csand/layers/sha256-<digest>/ (default
 * ~/.cache/csand): into a temporary directory first, then renamed into
 * place, so that an entry is either complete or absent and concurrent
 * first runs share the winner's copy. Tar whiteouts become overlayfs
 * "xattr whiteouts" (an empty file with user.overlay.whiteout in a
 * directory with user.overlay.opaque=x, kernel 6.7+), opaque directories
 * user.overlay.opaque=y: both readable by kernel overlayfs mounted with
 * userxattr inside a user namespace. Device nodes and sockets are skipped;
 * every file is owned by the caller (one-uid map), the tar's owners are
 * not recorded, and setuid/setgid bits are dropped (the image's mode is
 * kept in the user.csand.mode xattr). The cache is used only when nobody
 * but the caller can change it (owner and mode of each directory on the
 * way, as ssh checks its files). A sandbox holds a shared flock on each
 * layer it uses; pruning removes the layers nobody holds.
 *
 * The image becomes ordinary plan content: an overlay op on / (the layers
 * as lower layers, a throw-away upper or --image-overlay's RWSRC), /proc,
 * /dev and /tmp unless the user mounts those, with user-mode networking an
 * /etc/resolv.conf made from the host's, the config's Env before the user's --setenv, its
 * WorkingDir unless --chdir, its User unless --uid/--gid, and its
 * Entrypoint + Cmd by Docker's rules. */

#include "log.h"
#include "plan.h"

/* Before plan_validate(), for --image: the isolation of a container
 * engine wherever the user did not choose (every namespace, a network of
 * its own: pasta, else slirp4netns, else loopback only; --new-session,
 * --die-with-parent, --seccomp-profile default), so that the options are
 * checked against the sandbox that will run (--as-pid-1 needs the pid
 * namespace) and the plan is not changed after. Needs no image data:
 * nothing is read or unpacked for a command line that is refused.
 * -ENOMEM only. */
int image_plan_defaults(SandboxPlan *p);

/* Completes the plan from the image (ids, environment, working
 * directory, the root's mounts, the command): after the options were
 * checked (plan_validate(), so a refused command line never unpacks a
 * layer), before the completed plan is validated and launched. Returns 0
 * to go on with the launch, 1 when an action that ends here was done (--image-info, --image-cache-list,
 * --image-cache-prune print to stdout), a negative errno with E set. */
int image_prepare(SandboxPlan *p, Error *e);
