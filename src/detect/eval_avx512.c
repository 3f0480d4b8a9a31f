/* eval_avx512.c — Haar stump cascades, 16 neighbouring windows of a row at a time with AVX-512,
 * stage by stage while any of them is alive, with OpenCV's skip rule applied after the first
 * stage. Every float operation is the reference's, in its order (no FMA), so results are
 * identical; tests hold this kernel to eval_ref.c. */
#include "detect_internal.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

TARGET static inline __m512i load_step(const uint32_t *p, int step, __m512i even)
{
    __m512i a = _mm512_loadu_si512((const void *)p);
    if (step == 1)
        return a;
    __m512i b = _mm512_loadu_si512((const void *)(p + 16));
    return _mm512_permutex2var_epi32(a, even, b);
}

TARGET static inline __m512i rect_sum(const uint32_t *p, const int32_t *o, int step, __m512i even)
{
    __m512i a = load_step(p + o[0], step, even), b = load_step(p + o[1], step, even);
    __m512i c = load_step(p + o[2], step, even), d = load_step(p + o[3], step, even);
    return _mm512_add_epi32(_mm512_sub_epi32(_mm512_sub_epi32(a, b), c), d);
}

TARGET static inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
TARGET static inline __m512d hi_pd(__m512 v)
{
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* Rejection mask of one stage for 16 windows: sum of leaves in double, in stump order. */
TARGET static inline __mmask16 stage_reject(const grin__eval_ctx *e, const grin__stage *st,
                                            const uint32_t *s, const uint32_t *t, int step,
                                            __m512i even, __m512 vnf)
{
    const grin__stump *sp = e->stumps + st->first_tree;
    __m512d accl = _mm512_setzero_pd(), acch = _mm512_setzero_pd();
    for (int i = 0; i < st->ntrees; i++) {
        const grin__hfeat *f = &e->hf[sp[i].feature];
        const uint32_t *b = f->tilted ? t : s;
        __m512 v = _mm512_add_ps(
            _mm512_mul_ps(_mm512_set1_ps(f->w[0]),
                          _mm512_cvtepi32_ps(rect_sum(b, f->o[0], step, even))),
            _mm512_mul_ps(_mm512_set1_ps(f->w[1]),
                          _mm512_cvtepi32_ps(rect_sum(b, f->o[1], step, even))));
        if (f->w[2] != 0.0f)
            v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_set1_ps(f->w[2]),
                                               _mm512_cvtepi32_ps(rect_sum(b, f->o[2], step, even))));
        v = _mm512_mul_ps(v, vnf);
        __mmask16 left = _mm512_cmp_ps_mask(v, _mm512_set1_ps(sp[i].threshold), _CMP_LT_OQ);
        __m512 leaf = _mm512_mask_blend_ps(left, _mm512_set1_ps(sp[i].right),
                                           _mm512_set1_ps(sp[i].left));
        accl = _mm512_add_pd(accl, lo_pd(leaf));
        acch = _mm512_add_pd(acch, hi_pd(leaf));
    }
    __m512d thr = _mm512_set1_pd((double)st->threshold);
    return (__mmask16)(_mm512_cmp_pd_mask(accl, thr, _CMP_LT_OQ) |
                       (_mm512_cmp_pd_mask(acch, thr, _CMP_LT_OQ) << 8));
}

TARGET void grin__scan_row_haar_avx512(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                                       grin__rects *out)
{
    const grin_cascade *c = e->c;
    const int step = rp->step;
    const int npos = (rp->work_w + step - 1) / step;
    const size_t row = (size_t)y * e->stride;
    const uint32_t *S = e->sum + row, *Q = e->sq + row, *T = e->tilt ? e->tilt + row : NULL;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512d area = _mm512_set1_pd(e->norm_area), tenth = _mm512_set1_pd(1e-1);
    const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
    bool skip_next = false; /* OpenCV's skip rule carries across chunks */

    for (int k0 = 0; k0 < npos; k0 += 16) {
        size_t off = (size_t)k0 * (size_t)step;
        const uint32_t *s = S + off, *q = Q + off, *t = T ? T + off : NULL;
        int lanes = npos - k0 < 16 ? npos - k0 : 16;
        /* window normalisation, as HaarEvaluator::setWindow */
        __m512i vs = rect_sum(s, e->nofs, step, even);
        __m512i vq = rect_sum(q, e->nofs, step, even);
        __m512d sl = _mm512_cvtepi32_pd(_mm512_castsi512_si256(vs));
        __m512d sh = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(vs, 1));
        __m512d ql = _mm512_cvtepu32_pd(_mm512_castsi512_si256(vq));
        __m512d qh = _mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(vq, 1));
        __m512d nl = _mm512_sub_pd(_mm512_mul_pd(area, ql), _mm512_mul_pd(sl, sl));
        __m512d nh = _mm512_sub_pd(_mm512_mul_pd(area, qh), _mm512_mul_pd(sh, sh));
        __mmask8 pl = _mm512_cmp_pd_mask(nl, zero, _CMP_GT_OQ);
        __mmask8 ph = _mm512_cmp_pd_mask(nh, zero, _CMP_GT_OQ);
        __m512d rl = _mm512_div_pd(one, _mm512_sqrt_pd(_mm512_mask_blend_pd(pl, one, nl)));
        __m512d rh = _mm512_div_pd(one, _mm512_sqrt_pd(_mm512_mask_blend_pd(ph, one, nh)));
        __m256 fl = _mm512_cvtpd_ps(rl), fh = _mm512_cvtpd_ps(rh);
        __mmask8 okl = pl & _mm512_cmp_pd_mask(_mm512_mul_pd(area, _mm512_cvtps_pd(fl)), tenth,
                                               _CMP_LT_OQ);
        __mmask8 okh = ph & _mm512_cmp_pd_mask(_mm512_mul_pd(area, _mm512_cvtps_pd(fh)), tenth,
                                               _CMP_LT_OQ);
        __m512 vnf = _mm512_insertf32x8(_mm512_castps256_ps512(fl), fh, 1);
        unsigned ok = (unsigned)(okl | (okh << 8)) & ((1u << lanes) - 1);
        vnf = _mm512_mask_blend_ps((__mmask16)ok, _mm512_set1_ps(1.0f), vnf);

        unsigned rej0 = ok ? stage_reject(e, &c->stages[0], s, t, step, even, vnf) : 0;
        /* which windows OpenCV evaluates: not the one after a first-stage rejection */
        unsigned alive = grin__first_stage_alive(ok, rej0, lanes, &skip_next);
        /* later stages densely: at 16 lanes even a few live windows pay */
        for (int si = 1; si < c->nstages && alive; si++)
            alive &= ~(unsigned)stage_reject(e, &c->stages[si], s, t, step, even, vnf);
        grin__push_hits(alive, k0, y, rp, out);
    }
}
#endif
