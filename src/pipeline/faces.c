/* faces.c — the whole face path on one image in one call (grin_faces): detection (with the photo
 * second look), 68 landmarks, alignment, the face check or the landmarks' quality score, and the
 * smile probability, with the models loaded once (grin_face_path). */
#include "../core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct grin_face_path {
    grin_faces_params p;
    grin_cascade *cascade, *profile;
    grin_detector *det;
    grin_landmarker *lm;
    grin_aligner *al, *check_al;
    grin_classifier *cls, *check;
};

void grin_faces_params_default(grin_faces_params *p)
{
    memset(p, 0, sizeof *p);
    grin_detect_params_default(&p->detect);
    p->photo = 1;
    p->threads = 1;
}

void grin_face_path_free(grin_face_path *f)
{
    if (!f)
        return;
    grin_classifier_free(f->check);
    grin_classifier_free(f->cls);
    grin_aligner_free(f->check_al);
    grin_aligner_free(f->al);
    grin_landmarker_free(f->lm);
    grin_detector_free(f->det);
    grin_cascade_free(f->profile);
    grin_cascade_free(f->cascade);
    free(f);
}

grin_status grin_face_path_create(const grin_faces_params *params, grin_face_path **out, grin_error *err)
{
    if (!out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_face_path_create: no output");
    *out = NULL;
    grin_face_path *f = calloc(1, sizeof *f);
    if (!f)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    if (params)
        f->p = *params;
    else
        grin_faces_params_default(&f->p);
    char model[4096], check[4096];
    const char *mp = f->p.model, *cp = f->p.face_check;
    grin_status st = GRIN_OK;
    if (!mp) {
        if (grin_default_model_path(GRIN_SMILE_MODEL, model, sizeof model) != GRIN_OK) {
            st = grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_face_path_create: the model path is too long");
            goto fail;
        }
        mp = model;
    }
    if (!cp && !f->p.no_face_check && grin_default_model_path(GRIN_FACE_CHECK_MODEL, check, sizeof check) == GRIN_OK &&
        access(check, R_OK) == 0)
        cp = check;
    if (f->p.no_face_check)
        cp = NULL;
    grin_classifier_info ci, ki;
    if ((st = grin_classifier_load(mp, &f->cls, err)) ||
        (st = grin_landmarker_load(f->p.landmarks ? f->p.landmarks : GRIN_DEFAULT_LANDMARK_MODEL, &f->lm, err)) ||
        (st = grin_cascade_load(f->p.cascade ? f->p.cascade : GRIN_DEFAULT_CASCADE, &f->cascade, err)) ||
        (f->p.profile_cascade && (st = grin_cascade_load(f->p.profile_cascade, &f->profile, err))) ||
        (cp && (st = grin_classifier_load(cp, &f->check, err))))
        goto fail;
    if (f->p.int8 && grin_classifier_set_int8(f->cls, 1) != GRIN_OK) {
        st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: no 8-bit calibration (run grin quantize first)", mp);
        goto fail;
    }
    grin_classifier_get_info(f->cls, &ci);
    if ((st = grin_aligner_create(f->lm, &ci.align, &f->al, err)))
        goto fail;
    if (f->check) {
        grin_classifier_get_info(f->check, &ki);
        if ((st = grin_aligner_create(f->lm, &ki.align, &f->check_al, err)))
            goto fail;
    }
    if ((st = grin_detector_create(f->p.threads, &f->det))) {
        grin__fail(err, st, "grin_face_path_create: cannot create the detector");
        goto fail;
    }
    *out = f;
    return GRIN_OK;
fail:
    grin_face_path_free(f);
    return st;
}

/* one face: landmarks from its box, the quality (face check or score), the smile */
static grin_status one_face(grin_face_path *f, const grin_image *img, const grin_image *gray, grin_rect box,
                            grin_face *o, grin_error *err)
{
    memset(o, 0, sizeof *o);
    o->box = box;
    o->smile = NAN;
    grin_landmarker_info li;
    grin_landmarker_get_info(f->lm, &li);
    o->npoints = li.parts < 68 ? li.parts : 68;
    grin_point2f pts[68];
    grin_align_fit fit;
    memset(&fit, 0, sizeof fit);
    /* (the landmarks read img itself: a colour image as dlib reads it, (R + G + B) / 3) */
    if (li.parts != 68 || grin_landmarks(f->lm, img, box, pts, 68, err) != GRIN_OK) {
        o->npoints = 0;
    } else {
        memcpy(o->points, pts, sizeof pts);
        grin_align_fit_points(f->al, pts, 68, &fit);
    }
    grin_image crop;
    grin_status st = grin_align_warp(f->al, img, &fit, box, &crop, &o->aligned);
    if (st)
        return grin__fail(err, st, "grin_faces: alignment failed");
    grin_point2f crop_pts[68];
    const grin_point2f *lm = NULL;
    if (o->aligned) {
        grin_align_map_points(&fit, pts, 68, crop_pts);
        lm = crop_pts;
    }
    st = grin_classify_faces(f->cls, &crop, &lm, 1, &o->smile, err);
    grin_image_free(&crop);
    if (st)
        return st;
    /* how far the landmarks can be trusted */
    if (o->npoints == 68) {
        grin_face_quality q;
        if (f->check) {
            grin_image cc = {0};
            grin__face_check(f->check, f->check_al, gray, pts, box, &cc, &o->quality, NULL);
            grin_image_free(&cc);
            o->decided = o->quality >= GRIN_FACE_CHECK_MIN;
        } else if (grin_face_quality_of(f->lm, f->al, img, pts, 68, &q, NULL) == GRIN_OK) {
            o->quality = q.quality;
            o->decided = q.quality >= GRIN_QUALITY_MIN;
        }
    }
    return GRIN_OK;
}

grin_status grin_faces(grin_face_path *f, const grin_image *img, grin_face *faces, size_t capacity, size_t *count,
                       grin_error *err)
{
    if (count)
        *count = 0;
    if (!f || !img || !img->data || !count || (!faces && capacity))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_faces: missing argument");
    grin_image gray;
    grin_status st = grin_image_convert(img, GRIN_PIX_GRAY8, &gray);
    if (st)
        return grin__fail(err, st, "grin_faces: cannot convert the %dx%d image", img->width, img->height);
    size_t n = 0;
    if (f->profile)
        st = grin_detect_profiles(f->det, f->cascade, f->profile, &gray, &f->p.detect, &n);
    if (!f->profile || (!st && !n && f->p.photo))
        st = f->p.photo ? grin_detect_photo(f->det, f->cascade, &gray, &f->p.detect, &n)
                        : grin_detect(f->det, f->cascade, &gray, &f->p.detect, NULL, 0, &n);
    if (st && st != GRIN_ERR_BUFFER_TOO_SMALL) {
        grin__fail(err, st, "grin_faces: %s", grin_detector_error(f->det));
        grin_image_free(&gray);
        return st;
    }
    st = GRIN_OK;
    const grin_rect *r = grin_detector_results(f->det, &n);
    *count = n;
    for (size_t i = 0; i < n && i < capacity && !st; i++)
        st = one_face(f, img, &gray, r[i], &faces[i], err);
    grin_image_free(&gray);
    if (st)
        return st;
    return n > capacity ? GRIN_ERR_BUFFER_TOO_SMALL : GRIN_OK;
}
