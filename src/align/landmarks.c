/* landmarks.c — loading landmark models (dlib's format or grin's, by content) and running the
 * ERT cascade exactly as dlib's shape_predictor::operator() does: the same similarity
 * transform, the same float operations in the same order, the same pixel rounding, the same
 * leaf sums. */
#include "landmarks_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_BYTES ((size_t)1 << 30)

grin_status grin__lm_validate(const grin_landmarker *m, const char *name, grin_error *err)
{
#define BAD(...) return grin__fail(err, GRIN_ERR_FORMAT, __VA_ARGS__)
    uint32_t trees = 0, feats = 0;
    for (uint32_t i = 0; i < 2 * m->parts; i++)
        if (!isfinite(m->initial[i]))
            BAD("%s: initial shape value %u is not finite", name, i);
    for (uint32_t l = 0; l < m->nlevels; l++) {
        const grin__lm_level *lv = &m->levels[l];
        if (lv->first_tree != trees || lv->ntrees > m->ntrees - trees ||
            lv->first_feature != feats || lv->nfeatures > m->nfeatures - feats)
            BAD("%s: level %u: tree or feature ranges out of bounds", name, l);
        for (uint32_t t = lv->first_tree; t < lv->first_tree + lv->ntrees; t++) {
            const grin__lm_tree *tr = &m->trees[t];
            uint32_t nl = tr->nleaves;
            if (nl != tr->nsplits + 1 || nl == 0 || (nl & (nl - 1)) != 0)
                BAD("%s: level %u tree %u: %u splits and %u leaves do not make a complete tree",
                    name, l, t - lv->first_tree, tr->nsplits, nl);
            if (tr->first_split > m->nsplits || tr->nsplits > m->nsplits - tr->first_split ||
                tr->first_leaf > m->nleaves || nl > m->nleaves - tr->first_leaf)
                BAD("%s: level %u tree %u: split or leaf range out of bounds", name, l,
                    t - lv->first_tree);
            for (uint32_t k = 0; k < tr->nsplits; k++) {
                const grin__lm_split *sp = &m->splits[tr->first_split + k];
                if (sp->idx1 >= lv->nfeatures || sp->idx2 >= lv->nfeatures)
                    BAD("%s: level %u tree %u: split reads feature %u of %u", name, l,
                        t - lv->first_tree, sp->idx1 > sp->idx2 ? sp->idx1 : sp->idx2,
                        lv->nfeatures);
                if (!isfinite(sp->thresh))
                    BAD("%s: level %u tree %u: threshold is not finite", name, l,
                        t - lv->first_tree);
            }
        }
        for (uint32_t f = lv->first_feature; f < lv->first_feature + lv->nfeatures; f++) {
            if (m->anchor[f] >= m->parts)
                BAD("%s: level %u: feature anchored to landmark %u of %u", name, l, m->anchor[f],
                    m->parts);
            if (!isfinite(m->deltas[2 * f]) || !isfinite(m->deltas[2 * f + 1]))
                BAD("%s: level %u: feature offset is not finite", name, l);
        }
        trees += lv->ntrees;
        feats += lv->nfeatures;
    }
    if (trees != m->ntrees || feats != m->nfeatures)
        BAD("%s: levels cover %u trees and %u features, the model has %u and %u", name, trees,
            feats, m->ntrees, m->nfeatures);
    /* leaf values: float32 models must be finite (float16 ones were checked when written) */
    if (m->leaf_type == GRIN_LEAVES_F32 || m->leaf_type == GRIN_LEAVES_F16) {
        /* an exponent of all ones is inf or NaN; a branch-free scan the compiler vectorises */
        size_t n = (size_t)m->nleaves * 2 * m->parts;
        unsigned bad = 0;
        if (m->leaf_type == GRIN_LEAVES_F32) {
            const uint32_t *w = m->leaves;
            for (size_t i = 0; i < n; i++)
                bad |= (w[i] & 0x7f800000u) == 0x7f800000u;
        } else {
            const uint16_t *w = m->leaves;
            for (size_t i = 0; i < n; i++)
                bad |= (w[i] & 0x7c00u) == 0x7c00u;
        }
        if (bad)
            BAD("%s: a leaf value is not finite", name);
    } else {
        for (uint32_t i = 0; i < m->nleaves; i++)
            if (!isfinite(m->scales[i]) || m->scales[i] < 0)
                BAD("%s: leaf scale %u is not a finite non-negative number", name, i);
    }
    return GRIN_OK;
#undef BAD
}

