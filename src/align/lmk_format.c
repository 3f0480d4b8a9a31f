/* lmk_format.c — grin's own landmark model format: a 64-byte header (magic, version, counts),
 * key=value metadata, then 64-byte aligned arrays described by a table of (offset, bytes).
 * Since version 2 the file ends with a checksum of all of it (grin__checksum), checked before
 * anything is used; version 1 files (without it) still load. Loading maps the file and checks
 * every offset, length and index before use, so a model loads in tens of milliseconds instead of
 * the seconds dlib's parser needs. */
#include "landmarks_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "GRINLMK\x1a"
#define VERSION 2u /* 2: as 1, then 8 bytes of checksum over everything before them */

enum { A_INITIAL, A_LEVELS, A_ANCHOR, A_DELTAS, A_TREES, A_SPLITS, A_LEAVES, A_SCALES, A_COUNT };

typedef struct {
    char magic[8];
    uint32_t version, header_bytes;
    uint32_t parts, nlevels, ntrees, nfeatures, nsplits, nleaves;
    uint32_t leaf_type; /* grin_leaf_type */
    uint32_t meta_offset, meta_bytes;
    uint32_t reserved[3];
} header; /* 64 bytes */

typedef struct {
    uint64_t offset, bytes;
} entry;

_Static_assert(sizeof(header) == 64, "header layout");

bool grin__lm_is_native(const uint8_t *data, size_t size)
{
    return size >= 8 && memcmp(data, MAGIC, 8) == 0;
}

static uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) { /* subnormal half, round to nearest even */
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = (uint32_t)e << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
        half++; /* may carry into the exponent, which is still correct */
    return (uint16_t)(sign | half);
}

static size_t leaf_bytes(grin_leaf_type t) { return t == GRIN_LEAVES_F32 ? 4 : 2; }

grin_status grin_landmarker_save(const grin_landmarker *m, const char *path, grin_leaf_type lt,
                                 grin_error *err)
{
    if (!m || !path || (lt != GRIN_LEAVES_F32 && lt != GRIN_LEAVES_F16 && lt != GRIN_LEAVES_Q16))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    if (m->leaf_type != GRIN_LEAVES_F32 && lt != m->leaf_type)
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: the model's leaves are already 16-bit; "
                          "convert from the float32 model", path);
    size_t P2 = 2 * (size_t)m->parts, nleafvals = (size_t)m->nleaves * P2;
    const void *src[A_COUNT] = {m->initial, m->levels, m->anchor, m->deltas, m->trees, m->splits,
                                m->leaves, m->scales};
    uint64_t bytes[A_COUNT] = {P2 * 4, (uint64_t)m->nlevels * sizeof(grin__lm_level),
                               (uint64_t)m->nfeatures * 4, (uint64_t)m->nfeatures * 8,
                               (uint64_t)m->ntrees * sizeof(grin__lm_tree),
                               (uint64_t)m->nsplits * sizeof(grin__lm_split),
                               nleafvals * leaf_bytes(lt),
                               lt == GRIN_LEAVES_Q16 ? (uint64_t)m->nleaves * 4 : 0};
    static const char *kinds[] = {"float32", "float16", "int16 with a float scale per leaf"};
    char meta[256];
    int mlen = snprintf(meta, sizeof meta,
                        "format=grin-landmarks\nalgorithm=ensemble of regression trees (dlib "
                        "shape_predictor)\nparts=%u\nleaves=%s\n",
                        m->parts, kinds[lt]);
    header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.version = VERSION;
    h.header_bytes = sizeof h;
    h.parts = m->parts;
    h.nlevels = m->nlevels;
    h.ntrees = m->ntrees;
    h.nfeatures = m->nfeatures;
    h.nsplits = m->nsplits;
    h.nleaves = m->nleaves;
    h.leaf_type = (uint32_t)lt;
    h.meta_offset = sizeof h + sizeof(entry) * A_COUNT;
    h.meta_bytes = (uint32_t)mlen;
    entry table[A_COUNT];
    uint64_t off = ((uint64_t)h.meta_offset + (uint64_t)mlen + 63) & ~(uint64_t)63;
    for (int i = 0; i < A_COUNT; i++) {
        table[i].offset = off;
        table[i].bytes = bytes[i];
        off = (off + bytes[i] + 63) & ~(uint64_t)63;
    }
    grin__out out;
    grin_status ost = grin__out_open(&out, path, 0, err);
    if (ost)
        return ost;
    grin__hashed_file f = {.f = out.f};
    grin__hash_init(&f.sum);
    bool ok = grin__hashed_write(&f, &h, sizeof h) && grin__hashed_write(&f, table, sizeof table) &&
              grin__hashed_write(&f, meta, (size_t)mlen);
    uint64_t pos = (uint64_t)h.meta_offset + (uint64_t)mlen;
    static const uint8_t zeros[64];
    bool convert = lt != m->leaf_type;
    const float *lv = m->leaves;
    for (int i = 0; ok && i < A_COUNT; i++) {
        ok = grin__hashed_write(&f, zeros, table[i].offset - pos);
        if (ok && i == A_LEAVES && convert) {
            uint16_t *buf = malloc(P2 * sizeof *buf);
            ok = buf != NULL;
            for (size_t k = 0; ok && k < m->nleaves; k++) {
                const float *v = lv + k * P2;
                float mx = 0;
                for (size_t j = 0; j < P2; j++)
                    mx = fabsf(v[j]) > mx ? fabsf(v[j]) : mx;
                float scale = mx / 32767.0f;
                for (size_t j = 0; j < P2; j++)
                    buf[j] = lt == GRIN_LEAVES_F16 ? f32_to_f16(v[j])
                                                   : (uint16_t)(int16_t)(scale > 0 ? lrintf(v[j] / scale) : 0);
                ok = grin__hashed_write(&f, buf, 2 * P2);
            }
            free(buf);
        } else if (ok && i == A_SCALES && convert && lt == GRIN_LEAVES_Q16) {
            for (size_t k = 0; ok && k < m->nleaves; k++) {
                const float *v = lv + k * P2;
                float mx = 0;
                for (size_t j = 0; j < P2; j++)
                    mx = fabsf(v[j]) > mx ? fabsf(v[j]) : mx;
                float scale = mx / 32767.0f;
                ok = grin__hashed_write(&f, &scale, 4);
            }
        } else if (ok && bytes[i]) {
            ok = grin__hashed_write(&f, src[i], bytes[i]);
        }
        pos = table[i].offset + bytes[i];
    }
    ok = ok && grin__hashed_finish(&f);
    return grin__out_close(&out, ok, err); /* (a failed write leaves the path as it was) */
}

