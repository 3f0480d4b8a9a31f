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

#define INLINE __attribute__((always_inline)) inline

/* activation, then a float store or an 8-bit one (round(y / scale) + zp, saturated to 0..255) */
TARGET static INLINE void dw3_store(void *out, size_t idx, __m512 v, int act, const bool u8, __m512 inv, int zp,
                                    const bool full, __mmask16 m)
{
    v = act16(v, act);
    if (u8) {
        __m512i q32 = _mm512_cvtps_epi32(_mm512_mul_ps(v, inv));
        if (zp) /* signed: shifted, and what is still negative is 0 */
            q32 = _mm512_max_epi32(_mm512_add_epi32(q32, _mm512_set1_epi32(zp)), _mm512_setzero_si512());
        __m128i q = _mm512_cvtusepi32_epi8(q32);
        if (full)
            _mm_storeu_si128((__m128i *)((uint8_t *)out + idx), q);
        else
            _mm_storel_epi64((__m128i *)((uint8_t *)out + idx), q); /* 8 lanes */
    } else if (full) {
        _mm512_storeu_ps((float *)out + idx, v);
    } else {
        _mm512_mask_storeu_ps((float *)out + idx, m, v);
    }
}

/* 8 floats in both halves */
TARGET static INLINE __m512 twice8(const float *p)
{
    return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(_mm256_loadu_ps(p))));
}

/* 3x3 depthwise convolution, C % 8 == 0. A lane block ("unit") is 16 channels of one pixel or,
 * when C == 8 and the stride is 1, the 8 channels of two neighbouring pixels ("pairs": one load
 * covers pixels x and x+1, whose outputs share the weights). An output row goes in strips of
 * NU units, CB channel blocks side by side, NU x CB == 8 accumulators: enough independent
 * chains to keep both FMA pipes busy whether a row has 32 pixels or 2 (a layer takes the NU
 * that wastes fewest lanes). Each input column under a strip is loaded once per input row and
 * feeds every window that covers it; columns and rows outside the input are skipped (their
 * taps would add 0 x w), so the border needs no copy and no masks. */
#define DWS_ACC 8

/* output row oy, units u0..u0+NU-1 (those past the row's end are computed and dropped),
 * channel blocks c0.. (CB of them; with FULL every one has 16 channels, otherwise CB == 1 and
 * the block has the lanes m) */
TARGET static INLINE void dws_strip(const grin__op *op, const float *in, void *out, int oy, int u0, int c0,
                                    const __m512 *wk, const __m512 *bias, __mmask16 m, __m512 inv, const int S,
                                    const int PP, const int NU, const bool FULL, const bool u8)
{
    const int CB = DWS_ACC / NU, C = op->c, IW = op->iw, W = op->w;
    const int SP = PP == 2 ? 2 : S, NCOL = (NU - 1) * SP + 3; /* input pixels between units; columns */
    const int px0 = u0 * SP - op->pad;
    /* the columns whose pixels (both, with pairs) lie inside the row */
    const int jlo = px0 < 0 ? -px0 : 0, lim = IW - (PP == 2 ? 1 : 0) - px0, jhi = lim < NCOL ? lim : NCOL;
    /* named accumulators, not an array: an array this large stays in memory */
    __m512 a0 = bias[0 / NU], a1 = bias[1 / NU], a2 = bias[2 / NU], a3 = bias[3 / NU], a4 = bias[4 / NU],
           a5 = bias[5 / NU], a6 = bias[6 / NU], a7 = bias[7 / NU];
#pragma GCC unroll 3
    for (int ky = 0; ky < 3; ky++) {
        int iy = oy * S - op->pad + ky;
        if (iy < 0 || iy >= op->ih)
            continue;
        const float *row = in + (size_t)iy * IW * C + c0;
        const __m512 *w = wk + ky * 3;
#pragma GCC unroll 17
        for (int j = 0; j < NCOL; j++) {
            const int px = px0 + j;
            __m512 v0, v1 = _mm512_setzero_ps(), v2 = v1, v3 = v1; /* a column, CB blocks */
            if (j >= jlo && j < jhi) {
                const float *at = row + (size_t)px * C;
                v0 = FULL ? _mm512_loadu_ps(at) : _mm512_maskz_loadu_ps(m, at);
                if (CB > 1)
                    v1 = _mm512_loadu_ps(at + 16);
                if (CB > 2) {
                    v2 = _mm512_loadu_ps(at + 32);
                    v3 = _mm512_loadu_ps(at + 48);
                }
            } else if (PP == 2 && px == -1) { /* pixel 0 in the upper half */
                v0 = _mm512_castpd_ps(
                    _mm512_insertf64x4(_mm512_setzero_pd(), _mm256_castps_pd(_mm256_loadu_ps(row)), 1));
            } else if (PP == 2 && px == IW - 1) { /* the row's last pixel in the lower half */
                v0 = _mm512_zextps256_ps512(_mm256_loadu_ps(row + (size_t)px * C));
            } else {
                continue;
            }
#define DWS_TAP(i, A)                                                                                    \
    do {                                                                                                 \
        const int b_ = (i) / NU, kx_ = j - ((i) % NU) * SP;                                              \
        if (kx_ >= 0 && kx_ < 3)                                                                         \
            A = _mm512_fmadd_ps(b_ == 0 ? v0 : b_ == 1 ? v1 : b_ == 2 ? v2 : v3, w[b_ * 9 + kx_], A);     \
    } while (0)
            DWS_TAP(0, a0);
            DWS_TAP(1, a1);
            DWS_TAP(2, a2);
            DWS_TAP(3, a3);
            DWS_TAP(4, a4);
            DWS_TAP(5, a5);
            DWS_TAP(6, a6);
            DWS_TAP(7, a7);
#undef DWS_TAP
        }
    }
    const __m512 a[DWS_ACC] = {a0, a1, a2, a3, a4, a5, a6, a7};
    const int units = PP == 2 ? (W + 1) / 2 : W, nu = units - u0 < NU ? units - u0 : NU;
    for (int b = 0; b < CB; b++)
        for (int q = 0; q < nu; q++) {
            if (PP == 2) { /* the second pixel of a pair may lie past the row's end */
                int x = 2 * (u0 + q);
                dw3_store(out, ((size_t)oy * W + x) * 8, a[q], op->act, u8, inv, op->zp, x + 1 < W, lanes(8));
            } else {
                size_t idx = ((size_t)oy * W + u0 + q) * C + c0 + 16 * b;
                dw3_store(out, idx, a[b * NU + q], op->act, u8, inv, op->zp, FULL || m == 0xffff, m);
            }
        }
}

