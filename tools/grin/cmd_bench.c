/* cmd_bench.c — `grin bench detect`: times detection on one image with the given options and
 * prints one JSON line with min and median milliseconds per frame. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench_detect(int argc, char **argv)
{
    detect_opts o;
    detect_opts_default(&o);
    const char *image = NULL;
    int repeat = 20;
    for (int i = 1; i < argc; i++) {
        int r = detect_opts_parse(&o, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--image") && i + 1 < argc) {
            image = argv[++i];
        } else if (!strcmp(argv[i], "--repeat")) {
            if (!cli_int("--repeat", i + 1 < argc ? argv[i + 1] : NULL, 1, 1000000, &repeat))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin bench detect --image FILE [--repeat N] [options]\n%s",
                   detect_opts_usage());
            return 0;
        } else {
            cli_error("bench detect: unknown argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!image) {
        cli_error("bench detect: --image FILE is required");
        return 2;
    }
    grin_error err = {{0}};
    grin_image img;
    if (grin_image_read(image, GRIN_PIX_GRAY8, &img, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return 1;
    }
    grin_cascade *c = NULL;
    if (grin_cascade_load(o.cascade, &c, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        grin_image_free(&img);
        return 1;
    }
    grin_detector *d = NULL;
    double *ms = malloc(sizeof(double) * (size_t)repeat);
    if (!ms || grin_detector_create(o.threads, &d) != GRIN_OK) {
        cli_error("out of memory");
        free(ms);
        grin_cascade_free(c);
        grin_image_free(&img);
        return 1;
    }
    size_t n = 0;
    int rc = 0;
    grin_status st = detect_faces(d, c, &img, &o, &n); /* warm-up */
    for (int r = 0; r < repeat && (st == GRIN_OK || st == GRIN_ERR_BUFFER_TOO_SMALL); r++) {
        double t0 = now_ms();
        st = detect_faces(d, c, &img, &o, &n);
        ms[r] = now_ms() - t0;
    }
    if (st != GRIN_OK && st != GRIN_ERR_BUFFER_TOO_SMALL) {
        cli_error("%s: %s", image, grin_detector_error(d));
        rc = 1;
    } else {
        qsort(ms, (size_t)repeat, sizeof *ms, cmp_double);
        fputs("{\"bench\":\"detect\",\"image\":", stdout);
        json_string(stdout, image);
        printf(",\"width\":%d,\"height\":%d,\"threads\":%d,\"repeat\":%d,"
               "\"ms_per_frame_min\":%.3f,\"ms_per_frame_median\":%.3f,\"faces\":%zu,"
               "\"cpu\":\"%s\"}\n",
               img.width, img.height, grin_detector_threads(d), repeat, ms[0],
               ms[repeat / 2], n, grin_cpu_features());
    }
    free(ms);
    grin_detector_free(d);
    grin_cascade_free(c);
    grin_image_free(&img);
    return rc;
}

/* `grin bench landmarks`: per-face time of the landmark cascade on given boxes (or the faces
 * the detector finds), and the model's load time. */
