/* pipeline.h — grin's asynchronous frame pipeline (internal): a grabber thread feeding a chain of
 * stages, each a module behind one small interface (init per worker, process a frame, destroy),
 * run by persistent worker threads with bounded hand-offs. Frames carry their results from stage
 * to stage and leave in order. Two policies: every frame (files: identical output on every run)
 * or realtime (live sources: when two frames already wait for the first stage, the older is
 * dropped as a newer one arrives, so latency stays bounded to about two frame intervals plus
 * the processing). */
#ifndef GRIN_PIPELINE_H
#define GRIN_PIPELINE_H

#include "../core/internal.h"

#include <signal.h>
#include <stdatomic.h>

#define GRIN__MAX_POINTS 68

typedef struct {
    int id;                 /* track id, stable across frames */
    grin_rect box;
    grin_point2f pts[GRIN__MAX_POINTS];
    int npts;
    grin_image crop;        /* aligned crop for the classifier (owned by the frame) */
    int aligned;
    grin_point2f crop_pts[GRIN__MAX_POINTS]; /* pts in the crop's coordinates, when aligned */
    float quality;          /* the landmarks' grin_face_quality */
    bool decided;           /* quality >= GRIN_QUALITY_MIN: the face gets a smile decision */
    float smile_raw;        /* the classifier's probability on this frame (NaN: no decision) */
    float smile;            /* smoothed over time */
    bool smiling;           /* with hysteresis */
} grin__face;

typedef struct {
    int64_t index;          /* frame number in the source */
    int64_t seq;            /* position among processed frames (dropped frames get none) */
    double t;               /* seconds, from the source's timestamps */
    double grabbed_ms;      /* monotonic clock when decoded: latency is measured from here */
    grin_image rgb, gray;
    bool detect;            /* detection runs on this frame */
    grin_rect *dets;
    size_t ndets, capdets;
    grin__face *faces;
    size_t nfaces, capfaces;
    char *events;           /* JSON lines of events that happened on this frame */
    size_t nev, capev;
} grin__frame;

/* Appends to the frame's event text (printf-style). */
void grin__frame_event(grin__frame *f, const char *fmt, ...);
grin__face *grin__frame_add_face(grin__frame *f);

/* A stage: init makes one worker's state (cfg is the stage's own configuration), process fills
 * in the frame's results, destroy frees the state. An ordered stage sees frames in order and has
 * one worker. */
typedef struct {
    const char *name;
    int workers;
    bool ordered;
    const void *cfg;
    void *(*init)(const void *cfg, grin_error *err);
    grin_status (*process)(void *state, grin__frame *f, grin_error *err);
    void (*destroy)(void *state);
} grin__module;

/* The source: fills f->rgb (reusing its buffer) and f->t; 1 = a frame, 0 = the end, -1 = an
 * error (message in err). Runs on the grabber thread. */
typedef int (*grin__source_fn)(void *ctx, grin__frame *f, grin_error *err);

typedef struct {
    bool realtime;
    int detect_every;     /* detection on frames whose index is a multiple of this */
    int in_flight;        /* frames alive at once (default: 2 per worker + 2) */
    volatile sig_atomic_t *stop; /* set (e.g. by a signal handler) to end the input early */
    atomic_int *halt;            /* set by a stage (another thread) to end the input early */
} grin__pipeline_opts;

typedef struct {
    int64_t frames, processed, dropped;
    double seconds;
    double latency_ms_p50, latency_ms_p99; /* decoding to the end of the last stage */
    grin_status source_status;
    char source_error[256];
    grin_status stage_status;
    char stage_error[256];
} grin__pipeline_stats;

/* Runs until the source ends, fails, or *stop is set; every admitted frame is processed by every
 * stage before this returns. */
grin_status grin__pipeline_run(const grin__module *stages, int nstages, grin__source_fn source, void *src_ctx,
                               const grin__pipeline_opts *o, grin__pipeline_stats *stats, grin_error *err);

double grin__now_ms(void);

#endif
