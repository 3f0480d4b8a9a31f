#!/usr/bin/python3
"""End-to-end checks of the grin command line: JSON output, --draw, bench, --version, and the
one-line errors with a non-zero exit on bad input. Usage: test_cli.py PATH/TO/grin"""
import json
import os
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


tmp = tempfile.mkdtemp(prefix="grin-cli-")

r = run("--version")
check("version", r.returncode == 0 and r.stdout.startswith("grin ") and "build" in r.stdout and "cpu:" in r.stdout, r.stdout)

r = run("detect", *SAMPLES, "--draw", os.path.join(tmp, "drawn"))
check("detect rc", r.returncode == 0, r.stderr)
lines = [json.loads(l) for l in r.stdout.splitlines()]
check("detect one line per image", len(lines) == 3)
check("detect json shape", all(set(l) == {"image", "width", "height", "faces"} for l in lines))
check("detect faces", [len(l["faces"]) for l in lines] == [2, 3, 2], str([len(l["faces"]) for l in lines]))
check("detect box keys", all(set(f) == {"x", "y", "w", "h"} for l in lines for f in l["faces"]))
for s in SAMPLES:
    out = os.path.join(tmp, "drawn", os.path.splitext(os.path.basename(s))[0] + ".png")
    check("draw " + out, os.path.exists(out) and open(out, "rb").read(4) == b"\x89PNG")

r = run("detect", "--threads", "2", "--scale-factor", "1.2", "--min-neighbors", "4", "--min-size", "40", SAMPLES[1])
check("detect options", r.returncode == 0 and len(json.loads(r.stdout)["faces"]) >= 1, r.stderr)

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
for name, path, needle in [("missing", "/no/such.jpg", "/no/such.jpg: cannot open"),
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
one_line_error("missing cascade", run("detect", "--cascade", "/no/cascade.xml", SAMPLES[0]), "/no/cascade.xml")
one_line_error("bad scale", run("detect", "--scale-factor", "1", SAMPLES[0]), "--scale-factor")
one_line_error("bad threads", run("detect", "--threads", "x", SAMPLES[0]), "--threads")
one_line_error("unknown option", run("detect", "--frobnicate", SAMPLES[0]), "--frobnicate")
one_line_error("unknown command", run("frobnicate"), "frobnicate")
one_line_error("draw into a file", run("detect", "--draw", SAMPLES[0], SAMPLES[0]), "not a directory")
one_line_error("bench without image", run("bench", "detect"), "--image")

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
