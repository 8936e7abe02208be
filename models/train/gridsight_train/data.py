"""YOLO-format data sets, class mapping, caching and augmentation (numpy + PIL only).

A source folder is either
  DIR/images/{train,val}/*.jpg|png + DIR/labels/{train,val}/*.txt     (explicit splits), or
  DIR/images/*.jpg|png + DIR/labels/*.txt                              (flat: a fixed 10 % is held out).
Label lines: `class cx cy w h`, normalised to the stored pixels (EXIF orientation is NEVER applied).

Class ids are mapped to gridsight's classes by NAME when the folder has a `data.yaml` (names: [...])
or `classes.txt`; names in ALIASES are renamed, anything else is dropped (never learned as a positive).
Without a names file the ids are taken to be gridsight's own (0 street_vending, 1 sidewalk_stacking,
2 illegal_signage).
"""
from __future__ import annotations

import ast
import hashlib
import os
import collections
import concurrent.futures
import re

import numpy as np
from PIL import Image

from . import CLASSES

IMG_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# source class name -> gridsight class name (None = drop the box)
ALIASES = {
    "street_vending": "street_vending", "vending": "street_vending", "vendor": "street_vending",
    "sidewalk_stacking": "sidewalk_stacking", "stacking": "sidewalk_stacking",
    "illegal_signage": "illegal_signage", "signage": "illegal_signage", "sign": "illegal_signage",
    # facade-signs (ITMO) classes: the three sign classes are signage, building parts are dropped
    "signboard": "illegal_signage", "cantilever": "illegal_signage", "win_ad": "illegal_signage",
    "window": None, "arch": None, "door": None,
}


def _read_names(root):
    y = os.path.join(root, "data.yaml")
    if os.path.exists(y):
        for line in open(y, encoding="utf-8"):
            s = line.split("#", 1)[0].strip()
            if s.startswith("names:"):
                v = s[len("names:"):].strip()
                if v.startswith("["):
                    try:
                        return [str(n) for n in ast.literal_eval(v)]
                    except Exception:
                        return [n.strip().strip("'\"") for n in v.strip("[]").split(",")]
                if v.startswith("{"):
                    d = ast.literal_eval(v)
                    return [str(d[k]) for k in sorted(d)]
        # block style: names:\n  0: foo
        names, inblock = {}, False
        for line in open(y, encoding="utf-8"):
            s = line.split("#", 1)[0].rstrip()
            if s.strip().startswith("names:"):
                inblock = True
                continue
            if inblock:
                if s.startswith((" ", "\t")) and ":" in s:
                    k, v = s.strip().split(":", 1)
                    names[int(k)] = v.strip().strip("'\"")
                elif s.strip().startswith("- "):
                    names[len(names)] = s.strip()[2:].strip().strip("'\"")
                elif s.strip():
                    break
        if names:
            return [names[k] for k in sorted(names)]
    t = os.path.join(root, "classes.txt")
    if os.path.exists(t):
        return [l.strip() for l in open(t, encoding="utf-8") if l.strip()]
    return None


def class_map_for(root):
    """source id -> gridsight id (or -1 = drop)."""
    names = _read_names(root)
    if names is None:
        return {i: i for i in range(len(CLASSES))}, "ids taken as gridsight's own"
    m = {}
    for i, n in enumerate(names):
        g = ALIASES.get(n.strip().lower(), "__unknown__")
        m[i] = CLASSES.index(g) if g in CLASSES else -1
    desc = ", ".join(f"{n}->{CLASSES[m[i]] if m[i] >= 0 else 'dropped'}" for i, n in enumerate(names))
    return m, desc


def _group_key(path):
    """frames of one scene/clip share a key (e.g. s001000_f000187 -> s001000), so they stay on one side"""
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[_-]f(rame)?\d+$", "", stem)


def _list_split(root, split):
    """[(image_path, label_path)] for a split ('train', 'val' or 'all')."""
    d = os.path.join(root, "images", split)
    if os.path.isdir(d):
        imgs = sorted(os.path.join(d, f) for f in os.listdir(d) if f.lower().endswith(IMG_EXT))
        lab = lambda p: os.path.join(root, "labels", split, os.path.splitext(os.path.basename(p))[0] + ".txt")
        return [(p, lab(p)) for p in imgs]
    d = os.path.join(root, "images")
    if not os.path.isdir(d):
        raise SystemExit(f"{root}: no images/ folder (expected YOLO layout images/ + labels/)")
    imgs = sorted(os.path.join(d, f) for f in os.listdir(d) if f.lower().endswith(IMG_EXT))
    # flat folder: deterministic 10 % hold-out by hash of the scene key (unless split == 'all')
    held = lambda p: int(hashlib.sha1(_group_key(p).encode()).hexdigest(), 16) % 10 == 0
    if split != "all":
        imgs = [p for p in imgs if held(p) == (split == "val")]
    lab = lambda p: os.path.join(root, "labels", os.path.splitext(os.path.basename(p))[0] + ".txt")
    return [(p, lab(p)) for p in imgs]


