/* model_io.h — a trained classifier with what its input needs (internal). */
#ifndef GRIN_MODEL_IO_H
#define GRIN_MODEL_IO_H

#include "nn.h"

/* the networks a model file may hold: MobileNet v1 (grin__nn_mobilenet), face-api.js's
 * feature extractor with a sigmoid head (grin__nn_dense4), alpha their width, and dlib's
 * face-recognition ResNet with a sigmoid head (grin__nn_facerec; alpha 1) */
enum { GRIN__ARCH_MOBILENET_V1 = 1, GRIN__ARCH_DENSE4 = 2, GRIN__ARCH_FACEREC = 3 };
/* the architecture's name for messages */
const char *grin__arch_name(uint32_t arch);
/* builds an architecture with `outputs` sigmoid outputs */
grin_status grin__arch_build(grin__nn_net *net, uint32_t arch, int size, int channels, float alpha, int outputs,
                             uint64_t seed, grin_error *err);

/* How the network's output becomes the reported probability, from metadata lines that
 * `grin calibrate` writes: test_flip=1 averages the output on the crop and on its mirror image
 * (the alignment template is symmetric, so the mirror is an aligned face too);
 * platt=A,B maps that p to sigmoid(A * logit(p) + B), fitted on a held-out tuning split. */
typedef struct {
    bool flip;
    bool platt;
    float a, b;
    /* fuse=A,B,C (models with a landmark branch): a face whose landmarks were usable gets
     * sigmoid(A logit(q) + B logit(r) + C), q the network's output as above (mirrored or not)
     * and r the landmark branch's (on the landmarks and their mirror image when flip); a face
     * without them gets the platt mapping */
    bool fuse;
    float fa, fb, fc;
} grin__post;

/* The landmark branch: a small network on the face's landmarks in crop coordinates (mapped by
 * the alignment's similarity transform), points first..first+count-1 of the 68-point iBUG
 * layout, each as ((u - (S-1)/2) / S, (v - (S-1)/2) / S) for an S x S crop: its shape, where
 * the pixels can't show it at 64x64. count 0: the model has none. */
typedef struct {
    int first, count, hidden;
    grin__nn_net net; /* grin__nn_landmark_mlp(2 * count, hidden) */
} grin__lm_branch;

typedef struct {
    uint32_t arch;
    int input, channels;
    float alpha;
    uint64_t seed;
    grin_align_params align; /* how crops were made for it */
    char meta[4096];         /* key=value lines: training command, validation numbers */
    bool checksummed;        /* loaded from a file whose checksum matched (version 3 on; older
                              * files have none) */
    grin__post post;         /* parsed from meta when loaded */
    grin__nn_net net;
    grin__lm_branch lm;
} grin__model;

void grin__model_free(grin__model *m);
/* builds m->lm.net for m->lm's first, count and hidden (the points must be closed under the
 * iBUG mirror map) */
grin_status grin__model_build_lm(grin__model *m, uint64_t seed, grin_error *err);
/* the branch's input for one face: 2 x count floats from its 68 crop-coordinate landmarks (S the
 * crop side), of the face mirrored left to right when `mirror` */
void grin__lm_features(const grin__lm_branch *b, int S, const grin_point2f *pts, bool mirror, float *f);
/* the branch's output (a probability) on one input */
float grin__lm_run(const grin__lm_branch *b, const float *f);
/* the branch's outputs on a face's 68 crop-coordinate landmarks and, with mirror, on their mirror
 * image (*rm; 0 without) */
void grin__lm_outputs(const grin__lm_branch *b, int S, const grin_point2f *pts, bool mirror, float *r, float *rm);

grin_status grin__model_build(grin__model *m, grin_error *err);
grin_status grin__model_save(const grin__model *m, const char *path, grin_error *err);
grin_status grin__model_load(const char *path, grin__model *m, grin_error *err);
grin_status grin__model_load_memory(const uint8_t *d, size_t size, const char *name, grin__model *m,
                                    grin_error *err);

/* parses the post-processing lines of meta; false (and a message) when one is malformed */
bool grin__post_parse(const char *meta, grin__post *p, char *why, size_t whylen);
/* the reported probability from the raw output on the crop and (used with flip) its mirror */
float grin__post_apply(const grin__post *p, float raw, float raw_mirror);
/* ... with the landmark branch's outputs on the face and (with flip) its mirror image: the fuse
 * mapping when the post has one, else grin__post_apply */
float grin__post_apply_lm(const grin__post *p, float raw, float raw_mirror, float lm, float lm_mirror);
/* mirrors an S x S image of pixel_bytes-byte pixels left to right (any element type) */
void grin__mirror_pixels(const void *x, void *y, int S, size_t pixel_bytes);
/* mirrors an NHWC S x S x C float input left to right */
void grin__mirror_input(const float *x, float *y, int S, int C);

#endif