static grin_status load_common(const uint8_t *data, size_t size, const char *name,
                               grin_landmarker *m, grin_error *err)
{
    if (size == 0)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: empty file", name);
    if (grin__lm_is_native(data, size))
        return grin__lm_read_native(data, size, name, m, err);
    const char *what = grin__sniff(data, size); /* dlib's format has no magic of its own */
    if (what)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: not a landmark model: looks like %s", name,
                          what);
    return grin__lm_read_dlib(data, size, name, m, err);
}

void grin_landmarker_free(grin_landmarker *m)
{
    if (!m)
        return;
    for (int i = 0; i < 8; i++)
        free(m->heap[i]);
    if (m->map)
        munmap(m->map, m->map_size);
    free(m);
}

grin_status grin_landmarker_load_memory(const void *data, size_t size, const char *name,
                                        grin_landmarker **out, grin_error *err)
{
    if (!out || (!data && size))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    *out = NULL;
    if (!name)
        name = "<memory>";
    grin_landmarker *m = calloc(1, sizeof *m);
    if (!m)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", name);
    const uint8_t *d = data;
    if (grin__lm_is_native(d, size)) {
        /* arrays are used in place: give them the alignment they were written with */
        void *copy = grin__aligned_alloc(size);
        if (!copy) {
            free(m);
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", name);
        }
        memcpy(copy, d, size);
        m->heap[7] = copy;
        d = copy;
    }
    grin_status st = load_common(d, size, name, m, err);
    if (st) {
        grin_landmarker_free(m);
        return st;
    }
    *out = m;
    return GRIN_OK;
}

