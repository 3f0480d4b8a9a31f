/* cascade_internal.h — the in-memory form of a boosted cascade, shared by the XML loader
 * (cascade_xml.c) and the evaluator (detect.c). Layout mirrors OpenCV's so that evaluation
 * order, and therefore every floating-point rounding, is the same. */
#ifndef GRIN_CASCADE_INTERNAL_H
#define GRIN_CASCADE_INTERNAL_H

#include "../core/internal.h"

#define GRIN__MAX_WINDOW 1024

typedef struct {
    int x, y, w, h;
    float weight;
} grin__hrect;

typedef struct {
    grin__hrect r[3]; /* unused rects have weight 0; LBP uses r[0] as the block */
    int nrects;
    bool tilted;
} grin__feature;

typedef struct {
    float threshold; /* already lowered by OpenCV's THRESHOLD_EPS */
    int ntrees;
    int first_tree;
} grin__stage;

typedef struct {
    int node_count;
    int first_node;
    int first_leaf;
} grin__tree;

typedef struct {
    int left, right; /* > 0: node index in the tree; <= 0: minus a leaf index */
    int feature;
    float threshold;
    int subset; /* index into subsets (categorical) */
} grin__node;

struct grin_cascade {
    grin_feature_type type;
    int win_w, win_h;
    int nstages, ntrees, nnodes, nleaves, nfeatures;
    int ncategories, subset_words;
    int max_nodes;
    bool has_tilted, old_format;
    grin__stage *stages;
    grin__tree *trees;
    grin__node *nodes;
    float *leaves;
    int32_t *subsets;
    grin__feature *features;
};

#endif
