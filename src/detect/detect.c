/* detect.c — multi-scale sliding-window detection with OpenCV's CascadeClassifier semantics:
 * the same scales, pyramid, window steps, early skips and grouping, spread over a worker pool
 * (pyramid levels first, then stripes of window rows). */
#include "detect_internal.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float scale;
    int w, h;      /* scaled image size */
    int step;      /* window step in x and y */
    int work_w, work_h;
    int win_w, win_h; /* box size in the original image */
    size_t img_off, int_off; /* offsets into the arenas */
} scale_level;

typedef struct {
    int level, y0, y1;
} stripe;

typedef struct {
    grin__rects rects;
    void *scratch;
    size_t scratch_cap;
} thread_slot;

struct grin_detector {
    grin__pool *pool;
    int threads;
    char error[512];
    grin_image gray; /* conversion scratch */
    uint8_t *img;
    size_t img_cap;
    uint32_t *sum, *sq, *tilt;
    size_t sum_cap, sq_cap, tilt_cap;
    scale_level *levels;
    int nlevels, cap_levels;
    stripe *stripes;
    int nstripes, cap_stripes;
    thread_slot *slots;
    /* feature offsets resolved for (cascade, stride) */
    const grin_cascade *feat_cascade;
    size_t feat_stride;
    grin__hfeat *hf;
    int32_t *lofs;
    size_t feat_cap;
    grin__stump *stumps;
    size_t stump_cap;
    grin__tree8 *trees8;
    size_t tree8_cap;
    grin_rect *results;
    size_t nresults, cap_results;
};

void grin_detect_params_default(grin_detect_params *p)
{
    if (!p)
        return;
    p->scale_factor = 1.1;
    p->min_neighbors = 3;
    p->min_width = p->min_height = 30;
    p->max_width = p->max_height = 0;
}

static grin_status fail(grin_detector *d, grin_status st, const char *fmt, ...) GRIN__PRINTF(3, 4);
static grin_status fail(grin_detector *d, grin_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    grin__vformat(d->error, sizeof d->error, fmt, ap);
    va_end(ap);
    return st;
}

grin_status grin_detector_create(int threads, grin_detector **out)
{
    if (!out)
        return GRIN_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (threads < 0 || threads > GRIN_MAX_THREADS)
        return GRIN_ERR_INVALID_ARGUMENT;
    grin_detector *d = calloc(1, sizeof *d);
    if (!d)
        return GRIN_ERR_NO_MEMORY;
    d->pool = grin__pool_create(threads);
    if (!d->pool) {
        free(d);
        return GRIN_ERR_NO_MEMORY;
    }
    d->threads = grin__pool_threads(d->pool);
    d->slots = calloc((size_t)d->threads, sizeof *d->slots);
    if (!d->slots) {
        grin_detector_free(d);
        return GRIN_ERR_NO_MEMORY;
    }
    *out = d;
    return GRIN_OK;
}

void grin_detector_free(grin_detector *d)
{
    if (!d)
        return;
    grin__pool_free(d->pool);
    grin_image_free(&d->gray);
    grin__aligned_free(d->img);
    grin__aligned_free(d->sum);
    grin__aligned_free(d->sq);
    grin__aligned_free(d->tilt);
    free(d->levels);
    free(d->stripes);
    if (d->slots) {
        for (int i = 0; i < d->threads; i++) {
            free(d->slots[i].rects.v);
            grin__aligned_free(d->slots[i].scratch);
        }
        free(d->slots);
    }
    free(d->hf);
    free(d->lofs);
    free(d->stumps);
    free(d->trees8);
    free(d->results);
    free(d);
}

int grin_detector_threads(const grin_detector *d) { return d ? d->threads : 0; }

const char *grin_detector_error(const grin_detector *d) { return d ? d->error : "no detector"; }

const grin_rect *grin_detector_results(const grin_detector *d, size_t *count)
{
    if (count)
        *count = d ? d->nresults : 0;
    return d ? d->results : NULL;
}

/* ------------------------------------------------------------------ feature offsets */

