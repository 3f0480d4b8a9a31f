/* grin.h — the one public header of libgrin: real-time face and smile sensing in C.
 * Opaque handles with create/destroy pairs; every fallible call returns a grin_status. */
#ifndef GRIN_H
#define GRIN_H

#include <signal.h>
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

/* The most worker threads any grin object or pipeline stage takes (more are refused with
 * GRIN_ERR_INVALID_ARGUMENT) */
#define GRIN_MAX_THREADS 256

/* Version string, build type and CPU features that the kernels use, e.g.
 * "0.1.0 (Release) avx2 fma avx512f". */
GRIN_API const char *grin_version(void);
GRIN_API const char *grin_build_type(void);

/* grin's own models (the default smile classifier is GRIN_SMILE_MODEL) are read from:
 * $GRIN_MODEL_DIR when set; else share/grin in the prefix the library (or a program linked with
 * the static library) was installed to, wherever that prefix has moved; else, in a build tree,
 * the source tree's models/; else the prefix the build was configured for. Writes that folder
 * joined with `name` (a file name) to out. The landmark model and the cascades are Debian's, at
 * GRIN_DEFAULT_LANDMARK_MODEL and GRIN_DEFAULT_CASCADE. */
#define GRIN_SMILE_MODEL "smile.grinnet"
GRIN_API grin_status grin_default_model_path(const char *name, char *out, size_t cap);
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

/* The most pyramid levels one detection builds (a scale factor of 1.02 on a 4K frame needs 227):
 * a scale factor closer to 1 than that allows gets GRIN_ERR_TOO_LARGE instead of gigabytes */
#define GRIN_MAX_PYRAMID_LEVELS 256

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
/* For single photos (not video frames): grin_detect, and when it finds nothing a second look
 * with a replicated border of a fifth of the larger side around the photo (a face that fills
 * the frame or is cut by its edge), a pyramid step of at most 1.05 and at most 2 neighbours.
 * Results through grin_detector_results; second-look boxes may reach past the photo's edge
 * (at least half of each is inside it), which grin_landmarks accepts. */
GRIN_API grin_status grin_detect_photo(grin_detector *d, const grin_cascade *c,
                                       const grin_image *img, const grin_detect_params *p,
                                       size_t *count);

/* Debian's opencv-data profile-face Haar cascade (faces turned to the side; it finds those turned
 * one way, its mirror image the other) */
#define GRIN_PROFILE_CASCADE "/usr/share/opencv4/haarcascades/haarcascade_profileface.xml"
/* Frontal and turned faces: grin_detect with `frontal`, then with `profile` on the image and on
 * its mirror image, keeping the profile boxes that no box already kept covers (overlap over a
 * third, or one's centre inside the other). Results through grin_detector_results, sorted as
 * grin_detect's. About three times grin_detect's time; on turned faces it finds more, on
 * textures it also finds more that are not faces (BENCHMARKS.md). */
GRIN_API grin_status grin_detect_profiles(grin_detector *d, const grin_cascade *frontal,
                                          const grin_cascade *profile, const grin_image *img,
                                          const grin_detect_params *p, size_t *count);

/* ---------------------------------------------------------------- landmarks */

typedef struct grin_point2f {
    float x, y;
} grin_point2f;

/* An ensemble-of-regression-trees face landmark model (Kazemi & Sullivan 2014). Loads dlib's
 * serialized shape_predictor (e.g. Debian's /usr/share/dlib/shape_predictor_68_face_landmarks.dat)
 * or grin's own mmap-able format, told apart by content. Immutable: share between threads. */
typedef struct grin_landmarker grin_landmarker;

#define GRIN_DEFAULT_LANDMARK_MODEL "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

typedef struct grin_landmarker_info {
    int parts;             /* landmarks per face, 68 for the iBUG scheme */
    int levels;            /* cascade levels */
    int trees;             /* trees in all */
    int features;          /* pixel features in all levels */
    int leaf_type;         /* grin_leaf_type the leaf values are stored in */
    int native;            /* loaded from grin's format (memory-mapped) */
} grin_landmarker_info;

