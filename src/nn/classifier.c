/* classifier.c — the public face of a trained smile classifier: load, describe, classify
 * aligned crops (converted to the model's channels and normalisation here, so a caller can't
 * prepare them differently). */
#include "model_io.h"

#include "infer.h"

#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct grin_classifier {
    grin__model m;
    grin__nn_plan plan;
    bool have_plan;
    bool can_int8; /* calibrated: grin_classifier_set_int8 may switch the plan to 8 bits */
    grin__post post; /* what the model's output goes through: the model's, or none (raw) */
    bool raw, no_branch;
    bool fixed; /* loaded with grin_classifier_load_with: its options can't change */
    grin__pool *pool;
    int threads;
    pthread_mutex_t lock;      /* guards the free scratch list */
    pthread_mutex_t pool_lock; /* one caller at a time on the pool */
    grin__nn_scratch **free_scratch;
    int nfree, capfree;
};

grin_status grin_classifier_load(const char *path, grin_classifier **out, grin_error *err)
{
    if (!path || !out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    *out = NULL;
    grin_classifier *c = calloc(1, sizeof *c);
    if (!c)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    grin_status st = grin__model_load(path, &c->m, err);
    if (st) {
        free(c);
        return st;
    }
    st = grin__nn_plan_build(&c->m.net, c->m.net.state, &c->plan, NULL);
    if (st == GRIN_ERR_NO_MEMORY) {
        grin__model_free(&c->m);
        free(c);
        return grin__fail(err, st, "out of memory");
    }
    c->have_plan = st == GRIN_OK; /* else the training engine's forward pass runs it */
    if (c->have_plan && strstr(c->m.meta, "int8_act_max=")) {
        grin_error qerr;
        st = grin__nn_plan_apply_calibration(&c->plan, c->m.meta, &qerr);
        if (st) {
            grin_classifier_free(c);
            return grin__fail(err, st, "%s: %s", path, qerr.msg);
        }
        c->can_int8 = true;
        c->plan.int8 = false; /* float unless asked */
    }
    c->threads = 1;
    c->post = c->m.post;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    *out = c;
    return GRIN_OK;
}

void grin_classifier_free(grin_classifier *c)
{
    if (!c)
        return;
    grin__pool_free(c->pool);
    for (int i = 0; i < c->nfree; i++) {
        grin__nn_scratch_free(c->free_scratch[i]);
        free(c->free_scratch[i]);
    }
    free(c->free_scratch);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->pool_lock);
    if (c->have_plan)
        grin__nn_plan_free(&c->plan);
    grin__model_free(&c->m);
    free(c);
}

grin_status grin_classifier_set_threads(grin_classifier *c, int threads)
{
    if (!c || c->fixed || threads < 0 || threads > GRIN_MAX_THREADS)
        return GRIN_ERR_INVALID_ARGUMENT;
    if (threads == 0)
        threads = grin__online_cpus();
    grin__pool_free(c->pool);
    c->pool = NULL;
    c->threads = 1;
    if (threads > 1) {
        c->pool = grin__pool_create(threads);
        if (!c->pool)
            return GRIN_ERR_NO_MEMORY;
        c->threads = threads;
    }
    return GRIN_OK;
}

grin_status grin_classifier_set_int8(grin_classifier *c, int on)
{
    if (!c || c->fixed)
        return GRIN_ERR_INVALID_ARGUMENT;
    if (on && !c->can_int8)
        return GRIN_ERR_UNSUPPORTED;
    c->plan.int8 = on != 0;
    return GRIN_OK;
}

/* the post-processing the raw and landmark-branch switches leave */
static void set_post(grin_classifier *c)
{
    if (c->raw)
        memset(&c->post, 0, sizeof c->post);
    else
        c->post = c->m.post;
    if (c->no_branch)
        c->post.fuse = false;
}

grin_status grin_classifier_set_raw(grin_classifier *c, int raw)
{
    if (!c || c->fixed)
        return GRIN_ERR_INVALID_ARGUMENT;
    c->raw = raw != 0;
    set_post(c);
    return GRIN_OK;
}

grin_status grin_classifier_set_landmark_branch(grin_classifier *c, int on)
{
    if (!c || c->fixed)
        return GRIN_ERR_INVALID_ARGUMENT;
    c->no_branch = !on;
    set_post(c);
    return GRIN_OK;
}

void grin_classifier_get_info(const grin_classifier *c, grin_classifier_info *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    out->input = c->m.input;
    out->channels = c->m.channels;
    out->alpha = c->m.alpha;
    out->parameters = c->m.net.nparams;
    out->multiply_adds = grin__nn_macs(&c->m.net);
    out->align = c->m.align;
    out->metadata = c->m.meta;
    out->int8_available = c->can_int8;
    out->int8 = c->plan.int8;
    out->mirrored = c->post.flip;
    out->landmark_points = c->m.lm.count;
    out->fused = c->post.fuse;
}

