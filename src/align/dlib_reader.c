/* dlib_reader.c — reads dlib's serialized shape_predictor (dlib/serialize.h and
 * dlib/image_processing/shape_predictor.h): variable-length integers, floats as
 * mantissa * 2^exponent, matrices, nested vectors. Every count is checked against the bytes
 * that remain before anything is allocated. */
#include "landmarks_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p, *end, *start;
    const char *name;
    grin_error *err;
    grin_status st;
    const char *what; /* the field being read, for messages */
} rd;

static bool bad(rd *r, const char *why)
{
    if (r->st == GRIN_OK)
        r->st = grin__fail(r->err, GRIN_ERR_FORMAT, "%s: not a valid dlib shape_predictor: %s in %s "
                           "at byte %zu", r->name, why, r->what,
                           (size_t)(r->p - (r->end - (r->end - r->p))));
    return false;
}

static size_t remaining(const rd *r) { return (size_t)(r->end - r->p); }

/* dlib's pack_int: one control byte (bit 7: negative, low bits: byte count), then the
 * magnitude little-endian. */
static bool get_int(rd *r, int64_t *v, int max_bytes, bool is_signed)
{
    if (r->p >= r->end)
        return bad(r, "data ends early");
    uint8_t ctl = *r->p++;
    bool neg = is_signed && (ctl & 0x80);
    int n = is_signed ? (ctl & 0x0f) : (ctl & 0x8f);
    if (n == 0 || n > max_bytes)
        return bad(r, "bad integer size");
    if (remaining(r) < (size_t)n)
        return bad(r, "data ends early");
    uint64_t u = 0;
    for (int i = 0; i < n; i++)
        u |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    if (is_signed && u > (uint64_t)INT64_MAX)
        return bad(r, "integer overflow");
    *v = neg ? -(int64_t)u : (int64_t)u;
    return true;
}

static bool get_u32(rd *r, uint32_t *v)
{
    int64_t x;
    if (!get_int(r, &x, 8, false))
        return false;
    if ((uint64_t)x > UINT32_MAX)
        return bad(r, "count too large");
    *v = (uint32_t)x;
    return true;
}

static bool get_float(rd *r, float *v)
{
    int64_t man, ex;
    if (!get_int(r, &man, 8, true) || !get_int(r, &ex, 2, true))
        return false;
    if (ex >= 32000)
        return bad(r, "non-finite value");
    /* dlib: std::ldexp((float)mantissa, exponent) */
    float f = ldexpf((float)man, (int)ex);
    if (!isfinite(f))
        return bad(r, "value out of float range");
    *v = f;
    return true;
}

/* A count of elements that each take at least `min_bytes`: refuses counts the file can't hold. */
static bool get_count(rd *r, uint32_t *n, size_t min_bytes)
{
    if (!get_u32(r, n))
        return false;
    if ((size_t)*n > remaining(r) / min_bytes)
        return bad(r, "count larger than the file");
    return true;
}

/* matrix<float,0,1>: -rows, -cols (or rows, cols in the old format), then the values. */
static bool get_vector(rd *r, float *dst, uint32_t want, uint32_t *got)
{
    int64_t nr, nc;
    if (!get_int(r, &nr, 8, true) || !get_int(r, &nc, 8, true))
        return false;
    if (nr < -(int64_t)UINT32_MAX || nc < -(int64_t)UINT32_MAX) /* (before negating: INT64_MIN) */
        return bad(r, "expected a column vector");
    if (nr < 0)
        nr = -nr;
    if (nc < 0)
        nc = -nc;
    if (nr > (int64_t)UINT32_MAX || nc > (int64_t)UINT32_MAX || (nr != 1 && nc != 1 && nr != 0 && nc != 0))
        return bad(r, "expected a column vector");
    uint64_t n = (uint64_t)nr * (uint64_t)nc;
    if (n > remaining(r) / 4)
        return bad(r, "vector larger than the file");
    if (got)
        *got = (uint32_t)n;
    if (want != UINT32_MAX && n != want)
        return bad(r, "vector of the wrong length");
    for (uint64_t i = 0; i < n; i++)
        if (!get_float(r, dst ? &dst[i] : &(float){0}))
            return false;
    return true;
}

/* grin__grow, failing the read */
static bool grow(rd *r, void **a, size_t *cap, size_t need, size_t elem)
{
    if (grin__grow(a, cap, need, elem))
        return true;
    r->st = grin__fail(r->err, GRIN_ERR_NO_MEMORY, "%s: out of memory", r->name);
    return false;
}

