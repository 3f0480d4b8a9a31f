/* cmd_train.c — `grin train`: MobileNet v1 on aligned face crops (validation ACC/AUC after each
 * epoch, checkpoints, fine-tuning with --init), and a model's landmark branch (--branch). */
#include "nn_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    if (val && val->tp + val->fn > 0 && val->tn + val->fp > 0)
        printf(",\"val_loss\":%.4f,\"val_acc\":%.4f,\"val_auc\":%.4f", val->loss, val->acc, val->auc);
    else if (val) /* one class in the validation set: no AUC */
        printf(",\"val_loss\":%.4f,\"val_acc\":%.4f,\"val_auc\":null", val->loss, val->acc);
    printf(",\"seconds\":%.1f}\n", seconds);
    fflush(stdout);
    if (val) { /* the saved weights are the last epoch's, so its numbers go in the file */
        c->best_auc = val->auc;
        snprintf(c->best_line, sizeof c->best_line, "val_acc=%.4f\nval_auc=%.4f\nepochs=%d\n", val->acc,
                 val->auc, epoch);
    }
}

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
    const char *aux_arg = NULL, *teachers[8];
    int nteachers = 0;
    bool distill_given = false;
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
            arch_given = true;
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
        } else if (!strcmp(argv[i], "--rotate")) {
            if (!cli_double("--rotate", v, 0, 45, &d))
                return 2;
            cfg.rotate = (float)d, i++;
        } else if (!strcmp(argv[i], "--shift")) {
            if (!cli_double("--shift", v, 0, 0.3, &d))
                return 2;
            cfg.shift = (float)d, i++;
        } else if (!strcmp(argv[i], "--blur")) {
            if (!cli_double("--blur", v, 0, 1, &d))
                return 2;
            cfg.blur = (float)d, i++;
        } else if (!strcmp(argv[i], "--teacher") && v) {
            if (nteachers == 8) {
                cli_error("train: at most 8 --teacher models");
                return 2;
            }
            teachers[nteachers++] = v, i++;
        } else if (!strcmp(argv[i], "--distill")) {
            if (!cli_double("--distill", v, 0, 1, &d))
                return 2;
            cfg.distill = (float)d, i++;
            distill_given = true;
        } else if (!strcmp(argv[i], "--aux") && v) {
            aux_arg = v, i++;
        } else if (!strcmp(argv[i], "--aux-weight")) {
            if (!cli_double("--aux-weight", v, 0, 100, &d))
                return 2;
            cfg.aux_weight = (float)d, i++;
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
                   "       [--arch mobilenet|dense4] [--alpha A] [--input S] [--gray] [--epochs E]\n"
                   "       [--batch B] [--lr LR] [--weight-decay W] [--sgd] [--seed N]\n"
                   "       [--threads N] [--shards G] [--checkpoint FILE [--resume]]\n"
                   "       [--rotate DEG] [--shift F] [--blur P] [--init MODEL]\n"
                   "       [--aux COLUMN[,COLUMN...] [--aux-weight W]]\n"
                   "       [--teacher MODEL ... [--distill W]]\n"
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
                   "  --rotate DEG        augmentation: also rotate crops by up to +-DEG degrees\n"
                   "  --shift F           ... shift them by up to +-F of their side\n"
                   "  --blur P            ... and blur a share P of them (one or two [1 2 1] passes)\n"
                   "                      (all off by default; zoom, shear, flip, brightness and\n"
                   "                      contrast are always on)\n"
                   "  --aux COLUMNS       multi-task training: also predict these 0/1 columns of\n"
                   "                      the CSVs (e.g. CelebA's Mouth_Slightly_Open,\n"
                   "                      High_Cheekbones), each from its own output, on the rows\n"
                   "                      that have them; the saved model keeps the smile output\n"
                   "                      only. --aux-weight W: their loss together weighs W\n"
                   "                      times the smile's (default 1)\n"
                   "  --teacher MODEL     distillation: each training crop's target blends its\n"
                   "                      label with the probability MODEL gives it (mirror\n"
                   "                      included); several --teacher: their mean (up to 8, of\n"
                   "                      any size: each reads the crops at its own input size)\n"
                   "  --distill W         the teachers' share of the target, 0-1 (default 0.5)\n"
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
    if (output_is_input(out, init, "model") || output_is_input(out, val_csv, "validation CSV") ||
        (cfg.checkpoint && output_is_input(cfg.checkpoint, init, "model")))
        return 2;
    for (int k = 0; k < nlabels; k++)
        if (output_is_input(out, labels[k], "labels CSV") ||
            (cfg.checkpoint && output_is_input(cfg.checkpoint, labels[k], "labels CSV")))
            return 2;
    for (int k = 0; k < nteachers; k++)
        if (output_is_input(out, teachers[k], "teacher model") ||
            (cfg.checkpoint && output_is_input(cfg.checkpoint, teachers[k], "teacher model")))
            return 2;
    if (distill_given && !nteachers) {
        cli_error("train: --distill needs --teacher MODEL");
        return 2;
    }
    if (nteachers && !distill_given)
        cfg.distill = 0.5f;
    if (cfg.resume && !cfg.checkpoint) {
        cli_error("train: --resume needs --checkpoint FILE");
        return 2;
    }
    if (strcmp(arch, "mobilenet") && strcmp(arch, "dense4")) {
        cli_error("train: unknown --arch '%s' (have: mobilenet, dense4)", arch);
        return 2;
    }
    if (branch) {
        if (strcmp(branch, "landmarks")) {
            cli_error("train: unknown --branch '%s' (have: landmarks)", branch);
            return 2;
        }
        if (!init || arch_given || cfg.checkpoint || nteachers) {
            cli_error("train: --branch landmarks trains the branch of a trained model: give --init MODEL, "
                      "and no --alpha, --input, --gray, --checkpoint or --teacher");
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
    /* the auxiliary columns: a comma-separated list */
    char auxbuf[2048];
    const char *aux[GRIN__MAX_AUX];
    int n_aux = 0;
    if (aux_arg) {
        if (strlen(aux_arg) >= sizeof auxbuf) {
            cli_error("train: --aux list too long");
            grin__model_free(&m);
            return 2;
        }
        strcpy(auxbuf, aux_arg);
        for (char *p = auxbuf; p;) {
            char *c = strchr(p, ',');
            if (c)
                *c++ = 0;
            if (!*p || n_aux == GRIN__MAX_AUX || !strcmp(p, "smile")) {
                cli_error("train: --aux takes 1 to %d column names other than smile, comma-separated",
                          GRIN__MAX_AUX);
                grin__model_free(&m);
                return 2;
            }
            aux[n_aux++] = p;
            p = c;
        }
    }
    int ch = gray ? 1 : 3;
    grin__dataset train, val = {0};
    if (!load_sets_aux(labels, nlabels, input, ch, aux, n_aux, &train)) {
        grin__model_free(&m);
        return 1;
    }
    if (val_csv && grin__dataset_load(val_csv, input, ch, &val, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        grin__dataset_free(&train);
        grin__model_free(&m);
        return 1;
    }
    if (nteachers) { /* the teachers' mean probability for every training crop, once */
        float *soft = malloc(sizeof *soft * (size_t)train.n);
        if (!soft || !ensemble_predict(teachers, nteachers, labels, nlabels, &train, false, false, soft)) {
            if (!soft)
                cli_error("train: out of memory");
            free(soft);
            grin__dataset_free(&train);
            grin__dataset_free(&val);
            grin__model_free(&m);
            return 1;
        }
        double agree = 0;
        for (int i = 0; i < train.n; i++)
            agree += (soft[i] >= 0.5f) == (train.y[i] == 1);
        train.soft = soft;
        fprintf(stderr, "grin: %d teacher%s agree with %.1f%% of the labels; the target is %.2f x label + %.2f x "
                "teachers\n", nteachers, nteachers > 1 ? "s" : "", 100.0 * agree / (train.n ? train.n : 1),
                1.0 - cfg.distill, (double)cfg.distill);
    }
    if (!init) {
        m.arch = strcmp(arch, "dense4") ? GRIN__ARCH_MOBILENET_V1 : GRIN__ARCH_DENSE4;
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
    fprintf(stderr, "grin: %s %s alpha %.2f on %d crops (%dx%dx%d), %zu parameters, "
            "%llu multiply-adds per image", init ? "fine-tuning" : "training", grin__arch_name(m.arch), alpha,
            train.n, input, input, ch,
            m.net.nparams, (unsigned long long)grin__nn_macs(&m.net));
    if (val.n)
        fprintf(stderr, "; %d validation crops", val.n);
    fputc('\n', stderr);
    epoch_ctx ectx = {.best_auc = -1};
    int rc = 0;
    /* multi-task: a copy of the net with one more output per auxiliary column is trained, and the
     * smile's part of it copied back */
    grin__nn_net tn = {0};
    for (int j = 0; j < n_aux; j++) {
        int have = 0, pos = 0;
        for (int i = 0; i < train.n; i++) {
            uint8_t a = train.aux[(size_t)i * n_aux + j];
            have += a != 255;
            pos += a == 1;
        }
        if (!have) {
            cli_error("train: no training row has a 0/1 value in column '%s' (--aux)", aux[j]);
            rc = 2;
        } else {
            fprintf(stderr, "grin: auxiliary label %s on %d crops (%.1f%% positive)\n", aux[j], have,
                    100.0 * pos / have);
        }
    }
    if (!rc && n_aux &&
        (grin__arch_build(&tn, m.arch, input, ch, (float)alpha, 1 + n_aux, cfg.seed, &err) != GRIN_OK ||
         grin__nn_copy_heads(&tn, &m.net) != GRIN_OK)) {
        cli_error("%s", err.msg[0] ? err.msg : "train: cannot build the multi-task network");
        rc = 1;
    }
    if (rc) {
    } else if (grin__train(n_aux ? &tn : &m.net, &train, val.n ? &val : NULL, &cfg, on_epoch, &ectx, &err) !=
               GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    } else if (n_aux && grin__nn_copy_heads(&m.net, &tn) != GRIN_OK) {
        cli_error("train: cannot copy the multi-task network's smile output");
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
    grin__nn_free(&tn);
    grin__model_free(&m);
    grin__dataset_free(&train);
    grin__dataset_free(&val);
    return rc;
}