static grin__nn_scratch *take_scratch(grin_classifier *c)
{
    grin__nn_scratch *s = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->nfree > 0)
        s = c->free_scratch[--c->nfree];
    pthread_mutex_unlock(&c->lock);
    return s ? s : calloc(1, sizeof *s);
}

static void give_scratch(grin_classifier *c, grin__nn_scratch *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&c->lock);
    if (c->nfree == c->capfree) {
        int cap = c->capfree ? 2 * c->capfree : 4;
        grin__nn_scratch **p = realloc(c->free_scratch, (size_t)cap * sizeof *p);
        if (p) {
            c->free_scratch = p;
            c->capfree = cap;
        }
    }
    if (c->nfree < c->capfree) {
        c->free_scratch[c->nfree++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (s) {
        grin__nn_scratch_free(s);
        free(s);
    }
}

/* one crop as the model's channels, u8 (grey as grin converts: BT.601 in 15-bit fixed point) */
static void prepare_u8(const grin_classifier *c, const grin_image *im, uint8_t *dst)
{
    const int S = c->m.input, C = c->m.channels;
    int ch = grin_pixfmt_channels(im->format);
    for (int y = 0; y < S; y++) {
        const uint8_t *row = im->data + (size_t)y * im->stride;
        uint8_t *d = dst + (size_t)y * S * C;
        if (ch == C && im->format != GRIN_PIX_BGR24) { /* same layout */
            memcpy(d, row, (size_t)S * C);
            continue;
        }
        for (int xx = 0; xx < S; xx++, d += C) {
            const uint8_t *p = row + (size_t)xx * ch;
            for (int cc = 0; cc < C; cc++) {
                if (ch == 1)
                    d[cc] = p[0];
                else if (C == 1)
                    d[cc] = (uint8_t)(im->format == GRIN_PIX_RGB24
                                          ? (p[0] * 9798 + p[1] * 19235 + p[2] * 3735 + 16384) >> 15
                                          : (p[2] * 9798 + p[1] * 19235 + p[0] * 3735 + 16384) >> 15);
                else
                    d[cc] = im->format == GRIN_PIX_BGR24 ? p[2 - cc] : p[cc];
            }
        }
    }
}

/* ... and in the model's normalisation */
static void to_input(const uint8_t *u, size_t n, float *dst)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)u[i] * (1.0f / 127.5f) - 1.0f;
}

typedef struct {
    grin_classifier *c;
    const grin_image *crops;
    const grin_point2f *const *lm; /* may be NULL */
    float *probs;
    size_t n;
    grin__nn_scratch **scratch; /* one per thread */
    float **x;
    grin_status *st;
    grin__pool *intra;          /* one crop: its larger layers split over these threads */
} run_ctx;

/* the reported probability from the network's outputs and, when the model fuses them, the
 * landmark branch's on the face's landmarks */
static float face_prob(const grin_classifier *c, const grin_point2f *pts, float p, float pm)
{
    const grin__post *post = &c->post;
    for (int q = 0; pts && q < 68; q++) /* landmarks that are not numbers: the crop alone */
        if (!isfinite(pts[q].x) || !isfinite(pts[q].y))
            pts = NULL;
    if (!post->fuse || !pts)
        return grin__post_apply(post, p, pm);
    float r, rm;
    grin__lm_outputs(&c->m.lm, c->m.input, pts, post->flip, &r, &rm);
    return grin__post_apply_lm(post, p, pm, r, rm);
}

static void run_one(void *vctx, int task, int thread)
{
    run_ctx *r = vctx;
    size_t i = (size_t)task;
    if (i >= r->n || r->st[thread])
        return;
    const grin_classifier *c = r->c;
    const grin__post *post = &c->post;
    const int S = c->m.input, C = c->m.channels;
    const size_t per = (size_t)S * S * C;
    float *x = r->x[thread], p = 0, pm = 0;
    uint8_t *u = (uint8_t *)(x + 2 * per), *um = u + per; /* the crop's bytes and their mirror */
    prepare_u8(c, &r->crops[i], u);
    if (post->flip)
        grin__mirror_pixels(u, um, S, (size_t)C);
    grin__nn_scratch *sc = r->scratch[thread];
    if (c->plan.int8) { /* the 8-bit plan reads the bytes */
        r->st[thread] = grin__nn_plan_run_u8(&c->plan, sc, u, &p, r->intra);
        if (post->flip && !r->st[thread])
            r->st[thread] = grin__nn_plan_run_u8(&c->plan, sc, um, &pm, r->intra);
    } else {
        to_input(u, per, x);
        r->st[thread] = grin__nn_plan_run(&c->plan, sc, x, &p, r->intra);
        if (post->flip && !r->st[thread]) {
            to_input(um, per, x + per);
            r->st[thread] = grin__nn_plan_run(&c->plan, sc, x + per, &pm, r->intra);
        }
    }
    r->probs[i] = face_prob(c, r->lm ? r->lm[i] : NULL, p, pm);
}

