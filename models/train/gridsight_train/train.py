"""Training loop: AdamW + cosine LR + weight EMA, fixed seed, progress with ETA, eval, ONNX export.

    python -m gridsight_train.train --data DIR [--data DIR2 ...] [--facade DIR | --no-facade] --out OUT
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

# Deterministic GPU kernels: without them two GPU runs of the recipe drift apart (batches are
# identical, but XLA's GPU reductions and convolution algorithms are not bit-exact); with them two
# runs on the same GPU and software give identical weights. Set XLA_FLAGS to choose otherwise.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true --xla_gpu_deterministic_ops=true")

import numpy as np

from . import CLASSES, __version__
from . import data as D
from . import evaluate as E
from . import export as X
from . import model as Mdl

DEFAULT_FACADE = "/work/shared/data/facade-signs"


def log(*a):
    print(*a, flush=True)


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", action="append", default=[], help="YOLO folder (repeatable)")
    ap.add_argument("--val", action="append", default=[],
                    help="held-out YOLO folder (repeatable); when given, flat --data folders are used whole for training")
    ap.add_argument("--facade", default=None, help=f"facade-signs folder (default {DEFAULT_FACADE} if present)")
    ap.add_argument("--no-facade", action="store_true")
    ap.add_argument("--out", default="runs/street-v1")
    ap.add_argument("--size", type=int, default=640, help="square input size (multiple of 32)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--max-boxes", type=int, default=48)
    ap.add_argument("--eval-every", type=int, default=0, help="0 = only at the end")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=float, default=None,
                    help="channel multiplier of the network (stem, stages and neck, rounded to multiples of 8); "
                         "default: the --init checkpoint's, else 1.0 (the shipped street-v1 is 1.5: train.sh's recipe)")
    ap.add_argument("--hue-jitter", type=float, default=D.HUE_DEFAULT,
                    help="largest hue rotation of the colour jitter, radians (3.1416: any hue)")
    ap.add_argument("--hue-share", type=float, default=1.0,
                    help="share of the images whose hue rotation is drawn up to --hue-jitter; the rest get "
                         f"the default {D.HUE_DEFAULT} rad at most (1: every image, as without the option)")
    ap.add_argument("--facade-weight", type=float, default=0.5, help="share of facade images in each batch")
    ap.add_argument("--init", default=None, help="start from a checkpoint .npz (fine-tuning)")
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="stop training early after this many minutes (0 = never); the run still evaluates and "
                         "exports, and metrics.json records the step it stopped at")
    ap.add_argument("--workers", type=int, default=0, help="augmentation processes (0 = one per CPU, at most 16)")
    ap.add_argument("--export-size", default="640x384",
                    help="ONNX input WxH (multiples of 32; 'square' = SIZExSIZE). The network is fully convolutional, "
                         "so a model trained on square crops can take 640x384 for 16:9 frames with less padding")
    return ap.parse_args()


def main():
    a = parse()
    t_start = time.time()
    assert a.size % 32 == 0
    ew, eh = (int(v) for v in (f"{a.size}x{a.size}" if a.export_size == "square" else a.export_size).lower().split("x"))
    assert ew % 32 == 0 and eh % 32 == 0, "--export-size: width and height must be multiples of 32"
    if not 0.0 <= a.hue_share <= 1.0:
        sys.exit(f"--hue-share must be between 0 and 1, not {a.hue_share}")
    if a.width is not None and a.width <= 0:
        sys.exit(f"--width must be positive, not {a.width}")
    init_ck = None
    if a.init:
        # checked before the data is loaded: a checkpoint of another network fails at once
        init_ck = np.load(a.init, allow_pickle=True)
        # a checkpoint without `arch` is width 1.0's (written before --width existed)
        init_arch = json.loads(str(init_ck["arch"])) if "arch" in init_ck else json.loads(json.dumps(Mdl.DEFAULT_ARCH))
        if a.width is None:
            # fine-tuning keeps the checkpoint's network: its width is its stem's multiple of the default
            a.width = init_arch["stem"] / Mdl.DEFAULT_ARCH["stem"]
        if init_arch != json.loads(json.dumps(Mdl.arch_of(a.width))):
            sys.exit(f"--init {a.init}: its network is {init_arch}, not {Mdl.arch_of(a.width)} "
                     "(leave --width out, or give the one it was trained with)")
    if a.width is None:
        a.width = 1.0
    arch = Mdl.arch_of(a.width)
    os.makedirs(a.out, exist_ok=True)
    np.random.seed(a.seed)
    cache_long = int(a.size * 2)

    # ---------------------------------------------------------------- data
    log(f"gridsight_train {__version__}  {platform.machine()}  input {a.size}x{a.size}  batch {a.batch}  steps {a.steps}")
    facade = None if a.no_facade else (a.facade or (DEFAULT_FACADE if os.path.isdir(DEFAULT_FACADE) else None))
    if not a.data and not facade:
        sys.exit("no data: give --data DIR and/or --facade DIR")
    log("loading data ...")
    train_sets, val_sets = [], {}
    for d in a.data:
        split_dirs = os.path.isdir(os.path.join(d, "images", "train"))
        train_sets.append(("data", D.load_split(d, "train" if (split_dirs or not a.val) else "all", cache_long, log)))
        if split_dirs or not a.val:
            val_sets[os.path.basename(os.path.normpath(d))] = D.load_split(d, "val", cache_long, log)
    for d in a.val:
        split_dirs = os.path.isdir(os.path.join(d, "images", "val"))
        val_sets[os.path.basename(os.path.normpath(d))] = D.load_split(d, "val" if split_dirs else "all", cache_long, log)
    if facade:
        train_sets.append(("facade", D.load_split(facade, "train", cache_long, log)))
        val_sets["facade-signs"] = D.load_split(facade, "val", cache_long, log)
    samples, weights = [], []
    has_data = any(k == "data" for k, _ in train_sets)
    for kind, ss in train_sets:
        share = (a.facade_weight if has_data else 1.0) if kind == "facade" else (1.0 - a.facade_weight if facade else 1.0)
        share /= sum(1 for k, _ in train_sets if k == kind)
        samples += ss
        weights += [share / max(1, len(ss))] * len(ss)

    # The augmentation workers are forked now, before JAX starts any threads.
    loader = D.Loader(samples, weights, a.size, a.batch, a.max_boxes, a.seed, a.steps, a.workers or None,
                      hue=a.hue_jitter, hue_share=a.hue_share)
    import jax
    import jax.numpy as jnp

    from . import loss as L

    log(f"jax {jax.__version__} on {jax.devices()[0].platform} ({jax.devices()[0].device_kind}); "
        f"{loader.workers} augmentation processes")

    # ---------------------------------------------------------------- model / optimiser
    params, state = Mdl.init_model(a.seed, arch)
    if a.init:
        params, state = init_ck["ema"].item(), init_ck["state"].item()
        log(f"initialised from {a.init}")
    nparam = Mdl.count_params(params)
    log(f"model: {nparam:,} parameters (width {a.width}: stem {arch['stem']}, stages {arch['widths']}, neck {arch['neck']})")
    anc, strd = Mdl.anchors_for(a.size)
    anc, strd = jnp.asarray(anc), jnp.asarray(strd)
    params = jax.tree.map(jnp.asarray, params)
    state = jax.tree.map(jnp.asarray, state)
    decay_mask = {k: {kk: (kk == "w") for kk in v} for k, v in params.items()}
    opt = {"m": jax.tree.map(jnp.zeros_like, params), "v": jax.tree.map(jnp.zeros_like, params)}
    ema = {"p": params, "s": state}

    def lr_at(step):
        warm = jnp.minimum(1.0, (step + 1) / a.warmup)
        prog = jnp.clip((step - a.warmup) / max(1, a.steps - a.warmup), 0.0, 1.0)
        return a.lr * warm * (0.02 + 0.98 * 0.5 * (1 + jnp.cos(jnp.pi * prog)))

    def loss_fn(p, s, x, gb, gl, gm):
        ltrb, logits, ns = Mdl.apply(p, s, x, True, arch)
        tot, aux = L.detection_loss(ltrb, logits, anc, strd, gb, gl, gm)
        return tot, (ns, aux)

    @jax.jit
    def train_step(p, s, opt, ema, step, imgs, gb, gl, gm, jit):
        x = D.apply_jitter(jnp, imgs.astype(jnp.float32), jit) / 255.0
        (tot, (ns, aux)), g = jax.value_and_grad(loss_fn, has_aux=True)(p, s, x, gb, gl, gm)
        gnorm = jnp.sqrt(sum(jnp.sum(v * v) for v in jax.tree.leaves(g)))
        g = jax.tree.map(lambda v: v * jnp.minimum(1.0, 10.0 / (gnorm + 1e-6)), g)
        b1, b2 = 0.9, 0.999
        t = step + 1.0
        m = jax.tree.map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, opt["m"], g)
        v = jax.tree.map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, opt["v"], g)
        lr = lr_at(step)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t

        def upd(p_, m_, v_, dm):
            u = (m_ / c1) / (jnp.sqrt(v_ / c2) + 1e-8)
            return p_ - lr * (u + (a.wd * p_ if dm else 0.0))

        p = jax.tree.map(upd, p, m, v, decay_mask)
        d = 0.999 * (1 - jnp.exp(-t / 200.0))
        ema = {"p": jax.tree.map(lambda e, q: d * e + (1 - d) * q, ema["p"], p),
               "s": jax.tree.map(lambda e, q: d * e + (1 - d) * q, ema["s"], ns)}
        aux = dict(aux, total=tot, lr=lr, gnorm=gnorm)
        return p, ns, {"m": m, "v": v}, ema, aux

    @jax.jit
    def infer(p, s, imgs):
        # anchors for this input's shape (static under jit): square eval or the export's W x H
        a_pts = jnp.asarray(Mdl.anchors_for((imgs.shape[2], imgs.shape[1]))[0])
        ltrb, logits, _ = Mdl.apply(p, s, imgs.astype(jnp.float32) / 255.0, False, arch)
        xy = (a_pts[None] + (ltrb[..., 2:] - ltrb[..., :2]) / 2)
        wh = ltrb[..., :2] + ltrb[..., 2:]
        return jnp.concatenate([xy, wh, jax.nn.sigmoid(logits)], -1).transpose(0, 2, 1)   # [B, 4+C, N]

    def run_eval(p, s):
        out = {}
        for name, vs in val_sets.items():
            if not vs:
                continue
            dets, gts = [], []
            for i in range(0, len(vs), 16):
                chunk = vs[i:i + 16]
                ims, scales = zip(*[D.letterbox(sm, a.size) for sm in chunk])
                o = np.asarray(infer(p, s, jnp.asarray(np.stack(ims))))
                for sm, sc, oo in zip(chunk, scales, o):
                    b, scs, cl = E.decode_yolov8(oo)
                    dets.append((b / sc, scs, cl))
                    gts.append((sm.boxes, sm.labels))
            out[name] = E.evaluate(dets, gts)
        return out

    def fmt_eval(ev):
        lines = []
        for ds_name, r in ev.items():
            parts = [f"{c}: AP50 {v['AP50']:.3f} R@.1/c.25 {v['recall_iou0.1_conf0.25']:.3f} (n={v['n_gt']})"
                     for c, v in r.items() if v["n_gt"]]
            lines.append(f"  [{ds_name}] " + "; ".join(parts))
        return "\n".join(lines)

    # ---------------------------------------------------------------- loop
    log("compiling the training step (about 10-20 s) ...")
    t_train0 = time.time()
    step_times = []
    hist = []
    stopped_at = None
    for step in range(a.steps):
        if a.max_minutes and time.time() - t_train0 > a.max_minutes * 60:
            stopped_at = step
            log(f"stopping early at step {step}/{a.steps}: --max-minutes {a.max_minutes} reached")
            break
        t0 = time.time()
        imgs, gb, gl, gm, jit = loader.next()
        params, state, opt, ema, aux = train_step(params, state, opt, ema, jnp.float32(step), imgs, gb, gl, gm, jit)
        if step % 10 == 0 or step == a.steps - 1:
            aux = {k: float(v) for k, v in aux.items()}
            hist.append({"step": step, **aux})
            if not all(math.isfinite(v) for v in aux.values()):
                sys.exit(f"non-finite loss at step {step}: {aux}")
        dt = time.time() - t0
        if step > 0:
            step_times.append(dt)
        if step % 20 == 0 or step == a.steps - 1:
            avg = np.mean(step_times[-50:]) if step_times else dt
            eta = avg * (a.steps - step - 1)
            el = time.time() - t_train0
            log(f"step {step + 1:5d}/{a.steps}  loss {aux['total']:.3f} (cls {aux['cls']:.3f} box {aux['box']:.3f} l1 {aux['l1']:.3f}) "
                f"pos {int(aux['npos'])}  lr {aux['lr']:.2e}  {avg:.2f}s/step  elapsed {el / 60:.1f}m  ETA {eta / 60:.1f}m")
        if a.eval_every and (step + 1) % a.eval_every == 0 and step + 1 < a.steps:
            log(f"eval (EMA) at step {step + 1}:\n" + fmt_eval(run_eval(ema["p"], ema["s"])))
    loader.close()
    train_s = time.time() - t_train0

    # ---------------------------------------------------------------- final eval + export
    log("final evaluation (EMA weights) ...")
    ev = run_eval(ema["p"], ema["s"])
    log(fmt_eval(ev))
    ck = os.path.join(a.out, "checkpoint.npz")
    np.savez(ck, ema=np.array(X.to_numpy(ema["p"]), dtype=object), state=np.array(X.to_numpy(ema["s"]), dtype=object),
             arch=json.dumps(arch))
    onnx_path = os.path.join(a.out, "model.onnx")
    N = X.export_onnx(ema["p"], ema["s"], (ew, eh), onnx_path, arch)
    size_mb = os.path.getsize(onnx_path) / 1e6
    log(f"wrote {onnx_path} ({size_mb:.2f} MB, output0 [batch, {4 + len(CLASSES)}, {N}])")
    # the ONNX graph must reproduce the JAX model
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    vs = next(iter(v for v in val_sets.values() if v))
    im, _ = D.letterbox(vs[0], (ew, eh))
    # reference in full float32: on a GPU the jitted model may use TF32 convolutions
    with jax.default_matmul_precision("highest"):
        ltrb, logits, _ = Mdl.apply(ema["p"], ema["s"], jnp.asarray(im[None]).astype(jnp.float32) / 255.0, False, arch)
        pts = jnp.asarray(Mdl.anchors_for((ew, eh))[0])
        ref = np.asarray(jnp.concatenate([pts[None] + (ltrb[..., 2:] - ltrb[..., :2]) / 2, ltrb[..., :2] + ltrb[..., 2:],
                                          jax.nn.sigmoid(logits)], -1).transpose(0, 2, 1))
    got = sess.run(None, {"images": (im.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]})[0]
    err_box = float(np.max(np.abs(ref[:, :4] - got[:, :4])))
    err = float(np.max(np.abs(ref[:, 4:] - got[:, 4:])))
    log(f"onnxruntime {ort.__version__} vs JAX: max abs diff boxes {err_box:.2e} px, scores {err:.2e}")
    if err_box > 0.5 or err > 1e-3:
        sys.exit("ONNX export does not match the trained model")
    metrics = {
        "model": "street-v1",
        "classes": list(CLASSES),
        "input": {"name": "images", "shape": ["batch", 3, eh, ew], "trained_on": f"{a.size}x{a.size} crops", "layout": "NCHW", "colour": "RGB",
                  "normalisation": "x / 255", "resize": "letterbox (keep aspect, pad 114 grey)"},
        "output": {"name": "output0", "shape": ["batch", 4 + len(CLASSES), N], "format": "yolov8"},
        "parameters": nparam,
        "width": a.width,
        "hue_jitter": a.hue_jitter,
        "hue_share": a.hue_share,
        "arch": arch,
        "onnx_bytes": os.path.getsize(onnx_path),
        "train_seconds": round(train_s, 1),
        "total_seconds": round(time.time() - t_start, 1),
        "steps": a.steps, "stopped_early_at_step": stopped_at, "batch": a.batch, "size": a.size, "seconds_per_step": round(float(np.mean(step_times)) if step_times else 0, 3),
        "seed": a.seed,
        "command": " ".join(sys.argv),
        "data": {"train": [d for d in a.data] + ([facade] if facade else []),
                 "train_images": len(samples), "held_out": {k: len(v) for k, v in val_sets.items()}},
        "held_out_metrics": ev,
        "onnx_vs_jax_max_abs_diff": {"boxes_px": err_box, "scores": err},
        "loss_history": hist[-20:],
        "device": f"{jax.devices()[0].platform} ({jax.devices()[0].device_kind})",
        "augmentation_processes": loader.workers,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "versions": {"jax": jax.__version__, "onnxruntime": ort.__version__, "python": platform.python_version()},
    }
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1, default=float)
    log(f"wrote {os.path.join(a.out, 'metrics.json')}  (training {train_s / 60:.1f} min)")


if __name__ == "__main__":
    main()
