/* stages.h — the stages of `grin run` (internal), each a grin__module module:
 *   detect    (any number of workers)  grey frame; faces on detection frames
 *   landmarks (ordered)                tracks: detections matched to tracks, landmarks followed
 *                                      between detections, aligned crops
 *   classify  (any number of workers)  smile probability of each crop
 *   smile     (ordered)                smoothing with hysteresis per track, smile_start/end events
 *   output    (ordered)                JSON lines, drawing, video encoding, live view
 * A new analysis (age, head pose) is one more module between classify and output. */
#ifndef GRIN_STAGES_H
#define GRIN_STAGES_H

#include "../video/video.h"
#include "pipeline.h"

#include <stdio.h>

typedef struct {
    const grin_cascade *cascade;
    grin_detect_params params;
    int max_width; /* wider frames are detected on a copy scaled to this width (0: never) */
    const grin_cascade *profile; /* also turned faces (grin_detect_profiles), or NULL */
    double edge;   /* a replicated border of this share of the larger side around the frame
                    * (faces cut by its edge are found); 0: none */
} grin__detect_cfg;
extern const grin__module grin__stage_detect;

typedef struct {
    const grin_landmarker *lm;
    const grin_aligner *al;
    bool rgb_crops;        /* the classifier takes colour */
    int drop_after_misses; /* a track no detection confirms this many times in a row ends */
    double hold_seconds;   /* a face lost for up to this long that comes back near where it was
                            * keeps its id (0: never) */
    const grin_classifier *check;    /* the face check (aligned crop -> landmarks right), or NULL:
                                      * the landmarks' own quality score decides */
    const grin_aligner *check_al;    /* crops for the face check */
    bool follow; /* video: a track whose landmarks pass the gate needs no detection to go on, and
                  * a face lost moments ago is looked for where it would be now (photos: off) */
} grin__landmarks_cfg;
extern const grin__module grin__stage_landmarks;

typedef struct {
    const grin_classifier *cls;
} grin__classify_cfg;
extern const grin__module grin__stage_classify;

/* the smile's smoothing time constant, seconds (grin_run and grin run) */
#define GRIN__SMILE_TAU 0.2

/* per-track summary, filled by the smile stage */
typedef struct {
    int id;
    double first_seen, last_seen, seconds_smiling, smile_since;
    int smiles;
    bool smiling, open, seen;
    float smile;
    double last_t;
    double other_since; /* since when the smoothed value has stood on the other side of the
                         * state's threshold (< 0: it has not) */
} grin__track_summary;

typedef struct {
    float on, off;         /* thresholds on the smoothed probability: smiling from >= on, not from < off */
    double dwell;          /* ... once it has stood there this long (seconds; 0: at once) */
    double tau;            /* smoothing time constant, seconds (GRIN__SMILE_TAU) */
    double hold;           /* a track ends when its face has been gone this long (set by
                            * grin__chain_wire to the landmarks stage's hold_seconds) */
    grin__track_summary *tracks; /* out: grown by the stage (single worker), one per track */
    size_t ntracks, cap;
    size_t *open, nopen, open_cap; /* the tracks still open (indices into tracks): a frame's
                                    * work follows the faces on it, not every track of the run */
} grin__smile_cfg;
extern const grin__module grin__stage_smile;
/* Ends the smiles still open at the end of the run (events into f when given). */
void grin__smile_finish(grin__smile_cfg *c, FILE *events);
void grin__smile_free(grin__smile_cfg *c);


/* The chain of a run: detect, landmarks, classify, smile, then `last` (the CLI's output, or
 * grin_run's callback). Fill in the first block and call grin__chain_wire; the stages then point
 * into the chain, which must outlive the run. */
typedef struct {
    const grin_cascade *cascade;
    const grin_cascade *profile; /* grin__detect_cfg.profile */
    grin_detect_params detect;
    int detect_width;          /* grin__detect_cfg.max_width */
    double detect_edge;        /* grin__detect_cfg.edge */
    const grin_landmarker *lm;
    const grin_aligner *al;
    const grin_classifier *cls;
    const grin_classifier *check;   /* the face check, or NULL */
    const grin_aligner *check_al;   /* its aligner */
    bool photos;               /* a folder of photos: each on its own */
    int detect_workers, classify_workers;
    grin__smile_cfg *smile;
    grin__module last;
    const void *last_cfg;
    /* filled by grin__chain_wire */
    grin__detect_cfg dc;
    grin__landmarks_cfg lc;
    grin__classify_cfg cc;
    grin__module stages[5];
} grin__chain;
void grin__chain_wire(grin__chain *c);

#endif