GRIN_API grin_status grin_landmarker_load(const char *path, grin_landmarker **out,
                                          grin_error *err);
GRIN_API grin_status grin_landmarker_load_memory(const void *data, size_t size, const char *name,
                                                 grin_landmarker **out, grin_error *err);
GRIN_API void grin_landmarker_free(grin_landmarker *m);
GRIN_API void grin_landmarker_get_info(const grin_landmarker *m, grin_landmarker_info *out);
/* How a saved model stores its leaf values: float32 gives dlib's results exactly; the 16-bit
 * kinds halve the file and the memory traffic at a small cost in accuracy (BENCHMARKS.md):
 * IEEE float16, or int16 with one float scale per leaf vector (more precise). */
typedef enum grin_leaf_type {
    GRIN_LEAVES_F32 = 0,
    GRIN_LEAVES_F16 = 1,
    GRIN_LEAVES_Q16 = 2
} grin_leaf_type;

/* Writes grin's landmark format: magic, version, key=value metadata, 64-byte aligned arrays. */
GRIN_API grin_status grin_landmarker_save(const grin_landmarker *m, const char *path,
                                          grin_leaf_type leaves, grin_error *err);

/* Landmarks of the face in `box` (x, y, width, height; dlib's rectangle x..x+w-1,
 * y..y+h-1), evaluated exactly as dlib's shape_predictor does on the same image: a grey image's
 * values, or a colour image's (R + G + B) / 3 as dlib reads colour pixels (not the luma grin's
 * grey conversion and the detector use: give the colour image to get dlib's points on a colour
 * photo). Writes parts() points, unrounded (dlib rounds them to integers; floor(v + 0.5) gives
 * dlib's values). */
GRIN_API grin_status grin_landmarks(const grin_landmarker *m, const grin_image *img, grin_rect box,
                                    grin_point2f *points, size_t capacity, grin_error *err);
/* The box the model would start from to reach these points: the model's initial (mean) shape fitted
 * to them by scale and translation, least squares. Landmarks found from a poor box (a crop's
 * outline, a box shifted off the face) and found again from this one are much closer to what the
 * model gives from the boxes it was trained on. count must be the model's parts. */
GRIN_API grin_status grin_landmarks_box(const grin_landmarker *m, const grin_point2f *points, size_t count,
                                        grin_rect *box);

/* ---------------------------------------------------------------- alignment */

/* Maps faces onto a horizontally symmetric template (the landmark model's mean shape with
 * left/right pairs mirrored and averaged) with a least-squares similarity transform (rotation,
 * uniform scale, translation), as the reference study does before classification. */
typedef struct grin_align_params {
    int size;             /* side of the square output crop in pixels; default 64 */
    float margin;         /* fraction of the side left around the template; default 0.1 */
    float max_distortion; /* a full affine fit of the landmarks whose singular-value ratio exceeds
                             this marks them unreliable: the plain box crop is used; default 2 */
} grin_align_params;

GRIN_API void grin_align_params_default(grin_align_params *p);

/* The result of fitting one face's landmarks. Transforms map image (x, y) to crop (u, v):
 * u = m[0] x + m[1] y + m[2], v = m[3] x + m[4] y + m[5]. */
typedef struct grin_align_fit {
    float similarity[6]; /* what grin_align_warp applies when usable */
    float affine[6];     /* the unconstrained least-squares affine fit */
    float distortion;    /* largest / smallest singular value of the affine fit's 2x2 part */
    float rms_error;     /* RMS distance (crop pixels) of the similarity-mapped landmarks to the template */
    int usable;          /* distortion <= max_distortion */
} grin_align_fit;

typedef struct grin_aligner grin_aligner;

/* Builds the template from a landmark model (68-point iBUG layout for the left/right pairing;
 * other layouts are refused). Immutable: share between threads. */
GRIN_API grin_status grin_aligner_create(const grin_landmarker *m, const grin_align_params *p,
                                         grin_aligner **out, grin_error *err);
GRIN_API void grin_aligner_free(grin_aligner *a);
/* Template points in crop coordinates (count = parts) and, for each point, the index of its
 * mirror image under a horizontal flip (pairs swap, points on the midline map to themselves). */
