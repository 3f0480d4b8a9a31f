"""grin from Python: faces, 68 landmarks and smiles in numpy images, and the real-time pipeline,
through ctypes over grin's shared library (libgrin.so). Nothing is downloaded.

    import cv2, grin
    for face in grin.faces(cv2.imread("photo.jpg")):        # BGR, as OpenCV reads it
        print(face["box"], face["smile"], face["decided"])

    for frame in grin.run("clip.webm"):                      # one dict per processed frame
        print(frame["frame"], [(f["id"], f["smile"]) for f in frame["faces"]])

Images are numpy uint8 arrays: (H, W) grey, or (H, W, 3) colour in BGR order (OpenCV's; pass
order="rgb" for RGB), any row stride. The library is found at $GRIN_LIBRARY, next to this package,
in a grin build tree (../build), or by the system's loader (an installed libgrin.so.0).
Errors raise grin.Error carrying grin's message.
"""
import ctypes
import ctypes.util
import math
import os
import queue
import threading

import numpy as np

__all__ = ["Error", "Detector", "Landmarker", "Classifier", "FacePath", "faces", "run", "Pipeline", "metrics",
           "version"]


class Error(RuntimeError):
    """a grin call failed; the message is grin's"""


# ---------------------------------------------------------------- the library

def _load():
    here = os.path.dirname(os.path.abspath(__file__))
    cands = []
    if os.environ.get("GRIN_LIBRARY"):
        cands.append(os.environ["GRIN_LIBRARY"])
    cands += [os.path.join(here, "libgrin.so"), os.path.join(here, "..", "..", "build", "libgrin.so")]
    found = ctypes.util.find_library("grin")
    if found:
        cands.append(found)
    cands.append("libgrin.so.0")
    errors = []
    for c in cands:
        if os.sep in c and not os.path.exists(c):
            continue
        try:
            return ctypes.CDLL(c)
        except OSError as e:
            errors.append("%s: %s" % (c, e))
    raise Error("libgrin.so not found (set GRIN_LIBRARY): " + "; ".join(errors or cands))


_lib = _load()


class _Error(ctypes.Structure):
    _fields_ = [("msg", ctypes.c_char * 512)]


class _Image(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("stride", ctypes.c_int), ("format", ctypes.c_int)]


class _Rect(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int)]


class _Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_float), ("y", ctypes.c_float)]


class _DetectParams(ctypes.Structure):
    _fields_ = [("scale_factor", ctypes.c_double), ("min_neighbors", ctypes.c_int), ("min_width", ctypes.c_int),
                ("min_height", ctypes.c_int), ("max_width", ctypes.c_int), ("max_height", ctypes.c_int)]


class _FacesParams(ctypes.Structure):
    _fields_ = [("model", ctypes.c_char_p), ("landmarks", ctypes.c_char_p), ("cascade", ctypes.c_char_p),
                ("profile_cascade", ctypes.c_char_p), ("face_check", ctypes.c_char_p),
                ("no_face_check", ctypes.c_int), ("detect", _DetectParams), ("photo", ctypes.c_int),
                ("int8", ctypes.c_int), ("threads", ctypes.c_int)]


class _Face(ctypes.Structure):
    _fields_ = [("box", _Rect), ("points", _Point * 68), ("npoints", ctypes.c_int), ("aligned", ctypes.c_int),
                ("quality", ctypes.c_float), ("decided", ctypes.c_int), ("smile", ctypes.c_float)]


class _TrackFace(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int), ("box", _Rect), ("smile", ctypes.c_float), ("smile_raw", ctypes.c_float),
                ("smiling", ctypes.c_int), ("aligned", ctypes.c_int), ("quality", ctypes.c_float)]


class _FrameInfo(ctypes.Structure):
    _fields_ = [("frame", ctypes.c_longlong), ("t", ctypes.c_double), ("latency_ms", ctypes.c_double),
                ("image", ctypes.POINTER(_Image)), ("faces", ctypes.POINTER(_TrackFace)),
                ("nfaces", ctypes.c_size_t), ("events", ctypes.c_char_p)]


