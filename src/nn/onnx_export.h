/* onnx_export.h — a compiled inference plan as an ONNX model (internal). */
#ifndef GRIN_ONNX_EXPORT_H
#define GRIN_ONNX_EXPORT_H

#include "infer.h"

/* Input "input" [N, in_c, in_h, in_w] float, normalised as the model says; output "prob" [N, out_c]. */
grin_status grin__onnx_export(const grin__nn_plan *plan, const char *producer_version, const char *path,
                              grin_error *err);

#endif
