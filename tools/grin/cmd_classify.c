/* cmd_classify.c — the full path, detect -> landmarks -> align -> classify: `grin classify`
 * prints each face's box and smile probability; `grin eval` (without --aligned) measures it on
 * labelled photos, a face the detector misses counting as wrong, optionally drawing the ROC. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the smile model grin_default_model_path finds ($GRIN_MODEL_DIR, the installed one, or in a build
 * tree the source tree's) */
const char *default_classifier(void)
{
    static char path[4096];
    if (!path[0] && grin_default_model_path(GRIN_SMILE_MODEL, path, sizeof path) != GRIN_OK)
        snprintf(path, sizeof path, "%s", GRIN_SMILE_MODEL);
    return path;
}

bool cli_set_int8(grin_classifier *c, const char *model, bool int8)
{
    if (int8 && grin_classifier_set_int8(c, 1) != GRIN_OK) {
        cli_error("%s: no 8-bit calibration (run grin quantize first)", model);
        return false;
    }
    return true;
}

typedef struct {
    grin_cascade *cascade;
    grin_detector *det;
    grin_landmarker *lm;
    grin_aligner *al;
    grin_classifier *cls;
    grin_classifier_info info;
    grin_point2f pts[68];
} full_path;

static void full_path_free(full_path *f)
{
    grin_classifier_free(f->cls);
    grin_aligner_free(f->al);
    grin_landmarker_free(f->lm);
    grin_detector_free(f->det);
    grin_cascade_free(f->cascade);
}

static bool full_path_open(full_path *f, const char *model, const char *lmk, const detect_opts *o)
{
    memset(f, 0, sizeof *f);
    grin_error err = {{0}};
    if (grin_classifier_load(model, &f->cls, &err) != GRIN_OK ||
        grin_landmarker_load(lmk, &f->lm, &err) != GRIN_OK ||
        grin_cascade_load(o->cascade, &f->cascade, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        full_path_free(f);
        return false;
    }
    grin_classifier_get_info(f->cls, &f->info);
    if (grin_aligner_create(f->lm, &f->info.align, &f->al, &err) != GRIN_OK ||
        grin_detector_create(o->threads, &f->det) != GRIN_OK) {
        cli_error("%s", err.msg[0] ? err.msg : "cannot create detector");
        full_path_free(f);
        return false;
    }
    if (f->info.align.size != f->info.input) {
        cli_error("%s: the model takes %dx%d crops but was trained on %dx%d alignments", model,
                  f->info.input, f->info.input, f->info.align.size, f->info.align.size);
        full_path_free(f);
        return false;
    }
    return true;
}

/* smile probability of the face in *box; *aligned tells whether its landmarks were used. With
 * crop_opts the image is one face crop (face_crop_landmarks, with those detection options) and
 * *box becomes the box its landmarks were found from. */
static bool face_prob(full_path *f, const grin_image *img, grin_rect *box, const detect_opts *crop_opts, float *p,
                      int *aligned)
{
    grin_error err;
    grin_align_fit fit = {0};
    if (crop_opts)
        face_crop_landmarks(f->det, f->cascade, crop_opts, f->lm, f->al, img, box, f->pts, 68, &fit);
    else if (grin_landmarks(f->lm, img, *box, f->pts, 68, &err) == GRIN_OK)
        grin_align_fit_points(f->al, f->pts, 68, &fit);
    grin_image crop;
    if (grin_align_warp(f->al, img, &fit, *box, &crop, aligned) != GRIN_OK)
        return false;
    /* the landmarks in crop coordinates, for a model with a landmark branch */
    grin_point2f crop_pts[68];
    const grin_point2f *lm = NULL;
    if (*aligned) {
        grin_align_map_points(&fit, f->pts, 68, crop_pts);
        lm = crop_pts;
    }
    bool ok = grin_classify_faces(f->cls, &crop, &lm, 1, p, &err) == GRIN_OK;
    grin_image_free(&crop);
    return ok;
}

/* The boxes to classify in an image (*faces, *n): the detector's, or for a face crop its whole
 * frame (one face, found again by face_prob). false (error printed) when detection failed. */
static bool image_faces(full_path *f, const grin_image *img, const char *name, const detect_opts *o, bool face_crop,
                        grin_rect *whole, const grin_rect **faces, size_t *n)
{
    *whole = (grin_rect){0, 0, img->width, img->height};
    *faces = whole;
    *n = 1;
    if (face_crop)
        return true;
    grin_status st = detect_faces(f->det, f->cascade, img, o, n);
    if (st != GRIN_OK && st != GRIN_ERR_BUFFER_TOO_SMALL) {
        cli_error("%s: %s", name, grin_detector_error(f->det));
        return false;
    }
    *faces = grin_detector_results(f->det, n);
    return true;
}

static int parse_common(int argc, char **argv, detect_opts *o, const char **model, const char **lmk,
                        int *i)
{
    int r = detect_opts_parse(o, argc, argv, i);
    if (r)
        return r;
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(argv[*i], "--model") && v) {
        *model = v, (*i)++;
        return 1;
    }
    if (!strcmp(argv[*i], "--landmarks") && v) {
        *lmk = v, (*i)++;
        return 1;
    }
    return 0;
}