class _RunParams(ctypes.Structure):
    _fields_ = [("model", ctypes.c_char_p), ("landmarks", ctypes.c_char_p), ("cascade", ctypes.c_char_p),
                ("profile_cascade", ctypes.c_char_p), ("detect", _DetectParams), ("detect_every", ctypes.c_int),
                ("detect_max_width", ctypes.c_int), ("detect_workers", ctypes.c_int),
                ("classify_workers", ctypes.c_int), ("realtime", ctypes.c_int), ("folder_fps", ctypes.c_double),
                ("int8", ctypes.c_int), ("no_landmark_branch", ctypes.c_int), ("face_check", ctypes.c_char_p),
                ("no_face_check", ctypes.c_int), ("detect_edge", ctypes.c_double),
                ("smile_on", ctypes.c_float), ("smile_off", ctypes.c_float), ("smile_dwell", ctypes.c_double),
                ("photos", ctypes.c_int)]


class _Metrics(ctypes.Structure):
    _fields_ = [("acc", ctypes.c_double), ("auc", ctypes.c_double), ("loss", ctypes.c_double),
                ("acc_lo", ctypes.c_double), ("acc_hi", ctypes.c_double), ("auc_lo", ctypes.c_double),
                ("auc_hi", ctypes.c_double), ("tp", ctypes.c_int), ("fp", ctypes.c_int), ("tn", ctypes.c_int),
                ("fn", ctypes.c_int)]


class _RunStats(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_longlong), ("processed", ctypes.c_longlong), ("dropped", ctypes.c_longlong),
                ("seconds", ctypes.c_double), ("fps", ctypes.c_double), ("latency_ms_p50", ctypes.c_double),
                ("latency_ms_p99", ctypes.c_double), ("tracks", ctypes.c_int), ("errors", ctypes.c_int)]


_ON_FRAME = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_FrameInfo))
_P = ctypes.c_void_p
_sig = {
    "grin_version": (ctypes.c_char_p, []),
    "grin_metrics_compute": (None, [ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t,
                                    ctypes.POINTER(_Metrics)]),
    "grin_status_str": (ctypes.c_char_p, [ctypes.c_int]),
    "grin_cascade_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(_P), ctypes.POINTER(_Error)]),
    "grin_cascade_free": (None, [_P]),
    "grin_detector_create": (ctypes.c_int, [ctypes.c_int, ctypes.POINTER(_P)]),
    "grin_detector_free": (None, [_P]),
    "grin_detector_error": (ctypes.c_char_p, [_P]),
    "grin_detect_params_default": (None, [ctypes.POINTER(_DetectParams)]),
    "grin_detect": (ctypes.c_int, [_P, _P, ctypes.POINTER(_Image), ctypes.POINTER(_DetectParams), ctypes.POINTER(_Rect),
                                   ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]),
    "grin_detect_photo": (ctypes.c_int, [_P, _P, ctypes.POINTER(_Image), ctypes.POINTER(_DetectParams),
                                         ctypes.POINTER(ctypes.c_size_t)]),
    "grin_detector_results": (ctypes.POINTER(_Rect), [_P, ctypes.POINTER(ctypes.c_size_t)]),
    "grin_landmarker_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(_P), ctypes.POINTER(_Error)]),
    "grin_landmarker_free": (None, [_P]),
    "grin_landmarks": (ctypes.c_int, [_P, ctypes.POINTER(_Image), _Rect, ctypes.POINTER(_Point), ctypes.c_size_t,
                                      ctypes.POINTER(_Error)]),
    "grin_classifier_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(_P), ctypes.POINTER(_Error)]),
    "grin_classifier_free": (None, [_P]),
    "grin_classify_crops": (ctypes.c_int, [_P, ctypes.POINTER(_Image), ctypes.c_size_t, ctypes.POINTER(ctypes.c_float),
                                           ctypes.POINTER(_Error)]),
    "grin_faces_params_default": (None, [ctypes.POINTER(_FacesParams)]),
    "grin_face_path_create": (ctypes.c_int, [ctypes.POINTER(_FacesParams), ctypes.POINTER(_P), ctypes.POINTER(_Error)]),
    "grin_face_path_free": (None, [_P]),
    "grin_faces": (ctypes.c_int, [_P, ctypes.POINTER(_Image), ctypes.POINTER(_Face), ctypes.c_size_t,
                                  ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(_Error)]),
}
for _name, (_res, _args) in _sig.items():
    _f = getattr(_lib, _name)
    _f.restype = _res
    _f.argtypes = _args

