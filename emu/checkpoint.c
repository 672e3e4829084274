/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checkpoint container: see checkpoint.h and docs/checkpoint-format.md. */
#include "emu/checkpoint.h"
#include "base/platform.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct CkptWriter {
    FILE *f;
    char path[4096], tmp[4096 + 16];
    EVP_MD_CTX *md;
    uint64_t pos;
    int n;
    CkptSection sec[CKPT_MAX_SECTIONS];
    int open_section;       /* index of the section being written, or -1 */
    char error[256];
};

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void wfail(CkptWriter *w, const char *fmt, ...)
{
    if (w->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof w->error, fmt, ap);
    va_end(ap);
}

static int raw_write(CkptWriter *w, const void *p, size_t n)
{
    if (w->error[0])
        return -1;
    if (n && fwrite(p, 1, n, w->f) != n) {
        wfail(w, "cannot write %s: %s", w->tmp, strerror(errno));
        return -1;
    }
    EVP_DigestUpdate(w->md, p, n);
    w->pos += n;
    return 0;
}

CkptWriter *ckpt_create(const char *path, char *err, size_t errlen)
{
    CkptWriter *w = calloc(1, sizeof *w);
    if (!w || strlen(path) >= sizeof w->path) {
        snprintf(err, errlen, "%s: %s", path, w ? "path too long" : "out of memory");
        free(w);
        return NULL;
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.XXXXXX", path);
    int fd = host_temp_file(w->tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a checkpoint beside %s: %s", path, strerror(errno));
        free(w);
        return NULL;
    }
    fchmod(fd, 0644);
    w->f = fdopen(fd, "wb");
    w->md = EVP_MD_CTX_new();
    if (!w->f || !w->md) {
        snprintf(err, errlen, "out of memory");
        if (w->f)
            fclose(w->f);
        else
            close(fd);
        unlink(w->tmp);
        EVP_MD_CTX_free(w->md);
        free(w);
        return NULL;
    }
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    EVP_DigestInit_ex(w->md, EVP_sha256(), NULL);
    w->open_section = -1;
    uint8_t h[CKPT_HEADER_SIZE] = { 0 };
    memcpy(h, CKPT_MAGIC, 8);
    put_le(h + 8, CKPT_MAJOR, 2);
    put_le(h + 10, CKPT_MINOR, 2);
    raw_write(w, h, sizeof h);
    return w;
}

int ckpt_begin(CkptWriter *w, const char *name, uint32_t version)
{
    if (w->open_section >= 0 || w->n == CKPT_MAX_SECTIONS || !*name || strlen(name) > CKPT_NAME_LEN) {
        wfail(w, "internal error: bad checkpoint section %s", name);
        return -1;
    }
    CkptSection *s = &w->sec[w->n];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, strlen(name));
    s->version = version;
    s->offset = w->pos;
    w->open_section = w->n++;
    return w->error[0] ? -1 : 0;
}

int ckpt_write(CkptWriter *w, const void *p, size_t n)
{
    if (w->open_section < 0) {
        wfail(w, "internal error: checkpoint write outside a section");
        return -1;
    }
    return raw_write(w, p, n);
}

int ckpt_end(CkptWriter *w)
{
    if (w->open_section < 0) {
        wfail(w, "internal error: checkpoint section ended twice");
        return -1;
    }
    CkptSection *s = &w->sec[w->open_section];
    s->length = w->pos - s->offset;
    w->open_section = -1;
    return w->error[0] ? -1 : 0;
}

static void writer_free(CkptWriter *w, int remove_tmp)
{
    if (w->f)
        fclose(w->f);
    if (remove_tmp)
        unlink(w->tmp);
    EVP_MD_CTX_free(w->md);
    free(w);
}

void ckpt_abort(CkptWriter *w)
{
    if (w)
        writer_free(w, 1);
}

