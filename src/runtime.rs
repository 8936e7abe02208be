//! Runtime: wires ingest → inference → (later) analysis, owns the channels and the threads, and
//! reports what happens as `RuntimeEvent`s.
//!
//! Channels and what happens when they are full:
//! - frames (ingest → dispatcher), bounded: live cameras drop the newest frame (counted in the
//!   camera's `dropped_full`); file cameras wait, so a file is analysed completely;
//! - requests (dispatcher → inference pool), bounded per model: live frames are dropped (counted
//!   in `dropped_queue`); file frames wait;
//! - responses (pool → dispatcher) and events (→ caller): unbounded; detections are never dropped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender};

use crate::config::{CameraConfig, Config, Source};
use crate::domain::{CameraId, CameraStatus, Detection, Frame};
use crate::inference::{self, InferencePool, Manifest, PoolConfig, Request, Response};
use crate::ingest::{self, Camera, CameraEvent, CameraSpec, CameraStats, SourceSpec};

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
    /// A detector failed on a frame.
    InferenceFailed {
        camera: CameraId,
        model: String,
        error: String,
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
}

struct CameraSlot {
    camera: Camera,
    live: bool,
    detectors: Vec<Detector>,
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
        for model in &config.models {
            let manifest = Manifest::load(&model.manifest)
                .with_context(|| format!("models[{}] ({})", model_names.len(), model.name))?;
            manifests.push(Arc::new(manifest));
            model_names.push(model.name.clone());
        }
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
        let pool = InferencePool::start(manifests, pool_config, responses_tx)
            .context("starting the inference workers")?;

        let enabled = config.cameras.iter().filter(|c| c.enabled).count();
        let (frames_tx, frames_rx) = bounded::<Frame>((2 * enabled).max(4));
        let (camera_events_tx, camera_events_rx) = unbounded::<CameraEvent>();
        let (events_tx, events_rx) = unbounded::<RuntimeEvent>();
        let stop = Arc::new(AtomicBool::new(false));
        let mut runtime = Runtime {
            slots: Arc::default(),
            events: events_rx,
            stop: Arc::clone(&stop),
            dispatcher: None,
            frames_tx,
            camera_events_tx,
            options,
            model_names: model_names.clone(),
        };
        for camera in config.cameras.iter().filter(|c| c.enabled) {
            runtime.add_camera(camera)?;
        }
        let slots = Arc::clone(&runtime.slots);
        let summary_every = runtime.options.summary_every;
        runtime.dispatcher = Some(
            std::thread::Builder::new()
                .name("dispatcher".to_string())
                .spawn(move || {
                    let mut d = Dispatcher {
                        pool,
                        slots,
                        model_names,
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
        Ok(runtime)
    }

    /// Starts a camera (replacing one with the same id).
    pub fn add_camera(&mut self, camera: &CameraConfig) -> anyhow::Result<()> {
        let detectors = camera
            .detectors
            .iter()
            .map(|d| {
                let model = self
                    .model_names
                    .iter()
                    .position(|m| *m == d.model)
                    .with_context(|| {
                        format!("cameras {}: no model named {:?}", camera.id, d.model)
                    })?;
                Ok(Detector {
                    model,
                    interval: d.interval,
                    last: None,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let spec = self.camera_spec(camera);
        let live = spec.source.is_live();
        let started = Camera::start(spec, self.frames_tx.clone(), self.camera_events_tx.clone())?;
        let old = self.slots.lock().unwrap_or_else(|p| p.into_inner()).insert(
            camera.id.clone(),
            CameraSlot {
                camera: started,
                live,
                detectors,
            },
        );
        drop(old);
        Ok(())
    }

    /// Stops and removes a camera; false if there was none.
    pub fn remove_camera(&mut self, id: &CameraId) -> bool {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        slot.is_some()
    }

    fn camera_spec(&self, camera: &CameraConfig) -> CameraSpec {
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
        spec.analysis_width = self.options.analysis_width;
        spec.interval = camera.min_interval();
        spec.stall_timeout = camera.stall_timeout;
        spec.realtime = camera.realtime;
        spec.backoff_min = self.options.backoff_min;
        spec.backoff_max = self.options.backoff_max;
        spec
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

    /// True when every camera is a file that has played to its end.
    pub fn finished(&self) -> bool {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        !slots.is_empty()
            && slots
                .values()
                .all(|s| !s.live && s.camera.status() == CameraStatus::Ended)
    }

    /// Full-resolution RGB snapshot of a camera's latest analysed frame.
    pub fn snapshot(&self, id: &CameraId) -> Option<ingest::Snapshot> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.get(id).and_then(|s| s.camera.snapshot())
    }

    /// Stops cameras, lets queued inference finish, and joins every thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Cameras first, so nothing new arrives; then the dispatcher, then the pool.
        let slots: Vec<CameraSlot> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        drop(slots);
        self.stop.store(true, Ordering::Relaxed);
        if let Some(dispatcher) = self.dispatcher.take() {
            if let Ok(pool) = dispatcher.join() {
                pool.shutdown();
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
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
                    let _ = self.events.send(RuntimeEvent::Camera(e));
                },
                default(tick) => {},
            }
            if self.period_started.elapsed() >= self.summary_every {
                last_dropped_ingest = self.emit_summary(last_dropped_ingest);
            }
        }
        // Deliver what the workers still finish.
        while let Ok(r) = responses.recv_timeout(Duration::from_millis(200)) {
            self.on_response(r);
        }
    }

    fn on_frame(&mut self, frame: Frame, stop: &AtomicBool) {
        let mut due = Vec::new();
        let live;
        {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let Some(slot) = slots.get_mut(&frame.camera) else {
                return;
            };
            live = slot.live;
            for d in &mut slot.detectors {
                let is_due = match d.last {
                    None => true,
                    // A stream restarted from the beginning (time went back): due again.
                    Some(last) => match frame.time.duration_since(last) {
                        Ok(gap) => gap + d.interval / 10 >= d.interval,
                        Err(_) => true,
                    },
                };
                if is_due {
                    d.last = Some(frame.time);
                    due.push(d.model);
                }
            }
        }
        if due.is_empty() {
            return;
        }
        let frame = Arc::new(frame);
        for model in due {
            let mut request = Request {
                frame: Arc::clone(&frame),
                model,
            };
            loop {
                match self.pool.submit(request) {
                    Ok(()) => break,
                    Err(back) if !live && !stop.load(Ordering::Relaxed) => {
                        // A file frame waits for room.
                        request = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => {
                        self.dropped_queue += 1;
                        break;
                    }
                }
            }
        }
    }

    fn on_response(&mut self, response: Response) {
        let model = self
            .model_names
            .get(response.model)
            .cloned()
            .unwrap_or_default();
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
                let _ = self.events.send(RuntimeEvent::InferenceFailed {
                    camera: frame.camera.clone(),
                    model,
                    error,
                });
            }
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