# the real-time pipeline is in its own library (FFmpeg), loaded when run() is first called
_video_sig = {
    "grin_run_params_default": (None, [ctypes.POINTER(_RunParams)]),
    "grin_run": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(_RunParams), _ON_FRAME, ctypes.c_void_p,
                                ctypes.POINTER(_RunStats), ctypes.POINTER(_Error)]),
    "grin_pipeline_create": (ctypes.c_int, [ctypes.POINTER(_RunParams), _ON_FRAME, ctypes.c_void_p, ctypes.POINTER(_P),
                                            ctypes.POINTER(_Error)]),
    "grin_pipeline_push": (ctypes.c_int, [_P, ctypes.POINTER(_Image), ctypes.c_double, ctypes.POINTER(_Error)]),
    "grin_pipeline_finish": (ctypes.c_int, [_P, ctypes.POINTER(_RunStats), ctypes.POINTER(_Error)]),
    "grin_pipeline_free": (None, [_P]),
}
_video = None


def _video_lib():
    global _video
    if _video is None:
        here = os.path.dirname(_lib._name) if os.sep in _lib._name else ""
        cands = [os.path.join(here, "libgrin-video.so")] if here else []
        cands.append("libgrin-video.so.0")
        errors = []
        for c in cands:
            if os.sep in c and not os.path.exists(c):
                continue
            try:
                lib = ctypes.CDLL(c)
                break
            except OSError as e:
                errors.append("%s: %s" % (c, e))
        else:
            raise Error("libgrin-video.so (grin's video pipeline) not found: " + "; ".join(errors or cands))
        for name, (res, args) in _video_sig.items():
            f = getattr(lib, name)
            f.restype = res
            f.argtypes = args
        _video = lib
    return _video

_OK, _TOO_SMALL = 0, 7
_GRAY, _RGB, _BGR = 1, 2, 3


def version():
    """grin's version string"""
    return _lib.grin_version().decode()


def metrics(probs, labels):
    """How well smile probabilities match 0/1 labels, as grin eval reports it: a dict with acc and
    its 95% Wilson interval acc_ci, auc (None with one class only) and its 95% DeLong interval
    auc_ci, the mean log loss, and the confusion counts tp, fp, tn, fn (tp: label 1, p >= 0.5)."""
    p = np.ascontiguousarray(probs, dtype=np.float32).ravel()
    y = np.asarray(labels).ravel()
    if p.size != y.size:
        raise Error("metrics: %d probabilities and %d labels" % (p.size, y.size))
    if not np.all((y == 0) | (y == 1)):
        raise Error("metrics: labels must be 0 or 1")
    if not np.all(np.isfinite(p)):
        raise Error("metrics: probabilities must be finite")
    y = np.ascontiguousarray(y, dtype=np.uint8)
    m = _Metrics()
    _lib.grin_metrics_compute(p.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                              y.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), p.size, ctypes.byref(m))
    both = 0 < int(y.sum()) < y.size
    return {"n": int(p.size), "acc": m.acc, "acc_ci": (m.acc_lo, m.acc_hi), "auc": m.auc if both else None,
            "auc_ci": (m.auc_lo, m.auc_hi) if both else None, "loss": m.loss,
            "tp": m.tp, "fp": m.fp, "tn": m.tn, "fn": m.fn}


def _check(status, err=None, what="grin"):
    if status not in (_OK,):
        msg = err.msg.decode(errors="replace") if err is not None and err.msg else ""
        raise Error(msg or "%s: %s" % (what, _lib.grin_status_str(status).decode()))


def _bytes(s):
    return None if s is None else os.fsencode(s)


def _image(arr, order):
    """a grin_image over a numpy array (kept alive by the caller)"""
    a = np.asarray(arr)
    if a.dtype != np.uint8:
        raise Error("images must be uint8 arrays, not %s" % a.dtype)
    if a.ndim == 2:
        fmt, ch = _GRAY, 1
    elif a.ndim == 3 and a.shape[2] == 3:
        if order not in ("bgr", "rgb"):
            raise Error("order must be 'bgr' or 'rgb'")
        fmt, ch = (_BGR if order == "bgr" else _RGB), 3
    else:
        raise Error("images are (H, W) grey or (H, W, 3) colour arrays, not %s" % (a.shape,))
    if a.strides[-1] != 1 or (ch == 3 and a.strides[1] != 3) or a.strides[0] < a.shape[1] * ch:
        a = np.ascontiguousarray(a)  # rows of packed pixels, any row stride
    img = _Image(a.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), a.shape[1], a.shape[0], a.strides[0], fmt)
    return img, a


