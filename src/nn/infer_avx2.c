/* infer_avx2.c — AVX2+FMA inference kernels: a 6x16 register-blocked GEMM microkernel on
 * packed weight panels with bias and activation applied as it stores, depthwise convolution
 * vectorised over 8 channels, a grey first layer, and the 8-bit GEMM for machines without VNNI.
 * Held to the scalar kernels in infer.c by the tests. */
#include "infer.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,fma")))

bool grin__kernels_avx2_usable(void)
{
    unsigned need = GRIN__CPU_AVX2 | GRIN__CPU_FMA;
    return (grin__cpu_enabled() & need) == need;
}

TARGET static inline __m256 act8(__m256 v, int act)
{
    if (act != GRIN__ACT_NONE) {
        v = _mm256_max_ps(v, _mm256_setzero_ps());
        if (act == GRIN__ACT_RELU6)
            v = _mm256_min_ps(v, _mm256_set1_ps(6.0f));
    }
    return v;
}

/* one output row's 16-column panel (nr valid columns), activated */
TARGET static inline void store_nr(float *o, __m256 a0, __m256 a1, int nr, int act)
{
    if (nr == 16) {
        _mm256_storeu_ps(o, act8(a0, act));
        _mm256_storeu_ps(o + 8, act8(a1, act));
    } else if (nr == 8) {
        _mm256_storeu_ps(o, act8(a0, act));
    } else {
        float tmp[16];
        _mm256_storeu_ps(tmp, act8(a0, act));
        _mm256_storeu_ps(tmp + 8, act8(a1, act));
        memcpy(o, tmp, (size_t)nr * sizeof(float));
    }
}

