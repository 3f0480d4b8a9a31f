/* grin.h — the one public header of libgrin: real-time face and smile sensing in C.
 * Opaque handles with create/destroy pairs; every fallible call returns a grin_status. */
#ifndef GRIN_H
#define GRIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GRIN_BUILDING) && defined(__GNUC__)
#define GRIN_API __attribute__((visibility("default")))
#else
#define GRIN_API
#endif

#define GRIN_VERSION_MAJOR 0
#define GRIN_VERSION_MINOR 1
#define GRIN_VERSION_PATCH 0

/* ---------------------------------------------------------------- status */

typedef enum grin_status {
    GRIN_OK = 0,
    GRIN_ERR_INVALID_ARGUMENT, /* a NULL handle, a negative size, a bad parameter */
    GRIN_ERR_NO_MEMORY,
    GRIN_ERR_IO,               /* a file could not be opened, read or written */
    GRIN_ERR_FORMAT,           /* a file's content is malformed or of the wrong kind */
    GRIN_ERR_UNSUPPORTED,      /* well-formed, but a variant grin does not handle */
    GRIN_ERR_TOO_LARGE,        /* sizes beyond grin's limits (GRIN_MAX_IMAGE_SIDE, ...) */
    GRIN_ERR_BUFFER_TOO_SMALL, /* caller's output array too small; the count tells the need */
    GRIN_ERR_INTERNAL
} grin_status;

GRIN_API const char *grin_status_str(grin_status s);

/* Detail for calls that have no handle yet (loaders). May be NULL. */
typedef struct grin_error {
    char msg[512];
} grin_error;

/* Version string, build type and CPU features that the kernels use, e.g.
 * "0.1.0 (Release) avx2 fma avx512f". */
GRIN_API const char *grin_version(void);
GRIN_API const char *grin_build_type(void);
GRIN_API const char *grin_cpu_features(void);

/* ---------------------------------------------------------------- images */

typedef enum grin_pixfmt {
    GRIN_PIX_GRAY8 = 1,
    GRIN_PIX_RGB24 = 2,
    GRIN_PIX_BGR24 = 3
} grin_pixfmt;

/* Largest width or height grin accepts from a file; larger headers are refused
 * before any pixel memory is allocated. */
#define GRIN_MAX_IMAGE_SIDE 16384
#define GRIN_MAX_IMAGE_PIXELS (100u * 1000u * 1000u)

typedef struct grin_image {
    uint8_t *data;
    int width, height;
    int stride; /* bytes between rows, >= width * channels */
    grin_pixfmt format;
} grin_image;

GRIN_API int grin_pixfmt_channels(grin_pixfmt f);
/* Allocates pixels (stride rounded up to 32 bytes); free with grin_image_free. */
GRIN_API grin_status grin_image_alloc(int width, int height, grin_pixfmt format, grin_image *out);
GRIN_API void grin_image_free(grin_image *img);
/* Converts between formats into a freshly allocated image. RGB/BGR -> GRAY uses the
 * ITU-R BT.601 weights in the same 15-bit fixed point as OpenCV's cvtColor. */
GRIN_API grin_status grin_image_convert(const grin_image *src, grin_pixfmt format, grin_image *out);

/* Reads JPEG, PNG, PGM/PPM (P2, P3, P5, P6) by content, not by name. */
GRIN_API grin_status grin_image_read(const char *path, grin_pixfmt format, grin_image *out,
                                     grin_error *err);
GRIN_API grin_status grin_image_read_memory(const void *data, size_t size, const char *name,
                                            grin_pixfmt format, grin_image *out, grin_error *err);
/* Writes PNG or JPEG, chosen by the extension (.png, .jpg/.jpeg); quality for JPEG. */
GRIN_API grin_status grin_image_write(const char *path, const grin_image *img, int jpeg_quality,
                                      grin_error *err);

/* ---------------------------------------------------------------- drawing */

