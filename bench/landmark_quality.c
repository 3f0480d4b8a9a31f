/* landmark_quality.c — how well grin's landmark quality score tells landmarks that sit on the face
 * from landmarks that do not, measured on labelled photos (MTFL's format: file, smile, the five
 * points x_leye..y_rmouth, pose). For each photo, three kinds of box go to the landmark model:
 *   true    the detector's box on the labelled face
 *   ghost   that box moved and resized the way a second detection on the same face lands (up
 *           by 30% and 1.4x as large; down by 25%; sideways by 30%; 0.6x as large)
 *   false   the detector's boxes (at 1 neighbour) that do not touch the labelled face
 * and one line per box is written: kind, pose, the quality and its parts, and the landmarks'
 * error against the five labelled points (of the points found again from the box the first ones
 * imply, as grin run uses them: mean distance in inter-ocular distances; empty for
 * false boxes, which have no face to be right about).
 *
 *   bench_landmark_quality LABELS.csv [MAX_PHOTOS] > quality.csv
 *   bench_landmark_quality --video CLIP [EVERY] > quality.csv
 *
 * With --video (a clip with one face, as franck and cap12 are), every EVERY-th frame (default 10):
 * the detector's largest box is the face ("face"), the boxes of its raw hits (no grouping) that
 * do not touch it are "false", and the face box moved as above is "ghost"; no errors (no labels).
 *
 * bench/landmark_quality.py reads the CSV and reports how each threshold separates them.
 *
 *   bench_landmark_quality LABELS.csv MAX_PHOTOS --crops DIR
 *
 * writes instead each box's aligned crop (as grin run makes it) to DIR with DIR/labels.csv
 * (file, smile = 1 for landmarks on a face, 0 for landmarks beside one or on no face, kind), and two
 * random boxes a photo away from every detection: the data of a face check. */
#include <grin.h>

#include "video/video.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static double overlap(grin_rect a, grin_rect b) /* intersection over the smaller box */
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w, y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    if (x1 <= x0 || y1 <= y0)
        return 0;
    double in = (double)(x1 - x0) * (y1 - y0), sa = (double)a.w * a.h, sb = (double)b.w * b.h;
    return in / (sa < sb ? sa : sb);
}

static void mean_of(const grin_point2f *p, int from, int to, double *x, double *y)
{
    *x = *y = 0;
    for (int i = from; i <= to; i++)
        *x += p[i].x, *y += p[i].y;
    *x /= to - from + 1, *y /= to - from + 1;
}

/* --crops DIR: each box's aligned crop as grin run makes it, labelled face (1: landmarks within
 * 0.2 eye distances) or not (0: over 0.35, or no face there); the middle is left out */
static const char *crop_dir;
static FILE *crop_csv;
static long ncrops;

static void save_crop(const grin_aligner *al, const grin_image *img, const grin_point2f *p, grin_rect box,
                      int face, const char *kind)
{
    grin_align_fit fit;
    grin_image crop;
    int aligned;
    if (grin_align_fit_points(al, p, 68, &fit) || grin_align_warp(al, img, &fit, box, &crop, &aligned))
        return;
    char name[64], path[4200];
    snprintf(name, sizeof name, "%06ld.png", ncrops++);
    snprintf(path, sizeof path, "%s/%s", crop_dir, name);
    if (grin_image_write(path, &crop, 0, NULL) == GRIN_OK)
        fprintf(crop_csv, "%s,%d,%s\n", name, face, kind);
    grin_image_free(&crop);
}

static void emit(const grin_landmarker *lm, const grin_aligner *al, const grin_image *img, grin_rect box,
                 const char *kind, const char *pose, const double *g)
{
    grin_point2f p1[68], p[68]; /* the landmarks from the box, then found again (what is used) */
    grin_face_quality q;
    if (box.w < 16 || grin_landmarks(lm, img, box, p1, 68, NULL) || grin_face_quality_of(lm, al, img, p1, 68, &q, p))
        return;
    if (crop_dir) {
        double e = 1;
        if (g) {
            double lx, ly, rx, ry, iod = hypot(g[1] - g[0], g[6] - g[5]);
            mean_of(p, 36, 41, &lx, &ly);
            mean_of(p, 42, 47, &rx, &ry);
            e = (hypot(lx - g[0], ly - g[5]) + hypot(rx - g[1], ry - g[6]) + hypot(p[30].x - g[2], p[30].y - g[7]) +
                 hypot(p[48].x - g[3], p[48].y - g[8]) + hypot(p[54].x - g[4], p[54].y - g[9])) / iod / 5;
        }
        if (e < 0.2 || e > 0.35)
            save_crop(al, img, p, box, e < 0.2, kind);
        return;
    }
    double e = NAN;
    if (g) {
        double pt[5][2], iod = hypot(g[1] - g[0], g[6] - g[5]);
        mean_of(p, 36, 41, &pt[0][0], &pt[0][1]); /* the subject's right eye: image left */
        mean_of(p, 42, 47, &pt[1][0], &pt[1][1]);
        pt[2][0] = p[30].x, pt[2][1] = p[30].y;
        pt[3][0] = p[48].x, pt[3][1] = p[48].y;
        pt[4][0] = p[54].x, pt[4][1] = p[54].y;
        e = 0;
        for (int k = 0; k < 5; k++)
            e += hypot(pt[k][0] - g[k], pt[k][1] - g[5 + k]) / iod / 5;
    }
    printf("%s,%s,%.4f,%.4f,%.4f,%.4f,", kind, pose, q.quality, q.residual, q.distortion, q.drift);
    if (isfinite(e))
        printf("%.4f", e);
    putchar('\n');
}

