/* train.c — mini-batch training of a grin__nn_net on aligned face crops: augmentation (zoom,
 * shear, horizontal flip, brightness, contrast), binary cross-entropy, Adam or SGD with
 * momentum, decoupled weight decay, cosine learning rate with one warm-up epoch; deterministic
 * for a seed. */
#include "train.h"

#include <cblas.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void grin__train_cfg_default(grin__train_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = 10;
    c->batch = 64;
    c->lr = 1e-2f;
    c->weight_decay = 1e-4f;
    c->momentum = 0.9f;
    c->seed = 1;
    c->zoom = 0.1f;
    c->shear = 0.1f;
    c->brightness = 0.1f;
    c->contrast = 0.1f;
    c->flip = true;
    c->shards = 2;
    c->threads = 1;
    c->aux_weight = 1.0f;
}

void grin__dataset_free(grin__dataset *d)
{
    free(d->px);
    free(d->y);
    free(d->lm);
    free(d->has_lm);
    free(d->vec);
    free(d->vec_mirror);
    for (int i = 0; d->tag && i < d->n; i++)
        free(d->tag[i]);
    free(d->tag);
    free(d->aux);
    free(d->soft);
    memset(d, 0, sizeof *d);
}

void grin__dataset_floats(const grin__dataset *d, int first, int count, float *x)
{
    size_t n = (size_t)count * d->size * d->size * d->channels;
    if (d->vec) {
        memcpy(x, d->vec + (size_t)first * d->channels, n * sizeof *x);
        return;
    }
    const uint8_t *p = d->px + (size_t)first * d->size * d->size * d->channels;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)p[i] * (1.0f / 127.5f) - 1.0f; /* as the classifier prepares crops */
}

/* bilinear resample of an image into size x size pixels (rounded; a crop of that size already
 * is copied as it is) */
static void to_pixels(const grin_image *img, int size, int ch, uint8_t *dst)
{
    int sch = grin_pixfmt_channels(img->format);
    double sx = (double)img->width / size, sy = (double)img->height / size;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double fx = (x + 0.5) * sx - 0.5, fy = (y + 0.5) * sy - 0.5;
            fx = fx < 0 ? 0 : (fx > img->width - 1 ? img->width - 1 : fx);
            fy = fy < 0 ? 0 : (fy > img->height - 1 ? img->height - 1 : fy);
            int x0 = (int)fx, y0 = (int)fy, x1 = x0 + 1 < img->width ? x0 + 1 : x0,
                y1 = y0 + 1 < img->height ? y0 + 1 : y0;
            double ax = fx - x0, ay = fy - y0;
            for (int c = 0; c < ch; c++) {
                int sc = sch == 1 ? 0 : (ch == 1 ? -1 : c);
                double v[4];
                int xs[4] = {x0, x1, x0, x1}, ys[4] = {y0, y0, y1, y1};
                for (int k = 0; k < 4; k++) {
                    const uint8_t *p = img->data + (size_t)ys[k] * img->stride + (size_t)xs[k] * sch;
                    v[k] = sc >= 0 ? p[sc] : (p[0] * 9798 + p[1] * 19235 + p[2] * 3735 + 16384) >> 15;
                }
                double val = (v[0] * (1 - ax) + v[1] * ax) * (1 - ay) + (v[2] * (1 - ax) + v[3] * ax) * ay;
                long q = lrint(val);
                dst[((size_t)y * size + x) * ch + c] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            }
        }
}

/* 68 "x y" pairs separated by spaces: 1, or -1 when the field is anything else */
static int parse_landmarks(const char *s, grin_point2f *pts)
{
    char *end;
    for (int k = 0; k < 136; k++) {
        double v = strtod(s, &end);
        if (end == s || !isfinite(v) || fabs(v) > 1e6)
            return -1;
        if (k & 1)
            pts[k / 2].y = (float)v;
        else
            pts[k / 2].x = (float)v;
        s = end;
    }
    while (*s == ' ')
        s++;
    return *s ? -1 : 1;
}

static grin_status load(const char *csv, int size, int channels, const char *by, const char *const *aux,
                        int n_aux, grin__dataset *out, grin_error *err);

grin_status grin__dataset_load(const char *csv, int size, int channels, grin__dataset *out,
                               grin_error *err)
{
    return load(csv, size, channels, NULL, NULL, 0, out, err);
}

grin_status grin__dataset_load_by(const char *csv, int size, int channels, const char *by,
                                  grin__dataset *out, grin_error *err)
{
    return load(csv, size, channels, by, NULL, 0, out, err);
}

grin_status grin__dataset_load_aux(const char *csv, int size, int channels, const char *const *names,
                                   int n_aux, grin__dataset *out, grin_error *err)
{
    if (n_aux < 0 || n_aux > GRIN__MAX_AUX)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "%d auxiliary labels (at most %d)", n_aux,
                          GRIN__MAX_AUX);
    return load(csv, size, channels, NULL, names, n_aux, out, err);
}

