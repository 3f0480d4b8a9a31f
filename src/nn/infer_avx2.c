/* infer_avx2.c — AVX2+FMA inference kernels: a 6x16 register-blocked GEMM microkernel on
 * packed weight panels with bias and activation applied as it stores, and depthwise
 * convolution vectorised over 8 channels. Held to the scalar kernels in infer.c by the tests. */
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
    if (nr == 16) {
        for (int i = 0; i < mr; i++) {
            _mm256_storeu_ps(C + (size_t)i * ldc, act8(r[2 * i], act));
            _mm256_storeu_ps(C + (size_t)i * ldc + 8, act8(r[2 * i + 1], act));
        }
    } else if (nr == 8) {
        for (int i = 0; i < mr; i++)
            _mm256_storeu_ps(C + (size_t)i * ldc, act8(r[2 * i], act));
    } else {
        float tmp[16];
        for (int i = 0; i < mr; i++) {
            _mm256_storeu_ps(tmp, act8(r[2 * i], act));
            _mm256_storeu_ps(tmp + 8, act8(r[2 * i + 1], act));
            memcpy(C + (size_t)i * ldc, tmp, (size_t)nr * sizeof(float));
        }
    }
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

TARGET static void dw_avx2(const grin__op *op, const float *in, float *out)
{
    const int C = op->c, k = op->k;
    if (C % 8) {
        grin__kernels_scalar.dw(op, in, out);
        return;
    }
    for (int oy = 0; oy < op->h; oy++) {
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

const grin__kernels grin__kernels_avx2 = {gemm_avx2, dw_avx2};

#else

bool grin__kernels_avx2_usable(void)
{
    return false;
}
const grin__kernels grin__kernels_avx2 = {NULL, NULL};

#endif