/* rows r0..r5 of A (missing rows repeat row 0) times one 16-column panel */
TARGET static void tile_6x16(int K, const float *A, int lda, int mr, const float *w, const float *bias,
                             int act, float *C, int ldc, int nr)
{
    const float *a0 = A, *a1 = A + (mr > 1 ? lda : 0), *a2 = A + (mr > 2 ? 2 * lda : 0);
    const float *a3 = A + (mr > 3 ? 3 * lda : 0), *a4 = A + (mr > 4 ? 4 * lda : 0);
    const float *a5 = A + (mr > 5 ? 5 * lda : 0);
    __m256 bl = _mm256_loadu_ps(bias), bh = _mm256_loadu_ps(bias + 8);
    __m256 c00 = bl, c01 = bh, c10 = bl, c11 = bh, c20 = bl, c21 = bh;
    __m256 c30 = bl, c31 = bh, c40 = bl, c41 = bh, c50 = bl, c51 = bh;
    for (int k = 0; k < K; k++) {
        __m256 w0 = _mm256_loadu_ps(w + (size_t)k * 16), w1 = _mm256_loadu_ps(w + (size_t)k * 16 + 8);
        __m256 a = _mm256_broadcast_ss(a0 + k);
        c00 = _mm256_fmadd_ps(a, w0, c00);
        c01 = _mm256_fmadd_ps(a, w1, c01);
        a = _mm256_broadcast_ss(a1 + k);
        c10 = _mm256_fmadd_ps(a, w0, c10);
        c11 = _mm256_fmadd_ps(a, w1, c11);
        a = _mm256_broadcast_ss(a2 + k);
        c20 = _mm256_fmadd_ps(a, w0, c20);
        c21 = _mm256_fmadd_ps(a, w1, c21);
        a = _mm256_broadcast_ss(a3 + k);
        c30 = _mm256_fmadd_ps(a, w0, c30);
        c31 = _mm256_fmadd_ps(a, w1, c31);
        a = _mm256_broadcast_ss(a4 + k);
        c40 = _mm256_fmadd_ps(a, w0, c40);
        c41 = _mm256_fmadd_ps(a, w1, c41);
        a = _mm256_broadcast_ss(a5 + k);
        c50 = _mm256_fmadd_ps(a, w0, c50);
        c51 = _mm256_fmadd_ps(a, w1, c51);
    }
    __m256 r[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    for (int i = 0; i < mr; i++)
        store_nr(C + (size_t)i * ldc, r[2 * i], r[2 * i + 1], nr, act);
}

TARGET static void gemm_avx2(int M, int N, int K, const float *A, int lda, const float *Wp,
                             const float *bias, int act, float *C, int ldc)
{
    for (int j = 0; j < N; j += GRIN__NR) {
        const float *w = Wp + (size_t)(j / GRIN__NR) * K * GRIN__NR;
        int nr = N - j < GRIN__NR ? N - j : GRIN__NR;
        for (int i = 0; i < M; i += GRIN__MR) {
            int mr = M - i < GRIN__MR ? M - i : GRIN__MR;
            tile_6x16(K, A + (size_t)i * lda, lda, mr, w, bias + j, act, C + (size_t)i * ldc + j, ldc, nr);
        }
    }
}

/* 3x3 depthwise, C % 8 == 0, as the AVX-512 kernel does it (see there): an output row in
 * strips of eight accumulators, NU pixels x CB blocks of 8 channels shaped to the layer, each
 * input column under a strip loaded once per input row, columns and rows outside the input
 * skipped. The weights stay in memory (16 registers: 8 accumulators, up to 4 input vectors). */
#define DWA_ACC 8

#define INLINE __attribute__((always_inline)) inline

TARGET static INLINE void dwa_strip(const grin__op *op, const float *in, float *out, int oy, int u0, int c0,
                                    const __m256 *wk, const __m256 *bias, const int S, const int NU)
{
    const int CB = DWA_ACC / NU, C = op->c, IW = op->iw, W = op->w, NCOL = (NU - 1) * S + 3;
    const int px0 = u0 * S - op->pad;
    const int jlo = px0 < 0 ? -px0 : 0, lim = IW - px0, jhi = lim < NCOL ? lim : NCOL;
    /* named accumulators: an array this large stays in memory */
    __m256 a0 = bias[0 / NU], a1 = bias[1 / NU], a2 = bias[2 / NU], a3 = bias[3 / NU], a4 = bias[4 / NU],
           a5 = bias[5 / NU], a6 = bias[6 / NU], a7 = bias[7 / NU];
#pragma GCC unroll 3
    for (int ky = 0; ky < 3; ky++) {
        int iy = oy * S - op->pad + ky;
        if (iy < 0 || iy >= op->ih)
            continue;
        const float *row = in + (size_t)iy * IW * C + c0;
        const __m256 *w = wk + ky * 3;
#pragma GCC unroll 17
        for (int j = 0; j < NCOL; j++) {
            if (j < jlo || j >= jhi)
                continue;
            const float *at = row + (size_t)(px0 + j) * C;
            __m256 v0 = _mm256_loadu_ps(at), v1 = v0, v2 = v0, v3 = v0; /* a column, CB blocks */
            if (CB > 1)
                v1 = _mm256_loadu_ps(at + 8);
            if (CB > 2) {
                v2 = _mm256_loadu_ps(at + 16);
                v3 = _mm256_loadu_ps(at + 24);
            }
#define DWA_TAP(i, A)                                                                                    \
    do {                                                                                                 \
        const int b_ = (i) / NU, kx_ = j - ((i) % NU) * S;                                               \
        if (kx_ >= 0 && kx_ < 3)                                                                         \
            A = _mm256_fmadd_ps(b_ == 0 ? v0 : b_ == 1 ? v1 : b_ == 2 ? v2 : v3, w[b_ * 9 + kx_], A);     \
    } while (0)
            DWA_TAP(0, a0);
            DWA_TAP(1, a1);
            DWA_TAP(2, a2);
            DWA_TAP(3, a3);
            DWA_TAP(4, a4);
            DWA_TAP(5, a5);
            DWA_TAP(6, a6);
            DWA_TAP(7, a7);
#undef DWA_TAP
        }
    }
    const __m256 a[DWA_ACC] = {a0, a1, a2, a3, a4, a5, a6, a7};
    const int nu = W - u0 < NU ? W - u0 : NU;
    for (int b = 0; b < CB; b++)
        for (int q = 0; q < nu; q++)
            _mm256_storeu_ps(out + ((size_t)oy * W + u0 + q) * C + c0 + 8 * b, act8(a[b * NU + q], op->act));
}

TARGET static INLINE void dwa_layer(const grin__op *op, const float *in, float *out, int y0, int y1, const int S,
                                    const int NU)
{
    const int CB = DWA_ACC / NU, C = op->c;
    for (int c0 = 0; c0 < C; c0 += 8 * CB) {
        __m256 wk[DWA_ACC * 9], bias[DWA_ACC];
        for (int b = 0; b < CB; b++) {
            for (int t = 0; t < 9; t++)
                wk[b * 9 + t] = _mm256_loadu_ps(op->wt + (size_t)t * C + c0 + 8 * b);
            bias[b] = _mm256_loadu_ps(op->bias + c0 + 8 * b);
        }
        for (int oy = y0; oy < y1; oy++)
            for (int u0 = 0; u0 < op->w; u0 += NU)
                dwa_strip(op, in, out, oy, u0, c0, wk, bias, S, NU);
    }
}

/* the strip width for 8-channel blocks */
static int dwa_units(const grin__op *op)
{
    return grin__dw_strip_units(op->w, op->c / 8, DWA_ACC);
}

TARGET static void dw3_avx2(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    const int nu = dwa_units(op);
    if (op->stride == 1)
        nu == 8 ? dwa_layer(op, in, out, y0, y1, 1, 8) : nu == 4 ? dwa_layer(op, in, out, y0, y1, 1, 4)
                                                     : dwa_layer(op, in, out, y0, y1, 1, 2);
    else if (op->stride == 2)
        nu == 8 ? dwa_layer(op, in, out, y0, y1, 2, 8) : nu == 4 ? dwa_layer(op, in, out, y0, y1, 2, 4)
                                                     : dwa_layer(op, in, out, y0, y1, 2, 2);
}

TARGET static void dw_avx2(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    const int C = op->c, k = op->k;
    if (C % 8) {
        grin__kernels_scalar.dw(op, in, out, y0, y1);
        return;
    }
    if (k == 3 && op->stride <= 2) {
        dw3_avx2(op, in, out, y0, y1);
        return;
    }
    for (int oy = y0; oy < y1; oy++) {
        int iy0 = oy * op->stride - op->pad;
        int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = op->ih - iy0 < k ? op->ih - iy0 : k;
        for (int ox = 0; ox < op->w; ox++) {
            int ix0 = ox * op->stride - op->pad;
            int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = op->iw - ix0 < k ? op->iw - ix0 : k;
            float *o = out + ((size_t)oy * op->w + ox) * C;
            for (int c = 0; c < C; c += 8) {
                __m256 s = _mm256_loadu_ps(op->bias + c);
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++)
                        s = _mm256_fmadd_ps(_mm256_loadu_ps(in + ((size_t)(iy0 + ky) * op->iw + (size_t)(ix0 + kx)) * C + c),
                                            _mm256_loadu_ps(op->wt + (size_t)(ky * k + kx) * C + c), s);
                _mm256_storeu_ps(o + c, act8(s, op->act));
            }
        }
    }
}

