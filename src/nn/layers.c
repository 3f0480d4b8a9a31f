/* layers.c — building a layer DAG, and its forward and backward passes in NHWC float32.
 * Convolutions with groups == 1 run as im2col + GEMM, depthwise ones as direct loops over
 * channels; a direct loop for any grouping is the reference the tests hold both to. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void grin__nn_init(grin__nn_net *net, int h, int w, int c)
{
    memset(net, 0, sizeof *net);
    net->in_h = h, net->in_w = w, net->in_c = c;
    net->bn_momentum = 0.1f;
    net->bn_eps = 1e-3f;
}

int grin__nn_add(grin__nn_net *net, grin__nn_layer l)
{
    if (net->n == net->cap) {
        int cap = net->cap ? 2 * net->cap : 32;
        grin__nn_layer *n = realloc(net->L, (size_t)cap * sizeof *n);
        if (!n)
            return -1;
        net->L = n;
        net->cap = cap;
    }
    net->L[net->n] = l;
    return net->n++;
}

void grin__nn_free(grin__nn_net *net)
{
    free(net->L);
    free(net->params);
    free(net->grads);
    free(net->state);
    memset(net, 0, sizeof *net);
}

/* splitmix64 and Box-Muller: deterministic initialisation from a seed */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double gauss(uint64_t *s)
{
    double u1 = ((next_u64(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (next_u64(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void in_shape(const grin__nn_net *net, int idx, int *h, int *w, int *c)
{
    if (idx < 0) {
        *h = net->in_h, *w = net->in_w, *c = net->in_c;
    } else {
        *h = net->L[idx].h, *w = net->L[idx].w, *c = net->L[idx].c;
    }
}

grin_status grin__nn_finish(grin__nn_net *net, uint64_t seed, grin_error *err)
{
    size_t np = 0, ns = 0;
    for (int i = 0; i < net->n; i++) {
        grin__nn_layer *l = &net->L[i];
        if (l->in[0] >= i || l->in[0] < -1 ||
            ((l->op == GRIN__NN_ADD || l->op == GRIN__NN_CONCAT) && (l->in[1] >= i || l->in[1] < -1)))
            return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "layer %d: inputs must come earlier", i);
        in_shape(net, l->in[0], &l->ih, &l->iw, &l->ic);
        l->h = l->ih, l->w = l->iw, l->c = l->ic;
        l->woff = l->wn = l->boff = l->bn = 0;
        switch (l->op) {
        case GRIN__NN_CONV:
            if (l->k < 1 || l->stride < 1 || l->pad < 0 || l->groups < 1 || l->out_c < 1 ||
                l->ic % l->groups || l->out_c % l->groups || l->pad >= l->k || l->pad_extra < 0 ||
                l->pad + l->pad_extra >= l->k)
                return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "layer %d: bad convolution", i);
            if (l->ih + 2 * l->pad + l->pad_extra < l->k || l->iw + 2 * l->pad + l->pad_extra < l->k)
                return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "layer %d: the input is too small", i);
            l->h = (l->ih + 2 * l->pad + l->pad_extra - l->k) / l->stride + 1;
            l->w = (l->iw + 2 * l->pad + l->pad_extra - l->k) / l->stride + 1;
            l->c = l->out_c;
            l->wn = (size_t)l->k * l->k * (size_t)(l->ic / l->groups) * (size_t)l->out_c;
            l->bn = l->bias ? (size_t)l->out_c : 0;
            break;
        case GRIN__NN_BN:
            l->wn = l->bn = (size_t)l->c;
            l->soff = ns;
            ns += 2 * (size_t)l->c;
            break;
        case GRIN__NN_MAXPOOL:
        case GRIN__NN_AVGPOOL:
            if (l->k < 1 || l->stride < 1 || l->pad < 0 || l->pad >= l->k || l->pad_extra)
                return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "layer %d: bad pooling", i);
            if (l->ih + 2 * l->pad < l->k || l->iw + 2 * l->pad < l->k)
                return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "layer %d: the input is too small", i);
            l->h = (l->ih + 2 * l->pad - l->k) / l->stride + 1;
            l->w = (l->iw + 2 * l->pad - l->k) / l->stride + 1;
            break;
        case GRIN__NN_GAP:
            l->h = l->w = 1;
            break;
        case GRIN__NN_PAD:
            if (l->pad_extra < 1 || l->pad_extra > 4096)
                return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "layer %d: bad padding", i);
            l->h = l->ih + l->pad_extra;
            l->w = l->iw + l->pad_extra;
            break;
        case GRIN__NN_DENSE:
            if (l->out_c < 1)
                return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "layer %d: bad dense", i);
            l->h = l->w = 1;
            l->c = l->out_c;
            l->wn = (size_t)l->ih * l->iw * l->ic * (size_t)l->out_c;
            l->bn = (size_t)l->out_c;
            break;
        case GRIN__NN_ADD:
        case GRIN__NN_CONCAT: {
            int h2, w2, c2;
            in_shape(net, l->in[1], &h2, &w2, &c2);
            if (h2 != l->ih || w2 != l->iw || (l->op == GRIN__NN_ADD && c2 != l->ic))
                return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "layer %d: input shapes differ", i);
            if (l->op == GRIN__NN_CONCAT)
                l->c = l->ic + c2;
            break;
        }
        default:
            break;
        }
        if (l->h < 1 || l->w < 1)
            return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "layer %d: the input is too small", i);
        l->woff = np;
        np += l->wn;
        l->boff = np;
        np += l->bn;
    }
    free(net->params);
    free(net->grads);
    free(net->state);
    net->params = calloc(np ? np : 1, sizeof(float));
    net->grads = calloc(np ? np : 1, sizeof(float));
    net->state = calloc(ns ? ns : 1, sizeof(float));
    if (!net->params || !net->grads || !net->state)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory for %zu parameters", np);
    net->nparams = np;
    net->nstate = ns;
    uint64_t s = seed;
    for (int i = 0; i < net->n; i++) {
        grin__nn_layer *l = &net->L[i];
        if (l->op == GRIN__NN_CONV || l->op == GRIN__NN_DENSE) {
            double fan_in = (double)l->wn / l->out_c;
            double sd = sqrt(2.0 / fan_in); /* He initialisation for ReLU networks */
            for (size_t k = 0; k < l->wn; k++)
                net->params[l->woff + k] = (float)(sd * gauss(&s));
        } else if (l->op == GRIN__NN_BN) {
            for (int k = 0; k < l->c; k++) {
                net->params[l->woff + (size_t)k] = 1.0f;
                net->state[l->soff + (size_t)l->c + (size_t)k] = 1.0f; /* running variance */
            }
        }
    }
    return GRIN_OK;
}

