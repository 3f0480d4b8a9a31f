/* eval_avx2.c — cascades 8 neighbouring windows of a row at a time with AVX2, stage by stage
 * while any is alive: Haar stumps, small Haar trees (each lane walks its own path) and LBP
 * stumps (subset bits looked up in registers). Same operations in the same order as
 * eval_ref.c (no FMA), so results are identical; tests hold these kernels to the reference. */
#include "detect_internal.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx2")))

TARGET static inline __m256i load_step(const uint32_t *p, int step)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)p);
    if (step == 1)
        return a;
    __m256i b = _mm256_loadu_si256((const __m256i *)(p + 8));
    __m256 ev = _mm256_shuffle_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b),
                                  _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_si256(
        _mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
}

TARGET static inline __m256i rect_sum(const uint32_t *p, const int32_t *o, int step)
{
    __m256i a = load_step(p + o[0], step), b = load_step(p + o[1], step);
    __m256i c = load_step(p + o[2], step), d = load_step(p + o[3], step);
    return _mm256_add_epi32(_mm256_sub_epi32(_mm256_sub_epi32(a, b), c), d);
}

/* uint32 lanes to double (AVX2 has no unsigned conversion) */
TARGET static inline __m256d u32_pd(__m128i x)
{
    __m256d d = _mm256_cvtepi32_pd(x);
    __m256d neg = _mm256_cvtepi32_pd(_mm_srai_epi32(x, 31)); /* -1.0 where the top bit is set */
    return _mm256_sub_pd(d, _mm256_mul_pd(neg, _mm256_set1_pd(4294967296.0)));
}

enum { KIND_HAAR_STUMP, KIND_HAAR_TREE, KIND_LBP_STUMP };

/* A Haar feature's weighted rect sum for 8 windows, before normalisation. */
TARGET static inline __m256 haar_val(const grin__hfeat *f, const uint32_t *s, const uint32_t *t,
                                     int step)
{
    const uint32_t *b = f->tilted ? t : s;
    __m256 v = _mm256_add_ps(
        _mm256_mul_ps(_mm256_set1_ps(f->w[0]), _mm256_cvtepi32_ps(rect_sum(b, f->o[0], step))),
        _mm256_mul_ps(_mm256_set1_ps(f->w[1]), _mm256_cvtepi32_ps(rect_sum(b, f->o[1], step))));
    if (f->w[2] != 0.0f)
        v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_set1_ps(f->w[2]),
                                           _mm256_cvtepi32_ps(rect_sum(b, f->o[2], step))));
    return v;
}

/* The MB-LBP code of 8 windows: 3x3 blocks against the centre, clockwise from top-left. */
TARGET static inline __m256i lbp_code(const int32_t *o, const uint32_t *s, int step)
{
    __m256i g[16];
    for (int i = 0; i < 16; i++)
        g[i] = load_step(s + o[i], step);
#define BLK(a, b, c, d)                                                                            \
    _mm256_add_epi32(_mm256_sub_epi32(_mm256_sub_epi32(g[a], g[b]), g[c]), g[d])
    __m256i cv = BLK(5, 6, 9, 10);
    static const int8_t blocks[8][5] = {{0, 1, 4, 5, 7},     {1, 2, 5, 6, 6},
                                        {2, 3, 6, 7, 5},     {6, 7, 10, 11, 4},
                                        {10, 11, 14, 15, 3}, {9, 10, 13, 14, 2},
                                        {8, 9, 12, 13, 1},   {4, 5, 8, 9, 0}};
    __m256i code = _mm256_setzero_si256();
    for (int k = 0; k < 8; k++) {
        const int8_t *b = blocks[k];
        __m256i v = BLK(b[0], b[1], b[2], b[3]);
        /* bit set when v >= centre, i.e. not (centre > v) */
        code = _mm256_or_si256(code, _mm256_andnot_si256(_mm256_cmpgt_epi32(cv, v),
                                                         _mm256_set1_epi32(1 << b[4])));
    }
#undef BLK
    return code;
}

/* Accumulates one leaf vector (8 floats) into two double halves, in order. */
#define ACCUMULATE(leaf)                                                                           \
    do {                                                                                           \
        accl = _mm256_add_pd(accl, _mm256_cvtps_pd(_mm256_castps256_ps128(leaf)));                \
        acch = _mm256_add_pd(acch, _mm256_cvtps_pd(_mm256_extractf128_ps(leaf, 1)));              \
    } while (0)

