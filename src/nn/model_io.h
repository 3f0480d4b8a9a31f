/* model_io.h — a trained classifier with what its input needs (internal). */
#ifndef GRIN_MODEL_IO_H
#define GRIN_MODEL_IO_H

#include "nn.h"

enum { GRIN__ARCH_MOBILENET_V1 = 1 };

/* How the network's output becomes the reported probability, from metadata lines that
 * `grin calibrate` writes: test_flip=1 averages the output on the crop and on its mirror image
 * (the alignment template is symmetric, so the mirror is an aligned face too);
 * platt=A,B maps that p to sigmoid(A * logit(p) + B), fitted on a held-out tuning split. */
typedef struct {
    bool flip;
    bool platt;
    float a, b;
} grin__post;

typedef struct {
    uint32_t arch;
    int input, channels;
    float alpha;
    uint64_t seed;
    grin_align_params align; /* how crops were made for it */
    char meta[4096];         /* key=value lines: training command, validation numbers */
    grin__post post;         /* parsed from meta when loaded */
    grin__nn_net net;
} grin__model;

grin_status grin__model_build(grin__model *m, grin_error *err);
grin_status grin__model_save(const grin__model *m, const char *path, grin_error *err);
grin_status grin__model_load(const char *path, grin__model *m, grin_error *err);
grin_status grin__model_load_memory(const uint8_t *d, size_t size, const char *name, grin__model *m,
                                    grin_error *err);

/* parses the post-processing lines of meta; false (and a message) when one is malformed */
bool grin__post_parse(const char *meta, grin__post *p, char *why, size_t whylen);
/* the reported probability from the raw output on the crop and (used with flip) its mirror */
float grin__post_apply(const grin__post *p, float raw, float raw_mirror);
/* mirrors an S x S image of pixel_bytes-byte pixels left to right (any element type) */
void grin__mirror_pixels(const void *x, void *y, int S, size_t pixel_bytes);
/* mirrors an NHWC S x S x C float input left to right */
void grin__mirror_input(const float *x, float *y, int S, int C);

#endif
