/* import_tfjs.c — face-api.js's face expression network (a TensorFlow.js weights manifest and its
 * weight files) as a grin model: the same layers (grin__nn_dense4), the weights dequantized, the
 * input normalisation folded into the first convolution, and the seven-way expression head either
 * kept whole or reduced to one "happy rather than neutral" logit, the start of a smile network. */
#include "import_tfjs.h"

#include "../core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MANIFEST (4u << 20)
#define MAX_WEIGHTS (256u << 20)
#define MAX_TENSORS 4096
#define MAX_ELEMENTS (64u << 20)

/* face-api.js's input: RGB pixels minus these means, over 255 */
static const double FACEAPI_MEAN[3] = {122.782, 117.001, 104.298};
/* its expression order */
enum { NEUTRAL = 0, HAPPY = 1, N_EXPRESSIONS = 7 };

typedef struct {
    const char *name;
    int rank, shape[4];
    size_t count;
    float *v; /* dequantized */
} tensor;

typedef struct {
    tensor *t;
    int n;
} tensor_set;

static void set_free(tensor_set *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->t[i].v);
    free(s->t);
    memset(s, 0, sizeof *s);
}

static const tensor *find(const tensor_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->t[i].name, name))
            return &s->t[i];
    return NULL;
}

/* a shard path inside the manifest's folder: plain names and subfolders, never absolute or .. */
static bool safe_shard_name(const char *p)
{
    if (!*p || *p == '/' || strlen(p) > 1024)
        return false;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 2 && !memcmp(s, "..", 2)) || (n == 1 && *s == '.'))
            return false;
        s += n + (e != NULL);
    }
    return true;
}

static float half_to_float(uint16_t h)
{
    int e = h >> 10 & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 1024), e - 25);
    return h & 0x8000 ? -v : v;
}

