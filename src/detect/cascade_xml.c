/* cascade_xml.c — loads OpenCV cascade XML (the current opencv-cascade-classifier format with
 * HAAR and LBP features, and the old opencv-haar-classifier format) into grin's cascade.
 * Everything in the file is treated as hostile: every count, index and rectangle is checked. */
#include "cascade_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define MAX_FILE_BYTES ((size_t)64 << 20)
#define MAX_TOTAL_NODES 4000000
#define MAX_STAGES 10000
#define MAX_FEATURES 4000000

static const float THRESHOLD_EPS = 1e-5f; /* OpenCV lowers every stage threshold by this */

typedef struct {
    const char *name;
    grin_error *err;
    grin_status st;
    /* growing arrays */
    grin__stage *stages;
    int nstages, cap_stages;
    grin__tree *trees;
    int ntrees, cap_trees;
    grin__node *nodes;
    int nnodes, cap_nodes;
    float *leaves;
    int nleaves, cap_leaves;
    int32_t *subsets;
    int nsubsets, cap_subsets;
    grin__feature *features;
    int nfeatures, cap_features;
} loader;

#define FAIL(L, ST, ...)                                                                           \
    do {                                                                                           \
        if ((L)->st == GRIN_OK)                                                                    \
            (L)->st = grin__fail((L)->err, (ST), __VA_ARGS__);                                     \
        return false;                                                                              \
    } while (0)

/* grin__grow for the loader's int counts, failing the load */
static bool grow(loader *L, void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = (size_t)*cap;
    if (need > INT_MAX / 2)
        FAIL(L, GRIN_ERR_TOO_LARGE, "%s: cascade is too large", L->name);
    if (!grin__grow(arr, &c, (size_t)need, elem))
        FAIL(L, GRIN_ERR_NO_MEMORY, "%s: out of memory", L->name);
    *cap = (int)c; /* < 2 x need */
    return true;
}
#define GROW(L, field, count, need)                                                                \
    grow((L), (void **)&(L)->field, &(L)->cap_##field, (need), sizeof(*(L)->field))

/* ------------------------------------------------------------------ XML helpers */

static bool is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && (!name || xmlStrcmp(n->name, BAD_CAST name) == 0);
}

static xmlNode *child(const xmlNode *n, const char *name)
{
    if (!n)
        return NULL;
    for (xmlNode *c = n->children; c; c = c->next)
        if (is_elem(c, name))
            return c;
    return NULL;
}

static xmlNode *first_elem(const xmlNode *n)
{
    return child(n, NULL);
}

static xmlNode *next_elem(const xmlNode *n)
{
    for (n = n ? n->next : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return (xmlNode *)n;
    return NULL;
}

static int count_elems(const xmlNode *n)
{
    int k = 0;
    for (xmlNode *c = first_elem(n); c; c = next_elem(c))
        k++;
    return k;
}

/* Whitespace-separated numbers of an element's text. */
typedef struct {
    xmlChar *text;
    const char *p;
} tokens;

static void tok_open(tokens *t, const xmlNode *n)
{
    t->text = xmlNodeGetContent(n);
    t->p = t->text ? (const char *)t->text : "";
}

static void tok_close(tokens *t)
{
    if (t->text)
        xmlFree(t->text);
    t->text = NULL;
}

static bool tok_next(tokens *t, const char **start, size_t *len)
{
    const char *p = t->p;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (!*p)
        return false;
    const char *s = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
        p++;
    *start = s;
    *len = (size_t)(p - s);
    t->p = p;
    return true;
}

static bool tok_double(tokens *t, double *v)
{
    const char *s;
    size_t n;
    if (!tok_next(t, &s, &n) || n >= 64)
        return false;
    char buf[64];
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + n || !isfinite(d))
        return false;
    *v = d;
    return true;
}

static bool tok_int(tokens *t, int *v)
{
    const char *s;
    size_t n;
    if (!tok_next(t, &s, &n) || n >= 64)
        return false;
    char buf[64];
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (end != buf + n || errno || x < INT_MIN || x > INT_MAX)
        return false;
    *v = (int)x;
    return true;
}