static grin_status load(const char *csv, int size, int channels, const char *by, const char *const *aux,
                        int n_aux, grin__dataset *out, grin_error *err)
{
    memset(out, 0, sizeof *out);
    out->n_aux = n_aux;
    int aux_col[GRIN__MAX_AUX];
    for (int j = 0; j < n_aux; j++)
        aux_col[j] = -1;
    out->size = size;
    out->channels = channels;
    FILE *f = fopen(csv, "rb");
    if (!f)
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot open", csv);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", csv);
    char *sl = strrchr(dir, '/');
    if (sl)
        sl[1] = 0;
    else
        dir[0] = 0;
    char *line;
    size_t len;
    int lineno = 0, smile_col = -1, lm_col = -1, by_col = -1, cap = 0, got;
    size_t per = (size_t)size * size * channels;
    grin__csv rd = {.f = f};
    while ((got = grin__csv_next(&rd, &line, &len)) != 0) {
        lineno = rd.lineno;
        if (got == -2) {
            fclose(f);
            grin__csv_free(&rd);
            grin__dataset_free(out);
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s:%d: out of memory", csv, lineno);
        }
        if (got < 0) { /* longer than any real row: the whole line is one bad row */
            out->bad++;
            continue;
        }
        if (!len)
            continue;
        char *fields[64];
        int nf = grin__csv_split(line, fields, 64);
        if (smile_col < 0) {
            for (int i = 1; i < nf; i++) {
                if (!strcmp(fields[i], "smile"))
                    smile_col = i;
                if (!strcmp(fields[i], "landmarks"))
                    lm_col = i;
                if (by && !strcmp(fields[i], by))
                    by_col = i;
                for (int j = 0; j < n_aux; j++)
                    if (!strcmp(fields[i], aux[j]))
                        aux_col[j] = i;
            }
            if (by && by_col < 0) {
                fclose(f);
                grin__csv_free(&rd);
                grin__dataset_free(out);
                return grin__fail(err, GRIN_ERR_FORMAT, "%s:%d: no '%s' column", csv, lineno, by);
            }
            if (smile_col < 0) {
                fclose(f);
                grin__csv_free(&rd);
                grin__dataset_free(out);
                return grin__fail(err, GRIN_ERR_FORMAT, "%s:%d: no 'smile' column", csv, lineno);
            }
            continue;
        }
        if (nf <= smile_col || (strcmp(fields[smile_col], "0") && strcmp(fields[smile_col], "1"))) {
            out->bad++;
            continue;
        }
        grin_point2f pts[68];
        int have = lm_col >= 0 && lm_col < nf && fields[lm_col][0] ? parse_landmarks(fields[lm_col], pts) : 0;
        if (have < 0) { /* a landmarks field that is not 68 finite pairs */
            out->bad++;
            continue;
        }
        char path[8192];
        snprintf(path, sizeof path, "%s%s", fields[0][0] == '/' ? "" : dir, fields[0]);
        grin_image img;
        grin_error e2;
        if (grin_image_read(path, channels == 1 ? GRIN_PIX_GRAY8 : GRIN_PIX_RGB24, &img, &e2)) {
            out->bad++;
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 1024;
            uint8_t *nx = realloc(out->px, (size_t)cap * per);
            if (nx) /* the old block is gone once realloc moved it */
                out->px = nx;
            uint8_t *ny = nx ? realloc(out->y, (size_t)cap) : NULL;
            if (ny)
                out->y = ny;
            bool lm_ok = true;
            if (ny && lm_col >= 0) {
                grin_point2f *nl = realloc(out->lm, (size_t)cap * sizeof(grin_point2f[68]));
                if (nl)
                    out->lm = nl;
                uint8_t *nh = nl ? realloc(out->has_lm, (size_t)cap) : NULL;
                if (nh)
                    out->has_lm = nh;
                lm_ok = nl && nh;
            }
            if (ny && n_aux) {
                uint8_t *na = realloc(out->aux, (size_t)cap * n_aux);
                if (na)
                    out->aux = na;
                lm_ok = lm_ok && na;
            }
            if (ny && by) {
                char **nt = realloc(out->tag, (size_t)cap * sizeof *nt);
                if (nt)
                    out->tag = nt;
                lm_ok = lm_ok && nt;
            }
            if (!nx || !ny || !lm_ok) {
                grin_image_free(&img);
                fclose(f);
                grin__csv_free(&rd);
                grin__dataset_free(out);
                return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", csv);
            }
        }
        to_pixels(&img, size, channels, out->px + (size_t)out->n * per);
        if (lm_col >= 0) { /* scaled with the crop, as to_pixels resamples it */
            out->has_lm[out->n] = (uint8_t)have;
            grin_point2f *d = out->lm + (size_t)out->n * 68;
            double sx = (double)size / img.width, sy = (double)size / img.height;
            for (int k = 0; k < 68; k++) {
                d[k].x = have ? (float)((pts[k].x + 0.5) * sx - 0.5) : 0.0f;
                d[k].y = have ? (float)((pts[k].y + 0.5) * sy - 0.5) : 0.0f;
            }
        }
        if (by) {
            const char *v = by_col < nf ? fields[by_col] : "";
            size_t vl = strlen(v) + 1;
            if (!(out->tag[out->n] = malloc(vl))) {
                grin_image_free(&img);
                fclose(f);
                grin__csv_free(&rd);
                grin__dataset_free(out);
                return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", csv);
            }
            memcpy(out->tag[out->n], v, vl);
        }
        for (int j = 0; j < n_aux; j++) {
            const char *v = aux_col[j] >= 0 && aux_col[j] < nf ? fields[aux_col[j]] : "";
            out->aux[(size_t)out->n * n_aux + j] =
                !strcmp(v, "1") ? 1 : (!strcmp(v, "0") || !strcmp(v, "-1")) ? 0 : 255;
        }
        out->y[out->n++] = (uint8_t)(fields[smile_col][0] - '0');
        grin_image_free(&img);
    }
    fclose(f);
    grin__csv_free(&rd);
    if (out->n == 0) {
        grin__dataset_free(out);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: no usable rows", csv);
    }
    return GRIN_OK;
}