/* `grin classify --crops`: the classifier alone on ready crops, all in one batch */
static int classify_crops(const char *model, char **images, int n, bool raw, bool int8)
{
    grin_error err = {{0}};
    grin_classifier *c = NULL;
    if (grin_classifier_load(model, &c, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return 1;
    }
    if (!cli_set_int8(c, model, int8)) {
        grin_classifier_free(c);
        return 1;
    }
    grin_classifier_set_raw(c, raw);
    grin_image *img = calloc((size_t)n, sizeof *img);
    const char **name = calloc((size_t)n, sizeof *name);
    float *p = calloc((size_t)n, sizeof *p);
    int rc = 0, k = 0;
    if (!img || !name || !p) {
        cli_error("out of memory");
        rc = 1;
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        if (grin_image_read(images[i], GRIN_PIX_RGB24, &img[k], &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            rc = 1;
            continue;
        }
        name[k++] = images[i];
    }
    if (k && grin_classify_crops(c, img, (size_t)k, p, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    } else {
        for (int i = 0; i < k; i++) {
            fputs("{" JSON_SCHEMA_FIELD ",\"image\":", stdout);
            json_string(stdout, name[i]);
            printf(",\"smile\":%.8f}\n", p[i]);
        }
    }
    for (int i = 0; i < k; i++)
        grin_image_free(&img[i]);
    free(img);
    free(name);
    free(p);
    grin_classifier_free(c);
    return rc;
}

int cmd_classify(int argc, char **argv)
{
    detect_opts o;
    detect_opts_default(&o);
    o.photos = true;
    const char *model = default_classifier(), *lmk = GRIN_DEFAULT_LANDMARK_MODEL;
    int nimages = 0;
    bool crops = false, face_crops = false, raw = false, int8 = false, no_branch = false;
    char **images = calloc((size_t)argc, sizeof *images);
    if (!images)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--crops")) {
            crops = true;
            continue;
        }
        if (!strcmp(argv[i], "--face-crops")) {
            face_crops = true;
            continue;
        }
        if (!strcmp(argv[i], "--raw")) {
            raw = true;
            continue;
        }
        if (!strcmp(argv[i], "--int8")) {
            int8 = true;
            continue;
        }
        if (!strcmp(argv[i], "--no-branch")) {
            no_branch = true;
            continue;
        }
        int r = parse_common(argc, argv, &o, &model, &lmk, &i);
        if (r < 0) {
            free(images);
            return 2;
        }
        if (r)
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin classify [--model FILE] [--landmarks FILE] [--int8] [--no-branch] [detect options]\n"
                   "                     IMAGE...\n"
                   "       grin classify --face-crops [--model FILE] [--landmarks FILE] [--int8] CROP...\n"
                   "       grin classify --crops [--raw] [--int8] [--model FILE] CROP...\n"
                   "Prints {\"image\",\"width\",\"height\",\"faces\":[{\"box\",\"smile\",\"aligned\"}]}.\n"
                   "  --face-crops  each image is one face, cropped by something other than grin\n"
                   "              (a detector's box, a tight crop, some background): the face's\n"
                   "              landmarks are found inside it, then aligned and classified as\n"
                   "              in a photo; one face per image\n"
                   "  --crops     each image is one aligned face crop of the model's input size:\n"
                   "              prints {\"image\",\"smile\"} for each\n"
                   "  --raw       the network's own output: no test-time mirror or Platt mapping\n"
                   "              (what grin export --onnx exports)\n"
                   "  --int8      8-bit inference (the model must carry a calibration: grin quantize)\n"
                   CLI_NO_BRANCH_USAGE "%s%s",
                   detect_opts_usage(), photo_opts_usage());
            free(images);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("classify: unknown option '%s'", argv[i]);
            free(images);
            return 2;
        }
        images[nimages++] = argv[i];
    }
    if (!nimages) {
        cli_error("classify: no images (see grin classify --help)");
        free(images);
        return 2;
    }
    if (raw && !crops) {
        cli_error("classify: --raw goes with --crops");
        free(images);
        return 2;
    }
    if (crops && face_crops) {
        cli_error("classify: --crops (aligned crops) or --face-crops (other crops of one face), not both");
        free(images);
        return 2;
    }
    if (crops) {
        int rc = classify_crops(model, images, nimages, raw, int8);
        free(images);
        return rc;
    }
    full_path f;
    if (!full_path_open(&f, model, lmk, &o)) {
        free(images);
        return 1;
    }
    if (!cli_set_int8(f.cls, model, int8)) {
        full_path_free(&f);
        free(images);
        return 1;
    }
    if (no_branch)
        grin_classifier_set_landmark_branch(f.cls, 0);
    int rc = 0;
    for (int k = 0; k < nimages; k++) {
        grin_error err;
        grin_image img;
        if (grin_image_read(images[k], GRIN_PIX_RGB24, &img, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            json_image_error(images[k], err.msg); /* one line per image, as detect and landmarks */
            rc = 1;
            continue;
        }
        size_t n;
        grin_rect whole;
        const grin_rect *faces;
        if (!image_faces(&f, &img, images[k], &o, face_crops, &whole, &faces, &n)) {
            json_image_error(images[k], grin_detector_error(f.det));
            grin_image_free(&img);
            rc = 1;
            continue;
        }
        fputs("{" JSON_SCHEMA_FIELD ",\"image\":", stdout);
        json_string(stdout, images[k]);
        printf(",\"width\":%d,\"height\":%d,\"faces\":[", img.width, img.height);
        for (size_t i = 0; i < n; i++) {
            float p = NAN;
            int aligned = 0;
            grin_rect b = faces[i];
            if (!face_prob(&f, &img, &b, face_crops ? &o : NULL, &p, &aligned))
                rc = 1;
            printf("%s{\"box\":[%d,%d,%d,%d],\"smile\":%.4f,\"aligned\":%s}", i ? "," : "", b.x, b.y, b.w, b.h,
                   isfinite(p) ? p : -1.0, aligned ? "true" : "false");
        }
        fputs("]}\n", stdout);
        grin_image_free(&img);
    }
    full_path_free(&f);
    free(images);
    return rc;
}