uint64_t grin__nn_macs(const grin__nn_net *net)
{
    uint64_t m = 0;
    for (int i = 0; i < net->n; i++) {
        const grin__nn_layer *l = &net->L[i];
        if (l->op == GRIN__NN_CONV)
            m += (uint64_t)l->h * (uint64_t)l->w * l->wn;
        else if (l->op == GRIN__NN_DENSE)
            m += l->wn;
    }
    return m;
}

void grin__nn_ws_free(grin__nn_ws *ws)
{
    if (!ws)
        return;
    if (ws->act) {
        for (int i = 0; ws->act[i] != (float *)-1; i++) {
            free(ws->act[i]);
            free(ws->dact[i]);
            free(ws->bn_xhat[i]);
            free(ws->bn_invstd[i]);
        }
    }
    free(ws->act);
    free(ws->dact);
    free(ws->bn_xhat);
    free(ws->bn_invstd);
    free(ws->bn_sums);
    free(ws->bn_scale);
    free(ws->col);
    memset(ws, 0, sizeof *ws);
}

static bool ws_prepare(const grin__nn_net *net, grin__nn_ws *ws, int batch)
{
    if (ws->act && batch <= ws->cap_batch) {
        ws->batch = batch;
        return true;
    }
    grin__nn_ws_free(ws);
    int n = net->n;
    ws->act = calloc((size_t)n + 1, sizeof *ws->act);
    ws->dact = calloc((size_t)n + 1, sizeof *ws->dact);
    ws->bn_xhat = calloc((size_t)n + 1, sizeof *ws->bn_xhat);
    ws->bn_invstd = calloc((size_t)n + 1, sizeof *ws->bn_invstd);
    if (!ws->act || !ws->dact || !ws->bn_xhat || !ws->bn_invstd)
        return false;
    ws->act[n] = (float *)-1; /* end marker for freeing */
    ws->batch = ws->cap_batch = batch;
    int widest = 1;
    for (int i = 0; i < n; i++)
        if (net->L[i].op == GRIN__NN_BN && net->L[i].c > widest)
            widest = net->L[i].c;
    ws->bn_sums = malloc(2 * (size_t)widest * sizeof *ws->bn_sums);
    ws->bn_scale = malloc((size_t)widest * sizeof *ws->bn_scale);
    if (!ws->bn_sums || !ws->bn_scale)
        return false;
    for (int i = 0; i < n; i++) {
        const grin__nn_layer *l = &net->L[i];
        size_t sz = (size_t)batch * l->h * l->w * l->c;
        ws->act[i] = malloc(sz * sizeof(float));
        ws->dact[i] = malloc(sz * sizeof(float));
        if (!ws->act[i] || !ws->dact[i])
            return false;
        if (l->op == GRIN__NN_BN) {
            ws->bn_xhat[i] = malloc(sz * sizeof(float));
            ws->bn_invstd[i] = malloc((size_t)l->c * sizeof(float));
            if (!ws->bn_xhat[i] || !ws->bn_invstd[i])
                return false;
        }
    }
    return true;
}

/* The forward and backward passes are compiled three times — AVX-512, AVX2, baseline — and
 * chosen per call from the CPU features grin uses everywhere (GRIN_CPU included): the loops over
 * channels in them (batch norm, activations) vectorise to the machine's width. Without FMA
 * contraction or reassociation the lanes compute what the baseline does, so the weights stay
 * bit-identical across machines. (Plain dispatch, not GCC's target_clones: their ifunc
 * resolvers run before a sanitizer's runtime and crashed ThreadSanitizer builds at start.) */
#if defined(__x86_64__) && defined(__GNUC__)
#define GRIN__WIDE 1
#define GRIN__BODY static inline __attribute__((always_inline))
#define GRIN__V4 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define GRIN__V3 __attribute__((target("avx2,fma")))
static bool wide_v4(void)
{
    unsigned need = GRIN__CPU_AVX512F | GRIN__CPU_AVX512VL | GRIN__CPU_AVX512BW | GRIN__CPU_AVX512DQ |
                    GRIN__CPU_AVX2 | GRIN__CPU_FMA;
    return (grin__cpu_enabled() & need) == need;
}
static bool wide_v3(void)
{
    unsigned need = GRIN__CPU_AVX2 | GRIN__CPU_FMA;
    return (grin__cpu_enabled() & need) == need;
}
#else
#define GRIN__WIDE 0
#define GRIN__BODY static
#endif

/* ------------------------------------------------------------------ convolution */

static void im2col(const grin__nn_layer *l, const float *in, float *col)
{
    int K = l->k * l->k * l->ic;
    for (int oy = 0; oy < l->h; oy++)
        for (int ox = 0; ox < l->w; ox++) {
            float *dst = col + ((size_t)oy * l->w + ox) * K;
            for (int ky = 0; ky < l->k; ky++) {
                int iy = oy * l->stride - l->pad + ky;
                for (int kx = 0; kx < l->k; kx++) {
                    int ix = ox * l->stride - l->pad + kx;
                    float *d = dst + (ky * l->k + kx) * l->ic;
                    if (iy < 0 || iy >= l->ih || ix < 0 || ix >= l->iw)
                        memset(d, 0, (size_t)l->ic * sizeof(float));
                    else
                        memcpy(d, in + ((size_t)iy * l->iw + ix) * l->ic, (size_t)l->ic * sizeof(float));
                }
            }
        }
}

