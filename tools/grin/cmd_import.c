/* cmd_import.c — `grin import --faceapi`: a pretrained network from face-api.js as a grin model,
 * the starting point for fine-tuning a smile network (grin train --init). */
#include "cli.h"

#include <string.h>

#include "nn/import_tfjs.h"
#include "nn/model_io.h"

int cmd_import(int argc, char **argv)
{
    const char *manifest = NULL, *out = NULL;
    int input = 65;
    bool gray = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin import --faceapi MANIFEST --out MODEL [--input S] [--gray]\n"
                   "Reads face-api.js's face expression network (MANIFEST: its\n"
                   "face_expression_model-weights_manifest.json, with the weight file beside it;\n"
                   "npm package @vladmandic/face-api, MIT licence) into a grin model whose one\n"
                   "output is the network's 'happy' logit minus its 'neutral' one: a starting\n"
                   "point for grin train --init on aligned smile crops.\n"
                   "  --input S   crop side the model will take (default 65; the network is fully\n"
                   "              convolutional; 16k+1 sides pad evenly, which the fast engine needs)\n"
                   "  --gray      grey crops (the first layer's colour weights summed)\n");
            return 0;
        }
        if (!strcmp(argv[i], "--faceapi") && v) {
            manifest = v, i++;
        } else if (!strcmp(argv[i], "--out") && v) {
            out = v, i++;
        } else if (!strcmp(argv[i], "--input")) {
            if (!cli_int("--input", v, 32, 1024, &input))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--gray")) {
            gray = true;
        } else {
            cli_error("import: unknown or incomplete option '%s' (see grin import --help)", argv[i]);
            return 2;
        }
    }
    if (!manifest || !out) {
        cli_error("import: --faceapi MANIFEST and --out MODEL are required");
        return 2;
    }
    if (output_is_input(out, manifest, "manifest"))
        return 2;
    grin_error err = {{0}};
    grin__model m;
    if (grin__import_faceapi(manifest, input, gray ? 1 : 3, false, &m, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return 1;
    }
    int rc = 0;
    if (grin__model_save(&m, out, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    } else {
        fprintf(stderr, "grin: %s: face-api.js's expression network, alpha %.2f, %dx%dx%d input, %zu parameters, "
                "%llu multiply-adds per image\n", out, m.alpha, input, input, gray ? 1 : 3, m.net.nparams,
                (unsigned long long)grin__nn_macs(&m.net));
    }
    grin__model_free(&m);
    return rc;
}
