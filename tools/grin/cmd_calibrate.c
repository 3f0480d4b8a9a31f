/* cmd_calibrate.c — `grin calibrate`: how a model's outputs become the reported probability,
 * fitted on held-out crops: test-time mirroring, Platt scaling, and the landmark branch's fusion. */
#include "nn_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Platt scaling, generalised to k <= 2 inputs: the w of sigmoid(w0 z0 + ... + w[k]) that
 * minimises the cross-entropy against Platt's smoothed targets, by Newton's method with step
 * halving. z is n x k. */
static double platt_loss(const double *z, int k, const uint8_t *y, int n, double tpos, double tneg, const double *w)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        double f = w[k], t = y[i] ? tpos : tneg;
        for (int j = 0; j < k; j++)
            f += w[j] * z[(size_t)i * k + j];
        loss += f >= 0 ? t * log1p(exp(-f)) + (1 - t) * (f + log1p(exp(-f)))
                       : t * (-f + log1p(exp(f))) + (1 - t) * log1p(exp(f));
    }
    return loss;
}

/* solves the m x m system H x = g (m <= 3) by Gaussian elimination with pivoting; false when singular */
static bool solve_small(double H[3][3], double *g, int m, double *x)
{
    for (int c = 0; c < m; c++) {
        int piv = c;
        for (int r = c + 1; r < m; r++)
            if (fabs(H[r][c]) > fabs(H[piv][c]))
                piv = r;
        if (!(fabs(H[piv][c]) > 1e-300))
            return false;
        for (int k = 0; k < m; k++) {
            double t = H[c][k];
            H[c][k] = H[piv][k];
            H[piv][k] = t;
        }
        double t = g[c];
        g[c] = g[piv];
        g[piv] = t;
        for (int r = c + 1; r < m; r++) {
            double f = H[r][c] / H[c][c];
            for (int k = c; k < m; k++)
                H[r][k] -= f * H[c][k];
            g[r] -= f * g[c];
        }
    }
    for (int r = m - 1; r >= 0; r--) {
        double v = g[r];
        for (int k = r + 1; k < m; k++)
            v -= H[r][k] * x[k];
        x[r] = v / H[r][r];
    }
    return true;
}

static void fit_platt(const double *z, int k, const uint8_t *y, int n, double *w)
{
    int npos = 0;
    for (int i = 0; i < n; i++)
        npos += y[i];
    double tpos = (npos + 1.0) / (npos + 2.0), tneg = 1.0 / (n - npos + 2.0);
    const int m = k + 1;
    for (int j = 0; j < m; j++)
        w[j] = j < k ? 1 : 0;
    double loss = platt_loss(z, k, y, n, tpos, tneg, w);
    for (int it = 0; it < 100; it++) {
        double g[3] = {0}, H[3][3] = {{1e-12, 0, 0}, {0, 1e-12, 0}, {0, 0, 1e-12}}, x[3], wn[3];
        for (int i = 0; i < n; i++) {
            double v[3], f = w[k];
            for (int j = 0; j < k; j++) {
                v[j] = z[(size_t)i * k + j];
                f += w[j] * v[j];
            }
            v[k] = 1;
            double q = 1 / (1 + exp(-f)), t = y[i] ? tpos : tneg, h = q * (1 - q);
            for (int a = 0; a < m; a++) {
                g[a] += (q - t) * v[a];
                for (int b = 0; b < m; b++)
                    H[a][b] += h * v[a] * v[b];
            }
        }
        if (!solve_small(H, g, m, x))
            break;
        double step = 1, nl = loss;
        for (; step > 1e-6; step /= 2) {
            for (int j = 0; j < m; j++)
                wn[j] = w[j] - step * x[j];
            nl = platt_loss(z, k, y, n, tpos, tneg, wn);
            if (nl < loss)
                break;
        }
        if (!(nl < loss))
            break;
        memcpy(w, wn, (size_t)m * sizeof *w);
        bool done = loss - nl < 1e-10 * (1 + loss);
        loss = nl;
        if (done)
            break;
    }
}