static void col2im_add(const grin__nn_layer *l, const float *col, float *din)
{
    int K = l->k * l->k * l->ic;
    for (int oy = 0; oy < l->h; oy++)
        for (int ox = 0; ox < l->w; ox++) {
            const float *src = col + ((size_t)oy * l->w + ox) * K;
            for (int ky = 0; ky < l->k; ky++) {
                int iy = oy * l->stride - l->pad + ky;
                if (iy < 0 || iy >= l->ih)
                    continue;
                for (int kx = 0; kx < l->k; kx++) {
                    int ix = ox * l->stride - l->pad + kx;
                    if (ix < 0 || ix >= l->iw)
                        continue;
                    const float *s = src + (ky * l->k + kx) * l->ic;
                    float *d = din + ((size_t)iy * l->iw + ix) * l->ic;
                    for (int c = 0; c < l->ic; c++)
                        d[c] += s[c];
                }
            }
        }
}

static bool pointwise(const grin__nn_layer *l)
{
    return l->k == 1 && l->stride == 1 && l->pad == 0;
}

static bool depthwise(const grin__nn_layer *l)
{
    return l->groups == l->ic && l->out_c == l->ic && l->groups > 1;
}

/* direct loops, any grouping: the reference */
static void conv_fwd_ref(const grin__nn_layer *l, const float *W, const float *bias, const float *in,
                         float *out)
{
    int cin_g = l->ic / l->groups, cout_g = l->out_c / l->groups;
    for (int oy = 0; oy < l->h; oy++)
        for (int ox = 0; ox < l->w; ox++)
            for (int oc = 0; oc < l->out_c; oc++) {
                int g = oc / cout_g;
                double s = bias ? bias[oc] : 0.0;
                for (int ky = 0; ky < l->k; ky++) {
                    int iy = oy * l->stride - l->pad + ky;
                    if (iy < 0 || iy >= l->ih)
                        continue;
                    for (int kx = 0; kx < l->k; kx++) {
                        int ix = ox * l->stride - l->pad + kx;
                        if (ix < 0 || ix >= l->iw)
                            continue;
                        const float *p = in + ((size_t)iy * l->iw + ix) * l->ic + (size_t)g * cin_g;
                        const float *w = W + ((size_t)(ky * l->k + kx) * cin_g) * l->out_c + oc;
                        for (int c = 0; c < cin_g; c++)
                            s += (double)p[c] * w[(size_t)c * l->out_c];
                    }
                }
                out[((size_t)oy * l->w + ox) * l->out_c + oc] = (float)s;
            }
}

static void conv_bwd_ref(const grin__nn_layer *l, const float *W, const float *in, const float *dout,
                         float *dW, float *dbias, float *din)
{
    int cin_g = l->ic / l->groups, cout_g = l->out_c / l->groups;
    for (int oy = 0; oy < l->h; oy++)
        for (int ox = 0; ox < l->w; ox++)
            for (int oc = 0; oc < l->out_c; oc++) {
                float g_ = dout[((size_t)oy * l->w + ox) * l->out_c + oc];
                int g = oc / cout_g;
                if (dbias)
                    dbias[oc] += g_;
                for (int ky = 0; ky < l->k; ky++) {
                    int iy = oy * l->stride - l->pad + ky;
                    if (iy < 0 || iy >= l->ih)
                        continue;
                    for (int kx = 0; kx < l->k; kx++) {
                        int ix = ox * l->stride - l->pad + kx;
                        if (ix < 0 || ix >= l->iw)
                            continue;
                        size_t pi = ((size_t)iy * l->iw + ix) * l->ic + (size_t)g * cin_g;
                        size_t wi = ((size_t)(ky * l->k + kx) * cin_g) * l->out_c + oc;
                        for (int c = 0; c < cin_g; c++) {
                            dW[wi + (size_t)c * l->out_c] += in[pi + c] * g_;
                            if (din)
                                din[pi + c] += W[wi + (size_t)c * l->out_c] * g_;
                        }
                    }
                }
            }
}

/* depthwise: each channel its own k x k filter; loops run over channels innermost */
static void dw_fwd(const grin__nn_layer *l, const float *W, const float *bias, const float *in,
                   float *out)
{
    int C = l->c;
    for (int oy = 0; oy < l->h; oy++)
        for (int ox = 0; ox < l->w; ox++) {
            float *o = out + ((size_t)oy * l->w + ox) * C;
            for (int c = 0; c < C; c++)
                o[c] = bias ? bias[c] : 0.0f;
            for (int ky = 0; ky < l->k; ky++) {
                int iy = oy * l->stride - l->pad + ky;
                if (iy < 0 || iy >= l->ih)
                    continue;
                for (int kx = 0; kx < l->k; kx++) {
                    int ix = ox * l->stride - l->pad + kx;
                    if (ix < 0 || ix >= l->iw)
                        continue;
                    const float *p = in + ((size_t)iy * l->iw + ix) * C;
                    const float *w = W + (size_t)(ky * l->k + kx) * C;
                    for (int c = 0; c < C; c++)
                        o[c] += p[c] * w[c];
                }
            }
        }
}

static void dw_bwd(const grin__nn_layer *l, const float *W, const float *in, const float *dout,
                   float *dW, float *dbias, float *din)
{
    int C = l->c;
    for (int oy = 0; oy < l->h; oy++)
        for (int ox = 0; ox < l->w; ox++) {
            const float *g = dout + ((size_t)oy * l->w + ox) * C;
            if (dbias)
                for (int c = 0; c < C; c++)
                    dbias[c] += g[c];
            for (int ky = 0; ky < l->k; ky++) {
                int iy = oy * l->stride - l->pad + ky;
                if (iy < 0 || iy >= l->ih)
                    continue;
                for (int kx = 0; kx < l->k; kx++) {
                    int ix = ox * l->stride - l->pad + kx;
                    if (ix < 0 || ix >= l->iw)
                        continue;
                    size_t pi = ((size_t)iy * l->iw + ix) * C;
                    const float *w = W + (size_t)(ky * l->k + kx) * C;
                    float *dw = dW + (size_t)(ky * l->k + kx) * C;
                    for (int c = 0; c < C; c++) {
                        dw[c] += in[pi + c] * g[c];
                        if (din)
                            din[pi + c] += w[c] * g[c];
                    }
                }
            }
        }
}

