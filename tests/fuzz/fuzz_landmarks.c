/* fuzz_landmarks.c — libFuzzer target for both landmark model readers (dlib's serialization
 * and grin's format); whatever loads is also evaluated and re-saved. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grin_landmarker *m = NULL;
    grin_error err;
    /* grin's format from version 2 ends with a checksum: it is made right, so that mutations reach
     * the reader behind it (the checksum itself is covered by the unit tests) */
    uint8_t *fixed = NULL;
    if (size >= 20 && !memcmp(data, "GRINLMK\x1a", 8) && data[8] >= 2 && (fixed = malloc(size))) {
        memcpy(fixed, data, size);
        grin__checksum_put(fixed + size - 8, grin__checksum(fixed, size - 8));
        data = fixed;
    }
    grin_status lst = grin_landmarker_load_memory(data, size, "fuzz", &m, &err);
    if (lst != GRIN_OK) {
        free(fixed);
        return 0;
    }
    grin_landmarker_info info;
    grin_landmarker_get_info(m, &info);
    grin_image img;
    if (info.parts <= 256 && grin_image_alloc(40, 30, GRIN_PIX_GRAY8, &img) == GRIN_OK) {
        for (int y = 0; y < 30; y++)
            for (int x = 0; x < 40; x++)
                img.data[y * img.stride + x] = (uint8_t)(x * 5 + y * 3);
        grin_point2f p[256];
        grin_landmarks(m, &img, (grin_rect){3, 2, 30, 25}, p, 256, &err);
        grin_image_free(&img);
    }
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_lmk_%d.bin", (int)getpid());
    if (grin_landmarker_save(m, path, (grin_leaf_type)(size % 3), &err) == GRIN_OK) {
        grin_landmarker *again = NULL;
        if (grin_landmarker_load(path, &again, &err) == GRIN_OK)
            grin_landmarker_free(again);
        unlink(path);
    }
    grin_landmarker_free(m); /* (the model may point into the input: freed after it) */
    free(fixed);
    return 0;
}