/* the fused mapping's inputs from the rows of d with landmarks: the network's logit (mirrored when
 * flip) and the landmark branch's, n x 2 in zf, labels in yf; the count, or -1 when inference fails */
static int fuse_inputs(const grin__nn_plan *plan, const grin__model *m, const grin__dataset *d, bool flip,
                       double *zf, uint8_t *yf)
{
    float *p = malloc(sizeof *p * (size_t)(d->n ? d->n : 1));
    grin__post post = {.flip = flip};
    if (!p || plan_predict(plan, m, &post, d, p) != GRIN_OK) {
        free(p);
        return -1;
    }
    int nf = 0;
    for (int i = 0; d->has_lm && i < d->n; i++) {
        if (!d->has_lm[i])
            continue;
        float r, rm;
        grin__lm_outputs(&m->lm, m->input, d->lm + (size_t)i * 68, flip, &r, &rm);
        double q = p[i], u = flip ? 0.5 * ((double)r + rm) : r;
        q = q < 1e-7 ? 1e-7 : (q > 1 - 1e-7 ? 1 - 1e-7 : q);
        u = u < 1e-7 ? 1e-7 : (u > 1 - 1e-7 ? 1 - 1e-7 : u);
        zf[2 * nf] = log(q / (1 - q));
        zf[2 * nf + 1] = log(u / (1 - u));
        yf[nf++] = d->y[i];
    }
    free(p);
    return nf;
}

/* `grin calibrate`: test-time mirroring and a Platt calibration fitted on a tuning split; for a
 * model with a landmark branch also how its output and the network's combine (fuse=) */
