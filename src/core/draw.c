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

void grin_draw_rect(grin_image *img, int x, int y, int w, int h, int thickness, grin_rgb color)
{
    if (!drawable(img) || w <= 0 || h <= 0)
        return;
    if (thickness < 1)
        thickness = 1;
    long long x1 = (long long)x + w, y1 = (long long)y + h;
    if (x1 > img->width + thickness)
        x1 = img->width + thickness;
    if (y1 > img->height + thickness)
        y1 = img->height + thickness;
    int t = thickness;
    fill(img, x, y, (int)x1, y + t, color);
    fill(img, x, (int)y1 - t, (int)x1, (int)y1, color);
    fill(img, x, y, x + t, (int)y1, color);
    fill(img, (int)x1 - t, y, (int)x1, (int)y1, color);
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