static bool reserve_col(grin__nn_ws *ws, size_t n)
{
    if (ws->col_cap >= n)
        return true;
    float *c = realloc(ws->col, n * sizeof *c);
    if (!c)
        return false;
    ws->col = c;
    ws->col_cap = n;
    return true;
}

/* ------------------------------------------------------------------ forward */

static const float *input_of(const grin__nn_ws *ws, const float *input, int idx)
{
    return idx < 0 ? input : ws->act[idx];
}

GRIN__BODY grin_status forward_body(const grin__nn_net *net, grin__nn_ws *ws, const float *input, int batch,
                                     bool training, const float **out)
{
    if (batch < 1 || !input || net->n == 0)
        return GRIN_ERR_INVALID_ARGUMENT;
    if (!ws_prepare(net, ws, batch))
        return GRIN_ERR_NO_MEMORY;
    for (int i = 0; i < net->n; i++) {
        const grin__nn_layer *l = &net->L[i];
        const float *in = input_of(ws, input, l->in[0]);
        float *o = ws->act[i];
        size_t isz = (size_t)l->ih * l->iw * l->ic, osz = (size_t)l->h * l->w * l->c;
        const float *W = net->params + l->woff, *Bv = l->bn ? net->params + l->boff : NULL;
        switch (l->op) {
        case GRIN__NN_CONV:
            for (int b = 0; b < batch; b++) {
                const float *ib = in + b * isz;
                float *ob = o + b * osz;
                if (grin__nn_force_reference) {
                    conv_fwd_ref(l, W, Bv, ib, ob);
                } else if (l->groups == 1) {
                    int P = l->h * l->w, K = l->k * l->k * l->ic;
                    const float *col = ib;
                    if (!pointwise(l)) {
                        if (!reserve_col(ws, (size_t)P * K))
                            return GRIN_ERR_NO_MEMORY;
                        im2col(l, ib, ws->col);
                        col = ws->col;
                    }
                    grin__gemm(false, false, P, l->out_c, K, 1.0f, col, K, W, l->out_c, 0.0f, ob, l->out_c);
                    if (Bv)
                        for (int p = 0; p < P; p++)
                            for (int c = 0; c < l->out_c; c++)
                                ob[(size_t)p * l->out_c + c] += Bv[c];
                } else if (depthwise(l)) {
                    dw_fwd(l, W, Bv, ib, ob);
                } else {
                    conv_fwd_ref(l, W, Bv, ib, ob);
                }
            }
            break;
        case GRIN__NN_BN: {
            size_t N = (size_t)batch * l->h * l->w;
            int C = l->c;
            const float *gamma = W, *beta = Bv;
            float *rm = net->state + l->soff, *rv = rm + C;
            if (training) {
                /* pixel by pixel, every channel's sums side by side: contiguous and
                 * vectorisable, each sum still taken in pixel order (the same bits) */
                float *xhat = ws->bn_xhat[i], *invstd = ws->bn_invstd[i];
                double *s = ws->bn_sums, *s2 = s + C;
                memset(s, 0, 2 * (size_t)C * sizeof *s);
                for (size_t k = 0; k < N; k++)
                    for (int c = 0; c < C; c++) {
                        double v = in[k * C + c];
                        s[c] += v;
                        s2[c] += v * v;
                    }
                for (int c = 0; c < C; c++) { /* s becomes the mean, s2 the variance */
                    double mean = s[c] / N, var = fmax(0.0, s2[c] / N - mean * mean);
                    s[c] = mean;
                    s2[c] = var;
                    invstd[c] = (float)(1.0 / sqrt(var + net->bn_eps));
                    float mom = net->bn_momentum;
                    rm[c] = (1 - mom) * rm[c] + mom * (float)mean;
                    rv[c] = (1 - mom) * rv[c] + mom * (float)(N > 1 ? var * N / (N - 1) : var);
                }
                for (size_t k = 0; k < N; k++)
                    for (int c = 0; c < C; c++) {
                        float xh = (float)(in[k * C + c] - s[c]) * invstd[c];
                        xhat[k * C + c] = xh;
                        o[k * C + c] = gamma[c] * xh + beta[c];
                    }
            } else {
                for (int c = 0; c < C; c++) {
                    float sc = gamma[c] / sqrtf(rv[c] + net->bn_eps), sh = beta[c] - rm[c] * sc;
                    for (size_t k = 0; k < N; k++)
                        o[k * C + c] = in[k * C + c] * sc + sh;
                }
            }
            break;
        }
        case GRIN__NN_RELU:
        case GRIN__NN_RELU6:
            for (size_t k = 0; k < (size_t)batch * osz; k++) {
                float v = in[k] > 0 ? in[k] : 0;
                o[k] = l->op == GRIN__NN_RELU6 && v > 6 ? 6 : v;
            }
            break;
        case GRIN__NN_SIGMOID:
            for (size_t k = 0; k < (size_t)batch * osz; k++)
                o[k] = 1.0f / (1.0f + expf(-in[k]));
            break;
        case GRIN__NN_MAXPOOL:
        case GRIN__NN_AVGPOOL:
            for (int b = 0; b < batch; b++)
                for (int oy = 0; oy < l->h; oy++)
                    for (int ox = 0; ox < l->w; ox++)
                        for (int c = 0; c < l->c; c++) {
                            float best = -INFINITY;
                            double sum = 0;
                            int cnt = 0;
                            for (int ky = 0; ky < l->k; ky++)
                                for (int kx = 0; kx < l->k; kx++) {
                                    int iy = oy * l->stride - l->pad + ky, ix = ox * l->stride - l->pad + kx;
                                    if (iy < 0 || iy >= l->ih || ix < 0 || ix >= l->iw)
                                        continue;
                                    float v = in[b * isz + ((size_t)iy * l->iw + ix) * l->ic + c];
                                    best = v > best ? v : best;
                                    sum += v;
                                    cnt++;
                                }
                            o[b * osz + ((size_t)oy * l->w + ox) * l->c + c] =
                                l->op == GRIN__NN_MAXPOOL ? best : (float)(sum / (cnt ? cnt : 1));
                        }
            break;
        case GRIN__NN_GAP:
            for (int b = 0; b < batch; b++)
                for (int c = 0; c < l->c; c++) {
                    double s = 0;
                    for (int p = 0; p < l->ih * l->iw; p++)
                        s += in[b * isz + (size_t)p * l->ic + c];
                    o[(size_t)b * l->c + c] = (float)(s / (l->ih * l->iw));
                }
            break;
        case GRIN__NN_DENSE:
            grin__gemm(false, false, batch, l->out_c, (int)isz, 1.0f, in, (int)isz, W, l->out_c, 0.0f, o, l->out_c);
            for (int b = 0; b < batch; b++)
                for (int c = 0; c < l->out_c; c++)
                    o[(size_t)b * l->out_c + c] += Bv[c];
            break;
        case GRIN__NN_ADD: {
            const float *in2 = input_of(ws, input, l->in[1]);
            for (size_t k = 0; k < (size_t)batch * osz; k++)
                o[k] = in[k] + in2[k];
            break;
        }
        case GRIN__NN_CONCAT: {
            const float *in2 = input_of(ws, input, l->in[1]);
            int c1 = l->ic, c2 = l->c - l->ic;
            for (size_t p = 0; p < (size_t)batch * l->h * l->w; p++) {
                memcpy(o + p * l->c, in + p * c1, (size_t)c1 * sizeof(float));
                memcpy(o + p * l->c + c1, in2 + p * c2, (size_t)c2 * sizeof(float));
            }
            break;
        }
        case GRIN__NN_PAD:
            memset(o, 0, (size_t)batch * osz * sizeof(float));
            for (int b = 0; b < batch; b++)
                for (int y = 0; y < l->ih; y++)
                    memcpy(o + b * osz + (size_t)y * l->w * l->c, in + b * isz + (size_t)y * l->iw * l->ic,
                           (size_t)l->iw * l->ic * sizeof(float));
            break;
        }
    }
    if (out)
        *out = ws->act[net->n - 1];
    return GRIN_OK;
}

