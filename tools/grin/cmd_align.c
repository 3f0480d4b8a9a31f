/* cmd_align.c — `grin align`: the preprocessing that training uses. Runs detection, landmarks
 * and alignment over a labelled CSV (first column a path relative to the CSV, a `smile`
 * column), writes the crops and DIR/labels.csv, and reports how many faces were found,
 * aligned, fell back to the box crop, or were missed. Images run on a pool of threads; output
 * keeps the input order. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *path;     /* as resolved against the CSV's folder */
    char *rel;      /* as written in the CSV */
    int smile;
    int line;
    bool has_pts;   /* MTFL-style landmark columns */
    float cx, cy;   /* centre of the given landmarks */
    /* results */
    enum { R_PENDING, R_UNREADABLE, R_MISSED, R_ALIGNED, R_FELL_BACK, R_FAILED } result;
    char out_name[64];
} row;

typedef struct {
    row *rows;
    size_t nrows;
    atomic_size_t next;
    const grin_cascade *cascade;
    const grin_landmarker *lm;
    const grin_aligner *al;
    grin_detect_params params;
    const char *out_dir;
    pthread_mutex_t log_lock; /* serialises error lines */
} job;

static void help(FILE *f)
{
    fprintf(f, "usage: grin align --labels IN.csv --out DIR [--size N] [--margin M] [--model FILE]\n"
               "                  [--max-distortion R] [detect options]\n"
               "Writes DIR/<n>.png crops and DIR/labels.csv (file,smile,aligned,source).\n%s",
            detect_opts_usage());
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Splits a CSV line in place on commas (no quoting in these sets); returns the field count. */
static int split(char *line, char **f, int maxf)
{
    int n = 0;
    char *p = line;
    while (n < maxf) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

static int column(char **hdr, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(hdr[i], name))
            return i;
    return -1;
}

/* Reads the CSV; bad rows are reported (file and line) and skipped. */
static row *read_csv(const char *csv, size_t *nrows, int *bad, bool *ok)
{
    *ok = false;
    *bad = 0;
    *nrows = 0;
    FILE *f = fopen(csv, "rb");
    if (!f) {
        cli_error("%s: cannot open: %s", csv, strerror(errno));
        return NULL;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", csv);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = 0;
    else
        dir[0] = 0;
    char line[8192];
    char *hdr[64];
    int nh = 0, c_smile = -1, c_lx = -1, c_rx = -1, c_ly = -1, c_ry = -1, c_nx = -1, c_ny = -1;
    size_t cap = 0;
    row *rows = NULL;
    int lineno = 0;
    char hdrbuf[8192];
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            cli_error("%s:%d: line too long, skipped", csv, lineno);
            (*bad)++;
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
            continue;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0)
            continue;
        if (nh == 0) {
            memcpy(hdrbuf, line, len + 1);
            nh = split(hdrbuf, hdr, 64);
            c_smile = column(hdr, nh, "smile");
            c_lx = column(hdr, nh, "x_leye"), c_rx = column(hdr, nh, "x_reye");
            c_ly = column(hdr, nh, "y_leye"), c_ry = column(hdr, nh, "y_reye");
            c_nx = column(hdr, nh, "x_nose"), c_ny = column(hdr, nh, "y_nose");
            if (c_smile < 1) {
                cli_error("%s:1: header has no 'smile' column after the path column", csv);
                fclose(f);
                return NULL;
            }
            continue;
        }
        char *fld[64];
        int nf = split(line, fld, 64);
        char *end;
        long smile = nf > c_smile ? strtol(fld[c_smile], &end, 10) : -1;
        if (nf <= c_smile || !fld[0][0] || end == fld[c_smile] || *end || (smile != 0 && smile != 1)) {
            cli_error("%s:%d: bad row (needs a path and smile 0 or 1), skipped", csv, lineno);
            (*bad)++;
            continue;
        }
        if (*nrows == cap) {
            cap = cap ? cap * 2 : 1024;
            row *nr = realloc(rows, cap * sizeof *nr);
            if (!nr) {
                cli_error("out of memory");
                fclose(f);
                return rows;
            }
            rows = nr;
        }
        row *r = &rows[*nrows];
        memset(r, 0, sizeof *r);
        char full[8192];
        snprintf(full, sizeof full, "%s%s", fld[0][0] == '/' ? "" : dir, fld[0]);
        r->path = xstrdup(full);
        r->rel = xstrdup(fld[0]);
        r->smile = (int)smile;
        r->line = lineno;
        if (c_lx > 0 && c_rx > 0 && c_ly > 0 && c_ry > 0 && c_nx > 0 && c_ny > 0 &&
            nf > c_lx && nf > c_rx && nf > c_ly && nf > c_ry && nf > c_nx && nf > c_ny) {
            float v[6] = {strtof(fld[c_lx], NULL), strtof(fld[c_rx], NULL), strtof(fld[c_nx], NULL),
                          strtof(fld[c_ly], NULL), strtof(fld[c_ry], NULL), strtof(fld[c_ny], NULL)};
            if (isfinite(v[0] + v[1] + v[2] + v[3] + v[4] + v[5])) {
                r->has_pts = true;
                r->cx = (v[0] + v[1] + v[2]) / 3;
                r->cy = (v[3] + v[4] + v[5]) / 3;
            }
        }
        if (!r->path || !r->rel) {
            cli_error("out of memory");
            break;
        }
        (*nrows)++;
    }
    if (ferror(f))
        cli_error("%s: read error", csv);
    else
        *ok = nh > 0;
    if (nh == 0)
        cli_error("%s: empty CSV (no header)", csv);
    fclose(f);
    return rows;
}

