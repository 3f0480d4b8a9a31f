/* fuzz_json.c — libFuzzer target for grin's JSON reader and the TensorFlow.js weights manifest
 * importer built on it. First byte even: the rest parsed as JSON and every value visited; odd:
 * the rest read as face-api.js's weights manifest, its weight files taken from the repository's
 * third_party/face-api/ (names it may not leave), imported at the smallest input: as its face
 * expression network, or (second bit of the first byte set) as its face recognition network. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "nn/import_tfjs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t visit(const grin__json *v, int depth)
{
    size_t n = 1;
    if (v->kind == GRIN__JSON_STRING)
        n += strlen(v->str) <= v->len;
    for (size_t i = 0; i < v->n; i++) {
        n += visit(&v->items[i], depth + 1);
        if (v->kind == GRIN__JSON_OBJECT)
            n += grin__json_get(v, v->keys[i]) != NULL;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0) {
        char why[128];
        grin__json *v = grin__json_parse((const char *)data + 1, size - 1, why, sizeof why);
        if (v) {
            (void)visit(v, 0);
            grin__json_free(v);
        }
        return 0;
    }
    grin__model m;
    grin_error err;
    grin_status st =
        data[0] & 4 ? grin__import_facerec_text((const char *)data + 1, size - 1, GRIN_SOURCE_DIR "/third_party/face-api/",
                                                "fuzz", GRIN__FACEREC_MIN_SIZE, 1, false, &m, &err)
                    : grin__import_faceapi_text((const char *)data + 1, size - 1, GRIN_SOURCE_DIR "/third_party/face-api/",
                                                "fuzz", 32, 1, data[0] & 2, &m, &err);
    if (st == GRIN_OK)
        grin__model_free(&m);
    return 0;
}