/* Rejection mask of one stage for 8 windows: sum of leaves in double, in tree order. */
TARGET static inline int stage_reject(const grin__eval_ctx *e, int kind, const grin__stage *st,
                                      const uint32_t *s, const uint32_t *t, int step, __m256 vnf)
{
    __m256d accl = _mm256_setzero_pd(), acch = _mm256_setzero_pd();
    if (kind == KIND_HAAR_STUMP) {
        const grin__stump *sp = e->stumps + st->first_tree;
        for (int i = 0; i < st->ntrees; i++) {
            __m256 v = _mm256_mul_ps(haar_val(&e->hf[sp[i].feature], s, t, step), vnf);
            __m256 left = _mm256_cmp_ps(v, _mm256_set1_ps(sp[i].threshold), _CMP_LT_OQ);
            __m256 leaf = _mm256_blendv_ps(_mm256_set1_ps(sp[i].right), _mm256_set1_ps(sp[i].left), left);
            ACCUMULATE(leaf);
        }
    } else if (kind == KIND_LBP_STUMP) {
        const grin_cascade *c = e->c;
        const grin__stump *sp = e->stumps + st->first_tree;
        for (int i = 0; i < st->ntrees; i++) {
            __m256i code = lbp_code(e->lofs + (size_t)sp[i].feature * 16, s, step);
            const int32_t *sub = c->subsets + c->nodes[c->trees[st->first_tree + i].first_node].subset;
            __m256i word = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)sub),
                                                       _mm256_srli_epi32(code, 5));
            __m256i bit = _mm256_and_si256(
                _mm256_srlv_epi32(word, _mm256_and_si256(code, _mm256_set1_epi32(31))),
                _mm256_set1_epi32(1));
            __m256 left = _mm256_castsi256_ps(_mm256_cmpeq_epi32(bit, _mm256_set1_epi32(1)));
            __m256 leaf = _mm256_blendv_ps(_mm256_set1_ps(sp[i].right), _mm256_set1_ps(sp[i].left), left);
            ACCUMULATE(leaf);
        }
    } else { /* Haar trees: every node's decision, then each lane walks its own path */
        const grin__tree8 *tr = e->trees8 + st->first_tree;
        for (int i = 0; i < st->ntrees; i++) {
            const grin__tree8 *q = &tr[i];
            __m256i bits = _mm256_setzero_si256();
            for (int k = 0; k < q->nodes; k++) {
                __m256 v = _mm256_mul_ps(haar_val(&e->hf[q->feature[k]], s, t, step), vnf);
                __m256 lt = _mm256_cmp_ps(v, _mm256_set1_ps(q->threshold[k]), _CMP_LT_OQ);
                bits = _mm256_or_si256(bits, _mm256_and_si256(_mm256_castps_si256(lt),
                                                              _mm256_set1_epi32(1 << k)));
            }
            __m256i lv = _mm256_loadu_si256((const __m256i *)q->left);
            __m256i rv = _mm256_loadu_si256((const __m256i *)q->right);
            __m256i cur = _mm256_setzero_si256(), zero = _mm256_setzero_si256();
            __m256i active = _mm256_set1_epi32(-1);
            for (int k = 0; k < q->nodes && !_mm256_testz_si256(active, active); k++) {
                __m256i go_left = _mm256_cmpeq_epi32(
                    _mm256_and_si256(_mm256_srlv_epi32(bits, cur), _mm256_set1_epi32(1)),
                    _mm256_set1_epi32(1));
                __m256i next = _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(rv, cur),
                                                  _mm256_permutevar8x32_epi32(lv, cur), go_left);
                cur = _mm256_blendv_epi8(cur, next, active);
                active = _mm256_cmpgt_epi32(cur, zero);
            }
            __m256 leaf = _mm256_permutevar8x32_ps(_mm256_loadu_ps(q->leaves),
                                                   _mm256_sub_epi32(zero, cur));
            ACCUMULATE(leaf);
        }
    }
    __m256d thr = _mm256_set1_pd((double)st->threshold);
    return _mm256_movemask_pd(_mm256_cmp_pd(accl, thr, _CMP_LT_OQ)) |
           (_mm256_movemask_pd(_mm256_cmp_pd(acch, thr, _CMP_LT_OQ)) << 4);
}

