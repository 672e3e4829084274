/* SPDX-License-Identifier: GPL-2.0-or-later */
/* live-bootstrap's current layout (since late 2023): steps/manifest and
 * steps/bootstrap.cfg, read the way the guest's seed/script-generator.c reads
 * them. One directive per line, "<kind>: <args> [( predicate )]", tokens
 * separated by single spaces, '#' to the end of the line a comment:
 *   build: PKG        improve: NAME        jump: NAME
 *   uninstall: ARG... define: VAR = ( logic ) | VAR = CONST
 * A predicate is "( logic )"; logic is "NAME" (a constant: true only if it is
 * the word True), "NAME == V" or "NAME != V" (an unset NAME is ""), optionally
 * followed by "|| logic" or "&& logic" (right-associative, no precedence).
 * Predicates are evaluated in manifest order against bootstrap.cfg, each kept
 * define updating the variables the later ones see. docs/build.md. */
#ifndef LBVM_MANIFEST_H
#define LBVM_MANIFEST_H
#include <stddef.h>

typedef enum {
    MANIFEST_BUILD = 1,
    MANIFEST_IMPROVE,
    MANIFEST_DEFINE,
    MANIFEST_JUMP,
    MANIFEST_UNINSTALL,
} ManifestKind;

typedef struct ManifestDirective {
    ManifestKind kind;
    int line;            /* 1-based line of the manifest */
    char *arg;           /* build/improve/jump: the name; uninstall: its arguments joined by spaces;
                          * define: the variable */
    char **tok;          /* define: the value's tokens, then the predicate's; others: the predicate's */
    int ntok;
    int value_ntok;      /* define: how many of tok are the value (1 for a constant) */
    int network;         /* an improve whose line holds "network" (the first ends the pre-network part) */
    /* set by manifest_eval */
    int kept;            /* its predicate holds (a define: it was applied) */
    int pass;            /* a kept build: N of passN (earlier kept directives with the same argument + 1) */
    int script;          /* a kept directive: N of the /steps/N.sh it lands in */
    int bash;            /* a kept directive: that script runs under bash (else kaem) */
} ManifestDirective;

typedef struct ManifestVar {
    char *name, *val;
} ManifestVar;

/* bootstrap.cfg: NAME=VALUE lines, in order (the first of a name counts). */
typedef struct ManifestConfig {
    ManifestVar *v;
    int n;
} ManifestConfig;

typedef struct Manifest {
    ManifestDirective *d;
    int n;
    /* set by manifest_eval */
    int kept;            /* kept directives, defines excluded (what the scripts run) */
    int builds;          /* kept builds: the steps lbvm counts */
    int scripts;         /* /steps/N.sh files the generator writes */
} Manifest;

/* Parses a manifest (text of len bytes; NUL bytes are refused). Checks every
 * directive's grammar (kind, arguments, predicate) as the script generator
 * would meet it. Returns 0, or -1 with "LINE: reason" after the name given. */
int manifest_parse(const char *name, const char *text, size_t len, Manifest *m, char *err, size_t errlen);

/* Reads and parses the file at path. */
int manifest_read(const char *path, Manifest *m, char *err, size_t errlen);

/* Parses bootstrap.cfg: each line NAME=VALUE (the first '=' splits; NAME not
 * empty); a line without '=' is an error, as in the guest. Returns 0, or -1. */
int manifest_config_parse(const char *name, const char *text, size_t len, ManifestConfig *c, char *err,
                          size_t errlen);

/* The value of name ("" if unset; the first line of that name). */
const char *manifest_config_get(const ManifestConfig *c, const char *name);

/* Sets name to val (the first line of that name, else a new last line). 0, or -1 (out of memory). */
int manifest_config_set(ManifestConfig *c, const char *name, const char *val);

/* Evaluates every predicate in order against cfg, which the kept defines
 * update (as the generator's rewritten bootstrap.cfg). Fills kept, pass,
 * script and bash of each directive and m's counts. Returns 0, or -1 (out of
 * memory). */
int manifest_eval(Manifest *m, ManifestConfig *cfg, char *err, size_t errlen);

/* The manifest line of the first improve holding "network" (the end of the
 * pre-network part, lib/generator.py), or 0 if there is none. */
int manifest_network_line(const Manifest *m);

/* The bootstrap.cfg lbvm writes for a kernel bootstrap: what live-bootstrap's
 * rootfs.py --qemu --cores 1 writes with no mirror (one CPU; no network). */
extern const char manifest_default_config[];

void manifest_free(Manifest *m);
void manifest_config_free(ManifestConfig *c);

#endif
