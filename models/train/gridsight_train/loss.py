"""Task-aligned assigner (written for gridsight, after the TOOD idea) and the detection loss.

All shapes are static so the whole step jit-compiles once:
  gt_boxes [B, M, 4] xyxy input pixels, gt_labels [B, M] int32, gt_mask [B, M] bool (padding = False).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

TOPK = 10
ALPHA = 1.0     # score exponent of the alignment metric
BETA = 6.0      # IoU exponent of the alignment metric
CENTER_R = 1.0  # a gt smaller than a cell still gets the anchors within CENTER_R * stride of its centre
W_CLS = 1.0
W_BOX = 2.5
W_L1 = 0.05


def pairwise_iou(a, b, eps=1e-7):
    """a [..., M, 4], b [..., N, 4] xyxy -> [..., M, N]"""
    a = a[..., :, None, :]
    b = b[..., None, :, :]
    iw = jnp.clip(jnp.minimum(a[..., 2], b[..., 2]) - jnp.maximum(a[..., 0], b[..., 0]), 0)
    ih = jnp.clip(jnp.minimum(a[..., 3], b[..., 3]) - jnp.maximum(a[..., 1], b[..., 1]), 0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter + eps)


def giou(a, b, eps=1e-7):
    """elementwise a, b [..., 4] xyxy -> (iou, giou)"""
    iw = jnp.clip(jnp.minimum(a[..., 2], b[..., 2]) - jnp.maximum(a[..., 0], b[..., 0]), 0)
    ih = jnp.clip(jnp.minimum(a[..., 3], b[..., 3]) - jnp.maximum(a[..., 1], b[..., 1]), 0)
    inter = iw * ih
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter + eps
    iou = inter / union
    cw = jnp.maximum(a[..., 2], b[..., 2]) - jnp.minimum(a[..., 0], b[..., 0])
    ch = jnp.maximum(a[..., 3], b[..., 3]) - jnp.minimum(a[..., 1], b[..., 1])
    c_area = cw * ch + eps
    return iou, iou - (c_area - union) / c_area


def assign(scores, pred_boxes, anchors, strides, gt_boxes, gt_labels, gt_mask):
    """Task-aligned assignment.

    scores [B, N, C] (sigmoid, no grad), pred_boxes [B, N, 4] xyxy (no grad), anchors [N, 2], strides [N].
    Returns fg [B, N] bool, tgt_box [B, N, 4], tgt_cls [B, N, C] soft targets.
    """
    B, N, C = scores.shape
    # candidates: anchor centre inside the gt box, or within CENTER_R*stride of the gt centre (tiny boxes)
    ax, ay = anchors[:, 0], anchors[:, 1]
    x1, y1, x2, y2 = [gt_boxes[..., i][..., None] for i in range(4)]         # [B, M, 1]
    inside = (ax > x1) & (ax < x2) & (ay > y1) & (ay < y2)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    r = CENTER_R * strides
    near = (jnp.abs(ax - cx) < r) & (jnp.abs(ay - cy) < r)
    cand = (inside | near) & gt_mask[..., None]                                # [B, M, N]

    iou = pairwise_iou(gt_boxes, pred_boxes)                                   # [B, M, N]
    onehot = jax.nn.one_hot(gt_labels, C, dtype=scores.dtype)                  # [B, M, C]
    s = jnp.einsum("bmc,bnc->bmn", onehot, scores)
    metric = jnp.where(cand, (s ** ALPHA) * (iou ** BETA), 0.0)
    # a small bonus keeps every candidate rankable when predictions are still poor
    metric_rank = metric + cand * 1e-9 * (1.0 + iou)
    kth = jax.lax.top_k(metric_rank, TOPK)[0][..., -1:]                        # [B, M, 1]
    pos = cand & (metric_rank >= kth)                                          # [B, M, N]

    # an anchor claimed by several gts keeps the one with the highest IoU
    iou_pos = jnp.where(pos, iou, -1.0)
    best = jnp.argmax(iou_pos, axis=1)                                         # [B, N]
    fg = jnp.any(pos, axis=1)                                                  # [B, N]
    pos = pos & (jnp.arange(pos.shape[1])[None, :, None] == best[:, None, :])

    # normalised alignment: per gt, scale metric so that its best anchor gets that anchor's IoU
    metric_pos = jnp.where(pos, metric, 0.0)
    max_metric = jnp.max(metric_pos, axis=2, keepdims=True)
    max_iou = jnp.max(jnp.where(pos, iou, 0.0), axis=2, keepdims=True)
    norm = metric_pos * max_iou / (max_metric + 1e-9)                          # [B, M, N]
    norm_n = jnp.max(norm, axis=1)                                             # [B, N]
    # floor: a positive never gets a target below 0.05 (keeps early training moving)
    norm_n = jnp.where(fg, jnp.maximum(norm_n, 0.05), 0.0)

    tgt_box = jnp.take_along_axis(gt_boxes, best[..., None], axis=1)           # [B, N, 4]
    tgt_lab = jnp.take_along_axis(gt_labels, best, axis=1)                     # [B, N]
    tgt_cls = jax.nn.one_hot(tgt_lab, C, dtype=scores.dtype) * norm_n[..., None]
    return fg, tgt_box, tgt_cls


def detection_loss(ltrb, logits, anchors, strides, gt_boxes, gt_labels, gt_mask):
    pred_boxes = jnp.concatenate([anchors[None] - ltrb[..., :2], anchors[None] + ltrb[..., 2:]], -1)
    scores = jax.nn.sigmoid(logits)
    fg, tgt_box, tgt_cls = assign(jax.lax.stop_gradient(scores), jax.lax.stop_gradient(pred_boxes),
                                  anchors, strides, gt_boxes, gt_labels, gt_mask)
    tgt_cls = jax.lax.stop_gradient(tgt_cls)
    norm = jnp.maximum(tgt_cls.sum(), 1.0)
    bce = jnp.maximum(logits, 0) - logits * tgt_cls + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    loss_cls = bce.sum() / norm

    w = tgt_cls.sum(-1) * fg
    _, g = giou(pred_boxes, tgt_box)
    loss_box = ((1.0 - g) * w).sum() / norm
    # L1 on ltrb distances measured in strides (helps the scale early on)
    tgt_ltrb = jnp.concatenate([anchors[None] - tgt_box[..., :2], tgt_box[..., 2:] - anchors[None]], -1)
    l1 = jnp.abs(ltrb - jnp.clip(tgt_ltrb, 0)) / strides[None, :, None]
    loss_l1 = (l1.sum(-1) * w).sum() / norm
    total = W_CLS * loss_cls + W_BOX * loss_box + W_L1 * loss_l1
    return total, {"cls": loss_cls, "box": loss_box, "l1": loss_l1, "npos": fg.sum()}