/* 4 neighbouring output pixels wholly inside the input: every tap's weights loaded once */
TARGET static void conv_block4(const grin__op *op, const float *in, const float *w, __m256 bl, __m256 bh,
                               int iy0, int ix0, float *o, int nr)
{
    const int IC = op->ic, S = op->stride, k = op->k;
    const size_t ps = (size_t)S * IC; /* input step between neighbouring output pixels */
    __m256 a00 = bl, a10 = bl, a20 = bl, a30 = bl;
    __m256 a01 = bh, a11 = bh, a21 = bh, a31 = bh;
    for (int ky = 0; ky < k; ky++) {
        const float *row = in + ((size_t)(iy0 + ky) * op->iw + (size_t)ix0) * IC;
        const float *wr = w + (size_t)ky * k * IC * GRIN__NR;
        for (int t = 0; t < k * IC; t++) { /* kx and ci together: contiguous in the input row */
            __m256 w0 = _mm256_loadu_ps(wr + (size_t)t * GRIN__NR);
            __m256 v0 = _mm256_broadcast_ss(row + t), v1 = _mm256_broadcast_ss(row + ps + t);
            __m256 v2 = _mm256_broadcast_ss(row + 2 * ps + t), v3 = _mm256_broadcast_ss(row + 3 * ps + t);
            a00 = _mm256_fmadd_ps(v0, w0, a00);
            a10 = _mm256_fmadd_ps(v1, w0, a10);
            a20 = _mm256_fmadd_ps(v2, w0, a20);
            a30 = _mm256_fmadd_ps(v3, w0, a30);
            if (nr > 8) {
                __m256 w1 = _mm256_loadu_ps(wr + (size_t)t * GRIN__NR + 8);
                a01 = _mm256_fmadd_ps(v0, w1, a01);
                a11 = _mm256_fmadd_ps(v1, w1, a11);
                a21 = _mm256_fmadd_ps(v2, w1, a21);
                a31 = _mm256_fmadd_ps(v3, w1, a31);
            }
        }
    }
    const size_t N = (size_t)op->c;
    store_nr(o, a00, a01, nr, op->act);
    store_nr(o + N, a10, a11, nr, op->act);
    store_nr(o + 2 * N, a20, a21, nr, op->act);
    store_nr(o + 3 * N, a30, a31, nr, op->act);
}

