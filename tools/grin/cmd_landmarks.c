/* cmd_landmarks.c — `grin landmarks`: 68 facial landmarks per face (dlib's ERT model), on the
 * faces grin's detector finds or on boxes given with --box; one JSON line per image. Also
 * `grin convert-landmarks IN OUT` to write grin's fast-loading model format. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f, "usage: grin landmarks [--model FILE] [--box x,y,w,h]... [detect options] IMAGE...\n"
               "Prints {\"image\",\"width\",\"height\",\"faces\":[{\"box\":[x,y,w,h],\"points\":[[x,y],...],"
               "\"aligned\":bool}]} per image.\n\n"
               "  --model FILE          dlib shape_predictor .dat or grin model (default %s)\n"
               "  --box x,y,w,h         use this face box instead of the detector (repeatable)\n%s%s",
            GRIN_DEFAULT_LANDMARK_MODEL, detect_opts_usage(), photo_opts_usage());
}

static bool parse_box(const char *s, grin_rect *r)
{
    char *end;
    long v[4];
    for (int i = 0; i < 4; i++) {
        v[i] = strtol(s, &end, 10);
        if (end == s || (i < 3 && *end != ',') || (i == 3 && *end) || v[i] < -1000000 || v[i] > 1000000)
            return false;
        s = end + 1;
    }
    *r = (grin_rect){(int)v[0], (int)v[1], (int)v[2], (int)v[3]};
    return r->w > 0 && r->h > 0;
}

int cmd_landmarks(int argc, char **argv)
{
    detect_opts o;
    detect_opts_default(&o);
    o.photos = true;
    const char *model_path = GRIN_DEFAULT_LANDMARK_MODEL;
    grin_rect boxes[64];
    int nboxes = 0, nimages = 0;
    char **images = calloc((size_t)argc, sizeof *images);
    if (!images)
        return 1;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        int r = detect_opts_parse(&o, argc, argv, &i);
        if (r < 0) {
            free(images);
            return 2;
        }
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(stdout);
            free(images);
            return 0;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model_path = argv[++i];
        } else if (!strcmp(argv[i], "--box")) {
            if (i + 1 >= argc || nboxes == 64 || !parse_box(argv[i + 1], &boxes[nboxes])) {
                cli_error("--box needs x,y,w,h with a positive width and height (at most 64 boxes)");
                free(images);
                return 2;
            }
            nboxes++;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("landmarks: unknown option '%s' (see grin landmarks --help)", argv[i]);
            free(images);
            return 2;
        } else {
            images[nimages++] = argv[i];
        }
    }
    if (nimages == 0) {
        help(stderr);
        free(images);
        return 2;
    }
    grin_error err = {{0}};
    grin_landmarker *lm = NULL;
    grin_cascade *cascade = NULL;
    grin_detector *det = NULL;
    if (grin_landmarker_load(model_path, &lm, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        free(images);
        return 1;
    }
    if (nboxes == 0) {
        if (grin_cascade_load(o.cascade, &cascade, &err) != GRIN_OK ||
            grin_detector_create(o.threads, &det) != GRIN_OK) {
            cli_error("%s", err.msg[0] ? err.msg : "cannot create detector");
            grin_landmarker_free(lm);
            grin_cascade_free(cascade);
            free(images);
            return 1;
        }
    }
    grin_landmarker_info info;
    grin_landmarker_get_info(lm, &info);
    grin_point2f *pts = malloc(sizeof *pts * (size_t)info.parts);
    grin_aligner *aligner = NULL;
    if (info.parts == 68 && grin_aligner_create(lm, NULL, &aligner, &err) != GRIN_OK)
        aligner = NULL;
    for (int k = 0; pts && k < nimages; k++) {
        grin_image img;
        /* in colour: the landmarks read it as dlib does, (R + G + B) / 3; the detector its luma */
        if (grin_image_read(images[k], GRIN_PIX_RGB24, &img, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            json_image_error(images[k], err.msg);
            rc = 1;
            continue;
        }
        const grin_rect *faces = boxes;
        size_t n = (size_t)nboxes;
        if (!nboxes) {
            grin_status st = detect_faces(det, cascade, &img, &o, &n);
            if (st != GRIN_OK && st != GRIN_ERR_BUFFER_TOO_SMALL) {
                cli_error("%s: %s", images[k], grin_detector_error(det));
                grin_image_free(&img);
                rc = 1;
                continue;
            }
            faces = grin_detector_results(det, &n);
        }
        fputs("{" JSON_SCHEMA_FIELD ",\"image\":", stdout);
        json_string(stdout, images[k]);
        printf(",\"width\":%d,\"height\":%d,\"faces\":[", img.width, img.height);
        for (size_t f = 0; f < n; f++) {
            if (grin_landmarks(lm, &img, faces[f], pts, (size_t)info.parts, &err) != GRIN_OK) {
                cli_error("%s: %s", images[k], err.msg);
                rc = 1;
                continue;
            }
            grin_align_fit fit = {.usable = 0, .distortion = INFINITY};
            if (aligner)
                grin_align_fit_points(aligner, pts, (size_t)info.parts, &fit);
            printf("%s{\"box\":[%d,%d,%d,%d],\"points\":[", f ? "," : "", faces[f].x, faces[f].y,
                   faces[f].w, faces[f].h);
            for (int i = 0; i < info.parts; i++)
                printf("%s[%.5f,%.5f]", i ? "," : "", pts[i].x, pts[i].y);
            printf("],\"aligned\":%s", fit.usable ? "true" : "false");
            if (isfinite(fit.distortion))
                printf(",\"distortion\":%.4f", fit.distortion);
            fputs("}", stdout);
        }
        fputs("]}\n", stdout);
        grin_image_free(&img);
    }
    free(pts);
    grin_aligner_free(aligner);
    grin_detector_free(det);
    grin_cascade_free(cascade);
    grin_landmarker_free(lm);
    free(images);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}