/* output rows y0..y1-1, specialised for the stride, pairs, the strip width, full blocks and
 * the 8-bit store */
TARGET static INLINE void dws_layer(const grin__op *op, const float *in, void *out, int y0, int y1, const int S,
                                    const int PP, const int NU, const bool FULL, const bool u8)
{
    const int CB = DWS_ACC / NU, C = op->c;
    const int units = PP == 2 ? (op->w + 1) / 2 : op->w;
    const __m512 inv = _mm512_set1_ps(u8 ? 1.0f / op->out_scale : 1.0f);
    for (int c0 = 0; c0 < (PP == 2 ? 1 : C); c0 += 16 * CB) {
        const __mmask16 m = PP == 2 ? (__mmask16)0xffff : lanes(C - c0);
        __m512 wk[DWS_ACC * 9], bias[DWS_ACC];
        for (int b = 0; b < CB; b++) {
            for (int t = 0; t < 9; t++)
                wk[b * 9 + t] = PP == 2 ? twice8(op->wt + (size_t)t * 8)
                                        : _mm512_maskz_loadu_ps(m, op->wt + (size_t)t * C + c0 + 16 * b);
            bias[b] = PP == 2 ? twice8(op->bias) : _mm512_maskz_loadu_ps(m, op->bias + c0 + 16 * b);
        }
        for (int oy = y0; oy < y1; oy++)
            for (int u0 = 0; u0 < units; u0 += NU)
                dws_strip(op, in, out, oy, u0, c0, wk, bias, m, inv, S, PP, NU, FULL, u8);
    }
}

/* the strip width for 16-channel blocks; 8 with pairs or when C % 16 != 0 (one masked block) */
static int dws_units(const grin__op *op, bool pairs)
{
    return pairs || op->c % 16 ? DWS_ACC : grin__dw_strip_units(op->w, op->c / 16, DWS_ACC);
}

/* stride 1 or 2 */
TARGET static void dw3_avx512(const grin__op *op, const float *in, void *out, int y0, int y1, bool u8)
{
    const bool pairs = op->stride == 1 && op->c == 8, full = op->c % 16 == 0;
    const int nu = dws_units(op, pairs);
#define DWS(S, PP, NU, F) \
    (u8 ? dws_layer(op, in, out, y0, y1, S, PP, NU, F, true) : dws_layer(op, in, out, y0, y1, S, PP, NU, F, false))
    if (pairs)
        DWS(1, 2, 8, true);
    else if (!full)
        op->stride == 1 ? DWS(1, 1, 8, false) : DWS(2, 1, 8, false);
    else if (op->stride == 1)
        nu == 8 ? DWS(1, 1, 8, true) : nu == 4 ? DWS(1, 1, 4, true) : DWS(1, 1, 2, true);
    else
        nu == 8 ? DWS(2, 1, 8, true) : nu == 4 ? DWS(2, 1, 4, true) : DWS(2, 1, 2, true);
#undef DWS
}

