/* pyramid.c — the image pyramid and integral images behind the cascade detector.
 * The resize reproduces OpenCV's INTER_LINEAR_EXACT bit for bit (8-bit fixed-point weights),
 * because detection parity with OpenCV depends on every pixel of every scale. */
#include "detect_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Coefficients of one axis: for each destination index, the source offset and the weight of
 * the right/lower neighbour in 1/256ths; indices below lo or from hi on are clamped copies. */
static void axis_coeffs(int src, int dst, int *ofs, uint16_t *c1, int *lo, int *hi)
{
    double inv_scale = (double)dst / src;
    double scale = 1.0 / inv_scale;
    int minofs = 0, maxofs = dst;
    for (int d = 0; d < dst; d++) {
        double f = scale * ((double)d + 0.5) - 0.5;
        int i = (int)floor(f);
        ofs[d] = 0;
        c1[d] = 0;
        if (i >= 0 && src > 1) {
            if (i < src - 1) {
                ofs[d] = i;
                double frac = (f - (double)i) * 256.0;
                c1[d] = (uint16_t)nearbyint(frac); /* round half to even, as cvRound */
            } else {
                ofs[d] = src - 1;
                if (d < maxofs)
                    maxofs = d;
            }
        } else if (d + 1 > minofs) {
            minofs = d + 1;
        }
    }
    *lo = minofs;
    *hi = maxofs;
}

/* One source row resampled horizontally into 8.8 fixed point. */
static void hline(const uint8_t *s, int sw, const int *xo, const uint16_t *xc, int lo, int hi,
                  int dw, uint16_t *out)
{
    int x = 0;
    for (; x < lo && x < dw; x++)
        out[x] = (uint16_t)(s[0] << 8);
    for (; x < hi; x++) {
        const uint8_t *p = s + xo[x];
        out[x] = (uint16_t)((256 - xc[x]) * p[0] + xc[x] * p[1]);
    }
    const uint8_t last = s[xo[dw - 1] < sw ? xo[dw - 1] : sw - 1];
    for (; x < dw; x++)
        out[x] = (uint16_t)(last << 8);
}

size_t grin__resize_scratch_bytes(int sw, int sh, int dw, int dh)
{
    (void)sw;
    (void)sh;
    return (size_t)dw * (sizeof(int) + sizeof(uint16_t)) +
           (size_t)dh * (sizeof(int) + sizeof(uint16_t)) + 2 * (size_t)dw * sizeof(uint16_t) + 256;
}

