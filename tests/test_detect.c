/* test_detect.c — the cascade detector: golden boxes from OpenCV 4.6's detectMultiScale, every
 * SIMD kernel held to the scalar reference on raw hits, thread-count independence, the API's
 * buffer contract and its refusals. */
#include "test_util.h"

#include "core/internal.h"

typedef struct {
    const char *image;
    int n;
    grin_rect r[3];
} golden;

/* cv2.CascadeClassifier(...).detectMultiScale(cv2.imread(img), 1.1, 3, minSize=(30, 30)),
 * python3-opencv 4.6.0 (Debian 12), boxes sorted by y then x. */
static const golden G_DEFAULT[] = {
    {"data/samples/2008_001009.jpg", 2, {{143, 74, 82, 82}, {124, 205, 89, 89}}},
    {"data/samples/2008_001322.jpg", 3, {{348, 146, 100, 100}, {97, 148, 91, 91}, {224, 205, 77, 77}}},
    {"data/samples/2009_004587.jpg", 2, {{144, 31, 95, 95}, {264, 272, 72, 72}}},
};
static const golden G_ALT2[] = {
    {"data/samples/2008_001009.jpg", 2, {{143, 73, 82, 82}, {123, 205, 88, 88}}},
    {"data/samples/2008_001322.jpg", 3, {{339, 135, 116, 116}, {101, 148, 88, 88}, {224, 205, 76, 76}}},
    {"data/samples/2009_004587.jpg", 2, {{145, 31, 96, 96}, {265, 271, 70, 70}}},
};
static const golden G_LBP[] = {
    {"data/samples/2008_001009.jpg", 1, {{135, 225, 62, 62}}},
    {"data/samples/2008_001322.jpg", 2, {{111, 168, 60, 60}, {233, 221, 54, 54}}},
    {"data/samples/2009_004587.jpg", 2, {{161, 53, 62, 62}, {274, 284, 52, 52}}},
};

static grin_cascade *load(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, CASCADE_DIR "%s", rel);
    grin_cascade *c = NULL;
    grin_error err;
    if (grin_cascade_load(path, &c, &err) != GRIN_OK)
        fail_msg("%s", err.msg);
    return c;
}

static grin_image read_img(const char *rel, grin_pixfmt f)
{
    grin_image img;
    grin_error err;
    if (grin_image_read(srcp(rel), f, &img, &err) != GRIN_OK)
        fail_msg("%s", err.msg);
    return img;
}

static void check_golden(const char *cascade, const golden *g, size_t n, int threads)
{
    grin_cascade *c = load(cascade);
    grin_detector *d;
    assert_int_equal(grin_detector_create(threads, &d), GRIN_OK);
    grin_detect_params p;
    grin_detect_params_default(&p);
    for (size_t i = 0; i < n; i++) {
        grin_image img = read_img(g[i].image, GRIN_PIX_RGB24);
        grin_rect out[8];
        size_t count = 0;
        grin_status st = grin_detect(d, c, &img, &p, out, 8, &count);
        assert_int_equal(st, GRIN_OK);
        if ((int)count != g[i].n)
            fail_msg("%s %s: %zu faces, OpenCV finds %d", cascade, g[i].image, count, g[i].n);
        for (int k = 0; k < g[i].n; k++) {
            const grin_rect *a = &out[k], *b = &g[i].r[k];
            if (a->x != b->x || a->y != b->y || a->w != b->w || a->h != b->h)
                fail_msg("%s %s box %d: %d,%d %dx%d vs OpenCV %d,%d %dx%d", cascade, g[i].image, k,
                         a->x, a->y, a->w, a->h, b->x, b->y, b->w, b->h);
        }
        grin_image_free(&img);
    }
    grin_detector_free(d);
    grin_cascade_free(c);
}

static void test_golden_default(void **s) { (void)s; check_golden("haarcascades/haarcascade_frontalface_default.xml", G_DEFAULT, 3, 1); }
static void test_golden_alt2(void **s) { (void)s; check_golden("haarcascades/haarcascade_frontalface_alt2.xml", G_ALT2, 3, 1); }
static void test_golden_lbp(void **s) { (void)s; check_golden("lbpcascades/lbpcascade_frontalface_improved.xml", G_LBP, 3, 2); }
static void test_golden_threads(void **s) { (void)s; check_golden("haarcascades/haarcascade_frontalface_default.xml", G_DEFAULT, 3, 3); }