static bool tok_end(tokens *t)
{
    const char *s;
    size_t n;
    return !tok_next(t, &s, &n);
}

/* A single number held by a child element. */
static bool child_int(const xmlNode *n, const char *name, int *v)
{
    xmlNode *c = child(n, name);
    if (!c)
        return false;
    tokens t;
    tok_open(&t, c);
    bool ok = tok_int(&t, v) && tok_end(&t);
    tok_close(&t);
    return ok;
}

static bool child_double(const xmlNode *n, const char *name, double *v)
{
    xmlNode *c = child(n, name);
    if (!c)
        return false;
    tokens t;
    tok_open(&t, c);
    bool ok = tok_double(&t, v) && tok_end(&t);
    tok_close(&t);
    return ok;
}

static bool child_text_is(const xmlNode *n, const char *name, const char *want)
{
    xmlNode *c = child(n, name);
    if (!c)
        return false;
    tokens t;
    tok_open(&t, c);
    const char *s;
    size_t len;
    bool ok = tok_next(&t, &s, &len) && len == strlen(want) && memcmp(s, want, len) == 0 &&
              tok_end(&t);
    tok_close(&t);
    return ok;
}

/* ------------------------------------------------------------------ features */

static bool check_window(loader *L, int w, int h)
{
    if (w <= 0 || h <= 0 || w > GRIN__MAX_WINDOW || h > GRIN__MAX_WINDOW)
        FAIL(L, GRIN_ERR_FORMAT, "%s: window size %dx%d out of range 1..%d", L->name, w, h,
             GRIN__MAX_WINDOW);
    return true;
}

/* One Haar rect "x y w h weight"; checked against the window. */
static bool read_haar_rect(loader *L, const xmlNode *n, grin__hrect *r, bool tilted, int win_w,
                           int win_h, int fi)
{
    tokens t;
    tok_open(&t, n);
    double wt;
    bool ok = tok_int(&t, &r->x) && tok_int(&t, &r->y) && tok_int(&t, &r->w) &&
              tok_int(&t, &r->h) && tok_double(&t, &wt) && tok_end(&t);
    tok_close(&t);
    if (!ok)
        FAIL(L, GRIN_ERR_FORMAT, "%s: feature %d: a rect must be 'x y width height weight'",
             L->name, fi);
    r->weight = (float)wt;
    bool inside;
    if (r->w <= 0 || r->h <= 0 || r->x < 0 || r->y < 0 || r->x > win_w || r->y > win_h ||
        r->w > GRIN__MAX_WINDOW || r->h > GRIN__MAX_WINDOW)
        inside = false;
    else if (!tilted)
        inside = r->x + r->w <= win_w && r->y + r->h <= win_h;
    else /* corners (x,y) (x-h,y+h) (x+w,y+w) (x+w-h,y+w+h) */
        inside = r->x - r->h >= 0 && r->x + r->w <= win_w && r->y + r->w + r->h <= win_h;
    if (!inside)
        FAIL(L, GRIN_ERR_FORMAT, "%s: feature %d: %srect %d,%d %dx%d lies outside the %dx%d window",
             L->name, fi, tilted ? "tilted " : "", r->x, r->y, r->w, r->h, win_w, win_h);
    return true;
}

static bool read_haar_feature(loader *L, const xmlNode *fn, grin__feature *f, int win_w, int win_h)
{
    int fi = L->nfeatures;
    memset(f, 0, sizeof *f);
    xmlNode *rects = child(fn, "rects");
    if (!rects)
        FAIL(L, GRIN_ERR_FORMAT, "%s: feature %d has no <rects>", L->name, fi);
    int tilted = 0;
    if (child(fn, "tilted") && !child_int(fn, "tilted", &tilted))
        FAIL(L, GRIN_ERR_FORMAT, "%s: feature %d: <tilted> is not 0 or 1", L->name, fi);
    f->tilted = tilted != 0;
    int k = 0;
    for (xmlNode *r = first_elem(rects); r; r = next_elem(r)) {
        if (k >= 3)
            FAIL(L, GRIN_ERR_FORMAT, "%s: feature %d has more than 3 rects", L->name, fi);
        if (!read_haar_rect(L, r, &f->r[k], f->tilted, win_w, win_h, fi))
            return false;
        k++;
    }
    if (k < 2)
        FAIL(L, GRIN_ERR_FORMAT, "%s: feature %d has %d rects (2 or 3 expected)", L->name, fi, k);
    f->nrects = k;
    return true;
}

