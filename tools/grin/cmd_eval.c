/* cmd_eval.c — `grin eval`: the classifier's ACC, AUC and confusion matrix on labelled crops
 * (--aligned, here; with their landmarks when the model has a branch) or photos (the full path,
 * cmd_eval_full in cmd_classify.c), ending with one JSON line. */
#include "nn_util.h"

#include <stdlib.h>
#include <string.h>

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *labels = NULL, *by = NULL, *models[8];
    int aligned = 0, nmodels = 0;
    bool int8 = false, no_branch = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--aligned"))
            aligned = 1;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin eval [--model FILE] --labels CSV [--by COLUMN] [--roc FILE.png] [--int8]\n"
                   "                [--no-branch] [--face-crops] [detect options]\n"
                   "       grin eval --aligned [--model FILE ...] --labels CSV [--by COLUMN] [--int8] [--no-branch]\n"
                   "Accuracy, AUC and the confusion matrix of the smile classifier on labelled photos\n"
                   "(file,smile,... rows) through detect -> align -> classify (a face not found\n"
                   "counts as wrong), or with --aligned on crops already aligned, with 95%% intervals\n"
                   "(Wilson's for accuracy, DeLong's for AUC); ends with one line\n"
                   "{\"n\":N,\"acc\":A,\"acc_ci\":[LO,HI],\"auc\":U,\"auc_ci\":[LO,HI],\"missed\":M}.\n"
                   "  --by COLUMN     also one such line per value of the CSV's COLUMN (pose,\n"
                   "                  identity_group, ...; grin align keeps the source CSV's columns)\n"
                   "  --face-crops    each image is one face cropped by something other than grin\n"
                   "                  (as grin classify --face-crops): landmarks inside it, then\n"
                   "                  the usual path\n"
                   "  --model FILE    (with --aligned, several: their ensemble, the mean of their\n"
                   "                  probabilities with the mirror image always read)\n"
                   "  --roc FILE.png  draw the ROC curve\n"
                   "  --int8          8-bit inference (models with a calibration)\n"
                   CLI_NO_BRANCH_USAGE "%s%s",
                   detect_opts_usage(), photo_opts_usage());
            return 0;
        }
    }
    if (!aligned)
        return cmd_eval_full(argc, argv);
    model = default_classifier();
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--model") && v) {
            if (nmodels == 8) {
                cli_error("eval: at most 8 --model files");
                return 2;
            }
            model = models[nmodels++] = v, i++;
        }
        else if (!strcmp(argv[i], "--labels") && v)
            labels = v, i++;
        else if (!strcmp(argv[i], "--by") && v)
            by = v, i++;
        else if (!strcmp(argv[i], "--aligned"))
            aligned = 1;
        else if (!strcmp(argv[i], "--int8"))
            int8 = true;
        else if (!strcmp(argv[i], "--no-branch"))
            no_branch = true;
        else {
            cli_error("eval: unknown or incomplete option '%s'", argv[i]);
            return 2;
        }
    }
    if (!model || !labels) {
        cli_error("eval: --model FILE and --labels CSV are required");
        return 2;
    }
    grin_error err = {{0}};
    grin__model m;
    grin__nn_plan plan;
    if (!open_plan(model, int8, &m, &plan))
        return 1;
    grin__dataset d;
    if (grin__dataset_load_by(labels, m.input, m.channels, by, &d, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        grin__nn_plan_free(&plan);
        grin__model_free(&m);
        return 1;
    }
    if (d.bad)
        cli_error("%s: %d rows skipped (bad label or unreadable image)", labels, d.bad);
    float *p = malloc(sizeof *p * (size_t)(d.n ? d.n : 1));
    int rc = 0;
    grin__metrics mt;
    grin__post post = m.post;
    if (no_branch)
        post.fuse = false;
    int fused = 0;
    for (int i = 0; i < d.n; i++)
        fused += row_fuses(&m, &post, &d, i);
    if (nmodels > 1) {
        fused = 0;
        if (!p || !ensemble_predict(models, nmodels, &labels, 1, &d, int8, no_branch, p))
            rc = 1;
    } else if (!p || plan_predict(&plan, &m, &post, &d, p) != GRIN_OK) {
        cli_error("eval: inference failed");
        rc = 1;
    }
    if (!rc) {
        grin__metrics_from(p, d.y, d.n, &mt);
        char auc_s[32] = "n/a (one class)";
        if (mt.tp + mt.fn > 0 && mt.tn + mt.fp > 0)
            snprintf(auc_s, sizeof auc_s, "%.4f", mt.auc);
        printf("accuracy %.4f  AUC %s  (%d crops, %d rows skipped%s; ", mt.acc, auc_s, d.n, d.bad,
               int8 ? ", 8-bit" : "");
        if (nmodels > 1)
            printf("an ensemble of %d models)\n", nmodels);
        else
            printf("%d with the landmark branch)\n", fused);
        printf("confusion: true smile %d as smile, %d as not; not smiling %d as smile, %d as not\n",
               mt.tp, mt.fn, mt.fp, mt.tn);
        print_eval(p, d.y, d.n, d.tag, by, 0);
    }
    free(p);
    grin__dataset_free(&d);
    grin__nn_plan_free(&plan);
    grin__model_free(&m);
    return rc;
}
