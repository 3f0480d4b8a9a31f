/* cmd_model.c — `grin model info` (architecture, parameters, multiply-adds, landmark branch,
 * metadata, whether the file carries a checksum), `grin model init` (an untrained network, for
 * benchmarks and ONNX comparisons) and `grin model upgrade` (an older file rewritten in this
 * grin's format, checksum included). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "nn/model_io.h"

int cmd_model(int argc, char **argv)
{
    bool init = argc >= 2 && !strcmp(argv[1], "init"), upgrade = argc >= 2 && !strcmp(argv[1], "upgrade");
    bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    for (int i = 2; i < argc && !help; i++)
        help = !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
    if (help) {
        printf("usage: grin model info (--model FILE | --arch mobilenet|dense4 --alpha A --input S [--gray])\n"
               "       grin model init --arch mobilenet|dense4 --alpha A --input S [--gray] [--seed N] --out FILE\n"
               "       grin model upgrade --model FILE --out FILE\n"
               "info: parameters, multiply-adds, the landmark branch and the metadata of a model (or of\n"
               "an architecture); init: an untrained network, for benchmarks and export checks;\n"
               "upgrade: a model written by an older grin, rewritten in this grin's format (which ends\n"
               "with a checksum, so that a damaged file is refused when it is loaded).\n");
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "info") && !init && !upgrade)) {
        cli_error("usage: grin model info (--model FILE | --arch mobilenet|dense4 --alpha A --input S [--gray])\n"
                  "       grin model init --arch mobilenet|dense4 --alpha A --input S [--gray] [--seed N] --out FILE\n"
                  "       grin model upgrade --model FILE --out FILE");
        return 2;
    }
    const char *model = NULL, *out = NULL;
    long long seed = 1;
    double alpha = 1.0;
    int input = 224, ch = 3;
    uint32_t arch = GRIN__ARCH_MOBILENET_V1;
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--model") && v)
            model = v, i++;
        else if (!strcmp(argv[i], "--alpha")) {
            if (!cli_double("--alpha", v, 0.1, 2.0, &alpha))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--input")) {
            if (!cli_int("--input", v, 32, 1024, &input))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--gray"))
            ch = 1;
        else if (!strcmp(argv[i], "--arch") && v) {
            if (strcmp(v, "mobilenet") && strcmp(v, "dense4")) {
                cli_error("model %s: unknown --arch '%s' (have: mobilenet, dense4)", argv[1], v);
                return 2;
            }
            arch = strcmp(v, "dense4") ? GRIN__ARCH_MOBILENET_V1 : GRIN__ARCH_DENSE4;
            i++;
        }
        else if ((init || upgrade) && !strcmp(argv[i], "--out") && v)
            out = v, i++;
        else if (init && !strcmp(argv[i], "--seed") && v)
            seed = atoll(v), i++;
        else {
            cli_error("model %s: unknown option '%s'", argv[1], argv[i]);
            return 2;
        }
    }
    grin_error err = {{0}};
    grin__model m;
    memset(&m, 0, sizeof m);
    if (init) { /* an untrained network: for benchmarks and ONNX comparisons */
        if (!out || model) {
            cli_error("model init: --out FILE is required (and --model is not taken)");
            return 2;
        }
        m.arch = arch, m.input = input, m.channels = ch, m.alpha = (float)alpha;
        m.seed = (uint64_t)seed;
        m.align = (grin_align_params){.size = input, .margin = 0.1f, .max_distortion = 2.0f};
        snprintf(m.meta, sizeof m.meta, "untrained=1\n");
        grin_status st = grin__model_build(&m, &err);
        if (!st)
            st = grin__model_save(&m, out, &err);
        if (st)
            cli_error("%s", err.msg);
        grin__model_free(&m);
        return st ? 1 : 0;
    }
    if (upgrade) { /* loaded (every check of this grin) and written again as this grin writes */
        if (!model || !out) {
            cli_error("model upgrade: --model FILE and --out FILE are required");
            return 2;
        }
        if (output_is_input(out, model, "model"))
            return 2;
        grin_status st = grin__model_load(model, &m, &err);
        if (!st)
            st = grin__model_save(&m, out, &err);
        if (st)
            cli_error("%s", err.msg);
        grin__model_free(&m);
        return st ? 1 : 0;
    }
    if (model) {
        if (grin__model_load(model, &m, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            return 1;
        }
    } else {
        m.arch = arch, m.input = input, m.channels = ch, m.alpha = (float)alpha;
        if (grin__model_build(&m, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            return 1;
        }
    }
    size_t trainable = m.net.nparams;
    printf("{\"arch\":\"%s\",\"alpha\":%.3f,\"input\":[%d,%d,%d],\"parameters\":%zu,"
           "\"multiply_adds\":%llu,\"layers\":%d", m.arch == GRIN__ARCH_DENSE4 ? "dense4" : "mobilenet_v1", m.alpha, m.input, m.input, m.channels, trainable,
           (unsigned long long)grin__nn_macs(&m.net), m.net.n);
    if (model) /* (a file without one predates checksums: grin model upgrade adds it) */
        printf(",\"checksum\":%s", m.checksummed ? "true" : "false");
    printf("}\n");
    if (m.lm.count)
        printf("{\"landmark_branch\":{\"points\":[%d,%d],\"inputs\":%d,\"hidden\":%d,\"parameters\":%zu,"
               "\"multiply_adds\":%llu}}\n", m.lm.first, m.lm.first + m.lm.count - 1, 2 * m.lm.count, m.lm.hidden,
               m.lm.net.nparams, (unsigned long long)grin__nn_macs(&m.lm.net));
    if (model && m.meta[0])
        printf("%s%s", m.meta, m.meta[strlen(m.meta) - 1] == '\n' ? "" : "\n");
    grin__model_free(&m);
    return 0;
}