int ckpt_commit(CkptWriter *w, char *err, size_t errlen)
{
    if (w->open_section >= 0)
        wfail(w, "internal error: checkpoint section left open");
    uint64_t table_off = w->pos;
    uint8_t n4[4];
    put_le(n4, (uint64_t)w->n, 4);
    raw_write(w, n4, 4);
    for (int i = 0; i < w->n; i++) {
        uint8_t e[CKPT_ENTRY_SIZE] = { 0 };
        memcpy(e, w->sec[i].name, strlen(w->sec[i].name));
        put_le(e + 16, w->sec[i].version, 4);
        put_le(e + 24, w->sec[i].offset, 8);
        put_le(e + 32, w->sec[i].length, 8);
        raw_write(w, e, sizeof e);
    }
    uint8_t t[CKPT_TRAILER_SIZE] = { 0 };
    put_le(t, table_off, 8);
    put_le(t + 8, w->pos - table_off, 8);
    memcpy(t + 16, CKPT_END_MAGIC, 8);
    raw_write(w, t, 24);
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(w->md, t + 24, &mdlen);
    if (!w->error[0] && fwrite(t + 24, 1, 32, w->f) != 32)
        wfail(w, "cannot write %s: %s", w->tmp, strerror(errno));
    if (!w->error[0] && (fflush(w->f) != 0 || host_fsync(fileno(w->f)) != 0))
        wfail(w, "cannot write %s: %s", w->tmp, strerror(errno));
    if (!w->error[0] && host_replace(w->tmp, w->path) != 0)
        wfail(w, "cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
    if (w->error[0]) {
        snprintf(err, errlen, "%s", w->error);
        writer_free(w, 1);
        return -1;
    }
    /* The rename is durable only once the folder is synced. */
    host_fsync_dir_of(w->path);
    writer_free(w, 0);
    return 0;
}

static int parse(const uint8_t *buf, size_t len, CkptFile *f, int check_digest, char *err, size_t errlen);

int ckpt_parse(const uint8_t *buf, size_t len, CkptFile *f, char *err, size_t errlen)
{
    return parse(buf, len, f, 1, err, errlen);
}

int ckpt_parse_unchecked(const uint8_t *buf, size_t len, CkptFile *f, char *err, size_t errlen)
{
    return parse(buf, len, f, 0, err, errlen);
}

static int parse(const uint8_t *buf, size_t len, CkptFile *f, int check_digest, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (len < CKPT_HEADER_SIZE || memcmp(buf, CKPT_MAGIC, 8) != 0) {
        if (len < CKPT_HEADER_SIZE && memcmp(buf, CKPT_MAGIC, len < 8 ? len : 8) == 0)
            snprintf(err, errlen, "checkpoint is truncated (%zu bytes)", len);
        else
            snprintf(err, errlen, "not an lbvm checkpoint (bad magic)");
        return -1;
    }
    f->major = (uint16_t)get_le(buf + 8, 2);
    f->minor = (uint16_t)get_le(buf + 10, 2);
    if (f->major != CKPT_MAJOR) {
        snprintf(err, errlen, "checkpoint format %u.%u is not readable by this lbvm (format %d.x)", f->major,
                 f->minor, CKPT_MAJOR);
        return -1;
    }
    if (f->minor > CKPT_MINOR) {
        snprintf(err, errlen, "checkpoint format %u.%u is newer than this lbvm's %d.%d: update lbvm", f->major,
                 f->minor, CKPT_MAJOR, CKPT_MINOR);
        return -1;
    }
    if (len < CKPT_HEADER_SIZE + 4 + CKPT_TRAILER_SIZE) {
        snprintf(err, errlen, "checkpoint is truncated (%zu bytes)", len);
        return -1;
    }
    const uint8_t *t = buf + len - CKPT_TRAILER_SIZE;
    if (memcmp(t + 16, CKPT_END_MAGIC, 8) != 0) {
        snprintf(err, errlen, "checkpoint is truncated or damaged (no end marker)");
        return -1;
    }
    uint8_t md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, buf, len - 32);
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    if (check_digest && memcmp(md, t + 24, 32) != 0) {
        snprintf(err, errlen, "checkpoint is damaged (SHA-256 mismatch)");
        return -1;
    }
    uint64_t toff = get_le(t, 8), tlen = get_le(t + 8, 8);
    uint64_t tend = len - CKPT_TRAILER_SIZE;
    if (toff < CKPT_HEADER_SIZE || toff > tend || tlen != tend - toff || tlen < 4) {
        snprintf(err, errlen, "checkpoint section table is out of bounds");
        return -1;
    }
    uint32_t n = (uint32_t)get_le(buf + toff, 4);
    if (n > CKPT_MAX_SECTIONS || tlen != 4 + (uint64_t)n * CKPT_ENTRY_SIZE) {
        snprintf(err, errlen, "checkpoint section table is malformed (%u sections)", n);
        return -1;
    }
    uint64_t prev_end = CKPT_HEADER_SIZE;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = buf + toff + 4 + (uint64_t)i * CKPT_ENTRY_SIZE;
        CkptSection *s = &f->sec[i];
        memcpy(s->name, e, CKPT_NAME_LEN);
        s->name[CKPT_NAME_LEN] = 0;
        s->version = (uint32_t)get_le(e + 16, 4);
        s->offset = get_le(e + 24, 8);
        s->length = get_le(e + 32, 8);
        size_t nl = strlen(s->name);
        int bad_name = nl == 0;
        for (size_t k = 0; k < nl; k++)
            if (s->name[k] < 0x21 || s->name[k] > 0x7e)
                bad_name = 1;
        for (size_t k = nl; k < CKPT_NAME_LEN; k++)
            if (e[k])
                bad_name = 1;
        /* Sections lie in order, back to back, between header and table. */
        if (bad_name || s->offset != prev_end || s->length > toff - s->offset) {
            snprintf(err, errlen, "checkpoint section %u is malformed", i);
            return -1;
        }
        prev_end = s->offset + s->length;
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(f->sec[j].name, s->name)) {
                snprintf(err, errlen, "checkpoint section %s appears twice", s->name);
                return -1;
            }
    }
    if (prev_end != toff) {
        snprintf(err, errlen, "checkpoint has bytes outside its sections");
        return -1;
    }
    f->data = buf;
    f->size = len;
    f->n = (int)n;
    return 0;
}