/* The labelled face among several detections: the one around the given landmarks, else the
 * largest. */
static size_t pick_face(const row *r, const grin_rect *f, size_t n)
{
    size_t best = 0;
    double best_score = -1;
    for (size_t i = 0; i < n; i++) {
        double score;
        if (r->has_pts) {
            double dx = f[i].x + 0.5 * f[i].w - r->cx, dy = f[i].y + 0.5 * f[i].h - r->cy;
            score = 1e9 - (dx * dx + dy * dy);
        } else {
            score = (double)f[i].w * f[i].h;
        }
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    return best;
}

static void *worker(void *arg)
{
    job *J = arg;
    grin_detector *det = NULL;
    if (grin_detector_create(1, &det) != GRIN_OK)
        return NULL;
    grin_landmarker_info info;
    grin_landmarker_get_info(J->lm, &info);
    grin_point2f *pts = malloc(sizeof *pts * (size_t)info.parts);
    for (;;) {
        size_t i = atomic_fetch_add(&J->next, 1);
        if (i >= J->nrows || !pts)
            break;
        row *r = &J->rows[i];
        grin_error err = {{0}};
        grin_image img;
        if (grin_image_read(r->path, GRIN_PIX_RGB24, &img, &err) != GRIN_OK) {
            pthread_mutex_lock(&J->log_lock);
            cli_error("%s", err.msg);
            pthread_mutex_unlock(&J->log_lock);
            r->result = R_UNREADABLE;
            continue;
        }
        size_t n = 0;
        grin_status st = grin_detect(det, J->cascade, &img, &J->params, NULL, 0, &n);
        const grin_rect *faces = grin_detector_results(det, &n);
        if ((st != GRIN_OK && st != GRIN_ERR_BUFFER_TOO_SMALL) || n == 0) {
            r->result = R_MISSED;
            grin_image_free(&img);
            continue;
        }
        grin_rect box = faces[pick_face(r, faces, n)];
        grin_align_fit fit = {0};
        if (grin_landmarks(J->lm, &img, box, pts, (size_t)info.parts, &err) == GRIN_OK)
            grin_align_fit_points(J->al, pts, (size_t)info.parts, &fit);
        grin_image crop;
        int aligned = 0;
        if (grin_align_warp(J->al, &img, &fit, box, &crop, &aligned) != GRIN_OK) {
            r->result = R_FAILED;
            grin_image_free(&img);
            continue;
        }
        snprintf(r->out_name, sizeof r->out_name, "%06zu.png", i);
        char out[8192];
        snprintf(out, sizeof out, "%s/%s", J->out_dir, r->out_name);
        if (grin_image_write(out, &crop, 0, &err) != GRIN_OK) {
            pthread_mutex_lock(&J->log_lock);
            cli_error("%s", err.msg);
            pthread_mutex_unlock(&J->log_lock);
            r->result = R_FAILED;
        } else {
            r->result = aligned ? R_ALIGNED : R_FELL_BACK;
        }
        grin_image_free(&crop);
        grin_image_free(&img);
    }
    free(pts);
    grin_detector_free(det);
    return NULL;
}

int cmd_align(int argc, char **argv)
{
    detect_opts o;
    detect_opts_default(&o);
    o.threads = 0;
    const char *labels = NULL, *out_dir = NULL, *model = GRIN_DEFAULT_LANDMARK_MODEL;
    grin_align_params ap;
    grin_align_params_default(&ap);
    for (int i = 1; i < argc; i++) {
        int r = detect_opts_parse(&o, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--labels") && v) {
            labels = v, i++;
        } else if (!strcmp(argv[i], "--out") && v) {
            out_dir = v, i++;
        } else if (!strcmp(argv[i], "--model") && v) {
            model = v, i++;
        } else if (!strcmp(argv[i], "--size")) {
            if (!cli_int("--size", v, 8, 4096, &ap.size))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--margin")) {
            if (!cli_double("--margin", v, 0.0, 0.44, &d))
                return 2;
            ap.margin = (float)d, i++;
        } else if (!strcmp(argv[i], "--max-distortion")) {
            if (!cli_double("--max-distortion", v, 1.0, 1000.0, &d))
                return 2;
            ap.max_distortion = (float)d, i++;
        } else {
            cli_error("align: unknown or incomplete option '%s' (see grin align --help)", argv[i]);
            return 2;
        }
    }
    if (!labels || !out_dir) {
        cli_error("align: --labels CSV and --out DIR are required");
        return 2;
    }
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        cli_error("--out %s: cannot create directory: %s", out_dir, strerror(errno));
        return 1;
    }
    size_t nrows;
    int bad;
    bool ok;
    row *rows = read_csv(labels, &nrows, &bad, &ok);
    if (!ok) {
        for (size_t i = 0; i < nrows; i++)
            free(rows[i].path), free(rows[i].rel);
        free(rows);
        return 1;
    }
    grin_error err = {{0}};
    grin_cascade *cascade = NULL;
    grin_landmarker *lm = NULL;
    grin_aligner *al = NULL;
    int rc = 0;
    if (grin_cascade_load(o.cascade, &cascade, &err) != GRIN_OK ||
        grin_landmarker_load(model, &lm, &err) != GRIN_OK ||
        grin_aligner_create(lm, &ap, &al, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    }
    double t0 = now_ms();
    if (!rc) {
        job J = {.rows = rows, .nrows = nrows, .cascade = cascade, .lm = lm, .al = al,
                 .params = o.params, .out_dir = out_dir};
        atomic_init(&J.next, 0);
        pthread_mutex_init(&J.log_lock, NULL);
        int nt = o.threads > 0 ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (nt < 1)
            nt = 1;
        pthread_t th[256];
        int started = 0;
        for (int t = 0; t < nt && t < 256; t++)
            if (pthread_create(&th[started], NULL, worker, &J) == 0)
                started++;
        if (started == 0)
            worker(&J);
        for (int t = 0; t < started; t++)
            pthread_join(th[t], NULL);
        pthread_mutex_destroy(&J.log_lock);
    }
    size_t count[6] = {0};
    if (!rc) {
        char path[8192];
        snprintf(path, sizeof path, "%s/labels.csv", out_dir);
        FILE *f = fopen(path, "w");
        if (!f) {
            cli_error("%s: cannot create: %s", path, strerror(errno));
            rc = 1;
        } else {
            fprintf(f, "file,smile,aligned,source\n");
            for (size_t i = 0; i < nrows; i++) {
                count[rows[i].result]++;
                if (rows[i].result == R_ALIGNED || rows[i].result == R_FELL_BACK)
                    fprintf(f, "%s,%d,%d,%s\n", rows[i].out_name, rows[i].smile,
                            rows[i].result == R_ALIGNED, rows[i].rel);
            }
            if (fclose(f) != 0) {
                cli_error("%s: write failed", path);
                rc = 1;
            }
        }
    }
    if (!rc)
        printf("{\"labels\":\"%s\",\"rows\":%zu,\"bad_rows\":%d,\"unreadable\":%zu,\"found\":%zu,"
               "\"aligned\":%zu,\"fell_back\":%zu,\"missed\":%zu,\"failed\":%zu,\"seconds\":%.1f}\n",
               labels, nrows, bad, count[R_UNREADABLE], count[R_ALIGNED] + count[R_FELL_BACK] + count[R_FAILED],
               count[R_ALIGNED], count[R_FELL_BACK], count[R_MISSED], count[R_FAILED],
               (now_ms() - t0) / 1000.0);
    for (size_t i = 0; i < nrows; i++)
        free(rows[i].path), free(rows[i].rel);
    free(rows);
    grin_aligner_free(al);
    grin_landmarker_free(lm);
    grin_cascade_free(cascade);
    return rc ? rc : (count[R_UNREADABLE] || count[R_FAILED] || bad ? 1 : 0);
}
