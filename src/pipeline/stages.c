/* stages.c — the modules of `grin run`: detect, landmarks (tracking), classify, smile (smoothing
 * and events), output (JSON lines, drawing, encoding, live view). */
#include "stages.h"

#include "../detect/detect_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- detect */

typedef struct {
    const grin__detect_cfg *cfg;
    grin_detector *det;
    grin_image small;
    grin_image padded; /* the frame with its edge border */
    void *scratch;
    size_t scratch_cap;
} detect_state;

static void *detect_init(const void *cfg, grin_error *err)
{
    detect_state *s = calloc(1, sizeof *s);
    if (!s || grin_detector_create(1, &s->det) != GRIN_OK) {
        free(s);
        grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    return s;
}

static grin_status detect_process(void *state, grin__frame *f, grin_error *err)
{
    detect_state *s = state;
    /* grey once per frame, for detection and landmarks */
    if (!f->gray.data || f->gray.width != f->rgb.width || f->gray.height != f->rgb.height) {
        grin_image_free(&f->gray);
        if (grin_image_alloc(f->rgb.width, f->rgb.height, GRIN_PIX_GRAY8, &f->gray) != GRIN_OK)
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    grin_status st = grin__image_convert_into(&f->rgb, &f->gray);
    if (st)
        return grin__fail(err, st, "frame %lld: colour conversion failed", (long long)f->index);
    if (!f->detect)
        return GRIN_OK;
    /* large frames: detect on a copy scaled down to max_width (faces in such frames are large;
     * the landmarks still run at full resolution) */
    const grin_image *img = &f->gray;
    grin_detect_params p = s->cfg->params;
    double k = 1.0;
    if (s->cfg->max_width > 0 && f->gray.width > s->cfg->max_width) {
        k = (double)f->gray.width / s->cfg->max_width;
        int dw = s->cfg->max_width, dh = (int)lrint(f->gray.height / k);
        if (dh < 1)
            dh = 1;
        if (!s->small.data || s->small.width != dw || s->small.height != dh) {
            grin_image_free(&s->small);
            if (grin_image_alloc(dw, dh, GRIN_PIX_GRAY8, &s->small) != GRIN_OK)
                return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        }
        if (!grin__reserve(&s->scratch, &s->scratch_cap, grin__resize_scratch_bytes(f->gray.width, f->gray.height, dw, dh)))
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        grin__resize_exact(f->gray.data, f->gray.width, f->gray.height, (size_t)f->gray.stride, s->small.data, dw, dh,
                           (size_t)s->small.stride, s->scratch);
        img = &s->small;
        p.min_width = (int)(p.min_width / k), p.min_height = (int)(p.min_height / k);
        p.max_width = (int)(p.max_width / k), p.max_height = (int)(p.max_height / k);
    }
    /* the edge border: a face entering or leaving, cut by the frame's edge, is found while most of
     * it is in view (boxes at least half inside the frame are kept) */
    int b = (int)lrint(s->cfg->edge * (img->width > img->height ? img->width : img->height));
    if ((long)img->width + 2L * b > GRIN_MAX_IMAGE_SIDE || (long)img->height + 2L * b > GRIN_MAX_IMAGE_SIDE)
        b = 0;
    if (b > 0) {
        int pw = img->width + 2 * b, ph = img->height + 2 * b;
        if (!s->padded.data || s->padded.width != pw || s->padded.height != ph) {
            grin_image_free(&s->padded);
            if (grin_image_alloc(pw, ph, GRIN_PIX_GRAY8, &s->padded) != GRIN_OK)
                return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        }
        grin__pad_replicate(img, b, &s->padded);
        img = &s->padded;
    }
    size_t n = 0;
    st = s->cfg->profile ? grin_detect_profiles(s->det, s->cfg->cascade, s->cfg->profile, img, &p, &n)
                         : grin_detect(s->det, s->cfg->cascade, img, &p, NULL, 0, &n);
    if (st && st != GRIN_ERR_BUFFER_TOO_SMALL)
        return grin__fail(err, st, "frame %lld: %s", (long long)f->index, grin_detector_error(s->det));
    const grin_rect *r = grin_detector_results(s->det, &n);
    if (n > f->capdets) {
        grin_rect *d = realloc(f->dets, n * sizeof *d);
        if (!d)
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        f->dets = d;
        f->capdets = n;
    }
    /* back to the frame's coordinates: without the border (keeping boxes at least half inside),
     * then at full size */
    int W = img->width - 2 * b, H = img->height - 2 * b;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        grin_rect q = {r[i].x - b, r[i].y - b, r[i].w, r[i].h};
        if (b > 0) {
            int ix = q.x > 0 ? q.x : 0, iy = q.y > 0 ? q.y : 0;
            int ex = q.x + q.w < W ? q.x + q.w : W, ey = q.y + q.h < H ? q.y + q.h : H;
            if (ex <= ix || ey <= iy || 2L * (ex - ix) * (ey - iy) < (long)q.w * q.h)
                continue;
        }
        f->dets[kept++] = k == 1.0 ? q
                                   : (grin_rect){(int)lrint(q.x * k), (int)lrint(q.y * k), (int)lrint(q.w * k),
                                                 (int)lrint(q.h * k)};
    }
    n = kept;
    f->ndets = n;
    return GRIN_OK;
}

static void detect_destroy(void *state)
{
    detect_state *s = state;
    grin_image_free(&s->small);
    grin_image_free(&s->padded);
    grin__aligned_free(s->scratch);
    grin_detector_free(s->det);
    free(s);
}

const grin__module grin__stage_detect = {"detect", 1, false, NULL, detect_init, detect_process, detect_destroy};

/* ---------------------------------------------------------------- landmarks: tracking */

typedef struct {
    int id;       /* 0 for a detection not yet accepted as a face */
    int revive;   /* a candidate looking for the lost face of this id where it would be now */
    grin_rect box;
    grin_point2f pts[GRIN__MAX_POINTS];
    int npts;
    float rel[4]; /* the detector's box relative to the landmarks' bounding box: dx, dy, sx, sy */
    bool have_rel;
    int misses;   /* detection frames in a row that did not confirm it */
    bool matched; /* a detection confirmed it on this frame */
    bool det_box; /* ... and its box is the detection's (else the detection was off the face) */
    grin_rect prev; /* its box on the previous frame */
    grin_face_quality q;
    /* motion, from the frames whose landmarks passed the quality gate: the last such frame's
     * time, box and landmarks' centre, and the centre's velocity (pixels a second) */
    double good_t;
    grin_rect good_box;
    /* where a face whose landmarks fail the gate coasts from: the last good box or detector box */
    grin_rect anchor;
    double anchor_t;
    float cx, cy, vx, vy;
    bool have_v;
} track;

typedef struct { /* a track that ended recently: a face that comes back near it gets its id */
    int id;
    grin_rect box; /* its last box whose landmarks passed the quality gate, at time t */
    double t;
    float vx, vy;  /* and its velocity then: where it would be now */
} lost_track;

typedef struct {
    const grin__landmarks_cfg *cfg;
    track *t;
    int n;
    size_t cap;
    lost_track *lost;
    size_t nlost, lost_cap;
    int next_id;
    int parts;
    grin_image check_crop; /* the face check's crop, reused */
} lm_state;

static void *lm_init(const void *cfg, grin_error *err)
{
    lm_state *s = calloc(1, sizeof *s);
    if (!s) {
        grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->next_id = 1;
    grin_landmarker_info info;
    grin_landmarker_get_info(s->cfg->lm, &info);
    s->parts = info.parts < GRIN__MAX_POINTS ? info.parts : GRIN__MAX_POINTS;
    return s;
}

static void lm_destroy(void *state)
{
    lm_state *s = state;
    free(s->t);
    free(s->lost);
    grin_image_free(&s->check_crop);
    free(s);
}

static double iou(grin_rect a, grin_rect b)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w, y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    if (x1 <= x0 || y1 <= y0)
        return 0.0;
    double in = (double)(x1 - x0) * (y1 - y0);
    return in / ((double)a.w * a.h + (double)b.w * b.h - in);
}

static void pts_bbox(const grin_point2f *p, int n, float *x0, float *y0, float *x1, float *y1)
{
    *x0 = *y0 = 1e30f;
    *x1 = *y1 = -1e30f;
    for (int i = 0; i < n; i++) {
        *x0 = fminf(*x0, p[i].x), *x1 = fmaxf(*x1, p[i].x);
        *y0 = fminf(*y0, p[i].y), *y1 = fmaxf(*y1, p[i].y);
    }
}

/* where the detector would put the box, from the landmarks and the relation seen at the last
 * detection */
static grin_rect box_from_points(const track *t)
{
    float x0, y0, x1, y1;
    pts_bbox(t->pts, t->npts, &x0, &y0, &x1, &y1);
    float w = x1 - x0, h = y1 - y0, cx = (x0 + x1) / 2 + t->rel[0] * w, cy = (y0 + y1) / 2 + t->rel[1] * h;
    float bw = w * t->rel[2], bh = h * t->rel[3];
    return (grin_rect){(int)lrintf(cx - bw / 2), (int)lrintf(cy - bh / 2), (int)lrintf(bw), (int)lrintf(bh)};
}

static void learn_rel(track *t)
{
    float x0, y0, x1, y1;
    pts_bbox(t->pts, t->npts, &x0, &y0, &x1, &y1);
    float w = x1 - x0, h = y1 - y0;
    if (w < 2 || h < 2)
        return;
    t->rel[0] = (t->box.x + t->box.w / 2.0f - (x0 + x1) / 2) / w;
    t->rel[1] = (t->box.y + t->box.h / 2.0f - (y0 + y1) / 2) / h;
    t->rel[2] = t->box.w / w;
    t->rel[3] = t->box.h / h;
    t->have_rel = true;
}

/* A detection on a face this track already follows, whatever its size or offset: its centre lies
 * inside the face's landmarks, the landmarks' centre inside it, and it is not far larger or
 * smaller than the face (a detection that merely overlaps a neighbour fails the first two). */
static bool on_tracked_face(const track *t, grin_rect d)
{
    if (!t->npts)
        return false;
    float x0, y0, x1, y1;
    pts_bbox(t->pts, t->npts, &x0, &y0, &x1, &y1);
    y0 -= 0.3f * (y1 - y0); /* the forehead, above the eyebrows */
    float w = x1 - x0, cx = d.x + d.w / 2.0f, cy = d.y + d.h / 2.0f;
    float lx = (x0 + x1) / 2, ly = (y0 + y1) / 2;
    return w > 2 && cx > x0 && cx < x1 && cy > y0 && cy < y1 && lx > d.x && lx < d.x + d.w && ly > d.y &&
           ly < d.y + d.h && d.w > 0.5f * w && d.w < 2.5f * w;
}

static double eye_distance(const grin_point2f *p, int n)
{
    if (n == 68)
        return grin__eye_distance(p);
    float x0, y0, x1, y1; /* other layouts: half the width of the points */
    pts_bbox(p, n, &x0, &y0, &x1, &y1);
    return (x1 - x0) / 2;
}

/* two tracks' landmarks on one face: the mean distance between their points is under a quarter
 * of an eye distance */
static bool same_shape(const track *a, const track *b)
{
    if (!a->npts || a->npts != b->npts)
        return false;
    double d = 0, iod = eye_distance(a->pts, a->npts);
    for (int i = 0; i < a->npts; i++)
        d += hypot(a->pts[i].x - b->pts[i].x, a->pts[i].y - b->pts[i].y);
    return iod > 0 && d / a->npts < 0.25 * iod;
}

/* the quality a face needs for a smile decision and to start a track */
static float quality_min(const grin__landmarks_cfg *c) { return c->check ? GRIN_FACE_CHECK_MIN : GRIN_QUALITY_MIN; }

static void remember_lost(lm_state *s, const track *t, double now)
{
    if (!t->id || s->cfg->hold_seconds <= 0)
        return;
    if (!grin__grow((void **)&s->lost, &s->lost_cap, s->nlost + 1, sizeof *s->lost))
        return; /* (out of memory: the face gets a new id when it comes back) */
    bool good = t->good_t > 0;
    s->lost[s->nlost++] = (lost_track){t->id, good ? t->good_box : t->box, good ? t->good_t : now,
                                       t->have_v ? t->vx : 0.0f, t->have_v ? t->vy : 0.0f};
}

/* the id for a new face: a track lost moments ago near here and of about this size, else a new one */
static int id_for(lm_state *s, grin_rect b, double now)
{
    int best = -1;
    double bd = 1e30;
    for (size_t k = 0; k < s->nlost; k++) {
        const lost_track *l = &s->lost[k];
        double dt = now - l->t; /* where it would be now, had it kept moving (for up to a second) */
        if (dt > 1.0)
            dt = 1.0;
        double dx = (l->box.x + l->box.w / 2.0 + l->vx * dt) - (b.x + b.w / 2.0);
        double dy = (l->box.y + l->box.h / 2.0 + l->vy * dt) - (b.y + b.h / 2.0);
        double d = hypot(dx, dy), r = (double)b.w / (l->box.w > 0 ? l->box.w : 1);
        if (now - l->t <= s->cfg->hold_seconds && d < 0.75 * l->box.w && r > 0.67 && r < 1.5 && d < bd)
            bd = d, best = (int)k;
    }
    if (best < 0)
        return s->next_id++;
    int id = s->lost[best].id;
    s->lost[best] = s->lost[--s->nlost];
    return id;
}

/* after a frame's landmarks: the velocity of their centre, measured between frames whose
 * landmarks passed the quality gate (up to half a second apart, so a face partly hidden for a few
 * frames keeps its motion) and smoothed (half the new measure, half the old: a frame's jitter is
 * averaged out, a turn followed within a few frames); measures over ~4 face widths a second are
 * not motion but a jump to something else */
static void track_motion(track *t, double now, float qmin)
{
    if (!t->npts || t->q.quality < qmin)
        return;
    float cx = 0, cy = 0;
    for (int k = 0; k < t->npts; k++)
        cx += t->pts[k].x, cy += t->pts[k].y;
    cx /= (float)t->npts, cy /= (float)t->npts;
    double dt = now - t->good_t;
    if (t->good_t > 0 && dt > 0 && dt < 0.5) {
        float mx = (float)((cx - t->cx) / dt), my = (float)((cy - t->cy) / dt);
        float lim = 10.0f * (float)eye_distance(t->pts, t->npts);
        if (fabsf(mx) < lim && fabsf(my) < lim) {
            t->vx = t->have_v ? 0.5f * (t->vx + mx) : mx;
            t->vy = t->have_v ? 0.5f * (t->vy + my) : my;
            t->have_v = true;
        }
    }
    t->cx = cx, t->cy = cy;
    t->good_box = t->box, t->good_t = now;
    t->anchor = t->box, t->anchor_t = now;
}

static grin_status lm_process(void *state, grin__frame *f, grin_error *err)
{
    lm_state *s = state;
    const grin_image *img = f->gray.data ? &f->gray : &f->rgb;
    /* the landmarks read the colour frame, as dlib reads colour images ((R + G + B) / 3, not the
     * detector's luma); the crops are made from the grey frame */
    const grin_image *lmimg = f->rgb.data ? &f->rgb : img;
    for (size_t k = 0; k < s->nlost;) /* ids held for faces that may come back */
        if (f->t - s->lost[k].t > s->cfg->hold_seconds || f->t < s->lost[k].t)
            s->lost[k] = s->lost[--s->nlost];
        else
            k++;
    /* 1. predicted boxes: from the landmarks of the previous frame, moved on by the face's
     * velocity (a fast face would otherwise leave the box its landmarks start from) */
    for (int i = 0; i < s->n; i++) {
        track *t = &s->t[i];
        t->matched = t->det_box = false;
        t->prev = t->box;
        double since; /* the time the box below is from */
        if (t->npts && t->q.quality < quality_min(s->cfg) && t->anchor_t > 0) {
            /* landmarks that failed the gate would grow or drift the box they imply, frame after
             * frame: the face coasts on from its last good box (or the detector's, if later) */
            t->box = t->anchor;
            since = t->anchor_t;
        } else {
            if (t->have_rel && t->npts)
                t->box = box_from_points(t);
            since = t->good_t;
        }
        if (t->have_v) {
            t->box.x += (int)lrint(t->vx * (f->t - since));
            t->box.y += (int)lrint(t->vy * (f->t - since));
        }
    }
    /* 2. on detection frames, detections confirm tracks (well-overlapping boxes first, then
     * detections that land on a tracked face at another size or offset) or become candidates */
    if (f->detect) {
        bool *used = calloc(f->ndets + 1, sizeof *used);
        if (!used)
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        for (;;) {
            double best = 0;
            int bi = -1, bd = -1;
            for (int i = 0; i < s->n; i++)
                for (size_t d = 0; d < f->ndets; d++) {
                    if (s->t[i].matched || used[d])
                        continue;
                    double o = iou(s->t[i].box, f->dets[d]);
                    double score = o > 0.3 ? 1 + o : on_tracked_face(&s->t[i], f->dets[d]) ? 0.5 + o : 0;
                    if (score > best)
                        best = score, bi = i, bd = (int)d;
                }
            if (bi < 0)
                break;
            track *t = &s->t[bi];
            t->matched = true;
            t->misses = 0;
            used[bd] = true;
            /* a detection that overlaps the face's box replaces it; one that only lands on the
             * face (a second, shifted box on the same face) confirms the track, which keeps
             * following its landmarks while they can be trusted */
            if (best >= 1 || !t->npts || t->q.quality < quality_min(s->cfg)) {
                t->box = f->dets[bd];
                t->det_box = true;
            }
        }
        for (int i = 0; i < s->n;) { /* tracks no detection confirmed */
            track *t = &s->t[i];
            /* in video, a face whose landmarks passed the gate on the last frame confirms itself:
             * the detector misses faces it found a moment before (turned, smiling broadly, lit
             * from the side), and the face check already says these landmarks are on a face */
            if (!t->matched && s->cfg->follow && t->npts && t->q.quality >= quality_min(s->cfg))
                t->misses = 0;
            else if (!t->matched && ++t->misses >= s->cfg->drop_after_misses) {
                remember_lost(s, &s->t[i], f->t);
                s->t[i] = s->t[--s->n];
                continue;
            }
            i++;
        }
        for (size_t d = 0; d < f->ndets; d++) {
            bool known = used[d]; /* a second box on a face already tracked starts nothing */
            for (int i = 0; i < s->n && !known; i++)
                known = on_tracked_face(&s->t[i], f->dets[d]);
            if (known)
                continue;
            if (!grin__grow((void **)&s->t, &s->cap, (size_t)s->n + 1, sizeof *s->t)) {
                free(used);
                return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
            }
            track *t = &s->t[s->n++];
            memset(t, 0, sizeof *t);
            t->box = f->dets[d];
            t->matched = t->det_box = true; /* a candidate: id 0 until its landmarks pass */
        }
        free(used);
        /* in video, each face lost moments ago is looked for where it would be now (the detector
         * may not find it again: it lost the face behind another, or the face is one it misses);
         * a candidate whose landmarks pass the gate there takes the lost id back */
        for (size_t k = 0; s->cfg->follow && k < s->nlost; k++) {
            const lost_track *l = &s->lost[k];
            double dt = f->t - l->t > 1.0 ? 1.0 : f->t - l->t;
            grin_rect b = l->box;
            b.x += (int)lrint(l->vx * dt), b.y += (int)lrint(l->vy * dt);
            bool known = false; /* a face tracked there, or a detection there, already */
            for (int i = 0; i < s->n && !known; i++)
                known = iou(s->t[i].box, b) > 0.3 || on_tracked_face(&s->t[i], b);
            if (known)
                continue;
            if (!grin__grow((void **)&s->t, &s->cap, (size_t)s->n + 1, sizeof *s->t))
                return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
            track *t = &s->t[s->n++];
            memset(t, 0, sizeof *t);
            t->box = b;
            t->revive = l->id;
            t->matched = t->det_box = true;
            t->vx = l->vx, t->vy = l->vy, t->have_v = l->vx != 0.0f || l->vy != 0.0f;
        }
    }
    /* 3. landmarks in every track's box, found again from the box they imply, and their quality;
     * a track whose face left the frame or collapsed ends; a candidate whose landmarks are not a
     * face's, or are those of a face already tracked, is dropped */
    for (int i = 0; i < s->n;) {
        track *t = &s->t[i];
        grin_rect b = t->box;
        bool inside = b.w >= 16 && b.h >= 16 && b.x + b.w > 0 && b.y + b.h > 0 && b.x < img->width &&
                      b.y < img->height && b.w < 4 * img->width;
        grin_error e2;
        grin_point2f first[GRIN__MAX_POINTS];
        if (!inside || grin_landmarks(s->cfg->lm, lmimg, b, first, (size_t)s->parts, &e2) != GRIN_OK) {
            remember_lost(s, t, f->t);
            s->t[i] = s->t[--s->n];
            continue;
        }
        t->npts = s->parts;
        grin_point2f again[GRIN__MAX_POINTS];
        memcpy(t->pts, first, sizeof(grin_point2f) * (size_t)s->parts);
        if (s->parts == 68 && grin_face_quality_of(s->cfg->lm, s->cfg->al, lmimg, first, 68, &t->q, again) == GRIN_OK) {
            /* from a detector's box (which may sit beside the face) the points found again from
             * the box they imply are the better ones; between detections the box comes from the
             * last points, and the first points are kept (starting again on every frame lets a
             * turned face's shape shrink a little each time) */
            if (t->det_box)
                memcpy(t->pts, again, sizeof again);
        } else { /* (a model with other points: no quality, every face decided) */
            t->q = (grin_face_quality){1.0f, 0.0f, 1.0f, -1.0f};
        }
        if (s->cfg->check && s->parts == 68) /* the face check's verdict replaces the score */
            grin__face_check(s->cfg->check, s->cfg->check_al, img, t->pts, t->box, &s->check_crop, &t->q.quality, &e2);
        if (!t->id) {
            bool known = t->q.quality < quality_min(s->cfg);
            for (int j = 0; j < s->n && !known; j++)
                if (s->t[j].id && j < i && same_shape(&s->t[j], t)) {
                    known = true;
                    s->t[j].matched = true, s->t[j].misses = 0;
                }
            if (known) {
                s->t[i] = s->t[--s->n];
                continue;
            }
        }
        if (t->det_box) { /* a detector box: relearn how it sits on the landmarks; coast from it */
            learn_rel(t);
            t->anchor = t->box, t->anchor_t = f->t;
        }
        track_motion(t, f->t, quality_min(s->cfg));
        i++;
    }
    /* the candidates that passed become tracks (after the tracks, so those are checked first) */
    for (int i = 0; i < s->n; i++) /* lost faces found again first: their ids are theirs */
        if (!s->t[i].id && s->t[i].revive)
            for (size_t k = 0; k < s->nlost; k++)
                if (s->lost[k].id == s->t[i].revive) {
                    s->t[i].id = s->t[i].revive;
                    s->lost[k] = s->lost[--s->nlost];
                    break;
                }
    for (int i = 0; i < s->n; i++)
        if (!s->t[i].id)
            s->t[i].id = id_for(s, s->t[i].box, f->t);
    /* 4. two tracks on one face (overlapping boxes or coinciding landmarks): one goes. When one
     * of them jumped here (a face passing behind another hands its track to the face in front)
     * the one that was already on this face stays; otherwise (a second box on one face) the
     * older */
    for (int i = 0; i < s->n; i++)
        for (int j = i + 1; j < s->n;) {
            if (iou(s->t[i].box, s->t[j].box) > 0.5 || same_shape(&s->t[i], &s->t[j])) {
                double si = s->t[i].prev.w ? iou(s->t[i].prev, s->t[i].box) : 0;
                double sj = s->t[j].prev.w ? iou(s->t[j].prev, s->t[j].box) : 0;
                int drop = s->t[i].id > s->t[j].id ? i : j;
                if (si < 0.5 && sj >= 0.5)
                    drop = i;
                else if (sj < 0.5 && si >= 0.5)
                    drop = j;
                /* the face whose track went here (behind the other) may come back: its id is
                 * held with its last good box, as for a track that ended */
                remember_lost(s, &s->t[drop], f->t);
                s->t[drop] = s->t[--s->n];
                if (drop == i)
                    break;
                continue;
            }
            j++;
        }
    /* 5. the faces of this frame, in id order, with their aligned crops */
    for (int i = 1; i < s->n; i++)
        for (int j = i; j > 0 && s->t[j - 1].id > s->t[j].id; j--) {
            track tmp = s->t[j];
            s->t[j] = s->t[j - 1];
            s->t[j - 1] = tmp;
        }
    for (int i = 0; i < s->n; i++) {
        track *t = &s->t[i];
        grin__face *face = grin__frame_add_face(f);
        if (!face)
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        face->id = t->id;
        face->box = t->box;
        face->npts = t->npts;
        face->quality = t->q.quality;
        face->decided = t->q.quality >= quality_min(s->cfg);
        memcpy(face->pts, t->pts, sizeof(grin_point2f) * (size_t)t->npts);
        grin_align_fit fit;
        memset(&fit, 0, sizeof fit);
        if (t->npts)
            grin_align_fit_points(s->cfg->al, t->pts, (size_t)t->npts, &fit);
        grin_image_free(&face->crop);
        grin_status st = grin_align_warp(s->cfg->al, s->cfg->rgb_crops ? &f->rgb : img, &fit, t->box, &face->crop,
                                         &face->aligned);
        if (st)
            return grin__fail(err, st, "frame %lld: alignment failed", (long long)f->index);
        if (face->aligned) /* what a classifier's landmark branch reads */
            grin_align_map_points(&fit, face->pts, (size_t)face->npts, face->crop_pts);
    }
    return GRIN_OK;
}

const grin__module grin__stage_landmarks = {"landmarks", 1, true, NULL, lm_init, lm_process, lm_destroy};

/* ---------------------------------------------------------------- classify */

typedef struct {
    const grin__classify_cfg *cfg;
    grin_image *crops;
    const grin_point2f **lm; /* each face's crop-coordinate landmarks, NULL where not aligned */
    float *p;
    size_t cap;
} cls_state;

static void *cls_init(const void *cfg, grin_error *err)
{
    cls_state *s = calloc(1, sizeof *s);
    if (!s)
        grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    else
        s->cfg = cfg;
    return s;
}

static grin_status cls_process(void *state, grin__frame *f, grin_error *err)
{
    cls_state *s = state;
    if (!f->nfaces)
        return GRIN_OK;
    if (f->nfaces > s->cap) {
        grin_image *c = realloc(s->crops, f->nfaces * sizeof *c);
        if (c)
            s->crops = c;
        float *p = realloc(s->p, f->nfaces * sizeof *p);
        if (p)
            s->p = p;
        const grin_point2f **lm = realloc(s->lm, f->nfaces * sizeof *lm);
        if (lm)
            s->lm = lm;
        if (!c || !p || !lm)
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        s->cap = f->nfaces;
    }
    size_t n = 0; /* the faces whose landmarks can be trusted get a decision */
    for (size_t i = 0; i < f->nfaces; i++) {
        f->faces[i].smile_raw = NAN;
        if (!f->faces[i].decided)
            continue;
        s->crops[n] = f->faces[i].crop;
        s->lm[n++] = f->faces[i].aligned && f->faces[i].npts == 68 ? f->faces[i].crop_pts : NULL;
    }
    if (!n)
        return GRIN_OK;
    grin_status st = grin_classify_faces(s->cfg->cls, s->crops, s->lm, n, s->p, err);
    if (st)
        return st;
    for (size_t i = 0, k = 0; i < f->nfaces; i++)
        if (f->faces[i].decided)
            f->faces[i].smile_raw = s->p[k++];
    return GRIN_OK;
}

static void cls_destroy(void *state)
{
    cls_state *s = state;
    free(s->crops);
    free(s->lm);
    free(s->p);
    free(s);
}

const grin__module grin__stage_classify = {"classify", 1, false, NULL, cls_init, cls_process, cls_destroy};

/* ---------------------------------------------------------------- smile: smoothing, events */

static void *smile_init(const void *cfg, grin_error *err)
{
    (void)err;
    return (void *)cfg; /* ordered, one worker: the configuration holds the state */
}

/* the open track with this id, or a new one (ids are not reused while a track is open) */
static grin__track_summary *summary_of(grin__smile_cfg *c, int id)
{
    for (size_t i = 0; i < c->nopen; i++)
        if (c->tracks[c->open[i]].id == id)
            return &c->tracks[c->open[i]];
    if (!grin__grow((void **)&c->tracks, &c->cap, c->ntracks + 1, sizeof *c->tracks) ||
        !grin__grow((void **)&c->open, &c->open_cap, c->nopen + 1, sizeof *c->open))
        return NULL;
    c->open[c->nopen++] = c->ntracks;
    grin__track_summary *t = &c->tracks[c->ntracks++];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->open = true;
    t->other_since = -1;
    return t;
}

static void smile_end(grin__track_summary *t, double when, grin__frame *f, FILE *out)
{
    double dur = when - t->smile_since;
    t->seconds_smiling += dur;
    t->smiling = false;
    if (f)
        grin__frame_event(f, "{\"event\":\"smile_end\",\"id\":%d,\"frame\":%lld,\"t\":%.3f,\"seconds\":%.3f}\n", t->id,
                          (long long)f->index, when, dur);
    else if (out)
        fprintf(out, "{\"event\":\"smile_end\",\"id\":%d,\"t\":%.3f,\"seconds\":%.3f,\"at_end\":true}\n", t->id, when,
                dur);
}

static grin_status smile_process(void *state, grin__frame *f, grin_error *err)
{
    grin__smile_cfg *c = state;
    for (size_t i = 0; i < f->nfaces; i++) {
        grin__face *face = &f->faces[i];
        grin__track_summary *t = summary_of(c, face->id);
        if (!t)
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        t->last_seen = f->t;
        if (!face->decided || !isfinite(face->smile_raw)) { /* no decision: the smile holds */
            face->smile = NAN;
            face->smiling = t->smiling;
            continue;
        }
        float raw = face->smile_raw;
        bool first = !t->seen;
        if (first) {
            t->seen = true;
            t->first_seen = f->t;
            t->smile = raw;
        } else {
            double dt = f->t - t->last_t;
            float a = (float)(1.0 - exp(-(dt > 0 ? dt : 0.04) / c->tau));
            t->smile += a * (raw - t->smile);
        }
        t->last_t = f->t;
        /* the state changes when the smoothed probability has stood past the other threshold for
         * the dwell time (a run of frames without a decision neither breaks nor makes it) */
        bool other = t->smiling ? t->smile < c->off : t->smile >= c->on;
        if (!other)
            t->other_since = -1;
        else if (t->other_since < 0)
            t->other_since = f->t;
        bool flip = other && (first || f->t - t->other_since >= c->dwell - 1e-9); /* (a face's first
                                                                                    * decision needs no wait) */
        if (flip)
            t->other_since = -1;
        if (!t->smiling && flip) {
            t->smiling = true;
            t->smile_since = f->t;
            t->smiles++;
            grin__frame_event(f, "{\"event\":\"smile_start\",\"id\":%d,\"frame\":%lld,\"t\":%.3f}\n", t->id,
                              (long long)f->index, f->t);
        } else if (t->smiling && flip) {
            smile_end(t, f->t, f, NULL);
        }
        face->smile = t->smile;
        face->smiling = t->smiling;
    }
    /* tracks that ended: not on this frame any more, and (video) not for the time the landmarks
     * stage holds a lost face's id, in case it comes back (in the order they began) */
    size_t kept = 0;
    for (size_t k = 0; k < c->nopen; k++) {
        grin__track_summary *t = &c->tracks[c->open[k]];
        bool here = f->t - t->last_seen <= c->hold && f->t >= t->last_seen;
        for (size_t i = 0; i < f->nfaces && !here; i++)
            here = f->faces[i].id == t->id;
        if (here) {
            c->open[kept++] = c->open[k];
            continue;
        }
        if (t->smiling)
            smile_end(t, t->last_seen, f, NULL);
        t->open = false;
        grin__frame_event(f, "{\"event\":\"track_end\",\"id\":%d,\"frame\":%lld,\"t\":%.3f,\"last_seen\":%.3f}\n",
                          t->id, (long long)f->index, f->t, t->last_seen);
    }
    c->nopen = kept;
    return GRIN_OK;
}

void grin__smile_finish(grin__smile_cfg *c, FILE *events)
{
    for (size_t k = 0; k < c->nopen; k++) {
        grin__track_summary *t = &c->tracks[c->open[k]];
        if (t->smiling)
            smile_end(t, t->last_seen, NULL, events);
        t->open = false;
    }
    c->nopen = 0;
}

void grin__smile_free(grin__smile_cfg *c)
{
    free(c->tracks);
    free(c->open);
    c->tracks = NULL;
    c->open = NULL;
    c->ntracks = c->cap = c->nopen = c->open_cap = 0;
}

const grin__module grin__stage_smile = {"smile", 1, true, NULL, smile_init, smile_process, NULL};

/* ---------------------------------------------------------------- annotation */

/* how large annotations are drawn: one step per 360 pixels of the frame's shorter side, so labels
 * stay legible when a 1080p or 4K video is watched at normal size */
int grin_draw_scale(const grin_image *img)
{
    if (!img)
        return 1;
    int side = img->width < img->height ? img->width : img->height;
    return side < 540 ? 1 : (side + 180) / 360;
}

static void draw_face(grin_image *img, const grin_track_face *face)
{
    bool decided = isfinite(face->smile);
    grin_rgb col = !decided ? (grin_rgb){160, 160, 160} : face->smiling ? (grin_rgb){40, 220, 60} : (grin_rgb){255, 170, 0};
    int scale = grin_draw_scale(img), th = 2 * scale;
    grin_draw_rect(img, face->box.x, face->box.y, face->box.w, face->box.h, th, col);
    char label[64];
    if (decided)
        snprintf(label, sizeof label, "#%d %s %.2f", face->id, face->smiling ? "smile" : "", face->smile);
    else /* landmarks not trusted: no decision */
        snprintf(label, sizeof label, "#%d ?", face->id);
    grin_rgb bg = {0, 0, 0};
    int ty = face->box.y - 10 * scale;
    grin_draw_text(img, face->box.x, ty < 0 ? face->box.y + face->box.h + 2 : ty, label, scale, col, &bg);
    /* the smile meter: a bar beside the box, filled in proportion */
    int mh = face->box.h, mx = face->box.x + face->box.w + 4 * scale, mw = 6 * scale;
    if (mx + mw >= img->width)
        mx = face->box.x - mw - 4 * scale;
    grin_draw_rect(img, mx, face->box.y, mw, mh, scale, (grin_rgb){200, 200, 200});
    float p = decided ? fminf(fmaxf(face->smile, 0.0f), 1.0f) : 0.0f;
    int fill = (int)lrintf(p * (float)(mh - 2 * scale));
    for (int k = 0; k < fill; k++)
        grin_draw_rect(img, mx + scale, face->box.y + mh - scale - k - 1, mw - 2 * scale, 1, 1, col);
}

void grin_draw_track_faces(grin_image *rgb, const grin_track_face *faces, size_t n)
{
    if (!rgb || !rgb->data || rgb->format != GRIN_PIX_RGB24 || (!faces && n))
        return;
    for (size_t i = 0; i < n; i++)
        draw_face(rgb, &faces[i]);
}

/* ---------------------------------------------------------------- the chain */

void grin__chain_wire(grin__chain *c)
{
    grin_classifier_info ci;
    grin_classifier_get_info(c->cls, &ci);
    c->dc = (grin__detect_cfg){c->cascade, c->detect, c->detect_width, c->profile, c->photos ? 0.0 : c->detect_edge};
    /* photos: a track that the next photo's detection does not confirm ends */
    c->lc = (grin__landmarks_cfg){c->lm,    c->al,      ci.channels == 3, c->photos ? 1 : 2, c->photos ? 0.0 : 2.0,
                                  c->check, c->check_al,    !c->photos};
    c->smile->hold = c->lc.hold_seconds;
    c->cc = (grin__classify_cfg){c->cls};
    const grin__module mods[5] = {grin__stage_detect, grin__stage_landmarks, grin__stage_classify, grin__stage_smile,
                                  c->last};
    const void *cfgs[5] = {&c->dc, &c->lc, &c->cc, c->smile, c->last_cfg};
    for (int i = 0; i < 5; i++) {
        c->stages[i] = mods[i];
        c->stages[i].cfg = cfgs[i];
    }
    c->stages[0].workers = c->detect_workers > 0 ? c->detect_workers : grin__online_cpus();
    c->stages[2].workers = c->classify_workers > 0 ? c->classify_workers : 1;
}