GRIN_API const grin_point2f *grin_aligner_template(const grin_aligner *a, size_t *count);
GRIN_API const int *grin_aligner_flip_map(const grin_aligner *a);
GRIN_API void grin_aligner_get_params(const grin_aligner *a, grin_align_params *out);

GRIN_API grin_status grin_align_fit_points(const grin_aligner *a, const grin_point2f *points,
                                           size_t count, grin_align_fit *out);
/* Maps image points into crop coordinates by fit->similarity (what a classifier's landmark
 * branch reads: grin_classify_faces). in and out may be the same array. */
GRIN_API void grin_align_map_points(const grin_align_fit *fit, const grin_point2f *in, size_t count,
                                    grin_point2f *out);
/* Warps `img` into `out` (allocated here, size x size, same pixel format) with bilinear
 * sampling in one pass: by fit->similarity when fit is usable, else the plain crop of `box`
 * with the same margin. Returns 1 in *aligned when the landmarks were used. */
GRIN_API grin_status grin_align_warp(const grin_aligner *a, const grin_image *img,
                                     const grin_align_fit *fit, grin_rect box, grin_image *out,
                                     int *aligned);

/* How far a face's 68 landmarks can be trusted. Landmarks found from a box that is not on a
 * face, or is beside it, still come out face-shaped, but they fit the template worse, are
 * distorted, and move when the model starts again from the box they imply. */
typedef struct grin_face_quality {
    float quality;    /* 0 (not a face's landmarks) .. 1: how likely the points are within 0.2 eye
                       * distances of where they belong; below GRIN_QUALITY_MIN grin run gives
                       * no smile decision */
    float residual;   /* RMS distance to the template after the similarity fit, in the
                       * template's eye distances */
    float distortion; /* the affine fit's singular-value ratio (grin_align_fit) */
    float drift;      /* mean distance the points move when found again from the box they imply
                       * (grin_landmarks_box), in eye distances; -1 when img was NULL */
} grin_face_quality;

/* The threshold grin run uses: keeps 97.5% of correct landmarks on faces turned up to about 45
 * degrees and rejects about two thirds of those found from a box beside the face (BENCHMARKS.md) */
#define GRIN_QUALITY_MIN 0.42f

/* grin run's face check (the installed GRIN_FACE_CHECK_MODEL, a small classifier of aligned crops:
 * "the landmarks sit on a face, within 0.2 eye distances") replaces the score above when it is
 * there; a face needs this much of it (BENCHMARKS.md) */
#define GRIN_FACE_CHECK_MODEL "face_check.grinnet"
#define GRIN_FACE_CHECK_MIN 0.92f

/* The quality of 68 landmarks found in img. With img, the model starts again from the box the
 * points imply; those points (better than the first when the first box was off the face) are
 * written to refit when it is not NULL, and the residual and distortion are theirs. Without img
 * (NULL), the shape alone is judged (drift -1) and refit gets the points as they are. */
GRIN_API grin_status grin_face_quality_of(const grin_landmarker *m, const grin_aligner *a,
                                          const grin_image *img, const grin_point2f *points,
                                          size_t count, grin_face_quality *out, grin_point2f *refit);

/* Temporal smoothing of one face's landmarks across video frames: a One-Euro filter per
 * coordinate (smooth when still, responsive when moving). One per tracked face. */
typedef struct grin_landmark_filter grin_landmark_filter;
GRIN_API grin_status grin_landmark_filter_create(size_t count, float min_cutoff_hz, float beta,
                                                 grin_landmark_filter **out);
GRIN_API void grin_landmark_filter_free(grin_landmark_filter *f);
GRIN_API void grin_landmark_filter_reset(grin_landmark_filter *f);
/* Filters points in place; t is the frame time in seconds (strictly increasing). */
GRIN_API grin_status grin_landmark_filter_apply(grin_landmark_filter *f, double t,
                                                grin_point2f *points, size_t count);

/* ---------------------------------------------------------------- CSV files */

/* Labelled sets and tables as grin's commands read them (grin align and eval's photo lists,
 * training's crop lists): a line at a time, "\n" or "\r\n" endings, lines up to
 * GRIN_CSV_MAX_LINE bytes (a longer one is skipped whole, never read as rows of its own), fields
 * split at commas (no quoting). */
