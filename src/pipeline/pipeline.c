/* pipeline.c — the stage runner: a pool of frames, one queue per stage, persistent workers.
 * Stage 0's queue is where the realtime policy drops stale frames; a frame gets its sequence
 * number when stage 0 takes it, and ordered stages take frames strictly by that number. */
#include "pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double grin__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void grin__frame_event(grin__frame *f, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    if (f->nev + (size_t)n + 1 > f->capev) {
        size_t cap = f->capev ? 2 * f->capev : 1024;
        while (cap < f->nev + (size_t)n + 1)
            cap *= 2;
        char *e = realloc(f->events, cap);
        if (!e)
            return;
        f->events = e;
        f->capev = cap;
    }
    memcpy(f->events + f->nev, line, (size_t)n);
    f->nev += (size_t)n;
    f->events[f->nev] = '\0';
}

grin__face *grin__frame_add_face(grin__frame *f)
{
    if (f->nfaces == f->capfaces) {
        size_t cap = f->capfaces ? 2 * f->capfaces : 8;
        grin__face *p = realloc(f->faces, cap * sizeof *p);
        if (!p)
            return NULL;
        memset(p + f->capfaces, 0, (cap - f->capfaces) * sizeof *p); /* crops start empty */
        f->faces = p;
        f->capfaces = cap;
    }
    grin__face *face = &f->faces[f->nfaces++];
    grin_image crop = face->crop; /* keep the crop buffer for reuse */
    memset(face, 0, sizeof *face);
    face->crop = crop;
    return face;
}

static void frame_reset(grin__frame *f)
{
    f->ndets = 0;
    f->nfaces = 0;
    f->nev = 0;
    if (f->events)
        f->events[0] = '\0';
    f->detect = false;
}