grin_status grin__dataset_append(grin__dataset *dst, const grin__dataset *src)
{
    if (dst->n == 0) {
        dst->size = src->size;
        dst->channels = src->channels;
    }
    if (dst->n == 0 && !dst->aux)
        dst->n_aux = src->n_aux;
    if (dst->size != src->size || dst->channels != src->channels || dst->vec || src->vec || dst->tag ||
        src->tag || dst->n_aux != src->n_aux || dst->soft || src->soft)
        return GRIN_ERR_INVALID_ARGUMENT;
    if (src->n_aux) {
        uint8_t *na = realloc(dst->aux, ((size_t)dst->n + src->n) * src->n_aux);
        if (!na)
            return GRIN_ERR_NO_MEMORY;
        dst->aux = na;
        memcpy(dst->aux + (size_t)dst->n * src->n_aux, src->aux, (size_t)src->n * src->n_aux);
    }
    if (src->lm || dst->lm) { /* landmarks where either has them; rows without get has_lm 0 */
        size_t total = (size_t)dst->n + src->n;
        grin_point2f *nl = realloc(dst->lm, (total ? total : 1) * sizeof(grin_point2f[68]));
        if (!nl)
            return GRIN_ERR_NO_MEMORY;
        dst->lm = nl;
        uint8_t *nh = realloc(dst->has_lm, total ? total : 1);
        if (!nh)
            return GRIN_ERR_NO_MEMORY;
        if (!dst->has_lm)
            memset(nh, 0, (size_t)dst->n);
        dst->has_lm = nh;
        if (src->lm) {
            memcpy(dst->lm + (size_t)dst->n * 68, src->lm, (size_t)src->n * sizeof(grin_point2f[68]));
            memcpy(dst->has_lm + dst->n, src->has_lm, (size_t)src->n);
        } else {
            memset(dst->has_lm + dst->n, 0, (size_t)src->n);
        }
    }
    size_t per = (size_t)src->size * src->size * src->channels;
    uint8_t *nx = realloc(dst->px, ((size_t)dst->n + src->n) * per);
    if (!nx)
        return GRIN_ERR_NO_MEMORY;
    dst->px = nx;
    uint8_t *ny = realloc(dst->y, (size_t)dst->n + src->n);
    if (!ny)
        return GRIN_ERR_NO_MEMORY;
    dst->y = ny;
    memcpy(dst->px + (size_t)dst->n * per, src->px, (size_t)src->n * per);
    memcpy(dst->y + dst->n, src->y, (size_t)src->n);
    dst->n += src->n;
    dst->bad += src->bad;
    return GRIN_OK;
}

grin_status grin__dataset_lm_vectors(const grin__dataset *d, const grin__lm_branch *b, int S,
                                     grin__dataset *out)
{
    memset(out, 0, sizeof *out);
    int n = 0;
    for (int i = 0; d->has_lm && i < d->n; i++)
        n += d->has_lm[i];
    if (n == 0)
        return GRIN_ERR_INVALID_ARGUMENT;
    const int D = 2 * b->count;
    out->size = 1;
    out->channels = D;
    out->y = malloc((size_t)n);
    out->vec = malloc((size_t)n * D * sizeof(float));
    out->vec_mirror = malloc((size_t)n * D * sizeof(float));
    if (!out->y || !out->vec || !out->vec_mirror) {
        grin__dataset_free(out);
        return GRIN_ERR_NO_MEMORY;
    }
    for (int i = 0; i < d->n; i++) {
        if (!d->has_lm[i])
            continue;
        grin__lm_features(b, S, d->lm + (size_t)i * 68, false, out->vec + (size_t)out->n * D);
        grin__lm_features(b, S, d->lm + (size_t)i * 68, true, out->vec_mirror + (size_t)out->n * D);
        out->y[out->n++] = d->y[i];
    }
    return GRIN_OK;
}

/* ------------------------------------------------------------------ randomness */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * ((rng_next(s) >> 11) / 9007199254740992.0);
}

/* one pass of a separable [1 2 1] / 4 blur over a size x size x ch float image (borders
 * replicated); tmp holds size x size x ch floats */
