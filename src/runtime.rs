//! Runtime: wires ingest → inference → analysis → cases, owns the channels and the threads, and
//! reports what happens as `RuntimeEvent`s.
//!
//! Per camera, every frame that some detector is due on becomes a job; the static-object
//! detector runs on it at once (on the whole frame, and at a finer resolution on the sign band
//! a tiled text detector watches), the model detectors through the inference pool. When all of a
//! job's results are in (jobs complete in frame order), they go to the camera's analysis in time
//! order; each candidate it emits is geo-tagged (calibration → WGS84 → unit grid), given the
//! city's event code, and handed with a full-resolution snapshot to the cases thread, which
//! writes the evidence files, puts the candidate in the spool (`DATA_DIR/spool`) and stores the
//! case (SQLite or PostgreSQL), retrying a failing database for as long as the runtime runs;
//! `Runtime::start` stores what an earlier run left in the spool before any camera starts.
//! When analysis later refines a candidate's category (a `sidewalk_occupation` the object
//! model has since recognised), the candidate takes it while it waits for its clip, in the
//! spool or, as a `reclassified` event by `system`, in the store while nobody has acted on it.
//!
//! A camera edit (`Runtime::add_camera` with a running id) reaches the running stream when its
//! source, frame settings and detector intervals are unchanged: analysis is reconfigured in
//! place, keeping tracks, violations and the static-object background. Otherwise the camera is
//! restarted, and the old one's candidates waiting for their clip are stored with what they
//! have.
//!
//! Channels and what happens when they are full:
//! - frames (ingest → dispatcher), bounded: live cameras drop the newest frame (counted in the
//!   camera's `dropped_full`); file cameras wait, so a file is analysed completely;
//! - requests (dispatcher → inference pool), bounded per model: live frames are dropped (counted
//!   in `dropped_queue`); file frames wait;
//! - responses (pool → dispatcher), candidates and refinements (→ cases thread) and events
//!   (→ caller): unbounded; detections, candidates and refinements are never dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use crossbeam_channel::{bounded, select, unbounded, Receiver, RecvTimeoutError, Sender};

use crate::analysis::{
    self, BandDetector, CameraAnalysis, DetectorIntervals, DetectorKind, Observation, StaticConfig,
    StaticObjectDetector,
};
use crate::cases::{self, CaseStore, CategoryTable, NewCandidate, Spool};
use crate::config::{CameraConfig, Config, Source, TilesConfig, STATIC_DETECTOR};
use crate::domain::{BBox, CameraId, CameraStatus, Detection, Frame, SourcePicture};
use crate::geo::{Calibration, GridLayer};
use crate::inference::{
    self, InferencePool, Manifest, ModelKind, PoolConfig, Request, Response, TiledFrame, Tiling,
};
use crate::ingest::{self, Camera, CameraEvent, CameraSpec, CameraStats, Snapshot, SourceSpec};

/// Options of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// ONNX Runtime library named on the command line.
    pub onnxruntime: Option<PathBuf>,
    /// How often a `Summary` event is emitted.
    pub summary_every: Duration,
    /// Width of analysis frames, pixels.
    pub analysis_width: u32,
    /// Reconnection backoff bounds.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            onnxruntime: None,
            summary_every: Duration::from_secs(10),
            analysis_width: 640,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// A detection with its class name.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub detection: Detection,
    pub label: String,
}

/// What the runtime reports.
#[derive(Debug, Clone)]
pub enum RuntimeEvent {
    /// A camera's status changed.
    Camera(CameraEvent),
    /// A detector ran on a frame.
    Detections {
        camera: CameraId,
        model: String,
        /// When the frame was taken.
        time: SystemTime,
        /// Position in the stream, when known.
        pts: Option<Duration>,
        /// Analysis frame size the boxes refer to.
        frame_size: (u32, u32),
        detections: Vec<Labelled>,
        /// From the frame's ingest to this result.
        lag: Duration,
    },
    /// The static-object detector ran on a frame and reports the regions that arrived and stayed
    /// (normalised boxes, each with when it arrived); only sent when there is at least one.
    StaticObjects {
        camera: CameraId,
        /// When the frame was taken.
        time: SystemTime,
        /// Position in the stream, when known.
        pts: Option<Duration>,
        regions: Vec<(BBox, SystemTime)>,
    },
    /// A detector failed on a frame.
    InferenceFailed {
        camera: CameraId,
        model: String,
        error: String,
    },
    /// Analysis found a violation and the case was stored (`inserted` is false when the store
    /// already had it, e.g. re-sent after a restart).
    CaseStored {
        case: Box<cases::Case>,
        inserted: bool,
    },
    /// Analysis recognised what a stored candidate is (a `sidewalk_occupation` the object model
    /// has since seen as a stall), and the case, still waiting for a person, took the new
    /// category and event code (a `reclassified` event by `system`).
    CaseRefined {
        case: Box<cases::Case>,
        previous: String,
    },
    /// The store refused a candidate (`attempt` times so far). When the database failed
    /// (`retrying`), it is tried again while the runtime runs, and `spooled` names the file
    /// that keeps it meanwhile and across a restart. Otherwise the candidate itself was refused
    /// (it breaks a rule of the store): `spooled` is where it was set aside
    /// (`*.json.refused`).
    CaseFailed {
        camera: CameraId,
        error: String,
        attempt: u32,
        retrying: bool,
        spooled: Option<PathBuf>,
    },
    /// Periodic figures.
    Summary(Summary),
}

/// Figures over the last summary period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub period: Duration,
    pub frames_analysed: u64,
    pub detections: u64,
    /// Frames dropped anywhere (ingest channel full, inference queue full).
    pub frames_dropped: u64,
    /// Median and worst lag from ingest to result in the period.
    pub lag_median: Duration,
    pub lag_max: Duration,
    pub streaming: usize,
    pub cameras: usize,
}

struct Detector {
    model: usize,
    interval: Duration,
    last: Option<SystemTime>,
    /// Text detectors with tiles.
    tiling: Option<Arc<Tiling>>,
}

struct StaticSlot {
    detector: StaticObjectDetector,
    /// The same detector at a finer resolution on the camera's sign band (the region its text
    /// detector tiles), when it has one.
    band: Option<BandDetector>,
    interval: Duration,
    last: Option<SystemTime>,
}

impl StaticSlot {
    fn new(interval: Duration, band: Option<BBox>) -> Self {
        Self {
            detector: StaticObjectDetector::new(StaticConfig::default()),
            band: band.map(|region| BandDetector::new(region, BandDetector::default_config())),
            interval,
            last: None,
        }
    }
}

/// A frame some detectors are due on, waiting for their results.
struct FrameJob {
    frame: Arc<Frame>,
    /// The frame's decoded picture ([`Frame::source`]), held until its detectors have answered:
    /// a candidate found on the frame takes it, whole, as its evidence.
    picture: Option<Arc<dyn SourcePicture>>,
    waiting: usize,
    results: Vec<(DetectorKind, Vec<Observation>)>,
}

struct CameraSlot {
    camera: Camera,
    /// What the camera was started with: a change restarts the stream.
    spec: CameraSpec,
    /// A change restarts analysis (the tracker's gaps follow the intervals).
    intervals: DetectorIntervals,
    live: bool,
    detectors: Vec<Detector>,
    static_objects: Option<StaticSlot>,
    analysis: CameraAnalysis,
    calibration: Option<Calibration>,
    jobs: VecDeque<FrameJob>,
    /// Frames of the current stream the dispatcher has taken in (compared with what ingest
    /// handed out, to tell when a file is done).
    frames_in: u64,
    /// The last analysed frames, for the "before" part of evidence clips.
    recent: VecDeque<Arc<Frame>>,
    /// Candidates waiting for the "after" part of their clip.
    clips: Vec<PendingClip>,
}

/// Frames of an evidence clip before and after the moment a candidate was emitted.
const CLIP_BEFORE: usize = 6;
const CLIP_AFTER: usize = 4;

struct PendingClip {
    job: CaseJob,
    after: usize,
}

/// What the cases thread is asked to do, in order.
enum CaseWork {
    /// Store a new candidate with its evidence.
    Store(Box<CaseJob>),
    /// Analysis refined the category of a candidate sent before ([`analysis::Refinement`]).
    Refine(CaseRefinement),
}

/// A refined category, as the store takes it.
struct CaseRefinement {
    dedupe_key: String,
    camera: CameraId,
    previous: String,
    category: String,
    event_code: String,
    event_name: String,
}

/// What the cases thread stores.
struct CaseJob {
    candidate: analysis::Candidate,
    new: NewCandidate,
    snapshot: Option<Snapshot>,
    /// Analysis frames around the moment, oldest first, for the evidence clip.
    clip: Vec<Arc<Frame>>,
}

