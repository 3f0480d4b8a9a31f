/* fuzz_image.c — libFuzzer target for the image reader (JPEG, PNG, PGM/PPM, EXIF). */
#include <stdint.h>

#include "grin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grin_image img;
    grin_error err;
    if (grin_image_read_memory(data, size, "fuzz", GRIN_PIX_GRAY8, &img, &err) == GRIN_OK)
        grin_image_free(&img);
    if (grin_image_read_memory(data, size, "fuzz", GRIN_PIX_BGR24, &img, &err) == GRIN_OK)
        grin_image_free(&img);
    return 0;
}