static void dw_avx512(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    if (grin__dw3_avx512_shape(op))
        dw3_avx512(op, in, out, y0, y1, false);
    else
        grin__kernels_avx2.dw(op, in, out, y0, y1);
}

/* the first layer of a grey model: 3x3, one input channel, at most 16 outputs; the nine weight
 * vectors stay in registers and four output pixels go at a time */
TARGET static void conv3_grey(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    const int N = op->c, S = op->stride;
    const __mmask16 m = lanes(N);
    __m512 w[9];
    for (int t = 0; t < 9; t++)
        w[t] = _mm512_maskz_loadu_ps(m, op->wt + (size_t)t * GRIN__NR);
    const __m512 b = _mm512_maskz_loadu_ps(m, op->bias);
    for (int oy = y0; oy < y1; oy++) {
        int iy0 = oy * S - op->pad;
        bool rows_in = iy0 >= 0 && iy0 + 3 <= op->ih;
        for (int ox = 0; ox < op->w;) {
            int ix0 = ox * S - op->pad;
            float *o = out + ((size_t)oy * op->w + ox) * N;
            if (rows_in && ox + 4 <= op->w && ix0 >= 0 && ix0 + 3 * S + 3 <= op->iw) {
                __m512 acc[4] = {b, b, b, b};
                for (int ky = 0; ky < 3; ky++) {
                    const float *r = in + (size_t)(iy0 + ky) * op->iw + ix0;
                    for (int kx = 0; kx < 3; kx++)
                        for (int q = 0; q < 4; q++)
                            acc[q] = _mm512_fmadd_ps(_mm512_set1_ps(r[q * S + kx]), w[ky * 3 + kx], acc[q]);
                }
                for (int q = 0; q < 4; q++)
                    _mm512_mask_storeu_ps(o + (size_t)q * N, m, act16(acc[q], op->act));
                ox += 4;
                continue;
            }
            __m512 a = b;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    int iy = iy0 + ky, ix = ix0 + kx;
                    if (iy >= 0 && iy < op->ih && ix >= 0 && ix < op->iw)
                        a = _mm512_fmadd_ps(_mm512_set1_ps(in[(size_t)iy * op->iw + ix]), w[ky * 3 + kx], a);
                }
            _mm512_mask_storeu_ps(o, m, act16(a, op->act));
            ox++;
        }
    }
}

/* a convolution straight from the input (first layer: few input channels), 32 output channels
 * (two weight panels) and 4 neighbouring output pixels at a time where they lie inside */
/* The first layer of a grey model when it is 3x3, stride 2, padding 1, N % 8 == 0: sixteen
 * output pixels a vector, one vector per output channel, so that no lane is idle whatever N
 * is (the pixel-major kernel above fills only N of 16 lanes). A row's even and odd input
 * columns are split once by two permutes (taps kx = 1 and 2 read them; kx = 0 reads the odd
 * ones shifted by one pixel); each weight is a broadcast operand of its FMA. The eight channel
 * vectors of a group are then transposed to eight channels a pixel (24 shuffles per 128
 * outputs) and stored pixel by pixel. */
/* column c of a row, or 0 outside it */
static inline float col_or0(const float *r, int c, int n) { return c >= 0 && c < n ? r[c] : 0.0f; }

