#!/usr/bin/python3
"""The core library alone serves a program that finds faces and reads smiles: faces_only (built
against libgrin.so, tests/embed/faces_only.c) gives what `grin classify` gives on the same photo,
and loads at most 15 shared libraries (no FFmpeg, SDL, OpenBLAS or the other grin libraries).

    /usr/bin/python3 tests/test_embed.py build/tests/faces_only build/grin
"""
import json
import os
import subprocess
import sys

exe, grin = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
photo = os.path.join(ROOT, "data", "samples", "2008_001009.jpg")
failed = 0


def check(name, cond, detail=""):
    global failed
    if not cond:
        failed += 1
        print("FAIL %s %s" % (name, detail))


r = subprocess.run([exe, photo], capture_output=True, text=True)
rows = [l.split() for l in r.stdout.splitlines()]
c = subprocess.run([grin, "classify", photo], capture_output=True, text=True)
want = json.loads(c.stdout)["faces"] if c.returncode == 0 else []
check("faces_only runs", r.returncode == 0 and len(rows) == len(want) == 2, r.stdout + r.stderr + c.stderr)
for row, face in zip(rows, want):
    box = [int(v) for v in row[:4]]
    check("same box as grin classify", box == face["box"], (row, face))
    check("same smile as grin classify", abs(float(row[4]) - face["smile"]) <= 5.1e-5, (row, face))  # 4 decimals
ldd = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
libs = [l.split()[0] for l in ldd.splitlines() if l.strip()]
check("at most 15 shared libraries", len(libs) <= 15, "%d: %s" % (len(libs), " ".join(libs)))
for bad in ("libav", "libSDL", "libopenblas", "libgrin-video", "libgrin-train", "libX11", "libpulse"):
    check("no " + bad, not any(bad in l for l in libs), " ".join(libs))
print("faces_only: %d shared libraries: %s" % (len(libs), " ".join(libs)))
sys.exit(1 if failed else 0)
