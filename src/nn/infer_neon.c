/* infer_neon.c — the inference plan's float kernels for 64-bit ARM (Advanced SIMD, which every
 * ARMv8-A core has; chosen at run time from AT_HWCAP like the x86 ones from CPUID, and held to the
 * scalar reference by the same tests): the pointwise GEMM on 16-column weight panels, 4 rows x 16
 * columns in 16 vector accumulators, the depthwise convolution 4 channels a vector, and the first
 * layer's convolution straight from its input. */
#include "infer.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>
#include <string.h>

static inline float32x4_t act4(float32x4_t v, int act)
{
    if (act == GRIN__ACT_RELU)
        return vmaxq_f32(v, vdupq_n_f32(0.0f));
    if (act == GRIN__ACT_RELU6)
        return vminq_f32(vmaxq_f32(v, vdupq_n_f32(0.0f)), vdupq_n_f32(6.0f));
    return v;
}

/* stores 16 columns of a row, or the first nc of them */
static inline void store16(float *c, int nc, int act, float32x4_t v0, float32x4_t v1, float32x4_t v2,
                           float32x4_t v3)
{
    v0 = act4(v0, act), v1 = act4(v1, act), v2 = act4(v2, act), v3 = act4(v3, act);
    if (nc == 16) {
        vst1q_f32(c, v0);
        vst1q_f32(c + 4, v1);
        vst1q_f32(c + 8, v2);
        vst1q_f32(c + 12, v3);
    } else {
        float t[16];
        vst1q_f32(t, v0);
        vst1q_f32(t + 4, v1);
        vst1q_f32(t + 8, v2);
        vst1q_f32(t + 12, v3);
        memcpy(c, t, (size_t)nc * sizeof *c);
    }
}

/* C = act(A (M x K, lda) * Wp + bias); Wp in panels of 16 columns, zero past N, the bias readable
 * to a whole panel */
static void gemm_neon(int M, int N, int K, const float *A, int lda, const float *Wp, const float *bias, int act,
                      float *C, int ldc)
{
    for (int j0 = 0; j0 < N; j0 += GRIN__NR) {
        const float *W = Wp + (size_t)(j0 / GRIN__NR) * K * GRIN__NR;
        const int nc = N - j0 < GRIN__NR ? N - j0 : GRIN__NR;
        const float32x4_t b0 = vld1q_f32(bias + j0), b1 = vld1q_f32(bias + j0 + 4), b2 = vld1q_f32(bias + j0 + 8),
                          b3 = vld1q_f32(bias + j0 + 12);
        int i = 0;
        for (; i + 4 <= M; i += 4) {
            const float *a0 = A + (size_t)i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            float32x4_t c00 = b0, c01 = b1, c02 = b2, c03 = b3, c10 = b0, c11 = b1, c12 = b2, c13 = b3;
            float32x4_t c20 = b0, c21 = b1, c22 = b2, c23 = b3, c30 = b0, c31 = b1, c32 = b2, c33 = b3;
            for (int k = 0; k < K; k++) {
                const float *w = W + (size_t)k * GRIN__NR;
                const float32x4_t w0 = vld1q_f32(w), w1 = vld1q_f32(w + 4), w2 = vld1q_f32(w + 8),
                                  w3 = vld1q_f32(w + 12);
                float32x4_t a = vdupq_n_f32(a0[k]);
                c00 = vfmaq_f32(c00, a, w0), c01 = vfmaq_f32(c01, a, w1);
                c02 = vfmaq_f32(c02, a, w2), c03 = vfmaq_f32(c03, a, w3);
                a = vdupq_n_f32(a1[k]);
                c10 = vfmaq_f32(c10, a, w0), c11 = vfmaq_f32(c11, a, w1);
                c12 = vfmaq_f32(c12, a, w2), c13 = vfmaq_f32(c13, a, w3);
                a = vdupq_n_f32(a2[k]);
                c20 = vfmaq_f32(c20, a, w0), c21 = vfmaq_f32(c21, a, w1);
                c22 = vfmaq_f32(c22, a, w2), c23 = vfmaq_f32(c23, a, w3);
                a = vdupq_n_f32(a3[k]);
                c30 = vfmaq_f32(c30, a, w0), c31 = vfmaq_f32(c31, a, w1);
                c32 = vfmaq_f32(c32, a, w2), c33 = vfmaq_f32(c33, a, w3);
            }
            float *c = C + (size_t)i * ldc + j0;
            store16(c, nc, act, c00, c01, c02, c03);
            store16(c + ldc, nc, act, c10, c11, c12, c13);
            store16(c + 2 * (size_t)ldc, nc, act, c20, c21, c22, c23);
            store16(c + 3 * (size_t)ldc, nc, act, c30, c31, c32, c33);
        }
        for (; i < M; i++) {
            const float *a0 = A + (size_t)i * lda;
            float32x4_t c0 = b0, c1 = b1, c2 = b2, c3 = b3;
            for (int k = 0; k < K; k++) {
                const float *w = W + (size_t)k * GRIN__NR;
                const float32x4_t a = vdupq_n_f32(a0[k]);
                c0 = vfmaq_f32(c0, a, vld1q_f32(w));
                c1 = vfmaq_f32(c1, a, vld1q_f32(w + 4));
                c2 = vfmaq_f32(c2, a, vld1q_f32(w + 8));
                c3 = vfmaq_f32(c3, a, vld1q_f32(w + 12));
            }
            store16(C + (size_t)i * ldc + j0, nc, act, c0, c1, c2, c3);
        }
    }
}

