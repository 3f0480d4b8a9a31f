/* group.c — OpenCV's groupRectangles: raw window hits are clustered by similarity (transitive
 * closure), each cluster averaged, weak clusters dropped, and small boxes inside strong big
 * ones removed. Arithmetic matches OpenCV's (float reciprocal, round half to even). */
#include "detect_internal.h"

#include <math.h>
#include <stdlib.h>

static bool similar(grin_rect a, grin_rect b, double eps)
{
    double delta = eps * ((a.w < b.w ? a.w : b.w) + (a.h < b.h ? a.h : b.h)) * 0.5;
    return fabs((double)(a.x - b.x)) <= delta && fabs((double)(a.y - b.y)) <= delta &&
           fabs((double)(a.x + a.w - b.x - b.w)) <= delta &&
           fabs((double)(a.y + a.h - b.y - b.h)) <= delta;
}

static size_t find(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

size_t grin__group_rects(grin_rect *rects, size_t n, int group_threshold, double eps)
{
    if (group_threshold <= 0 || n == 0)
        return n;
    size_t *parent = malloc(n * sizeof *parent);
    size_t *label = malloc(n * sizeof *label);
    long long *acc = calloc(n * 4, sizeof *acc);
    int *count = calloc(n, sizeof *count);
    grin_rect *avg = malloc(n * sizeof *avg);
    if (!parent || !label || !acc || !count || !avg) {
        free(parent);
        free(label);
        free(acc);
        free(count);
        free(avg);
        return (size_t)-1;
    }
    for (size_t i = 0; i < n; i++)
        parent[i] = i;
    /* The caller sorts boxes by y. Two similar boxes differ in y by at most
     * eps * (w + h) / 2 of either one, so the inner loop can stop at the first box beyond that:
     * far from O(n^2) on busy frames, same classes. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if ((double)(rects[j].y - rects[i].y) > eps * (rects[i].w + rects[i].h) * 0.5)
                break;
            if (similar(rects[i], rects[j], eps)) {
                size_t a = find(parent, i), b = find(parent, j);
                if (a != b)
                    parent[b] = a;
            }
        }
    }
    size_t nclasses = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = find(parent, i);
        if (r == i)
            label[i] = nclasses++;
    }
    for (size_t i = 0; i < n; i++) {
        size_t cls = label[find(parent, i)];
        acc[cls * 4 + 0] += rects[i].x;
        acc[cls * 4 + 1] += rects[i].y;
        acc[cls * 4 + 2] += rects[i].w;
        acc[cls * 4 + 3] += rects[i].h;
        count[cls]++;
    }
    for (size_t k = 0; k < nclasses; k++) {
        float s = 1.0f / (float)count[k];
        avg[k].x = (int)lrintf((float)(int)acc[k * 4 + 0] * s);
        avg[k].y = (int)lrintf((float)(int)acc[k * 4 + 1] * s);
        avg[k].w = (int)lrintf((float)(int)acc[k * 4 + 2] * s);
        avg[k].h = (int)lrintf((float)(int)acc[k * 4 + 3] * s);
    }
    size_t out = 0;
    for (size_t i = 0; i < nclasses; i++) {
        grin_rect r1 = avg[i];
        int n1 = count[i];
        if (n1 <= group_threshold)
            continue;
        size_t j;
        for (j = 0; j < nclasses; j++) {
            int n2 = count[j];
            if (j == i || n2 <= group_threshold)
                continue;
            grin_rect r2 = avg[j];
            int dx = (int)lrint(r2.w * eps), dy = (int)lrint(r2.h * eps);
            if (r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.w <= r2.x + r2.w + dx &&
                r1.y + r1.h <= r2.y + r2.h + dy && (n2 > (n1 > 3 ? n1 : 3) || n1 < 3))
                break;
        }
        if (j == nclasses)
            rects[out++] = r1;
    }
    free(parent);
    free(label);
    free(acc);
    free(count);
    free(avg);
    return out;
}