static void blur121(float *img, float *tmp, int size, int ch)
{
    for (int pass = 0; pass < 2; pass++) { /* rows into tmp, then columns back */
        const float *src = pass ? tmp : img;
        float *dst = pass ? img : tmp;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                int a = pass ? (y ? y - 1 : 0) : (x ? x - 1 : 0), b = pass ? (y + 1 < size ? y + 1 : y)
                                                                          : (x + 1 < size ? x + 1 : x);
                for (int k = 0; k < ch; k++) {
                    size_t i0 = pass ? ((size_t)a * size + x) * ch + k : ((size_t)y * size + a) * ch + k,
                           i1 = ((size_t)y * size + x) * ch + k,
                           i2 = pass ? ((size_t)b * size + x) * ch + k : ((size_t)y * size + b) * ch + k;
                    dst[i1] = 0.25f * src[i0] + 0.5f * src[i1] + 0.25f * src[i2];
                }
            }
    }
}

/* One augmented copy of row i: an affine warp (zoom, shear, flip, and when asked rotation and
 * shift) about the centre, then contrast and brightness, bilinear with replicated borders, and
 * when asked a blur; of a vector dataset's row, the row or (flip) its mirror image's. The extra
 * draws are made only for the options that are on, so runs without them keep their numbers. */
void grin__augment(const grin__dataset *set, int i, float *dst, const grin__train_cfg *cfg, uint64_t *rng)
{
    const int size = set->size, ch = set->channels;
    if (set->vec) {
        bool fl = cfg->flip && (rng_next(rng) & 1);
        memcpy(dst, (fl ? set->vec_mirror : set->vec) + (size_t)i * ch, (size_t)ch * sizeof *dst);
        return;
    }
    const uint8_t *src = set->px + (size_t)i * size * size * ch;
    double z = uniform(rng, 1.0 - cfg->zoom, 1.0 + cfg->zoom);
    double sh = uniform(rng, -cfg->shear, cfg->shear);
    double fl = cfg->flip && (rng_next(rng) & 1) ? -1.0 : 1.0;
    double con = uniform(rng, 1.0 - cfg->contrast, 1.0 + cfg->contrast);
    double bri = uniform(rng, -cfg->brightness, cfg->brightness);
    double th = cfg->rotate > 0 ? uniform(rng, -cfg->rotate, cfg->rotate) * (3.14159265358979323846 / 180) : 0.0;
    double tx = cfg->shift > 0 ? uniform(rng, -cfg->shift, cfg->shift) * size : 0.0;
    double ty = cfg->shift > 0 ? uniform(rng, -cfg->shift, cfg->shift) * size : 0.0;
    int blurs = cfg->blur > 0 && uniform(rng, 0, 1) < cfg->blur ? 1 + (int)(rng_next(rng) & 1) : 0;
    double ct = cos(th), st = sin(th);
    double c = 0.5 * (size - 1);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double u0 = (x - c) * fl, v0 = y - c;
            double u = ct * u0 - st * v0, v = st * u0 + ct * v0;
            double sx = (u + sh * v) / z + c + tx, sy = v / z + c + ty;
            sx = sx < 0 ? 0 : (sx > size - 1 ? size - 1 : sx);
            sy = sy < 0 ? 0 : (sy > size - 1 ? size - 1 : sy);
            int x0 = (int)sx, y0 = (int)sy, x1 = x0 + 1 < size ? x0 + 1 : x0,
                y1 = y0 + 1 < size ? y0 + 1 : y0;
            double ax = sx - x0, ay = sy - y0;
            for (int k = 0; k < ch; k++) {
                double a = src[((size_t)y0 * size + x0) * ch + k], b = src[((size_t)y0 * size + x1) * ch + k];
                double cc = src[((size_t)y1 * size + x0) * ch + k], d = src[((size_t)y1 * size + x1) * ch + k];
                double val = ((a * (1 - ax) + b * ax) * (1 - ay) + (cc * (1 - ax) + d * ax) * ay) / 127.5 - 1.0;
                val = val * con + bri;
                dst[((size_t)y * size + x) * ch + k] = (float)(val < -1 ? -1 : (val > 1 ? 1 : val));
            }
        }
    if (blurs) {
        float *tmp = malloc(sizeof *tmp * (size_t)size * size * ch);
        for (int b = 0; tmp && b < blurs; b++) /* (without memory, the crop stays sharp) */
            blur121(dst, tmp, size, ch);
        free(tmp);
    }
}

grin_status grin__predict(const grin__nn_net *net, const grin__dataset *d, float *prob)
{
    grin__nn_ws ws = {0};
    size_t per = (size_t)d->size * d->size * d->channels;
    const int B = 64;
    float *x = malloc((size_t)B * per * sizeof *x);
    grin_status st = x ? GRIN_OK : GRIN_ERR_NO_MEMORY;
    for (int i = 0; i < d->n && !st; i += B) {
        int b = d->n - i < B ? d->n - i : B;
        const float *out;
        grin__dataset_floats(d, i, b, x);
        st = grin__nn_forward(net, &ws, x, b, false, &out);
        const int C = net->L[net->n - 1].c; /* the smile is the first output */
        for (int k = 0; !st && k < b; k++)
            prob[i + k] = out[(size_t)k * C];
    }
    free(x);
    grin__nn_ws_free(&ws);
    return st;
}

