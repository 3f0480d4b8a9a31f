/* cli_util.c — option parsing, errors and JSON output for the grin tool. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool cli_quiet;

static bool progress_shown;
static double progress_last;

void cli_progress(const char *what, long long done, long long total, const char *note)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(2);
    if (!tty || cli_quiet)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    if (progress_shown && now - progress_last < 0.25 && done != total)
        return;
    progress_last = now;
    if (total >= 0)
        fprintf(stderr, "\r\033[Kgrin %s: %lld/%lld (%d%%)%s%s", what, done, total,
                total > 0 ? (int)(100 * done / total) : 100, note ? "  " : "", note ? note : "");
    else
        fprintf(stderr, "\r\033[Kgrin %s: %lld%s%s", what, done, note ? "  " : "", note ? note : "");
    fflush(stderr);
    progress_shown = true;
}

void cli_progress_end(void)
{
    if (progress_shown)
        fputs("\r\033[K", stderr);
    progress_shown = false;
}

void cli_error(const char *fmt, ...)
{
    if (cli_quiet)
        return;
    if (progress_shown) /* the error on a line of its own; the progress line comes back after */
        fputs("\r\033[K", stderr);
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    fprintf(stderr, "grin: %s\n", buf);
}

bool cli_int(const char *opt, const char *val, int lo, int hi, int *out)
{
    if (!val) {
        cli_error("%s needs a value", opt);
        return false;
    }
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (end == val || *end || errno || v < lo || v > hi) {
        cli_error("%s: '%s' is not an integer in %d..%d", opt, val, lo, hi);
        return false;
    }
    *out = (int)v;
    return true;
}

bool cli_double(const char *opt, const char *val, double lo, double hi, double *out)
{
    if (!val) {
        cli_error("%s needs a value", opt);
        return false;
    }
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (end == val || *end || errno || !isfinite(v) || v < lo || v > hi) {
        cli_error("%s: '%s' is not a number in %g..%g", opt, val, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) {
                fprintf(f, "\\u%04x", *p);
            } else if (*p < 0x80) {
                fputc(*p, f);
            } else { /* a well-formed UTF-8 sequence as it is; any other byte as U+FFFD */
                int n = (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
                bool ok = n > 0 && !(*p == 0xC0 || *p == 0xC1) && *p <= 0xF4;
                for (int k = 1; ok && k < n; k++)
                    ok = (p[k] & 0xC0) == 0x80;
                if (ok && n == 3) /* no overlong forms, no surrogates */
                    ok = !(p[0] == 0xE0 && p[1] < 0xA0) && !(p[0] == 0xED && p[1] >= 0xA0);
                if (ok && n == 4)
                    ok = !(p[0] == 0xF0 && p[1] < 0x90) && !(p[0] == 0xF4 && p[1] >= 0x90);
                if (ok) {
                    fwrite(p, 1, (size_t)n, f);
                    p += n - 1;
                } else {
                    fputs("\\ufffd", f);
                }
            }
        }
    }
    fputc('"', f);
}

void detect_opts_default(detect_opts *o)
{
    o->cascade = GRIN_DEFAULT_CASCADE;
    grin_detect_params_default(&o->params);
    o->threads = 1;
    o->photos = false;
    o->one_look = false;
    o->profile = NULL;
    o->profile_path = NULL;
}

/* the profile cascade a command's options loaded: one per process, freed at exit */
static grin_cascade *loaded_profile;
static void free_profile(void) { grin_cascade_free(loaded_profile); }

