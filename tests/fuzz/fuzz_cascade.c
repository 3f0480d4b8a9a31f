/* fuzz_cascade.c — libFuzzer target for the cascade XML loader; a loaded cascade is also run on
 * a small image so that whatever the loader accepts is safe to evaluate. */
#include <stdint.h>
#include <string.h>

#include "grin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grin_cascade *c = NULL;
    grin_error err;
    if (grin_cascade_load_memory(data, size, "fuzz", &c, &err) != GRIN_OK)
        return 0;
    grin_image img;
    if (grin_image_alloc(61, 47, GRIN_PIX_GRAY8, &img) == GRIN_OK) {
        for (int y = 0; y < img.height; y++)
            for (int x = 0; x < img.width; x++)
                img.data[y * img.stride + x] = (uint8_t)((x * 37) ^ (y * 11));
        grin_detector *d;
        if (grin_detector_create(1, &d) == GRIN_OK) {
            grin_detect_params p;
            grin_detect_params_default(&p);
            p.min_width = p.min_height = 0;
            p.min_neighbors = 0;
            size_t n;
            grin_detect(d, c, &img, &p, NULL, 0, &n);
            grin_detector_free(d);
        }
        grin_image_free(&img);
    }
    grin_cascade_free(c);
    return 0;
}