#define GRIN_CSV_MAX_LINE (1u << 20)
typedef struct grin_csv grin_csv;
GRIN_API grin_status grin_csv_open(const char *path, grin_csv **out, grin_error *err);
/* 1 and the next line (its end stripped, NUL-terminated, valid until the next call), 0 at the
 * end, -1 for a line longer than GRIN_CSV_MAX_LINE (skipped), -2 when out of memory */
GRIN_API int grin_csv_next(grin_csv *c, char **line, size_t *len);
/* the number of the line grin_csv_next gave last (1 = the first) */
GRIN_API int grin_csv_line_number(const grin_csv *c);
/* nonzero when reading failed (grin_csv_next then gives 0 as at the end) */
GRIN_API int grin_csv_error(const grin_csv *c);
GRIN_API void grin_csv_close(grin_csv *c);
/* splits line at commas in place into at most max fields; returns their count */
GRIN_API int grin_csv_split(char *line, char **fields, int max);
/* the index of the header field called name, -1 when none */
GRIN_API int grin_csv_column(char *const *header, int n, const char *name);

/* ---------------------------------------------------------------- smile classification */

/* How well probabilities match 0/1 labels: accuracy at 0.5 with Wilson's 95% score interval,
 * AUC (ties counted half) with DeLong's 95% interval (0 when one class is absent), mean log loss,
 * and the confusion counts (tp: label 1, p >= 0.5). */
typedef struct grin_metrics {
    double acc, auc, loss;
    double acc_lo, acc_hi, auc_lo, auc_hi;
    int tp, fp, tn, fn;
} grin_metrics;
GRIN_API void grin_metrics_compute(const float *prob, const unsigned char *labels, size_t n, grin_metrics *out);

/* A trained smile classifier (grin's model file: MobileNet v1 and how its input is made).
 * Immutable after load. */
typedef struct grin_classifier grin_classifier;

typedef struct grin_classifier_info {
    int input;                /* crops are input x input */
    int channels;             /* 1 (grey) or 3 (RGB) */
    float alpha;              /* MobileNet width multiplier */
    size_t parameters;
    uint64_t multiply_adds;   /* per crop */
    grin_align_params align;  /* how the training crops were aligned */
    const char *metadata;     /* key=value lines: training command, validation numbers */
    int int8_available;       /* the model carries an 8-bit calibration (grin quantize) */
    int int8;                 /* inference currently runs in 8 bits */
    int mirrored;             /* each crop also runs mirrored (the model's test_flip=1, not raw) */
    int landmark_points;      /* its landmark branch reads this many of a face's 68 landmarks (0: it
                                 has none, and grin_classify_faces ignores landmarks) */
    int fused;                /* the branch's output is combined with the network's (a fuse
                                 calibration, not raw) for faces given with landmarks */
} grin_classifier_info;

GRIN_API grin_status grin_classifier_load(const char *path, grin_classifier **out, grin_error *err);
GRIN_API void grin_classifier_free(grin_classifier *c);
/* Worker threads for batches of crops (1 = the caller's thread only, the default; 0 = one per
 * online CPU). A classifier may be shared between threads; calls with more than one crop take
 * turns on its workers. */
GRIN_API grin_status grin_classifier_set_threads(grin_classifier *c, int threads);
/* 8-bit inference (per-channel int8 weights, calibrated u8 activations; AVX-512 VNNI where the
 * CPU has it, a portable integer kernel otherwise) for a model quantized with `grin quantize`:
 * GRIN_ERR_UNSUPPORTED without calibration. Call before sharing the classifier between threads. */
GRIN_API grin_status grin_classifier_set_int8(grin_classifier *c, int on);
/* raw = 1: the network's own output, without the model's test-time mirror and Platt mapping
 * (what `grin export --onnx` exports; for comparisons and timing the network alone). Call
 * before sharing the classifier between threads. */
