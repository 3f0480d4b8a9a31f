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

/* Four neighbouring output pixels of a 3x3 depthwise convolution, 16 channels: each input
 * column is loaded once and feeds every output pixel whose window covers it (stride 1: 18 loads
 * for 36 FMAs instead of 36). p points at the top-left input of the first window. */
TARGET static INLINE void dw3_quad(const float *p, size_t rs, size_t C, const int S, const bool full,
                                   __mmask16 m, const __m512 *wk, __m512 bias, __m512 *acc)
{
    acc[0] = acc[1] = acc[2] = acc[3] = bias;
    for (int ky = 0; ky < 3; ky++) {
        const float *r = p + (size_t)ky * rs;
        for (int j = 0; j < 3 * S + 3; j++) {
            __m512 v = full ? _mm512_loadu_ps(r + (size_t)j * C) : _mm512_maskz_loadu_ps(m, r + (size_t)j * C);
            for (int q = 0; q < 4; q++) {
                int kx = j - q * S;
                if (kx >= 0 && kx < 3)
                    acc[q] = _mm512_fmadd_ps(v, wk[ky * 3 + kx], acc[q]);
            }
        }
    }
}

/* one output pixel, only the taps inside the input */
TARGET static INLINE __m512 dw3_one(const float *in, size_t rs, size_t C, int iy0, int ix0, int IH, int IW,
                                    const bool full, __mmask16 m, const __m512 *wk, __m512 acc)
{
    int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = IH - iy0 < 3 ? IH - iy0 : 3;
    int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = IW - ix0 < 3 ? IW - ix0 : 3;
    for (int ky = ky0; ky < ky1; ky++) {
        const float *p = in + (size_t)(iy0 + ky) * rs + (size_t)(ix0 + kx0) * C;
        for (int kx = kx0; kx < kx1; kx++, p += C)
            acc = _mm512_fmadd_ps(full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p), wk[ky * 3 + kx], acc);
    }
    return acc;
}

/* Narrow layers (8x8, 4x4, 2x2 outputs), where most windows touch the border: 16 lanes at a
 * time, a lane block being 16 channels of one pixel, or, when C == 8 and the stride is 1,
 * 8 channels of two neighbouring pixels ("pairs": one load covers pixels x and x+1, whose outputs
 * share the weights). Output rows go in bands of DW_BH and columns in tiles of DW_TW; a tile
 * whose windows all lie inside the input is read where it is, any other is first copied into a
 * zero-padded block (taps outside the input then add 0 x w, which leaves a sum's bits unchanged).
 * A tile's outputs then go DW_N at a time, each its own chain of nine FMAs with the input as a
 * memory operand: enough independent chains to keep both FMA pipes busy however few pixels a
 * row has. (On wide layers the row kernel above wins: it loads each input once for up to three
 * windows.) */
#define DW_BH 8
#define DW_TW 8
#define DW_N 8 /* dw3_run names its accumulators */

/* acc[q] = bias + the window at p[q]; rs and ps: a row's and a pixel's stride in floats. The
 * empty asm after each tap pins the order tap by tap: left alone, the compiler sinks each
 * chain of nine FMAs to its store and the chains run one after another, at FMA latency. */
TARGET static INLINE void dw3_run(const float *const *p, size_t rs, size_t ps, const bool full, __mmask16 m,
                                  const __m512 *wk, __m512 bias, __m512 *acc)
{
    __m512 a0 = bias, a1 = bias, a2 = bias, a3 = bias, a4 = bias, a5 = bias, a6 = bias, a7 = bias;
#define DW_LD(q) (full ? _mm512_loadu_ps(p[q] + o) : _mm512_maskz_loadu_ps(m, p[q] + o))
#pragma GCC unroll 3
    for (int ky = 0; ky < 3; ky++)
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; kx++) {
            const size_t o = (size_t)ky * rs + (size_t)kx * ps;
            const __m512 w = wk[ky * 3 + kx];
            a0 = _mm512_fmadd_ps(DW_LD(0), w, a0);
            a1 = _mm512_fmadd_ps(DW_LD(1), w, a1);
            a2 = _mm512_fmadd_ps(DW_LD(2), w, a2);
            a3 = _mm512_fmadd_ps(DW_LD(3), w, a3);
            a4 = _mm512_fmadd_ps(DW_LD(4), w, a4);
            a5 = _mm512_fmadd_ps(DW_LD(5), w, a5);
            a6 = _mm512_fmadd_ps(DW_LD(6), w, a6);
            a7 = _mm512_fmadd_ps(DW_LD(7), w, a7);
            __asm__("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7));
        }
#undef DW_LD
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
}

/* activation, then a float store or an 8-bit one (round(y / scale), y >= 0, saturating) */
TARGET static INLINE void dw3_store(void *out, size_t idx, __m512 v, int act, const bool u8, __m512 inv,
                                    const bool full, __mmask16 m)
{
    v = act16(v, act);
    if (u8) {
        __m128i q = _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v, inv)));
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