/* output rows y0..y1-1 of a depthwise convolution: the taps inside the input, 4 channels at a
 * time, the last C % 4 one by one */
static void dw_neon(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    const int C = op->c, C4 = C & ~3;
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < op->w; ox++) {
            float *o = out + ((size_t)oy * op->w + ox) * C;
            int ky0 = 0, ky1 = op->k, kx0 = 0, kx1 = op->k;
            const int iy0 = oy * op->stride - op->pad, ix0 = ox * op->stride - op->pad;
            if (iy0 < 0)
                ky0 = -iy0;
            if (iy0 + ky1 > op->ih)
                ky1 = op->ih - iy0;
            if (ix0 < 0)
                kx0 = -ix0;
            if (ix0 + kx1 > op->iw)
                kx1 = op->iw - ix0;
            int c = 0;
            for (; c + 16 <= C4; c += 16) { /* four independent chains hide the FMA latency */
                float32x4_t s0 = vld1q_f32(op->bias + c), s1 = vld1q_f32(op->bias + c + 4);
                float32x4_t s2 = vld1q_f32(op->bias + c + 8), s3 = vld1q_f32(op->bias + c + 12);
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++) {
                        const float *p = in + ((size_t)(iy0 + ky) * op->iw + ix0 + kx) * C + c;
                        const float *w = op->wt + (size_t)(ky * op->k + kx) * C + c;
                        s0 = vfmaq_f32(s0, vld1q_f32(p), vld1q_f32(w));
                        s1 = vfmaq_f32(s1, vld1q_f32(p + 4), vld1q_f32(w + 4));
                        s2 = vfmaq_f32(s2, vld1q_f32(p + 8), vld1q_f32(w + 8));
                        s3 = vfmaq_f32(s3, vld1q_f32(p + 12), vld1q_f32(w + 12));
                    }
                vst1q_f32(o + c, act4(s0, op->act));
                vst1q_f32(o + c + 4, act4(s1, op->act));
                vst1q_f32(o + c + 8, act4(s2, op->act));
                vst1q_f32(o + c + 12, act4(s3, op->act));
            }
            for (; c < C4; c += 4) {
                float32x4_t s = vld1q_f32(op->bias + c);
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++)
                        s = vfmaq_f32(s, vld1q_f32(in + ((size_t)(iy0 + ky) * op->iw + ix0 + kx) * C + c),
                                      vld1q_f32(op->wt + (size_t)(ky * op->k + kx) * C + c));
                vst1q_f32(o + c, act4(s, op->act));
            }
            for (; c < C; c++) {
                float s = op->bias[c];
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++)
                        s = fmaf(in[((size_t)(iy0 + ky) * op->iw + ix0 + kx) * C + c],
                                 op->wt[(size_t)(ky * op->k + kx) * C + c], s);
                o[c] = op->act == GRIN__ACT_RELU    ? (s > 0 ? s : 0)
                       : op->act == GRIN__ACT_RELU6 ? (s < 0 ? 0 : s > 6 ? 6 : s)
                                                    : s;
            }
        }
}

