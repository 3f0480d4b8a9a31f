/* cmd_export.c — `grin export --onnx`: the network as ONNX, for ONNX Runtime and OpenCV DNN. */
#include "cli.h"

#include <string.h>

#include "nn/model_io.h"
#include "nn/onnx_export.h"

/* `grin export --onnx FILE [--model FILE]`: the network as grin runs it (batch norm folded) */
int cmd_export(int argc, char **argv)
{
    const char *model = default_classifier(), *onnx = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin export --onnx FILE [--model FILE]\n"
                   "Writes the classifier as ONNX (opset 10): input \"input\" [N,C,S,S] float scaled\n"
                   "as x/127.5-1, output \"prob\" [N,1]; batch norm is folded into the convolutions.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--onnx") && v)
            onnx = v, i++;
        else if (!strcmp(argv[i], "--model") && v)
            model = v, i++;
        else {
            cli_error("export: unknown or incomplete option '%s' (see grin export --help)", argv[i]);
            return 2;
        }
    }
    if (!onnx) {
        cli_error("export: --onnx FILE is required");
        return 2;
    }
    if (output_is_input(onnx, model, "model"))
        return 2;
    grin_error err = {{0}};
    grin__model m;
    memset(&m, 0, sizeof m);
    if (grin__model_load(model, &m, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return 1;
    }
    grin__nn_plan plan;
    int rc = 0;
    if (grin__nn_plan_build(&m.net, m.net.state, &plan, &err) != GRIN_OK ||
        grin__onnx_export(&plan, grin_version(), onnx, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    }
    if (plan.ops)
        grin__nn_plan_free(&plan);
    grin__model_free(&m);
    return rc;
}
