//! Decoders for YOLO-family detection heads (YOLOv5, YOLOv8/YOLO11, YOLOX, end-to-end exports)
//! and the parser for the class names ultralytics stores in ONNX metadata.
//!
//! Every decoder reads a row-major `f32` tensor with its shape, checks both against the layout it
//! expects, and returns one `Vec<Detection>` per batch item with boxes in model-input pixels
//! (undo letterboxing with [`super::Letterbox::to_source`]) and only scores ≥ the threshold.
//! None of them runs NMS except where the graph already did it ([`end_to_end`]); use
//! [`super::nms::nms`] afterwards. NaN scores never pass a threshold.

use super::{check_len, DecodeError};
use crate::domain::{BBox, Detection};

/// Index and value of the largest of `values`; `None` when empty. NaN never wins.
fn best_class(values: impl Iterator<Item = f32>) -> Option<(usize, f32)> {
    let mut best: Option<(usize, f32)> = None;
    for (i, v) in values.enumerate() {
        if !v.is_nan() && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best
}

fn shape_error(decoder: &'static str, expected: String, shape: &[usize]) -> DecodeError {
    DecodeError::Shape {
        decoder,
        expected,
        got: shape.to_vec(),
    }
}

/// YOLOv8 / YOLO11 detection head (ultralytics export, `output0`).
///
/// Layout `[batch, 4 + classes, boxes]`: for box `i` of batch item `b` the values are
/// `data[b][r][i]` for rows `r` = cx, cy, w, h, then one score per class (already sigmoid, no
/// objectness). Score = best class score.
pub fn yolov8(
    data: &[f32],
    shape: &[usize],
    num_classes: usize,
    score_threshold: f32,
) -> Result<Vec<Vec<Detection>>, DecodeError> {
    let rows = 4 + num_classes;
    let &[batch, r, n] = shape else {
        return Err(yolov8_shape_error(shape, num_classes));
    };
    if r != rows {
        return Err(yolov8_shape_error(shape, num_classes));
    }
    check_len(data, shape)?;
    let mut out = Vec::with_capacity(batch);
    for b in 0..batch {
        let item = &data[b * rows * n..(b + 1) * rows * n];
        let mut dets = Vec::new();
        for i in 0..n {
            let at = |row: usize| item[row * n + i];
            let Some((class_id, score)) = best_class((0..num_classes).map(|c| at(4 + c))) else {
                continue;
            };
            if score >= score_threshold {
                dets.push(Detection {
                    bbox: BBox::from_cxcywh(at(0), at(1), at(2), at(3)),
                    score,
                    class_id,
                });
            }
        }
        out.push(dets);
    }
    Ok(out)
}

fn yolov8_shape_error(shape: &[usize], num_classes: usize) -> DecodeError {
    shape_error(
        "yolov8",
        format!("[batch, 4 + classes, boxes] with classes = {num_classes}"),
        shape,
    )
}

/// Shared body of the `[batch, boxes, 5 + classes]` decoders; `cxcywh` turns row `index` into
/// a box. `boxes`, when given, is the only box count accepted.
fn decode_obj_rows(
    decoder: &'static str,
    data: &[f32],
    shape: &[usize],
    num_classes: usize,
    boxes: Option<(usize, &str)>,
    score_threshold: f32,
    mut cxcywh: impl FnMut(usize, &[f32]) -> BBox,
) -> Result<Vec<Vec<Detection>>, DecodeError> {
    let cols = 5 + num_classes;
    let wrong_shape = || {
        let boxes = boxes.map_or_else(String::new, |(n, why)| format!(" boxes = {n} ({why}) and"));
        let expected = format!("[batch, boxes, 5 + classes] with{boxes} classes = {num_classes}");
        shape_error(decoder, expected, shape)
    };
    let &[batch, n, c] = shape else {
        return Err(wrong_shape());
    };
    if c != cols || boxes.is_some_and(|(expected, _)| expected != n) {
        return Err(wrong_shape());
    }
    check_len(data, shape)?;
    let mut out = Vec::with_capacity(batch);
    for b in 0..batch {
        let item = &data[b * n * cols..(b + 1) * n * cols];
        let mut dets = Vec::new();
        for (i, row) in item.chunks_exact(cols).enumerate() {
            let obj = row[4];
            let Some((class_id, cls)) = best_class(row[5..].iter().copied()) else {
                continue;
            };
            let score = obj * cls;
            if score >= score_threshold {
                dets.push(Detection {
                    bbox: cxcywh(i, row),
                    score,
                    class_id,
                });
            }
        }
        out.push(dets);
    }
    Ok(out)
}

/// YOLOv5 detection head (`output`).
///
/// Layout `[batch, boxes, 5 + classes]`: each row is cx, cy, w, h, objectness, then one
/// probability per class (all already sigmoid). Score = objectness × best class probability.
pub fn yolov5(
    data: &[f32],
    shape: &[usize],
    num_classes: usize,
    score_threshold: f32,
) -> Result<Vec<Vec<Detection>>, DecodeError> {
    decode_obj_rows(
        "yolov5",
        data,
        shape,
        num_classes,
        None,
        score_threshold,
        |_, r| BBox::from_cxcywh(r[0], r[1], r[2], r[3]),
    )
}

/// YOLOX exported with the box decode inside the graph (`decode_in_inference=True`).
///
/// Layout `[batch, boxes, 5 + classes]`, same as [`yolov5`]: cx, cy, w, h in input pixels,
/// objectness, class probabilities. Score = objectness × best class probability.
pub fn yolox_decoded(
    data: &[f32],
    shape: &[usize],
    num_classes: usize,
    score_threshold: f32,
) -> Result<Vec<Vec<Detection>>, DecodeError> {
    decode_obj_rows(
        "yolox",
        data,
        shape,
        num_classes,
        None,
        score_threshold,
        |_, r| BBox::from_cxcywh(r[0], r[1], r[2], r[3]),
    )
}

/// YOLOX exported without the box decode (`decode_in_inference=False`): raw regressions.
///
/// Layout `[batch, boxes, 5 + classes]` with boxes = Σ over `strides` s of
/// ⌊input_w / s⌋ × ⌊input_h / s⌋, anchors ordered stride by stride and, within a stride,
/// row-major over the grid (y outer, x inner). Each row is tx, ty, tw, th, objectness, class
/// probabilities (objectness and classes already sigmoid). For the anchor at grid cell
/// (gx, gy) of stride s: cx = (tx + gx)·s, cy = (ty + gy)·s, w = exp(tw)·s, h = exp(th)·s.
/// Score = objectness × best class probability.
pub fn yolox_raw(
    data: &[f32],
    shape: &[usize],
    num_classes: usize,
    input_w: u32,
    input_h: u32,
    strides: &[u32],
    score_threshold: f32,
) -> Result<Vec<Vec<Detection>>, DecodeError> {
    if strides.is_empty() || strides.contains(&0) {
        return Err(DecodeError::Parameter(format!(
            "yolox strides must be non-empty and non-zero, got {strides:?}"
        )));
    }
    // (first anchor index, grid width, stride) per stride level.
    let mut levels = Vec::with_capacity(strides.len());
    let mut total = 0usize;
    for &s in strides {
        let gw = (input_w / s) as usize;
        let gh = (input_h / s) as usize;
        // A stride wider than the input has no anchors; leaving it out keeps the lookup simple.
        if gw * gh > 0 {
            levels.push((total, gw, s as f32));
            total += gw * gh;
        }
    }
    let why = format!("input {input_w}x{input_h}, strides {strides:?}");
    decode_obj_rows(
        "yolox (raw)",
        data,
        shape,
        num_classes,
        Some((total, &why)),
        score_threshold,
        |i, r| {
            // The last level whose first anchor is ≤ i holds anchor i.
            let level = levels.partition_point(|&(start, _, _)| start <= i) - 1;
            let (start, gw, s) = levels[level];
            let local = i - start;
            let gx = (local % gw) as f32;
            let gy = (local / gw) as f32;
            BBox::from_cxcywh(
                (r[0] + gx) * s,
                (r[1] + gy) * s,
                r[2].exp() * s,
                r[3].exp() * s,
            )
        },
    )
}

/// End-to-end exports with NMS inside the graph (YOLOv10, YOLO26, ultralytics `nms=True`).
///
/// Layout `[batch, detections, 6]`: each row is x1, y1, x2, y2, score, class id (as a float).
/// Rows scoring below the threshold (including zero padding rows) and rows whose class id is
/// not an integer in `0..num_classes` are skipped.
pub fn end_to_end(
    data: &[f32],
    shape: &[usize],
    num_classes: usize,
    score_threshold: f32,
) -> Result<Vec<Vec<Detection>>, DecodeError> {
    let &[batch, k, 6] = shape else {
        return Err(shape_error(
            "end-to-end",
            "[batch, detections, 6] (x1, y1, x2, y2, score, class)".to_owned(),
            shape,
        ));
    };
    check_len(data, shape)?;
    let mut out = Vec::with_capacity(batch);
    for b in 0..batch {
        let item = &data[b * k * 6..(b + 1) * k * 6];
        let dets = item
            .chunks_exact(6)
            .filter_map(|r| {
                let score = r[4];
                let class = r[5];
                let class_ok = class >= 0.0 && class.fract() == 0.0 && class < num_classes as f32;
                (score >= score_threshold && class_ok).then(|| Detection {
                    bbox: BBox::new(r[0], r[1], r[2], r[3]),
                    score,
                    class_id: class as usize,
                })
            })
            .collect();
        out.push(dets);
    }
    Ok(out)
}

/// Parses the `names` metadata value ultralytics writes into its ONNX exports, a Python dict
/// literal such as `{0: 'person', 1: 'bicycle', 2: "it's"}`.
///
/// Keys are integers, values single- or double-quoted strings with Python escapes (`\'`, `\"`,
/// `\\`, `\n`, `\t`, `\r`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`; any other backslash is kept as is,
/// as Python does). Returns the names ordered by key, or `None` when the text is not such a dict
/// or its keys are not exactly 0..n-1.
pub fn parse_ultralytics_names(s: &str) -> Option<Vec<String>> {
    let mut p = Parser {
        chars: s.chars().peekable(),
    };
    p.skip_ws();
    p.require('{')?;
    let mut entries: Vec<(u64, String)> = Vec::new();
    loop {
        p.skip_ws();
        if p.eat('}') {
            break;
        }
        let key = p.integer()?;
        p.skip_ws();
        p.require(':')?;
        p.skip_ws();
        let value = p.string()?;
        entries.push((key, value));
        p.skip_ws();
        if p.eat(',') {
            continue;
        }
        p.require('}')?;
        break;
    }
    p.skip_ws();
    if p.chars.next().is_some() {
        return None;
    }
    entries.sort_by_key(|&(k, _)| k);
    let in_order = entries
        .iter()
        .enumerate()
        .all(|(i, &(k, _))| u64::try_from(i).is_ok_and(|i| i == k));
    in_order.then(|| entries.into_iter().map(|(_, v)| v).collect())
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.chars.next_if(|c| c.is_whitespace()).is_some() {}
    }

    fn eat(&mut self, c: char) -> bool {
        self.chars.next_if_eq(&c).is_some()
    }

    fn require(&mut self, c: char) -> Option<()> {
        self.eat(c).then_some(())
    }

    fn integer(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        let mut digits = 0;
        while let Some(d) = self.chars.next_if(char::is_ascii_digit) {
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(d.to_digit(10)?))?;
            digits += 1;
        }
        (digits > 0).then_some(value)
    }

    fn hex(&mut self, len: usize) -> Option<char> {
        let mut value = 0u32;
        for _ in 0..len {
            value = value * 16 + self.chars.next()?.to_digit(16)?;
        }
        char::from_u32(value)
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.chars.next_if(|&c| c == '\'' || c == '"')?;
        let mut out = String::new();
        loop {
            match self.chars.next()? {
                c if c == quote => return Some(out),
                '\\' => match self.chars.next()? {
                    c @ ('\\' | '\'' | '"') => out.push(c),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'x' => out.push(self.hex(2)?),
                    'u' => out.push(self.hex(4)?),
                    'U' => out.push(self.hex(8)?),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                },
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-4
    }

    fn assert_det(d: &Detection, bbox: [f32; 4], score: f32, class_id: usize) {
        let got = [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2];
        assert!(
            got.iter().zip(bbox).all(|(&g, e)| close(g, e)) && close(d.score, score),
            "got {d:?}, expected {bbox:?} score {score}"
        );
        assert_eq!(d.class_id, class_id, "class of {d:?}");
    }

    /// Same values as `models/fixtures/yolov8.onnx`: [1, 7, 3], rows cx, cy, w, h, s0, s1, s2.
    #[rustfmt::skip]
    const YOLOV8: [f32; 21] = [
        20.0, 40.0, 10.0, // cx
        30.0, 40.0, 50.0, // cy
        10.0, 16.0, 6.0,  // w
        20.0, 8.0, 6.0,   // h
        0.9, 0.2, 0.1,    // class 0
        0.05, 0.1, 0.2,   // class 1
        0.1, 0.75, 0.15,  // class 2
    ];

    #[test]
    fn yolov8_hand_computed() {
        let out = yolov8(&YOLOV8, &[1, 7, 3], 3, 0.25).unwrap();
        assert_eq!(out.len(), 1);
        let d = &out[0];
        assert_eq!(d.len(), 2, "{d:?}");
        assert_det(&d[0], [15.0, 20.0, 25.0, 40.0], 0.9, 0);
        assert_det(&d[1], [32.0, 36.0, 48.0, 44.0], 0.75, 2);
        // A threshold equal to a score keeps it.
        let out = yolov8(&YOLOV8, &[1, 7, 3], 3, 0.2).unwrap();
        assert_eq!(out[0].len(), 3);
        assert_det(&out[0][2], [7.0, 47.0, 13.0, 53.0], 0.2, 1);
    }

    #[test]
    fn yolov8_batches_are_separate() {
        let mut data = YOLOV8.to_vec();
        let mut second = YOLOV8;
        second[12] = 0.0; // box 0 of item 1 loses its class-0 score
        data.extend_from_slice(&second);
        let out = yolov8(&data, &[2, 7, 3], 3, 0.25).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].len(), 2);
        assert_eq!(out[1].len(), 1);
        assert_det(&out[1][0], [32.0, 36.0, 48.0, 44.0], 0.75, 2);
        // No boxes at all.
        assert_eq!(
            yolov8(&[], &[2, 7, 0], 3, 0.25).unwrap(),
            vec![vec![], vec![]]
        );
    }

    #[test]
    fn yolov8_wrong_shapes() {
        assert!(yolov8(&[0.0; 700], &[1, 7, 100], 3, 0.25).is_ok());
        let err = yolov8(&[0.0; 700], &[1, 7, 100], 2, 0.25).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output has shape [1, 7, 100]; yolov8 expects [batch, 4 + classes, boxes] with classes = 2"
        );
        // Transposed (YOLOv5-style) output.
        assert!(matches!(
            yolov8(&YOLOV8, &[1, 3, 7], 3, 0.25),
            Err(DecodeError::Shape { .. })
        ));
        assert!(matches!(
            yolov8(&YOLOV8, &[7, 3], 3, 0.25),
            Err(DecodeError::Shape { .. })
        ));
        assert!(matches!(
            yolov8(&YOLOV8[..20], &[1, 7, 3], 3, 0.25),
            Err(DecodeError::Length { .. })
        ));
    }

    /// Same values as `models/fixtures/yolov5.onnx`: [1, 3, 8].
    #[rustfmt::skip]
    const YOLOV5: [f32; 24] = [
        32.0, 32.0, 20.0, 10.0, 0.8, 0.1, 0.9, 0.2,
        10.0, 12.0, 8.0, 8.0,   0.5, 0.6, 0.2, 0.1,
        50.0, 50.0, 10.0, 10.0, 0.2, 0.9, 0.1, 0.1,
    ];

    #[test]
    fn yolov5_and_yolox_decoded_hand_computed() {
        for decode in [yolov5, yolox_decoded] {
            let out = decode(&YOLOV5, &[1, 3, 8], 3, 0.25).unwrap();
            let d = &out[0];
            assert_eq!(d.len(), 2, "{d:?}");
            assert_det(&d[0], [22.0, 27.0, 42.0, 37.0], 0.72, 1);
            assert_det(&d[1], [6.0, 8.0, 14.0, 16.0], 0.3, 0);
        }
    }

    #[test]
    fn yolov5_wrong_shapes() {
        let err = yolov5(&YOLOV5, &[1, 8, 3], 3, 0.25).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output has shape [1, 8, 3]; yolov5 expects [batch, boxes, 5 + classes] with classes = 3"
        );
        assert!(matches!(
            yolov5(&YOLOV5, &[1, 3, 8], 4, 0.25),
            Err(DecodeError::Shape { .. })
        ));
        assert!(matches!(
            yolox_decoded(&YOLOV5, &[1, 4, 8], 3, 0.25),
            Err(DecodeError::Length { .. })
        ));
    }

    /// Same values as `models/fixtures/yolox_raw.onnx`: [1, 84, 8], strides 8, 16, 32 on 64×64.
    fn yolox_raw_data() -> Vec<f32> {
        let mut data = vec![0.0f32; 84 * 8];
        let mut set = |anchor: usize, row: [f32; 8]| {
            data[anchor * 8..anchor * 8 + 8].copy_from_slice(&row);
        };
        // Stride 8, cell (gx 3, gy 2): anchor 2·8 + 3 = 19.
        set(19, [0.5, 0.25, 2f32.ln(), 0.0, 0.9, 0.1, 0.8, 0.3]);
        // Stride 16, cell (1, 2): anchor 64 + 2·4 + 1 = 73.
        set(73, [0.0, 0.5, 0.0, 1.5f32.ln(), 0.6, 0.9, 0.1, 0.1]);
        // Stride 32, cell (1, 1): anchor 64 + 16 + 1·2 + 1 = 83; score 0.15, below 0.25.
        set(83, [0.0, 0.0, 0.0, 0.0, 0.3, 0.2, 0.2, 0.5]);
        data
    }

    #[test]
    fn yolox_raw_grid() {
        let data = yolox_raw_data();
        let out = yolox_raw(&data, &[1, 84, 8], 3, 64, 64, &[8, 16, 32], 0.25).unwrap();
        let d = &out[0];
        assert_eq!(d.len(), 2, "{d:?}");
        // cx = (0.5 + 3)·8 = 28, cy = (0.25 + 2)·8 = 18, w = 2·8 = 16, h = 8.
        assert_det(&d[0], [20.0, 14.0, 36.0, 22.0], 0.72, 1);
        // cx = 16, cy = 2.5·16 = 40, w = 16, h = 1.5·16 = 24.
        assert_det(&d[1], [8.0, 28.0, 24.0, 52.0], 0.54, 0);
        let out = yolox_raw(&data, &[1, 84, 8], 3, 64, 64, &[8, 16, 32], 0.1).unwrap();
        assert_det(&out[0][2], [16.0, 16.0, 48.0, 48.0], 0.15, 2);
    }

    #[test]
    fn yolox_raw_non_square_input() {
        // 64 wide, 32 high, strides 16 and 32: grids 4×2 then 2×1 → 10 anchors.
        let mut data = vec![0.0f32; 10 * 6];
        // Stride 16, cell (gx 3, gy 1) → anchor 1·4 + 3 = 7.
        data[7 * 6..8 * 6].copy_from_slice(&[0.5, 0.5, 0.0, 0.0, 1.0, 1.0]);
        // Stride 32, cell (1, 0) → anchor 8 + 1 = 9.
        data[9 * 6..10 * 6].copy_from_slice(&[0.0, 0.0, 0.0, 0.0, 0.5, 1.0]);
        let out = yolox_raw(&data, &[1, 10, 6], 1, 64, 32, &[16, 32], 0.25).unwrap();
        assert_det(&out[0][0], [48.0, 16.0, 64.0, 32.0], 1.0, 0);
        assert_det(&out[0][1], [16.0, -16.0, 48.0, 16.0], 0.5, 0);
    }

    #[test]
    fn yolox_raw_wrong_anchor_count() {
        let data = vec![0.0f32; 85 * 8];
        let err = yolox_raw(&data, &[1, 85, 8], 3, 64, 64, &[8, 16, 32], 0.25).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output has shape [1, 85, 8]; yolox (raw) expects [batch, boxes, 5 + classes] with \
             boxes = 84 (input 64x64, strides [8, 16, 32]) and classes = 3"
        );
        let data = yolox_raw_data();
        assert!(matches!(
            yolox_raw(&data, &[1, 84, 8], 3, 64, 64, &[8, 0], 0.25),
            Err(DecodeError::Parameter(_))
        ));
        assert!(matches!(
            yolox_raw(&data, &[1, 84, 8], 2, 64, 64, &[8, 16, 32], 0.25),
            Err(DecodeError::Shape { .. })
        ));
    }

    /// Same values as `models/fixtures/end2end.onnx`: [1, 4, 6].
    #[rustfmt::skip]
    const END2END: [f32; 24] = [
        5.0, 6.0, 25.0, 30.0, 0.95, 0.0,
        30.0, 10.0, 60.0, 40.0, 0.6, 2.0,
        0.0, 0.0, 10.0, 10.0, 0.1, 1.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ];

    #[test]
    fn end_to_end_hand_computed() {
        let out = end_to_end(&END2END, &[1, 4, 6], 3, 0.25).unwrap();
        let d = &out[0];
        assert_eq!(d.len(), 2, "{d:?}");
        assert_det(&d[0], [5.0, 6.0, 25.0, 30.0], 0.95, 0);
        assert_det(&d[1], [30.0, 10.0, 60.0, 40.0], 0.6, 2);
        // Class 2 is out of range for a 2-class model; class 0.5 and -1 are not class ids.
        let out = end_to_end(&END2END, &[1, 4, 6], 2, 0.25).unwrap();
        assert_eq!(out[0].len(), 1);
        let mut odd = END2END;
        odd[5] = 0.5;
        odd[11] = -1.0;
        assert!(end_to_end(&odd, &[1, 4, 6], 3, 0.25).unwrap()[0].is_empty());
    }

    #[test]
    fn end_to_end_wrong_shapes() {
        let err = end_to_end(&END2END, &[1, 6, 4], 3, 0.25).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output has shape [1, 6, 4]; end-to-end expects [batch, detections, 6] \
             (x1, y1, x2, y2, score, class)"
        );
        assert!(matches!(
            end_to_end(&END2END, &[1, 5, 6], 3, 0.25),
            Err(DecodeError::Length { .. })
        ));
    }

    #[test]
    fn nan_scores_never_pass() {
        let mut data = YOLOV8;
        data[12] = f32::NAN;
        let out = yolov8(&data, &[1, 7, 3], 3, 0.0).unwrap();
        // Box 0 falls back to its best real class score (class 2, 0.1).
        assert_eq!(out[0][0].class_id, 2);
        assert!(out[0].iter().all(|d| !d.score.is_nan()));
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            parse_ultralytics_names(
                "{0: 'street_vending', 1: 'sidewalk_stacking', 2: 'illegal_signage'}"
            ),
            Some(vec![
                "street_vending".to_owned(),
                "sidewalk_stacking".to_owned(),
                "illegal_signage".to_owned()
            ])
        );
        assert_eq!(
            parse_ultralytics_names(
                r#"{1: "it's", 0: 'say \'hi\'', 2: 'a\\b', 3: "q\"", 4: 'caf\xe9 \u00e9'}"#
            ),
            Some(vec![
                "say 'hi'".to_owned(),
                "it's".to_owned(),
                "a\\b".to_owned(),
                "q\"".to_owned(),
                "café é".to_owned(),
            ])
        );
        assert_eq!(
            parse_ultralytics_names(" {\n0:'a' ,\n1 : 'b',}\n"),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(parse_ultralytics_names("{}"), Some(vec![]));
        assert_eq!(
            parse_ultralytics_names("{0: 'person: a, b}'}"),
            Some(vec!["person: a, b}".to_owned()])
        );
    }

    #[test]
    fn names_reject() {
        for bad in [
            "",
            "{0: 'a', 2: 'c'}",
            "{1: 'a'}",
            "{0: 'a', 0: 'b'}",
            "{0: 'a'",
            "{0: 'a'} x",
            "{0: a}",
            "{-1: 'a'}",
            "{0: 'a\"}",
            "['a', 'b']",
            "{99999999999999999999999: 'a'}",
            "{0: 'a' 1: 'b'}",
        ] {
            assert_eq!(parse_ultralytics_names(bad), None, "{bad:?}");
        }
    }
}