GRIN_API grin_status grin_classifier_set_raw(grin_classifier *c, int raw);
/* on = 0: faces' landmarks are ignored (a model with a landmark branch gives what
 * grin_classify_crops gives: the network with its Platt mapping); default 1. Call before sharing
 * the classifier between threads. */
GRIN_API grin_status grin_classifier_set_landmark_branch(grin_classifier *c, int on);
GRIN_API void grin_classifier_get_info(const grin_classifier *c, grin_classifier_info *out);
/* Smile probabilities of n aligned crops (any pixel format; each input x input), as the model
 * records they are made: with `grin calibrate`'s test_flip=1 the mean of the crop's and its
 * mirror image's outputs, with platt=A,B mapped by sigmoid(A logit(p) + B). */
GRIN_API grin_status grin_classify_crops(const grin_classifier *c, const grin_image *crops, size_t n,
                                         float *probs, grin_error *err);
/* The same, with what the face's landmarks say: landmarks[i] is face i's 68 landmarks in its crop's
 * coordinates (grin_align_map_points with the fit its crop was warped by), or NULL where they were
 * not usable (the crop is a plain box crop). A model with a landmark branch and a fuse calibration
 * (info.fused) maps both outputs through sigmoid(A logit(p) + B logit(r) + C), r the branch's
 * output (mirrored too, like the crop); faces without landmarks, and other models, get what
 * grin_classify_crops gives. landmarks may be NULL (all faces without). */
GRIN_API grin_status grin_classify_faces(const grin_classifier *c, const grin_image *crops,
                                         const grin_point2f *const *landmarks, size_t n, float *probs,
                                         grin_error *err);

/* A classifier whose options are fixed when it is loaded, and per-thread contexts to run it (as a
 * cascade is shared and each thread has its grin_detector): the model is then immutable and shared
 * by any number of threads without locks, each thread classifying through its own context. The
 * grin_classifier_set_* calls are refused on such a classifier. */
typedef struct grin_classifier_options {
    int int8;            /* 8-bit inference (the model must carry a calibration: GRIN_ERR_UNSUPPORTED) */
    int raw;             /* the network's own output (grin_classifier_set_raw) */
    int landmark_branch; /* use the faces' landmarks where the model fuses them; default 1 */
} grin_classifier_options;

GRIN_API void grin_classifier_options_default(grin_classifier_options *o);
GRIN_API grin_status grin_classifier_load_with(const char *path, const grin_classifier_options *o,
                                               grin_classifier **out, grin_error *err);
/* Buffers for one thread's calls, and `threads` workers (1: the calling thread only; 0: one per
 * online CPU) that share a batch of crops or one crop's larger layers. The classifier must
 * outlive it. */
typedef struct grin_classifier_context grin_classifier_context;
GRIN_API grin_status grin_classifier_context_create(const grin_classifier *c, int threads,
                                                    grin_classifier_context **out);
GRIN_API void grin_classifier_context_free(grin_classifier_context *x);
/* grin_classify_faces through a context (landmarks may be NULL: grin_classify_crops). */
GRIN_API grin_status grin_classify(grin_classifier_context *x, const grin_image *crops,
                                   const grin_point2f *const *landmarks, size_t n, float *probs,
                                   grin_error *err);

/* ---------------------------------------------------------------- the face path in one call */

/* Everything grin does to a photo, with the models loaded once: faces found (with a second look
 * when none is, as for a photo), 68 landmarks from each box, the crop aligned on them, the
 * smile probability, and how far the landmarks can be trusted. One grin_face_path serves one
 * thread at a time. */
typedef struct grin_face_path grin_face_path;

typedef struct grin_faces_params {
    const char *model;           /* smile classifier; NULL: the installed GRIN_SMILE_MODEL */
    const char *landmarks;       /* NULL: GRIN_DEFAULT_LANDMARK_MODEL */
    const char *cascade;         /* NULL: GRIN_DEFAULT_CASCADE */
    const char *profile_cascade; /* also turned faces (grin_detect_profiles); NULL: frontal only */
    const char *face_check;      /* NULL: the installed GRIN_FACE_CHECK_MODEL when there */
    int no_face_check;           /* 1: the landmarks' quality score instead of the face check */
    grin_detect_params detect;
    int photo;                   /* 1 (default): the second look of grin_detect_photo */
    int int8;                    /* 1: 8-bit classifier */
    int threads;                 /* detector threads; default 1 */
} grin_faces_params;

