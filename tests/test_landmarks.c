/* test_landmarks.c — landmark models (dlib's format and grin's), exact evaluation against
 * dlib's own numbers, refusal of truncated, corrupt and wrong-kind files, alignment (template,
 * fits, warp) and the temporal filter. */
#include "test_util.h"

#include <limits.h>

#include <math.h>

#define TINY SRC("tests/fixtures/tiny_shape_predictor.dat")

static const char *tmpf(const char *name)
{
    static char buf[2][4096];
    static int k;
    char *b = buf[k++ & 1];
    snprintf(b, sizeof buf[0], "%s/grin_lmk_%d_%s", tmpdir(), (int)getpid(), name);
    return b;
}

static grin_landmarker *load(const char *path)
{
    grin_landmarker *m = NULL;
    grin_error err;
    if (grin_landmarker_load(path, &m, &err) != GRIN_OK)
        fail_msg("%s", err.msg);
    return m;
}

static grin_image sample(grin_pixfmt f)
{
    grin_image img;
    grin_error err;
    if (grin_image_read(SRC("data/samples/2008_001322.jpg"), f, &img, &err) != GRIN_OK)
        fail_msg("%s", err.msg);
    return img;
}

/* dlib's tests/oracle on the tiny model: box 10,10,80,80 on the sample's grey image */
static void test_tiny_matches_dlib(void **state)
{
    (void)state;
    grin_landmarker *m = load(TINY);
    grin_landmarker_info info;
    grin_landmarker_get_info(m, &info);
    assert_int_equal(info.parts, 5);
    assert_int_equal(info.levels, 3);
    assert_int_equal(info.trees, 12);
    assert_int_equal(info.features, 18);
    grin_image img = sample(GRIN_PIX_GRAY8);
    grin_point2f p[5];
    grin_error err;
    assert_int_equal(grin_landmarks(m, &img, (grin_rect){10, 10, 80, 80}, p, 5, &err), GRIN_OK);
    static const float want[5][2] = {{38.055975f, 39.94441f}, {65.105423f, 40.1058f},
                                     {51.458979f, 50.428253f}, {39.923536f, 65.824848f},
                                     {64.123255f, 64.969349f}};
    for (int i = 0; i < 5; i++) {
        assert_true(fabsf(p[i].x - want[i][0]) < 1e-3f);
        assert_true(fabsf(p[i].y - want[i][1]) < 1e-3f);
    }
    /* the same through RGB and BGR input (grey read on the fly) */
    grin_image rgb = sample(GRIN_PIX_BGR24);
    grin_point2f q[5];
    assert_int_equal(grin_landmarks(m, &rgb, (grin_rect){10, 10, 80, 80}, q, 5, &err), GRIN_OK);
    assert_memory_equal(p, q, sizeof p);
    /* too small an output */
    assert_int_equal(grin_landmarks(m, &img, (grin_rect){10, 10, 80, 80}, q, 4, &err), GRIN_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(grin_landmarks(m, &img, (grin_rect){10, 10, 0, 80}, q, 5, &err), GRIN_ERR_INVALID_ARGUMENT);
    /* a box far outside the image still works: every feature reads 0 */
    assert_int_equal(grin_landmarks(m, &img, (grin_rect){-5000, 9000, 50, 50}, q, 5, &err), GRIN_OK);
    grin_image_free(&img);
    grin_image_free(&rgb);
    grin_landmarker_free(m);
}

/* The box the model starts from to reach given points: near the detector's box, moving with the
 * points, a fixed point when found again from it, and refused for shapes that are no shape */
static void test_landmarks_box(void **state)
{
    (void)state;
    const char *real = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
    grin_landmarker *m = load(access(real, R_OK) == 0 ? real : TINY);
    grin_landmarker_info info;
    grin_landmarker_get_info(m, &info);
    size_t P = (size_t)info.parts;
    grin_image img = sample(GRIN_PIX_GRAY8);
    grin_point2f p[68], q[68];
    grin_error err;
    grin_rect det = {348, 146, 100, 100}, b1, b2, b3;
    assert_int_equal(grin_landmarks(m, &img, det, p, P, &err), GRIN_OK);
    assert_int_equal(grin_landmarks_box(m, p, P, &b1), GRIN_OK);
    assert_true(abs(b1.x - det.x) < 25 && abs(b1.y - det.y) < 25 && b1.w == b1.h && b1.w > 70 && b1.w < 130);
    for (size_t i = 0; i < P; i++)
        q[i] = (grin_point2f){p[i].x + 40, p[i].y - 30};
    assert_int_equal(grin_landmarks_box(m, q, P, &b2), GRIN_OK);
    assert_true(b2.x == b1.x + 40 && b2.y == b1.y - 30 && b2.w == b1.w);
    /* from a box 1.4 times too large and off-centre, refits come near the direct ones (from 3
     * times, they don't: the model settles on a face-sized outline around the face) */
    grin_rect b = {det.x - 30, det.y - 10, 140, 140};
    for (int round = 0; round < 3; round++) {
        assert_int_equal(grin_landmarks(m, &img, b, q, P, &err), GRIN_OK);
        assert_int_equal(grin_landmarks_box(m, q, P, &b), GRIN_OK);
    }
    assert_int_equal(grin_landmarks(m, &img, b1, q, P, &err), GRIN_OK);
    assert_int_equal(grin_landmarks_box(m, q, P, &b3), GRIN_OK);
    assert_true(abs(b3.x - b1.x) <= 4 && abs(b3.y - b1.y) <= 4 && abs(b3.w - b1.w) <= 6);
    assert_true(abs(b.x - b1.x) <= 8 && abs(b.y - b1.y) <= 8 && abs(b.w - b1.w) <= 12);
    q[0].x = NAN;
    assert_int_equal(grin_landmarks_box(m, q, P, &b2), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_landmarks_box(m, p, P - 1, &b2), GRIN_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < P; i++)
        q[i] = (grin_point2f){5, 5}; /* all in one place */
    assert_int_equal(grin_landmarks_box(m, q, P, &b2), GRIN_ERR_INVALID_ARGUMENT);
    grin_image_free(&img);
    grin_landmarker_free(m);
}

/* the warp with a box at the ends of int's range: no undefined arithmetic, and a failed call
 * leaves an empty image (safe to free) */
static void test_warp_extreme_box(void **state)
{
    (void)state;
    grin_landmarker *m = load(TINY);
    grin_align_params ap;
    grin_align_params_default(&ap);
    grin_aligner *a;
    grin_error err;
    if (grin_aligner_create(m, &ap, &a, &err) != GRIN_OK) { /* the tiny model is not 68 points */
        grin_landmarker_free(m);
        const char *real = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
        if (access(real, R_OK) != 0)
            skip();
        m = load(real);
        assert_int_equal(grin_aligner_create(m, &ap, &a, &err), GRIN_OK);
    }
    grin_image img = sample(GRIN_PIX_GRAY8), out;
    int aligned = 7;
    memset(&out, 0xAB, sizeof out);
    grin_status st = grin_align_warp(a, &img, NULL, (grin_rect){INT_MIN, INT_MIN, INT_MAX, INT_MAX}, &out, &aligned);
    assert_true(st == GRIN_OK || st == GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(aligned, 0);
    grin_image_free(&out);
    memset(&out, 0xAB, sizeof out);
    assert_int_equal(grin_align_warp(a, &img, NULL, (grin_rect){0, 0, 1, 1}, &out, NULL), GRIN_ERR_INVALID_ARGUMENT);
    assert_null(out.data);
    grin_image_free(&out);
    grin_image_free(&img);
    grin_aligner_free(a);
    grin_landmarker_free(m);
}

/* the quality score: high for the detector's boxes on the sample's three faces, lower for a box
 * that sits on the forehead of one (a second detection's ghost), without the drift from the
 * shape alone; faulty input refused or scored 0 */
static void test_face_quality(void **state)
{
    (void)state;
    const char *real = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
    if (access(real, R_OK) != 0)
        skip();
    grin_landmarker *m = load(real);
    grin_align_params ap;
    grin_align_params_default(&ap);
    grin_aligner *a;
    grin_error err;
    assert_int_equal(grin_aligner_create(m, &ap, &a, &err), GRIN_OK);
    grin_image img = sample(GRIN_PIX_GRAY8);
    const grin_rect faces[3] = {{348, 146, 100, 100}, {97, 148, 91, 91}, {224, 205, 77, 77}};
    grin_point2f p[68], r[68];
    grin_face_quality q, q0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(grin_landmarks(m, &img, faces[i], p, 68, &err), GRIN_OK);
        assert_int_equal(grin_face_quality_of(m, a, &img, p, 68, &q, r), GRIN_OK);
        assert_true(q.quality >= GRIN_QUALITY_MIN && q.quality <= 1);
        assert_true(q.drift >= 0 && q.drift < 0.1 && q.residual > 0 && q.residual < 0.3 && q.distortion >= 1);
        assert_int_equal(grin_face_quality_of(m, a, NULL, p, 68, &q0, NULL), GRIN_OK);
        assert_true(q0.drift == -1 && q0.quality > 0);
    }
    /* the landmarks from a box 1.5x as large, moved up by half a face: the shape still looks like a
     * face's, but starting again moves it and the score drops */
    grin_rect g = {faces[0].x - 25, faces[0].y - 50, 150, 150};
    assert_int_equal(grin_landmarks(m, &img, g, p, 68, &err), GRIN_OK);
    assert_int_equal(grin_face_quality_of(m, a, &img, p, 68, &q0, r), GRIN_OK);
    assert_true(q0.drift > q.drift && q0.quality < 0.9f);
    /* a collapsed shape and bad arguments */
    for (int i = 0; i < 68; i++)
        p[i] = (grin_point2f){10, 10};
    assert_int_equal(grin_face_quality_of(m, a, &img, p, 68, &q0, NULL), GRIN_OK);
    assert_true(q0.quality == 0);
    p[3].x = NAN;
    assert_int_equal(grin_face_quality_of(m, a, NULL, p, 68, &q0, NULL), GRIN_OK);
    assert_true(q0.quality == 0);
    assert_int_equal(grin_face_quality_of(m, a, &img, p, 67, &q0, NULL), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_face_quality_of(NULL, a, &img, p, 68, &q0, NULL), GRIN_ERR_INVALID_ARGUMENT);
    grin_image_free(&img);
    grin_aligner_free(a);
    grin_landmarker_free(m);
}

/* dlib 19.24's unrounded landmarks for two faces of the sample (tests/oracle, same grey) */
static void test_real_model_matches_dlib(void **state)
{
    (void)state;
    grin_landmarker *m = NULL;
    grin_error err;
    if (grin_landmarker_load(GRIN_DEFAULT_LANDMARK_MODEL, &m, &err) != GRIN_OK) {
        print_message("skipped: %s\n", err.msg);
        skip();
    }
    struct {
        grin_rect box;
        struct { int i; float x, y; } p[10];
    } faces[2] = {
        {{348, 146, 100, 100}, {{0, 356.2221f, 196.9006f}, {8, 406.8633f, 258.6584f}, {16, 442.7114f, 174.1006f}, {30, 391.9371f, 205.6913f}, {36, 369.0549f, 191.9165f}, {45, 414.9304f, 181.8068f}, {48, 384.6565f, 224.3247f}, {54, 417.7104f, 217.0751f}, {62, 398.5225f, 220.6058f}, {66, 399.7798f, 227.7181f}}},
        {{97, 148, 91, 91}, {{0, 105.8815f, 184.6868f}, {8, 134.6477f, 245.2366f}, {16, 172.7464f, 194.1504f}, {30, 144.0475f, 192.5064f}, {36, 121.3280f, 179.8040f}, {45, 163.1787f, 184.7982f}, {48, 124.4606f, 217.4854f}, {54, 151.2626f, 220.7085f}, {62, 139.8444f, 218.7838f}, {66, 139.4329f, 218.8638f}}},
    };
    grin_image img = sample(GRIN_PIX_GRAY8);
    grin_point2f p[68];
    /* dlib's format, then grin's (float32 exact, float16 close) */
    const char *native = tmpf("m.grinlmk"), *half = tmpf("mh.grinlmk");
    char q16[4096];
    snprintf(q16, sizeof q16, "%s.q16", native);
    assert_int_equal(grin_landmarker_save(m, native, GRIN_LEAVES_F32, &err), GRIN_OK);
    assert_int_equal(grin_landmarker_save(m, half, GRIN_LEAVES_F16, &err), GRIN_OK);
    assert_int_equal(grin_landmarker_save(m, q16, GRIN_LEAVES_Q16, &err), GRIN_OK);
    grin_landmarker *models[4] = {m, load(native), load(half), load(q16)};
    for (int k = 0; k < 4; k++) {
        for (int f = 0; f < 2; f++) {
            assert_int_equal(grin_landmarks(models[k], &img, faces[f].box, p, 68, &err), GRIN_OK);
            if (k >= 2) { /* 16-bit leaves: close to the float32 result, not identical */
                grin_point2f q[68];
                assert_int_equal(grin_landmarks(models[1], &img, faces[f].box, q, 68, &err), GRIN_OK);
                double sum = 0;
                for (int i = 0; i < 68; i++)
                    sum += hypot(p[i].x - q[i].x, p[i].y - q[i].y);
                double limit = k == 2 ? 1.5 : 0.05; /* float16 drifts; scaled int16 barely moves */
                if (sum / 68 > limit)
                    fail_msg("%s model moves face %d's landmarks by %.3f px on average",
                             k == 2 ? "float16" : "q16", f, sum / 68);
                continue;
            }
            for (int j = 0; j < 10; j++) {
                float tol = 1e-3f;
                int i = faces[f].p[j].i;
                if (fabsf(p[i].x - faces[f].p[j].x) > tol || fabsf(p[i].y - faces[f].p[j].y) > tol)
                    fail_msg("model %d face %d point %d: %.4f,%.4f vs dlib %.4f,%.4f", k, f, i,
                             p[i].x, p[i].y, faces[f].p[j].x, faces[f].p[j].y);
            }
        }
    }
    grin_landmarker_info info;
    grin_landmarker_get_info(models[1], &info);
    assert_true(info.native && info.leaf_type == GRIN_LEAVES_F32);
    grin_landmarker_get_info(models[2], &info);
    assert_true(info.native && info.leaf_type == GRIN_LEAVES_F16);
    grin_landmarker_get_info(models[3], &info);
    assert_true(info.native && info.leaf_type == GRIN_LEAVES_Q16);
    /* 16-bit models don't convert to another kind */
    assert_int_equal(grin_landmarker_save(models[2], q16, GRIN_LEAVES_Q16, &err), GRIN_ERR_UNSUPPORTED);
    for (int k = 0; k < 4; k++)
        grin_landmarker_free(models[k]);
    remove(native);
    remove(half);
    remove(q16);
    grin_image_free(&img);
}

static void expect_bad(const void *data, size_t n, const char *needle)
{
    grin_landmarker *m = (grin_landmarker *)0x1;
    grin_error err = {{0}};
    grin_status st = grin_landmarker_load_memory(data, n, "model.bin", &m, &err);
    if (st == GRIN_OK)
        fail_msg("a bad model (%zu bytes) loaded", n);
    assert_null(m);
    assert_non_null(strstr(err.msg, "model.bin"));
    assert_null(strchr(err.msg, '\n'));
    if (needle && !strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_bad_models(void **state)
{
    (void)state;
    size_t n = 0;
    char *tiny = slurp(TINY, &n);
    assert_non_null(tiny);
    /* every truncation of the file is refused cleanly */
    for (size_t k = 0; k < n; k++)
        expect_bad(tiny, k, k ? NULL : "empty");
    expect_bad(tiny, n - 1, "ends early");
    /* trailing garbage */
    char *longer = malloc(n + 3);
    memcpy(longer, tiny, n);
    memcpy(longer + n, "xyz", 3);
    expect_bad(longer, n + 3, "trailing");
    free(longer);
    /* every single-byte corruption either loads or is refused, never crashes */
    char *mut = malloc(n);
    for (size_t k = 0; k < n; k++) {
        memcpy(mut, tiny, n);
        mut[k] ^= (char)0xa5;
        grin_landmarker *m = NULL;
        grin_error err;
        if (grin_landmarker_load_memory(mut, n, "mut", &m, &err) == GRIN_OK) {
            grin_image img = sample(GRIN_PIX_GRAY8);
            grin_point2f p[64];
            grin_landmarker_info info;
            grin_landmarker_get_info(m, &info);
            if (info.parts <= 64)
                grin_landmarks(m, &img, (grin_rect){5, 5, 60, 60}, p, 64, &err);
            grin_image_free(&img);
            grin_landmarker_free(m);
        }
    }
    free(mut);
    /* wrong kinds of file */
    expect_bad("BZh91AY&SY", 10, "bzip2");
    expect_bad("\x1f\x8b\x08\x00", 4, "gzip");
    size_t cn = 0;
    char *cascade = slurp(SRC("tests/fixtures/tiny_haar.xml"), &cn);
    expect_bad(cascade, cn, "XML");
    free(cascade);
    expect_bad("\x01\x02", 2, "version 2");
    /* a huge count the file cannot hold */
    const char huge[] = "\x01\x01\x84\xff\xff\xff\x7f\x81\x01";
    expect_bad(huge, sizeof huge - 1, NULL);
    /* grin's format: truncated, bad version */
    grin_landmarker *m = load(TINY);
    grin_error err;
    const char *nat = tmpf("tiny.grinlmk");
    assert_int_equal(grin_landmarker_save(m, nat, GRIN_LEAVES_F32, &err), GRIN_OK);
    grin_landmarker_free(m);
    size_t nn = 0;
    char *native = slurp(nat, &nn);
    grin_landmarker *ok = NULL;
    assert_int_equal(grin_landmarker_load_memory(native, nn, "ok", &ok, &err), GRIN_OK);
    grin_landmarker_free(ok);
    for (size_t k = 8; k < nn; k += 7)
        expect_bad(native, k, NULL);
    /* a flipped bit anywhere past the magic is refused, nothing of the file used: as damaged, or
     * in the version field as a version this grin does not read (no single flip of 2 reads 1) */
    for (size_t k = 8; k < nn; k += k < 12 ? 1 : 13) {
        for (int bit = 0; bit < (k < 12 ? 8 : 1); bit++) {
            native[k] ^= (char)(1 << bit);
            expect_bad(native, nn, k < 12 ? "version" : "damaged");
            native[k] ^= (char)(1 << bit);
        }
    }
    /* version 1 (the same without the checksum) still loads; a version 2 file whose version reads
     * 1 is told from one */
    native[8] = 1;
    assert_int_equal(grin_landmarker_load_memory(native, nn - 8, "v1", &ok, &err), GRIN_OK);
    grin_landmarker_free(ok);
    expect_bad(native, nn, "version field");
    native[8] = 2;
    native[8] = 9; /* version */
    expect_bad(native, nn, "version 9");
    free(native);
    remove(nat);
    free(tiny);
    assert_int_equal(grin_landmarker_load("/no/model.dat", &m, &err), GRIN_ERR_IO);
    assert_non_null(strstr(err.msg, "/no/model.dat"));
}

/* ------------------------------------------------------------------ alignment */

static grin_landmarker *real_or_skip(void)
{
    grin_landmarker *m = NULL;
    grin_error err;
    if (grin_landmarker_load(GRIN_DEFAULT_LANDMARK_MODEL, &m, &err) != GRIN_OK) {
        print_message("skipped: %s\n", err.msg);
        skip();
    }
    return m;
}

static void test_template_symmetric(void **state)
{
    (void)state;
    grin_landmarker *m = real_or_skip();
    grin_aligner *a;
    grin_error err;
    assert_int_equal(grin_aligner_create(m, NULL, &a, &err), GRIN_OK);
    size_t n = 0;
    const grin_point2f *t = grin_aligner_template(a, &n);
    const int *flip = grin_aligner_flip_map(a);
    assert_int_equal(n, 68);
    double cx = 0;
    for (size_t i = 0; i < n; i++)
        cx += t[i].x;
    cx /= n;
    float lo = 1e9f, hi = -1e9f;
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)flip[i];
        assert_int_equal(flip[j], (int)i); /* an involution */
        assert_true(fabs(t[i].x + t[j].x - 2 * cx) < 1e-3);
        assert_true(fabsf(t[i].y - t[j].y) < 1e-3f);
        lo = fminf(lo, fminf(t[i].x, t[i].y));
        hi = fmaxf(hi, fmaxf(t[i].x, t[i].y));
    }
    assert_true(t[36].x < t[45].x);                /* left eye corner left of the right one */
    assert_true(lo >= 5.5f && hi <= 58.0f);        /* inside the 64px crop with its margin */
    assert_int_equal(flip[30], 30);
    assert_int_equal(flip[48], 54);
    grin_aligner_free(a);
    /* bad parameters, wrong layout */
    grin_align_params p;
    grin_align_params_default(&p);
    p.size = 2;
    assert_int_equal(grin_aligner_create(m, &p, &a, &err), GRIN_ERR_INVALID_ARGUMENT);
    grin_landmarker *tiny = load(TINY);
    assert_int_equal(grin_aligner_create(tiny, NULL, &a, &err), GRIN_ERR_UNSUPPORTED);
    grin_landmarker_free(tiny);
    grin_landmarker_free(m);
}

static void test_fit_and_warp(void **state)
{
    (void)state;
    grin_landmarker *m = real_or_skip();
    grin_aligner *a;
    grin_error err;
    assert_int_equal(grin_aligner_create(m, NULL, &a, &err), GRIN_OK);
    size_t n = 0;
    const grin_point2f *t = grin_aligner_template(a, &n);
    /* a face: the template rotated by 20 degrees, scaled by 2.5, moved to (300, 200) */
    grin_point2f pts[68];
    double c = cos(0.35), s = sin(0.35);
    for (size_t i = 0; i < n; i++) {
        double x = t[i].x - 32, y = t[i].y - 32;
        pts[i].x = (float)(2.5 * (c * x - s * y) + 300);
        pts[i].y = (float)(2.5 * (s * x + c * y) + 200);
    }
    grin_align_fit fit;
    assert_int_equal(grin_align_fit_points(a, pts, n, &fit), GRIN_OK);
    assert_true(fit.usable);
    assert_true(fit.rms_error < 1e-3f);
    assert_true(fabsf(fit.distortion - 1.0f) < 1e-3f);
    assert_true(fabsf(fit.similarity[0] - (float)(c / 2.5)) < 1e-5f);
    /* sheared landmarks: the affine fit is distorted beyond 2, so they are not trusted */
    grin_point2f sheared[68];
    for (size_t i = 0; i < n; i++)
        sheared[i] = (grin_point2f){pts[i].x + 2.2f * (pts[i].y - 200), pts[i].y};
    grin_align_fit bad;
    assert_int_equal(grin_align_fit_points(a, sheared, n, &bad), GRIN_OK);
    assert_false(bad.usable);
    assert_true(bad.distortion > 2.0f);
    /* a mirrored face is never usable */
    grin_point2f mirrored[68];
    for (size_t i = 0; i < n; i++)
        mirrored[i] = (grin_point2f){600 - pts[i].x, pts[i].y};
    assert_int_equal(grin_align_fit_points(a, mirrored, n, &bad), GRIN_OK);
    /* warp: a horizontal ramp comes out as a ramp rotated by -20 degrees */
    grin_image img, crop;
    assert_int_equal(grin_image_alloc(640, 480, GRIN_PIX_GRAY8, &img), GRIN_OK);
    for (int y = 0; y < 480; y++)
        for (int x = 0; x < 640; x++)
            img.data[y * img.stride + x] = (uint8_t)(x * 255 / 639);
    int aligned = -1;
    assert_int_equal(grin_align_warp(a, &img, &fit, (grin_rect){200, 100, 200, 200}, &crop, &aligned), GRIN_OK);
    assert_int_equal(aligned, 1);
    assert_int_equal(crop.width, 64);
    for (int v = 8; v < 56; v += 8)
        for (int u = 8; u < 56; u += 8) {
            double x = 2.5 * (c * (u - 32) - s * (v - 32)) + 300;
            int want = (int)(x * 255 / 639 + 0.5);
            int got = crop.data[v * crop.stride + u];
            if (abs(got - want) > 2)
                fail_msg("crop %d,%d: %d, expected %d", u, v, got, want);
        }
    grin_image_free(&crop);
    /* unusable: the box crop instead */
    assert_int_equal(grin_align_warp(a, &img, &bad, (grin_rect){200, 100, 200, 200}, &crop, &aligned), GRIN_OK);
    assert_int_equal(aligned, 0);
    assert_true(crop.data[32 * crop.stride + 10] < crop.data[32 * crop.stride + 50]);
    grin_image_free(&crop);
    assert_int_equal(grin_align_warp(a, &img, NULL, (grin_rect){0, 0, 1, 1}, &crop, &aligned), GRIN_ERR_INVALID_ARGUMENT);
    grin_image_free(&img);
    grin_aligner_free(a);
    grin_landmarker_free(m);
}

static void test_filter(void **state)
{
    (void)state;
    grin_landmark_filter *f;
    assert_int_equal(grin_landmark_filter_create(0, 1, 0, &f), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_landmark_filter_create(2, 1.0f, 0.0f, &f), GRIN_OK);
    /* a still point with noise: the filtered track varies far less than the input */
    uint32_t r = 1;
    double in_var = 0, out_var = 0;
    for (int k = 0; k < 200; k++) {
        r = r * 1664525u + 1013904223u;
        float noise = ((r >> 8) % 1000) / 1000.0f - 0.5f;
        grin_point2f p[2] = {{100 + noise, 50}, {10, 10 - noise}};
        assert_int_equal(grin_landmark_filter_apply(f, k / 30.0, p, 2), GRIN_OK);
        if (k > 50) {
            in_var += noise * noise;
            out_var += (p[0].x - 100) * (p[0].x - 100);
        }
    }
    assert_true(out_var < 0.2 * in_var);
    /* reset: the next frame passes through unchanged */
    grin_landmark_filter_reset(f);
    grin_point2f jump[2] = {{500, 500}, {1, 1}};
    assert_int_equal(grin_landmark_filter_apply(f, 10.0, jump, 2), GRIN_OK);
    assert_true(jump[0].x == 500 && jump[1].y == 1);
    assert_int_equal(grin_landmark_filter_apply(f, 11.0, jump, 1), GRIN_ERR_INVALID_ARGUMENT);
    grin_landmark_filter_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_matches_dlib), cmocka_unit_test(test_real_model_matches_dlib),
        cmocka_unit_test(test_bad_models),        cmocka_unit_test(test_template_symmetric),
        cmocka_unit_test(test_fit_and_warp),      cmocka_unit_test(test_filter),
        cmocka_unit_test(test_landmarks_box),     cmocka_unit_test(test_face_quality),
        cmocka_unit_test(test_warp_extreme_box),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
