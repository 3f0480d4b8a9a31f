/* model_io.c — grin's classifier file: magic, version, the architecture and how its input must
 * be prepared (size, channels, normalisation, alignment), key=value metadata, then 64-byte
 * aligned parameters and batch-norm statistics, and (version 2) the landmark branch's shape and
 * parameters; since version 3 the file ends with a checksum of all of it (grin__checksum), so a
 * damaged file is refused before anything in it is used. The loader rebuilds the architectures
 * from the header and checks every count against them and against the file's size. Version 1
 * (no branch) and 2 files (no checksum) still load. */
#include "model_io.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "GRINNET\x1a"
#define VERSION 3u /* 3: as 2, then 8 bytes of checksum over everything before them */

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
    /* version 2: the landmark branch (lm_count 0: none) */
    uint32_t lm_first, lm_count, lm_hidden, reserved2;
    uint64_t lm_nparams, lm_offset;
} net_header;

#define V1_HEADER_BYTES offsetof(net_header, lm_first)

void grin__model_free(grin__model *m)
{
    grin__nn_free(&m->net);
    grin__nn_free(&m->lm.net);
}

grin_status grin__model_build_lm(grin__model *m, uint64_t seed, grin_error *err)
{
    grin__lm_branch *b = &m->lm;
    if (b->first < 0 || b->count < 1 || b->first + b->count > 68)
        return grin__fail(err, GRIN_ERR_FORMAT, "landmark branch: points %d..%d of 68", b->first,
                          b->first + b->count - 1);
    for (int k = b->first; k < b->first + b->count; k++)
        if (grin__ibug68_flip[k] < b->first || grin__ibug68_flip[k] >= b->first + b->count)
            return grin__fail(err, GRIN_ERR_FORMAT, "landmark branch: point %d's mirror image %d is not among its points",
                              k, grin__ibug68_flip[k]);
    return grin__nn_landmark_mlp(&b->net, 2 * b->count, b->hidden, seed, err);
}

void grin__lm_features(const grin__lm_branch *b, int S, const grin_point2f *pts, bool mirror, float *f)
{
    const float c = 0.5f * (float)(S - 1), inv = 1.0f / (float)S; /* the crop's mirror: u -> S-1-u */
    for (int k = 0; k < b->count; k++) {
        int i = b->first + k;
        const grin_point2f *p = &pts[mirror ? grin__ibug68_flip[i] : i];
        f[2 * k] = (mirror ? c - p->x : p->x - c) * inv;
        f[2 * k + 1] = (p->y - c) * inv;
    }
}

float grin__lm_run(const grin__lm_branch *b, const float *f)
{
    const grin__nn_net *n = &b->net;
    const grin__nn_layer *l1 = &n->L[0], *l2 = &n->L[2];
    const int in = l1->ic, H = l1->out_c; /* H <= 1024 (grin__nn_landmark_mlp) */
    const float *W1 = n->params + l1->woff, *B1 = n->params + l1->boff;
    const float *W2 = n->params + l2->woff, *B2 = n->params + l2->boff;
    float h[1024];
    memcpy(h, B1, (size_t)H * sizeof *h);
    for (int i = 0; i < in; i++) { /* dense weights are in x out: rows of H, added whole */
        const float fi = f[i], *w = W1 + (size_t)i * H;
        for (int j = 0; j < H; j++)
            h[j] += fi * w[j];
    }
    double z = B2[0];
    for (int j = 0; j < H; j++)
        if (h[j] > 0)
            z += (double)h[j] * W2[j];
    return (float)(1.0 / (1.0 + exp(-z)));
}

void grin__lm_outputs(const grin__lm_branch *b, int S, const grin_point2f *pts, bool mirror, float *r, float *rm)
{
    float f[2 * 68] = {0}; /* (GCC cannot see that the features fill what the branch reads) */
    grin__lm_features(b, S, pts, false, f);
    *r = grin__lm_run(b, f);
    *rm = 0;
    if (mirror) {
        grin__lm_features(b, S, pts, true, f);
        *rm = grin__lm_run(b, f);
    }
}