/* the training engine's batched forward pass: for graphs the plan can't run */
static grin_status classify_generic(grin_classifier *c, const grin_image *crops,
                                    const grin_point2f *const *lm, size_t n, float *probs, grin_error *err)
{
    const size_t per = (size_t)c->m.input * c->m.input * c->m.channels, B = 32;
    float *x = malloc(per * (B + 1) * sizeof *x);
    uint8_t *u = malloc(per);
    if (!x || !u) {
        free(x);
        free(u);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    grin__nn_ws ws = {0};
    grin_status st = GRIN_OK;
    for (size_t i = 0; i < n && !st; i += B) {
        size_t b = n - i < B ? n - i : B;
        for (size_t k = 0; k < b; k++) {
            prepare_u8(c, &crops[i + k], u);
            to_input(u, per, x + k * per);
        }
        const float *out;
        st = grin__nn_forward(&c->m.net, &ws, x, (int)b, false, &out);
        if (st) {
            grin__fail(err, st, "inference failed");
            break;
        }
        memcpy(probs + i, out, b * sizeof *probs);
        if (c->post.flip) { /* the mirror images, same batch size */
            for (size_t k = 0; k < b; k++) {
                memcpy(x + b * per, x + k * per, per * sizeof *x);
                grin__mirror_input(x + b * per, x + k * per, c->m.input, c->m.channels);
            }
            st = grin__nn_forward(&c->m.net, &ws, x, (int)b, false, &out);
            if (st) {
                grin__fail(err, st, "inference failed");
                break;
            }
        }
        for (size_t k = 0; k < b; k++)
            probs[i + k] = face_prob(c, lm ? lm[i + k] : NULL, probs[i + k], c->post.flip ? out[k] : 0);
    }
    grin__nn_ws_free(&ws);
    free(x);
    free(u);
    return st;
}

grin_status grin_classify_crops(const grin_classifier *c, const grin_image *crops, size_t n,
                                float *probs, grin_error *err)
{
    return grin_classify_faces(c, crops, NULL, n, probs, err);
}

static grin_status check_crops(const grin_classifier *c, const grin_image *crops, size_t n, const float *probs,
                               grin_error *err)
{
    if (!c || (!crops && n) || (!probs && n))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    const int S = c->m.input;
    for (size_t i = 0; i < n; i++) {
        const grin_image *im = &crops[i];
        int ch = grin_pixfmt_channels(im->format);
        if (!im->data || im->width != S || im->height != S || ch == 0 || im->stride < S * ch)
            return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "crop %zu is %dx%d, the model takes %dx%d", i,
                              im->width, im->height, S, S);
    }
    return GRIN_OK;
}

/* n crops on T sets of buffers: over the pool when T > 1, else on this thread (one crop's layers
 * over the pool when there is one) */
static grin_status run_crops(const grin_classifier *c, grin__pool *pool, int T, grin__nn_scratch **scratch, float **x,
                             const grin_image *crops, const grin_point2f *const *landmarks, size_t n, float *probs)
{
    grin_status st[64] = {0};
    run_ctx r = {(grin_classifier *)c, crops, landmarks, probs, n, scratch, x, st, NULL};
    if (T > 1) { /* crops in parallel */
        grin__pool_run(pool, run_one, &r, (int)n);
    } else {
        r.intra = n == 1 ? pool : NULL; /* one crop: its layers in parallel */
        for (size_t i = 0; i < n; i++)
            run_one(&r, (int)i, 0);
    }
    for (int t = 0; t < T; t++)
        if (st[t])
            return st[t];
    return GRIN_OK;
}

