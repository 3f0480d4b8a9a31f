#!/usr/bin/python3
"""End-to-end checks of the grin command line: JSON output, --draw, bench, --version, and the
one-line errors with a non-zero exit on bad input. Usage: test_cli.py PATH/TO/grin"""
import json
import random
import re
import os
import shutil
import subprocess
import sys
import tempfile

GRIN = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = [os.path.join(ROOT, "data/samples", f) for f in
           ("2008_001009.jpg", "2008_001322.jpg", "2009_004587.jpg")]
failed = 0
passed = 0


def run(*args, env=None):
    return subprocess.run([GRIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=120, env=env)


def check(name, cond, detail=""):
    global failed, passed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail))


def one_line_error(name, r, needle):
    err = r.stderr.strip().splitlines()
    check(name + ": non-zero exit", r.returncode != 0, "rc=%d" % r.returncode)
    check(name + ": one error line", len(err) >= 1 and all(l.startswith("grin: ") for l in err), repr(r.stderr))
    check(name + ": names the fault", any(needle in l for l in err), repr(r.stderr))
    check(name + ": no crash", r.returncode > 0 and r.returncode < 128, "rc=%d" % r.returncode)


tmp = tempfile.mkdtemp(prefix="grin-cli-")  # removed at the end when every check passed

r = run("--version")
check("version", r.returncode == 0 and r.stdout.startswith("grin ") and "build" in r.stdout and "cpu:" in r.stdout, r.stdout)

r = run("detect", *SAMPLES, "--draw", os.path.join(tmp, "drawn"))
check("detect rc", r.returncode == 0, r.stderr)
lines = [json.loads(l) for l in r.stdout.splitlines()]
check("detect one line per image", len(lines) == 3)
check("detect json shape", all(set(l) == {"schema", "image", "width", "height", "faces"} and l["schema"] == 1
                                for l in lines))
check("detect faces", [len(l["faces"]) for l in lines] == [2, 3, 2], str([len(l["faces"]) for l in lines]))
check("detect box as every command writes it", all(set(f) == {"box"} and len(f["box"]) == 4 and
                                                   all(isinstance(v, int) for v in f["box"]) for l in lines for f in l["faces"]))
for s in SAMPLES:
    out = os.path.join(tmp, "drawn", os.path.splitext(os.path.basename(s))[0] + ".png")
    check("draw " + out, os.path.exists(out) and open(out, "rb").read(4) == b"\x89PNG")

r = run("detect", "--threads", "2", "--scale-factor", "1.2", "--min-neighbors", "4", "--min-size", "40", SAMPLES[1])
check("detect options", r.returncode == 0 and len(json.loads(r.stdout)["faces"]) >= 1, r.stderr)
r2 = run("detect", "--threads=2", "--scale-factor=1.2", "--min-neighbors=4", "--min-size=40", SAMPLES[1])
check("detect --name=value options", r2.returncode == 0 and r2.stdout == r.stdout, r2.stderr)

r = run("bench", "detect", "--image", SAMPLES[1], "--repeat", "3")
b = json.loads(r.stdout) if r.returncode == 0 else {}
check("bench", r.returncode == 0 and {"ms_per_frame_min", "ms_per_frame_median", "faces"} <= set(b) and b["faces"] == 3, r.stdout + r.stderr)

# bad inputs: each a one-line error, a non-zero exit, and the good images still reported
empty = os.path.join(tmp, "empty.jpg")
open(empty, "wb").close()
trunc = os.path.join(tmp, "trunc.jpg")
open(trunc, "wb").write(open(SAMPLES[0], "rb").read()[:5000])
text = os.path.join(tmp, "notes.png")
open(text, "w").write("just some text\n")
huge = os.path.join(tmp, "huge.pgm")
open(huge, "wb").write(b"P5 100000 100000 255\n")
# a small JPEG whose frame header claims 8000x8000: refused at once, not decoded into seconds of
# corrupt pixels (a fuzzer's 200-byte file declaring 98 megapixels took 8 s and exited 0)
claim = bytearray(open(SAMPLES[0], "rb").read()[:3000])
sof = claim.find(b"\xff\xc0")
claim[sof + 5:sof + 9] = (8000).to_bytes(2, "big") + (8000).to_bytes(2, "big")
claims = os.path.join(tmp, "claims.jpg")
open(claims, "wb").write(bytes(claim))
for name, path, needle in [("missing", "/no/such.jpg", "/no/such.jpg: cannot open"),
                           ("tiny file, huge frame", claims, "3000 bytes cannot hold the 8000x8000 image"),
                           ("empty", empty, "empty file"), ("truncated", trunc, "truncated JPEG"),
                           ("not an image", text, "not a JPEG, PNG or PGM/PPM"),
                           ("huge", huge, "100000x100000")]:
    r = run("detect", path, SAMPLES[0])
    one_line_error(name, r, needle)
    out = [json.loads(l) for l in r.stdout.splitlines()]
    check(name + ": good image still reported", len(out) == 2 and len(out[1].get("faces", [])) == 2, r.stdout)
    check(name + ": error object", "error" in out[0] if out else False, r.stdout)

bad_cascade = os.path.join(tmp, "bad.xml")
open(bad_cascade, "w").write("<opencv_storage><cascade><stageType>BOOST</stageType></cascade>")
one_line_error("bad cascade", run("detect", "--cascade", bad_cascade, SAMPLES[0]), "bad.xml")
# a declared encoding whose conversion fails: libxml2 would print its own lines on stderr
for enc in ("UCS-4", "ISO-2022-JP", "UTF-32"):
    with open(bad_cascade, "wb") as fh:
        fh.write(b'<?xml version="1.0" encoding="' + enc.encode() + b'"?>\n<opencv_storage>\xc2cv_\x00\x00\x00\x00'
                 b'\xff\xfe\x80</opencv_storage>\n')
    r = run("detect", "--cascade", bad_cascade, SAMPLES[0])
    one_line_error("cascade in a failing encoding " + enc, r, "bad.xml")
    check("cascade in a failing encoding %s: one line only" % enc, len(r.stderr.strip().splitlines()) == 1, r.stderr)