static int bench_landmarks(int argc, char **argv)
{
    const char *image = NULL, *model = GRIN_DEFAULT_LANDMARK_MODEL;
    int repeat = 50;
    grin_rect boxes[64];
    int nboxes = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--image") && v) {
            image = v, i++;
        } else if (!strcmp(argv[i], "--model") && v) {
            model = v, i++;
        } else if (!strcmp(argv[i], "--repeat")) {
            if (!cli_int("--repeat", v, 1, 1000000, &repeat))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--box") && v && nboxes < 64) {
            if (sscanf(v, "%d,%d,%d,%d", &boxes[nboxes].x, &boxes[nboxes].y, &boxes[nboxes].w,
                       &boxes[nboxes].h) != 4 || boxes[nboxes].w <= 0 || boxes[nboxes].h <= 0) {
                cli_error("--box needs x,y,w,h");
                return 2;
            }
            nboxes++, i++;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin bench landmarks --image FILE [--model FILE] [--box x,y,w,h]... [--repeat N]\n"
                   "Times the landmark model on the image's faces (the detector's, or --box), min and\n"
                   "median ms per face, against nothing else: compare builds or models in one run.\n");
            return 0;
        } else {
            cli_error("bench landmarks: unknown argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!image) {
        cli_error("bench landmarks: --image FILE is required");
        return 2;
    }
    grin_error err = {{0}};
    grin_image img;
    if (grin_image_read(image, GRIN_PIX_GRAY8, &img, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return 1;
    }
    double t0 = now_ms();
    grin_landmarker *lm = NULL;
    if (grin_landmarker_load(model, &lm, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        grin_image_free(&img);
        return 1;
    }
    double load_ms = now_ms() - t0;
    if (nboxes == 0) {
        grin_cascade *c = NULL;
        grin_detector *d = NULL;
        size_t n = 0;
        if (grin_cascade_load(GRIN_DEFAULT_CASCADE, &c, &err) == GRIN_OK &&
            grin_detector_create(1, &d) == GRIN_OK) {
            grin_detect(d, c, &img, NULL, NULL, 0, &n);
            const grin_rect *r = grin_detector_results(d, &n);
            for (size_t k = 0; k < n && nboxes < 64; k++)
                boxes[nboxes++] = r[k];
        }
        grin_detector_free(d);
        grin_cascade_free(c);
    }
    grin_landmarker_info info;
    grin_landmarker_get_info(lm, &info);
    grin_point2f *pts = malloc(sizeof *pts * (size_t)info.parts);
    double *ms = malloc(sizeof(double) * (size_t)repeat);
    int rc = 0;
    if (!pts || !ms || nboxes == 0) {
        cli_error(nboxes ? "out of memory" : "bench landmarks: no face in %s (give --box)", image);
        rc = 1;
    } else {
        for (int b = 0; b < nboxes; b++) /* warm-up */
            grin_landmarks(lm, &img, boxes[b], pts, (size_t)info.parts, &err);
        for (int r = 0; r < repeat; r++) {
            double a = now_ms();
            for (int b = 0; b < nboxes; b++)
                grin_landmarks(lm, &img, boxes[b], pts, (size_t)info.parts, &err);
            ms[r] = (now_ms() - a) / nboxes;
        }
        qsort(ms, (size_t)repeat, sizeof *ms, cmp_double);
        fputs("{\"bench\":\"landmarks\",\"image\":", stdout);
        json_string(stdout, image);
        printf(",\"faces\":%d,\"repeat\":%d,\"ms_per_face_min\":%.4f,\"ms_per_face_median\":%.4f,"
               "\"model_load_ms\":%.2f,\"native_model\":%s,\"leaf_type\":%d}\n",
               nboxes, repeat, ms[0], ms[repeat / 2], load_ms, info.native ? "true" : "false",
               info.leaf_type);
    }
    free(pts);
    free(ms);
    grin_landmarker_free(lm);
    grin_image_free(&img);
    return rc;
}

#if defined(__x86_64__)
#include <immintrin.h>
/* 12 independent FMA chains: the core's fp32 throughput with the widest vectors the library
 * uses here */
__attribute__((target("avx512f"))) static float fma_loop512(long n)
{
    __m512 a[12], b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
    for (int i = 0; i < 12; i++)
        a[i] = _mm512_set1_ps((float)i * 1e-3f);
    for (long k = 0; k < n; k++)
        for (int i = 0; i < 12; i++)
            a[i] = _mm512_fmadd_ps(a[i], b, c);
    float s = 0;
    for (int i = 0; i < 12; i++)
        s += _mm512_reduce_add_ps(a[i]);
    return s;
}
__attribute__((target("avx2,fma"))) static float fma_loop256(long n)
{
    __m256 a[12], b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    for (int i = 0; i < 12; i++)
        a[i] = _mm256_set1_ps((float)i * 1e-3f);
    for (long k = 0; k < n; k++)
        for (int i = 0; i < 12; i++)
            a[i] = _mm256_fmadd_ps(a[i], b, c);
    float t[8], s = 0;
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(t, a[i]);
        s += t[0];
    }
    return s;
}
#endif

#if defined(__aarch64__)
#include <arm_neon.h>
/* 12 independent 4-lane FMA chains: enough to cover the FMA latency on Cortex-A57 to A78 */
static float fma_loop_neon(long n)
{
    float32x4_t a[12], b = vdupq_n_f32(0.9999f), c = vdupq_n_f32(1e-4f);
    for (int i = 0; i < 12; i++)
        a[i] = vdupq_n_f32((float)i * 1e-3f);
    for (long k = 0; k < n; k++)
        for (int i = 0; i < 12; i++)
            a[i] = vfmaq_f32(c, a[i], b);
    float s = 0;
    for (int i = 0; i < 12; i++)
        s += vgetq_lane_f32(a[i], 0);
    return s;
}
#endif

/* measured single-thread fp32 peak in GFLOP/s (best of 5 short runs); 0 if unknown */
static double core_peak_gflops(void)
{
    float (*loop)(long) = NULL;
    double flops_per_iter = 0; /* 12 FMA chains x lanes x 2 */
#if defined(__x86_64__)
    const char *cpu = grin_cpu_features();
    if (strstr(cpu, "avx512f"))
        loop = fma_loop512, flops_per_iter = 12 * 32;
    else if (strstr(cpu, "avx2") && strstr(cpu, "fma"))
        loop = fma_loop256, flops_per_iter = 12 * 16;
#elif defined(__aarch64__)
    if (strstr(grin_cpu_features(), "neon"))
        loop = fma_loop_neon, flops_per_iter = 12 * 8;
#endif
    if (!loop)
        return 0;
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r < 5; r++) {
        long n = 2000000;
        double t0 = now_ms();
        sink += loop(n);
        double s = (now_ms() - t0) / 1000.0, g = (double)n * flops_per_iter / s / 1e9;
        if (g > best)
            best = g;
    }
    (void)sink;
    return best;
}

