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

/* Prints "grin: <message>" on one line to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Numeric option values; print an error naming the option and return false when bad. */
bool cli_int(const char *opt, const char *val, int lo, int hi, int *out);
bool cli_double(const char *opt, const char *val, double lo, double hi, double *out);

/* JSON string literal (with quotes) for arbitrary bytes. */
void json_string(FILE *f, const char *s);

/* Detection options shared by detect and bench detect. Returns 1 if argv[*i] was one of them
 * (advancing *i past its value), 0 if not, -1 on a bad value. */
typedef struct {
    const char *cascade;
    grin_detect_params params;
    int threads;
} detect_opts;
void detect_opts_default(detect_opts *o);
int detect_opts_parse(detect_opts *o, int argc, char **argv, int *i);
const char *detect_opts_usage(void);

double now_ms(void);

#endif
