/* import_tfjs.h — networks from TensorFlow.js weights manifests (internal). */
#ifndef GRIN_IMPORT_TFJS_H
#define GRIN_IMPORT_TFJS_H

#include "model_io.h"

/* face-api.js's face expression model (face_expression_model-weights_manifest.json and the
 * weight files it names, beside it) as a GRIN__ARCH_DENSE4 model on size x size x channels
 * crops (grey: the colour taps of the first layer summed). all_expressions keeps the seven
 * logits (neutral, happy, sad, angry, fearful, disgusted, surprised; for tests against
 * face-api.js); otherwise the one output is happy's logit minus neutral's. */
grin_status grin__import_faceapi(const char *manifest, int size, int channels, bool all_expressions,
                                 grin__model *m, grin_error *err);
/* the same from the manifest's text, its weight files in dir (ending in '/', or "" for the
 * working directory); manifest names it in messages */
grin_status grin__import_faceapi_text(const char *text, size_t len, const char *dir, const char *manifest, int size,
                                      int channels, bool all_expressions, grin__model *m, grin_error *err);

/* face-api.js's face recognition model (dlib's ResNet; face_recognition_model-weights_manifest.json
 * and its weight file) as a GRIN__ARCH_FACEREC model on size x size x channels crops (150, the
 * size it was trained at; grey: the colour taps summed): its 128-wide descriptor, then a one-logit
 * head with a random start, for fine-tuning. */
grin_status grin__import_facerec(const char *manifest, int size, int channels, grin__model *m, grin_error *err);
grin_status grin__import_facerec_text(const char *text, size_t len, const char *dir, const char *manifest, int size,
                                      int channels, bool unused, grin__model *m, grin_error *err);

#endif