static bool read_lbp_feature(loader *L, const xmlNode *fn, grin__feature *f, int win_w, int win_h)
{
    int fi = L->nfeatures;
    memset(f, 0, sizeof *f);
    xmlNode *rn = child(fn, "rect");
    if (!rn)
        FAIL(L, GRIN_ERR_FORMAT, "%s: LBP feature %d has no <rect>", L->name, fi);
    tokens t;
    tok_open(&t, rn);
    grin__hrect *r = &f->r[0];
    bool ok = tok_int(&t, &r->x) && tok_int(&t, &r->y) && tok_int(&t, &r->w) &&
              tok_int(&t, &r->h) && tok_end(&t);
    tok_close(&t);
    if (!ok)
        FAIL(L, GRIN_ERR_FORMAT, "%s: LBP feature %d: <rect> must be 'x y width height'", L->name,
             fi);
    if (r->x < 0 || r->y < 0 || r->w <= 0 || r->h <= 0 || r->w > win_w || r->h > win_h ||
        r->x + 3 * r->w > win_w || r->y + 3 * r->h > win_h)
        FAIL(L, GRIN_ERR_FORMAT, "%s: LBP feature %d: 3x3 blocks of %dx%d at %d,%d leave the %dx%d "
             "window", L->name, fi, r->w, r->h, r->x, r->y, win_w, win_h);
    f->nrects = 1;
    return true;
}

/* ------------------------------------------------------------------ new format */

