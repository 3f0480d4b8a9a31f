/* csv.c — the one CSV line reader behind every labels file and table grin reads (grin align and
 * eval's photo lists, training's crop lists, grin plot's columns): lines of any length up to
 * GRIN__CSV_MAX_LINE in a buffer that grows, "\n" or "\r\n" endings, and a longer line skipped
 * whole so its tail is never read as a row of its own. Fields split at commas (no quoting:
 * grin's files don't need it, and paths with commas are refused where they are written). */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int grin__csv_next(grin__csv *c, char **line, size_t *len)
{
    size_t n = 0;
    bool too_long = false;
    for (;;) {
        if (c->cap - n < 2) {
            size_t cap = c->cap ? 2 * c->cap : 4096;
            if (cap > GRIN__CSV_MAX_LINE + 2)
                cap = GRIN__CSV_MAX_LINE + 2;
            if (cap - n < 2) { /* at the limit: read on to the end of the line, keep nothing */
                too_long = true;
                n = 0;
            } else {
                char *b = realloc(c->buf, cap);
                if (!b)
                    return -2;
                c->buf = b;
                c->cap = cap;
            }
        }
        if (!fgets(c->buf + n, (int)(c->cap - n), c->f)) {
            if (n == 0 && !too_long)
                return 0;
            break; /* the last line has no end */
        }
        size_t got = strlen(c->buf + n);
        n += got;
        if (n && c->buf[n - 1] == '\n')
            break;
    }
    c->lineno++;
    if (too_long)
        return -1;
    while (n && (c->buf[n - 1] == '\n' || c->buf[n - 1] == '\r'))
        c->buf[--n] = '\0';
    *line = c->buf;
    *len = n;
    return 1;
}

void grin__csv_free(grin__csv *c)
{
    free(c->buf);
    c->buf = NULL;
    c->cap = 0;
}

int grin__csv_split(char *line, char **f, int maxf)
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

int grin__csv_column(char *const *hdr, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(hdr[i], name))
            return i;
    return -1;
}

/* ---- the public face of the same reader */

struct grin_csv {
    grin__csv rd;
};

grin_status grin_csv_open(const char *path, grin_csv **out, grin_error *err)
{
    if (!path || !out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    *out = NULL;
    grin_csv *c = calloc(1, sizeof *c);
    if (!c)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    c->rd.f = fopen(path, "rb");
    if (!c->rd.f) {
        int e = errno;
        free(c);
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    *out = c;
    return GRIN_OK;
}

int grin_csv_next(grin_csv *c, char **line, size_t *len)
{
    return c && line && len ? grin__csv_next(&c->rd, line, len) : 0;
}

int grin_csv_error(const grin_csv *c)
{
    return c && c->rd.f && ferror(c->rd.f);
}

int grin_csv_line_number(const grin_csv *c)
{
    return c ? c->rd.lineno : 0;
}

void grin_csv_close(grin_csv *c)
{
    if (!c)
        return;
    if (c->rd.f)
        fclose(c->rd.f);
    grin__csv_free(&c->rd);
    free(c);
}

int grin_csv_split(char *line, char **fields, int max)
{
    return line && fields && max > 0 ? grin__csv_split(line, fields, max) : 0;
}

int grin_csv_column(char *const *header, int n, const char *name)
{
    return header && name ? grin__csv_column(header, n, name) : -1;
}
