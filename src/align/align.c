/* align.c — face alignment: a horizontally symmetric landmark template, least-squares
 * similarity and affine fits, a one-pass bilinear warp into a square crop, and a One-Euro
 * filter for landmarks over time. */
#include "landmarks_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* iBUG 68-point layout: the index each point takes under a horizontal flip. */
const int grin__ibug68_flip[68] = {
    16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  3,  2,  1,  0,  /* jaw */
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,                             /* brows */
    27, 28, 29, 30,                                                     /* nose bridge */
    35, 34, 33, 32, 31,                                                 /* nostrils */
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,                     /* eyes */
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,                     /* outer lips */
    64, 63, 62, 61, 60, 67, 66, 65};                                    /* inner lips */

struct grin_aligner {
    grin_align_params p;
    size_t n;
    grin_point2f *tmpl; /* crop coordinates */
    int *flip;
    /* template normalisation: crop = (box-normalised - centre) * scale + half */
    double cx, cy, scale;
};

void grin_align_params_default(grin_align_params *p)
{
    if (!p)
        return;
    p->size = 64;
    p->margin = 0.1f;
    p->max_distortion = 2.0f;
}

grin_status grin_aligner_create(const grin_landmarker *m, const grin_align_params *params,
                                grin_aligner **out, grin_error *err)
{
    if (!m || !out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    *out = NULL;
    grin_align_params p;
    if (params)
        p = *params;
    else
        grin_align_params_default(&p);
    if (p.size < 8 || p.size > 4096 || !(p.margin >= 0.0f && p.margin < 0.45f) ||
        !(p.max_distortion >= 1.0f))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "alignment parameters out of range "
                          "(size 8..4096, margin 0..0.45, max distortion >= 1)");
    if (m->parts != 68)
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "alignment needs the 68-point iBUG layout; "
                          "this model has %u points", m->parts);
    grin_aligner *a = calloc(1, sizeof *a);
    if (!a)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    a->p = p;
    a->n = m->parts;
    a->tmpl = malloc(a->n * sizeof *a->tmpl);
    a->flip = malloc(a->n * sizeof *a->flip);
    double *sx = malloc(a->n * sizeof *sx), *sy = malloc(a->n * sizeof *sy);
    if (!a->tmpl || !a->flip || !sx || !sy) {
        free(sx);
        free(sy);
        grin_aligner_free(a);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(a->flip, grin__ibug68_flip, sizeof grin__ibug68_flip);
    /* mirror about the mean x and average each point with its partner's mirror image */
    double mx = 0;
    for (size_t i = 0; i < a->n; i++)
        mx += m->initial[2 * i];
    mx /= (double)a->n;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < a->n; i++) {
        size_t j = (size_t)a->flip[i];
        sx[i] = 0.5 * (m->initial[2 * i] + (2 * mx - m->initial[2 * j]));
        sy[i] = 0.5 * (m->initial[2 * i + 1] + m->initial[2 * j + 1]);
        x0 = fmin(x0, sx[i]), x1 = fmax(x1, sx[i]);
        y0 = fmin(y0, sy[i]), y1 = fmax(y1, sy[i]);
    }
    double extent = fmax(x1 - x0, y1 - y0);
    a->cx = mx;
    a->cy = 0.5 * (y0 + y1);
    a->scale = extent > 0 ? (double)p.size * (1.0 - 2.0 * p.margin) / extent : 1.0;
    double half = 0.5 * (double)(p.size - 1);
    for (size_t i = 0; i < a->n; i++) {
        a->tmpl[i].x = (float)((sx[i] - a->cx) * a->scale + half);
        a->tmpl[i].y = (float)((sy[i] - a->cy) * a->scale + half);
    }
    free(sx);
    free(sy);
    *out = a;
    return GRIN_OK;
}

void grin_aligner_free(grin_aligner *a)
{
    if (!a)
        return;
    free(a->tmpl);
    free(a->flip);
    free(a);
}

const grin_point2f *grin_aligner_template(const grin_aligner *a, size_t *count)
{
    if (count)
        *count = a ? a->n : 0;
    return a ? a->tmpl : NULL;
}

const int *grin_aligner_flip_map(const grin_aligner *a) { return a ? a->flip : NULL; }

void grin_aligner_get_params(const grin_aligner *a, grin_align_params *out)
{
    if (a && out)
        *out = a->p;
}

