/* cmd_import.c — `grin import --faceapi` / `--facerec`: a pretrained network from face-api.js as
 * a grin model, the starting point for fine-tuning a smile network (grin train --init). */
#include "cli.h"

#include <string.h>

#include "nn/import_tfjs.h"
#include "nn/model_io.h"

int cmd_import(int argc, char **argv)
{
    const char *manifest = NULL, *out = NULL;
    int input = 0;
    bool gray = false, facerec = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin import --faceapi MANIFEST --out MODEL [--input S] [--gray]\n"
                   "       grin import --facerec MANIFEST --out MODEL [--input S] [--gray]\n"
                   "Reads a network of face-api.js (npm package @vladmandic/face-api, MIT licence;\n"
                   "MANIFEST is its weights manifest, with the weight file beside it) into a grin\n"
                   "model, a starting point for grin train --init on aligned smile crops:\n"
                   "  --faceapi   its face expression network\n"
                   "              (face_expression_model-weights_manifest.json); the one output\n"
                   "              is the network's 'happy' logit minus its 'neutral' one\n"
                   "  --facerec   its face recognition network\n"
                   "              (face_recognition_model-weights_manifest.json: dlib's ResNet,\n"
                   "              whose weights dlib placed in the public domain); its 128-wide\n"
                   "              face descriptor, then a one-output head with a random start.\n"
                   "              13 times the expression network's work per face: a\n"
                   "              teacher (grin train --teacher), not a model to run live\n"
                   "  --input S   crop side the model will take (default 65 for --faceapi, whose\n"
                   "              16k+1 sides pad evenly, which the fast engine needs; 150, the\n"
                   "              side it was trained at, for --facerec)\n"
                   "  --gray      grey crops (the first layer's colour weights summed)\n");
            return 0;
        }
        if ((!strcmp(argv[i], "--faceapi") || !strcmp(argv[i], "--facerec")) && v) {
            if (manifest) {
                cli_error("import: one --faceapi or --facerec MANIFEST");
                return 2;
            }
            facerec = argv[i][6] == 'r';
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
        cli_error("import: --faceapi or --facerec MANIFEST, and --out MODEL, are required");
        return 2;
    }
    if (!input)
        input = facerec ? 150 : 65;
    if (facerec && (input < GRIN__FACEREC_MIN_SIZE || input > 512)) {
        cli_error("import: --input %d out of range for --facerec (%d-512)", input, GRIN__FACEREC_MIN_SIZE);
        return 2;
    }
    if (output_is_input(out, manifest, "manifest"))
        return 2;
    grin_error err = {{0}};
    grin__model m;
    if ((facerec ? grin__import_facerec(manifest, input, gray ? 1 : 3, &m, &err)
                 : grin__import_faceapi(manifest, input, gray ? 1 : 3, false, &m, &err)) != GRIN_OK) {
        cli_error("%s", err.msg);
        return 1;
    }
    int rc = 0;
    if (grin__model_save(&m, out, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    } else {
        fprintf(stderr, "grin: %s: face-api.js's %s network, alpha %.2f, %dx%dx%d input, %zu parameters, "
                "%llu multiply-adds per image\n", out, facerec ? "face recognition" : "expression", m.alpha, input,
                input, gray ? 1 : 3, m.net.nparams, (unsigned long long)grin__nn_macs(&m.net));
    }
    grin__model_free(&m);
    return rc;
}
