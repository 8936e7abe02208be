"""Own evaluation: decode, class-aware NMS, AP50 per class (all-point interpolated), recall at low IoU."""
from __future__ import annotations

import numpy as np

from . import CLASSES


def nms(boxes, scores, iou_thr):
    order = np.argsort(-scores)
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        if len(order) == 1:
            break
        rest = order[1:]
        iou = box_iou(boxes[i:i + 1], boxes[rest])[0]
        order = rest[iou <= iou_thr]
    return np.array(keep, np.int64)


def box_iou(a, b):
    """a [M,4], b [N,4] xyxy -> [M,N]"""
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    aa = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    ab = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (aa[:, None] + ab[None, :] - inter + 1e-9)


def decode_yolov8(out, conf=0.001, iou=0.6, max_det=300):
    """out [4+C, N] (cx, cy, w, h, scores...) -> list of (xyxy [K,4], score [K], cls [K]) after class-aware NMS."""
    box = out[:4].T
    sc = out[4:].T
    xyxy = np.concatenate([box[:, :2] - box[:, 2:] / 2, box[:, :2] + box[:, 2:] / 2], 1)
    B, S, L = [], [], []
    for c in range(sc.shape[1]):
        m = sc[:, c] > conf
        if not m.any():
            continue
        b, s = xyxy[m], sc[m, c]
        if len(s) > 3000:
            top = np.argsort(-s)[:3000]
            b, s = b[top], s[top]
        k = nms(b, s, iou)
        B.append(b[k]); S.append(s[k]); L.append(np.full(len(k), c))
    if not B:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)
    b, s, l = np.concatenate(B), np.concatenate(S), np.concatenate(L)
    o = np.argsort(-s)[:max_det]
    return b[o], s[o], l[o]


def ap_voc(tp, conf, npos):
    if npos == 0:
        return None
    if len(tp) == 0:
        return 0.0
    o = np.argsort(-conf)
    tp = tp[o]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(1 - tp)
    rec = ctp / npos
    prec = ctp / np.maximum(ctp + cfp, 1e-9)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[1.0], prec, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def evaluate(dets, gts, recall_confs=(0.1, 0.25), recall_iou=0.1):
    """dets: list per image of (xyxy, score, cls); gts: list per image of (xyxy, cls).

    Returns {class: {AP50, n_gt, recall@IoU0.1 conf t ...}}."""
    res = {}
    for c, name in enumerate(CLASSES):
        tps, confs, npos = [], [], 0
        low_hits = {t: 0 for t in recall_confs}
        for (db, ds_, dl), (gb, gl) in zip(dets, gts):
            g = gb[gl == c]
            npos += len(g)
            m = dl == c
            d, s = db[m], ds_[m]
            o = np.argsort(-s)
            d, s = d[o], s[o]
            used = np.zeros(len(g), bool)
            tp = np.zeros(len(d))
            if len(g) and len(d):
                iou = box_iou(d, g)
                for i in range(len(d)):
                    j = int(np.argmax(np.where(used, -1, iou[i])))
                    if iou[i, j] >= 0.5 and not used[j]:
                        used[j] = True
                        tp[i] = 1
                for t in recall_confs:
                    sel = s >= t
                    if sel.any():
                        low_hits[t] += int((iou[sel].max(0) >= recall_iou).sum())
            tps.append(tp)
            confs.append(s)
        tp = np.concatenate(tps) if tps else np.zeros(0)
        cf = np.concatenate(confs) if confs else np.zeros(0)
        r = {"AP50": ap_voc(tp, cf, npos), "n_gt": npos, "n_det": int(len(tp))}
        for t in recall_confs:
            r[f"recall_iou{recall_iou}_conf{t}"] = (low_hits[t] / npos) if npos else None
        res[name] = r
    return res
