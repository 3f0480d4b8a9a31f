/* cmd_plot.c — `grin plot`: a scatter plot of two numeric columns of a CSV as a PNG, drawn with
 * grin's own primitives (points labelled, points of one series joined), e.g. accuracy against time. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { W = 720, H = 480, L = 70, R = 170, T = 40, B = 50 };

int plot_read_points(const char *csv, const char *xc, const char *yc, const char *lc, const char *sc,
                       point *pts)
{
    grin_csv *rd;
    grin_error oerr = {{0}};
    if (grin_csv_open(csv, &rd, &oerr) != GRIN_OK) {
        cli_error("%s", oerr.msg);
        return -1;
    }
    char *line, *hdrbuf = NULL, *hdr[64], *fld[64];
    size_t len;
    int nh = 0, ix = -1, iy = -1, il = -1, is = -1, n = 0, lineno = 0, got;
    while ((got = grin_csv_next(rd, &line, &len)) != 0) {
        lineno = grin_csv_line_number(rd);
        if (got < 0) {
            cli_error("%s:%d: %s, row skipped", csv, lineno, got == -1 ? "line too long" : "out of memory");
            if (got == -2)
                break;
            continue;
        }
        if (!line[0])
            continue;
        if (!nh) {
            free(hdrbuf);
            hdrbuf = malloc(len + 1);
            if (!hdrbuf)
                break;
            memcpy(hdrbuf, line, len + 1);
            nh = grin_csv_split(hdrbuf, hdr, 64);
            ix = grin_csv_column(hdr, nh, xc), iy = grin_csv_column(hdr, nh, yc);
            il = lc ? grin_csv_column(hdr, nh, lc) : -1, is = sc ? grin_csv_column(hdr, nh, sc) : -1;
            const char *missing = ix < 0 ? xc : iy < 0 ? yc : (lc && il < 0) ? lc : (sc && is < 0) ? sc : NULL;
            if (missing) {
                cli_error("%s:1: no '%s' column", csv, missing);
                grin_csv_close(rd);
                free(hdrbuf);
                return -1;
            }
            continue;
        }
        int nf = grin_csv_split(line, fld, 64);
        char *e1 = NULL, *e2 = NULL;
        double x = ix < nf ? strtod(fld[ix], &e1) : NAN, y = iy < nf ? strtod(fld[iy], &e2) : NAN;
        if (!e1 || !e2 || e1 == fld[ix] || e2 == fld[iy] || *e1 || *e2 || !isfinite(x) || !isfinite(y)) {
            cli_error("%s:%d: '%s' and '%s' must be numbers, row skipped", csv, lineno, xc, yc);
            continue;
        }
        if (n == PLOT_MAXPTS) {
            cli_error("%s: more than %d rows, the rest left out", csv, PLOT_MAXPTS);
            break;
        }
        pts[n] = (point){.x = x, .y = y};
        snprintf(pts[n].label, sizeof pts[n].label, "%s", il >= 0 && il < nf ? fld[il] : "");
        snprintf(pts[n].series, sizeof pts[n].series, "%s", is >= 0 && is < nf ? fld[is] : "");
        n++;
    }
    grin_csv_close(rd);
    free(hdrbuf);
    if (!nh) {
        cli_error("%s: empty CSV (no header)", csv);
        return -1;
    }
    return n;
}

/* a round step giving about 5 ticks over [lo, hi] */
static double tick_step(double lo, double hi)
{
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void dot(grin_image *img, int x, int y, int r, grin_rgb c)
{
    grin_draw_rect(img, x - r, y - r, 2 * r + 1, 2 * r + 1, r + 1, c);
}

static void line(grin_image *img, int x0, int y0, int x1, int y1, grin_rgb c)
{
    int steps = abs(x1 - x0) > abs(y1 - y0) ? abs(x1 - x0) : abs(y1 - y0);
    for (int k = 0; k <= steps; k++)
        grin_draw_rect(img, x0 + (steps ? (x1 - x0) * k / steps : 0), y0 + (steps ? (y1 - y0) * k / steps : 0),
                       1, 1, 1, c);
}

static int cmp_series_x(const void *a, const void *b)
{
    const point *p = a, *q = b;
    int s = strcmp(p->series, q->series);
    return s ? s : (p->x < q->x ? -1 : p->x > q->x);
}

int cmd_plot(int argc, char **argv)
{
    const char *csv = NULL, *xc = NULL, *yc = NULL, *lc = NULL, *sc = NULL, *out = NULL, *title = "";
    bool xlog = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grin plot CSV --x COLUMN --y COLUMN --out FILE.png [--label COLUMN]\n"
                   "                 [--series COLUMN] [--title TEXT] [--xlog]\n"
                   "Draws the CSV's rows as points (y against x), each named by its --label\n"
                   "column; rows with the same --series value are joined in x order (e.g. one\n"
                   "line per network width). --xlog: a logarithmic x axis.\n");
            return 0;
        } else if (!strcmp(argv[i], "--x") && v) {
            xc = v, i++;
        } else if (!strcmp(argv[i], "--y") && v) {
            yc = v, i++;
        } else if (!strcmp(argv[i], "--label") && v) {
            lc = v, i++;
        } else if (!strcmp(argv[i], "--series") && v) {
            sc = v, i++;
        } else if (!strcmp(argv[i], "--out") && v) {
            out = v, i++;
        } else if (!strcmp(argv[i], "--title") && v) {
            title = v, i++;
        } else if (!strcmp(argv[i], "--xlog")) {
            xlog = true;
        } else if (argv[i][0] != '-' && !csv) {
            csv = argv[i];
        } else {
            cli_error("plot: unknown or incomplete option '%s'", argv[i]);
            return 2;
        }
    }
    if (!csv || !xc || !yc || !out) {
        cli_error("plot: CSV, --x, --y and --out are required (see grin plot --help)");
        return 2;
    }
    if (!strcmp(csv, out)) {
        cli_error("plot: --out %s is the CSV being read", out);
        return 2;
    }
    point *pts = malloc(sizeof *pts * PLOT_MAXPTS);
    if (!pts) {
        cli_error("out of memory");
        return 1;
    }
    int n = plot_read_points(csv, xc, yc, lc, sc, pts);
    if (n <= 0) {
        if (n == 0)
            cli_error("%s: no rows to plot", csv);
        free(pts);
        return 1;
    }
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (xlog && pts[i].x <= 0) {
            cli_error("plot: --xlog needs positive x values ('%s' has %g)", xc, pts[i].x);
            free(pts);
            return 1;
        }
        double x = xlog ? log10(pts[i].x) : pts[i].x;
        x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, pts[i].y), y1 = fmax(y1, pts[i].y);
    }
    /* margins of a tenth of the spread (or of the value when all are equal) */
    double dx = x1 > x0 ? 0.1 * (x1 - x0) : fmax(0.1 * fabs(x0), 0.1),
           dy = y1 > y0 ? 0.1 * (y1 - y0) : fmax(0.1 * fabs(y0), 0.01);
    x0 -= dx, x1 += dx, y0 -= dy, y1 += dy;
    grin_image img;
    if (grin_image_alloc(W, H, GRIN_PIX_RGB24, &img) != GRIN_OK) {
        cli_error("out of memory");
        free(pts);
        return 1;
    }
    memset(img.data, 255, (size_t)img.stride * H);
    grin_rgb axis = {60, 60, 60}, grid = {225, 225, 225};
    static const grin_rgb palette[] = {{200, 40, 40}, {40, 90, 200}, {30, 150, 60}, {160, 60, 170}, {220, 130, 0}};
    const int pw = W - L - R, ph = H - T - B;