grin_status grin_landmarker_load(const char *path, grin_landmarker **out, grin_error *err)
{
    if (!path || !out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block the open */
    if (fd < 0)
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
        close(fd);
        return grin__fail(err, GRIN_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)stt.st_size;
    if (size > MAX_FILE_BYTES) {
        close(fd);
        return grin__fail(err, GRIN_ERR_TOO_LARGE, "%s: %zu bytes is too large for a model", path,
                          size);
    }
    grin_landmarker *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (map == MAP_FAILED) {
        free(m);
        if (size == 0)
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: empty file", path);
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    }
    m->map = map;
    m->map_size = size;
    grin_status st = load_common(map, size, path, m, err);
    if (st == GRIN_OK && !m->native) { /* dlib's format was parsed into the heap */
        munmap(map, size);
        m->map = NULL;
        m->map_size = 0;
    } else if (st == GRIN_OK) {
        posix_madvise(map, size, POSIX_MADV_WILLNEED);
    }
    if (st) {
        grin_landmarker_free(m);
        return st;
    }
    *out = m;
    return GRIN_OK;
}

void grin_landmarker_get_info(const grin_landmarker *m, grin_landmarker_info *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    out->parts = (int)m->parts;
    out->levels = (int)m->nlevels;
    out->trees = (int)m->ntrees;
    out->features = (int)m->nfeatures;
    out->leaf_type = (int)m->leaf_type;
    out->native = m->native;
}

/* ------------------------------------------------------------------ evaluation */

static inline float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, x;
    if (exp == 0) {
        if (man == 0) {
            x = sign;
        } else { /* subnormal */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            x = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000 | man << 13;
    } else {
        x = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* cur += leaves[idx[t]] for t in order. Reference version, any CPU. */
static void accumulate_ref(const grin_landmarker *m, float *cur, const uint32_t *idx, uint32_t n)
{
    const size_t P2 = 2 * (size_t)m->parts;
    const size_t bytes = P2 * (m->leaf_type == GRIN_LEAVES_F32 ? 4 : 2);
    for (uint32_t t = 0; t < n; t++) {
        if (t + 4 < n) {
            const char *next = (const char *)m->leaves + (size_t)idx[t + 4] * bytes;
            for (size_t o = 0; o < bytes; o += 64)
                __builtin_prefetch(next + o);
        }
        if (m->leaf_type == GRIN_LEAVES_F32) {
            const float *lv = (const float *)m->leaves + (size_t)idx[t] * P2;
            for (size_t k = 0; k < P2; k++)
                cur[k] += lv[k];
        } else if (m->leaf_type == GRIN_LEAVES_F16) {
            const uint16_t *lh = (const uint16_t *)m->leaves + (size_t)idx[t] * P2;
            for (size_t k = 0; k < P2; k++)
                cur[k] += half_to_float(lh[k]);
        } else {
            const int16_t *lq = (const int16_t *)m->leaves + (size_t)idx[t] * P2;
            const float sc = m->scales[idx[t]];
            for (size_t k = 0; k < P2; k++)
                cur[k] += (float)lq[k] * sc;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
/* The same sums 8 lanes at a time (16-bit leaves widen with F16C or a scaled int16 convert).
 * Each lane's additions happen in the reference's order, so results are identical. */
__attribute__((target("avx2,f16c"))) static void accumulate_avx2(const grin_landmarker *m,
                                                                 float *cur, const uint32_t *idx,
                                                                 uint32_t n)
{
    const size_t P2 = 2 * (size_t)m->parts, vec = P2 & ~(size_t)7;
    const size_t bytes = P2 * (m->leaf_type == GRIN_LEAVES_F32 ? 4 : 2);
    for (uint32_t t = 0; t < n; t++) {
        if (t + 4 < n) {
            const char *next = (const char *)m->leaves + (size_t)idx[t + 4] * bytes;
            for (size_t o = 0; o < bytes; o += 64)
                _mm_prefetch(next + o, _MM_HINT_T0);
        }
        size_t k = 0;
        if (m->leaf_type == GRIN_LEAVES_F32) {
            const float *lv = (const float *)m->leaves + (size_t)idx[t] * P2;
            for (; k < vec; k += 8)
                _mm256_storeu_ps(cur + k, _mm256_add_ps(_mm256_loadu_ps(cur + k), _mm256_loadu_ps(lv + k)));
            for (; k < P2; k++)
                cur[k] += lv[k];
        } else if (m->leaf_type == GRIN_LEAVES_F16) {
            const uint16_t *lh = (const uint16_t *)m->leaves + (size_t)idx[t] * P2;
            for (; k < vec; k += 8)
                _mm256_storeu_ps(cur + k, _mm256_add_ps(_mm256_loadu_ps(cur + k),
                                                        _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(lh + k)))));
            for (; k < P2; k++)
                cur[k] += half_to_float(lh[k]);
        } else {
            const int16_t *lq = (const int16_t *)m->leaves + (size_t)idx[t] * P2;
            const float sc = m->scales[idx[t]];
            const __m256 vs = _mm256_set1_ps(sc);
            for (; k < vec; k += 8) {
                __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(lq + k))));
                _mm256_storeu_ps(cur + k, _mm256_add_ps(_mm256_loadu_ps(cur + k), _mm256_mul_ps(q, vs)));
            }
            for (; k < P2; k++)
                cur[k] += (float)lq[k] * sc;
        }
    }
}

/* AVX-512: the running shape stays in registers (NACC x 16 floats) while all the level's leaves
 * stream past once; lanes add in the reference's order, so results are identical. NACC = 9
 * covers the 68-point models (136 floats) in one pass. */
#define GRIN__ACC512(NAME, NACC)                                                                   \
    __attribute__((target("avx512f,avx512bw,avx512vl"))) static void NAME(                        \
        const grin_landmarker *m, float *cur, const uint32_t *idx, uint32_t n)                     \
    {                                                                                              \
        const size_t P2 = 2 * (size_t)m->parts, esz = m->leaf_type == GRIN_LEAVES_F32 ? 4 : 2;    \
        for (size_t k0 = 0; k0 < P2; k0 += 16 * NACC) {                                            \
            __mmask16 mk[NACC];                                                                    \
            __m512 acc[NACC];                                                                      \
            for (int j = 0; j < NACC; j++) {                                                       \
                size_t lo = k0 + 16 * (size_t)j;                                                   \
                size_t cnt = lo >= P2 ? 0 : (P2 - lo >= 16 ? 16 : P2 - lo);                       \
                mk[j] = (__mmask16)((1u << cnt) - 1);                                              \
                acc[j] = _mm512_maskz_loadu_ps(mk[j], cur + lo);                                   \
            }                                                                                      \
            size_t span = (P2 - k0 < 16 * NACC ? P2 - k0 : 16 * NACC) * esz;                       \
            for (uint32_t t = 0; t < n; t++) {                                                     \
                if (t + 8 < n) {                                                                   \
                    const char *nx = (const char *)m->leaves + ((size_t)idx[t + 8] * P2 + k0) * esz; \
                    for (size_t o = 0; o < span; o += 64)                                          \
                        _mm_prefetch(nx + o, _MM_HINT_T0);                                         \
                }                                                                                  \
                if (m->leaf_type == GRIN_LEAVES_F32) {                                             \
                    const float *l = (const float *)m->leaves + (size_t)idx[t] * P2 + k0;          \
                    for (int j = 0; j < NACC; j++)                                                 \
                        acc[j] = _mm512_add_ps(acc[j], _mm512_maskz_loadu_ps(mk[j], l + 16 * j));  \
                } else if (m->leaf_type == GRIN_LEAVES_F16) {                                      \
                    const uint16_t *l = (const uint16_t *)m->leaves + (size_t)idx[t] * P2 + k0;    \
                    for (int j = 0; j < NACC; j++)                                                 \
                        acc[j] = _mm512_add_ps(                                                    \
                            acc[j], _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk[j], l + 16 * j))); \
                } else {                                                                           \
                    const int16_t *l = (const int16_t *)m->leaves + (size_t)idx[t] * P2 + k0;      \
                    const __m512 vs = _mm512_set1_ps(m->scales[idx[t]]);                           \
                    for (int j = 0; j < NACC; j++)                                                 \
                        acc[j] = _mm512_add_ps(                                                    \
                            acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(       \
                                                      _mm256_maskz_loadu_epi16(mk[j], l + 16 * j))), \
                                                  vs));                                            \
                }                                                                                  \
            }                                                                                      \
            for (int j = 0; j < NACC; j++)                                                         \
                _mm512_mask_storeu_ps(cur + k0 + 16 * j, mk[j], acc[j]);                           \
        }                                                                                          \
    }