/* the ways a second detection lands on a face already found */
static int ghosts(grin_rect b, grin_rect *out)
{
    out[0] = (grin_rect){b.x - b.w / 5, b.y - (int)(0.5 * b.h), (int)(1.4 * b.w), (int)(1.4 * b.h)};
    out[1] = (grin_rect){b.x, b.y + b.h / 4, b.w, b.h};
    out[2] = (grin_rect){b.x + (int)(0.3 * b.w), b.y, b.w, b.h};
    out[3] = (grin_rect){b.x + b.w / 5, b.y + b.h / 5, (int)(0.6 * b.w), (int)(0.6 * b.h)};
    return 4;
}

static int video(const char *path, int every, const grin_cascade *casc, grin_detector *det,
                 const grin_landmarker *lm, const grin_aligner *al)
{
    grin_error err = {{0}};
    grin__video_in *v;
    if (grin__video_open(path, NULL, &v, &err)) {
        fprintf(stderr, "bench_landmark_quality: %s\n", err.msg);
        return 1;
    }
    grin_image rgb = {0}, grey = {0};
    double t;
    for (long k = 0; grin__video_read(v, &rgb, &t, &err) == 1; k++) {
        if (k % every)
            continue;
        grin_image_free(&grey);
        if (grin_image_convert(&rgb, GRIN_PIX_GRAY8, &grey))
            break;
        grin_detect_params dp;
        grin_detect_params_default(&dp);
        size_t n = 0;
        grin_detect(det, casc, &grey, &dp, NULL, 0, &n);
        const grin_rect *r = grin_detector_results(det, &n);
        grin_rect face = {0, 0, 0, 0}, gh[4];
        for (size_t i = 0; i < n; i++)
            if (r[i].w > face.w)
                face = r[i];
        if (!face.w)
            continue;
        emit(lm, al, &grey, face, "face", "", NULL);
        for (int i = 0, ng = ghosts(face, gh); i < ng; i++)
            emit(lm, al, &grey, gh[i], "ghost", "", NULL);
        dp.min_neighbors = 0;
        grin_detect(det, casc, &grey, &dp, NULL, 0, &n);
        r = grin_detector_results(det, &n);
        for (size_t i = 0; i < n; i++)
            if (overlap(r[i], face) == 0 && r[i].w >= 30)
                emit(lm, al, &grey, r[i], "false", "", NULL);
    }
    grin_image_free(&rgb);
    grin_image_free(&grey);
    grin__video_close(v);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_landmark_quality LABELS.csv [MAX_PHOTOS] > quality.csv\n");
        return 2;
    }
    int max_photos = argc > 2 ? atoi(argv[2]) : 1 << 30;
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--crops")) {
            crop_dir = argv[i + 1];
            char p[4200];
            snprintf(p, sizeof p, "%s/labels.csv", crop_dir);
            if (!(crop_csv = fopen(p, "w"))) {
                fprintf(stderr, "bench_landmark_quality: %s: cannot create\n", p);
                return 1;
            }
            fprintf(crop_csv, "file,smile,kind\n");
        }
    srand(1);
    grin_error err = {{0}};
    grin_cascade *casc;
    grin_landmarker *lm;
    grin_aligner *al;
    grin_detector *det;
    grin_align_params ap;
    grin_align_params_default(&ap);
    if (grin_cascade_load(GRIN_DEFAULT_CASCADE, &casc, &err) || grin_landmarker_load(GRIN_DEFAULT_LANDMARK_MODEL, &lm, &err) ||
        grin_aligner_create(lm, &ap, &al, &err) || grin_detector_create(1, &det)) {
        fprintf(stderr, "bench_landmark_quality: %s\n", err.msg);
        return 1;
    }
    if (!strcmp(argv[1], "--video")) {
        printf("kind,pose,quality,residual,distortion,drift,error\n");
        return argc > 2 ? video(argv[2], argc > 3 ? atoi(argv[3]) : 10, casc, det, lm, al) : 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "bench_landmark_quality: %s: cannot open\n", argv[1]);
        return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", argv[1]);
    char *sl = strrchr(dir, '/');
    if (sl)
        sl[1] = 0;
    else
        dir[0] = 0;
    char line[8192], hdrbuf[8192], *h[64];
    int nh = 0, c[10], cpose = -1, photos = 0;
    static const char *names[10] = {"x_leye", "x_reye", "x_nose", "x_lmouth", "x_rmouth",
                                    "y_leye", "y_reye", "y_nose", "y_lmouth", "y_rmouth"};
    printf("kind,pose,quality,residual,distortion,drift,error\n");
    while (fgets(line, sizeof line, f) && photos < max_photos) {
        line[strcspn(line, "\r\n")] = 0;
        if (!nh) {
            strcpy(hdrbuf, line);
            nh = grin__csv_split(hdrbuf, h, 64);
            for (int k = 0; k < 10; k++)
                if ((c[k] = grin__csv_column(h, nh, names[k])) < 0) {
                    fprintf(stderr, "bench_landmark_quality: no '%s' column\n", names[k]);
                    return 1;
                }
            cpose = grin__csv_column(h, nh, "pose");
            continue;
        }
        char *fl[64];
        int nf = grin__csv_split(line, fl, 64);
        if (nf < nh)
            continue;
        double g[10];
        for (int k = 0; k < 10; k++)
            g[k] = atof(fl[c[k]]);
        char path[8192];
        snprintf(path, sizeof path, "%s%s", fl[0][0] == '/' ? "" : dir, fl[0]);
        grin_image img;
        if (grin_image_read(path, GRIN_PIX_GRAY8, &img, &err))
            continue;
        photos++;
        const char *pose = cpose >= 0 ? fl[cpose] : "";
        double iod = hypot(g[1] - g[0], g[6] - g[5]);
        /* the labelled face's extent, from its five points */
        double fcx = (g[0] + g[1] + g[3] + g[4]) / 4, fcy = (g[5] + g[6] + g[8] + g[9]) / 4;
        grin_rect face = {(int)(fcx - 1.2 * iod), (int)(fcy - 1.3 * iod), (int)(2.4 * iod), (int)(2.4 * iod)};
        grin_detect_params dp;
        grin_detect_params_default(&dp);
        dp.min_neighbors = 1;
        size_t n = 0;
        grin_detect(det, casc, &img, &dp, NULL, 0, &n);
        const grin_rect *all = grin_detector_results(det, &n);
        grin_rect boxes[64];
        int nb = 0;
        /* the true box: the largest detection at 3 neighbours' strength that covers the face */
        grin_rect best = {0, 0, 0, 0};
        for (size_t i = 0; i < n && nb < 56; i++) {
            double o = overlap(all[i], face);
            if (o > 0.5) {
                if (all[i].w > best.w)
                    best = all[i];
            } else if (o == 0) {
                boxes[nb++] = all[i];
            }
        }
        if (best.w) {
            emit(lm, al, &img, best, "true", pose, g);
            grin_rect gh[4];
            for (int k = 0, ng = ghosts(best, gh); k < ng; k++)
                emit(lm, al, &img, gh[k], "ghost", pose, g);
        }
        for (int k = 0; k < nb; k++)
            emit(lm, al, &img, boxes[k], "false", pose, NULL);
        if (crop_dir) /* background: two random boxes that touch no detection and not the face */
            for (int k = 0, tries = 0; k < 2 && tries < 40; tries++) {
                int side = 40 + (int)(rand() % 120);
                if (side >= img.width || side >= img.height)
                    continue;
                grin_rect r = {(int)(rand() % (img.width - side)), (int)(rand() % (img.height - side)), side, side};
                bool clear = overlap(r, face) == 0;
                for (size_t i = 0; i < n && clear; i++)
                    clear = overlap(r, all[i]) == 0;
                if (clear) {
                    emit(lm, al, &img, r, "random", pose, NULL);
                    k++;
                }
            }
        grin_image_free(&img);
    }
    fclose(f);
    grin_detector_free(det);
    grin_aligner_free(al);
    grin_landmarker_free(lm);
    grin_cascade_free(casc);
    if (crop_csv)
        fclose(crop_csv);
    return 0;
}
