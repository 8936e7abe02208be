//! `gridsight bench`: the frame path's costs, measured in one run on generated camera-like clips
//! (1080p30 H.264, I420, 2 s GOP), reported as ratios and figures that do not depend on a timer
//! in a test:
//!
//! 1. decoding: CPU time per analysed frame with key-frame-only decoding vs full decoding, at one
//!    analysis every 2 s (the ratio is the point);
//! 2. inference: latency per image at batch 1 and at the best batch size, per model; text
//!    detectors also on tiles of a band of the full-resolution frame (`TILE_REGION`);
//! 3. sustained cameras: RTSP streams served at real-time pace by the in-process server, one
//!    analysis per 2 s per camera; the most cameras for which every due frame is analysed and
//!    the lag from ingest to result does not grow;
//! 4. resident memory per camera.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::bounded;

use crate::config::{
    CameraConfig, Config, DetectorConfig, InferenceConfig, ModelRef, RtspTransport, Source,
};
use crate::domain::CameraId;
use crate::inference::model::ImageRef;
use crate::inference::{Device, Manifest, Model};
use crate::ingest::media::{generate_clip, ClipSpec};
use crate::ingest::rtsp_server::RtspServer;
use crate::ingest::{Camera, CameraSpec, SourceSpec};
use crate::runtime::{RunOptions, Runtime, RuntimeEvent};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub dir: PathBuf,
    pub models: Vec<PathBuf>,
    pub clip: ClipSpec,
    pub interval: Duration,
    /// How long each camera-count step runs.
    pub step: Duration,
    pub max_cameras: usize,
    pub batch_sizes: Vec<usize>,
    pub inference_runs: usize,
    /// Tiling factors at which text detectors are also timed on tiles of [`TILE_REGION`].
    pub tile_scales: Vec<f32>,
}

/// The region tiled when timing text detection on tiles: a band across the frame from 20 % to
/// 60 % of its height (40 % of the picture), about where a street camera sees shopfronts.
pub const TILE_REGION: [f32; 4] = [0.0, 0.2, 1.0, 0.6];

impl BenchOptions {
    /// The real benchmark: 1080p30, 2 s GOP, 60 s clip.
    pub fn full(dir: PathBuf) -> Self {
        Self {
            dir,
            models: bundled_models(),
            clip: ClipSpec::camera_1080p(60),
            interval: Duration::from_secs(2),
            step: Duration::from_secs(20),
            max_cameras: 64,
            batch_sizes: vec![1, 2, 4, 8],
            inference_runs: 20,
            tile_scales: vec![2.0, 3.0],
        }
    }

    /// A small, fast run that exercises every part (tests).
    pub fn quick(dir: PathBuf) -> Self {
        Self {
            dir,
            models: bundled_models(),
            clip: ClipSpec {
                width: 640,
                height: 360,
                fps: 30,
                seconds: 10,
                gop_frames: 60,
                bitrate_kbps: 800,
                text: None,
            },
            interval: Duration::from_secs(2),
            step: Duration::from_secs(5),
            max_cameras: 2,
            batch_sizes: vec![1, 2],
            inference_runs: 2,
            tile_scales: vec![2.0],
        }
    }
}

/// Bundled model manifests whose ONNX file is present.
pub fn bundled_models() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("model.toml"))
        .filter(|p| {
            Manifest::load(p)
                .map(|m| m.model_path().is_file())
                .unwrap_or(false)
        })
        .collect();
    found.sort();
    found
}

/// Decoding cost of one mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeFigures {
    pub analysed: u64,
    pub decoded: u64,
    pub cpu: Duration,
    pub wall: Duration,
}

impl DecodeFigures {
    pub fn cpu_per_analysed(&self) -> Duration {
        self.cpu / self.analysed.max(1) as u32
    }
}

/// Inference latency of one model.
#[derive(Debug, Clone)]
pub struct InferenceFigures {
    pub model: String,
    pub input: (u32, u32),
    /// (batch, latency per image)
    pub per_batch: Vec<(usize, Duration)>,
}

