/* infer.c — compiling a trained network into a flat inference plan (batch norm folded into the
 * convolution before it, activations fused into the store, GEMM weights packed in panels) and
 * running it; the scalar reference kernels. */
#include "infer.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__SSE__)
#include <xmmintrin.h>
#endif

static inline float act_apply(float v, int act)
{
    if (act != GRIN__ACT_NONE) {
        v = v > 0.0f ? v : 0.0f;
        if (act == GRIN__ACT_RELU6 && v > 6.0f)
            v = 6.0f;
    }
    return v;
}

/* ---- scalar reference kernels */

static void gemm_scalar(int M, int N, int K, const float *A, int lda, const float *Wp,
                        const float *bias, int act, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            const float *w = Wp + (size_t)(j / GRIN__NR) * K * GRIN__NR + j % GRIN__NR;
            float s = bias[j];
            for (int k = 0; k < K; k++)
                s += A[(size_t)i * lda + k] * w[(size_t)k * GRIN__NR];
            C[(size_t)i * ldc + j] = act_apply(s, act);
        }
}

/* one depthwise output (before its activation): bias plus the taps inside the input */
static float dw_sum(const grin__op *op, const float *in, int oy, int ox, int c)
{
    const int C = op->c;
    float s = op->bias[c];
    for (int ky = 0; ky < op->k; ky++) {
        int iy = oy * op->stride - op->pad + ky;
        if (iy < 0 || iy >= op->ih)
            continue;
        for (int kx = 0; kx < op->k; kx++) {
            int ix = ox * op->stride - op->pad + kx;
            if (ix < 0 || ix >= op->iw)
                continue;
            s += in[((size_t)iy * op->iw + ix) * C + c] * op->wt[(size_t)(ky * op->k + kx) * C + c];
        }
    }
    return s;
}

static void dw_scalar(const grin__op *op, const float *in, float *out, int y0, int y1)
{
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < op->w; ox++) {
            float *o = out + ((size_t)oy * op->w + ox) * op->c;
            for (int c = 0; c < op->c; c++)
                o[c] = act_apply(dw_sum(op, in, oy, ox, c), op->act);
        }
}

const grin__kernels grin__kernels_scalar = {gemm_scalar, dw_scalar, NULL};

/* ---- building */

static size_t panel_floats(int K, int N)
{
    return (size_t)((N + GRIN__NR - 1) / GRIN__NR) * K * GRIN__NR;
}

static void pack_weights(const float *W, int K, int N, float *dst)
{
    int panels = (N + GRIN__NR - 1) / GRIN__NR;
    for (int p = 0; p < panels; p++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < GRIN__NR; j++) {
                int n = p * GRIN__NR + j;
                dst[((size_t)p * K + k) * GRIN__NR + j] = n < N ? W[(size_t)k * N + n] : 0.0f;
            }
}

