/* cmd_detect.c — `grin detect`: faces in still images, one JSON line per image, and optionally
 * annotated copies. A bad image is reported and skipped; the exit status tells. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void help(FILE *f)
{
    fprintf(f, "usage: grin detect [options] IMAGE...\n"
               "Prints {\"image\",\"width\",\"height\",\"faces\":[{\"box\":[x,y,w,h]}]} per image.\n\n%s"
               "  --draw DIR            write annotated copies DIR/<name>.png\n",
            detect_opts_usage());
}

/* DIR/<file name without extension>.png */
/* DIR/<image's base name>.png, made unique within the run (two inputs a/x.jpg and b/x.jpg give
 * x.png and x-2.png) and never the input itself (x.png drawn into its own folder gives x-2.png) */
static char **drawn;
static size_t ndrawn, cap_drawn;
static void free_drawn(void)
{
    for (size_t i = 0; i < ndrawn; i++)
        free(drawn[i]);
    free(drawn);
}

static char *draw_path(const char *dir, const char *image)
{
    const char *base = strrchr(image, '/');
    base = base ? base + 1 : image;
    const char *dot = strrchr(base, '.');
    size_t blen = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    size_t n = strlen(dir) + blen + 24;
    char *p = malloc(n);
    if (!p)
        return NULL;
    for (int k = 1;; k++) {
        if (k == 1)
            snprintf(p, n, "%s/%.*s.png", dir, (int)blen, base);
        else
            snprintf(p, n, "%s/%.*s-%d.png", dir, (int)blen, base, k);
        bool taken = false;
        for (size_t i = 0; i < ndrawn && !taken; i++)
            taken = !strcmp(drawn[i], p);
        struct stat a, b;
        if (!taken && !(stat(p, &a) == 0 && stat(image, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
            break;
    }
    if (!ndrawn)
        atexit(free_drawn);
    char *keep = strdup(p);
    if (keep && ndrawn == cap_drawn) {
        size_t nc = cap_drawn ? 2 * cap_drawn : 16;
        char **nd = realloc(drawn, nc * sizeof *nd);
        if (nd)
            drawn = nd, cap_drawn = nc;
    }
    if (keep && ndrawn < cap_drawn)
        drawn[ndrawn++] = keep;
    else
        free(keep);
    return p;
}

static bool annotate(const char *dir, const char *path, const grin_image *img, const grin_rect *f,
                     size_t n)
{
    grin_image rgb;
    if (grin_image_convert(img, GRIN_PIX_RGB24, &rgb) != GRIN_OK) {
        cli_error("%s: cannot convert for drawing", path);
        return false;
    }
    grin_rgb green = {40, 220, 60}, black = {0, 0, 0};
    int t = rgb.width >= 640 ? 3 : 2;
    for (size_t i = 0; i < n; i++) {
        grin_draw_rect(&rgb, f[i].x, f[i].y, f[i].w, f[i].h, t, green);
        char label[32];
        snprintf(label, sizeof label, "face %zu", i + 1);
        int ty = f[i].y - 10 >= 0 ? f[i].y - 10 : f[i].y + 2;
        grin_draw_text(&rgb, f[i].x + 1, ty, label, 1, green, &black);
    }
    char *out = draw_path(dir, path);
    grin_error err = {{0}};
    grin_status st = out ? grin_image_write(out, &rgb, 90, &err) : GRIN_ERR_NO_MEMORY;
    if (st)
        cli_error("%s", out ? err.msg : "out of memory");
    free(out);
    grin_image_free(&rgb);
    return st == GRIN_OK;
}

int cmd_detect(int argc, char **argv)
{
    detect_opts o;
    detect_opts_default(&o);
    const char *draw = NULL;
    int first = 0, nimages = 0;
    char **images = calloc((size_t)argc, sizeof *images);
    if (!images) {
        cli_error("out of memory");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        int r = detect_opts_parse(&o, argc, argv, &i);
        if (r < 0) {
            free(images);
            return 2;
        }
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(stdout);
            free(images);
            return 0;
        } else if (!strcmp(argv[i], "--draw")) {
            if (i + 1 >= argc) {
                cli_error("--draw needs a directory");
                free(images);
                return 2;
            }
            draw = argv[++i];
        } else if (!strcmp(argv[i], "--")) {
            for (i++; i < argc; i++)
                images[nimages++] = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("detect: unknown option '%s' (see grin detect --help)", argv[i]);
            free(images);
            return 2;
        } else {
            images[nimages++] = argv[i];
        }
    }
    (void)first;
    if (nimages == 0) {
        help(stderr);
        free(images);
        return 2;
    }
    if (draw) {
        struct stat st;
        if (mkdir(draw, 0777) != 0 && errno != EEXIST) {
            cli_error("--draw %s: cannot create directory: %s", draw, strerror(errno));
            free(images);
            return 1;
        }
        if (stat(draw, &st) != 0 || !S_ISDIR(st.st_mode)) {
            cli_error("--draw %s: not a directory", draw);
            free(images);
            return 1;
        }
    }
    grin_error err = {{0}};
    grin_cascade *cascade = NULL;
    if (grin_cascade_load(o.cascade, &cascade, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        free(images);
        return 1;
    }
    grin_detector *det = NULL;
    if (grin_detector_create(o.threads, &det) != GRIN_OK) {
        cli_error("cannot create detector");
        grin_cascade_free(cascade);
        free(images);
        return 1;
    }
    int failures = 0;
    for (int k = 0; k < nimages; k++) {
        const char *path = images[k];
        grin_image img;
        if (grin_image_read(path, GRIN_PIX_RGB24, &img, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            json_image_error(path, err.msg);
            failures++;
            continue;
        }
        size_t n = 0;
        grin_status st = detect_faces(det, cascade, &img, &o, &n);
        if (st != GRIN_OK && st != GRIN_ERR_BUFFER_TOO_SMALL) {
            cli_error("%s: %s", path, grin_detector_error(det));
            grin_image_free(&img);
            failures++;
            continue;
        }
        const grin_rect *faces = grin_detector_results(det, &n);
        fputs("{" JSON_SCHEMA_FIELD ",\"image\":", stdout);
        json_string(stdout, path);
        printf(",\"width\":%d,\"height\":%d,\"faces\":[", img.width, img.height);
        for (size_t i = 0; i < n; i++)
            printf("%s{\"box\":[%d,%d,%d,%d]}", i ? "," : "", faces[i].x, faces[i].y, faces[i].w,
                   faces[i].h); /* the box as every other command writes it */
        fputs("]}\n", stdout);
        if (draw && !annotate(draw, path, &img, faces, n))
            failures++;
        grin_image_free(&img);
    }
    grin_detector_free(det);
    grin_cascade_free(cascade);
    free(images);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write to standard output");
        return 1;
    }
    return failures ? 1 : 0;
}
