/* run.c — grin_run, the pipeline for embedding: the stages of `grin run` with a last module that
 * hands each frame, in order, to the caller's function. */
#include "stages.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void grin_run_params_default(grin_run_params *p)
{
    memset(p, 0, sizeof *p);
    grin_detect_params_default(&p->detect);
    p->detect_every = 4;
    p->detect_max_width = 640;
    p->detect_edge = 0.05;
    p->classify_workers = 1;
    p->realtime = -1;
    p->folder_fps = 25;
}

typedef struct {
    int (*fn)(void *user, const grin_frame_info *f);
    void *user;
    atomic_int halt;
    grin_track_face *faces;
    size_t cap;
} callback_cfg;

static void *cb_init(const void *cfg, grin_error *err)
{
    (void)err;
    return (void *)cfg; /* ordered, one worker */
}

static grin_status cb_process(void *state, grin__frame *f, grin_error *err)
{
    callback_cfg *c = state;
    if (atomic_load(&c->halt))
        return GRIN_OK;
    if (f->nfaces > c->cap) {
        grin_track_face *t = realloc(c->faces, f->nfaces * sizeof *t);
        if (!t)
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        c->faces = t;
        c->cap = f->nfaces;
    }
    for (size_t i = 0; i < f->nfaces; i++) {
        const grin__face *s = &f->faces[i];
        c->faces[i] = (grin_track_face){s->id,        s->box,           s->decided ? s->smile : NAN,
                                        s->smile_raw, s->smiling,       s->aligned,
                                        s->quality};
    }
    grin_frame_info info = {f->index, f->t, grin__now_ms() - f->grabbed_ms, &f->rgb, c->faces, f->nfaces,
                            f->events ? f->events : ""};
    if (c->fn(c->user, &info))
        atomic_store(&c->halt, 1);
    return GRIN_OK;
}

static const grin__module stage_callback = {"callback", 1, true, NULL, cb_init, cb_process, NULL};

typedef struct {
    grin__video_in *in;
    grin_error *last;
} src_ctx;

static int src_next(void *ctx, grin__frame *f, grin_error *err)
{
    src_ctx *s = ctx;
    return grin__video_read(s->in, &f->rgb, &f->t, err);
}

grin_status grin_run(const char *input, const grin_run_params *pp, int (*on_frame)(void *user, const grin_frame_info *f),
                     void *user, grin_run_stats *stats, grin_error *err)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!input || !on_frame)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_run: input and on_frame are required");
    grin_run_params p;
    if (pp)
        p = *pp;
    else
        grin_run_params_default(&p);
    if (p.detect_every < 1 || p.detect_workers < 0 || p.classify_workers < 0 || p.detect_workers > GRIN_MAX_THREADS ||
        p.classify_workers > GRIN_MAX_THREADS)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_run: bad parameters");
    grin_classifier *cls = NULL;
    grin_landmarker *lm = NULL;
    grin_cascade *cascade = NULL, *profile = NULL;
    grin_aligner *al = NULL, *check_al = NULL;
    grin_classifier *check = NULL;
    grin__video_in *in = NULL;
    grin_status st = GRIN_OK;
    char installed[4096];
    const char *model = p.model;
    if (!model) {
        if (grin_default_model_path(GRIN_SMILE_MODEL, installed, sizeof installed) != GRIN_OK)
            return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_run: the installed model's path is too long");
        model = installed;
    }
    if ((st = grin_classifier_load(model, &cls, err)) || (st = grin_landmarker_load(p.landmarks ? p.landmarks
                                                                                                : GRIN_DEFAULT_LANDMARK_MODEL,
                                                                                     &lm, err)) ||
        (st = grin_cascade_load(p.cascade ? p.cascade : GRIN_DEFAULT_CASCADE, &cascade, err)) ||
        (p.profile_cascade && (st = grin_cascade_load(p.profile_cascade, &profile, err))))
        goto done;
    if (p.int8 && grin_classifier_set_int8(cls, 1) != GRIN_OK) {
        st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: no 8-bit calibration (run grin quantize first)", model);
        goto done;
    }
    if (p.no_landmark_branch)
        grin_classifier_set_landmark_branch(cls, 0);
    grin_classifier_info ci;
    grin_classifier_get_info(cls, &ci);
    if ((st = grin_aligner_create(lm, &ci.align, &al, err)))
        goto done;
    /* the face check: the one asked for, else the installed one when it is there */
    char check_path[4096];
    const char *cp = p.face_check;
    if (!cp && !p.no_face_check && grin_default_model_path(GRIN_FACE_CHECK_MODEL, check_path, sizeof check_path) == GRIN_OK &&
        access(check_path, R_OK) == 0)
        cp = check_path;
    if (cp && !p.no_face_check) {
        grin_classifier_info ki;
        if ((st = grin_classifier_load(cp, &check, err)))
            goto done;
        grin_classifier_get_info(check, &ki);
        if ((st = grin_aligner_create(lm, &ki.align, &check_al, err)))
            goto done;
    }
    grin__video_in_opts vo = {.fps = p.folder_fps, .realtime = p.realtime == 1};
    if ((st = grin__video_open(input, &vo, &in, err)))
        goto done;
    bool photos = grin__video_is_folder(in);
    grin__smile_cfg smile = {.on = 0.6f, .off = 0.4f, .tau = 0.2};
    callback_cfg cb = {.fn = on_frame, .user = user};
    atomic_init(&cb.halt, 0);
    grin__chain chain = {.cascade = cascade, .profile = profile, .detect = p.detect, .detect_width = p.detect_max_width, .detect_edge = p.detect_edge, .lm = lm,
                         .al = al, .cls = cls, .check = check, .check_al = check_al, .photos = photos, .detect_workers = p.detect_workers,
                         .classify_workers = p.classify_workers, .smile = &smile, .last = stage_callback,
                         .last_cfg = &cb};
    grin__chain_wire(&chain);
    src_ctx sc = {in, err};
    grin__pipeline_opts po = {.realtime = p.realtime < 0 ? grin__video_is_live(in) : p.realtime == 1,
                              .detect_every = photos ? 1 : p.detect_every,
                              .halt = &cb.halt};
    grin__pipeline_stats ps;
    st = grin__pipeline_run(chain.stages, 5, src_next, &sc, &po, &ps, err);
    if (!st && ps.source_status)
        st = grin__fail(err, ps.source_status, "%s", ps.source_error);
    if (stats) {
        stats->frames = ps.frames;
        stats->processed = ps.processed;
        stats->dropped = ps.dropped;
        stats->seconds = ps.seconds;
        stats->fps = ps.seconds > 0 ? (double)ps.processed / ps.seconds : 0;
        stats->latency_ms_p50 = ps.latency_ms_p50;
        stats->latency_ms_p99 = ps.latency_ms_p99;
        stats->tracks = (int)smile.ntracks;
    }
    grin__smile_free(&smile);
    free(cb.faces);
done:
    grin__video_close(in);
    grin_aligner_free(al);
    grin_aligner_free(check_al);
    grin_classifier_free(cls);
    grin_classifier_free(check);
    grin_landmarker_free(lm);
    grin_cascade_free(cascade);
    grin_cascade_free(profile);
    return st;
}