grin_status grin__lm_read_dlib(const uint8_t *data, size_t size, const char *name,
                               grin_landmarker *m, grin_error *err)
{
    rd r = {data, data + size, data, name, err, GRIN_OK, "version"};
    int64_t version;
    float *initial = NULL, *leaves = NULL, *deltas = NULL;
    grin__lm_level *levels = NULL;
    grin__lm_tree *trees = NULL;
    grin__lm_split *splits = NULL;
    uint32_t *anchor = NULL;
    size_t cap_trees = 0, cap_splits = 0, cap_leaves = 0, cap_anchor = 0, cap_deltas = 0;
    uint32_t P2 = 0, nlevels = 0, ntrees = 0, nsplits = 0, nleaves = 0, nfeat = 0;

    if (!get_int(&r, &version, 8, true))
        goto fail;
    if (version != 1) {
        r.st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: dlib shape_predictor version %lld (only 1 "
                          "is known)", name, (long long)version);
        goto fail;
    }
    r.what = "initial shape";
    const uint8_t *mark = r.p;
    if (!get_vector(&r, NULL, UINT32_MAX, &P2))
        goto fail;
    if (P2 == 0 || P2 % 2 || P2 > 2 * 10000) {
        bad(&r, "landmark count out of range");
        goto fail;
    }
    initial = malloc(P2 * sizeof *initial);
    if (!initial)
        goto oom;
    r.p = mark;
    if (!get_vector(&r, initial, P2, NULL))
        goto fail;

    r.what = "forests";
    if (!get_count(&r, &nlevels, 2))
        goto fail;
    if (nlevels == 0) {
        bad(&r, "no cascade levels");
        goto fail;
    }
    levels = calloc(nlevels, sizeof *levels);
    if (!levels)
        goto oom;
    for (uint32_t l = 0; l < nlevels; l++) {
        uint32_t nt;
        if (!get_count(&r, &nt, 4))
            goto fail;
        levels[l].first_tree = ntrees;
        levels[l].ntrees = nt;
        if (!grow(&r, (void **)&trees, &cap_trees, (size_t)ntrees + nt, sizeof *trees))
            goto fail;
        for (uint32_t t = 0; t < nt; t++) {
            uint32_t ns, nl;
            if (!get_count(&r, &ns, 6))
                goto fail;
            if (!grow(&r, (void **)&splits, &cap_splits, (size_t)nsplits + ns, sizeof *splits))
                goto fail;
            grin__lm_tree *tr = &trees[ntrees++];
            tr->first_split = nsplits;
            tr->nsplits = ns;
            for (uint32_t k = 0; k < ns; k++) {
                grin__lm_split *sp = &splits[nsplits++];
                if (!get_u32(&r, &sp->idx1) || !get_u32(&r, &sp->idx2) || !get_float(&r, &sp->thresh))
                    goto fail;
            }
            if (!get_count(&r, &nl, 2 + 4 * (size_t)P2 / 2))
                goto fail;
            tr->first_leaf = nleaves;
            tr->nleaves = nl;
            if (!grow(&r, (void **)&leaves, &cap_leaves, ((size_t)nleaves + nl) * P2, sizeof *leaves))
                goto fail;
            for (uint32_t k = 0; k < nl; k++) {
                if (!get_vector(&r, leaves + (size_t)nleaves * P2, P2, NULL))
                    goto fail;
                nleaves++;
            }
        }
    }
    r.what = "anchor indices";
    uint32_t n_anchor_levels, n_delta_levels;
    if (!get_count(&r, &n_anchor_levels, 1))
        goto fail;
    if (n_anchor_levels != nlevels) {
        bad(&r, "anchor levels differ from the forests");
        goto fail;
    }
    for (uint32_t l = 0; l < nlevels; l++) {
        uint32_t nf;
        if (!get_count(&r, &nf, 2))
            goto fail;
        levels[l].first_feature = nfeat;
        levels[l].nfeatures = nf;
        if (!grow(&r, (void **)&anchor, &cap_anchor, (size_t)nfeat + nf, sizeof *anchor))
            goto fail;
        for (uint32_t k = 0; k < nf; k++)
            if (!get_u32(&r, &anchor[nfeat++]))
                goto fail;
    }
    r.what = "deltas";
    if (!get_count(&r, &n_delta_levels, 1))
        goto fail;
    if (n_delta_levels != nlevels) {
        bad(&r, "delta levels differ from the forests");
        goto fail;
    }
    if (!grow(&r, (void **)&deltas, &cap_deltas, 2 * (size_t)nfeat + 2, sizeof *deltas))
        goto fail;
    for (uint32_t l = 0, f = 0; l < nlevels; l++) {
        uint32_t nf;
        if (!get_count(&r, &nf, 4))
            goto fail;
        if (nf != levels[l].nfeatures) {
            bad(&r, "delta count differs from the anchor count");
            goto fail;
        }
        for (uint32_t k = 0; k < nf; k++, f++)
            if (!get_float(&r, &deltas[2 * f]) || !get_float(&r, &deltas[2 * f + 1]))
                goto fail;
    }
    if (r.p != r.end) {
        r.what = "the end";
        bad(&r, "unexpected trailing bytes");
        goto fail;
    }
    m->parts = P2 / 2;
    m->nlevels = nlevels;
    m->ntrees = ntrees;
    m->nfeatures = nfeat;
    m->nsplits = nsplits;
    m->nleaves = nleaves;
    m->leaf_type = GRIN_LEAVES_F32;
    m->initial = initial;
    m->levels = levels;
    m->anchor = anchor;
    m->deltas = deltas;
    m->trees = trees;
    m->splits = splits;
    m->leaves = leaves;
    m->heap[0] = initial;
    m->heap[1] = levels;
    m->heap[2] = anchor;
    m->heap[3] = deltas;
    m->heap[4] = trees;
    m->heap[5] = splits;
    m->heap[6] = leaves;
    return grin__lm_validate(m, name, err);
oom:
    r.st = grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", name);
fail:
    free(initial);
    free(levels);
    free(trees);
    free(splits);
    free(leaves);
    free(anchor);
    free(deltas);
    return r.st ? r.st : GRIN_ERR_FORMAT;
}