static bool read_new(loader *L, const xmlNode *root, grin_cascade *c)
{
    if (!child_text_is(root, "stageType", "BOOST"))
        FAIL(L, GRIN_ERR_UNSUPPORTED, "%s: stageType is not BOOST", L->name);
    if (child_text_is(root, "featureType", "HAAR"))
        c->type = GRIN_FEATURE_HAAR;
    else if (child_text_is(root, "featureType", "LBP"))
        c->type = GRIN_FEATURE_LBP;
    else if (child_text_is(root, "featureType", "HOG"))
        FAIL(L, GRIN_ERR_UNSUPPORTED, "%s: HOG cascades are not supported (OpenCV dropped them "
             "too)", L->name);
    else
        FAIL(L, GRIN_ERR_FORMAT, "%s: missing or unknown <featureType>", L->name);
    if (!child_int(root, "width", &c->win_w) || !child_int(root, "height", &c->win_h))
        FAIL(L, GRIN_ERR_FORMAT, "%s: missing <width>/<height>", L->name);
    if (!check_window(L, c->win_w, c->win_h))
        return false;
    xmlNode *fp = child(root, "featureParams");
    if (!fp)
        FAIL(L, GRIN_ERR_FORMAT, "%s: missing <featureParams>", L->name);
    int ncat = 0;
    if (child(fp, "maxCatCount") && !child_int(fp, "maxCatCount", &ncat))
        FAIL(L, GRIN_ERR_FORMAT, "%s: bad <maxCatCount>", L->name);
    if (c->type == GRIN_FEATURE_LBP ? ncat != 256 : ncat != 0)
        FAIL(L, GRIN_ERR_FORMAT, "%s: maxCatCount %d does not fit %s features", L->name, ncat,
             c->type == GRIN_FEATURE_LBP ? "LBP (256)" : "HAAR (0)");
    c->ncategories = ncat;
    c->subset_words = (ncat + 31) / 32;
    int node_step = 3 + (ncat > 0 ? c->subset_words : 1);

    xmlNode *stages = child(root, "stages");
    if (!stages || !first_elem(stages))
        FAIL(L, GRIN_ERR_FORMAT, "%s: missing or empty <stages>", L->name);
    int si = 0;
    for (xmlNode *sn = first_elem(stages); sn; sn = next_elem(sn), si++) {
        if (si >= MAX_STAGES)
            FAIL(L, GRIN_ERR_TOO_LARGE, "%s: more than %d stages", L->name, MAX_STAGES);
        double thr;
        if (!child_double(sn, "stageThreshold", &thr))
            FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d: missing or bad <stageThreshold>", L->name, si);
        xmlNode *weak = child(sn, "weakClassifiers");
        int nweak = weak ? count_elems(weak) : 0;
        if (nweak == 0)
            FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d has no weak classifiers", L->name, si);
        int declared;
        if (child(sn, "maxWeakCount") &&
            (!child_int(sn, "maxWeakCount", &declared) || declared != nweak))
            FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d: maxWeakCount says %d but %d are present",
                 L->name, si, child_int(sn, "maxWeakCount", &declared) ? declared : -1, nweak);
        if (!GROW(L, stages, L->nstages, L->nstages + 1))
            return false;
        grin__stage *stage = &L->stages[L->nstages++];
        stage->threshold = (float)thr - THRESHOLD_EPS;
        stage->ntrees = nweak;
        stage->first_tree = L->ntrees;
        int wi = 0;
        for (xmlNode *wn = first_elem(weak); wn; wn = next_elem(wn), wi++) {
            xmlNode *in = child(wn, "internalNodes"), *lv = child(wn, "leafValues");
            if (!in || !lv)
                FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d lacks internalNodes/leafValues",
                     L->name, si, wi);
            /* count numbers first so every index can be checked */
            tokens t;
            const char *s;
            size_t len;
            int nvals = 0, nleaf = 0;
            tok_open(&t, in);
            while (tok_next(&t, &s, &len))
                if (++nvals > MAX_TOTAL_NODES)
                    break;
            tok_close(&t);
            tok_open(&t, lv);
            while (tok_next(&t, &s, &len))
                if (++nleaf > MAX_TOTAL_NODES)
                    break;
            tok_close(&t);
            if (nvals == 0 || nvals % node_step != 0)
                FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d: %d internalNodes values is not a "
                     "multiple of %d", L->name, si, wi, nvals, node_step);
            int ncount = nvals / node_step;
            if (nleaf != ncount + 1)
                FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d: %d leaves for %d nodes (need %d)",
                     L->name, si, wi, nleaf, ncount, ncount + 1);
            if (L->nnodes + ncount > MAX_TOTAL_NODES)
                FAIL(L, GRIN_ERR_TOO_LARGE, "%s: more than %d tree nodes", L->name,
                     MAX_TOTAL_NODES);
            if (!GROW(L, trees, L->ntrees, L->ntrees + 1) ||
                !GROW(L, nodes, L->nnodes, L->nnodes + ncount) ||
                !GROW(L, leaves, L->nleaves, L->nleaves + nleaf) ||
                (ncat && !GROW(L, subsets, L->nsubsets, L->nsubsets + ncount * c->subset_words)))
                return false;
            grin__tree *tree = &L->trees[L->ntrees++];
            tree->node_count = ncount;
            tree->first_node = L->nnodes;
            tree->first_leaf = L->nleaves;
            tok_open(&t, in);
            for (int k = 0; k < ncount; k++) {
                grin__node *nd = &L->nodes[L->nnodes++];
                memset(nd, 0, sizeof *nd);
                bool ok = tok_int(&t, &nd->left) && tok_int(&t, &nd->right) &&
                          tok_int(&t, &nd->feature);
                if (ok && ncat) {
                    nd->subset = L->nsubsets;
                    for (int j = 0; ok && j < c->subset_words; j++)
                        ok = tok_int(&t, &L->subsets[L->nsubsets++]);
                } else if (ok) {
                    double thrd;
                    ok = tok_double(&t, &thrd);
                    nd->threshold = (float)thrd;
                }
                if (!ok) {
                    tok_close(&t);
                    FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d node %d: malformed numbers",
                         L->name, si, wi, k);
                }
                /* children: a later node (so evaluation always ends) or a leaf */
                int ch[2] = {nd->left, nd->right};
                for (int j = 0; j < 2; j++) {
                    bool good = ch[j] > 0 ? (ch[j] > k && ch[j] < ncount) : (ch[j] >= -ncount); /* (no negation: INT_MIN) */
                    if (!good) {
                        tok_close(&t);
                        FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d node %d: child index %d out "
                             "of range", L->name, si, wi, k, ch[j]);
                    }
                }
                if (nd->feature < 0 || nd->feature >= MAX_FEATURES) {
                    tok_close(&t);
                    FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d node %d: feature index %d out of "
                         "range", L->name, si, wi, k, nd->feature);
                }
            }
            tok_close(&t);
            tok_open(&t, lv);
            for (int k = 0; k < nleaf; k++) {
                double v;
                if (!tok_double(&t, &v)) {
                    tok_close(&t);
                    FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d: bad leaf value", L->name, si,
                         wi);
                }
                L->leaves[L->nleaves++] = (float)v;
            }
            tok_close(&t);
        }
    }
    xmlNode *feats = child(root, "features");
    if (!feats)
        FAIL(L, GRIN_ERR_FORMAT, "%s: missing <features>", L->name);
    for (xmlNode *fn = first_elem(feats); fn; fn = next_elem(fn)) {
        if (L->nfeatures >= MAX_FEATURES)
            FAIL(L, GRIN_ERR_TOO_LARGE, "%s: more than %d features", L->name, MAX_FEATURES);
        if (!GROW(L, features, L->nfeatures, L->nfeatures + 1))
            return false;
        grin__feature *f = &L->features[L->nfeatures];
        bool ok = c->type == GRIN_FEATURE_HAAR ? read_haar_feature(L, fn, f, c->win_w, c->win_h)
                                              : read_lbp_feature(L, fn, f, c->win_w, c->win_h);
        if (!ok)
            return false;
        L->nfeatures++;
    }
    return true;
}