static int open_file(const char *path, CkptFile *f, int check_digest, char *err, size_t errlen);

int ckpt_open(const char *path, CkptFile *f, char *err, size_t errlen)
{
    return open_file(path, f, 1, err, errlen);
}

int ckpt_open_undigested(const char *path, CkptFile *f, char *err, size_t errlen)
{
    return open_file(path, f, 0, err, errlen);
}

int ckpt_digest_ok(const CkptFile *f)
{
    uint8_t md[32];
    unsigned int mdlen = 0;
    if (f->size < CKPT_TRAILER_SIZE)
        return 0;
    if (!EVP_Digest(f->data, f->size - 32, md, &mdlen, EVP_sha256(), NULL))
        return 0;
    return memcmp(md, f->data + f->size - 32, 32) == 0;
}

static int open_file(const char *path, CkptFile *f, int check_digest, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        snprintf(err, errlen, "%s: empty file, not a checkpoint", path);
        close(fd);
        return -1;
    }
    void *m = host_map_file(fd, (size_t)st.st_size);
    close(fd);
    if (!m) {
        snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        return -1;
    }
    char why[256];
    /* Undigested, a damaged file still gets the digest's verdict when its
     * structure looks wrong (the digest is the more telling reason). */
    if (parse(m, (size_t)st.st_size, f, check_digest, why, sizeof why) < 0 &&
        (check_digest || parse(m, (size_t)st.st_size, f, 1, why, sizeof why) < 0)) {
        host_unmap_file(m, (size_t)st.st_size);
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }
    f->map = m;
    return 0;
}

void ckpt_close(CkptFile *f)
{
    if (f->map)
        host_unmap_file(f->map, f->size);
    memset(f, 0, sizeof *f);
}

const CkptSection *ckpt_find(const CkptFile *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->sec[i].name, name))
            return &f->sec[i];
    return NULL;
}
