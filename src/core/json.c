/* json.c — a small JSON reader (RFC 8259) for the files grin imports (TensorFlow.js weight
 * manifests): the whole text into a tree of values. Strict: no comments, no trailing commas, no
 * leading zeros, no control characters in strings; nesting is limited so hostile input can't
 * exhaust the stack, and every allocation is bounded by the input's size. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct {
    const char *p, *end;
    char *why;
    size_t whylen;
    int depth;
} parser;

static bool fail(parser *ps, const char *what)
{
    if (ps->why && ps->whylen && !ps->why[0])
        snprintf(ps->why, ps->whylen, "%s", what);
    return false;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool parse_value(parser *ps, grin__json *v);

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool read_hex4(parser *ps, unsigned *u)
{
    if (ps->end - ps->p < 4)
        return fail(ps, "truncated \\u escape");
    *u = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(ps->p[i]);
        if (h < 0)
            return fail(ps, "bad \\u escape");
        *u = *u * 16 + (unsigned)h;
    }
    ps->p += 4;
    return true;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 63)), o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 63));
    o[2] = (char)(0x80 | (cp >> 6 & 63)), o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* a string at ps->p (just past the opening quote); its decoded bytes into *out (NUL-terminated;
 * escapes never make it longer than the source) */
static bool parse_string(parser *ps, char **out, size_t *len)
{
    const char *q = ps->p;
    while (q < ps->end && *q != '"') {
        if (*q == '\\')
            q++;
        q++;
    }
    if (q >= ps->end)
        return fail(ps, "unterminated string");
    char *s = malloc((size_t)(q - ps->p) + 1), *o = s;
    if (!s)
        return fail(ps, "out of memory");
    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20) {
            free(s);
            return fail(ps, "control character in a string");
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        char e = *ps->p++;
        unsigned cp;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (!read_hex4(ps, &cp)) {
                free(s);
                return false;
            }
            if (cp >= 0xD800 && cp < 0xDC00) { /* a surrogate pair makes one code point */
                unsigned lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    free(s);
                    return fail(ps, "unpaired surrogate in a string");
                }
                ps->p += 2;
                if (!read_hex4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(s);
                    return fail(ps, "unpaired surrogate in a string");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                free(s);
                return fail(ps, "unpaired surrogate in a string");
            }
            o += put_utf8(o, cp);
            break;
        default:
            free(s);
            return fail(ps, "bad escape in a string");
        }
    }
    ps->p++; /* the closing quote */
    *o = '\0';
    *out = s;
    *len = (size_t)(o - s);
    return true;
}

static bool parse_number(parser *ps, double *d)
{
    const char *q = ps->p;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || *q < '0' || *q > '9')
        return fail(ps, "bad number");
    if (*q == '0' && q + 1 < ps->end && q[1] >= '0' && q[1] <= '9')
        return fail(ps, "number with a leading zero");
    while (q < ps->end && *q >= '0' && *q <= '9')
        q++;
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return fail(ps, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return fail(ps, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    char buf[512];
    size_t n = (size_t)(q - ps->p);
    if (n >= sizeof buf)
        return fail(ps, "number too long");
    memcpy(buf, ps->p, n);
    buf[n] = '\0';
    *d = strtod(buf, NULL);
    if (!isfinite(*d))
        return fail(ps, "number out of range");
    ps->p = q;
    return true;
}

static bool literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return fail(ps, "unexpected character");
    ps->p += n;
    return true;
}

/* appends an element (and its key, for objects) to v's lists */
static grin__json *push(grin__json *v, char *key)
{
    if (v->n % 8 == 0) {
        grin__json *it = realloc(v->items, (v->n + 8) * sizeof *it);
        if (!it)
            return NULL;
        v->items = it;
        if (v->kind == GRIN__JSON_OBJECT) {
            char **k = realloc(v->keys, (v->n + 8) * sizeof *k);
            if (!k)
                return NULL;
            v->keys = k;
        }
    }
    if (v->kind == GRIN__JSON_OBJECT)
        v->keys[v->n] = key;
    grin__json *e = &v->items[v->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static bool parse_container(parser *ps, grin__json *v, bool object)
{
    if (++ps->depth > MAX_DEPTH)
        return fail(ps, "nested too deeply");
    v->kind = object ? GRIN__JSON_OBJECT : GRIN__JSON_ARRAY;
    char close = object ? '}' : ']';
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return true;
    }
    for (;;) {
        char *key = NULL;
        size_t klen;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "expected a key");
            ps->p++;
            if (!parse_string(ps, &key, &klen))
                return false;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                return fail(ps, "expected ':'");
            }
            ps->p++;
        }
        grin__json *e = push(v, key);
        if (!e) {
            free(key);
            return fail(ps, "out of memory");
        }
        if (!parse_value(ps, e))
            return false;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return fail(ps, object ? "unterminated object" : "unterminated array");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != close)
            return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
        ps->p++;
        ps->depth--;
        return true;
    }
}

static bool parse_value(parser *ps, grin__json *v)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of text");
    switch (*ps->p) {
    case '{':
        ps->p++;
        return parse_container(ps, v, true);
    case '[':
        ps->p++;
        return parse_container(ps, v, false);
    case '"':
        ps->p++;
        v->kind = GRIN__JSON_STRING;
        return parse_string(ps, &v->str, &v->len);
    case 't':
        v->kind = GRIN__JSON_BOOL, v->boolean = true;
        return literal(ps, "true");
    case 'f':
        v->kind = GRIN__JSON_BOOL, v->boolean = false;
        return literal(ps, "false");
    case 'n':
        v->kind = GRIN__JSON_NULL;
        return literal(ps, "null");
    default:
        if (*ps->p != '-' && (*ps->p < '0' || *ps->p > '9'))
            return fail(ps, "unexpected character");
        v->kind = GRIN__JSON_NUMBER;
        return parse_number(ps, &v->number);
    }
}

static void free_value(grin__json *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free_value(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

void grin__json_free(grin__json *v)
{
    if (!v)
        return;
    free_value(v);
    free(v);
}

grin__json *grin__json_parse(const char *text, size_t len, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    grin__json *v = calloc(1, sizeof *v);
    if (!v) {
        if (why && whylen)
            snprintf(why, whylen, "out of memory");
        return NULL;
    }
    parser ps = {.p = text, .end = text + len, .why = why, .whylen = whylen};
    /* a UTF-8 byte order mark is tolerated */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        ps.p += 3;
    bool ok = parse_value(&ps, v);
    if (ok) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            ok = fail(&ps, "text after the value");
    }
    if (!ok) {
        if (why && whylen) {
            size_t at = (size_t)(ps.p - text);
            size_t n = strlen(why);
            if (n + 1 < whylen)
                snprintf(why + n, whylen - n, " at byte %zu", at);
        }
        grin__json_free(v);
        return NULL;
    }
    return v;
}

const grin__json *grin__json_get(const grin__json *obj, const char *key)
{
    if (!obj || obj->kind != GRIN__JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return NULL;
}

const char *grin__json_string(const grin__json *v)
{
    return v && v->kind == GRIN__JSON_STRING ? v->str : NULL;
}