/* ------------------------------------------------------------------ training */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- checkpoints: "GRINCKPT" v3, the header below, then params, state, m1, m2 (floats) and the
 * shuffle order (int32), all little-endian as in memory, then the checksum of all that (8 bytes,
 * grin__checksum); version 2 (the same without the checksum) is still resumed */
#define CKPT_MAGIC "GRINCKPT"
typedef struct {
    char magic[8];
    uint32_t version, header_bytes;
    uint64_t nparams, nstate, ntrain;
    int32_t epochs, batch, epoch_done, sgd, shards, reserved;
    int64_t step;
    uint64_t seed, rng;
    float lr, weight_decay;
} ckpt_header;

static grin_status ckpt_save(const char *path, const grin__nn_net *net, const float *m1, const float *m2,
                             const int *order, const ckpt_header *h, grin_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot create checkpoint", tmp);
    grin__hashed_file w = {.f = f};
    grin__hash_init(&w.sum);
    bool ok = grin__hashed_write(&w, h, sizeof *h) && grin__hashed_write(&w, net->params, 4 * net->nparams) &&
              grin__hashed_write(&w, net->state, 4 * net->nstate) && grin__hashed_write(&w, m1, 4 * net->nparams) &&
              grin__hashed_write(&w, m2, 4 * net->nparams) && grin__hashed_write(&w, order, 4 * h->ntrain) &&
              grin__hashed_finish(&w);
    if (fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot write checkpoint", path);
    }
    return GRIN_OK;
}

/* whether the 8 bytes after what was read are the checksum of all of it (and end the file) */
static bool ckpt_sum_ok(FILE *f, const ckpt_header *h, const grin__nn_net *net, const float *m1, const float *m2,
                        const int *order)
{
    grin__hasher s;
    grin__hash_init(&s);
    grin__hash_update(&s, h, sizeof *h);
    grin__hash_update(&s, net->params, 4 * net->nparams);
    grin__hash_update(&s, net->state, 4 * net->nstate);
    grin__hash_update(&s, m1, 4 * net->nparams);
    grin__hash_update(&s, m2, 4 * net->nparams);
    grin__hash_update(&s, order, 4 * h->ntrain);
    uint8_t want[8], got[9];
    grin__checksum_put(want, grin__hash_final(&s));
    return fread(got, 1, 9, f) == 8 && memcmp(want, got, 8) == 0;
}

/* -1 when there is no checkpoint yet; any mismatch with this run is an error */
static int ckpt_load(const char *path, grin__nn_net *net, float *m1, float *m2, int *order,
                             const ckpt_header *want, ckpt_header *h, grin_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    grin_status st = GRIN_OK;
    if (fread(h, sizeof *h, 1, f) != 1 || memcmp(h->magic, CKPT_MAGIC, 8) || (h->version != 2 && h->version != 3) ||
        h->header_bytes != sizeof *h) {
        st = grin__fail(err, GRIN_ERR_FORMAT, "%s: not a grin training checkpoint (or another version)", path);
    } else if (h->nparams != want->nparams || h->nstate != want->nstate || h->ntrain != want->ntrain ||
               h->epochs != want->epochs || h->batch != want->batch || h->seed != want->seed ||
               h->sgd != want->sgd || h->shards != want->shards || h->lr != want->lr ||
               h->weight_decay != want->weight_decay || h->reserved != want->reserved) {
        st = grin__fail(err, GRIN_ERR_INVALID_ARGUMENT,
                        "%s: checkpoint of a different run (network, data, epochs, batch, shards, seed "
                        "or optimiser differ)", path);
    } else if (h->epoch_done < 0 || h->epoch_done > h->epochs ||
               fread(net->params, 4, net->nparams, f) != net->nparams ||
               fread(net->state, 4, net->nstate, f) != net->nstate || fread(m1, 4, net->nparams, f) != net->nparams ||
               fread(m2, 4, net->nparams, f) != net->nparams || fread(order, 4, h->ntrain, f) != h->ntrain) {
        st = grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated checkpoint", path);
    } else if (h->version >= 3 && !ckpt_sum_ok(f, h, net, m1, m2, order)) {
        st = grin__fail(err, GRIN_ERR_FORMAT, "%s: damaged checkpoint (its checksum does not match)", path);
    } else {
        for (uint64_t i = 0; i < h->ntrain && !st; i++)
            if (order[i] < 0 || (uint64_t)order[i] >= h->ntrain)
                st = grin__fail(err, GRIN_ERR_FORMAT, "%s: corrupt checkpoint", path);
    }
    fclose(f);
    return st;
}

/* ---- one shard of a batch: forward and backward on a shallow copy of the net with its own
 * gradients and batch-norm running statistics */
