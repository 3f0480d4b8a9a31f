/* model_io.c — grin's classifier file: magic, version, the architecture and how its input must
 * be prepared (size, channels, normalisation, alignment), key=value metadata, then 64-byte
 * aligned parameters and batch-norm statistics. The loader rebuilds the architecture from the
 * header and checks every count against it and against the file's size. */
#include "model_io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "GRINNET\x1a"
#define VERSION 1u

typedef struct {
    char magic[8];
    uint32_t version, header_bytes;
    uint32_t arch, input, channels, reserved0;
    float alpha, norm_scale, norm_offset;
    uint32_t align_size;
    float align_margin, align_max_distortion;
    uint64_t nparams, nstate;
    uint32_t meta_bytes, reserved1;
    uint64_t params_offset, state_offset;
} net_header;

grin_status grin__model_build(grin__model *m, grin_error *err)
{
    if (m->arch != GRIN__ARCH_MOBILENET_V1)
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "unknown architecture %u", m->arch);
    return grin__nn_mobilenet(&m->net, m->input, m->channels, m->alpha, m->seed, err);
}

grin_status grin__model_save(const grin__model *m, const char *path, grin_error *err)
{
    net_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.version = VERSION;
    h.header_bytes = sizeof h;
    h.arch = m->arch;
    h.input = (uint32_t)m->input;
    h.channels = (uint32_t)m->channels;
    h.alpha = m->alpha;
    h.norm_scale = 1.0f / 127.5f;
    h.norm_offset = -1.0f;
    h.align_size = (uint32_t)m->align.size;
    h.align_margin = m->align.margin;
    h.align_max_distortion = m->align.max_distortion;
    h.nparams = m->net.nparams;
    h.nstate = m->net.nstate;
    h.meta_bytes = (uint32_t)strlen(m->meta);
    uint64_t off = (sizeof h + h.meta_bytes + 63) & ~(uint64_t)63;
    h.params_offset = off;
    off = (off + h.nparams * 4 + 63) & ~(uint64_t)63;
    h.state_offset = off;
    FILE *f = fopen(path, "wb");
    if (!f)
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    static const char zeros[64];
    bool ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(m->meta, 1, h.meta_bytes, f) == h.meta_bytes;
    uint64_t pos = sizeof h + h.meta_bytes;
    ok = ok && fwrite(zeros, 1, h.params_offset - pos, f) == h.params_offset - pos;
    ok = ok && fwrite(m->net.params, 4, h.nparams, f) == h.nparams;
    pos = h.params_offset + h.nparams * 4;
    ok = ok && fwrite(zeros, 1, h.state_offset - pos, f) == h.state_offset - pos;
    ok = ok && fwrite(m->net.state, 4, h.nstate, f) == h.nstate;
    if (fclose(f) != 0)
        ok = false;
    if (!ok) {
        remove(path);
        return grin__fail(err, GRIN_ERR_IO, "%s: write failed", path);
    }
    return GRIN_OK;
}