/* ROC curve as a PNG drawn with grin's own primitives */
static bool draw_roc(const char *path, const row *rows, size_t n)
{
    grin_image img;
    if (grin_image_alloc(420, 420, GRIN_PIX_RGB24, &img) != GRIN_OK)
        return false;
    memset(img.data, 255, (size_t)img.stride * 420);
    grin_rgb axis = {60, 60, 60}, curve = {200, 40, 40}, diag = {190, 190, 190};
    const int x0 = 50, y0 = 370, side = 340;
    grin_draw_rect(&img, x0, y0 - side, side + 1, side + 1, 1, axis);
    for (int t = 0; t <= side; t += 2)
        grin_draw_rect(&img, x0 + t, y0 - t, 1, 1, 1, diag);
    long pos = 0, neg = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].result != R_UNREADABLE)
            rows[i].smile ? pos++ : neg++;
    for (int s = 1000; s >= 0; s--) { /* thresholds from high to low */
        float th = s / 1000.0f;
        long tp = 0, fp = 0;
        for (size_t i = 0; i < n; i++)
            if (rows[i].result != R_UNREADABLE && rows[i].prob >= th)
                rows[i].smile ? tp++ : fp++;
        int x = x0 + (int)(neg ? (double)fp / neg * side : 0), y = y0 - (int)(pos ? (double)tp / pos * side : 0);
        grin_draw_rect(&img, x - 1, y - 1, 3, 3, 1, curve);
    }
    grin_draw_text(&img, x0, 12, "ROC: true positive rate vs false positive rate", 1, axis, NULL);
    grin_draw_text(&img, x0 + side - 60, y0 + 12, "FPR 1.0", 1, axis, NULL);
    grin_draw_text(&img, 4, y0 - side, "TPR", 1, axis, NULL);
    grin_error err;
    bool ok = grin_image_write(path, &img, 0, &err) == GRIN_OK;
    if (!ok)
        cli_error("%s", err.msg);
    grin_image_free(&img);
    return ok;
}

