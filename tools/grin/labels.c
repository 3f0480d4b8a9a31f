/* labels.c — reading labelled CSVs (a path relative to the CSV, a `smile` column, MTFL's
 * landmark columns when present) and picking the labelled face among several detections;
 * shared by align and eval. Bad rows are reported with file and line and skipped. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Reads the CSV; bad rows are reported (file and line) and skipped. */
/* columns grin align writes itself, so not carried through as extras */
static bool own_column(int i, int c_smile, const char *name)
{
    return i == 0 || i == c_smile || !strcmp(name, "aligned") || !strcmp(name, "source") ||
           !strcmp(name, "landmarks");
}

/* the fields of f[0..n) that are extra columns (per the header's names), comma-joined */
static char *join_extra(char **hdr, int nh, char **f, int n, int c_smile)
{
    size_t len = 1;
    for (int i = 0; i < nh; i++)
        if (!own_column(i, c_smile, hdr[i]))
            len += (i < n ? strlen(f[i]) : 0) + 1;
    char *s = malloc(len), *o = s;
    if (!s)
        return NULL;
    bool first = true; /* (an empty first field still needs the comma after it) */
    for (int i = 0; i < nh; i++)
        if (!own_column(i, c_smile, hdr[i])) {
            const char *v = i < n ? f[i] : "";
            if (!first)
                *o++ = ',';
            first = false;
            memcpy(o, v, strlen(v));
            o += strlen(v);
        }
    *o = 0;
    return s;
}

row *read_labels_csv(const char *csv, const char *by, char **extra_header, size_t *nrows, int *bad, bool *ok)
{
    *ok = false;
    *bad = 0;
    *nrows = 0;
    if (extra_header)
        *extra_header = NULL;
    grin_csv *rd;
    grin_error oerr = {{0}};
    if (grin_csv_open(csv, &rd, &oerr) != GRIN_OK) {
        cli_error("%s", oerr.msg);
        return NULL;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", csv);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = 0;
    else
        dir[0] = 0;
    char *line, *hdrbuf = NULL;
    size_t len;
    char *hdr[64];
    int nh = 0, c_by = -1, c_smile = -1, c_lx = -1, c_rx = -1, c_ly = -1, c_ry = -1, c_nx = -1, c_ny = -1;
    size_t cap = 0;
    row *rows = NULL;
    int lineno = 0, got;
    while ((got = grin_csv_next(rd, &line, &len)) != 0) {
        lineno = grin_csv_line_number(rd);
        if (got == -2) {
            cli_error("%s:%d: out of memory", csv, lineno);
            break;
        }
        if (got < 0) {
            cli_error("%s:%d: line longer than %u bytes, skipped", csv, lineno, GRIN_CSV_MAX_LINE);
            (*bad)++;
            continue;
        }
        if (len == 0)
            continue;
        if (nh == 0) {
            hdrbuf = malloc(len + 1);
            if (!hdrbuf) {
                cli_error("%s: out of memory", csv);
                break;
            }
            memcpy(hdrbuf, line, len + 1);
            nh = grin_csv_split(hdrbuf, hdr, 64);
            c_smile = grin_csv_column(hdr, nh, "smile");
            c_lx = grin_csv_column(hdr, nh, "x_leye"), c_rx = grin_csv_column(hdr, nh, "x_reye");
            c_ly = grin_csv_column(hdr, nh, "y_leye"), c_ry = grin_csv_column(hdr, nh, "y_reye");
            c_nx = grin_csv_column(hdr, nh, "x_nose"), c_ny = grin_csv_column(hdr, nh, "y_nose");
            if (c_smile < 1) {
                cli_error("%s:1: header has no 'smile' column after the path column", csv);
                grin_csv_close(rd);
                free(hdrbuf);
                return NULL;
            }
            if (by && (c_by = grin_csv_column(hdr, nh, by)) < 0) {
                cli_error("%s:1: header has no '%s' column", csv, by);
                grin_csv_close(rd);
                free(hdrbuf);
                return NULL;
            }
            if (extra_header && !(*extra_header = join_extra(hdr, nh, hdr, nh, c_smile))) {
                cli_error("out of memory");
                grin_csv_close(rd);
                free(hdrbuf);
                return NULL;
            }
            continue;
        }
        char *fld[64];
        int nf = grin_csv_split(line, fld, 64);
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
                grin_csv_close(rd);
                free(hdrbuf);
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
        if (by)
            r->group = xstrdup(c_by < nf ? fld[c_by] : "");
        if (extra_header)
            r->extra = join_extra(hdr, nh, fld, nf, c_smile);
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
        if (!r->path || !r->rel || (by && !r->group) || (extra_header && !r->extra)) {
            cli_error("out of memory");
            free(r->path), free(r->rel), free(r->group), free(r->extra);
            break;
        }
        (*nrows)++;
    }
    if (grin_csv_error(rd))
        cli_error("%s: read error", csv);
    else
        *ok = nh > 0;
    if (nh == 0)
        cli_error("%s: empty CSV (no header)", csv);
    grin_csv_close(rd);
    free(hdrbuf);
    return rows;
}

/* The labelled face among several detections: the one around the given landmarks, else the
 * largest. */
size_t pick_labelled_face(const row *r, const grin_rect *f, size_t n)
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


void free_labels(row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].path);
        free(rows[i].rel);
        free(rows[i].crop_pts);
        free(rows[i].group);
        free(rows[i].extra);
    }
    free(rows);
}