typedef struct {
    const grin__nn_net *net;
    const grin__dataset *train;
    const int *order; /* the batch's rows */
    const float *xb;
    float *dl;  /* b x outputs */
    double aux_w; /* each auxiliary head's weight */
    double distill; /* the teacher's share of the smile's target (with train->soft) */
    int b, G, start[65];
    size_t per;
    grin__nn_net *local;
    grin__nn_ws *ws;
    double *loss;
    long *correct;
    grin_status *st;
} shard_ctx;

static void shard_step(void *vctx, int g, int thread)
{
    (void)thread;
    shard_ctx *c = vctx;
    grin__nn_net *L = &c->local[g];
    int n0 = c->start[g], nb = c->start[g + 1] - n0;
    memcpy(L->state, c->net->state, c->net->nstate * sizeof(float));
    memset(L->grads, 0, c->net->nparams * sizeof(float));
    grin__nn_ws *ws = &c->ws[g];
    const float *out, *x = c->xb + (size_t)n0 * c->per;
    c->st[g] = grin__nn_forward(L, ws, x, nb, true, &out);
    if (c->st[g])
        return;
    const float *z = ws->act[c->net->n - 2];
    const int C = c->net->L[c->net->n - 2].c, K = c->train->n_aux; /* C == 1 + K */
    double loss = 0;
    long correct = 0;
    for (int k = 0; k < nb; k++) {
        int row = c->order[n0 + k];
        double zz = z[(size_t)k * C], label = c->train->y[row], y = label;
        if (c->train->soft) /* distillation: the label blended with the teacher's probability */
            y = (1.0 - c->distill) * label + c->distill * c->train->soft[row];
        loss += (zz > 0 ? zz : 0) - zz * y + log1p(exp(-fabs(zz)));
        correct += (zz >= 0) == (label > 0.5);
        float *d = c->dl + (size_t)(n0 + k) * C;
        d[0] = (float)((1.0 / (1.0 + exp(-zz)) - y) / c->b); /* the whole batch's mean */
        for (int j = 0; j < K; j++) { /* auxiliary heads: only where the row has the label */
            uint8_t a = c->train->aux[(size_t)row * K + j];
            double za = z[(size_t)k * C + 1 + j];
            d[1 + j] = a == 255 ? 0.0f : (float)(c->aux_w * (1.0 / (1.0 + exp(-za)) - a) / c->b);
        }
    }
    c->loss[g] = loss;
    c->correct[g] = correct;
    c->st[g] = grin__nn_backward(L, ws, x, c->dl + (size_t)n0 * C);
}

