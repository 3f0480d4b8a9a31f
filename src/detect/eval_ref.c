/* eval_ref.c — the reference (scalar) cascade evaluation: the same operations in the same order
 * as OpenCV's CascadeClassifier, so that every float rounds identically. SIMD kernels are held
 * to this file by the tests. */
#include "detect_internal.h"

#include <math.h>
#include <stdlib.h>

static inline int32_t rsum(const uint32_t *p, const int32_t *o)
{
    return (int32_t)(p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]]);
}

static inline float haar_value(const grin__eval_ctx *e, size_t pos, int fi)
{
    const grin__hfeat *f = &e->hf[fi];
    const uint32_t *p = (f->tilted ? e->tilt : e->sum) + pos;
    float ret = f->w[0] * (float)rsum(p, f->o[0]) + f->w[1] * (float)rsum(p, f->o[1]);
    if (f->w[2] != 0.0f)
        ret += f->w[2] * (float)rsum(p, f->o[2]);
    return ret;
}

static inline int lbp_code(const grin__eval_ctx *e, size_t pos, int fi)
{
    const int32_t *o = e->lofs + (size_t)fi * 16;
    const uint32_t *p = e->sum + pos;
#define BLK(a, b, c, d) (int32_t)(p[o[a]] - p[o[b]] - p[o[c]] + p[o[d]])
    int32_t cv = BLK(5, 6, 9, 10);
    return (BLK(0, 1, 4, 5) >= cv ? 128 : 0) | (BLK(1, 2, 5, 6) >= cv ? 64 : 0) |
           (BLK(2, 3, 6, 7) >= cv ? 32 : 0) | (BLK(6, 7, 10, 11) >= cv ? 16 : 0) |
           (BLK(10, 11, 14, 15) >= cv ? 8 : 0) | (BLK(9, 10, 13, 14) >= cv ? 4 : 0) |
           (BLK(8, 9, 12, 13) >= cv ? 2 : 0) | (BLK(4, 5, 8, 9) >= cv ? 1 : 0);
#undef BLK
}

/* OpenCV's HaarEvaluator::setWindow: the window's inverse standard deviation, and whether the
 * window is textured enough to be evaluated at all. */
static inline bool haar_norm(const grin__eval_ctx *e, size_t pos, float *vnf)
{
    int32_t valsum = rsum(e->sum + pos, e->nofs);
    uint32_t valsq = e->sq[pos + (size_t)e->nofs[0]] - e->sq[pos + (size_t)e->nofs[1]] -
                     e->sq[pos + (size_t)e->nofs[2]] + e->sq[pos + (size_t)e->nofs[3]];
    double nf = e->norm_area * (double)valsq - (double)valsum * (double)valsum;
    if (nf > 0.0) {
        nf = sqrt(nf);
        *vnf = (float)(1.0 / nf);
        return e->norm_area * (double)*vnf < 1e-1;
    }
    *vnf = 1.0f;
    return false;
}

int grin__run_at(const grin__eval_ctx *e, size_t pos)
{
    const grin_cascade *c = e->c;
    bool haar = c->type == GRIN_FEATURE_HAAR;
    float vnf = 1.0f;
    if (haar && !haar_norm(e, pos, &vnf))
        return -1;
    for (int si = 0; si < c->nstages; si++) {
        const grin__stage *st = &c->stages[si];
        double sum = 0.0;
        for (int t = 0; t < st->ntrees; t++) {
            const grin__tree *tr = &c->trees[st->first_tree + t];
            const float *leaves = c->leaves + tr->first_leaf;
            if (c->max_nodes == 1) {
                /* OpenCV's stump path takes the leaves in file order */
                const grin__node *nd = &c->nodes[tr->first_node];
                bool left;
                if (haar) {
                    left = haar_value(e, pos, nd->feature) * vnf < nd->threshold;
                } else {
                    int code = lbp_code(e, pos, nd->feature);
                    left = (c->subsets[nd->subset + (code >> 5)] >> (code & 31)) & 1;
                }
                sum += left ? leaves[0] : leaves[1];
                continue;
            }
            int idx = 0;
            do {
                const grin__node *nd = &c->nodes[tr->first_node + idx];
                bool left;
                if (haar) {
                    left = haar_value(e, pos, nd->feature) * vnf < nd->threshold;
                } else {
                    int code = lbp_code(e, pos, nd->feature);
                    left = (c->subsets[nd->subset + (code >> 5)] >> (code & 31)) & 1;
                }
                idx = left ? nd->left : nd->right;
            } while (idx > 0);
            sum += leaves[-idx];
        }
        if (sum < st->threshold)
            return -si;
    }
    return 1;
}

void grin__rects_push(grin__rects *r, grin_rect x)
{
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 256;
        grin_rect *n = realloc(r->v, ncap * sizeof *n);
        if (!n) {
            r->oom = true;
            return;
        }
        r->v = n;
        r->cap = ncap;
    }
    r->v[r->n++] = x;
}

void grin__scan_row_ref(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                        grin__rects *out)
{
    size_t row = (size_t)y * e->stride;
    int step = rp->step;
    for (int x = 0; x < rp->work_w; x += step) {
        int r = grin__run_at(e, row + (size_t)x);
        if (r > 0)
            grin__rects_push(out, (grin_rect){(int)lrintf((float)x * rp->scale),
                                              (int)lrintf((float)y * rp->scale), rp->win_w,
                                              rp->win_h});
        if (r == 0)
            x += step;
    }
}

