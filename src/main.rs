//! The `gridsight` command: parse the command line, load the config, start the runtime.
//! Errors go to stderr with their cause chain; the exit code is 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};

use gridsight::runtime::{RunOptions, Runtime, RuntimeEvent, SharedRuntime};
use gridsight::{annotate, api, bench, cases, config, dataset, eval, inference, ingest, scenes};

#[derive(Parser, Debug)]
#[command(
    name = "gridsight",
    version,
    about = "City camera feeds in, geo-tagged candidate cases out."
)]
struct Cli {
    /// ONNX Runtime library (libonnxruntime.so). Otherwise: $GRIDSIGHT_ONNXRUNTIME, the config's
    /// `onnxruntime`, then where scripts/setup.sh puts it.
    #[arg(long, global = true, value_name = "PATH")]
    onnxruntime: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user. Without --password a random one is made and printed once.
    Add {
        /// Pipeline config (TOML) whose store holds the users.
        pipeline: PathBuf,
        /// User name.
        name: String,
        /// admin, operator, inspector or viewer.
        #[arg(long)]
        role: String,
        /// The password (at least 8 characters); prefer --password-stdin.
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Camera groups the user may see, comma-separated (default: all cameras).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// List users.
    List {
        /// Pipeline config (TOML).
        pipeline: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a pipeline: cameras → detectors, printing status changes, detections and a summary.
    Run {
        /// Pipeline config (TOML).
        pipeline: PathBuf,
        /// Stop after this many seconds (default: until every file ends, or Ctrl-C).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<f64>,
        /// Seconds between summary lines.
        #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
        summary_every: f64,
        /// Print every detector run, also those that found nothing.
        #[arg(long)]
        verbose: bool,
        /// Serve the web console and the HTTP API on the config's `http_bind` (or --http), and
        /// keep running after file cameras end, until Ctrl-C or --duration.
        #[arg(long)]
        console: bool,
        /// Console address, overriding `http_bind` (implies --console).
        #[arg(long, value_name = "IP:PORT")]
        http: Option<std::net::SocketAddr>,
    },
    /// Serve the console and HTTP API without running any camera (an API-only node).
    Serve {
        /// Pipeline config (TOML): store, data directory, grid, categories, cameras to list.
        pipeline: PathBuf,
        /// Address, overriding `http_bind`.
        #[arg(long, value_name = "IP:PORT")]
        http: Option<std::net::SocketAddr>,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<f64>,
    },
    /// Manage console users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Validate a pipeline config and report every mistake with its path.
    Check {
        /// Pipeline config (TOML).
        pipeline: PathBuf,
    },
    /// Show what a stream carries: codec, resolution, frame rate, GOP.
    Probe {
        /// A URI (rtsp://, http://, file://) or a file path.
        uri: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 15.0)]
        timeout: f64,
    },
    /// Run one model on one image and write the image with the boxes drawn.
    Detect {
        /// Model manifest (model.toml) or the folder that holds it.
        model: PathBuf,
        /// Image (JPEG or PNG).
        image: PathBuf,
        /// Where to write the annotated image.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write a camera-like test clip (H.264, I420, fixed GOP), optionally with a text poster.
    Clip {
        /// Output file (.mp4).
        out: PathBuf,
        #[arg(long, default_value_t = 1280)]
        width: u32,
        #[arg(long, default_value_t = 720)]
        height: u32,
        #[arg(long, default_value_t = 25)]
        fps: u32,
        #[arg(long, default_value_t = 20)]
        seconds: u32,
        /// Seconds between key frames.
        #[arg(long, default_value_t = 2)]
        gop_seconds: u32,
        /// Text burnt into the picture.
        #[arg(long)]
        text: Option<String>,
    },
    /// Generate a street scene with ground truth: OUT/NAME.mp4 and OUT/NAME.json.
    Synth {
        /// Output folder.
        out: PathBuf,
        /// Base name of the files.
        #[arg(long, default_value = "scene")]
        name: String,
        /// The demo scene (a stall, a stack and a poster arriving over a few minutes).
        #[arg(long, conflicts_with = "seed")]
        demo: bool,
        /// Seed of a random scene (deterministic: same seed, same scene).
        #[arg(long)]
        seed: Option<u64>,
        /// Length of a random scene, seconds.
        #[arg(long, default_value_t = 120.0)]
        seconds: f64,
        /// Object variants of a random scene: train (even ids) or held-out (odd ids).
        #[arg(long, default_value = "train")]
        split: SplitArg,
        /// Only write one frame at this time (seconds) as OUT/NAME.png.
        #[arg(long, value_name = "SECONDS")]
        png_at: Option<f64>,
        /// Write a YOLO-format training set of this many scenes instead of a video.
        #[arg(long, value_name = "SCENES")]
        dataset: Option<u32>,
        /// Frames taken from each scene for --dataset.
        #[arg(long, default_value_t = 12)]
        frames_per_scene: u32,
        /// Scripted events per --dataset scene, MIN-MAX (random scenes have 1-4).
        #[arg(long, value_name = "MIN-MAX", default_value = "1-4", value_parser = parse_event_range)]
        events: std::ops::RangeInclusive<usize>,
        /// Share (0-1) of a --dataset's scripted objects whose colours are drawn per object from
        /// their kind's whole list, not fixed by their look family (--split train only).
        #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
        colour_share: f64,
    },
    /// Capture a camera's approved signage: run its text detector (and its object models' sign
    /// class) on a few frames, write their median picture, and print every region seen as a
    /// `signage_baseline` line and the picture as a `signage_picture` line for the pipeline
    /// config.
    Baseline {
        /// Pipeline config (TOML).
        pipeline: PathBuf,
        /// Camera id.
        #[arg(long)]
        camera: String,
        /// For a file source: start at this many seconds.
        #[arg(long, default_value_t = 0.0)]
        at: f64,
        /// Frames to look at: a sign the detector misses on one frame is seen on another.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
        frames: u32,
        /// Seconds between those frames.
        #[arg(long, default_value_t = 1.0)]
        every: f64,
        /// Where to write the picture of the approved scene (PNG) [default: DATA_DIR/baselines/CAMERA.png].
        #[arg(long, value_name = "FILE")]
        picture: Option<PathBuf>,
    },
    /// Training data from operators' reviews.
    Dataset {
        #[command(subcommand)]
        command: DatasetCommand,
    },
    /// Unit grids (单元网格).
    Grid {
        #[command(subcommand)]
        command: GridCommand,
    },
    /// Measure every detector and the case pipeline on held-out generated scenes and the facade
    /// photos; prints a table (see README, Evaluation).
    Eval(EvalArgs),
    /// Measure decoding, inference and sustained cameras on generated 1080p30 clips.
    Bench {
        /// Where generated clips go (kept between runs).
        #[arg(long, default_value = "bench-out")]
        dir: PathBuf,
        /// Models to measure (manifests); default: every bundled model that is installed.
        #[arg(long = "model", value_name = "MANIFEST")]
        models: Vec<PathBuf>,
        /// Seconds each camera-count step runs in the sustained-cameras test.
        #[arg(long, default_value_t = 20.0)]
        step_seconds: f64,
        /// Largest camera count tried.
        #[arg(long, default_value_t = 64)]
        max_cameras: usize,
        /// Quick run with small numbers (for tests).
        #[arg(long)]
        quick: bool,
    },
    /// Load-test the review queue's list route: a SQLite store with --cases cases, the API on
    /// 127.0.0.1, an open-loop load generator at --rate requests/s; prints p50/p90/p99.
    BenchApi {
        /// Where the benchmark store lives (filled once, reused).
        #[arg(long, default_value = "bench-out")]
        dir: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        cases: u32,
        #[arg(long, default_value_t = 500)]
        rate: u32,
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
        /// Keep-alive connections of the load generator.
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    /// Object model manifest (default: models/street-v1/model.toml when installed; without one
    /// the object figures are skipped).
    #[arg(long, value_name = "MANIFEST")]
    objects: Option<PathBuf>,
    /// Text detector manifest (default: models/ppocr-det/model.toml when installed).
    #[arg(long, value_name = "MANIFEST")]
    text: Option<PathBuf>,
    /// The facade-signs data set.
    #[arg(long, value_name = "DIR", default_value = eval::DEFAULT_FACADE)]
    facade: PathBuf,
    /// First seed; each part's scenes derive their seeds from it.
    #[arg(long, default_value_t = 900_000)]
    seed: u64,
    /// Held-out scenes sampled for the object and poster figures.
    #[arg(long, default_value_t = 20)]
    scenes: u32,
    /// Frames sampled from each of those scenes.
    #[arg(long, default_value_t = 10)]
    frames_per_scene: u32,
    /// Scenes for the static-object detector.
    #[arg(long, default_value_t = 12)]
    static_scenes: u32,
    /// Length of each static-detector scene, seconds (at least 300).
    #[arg(long, default_value_t = 300.0)]
    static_seconds: f64,
    /// Scenes run through the whole pipeline for the case figures.
    #[arg(long, default_value_t = 6)]
    cases_scenes: u32,
    /// Length of each case scene, seconds (at least 90).
    #[arg(long, default_value_t = 150.0)]
    cases_seconds: f64,
    /// Only these parts: comma-separated objects, static, text, facade, cases.
    #[arg(long, value_name = "PARTS")]
    only: Option<String>,
    /// Also write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Where rendered case scenes, grids and stores go.
    #[arg(long, value_name = "DIR", default_value = "data/eval")]
    work: PathBuf,
    /// ONNX Runtime threads per model.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Tiling factors at which the text detector also runs on tiles of each scene's wall and
    /// lamp-post band (comma-separated; "" for none).
    #[arg(long, value_name = "SCALES", default_value = "2,3", value_parser = parse_scales)]
    tile_scales: Scales,
}

/// Tiling factors from `--tile-scales`.
#[derive(Debug, Clone)]
struct Scales(Vec<f32>);

fn parse_scales(text: &str) -> Result<Scales, String> {
    text.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| match v.parse::<f32>() {
            Ok(s) if (1.0..=4.0).contains(&s) => Ok(s),
            _ => Err(format!("expected factors from 1 to 4, got {v:?}")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Scales)
}

#[derive(Subcommand, Debug)]
enum DatasetCommand {
    /// Write reviewed cases as a YOLO-format data set: confirmed (and later) cases labelled with
    /// their current category, rejected ones as hard negatives with empty labels.
    Export(ExportArgs),
}

#[derive(clap::Args, Debug)]
struct ExportArgs {
    /// Case store: a SQLite file (path or sqlite: URL) or a postgres:// URL.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "pipeline",
        requires = "data_dir",
        conflicts_with = "pipeline"
    )]
    store: Option<String>,
    /// Data directory the evidence paths are relative to.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "pipeline",
        requires = "store",
        conflicts_with = "pipeline"
    )]
    data_dir: Option<PathBuf>,
    /// Take the store, data directory and time zone from this pipeline config instead.
    #[arg(long, value_name = "TOML")]
    pipeline: Option<PathBuf>,
    /// Output folder; must be empty or missing unless --force.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Only cases created at or after this: RFC 3339, or a date (from its start, in the
    /// pipeline's time zone, else Asia/Shanghai).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only cases created before this: RFC 3339, or a date (up to the end of that day).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Classes in class-id order: category base names (the part before the first '.').
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        default_values_t = dataset::DEFAULT_CLASSES.map(String::from)
    )]
    classes: Vec<String>,
    /// Share of cases put in val (by a hash of the case id).
    #[arg(long, value_name = "FRACTION", default_value_t = dataset::DEFAULT_VAL_FRACTION)]
    val_fraction: f64,
    /// Write into a non-empty --out, replacing an earlier export's images/, labels/, data.yaml
    /// and classes.txt there.
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand, Debug)]
enum GridCommand {
    /// Write a regular grid over a bounding box as GeoJSON, with 14-digit codes
    /// (6-digit division + 3 street + 3 community + 2 grid).
    Generate {
        /// min_lon,min_lat,max_lon,max_lat (WGS84 degrees).
        #[arg(long, value_name = "W,S,E,N")]
        bbox: String,
        /// Cell size, metres.
        #[arg(long, default_value_t = 100.0)]
        cell: f64,
        /// 6-digit county division code (GB/T 2260), e.g. 110101.
        #[arg(long)]
        division: String,
        /// Output file (GeoJSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a grid layer and print what it holds.
    Check {
        /// GeoJSON FeatureCollection.
        file: PathBuf,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum SplitArg {
    Train,
    HeldOut,
}

/// `path` as a config at `config` names it: relative to the config's folder (the form the
/// config resolves), or as given when either cannot be resolved.
fn relative_to_config(config: &Path, path: &Path) -> PathBuf {
    let dir = config.parent().filter(|d| !d.as_os_str().is_empty());
    let (Ok(dir), Ok(file)) = (
        std::fs::canonicalize(dir.unwrap_or(Path::new("."))),
        std::fs::canonicalize(path),
    ) else {
        return path.to_path_buf();
    };
    let (a, b): (Vec<_>, Vec<_>) = (dir.components().collect(), file.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRIDSIGHT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gridsight: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { pipeline } => Ok(check(&pipeline)),
        Command::Run {
            pipeline,
            duration,
            summary_every,
            verbose,
            console,
            http,
        } => run_pipeline(
            &pipeline,
            cli.onnxruntime,
            duration.map(Duration::from_secs_f64),
            Duration::from_secs_f64(summary_every.max(0.5)),
            verbose,
            (console || http.is_some()).then_some(http),
        ),
        Command::Serve {
            pipeline,
            http,
            duration,
        } => serve_only(&pipeline, http, duration.map(Duration::from_secs_f64)),
        Command::User { command } => user(command),
        Command::Probe { uri, timeout } => {
            let report = ingest::probe::probe(&uri, Duration::from_secs_f64(timeout))?;
            let or_unknown = |v: Option<String>| v.unwrap_or_else(|| "unknown".to_string());
            println!("codec:      {}", or_unknown(report.codec));
            println!(
                "resolution: {}",
                or_unknown(
                    report
                        .width
                        .zip(report.height)
                        .map(|(w, h)| format!("{w}x{h}"))
                )
            );
            println!(
                "fps:        {}",
                or_unknown(report.fps.map(|f| format!("{f:.2}")))
            );
            println!(
                "gop:        {}",
                or_unknown(report.gop.map(|g| format!(
                    "{:.2} s ({} frames)",
                    g.as_secs_f64(),
                    report.gop_frames.unwrap_or(0)
                )))
            );
            println!("live:       {}", report.live);
            Ok(ExitCode::SUCCESS)
        }
        Command::Clip {
            out,
            width,
            height,
            fps,
            seconds,
            gop_seconds,
            text,
        } => {
            let spec = ingest::media::ClipSpec {
                width,
                height,
                fps,
                seconds,
                gop_frames: fps * gop_seconds.max(1),
                bitrate_kbps: (width * height / 300).max(300),
                text,
            };
            ingest::media::generate_clip(&out, &spec)?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth {
            out,
            name,
            demo,
            seed,
            seconds,
            split,
            png_at,
            dataset,
            frames_per_scene,
            events,
            colour_share,
        } => {
            if !(0.0..=1.0).contains(&colour_share) {
                anyhow::bail!("--colour-share must be between 0 and 1, not {colour_share}");
            }
            if colour_share > 0.0 && (dataset.is_none() || matches!(split, SplitArg::HeldOut)) {
                anyhow::bail!(
                    "--colour-share is for training sets (--dataset with --split train): held-out \
                     scenes keep each look family's own colours"
                );
            }
            let split = match split {
                SplitArg::Train => gridsight::synth::Split::Train,
                SplitArg::HeldOut => gridsight::synth::Split::HeldOut,
            };
            if let Some(scenes) = dataset {
                let spec = scenes::DatasetSpec {
                    scenes,
                    frames_per_scene,
                    seconds_per_scene: seconds,
                    split,
                    first_seed: seed.unwrap_or(1),
                    min_visible: 0.3,
                    events,
                    colour_share,
                };
                let (images, boxes) = scenes::write_dataset(&spec, &out, &mut |k, n| {
                    eprintln!("synth: scene {}/{n}", k + 1)
                })?;
                println!(
                    "wrote {images} images with {boxes} boxes to {}",
                    out.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let spec = if demo {
                gridsight::synth::SceneSpec::demo()
            } else {
                gridsight::synth::SceneSpec::random(seed.unwrap_or(1), seconds, split)
            };
            if let Some(t) = png_at {
                std::fs::create_dir_all(&out)?;
                let path = out.join(format!("{name}.png"));
                scenes::write_frame_png(spec, t, &path)?;
                println!("wrote {}", path.display());
                return Ok(ExitCode::SUCCESS);
            }
            let files = scenes::write_scene(spec, &out, &name, &mut |i, n| {
                eprintln!("synth: frame {i}/{n}")
            })?;
            println!(
                "wrote {} ({} frames) and {}",
                files.video.display(),
                files.frames,
                files.truth.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Grid { command } => grid(command),
        Command::Dataset {
            command: DatasetCommand::Export(args),
        } => dataset_export(args),
        Command::Baseline {
            pipeline,
            camera,
            at,
            frames,
            every,
            picture,
        } => {
            let cfg = config::load_for_baseline(&pipeline, &camera)
                .map_err(|e| anyhow::anyhow!("{}:\n{e}", pipeline.display()))?;
            if !(every.is_finite() && (0.1..=600.0).contains(&every)) {
                anyhow::bail!("--every: expected 0.1 to 600 seconds, got {every}");
            }
            let capture = gridsight::runtime::BaselineCapture {
                frames,
                every: Duration::from_secs_f64(every),
            };
            eprintln!("capturing camera {camera}'s signage on {frames} frame(s) {every} s apart…");
            let baseline = gridsight::runtime::capture_baseline(
                &cfg,
                &camera,
                Duration::from_secs_f64(at.max(0.0)),
                &capture,
                cli.onnxruntime.as_deref(),
            )?;
            let written = match &baseline.picture {
                Some(p) => {
                    let path = picture
                        .unwrap_or_else(|| config::baseline_picture_path(&cfg.data_dir, &camera));
                    config::write_scene_picture(&path, p)?;
                    Some(path)
                }
                None => None,
            };
            eprintln!(
                "{} sign region(s) on camera {camera}; paste into its [[cameras]] table:",
                baseline.regions.len()
            );
            let boxes: Vec<String> = baseline
                .regions
                .iter()
                .map(|b| format!("[{:.4}, {:.4}, {:.4}, {:.4}]", b.x1, b.y1, b.x2, b.y2))
                .collect();
            println!("signage_baseline = [{}]", boxes.join(", "));
            if let Some(path) = written {
                println!(
                    "signage_picture = {:?}",
                    relative_to_config(&pipeline, &path).to_string_lossy()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Detect { model, image, out } => {
            detect(&model, &image, out.as_deref(), cli.onnxruntime)
        }
        Command::Eval(args) => run_eval(args, cli.onnxruntime),
        Command::BenchApi {
            dir,
            cases,
            rate,
            seconds,
            connections,
        } => {
            let report = gridsight::loadtest::run(
                &gridsight::loadtest::LoadOptions {
                    work: dir,
                    cases,
                    rate: rate.max(1),
                    duration: Duration::from_secs_f64(seconds.max(1.0)),
                    connections,
                    target_p99: Duration::from_millis(50),
                },
                &mut |line| eprintln!("{line}"),
            )?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            dir,
            models,
            step_seconds,
            max_cameras,
            quick,
        } => {
            inference::ensure_onnxruntime(cli.onnxruntime.as_deref(), None)?;
            let mut options = if quick {
                bench::BenchOptions::quick(dir)
            } else {
                bench::BenchOptions::full(dir)
            };
            if !models.is_empty() {
                options.models = models;
            }
            if !quick {
                options.step = Duration::from_secs_f64(step_seconds);
                options.max_cameras = max_cameras;
            }
            let report = bench::run(&options, &mut |line| eprintln!("{line}"))?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_eval(args: EvalArgs, onnxruntime: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut options = eval::EvalOptions::new(args.work);
    (options.objects, options.objects_missing) =
        eval::EvalOptions::choose_model(args.objects, Path::new(eval::DEFAULT_OBJECTS))?;
    (options.text, options.text_missing) =
        eval::EvalOptions::choose_model(args.text, Path::new(eval::DEFAULT_TEXT))?;
    options.facade = args.facade;
    options.seed = args.seed;
    options.scenes = args.scenes;
    options.frames_per_scene = args.frames_per_scene;
    options.static_scenes = args.static_scenes;
    options.static_seconds = args.static_seconds.max(300.0);
    options.cases_scenes = args.cases_scenes;
    options.cases_seconds = args.cases_seconds.max(90.0);
    options.threads = args.threads.max(1);
    options.tile_scales = args.tile_scales.0;
    options.onnxruntime = onnxruntime;
    if let Some(only) = &args.only {
        options.parts = eval::Parts::parse(only).map_err(|e| anyhow::anyhow!("--only: {e}"))?;
    }
    let report = eval::run(&options, &mut |line| eprintln!("{line}"))?;
    println!("{report}");
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `MIN-MAX` (or one number) for `synth --events`.
fn parse_event_range(text: &str) -> Result<std::ops::RangeInclusive<usize>, String> {
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    let parse = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("expected MIN-MAX with whole numbers, got {text:?}"))
    };
    let (lo, hi) = (parse(lo)?, parse(hi)?);
    if lo == 0 || lo > hi || hi > 12 {
        return Err(format!("expected 1 <= MIN <= MAX <= 12, got {text:?}"));
    }
    Ok(lo..=hi)
}

fn dataset_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let (store_url, data_dir, timezone) = match &args.pipeline {
        Some(path) => {
            let cfg =
                config::load(path).map_err(|e| anyhow::anyhow!("{}:\n{e}", path.display()))?;
            (cfg.store, cfg.data_dir, cfg.timezone)
        }
        None => (
            args.store
                .context("--store is required without --pipeline")?,
            args.data_dir
                .context("--data-dir is required without --pipeline")?,
            config::DEFAULT_TIMEZONE
                .parse()
                .map_err(|e| anyhow::anyhow!("default time zone: {e}"))?,
        ),
    };
    if let Some(file) = cases::sqlite_file(&store_url).filter(|f| !f.is_file()) {
        anyhow::bail!("no case store at {}", file.display());
    }
    let time = |flag: &str, text: Option<&str>, end_of_day: bool| {
        text.map(|t| dataset::parse_time(t, timezone, end_of_day))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
    };
    let mut options = dataset::ExportOptions::new(data_dir, args.out);
    options.since = time("since", args.since.as_deref(), false)?;
    options.until = time("until", args.until.as_deref(), true)?;
    options.classes = args.classes;
    options.val_fraction = args.val_fraction;
    options.force = args.force;

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let summary = tokio.block_on(async {
        let store = cases::open(&store_url)
            .await
            .with_context(|| format!("opening the case store {}", cases::redact_url(&store_url)))?;
        let exported =
            dataset::export(store.as_ref(), &options, &mut |line| eprintln!("{line}")).await;
        store.close().await?;
        match exported {
            Err(dataset::DatasetError::OutNotEmpty(out)) => anyhow::bail!(
                "--out {} is not empty; choose an empty folder, or pass --force to replace an \
                 earlier export there",
                out.display()
            ),
            other => Ok(other?),
        }
    })?;
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}

fn grid(command: GridCommand) -> anyhow::Result<ExitCode> {
    match command {
        GridCommand::Generate {
            bbox,
            cell,
            division,
            out,
        } => {
            let v: Vec<f64> = bbox
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| anyhow::anyhow!("--bbox: {bbox:?} is not four numbers W,S,E,N"))?;
            let [min_lon, min_lat, max_lon, max_lat] = v[..] else {
                anyhow::bail!("--bbox: {bbox:?} is not four numbers W,S,E,N");
            };
            let spec = gridsight::geo::GridSpec {
                min_lat,
                min_lon,
                max_lat,
                max_lon,
                cell_m: cell,
                division,
            };
            let geojson = gridsight::geo::generate(&spec)?;
            let cells = gridsight::geo::GridLayer::from_geojson(&geojson)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .len();
            std::fs::write(&out, geojson)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {} ({cells} cells of {cell} m)", out.display());
            Ok(ExitCode::SUCCESS)
        }
        GridCommand::Check { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            match gridsight::geo::GridLayer::from_geojson(&text) {
                Ok(layer) => {
                    println!("{}: ok, {} cells", file.display(), layer.len());
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    eprintln!("{}: {} errors\n{errors}", file.display(), errors.0.len());
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}

fn check(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(cfg) => {
            println!(
                "{}: ok ({} cameras, {} enabled; {} models)",
                path.display(),
                cfg.cameras.len(),
                cfg.cameras.iter().filter(|c| c.enabled).count(),
                cfg.models.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!(
                "{}: {} error{}",
                path.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            eprintln!("{errors}");
            ExitCode::from(2)
        }
    }
}

fn load_config(path: &Path) -> anyhow::Result<config::Config> {
    config::load(path).map_err(|e| anyhow::anyhow!("{}:\n{e}", path.display()))
}

/// `console`: `Some(address override)` to serve the console next to the pipeline.
fn run_pipeline(
    path: &Path,
    onnxruntime: Option<PathBuf>,
    duration: Option<Duration>,
    summary_every: Duration,
    verbose: bool,
    console: Option<Option<std::net::SocketAddr>>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = load_config(path)?;
    if console.is_some() {
        // Cameras added, changed or deleted in the console override the file's.
        cfg.cameras = api::effective_cameras(&cfg)?;
    }
    let options = RunOptions {
        onnxruntime,
        summary_every,
        ..RunOptions::default()
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    install_interrupt(&interrupted);
    let runtime = Runtime::start(&cfg, options)?;
    let events = runtime.events().clone();
    let shared = Arc::new(SharedRuntime::new(runtime));
    let server = match console {
        Some(bind) => {
            let bind = bind.unwrap_or(cfg.http_bind);
            let pipeline: Arc<dyn api::Pipeline> = shared.clone();
            let server = api::ConsoleServer::start(
                Arc::new(cfg.clone()),
                Some(pipeline),
                bind,
                api::ApiOptions::default(),
            )?;
            eprintln!("gridsight: console at http://{}/", server.addr);
            Some(server)
        }
        None => None,
    };
    eprintln!(
        "gridsight: running {} ({} cameras); Ctrl-C stops",
        path.display(),
        cfg.cameras.iter().filter(|c| c.enabled).count()
    );
    let started = Instant::now();
    loop {
        if interrupted.load(Ordering::Relaxed) || duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        match events.recv_timeout(Duration::from_millis(200)) {
            Ok(event) => print_event(&event, verbose),
            Err(_) => {
                // With the console on, the process serves until stopped.
                if server.is_none() && shared.lock().finished() && events.is_empty() {
                    break;
                }
            }
        }
    }
    if let Some(server) = server {
        server.stop();
    }
    let stats = shared.lock().camera_stats();
    match Arc::try_unwrap(shared) {
        Ok(shared) => shared.into_inner().stop(),
        Err(_) => anyhow::bail!("internal: the pipeline is still shared after the console stopped"),
    }
    for (id, s) in stats {
        eprintln!(
            "camera {id}: {} frames analysed, {} decoded, {} never decoded, {} dropped before conversion, {} dropped (analysis behind), {} reconnects",
            s.frames_out, s.decoded, s.skipped_undecoded, s.dropped_before_convert, s.dropped_full, s.reconnects
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn serve_only(
    path: &Path,
    http: Option<std::net::SocketAddr>,
    duration: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let cfg = load_config(path)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    install_interrupt(&interrupted);
    let bind = http.unwrap_or(cfg.http_bind);
    let server = api::ConsoleServer::start(Arc::new(cfg), None, bind, api::ApiOptions::default())?;
    eprintln!(
        "gridsight: console at http://{}/ (no pipeline); Ctrl-C stops",
        server.addr
    );
    let started = Instant::now();
    while !interrupted.load(Ordering::Relaxed) && duration.is_none_or(|d| started.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
    Ok(ExitCode::SUCCESS)
}

fn user(command: UserCommand) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match command {
        UserCommand::Add {
            pipeline,
            name,
            role,
            password,
            password_stdin,
            groups,
        } => {
            let cfg = load_config(&pipeline)?;
            let (password, made) = match (password, password_stdin) {
                (Some(p), _) => (p, false),
                (None, true) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    (line.trim_end_matches(['\r', '\n']).to_owned(), false)
                }
                (None, false) => (api::auth::random_password()?, true),
            };
            rt.block_on(async {
                let store = gridsight::cases::open(&cfg.store).await?;
                let added =
                    api::auth::add_user(store.console(), &name, &password, &role, groups).await;
                store.close().await?;
                added.map_err(|e| anyhow::anyhow!("{}", e.message()))
            })?;
            if made {
                println!("added {role} {name} with password {password} (shown once)");
            } else {
                println!("added {role} {name}");
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::List { pipeline } => {
            let cfg = load_config(&pipeline)?;
            let users = rt.block_on(async {
                let store = gridsight::cases::open(&cfg.store).await?;
                let users = store.console().users().await;
                store.close().await?;
                anyhow::Ok(users?)
            })?;
            for u in users {
                let groups = if u.groups.is_empty() {
                    "all cameras".to_owned()
                } else {
                    u.groups.join(",")
                };
                println!("{}\t{}\t{groups}", u.name, u.role);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_event(event: &RuntimeEvent, verbose: bool) {
    match event {
        RuntimeEvent::Camera(e) => eprintln!("camera {}: {}", e.camera, e.status),
        RuntimeEvent::Detections {
            camera,
            model,
            pts,
            frame_size,
            detections,
            ..
        } => {
            if detections.is_empty() && !verbose {
                return;
            }
            let at = pts
                .map(|p| format!("{:.1}s", p.as_secs_f64()))
                .unwrap_or_else(|| "live".to_string());
            let boxes: Vec<String> = detections
                .iter()
                .map(|l| {
                    let b = l.detection.bbox;
                    format!(
                        "{} {:.2} [{:.0},{:.0},{:.0},{:.0}]",
                        l.label, l.detection.score, b.x1, b.y1, b.x2, b.y2
                    )
                })
                .collect();
            println!(
                "{camera} @{at} {model}: {} found in {}x{}{}{}",
                detections.len(),
                frame_size.0,
                frame_size.1,
                if boxes.is_empty() { "" } else { ": " },
                boxes.join("; ")
            );
        }
        RuntimeEvent::StaticObjects {
            camera,
            time,
            pts,
            regions,
        } => {
            let at = pts
                .map(|p| format!("{:.1}s", p.as_secs_f64()))
                .unwrap_or_else(|| "live".to_string());
            let boxes: Vec<String> = regions
                .iter()
                .map(|(b, since)| {
                    let still = time.duration_since(*since).unwrap_or_default();
                    format!(
                        "[{:.3},{:.3},{:.3},{:.3}] for {:.0}s",
                        b.x1,
                        b.y1,
                        b.x2,
                        b.y2,
                        still.as_secs_f64()
                    )
                })
                .collect();
            println!(
                "{camera} @{at} static: {} region(s) that arrived and stayed (normalised): {}",
                regions.len(),
                boxes.join("; ")
            );
        }
        RuntimeEvent::InferenceFailed {
            camera,
            model,
            error,
        } => eprintln!("camera {camera}: {model} failed: {error}"),
        RuntimeEvent::CaseStored { case, inserted } => {
            let place = match (case.lat, case.lon) {
                (Some(lat), Some(lon)) => format!(" at {lat:.6},{lon:.6}"),
                _ => String::new(),
            };
            let grid = case
                .grid_code
                .as_deref()
                .map(|g| format!(" grid {g}"))
                .unwrap_or_default();
            println!(
                "CASE {} {}: {} {} {} {}{}{} (recurrence {})",
                case.id.0,
                if *inserted { "stored" } else { "already stored" },
                case.camera,
                case.category,
                case.event_code,
                case.event_name,
                place,
                grid,
                case.recurrence_count
            );
        }
        RuntimeEvent::CaseRefined { case, previous } => println!(
            "CASE {} refined: {} {} is {} {} {}",
            case.id.0, case.camera, previous, case.category, case.event_code, case.event_name
        ),
        RuntimeEvent::CaseFailed {
            camera,
            error,
            attempt,
            retrying,
            spooled,
        } => {
            let file = spooled.as_ref().map(|f| f.display().to_string());
            match (retrying, file) {
                (true, Some(f)) => eprintln!("camera {camera}: the store refused a case (try {attempt}, retrying; kept in {f}): {error}"),
                (true, None) => eprintln!("camera {camera}: the store refused a case (try {attempt}, retrying; held in memory only): {error}"),
                (false, Some(f)) => eprintln!("camera {camera}: the store refused a case for good (set aside as {f}): {error}"),
                (false, None) => eprintln!("camera {camera}: the store refused a case for good: {error}"),
            }
        }
        RuntimeEvent::Summary(s) => eprintln!(
            "summary: {:.1} frames analysed/s, {:.1} detections/s, {} frames dropped, lag median {:.0} ms max {:.0} ms, {}/{} cameras streaming",
            s.frames_analysed as f64 / s.period.as_secs_f64(),
            s.detections as f64 / s.period.as_secs_f64(),
            s.frames_dropped,
            s.lag_median.as_secs_f64() * 1000.0,
            s.lag_max.as_secs_f64() * 1000.0,
            s.streaming,
            s.cameras
        ),
    }
}

fn detect(
    model: &Path,
    image: &Path,
    out: Option<&Path>,
    onnxruntime: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    inference::ensure_onnxruntime(onnxruntime.as_deref(), None)?;
    let manifest_path = if model.is_dir() {
        model.join("model.toml")
    } else {
        model.to_path_buf()
    };
    let manifest = Arc::new(inference::Manifest::load(&manifest_path)?);
    let mut model = inference::Model::open(manifest, inference::Device::Cpu, 2)?;
    let picture = image::open(image)
        .with_context(|| format!("cannot read image {}", image.display()))?
        .to_rgb8();
    let (width, height) = picture.dimensions();
    let (outputs, timings) = model.run(&[inference::model::ImageRef {
        rgb: picture.as_raw(),
        width,
        height,
    }])?;
    let detections = outputs.into_iter().next().unwrap_or_default().detections;
    println!(
        "{}: {} detections ({}x{}; preprocess {:.1} ms, run {:.1} ms, decode {:.1} ms)",
        image.display(),
        detections.len(),
        width,
        height,
        timings.preprocess.as_secs_f64() * 1e3,
        timings.run.as_secs_f64() * 1e3,
        timings.decode.as_secs_f64() * 1e3
    );
    for d in &detections {
        let label = model
            .classes()
            .get(d.class_id)
            .map(String::as_str)
            .unwrap_or("?");
        let b = d.bbox;
        println!(
            "  {label} {:.2} [{:.0}, {:.0}, {:.0}, {:.0}]",
            d.score, b.x1, b.y1, b.x2, b.y2
        );
    }
    if let Some(out) = out {
        let mut rgb = picture.into_raw();
        for d in &detections {
            annotate::draw_box(
                &mut rgb,
                width,
                height,
                &d.bbox,
                annotate::color_for(d.class_id),
                3,
            );
        }
        let annotated = image::RgbImage::from_raw(width, height, rgb)
            .context("annotated image has the wrong size")?;
        annotated
            .save(out)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Sets `flag` on SIGINT / SIGTERM so the run loop stops cleanly.
fn install_interrupt(flag: &Arc<AtomicBool>) {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    let _ = FLAG.set(Arc::clone(flag));
    extern "C" fn on_signal(_: libc::c_int) {
        if let Some(flag) = FLAG.get() {
            flag.store(true, Ordering::Relaxed);
        }
    }
    #[allow(unsafe_code)]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}