def read_labels(path, cmap):
    """-> boxes [K, 4] normalised xyxy, labels [K]"""
    boxes, labels = [], []
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            v = line.split()
            if len(v) < 5:
                continue
            c = cmap.get(int(float(v[0])), -1)
            if c < 0:
                continue
            cx, cy, w, h = map(float, v[1:5])
            boxes.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
            labels.append(c)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int32)


class Sample:
    __slots__ = ("path", "img", "boxes", "labels", "orig_size", "source")

    def __init__(self, path, img, boxes, labels, orig_size, source):
        self.path, self.img, self.boxes, self.labels, self.orig_size, self.source = path, img, boxes, labels, orig_size, source


def load_split(root, split, cache_long, log=print):
    """Loads a split into memory, downscaled so the long side is <= cache_long. Boxes in cached pixels."""
    cmap, desc = class_map_for(root)
    items = _list_split(root, split)

    def load(item):
        p, lp = item
        im = Image.open(p)          # no exif_transpose: labels refer to stored pixels
        im = im.convert("RGB")
        W, H = im.size
        s = min(1.0, cache_long / max(W, H))
        if s < 1.0:
            im = im.resize((max(1, round(W * s)), max(1, round(H * s))), Image.BILINEAR)
        w, h = im.size
        b, l = read_labels(lp, cmap)
        b = b * np.array([w, h, w, h], np.float32)
        return Sample(p, np.asarray(im), b, l, (W, H), root)

    # PIL decodes without the GIL: threads load in parallel, in the listed order
    with concurrent.futures.ThreadPoolExecutor(min(16, os.cpu_count() or 1)) as ex:
        out = list(ex.map(load, items))
    nbox = np.bincount(np.concatenate([s.labels for s in out]) if out else np.zeros(0, int), minlength=len(CLASSES))
    log(f"  {root} [{split}]: {len(out)} images, boxes per class {dict(zip(CLASSES, nbox.tolist()))} ({desc})")
    return out


# ----------------------------------------------------------------------------- augmentation

# The colour jitter's largest hue rotation by default, radians (about 17 degrees).
HUE_DEFAULT = 0.3


def _place(canvas, img, boxes, scale, ox, oy):
    """Paste img scaled by `scale` with its top-left at (ox, oy) on canvas (clipped). Returns boxes moved."""
    CH, CW = canvas.shape[:2]
    h, w = img.shape[:2]
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    # crop the visible part in source coordinates first, so we never resize more than needed
    x0, y0 = max(0, -ox), max(0, -oy)
    x1, y1 = min(nw, CW - ox), min(nh, CH - oy)
    if x1 > x0 and y1 > y0:
        sx0, sy0 = int(x0 / scale), int(y0 / scale)
        sx1, sy1 = min(w, int(np.ceil(x1 / scale)) + 1), min(h, int(np.ceil(y1 / scale)) + 1)
        crop = Image.fromarray(img[sy0:sy1, sx0:sx1])
        cw, ch = max(1, int(round((sx1 - sx0) * scale))), max(1, int(round((sy1 - sy0) * scale)))
        crop = np.asarray(crop.resize((cw, ch), Image.BILINEAR, reducing_gap=2.0))
        dx, dy = ox + int(round(sx0 * scale)), oy + int(round(sy0 * scale))
        cx0, cy0 = max(0, dx), max(0, dy)
        cx1, cy1 = min(CW, dx + cw), min(CH, dy + ch)
        if cx1 > cx0 and cy1 > cy0:
            canvas[cy0:cy1, cx0:cx1] = crop[cy0 - dy:cy1 - dy, cx0 - dx:cx1 - dx]
    return boxes * scale + np.array([ox, oy, ox, oy], np.float32)


def _clip_boxes(boxes, labels, x0, y0, x1, y1, min_vis=0.35, min_px=2.0):
    if len(boxes) == 0:
        return boxes, labels
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    c = boxes.copy()
    c[:, [0, 2]] = np.clip(c[:, [0, 2]], x0, x1)
    c[:, [1, 3]] = np.clip(c[:, [1, 3]], y0, y1)
    ca = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])
    keep = (ca >= min_vis * np.maximum(area, 1e-6)) & (c[:, 2] - c[:, 0] >= min_px) & (c[:, 3] - c[:, 1] >= min_px)
    return c[keep], labels[keep]