/* A convolution straight from its input, no im2col (the first layer: few input channels, taken
 * when ic <= 4 and k > 1): one 16-column weight panel at a time, 4 neighbouring output pixels
 * wholly inside the input together (each tap's 4 weight vectors loaded once for 16 FMAs, 16
 * accumulators + 4 weights + 1 broadcast of 32 registers), the others one by one skipping the
 * taps outside. Weights [panel][ky][kx][ci][16], as for the GEMM. */
static void conv_neon(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    const int IC = op->ic, N = op->c, k = op->k, S = op->stride, K = k * k * IC;
    const size_t ps = (size_t)S * IC; /* input step between neighbouring output pixels */
    for (int j = 0; j < N; j += GRIN__NR) {
        const float *w = op->wt + (size_t)(j / GRIN__NR) * K * GRIN__NR;
        const int nr = N - j < GRIN__NR ? N - j : GRIN__NR;
        const float32x4_t b0 = vld1q_f32(op->bias + j), b1 = vld1q_f32(op->bias + j + 4),
                          b2 = vld1q_f32(op->bias + j + 8), b3 = vld1q_f32(op->bias + j + 12);
        for (int oy = y0; oy < y1; oy++) {
            const int iy0 = oy * S - op->pad;
            const bool rows_in = iy0 >= 0 && iy0 + k <= op->ih;
            for (int ox = 0; ox < op->w;) {
                const int ix0 = ox * S - op->pad;
                float *o = out + ((size_t)oy * op->w + ox) * N + j;
                if (rows_in && ox + 4 <= op->w && ix0 >= 0 && ix0 + 3 * S + k <= op->iw) {
                    /* gemm_neon's 4x16 tile, written out again on purpose: shared through a helper
                     * with an accumulator array, GCC 12 keeps the 16 accumulators on the stack
                     * inside the loop (checked with objdump) */
                    float32x4_t a00 = b0, a01 = b1, a02 = b2, a03 = b3, a10 = b0, a11 = b1, a12 = b2, a13 = b3;
                    float32x4_t a20 = b0, a21 = b1, a22 = b2, a23 = b3, a30 = b0, a31 = b1, a32 = b2, a33 = b3;
                    for (int ky = 0; ky < k; ky++) {
                        const float *row = in + ((size_t)(iy0 + ky) * op->iw + (size_t)ix0) * IC;
                        const float *wr = w + (size_t)ky * k * IC * GRIN__NR;
                        for (int t = 0; t < k * IC; t++) { /* kx and ci together: contiguous in the row */
                            const float *wt = wr + (size_t)t * GRIN__NR;
                            const float32x4_t w0 = vld1q_f32(wt), w1 = vld1q_f32(wt + 4), w2 = vld1q_f32(wt + 8),
                                              w3 = vld1q_f32(wt + 12);
                            float32x4_t v = vdupq_n_f32(row[t]);
                            a00 = vfmaq_f32(a00, v, w0), a01 = vfmaq_f32(a01, v, w1);
                            a02 = vfmaq_f32(a02, v, w2), a03 = vfmaq_f32(a03, v, w3);
                            v = vdupq_n_f32(row[ps + t]);
                            a10 = vfmaq_f32(a10, v, w0), a11 = vfmaq_f32(a11, v, w1);
                            a12 = vfmaq_f32(a12, v, w2), a13 = vfmaq_f32(a13, v, w3);
                            v = vdupq_n_f32(row[2 * ps + t]);
                            a20 = vfmaq_f32(a20, v, w0), a21 = vfmaq_f32(a21, v, w1);
                            a22 = vfmaq_f32(a22, v, w2), a23 = vfmaq_f32(a23, v, w3);
                            v = vdupq_n_f32(row[3 * ps + t]);
                            a30 = vfmaq_f32(a30, v, w0), a31 = vfmaq_f32(a31, v, w1);
                            a32 = vfmaq_f32(a32, v, w2), a33 = vfmaq_f32(a33, v, w3);
                        }
                    }
                    store16(o, nr, op->act, a00, a01, a02, a03);
                    store16(o + N, nr, op->act, a10, a11, a12, a13);
                    store16(o + 2 * (size_t)N, nr, op->act, a20, a21, a22, a23);
                    store16(o + 3 * (size_t)N, nr, op->act, a30, a31, a32, a33);
                    ox += 4;
                    continue;
                }
                float32x4_t a0 = b0, a1 = b1, a2 = b2, a3 = b3;
                for (int ky = 0; ky < k; ky++) {
                    const int iy = iy0 + ky;
                    if (iy < 0 || iy >= op->ih)
                        continue;
                    for (int kx = 0; kx < k; kx++) {
                        const int ix = ix0 + kx;
                        if (ix < 0 || ix >= op->iw)
                            continue;
                        const float *p = in + ((size_t)iy * op->iw + (size_t)ix) * IC;
                        const float *wk = w + (size_t)((ky * k + kx) * IC) * GRIN__NR;
                        for (int ci = 0; ci < IC; ci++) {
                            const float32x4_t v = vdupq_n_f32(p[ci]);
                            const float *wt = wk + (size_t)ci * GRIN__NR;
                            a0 = vfmaq_f32(a0, v, vld1q_f32(wt)), a1 = vfmaq_f32(a1, v, vld1q_f32(wt + 4));
                            a2 = vfmaq_f32(a2, v, vld1q_f32(wt + 8)), a3 = vfmaq_f32(a3, v, vld1q_f32(wt + 12));
                        }
                    }
                }
                store16(o, nr, op->act, a0, a1, a2, a3);
                ox++;
            }
        }
    }
}