/* one group of the manifest: its shards read in order and its tensors cut from them */
static grin_status read_group(const char *dir, const grin__json *g, tensor_set *set, const char *mpath,
                              grin_error *err)
{
    const grin__json *paths = grin__json_get(g, "paths"), *weights = grin__json_get(g, "weights");
    if (!paths || paths->kind != GRIN__JSON_ARRAY || !weights || weights->kind != GRIN__JSON_ARRAY)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: a weight group without \"paths\" and \"weights\" lists", mpath);
    uint8_t *data = NULL;
    size_t size = 0;
    grin_status st = GRIN_OK;
    for (size_t i = 0; i < paths->n && !st; i++) {
        const char *p = grin__json_string(&paths->items[i]);
        if (!p || !safe_shard_name(p)) {
            st = grin__fail(err, GRIN_ERR_FORMAT, "%s: weight file name %s refused (a name inside the manifest's folder)",
                            mpath, p ? p : "(not a string)");
            break;
        }
        char full[4096];
        if (snprintf(full, sizeof full, "%s%s", dir, p) >= (int)sizeof full) {
            st = grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "%s: path too long", mpath);
            break;
        }
        uint8_t *d;
        size_t n;
        st = grin__read_file(full, &d, &n, MAX_WEIGHTS - size, err);
        if (st)
            break;
        uint8_t *nd = realloc(data, size + n + 1);
        if (!nd) {
            free(d);
            st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
            break;
        }
        data = nd;
        memcpy(data + size, d, n);
        size += n;
        free(d);
    }
    size_t off = 0;
    for (size_t i = 0; i < weights->n && !st; i++) {
        const grin__json *w = &weights->items[i];
        const char *name = grin__json_string(grin__json_get(w, "name"));
        const char *dtype = grin__json_string(grin__json_get(w, "dtype"));
        const grin__json *shape = grin__json_get(w, "shape"), *q = grin__json_get(w, "quantization");
        if (!name || !dtype || !shape || shape->kind != GRIN__JSON_ARRAY || shape->n > 4) {
            st = grin__fail(err, GRIN_ERR_FORMAT, "%s: weight %zu needs a name, a dtype and a shape of rank <= 4", mpath,
                            i);
            break;
        }
        if (set->n == MAX_TENSORS) {
            st = grin__fail(err, GRIN_ERR_FORMAT, "%s: more than %d weights", mpath, MAX_TENSORS);
            break;
        }
        tensor t = {.name = name, .rank = (int)shape->n, .count = 1};
        for (size_t k = 0; k < shape->n; k++) {
            double d = shape->items[k].number;
            if (shape->items[k].kind != GRIN__JSON_NUMBER || d < 1 || d > MAX_ELEMENTS || d != floor(d) ||
                (t.count *= (size_t)d) > MAX_ELEMENTS) {
                st = grin__fail(err, GRIN_ERR_FORMAT, "%s: weight %s has a bad shape", mpath, name);
                break;
            }
            t.shape[k] = (int)d;
        }
        if (st)
            break;
        /* stored as float32, or quantized: uint8 / uint16 with scale and min, or float16 */
        const char *qd = q ? grin__json_string(grin__json_get(q, "dtype")) : NULL;
        double scale = 1, min = 0;
        int bytes;
        if (strcmp(dtype, "float32")) {
            st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: weight %s is %s (float32 weights only)", mpath, name, dtype);
            break;
        }
        if (!q) {
            bytes = 4;
        } else if (qd && (!strcmp(qd, "uint8") || !strcmp(qd, "uint16"))) {
            const grin__json *js = grin__json_get(q, "scale"), *jm = grin__json_get(q, "min");
            if (!js || js->kind != GRIN__JSON_NUMBER || !jm || jm->kind != GRIN__JSON_NUMBER) {
                st = grin__fail(err, GRIN_ERR_FORMAT, "%s: weight %s: quantization without scale and min", mpath, name);
                break;
            }
            scale = js->number, min = jm->number;
            bytes = qd[4] == '8' ? 1 : 2;
        } else if (qd && !strcmp(qd, "float16")) {
            bytes = -2;
        } else {
            st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: weight %s: quantization %s not supported", mpath, name,
                            qd ? qd : "(none given)");
            break;
        }
        size_t nb = t.count * (size_t)(bytes < 0 ? -bytes : bytes);
        if (nb > size - off) {
            st = grin__fail(err, GRIN_ERR_FORMAT, "%s: the weight files end inside weight %s (%zu bytes, %zu needed)",
                            mpath, name, size, off + nb);
            break;
        }
        t.v = malloc(t.count * sizeof *t.v);
        if (!t.v) {
            st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
            break;
        }
        const uint8_t *p = data + off;
        for (size_t k = 0; k < t.count; k++) {
            if (bytes == 4) {
                memcpy(&t.v[k], p + 4 * k, 4); /* little-endian, as TensorFlow.js writes */
            } else if (bytes == 1) {
                t.v[k] = (float)(p[k] * scale + min);
            } else {
                uint16_t u = (uint16_t)(p[2 * k] | p[2 * k + 1] << 8);
                t.v[k] = bytes == 2 ? (float)(u * scale + min) : half_to_float(u);
            }
            if (!isfinite(t.v[k])) {
                free(t.v);
                st = grin__fail(err, GRIN_ERR_FORMAT, "%s: weight %s holds a value that is not finite", mpath, name);
                break;
            }
        }
        if (st)
            break;
        off += nb;
        tensor *nt = realloc(set->t, (size_t)(set->n + 1) * sizeof *nt);
        if (!nt) {
            free(t.v);
            st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
            break;
        }
        set->t = nt;
        set->t[set->n++] = t;
    }
    if (!st && off != size)
        st = grin__fail(err, GRIN_ERR_FORMAT, "%s: %zu bytes of weight files, the manifest describes %zu", mpath, size,
                        off);
    free(data);
    return st;
}