/// A text detector's cost on tiles of one analysis frame ([`TILE_REGION`] of the source at full
/// resolution, plus the whole frame).
#[derive(Debug, Clone)]
pub struct TiledFigures {
    pub model: String,
    pub scale: f32,
    /// The source picture the tiles are cut from.
    pub source: (u32, u32),
    /// Model inputs per frame: tiles + the whole frame.
    pub inputs: usize,
    pub per_frame: Duration,
}

/// One step of the sustained-cameras search.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepFigures {
    pub cameras: usize,
    pub expected: u64,
    pub analysed: u64,
    pub dropped: u64,
    pub lag_first_half: Duration,
    pub lag_second_half: Duration,
    pub lag_max: Duration,
    pub rss_bytes: u64,
    pub sustained: bool,
}

/// Everything `gridsight bench` measured.
#[derive(Debug, Clone, Default)]
pub struct BenchReport {
    pub clip: String,
    pub key_only: DecodeFigures,
    pub full: DecodeFigures,
    pub inference: Vec<InferenceFigures>,
    pub steps: Vec<StepFigures>,
    pub model_for_cameras: Option<String>,
    /// The model-free static-object detector's cost per analysis frame (640×360).
    pub static_detector: Option<Duration>,
    /// The same detector on a sign band of the frame ([`SIGN_BAND`]) at twice the resolution,
    /// as it runs beside the whole frame on a camera whose text detector tiles.
    pub static_band: Option<Duration>,
    /// Text detectors on tiles, per scale.
    pub tiled: Vec<TiledFigures>,
}

impl BenchReport {
    /// Full-decode CPU per analysed frame over key-frame-only CPU per analysed frame.
    pub fn decode_ratio(&self) -> f64 {
        self.full.cpu_per_analysed().as_secs_f64()
            / self.key_only.cpu_per_analysed().as_secs_f64().max(1e-9)
    }

