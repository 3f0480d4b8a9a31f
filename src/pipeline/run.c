/* run.c — grin_run, the pipeline for embedding: the stages of `grin run` with a last module that
 * hands each frame, in order, to the caller's function. */
#include "stages.h"

#include <math.h>
#include <pthread.h>
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
    p->smile_on = p->smile_off = 0.5f;
    p->smile_dwell = 0.2;
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

/* What a run needs besides its source: the models, the chain of stages and its last module (the
 * caller's function). Shared by grin_run (a source grin opens) and grin_pipeline (frames pushed by
 * the caller). */
typedef struct {
    grin_classifier *cls, *check;
    grin_landmarker *lm;
    grin_cascade *cascade, *profile;
    grin_aligner *al, *check_al;
    grin__smile_cfg smile;
    callback_cfg cb;
    grin__chain chain;
} runner;

static void runner_close(runner *r)
{
    grin__smile_free(&r->smile);
    free(r->cb.faces);
    grin_aligner_free(r->al);
    grin_aligner_free(r->check_al);
    grin_classifier_free(r->cls);
    grin_classifier_free(r->check);
    grin_landmarker_free(r->lm);
    grin_cascade_free(r->cascade);
    grin_cascade_free(r->profile);
    memset(r, 0, sizeof *r);
}

/* the caller's parameters (NULL: the defaults) into *p, checked */
static grin_status take_params(const grin_run_params *pp, grin_run_params *p, const char *who, grin_error *err)
{
    if (pp)
        *p = *pp;
    else
        grin_run_params_default(p);
    if (p->detect_every < 1 || p->detect_workers < 0 || p->classify_workers < 0 || p->detect_workers > GRIN_MAX_THREADS ||
        p->classify_workers > GRIN_MAX_THREADS || !(p->detect_edge >= 0) || p->detect_edge > 0.5 ||
        !(p->folder_fps > 0) || p->detect_max_width < 0 || !(p->smile_off >= 0) || !(p->smile_on >= p->smile_off) ||
        p->smile_on > 1 || !(p->smile_dwell >= 0) || p->smile_dwell > 10)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "%s: bad parameters", who);
    return GRIN_OK;
}

/* loads the models and wires the chain; r is closed again on failure */
static grin_status runner_open(runner *r, const grin_run_params *p, bool photos,
                               int (*on_frame)(void *user, const grin_frame_info *f), void *user, grin_error *err)
{
    memset(r, 0, sizeof *r);
    grin_status st;
    char installed[4096];
    const char *model = p->model;
    if (!model) {
        if (grin_default_model_path(GRIN_SMILE_MODEL, installed, sizeof installed) != GRIN_OK)
            return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "the installed model's path is too long");
        model = installed;
    }
    if ((st = grin_classifier_load(model, &r->cls, err)) ||
        (st = grin_landmarker_load(p->landmarks ? p->landmarks : GRIN_DEFAULT_LANDMARK_MODEL, &r->lm, err)) ||
        (st = grin_cascade_load(p->cascade ? p->cascade : GRIN_DEFAULT_CASCADE, &r->cascade, err)) ||
        (p->profile_cascade && (st = grin_cascade_load(p->profile_cascade, &r->profile, err))))
        goto fail;
    if (p->int8 && grin_classifier_set_int8(r->cls, 1) != GRIN_OK) {
        st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: no 8-bit calibration (run grin quantize first)", model);
        goto fail;
    }
    if (p->no_landmark_branch)
        grin_classifier_set_landmark_branch(r->cls, 0);
    grin_classifier_info ci;
    grin_classifier_get_info(r->cls, &ci);
    if ((st = grin_aligner_create(r->lm, &ci.align, &r->al, err)))
        goto fail;
    /* the face check: the one asked for, else the installed one when it is there */
    char check_path[4096];
    const char *cp = p->face_check;
    if (!cp && !p->no_face_check &&
        grin_default_model_path(GRIN_FACE_CHECK_MODEL, check_path, sizeof check_path) == GRIN_OK &&
        access(check_path, R_OK) == 0)
        cp = check_path;
    if (cp && !p->no_face_check) {
        grin_classifier_info ki;
        if ((st = grin_classifier_load(cp, &r->check, err)))
            goto fail;
        grin_classifier_get_info(r->check, &ki);
        if ((st = grin_aligner_create(r->lm, &ki.align, &r->check_al, err)))
            goto fail;
    }
    r->smile = (grin__smile_cfg){.on = p->smile_on, .off = p->smile_off, .dwell = p->smile_dwell, .tau = GRIN__SMILE_TAU};
    r->cb = (callback_cfg){.fn = on_frame, .user = user};
    atomic_init(&r->cb.halt, 0);
    r->chain = (grin__chain){.cascade = r->cascade, .profile = r->profile, .detect = p->detect,
                             .detect_width = p->detect_max_width, .detect_edge = p->detect_edge, .lm = r->lm,
                             .al = r->al, .cls = r->cls, .check = r->check, .check_al = r->check_al,
                             .photos = photos, .detect_workers = p->detect_workers,
                             .classify_workers = p->classify_workers, .smile = &r->smile,
                             .last = stage_callback, .last_cfg = &r->cb};
    grin__chain_wire(&r->chain);
    return GRIN_OK;