/* a convolution straight from the input, no im2col: for the first layer (few input channels),
 * 16 output channels (one weight panel) at a time */
/* The first layer of a grey model, 3x3, stride 2, padding 1, N % 8 == 0 (grin__conv3s2_grey_shape),
 * as the AVX-512 kernel does it: eight output pixels a vector, one vector per output channel,
 * even and odd input columns split once per row, then an 8x8 transpose to eight channels a
 * pixel. */
TARGET static void conv3s2_grey_avx2(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    const int N = op->c, IW = op->iw, W = op->w;
    const __m256i right1 = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < W; ox += 8) {
            __m256 x[9]; /* tap (ky, kx): 8 inputs, one per output pixel */
            for (int ky = 0; ky < 3; ky++) {
                int iy = oy * 2 - 1 + ky, c0 = ox * 2;
                if (iy < 0 || iy >= op->ih) {
                    x[ky * 3] = x[ky * 3 + 1] = x[ky * 3 + 2] = _mm256_setzero_ps();
                    continue;
                }
                const float *r = in + (size_t)iy * IW;
                __m256 lo, hi;
                if (c0 + 16 <= IW) {
                    lo = _mm256_loadu_ps(r + c0);
                    hi = _mm256_loadu_ps(r + c0 + 8);
                } else { /* the row's end: zeros past it */
                    float t[16] = {0};
                    memcpy(t, r + c0, (size_t)(IW - c0) * sizeof(float));
                    lo = _mm256_loadu_ps(t);
                    hi = _mm256_loadu_ps(t + 8);
                }
                /* shuffle_ps keeps 128-bit lanes apart: [l0 l2 h0 h2 | l4 l6 h4 h6], then 64-bit order 0 2 1 3 */
                __m256 e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xd8));
                __m256 o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xdd)), 0xd8));
                float before = c0 > 0 ? r[c0 - 1] : 0.0f;
                x[ky * 3] = _mm256_blend_ps(_mm256_permutevar8x32_ps(o, right1), _mm256_set1_ps(before), 0x01);
                x[ky * 3 + 1] = e;
                x[ky * 3 + 2] = o;
            }
            const int np = W - ox < 8 ? W - ox : 8;
            for (int g = 0; g < N; g += 8) {
                const float *w = op->wt + (size_t)(g / GRIN__NR) * 9 * GRIN__NR + g % GRIN__NR; /* [t][16] panels */
                __m256 a[8];
                for (int c = 0; c < 8; c++)
                    a[c] = _mm256_set1_ps(op->bias[g + c]);
                for (int t = 0; t < 9; t++)
                    for (int c = 0; c < 8; c++)
                        a[c] = _mm256_fmadd_ps(x[t], _mm256_set1_ps(w[(size_t)t * GRIN__NR + c]), a[c]);
                for (int c = 0; c < 8; c++)
                    a[c] = act8(a[c], op->act);
                /* a[c] lane p = channel c of pixel p  ->  pixel p's eight channels */
                __m256 t0 = _mm256_unpacklo_ps(a[0], a[1]), t1 = _mm256_unpackhi_ps(a[0], a[1]);
                __m256 t2 = _mm256_unpacklo_ps(a[2], a[3]), t3 = _mm256_unpackhi_ps(a[2], a[3]);
                __m256 t4 = _mm256_unpacklo_ps(a[4], a[5]), t5 = _mm256_unpackhi_ps(a[4], a[5]);
                __m256 t6 = _mm256_unpacklo_ps(a[6], a[7]), t7 = _mm256_unpackhi_ps(a[6], a[7]);
                /* q[k] lane l: channels 0-3 of pixel 4l + k; r[k]: channels 4-7 */
                __m256 q[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xee),
                               _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xee)};
                __m256 rr[4] = {_mm256_shuffle_ps(t4, t6, 0x44), _mm256_shuffle_ps(t4, t6, 0xee),
                                _mm256_shuffle_ps(t5, t7, 0x44), _mm256_shuffle_ps(t5, t7, 0xee)};
                float *o = out + ((size_t)oy * W + ox) * N + g;
                for (int k = 0; k < 4; k++) {
                    if (k < np)
                        _mm256_storeu_ps(o + (size_t)k * N, _mm256_permute2f128_ps(q[k], rr[k], 0x20));
                    if (k + 4 < np)
                        _mm256_storeu_ps(o + (size_t)(k + 4) * N, _mm256_permute2f128_ps(q[k], rr[k], 0x31));
                }
            }
        }
}