TARGET static inline void scan_row(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                                   grin__rects *out, int kind)
{
    const grin_cascade *c = e->c;
    const int step = rp->step;
    const int npos = (rp->work_w + step - 1) / step;
    const size_t row = (size_t)y * e->stride;
    const uint32_t *S = e->sum + row, *Q = e->sq + row, *T = e->tilt ? e->tilt + row : NULL;
    const __m256d area = _mm256_set1_pd(e->norm_area), tenth = _mm256_set1_pd(1e-1);
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    bool skip_next = false; /* OpenCV's skip rule carries across chunks */

    for (int k0 = 0; k0 < npos; k0 += 8) {
        size_t off = (size_t)k0 * (size_t)step;
        const uint32_t *s = S + off, *q = Q + off, *t = T ? T + off : NULL;
        int lanes = npos - k0 < 8 ? npos - k0 : 8;
        unsigned ok = (1u << lanes) - 1;
        __m256 vnf = _mm256_set1_ps(1.0f);
        if (kind != KIND_LBP_STUMP) { /* window normalisation, as HaarEvaluator::setWindow */
            __m256i vs = rect_sum(s, e->nofs, step);
            __m256i vq = rect_sum(q, e->nofs, step);
            __m256d sl = _mm256_cvtepi32_pd(_mm256_castsi256_si128(vs));
            __m256d sh = _mm256_cvtepi32_pd(_mm256_extracti128_si256(vs, 1));
            __m256d ql = u32_pd(_mm256_castsi256_si128(vq));
            __m256d qh = u32_pd(_mm256_extracti128_si256(vq, 1));
            __m256d nl = _mm256_sub_pd(_mm256_mul_pd(area, ql), _mm256_mul_pd(sl, sl));
            __m256d nh = _mm256_sub_pd(_mm256_mul_pd(area, qh), _mm256_mul_pd(sh, sh));
            __m256d pl = _mm256_cmp_pd(nl, zero, _CMP_GT_OQ), ph = _mm256_cmp_pd(nh, zero, _CMP_GT_OQ);
            __m256d rl = _mm256_div_pd(one, _mm256_sqrt_pd(_mm256_blendv_pd(one, nl, pl)));
            __m256d rh = _mm256_div_pd(one, _mm256_sqrt_pd(_mm256_blendv_pd(one, nh, ph)));
            __m128 fl = _mm256_cvtpd_ps(rl), fh = _mm256_cvtpd_ps(rh);
            __m256d okl = _mm256_and_pd(
                pl, _mm256_cmp_pd(_mm256_mul_pd(area, _mm256_cvtps_pd(fl)), tenth, _CMP_LT_OQ));
            __m256d okh = _mm256_and_pd(
                ph, _mm256_cmp_pd(_mm256_mul_pd(area, _mm256_cvtps_pd(fh)), tenth, _CMP_LT_OQ));
            ok &= (unsigned)(_mm256_movemask_pd(okl) | (_mm256_movemask_pd(okh) << 4));
            __m256 okmask = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
                _mm256_and_si256(_mm256_set1_epi32((int)ok), _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)),
                _mm256_setzero_si256()));
            vnf = _mm256_blendv_ps(_mm256_set1_ps(1.0f),
                                   _mm256_insertf128_ps(_mm256_castps128_ps256(fl), fh, 1), okmask);
        }

        unsigned rej0 = ok ? (unsigned)stage_reject(e, kind, &c->stages[0], s, t, step, vnf) : 0;
        unsigned alive = grin__first_stage_alive(ok, rej0, lanes, &skip_next);
        for (int si = 1; si < c->nstages && alive; si++)
            alive &= ~(unsigned)stage_reject(e, kind, &c->stages[si], s, t, step, vnf);
        grin__push_hits(alive, k0, y, rp, out);
    }
}

TARGET void grin__scan_row_haar_avx2(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                                     grin__rects *out)
{
    scan_row(e, rp, y, out, KIND_HAAR_STUMP);
}

TARGET void grin__scan_row_haar_tree_avx2(const grin__eval_ctx *e, const grin__row_params *rp,
                                          int y, grin__rects *out)
{
    scan_row(e, rp, y, out, KIND_HAAR_TREE);
}

TARGET void grin__scan_row_lbp_avx2(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                                    grin__rects *out)
{
    scan_row(e, rp, y, out, KIND_LBP_STUMP);
}
#endif