fail:
    runner_close(r);
    return st;
}

static void fill_stats(grin_run_stats *stats, const grin__pipeline_stats *ps, const runner *r)
{
    if (!stats)
        return;
    stats->frames = ps->frames;
    stats->processed = ps->processed;
    stats->dropped = ps->dropped;
    stats->seconds = ps->seconds;
    stats->fps = ps->seconds > 0 ? (double)ps->processed / ps->seconds : 0;
    stats->latency_ms_p50 = ps->latency_ms_p50;
    stats->latency_ms_p99 = ps->latency_ms_p99;
    stats->tracks = (int)r->smile.ntracks;
}

typedef struct {
    grin__video_in *in;
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
    grin_status st = take_params(pp, &p, "grin_run", err);
    if (st)
        return st;
    grin__video_in *in = NULL;
    grin__video_in_opts vo = {.fps = p.folder_fps, .realtime = p.realtime == 1};
    if ((st = grin__video_open(input, &vo, &in, err)))
        return st;
    bool photos = p.photos || grin__video_is_folder(in);
    runner r;
    if ((st = runner_open(&r, &p, photos, on_frame, user, err))) {
        grin__video_close(in);
        return st;
    }
    src_ctx sc = {in};
    grin__pipeline_opts po = {.realtime = p.realtime < 0 ? grin__video_is_live(in) : p.realtime == 1,
                              .detect_every = photos ? 1 : p.detect_every,
                              .halt = &r.cb.halt};
    grin__pipeline_stats ps;
    st = grin__pipeline_run(r.chain.stages, 5, src_next, &sc, &po, &ps, err);
    if (!st && ps.source_status)
        st = grin__fail(err, ps.source_status, "%s", ps.source_error);
    fill_stats(stats, &ps, &r);
    if (stats)
        stats->errors = grin__video_skipped(in) + grin__video_errors(in, NULL, 0);
    runner_close(&r);
    grin__video_close(in);
    return st;
}

/* ---------------------------------------------------------------- frames pushed by the caller */

struct grin_pipeline {
    runner r;
    grin__pipeline_opts po;
    pthread_t thread;
    bool started, joined;
    pthread_mutex_t m;
    pthread_cond_t c;
    grin_image slot;      /* the frame handed over (RGB24), when `full` */
    double slot_t, last_t;
    bool full, closed, done;
    long long pushed;
    grin_status st;       /* the run's outcome, once done */
    grin_error err;
    grin__pipeline_stats ps;
    bool ended;           /* the smiles still open were closed, into end_events */
    char *end_events;
};

/* the pipeline's source: the frame the caller pushed (its pixels swapped in, no copy) */
static int push_src(void *ctx, grin__frame *f, grin_error *err)
{
    (void)err;
    grin_pipeline *pl = ctx;
    pthread_mutex_lock(&pl->m);
    while (!pl->full && !pl->closed)
        pthread_cond_wait(&pl->c, &pl->m);
    int got = 0;
    if (pl->full) {
        grin_image t = f->rgb; /* the frame's old buffer becomes the next slot */
        f->rgb = pl->slot;
        pl->slot = t;
        f->t = pl->slot_t;
        pl->full = false;
        got = 1;
        pthread_cond_broadcast(&pl->c);
    }
    pthread_mutex_unlock(&pl->m);
    return got;
}

static void *push_thread(void *arg)
{
    grin_pipeline *pl = arg;
    grin_error e = {{0}};
    grin_status st = grin__pipeline_run(pl->r.chain.stages, 5, push_src, pl, &pl->po, &pl->ps, &e);
    pthread_mutex_lock(&pl->m);
    pl->st = st;
    pl->err = e;
    pl->done = true;
    pthread_cond_broadcast(&pl->c);
    pthread_mutex_unlock(&pl->m);
    return NULL;
}

