/* infer.h — grin's inference engine (internal): a trained network compiled into a flat plan
 * of fused operations (convolution with its batch norm folded in and its activation applied as
 * it stores; depthwise 3x3; pointwise GEMM on packed weights) that runs one image at a time in
 * two ping-pong buffers with no allocation. Kernels: a portable scalar reference, and AVX2+FMA
 * and AVX-512 picked at run time; the tests hold the fast kernels to the reference and the plan to the
 * training engine's forward pass. */
#ifndef GRIN_INFER_H
#define GRIN_INFER_H

#include "nn.h"

enum { GRIN__ACT_NONE, GRIN__ACT_RELU, GRIN__ACT_RELU6 };
/* the float kernels a plan runs (x86: AVX2+FMA, AVX-512; 64-bit ARM: NEON) */
enum { GRIN__ISA_SCALAR, GRIN__ISA_AVX2, GRIN__ISA_AVX512, GRIN__ISA_NEON };

typedef enum {
    GRIN__OP_GEMM,    /* 1x1 convolution, or any convolution through im2col; packed weights */
    GRIN__OP_DW,      /* depthwise convolution, weights [k*k][C] */
    GRIN__OP_AFFINE,  /* a batch norm with no convolution before it: x * w + b per channel */
    GRIN__OP_ACT,     /* an activation with nothing to fuse into */
    GRIN__OP_GAP,
    GRIN__OP_SIGMOID
} grin__op_kind;

/* a running sum beside the chain (face-api.js's dense blocks): an operation may store its output
 * as the sum (STORE), or add its output to it and pass on act(sum) (ADD; `act` then applies after
 * the addition, the kernel itself storing without one) */
enum { GRIN__RES_NONE, GRIN__RES_STORE, GRIN__RES_ADD };

typedef struct {
    grin__op_kind kind;
    int act;
    int res;             /* GRIN__RES_* */
    int h, w, c;         /* output */
    int ih, iw, ic;      /* input */
    int k, stride, pad;  /* convolutions; k == 1 && stride == 1 && pad == 0 is pointwise */
    const float *wt, *bias; /* packed weights and bias, inside the plan's arena */
    /* 8-bit (grin__nn_plan_quantize) */
    float act_max;       /* calibrated: the largest output seen (grin__nn_plan_calibrate) */
    bool out_u8;         /* DW: stores u8 = round(y / out_scale) + zp, saturated to 0..255: y >= 0
                          * after a ReLU (zp 0), or signed (no activation: zp 128) */
    float out_scale;
    int zp;
    const float *bias_u8; /* the u8 GEMM's bias: bias minus what the input's zero point adds */
    const int8_t *wq;    /* pointwise GEMM on u8 input: weights [panel][K4/4][16][4], per-channel */
    const float *dq;     /* per output channel: input scale x weight scale */
    int k4;              /* K rounded up to 4: the u8 input's row length */
    /* the first convolution in 8 bits straight from the u8 pixels p (x = p / 127.5 - 1):
     * y = act(sum(wq p) dq + bias_q + the weights of taps that fall outside the image) */
    const float *bias_q; /* bias minus the sum of each output channel's weights */
} grin__op;

/* GEMM weights [K][N] packed in column panels of GRIN__NR: panel p holds columns
 * p*NR .. p*NR+NR-1 for k = 0..K-1, contiguous, zero-padded past N. */
#define GRIN__NR 16
#define GRIN__MR 6

typedef struct grin__nn_plan {
    grin__op *ops;
    int n;
    int in_h, in_w, in_c, out_c;
    size_t act_floats, col_floats; /* per-image scratch each buffer needs */
    float *arena;
    int isa;                       /* kernels chosen at build time: GRIN__ISA_* */
    bool int8;                     /* pointwise layers run on 8-bit activations and weights */
    int int8_isa;                  /* ... with these integer kernels: GRIN__INT8_* */
    bool in_u8;                    /* ... and the first convolution reads u8 pixels (run_u8) */
    bool has_res;                  /* some operation keeps a running sum (GRIN__RES_*) */
    void *qarena;
} grin__nn_plan;

/* Scratch for one thread running a plan (grown on demand, reused). */
typedef struct {
    float *a, *b, *col;
    size_t acap, bcap, ccap;
    uint8_t *q; /* u8 rows of the first convolution (run_u8) */
    size_t qcap;
    float *r;   /* the running sum (GRIN__RES_*) */
    size_t rcap;
} grin__nn_scratch;

/* Compiles `net` (a chain: each layer takes the previous one's output, no pooling other than
 * global average; an addition may take, besides the previous layer, the output of the last
 * layer whose value it or an earlier addition keeps as the running sum) into a plan. GRIN_ERR_UNSUPPORTED when the graph has another shape; the
 * caller then runs grin__nn_forward. */
grin_status grin__nn_plan_build(const grin__nn_net *net, const float *state, grin__nn_plan *plan,
                                grin_error *err);
void grin__nn_plan_free(grin__nn_plan *plan);
/* One image in (in_h x in_w x in_c NHWC), out_c floats out. With a pool, operations large
 * enough to repay the hand-off are split by output rows over its threads. */
grin_status grin__nn_plan_run(const grin__nn_plan *plan, grin__nn_scratch *s, const float *in, float *out,
                              grin__pool *pool);
void grin__nn_scratch_free(grin__nn_scratch *s);
/* The same from u8 pixels p (in_h x in_w x in_c; the net sees p / 127.5 - 1): an 8-bit plan
 * whose first convolution was quantized runs it on the bytes; otherwise they are converted and
 * grin__nn_plan_run runs. */
grin_status grin__nn_plan_run_u8(const grin__nn_plan *plan, grin__nn_scratch *s, const uint8_t *in,
                                 float *out, grin__pool *pool);

