/* draw.c — boxes and short labels on images, for annotated output. Clipped to the image and
 * safe with any coordinates. */
#include "internal.h"

#include <string.h>

extern const uint8_t grin__font5x7[95][7];

static void put(grin_image *img, int x, int y, grin_rgb c)
{
    if (x < 0 || y < 0 || x >= img->width || y >= img->height)
        return;
    uint8_t *p = img->data + (size_t)y * (size_t)img->stride;
    switch (img->format) {
    case GRIN_PIX_RGB24:
        p += 3 * (size_t)x;
        p[0] = c.r, p[1] = c.g, p[2] = c.b;
        break;
    case GRIN_PIX_BGR24:
        p += 3 * (size_t)x;
        p[0] = c.b, p[1] = c.g, p[2] = c.r;
        break;
    case GRIN_PIX_GRAY8:
        p[x] = (uint8_t)((c.r * 9798 + c.g * 19235 + c.b * 3735 + 16384) >> 15);
        break;
    }
}

static void fill(grin_image *img, int x0, int y0, int x1, int y1, grin_rgb c)
{
    /* half-open [x0,x1) x [y0,y1), clipped */
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > img->width)
        x1 = img->width;
    if (y1 > img->height)
        y1 = img->height;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            put(img, x, y, c);
}

static bool drawable(const grin_image *img)
{
    return img && img->data && img->width > 0 && img->height > 0 &&
           grin_pixfmt_channels(img->format) > 0;
}

static int clampi(long long v, long long lo, long long hi)
{
    return (int)(v < lo ? lo : (v > hi ? hi : v));
}

void grin_draw_rect(grin_image *img, int x, int y, int w, int h, int thickness, grin_rgb color)
{
    if (!drawable(img) || w <= 0 || h <= 0)
        return;
    if (thickness < 1)
        thickness = 1;
    if (thickness > 256)
        thickness = 256;
    /* work in a range that cannot overflow, then clip */
    long long pad = thickness;
    int x0 = clampi(x, -pad, img->width + pad), y0 = clampi(y, -pad, img->height + pad);
    int x1 = clampi((long long)x + w, -pad, img->width + pad);
    int y1 = clampi((long long)y + h, -pad, img->height + pad);
    int t = thickness;
    if ((long long)y >= -pad)
        fill(img, x0, y0, x1, y0 + t, color);
    if ((long long)y + h <= img->height + pad)
        fill(img, x0, y1 - t, x1, y1, color);
    if ((long long)x >= -pad)
        fill(img, x0, y0, x0 + t, y1, color);
    if ((long long)x + w <= img->width + pad)
        fill(img, x1 - t, y0, x1, y1, color);
}

int grin_draw_text(grin_image *img, int x, int y, const char *text, int scale, grin_rgb fg,
                   const grin_rgb *bg)
{
    if (!text)
        return 0;
    if (scale < 1)
        scale = 1;
    if (scale > 64)
        scale = 64;
    size_t n = strlen(text);
    if (n > 4096)
        n = 4096;
    if (!drawable(img) || x < -(1 << 20) || x > (1 << 20) || y < -(1 << 20) || y > (1 << 20))
        return (int)n * 6 * scale;
    int adv = 6 * scale;
    int width = (int)n * adv;
    if (!drawable(img))
        return width;
    if (bg)
        fill(img, x - scale, y - scale, x + width, y + 8 * scale, *bg);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch < 32 || ch > 126)
            ch = '?';
        const uint8_t *rows = grin__font5x7[ch - 32];
        int gx = x + (int)i * adv;
        if (gx > img->width)
            break;
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (rows[r] & (0x10 >> col))
                    fill(img, gx + col * scale, y + r * scale, gx + (col + 1) * scale,
                         y + (r + 1) * scale, fg);
    }
    return width;
}