# ---------------------------------------------------------------- the stages

class Detector:
    """the Viola-Jones face detector with a cascade (default: Debian's frontal face)"""

    def __init__(self, cascade="/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
                 scale_factor=1.1, min_neighbors=3, min_size=30, threads=1):
        self._c, self._d = _P(), _P()
        err = _Error()
        _check(_lib.grin_cascade_load(_bytes(cascade), ctypes.byref(self._c), ctypes.byref(err)), err)
        _check(_lib.grin_detector_create(threads, ctypes.byref(self._d)), None, "grin_detector_create")
        self.params = _DetectParams()
        _lib.grin_detect_params_default(ctypes.byref(self.params))
        self.params.scale_factor, self.params.min_neighbors = scale_factor, min_neighbors
        self.params.min_width = self.params.min_height = min_size

    def detect(self, image, order="bgr", photo=False):
        """the faces' boxes, [(x, y, w, h), ...]; photo=True adds grin's second look for a photo"""
        img, keep = _image(image, order)
        n = ctypes.c_size_t()
        if photo:
            st = _lib.grin_detect_photo(self._d, self._c, ctypes.byref(img), ctypes.byref(self.params), ctypes.byref(n))
        else:
            st = _lib.grin_detect(self._d, self._c, ctypes.byref(img), ctypes.byref(self.params), None, 0,
                                  ctypes.byref(n))
        if st not in (_OK, _TOO_SMALL):
            raise Error(_lib.grin_detector_error(self._d).decode(errors="replace"))
        r = _lib.grin_detector_results(self._d, ctypes.byref(n))
        del keep
        return [(r[i].x, r[i].y, r[i].w, r[i].h) for i in range(n.value)]

    def __del__(self):
        if getattr(self, "_d", None):
            _lib.grin_detector_free(self._d)
        if getattr(self, "_c", None):
            _lib.grin_cascade_free(self._c)


class Landmarker:
    """dlib's 68-point landmark model (default: Debian's), evaluated as dlib does"""

    def __init__(self, model="/usr/share/dlib/shape_predictor_68_face_landmarks.dat"):
        self._m = _P()
        err = _Error()
        _check(_lib.grin_landmarker_load(_bytes(model), ctypes.byref(self._m), ctypes.byref(err)), err)

    def landmarks(self, image, box, order="bgr"):
        """the 68 points [(x, y), ...] of the face in box (x, y, w, h)"""
        img, keep = _image(image, order)
        pts = (_Point * 68)()
        err = _Error()
        _check(_lib.grin_landmarks(self._m, ctypes.byref(img), _Rect(*box), pts, 68, ctypes.byref(err)), err)
        del keep
        return [(p.x, p.y) for p in pts]

    def __del__(self):
        if getattr(self, "_m", None):
            _lib.grin_landmarker_free(self._m)


class Classifier:
    """a grin classifier (.grinnet) on ready crops of its input size"""

    def __init__(self, model):
        self._c = _P()
        err = _Error()
        _check(_lib.grin_classifier_load(_bytes(model), ctypes.byref(self._c), ctypes.byref(err)), err)

    def classify_crops(self, crops, order="bgr"):
        """one probability per crop"""
        imgs, keep = zip(*[_image(c, order) for c in crops]) if crops else ((), ())
        arr = (_Image * len(imgs))(*imgs)
        out = (ctypes.c_float * max(len(imgs), 1))()
        err = _Error()
        _check(_lib.grin_classify_crops(self._c, arr, len(imgs), out, ctypes.byref(err)), err)
        del keep
        return [float(out[i]) for i in range(len(imgs))]

    def __del__(self):
        if getattr(self, "_c", None):
            _lib.grin_classifier_free(self._c)