/* Records each operation's largest output over n calibration images (float kernels). */
grin_status grin__nn_plan_calibrate(grin__nn_plan *plan, const float *images, int n);
/* 8-bit post-training quantization from the calibration: every pointwise layer whose input comes
 * from a depthwise layer gets per-output-channel symmetric int8 weights and reads unsigned 8-bit
 * activations that the depthwise layer stores directly: after a ReLU, scale = calibrated max / 255;
 * with no activation (face-api.js's separable convolutions), zero point 128 and scale = calibrated
 * largest magnitude / 127, the zero point's share taken out of the bias. Integer sums are exact, so the VNNI, AVX2 and scalar kernels agree bit for bit on
 * the same weights. The first convolution (few input channels) gets int8 weights too and reads
 * the u8 pixels themselves (grin__nn_plan_run_u8) — unless it is a grey layer the AVX-512 or
 * AVX2 float kernel takes (grin__conv3s2_grey_shape), which is faster. Large layers are split
 * over the pool's threads as in float. */
grin_status grin__nn_plan_quantize(grin__nn_plan *plan, grin_error *err);
/* The integer kernels an 8-bit plan runs on. Without VNNI, vpmaddubsw adds u8 x s8 products in
 * saturating 16-bit pairs, so an AVX2 plan packs its weights into [-63, 63] (exact sums); the
 * others use [-127, 127]. */
enum { GRIN__INT8_SCALAR, GRIN__INT8_AVX2, GRIN__INT8_VNNI, GRIN__INT8_NEON, GRIN__INT8_NEON_DOT };
/* grin__nn_plan_quantize for the given kernels (tests reach the AVX2 ones on VNNI machines) */
grin_status grin__nn_plan_quantize_for(grin__nn_plan *plan, int int8_isa, grin_error *err);
/* Calibration travels in the model's metadata as one line "int8_act_max=m0,m1,..." (one value
 * per plan operation). apply parses it and quantizes (GRIN_ERR_UNSUPPORTED when absent). */
grin_status grin__nn_plan_apply_calibration(grin__nn_plan *plan, const char *meta, grin_error *err);
/* Writes the line (with its newline) into buf; false when it does not fit. */
bool grin__nn_plan_format_calibration(const grin__nn_plan *plan, char *buf, size_t cap);
bool grin__int8_vnni_usable(void);
/* 64-bit ARM: the u8 x s8 GEMM with SDOT (the dot-product extension) or with widening
 * multiply-accumulates (every NEON core, as the TX2's A57): activations as x - 128 in s8, the
 * 128 x column sums added back, so the integer sums are the scalar kernel's exactly */
bool grin__int8_neon_usable(void);
bool grin__int8_neon_dot_usable(void);
void grin__gemm_u8_neon(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                        const float *bias, int act, float *C, int ldc);
void grin__gemm_u8_neon_dot(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                            const float *bias, int act, float *C, int ldc);
/* the shapes the AVX-512 3x3 depthwise kernels (float and u8 store) take */
static inline bool grin__dw3_avx512_shape(const grin__op *op)
{
    return op->k == 3 && op->c % 8 == 0 && op->stride <= 2;
}
/* The depthwise strip kernels hold `acc` accumulators: NU output units x acc / NU channel
 * blocks. The NU (acc, acc / 2, ... 2) that leaves fewest lanes idle on a row of `units` units
 * and `blocks` blocks — strips a row times block groups — among those whose group size divides
 * `blocks`. */
int grin__dw_strip_units(int units, int blocks, int acc);
/* the first layers the AVX-512 and AVX2 grey kernels take (16 or 8 output pixels a vector); in
 * an 8-bit plan they stay in floats, which those kernels (and NEON's direct convolution) make
 * faster than first_conv_u8 */
static inline bool grin__conv3s2_grey_shape(const grin__op *op)
{
    return op->k == 3 && op->ic == 1 && op->stride == 2 && op->pad == 1 && op->c % 8 == 0 && op->c <= 64;
}
/* the AVX2 u8 GEMM (weights in [-63, 63]) and the in-place float -> u8 store of depthwise
 * layers on it */
void grin__gemm_u8_avx2(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                        const float *bias, int act, float *C, int ldc);
void grin__quantize_u8_avx2(float *x, size_t n, float inv, int zp);
void grin__gemm_u8_vnni(int M, int N, int K4, const uint8_t *A, const int8_t *Wq, const float *dq,
                        const float *bias, int act, float *C, int ldc);
void grin__dw_u8_avx512(const grin__op *op, const float *in, uint8_t *out, int y0, int y1);

/* The kernels (scalar in infer.c, AVX2+FMA in infer_avx2.c, AVX-512 in infer_avx512.c, NEON in
 * infer_neon.c). C = act(A (M x K, lda) * Wp + bias). */
typedef struct {
    void (*gemm)(int M, int N, int K, const float *A, int lda, const float *Wp, const float *bias,
                 int act, float *C, int ldc);
    /* output rows y0..y1-1 of a depthwise op */
    void (*dw)(const grin__op *op, const float *in, float *out, int y0, int y1);
    /* output rows y0..y1-1 of a non-pointwise GEMM op computed straight from its input (NULL:
     * im2col + gemm) */
    void (*conv)(const grin__op *op, const float *in, float *out, int y0, int y1);
} grin__kernels;
extern const grin__kernels grin__kernels_scalar;
extern const grin__kernels grin__kernels_avx2;
extern const grin__kernels grin__kernels_avx512;
extern const grin__kernels grin__kernels_neon;
bool grin__kernels_avx2_usable(void);
bool grin__kernels_avx512_usable(void);
bool grin__kernels_neon_usable(void);

#endif
