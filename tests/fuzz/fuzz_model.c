/* fuzz_model.c — libFuzzer target for the classifier model reader, the 8-bit calibration line
 * and the test-time mirroring / Platt lines in its metadata; whatever loads also runs one
 * forward pass, and its inference plan (in 8 bits when the calibration parses, from floats and
 * from bytes) more, through the model's post-processing; a landmark branch runs on a face of
 * points on a grid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/infer.h"
#include "nn/model_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grin__model m;
    grin_error err;
    /* a version 3 input gets a right checksum, so that mutations reach the parser behind it
     * (the checksum itself is covered by the unit tests) */
    uint8_t *fixed = NULL;
    if (size >= 20 && data[8] == 3 && !data[9] && !data[10] && !data[11] && (fixed = malloc(size))) {
        memcpy(fixed, data, size);
        grin__checksum_put(fixed + size - 8, grin__checksum(fixed, size - 8));
        data = fixed;
    }
    grin_status lst = grin__model_load_memory(data, size, "fuzz", &m, &err);
    free(fixed);
    if (lst != GRIN_OK)
        return 0;
    size_t n = (size_t)m.input * m.input * m.channels;
    float *x = calloc(n, sizeof *x);
    grin__nn_ws ws = {0};
    const float *out;
    if (x && m.input <= 64) {
        grin__nn_forward(&m.net, &ws, x, 1, false, &out);
        grin__nn_plan plan;
        if (grin__nn_plan_build(&m.net, m.net.state, &plan, &err) == GRIN_OK) {
            grin__nn_plan_apply_calibration(&plan, m.meta, &err);
            grin__nn_scratch s = {0};
            float p[8], q[8];
            uint8_t *u = calloc(n, 1);
            if (plan.out_c <= 8 && u && grin__nn_plan_run(&plan, &s, x, p, NULL) == GRIN_OK &&
                grin__nn_plan_run_u8(&plan, &s, u, q, NULL) == GRIN_OK)
                (void)grin__post_apply(&m.post, p[0], q[0]);
            free(u);
            grin__nn_scratch_free(&s);
            grin__nn_plan_free(&plan);
        }
    }
    grin__nn_ws_free(&ws);
    free(x);
    if (m.lm.count) { /* the landmark branch on a face of points on a grid, and its mirror image */
        grin_point2f pts[68];
        float f[2 * 68], g[2 * 68];
        for (int i = 0; i < 68; i++)
            pts[i] = (grin_point2f){(float)(i % 9) * m.input / 9.0f, (float)(i / 9) * m.input / 8.0f};
        grin__lm_features(&m.lm, m.input, pts, false, f);
        grin__lm_features(&m.lm, m.input, pts, true, g);
        (void)grin__post_apply_lm(&m.post, 0.5f, 0.5f, grin__lm_run(&m.lm, f), grin__lm_run(&m.lm, g));
    }
    grin__model_free(&m);
    return 0;
}
