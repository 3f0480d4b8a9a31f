/* fuzz_labels.c — libFuzzer target for the labels CSV reader that training, calibration and
 * evaluation load crops with (the smile and landmarks columns, CRLF, empty and bad rows): the
 * input is written as a CSV beside one small crop, a.png, that its rows may name; whatever loads
 * becomes landmark-branch inputs too, and is read again keeping a `group` column. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], csv[96], png[96];

static void cleanup(void)
{
    remove(csv);
    remove(png);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_labels_%d", (int)getpid());
        mkdir(dir, 0700);
        atexit(cleanup);
        snprintf(png, sizeof png, "%s/a.png", dir);
        grin_image im;
        grin_error e;
        if (grin_image_alloc(24, 20, GRIN_PIX_GRAY8, &im) != GRIN_OK)
            return 0;
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 24; x++)
                im.data[y * im.stride + x] = (uint8_t)(x * 9 + y * 5);
        grin_image_write(png, &im, 0, &e);
        grin_image_free(&im);
        snprintf(csv, sizeof csv, "%s/labels.csv", dir);
    }
    FILE *f = fopen(csv, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    grin__dataset d;
    grin_error err;
    if (grin__dataset_load(csv, 16, 1, &d, &err) != GRIN_OK)
        return 0;
    grin__lm_branch b = {.first = 17, .count = 51, .hidden = 4};
    grin__dataset v;
    if (d.has_lm && grin__dataset_lm_vectors(&d, &b, 16, &v) == GRIN_OK) {
        for (size_t i = 0; i < (size_t)v.n * v.channels; i++)
            if (v.vec[i] != v.vec[i] || v.vec_mirror[i] != v.vec_mirror[i])
                abort(); /* the reader lets only finite landmarks through */
        grin__dataset_free(&v);
    }
    grin__dataset_free(&d);
    /* the same rows with a column kept per row (grin eval --by) */
    if (grin__dataset_load_by(csv, 16, 1, "group", &d, &err) != GRIN_OK)
        return 0;
    for (int i = 0; i < d.n; i++)
        if (!d.tag || !d.tag[i])
            abort();
    grin__dataset_free(&d);
    return 0;
}
