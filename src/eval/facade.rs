//! Part 4: the facade photos' val split (real street-level photos, YOLO labels). The signs are
//! the labelled `cantilever`, `signboard` and `win_ad` boxes; a sign is found when a box of the
//! detector has IoU ≥ 0.1 with it. The detectors: (a) the object model's `illegal_signage`
//! boxes at its threshold, (b) the text detector's boxes on the whole photo, (c) the text
//! detector on ×[`TEXT_TILE_SCALE`] tiles of the whole photo (as a camera runs it on tiles of its
//! wall band: a window advert's letters are a few pixels high once a photo is shrunk to the
//! model's input), (d) (a) or (b), (e) (a) or (c). Each photo is given to the models at its own
//! size (they letterbox it), pixels as stored (no EXIF orientation).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::metrics::facade_found;
use super::report::Rate;
use super::Loaded;
use crate::domain::BBox;
use crate::inference::model::ImageRef;
use crate::inference::TiledFrame;

/// Class ids of `data.yaml`'s `names` that are signs, with their names.
pub const SIGN_CLASSES: [(usize, &str); 3] = [(1, "cantilever"), (3, "signboard"), (4, "win_ad")];

/// Tiling factor of detector (c).
pub const TEXT_TILE_SCALE: f32 = 2.0;

/// Part 4.
#[derive(Debug, Clone, Serialize)]
pub struct FacadeReport {
    pub images: usize,
    pub signs: usize,
    /// One row per sign class, then `all`.
    pub rows: Vec<FacadeRow>,
    pub objects_model: Option<String>,
    pub text_model: Option<String>,
    /// Boxes the text detector gave per photo on the whole photo and on tiles: the labels are
    /// incomplete, so precision is not measured, but more boxes make recall cheaper.
    pub text_boxes_per_image: Option<f64>,
    pub tiled_boxes_per_image: Option<f64>,
}

/// Recall of one sign class by each detector (`None`: that detector was not run).
#[derive(Debug, Clone, Serialize)]
pub struct FacadeRow {
    pub class: String,
    pub signs: usize,
    pub objects: Option<Rate>,
    pub text: Option<Rate>,
    pub text_tiled: Option<Rate>,
    /// Object model or text on the whole photo.
    pub either: Rate,
    /// Object model or text on tiles.
    pub either_tiled: Rate,
}

/// One labelled sign.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sign {
    pub class: usize,
    pub bbox: BBox,
}

/// Reads a YOLO label file's sign boxes, in pixels of a `width` × `height` image.
pub fn parse_labels(text: &str, width: u32, height: u32) -> Vec<Sign> {
    let (w, h) = (width as f32, height as f32);
    text.lines()
        .filter_map(|line| {
            let v: Vec<&str> = line.split_whitespace().collect();
            if v.len() < 5 {
                return None;
            }
            let class: usize = v[0].parse().ok()?;
            SIGN_CLASSES.iter().find(|(c, _)| *c == class)?;
            let n: Vec<f32> = v[1..5].iter().filter_map(|s| s.parse().ok()).collect();
            (n.len() == 4).then(|| Sign {
                class,
                bbox: BBox::from_cxcywh(n[0] * w, n[1] * h, n[2] * w, n[3] * h),
            })
        })
        .collect()
}

