/* gemm.c — the GEMM behind the training engine's convolutions and dense layers. The core library
 * has its own (row-blocked loops the compiler vectorises; enough for the forward passes that run
 * outside the inference plan); grin's training library, when linked, installs OpenBLAS's sgemm
 * (gemm_blas.c). The plain double-accumulating loop is the reference the tests compare with. */
#include "nn.h"

#include <stdlib.h>

bool grin__nn_force_reference = false;
grin__gemm_fn grin__gemm_blas = NULL;

static void gemm_ref(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                     (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : beta * *c));
        }
}

/* C row i += alpha A(i, k) B(k, :) over k: the inner loop runs along a row of B and of C */
static void gemm_builtin(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc)
{
    float *bt = NULL;
    if (tb) { /* B transposed once into K x N rows */
        bt = malloc((size_t)K * N * sizeof *bt);
        if (!bt) {
            gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            return;
        }
        for (int j = 0; j < N; j++)
            for (int k = 0; k < K; k++)
                bt[(size_t)k * N + j] = B[(size_t)j * ldb + k];
        B = bt;
        ldb = N;
    }
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++)
            c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        for (int k = 0; k < K; k++) {
            float a = alpha * (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
            const float *b = B + (size_t)k * ldb;
            for (int j = 0; j < N; j++)
                c[j] += a * b[j];
        }
    }
    free(bt);
}

void grin__gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (grin__nn_force_reference || K <= 0)
        gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else if (grin__gemm_blas)
        grin__gemm_blas(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        gemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