grin_status grin__nn_plan_build(const grin__nn_net *net, const float *state, grin__nn_plan *plan,
                                grin_error *err)
{
    memset(plan, 0, sizeof *plan);
    /* first pass: check the shape of the graph and size the arena */
    size_t arena = 0;
    int nops = 0;
    /* the running sum: which layers' values it must hold (the other input of an addition), and
     * that each addition finds there the value it needs */
    bool *src = calloc((size_t)net->n + 1, sizeof *src);
    if (!src)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < net->n; i++) {
        const grin__nn_layer *l = &net->L[i];
        if (l->op == GRIN__NN_ADD) {
            int other = l->in[0] == i - 1 ? l->in[1] : l->in[0];
            if ((l->in[0] != i - 1 && l->in[1] != i - 1) || other < 0 || other == i - 1) {
                free(src);
                return grin__fail(err, GRIN_ERR_UNSUPPORTED, "layer %d: not a chain", i);
            }
            src[other] = true;
        }
    }
    for (int i = 0, held = -1; i < net->n; i++) {
        const grin__nn_layer *l = &net->L[i];
        bool bad = l->in[0] != i - 1 && l->op != GRIN__NN_ADD;
        if (l->op == GRIN__NN_ADD) {
            int other = l->in[0] == i - 1 ? l->in[1] : l->in[0];
            const grin__nn_layer *p = &net->L[i - 1];
            bad = other != held || (p->op != GRIN__NN_CONV && p->op != GRIN__NN_DENSE) || src[i - 1];
            held = i;
        } else if (src[i]) {
            held = i;
        }
        if (bad || (l->in[1] != -1 && l->op != GRIN__NN_ADD)) {
            free(src);
            return grin__fail(err, GRIN_ERR_UNSUPPORTED, "layer %d: not a chain", i);
        }
    }
    for (int i = 0; i < net->n; i++) {
        const grin__nn_layer *l = &net->L[i];
        if (l->pad_extra) {
            free(src);
            return grin__fail(err, GRIN_ERR_UNSUPPORTED, "layer %d: uneven padding", i);
        }
        switch (l->op) {
        case GRIN__NN_CONV: {
            bool dw = l->groups == l->ic && l->out_c == l->ic && l->groups > 1;
            if (l->groups != 1 && !dw)
                return grin__fail(err, GRIN_ERR_UNSUPPORTED, "layer %d: grouped convolution", i);
            arena += dw ? (size_t)l->k * l->k * l->c + (size_t)l->c
                        : panel_floats(l->k * l->k * l->ic, l->c) + (size_t)l->c + GRIN__NR;
            nops++;
            break;
        }
        case GRIN__NN_DENSE:
            arena += panel_floats(l->ih * l->iw * l->ic, l->c) + (size_t)l->c + GRIN__NR;
            nops++;
            break;
        case GRIN__NN_BN:
            if (i == 0 || (net->L[i - 1].op != GRIN__NN_CONV && net->L[i - 1].op != GRIN__NN_DENSE)) {
                arena += 2 * (size_t)l->c;
                nops++;
            }
            break;
        case GRIN__NN_RELU:
        case GRIN__NN_RELU6:
        case GRIN__NN_GAP:
        case GRIN__NN_SIGMOID:
            nops++;
            break;
        case GRIN__NN_ADD: /* fused into the convolution before it */
            break;
        default:
            free(src);
            return grin__fail(err, GRIN_ERR_UNSUPPORTED, "layer %d: no fused kernel for this layer", i);
        }
    }
    plan->ops = calloc((size_t)nops, sizeof *plan->ops);
    plan->arena = grin__aligned_alloc((arena + 16) * sizeof(float));
    if (!plan->ops || !plan->arena) {
        grin__nn_plan_free(plan);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    plan->in_h = net->in_h;
    plan->in_w = net->in_w;
    plan->in_c = net->in_c;
    plan->isa = grin__kernels_avx512_usable() ? GRIN__ISA_AVX512
                : grin__kernels_avx2_usable()   ? GRIN__ISA_AVX2
                : grin__kernels_neon_usable()   ? GRIN__ISA_NEON
                                                : GRIN__ISA_SCALAR;
    float *a = plan->arena;
    size_t maxact = (size_t)net->in_h * net->in_w * net->in_c;
    grin__op *prev = NULL;
    for (int i = 0; i < net->n; i++) {
        const grin__nn_layer *l = &net->L[i];
        const float *W = net->params + l->woff;
        const float *Bv = l->bn ? net->params + l->boff : NULL;
        size_t osz = (size_t)l->h * l->w * l->c;
        if (osz > maxact)
            maxact = osz;
        if (l->op == GRIN__NN_BN && prev && i > 0 &&
            (net->L[i - 1].op == GRIN__NN_CONV || net->L[i - 1].op == GRIN__NN_DENSE)) {
            /* fold into the convolution just built: w' = w * s, b' = (b - mean) * s + beta */
            const float *rm = state + l->soff, *rv = rm + l->c;
            float *pw = (float *)prev->wt, *pb = (float *)prev->bias;
            for (int c = 0; c < l->c; c++) {
                float s = (float)(W[c] / sqrt((double)rv[c] + net->bn_eps));
                pb[c] = (pb[c] - rm[c]) * s + Bv[c];
                if (prev->kind == GRIN__OP_DW) {
                    for (int t = 0; t < prev->k * prev->k; t++)
                        pw[(size_t)t * l->c + c] *= s;
                } else {
                    int K = prev->k * prev->k * prev->ic;
                    float *col = pw + (size_t)(c / GRIN__NR) * K * GRIN__NR + c % GRIN__NR;
                    for (int k = 0; k < K; k++)
                        col[(size_t)k * GRIN__NR] *= s;
                }
            }
            continue;
        }
        if (l->op == GRIN__NN_ADD) { /* the convolution just built adds its output to the sum */
            prev->res = GRIN__RES_ADD;
            continue;
        }
        if ((l->op == GRIN__NN_RELU || l->op == GRIN__NN_RELU6) && prev && prev->act == GRIN__ACT_NONE &&
            prev->kind != GRIN__OP_GAP && prev->kind != GRIN__OP_SIGMOID && prev->kind != GRIN__OP_ACT &&
            prev->res != GRIN__RES_STORE) {
            prev->act = l->op == GRIN__NN_RELU ? GRIN__ACT_RELU : GRIN__ACT_RELU6;
            if (src[i])
                prev->res = GRIN__RES_STORE;
            continue;
        }
        grin__op *op = &plan->ops[plan->n++];
        op->h = l->h;
        op->w = l->w;
        op->c = l->c;
        op->ih = l->ih;
        op->iw = l->iw;
        op->ic = l->ic;
        op->k = l->k ? l->k : 1;
        op->stride = l->stride ? l->stride : 1;
        op->pad = l->pad;
        switch (l->op) {
        case GRIN__NN_CONV:
        case GRIN__NN_DENSE: {
            bool dw = l->op == GRIN__NN_CONV && l->groups > 1;
            float *b = a;
            for (int c = 0; c < l->c; c++)
                b[c] = Bv ? Bv[c] : 0.0f;
            a += l->c;
            if (dw) {
                op->kind = GRIN__OP_DW;
                memcpy(a, W, (size_t)op->k * op->k * l->c * sizeof *a);
                op->wt = a;
                a += (size_t)op->k * op->k * l->c;
            } else {
                op->kind = GRIN__OP_GEMM;
                a += GRIN__NR; /* bias padding so SIMD kernels may read a full panel */
                int K = l->op == GRIN__NN_DENSE ? l->ih * l->iw * l->ic : op->k * op->k * l->ic;
                if (l->op == GRIN__NN_DENSE) { /* a 1x1 convolution of the flattened input */
                    op->k = op->stride = 1;
                    op->pad = 0;
                    op->ih = op->iw = 1;
                    op->ic = K;
                }
                pack_weights(W, K, l->c, a);
                op->wt = a;
                a += panel_floats(K, l->c);
                bool pointwise = op->k == 1 && op->stride == 1 && op->pad == 0;
                size_t colf = pointwise ? 0 : (size_t)l->h * l->w * K;
                if (colf > plan->col_floats)
                    plan->col_floats = colf;
            }
            op->bias = b;
            break;
        }
        case GRIN__NN_BN: {
            const float *rm = state + l->soff, *rv = rm + l->c;
            float *w = a, *b = a + l->c;
            for (int c = 0; c < l->c; c++) {
                w[c] = (float)(W[c] / sqrt((double)rv[c] + net->bn_eps));
                b[c] = Bv[c] - rm[c] * w[c];
            }
            a += 2 * (size_t)l->c;
            op->kind = GRIN__OP_AFFINE;
            op->wt = w;
            op->bias = b;
            break;
        }
        case GRIN__NN_RELU:
        case GRIN__NN_RELU6:
            op->kind = GRIN__OP_ACT;
            op->act = l->op == GRIN__NN_RELU ? GRIN__ACT_RELU : GRIN__ACT_RELU6;
            break;
        case GRIN__NN_GAP:
            op->kind = GRIN__OP_GAP;
            break;
        default:
            op->kind = GRIN__OP_SIGMOID;
            break;
        }
        if (src[i])
            op->res = GRIN__RES_STORE;
        prev = op;
    }
    free(src);
    /* weights too small to matter are flushed to zero: subnormal operands make some CPUs' vector
     * FMA take a slow path */
    for (float *q = plan->arena; q < a; q++)
        if (*q != 0.0f && fabsf(*q) < FLT_MIN)
            *q = 0.0f;
    plan->act_floats = maxact;
    plan->out_c = net->L[net->n - 1].c;
    for (int i = 0; i < plan->n; i++)
        plan->has_res |= plan->ops[i].res != GRIN__RES_NONE;
    return GRIN_OK;
}