grin_status grin__train(grin__nn_net *net, const grin__dataset *train, const grin__dataset *val,
                        const grin__train_cfg *cfg, grin__epoch_fn on_epoch, void *ctx,
                        grin_error *err)
{
    grin__gemm_blas_link(); /* OpenBLAS for the training engine's GEMM */
    if (train->size != net->in_h || train->channels != net->in_c)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "training images are %dx%dx%d, the net takes %dx%dx%d",
                          train->size, train->size, train->channels, net->in_h, net->in_w, net->in_c);
    const int C = net->L[net->n - 1].c;
    if (C != 1 + train->n_aux || (val && val->n_aux))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "the net has %d outputs for the smile and %d auxiliary labels",
                          C, train->n_aux);
    int B = cfg->batch < 1 ? 1 : cfg->batch;
    size_t per = (size_t)train->size * train->size * train->channels, P = net->nparams;
    float *xb = malloc((size_t)B * per * sizeof(float));
    float *dl = malloc((size_t)B * C * sizeof(float));
    int *order = malloc((size_t)train->n * sizeof(int));
    float *m1 = calloc(P, sizeof(float)), *m2 = calloc(P, sizeof(float));
    unsigned char *decay = calloc(P, 1);
    float *vprob = val ? malloc((size_t)(val->n ? val->n : 1) * sizeof(float)) : NULL;
    int G = cfg->shards < 1 ? 1 : (cfg->shards > 64 ? 64 : cfg->shards);
    if (G > B / 2)
        G = B / 2 > 0 ? B / 2 : 1;
    int T = cfg->threads == 0 ? grin__online_cpus() : (cfg->threads < 1 ? 1 : cfg->threads);
    if (T > G)
        T = G;
    grin__nn_net local[64];
    grin__nn_ws ws[64];
    double shard_loss[64];
    long shard_correct[64];
    grin_status shard_st[64];
    memset(local, 0, sizeof local);
    memset(ws, 0, sizeof ws);
    grin__pool *pool = NULL;
    bool oom = false;
    for (int g = 0; g < G; g++) {
        local[g] = *net;
        local[g].grads = malloc((P ? P : 1) * sizeof(float));
        local[g].state = malloc((net->nstate ? net->nstate : 1) * sizeof(float));
        oom |= !local[g].grads || !local[g].state;
    }
    if (T > 1) {
        pool = grin__pool_create(T);
        oom |= !pool;
        openblas_set_num_threads(1); /* the shards are the parallelism */
    }
    grin_status st = GRIN_OK;
    if (oom || !xb || !dl || !order || !m1 || !m2 || !decay || (val && !vprob)) {
        st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory for training");
        goto done;
    }
    for (int i = 0; i < net->n; i++) /* weight decay on conv and dense weights only */
        if (net->L[i].op == GRIN__NN_CONV || net->L[i].op == GRIN__NN_DENSE)
            memset(decay + net->L[i].woff, 1, net->L[i].wn);
    for (int i = 0; i < train->n; i++)
        order[i] = i;
    uint64_t rng = cfg->seed * 0x2545f4914f6cdd1dull + 7;
    long steps_per_epoch = (train->n + B - 1) / B, total = steps_per_epoch * cfg->epochs, step = 0;
    int first = 0;
    ckpt_header want;
    memset(&want, 0, sizeof want);
    memcpy(want.magic, CKPT_MAGIC, 8);
    want.version = 3;
    want.header_bytes = sizeof want;
    want.nparams = P;
    want.nstate = net->nstate;
    want.ntrain = (uint64_t)train->n;
    want.epochs = cfg->epochs;
    want.batch = B;
    want.sgd = cfg->sgd;
    want.shards = G;
    want.seed = cfg->seed;
    want.lr = cfg->lr;
    want.weight_decay = cfg->weight_decay;
    if (train->n_aux) /* (the auxiliary heads' weight in the reserved field: 0 without) */
        memcpy(&want.reserved, &cfg->aux_weight, sizeof want.reserved);
    if (train->soft) { /* ... mixed with a fingerprint of the teacher's targets and their share */
        uint64_t h = 0xcbf29ce484222325ull;
        for (int i = 0; i < train->n; i++) {
            uint32_t u;
            memcpy(&u, &train->soft[i], sizeof u);
            h = (h ^ u) * 0x100000001b3ull;
        }
        uint32_t dw;
        memcpy(&dw, &cfg->distill, sizeof dw);
        h = (h ^ dw) * 0x100000001b3ull;
        want.reserved ^= (int32_t)(uint32_t)(h ^ (h >> 32)) | 1; /* never 0: never a plain run's */
    }
    if (cfg->checkpoint && cfg->resume) {
        ckpt_header h;
        int cs = ckpt_load(cfg->checkpoint, net, m1, m2, order, &want, &h, err);
        if (cs == GRIN_OK) {
            first = h.epoch_done;
            step = (long)h.step;
            rng = h.rng;
        } else if (cs != -1) {
            st = (grin_status)cs;
            goto done;
        }
    }
    int stop = cfg->stop_after > 0 ? first + cfg->stop_after : cfg->epochs;
    for (int ep = first; ep < cfg->epochs && ep < stop && !st; ep++) {
        double t0 = now_s(), loss_sum = 0;
        long correct = 0;
        for (int i = train->n - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(rng_next(&rng) % (uint64_t)(i + 1));
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int s0 = 0; s0 < train->n && !st; s0 += B, step++) {
            int b = train->n - s0 < B ? train->n - s0 : B;
            if (b < 2)
                break; /* batch statistics need two samples */
            for (int k = 0; k < b; k++)
                grin__augment(train, order[s0 + k], xb + (size_t)k * per, cfg, &rng);
            /* the shards: near-equal parts of at least two crops each */
            int g_here = b / 2 < G ? (b / 2 > 0 ? b / 2 : 1) : G;
            shard_ctx sc = {.net = net, .train = train, .order = order + s0, .xb = xb, .dl = dl, .b = b,
                            .aux_w = train->n_aux ? cfg->aux_weight / train->n_aux : 0.0,
                            .distill = cfg->distill,
                            .G = g_here, .per = per, .local = local, .ws = ws, .loss = shard_loss,
                            .correct = shard_correct, .st = shard_st};
            for (int g = 0; g <= g_here; g++)
                sc.start[g] = (int)((long)b * g / g_here);
            if (pool && g_here > 1)
                grin__pool_run(pool, shard_step, &sc, g_here);
            else
                for (int g = 0; g < g_here; g++)
                    shard_step(&sc, g, 0);
            for (int g = 0; g < g_here && !st; g++)
                st = shard_st[g];
            if (st)
                break;
            /* sums in shard order, so any number of threads gives the same bits */
            for (int g = 0; g < g_here; g++) {
                loss_sum += shard_loss[g];
                correct += shard_correct[g];
            }
            memcpy(net->grads, local[0].grads, P * sizeof(float));
            for (int g = 1; g < g_here; g++)
                for (size_t p = 0; p < P; p++)
                    net->grads[p] += local[g].grads[p];
            for (size_t k = 0; k < net->nstate; k++) {
                float sum = local[0].state[k];
                for (int g = 1; g < g_here; g++)
                    sum += local[g].state[k];
                net->state[k] = sum / (float)g_here;
            }
            /* learning rate: linear warm-up over the first epoch, then cosine to zero */
            double lr = cfg->lr;
            if (step < steps_per_epoch)
                lr *= (double)(step + 1) / steps_per_epoch;
            else
                lr *= 0.5 * (1 + cos(3.141592653589793 * (step - steps_per_epoch) / (double)(total - steps_per_epoch + 1)));
            double b1 = 0.9, b2 = 0.999, t = (double)(step + 1);
            double c1 = 1 - pow(b1, t), c2 = 1 - pow(b2, t);
            for (size_t p = 0; p < P; p++) {
                float g = net->grads[p];
                if (cfg->sgd) {
                    g += decay[p] ? cfg->weight_decay * net->params[p] : 0.0f;
                    m1[p] = cfg->momentum * m1[p] + g;
                    net->params[p] -= (float)lr * m1[p];
                } else {
                    m1[p] = (float)(b1 * m1[p] + (1 - b1) * g);
                    m2[p] = (float)(b2 * m2[p] + (1 - b2) * (double)g * g);
                    double upd = (m1[p] / c1) / (sqrt(m2[p] / c2) + 1e-7);
                    if (decay[p])
                        upd += cfg->weight_decay * net->params[p];
                    net->params[p] -= (float)(lr * upd);
                }
            }
            if (cfg->verbose_tty) {
                double el = now_s() - t0, frac = (double)(s0 + b) / train->n;
                fprintf(stderr, "\r  epoch %d/%d [%-30.*s] %3.0f%% loss %.4f acc %.3f eta %.0fs ", ep + 1,
                        cfg->epochs, (int)(30 * frac), "##############################", 100 * frac,
                        loss_sum / (s0 + b), (double)correct / (s0 + b), el / frac - el);
            }
        }
        if (cfg->verbose_tty)
            fputc('\n', stderr);
        grin__metrics vm = {0};
        if (!st && val && val->n) {
            st = grin__predict(net, val, vprob);
            if (!st)
                grin__metrics_from(vprob, val->y, val->n, &vm);
        }
        if (!st && cfg->checkpoint) {
            ckpt_header h = want;
            h.epoch_done = ep + 1;
            h.step = step;
            h.rng = rng;
            st = ckpt_save(cfg->checkpoint, net, m1, m2, order, &h, err);
        }
        if (!st && on_epoch)
            on_epoch(ctx, ep + 1, loss_sum / train->n, (double)correct / train->n, val ? &vm : NULL,
                     now_s() - t0);
    }
    if (st && err && !err->msg[0])
        grin__fail(err, st, "training failed: %s", grin_status_str(st));
