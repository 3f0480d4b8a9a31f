/* csv.c — the one CSV line reader behind every labels file and table grin reads (grin align and
 * eval's photo lists, training's crop lists, grin plot's columns): lines of any length up to
 * GRIN__CSV_MAX_LINE in a buffer that grows, "\n" or "\r\n" endings, and a longer line skipped
 * whole so its tail is never read as a row of its own. Fields split at commas (no quoting:
 * grin's files don't need it, and paths with commas are refused where they are written). */
#include "internal.h"

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

int grin__csv_column(char **hdr, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(hdr[i], name))
            return i;
    return -1;
}
