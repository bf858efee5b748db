#!/usr/bin/env python3
"""Independent twin of src/Lathe/Vision/Data/ImageAttributes.cs: the attributes Lathe's captions describe, computed
from each Fashion-MNIST image's pixels with numpy, straight from the gzip IDX files of Debian's dataset-fashion-mnist.

  object mask  pixels > 32 (of 0..255)
  brightness   mean of the masked pixels:                dark < 146 <= mid-tone < 185 <= light
  size         number of masked pixels (of 784):          small < 280 <= medium < 419 <= large
  shape        bounding box height / width of the mask:   wide < 0.93 <= square < 1.40 <= tall
  texture      mean |p[y,x+1] - p[y,x]| over horizontally adjacent pairs both in the mask: plain < 28 <= patterned

All comparisons are done in integers (sum < cut * count), so the twin agrees bit for bit. The cut points are the
training set's terciles (texture: its median), rounded — brightness and texture to whole grey levels, size to whole
pixels, the aspect ratio to hundredths; `--derive` recomputes them.

  /usr/bin/python3 scripts/data/fashion_attributes.py            # writes the fixture the C# test reads
  /usr/bin/python3 scripts/data/fashion_attributes.py --derive   # prints the training set's terciles
"""
import argparse
import gzip
import json
import os

import numpy as np

MASK = 32
BRIGHT = (146, 185)
SIZE = (280, 419)
ASPECT_HUNDREDTHS = (93, 140)
TEXTURE = 28


def read_idx(path):
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    assert raw[0] == 0 and raw[1] == 0 and raw[2] == 8, path
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * rank).reshape(dims)


def measures(images):
    """Per image: masked pixel count, their sum, bounding box height and width, gradient sum and pair count."""
    x = images.astype(np.int64)
    m = x > MASK
    count = m.sum((1, 2))
    total = (x * m).sum((1, 2))
    rows, cols = m.any(2), m.any(1)
    n, side_h, side_w = m.shape

    def extent(any_along, side):
        idx = np.arange(side)
        first = np.where(any_along, idx, side).min(1)
        last = np.where(any_along, idx, -1).max(1)
        return np.where(any_along.any(1), last - first + 1, 0)

    h, w = extent(rows, side_h), extent(cols, side_w)
    pairs_mask = m[:, :, 1:] & m[:, :, :-1]
    grad = (np.abs(x[:, :, 1:] - x[:, :, :-1]) * pairs_mask).sum((1, 2))
    pairs = pairs_mask.sum((1, 2))
    return count, total, h, w, grad, pairs


def attributes(count, total, h, w, grad, pairs):
    bright = np.where(total < BRIGHT[0] * count, 0, np.where(total < BRIGHT[1] * count, 1, 2))
    size = np.where(count < SIZE[0], 0, np.where(count < SIZE[1], 1, 2))
    shape = np.where(100 * h < ASPECT_HUNDREDTHS[0] * w, 0, np.where(100 * h < ASPECT_HUNDREDTHS[1] * w, 1, 2))
    texture = np.where(grad < TEXTURE * pairs, 0, 1)
    empty = count == 0  # an empty frame: dark, small, square, plain (no Fashion-MNIST image is empty)
    bright, size, shape, texture = (np.where(empty, e, v) for e, v in zip((0, 0, 1, 0), (bright, size, shape, texture)))
    return bright, size, shape, texture


NAMES = {"brightness": ["dark", "mid-tone", "light"], "size": ["small", "medium", "large"],
         "shape": ["wide", "square", "tall"], "texture": ["plain", "patterned"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.environ.get("LATHE_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--derive", action="store_true")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "Lathe.Tests", "Vision", "fixtures", "fashion_attributes.json"))
    a = ap.parse_args()
    if a.derive:
        count, total, h, w, grad, pairs = measures(read_idx(os.path.join(a.dir, "train-images-idx3-ubyte.gz")))
        cuts = [100 / 3, 200 / 3]
        print("brightness terciles", np.percentile(total / np.maximum(count, 1), cuts))
        print("size terciles", np.percentile(count, cuts))
        print("aspect terciles", np.percentile(h / np.maximum(w, 1), cuts))
        print("texture median", np.median(grad / np.maximum(pairs, 1)))
        b, s, sh, t = attributes(count, total, h, w, grad, pairs)
        for name, v in zip(NAMES, (b, s, sh, t)):
            print(name, {NAMES[name][k]: int((v == k).sum()) for k in range(len(NAMES[name]))})
        return
    images = read_idx(os.path.join(a.dir, "t10k-images-idx3-ubyte.gz"))[: a.count]
    labels = read_idx(os.path.join(a.dir, "t10k-labels-idx1-ubyte.gz"))[: a.count]
    ms = measures(images)
    attrs = attributes(*ms)
    rows = []
    for i in range(len(images)):
        rows.append({"index": i, "label": int(labels[i]),
                     "count": int(ms[0][i]), "sum": int(ms[1][i]), "height": int(ms[2][i]), "width": int(ms[3][i]),
                     "gradient_sum": int(ms[4][i]), "pairs": int(ms[5][i]),
                     **{name: NAMES[name][int(v[i])] for name, v in zip(NAMES, attrs)}})
    with open(a.out, "w") as f:
        json.dump({"source": "t10k-images-idx3-ubyte.gz", "images": rows}, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(rows)} images → {a.out}")


if __name__ == "__main__":
    main()
