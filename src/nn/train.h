/* train.h — training and evaluating grin's classifiers (internal): in-memory datasets of
 * aligned face crops, augmentation, Adam/SGD with cosine decay, ACC/AUC. */
#ifndef GRIN_TRAIN_H
#define GRIN_TRAIN_H

#include "nn.h"

typedef struct {
    int n, size, channels;
    uint8_t *px; /* n x size x size x channels pixels p (the network sees p / 127.5 - 1): a
                  * quarter of the memory floats would take, and what the product's crops are */
    uint8_t *y; /* 0/1 */
    int bad;    /* rows skipped while loading */
} grin__dataset;

/* Loads a labels CSV of crops (file,smile,...; paths relative to the CSV), resizing to size. */
grin_status grin__dataset_load(const char *csv, int size, int channels, grin__dataset *out,
                               grin_error *err);
grin_status grin__dataset_append(grin__dataset *dst, const grin__dataset *src);
/* crops first..first+count-1 as the network's input floats (count x size x size x channels) */
void grin__dataset_floats(const grin__dataset *d, int first, int count, float *x);
void grin__dataset_free(grin__dataset *d);

typedef struct {
    int epochs, batch;
    float lr, weight_decay, momentum;
    bool sgd; /* else Adam */
    uint64_t seed;
    float zoom, shear, brightness, contrast; /* augmentation ranges; flip is always on */
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
} grin__train_cfg;

void grin__train_cfg_default(grin__train_cfg *c);

typedef struct {
    double acc, auc, loss;
    int tp, fp, tn, fn;
} grin__metrics;

/* Probabilities for a dataset (inference mode), and metrics from them. */
grin_status grin__predict(const grin__nn_net *net, const grin__dataset *d, float *prob);
void grin__metrics_from(const float *prob, const uint8_t *y, int n, grin__metrics *m);

typedef void (*grin__epoch_fn)(void *ctx, int epoch, double train_loss, double train_acc,
                               const grin__metrics *val, double seconds);
/* on_epoch is called for the epochs run in this call (a resumed run starts after the
 * checkpoint's). */
grin_status grin__train(grin__nn_net *net, const grin__dataset *train, const grin__dataset *val,
                        const grin__train_cfg *cfg, grin__epoch_fn on_epoch, void *ctx,
                        grin_error *err);

#endif