grin_status grin__model_load_memory(const uint8_t *d, size_t size, const char *name, grin__model *m,
                                    grin_error *err)
{
    memset(m, 0, sizeof *m);
    net_header h;
    if (size < 8 || memcmp(d, MAGIC, 8) != 0) {
        const char *what = grin__sniff(d, size);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: not a grin classifier model%s%s", name,
                          what ? ": looks like " : "", what ? what : "");
    }
    if (size < sizeof h)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated model header", name);
    memcpy(&h, d, sizeof h);
    if (h.version != VERSION)
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: model version %u (this grin reads %u)",
                          name, h.version, VERSION);
    if (h.header_bytes != sizeof h || h.meta_bytes > 65536 || sizeof h + h.meta_bytes > size ||
        !(h.alpha > 0) || !isfinite(h.alpha) || h.input < 32 || h.input > 1024 ||
        (h.channels != 1 && h.channels != 3) || h.norm_scale != 1.0f / 127.5f || h.norm_offset != -1.0f)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: corrupt model header", name);
    m->arch = h.arch;
    m->input = (int)h.input;
    m->channels = (int)h.channels;
    m->alpha = h.alpha;
    m->align.size = (int)h.align_size;
    m->align.margin = h.align_margin;
    m->align.max_distortion = h.align_max_distortion;
    size_t ml = h.meta_bytes < sizeof m->meta - 1 ? h.meta_bytes : sizeof m->meta - 1;
    memcpy(m->meta, d + sizeof h, ml);
    m->meta[ml] = 0;
    char why[128];
    if (!grin__post_parse(m->meta, &m->post, why, sizeof why))
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: %s", name, why);
    grin_status st = grin__model_build(m, err);
    if (st)
        return st;
    if (h.nparams != m->net.nparams || h.nstate != m->net.nstate) {
        grin__nn_free(&m->net);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: %llu parameters stored, the architecture has %zu",
                          name, (unsigned long long)h.nparams, m->net.nparams);
    }
    if (h.params_offset % 4 || h.params_offset > size || h.nparams * 4 > size - h.params_offset ||
        h.state_offset % 4 || h.state_offset > size || h.nstate * 4 > size - h.state_offset) {
        grin__nn_free(&m->net);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated model (%zu bytes)", name, size);
    }
    memcpy(m->net.params, d + h.params_offset, h.nparams * 4);
    memcpy(m->net.state, d + h.state_offset, h.nstate * 4);
    for (size_t i = 0; i < m->net.nparams; i++)
        if (!isfinite(m->net.params[i])) {
            grin__nn_free(&m->net);
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: parameter %zu is not finite", name, i);
        }
    for (size_t i = 0; i < m->net.nstate; i++)
        if (!isfinite(m->net.state[i])) {
            grin__nn_free(&m->net);
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: a batch-norm statistic is not finite", name);
        }
    return GRIN_OK;
}

grin_status grin__model_load(const char *path, grin__model *m, grin_error *err)
{
    uint8_t *d;
    size_t n;
    grin_status st = grin__read_file(path, &d, &n, (size_t)1 << 30, err);
    if (st)
        return st;
    st = grin__model_load_memory(d, n, path, m, err);
    free(d);
    return st;
}

bool grin__post_parse(const char *meta, grin__post *p, char *why, size_t whylen)
{
    memset(p, 0, sizeof *p);
    for (const char *l = meta; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        int flip;
        float a, b;
        char end;
        int k;
        if (!strncmp(l, "test_flip=", 10)) {
            k = sscanf(l, "test_flip=%d%c", &flip, &end);
            if ((k != 1 && (k != 2 || end != '\n')) || (flip != 0 && flip != 1)) {
                snprintf(why, whylen, "bad test_flip line in the metadata (want 0 or 1)");
                return false;
            }
            p->flip = flip == 1;
        } else if (!strncmp(l, "platt=", 6)) {
            k = sscanf(l, "platt=%f,%f%c", &a, &b, &end);
            if ((k != 2 && (k != 3 || end != '\n')) || !isfinite(a) ||
                !isfinite(b) || !(a > 0) || a > 100 || fabsf(b) > 100) {
                snprintf(why, whylen, "bad platt line in the metadata (want A,B with 0 < A <= 100, |B| <= 100)");
                return false;
            }
            p->platt = true;
            p->a = a;
            p->b = b;
        }
    }
    return true;
}

float grin__post_apply(const grin__post *p, float raw, float raw_mirror)
{
    double q = p->flip ? 0.5 * ((double)raw + raw_mirror) : raw;
    if (!p->platt)
        return (float)q;
    const double eps = 1e-7;
    q = q < eps ? eps : (q > 1 - eps ? 1 - eps : q);
    double z = p->a * log(q / (1 - q)) + p->b;
    return (float)(1.0 / (1.0 + exp(-z)));
}

void grin__mirror_pixels(const void *x, void *y, int S, size_t pixel_bytes)
{
    const uint8_t *src = x;
    uint8_t *dst = y;
    for (int r = 0; r < S; r++)
        for (int c = 0; c < S; c++)
            memcpy(dst + ((size_t)r * S + c) * pixel_bytes, src + ((size_t)r * S + (S - 1 - c)) * pixel_bytes,
                   pixel_bytes);
}

void grin__mirror_input(const float *x, float *y, int S, int C)
{
    grin__mirror_pixels(x, y, S, (size_t)C * sizeof *x);
}
