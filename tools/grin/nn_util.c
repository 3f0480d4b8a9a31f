/* nn_util.c — what the commands on trained classifiers share: loading labelled crops, rewriting
 * a model's metadata lines, and running a model's inference plan over a dataset the way
 * grin_classify_faces would (mirror, Platt mapping, landmark branch). */
#include "nn_util.h"

#include <stdlib.h>
#include <string.h>

/* loads and joins the crops of several labels CSVs, reporting skipped rows; false (with the error
 * printed) when one can't be read */
bool load_sets(const char *const *labels, int n, int size, int ch, grin__dataset *out)
{
    return load_sets_aux(labels, n, size, ch, NULL, 0, out);
}

bool load_sets_aux(const char *const *labels, int n, int size, int ch, const char *const *aux, int n_aux,
                   grin__dataset *out)
{
    memset(out, 0, sizeof *out);
    for (int k = 0; k < n; k++) {
        grin__dataset part;
        grin_error err = {{0}};
        if (grin__dataset_load_aux(labels[k], size, ch, aux, n_aux, &part, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            grin__dataset_free(out);
            return false;
        }
        if (part.bad)
            cli_error("%s: %d rows skipped (bad label or unreadable image)", labels[k], part.bad);
        grin_status st = grin__dataset_append(out, &part);
        grin__dataset_free(&part);
        if (st) {
            cli_error("%s: out of memory", labels[k]);
            grin__dataset_free(out);
            return false;
        }
    }
    return true;
}

/* Rewrites meta without its lines that start with any of `drop` (NULL-terminated), then
 * appends `add`; false when the result would not fit. */
bool meta_replace(char *meta, size_t cap, const char *const *drop, const char *add)
{
    char *tmp = malloc(cap);
    if (!tmp)
        return false;
    size_t off = 0;
    for (const char *p = meta; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        bool keep = true;
        for (const char *const *d = drop; *d && keep; d++)
            keep = strncmp(p, *d, strlen(*d)) != 0;
        if (keep && off + len < cap) {
            memcpy(tmp + off, p, len);
            off += len;
        }
        p += len;
    }
    if (off && tmp[off - 1] != '\n' && off + 1 < cap)
        tmp[off++] = '\n';
    size_t al = strlen(add);
    bool ok = off + al < cap;
    if (ok) {
        memcpy(tmp + off, add, al);
        tmp[off + al] = '\0';
        memcpy(meta, tmp, off + al + 1);
    }
    free(tmp);
    return ok;
}

/* the model's inference plan (as grin_classify_crops runs it), in 8 bits when asked; a network the
 * fast engine can't run (not a chain of layers) gets an empty plan: the training engine runs it */
bool open_plan(const char *model, bool int8, grin__model *m, grin__nn_plan *plan)
{
    grin_error err = {{0}};
    memset(m, 0, sizeof *m);
    memset(plan, 0, sizeof *plan);
    if (grin__model_load(model, m, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return false;
    }
    grin_status st = grin__nn_plan_build(&m->net, m->net.state, plan, &err);
    if (st == GRIN_ERR_UNSUPPORTED && !int8) {
        memset(plan, 0, sizeof *plan);
        return true;
    }
    if (st != GRIN_OK || (int8 && grin__nn_plan_apply_calibration(plan, m->meta, &err) != GRIN_OK)) {
        cli_error("%s: %s%s", model, err.msg, st == GRIN_ERR_UNSUPPORTED ? " (8 bits need the fast engine)" : "");
        grin__nn_plan_free(plan);
        grin__model_free(m);
        return false;
    }
    return true;
}

bool row_fuses(const grin__model *m, const grin__post *post, const grin__dataset *d, int i)
{
    return post->fuse && m->lm.count > 0 && d->has_lm && d->has_lm[i];
}

/* the network's raw outputs on rows i..i+b-1 (and their mirror images when flip), by the plan or,
 * when it is empty, by the training engine's forward pass in one batch */
static grin_status raw_outputs(const grin__nn_plan *plan, const grin__model *m, grin__nn_scratch *s, grin__nn_ws *ws,
                               const grin__dataset *d, int i, int b, bool flip, float *x, float *raw, float *mirror)
{
    size_t per = (size_t)d->size * d->size * d->channels;
    grin__dataset_floats(d, i, b, x);
    if (flip)
        for (int k = 0; k < b; k++)
            grin__mirror_input(x + (size_t)k * per, x + (size_t)(b + k) * per, d->size, d->channels);
    if (!plan->ops) {
        const float *out;
        grin_status st = grin__nn_forward(&m->net, ws, x, flip ? 2 * b : b, false, &out);
        for (int k = 0; !st && k < b; k++) {
            raw[k] = out[k];
            mirror[k] = flip ? out[b + k] : 0;
        }
        return st;
    }
    grin_status st = GRIN_OK;
    for (int k = 0; k < b && !st; k++) {
        mirror[k] = 0;
        st = grin__nn_plan_run(plan, s, x + (size_t)k * per, &raw[k], NULL);
        if (!st && flip)
            st = grin__nn_plan_run(plan, s, x + (size_t)(b + k) * per, &mirror[k], NULL);
    }
    return st;
}

/* the model's reported probabilities (its test-time mirror and calibration included; with a fuse
 * line, the landmark branch's output too on rows that have landmarks) */
grin_status plan_predict(const grin__nn_plan *plan, const grin__model *m, const grin__post *post,
                         const grin__dataset *d, float *p)
{
    enum { B = 16 };
    grin__nn_scratch s = {0};
    grin__nn_ws ws = {0};
    size_t per = (size_t)d->size * d->size * d->channels;
    float *x = malloc(2 * B * per * sizeof *x), raw[B], mirror[B];
    grin_status st = x ? GRIN_OK : GRIN_ERR_NO_MEMORY;
    for (int i = 0; i < d->n && !st; i += B) {
        int b = d->n - i < B ? d->n - i : B;
        st = raw_outputs(plan, m, &s, &ws, d, i, b, post->flip, x, raw, mirror);
        for (int k = 0; k < b && !st; k++) {
            if (row_fuses(m, post, d, i + k)) {
                float r, rm;
                grin__lm_outputs(&m->lm, m->input, d->lm + (size_t)(i + k) * 68, post->flip, &r, &rm);
                p[i + k] = grin__post_apply_lm(post, raw[k], mirror[k], r, rm);
            } else {
                p[i + k] = grin__post_apply(post, raw[k], mirror[k]);
            }
        }
    }
    free(x);
    grin__nn_scratch_free(&s);
    grin__nn_ws_free(&ws);
    return st;
}

bool ensemble_predict(const char *const *models, int nmodels, const char *const *labels, int nlabels,
                      const grin__dataset *d, bool int8, bool no_branch, float *p)
{
    float *q = malloc(sizeof *q * (size_t)(d->n ? d->n : 1));
    if (!q) {
        cli_error("out of memory");
        return false;
    }
    bool ok = true;
    for (int i = 0; i < d->n; i++)
        p[i] = 0;
    for (int k = 0; k < nmodels && ok; k++) {
        grin__model m;
        grin__nn_plan plan;
        if (!open_plan(models[k], int8, &m, &plan)) {
            ok = false;
            break;
        }
        grin__dataset own = {0};
        const grin__dataset *src = d;
        if (m.input != d->size || m.channels != d->channels) {
            ok = load_sets(labels, nlabels, m.input, m.channels, &own);
            if (ok && own.n != d->n) {
                cli_error("%s reads %d of the crops at %dx%dx%d, the others %d", models[k], own.n, m.input,
                          m.input, m.channels, d->n);
                ok = false;
            }
            src = &own;
        }
        grin__post post = m.post;
        post.flip = true; /* each model's best reading, whatever its calibration says */
        if (no_branch)
            post.fuse = false;
        if (ok && plan_predict(&plan, &m, &post, src, q) != GRIN_OK) {
            cli_error("%s: inference failed", models[k]);
            ok = false;
        }
        for (int i = 0; ok && i < d->n; i++)
            p[i] += q[i] / (float)nmodels;
        grin__dataset_free(&own);
        grin__nn_plan_free(&plan);
        grin__model_free(&m);
    }
    free(q);
    return ok;
}