grin_status grin_pipeline_create(const grin_run_params *pp, int (*on_frame)(void *user, const grin_frame_info *f),
                                 void *user, grin_pipeline **out, grin_error *err)
{
    if (out)
        *out = NULL;
    if (!on_frame || !out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_pipeline_create: on_frame and out are required");
    grin_run_params p;
    grin_status st = take_params(pp, &p, "grin_pipeline_create", err);
    if (st)
        return st;
    grin_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    if ((st = runner_open(&pl->r, &p, p.photos != 0, on_frame, user, err))) {
        free(pl);
        return st;
    }
    pl->po = (grin__pipeline_opts){.realtime = p.realtime == 1, .detect_every = p.photos ? 1 : p.detect_every,
                                   .halt = &pl->r.cb.halt};
    pl->last_t = -INFINITY;
    pthread_mutex_init(&pl->m, NULL);
    pthread_cond_init(&pl->c, NULL);
    if (pthread_create(&pl->thread, NULL, push_thread, pl) != 0) {
        pthread_mutex_destroy(&pl->m);
        pthread_cond_destroy(&pl->c);
        runner_close(&pl->r);
        free(pl);
        return grin__fail(err, GRIN_ERR_INTERNAL, "grin_pipeline_create: cannot start the pipeline thread");
    }
    pl->started = true;
    *out = pl;
    return GRIN_OK;
}

grin_status grin_pipeline_push(grin_pipeline *pl, const grin_image *img, double t, grin_error *err)
{
    if (!pl || !img || !img->data || img->width <= 0 || img->height <= 0 || !grin_pixfmt_channels(img->format) ||
        img->stride < img->width * grin_pixfmt_channels(img->format))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_pipeline_push: missing or bad image");
    if (img->width > GRIN_MAX_IMAGE_SIDE || img->height > GRIN_MAX_IMAGE_SIDE)
        return grin__fail(err, GRIN_ERR_TOO_LARGE, "grin_pipeline_push: a %dx%d frame (at most %d a side)", img->width,
                          img->height, GRIN_MAX_IMAGE_SIDE);
    pthread_mutex_lock(&pl->m);
    grin_status st = GRIN_OK;
    while (pl->full && !pl->done)
        pthread_cond_wait(&pl->c, &pl->m);
    if (pl->closed) {
        st = grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_pipeline_push: the pipeline was finished");
    } else if (pl->done) { /* on_frame asked to stop, or a stage failed */
        st = pl->st ? grin__fail(err, pl->st, "%s", pl->err.msg)
                    : grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_pipeline_push: the pipeline has stopped "
                                                                 "(on_frame asked it to)");
    } else if (!(t > pl->last_t) || !isfinite(t)) {
        st = grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_pipeline_push: time %g s after %g s (times must increase)",
                        t, pl->last_t);
    } else {
        if (pl->slot.width != img->width || pl->slot.height != img->height || pl->slot.format != GRIN_PIX_RGB24) {
            grin_image_free(&pl->slot);
            st = grin_image_alloc(img->width, img->height, GRIN_PIX_RGB24, &pl->slot);
        }
        if (!st)
            st = grin__image_convert_into(img, &pl->slot);
        if (st) {
            grin__fail(err, st, "grin_pipeline_push: cannot take the %dx%d frame", img->width, img->height);
        } else {
            pl->slot_t = pl->last_t = t;
            pl->full = true;
            pl->pushed++;
            pthread_cond_broadcast(&pl->c);
        }
    }
    pthread_mutex_unlock(&pl->m);
    return st;
}

grin_status grin_pipeline_finish(grin_pipeline *pl, grin_run_stats *stats, grin_error *err)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!pl)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_pipeline_finish: no pipeline");
    pthread_mutex_lock(&pl->m);
    pl->closed = true;
    pthread_cond_broadcast(&pl->c);
    pthread_mutex_unlock(&pl->m);
    if (pl->started && !pl->joined) {
        pthread_join(pl->thread, NULL);
        pl->joined = true;
    }
    if (!pl->ended) { /* the smiles still open end with the run */
        pl->ended = true;
        size_t len = 0;
        FILE *m = open_memstream(&pl->end_events, &len);
        grin__smile_finish(&pl->r.smile, m);
        if (m)
            fclose(m);
    }
    fill_stats(stats, &pl->ps, &pl->r);
    return pl->st ? grin__fail(err, pl->st, "%s", pl->err.msg) : GRIN_OK;
}

void grin_pipeline_free(grin_pipeline *pl)
{
    if (!pl)
        return;
    grin_pipeline_finish(pl, NULL, NULL);
    pthread_mutex_destroy(&pl->m);
    pthread_cond_destroy(&pl->c);
    grin_image_free(&pl->slot);
    runner_close(&pl->r);
    free(pl->end_events);
    free(pl);
}

size_t grin_pipeline_tracks(const grin_pipeline *pl, grin_track_summary *out, size_t cap)
{
    if (!pl)
        return 0;
    const grin__smile_cfg *c = &pl->r.smile;
    for (size_t k = 0; k < c->ntracks && k < cap && out; k++) {
        const grin__track_summary *t = &c->tracks[k];
        out[k] = (grin_track_summary){t->id, t->first_seen, t->last_seen, t->seconds_smiling, t->smiles};
    }
    return c->ntracks;
}

const char *grin_pipeline_end_events(const grin_pipeline *pl)
{
    return pl && pl->end_events ? pl->end_events : "";
}
