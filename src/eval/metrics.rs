//! The pure arithmetic of `gridsight eval`: IoU matching, VOC-style average precision, the
//! recall matchers of each figure, and the static-region tracker behind the false-detection
//! count. No I/O; every function here is covered by the unit tests at the bottom.

use serde::Serialize;

use crate::domain::BBox;

/// A ground-truth box; `ignore` marks objects too hidden to demand (VOC's "difficult"): missing
/// them costs nothing, and a detection that matches one is neither right nor wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GtBox {
    pub bbox: BBox,
    pub ignore: bool,
}

/// A detection box with its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredBox {
    pub bbox: BBox,
    pub score: f32,
}

/// Whether the point lies inside the box (edges included).
pub fn contains(b: &BBox, x: f32, y: f32) -> bool {
    b.x1 <= x && x <= b.x2 && b.y1 <= y && y <= b.y2
}

/// What happened to one detection when matched against an image's ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Matched a ground-truth object not matched before.
    TruePositive,
    /// Matched nothing, or an object already taken by a higher-scoring detection.
    FalsePositive,
    /// Its best match is an ignored object: left out of the count.
    Ignored,
}

/// Greedy VOC matching of one image and one class: detections in descending score order each
/// take the ground-truth box they overlap most (among all, ignored included); at IoU ≥
/// `min_iou` an unmatched box makes a true positive, an ignored box makes the detection
/// ignored, an already matched box a false positive. Returns one outcome per detection, in the
/// order given.
pub fn match_image(detections: &[ScoredBox], truth: &[GtBox], min_iou: f32) -> Vec<Outcome> {
    match_both_ways(detections, truth, min_iou).0
}

/// [`match_image`]'s outcomes, and the same matching seen from the ground truth: whether each
/// box was taken by a detection (a true positive; ignored boxes are never taken).
pub fn match_both_ways(
    detections: &[ScoredBox],
    truth: &[GtBox],
    min_iou: f32,
) -> (Vec<Outcome>, Vec<bool>) {
    let mut order: Vec<usize> = (0..detections.len()).collect();
    order.sort_by(|&a, &b| detections[b].score.total_cmp(&detections[a].score));
    let mut taken = vec![false; truth.len()];
    let mut out = vec![Outcome::FalsePositive; detections.len()];
    for i in order {
        let best = truth
            .iter()
            .enumerate()
            .map(|(k, g)| (k, g.bbox.iou(&detections[i].bbox)))
            .filter(|&(_, iou)| iou >= min_iou)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        out[i] = match best {
            Some((k, _)) if truth[k].ignore => Outcome::Ignored,
            Some((k, _)) if !taken[k] => {
                taken[k] = true;
                Outcome::TruePositive
            }
            _ => Outcome::FalsePositive,
        };
    }
    (out, taken)
}

/// Detections of one class over many images, matched, ready for AP and precision/recall.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassTally {
    /// `(score, true positive?)` of every detection that was not ignored.
    scored: Vec<(f32, bool)>,
    /// Ground-truth objects that count (not ignored).
    pub positives: usize,
    /// Ground-truth objects left out as ignored.
    pub ignored: usize,
}

/// Precision and recall at one score threshold, with the counts behind them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrecisionRecall {
    pub threshold: f32,
    pub true_positives: usize,
    pub false_positives: usize,
    pub positives: usize,
    /// `None` without any detection at the threshold.
    pub precision: Option<f64>,
    /// `None` without any ground-truth object.
    pub recall: Option<f64>,
}

impl ClassTally {
    /// Adds one image: its detections of this class and its ground truth of this class.
    pub fn add_image(&mut self, detections: &[ScoredBox], truth: &[GtBox], min_iou: f32) {
        let outcomes = match_image(detections, truth, min_iou);
        for (d, o) in detections.iter().zip(outcomes) {
            match o {
                Outcome::TruePositive => self.scored.push((d.score, true)),
                Outcome::FalsePositive => self.scored.push((d.score, false)),
                Outcome::Ignored => {}
            }
        }
        self.positives += truth.iter().filter(|g| !g.ignore).count();
        self.ignored += truth.iter().filter(|g| g.ignore).count();
    }

    /// Detections counted (ignored ones left out).
    pub fn detections(&self) -> usize {
        self.scored.len()
    }

