/* classifier.c — the public face of a trained smile classifier: load, describe, classify
 * aligned crops (converted to the model's channels and normalisation here, so a caller can't
 * prepare them differently). */
#include "model_io.h"

#include <stdlib.h>
#include <string.h>

struct grin_classifier {
    grin__model m;
};

grin_status grin_classifier_load(const char *path, grin_classifier **out, grin_error *err)
{
    if (!path || !out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    *out = NULL;
    grin_classifier *c = calloc(1, sizeof *c);
    if (!c)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    grin_status st = grin__model_load(path, &c->m, err);
    if (st) {
        free(c);
        return st;
    }
    *out = c;
    return GRIN_OK;
}

void grin_classifier_free(grin_classifier *c)
{
    if (!c)
        return;
    grin__nn_free(&c->m.net);
    free(c);
}

void grin_classifier_get_info(const grin_classifier *c, grin_classifier_info *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    out->input = c->m.input;
    out->channels = c->m.channels;
    out->alpha = c->m.alpha;
    out->parameters = c->m.net.nparams;
    out->multiply_adds = grin__nn_macs(&c->m.net);
    out->align = c->m.align;
    out->metadata = c->m.meta;
}

grin_status grin_classify_crops(const grin_classifier *c, const grin_image *crops, size_t n,
                                float *probs, grin_error *err)
{
    if (!c || (!crops && n) || (!probs && n))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    const int S = c->m.input, C = c->m.channels;
    const size_t per = (size_t)S * S * C;
    const size_t B = 32;
    float *x = malloc(per * B * sizeof *x);
    if (!x)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    grin__nn_ws ws = {0};
    grin_status st = GRIN_OK;
    for (size_t i = 0; i < n && !st; i += B) {
        size_t b = n - i < B ? n - i : B;
        for (size_t k = 0; k < b && !st; k++) {
            const grin_image *im = &crops[i + k];
            int ch = grin_pixfmt_channels(im->format);
            if (!im->data || im->width != S || im->height != S || ch == 0 || im->stride < S * ch) {
                st = grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "crop %zu is %dx%d, the model takes %dx%d",
                                i + k, im->width, im->height, S, S);
                break;
            }
            float *dst = x + k * per;
            for (int y = 0; y < S; y++) {
                const uint8_t *row = im->data + (size_t)y * im->stride;
                for (int xx = 0; xx < S; xx++) {
                    const uint8_t *p = row + (size_t)xx * ch;
                    for (int cc = 0; cc < C; cc++) {
                        int v;
                        if (ch == 1)
                            v = p[0];
                        else if (C == 1) /* grey as grin converts: BT.601 in 15-bit fixed point */
                            v = im->format == GRIN_PIX_RGB24
                                    ? (p[0] * 9798 + p[1] * 19235 + p[2] * 3735 + 16384) >> 15
                                    : (p[2] * 9798 + p[1] * 19235 + p[0] * 3735 + 16384) >> 15;
                        else
                            v = im->format == GRIN_PIX_BGR24 ? p[2 - cc] : p[cc];
                        dst[((size_t)y * S + xx) * C + cc] = (float)v / 127.5f - 1.0f;
                    }
                }
            }
        }
        if (st)
            break;
        const float *out;
        if (ws.batch != (int)b)
            grin__nn_ws_free(&ws);
        st = grin__nn_forward(&c->m.net, &ws, x, (int)b, false, &out);
        if (st)
            grin__fail(err, st, "inference failed");
        else
            memcpy(probs + i, out, b * sizeof *probs);
    }
    grin__nn_ws_free(&ws);
    free(x);
    return st;
}
