//! Generated scenes to files: the scene generator's frames encoded as a camera-like MP4 next to
//! their ground truth (`gridsight synth`), and YOLO-format training sets (`gridsight synth
//! --dataset`). Connects `synth` (pure rendering) with `ingest` (the H.264 encoder).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::ingest::media::{encode_rgb_frames, ClipSpec};
use crate::synth::{ObjectClass, Scene, SceneSpec, Split};

/// Where `write_scene` put things.
#[derive(Debug, Clone)]
pub struct SceneFiles {
    pub video: PathBuf,
    pub truth: PathBuf,
    pub frames: u64,
}

/// Renders `spec` into `dir/NAME.mp4` (H.264 High, I420, 2 s GOP) and `dir/NAME.json` (ground
/// truth). `spec.duration_s` is rounded to whole seconds.
pub fn write_scene(
    spec: SceneSpec,
    dir: &Path,
    name: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<SceneFiles> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut spec = spec;
    spec.duration_s = spec.duration_s.round().max(1.0);
    let scene = Scene::new(spec)?;
    let s = scene.spec();
    let clip = ClipSpec {
        width: s.width,
        height: s.height,
        fps: s.fps,
        seconds: s.duration_s as u32,
        gop_frames: 2 * s.fps,
        bitrate_kbps: (s.width * s.height / 400).max(400),
        text: None,
    };
    let frames = scene.frame_count();
    let video = dir.join(format!("{name}.mp4"));
    encode_rgb_frames(&video, &clip, |i, rgb| {
        if i % u64::from(clip.fps * 10) == 0 {
            progress(i, frames);
        }
        scene.render(i, rgb).map_err(|e| e.to_string())
    })?;
    let truth = dir.join(format!("{name}.json"));
    let file = std::fs::File::create(&truth)
        .with_context(|| format!("cannot write {}", truth.display()))?;
    let mut out = BufWriter::new(file);
    serde_json::to_writer(&mut out, &scene.ground_truth())?;
    out.flush()?;
    Ok(SceneFiles {
        video,
        truth,
        frames,
    })
}

/// Writes one frame of `spec` at `t_s` seconds as a PNG.
pub fn write_frame_png(spec: SceneSpec, t_s: f64, path: &Path) -> anyhow::Result<()> {
    let scene = Scene::new(spec)?;
    let s = scene.spec();
    let index = ((t_s * f64::from(s.fps)) as u64).min(scene.frame_count().saturating_sub(1));
    let mut rgb = vec![0u8; scene.frame_len()];
    scene.render(index, &mut rgb)?;
    image::save_buffer(
        path,
        &rgb,
        s.width,
        s.height,
        image::ExtendedColorType::Rgb8,
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Class ids of the street-object model, in `models/street-v1` order.
pub const DATASET_CLASSES: [&str; 3] = ["street_vending", "sidewalk_stacking", "illegal_signage"];

/// What `write_dataset` makes.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    pub scenes: u32,
    pub frames_per_scene: u32,
    pub seconds_per_scene: f64,
    pub split: Split,
    pub first_seed: u64,
    /// Objects less visible than this are left out of the labels.
    pub min_visible: f32,
    /// Scripted events per scene (see [`SceneSpec::random_with_events`]).
    pub events: std::ops::RangeInclusive<usize>,
    /// [`SceneSpec::colour_share`] of every scene (0 for held-out sets).
    pub colour_share: f64,
}

/// Writes a YOLO-format data set (`images/*.jpg`, `labels/*.txt` with `class cx cy w h`
/// normalised, `classes.txt`) from generated scenes: `frames_per_scene` frames spread over each
/// scene. Returns the number of images and labelled boxes.
pub fn write_dataset(
    spec: &DatasetSpec,
    dir: &Path,
    progress: &mut dyn FnMut(u32, u32),
) -> anyhow::Result<(usize, usize)> {
    let images = dir.join("images");
    let labels = dir.join("labels");
    std::fs::create_dir_all(&images)?;
    std::fs::create_dir_all(&labels)?;
    std::fs::write(dir.join("classes.txt"), DATASET_CLASSES.join("\n") + "\n")?;
    let (mut n_images, mut n_boxes) = (0usize, 0usize);
    for k in 0..spec.scenes {
        progress(k, spec.scenes);
        let seed = spec.first_seed + u64::from(k);
        let mut scene_spec = SceneSpec::random_with_events(
            seed,
            spec.seconds_per_scene,
            spec.split,
            spec.events.clone(),
        );
        scene_spec.colour_share = spec.colour_share;
        let scene = Scene::new(scene_spec)?;
        let (w, h) = (scene.spec().width, scene.spec().height);
        let count = scene.frame_count().max(1);
        let mut rgb = vec![0u8; scene.frame_len()];
        for j in 0..spec.frames_per_scene {
            let index = (u64::from(j) * count) / u64::from(spec.frames_per_scene.max(1));
            scene.render(index, &mut rgb)?;
            let truth = scene.frame_truth(index)?;
            let name = format!("s{seed:06}_f{index:06}");
            let mut text = String::new();
            for o in &truth.objects {
                let class = match o.class {
                    ObjectClass::StreetVending => 0,
                    ObjectClass::SidewalkStacking => 1,
                    ObjectClass::IllegalSignage => 2,
                    _ => continue,
                };
                if o.visible_fraction < spec.min_visible {
                    continue;
                }
                let [x1, y1, x2, y2] = o.bbox;
                let (bw, bh) = ((x2 - x1) / w as f32, (y2 - y1) / h as f32);
                if bw <= 0.0 || bh <= 0.0 {
                    continue;
                }
                let (cx, cy) = ((x1 + x2) / 2.0 / w as f32, (y1 + y2) / 2.0 / h as f32);
                text.push_str(&format!("{class} {cx:.6} {cy:.6} {bw:.6} {bh:.6}\n"));
                n_boxes += 1;
            }
            image::save_buffer(
                images.join(format!("{name}.jpg")),
                &rgb,
                w,
                h,
                image::ExtendedColorType::Rgb8,
            )?;
            std::fs::write(labels.join(format!("{name}.txt")), text)?;
            n_images += 1;
        }
    }
    Ok((n_images, n_boxes))
}