grin_status grin__lm_read_native(const uint8_t *data, size_t size, const char *name,
                                 grin_landmarker *m, grin_error *err)
{
    header h;
    if (size < sizeof h + sizeof(entry) * A_COUNT)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated grin landmark model (%zu bytes)",
                          name, size);
    memcpy(&h, data, sizeof h);
    if (h.version < 1 || h.version > VERSION)
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: grin landmark model version %u (this "
                          "grin reads 1 and %u)", name, h.version, VERSION);
    if (h.version >= 2) { /* the checksum first: nothing of a damaged file is used */
        if (!grin__checksum_ok(data, size))
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: damaged grin landmark model (its checksum does not "
                              "match: a changed or cut file)", name);
        size -= 8;
    } else if (grin__checksum_ok_as(data, size, VERSION)) {
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: damaged grin landmark model (its version field does not "
                          "match its checksum)", name);
    }
    if (h.header_bytes != sizeof h || h.leaf_type > GRIN_LEAVES_Q16 || h.parts == 0 || h.parts > 10000 ||
        h.nlevels == 0)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: corrupt grin landmark model header", name);
    entry table[A_COUNT];
    memcpy(table, data + sizeof h, sizeof table);
    uint64_t P2 = 2 * (uint64_t)h.parts;
    uint64_t want[A_COUNT] = {P2 * 4, (uint64_t)h.nlevels * sizeof(grin__lm_level),
                              (uint64_t)h.nfeatures * 4, (uint64_t)h.nfeatures * 8,
                              (uint64_t)h.ntrees * sizeof(grin__lm_tree),
                              (uint64_t)h.nsplits * sizeof(grin__lm_split),
                              (uint64_t)h.nleaves * P2 * (h.leaf_type ? 2 : 4),
                              h.leaf_type == GRIN_LEAVES_Q16 ? (uint64_t)h.nleaves * 4 : 0};
    static const char *names[A_COUNT] = {"initial shape", "levels", "anchors", "deltas",
                                         "trees", "splits", "leaves", "leaf scales"};
    for (int i = 0; i < A_COUNT; i++) {
        if (table[i].bytes != want[i] || table[i].offset % 64 || table[i].offset > size ||
            table[i].bytes > size - table[i].offset)
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated or corrupt grin landmark model: "
                              "%s array (offset %llu, %llu bytes) does not fit the %zu-byte file",
                              name, names[i], (unsigned long long)table[i].offset,
                              (unsigned long long)table[i].bytes, size);
    }
    m->parts = h.parts;
    m->nlevels = h.nlevels;
    m->ntrees = h.ntrees;
    m->nfeatures = h.nfeatures;
    m->nsplits = h.nsplits;
    m->nleaves = h.nleaves;
    m->leaf_type = (grin_leaf_type)h.leaf_type;
    m->initial = (const float *)(data + table[A_INITIAL].offset);
    m->levels = (const grin__lm_level *)(data + table[A_LEVELS].offset);
    m->anchor = (const uint32_t *)(data + table[A_ANCHOR].offset);
    m->deltas = (const float *)(data + table[A_DELTAS].offset);
    m->trees = (const grin__lm_tree *)(data + table[A_TREES].offset);
    m->splits = (const grin__lm_split *)(data + table[A_SPLITS].offset);
    m->leaves = data + table[A_LEAVES].offset;
    m->scales = h.leaf_type == GRIN_LEAVES_Q16 ? (const float *)(data + table[A_SCALES].offset) : NULL;
    m->native = true;
    return grin__lm_validate(m, name, err);
}