# a FIFO given as an image, cascade, model or landmark model: refused at once, not waited on
fifo = os.path.join(tmp, "fifo.jpg")
os.mkfifo(fifo)
for name, args in (("image", ("detect", fifo)), ("cascade", ("detect", "--cascade", fifo, SAMPLES[0])),
                   ("model", ("classify", "--model", fifo, SAMPLES[0])),
                   ("landmark model", ("landmarks", "--model", fifo, "--box", "1,1,50,50", SAMPLES[0]))):
    try:
        r = subprocess.run([GRIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=20)
        one_line_error("a FIFO as the " + name, r, "not a regular file")
    except subprocess.TimeoutExpired:
        check("a FIFO as the " + name + ": no hang", False)
# eval: nothing evaluable is an error; the ROC's format is checked before the work; one class has no AUC
nothing = os.path.join(tmp, "nothing.csv")
open(nothing, "w").write("file,smile\n/no/such1.jpg,1\n/no/such2.jpg,0\n")
one_line_error_any = lambda name, r, needle: (check(name + ": non-zero exit", r.returncode == 1, "rc=%d" % r.returncode),
                                              check(name + ": names the fault", needle in r.stderr, r.stderr))
one_line_error_any("eval: no photo evaluable", run("eval", "--labels", nothing), "no photo could be evaluated")
one_line_error("eval --roc not PNG", run("eval", "--labels", nothing, "--roc", os.path.join(tmp, "roc.gif")), ".png")
oneclass = os.path.join(tmp, "oneclass.csv")
open(oneclass, "w").write("file,smile\n%s,1\n%s,1\n" % (SAMPLES[0], SAMPLES[2]))
r = run("eval", "--labels", oneclass)
check("eval: one class, no AUC", r.returncode == 0 and "AUC n/a" in r.stdout and '"auc":null' in r.stdout, r.stdout + r.stderr)
# file names that are not UTF-8 still give valid JSON (the bad byte as U+FFFD), good ones stay as they are
import shutil as _sh
weird = os.path.join(os.fsencode(tmp), b"bad\xffname \xc3\xbc.jpg")
_sh.copy(SAMPLES[0], weird)
rb = subprocess.run([os.fsencode(GRIN), b"detect", weird], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
try:
    img = json.loads(rb.stdout.decode("utf-8"))["image"]
    check("JSON of a non-UTF-8 file name", img.endswith("bad\ufffdname \u00fc.jpg"), img)
except (UnicodeDecodeError, ValueError) as e:
    check("JSON of a non-UTF-8 file name", False, repr(e))
# --draw: two inputs with one base name give two PNGs; a PNG input drawn into its own folder is kept
twin = os.path.join(tmp, "twin")
os.makedirs(os.path.join(twin, "a"))
os.makedirs(os.path.join(twin, "b"))
_sh.copy(SAMPLES[0], os.path.join(twin, "a", "x.jpg"))
_sh.copy(SAMPLES[1], os.path.join(twin, "b", "x.jpg"))
r = run("detect", "--draw", twin, os.path.join(twin, "a", "x.jpg"), os.path.join(twin, "b", "x.jpg"))
check("--draw: same base names, two PNGs", r.returncode == 0 and os.path.exists(os.path.join(twin, "x.png")) and
      os.path.exists(os.path.join(twin, "x-2.png")), os.listdir(twin))
png_in = os.path.join(twin, "p.png")
_sh.copy(os.path.join(twin, "x.png"), png_in)
size = os.path.getsize(png_in)
r = run("detect", "--draw", twin, png_in)
check("--draw into the input's folder keeps the input", r.returncode == 0 and os.path.getsize(png_in) == size and
      os.path.exists(os.path.join(twin, "p-2.png")), os.listdir(twin))
# classify, like detect: a JSON line for an image it can't read, between the others
r = run("classify", SAMPLES[0], "/no/such.jpg", SAMPLES[2])
ls = [json.loads(l) for l in r.stdout.splitlines()]
check("classify: a JSON error line for a bad image", r.returncode == 1 and len(ls) == 3 and ls[1]["image"] == "/no/such.jpg"
      and "error" in ls[1] and "faces" in ls[0] and "faces" in ls[2], r.stdout + r.stderr)
# --help on every command and subcommand: usage on stdout, exit 0
for cmd in (["run"], ["detect"], ["landmarks"], ["align"], ["convert-landmarks"], ["train"], ["classify"], ["eval"],
            ["model"], ["model", "info"], ["model", "init"], ["export"], ["quantize"], ["calibrate"], ["bench"],
            ["bench", "detect"], ["bench", "landmarks"], ["bench", "classify"], ["plot"]):
    r = run(*cmd, "--help")
    check("grin %s --help" % " ".join(cmd), r.returncode == 0 and "usage" in r.stdout, r.stdout[:200] + r.stderr)
# a pyramid step so close to 1 that the pyramid would take gigabytes is refused at once
one_line_error("detect --scale-factor 1.0001", run("detect", "--scale-factor", "1.0001", SAMPLES[1]), "pyramid levels")
# a tree child index of INT_MIN (its negation overflows) is refused, not evaluated
tiny = open(os.path.join(ROOT, "tests/fixtures/tiny_haar.xml")).read()
for idx in ("-2147483648", "-3", "2147483647"):
    evil = os.path.join(tmp, "evil%s.xml" % idx.replace("-", "m"))
    open(evil, "w").write(tiny.replace("<internalNodes>0 -1 0 0.01</internalNodes>",
                                       "<internalNodes>0 %s 0 0.01</internalNodes>" % idx, 1))
    one_line_error("cascade child index " + idx, run("detect", "--cascade", evil, SAMPLES[0]), "child index")
one_line_error("missing cascade", run("detect", "--cascade", "/no/cascade.xml", SAMPLES[0]), "/no/cascade.xml")
one_line_error("bad scale", run("detect", "--scale-factor", "1", SAMPLES[0]), "--scale-factor")
one_line_error("bad threads", run("detect", "--threads", "x", SAMPLES[0]), "--threads")
one_line_error("unknown option", run("detect", "--frobnicate", SAMPLES[0]), "--frobnicate")
one_line_error("unknown command", run("frobnicate"), "frobnicate")
one_line_error("draw into a file", run("detect", "--draw", SAMPLES[0], SAMPLES[0]), "not a directory")
one_line_error("bench without image", run("bench", "detect"), "--image")

# ---- landmarks, convert-landmarks, align
TINY = os.path.join(ROOT, "tests/fixtures/tiny_shape_predictor.dat")
r = run("landmarks", "--model", TINY, "--box", "10,10,80,80", "--box", "100,100,50,60", SAMPLES[1])
check("landmarks rc", r.returncode == 0, r.stderr)
if r.returncode == 0:
    d = json.loads(r.stdout)
    check("landmarks faces", len(d["faces"]) == 2 and all(len(f["points"]) == 5 for f in d["faces"]), r.stdout[:300])
    check("landmarks box echo", d["faces"][1]["box"] == [100, 100, 50, 60])
    check("landmarks not aligned with a 5-point model", d["faces"][0]["aligned"] is False)
native = os.path.join(tmp, "tiny.grinlmk")
r = run("convert-landmarks", TINY, native)
check("convert rc", r.returncode == 0 and os.path.exists(native), r.stderr)
r2 = run("landmarks", "--model", native, "--box", "10,10,80,80", "--box", "100,100,50,60", SAMPLES[1])
check("native model gives the same points", r2.returncode == 0 and r2.stdout == run(
    "landmarks", "--model", TINY, "--box", "10,10,80,80", "--box", "100,100,50,60", SAMPLES[1]).stdout)
r = run("convert-landmarks", "--q16", TINY, os.path.join(tmp, "tiny.q16"))
check("convert q16", r.returncode == 0 and '"leaves":"q16"' in r.stdout, r.stdout + r.stderr)
REAL = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
if os.path.exists(REAL):
    r = run("landmarks", SAMPLES[1])
    d = json.loads(r.stdout) if r.returncode == 0 else {"faces": []}
    check("landmarks with the detector", len(d["faces"]) == 3 and all(len(f["points"]) == 68 and f["aligned"] for f in d["faces"]), r.stderr)
    csv = os.path.join(tmp, "set.csv")
    with open(csv, "w") as f:
        f.write("file,smile,group,pose,mouth\r\n")     # CRLF, as some CSVs have
        f.write("%s,1,,3,1\r\n\r\n" % SAMPLES[0])     # an empty line (and an empty field)
        f.write("%s,0,b,2,0\n" % os.path.relpath(SAMPLES[2], tmp))  # relative to the CSV
        f.write("%s,maybe,a,1,0\n" % SAMPLES[1])        # a bad label
        f.write("/no/such.jpg,1,a,1,0\n")               # a missing photo
        f.write("%s,1,a,1,0\n" % empty)                 # a photo that can't be decoded
    out = os.path.join(tmp, "aligned")
    r = run("align", "--labels", csv, "--out", out, "--size", "48")
    check("align reports bad rows with file and line", "set.csv:5: bad row" in r.stderr, r.stderr)
    check("align: non-zero exit when rows were bad", r.returncode == 1, "rc=%d" % r.returncode)
    rep = json.loads(r.stdout) if r.stdout.strip() else {}
    check("align report", rep.get("schema") == 1 and rep.get("rows") == 4 and rep.get("bad_rows") == 1 and rep.get("unreadable") == 2
          and rep.get("aligned") == 2, r.stdout)
    lab = open(os.path.join(out, "labels.csv")).read().splitlines() if os.path.exists(os.path.join(out, "labels.csv")) else []
    check("align labels.csv, the source's other columns kept (empty ones too)", len(lab) == 3 and
          lab[0] == "file,smile,aligned,source,landmarks,group,pose,mouth" and
          [l.split(",")[-3:] for l in lab[1:]] == [["", "3", "1"], ["b", "2", "0"]], str(lab))
    def lm_field(line):  # the 68 crop-coordinate landmarks of an aligned row, as floats
        return [float(v) for v in line.split(",")[4].split()]
    check("align writes each aligned crop's landmarks in crop coordinates",
          all(len(lm_field(l)) == 136 and all(-12 < v < 60 for v in lm_field(l)) for l in lab[1:]), str(lab))
    check("align crops", all(os.path.exists(os.path.join(out, l.split(",")[0])) for l in lab[1:]))
    check("align records how it aligned", "margin=0.1" in open(os.path.join(out, "alignment.txt")).read())
    # train a tiny classifier on those crops, evaluate it, describe it
    model = os.path.join(tmp, "tiny.grinnet")
    r = run("train", "--labels", os.path.join(out, "labels.csv"), "--val", os.path.join(out, "labels.csv"),
            "--input", "32", "--alpha", "0.25", "--gray", "--epochs", "2", "--batch", "2", "--out", model)
    ep = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    check("train", r.returncode == 0 and len(ep) == 2 and "val_auc" in ep[-1] and os.path.exists(model), r.stdout + r.stderr)
    r = run("eval", "--aligned", "--model", model, "--labels", os.path.join(out, "labels.csv"))
    last = json.loads(r.stdout.splitlines()[-1]) if r.returncode == 0 else {}
    check("eval --aligned", last.get("schema") == 1 and last.get("n") == 2 and 0 <= last.get("acc", -1) <= 1, r.stdout + r.stderr)
    # rows of any length up to 1 MiB are read whole; a longer one is one bad row, its tail not
    # read as another (every CSV grin reads goes through the same line reader)
    longcsv = os.path.join(out, "long.csv")
    crop0 = lab[1].split(",")[0]
    for note, want_n, name in (("y" * 20000, 2, "a 20 kB row is read whole"),
                               ("y" * (1 << 20), 1, "a row over 1 MiB is one bad row")):
        # row 1: a long note followed by what reads like a row of its own; row 2: a good row
        open(longcsv, "w").write("file,smile,note\n%s,1,%s,%s,0\n%s,0,x\n" % (crop0, note, crop0, crop0))
        r = run("eval", "--aligned", "--model", model, "--labels", longcsv)
        last = json.loads(r.stdout.splitlines()[-1]) if r.returncode == 0 else {}
        check(name, last.get("n") == want_n and (want_n == 2 or "1 rows skipped" in r.stdout + r.stderr),
              r.stdout[-300:] + r.stderr[-300:])
    r = run("eval", "--aligned", "--model", model, "--labels", os.path.join(out, "labels.csv"), "--by", "pose")
    bys = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{"by"')]
    check("eval --aligned --by a column grin align kept", r.returncode == 0 and [(b["group"], b["n"]) for b in bys]
          == [("2", 1), ("3", 1)] and bys[0]["auc"] is None, r.stdout + r.stderr)
    r = run("model", "info", "--model", model)
    check("model info", r.returncode == 0 and '"parameters"' in r.stdout and "trained_with=grin train" in r.stdout, r.stdout)
    check("model info: the file's checksum", r.returncode == 0 and '"checksum":true' in r.stdout.splitlines()[0], r.stdout)
    # a damaged model is refused in one line; an older file (no checksum) loads, and model upgrade
    # writes it again with one
    mb = open(model, "rb").read()
    flipped, v2, up = (os.path.join(tmp, n) for n in ("flipped.grinnet", "v2.grinnet", "up.grinnet"))
    open(flipped, "wb").write(mb[:len(mb) // 2] + bytes([mb[len(mb) // 2] ^ 4]) + mb[len(mb) // 2 + 1:])
    one_line_error("a model with one flipped bit", run("eval", "--aligned", "--model", flipped, "--labels",
                   os.path.join(out, "labels.csv")), "damaged model")
    open(v2, "wb").write(mb[:8] + bytes([2]) + mb[9:-8])
    r_v2 = run("eval", "--aligned", "--model", v2, "--labels", os.path.join(out, "labels.csv"))
    r_v3 = run("eval", "--aligned", "--model", model, "--labels", os.path.join(out, "labels.csv"))
    check("a version 2 model (no checksum) still loads", r_v2.returncode == 0 and r_v2.stdout == r_v3.stdout and
          '"checksum":false' in run("model", "info", "--model", v2).stdout, r_v2.stdout + r_v2.stderr)
    ru = run("model", "upgrade", "--model", v2, "--out", up)
    check("model upgrade", ru.returncode == 0 and open(up, "rb").read() == mb, ru.stdout + ru.stderr)
    one_line_error("model upgrade onto its input", run("model", "upgrade", "--model", v2, "--out", v2), "model")
    # multi-task: an auxiliary head while training, the smile output alone in the saved model
    params = json.loads(r.stdout.splitlines()[0]).get("parameters") if r.returncode == 0 else None
    r = run("train", "--labels", os.path.join(out, "labels.csv"), "--val", os.path.join(out, "labels.csv"),
            "--input", "32", "--alpha", "0.25", "--gray", "--epochs", "2", "--batch", "2", "--aux", "mouth",
            "--aux-weight", "0.5", "--out", model + ".aux")
    ep = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    check("train --aux", r.returncode == 0 and len(ep) == 2 and "auxiliary label mouth on 2 crops (50.0% positive)"
          in r.stderr, r.stdout + r.stderr)
    r = run("model", "info", "--model", model + ".aux")
    check("train --aux saves the smile output only", r.returncode == 0 and
          json.loads(r.stdout.splitlines()[0]).get("parameters") == params, r.stdout + r.stderr)
    r = run("eval", "--aligned", "--model", model + ".aux", "--labels", os.path.join(out, "labels.csv"))
    last = json.loads(r.stdout.splitlines()[-1]) if r.returncode == 0 else {}
    check("eval of a multi-task model matches its last epoch", last.get("n") == 2 and len(ep) == 2 and
          abs(last.get("acc", -1) - ep[-1]["val_acc"]) < 1e-4 and abs(last.get("auc", -1) - ep[-1]["val_auc"]) < 1e-4,
          r.stdout + r.stderr)
    one_line_error("train --aux: a column no row has", run("train", "--labels", os.path.join(out, "labels.csv"),
                   "--input", "32", "--alpha", "0.25", "--gray", "--epochs", "1", "--batch", "2", "--aux", "pose",
                   "--out", model + ".x"), "'pose'")
    # checkpoint and resume: the resumed run reports only the epochs it ran
    ck = os.path.join(tmp, "ck.bin")
    args = ["train", "--labels", os.path.join(out, "labels.csv"), "--input", "32", "--alpha", "0.25", "--gray",
            "--batch", "2", "--checkpoint", ck, "--out", model + "2"]
    r = run(*args, "--epochs", "2")
    r2 = run(*args, "--epochs", "2", "--resume")
    ep2 = [json.loads(l) for l in r2.stdout.splitlines() if l.startswith("{")]
    check("train --resume of a finished run does nothing more", r.returncode == 0 and r2.returncode == 0 and len(ep2) == 0, r2.stdout + r2.stderr)
    one_line_error("train --resume with other options", run(*args, "--epochs", "3", "--resume"), "different run")
    one_line_error("train --resume without --checkpoint", run("train", "--labels", csv, "--out", model, "--resume"), "--checkpoint")
    # 8-bit calibration on the crops, then 8-bit evaluation
    q8 = os.path.join(tmp, "q8.grinnet")
    r = run("quantize", "--model", model, "--calib", os.path.join(out, "labels.csv"), "--out", q8)
    check("quantize", r.returncode == 0 and os.path.exists(q8), r.stdout + r.stderr)
    r = run("eval", "--aligned", "--int8", "--model", q8, "--labels", os.path.join(out, "labels.csv"))
    check("eval --int8", r.returncode == 0 and json.loads(r.stdout.splitlines()[-1])["n"] == 2, r.stdout + r.stderr)
    one_line_error("eval --int8 without calibration", run("eval", "--aligned", "--int8", "--model", model, "--labels", os.path.join(out, "labels.csv")), "calibration")
    one_line_error("bench --int8 without calibration", run("bench", "classify", "--int8", "--model", model, "--repeat", "2"), "calibration")
    # test-time mirroring and Platt scaling (on the shipped model: the tiny one's outputs are too
    # alike to fit), kept with its 8-bit calibration; eval applies what calibrate fitted. The
    # two crops are labelled by the model's own ranking, so the fit is well posed.
    shipped = os.path.join(ROOT, "models/smile.grinnet")
    out64 = os.path.join(tmp, "aligned64")  # (at the shipped model's input size)
    ssize = json.loads(run("model", "info", "--model", shipped).stdout.splitlines()[0])["input"][0]
    run("align", "--labels", csv, "--out", out64, "--size", str(ssize))
    rows64 = open(os.path.join(out64, "labels.csv")).read().splitlines()[1:]
    names = [l.split(",")[0] for l in rows64]
    r = run("classify", "--crops", "--raw", "--model", shipped, *[os.path.join(out64, n) for n in names])
    z = [json.loads(l)["smile"] for l in r.stdout.splitlines()]
    ranked = os.path.join(out64, "ranked.csv")
    with open(ranked, "w") as f:
        f.write("file,smile\n" + "".join("%s,%d\n" % (n, int(v == max(z))) for n, v in zip(names, z)))
    cal = os.path.join(tmp, "cal.grinnet")
    r = run("calibrate", "--labels", ranked, "--out", cal, "--model", shipped)
    fit = json.loads(r.stdout.splitlines()[-1]) if r.returncode == 0 else {}
    info = run("model", "info", "--model", cal).stdout
    check("calibrate", r.returncode == 0 and "test_flip=1" in info and "platt=" in info and "int8_act_max=" in info
          and "fuse=" in info and "keeps its fuse line" in r.stdout, r.stdout + r.stderr + info)
    r = run("eval", "--aligned", "--model", cal, "--labels", ranked)
    ev = json.loads(r.stdout.splitlines()[-1]) if r.returncode == 0 else {}
    check("eval applies the calibration", ev.get("n") == 2 and abs(ev.get("acc", -1) - fit.get("acc_after", -2)) < 1e-9,
          r.stdout + r.stderr + str(fit))
    r = run("eval", "--aligned", "--int8", "--model", cal, "--labels", ranked)
    check("eval --int8 of a calibrated model", r.returncode == 0 and json.loads(r.stdout.splitlines()[-1])["n"] == 2, r.stdout + r.stderr)
    # the landmark branch: trained on landmarks whose mouth corners say smile (85% of the labels
    # agree), fused by calibrate, applied where landmarks exist and only there. The crops carry
    # evidence of their own (a smiling row gets the crop the network ranks higher 70% of the time)
    # and every row's landmarks start from the same face's, so the branch can't tell the crops
    # apart and both weights of the fused fit are well posed, whatever the shipped network says.
    rng = random.Random(7)
    hi = z.index(max(z))
    base_pts = rows64[0].split(",")[4].split()
    def landmark_set(path, n):  # the branch fits one such set, calibrate another (as with real data)
        with open(path, "w") as f:
            f.write("file,smile,aligned,source,landmarks\n")
            for k in range(n):
                smile = k % 3 != 0
                b = rows64[hi if smile == (rng.random() < 0.7) else 1 - hi].split(",")
                pts = [float(v) + rng.gauss(0, 0.3) for v in base_pts]
                for i, sx in ((48, -1), (54, 1), (60, -1), (64, 1)):
                    pts[2 * i] += sx * (1.2 if smile else -0.4)
                    pts[2 * i + 1] -= 1.2 if smile else -0.4
                label = smile if rng.random() > 0.15 else not smile
                f.write("%s,%d,1,x,%s\n" % (b[0], label, " ".join("%.2f" % v for v in pts)))
    lmset, lmfuse = os.path.join(out64, "lmset.csv"), os.path.join(out64, "lmfuse.csv")
    landmark_set(lmset, 80)
    landmark_set(lmfuse, 80)
    lmm, lmc = os.path.join(tmp, "lm.grinnet"), os.path.join(tmp, "lmc.grinnet")
    r = run("train", "--branch", "landmarks", "--init", shipped, "--labels", lmset, "--epochs", "60", "--lr", "1e-2", "--out", lmm)
    info_lm = run("model", "info", "--model", lmm).stdout
    check("train --branch landmarks", r.returncode == 0 and '"landmark_branch"' in info_lm and "lm_trained_with=" in info_lm
          and "int8_act_max=" in info_lm and "platt=" in info_lm and "fuse=" not in info_lm, r.stdout + r.stderr + info_lm)
    r = run("calibrate", "--model", lmm, "--labels", ranked, "--fuse-labels", lmfuse, "--out", lmc)
    fit_lm = json.loads(r.stdout.splitlines()[-1]) if r.returncode == 0 else {}
    check("calibrate fits the fused mapping", r.returncode == 0 and "fuse=" in run("model", "info", "--model", lmc).stdout
          and fit_lm.get("fuse_crops") == 80 and fit_lm.get("fuse_acc", 0) > 0.65 and fit_lm.get("fuse_auc", 0) > 0.65,
          r.stdout + r.stderr)
    r = run("eval", "--aligned", "--model", lmc, "--labels", lmfuse)
    ev = json.loads(r.stdout.splitlines()[-1]) if r.returncode == 0 else {}
    check("eval --aligned fuses rows with landmarks", abs(ev.get("acc", -1) - fit_lm.get("fuse_acc", -2)) < 1e-9
          and "80 with the landmark branch" in r.stdout, r.stdout + r.stderr + str(fit_lm))
    # an ensemble (several --model): the mean of their probabilities; the same model twice is itself
    r1 = run("eval", "--aligned", "--model", lmc, "--labels", lmfuse)
    r2 = run("eval", "--aligned", "--model", lmc, "--model", lmc, "--labels", lmfuse)
    e1 = json.loads(r1.stdout.splitlines()[-1]) if r1.returncode == 0 else {}
    e2 = json.loads(r2.stdout.splitlines()[-1]) if r2.returncode == 0 else {}
    check("eval --aligned of an ensemble of one model twice", e1 and e1 == e2 and "an ensemble of 2 models" in r2.stdout,
          r1.stdout + r2.stdout + r2.stderr)
    # distillation: a small net whose targets blend the labels with a teacher of another input size
    kd = os.path.join(tmp, "kd.grinnet")
    r = run("train", "--labels", lmfuse, "--input", "32", "--alpha", "0.25", "--gray", "--epochs", "1", "--batch", "8",
            "--teacher", lmc, "--teacher", shipped, "--distill", "0.7", "--out", kd)
    check("train --teacher (two teachers, another input size)", r.returncode == 0 and
          re.search(r"2 teachers agree with [0-9.]+% of the labels; the target is 0.30 x label \+ 0.70 x teachers", r.stderr)
          and "--teacher" in run("model", "info", "--model", kd).stdout, r.stdout + r.stderr)
    one_line_error("train --distill without --teacher", run("train", "--labels", lmfuse, "--distill", "0.5", "--out", kd + ".x"),
                   "--teacher")
    one_line_error("train --teacher equal to --out", run("train", "--labels", lmfuse, "--teacher", kd, "--out", kd), "teacher")
    one_line_error("calibrate --fuse-labels without a branch", run("calibrate", "--model", model, "--labels", ranked, "--fuse-labels", lmset, "--out", lmc + ".x"), "branch")
    one_line_error("train --branch without --init", run("train", "--branch", "landmarks", "--labels", lmset, "--out", lmm), "--init")
    one_line_error("train --branch of another kind", run("train", "--branch", "ears", "--init", shipped, "--labels", lmset, "--out", lmm), "ears")
    one_line_error("train --branch on crops without landmarks", run("train", "--branch", "landmarks", "--init", shipped, "--labels", ranked, "--out", lmm), "landmarks")
    crop0 = os.path.join(tmp, "crop64.pgm")  # the shipped model's input size
    with open(crop0, "wb") as f:
        f.write(b"P5 %d %d 255\n" % (ssize, ssize) +
                bytes((x * 5 + (y * y) // 9) % 256 for y in range(ssize) for x in range(ssize)))
    raw_cal = run("classify", "--crops", "--raw", "--model", cal, crop0).stdout
    check("classify --raw: the network alone, as before calibration", raw_cal and raw_cal ==
          run("classify", "--crops", "--raw", "--model", shipped, crop0).stdout, raw_cal)
    check("classify without --raw applies the calibration", raw_cal != run("classify", "--crops", "--model", cal, crop0).stdout)
    check("classify --crops: no landmarks, the network's calibration alone",
          run("classify", "--crops", "--model", cal, crop0).stdout == run("classify", "--crops", "--model", lmc, crop0).stdout.replace(lmc, cal))
    one_line_error("classify --raw without --crops", run("classify", "--raw", crop0), "--crops")
    # 8-bit classification, photos and crops: the same faces, probabilities near the float ones
    r32, r8 = run("classify", *SAMPLES), run("classify", "--int8", *SAMPLES)
    a32 = [json.loads(l) for l in r32.stdout.splitlines()] if r32.returncode == 0 else []
    a8 = [json.loads(l) for l in r8.stdout.splitlines()] if r8.returncode == 0 else []
    same_boxes = len(a32) == len(a8) > 0 and all([f["box"] for f in x["faces"]] == [f["box"] for f in y["faces"]] for x, y in zip(a32, a8))
    diffs = [abs(f["smile"] - g["smile"]) for x, y in zip(a32, a8) for f, g in zip(x["faces"], y["faces"])]
    check("classify --int8", same_boxes and diffs and max(diffs) < 0.05, r8.stdout + r8.stderr)
    r = run("classify", "--crops", "--int8", "--model", cal, crop0)
    check("classify --crops --int8", r.returncode == 0 and abs(json.loads(r.stdout)["smile"] - json.loads(run("classify", "--crops", "--model", cal, crop0).stdout)["smile"]) < 0.05, r.stdout + r.stderr)
    bare = os.path.join(tmp, "bare64.grinnet")
    run("model", "init", "--alpha", "0.25", "--input", "64", "--gray", "--out", bare)
    one_line_error("classify --int8 without calibration", run("classify", "--int8", "--model", bare, SAMPLES[0]), "calibration")
    # fine-tuning: --init starts from the shipped model's weights (a step at a tiny learning rate
    # leaves its outputs near the shipped ones, nearer than a fresh network's: the step still moves
    # the batch-norm statistics), keeps its architecture and alignment, drops its calibration and
    # records how it was trained
    ft = os.path.join(tmp, "ft.grinnet")
    r = run("train", "--init", shipped, "--labels", ranked, "--epochs", "1", "--batch", "2", "--lr", "1e-7", "--out", ft)
    info_ft = run("model", "info", "--model", ft).stdout
    info_sh = run("model", "info", "--model", shipped).stdout
    check("train --init", r.returncode == 0 and info_ft.splitlines()[0] == info_sh.splitlines()[0]
          and "base_trained_with=grin train" in info_ft and "platt=" not in info_ft and "test_flip" not in info_ft
          and "int8_act_max" not in info_ft and "--init" in info_ft, r.stderr + info_ft)
    # the photo path is the crop path plus the face's landmarks: the same probability for a model
    # without a landmark branch, another one for a model with one
    def photo_vs_crop(m, *opts):
        crops = [json.loads(l)["smile"] for l in run("classify", "--crops", "--model", m, *[os.path.join(out64, n) for n in names]).stdout.splitlines()]
        photos = [f["smile"] for p in (SAMPLES[0], SAMPLES[2]) for f in json.loads(run("classify", "--model", m, *opts, p).stdout)["faces"]]
        return [min(abs(c - p) for p in photos) for c in crops] if crops and photos else [None]
    d_ft, d_lm, d_nb = photo_vs_crop(ft), photo_vs_crop(lmc), photo_vs_crop(lmc, "--no-branch")
    check("classify: photos = crops without a landmark branch", len(d_ft) == 2 and max(d_ft) < 2e-4, str(d_ft))
    check("classify: photos pass their landmarks to the branch", len(d_lm) == 2 and min(d_lm) > 1e-3, str(d_lm))
    check("classify --no-branch: photos = crops", len(d_nb) == 2 and max(d_nb) < 2e-4, str(d_nb))
    fresh = os.path.join(tmp, "fresh64.grinnet")  # an untrained network of the shipped one's kind
    sh = json.loads(info_sh.splitlines()[0])
    run("model", "init", "--arch", "dense4" if sh["arch"] == "dense4" else "mobilenet", "--alpha", str(sh["alpha"]),
        "--input", str(ssize), "--gray", "--out", fresh)
    crops64 = [crop0] + [os.path.join(out64, n) for n in names]
    def raw(m):
        return [json.loads(l)["smile"] for l in run("classify", "--crops", "--raw", "--model", m, *crops64).stdout.splitlines()]
    base, near, far = raw(shipped), raw(ft), raw(fresh)
    d_ft = sum(abs(a - b) for a, b in zip(base, near)) / len(base)
    d_fresh = sum(abs(a - b) for a, b in zip(base, far)) / len(base)
    check("train --init starts from the model's weights", len(near) == 3 and d_ft < 0.5 * d_fresh, "%g vs %g" % (d_ft, d_fresh))
    one_line_error("train --init with --alpha", run("train", "--init", shipped, "--alpha", "0.5", "--labels", ranked, "--out", ft), "--init")
    out_m = os.path.join(tmp, "aligned_m3")
    run("align", "--labels", csv, "--out", out_m, "--size", "64", "--margin", "0.3")
    one_line_error("train --init on crops aligned otherwise", run("train", "--init", shipped, "--labels", os.path.join(out_m, "labels.csv"), "--out", ft), "margin")
    one_line_error("train --init of a missing model", run("train", "--init", "/no/m.grinnet", "--labels", ranked, "--out", ft), "/no/m.grinnet")
    one_class = os.path.join(out, "one_class.csv")
    with open(one_class, "w") as f:
        f.write("file,smile\n" + "".join(l.split(",")[0] + ",1\n" for l in lab[1:]))
    one_line_error("calibrate: one class", run("calibrate", "--model", q8, "--labels", one_class, "--out", cal), "both")
    one_line_error("quantize: missing csv", run("quantize", "--model", model, "--calib", "/no/c.csv", "--out", q8), "/no/c.csv")
    one_line_error("eval: a landmark model as classifier", run("eval", "--aligned", "--model", native, "--labels", os.path.join(out, "labels.csv")), "landmark model")
one_line_error("landmarks: missing model", run("landmarks", "--model", "/no/model.dat", "--box", "1,1,9,9", SAMPLES[0]), "/no/model.dat")
bz = os.path.join(tmp, "model.dat.bz2")
open(bz, "wb").write(b"BZh91AY&SY" + b"\0" * 50)
one_line_error("landmarks: bz2 model", run("landmarks", "--model", bz, "--box", "1,1,9,9", SAMPLES[0]), "bzip2")
one_line_error("landmarks: cascade as model", run("landmarks", "--model", os.path.join(ROOT, "tests/fixtures/tiny_haar.xml"), "--box", "1,1,9,9", SAMPLES[0]), "XML")
one_line_error("landmarks: bad box", run("landmarks", "--box", "1,2,3", SAMPLES[0]), "--box")
one_line_error("align: no labels", run("align", "--out", tmp), "--labels")
r = run("bench", "classify", "--repeat", "3", "--batch", "2")
check("bench classify (shipped model)", r.returncode == 0 and json.loads(r.stdout).get("crops_per_s", 0) > 0, r.stdout + r.stderr)
r = run("classify", SAMPLES[1])
d = json.loads(r.stdout) if r.returncode == 0 else {"faces": []}
check("classify with the shipped model", len(d["faces"]) == 3 and all(0 <= f["smile"] <= 1 for f in d["faces"]), r.stdout + r.stderr)
# a face cut by the photo's edge: only the second look (a border, a finer pyramid) finds it
tight = os.path.join(ROOT, "tests/fixtures/tight_face.png")
r1, r2 = run("classify", "--one-look", tight), run("classify", tight)
d1 = json.loads(r1.stdout) if r1.returncode == 0 else {}
d2 = json.loads(r2.stdout) if r2.returncode == 0 else {}
check("classify --one-look misses a face cut by the edge", d1.get("faces") == [], r1.stdout + r1.stderr)
f2 = d2.get("faces", [])
check("classify: the second look finds it", len(f2) == 1 and (f2[0]["box"][0] < 0 or f2[0]["box"][1] < 0)
      and f2[0]["aligned"], r2.stdout + r2.stderr)
one_line_error("detect takes no --one-look", run("detect", "--one-look", tight), "--one-look")
# face crops grin did not make: each of the photo's faces cut out with some background, and the
# same face cut tightly inside its box; --face-crops finds the landmarks inside and reads each as
# the photo's own face
if d["faces"]:
    import cv2
    photo = cv2.imread(SAMPLES[1])
    loose, snug = [], []
    for k, f in enumerate(d["faces"]):
        x, y, w, h = f["box"]
        for lst, m, name in ((loose, 0.35, "loose"), (snug, -0.05, "snug")):
            x0, y0 = max(0, int(x - m * w)), max(0, int(y - m * h))
            x1, y1 = min(photo.shape[1], int(x + w + m * w)), min(photo.shape[0], int(y + h + m * h))
            path = os.path.join(tmp, "%s%d.png" % (name, k))
            cv2.imwrite(path, photo[y0:y1, x0:x1])
            lst.append(path)
    for name, lst in (("with background", loose), ("tight", snug)):
        r = run("classify", "--face-crops", *lst)
        got = [json.loads(l) for l in r.stdout.splitlines()] if r.returncode == 0 else []
        check("classify --face-crops %s: one aligned face per crop" % name,
              len(got) == len(lst) and all(len(g["faces"]) == 1 and g["faces"][0]["aligned"] for g in got),
              r.stdout + r.stderr)
        check("classify --face-crops %s: the photo's decisions and near its probabilities" % name,
              len(got) == len(d["faces"]) and all((g["faces"][0]["smile"] >= 0.5) == (f["smile"] >= 0.5) and
                                                    abs(g["faces"][0]["smile"] - f["smile"]) < 0.25
                                                    for g, f in zip(got, d["faces"])),
              str([g["faces"][0]["smile"] for g in got]) + " vs " + str([f["smile"] for f in d["faces"]]))
    one_line_error("classify: --crops and --face-crops", run("classify", "--crops", "--face-crops", loose[0]), "not both")
    # eval --face-crops and --by: per-group lines, intervals around the figures
    fc = os.path.join(tmp, "facecrops.csv")
    with open(fc, "w") as f:
        f.write("file,smile,kind\n" + "".join("%s,%d,%s\n" % (p, k % 2, n) for n, lst in (("loose", loose), ("snug", snug))
                                               for k, p in enumerate(lst)))
    r = run("eval", "--face-crops", "--labels", fc, "--by", "kind")
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    groups = {l["group"]: l for l in lines if "group" in l}
    check("eval --by: one line per group, then the whole", r.returncode == 0 and set(groups) == {"loose", "snug"}
          and all(g["n"] == len(loose) for g in groups.values()) and lines[-1]["n"] == 2 * len(loose)
          and lines[-1]["missed"] == 0, r.stdout + r.stderr)
    check("eval: 95% intervals hold the figures", all(l["acc_ci"][0] <= l["acc"] <= l["acc_ci"][1] for l in lines)
          and lines[-1]["auc_ci"][0] <= lines[-1]["auc"] <= lines[-1]["auc_ci"][1], r.stdout)
    one_line_error("eval --by: no such column", run("eval", "--face-crops", "--labels", fc, "--by", "pose"), "'pose'")
# grin plot: accuracy against time as a PNG
pc = os.path.join(tmp, "curve.csv")
with open(pc, "w") as f:
    f.write("name,ms,acc,alpha\na,0.05,0.91,0.25\nb,0.2,0.93,0.5\nc,0.1,0.92,0.25\n")
png = os.path.join(tmp, "curve.png")
r = run("plot", pc, "--x", "ms", "--y", "acc", "--label", "name", "--series", "alpha", "--xlog", "--out", png)
check("plot writes a PNG", r.returncode == 0 and open(png, "rb").read(4) == b"\x89PNG", r.stderr)
one_line_error("plot: no such column", run("plot", pc, "--x", "ms", "--y", "auc", "--out", png), "'auc'")
one_line_error("plot: output is the input", run("plot", pc, "--x", "ms", "--y", "acc", "--out", pc), "is the CSV")
r = run("model", "info", "--alpha", "1", "--input", "224")
check("model info arch", r.returncode == 0 and json.loads(r.stdout)["multiply_adds"] > 560000000, r.stdout)
# models without training: init, export to ONNX, classify ready crops
um = os.path.join(tmp, "u.grinnet")
r = run("model", "init", "--alpha", "0.25", "--input", "48", "--out", um)
check("model init", r.returncode == 0 and os.path.exists(um), r.stderr)
r = run("export", "--onnx", os.path.join(tmp, "u.onnx"), "--model", um)
check("export --onnx", r.returncode == 0 and os.path.getsize(os.path.join(tmp, "u.onnx")) > 1000, r.stderr)
one_line_error("export: unwritable path", run("export", "--onnx", "/no/dir/u.onnx", "--model", um), "/no/dir/u.onnx")
one_line_error("export: no --onnx", run("export", "--model", um), "--onnx")
one_line_error("export: not a model", run("export", "--onnx", os.path.join(tmp, "v.onnx"), "--model", SAMPLES[0]), SAMPLES[0])
# a batch of crops gives what one crop at a time gives
crops = []
for i in range(3):
    cp = os.path.join(tmp, "crop%d.pgm" % i)
    with open(cp, "wb") as f:
        f.write(b"P5 48 48 255\n" + bytes((x * (i + 3) + y * 7) % 256 for y in range(48) for x in range(48)))
    crops.append(cp)
r = run("classify", "--crops", "--model", um, *crops)
one = [run("classify", "--crops", "--model", um, cp).stdout.strip() for cp in crops]
check("classify --crops: batch equals one by one", r.returncode == 0 and r.stdout.strip().splitlines() == one, r.stdout + str(one))
one_line_error("classify --crops: wrong size", run("classify", "--crops", "--model", um, SAMPLES[0]), "48x48")
one_line_error("model init: no --out", run("model", "init", "--alpha", "0.25"), "--out")
one_line_error("train: missing csv", run("train", "--labels", "/no/x.csv", "--out", os.path.join(tmp, "x.grinnet")), "/no/x.csv")
one_line_error("align: missing csv", run("align", "--labels", "/no/x.csv", "--out", tmp), "/no/x.csv")

# an output that is an input is refused, and the input is left whole
import stat as _stat
mcopy = os.path.join(tmp, "same.grinlmk")
run("convert-landmarks", TINY, mcopy)
size = os.path.getsize(mcopy)
one_line_error("convert-landmarks onto its input", run("convert-landmarks", "--q16", mcopy, mcopy), "same file")
check("convert-landmarks: the input is whole", os.path.getsize(mcopy) == size)
one_line_error("export onto the model", run("export", "--onnx", um, "--model", um), "same file")
check("export: the model still loads", run("model", "info", "--model", um).returncode == 0)
one_line_error("quantize onto the model", run("quantize", "--model", um, "--calib", um, "--out", um), "same file")
# a 1 KB model whose header claims alpha 4 at 1024 px is refused before that network is built
import struct
hdr = bytearray(open(os.path.join(ROOT, "models/face_check.grinnet"), "rb").read()[:1024])
struct.pack_into("<I", hdr, 20, 1024)
struct.pack_into("<f", hdr, 32, 4.0)
struct.pack_into("<I", hdr, 8, 2)  # version 2: no checksum to stop it first
big = os.path.join(tmp, "big.grinnet")
open(big, "wb").write(bytes(hdr))
one_line_error("model: a small file claiming a huge network", run("model", "info", "--model", big), "truncated model")

# a failed write removes only grin's own temporary file: a device node given as the output stays
dev = os.path.join(tmp, "full")
try:
    os.mknod(dev, 0o666 | _stat.S_IFCHR, os.makedev(1, 7))  # /dev/full: every write fails
except (PermissionError, OSError):
    dev = None
if dev:
    one_line_error("convert-landmarks to a full device", run("convert-landmarks", TINY, dev), "full")
    check("the device node is still there", os.path.exists(dev) and _stat.S_ISCHR(os.stat(dev).st_mode))
before = set(os.listdir(tmp))
r = run("convert-landmarks", TINY, os.path.join(tmp, "nodir", "x.grinlmk"))
check("a failed write leaves nothing behind", r.returncode != 0 and set(os.listdir(tmp)) == before, r.stderr)
r = run("convert-landmarks", TINY, mcopy)
check("an output replaced whole, no temporary files left", r.returncode == 0 and
      not [f for f in os.listdir(tmp) if f.startswith(".same.grinlmk")], os.listdir(tmp))

# face-api.js's expression network imported as a starting point for fine-tuning: the model it
# writes classifies; a damaged manifest or weight file is named in a one-line error
FA = os.path.join(ROOT, "third_party", "face-api")
FAM = os.path.join(FA, "face_expression_model-weights_manifest.json")
imp = os.path.join(tmp, "fa.grinnet")
r = run("import", "--faceapi", FAM, "--out", imp, "--input", "33", "--gray")
check("import: writes a model", r.returncode == 0 and os.path.getsize(imp) > 600000
      and "33x33x1" in r.stderr, r.stderr)
r = run("classify", "--model", imp, SAMPLES[0])
probs = [f["smile"] for f in json.loads(r.stdout)["faces"]] if r.returncode == 0 else []
check("import: the imported network classifies", len(probs) == 2 and all(0 <= p <= 1 for p in probs), r.stdout + r.stderr)
r = run("train", "--help")
check("train --help lists dense4", "dense4" in r.stdout, r.stdout)
fad = os.path.join(tmp, "fa")
os.makedirs(fad, exist_ok=True)
with open(FAM) as f:
    manifest = f.read()
with open(os.path.join(FA, "face_expression_model.bin"), "rb") as f:
    weights = f.read()
def fa_case(name, man, bin_bytes, needle):
    with open(os.path.join(fad, "m.json"), "w") as f:
        f.write(man)
    with open(os.path.join(fad, "face_expression_model.bin"), "wb") as f:
        f.write(bin_bytes)
    one_line_error("import: " + name, run("import", "--faceapi", os.path.join(fad, "m.json"), "--out",
                                          os.path.join(fad, "o.grinnet")), needle)
    check("import: " + name + ": no output", not os.path.exists(os.path.join(fad, "o.grinnet")))
fa_case("truncated weights", manifest, weights[:1000], "end inside weight")
fa_case("weights too long", manifest, weights + b"x", "bytes of weight files")
fa_case("not JSON", manifest[:-3], weights, "not a JSON weights manifest")
fa_case("outside its folder", manifest.replace("face_expression_model.bin", "../face_expression_model.bin"), weights,
        "refused")
fa_case("another network", manifest.replace("dense0/conv0/filters", "dense0/conv0/filterz"), weights,
        "not face-api.js's face expression model")
# dlib's face-recognition ResNet (face-api.js's copy) as a teacher: it imports at any size, runs
# through classify and eval on the training engine (the fast engine can't run its graph), and has
# no 8-bit form
FRM = os.path.join(FA, "face_recognition_model-weights_manifest.json")
frimp = os.path.join(tmp, "fr.grinnet")
r = run("import", "--facerec", FRM, "--out", frimp, "--input", "103", "--gray")
check("import --facerec: writes a model", r.returncode == 0 and os.path.getsize(frimp) > 20000000
      and "103x103x1" in r.stderr and "face recognition" in r.stderr, r.stderr)
r = run("classify", "--model", frimp, SAMPLES[0])
probs = [f["smile"] for f in json.loads(r.stdout)["faces"]] if r.returncode == 0 else []
check("import --facerec: the imported network classifies", len(probs) == 2 and all(0 <= p <= 1 for p in probs),
      r.stdout + r.stderr)
ALIGNED_CSV = os.path.join(tmp, "aligned", "labels.csv")  # made above when dlib's model is here
if os.path.exists(ALIGNED_CSV):
    r = run("eval", "--aligned", "--model", frimp, "--labels", ALIGNED_CSV)
    last = json.loads(r.stdout.splitlines()[-1]) if r.returncode == 0 else {}
    check("import --facerec: eval --aligned runs it", last.get("n") == 2, r.stdout + r.stderr)
    r = run("train", "--labels", ALIGNED_CSV, "--input", "32", "--alpha", "0.25", "--gray", "--epochs", "1",
            "--batch", "2", "--teacher", frimp, "--out", os.path.join(tmp, "frs.grinnet"))
    check("import --facerec: a teacher for another network", r.returncode == 0 and "teacher agree" in r.stderr,
          r.stdout + r.stderr)
    one_line_error("import --facerec: quantize refuses", run("quantize", "--model", frimp, "--calib", ALIGNED_CSV,
                   "--out", os.path.join(tmp, "frq.grinnet")), "8-bit")
one_line_error("import: --facerec on the expression manifest", run("import", "--facerec", FAM, "--out",
               os.path.join(tmp, "frx.grinnet")), "not face-api.js's face recognition model")
one_line_error("import: --faceapi and --facerec together", run("import", "--faceapi", FAM, "--facerec", FRM,
               "--out", os.path.join(tmp, "frx.grinnet")), "one --faceapi or --facerec")
one_line_error("import --facerec: a size too small", run("import", "--facerec", FRM, "--input", "102", "--out",
               os.path.join(tmp, "frx.grinnet")), "102")
check("import: no model left by the failures", not os.path.exists(os.path.join(tmp, "frx.grinnet")))
one_line_error("import: missing manifest", run("import", "--faceapi", os.path.join(tmp, "none.json"), "--out", imp),
               "none.json")
one_line_error("import: output equal to the manifest", run("import", "--faceapi", FAM, "--out", FAM), "manifest")

# the commands that are clients of the public API (README's layout table says which) include no
# internal header and name no internal symbol
PUBLIC_ONLY = ["main.c", "cli_util.c", "cli.h", "cmd_run.c", "cmd_detect.c", "cmd_landmarks.c", "cmd_align.c",
               "cmd_bench.c", "cmd_classify.c", "cmd_plot.c", "labels.c", "display.h", "display_sdl.c",
               "display_none.c"]
for name in PUBLIC_ONLY:
    with open(os.path.join(ROOT, "tools", "grin", name)) as f:
        src = f.read()
    code_only = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    bad = re.findall(r'grin__\w+|#include "(?:core|io|detect|align|nn|pipeline|video)/[^"]*"', code_only)
    check("public API only: " + name, not bad, str(bad[:5]))

# where the smile model is found: GRIN_MODEL_DIR first; an installed prefix, even moved elsewhere,
# reads its own share/grin
r = run("--version", env=dict(os.environ, GRIN_MODEL_DIR=os.path.join(tmp, "nomodels")))
check("--version names the model GRIN_MODEL_DIR points at", r.returncode == 0 and
      "smile model: " + os.path.join(tmp, "nomodels", "smile.grinnet") in r.stdout, r.stdout)
one_line_error("classify: GRIN_MODEL_DIR without the model", run("classify", SAMPLES[0],
               env=dict(os.environ, GRIN_MODEL_DIR=os.path.join(tmp, "nomodels"))), os.path.join(tmp, "nomodels"))
build_dir = os.path.dirname(os.path.abspath(GRIN))
if os.path.exists(os.path.join(build_dir, "cmake_install.cmake")) and shutil.which("cmake"):
    pfx = os.path.join(tmp, "prefix")
    r2 = subprocess.run(["cmake", "--install", build_dir, "--prefix", pfx], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
    moved = os.path.join(tmp, "moved")
    if r2.returncode == 0:
        os.rename(pfx, moved)
    exe = os.path.join(moved, "bin", "grin")
    env = {k: v for k, v in os.environ.items() if k != "GRIN_MODEL_DIR"}
    r = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/", env=env)
    check("installed and moved: the prefix's own model", r2.returncode == 0 and r.returncode == 0 and
          "smile model: " + os.path.join(moved, "share", "grin", "smile.grinnet") in r.stdout, r2.stderr + r.stdout + r.stderr)
    r = subprocess.run([exe, "classify", SAMPLES[0]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/", env=env)
    check("installed and moved: classify works", r.returncode == 0 and len(json.loads(r.stdout)["faces"]) == 2,
          r.stdout + r.stderr)
    # an embedding project finds the installed libraries with find_package(grin) and with
    # pkg-config, and runs on the core library alone
    libdir = [d for d in ("lib", "lib64", "lib/x86_64-linux-gnu") if os.path.isdir(os.path.join(moved, d, "cmake", "grin"))]
    check("installed: a CMake package config", bool(libdir), os.listdir(moved))
    if libdir:
        proj = os.path.join(tmp, "embed")
        os.makedirs(proj, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "tests", "embed", "faces_only.c"), proj)
        with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.18)\nproject(embed C)\nfind_package(grin REQUIRED)\n"
                    "add_executable(faces_only faces_only.c)\ntarget_link_libraries(faces_only PRIVATE grin::grin)\n"
                    "if(NOT TARGET grin::grin-video OR NOT TARGET grin::grin-train)\n"
                    "  message(FATAL_ERROR \"grin::grin-video and grin::grin-train missing\")\nendif()\n")
        # a sanitizer build's libraries need the program built with the same runtime first
        libgrin = os.path.join(moved, libdir[0], "libgrin.so")
        san = [] if "libasan" not in subprocess.run(["ldd", libgrin], capture_output=True, text=True).stdout else \
            ["-DCMAKE_C_FLAGS=-fsanitize=address,undefined"]
        r = subprocess.run(["cmake", "-S", proj, "-B", os.path.join(proj, "b"), "-DCMAKE_PREFIX_PATH=" + moved] + san,
                           capture_output=True, text=True)
        r2 = subprocess.run(["cmake", "--build", os.path.join(proj, "b")], capture_output=True, text=True)
        fo = os.path.join(proj, "b", "faces_only")
        r3 = subprocess.run([fo, SAMPLES[0]], capture_output=True, text=True, env=env) if r2.returncode == 0 else r2
        check("installed: find_package(grin) builds and runs a program on grin::grin",
              r.returncode == 0 and r2.returncode == 0 and r3.returncode == 0 and len(r3.stdout.splitlines()) == 2,
              r.stdout + r.stderr + r2.stdout + r2.stderr + r3.stderr)
        pc = dict(env, PKG_CONFIG_PATH=":".join(os.path.join(moved, d, "pkgconfig") for d in libdir))
        r = subprocess.run(["pkg-config", "--libs", "--cflags", "grin", "grin-video", "grin-train"],
                           capture_output=True, text=True, env=pc)
        check("installed: pkg-config grin, grin-video, grin-train", r.returncode == 0 and "-lgrin-video" in r.stdout
              and "-lgrin-train" in r.stdout and moved in r.stdout, r.stdout + r.stderr)

print("%d passed, %d failed" % (passed, failed))
if failed:
    print("the test's files are kept in " + tmp)
else:
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failed else 0)
