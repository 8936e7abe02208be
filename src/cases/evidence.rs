//! Evidence files: the full-resolution frame with the violation boxed and labelled (its event
//! code and name on a tag at the box; the camera, the time and the grid on a band across the
//! bottom, so the picture speaks for itself when it reaches the city's case system), the same
//! frame clean (`scene`, no box: what `dataset export` turns into training data), and a crop
//! around the object, JPEG-encoded and stored under the data directory by content hash
//! (`evidence/ab/abcdef….jpg`), so the same picture is never stored twice and a path says
//! nothing a viewer should not see.
//!
//! Files are written (to a temporary name, then renamed) before the case that refers to them is
//! committed, so a stored case never points at a missing file.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::model::{EvidenceKind, NewEvidence};
use crate::annotate::{color_for, draw_box, draw_caption, draw_label};
use crate::domain::BBox;

/// How a violation is marked on a picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Marking {
    /// The violation's box (pixels of the picture, or normalised where a caller says so).
    pub bbox: BBox,
    /// Picks the box's colour ([`color_for`]).
    pub class_id: usize,
    /// Written on a tag at the box, e.g. `0501 占道经营`.
    pub label: String,
}

/// JPEG quality of evidence pictures.
const QUALITY: u8 = 88;

/// Writes the annotated frame (the marking, and `caption` across the bottom: the camera, the
/// time), the clean frame and a crop of the marked box (pixels of `rgb`) under `data_dir`;
/// returns them in that order (no crop when the box is too small to cut out). Without the fonts
/// (a machine set up by hand) the frame has its box but no text, and a warning says so once.
pub fn write_frame_evidence(
    data_dir: &Path,
    rgb: &[u8],
    width: u32,
    height: u32,
    marking: &Marking,
    caption: &[String],
) -> std::io::Result<Vec<NewEvidence>> {
    let bbox = &marking.bbox;
    let mut annotated = rgb.to_vec();
    let thickness = (width / 400).max(2);
    let color = color_for(marking.class_id);
    draw_box(&mut annotated, width, height, bbox, color, thickness);
    match crate::fonts::fonts() {
        Ok(fonts) => {
            draw_label(
                &mut annotated,
                width,
                height,
                bbox,
                &marking.label,
                color,
                fonts,
            );
            draw_caption(&mut annotated, width, height, caption, fonts);
        }
        Err(e) => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(error = %e, "Evidence pictures get their box but no label or caption.");
            });
        }
    }
    let frame = store_jpeg(data_dir, &annotated, width, height, EvidenceKind::Frame)?;
    let scene = store_jpeg(data_dir, rgb, width, height, EvidenceKind::Scene)?;

    // The crop: the box with half its size again around it, so the context shows.
    let b = bbox.clamp(width as f32, height as f32);
    let (mx, my) = (b.width() * 0.5 + 8.0, b.height() * 0.5 + 8.0);
    let x1 = (b.x1 - mx).max(0.0) as u32;
    let y1 = (b.y1 - my).max(0.0) as u32;
    let x2 = ((b.x2 + mx) as u32).min(width);
    let y2 = ((b.y2 + my) as u32).min(height);
    let mut out = vec![frame, scene];
    if x2 > x1 + 1 && y2 > y1 + 1 {
        let (cw, ch) = (x2 - x1, y2 - y1);
        let mut crop = Vec::with_capacity((cw * ch * 3) as usize);
        for y in y1..y2 {
            let start = ((y * width + x1) * 3) as usize;
            crop.extend_from_slice(&rgb[start..start + (cw * 3) as usize]);
        }
        out.push(store_jpeg(data_dir, &crop, cw, ch, EvidenceKind::Crop)?);
    }
    Ok(out)
}