fn val_images(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let images = dir.join("images/val");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&images)
        .with_context(|| {
            format!(
                "cannot read {} (the facade-signs data set)",
                images.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Runs part 4 on `dir` (the facade-signs folder).
pub fn run(
    dir: &Path,
    mut objects: Option<&mut Loaded>,
    mut text: Option<&mut Loaded>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<FacadeReport> {
    let paths = val_images(dir)?;
    anyhow::ensure!(
        !paths.is_empty(),
        "no images in {}",
        dir.join("images/val").display()
    );
    let signage = objects.as_ref().and_then(|m| {
        m.model
            .classes()
            .iter()
            .position(|c| c == "illegal_signage")
    });
    // the object model is opened with the manifest's thresholds, so this is the pipeline's
    let sign_threshold = objects
        .as_ref()
        .map_or(0.0, |m| m.threshold_for("illegal_signage"));
    // class → (signs, found by objects, text, text on tiles, objects or text, objects or tiles)
    let mut counts: BTreeMap<usize, [usize; 6]> = BTreeMap::new();
    let mut images = 0usize;
    let (mut text_boxes_total, mut tiled_boxes_total) = (0usize, 0usize);
    for (i, path) in paths.iter().enumerate() {
        if i % 10 == 0 {
            progress(&format!("eval: facade photos {}/{}", i + 1, paths.len()));
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let label = dir.join("labels/val").join(format!("{stem}.txt"));
        let label_text = std::fs::read_to_string(&label).unwrap_or_default();
        let img = image::ImageReader::open(path)
            .with_context(|| format!("cannot open {}", path.display()))?
            .with_guessed_format()?
            .decode()
            .with_context(|| format!("cannot decode {}", path.display()))?
            .to_rgb8();
        let (w, h) = img.dimensions();
        let signs = parse_labels(&label_text, w, h);
        images += 1;
        let image = ImageRef {
            rgb: img.as_raw(),
            width: w,
            height: h,
        };
        let object_boxes: Option<Vec<BBox>> = match objects.as_deref_mut() {
            Some(m) => {
                let (out, _) = m.model.run(&[image])?;
                Some(
                    out.into_iter()
                        .next()
                        .unwrap_or_default()
                        .detections
                        .into_iter()
                        .filter(|d| Some(d.class_id) == signage && d.score >= sign_threshold)
                        .map(|d| d.bbox)
                        .collect(),
                )
            }
            None => None,
        };
        let (text_boxes, tiled_boxes): (Option<Vec<BBox>>, Option<Vec<BBox>>) =
            match text.as_deref_mut() {
                Some(m) => {
                    let (out, _) = m.model.run(&[image])?;
                    let whole = out.into_iter().next().unwrap_or_default().detections;
                    let everywhere = BBox::new(0.0, 0.0, 1.0, 1.0);
                    let tiled = match TiledFrame::same(image, &everywhere, &[]) {
                        Some(tiled) => {
                            m.model
                                .run_with_tiles(&tiled, TEXT_TILE_SCALE)?
                                .0
                                .detections
                        }
                        None => Vec::new(),
                    };
                    (
                        Some(whole.into_iter().map(|d| d.bbox).collect()),
                        Some(tiled.into_iter().map(|d| d.bbox).collect()),
                    )
                }
                None => (None, None),
            };
        text_boxes_total += text_boxes.as_ref().map_or(0, Vec::len);
        tiled_boxes_total += tiled_boxes.as_ref().map_or(0, Vec::len);
        let hit = |boxes: &Option<Vec<BBox>>, s: &Sign| {
            boxes
                .as_ref()
                .is_some_and(|b| b.iter().any(|d| facade_found(d, &s.bbox)))
        };
        for s in &signs {
            let (a, b, t) = (
                hit(&object_boxes, s),
                hit(&text_boxes, s),
                hit(&tiled_boxes, s),
            );
            let c = counts.entry(s.class).or_default();
            c[0] += 1;
            c[1] += usize::from(a);
            c[2] += usize::from(b);
            c[3] += usize::from(t);
            c[4] += usize::from(a || b);
            c[5] += usize::from(a || t);
        }
    }
    let row = |name: &str, c: [usize; 6]| FacadeRow {
        class: name.to_string(),
        signs: c[0],
        objects: objects.is_some().then(|| Rate::new(c[1], c[0])),
        text: text.is_some().then(|| Rate::new(c[2], c[0])),
        text_tiled: text.is_some().then(|| Rate::new(c[3], c[0])),
        either: Rate::new(c[4], c[0]),
        either_tiled: Rate::new(c[5], c[0]),
    };
    let mut rows = Vec::new();
    let mut all = [0usize; 6];
    for (class, name) in SIGN_CLASSES {
        let c = counts.get(&class).copied().unwrap_or_default();
        for (t, v) in all.iter_mut().zip(c) {
            *t += v;
        }
        rows.push(row(name, c));
    }
    rows.push(row("all signs", all));
    Ok(FacadeReport {
        images,
        signs: all[0],
        rows,
        objects_model: objects.map(|m| m.name.clone()),
        text_boxes_per_image: text
            .is_some()
            .then(|| text_boxes_total as f64 / images.max(1) as f64),
        tiled_boxes_per_image: text
            .is_some()
            .then(|| tiled_boxes_total as f64 / images.max(1) as f64),
        text_model: text.map(|m| m.name.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_signs_only_in_pixels() {
        let text =
            "0 0.5 0.5 0.1 0.1\n3 0.5 0.25 0.5 0.1\n4 0.1 0.1 0.2 0.2\nbad line\n1 0.9 0.9 0.1";
        let signs = parse_labels(text, 200, 100);
        assert_eq!(signs.len(), 2);
        assert_eq!(signs[0].class, 3);
        assert_eq!(signs[0].bbox, BBox::new(50.0, 20.0, 150.0, 30.0));
        assert_eq!(signs[1].class, 4);
    }
}