    /// VOC all-point interpolated average precision: the area under the precision–recall curve
    /// after making precision monotonically non-increasing. `None` without ground truth.
    pub fn average_precision(&self) -> Option<f64> {
        if self.positives == 0 {
            return None;
        }
        let mut scored = self.scored.clone();
        // Stable: equal scores keep their arrival order.
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (mut tp, mut fp) = (0usize, 0usize);
        let mut recall = vec![0.0];
        let mut precision = vec![0.0];
        for &(_, hit) in &scored {
            if hit {
                tp += 1;
            } else {
                fp += 1;
            }
            recall.push(tp as f64 / self.positives as f64);
            precision.push(tp as f64 / (tp + fp) as f64);
        }
        recall.push(1.0);
        precision.push(0.0);
        for i in (0..precision.len() - 1).rev() {
            precision[i] = precision[i].max(precision[i + 1]);
        }
        Some(
            (1..recall.len())
                .map(|i| (recall[i] - recall[i - 1]) * precision[i])
                .sum(),
        )
    }

    /// Precision and recall counting only detections scoring at least `threshold`.
    pub fn at_threshold(&self, threshold: f32) -> PrecisionRecall {
        let kept = self.scored.iter().filter(|(s, _)| *s >= threshold);
        let (tp, fp) = kept.fold(
            (0, 0),
            |(tp, fp), &(_, hit)| {
                if hit {
                    (tp + 1, fp)
                } else {
                    (tp, fp + 1)
                }
            },
        );
        PrecisionRecall {
            threshold,
            true_positives: tp,
            false_positives: fp,
            positives: self.positives,
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, self.positives),
        }
    }
}

/// `num / den`, or `None` when `den` is 0.
pub fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Median of the values (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The static-object matcher: the detection has IoU ≥ 0.3 with the object, or its box contains
/// the object's bottom centre (where it stands).
pub fn static_found(detection: &BBox, object: &BBox) -> bool {
    detection.iou(object) >= 0.3 || contains(detection, (object.x1 + object.x2) / 2.0, object.y2)
}

/// The poster matcher: the text box has IoU ≥ 0.1 with the poster, or lies mostly (≥ 50 % of
/// its own area) inside it.
pub fn text_found(text: &BBox, poster: &BBox) -> bool {
    text.iou(poster) >= 0.1 || text.share_inside(poster) >= 0.5
}

/// The facade matcher: IoU ≥ 0.1.
pub fn facade_found(detection: &BBox, sign: &BBox) -> bool {
    detection.iou(sign) >= 0.1
}

/// Follows static regions over time to count distinct ones: a reported box continues the
/// region whose last box it overlaps most (IoU ≥ `min_iou`, seen within `max_gap_s`), else it
/// starts a new region. A region counts as matched when any of its boxes matched a
/// ground-truth object.
#[derive(Debug, Clone)]
pub struct RegionTracker {
    min_iou: f32,
    max_gap_s: f64,
    regions: Vec<Region>,
}

/// One distinct static region.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub first_s: f64,
    pub last_s: f64,
    pub last: BBox,
    pub matched: bool,
    /// Boxes reported for it.
    pub reports: usize,
}

impl RegionTracker {
    pub fn new(min_iou: f32, max_gap_s: f64) -> Self {
        Self {
            min_iou,
            max_gap_s,
            regions: Vec::new(),
        }
    }