bool grin__kernels_neon_usable(void)
{
    return (grin__cpu_enabled() & GRIN__CPU_NEON) != 0;
}

const grin__kernels grin__kernels_neon = {gemm_neon, dw_neon, conv_neon};

/* ---- 8 bits: u8 activations x s8 weights packed [panel][K4 / 4][16 columns][4] */

/* C = act((sum + 128 colsum) dq + bias) for one row's 16 columns (nc stored) */
static inline void store_u8(float *c, int nc, const int32x4_t *acc, const int32_t *cs, const float *dq,
                            const float *bias, int act)
{
    float t[16];
    for (int q = 0; q < 4; q++) {
        int32x4_t v = vaddq_s32(acc[q], vld1q_s32(cs + 4 * q));
        float32x4_t f = vaddq_f32(vmulq_f32(vcvtq_f32_s32(v), vld1q_f32(dq + 4 * q)), vld1q_f32(bias + 4 * q));
        vst1q_f32(t + 4 * q, act4(f, act));
    }
    memcpy(c, t, (size_t)nc * sizeof *c);
}

/* the 16 columns' weight sums over the panel, times 128 */
static void panel_colsums(const int8_t *w, int K4, int32_t *cs)
{
    for (int c = 0; c < 16; c++)
        cs[c] = 0;
    for (int k = 0; k < K4; k += 4, w += 64)
        for (int c = 0; c < 16; c++)
            cs[c] += w[4 * c] + w[4 * c + 1] + w[4 * c + 2] + w[4 * c + 3];
    for (int c = 0; c < 16; c++)
        cs[c] *= 128;
}

/* one u8 GEMM kernel: for every 16-column panel and row, STEP(acc, w, av) adds 4 k of the row
 * (av: their x - 128, repeated 4 times) times the panel's weights w (16 columns x 4 k) into the
 * 4 accumulators; then the column sums put back what x - 128 took away */