typedef struct grin_rgb {
    uint8_t r, g, b;
} grin_rgb;

/* Rectangle outline of the given thickness, clipped to the image (RGB24/BGR24/GRAY8). */
GRIN_API void grin_draw_rect(grin_image *img, int x, int y, int w, int h, int thickness,
                             grin_rgb color);
/* Text with the built-in 8x8 bitmap font (printable ASCII), scaled by an integer factor;
 * (x, y) is the top-left corner. Returns the width in pixels that the text took. */
GRIN_API int grin_draw_text(grin_image *img, int x, int y, const char *text, int scale,
                            grin_rgb fg, const grin_rgb *bg);

/* ---------------------------------------------------------------- face detection */

typedef struct grin_rect {
    int x, y, w, h;
} grin_rect;

/* A Viola-Jones boosted cascade loaded from OpenCV's XML (opencv-cascade-classifier: HAAR
 * with tilted features, LBP; and the old opencv-haar-classifier format). Immutable after
 * load: share one between threads. */
typedef struct grin_cascade grin_cascade;

typedef enum grin_feature_type {
    GRIN_FEATURE_HAAR = 1,
    GRIN_FEATURE_LBP = 2
} grin_feature_type;

typedef struct grin_cascade_info {
    grin_feature_type feature_type;
    int window_width, window_height;
    int stages, weak_classifiers, features;
    int max_tree_nodes; /* 1 for stumps */
    int has_tilted;
    int old_format;
} grin_cascade_info;

GRIN_API grin_status grin_cascade_load(const char *path, grin_cascade **out, grin_error *err);
GRIN_API grin_status grin_cascade_load_memory(const void *xml, size_t size, const char *name,
                                              grin_cascade **out, grin_error *err);
GRIN_API void grin_cascade_free(grin_cascade *c);
GRIN_API void grin_cascade_get_info(const grin_cascade *c, grin_cascade_info *out);
/* Debian's opencv-data frontal-face Haar cascade, the CLI's default. */
#define GRIN_DEFAULT_CASCADE "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

typedef struct grin_detect_params {
    double scale_factor;    /* > 1; OpenCV's scaleFactor; default 1.1 */
    int min_neighbors;      /* raw hits a box needs; 0 returns ungrouped hits; default 3 */
    int min_width, min_height; /* 0: the cascade window; default 30x30 */
    int max_width, max_height; /* 0: the image size */
} grin_detect_params;

GRIN_API void grin_detect_params_default(grin_detect_params *p);

/* Per-thread scratch for detection: pyramid, integral images, candidate lists, and a pool of
 * `threads` workers (1 = run on the caller's thread only; 0 = one per online CPU). One
 * workspace serves one caller at a time; use one per thread. */
typedef struct grin_detector grin_detector;

GRIN_API grin_status grin_detector_create(int threads, grin_detector **out);
GRIN_API void grin_detector_free(grin_detector *d);
GRIN_API int grin_detector_threads(const grin_detector *d);
/* The detail message of the last failed call on this workspace. */
GRIN_API const char *grin_detector_error(const grin_detector *d);

/* Finds faces in `img` (any grin_pixfmt; colour is converted as OpenCV does). Writes at most
 * `capacity` boxes to `faces` (may be NULL with capacity 0: a size query) and the number
 * found to *count; returns GRIN_ERR_BUFFER_TOO_SMALL when *count > capacity. The full result
 * also stays readable through grin_detector_results until the next call. Boxes are sorted by
 * y, then x, then size, so output is identical however many threads run. */
GRIN_API grin_status grin_detect(grin_detector *d, const grin_cascade *c, const grin_image *img,
                                 const grin_detect_params *p, grin_rect *faces, size_t capacity,
                                 size_t *count);
GRIN_API const grin_rect *grin_detector_results(const grin_detector *d, size_t *count);

#ifdef __cplusplus
}
#endif

#endif
