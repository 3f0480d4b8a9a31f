/* landmarks_internal.h — the in-memory ERT landmark model shared by the dlib reader, grin's
 * own format and the evaluator. Arrays either own heap memory or point into a mapping. */
#ifndef GRIN_LANDMARKS_INTERNAL_H
#define GRIN_LANDMARKS_INTERNAL_H

#include "../core/internal.h"

typedef struct {
    uint32_t first_tree, ntrees;
    uint32_t first_feature, nfeatures;
} grin__lm_level;

typedef struct {
    uint32_t first_split, nsplits; /* splits of a complete binary tree in breadth-first order */
    uint32_t first_leaf;           /* index of the tree's first leaf vector */
    uint32_t nleaves;              /* nsplits + 1, a power of two */
} grin__lm_tree;

typedef struct {
    uint32_t idx1, idx2; /* feature indices within the level */
    float thresh;
} grin__lm_split;

struct grin_landmarker {
    uint32_t parts, nlevels, ntrees, nfeatures, nsplits, nleaves;
    grin_leaf_type leaf_type;
    const float *initial;        /* 2 * parts */
    const grin__lm_level *levels;
    const uint32_t *anchor;      /* nfeatures */
    const float *deltas;         /* 2 * nfeatures */
    const grin__lm_tree *trees;
    const grin__lm_split *splits;
    const void *leaves;          /* nleaves * 2 * parts values of leaf_type */
    const float *scales;         /* GRIN_LEAVES_Q16: one per leaf vector */
    /* ownership */
    void *heap[8];
    void *map;
    size_t map_size;
    bool native;
};

/* Checks every index of a filled-in model; fills err and returns non-zero when bad. */
grin_status grin__lm_validate(const grin_landmarker *m, const char *name, grin_error *err);
grin_status grin__lm_read_dlib(const uint8_t *data, size_t size, const char *name,
                               grin_landmarker *m, grin_error *err);
grin_status grin__lm_read_native(const uint8_t *data, size_t size, const char *name,
                                 grin_landmarker *m, grin_error *err);
bool grin__lm_is_native(const uint8_t *data, size_t size);

#endif