#define GEMM_U8(NAME, ATTR, STEP)                                                                          \
    ATTR void NAME(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,              \
                   const float *bias, int act, float *C, int ldc)                                          \
    {                                                                                                      \
        const uint8x16_t flip = vdupq_n_u8(0x80);                                                          \
        for (int j0 = 0; j0 < N; j0 += 16) {                                                               \
            const int8_t *W = Wq + (size_t)(j0 / 16) * K4 * 16;                                            \
            const int nc = N - j0 < 16 ? N - j0 : 16;                                                      \
            int32_t cs[16];                                                                                \
            panel_colsums(W, K4, cs);                                                                      \
            for (int i = 0; i < M; i++) {                                                                  \
                const uint8_t *a = A + (size_t)i * K4;                                                     \
                int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};        \
                for (int k = 0; k < K4; k += 4) {                                                          \
                    uint32_t a4;                                                                           \
                    memcpy(&a4, a + k, 4);                                                                 \
                    int8x16_t av = vreinterpretq_s8_u8(veorq_u8(vreinterpretq_u8_u32(vdupq_n_u32(a4)), flip)); \
                    STEP(acc, W + (size_t)k * 16, av);                                                     \
                }                                                                                          \
                store_u8(C + (size_t)i * ldc + j0, nc, acc, cs, dq + j0, bias + j0, act);                  \
            }                                                                                              \
        }                                                                                                  \
    }

/* widening: per column the products of 4 k in two 16-bit pairs, then pairwise into 32 bits;
 * |(x - 128) w| <= 16256, so a pair fits 16 bits. wv holds columns 4q..4q+3, 4 k each: vmull's
 * low half is column 4q's k0..3 and 4q+1's, pairwise sums give (k0+k1, k2+k3) per column */
#define STEP_WIDEN(acc, w, av)                                                                             \
    for (int q = 0; q < 4; q++) {                                                                          \
        int8x16_t wv = vld1q_s8((w) + 16 * q);                                                             \
        int32x4_t pl = vpaddlq_s16(vmull_s8(vget_low_s8(av), vget_low_s8(wv)));                            \
        int32x4_t ph = vpaddlq_s16(vmull_s8(vget_high_s8(av), vget_high_s8(wv)));                          \
        acc[q] = vaddq_s32(acc[q], vpaddq_s32(pl, ph));                                                    \
    }
/* SDOT: each 32-bit lane sums its column's 4 products */
#define STEP_DOT(acc, w, av)                                                                               \
    for (int q = 0; q < 4; q++)                                                                            \
        acc[q] = vdotq_s32(acc[q], vld1q_s8((w) + 16 * q), av);

GEMM_U8(grin__gemm_u8_neon, , STEP_WIDEN)
GEMM_U8(grin__gemm_u8_neon_dot, __attribute__((target("arch=armv8.2-a+dotprod"))), STEP_DOT)

bool grin__int8_neon_usable(void)
{
    return grin__kernels_neon_usable();
}

bool grin__int8_neon_dot_usable(void)
{
    return (grin__cpu_enabled() & (GRIN__CPU_NEON | GRIN__CPU_DOTPROD)) == (GRIN__CPU_NEON | GRIN__CPU_DOTPROD);
}

#else

bool grin__kernels_neon_usable(void)
{
    return false;
}

const grin__kernels grin__kernels_neon = {NULL, NULL, NULL};

bool grin__int8_neon_usable(void)
{
    return false;
}

bool grin__int8_neon_dot_usable(void)
{
    return false;
}

void grin__gemm_u8_neon(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                        const float *bias, int act, float *C, int ldc)
{
    (void)M, (void)N, (void)K4, (void)A, (void)Wq, (void)dq, (void)bias, (void)act, (void)C, (void)ldc;
}

void grin__gemm_u8_neon_dot(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                            const float *bias, int act, float *C, int ldc)
{
    (void)M, (void)N, (void)K4, (void)A, (void)Wq, (void)dq, (void)bias, (void)act, (void)C, (void)ldc;
}

#endif
