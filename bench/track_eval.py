#!/usr/bin/env python3
"""track_eval.py — scores grin run's events on a labelled clip (bench/make_clip.py's gt.csv) the
way multi-object tracking benchmarks count (CLEAR-MOT style):

  counted faces   ground-truth faces at least 40 px, at least 70% visible, turned at most about
                  45 degrees (MTFL pose 2-4); the others are "don't care": a box on them is
                  neither found nor false
  recall          counted face-frames with a box on them (IoU >= 0.3, or the box's centre inside
                  the face and its size within 0.5-2x)
  false boxes     boxes on no face at all, per frame
  id switches     a counted face's box carries another id than on the last frame it was counted
                  and found (id_switches_any_match: over every match, don't-care faces included)
  fragmented      a counted face's track broken and resumed (found, lost while counted, found)
  smile accuracy  on found face-frames with a decision (smile not null), smiling vs the label;
                  frames without a decision are counted apart

  /usr/bin/python3 bench/track_eval.py gt.csv events.jsonl [--photos photo_probs.csv]

--photos: id,prob of each person's photo through grin's own photo path (bench/clip_bench.sh
writes it), for the smile accuracy the same faces get as photos, weighted by the same frames.
Prints one JSON line.
"""
import argparse
import collections
import csv
import json
import sys


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    i = (x1 - x0) * (y1 - y0)
    return i / (a[2] * a[3] + b[2] * b[3] - i)


def on_face(box, g):
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    r = box[2] / max(g[2], 1)
    return iou(box, g) >= 0.3 or (g[0] < cx < g[0] + g[2] and g[1] < cy < g[1] + g[3] and 0.5 <= r <= 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gt")
    ap.add_argument("events")
    ap.add_argument("--photos")
    ap.add_argument("--detail", action="store_true",
                    help="also list (on stderr) each id switch and each run of missed counted frames")
    a = ap.parse_args()
    detail = []
    gt = collections.defaultdict(list)
    nframes = 0
    for r in csv.DictReader(open(a.gt)):
        f = int(r["frame"])
        box = [int(r["x"]), int(r["y"]), int(r["w"]), int(r["h"])]
        counted = box[2] >= 40 and float(r["visible"]) >= 0.7 and r["pose"] in ("2", "3", "4")
        gt[f].append(dict(id=int(r["id"]), box=box, smile=int(r["smile"]), counted=counted))
    preds = {}
    for line in open(a.events):
        e = json.loads(line)
        if "faces" in e:
            preds[e["frame"]] = e["faces"]
    nframes = max(max(preds) if preds else 0, max(gt) if gt else 0) + 1
    photo = {}
    if a.photos:
        for r in csv.DictReader(open(a.photos)):
            photo[int(r["id"])] = float(r["prob"])
    counted = found = false_boxes = switches = fragments = 0
    dec = correct = undecided = 0
    photo_n = photo_correct = 0
    last_id, last_any, switches_any = {}, {}, 0
    was_found = {}
    ids_per_face = collections.defaultdict(set)
    for f in range(nframes):
        faces, boxes = gt.get(f, []), preds.get(f, [])
        # greedy matching, counted faces first (a face mostly hidden behind another must not take
        # the box of the face in front), then best overlap first
        pairs = sorted(((g["counted"], iou(p["box"], g["box"]), i, j) for i, p in enumerate(boxes)
                        for j, g in enumerate(faces) if on_face(p["box"], g["box"])), reverse=True)
        used_p, used_g, match = set(), set(), {}
        for _, _, i, j in pairs:
            if i in used_p or j in used_g:
                continue
            used_p.add(i)
            used_g.add(j)
            match[j] = i
        false_boxes += sum(1 for i in range(len(boxes)) if i not in used_p)
        for j, g in enumerate(faces):
            i = match.get(j)
            if i is not None:
                pid = boxes[i]["id"]
                if g["id"] in last_any and last_any[g["id"]] != pid:
                    switches_any += 1
                last_any[g["id"]] = pid
                if g["counted"]:
                    if g["id"] in last_id and last_id[g["id"]] != pid:
                        switches += 1
                        detail.append((g["id"], f, "switch", f"id {last_id[g['id']]} -> {pid}, box {g['box']}"))
                    last_id[g["id"]] = pid
                ids_per_face[g["id"]].add(pid)
            if not g["counted"]:
                continue
            counted += 1
            if i is None:
                if was_found.get(g["id"]):
                    was_found[g["id"]] = "lost"
                detail.append((g["id"], f, "miss", f"box {g['box']}"))
                continue
            found += 1
            if was_found.get(g["id"]) == "lost":
                fragments += 1
            was_found[g["id"]] = True
            p = boxes[i]
            if p.get("smile") is None:
                undecided += 1
            else:
                dec += 1
                correct += int(bool(p["smiling"]) == bool(g["smile"]))
                if g["id"] in photo:
                    photo_n += 1
                    photo_correct += int((photo[g["id"]] >= 0.5) == bool(g["smile"]))
    out = {
        "frames": nframes,
        "counted_face_frames": counted,
        "recall": round(found / counted, 4) if counted else None,
        "false_boxes_per_frame": round(false_boxes / nframes, 4) if nframes else None,
        "id_switches": switches,
        "id_switches_per_1000": round(1000 * switches / found, 2) if found else None,
        "id_switches_any_match": switches_any,
        "fragmented": fragments,
        "ids_per_person": round(sum(len(v) for v in ids_per_face.values()) / max(len(ids_per_face), 1), 2),
        "decided": dec,
        "undecided": undecided,
        "smile_acc": round(correct / dec, 4) if dec else None,
    }
    if photo:
        out["photo_smile_acc_same_frames"] = round(photo_correct / photo_n, 4) if photo_n else None
    print(json.dumps(out))
    if a.detail:  # misses in runs of consecutive frames, one line a run
        detail.sort()
        k = 0
        while k < len(detail):
            pid, f0, kind, what = detail[k]
            n = 1
            while (k + n < len(detail) and kind == "miss" and detail[k + n][0] == pid and detail[k + n][2] == "miss"
                   and detail[k + n][1] == f0 + n):
                n += 1
            print(f"person {pid} frame {f0}" + (f"-{f0 + n - 1}" if n > 1 else "") + f": {kind} {what}", file=sys.stderr)
            k += n


if __name__ == "__main__":
    main()