int cmd_convert_landmarks(int argc, char **argv)
{
    grin_leaf_type leaves = GRIN_LEAVES_F32;
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--half"))
            leaves = GRIN_LEAVES_F16;
        else if (!strcmp(argv[i], "--q16"))
            leaves = GRIN_LEAVES_Q16;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin convert-landmarks [--half|--q16] IN.dat OUT.grinlmk\n"
                   "Writes grin's memory-mappable landmark model. Leaves stay float32 (dlib's\n"
                   "results exactly) unless --half (float16) or --q16 (int16 with a scale per leaf,\n"
                   "more precise) halves them.\n");
            return 0;
        } else if (!in)
            in = argv[i];
        else if (!out)
            out = argv[i];
        else {
            cli_error("convert-landmarks: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!in || !out) {
        cli_error("convert-landmarks: need IN and OUT (see --help)");
        return 2;
    }
    if (output_is_input(out, in, "input"))
        return 2;
    grin_error err = {{0}};
    grin_landmarker *m = NULL;
    double t0 = now_ms();
    if (grin_landmarker_load(in, &m, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return 1;
    }
    double t1 = now_ms();
    if (grin_landmarker_save(m, out, leaves, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        grin_landmarker_free(m);
        return 1;
    }
    grin_landmarker_info info;
    grin_landmarker_get_info(m, &info);
    printf("{\"input\":");
    json_string(stdout, in);
    printf(",\"output\":");
    json_string(stdout, out);
    static const char *kinds[] = {"float32", "float16", "q16"};
    printf(",\"parts\":%d,\"levels\":%d,\"trees\":%d,\"features\":%d,\"leaves\":\"%s\","
           "\"load_ms\":%.1f}\n", info.parts, info.levels, info.trees, info.features,
           kinds[leaves], t1 - t0);
    grin_landmarker_free(m);
    return 0;
}