/* ------------------------------------------------------------------ old format */

static bool read_old_child_index(loader *L, const xmlNode *nn, const char *node_name,
                                 const char *val_name, int k, int ncount, int *out, int si, int ti)
{
    int idx;
    double v;
    if (child(nn, node_name)) {
        if (!child_int(nn, node_name, &idx) || idx <= k || idx >= ncount)
            FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d node %d: bad <%s>", L->name, si, ti, k,
                 node_name);
        *out = idx;
        return true;
    }
    if (!child_double(nn, val_name, &v))
        FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d node %d: needs <%s> or <%s>", L->name, si,
             ti, k, node_name, val_name);
    if (!GROW(L, leaves, L->nleaves, L->nleaves + 1))
        return false;
    *out = -(L->nleaves - L->trees[L->ntrees - 1].first_leaf);
    L->leaves[L->nleaves++] = (float)v;
    return true;
}

static bool read_old(loader *L, const xmlNode *root, grin_cascade *c)
{
    c->type = GRIN_FEATURE_HAAR;
    c->old_format = true;
    xmlNode *size = child(root, "size");
    if (!size)
        FAIL(L, GRIN_ERR_FORMAT, "%s: old-format cascade without <size>", L->name);
    tokens t;
    tok_open(&t, size);
    bool ok = tok_int(&t, &c->win_w) && tok_int(&t, &c->win_h) && tok_end(&t);
    tok_close(&t);
    if (!ok)
        FAIL(L, GRIN_ERR_FORMAT, "%s: <size> must be 'width height'", L->name);
    if (!check_window(L, c->win_w, c->win_h))
        return false;
    xmlNode *stages = child(root, "stages");
    if (!stages || !first_elem(stages))
        FAIL(L, GRIN_ERR_FORMAT, "%s: missing or empty <stages>", L->name);
    int si = 0;
    for (xmlNode *sn = first_elem(stages); sn; sn = next_elem(sn), si++) {
        if (si >= MAX_STAGES)
            FAIL(L, GRIN_ERR_TOO_LARGE, "%s: more than %d stages", L->name, MAX_STAGES);
        double thr;
        if (!child_double(sn, "stage_threshold", &thr))
            FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d: missing or bad <stage_threshold>", L->name, si);
        xmlNode *trees = child(sn, "trees");
        int ntrees = trees ? count_elems(trees) : 0;
        if (ntrees == 0)
            FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d has no trees", L->name, si);
        if (!GROW(L, stages, L->nstages, L->nstages + 1))
            return false;
        grin__stage *stage = &L->stages[L->nstages++];
        stage->threshold = (float)thr - THRESHOLD_EPS;
        stage->ntrees = ntrees;
        stage->first_tree = L->ntrees;
        int ti = 0;
        for (xmlNode *tn = first_elem(trees); tn; tn = next_elem(tn), ti++) {
            int ncount = count_elems(tn);
            if (ncount == 0)
                FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d is empty", L->name, si, ti);
            if (L->nnodes + ncount > MAX_TOTAL_NODES)
                FAIL(L, GRIN_ERR_TOO_LARGE, "%s: more than %d tree nodes", L->name,
                     MAX_TOTAL_NODES);
            if (!GROW(L, trees, L->ntrees, L->ntrees + 1) ||
                !GROW(L, nodes, L->nnodes, L->nnodes + ncount))
                return false;
            grin__tree *tree = &L->trees[L->ntrees++];
            tree->node_count = ncount;
            tree->first_node = L->nnodes;
            tree->first_leaf = L->nleaves;
            int k = 0;
            for (xmlNode *nn = first_elem(tn); nn; nn = next_elem(nn), k++) {
                grin__node *nd = &L->nodes[L->nnodes++];
                memset(nd, 0, sizeof *nd);
                double nthr;
                xmlNode *fn = child(nn, "feature");
                if (!fn || !child_double(nn, "threshold", &nthr))
                    FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d node %d: needs <feature> and "
                         "<threshold>", L->name, si, ti, k);
                nd->threshold = (float)nthr;
                if (L->nfeatures >= MAX_FEATURES)
                    FAIL(L, GRIN_ERR_TOO_LARGE, "%s: more than %d features", L->name,
                         MAX_FEATURES);
                if (!GROW(L, features, L->nfeatures, L->nfeatures + 1))
                    return false;
                if (!read_haar_feature(L, fn, &L->features[L->nfeatures], c->win_w, c->win_h))
                    return false;
                nd->feature = L->nfeatures++;
                if (!read_old_child_index(L, nn, "left_node", "left_val", k, ncount, &nd->left, si,
                                          ti) ||
                    !read_old_child_index(L, nn, "right_node", "right_val", k, ncount, &nd->right,
                                          si, ti))
                    return false;
            }
            if (L->nleaves - tree->first_leaf != ncount + 1)
                FAIL(L, GRIN_ERR_FORMAT, "%s: stage %d tree %d: %d leaves for %d nodes", L->name,
                     si, ti, L->nleaves - tree->first_leaf, ncount);
        }
    }
    return true;
}