/// A running pipeline. `stop` (or drop) shuts it down.
pub struct Runtime {
    slots: Arc<std::sync::Mutex<HashMap<CameraId, CameraSlot>>>,
    events: Receiver<RuntimeEvent>,
    stop: Arc<AtomicBool>,
    dispatcher: Option<JoinHandle<InferencePool>>,
    frames_tx: Sender<Frame>,
    camera_events_tx: Sender<CameraEvent>,
    options: RunOptions,
    model_names: Vec<String>,
    model_kinds: Vec<DetectorKind>,
    timezone: chrono_tz::Tz,
    store: Arc<dyn CaseStore>,
    tokio: Arc<tokio::runtime::Runtime>,
    cases_thread: Option<JoinHandle<()>>,
    /// To the cases thread, for candidates of a camera that is replaced or removed (`None`
    /// once shut down, so that the cases thread sees the end of its queue).
    cases: Option<Sender<CaseWork>>,
    /// Frame jobs and candidates not yet fully handled (analysis, clip, store).
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    lookup: Arc<std::sync::RwLock<Lookup>>,
    /// The models, by index as in `model_names` (the signage baseline runs the text model).
    manifests: Vec<Arc<Manifest>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("models", &self.model_names)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Loads ONNX Runtime and the models, starts the inference pool and every enabled camera.
    pub fn start(config: &Config, options: RunOptions) -> anyhow::Result<Runtime> {
        inference::ensure_onnxruntime(
            options.onnxruntime.as_deref(),
            config.onnxruntime.as_deref(),
        )?;
        ingest::init()?;
        let mut manifests = Vec::new();
        let mut model_names = Vec::new();
        let mut model_kinds = Vec::new();
        for model in &config.models {
            let manifest = Manifest::load(&model.manifest)
                .with_context(|| format!("models[{}] ({})", model_names.len(), model.name))?;
            model_kinds.push(match manifest.kind {
                ModelKind::Objects => DetectorKind::Objects,
                ModelKind::Text => DetectorKind::Text,
            });
            manifests.push(Arc::new(manifest));
            model_names.push(model.name.clone());
        }
        let categories = match &config.categories {
            Some(path) => CategoryTable::load(path)
                .with_context(|| format!("categories table {}", path.display()))?,
            None => CategoryTable::cjt214(),
        };
        let grid = match &config.grid {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the grid layer {}", path.display()))?;
                Some(
                    GridLayer::from_geojson(&text)
                        .map_err(|e| anyhow::anyhow!("{}:\n{e}", path.display()))?,
                )
            }
            None => None,
        };
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let tokio = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("store")
                .enable_all()
                .build()
                .context("starting the store's async runtime")?,
        );
        let store = tokio
            .block_on(cases::open(&config.store))
            .with_context(|| {
                format!(
                    "opening the case store {}",
                    cases::redact_url(&config.store)
                )
            })?;
        // Before any camera runs, so that their analysis knows these cases.
        let spool = Spool::new(&config.data_dir);
        let replayed = replay_spool(&spool, &*store, &tokio)?;
        let pool_config = PoolConfig {
            workers: config.inference.workers,
            threads_per_worker: config.inference.threads_per_worker,
            max_batch: config.inference.max_batch,
            max_wait: config.inference.max_wait,
            device: match config.inference.device {
                crate::config::Device::Cpu => inference::Device::Cpu,
                crate::config::Device::Cuda => inference::Device::Cuda,
                crate::config::Device::TensorRt => inference::Device::TensorRt,
            },
        };
        let (responses_tx, responses_rx) = unbounded();
        let manifests_for_baseline = manifests.clone();
        let pool = InferencePool::start(manifests, pool_config, responses_tx)
            .context("starting the inference workers")?;

        let enabled = config.cameras.iter().filter(|c| c.enabled).count();
        let (frames_tx, frames_rx) = bounded::<Frame>((2 * enabled).max(4));
        let (camera_events_tx, camera_events_rx) = unbounded::<CameraEvent>();
        let (events_tx, events_rx) = unbounded::<RuntimeEvent>();
        for (case, inserted) in replayed {
            let _ = events_tx.send(RuntimeEvent::CaseStored {
                case: Box::new(case),
                inserted,
            });
        }
        let (cases_tx, cases_rx) = unbounded::<CaseWork>();
        let stop = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cases_thread = {
            let store = Arc::clone(&store);
            let tokio = Arc::clone(&tokio);
            let events = events_tx.clone();
            let data_dir = config.data_dir.clone();
            let in_flight = Arc::clone(&in_flight);
            let stop = Arc::clone(&stop);
            let timezone = config.timezone;
            std::thread::Builder::new()
                .name("cases".to_string())
                .spawn(move || {
                    let sink = CaseSink {
                        store: &*store,
                        timezone,
                        tokio: &tokio,
                        data_dir: &data_dir,
                        spool,
                        events: &events,
                        in_flight: &in_flight,
                        stop: &stop,
                    };
                    store_cases(&cases_rx, &sink)
                })
                .context("starting the cases thread")?
        };
        let mut runtime = Runtime {
            slots: Arc::default(),
            events: events_rx,
            stop: Arc::clone(&stop),
            dispatcher: None,
            frames_tx,
            camera_events_tx,
            options,
            model_names: model_names.clone(),
            model_kinds: model_kinds.clone(),
            timezone: config.timezone,
            store,
            tokio,
            cases_thread: Some(cases_thread),
            cases: Some(cases_tx.clone()),
            in_flight: Arc::clone(&in_flight),
            lookup: Arc::new(std::sync::RwLock::new(Lookup { categories, grid })),
            manifests: manifests_for_baseline,
        };
        let slots = Arc::clone(&runtime.slots);
        let lookup = Arc::clone(&runtime.lookup);
        let summary_every = runtime.options.summary_every;
        runtime.dispatcher = Some(
            std::thread::Builder::new()
                .name("dispatcher".to_string())
                .spawn(move || {
                    let mut d = Dispatcher {
                        pool,
                        slots,
                        model_names,
                        model_kinds,
                        lookup,
                        cases: cases_tx,
                        in_flight,
                        events: events_tx,
                        period: PeriodStats::default(),
                        period_started: Instant::now(),
                        summary_every,
                        dropped_queue: 0,
                    };
                    d.run(&frames_rx, &responses_rx, &camera_events_rx, &stop);
                    d.pool
                })
                .context("starting the dispatcher thread")?,
        );
        // Cameras start once the dispatcher runs: a camera that cannot start shuts all of it
        // down cleanly on the way out.
        for camera in config.cameras.iter().filter(|c| c.enabled) {
            runtime.add_camera(camera)?;
        }
        Ok(runtime)
    }

    /// Starts a camera, or applies new settings to the running camera of the same id: the
    /// stream restarts only when its source, frame settings or detector intervals change, or
    /// when it is a file that has played to its end.
    pub fn add_camera(&mut self, camera: &CameraConfig) -> anyhow::Result<()> {
        let detectors = camera
            .detectors
            .iter()
            .filter(|d| d.model != STATIC_DETECTOR)
            .map(|d| {
                let model = self
                    .model_names
                    .iter()
                    .position(|m| *m == d.model)
                    .with_context(|| {
                        format!("cameras {}: no model named {:?}", camera.id, d.model)
                    })?;
                if d.tiles.is_some() && self.model_kinds[model] != DetectorKind::Text {
                    anyhow::bail!(
                        "cameras {}: detectors.{}.tiles: model {:?} is not a text detector; tiles \
                         are for text detectors",
                        camera.id,
                        d.model,
                        d.model
                    );
                }
                Ok(Detector {
                    model,
                    interval: d.interval,
                    last: None,
                    tiling: d.tiles.as_ref().map(|t| Arc::new(tiling_of(t))),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let interval_of = |kind: DetectorKind| {
            camera
                .detectors
                .iter()
                .find(
                    |d| match self.model_names.iter().position(|m| *m == d.model) {
                        Some(i) => self.model_kinds[i] == kind,
                        None => kind == DetectorKind::Static && d.model == STATIC_DETECTOR,
                    },
                )
                .map(|d| d.interval)
        };
        let defaults = DetectorIntervals::default();
        let intervals = DetectorIntervals {
            objects: interval_of(DetectorKind::Objects).unwrap_or(defaults.objects),
            text: interval_of(DetectorKind::Text).unwrap_or(defaults.text),
            static_objects: interval_of(DetectorKind::Static).unwrap_or(defaults.static_objects),
        };
        let wants_static = interval_of(DetectorKind::Static).is_some();
        let spec = camera_spec(camera, &self.options);
        {
            // Same stream and detector timing: an edit of zones, rules, baseline, calibration
            // or detectors applies to the running camera on its next frame. The stream is not
            // restarted, and tracks, open violations, the static-object detector's background
            // and clips in progress carry on. A file that has played to its end plays again.
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(slot) = slots.get_mut(&camera.id).filter(|s| {
                s.spec == spec
                    && s.intervals == intervals
                    && s.camera.status() != CameraStatus::Ended
            }) {
                slot.analysis
                    .reconfigure(
                        camera.zones.clone(),
                        camera.rules.clone(),
                        camera.signage_baseline.clone(),
                        self.timezone,
                    )
                    .with_context(|| format!("camera {}", camera.id))?;
                let mut detectors = detectors;
                for d in &mut detectors {
                    d.last = slot
                        .detectors
                        .iter()
                        .find(|old| old.model == d.model)
                        .and_then(|old| old.last);
                }
                slot.detectors = detectors;
                let kept = slot.static_objects.take();
                slot.static_objects = wants_static.then(|| {
                    kept.unwrap_or_else(|| {
                        StaticSlot::new(intervals.static_objects, spec.detail_region)
                    })
                });
                slot.calibration = camera.calibration.clone();
                return Ok(());
            }
        }
        let static_objects =
            wants_static.then(|| StaticSlot::new(intervals.static_objects, spec.detail_region));
        // Cases still open from an earlier run are the same violations, not new ones.
        let open = self
            .tokio
            .block_on(self.store.open_candidates(&camera.id))
            .with_context(|| format!("reading camera {}'s open cases", camera.id))?;
        let history: Vec<analysis::Candidate> = open.iter().map(history_candidate).collect();
        let analysis = CameraAnalysis::new(
            camera.id.clone(),
            camera.zones.clone(),
            camera.rules.clone(),
            camera.signage_baseline.clone(),
            self.timezone,
            intervals.clone(),
        )
        .with_context(|| format!("camera {}", camera.id))?
        .with_history(&history);
        let live = spec.source.is_live();
        // The slots stay locked from the start to the insert: the dispatcher drops frames of an
        // instance that is not in the slot, and a file can give its first seconds in the time
        // this thread waits for the CPU between the two.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let started = Camera::start(
            spec.clone(),
            self.frames_tx.clone(),
            self.camera_events_tx.clone(),
        )?;
        let old = slots.insert(
            camera.id.clone(),
            CameraSlot {
                camera: started,
                spec,
                intervals,
                live,
                detectors,
                static_objects,
                analysis,
                calibration: camera.calibration.clone(),
                jobs: VecDeque::new(),
                frames_in: 0,
                recent: VecDeque::new(),
                clips: Vec::new(),
            },
        );
        // The old camera's pipeline is stopped (and joined) outside the lock.
        drop(slots);
        if let Some(old) = old {
            self.retire(old);
        }
        Ok(())
    }

    /// Stops and removes a camera; false if there was none.
    pub fn remove_camera(&mut self, id: &CameraId) -> bool {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let found = slot.is_some();
        if let Some(slot) = slot {
            self.retire(slot);
        }
        found
    }

    /// Lets go of a camera's slot: candidates waiting for the end of their clip are stored
    /// with the clip they have, and frames still in inference are no longer waited for.
    fn retire(&self, slot: CameraSlot) {
        self.in_flight.fetch_sub(slot.jobs.len(), Ordering::SeqCst);
        for pending in slot.clips {
            if let Some(cases) = &self.cases {
                let _ = cases.send(CaseWork::Store(Box::new(pending.job)));
            }
        }
    }

    /// Events as they happen.
    pub fn events(&self) -> &Receiver<RuntimeEvent> {
        &self.events
    }

    /// Current status of each camera.
    pub fn statuses(&self) -> Vec<(CameraId, CameraStatus)> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = slots
            .iter()
            .map(|(id, s)| (id.clone(), s.camera.status()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Counters of each camera.
    pub fn camera_stats(&self) -> Vec<(CameraId, CameraStats)> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = slots
            .iter()
            .map(|(id, s)| (id.clone(), s.camera.stats()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// True when every camera is a file that has played to its end and everything it gave has
    /// been analysed and stored.
    pub fn finished(&self) -> bool {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        !slots.is_empty()
            && slots.values().all(|s| {
                !s.live
                    && s.camera.status() == CameraStatus::Ended
                    && s.frames_in >= s.camera.stats().frames_out
            })
            && self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// The case store this runtime writes to.
    pub fn store(&self) -> &Arc<dyn CaseStore> {
        &self.store
    }

    /// Runs a store call from synchronous code.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.tokio.block_on(future)
    }

    /// Full-resolution RGB snapshot of a camera's latest analysed frame.
    pub fn snapshot(&self, id: &CameraId) -> Option<ingest::Snapshot> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.get(id).and_then(|s| s.camera.snapshot())
    }

    /// Uses `grid` for cases from now on.
    pub fn set_grid(&self, grid: Option<GridLayer>) {
        self.lookup.write().unwrap_or_else(|p| p.into_inner()).grid = grid;
    }

    /// Uses `table` for cases from now on.
    pub fn set_categories(&self, table: CategoryTable) {
        self.lookup
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .categories = table;
    }

    /// The camera's detectors with the manifests of their models (the static detector has none).
    fn detector_manifests(
        &self,
        camera: &CameraConfig,
    ) -> Vec<(crate::config::DetectorConfig, Arc<Manifest>)> {
        camera
            .detectors
            .iter()
            .filter_map(|d| {
                let i = self.model_names.iter().position(|m| *m == d.model)?;
                Some((d.clone(), Arc::clone(&self.manifests[i])))
            })
            .collect()
    }

    /// Stops cameras, lets queued inference finish, and joins every thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Cameras first, so nothing new arrives (candidates waiting for the end of their clip
        // are stored with what they have); then the dispatcher, then the pool.
        let slots: Vec<CameraSlot> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        for slot in slots {
            self.retire(slot);
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(dispatcher) = self.dispatcher.take() {
            if let Ok(pool) = dispatcher.join() {
                pool.shutdown();
            }
        }
        // With the dispatcher's sender of candidates and this one gone, the cases thread
        // stores what is left and ends.
        self.cases = None;
        if let Some(cases) = self.cases_thread.take() {
            let _ = cases.join();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What geo-tagging looks up: the unit grid and the category table.
struct Lookup {
    categories: CategoryTable,
    grid: Option<GridLayer>,
}

impl Lookup {
    /// The city's event code and name of a category (empty when the table lacks it: the store
    /// refuses such a case, and says so).
    fn event(&self, category: &str) -> (String, String) {
        self.categories
            .lookup(category)
            .map(|k| (k.code.clone(), k.name.clone()))
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct PeriodStats {
    frames: u64,
    detections: u64,
    lags: Vec<Duration>,
}

struct Dispatcher {
    pool: InferencePool,
    slots: Arc<std::sync::Mutex<HashMap<CameraId, CameraSlot>>>,
    model_names: Vec<String>,
    model_kinds: Vec<DetectorKind>,
    /// Shared with the [`Runtime`], which replaces them when an admin changes them.
    lookup: Arc<std::sync::RwLock<Lookup>>,
    cases: Sender<CaseWork>,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    events: Sender<RuntimeEvent>,
    period: PeriodStats,
    period_started: Instant,
    summary_every: Duration,
    dropped_queue: u64,
}

impl Dispatcher {
    fn run(
        &mut self,
        frames: &Receiver<Frame>,
        responses: &Receiver<Response>,
        camera_events: &Receiver<CameraEvent>,
        stop: &AtomicBool,
    ) {
        let tick = Duration::from_millis(100);
        let mut last_dropped_ingest = 0u64;
        while !stop.load(Ordering::Relaxed) {
            select! {
                recv(frames) -> frame => if let Ok(frame) = frame { self.on_frame(frame, stop) },
                recv(responses) -> response => if let Ok(r) = response { self.on_response(r) },
                recv(camera_events) -> event => if let Ok(e) = event {
                    if e.status == CameraStatus::Ended {
                        self.clips_at_end(&e.camera);
                    }
                    let _ = self.events.send(RuntimeEvent::Camera(e));
                },
                default(tick) => {},
            }
            if self.period_started.elapsed() >= self.summary_every {
                last_dropped_ingest = self.emit_summary(last_dropped_ingest);
            }
        }
        // Deliver what the workers still finish, then store every candidate still waiting for
        // the end of its clip.
        while let Ok(r) = responses.recv_timeout(Duration::from_millis(200)) {
            self.on_response(r);
        }
        let cameras: Vec<CameraId> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        for camera in cameras {
            self.flush_clips(&camera);
        }
    }

    fn flush_clips(&mut self, camera: &CameraId) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get_mut(camera) {
            send_clips(slot, &self.cases);
        }
    }

    /// A file camera that has ended and whose frames are all analysed has no "after" frames to
    /// give: its candidates waiting for them are stored with the clips as long as they got.
    fn clips_at_end(&mut self, camera: &CameraId) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get_mut(camera) {
            release_clips_at_end(slot, &self.cases);
        }
    }

    fn on_frame(&mut self, mut frame: Frame, stop: &AtomicBool) {
        let camera = frame.camera.clone();
        // The decoded picture stays with the frame's job, not with the frame (whose clones go
        // into the inference queue and the evidence clip): only the part a tiled detector due
        // now needs is converted from it, and it is let go when the job is done.
        let source = frame.source.take();
        let (frame, due, live) = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let Some(slot) = slots.get_mut(&camera) else {
                return;
            };
            if frame.instance != slot.camera.instance() {
                // A frame of the camera's previous start (it was restarted with new
                // settings): its times belong to the old stream.
                return;
            }
            slot.frames_in += 1;
            let due: Vec<(usize, Option<Arc<Tiling>>)> = slot
                .detectors
                .iter_mut()
                .filter_map(|d| {
                    is_due(&mut d.last, d.interval, frame.time).then(|| (d.model, d.tiling.clone()))
                })
                .collect();
            if due.iter().any(|(_, tiling)| tiling.is_some()) {
                if let (Some(source), Some(region)) = (&source, slot.spec.detail_region) {
                    frame.detail = source.detail(&region).map(Arc::new);
                    if frame.detail.is_none() {
                        tracing::debug!(camera = %camera, seq = frame.seq, "The full-resolution detail could not be converted; tiles come from the analysis frame.");
                    }
                }
            }
            let frame = Arc::new(frame);
            let mut results = Vec::new();
            if let Some(s) = &mut slot.static_objects {
                if is_due(&mut s.last, s.interval, frame.time) {
                    let mut found =
                        s.detector
                            .update(frame.time, &frame.rgb, frame.width, frame.height);
                    if let Some(band) = &mut s.band {
                        found.extend(band.update(
                            frame.time,
                            &frame.rgb,
                            frame.width,
                            frame.height,
                        ));
                    }
                    if !found.is_empty() {
                        let regions = found
                            .iter()
                            .map(|o| (o.bbox, o.since.unwrap_or(frame.time)))
                            .collect();
                        let _ = self.events.send(RuntimeEvent::StaticObjects {
                            camera: camera.clone(),
                            time: frame.time,
                            pts: frame.pts,
                            regions,
                        });
                    }
                    results.push((DetectorKind::Static, found));
                }
            }
            if due.is_empty() && results.is_empty() {
                return;
            }
            // A camera whose analysis lags far behind its stream holds pictures up to a budget;
            // the evidence of a candidate on a frame past it shows the latest frame instead.
            let picture = source.filter(|_| picture_fits(&slot.jobs, &frame));
            slot.jobs.push_back(FrameJob {
                frame: Arc::clone(&frame),
                picture,
                waiting: due.len(),
                results,
            });
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            (frame, due, slot.live)
        };
        for (model, tiling) in due {
            let mut request = Request {
                frame: Arc::clone(&frame),
                model,
                tiling,
            };
            loop {
                match self.pool.submit(request) {
                    Ok(()) => break,
                    Err(back) if !live && !stop.load(Ordering::Relaxed) => {
                        // A file frame waits for room; meanwhile finished work is taken in.
                        request = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => {
                        self.dropped_queue += 1;
                        self.job_done(&frame, None);
                        break;
                    }
                }
            }
        }
        self.drain(&camera);
    }

    fn on_response(&mut self, response: Response) {
        let model = self
            .model_names
            .get(response.model)
            .cloned()
            .unwrap_or_default();
        let kind = self
            .model_kinds
            .get(response.model)
            .copied()
            .unwrap_or(DetectorKind::Objects);
        let frame = &response.frame;
        let lag = SystemTime::now()
            .duration_since(frame.time)
            .unwrap_or_default();
        match response.output {
            Ok(output) => {
                let classes = self.pool.classes(response.model);
                let detections: Vec<Labelled> = output
                    .detections
                    .into_iter()
                    .map(|d| Labelled {
                        label: classes.get(d.class_id).cloned().unwrap_or_default(),
                        detection: d,
                    })
                    .collect();
                self.period.frames += 1;
                self.period.detections += detections.len() as u64;
                self.period.lags.push(lag);
                let (w, h) = (frame.width.max(1) as f32, frame.height.max(1) as f32);
                let observations: Vec<Observation> = detections
                    .iter()
                    .map(|l| {
                        let label = if kind == DetectorKind::Text {
                            "text"
                        } else {
                            &l.label
                        };
                        Observation::new(
                            l.detection.bbox.scale(1.0 / w, 1.0 / h),
                            l.detection.score,
                            label,
                            kind,
                        )
                    })
                    .collect();
                self.job_done(frame, Some((kind, observations)));
                let _ = self.events.send(RuntimeEvent::Detections {
                    camera: frame.camera.clone(),
                    model,
                    time: frame.time,
                    pts: frame.pts,
                    frame_size: (frame.width, frame.height),
                    detections,
                    lag,
                });
            }
            Err(error) => {
                self.job_done(frame, None);
                let _ = self.events.send(RuntimeEvent::InferenceFailed {
                    camera: frame.camera.clone(),
                    model,
                    error,
                });
            }
        }
        let camera = frame.camera.clone();
        self.drain(&camera);
    }

    /// One detector of `frame`'s job finished (`None`: it did not run, e.g. dropped).
    fn job_done(&mut self, frame: &Arc<Frame>, result: Option<(DetectorKind, Vec<Observation>)>) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = slots.get_mut(&frame.camera) else {
            return;
        };
        if let Some(job) = slot.jobs.iter_mut().find(|j| Arc::ptr_eq(&j.frame, frame)) {
            job.waiting = job.waiting.saturating_sub(1);
            job.results.extend(result);
        }
    }

    /// Feeds the camera's finished jobs, oldest first, to its analysis and hands the candidates
    /// on to the cases thread.
    fn drain(&mut self, camera: &CameraId) {
        let mut jobs = Vec::new();
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = slots.get_mut(camera) else {
            return;
        };
        while slot.jobs.front().is_some_and(|j| j.waiting == 0) {
            if let Some(job) = slot.jobs.pop_front() {
                jobs.push(job);
            }
        }
        for mut job in jobs {
            // Clips need the analysis frame only: the full-resolution detail is let go.
            let clip_frame = match &job.frame.detail {
                Some(_) => Arc::new(Frame {
                    detail: None,
                    ..(*job.frame).clone()
                }),
                None => Arc::clone(&job.frame),
            };
            // The frame is the "after" of earlier candidates' clips and the "before" of later ones.
            let mut i = 0;
            while i < slot.clips.len() {
                slot.clips[i].job.clip.push(Arc::clone(&clip_frame));
                slot.clips[i].after -= 1;
                if slot.clips[i].after == 0 {
                    let done = slot.clips.swap_remove(i);
                    let _ = self.cases.send(CaseWork::Store(Box::new(done.job)));
                } else {
                    i += 1;
                }
            }
            slot.recent.push_back(clip_frame);
            if slot.recent.len() > CLIP_BEFORE {
                slot.recent.pop_front();
            }
            // Static first, then objects, then text: the same order on every replay.
            job.results.sort_by_key(|(kind, _)| *kind);
            let mut evidence: Option<Option<Snapshot>> = None;
            for (kind, observations) in &job.results {
                let frame = analysis::RgbView {
                    width: job.frame.width,
                    height: job.frame.height,
                    rgb: &job.frame.rgb,
                };
                let candidates =
                    slot.analysis
                        .update_seen(job.frame.time, *kind, observations, frame);
                for candidate in candidates {
                    let foot = slot.analysis.ground_point(&candidate);
                    let new = self.new_candidate(&candidate, foot, slot.calibration.as_ref());
                    let snapshot = evidence
                        .get_or_insert_with(|| evidence_picture(&job, &slot.camera))
                        .clone();
                    self.in_flight.fetch_add(1, Ordering::SeqCst);
                    slot.clips.push(PendingClip {
                        job: CaseJob {
                            candidate,
                            new,
                            snapshot,
                            clip: slot.recent.iter().cloned().collect(),
                        },
                        after: CLIP_AFTER,
                    });
                }
                for refinement in slot.analysis.take_refinements() {
                    self.refine(&mut slot.clips, &refinement);
                }
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        release_clips_at_end(slot, &self.cases);
    }

    /// Gives a candidate analysis has refined its new category and event code: in place while
    /// it waits for its clip, else through the cases thread (which has it, spooled or stored).
    fn refine(&self, clips: &mut [PendingClip], refinement: &analysis::Refinement) {
        let c = &refinement.candidate;
        let (event_code, event_name) = self
            .lookup
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .event(&c.category);
        if let Some(p) = clips.iter_mut().find(|p| p.job.candidate.id == c.id) {
            p.job.candidate.category = c.category.clone();
            p.job.new.category = c.category.clone();
            p.job.new.event_code = event_code;
            p.job.new.event_name = event_name;
            return;
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let _ = self.cases.send(CaseWork::Refine(CaseRefinement {
            dedupe_key: dedupe_key(c),
            camera: c.camera.clone(),
            previous: refinement.previous.clone(),
            category: c.category.clone(),
            event_code,
            event_name,
        }));
    }

    /// Geo-tags a candidate at `foot`, where it meets the ground in the image (normalised;
    /// [`analysis::CameraAnalysis::ground_point`]), and gives it the city's event code.
    fn new_candidate(
        &self,
        c: &analysis::Candidate,
        foot: (f64, f64),
        calibration: Option<&Calibration>,
    ) -> NewCandidate {
        let position = calibration.and_then(|cal| {
            let (w, h) = cal.image_size();
            cal.pixel_to_geo(foot.0 * f64::from(w), foot.1 * f64::from(h))
        });
        let lookup = self.lookup.read().unwrap_or_else(|p| p.into_inner());
        let cell = position.and_then(|p| lookup.grid.as_ref().and_then(|g| g.lookup(p.lat, p.lon)));
        let (event_code, event_name) = lookup.event(&c.category);
        NewCandidate {
            dedupe_key: dedupe_key(c),
            camera: c.camera.clone(),
            category: c.category.clone(),
            event_code,
            event_name,
            score: c.score,
            bbox: c.bbox,
            lat: position.map(|p| p.lat),
            lon: position.map(|p| p.lon),
            grid_code: cell.map(|g| g.code.clone()),
            community: cell.and_then(|g| g.community.clone()),
            street: cell.and_then(|g| g.street.clone()),
            unit: cell.and_then(|g| g.unit.clone()),
            zone: c.zone.clone(),
            arrived_at: c.arrived,
            detected_at: c.emitted,
            recurrence_of: None,
            recurrence_count: c.recurrence_count,
            evidence: Vec::new(),
        }
    }

    fn emit_summary(&mut self, last_dropped_ingest: u64) -> u64 {
        let (dropped_ingest, streaming, cameras) = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let dropped: u64 = slots.values().map(|s| s.camera.stats().dropped_full).sum();
            let streaming = slots
                .values()
                .filter(|s| s.camera.status() == CameraStatus::Streaming)
                .count();
            (dropped, streaming, slots.len())
        };
        let mut period = std::mem::take(&mut self.period);
        period.lags.sort();
        let summary = Summary {
            period: self.period_started.elapsed(),
            frames_analysed: period.frames,
            detections: period.detections,
            frames_dropped: dropped_ingest.saturating_sub(last_dropped_ingest)
                + std::mem::take(&mut self.dropped_queue),
            lag_median: period
                .lags
                .get(period.lags.len() / 2)
                .copied()
                .unwrap_or_default(),
            lag_max: period.lags.last().copied().unwrap_or_default(),
            streaming,
            cameras,
        };
        self.period_started = Instant::now();
        let _ = self.events.send(RuntimeEvent::Summary(summary));
        dropped_ingest
    }
}

/// Memory one camera's jobs may hold in full-resolution pictures for the evidence: 64
/// frames of 1080p. Files are read ahead of a slow detector by a few dozen frames; a live camera
/// whose analysis lags behind its stream may reach it.
const HELD_PICTURES_BYTES: usize = 192 << 20;

/// Whether `frame`'s picture may be held beside those the camera's `jobs` hold already
/// ([`HELD_PICTURES_BYTES`]).
fn picture_fits(jobs: &VecDeque<FrameJob>, frame: &Frame) -> bool {
    let held: usize = jobs
        .iter()
        .filter(|j| j.picture.is_some())
        .map(|j| picture_bytes(&j.frame))
        .sum();
    held + picture_bytes(frame) <= HELD_PICTURES_BYTES
}

/// What a frame's decoded picture takes in memory (decoders give 4:2:0, 1.5 bytes a pixel).
fn picture_bytes(frame: &Frame) -> usize {
    frame.source_width as usize * frame.source_height as usize * 3 / 2
}

/// The lines across the bottom of a candidate's evidence picture: the camera and when (in the
/// city's time zone); then where, as far as it is known (grid code, community, zone).
fn caption(new: &NewCandidate, timezone: chrono_tz::Tz) -> Vec<String> {
    let mut lines = vec![camera_and_time(&new.camera, new.detected_at, timezone)];
    let place: Vec<String> = [
        new.grid_code.as_ref().map(|g| format!("网格 {g}")),
        new.community.clone(),
        new.zone.as_ref().map(|z| format!("zone {z}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !place.is_empty() {
        lines.push(place.join("   "));
    }
    lines
}

/// The camera and `t` as the city reads it, to the second, with the zone's abbreviation:
/// `street-1   2026-11-27 04:50:03 CST`.
fn camera_and_time(camera: &CameraId, t: SystemTime, timezone: chrono_tz::Tz) -> String {
    let local = chrono::DateTime::<chrono::Utc>::from(t)
        .with_timezone(&timezone)
        .format("%Y-%m-%d %H:%M:%S %Z");
    format!("{camera}   {local}")
}

/// The picture a candidate found on `job`'s frame is shown on: that frame at full resolution, or
/// the camera's latest frame when the frame came without its picture (no timestamp, or
/// [`HELD_PICTURES_BYTES`] reached).
fn evidence_picture(job: &FrameJob, camera: &Camera) -> Option<Snapshot> {
    let whole = job.picture.as_ref().and_then(|p| p.whole());
    if whole.is_none() {
        tracing::debug!(camera = %job.frame.camera, seq = job.frame.seq, "No picture of the candidate's own frame; the evidence shows the latest one.");
    }
    whole
        .map(|d| Snapshot {
            width: d.width,
            height: d.height,
            rgb: d.rgb.to_vec(),
            pts: job.frame.pts,
        })
        .or_else(|| camera.snapshot())
}

/// The store's dedupe key of an analysis candidate: camera, candidate id and arrival.
fn dedupe_key(c: &analysis::Candidate) -> String {
    format!("{}/{}/{}", c.camera, c.id, cases::unix_millis(c.arrived))
}

/// Hands the candidates waiting for the "after" part of their clip to the cases thread when no
/// more frame can come: the camera is a file that has ended and every job is analysed. (Its
/// end may come before the last frames are analysed, and a candidate of those frames would
/// otherwise wait for frames that never come.)
fn release_clips_at_end(slot: &mut CameraSlot, cases: &Sender<CaseWork>) {
    if !slot.clips.is_empty() && slot.jobs.is_empty() && slot.camera.status() == CameraStatus::Ended
    {
        send_clips(slot, cases);
    }
}

/// Hands every candidate still waiting for its clip to the cases thread, with the clip as long
/// as it got.
fn send_clips(slot: &mut CameraSlot, cases: &Sender<CaseWork>) {
    for pending in slot.clips.drain(..) {
        let _ = cases.send(CaseWork::Store(Box::new(pending.job)));
    }
}

/// How ingest runs a configured camera.
fn camera_spec(camera: &CameraConfig, options: &RunOptions) -> CameraSpec {
    let (user, password) = camera
        .credentials
        .as_ref()
        .map(|c| (Some(c.user.clone()), Some(c.password.expose().to_string())))
        .unwrap_or((None, None));
    let source = match &camera.source {
        Source::File(path) => SourceSpec::File(path.clone()),
        Source::Rtsp { url, transport } => SourceSpec::Rtsp {
            url: url.clone(),
            udp: *transport == crate::config::RtspTransport::Udp,
            user,
            password,
        },
        Source::Http { url } => SourceSpec::Http {
            url: url.clone(),
            user,
            password,
        },
        Source::TestPattern {
            pattern,
            fps,
            width,
            height,
        } => SourceSpec::TestPattern {
            pattern: pattern.clone(),
            fps: *fps,
            width: *width,
            height: *height,
        },
    };
    let mut spec = CameraSpec::new(camera.id.clone(), source);
    spec.analysis_width = options.analysis_width;
    spec.interval = camera.min_interval();
    spec.stall_timeout = camera.stall_timeout;
    spec.realtime = camera.realtime;
    spec.backoff_min = options.backoff_min;
    spec.backoff_max = options.backoff_max;
    spec.detail_region = detail_region(camera);
    spec
}

/// The part of the picture the camera's tiled detectors need at full resolution: the union of
/// their regions; `None` when no detector tiles.
fn detail_region(camera: &CameraConfig) -> Option<BBox> {
    camera
        .detectors
        .iter()
        .filter_map(|d| d.tiles.as_ref().map(|t| t.region))
        .reduce(|a, b| {
            BBox::new(
                a.x1.min(b.x1),
                a.y1.min(b.y1),
                a.x2.max(b.x2),
                a.y2.max(b.y2),
            )
        })
}

/// The inference stage's view of a configured tiling.
fn tiling_of(tiles: &TilesConfig) -> Tiling {
    Tiling {
        region: tiles.region,
        scale: tiles.scale,
        zones: tiles.zones.clone(),
    }
}

/// Whether a detector last run at `last` is due on a frame taken at `time`; marks it run.
/// A stream that restarted from the beginning (time went back) is due at once.
fn is_due(last: &mut Option<SystemTime>, interval: Duration, time: SystemTime) -> bool {
    let due = match *last {
        None => true,
        Some(previous) => match time.duration_since(previous) {
            Ok(gap) => gap + interval / 10 >= interval,
            Err(_) => true,
        },
    };
    if due {
        *last = Some(time);
    }
    due
}

/// The analysis id in a dedupe key (`camera/analysis-id/arrival-ms`); 0 when there is none.
fn analysis_id(dedupe_key: &str) -> u64 {
    dedupe_key
        .split('/')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// An open case from an earlier run, as analysis remembers candidates.
fn history_candidate(case: &cases::Case) -> analysis::Candidate {
    analysis::Candidate {
        id: analysis_id(&case.dedupe_key),
        camera: case.camera.clone(),
        category: case.category.clone(),
        zone: case.zone.clone(),
        bbox: case.bbox,
        score: case.score,
        arrived: case.arrived_at,
        emitted: case.detected_at,
        track_id: 0,
        recurrence_of: None,
        recurrence_count: case.recurrence_count,
    }
}

/// A candidate in the cases thread: evidence written, spooled, not yet stored.
struct Pending {
    candidate: analysis::Candidate,
    new: NewCandidate,
    /// The dedupe key of the visit this one recurs after; the store gives its case id.
    recurrence_of_key: Option<String>,
    /// Its spool file; `None` when it could not be written (then only memory holds it).
    spooled: Option<PathBuf>,
    failures: u32,
}

/// The cases thread's plumbing.
struct CaseSink<'a> {
    store: &'a dyn CaseStore,
    /// The city's time zone, for the time written on evidence pictures.
    timezone: chrono_tz::Tz,
    tokio: &'a tokio::runtime::Runtime,
    data_dir: &'a std::path::Path,
    spool: Spool,
    events: &'a Sender<RuntimeEvent>,
    in_flight: &'a std::sync::atomic::AtomicUsize,
    /// Set when the runtime shuts down: a candidate the store refuses stays in the spool.
    stop: &'a AtomicBool,
}

/// The longest wait between two tries of a failing store.
const STORE_RETRY_MAX: Duration = Duration::from_secs(10);

/// The cases thread: writes each candidate's evidence, puts it in the spool, and stores it,
/// oldest first. A failing store is retried (0.4 s, doubling up to 10 s) for as long as the
/// runtime runs, while new candidates keep being spooled behind it; at shutdown what the
/// store still refuses stays in the spool for the next start.
fn store_cases(jobs: &Receiver<CaseWork>, sink: &CaseSink<'_>) {
    let mut keys = Keys::default();
    let mut pending: VecDeque<Pending> = VecDeque::new();
    loop {
        if pending.is_empty() {
            match jobs.recv() {
                Ok(work) => sink.take(work, &mut pending, &mut keys),
                Err(_) => return,
            }
        }
        while let Ok(work) = jobs.try_recv() {
            sink.take(work, &mut pending, &mut keys);
        }
        let Some(first) = pending.front_mut() else {
            continue;
        };
        match sink.tokio.block_on(insert_linked(
            sink.store,
            first.new.clone(),
            first.recurrence_of_key.as_deref(),
        )) {
            Ok((case, inserted)) => {
                if let Some(path) = &first.spooled {
                    if let Err(e) = sink.spool.remove(path) {
                        tracing::warn!(file = %path.display(), error = %e, "Cannot remove a stored candidate from the spool; the next start stores it again, which finds this case.");
                    }
                }
                let _ = sink.events.send(RuntimeEvent::CaseStored {
                    case: Box::new(case),
                    inserted,
                });
                sink.finish(&mut pending);
            }
            Err(e) => {
                first.failures += 1;
                let failures = first.failures;
                // Only a failing database is worth another try; a refused candidate is set
                // aside for a person to look at.
                let retrying = e.is_transient();
                let spooled = match &first.spooled {
                    Some(path) if !retrying => match sink.spool.set_aside(path) {
                        Ok(aside) => Some(aside),
                        Err(e) => {
                            tracing::warn!(file = %path.display(), error = %e, "Cannot set a refused candidate aside.");
                            None
                        }
                    },
                    other => other.clone(),
                };
                // Shutting down: what is spooled waits for the next start; the rest gets a few
                // tries.
                let give_up = !retrying
                    || (sink.stop.load(Ordering::Relaxed) && (spooled.is_some() || failures >= 5));
                let _ = sink.events.send(RuntimeEvent::CaseFailed {
                    camera: first.candidate.camera.clone(),
                    error: e.to_string(),
                    attempt: failures,
                    retrying,
                    spooled,
                });
                if give_up {
                    sink.finish(&mut pending);
                } else {
                    let wait =
                        Duration::from_millis(200).saturating_mul(2u32.saturating_pow(failures));
                    sink.wait_taking_in(jobs, &mut pending, &mut keys, wait.min(STORE_RETRY_MAX));
                }
            }
        }
    }
}

impl CaseSink<'_> {
    /// The oldest pending candidate is handled (stored, or given up on).
    fn finish(&self, pending: &mut VecDeque<Pending>) {
        pending.pop_front();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Takes one piece of work: a candidate joins the queue; a refinement is applied at once.
    fn take(&self, work: CaseWork, pending: &mut VecDeque<Pending>, keys: &mut Keys) {
        match work {
            CaseWork::Store(job) => pending.push_back(self.prepare(*job, keys)),
            CaseWork::Refine(refinement) => {
                self.refine(refinement, pending);
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Applies a refined category to the candidate while it waits here for the store (its
    /// spool file too), else to the stored case while it is still a candidate with the category
    /// analysis gave it: once a person has acted on a case, it is theirs.
    fn refine(&self, r: CaseRefinement, pending: &mut VecDeque<Pending>) {
        if let Some(p) = pending
            .iter_mut()
            .find(|p| p.new.dedupe_key == r.dedupe_key)
        {
            p.new.category = r.category;
            p.new.event_code = r.event_code;
            p.new.event_name = r.event_name;
            if p.spooled.is_some() {
                if let Err(e) = self.spool.put(&p.new, p.recurrence_of_key.as_deref()) {
                    tracing::warn!(camera = %r.camera, error = %e, "Cannot rewrite a spooled candidate with its refined category; a restart stores it with the first one.");
                }
            }
            return;
        }
        let stored = self.tokio.block_on(async {
            let Some(case) = self.store.get_by_dedupe_key(&r.dedupe_key).await? else {
                return Ok(None);
            };
            if case.state != cases::CaseState::Candidate || case.category != r.previous {
                return Ok(None);
            }
            // Names, not prose: the console shows the reason as it is, in either language.
            let reason = format!("analysis: {} → {}", r.previous, r.category);
            self.store
                .reclassify(
                    case.id,
                    &r.category,
                    &r.event_code,
                    &r.event_name,
                    cases::model::SYSTEM_ACTOR,
                    Some(reason),
                )
                .await
                .map(|(case, _)| Some(case))
        });
        match stored {
            Ok(Some(case)) => {
                let _ = self.events.send(RuntimeEvent::CaseRefined {
                    case: Box::new(case),
                    previous: r.previous,
                });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(camera = %r.camera, case = %r.dedupe_key, error = %e, "Cannot store a refined category; the case keeps the one it was stored with.")
            }
        }
    }

    /// Writes a candidate's evidence and spools it.
    fn prepare(&self, job: CaseJob, keys: &mut Keys) -> Pending {
        let CaseJob {
            candidate,
            mut new,
            snapshot,
            clip,
        } = job;
        let class_id = crate::scenes::DATASET_CLASSES
            .iter()
            .position(|c| *c == candidate.category)
            .unwrap_or(3);
        let label = format!("{} {}", new.event_code, new.event_name);
        if let Some(snap) = &snapshot {
            let marking = cases::evidence::Marking {
                bbox: candidate.bbox.scale(snap.width as f32, snap.height as f32),
                class_id,
                label: label.clone(),
            };
            match cases::evidence::write_frame_evidence(
                self.data_dir,
                &snap.rgb,
                snap.width,
                snap.height,
                &marking,
                &caption(&new, self.timezone),
            ) {
                Ok(files) => new.evidence = files,
                Err(e) => {
                    tracing::warn!(camera = %candidate.camera, error = %e, "Cannot write evidence.")
                }
            }
        }
        // Each frame of the clip is marked as the picture is, with its own time.
        let clip_marking = cases::evidence::Marking {
            bbox: candidate.bbox,
            class_id,
            label,
        };
        let frame_caption = |f: &Frame| vec![camera_and_time(&f.camera, f.time, self.timezone)];
        match write_clip(self.data_dir, &clip, &clip_marking, &frame_caption) {
            Ok(Some(file)) => new.evidence.push(file),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(camera = %candidate.camera, error = %e, "Cannot write the evidence clip.")
            }
        }
        keys.remember(&candidate, &new.dedupe_key);
        let recurrence_of_key = candidate
            .recurrence_of
            .and_then(|earlier| keys.key_of(self, &candidate.camera, earlier));
        let spooled = match self.spool.put(&new, recurrence_of_key.as_deref()) {
            Ok(path) => Some(path),
            Err(e) => {
                tracing::warn!(camera = %candidate.camera, dir = %self.spool.dir().display(), error = %e, "Cannot spool a candidate; it waits for the store in memory only.");
                None
            }
        };
        Pending {
            candidate,
            new,
            recurrence_of_key,
            spooled,
            failures: 0,
        }
    }

    /// Waits `wait` (less once the runtime shuts down) before the store is tried again,
    /// meanwhile spooling the candidates that come, so that none waits in memory only.
    fn wait_taking_in(
        &self,
        jobs: &Receiver<CaseWork>,
        pending: &mut VecDeque<Pending>,
        keys: &mut Keys,
        wait: Duration,
    ) {
        let until = Instant::now() + wait;
        while !self.stop.load(Ordering::Relaxed) {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                return;
            };
            let step = left.min(Duration::from_millis(100));
            match jobs.recv_timeout(step) {
                Ok(work) => self.take(work, pending, keys),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(step),
            }
        }
    }
}

/// The dedupe keys of analysis candidates, `(camera, analysis id)` → key, so that a recurrence
/// can name the visit before it: this run's candidates, and the open cases of earlier runs
/// (read from the store the first time a camera needs them).
#[derive(Default)]
struct Keys {
    known: HashMap<(CameraId, u64), String>,
    cameras_read: HashSet<CameraId>,
}

impl Keys {
    /// `candidate` of this run has dedupe key `key`.
    fn remember(&mut self, candidate: &analysis::Candidate, key: &str) {
        self.known
            .insert((candidate.camera.clone(), candidate.id), key.to_owned());
    }

    /// The dedupe key of `camera`'s analysis candidate `id`, if this run or an open case knows it.
    fn key_of(&mut self, sink: &CaseSink<'_>, camera: &CameraId, id: u64) -> Option<String> {
        let wanted = (camera.clone(), id);
        if !self.known.contains_key(&wanted) && self.cameras_read.insert(camera.clone()) {
            match sink.tokio.block_on(sink.store.open_candidates(camera)) {
                Ok(open) => {
                    for case in open {
                        self.known
                            .entry((camera.clone(), analysis_id(&case.dedupe_key)))
                            .or_insert(case.dedupe_key);
                    }
                }
                Err(e) => {
                    self.cameras_read.remove(camera);
                    tracing::warn!(camera = %camera, error = %e, "Cannot read the open cases to link a recurrence; the case is stored unlinked.");
                }
            }
        }
        self.known.get(&wanted).cloned()
    }
}

/// Stores a candidate, linked to the case it recurs after when `recurrence_of_key` names one
/// the store has.
async fn insert_linked(
    store: &dyn CaseStore,
    mut new: NewCandidate,
    recurrence_of_key: Option<&str>,
) -> Result<(cases::Case, bool), cases::StoreError> {
    if let (None, Some(key)) = (new.recurrence_of, recurrence_of_key) {
        new.recurrence_of = store.get_by_dedupe_key(key).await?.map(|case| case.id);
    }
    store.insert_candidate(new).await
}

/// Stores the candidates an earlier run left in the spool (the store was down, or the process
/// was killed before the store had them), oldest first; returns the cases. Unreadable spool
/// files are set aside as `*.bad` with a warning.
fn replay_spool(
    spool: &Spool,
    store: &dyn CaseStore,
    tokio: &tokio::runtime::Runtime,
) -> anyhow::Result<Vec<(cases::Case, bool)>> {
    let cases::spool::Contents {
        waiting: found,
        set_aside,
    } = spool
        .pending()
        .with_context(|| format!("reading the spool {}", spool.dir().display()))?;
    for (path, reason) in set_aside {
        tracing::warn!(file = %path.display(), reason = %reason, "A spooled candidate cannot be read; set aside.");
    }
    let total = found.len();
    let mut out = Vec::with_capacity(total);
    for (done, item) in found.into_iter().enumerate() {
        let linked = insert_linked(store, item.candidate, item.recurrence_of_key.as_deref());
        let stored = match tokio.block_on(linked) {
            Ok(stored) => stored,
            Err(e) if !e.is_transient() => {
                let aside = spool
                    .set_aside(&item.path)
                    .with_context(|| format!("setting aside {}", item.path.display()))?;
                tracing::warn!(file = %aside.display(), error = %e, "The store refuses a spooled candidate; set aside.");
                continue;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "storing {} candidate(s) kept in {} by an earlier run ({done} stored)",
                    total - done,
                    spool.dir().display()
                )))
            }
        };
        spool
            .remove(&item.path)
            .with_context(|| format!("removing {}", item.path.display()))?;
        out.push(stored);
    }
    if total > 0 {
        tracing::info!(
            count = total,
            "Stored the candidates an earlier run had spooled."
        );
    }
    Ok(out)
}

/// Encodes the analysis frames around a candidate as a short MP4 (2 frames a second) stored under
/// the data directory by content hash. Each frame has the marking drawn (its box normalised),
/// and `caption(frame)` across the bottom (without the fonts: the box only).
fn write_clip(
    data_dir: &std::path::Path,
    frames: &[Arc<Frame>],
    marking: &cases::evidence::Marking,
    caption: &dyn Fn(&Frame) -> Vec<String>,
) -> anyhow::Result<Option<cases::NewEvidence>> {
    let Some(first) = frames.first() else {
        return Ok(None);
    };
    let (w, h) = (first.width & !1, first.height & !1);
    let frames: Vec<&Arc<Frame>> = frames
        .iter()
        .filter(|f| f.width == first.width && f.height == first.height)
        .collect();
    let fps = 2u32;
    let seconds = (frames.len() as u32).div_ceil(fps).max(1);
    let spec = ingest::media::ClipSpec {
        width: w,
        height: h,
        fps,
        seconds,
        gop_frames: fps * 2,
        bitrate_kbps: 800,
        text: None,
    };
    let dir = data_dir.join("evidence");
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!("clip-{}.mp4.part", std::process::id()));
    let pixels = marking.bbox.scale(first.width as f32, first.height as f32);
    let color = crate::annotate::color_for(marking.class_id);
    let fonts = crate::fonts::fonts().ok();
    ingest::media::encode_rgb_frames(&tmp, &spec, |i, out| {
        let frame = frames[(i as usize).min(frames.len() - 1)];
        let row = w as usize * 3;
        for y in 0..h as usize {
            let src = y * frame.width as usize * 3;
            out[y * row..(y + 1) * row].copy_from_slice(&frame.rgb[src..src + row]);
        }
        crate::annotate::draw_box(out, w, h, &pixels, color, 2);
        if let Some(fonts) = fonts {
            crate::annotate::draw_label(out, w, h, &pixels, &marking.label, color, fonts);
            crate::annotate::draw_caption(out, w, h, &caption(frame), fonts);
        }
        Ok(())
    })?;
    let bytes = std::fs::read(&tmp)?;
    use sha2::Digest;
    let sha = inference::manifest::hex(&sha2::Sha256::digest(&bytes));
    let relative = format!("evidence/{}/{sha}.mp4", &sha[..2]);
    let path = data_dir.join(&relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(Some(cases::NewEvidence {
        kind: cases::EvidenceKind::Clip,
        path: relative,
        sha256: sha,
        bytes: bytes.len() as u64,
        mime: "video/mp4".to_string(),
    }))
}

/// How a signage baseline is captured: the detectors run on several frames, and every region
/// seen on any of them is approved (see [`analysis::Baseline::from_frames`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineCapture {
    /// Frames looked at (at least 1).
    pub frames: u32,
    /// Time between them.
    pub every: Duration,
}

impl Default for BaselineCapture {
    /// Five frames a second apart.
    fn default() -> Self {
        Self {
            frames: 5,
            every: Duration::from_secs(1),
        }
    }
}

/// Runs the camera's text detector, and the `illegal_signage` class of its object models, on
/// `capture.frames` frames `capture.every` apart (from the first at or after `at` into a file, the
/// first frame of a live source) and returns what an admin approves as the camera's signage
/// baseline: every region seen, normalised, and the median picture of the frames
/// ([`analysis::ScenePicture::median_of`]). A file that ends early gives fewer frames.
pub fn capture_baseline(
    config: &Config,
    camera: &str,
    at: Duration,
    capture: &BaselineCapture,
    onnxruntime: Option<&std::path::Path>,
) -> anyhow::Result<analysis::Baseline> {
    let cam = config
        .camera(camera)
        .with_context(|| format!("no camera {camera:?} in {}", config.path.display()))?;
    inference::ensure_onnxruntime(onnxruntime, config.onnxruntime.as_deref())?;
    let manifests = cam
        .detectors
        .iter()
        .filter_map(|d| Some((d, config.model(&d.model)?)))
        .map(|(d, m)| Ok((d.clone(), Arc::new(Manifest::load(&m.manifest)?))))
        .collect::<Result<Vec<_>, inference::ManifestError>>()?;
    let mut finder = SignFinder::open(&cam.id, &manifests)?;
    let mut spec = camera_spec(cam, &RunOptions::default());
    spec.interval = capture.every;
    let detail_region = spec.detail_region;
    let (frames_tx, frames_rx) = bounded(2);
    let (events_tx, _events_rx) = unbounded();
    let source = Camera::start(spec, frames_tx, events_tx)?;
    let wanted = capture.frames.max(1) as usize;
    let deadline = Instant::now() + Duration::from_secs(60) + capture.every * capture.frames;
    let mut seen = Vec::new();
    let mut frames = Vec::new();
    while seen.len() < wanted {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut frame = match frames_rx.recv_timeout(left) {
            Ok(frame) => frame,
            // The file ended (or the camera stalled) after some frames: use those.
            Err(_) if !seen.is_empty() => break,
            Err(_) => {
                source.stop();
                anyhow::bail!("camera {camera} gave no frame within 60 s");
            }
        };
        if frame.pts.is_none_or(|p| p >= at) {
            let source = frame.source.take();
            frame.detail = detail_region
                .and_then(|region| source?.detail(&region))
                .map(Arc::new);
            seen.push(finder.on_frame(&frame)?);
            frames.push((frame.width, frame.height, frame.rgb));
        }
    }
    source.stop();
    Ok(approved(seen, &frames))
}

/// The baseline of the regions seen on each frame and the frames' median picture.
fn approved(seen: Vec<Vec<BBox>>, frames: &[(u32, u32, impl AsRef<[u8]>)]) -> analysis::Baseline {
    let views: Vec<analysis::RgbView<'_>> = frames
        .iter()
        .map(|(width, height, rgb)| analysis::RgbView {
            width: *width,
            height: *height,
            rgb: rgb.as_ref(),
        })
        .collect();
    analysis::Baseline {
        picture: analysis::ScenePicture::median_of(&views),
        ..analysis::Baseline::from_frames(seen)
    }
}

/// The detectors a baseline capture runs: the camera's text detector, with its tiles, and the
/// `illegal_signage` class of its object models. Signs present when an admin approves the
/// baseline are approved whichever detector sees them: without the object models, a shop sign
/// the object model finds (and the text detector does not) would be "new" signage for as long as
/// it hangs there.
struct SignFinder {
    text: inference::Model,
    tiling: Option<Tiling>,
    /// Object models with the class id of their `illegal_signage` class.
    objects: Vec<(inference::Model, usize)>,
}

impl SignFinder {
    fn open(
        camera: &CameraId,
        detectors: &[(crate::config::DetectorConfig, Arc<Manifest>)],
    ) -> anyhow::Result<Self> {
        let (detector, text) = detectors
            .iter()
            .find(|(_, m)| m.kind == ModelKind::Text)
            .with_context(|| format!("camera {camera} runs no text detector"))?;
        let text = inference::Model::open(Arc::clone(text), inference::Device::Cpu, 2)?;
        let mut objects = Vec::new();
        for (_, manifest) in detectors
            .iter()
            .filter(|(_, m)| m.kind == ModelKind::Objects)
        {
            let model = inference::Model::open(Arc::clone(manifest), inference::Device::Cpu, 2)?;
            let sign = model.classes().iter().position(|class| {
                manifest.categories.get(class).unwrap_or(class) == "illegal_signage"
            });
            if let Some(sign) = sign {
                objects.push((model, sign));
            }
        }
        Ok(Self {
            text,
            tiling: detector.tiles.as_ref().map(tiling_of),
            objects,
        })
    }

    /// Regions on an analysis frame; tiles come from its full-resolution detail.
    fn on_frame(&mut self, frame: &Frame) -> anyhow::Result<Vec<BBox>> {
        let image = inference::model::ImageRef {
            rgb: &frame.rgb,
            width: frame.width,
            height: frame.height,
        };
        let tiled = match &self.tiling {
            Some(tiling) => Some(
                inference::pool::run_frame_tiled(&mut self.text, frame, tiling)?
                    .0
                    .detections,
            ),
            None => None,
        };
        self.regions(image, tiled)
    }

    /// Regions on a full-resolution snapshot; tiles are cut from it directly.
    fn on_snapshot(&mut self, frame: &Snapshot) -> anyhow::Result<Vec<BBox>> {
        let image = inference::model::ImageRef {
            rgb: &frame.rgb,
            width: frame.width,
            height: frame.height,
        };
        let tiled = match self
            .tiling
            .as_ref()
            .and_then(|t| Some((TiledFrame::same(image, &t.region, &t.zones)?, t.scale)))
        {
            Some((tiled, scale)) => Some(self.text.run_with_tiles(&tiled, scale)?.0.detections),
            None => None,
        };
        self.regions(image, tiled)
    }

    /// The text found on `image` (`tiled`, in its pixels, or else the text detector on the
    /// whole image) and the object models' signs on it, normalised.
    fn regions(
        &mut self,
        image: inference::model::ImageRef<'_>,
        tiled: Option<Vec<Detection>>,
    ) -> anyhow::Result<Vec<BBox>> {
        let mut detections = match tiled {
            Some(text) => text,
            None => first_output(self.text.run(&[image])?.0),
        };
        for (model, sign) in &mut self.objects {
            let found = first_output(model.run(&[image])?.0);
            detections.extend(found.into_iter().filter(|d| d.class_id == *sign));
        }
        let (w, h) = (image.width as f32, image.height as f32);
        Ok(detections
            .iter()
            .map(|d| d.bbox.scale(1.0 / w, 1.0 / h))
            .collect())
    }
}

/// Runs the text detector of a running camera, and the `illegal_signage` class of its object
/// models, on its latest analysed frames (full-resolution snapshots from `snapshot`) and returns
/// the regions seen on any of them, normalised, with the median picture of the frames: the
/// approved signage baseline an admin captures in the console. It waits for up to
/// `capture.frames` new frames (at most `capture.frames × capture.every` plus a few seconds)
/// and uses what it has when the camera falls behind. With
/// tiles, the same tiles as the running detector, cut from the snapshot, so the baseline's
/// boxes match what the camera reports. `snapshot` is called without holding anything else,
/// so a capture does not block the console's other requests.
fn baseline_from_snapshots(
    camera: &CameraId,
    detectors: &[(crate::config::DetectorConfig, Arc<Manifest>)],
    capture: &BaselineCapture,
    snapshot: impl Fn() -> Option<Snapshot>,
) -> anyhow::Result<analysis::Baseline> {
    let mut finder = SignFinder::open(camera, detectors)?;
    let first = snapshot().with_context(|| format!("camera {camera} has no frame yet"))?;
    let deadline = Instant::now() + capture.every * capture.frames + Duration::from_secs(3);
    let mut seen = vec![finder.on_snapshot(&first)?];
    let mut last_pts = first.pts;
    let mut frames = vec![(first.width, first.height, first.rgb)];
    while seen.len() < capture.frames as usize && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let Some(frame) = snapshot() else {
            continue;
        };
        // A newer analysed frame, about `every` after the last one used.
        let newer = match (frame.pts, last_pts) {
            (Some(p), Some(l)) => p >= l + capture.every.mul_f32(0.9),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if newer {
            seen.push(finder.on_snapshot(&frame)?);
            last_pts = frame.pts;
            frames.push((frame.width, frame.height, frame.rgb));
        }
    }
    Ok(approved(seen, &frames))
}

/// The detections of a one-image run.
fn first_output(outputs: Vec<inference::ModelOutput>) -> Vec<Detection> {
    outputs.into_iter().next().unwrap_or_default().detections
}

/// A [`Runtime`] the API can change while it runs: cameras, grid, categories.
#[derive(Debug)]
pub struct SharedRuntime(std::sync::Mutex<Runtime>);

impl SharedRuntime {
    pub fn new(runtime: Runtime) -> Self {
        SharedRuntime(std::sync::Mutex::new(runtime))
    }

    /// The runtime, locked.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Runtime> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The runtime back, to stop it.
    pub fn into_inner(self) -> Runtime {
        self.0.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl crate::api::Pipeline for SharedRuntime {
    fn apply_camera(&self, camera: &CameraConfig) -> anyhow::Result<()> {
        self.lock().add_camera(camera)
    }

    fn remove_camera(&self, id: &CameraId) -> bool {
        self.lock().remove_camera(id)
    }

    fn status(&self, id: &CameraId) -> Option<CameraStatus> {
        let runtime = self.lock();
        let slots = runtime.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.get(id).map(|s| s.camera.status())
    }

    fn snapshot(&self, id: &CameraId) -> Option<Snapshot> {
        self.lock().snapshot(id)
    }

    fn set_grid(&self, grid: Option<GridLayer>) {
        self.lock().set_grid(grid);
    }

    fn set_categories(&self, table: CategoryTable) {
        self.lock().set_categories(table);
    }

    fn capture_baseline(&self, camera: &CameraConfig) -> anyhow::Result<analysis::Baseline> {
        let detectors = self.lock().detector_manifests(camera);
        baseline_from_snapshots(&camera.id, &detectors, &BaselineCapture::default(), || {
            self.lock().snapshot(&camera.id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, Executor};

    fn job(id: u64) -> CaseJob {
        let t = cases::from_unix_millis(1_800_000_000_000 + 1000 * id as i64);
        let bbox = BBox::new(0.1, 0.5, 0.2, 0.7);
        let candidate = analysis::Candidate {
            id,
            camera: CameraId::new("cam-1"),
            category: "sidewalk_stacking".into(),
            zone: Some("sidewalk".into()),
            bbox,
            score: 0.8,
            arrived: t,
            emitted: t,
            track_id: id,
            recurrence_of: None,
            recurrence_count: 1,
        };
        let new = NewCandidate {
            dedupe_key: format!("cam-1/{id}/{}", cases::unix_millis(t)),
            camera: candidate.camera.clone(),
            category: candidate.category.clone(),
            event_code: "0504".into(),
            event_name: "占道堆物".into(),
            score: 0.8,
            bbox,
            lat: None,
            lon: None,
            grid_code: None,
            community: None,
            street: None,
            unit: None,
            zone: candidate.zone.clone(),
            arrived_at: t,
            detected_at: t,
            recurrence_of: None,
            recurrence_count: 1,
            evidence: Vec::new(),
        };
        CaseJob {
            candidate,
            new,
            snapshot: None,
            clip: Vec::new(),
        }
    }

    #[test]
    fn the_evidence_caption_names_the_camera_the_local_time_and_the_place() {
        // Job 1 is found at 1_800_000_001 s: 2027-01-15 08:00:01 UTC.
        let mut new = job(1).new;
        assert_eq!(
            caption(&new, chrono_tz::Tz::Asia__Shanghai),
            ["cam-1   2027-01-15 16:00:01 CST", "zone sidewalk"]
        );
        new.grid_code = Some("11010100100111".into());
        new.community = Some("社区 001".into());
        new.zone = None;
        assert_eq!(
            caption(&new, chrono_tz::Tz::Europe__Berlin),
            [
                "cam-1   2027-01-15 09:00:01 CET",
                "网格 11010100100111   社区 001"
            ]
        );
        new.grid_code = None;
        new.community = None;
        assert_eq!(caption(&new, chrono_tz::Tz::UTC).len(), 1, "no place known");
    }

    /// A decoded picture that is only held, never converted.
    struct HeldPicture;

    impl SourcePicture for HeldPicture {
        fn detail(&self, _: &BBox) -> Option<crate::domain::FrameDetail> {
            None
        }

        fn whole(&self) -> Option<crate::domain::FrameDetail> {
            None
        }
    }

    #[test]
    fn a_lagging_camera_holds_at_most_its_budget_of_pictures() {
        let frame = |seq: u64| {
            Arc::new(Frame {
                camera: CameraId::new("cam-1"),
                instance: 0,
                seq,
                time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + seq),
                pts: None,
                width: 8,
                height: 8,
                source_width: 1920,
                source_height: 1080,
                rgb: vec![0u8; 8 * 8 * 3].into(),
                detail: None,
                source: None,
            })
        };
        let mut jobs = VecDeque::new();
        let push = |jobs: &mut VecDeque<FrameJob>, seq: u64| {
            let frame = frame(seq);
            let picture: Option<Arc<dyn SourcePicture>> =
                picture_fits(jobs, &frame).then(|| Arc::new(HeldPicture) as _);
            let held = picture.is_some();
            jobs.push_back(FrameJob {
                frame,
                picture,
                waiting: 1,
                results: Vec::new(),
            });
            held
        };
        // 1080p in 4:2:0 is 3 110 400 bytes: 64 of them fit in 192 MiB, the 65th does not.
        let held = (0..100).filter(|&seq| push(&mut jobs, seq)).count();
        assert_eq!(held, 64);
        assert!(jobs.iter().skip(64).all(|j| j.picture.is_none()));
        // A frame whose picture was refused holds nothing; when the oldest job is done, the
        // next frame's picture fits again.
        jobs.pop_front();
        assert!(push(&mut jobs, 100), "room after the oldest job is done");
        assert!(!push(&mut jobs, 101), "and for one picture only");
    }

    #[test]
    fn the_evidence_clip_marks_every_frame_with_the_box_the_label_and_its_own_time() {
        let dir = std::env::temp_dir().join(format!("gs-clip-{}", std::process::id()));
        let (w, h) = (160u32, 120u32);
        let frames: Vec<Arc<Frame>> = (0..6u64)
            .map(|i| {
                Arc::new(Frame {
                    camera: CameraId::new("cam-1"),
                    instance: 0,
                    seq: i,
                    time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + i),
                    pts: Some(Duration::from_secs(i)),
                    width: w,
                    height: h,
                    source_width: w,
                    source_height: h,
                    rgb: vec![128u8; (w * h * 3) as usize].into(),
                    detail: None,
                    source: None,
                })
            })
            .collect();
        let marking = cases::evidence::Marking {
            bbox: BBox::new(0.25, 0.5, 0.75, 0.7),
            class_id: 2,
            label: "0202 违章张贴".into(),
        };
        let captions = std::sync::Mutex::new(Vec::new());
        let caption = |f: &Frame| {
            let line = camera_and_time(&f.camera, f.time, chrono_tz::Tz::UTC);
            captions.lock().unwrap().push(line.clone());
            vec![line]
        };
        let file = write_clip(&dir, &frames, &marking, &caption)
            .expect("clip written")
            .expect("a clip");
        assert_eq!(file.kind, cases::EvidenceKind::Clip);
        let captions = captions.into_inner().unwrap();
        assert_eq!(captions.len(), 6, "one caption per frame: {captions:?}");
        assert_eq!(captions[0], "cam-1   2027-01-15 08:00:00 UTC");
        assert_eq!(captions[5], "cam-1   2027-01-15 08:00:05 UTC");

        // Decoded again: grey above, the class colour on the label's tag above the box (rows
        // 45..60 at x = 40..), and the darkened caption band at the bottom.
        let (frames_tx, frames_rx) = bounded(4);
        let (events_tx, _events) = unbounded();
        let mut spec = CameraSpec::new(
            CameraId::new("clip"),
            SourceSpec::File(dir.join(&file.path)),
        );
        spec.analysis_width = w;
        spec.interval = Duration::from_millis(1);
        let camera = Camera::start(spec, frames_tx, events_tx).expect("the clip plays");
        let first = frames_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a frame of the clip");
        camera.stop();
        let px = |x: u32, y: u32| &first.rgb[((y * w + x) * 3) as usize..][..3];
        let near =
            |got: &[u8], want: [u8; 3]| got.iter().zip(want).all(|(a, b)| a.abs_diff(b) < 40);
        assert!(near(px(80, 10), [128; 3]), "picture: {:?}", px(80, 10));
        let tag = crate::annotate::color_for(2);
        assert!(near(px(42, 50), tag), "tag: {:?}, want {tag:?}", px(42, 50));
        let band: u32 = (h - 5..h).map(|y| u32::from(px(150, y)[0])).sum::<u32>() / 5;
        assert!(band < 70, "caption band brightness {band}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn next_event(events: &Receiver<RuntimeEvent>) -> RuntimeEvent {
        events
            .recv_timeout(Duration::from_secs(20))
            .expect("an event from the cases thread")
    }

    /// A fresh data directory and the URL of a SQLite store in it.
    fn data_dir(name: &str) -> (PathBuf, String) {
        let dir = std::env::temp_dir().join(format!("gridsight-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("cases.db").display());
        (dir, url)
    }

    /// A SQLite store in a fresh data directory that gives up on a held lock after 0.2 s, and
    /// a second connection to hold that lock with (`BEGIN EXCLUSIVE`: the store is down).
    fn lockable_store(
        name: &str,
        tokio: &tokio::runtime::Runtime,
    ) -> (PathBuf, Arc<dyn CaseStore>, sqlx::SqliteConnection) {
        let (dir, url) = data_dir(name);
        let options = cases::OpenOptions {
            busy_timeout: Duration::from_millis(200),
            ..cases::OpenOptions::default()
        };
        let store = tokio.block_on(cases::open_with(&url, &options)).unwrap();
        let lock = tokio
            .block_on(sqlx::SqliteConnection::connect(&url))
            .unwrap();
        (dir, store, lock)
    }

    /// What a cases thread under test reports to and is stopped by.
    struct Plumbing {
        events_tx: Sender<RuntimeEvent>,
        events: Receiver<RuntimeEvent>,
        in_flight: std::sync::atomic::AtomicUsize,
        stop: AtomicBool,
    }

    impl Plumbing {
        fn new() -> Self {
            let (events_tx, events) = unbounded();
            Self {
                events_tx,
                events,
                in_flight: std::sync::atomic::AtomicUsize::new(0),
                stop: AtomicBool::new(false),
            }
        }

        fn sink<'a>(
            &'a self,
            store: &'a dyn CaseStore,
            tokio: &'a tokio::runtime::Runtime,
            dir: &'a std::path::Path,
        ) -> CaseSink<'a> {
            CaseSink {
                store,
                timezone: chrono_tz::Tz::Asia__Shanghai,
                tokio,
                data_dir: dir,
                spool: Spool::new(dir),
                events: &self.events_tx,
                in_flight: &self.in_flight,
                stop: &self.stop,
            }
        }
    }

    /// The store is down (another writer holds SQLite's lock): candidates wait in the spool and
    /// are stored in order once it is back; at shutdown the one still refused stays in the
    /// spool, and the next start stores it.
    #[test]
    fn a_store_outage_loses_no_candidate_while_running_or_across_a_restart() {
        let tokio = tokio::runtime::Runtime::new().unwrap();
        let (dir, store, mut lock) = lockable_store("outage", &tokio);
        let spool = Spool::new(&dir);
        let plumbing = Plumbing::new();
        let Plumbing {
            events,
            in_flight,
            stop,
            ..
        } = &plumbing;
        let sink = plumbing.sink(&*store, &tokio, &dir);
        std::thread::scope(|scope| {
            let (jobs_tx, jobs) = unbounded();
            let sink = &sink;
            scope.spawn(move || store_cases(&jobs, sink));
            let send = |id| {
                in_flight.fetch_add(1, Ordering::SeqCst);
                jobs_tx.send(CaseWork::Store(Box::new(job(id)))).unwrap();
            };

            tokio.block_on(lock.execute("BEGIN EXCLUSIVE")).unwrap();
            send(1);
            match next_event(events) {
                RuntimeEvent::CaseFailed {
                    attempt: 1,
                    spooled: Some(file),
                    ..
                } => assert!(file.exists(), "{}", file.display()),
                other => panic!("expected a refused case, got {other:?}"),
            }
            send(2);
            let deadline = Instant::now() + Duration::from_secs(20);
            while spool.waiting().unwrap() < 2 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            assert_eq!(
                spool.waiting().unwrap(),
                2,
                "the second waits in the spool too"
            );

            // The store is back: both are stored, oldest first, and leave the spool.
            tokio.block_on(lock.execute("COMMIT")).unwrap();
            let mut keys = Vec::new();
            while keys.len() < 2 {
                if let RuntimeEvent::CaseStored { case, inserted } = next_event(events) {
                    assert!(inserted);
                    keys.push(case.dedupe_key);
                }
            }
            assert_eq!(keys, [job(1).new.dedupe_key, job(2).new.dedupe_key]);
            assert_eq!(spool.waiting().unwrap(), 0);
            assert_eq!(in_flight.load(Ordering::SeqCst), 0);

            // A candidate the store refuses for good is set aside and blocks nothing behind it.
            let mut bad = job(4);
            bad.new.event_code.clear();
            in_flight.fetch_add(1, Ordering::SeqCst);
            jobs_tx.send(CaseWork::Store(Box::new(bad))).unwrap();
            send(5);
            match next_event(events) {
                RuntimeEvent::CaseFailed {
                    retrying: false,
                    spooled: Some(file),
                    error,
                    ..
                } => {
                    assert!(
                        file.to_string_lossy().ends_with(".json.refused"),
                        "{}",
                        file.display()
                    );
                    assert!(file.exists());
                    assert!(error.contains("event_code"), "{error}");
                }
                other => panic!("expected a refusal for good, got {other:?}"),
            }
            match next_event(events) {
                RuntimeEvent::CaseStored { case, .. } => {
                    assert_eq!(case.dedupe_key, job(5).new.dedupe_key)
                }
                other => panic!("expected the next case stored, got {other:?}"),
            }

            // Down again as the runtime shuts down: the thread ends, the candidate stays spooled.
            tokio.block_on(lock.execute("BEGIN EXCLUSIVE")).unwrap();
            stop.store(true, Ordering::SeqCst);
            send(3);
            drop(jobs_tx);
        });
        assert_eq!(spool.waiting().unwrap(), 1);
        assert_eq!(in_flight.load(Ordering::SeqCst), 0);

        // The next start stores it before anything else; a second replay finds nothing.
        tokio.block_on(lock.execute("COMMIT")).unwrap();
        let replayed = replay_spool(&spool, &*store, &tokio).unwrap();
        assert_eq!(replayed.len(), 1);
        assert_eq!(replayed[0].0.dedupe_key, job(3).new.dedupe_key);
        assert!(replayed[0].1, "inserted");
        assert!(replay_spool(&spool, &*store, &tokio).unwrap().is_empty());
        let all = tokio
            .block_on(store.list(&cases::CaseFilter::default(), None, 10))
            .unwrap();
        assert_eq!(all.cases.len(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A `sidewalk_occupation` job as analysis sends it.
    fn occupation(id: u64) -> CaseJob {
        let mut job = job(id);
        job.candidate.category = "sidewalk_occupation".into();
        job.new.category = "sidewalk_occupation".into();
        job
    }

    /// What the runtime sends when analysis refines `job`'s candidate to a stall.
    fn to_stall(job: &CaseJob) -> CaseWork {
        CaseWork::Refine(CaseRefinement {
            dedupe_key: job.new.dedupe_key.clone(),
            camera: job.candidate.camera.clone(),
            previous: job.candidate.category.clone(),
            category: "street_vending".into(),
            event_code: "0501".into(),
            event_name: "占道经营".into(),
        })
    }

    /// A refined category reaches a stored case still waiting for a person (a `reclassified`
    /// event by `system`) and a candidate still waiting for the store (and its spool file), but
    /// not a case a person has acted on.
    #[test]
    fn a_refined_category_reaches_the_case_until_a_person_has_acted_on_it() {
        let tokio = tokio::runtime::Runtime::new().unwrap();
        let (dir, store, mut lock) = lockable_store("refine", &tokio);
        let spool = Spool::new(&dir);
        let plumbing = Plumbing::new();
        let Plumbing {
            events, in_flight, ..
        } = &plumbing;
        let sink = plumbing.sink(&*store, &tokio, &dir);
        let stored = |key: &str| {
            tokio
                .block_on(store.get_by_dedupe_key(key))
                .unwrap()
                .expect("stored")
        };
        std::thread::scope(|scope| {
            let (jobs_tx, jobs) = unbounded();
            let sink = &sink;
            scope.spawn(move || store_cases(&jobs, sink));
            let send = |work| {
                in_flight.fetch_add(1, Ordering::SeqCst);
                jobs_tx.send(work).unwrap();
            };
            send(CaseWork::Store(Box::new(occupation(1))));
            send(CaseWork::Store(Box::new(occupation(2))));
            for _ in 0..2 {
                assert!(matches!(
                    next_event(events),
                    RuntimeEvent::CaseStored { .. }
                ));
            }
            let confirmed = stored(&occupation(2).new.dedupe_key);
            tokio
                .block_on(store.transition(
                    confirmed.id,
                    cases::CaseState::Confirmed,
                    "operator-1",
                    None,
                    Some(cases::CaseState::Candidate),
                ))
                .unwrap();

            send(to_stall(&occupation(1)));
            send(to_stall(&occupation(2)));
            match next_event(events) {
                RuntimeEvent::CaseRefined { case, previous } => {
                    assert_eq!(case.dedupe_key, occupation(1).new.dedupe_key);
                    assert_eq!(previous, "sidewalk_occupation");
                    assert_eq!(
                        (case.category.as_str(), case.event_code.as_str()),
                        ("street_vending", "0501")
                    );
                }
                other => panic!("expected the first case refined, got {other:?}"),
            }

            // The store is down: the candidate waits in the spool and is refined there.
            tokio.block_on(lock.execute("BEGIN EXCLUSIVE")).unwrap();
            send(CaseWork::Store(Box::new(occupation(3))));
            assert!(matches!(
                next_event(events),
                RuntimeEvent::CaseFailed { retrying: true, .. }
            ));
            send(to_stall(&occupation(3)));
            let refined_in_spool = || {
                std::fs::read_dir(spool.dir())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("0501")))
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while !refined_in_spool() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(refined_in_spool(), "the spooled candidate is refined");
            tokio.block_on(lock.execute("COMMIT")).unwrap();
            match next_event(events) {
                RuntimeEvent::CaseStored { case, .. } => {
                    assert_eq!(case.dedupe_key, occupation(3).new.dedupe_key);
                    assert_eq!(case.category, "street_vending");
                }
                other => panic!("expected the third case stored, got {other:?}"),
            }
            drop(jobs_tx);
        });
        assert_eq!(in_flight.load(Ordering::SeqCst), 0);

        let first = stored(&occupation(1).new.dedupe_key);
        let last = tokio
            .block_on(store.events(first.id))
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(last.kind, cases::EventKind::Reclassified);
        assert_eq!(last.actor, cases::model::SYSTEM_ACTOR);
        assert_eq!(
            last.reason.as_deref(),
            Some("analysis: sidewalk_occupation → street_vending")
        );
        let second = stored(&occupation(2).new.dedupe_key);
        assert_eq!(
            (second.state, second.category.as_str()),
            (cases::CaseState::Confirmed, "sidewalk_occupation"),
            "a person's decision stands"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A recurrence names the visit before it by dedupe key, so the link holds when that visit is
    /// an open case of an earlier run, and when both were still in the spool at a restart.
    #[test]
    fn recurrences_link_to_earlier_runs_cases_and_across_the_spool() {
        let (dir, url) = data_dir("recur");
        let tokio = tokio::runtime::Runtime::new().unwrap();
        let store = tokio.block_on(cases::open(&url)).unwrap();
        let spool = Spool::new(&dir);
        let recurring = |id: u64, after: u64| {
            let mut job = job(id);
            job.candidate.recurrence_of = Some(after);
            job.candidate.recurrence_count = 2;
            job.new.recurrence_count = 2;
            job
        };

        // Killed with both visits spooled: the replay stores them linked.
        spool.put(&job(1).new, None).unwrap();
        spool
            .put(&recurring(2, 1).new, Some(&job(1).new.dedupe_key))
            .unwrap();
        let replayed = replay_spool(&spool, &*store, &tokio).unwrap();
        assert_eq!(replayed.len(), 2);
        assert_eq!(replayed[1].0.recurrence_of, Some(replayed[0].0.id));

        // Running: a recurrence of an earlier run's open case (analysis id 2, from its key).
        let plumbing = Plumbing::new();
        plumbing.in_flight.store(1, Ordering::SeqCst);
        let sink = plumbing.sink(&*store, &tokio, &dir);
        std::thread::scope(|scope| {
            let (jobs_tx, jobs) = unbounded();
            let sink = &sink;
            scope.spawn(move || store_cases(&jobs, sink));
            jobs_tx
                .send(CaseWork::Store(Box::new(recurring(3, 2))))
                .unwrap();
            match next_event(&plumbing.events) {
                RuntimeEvent::CaseStored { case, .. } => {
                    assert_eq!(case.recurrence_of, Some(replayed[1].0.id))
                }
                other => panic!("expected the recurrence stored, got {other:?}"),
            }
            drop(jobs_tx);
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