/* ------------------------------------------------------------------ backward */

GRIN__BODY grin_status backward_body(grin__nn_net *net, grin__nn_ws *ws, const float *input, const float *dout)
{
    if (!ws->act || !dout)
        return GRIN_ERR_INVALID_ARGUMENT;
    int batch = ws->batch;
    for (int i = 0; i < net->n; i++) {
        const grin__nn_layer *l = &net->L[i];
        memset(ws->dact[i], 0, (size_t)batch * l->h * l->w * l->c * sizeof(float));
    }
    const grin__nn_layer *last = &net->L[net->n - 1];
    memcpy(ws->dact[net->n - 1], dout, (size_t)batch * last->h * last->w * last->c * sizeof(float));
    for (int i = net->n - 1; i >= 0; i--) {
        const grin__nn_layer *l = &net->L[i];
        const float *in = input_of(ws, input, l->in[0]);
        float *din = l->in[0] >= 0 ? ws->dact[l->in[0]] : NULL;
        const float *g = ws->dact[i], *o = ws->act[i];
        size_t isz = (size_t)l->ih * l->iw * l->ic, osz = (size_t)l->h * l->w * l->c;
        const float *W = net->params + l->woff;
        float *dW = net->grads + l->woff, *dB = l->bn ? net->grads + l->boff : NULL;
        switch (l->op) {
        case GRIN__NN_CONV:
            for (int b = 0; b < batch; b++) {
                const float *ib = in + b * isz, *gb = g + b * osz;
                float *dib = din ? din + b * isz : NULL;
                if (grin__nn_force_reference) {
                    conv_bwd_ref(l, W, ib, gb, dW, dB, dib);
                } else if (l->groups == 1) {
                    int P = l->h * l->w, K = l->k * l->k * l->ic;
                    const float *col = ib;
                    if (!pointwise(l)) {
                        if (!reserve_col(ws, (size_t)P * K))
                            return GRIN_ERR_NO_MEMORY;
                        im2col(l, ib, ws->col);
                        col = ws->col;
                    }
                    grin__gemm(true, false, K, l->out_c, P, 1.0f, col, K, gb, l->out_c, 1.0f, dW, l->out_c);
                    if (dB)
                        for (int p = 0; p < P; p++)
                            for (int c = 0; c < l->out_c; c++)
                                dB[c] += gb[(size_t)p * l->out_c + c];
                    if (dib) {
                        if (pointwise(l)) {
                            grin__gemm(false, true, P, K, l->out_c, 1.0f, gb, l->out_c, W, l->out_c, 1.0f, dib, K);
                        } else {
                            grin__gemm(false, true, P, K, l->out_c, 1.0f, gb, l->out_c, W, l->out_c, 0.0f, ws->col, K);
                            col2im_add(l, ws->col, dib);
                        }
                    }
                } else if (depthwise(l)) {
                    dw_bwd(l, W, ib, gb, dW, dB, dib);
                } else {
                    conv_bwd_ref(l, W, ib, gb, dW, dB, dib);
                }
            }
            break;
        case GRIN__NN_BN: {
            size_t N = (size_t)batch * l->h * l->w;
            int C = l->c;
            const float *xhat = ws->bn_xhat[i], *invstd = ws->bn_invstd[i];
            if (!xhat)
                return GRIN_ERR_INVALID_ARGUMENT;
            /* as in the forward pass: channels side by side, each sum in pixel order */
            double *sg = ws->bn_sums, *sgx = sg + C;
            float *sc = ws->bn_scale;
            memset(sg, 0, 2 * (size_t)C * sizeof *sg);
            for (size_t k = 0; k < N; k++)
                for (int c = 0; c < C; c++) {
                    sg[c] += g[k * C + c];
                    sgx[c] += (double)g[k * C + c] * xhat[k * C + c];
                }
            for (int c = 0; c < C; c++) {
                dW[c] += (float)sgx[c];
                dB[c] += (float)sg[c];
                sc[c] = W[c] * invstd[c] / (float)N;
            }
            if (din)
                for (size_t k = 0; k < N; k++)
                    for (int c = 0; c < C; c++)
                        din[k * C + c] +=
                            sc[c] * ((float)N * g[k * C + c] - (float)sg[c] - xhat[k * C + c] * (float)sgx[c]);
            break;
        }
        case GRIN__NN_RELU:
        case GRIN__NN_RELU6:
            if (din)
                for (size_t k = 0; k < (size_t)batch * osz; k++)
                    if (in[k] > 0 && (l->op == GRIN__NN_RELU || in[k] < 6))
                        din[k] += g[k];
            break;
        case GRIN__NN_SIGMOID: /* the loss gradient arrives wrt the logit */
            if (din)
                for (size_t k = 0; k < (size_t)batch * osz; k++)
                    din[k] += g[k];
            break;
        case GRIN__NN_MAXPOOL:
        case GRIN__NN_AVGPOOL:
            if (!din)
                break;
            for (int b = 0; b < batch; b++)
                for (int oy = 0; oy < l->h; oy++)
                    for (int ox = 0; ox < l->w; ox++)
                        for (int c = 0; c < l->c; c++) {
                            float gv = g[b * osz + ((size_t)oy * l->w + ox) * l->c + c];
                            float ov = o[b * osz + ((size_t)oy * l->w + ox) * l->c + c];
                            int cnt = 0;
                            size_t at = (size_t)-1;
                            for (int pass = 0; pass < 2; pass++)
                                for (int ky = 0; ky < l->k; ky++)
                                    for (int kx = 0; kx < l->k; kx++) {
                                        int iy = oy * l->stride - l->pad + ky, ix = ox * l->stride - l->pad + kx;
                                        if (iy < 0 || iy >= l->ih || ix < 0 || ix >= l->iw)
                                            continue;
                                        size_t idx = b * isz + ((size_t)iy * l->iw + ix) * l->ic + c;
                                        if (pass == 0) {
                                            cnt++;
                                            if (at == (size_t)-1 && in[idx] == ov)
                                                at = idx;
                                        } else if (l->op == GRIN__NN_AVGPOOL) {
                                            din[idx] += gv / (float)cnt;
                                        }
                                    }
                            if (l->op == GRIN__NN_MAXPOOL && at != (size_t)-1)
                                din[at] += gv;
                        }
            break;
        case GRIN__NN_GAP:
            if (din)
                for (int b = 0; b < batch; b++)
                    for (int p = 0; p < l->ih * l->iw; p++)
                        for (int c = 0; c < l->c; c++)
                            din[b * isz + (size_t)p * l->ic + c] += g[(size_t)b * l->c + c] / (float)(l->ih * l->iw);
            break;
        case GRIN__NN_DENSE:
            grin__gemm(true, false, (int)isz, l->out_c, batch, 1.0f, in, (int)isz, g, l->out_c, 1.0f, dW, l->out_c);
            for (int b = 0; b < batch; b++)
                for (int c = 0; c < l->out_c; c++)
                    dB[c] += g[(size_t)b * l->out_c + c];
            if (din)
                grin__gemm(false, true, batch, (int)isz, l->out_c, 1.0f, g, l->out_c, W, l->out_c, 1.0f, din, (int)isz);
            break;
        case GRIN__NN_ADD: {
            float *din2 = l->in[1] >= 0 ? ws->dact[l->in[1]] : NULL;
            for (size_t k = 0; k < (size_t)batch * osz; k++) {
                if (din)
                    din[k] += g[k];
                if (din2)
                    din2[k] += g[k];
            }
            break;
        }
        case GRIN__NN_CONCAT: {
            float *din2 = l->in[1] >= 0 ? ws->dact[l->in[1]] : NULL;
            int c1 = l->ic, c2 = l->c - l->ic;
            for (size_t p = 0; p < (size_t)batch * l->h * l->w; p++) {
                for (int c = 0; c < c1 && din; c++)
                    din[p * c1 + c] += g[p * l->c + c];
                for (int c = 0; c < c2 && din2; c++)
                    din2[p * c2 + c] += g[p * l->c + c1 + c];
            }
            break;
        }
        case GRIN__NN_PAD: /* the padding's gradient goes nowhere */
            if (din)
                for (int b = 0; b < batch; b++)
                    for (int y = 0; y < l->ih; y++)
                        for (int k = 0; k < l->iw * l->ic; k++)
                            din[b * isz + (size_t)y * l->iw * l->ic + k] += g[b * osz + (size_t)y * l->w * l->c + k];
            break;
        }
    }
    return GRIN_OK;
}

