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
    grin_status st = grin_detect(d, c, &img, &o.params, NULL, 0, &n); /* warm-up */
    for (int r = 0; r < repeat && (st == GRIN_OK || st == GRIN_ERR_BUFFER_TOO_SMALL); r++) {
        double t0 = now_ms();
        st = grin_detect(d, c, &img, &o.params, NULL, 0, &n);
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

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: grin bench detect --image FILE [options]\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "detect"))
        return bench_detect(argc - 1, argv + 1);
    cli_error("bench: unknown stage '%s' (have: detect)", argv[1]);
    return 2;
}