class FacePath:
    """the whole face path on photos, models loaded once: faces(image) -> list of dicts with box,
    points (68), aligned, quality, decided and smile (as grin classify)"""

    def __init__(self, model=None, landmarks=None, cascade=None, face_check=None, no_face_check=False,
                 profile_cascade=None, int8=False, photo=True, threads=1):
        p = _FacesParams()
        _lib.grin_faces_params_default(ctypes.byref(p))
        self._strings = [_bytes(s) for s in (model, landmarks, cascade, profile_cascade, face_check)]
        p.model, p.landmarks, p.cascade, p.profile_cascade, p.face_check = self._strings
        p.no_face_check, p.int8, p.photo, p.threads = int(no_face_check), int(int8), int(photo), threads
        self._f = _P()
        err = _Error()
        _check(_lib.grin_face_path_create(ctypes.byref(p), ctypes.byref(self._f), ctypes.byref(err)), err)

    def faces(self, image, order="bgr"):
        img, keep = _image(image, order)
        cap = 16
        while True:
            out = (_Face * cap)()
            n = ctypes.c_size_t()
            err = _Error()
            st = _lib.grin_faces(self._f, ctypes.byref(img), out, cap, ctypes.byref(n), ctypes.byref(err))
            if st == _TOO_SMALL and n.value > cap:
                cap = n.value
                continue
            _check(st, err)
            break
        del keep
        return [{"box": (f.box.x, f.box.y, f.box.w, f.box.h), "points": [(p.x, p.y) for p in f.points[:f.npoints]],
                 "aligned": bool(f.aligned), "quality": float(f.quality), "decided": bool(f.decided),
                 "smile": float(f.smile)} for f in out[:n.value]]

    def __del__(self):
        if getattr(self, "_f", None):
            _lib.grin_face_path_free(self._f)


_default_path = None


def faces(image, order="bgr"):
    """each face in a photo: box, 68 points, aligned, quality, decided, smile (the installed models)"""
    global _default_path
    if _default_path is None:
        _default_path = FacePath()
    return _default_path.faces(image, order)


# ---------------------------------------------------------------- the pipeline

def _run_params(vlib, model, detect_every, realtime, int8, face_check, no_face_check, detect_edge, smile=None):
    p = _RunParams()
    vlib.grin_run_params_default(ctypes.byref(p))
    strings = [_bytes(model), _bytes(face_check)]  # (kept alive with p by the caller)
    p.model, p.face_check = strings
    p.detect_every, p.int8, p.no_face_check = detect_every, int(int8), int(no_face_check)
    if realtime is not None:
        p.realtime = 1 if realtime else 0
    if detect_edge is not None:
        p.detect_edge = float(detect_edge)
    for k, v in (smile or {}).items():
        if v is not None:
            setattr(p, k, float(v))
    return p, strings


def _frame(fi, image):
    """a grin_frame_info as a dict (see run)"""
    f = fi.contents
    out = {"frame": f.frame, "t": f.t, "latency_ms": f.latency_ms, "events": (f.events or b"").decode(), "faces": []}
    for i in range(f.nfaces):
        x = f.faces[i]
        dec = not (math.isnan(x.smile) or math.isnan(x.smile_raw))
        out["faces"].append({"id": x.id, "box": (x.box.x, x.box.y, x.box.w, x.box.h),
                             "smile": float(x.smile) if dec else None, "raw": float(x.smile_raw) if dec else None,
                             "smiling": bool(x.smiling), "aligned": bool(x.aligned), "quality": float(x.quality)})
    if image and f.image:
        im = f.image.contents
        buf = np.ctypeslib.as_array(im.data, shape=(im.height * im.stride,))
        out["image"] = buf.reshape(im.height, im.stride)[:, :im.width * 3].reshape(im.height, im.width, 3).copy()
    return out


