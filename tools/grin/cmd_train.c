/* cmd_train.c — `grin train` (MobileNet v1 on aligned face crops, validation ACC/AUC after
 * each epoch), `grin eval --aligned` (ACC, AUC, confusion matrix, a final JSON line) and
 * `grin model info` (architecture, parameters, multiply-adds). */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/model_io.h"
#include "nn/onnx_export.h"
#include "nn/train.h"

/* Reads the alignment.txt `grin align` leaves beside its labels.csv; false when absent. */
static bool read_alignment(const char *csv, grin_align_params *ap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", csv);
    char *sl = strrchr(path, '/');
    snprintf(sl ? sl + 1 : path, sizeof path - (size_t)(sl ? sl + 1 - path : 0), "alignment.txt");
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        float v;
        if (sscanf(line, "margin=%f", &v) == 1)
            ap->margin = v;
        else if (sscanf(line, "max_distortion=%f", &v) == 1)
            ap->max_distortion = v;
    }
    fclose(f);
    return true;
}

typedef struct {
    FILE *log;
    double best_auc;
    char best_line[256];
} epoch_ctx;

static void on_epoch(void *vctx, int epoch, double loss, double acc, const grin__metrics *val,
                     double seconds)
{
    epoch_ctx *c = vctx;
    printf("{\"epoch\":%d,\"train_loss\":%.4f,\"train_acc\":%.4f", epoch, loss, acc);
    if (val)
        printf(",\"val_loss\":%.4f,\"val_acc\":%.4f,\"val_auc\":%.4f", val->loss, val->acc, val->auc);
    printf(",\"seconds\":%.1f}\n", seconds);
    fflush(stdout);
    if (val) { /* the saved weights are the last epoch's, so its numbers go in the file */
        c->best_auc = val->auc;
        snprintf(c->best_line, sizeof c->best_line, "val_acc=%.4f\nval_auc=%.4f\nepochs=%d\n", val->acc,
                 val->auc, epoch);
    }
}

/* loads and joins the crops of several labels CSVs, reporting skipped rows; false (with the error
 * printed) when one can't be read */