typedef struct grin_face {
    grin_rect box;
    grin_point2f points[68];     /* the landmarks (npoints of them: 68, or 0 when none were found) */
    int npoints;
    int aligned;                 /* the crop was aligned by the landmarks */
    float quality;               /* the face check's probability (or, without it, the landmarks'
                                  * quality score) */
    int decided;                 /* quality >= GRIN_FACE_CHECK_MIN (or GRIN_QUALITY_MIN): grin run
                                  * would give this face a smile decision */
    float smile;                 /* the smile probability (given for every face; trust it where
                                  * decided) */
} grin_face;

GRIN_API void grin_faces_params_default(grin_faces_params *p);
GRIN_API grin_status grin_face_path_create(const grin_faces_params *p, grin_face_path **out, grin_error *err);
GRIN_API void grin_face_path_free(grin_face_path *f);
/* The faces of img (any pixel format): up to capacity into faces, the number found in *count
 * (GRIN_ERR_BUFFER_TOO_SMALL when more were found than fit; faces may be NULL with capacity 0). */
GRIN_API grin_status grin_faces(grin_face_path *f, const grin_image *img, grin_face *faces, size_t capacity,
                                size_t *count, grin_error *err);

/* ---------------------------------------------------------------- the real-time pipeline */

/* One tracked face on one frame. */
typedef struct grin_track_face {
    int id;            /* stable across frames while the face is tracked */
    grin_rect box;
    float smile;       /* smoothed over time; NaN on a frame without a decision (quality) */
    float smile_raw;   /* the classifier's output on this frame; NaN without a decision */
    int smiling;       /* the smoothed smile past grin_run_params' smile_on / smile_off for
                        * smile_dwell (a frame without a decision keeps the state) */
    int aligned;       /* the crop was aligned by its landmarks */
    float quality;     /* the landmarks' grin_face_quality; below GRIN_QUALITY_MIN the face gets
                        * no smile decision on this frame, and a new face starts no track */
} grin_track_face;

typedef struct grin_frame_info {
    long long frame;   /* index in the source */
    double t;          /* seconds, from the source's timestamps */
    double latency_ms; /* from decoding to this call */
    const grin_image *image; /* the frame (RGB24), valid during the call; may be drawn on */
    const grin_track_face *faces;
    size_t nfaces;
    const char *events; /* JSON lines of this frame's events (smile_start, smile_end, track_end) */
} grin_frame_info;

typedef struct grin_run_params {
    const char *model;      /* classifier; NULL: the installed smile model */
    const char *landmarks;  /* NULL: GRIN_DEFAULT_LANDMARK_MODEL */
    const char *cascade;    /* NULL: GRIN_DEFAULT_CASCADE */
    const char *profile_cascade; /* also turned faces with this cascade (GRIN_PROFILE_CASCADE):
                                  * grin_detect_profiles; NULL (default): frontal only */
    grin_detect_params detect;
    int detect_every;       /* detection on every k-th frame, landmarks track in between; default 4 */
    int detect_max_width;   /* wider frames are detected on a scaled copy; default 640, 0 = never */
    int detect_workers;     /* default: one per online CPU */
    int classify_workers;   /* default 1 */
    int realtime;           /* 1: drop stale frames; 0: every frame; -1 (default): by the source */
    double folder_fps;      /* frame rate given to a folder of photos; default 25 */
    int int8;               /* 1: 8-bit classifier (the model must carry a calibration); default 0 */
    int no_landmark_branch; /* 1: the classifier's landmark branch is not used; default 0 */
    const char *face_check; /* face check model; NULL: the installed GRIN_FACE_CHECK_MODEL when
                             * there (else the landmarks' own quality score decides) */
    int no_face_check;      /* 1: no face check, the quality score decides; default 0 */
    double detect_edge;     /* detection also sees faces cut by the frame's edge: the frame gets a
                             * replicated border of this share of its larger side (boxes at least
                             * half inside are kept); default 0.05, 0 = none (a little faster) */
    /* when a face counts as smiling (grin_track_face.smiling, the smile events): its smoothed
     * smile has stood at or above smile_on (to start) or below smile_off (to stop) for
     * smile_dwell seconds; a face's first decision takes effect at once. Defaults 0.5, 0.5 and
     * 0.2: in steady state a face smiles in video when it would as a photo (grin_classify's 0.5),
     * and no state lasts less than 0.2 s. 0 <= smile_off <= smile_on <= 1, 0 <= dwell <= 10 */
    float smile_on, smile_off;
    double smile_dwell;
    int photos;             /* 1: the frames are separate photos: detection on every frame, a face
                             * tracked only while each next frame's detection confirms it, no ids
                             * held; grin_run sets it for a folder of photos; default 0 */
} grin_run_params;