int cmd_calibrate(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *labels[16], *fuse_labels[16];
    int nlabels = 0, nfuse = 0, flip = 1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin calibrate --model FILE --labels CSV [--labels CSV ...] [--no-flip]\n"
                   "       [--fuse-labels CSV ...] --out FILE\n"
                   "Fits how the model's output becomes the reported probability, on aligned crops\n"
                   "held out from training (a tuning split; never the validation split): the mean\n"
                   "of the crop's and its mirror image's outputs (unless --no-flip), mapped by\n"
                   "sigmoid(A * logit(p) + B) with A, B fitted by Platt scaling. A model with a\n"
                   "landmark branch (grin train --branch landmarks) also gets, fitted the same way\n"
                   "on the crops that have landmarks, sigmoid(A' logit(p) + B' logit(r) + C'), r the\n"
                   "branch's output (mirrored too): what faces with usable landmarks are given;\n"
                   "--fuse-labels fits that one on other crops (default: the --labels); with no\n"
                   "crops that have landmarks the model's fuse line is kept (it reads the raw\n"
                   "outputs, not the Platt mapping).\n"
                   "Writes the model with test_flip=, platt= (and fuse=) metadata lines, which\n"
                   "every classifier call applies.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--model") && v)
            model = v, i++;
        else if (!strcmp(argv[i], "--labels") && v && nlabels < 16)
            labels[nlabels++] = v, i++;
        else if (!strcmp(argv[i], "--fuse-labels") && v && nfuse < 16)
            fuse_labels[nfuse++] = v, i++;
        else if (!strcmp(argv[i], "--out") && v)
            out = v, i++;
        else if (!strcmp(argv[i], "--no-flip"))
            flip = 0;
        else {
            cli_error("calibrate: unknown or incomplete option '%s' (see grin calibrate --help)", argv[i]);
            return 2;
        }
    }
    if (!model || !nlabels || !out) {
        cli_error("calibrate: --model FILE, --labels CSV and --out FILE are required");
        return 2;
    }
    if (output_is_input(out, model, "model"))
        return 2;
    for (int k = 0; k < nlabels; k++)
        if (output_is_input(out, labels[k], "labels CSV"))
            return 2;
    for (int k = 0; k < nfuse; k++)
        if (output_is_input(out, fuse_labels[k], "labels CSV"))
            return 2;
    grin_error err = {{0}};
    grin__model m;
    grin__nn_plan plan;
    if (!open_plan(model, false, &m, &plan))
        return 1;
    grin__dataset d, fd = {0};
    int rc = load_sets(labels, nlabels, m.input, m.channels, &d) ? 0 : 1;
    if (!rc && nfuse && !m.lm.count) {
        cli_error("calibrate: --fuse-labels, but %s has no landmark branch (grin train --branch landmarks)", model);
        rc = 2;
    }
    if (!rc && nfuse && !load_sets(fuse_labels, nfuse, m.input, m.channels, &fd))
        rc = 1;
    const grin__dataset *fset = nfuse ? &fd : &d; /* what the fused mapping is fitted on */
    int npos = 0;
    for (int i = 0; !rc && i < d.n; i++)
        npos += d.y[i];
    if (!rc && (npos == 0 || npos == d.n)) {
        cli_error("calibrate: the tuning crops need both smiling and non-smiling faces (%d of %d smile)",
                  npos, d.n);
        rc = 1;
    }
    float *p = rc ? NULL : malloc(sizeof *p * (size_t)d.n);
    float *pf = rc ? NULL : malloc(sizeof *pf * (size_t)(fset->n + 1));
    double *z = rc ? NULL : malloc(sizeof *z * (size_t)d.n);
    double *zf = rc ? NULL : malloc(2 * sizeof *zf * (size_t)(fset->n + 1));
    uint8_t *yf = rc ? NULL : malloc((size_t)(fset->n + 1));
    if (!rc && (!p || !pf || !z || !zf || !yf)) {
        cli_error("calibrate: out of memory");
        rc = 1;
    }
    grin__post post = {.flip = flip != 0};
    if (!rc && plan_predict(&plan, &m, &post, &d, p) != GRIN_OK) {
        cli_error("calibrate: inference failed");
        rc = 1;
    }
    if (!rc) {
        grin__metrics before, after;
        grin__metrics_from(p, d.y, d.n, &before);
        for (int i = 0; i < d.n; i++) {
            double q = p[i] < 1e-7 ? 1e-7 : (p[i] > 1 - 1e-7 ? 1 - 1e-7 : p[i]);
            z[i] = log(q / (1 - q));
        }
        double w[3];
        fit_platt(z, 1, d.y, d.n, w);
        double A = w[0], B = w[1];
        post.platt = true;
        post.a = (float)A;
        post.b = (float)B;
        /* the fused mapping, on the crops with landmarks */
        int nf = m.lm.count ? fuse_inputs(&plan, &m, fset, flip != 0, zf, yf) : 0, fpos = 0;
        double F[3] = {0, 0, 0};
        grin__metrics fb = {0}, fa = {0};
        if (nf < 0) {
            cli_error("calibrate: inference failed");
            rc = 1;
            nf = 0;
        }
        for (int k = 0; k < nf; k++)
            fpos += yf[k];
        /* no crops with landmarks: a fuse line stays valid (it reads the raw outputs, not the Platt
         * mapping) as long as the outputs are averaged the same way */
        bool keep_fuse = !rc && m.lm.count && nf == 0 && !nfuse && m.post.fuse && m.post.flip == (flip != 0);
        if (!rc && m.lm.count && nf == 0 && !keep_fuse) {
            cli_error("calibrate: %s has a landmark branch%s, but no crop in %s has landmarks", model,
                      m.post.fuse ? " whose fuse line must be fitted again (--no-flip changed)" : "",
                      nfuse ? "--fuse-labels" : "--labels");
            rc = 1;
        }
        bool fuse = nf > 0;
        if (fuse && (fpos == 0 || fpos == nf)) {
            cli_error("calibrate: the crops with landmarks need both smiling and non-smiling faces (%d of %d smile)",
                      fpos, nf);
            rc = 1;
        }
        if (!rc && fuse) {
            fit_platt(zf, 2, yf, nf, F);
            for (int k = 0; k < nf; k++) /* before: the network alone, Platt-mapped */
                pf[k] = (float)(1 / (1 + exp(-(A * zf[2 * k] + B))));
            grin__metrics_from(pf, yf, nf, &fb);
            for (int k = 0; k < nf; k++)
                pf[k] = (float)(1 / (1 + exp(-(F[0] * zf[2 * k] + F[1] * zf[2 * k + 1] + F[2]))));
            grin__metrics_from(pf, yf, nf, &fa);
            if (!(F[0] >= 0) || F[0] > 100 || !(F[1] >= 0) || F[1] > 100 || fabs(F[2]) > 100) {
                cli_error("calibrate: the fused fit is degenerate (%g, %g, %g): too few or unrepresentative crops",
                          F[0], F[1], F[2]);
                rc = 1;
            }
        }
        for (int i = 0; i < d.n; i++) /* p was already mirrored: apply the mapping only */
            p[i] = grin__post_apply(&(grin__post){.platt = true, .a = post.a, .b = post.b}, p[i], 0);
        grin__metrics_from(p, d.y, d.n, &after);
        char add[320], why[128];
        int off = snprintf(add, sizeof add, "test_flip=%d\nplatt=%.6g,%.6g\nplatt_crops=%d\n", flip, A, B, d.n);
        if (fuse)
            snprintf(add + off, sizeof add - (size_t)off, "fuse=%.6g,%.6g,%.6g\nfuse_crops=%d\n", F[0], F[1], F[2],
                     nf);
        static const char *const drop_all[] = {"test_flip=", "platt=", "platt_crops=", "fuse=", "fuse_crops=", NULL};
        static const char *const drop_platt[] = {"test_flip=", "platt=", "platt_crops=", NULL};
        const char *const *drop = keep_fuse ? drop_platt : drop_all;
        grin__post check;
        if (rc) {
            /* reported above */
        } else if (!(A > 0) || A > 100 || fabs(B) > 100) {
            cli_error("calibrate: the fit is degenerate (A %g, B %g): too few or unrepresentative crops", A, B);
            rc = 1;
        } else if (!meta_replace(m.meta, sizeof m.meta, drop, add) ||
                   !grin__post_parse(m.meta, &check, why, sizeof why)) {
            cli_error("calibrate: %s: metadata too long", model);
            rc = 1;
        } else if (grin__model_save(&m, out, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            rc = 1;
        } else {
            printf("tuning crops %d (%d smiling): accuracy %.4f -> %.4f, AUC %.4f -> %.4f, "
                   "decision threshold on the raw output %.3f\n", d.n, npos, before.acc, after.acc,
                   before.auc, after.auc, 1 / (1 + exp(B / A)));
            if (keep_fuse)
                printf("no crop has landmarks: the landmark branch keeps its fuse line\n");
            if (fuse)
                printf("with landmarks %d (%d smiling): the network alone %.4f / %.4f, with the landmark branch "
                       "%.4f / %.4f (fuse %.3g, %.3g, %.3g)\n", nf, fpos, fb.acc, fb.auc, fa.acc, fa.auc, F[0],
                       F[1], F[2]);
            printf("{\"model\":\"%s\",\"crops\":%d,\"flip\":%d,\"a\":%.6g,\"b\":%.6g,"
                   "\"acc_before\":%.4f,\"acc_after\":%.4f", model, d.n, flip, A, B, before.acc, after.acc);
            if (fuse)
                printf(",\"fuse\":[%.6g,%.6g,%.6g],\"fuse_crops\":%d,\"fuse_acc\":%.4f,\"fuse_auc\":%.4f", F[0],
                       F[1], F[2], nf, fa.acc, fa.auc);
            printf(",\"out\":\"%s\"}\n", out);
        }
    }
    free(p);
    free(pf);
    free(z);
    free(zf);
    free(yf);
    grin__dataset_free(&d);
    grin__dataset_free(&fd);
    grin__nn_plan_free(&plan);
    grin__model_free(&m);
    return rc;
}
