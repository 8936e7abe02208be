"""Writes the trained network as an ONNX graph (opset 17, IR 8) with the `onnx` package.

Same `model.forward` as training, walked by `OnnxOps`: NHWC weights become NCHW, BatchNorm is folded
into the convolutions, SiLU = x * Sigmoid(x).  The decode is part of the graph, so the output is the
YOLOv8 layout: output0 [batch, 4 + 3, N] = (cx, cy, w, h in input pixels, 3 sigmoid class scores).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import CLASSES
from .model import BN_EPS, DEFAULT_ARCH, NUM_CLASSES, STRIDES, anchors_for, forward

OPSET = 17
IR_VERSION = 8


class OnnxOps:
    def __init__(self, params, state):
        self.params, self.state = params, state
        self.nodes, self.inits = [], []
        self.n = 0

    def _name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op, inputs, base, **attrs):
        out = self._name(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, name, x, cin, cout, k, s, groups=1):
        p, st = self.params[name], self.state[name]
        scale = p["g"] / np.sqrt(st["v"] + BN_EPS)
        w = (np.asarray(p["w"]) * scale).transpose(3, 2, 0, 1).astype(np.float32)   # HWIO -> OIHW
        b = (p["b"] - st["m"] * scale).astype(np.float32)
        wn = self.const(name + ".weight", w)
        bn = self.const(name + ".bias", b)
        y = self.node("Conv", [x, wn, bn], name + ".conv", kernel_shape=[k, k], strides=[s, s],
                      pads=[k // 2] * 4, group=groups)
        sg = self.node("Sigmoid", [y], name + ".sig")
        return self.node("Mul", [y, sg], name + ".silu")

    def head(self, name, x, cin, cout, bias_init=0.0):
        p = self.params[name]
        w = np.asarray(p["w"]).transpose(3, 2, 0, 1).astype(np.float32)
        wn = self.const(name + ".weight", w)
        bn = self.const(name + ".bias", np.asarray(p["bias"], np.float32))
        return self.node("Conv", [x, wn, bn], name + ".conv", kernel_shape=[1, 1], strides=[1, 1])

    def add(self, a, b):
        return self.node("Add", [a, b], "add")

    def up2(self, x):
        sc = self.const(self._name("up_scales"), np.array([1, 1, 2, 2], np.float32))
        return self.node("Resize", [x, "", sc], "up", mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def s2d4(self, x):
        return self.node("SpaceToDepth", [x], "s2d", blocksize=4)


def to_numpy(tree):
    return {k: {kk: np.asarray(vv, np.float32) for kk, vv in v.items()} for k, v in tree.items()}


def export_onnx(params, state, size, path, arch=DEFAULT_ARCH, metrics_doc=""):
    """Writes the ONNX graph for input `size` (square side or (width, height)). Returns N anchors."""
    w, h = (size, size) if isinstance(size, int) else size
    params, state = to_numpy(params), to_numpy(state)
    F = OnnxOps(params, state)
    outs = forward(F, "images", arch)
    shape_bcn = F.const("shape_b4n", np.array([0, 4, -1], np.int64))
    shape_bcn_c = F.const("shape_bcn", np.array([0, NUM_CLASSES, -1], np.int64))
    boxes = [F.node("Reshape", [b, shape_bcn], "box_flat") for b, _ in outs]
    clss = [F.node("Reshape", [c, shape_bcn_c], "cls_flat") for _, c in outs]
    box = F.node("Concat", boxes, "box_cat", axis=2)                      # [B, 4, N] raw
    cls = F.node("Concat", clss, "cls_cat", axis=2)                       # [B, C, N] logits
    anchors, strides = anchors_for(size)
    ltrb = F.node("Mul", [F.node("Softplus", [box], "softplus"),
                          F.const("strides", strides[None, None, :].astype(np.float32))], "ltrb")
    # (l, t, r, b) -> (cx, cy, w, h) relative to the anchor, as one 4x4 MatMul
    M = np.array([[-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5], [1, 0, 1, 0], [0, 1, 0, 1]], np.float32)
    rel = F.node("MatMul", [F.const("ltrb_to_cxcywh", M), ltrb], "cxcywh_rel")
    off = np.zeros((1, 4, anchors.shape[0]), np.float32)
    off[0, :2] = anchors.T
    xywh = F.node("Add", [rel, F.const("anchor_offsets", off)], "cxcywh")
    scores = F.node("Sigmoid", [cls], "scores")
    F.nodes.append(helper.make_node("Concat", [xywh, scores], ["output0"], name="output_concat", axis=1))

    N = anchors.shape[0]
    graph = helper.make_graph(
        F.nodes, "street_v1",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, h, w])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 4 + NUM_CLASSES, N])],
        F.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="gridsight_train", producer_version="1.0")
    m.ir_version = IR_VERSION
    meta = {
        "names": "{" + ", ".join(f"{i}: '{n}'" for i, n in enumerate(CLASSES)) + "}",
        "imgsz": f"[{h}, {w}]",
        "stride": str(max(STRIDES)),
        "task": "detect",
        "batch": "-1",
        "description": "gridsight street-v1: own anchor-free detector (gridsight_train). Input RGB/255 letterboxed, "
                       "output [batch, 4+3, N] cx,cy,w,h (input px) + sigmoid class scores, no objectness.",
        "license": "same as the gridsight repository",
    }
    if metrics_doc:
        meta["metrics"] = metrics_doc
    for k, v in meta.items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    return N