grin_status grin_align_fit_points(const grin_aligner *a, const grin_point2f *pts, size_t n,
                                  grin_align_fit *out)
{
    if (!a || !pts || !out || n != a->n)
        return GRIN_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    const grin_point2f *q = a->tmpl;
    double mpx = 0, mpy = 0, mqx = 0, mqy = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(pts[i].x) || !isfinite(pts[i].y)) {
            out->distortion = INFINITY;
            return GRIN_OK;
        }
        mpx += pts[i].x, mpy += pts[i].y, mqx += q[i].x, mqy += q[i].y;
    }
    mpx /= (double)n, mpy /= (double)n, mqx /= (double)n, mqy /= (double)n;
    double spp = 0, pxx = 0, pxy = 0, pyy = 0, c00 = 0, c01 = 0, c10 = 0, c11 = 0;
    for (size_t i = 0; i < n; i++) {
        double px = pts[i].x - mpx, py = pts[i].y - mpy, qx = q[i].x - mqx, qy = q[i].y - mqy;
        spp += px * px + py * py;
        pxx += px * px, pxy += px * py, pyy += py * py;
        c00 += qx * px, c01 += qx * py, c10 += qy * px, c11 += qy * py;
    }
    /* similarity (Umeyama; closed form in 2-D) */
    double sa = spp > 0 ? (c00 + c11) / spp : 1.0, sb = spp > 0 ? (c10 - c01) / spp : 0.0;
    double *sim = (double[6]){sa, -sb, mqx - (sa * mpx - sb * mpy), sb, sa,
                              mqy - (sb * mpx + sa * mpy)};
    /* unconstrained affine: A = Cqp Cpp^-1 */
    double det = pxx * pyy - pxy * pxy;
    double A[4] = {0, 0, 0, 0};
    double dist = INFINITY;
    if (det > 1e-12 * (pxx + pyy) * (pxx + pyy) && det > 0) {
        double i00 = pyy / det, i01 = -pxy / det, i11 = pxx / det;
        A[0] = c00 * i00 + c01 * i01, A[1] = c00 * i01 + c01 * i11;
        A[2] = c10 * i00 + c11 * i01, A[3] = c10 * i01 + c11 * i11;
        double fro2 = A[0] * A[0] + A[1] * A[1] + A[2] * A[2] + A[3] * A[3];
        double dA = A[0] * A[3] - A[1] * A[2];
        double disc = sqrt(fmax(0.0, fro2 * fro2 - 4 * dA * dA));
        double s1 = sqrt(0.5 * (fro2 + disc)), s2 = sqrt(fmax(0.0, 0.5 * (fro2 - disc)));
        dist = (dA > 0 && s2 > 0) ? s1 / s2 : INFINITY; /* a mirrored fit is never usable */
    }
    double aff[6] = {A[0], A[1], mqx - (A[0] * mpx + A[1] * mpy),
                     A[2], A[3], mqy - (A[2] * mpx + A[3] * mpy)};
    double err2 = 0;
    for (size_t i = 0; i < n; i++) {
        double u = sim[0] * pts[i].x + sim[1] * pts[i].y + sim[2] - q[i].x;
        double v = sim[3] * pts[i].x + sim[4] * pts[i].y + sim[5] - q[i].y;
        err2 += u * u + v * v;
    }
    for (int k = 0; k < 6; k++) {
        out->similarity[k] = (float)sim[k];
        out->affine[k] = (float)aff[k];
    }
    out->distortion = (float)dist;
    out->rms_error = (float)sqrt(err2 / (double)n);
    out->usable = isfinite(dist) && dist <= a->p.max_distortion && spp > 0;
    return GRIN_OK;
}

grin_status grin_align_warp(const grin_aligner *a, const grin_image *img, const grin_align_fit *fit,
                            grin_rect box, grin_image *out, int *aligned)
{
    if (out)
        memset(out, 0, sizeof *out); /* a failed call leaves an empty image, safe to free */
    if (aligned)
        *aligned = 0;
    if (!a || !img || !img->data || !out)
        return GRIN_ERR_INVALID_ARGUMENT;
    int ch = grin_pixfmt_channels(img->format);
    if (ch == 0 || img->width <= 0 || img->height <= 0 || img->stride < img->width * ch)
        return GRIN_ERR_INVALID_ARGUMENT;
    double m[6];
    bool use = fit && fit->usable;
    if (use) {
        for (int k = 0; k < 6; k++)
            m[k] = fit->similarity[k];
    } else {
        if (box.w <= 1 || box.h <= 1)
            return GRIN_ERR_INVALID_ARGUMENT;
        /* the box through the template's own normalisation: box-normalised coordinates are
         * (x - left) / (w - 1), as in dlib's shape model */
        double half = 0.5 * (double)(a->p.size - 1);
        double kx = a->scale / ((double)box.w - 1.0), ky = a->scale / ((double)box.h - 1.0);
        m[0] = kx, m[1] = 0, m[2] = -(double)box.x * kx - a->cx * a->scale + half; /* (no int negation) */
        m[3] = 0, m[4] = ky, m[5] = -(double)box.y * ky - a->cy * a->scale + half;
    }
    if (aligned)
        *aligned = use;
    /* invert image -> crop to crop -> image */
    double det = m[0] * m[4] - m[1] * m[3];
    if (!(fabs(det) > 1e-12) || !isfinite(det))
        return GRIN_ERR_INVALID_ARGUMENT;
    double i0 = m[4] / det, i1 = -m[1] / det, i3 = -m[3] / det, i4 = m[0] / det;
    double i2 = -(i0 * m[2] + i1 * m[5]), i5 = -(i3 * m[2] + i4 * m[5]);
    int N = a->p.size;
    grin_status st = grin_image_alloc(N, N, img->format, out);
    if (st)
        return st;
    const int W = img->width, H = img->height;
    for (int v = 0; v < N; v++) {
        uint8_t *dst = out->data + (size_t)v * (size_t)out->stride;
        for (int u = 0; u < N; u++) {
            double x = i0 * u + i1 * v + i2, y = i3 * u + i4 * v + i5;
            /* clamp to the image (border replicate) */
            x = x < 0 ? 0 : (x > W - 1 ? W - 1 : x);
            y = y < 0 ? 0 : (y > H - 1 ? H - 1 : y);
            int x0 = (int)x, y0 = (int)y;
            int x1 = x0 + 1 < W ? x0 + 1 : x0, y1 = y0 + 1 < H ? y0 + 1 : y0;
            double fx = x - x0, fy = y - y0;
            const uint8_t *r0 = img->data + (size_t)y0 * (size_t)img->stride;
            const uint8_t *r1 = img->data + (size_t)y1 * (size_t)img->stride;
            for (int c = 0; c < ch; c++) {
                double top = r0[x0 * ch + c] + (r0[x1 * ch + c] - r0[x0 * ch + c]) * fx;
                double bot = r1[x0 * ch + c] + (r1[x1 * ch + c] - r1[x0 * ch + c]) * fx;
                double val = top + (bot - top) * fy;
                dst[u * ch + c] = (uint8_t)(val + 0.5);
            }
        }
    }
    return GRIN_OK;
}

