//! Class-aware greedy non-maximum suppression for decoded detections.

use crate::domain::Detection;

/// Greedy NMS, class by class: walks the detections from the highest score down and keeps one
/// unless it overlaps an already kept box **of the same class** with IoU > `iou_threshold`.
/// Boxes of different classes never suppress each other.
///
/// Returns at most `max_detections` detections sorted by descending score (ties keep their input
/// order). Detections with a NaN score are dropped. O(n log n + n·k) for k kept boxes, with no
/// allocation beyond the output.
pub fn nms(mut dets: Vec<Detection>, iou_threshold: f32, max_detections: usize) -> Vec<Detection> {
    dets.retain(|d| !d.score.is_nan());
    // Stable sort: equal scores keep the caller's order, so results are deterministic.
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(max_detections.min(dets.len()));
    for det in dets {
        if kept.len() >= max_detections {
            break;
        }
        let suppressed = kept
            .iter()
            .any(|k| k.class_id == det.class_id && k.bbox.iou(&det.bbox) > iou_threshold);
        if !suppressed {
            kept.push(det);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BBox;

    fn det(x1: f32, y1: f32, x2: f32, y2: f32, score: f32, class_id: usize) -> Detection {
        Detection {
            bbox: BBox::new(x1, y1, x2, y2),
            score,
            class_id,
        }
    }

    #[test]
    fn suppresses_within_class_only() {
        let dets = vec![
            det(0.0, 0.0, 10.0, 10.0, 0.8, 0),
            det(1.0, 1.0, 11.0, 11.0, 0.9, 0), // IoU with the first: 81 / 119 ≈ 0.68
            det(1.0, 0.0, 11.0, 10.0, 0.7, 1), // same place, other class
            det(20.0, 20.0, 30.0, 30.0, 0.6, 0), // far away
        ];
        let out = nms(dets, 0.5, 100);
        let scores: Vec<f32> = out.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.7, 0.6]);
        assert_eq!(out[1].class_id, 1);
    }

    #[test]
    fn iou_threshold_is_strict() {
        // Two 10×10 boxes offset by 5: IoU = 50 / 150 = 1/3.
        let dets = vec![
            det(0.0, 0.0, 10.0, 10.0, 0.9, 0),
            det(5.0, 0.0, 15.0, 10.0, 0.8, 0),
        ];
        assert_eq!(nms(dets.clone(), 0.5, 10).len(), 2);
        assert_eq!(nms(dets.clone(), 0.3, 10).len(), 1);
        // Exactly at the threshold the box survives (suppress only when IoU > threshold).
        let iou = dets[0].bbox.iou(&dets[1].bbox);
        assert_eq!(nms(dets, iou, 10).len(), 2);
    }

    #[test]
    fn chain_is_greedy_not_transitive() {
        // A suppresses B, B would suppress C, but B is gone so C stays.
        let dets = vec![
            det(0.0, 0.0, 10.0, 10.0, 0.9, 0),
            det(4.0, 0.0, 14.0, 10.0, 0.8, 0), // IoU(A, B) = 60 / 140 ≈ 0.43
            det(8.0, 0.0, 18.0, 10.0, 0.7, 0), // IoU(A, C) = 20 / 180 ≈ 0.11
        ];
        let out = nms(dets, 0.4, 10);
        let scores: Vec<f32> = out.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.7]);
    }

    #[test]
    fn caps_sorts_and_drops_nan() {
        let dets: Vec<Detection> = (0..10)
            .map(|i| {
                det(
                    i as f32 * 20.0,
                    0.0,
                    i as f32 * 20.0 + 10.0,
                    10.0,
                    i as f32 / 10.0,
                    0,
                )
            })
            .chain(std::iter::once(det(0.0, 50.0, 5.0, 55.0, f32::NAN, 0)))
            .collect();
        let out = nms(dets.clone(), 0.5, 3);
        let scores: Vec<f32> = out.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.8, 0.7]);
        assert!(nms(dets, 0.5, 0).is_empty());
        assert!(nms(Vec::new(), 0.5, 10).is_empty());
    }

    #[test]
    fn identical_boxes_keep_the_first_of_equal_scores() {
        let dets = vec![
            det(0.0, 0.0, 10.0, 10.0, 0.5, 0),
            det(0.0, 0.0, 10.0, 10.0, 0.5, 0),
        ];
        let out = nms(dets, 0.5, 10);
        assert_eq!(out.len(), 1);
    }
}
