/* gemm_blas.c — part of grin's training library: OpenBLAS's sgemm as the training engine's GEMM,
 * installed when the library loads (a program that links it trains at OpenBLAS's speed; the core
 * library alone keeps its built-in loops). */
#include "nn.h"

#include <cblas.h>

static void blas_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                lda, B, ldb, beta, C, ldc);
}

__attribute__((constructor)) static void install_blas(void)
{
    grin__gemm_blas = blas_sgemm;
}

/* referenced by train.c so that a static link takes this file with the trainer */
void grin__gemm_blas_link(void)
{
    grin__gemm_blas = blas_sgemm;
}