grin_status grin_classify_faces(const grin_classifier *cc, const grin_image *crops,
                                const grin_point2f *const *landmarks, size_t n, float *probs, grin_error *err)
{
    grin_classifier *c = (grin_classifier *)cc; /* only the scratch list changes, under its lock */
    grin_status cs = check_crops(c, crops, n, probs, err);
    if (cs)
        return cs;
    if (n == 0)
        return GRIN_OK;
    const int S = c->m.input;
    if (!c->have_plan || grin__nn_force_reference)
        return classify_generic(c, crops, landmarks, n, probs, err);
    int T = c->pool && n > 1 ? c->threads : 1; /* the pool may hand a task to any of its threads */
    grin__nn_scratch *scratch[64];
    float *x[64];
    if (T > 64)
        T = 64;
    const size_t per = (size_t)S * S * c->m.channels;
    int got = 0;
    grin_status res = GRIN_OK;
    for (; got < T; got++) {
        scratch[got] = take_scratch(c);
        /* floats of the crop and its mirror, then their bytes */
        x[got] = scratch[got] ? malloc(2 * per * sizeof(float) + 2 * per) : NULL;
        if (!x[got]) {
            give_scratch(c, scratch[got]);
            res = GRIN_ERR_NO_MEMORY;
            break;
        }
    }
    if (!res) {
        if (c->pool) /* one call at a time on the pool */
            pthread_mutex_lock(&c->pool_lock);
        res = run_crops(c, c->pool, T, scratch, x, crops, landmarks, n, probs);
        if (c->pool)
            pthread_mutex_unlock(&c->pool_lock);
    }
    for (int t = 0; t < got; t++) {
        free(x[t]);
        give_scratch(c, scratch[t]);
    }
    if (res)
        return grin__fail(err, res, res == GRIN_ERR_NO_MEMORY ? "out of memory" : "inference failed");
    return GRIN_OK;
}

/* ---------------------------------------------------------------- options fixed at load, contexts */

void grin_classifier_options_default(grin_classifier_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->landmark_branch = 1;
}

grin_status grin_classifier_load_with(const char *path, const grin_classifier_options *o, grin_classifier **out,
                                      grin_error *err)
{
    grin_classifier_options d;
    grin_classifier_options_default(&d);
    if (!o)
        o = &d;
    grin_classifier *c;
    grin_status st = grin_classifier_load(path, &c, err);
    if (st)
        return st;
    if (o->int8 && grin_classifier_set_int8(c, 1) != GRIN_OK) {
        grin_classifier_free(c);
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: no 8-bit calibration (grin quantize makes one)", path);
    }
    grin_classifier_set_raw(c, o->raw);
    grin_classifier_set_landmark_branch(c, o->landmark_branch);
    c->fixed = true;
    *out = c;
    return GRIN_OK;
}

struct grin_classifier_context {
    const grin_classifier *c;
    grin__pool *pool;
    int threads;
    grin__nn_scratch scratch[64];
    grin__nn_scratch *sp[64];
    float *x[64];
};

grin_status grin_classifier_context_create(const grin_classifier *c, int threads, grin_classifier_context **out)
{
    if (!c || !out || threads < 0 || threads > GRIN_MAX_THREADS)
        return GRIN_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (threads == 0)
        threads = grin__online_cpus();
    if (threads > 64)
        threads = 64;
    grin_classifier_context *x = calloc(1, sizeof *x);
    if (!x)
        return GRIN_ERR_NO_MEMORY;
    x->c = c;
    x->threads = threads;
    const size_t per = (size_t)c->m.input * c->m.input * c->m.channels;
    for (int t = 0; t < threads; t++) {
        x->sp[t] = &x->scratch[t];
        if (!(x->x[t] = malloc(2 * per * sizeof(float) + 2 * per))) {
            grin_classifier_context_free(x);
            return GRIN_ERR_NO_MEMORY;
        }
    }
    if (threads > 1 && !(x->pool = grin__pool_create(threads))) {
        grin_classifier_context_free(x);
        return GRIN_ERR_NO_MEMORY;
    }
    *out = x;
    return GRIN_OK;
}

void grin_classifier_context_free(grin_classifier_context *x)
{
    if (!x)
        return;
    grin__pool_free(x->pool);
    for (int t = 0; t < 64; t++) {
        grin__nn_scratch_free(&x->scratch[t]);
        free(x->x[t]);
    }
    free(x);
}

grin_status grin_classify(grin_classifier_context *x, const grin_image *crops, const grin_point2f *const *landmarks,
                          size_t n, float *probs, grin_error *err)
{
    if (!x)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_classify: no context");
    const grin_classifier *c = x->c;
    grin_status st = check_crops(c, crops, n, probs, err);
    if (st || n == 0)
        return st;
    if (!c->have_plan || grin__nn_force_reference)
        return classify_generic((grin_classifier *)c, crops, landmarks, n, probs, err);
    int T = x->pool && n > 1 ? x->threads : 1;
    st = run_crops(c, x->pool, T, x->sp, x->x, crops, landmarks, n, probs);
    return st ? grin__fail(err, st, st == GRIN_ERR_NO_MEMORY ? "out of memory" : "inference failed") : GRIN_OK;
}
