/* infer_avx512.c — AVX-512 inference kernels: the GEMM microkernel 6 rows x 32 columns (two
 * weight panels, 12 zmm accumulators) with masked tails, and depthwise convolution over 16
 * channels. On cores with full-width 512-bit FMA units (Zen 5) this doubles the AVX2 kernels'
 * throughput; on double-pumped ones (Zen 4) it matches them. Held to the scalar kernels by the
 * tests. */
#include "infer.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx2,fma")))

bool grin__kernels_avx512_usable(void)
{
    unsigned need = GRIN__CPU_AVX512F | GRIN__CPU_AVX2 | GRIN__CPU_FMA;
    return (grin__cpu_enabled() & need) == need;
}

TARGET static inline __m512 act16(__m512 v, int act)
{
    if (act != GRIN__ACT_NONE) {
        v = _mm512_max_ps(v, _mm512_setzero_ps());
        if (act == GRIN__ACT_RELU6)
            v = _mm512_min_ps(v, _mm512_set1_ps(6.0f));
    }
    return v;
}

static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

/* rows of A (mr <= 6; missing rows repeat row 0) times one or two 16-column panels */
TARGET static void tile_6x32(int K, const float *A, int lda, int mr, const float *w0, const float *w1,
                             const float *bias, int act, float *C, int ldc, int nr)
{
    const float *a[6];
    for (int i = 0; i < 6; i++)
        a[i] = A + (i < mr ? (size_t)i * lda : 0);
    __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16 > 0 ? nr - 16 : 0);
    __m512 b0 = _mm512_maskz_loadu_ps(m0, bias), b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    __m512 c00 = b0, c10 = b0, c20 = b0, c30 = b0, c40 = b0, c50 = b0;
    if (w1) {
        __m512 c01 = b1, c11 = b1, c21 = b1, c31 = b1, c41 = b1, c51 = b1;
        for (int k = 0; k < K; k++) {
            __m512 x0 = _mm512_loadu_ps(w0 + (size_t)k * 16), x1 = _mm512_loadu_ps(w1 + (size_t)k * 16);
            __m512 v = _mm512_set1_ps(a[0][k]);
            c00 = _mm512_fmadd_ps(v, x0, c00);
            c01 = _mm512_fmadd_ps(v, x1, c01);
            v = _mm512_set1_ps(a[1][k]);
            c10 = _mm512_fmadd_ps(v, x0, c10);
            c11 = _mm512_fmadd_ps(v, x1, c11);
            v = _mm512_set1_ps(a[2][k]);
            c20 = _mm512_fmadd_ps(v, x0, c20);
            c21 = _mm512_fmadd_ps(v, x1, c21);
            v = _mm512_set1_ps(a[3][k]);
            c30 = _mm512_fmadd_ps(v, x0, c30);
            c31 = _mm512_fmadd_ps(v, x1, c31);
            v = _mm512_set1_ps(a[4][k]);
            c40 = _mm512_fmadd_ps(v, x0, c40);
            c41 = _mm512_fmadd_ps(v, x1, c41);
            v = _mm512_set1_ps(a[5][k]);
            c50 = _mm512_fmadd_ps(v, x0, c50);
            c51 = _mm512_fmadd_ps(v, x1, c51);
        }
        __m512 r1[6] = {c01, c11, c21, c31, c41, c51};
        for (int i = 0; i < mr; i++)
            _mm512_mask_storeu_ps(C + (size_t)i * ldc + 16, m1, act16(r1[i], act));
    } else {
        for (int k = 0; k < K; k++) {
            __m512 x0 = _mm512_loadu_ps(w0 + (size_t)k * 16);
            c00 = _mm512_fmadd_ps(_mm512_set1_ps(a[0][k]), x0, c00);
            c10 = _mm512_fmadd_ps(_mm512_set1_ps(a[1][k]), x0, c10);
            c20 = _mm512_fmadd_ps(_mm512_set1_ps(a[2][k]), x0, c20);
            c30 = _mm512_fmadd_ps(_mm512_set1_ps(a[3][k]), x0, c30);
            c40 = _mm512_fmadd_ps(_mm512_set1_ps(a[4][k]), x0, c40);
            c50 = _mm512_fmadd_ps(_mm512_set1_ps(a[5][k]), x0, c50);
        }
    }
    __m512 r0[6] = {c00, c10, c20, c30, c40, c50};
    for (int i = 0; i < mr; i++)
        _mm512_mask_storeu_ps(C + (size_t)i * ldc, m0, act16(r0[i], act));
}

