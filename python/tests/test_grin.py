"""Tests of grin's Python bindings against the command line's JSON on the same inputs. Runs under
pytest, or alone: /usr/bin/python3 python/tests/test_grin.py [path/to/grin]"""
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
import grin  # noqa: E402

GRIN = os.environ.get("GRIN_CLI", os.path.join(ROOT, "build", "grin"))
SAMPLES = [os.path.join(ROOT, "data/samples", f) for f in ("2008_001009.jpg", "2008_001322.jpg", "2009_004587.jpg")]
CLIP = os.path.join(ROOT, "data/video/franck.webm")
LANDMARKS = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"


def cli(*args):
    r = subprocess.run([GRIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def read(path, order="bgr"):
    """the photo as OpenCV reads it (BGR), or as RGB"""
    import cv2
    bgr = cv2.imread(path)
    return bgr if order == "bgr" else bgr[:, :, ::-1].copy()


def test_detector_matches_cli():
    det = grin.Detector()
    for s in SAMPLES:
        want = [tuple(f["box"]) for f in cli("detect", s)[0]["faces"]]
        bgr = read(s)
        assert det.detect(bgr) == want
        assert det.detect(bgr[:, :, ::-1], order="rgb") == want
        grey = (bgr @ np.array([0.114, 0.587, 0.299])).round().astype(np.uint8)  # near OpenCV's grey
        assert len(det.detect(grey)) == len(want)
        # a view with a row stride larger than its width (a crop of a bigger array)
        big = np.zeros((bgr.shape[0], bgr.shape[1] + 40, 3), np.uint8)
        big[:, 20:20 + bgr.shape[1]] = bgr
        assert det.detect(big[:, 20:20 + bgr.shape[1]]) == want


def test_faces_match_classify():
    if not os.path.exists(LANDMARKS):
        return
    for s in SAMPLES:
        want = cli("classify", s)[0]["faces"]
        got = grin.faces(read(s))
        assert [f["box"] for f in got] == [tuple(w["box"]) for w in want]
        for f, w in zip(got, want):
            assert abs(f["smile"] - w["smile"]) < 1e-3 and f["aligned"] == w["aligned"]
            assert len(f["points"]) == 68 and 0 <= f["quality"] <= 1 and f["decided"]


def test_landmarks_match_cli():
    if not os.path.exists(LANDMARKS):
        return
    lm = grin.Landmarker()
    s = SAMPLES[1]
    want = cli("landmarks", "--box", "348,146,100,100", s)[0]["faces"][0]["points"]
    got = lm.landmarks(read(s), (348, 146, 100, 100))
    assert len(got) == 68 and max(abs(a - b) for p, q in zip(got, want) for a, b in zip(p, q)) < 0.01


def test_errors_carry_grins_message():
    for make in (lambda: grin.Detector(cascade="/no/such.xml"), lambda: grin.Classifier("/no/such.grinnet")):
        try:
            make()
            assert False, "no error"
        except grin.Error as e:
            assert "/no/such" in str(e)
    try:
        grin.Detector().detect(np.zeros((10, 10), np.float32))
        assert False
    except grin.Error as e:
        assert "uint8" in str(e)


def test_run_matches_cli_events():
    if not os.path.exists(LANDMARKS):
        return
    frames = []
    for fr in grin.run(CLIP, detect_every=4):
        frames.append(fr)
        if len(frames) == 60:
            break  # leaving the loop stops the run
    assert len(frames) == 60 and [f["frame"] for f in frames] == list(range(60))
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        ev = os.path.join(d, "ev.jsonl")
        subprocess.run([GRIN, "run", CLIP, "--frames", "60", "--events", ev], check=True, stdout=subprocess.PIPE)
        want = [json.loads(l) for l in open(ev) if '"faces"' in l]
    for a, b in zip(frames, want):
        assert [f["id"] for f in a["faces"]] == [f["id"] for f in b["faces"]]
        for f, g in zip(a["faces"], b["faces"]):
            assert list(f["box"]) == g["box"]
            assert (f["smile"] is None) == (g["smile"] is None)
            if f["smile"] is not None:
                assert abs(f["smile"] - g["smile"]) < 1e-3
    seen = []
    stats = grin.run(CLIP, on_frame=lambda fr: seen.append(fr["frame"]) or len(seen) >= 10, image=False)
    assert len(seen) == 10 and stats["processed"] >= 10


def test_pipeline_push_matches_run():
    if not os.path.exists(LANDMARKS):
        return
    frames = []
    for fr in grin.run(CLIP, image=True):
        frames.append(fr)
        if len(frames) == 40:
            break
    got = []
    with grin.Pipeline(on_frame=lambda fr: got.append(fr)) as pl:
        for fr in frames:
            pl.push(fr["image"], fr["t"], order="rgb")
    assert pl.stats["processed"] == 40 and [f["frame"] for f in got] == list(range(40))
    assert [f["faces"] for f in got] == [f["faces"] for f in frames]
    # grey frames, and a time that does not increase: grin's message as an exception
    pl = grin.Pipeline(on_frame=lambda fr: None)
    pl.push(frames[0]["image"][:, :, 1], 0.0)
    try:
        pl.push(frames[0]["image"][:, :, 1], 0.0)
        assert False, "a time that does not increase was taken"
    except grin.Error as e:
        assert "increase" in str(e)
    assert pl.finish()["frames"] == 1


def test_run_counts_damage():
    if not os.path.exists(LANDMARKS):
        return
    import random, tempfile
    data = bytearray(open(CLIP, "rb").read())
    rnd = random.Random(7)
    for _ in range(200):
        k = rnd.randrange(5000, 120000)
        data[k] ^= 1 << rnd.randrange(8)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "flipped.webm")
        open(path, "wb").write(bytes(data))
        seen = []
        stats = grin.run(path, on_frame=lambda fr: seen.append(1) or len(seen) >= 200)
        assert stats["errors"] >= 1, stats
    seen = []
    assert grin.run(CLIP, on_frame=lambda fr: seen.append(1) or len(seen) >= 50)["errors"] == 0


def test_metrics():
    m = grin.metrics([0.9, 0.8, 0.3, 0.6, 0.2, 0.1], [1, 1, 1, 0, 0, 0])
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (2, 1, 1, 2)
    assert abs(m["acc"] - 4 / 6) < 1e-12 and abs(m["auc"] - 8 / 9) < 1e-12
    # Wilson's interval, written out
    n, a, z = 6, 4 / 6, 1.959964
    c = 1 + z * z / n
    mid, half = (a + z * z / (2 * n)) / c, z / c * (a * (1 - a) / n + z * z / (4 * n * n)) ** 0.5
    assert abs(m["acc_ci"][0] - (mid - half)) < 1e-9 and abs(m["acc_ci"][1] - (mid + half)) < 1e-9
    # AUC as the share of (positive, negative) pairs ranked right, ties half, on random scores
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300) * 0.5 + 0.4 * y, 2).astype(np.float32)
    pos, neg = p[y == 1], p[y == 0]
    want = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (pos.size * neg.size)
    m = grin.metrics(p, y)
    assert abs(m["auc"] - want) < 1e-9 and m["auc_ci"][0] < m["auc"] < m["auc_ci"][1]
    assert grin.metrics([0.2, 0.7], [1, 1])["auc"] is None
    for bad in (([0.5], [1, 0]), ([0.5], [2]), ([float("nan")], [1])):
        try:
            grin.metrics(*bad)
            assert False, bad
        except grin.Error:
            pass


def test_structs_match_the_header():
    # each parameter struct the library fills must be at least as large in Python as in C: the
    # default functions write it whole, so a field the header gained and the bindings lack would be
    # written past the end (canary bytes after the Python struct must stay untouched)
    import ctypes
    for fill, cls in ((grin._video_lib().grin_run_params_default, grin._RunParams),
                      (grin._lib.grin_faces_params_default, grin._FacesParams),
                      (grin._lib.grin_detect_params_default, grin._DetectParams)):
        size = ctypes.sizeof(cls)
        buf = (ctypes.c_ubyte * (size + 256))(*([0xAB] * (size + 256)))
        fill(ctypes.cast(buf, ctypes.POINTER(cls)))
        assert all(b == 0xAB for b in buf[size:]), cls.__name__
    p = grin._RunParams()
    grin._video_lib().grin_run_params_default(ctypes.byref(p))
    assert p.detect_edge == 0.05 and p.detect_every == 4  # the last field, where the header has it


if __name__ == "__main__":
    if len(sys.argv) > 1:
        GRIN = sys.argv[1]
    failed = 0
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                print("ok", name)
            except Exception as e:  # report every test, then fail
                failed += 1
                print("FAIL", name, repr(e))
    sys.exit(1 if failed else 0)