def letterbox(sample, S):
    """Deterministic eval transform: scale to fit S (int = square, or (W, H)), pad bottom/right with grey.

    Returns img, scale."""
    W, H = (S, S) if isinstance(S, int) else S
    img = sample.img
    h, w = img.shape[:2]
    s = min(W / w, H / h)
    canvas = np.full((H, W, 3), 114, np.uint8)
    _place(canvas, img, np.zeros((0, 4), np.float32), s, 0, 0)
    return canvas, s


def augment(samples, idx, rng, S, p_mosaic=0.5, scale_range=(0.6, 1.6), hue=HUE_DEFAULT, hue_share=1.0):
    """One S x S training image (uint8) + boxes (xyxy px) + labels + colour jitter parameters."""
    canvas = np.full((S, S, 3), 114, np.uint8)
    bs, ls = [], []
    if rng.random() < p_mosaic:
        xc, yc = int(rng.uniform(0.3, 0.7) * S), int(rng.uniform(0.3, 0.7) * S)
        picks = [idx] + list(rng.integers(0, len(samples), 3))
        quads = [(0, 0, xc, yc), (xc, 0, S, yc), (0, yc, xc, S), (xc, yc, S, S)]
        for q, (x0, y0, x1, y1) in zip(picks, quads):
            sm = samples[q]
            h, w = sm.img.shape[:2]
            sc = (S / max(w, h)) * rng.uniform(0.45, 1.1)
            nw, nh = w * sc, h * sc
            # random part of the scaled image fills the quadrant
            ox = x0 - int(rng.uniform(0, max(0.0, nw - (x1 - x0))))
            oy = y0 - int(rng.uniform(0, max(0.0, nh - (y1 - y0))))
            # paste into the quadrant alone: only its visible part is resized
            b = _place(canvas[y0:y1, x0:x1], sm.img, sm.boxes, sc, ox - x0, oy - y0)
            b = b + np.array([x0, y0, x0, y0], np.float32)
            b, l = _clip_boxes(b, sm.labels, x0, y0, x1, y1)
            bs.append(b)
            ls.append(l)
    else:
        sm = samples[idx]
        h, w = sm.img.shape[:2]
        sc = (S / max(w, h)) * rng.uniform(*scale_range)
        nw, nh = w * sc, h * sc
        ox = int(rng.uniform(min(0.0, S - nw), max(0.0, S - nw)))
        oy = int(rng.uniform(min(0.0, S - nh), max(0.0, S - nh)))
        b = _place(canvas, sm.img, sm.boxes, sc, ox, oy)
        b, l = _clip_boxes(b, sm.labels, 0, 0, S, S)
        bs.append(b)
        ls.append(l)
    boxes = np.concatenate(bs) if bs else np.zeros((0, 4), np.float32)
    labels = np.concatenate(ls) if ls else np.zeros(0, np.int32)
    img = canvas
    if rng.random() < 0.5:
        img = img[:, ::-1]
        boxes = boxes.copy()
        boxes[:, [0, 2]] = S - boxes[:, [2, 0]]
    return img, boxes.astype(np.float32), labels.astype(np.int32), jitter_params(rng, hue, hue_share)


def jitter_params(rng, hue=HUE_DEFAULT, hue_share=1.0):
    """Random colour jitter for one image: (saturation, hue angle, contrast, brightness).

    Drawn here with the batch's generator, applied by `apply_jitter` (on the training device).
    The hue angle is drawn from [-hue, hue] radians (pi: any hue) for a share `hue_share` of the
    images, and from [-HUE_DEFAULT, HUE_DEFAULT] for the rest. With a share of 1 no extra number
    is drawn, so the batches are those of a run without the option."""
    sat = rng.uniform(0.5, 1.5) if rng.random() > 0.05 else 0.0     # 5 % greyscale
    wide = hue_share >= 1.0 or rng.random() < hue_share
    angle = rng.uniform(-hue, hue) if wide else rng.uniform(-HUE_DEFAULT, HUE_DEFAULT)
    return np.array([sat, angle, rng.uniform(0.7, 1.3), rng.uniform(0.6, 1.4)], np.float32)


