/* nn_util.h — helpers shared by the commands on trained classifiers (train, eval --aligned,
 * calibrate, quantize): labelled crops, model metadata, plan inference over a dataset. */
#ifndef GRIN_CLI_NN_UTIL_H
#define GRIN_CLI_NN_UTIL_H

#include "cli.h"

#include "nn/infer.h"
#include "nn/model_io.h"
#include "nn/train.h"

/* loads and joins the crops of several labels CSVs, reporting skipped rows; false (with the error
 * printed) when one can't be read */
bool load_sets(const char *const *labels, int n, int size, int ch, grin__dataset *out);
/* ... with auxiliary label columns (multi-task training), absent from some CSVs */
bool load_sets_aux(const char *const *labels, int n, int size, int ch, const char *const *aux, int n_aux,
                   grin__dataset *out);
/* Rewrites meta without its lines that start with any of `drop` (NULL-terminated), then appends
 * `add`; false when the result would not fit. */
bool meta_replace(char *meta, size_t cap, const char *const *drop, const char *add);
/* the model's inference plan (as grin_classify_crops runs it), in 8 bits when asked; false (with
 * the error printed) when it can't be loaded */
bool open_plan(const char *model, bool int8, grin__model *m, grin__nn_plan *plan);
/* whether row i gets the fused mapping under post */
bool row_fuses(const grin__model *m, const grin__post *post, const grin__dataset *d, int i);
/* the model's reported probabilities under post (test-time mirror, Platt mapping, and the fused
 * mapping on rows with landmarks) */
grin_status plan_predict(const grin__nn_plan *plan, const grin__model *m, const grin__post *post,
                         const grin__dataset *d, float *p);

/* An ensemble's probabilities for the crops of d (loaded from the CSVs `labels` at d's size): the
 * mean of each model's reported probability, its test-time mirror always on (the models' input
 * sizes may differ: a model of another size reads the CSVs again at its own). False, with the error
 * printed, when a model can't be loaded or sees other rows. */
bool ensemble_predict(const char *const *models, int nmodels, const char *const *labels, int nlabels,
                      const grin__dataset *d, bool int8, bool no_branch, float *p);

#endif