def run(source, model=None, detect_every=4, realtime=None, int8=False, face_check=None, no_face_check=False,
        image=False, on_frame=None, detect_edge=None, smile_on=None, smile_off=None, smile_dwell=None):
    """grin's real-time pipeline on a video file, image sequence, folder, camera or stream URL.

    With on_frame(frame) the function calls it for every processed frame (return True to stop)
    and returns the run's statistics; without, it returns an iterator of frames. A frame is a dict:
    frame, t, latency_ms, faces ([{id, box, smile, raw, smiling, aligned, quality}], smile and raw
    None without a decision), events (the JSON lines of smile_start, smile_end, track_end), and
    with image=True the annotated-size RGB frame as a numpy array (a copy). detect_edge: the border
    detection sees past the frame's edge, as a share of its larger side (None: grin's default, 0.05;
    0: none). smile_on, smile_off, smile_dwell: a face starts smiling when its smoothed smile has
    stood at or above smile_on for smile_dwell seconds, and stops below smile_off (None: grin's
    defaults, 0.5, 0.5 and 0.2 s). source "-" reads standard input. For frames you have yourself,
    see Pipeline."""
    vlib = _video_lib()
    p, _keep = _run_params(vlib, model, detect_every, realtime, int8, face_check, no_face_check, detect_edge,
                           dict(smile_on=smile_on, smile_off=smile_off, smile_dwell=smile_dwell))

    def go(callback):
        stats, err = _RunStats(), _Error()
        cb = _ON_FRAME(lambda user, fi: 1 if callback(_frame(fi, image)) else 0)
        st = vlib.grin_run(_bytes(source), ctypes.byref(p), cb, None, ctypes.byref(stats), ctypes.byref(err))
        _check(st, err)
        return {k: getattr(stats, k) for k, _ in _RunStats._fields_}

    if on_frame is not None:
        return go(on_frame)
    return _iterate(go)


class Pipeline:
    """grin's real-time pipeline fed with frames you have (your camera, decoder or network):

        with grin.Pipeline(on_frame=print) as pl:
            for t, frame in frames:          # numpy (H, W, 3) BGR (order="rgb" for RGB) or (H, W) grey
                pl.push(frame, t)            # t: seconds, increasing
        stats = pl.stats

    on_frame(frame) gets each processed frame as run() gives it, in order, from the pipeline's
    thread; return True to stop (later pushes raise). realtime=True is for live frames: push hardly
    ever waits and frames that would wait behind two others are dropped; otherwise every frame is
    processed and push waits while the pipeline is busy. photos=True: the frames are separate photos
    (detection on each, no tracking across them). The other options are run()'s."""

    def __init__(self, on_frame, model=None, detect_every=4, realtime=False, int8=False, face_check=None,
                 no_face_check=False, detect_edge=None, image=False, smile_on=None, smile_off=None, smile_dwell=None,
                 photos=False):
        self._vlib = _video_lib()
        self._p, self._keep = _run_params(self._vlib, model, detect_every, realtime, int8, face_check, no_face_check,
                                          detect_edge, dict(smile_on=smile_on, smile_off=smile_off,
                                                            smile_dwell=smile_dwell))
        self._p.photos = int(bool(photos))
        self._cb = _ON_FRAME(lambda user, fi: 1 if on_frame(_frame(fi, image)) else 0)
        self._h = _P()
        self.stats = None
        err = _Error()
        _check(self._vlib.grin_pipeline_create(ctypes.byref(self._p), self._cb, None, ctypes.byref(self._h),
                                               ctypes.byref(err)), err)

    def push(self, frame, t, order="bgr"):
        if not self._h:
            raise Error("the pipeline was closed")
        img, _a = _image(frame, order)
        err = _Error()
        _check(self._vlib.grin_pipeline_push(self._h, ctypes.byref(img), float(t), ctypes.byref(err)), err)

    def finish(self):
        """waits until every pushed frame was delivered; returns (and keeps in .stats) the statistics"""
        if not self._h:
            return self.stats
        stats, err = _RunStats(), _Error()
        st = self._vlib.grin_pipeline_finish(self._h, ctypes.byref(stats), ctypes.byref(err))
        self._vlib.grin_pipeline_free(self._h)
        self._h = _P()
        self.stats = {k: getattr(stats, k) for k, _ in _RunStats._fields_}
        _check(st, err)
        return self.stats

    close = finish

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finish()

    def __del__(self):
        if getattr(self, "_h", None):
            self._vlib.grin_pipeline_free(self._h)


def _iterate(go):
    """the frames of a run as an iterator: the pipeline runs on a thread, frames come through a
    small queue; leaving the loop early stops the run"""
    q = queue.Queue(maxsize=8)
    stop = threading.Event()
    done = object()
    result = {}

    def worker():
        try:
            result["stats"] = go(lambda fr: (q.put(fr), stop.is_set())[1])
        except Error as e:
            result["error"] = e
        finally:
            q.put(done)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    try:
        while True:
            fr = q.get()
            if fr is done:
                break
            yield fr
    finally:
        stop.set()
        while t.is_alive():  # let the pipeline finish its hand-off
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        t.join()
    if "error" in result:
        raise result["error"]