    /// Most cameras sustained.
    pub fn sustained_cameras(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.sustained)
            .map(|s| s.cameras)
            .max()
            .unwrap_or(0)
    }

    /// Extra resident memory per camera between the smallest and the largest step measured.
    pub fn rss_per_camera(&self) -> Option<u64> {
        let first = self.steps.iter().min_by_key(|s| s.cameras)?;
        let last = self.steps.iter().max_by_key(|s| s.cameras)?;
        (last.cameras > first.cameras).then(|| {
            last.rss_bytes.saturating_sub(first.rss_bytes) / (last.cameras - first.cameras) as u64
        })
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        writeln!(f, "gridsight bench on {} ({} cores)", self.clip, num_cpus())?;
        writeln!(f, "\ndecode, one analysis every 2 s:")?;
        for (name, d) in [
            ("key frames only", &self.key_only),
            ("full decode", &self.full),
        ] {
            writeln!(
                f,
                "  {name:<16} {:>5} analysed, {:>5} decoded, CPU {:>8.1} ms per analysed frame (wall {:.2} s)",
                d.analysed,
                d.decoded,
                ms(d.cpu_per_analysed()),
                d.wall.as_secs_f64()
            )?;
        }
        writeln!(
            f,
            "  ratio: full decode costs {:.1}x key-frame-only per analysed frame",
            self.decode_ratio()
        )?;
        writeln!(f, "\ninference, latency per image:")?;
        for m in &self.inference {
            let best = m.per_batch.iter().min_by_key(|(_, d)| *d);
            let one = m.per_batch.iter().find(|(b, _)| *b == 1).map(|(_, d)| *d);
            if let (Some(one), Some((b, best))) = (one, best) {
                writeln!(
                    f,
                    "  {:<12} input {}x{}: batch 1 {:.1} ms; best batch {} {:.1} ms/image ({:.2}x)",
                    m.model,
                    m.input.0,
                    m.input.1,
                    ms(one),
                    b,
                    ms(*best),
                    one.as_secs_f64() / best.as_secs_f64().max(1e-9)
                )?;
            }
            let [x1, y1, x2, y2] = TILE_REGION;
            for t in self.tiled.iter().filter(|t| t.model == m.model) {
                write!(
                    f,
                    "  {:<12} tiles x{} of ({x1}, {y1})-({x2}, {y2}) of {}x{}: {} inputs, {:.1} ms per frame",
                    "",
                    t.scale,
                    t.source.0,
                    t.source.1,
                    t.inputs,
                    ms(t.per_frame)
                )?;
                match one {
                    Some(one) => writeln!(
                        f,
                        " ({:.1}x the whole frame alone)",
                        t.per_frame.as_secs_f64() / one.as_secs_f64().max(1e-9)
                    )?,
                    None => writeln!(f)?,
                }
            }
        }
        if let Some(cost) = self.static_detector {
            writeln!(
                f,
                "  {:<12} input 640x360: {:.2} ms per frame (model-free, no inference)",
                "static",
                ms(cost)
            )?;
        }
        if let Some(cost) = self.static_band {
            writeln!(
                f,
                "  {:<12} sign band y {:.1}..{:.1} of 640x360, at 2x the whole frame's resolution: {:.2} ms per frame (on top of the above)",
                "static",
                SIGN_BAND.y1,
                SIGN_BAND.y2,
                ms(cost)
            )?;
        }
        if let Some(model) = &self.model_for_cameras {
            writeln!(
                f,
                "\nsustained cameras (RTSP at real-time pace, {model} every 2 s per camera):"
            )?;
            for s in &self.steps {
                writeln!(
                    f,
                    "  {:>3} cameras: {:>4}/{:<4} analysed, {:>3} dropped, lag median {:>6.0} -> {:>6.0} ms, max {:>6.0} ms, RSS {:>5} MiB: {}",
                    s.cameras,
                    s.analysed,
                    s.expected,
                    s.dropped,
                    ms(s.lag_first_half),
                    ms(s.lag_second_half),
                    ms(s.lag_max),
                    s.rss_bytes >> 20,
                    if s.sustained { "sustained" } else { "falling behind" }
                )?;
            }
            writeln!(f, "  sustained: {} cameras", self.sustained_cameras())?;
            if let Some(rss) = self.rss_per_camera() {
                writeln!(
                    f,
                    "  RSS per camera: {:.1} MiB",
                    rss as f64 / (1 << 20) as f64
                )?;
            }
        }
        Ok(())
    }
}

/// Runs the benchmark, printing progress through `progress`.
pub fn run(options: &BenchOptions, progress: &mut dyn FnMut(&str)) -> anyhow::Result<BenchReport> {
    std::fs::create_dir_all(&options.dir)
        .with_context(|| format!("cannot create {}", options.dir.display()))?;
    let c = &options.clip;
    let clip = options.dir.join(format!(
        "clip-{}x{}-{}fps-gop{}-{}s.mp4",
        c.width, c.height, c.fps, c.gop_frames, c.seconds
    ));
    if !clip.is_file() {
        progress(&format!("generating {}", clip.display()));
        generate_clip(&clip, c)?;
    }
    let mut report = BenchReport {
        clip: format!(
            "{}x{} {} fps H.264 I420, GOP {} frames, {} s",
            c.width, c.height, c.fps, c.gop_frames, c.seconds
        ),
        ..BenchReport::default()
    };
    progress("decode: key frames only");
    report.key_only = decode_cost(&clip, options.interval, true)?;
    progress("decode: full");
    report.full = decode_cost(&clip, options.interval, false)?;

    for manifest in &options.models {
        progress(&format!("inference: {}", manifest.display()));
        report.inference.push(inference_latency(manifest, options)?);
        if Manifest::load(manifest)?.kind == crate::inference::ModelKind::Text {
            for &scale in &options.tile_scales {
                progress(&format!(
                    "inference on tiles x{scale}: {}",
                    manifest.display()
                ));
                report.tiled.push(tiled_latency(manifest, scale, options)?);
            }
        }
    }
    progress("static-object detector");
    report.static_detector = Some(static_detector_cost(
        options.inference_runs.max(20) * 5,
        None,
    ));
    report.static_band = Some(static_detector_cost(
        options.inference_runs.max(20) * 5,
        Some(SIGN_BAND),
    ));

    if let Some(manifest) = options.models.first() {
        let name = Manifest::load(manifest)?.name;
        report.model_for_cameras = Some(name.clone());
        sustained_cameras(&clip, manifest, &name, options, &mut report, progress)?;
    }
    Ok(report)
}