static bool resolve_features(grin_detector *d, const grin_cascade *c, size_t S)
{
    if (d->feat_cascade == c && d->feat_stride == S)
        return true;
    size_t n = (size_t)c->nfeatures;
    if (n > d->feat_cap) {
        grin__hfeat *hf = realloc(d->hf, n * sizeof *hf);
        if (!hf)
            return false;
        d->hf = hf;
        int32_t *lo = realloc(d->lofs, n * 16 * sizeof *lo);
        if (!lo)
            return false;
        d->lofs = lo;
        d->feat_cap = n;
    }
    if (c->max_nodes == 1) {
        if ((size_t)c->ntrees > d->stump_cap) {
            grin__stump *sp = realloc(d->stumps, (size_t)c->ntrees * sizeof *sp);
            if (!sp)
                return false;
            d->stumps = sp;
            d->stump_cap = (size_t)c->ntrees;
        }
        for (int t = 0; t < c->ntrees; t++) {
            const grin__tree *tr = &c->trees[t];
            const grin__node *nd = &c->nodes[tr->first_node];
            d->stumps[t] = (grin__stump){nd->feature, nd->threshold, c->leaves[tr->first_leaf],
                                         c->leaves[tr->first_leaf + 1]};
        }
    }
    if (c->max_nodes > 1 && c->max_nodes <= GRIN__TREE8_NODES) {
        if ((size_t)c->ntrees > d->tree8_cap) {
            grin__tree8 *t8 = realloc(d->trees8, (size_t)c->ntrees * sizeof *t8);
            if (!t8)
                return false;
            d->trees8 = t8;
            d->tree8_cap = (size_t)c->ntrees;
        }
        for (int t = 0; t < c->ntrees; t++) {
            const grin__tree *tr = &c->trees[t];
            grin__tree8 *q = &d->trees8[t];
            memset(q, 0, sizeof *q);
            q->nodes = tr->node_count;
            for (int k = 0; k < tr->node_count; k++) {
                const grin__node *nd = &c->nodes[tr->first_node + k];
                q->feature[k] = nd->feature;
                q->threshold[k] = nd->threshold;
                q->left[k] = nd->left;
                q->right[k] = nd->right;
            }
            for (int k = 0; k <= tr->node_count; k++)
                q->leaves[k] = c->leaves[tr->first_leaf + k];
        }
    }
    int32_t s = (int32_t)S;
    for (size_t i = 0; i < n; i++) {
        const grin__feature *f = &c->features[i];
        if (c->type == GRIN_FEATURE_LBP) {
            const grin__hrect *r = &f->r[0];
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 4; k++)
                    d->lofs[i * 16 + (size_t)(j * 4 + k)] = (r->x + k * r->w) + s * (r->y + j * r->h);
            continue;
        }
        grin__hfeat *h = &d->hf[i];
        memset(h, 0, sizeof *h);
        h->tilted = f->tilted;
        for (int k = 0; k < 3; k++) {
            const grin__hrect *r = &f->r[k];
            h->w[k] = k < f->nrects ? r->weight : 0.0f;
            if (k >= f->nrects) {
                for (int j = 0; j < 4; j++)
                    h->o[k][j] = 0;
            } else if (!f->tilted) {
                h->o[k][0] = r->x + s * r->y;
                h->o[k][1] = r->x + r->w + s * r->y;
                h->o[k][2] = r->x + s * (r->y + r->h);
                h->o[k][3] = r->x + r->w + s * (r->y + r->h);
            } else {
                h->o[k][0] = r->x + s * r->y;
                h->o[k][1] = r->x - r->h + s * (r->y + r->h);
                h->o[k][2] = r->x + r->w + s * (r->y + r->w);
                h->o[k][3] = r->x + r->w - r->h + s * (r->y + r->w + r->h);
            }
        }
    }
    d->feat_cascade = c;
    d->feat_stride = S;
    return true;
}

/* The row scanner for this cascade on this CPU: SIMD where a kernel exists, else the
 * reference. */
static grin__row_fn pick_scanner(const grin_cascade *c)
{
#if defined(__x86_64__)
    /* On Zen 4 the 8-lane AVX2 kernel measures faster than the 16-lane AVX-512 one (fewer dead
     * lanes, no cross-lane permutes), so AVX-512 is used only when asked for (GRIN_CPU=avx512). */
    unsigned f = grin__cpu_enabled();
    unsigned want512 = GRIN__CPU_AVX512F | GRIN__CPU_AVX512DQ | GRIN__CPU_AVX512BW | GRIN__CPU_AVX512VL;
    bool has512 = (f & want512) == want512, has2 = (f & GRIN__CPU_AVX2) != 0;
    if (c->type == GRIN_FEATURE_HAAR && c->max_nodes == 1) {
        if (has512 && (grin__cpu_prefer_avx512() || !has2))
            return grin__scan_row_haar_avx512;
        if (has2)
            return grin__scan_row_haar_avx2;
    } else if (has2 && c->type == GRIN_FEATURE_HAAR && c->max_nodes <= GRIN__TREE8_NODES) {
        return grin__scan_row_haar_tree_avx2;
    } else if (has2 && c->type == GRIN_FEATURE_LBP && c->max_nodes == 1) {
        return grin__scan_row_lbp_avx2;
    }
#elif defined(__aarch64__)
    if ((grin__cpu_enabled() & GRIN__CPU_NEON) && c->type == GRIN_FEATURE_HAAR && c->max_nodes == 1)
        return grin__scan_row_haar_neon;
#else
    (void)c;
#endif
    return NULL;
}

