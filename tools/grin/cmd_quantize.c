/* cmd_quantize.c — `grin quantize`: the 8-bit calibration of a model's activations. */
#include "nn_util.h"

#include <stdlib.h>
#include <string.h>

/* `grin quantize`: calibrates a model's activations on aligned crops and stores the 8-bit
 * calibration in a copy of the model */
int cmd_quantize(int argc, char **argv)
{
    const char *model = NULL, *out = NULL;
    const char **calib = calloc((size_t)argc, sizeof *calib);
    int images = 1000, ncalib = 0;
    if (!calib)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin quantize --model FILE --calib CSV [--calib CSV ...] [--images N] --out FILE\n"
                   "Runs N (default 1000, spread over the CSVs) aligned training crops through the\n"
                   "model, records each layer's largest activation, and writes the model with that\n"
                   "8-bit calibration; `grin eval --int8`, `grin bench classify --int8` and\n"
                   "grin_classifier_set_int8() then run its pointwise layers in 8 bits.\n"
                   "Calibrate on training crops, never on the validation split.\n");
            free(calib);
            return 0;
        }
        if (!strcmp(argv[i], "--model") && v)
            model = v, i++;
        else if (!strcmp(argv[i], "--calib") && v)
            calib[ncalib++] = v, i++;
        else if (!strcmp(argv[i], "--out") && v)
            out = v, i++;
        else if (!strcmp(argv[i], "--images")) {
            if (!cli_int("--images", v, 1, 1000000, &images)) {
                free(calib);
                return 2;
            }
            i++;
        } else {
            cli_error("quantize: unknown or incomplete option '%s' (see grin quantize --help)", argv[i]);
            free(calib);
            return 2;
        }
    }
    if (!model || !ncalib || !out) {
        cli_error("quantize: --model FILE, --calib CSV and --out FILE are required");
        free(calib);
        return 2;
    }
    bool same = output_is_input(out, model, "model");
    for (int k = 0; k < ncalib && !same; k++)
        same = output_is_input(out, calib[k], "calibration CSV");
    if (same) {
        free(calib);
        return 2;
    }
    grin_error err = {{0}};
    grin__model m;
    grin__nn_plan plan;
    if (!open_plan(model, false, &m, &plan)) {
        free(calib);
        return 1;
    }
    if (!plan.ops) {
        cli_error("%s: a %s network runs on the training engine only: no 8-bit form", model, grin__arch_name(m.arch));
        grin__model_free(&m);
        free(calib);
        return 1;
    }
    grin__dataset d;
    int rc = 0;
    if (!load_sets(calib, ncalib, m.input, m.channels, &d)) {
        rc = 1;
    } else if (d.n == 0) {
        cli_error("%s: no usable crops", calib[0]);
        rc = 1;
    }
    if (!rc) {
        size_t per = (size_t)m.input * m.input * m.channels;
        int n = images < d.n ? images : d.n;
        float *x = malloc(per * (size_t)n * sizeof *x);
        for (int i = 0; x && i < n; i++) /* spread over the whole set */
            grin__dataset_floats(&d, (int)((long long)i * d.n / n), 1, x + (size_t)i * per);
        char line[2048];
        if (!x || grin__nn_plan_calibrate(&plan, x, n) != GRIN_OK) {
            cli_error("quantize: calibration failed");
            rc = 1;
        } else if (!grin__nn_plan_format_calibration(&plan, line, sizeof line) ||
                   grin__nn_plan_quantize(&plan, &err) != GRIN_OK) {
            cli_error("quantize: %s", err.msg[0] ? err.msg : "calibration too long");
            rc = 1;
        } else {
            static const char *const drop[] = {"int8_act_max=", "int8_calibration_crops=", NULL};
            char add[2200];
            snprintf(add, sizeof add, "%sint8_calibration_crops=%d\n", line, n);
            if (!meta_replace(m.meta, sizeof m.meta, drop, add)) {
                cli_error("quantize: %s: metadata too long for the calibration", model);
                rc = 1;
            } else {
                if (grin__model_save(&m, out, &err) != GRIN_OK) {
                    cli_error("%s", err.msg);
                    rc = 1;
                } else {
                    printf("{\"model\":\"%s\",\"calibration_crops\":%d,\"out\":\"%s\"}\n", model, n, out);
                }
            }
        }
        free(x);
    }
    grin__dataset_free(&d);
    grin__nn_plan_free(&plan);
    grin__model_free(&m);
    free(calib);
    return rc;
}
