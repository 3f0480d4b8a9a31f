/* train.h — training and evaluating grin's classifiers (internal): in-memory datasets of
 * aligned face crops, augmentation, Adam/SGD with cosine decay, ACC/AUC. */
#ifndef GRIN_TRAIN_H
#define GRIN_TRAIN_H

#include "model_io.h"

#define GRIN__MAX_AUX 48 /* auxiliary label columns a dataset may carry */

typedef struct {
    int n, size, channels;
    uint8_t *px; /* n x size x size x channels pixels p (the network sees p / 127.5 - 1): a
                  * quarter of the memory floats would take, and what the product's crops are */
    uint8_t *y; /* 0/1 */
    int bad;    /* rows skipped while loading */
    /* landmarks (the CSV's landmarks column, as grin align writes it): n x 68 points in crop
     * coordinates, has_lm[i] = 0 where row i has none (its crop is not aligned); both NULL when
     * no row was loaded with the column */
    grin_point2f *lm;
    uint8_t *has_lm;
    /* a vector dataset (size 1, channels D: the landmark branch's inputs) holds floats, not
     * pixels: each row's features and its mirror image's (what flip augmentation picks) */
    float *vec, *vec_mirror;
    /* grin__dataset_load_by: each row's value of the named column (n strings, "" where the row
     * has none); NULL otherwise */
    char **tag;
    /* auxiliary labels (grin__dataset_load_aux): n x n_aux values, 0 or 1, or 255 where the row
     * has no value (its CSV lacks the column, or the field is not 0/1/-1); NULL when n_aux is 0 */
    int n_aux;
    uint8_t *aux;
    /* distillation: n probabilities a teacher (or an ensemble) gives each row, which
     * grin__train_cfg.distill blends into the target; NULL when there is no teacher */
    float *soft;
} grin__dataset;

/* Loads a labels CSV of crops (file,smile,...; paths relative to the CSV), resizing to size;
 * with a landmarks column (68 "x y" pairs, space-separated; empty for a crop not aligned) the
 * landmarks too, scaled with the crop. */
grin_status grin__dataset_load(const char *csv, int size, int channels, grin__dataset *out,
                               grin_error *err);
/* the same, keeping each row's value of column `by` in tag[] (per-group evaluation); a CSV without
 * that column is an error */
grin_status grin__dataset_load_by(const char *csv, int size, int channels, const char *by,
                                  grin__dataset *out, grin_error *err);
/* the same, with the auxiliary labels of columns names[0..n_aux-1] (0/1; CelebA's -1 reads as 0):
 * a CSV without a column gives its rows no value for it */
grin_status grin__dataset_load_aux(const char *csv, int size, int channels, const char *const *names,
                                   int n_aux, grin__dataset *out, grin_error *err);
/* dst gets src's rows (not tagged datasets; both with the same auxiliary columns, or dst empty) */
grin_status grin__dataset_append(grin__dataset *dst, const grin__dataset *src);
/* crops first..first+count-1 as the network's input floats (count x size x size x channels) */
void grin__dataset_floats(const grin__dataset *d, int first, int count, float *x);
void grin__dataset_free(grin__dataset *d);

/* The landmark branch's training set from the rows of d that have landmarks (crops S x S) */
grin_status grin__dataset_lm_vectors(const grin__dataset *d, const grin__lm_branch *b, int S,
                                     grin__dataset *out);

typedef struct {
    int epochs, batch;
    float lr, weight_decay, momentum;
    bool sgd; /* else Adam */
    uint64_t seed;
    float zoom, shear, brightness, contrast; /* augmentation ranges; flip is always on */
    /* off (0) by default: rotation up to +-rotate degrees, a shift up to +-shift of the side, and
     * with probability blur one or two passes of a [1 2 1] blur (a face seen at lower resolution
     * or out of focus, as a detector's small crop is) */
    float rotate, shift, blur;
    bool flip;
    bool verbose_tty;
    /* after every epoch the whole training state (weights, batch-norm statistics, optimiser
     * moments, shuffle order, random state) is written here, atomically; with resume, training
     * continues from it if it exists. A resumed run ends with the same weights as one that was
     * never stopped. */
    const char *checkpoint;
    bool resume;
    int stop_after; /* tests: return after this many epochs of this call (0 = run to the end) */
    /* Each batch is cut into `shards` parts (default 2) that are run forward and backward on
     * their own, with their own batch-norm statistics ("ghost batches"), and their gradients
     * summed in order: `threads` workers (0 = one per CPU) run the shards in parallel, and the
     * result is bit-identical for any number of threads. */
    int shards, threads;
    /* multi-task training: with auxiliary labels in the training set (and a net with 1 + n_aux
     * outputs), each auxiliary head adds aux_weight / n_aux times its cross-entropy on the rows
     * that have its label (default 1) */
    float aux_weight;
    /* distillation (a training set with soft[]): the smile's target is (1 - distill) x the label +
     * distill x the teacher's probability; 0 trains on the labels alone */
    float distill;
} grin__train_cfg;

void grin__train_cfg_default(grin__train_cfg *c);

/* One augmented copy of row i of set as the network's input floats, drawing from *rng */
void grin__augment(const grin__dataset *set, int i, float *dst, const grin__train_cfg *cfg, uint64_t *rng);

typedef grin_metrics grin__metrics; /* grin.h's */

/* Probabilities for a dataset (inference mode), and metrics from them. */
grin_status grin__predict(const grin__nn_net *net, const grin__dataset *d, float *prob);
static inline void grin__metrics_from(const float *prob, const uint8_t *y, int n, grin__metrics *m)
{
    grin_metrics_compute(prob, y, n > 0 ? (size_t)n : 0, m);
}

typedef void (*grin__epoch_fn)(void *ctx, int epoch, double train_loss, double train_acc,
                               const grin__metrics *val, double seconds);
/* on_epoch is called for the epochs run in this call (a resumed run starts after the
 * checkpoint's). */
grin_status grin__train(grin__nn_net *net, const grin__dataset *train, const grin__dataset *val,
                        const grin__train_cfg *cfg, grin__epoch_fn on_epoch, void *ctx,
                        grin_error *err);

/* Trains a landmark branch (b->net built) on a vector dataset (grin__dataset_lm_vectors) with
 * mirror augmentation: inputs are standardised while training (statistics of the faces and their
 * mirror images; train and val are modified) and the scaling is folded into the first layer
 * afterwards, so the branch reads grin__lm_features as they are. */
grin_status grin__train_lm_branch(grin__lm_branch *b, grin__dataset *train, grin__dataset *val,
                                  const grin__train_cfg *cfg, grin__epoch_fn on_epoch, void *ctx,
                                  grin_error *err);

#endif