void grin__nn_plan_free(grin__nn_plan *plan)
{
    grin__aligned_free(plan->qarena);
    free(plan->ops);
    grin__aligned_free(plan->arena);
    memset(plan, 0, sizeof *plan);
}

void grin__nn_scratch_free(grin__nn_scratch *s)
{
    grin__aligned_free(s->a);
    grin__aligned_free(s->b);
    grin__aligned_free(s->col);
    grin__aligned_free(s->q);
    grin__aligned_free(s->r);
    memset(s, 0, sizeof *s);
}

static void im2col(const grin__op *op, const float *in, float *col)
{
    const int K = op->k * op->k * op->ic;
    for (int oy = 0; oy < op->h; oy++)
        for (int ox = 0; ox < op->w; ox++) {
            float *dst = col + ((size_t)oy * op->w + ox) * K;
            for (int ky = 0; ky < op->k; ky++) {
                int iy = oy * op->stride - op->pad + ky;
                for (int kx = 0; kx < op->k; kx++) {
                    int ix = ox * op->stride - op->pad + kx;
                    float *d = dst + (ky * op->k + kx) * op->ic;
                    if (iy < 0 || iy >= op->ih || ix < 0 || ix >= op->iw)
                        memset(d, 0, (size_t)op->ic * sizeof(float));
                    else
                        memcpy(d, in + ((size_t)iy * op->iw + ix) * op->ic, (size_t)op->ic * sizeof(float));
                }
            }
        }
}

/* one operation, output rows y0..y1-1 (GEMM ops: rows of the P x N output) */
static void run_rows(const grin__kernels *kern, const grin__op *op, const float *x, const float *A, float *y,
                     int y0, int y1)
{
    switch (op->kind) {
    case GRIN__OP_GEMM: {
        int K = op->k * op->k * op->ic;
        if (!A) { /* direct convolution */
            kern->conv(op, x, y, y0, y1);
        } else {
            kern->gemm(y1 - y0, op->c, K, A + (size_t)y0 * K, K, op->wt, op->bias, op->act,
                       y + (size_t)y0 * op->c, op->c);
        }
        break;
    }
    case GRIN__OP_DW:
        kern->dw(op, x, y, y0, y1);
        break;
    default:
        break;
    }
}

typedef void (*gemm_u8_fn)(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                           const float *bias, int act, float *C, int ldc);

/* how an 8-bit plan runs an operation (SPLIT_FLOAT: as a float plan does) */
enum { SPLIT_FLOAT, SPLIT_DW_U8_AVX512, SPLIT_DW_U8_AVX2, SPLIT_DW_U8_SCALAR, SPLIT_GEMM_U8 };

typedef struct {
    const grin__kernels *kern;
    const grin__op *op;
    const float *x, *A;
    float *y;
    int rows, chunks, align;
    int mode;            /* SPLIT_* */
    int k4;              /* the 8-bit modes: the u8 row length after a depthwise layer */
    gemm_u8_fn gemm_u8;  /* SPLIT_GEMM_U8 */
} split_ctx;

static void run_rows_u8(const split_ctx *c, int y0, int y1);

static void split_task(void *vctx, int task, int thread)
{
    (void)thread;
    const split_ctx *c = vctx;
    int per = (c->rows + c->chunks - 1) / c->chunks;
    per = (per + c->align - 1) / c->align * c->align;
    int y0 = task * per, y1 = y0 + per < c->rows ? y0 + per : c->rows;
    if (y0 < y1) {
        if (c->mode == SPLIT_FLOAT)
            run_rows(c->kern, c->op, c->x, c->A, c->y, y0, y1);
        else
            run_rows_u8(c, y0, y1);
    }
}

/* c->rows rows in c->chunks parts over the pool (the calling thread's alone when one) */
static void run_split(const split_ctx *c, grin__pool *pool)
{
    if (c->chunks > 1)
        grin__pool_run(pool, split_task, (void *)c, c->chunks);
    else
        split_task((void *)c, 0, 0);
}

int grin__dw_strip_units(int units, int blocks, int acc)
{
    int best = acc;
    long cost = -1;
    for (int nu = acc; nu >= 2; nu /= 2) {
        int cb = acc / nu;
        if (blocks % cb)
            continue;
        long k = (long)((units + nu - 1) / nu) * (blocks / cb);
        if (cost < 0 || k < cost)
            cost = k, best = nu;
    }
    return best;
}

/* below this many multiply-adds an operation is not worth handing to other threads; a
 * depthwise layer is split from far fewer: it does little arithmetic per byte, and after a
 * split layer half of its input sits in the other core's cache (alone, MobileNet 1.0/224's
 * 56x56 depthwise layers ran at half speed on two threads) */
#define SPLIT_MIN_MACS 2000000.0
#define SPLIT_MIN_MACS_DW 200000.0

/* ---- 8-bit kernels (scalar reference) */