/* ------------------------------------------------------------------ the jobs */

typedef struct {
    grin_detector *d;
    const grin_cascade *c;
    const grin_image *gray;
    size_t S; /* integral stride (words), also the pyramid's row stride (bytes) */
    grin__eval_ctx base;
    grin__row_fn scan; /* NULL: reference scanner */
    atomic_int oom;
} job;

static void build_level(void *ctx, int task, int thread)
{
    job *J = ctx;
    grin_detector *d = J->d;
    const scale_level *L = &d->levels[task];
    thread_slot *slot = &d->slots[thread];
    size_t need = grin__resize_scratch_bytes(J->gray->width, J->gray->height, L->w, L->h);
    size_t tneed = J->c->has_tilted ? grin__tilt_scratch_words(L->w) * sizeof(uint32_t) : 0;
    if (tneed > need)
        need = tneed;
    if (!grin__reserve(&slot->scratch, &slot->scratch_cap, need)) {
        atomic_store(&J->oom, 1);
        return;
    }
    uint8_t *img = d->img + L->img_off;
    grin__resize_exact(J->gray->data, J->gray->width, J->gray->height, (size_t)J->gray->stride,
                       img, L->w, L->h, J->S, slot->scratch);
    grin__integrals(img, L->w, L->h, J->S, d->sum + L->int_off, d->sq + L->int_off,
                    J->c->has_tilted ? d->tilt + L->int_off : NULL, J->S, slot->scratch);
}

static void scan_stripe(void *ctx, int task, int thread)
{
    job *J = ctx;
    grin_detector *d = J->d;
    const stripe *sp = &d->stripes[task];
    const scale_level *L = &d->levels[sp->level];
    grin__eval_ctx e = J->base;
    e.sum = d->sum + L->int_off;
    e.sq = d->sq + L->int_off;
    e.tilt = d->tilt ? d->tilt + L->int_off : NULL;
    grin__row_params rp = {L->scale, L->step, L->work_w, L->win_w, L->win_h};
    thread_slot *slot = &d->slots[thread];
    grin__rects *out = &slot->rects;
    if (J->scan) {
        for (int y = sp->y0; y < sp->y1; y += L->step)
            J->scan(&e, &rp, y, out);
    } else {
        for (int y = sp->y0; y < sp->y1; y += L->step)
            grin__scan_row_ref(&e, &rp, y, out);
    }
    if (out->oom)
        atomic_store(&J->oom, 1);
}

static int cmp_rect(const void *a, const void *b)
{
    const grin_rect *p = a, *q = b;
    if (p->y != q->y)
        return p->y < q->y ? -1 : 1;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    if (p->w != q->w)
        return p->w < q->w ? -1 : 1;
    return p->h < q->h ? -1 : (p->h > q->h);
}

/* ------------------------------------------------------------------ grin_detect */

/* grin__grow for int counts */
static bool grow_array(void **p, int *cap, int need, size_t elem)
{
    size_t c = (size_t)*cap;
    if (need <= *cap)
        return true;
    if (need > INT_MAX / 2 || !grin__grow(p, &c, (size_t)need, elem))
        return false;
    *cap = (int)c;
    return true;
}