TARGET static void conv3s2_grey(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    const int N = op->c, IW = op->iw, W = op->w;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    /* the transpose's last step: [q lane l, r lane l, q lane l+1, r lane l+1] for l = 0 and 2 */
    const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < W; ox += 16) {
            __m512 x[9]; /* tap (ky, kx): 16 inputs, one per output pixel */
            for (int ky = 0; ky < 3; ky++) {
                int iy = oy * 2 - 1 + ky, c0 = ox * 2;
                if (iy < 0 || iy >= op->ih) {
                    x[ky * 3] = x[ky * 3 + 1] = x[ky * 3 + 2] = _mm512_setzero_ps();
                    continue;
                }
                const float *r = in + (size_t)iy * IW;
                __mmask16 m0 = lanes(IW - c0), m1 = lanes(IW - c0 - 16 > 0 ? IW - c0 - 16 : 0);
                __m512 a = _mm512_maskz_loadu_ps(m0, r + c0), b = _mm512_maskz_loadu_ps(m1, m1 ? r + c0 + 16 : r);
                __m512 e = _mm512_permutex2var_ps(a, even, b), o = _mm512_permutex2var_ps(a, odd, b);
                __m512 before = _mm512_set1_ps(col_or0(r, c0 - 1, IW));
                x[ky * 3] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(o), _mm512_castps_si512(before), 15));
                x[ky * 3 + 1] = e;
                x[ky * 3 + 2] = o;
            }
            const int np = W - ox < 16 ? W - ox : 16;
            for (int g = 0; g < N; g += 8) {
                const float *w = op->wt + (size_t)(g / GRIN__NR) * 9 * GRIN__NR + g % GRIN__NR; /* [t][16] panels */
                __m512 a[8];
                for (int c = 0; c < 8; c++)
                    a[c] = _mm512_set1_ps(op->bias[g + c]);
                for (int t = 0; t < 9; t++)
                    for (int c = 0; c < 8; c++)
                        a[c] = _mm512_fmadd_ps(x[t], _mm512_set1_ps(w[(size_t)t * GRIN__NR + c]), a[c]);
                for (int c = 0; c < 8; c++)
                    a[c] = act16(a[c], op->act);
                /* a[c] lane p = channel c of pixel p  ->  pixel p's eight channels */
                __m512 t0 = _mm512_unpacklo_ps(a[0], a[1]), t1 = _mm512_unpackhi_ps(a[0], a[1]);
                __m512 t2 = _mm512_unpacklo_ps(a[2], a[3]), t3 = _mm512_unpackhi_ps(a[2], a[3]);
                __m512 t4 = _mm512_unpacklo_ps(a[4], a[5]), t5 = _mm512_unpackhi_ps(a[4], a[5]);
                __m512 t6 = _mm512_unpacklo_ps(a[6], a[7]), t7 = _mm512_unpackhi_ps(a[6], a[7]);
                __m512 q[4] = {_mm512_shuffle_ps(t0, t2, 0x44), _mm512_shuffle_ps(t0, t2, 0xee),
                               _mm512_shuffle_ps(t1, t3, 0x44), _mm512_shuffle_ps(t1, t3, 0xee)};
                __m512 r[4] = {_mm512_shuffle_ps(t4, t6, 0x44), _mm512_shuffle_ps(t4, t6, 0xee),
                               _mm512_shuffle_ps(t5, t7, 0x44), _mm512_shuffle_ps(t5, t7, 0xee)};
                /* q[k] lane l: channels 0-3 of pixel 4l + k; r[k]: channels 4-7 */
                float *o = out + ((size_t)oy * W + ox) * N + g;
                for (int k = 0; k < 4; k++) {
                    __m512 u[2] = {_mm512_permutex2var_ps(q[k], lo, r[k]), _mm512_permutex2var_ps(q[k], hi, r[k])};
                    for (int h = 0; h < 4; h++) { /* pixels k, 4 + k, 8 + k, 12 + k */
                        int p = 4 * h + k;
                        if (p >= np)
                            continue;
                        __m256 v = h & 1 ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u[h / 2]), 1))
                                         : _mm512_castps512_ps256(u[h / 2]);
                        _mm256_storeu_ps(o + (size_t)p * N, v);
                    }
                }
            }
        }
}

TARGET static void conv_avx512(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    if (grin__conv3s2_grey_shape(op)) {
        conv3s2_grey(op, in, out, y0, y1);
        return;
    }
    if (op->k == 3 && op->ic == 1 && op->c <= 16) {
        conv3_grey(op, in, out, y0, y1);
        return;
    }
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
                        if (nr > 16) {
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
                        } else { /* one panel: half the work */
                            for (int t = 0; t < k * IC; t++) {
                                __m512 x0 = _mm512_loadu_ps(w0 + wo + (size_t)t * GRIN__NR);
                                a00 = _mm512_fmadd_ps(_mm512_set1_ps(row[t]), x0, a00);
                                a10 = _mm512_fmadd_ps(_mm512_set1_ps(row[ps + t]), x0, a10);
                                a20 = _mm512_fmadd_ps(_mm512_set1_ps(row[2 * ps + t]), x0, a20);
                                a30 = _mm512_fmadd_ps(_mm512_set1_ps(row[3 * ps + t]), x0, a30);
                            }
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

/* ---- 8-bit: u8 activations x s8 weights with VPDPBUSD (4 products per lane per instruction) */

#define TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma")))

bool grin__int8_vnni_usable(void)
{
    unsigned need = GRIN__CPU_AVX512F | GRIN__CPU_AVX512BW | GRIN__CPU_AVX512VNNI;
    return (grin__cpu_enabled() & need) == need;
}

TARGET_VNNI static inline __m512i bcast4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* dequantise (sum x dq + bias, as the scalar kernel: no FMA), activate, store */
TARGET_VNNI static inline void dq_store(float *c, __m512i acc, const float *dq, const float *bias, __mmask16 m,
                                        int act)
{
    __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_maskz_loadu_ps(m, dq)),
                             _mm512_maskz_loadu_ps(m, bias));
    _mm512_mask_storeu_ps(c, m, act16(v, act));
}

