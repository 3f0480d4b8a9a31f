/* status.c — status strings, error messages and version information.
 * Errors are written into caller-owned grin_error structs or handles, never globals. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GRIN_BUILD_TYPE
#define GRIN_BUILD_TYPE "unknown"
#endif

const char *grin_status_str(grin_status s)
{
    switch (s) {
    case GRIN_OK: return "ok";
    case GRIN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case GRIN_ERR_NO_MEMORY: return "out of memory";
    case GRIN_ERR_IO: return "input/output error";
    case GRIN_ERR_FORMAT: return "malformed data";
    case GRIN_ERR_UNSUPPORTED: return "unsupported";
    case GRIN_ERR_TOO_LARGE: return "too large";
    case GRIN_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case GRIN_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

void grin__vformat(char *dst, size_t cap, const char *fmt, va_list ap)
{
    if (!dst || cap == 0)
        return;
    int n = vsnprintf(dst, cap, fmt, ap);
    if (n < 0)
        dst[0] = 0;
    /* keep messages on one line whatever the input contained */
    for (char *c = dst; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

grin_status grin__fail(grin_error *err, grin_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        grin__vformat(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

void *grin__aligned_alloc(size_t size)
{
    if (size == 0)
        return NULL;
    void *p = NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size)
        return NULL;
    if (posix_memalign(&p, 64, rounded) != 0)
        return NULL;
    return p;
}

void grin__aligned_free(void *p) { free(p); }

bool grin__reserve(void **buf, size_t *cap, size_t need)
{
    if (*cap >= need && *buf)
        return true;
    size_t ncap = need + need / 4 + 64;
    void *n = grin__aligned_alloc(ncap);
    if (!n)
        return false;
    grin__aligned_free(*buf);
    *buf = n;
    *cap = ncap;
    return true;
}

bool grin__grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 16, bytes;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return false;
        ncap *= 2;
    }
    if (grin__mul_overflow(ncap, elem, &bytes))
        return false;
    void *n = realloc(*arr, bytes);
    if (!n)
        return false;
    *arr = n;
    *cap = ncap;
    return true;
}

const char *grin_version(void)
{
#define GRIN__STR2(x) #x
#define GRIN__STR(x) GRIN__STR2(x)
    return GRIN__STR(GRIN_VERSION_MAJOR) "." GRIN__STR(GRIN_VERSION_MINOR) "." GRIN__STR(
        GRIN_VERSION_PATCH);
}

const char *grin_build_type(void) { return GRIN_BUILD_TYPE; }