GRIN_API void grin_run_params_default(grin_run_params *p);

typedef struct grin_run_stats {
    long long frames, processed, dropped;
    double seconds, fps, latency_ms_p50, latency_ms_p99;
    int tracks;
    int errors; /* damage the source's reader detected and went past: packets or photos it skipped,
                 * errors FFmpeg's demuxer or decoder reported (frames there may be missing or
                 * glitched; a file with any is damaged, grin run exits 1) */
} grin_run_stats;

/* Runs the pipeline (decode -> detect -> landmarks/track -> classify -> smile) on a video file,
 * image-sequence pattern, folder of photos, camera (/dev/videoN), stream URL or "-" (standard input), calling
 * on_frame for every processed frame, in order, from one pipeline thread. Return non-zero from
 * on_frame to stop. A source that fails mid-way ends the run with GRIN_ERR_IO after every frame
 * read so far was delivered. */
GRIN_API grin_status grin_run(const char *input, const grin_run_params *p,
                              int (*on_frame)(void *user, const grin_frame_info *f), void *user,
                              grin_run_stats *stats, grin_error *err);

/* The same pipeline fed with frames the caller has (its own camera, decoder or network): each
 * pushed frame goes through detect -> landmarks/track -> classify -> smile, and on_frame is called
 * for every processed frame, in order, from the pipeline's own thread (as with grin_run). Frames
 * may be of any pixel format and change size; t is the frame's time in seconds and must increase.
 * p->realtime = 1 is for live frames: grin_pipeline_push then hardly ever waits, and a frame that
 * would wait behind two others is dropped (counted in the stats); otherwise (the default) every
 * frame is processed and grin_pipeline_push waits while the pipeline is busy. folder_fps is not
 * used. Return non-zero from on_frame to stop: later pushes then fail. */
typedef struct grin_pipeline grin_pipeline;

GRIN_API grin_status grin_pipeline_create(const grin_run_params *p,
                                          int (*on_frame)(void *user, const grin_frame_info *f), void *user,
                                          grin_pipeline **out, grin_error *err);
/* Copies img into the pipeline (the caller may reuse it at once). */
GRIN_API grin_status grin_pipeline_push(grin_pipeline *pl, const grin_image *img, double t, grin_error *err);
/* No more frames: returns once every pushed frame has been delivered to on_frame, with the run's
 * statistics; a stage's failure is returned here too. */
GRIN_API grin_status grin_pipeline_finish(grin_pipeline *pl, grin_run_stats *stats, grin_error *err);
/* Finishes (if not yet) and frees. */
GRIN_API void grin_pipeline_free(grin_pipeline *pl);

/* One face's track over a run. */
typedef struct grin_track_summary {
    int id;
    double first_seen, last_seen; /* seconds */
    double seconds_smiling;       /* in all, smiles open at the end closed at last_seen */
    int smiles;                   /* smiles started */
} grin_track_summary;

/* After grin_pipeline_finish: the run's tracks in the order they began, up to cap of them into out
 * (out may be NULL with cap 0); returns how many there are. */
GRIN_API size_t grin_pipeline_tracks(const grin_pipeline *pl, grin_track_summary *out, size_t cap);
/* After grin_pipeline_finish: JSON lines of the smile_end events the end of the run closed (faces
 * still smiling then, marked "at_end":true); "" when none. Valid until grin_pipeline_free. */
