/* fuzz_model.c — libFuzzer target for the classifier model reader; whatever loads also runs
 * one forward pass. */
#include <stdint.h>
#include <stdlib.h>

#include "nn/model_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grin__model m;
    grin_error err;
    if (grin__model_load_memory(data, size, "fuzz", &m, &err) != GRIN_OK)
        return 0;
    size_t n = (size_t)m.input * m.input * m.channels;
    float *x = calloc(n, sizeof *x);
    grin__nn_ws ws = {0};
    const float *out;
    if (x && m.input <= 64)
        grin__nn_forward(&m.net, &ws, x, 1, false, &out);
    grin__nn_ws_free(&ws);
    free(x);
    grin__nn_free(&m.net);
    return 0;
}
