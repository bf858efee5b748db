#!/usr/bin/env python3
"""The NeRF scene (issue #22): a procedurally defined 3-D scene, ray-traced analytically, seen from cameras on two
rings around it. Writes data/nerf-scene/: train/r_K.png and test/r_K.png (40×40 RGB) and transforms_train.json /
transforms_test.json in NeRF's Blender convention (camera_angle_x; frames of {file_path, transform_matrix}, the
camera-to-world matrix of a camera that looks down its −z axis with +y up; world +z up). The held-out test cameras
sit between the training ones, on a ring of their own elevation, so no test view is a training view.

The scene: a checkered square ground (z = 0, |x|,|y| ≤ 2) with three spheres and an axis-aligned box on it, lit by
one directional light (Lambert shading, ambient 0.25, hard shadows); rays that hit nothing see a white background.
Colours are linear, clipped to [0, 1] and rounded to 8 bits.

Regenerate (byte for byte; numpy float64 and zlib level 9):
    /usr/bin/python3 scripts/gen/nerf_scene.py            # writes data/nerf-scene/
"""
import json
import os
import struct
import sys
import zlib

import numpy as np

W = H = 40
CAMERA_ANGLE_X = 0.6911112070083618      # the Blender scenes' value (39.6°)
RADIUS = 4.0
TARGET = np.array([0.0, 0.0, 0.3])
TRAIN_RINGS = ((20.0, 20, 0.0), (45.0, 20, 9.0))   # (elevation°, count, azimuth offset°)
TEST_RING = (32.0, 8, 22.5)
BACKGROUND = np.array([1.0, 1.0, 1.0])
LIGHT = np.array([-0.6, -0.4, 1.0]) / np.linalg.norm([-0.6, -0.4, 1.0])   # towards the light
AMBIENT = 0.25
GROUND_HALF = 2.0

SPHERES = [  # centre, radius, colour
    (np.array([0.55, 0.35, 0.5]), 0.5, np.array([0.85, 0.2, 0.15])),
    (np.array([-0.7, 0.45, 0.35]), 0.35, np.array([0.2, 0.35, 0.9])),
    (np.array([0.1, -0.85, 0.25]), 0.25, np.array([0.95, 0.85, 0.2])),
]
BOXES = [  # min corner, max corner, colour
    (np.array([-0.95, -0.75, 0.0]), np.array([-0.35, -0.15, 0.6]), np.array([0.2, 0.75, 0.3])),
]


def focal_length(width=W, angle_x=CAMERA_ANGLE_X):
    """Pixels: f = ½W / tan(½ camera_angle_x)."""
    return 0.5 * width / np.tan(0.5 * angle_x)


def look_at(eye, target=TARGET, up=np.array([0.0, 0.0, 1.0])):
    """Camera-to-world (4×4) of a camera at eye looking at target: columns x (right), y (up), z (backwards), eye."""
    back = eye - target
    back = back / np.linalg.norm(back)
    right = np.cross(up, back)
    right = right / np.linalg.norm(right)
    cam_up = np.cross(back, right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, cam_up, back, eye
    return m


def ring(elevation_deg, count, offset_deg):
    mats = []
    for k in range(count):
        az = np.radians(offset_deg + 360.0 * k / count)
        el = np.radians(elevation_deg)
        eye = TARGET + RADIUS * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        mats.append(look_at(eye))
    return mats


def pixel_rays(c2w, width=W, height=H, angle_x=CAMERA_ANGLE_X):
    """Rays through the pixel centres, row-major (row j from the top, column i from the left): origin (H·W, 3) and unit
    direction (H·W, 3). Camera direction ((i + ½ − W/2)/f, −(j + ½ − H/2)/f, −1), rotated by the matrix's 3×3 part."""
    f = focal_length(width, angle_x)
    i, j = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64), indexing="xy")
    d = np.stack([(i + 0.5 - 0.5 * width) / f, -(j + 0.5 - 0.5 * height) / f, -np.ones_like(i)], axis=-1).reshape(-1, 3)
    d = d @ c2w[:3, :3].T
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    o = np.broadcast_to(c2w[:3, 3], d.shape).copy()
    return o, d