/* copies tensor `name` (shape as given, -1 = any) into the layer's weights or bias */
static grin_status take(const tensor_set *s, const char *name, int rank, const int *shape, float *dst, size_t n,
                        grin_error *err)
{
    const tensor *t = find(s, name);
    if (!t)
        return grin__fail(err, GRIN_ERR_FORMAT, "face-api model: no weight %s", name);
    bool ok = t->rank == rank && t->count == n;
    for (int k = 0; k < rank && ok; k++)
        ok = t->shape[k] == shape[k];
    if (!ok)
        return grin__fail(err, GRIN_ERR_FORMAT, "face-api model: weight %s has %zu values, not the %zu expected", name,
                          t->count, n);
    memcpy(dst, t->v, n * sizeof *dst);
    return GRIN_OK;
}

/* the manifest's JSON and every tensor of its weight groups (names point into *root) */
static grin_status read_manifest(const char *text, size_t len, const char *dir, const char *manifest,
                                 grin__json **root, tensor_set *set, grin_error *err)
{
    memset(set, 0, sizeof *set);
    char why[160];
    *root = grin__json_parse(text, len, why, sizeof why);
    if (!*root)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: not a JSON weights manifest: %s", manifest, why);
    grin_status st = GRIN_OK;
    if ((*root)->kind != GRIN__JSON_ARRAY || (*root)->n == 0)
        st = grin__fail(err, GRIN_ERR_FORMAT, "%s: a weights manifest is a list of weight groups", manifest);
    for (size_t g = 0; !st && g < (*root)->n; g++)
        st = read_group(dir, &(*root)->items[g], set, manifest, err);
    if (st) {
        set_free(set);
        grin__json_free(*root);
        *root = NULL;
    }
    return st;
}

/* reads a manifest file and calls fn with its text and folder */
typedef grin_status (*import_fn)(const char *text, size_t len, const char *dir, const char *manifest, int size,
                                 int channels, bool all, grin__model *m, grin_error *err);
static grin_status import_file(import_fn fn, const char *manifest, int size, int channels, bool all, grin__model *m,
                               grin_error *err)
{
    memset(m, 0, sizeof *m);
    if (!manifest)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    uint8_t *text;
    size_t len;
    grin_status st = grin__read_file(manifest, &text, &len, MAX_MANIFEST, err);
    if (st)
        return st;
    char dir[4096];
    const char *slash = strrchr(manifest, '/');
    size_t dl = slash ? (size_t)(slash - manifest) + 1 : 0;
    if (dl >= sizeof dir) {
        free(text);
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "%s: path too long", manifest);
    }
    memcpy(dir, manifest, dl);
    dir[dl] = '\0';
    st = fn((const char *)text, len, dir, manifest, size, channels, all, m, err);
    free(text);
    return st;
}

grin_status grin__import_faceapi(const char *manifest, int size, int channels, bool all_expressions,
                                 grin__model *m, grin_error *err)
{
    return import_file(grin__import_faceapi_text, manifest, size, channels, all_expressions, m, err);
}

grin_status grin__import_facerec(const char *manifest, int size, int channels, grin__model *m, grin_error *err)
{
    return import_file(grin__import_facerec_text, manifest, size, channels, false, m, err);
}