/* ------------------------------------------------------------------ MobileNet v1 */

#if GRIN__WIDE
GRIN__V4 static grin_status forward_v4(const grin__nn_net *net, grin__nn_ws *ws, const float *input, int batch,
                                       bool training, const float **out)
{
    return forward_body(net, ws, input, batch, training, out);
}
GRIN__V3 static grin_status forward_v3(const grin__nn_net *net, grin__nn_ws *ws, const float *input, int batch,
                                       bool training, const float **out)
{
    return forward_body(net, ws, input, batch, training, out);
}
GRIN__V4 static grin_status backward_v4(grin__nn_net *net, grin__nn_ws *ws, const float *input, const float *dout)
{
    return backward_body(net, ws, input, dout);
}
GRIN__V3 static grin_status backward_v3(grin__nn_net *net, grin__nn_ws *ws, const float *input, const float *dout)
{
    return backward_body(net, ws, input, dout);
}
#endif

grin_status grin__nn_forward(const grin__nn_net *net, grin__nn_ws *ws, const float *input, int batch,
                             bool training, const float **out)
{
#if GRIN__WIDE
    if (wide_v4())
        return forward_v4(net, ws, input, batch, training, out);
    if (wide_v3())
        return forward_v3(net, ws, input, batch, training, out);
#endif
    return forward_body(net, ws, input, batch, training, out);
}

grin_status grin__nn_backward(grin__nn_net *net, grin__nn_ws *ws, const float *input, const float *dout)
{
#if GRIN__WIDE
    if (wide_v4())
        return backward_v4(net, ws, input, dout);
    if (wide_v3())
        return backward_v3(net, ws, input, dout);
#endif
    return backward_body(net, ws, input, dout);
}

