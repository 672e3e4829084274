/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Distfile fetcher for the bootstrap runner (`lbvm fetch`): downloads source
 * tarballs into a distdir with resume, mirrors, redirects, bounded parallelism
 * and SHA-256 verification before a file takes its final name.
 * Host-side code: uses libcurl (multi interface) and OpenSSL EVP. */
#ifndef LBVM_FETCH_H
#define LBVM_FETCH_H
#include <stddef.h>
#include <stdio.h>

typedef struct FetchItem {
    const char *name;            /* file name in distdir: no '/', not "." or ".." */
    const char *sha256;          /* 64 hex digits (either case) */
    const char *const *urls;     /* urls[0] first, then mirrors in order */
    int n_urls;                  /* >= 1 */
    const char *origin;          /* from a sources file: the folder that listed it first
                                  * (live-bootstrap's package, e.g. "mes-0.24.1"); else NULL */
} FetchItem;

typedef struct FetchOptions {
    const char *distdir;         /* created (with parents) if missing; NULL: fetch_default_distdir() */
    int parallel;                /* transfers at once; <= 0 means 4 */
    long connect_timeout_s;      /* <= 0 means 30 */
    long stall_timeout_s;        /* abort a transfer receiving < 1 byte/s this long; <= 0 means 60 */
    int offline;                 /* download nothing; list the missing files */
    int progress;                /* 0 plain lines; 1 one updating line if log is a tty */
    FILE *log;                   /* progress and error lines; NULL means stderr */
} FetchOptions;

/* Makes every item present and verified in distdir. A file already there with
 * the right SHA-256 is not downloaded again. Each failure is logged as one line
 * naming the file and the reason. Returns 0 when all items are present and
 * verified, else -1 with a one-line summary in err (errlen bytes, may be 0).
 * In offline mode nothing is downloaded and each missing file is logged as
 * "missing NAME URL" (URL = its first URL). */
int fetch_all(const FetchItem *items, int n, const FetchOptions *o, char *err, size_t errlen);

/* $XDG_CACHE_HOME/lbvm/distfiles, else $HOME/.cache/lbvm/distfiles.
 * Returns 0, or -1 (neither variable set, or buf too small). */
int fetch_default_distdir(char *buf, size_t len);
/* $XDG_CACHE_HOME/lbvm/LEAF, else $HOME/.cache/lbvm/LEAF. 0, or -1. */
int fetch_cache_dir(const char *leaf, char *buf, size_t len);

/* SHA-256 of a file as 64 lowercase hex digits plus NUL. Returns 0, -1 with errno. */
int fetch_sha256_file(const char *path, char hex[65]);

/* A growable list of items read from `sources` files, owning its strings. */
typedef struct FetchList {
    FetchItem *items;
    int n;
} FetchList;

/* Appends the lines of a live-bootstrap style `sources` file: "URL SHA256 [NAME]",
 * "f URL SHA256 [NAME]" or "g GIT~REF URL SHA256 [NAME]" ("git" too; the git
 * field is ignored; a URL "_" means a mirror only, and fetch_all() fails that
 * URL, naming it); blank lines and lines starting with '#' are
 * skipped; NAME defaults to the URL's last path segment (query dropped). A NAME
 * seen again with the same SHA-256 adds a mirror URL (in file order); with a
 * different SHA-256 it is an error. Returns 0, or -1 with "PATH:LINE: reason". */
int fetch_list_add_file(FetchList *l, const char *path, char *err, size_t errlen);
void fetch_list_free(FetchList *l);
void fetch_item_free(FetchItem *it);  /* an item of a list: its strings (the item is zeroed) */   /* back to empty; the list may be reused */

#endif