static bool load_profile(detect_opts *o, const char *path)
{
    grin_cascade *c;
    grin_error err = {{0}};
    if (grin_cascade_load(path, &c, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        return false;
    }
    if (!loaded_profile)
        atexit(free_profile);
    grin_cascade_free(loaded_profile);
    o->profile = loaded_profile = c;
    o->profile_path = path;
    return true;
}

const char *photo_opts_usage(void)
{
    return "  --one-look            no second look (a border around the photo, a finer pyramid,\n"
           "                        2 neighbours) when the first finds no face\n";
}

grin_status detect_faces(grin_detector *d, const grin_cascade *c, const grin_image *img,
                         const detect_opts *o, size_t *count)
{
    if (o->profile) { /* frontal and profile; for a photo the frontal second look if neither finds one */
        grin_status st = grin_detect_profiles(d, c, o->profile, img, &o->params, count);
        if (st || *count || !o->photos || o->one_look)
            return st;
        return grin_detect_photo(d, c, img, &o->params, count);
    }
    if (o->photos && !o->one_look)
        return grin_detect_photo(d, c, img, &o->params, count);
    return grin_detect(d, c, img, &o->params, NULL, 0, count);
}

/* the landmarks from one starting box, refined twice by the box they imply */
static grin_status refined_landmarks(const grin_landmarker *lm, const grin_image *img, grin_rect *box,
                                     grin_point2f *pts, size_t count, grin_error *err)
{
    grin_status st = grin_landmarks(lm, img, *box, pts, count, err);
    for (int round = 0; round < 2 && st == GRIN_OK; round++) {
        grin_rect b;
        if (grin_landmarks_box(lm, pts, count, &b) != GRIN_OK)
            break; /* keep what the starting box gave */
        if (b.x == box->x && b.y == box->y && b.w == box->w)
            break;
        *box = b;
        st = grin_landmarks(lm, img, *box, pts, count, err);
    }
    return st;
}

bool face_crop_landmarks(grin_detector *d, const grin_cascade *c, const detect_opts *o, const grin_landmarker *lm,
                         const grin_aligner *al, const grin_image *img, grin_rect *box, grin_point2f *pts,
                         size_t count, grin_align_fit *fit)
{
    enum { MAXSTART = 4 };
    grin_rect start[MAXSTART];
    int ns = 0, side = img->width < img->height ? img->width : img->height;
    size_t n = 0;
    grin_status st = detect_faces(d, c, img, o, &n);
    const grin_rect *f = grin_detector_results(d, &n);
    long best_area = 0;
    for (size_t i = 0; (st == GRIN_OK || st == GRIN_ERR_BUFFER_TOO_SMALL) && i < n; i++) {
        /* the crop's face is around its centre and large, not a small face behind it */
        int cx = img->width / 2, cy = img->height / 2;
        if (5 * f[i].w < 2 * side || cx < f[i].x || cx >= f[i].x + f[i].w || cy < f[i].y || cy >= f[i].y + f[i].h)
            continue;
        if ((long)f[i].w * f[i].h > best_area) {
            best_area = (long)f[i].w * f[i].h;
            start[0] = f[i];
            ns = 1;
        }
    }
    memset(fit, 0, sizeof *fit);
    if (ns) { /* found as in a photo: the photo path exactly */
        *box = start[0];
        grin_error err;
        return grin_landmarks(lm, img, *box, pts, count, &err) == GRIN_OK &&
               grin_align_fit_points(al, pts, count, fit) == GRIN_OK;
    }
    /* not found: the whole crop (a detector's box, a tight crop) and centred squares for crops
     * with more around the face, each refined */
    static const float frac[] = {1.0f, 0.8f, 0.64f};
    for (int k = 0; k < 3; k++) {
        int w = (int)lroundf(frac[k] * (float)side);
        start[ns++] = (grin_rect){(img->width - w) / 2, (img->height - w) / 2, w, w};
    }
    *box = start[0];
    grin_point2f *cand = malloc(sizeof *cand * count);
    bool found = false;
    float best = INFINITY;
    for (int k = 0; cand && k < ns; k++) {
        grin_rect b = start[k];
        grin_error err;
        grin_align_fit cf;
        if (refined_landmarks(lm, img, &b, cand, count, &err) != GRIN_OK ||
            grin_align_fit_points(al, cand, count, &cf) != GRIN_OK)
            continue;
        /* the most face-like shape wins: what the template explains best, undistorted first; a
         * shape whose box reaches out of the crop is suspect (from too large a start the model
         * can settle on a face-shaped outline larger than the face), by the share of the box
         * outside */
        long in_w = (long)(b.x + b.w < img->width ? b.x + b.w : img->width) - (b.x > 0 ? b.x : 0),
             in_h = (long)(b.y + b.h < img->height ? b.y + b.h : img->height) - (b.y > 0 ? b.y : 0);
        float outside = 1.0f - (in_w > 0 && in_h > 0 ? (float)(in_w * in_h) / ((float)b.w * b.h) : 0.0f);
        float score = cf.rms_error + 10.0f * outside + (cf.usable ? 0.0f : 1e6f);
        if (score < best) {
            best = score;
            *box = b;
            *fit = cf;
            memcpy(pts, cand, sizeof *cand * count);
            found = true;
        }
    }
    free(cand);
    return found;
}

const char *detect_opts_usage(void)
{
    return "  --cascade FILE        OpenCV cascade XML (default: Debian's "
           "haarcascade_frontalface_default)\n"
           "  --scale-factor F      pyramid step, > 1 (default 1.1)\n"
           "  --min-neighbors N     raw hits a face needs (default 3; 0 = ungrouped)\n"
           "  --min-size N          smallest face side in pixels (default 30)\n"
           "  --max-size N          largest face side (default: the image)\n"
           "  --threads N           worker threads, 0 = all CPUs (default 1)\n"
           "  --detector D          frontal (default: the cascade above) or frontal+profile\n"
           "                        (also Debian's profile-face cascade, on the image and its\n"
           "                        mirror: more turned faces, more false boxes, ~3x the time)\n"
           "  --profile-cascade F   the profile cascade for frontal+profile (implies it)\n";
}

int detect_opts_parse(detect_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int n;
    if (o->photos && !strcmp(a, "--one-look")) {
        o->one_look = true;
        return 1;
    }
    if (!strcmp(a, "--cascade")) {
        if (!v) {
            cli_error("--cascade needs a file");
            return -1;
        }
        o->cascade = v;
    } else if (!strcmp(a, "--scale-factor")) {
        if (!cli_double(a, v, 1.0001, 100.0, &o->params.scale_factor))
            return -1;
    } else if (!strcmp(a, "--min-neighbors")) {
        if (!cli_int(a, v, 0, 1000, &o->params.min_neighbors))
            return -1;
    } else if (!strcmp(a, "--min-size")) {
        if (!cli_int(a, v, 0, GRIN_MAX_IMAGE_SIDE, &n))
            return -1;
        o->params.min_width = o->params.min_height = n;
    } else if (!strcmp(a, "--max-size")) {
        if (!cli_int(a, v, 0, GRIN_MAX_IMAGE_SIDE, &n))
            return -1;
        o->params.max_width = o->params.max_height = n;
    } else if (!strcmp(a, "--detector")) {
        if (!v || (strcmp(v, "frontal") && strcmp(v, "frontal+profile"))) {
            cli_error("--detector takes frontal or frontal+profile");
            return -1;
        }
        if (!strcmp(v, "frontal"))
            o->profile = NULL;
        else if (!o->profile && !load_profile(o, GRIN_PROFILE_CASCADE))
            return -1;
    } else if (!strcmp(a, "--profile-cascade")) {
        if (!v) {
            cli_error("--profile-cascade needs a file");
            return -1;
        }
        if (!load_profile(o, v))
            return -1;
    } else if (!strcmp(a, "--threads")) {
        if (!cli_int(a, v, 0, 256, &o->threads))
            return -1;
    } else {
        return 0;
    }
    (*i)++;
    return 1;
}

double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void json_image_error(const char *path, const char *msg)
{
    fputs("{" JSON_SCHEMA_FIELD ",\"image\":", stdout);
    json_string(stdout, path);
    fputs(",\"error\":", stdout);
    json_string(stdout, msg);
    fputs("}\n", stdout);
}

bool output_is_input(const char *out, const char *in, const char *what)
{
    struct stat so, si;
    if (!out || !in || stat(out, &so) != 0 || stat(in, &si) != 0 || so.st_dev != si.st_dev || so.st_ino != si.st_ino)
        return false;
    cli_error("%s is the same file as the %s %s: choose another output (nothing was written)", out, what, in);
    return true;
}

static void print_metrics_json(const grin_metrics *m, int n, bool two_classes)
{
    printf("\"n\":%d,\"acc\":%.4f,\"acc_ci\":[%.4f,%.4f],", n, m->acc, m->acc_lo, m->acc_hi);
    if (two_classes)
        printf("\"auc\":%.4f,\"auc_ci\":[%.4f,%.4f]", m->auc, m->auc_lo, m->auc_hi);
    else /* one class only: no ranking to measure */
        printf("\"auc\":null,\"auc_ci\":null");
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void print_eval(const float *p, const uint8_t *y, int n, char *const *tags, const char *by, long missed)
{
    grin_metrics m;
    grin_metrics_compute(p, y, (size_t)n, &m);
    printf("95%% intervals: accuracy [%.4f, %.4f]  AUC [%.4f, %.4f]\n", m.acc_lo, m.acc_hi, m.auc_lo,
           m.auc_hi);
    if (by && tags && n) { /* each distinct value of the column, in sorted order */
        char **sorted = malloc(sizeof *sorted * (size_t)n);
        float *gp = malloc(sizeof *gp * (size_t)n);
        uint8_t *gy = malloc((size_t)n);
        if (!sorted || !gp || !gy) {
            cli_error("eval: out of memory (per-group figures left out)");
        } else {
            memcpy(sorted, tags, sizeof *sorted * (size_t)n);
            qsort(sorted, (size_t)n, sizeof *sorted, cmp_tag);
            for (int i = 0; i < n;) {
                int j = i, k = 0, pos = 0;
                while (j < n && !strcmp(sorted[j], sorted[i]))
                    j++;
                for (int r = 0; r < n; r++)
                    if (!strcmp(tags[r], sorted[i])) {
                        gp[k] = p[r];
                        pos += gy[k++] = y[r];
                    }
                grin_metrics g;
                grin_metrics_compute(gp, gy, (size_t)k, &g);
                printf("{\"by\":");
                json_string(stdout, by);
                printf(",\"group\":");
                json_string(stdout, sorted[i]);
                putchar(',');
                print_metrics_json(&g, k, pos && pos < k);
                printf("}\n");
                i = j;
            }
        }
        free(sorted);
        free(gp);
        free(gy);
    }
    long pos = 0;
    for (int i = 0; i < n; i++)
        pos += y[i];
    printf("{" JSON_SCHEMA_FIELD ",");
    print_metrics_json(&m, n, pos && pos < n);
    printf(",\"missed\":%ld}\n", missed);
}