    /// The boxes the detector reported at `t_s`, each with whether it matched a ground-truth
    /// object. Calls come in time order. Returns the index in [`Self::regions`] of the region
    /// each box went to.
    pub fn update(&mut self, t_s: f64, boxes: &[(BBox, bool)]) -> Vec<usize> {
        let mut used = vec![false; self.regions.len()];
        let mut went_to = Vec::with_capacity(boxes.len());
        for &(bbox, matched) in boxes {
            let best = self
                .regions
                .iter()
                .enumerate()
                .filter(|(k, r)| !used[*k] && t_s - r.last_s <= self.max_gap_s)
                .map(|(k, r)| (k, r.last.iou(&bbox)))
                .filter(|&(_, iou)| iou >= self.min_iou)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((k, _)) => {
                    used[k] = true;
                    let r = &mut self.regions[k];
                    r.last = bbox;
                    r.last_s = t_s;
                    r.matched |= matched;
                    r.reports += 1;
                    went_to.push(k);
                }
                None => {
                    went_to.push(self.regions.len());
                    self.regions.push(Region {
                        first_s: t_s,
                        last_s: t_s,
                        last: bbox,
                        matched,
                        reports: 1,
                    });
                    used.push(true);
                }
            }
        }
        went_to
    }

    /// Every region seen so far.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Regions that never matched a ground-truth object.
    pub fn unmatched(&self) -> usize {
        self.regions.iter().filter(|r| !r.matched).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox::new(x1, y1, x2, y2)
    }

    fn gt(x: f32) -> GtBox {
        GtBox {
            bbox: b(x, 0.0, x + 10.0, 10.0),
            ignore: false,
        }
    }

    fn det(x: f32, score: f32) -> ScoredBox {
        ScoredBox {
            bbox: b(x, 0.0, x + 10.0, 10.0),
            score,
        }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn perfect_detections_give_ap_one() {
        let mut t = ClassTally::default();
        t.add_image(&[det(0.0, 0.9), det(20.0, 0.8)], &[gt(0.0), gt(20.0)], 0.5);
        t.add_image(&[det(40.0, 0.7)], &[gt(40.0)], 0.5);
        assert!(close(t.average_precision(), 1.0));
        let pr = t.at_threshold(0.5);
        assert_eq!(
            (pr.true_positives, pr.false_positives, pr.positives),
            (3, 0, 3)
        );
        assert!(close(pr.precision, 1.0) && close(pr.recall, 1.0));
    }

    #[test]
    fn one_missed_object_caps_recall() {
        let mut t = ClassTally::default();
        t.add_image(&[det(0.0, 0.9)], &[gt(0.0), gt(20.0)], 0.5);
        assert!(close(t.average_precision(), 0.5));
        let pr = t.at_threshold(0.25);
        assert!(close(pr.recall, 0.5) && close(pr.precision, 1.0));
    }

    #[test]
    fn a_false_positive_costs_by_its_rank() {
        // FP ranked first: P = 0, 1/2, 2/3 at recalls 0, 1/2, 1 → envelope 2/3 everywhere.
        let mut t = ClassTally::default();
        t.add_image(
            &[det(100.0, 0.95), det(0.0, 0.9), det(20.0, 0.8)],
            &[gt(0.0), gt(20.0)],
            0.5,
        );
        assert!(close(t.average_precision(), 2.0 / 3.0));
        // FP ranked last: both objects found at precision 1 first → AP 1.
        let mut t = ClassTally::default();
        t.add_image(
            &[det(100.0, 0.1), det(0.0, 0.9), det(20.0, 0.8)],
            &[gt(0.0), gt(20.0)],
            0.5,
        );
        assert!(close(t.average_precision(), 1.0));
        let pr = t.at_threshold(0.05);
        assert_eq!((pr.true_positives, pr.false_positives), (2, 1));
        assert!(close(pr.precision, 2.0 / 3.0));
        // The threshold drops it.
        assert!(close(t.at_threshold(0.5).precision, 1.0));
    }

    #[test]
    fn duplicates_are_false_positives() {
        let mut t = ClassTally::default();
        t.add_image(&[det(0.0, 0.9), det(1.0, 0.8)], &[gt(0.0)], 0.5);
        assert_eq!(t.at_threshold(0.0).false_positives, 1);
        assert!(close(t.average_precision(), 1.0));
    }

    #[test]
    fn match_both_ways_marks_the_objects_the_matching_took() {
        let hidden = GtBox {
            bbox: b(50.0, 0.0, 60.0, 10.0),
            ignore: true,
        };
        // Two detections on the first object take it once; the second object has only a
        // detection at IoU 1/3; the hidden one is never taken.
        let truth = [gt(0.0), gt(20.0), hidden];
        let dets = [det(0.0, 0.9), det(1.0, 0.8), det(25.0, 0.7), det(50.0, 0.6)];
        assert_eq!(match_both_ways(&dets, &truth, 0.5).1, [true, false, false]);
        assert_eq!(
            match_image(&dets, &truth, 0.5),
            [
                Outcome::TruePositive,
                Outcome::FalsePositive,
                Outcome::FalsePositive,
                Outcome::Ignored
            ]
        );
        assert_eq!(match_both_ways(&[], &truth, 0.5).1, [false, false, false]);
    }

    #[test]
    fn ignored_objects_neither_count_nor_punish() {
        let hidden = GtBox {
            bbox: b(50.0, 0.0, 60.0, 10.0),
            ignore: true,
        };
        let mut t = ClassTally::default();
        // A detection on the ignored object is dropped; missing it costs nothing.
        t.add_image(&[det(0.0, 0.9), det(50.0, 0.95)], &[gt(0.0), hidden], 0.5);
        t.add_image(&[], &[hidden], 0.5);
        assert_eq!(t.positives, 1);
        assert_eq!(t.ignored, 2);
        assert_eq!(t.detections(), 1);
        assert!(close(t.average_precision(), 1.0));
        // Without ground truth there is no AP.
        let mut none = ClassTally::default();
        none.add_image(&[det(0.0, 0.5)], &[hidden], 0.5);
        assert_eq!(none.average_precision(), None);
        assert_eq!(none.at_threshold(0.1).recall, None);
    }

    #[test]
    fn matching_takes_the_best_overlap_and_needs_the_threshold() {
        // The detection overlaps the second object more.
        let truth = [gt(0.0), gt(6.0)];
        let out = match_image(&[det(5.0, 0.9)], &truth, 0.5);
        assert_eq!(out, vec![Outcome::TruePositive]);
        // IoU of boxes shifted by 5 of 10 is 1/3: below 0.5, above 0.3.
        assert_eq!(
            match_image(&[det(5.0, 0.9)], &[gt(0.0)], 0.5),
            vec![Outcome::FalsePositive]
        );
        assert_eq!(
            match_image(&[det(5.0, 0.9)], &[gt(0.0)], 0.3),
            vec![Outcome::TruePositive]
        );
        // The higher score wins the object, whatever the input order.
        assert_eq!(
            match_image(&[det(0.0, 0.2), det(0.0, 0.9)], &[gt(0.0)], 0.5),
            vec![Outcome::FalsePositive, Outcome::TruePositive]
        );
    }

    #[test]
    fn recall_matchers() {
        let object = b(100.0, 100.0, 140.0, 200.0);
        // A small box around the feet: low IoU but holds the bottom centre.
        assert!(static_found(&b(110.0, 180.0, 130.0, 205.0), &object));
        assert!(!static_found(&b(100.0, 100.0, 140.0, 120.0), &object));
        assert!(static_found(&b(100.0, 110.0, 140.0, 200.0), &object));

        let poster = b(0.0, 0.0, 100.0, 100.0);
        // A line of text inside the poster: tiny IoU, fully inside.
        assert!(text_found(&b(10.0, 10.0, 60.0, 20.0), &poster));
        // Mostly outside.
        assert!(!text_found(&b(90.0, 10.0, 190.0, 20.0), &poster));
        // Overlapping enough by IoU.
        assert!(text_found(&b(50.0, 50.0, 150.0, 150.0), &poster));

        assert!(facade_found(
            &b(0.0, 0.0, 10.0, 10.0),
            &b(0.0, 0.0, 10.0, 20.0)
        ));
        assert!(!facade_found(
            &b(0.0, 0.0, 10.0, 10.0),
            &b(9.5, 0.0, 19.5, 10.0)
        ));
    }

    #[test]
    fn regions_are_followed_over_time_and_counted_once() {
        let mut r = RegionTracker::new(0.3, 10.0);
        let a = b(0.0, 0.0, 0.1, 0.1);
        let a2 = b(0.01, 0.0, 0.11, 0.1);
        let c = b(0.5, 0.5, 0.6, 0.6);
        r.update(0.0, &[(a, false)]);
        r.update(1.0, &[(a2, true), (c, false)]);
        r.update(2.0, &[(a2, false), (c, false)]);
        // After a gap longer than 10 s, the same place is a new region.
        r.update(20.0, &[(c, false)]);
        assert_eq!(r.regions().len(), 3);
        assert!(r.regions()[0].matched, "matched once is enough");
        assert_eq!(r.regions()[0].reports, 3);
        assert_eq!(r.unmatched(), 2);
        // Two boxes at the same time never merge into one region.
        let mut r = RegionTracker::new(0.3, 10.0);
        r.update(0.0, &[(a, false), (a2, false)]);
        assert_eq!(r.regions().len(), 2);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(ratio(1, 0), None);
    }
}