/* Raw hits (no grouping) of one configuration, as a heap copy. */
static grin_rect *raw_hits(const grin_cascade *c, const grin_image *img, double sf, int threads,
                           size_t *n)
{
    grin_detector *d;
    assert_int_equal(grin_detector_create(threads, &d), GRIN_OK);
    grin_detect_params p;
    grin_detect_params_default(&p);
    p.scale_factor = sf;
    p.min_neighbors = 0;
    p.min_width = p.min_height = 0;
    grin_status st = grin_detect(d, c, img, &p, NULL, 0, n);
    assert_true(st == GRIN_OK || st == GRIN_ERR_BUFFER_TOO_SMALL);
    size_t m;
    const grin_rect *r = grin_detector_results(d, &m);
    assert_int_equal(m, *n);
    grin_rect *copy = malloc((m ? m : 1) * sizeof *copy);
    if (m)
        memcpy(copy, r, m * sizeof *copy);
    grin_detector_free(d);
    return copy;
}

static grin_image noise_image(int w, int h, unsigned seed)
{
    grin_image img;
    assert_int_equal(grin_image_alloc(w, h, GRIN_PIX_GRAY8, &img), GRIN_OK);
    uint32_t x = seed * 2654435761u + 1;
    for (int y = 0; y < h; y++)
        for (int i = 0; i < w; i++) {
            x = x * 1664525u + 1013904223u;
            /* smooth blobs plus noise, so windows pass a few stages */
            int v = 128 + (int)(60.0 * __builtin_sin(i * 0.07 + seed) * __builtin_cos(y * 0.05)) +
                    (int)((x >> 24) % 40) - 20;
            img.data[y * img.stride + i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    return img;
}

/* Every kernel this CPU has gives the scalar reference's raw hits, bit for bit. */
static void test_kernels_match_reference(void **state)
{
    (void)state;
    const char *cascades[] = {"haarcascades/haarcascade_frontalface_default.xml",
                              "haarcascades/haarcascade_smile.xml",
                              "haarcascades/haarcascade_frontalface_alt2.xml",
                              "lbpcascades/lbpcascade_frontalface_improved.xml",
                              "haarcascades/haarcascade_eye_tree_eyeglasses.xml"};
    unsigned all = grin__cpu_flags();
    struct {
        unsigned mask;
        bool prefer512;
        const char *name;
        unsigned need;
    } kernels[] = {{all & (GRIN__CPU_AVX2 | GRIN__CPU_FMA), false, "avx2", GRIN__CPU_AVX2},
                   {all, true, "avx512", GRIN__CPU_AVX512F},
                   {all & GRIN__CPU_NEON, false, "neon", GRIN__CPU_NEON}};
    grin_image imgs[4];
    imgs[0] = read_img("data/samples/2008_001322.jpg", GRIN_PIX_GRAY8);
    imgs[1] = read_img("data/samples/2009_004587.jpg", GRIN_PIX_GRAY8);
    imgs[2] = noise_image(203, 157, 1);
    imgs[3] = noise_image(96, 300, 2);
    size_t compared = 0;
    for (size_t ci = 0; ci < sizeof cascades / sizeof cascades[0]; ci++) {
        grin_cascade *c = load(cascades[ci]);
        for (int ii = 0; ii < 4; ii++) {
            for (int sfi = 0; sfi < 2; sfi++) {
                double sf = sfi ? 1.2 : 1.1;
                grin__cpu_override(0, false);
                size_t nref;
                grin_rect *ref = raw_hits(c, &imgs[ii], sf, 1, &nref);
                for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++) {
                    if (!(all & kernels[k].need))
                        continue;
                    grin__cpu_override(kernels[k].mask, kernels[k].prefer512);
                    size_t n;
                    grin_rect *got = raw_hits(c, &imgs[ii], sf, 2, &n);
                    if (n != nref || memcmp(got, ref, n * sizeof *got) != 0)
                        fail_msg("%s kernel differs from reference: %s image %d sf %.1f: %zu vs %zu hits",
                                 kernels[k].name, cascades[ci], ii, sf, n, nref);
                    compared += n;
                    free(got);
                }
                free(ref);
            }
        }
        grin_cascade_free(c);
    }
    grin__cpu_override(all, false);
    for (int i = 0; i < 4; i++)
        grin_image_free(&imgs[i]);
    if (all & (GRIN__CPU_AVX2 | GRIN__CPU_NEON))
        assert_true(compared > 100); /* the comparison saw real hits */
}

static void test_formats_agree(void **state)
{
    (void)state;
    grin_cascade *c = load("haarcascades/haarcascade_frontalface_default.xml");
    grin_detector *d;
    assert_int_equal(grin_detector_create(1, &d), GRIN_OK);
    grin_rect ref[8], got[8];
    size_t nref, n;
    grin_image g = read_img("data/samples/2008_001009.jpg", GRIN_PIX_GRAY8);
    assert_int_equal(grin_detect(d, c, &g, NULL, ref, 8, &nref), GRIN_OK);
    assert_int_equal(nref, 2);
    grin_pixfmt fmts[] = {GRIN_PIX_RGB24, GRIN_PIX_BGR24};
    for (int i = 0; i < 2; i++) {
        grin_image img = read_img("data/samples/2008_001009.jpg", fmts[i]);
        assert_int_equal(grin_detect(d, c, &img, NULL, got, 8, &n), GRIN_OK);
        assert_int_equal(n, nref);
        assert_memory_equal(got, ref, n * sizeof *got);
        grin_image_free(&img);
    }
    grin_image_free(&g);
    grin_detector_free(d);
    grin_cascade_free(c);
}

static void test_api_contract(void **state)
{
    (void)state;
    grin_cascade *c = load("haarcascades/haarcascade_frontalface_default.xml");
    grin_detector *d;
    assert_int_equal(grin_detector_create(1, &d), GRIN_OK);
    grin_image img = read_img("data/samples/2008_001322.jpg", GRIN_PIX_GRAY8);
    size_t n = 99;
    /* size query, then a too-small buffer, then enough */
    assert_int_equal(grin_detect(d, c, &img, NULL, NULL, 0, &n), GRIN_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 3);
    grin_rect one[1];
    assert_int_equal(grin_detect(d, c, &img, NULL, one, 1, &n), GRIN_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 3);
    assert_non_null(strstr(grin_detector_error(d), "3 faces"));
    assert_int_equal(one[0].x, 348);
    /* min and max size bound every box */
    grin_detect_params p;
    grin_detect_params_default(&p);
    p.min_width = p.min_height = 85;
    p.max_width = p.max_height = 95;
    grin_rect r[8];
    assert_int_equal(grin_detect(d, c, &img, &p, r, 8, &n), GRIN_OK);
    assert_int_equal(n, 2); /* OpenCV: [97 149 91 91], [220 198 91 91] */
    assert_int_equal(r[0].x, 97);
    assert_int_equal(r[0].y, 149);
    assert_int_equal(r[1].x, 220);
    assert_int_equal(r[1].w, 91);
    /* bad parameters and arguments */
    p.scale_factor = 1.0;
    assert_int_equal(grin_detect(d, c, &img, &p, r, 8, &n), GRIN_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(grin_detector_error(d), "scale factor"));
    grin_detect_params_default(&p);
    p.min_neighbors = -1;
    assert_int_equal(grin_detect(d, c, &img, &p, r, 8, &n), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_detect(d, NULL, &img, NULL, r, 8, &n), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_detect(d, c, NULL, NULL, r, 8, &n), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_detect(NULL, c, &img, NULL, r, 8, &n), GRIN_ERR_INVALID_ARGUMENT);
    grin_image bad = img;
    bad.stride = 3;
    assert_int_equal(grin_detect(d, c, &bad, NULL, r, 8, &n), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_detector_create(-1, &(grin_detector *){NULL}), GRIN_ERR_INVALID_ARGUMENT);
    /* images smaller than the window: no faces, no error */
    grin_image tiny;
    assert_int_equal(grin_image_alloc(20, 50, GRIN_PIX_GRAY8, &tiny), GRIN_OK);
    memset(tiny.data, 7, (size_t)tiny.stride * 50);
    assert_int_equal(grin_detect(d, c, &tiny, NULL, r, 8, &n), GRIN_OK);
    assert_int_equal(n, 0);
    grin_image_free(&tiny);
    /* a flat image: every window is refused by the variance test */
    grin_image flat;
    assert_int_equal(grin_image_alloc(120, 90, GRIN_PIX_GRAY8, &flat), GRIN_OK);
    memset(flat.data, 128, (size_t)flat.stride * 90);
    p.min_neighbors = 0;
    assert_int_equal(grin_detect(d, c, &flat, &p, r, 8, &n), GRIN_OK);
    assert_int_equal(n, 0);
    grin_image_free(&flat);
    grin_image_free(&img);
    grin_detector_free(d);
    grin_cascade_free(c);
}

/* One cascade shared by detectors on several threads gives each the same answer. */
#include <pthread.h>
typedef struct {
    const grin_cascade *c;
    const grin_image *img;
    size_t n;
    grin_rect r[8];
} shared_job;

static void *share_main(void *arg)
{
    shared_job *j = arg;
    grin_detector *d;
    if (grin_detector_create(1, &d) != GRIN_OK)
        return NULL;
    for (int i = 0; i < 3; i++)
        grin_detect(d, j->c, j->img, NULL, j->r, 8, &j->n);
    grin_detector_free(d);
    return NULL;
}

static void test_shared_cascade(void **state)
{
    (void)state;
    grin_cascade *c = load("haarcascades/haarcascade_frontalface_default.xml");
    grin_image img = read_img("data/samples/2009_004587.jpg", GRIN_PIX_GRAY8);
    shared_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (shared_job){.c = c, .img = &img};
        pthread_create(&th[i], NULL, share_main, &jobs[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(jobs[i].n, 2);
        assert_memory_equal(jobs[i].r, G_DEFAULT[2].r, 2 * sizeof(grin_rect));
    }
    grin_image_free(&img);
    grin_cascade_free(c);
}

/* frontal and profile: every frontal box is kept; every other box is a profile box of the image
 * or a mirrored profile box of its mirror image that no earlier box covers; a photo and its
 * mirror image find the same faces mirrored */
static void test_profiles(void **state)
{
    (void)state;
    grin_cascade *f = load("haarcascades/haarcascade_frontalface_default.xml"),
                 *pc = load("haarcascades/haarcascade_profileface.xml");
    grin_detector *d;
    assert_int_equal(grin_detector_create(1, &d), GRIN_OK);
    grin_detect_params p;
    grin_detect_params_default(&p);
    p.min_neighbors = 1; /* profile boxes on these frontal faces too */
    const char *imgs[3] = {"data/samples/2008_001009.jpg", "data/samples/2008_001322.jpg", "data/samples/2009_004587.jpg"};
    for (int k = 0; k < 3; k++) {
        grin_image img = read_img(imgs[k], GRIN_PIX_GRAY8), mir;
        assert_int_equal(grin_image_alloc(img.width, img.height, GRIN_PIX_GRAY8, &mir), GRIN_OK);
        for (int y = 0; y < img.height; y++)
            for (int x = 0; x < img.width; x++)
                mir.data[(size_t)y * mir.stride + x] = img.data[(size_t)y * img.stride + img.width - 1 - x];
        grin_rect A[64], B[64], C[64], R[192];
        size_t na, nb, nc, nr;
        assert_int_equal(grin_detect(d, f, &img, &p, A, 64, &na), GRIN_OK);
        assert_int_equal(grin_detect(d, pc, &img, &p, B, 64, &nb), GRIN_OK);
        assert_int_equal(grin_detect(d, pc, &mir, &p, C, 64, &nc), GRIN_OK);
        assert_int_equal(grin_detect_profiles(d, f, pc, &img, &p, &nr), GRIN_OK);
        assert_true(nr >= na && nr <= na + nb + nc && nr <= 192);
        memcpy(R, grin_detector_results(d, NULL), nr * sizeof *R);
        for (size_t i = 0; i < na; i++) {
            bool in = false;
            for (size_t j = 0; j < nr && !in; j++)
                in = !memcmp(&A[i], &R[j], sizeof *R);
            assert_true(in);
        }
        for (size_t j = 0; j < nr; j++) {
            bool from = false;
            for (size_t i = 0; i < na && !from; i++)
                from = !memcmp(&A[i], &R[j], sizeof *R);
            for (size_t i = 0; i < nb && !from; i++)
                from = !memcmp(&B[i], &R[j], sizeof *R);
            for (size_t i = 0; i < nc && !from; i++)
                from = R[j].x == img.width - C[i].x - C[i].w && R[j].y == C[i].y && R[j].w == C[i].w;
            assert_true(from);
        }
        grin_image_free(&img);
        grin_image_free(&mir);
    }
    size_t n;
    assert_int_equal(grin_detect_profiles(d, f, NULL, NULL, &p, &n), GRIN_ERR_INVALID_ARGUMENT);
    grin_detector_free(d);
    grin_cascade_free(f);
    grin_cascade_free(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_default),  cmocka_unit_test(test_golden_alt2),
        cmocka_unit_test(test_golden_lbp),      cmocka_unit_test(test_golden_threads),
        cmocka_unit_test(test_kernels_match_reference), cmocka_unit_test(test_formats_agree),
        cmocka_unit_test(test_api_contract),    cmocka_unit_test(test_shared_cascade),
        cmocka_unit_test(test_profiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