grin_status grin__import_faceapi_text(const char *text, size_t len, const char *dir, const char *manifest, int size,
                                      int channels, bool all_expressions, grin__model *m, grin_error *err)
{
    memset(m, 0, sizeof *m);
    if (size < 32 || size > 1024 || (channels != 1 && channels != 3))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "import: input %d x %d x %d out of range", size, size,
                          channels);
    grin__json *root;
    tensor_set set;
    grin_status st = read_manifest(text, len, dir, manifest, &root, &set, err);
    if (st)
        return st;
    /* the width: the first convolution's filters are 3 x 3 x 3 x 32 alpha */
    const tensor *f0 = find(&set, "dense0/conv0/filters");
    const tensor *fc = find(&set, "fc/weights");
    if (!f0 || f0->rank != 4 || f0->shape[0] != 3 || f0->shape[1] != 3 || f0->shape[2] != 3 || f0->shape[3] % 32 ||
        !fc || fc->rank != 2 || fc->shape[1] != N_EXPRESSIONS) {
        set_free(&set);
        grin__json_free(root);
        return grin__fail(err, GRIN_ERR_FORMAT,
                          "%s: not face-api.js's face expression model (dense0/conv0/filters 3x3x3x32k and "
                          "fc/weights Cx7 expected)",
                          manifest);
    }
    float alpha = (float)f0->shape[3] / 32.0f;
    m->arch = GRIN__ARCH_DENSE4;
    m->input = size;
    m->channels = channels;
    m->alpha = alpha;
    m->seed = 1;
    grin_align_params_default(&m->align);
    m->align.size = size;
    int parts[GRIN__DENSE4_PARAM_LAYERS];
    st = grin__nn_dense4(&m->net, size, channels, alpha, all_expressions ? N_EXPRESSIONS : 1, 1, parts, err);
    grin__nn_net *net = &m->net;
    int pi = 0;
    char name[64];
    for (int b = 0; b < 4 && !st; b++) {
        for (int j = 0; j < 4 && !st; j++) {
            if (b == 0 && j == 0) { /* a full convolution */
                grin__nn_layer *l = &net->L[parts[pi++]];
                int sh[4] = {3, 3, 3, l->out_c};
                float *w = malloc(27 * (size_t)l->out_c * sizeof *w);
                if (!w) {
                    st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
                    break;
                }
                st = take(&set, "dense0/conv0/filters", 4, sh, w, 27 * (size_t)l->out_c, err);
                if (!st)
                    st = take(&set, "dense0/conv0/bias", 1, &sh[3], net->params + l->boff, (size_t)l->out_c, err);
                /* grin's input is p / 127.5 - 1, face-api's (p - mean) / 255: half the weights, and
                 * what the means contribute goes into the bias; grey input sums the colour taps */
                for (int o = 0; o < l->out_c && !st; o++) {
                    double shift = 0;
                    for (int t = 0; t < 9; t++) {
                        double grey = 0;
                        for (int c = 0; c < 3; c++) {
                            double v = w[((size_t)t * 3 + (size_t)c) * (size_t)l->out_c + (size_t)o];
                            shift += v * (127.5 - FACEAPI_MEAN[c]) / 255.0;
                            if (channels == 3)
                                net->params[l->woff + ((size_t)t * 3 + (size_t)c) * (size_t)l->out_c + (size_t)o] =
                                    (float)(v * 0.5);
                            grey += v;
                        }
                        if (channels == 1)
                            net->params[l->woff + (size_t)t * (size_t)l->out_c + (size_t)o] = (float)(grey * 0.5);
                    }
                    net->params[l->boff + (size_t)o] += (float)shift;
                }
                free(w);
                continue;
            }
            grin__nn_layer *d = &net->L[parts[pi++]], *p = &net->L[parts[pi++]];
            int dsh[4] = {3, 3, d->ic, 1}, psh[4] = {1, 1, p->ic, p->out_c};
            snprintf(name, sizeof name, "dense%d/conv%d/depthwise_filter", b, j);
            st = take(&set, name, 4, dsh, net->params + d->woff, d->wn, err);
            snprintf(name, sizeof name, "dense%d/conv%d/pointwise_filter", b, j);
            if (!st)
                st = take(&set, name, 4, psh, net->params + p->woff, p->wn, err);
            snprintf(name, sizeof name, "dense%d/conv%d/bias", b, j);
            if (!st)
                st = take(&set, name, 1, &psh[3], net->params + p->boff, p->bn, err);
        }
    }
    if (!st) { /* the head: all seven logits, or happy minus neutral */
        grin__nn_layer *l = &net->L[parts[pi]];
        int C = l->ih * l->iw * l->ic;
        const tensor *fb = find(&set, "fc/bias");
        if (fc->shape[0] != C || !fb || fb->count != N_EXPRESSIONS) {
            st = grin__fail(err, GRIN_ERR_FORMAT, "face-api model: fc/weights is %dx7 and fc/bias has %zu values, "
                            "%dx7 and 7 expected", fc->shape[0], fb ? fb->count : 0, C);
        } else if (all_expressions) {
            memcpy(net->params + l->woff, fc->v, (size_t)C * N_EXPRESSIONS * sizeof(float));
            memcpy(net->params + l->boff, fb->v, N_EXPRESSIONS * sizeof(float));
        } else {
            for (int k = 0; k < C; k++)
                net->params[l->woff + (size_t)k] =
                    fc->v[(size_t)k * N_EXPRESSIONS + HAPPY] - fc->v[(size_t)k * N_EXPRESSIONS + NEUTRAL];
            net->params[l->boff] = fb->v[HAPPY] - fb->v[NEUTRAL];
        }
    }
    if (!st)
        snprintf(m->meta, sizeof m->meta,
                 "imported_from=face-api.js face expression model (MIT licence)\n"
                 "import_head=%s\n",
                 all_expressions ? "neutral,happy,sad,angry,fearful,disgusted,surprised" : "happy-neutral");
    set_free(&set);
    grin__json_free(root);
    if (st)
        grin__model_free(m);
    return st;
}

