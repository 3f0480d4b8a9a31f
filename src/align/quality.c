/* quality.c — how far a face's 68 landmarks can be trusted, from the fits grin already makes:
 * the similarity fit's residual against the symmetric template, the affine fit's distortion,
 * and how far the points move when the landmark model starts again from the box they imply (the
 * model converges to the same points from a good start; from a box beside the face it lands
 * somewhere else each time). */
#include "../core/internal.h"

#include <math.h>
#include <string.h>

double grin__eye_distance(const grin_point2f *p)
{
    double lx = 0, ly = 0, rx = 0, ry = 0;
    for (int i = 36; i < 42; i++)
        lx += p[i].x, ly += p[i].y, rx += p[i + 6].x, ry += p[i + 6].y;
    return hypot(rx - lx, ry - ly) / 6;
}

grin_status grin__face_check(const grin_classifier *check, const grin_aligner *a, const grin_image *img,
                             const grin_point2f *pts, grin_rect box, grin_image *crop, float *p, grin_error *err)
{
    grin_align_fit fit;
    int aligned = 0;
    *p = 0.0f;
    grin_image_free(crop);
    grin_status st = grin_align_fit_points(a, pts, 68, &fit);
    if (!st)
        st = grin_align_warp(a, img, &fit, box, crop, &aligned);
    if (st || !aligned) /* landmarks too distorted to align: not a face's */
        return st;
    st = grin_classify_crops(check, crop, 1, p, err);
    if (st || !isfinite(*p))
        *p = 0.0f;
    return st;
}

grin_status grin_face_quality_of(const grin_landmarker *m, const grin_aligner *a, const grin_image *img,
                                 const grin_point2f *pts, size_t count, grin_face_quality *out,
                                 grin_point2f *refit)
{
    if (!m || !a || !pts || !out || count != 68)
        return GRIN_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    out->drift = -1;
    size_t tn;
    const grin_point2f *tmpl = grin_aligner_template(a, &tn);
    if (tn != 68)
        return GRIN_ERR_INVALID_ARGUMENT;
    grin_point2f again[68];
    const grin_point2f *shape = pts;
    double iod = grin__eye_distance(pts);
    if (img) {
        grin_rect box;
        if (!(iod > 0) || grin_landmarks_box(m, pts, count, &box) != GRIN_OK ||
            grin_landmarks(m, img, box, again, 68, NULL) != GRIN_OK) {
            out->drift = INFINITY;
        } else {
            double d = 0;
            for (int i = 0; i < 68; i++)
                d += hypot(again[i].x - pts[i].x, again[i].y - pts[i].y);
            out->drift = (float)(d / 68 / iod);
            shape = again;
        }
    }
    if (refit)
        memcpy(refit, shape, sizeof again);
    grin_align_fit fit;
    double tiod = grin__eye_distance(tmpl);
    if (grin_align_fit_points(a, shape, count, &fit) != GRIN_OK || !isfinite(fit.distortion) || !(tiod > 0) ||
        !isfinite(out->drift)) {
        out->residual = out->distortion = INFINITY;
        return GRIN_OK; /* quality 0 */
    }
    out->residual = (float)(fit.rms_error / tiod);
    out->distortion = fit.distortion;
    /* A logistic model of "the landmarks are right" (the five labelled points of MTFL's training
     * photos within 0.2 eye distances) against "they are not" (over 0.35, from boxes moved off the
     * face, or detections away from it), fitted by bench/landmark_quality.py (BENCHMARKS.md). The
     * drift enters with its square: points that barely move were found from a good start, points
     * that move far were rescued by starting again, the middle is where a second start still
     * disagrees with the first. */
    double d = out->drift < 0 ? 0.0 : fmin(out->drift, 0.5);
    double z = 4.416 - 9.004 * out->residual - 14.093 * log(fmax(out->distortion, 1.0)) - 34.118 * d + 98.934 * d * d;
    out->quality = (float)(1.0 / (1.0 + exp(-z)));
    return GRIN_OK;
}
