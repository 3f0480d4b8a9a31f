/* eval_neon.c — Haar stump cascades (OpenCV's frontal-face ones) 4 neighbouring windows of a row
 * at a time with 64-bit ARM's NEON, stage by stage while any is alive. The same operations in the
 * same order as eval_ref.c (multiplies and adds kept apart, leaves summed in double in tree
 * order), so the hits are identical; tests hold this kernel to the reference like the x86 ones. */
#include "detect_internal.h"

#include <math.h>

#if defined(__aarch64__)
#include <arm_neon.h>

/* 4 windows' integral values at p, p + step, p + 2 step, p + 3 step (step 1 or 2) */
static inline uint32x4_t load_step(const uint32_t *p, int step)
{
    return step == 1 ? vld1q_u32(p) : vld2q_u32(p).val[0];
}

static inline int32x4_t rect_sum(const uint32_t *p, const int32_t *o, int step)
{
    uint32x4_t a = load_step(p + o[0], step), b = load_step(p + o[1], step);
    uint32x4_t c = load_step(p + o[2], step), d = load_step(p + o[3], step);
    return vreinterpretq_s32_u32(vaddq_u32(vsubq_u32(vsubq_u32(a, b), c), d));
}

/* a Haar feature's weighted rect sum for 4 windows, before normalisation */
static inline float32x4_t haar_val(const grin__hfeat *f, const uint32_t *s, const uint32_t *t, int step)
{
    const uint32_t *b = f->tilted ? t : s;
    float32x4_t v = vaddq_f32(vmulq_n_f32(vcvtq_f32_s32(rect_sum(b, f->o[0], step)), f->w[0]),
                              vmulq_n_f32(vcvtq_f32_s32(rect_sum(b, f->o[1], step)), f->w[1]));
    if (f->w[2] != 0.0f)
        v = vaddq_f32(v, vmulq_n_f32(vcvtq_f32_s32(rect_sum(b, f->o[2], step)), f->w[2]));
    return v;
}

/* rejection bits of one stage for 4 windows: the leaves summed in double, in tree order */
static inline unsigned stage_reject(const grin__eval_ctx *e, const grin__stage *st, const uint32_t *s,
                                    const uint32_t *t, int step, float32x4_t vnf)
{
    float64x2_t lo = vdupq_n_f64(0.0), hi = lo;
    const grin__stump *sp = e->stumps + st->first_tree;
    for (int i = 0; i < st->ntrees; i++) {
        float32x4_t v = vmulq_f32(haar_val(&e->hf[sp[i].feature], s, t, step), vnf);
        uint32x4_t left = vcltq_f32(v, vdupq_n_f32(sp[i].threshold));
        float32x4_t leaf = vbslq_f32(left, vdupq_n_f32(sp[i].left), vdupq_n_f32(sp[i].right));
        lo = vaddq_f64(lo, vcvt_f64_f32(vget_low_f32(leaf)));
        hi = vaddq_f64(hi, vcvt_high_f64_f32(leaf));
    }
    float64x2_t thr = vdupq_n_f64((double)st->threshold);
    uint64x2_t rl = vcltq_f64(lo, thr), rh = vcltq_f64(hi, thr);
    return (unsigned)((vgetq_lane_u64(rl, 0) & 1) | (vgetq_lane_u64(rl, 1) & 2) | (vgetq_lane_u64(rh, 0) & 4) |
                      (vgetq_lane_u64(rh, 1) & 8));
}

/* the window normalisation of HaarEvaluator::setWindow for 2 windows: 1 / sqrt(variance x area)
 * and whether the window is textured enough */
static inline void norm2(float64x2_t area, int32x2_t vs, uint32x2_t vq, float *vnf, unsigned *ok)
{
    float64x2_t sd = vcvtq_f64_s64(vmovl_s32(vs)), qd = vcvtq_f64_u64(vmovl_u32(vq));
    float64x2_t n = vsubq_f64(vmulq_f64(area, qd), vmulq_f64(sd, sd));
    for (int l = 0; l < 2; l++) {
        double nf = vgetq_lane_f64(n, 0);
        if (l)
            nf = vgetq_lane_f64(n, 1);
        if (nf > 0.0) {
            float f = (float)(1.0 / sqrt(nf));
            vnf[l] = f;
            ok[l] = vgetq_lane_f64(area, 0) * (double)f < 1e-1;
        } else {
            vnf[l] = 1.0f;
            ok[l] = 0;
        }
    }
}

void grin__scan_row_haar_neon(const grin__eval_ctx *e, const grin__row_params *rp, int y, grin__rects *out)
{
    const grin_cascade *c = e->c;
    const int step = rp->step;
    const int npos = (rp->work_w + step - 1) / step;
    const size_t row = (size_t)y * e->stride;
    const uint32_t *S = e->sum + row, *Q = e->sq + row, *T = e->tilt ? e->tilt + row : NULL;
    const float64x2_t area = vdupq_n_f64(e->norm_area);
    bool skip_next = false; /* OpenCV's skip rule carries across chunks */
    for (int k0 = 0; k0 < npos; k0 += 4) {
        size_t off = (size_t)k0 * (size_t)step;
        const uint32_t *s = S + off, *q = Q + off, *t = T ? T + off : NULL;
        int lanes = npos - k0 < 4 ? npos - k0 : 4;
        int32x4_t vs = rect_sum(s, e->nofs, step);
        uint32x4_t vq = vreinterpretq_u32_s32(rect_sum(q, e->nofs, step));
        float f[4];
        unsigned okl[4];
        norm2(area, vget_low_s32(vs), vget_low_u32(vq), f, okl);
        norm2(area, vget_high_s32(vs), vget_high_u32(vq), f + 2, okl + 2);
        unsigned ok = (okl[0] | okl[1] << 1 | okl[2] << 2 | okl[3] << 3) & ((1u << lanes) - 1);
        for (int l = 0; l < 4; l++)
            if (!((ok >> l) & 1))
                f[l] = 1.0f;
        float32x4_t vnf = vld1q_f32(f);
        unsigned rej0 = ok ? stage_reject(e, &c->stages[0], s, t, step, vnf) : 0;
        unsigned alive = grin__first_stage_alive(ok, rej0, lanes, &skip_next);
        for (int si = 1; si < c->nstages && alive; si++)
            alive &= ~stage_reject(e, &c->stages[si], s, t, step, vnf);
        grin__push_hits(alive, k0, y, rp, out);
    }
}

#else

void grin__scan_row_haar_neon(const grin__eval_ctx *e, const grin__row_params *rp, int y, grin__rects *out)
{
    grin__scan_row_ref(e, rp, y, out);
}

#endif
