/* model_io.h — a trained classifier with what its input needs (internal). */
#ifndef GRIN_MODEL_IO_H
#define GRIN_MODEL_IO_H

#include "nn.h"

enum { GRIN__ARCH_MOBILENET_V1 = 1 };

typedef struct {
    uint32_t arch;
    int input, channels;
    float alpha;
    uint64_t seed;
    grin_align_params align; /* how crops were made for it */
    char meta[4096];         /* key=value lines: training command, validation numbers */
    grin__nn_net net;
} grin__model;

grin_status grin__model_build(grin__model *m, grin_error *err);
grin_status grin__model_save(const grin__model *m, const char *path, grin_error *err);
grin_status grin__model_load(const char *path, grin__model *m, grin_error *err);
grin_status grin__model_load_memory(const uint8_t *d, size_t size, const char *name, grin__model *m,
                                    grin_error *err);

#endif