/* Rows in blocks whose slice of A stays in L2 while every column panel passes over it (the
 * weights, K x N, stay in L2 across blocks). */
TARGET static void gemm_avx512(int M, int N, int K, const float *A, int lda, const float *Wp,
                               const float *bias, int act, float *C, int ldc)
{
    int mb = (int)(65536 / (K > 0 ? K : 1)) / GRIN__MR * GRIN__MR; /* ~256 KB of A */
    if (mb < GRIN__MR)
        mb = GRIN__MR;
    for (int i0 = 0; i0 < M; i0 += mb) {
        int i1 = i0 + mb < M ? i0 + mb : M;
        for (int j = 0; j < N; j += 2 * GRIN__NR) {
            const float *w0 = Wp + (size_t)(j / GRIN__NR) * K * GRIN__NR;
            const float *w1 = N - j > GRIN__NR ? w0 + (size_t)K * GRIN__NR : NULL;
            int nr = N - j < 2 * GRIN__NR ? N - j : 2 * GRIN__NR;
            for (int i = i0; i < i1; i += GRIN__MR) {
                int mr = i1 - i < GRIN__MR ? i1 - i : GRIN__MR;
                tile_6x32(K, A + (size_t)i * lda, lda, mr, w0, w1, bias + j, act, C + (size_t)i * ldc + j, ldc, nr);
            }
        }
    }
}

/* 3x3 depthwise over 16 channels at a time, weights in registers */
TARGET static void dw3_avx512(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    const int C = op->c, S = op->stride, IW = op->iw, IH = op->ih;
    const size_t rs = (size_t)IW * C;
    /* row by row, channel blocks inside: the three input rows stay in cache across blocks */
    for (int oy = y0; oy < y1; oy++) {
        for (int c = 0; c < C; c += 16) {
            __m512 wk[9];
            for (int t = 0; t < 9; t++)
                wk[t] = _mm512_loadu_ps(op->wt + (size_t)t * C + c);
            __m512 bias = _mm512_loadu_ps(op->bias + c);
            int iy0 = oy * S - op->pad;
            float *o = out + (size_t)oy * op->w * C + c;
            bool rows_in = iy0 >= 0 && iy0 + 3 <= IH;
            int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = IH - iy0 < 3 ? IH - iy0 : 3;
            for (int ox = 0; ox < op->w; ox++, o += C) {
                int ix0 = ox * S - op->pad;
                __m512 acc = bias;
                if (rows_in && ix0 >= 0 && ix0 + 3 <= IW) {
                    const float *p = in + (size_t)iy0 * rs + (size_t)ix0 * C + c;
                    __m512 acc2 = _mm512_mul_ps(_mm512_loadu_ps(p + rs), wk[3]);
                    acc = _mm512_fmadd_ps(_mm512_loadu_ps(p), wk[0], acc);
                    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(p + rs + C), wk[4], acc2);
                    acc = _mm512_fmadd_ps(_mm512_loadu_ps(p + C), wk[1], acc);
                    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(p + rs + 2 * C), wk[5], acc2);
                    acc = _mm512_fmadd_ps(_mm512_loadu_ps(p + 2 * C), wk[2], acc);
                    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 2 * rs), wk[6], acc2);
                    acc = _mm512_fmadd_ps(_mm512_loadu_ps(p + 2 * rs + C), wk[7], acc);
                    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 2 * rs + 2 * C), wk[8], acc2);
                    acc = _mm512_add_ps(acc, acc2);
                } else {
                    int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = IW - ix0 < 3 ? IW - ix0 : 3;
                    for (int ky = ky0; ky < ky1; ky++) {
                        const float *p = in + (size_t)(iy0 + ky) * rs + (size_t)(ix0 + kx0) * C + c;
                        for (int kx = kx0; kx < kx1; kx++, p += C)
                            acc = _mm512_fmadd_ps(_mm512_loadu_ps(p), wk[ky * 3 + kx], acc);
                    }
                }
                _mm512_storeu_ps(o, act16(acc, op->act));
            }
        }
    }
}

static void dw_avx512(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    if (op->k == 3 && op->c % 16 == 0)
        dw3_avx512(op, in, out, y0, y1);
    else
        grin__kernels_avx2.dw(op, in, out, y0, y1);
}

/* a convolution straight from the input (first layer: few input channels), 32 output channels
 * (two weight panels) and 4 neighbouring output pixels at a time where they lie inside */
