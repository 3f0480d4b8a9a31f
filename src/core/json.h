/* json.h — a small strict JSON reader (internal): the whole text into a tree of values. */
#ifndef GRIN_JSON_H
#define GRIN_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    GRIN__JSON_NULL,
    GRIN__JSON_BOOL,
    GRIN__JSON_NUMBER,
    GRIN__JSON_STRING,
    GRIN__JSON_ARRAY,
    GRIN__JSON_OBJECT
} grin__json_kind;

typedef struct grin__json {
    grin__json_kind kind;
    bool boolean;
    double number;
    char *str;                /* strings: decoded UTF-8, NUL-terminated (may hold NULs: len) */
    size_t len;
    struct grin__json *items; /* arrays and objects: n elements */
    char **keys;              /* objects: the elements' keys */
    size_t n;
} grin__json;

/* NULL on malformed text, with why saying what and at which byte */
grin__json *grin__json_parse(const char *text, size_t len, char *why, size_t whylen);
void grin__json_free(grin__json *v);
/* an object's member (the first with that key), NULL when v is not an object or has none */
const grin__json *grin__json_get(const grin__json *obj, const char *key);
/* a string value's text, NULL for anything else */
const char *grin__json_string(const grin__json *v);

#endif