/// Plays the clip through one camera as fast as it decodes and measures process CPU time.
fn decode_cost(clip: &Path, interval: Duration, key_only: bool) -> anyhow::Result<DecodeFigures> {
    let (frames_tx, frames_rx) = bounded(4);
    let (events_tx, events_rx) = crossbeam_channel::unbounded();
    let mut spec = CameraSpec::new(CameraId::new("bench"), SourceSpec::File(clip.to_path_buf()));
    spec.interval = interval;
    spec.key_frames_only = key_only;
    let cpu_before = cpu_time();
    let started = Instant::now();
    let camera = Camera::start(spec, frames_tx, events_tx)?;
    let drain = std::thread::spawn(move || frames_rx.iter().count());
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match events_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(e) => match e.status {
                crate::domain::CameraStatus::Ended => break,
                crate::domain::CameraStatus::Failed { reason, .. } => {
                    anyhow::bail!("decoding {} failed: {reason}", clip.display())
                }
                _ => {}
            },
            Err(_) if Instant::now() > deadline => anyhow::bail!("decoding took over 10 minutes"),
            Err(_) => {}
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let stats = camera.stats();
    camera.stop();
    let _ = drain.join();
    Ok(DecodeFigures {
        analysed: stats.frames_out,
        decoded: stats.decoded,
        cpu,
        wall,
    })
}

/// The sign band the static detector's band cost is measured on (normalised): the full width,
/// 40 % of the height, about what a shopfront wall and its lamp posts take up.
pub const SIGN_BAND: crate::domain::BBox = crate::domain::BBox {
    x1: 0.0,
    y1: 0.2,
    x2: 1.0,
    y2: 0.6,
};

/// Mean time of one static-object detector update on a 640×360 frame (on `band` of it, at
/// twice the resolution, with `Some`), over `frames` frames of a scene that changes (a block
/// drifts across a textured background), after a warm-up.
fn static_detector_cost(frames: usize, band: Option<crate::domain::BBox>) -> Duration {
    use crate::analysis::{BandDetector, StaticConfig, StaticObjectDetector};
    let (w, h) = (640usize, 360usize);
    let mut whole = StaticObjectDetector::new(StaticConfig::default());
    let mut band = band.map(|b| BandDetector::new(b, BandDetector::default_config()));
    let mut detector = |t, rgb: &[u8]| match &mut band {
        Some(b) => b.update(t, rgb, w as u32, h as u32),
        None => whole.update(t, rgb, w as u32, h as u32),
    };
    let start = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut rgb = vec![0u8; w * h * 3];
    let frame = |i: usize, rgb: &mut [u8]| {
        for (p, px) in rgb.chunks_exact_mut(3).enumerate() {
            let (x, y) = (p % w, p / w);
            let inside = x.abs_diff(100 + i % 400) < 40 && y.abs_diff(200) < 40;
            let v = if inside {
                40
            } else {
                ((x * 7 + y * 13) % 200) as u8 + 30
            };
            px.fill(v);
        }
    };
    for i in 0..10 {
        frame(i, &mut rgb);
        detector(start + Duration::from_secs(i as u64), &rgb);
    }
    let mut spent = Duration::ZERO;
    for i in 10..10 + frames {
        frame(i, &mut rgb);
        let started = Instant::now();
        detector(start + Duration::from_secs(i as u64), &rgb);
        spent += started.elapsed();
    }
    spent / frames.max(1) as u32
}

