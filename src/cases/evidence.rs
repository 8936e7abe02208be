//! Evidence files: the full-resolution frame with the violation boxed, the same frame clean
//! (`scene`, no box: what `dataset export` turns into training data), and a crop around the
//! object, JPEG-encoded and stored under the data directory by content hash
//! (`evidence/ab/abcdef….jpg`), so the same picture is never stored twice and a path says
//! nothing a viewer should not see.
//!
//! Files are written (to a temporary name, then renamed) before the case that refers to them is
//! committed, so a stored case never points at a missing file.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::model::{EvidenceKind, NewEvidence};
use crate::annotate::{color_for, draw_box};
use crate::domain::BBox;

/// JPEG quality of evidence pictures.
const QUALITY: u8 = 88;

/// Writes the annotated frame, the clean frame and a crop of `bbox` (pixels of `rgb`) under
/// `data_dir`; returns them in that order (no crop when the box is too small to cut out).
pub fn write_frame_evidence(
    data_dir: &Path,
    rgb: &[u8],
    width: u32,
    height: u32,
    bbox: &BBox,
    class_id: usize,
) -> std::io::Result<Vec<NewEvidence>> {
    let mut annotated = rgb.to_vec();
    let thickness = (width / 400).max(2);
    draw_box(
        &mut annotated,
        width,
        height,
        bbox,
        color_for(class_id),
        thickness,
    );
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
        let bbox = BBox::new(10.0, 10.0, 30.0, 30.0);
        let first = write_frame_evidence(&dir, &rgb, w, h, &bbox, 0).expect("write");
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
        let again = write_frame_evidence(&dir, &rgb, w, h, &bbox, 0).expect("write");
        assert_eq!(again, first);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