/* ------------------------------------------------------------------ entry points */

static void free_loader(loader *L)
{
    free(L->stages);
    free(L->trees);
    free(L->nodes);
    free(L->leaves);
    free(L->subsets);
    free(L->features);
}

void grin_cascade_free(grin_cascade *c)
{
    if (!c)
        return;
    free(c->stages);
    free(c->trees);
    free(c->nodes);
    free(c->leaves);
    free(c->subsets);
    free(c->features);
    free(c);
}

static void silent_xml_error(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

grin_status grin_cascade_load_memory(const void *xml, size_t size, const char *name,
                                     grin_cascade **out, grin_error *err)
{
    if (!out || (!xml && size))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    *out = NULL;
    if (!name)
        name = "<memory>";
    if (size == 0)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: empty file", name);
    if (size > MAX_FILE_BYTES)
        return grin__fail(err, GRIN_ERR_TOO_LARGE, "%s: cascade of %zu bytes is too large", name,
                          size);
    const char *what = grin__sniff(xml, size);
    if (what && strncmp(what, "an XML", 6) != 0)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: not a cascade XML file: looks like %s", name,
                          what);
    /* libxml2 reports some errors (a declared encoding whose conversion fails) through its generic
     * handler, which prints to stderr whatever the parse options: silenced for this thread while
     * parsing, so the caller gets one message (its last error, below) */
    xmlGenericErrorFunc old_fn = xmlGenericError;
    void *old_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(NULL, silent_xml_error);
    xmlDoc *doc = xmlReadMemory(xml, (int)size, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlSetGenericErrorFunc(old_ctx, old_fn);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: not well-formed XML%s%s (line %d)", name,
                          e && e->message ? ": " : "", e && e->message ? e->message : "",
                          e ? e->line : 0);
    }
    if (doc->intSubset || doc->extSubset) {
        xmlFreeDoc(doc);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: cascade XML must not carry a DTD or entity "
                          "declarations", name);
    }
    xmlNode *top = xmlDocGetRootElement(doc);
    if (!is_elem(top, "opencv_storage")) {
        grin__fail(err, GRIN_ERR_FORMAT, "%s: not an OpenCV cascade: root element is <%.64s>, "
                   "not <opencv_storage>", name, top ? (const char *)top->name : "none");
        xmlFreeDoc(doc);
        return GRIN_ERR_FORMAT;
    }
    xmlNode *root = first_elem(top);
    loader L = {.name = name, .err = err, .st = GRIN_OK};
    grin_cascade *c = calloc(1, sizeof *c);
    bool ok = false;
    if (!c) {
        L.st = grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", name);
    } else if (root && child(root, "stageType")) {
        ok = read_new(&L, root, c);
    } else if (root && child(root, "size") && child(root, "stages")) {
        ok = read_old(&L, root, c);
    } else {
        L.st = grin__fail(err, GRIN_ERR_FORMAT, "%s: <opencv_storage> holds no cascade (neither "
                          "opencv-cascade-classifier nor opencv-haar-classifier)", name);
    }
    xmlFreeDoc(doc);
    if (ok) {
        /* every node's feature must exist */
        for (int i = 0; i < L.nnodes; i++)
            if (L.nodes[i].feature >= L.nfeatures) {
                L.st = grin__fail(err, GRIN_ERR_FORMAT, "%s: a tree uses feature %d but only %d "
                                  "features are defined", name, L.nodes[i].feature, L.nfeatures);
                ok = false;
                break;
            }
    }
    if (!ok) {
        free_loader(&L);
        free(c);
        return L.st ? L.st : GRIN_ERR_FORMAT;
    }
    c->nstages = L.nstages;
    c->ntrees = L.ntrees;
    c->nnodes = L.nnodes;
    c->nleaves = L.nleaves;
    c->nfeatures = L.nfeatures;
    c->stages = L.stages;
    c->trees = L.trees;
    c->nodes = L.nodes;
    c->leaves = L.leaves;
    c->subsets = L.subsets;
    c->features = L.features;
    c->max_nodes = 0;
    for (int i = 0; i < c->ntrees; i++)
        if (c->trees[i].node_count > c->max_nodes)
            c->max_nodes = c->trees[i].node_count;
    for (int i = 0; i < c->nfeatures; i++)
        if (c->features[i].tilted)
            c->has_tilted = true;
    *out = c;
    return GRIN_OK;
}

grin_status grin_cascade_load(const char *path, grin_cascade **out, grin_error *err)
{
    if (!path || !out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    *out = NULL;
    uint8_t *data;
    size_t size;
    grin_status st = grin__read_file(path, &data, &size, MAX_FILE_BYTES, err);
    if (st)
        return st;
    st = grin_cascade_load_memory(data, size, path, out, err);
    free(data);
    return st;
}

void grin_cascade_get_info(const grin_cascade *c, grin_cascade_info *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    out->feature_type = c->type;
    out->window_width = c->win_w;
    out->window_height = c->win_h;
    out->stages = c->nstages;
    out->weak_classifiers = c->ntrees;
    out->features = c->nfeatures;
    out->max_tree_nodes = c->max_nodes;
    out->has_tilted = c->has_tilted;
    out->old_format = c->old_format;
}