grin_status grin__nn_mobilenet(grin__nn_net *net, int size, int channels, float alpha,
                               uint64_t seed, grin_error *err)
{
    return grin__nn_mobilenet_heads(net, size, channels, alpha, 1, seed, err);
}

grin_status grin__nn_mobilenet_heads(grin__nn_net *net, int size, int channels, float alpha, int outputs,
                                     uint64_t seed, grin_error *err)
{
    if (outputs < 1 || outputs > 256)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "MobileNet: %d outputs out of range", outputs);
    if (size < 32 || size > 1024 || (channels != 1 && channels != 3) || !(alpha > 0.05f && alpha <= 4.0f))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "MobileNet: input %dx%dx%d, alpha %g out of range",
                          size, size, channels, alpha);
    grin__nn_init(net, size, size, channels);
    static const int blocks[13][2] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},
                                      {512, 2}, {512, 1}, {512, 1}, {512, 1}, {512, 1},
                                      {512, 1}, {1024, 2}, {1024, 1}};
#define CH(c) ((int)((c) * alpha) < 8 ? 8 : (int)((c) * alpha))
    int prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {-1, -1}, .k = 3, .stride = 2,
                                                  .pad = 1, .groups = 1, .out_c = CH(32)});
    prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_BN, .in = {prev, -1}});
    prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU6, .in = {prev, -1}});
    int c = CH(32);
    for (int b = 0; b < 13 && prev >= 0; b++) {
        prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {prev, -1}, .k = 3,
                                                  .stride = blocks[b][1], .pad = 1, .groups = c, .out_c = c});
        prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_BN, .in = {prev, -1}});
        prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU6, .in = {prev, -1}});
        c = CH(blocks[b][0]);
        prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {prev, -1}, .k = 1, .stride = 1,
                                                  .pad = 0, .groups = 1, .out_c = c});
        prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_BN, .in = {prev, -1}});
        prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU6, .in = {prev, -1}});
    }
#undef CH
    prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_GAP, .in = {prev, -1}});
    prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {prev, -1}, .out_c = outputs});
    prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_SIGMOID, .in = {prev, -1}});
    if (prev < 0)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    return grin__nn_finish(net, seed, err);
}

/* a convolution padded as TensorFlow's "same" on an n x n input: output ceil(n / stride), the
 * padding split with the odd row and column at the bottom and right */
static int same_conv(grin__nn_net *net, int in, int *n, int k, int stride, int groups, int out_c, bool bias)
{
    int out = (*n + stride - 1) / stride, total = (out - 1) * stride + k - *n;
    if (total < 0)
        total = 0;
    *n = out;
    return grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {in, -1}, .k = k, .stride = stride,
                                              .pad = total / 2, .pad_extra = total % 2, .groups = groups,
                                              .out_c = out_c, .bias = bias});
}

static int check_added(int idx, bool *ok)
{
    *ok = *ok && idx >= 0;
    return idx;
}

grin_status grin__nn_dense4(grin__nn_net *net, int size, int channels, float alpha, int outputs, uint64_t seed,
                            int *parts, grin_error *err)
{
    if (outputs < 1 || outputs > 256 || size < 16 || size > 1024 || !(alpha >= 0.1f && alpha <= 4.0f) ||
        (channels != 1 && channels != 3))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "dense4: size %d, alpha %g or %d outputs out of range",
                          size, alpha, outputs);
    grin__nn_init(net, size, size, channels);
    int n = size, prev = -1, c = channels, np = 0, idx[GRIN__DENSE4_PARAM_LAYERS];
    bool ok = true;
#define OK(x) check_added((x), &ok)
    for (int b = 0; b < 4; b++) {
        int oc = (int)(32 * alpha * (1 << b));
        oc = oc < 8 ? 8 : oc;
        /* conv0: a full convolution in the first block, a separable one after; stride 2 */
        if (b == 0) {
            prev = idx[np++] = OK(same_conv(net, prev, &n, 3, 2, 1, oc, true));
        } else {
            prev = idx[np++] = OK(same_conv(net, prev, &n, 3, 2, c, c, false));
            prev = idx[np++] = OK(same_conv(net, prev, &n, 1, 1, 1, oc, true));
        }
        c = oc;
        int sum = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {prev, -1}}));
        /* conv1..3 each read the ReLU of the sum so far and add to it */
        int x = sum;
        for (int j = 1; j <= 3; j++) {
            int d = idx[np++] = OK(same_conv(net, x, &n, 3, 1, c, c, false));
            int p = idx[np++] = OK(same_conv(net, d, &n, 1, 1, 1, c, true));
            sum = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_ADD, .in = {sum, p}}));
            x = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {sum, -1}}));
        }
        prev = x;
    }
    prev = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_GAP, .in = {prev, -1}}));
    prev = idx[np++] =
        OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {prev, -1}, .out_c = outputs}));
    OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_SIGMOID, .in = {prev, -1}}));
#undef OK
    if (!ok)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    if (parts)
        memcpy(parts, idx, sizeof idx);
    grin_status st = grin__nn_finish(net, seed, err);
    /* He initialisation keeps each convolution's variance, but a block's sums add four of them
     * and nothing normalises: a third of it keeps an untrained network's output finite */
    for (int i = 0; st == GRIN_OK && i < net->n; i++)
        if (net->L[i].op == GRIN__NN_CONV && net->L[i].k == 1)
            for (size_t k = 0; k < net->L[i].wn; k++)
                net->params[net->L[i].woff + k] *= 0.33f;
    return st;
}

/* one convolution of the face-recognition ResNet: "same" (pad 1) or "valid" (pad 0) */
static int frconv(grin__nn_net *net, int in, int k, int stride, int pad, int out_c, bool bias)
{
    return grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {in, -1}, .k = k, .stride = stride,
                                              .pad = pad, .groups = 1, .out_c = out_c, .bias = bias});
}

