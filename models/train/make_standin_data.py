#!/usr/bin/env python3
"""Development stand-in for the project's scene generator: procedural street scenes drawn with PIL.

NOT training data for a real model - it only exercises the pipeline (YOLO layout, class ids
0 street_vending, 1 sidewalk_stacking, 2 illegal_signage, distractors that must not fire).

    python make_standin_data.py OUT_DIR [--train 600] [--val 120] [--seed 0]

writes OUT_DIR/images/{train,val}/*.jpg, OUT_DIR/labels/{train,val}/*.txt, OUT_DIR/data.yaml.
"""
import argparse
import math
import os
import random

from PIL import Image, ImageDraw, ImageFilter

W, H = 640, 480


def rc(r, lo=0, hi=255):
    return tuple(r.randint(lo, hi) for _ in range(3))


def background(r):
    im = Image.new("RGB", (W, H), rc(r, 90, 200))
    d = ImageDraw.Draw(im)
    horizon = r.randint(int(H * 0.35), int(H * 0.6))
    # buildings
    x = 0
    while x < W:
        bw = r.randint(80, 220)
        top = r.randint(0, horizon - 40)
        col = rc(r, 60, 220)
        d.rectangle([x, top, x + bw, horizon], fill=col)
        for wy in range(top + 10, horizon - 30, r.randint(35, 55)):       # windows (distractors)
            for wx in range(x + 8, x + bw - 25, r.randint(30, 45)):
                d.rectangle([wx, wy, wx + r.randint(14, 22), wy + r.randint(18, 28)], fill=rc(r, 20, 120))
        if r.random() < 0.5:                                               # door
            dx = x + r.randint(5, max(6, bw - 40))
            d.rectangle([dx, horizon - r.randint(40, 60), dx + 28, horizon], fill=rc(r, 30, 100))
        x += bw
    # sidewalk and road
    d.rectangle([0, horizon, W, H], fill=rc(r, 110, 170))
    road = r.randint(horizon + 60, H)
    d.rectangle([0, road, W, H], fill=rc(r, 40, 80))
    for lx in range(0, W, 80):
        d.rectangle([lx, road + 20, lx + 40, road + 26], fill=(230, 230, 230))
    return im, horizon


def draw_text_lines(d, box, r, col):
    x0, y0, x1, y1 = box
    n = max(1, int((y1 - y0) / 12))
    for i in range(n):
        yy = y0 + 4 + i * (y1 - y0 - 8) / n
        xx = x0 + 4
        while xx < x1 - 8:
            cw = r.randint(3, 9)
            d.rectangle([xx, yy, xx + cw, yy + max(2, (y1 - y0 - 8) / n * 0.6)], fill=col)
            xx += cw + r.randint(2, 5)


