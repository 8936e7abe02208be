"""Smoke check of an exported model with onnxruntime: opset/IR/metadata, shapes, latency, sane boxes.

    python -m gridsight_train.check_onnx runs/street-v1/model.onnx IMAGE_DIR [--n 8]
"""
import argparse
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

from . import CLASSES
from . import evaluate as E


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("images")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--conf", type=float, default=0.25)
    a = ap.parse_args()
    m = onnx.load(a.model)
    meta = {p.key: p.value for p in m.metadata_props}
    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    size_mb = os.path.getsize(a.model) / 1e6
    print(f"file {size_mb:.2f} MB  opset {opset}  IR {m.ir_version}  names {meta.get('names')}")
    ok = size_mb <= 5 and opset == 17 and m.ir_version <= 9
    ok &= meta.get("names") == "{" + ", ".join(f"{i}: '{n}'" for i, n in enumerate(CLASSES)) + "}"
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    i, o = s.get_inputs()[0], s.get_outputs()[0]
    print(f"onnxruntime {ort.__version__}: input {i.name} {i.shape}  output {o.name} {o.shape}")
    SH, SW = int(i.shape[2]), int(i.shape[3])
    files = sorted(f for f in os.listdir(a.images) if f.lower().endswith((".jpg", ".png", ".jpeg")))[: a.n]
    times = []
    for f in files:
        im = Image.open(os.path.join(a.images, f)).convert("RGB")
        W, H = im.size
        sc = min(SW / W, SH / H)
        canvas = Image.new("RGB", (SW, SH), (114, 114, 114))
        canvas.paste(im.resize((round(W * sc), round(H * sc)), Image.BILINEAR), (0, 0))
        x = (np.asarray(canvas, np.float32) / 255.0).transpose(2, 0, 1)[None]
        t = time.perf_counter()
        out = s.run(None, {i.name: x})[0]
        times.append(time.perf_counter() - t)
        assert out.shape == (1, 4 + len(CLASSES), int(o.shape[2])), out.shape
        ok &= bool(np.isfinite(out).all()) and out[0, 4:].min() >= 0 and out[0, 4:].max() <= 1
        b, sco, cl = E.decode_yolov8(out[0], conf=a.conf)
        b = b / sc
        desc = ", ".join(f"{CLASSES[c]} {p:.2f} [{x0:.0f},{y0:.0f},{x1:.0f},{y1:.0f}]"
                         for (x0, y0, x1, y1), p, c in list(zip(b, sco, cl))[:4])
        print(f"  {f} ({W}x{H}): {len(b)} dets >= {a.conf}  {desc}")
    # batch 2 (dynamic batch axis)
    out2 = s.run(None, {i.name: np.zeros((2, 3, SH, SW), np.float32)})[0]
    ok &= out2.shape[0] == 2
    print(f"latency (batch 1, 2 threads): median {1000 * np.median(times[1:] or times):.1f} ms; batch-2 output {out2.shape}")
    print("CHECK", "OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