fn store_jpeg(
    data_dir: &Path,
    rgb: &[u8],
    width: u32,
    height: u32,
    kind: EvidenceKind,
) -> std::io::Result<NewEvidence> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, QUALITY)
        .encode(rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(std::io::Error::other)?;
    let sha = crate::inference::manifest::hex(&Sha256::digest(&bytes));
    let relative = format!("evidence/{}/{sha}.jpg", &sha[..2]);
    let path = data_dir.join(&relative);
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("jpg.part");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(NewEvidence {
        kind,
        path: relative,
        sha256: sha,
        bytes: bytes.len() as u64,
        mime: "image/jpeg".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_scene_and_crop_are_stored_by_content_hash() {
        let dir = std::env::temp_dir().join(format!("gs-evidence-{}", std::process::id()));
        let (w, h) = (64u32, 48u32);
        // A smooth grey ramp, so JPEG keeps it close and the drawn box stands out.
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|i| {
                let (x, y) = ((i / 3) % w, (i / 3) / w);
                (x * 2 + y) as u8
            })
            .collect();
        let marking = Marking {
            bbox: BBox::new(10.0, 10.0, 30.0, 30.0),
            class_id: 0,
            label: String::new(),
        };
        let first = write_frame_evidence(&dir, &rgb, w, h, &marking, &[]).expect("write");
        let kinds: Vec<EvidenceKind> = first.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [EvidenceKind::Frame, EvidenceKind::Scene, EvidenceKind::Crop]
        );
        for e in &first {
            let bytes = std::fs::read(dir.join(&e.path)).expect("file exists");
            assert_eq!(bytes.len() as u64, e.bytes);
            assert!(e.path.contains(&e.sha256));
        }
        // The scene is the picture as given: no box drawn, full size.
        let scene = image::open(dir.join(&first[1].path)).expect("scene decodes");
        assert_eq!((scene.width(), scene.height()), (w, h));
        let frame = image::open(dir.join(&first[0].path)).expect("frame decodes");
        // Mean difference from the input along the box's left edge (x = 10, 11).
        let differs = |img: &image::DynamicImage| {
            let img = img.to_rgb8();
            let mut sum = 0u32;
            let mut n = 0u32;
            for y in 12..28u32 {
                for x in 10..12u32 {
                    let want = &rgb[((y * w + x) * 3) as usize..][..3];
                    for (got, want) in img.get_pixel(x, y).0.iter().zip(want) {
                        sum += u32::from(got.abs_diff(*want));
                        n += 1;
                    }
                }
            }
            sum / n
        };
        assert!(differs(&scene) < 12, "scene keeps the original pixels");
        assert!(differs(&frame) > 40, "frame has the box drawn");
        assert_ne!(first[0].sha256, first[1].sha256);
        // The same picture again: same files, nothing new.
        let again = write_frame_evidence(&dir, &rgb, w, h, &marking, &[]).expect("write");
        assert_eq!(again, first);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_frame_carries_the_label_and_the_caption_and_the_scene_neither() {
        let dir = std::env::temp_dir().join(format!("gs-evidence-text-{}", std::process::id()));
        let (w, h) = (320u32, 240u32);
        let rgb = vec![128u8; (w * h * 3) as usize];
        let marking = Marking {
            bbox: BBox::new(100.0, 120.0, 180.0, 180.0),
            class_id: 1,
            label: "0504 占道堆物".to_string(),
        };
        let caption = ["cam-1   2027-01-15 16:03:20 CST".to_string()];
        let files = write_frame_evidence(&dir, &rgb, w, h, &marking, &caption).expect("write");
        let open = |i: usize| {
            image::open(dir.join(&files[i].path))
                .expect("decodes")
                .to_rgb8()
        };
        let (frame, scene) = (open(0), open(1));
        // Mean brightness of rows `ys` between columns `xs`.
        let mean = |img: &image::RgbImage, ys: std::ops::Range<u32>, xs: std::ops::Range<u32>| {
            let n = (ys.len() * xs.len()) as f64;
            let sum: u64 = ys
                .flat_map(|y| xs.clone().map(move |x| (x, y)))
                .map(|(x, y)| {
                    img.get_pixel(x, y)
                        .0
                        .iter()
                        .map(|&v| u64::from(v))
                        .sum::<u64>()
                })
                .sum();
            sum as f64 / n / 3.0
        };
        // The caption's band (the bottom 26 px: one 16 px row and 5 px above and below it),
        // darkened, with light text.
        assert!(mean(&frame, 225..240, 0..w) < 80.0, "the band is dark");
        let lit = (225..240u32)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| frame.get_pixel(x, y)[0] > 200)
            .count();
        assert!(lit > 50, "text on the band: {lit} light pixels");
        // The label's tag: 15 px just above the box, in the class colour, over its left part.
        let tag = color_for(1);
        let px = frame.get_pixel(102, 107).0;
        assert!(
            px.iter().zip(tag).all(|(a, b)| a.abs_diff(b) < 40),
            "tag colour {px:?}, want {tag:?}"
        );
        // The clean scene has none of it.
        assert!((mean(&scene, 225..240, 0..w) - 128.0).abs() < 3.0);
        assert!((mean(&scene, 105..120, 100..140) - 128.0).abs() < 3.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