/* the zero-padded copy of a tile: DW_SW pixels a row, whatever the tile's width, so that every
 * tap's offset is a constant */
#define DW_SW ((DW_TW - 1) * 2 + 3)

/* output rows oy0..oy1-1 (at most DW_BH), columns ox0..ox0+nw-1 (at most DW_TW), lane block c */
TARGET static INLINE void dw3_tile(const grin__op *op, const float *in, void *out, int oy0, int oy1, int ox0,
                                   int nw, int c, const int S, const int PP, const bool u8, float *stage)
{
    const int C = op->c, IW = op->iw, IH = op->ih, W = op->w;
    const int nu = (nw + PP - 1) / PP;          /* units (pixels, or pairs) per tile row */
    const int R = (oy1 - oy0 - 1) * S + 3, NC = PP == 2 ? nu * 2 + 2 : (nw - 1) * S + 3;
    const int iy0 = oy0 * S - op->pad, ix0 = ox0 * S - op->pad;
    const bool full = PP == 2 || C - c >= 16;
    const __mmask16 m = PP == 2 ? (__mmask16)0xffff : lanes(C - c);
    __m512 wk[9], bias;
    for (int t = 0; t < 9; t++)
        wk[t] = PP == 2 ? twice8(op->wt + (size_t)t * C) : _mm512_maskz_loadu_ps(m, op->wt + (size_t)t * C + c);
    bias = PP == 2 ? twice8(op->bias) : _mm512_maskz_loadu_ps(m, op->bias + c);
    const __m512 inv = _mm512_set1_ps(u8 ? 1.0f / op->out_scale : 1.0f);
    const size_t sps = PP == 2 ? 8 : 16, srs = DW_SW * sps; /* the copy: 16 floats a pixel, or 8 with pairs */
    const float *base = stage;
    size_t ps = sps, rs = srs;
    bool direct = iy0 >= 0 && iy0 + R <= IH && ix0 >= 0 && ix0 + NC <= IW;
    if (direct) {
        base = in + ((size_t)iy0 * IW + ix0) * C + (PP == 2 ? 0 : c);
        rs = (size_t)IW * C;
        ps = (size_t)C;
    } else {
        for (int r = 0; r < R; r++) {
            int iy = iy0 + r;
            float *d = stage + (size_t)r * rs;
            for (int j = 0; j < NC; j++, d += ps) {
                int ix = ix0 + j;
                bool inside = iy >= 0 && iy < IH && ix >= 0 && ix < IW;
                const float *s = in + ((size_t)iy * IW + ix) * C + c;
                if (PP == 2)
                    _mm256_storeu_ps(d, inside ? _mm256_loadu_ps(s) : _mm256_setzero_ps());
                else
                    _mm512_storeu_ps(d, inside ? _mm512_maskz_loadu_ps(m, s) : _mm512_setzero_ps());
            }
        }
    }
    const int total = (oy1 - oy0) * nu;
    int ty = 0, tx = 0; /* the next unit's place in the tile */
    for (int u0 = 0; u0 < total; u0 += DW_N) {
        const float *p[DW_N];
        size_t idx[DW_N];
        bool pair[DW_N]; /* both pixels of a pair inside the row */
        int n = total - u0 < DW_N ? total - u0 : DW_N;
        for (int q = 0; q < DW_N; q++) {
            if (q >= n) {
                p[q] = p[0];
                continue;
            }
            p[q] = base + (size_t)ty * S * rs + (size_t)tx * S * ps;
            idx[q] = ((size_t)(oy0 + ty) * W + ox0 + tx) * C + (PP == 2 ? 0 : c);
            pair[q] = ox0 + tx + 1 < W;
            tx += PP;
            if (tx >= nu * PP) {
                tx = 0;
                ty++;
            }
        }
        __m512 acc[DW_N];
        if (!direct) /* constant strides */
            dw3_run(p, srs, sps, true, m, wk, bias, acc);
        else if (full)
            dw3_run(p, rs, ps, true, m, wk, bias, acc);
        else
            dw3_run(p, rs, ps, false, m, wk, bias, acc);
        for (int q = 0; q < n; q++) {
            if (PP == 2) /* the second pixel of a pair may lie past the row's end */
                dw3_store(out, idx[q], acc[q], op->act, u8, inv, pair[q], lanes(8));
            else
                dw3_store(out, idx[q], acc[q], op->act, u8, inv, full, m);
        }
    }
}

/* 3x3 depthwise, C % 8 == 0, output rows y0..y1-1: row by row, 16-channel blocks inside (the
 * three input rows stay in cache), pixels in fours where the windows lie inside the input */