static void frame_free(grin__frame *f)
{
    grin_image_free(&f->rgb);
    grin_image_free(&f->gray);
    free(f->dets);
    for (size_t i = 0; i < f->capfaces; i++)
        grin_image_free(&f->faces[i].crop);
    free(f->faces);
    free(f->events);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct run run;

typedef struct {
    const grin__module *def;
    run *r;
    int index;
    pthread_mutex_t m;
    pthread_cond_t c;
    grin__frame **q;
    int n, cap;
    bool closed;
    int alive;
    int64_t next_seq; /* ordered: the next frame it may take; stage 0: the next number to give */
    void **states;
    pthread_t *threads;
    int started;
} stage_rt;

struct run {
    stage_rt *st;
    int nst;
    /* frame pool */
    grin__frame *frames;
    int nframes;
    grin__frame **free_;
    int nfree;
    pthread_mutex_t pm;
    pthread_cond_t pc;
    /* outcome */
    pthread_mutex_t em;
    grin_status err_st;
    char err_msg[256];
    atomic_int failed;
    double *lat;
    int64_t nlat, caplat;
};

static void pool_put(run *r, grin__frame *f)
{
    pthread_mutex_lock(&r->pm);
    r->free_[r->nfree++] = f;
    pthread_cond_signal(&r->pc);
    pthread_mutex_unlock(&r->pm);
}

static grin__frame *pool_get(run *r)
{
    pthread_mutex_lock(&r->pm);
    while (r->nfree == 0)
        pthread_cond_wait(&r->pc, &r->pm);
    grin__frame *f = r->free_[--r->nfree];
    pthread_mutex_unlock(&r->pm);
    return f;
}

static void push(stage_rt *s, grin__frame *f)
{
    pthread_mutex_lock(&s->m);
    s->q[s->n++] = f; /* capacity is the pool size: never full */
    pthread_cond_broadcast(&s->c);
    pthread_mutex_unlock(&s->m);
}

static void close_stage(stage_rt *s)
{
    pthread_mutex_lock(&s->m);
    s->closed = true;
    pthread_cond_broadcast(&s->c);
    pthread_mutex_unlock(&s->m);
}

typedef struct {
    stage_rt *s;
    int worker;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    stage_rt *s = wa->s;
    run *r = s->r;
    void *state = s->states[wa->worker];
    for (;;) {
        grin__frame *f = NULL;
        pthread_mutex_lock(&s->m);
        for (;;) {
            int pick = -1;
            if (s->def->ordered) {
                for (int i = 0; i < s->n; i++)
                    if (s->q[i]->seq == s->next_seq) {
                        pick = i;
                        break;
                    }
            } else if (s->n > 0) {
                pick = 0;
            }
            if (pick >= 0) {
                f = s->q[pick];
                memmove(s->q + pick, s->q + pick + 1, (size_t)(s->n - pick - 1) * sizeof *s->q);
                s->n--;
                if (s->index == 0)
                    f->seq = s->next_seq++;
                else if (s->def->ordered)
                    s->next_seq++;
                break;
            }
            if (s->closed && s->n == 0)
                break;
            pthread_cond_wait(&s->c, &s->m);
        }
        pthread_mutex_unlock(&s->m);
        if (!f)
            break;
        if (!r->failed) {
            grin_error err = {{0}};
            grin_status st = s->def->process(state, f, &err);
            if (st) {
                pthread_mutex_lock(&r->em);
                if (!r->err_st) {
                    r->err_st = st;
                    snprintf(r->err_msg, sizeof r->err_msg, "%s: %.200s", s->def->name, err.msg[0] ? err.msg : grin_status_str(st));
                }
                r->failed = 1;
                pthread_mutex_unlock(&r->em);
            }
        }
        if (s->index + 1 < r->nst) {
            push(&r->st[s->index + 1], f);
        } else {
            pthread_mutex_lock(&r->em);
            if (r->nlat == r->caplat) {
                int64_t cap = r->caplat ? 2 * r->caplat : 4096;
                double *l = realloc(r->lat, (size_t)cap * sizeof *l);
                if (l)
                    r->lat = l, r->caplat = cap;
            }
            if (r->nlat < r->caplat)
                r->lat[r->nlat++] = grin__now_ms() - f->grabbed_ms;
            pthread_mutex_unlock(&r->em);
            pool_put(r, f);
        }
    }
    pthread_mutex_lock(&s->m);
    bool last = --s->alive == 0;
    pthread_mutex_unlock(&s->m);
    if (last && s->index + 1 < r->nst)
        close_stage(&r->st[s->index + 1]);
    return NULL;
}

grin_status grin__pipeline_run(const grin__module *stages, int nstages, grin__source_fn source, void *src_ctx,
                               const grin__pipeline_opts *o, grin__pipeline_stats *stats, grin_error *err)
{
    memset(stats, 0, sizeof *stats);
    if (nstages < 1)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "no stages");
    run r;
    memset(&r, 0, sizeof r);
    r.nst = nstages;
    int workers = 0;
    for (int i = 0; i < nstages; i++)
        workers += stages[i].ordered ? 1 : (stages[i].workers > 0 ? stages[i].workers : 1);
    r.nframes = (o->in_flight > 0 ? o->in_flight : 2 * workers + 2) + 1; /* +1: the grabber's */
    r.frames = calloc((size_t)r.nframes, sizeof *r.frames);
    r.free_ = calloc((size_t)r.nframes, sizeof *r.free_);
    r.st = calloc((size_t)nstages, sizeof *r.st);
    if (!r.frames || !r.free_ || !r.st) {
        free(r.frames), free(r.free_), free(r.st);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    pthread_mutex_init(&r.pm, NULL);
    pthread_cond_init(&r.pc, NULL);
    pthread_mutex_init(&r.em, NULL);
    for (int i = 0; i < r.nframes; i++)
        r.free_[r.nfree++] = &r.frames[i];
    grin_status st = GRIN_OK;
    int inited = 0;
    for (int i = 0; i < nstages && !st; i++, inited++) {
        stage_rt *s = &r.st[i];
        s->def = &stages[i];
        s->r = &r;
        s->index = i;
        pthread_mutex_init(&s->m, NULL);
        pthread_cond_init(&s->c, NULL);
        s->cap = r.nframes;
        s->q = calloc((size_t)s->cap, sizeof *s->q);
        int nw = s->def->ordered ? 1 : (s->def->workers > 0 ? s->def->workers : 1);
        s->states = calloc((size_t)nw, sizeof *s->states);
        s->threads = calloc((size_t)nw, sizeof *s->threads);
        if (!s->q || !s->states || !s->threads) {
            st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
            break;
        }
        for (int w = 0; w < nw && !st; w++) {
            grin_error e2 = {{0}};
            s->states[w] = s->def->init ? s->def->init(s->def->cfg, &e2) : NULL;
            if (s->def->init && !s->states[w])
                st = grin__fail(err, GRIN_ERR_INTERNAL, "%s: %s", s->def->name, e2.msg[0] ? e2.msg : "cannot start");
        }
        s->alive = nw;
    }
    worker_arg *args = NULL;
    int nargs = 0;
    if (!st) {
        args = calloc((size_t)workers, sizeof *args);
        if (!args)
            st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    for (int i = 0; i < nstages && !st; i++) {
        stage_rt *s = &r.st[i];
        for (int w = 0; w < s->alive; w++) {
            args[nargs] = (worker_arg){s, w};
            if (pthread_create(&s->threads[w], NULL, worker, &args[nargs]) != 0) {
                st = grin__fail(err, GRIN_ERR_INTERNAL, "cannot start threads");
                break;
            }
            nargs++;
            s->started++;
        }
    }
    double t0 = grin__now_ms();
    if (!st) {
        /* the grabber */
        stage_rt *s0 = &r.st[0];
        grin__frame *spare = pool_get(&r);
        int64_t index = 0;
        for (;;) {
            if ((o->stop && *o->stop) || (o->halt && atomic_load(o->halt)) || r.failed)
                break;
            frame_reset(spare);
            grin_error e2 = {{0}};
            int got = source(src_ctx, spare, &e2);
            if (got < 0) {
                stats->source_status = GRIN_ERR_IO;
                snprintf(stats->source_error, sizeof stats->source_error, "%.250s", e2.msg);
                break;
            }
            if (got == 0)
                break;
            spare->index = index++;
            spare->grabbed_ms = grin__now_ms();
            spare->detect = o->detect_every <= 1 || spare->index % o->detect_every == 0;
            stats->frames++;
            grin__frame *stale = NULL;
            pthread_mutex_lock(&s0->m);
            if (o->realtime && s0->n >= 2) { /* two frames already wait: the oldest is stale */
                stale = s0->q[0];
                memmove(s0->q, s0->q + 1, (size_t)(s0->n - 1) * sizeof *s0->q);
                s0->n--;
                stats->dropped++;
            }
            s0->q[s0->n++] = spare;
            pthread_cond_broadcast(&s0->c);
            pthread_mutex_unlock(&s0->m);
            spare = stale ? stale : pool_get(&r);
        }
        pool_put(&r, spare);
        close_stage(s0);
    }
    for (int i = 0; i < nstages; i++) {
        stage_rt *s = &r.st[i];
        if (st && s->q) /* a failed start: let started workers finish */
            close_stage(s);
        for (int w = 0; w < s->started; w++)
            pthread_join(s->threads[w], NULL);
    }
    stats->seconds = (grin__now_ms() - t0) / 1000.0;
    stats->processed = r.nlat;
    if (r.nlat > 0) {
        qsort(r.lat, (size_t)r.nlat, sizeof *r.lat, cmp_double);
        stats->latency_ms_p50 = r.lat[r.nlat / 2];
        stats->latency_ms_p99 = r.lat[(size_t)ceil((double)(r.nlat - 1) * 0.99)]; /* (never below the median) */
    }
    free(r.lat);
    stats->stage_status = r.err_st;
    snprintf(stats->stage_error, sizeof stats->stage_error, "%s", r.err_msg);
    for (int i = 0; i < inited; i++) {
        stage_rt *s = &r.st[i];
        int nw = s->def->ordered ? 1 : (s->def->workers > 0 ? s->def->workers : 1);
        for (int w = 0; s->states && w < nw; w++)
            if (s->states[w] && s->def->destroy)
                s->def->destroy(s->states[w]);
        free(s->states);
        free(s->threads);
        free(s->q);
        pthread_mutex_destroy(&s->m);
        pthread_cond_destroy(&s->c);
    }
    for (int i = 0; i < r.nframes; i++)
        frame_free(&r.frames[i]);
    free(args);
    free(r.frames);
    free(r.free_);
    free(r.st);
    pthread_mutex_destroy(&r.pm);
    pthread_cond_destroy(&r.pc);
    pthread_mutex_destroy(&r.em);
    if (!st && r.err_st)
        st = grin__fail(err, r.err_st, "%s", r.err_msg);
    return st;
}