grin_status grin_detect(grin_detector *d, const grin_cascade *c, const grin_image *img,
                        const grin_detect_params *params, grin_rect *faces, size_t capacity,
                        size_t *count)
{
    if (!d)
        return GRIN_ERR_INVALID_ARGUMENT;
    d->error[0] = 0;
    d->nresults = 0;
    if (count)
        *count = 0;
    if (!c || !img || !img->data || !count || (!faces && capacity))
        return fail(d, GRIN_ERR_INVALID_ARGUMENT, "grin_detect: missing cascade, image or count");
    int ch = grin_pixfmt_channels(img->format);
    if (ch == 0 || img->width <= 0 || img->height <= 0 || img->stride < img->width * ch)
        return fail(d, GRIN_ERR_INVALID_ARGUMENT, "grin_detect: bad image %dx%d stride %d format %d",
                    img->width, img->height, img->stride, (int)img->format);
    if (img->width > GRIN_MAX_IMAGE_SIDE || img->height > GRIN_MAX_IMAGE_SIDE)
        return fail(d, GRIN_ERR_TOO_LARGE, "grin_detect: image %dx%d over the %d-pixel side limit",
                    img->width, img->height, GRIN_MAX_IMAGE_SIDE);
    grin_detect_params p;
    if (params)
        p = *params;
    else
        grin_detect_params_default(&p);
    if (!(p.scale_factor > 1.0) || p.scale_factor > 100.0 || p.min_neighbors < 0 ||
        p.min_width < 0 || p.min_height < 0 || p.max_width < 0 || p.max_height < 0)
        return fail(d, GRIN_ERR_INVALID_ARGUMENT, "grin_detect: bad parameters (scale factor %g "
                    "must be in (1, 100], sizes and neighbours non-negative)", p.scale_factor);

    const grin_image *gray = img;
    if (img->format != GRIN_PIX_GRAY8) { /* the grey scratch is kept between calls */
        if (!d->gray.data || d->gray.width != img->width || d->gray.height != img->height) {
            grin_image_free(&d->gray);
            grin_status st = grin_image_alloc(img->width, img->height, GRIN_PIX_GRAY8, &d->gray);
            if (st)
                return fail(d, st, "grin_detect: cannot allocate a %dx%d grey image", img->width,
                            img->height);
        }
        grin_status st = grin__image_convert_into(img, &d->gray);
        if (st)
            return fail(d, st, "grin_detect: colour conversion failed");
        gray = &d->gray;
    }

    /* scales, exactly as OpenCV picks them */
    int W = img->width, H = img->height;
    int maxw = p.max_width ? p.max_width : W, maxh = p.max_height ? p.max_height : H;
    int minw = p.min_width, minh = p.min_height;
    if (minw == 0 || minh == 0) {
        minw = c->win_w;
        minh = c->win_h;
    }
    d->nlevels = 0;
    for (double factor = 1.0;; factor *= p.scale_factor) {
        int ww = (int)lrint(c->win_w * factor), wh = (int)lrint(c->win_h * factor);
        if (ww > maxw || wh > maxh || ww > W || wh > H)
            break;
        if (ww < minw || wh < minh)
            continue;
        if (d->nlevels == GRIN_MAX_PYRAMID_LEVELS) /* a step too close to 1: memory and time explode */
            return fail(d, GRIN_ERR_TOO_LARGE, "grin_detect: scale factor %g needs more than %d pyramid levels "
                        "on a %dx%d image; use a larger one (1.1 is the default)", p.scale_factor,
                        GRIN_MAX_PYRAMID_LEVELS, W, H);
        if (!grow_array((void **)&d->levels, &d->cap_levels, d->nlevels + 1, sizeof *d->levels))
            return fail(d, GRIN_ERR_NO_MEMORY, "grin_detect: out of memory");
        scale_level *L = &d->levels[d->nlevels++];
        memset(L, 0, sizeof *L);
        L->scale = (float)factor;
    }
    if (d->nlevels == 0) {
        *count = 0;
        return GRIN_OK;
    }
    size_t S = 0, img_total = 0, int_total = 0;
    for (int i = 0; i < d->nlevels; i++) {
        scale_level *L = &d->levels[i];
        float sc = L->scale;
        L->w = (int)lrintf((float)W / sc);
        L->h = (int)lrintf((float)H / sc);
        L->step = sc >= 2.0f ? 1 : 2;
        L->work_w = L->w + 1 - c->win_w;
        L->work_h = L->h + 1 - c->win_h;
        if (L->work_w < 0)
            L->work_w = 0;
        if (L->work_h < 0)
            L->work_h = 0;
        L->win_w = (int)lrintf((float)c->win_w * sc);
        L->win_h = (int)lrintf((float)c->win_h * sc);
        if (i == 0)
            S = ((size_t)L->w + 1 + 15) & ~(size_t)15;
    }
    for (int i = 0; i < d->nlevels; i++) {
        scale_level *L = &d->levels[i];
        L->img_off = img_total;
        img_total += S * (size_t)L->h;
        L->int_off = int_total;
        int_total += S * ((size_t)L->h + 1);
    }
    int_total += 2 * GRIN__SIMD_PAD; /* SIMD loads may run a little past the last row */
    size_t sum_bytes;
    if (grin__mul_overflow(int_total, sizeof(uint32_t), &sum_bytes) ||
        !grin__reserve((void **)&d->img, &d->img_cap, img_total) ||
        !grin__reserve((void **)&d->sum, &d->sum_cap, sum_bytes) ||
        !grin__reserve((void **)&d->sq, &d->sq_cap, sum_bytes) ||
        (c->has_tilted && !grin__reserve((void **)&d->tilt, &d->tilt_cap, sum_bytes)))
        return fail(d, GRIN_ERR_NO_MEMORY, "grin_detect: out of memory for the %dx%d pyramid", W, H);
    if (!resolve_features(d, c, S))
        return fail(d, GRIN_ERR_NO_MEMORY, "grin_detect: out of memory");

    job J = {.d = d, .c = c, .gray = gray, .S = S};
    atomic_init(&J.oom, 0);
    J.base.c = c;
    J.base.stumps = d->stumps;
    J.base.trees8 = d->trees8;
    J.base.hf = d->hf;
    J.base.lofs = d->lofs;
    J.base.stride = S;
    int nw = c->win_w - 2, nh = c->win_h - 2;
    J.base.nofs[0] = 1 + (int32_t)S * 1;
    J.base.nofs[1] = 1 + nw + (int32_t)S * 1;
    J.base.nofs[2] = 1 + (int32_t)S * (1 + nh);
    J.base.nofs[3] = 1 + nw + (int32_t)S * (1 + nh);
    J.base.norm_area = (double)nw * (double)nh;

    J.scan = pick_scanner(c);
    grin__pool_run(d->pool, build_level, &J, d->nlevels);
    if (atomic_load(&J.oom))
        return fail(d, GRIN_ERR_NO_MEMORY, "grin_detect: out of memory building the pyramid");

    /* stripes of window rows, roughly equal in window count, biggest levels first */
    d->nstripes = 0;
    size_t total = 0;
    for (int i = 0; i < d->nlevels; i++) {
        const scale_level *L = &d->levels[i];
        total += (size_t)(L->work_w / L->step + 1) * (size_t)(L->work_h / L->step + 1);
    }
    size_t target = total / ((size_t)d->threads * 8) + 1;
    for (int i = 0; i < d->nlevels; i++) {
        const scale_level *L = &d->levels[i];
        if (L->work_w <= 0 || L->work_h <= 0)
            continue;
        size_t per_row = (size_t)(L->work_w / L->step + 1);
        int rows = (int)(target / per_row);
        if (rows < 1)
            rows = 1;
        int span = rows * L->step;
        for (int y = 0; y < L->work_h; y += span) {
            if (!grow_array((void **)&d->stripes, &d->cap_stripes, d->nstripes + 1,
                            sizeof *d->stripes))
                return fail(d, GRIN_ERR_NO_MEMORY, "grin_detect: out of memory");
            stripe *sp = &d->stripes[d->nstripes++];
            sp->level = i;
            sp->y0 = y;
            sp->y1 = y + span < L->work_h ? y + span : L->work_h;
        }
    }
    for (int t = 0; t < d->threads; t++)
        d->slots[t].rects.n = 0;
    grin__pool_run(d->pool, scan_stripe, &J, d->nstripes);
    if (atomic_load(&J.oom))
        return fail(d, GRIN_ERR_NO_MEMORY, "grin_detect: out of memory collecting candidates");

    size_t ncand = 0;
    for (int t = 0; t < d->threads; t++)
        ncand += d->slots[t].rects.n;
    if (ncand > d->cap_results) {
        grin_rect *r = realloc(d->results, ncand * sizeof *r);
        if (!r)
            return fail(d, GRIN_ERR_NO_MEMORY, "grin_detect: out of memory");
        d->results = r;
        d->cap_results = ncand;
    }
    size_t k = 0;
    for (int t = 0; t < d->threads; t++) {
        if (d->slots[t].rects.n)
            memcpy(d->results + k, d->slots[t].rects.v, d->slots[t].rects.n * sizeof(grin_rect));
        k += d->slots[t].rects.n;
    }
    if (ncand)
        qsort(d->results, ncand, sizeof(grin_rect), cmp_rect);
    size_t n = grin__group_rects(d->results, ncand, p.min_neighbors, 0.2);
    if (n == (size_t)-1)
        return fail(d, GRIN_ERR_NO_MEMORY, "grin_detect: out of memory grouping");
    /* as OpenCV, clip the grouped boxes to the image (a window on the last row of a
     * rounded-down pyramid level can reach a pixel past it) and drop empty ones */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        grin_rect r = d->results[i];
        int x0 = r.x > 0 ? r.x : 0, y0 = r.y > 0 ? r.y : 0;
        int x1 = r.x + r.w < W ? r.x + r.w : W, y1 = r.y + r.h < H ? r.y + r.h : H;
        if (x1 > x0 && y1 > y0)
            d->results[kept++] = (grin_rect){x0, y0, x1 - x0, y1 - y0};
    }
    n = kept;
    if (n)
        qsort(d->results, n, sizeof(grin_rect), cmp_rect);
    d->nresults = n;
    *count = n;
    if (faces && n && capacity)
        memcpy(faces, d->results, (n < capacity ? n : capacity) * sizeof(grin_rect));
    if (n > capacity)
        return fail(d, GRIN_ERR_BUFFER_TOO_SMALL, "grin_detect: %zu faces found, room for %zu", n,
                    capacity);
    return GRIN_OK;
}