static void gemm_u8_scalar(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                           const float *bias, int act, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) {
            const int8_t *w = Wq + (size_t)(n / GRIN__NR) * K4 * GRIN__NR + (n % GRIN__NR) * 4;
            int32_t sum = 0;
            for (int k = 0; k < K4; k++)
                sum += (int32_t)A[(size_t)i * K4 + k] * w[(size_t)(k / 4) * GRIN__NR * 4 + k % 4];
            C[(size_t)i * ldc + n] = act_apply((float)sum * dq[n] + bias[n], act);
        }
}

static inline uint8_t quant_u8(float v, float inv, int zp)
{
    long q = lrintf(v * inv) + zp;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

/* floats to u8 in place (the byte i over float i's first byte), as grin__quantize_u8_avx2 */
static void quantize_u8_inplace(float *x, size_t n, float inv, int zp)
{
    uint8_t *o = (uint8_t *)x;
    for (size_t i = 0; i < n; i++)
        o[i] = quant_u8(x[i], inv, zp);
}

/* depthwise as dw_scalar, stored as u8 rows of k4 bytes (padding zeroed) */
static void dw_u8_scalar(const grin__op *op, const float *in, uint8_t *out, int y0, int y1, int k4)
{
    const float inv = 1.0f / op->out_scale;
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < op->w; ox++) {
            uint8_t *o = out + ((size_t)oy * op->w + ox) * k4;
            for (int c = 0; c < op->c; c++)
                o[c] = quant_u8(act_apply(dw_sum(op, in, oy, ox, c), op->act), inv, op->zp);
            for (int c = op->c; c < k4; c++)
                o[c] = 0;
        }
}