grin_status grin__nn_facerec(grin__nn_net *net, int size, int channels, int outputs, uint64_t seed, int *parts,
                             grin_error *err)
{
    if (outputs < 1 || outputs > 256 || size < GRIN__FACEREC_MIN_SIZE || size > 512 || (channels != 1 && channels != 3))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT,
                          "face-recognition ResNet: size %d (%d-512) or %d outputs out of range", size,
                          GRIN__FACEREC_MIN_SIZE, outputs);
    /* each stage: channels and residual blocks after its first (which halves the size) */
    static const int stages[5][2] = {{32, 3}, {64, 3}, {128, 2}, {256, 2}, {256, 0}};
    grin__nn_init(net, size, size, channels);
    int np = 0, idx[GRIN__FACEREC_PARAM_LAYERS], nlast = 0, last[16], nproj = 0, proj[4];
    bool ok = true;
#define OK(x) check_added((x), &ok)
#define PARAM(x) (np < GRIN__FACEREC_PARAM_LAYERS ? (idx[np++] = (x)) : (ok = false, -1))
    int prev = PARAM(OK(frconv(net, -1, 7, 2, 0, 32, true)));
    prev = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {prev, -1}}));
    prev = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_MAXPOOL, .in = {prev, -1}, .k = 3, .stride = 2}));
    int n = ((size - 7) / 2 + 1 - 3) / 2 + 1, c = 32;
    for (int s = 0; s < 5 && ok; s++) {
        int oc = stages[s][0];
        for (int r = s == 0; r <= stages[s][1] && ok; r++) {
            /* block 0 of a stage: a valid 3x3 stride-2 convolution beside 2x2 average pooling */
            bool down = r == 0;
            int x = prev;
            int a = PARAM(OK(frconv(net, x, 3, down ? 2 : 1, down ? 0 : 1, oc, true)));
            a = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {a, -1}}));
            a = last[nlast++] = PARAM(OK(frconv(net, a, 3, 1, 1, oc, true)));
            int b = x;
            if (down) {
                int na = (n - 3) / 2 + 1, nb = n / 2;
                if (nb > na) /* the pooled side is longer: zeros at the bottom and right */
                    a = OK(grin__nn_add(net,
                                        (grin__nn_layer){.op = GRIN__NN_PAD, .in = {a, -1}, .pad_extra = nb - na}));
                b = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_AVGPOOL, .in = {x, -1}, .k = 2, .stride = 2}));
                if (oc != c) /* more channels: the pooled ones, then zeros (a 1x1 projection that starts so) */
                    b = proj[nproj++] = PARAM(OK(frconv(net, b, 1, 1, 0, oc, false)));
                n = nb, c = oc;
            }
            prev = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_ADD, .in = {a, b}}));
            prev = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {prev, -1}}));
        }
    }
    prev = OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_GAP, .in = {prev, -1}}));
    prev = PARAM(OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {prev, -1}, .out_c = 128})));
    prev = PARAM(OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {prev, -1}, .out_c = outputs})));
    OK(grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_SIGMOID, .in = {prev, -1}}));
#undef PARAM
#undef OK
    if (!ok || np != GRIN__FACEREC_PARAM_LAYERS)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    if (parts)
        memcpy(parts, idx, sizeof(int) * GRIN__FACEREC_PARAM_LAYERS);
    grin_status st = grin__nn_finish(net, seed, err);
    /* nothing normalises: each residual branch's last convolution starts small (a quarter of He's
     * scale), each projection as the identity on the pooled channels and zeros after */
    for (int k = 0; st == GRIN_OK && k < nlast; k++)
        for (size_t i = 0; i < net->L[last[k]].wn; i++)
            net->params[net->L[last[k]].woff + i] *= 0.25f;
    for (int k = 0; st == GRIN_OK && k < nproj; k++) {
        grin__nn_layer *l = &net->L[proj[k]];
        float *w = net->params + l->woff;
        memset(w, 0, l->wn * sizeof *w);
        for (int i = 0; i < l->ic; i++)
            w[(size_t)i * l->out_c + (size_t)i] = 1.0f;
    }
    return st;
}

grin_status grin__nn_copy_heads(grin__nn_net *dst, const grin__nn_net *src)
{
    if (dst->n != src->n || dst->n < 2 || dst->L[dst->n - 2].op != GRIN__NN_DENSE ||
        src->L[src->n - 2].op != GRIN__NN_DENSE || dst->nstate != src->nstate)
        return GRIN_ERR_INVALID_ARGUMENT;
    const grin__nn_layer *ld = &dst->L[dst->n - 2], *ls = &src->L[src->n - 2];
    size_t isz = (size_t)ls->ih * ls->iw * ls->ic;
    if (ld->woff != ls->woff || (size_t)ld->ih * ld->iw * ld->ic != isz)
        return GRIN_ERR_INVALID_ARGUMENT;
    for (int i = 0; i < dst->n - 2; i++) /* the same layers before the head */
        if (dst->L[i].op != src->L[i].op || dst->L[i].wn != src->L[i].wn || dst->L[i].bn != src->L[i].bn)
            return GRIN_ERR_INVALID_ARGUMENT;
    memcpy(dst->params, src->params, ld->woff * sizeof(float));
    memcpy(dst->state, src->state, dst->nstate * sizeof(float));
    int C = ld->out_c < ls->out_c ? ld->out_c : ls->out_c;
    for (size_t i = 0; i < isz; i++) /* dense weights are isz x out_c */
        for (int c = 0; c < C; c++)
            dst->params[ld->woff + i * (size_t)ld->out_c + (size_t)c] =
                src->params[ls->woff + i * (size_t)ls->out_c + (size_t)c];
    for (int c = 0; c < C; c++)
        dst->params[ld->boff + (size_t)c] = src->params[ls->boff + (size_t)c];
    return GRIN_OK;
}

grin_status grin__nn_landmark_mlp(grin__nn_net *net, int inputs, int hidden, uint64_t seed, grin_error *err)
{
    if (inputs < 1 || inputs > 1024 || hidden < 1 || hidden > 1024)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "landmark branch: %d inputs, %d hidden out of range",
                          inputs, hidden);
    grin__nn_init(net, 1, 1, inputs);
    int prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {-1, -1}, .out_c = hidden});
    prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {prev, -1}});
    prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {prev, -1}, .out_c = 1});
    prev = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_SIGMOID, .in = {prev, -1}});
    if (prev < 0)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    return grin__nn_finish(net, seed, err);
}