/* ------------------------------------------------------------------ grin_detect_photo */

void grin__pad_replicate(const grin_image *src, int b, grin_image *dst)
{
    int W = src->width, H = src->height;
    for (int y = 0; y < H + 2 * b; y++) {
        int sy = y < b ? 0 : (y - b >= H ? H - 1 : y - b);
        const uint8_t *s = src->data + (size_t)sy * src->stride;
        uint8_t *o = dst->data + (size_t)y * dst->stride;
        memset(o, s[0], (size_t)b);
        memcpy(o + b, s, (size_t)W);
        memset(o + b + W, s[W - 1], (size_t)b);
    }
}

grin_status grin_detect_photo(grin_detector *d, const grin_cascade *c, const grin_image *img,
                              const grin_detect_params *params, size_t *count)
{
    size_t n = 0;
    grin_status st = grin_detect(d, c, img, params, NULL, 0, &n);
    if (count)
        *count = n;
    if (st != GRIN_ERR_BUFFER_TOO_SMALL && st != GRIN_OK)
        return st;
    if (n > 0)
        return GRIN_OK;
    grin_detect_params p;
    if (params)
        p = *params;
    else
        grin_detect_params_default(&p);
    /* the second look: a replicated border of a fifth of the larger side on every side, a
     * pyramid step of at most 1.05 and at most two neighbours */
    int W = img->width, H = img->height, b = (W > H ? W : H) / 5;
    if (b < 1 || (long)W + 2L * b > GRIN_MAX_IMAGE_SIDE || (long)H + 2L * b > GRIN_MAX_IMAGE_SIDE)
        return GRIN_OK;
    grin_image gray, pad;
    st = grin_image_convert(img, GRIN_PIX_GRAY8, &gray);
    if (st)
        return fail(d, st, "grin_detect_photo: cannot convert the %dx%d image to grey", W, H);
    st = grin_image_alloc(W + 2 * b, H + 2 * b, GRIN_PIX_GRAY8, &pad);
    if (st) {
        grin_image_free(&gray);
        return fail(d, st, "grin_detect_photo: cannot allocate a %dx%d image", W + 2 * b, H + 2 * b);
    }
    grin__pad_replicate(&gray, b, &pad);
    grin_image_free(&gray);
    if (p.scale_factor > 1.05)
        p.scale_factor = 1.05;
    if (p.min_neighbors > 2)
        p.min_neighbors = 2;
    if (p.min_neighbors < 1)
        p.min_neighbors = 1;
    st = grin_detect(d, c, &pad, &p, NULL, 0, &n);
    grin_image_free(&pad);
    if (st != GRIN_ERR_BUFFER_TOO_SMALL && st != GRIN_OK)
        return st;
    /* back to the photo's coordinates; keep boxes at least half inside it */
    size_t kept = 0;
    for (size_t i = 0; i < d->nresults; i++) {
        grin_rect r = d->results[i];
        r.x -= b;
        r.y -= b;
        int ix = (r.x > 0 ? r.x : 0), iy = (r.y > 0 ? r.y : 0);
        int ex = (r.x + r.w < W ? r.x + r.w : W), ey = (r.y + r.h < H ? r.y + r.h : H);
        if (ex > ix && ey > iy && 2L * (ex - ix) * (ey - iy) >= (long)r.w * r.h)
            d->results[kept++] = r;
    }
    d->nresults = kept;
    if (count)
        *count = kept;
    return GRIN_OK;
}