TARGET static INLINE void dw3_rows(const grin__op *op, const float *in, void *out, int y0, int y1, const int S,
                                   const bool u8, const bool full, int c)
{
    const int C = op->c, IW = op->iw, IH = op->ih;
    const size_t rs = (size_t)IW * C;
    __mmask16 m = lanes(C - c);
    __m512 wk[9];
    for (int t = 0; t < 9; t++)
        wk[t] = _mm512_maskz_loadu_ps(m, op->wt + (size_t)t * C + c);
    const __m512 bias = _mm512_maskz_loadu_ps(m, op->bias + c);
    const __m512 inv = _mm512_set1_ps(u8 ? 1.0f / op->out_scale : 1.0f);
    for (int oy = y0; oy < y1; oy++) {
        int iy0 = oy * S - op->pad;
        bool rows_in = iy0 >= 0 && iy0 + 3 <= IH;
        size_t orow = (size_t)oy * op->w;
        for (int ox = 0; ox < op->w;) {
            int ix0 = ox * S - op->pad;
            if (rows_in && ix0 >= 0 && ox + 4 <= op->w && ix0 + 3 * S + 3 <= IW) {
                __m512 acc[4];
                dw3_quad(in + (size_t)iy0 * rs + (size_t)ix0 * C + c, rs, (size_t)C, S, full, m, wk, bias, acc);
                for (int q = 0; q < 4; q++)
                    dw3_store(out, (orow + (size_t)(ox + q)) * C + c, acc[q], op->act, u8, inv, full, m);
                ox += 4;
            } else {
                __m512 acc = dw3_one(in + c, rs, (size_t)C, iy0, ix0, IH, IW, full, m, wk, bias);
                dw3_store(out, (orow + (size_t)ox) * C + c, acc, op->act, u8, inv, full, m);
                ox++;
            }
        }
    }
}

/* 3x3 depthwise, C % 8 == 0, output rows y0..y1-1, specialised for the stride, pairs and the
 * 8-bit store */
TARGET static INLINE void dw3_all(const grin__op *op, const float *in, void *out, int y0, int y1, const int S,
                                  const int PP, const bool u8)
{
    float stage[((DW_BH - 1) * 2 + 3) * DW_SW * 16] __attribute__((aligned(64)));
    for (int oy = y0; oy < y1; oy += DW_BH) {
        int oy1 = oy + DW_BH < y1 ? oy + DW_BH : y1;
        for (int ox = 0; ox < op->w; ox += DW_TW) {
            int nw = op->w - ox < DW_TW ? op->w - ox : DW_TW;
            for (int c = 0; c < (PP == 2 ? 1 : op->c); c += 16)
                dw3_tile(op, in, out, oy, oy1, ox, nw, c, S, PP, u8, stage);
        }
    }
}

/* layers as wide as this or narrower go window by window (dw3_all), wider ones row by row in
 * fours (dw3_rows, which loads each input once for neighbouring windows) */
#define DW_NARROW 8

/* stride 1 or 2 */
TARGET static void dw3_avx512(const grin__op *op, const float *in, void *out, int y0, int y1, bool u8)
{
    const bool pairs = op->stride == 1 && op->c == 8;
    if (op->w <= DW_NARROW || pairs) {
        if (pairs)
            u8 ? dw3_all(op, in, out, y0, y1, 1, 2, true) : dw3_all(op, in, out, y0, y1, 1, 2, false);
        else if (op->stride == 1)
            u8 ? dw3_all(op, in, out, y0, y1, 1, 1, true) : dw3_all(op, in, out, y0, y1, 1, 1, false);
        else
            u8 ? dw3_all(op, in, out, y0, y1, 2, 1, true) : dw3_all(op, in, out, y0, y1, 2, 1, false);
        return;
    }
    for (int oy = y0; oy < y1; oy++)
        for (int c = 0; c < op->c; c += 16) {
            bool full = op->c - c >= 16;
            if (op->stride == 1) {
                if (u8)
                    full ? dw3_rows(op, in, out, oy, oy + 1, 1, true, true, c)
                         : dw3_rows(op, in, out, oy, oy + 1, 1, true, false, c);
                else
                    full ? dw3_rows(op, in, out, oy, oy + 1, 1, false, true, c)
                         : dw3_rows(op, in, out, oy, oy + 1, 1, false, false, c);
            } else {
                if (u8)
                    full ? dw3_rows(op, in, out, oy, oy + 1, 2, true, true, c)
                         : dw3_rows(op, in, out, oy, oy + 1, 2, true, false, c);
                else
                    full ? dw3_rows(op, in, out, oy, oy + 1, 2, false, true, c)
                         : dw3_rows(op, in, out, oy, oy + 1, 2, false, false, c);
            }
        }
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
TARGET static void conv_avx512(const grin__op *op, const float *in, float *out, int y0, int y1)
{
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
