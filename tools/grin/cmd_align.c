/* cmd_align.c — `grin align`: the preprocessing that training uses. Runs detection, landmarks
 * and alignment over a labelled CSV (first column a path relative to the CSV, a `smile`
 * column), writes the crops and DIR/labels.csv, and reports how many faces were found,
 * aligned, fell back to the box crop, or were missed. Images run on a pool of threads; output
 * keeps the input order. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    row *rows;
    size_t nrows;
    atomic_size_t next;
    const grin_cascade *cascade;
    const grin_landmarker *lm;
    const grin_aligner *al;
    detect_opts opts;
    const char *out_dir;
    bool crops; /* the photos are face crops: face_crop_landmarks finds the face */
    pthread_mutex_t log_lock; /* serialises error lines */
} job;

static void help(FILE *f)
{
    fprintf(f, "usage: grin align --labels IN.csv --out DIR [--size N] [--margin M] [--model FILE]\n"
               "                  [--max-distortion R] [--crops] [detect options]\n"
               "Writes DIR/<n>.png crops and DIR/labels.csv (file,smile,aligned,source,landmarks:\n"
               "the 68 landmarks in crop coordinates as space-separated x y pairs, for aligned\n"
               "crops; what a model's landmark branch trains on), then the source CSV's other\n"
               "columns.\n"
               "  --crops               each photo is already one face's crop (GENKI-4K crops/,\n"
               "                        SMILEsmileD, CelebA crops/, a detector's boxes): the\n"
               "                        detector's box around its centre when it finds one,\n"
               "                        else the whole image, is the face's box (as grin\n"
               "                        classify --face-crops)\n%s%s",
            detect_opts_usage(), photo_opts_usage());
}

static void *worker(void *arg)
{
    job *J = arg;
    grin_detector *det = NULL;
    if (grin_detector_create(1, &det) != GRIN_OK)
        return NULL;
    grin_landmarker_info info;
    grin_landmarker_get_info(J->lm, &info);
    grin_point2f *pts = malloc(sizeof *pts * (size_t)info.parts);
    for (;;) {
        size_t i = atomic_fetch_add(&J->next, 1);
        if (i >= J->nrows || !pts)
            break;
        pthread_mutex_lock(&J->log_lock);
        cli_progress("align", (long long)i, (long long)J->nrows, NULL);
        pthread_mutex_unlock(&J->log_lock);
        row *r = &J->rows[i];
        grin_error err = {{0}};
        grin_image img;
        if (grin_image_read(r->path, GRIN_PIX_RGB24, &img, &err) != GRIN_OK) {
            pthread_mutex_lock(&J->log_lock);
            cli_error("%s", err.msg);
            pthread_mutex_unlock(&J->log_lock);
            r->result = R_UNREADABLE;
            continue;
        }
        grin_rect box = {0, 0, img.width, img.height};
        grin_align_fit fit = {0};
        if (J->crops) {
            face_crop_landmarks(det, J->cascade, &J->opts, J->lm, J->al, &img, &box, pts, (size_t)info.parts, &fit);
        } else {
            size_t n = 0;
            grin_status st = detect_faces(det, J->cascade, &img, &J->opts, &n);
            const grin_rect *faces = grin_detector_results(det, &n);
            if ((st != GRIN_OK && st != GRIN_ERR_BUFFER_TOO_SMALL) || n == 0) {
                r->result = R_MISSED;
                grin_image_free(&img);
                continue;
            }
            box = faces[pick_labelled_face(r, faces, n)];
        }
        if (!J->crops && grin_landmarks(J->lm, &img, box, pts, (size_t)info.parts, &err) == GRIN_OK)
            grin_align_fit_points(J->al, pts, (size_t)info.parts, &fit);
        grin_image crop;
        int aligned = 0;
        if (grin_align_warp(J->al, &img, &fit, box, &crop, &aligned) != GRIN_OK) {
            r->result = R_FAILED;
            grin_image_free(&img);
            continue;
        }
        snprintf(r->out_name, sizeof r->out_name, "%06zu.png", i);
        char out[8192];
        snprintf(out, sizeof out, "%s/%s", J->out_dir, r->out_name);
        if (grin_image_write(out, &crop, 0, &err) != GRIN_OK) {
            pthread_mutex_lock(&J->log_lock);
            cli_error("%s", err.msg);
            pthread_mutex_unlock(&J->log_lock);
            r->result = R_FAILED;
        } else {
            r->result = aligned ? R_ALIGNED : R_FELL_BACK;
            if (aligned && info.parts == 68 && (r->crop_pts = malloc(68 * sizeof *r->crop_pts)))
                grin_align_map_points(&fit, pts, 68, r->crop_pts);
        }
        grin_image_free(&crop);
        grin_image_free(&img);
    }
    free(pts);
    grin_detector_free(det);
    return NULL;
}