def vending(d, r, gx, gy, s):
    """umbrella over a cart / table with goods; (gx, gy) = ground point, s = scale"""
    w = int(r.uniform(70, 130) * s)
    th = int(r.uniform(35, 55) * s)
    x0, x1 = gx - w // 2, gx + w // 2
    d.rectangle([x0, gy - th, x1, gy], fill=rc(r, 60, 200))                       # cart
    for k in range(r.randint(3, 7)):                                               # goods
        gx0 = r.randint(x0, max(x0 + 1, x1 - 12))
        d.ellipse([gx0, gy - th - 10 * s, gx0 + 12 * s, gy - th], fill=rc(r))
    d.ellipse([x0 + 5, gy - 8 * s, x0 + 5 + 12 * s, gy + 4 * s], fill=(20, 20, 20))  # wheels
    d.ellipse([x1 - 5 - 12 * s, gy - 8 * s, x1 - 5, gy + 4 * s], fill=(20, 20, 20))
    top = gy
    if r.random() < 0.8:                                                           # umbrella
        uw = int(w * r.uniform(1.1, 1.5))
        uh = int(uw * 0.35)
        pole = int(r.uniform(50, 80) * s)
        ucy = gy - th - pole
        d.line([gx, gy - th, gx, ucy], fill=(60, 60, 60), width=max(1, int(3 * s)))
        c1, c2 = rc(r, 120), rc(r, 120)
        segs = 8
        for k in range(segs):
            a0, a1 = 180 + k * 180 / segs, 180 + (k + 1) * 180 / segs
            d.pieslice([gx - uw // 2, ucy - uh, gx + uw // 2, ucy + uh], a0, a1, fill=c1 if k % 2 else c2)
        top = ucy - uh
        x0, x1 = min(x0, gx - uw // 2), max(x1, gx + uw // 2)
    else:
        top = gy - th - 10 * s
    if r.random() < 0.6:                                                           # vendor
        px = x1 + 4
        d.ellipse([px, gy - 70 * s, px + 16 * s, gy - 54 * s], fill=(200, 160, 130))
        d.rectangle([px, gy - 54 * s, px + 16 * s, gy], fill=rc(r, 20, 200))
        x1 = px + 16 * s
    return [x0, top, x1, gy + 4 * s]


def stacking(d, r, gx, gy, s):
    """pile of cartons / sacks / crates on the pavement"""
    cols, rows = r.randint(2, 4), r.randint(1, 3)
    bw, bh = int(r.uniform(22, 36) * s), int(r.uniform(18, 30) * s)
    x0 = gx - cols * bw // 2
    base = rc(r, 120, 200) if r.random() < 0.3 else (r.randint(150, 200), r.randint(110, 140), r.randint(60, 90))
    top = gy
    for row in range(rows):
        for c in range(cols - (row if r.random() < 0.5 else 0)):
            bx = x0 + c * bw + row * bw // 3
            by = gy - (row + 1) * bh
            col = tuple(max(0, min(255, v + r.randint(-20, 20))) for v in base)
            if r.random() < 0.2:
                d.ellipse([bx, by, bx + bw, by + bh + 4], fill=col, outline=(60, 50, 40))
            else:
                d.rectangle([bx, by, bx + bw - 2, by + bh - 2], fill=col, outline=(70, 50, 30))
                d.line([bx + bw // 2, by, bx + bw // 2, by + bh - 2], fill=(200, 190, 150), width=max(1, int(2 * s)))
            top = min(top, by)
    return [x0, top, x0 + cols * bw + (rows - 1) * bw // 3, gy]


def signage(d, r, horizon, s):
    """poster on a wall, banner, or A-frame board on the pavement"""
    kind = r.random()
    if kind < 0.4:                        # poster / small ad on a wall
        w, h = int(r.uniform(25, 70) * s), int(r.uniform(30, 90) * s)
        x0, y0 = r.randint(0, W - w - 1), r.randint(10, max(11, horizon - h))
        d.rectangle([x0, y0, x0 + w, y0 + h], fill=rc(r, 150), outline=rc(r, 0, 80))
        draw_text_lines(d, [x0, y0, x0 + w, y0 + h], r, rc(r, 0, 100))
        return [x0, y0, x0 + w, y0 + h]
    if kind < 0.7:                        # banner / signboard
        w, h = int(r.uniform(100, 260) * s), int(r.uniform(20, 45) * s)
        x0, y0 = r.randint(0, max(1, W - w - 1)), r.randint(10, max(11, horizon - h))
        d.rectangle([x0, y0, x0 + w, y0 + h], fill=rc(r), outline=rc(r, 0, 60))
        draw_text_lines(d, [x0, y0, x0 + w, y0 + h], r, rc(r, 200) if r.random() < 0.5 else rc(r, 0, 60))
        return [x0, y0, x0 + w, y0 + h]
    # A-frame board on the pavement
    w, h = int(r.uniform(30, 50) * s), int(r.uniform(45, 75) * s)
    gx, gy = r.randint(w, W - w), r.randint(horizon + 20, H - 5)
    d.polygon([(gx - w // 2, gy), (gx - w // 3, gy - h), (gx + w // 3, gy - h), (gx + w // 2, gy)], fill=rc(r, 0, 90))
    d.rectangle([gx - w // 3 + 3, gy - h + 4, gx + w // 3 - 3, gy - 8], fill=rc(r, 170))
    draw_text_lines(d, [gx - w // 3 + 3, gy - h + 4, gx + w // 3 - 3, gy - 8], r, rc(r, 0, 100))
    return [gx - w // 2, gy - h, gx + w // 2, gy]


def distractor(d, r, horizon):
    k = r.random()
    if k < 0.5:   # car
        gx, gy = r.randint(0, W), r.randint(horizon + 40, H)
        w = r.randint(90, 160)
        col = rc(r)
        d.rounded_rectangle([gx, gy - 45, gx + w, gy], 12, fill=col)
        d.rectangle([gx + 15, gy - 65, gx + w - 25, gy - 40], fill=col)
        d.ellipse([gx + 10, gy - 12, gx + 32, gy + 10], fill=(15, 15, 15))
        d.ellipse([gx + w - 32, gy - 12, gx + w - 10, gy + 10], fill=(15, 15, 15))
    else:         # pedestrian
        gx, gy = r.randint(0, W), r.randint(horizon + 10, H)
        d.ellipse([gx, gy - 80, gx + 16, gy - 64], fill=(200, 160, 130))
        d.rectangle([gx - 2, gy - 64, gx + 18, gy], fill=rc(r, 0, 200))


def scene(r):
    im, horizon = background(r)
    d = ImageDraw.Draw(im)
    objs = []
    for _ in range(r.randint(0, 2)):
        distractor(d, r, horizon)
    n = r.randint(1, 5)
    for _ in range(n):
        c = r.choice([0, 0, 1, 1, 2, 2, 2])
        gy = r.randint(horizon + 15, H - 5)
        s = 0.5 + 1.0 * (gy - horizon) / max(1, H - horizon)       # perspective: nearer = bigger
        gx = r.randint(40, W - 40)
        if c == 0:
            b = vending(d, r, gx, gy, s)
        elif c == 1:
            b = stacking(d, r, gx, gy, s)
        else:
            b = signage(d, r, horizon, s)
        x0, y0, x1, y1 = max(0, b[0]), max(0, b[1]), min(W - 1, b[2]), min(H - 1, b[3])
        if x1 - x0 > 3 and y1 - y0 > 3:
            objs.append((c, x0, y0, x1, y1))
    if r.random() < 0.5:
        im = im.filter(ImageFilter.GaussianBlur(r.uniform(0.3, 1.2)))
    return im, objs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--val", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    r = random.Random(a.seed)
    for split, n in (("train", a.train), ("val", a.val)):
        os.makedirs(os.path.join(a.out, "images", split), exist_ok=True)
        os.makedirs(os.path.join(a.out, "labels", split), exist_ok=True)
        for i in range(n):
            im, objs = scene(r)
            name = f"scene_{split}_{i:05d}"
            im.save(os.path.join(a.out, "images", split, name + ".jpg"), quality=90)
            with open(os.path.join(a.out, "labels", split, name + ".txt"), "w") as f:
                for c, x0, y0, x1, y1 in objs:
                    f.write(f"{c} {(x0 + x1) / 2 / W:.6f} {(y0 + y1) / 2 / H:.6f} {(x1 - x0) / W:.6f} {(y1 - y0) / H:.6f}\n")
    with open(os.path.join(a.out, "data.yaml"), "w") as f:
        f.write("# stand-in scenes (make_standin_data.py)\ntrain: images/train\nval: images/val\n"
                "names: [street_vending, sidewalk_stacking, illegal_signage]\n")
    print(f"wrote {a.train} train + {a.val} val scenes to {a.out}")


if __name__ == "__main__":
    main()
