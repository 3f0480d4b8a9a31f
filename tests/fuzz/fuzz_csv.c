/* fuzz_csv.c — libFuzzer target for the command line's CSV readers: the labelled-photo reader of
 * grin align and grin eval (a `by` column, the other columns carried through) and grin plot's
 * numeric columns. The input is written as a CSV and read by both. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char csv[96];

static void cleanup(void)
{
    remove(csv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!csv[0]) {
        snprintf(csv, sizeof csv, "/tmp/fuzz_csv_%d.csv", (int)getpid());
        atexit(cleanup);
        cli_quiet = true; /* the readers report every bad row */
    }
    FILE *f = fopen(csv, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    size_t n = 0;
    int bad = 0;
    bool ok = false;
    char *extra = NULL;
    row *rows = read_labels_csv(csv, "group", &extra, &n, &bad, &ok);
    for (size_t i = 0; i < n; i++)
        if (!rows[i].group || !rows[i].extra || !rows[i].path || (rows[i].smile != 0 && rows[i].smile != 1))
            abort();
    free_labels(rows, n);
    free(extra);
    point *pts = malloc(sizeof *pts * PLOT_MAXPTS);
    if (pts) {
        int k = plot_read_points(csv, "x", "y", "label", NULL, pts);
        for (int i = 0; i < k; i++)
            if (pts[i].x != pts[i].x || pts[i].y != pts[i].y)
                abort(); /* only finite numbers are plotted */
        free(pts);
    }
    return 0;
}