static inline uint32_t load4(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline void store4(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* adds the weights of the taps of pixel pix that fall outside the image to o (pre-activation) */
static void add_outside(const grin__op *op, int pix, float *o)
{
    const int K = op->k * op->k * op->ic, N = op->c, oy = pix / op->w, ox = pix % op->w;
    for (int ky = 0; ky < op->k; ky++)
        for (int kx = 0; kx < op->k; kx++) {
            int iy = oy * op->stride - op->pad + ky, ix = ox * op->stride - op->pad + kx;
            if (iy >= 0 && iy < op->ih && ix >= 0 && ix < op->iw)
                continue;
            for (int ch = 0; ch < op->ic; ch++) {
                const float *w = op->wt + (size_t)((ky * op->k + kx) * op->ic + ch) * GRIN__NR;
                for (int n = 0; n < N; n++)
                    o[n] += w[(size_t)(n / GRIN__NR) * K * GRIN__NR + n % GRIN__NR];
            }
        }
}

/* the plan's integer GEMM (the scalar one when the tests force the reference kernels) */
static gemm_u8_fn pick_gemm_u8(const grin__nn_plan *plan)
{
    if (grin__nn_force_reference)
        return gemm_u8_scalar;
    return plan->int8_isa == GRIN__INT8_VNNI       ? grin__gemm_u8_vnni
           : plan->int8_isa == GRIN__INT8_AVX2     ? grin__gemm_u8_avx2
           : plan->int8_isa == GRIN__INT8_NEON_DOT ? grin__gemm_u8_neon_dot
           : plan->int8_isa == GRIN__INT8_NEON     ? grin__gemm_u8_neon
                                               : gemm_u8_scalar;
}

/* border pixels gpix[0..ng-1], their u8 rows in grows: GEMM without activation, the outside
 * taps added, activated, written to their places in y */
static void border_group(const grin__op *op, const uint8_t *grows, float *gy, const int *gpix, int ng, float *y,
                         gemm_u8_fn gemm)
{
    const int N = op->c;
    gemm(ng, N, op->k4, grows, op->wq, op->dq, op->bias_q, GRIN__ACT_NONE, gy, N);
    for (int g = 0; g < ng; g++) {
        float *o = gy + (size_t)g * N;
        add_outside(op, gpix[g], o);
        for (int n = 0; n < N; n++)
            y[(size_t)gpix[g] * N + n] = act_apply(o[n], op->act);
    }
}

/* The first convolution from the u8 pixels: rows of k4 bytes per output pixel (taps outside
 * the image 0) through the u8 GEMM with bias_q, which is exact where every tap is inside; the
 * border pixels are then redone with the weights of their outside taps added back (there x is
 * 0, not -1) before the activation. */
static void first_conv_u8(const grin__op *op, const uint8_t *in, uint8_t *rows, float *y, gemm_u8_fn gemm)
{
    const int K = op->k * op->k * op->ic, k4 = op->k4, N = op->c, kc = op->k * op->ic;
    const bool grey3 = op->k == 3 && op->ic == 1 && k4 == 12;
    for (int oy = 0; oy < op->h; oy++)
        for (int ox = 0; ox < op->w; ox++) {
            uint8_t *d = rows + ((size_t)oy * op->w + ox) * k4;
            int iy0 = oy * op->stride - op->pad, ix0 = ox * op->stride - op->pad;
            if (grey3 && iy0 >= 0 && iy0 + 3 <= op->ih && ix0 >= 0 && ix0 + 4 <= op->iw) {
                const uint8_t *r0 = in + (size_t)iy0 * op->iw + ix0;
                uint32_t a = load4(r0), b = load4(r0 + op->iw), c = load4(r0 + 2 * op->iw);
                store4(d, a); /* each store's fourth byte is overwritten by the next */
                store4(d + 3, b);
                store4(d + 6, c);
                store4(d + 8, (c >> 16) & 0xff); /* tap 8, then three zero bytes */
                continue;
            }
            for (int ky = 0; ky < op->k; ky++) {
                int iy = iy0 + ky;
                for (int kx = 0; kx < op->k; kx++) {
                    int ix = ix0 + kx;
                    bool in_img = iy >= 0 && iy < op->ih && ix >= 0 && ix < op->iw;
                    const uint8_t *src = in + ((size_t)iy * op->iw + ix) * op->ic;
                    for (int ch = 0; ch < op->ic; ch++)
                        d[ky * kc + kx * op->ic + ch] = in_img ? src[ch] : 0;
                }
            }
            for (int t = K; t < k4; t++)
                d[t] = 0;
        }
    /* every pixel with its activation: right where no tap falls outside the image */
    const int P = op->h * op->w;
    gemm(P, N, k4, rows, op->wq, op->dq, op->bias_q, op->act, y, N);
    /* the border pixels again, in groups: without the activation, corrected, activated */
    enum { G = 16 };
    uint8_t grows[G * 64];
    float gy[G * 64];
    int gpix[G], ng = 0;
    for (int oy = 0; oy < op->h; oy++) {
        int iy0 = oy * op->stride - op->pad;
        bool whole = iy0 < 0 || iy0 + op->k > op->ih;
        for (int ox = 0; ox < op->w; ox++) {
            int ix0 = ox * op->stride - op->pad;
            if (!whole && ix0 >= 0 && ix0 + op->k <= op->iw) { /* jump to the right border */
                int last = (op->iw - op->k + op->pad) / op->stride;
                if (last > ox)
                    ox = last;
                continue;
            }
            int pix = oy * op->w + ox;
            memcpy(grows + (size_t)ng * k4, rows + (size_t)pix * k4, (size_t)k4);
            gpix[ng++] = pix;
            if (ng == G) {
                border_group(op, grows, gy, gpix, ng, y, gemm);
                ng = 0;
            }
        }
    }
    if (ng)
        border_group(op, grows, gy, gpix, ng, y, gemm);
}

/* rows y0..y1-1 of an 8-bit operation: output rows of a depthwise layer storing u8 (the AVX2
 * mode leaves floats, quantized once the whole layer is done: in place, a part's bytes would
 * land on another part's floats), pixel rows of a u8 GEMM */
static void run_rows_u8(const split_ctx *c, int y0, int y1)
{
    const grin__op *op = c->op;
    switch (c->mode) {
    case SPLIT_DW_U8_AVX512:
        grin__dw_u8_avx512(op, c->x, (uint8_t *)c->y, y0, y1);
        break;
    case SPLIT_DW_U8_AVX2:
        c->kern->dw(op, c->x, c->y, y0, y1);
        break;
    case SPLIT_DW_U8_SCALAR:
        dw_u8_scalar(op, c->x, (uint8_t *)c->y, y0, y1, c->k4);
        break;
    case SPLIT_GEMM_U8:
        c->gemm_u8(y1 - y0, op->c, op->k4, (const uint8_t *)c->x + (size_t)y0 * op->k4, op->wq, op->dq,
                   op->bias_u8 ? op->bias_u8 : op->bias, op->res == GRIN__RES_ADD ? GRIN__ACT_NONE : op->act,
                   c->y + (size_t)y0 * op->c, op->c);
        break;
    }
}

static grin_status run_plan(const grin__nn_plan *plan, grin__nn_scratch *s, const float *in, float *out,
                            grin__pool *pool, float *maxes, bool int8, const uint8_t *in_u8);

grin_status grin__nn_plan_run(const grin__nn_plan *plan, grin__nn_scratch *s, const float *in, float *out,
                              grin__pool *pool)
{
    if (plan->int8 && plan->in_u8) { /* the pixels the floats stand for */
        size_t n = (size_t)plan->in_h * plan->in_w * plan->in_c;
        if (!grin__reserve((void **)&s->q, &s->qcap, n + (size_t)plan->ops[0].h * plan->ops[0].w * plan->ops[0].k4 + 4))
            return GRIN_ERR_NO_MEMORY;
        for (size_t i = 0; i < n; i++) {
            long v = lrintf((in[i] + 1.0f) * 127.5f);
            s->q[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        return run_plan(plan, s, NULL, out, pool, NULL, true, s->q);
    }
    return run_plan(plan, s, in, out, pool, NULL, plan->int8, NULL);
}

grin_status grin__nn_plan_run_u8(const grin__nn_plan *plan, grin__nn_scratch *s, const uint8_t *in, float *out,
                                 grin__pool *pool)
{
    if (plan->int8 && plan->in_u8)
        return run_plan(plan, s, NULL, out, pool, NULL, true, in);
    /* floats in the b buffer: the first operation writes to a */
    size_t n = (size_t)plan->in_h * plan->in_w * plan->in_c;
    if (!grin__reserve((void **)&s->b, &s->bcap, plan->act_floats * sizeof(float)))
        return GRIN_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++)
        s->b[i] = (float)in[i] * (1.0f / 127.5f) - 1.0f;
    return run_plan(plan, s, s->b, out, pool, NULL, plan->int8, NULL);
}

grin_status grin__nn_plan_calibrate(grin__nn_plan *plan, const float *images, int n)
{
    float *maxes = calloc((size_t)plan->n, sizeof *maxes), *out = malloc(((size_t)plan->out_c + 1) * sizeof *out);
    grin__nn_scratch s = {0};
    grin_status st = maxes && out ? GRIN_OK : GRIN_ERR_NO_MEMORY;
    size_t per = (size_t)plan->in_h * plan->in_w * plan->in_c;
    for (int i = 0; i < n && !st; i++)
        st = run_plan(plan, &s, images + (size_t)i * per, out, NULL, maxes, false, NULL);
    if (!st)
        for (int i = 0; i < plan->n; i++)
            plan->ops[i].act_max = maxes[i];
    grin__nn_scratch_free(&s);
    free(maxes);
    free(out);
    return st;
}

static bool quantizable(const grin__nn_plan *plan, int i)
{
    const grin__op *op = &plan->ops[i], *prev = i > 0 ? &plan->ops[i - 1] : NULL;
    return op->kind == GRIN__OP_GEMM && op->k == 1 && op->stride == 1 && op->pad == 0 && prev &&
           prev->kind == GRIN__OP_DW && prev->act_max > 0 && prev->res == GRIN__RES_NONE;
}

/* the first convolution, reading the pixels: a few channels, a kernel larger than 1 */
static bool first_quantizable(const grin__nn_plan *plan)
{
    const grin__op *op = &plan->ops[0];
    return plan->n > 1 && op->kind == GRIN__OP_GEMM && op->k > 1 && op->ic <= 4 && op->ic == plan->in_c &&
           op->res == GRIN__RES_NONE &&
           op->c <= 64 && op->k * op->k * op->ic <= 60 && /* rows and outputs fit first_conv_u8's groups */
           !((plan->isa == GRIN__ISA_AVX2 || plan->isa == GRIN__ISA_AVX512 || plan->isa == GRIN__ISA_NEON) &&
             grin__conv3s2_grey_shape(op));
}

/* int8 weights, per output channel, packed as the u8 GEMM kernels read them; dq = scale_in x
 * the channel's weight scale */
static void pack_int8(const grin__op *op, int K, float s_in, int wmax, int8_t *wq, float *dq)
{
    const int N = op->c, k4 = (K + 3) & ~3, panels = (N + GRIN__NR - 1) / GRIN__NR;
    for (int n = 0; n < panels * GRIN__NR; n++) {
        const float *col = op->wt + (size_t)(n / GRIN__NR) * K * GRIN__NR + n % GRIN__NR;
        float m = 0;
        for (int k = 0; k < K; k++)
            m = fabsf(col[(size_t)k * GRIN__NR]) > m ? fabsf(col[(size_t)k * GRIN__NR]) : m;
        float sw = m > 0 ? m / (float)wmax : 1.0f;
        dq[n] = s_in * sw;
        for (int k = 0; k < k4; k++) {
            long q = k < K ? lrintf(col[(size_t)k * GRIN__NR] / sw) : 0;
            wq[((size_t)(n / GRIN__NR) * (k4 / 4) + k / 4) * GRIN__NR * 4 + (n % GRIN__NR) * 4 + k % 4] =
                (int8_t)(q < -wmax ? -wmax : q > wmax ? wmax : q);
        }
    }
}

/* int8 weights for K x N plus `vecs` per-channel float vectors (dq, and the first layer's bias_q) */
static size_t int8_bytes(int K, int N, int vecs)
{
    int k4 = (K + 3) & ~3, panels = (N + GRIN__NR - 1) / GRIN__NR;
    return (size_t)panels * k4 * GRIN__NR + 64 + (size_t)vecs * (((size_t)panels * GRIN__NR) * sizeof(float) + 64);
}

grin_status grin__nn_plan_quantize(grin__nn_plan *plan, grin_error *err)
{
    int isa = grin__int8_vnni_usable() ? GRIN__INT8_VNNI
              : (plan->isa == GRIN__ISA_AVX2 || plan->isa == GRIN__ISA_AVX512) && grin__kernels_avx2_usable()
                  ? GRIN__INT8_AVX2
              : plan->isa == GRIN__ISA_NEON && grin__int8_neon_dot_usable() ? GRIN__INT8_NEON_DOT
              : plan->isa == GRIN__ISA_NEON && grin__int8_neon_usable()     ? GRIN__INT8_NEON
                                                                            : GRIN__INT8_SCALAR;
    return grin__nn_plan_quantize_for(plan, isa, err);
}

grin_status grin__nn_plan_quantize_for(grin__nn_plan *plan, int int8_isa, grin_error *err)
{
    const int wmax = int8_isa == GRIN__INT8_AVX2 ? 63 : 127;
    if ((int8_isa == GRIN__INT8_AVX2 && !grin__kernels_avx2_usable()) ||
        (int8_isa == GRIN__INT8_VNNI && !grin__int8_vnni_usable()) ||
        (int8_isa == GRIN__INT8_NEON && !grin__int8_neon_usable()) ||
        (int8_isa == GRIN__INT8_NEON_DOT && !grin__int8_neon_dot_usable()))
        int8_isa = GRIN__INT8_SCALAR; /* the weights as asked, the kernels this machine has */
    size_t bytes = 0;
    int nq = 0;
    if (first_quantizable(plan))
        bytes += int8_bytes(plan->ops[0].k * plan->ops[0].k * plan->ops[0].ic, plan->ops[0].c, 2);
    for (int i = 0; i < plan->n; i++)
        if (quantizable(plan, i)) {
            const grin__op *op = &plan->ops[i];
            bytes += int8_bytes(op->ic, op->c, 2);
            nq++;
        }
    if (!nq)
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "no layer of this network can run in 8 bits "
                                                     "(or it was not calibrated)");
    grin__aligned_free(plan->qarena);
    plan->qarena = grin__aligned_alloc(bytes);
    if (!plan->qarena)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    uint8_t *a = plan->qarena;
    plan->in_u8 = first_quantizable(plan);
    if (plan->in_u8) {
        grin__op *op = &plan->ops[0];
        const int K = op->k * op->k * op->ic, k4 = (K + 3) & ~3, panels = (op->c + GRIN__NR - 1) / GRIN__NR;
        int8_t *wq = (int8_t *)a;
        a += ((size_t)panels * k4 * GRIN__NR + 63) & ~(size_t)63;
        float *dq = (float *)a;
        a += ((size_t)panels * GRIN__NR * sizeof(float) + 63) & ~(size_t)63;
        float *bq = (float *)a;
        a += ((size_t)panels * GRIN__NR * sizeof(float) + 63) & ~(size_t)63;
        pack_int8(op, K, 1.0f / 127.5f, wmax, wq, dq);
        for (int n = 0; n < op->c; n++) {
            const float *col = op->wt + (size_t)(n / GRIN__NR) * K * GRIN__NR + n % GRIN__NR;
            double sum = 0;
            for (int k = 0; k < K; k++)
                sum += col[(size_t)k * GRIN__NR];
            bq[n] = op->bias[n] - (float)sum;
        }
        op->wq = wq;
        op->dq = dq;
        op->bias_q = bq;
        op->k4 = k4;
    }
    for (int i = 0; i < plan->n; i++) {
        if (!quantizable(plan, i))
            continue;
        grin__op *op = &plan->ops[i], *prev = &plan->ops[i - 1];
        float amax = prev->act == GRIN__ACT_RELU6 && prev->act_max > 6.0f ? 6.0f : prev->act_max;
        bool sgn = prev->act == GRIN__ACT_NONE; /* act_max is then the largest magnitude */
        float s_in = amax / (sgn ? 127.0f : 255.0f);
        prev->out_u8 = true;
        prev->out_scale = s_in;
        prev->zp = sgn ? 128 : 0;
        const int K = op->ic, N = op->c, k4 = (K + 3) & ~3, panels = (N + GRIN__NR - 1) / GRIN__NR;
        int8_t *wq = (int8_t *)a;
        a += ((size_t)panels * k4 * GRIN__NR + 63) & ~(size_t)63;
        float *dq = (float *)a;
        a += ((size_t)panels * GRIN__NR * sizeof(float) + 63) & ~(size_t)63;
        float *bz = (float *)a;
        a += ((size_t)panels * GRIN__NR * sizeof(float) + 63) & ~(size_t)63;
        pack_int8(op, K, s_in, wmax, wq, dq);
        /* sum (q + zp) w dq = sum q w dq + zp dq sum w: the second term comes off the bias */
        for (int n = 0; n < N; n++) {
            int32_t sw = 0;
            for (int k = 0; k < K; k++)
                sw += wq[((size_t)(n / GRIN__NR) * (k4 / 4) + k / 4) * GRIN__NR * 4 + (n % GRIN__NR) * 4 + k % 4];
            bz[n] = op->bias[n] - (float)prev->zp * dq[n] * (float)sw;
        }
        op->wq = wq;
        op->dq = dq;
        op->bias_u8 = bz;
        op->k4 = k4;
    }
    plan->int8 = true;
    plan->int8_isa = int8_isa;
    return GRIN_OK;
}

grin_status grin__nn_plan_apply_calibration(grin__nn_plan *plan, const char *meta, grin_error *err)
{
    const char *p = meta ? strstr(meta, "int8_act_max=") : NULL;
    if (p && p != meta && p[-1] != '\n')
        p = NULL;
    if (!p)
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "the model has no 8-bit calibration (see grin quantize)");
    p += strlen("int8_act_max=");
    for (int i = 0; i < plan->n; i++) {
        char *end;
        float v = strtof(p, &end);
        if (end == p || !(v >= 0.0f) || v > 1e30f || (i + 1 < plan->n && *end != ','))
            return grin__fail(err, GRIN_ERR_FORMAT, "int8_act_max: value %d missing or malformed", i + 1);
        plan->ops[i].act_max = v;
        p = end + 1;
    }
    if (p[-1] != '\n' && p[-1] != '\0')
        return grin__fail(err, GRIN_ERR_FORMAT, "int8_act_max: more values than the network has layers");
    return grin__nn_plan_quantize(plan, err);
}

bool grin__nn_plan_format_calibration(const grin__nn_plan *plan, char *buf, size_t cap)
{
    size_t off = 0;
    int n = snprintf(buf, cap, "int8_act_max=");
    if (n < 0 || (size_t)n >= cap)
        return false;
    off = (size_t)n;
    for (int i = 0; i < plan->n; i++) {
        n = snprintf(buf + off, cap - off, "%s%.6g", i ? "," : "", plan->ops[i].act_max);
        if (n < 0 || (size_t)n >= cap - off)
            return false;
        off += (size_t)n;
    }
    if (off + 2 > cap)
        return false;
    buf[off] = '\n';
    buf[off + 1] = '\0';
    return true;
}

static grin_status run_ops(const grin__nn_plan *plan, grin__nn_scratch *s, const float *in, float *out,
                           grin__pool *pool, float *maxes, bool int8, const uint8_t *in_u8);

/* Subnormal activations are flushed to zero while the plan runs (flush-to-zero and
 * denormals-are-zero on x86: the vector units take a slow path on them); the caller's
 * floating-point state is restored afterwards. Worker threads of a split layer run with their
 * own state, which only makes them slower on subnormals, never different beyond them. */
static grin_status run_plan(const grin__nn_plan *plan, grin__nn_scratch *s, const float *in, float *out,
                            grin__pool *pool, float *maxes, bool int8, const uint8_t *in_u8)
{
#if defined(__x86_64__) || defined(__SSE__)
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u); /* FTZ | DAZ */
    grin_status st = run_ops(plan, s, in, out, pool, maxes, int8, in_u8);
    _mm_setcsr(csr);
    return st;
#else
    return run_ops(plan, s, in, out, pool, maxes, int8, in_u8);
#endif
}