void grin__resize_exact(const uint8_t *src, int sw, int sh, size_t sstride, uint8_t *dst, int dw,
                        int dh, size_t dstride, void *scratch)
{
    if (sw == dw && sh == dh) {
        for (int y = 0; y < sh; y++)
            memcpy(dst + (size_t)y * dstride, src + (size_t)y * sstride, (size_t)sw);
        return;
    }
    double sx = 1.0 / ((double)dw / sw), sy = 1.0 / ((double)dh / sh);
    if (fabs(sx - 2.0) < DBL_EPSILON && fabs(sy - 2.0) < DBL_EPSILON) {
        /* OpenCV turns an exact halving into its INTER_AREA fast path: a rounded 2x2 mean */
        for (int y = 0; y < dh; y++) {
            const uint8_t *a = src + (size_t)(2 * y) * sstride, *b = a + sstride;
            uint8_t *d = dst + (size_t)y * dstride;
            for (int x = 0; x < dw; x++)
                d[x] = (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
        }
        return;
    }
    uint8_t *sc = scratch;
    int *xo = (int *)sc;
    int *yo = xo + dw;
    uint16_t *xc = (uint16_t *)(yo + dh);
    uint16_t *yc = xc + dw;
    uint16_t *l0 = yc + dh, *l1 = l0 + dw;
    int xlo, xhi, ylo, yhi;
    axis_coeffs(sw, dw, xo, xc, &xlo, &xhi);
    axis_coeffs(sh, dh, yo, yc, &ylo, &yhi);
    int have0 = -1, have1 = -1; /* source rows held in l0, l1 */
    for (int y = 0; y < dh; y++) {
        uint8_t *d = dst + (size_t)y * dstride;
        if (y < ylo || y >= yhi) {
            int r = y < ylo ? 0 : sh - 1;
            if (have0 != r) {
                hline(src + (size_t)r * sstride, sw, xo, xc, xlo, xhi, dw, l0);
                have0 = r;
            }
            for (int x = 0; x < dw; x++)
                d[x] = (uint8_t)((l0[x] + 128) >> 8);
            continue;
        }
        int r0 = yo[y], r1 = r0 + 1;
        if (have0 != r0) {
            if (have1 == r0) {
                uint16_t *t = l0;
                l0 = l1;
                l1 = t;
                have0 = r0;
                have1 = -1;
            } else {
                hline(src + (size_t)r0 * sstride, sw, xo, xc, xlo, xhi, dw, l0);
                have0 = r0;
            }
        }
        if (have1 != r1) {
            hline(src + (size_t)r1 * sstride, sw, xo, xc, xlo, xhi, dw, l1);
            have1 = r1;
        }
        uint32_t c1 = yc[y], c0 = 256 - c1;
        for (int x = 0; x < dw; x++)
            d[x] = (uint8_t)((c0 * l0[x] + c1 * l1[x] + (1u << 15)) >> 16);
    }
}

/* Integral images of a w x h image into (h+1) rows of `stride` words: sum, sum of squares (both
 * mod 2^32: only differences over a window are used) and, if asked, the 45-degree tilted sum
 * T(X,Y) = sum of I(x,y) over y < Y, |x - X + 1| <= Y - y - 1, as OpenCV defines it. */
void grin__integrals(const uint8_t *img, int w, int h, size_t istride, uint32_t *sum, uint32_t *sq,
                     uint32_t *tilt, size_t stride, uint32_t *scratch)
{
    memset(sum, 0, (size_t)(w + 1) * sizeof *sum);
    memset(sq, 0, (size_t)(w + 1) * sizeof *sq);
    for (int y = 0; y < h; y++) {
        const uint8_t *s = img + (size_t)y * istride;
        uint32_t *prev = sum + (size_t)y * stride, *cur = prev + stride;
        uint32_t *qprev = sq + (size_t)y * stride, *qcur = qprev + stride;
        uint32_t rs = 0, rq = 0;
        cur[0] = 0;
        qcur[0] = 0;
        for (int x = 0; x < w; x++) {
            uint32_t v = s[x];
            rs += v;
            rq += v * v;
            cur[x + 1] = prev[x + 1] + rs;
            qcur[x + 1] = qprev[x + 1] + rq;
        }
    }
    if (!tilt)
        return;
    /* T = A - B with A(X,Y) = A(X+1,Y-1) + P(Y-1, min(w,X)) and B(X,Y) = B(X-1,Y-1) +
     * P(Y-1, max(0,X-1)), where P(y,k) is the sum of the first k pixels of row y and A(w+1,.)
     * is the plain integral's right column. */
    uint32_t *A = scratch, *B = scratch + (w + 2), *An = B + (w + 2), *Bn = An + (w + 2),
             *P = Bn + (w + 2);
    memset(A, 0, (size_t)(w + 2) * sizeof *A);
    memset(B, 0, (size_t)(w + 2) * sizeof *B);
    memset(tilt, 0, (size_t)(w + 1) * sizeof *tilt);
    for (int Y = 1; Y <= h; Y++) {
        const uint8_t *s = img + (size_t)(Y - 1) * istride;
        P[0] = 0;
        for (int x = 0; x < w; x++)
            P[x + 1] = P[x] + s[x];
        uint32_t right_col = sum[(size_t)(Y - 1) * stride + (size_t)w];
        uint32_t *T = tilt + (size_t)Y * stride;
        for (int X = 0; X <= w; X++) {
            uint32_t a_up = X + 1 <= w ? A[X + 1] : right_col;
            uint32_t b_up = X >= 1 ? B[X - 1] : 0;
            An[X] = a_up + P[X < w ? X : w];
            Bn[X] = b_up + P[X >= 1 ? X - 1 : 0];
            T[X] = An[X] - Bn[X];
        }
        uint32_t *t = A;
        A = An;
        An = t;
        t = B;
        B = Bn;
        Bn = t;
    }
}

size_t grin__tilt_scratch_words(int w) { return 5 * (size_t)(w + 2) + 16; }
