/* main.c — the grin command-line tool: dispatches to one subcommand per cmd_<verb>.c. */
#include "cli.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: grin <command> [options]\n\n"
               "commands:\n"
               "  run                the real-time pipeline on a video, camera, stream or folder\n"
               "  detect             find faces in images, print JSON lines, optionally draw boxes\n"
               "  landmarks          68 facial landmarks per face (dlib's ERT model), as JSON\n"
               "  align              detect, landmark and align a labelled set into crops\n"
               "  convert-landmarks  write a landmark model in grin's fast-loading format\n"
               "  train              train a MobileNet smile classifier on aligned crops\n"
               "  classify           each face's smile probability (detect, align, classify)\n"
               "  eval               accuracy and AUC of a classifier on labelled photos\n"
               "  model info         parameters and multiply-adds of an architecture or model\n"
               "  export             the classifier as ONNX, for other runtimes\n"
               "  import             a pretrained network (face-api.js's) to fine-tune\n"
               "  quantize           calibrate a classifier for 8-bit inference\n"
               "  calibrate          fit a classifier's test-time mirroring and probability scale\n"
               "  bench              time a stage (bench detect|landmarks ...)\n"
               "  plot               draw two columns of a CSV as a PNG (accuracy against time)\n\n"
               "grin --version prints the version, build type, CPU features in use and the smile\n"
               "model found (set GRIN_MODEL_DIR to read grin's models from another folder).\n"
               "grin <command> --help shows a command's options.\n");
}

static char **split_argv; /* the arguments with --name=value split, freed at exit */
static void free_split_argv(void) { free(split_argv); }

int main(int argc, char **argv)
{
#if defined(__GLIBC__)
    /* Two malloc arenas: glibc otherwise gives each new thread its own arena (up to 8 per core),
     * each keeping freed memory, so RSS climbs every time a pipeline's threads are replaced. */
    mallopt(M_ARENA_MAX, 2);
#endif
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* --name=value is --name value, in every command (as getopt_long reads it) */
    int split = 0;
    for (int i = 1; i < argc; i++)
        split += !strncmp(argv[i], "--", 2) && strchr(argv[i], '=') && argv[i][2] != '=';
    if (split) {
        char **nv = calloc((size_t)(argc + split + 1), sizeof *nv);
        if (!nv) {
            cli_error("out of memory");
            return 1;
        }
        int n = 0;
        for (int i = 0; i < argc; i++) {
            char *eq = i > 0 && !strncmp(argv[i], "--", 2) && argv[i][2] != '=' ? strchr(argv[i], '=') : NULL;
            if (eq) {
                *eq = '\0';
                nv[n++] = argv[i];
                nv[n++] = eq + 1;
            } else {
                nv[n++] = argv[i];
            }
        }
        argc = n;
        argv = split_argv = nv;
        atexit(free_split_argv);
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("grin %s (%s build) cpu: %s\nsmile model: %s\n", grin_version(), grin_build_type(),
               grin_cpu_features(), default_classifier());
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "detect"))
        return cmd_detect(argc - 1, argv + 1);
    if (!strcmp(cmd, "landmarks"))
        return cmd_landmarks(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert-landmarks"))
        return cmd_convert_landmarks(argc - 1, argv + 1);
    if (!strcmp(cmd, "align"))
        return cmd_align(argc - 1, argv + 1);
    if (!strcmp(cmd, "train"))
        return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "classify"))
        return cmd_classify(argc - 1, argv + 1);
    if (!strcmp(cmd, "model"))
        return cmd_model(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "calibrate"))
        return cmd_calibrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "quantize"))
        return cmd_quantize(argc - 1, argv + 1);
    if (!strcmp(cmd, "export"))
        return cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "import"))
        return cmd_import(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot"))
        return cmd_plot(argc - 1, argv + 1);
    cli_error("unknown command '%s' (try grin --help)", cmd);
    return 2;
}