TARGET_VNNI void grin__gemm_u8_vnni(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                                    const float *bias, int act, float *C, int ldc)
{
    const int kq = K4 / 4;
    for (int j = 0; j < N; j += 2 * GRIN__NR) {
        const int8_t *w0 = Wq + (size_t)(j / GRIN__NR) * K4 * GRIN__NR;
        const int8_t *w1 = N - j > GRIN__NR ? w0 + (size_t)K4 * GRIN__NR : w0;
        int nr = N - j < 2 * GRIN__NR ? N - j : 2 * GRIN__NR;
        __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16 > 0 ? nr - 16 : 0);
        for (int i = 0; i < M; i += GRIN__MR) {
            int mr = M - i < GRIN__MR ? M - i : GRIN__MR;
            const uint8_t *a[6];
            for (int r = 0; r < 6; r++)
                a[r] = A + (size_t)(i + (r < mr ? r : 0)) * K4;
            __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
            __m512i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
            for (int q = 0; q < kq; q++) {
                __m512i x0 = _mm512_loadu_si512(w0 + (size_t)q * 64), x1 = _mm512_loadu_si512(w1 + (size_t)q * 64);
                __m512i v = bcast4(a[0] + 4 * q);
                c00 = _mm512_dpbusd_epi32(c00, v, x0);
                c01 = _mm512_dpbusd_epi32(c01, v, x1);
                v = bcast4(a[1] + 4 * q);
                c10 = _mm512_dpbusd_epi32(c10, v, x0);
                c11 = _mm512_dpbusd_epi32(c11, v, x1);
                v = bcast4(a[2] + 4 * q);
                c20 = _mm512_dpbusd_epi32(c20, v, x0);
                c21 = _mm512_dpbusd_epi32(c21, v, x1);
                v = bcast4(a[3] + 4 * q);
                c30 = _mm512_dpbusd_epi32(c30, v, x0);
                c31 = _mm512_dpbusd_epi32(c31, v, x1);
                v = bcast4(a[4] + 4 * q);
                c40 = _mm512_dpbusd_epi32(c40, v, x0);
                c41 = _mm512_dpbusd_epi32(c41, v, x1);
                v = bcast4(a[5] + 4 * q);
                c50 = _mm512_dpbusd_epi32(c50, v, x0);
                c51 = _mm512_dpbusd_epi32(c51, v, x1);
            }
            __m512i r0[6] = {c00, c10, c20, c30, c40, c50}, r1[6] = {c01, c11, c21, c31, c41, c51};
            for (int r = 0; r < mr; r++) {
                float *c = C + (size_t)(i + r) * ldc + j;
                dq_store(c, r0[r], dq + j, bias + j, m0, act);
                if (nr > 16)
                    dq_store(c + 16, r1[r], dq + j + 16, bias + j + 16, m1, act);
            }
        }
    }
}

/* 3x3 depthwise, C % 8 == 0, stride 1 or 2, stored as u8 = round(y / out_scale) */
void grin__dw_u8_avx512(const grin__op *op, const float *in, uint8_t *out, int y0, int y1)
{
    dw3_avx512(op, in, out, y0, y1, true);
}

#else

bool grin__kernels_avx512_usable(void)
{
    return false;
}
const grin__kernels grin__kernels_avx512 = {NULL, NULL, NULL};
bool grin__int8_vnni_usable(void)
{
    return false;
}
void grin__gemm_u8_vnni(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                        const float *bias, int act, float *C, int ldc)
{
    (void)M, (void)N, (void)K4, (void)A, (void)Wq, (void)dq, (void)bias, (void)act, (void)C, (void)ldc;
}
void grin__dw_u8_avx512(const grin__op *op, const float *in, uint8_t *out, int y0, int y1)
{
    (void)op, (void)in, (void)out, (void)y0, (void)y1;
}

#endif
