/* image.c — 8-bit images with a stride and an explicit pixel format, and conversion between
 * formats (the grey conversion is bit-identical to OpenCV's cvtColor, which detection parity
 * depends on). */
#include "internal.h"
#include <math.h>

#include <stdlib.h>
#include <string.h>

int grin_pixfmt_channels(grin_pixfmt f)
{
    switch (f) {
    case GRIN_PIX_GRAY8: return 1;
    case GRIN_PIX_RGB24:
    case GRIN_PIX_BGR24: return 3;
    }
    return 0;
}

grin_status grin_image_alloc(int width, int height, grin_pixfmt format, grin_image *out)
{
    if (!out)
        return GRIN_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    int ch = grin_pixfmt_channels(format);
    if (ch == 0 || width <= 0 || height <= 0)
        return GRIN_ERR_INVALID_ARGUMENT;
    if (width > GRIN_MAX_IMAGE_SIDE || height > GRIN_MAX_IMAGE_SIDE ||
        (uint64_t)width * (uint64_t)height > GRIN_MAX_IMAGE_PIXELS)
        return GRIN_ERR_TOO_LARGE;
    size_t stride = ((size_t)width * (size_t)ch + 31) & ~(size_t)31;
    uint8_t *data = grin__aligned_alloc(stride * (size_t)height);
    if (!data)
        return GRIN_ERR_NO_MEMORY;
    out->data = data;
    out->width = width;
    out->height = height;
    out->stride = (int)stride;
    out->format = format;
    return GRIN_OK;
}

void grin_image_free(grin_image *img)
{
    if (!img)
        return;
    grin__aligned_free(img->data);
    memset(img, 0, sizeof *img);
}

/* OpenCV 4's BT.601 weights for 8-bit grey: 15-bit fixed point, rounding by adding half. */
enum { Y_R = 9798, Y_G = 19235, Y_B = 3735, Y_SHIFT = 15 };

static void row_to_gray(const uint8_t *s, uint8_t *d, int w, int r_at, int b_at)
{
    for (int x = 0; x < w; x++, s += 3)
        d[x] = (uint8_t)((s[r_at] * Y_R + s[1] * Y_G + s[b_at] * Y_B + (1 << (Y_SHIFT - 1))) >>
                         Y_SHIFT);
}

grin_status grin_image_convert(const grin_image *src, grin_pixfmt format, grin_image *out)
{
    if (!src || !out || !src->data)
        return GRIN_ERR_INVALID_ARGUMENT;
    int sch = grin_pixfmt_channels(src->format);
    if (sch == 0 || grin_pixfmt_channels(format) == 0 || src->width <= 0 || src->height <= 0 ||
        src->stride < src->width * sch)
        return GRIN_ERR_INVALID_ARGUMENT;
    grin_status st = grin_image_alloc(src->width, src->height, format, out);
    if (st)
        return st;
    return grin__image_convert_into(src, out);
}

grin_status grin__image_convert_into(const grin_image *src, grin_image *out)
{
    int sch = grin_pixfmt_channels(src->format);
    grin_pixfmt format = out->format;
    if (!src->data || !out->data || sch == 0 || out->width != src->width ||
        out->height != src->height || src->stride < src->width * sch ||
        out->stride < out->width * grin_pixfmt_channels(format))
        return GRIN_ERR_INVALID_ARGUMENT;
    int w = src->width;
    for (int y = 0; y < src->height; y++) {
        const uint8_t *s = src->data + (size_t)y * (size_t)src->stride;
        uint8_t *d = out->data + (size_t)y * (size_t)out->stride;
        if (src->format == format) {
            memcpy(d, s, (size_t)w * (size_t)sch);
        } else if (format == GRIN_PIX_GRAY8) {
            if (src->format == GRIN_PIX_RGB24)
                row_to_gray(s, d, w, 0, 2);
            else
                row_to_gray(s, d, w, 2, 0);
        } else if (src->format == GRIN_PIX_GRAY8) {
            for (int x = 0; x < w; x++)
                d[3 * x] = d[3 * x + 1] = d[3 * x + 2] = s[x];
        } else { /* RGB <-> BGR */
            for (int x = 0; x < w; x++) {
                d[3 * x] = s[3 * x + 2];
                d[3 * x + 1] = s[3 * x + 1];
                d[3 * x + 2] = s[3 * x];
            }
        }
    }
    return GRIN_OK;
}

/* Fixed point with 14 fractional bits: the largest sum, 255 * 1.164 + 128 * 2.112 scaled, stays
 * far inside int32. Coefficients: ITU-R BT.601 and BT.709 (Kr, Kb) as swscale and the standards
 * give them, times 255/219 (luma) and 255/224 (chroma) in limited range. */
void grin__yuv420_to_rgb24(const uint8_t *y, int ystride, const uint8_t *u, int ustride, const uint8_t *v,
                           int vstride, int width, int height, int full, int bt709, uint8_t *rgb,
                           int rgb_stride)
{
    enum { SHIFT = 14 };
    const double kr = bt709 ? 0.2126 : 0.299, kb = bt709 ? 0.0722 : 0.114, kg = 1.0 - kr - kb;
    const double ys = full ? 1.0 : 255.0 / 219.0, cs = full ? 1.0 : 255.0 / 224.0;
    const double one = (double)(1 << SHIFT);
    const int32_t cy = (int32_t)lround(ys * one);
    const int32_t crv = (int32_t)lround(2.0 * (1.0 - kr) * cs * one);
    const int32_t cgu = (int32_t)lround(2.0 * (1.0 - kb) * kb / kg * cs * one);
    const int32_t cgv = (int32_t)lround(2.0 * (1.0 - kr) * kr / kg * cs * one);
    const int32_t cbu = (int32_t)lround(2.0 * (1.0 - kb) * cs * one);
    const int32_t y0 = full ? 0 : 16, half = 1 << (SHIFT - 1);
    /* per chroma sample the three chroma terms, per pixel one luma product: two pixels share the
     * first; values are clamped through a table (the sums stay within -300..600) */
    uint8_t clampt[1024];
    for (int k = 0; k < 1024; k++)
        clampt[k] = (uint8_t)(k < 384 ? 0 : k > 384 + 255 ? 255 : k - 384);
    const uint8_t *cl = clampt + 384;
    int32_t ly[256];
    for (int k = 0; k < 256; k++)
        ly[k] = (k - y0) * cy + half;
    for (int r = 0; r < height; r++) {
        const uint8_t *yr = y + (size_t)r * ystride;
        const uint8_t *ur = u + (size_t)(r >> 1) * ustride, *vr = v + (size_t)(r >> 1) * vstride;
        uint8_t *out = rgb + (size_t)r * rgb_stride;
        for (int x = 0; x < width; x += 2) {
            int32_t cu = ur[x >> 1] - 128, cv = vr[x >> 1] - 128;
            int32_t tr = crv * cv, tg = -cgu * cu - cgv * cv, tb = cbu * cu;
            int32_t l = ly[yr[x]];
            out[3 * x] = cl[(l + tr) >> SHIFT];
            out[3 * x + 1] = cl[(l + tg) >> SHIFT];
            out[3 * x + 2] = cl[(l + tb) >> SHIFT];
            if (x + 1 < width) {
                l = ly[yr[x + 1]];
                out[3 * x + 3] = cl[(l + tr) >> SHIFT];
                out[3 * x + 4] = cl[(l + tg) >> SHIFT];
                out[3 * x + 5] = cl[(l + tb) >> SHIFT];
            }
        }
    }
}
