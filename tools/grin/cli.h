/* cli.h — shared helpers of the grin command-line tool: option parsing, JSON output and the
 * subcommand entry points (one cmd_<verb>.c per subcommand). */
#ifndef GRIN_CLI_H
#define GRIN_CLI_H

#include "grin.h"

#include <stdbool.h>
#include <stdio.h>

int cmd_detect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_landmarks(int argc, char **argv);
int cmd_convert_landmarks(int argc, char **argv);
int cmd_align(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_eval_full(int argc, char **argv);
int cmd_plot(int argc, char **argv);

/* grin plot's rows: two numeric columns, a label and a series column (either may be NULL) */
enum { PLOT_MAXPTS = 1024 };
typedef struct {
    double x, y;
    char label[48], series[48];
} point;
/* reads at most PLOT_MAXPTS points into pts; their count, or -1 (error printed) */
int plot_read_points(const char *csv, const char *xc, const char *yc, const char *lc, const char *sc, point *pts);
const char *default_classifier(void);
/* 8-bit inference when int8 is set; false (and the one-line error said) when the model has no
 * calibration */
bool cli_set_int8(grin_classifier *c, const char *model, bool int8);
/* --no-branch: the classifier's landmark branch unused */
#define CLI_NO_BRANCH_USAGE "  --no-branch         ignore the faces' landmarks: the network alone, as for crops\n"

/* Prints "grin: <message>" on one line to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress of a long command on stderr, only when stderr is a terminal: one line, redrawn at most
 * four times a second ("grin WHAT: DONE/TOTAL (P%)", or "... DONE" when total < 0, with note
 * appended when not NULL); cli_error clears it first. cli_progress_end clears it for good. */
void cli_progress(const char *what, long long done, long long total, const char *note);
void cli_progress_end(void);
/* set by fuzz targets: cli_error prints nothing (the fuzzer's own output stays readable) */
extern bool cli_quiet;

/* Numeric option values; print an error naming the option and return false when bad. */
bool cli_int(const char *opt, const char *val, int lo, int hi, int *out);
bool cli_double(const char *opt, const char *val, double lo, double hi, double *out);

/* JSON string literal (with quotes) for arbitrary bytes. */
void json_string(FILE *f, const char *s);
/* The version of grin's JSON output (README, "Output"): every line of detect, landmarks and
 * classify, the last line of eval, align and run --stats, and the first line of run's events
 * carry it as "schema"; it goes up when a field changes meaning or goes away (new fields may be
 * added without it). */
#define GRIN_JSON_SCHEMA 1
#define JSON_SCHEMA_FIELD "\"schema\":1" /* (GRIN_JSON_SCHEMA as text) */
/* true (with a one-line error) when out names the same existing file as in, `what` says which
 * input ("input", "model", ...) */
bool output_is_input(const char *out, const char *in, const char *what);
/* The line an image gets in a command's JSON output when it can't be read. */
void json_image_error(const char *path, const char *msg);

/* Detection options shared by detect and bench detect. Returns 1 if argv[*i] was one of them
 * (advancing *i past its value), 0 if not, -1 on a bad value. */
typedef struct {
    const char *cascade;
    grin_detect_params params;
    int threads;
    bool photos;   /* the command reads single photos: a second look when none is found */
    bool one_look; /* --one-look turns that off */
    /* --detector frontal+profile: the profile cascade too (grin_detect_profiles); loaded when the
     * option is parsed, freed at exit */
    const grin_cascade *profile;
    const char *profile_path; /* ... and its file */
} detect_opts;
void detect_opts_default(detect_opts *o);
int detect_opts_parse(detect_opts *o, int argc, char **argv, int *i);
const char *detect_opts_usage(void);
const char *photo_opts_usage(void);
/* grin_detect, or grin_detect_photo for the photo commands unless --one-look */
grin_status detect_faces(grin_detector *d, const grin_cascade *c, const grin_image *img,
                         const detect_opts *o, size_t *count);

/* A face crop that grin did not make (a detector's box, a tight crop, a crop with background
 * around the face): its face's landmarks. When the detector finds a face around the crop's centre
 * (with the second look of photos), from its box, exactly as in a photo; else from several
 * starting boxes (the whole crop, centred squares of 80% and 64% of its side), each refined twice
 * by the box its landmarks imply (grin_landmarks_box), the shape the alignment template explains
 * best (and least outside the crop) winning. Writes the box, count points and their fit; false
 * when no start gave landmarks (*box is then the first start). What grin align --crops,
 * classify --face-crops and eval --face-crops use. */
bool face_crop_landmarks(grin_detector *d, const grin_cascade *c, const detect_opts *o, const grin_landmarker *lm,
                         const grin_aligner *al, const grin_image *img, grin_rect *box, grin_point2f *pts,
                         size_t count, grin_align_fit *fit);

double now_ms(void);

/* One row of a labelled CSV, and what a command made of it. */
typedef struct {
    char *path;     /* as resolved against the CSV's folder */
    char *rel;      /* as written in the CSV */
    int smile;
    int line;
    bool has_pts;   /* MTFL-style landmark columns */
    float cx, cy;   /* centre of the given landmarks */
    /* results */
    enum { R_PENDING, R_UNREADABLE, R_MISSED, R_ALIGNED, R_FELL_BACK, R_FAILED } result;
    float prob; /* eval: smile probability */
    char out_name[64];
    grin_point2f *crop_pts; /* align: the 68 landmarks in crop coordinates when aligned (malloc'd) */
    char *group; /* the row's value of the `by` column ("" where it has none); NULL without one */
    char *extra; /* the row's other columns, comma-joined, as extra_header names them */
} row;

/* (CSV lines: grin__csv_next, grin__csv_split and grin__csv_column in src/core/internal.h) */

/* Reads a labelled CSV. by: a column whose values go to row.group (an error when the header lacks
 * it), or NULL. extra_header, when not NULL, receives the names of the columns other than the
 * path, smile and those grin align writes itself (aligned, source, landmarks), comma-joined
 * (malloc'd, "" when none), and each row.extra their values. */
row *read_labels_csv(const char *csv, const char *by, char **extra_header, size_t *nrows, int *bad, bool *ok);
size_t pick_labelled_face(const row *r, const grin_rect *f, size_t n);
void free_labels(row *rows, size_t n);

/* The end of an evaluation: the 95% intervals of ACC (Wilson) and AUC (DeLong), with `by` one
 * JSON line per distinct tag (the rows' values of that column), then the final JSON line
 * {"n","acc","acc_ci","auc","auc_ci","missed"} */
void print_eval(const float *p, const uint8_t *y, int n, char *const *tags, const char *by, long missed);

#endif