def intersect(o, d):
    """Nearest hit along each ray: distance t (inf when none), surface normal and albedo."""
    n = o.shape[0]
    t = np.full(n, np.inf)
    normal = np.zeros((n, 3))
    albedo = np.zeros((n, 3))

    # ground plane z = 0 inside the square, checkered in 0.5-unit tiles
    with np.errstate(divide="ignore", invalid="ignore"):
        tg = -o[:, 2] / d[:, 2]
    p = o + tg[:, None] * d
    hit = (tg > 1e-6) & (np.abs(p[:, 0]) <= GROUND_HALF) & (np.abs(p[:, 1]) <= GROUND_HALF) & (tg < t)
    checker = (np.floor(p[:, 0] / 0.5) + np.floor(p[:, 1] / 0.5)) % 2
    t = np.where(hit, tg, t)
    normal[hit] = [0.0, 0.0, 1.0]
    albedo[hit] = np.where(checker[hit, None] == 0, [0.8, 0.8, 0.75], [0.45, 0.45, 0.5])

    for centre, radius, colour in SPHERES:
        oc = o - centre
        b = np.sum(oc * d, axis=-1)
        c = np.sum(oc * oc, axis=-1) - radius * radius
        disc = b * b - c
        with np.errstate(invalid="ignore"):
            ts = -b - np.sqrt(disc)
        hit = (disc > 0) & (ts > 1e-6) & (ts < t)
        t = np.where(hit, ts, t)
        normal[hit] = (o[hit] + ts[hit, None] * d[hit] - centre) / radius
        albedo[hit] = colour

    for lo, hi, colour in BOXES:
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (lo - o) / d
            t2 = (hi - o) / d
        tmin = np.minimum(t1, t2)
        tmax = np.maximum(t1, t2)
        tn = np.max(tmin, axis=-1)
        tf = np.min(tmax, axis=-1)
        hit = (tn <= tf) & (tn > 1e-6) & (tn < t)
        axis = np.argmax(tmin, axis=-1)
        t = np.where(hit, tn, t)
        nrm = np.zeros((n, 3))
        nrm[np.arange(n), axis] = -np.sign(d[np.arange(n), axis])
        normal[hit] = nrm[hit]
        albedo[hit] = colour
    return t, normal, albedo


def shade(o, d):
    t, normal, albedo = intersect(o, d)
    hit = np.isfinite(t)
    colour = np.broadcast_to(BACKGROUND, o.shape).copy()
    if hit.any():
        p = o[hit] + t[hit, None] * d[hit]
        lambert = np.clip(normal[hit] @ LIGHT, 0.0, None)
        ts, _, _ = intersect(p + 1e-4 * normal[hit], np.broadcast_to(LIGHT, p.shape).copy())
        lit = ~np.isfinite(ts)
        colour[hit] = albedo[hit] * (AMBIENT + (1.0 - AMBIENT) * lambert * lit)[:, None]
    return np.clip(colour, 0.0, 1.0)


def render(c2w):
    o, d = pixel_rays(c2w)
    rgb = shade(o, d).reshape(H, W, 3)
    return np.floor(rgb * 255.0 + 0.5).astype(np.uint8)


def png_bytes(rgb):
    """An 8-bit RGB PNG: signature, IHDR, one IDAT (filter 0 on each row, zlib level 9), IEND."""
    h, w, _ = rgb.shape

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def cameras():
    train = [m for el, n, off in TRAIN_RINGS for m in ring(el, n, off)]
    return train, ring(*TEST_RING)


def write_split(root, split, mats):
    os.makedirs(os.path.join(root, split), exist_ok=True)
    frames = []
    for k, m in enumerate(mats):
        with open(os.path.join(root, split, f"r_{k}.png"), "wb") as f:
            f.write(png_bytes(render(m)))
        frames.append({"file_path": f"./{split}/r_{k}", "transform_matrix": [[round(float(v), 9) for v in row] for row in m]})
    with open(os.path.join(root, f"transforms_{split}.json"), "w") as f:
        json.dump({"camera_angle_x": CAMERA_ANGLE_X, "frames": frames}, f, indent=1)
        f.write("\n")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "nerf-scene")
    train, test = cameras()
    write_split(root, "train", train)
    write_split(root, "test", test)
    print(f"{root}: {len(train)} train + {len(test)} test views, {W}×{H}")


if __name__ == "__main__":
    main()
