/* metrics.c — accuracy, AUC and their 95% intervals from probabilities and 0/1 labels: what
 * grin eval, grin classify --labels and training report. */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float p;
    uint8_t y;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    float x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return x < y ? -1 : x > y;
}

void grin_metrics_compute(const float *prob, const unsigned char *y, size_t count, grin_metrics *m)
{
    if (!m)
        return;
    memset(m, 0, sizeof *m);
    if (!prob || !y || count > (size_t)INT_MAX)
        return;
    int n = (int)count;
    double loss = 0;
    scored *s = malloc(sizeof *s * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        bool pos = prob[i] >= 0.5f;
        if (y[i])
            pos ? m->tp++ : m->fn++;
        else
            pos ? m->fp++ : m->tn++;
        double p = fmin(fmax(prob[i], 1e-7), 1 - 1e-7);
        loss -= y[i] ? log(p) : log(1 - p);
        if (s)
            s[i] = (scored){prob[i], y[i]};
    }
    m->acc = n ? (double)(m->tp + m->tn) / n : 0;
    m->loss = n ? loss / n : 0;
    /* Wilson's score interval for a proportion: unlike the normal one it stays inside [0, 1] and
     * keeps its coverage near 1, where a good classifier's accuracy is */
    const double z = 1.959964;
    if (n) {
        double c = 1 + z * z / n, mid = (m->acc + z * z / (2.0 * n)) / c,
               half = z / c * sqrt(m->acc * (1 - m->acc) / n + z * z / (4.0 * n * n));
        m->acc_lo = fmax(0, mid - half);
        m->acc_hi = fmin(1, mid + half);
    }
    if (!s)
        return;
    /* AUC as the Mann-Whitney statistic, ties counted half, and its variance by DeLong's method
     * (DeLong, DeLong & Clarke-Pearson 1988): each positive's share of negatives ranked below it
     * (V10) and each negative's share of positives ranked above it (V01), var = var(V10)/npos +
     * var(V01)/nneg. One pass over groups of tied scores, lowest first. */
    qsort(s, (size_t)n, sizeof *s, cmp_scored);
    long npos = 0;
    for (int i = 0; i < n; i++)
        npos += s[i].y;
    long nneg = n - npos;
    if (npos && nneg) {
        double s10 = 0, q10 = 0, s01 = 0, q01 = 0;
        long neg_below = 0, pos_below = 0;
        for (int i = 0; i < n;) {
            int j = i;
            long pg = 0, ng = 0;
            while (j < n && s[j].p == s[i].p)
                pg += s[j++].y;
            ng = (j - i) - pg;
            double v10 = (neg_below + 0.5 * ng) / nneg, v01 = (npos - pos_below - pg + 0.5 * pg) / npos;
            s10 += pg * v10, q10 += pg * v10 * v10;
            s01 += ng * v01, q01 += ng * v01 * v01;
            neg_below += ng, pos_below += pg;
            i = j;
        }
        m->auc = s10 / npos;
        double var10 = npos > 1 ? (q10 - s10 * s10 / npos) / (npos - 1) : 0,
               var01 = nneg > 1 ? (q01 - s01 * s01 / nneg) / (nneg - 1) : 0;
        double se = sqrt(fmax(0, var10 / npos + var01 / nneg));
        m->auc_lo = fmax(0, m->auc - z * se);
        m->auc_hi = fmin(1, m->auc + z * se);
    }
    free(s);
}