GRIN__ACC512(accumulate_avx512_9, 9)
GRIN__ACC512(accumulate_avx512_16, 16)
#endif

static void accumulate(const grin_landmarker *m, float *cur, const uint32_t *idx, uint32_t n)
{
#if defined(__x86_64__)
    unsigned need512 = GRIN__CPU_AVX512F | GRIN__CPU_AVX512BW | GRIN__CPU_AVX512VL;
    if ((grin__cpu_enabled() & need512) == need512) {
        if (2 * m->parts <= 144)
            accumulate_avx512_9(m, cur, idx, n);
        else
            accumulate_avx512_16(m, cur, idx, n);
        return;
    }
    unsigned need = GRIN__CPU_AVX2 | GRIN__CPU_F16C;
    if ((grin__cpu_enabled() & need) == need) {
        accumulate_avx2(m, cur, idx, n);
        return;
    }
#endif
    accumulate_ref(m, cur, idx, n);
}

/* a pixel's intensity as dlib's shape_predictor reads it (get_pixel_intensity): the grey value,
 * or of a colour pixel (R + G + B) / 3 rounded down — not luma, so colour images give dlib's
 * landmarks too */
static inline uint8_t gray_at(const grin_image *img, long x, long y)
{
    const uint8_t *p = img->data + (size_t)y * (size_t)img->stride;
    if (img->format == GRIN_PIX_GRAY8)
        return p[x];
    p += 3 * x;
    return (uint8_t)(((unsigned)p[0] + p[1] + p[2]) / 3);
}