fn inference_latency(manifest: &Path, options: &BenchOptions) -> anyhow::Result<InferenceFigures> {
    let manifest = Arc::new(Manifest::load(manifest)?);
    let threads = num_cpus();
    let mut model = Model::open(Arc::clone(&manifest), Device::Cpu, threads)?;
    // An analysis frame as ingest makes it: 640 wide, 16:9, with some structure.
    let (w, h) = (640u32, 360u32);
    let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect();
    let image = ImageRef {
        rgb: &rgb,
        width: w,
        height: h,
    };
    let mut per_batch = Vec::new();
    for &batch in &options.batch_sizes {
        if batch > 1 && !manifest.dynamic_batch() {
            continue;
        }
        let images = vec![image; batch];
        model.run(&images)?; // warm-up
        let started = Instant::now();
        for _ in 0..options.inference_runs {
            model.run(&images)?;
        }
        let per_image = started.elapsed() / (options.inference_runs * batch) as u32;
        per_batch.push((batch, per_image));
    }
    Ok(InferenceFigures {
        model: manifest.name.clone(),
        input: (manifest.input.width, manifest.input.height),
        per_batch,
    })
}

/// A text detector's tiled pass on a frame of the clip's size analysed at 640 wide, the way the
/// inference pool runs it (the detail as ingest cuts it).
fn tiled_latency(
    manifest: &Path,
    scale: f32,
    options: &BenchOptions,
) -> anyhow::Result<TiledFigures> {
    let manifest = Arc::new(Manifest::load(manifest)?);
    let mut model = Model::open(Arc::clone(&manifest), Device::Cpu, num_cpus())?;
    let (sw, sh) = (options.clip.width, options.clip.height);
    let (w, h) = (640u32, (640 * sh / sw.max(1)).max(1));
    let pixels = |w: u32, h: u32| -> Arc<[u8]> {
        (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect()
    };
    let [x1, y1, x2, y2] = TILE_REGION;
    let region = crate::domain::BBox::new(x1, y1, x2, y2);
    let rect = crate::inference::PixelRect::from_normalised(&region, sw, sh)
        .context("the tile region covers no pixel")?;
    let frame = crate::domain::Frame {
        camera: CameraId::new("bench"),
        instance: 0,
        seq: 0,
        time: std::time::SystemTime::now(),
        pts: None,
        width: w,
        height: h,
        source_width: sw,
        source_height: sh,
        rgb: pixels(w, h),
        detail: Some(Arc::new(crate::domain::FrameDetail {
            x: rect.x,
            y: rect.y,
            width: rect.width,
            height: rect.height,
            rgb: pixels(rect.width, rect.height),
        })),
        source: None,
    };
    let tiling = crate::inference::Tiling {
        region,
        scale,
        zones: Vec::new(),
    };
    let (_, warm) = crate::inference::pool::run_frame_tiled(&mut model, &frame, &tiling)?;
    let runs = (options.inference_runs / 4).max(1);
    let started = Instant::now();
    for _ in 0..runs {
        crate::inference::pool::run_frame_tiled(&mut model, &frame, &tiling)?;
    }
    Ok(TiledFigures {
        model: manifest.name.clone(),
        scale,
        source: (sw, sh),
        inputs: warm.batch,
        per_frame: started.elapsed() / runs as u32,
    })
}

fn sustained_cameras(
    clip: &Path,
    manifest: &Path,
    model: &str,
    options: &BenchOptions,
    report: &mut BenchReport,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    let mut server = RtspServer::start(0)?;
    let mut urls = Vec::new();
    for i in 0..options.max_cameras {
        urls.push(server.add_clip(&format!("cam{i}"), clip)?);
    }
    // Double until a step falls behind, then bisect between the last good and first bad count.
    let mut good = 0usize;
    let mut bad: Option<usize> = None;
    let mut n = 1usize;
    loop {
        progress(&format!("sustained cameras: trying {n}"));
        let step = camera_step(&urls[..n], manifest, model, options)?;
        report.steps.push(step);
        if step.sustained {
            good = n;
        } else {
            bad = Some(n);
        }
        n = match bad {
            None if n * 2 <= options.max_cameras => n * 2,
            None if n < options.max_cameras => options.max_cameras,
            None => break,
            Some(b) if b - good > 1 && (b - good) * 8 > b => (good + b) / 2,
            Some(_) => break,
        };
    }
    server.stop();
    report.steps.sort_by_key(|s| s.cameras);
    Ok(())
}

fn camera_step(
    urls: &[String],
    manifest: &Path,
    model: &str,
    options: &BenchOptions,
) -> anyhow::Result<StepFigures> {
    let cameras = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            CameraConfig::new(
                &format!("cam{i}"),
                Source::Rtsp {
                    url: url.clone(),
                    transport: RtspTransport::Tcp,
                },
                vec![DetectorConfig {
                    model: model.to_string(),
                    interval: options.interval,
                    tiles: None,
                }],
            )
        })
        .collect();
    let workers = num_cpus();
    let mut config = Config::new(
        PathBuf::from("bench.toml"),
        options.dir.join("data"),
        vec![ModelRef {
            name: model.to_string(),
            manifest: manifest.to_path_buf(),
        }],
        cameras,
    );
    config.inference = InferenceConfig {
        workers,
        threads_per_worker: 1,
        max_batch: 8,
        max_wait: Duration::from_millis(20),
        device: crate::config::Device::Cpu,
    };
    let runtime = Runtime::start(
        &config,
        RunOptions {
            summary_every: Duration::from_secs(3600),
            ..RunOptions::default()
        },
    )?;
    // Count from the moment every camera streams (or 10 s), so connection set-up is not judged.
    let warmup_until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < warmup_until {
        let statuses = runtime.statuses();
        if statuses
            .iter()
            .all(|(_, s)| *s == crate::domain::CameraStatus::Streaming)
        {
            break;
        }
        let _ = runtime.events().recv_timeout(Duration::from_millis(100));
    }
    while runtime.events().try_recv().is_ok() {}
    let started = Instant::now();
    let half = options.step / 2;
    let mut first = Vec::new();
    let mut second = Vec::new();
    while started.elapsed() < options.step {
        if let Ok(RuntimeEvent::Detections { lag, .. }) =
            runtime.events().recv_timeout(Duration::from_millis(100))
        {
            if started.elapsed() < half {
                first.push(lag);
            } else {
                second.push(lag);
            }
        }
    }
    let rss_bytes = rss_bytes();
    let dropped: u64 = runtime
        .camera_stats()
        .iter()
        .map(|(_, s)| s.dropped_full)
        .sum();
    runtime.stop();
    let expected =
        (urls.len() as f64 * options.step.as_secs_f64() / options.interval.as_secs_f64()) as u64;
    let analysed = (first.len() + second.len()) as u64;
    let lag_max = first
        .iter()
        .chain(&second)
        .max()
        .copied()
        .unwrap_or_default();
    let (m1, m2) = (median(&mut first), median(&mut second));
    // Sustained: nearly every due frame analysed, and the lag neither grows nor exceeds an interval.
    let sustained = analysed * 10 >= expected * 9
        && m2 <= m1 + options.interval / 4
        && lag_max < options.interval;
    Ok(StepFigures {
        cameras: urls.len(),
        expected,
        analysed,
        dropped,
        lag_first_half: m1,
        lag_second_half: m2,
        lag_max,
        rss_bytes,
        sustained,
    })
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    // /proc/self/stat fields 14 and 15: utime and stime in clock ticks.
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields after the name start at field 3 (state), so utime (14) is index 11.
    let total = ticks(11) + ticks(12);
    Duration::from_secs_f64(total as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    #[allow(unsafe_code)]
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// Resident set size of this process.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
