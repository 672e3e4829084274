/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checkpoint files: a header, named and versioned section payloads, a
 * section table, and a trailer with a SHA-256 over everything before it
 * (docs/checkpoint-format.md). The writer streams (sections of unknown size,
 * such as compressed RAM, need no second pass) and publishes the file
 * atomically; the reader checks the whole file before anyone looks inside. */
#ifndef LBVM_CHECKPOINT_H
#define LBVM_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>

#define CKPT_MAGIC "LBVMCKPT"
#define CKPT_END_MAGIC "LBVMEND"     /* 8 bytes with its NUL */
#define CKPT_MAJOR 1
#define CKPT_MINOR 1
#define CKPT_HEADER_SIZE 16
#define CKPT_TRAILER_SIZE 56
#define CKPT_NAME_LEN 16
#define CKPT_ENTRY_SIZE 40
#define CKPT_MAX_SECTIONS 64

typedef struct CkptSection {
    char name[CKPT_NAME_LEN + 1];
    uint32_t version;
    uint64_t offset, length;
} CkptSection;

/* ---- writing ---- */
typedef struct CkptWriter CkptWriter;

/* Starts a checkpoint that will appear at `path` on ckpt_commit (written to
 * a temporary file beside it until then). NULL with a message on failure. */
CkptWriter *ckpt_create(const char *path, char *err, size_t errlen);
/* Sections: begin, any number of writes, end. 0 or -1 (then see ckpt_commit). */
int ckpt_begin(CkptWriter *w, const char *name, uint32_t version);
int ckpt_write(CkptWriter *w, const void *p, size_t n);
int ckpt_end(CkptWriter *w);
/* Table and trailer, fsync, rename into place, fsync the folder; frees w.
 * On any earlier or present failure removes the temporary file and
 * returns -1 with the first error in err. */
int ckpt_commit(CkptWriter *w, char *err, size_t errlen);
/* Gives up: removes the temporary file, frees w. */
void ckpt_abort(CkptWriter *w);

/* ---- reading ---- */
typedef struct CkptFile {
    const uint8_t *data;    /* the whole file */
    uint64_t size;
    uint16_t major, minor;
    int n;
    CkptSection sec[CKPT_MAX_SECTIONS];
    void *map;              /* ckpt_open's mapping, NULL for ckpt_parse */
} CkptFile;

/* Validates a checkpoint in memory: size, magic, version (same major, minor
 * not newer), trailer, digest, then the section table (names, bounds, no
 * overlaps, no duplicates). 0, or -1 with a one-line reason. */
int ckpt_parse(const uint8_t *buf, size_t len, CkptFile *f, char *err, size_t errlen);
/* The same without the digest check: only for fuzzing what lies behind it. */
int ckpt_parse_unchecked(const uint8_t *buf, size_t len, CkptFile *f, char *err, size_t errlen);
/* Maps and validates a checkpoint file. */
int ckpt_open(const char *path, CkptFile *f, char *err, size_t errlen);
/* The same without the digest, for a caller that checks it with
 * ckpt_digest_ok() (possibly on another thread) before it uses anything it
 * read for more than building a machine it may throw away. */
int ckpt_open_undigested(const char *path, CkptFile *f, char *err, size_t errlen);
/* Whether the trailer's SHA-256 matches the file's bytes. */
int ckpt_digest_ok(const CkptFile *f);
void ckpt_close(CkptFile *f);
/* The section called name, or NULL. */
const CkptSection *ckpt_find(const CkptFile *f, const char *name);
static inline const uint8_t *ckpt_payload(const CkptFile *f, const CkptSection *s) { return f->data + s->offset; }
#endif