/* a box that another already covers: they overlap by more than a third, or one's centre lies in
 * the other */
static bool covered(grin_rect a, grin_rect b)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w, y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    if (x1 <= x0 || y1 <= y0)
        return false;
    double in = (double)(x1 - x0) * (y1 - y0), u = (double)a.w * a.h + (double)b.w * b.h - in;
    long acx = a.x + a.w / 2, acy = a.y + a.h / 2, bcx = b.x + b.w / 2, bcy = b.y + b.h / 2;
    return in > u / 3 || (acx > b.x && acx < b.x + b.w && acy > b.y && acy < b.y + b.h) ||
           (bcx > a.x && bcx < a.x + a.w && bcy > a.y && bcy < a.y + a.h);
}

grin_status grin_detect_profiles(grin_detector *d, const grin_cascade *frontal, const grin_cascade *profile,
                                 const grin_image *img, const grin_detect_params *p, size_t *count)
{
    if (count)
        *count = 0;
    if (!d || !frontal || !profile || !img || !img->data || !count)
        return d ? fail(d, GRIN_ERR_INVALID_ARGUMENT, "grin_detect_profiles: missing argument") : GRIN_ERR_INVALID_ARGUMENT;
    grin_image gray = {0}, flip = {0};
    grin_rect *all = NULL;
    size_t n = 0, cap = 0;
    grin_status st = grin_image_convert(img, GRIN_PIX_GRAY8, &gray);
    if (!st)
        st = grin_image_alloc(gray.width, gray.height, GRIN_PIX_GRAY8, &flip);
    if (st) {
        grin_image_free(&gray);
        return fail(d, st, "grin_detect_profiles: cannot convert the %dx%d image", img->width, img->height);
    }
    const int W = gray.width;
    for (int y = 0; y < gray.height; y++) {
        const uint8_t *src = gray.data + (size_t)y * gray.stride;
        uint8_t *dst = flip.data + (size_t)y * flip.stride;
        for (int x = 0; x < W; x++)
            dst[x] = src[W - 1 - x];
    }
    /* frontal boxes first; then profile boxes (faces turned one way, and on the mirror image the
     * other way) that no box kept so far covers */
    for (int pass = 0; pass < 3 && !st; pass++) {
        size_t k = 0;
        st = grin_detect(d, pass ? profile : frontal, pass == 2 ? &flip : &gray, p, NULL, 0, &k);
        if (st == GRIN_ERR_BUFFER_TOO_SMALL)
            st = GRIN_OK;
        if (st)
            break;
        size_t before = n;
        for (size_t i = 0; i < d->nresults; i++) {
            grin_rect r = d->results[i];
            if (pass == 2)
                r.x = W - r.x - r.w;
            bool dup = false;
            for (size_t j = 0; j < before && !dup && pass; j++)
                dup = covered(r, all[j]);
            if (dup)
                continue;
            if (n == cap) {
                size_t nc = cap ? 2 * cap : 16;
                grin_rect *na = realloc(all, nc * sizeof *na);
                if (!na) {
                    st = fail(d, GRIN_ERR_NO_MEMORY, "grin_detect_profiles: out of memory");
                    break;
                }
                all = na, cap = nc;
            }
            all[n++] = r;
        }
    }
    grin_image_free(&gray);
    grin_image_free(&flip);
    if (!st && n > d->cap_results) {
        grin_rect *r = realloc(d->results, n * sizeof *r);
        if (!r)
            st = fail(d, GRIN_ERR_NO_MEMORY, "grin_detect_profiles: out of memory");
        else
            d->results = r, d->cap_results = n;
    }
    if (st) {
        d->nresults = 0;
        free(all);
        return st;
    }
    if (n)
        memcpy(d->results, all, n * sizeof *all);
    free(all);
    if (n)
        qsort(d->results, n, sizeof(grin_rect), cmp_rect);
    d->nresults = n;
    *count = n;
    return GRIN_OK;
}