def apply_jitter(xp, imgs, params):
    """HSV-style jitter on a batch, with numpy or jax.numpy as `xp`: saturation, a hue rotation
    around the grey axis (Rodrigues in RGB), contrast and brightness. imgs [B,H,W,3] 0..255."""
    sat, a, con, bri = (params[:, i][:, None, None, None] for i in range(4))
    grey = imgs.mean(-1, keepdims=True)
    x = grey + (imgs - grey) * sat
    c, s = xp.cos(a), xp.sin(a)
    k = 1.0 / 3.0
    sq = np.sqrt(k).astype(np.float32)
    # rotated channel r' = sum_j m[r][j] x[j]; m = c I + (1-c) k 11^T + sq s [u]_x
    rot = [[c + (1 - c) * k, k * (1 - c) - sq * s, k * (1 - c) + sq * s],
           [k * (1 - c) + sq * s, c + k * (1 - c), k * (1 - c) - sq * s],
           [k * (1 - c) - sq * s, k * (1 - c) + sq * s, c + k * (1 - c)]]
    ch = [x[..., j:j + 1] for j in range(3)]
    x = xp.concatenate([rot[r][0] * ch[0] + rot[r][1] * ch[1] + rot[r][2] * ch[2] for r in range(3)], -1)
    x = (x - 128.0) * con + 128.0 * bri
    return xp.clip(x, 0.0, 255.0)


def make_batch(samples, p, S, B, M, rng, imgs=None, hue=HUE_DEFAULT, hue_share=1.0):
    """One augmented batch: (images [B,S,S,3] uint8, boxes [B,M,4] xyxy px, labels [B,M], mask [B,M],
    colour jitter [B,4] for `apply_jitter`). The images are written into `imgs` when it is given."""
    imgs = np.empty((B, S, S, 3), np.uint8) if imgs is None else imgs
    jit = np.zeros((B, 4), np.float32)
    gb = np.zeros((B, M, 4), np.float32)
    gl = np.zeros((B, M), np.int32)
    gm = np.zeros((B, M), bool)
    for i in range(B):
        idx = int(rng.choice(len(samples), p=p))
        im, b, l, jit[i] = augment(samples, idx, rng, S, hue=hue, hue_share=hue_share)
        if len(b) > M:
            keep = rng.choice(len(b), M, replace=False)
            b, l = b[keep], l[keep]
        imgs[i] = im
        gb[i, :len(b)] = b
        gl[i, :len(b)] = l
        gm[i, :len(b)] = True
    return imgs, gb, gl, gm, jit


# Worker processes get the loader's data by fork (nothing is pickled but the step number).
_WORKER = None


def _worker_batch(step):
    """Makes batch `step` with its images in shared slot `step % slots`; returns the small arrays."""
    samples, p, S, B, M, seed, slots, hue, hue_share = _WORKER
    slot = step % len(slots)
    rng = np.random.default_rng([seed, step])
    _, gb, gl, gm, jit = make_batch(samples, p, S, B, M, rng, slots[slot], hue, hue_share)
    return slot, gb, gl, gm, jit


class Loader:
    """Augmented batches in step order, made by `workers` forked processes.

    Batch k is drawn from its own generator seeded with (seed, k), so the batches -- and the
    trained model -- are the same whatever the number of workers. Create the loader before JAX
    starts its threads (fork after that is unsafe).

    The images (39 MB a batch at 640, batch 32) do not go through the pool's pipe: each batch is
    written into one of 2 * workers + 1 slots of memory shared with the workers, and `next`
    copies it out before that slot can be used again (at most 2 * workers batches are in flight)."""

    def __init__(self, samples, weights, S, batch, max_boxes, seed, steps, workers=None, start=0,
                 hue=HUE_DEFAULT, hue_share=1.0):
        global _WORKER
        import mmap
        import multiprocessing as mp

        p = np.asarray(weights, np.float64) / np.sum(weights)
        self.workers = max(1, workers or min(16, os.cpu_count() or 1))
        n_slots = 2 * self.workers + 1
        shared = mmap.mmap(-1, n_slots * batch * S * S * 3)       # anonymous, shared with forked children
        self.slots = np.frombuffer(shared, np.uint8).reshape(n_slots, batch, S, S, 3)
        _WORKER = (samples, p, S, batch, max_boxes, seed, self.slots, hue, hue_share)
        self.pool = mp.get_context("fork").Pool(self.workers)
        self.todo = iter(range(start, steps))
        self.ahead = collections.deque()       # at most 2 batches per worker in flight
        for _ in range(2 * self.workers):
            self._submit()

    def _submit(self):
        step = next(self.todo, None)
        if step is not None:
            self.ahead.append(self.pool.apply_async(_worker_batch, (step,)))

    def next(self):
        slot, gb, gl, gm, jit = self.ahead.popleft().get()
        imgs = self.slots[slot].copy()
        self._submit()
        return imgs, gb, gl, gm, jit

    def close(self):
        self.pool.terminate()
        self.pool.join()
