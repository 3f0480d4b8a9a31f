/* internal.h — what libgrin's modules share and the public header does not show:
 * error helpers, checked allocation, the thread pool and CPU feature flags. */
#ifndef GRIN_INTERNAL_H
#define GRIN_INTERNAL_H

#include "grin.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define GRIN__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GRIN__PRINTF(a, b)
#endif

/* Writes a message into err (if any) and returns st, so callers can `return grin__fail(...)`. */
grin_status grin__fail(grin_error *err, grin_status st, const char *fmt, ...) GRIN__PRINTF(3, 4);
void grin__vformat(char *dst, size_t cap, const char *fmt, va_list ap);

/* size_t multiplication that reports overflow instead of wrapping. */
static inline bool grin__mul_overflow(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

/* CSV files a line at a time (csv.c): grin__csv_next gives 1 and the line (its end stripped, in
 * c's buffer until the next call), 0 at the end, -1 for a line longer than GRIN__CSV_MAX_LINE
 * (skipped whole; lineno counts it), -2 out of memory. The caller opens and closes f. */
#define GRIN__CSV_MAX_LINE (1u << 20)
typedef struct {
    FILE *f;
    char *buf;
    size_t cap;
    int lineno;
} grin__csv;
int grin__csv_next(grin__csv *c, char **line, size_t *len);
void grin__csv_free(grin__csv *c);
/* splits at commas in place: up to maxf fields, the count returned */
int grin__csv_split(char *line, char **f, int maxf);
/* the index of the header field named name, -1 when none */
int grin__csv_column(char *const *hdr, int n, const char *name);

/* Reads a whole regular file (at most `limit` bytes) into a malloc'ed, NUL-terminated buffer. */
grin_status grin__read_file(const char *path, uint8_t **data, size_t *size, size_t limit,
                            grin_error *err);

/* ---- the checksum grin's own files end with (checksum.c): 8 bytes, little-endian, of all the
 * bytes before them. Streaming (init, update..., final) or in one call. */
typedef struct {
    uint64_t h, total;
    uint8_t buf[8];
    unsigned nbuf;
} grin__hasher;
void grin__hash_init(grin__hasher *s);
void grin__hash_update(grin__hasher *s, const void *data, size_t n);
uint64_t grin__hash_final(const grin__hasher *s);
uint64_t grin__checksum(const void *data, size_t n);
/* the 8 bytes that store sum */
void grin__checksum_put(uint8_t out[8], uint64_t sum);
/* whether data ends with the checksum of the rest (false when shorter than 8 bytes) */
bool grin__checksum_ok(const uint8_t *data, size_t size);
/* the same with bytes 8-11 (grin's files keep their version there) read as `version`: a file of an
 * older version that passes is a newer one whose version field was damaged */
bool grin__checksum_ok_as(const uint8_t *data, size_t size, uint32_t version);
/* writing a file that ends with its checksum: every write through grin__hashed_write, then
 * grin__hashed_finish appends the 8 bytes; false on a failed write */
typedef struct {
    FILE *f;
    grin__hasher sum;
} grin__hashed_file;
bool grin__hashed_write(grin__hashed_file *w, const void *data, size_t n);
bool grin__hashed_finish(grin__hashed_file *w);

/* A description of what the bytes look like ("a bzip2 archive (decompress it first)", "a PNG
 * image", "an XML file (a cascade?)", ...), or NULL when not recognised. */
const char *grin__sniff(const uint8_t *data, size_t size);

/* iBUG 68-point layout: the index each point takes under a horizontal flip (align.c). */
extern const int grin__ibug68_flip[68];

/* grin_image_convert into an existing image of the same size (its format is the target). */
grin_status grin__image_convert_into(const grin_image *src, grin_image *out);

/* Planar 4:2:0 YUV (each chroma sample covers 2x2 pixels) to RGB24, in integer arithmetic so that
 * every CPU gives the same bytes: BT.601 or (bt709) BT.709 matrix, limited (16-235) or (full)
 * 0-255 range, rounded to nearest and clamped. */
void grin__yuv420_to_rgb24(const uint8_t *y, int ystride, const uint8_t *u, int ustride, const uint8_t *v,
                           int vstride, int width, int height, int full, int bt709, uint8_t *rgb,
                           int rgb_stride);

void *grin__aligned_alloc(size_t size); /* 64-byte aligned, NULL on failure or size 0 */
void grin__aligned_free(void *p);

/* Grows a buffer to at least `need` bytes (64-byte aligned, contents not kept). */
bool grin__reserve(void **buf, size_t *cap, size_t need);
/* Grows an array (realloc: contents kept) to room for at least `need` elements of `elem` bytes,
 * doubling from 16; false, with the array as it was, when memory or size_t runs out. */
bool grin__grow(void **arr, size_t *cap, size_t need, size_t elem);

/* ---- faces (src/align/quality.c) */
/* the distance between the centres of 68 iBUG landmarks' two eyes */
double grin__eye_distance(const grin_point2f *p);
/* the face check's probability that 68 landmarks sit on a face: its aligned crop of img (made in
 * *crop, which is freed first and may be reused) classified; 0 when the points can't be aligned */
grin_status grin__face_check(const grin_classifier *check, const grin_aligner *a, const grin_image *img,
                             const grin_point2f *pts, grin_rect box, grin_image *crop, float *p, grin_error *err);

/* ---- writing files: into a temporary file beside the path, renamed into place by
 * grin__out_close(ok) (removed if not ok); a path that exists and is not a regular file (a
 * device, a FIFO) is written directly and never removed. keep_suffix: the temporary name ends
 * with the path's extension (FFmpeg and others read it). */
typedef struct {
    FILE *f;
    char path[4096], tmp[4200]; /* tmp: where the bytes go (== path for a device) */
    bool temporary;
} grin__out;
grin_status grin__out_open(grin__out *o, const char *path, int keep_suffix, grin_error *err);
grin_status grin__out_close(grin__out *o, bool ok, grin_error *err);

/* ---- CPU features, detected once (thread-safe) */
enum {
    GRIN__CPU_AVX2 = 1u << 0,
    GRIN__CPU_FMA = 1u << 1,
    GRIN__CPU_AVX512F = 1u << 2,
    GRIN__CPU_AVX512BW = 1u << 3,
    GRIN__CPU_AVX512VL = 1u << 4,
    GRIN__CPU_AVX512VNNI = 1u << 5,
    GRIN__CPU_AVX512DQ = 1u << 6,
    GRIN__CPU_F16C = 1u << 7,
    GRIN__CPU_NEON = 1u << 8,   /* 64-bit ARM: Advanced SIMD */
    GRIN__CPU_DOTPROD = 1u << 9 /* ... and its dot-product extension (SDOT/UDOT) */
};
unsigned grin__cpu_flags(void);
/* GRIN_CPU=scalar|avx2|avx512 in the environment picks what the kernels may use (tests use it
 * to hold every SIMD path to the scalar one). */
unsigned grin__cpu_enabled(void);
/* GRIN_CPU=avx512 asks for AVX-512 kernels where an AVX2 one would be picked for speed. */
bool grin__cpu_prefer_avx512(void);
/* Tests only: restrict the kernels to `enabled` (a subset of grin__cpu_flags()). Not
 * thread-safe; call before creating detectors. */
void grin__cpu_override(unsigned enabled, bool prefer_avx512);

/* ---- Thread pool: persistent workers sleeping on a condition variable. grin__pool_run hands
 * out task indices 0..ntasks-1 to the workers and the calling thread, and returns when all
 * are done. fn gets the index of the thread (0 = caller) so callers can keep per-thread
 * scratch. */
typedef struct grin__pool grin__pool;
typedef void (*grin__task_fn)(void *ctx, int task, int thread);
grin__pool *grin__pool_create(int threads);
void grin__pool_free(grin__pool *p);
int grin__pool_threads(const grin__pool *p);
void grin__pool_run(grin__pool *p, grin__task_fn fn, void *ctx, int ntasks);
int grin__online_cpus(void);

#endif