#define PX(v) (L + (int)lround(((xlog ? log10(v) : (v)) - x0) / (x1 - x0) * pw))
#define PY(v) (T + ph - (int)lround(((v) - y0) / (y1 - y0) * ph))
    char buf[64];
    double ys = tick_step(y0, y1);
    for (double t = ceil(y0 / ys) * ys; t <= y1; t += ys) {
        int y = PY(t);
        line(&img, L, y, L + pw, y, grid);
        snprintf(buf, sizeof buf, "%g", fabs(t) < ys * 1e-6 ? 0.0 : t);
        grin_draw_text(&img, L - 8 - 8 * (int)strlen(buf), y - 4, buf, 1, axis, NULL);
    }
    if (xlog) { /* decades and their 2x, 5x */
        for (double d = floor(x0); d <= x1; d += 1)
            for (int m = 1; m <= 5; m += (m == 1 ? 1 : 3)) {
                double v = pow(10, d) * m;
                if (log10(v) < x0 || log10(v) > x1)
                    continue;
                int x = PX(v);
                line(&img, x, T, x, T + ph, grid);
                snprintf(buf, sizeof buf, "%g", v);
                grin_draw_text(&img, x - 4 * (int)strlen(buf), T + ph + 8, buf, 1, axis, NULL);
            }
    } else {
        double xs = tick_step(x0, x1);
        for (double t = ceil(x0 / xs) * xs; t <= x1; t += xs) {
            int x = PX(t);
            line(&img, x, T, x, T + ph, grid);
            snprintf(buf, sizeof buf, "%g", fabs(t) < xs * 1e-6 ? 0.0 : t);
            grin_draw_text(&img, x - 4 * (int)strlen(buf), T + ph + 8, buf, 1, axis, NULL);
        }
    }
    grin_draw_rect(&img, L, T, pw + 1, ph + 1, 1, axis);
    qsort(pts, (size_t)n, sizeof *pts, cmp_series_x);
    int colour = -1;
    for (int i = 0; i < n; i++) {
        bool new_series = i == 0 || strcmp(pts[i].series, pts[i - 1].series);
        colour = new_series ? colour + 1 : colour;
        grin_rgb c = palette[colour % 5];
        if (!new_series && sc)
            line(&img, PX(pts[i - 1].x), PY(pts[i - 1].y), PX(pts[i].x), PY(pts[i].y), c);
        if (new_series && sc && pts[i].series[0]) { /* the legend, right of the plot */
            grin_draw_rect(&img, L + pw + 12, T + 8 + 14 * colour, 8, 8, 4, c);
            grin_draw_text(&img, L + pw + 26, T + 8 + 14 * colour, pts[i].series, 1, axis, NULL);
        }
    }
    colour = -1;
    for (int i = 0; i < n; i++) { /* points and labels over the lines */
        colour = i == 0 || strcmp(pts[i].series, pts[i - 1].series) ? colour + 1 : colour;
        int x = PX(pts[i].x), y = PY(pts[i].y);
        dot(&img, x, y, 3, palette[colour % 5]);
        if (pts[i].label[0])
            grin_draw_text(&img, x + 6, y - 10, pts[i].label, 1, axis, NULL);
    }
#undef PX
#undef PY
    grin_draw_text(&img, L, 14, title, 1, axis, NULL);
    snprintf(buf, sizeof buf, "%s%s", xc, xlog ? " (log)" : "");
    grin_draw_text(&img, L + pw / 2 - 4 * (int)strlen(buf), H - 18, buf, 1, axis, NULL);
    grin_draw_text(&img, 4, T - 14, yc, 1, axis, NULL);
    grin_error err;
    int rc = 0;
    if (grin_image_write(out, &img, 0, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        rc = 1;
    }
    grin_image_free(&img);
    free(pts);
    return rc;
}