TARGET static void conv_avx512(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    const int K = op->k * op->k * op->ic, IC = op->ic, N = op->c, k = op->k, S = op->stride;
    const size_t ps = (size_t)S * IC;
    for (int j = 0; j < N; j += 2 * GRIN__NR) {
        const float *w0 = op->wt + (size_t)(j / GRIN__NR) * K * GRIN__NR;
        const float *w1 = N - j > GRIN__NR ? w0 + (size_t)K * GRIN__NR : w0; /* unused lanes: masked */
        int nr = N - j < 2 * GRIN__NR ? N - j : 2 * GRIN__NR;
        __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16 > 0 ? nr - 16 : 0);
        __m512 b0 = _mm512_maskz_loadu_ps(m0, op->bias + j), b1 = _mm512_maskz_loadu_ps(m1, op->bias + j + 16);
        for (int oy = y0; oy < y1; oy++) {
            int iy0 = oy * S - op->pad;
            bool rows_in = iy0 >= 0 && iy0 + k <= op->ih;
            for (int ox = 0; ox < op->w;) {
                int ix0 = ox * S - op->pad;
                float *o = out + ((size_t)oy * op->w + ox) * N + j;
                if (rows_in && ox + 4 <= op->w && ix0 >= 0 && ix0 + 3 * S + k <= op->iw) {
                    __m512 a00 = b0, a10 = b0, a20 = b0, a30 = b0, a01 = b1, a11 = b1, a21 = b1, a31 = b1;
                    for (int ky = 0; ky < k; ky++) {
                        const float *row = in + ((size_t)(iy0 + ky) * op->iw + (size_t)ix0) * IC;
                        size_t wo = (size_t)ky * k * IC * GRIN__NR;
                        for (int t = 0; t < k * IC; t++) {
                            __m512 x0 = _mm512_loadu_ps(w0 + wo + (size_t)t * GRIN__NR);
                            __m512 x1 = _mm512_loadu_ps(w1 + wo + (size_t)t * GRIN__NR);
                            __m512 v0 = _mm512_set1_ps(row[t]), v1 = _mm512_set1_ps(row[ps + t]);
                            __m512 v2 = _mm512_set1_ps(row[2 * ps + t]), v3 = _mm512_set1_ps(row[3 * ps + t]);
                            a00 = _mm512_fmadd_ps(v0, x0, a00);
                            a01 = _mm512_fmadd_ps(v0, x1, a01);
                            a10 = _mm512_fmadd_ps(v1, x0, a10);
                            a11 = _mm512_fmadd_ps(v1, x1, a11);
                            a20 = _mm512_fmadd_ps(v2, x0, a20);
                            a21 = _mm512_fmadd_ps(v2, x1, a21);
                            a30 = _mm512_fmadd_ps(v3, x0, a30);
                            a31 = _mm512_fmadd_ps(v3, x1, a31);
                        }
                    }
                    __m512 r0[4] = {a00, a10, a20, a30}, r1[4] = {a01, a11, a21, a31};
                    for (int q = 0; q < 4; q++) {
                        _mm512_mask_storeu_ps(o + (size_t)q * N, m0, act16(r0[q], op->act));
                        _mm512_mask_storeu_ps(o + (size_t)q * N + 16, m1, act16(r1[q], op->act));
                    }
                    ox += 4;
                    continue;
                }
                __m512 a0 = b0, a1 = b1;
                for (int ky = 0; ky < k; ky++) {
                    int iy = iy0 + ky;
                    if (iy < 0 || iy >= op->ih)
                        continue;
                    for (int kx = 0; kx < k; kx++) {
                        int ix = ix0 + kx;
                        if (ix < 0 || ix >= op->iw)
                            continue;
                        const float *p = in + ((size_t)iy * op->iw + (size_t)ix) * IC;
                        size_t wo = (size_t)((ky * k + kx) * IC) * GRIN__NR;
                        for (int ci = 0; ci < IC; ci++) {
                            __m512 v = _mm512_set1_ps(p[ci]);
                            a0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(w0 + wo + (size_t)ci * GRIN__NR), a0);
                            a1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(w1 + wo + (size_t)ci * GRIN__NR), a1);
                        }
                    }
                }
                _mm512_mask_storeu_ps(o, m0, act16(a0, op->act));
                _mm512_mask_storeu_ps(o + 16, m1, act16(a1, op->act));
                ox++;
            }
        }
    }
}

const grin__kernels grin__kernels_avx512 = {gemm_avx512, dw_avx512, conv_avx512};

#else

bool grin__kernels_avx512_usable(void)
{
    return false;
}
const grin__kernels grin__kernels_avx512 = {NULL, NULL, NULL};

#endif
