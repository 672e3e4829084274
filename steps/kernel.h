/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel `lbvm bootstrap` uses when none is given: Debian's i386
 * linux-image-686, one version pinned by the SHA-256 of its package and of
 * its vmlinuz. The package is fetched with lbvm's own fetcher from a Debian
 * archive (LBVM_DEBIAN_MIRRORS, else the Debian archives in the host's apt
 * configuration) and the kernel taken out of it with libarchive (a .deb is an
 * ar archive holding data.tar.xz): no dpkg, any host. docs/definitions.md. */
#ifndef LBVM_KERNEL_H
#define LBVM_KERNEL_H
#include <stddef.h>
#include <stdio.h>

/* What is pinned. */
#define KERNEL_PACKAGE "linux-image-6.1.0-50-686"
#define KERNEL_VERSION "6.1.176-1"
#define KERNEL_DEB KERNEL_PACKAGE "_" KERNEL_VERSION "_i386.deb"
#define KERNEL_POOL_PATH "pool/main/l/linux-signed-i386/" KERNEL_DEB
#define KERNEL_DEB_SHA256 "526c469c5148a2b61c4241c3f6575427096575e0ffef9541b6729351c600b3e4"
#define KERNEL_MEMBER "boot/vmlinuz-6.1.0-50-686"
#define KERNEL_SHA256 "c77cd9c37609b8b1b1cdfbb91b644a44d606d3d75da8656a0c79635be0b89c21"

/* The pinned kernel's path in the cache ($XDG_CACHE_HOME/lbvm/kernels, else
 * ~/.cache/lbvm/kernels), fetched and unpacked first if it is not there (not
 * with offline). Progress on log. Returns 0 with the path in buf, or -1 with
 * a one-line message saying what to do. */
int kernel_default(char *buf, size_t len, int offline, FILE *log, char *err, size_t errlen);

/* Takes member (e.g. "boot/vmlinuz-...") out of the .deb at deb_path into
 * out_path, atomically, and checks it against sha256 (64 hex digits; NULL:
 * no check). Returns 0, or -1 with a one-line message. */
int kernel_from_deb(const char *deb_path, const char *member, const char *sha256, const char *out_path,
                    char *err, size_t errlen);

/* The Debian archive base URLs to try, space-separated, into buf:
 * LBVM_DEBIAN_MIRRORS if set, else the archives apt is configured with
 * (deb822 *.sources and one-line *.list files under apt_dir, security
 * archives left out). Returns how many. */
int kernel_mirrors(const char *apt_dir, char *buf, size_t len);

/* Checks that path is a kernel lbvm boots: a 32-bit bzImage (boot protocol
 * 2.06 or newer); a 64-bit kernel is refused, saying so. Returns 0, or -1
 * with a one-line message naming the file. */
int kernel_check(const char *path, char *err, size_t errlen);

#endif
