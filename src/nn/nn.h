/* nn.h — grin's neural-network engine (internal): a small DAG of layers in NHWC float32 with
 * forward and backward passes, for training and running MobileNet-style classifiers. */
#ifndef GRIN_NN_H
#define GRIN_NN_H

#include "../core/internal.h"

typedef enum {
    GRIN__NN_CONV,    /* 2-D convolution, any kernel/stride/padding/groups, optional bias */
    GRIN__NN_BN,      /* batch normalisation (batch statistics in training, running ones else) */
    GRIN__NN_RELU,
    GRIN__NN_RELU6,
    GRIN__NN_MAXPOOL,
    GRIN__NN_AVGPOOL,
    GRIN__NN_GAP,     /* global average pooling -> 1x1xC */
    GRIN__NN_DENSE,   /* fully connected on the flattened input, with bias */
    GRIN__NN_ADD,     /* residual: in[0] + in[1] */
    GRIN__NN_CONCAT,  /* channels of in[0] then in[1] */
    GRIN__NN_SIGMOID, /* the probability head (loss is computed on its input) */
    GRIN__NN_PAD      /* pad_extra zero rows and columns added at the bottom and right */
} grin__nn_op;

typedef struct {
    grin__nn_op op;
    int in[2];                          /* producing layers; -1 is the network input */
    int k, stride, pad, groups, out_c;  /* conv and pooling; dense uses out_c */
    int pad_extra;                      /* conv: zero rows/columns past pad at the bottom and right
                                         * (TensorFlow's "same" on an even input with stride 2) */
    bool bias;
    int h, w, c;                        /* output shape, filled by grin__nn_finish */
    int ih, iw, ic;                     /* shape of in[0] */
    size_t woff, wn, boff, bn;          /* parameters: weights (BN: gamma), bias (BN: beta) */
    size_t soff;                        /* BN running mean, then variance, in the state */
} grin__nn_layer;

typedef struct {
    int in_h, in_w, in_c;
    grin__nn_layer *L;
    int n, cap;
    size_t nparams, nstate;
    float *params, *grads, *state;
    float bn_momentum, bn_eps;
} grin__nn_net;

/* building: add layers in topological order, then finish (shapes, parameter offsets) */
void grin__nn_init(grin__nn_net *net, int h, int w, int c);
int grin__nn_add(grin__nn_net *net, grin__nn_layer l); /* returns the index, -1 when out of memory */
grin_status grin__nn_finish(grin__nn_net *net, uint64_t seed, grin_error *err);
void grin__nn_free(grin__nn_net *net);
/* multiply-adds of one forward pass of one image */
uint64_t grin__nn_macs(const grin__nn_net *net);

/* Activations and gradients for a batch; reused across calls. */
typedef struct {
    int batch;     /* the images of the current pass */
    int cap_batch; /* the buffers hold this many: a smaller batch reuses them (no new pages) */
    float **act, **dact;
    float **bn_xhat, **bn_invstd; /* per BN layer, saved by a training forward pass */
    double *bn_sums;              /* 2 x the widest BN layer: per-channel sums of a pass */
    float *bn_scale;              /* the widest BN layer: per-channel factors of a backward pass */
    float *col;
    size_t col_cap;
} grin__nn_ws;

void grin__nn_ws_free(grin__nn_ws *ws);
/* Forward pass of `batch` NHWC images; returns the last layer's output (batch x h x w x c). */
grin_status grin__nn_forward(const grin__nn_net *net, grin__nn_ws *ws, const float *input,
                             int batch, bool training, const float **out);
/* Backward pass from the gradient of the loss wrt the last layer's output (its input, for a
 * SIGMOID head); accumulates parameter gradients into net->grads (caller zeroes them). */
grin_status grin__nn_backward(grin__nn_net *net, grin__nn_ws *ws, const float *input,
                              const float *dout);

/* The reference (direct-loop) implementations the fast paths are held to. */
extern bool grin__nn_force_reference;

/* MobileNet v1 with width multiplier alpha for size x size x channels input, ending in one
 * logit (dense 1) and a sigmoid. */
grin_status grin__nn_mobilenet(grin__nn_net *net, int size, int channels, float alpha,
                               uint64_t seed, grin_error *err);
/* the same with `outputs` logits (each with its sigmoid): the smile first, then auxiliary
 * heads that training may add (multi-task learning) */
grin_status grin__nn_mobilenet_heads(grin__nn_net *net, int size, int channels, float alpha, int outputs,
                                     uint64_t seed, grin_error *err);
/* Copies src's weights and batch-norm statistics into dst, two networks that differ only in the
 * number of outputs of their final dense layer (the first min(outputs) heads are copied, dst's
 * others keep their values); GRIN_ERR_INVALID_ARGUMENT when they differ otherwise. */
grin_status grin__nn_copy_heads(grin__nn_net *dst, const grin__nn_net *src);
/* face-api.js's face feature extractor (four "dense" blocks of depthwise-separable
 * convolutions whose outputs add up: 32, 64, 128, 256 channels times alpha, each block halving
 * the size) on size x size x channels input, then global average pooling, `outputs` logits (dense)
 * and a sigmoid. Convolutions pad as TensorFlow's "same". *parts, when given, receives the index
 * of each layer with parameters (GRIN__DENSE4_PARAM_LAYERS) in the order face-api.js stores them. */
#define GRIN__DENSE4_PARAM_LAYERS 32
grin_status grin__nn_dense4(grin__nn_net *net, int size, int channels, float alpha, int outputs, uint64_t seed,
                            int *parts, grin_error *err);

/* dlib's face-recognition ResNet as face-api.js runs it (a 7x7 stride-2 convolution and 3x3
 * max pooling, then residual stages of 32, 64, 128, 256 and 256 channels, each after the first
 * starting with a stride-2 block whose shortcut is 2x2 average pooling; global average pooling,
 * a 128-wide linear descriptor), then `outputs` logits (dense) and a sigmoid. No batch
 * normalisation: dlib's affine layers are folded into the convolutions. *parts, when given,
 * receives the index of each layer with parameters in order: the first convolution, then per
 * block its two convolutions (and then a down block's projection when it widens), the
 * descriptor, the head. */
#define GRIN__FACEREC_PARAM_LAYERS 34
#define GRIN__FACEREC_MIN_SIZE 103 /* every valid convolution still has a 3x3 input */
grin_status grin__nn_facerec(grin__nn_net *net, int size, int channels, int outputs, uint64_t seed, int *parts,
                             grin_error *err);

/* The landmark branch: `inputs` features -> dense(hidden) -> ReLU -> dense(1) -> sigmoid. */
grin_status grin__nn_landmark_mlp(grin__nn_net *net, int inputs, int hidden, uint64_t seed, grin_error *err);

/* C (M x N) = alpha * op(A) op(B) + beta * C, row-major; op transposes when ta/tb. */
void grin__gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);
/* the BLAS grin__gemm uses when set (the training library sets OpenBLAS's when it loads) */
typedef void (*grin__gemm_fn)(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                              const float *B, int ldb, float beta, float *C, int ldc);
extern grin__gemm_fn grin__gemm_blas;
void grin__gemm_blas_link(void);

#endif