GRIN_API const char *grin_pipeline_end_events(const grin_pipeline *pl);

/* Draws tracked faces on an RGB24 frame as grin run's annotated video shows them: the box and a
 * label ("#id smile 0.87"; grey "#id ?" without a decision), green when smiling, orange when not,
 * and a smile meter beside the box; lines and text grow with the frame (legible at 1080p and 4K). */
GRIN_API void grin_draw_track_faces(grin_image *rgb, const grin_track_face *faces, size_t n);
/* The scale grin_draw_track_faces draws at (1 below 540 pixels on the shorter side), for text of
 * your own beside it (grin_draw_text). */
GRIN_API int grin_draw_scale(const grin_image *img);

/* ---- Video in and out (libgrin-video, through FFmpeg's libraries) */

/* A source of frames: a video file, an image-sequence pattern (frames/%05d.png), a folder of
 * photos (in name order), a camera (/dev/videoN), a stream URL (rtsp://, http://) or "-"
 * (standard input). Frames come as RGB24, turned as the source's rotation asks. */
typedef struct grin_video_reader grin_video_reader;

typedef struct grin_video_reader_options {
    double folder_fps;    /* frame rate given to a folder of photos; default 25 */
    int live;             /* 1: a live source, read without buffering for analysis; 0 (default):
                           * as a file (cameras and streams are live whatever this says) */
    double stall_seconds; /* a stream, camera or pipe that sends nothing this long (also while
                           * connecting) ends with an error; default 10 */
    volatile sig_atomic_t *stop; /* set (by a signal handler, another thread) to abandon a blocked
                                  * open or read at once; NULL (default): none */
} grin_video_reader_options;

GRIN_API void grin_video_reader_options_default(grin_video_reader_options *o);
/* o NULL: the defaults. */
GRIN_API grin_status grin_video_open(const char *source, const grin_video_reader_options *o,
                                     grin_video_reader **out, grin_error *err);
/* The next frame into *frame (allocated on the first call, reallocated when the size changes;
 * free it with grin_image_free) and its time in seconds. Returns 1 with a frame, 0 at the end,
 * -1 on an error (err says what). A corrupt packet mid-stream is skipped and counted. */
GRIN_API int grin_video_read(grin_video_reader *r, grin_image *frame, double *t, grin_error *err);

typedef struct grin_video_info {
    double fps;      /* the source's frame rate (0: unknown) */
    double duration; /* the duration the container declares, seconds (0: none, e.g. live) */
    int live;        /* camera, stream or pipe */
    int folder;      /* a folder of photos */
    int rotation;    /* the clockwise turn the source asked for (frames are delivered turned) */
    int skipped;     /* so far: corrupt packets or undecodable photos skipped */
    int errors;      /* so far: errors FFmpeg's demuxer or decoder reported and went past (frames
                      * there may be missing or glitched) */
} grin_video_info;

/* What the source is, and the damage seen so far; first_error (may be NULL) gets FFmpeg's first
 * message when info->errors > 0. */
GRIN_API void grin_video_get_info(grin_video_reader *r, grin_video_info *info, char *first_error, size_t n);
GRIN_API void grin_video_close(grin_video_reader *r);

/* A video file written from RGB24 frames of one size: the container from the extension (.mp4
 * .mkv .avi .webm .mov); H.264 where the container takes it and libx264 is there, else MPEG-4
 * part 2 (VP8 for .webm). rotation (0, 90, 180, 270) marks it to be shown turned clockwise. */
typedef struct grin_video_writer grin_video_writer;

GRIN_API grin_status grin_video_writer_open(const char *path, int width, int height, double fps, int rotation,
                                            grin_video_writer **out, grin_error *err);
/* A frame of another size is scaled to the video's. */
GRIN_API grin_status grin_video_write(grin_video_writer *w, const grin_image *rgb, grin_error *err);
/* Flushes the encoder and writes the trailer (the file is playable after this), then frees. */
GRIN_API grin_status grin_video_writer_close(grin_video_writer *w, grin_error *err);

#ifdef __cplusplus
}
#endif

#endif