/* ------------------------------------------------------------------ One-Euro filter */

struct grin_landmark_filter {
    size_t n;
    float min_cutoff, beta, d_cutoff;
    double last_t;
    bool primed;
    float *x, *dx; /* filtered values and derivatives, 2 per point */
};

grin_status grin_landmark_filter_create(size_t count, float min_cutoff_hz, float beta,
                                        grin_landmark_filter **out)
{
    if (!out || count == 0 || count > 100000 || !(min_cutoff_hz > 0) || !(beta >= 0))
        return GRIN_ERR_INVALID_ARGUMENT;
    grin_landmark_filter *f = calloc(1, sizeof *f);
    if (!f)
        return GRIN_ERR_NO_MEMORY;
    f->n = count;
    f->min_cutoff = min_cutoff_hz;
    f->beta = beta;
    f->d_cutoff = 1.0f;
    f->x = calloc(2 * count, sizeof *f->x);
    f->dx = calloc(2 * count, sizeof *f->dx);
    if (!f->x || !f->dx) {
        grin_landmark_filter_free(f);
        return GRIN_ERR_NO_MEMORY;
    }
    *out = f;
    return GRIN_OK;
}

void grin_landmark_filter_free(grin_landmark_filter *f)
{
    if (!f)
        return;
    free(f->x);
    free(f->dx);
    free(f);
}

void grin_landmark_filter_reset(grin_landmark_filter *f)
{
    if (f)
        f->primed = false;
}

static float smoothing(float cutoff, double dt)
{
    double tau = 1.0 / (2.0 * 3.14159265358979323846 * cutoff);
    return (float)(1.0 / (1.0 + tau / dt));
}

grin_status grin_landmark_filter_apply(grin_landmark_filter *f, double t, grin_point2f *pts,
                                       size_t count)
{
    if (!f || !pts || count != f->n || !isfinite(t))
        return GRIN_ERR_INVALID_ARGUMENT;
    if (!f->primed || t <= f->last_t) {
        for (size_t i = 0; i < count; i++) {
            f->x[2 * i] = pts[i].x;
            f->x[2 * i + 1] = pts[i].y;
            f->dx[2 * i] = f->dx[2 * i + 1] = 0;
        }
        f->primed = true;
        f->last_t = t;
        return GRIN_OK;
    }
    double dt = t - f->last_t;
    f->last_t = t;
    float ad = smoothing(f->d_cutoff, dt);
    for (size_t i = 0; i < 2 * count; i++) {
        float raw = (i & 1) ? pts[i / 2].y : pts[i / 2].x;
        float d = (float)((raw - f->x[i]) / dt);
        f->dx[i] += ad * (d - f->dx[i]);
        float cutoff = f->min_cutoff + f->beta * fabsf(f->dx[i]);
        f->x[i] += smoothing(cutoff, dt) * (raw - f->x[i]);
        if (i & 1)
            pts[i / 2].y = f->x[i];
        else
            pts[i / 2].x = f->x[i];
    }
    return GRIN_OK;
}

void grin_align_map_points(const grin_align_fit *fit, const grin_point2f *in, size_t count, grin_point2f *out)
{
    if (!fit || !in || !out)
        return;
    const float *m = fit->similarity;
    for (size_t i = 0; i < count; i++) {
        float x = in[i].x, y = in[i].y;
        out[i].x = m[0] * x + m[1] * y + m[2];
        out[i].y = m[3] * x + m[4] * y + m[5];
    }
}