grin_status grin_landmarks_box(const grin_landmarker *m, const grin_point2f *points, size_t count,
                               grin_rect *box)
{
    if (!m || !points || !box || count != m->parts || count < 2)
        return GRIN_ERR_INVALID_ARGUMENT;
    /* the points are x = bx + u (w - 1), y = by + v (h - 1) for the initial shape's (u, v) (the
     * mapping grin_landmarks starts from), with w = h: a line fit of (x, y) on (u, v) */
    double mu = 0, mv = 0, mx = 0, my = 0;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(points[i].x) || !isfinite(points[i].y))
            return GRIN_ERR_INVALID_ARGUMENT;
        mu += m->initial[2 * i], mv += m->initial[2 * i + 1], mx += points[i].x, my += points[i].y;
    }
    mu /= count, mv /= count, mx /= count, my /= count;
    double num = 0, den = 0;
    for (size_t i = 0; i < count; i++) {
        double du = m->initial[2 * i] - mu, dv = m->initial[2 * i + 1] - mv;
        num += du * (points[i].x - mx) + dv * (points[i].y - my);
        den += du * du + dv * dv;
    }
    double a = den > 0 ? num / den : 0;
    if (!(a >= 1) || a > 4.0 * GRIN_MAX_IMAGE_SIDE) /* a collapsed or absurd shape */
        return GRIN_ERR_INVALID_ARGUMENT;
    double bx = mx - a * mu, by = my - a * mv;
    if (fabs(bx) > 4.0 * GRIN_MAX_IMAGE_SIDE || fabs(by) > 4.0 * GRIN_MAX_IMAGE_SIDE)
        return GRIN_ERR_INVALID_ARGUMENT;
    box->x = (int)lround(bx);
    box->y = (int)lround(by);
    box->w = box->h = (int)lround(a + 1);
    return GRIN_OK;
}