/* `grin bench classify`: inference time of a classifier on synthetic crops, batch 1 or more,
 * as crops per second and the fraction of the fp32 peak of the cores used (measured first). */
static int bench_classify(int argc, char **argv)
{
    const char *model = default_classifier();
    int repeat = 200, batch = 1, threads = 1;
    bool int8 = false, raw = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--model") && v) {
            model = v, i++;
        } else if (!strcmp(argv[i], "--int8")) {
            int8 = true;
        } else if (!strcmp(argv[i], "--raw")) {
            raw = true;
        } else if (!strcmp(argv[i], "--threads")) {
            if (!cli_int("--threads", v, 1, 64, &threads))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--repeat")) {
            if (!cli_int("--repeat", v, 1, 1000000, &repeat))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--batch")) {
            if (!cli_int("--batch", v, 1, 4096, &batch))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin bench classify [--model FILE] [--batch N] [--threads N] [--int8] [--raw]\n"
                   "       [--repeat N]\n"
                   "Times the classifier on synthetic crops of its input size: ms per crop (min and\n"
                   "median), GFLOP/s and the fraction of this core's measured FMA peak. --raw: the\n"
                   "network alone, without the model's test-time mirror.\n");
            return 0;
        } else {
            cli_error("bench classify: unknown argument '%s'", argv[i]);
            return 2;
        }
    }
    grin_error err = {{0}};
    grin_classifier *c = NULL;
    if (grin_classifier_load(model, &c, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return 1;
    }
    grin_classifier_set_threads(c, threads);
    grin_classifier_set_raw(c, raw);
    if (!cli_set_int8(c, model, int8)) {
        grin_classifier_free(c);
        return 1;
    }
    grin_classifier_info info;
    grin_classifier_get_info(c, &info);
    grin_image *crops = calloc((size_t)batch, sizeof *crops);
    float *p = malloc(sizeof *p * (size_t)batch);
    double *ms = malloc(sizeof(double) * (size_t)repeat);
    int rc = 0;
    for (int k = 0; crops && k < batch; k++) {
        if (grin_image_alloc(info.input, info.input, info.channels == 1 ? GRIN_PIX_GRAY8 : GRIN_PIX_RGB24,
                             &crops[k]) != GRIN_OK) {
            rc = 1;
            break;
        }
        for (int y = 0; y < info.input; y++)
            for (int x = 0; x < info.input * info.channels; x++)
                crops[k].data[(size_t)y * crops[k].stride + x] = (uint8_t)(x * 7 + y * 3 + k);
    }
    if (!crops || !p || !ms || rc) {
        cli_error("out of memory");
        rc = 1;
    } else {
        grin_classify_crops(c, crops, (size_t)batch, p, &err); /* warm-up */
        for (int r = 0; r < repeat; r++) {
            double t0 = now_ms();
            grin_classify_crops(c, crops, (size_t)batch, p, &err);
            ms[r] = (now_ms() - t0) / batch;
        }
        qsort(ms, (size_t)repeat, sizeof *ms, cmp_double);
        double ips = 1000.0 / ms[repeat / 2];
        printf("{\"bench\":\"classify\",\"model\":");
        json_string(stdout, model);
        int passes = info.mirrored ? 2 : 1; /* the network runs twice per crop when mirrored */
        double peak = core_peak_gflops(), gf = 2.0 * (double)info.multiply_adds * passes * ips / 1e9;
        printf(",\"input\":%d,\"channels\":%d,\"alpha\":%.2f,\"batch\":%d,\"threads\":%d,\"int8\":%s,"
               "\"passes_per_crop\":%d,\"ms_per_crop_min\":%.4f,"
               "\"ms_per_crop_median\":%.4f,\"crops_per_s\":%.0f,\"gflops\":%.2f,\"core_peak_gflops\":%.1f,"
               "\"fraction_of_peak\":%.3f}\n",
               info.input, info.channels, info.alpha, batch, threads, int8 ? "true" : "false", passes, ms[0],
               ms[repeat / 2], ips, gf, peak,
               peak > 0 ? gf / (peak * threads) : 0.0);
    }
    for (int k = 0; crops && k < batch; k++)
        grin_image_free(&crops[k]);
    free(crops);
    free(p);
    free(ms);
    grin_classifier_free(c);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: grin bench detect --image FILE [options]\n"
                "       grin bench landmarks --image FILE [--model FILE] [--box x,y,w,h]... [--repeat N]\n"
                "       grin bench classify [--model FILE] [--batch N] [--threads N] [--int8] [--raw] [--repeat N]\n"
                "  (--raw: the network alone, without the model's test-time mirror)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "detect"))
        return bench_detect(argc - 1, argv + 1);
    if (!strcmp(argv[1], "landmarks"))
        return bench_landmarks(argc - 1, argv + 1);
    if (!strcmp(argv[1], "classify"))
        return bench_classify(argc - 1, argv + 1);
    cli_error("bench: unknown stage '%s' (have: detect, landmarks, classify)", argv[1]);
    return 2;
}