TARGET static void conv_avx2(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    if (grin__conv3s2_grey_shape(op)) {
        conv3s2_grey_avx2(op, in, out, y0, y1);
        return;
    }
    const int K = op->k * op->k * op->ic, IC = op->ic, N = op->c, k = op->k, S = op->stride;
    for (int j = 0; j < N; j += GRIN__NR) {
        const float *w = op->wt + (size_t)(j / GRIN__NR) * K * GRIN__NR;
        int nr = N - j < GRIN__NR ? N - j : GRIN__NR;
        __m256 bl = _mm256_loadu_ps(op->bias + j), bh = _mm256_loadu_ps(op->bias + j + 8);
        for (int oy = y0; oy < y1; oy++) {
            int iy0 = oy * S - op->pad;
            bool rows_in = iy0 >= 0 && iy0 + k <= op->ih;
            for (int ox = 0; ox < op->w;) {
                int ix0 = ox * S - op->pad;
                float *o = out + ((size_t)oy * op->w + ox) * N + j;
                if (rows_in && ox + 4 <= op->w && ix0 >= 0 && ix0 + 3 * S + k <= op->iw) {
                    conv_block4(op, in, w, bl, bh, iy0, ix0, o, nr);
                    ox += 4;
                    continue;
                }
                __m256 a0 = bl, a1 = bh;
                for (int ky = 0; ky < k; ky++) {
                    int iy = iy0 + ky;
                    if (iy < 0 || iy >= op->ih)
                        continue;
                    for (int kx = 0; kx < k; kx++) {
                        int ix = ix0 + kx;
                        if (ix < 0 || ix >= op->iw)
                            continue;
                        const float *p = in + ((size_t)iy * op->iw + (size_t)ix) * IC;
                        const float *wk = w + (size_t)((ky * k + kx) * IC) * GRIN__NR;
                        for (int ci = 0; ci < IC; ci++) {
                            __m256 v = _mm256_broadcast_ss(p + ci);
                            a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(wk + (size_t)ci * GRIN__NR), a0);
                            a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(wk + (size_t)ci * GRIN__NR + 8), a1);
                        }
                    }
                }
                store_nr(o, a0, a1, nr, op->act);
                ox++;
            }
        }
    }
}

const grin__kernels grin__kernels_avx2 = {gemm_avx2, dw_avx2, conv_avx2};

/* ---- 8 bits without VNNI */

/* four u8 in every 32-bit lane */
TARGET static inline __m256i bcast4_avx2(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* the sums of four u8 x s8 products per 32-bit lane: vpmaddubsw adds products in pairs into
 * saturating 16-bit lanes, vpmaddwd by ones the pairs into 32 bits. Exact when every weight lies
 * in [-63, 63] (255 x 63 x 2 < 32767), which is how a plan without VNNI packs them. */
TARGET static inline __m256i dot4_avx2(__m256i acc, __m256i a, __m256i w, __m256i ones)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, w), ones));
}