int cmd_align(int argc, char **argv)
{
    detect_opts o;
    detect_opts_default(&o);
    o.photos = true;
    o.threads = 0;
    const char *labels = NULL, *out_dir = NULL, *model = GRIN_DEFAULT_LANDMARK_MODEL;
    bool crops = false;
    grin_align_params ap;
    grin_align_params_default(&ap);
    for (int i = 1; i < argc; i++) {
        int r = detect_opts_parse(&o, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--labels") && v) {
            labels = v, i++;
        } else if (!strcmp(argv[i], "--out") && v) {
            out_dir = v, i++;
        } else if (!strcmp(argv[i], "--crops")) {
            crops = true;
        } else if (!strcmp(argv[i], "--model") && v) {
            model = v, i++;
        } else if (!strcmp(argv[i], "--size")) {
            if (!cli_int("--size", v, 8, 4096, &ap.size))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--margin")) {
            if (!cli_double("--margin", v, 0.0, 0.44, &d))
                return 2;
            ap.margin = (float)d, i++;
        } else if (!strcmp(argv[i], "--max-distortion")) {
            if (!cli_double("--max-distortion", v, 1.0, 1000.0, &d))
                return 2;
            ap.max_distortion = (float)d, i++;
        } else {
            cli_error("align: unknown or incomplete option '%s' (see grin align --help)", argv[i]);
            return 2;
        }
    }
    if (!labels || !out_dir) {
        cli_error("align: --labels CSV and --out DIR are required");
        return 2;
    }
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        cli_error("--out %s: cannot create directory: %s", out_dir, strerror(errno));
        return 1;
    }
    size_t nrows;
    int bad;
    bool ok;
    char *extra_hdr = NULL; /* the source CSV's other columns travel with each crop */
    row *rows = read_labels_csv(labels, NULL, &extra_hdr, &nrows, &bad, &ok);
    if (!ok) {
        free_labels(rows, nrows);
        free(extra_hdr);
        return 1;
    }
    grin_error err = {{0}};
    grin_cascade *cascade = NULL;
    grin_landmarker *lm = NULL;
    grin_aligner *al = NULL;
    int rc = 0;
    if (grin_cascade_load(o.cascade, &cascade, &err) != GRIN_OK ||
        grin_landmarker_load(model, &lm, &err) != GRIN_OK ||
        grin_aligner_create(lm, &ap, &al, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    }
    double t0 = now_ms();
    if (!rc) {
        job J = {.rows = rows, .nrows = nrows, .cascade = cascade, .lm = lm, .al = al,
                 .opts = o, .out_dir = out_dir, .crops = crops};
        atomic_init(&J.next, 0);
        pthread_mutex_init(&J.log_lock, NULL);
        int nt = o.threads > 0 ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (nt < 1)
            nt = 1;
        pthread_t th[256];
        int started = 0;
        for (int t = 0; t < nt && t < 256; t++)
            if (pthread_create(&th[started], NULL, worker, &J) == 0)
                started++;
        if (started == 0)
            worker(&J);
        for (int t = 0; t < started; t++)
            pthread_join(th[t], NULL);
        cli_progress_end();
        pthread_mutex_destroy(&J.log_lock);
    }
    size_t count[6] = {0};
    if (!rc) {
        char path[8192];
        /* how the crops were made, for `grin train` to record in the model */
        snprintf(path, sizeof path, "%s/alignment.txt", out_dir);
        FILE *af = fopen(path, "w");
        if (!af || fprintf(af, "size=%d\nmargin=%.6g\nmax_distortion=%.6g\n", ap.size, ap.margin,
                           ap.max_distortion) < 0 || fclose(af) != 0) {
            cli_error("%s: cannot write", path);
            rc = 1;
        }
        snprintf(path, sizeof path, "%s/labels.csv", out_dir);
        FILE *f = fopen(path, "w");
        if (!f) {
            cli_error("%s: cannot create: %s", path, strerror(errno));
            rc = 1;
        } else {
            fprintf(f, "file,smile,aligned,source,landmarks%s%s\n", extra_hdr && *extra_hdr ? "," : "",
                    extra_hdr ? extra_hdr : "");
            for (size_t i = 0; i < nrows; i++) {
                count[rows[i].result]++;
                if (rows[i].result == R_ALIGNED || rows[i].result == R_FELL_BACK) {
                    fprintf(f, "%s,%d,%d,%s,", rows[i].out_name, rows[i].smile, rows[i].result == R_ALIGNED,
                            rows[i].rel);
                    for (int k = 0; rows[i].crop_pts && k < 68; k++)
                        fprintf(f, "%s%.2f %.2f", k ? " " : "", rows[i].crop_pts[k].x, rows[i].crop_pts[k].y);
                    if (extra_hdr && *extra_hdr)
                        fprintf(f, ",%s", rows[i].extra ? rows[i].extra : "");
                    fputc('\n', f);
                }
            }
            if (fclose(f) != 0) {
                cli_error("%s: write failed", path);
                rc = 1;
            }
        }
    }
    if (!rc) {
        printf("{" JSON_SCHEMA_FIELD ",\"labels\":");
        json_string(stdout, labels);
        printf(",\"rows\":%zu,\"bad_rows\":%d,\"unreadable\":%zu,\"found\":%zu,"
               "\"aligned\":%zu,\"fell_back\":%zu,\"missed\":%zu,\"failed\":%zu,\"seconds\":%.1f}\n",
               nrows, bad, count[R_UNREADABLE], count[R_ALIGNED] + count[R_FELL_BACK] + count[R_FAILED],
               count[R_ALIGNED], count[R_FELL_BACK], count[R_MISSED], count[R_FAILED],
               (now_ms() - t0) / 1000.0);
    }
    free_labels(rows, nrows);
    free(extra_hdr);
    grin_aligner_free(al);
    grin_landmarker_free(lm);
    grin_cascade_free(cascade);
    return rc ? rc : (count[R_UNREADABLE] || count[R_FAILED] || bad ? 1 : 0);
}
