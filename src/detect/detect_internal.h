/* detect_internal.h — pieces of the detector shared between its files: pyramid building,
 * evaluation kernels (scalar reference and SIMD) and grouping. */
#ifndef GRIN_DETECT_INTERNAL_H
#define GRIN_DETECT_INTERNAL_H

#include "cascade_internal.h"

#include <math.h>

size_t grin__resize_scratch_bytes(int sw, int sh, int dw, int dh);
/* grey src into dst (grey, src's size plus b on every side) with its edge pixels replicated over
 * the border: faces cut by the frame's edge become findable */
void grin__pad_replicate(const grin_image *src, int b, grin_image *dst);
void grin__resize_exact(const uint8_t *src, int sw, int sh, size_t sstride, uint8_t *dst, int dw,
                        int dh, size_t dstride, void *scratch);
size_t grin__tilt_scratch_words(int w);
void grin__integrals(const uint8_t *img, int w, int h, size_t istride, uint32_t *sum, uint32_t *sq,
                     uint32_t *tilt, size_t stride, uint32_t *scratch);

/* OpenCV's groupRectangles; returns the new count, or (size_t)-1 when out of memory. */
size_t grin__group_rects(grin_rect *rects, size_t n, int group_threshold, double eps);

/* A Haar feature resolved against an integral-image stride. */
typedef struct {
    int32_t o[3][4];
    float w[3];
    int tilted;
} grin__hfeat;

/* A depth-1 tree, flattened: OpenCV's Stump (leaves in file order). */
typedef struct {
    int feature;
    float threshold, left, right;
} grin__stump;

/* A tree of at most 7 nodes (8 leaves), padded, for the SIMD kernels: lanes follow their own
 * paths through the same small tables. */
#define GRIN__TREE8_NODES 7
typedef struct {
    int32_t feature[8], left[8], right[8];
    float threshold[8], leaves[8];
    int nodes;
} grin__tree8;

/* Everything the evaluation of one scale needs. */
typedef struct {
    const grin_cascade *c;
    const grin__stump *stumps; /* all stumps in stage order when c->max_nodes == 1 */
    const grin__tree8 *trees8; /* all trees in stage order when 1 < max_nodes <= 7 */
    const grin__hfeat *hf;  /* Haar: per feature */
    const int32_t *lofs;    /* LBP: 16 offsets per feature */
    const uint32_t *sum, *sq, *tilt;
    size_t stride;
    int32_t nofs[4]; /* variance-normalisation rect corners */
    double norm_area;
} grin__eval_ctx;

/* Runs the cascade on one window whose top-left integral entry is at index `pos`, returning
 * 1 (object), -stage (rejected at that stage; 0 = first), or -1 (flat window, Haar). */
int grin__run_at(const grin__eval_ctx *e, size_t pos);

typedef struct {
    grin_rect *v;
    size_t n, cap;
    bool oom;
} grin__rects;
void grin__rects_push(grin__rects *r, grin_rect x);

/* Scans row y of a scale: windows x = 0, step, 2*step... < work_w, with OpenCV's rule of
 * skipping the next window after one rejected by the first stage. Hits go to out. */
typedef struct {
    float scale;
    int step, work_w;
    int win_w, win_h; /* output box size */
} grin__row_params;
void grin__scan_row_ref(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                        grin__rects *out);

/* SIMD row scanners for Haar stump cascades; same results as grin__scan_row_ref. */
typedef void (*grin__row_fn)(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                             grin__rects *out);
void grin__scan_row_haar_avx512(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                                grin__rects *out);
void grin__scan_row_haar_avx2(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                              grin__rects *out);
void grin__scan_row_haar_tree_avx2(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                                   grin__rects *out);
void grin__scan_row_lbp_avx2(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                             grin__rects *out);
void grin__scan_row_haar_neon(const grin__eval_ctx *e, const grin__row_params *rp, int y,
                              grin__rects *out);
/* OpenCV's rule over a chunk of `lanes` neighbouring windows, for the SIMD scanners: windows
 * are evaluated in order, one the variance check passed (ok) and the first stage rejected (rej0)
 * makes the next one skipped (*skip_next carries into the next chunk). The windows still alive. */
static inline unsigned grin__first_stage_alive(unsigned ok, unsigned rej0, int lanes, bool *skip_next)
{
    unsigned alive = 0;
    for (int l = 0; l < lanes; l++) {
        if (*skip_next) {
            *skip_next = false;
            continue;
        }
        if (!((ok >> l) & 1))
            continue;
        if ((rej0 >> l) & 1)
            *skip_next = true;
        else
            alive |= 1u << l;
    }
    return alive;
}

/* the hits of a chunk starting at window k0: the windows alive after every stage */
static inline void grin__push_hits(unsigned alive, int k0, int y, const grin__row_params *rp, grin__rects *out)
{
    for (; alive; alive &= alive - 1) {
        int x = (k0 + __builtin_ctz(alive)) * rp->step;
        grin__rects_push(out, (grin_rect){(int)lrintf((float)x * rp->scale), (int)lrintf((float)y * rp->scale),
                                          rp->win_w, rp->win_h});
    }
}

/* Words a SIMD scanner may read past the last integral row. */
#define GRIN__SIMD_PAD 64

#endif