/* one row's 16 columns (nr valid): act(sum x dq + bias) */
TARGET static inline void dq_store_avx2(float *c, __m256i s0, __m256i s1, const float *dq, const float *bias, int nr,
                                        int act)
{
    __m256 v0 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(s0), _mm256_loadu_ps(dq)), _mm256_loadu_ps(bias));
    __m256 v1 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(s1), _mm256_loadu_ps(dq + 8)), _mm256_loadu_ps(bias + 8));
    store_nr(c, v0, v1, nr, act);
}

/* C = act(A (M x K4 u8) x Wq (int8, [panel][K4 / 4][16][4]) x dq + bias): four rows by one
 * 16-column panel at a time, eight 32-bit accumulators. dq and bias are padded to whole panels,
 * as the plan lays them out. */
TARGET void grin__gemm_u8_avx2(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                               const float *bias, int act, float *C, int ldc)
{
    const int kq = K4 / 4;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int j = 0; j < N; j += GRIN__NR) {
        const int8_t *w = Wq + (size_t)(j / GRIN__NR) * K4 * GRIN__NR;
        const int nr = N - j < GRIN__NR ? N - j : GRIN__NR;
        for (int i = 0; i < M; i += 4) {
            const int mr = M - i < 4 ? M - i : 4;
            const uint8_t *a[4];
            for (int r = 0; r < 4; r++)
                a[r] = A + (size_t)(i + (r < mr ? r : 0)) * K4;
            __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;
            __m256i c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int q = 0; q < kq; q++) {
                __m256i x0 = _mm256_loadu_si256((const __m256i *)(w + (size_t)q * 64));
                __m256i x1 = _mm256_loadu_si256((const __m256i *)(w + (size_t)q * 64 + 32));
                __m256i v = bcast4_avx2(a[0] + 4 * q);
                c00 = dot4_avx2(c00, v, x0, ones);
                c01 = dot4_avx2(c01, v, x1, ones);
                v = bcast4_avx2(a[1] + 4 * q);
                c10 = dot4_avx2(c10, v, x0, ones);
                c11 = dot4_avx2(c11, v, x1, ones);
                v = bcast4_avx2(a[2] + 4 * q);
                c20 = dot4_avx2(c20, v, x0, ones);
                c21 = dot4_avx2(c21, v, x1, ones);
                v = bcast4_avx2(a[3] + 4 * q);
                c30 = dot4_avx2(c30, v, x0, ones);
                c31 = dot4_avx2(c31, v, x1, ones);
            }
            const __m256i r0[4] = {c00, c10, c20, c30}, r1[4] = {c01, c11, c21, c31};
            for (int r = 0; r < mr; r++)
                dq_store_avx2(C + (size_t)(i + r) * ldc + j, r0[r], r1[r], dq + j, bias + j, nr, act);
        }
    }
}

/* floats to u8 = round(v * inv), saturating, in place: byte i is written after float i is read,
 * and never over a float not yet read */
TARGET void grin__quantize_u8_avx2(float *x, size_t n, float inv, int zp)
{
    uint8_t *o = (uint8_t *)x;
    const __m256 s = _mm256_set1_ps(inv);
    const __m256i z = _mm256_set1_epi32(zp);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), s)), z);
        __m128i h = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i *)(o + i), _mm_packus_epi16(h, h));
    }
    for (; i < n; i++) {
        __m128i q = _mm_cvtps_epi32(_mm_set_ss(x[i] * inv));
        int v = _mm_cvtsi128_si32(q) + zp;
        o[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

#else

bool grin__kernels_avx2_usable(void)
{
    return false;
}
const grin__kernels grin__kernels_avx2 = {NULL, NULL, NULL};
void grin__gemm_u8_avx2(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                        const float *bias, int act, float *C, int ldc)
{
    (void)M, (void)N, (void)K4, (void)A, (void)Wq, (void)dq, (void)bias, (void)act, (void)C, (void)ldc;
}
void grin__quantize_u8_avx2(float *x, size_t n, float inv, int zp)
{
    (void)x, (void)n, (void)inv, (void)zp;
}

#endif