static bool load_sets(const char *const *labels, int n, int size, int ch, grin__dataset *out)
{
    memset(out, 0, sizeof *out);
    for (int k = 0; k < n; k++) {
        grin__dataset part;
        grin_error err = {{0}};
        if (grin__dataset_load(labels[k], size, ch, &part, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            grin__dataset_free(out);
            return false;
        }
        if (part.bad)
            cli_error("%s: %d rows skipped (bad label or unreadable image)", labels[k], part.bad);
        grin_status st = grin__dataset_append(out, &part);
        grin__dataset_free(&part);
        if (st) {
            cli_error("%s: out of memory", labels[k]);
            grin__dataset_free(out);
            return false;
        }
    }
    return true;
}

static bool meta_replace(char *meta, size_t cap, const char *const *drop, const char *add);

/* the landmark branch reads the brows, nose, eyes and mouth: points 17-67 of the iBUG layout (the
 * jaw line follows the face's outline more than its expression) */
enum { LM_FIRST = 17, LM_COUNT = 51 };

/* `grin train --branch landmarks --init MODEL`: trains MODEL's landmark branch on the crops'
 * landmarks; its network, calibration and 8-bit calibration are kept, a fuse line is dropped
 * (grin calibrate fits it again). */
static int train_branch(const char *init, const char *const *labels, int nlabels, const char *val_csv,
                        const char *out, int hidden, const grin__train_cfg *cfg, int argc, char **argv)
{
    grin_error err = {{0}};
    grin__model m;
    if (grin__model_load(init, &m, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return 1;
    }
    grin__dataset crops = {0}, valc = {0}, tv = {0}, vv = {0};
    int rc = 1;
    grin_status st;
    if (!load_sets(labels, nlabels, m.input, m.channels, &crops))
        goto done;
    if (val_csv && grin__dataset_load(val_csv, m.input, m.channels, &valc, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        goto done;
    }
    grin__nn_free(&m.lm.net);
    m.lm.first = LM_FIRST;
    m.lm.count = LM_COUNT;
    m.lm.hidden = hidden;
    if (grin__model_build_lm(&m, cfg->seed, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        goto done;
    }
    st = grin__dataset_lm_vectors(&crops, &m.lm, m.input, &tv);
    if (st == GRIN_OK && valc.n && valc.has_lm)
        st = grin__dataset_lm_vectors(&valc, &m.lm, m.input, &vv);
    if (st == GRIN_ERR_INVALID_ARGUMENT) {
        cli_error("train: no crop in %s has landmarks (a landmarks column, as grin align writes it)",
                  tv.n ? val_csv : "the --labels CSVs");
        goto done;
    }
    if (st) {
        cli_error("train: out of memory");
        goto done;
    }
    fprintf(stderr, "grin: training the landmark branch (%d inputs, %d hidden, %zu parameters) on %d faces with "
            "landmarks (of %d crops)", tv.channels, hidden, m.lm.net.nparams, tv.n, crops.n);
    if (vv.n)
        fprintf(stderr, "; %d validation faces", vv.n);
    fputc('\n', stderr);
    grin__train_cfg c = *cfg;
    c.verbose_tty = false; /* an epoch takes milliseconds */
    epoch_ctx ectx = {.best_auc = -1};
    if (grin__train_lm_branch(&m.lm, &tv, vv.n ? &vv : NULL, &c, on_epoch, &ectx, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        goto done;
    }
    char add[1536];
    int off = snprintf(add, sizeof add, "lm_trained_with=grin train");
    for (int i = 1; i < argc && off < (int)sizeof add - 64; i++)
        off += snprintf(add + off, sizeof add - (size_t)off, " %s", argv[i]);
    snprintf(add + off, sizeof add - (size_t)off, "\nlm_train_faces=%d\nlm_val_faces=%d\n", tv.n, vv.n);
    if (ectx.best_line[0]) { /* the validation numbers, as lm_ lines */
        char *e = add + strlen(add);
        for (const char *l = ectx.best_line; *l && e < add + sizeof add - 8;) {
            const char *nl = strchr(l, '\n');
            size_t len = nl ? (size_t)(nl - l) : strlen(l);
            int w = snprintf(e, (size_t)(add + sizeof add - e), "lm_%.*s\n", (int)len, l);
            if (w < 0 || w >= add + sizeof add - e)
                break;
            e += w;
            l += len + (nl != NULL);
        }
    }
    static const char *const drop[] = {"fuse=", "fuse_crops=", "lm_", NULL};
    if (!meta_replace(m.meta, sizeof m.meta, drop, add)) {
        cli_error("train: %s: metadata too long", init);
        goto done;
    }
    if (grin__model_save(&m, out, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        goto done;
    }
    rc = 0;
done:
    grin__dataset_free(&crops);
    grin__dataset_free(&valc);
    grin__dataset_free(&tv);
    grin__dataset_free(&vv);
    grin__model_free(&m);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    const char *labels[16], *val_csv = NULL, *out = NULL, *arch = "mobilenet", *init = NULL, *branch = NULL;
    int nlabels = 0, input = 64, gray = 0, hidden = 32;
    bool epochs_given = false, lr_given = false;
    bool arch_given = false; /* --alpha, --input or --gray */
    char base[1536] = ""; /* with --init: how that model was trained */
    double alpha = 0.25, d;
    grin__train_cfg cfg;
    grin__train_cfg_default(&cfg);
    cfg.threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--labels") && v && nlabels < 16) {
            labels[nlabels++] = v, i++;
        } else if (!strcmp(argv[i], "--val") && v) {
            val_csv = v, i++;
        } else if (!strcmp(argv[i], "--out") && v) {
            out = v, i++;
        } else if (!strcmp(argv[i], "--arch") && v) {
            arch = v, i++;
        } else if (!strcmp(argv[i], "--init") && v) {
            init = argv[++i];
        } else if (!strcmp(argv[i], "--branch") && v) {
            branch = argv[++i];
        } else if (!strcmp(argv[i], "--hidden")) {
            if (!cli_int("--hidden", v, 1, 1024, &hidden))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--gray")) {
            gray = 1;
            arch_given = true;
        } else if (!strcmp(argv[i], "--sgd")) {
            cfg.sgd = true;
        } else if (!strcmp(argv[i], "--checkpoint") && v) {
            cfg.checkpoint = v, i++;
        } else if (!strcmp(argv[i], "--resume")) {
            cfg.resume = true;
        } else if (!strcmp(argv[i], "--alpha")) {
            arch_given = true;
            if (!cli_double("--alpha", v, 0.1, 2.0, &alpha))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--input")) {
            arch_given = true;
            if (!cli_int("--input", v, 32, 512, &input))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--epochs")) {
            if (!cli_int("--epochs", v, 1, 10000, &cfg.epochs))
                return 2;
            epochs_given = true;
            i++;
        } else if (!strcmp(argv[i], "--batch")) {
            if (!cli_int("--batch", v, 2, 4096, &cfg.batch))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--lr")) {
            if (!cli_double("--lr", v, 1e-7, 10, &d))
                return 2;
            lr_given = true;
            cfg.lr = (float)d, i++;
        } else if (!strcmp(argv[i], "--weight-decay")) {
            if (!cli_double("--weight-decay", v, 0, 1, &d))
                return 2;
            cfg.weight_decay = (float)d, i++;
        } else if (!strcmp(argv[i], "--threads")) {
            if (!cli_int("--threads", v, 0, 64, &cfg.threads))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--shards")) {
            if (!cli_int("--shards", v, 1, 64, &cfg.shards))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--seed")) {
            int s;
            if (!cli_int("--seed", v, 0, 1 << 30, &s))
                return 2;
            cfg.seed = (uint64_t)s, i++;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin train --labels CSV [--labels CSV ...] [--val CSV] --out FILE\n"
                   "       [--arch mobilenet] [--alpha A] [--input S] [--gray] [--epochs E]\n"
                   "       [--batch B] [--lr LR] [--weight-decay W] [--sgd] [--seed N]\n"
                   "       [--threads N] [--shards G] [--checkpoint FILE [--resume]]\n"
                   "       [--init MODEL]\n"
                   "       grin train --branch landmarks --init MODEL --labels CSV ... --out FILE\n"
                   "       [--hidden H] [--val CSV] [--epochs E] [--lr LR] [--seed N]\n"
                   "CSVs list aligned crops (grin align output: file,smile,...).\n"
                   "  --init MODEL        start from a trained model's weights (fine-tuning, e.g.\n"
                   "                      on your own faces with a lower --lr such as 1e-3): its\n"
                   "                      architecture and alignment are kept; its calibration\n"
                   "                      is dropped (run grin calibrate / quantize again)\n"
                   "  --branch landmarks  train MODEL's landmark branch instead: a small network\n"
                   "                      (points 17-67 -> H hidden ReLU units -> sigmoid, default\n"
                   "                      H 32) on the crops' landmarks (grin align's landmarks\n"
                   "                      column), mirrored as augmentation; default 100 epochs at\n"
                   "                      lr 1e-3. The network and its calibration are kept;\n"
                   "                      grin calibrate then fits how the two outputs combine\n"
                   "  --shards G          each batch runs as G parts with their own batch-norm\n"
                   "                      statistics, gradients summed (default 2)\n"
                   "  --threads N         run the parts on N threads, 0 = all CPUs (default 0);\n"
                   "                      the result is the same for any N\n"
                   "  --checkpoint FILE   write the whole training state there after every epoch\n"
                   "  --resume            continue from --checkpoint if it exists (same data and\n"
                   "                      options); ends with the weights an unbroken run would have\n");
            return 0;
        } else {
            cli_error("train: unknown or incomplete option '%s' (see grin train --help)", argv[i]);
            return 2;
        }
    }
    if (!nlabels || !out) {
        cli_error("train: --labels CSV and --out FILE are required");
        return 2;
    }
    if (cfg.resume && !cfg.checkpoint) {
        cli_error("train: --resume needs --checkpoint FILE");
        return 2;
    }
    if (strcmp(arch, "mobilenet")) {
        cli_error("train: unknown --arch '%s' (have: mobilenet)", arch);
        return 2;
    }
    if (branch) {
        if (strcmp(branch, "landmarks")) {
            cli_error("train: unknown --branch '%s' (have: landmarks)", branch);
            return 2;
        }
        if (!init || arch_given || cfg.checkpoint) {
            cli_error("train: --branch landmarks trains the branch of a trained model: give --init MODEL, "
                      "and no --alpha, --input, --gray or --checkpoint");
            return 2;
        }
        if (!epochs_given)
            cfg.epochs = 100;
        if (!lr_given)
            cfg.lr = 1e-3f;
        return train_branch(init, labels, nlabels, val_csv, out, hidden, &cfg, argc, argv);
    }
    grin_error err = {{0}};
    grin__model m;
    memset(&m, 0, sizeof m);
    if (init) { /* fine-tuning: the trained model's architecture, alignment and weights */
        if (arch_given) {
            cli_error("train: --init takes the architecture from %s; drop --alpha, --input and --gray", init);
            return 2;
        }
        if (grin__model_load(init, &m, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            return 1;
        }
        alpha = m.alpha;
        input = m.input;
        gray = m.channels == 1;
        /* its calibration belongs to its old weights; how it was trained is kept, as base_ lines */
        char *o = base, *end = base + sizeof base;
        for (const char *l = m.meta; *l && o < end - 1;) {
            const char *nl = strchr(l, '\n');
            size_t len = nl ? (size_t)(nl - l) : strlen(l);
            if (!strncmp(l, "trained_with=", 13) || !strncmp(l, "train_crops=", 12) || !strncmp(l, "epochs=", 7) ||
                !strncmp(l, "base_", 5)) { /* (a landmark branch, and its lm_ lines, are dropped) */
                int w = snprintf(o, (size_t)(end - o), "base_%.*s\n", (int)len, l);
                o = w < 0 || w >= end - o ? end - 1 : o + w;
            }
            l += len + (nl != NULL);
        }
        *o = '\0';
        m.meta[0] = '\0';
        memset(&m.post, 0, sizeof m.post);
        grin__nn_free(&m.lm.net); /* a landmark branch is trained again on top: --branch landmarks */
        memset(&m.lm, 0, sizeof m.lm);
    }
    int ch = gray ? 1 : 3;
    grin__dataset train, val = {0};
    if (!load_sets(labels, nlabels, input, ch, &train)) {
        grin__model_free(&m);
        return 1;
    }
    if (val_csv && grin__dataset_load(val_csv, input, ch, &val, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        grin__dataset_free(&train);
        grin__model_free(&m);
        return 1;
    }
    if (!init) {
        m.arch = GRIN__ARCH_MOBILENET_V1;
        m.input = input;
        m.channels = ch;
        m.alpha = (float)alpha;
        m.seed = cfg.seed;
        grin_align_params_default(&m.align);
    }
    /* the model must align faces the way its crops were: margin and distortion limit from the
     * crops' alignment.txt (all sets must agree, and agree with the model fine-tuned); the crop
     * size is the input size */
    grin_align_params first = m.align;
    for (int k = 0; k < nlabels; k++) {
        grin_align_params a;
        grin_align_params_default(&a);
        if (!read_alignment(labels[k], &a))
            continue;
        if ((k > 0 || init) && (a.margin != first.margin || a.max_distortion != first.max_distortion)) {
            cli_error("%s: crops aligned with margin %g and distortion limit %g, %s with %g and %g", labels[k],
                      a.margin, a.max_distortion, init ? init : "the other sets", first.margin,
                      first.max_distortion);
            grin__dataset_free(&train);
            grin__dataset_free(&val);
            grin__model_free(&m);
            return 2;
        }
        m.align.margin = first.margin = a.margin;
        m.align.max_distortion = first.max_distortion = a.max_distortion;
    }
    m.align.size = input;
    if (!init && grin__model_build(&m, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        grin__dataset_free(&train);
        grin__dataset_free(&val);
        return 1;
    }
    cfg.verbose_tty = isatty(2);
    fprintf(stderr, "grin: %s MobileNet v1 alpha %.2f on %d crops (%dx%dx%d), %zu parameters, "
            "%llu multiply-adds per image", init ? "fine-tuning" : "training", alpha, train.n, input, input, ch,
            m.net.nparams, (unsigned long long)grin__nn_macs(&m.net));
    if (val.n)
        fprintf(stderr, "; %d validation crops", val.n);
    fputc('\n', stderr);
    epoch_ctx ectx = {.best_auc = -1};
    int rc = 0;
    if (grin__train(&m.net, &train, val.n ? &val : NULL, &cfg, on_epoch, &ectx, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    } else {
        int off = snprintf(m.meta, sizeof m.meta, "trained_with=grin train");
        for (int i = 1; i < argc && off < (int)sizeof m.meta - 64; i++)
            off += snprintf(m.meta + off, sizeof m.meta - (size_t)off, " %s", argv[i]);
        snprintf(m.meta + off, sizeof m.meta - (size_t)off, "\ntrain_crops=%d\nval_crops=%d\n%s%s", train.n,
                 val.n, ectx.best_line, base);
        if (grin__model_save(&m, out, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            rc = 1;
        }
    }
    grin__model_free(&m);
    grin__dataset_free(&train);
    grin__dataset_free(&val);
    return rc;
}

/* the model's inference plan (as grin_classify_crops runs it), in 8 bits when asked */
static bool open_plan(const char *model, bool int8, grin__model *m, grin__nn_plan *plan)
{
    grin_error err = {{0}};
    memset(m, 0, sizeof *m);
    memset(plan, 0, sizeof *plan);
    if (grin__model_load(model, m, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return false;
    }
    if (grin__nn_plan_build(&m->net, m->net.state, plan, &err) != GRIN_OK ||
        (int8 && grin__nn_plan_apply_calibration(plan, m->meta, &err) != GRIN_OK)) {
        cli_error("%s: %s", model, err.msg);
        grin__nn_plan_free(plan);
        grin__model_free(m);
        return false;
    }
    return true;
}

/* the landmark branch's outputs on row i's landmarks and (with flip) their mirror image */
static void branch_outputs(const grin__model *m, const grin__dataset *d, int i, bool flip, float *r, float *rm)
{
    float f[2 * 68];
    const grin_point2f *pts = d->lm + (size_t)i * 68;
    grin__lm_features(&m->lm, m->input, pts, false, f);
    *r = grin__lm_run(&m->lm, f);
    *rm = 0;
    if (flip) {
        grin__lm_features(&m->lm, m->input, pts, true, f);
        *rm = grin__lm_run(&m->lm, f);
    }
}

static bool row_fuses(const grin__model *m, const grin__post *post, const grin__dataset *d, int i)
{
    return post->fuse && m->lm.count > 0 && d->has_lm && d->has_lm[i];
}

/* the model's reported probabilities (its test-time mirror and calibration included; with a fuse
 * line, the landmark branch's output too on rows that have landmarks) */
static grin_status plan_predict(const grin__nn_plan *plan, const grin__model *m, const grin__post *post,
                                const grin__dataset *d, float *p)
{
    grin__nn_scratch s = {0};
    size_t per = (size_t)d->size * d->size * d->channels;
    float *x = malloc(2 * per * sizeof *x), *xm = x + per;
    grin_status st = x ? GRIN_OK : GRIN_ERR_NO_MEMORY;
    for (int i = 0; i < d->n && !st; i++) {
        grin__dataset_floats(d, i, 1, x);
        float raw = 0, mirror = 0;
        st = grin__nn_plan_run(plan, &s, x, &raw, NULL);
        if (!st && post->flip) {
            grin__mirror_input(x, xm, d->size, d->channels);
            st = grin__nn_plan_run(plan, &s, xm, &mirror, NULL);
        }
        if (row_fuses(m, post, d, i)) {
            float r, rm;
            branch_outputs(m, d, i, post->flip, &r, &rm);
            p[i] = grin__post_apply_lm(post, raw, mirror, r, rm);
        } else {
            p[i] = grin__post_apply(post, raw, mirror);
        }
    }
    free(x);
    grin__nn_scratch_free(&s);
    return st;
}

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *labels = NULL;
    int aligned = 0;
    bool int8 = false, no_branch = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--aligned"))
            aligned = 1;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin eval [--model FILE] --labels CSV [--roc FILE.png] [--int8] [--no-branch]\n"
                   "                [detect options]\n"
                   "       grin eval --aligned [--model FILE] --labels CSV [--int8] [--no-branch]\n"
                   "Accuracy, AUC and the confusion matrix of the smile classifier on labelled photos\n"
                   "(file,smile,... rows) through detect -> align -> classify (a face not found\n"
                   "counts as wrong), or with --aligned on crops already aligned; ends with one line\n"
                   "{\"n\":N,\"acc\":A,\"auc\":U,\"missed\":M}.\n"
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
        if (!strcmp(argv[i], "--model") && v)
            model = v, i++;
        else if (!strcmp(argv[i], "--labels") && v)
            labels = v, i++;
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
    if (grin__dataset_load(labels, m.input, m.channels, &d, &err) != GRIN_OK) {
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
    if (!p || plan_predict(&plan, &m, &post, &d, p) != GRIN_OK) {
        cli_error("eval: inference failed");
        rc = 1;
    } else {
        grin__metrics_from(p, d.y, d.n, &mt);
        printf("accuracy %.4f  AUC %.4f  (%d crops, %d rows skipped%s; %d with the landmark branch)\n", mt.acc,
               mt.auc, d.n, d.bad, int8 ? ", 8-bit" : "", fused);
        printf("confusion: true smile %d as smile, %d as not; not smiling %d as smile, %d as not\n",
               mt.tp, mt.fn, mt.fp, mt.tn);
        printf("{\"n\":%d,\"acc\":%.4f,\"auc\":%.4f,\"missed\":0}\n", d.n, mt.acc, mt.auc);
    }
    free(p);
    grin__dataset_free(&d);
    grin__nn_plan_free(&plan);
    grin__model_free(&m);
    return rc;
}

/* Rewrites meta without its lines that start with any of `drop` (NULL-terminated), then
 * appends `add`; false when the result would not fit. */
static bool meta_replace(char *meta, size_t cap, const char *const *drop, const char *add)
{
    char *tmp = malloc(cap);
    if (!tmp)
        return false;
    size_t off = 0;
    for (const char *p = meta; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        bool keep = true;
        for (const char *const *d = drop; *d && keep; d++)
            keep = strncmp(p, *d, strlen(*d)) != 0;
        if (keep && off + len < cap) {
            memcpy(tmp + off, p, len);
            off += len;
        }
        p += len;
    }
    if (off && tmp[off - 1] != '\n' && off + 1 < cap)
        tmp[off++] = '\n';
    size_t al = strlen(add);
    bool ok = off + al < cap;
    if (ok) {
        memcpy(tmp + off, add, al);
        tmp[off + al] = '\0';
        memcpy(meta, tmp, off + al + 1);
    }
    free(tmp);
    return ok;
}

/* `grin quantize`: calibrates a model's activations on aligned crops and stores the 8-bit
 * calibration in a copy of the model */
int cmd_quantize(int argc, char **argv)
{
    const char *model = NULL, *calib = NULL, *out = NULL;
    int images = 1000;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin quantize --model FILE --calib CSV [--images N] --out FILE\n"
                   "Runs N (default 1000, spread over the CSV) aligned training crops through the\n"
                   "model, records each layer's largest activation, and writes the model with that\n"
                   "8-bit calibration; `grin eval --int8`, `grin bench classify --int8` and\n"
                   "grin_classifier_set_int8() then run its pointwise layers in 8 bits.\n"
                   "Calibrate on training crops, never on the validation split.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--model") && v)
            model = v, i++;
        else if (!strcmp(argv[i], "--calib") && v)
            calib = v, i++;
        else if (!strcmp(argv[i], "--out") && v)
            out = v, i++;
        else if (!strcmp(argv[i], "--images")) {
            if (!cli_int("--images", v, 1, 1000000, &images))
                return 2;
            i++;
        } else {
            cli_error("quantize: unknown or incomplete option '%s' (see grin quantize --help)", argv[i]);
            return 2;
        }
    }
    if (!model || !calib || !out) {
        cli_error("quantize: --model FILE, --calib CSV and --out FILE are required");
        return 2;
    }
    grin_error err = {{0}};
    grin__model m;
    grin__nn_plan plan;
    if (!open_plan(model, false, &m, &plan))
        return 1;
    grin__dataset d;
    int rc = 0;
    if (grin__dataset_load(calib, m.input, m.channels, &d, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    } else if (d.n == 0) {
        cli_error("%s: no usable crops", calib);
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
    return rc;
}

/* Platt scaling, generalised to k <= 2 inputs: the w of sigmoid(w0 z0 + ... + w[k]) that
 * minimises the cross-entropy against Platt's smoothed targets, by Newton's method with step
 * halving. z is n x k. */
static double platt_loss(const double *z, int k, const uint8_t *y, int n, double tpos, double tneg, const double *w)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        double f = w[k], t = y[i] ? tpos : tneg;
        for (int j = 0; j < k; j++)
            f += w[j] * z[(size_t)i * k + j];
        loss += f >= 0 ? t * log1p(exp(-f)) + (1 - t) * (f + log1p(exp(-f)))
                       : t * (-f + log1p(exp(f))) + (1 - t) * log1p(exp(f));
    }
    return loss;
}

/* solves the m x m system H x = g (m <= 3) by Gaussian elimination with pivoting; false when singular */
static bool solve_small(double H[3][3], double *g, int m, double *x)
{
    for (int c = 0; c < m; c++) {
        int piv = c;
        for (int r = c + 1; r < m; r++)
            if (fabs(H[r][c]) > fabs(H[piv][c]))
                piv = r;
        if (!(fabs(H[piv][c]) > 1e-300))
            return false;
        for (int k = 0; k < m; k++) {
            double t = H[c][k];
            H[c][k] = H[piv][k];
            H[piv][k] = t;
        }
        double t = g[c];
        g[c] = g[piv];
        g[piv] = t;
        for (int r = c + 1; r < m; r++) {
            double f = H[r][c] / H[c][c];
            for (int k = c; k < m; k++)
                H[r][k] -= f * H[c][k];
            g[r] -= f * g[c];
        }
    }
    for (int r = m - 1; r >= 0; r--) {
        double v = g[r];
        for (int k = r + 1; k < m; k++)
            v -= H[r][k] * x[k];
        x[r] = v / H[r][r];
    }
    return true;
}

static void fit_platt(const double *z, int k, const uint8_t *y, int n, double *w)
{
    int npos = 0;
    for (int i = 0; i < n; i++)
        npos += y[i];
    double tpos = (npos + 1.0) / (npos + 2.0), tneg = 1.0 / (n - npos + 2.0);
    const int m = k + 1;
    for (int j = 0; j < m; j++)
        w[j] = j < k ? 1 : 0;
    double loss = platt_loss(z, k, y, n, tpos, tneg, w);
    for (int it = 0; it < 100; it++) {
        double g[3] = {0}, H[3][3] = {{1e-12, 0, 0}, {0, 1e-12, 0}, {0, 0, 1e-12}}, x[3], wn[3];
        for (int i = 0; i < n; i++) {
            double v[3], f = w[k];
            for (int j = 0; j < k; j++) {
                v[j] = z[(size_t)i * k + j];
                f += w[j] * v[j];
            }
            v[k] = 1;
            double q = 1 / (1 + exp(-f)), t = y[i] ? tpos : tneg, h = q * (1 - q);
            for (int a = 0; a < m; a++) {
                g[a] += (q - t) * v[a];
                for (int b = 0; b < m; b++)
                    H[a][b] += h * v[a] * v[b];
            }
        }
        if (!solve_small(H, g, m, x))
            break;
        double step = 1, nl = loss;
        for (; step > 1e-6; step /= 2) {
            for (int j = 0; j < m; j++)
                wn[j] = w[j] - step * x[j];
            nl = platt_loss(z, k, y, n, tpos, tneg, wn);
            if (nl < loss)
                break;
        }
        if (!(nl < loss))
            break;
        memcpy(w, wn, (size_t)m * sizeof *w);
        bool done = loss - nl < 1e-10 * (1 + loss);
        loss = nl;
        if (done)
            break;
    }
}

/* the fused mapping's inputs from the rows of d with landmarks: the network's logit (mirrored when
 * flip) and the landmark branch's, n x 2 in zf, labels in yf; the count, or -1 when inference fails */
static int fuse_inputs(const grin__nn_plan *plan, const grin__model *m, const grin__dataset *d, bool flip,
                       double *zf, uint8_t *yf)
{
    float *p = malloc(sizeof *p * (size_t)(d->n ? d->n : 1));
    grin__post post = {.flip = flip};
    if (!p || plan_predict(plan, m, &post, d, p) != GRIN_OK) {
        free(p);
        return -1;
    }
    int nf = 0;
    for (int i = 0; d->has_lm && i < d->n; i++) {
        if (!d->has_lm[i])
            continue;
        float r, rm;
        branch_outputs(m, d, i, flip, &r, &rm);
        double q = p[i], u = flip ? 0.5 * ((double)r + rm) : r;
        q = q < 1e-7 ? 1e-7 : (q > 1 - 1e-7 ? 1 - 1e-7 : q);
        u = u < 1e-7 ? 1e-7 : (u > 1 - 1e-7 ? 1 - 1e-7 : u);
        zf[2 * nf] = log(q / (1 - q));
        zf[2 * nf + 1] = log(u / (1 - u));
        yf[nf++] = d->y[i];
    }
    free(p);
    return nf;
}

/* `grin calibrate`: test-time mirroring and a Platt calibration fitted on a tuning split; for a
 * model with a landmark branch also how its output and the network's combine (fuse=) */
int cmd_calibrate(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *labels[16], *fuse_labels[16];
    int nlabels = 0, nfuse = 0, flip = 1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin calibrate --model FILE --labels CSV [--labels CSV ...] [--no-flip]\n"
                   "       [--fuse-labels CSV ...] --out FILE\n"
                   "Fits how the model's output becomes the reported probability, on aligned crops\n"
                   "held out from training (a tuning split; never the validation split): the mean\n"
                   "of the crop's and its mirror image's outputs (unless --no-flip), mapped by\n"
                   "sigmoid(A * logit(p) + B) with A, B fitted by Platt scaling. A model with a\n"
                   "landmark branch (grin train --branch landmarks) also gets, fitted the same way\n"
                   "on the crops that have landmarks, sigmoid(A' logit(p) + B' logit(r) + C'), r the\n"
                   "branch's output (mirrored too): what faces with usable landmarks are given;\n"
                   "--fuse-labels fits that one on other crops (default: the --labels); with no\n"
                   "crops that have landmarks the model's fuse line is kept (it reads the raw\n"
                   "outputs, not the Platt mapping).\n"
                   "Writes the model with test_flip=, platt= (and fuse=) metadata lines, which\n"
                   "every classifier call applies.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--model") && v)
            model = v, i++;
        else if (!strcmp(argv[i], "--labels") && v && nlabels < 16)
            labels[nlabels++] = v, i++;
        else if (!strcmp(argv[i], "--fuse-labels") && v && nfuse < 16)
            fuse_labels[nfuse++] = v, i++;
        else if (!strcmp(argv[i], "--out") && v)
            out = v, i++;
        else if (!strcmp(argv[i], "--no-flip"))
            flip = 0;
        else {
            cli_error("calibrate: unknown or incomplete option '%s' (see grin calibrate --help)", argv[i]);
            return 2;
        }
    }
    if (!model || !nlabels || !out) {
        cli_error("calibrate: --model FILE, --labels CSV and --out FILE are required");
        return 2;
    }
    grin_error err = {{0}};
    grin__model m;
    grin__nn_plan plan;
    if (!open_plan(model, false, &m, &plan))
        return 1;
    grin__dataset d, fd = {0};
    int rc = load_sets(labels, nlabels, m.input, m.channels, &d) ? 0 : 1;
    if (!rc && nfuse && !m.lm.count) {
        cli_error("calibrate: --fuse-labels, but %s has no landmark branch (grin train --branch landmarks)", model);
        rc = 2;
    }
    if (!rc && nfuse && !load_sets(fuse_labels, nfuse, m.input, m.channels, &fd))
        rc = 1;
    const grin__dataset *fset = nfuse ? &fd : &d; /* what the fused mapping is fitted on */
    int npos = 0;
    for (int i = 0; !rc && i < d.n; i++)
        npos += d.y[i];
    if (!rc && (npos == 0 || npos == d.n)) {
        cli_error("calibrate: the tuning crops need both smiling and non-smiling faces (%d of %d smile)",
                  npos, d.n);
        rc = 1;
    }
    float *p = rc ? NULL : malloc(sizeof *p * (size_t)d.n);
    float *pf = rc ? NULL : malloc(sizeof *pf * (size_t)(fset->n + 1));
    double *z = rc ? NULL : malloc(sizeof *z * (size_t)d.n);
    double *zf = rc ? NULL : malloc(2 * sizeof *zf * (size_t)(fset->n + 1));
    uint8_t *yf = rc ? NULL : malloc((size_t)(fset->n + 1));
    if (!rc && (!p || !pf || !z || !zf || !yf)) {
        cli_error("calibrate: out of memory");
        rc = 1;
    }
    grin__post post = {.flip = flip != 0};
    if (!rc && plan_predict(&plan, &m, &post, &d, p) != GRIN_OK) {
        cli_error("calibrate: inference failed");
        rc = 1;
    }
    if (!rc) {
        grin__metrics before, after;
        grin__metrics_from(p, d.y, d.n, &before);
        for (int i = 0; i < d.n; i++) {
            double q = p[i] < 1e-7 ? 1e-7 : (p[i] > 1 - 1e-7 ? 1 - 1e-7 : p[i]);
            z[i] = log(q / (1 - q));
        }
        double w[3];
        fit_platt(z, 1, d.y, d.n, w);
        double A = w[0], B = w[1];
        post.platt = true;
        post.a = (float)A;
        post.b = (float)B;
        /* the fused mapping, on the crops with landmarks */
        int nf = m.lm.count ? fuse_inputs(&plan, &m, fset, flip != 0, zf, yf) : 0, fpos = 0;
        double F[3] = {0, 0, 0};
        grin__metrics fb = {0}, fa = {0};
        if (nf < 0) {
            cli_error("calibrate: inference failed");
            rc = 1;
            nf = 0;
        }
        for (int k = 0; k < nf; k++)
            fpos += yf[k];
        /* no crops with landmarks: a fuse line stays valid (it reads the raw outputs, not the Platt
         * mapping) as long as the outputs are averaged the same way */
        bool keep_fuse = !rc && m.lm.count && nf == 0 && !nfuse && m.post.fuse && m.post.flip == (flip != 0);
        if (!rc && m.lm.count && nf == 0 && !keep_fuse) {
            cli_error("calibrate: %s has a landmark branch%s, but no crop in %s has landmarks", model,
                      m.post.fuse ? " whose fuse line must be fitted again (--no-flip changed)" : "",
                      nfuse ? "--fuse-labels" : "--labels");
            rc = 1;
        }
        bool fuse = nf > 0;
        if (fuse && (fpos == 0 || fpos == nf)) {
            cli_error("calibrate: the crops with landmarks need both smiling and non-smiling faces (%d of %d smile)",
                      fpos, nf);
            rc = 1;
        }
        if (!rc && fuse) {
            fit_platt(zf, 2, yf, nf, F);
            for (int k = 0; k < nf; k++) /* before: the network alone, Platt-mapped */
                pf[k] = (float)(1 / (1 + exp(-(A * zf[2 * k] + B))));
            grin__metrics_from(pf, yf, nf, &fb);
            for (int k = 0; k < nf; k++)
                pf[k] = (float)(1 / (1 + exp(-(F[0] * zf[2 * k] + F[1] * zf[2 * k + 1] + F[2]))));
            grin__metrics_from(pf, yf, nf, &fa);
            if (!(F[0] >= 0) || F[0] > 100 || !(F[1] >= 0) || F[1] > 100 || fabs(F[2]) > 100) {
                cli_error("calibrate: the fused fit is degenerate (%g, %g, %g): too few or unrepresentative crops",
                          F[0], F[1], F[2]);
                rc = 1;
            }
        }
        for (int i = 0; i < d.n; i++) /* p was already mirrored: apply the mapping only */
            p[i] = grin__post_apply(&(grin__post){.platt = true, .a = post.a, .b = post.b}, p[i], 0);
        grin__metrics_from(p, d.y, d.n, &after);
        char add[320], why[128];
        int off = snprintf(add, sizeof add, "test_flip=%d\nplatt=%.6g,%.6g\nplatt_crops=%d\n", flip, A, B, d.n);
        if (fuse)
            snprintf(add + off, sizeof add - (size_t)off, "fuse=%.6g,%.6g,%.6g\nfuse_crops=%d\n", F[0], F[1], F[2],
                     nf);
        static const char *const drop_all[] = {"test_flip=", "platt=", "platt_crops=", "fuse=", "fuse_crops=", NULL};
        static const char *const drop_platt[] = {"test_flip=", "platt=", "platt_crops=", NULL};
        const char *const *drop = keep_fuse ? drop_platt : drop_all;
        grin__post check;
        if (rc) {
            /* reported above */
        } else if (!(A > 0) || A > 100 || fabs(B) > 100) {
            cli_error("calibrate: the fit is degenerate (A %g, B %g): too few or unrepresentative crops", A, B);
            rc = 1;
        } else if (!meta_replace(m.meta, sizeof m.meta, drop, add) ||
                   !grin__post_parse(m.meta, &check, why, sizeof why)) {
            cli_error("calibrate: %s: metadata too long", model);
            rc = 1;
        } else if (grin__model_save(&m, out, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            rc = 1;
        } else {
            printf("tuning crops %d (%d smiling): accuracy %.4f -> %.4f, AUC %.4f -> %.4f, "
                   "decision threshold on the raw output %.3f\n", d.n, npos, before.acc, after.acc,
                   before.auc, after.auc, 1 / (1 + exp(B / A)));
            if (keep_fuse)
                printf("no crop has landmarks: the landmark branch keeps its fuse line\n");
            if (fuse)
                printf("with landmarks %d (%d smiling): the network alone %.4f / %.4f, with the landmark branch "
                       "%.4f / %.4f (fuse %.3g, %.3g, %.3g)\n", nf, fpos, fb.acc, fb.auc, fa.acc, fa.auc, F[0],
                       F[1], F[2]);
            printf("{\"model\":\"%s\",\"crops\":%d,\"flip\":%d,\"a\":%.6g,\"b\":%.6g,"
                   "\"acc_before\":%.4f,\"acc_after\":%.4f", model, d.n, flip, A, B, before.acc, after.acc);
            if (fuse)
                printf(",\"fuse\":[%.6g,%.6g,%.6g],\"fuse_crops\":%d,\"fuse_acc\":%.4f,\"fuse_auc\":%.4f", F[0],
                       F[1], F[2], nf, fa.acc, fa.auc);
            printf(",\"out\":\"%s\"}\n", out);
        }
    }
    free(p);
    free(pf);
    free(z);
    free(zf);
    free(yf);
    grin__dataset_free(&d);
    grin__dataset_free(&fd);
    grin__nn_plan_free(&plan);
    grin__model_free(&m);
    return rc;
}

int cmd_model(int argc, char **argv)
{
    bool init = argc >= 2 && !strcmp(argv[1], "init");
    if (argc < 2 || (strcmp(argv[1], "info") && !init)) {
        cli_error("usage: grin model info (--model FILE | --arch mobilenet --alpha A --input S [--gray])\n"
                  "       grin model init --arch mobilenet --alpha A --input S [--gray] [--seed N] --out FILE");
        return 2;
    }
    const char *model = NULL, *out = NULL;
    long long seed = 1;
    double alpha = 1.0;
    int input = 224, ch = 3;
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
        else if (!strcmp(argv[i], "--arch") && v)
            i++;
        else if (init && !strcmp(argv[i], "--out") && v)
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
        m.arch = GRIN__ARCH_MOBILENET_V1, m.input = input, m.channels = ch, m.alpha = (float)alpha;
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
    if (model) {
        if (grin__model_load(model, &m, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            return 1;
        }
    } else {
        m.arch = GRIN__ARCH_MOBILENET_V1, m.input = input, m.channels = ch, m.alpha = (float)alpha;
        if (grin__model_build(&m, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            return 1;
        }
    }
    size_t trainable = m.net.nparams;
    printf("{\"arch\":\"mobilenet_v1\",\"alpha\":%.3f,\"input\":[%d,%d,%d],\"parameters\":%zu,"
           "\"multiply_adds\":%llu,\"layers\":%d}\n", m.alpha, m.input, m.input, m.channels, trainable,
           (unsigned long long)grin__nn_macs(&m.net), m.net.n);
    if (m.lm.count)
        printf("{\"landmark_branch\":{\"points\":[%d,%d],\"inputs\":%d,\"hidden\":%d,\"parameters\":%zu,"
               "\"multiply_adds\":%llu}}\n", m.lm.first, m.lm.first + m.lm.count - 1, 2 * m.lm.count, m.lm.hidden,
               m.lm.net.nparams, (unsigned long long)grin__nn_macs(&m.lm.net));
    if (model && m.meta[0])
        printf("%s%s", m.meta, m.meta[strlen(m.meta) - 1] == '\n' ? "" : "\n");
    grin__model_free(&m);
    return 0;
}

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