int cmd_eval_full(int argc, char **argv)
{
    detect_opts o;
    detect_opts_default(&o);
    o.photos = true;
    const char *model = default_classifier(), *lmk = GRIN_DEFAULT_LANDMARK_MODEL, *labels = NULL,
               *roc = NULL, *by = NULL;
    bool int8 = false, no_branch = false, face_crops = false;
    for (int i = 1; i < argc; i++) {
        int r = parse_common(argc, argv, &o, &model, &lmk, &i);
        if (r < 0)
            return 2;
        if (r)
            continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--labels") && v)
            labels = v, i++;
        else if (!strcmp(argv[i], "--by") && v)
            by = v, i++;
        else if (!strcmp(argv[i], "--face-crops"))
            face_crops = true;
        else if (!strcmp(argv[i], "--int8"))
            int8 = true;
        else if (!strcmp(argv[i], "--no-branch"))
            no_branch = true;
        else if (!strcmp(argv[i], "--roc") && v)
            roc = v, i++;
        else {
            cli_error("eval: unknown or incomplete option '%s'", argv[i]);
            return 2;
        }
    }
    if (!labels) {
        cli_error("eval: --labels CSV is required");
        return 2;
    }
    if (roc) { /* before minutes of evaluation, not after */
        size_t rl = strlen(roc);
        if (rl < 4 || strcmp(roc + rl - 4, ".png")) {
            cli_error("eval: --roc %s: the ROC curve is drawn as PNG (name it .png)", roc);
            return 2;
        }
    }
    size_t nrows;
    int bad;
    bool ok;
    row *rows = read_labels_csv(labels, by, NULL, &nrows, &bad, &ok);
    if (!ok) {
        free_labels(rows, nrows);
        return 1;
    }
    full_path f;
    if (!full_path_open(&f, model, lmk, &o)) {
        free_labels(rows, nrows);
        return 1;
    }
    if (!cli_set_int8(f.cls, model, int8)) {
        full_path_free(&f);
        free_labels(rows, nrows);
        return 1;
    }
    if (no_branch)
        grin_classifier_set_landmark_branch(f.cls, 0);
    size_t missed = 0, unreadable = 0, n = 0;
    float *probs = malloc(sizeof *probs * (nrows ? nrows : 1));
    uint8_t *ys = malloc(nrows ? nrows : 1);
    char **tags = by ? malloc(sizeof *tags * (nrows ? nrows : 1)) : NULL;
    if (!probs || !ys || (by && !tags)) {
        cli_error("eval: out of memory");
        nrows = 0;
    }
    for (size_t k = 0; k < nrows; k++) {
        row *r = &rows[k];
        grin_error err;
        grin_image img;
        cli_progress("eval", (long long)k, (long long)nrows, NULL);
        if (grin_image_read(r->path, GRIN_PIX_RGB24, &img, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            r->result = R_UNREADABLE;
            unreadable++;
            continue;
        }
        size_t nf;
        grin_rect whole;
        const grin_rect *faces;
        if (!image_faces(&f, &img, r->path, &o, face_crops, &whole, &faces, &nf)) {
            grin_image_free(&img);
            r->result = R_UNREADABLE;
            unreadable++;
            continue;
        }
        float p = 0.5f;
        int aligned = 0;
        grin_rect b = nf ? faces[pick_labelled_face(r, faces, nf)] : whole;
        bool found = nf > 0 && face_prob(&f, &img, &b, face_crops ? &o : NULL, &p, &aligned);
        grin_image_free(&img);
        r->result = found ? (aligned ? R_ALIGNED : R_FELL_BACK) : R_MISSED;
        /* a missed face counts as wrong: its prediction is the opposite of its label */
        if (!found) {
            missed++;
            p = r->smile ? 0.0f : 1.0f;
        }
        r->prob = p;
        probs[n] = p;
        if (tags)
            tags[n] = r->group;
        ys[n++] = (uint8_t)r->smile;
    }
    cli_progress_end();
    grin_metrics m;
    grin_metrics_compute(probs, ys, n, &m);
    if (n == 0) {
        cli_error("eval: %s: no photo could be evaluated (%zu unreadable, %d bad rows)", labels, unreadable, bad);
        free(probs);
        free(ys);
        free(tags);
        full_path_free(&f);
        free_labels(rows, nrows);
        return 1;
    }
    char auc_s[32] = "n/a (one class)";
    if (m.tp + m.fn > 0 && m.tn + m.fp > 0)
        snprintf(auc_s, sizeof auc_s, "%.4f", m.auc);
    printf("accuracy %.4f  AUC %s  on %zu photos (%zu faces not found, counted wrong; %zu unreadable, "
           "%d bad rows)\n", m.acc, auc_s, n, missed, unreadable, bad);
    printf("confusion: smiling %d right, %d wrong; not smiling %d right, %d wrong\n", m.tp, m.fn, m.tn, m.fp);
    print_eval(probs, ys, (int)n, tags, by, (long)missed);
    int rc = (unreadable || bad) ? 1 : 0;
    if (roc && !draw_roc(roc, rows, nrows))
        rc = 1;
    free(probs);
    free(ys);
    free(tags);
    full_path_free(&f);
    free_labels(rows, nrows);
    return rc;
}