/* one convolution of the face-recognition ResNet: NAME/conv/{filters,bias} then NAME/scale/
 * {weights,biases} (y = (conv + bias) x weights + biases) folded into the layer; first: the input
 * normalisation too, grey input summing the colour taps */
static grin_status take_facerec_conv(const tensor_set *s, const char *name, grin__nn_net *net, const grin__nn_layer *l,
                                     bool first, int channels, grin_error *err)
{
    char n[96];
    int src_c = first ? 3 : l->ic, sh[4] = {l->k, l->k, src_c, l->out_c};
    size_t taps = (size_t)l->k * l->k, cnt = taps * (size_t)src_c * (size_t)l->out_c;
    float *w = malloc(cnt * sizeof *w), *b = malloc(4 * (size_t)l->out_c * sizeof *b);
    if (!w || !b) {
        free(w);
        free(b);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    float *sw = b + l->out_c, *sb = sw + l->out_c;
    snprintf(n, sizeof n, "%s/conv/filters", name);
    grin_status st = take(s, n, 4, sh, w, cnt, err);
    snprintf(n, sizeof n, "%s/conv/bias", name);
    if (!st)
        st = take(s, n, 1, &sh[3], b, (size_t)l->out_c, err);
    snprintf(n, sizeof n, "%s/scale/weights", name);
    if (!st)
        st = take(s, n, 1, &sh[3], sw, (size_t)l->out_c, err);
    snprintf(n, sizeof n, "%s/scale/biases", name);
    if (!st)
        st = take(s, n, 1, &sh[3], sb, (size_t)l->out_c, err);
    float *W = net->params + l->woff, *B = net->params + l->boff;
    for (int o = 0; o < l->out_c && !st; o++) {
        double shift = 0; /* first: grin's input is p / 127.5 - 1, face-api's (p - mean) / 255 */
        for (size_t t = 0; t < taps; t++) {
            double grey = 0;
            for (int c = 0; c < src_c; c++) {
                double v = w[(t * (size_t)src_c + (size_t)c) * (size_t)l->out_c + (size_t)o];
                if (first) {
                    shift += v * (127.5 - FACEAPI_MEAN[c]) / 255.0;
                    v *= 0.5;
                }
                if (channels == 3 || !first)
                    W[(t * (size_t)src_c + (size_t)c) * (size_t)l->out_c + (size_t)o] = (float)(v * sw[o]);
                grey += v;
            }
            if (first && channels == 1)
                W[t * (size_t)l->out_c + (size_t)o] = (float)(grey * sw[o]);
        }
        B[o] = (float)(((double)b[o] + shift) * sw[o] + sb[o]);
    }
    free(w);
    free(b);
    return st;
}

grin_status grin__import_facerec_text(const char *text, size_t len, const char *dir, const char *manifest, int size,
                                      int channels, bool unused, grin__model *m, grin_error *err)
{
    (void)unused;
    memset(m, 0, sizeof *m);
    if (size < GRIN__FACEREC_MIN_SIZE || size > 512 || (channels != 1 && channels != 3))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "import: input %d x %d x %d out of range (%d-512)", size,
                          size, channels, GRIN__FACEREC_MIN_SIZE);
    grin__json *root;
    tensor_set set;
    grin_status st = read_manifest(text, len, dir, manifest, &root, &set, err);
    if (st)
        return st;
    const tensor *f0 = find(&set, "conv32_down/conv/filters"), *fc = find(&set, "fc");
    if (!f0 || f0->rank != 4 || f0->shape[0] != 7 || f0->shape[2] != 3 || f0->shape[3] != 32 || !fc ||
        fc->rank != 2 || fc->shape[0] != 256 || fc->shape[1] != 128) {
        set_free(&set);
        grin__json_free(root);
        return grin__fail(err, GRIN_ERR_FORMAT,
                          "%s: not face-api.js's face recognition model (conv32_down/conv/filters 7x7x3x32 and fc "
                          "256x128 expected)",
                          manifest);
    }
    m->arch = GRIN__ARCH_FACEREC;
    m->input = size;
    m->channels = channels;
    m->alpha = 1.0f;
    m->seed = 1;
    grin_align_params_default(&m->align);
    m->align.size = size;
    int parts[GRIN__FACEREC_PARAM_LAYERS];
    st = grin__nn_facerec(&m->net, size, channels, 1, 1, parts, err);
    /* the blocks in the builder's order; "" is a down block's projection (it keeps its start) */
    static const char *const blocks[] = {"conv32_1",  "conv32_2",  "conv32_3",     "conv64_down",     "conv64_1",
                                         "conv64_2",  "conv64_3",  "conv128_down", "conv128_1",       "conv128_2",
                                         "conv256_down", "conv256_1", "conv256_2", "conv256_down_out"};
    grin__nn_net *net = &m->net;
    int pi = 0;
    if (!st)
        st = take_facerec_conv(&set, "conv32_down", net, &net->L[parts[pi++]], true, channels, err);
    for (size_t b = 0; b < sizeof blocks / sizeof *blocks && !st; b++) {
        char n[64];
        snprintf(n, sizeof n, "%s/conv1", blocks[b]);
        st = take_facerec_conv(&set, n, net, &net->L[parts[pi++]], false, channels, err);
        snprintf(n, sizeof n, "%s/conv2", blocks[b]);
        if (!st)
            st = take_facerec_conv(&set, n, net, &net->L[parts[pi++]], false, channels, err);
        if (!st && pi < GRIN__FACEREC_PARAM_LAYERS && net->L[parts[pi]].op == GRIN__NN_CONV &&
            net->L[parts[pi]].k == 1)
            pi++; /* the projection: the pooled channels, then zeros, as built */
    }
    if (!st) { /* the descriptor (no bias); the head keeps its random start */
        grin__nn_layer *l = &net->L[parts[pi]];
        int sh[2] = {256, 128};
        if (l->op != GRIN__NN_DENSE || l->ih * l->iw * l->ic != 256 || l->out_c != 128)
            st = grin__fail(err, GRIN_ERR_FORMAT, "face-recognition model: unexpected layers");
        else
            st = take(&set, "fc", 2, sh, net->params + l->woff, l->wn, err);
        if (!st)
            memset(net->params + l->boff, 0, l->bn * sizeof(float));
    }
    if (!st)
        snprintf(m->meta, sizeof m->meta,
                 "imported_from=dlib face recognition ResNet (public domain) via face-api.js (MIT licence)\n");
    set_free(&set);
    grin__json_free(root);
    if (st)
        grin__model_free(m);
    return st;
}