/* the running sum after an operation wrote its P pixels to y */
static void apply_res(const grin__op *op, float *r, float *y, size_t P)
{
    if (op->res == GRIN__RES_STORE) {
        memcpy(r, y, P * (size_t)op->c * sizeof *y);
    } else if (op->res == GRIN__RES_ADD) {
        for (size_t k = 0; k < P * op->c; k++) {
            r[k] += y[k];
            y[k] = act_apply(r[k], op->act);
        }
    }
}

static grin_status run_ops(const grin__nn_plan *plan, grin__nn_scratch *s, const float *in, float *out,
                           grin__pool *pool, float *maxes, bool int8, const uint8_t *in_u8)
{
    size_t need = plan->act_floats * sizeof(float);
    if (!grin__reserve((void **)&s->a, &s->acap, need) || !grin__reserve((void **)&s->b, &s->bcap, need) ||
        (plan->col_floats && !grin__reserve((void **)&s->col, &s->ccap, plan->col_floats * sizeof(float))) ||
        (plan->has_res && !grin__reserve((void **)&s->r, &s->rcap, need)))
        return GRIN_ERR_NO_MEMORY;
    const grin__kernels *kern = grin__nn_force_reference       ? &grin__kernels_scalar
                                : plan->isa == GRIN__ISA_AVX512 ? &grin__kernels_avx512
                                : plan->isa == GRIN__ISA_AVX2   ? &grin__kernels_avx2
                                : plan->isa == GRIN__ISA_NEON   ? &grin__kernels_neon
                                                                : &grin__kernels_scalar;
    const int T = grin__pool_threads(pool);
    const float *x = in;
    float *bufs[2] = {s->a, s->b};
    int cur = 0, first = 0;
    if (in_u8) { /* the first convolution on the pixels, in 8 bits */
        const grin__op *op = &plan->ops[0];
        size_t P = (size_t)op->h * op->w, n = (size_t)plan->in_h * plan->in_w * plan->in_c;
        if (!grin__reserve((void **)&s->q, &s->qcap, n + P * op->k4 + 4))
            return GRIN_ERR_NO_MEMORY;
        uint8_t *rows = in_u8 == s->q ? s->q + n : s->q;
        first_conv_u8(op, in_u8, rows, bufs[0], pick_gemm_u8(plan));
        x = bufs[0];
        cur = 1;
        first = 1;
    }
    for (int i = first; i < plan->n; i++) {
        const grin__op *op = &plan->ops[i];
        float *y = i == plan->n - 1 ? out : bufs[cur];
        size_t P = (size_t)op->h * op->w;
        if (int8 && op->kind == GRIN__OP_DW && op->out_u8) {
            int k4 = plan->ops[i + 1].k4;
            bool fast = !grin__nn_force_reference && k4 == op->c;
            bool neon = plan->int8_isa == GRIN__INT8_NEON || plan->int8_isa == GRIN__INT8_NEON_DOT;
            int mode = fast && plan->int8_isa == GRIN__INT8_VNNI && grin__dw3_avx512_shape(op) ? SPLIT_DW_U8_AVX512
                       : fast && (plan->int8_isa == GRIN__INT8_AVX2 || neon)                   ? SPLIT_DW_U8_AVX2
                                                                                           : SPLIT_DW_U8_SCALAR;
            double macs = (double)P * op->c * op->k * op->k;
            split_ctx c = {kern, op, x, NULL, y, op->h, T > 1 && macs >= SPLIT_MIN_MACS_DW ? T : 1, 1, mode, k4, NULL};
            run_split(&c, pool);
            if (mode == SPLIT_DW_U8_AVX2 && !neon) /* floats, then u8 over them */
                grin__quantize_u8_avx2(y, P * (size_t)op->c, 1.0f / op->out_scale, op->zp);
            else if (mode == SPLIT_DW_U8_AVX2) /* (NEON's float kernel, then the same in C) */
                quantize_u8_inplace(y, P * (size_t)op->c, 1.0f / op->out_scale, op->zp);
            x = y;
            cur ^= 1;
            continue;
        }
        if (int8 && op->wq && !op->bias_q) {
            double macs = (double)P * op->c * op->ic;
            split_ctx c = {kern, op, x, NULL, y, (int)P, T > 1 && macs >= SPLIT_MIN_MACS ? T : 1, GRIN__MR,
                           SPLIT_GEMM_U8, op->k4, pick_gemm_u8(plan)};
            run_split(&c, pool);
            apply_res(op, s->r, y, P);
            x = y;
            cur ^= 1;
            continue;
        }
        switch (op->kind) {
        case GRIN__OP_GEMM:
        case GRIN__OP_DW: {
            const float *A = NULL;
            int rows = op->h;
            double macs = (double)P * op->c * op->k * op->k * (op->kind == GRIN__OP_DW ? 1 : op->ic);
            if (op->kind == GRIN__OP_GEMM && !(kern->conv && op->ic <= 4 && op->k > 1)) {
                A = x;
                if (!(op->k == 1 && op->stride == 1 && op->pad == 0)) {
                    im2col(op, x, s->col);
                    A = s->col;
                }
                rows = (int)P;
            }
            int chunks = T > 1 && macs >= (op->kind == GRIN__OP_DW ? SPLIT_MIN_MACS_DW : SPLIT_MIN_MACS) ? T : 1;
            grin__op nop;
            if (op->res == GRIN__RES_ADD) { /* the kernel stores the bare output; the sum is activated */
                nop = *op;
                nop.act = GRIN__ACT_NONE;
                op = &nop;
            }
            split_ctx c = {kern, op, x, A, y, rows, chunks, A ? GRIN__MR : 1, SPLIT_FLOAT, 0, NULL};
            run_split(&c, pool);
            op = &plan->ops[i];
            break;
        }
        case GRIN__OP_AFFINE:
            for (size_t p = 0; p < P; p++)
                for (int c = 0; c < op->c; c++)
                    y[p * op->c + c] = act_apply(x[p * op->c + c] * op->wt[c] + op->bias[c], op->act);
            break;
        case GRIN__OP_ACT:
            for (size_t k = 0; k < P * op->c; k++)
                y[k] = act_apply(x[k], op->act);
            break;
        case GRIN__OP_GAP: {
            size_t n = (size_t)op->ih * op->iw;
            for (int c = 0; c < op->c; c++)
                y[c] = 0.0f;
            for (size_t p = 0; p < n; p++)
                for (int c = 0; c < op->c; c++)
                    y[c] += x[p * op->c + c];
            for (int c = 0; c < op->c; c++)
                y[c] /= (float)n;
            break;
        }
        case GRIN__OP_SIGMOID:
            for (size_t k = 0; k < P * op->c; k++)
                y[k] = 1.0f / (1.0f + expf(-x[k]));
            break;
        }
        apply_res(op, s->r, y, P);
        if (maxes) /* the largest output; the largest magnitude where no activation bounds it below */
            for (size_t k = 0; k < P * op->c; k++) {
                float v = op->act == GRIN__ACT_NONE ? fabsf(y[k]) : y[k];
                maxes[i] = v > maxes[i] ? v : maxes[i];
            }
        x = y;
        cur ^= 1;
    }
    return GRIN_OK;
}