const char *grin__arch_name(uint32_t arch)
{
    return arch == GRIN__ARCH_MOBILENET_V1 ? "MobileNet v1"
           : arch == GRIN__ARCH_DENSE4     ? "dense4"
           : arch == GRIN__ARCH_FACEREC    ? "face-recognition ResNet"
                                           : "unknown";
}

grin_status grin__arch_build(grin__nn_net *net, uint32_t arch, int size, int channels, float alpha, int outputs,
                             uint64_t seed, grin_error *err)
{
    if (arch == GRIN__ARCH_MOBILENET_V1)
        return grin__nn_mobilenet_heads(net, size, channels, alpha, outputs, seed, err);
    if (arch == GRIN__ARCH_DENSE4)
        return grin__nn_dense4(net, size, channels, alpha, outputs, seed, NULL, err);
    if (arch == GRIN__ARCH_FACEREC)
        return grin__nn_facerec(net, size, channels, outputs, seed, NULL, err);
    return grin__fail(err, GRIN_ERR_UNSUPPORTED, "unknown architecture %u", arch);
}

grin_status grin__model_build(grin__model *m, grin_error *err)
{
    return grin__arch_build(&m->net, m->arch, m->input, m->channels, m->alpha, 1, m->seed, err);
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
    off = (off + h.nstate * 4 + 63) & ~(uint64_t)63;
    if (m->lm.count > 0) {
        h.lm_first = (uint32_t)m->lm.first;
        h.lm_count = (uint32_t)m->lm.count;
        h.lm_hidden = (uint32_t)m->lm.hidden;
        h.lm_nparams = m->lm.net.nparams;
        h.lm_offset = off;
    }
    grin__out out;
    grin_status ost = grin__out_open(&out, path, 0, err);
    if (ost)
        return ost;
    grin__hashed_file f = {.f = out.f};
    grin__hash_init(&f.sum);
    static const char zeros[64];
    bool ok = grin__hashed_write(&f, &h, sizeof h) && grin__hashed_write(&f, m->meta, h.meta_bytes);
    uint64_t pos = sizeof h + h.meta_bytes;
    ok = ok && grin__hashed_write(&f, zeros, h.params_offset - pos);
    ok = ok && grin__hashed_write(&f, m->net.params, h.nparams * 4);
    pos = h.params_offset + h.nparams * 4;
    ok = ok && grin__hashed_write(&f, zeros, h.state_offset - pos);
    ok = ok && grin__hashed_write(&f, m->net.state, h.nstate * 4);
    if (m->lm.count > 0) {
        pos = h.state_offset + h.nstate * 4;
        ok = ok && grin__hashed_write(&f, zeros, h.lm_offset - pos);
        ok = ok && grin__hashed_write(&f, m->lm.net.params, h.lm_nparams * 4);
    }
    ok = ok && grin__hashed_finish(&f);
    return grin__out_close(&out, ok, err); /* (a failed write leaves the path as it was) */
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
    memset(&h, 0, sizeof h);
    if (size < V1_HEADER_BYTES)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated model header", name);
    memcpy(&h, d, V1_HEADER_BYTES);
    if (h.version < 1 || h.version > VERSION)
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: model version %u (this grin reads 1 to %u)",
                          name, h.version, VERSION);
    if (h.version >= 3) { /* the checksum first: nothing of a damaged file is used */
        if (!grin__checksum_ok(d, size))
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: damaged model (its checksum does not match: a changed "
                              "or cut file)", name);
        size -= 8;
        m->checksummed = true;
    } else if (grin__checksum_ok_as(d, size, VERSION)) {
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: damaged model (its version field does not match its checksum)",
                          name);
    }
    size_t hb = h.version == 1 ? V1_HEADER_BYTES : sizeof h;
    if (size < hb)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated model header", name);
    memcpy(&h, d, hb);
    if (h.header_bytes != hb || h.meta_bytes > 65536 || hb + h.meta_bytes > size ||
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
    memcpy(m->meta, d + hb, ml);
    m->meta[ml] = 0;
    char why[128];
    if (!grin__post_parse(m->meta, &m->post, why, sizeof why))
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: %s", name, why);
    /* the stored arrays must be in the file before the network they claim is built (a small
     * header must not make grin allocate what a large network needs) */
    if (h.params_offset % 4 || h.params_offset > size || h.nparams > (size - h.params_offset) / 4 ||
        h.state_offset % 4 || h.state_offset > size || h.nstate > (size - h.state_offset) / 4)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated model (%zu bytes for %llu parameters)", name, size,
                          (unsigned long long)h.nparams);
    grin_status st = grin__model_build(m, err);
    if (st)
        return st;
    if (h.nparams != m->net.nparams || h.nstate != m->net.nstate) {
        size_t have = m->net.nparams;
        grin__nn_free(&m->net);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: %llu parameters stored, the architecture has %zu",
                          name, (unsigned long long)h.nparams, have);
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
    if (h.lm_count == 0) {
        if (h.lm_first || h.lm_hidden || h.lm_nparams || h.lm_offset) {
            grin__nn_free(&m->net);
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: corrupt landmark-branch header", name);
        }
        if (m->post.fuse) {
            grin__nn_free(&m->net);
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: a fuse line but no landmark branch", name);
        }
        return GRIN_OK;
    }
    if (h.lm_first >= 68 || h.lm_count > 68 || h.lm_hidden > 1024) {
        grin__nn_free(&m->net);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: corrupt landmark-branch header", name);
    }
    m->lm.first = (int)h.lm_first;
    m->lm.count = (int)h.lm_count;
    m->lm.hidden = (int)h.lm_hidden;
    grin_error lerr = {{0}};
    st = grin__model_build_lm(m, 0, &lerr);
    if (st) {
        grin__model_free(m);
        return grin__fail(err, st == GRIN_ERR_NO_MEMORY ? st : GRIN_ERR_FORMAT, "%s: %s", name, lerr.msg);
    }
    if (h.lm_nparams != m->lm.net.nparams || h.lm_offset % 4 || h.lm_offset > size ||
        h.lm_nparams * 4 > size - h.lm_offset) {
        grin__model_free(m);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated or corrupt landmark branch", name);
    }
    memcpy(m->lm.net.params, d + h.lm_offset, h.lm_nparams * 4);
    for (size_t i = 0; i < m->lm.net.nparams; i++)
        if (!isfinite(m->lm.net.params[i])) {
            grin__model_free(m);
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: landmark-branch parameter %zu is not finite", name, i);
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
        } else if (!strncmp(l, "fuse=", 5)) {
            float c;
            k = sscanf(l, "fuse=%f,%f,%f%c", &a, &b, &c, &end);
            if ((k != 3 && (k != 4 || end != '\n')) || !isfinite(a) || !isfinite(b) || !isfinite(c) ||
                !(a >= 0) || a > 100 || !(b >= 0) || b > 100 || fabsf(c) > 100) {
                snprintf(why, whylen, "bad fuse line in the metadata (want A,B,C with 0 <= A, B <= 100, |C| <= 100)");
                return false;
            }
            p->fuse = true;
            p->fa = a;
            p->fb = b;
            p->fc = c;
        }
    }
    return true;
}

static double logit_clamped(double q)
{
    const double eps = 1e-7;
    q = q < eps ? eps : (q > 1 - eps ? 1 - eps : q);
    return log(q / (1 - q));
}

float grin__post_apply_lm(const grin__post *p, float raw, float raw_mirror, float lm, float lm_mirror)
{
    if (!p->fuse)
        return grin__post_apply(p, raw, raw_mirror);
    double q = p->flip ? 0.5 * ((double)raw + raw_mirror) : raw;
    double r = p->flip ? 0.5 * ((double)lm + lm_mirror) : lm;
    double z = p->fa * logit_clamped(q) + p->fb * logit_clamped(r) + p->fc;
    return (float)(1.0 / (1.0 + exp(-z)));
}

float grin__post_apply(const grin__post *p, float raw, float raw_mirror)
{
    double q = p->flip ? 0.5 * ((double)raw + raw_mirror) : raw;
    if (!p->platt)
        return (float)q;
    double z = p->a * logit_clamped(q) + p->b;
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