done:
    for (int g = 0; g < G; g++) {
        grin__nn_ws_free(&ws[g]);
        free(local[g].grads);
        free(local[g].state);
    }
    grin__pool_free(pool);
    free(xb);
    free(dl);
    free(order);
    free(m1);
    free(m2);
    free(decay);
    free(vprob);
    return st;
}

grin_status grin__train_lm_branch(grin__lm_branch *b, grin__dataset *train, grin__dataset *val,
                                  const grin__train_cfg *cfg, grin__epoch_fn on_epoch, void *ctx,
                                  grin_error *err)
{
    const int D = train->channels, H = b->hidden;
    if (!train->vec || !train->vec_mirror || train->n < 1 || D != 2 * b->count || b->net.in_c != D ||
        (val && val->n && (!val->vec || val->channels != D)))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "landmark branch: the data are not its inputs");
    double *mu = calloc((size_t)D, sizeof *mu), *sd = calloc((size_t)D, sizeof *sd);
    if (!mu || !sd) {
        free(mu);
        free(sd);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    const size_t n = (size_t)train->n;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++)
            mu[j] += (double)train->vec[i * D + j] + train->vec_mirror[i * D + j];
    for (int j = 0; j < D; j++)
        mu[j] /= 2.0 * (double)n;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++) {
            double a = train->vec[i * D + j] - mu[j], c = train->vec_mirror[i * D + j] - mu[j];
            sd[j] += a * a + c * c;
        }
    for (int j = 0; j < D; j++)
        sd[j] = fmax(sqrt(sd[j] / (2.0 * (double)n)), 1e-4);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++) {
            train->vec[i * D + j] = (float)((train->vec[i * D + j] - mu[j]) / sd[j]);
            train->vec_mirror[i * D + j] = (float)((train->vec_mirror[i * D + j] - mu[j]) / sd[j]);
        }
    for (size_t i = 0; val && i < (size_t)val->n; i++)
        for (int j = 0; j < D; j++)
            val->vec[i * D + j] = (float)((val->vec[i * D + j] - mu[j]) / sd[j]);
    grin_status st = grin__train(&b->net, train, val && val->n ? val : NULL, cfg, on_epoch, ctx, err);
    if (!st) { /* fold the standardisation into the first layer: W' = W / sd, b' = b - sum W mu / sd */
        grin__nn_layer *l = &b->net.L[0];
        float *W = b->net.params + l->woff, *B = b->net.params + l->boff;
        for (int j = 0; j < H; j++) {
            double bias = B[j];
            for (int i = 0; i < D; i++) {
                bias -= (double)W[(size_t)i * H + j] * mu[i] / sd[i];
                W[(size_t)i * H + j] = (float)(W[(size_t)i * H + j] / sd[i]);
            }
            B[j] = (float)bias;
        }
    }
    free(mu);
    free(sd);
    return st;
}