grin_status grin_landmarks(const grin_landmarker *m, const grin_image *img, grin_rect box,
                           grin_point2f *points, size_t capacity, grin_error *err)
{
    if (!m || !img || !img->data || !points)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_landmarks: missing argument");
    int ch = grin_pixfmt_channels(img->format);
    if (ch == 0 || img->width <= 0 || img->height <= 0 || img->stride < img->width * ch)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_landmarks: bad image");
    if (capacity < m->parts)
        return grin__fail(err, GRIN_ERR_BUFFER_TOO_SMALL, "grin_landmarks: room for %zu points, "
                          "the model has %u", capacity, m->parts);
    if (box.w <= 0 || box.h <= 0 || box.w > 4 * GRIN_MAX_IMAGE_SIDE ||
        box.h > 4 * GRIN_MAX_IMAGE_SIDE || abs(box.x) > 4 * GRIN_MAX_IMAGE_SIDE ||
        abs(box.y) > 4 * GRIN_MAX_IMAGE_SIDE)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_landmarks: bad box %d,%d %dx%d",
                          box.x, box.y, box.w, box.h);
    const uint32_t P = m->parts, P2 = 2 * P;
    uint32_t maxf = 0;
    for (uint32_t l = 0; l < m->nlevels; l++)
        if (m->levels[l].nfeatures > maxf)
            maxf = m->levels[l].nfeatures;
    uint32_t maxt = 0;
    for (uint32_t l = 0; l < m->nlevels; l++)
        if (m->levels[l].ntrees > maxt)
            maxt = m->levels[l].ntrees;
    float stack_shape[256], stack_feat[1024];
    uint32_t stack_leaf[1024];
    float *cur = P2 <= 256 ? stack_shape : malloc(P2 * sizeof *cur);
    float *fv = maxf <= 1024 ? stack_feat : malloc((maxf ? maxf : 1) * sizeof *fv);
    uint32_t *leaf_idx = maxt <= 1024 ? stack_leaf : malloc((maxt ? maxt : 1) * sizeof *leaf_idx);
    if (!cur || !fv || !leaf_idx) {
        if (cur != stack_shape)
            free(cur);
        if (fv != stack_feat)
            free(fv);
        if (leaf_idx != stack_leaf)
            free(leaf_idx);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "grin_landmarks: out of memory");
    }
    memcpy(cur, m->initial, P2 * sizeof *cur);
    /* dlib's unnormalizing_tform: (0,0) -> top-left, (1,0) -> top-right, (1,1) -> bottom-right
     * of the rectangle x..x+w-1, y..y+h-1 */
    const double bx = box.x, by = box.y, sx = (double)box.w - 1.0, sy = (double)box.h - 1.0;
    const long W = img->width, H = img->height;

    for (uint32_t l = 0; l < m->nlevels; l++) {
        const grin__lm_level *lv = &m->levels[l];
        /* similarity transform from the initial shape to the current one (Umeyama; for 2-D
         * the rotation and scale have a closed form) */
        double mfx = 0, mfy = 0, mtx = 0, mty = 0;
        for (uint32_t i = 0; i < P; i++) {
            mfx += m->initial[2 * i];
            mfy += m->initial[2 * i + 1];
            mtx += cur[2 * i];
            mty += cur[2 * i + 1];
        }
        mfx /= P, mfy /= P, mtx /= P, mty /= P;
        double sigma = 0, c00 = 0, c01 = 0, c10 = 0, c11 = 0;
        for (uint32_t i = 0; i < P; i++) {
            double fx = m->initial[2 * i] - mfx, fy = m->initial[2 * i + 1] - mfy;
            double tx = cur[2 * i] - mtx, ty = cur[2 * i + 1] - mty;
            sigma += fx * fx + fy * fy;
            c00 += tx * fx;
            c01 += tx * fy;
            c10 += ty * fx;
            c11 += ty * fy;
        }
        sigma /= P;
        c00 /= P, c01 /= P, c10 /= P, c11 /= P;
        double a = 1.0, b = 0.0;
        if (sigma != 0) {
            a = (c00 + c11) / sigma;
            b = (c10 - c01) / sigma;
        }
        const float m00 = (float)a, m01 = (float)-b, m10 = (float)b, m11 = (float)a;
        /* (a model whose levels have no features has no feature arrays: no arithmetic on NULL) */
        const uint32_t *anc = lv->nfeatures ? m->anchor + lv->first_feature : NULL;
        const float *del = lv->nfeatures ? m->deltas + 2 * (size_t)lv->first_feature : NULL;
        for (uint32_t f = 0; f < lv->nfeatures; f++) {
            float dx = del[2 * f], dy = del[2 * f + 1];
            float px = m00 * dx + m01 * dy, py = m10 * dx + m11 * dy;
            px = px + cur[2 * anc[f]];
            py = py + cur[2 * anc[f] + 1];
            double X = sx * (double)px + bx, Y = sy * (double)py + by;
            double xr = floor(X + 0.5), yr = floor(Y + 0.5);
            fv[f] = (xr >= 0 && yr >= 0 && xr < (double)W && yr < (double)H)
                        ? (float)gray_at(img, (long)xr, (long)yr)
                        : 0.0f;
        }
        /* leaf of every tree first, then the sums in tree order (dlib's order, so the floats
         * round the same) while later leaves are prefetched: the leaves (tens of MB) are far
         * bigger than the caches and each is read once per face */
        for (uint32_t t = 0; t < lv->ntrees; t++) {
            const grin__lm_tree *tr = &m->trees[lv->first_tree + t];
            const grin__lm_split *sp = m->splits + tr->first_split;
            /* a complete tree: the path length is fixed, so walk it without branches
             * (the comparisons are data-dependent and would mispredict half the time) */
            uint32_t i = 0;
            while (i < tr->nsplits)
                i = 2 * i + 2 - (uint32_t)(fv[sp[i].idx1] - fv[sp[i].idx2] > sp[i].thresh);
            leaf_idx[t] = tr->first_leaf + (i - tr->nsplits);
        }
        accumulate(m, cur, leaf_idx, lv->ntrees);
    }
    for (uint32_t i = 0; i < P; i++) {
        points[i].x = (float)(sx * (double)cur[2 * i] + bx);
        points[i].y = (float)(sy * (double)cur[2 * i + 1] + by);
    }
    if (cur != stack_shape)
        free(cur);
    if (fv != stack_feat)
        free(fv);
    if (leaf_idx != stack_leaf)
        free(leaf_idx);
    return GRIN_OK;
}
